/* tests/fuzz/fuzz_tokenizer.c — libFuzzer target for the tokenizers.
 *
 * Input: one mode byte, then arbitrary bytes of text (invalid UTF-8, NULs,
 * special-token texts, long runs). Mode bit 0 picks the SPM tokenizer of
 * stories260K (its 512-token vocab is embedded below, so the target needs no
 * files) or a small byte-level BPE vocab; bits 1 and 2 are parse_special and
 * add_bos; the upper bits pick the BPE pre-tokenizer. Every call must finish,
 * return ids in range, agree between the capped and the growing encoder, and,
 * with special parsing off, decode back to exactly the input bytes (for SPM,
 * up to literal U+2581 characters, which SPM cannot tell from spaces).
 */
#include "engine/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stories260K.gguf tokenizer.ggml.tokens / scores / token_type (512 entries) */
static const char *const k_st_tokens[512] = {
    "<unk>", "<s>", "</s>", "<0x00>", "<0x01>", "<0x02>", "<0x03>", "<0x04>", "<0x05>", "<0x06>",
    "<0x07>", "<0x08>", "<0x09>", "<0x0A>", "<0x0B>", "<0x0C>", "<0x0D>", "<0x0E>", "<0x0F>",
    "<0x10>", "<0x11>", "<0x12>", "<0x13>", "<0x14>", "<0x15>", "<0x16>", "<0x17>", "<0x18>",
    "<0x19>", "<0x1A>", "<0x1B>", "<0x1C>", "<0x1D>", "<0x1E>", "<0x1F>", "<0x20>", "<0x21>",
    "<0x22>", "<0x23>", "<0x24>", "<0x25>", "<0x26>", "<0x27>", "<0x28>", "<0x29>", "<0x2A>",
    "<0x2B>", "<0x2C>", "<0x2D>", "<0x2E>", "<0x2F>", "<0x30>", "<0x31>", "<0x32>", "<0x33>",
    "<0x34>", "<0x35>", "<0x36>", "<0x37>", "<0x38>", "<0x39>", "<0x3A>", "<0x3B>", "<0x3C>",
    "<0x3D>", "<0x3E>", "<0x3F>", "<0x40>", "<0x41>", "<0x42>", "<0x43>", "<0x44>", "<0x45>",
    "<0x46>", "<0x47>", "<0x48>", "<0x49>", "<0x4A>", "<0x4B>", "<0x4C>", "<0x4D>", "<0x4E>",
    "<0x4F>", "<0x50>", "<0x51>", "<0x52>", "<0x53>", "<0x54>", "<0x55>", "<0x56>", "<0x57>",
    "<0x58>", "<0x59>", "<0x5A>", "<0x5B>", "<0x5C>", "<0x5D>", "<0x5E>", "<0x5F>", "<0x60>",
    "<0x61>", "<0x62>", "<0x63>", "<0x64>", "<0x65>", "<0x66>", "<0x67>", "<0x68>", "<0x69>",
    "<0x6A>", "<0x6B>", "<0x6C>", "<0x6D>", "<0x6E>", "<0x6F>", "<0x70>", "<0x71>", "<0x72>",
    "<0x73>", "<0x74>", "<0x75>", "<0x76>", "<0x77>", "<0x78>", "<0x79>", "<0x7A>", "<0x7B>",
    "<0x7C>", "<0x7D>", "<0x7E>", "<0x7F>", "<0x80>", "<0x81>", "<0x82>", "<0x83>", "<0x84>",
    "<0x85>", "<0x86>", "<0x87>", "<0x88>", "<0x89>", "<0x8A>", "<0x8B>", "<0x8C>", "<0x8D>",
    "<0x8E>", "<0x8F>", "<0x90>", "<0x91>", "<0x92>", "<0x93>", "<0x94>", "<0x95>", "<0x96>",
    "<0x97>", "<0x98>", "<0x99>", "<0x9A>", "<0x9B>", "<0x9C>", "<0x9D>", "<0x9E>", "<0x9F>",
    "<0xA0>", "<0xA1>", "<0xA2>", "<0xA3>", "<0xA4>", "<0xA5>", "<0xA6>", "<0xA7>", "<0xA8>",
    "<0xA9>", "<0xAA>", "<0xAB>", "<0xAC>", "<0xAD>", "<0xAE>", "<0xAF>", "<0xB0>", "<0xB1>",
    "<0xB2>", "<0xB3>", "<0xB4>", "<0xB5>", "<0xB6>", "<0xB7>", "<0xB8>", "<0xB9>", "<0xBA>",
    "<0xBB>", "<0xBC>", "<0xBD>", "<0xBE>", "<0xBF>", "<0xC0>", "<0xC1>", "<0xC2>", "<0xC3>",
    "<0xC4>", "<0xC5>", "<0xC6>", "<0xC7>", "<0xC8>", "<0xC9>", "<0xCA>", "<0xCB>", "<0xCC>",
    "<0xCD>", "<0xCE>", "<0xCF>", "<0xD0>", "<0xD1>", "<0xD2>", "<0xD3>", "<0xD4>", "<0xD5>",
    "<0xD6>", "<0xD7>", "<0xD8>", "<0xD9>", "<0xDA>", "<0xDB>", "<0xDC>", "<0xDD>", "<0xDE>",
    "<0xDF>", "<0xE0>", "<0xE1>", "<0xE2>", "<0xE3>", "<0xE4>", "<0xE5>", "<0xE6>", "<0xE7>",
    "<0xE8>", "<0xE9>", "<0xEA>", "<0xEB>", "<0xEC>", "<0xED>", "<0xEE>", "<0xEF>", "<0xF0>",
    "<0xF1>", "<0xF2>", "<0xF3>", "<0xF4>", "<0xF5>", "<0xF6>", "<0xF7>", "<0xF8>", "<0xF9>",
    "<0xFA>", "<0xFB>", "<0xFC>", "<0xFD>", "<0xFE>", "<0xFF>", "\xe2\x96\x81t", "he",
    "\xe2\x96\x81""a", "\xe2\x96\x81s", "\xe2\x96\x81w", "nd", "\xe2\x96\x81the", "ed",
    "\xe2\x96\x81to", "\xe2\x96\x81""b", "\xe2\x96\x81""and", "\xe2\x96\x81h", "in",
    "\xe2\x96\x81""f", "\xe2\x96\x81wa", "\xe2\x96\x81T", "it", "re", "ou", "\xe2\x96\x81l",
    "\xe2\x96\x81""d", "\xe2\x96\x81""c", "\xe2\x96\x81he", "\xe2\x96\x81p", "ay",
    "\xe2\x96\x81m", "er", "\xe2\x96\x81was", "om", "im", "on", "il", "\xe2\x96\x81The", "id",
    "is", "at", "ar", "\xe2\x96\x81sa", "\xe2\x96\x81n", "\xe2\x96\x81g", "ing", "\xe2\x96\x81ha",
    "\xe2\x96\x81S", "en", "an", "or", "le", "ll", "\xe2\x96\x81L", "\xe2\x96\x81th", "ot", "ily",
    "\xe2\x96\x81her", "\xe2\x96\x81it", "\xe2\x96\x81\"", "am", "ir", "et", "\xe2\x96\x81Lily",
    "\xe2\x96\x81u", "\xe2\x96\x81O", "\xe2\x96\x81H", "\xe2\x96\x81On", "\xe2\x96\x81in", "ut",
    "\xe2\x96\x81pl", "ri", "\xe2\x96\x81Tim", "ow", "\xe2\x96\x81""day", "\xe2\x96\x81""be",
    "ver", "ce", "ith", "ig", "\xe2\x96\x81o", "\xe2\x96\x81with", "\xe2\x96\x81said",
    "\xe2\x96\x81play", "\xe2\x96\x81She", "pp", "ck", "ld", "\xe2\x96\x81They", "my",
    "\xe2\x96\x81""e", "\xe2\x96\x81his", "\xe2\x96\x81He", "oo", "\xe2\x96\x81y",
    "\xe2\x96\x81st", "\xe2\x96\x81up", "\xe2\x96\x81that", "\xe2\x96\x81r", "\xe2\x96\x81on",
    "ke", "ked", "st", "\xe2\x96\x81mom", "\xe2\x96\x81she", "\xe2\x96\x81I", "ve", "nt", "itt",
    "very", "\xe2\x96\x81you", "\xe2\x96\x81happ", "\xe2\x96\x81they", "end", "\xe2\x96\x81""B",
    "ime", "\xe2\x96\x81""big", "\xe2\x96\x81""fri", "se", "\xe2\x96\x81of",
    "\xe2\x96\x81""friend", "ittle", "\xe2\x96\x81little", "ent", "\xe2\x96\x81time", "un", "ad",
    "\xe2\x96\x81had", "\xe2\x96\x81we", "\xe2\x96\x81there", "\xe2\x96\x81so", "\xe2\x96\x81One",
    "her", "\xe2\x96\x81""for", "all", "ould", "\xe2\x96\x81nam", "\xe2\x96\x81want",
    "\xe2\x96\x81M", "\xe2\x96\x81happy", "\xe2\x96\x81saw", "\xe2\x96\x81named", "ved",
    "\xe2\x96\x81li", "\xe2\x96\x81""but", "\xe2\x96\x81very", "\xe2\x96\x81""do",
    "\xe2\x96\x81lo", "ch", "\xe2\x96\x81Once", "\xe2\x96\x81ne", "\xe2\x96\x81Timmy", "es",
    "\xe2\x96\x81upon", "out", "\xe2\x96\x81k", "\xe2\x96\x81", "e", "a", "t", "o", "h", "n", "i",
    "d", "s", "r", "l", "y", "m", "w", "u", ".", "p", "g", "c", "b", "f", ",", "k", "T", "v",
    "\"", "S", "L", "'", "H", "O", "I", "!", "x", "B", "M", "A", "W", "j", "?", "z", "Y", "F",
    "J", "D", "q", "C", "N", "E", "P", "R", "K", "G", "-", "\xe2\x80\x9c", "\xe2\x80\x9d", ":",
    "\xe2\x80\x99", "Z", "V", "U", "3", "Q", ";", "1", "\xe2\x80\x93", "0", "X", "2", "5",
    "\xe2\x80\x94", "\xe2\x80\x98", "9", "4", "\xc3\xa9", "\xe2\x80\xa6", "8", ")", "(", "6", "7",
    "/", "\xc3\xb1", "$", "`", "+", "*", "\xc2\xa0", "&", "\\", "%", "\xc3\xa2", "\xe2\x82\xac",
    "<", ">", "|", "\xe2\x84\xa2", "[", "]", "~", "\xe2\x80\x8a",
};
static const float k_st_scores[512] = {
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, -0.0f, -1.0f, -2.0f, -3.0f, -4.0f, -5.0f, -6.0f, -7.0f, -8.0f, -9.0f, -10.0f, -11.0f, -12.0f,
    -13.0f, -14.0f, -15.0f, -16.0f, -17.0f, -18.0f, -19.0f, -20.0f, -21.0f, -22.0f, -23.0f, -24.0f, -25.0f, -26.0f, -27.0f,
    -28.0f, -29.0f, -30.0f, -31.0f, -32.0f, -33.0f, -34.0f, -35.0f, -36.0f, -37.0f, -38.0f, -39.0f, -40.0f, -41.0f, -42.0f,
    -43.0f, -44.0f, -45.0f, -46.0f, -47.0f, -48.0f, -49.0f, -50.0f, -51.0f, -52.0f, -53.0f, -54.0f, -55.0f, -56.0f, -57.0f,
    -58.0f, -59.0f, -60.0f, -61.0f, -62.0f, -63.0f, -64.0f, -65.0f, -66.0f, -67.0f, -68.0f, -69.0f, -70.0f, -71.0f, -72.0f,
    -73.0f, -74.0f, -75.0f, -76.0f, -77.0f, -78.0f, -79.0f, -80.0f, -81.0f, -82.0f, -83.0f, -84.0f, -85.0f, -86.0f, -87.0f,
    -88.0f, -89.0f, -90.0f, -91.0f, -92.0f, -93.0f, -94.0f, -95.0f, -96.0f, -97.0f, -98.0f, -99.0f, -100.0f, -101.0f, -102.0f,
    -103.0f, -104.0f, -105.0f, -106.0f, -107.0f, -108.0f, -109.0f, -110.0f, -111.0f, -112.0f, -113.0f, -114.0f, -115.0f,
    -116.0f, -117.0f, -118.0f, -119.0f, -120.0f, -121.0f, -122.0f, -123.0f, -124.0f, -125.0f, -126.0f, -127.0f, -128.0f,
    -129.0f, -130.0f, -131.0f, -132.0f, -133.0f, -134.0f, -135.0f, -136.0f, -137.0f, -138.0f, -139.0f, -140.0f, -141.0f,
    -142.0f, -143.0f, -144.0f, -145.0f, -146.0f, -147.0f, -148.0f, -149.0f, -150.0f, -151.0f, -152.0f, -153.0f, -154.0f,
    -155.0f, -156.0f, -157.0f, -158.0f, -159.0f, -160.0f, -161.0f, -162.0f, -163.0f, -164.0f, -165.0f, -166.0f, -167.0f,
    -168.0f, -169.0f, -170.0f, -171.0f, -172.0f, -173.0f, -174.0f, -175.0f, -176.0f, -177.0f, -178.0f, -179.0f, -180.0f,
    -181.0f, -182.0f, -183.0f, -184.0f, -185.0f, -186.0f, -187.0f, -188.0f, -189.0f, -190.0f, -191.0f, -192.0f, -193.0f,
    -194.0f, -195.0f, -196.0f, -197.0f, -198.0f, -199.0f, -200.0f, -201.0f, -202.0f, -203.0f, -204.0f, -205.0f, -206.0f,
    -207.0f, -208.0f, -209.0f, -210.0f, -211.0f, -212.0f, -213.0f, -214.0f, -215.0f, -216.0f, -217.0f, -218.0f, -219.0f,
    -220.0f, -221.0f, -222.0f, -223.0f, -224.0f, -225.0f, -226.0f, -227.0f, -228.0f, -229.0f, -230.0f, -231.0f, -232.0f,
    -233.0f, -234.0f, -235.0f, -236.0f, -237.0f, -238.0f, -239.0f, -240.0f, -241.0f, -242.0f, -243.0f, -244.0f, -245.0f,
    -246.0f, -247.0f, -248.0f, -249.0f, -250.0f, -251.0f, -252.0f,
};
static const int32_t k_st_types[512] = {
    2, 3, 3, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static const char *const k_pres[] = {"gpt-2", "llama3", "qwen2", "deepseek-llm", "deepseek-coder",
                                     "falcon", "starcoder", "default", "deepseek-v3", "tekken"};
#define N_PRE (sizeof k_pres / sizeof k_pres[0])

static cb_tokenizer *g_spm;
static cb_tokenizer *g_bpe[N_PRE];

static void cp_utf8(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

/* 256 byte symbols (GPT-2 table), a few merged tokens, specials. */
static cb_tokenizer *make_bpe(const char *pre) {
    static char sym[256][4];
    const char *toks[256 + 16];
    int32_t types[256 + 16];
    int next = 256, n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_utf8(keep ? (unsigned)b : (unsigned)next++, sym[b]);
        toks[n] = sym[b];
        types[n++] = CB_TOKTYPE_NORMAL;
    }
    static const char *const extra[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "in", "\xc4\xa0\xc4\xa0",
                                        "<|endoftext|>", "<tool>"};
    for (int i = 0; i < 7; i++) {
        toks[n] = extra[i];
        types[n++] = i == 5 ? CB_TOKTYPE_CONTROL : i == 6 ? CB_TOKTYPE_USER_DEFINED : CB_TOKTYPE_NORMAL;
    }
    static const char *const merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "\xc4\xa0 \xc4\xa0"};
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = pre;
    spec.n_vocab = n;
    spec.tokens = toks;
    spec.types = types;
    spec.merges = merges;
    spec.n_merges = 5;
    spec.eos = 261;
    cb_tokenizer *t = NULL;
    cb_err e = {0};
    if (cb_tokenizer_from_spec(&spec, &t, &e)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", e.msg);
        abort();
    }
    return t;
}

static void init(void) {
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    spec.model = "llama";
    spec.n_vocab = 512;
    spec.tokens = k_st_tokens;
    spec.scores = k_st_scores;
    spec.types = k_st_types;
    cb_err e = {0};
    if (cb_tokenizer_from_spec(&spec, &g_spm, &e)) abort();
    /* the embedded table is the real one: llama.cpp's ids for this prompt */
    int32_t ids[8];
    int n = 0;
    if (cb_tokenizer_encode(g_spm, "Once upon a time", 16, 1, 1, ids, 8, &n, &e) || n != 5 ||
        ids[0] != 1 || ids[1] != 403 || ids[2] != 407 || ids[3] != 261 || ids[4] != 378)
        abort();
    for (size_t i = 0; i < N_PRE; i++) g_bpe[i] = make_bpe(k_pres[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_spm) init();
    if (size == 0) return 0;
    unsigned mode = data[0];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    const cb_tokenizer *t = (mode & 1) ? g_spm : g_bpe[(mode >> 3) % N_PRE];
    int special = (mode >> 1) & 1, bos = (mode >> 2) & 1;
    cb_err e = {0};
    int32_t *ids = NULL;
    int n_ids = 0;
    if (cb_tokenizer_encode_alloc(t, text, n, bos, special, &ids, &n_ids, &e)) {
        if (e.code != CB_ENOMEM) abort();
        return 0;
    }
    for (int i = 0; i < n_ids; i++) {
        char piece[64];
        if (cb_tokenizer_piece(t, ids[i], piece, sizeof piece) < 0) abort();
    }
    /* the capped encoder agrees with the growing one */
    int32_t small[16];
    int n_small = -1;
    int rc = cb_tokenizer_encode(t, text, n, bos, special, small, 16, &n_small, &e);
    if (n_small != n_ids || (rc != 0) != (n_ids > 16)) abort();
    if (memcmp(small, ids, (size_t)(n_ids < 16 ? n_ids : 16) * sizeof *ids) != 0) abort();
    /* lossless without special parsing (skip BOS: decode keeps the dummy
     * space after a leading BOS, as llama.cpp does) */
    if (!special) {
        int skip = bos && n_ids > 0 && ids[0] == cb_tokenizer_bos(t);
        size_t cap = 4 * n + 16;
        char *buf = malloc(cap);
        if (!buf) abort();
        int64_t got = cb_tokenizer_decode(t, ids + skip, (size_t)(n_ids - skip), buf, cap);
        /* SPM cannot tell a literal U+2581 from an escaped space: compare
         * with the text where each valid "\xe2\x96\x81" is a space */
        char *want = malloc(n + 1);
        if (!want) abort();
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if ((mode & 1) && i + 2 < n && memcmp(text + i, "\xe2\x96\x81", 3) == 0) {
                want[m++] = ' ';
                i += 2;
            } else {
                want[m++] = text[i];
            }
        }
        if (got != (int64_t)m || memcmp(buf, want, m) != 0) abort();
        free(want);
        free(buf);
    }
    free(ids);
    return 0;
}
