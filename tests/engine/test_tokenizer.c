/* tests/engine/test_tokenizer.c — SPM and byte-level BPE tokenizers.
 *
 * Synthetic vocabs built from arrays pin down the merge order, byte fallback,
 * special-token splitting, decoding and error paths without any files. With
 * CAPBENCH_SHARED_DIR the tokenizers are checked against llama.cpp's vectors:
 * every reference/tokenizer/X.gguf.inp/.out pair whose vocab GGUF is present
 * (ids exact, add_bos = 0, parse_special = 0), and the stories260K and
 * llama-2-tiny-random tokenize.json files (with BOS, without BOS, without
 * special parsing). Also decode(encode(x)) == x, invalid UTF-8 and a 100 KB
 * input for speed.
 */
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers --------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}

static const char *shared_dir(void) {
    const char *d = getenv("CAPBENCH_SHARED_DIR");
    return (d && *d) ? d : NULL;
}

static int file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static cb_tokenizer *load_gguf_tok(const char *path) {
    cb_err err;
    cb_err_clear(&err);
    cb_gguf *g = NULL;
    cb_tokenizer *t = NULL;
    cr_assert_eq(cb_gguf_open(path, &g, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_tokenizer_from_gguf(g, &t, &err), 0, "%s", err.msg);
    cb_gguf_free(g); /* the tokenizer keeps copies */
    return t;
}

static int encode(const cb_tokenizer *t, const char *s, size_t n, int bos, int special, int32_t *ids,
                  int cap) {
    cb_err err;
    cb_err_clear(&err);
    int n_out = -1;
    int rc = cb_tokenizer_encode(t, s, n, bos, special, ids, cap, &n_out, &err);
    cr_assert_eq(rc, 0, "encode failed: %s", err.msg);
    return n_out;
}

static void fmt_ids(const int32_t *ids, int n, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k + 12 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, " %d", ids[i]);
}

/* decode(ids) must give back exactly text[0..n). */
static void check_roundtrip(const cb_tokenizer *t, const int32_t *ids, int n_ids, const char *text,
                            size_t n, const char *what) {
    size_t cap = 4 * n + 64;
    char *buf = malloc(cap);
    int64_t got = cb_tokenizer_decode(t, ids, (size_t)n_ids, buf, cap);
    cr_assert(got == (int64_t)n && memcmp(buf, text, n) == 0,
              "%s: decode gave %lld bytes '%.*s', want %zu '%.*s'", what, (long long)got,
              (int)(got > 0 ? got : 0), buf, n, (int)n, text);
    free(buf);
}

/* ---- synthetic SPM vocab --------------------------------------------------- */

#define SP "\xe2\x96\x81"
static cb_tokenizer *synthetic_spm_opt(int phi3_rstrip) {
    static char bytes[256][8];
    const char *toks[256 + 16];
    float scores[256 + 16];
    int32_t types[256 + 16];
    int n = 0;
    toks[n] = "<unk>", types[n] = CB_TOKTYPE_UNKNOWN, scores[n++] = 0;
    toks[n] = "<s>", types[n] = CB_TOKTYPE_CONTROL, scores[n++] = 0;
    toks[n] = "</s>", types[n] = CB_TOKTYPE_CONTROL, scores[n++] = 0;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[n] = bytes[b], types[n] = CB_TOKTYPE_BYTE, scores[n++] = 0;
    }
    /* 259.. */
    const char *words[] = {SP, "a", "b", "c", SP "a", "ab", "bc", SP "ab", "abc", "<tool>", "é"};
    const float sc[] = {-1, -2, -3, -4, -5, -6, -6, -7, -1, 0, -3};
    for (int i = 0; i < 11; i++) {
        toks[n] = words[i];
        scores[n] = sc[i];
        types[n++] = i == 9 ? CB_TOKTYPE_USER_DEFINED : CB_TOKTYPE_NORMAL;
    }
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    spec.model = "llama";
    spec.n_vocab = n;
    spec.tokens = toks;
    spec.scores = scores;
    spec.types = types;
    spec.phi3_rstrip = phi3_rstrip;
    cb_tokenizer *t = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_tokenizer_from_spec(&spec, &t, &err), 0, "%s", err.msg);
    return t;
}
static cb_tokenizer *synthetic_spm(void) { return synthetic_spm_opt(0); }
enum { S_SP = 259, S_A, S_B, S_C, S_SPA, S_AB, S_BC, S_SPAB, S_ABC, S_TOOL, S_EACUTE };

Test(tokenizer, spm_merges_by_score) {
    cb_tokenizer *t = synthetic_spm();
    int32_t ids[64];
    char dbg[256];
    cr_assert_eq(cb_tokenizer_type(t), CB_TOK_SPM);
    cr_assert_eq(cb_tokenizer_bos(t), 1);
    cr_assert_eq(cb_tokenizer_eos(t), 2);
    cr_assert_eq(cb_tokenizer_unk(t), 0);
    cr_assert(cb_tokenizer_add_bos(t));
    cr_assert(cb_tokenizer_is_eog(t, 2));
    cr_assert(!cb_tokenizer_is_eog(t, 1));
    /* "abc" -> ▁abc: pairs ▁a(-5) ab(-6) bc(-6). ▁a merges first; then the
     * queued bc (-6) beats ▁ab (-7), and "abc" (-1) is never reachable. */
    int n = encode(t, "abc", 3, 0, 0, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 2 && ids[0] == S_SPA && ids[1] == S_BC, "got%s", dbg);
    n = encode(t, "abc", 3, 1, 0, ids, 64);
    cr_assert(n == 3 && ids[0] == 1 && ids[1] == S_SPA);
    /* "bab" -> ▁ b a b: only "ab" is a token */
    n = encode(t, "bab", 3, 0, 0, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 3 && ids[0] == S_SP && ids[1] == S_B && ids[2] == S_AB, "got%s", dbg);
    /* byte fallback: 'z' is not in the vocab, 'é' is, '€' is not */
    n = encode(t, "z\xc3\xa9\xe2\x82\xac", 6, 0, 0, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 6 && ids[0] == S_SP && ids[1] == 3 + 'z' && ids[2] == S_EACUTE &&
                  ids[3] == 3 + 0xe2 && ids[4] == 3 + 0x82 && ids[5] == 3 + 0xac,
              "got%s", dbg);
    cr_assert_eq(cb_tokenizer_find(t, SP "ab", 5), S_SPAB);
    cr_assert_eq(cb_tokenizer_find(t, "nope", 4), -1);
    cb_tokenizer_free(t);
}

Test(tokenizer, spm_special_tokens_and_prefix) {
    cb_tokenizer *t = synthetic_spm();
    int32_t ids[64];
    char dbg[256];
    /* parse_special: "a</s>b" -> ▁a </s> ▁b (prefix after the special) */
    int n = encode(t, "a</s>b", 6, 0, 1, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 4 && ids[0] == S_SPA && ids[1] == 2 && ids[2] == S_SP && ids[3] == S_B, "got%s", dbg);
    /* without parse_special </s> is text; a user-defined token still splits */
    n = encode(t, "a<tool>b", 8, 0, 0, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 4 && ids[0] == S_SPA && ids[1] == S_TOOL && ids[2] == S_SP && ids[3] == S_B,
              "got%s", dbg);
    n = encode(t, "</s>", 4, 0, 0, ids, 64);
    cr_assert_eq(n, 5); /* ▁ then < / s > as byte tokens */
    cr_assert_eq(ids[0], S_SP);
    cr_assert_eq(ids[1], 3 + '<');
    /* empty text */
    cr_assert_eq(encode(t, "", 0, 1, 1, ids, 64), 1);
    cr_assert_eq(encode(t, "", 0, 0, 1, ids, 64), 0);
    cb_tokenizer_free(t);
}

/* Phi-3: whitespace after </s> (and other special tokens but <unk>, <s>,
 * <|endoftext|>) is dropped when the token is matched in text. */
Test(tokenizer, phi3_rstrip_after_special) {
    cb_tokenizer *t = synthetic_spm_opt(1), *plain = synthetic_spm();
    int32_t ids[64], ref[64];
    char dbg[256];
    int nr = encode(t, "a</s>b", 6, 0, 1, ref, 64);
    static const char *const same[] = {"a</s> b", "a</s>   b", "a</s> \t\n b"};
    for (int i = 0; i < 3; i++) {
        int n = encode(t, same[i], strlen(same[i]), 0, 1, ids, 64);
        fmt_ids(ids, n, dbg, sizeof dbg);
        cr_expect(n == nr && memcmp(ids, ref, (size_t)n * sizeof *ids) == 0, "'%s': got%s", same[i], dbg);
    }
    /* only whitespace after </s>: nothing left of it */
    int n = encode(t, "a</s>  ", 7, 0, 1, ids, 64);
    cr_expect(n == 2 && ids[0] == S_SPA && ids[1] == 2, "got %d ids", n);
    /* <s> keeps the space after it (rstrip off): ▁a <s> ▁▁b differs from ▁a <s> ▁b */
    int n1 = encode(t, "a<s> b", 6, 0, 1, ids, 64), n2 = encode(t, "a<s>b", 5, 0, 1, ref, 64);
    cr_expect(n1 != n2 || memcmp(ids, ref, (size_t)n1 * sizeof *ids) != 0, "<s> must not strip");
    /* a user-defined token strips too, also without parse_special */
    n1 = encode(t, "a<tool> b", 9, 0, 0, ids, 64);
    n2 = encode(t, "a<tool>b", 8, 0, 0, ref, 64);
    cr_expect(n1 == n2 && memcmp(ids, ref, (size_t)n1 * sizeof *ids) == 0);
    /* without parse_special </s> is plain text and nothing is stripped */
    n1 = encode(t, "a</s> b", 7, 0, 0, ids, 64);
    n2 = encode(plain, "a</s> b", 7, 0, 0, ref, 64);
    cr_expect(n1 == n2 && memcmp(ids, ref, (size_t)n1 * sizeof *ids) == 0);
    /* other vocabularies keep the space */
    n1 = encode(plain, "a</s> b", 7, 0, 1, ids, 64);
    cr_expect(n1 != nr || memcmp(ids, ref, (size_t)n1 * sizeof *ids) != 0);
    cb_tokenizer_free(t);
    cb_tokenizer_free(plain);
}

/* The same through GGUF metadata: the Phi-3 vocab (general.architecture phi3)
 * strips, the llama SPM vocab does not. */
Test(tokenizer_ref, phi3_rstrip_from_gguf) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set: no Phi-3 vocab");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-phi-3.gguf", sd);
    if (!file_exists(path)) cr_skip_test("%s is absent", path);
    cb_tokenizer *t = load_gguf_tok(path);
    int32_t a[64], b[64];
    int na = encode(t, "Hello</s> world", 15, 1, 1, a, 64), nb = encode(t, "Hello</s>world", 14, 1, 1, b, 64);
    cr_expect(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0, "phi-3: space after </s> kept");
    int has_eos_s = 0; /* </s> is id 2 in SPM vocabs (Phi-3's EOS is <|endoftext|>) */
    for (int i = 0; i < na; i++) has_eos_s |= a[i] == 2;
    cr_expect(has_eos_s, "</s> not matched as a special token");
    cb_tokenizer_free(t);
    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-llama-spm.gguf", sd);
    if (!file_exists(path)) cr_skip_test("%s is absent", path);
    t = load_gguf_tok(path);
    na = encode(t, "Hello</s> world", 15, 1, 1, a, 64);
    nb = encode(t, "Hello</s>world", 14, 1, 1, b, 64);
    cr_expect(na != nb || memcmp(a, b, (size_t)na * sizeof *a) != 0, "llama-spm: space after </s> dropped");
    cb_tokenizer_free(t);
}

Test(tokenizer, spm_pieces_and_decode) {
    cb_tokenizer *t = synthetic_spm();
    char buf[32];
    cr_assert_eq(cb_tokenizer_piece(t, S_SPAB, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, " ab");
    cr_assert_eq(cb_tokenizer_piece(t, 3 + 'A', buf, sizeof buf), 1);
    cr_assert_str_eq(buf, "A");
    cr_assert_eq(cb_tokenizer_piece(t, 3, buf, sizeof buf), 1); /* <0x00> is a NUL byte */
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(cb_tokenizer_piece(t, 2, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "</s>");
    cr_assert_eq(cb_tokenizer_piece(t, S_SPAB, buf, 2), 3); /* truncated, NUL-terminated */
    cr_assert_str_eq(buf, " ");
    cr_assert_eq(cb_tokenizer_piece(t, -1, buf, sizeof buf), -1);
    cr_assert_eq(cb_tokenizer_piece(t, 100000, buf, sizeof buf), -1);
    /* decode strips the dummy space of the first token only; BOS/EOS print nothing */
    int32_t a[] = {S_SPAB, S_SPA, 2};
    cr_assert_eq(cb_tokenizer_decode(t, a, 3, buf, sizeof buf), 4);
    cr_assert_str_eq(buf, "ab a");
    int32_t b[] = {1, S_SPAB};
    cr_assert_eq(cb_tokenizer_decode(t, b, 2, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, " ab");
    int32_t bad[] = {S_A, 99999};
    cr_assert_eq(cb_tokenizer_decode(t, bad, 2, buf, sizeof buf), -1);
    cb_tokenizer_free(t);
}

Test(tokenizer, encode_cap_and_alloc) {
    cb_tokenizer *t = synthetic_spm();
    int32_t ids[2];
    int n = -1;
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_tokenizer_encode(t, "zzzz", 4, 1, 0, ids, 2, &n, &err);
    cr_assert_eq(rc, CB_ENOMEM);
    cr_assert_eq(n, 6, "n_out reports the needed count");
    cr_assert(strstr(err.msg, "needs 6 tokens") != NULL, "%s", err.msg);
    cr_assert_eq(ids[0], 1);
    int32_t *all = NULL;
    cr_assert_eq(cb_tokenizer_encode_alloc(t, "zzzz", 4, 1, 0, &all, &n, &err), 0);
    cr_assert_eq(n, 6);
    cr_assert_eq(all[5], 3 + 'z');
    free(all);
    cr_assert_eq(cb_tokenizer_encode_alloc(t, "", 0, 0, 0, &all, &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_not_null(all);
    free(all);
    cb_tokenizer_free(t);
}

Test(tokenizer, spm_invalid_utf8_roundtrip) {
    cb_tokenizer *t = synthetic_spm();
    unsigned seed = 12345;
    for (int iter = 0; iter < 200; iter++) {
        char text[64];
        size_t n = (size_t)(iter % 60);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = (char)(seed >> 16);
        }
        int32_t *ids = NULL;
        int n_ids = 0;
        cb_err err;
        cr_assert_eq(cb_tokenizer_encode_alloc(t, text, n, 0, 0, &ids, &n_ids, &err), 0);
        /* text starting with ' ' keeps it: the dummy space is a separate ▁ */
        check_roundtrip(t, ids, n_ids, text, n, "random bytes");
        free(ids);
    }
    cb_tokenizer_free(t);
}

/* ---- synthetic byte-level BPE vocab --------------------------------------- */

static void cp_utf8(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

static cb_tokenizer *synthetic_bpe(const char *pre, const char *const *merges, int n_merges,
                                   cb_err *err) {
    static char sym[256][4];
    const char *toks[256 + 8];
    int32_t types[256 + 8];
    int next = 256, n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_utf8(keep ? (unsigned)b : (unsigned)next++, sym[b]);
        toks[n] = sym[b];
        types[n++] = CB_TOKTYPE_NORMAL;
    }
    const char *extra[] = {"he", "ll", "hell", "hello", "\xc4\xa0w", "<|endoftext|>", "<|im_end|>"};
    for (int i = 0; i < 7; i++) {
        toks[n] = extra[i];
        types[n++] = i >= 5 ? CB_TOKTYPE_CONTROL : CB_TOKTYPE_NORMAL;
    }
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = pre;
    spec.n_vocab = n;
    spec.tokens = toks;
    spec.types = types;
    spec.merges = merges;
    spec.n_merges = n_merges;
    spec.eos = 261; /* <|endoftext|> */
    cb_tokenizer *t = NULL;
    cb_tokenizer_from_spec(&spec, &t, err);
    return t;
}

static const char *const k_merges[] = {"l l", "h e", "he ll", "hell o", "\xc4\xa0 w"};

Test(tokenizer, bpe_merges_by_rank) {
    cb_err err;
    cb_err_clear(&err);
    cb_tokenizer *t = synthetic_bpe("gpt-2", k_merges, 5, &err);
    cr_assert_not_null(t, "%s", err.msg);
    int32_t ids[64];
    char dbg[256];
    cr_assert_eq(cb_tokenizer_type(t), CB_TOK_BPE);
    cr_assert(!cb_tokenizer_add_bos(t));
    cr_assert_str_eq(cb_tokenizer_pre(t), "gpt-2");
    /* "hello world": words "hello", " world"; hello merges to one token;
     * " w" merges (Ġw), the rest stays bytes */
    int n = encode(t, "hello world", 11, 0, 0, ids, 64);
    fmt_ids(ids, n, dbg, sizeof dbg);
    cr_assert(n == 6 && ids[0] == 259 && ids[1] == 260 && ids[2] == 'o' && ids[3] == 'r' &&
                  ids[4] == 'l' && ids[5] == 'd',
              "got%s", dbg);
    /* "hellohello" is one word -> merges run inside it */
    n = encode(t, "hellohello", 10, 0, 0, ids, 64);
    cr_assert(n == 2 && ids[0] == 259 && ids[1] == 259);
    /* specials: parse_special on -> id; off -> bytes */
    n = encode(t, "hi<|endoftext|>", 15, 0, 1, ids, 64);
    cr_assert(n == 3 && ids[2] == 261);
    n = encode(t, "hi<|endoftext|>", 15, 0, 0, ids, 64);
    cr_assert(n > 3);
    cr_assert(cb_tokenizer_is_eog(t, 261));
    cr_assert(cb_tokenizer_is_eog(t, 262)); /* <|im_end|> by text */
    cr_assert_eq(cb_tokenizer_eot(t), 261);
    char buf[32];
    cr_assert_eq(cb_tokenizer_piece(t, 260, buf, sizeof buf), 2);
    cr_assert_str_eq(buf, " w");
    cr_assert_eq(cb_tokenizer_piece(t, ' ', buf, sizeof buf), 1); /* "Ġ" */
    cr_assert_str_eq(buf, " ");
    cr_assert_eq(cb_tokenizer_piece(t, 0xA0, buf, sizeof buf), 1);
    cr_assert_eq((unsigned char)buf[0], 0xA0);
    cb_tokenizer_free(t);
}

Test(tokenizer, bpe_any_bytes_roundtrip) {
    const char *pres[] = {"gpt-2", "default", "llama3", "qwen2", "deepseek-llm", "deepseek-coder",
                          "falcon", "starcoder", "deepseek-v3", "bloom", "viking", "tekken",
                          "chameleon", "mpt", "refact", "command-r"};
    for (size_t p = 0; p < sizeof pres / sizeof pres[0]; p++) {
        cb_err err;
        cb_err_clear(&err);
        cb_tokenizer *t = synthetic_bpe(pres[p], k_merges, 5, &err);
        cr_assert_not_null(t, "%s: %s", pres[p], err.msg);
        unsigned seed = 99;
        for (int iter = 0; iter < 100; iter++) {
            char text[80];
            size_t n = (size_t)(iter % 77);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = seed >> 16;
                /* mix ASCII words, spaces, newlines and raw high bytes */
                text[i] = (r & 3) == 0 ? ' ' : (r & 7) == 1 ? '\n' : (r & 7) == 3 ? (char)(r >> 3)
                                                                                   : "hello w0'9"[r % 10];
            }
            int32_t *ids = NULL;
            int n_ids = 0;
            cr_assert_eq(cb_tokenizer_encode_alloc(t, text, n, 0, 0, &ids, &n_ids, &err), 0, "%s",
                         err.msg);
            check_roundtrip(t, ids, n_ids, text, n, pres[p]);
            free(ids);
        }
        cb_tokenizer_free(t);
    }
}

/* llama3 keeps a pre-tokenized word whole when it is a token (ignore_merges),
 * which makes the regex split visible without merges. */
Test(tokenizer, bpe_llama3_pretokenizer_words) {
    static char sym[256][4];
    const char *toks[256 + 8];
    int next = 256, n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_utf8(keep ? (unsigned)b : (unsigned)next++, sym[b]);
        toks[n++] = sym[b];
    }
    const char *words[] = {"Hello", "\xc4\xa0world", "'s", "123", "\xc4\xa0!!!\xc4\x8a\xc4\x8a",
                           "\xc4\xa0x"};
    for (int i = 0; i < 6; i++) toks[n++] = words[i];
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    spec.model = "gpt2";
    spec.pre = "llama-bpe";
    spec.n_vocab = n;
    spec.tokens = toks;
    cb_tokenizer *t = NULL;
    cb_err err;
    cr_assert_eq(cb_tokenizer_from_spec(&spec, &t, &err), 0, "%s", err.msg);
    /* words: Hello | " world" | 's | " " | 123 | 4 | " !!!\n\n" | " " | " x" */
    const char *text = "Hello world's 1234 !!!\n\n  x";
    int32_t ids[32];
    char dbg[256];
    int got = encode(t, text, strlen(text), 0, 0, ids, 32);
    const int32_t want[] = {256, 257, 258, ' ', 259, '4', 260, ' ', 261};
    fmt_ids(ids, got, dbg, sizeof dbg);
    cr_assert(got == 9 && memcmp(ids, want, sizeof want) == 0, "got%s", dbg);
    cb_tokenizer_free(t);
}

Test(tokenizer, load_errors) {
    cb_err err;
    cb_err_clear(&err);
    cb_tokenizer *t = synthetic_bpe("no-such-pre", k_merges, 5, &err);
    cr_assert_null(t);
    cr_assert_eq(err.code, CB_EUNSUP);
    cr_assert(strstr(err.msg, "no-such-pre") != NULL, "%s", err.msg);
    const char *bad[] = {"l l", "nospace"};
    t = synthetic_bpe("gpt-2", bad, 2, &err);
    cr_assert_null(t);
    cr_assert_eq(err.code, CB_EFORMAT);
    cr_assert(strstr(err.msg, "merge 1") != NULL, "%s", err.msg);
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    const char *toks[] = {"a"};
    spec.model = "bert";
    spec.n_vocab = 1;
    spec.tokens = toks;
    cr_assert_eq(cb_tokenizer_from_spec(&spec, &t, &err), CB_EUNSUP);
    spec.model = "llama";
    spec.n_vocab = 0;
    cr_assert_eq(cb_tokenizer_from_spec(&spec, &t, &err), CB_EFORMAT);
    cb_tokenizer_free(NULL);
}

/* ---- llama.cpp reference vectors ------------------------------------------- */

/* Runs X.gguf against X.gguf.inp/.out; returns the number of failing strings
 * (details logged). *n_cases gets the number of strings. */
static int run_vocab_file(const char *dir, const char *name, int *n_cases) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cb_tokenizer *t = load_gguf_tok(path);
    char inp_path[1100], out_path[1100];
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);
    size_t inp_len = 0, out_len = 0;
    char *inp = read_file(inp_path, &inp_len);
    char *outs = read_file(out_path, &out_len);
    cr_assert(inp && outs, "cannot read %s / .out", inp_path);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sep_len = strlen(sep);
    int fails = 0, k = 0;
    char *p = inp, *end = inp + inp_len;
    char *line = outs;
    int32_t *ids = NULL;
    for (;;) {
        char *q = memmem(p, (size_t)(end - p), sep, sep_len);
        if (!q) break; /* the remainder after the last separator is dropped */
        size_t n = (size_t)(q - p);
        /* expected ids */
        char *eol = strchr(line, '\n');
        cr_assert_not_null(eol, "%s: .out has fewer lines than .inp", name);
        *eol = 0;
        int32_t want[4096];
        int nw = 0;
        for (char *s = line; *s;) {
            char *e;
            long v = strtol(s, &e, 10);
            if (e == s) break;
            want[nw++] = (int32_t)v;
            s = e;
        }
        int n_ids = 0;
        cb_err err;
        cr_assert_eq(cb_tokenizer_encode_alloc(t, p, n, 0, 0, &ids, &n_ids, &err), 0, "%s", err.msg);
        int ok = n_ids == nw && memcmp(ids, want, (size_t)nw * sizeof *ids) == 0;
        if (!ok) {
            char got_s[2048], want_s[2048];
            fmt_ids(ids, n_ids, got_s, sizeof got_s);
            fmt_ids(want, nw, want_s, sizeof want_s);
            cr_log_error("%s case %d '%.*s': got%s want%s", name, k, (int)n, p, got_s, want_s);
            fails++;
        }
        check_roundtrip(t, ids, n_ids, p, n, name);
        free(ids);
        ids = NULL;
        k++;
        p = q + sep_len;
        line = eol + 1;
    }
    *n_cases = k;
    free(inp);
    free(outs);
    cb_tokenizer_free(t);
    return fails;
}

static void check_vocab(const char *vocab) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set: no reference vectors");
    char dir[900], path[1100];
    snprintf(dir, sizeof dir, "%s/reference/tokenizer", sd);
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, vocab);
    if (!file_exists(path)) cr_skip_test("%s absent", path);
    char name[200];
    snprintf(name, sizeof name, "ggml-vocab-%s.gguf", vocab);
    int n = 0;
    int fails = run_vocab_file(dir, name, &n);
    cr_assert_eq(fails, 0, "%s: %d of %d strings differ from llama.cpp", name, fails, n);
    cr_assert_gt(n, 40);
    cr_log_info("%s: %d strings pass", name, n);
}

Test(tokenizer_ref, llama_spm) { check_vocab("llama-spm"); }
Test(tokenizer_ref, phi_3) { check_vocab("phi-3"); }
Test(tokenizer_ref, gpt_2) { check_vocab("gpt-2"); }
Test(tokenizer_ref, mpt) { check_vocab("mpt"); }
Test(tokenizer_ref, starcoder) { check_vocab("starcoder"); }
Test(tokenizer_ref, refact) { check_vocab("refact"); }
Test(tokenizer_ref, falcon) { check_vocab("falcon"); }
Test(tokenizer_ref, deepseek_coder) { check_vocab("deepseek-coder"); }
Test(tokenizer_ref, deepseek_llm) { check_vocab("deepseek-llm"); }

/* Every .inp whose GGUF is present must load and pass, except WordPiece
 * (bert), which this engine does not implement. */
Test(tokenizer_ref, every_present_pair) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set: no reference vectors");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/reference/tokenizer", sd);
    DIR *d = opendir(dir);
    if (!d) cr_skip_test("%s absent", dir);
    struct dirent *e;
    int n_pass = 0;
    char passed[2048] = "";
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 9 || strcmp(e->d_name + l - 9, ".gguf.inp") != 0) continue;
        char gguf_name[256], path[1200];
        snprintf(gguf_name, sizeof gguf_name, "%.*s", (int)(l - 4), e->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, gguf_name);
        if (!file_exists(path)) continue;
        cb_gguf *g = NULL;
        cb_err err;
        cr_assert_eq(cb_gguf_open(path, &g, &err), 0, "%s", err.msg);
        cb_gguf_str model;
        cr_assert_eq(cb_gguf_get_str(g, "tokenizer.ggml.model", &model), 0);
        int is_wpm = model.len == 4 && memcmp(model.ptr, "bert", 4) == 0;
        cb_gguf_free(g);
        if (is_wpm) {
            cr_log_info("%s: WordPiece (bert) is not supported; skipped", gguf_name);
            continue;
        }
        int n = 0;
        int fails = run_vocab_file(dir, gguf_name, &n);
        cr_expect_eq(fails, 0, "%s: %d of %d strings differ", gguf_name, fails, n);
        if (!fails) {
            n_pass++;
            size_t k = strlen(passed);
            snprintf(passed + k, sizeof passed - k, " %s", gguf_name);
        }
    }
    closedir(d);
    cr_log_info("vocab files passing:%s", passed);
    cr_assert_geq(n_pass, 9, "passing:%s", passed);
}

static cJSON *json_ids_check(const cJSON *arr, const int32_t *ids, int n) {
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return (cJSON *)arr;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(v) || (int32_t)v->valuedouble != ids[i]) return (cJSON *)arr;
    }
    return NULL;
}

static void check_tokenize_json(const char *model_file, const char *json_file) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set: no reference vectors");
    char mpath[1024], jpath[1024];
    snprintf(mpath, sizeof mpath, "%s/models/%s", sd, model_file);
    snprintf(jpath, sizeof jpath, "%s/reference/%s", sd, json_file);
    if (!file_exists(mpath) || !file_exists(jpath)) cr_skip_test("%s or %s absent", mpath, jpath);
    cb_tokenizer *t = load_gguf_tok(mpath);
    char *js = read_file(jpath, NULL);
    cJSON *root = cJSON_Parse(js);
    cr_assert_not_null(root);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    int n_cases = cJSON_GetArraySize(cases), fails = 0;
    cr_assert_eq(n_cases, 39);
    for (int i = 0; i < n_cases; i++) {
        const cJSON *c = cJSON_GetArrayItem(cases, i);
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        size_t n = strlen(text);
        int32_t ids[512];
        struct {
            const char *key;
            int bos, special;
        } v[] = {{"ids_bos", cb_tokenizer_add_bos(t), 1},
                 {"ids_no_bos", 0, 1},
                 {"ids_bos_no_parse_special", cb_tokenizer_add_bos(t), 0}};
        for (int k = 0; k < 3; k++) {
            int got = encode(t, text, n, v[k].bos, v[k].special, ids, 512);
            if (json_ids_check(cJSON_GetObjectItem(c, v[k].key), ids, got)) {
                char s[2048];
                fmt_ids(ids, got, s, sizeof s);
                char *want = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, v[k].key));
                cr_log_error("%s case %d %s '%s': got%s want %s", json_file, i, v[k].key, text, s, want);
                free(want);
                fails++;
            }
        }
        /* lossless: without special parsing, decode gives the text back */
        int got = encode(t, text, n, 0, 0, ids, 512);
        check_roundtrip(t, ids, got, text, n, text);
    }
    cr_assert_eq(fails, 0, "%s: %d mismatches", json_file, fails);
    cJSON_Delete(root);
    free(js);
    cb_tokenizer_free(t);
}

Test(tokenizer_ref, stories260K_tokenize_json) {
    check_tokenize_json("stories260K.gguf", "stories260K/tokenize.json");
}

Test(tokenizer_ref, llama2_tiny_tokenize_json) {
    check_tokenize_json("llama-2-tiny-random.gguf", "llama-2-tiny-random/tokenize.json");
}

Test(tokenizer_ref, stories260K_pieces_match_greedy_json) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set");
    char mpath[1024], jpath[1024];
    snprintf(mpath, sizeof mpath, "%s/models/stories260K.gguf", sd);
    snprintf(jpath, sizeof jpath, "%s/reference/stories260K/greedy_kvf32.json", sd);
    if (!file_exists(mpath) || !file_exists(jpath)) cr_skip_test("files absent");
    cb_tokenizer *t = load_gguf_tok(mpath);
    char *js = read_file(jpath, NULL);
    cJSON *root = cJSON_Parse(js);
    const cJSON *res = cJSON_GetObjectItem(root, "results");
    int checked = 0;
    for (int i = 0; i < cJSON_GetArraySize(res); i++) {
        const cJSON *r = cJSON_GetArrayItem(res, i);
        const char *prompt = cJSON_GetObjectItem(r, "prompt")->valuestring;
        int32_t ids[256];
        int n = encode(t, prompt, strlen(prompt), cb_tokenizer_add_bos(t), 1, ids, 256);
        cr_assert_null(json_ids_check(cJSON_GetObjectItem(r, "prompt_tokens"), ids, n), "prompt '%s'",
                       prompt);
        const cJSON *gt = cJSON_GetObjectItem(r, "generated_tokens");
        const cJSON *gh = cJSON_GetObjectItem(r, "generated_pieces_hex");
        for (int k = 0; k < cJSON_GetArraySize(gt); k++) {
            char piece[64], hex[160] = "";
            int id = (int)cJSON_GetArrayItem(gt, k)->valuedouble;
            int len = cb_tokenizer_piece(t, id, piece, sizeof piece);
            for (int j = 0; j < len; j++)
                snprintf(hex + 2 * j, sizeof hex - 2 * (size_t)j, "%02x", (unsigned char)piece[j]);
            cr_assert_str_eq(hex, cJSON_GetArrayItem(gh, k)->valuestring, "token %d", id);
            checked++;
        }
        cr_assert_eq(cb_tokenizer_is_eog(t, 2), 1);
    }
    cr_assert_gt(checked, 100);
    cJSON_Delete(root);
    free(js);
    cb_tokenizer_free(t);
}

Test(tokenizer_ref, accessors_from_gguf) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-phi-3.gguf", sd);
    if (!file_exists(path)) cr_skip_test("%s absent", path);
    cb_tokenizer *t = load_gguf_tok(path);
    cr_assert_eq(cb_tokenizer_n_vocab(t), 32064);
    cr_assert_eq(cb_tokenizer_eos(t), 32000);
    cr_assert_eq(cb_tokenizer_find(t, "<|end|>", 7), 32007);
    cr_assert(cb_tokenizer_is_eog(t, 32007));
    cr_assert(cb_tokenizer_is_eog(t, 32000));
    cr_assert(!cb_tokenizer_is_eog(t, 32010)); /* <|user|> */
    cr_assert(cb_tokenizer_add_bos(t));
    size_t len;
    const char *s = cb_tokenizer_token_text(t, 32010, &len);
    cr_assert(len == 8 && memcmp(s, "<|user|>", 8) == 0);
    int32_t ids[16];
    int n = encode(t, "<|user|>\nHi", 11, 0, 1, ids, 16);
    cr_assert(n >= 2 && ids[0] == 32010, "n=%d ids[0]=%d", n, ids[0]);
    cb_tokenizer_free(t);

    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-gpt-2.gguf", sd);
    t = load_gguf_tok(path);
    cr_assert_eq(cb_tokenizer_type(t), CB_TOK_BPE);
    cr_assert(!cb_tokenizer_add_bos(t));
    cr_assert_eq(cb_tokenizer_eos(t), 50256);
    cr_assert(cb_tokenizer_is_eog(t, 50256));
    char piece[16];
    int32_t id = cb_tokenizer_find(t, "\xc4\xa0upon", 6);
    cr_assert_geq(id, 0);
    cr_assert_eq(cb_tokenizer_piece(t, id, piece, sizeof piece), 5);
    cr_assert_str_eq(piece, " upon");
    cb_tokenizer_free(t);
}

/* 100 KB inputs must encode in well under a second each (O(n log n)). */
static void time_long_input(cb_tokenizer *t, const char *what, const char *text, size_t n) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int32_t *ids = NULL;
    int n_ids = 0;
    cb_err err;
    cr_assert_eq(cb_tokenizer_encode_alloc(t, text, n, 1, 1, &ids, &n_ids, &err), 0, "%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    cr_log_info("%s: %zu bytes -> %d tokens in %.3f s", what, n, n_ids, s);
    cr_assert_lt(s, 3.0, "%s took %.3f s", what, s);
    free(ids);
}

Test(tokenizer_ref, long_inputs_are_fast, .timeout = 120) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set");
    size_t n = 100 * 1024;
    char *prose = malloc(n), *spaces = malloc(n), *digits = malloc(n), *word = malloc(n);
    const char *words = "Once upon a time, there was a little girl named Lily. She <s> 123 \xf0\x9f\x98\x80\n";
    size_t wl = strlen(words);
    for (size_t i = 0; i < n; i++) {
        prose[i] = words[i % wl];
        spaces[i] = (i % 4096 == 4095) ? '5' : ' ';
        digits[i] = (char)('0' + i % 10);
        word[i] = (char)('a' + (i * 7) % 26); /* one 100 KB word: a single merge heap */
    }
    const char *models[] = {"models/stories260K.gguf", "reference/tokenizer/ggml-vocab-gpt-2.gguf",
                            "reference/tokenizer/ggml-vocab-deepseek-llm.gguf",
                            "reference/tokenizer/ggml-vocab-falcon.gguf",
                            "reference/tokenizer/ggml-vocab-deepseek-coder.gguf"};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", sd, models[m]);
        if (!file_exists(path)) continue;
        cb_tokenizer *t = load_gguf_tok(path);
        char what[1100];
        snprintf(what, sizeof what, "%s prose", models[m]);
        time_long_input(t, what, prose, n);
        snprintf(what, sizeof what, "%s whitespace", models[m]);
        time_long_input(t, what, spaces, n);
        snprintf(what, sizeof what, "%s digits", models[m]);
        time_long_input(t, what, digits, n);
        snprintf(what, sizeof what, "%s one word", models[m]);
        time_long_input(t, what, word, n);
        cb_tokenizer_free(t);
    }
    free(prose);
    free(spaces);
    free(digits);
    free(word);
}

/* One tokenizer, four threads encoding at once: same ids as one thread. */
typedef struct enc_job {
    const cb_tokenizer *t;
    const char *text;
    int32_t ids[4096];
    int n;
} enc_job;

static void *enc_thread(void *arg) {
    enc_job *j = arg;
    for (int k = 0; k < 50; k++) {
        cb_err err;
        if (cb_tokenizer_encode(j->t, j->text, strlen(j->text), 0, 1, j->ids, 4096, &j->n, &err))
            j->n = -1;
    }
    return NULL;
}

Test(tokenizer_ref, concurrent_encode) {
    const char *sd = shared_dir();
    if (!sd) cr_skip_test("CAPBENCH_SHARED_DIR not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-deepseek-llm.gguf", sd);
    if (!file_exists(path)) cr_skip_test("%s absent", path);
    cb_tokenizer *t = load_gguf_tok(path);
    const char *text = "Once upon a time, 12345 \xe4\xbd\xa0\xe5\xa5\xbd <\xef\xbd\x9c"
                       "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c> caf\xc3\xa9\n\n  x";
    static enc_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].t = t;
        jobs[i].text = text;
        cr_assert_eq(pthread_create(&th[i], NULL, enc_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    int32_t ref[4096];
    int n = encode(t, text, strlen(text), 0, 1, ref, 4096);
    cr_assert(n > 10);
    for (int i = 0; i < 4; i++)
        cr_assert(jobs[i].n == n && memcmp(jobs[i].ids, ref, (size_t)n * sizeof *ref) == 0);
    cr_assert_eq(cb_tokenizer_find(t, "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", 27), 100001);
    int has_eos = 0;
    for (int i = 0; i < n; i++) has_eos |= ref[i] == 100001;
    cr_assert(has_eos, "the special token text was not matched");
    cb_tokenizer_free(t);
}
