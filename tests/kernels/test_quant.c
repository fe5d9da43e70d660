/* tests/kernels/test_quant.c — the GGUF block formats Q4_0, Q4_1, Q5_0, Q5_1,
 * Q4_K, Q5_K, Q6_K and the Q8_0/Q8_1/Q8_K activation formats:
 *   - dequantization of hand-made blocks against a decoder written here from
 *     the format description (byte offsets, not the library's structs),
 *     evaluated in double and rounded once: bit-exact equality;
 *   - the K-quant 6-bit scale/min packing, every value at every position;
 *   - our quantizers: exact round trips on values that lie on the grid,
 *     error bounds on random data, zeros;
 *   - activation quantization: rounding ties, signs, sums;
 *   - llama.cpp-quantized tensors of the qwen2 reference models decode close
 *     to the F32 originals they were made from (skips without ../shared).
 */
#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 32);
}
static float frand(void) { return (float)(rnd() >> 8) / 8388608.0f - 1.0f; }

static double h2d(const uint8_t *p) { return (double)cb_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8)); }

/* A finite fp16 scale: normal or subnormal, either sign. */
static void put_scale(uint8_t *p) {
    uint16_t h;
    do h = (uint16_t)rnd(); while (((h >> 10) & 31) == 31 || ((h >> 10) & 31) > 20);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

/* The 6-bit scale and min of sub-block j, from the 12 packed bytes. */
static void spec_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 0x3f;
        *m = s[j + 4] & 0x3f;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Value of element e of one block at p, from the format description. */
static double spec_value(uint32_t type, const uint8_t *p, int e) {
    switch (type) {
    case CB_KTYPE_Q4_0: return h2d(p) * (((p[2 + e % 16] >> (e < 16 ? 0 : 4)) & 15) - 8);
    case CB_KTYPE_Q4_1: return h2d(p) * ((p[4 + e % 16] >> (e < 16 ? 0 : 4)) & 15) + h2d(p + 2);
    case CB_KTYPE_Q5_0: {
        uint32_t qh = (uint32_t)p[2] | (uint32_t)p[3] << 8 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 24;
        int q = ((p[6 + e % 16] >> (e < 16 ? 0 : 4)) & 15) | (int)((qh >> e) & 1) << 4;
        return h2d(p) * (q - 16);
    }
    case CB_KTYPE_Q5_1: {
        uint32_t qh = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        int q = ((p[8 + e % 16] >> (e < 16 ? 0 : 4)) & 15) | (int)((qh >> e) & 1) << 4;
        return h2d(p) * q + h2d(p + 2);
    }
    case CB_KTYPE_Q4_K:
    case CB_KTYPE_Q5_K: {
        int j = e / 32, sc, m;
        spec_scale_min(p + 4, j, &sc, &m);
        const uint8_t *qs = p + (type == CB_KTYPE_Q4_K ? 16 : 48);
        int q = (qs[32 * (e / 64) + e % 32] >> (j % 2 ? 4 : 0)) & 15;
        if (type == CB_KTYPE_Q5_K) q |= ((p[16 + e % 32] >> j) & 1) << 4;
        return h2d(p) * sc * q - h2d(p + 2) * m;
    }
    case CB_KTYPE_Q6_K: {
        int h = e / 128, r = e % 128, i = r / 32, l = r % 32;
        int lo = (p[64 * h + l + 32 * (i % 2)] >> (i < 2 ? 0 : 4)) & 15;
        int hi = (p[128 + 32 * h + l] >> (2 * i)) & 3;
        return h2d(p + 208) * (int8_t)p[192 + e / 16] * ((lo | hi << 4) - 32);
    }
    default: cr_assert_fail("no spec for type %u", type); return 0;
    }
}

static const uint32_t qtypes[] = {CB_KTYPE_Q4_0, CB_KTYPE_Q4_1, CB_KTYPE_Q5_0, CB_KTYPE_Q5_1,
                                  CB_KTYPE_Q4_K, CB_KTYPE_Q5_K, CB_KTYPE_Q6_K};

/* Where a block keeps its fp16 fields (offsets), for put_scale. */
static void put_scales(uint32_t type, uint8_t *blk) {
    switch (type) {
    case CB_KTYPE_Q4_0: case CB_KTYPE_Q5_0: put_scale(blk); break;
    case CB_KTYPE_Q4_1: case CB_KTYPE_Q5_1: case CB_KTYPE_Q4_K: case CB_KTYPE_Q5_K:
        put_scale(blk), put_scale(blk + 2); break;
    case CB_KTYPE_Q6_K: put_scale(blk + 208); break;
    default: break;
    }
}

static void check_blocks(uint32_t type, const uint8_t *row, int nblocks) {
    int64_t be = cb_type_block_elems(type);
    size_t bb = cb_type_block_bytes(type);
    float *out = malloc((size_t)(be * nblocks) * sizeof *out);
    cb_dequantize_row(type, row, out, be * nblocks);
    for (int b = 0; b < nblocks; b++)
        for (int e = 0; e < be; e++) {
            float want = (float)spec_value(type, row + bb * (size_t)b, e);
            float got = out[b * be + e];
            cr_assert(memcmp(&want, &got, sizeof want) == 0, "%s block %d element %d: got %.9g want %.9g",
                      cb_ggml_type_name(type), b, e, got, want);
        }
    free(out);
}

Test(quant, block_sizes) {
    static const size_t bytes[] = {18, 20, 22, 24, 144, 176, 210};
    static const int64_t elems[] = {32, 32, 32, 32, 256, 256, 256};
    for (int i = 0; i < 7; i++) {
        cr_assert_eq(cb_type_block_bytes(qtypes[i]), bytes[i]);
        cr_assert_eq(cb_type_block_elems(qtypes[i]), elems[i]);
        cr_assert_eq(cb_row_bytes(qtypes[i], 4 * elems[i]), 4 * bytes[i]);
        cr_assert_eq(cb_row_bytes(qtypes[i], elems[i] + 32 * (elems[i] > 32) + 1 * (elems[i] == 32)), 0);
    }
    cr_assert_eq(cb_type_block_bytes(CB_KTYPE_Q8_K), 292);
    cr_assert_eq(cb_type_block_bytes(CB_KTYPE_Q8_1), 36);
    cr_assert_eq(cb_type_block_elems(10 /* Q2_K */), 0);
    cr_assert_eq(cb_row_bytes(10, 256), 0);
}

/* Random bytes (every code, every high bit, every scale byte) with finite scales. */
Test(quant, dequant_random_blocks_bit_exact) {
    for (size_t t = 0; t < sizeof qtypes / sizeof *qtypes; t++) {
        size_t bb = cb_type_block_bytes(qtypes[t]);
        enum { NB = 64 };
        uint8_t *row = malloc(bb * NB);
        for (size_t i = 0; i < bb * NB; i++) row[i] = (uint8_t)rnd();
        for (int b = 0; b < NB; b++) put_scales(qtypes[t], row + bb * (size_t)b);
        check_blocks(qtypes[t], row, NB);
        free(row);
    }
}

/* Hand-made K-quant blocks: sub-block j has scale ls[j] and min lm[j] chosen so
 * that both the low-6-bit path (j < 4) and the split path (j >= 4, top bits in
 * bytes 0..7) carry values above 15; every code q = 1 so each sub-block
 * decodes to the constant d*ls[j] - dmin*lm[j]. */
Test(quant, kquant_every_subblock_scale_and_min) {
    static const uint8_t ls[8] = {1, 63, 17, 32, 48, 5, 60, 33};
    static const uint8_t lm[8] = {0, 63, 16, 47, 31, 1, 62, 15};
    const double d = 0.5, dmin = 0.25; /* exact in fp16 */
    for (int five = 0; five < 2; five++) {
        uint8_t blk[176] = {0};
        blk[0] = 0x00, blk[1] = 0x38;     /* fp16 0.5 */
        blk[2] = 0x00, blk[3] = 0x34;     /* fp16 0.25 */
        cb_kq_pack_scales(ls, lm, blk + 4);
        /* the packing written out by hand for j = 4 (ls 48 = 0b110000, lm 31 = 0b011111):
         * byte 8 = (48 & 15) | (31 & 15) << 4 = 0xf0; byte 0 top bits = 48 >> 4 = 3; byte 4 top = 31 >> 4 = 1 */
        cr_assert_eq(blk[4 + 8], 0xf0);
        cr_assert_eq(blk[4 + 0] >> 6, 3);
        cr_assert_eq(blk[4 + 4] >> 6, 1);
        uint8_t *qs = blk + (five ? 48 : 16);
        memset(qs, 0x11, 128);
        if (five) memset(blk + 16, 0x55, 32); /* fifth bit set on even sub-blocks: q = 17 there */
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            cb_kq_scale_min(blk + 4, j, &sc, &m);
            cr_assert_eq(sc, ls[j], "j %d", j);
            cr_assert_eq(m, lm[j], "j %d", j);
        }
        float out[256];
        uint32_t type = five ? CB_KTYPE_Q5_K : CB_KTYPE_Q4_K;
        cb_dequantize_row(type, blk, out, 256);
        for (int e = 0; e < 256; e++) {
            int j = e / 32, q = five && j % 2 == 0 ? 17 : 1;
            cr_assert_eq(out[e], (float)(d * ls[j] * q - dmin * lm[j]), "%s e %d", five ? "Q5_K" : "Q4_K", e);
        }
        check_blocks(type, blk, 1);
    }
}

/* Q6_K: sub-block g has scale (g - 8) * 16 + 3 (negative, zero-crossing,
 * positive), codes run through 0..63 so every low/high bit position is used. */
Test(quant, q6k_every_subblock_scale) {
    uint8_t blk[210] = {0};
    int code[256];
    for (int e = 0; e < 256; e++) {
        code[e] = (e * 37 + 5) % 64;
        int h = e / 128, r = e % 128, i = r / 32, l = r % 32;
        blk[64 * h + l + 32 * (i % 2)] |= (uint8_t)((code[e] & 15) << (i < 2 ? 0 : 4));
        blk[128 + 32 * h + l] |= (uint8_t)((code[e] >> 4) << (2 * i));
    }
    for (int g = 0; g < 16; g++) blk[192 + g] = (uint8_t)(int8_t)((g - 8) * 16 + 3);
    blk[208] = 0x00, blk[209] = 0x2c; /* fp16 0.0625 */
    float out[256];
    cb_dequantize_row(CB_KTYPE_Q6_K, blk, out, 256);
    for (int e = 0; e < 256; e++)
        cr_assert_eq(out[e], (float)(0.0625 * ((e / 16 - 8) * 16 + 3) * (code[e] - 32)), "e %d", e);
    check_blocks(CB_KTYPE_Q6_K, blk, 1);
}

Test(quant, kq_scale_packing_every_value) {
    for (int v = 0; v < 64; v++) {
        uint8_t ls[8], lm[8], s[12], sc, m;
        for (int j = 0; j < 8; j++) {
            ls[j] = (uint8_t)((v + 7 * j) % 64);
            lm[j] = (uint8_t)((3 * v + 11 * j + 1) % 64);
        }
        cb_kq_pack_scales(ls, lm, s);
        for (int j = 0; j < 8; j++) {
            int a, b;
            cb_kq_scale_min(s, j, &sc, &m);
            spec_scale_min(s, j, &a, &b);
            cr_assert(sc == ls[j] && m == lm[j] && a == ls[j] && b == lm[j], "v %d j %d", v, j);
        }
    }
}

/* Values on the format's grid survive quantize -> dequantize exactly. */
Test(quant, quantizers_exact_on_grid) {
    float x[32], y[32];
    uint8_t buf[64];
    /* Q4_0 / Q5_0: d * (q - 8) with the extreme -8d present, d a power of two */
    for (int five = 0; five < 2; five++) {
        int nmax = five ? 16 : 8;
        for (int j = 0; j < 32; j++) x[j] = 0.0625f * (float)((j * 5) % (2 * nmax) - nmax);
        x[7] = -0.0625f * (float)nmax;
        uint32_t t = five ? CB_KTYPE_Q5_0 : CB_KTYPE_Q4_0;
        cb_quantize_row(t, x, buf, 32);
        cb_dequantize_row(t, buf, y, 32);
        for (int j = 0; j < 32; j++) cr_assert_eq(y[j], x[j], "%s j %d", five ? "Q5_0" : "Q4_0", j);
    }
    /* Q4_1 / Q5_1: m + d * q with q from 0 to the top */
    for (int five = 0; five < 2; five++) {
        int top = five ? 31 : 15;
        for (int j = 0; j < 32; j++) x[j] = -0.5f + 0.125f * (float)((j * 7) % (top + 1));
        x[3] = -0.5f, x[4] = -0.5f + 0.125f * (float)top;
        uint32_t t = five ? CB_KTYPE_Q5_1 : CB_KTYPE_Q4_1;
        cb_quantize_row(t, x, buf, 32);
        cb_dequantize_row(t, buf, y, 32);
        for (int j = 0; j < 32; j++) cr_assert_eq(y[j], x[j], "%s j %d", five ? "Q5_1" : "Q4_1", j);
    }
}

/* Random data: relative RMS error within what the bit width allows; zeros stay zero. */
Test(quant, quantizers_error_bounds) {
    static const double bound[] = {0.15, 0.12, 0.08, 0.06, 0.12, 0.06, 0.04};
    enum { n = 4096 };
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    void *buf = malloc(n * 2);
    for (size_t t = 0; t < sizeof qtypes / sizeof *qtypes; t++) {
        for (int i = 0; i < n; i++) x[i] = frand() * frand() * (i % 700 < 350 ? 1.0f : 0.01f);
        cb_quantize_row(qtypes[t], x, buf, n);
        cb_dequantize_row(qtypes[t], buf, y, n);
        double se = 0, sx = 0;
        for (int i = 0; i < n; i++) {
            se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            sx += (double)x[i] * x[i];
        }
        double rel = sqrt(se / sx);
        cr_assert(rel < bound[t], "%s: relative RMS error %.4f (bound %.2f)", cb_ggml_type_name(qtypes[t]), rel,
                  bound[t]);
        memset(x, 0, n * sizeof *x);
        cb_quantize_row(qtypes[t], x, buf, n);
        cb_dequantize_row(qtypes[t], buf, y, n);
        for (int i = 0; i < n; i++) cr_assert_eq(y[i], 0.0f, "%s zero input, element %d", cb_ggml_type_name(qtypes[t]), i);
    }
    free(buf), free(y), free(x);
}

Test(quant, activation_q8_0_q8_1_rounding) {
    float x[32] = {0};
    x[0] = 127.0f; /* amax 127: id = 1, codes are rint(x) */
    x[1] = 2.5f, x[2] = 3.5f, x[3] = -2.5f, x[4] = -0.5f, x[5] = 1.4999f, x[6] = -127.0f;
    cb_block_q8_0 b0;
    cb_quantize_act(CB_KTYPE_Q8_0, x, &b0, 32);
    cr_assert_eq(cb_fp16_to_fp32(b0.d), 1.0f);
    static const int8_t want[7] = {127, 2, 4, -2, 0, 1, -127};
    for (int j = 0; j < 7; j++) cr_assert_eq(b0.qs[j], want[j], "j %d", j);
    cb_block_q8_1 b1;
    cb_quantize_act(CB_KTYPE_Q8_1, x, &b1, 32);
    cr_assert_eq(memcmp(b1.qs, b0.qs, 32), 0);
    cr_assert_eq(cb_fp16_to_fp32(b1.s), 127.0f + 2 + 4 - 2 + 0 + 1 - 127);
    memset(x, 0, sizeof x);
    cb_quantize_act(CB_KTYPE_Q8_1, x, &b1, 32);
    cr_assert(b1.d == 0 && b1.s == 0);
}

Test(quant, activation_q8_k) {
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = 0.01f * (float)((i * 13) % 200 - 100);
    x[77] = 2.0f; /* the largest magnitude, positive: iscale = -63.5, d = -2/127 */
    x[78] = 1.0f; /* -63.5 ties to -64 (even) */
    x[79] = -2.0f; /* same magnitude, later: not the max; maps to +127 */
    cb_block_q8_k b;
    cb_quantize_act(CB_KTYPE_Q8_K, x, &b, 256);
    cr_assert_eq(b.d, 1.0f / (-127.0f / 2.0f));
    cr_assert_eq(b.qs[77], -127);
    cr_assert_eq(b.qs[78], -64);
    cr_assert_eq(b.qs[79], 127);
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += b.qs[16 * g + j];
        cr_assert_eq(b.bsums[g], s, "group %d", g);
    }
    for (int i = 0; i < 256; i++)
        cr_assert_eq(b.qs[i], (int8_t)rintf((-127.0f / 2.0f) * x[i]) > 127 ? 127 : (int8_t)rintf((-127.0f / 2.0f) * x[i]));
    for (int i = 0; i < 256; i++) x[i] = 0.0f;
    cb_quantize_act(CB_KTYPE_Q8_K, x, &b, 256);
    cr_assert_eq(b.d, 0.0f);
    for (int g = 0; g < 16; g++) cr_assert_eq(b.bsums[g], 0);
}

/* ../shared/reference/archs: llama-quantize made qwen2-{q4_0,q4_k_m,q6_k}.gguf
 * from qwen2.gguf. Our decoding of every quantized tensor must land near the
 * F32 original (a wrong element order or scale layout gives errors ~1.4). */
Test(quant, llama_cpp_files_decode_near_f32) {
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    char path[1024];
    if (!dir) cr_skip_test("CAPBENCH_SHARED_DIR is not set (needs ../shared/reference/archs)");
    snprintf(path, sizeof path, "%s/reference/archs/qwen2.gguf", dir);
    cb_gguf *ref = NULL;
    cb_err err;
    if (cb_gguf_open(path, &ref, &err)) cr_skip_test("%s is not readable: %s", path, err.msg);
    static const char *const files[] = {"qwen2-q4_0.gguf", "qwen2-q4_k_m.gguf", "qwen2-q6_k.gguf"};
    int checked = 0;
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/reference/archs/%s", dir, files[f]);
        cb_gguf *g = NULL;
        cr_assert_eq(cb_gguf_open(path, &g, &err), 0, "%s", err.msg);
        for (uint64_t i = 0; i < cb_gguf_n_tensors(g); i++) {
            const cb_gguf_tensor *t = cb_gguf_tensor_at(g, i);
            if (t->type == CB_GGML_F32) continue;
            const cb_gguf_tensor *o = cb_gguf_find_tensor(ref, t->name);
            cr_assert(o && o->type == CB_GGML_F32 && o->n_elems == t->n_elems, "%s", t->name);
            float *y = malloc(t->n_elems * sizeof *y);
            int64_t K = (int64_t)t->ne[0];
            size_t rb = cb_row_bytes(t->type, K);
            for (uint64_t r = 0; r < t->n_elems / (uint64_t)K; r++)
                cb_dequantize_row(t->type, (const char *)t->data + r * rb, y + r * (uint64_t)K, K);
            const float *x = o->data;
            double se = 0, sx = 0;
            for (uint64_t k = 0; k < t->n_elems; k++) {
                se += ((double)y[k] - x[k]) * ((double)y[k] - x[k]);
                sx += (double)x[k] * x[k];
            }
            double rel = sqrt(se / sx);
            double bound = t->type == CB_GGML_Q6_K ? 0.02 : 0.12;
            cr_assert(rel < bound, "%s %s (%s): relative RMS error %.4f", files[f], t->name,
                      cb_ggml_type_name(t->type), rel);
            free(y);
            checked++;
        }
        cb_gguf_free(g);
    }
    cb_gguf_free(ref);
    cr_assert_gt(checked, 20);
}
