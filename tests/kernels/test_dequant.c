/* tests/kernels/test_dequant.c — kernels/dequant.h, the block dequantization
 * the CUDA kernels run, compiled here by the C compiler and compared bit for
 * bit with the CPU engine's cb_dequantize_row (written apart, in
 * kernels/cpu/quant.c, and itself checked against the format description in
 * test_quant.c):
 *   - random blocks of every type (every byte random, scales finite: normal,
 *     subnormal, zero, both signs), which reach every code, every high bit
 *     and every packed scale/min bit;
 *   - hand-made blocks: all codes at their extremes, each K-quant sub-block
 *     scale and min path (j < 4 and j >= 4) at 0 and 63, Q6_K scales at -128
 *     and 127;
 *   - rows at unaligned offsets (the device reads bytes, not fp16 words);
 *   - the quantized tensors of the qwen2 reference models (llama-quantize's
 *     codes; skips without ../shared).
 * So a GPU run of the CUDA kernels decodes the same values as the CPU, bit
 * for bit; only their GPU run is left to a machine with a GPU.
 */
#include "engine/gguf.h"
#include "kernels/dequant.h"
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t types[] = {CB_KTYPE_Q4_0, CB_KTYPE_Q4_1, CB_KTYPE_Q5_0, CB_KTYPE_Q5_1,
                                 CB_KTYPE_Q4_K, CB_KTYPE_Q5_K, CB_KTYPE_Q6_K};
#define N_TYPES (sizeof types / sizeof types[0])

static uint64_t rs = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 32);
}

/* A finite fp16: normal, subnormal or zero, either sign. */
static void put_half(uint8_t *p) {
    uint16_t h;
    do h = (uint16_t)rnd(); while (((h >> 10) & 31) == 31);
    if (rnd() % 8 == 0) h &= 0x83ffu; /* subnormal or zero */
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

/* Byte offsets of the fp16 fields of a block (d, and m or dmin). */
static void half_offsets(uint32_t type, int *o1, int *o2) {
    *o1 = type == CB_KTYPE_Q6_K ? 208 : 0;
    *o2 = type == CB_KTYPE_Q4_1 || type == CB_KTYPE_Q5_1 || type == CB_KTYPE_Q4_K || type == CB_KTYPE_Q5_K ? 2 : -1;
}

/* Every element of a row of nb blocks through cb_dq16 vs cb_dequantize_row, bit for bit. */
static void check_row(uint32_t type, const uint8_t *row, int64_t nb, const char *what) {
    const int64_t K = nb * cb_dq_block_elems(type);
    float *want = malloc((size_t)K * sizeof(float)), got[16];
    cr_assert(want);
    /* the CPU engine reads blocks as structs (rows in a GGUF are 2-byte
     * aligned), so its reference gets an aligned copy; dequant.h gets row as is */
    const size_t bytes = (size_t)nb * cb_dq_block_bytes(type);
    void *aligned = malloc(bytes);
    cr_assert(aligned);
    memcpy(aligned, row, bytes);
    cb_dequantize_row(type, aligned, want, K);
    free(aligned);
    for (int64_t k = 0; k < K; k += 16) {
        cb_dq16(type, row, k, got);
        for (int i = 0; i < 16; i++) {
            uint32_t a, b;
            memcpy(&a, &got[i], 4);
            memcpy(&b, &want[k + i], 4);
            if (a != b) {
                cr_assert_fail("%s %s: element %lld: dequant.h %.9g (0x%08x), CPU engine %.9g (0x%08x)", what,
                               cb_ggml_type_name(type), (long long)(k + i), got[i], a, want[k + i], b);
            }
        }
    }
    free(want);
}

Test(dequant, sizes_match_the_cpu_tables) {
    for (size_t t = 0; t < N_TYPES; t++) {
        cr_expect_eq(cb_dq_block_elems(types[t]), cb_type_block_elems(types[t]), "%s", cb_ggml_type_name(types[t]));
        cr_expect_eq((size_t)cb_dq_block_bytes(types[t]), cb_type_block_bytes(types[t]), "%s",
                     cb_ggml_type_name(types[t]));
    }
    cr_expect_eq(cb_dq_block_elems(CB_KTYPE_F16), 0);
    cr_expect_eq(cb_dq_block_elems(CB_KTYPE_Q8_0), 0, "Q8_0 is read directly (repacked), not through dequant.h");
}

Test(dequant, half_is_exact_for_every_finite_input) {
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31) continue;
        uint8_t p[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
        float a = cb_dq_half(p), b = cb_fp16_to_fp32((uint16_t)h);
        cr_assert(memcmp(&a, &b, 4) == 0, "fp16 0x%04x: %.9g vs %.9g", h, a, b);
    }
}

Test(dequant, random_blocks_bit_exact) {
    enum { NB = 64 };
    static uint8_t row[NB * 210];
    for (size_t t = 0; t < N_TYPES; t++) {
        const uint32_t type = types[t];
        const int bb = cb_dq_block_bytes(type);
        int o1, o2;
        half_offsets(type, &o1, &o2);
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < NB * bb; i++) row[i] = (uint8_t)rnd();
            for (int b = 0; b < NB; b++) {
                put_half(row + b * bb + o1);
                if (o2 >= 0) put_half(row + b * bb + o2);
            }
            check_row(type, row, NB, "random");
        }
    }
}

Test(dequant, hand_made_blocks_every_scale_path) {
    static uint8_t row[8 * 210 + 1];
    for (size_t t = 0; t < N_TYPES; t++) {
        const uint32_t type = types[t];
        const int bb = cb_dq_block_bytes(type);
        int o1, o2;
        half_offsets(type, &o1, &o2);
        for (int pat = 0; pat < 4; pat++) {
            /* pat 0: all bits clear; 1: all set; 2: alternating; 3: codes set, scales and mins 0 */
            const uint8_t fill = pat == 0 ? 0x00 : pat == 2 ? 0x5a : 0xff;
            memset(row, fill, sizeof row);
            for (int b = 0; b < 8; b++) {
                uint8_t *blk = row + b * bb;
                /* d = 1 + b/8, m or dmin = -0.5 (exact fp16) */
                uint16_t d = cb_fp32_to_fp16(1.0f + (float)b / 8.0f), m = cb_fp32_to_fp16(-0.5f);
                blk[o1] = (uint8_t)d, blk[o1 + 1] = (uint8_t)(d >> 8);
                if (o2 >= 0) blk[o2] = (uint8_t)m, blk[o2 + 1] = (uint8_t)(m >> 8);
                if (type == CB_KTYPE_Q4_K || type == CB_KTYPE_Q5_K) {
                    /* sub-block j: scale and min at 0, 63 or a mix, through both packing paths */
                    uint8_t ls[8], lm[8];
                    for (int j = 0; j < 8; j++) {
                        ls[j] = pat == 3 ? 0 : (uint8_t)((j + b) % 2 ? 63 : j * 9);
                        lm[j] = pat == 3 ? 0 : (uint8_t)((j + b) % 3 ? 63 - j : 0);
                    }
                    cb_kq_pack_scales(ls, lm, blk + 4);
                }
                if (type == CB_KTYPE_Q6_K)
                    for (int g = 0; g < 16; g++)
                        blk[192 + g] = (uint8_t)(int8_t)(pat == 3 ? 0 : g % 3 == 0 ? -128 : g % 3 == 1 ? 127 : g - 8);
            }
            check_row(type, row, 8, "hand-made");
            /* the same blocks one byte further on: the device reads unaligned rows byte by byte */
            memmove(row + 1, row, 8 * (size_t)bb);
            check_row(type, row + 1, 8, "hand-made, unaligned");
        }
    }
}

/* The reference models' tensors: llama-quantize's own codes and scales. */
Test(dequant, reference_model_tensors_bit_exact) {
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir || !*dir) cr_skip_test("CAPBENCH_SHARED_DIR is not set");
    const char *models[] = {"qwen2-q4_0", "qwen2-q4_k_m", "qwen2-q6_k"};
    int n_checked = 0;
    for (int mi = 0; mi < 3; mi++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/reference/archs/%s.gguf", dir, models[mi]);
        FILE *f = fopen(path, "rb");
        if (!f) cr_skip_test("%s is absent", path);
        fclose(f);
        cb_gguf *g = NULL;
        cb_err err;
        cb_err_clear(&err);
        cr_assert_eq(cb_gguf_open(path, &g, &err), 0, "%s", err.msg);
        for (uint64_t i = 0; i < cb_gguf_n_tensors(g); i++) {
            const cb_gguf_tensor *t = cb_gguf_tensor_at(g, i);
            if (!cb_dq_block_elems(t->type)) continue;
            const size_t rb = cb_row_bytes(t->type, (int64_t)t->ne[0]);
            const int64_t nb = (int64_t)t->ne[0] / cb_dq_block_elems(t->type);
            for (uint64_t r = 0; r < t->n_elems / t->ne[0]; r++)
                check_row(t->type, (const uint8_t *)t->data + r * rb, nb, t->name);
            n_checked++;
        }
        cb_gguf_free(g);
    }
    cr_log_info("%d quantized tensors of the reference models decode identically", n_checked);
    cr_expect_gt(n_checked, 20);
}
