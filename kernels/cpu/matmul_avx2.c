/* kernels/cpu/matmul_avx2.c — the AVX2/FMA/F16C matmul kernel (this file is
 * compiled with -mavx2 -mfma -mf16c and only called after cb_cpu_has_avx2()).
 *
 * Dot product order, fixed per (wtype, K), which is what makes the kernel
 * batch invariant: one 8-lane accumulator per output y[t, n]; for k = 0, 8,
 * 16, ... acc = fma(w[k..k+8), x[k..k+8), acc); a K % 8 tail is one more fma
 * on zero-padded vectors; then the fixed horizontal sum
 * ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). Q8_0 works per block of 32:
 * p = q[0:8)*x[0:8); p = fma(q[8:16), x[8:16), p); ... (4 vectors), then
 * acc = fma(fp16(d), p, acc); the same lane structure and final sum.
 *
 * Tiling only decides which accumulators live in registers together:
 *   T == 1: 4 weight rows at a time (4 independent fma chains, 4 sequential
 *           weight streams) — the memory-bound decode path;
 *   T  > 1: 2 rows x 4 tokens (Q8_0: 1 row x 4 tokens; 8 registers of
 *           state either way; each loaded/converted weight vector feeds 4
 *           tokens), tokens in blocks of CB_AVX_TOK_BLOCK so the
 *           block's activations stay in L2 while the rows stream by.
 * Edge tiles use the same code with fewer rows or tokens; no choice here
 * changes any single y[t, n]'s operation sequence.
 */
#include "kernels/kernels.h"
#include "kernels/cpu/avx2_loads.h"
#include "kernels/cpu/cpu_internal.h"

#include <immintrin.h>

#define CB_AVX_TOK_BLOCK 64

/* Software prefetch one weight tile ahead (the rows the next tile will read,
 * at the same offset). The hardware prefetcher alone restarts on every new
 * row group and leaves DRAM latency exposed: measured on a Zen 4 VM, one
 * thread read Q8_0 weights at 7 GB/s without it and 17 GB/s with it. */
#define PREFETCH(p) _mm_prefetch((const char *)(p), CB_PF_HINT)
#ifndef CB_PF_HINT
#define CB_PF_HINT _MM_HINT_T1
#endif

static ALWAYS_INLINE __m256 load_x_tail(const float *x, int64_t k, int r) {
    float buf[8] = {0};
    memcpy(buf, x + k, (size_t)r * sizeof(float));
    return _mm256_loadu_ps(buf);
}

/* One tile: rows n .. n+R-1 against tokens t .. t+TT-1, full K.
 * W rows are rb bytes apart; x rows K floats apart; y rows N floats apart. */
static ALWAYS_INLINE void tile(uint32_t wt, int R, int TT, const char *W, size_t rb,
                               const float *x, float *y, int64_t K, int64_t N, int64_t n,
                               int64_t t, int64_t pf) {
    __m256 acc[4][4];
    const char *row[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        row[r] = W + (size_t)(n + r) * rb;
#pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[r][j] = _mm256_setzero_ps();
    }
    const float *xt[4];
#pragma GCC unroll 4
    for (int j = 0; j < TT; j++) xt[j] = x + (t + j) * K;

    if (wt == CB_KTYPE_Q8_0) {
        /* per block: p = sum of 4 vectors q * x (one mul, three fma), then
         * acc = fma(d, p, acc). Fewer multiplies than scaling the weights
         * first, which keeps the memory-bound T = 1 path off the FP ports. */
        int64_t nb = K / CB_QK8_0;
        for (int64_t b = 0; b < nb; b++) {
            const cb_block_q8_0 *blk[4];
            __m256 p[4][4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                blk[r] = (const cb_block_q8_0 *)row[r] + b;
                if (pf) PREFETCH((const char *)blk[r] + pf);
            }
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                __m256 w[4];
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) {
                    __m128i q8 = _mm_loadl_epi64((const __m128i *)(blk[r]->qs + 8 * s));
                    w[r] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
                }
#pragma GCC unroll 4
                for (int j = 0; j < TT; j++) {
                    __m256 xv = _mm256_loadu_ps(xt[j] + b * CB_QK8_0 + 8 * s);
#pragma GCC unroll 4
                    for (int r = 0; r < R; r++)
                        p[r][j] = s == 0 ? _mm256_mul_ps(w[r], xv) : _mm256_fmadd_ps(w[r], xv, p[r][j]);
                }
            }
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256 d = _mm256_set1_ps(_cvtsh_ss(blk[r]->d));
#pragma GCC unroll 4
                for (int j = 0; j < TT; j++) acc[r][j] = _mm256_fmadd_ps(d, p[r][j], acc[r][j]);
            }
        }
    } else {
        int64_t K8 = K & ~(int64_t)7;
        for (int64_t k = 0; k < K8; k += 8) {
            __m256 w[4];
            /* one prefetch per 64 bytes of each row */
            if (pf && (k & (wt == CB_KTYPE_F32 ? 15 : 31)) == 0) {
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) PREFETCH(row[r] + k * (wt == CB_KTYPE_F32 ? 4 : 2) + pf);
            }
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) w[r] = load_w8(wt, row[r], k);
#pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                __m256 xv = _mm256_loadu_ps(xt[j] + k);
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) acc[r][j] = _mm256_fmadd_ps(w[r], xv, acc[r][j]);
            }
        }
        int rem = (int)(K - K8);
        if (rem) {
            __m256 w[4];
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) w[r] = load_w_tail(wt, row[r], K8, rem);
#pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                __m256 xv = load_x_tail(xt[j], K8, rem);
#pragma GCC unroll 4
                for (int r = 0; r < R; r++) acc[r][j] = _mm256_fmadd_ps(w[r], xv, acc[r][j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int j = 0; j < TT; j++) y[(t + j) * N + n + r] = hsum8(acc[r][j]);
}

/* Rows n0..n1-1 for one weight type (wt is a compile-time constant after inlining). */
static ALWAYS_INLINE void rows_typed(uint32_t wt, const void *W, const float *x, float *y,
                                     int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1) {
    const char *Wc = W;
    size_t rb = cb_row_bytes(wt, K);
    if (T == 1) {
        int64_t n = n0;
        for (; n + 4 <= n1; n += 4) tile(wt, 4, 1, Wc, rb, x, y, K, N, n, 0, (int64_t)(4 * rb));
        switch (n1 - n) {
        case 3: tile(wt, 3, 1, Wc, rb, x, y, K, N, n, 0, 0); break;
        case 2: tile(wt, 2, 1, Wc, rb, x, y, K, N, n, 0, 0); break;
        case 1: tile(wt, 1, 1, Wc, rb, x, y, K, N, n, 0, 0); break;
        default: break;
        }
        return;
    }
    /* Q8_0 keeps a block partial sum per output, so its tiles are 1 row x 4
     * tokens (8 accumulators); the float types use 2 rows x 4 tokens. */
    const int64_t RT = wt == CB_KTYPE_Q8_0 ? 1 : 2;
    for (int64_t tb = 0; tb < T; tb += CB_AVX_TOK_BLOCK) {
        int64_t te = tb + CB_AVX_TOK_BLOCK < T ? tb + CB_AVX_TOK_BLOCK : T;
        for (int64_t n = n0; n < n1; n += RT) {
            int two = RT == 2 && n + 2 <= n1;
            int64_t t = tb;
            for (; t + 4 <= te; t += 4) {
                /* the first token tile of a row group prefetches the next group */
                int64_t pf = t == tb ? (int64_t)((two ? 2 : 1) * rb) : 0;
                if (two) tile(wt, 2, 4, Wc, rb, x, y, K, N, n, t, pf);
                else tile(wt, 1, 4, Wc, rb, x, y, K, N, n, t, pf);
            }
            switch (te - t) {
            case 3:
                if (two) tile(wt, 2, 3, Wc, rb, x, y, K, N, n, t, 0);
                else tile(wt, 1, 3, Wc, rb, x, y, K, N, n, t, 0);
                break;
            case 2:
                if (two) tile(wt, 2, 2, Wc, rb, x, y, K, N, n, t, 0);
                else tile(wt, 1, 2, Wc, rb, x, y, K, N, n, t, 0);
                break;
            case 1:
                if (two) tile(wt, 2, 1, Wc, rb, x, y, K, N, n, t, 0);
                else tile(wt, 1, 1, Wc, rb, x, y, K, N, n, t, 0);
                break;
            default: break;
            }
        }
    }
}

static void rows_f32(const void *W, const float *x, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_F32, W, x, y, T, K, N, n0, n1);
}
static void rows_f16(const void *W, const float *x, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_F16, W, x, y, T, K, N, n0, n1);
}
static void rows_bf16(const void *W, const float *x, float *y, int64_t T, int64_t K, int64_t N,
                      int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_BF16, W, x, y, T, K, N, n0, n1);
}
static void rows_q8_0(const void *W, const float *x, float *y, int64_t T, int64_t K, int64_t N,
                      int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_Q8_0, W, x, y, T, K, N, n0, n1);
}

void cb_matmul_rows_avx2(uint32_t wtype, const void *W, const float *x, float *y, int64_t T,
                         int64_t K, int64_t N, int64_t n0, int64_t n1) {
    switch (wtype) {
    case CB_KTYPE_F32: rows_f32(W, x, y, T, K, N, n0, n1); break;
    case CB_KTYPE_F16: rows_f16(W, x, y, T, K, N, n0, n1); break;
    case CB_KTYPE_BF16: rows_bf16(W, x, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q8_0: rows_q8_0(W, x, y, T, K, N, n0, n1); break;
    default: break;
    }
}
