/* kernels/cpu/quant.c — the GGUF block formats Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
 * Q5_K and Q6_K: block sizes, K-quant scale packing, dequantization, our
 * weight quantizers, and the Q8_0/Q8_1/Q8_K activation quantizers the
 * quantized matmul uses. Layouts are written out in kernels.h next to the
 * block structs.
 *
 * Weight quantizers (round to nearest, the format's scale choice; no search):
 *   Q4_0 / Q5_0: per 32, max = the element of largest |x|; d = max / -8
 *     (Q5_0: -16), q = trunc(x/d + 8.5) (16.5) clamped to 15 (31). The
 *     largest magnitude maps to code 0, so the full signed range is used.
 *   Q4_1 / Q5_1: per 32, d = (max - min) / 15 (31), m = min,
 *     q = trunc((x - min)/d + 0.5) clamped to 15 (31).
 *   Q4_K / Q5_K: per sub-block of 32, min' = min(0, min x), scale =
 *     (max x - min') / 15 (31); per super-block d = max scale / 63, dmin =
 *     max(-min') / 63 (fp16), 6-bit codes ls = rint(scale / d), lm =
 *     rint(-min' / dmin); then q = clamp(rint((x + dmin*lm) / (d*ls))).
 *   Q6_K: per sub-block of 16, scale = (element of largest |x|) / -32; per
 *     super-block iscale = -128 / (scale of largest |scale|), d = 1/iscale
 *     (fp16), ls = min(127, rint(iscale * scale)), q = clamp(rint(x /
 *     (d*ls)), -32, 31) + 32.
 * llama.cpp's quantizer instead searches scales that minimize the error
 * (make_qkx2_quants / make_qx_quants), so its codes differ; every file either
 * writes decodes the same way.
 *
 * Not here: the dot products (matmul_q.c, matmul_q_avx2.c).
 */
#include "kernels/kernels.h"
#include "kernels/cpu/cpu_internal.h"

#include <assert.h>
#include <math.h>
#include <string.h>

_Static_assert(sizeof(cb_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(cb_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(cb_block_q5_0) == 22, "Q5_0 block is 22 bytes");
_Static_assert(sizeof(cb_block_q5_1) == 24, "Q5_1 block is 24 bytes");
_Static_assert(sizeof(cb_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(cb_block_q8_1) == 36, "Q8_1 block is 36 bytes");
_Static_assert(sizeof(cb_block_q4_k) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(cb_block_q5_k) == 176, "Q5_K block is 176 bytes");
_Static_assert(sizeof(cb_block_q6_k) == 210, "Q6_K block is 210 bytes");
_Static_assert(sizeof(cb_block_q8_k) == 292, "Q8_K block is 292 bytes");

int64_t cb_type_block_elems(uint32_t type) {
    switch (type) {
    case CB_KTYPE_F32: case CB_KTYPE_F16: case CB_KTYPE_BF16: return 1;
    case CB_KTYPE_Q4_0: case CB_KTYPE_Q4_1: case CB_KTYPE_Q5_0: case CB_KTYPE_Q5_1:
    case CB_KTYPE_Q8_0: case CB_KTYPE_Q8_1: return 32;
    case CB_KTYPE_Q4_K: case CB_KTYPE_Q5_K: case CB_KTYPE_Q6_K: case CB_KTYPE_Q8_K: return CB_QK_K;
    default: return 0;
    }
}

size_t cb_type_block_bytes(uint32_t type) {
    switch (type) {
    case CB_KTYPE_F32: return 4;
    case CB_KTYPE_F16: case CB_KTYPE_BF16: return 2;
    case CB_KTYPE_Q4_0: return sizeof(cb_block_q4_0);
    case CB_KTYPE_Q4_1: return sizeof(cb_block_q4_1);
    case CB_KTYPE_Q5_0: return sizeof(cb_block_q5_0);
    case CB_KTYPE_Q5_1: return sizeof(cb_block_q5_1);
    case CB_KTYPE_Q8_0: return sizeof(cb_block_q8_0);
    case CB_KTYPE_Q8_1: return sizeof(cb_block_q8_1);
    case CB_KTYPE_Q4_K: return sizeof(cb_block_q4_k);
    case CB_KTYPE_Q5_K: return sizeof(cb_block_q5_k);
    case CB_KTYPE_Q6_K: return sizeof(cb_block_q6_k);
    case CB_KTYPE_Q8_K: return sizeof(cb_block_q8_k);
    default: return 0;
    }
}

size_t cb_row_bytes(uint32_t type, int64_t K) {
    int64_t be = cb_type_block_elems(type);
    if (K < 0 || be == 0 || K % be) return 0;
    return (size_t)(K / be) * cb_type_block_bytes(type);
}

/* ---- K-quant scales --------------------------------------------------------- */

void cb_kq_pack_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t scales[12]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = ls[j] & 63;
        scales[j + 4] = lm[j] & 63;
    }
    for (int j = 4; j < 8; j++) {
        scales[j + 4] = (uint8_t)((ls[j] & 15) | (lm[j] & 15) << 4);
        scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
}

void cb_kq_scale_min(const uint8_t scales[12], int j, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4);
        *m = (uint8_t)((scales[j + 4] >> 4) | (scales[j] >> 6) << 4);
    }
}

/* ---- dequantization ------------------------------------------------------------ */

static uint32_t qh_u32(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* Code of element e (0..255) of a Q6_K block. */
static int q6k_code(const cb_block_q6_k *b, int e) {
    int h = e / 128, r = e % 128, i = r / 32, l = r % 32;
    uint8_t lo = b->ql[64 * h + l + 32 * (i & 1)];
    int low4 = i < 2 ? (lo & 15) : (lo >> 4);
    int high2 = (b->qh[32 * h + l] >> (2 * i)) & 3;
    return low4 | high2 << 4;
}

static void dequant_blocks(uint32_t type, const void *row, float *out, int64_t nb) {
    switch (type) {
    case CB_KTYPE_Q4_0:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q4_0 *b = (const cb_block_q4_0 *)row + i;
            float d = cb_fp16_to_fp32(b->d), *o = out + 32 * i;
            for (int j = 0; j < 16; j++) {
                o[j] = d * (float)((b->qs[j] & 15) - 8);
                o[j + 16] = d * (float)((b->qs[j] >> 4) - 8);
            }
        }
        return;
    case CB_KTYPE_Q4_1:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q4_1 *b = (const cb_block_q4_1 *)row + i;
            float d = cb_fp16_to_fp32(b->d), m = cb_fp16_to_fp32(b->m), *o = out + 32 * i;
            for (int j = 0; j < 16; j++) {
                o[j] = d * (float)(b->qs[j] & 15) + m;
                o[j + 16] = d * (float)(b->qs[j] >> 4) + m;
            }
        }
        return;
    case CB_KTYPE_Q5_0:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q5_0 *b = (const cb_block_q5_0 *)row + i;
            float d = cb_fp16_to_fp32(b->d), *o = out + 32 * i;
            uint32_t qh = qh_u32(b->qh);
            for (int j = 0; j < 16; j++) {
                int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
                int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                o[j] = d * (float)(lo - 16);
                o[j + 16] = d * (float)(hi - 16);
            }
        }
        return;
    case CB_KTYPE_Q5_1:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q5_1 *b = (const cb_block_q5_1 *)row + i;
            float d = cb_fp16_to_fp32(b->d), m = cb_fp16_to_fp32(b->m), *o = out + 32 * i;
            uint32_t qh = qh_u32(b->qh);
            for (int j = 0; j < 16; j++) {
                int lo = (b->qs[j] & 15) | (int)((qh >> j) & 1) << 4;
                int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                o[j] = d * (float)lo + m;
                o[j + 16] = d * (float)hi + m;
            }
        }
        return;
    case CB_KTYPE_Q4_K:
    case CB_KTYPE_Q5_K:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q4_k *b4 = (const cb_block_q4_k *)row + i;
            const cb_block_q5_k *b5 = (const cb_block_q5_k *)row + i;
            int five = type == CB_KTYPE_Q5_K;
            const uint16_t dd = five ? b5->d : b4->d, dm = five ? b5->dmin : b4->dmin;
            const uint8_t *scales = five ? b5->scales : b4->scales, *qs = five ? b5->qs : b4->qs;
            float d = cb_fp16_to_fp32(dd), dmin = cb_fp16_to_fp32(dm), *o = out + CB_QK_K * i;
            for (int c = 0; c < 4; c++) {
                for (int half = 0; half < 2; half++) {
                    uint8_t sc, m;
                    cb_kq_scale_min(scales, 2 * c + half, &sc, &m);
                    float d1 = d * (float)sc, m1 = dmin * (float)m;
                    for (int l = 0; l < 32; l++) {
                        uint8_t byte = qs[32 * c + l];
                        int q = half ? byte >> 4 : byte & 15;
                        if (five) q |= ((b5->qh[l] >> (2 * c + half)) & 1) << 4;
                        o[64 * c + 32 * half + l] = d1 * (float)q - m1;
                    }
                }
            }
        }
        return;
    case CB_KTYPE_Q6_K:
        for (int64_t i = 0; i < nb; i++) {
            const cb_block_q6_k *b = (const cb_block_q6_k *)row + i;
            float d = cb_fp16_to_fp32(b->d), *o = out + CB_QK_K * i;
            for (int e = 0; e < CB_QK_K; e++) o[e] = d * (float)b->scales[e / 16] * (float)(q6k_code(b, e) - 32);
        }
        return;
    default: assert(!"cb_dequantize_row: unsupported type"); return;
    }
}

void cb_dequantize_row(uint32_t type, const void *row, float *out, int64_t K) {
    switch (type) {
    case CB_KTYPE_F32: memcpy(out, row, (size_t)K * sizeof(float)); return;
    case CB_KTYPE_F16: {
        const uint16_t *h = row;
        for (int64_t k = 0; k < K; k++) out[k] = cb_fp16_to_fp32(h[k]);
        return;
    }
    case CB_KTYPE_BF16: {
        const uint16_t *h = row;
        for (int64_t k = 0; k < K; k++) out[k] = cb_bf16_to_fp32(h[k]);
        return;
    }
    case CB_KTYPE_Q8_0: {
        assert(K % CB_QK8_0 == 0);
        const cb_block_q8_0 *b = row;
        for (int64_t i = 0; i < K / CB_QK8_0; i++) {
            float d = cb_fp16_to_fp32(b[i].d);
            for (int j = 0; j < CB_QK8_0; j++) out[i * CB_QK8_0 + j] = d * (float)b[i].qs[j];
        }
        return;
    }
    default: {
        int64_t be = cb_type_block_elems(type);
        assert(be > 1 && K % be == 0);
        if (be <= 1) return;
        dequant_blocks(type, row, out, K / be);
        return;
    }
    }
}

/* ---- weight quantizers ------------------------------------------------------------ */

/* Index of the element of largest |x| (the first on ties). */
static int argmax_abs(const float *x, int n) {
    int best = 0;
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), best = i;
    return best;
}

/* Q4_0 (nmax 8, bits 4) and Q5_0 (nmax 16, bits 5): per block, codes q[32]
 * and the fp16 scale. */
static uint16_t quant_sym32(const float *x, int nmax, uint8_t q[32]) {
    float max = x[argmax_abs(x, 32)];
    float d = max / (float)-nmax, id = d != 0.0f ? 1.0f / d : 0.0f;
    int top = 2 * nmax - 1;
    for (int j = 0; j < 32; j++) {
        int v = (int)(x[j] * id + ((float)nmax + 0.5f));
        q[j] = (uint8_t)(v > top ? top : v < 0 ? 0 : v);
    }
    return cb_fp32_to_fp16(d);
}

/* Q4_1 (top 15) and Q5_1 (top 31): codes, fp16 scale and min. */
static void quant_asym32(const float *x, int top, uint8_t q[32], uint16_t *d_out, uint16_t *m_out) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; j++) {
        if (x[j] < mn) mn = x[j];
        if (x[j] > mx) mx = x[j];
    }
    float d = (mx - mn) / (float)top, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) {
        int v = (int)((x[j] - mn) * id + 0.5f);
        q[j] = (uint8_t)(v > top ? top : v < 0 ? 0 : v);
    }
    *d_out = cb_fp32_to_fp16(d);
    *m_out = cb_fp32_to_fp16(mn);
}

static void pack_nibbles(const uint8_t q[32], uint8_t qs[16]) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
}

static void pack_qh(const uint8_t q[32], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < 32; j++) h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Q4_K (top 15) / Q5_K (top 31): d, dmin, packed scales and 256 codes. */
static void quant_kq(const float *x, int top, uint16_t *d_out, uint16_t *dmin_out, uint8_t scales[12],
                     uint8_t q[CB_QK_K]) {
    float scale[8], negmin[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float mn = 0.0f, mx = xs[0];
        for (int l = 0; l < 32; l++) {
            if (xs[l] < mn) mn = xs[l];
            if (xs[l] > mx) mx = xs[l];
        }
        scale[j] = mx > mn ? (mx - mn) / (float)top : 0.0f;
        negmin[j] = -mn;
        if (scale[j] > max_scale) max_scale = scale[j];
        if (negmin[j] > max_min) max_min = negmin[j];
    }
    uint16_t dh = cb_fp32_to_fp16(max_scale / 63.0f), mh = cb_fp32_to_fp16(max_min / 63.0f);
    float d = cb_fp16_to_fp32(dh), dmin = cb_fp16_to_fp32(mh);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)(d > 0.0f ? clampi((int)rintf(scale[j] / d), 0, 63) : 0);
        lm[j] = (uint8_t)(dmin > 0.0f ? clampi((int)rintf(negmin[j] / dmin), 0, 63) : 0);
        float dd = d * (float)ls[j], dm = dmin * (float)lm[j];
        for (int l = 0; l < 32; l++) {
            int v = dd > 0.0f ? (int)rintf((x[32 * j + l] + dm) / dd) : 0;
            q[32 * j + l] = (uint8_t)clampi(v, 0, top);
        }
    }
    cb_kq_pack_scales(ls, lm, scales);
    *d_out = dh;
    *dmin_out = mh;
}

static void quant_q6k(const float *x, cb_block_q6_k *b) {
    float scale[16];
    int big = 0;
    for (int g = 0; g < 16; g++) {
        scale[g] = x[16 * g + argmax_abs(x + 16 * g, 16)] / -32.0f;
        if (fabsf(scale[g]) > fabsf(scale[big])) big = g;
    }
    memset(b, 0, sizeof *b);
    if (scale[big] == 0.0f) {
        /* all zero: codes 32 (value 0) with zero scales */
        for (int e = 0; e < CB_QK_K; e++) {
            int h = e / 128, r = e % 128, i = r / 32, l = r % 32;
            b->qh[32 * h + l] |= (uint8_t)(2 << (2 * i));
        }
        return;
    }
    float iscale = -128.0f / scale[big];
    b->d = cb_fp32_to_fp16(1.0f / iscale);
    float d = cb_fp16_to_fp32(b->d);
    for (int g = 0; g < 16; g++) b->scales[g] = (int8_t)clampi((int)rintf(iscale * scale[g]), -128, 127);
    for (int e = 0; e < CB_QK_K; e++) {
        float dd = d * (float)b->scales[e / 16];
        int q = dd != 0.0f ? clampi((int)rintf(x[e] / dd), -32, 31) + 32 : 32;
        int h = e / 128, r = e % 128, i = r / 32, l = r % 32;
        uint8_t *lo = &b->ql[64 * h + l + 32 * (i & 1)];
        *lo |= (uint8_t)(i < 2 ? (q & 15) : (q & 15) << 4);
        b->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * i));
    }
}

void cb_quantize_row(uint32_t type, const float *x, void *out, int64_t n) {
    int64_t be = cb_type_block_elems(type);
    assert(be > 0 && n % be == 0);
    if (be <= 0) return;
    int64_t nb = n / be;
    uint8_t q[CB_QK_K];
    switch (type) {
    case CB_KTYPE_F32: memcpy(out, x, (size_t)n * sizeof(float)); return;
    case CB_KTYPE_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = cb_fp32_to_fp16(x[i]);
        return;
    case CB_KTYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = cb_fp32_to_bf16(x[i]);
        return;
    case CB_KTYPE_Q8_0: cb_quantize_q8_0(x, out, n); return;
    case CB_KTYPE_Q4_0:
        for (int64_t i = 0; i < nb; i++) {
            cb_block_q4_0 *b = (cb_block_q4_0 *)out + i;
            b->d = quant_sym32(x + 32 * i, 8, q);
            pack_nibbles(q, b->qs);
        }
        return;
    case CB_KTYPE_Q5_0:
        for (int64_t i = 0; i < nb; i++) {
            cb_block_q5_0 *b = (cb_block_q5_0 *)out + i;
            b->d = quant_sym32(x + 32 * i, 16, q);
            pack_nibbles(q, b->qs);
            pack_qh(q, b->qh);
        }
        return;
    case CB_KTYPE_Q4_1:
        for (int64_t i = 0; i < nb; i++) {
            cb_block_q4_1 *b = (cb_block_q4_1 *)out + i;
            quant_asym32(x + 32 * i, 15, q, &b->d, &b->m);
            pack_nibbles(q, b->qs);
        }
        return;
    case CB_KTYPE_Q5_1:
        for (int64_t i = 0; i < nb; i++) {
            cb_block_q5_1 *b = (cb_block_q5_1 *)out + i;
            quant_asym32(x + 32 * i, 31, q, &b->d, &b->m);
            pack_nibbles(q, b->qs);
            pack_qh(q, b->qh);
        }
        return;
    case CB_KTYPE_Q4_K:
    case CB_KTYPE_Q5_K:
        for (int64_t i = 0; i < nb; i++) {
            const float *xb = x + CB_QK_K * i;
            uint8_t *qs;
            if (type == CB_KTYPE_Q4_K) {
                cb_block_q4_k *b = (cb_block_q4_k *)out + i;
                quant_kq(xb, 15, &b->d, &b->dmin, b->scales, q);
                qs = b->qs;
            } else {
                cb_block_q5_k *b = (cb_block_q5_k *)out + i;
                quant_kq(xb, 31, &b->d, &b->dmin, b->scales, q);
                qs = b->qs;
                memset(b->qh, 0, sizeof b->qh);
                for (int c = 0; c < 4; c++)
                    for (int l = 0; l < 32; l++) {
                        b->qh[l] |= (uint8_t)(((q[64 * c + l] >> 4) & 1) << (2 * c));
                        b->qh[l] |= (uint8_t)(((q[64 * c + 32 + l] >> 4) & 1) << (2 * c + 1));
                    }
            }
            for (int c = 0; c < 4; c++)
                for (int l = 0; l < 32; l++)
                    qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
        }
        return;
    case CB_KTYPE_Q6_K:
        for (int64_t i = 0; i < nb; i++) quant_q6k(x + CB_QK_K * i, (cb_block_q6_k *)out + i);
        return;
    default: assert(!"cb_quantize_row: unsupported type"); return;
    }
}

/* ---- activation quantizers ------------------------------------------------------ */

/* One Q8_0/Q8_1 block: codes and the float scale; returns sum of codes. */
static int quant_act32(const float *x, int8_t qs[32], float *d_out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        int v = (int)rintf(x[j] * id);
        qs[j] = (int8_t)v;
        sum += v;
    }
    *d_out = d;
    return sum;
}

void cb_quantize_act(uint32_t atype, const float *x, void *out, int64_t n) {
    switch (atype) {
    case CB_KTYPE_Q8_0:
        assert(n % 32 == 0);
        for (int64_t i = 0; i < n / 32; i++) {
            cb_block_q8_0 *b = (cb_block_q8_0 *)out + i;
            float d;
            quant_act32(x + 32 * i, b->qs, &d);
            b->d = cb_fp32_to_fp16(d);
        }
        return;
    case CB_KTYPE_Q8_1:
        assert(n % 32 == 0);
        for (int64_t i = 0; i < n / 32; i++) {
            cb_block_q8_1 *b = (cb_block_q8_1 *)out + i;
            float d;
            int sum = quant_act32(x + 32 * i, b->qs, &d);
            b->d = cb_fp32_to_fp16(d);
            b->s = cb_fp32_to_fp16(d * (float)sum);
        }
        return;
    case CB_KTYPE_Q8_K:
        assert(n % CB_QK_K == 0);
        for (int64_t i = 0; i < n / CB_QK_K; i++) {
            cb_block_q8_k *b = (cb_block_q8_k *)out + i;
            const float *xb = x + CB_QK_K * i;
            float max = xb[argmax_abs(xb, CB_QK_K)];
            memset(b, 0, sizeof *b);
            if (max == 0.0f) continue;
            float iscale = -127.0f / max;
            for (int j = 0; j < CB_QK_K; j++) {
                int v = (int)rintf(iscale * xb[j]);
                b->qs[j] = (int8_t)(v > 127 ? 127 : v);
            }
            for (int g = 0; g < CB_QK_K / 16; g++) {
                int s = 0;
                for (int j = 0; j < 16; j++) s += b->qs[16 * g + j];
                b->bsums[g] = (int16_t)s;
            }
            b->d = 1.0f / iscale;
        }
        return;
    default: assert(!"cb_quantize_act: not an activation type"); return;
    }
}

uint32_t cb_act_type(uint32_t wtype) {
    switch (wtype) {
    case CB_KTYPE_Q4_0: case CB_KTYPE_Q5_0: return CB_KTYPE_Q8_0;
    case CB_KTYPE_Q4_1: case CB_KTYPE_Q5_1: return CB_KTYPE_Q8_1;
    case CB_KTYPE_Q4_K: case CB_KTYPE_Q5_K: case CB_KTYPE_Q6_K: return CB_KTYPE_Q8_K;
    default: return CB_KTYPE_F32;
    }
}
