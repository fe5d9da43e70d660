/* kernels/dequant.h — the dequantization of the 4/5/6-bit weight blocks as
 * one source for the host and the device: `static inline` functions that
 * the C compiler builds for the CPU tests and nvcc builds for both sides
 * (CB_HD marks them __host__ __device__ there). The CUDA kernel set reads its
 * quantized weights through these (kernels/cuda/cuda_ctx.cu: the
 * matrix-vector kernel, the dequantization to F16 before cuBLAS, the
 * embedding lookup); tests/kernels/test_dequant.c runs the same functions on
 * hand-made and random blocks and compares them bit for bit with the CPU
 * engine's cb_dequantize_row (kernels/cpu/quant.c), which is written apart.
 *
 * Block layouts are GGUF's (written out in kernels/kernels.h). The reads are
 * byte by byte, fp16 fields included: an 18- or 22-byte block is not 2-byte
 * aligned in a row, and the device faults on a misaligned 16-bit load.
 *
 * Exactness: every value is d*q (fp16 d, at most 24 significant bits in all:
 * d 11, a K-quant sub-block scale 6-7, the code 4-6) plus at most one add
 * (Q4_1/Q5_1 min, Q4_K/Q5_K dmin * m, itself exact). The products are exact
 * in fp32, so the result is the exact value rounded once, whatever the
 * evaluation order and whether a compiler fuses the add into an FMA (nvcc
 * does by default): host and device agree to the bit.
 *
 * Not here: the quantizers, the dot products with quantized activations (the
 * CPU's kernels/cpu/matmul_q*.c), F32/F16/BF16/Q8_0 (read directly).
 */
#ifndef CB_DEQUANT_H
#define CB_DEQUANT_H

#include "kernels/kernels.h"

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define CB_HD __host__ __device__
#else
#define CB_HD
#endif

/* Elements and bytes per block of a type these functions decode (Q4_0,
 * Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); 0 for any other type. */
CB_HD static inline int cb_dq_block_elems(uint32_t type) {
    switch (type) {
    case CB_KTYPE_Q4_0: case CB_KTYPE_Q4_1: case CB_KTYPE_Q5_0: case CB_KTYPE_Q5_1: return 32;
    case CB_KTYPE_Q4_K: case CB_KTYPE_Q5_K: case CB_KTYPE_Q6_K: return 256;
    default: return 0;
    }
}
CB_HD static inline int cb_dq_block_bytes(uint32_t type) {
    switch (type) {
    case CB_KTYPE_Q4_0: return 18;
    case CB_KTYPE_Q4_1: return 20;
    case CB_KTYPE_Q5_0: return 22;
    case CB_KTYPE_Q5_1: return 24;
    case CB_KTYPE_Q4_K: return 144;
    case CB_KTYPE_Q5_K: return 176;
    case CB_KTYPE_Q6_K: return 210;
    default: return 0;
    }
}

/* fp16 bits -> fp32, exact for every input (normal: exponent rebiased;
 * zero/subnormal: man * 2^-24; inf/NaN: payload moved up). */
CB_HD static inline float cb_dq_half(const uint8_t *p) {
    uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t sign = (h & 0x8000u) << 16, em = h & 0x7fffu, e = em >> 10;
    float mag;
    if (e == 0) {
        mag = (float)em * 0x1p-24f;
    } else {
        uint32_t u = e == 31 ? ((em << 13) | 0x7f800000u) : ((em << 13) + (112u << 23));
        memcpy(&mag, &u, sizeof mag);
    }
    return sign ? -mag : mag;
}

/* Q4_K/Q5_K sub-block j (0..7): 6-bit scale and min from the 12 packed bytes
 * (the packing of cb_kq_pack_scales in kernels.h). */
CB_HD static inline void cb_dq_scale_min(const uint8_t *scales, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
        *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

/* out[0..15] = elements k .. k+15 of a row of `type` (k % 16 == 0; row points
 * at the row's first block). A group of 16 never crosses a block, and shares
 * one scale (and min) in every type. */
CB_HD static inline void cb_dq16(uint32_t type, const uint8_t *row, int64_t k, float out[16]) {
    const int be = cb_dq_block_elems(type);
    const uint8_t *b = row + (k / be) * cb_dq_block_bytes(type);
    const int e0 = (int)(k % be); /* first element of the group within the block */
    switch (type) {
    case CB_KTYPE_Q4_0:
    case CB_KTYPE_Q5_0: {
        const int q5 = type == CB_KTYPE_Q5_0;
        const uint8_t *qs = b + (q5 ? 6 : 2);
        const uint32_t qh = q5 ? ((uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24)
                               : 0u;
        const float d = cb_dq_half(b);
        for (int i = 0; i < 16; i++) {
            const int e = e0 + i;
            int q = e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4);
            q |= (int)((qh >> e) & 1u) << 4;
            out[i] = d * (float)(q - (q5 ? 16 : 8));
        }
        return;
    }
    case CB_KTYPE_Q4_1:
    case CB_KTYPE_Q5_1: {
        const int q5 = type == CB_KTYPE_Q5_1;
        const uint8_t *qs = b + (q5 ? 8 : 4);
        const uint32_t qh = q5 ? ((uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24)
                               : 0u;
        const float d = cb_dq_half(b), m = cb_dq_half(b + 2);
        for (int i = 0; i < 16; i++) {
            const int e = e0 + i;
            int q = e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4);
            q |= (int)((qh >> e) & 1u) << 4;
            out[i] = d * (float)q + m;
        }
        return;
    }
    case CB_KTYPE_Q4_K:
    case CB_KTYPE_Q5_K: {
        const int q5 = type == CB_KTYPE_Q5_K;
        const uint8_t *qh = b + 16, *qs = b + (q5 ? 48 : 16);
        const int c = e0 / 64, half = (e0 % 64) / 32, l0 = e0 % 32, j = 2 * c + half;
        int sc, mn;
        cb_dq_scale_min(b + 4, j, &sc, &mn);
        const float d = cb_dq_half(b) * (float)sc, dm = cb_dq_half(b + 2) * (float)mn;
        for (int i = 0; i < 16; i++) {
            const int l = l0 + i;
            int q = half ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 15);
            if (q5) q |= ((qh[l] >> j) & 1) << 4;
            out[i] = d * (float)q - dm;
        }
        return;
    }
    case CB_KTYPE_Q6_K: {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t sc = (int8_t)b[192 + e0 / 16];
        const float d = cb_dq_half(b + 208) * (float)sc;
        const int h = e0 / 128, r = e0 % 128, g = r / 32, l0 = r % 32;
        for (int i = 0; i < 16; i++) {
            const int l = l0 + i;
            const uint8_t lo = ql[64 * h + l + 32 * (g & 1)];
            const int q = (g < 2 ? (lo & 15) : (lo >> 4)) | ((qh[32 * h + l] >> (2 * g)) & 3) << 4;
            out[i] = d * (float)(q - 32);
        }
        return;
    }
    default:
        for (int i = 0; i < 16; i++) out[i] = 0.0f;
        return;
    }
}

#endif
