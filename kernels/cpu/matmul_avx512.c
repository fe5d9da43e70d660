/* kernels/cpu/matmul_avx512.c — the batched (prefill) matmul for weights with
 * F32 activations (F32, F16, BF16, Q8_0) on AVX-512 CPUs (compiled with
 * -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma -mf16c; called only after
 * cb_cpu_has_avx512()). It computes exactly what matmul_avx2.c computes,
 * bit for bit, only more outputs per instruction.
 *
 * Why bit-identical: every output y[t, n] keeps the AVX2 kernel's 8-lane
 * accumulator and operation sequence (matmul_avx2.c's header: per 8 weights
 * acc = fma(w, x, acc), Q8_0 per block p = q0*x0, p = fma(q1, x1, p) ...,
 * acc = fma(fp16(d), p, acc); K % 8 tail as zero-padded fma; then the same
 * horizontal sum). A 512-bit register holds two such accumulators side by
 * side: lanes 0..7 belong to row n, lanes 8..15 to row n+1, both against the
 * same token, whose 8 activations are broadcast to both halves. Lanes never
 * mix until each half is reduced on its own, so each y[t, n] sees the same
 * IEEE operations in the same order as on AVX2 — and therefore the same
 * batch invariance, and the same scores the engine gave before this kernel.
 *
 * Loop nest (why it is faster than AVX2 on prefill; measured on this
 * project's 2-core Sapphire Rapids VM, Q8_0 2048 x 5632, 60..512 tokens:
 * ~3x the AVX2 kernel's FLOP/s):
 *   tokens in blocks of CB_Z_TOK_BLOCK (x repacked once per call by the
 *   dispatcher, cb_avx512_pack_x, so a chunk of a tile's tokens is contiguous);
 *     rows in groups of CB_Z_PAIRS pairs;
 *       K in chunks of CB_Z_KC: the group's chunk is converted to floats once
 *       (Q8_0: int8 -> float, exact) into an L1 buffer with its block scales,
 *         then every token tile of the block runs over it: 2 pairs x 6
 *         tokens, 12 accumulators + 12 block partial sums in registers; each
 *         broadcast activation load feeds two pairs; accumulators go to an
 *         L1 array between chunks (exact).
 * So conversion is paid once per 60 tokens instead of once per 4, and the
 * loop is close to FMA-bound (Q8_0 adds its fma(d, p, acc) per block).
 * Not done here: decode (T < CB_AVX512_MIN_T stays on the AVX2 kernel, which
 * is memory-bound there with four weight streams), the quantized-activation
 * types (matmul_q_avx2.c), an odd last row (AVX2, the same arithmetic).
 */
#include "kernels/kernels.h"
#include "kernels/cpu/avx2_loads.h"
#include "kernels/cpu/cpu_internal.h"

#include <immintrin.h>

#define CB_Z_TOK_BLOCK 60 /* tokens whose activations stay in L2 */
#define CB_Z_PAIRS 8      /* row pairs per group */
#define CB_Z_KC 256       /* elements per K chunk: converted group 20 KiB, a tile's x 6 KiB */

#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)

/* 8 activations broadcast to both halves. */
static ALWAYS_INLINE __m512 bcast8(const float *x) { return _mm512_broadcast_f32x8(_mm256_loadu_ps(x)); }

static ALWAYS_INLINE __m512 pair(__m256 lo, __m256 hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

/* ---- packed activations ------------------------------------------------------
 * xp: token blocks of CB_Z_TOK_BLOCK tokens (the last may be short; the
 * stride stays), each split into K chunks of CB_Z_KC elements, each chunk
 * CB_Z_TOK_BLOCK rows of CB_Z_KC floats, zero past K:
 *   xp[((blk * n_chunks + c) * CB_Z_TOK_BLOCK + j) * CB_Z_KC + i] = x[blk*TB + j, c*KC + i]
 * so one tile's tokens of one chunk lie together (no L1 set aliasing between
 * rows of x that are K floats apart) and the tail of K reads zeros, which is
 * the AVX2 kernel's zero-padded last step. */

static int64_t n_chunks(int64_t K) { return (K + CB_Z_KC - 1) / CB_Z_KC; }

size_t cb_avx512_packed_floats(int64_t T, int64_t K) {
    int64_t nblk = (T + CB_Z_TOK_BLOCK - 1) / CB_Z_TOK_BLOCK;
    return (size_t)nblk * (size_t)n_chunks(K) * CB_Z_TOK_BLOCK * CB_Z_KC;
}

void cb_avx512_pack_x(const float *x, int64_t T, int64_t K, float *xp) {
    const int64_t nc = n_chunks(K);
    for (int64_t t = 0; t < T; t++) {
        int64_t blk = t / CB_Z_TOK_BLOCK, j = t % CB_Z_TOK_BLOCK;
        for (int64_t c = 0; c < nc; c++) {
            float *dst = xp + ((size_t)(blk * nc + c) * CB_Z_TOK_BLOCK + (size_t)j) * CB_Z_KC;
            int64_t kl = K - c * CB_Z_KC < CB_Z_KC ? K - c * CB_Z_KC : CB_Z_KC;
            memcpy(dst, x + t * K + c * CB_Z_KC, (size_t)kl * sizeof(float));
            for (int64_t i = kl; i < CB_Z_KC; i++) dst[i] = 0.0f;
        }
    }
}

/* ---- converted weights ---------------------------------------------------------
 * One group of np row pairs, one K chunk, converted once and reused by every
 * token tile of the block: wb[i][u] = the 16 floats (row n+2i elements
 * k0+8u .. +8 | row n+2i+1 the same; zero past K), db[i][blk] (Q8_0) = the
 * pair's block scales fp16(d) as (d0 x 8 | d1 x 8). */
typedef struct wchunk {
    __m512 w[CB_Z_PAIRS][CB_Z_KC / 8];
    __m512 d[CB_Z_PAIRS][CB_Z_KC / CB_QK8_0];
} wchunk;

static ALWAYS_INLINE void convert(uint32_t wt, const char *W, size_t rb, int64_t n, int np, int64_t k0, int64_t kl,
                                  size_t pf, wchunk *c) {
    for (int i = 0; i < np; i++) {
        const char *r0 = W + (size_t)(n + 2 * i) * rb, *r1 = r0 + rb;
        if (wt == CB_KTYPE_Q8_0) {
            for (int64_t b = 0; b < kl / CB_QK8_0; b++) {
                const cb_block_q8_0 *b0 = (const cb_block_q8_0 *)r0 + k0 / CB_QK8_0 + b;
                const cb_block_q8_0 *b1 = (const cb_block_q8_0 *)r1 + k0 / CB_QK8_0 + b;
                if (pf) {
                    PREFETCH((const char *)b0 + pf);
                    PREFETCH((const char *)b1 + pf);
                }
#pragma GCC unroll 4
                for (int s = 0; s < 4; s++) {
                    /* int8 codes 8s..8s+7 of row n in bytes 0..7, of row n+1 in 8..15 */
                    __m128i q = _mm_loadl_epi64((const __m128i *)(b0->qs + 8 * s));
                    q = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(q), (const double *)(b1->qs + 8 * s)));
                    c->w[i][4 * b + s] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
                }
                c->d[i][b] = pair(_mm256_set1_ps(_cvtsh_ss(b0->d)), _mm256_set1_ps(_cvtsh_ss(b1->d)));
            }
            continue;
        }
        const int64_t ke = k0 + kl, K8 = ke & ~(int64_t)7;
        const int64_t pf_mask = wt == CB_KTYPE_F32 ? 15 : 31; /* one prefetch per 64 bytes of a row */
        for (int64_t k = k0; k < K8; k += 8) {
            if (pf && (k & pf_mask) == 0) {
                size_t off = (size_t)k * (wt == CB_KTYPE_F32 ? 4 : 2) + pf;
                PREFETCH(r0 + off);
                PREFETCH(r1 + off);
            }
            c->w[i][(k - k0) / 8] = pair(load_w8(wt, r0, k), load_w8(wt, r1, k));
        }
        if (ke > K8) c->w[i][(K8 - k0) / 8] = pair(load_w_tail(wt, r0, K8, (int)(ke - K8)),
                                                   load_w_tail(wt, r1, K8, (int)(ke - K8)));
    }
}

/* PP row pairs (PP * TT <= 12) of the group, from pair i0, against TT tokens
 * over one chunk of nu 8-element steps; each broadcast activation vector
 * feeds PP pairs. xc: the tokens' packed chunk (CB_Z_KC floats apart).
 * accm[i]: pair i's 8-lane accumulators of the block's tokens, carried
 * between chunks in memory (a store and reload is exact, so each output's
 * operations are the full-K sequence). first: start from zero; last: write
 * y[t+j, n + 2i], y[t+j, n + 2i + 1] instead. */
static ALWAYS_INLINE void tile(uint32_t wt, int PP, int TT, const wchunk *c, int i0, int64_t nu, const float *xc,
                               __m512 (*accm)[CB_Z_TOK_BLOCK], int64_t j0, int first, int last, float *y, int64_t N,
                               int64_t n, int64_t t) {
    __m512 acc[2][12];
#pragma GCC unroll 2
    for (int i = 0; i < PP; i++)
#pragma GCC unroll 12
        for (int j = 0; j < TT; j++) acc[i][j] = first ? _mm512_setzero_ps() : accm[i0 + i][j0 + j];
    if (wt == CB_KTYPE_Q8_0) {
        for (int64_t b = 0; b < nu / 4; b++) {
            __m512 p[2][12];
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                __m512 ws[2];
#pragma GCC unroll 2
                for (int i = 0; i < PP; i++) ws[i] = c->w[i0 + i][4 * b + s];
#pragma GCC unroll 12
                for (int j = 0; j < TT; j++) {
                    __m512 xv = bcast8(xc + (size_t)j * CB_Z_KC + 32 * b + 8 * s);
#pragma GCC unroll 2
                    for (int i = 0; i < PP; i++)
                        p[i][j] = s == 0 ? _mm512_mul_ps(ws[i], xv) : _mm512_fmadd_ps(ws[i], xv, p[i][j]);
                }
            }
#pragma GCC unroll 2
            for (int i = 0; i < PP; i++) {
                const __m512 db = c->d[i0 + i][b];
#pragma GCC unroll 12
                for (int j = 0; j < TT; j++) acc[i][j] = _mm512_fmadd_ps(db, p[i][j], acc[i][j]);
            }
        }
    } else {
        for (int64_t u = 0; u < nu; u++) {
            __m512 wu[2];
#pragma GCC unroll 2
            for (int i = 0; i < PP; i++) wu[i] = c->w[i0 + i][u];
#pragma GCC unroll 12
            for (int j = 0; j < TT; j++) {
                __m512 xv = bcast8(xc + (size_t)j * CB_Z_KC + 8 * u);
#pragma GCC unroll 2
                for (int i = 0; i < PP; i++) acc[i][j] = _mm512_fmadd_ps(wu[i], xv, acc[i][j]);
            }
        }
    }
#pragma GCC unroll 2
    for (int i = 0; i < PP; i++)
#pragma GCC unroll 12
        for (int j = 0; j < TT; j++) {
            if (last) {
                y[(t + j) * N + n + 2 * (i0 + i)] = hsum8(_mm512_castps512_ps256(acc[i][j]));
                y[(t + j) * N + n + 2 * (i0 + i) + 1] = hsum8(_mm512_extractf32x8_ps(acc[i][j], 1));
            } else {
                accm[i0 + i][j0 + j] = acc[i][j];
            }
        }
}

/* All np pairs of a group against tokens j0 .. j0+TT-1 of the block: two
 * pairs per tile (TT <= 6), an odd last pair alone. */
static ALWAYS_INLINE void tiles(uint32_t wt, int TT, const wchunk *c, int np, int64_t nu, const float *xc,
                                __m512 (*accm)[CB_Z_TOK_BLOCK], int first, int last, float *y, int64_t N, int64_t n,
                                int64_t t0, int64_t j0) {
    const float *xt = xc + (size_t)j0 * CB_Z_KC;
    int i = 0;
    for (; i + 2 <= np; i += 2) tile(wt, 2, TT, c, i, nu, xt, accm, j0, first, last, y, N, n, t0 + j0);
    if (i < np) tile(wt, 1, TT, c, i, nu, xt, accm, j0, first, last, y, N, n, t0 + j0);
}

static ALWAYS_INLINE void rows_typed(uint32_t wt, const void *W, const float *x, const float *xp, float *y, int64_t T,
                                     int64_t K, int64_t N, int64_t n0, int64_t n1) {
    const char *Wc = W;
    const size_t rb = cb_row_bytes(wt, K);
    const int64_t n1e = n0 + ((n1 - n0) & ~(int64_t)1), G = 2 * CB_Z_PAIRS, nc = n_chunks(K);
    _Alignas(64) wchunk c;
    /* the group's accumulators for every token of the block, between chunks */
    _Alignas(64) __m512 accm[CB_Z_PAIRS][CB_Z_TOK_BLOCK];
    for (int64_t tb = 0; tb < T; tb += CB_Z_TOK_BLOCK) {
        const int64_t nt = T - tb < CB_Z_TOK_BLOCK ? T - tb : CB_Z_TOK_BLOCK;
        for (int64_t n = n0; n < n1e; n += G) {
            const int np = (int)((n1e - n < G ? n1e - n : G) / 2);
            const size_t pf = n + 2 * G <= n1e ? (size_t)G * rb : 0;
            for (int64_t ci = 0; ci < nc; ci++) {
                const int64_t k0 = ci * CB_Z_KC, kl = K - k0 < CB_Z_KC ? K - k0 : CB_Z_KC;
                const int64_t nu = (kl + 7) / 8;
                const int first = ci == 0, last = ci == nc - 1;
                const float *xc = xp + (size_t)((tb / CB_Z_TOK_BLOCK) * nc + ci) * CB_Z_TOK_BLOCK * CB_Z_KC;
                convert(wt, Wc, rb, n, np, k0, kl, tb == 0 ? pf : 0, &c);
                int64_t j = 0;
                for (; j + 6 <= nt; j += 6) tiles(wt, 6, &c, np, nu, xc, accm, first, last, y, N, n, tb, j);
                if (nt - j >= 4) tiles(wt, 4, &c, np, nu, xc, accm, first, last, y, N, n, tb, j), j += 4;
                if (nt - j >= 2) tiles(wt, 2, &c, np, nu, xc, accm, first, last, y, N, n, tb, j), j += 2;
                if (nt - j >= 1) tiles(wt, 1, &c, np, nu, xc, accm, first, last, y, N, n, tb, j);
            }
        }
    }
    if (n1e < n1) cb_matmul_rows_avx2(wt, W, x, y, T, K, N, n1e, n1);
}

static void rows_f32(const void *W, const float *x, const float *xp, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_F32, W, x, xp, y, T, K, N, n0, n1);
}
static void rows_f16(const void *W, const float *x, const float *xp, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_F16, W, x, xp, y, T, K, N, n0, n1);
}
static void rows_bf16(const void *W, const float *x, const float *xp, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_BF16, W, x, xp, y, T, K, N, n0, n1);
}
static void rows_q8_0(const void *W, const float *x, const float *xp, float *y, int64_t T, int64_t K, int64_t N,
                     int64_t n0, int64_t n1) {
    rows_typed(CB_KTYPE_Q8_0, W, x, xp, y, T, K, N, n0, n1);
}

void cb_matmul_rows_avx512(uint32_t wtype, const void *W, const float *x, const float *xp, float *y, int64_t T,
                           int64_t K, int64_t N, int64_t n0, int64_t n1) {
    if (!xp) {
        cb_matmul_rows_avx2(wtype, W, x, y, T, K, N, n0, n1);
        return;
    }
    switch (wtype) {
    case CB_KTYPE_F32: rows_f32(W, x, xp, y, T, K, N, n0, n1); break;
    case CB_KTYPE_F16: rows_f16(W, x, xp, y, T, K, N, n0, n1); break;
    case CB_KTYPE_BF16: rows_bf16(W, x, xp, y, T, K, N, n0, n1); break;
    case CB_KTYPE_Q8_0: rows_q8_0(W, x, xp, y, T, K, N, n0, n1); break;
    default: break;
    }
}
