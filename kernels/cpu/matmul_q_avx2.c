/* kernels/cpu/matmul_q_avx2.c — AVX2 twins of matmul_q.c: integer block dot
 * products of Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K weights with Q8_0 /
 * Q8_1 / Q8_K activations (built with -mavx2 -mfma -mf16c; called only after
 * cb_cpu_has_avx2()).
 *
 * Integer part: codes are unpacked to one byte each, multiplied with the
 * int8 activations by maddubs (u8 x s8 pairs into int16, no saturation: at
 * most 2 * 63 * 127) and widened by madd into int32 lanes; the signed-code
 * types (Q4_0, Q5_0) take |q| and move q's sign onto the activation first.
 * K-quant sub-block scales are applied by madd in int16 x int16. Every sum
 * is exact, so the lane layout does not matter: the four rows of a group are
 * reduced to one int32 each with hadds, and the float step per block is the
 * same cb_qacc_* call the portable kernel makes — results are bit-identical
 * to matmul_q.c's.
 *
 * Tiling: 4 weight rows at a time (4 independent streams, software prefetch
 * of the next 4 rows while the first token passes); each token of the batch
 * runs over the group's rows, which stay in L1/L2 for the later tokens.
 */
#include "kernels/kernels.h"
#include "kernels/cpu/cpu_internal.h"

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)

/* int32 totals of a, b, c, d (8 lanes each) in lanes 0..3 */
static ALWAYS_INLINE __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
    __m256i abcd = _mm256_hadd_epi32(ab, cd);
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* 32 codes of a 16-byte nibble array: bytes 0..15 low nibbles, 16..31 high */
static ALWAYS_INLINE __m256i nibbles32(const uint8_t *qs) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* byte j = 16 when bit j of the little-endian u32 at qh is set, else 0 */
static ALWAYS_INLINE __m256i fifth_bits(const uint8_t *qh) {
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i sel = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), sel);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* sum of q[j] * a[j] over 32 bytes, q unsigned (<= 63) */
static ALWAYS_INLINE __m256i udot32(__m256i q, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, a), _mm256_set1_epi16(1));
}
/* the same for signed q (|q| <= 16) */
static ALWAYS_INLINE __m256i sdot32(__m256i q, __m256i a) {
    return udot32(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
}

/* Per-block results for one row: lanes to reduce, and the row's float scalars. */
typedef struct blk {
    __m256i p, pm; /* lanes of isum and (K-quants) imin */
    float dw, mw;
} blk;

/* The 8 six-bit scales (lanes 0..7) and mins (8..15) of a Q4_K/Q5_K block as
 * bytes, from its 12 packed bytes read as three little-endian u32 (see
 * cb_kq_pack_scales): sc[0..3] = s0 & 63 per byte, m[0..3] = s1 & 63,
 * sc[4..7] = (s2 & 15) | (s0 >> 6) << 4, m[4..7] = (s2 >> 4) | (s1 >> 6) << 4. */
static ALWAYS_INLINE __m128i kq_scales_mins(const uint8_t *p) {
    uint32_t s0, s1, s2;
    memcpy(&s0, p, 4);
    memcpy(&s1, p + 4, 4);
    memcpy(&s2, p + 8, 4);
    uint32_t sc_lo = s0 & 0x3f3f3f3fu, m_lo = s1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (s2 & 0x0f0f0f0fu) | ((s0 >> 6) & 0x03030303u) << 4;
    uint32_t m_hi = ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 6) & 0x03030303u) << 4;
    return _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)m_lo, (int)m_hi);
}

static ALWAYS_INLINE blk block_dot(uint32_t wt, const char *row, int64_t b, const char *xt) {
    blk r = {_mm256_setzero_si256(), _mm256_setzero_si256(), 0.0f, 0.0f};
    switch (wt) {
    case CB_KTYPE_Q4_0: {
        const cb_block_q4_0 *w = (const cb_block_q4_0 *)row + b;
        const cb_block_q8_0 *a = (const cb_block_q8_0 *)xt + b;
        __m256i q = _mm256_sub_epi8(nibbles32(w->qs), _mm256_set1_epi8(8));
        r.p = sdot32(q, _mm256_loadu_si256((const __m256i *)a->qs));
        r.dw = _cvtsh_ss(w->d);
        break;
    }
    case CB_KTYPE_Q5_0: {
        const cb_block_q5_0 *w = (const cb_block_q5_0 *)row + b;
        const cb_block_q8_0 *a = (const cb_block_q8_0 *)xt + b;
        __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits(w->qh));
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
        r.p = sdot32(q, _mm256_loadu_si256((const __m256i *)a->qs));
        r.dw = _cvtsh_ss(w->d);
        break;
    }
    case CB_KTYPE_Q4_1: {
        const cb_block_q4_1 *w = (const cb_block_q4_1 *)row + b;
        const cb_block_q8_1 *a = (const cb_block_q8_1 *)xt + b;
        r.p = udot32(nibbles32(w->qs), _mm256_loadu_si256((const __m256i *)a->qs));
        r.dw = _cvtsh_ss(w->d);
        r.mw = _cvtsh_ss(w->m);
        break;
    }
    case CB_KTYPE_Q5_1: {
        const cb_block_q5_1 *w = (const cb_block_q5_1 *)row + b;
        const cb_block_q8_1 *a = (const cb_block_q8_1 *)xt + b;
        __m256i q = _mm256_or_si256(nibbles32(w->qs), fifth_bits(w->qh));
        r.p = udot32(q, _mm256_loadu_si256((const __m256i *)a->qs));
        r.dw = _cvtsh_ss(w->d);
        r.mw = _cvtsh_ss(w->m);
        break;
    }
    case CB_KTYPE_Q4_K:
    case CB_KTYPE_Q5_K: {
        const int five = wt == CB_KTYPE_Q5_K;
        const cb_block_q4_k *w4 = (const cb_block_q4_k *)row + b;
        const cb_block_q5_k *w5 = (const cb_block_q5_k *)row + b;
        const cb_block_q8_k *a = (const cb_block_q8_k *)xt + b;
        const uint8_t *qs = five ? w5->qs : w4->qs;
        const __m128i sm = kq_scales_mins(five ? w5->scales : w4->scales);
        /* int16 scales in both 128-bit lanes; sub-block j's scale broadcast by a byte shuffle */
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const __m256i m4 = _mm256_set1_epi8(15);
        __m256i hb = five ? _mm256_loadu_si256((const __m256i *)w5->qh) : _mm256_setzero_si256();
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (five) {
                const __m256i one = _mm256_set1_epi8(1);
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
                hb = _mm256_srli_epi16(hb, 2);
            }
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(a->qs + 64 * c)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(a->qs + 64 * c + 32)));
            const __m256i pick_lo = _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * c)));
            const __m256i pick_hi = _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * c + 1)));
            plo = _mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc16, pick_lo));
            phi = _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc16, pick_hi));
            acc = _mm256_add_epi32(acc, _mm256_add_epi32(plo, phi));
        }
        /* imin = sum_j m_j * (bsums[2j] + bsums[2j+1]): mins doubled up as int16 pairs */
        __m128i m16 = _mm_cvtepu8_epi16(_mm_srli_si128(sm, 8));
        __m256i mm = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
        r.pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a->bsums), mm);
        r.p = acc;
        r.dw = _cvtsh_ss(five ? w5->d : w4->d);
        r.mw = _cvtsh_ss(five ? w5->dmin : w4->dmin);
        break;
    }
    case CB_KTYPE_Q6_K: {
        const cb_block_q6_k *w = (const cb_block_q6_k *)row + b;
        const cb_block_q8_k *a = (const cb_block_q8_k *)xt + b;
        const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * h + 32));
            __m256i hh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_and_si256(l0, m4);
            q[1] = _mm256_and_si256(l1, m4);
            q[2] = _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4);
            q[3] = _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4);
            for (int i = 0; i < 4; i++) {
                __m256i top = _mm256_and_si256(_mm256_srli_epi16(hh, 2 * i), m3);
                q[i] = _mm256_or_si256(q[i], _mm256_slli_epi16(top, 4));
                __m256i p = _mm256_maddubs_epi16(q[i], _mm256_loadu_si256((const __m256i *)(a->qs + 128 * h + 32 * i)));
                /* int16 lanes 0..7 cover bytes 0..15 (sub-block 8h+2i), 8..15 the next */
                const int g = 8 * h + 2 * i;
                __m256i s = _mm256_set_m128i(_mm_set1_epi16(w->scales[g + 1]), _mm_set1_epi16(w->scales[g]));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
            }
        }
        /* - 32 * sum_g sc_g * bsums[g] */
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
        __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)a->bsums), sc16);
        r.p = _mm256_sub_epi32(acc, _mm256_slli_epi32(off, 5));
        r.dw = _cvtsh_ss(w->d);
        break;
    }
    default: break;
    }
    return r;
}

/* The float step of block b for one row (the same cb_qacc_* as matmul_q.c). */
static ALWAYS_INLINE float combine(uint32_t wt, float s, const blk *r, int32_t isum, int32_t imin, const char *xt,
                                   int64_t b) {
    switch (wt) {
    case CB_KTYPE_Q4_0: return cb_qacc_d_fma(s, r->dw, _cvtsh_ss(((const cb_block_q8_0 *)xt + b)->d), isum);
    case CB_KTYPE_Q5_0: return cb_qacc_d(s, r->dw, _cvtsh_ss(((const cb_block_q8_0 *)xt + b)->d), isum);
    case CB_KTYPE_Q4_1:
    case CB_KTYPE_Q5_1: {
        const cb_block_q8_1 *a = (const cb_block_q8_1 *)xt + b;
        return cb_qacc_dm(s, r->dw, _cvtsh_ss(a->d), isum, r->mw, _cvtsh_ss(a->s));
    }
    case CB_KTYPE_Q6_K: return cb_qacc_d(s, r->dw, ((const cb_block_q8_k *)xt + b)->d, isum);
    default: return cb_qacc_k(s, ((const cb_block_q8_k *)xt + b)->d, r->dw, r->mw, isum, imin);
    }
}

/* Rows n .. n+R-1 (R <= 4) for every token; pf: bytes to the next group (0 = none). */
static ALWAYS_INLINE void group(uint32_t wt, int R, const char *W, size_t rb, const char *xq, size_t xrb,
                                float *y, int64_t T, int64_t K, int64_t N, int64_t n, size_t pf) {
    const int64_t be = wt == CB_KTYPE_Q4_K || wt == CB_KTYPE_Q5_K || wt == CB_KTYPE_Q6_K ? CB_QK_K : 32;
    const int64_t nb = K / be;
    const size_t bb = cb_type_block_bytes(wt);
    const char *row[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) row[r] = W + (size_t)(n + (r < R ? r : 0)) * rb;
    for (int64_t t = 0; t < T; t++) {
        const char *xt = xq + (size_t)t * xrb;
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t b = 0; b < nb; b++) {
            blk r[4];
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                if (pf && t == 0) {
                    const char *p = row[i] + (size_t)b * bb + pf;
                    PREFETCH(p);
                    if (be == CB_QK_K) {
                        PREFETCH(p + 64);
                        PREFETCH(p + 128);
                        if (bb > 192) PREFETCH(p + 192);
                    }
                }
                r[i] = block_dot(wt, row[i], b, xt);
            }
#pragma GCC unroll 4
            for (int i = R; i < 4; i++) r[i].p = r[i].pm = _mm256_setzero_si256();
            int32_t is[4], im[4] = {0, 0, 0, 0};
            _mm_storeu_si128((__m128i *)is, hsum4(r[0].p, r[1].p, r[2].p, r[3].p));
            if (wt == CB_KTYPE_Q4_K || wt == CB_KTYPE_Q5_K)
                _mm_storeu_si128((__m128i *)im, hsum4(r[0].pm, r[1].pm, r[2].pm, r[3].pm));
#pragma GCC unroll 4
            for (int i = 0; i < R; i++) s[i] = combine(wt, s[i], &r[i], is[i], im[i], xt, b);
        }
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) y[t * N + n + i] = s[i];
    }
}

static ALWAYS_INLINE void rows_typed(uint32_t wt, const void *W, const void *xq, size_t xrb, float *y,
                                     int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1) {
    const char *Wc = W, *xc = xq;
    size_t rb = cb_row_bytes(wt, K);
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) group(wt, 4, Wc, rb, xc, xrb, y, T, K, N, n, n + 8 <= n1 ? 4 * rb : 0);
    switch (n1 - n) {
    case 3: group(wt, 3, Wc, rb, xc, xrb, y, T, K, N, n, 0); break;
    case 2: group(wt, 2, Wc, rb, xc, xrb, y, T, K, N, n, 0); break;
    case 1: group(wt, 1, Wc, rb, xc, xrb, y, T, K, N, n, 0); break;
    default: break;
    }
}

#define ROWS_FN(name, WT)                                                                                   \
    static void name(const void *W, const void *xq, size_t xrb, float *y, int64_t T, int64_t K, int64_t N, \
                     int64_t n0, int64_t n1) {                                                              \
        rows_typed(WT, W, xq, xrb, y, T, K, N, n0, n1);                                                     \
    }
ROWS_FN(rows_q4_0, CB_KTYPE_Q4_0)
ROWS_FN(rows_q4_1, CB_KTYPE_Q4_1)
ROWS_FN(rows_q5_0, CB_KTYPE_Q5_0)
ROWS_FN(rows_q5_1, CB_KTYPE_Q5_1)
ROWS_FN(rows_q4_k, CB_KTYPE_Q4_K)
ROWS_FN(rows_q5_k, CB_KTYPE_Q5_K)
ROWS_FN(rows_q6_k, CB_KTYPE_Q6_K)

void cb_matmul_rows_q_avx2(uint32_t wtype, const void *W, const void *xq, size_t xrb, float *y,
                           int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1) {
    switch (wtype) {
    case CB_KTYPE_Q4_0: rows_q4_0(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q4_1: rows_q4_1(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q5_0: rows_q5_0(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q5_1: rows_q5_1(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q4_K: rows_q4_k(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q5_K: rows_q5_k(W, xq, xrb, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q6_K: rows_q6_k(W, xq, xrb, y, T, K, N, n0, n1); break;
    default: break;
    }
}
