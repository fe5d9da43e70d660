/* kernels/cpu/matmul_q.c — portable dot products of the quantized weight
 * types (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) with activations already
 * quantized to Q8_0 / Q8_1 / Q8_K (cb_act_type), and the row worker that
 * matmul.c dispatches to.
 *
 * Per block the integer dot product is exact (int32; the bounds are noted at
 * each type), then one shared float step (cpu_internal.h, cb_qacc_*) adds
 * the block to the row's running sum in block order. matmul_q_avx2.c
 * computes the same integers with SIMD and the same float steps, so both
 * kernel sets give bit-identical results. K-quant integer forms:
 *   Q4_K/Q5_K: isum = sum_j sc_j * sum_{e in j} q_e a_e,
 *              imin = sum_j m_j * (bsums[2j] + bsums[2j+1])
 *              block = d_x*d*isum - d_x*dmin*imin
 *   Q6_K:      isum = sum_g sc_g * sum_{e in g} q_e a_e - 32 * sum_g sc_g * bsums[g]
 *              (sub-block g of 16 is exactly Q8_K's bsums group g)
 */
#include "kernels/kernels.h"
#include "kernels/cpu/cpu_internal.h"

/* |sum| <= 32 * 16 * 127 for Q4_0/Q5_0 (codes - 8 or - 16), 32 * 31 * 127 for Q4_1/Q5_1 */
static int32_t idot32(const uint8_t q[32], int off, const int8_t a[32]) {
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += ((int32_t)q[j] - off) * a[j];
    return s;
}

static void codes_q4(const uint8_t qs[16], uint8_t q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
    }
}

static void codes_q5(const uint8_t qs[16], const uint8_t qh[4], uint8_t q[32]) {
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    codes_q4(qs, q);
    for (int j = 0; j < 32; j++) q[j] |= (uint8_t)(((h >> j) & 1) << 4);
}

/* Q4_K / Q5_K super-block: isum (|.| <= 8 * 63 * 32 * 31 * 127 < 2^31) and imin. */
static void idot_kq(const uint8_t scales[12], const uint8_t qs[128], const uint8_t *qh,
                    const cb_block_q8_k *a, int32_t *isum, int32_t *imin) {
    int32_t s = 0, m = 0;
    for (int c = 0; c < 4; c++) {
        for (int half = 0; half < 2; half++) {
            uint8_t sc, mn;
            cb_kq_scale_min(scales, 2 * c + half, &sc, &mn);
            const int8_t *ax = a->qs + 64 * c + 32 * half;
            int32_t p = 0;
            for (int l = 0; l < 32; l++) {
                int q = half ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15;
                if (qh) q |= ((qh[l] >> (2 * c + half)) & 1) << 4;
                p += q * ax[l];
            }
            s += (int32_t)sc * p;
            int j = 2 * c + half;
            m += (int32_t)mn * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
        }
    }
    *isum = s;
    *imin = m;
}

/* Q6_K super-block (|.| <= 16 * 127 * 16 * 63 * 127 + 32 * 16 * 127 * 2032 < 2^31). */
static int32_t idot_q6k(const cb_block_q6_k *b, const cb_block_q8_k *a) {
    int32_t s = 0, off = 0;
    for (int g = 0; g < 16; g++) {
        int32_t p = 0;
        for (int k = 0; k < 16; k++) {
            int e = 16 * g + k, h = e / 128, r = e % 128, i = r / 32, l = r % 32;
            uint8_t lo = b->ql[64 * h + l + 32 * (i & 1)];
            int q = (i < 2 ? (lo & 15) : (lo >> 4)) | ((b->qh[32 * h + l] >> (2 * i)) & 3) << 4;
            p += q * a->qs[e];
        }
        s += (int32_t)b->scales[g] * p;
        off += (int32_t)b->scales[g] * a->bsums[g];
    }
    return s - 32 * off;
}

/* One output: row (nb blocks of wtype) . x (nb blocks of the activation type). */
static float dot_row(uint32_t wt, const void *row, const void *x, int64_t nb) {
    float s = 0.0f;
    uint8_t q[32];
    for (int64_t i = 0; i < nb; i++) {
        switch (wt) {
        case CB_KTYPE_Q4_0: {
            const cb_block_q4_0 *b = (const cb_block_q4_0 *)row + i;
            const cb_block_q8_0 *a = (const cb_block_q8_0 *)x + i;
            codes_q4(b->qs, q);
            s = cb_qacc_d_fma(s, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(a->d), idot32(q, 8, a->qs));
            break;
        }
        case CB_KTYPE_Q5_0: {
            const cb_block_q5_0 *b = (const cb_block_q5_0 *)row + i;
            const cb_block_q8_0 *a = (const cb_block_q8_0 *)x + i;
            codes_q5(b->qs, b->qh, q);
            s = cb_qacc_d(s, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(a->d), idot32(q, 16, a->qs));
            break;
        }
        case CB_KTYPE_Q4_1: {
            const cb_block_q4_1 *b = (const cb_block_q4_1 *)row + i;
            const cb_block_q8_1 *a = (const cb_block_q8_1 *)x + i;
            codes_q4(b->qs, q);
            s = cb_qacc_dm(s, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(a->d), idot32(q, 0, a->qs),
                           cb_fp16_to_fp32_fast(b->m), cb_fp16_to_fp32_fast(a->s));
            break;
        }
        case CB_KTYPE_Q5_1: {
            const cb_block_q5_1 *b = (const cb_block_q5_1 *)row + i;
            const cb_block_q8_1 *a = (const cb_block_q8_1 *)x + i;
            codes_q5(b->qs, b->qh, q);
            s = cb_qacc_dm(s, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(a->d), idot32(q, 0, a->qs),
                           cb_fp16_to_fp32_fast(b->m), cb_fp16_to_fp32_fast(a->s));
            break;
        }
        case CB_KTYPE_Q4_K: {
            const cb_block_q4_k *b = (const cb_block_q4_k *)row + i;
            const cb_block_q8_k *a = (const cb_block_q8_k *)x + i;
            int32_t is, im;
            idot_kq(b->scales, b->qs, NULL, a, &is, &im);
            s = cb_qacc_k(s, a->d, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(b->dmin), is, im);
            break;
        }
        case CB_KTYPE_Q5_K: {
            const cb_block_q5_k *b = (const cb_block_q5_k *)row + i;
            const cb_block_q8_k *a = (const cb_block_q8_k *)x + i;
            int32_t is, im;
            idot_kq(b->scales, b->qs, b->qh, a, &is, &im);
            s = cb_qacc_k(s, a->d, cb_fp16_to_fp32_fast(b->d), cb_fp16_to_fp32_fast(b->dmin), is, im);
            break;
        }
        case CB_KTYPE_Q6_K: {
            const cb_block_q6_k *b = (const cb_block_q6_k *)row + i;
            const cb_block_q8_k *a = (const cb_block_q8_k *)x + i;
            s = cb_qacc_d(s, cb_fp16_to_fp32_fast(b->d), a->d, idot_q6k(b, a));
            break;
        }
        default: return 0.0f;
        }
    }
    return s;
}

void cb_matmul_rows_q_portable(uint32_t wtype, const void *W, const void *xq, size_t xrb, float *y,
                               int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1) {
    size_t rb = cb_row_bytes(wtype, K);
    int64_t nb = K / cb_type_block_elems(wtype);
    for (int64_t n = n0; n < n1; n++) {
        const char *row = (const char *)W + (size_t)n * rb;
        for (int64_t t = 0; t < T; t++) y[t * N + n] = dot_row(wtype, row, (const char *)xq + (size_t)t * xrb, nb);
    }
}
