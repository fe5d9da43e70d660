/* kernels/cpu/matmul.c — y (T, N) = x (T, K) @ W^T on the CPU: the dispatcher
 * that splits output rows across the pool, the portable C kernel, and the
 * naive reference.
 *
 * Batch invariance: y[t, n] is always one dot product of x[t, :] with W[n, :]
 * in a fixed order that depends only on (kernel set, wtype, K). Threads claim
 * contiguous chunks of N (multiples of CB_MM_ROW_ALIGN rows), never of K, so
 * the thread count cannot change a sum's order; tiling over tokens only
 * reuses weights, it keeps each token's own accumulation sequence.
 *
 * Portable dot product order (per y[t, n]): 8 partial sums acc[j] take the
 * products k = j, j+8, j+16, ... in increasing k (tail elements go to the
 * acc[k % 8] they belong to), then ((acc0+acc4)+(acc2+acc6)) +
 * ((acc1+acc5)+(acc3+acc7)). Q8_0 weights are dequantized as fp16(d) * q,
 * exactly the reference's values, against F32 activations.
 *
 * The 4- and 5-bit types (Q4_0 .. Q6_K) first quantize x to the activation
 * format ggml's CPU backend uses with them (cb_act_type: Q8_0, Q8_1, Q8_K),
 * one row per token on the calling thread into a per-thread buffer that
 * grows and is reused (freed at thread exit), then take integer block dot
 * products (matmul_q.c, matmul_q_avx2.c). A token's quantized row depends on
 * that token only, so batch invariance holds. Not done here: packed weight
 * layouts.
 *
 * On AVX-512 CPUs, F32/F16/BF16/Q8_0 products of 4 tokens or more go to
 * matmul_avx512.c, which gives the AVX2 kernel's results bit for bit (two
 * outputs per register, each with the AVX2 operation sequence); x is first
 * repacked (cb_avx512_pack_x) into the same per-thread buffer the quantized
 * types use.
 */
#include "kernels/kernels.h"
#include "kernels/cpu/cpu_internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define CB_MM_ROW_ALIGN 16
/* Portable kernel: weights are converted to floats CB_PK_CHUNK at a time and
 * reused by up to CB_PK_TOK tokens. */
#define CB_PK_CHUNK 256
#define CB_PK_TOK 8

/* ---- portable kernel ------------------------------------------------------ */

/* Converts W[n, k0 .. k0+len) to floats. */
static void load_chunk(uint32_t wtype, const void *W, size_t row_bytes, int64_t n, int64_t k0,
                       int64_t len, float *out) {
    const char *row = (const char *)W + (size_t)n * row_bytes;
    switch (wtype) {
    case CB_KTYPE_F32: memcpy(out, (const float *)row + k0, (size_t)len * sizeof(float)); break;
    case CB_KTYPE_F16: {
        const uint16_t *h = (const uint16_t *)row + k0;
        for (int64_t k = 0; k < len; k++) out[k] = cb_fp16_to_fp32_fast(h[k]);
        break;
    }
    case CB_KTYPE_BF16: {
        const uint16_t *h = (const uint16_t *)row + k0;
        for (int64_t k = 0; k < len; k++) out[k] = cb_f32_from_bits((uint32_t)h[k] << 16);
        break;
    }
    case CB_KTYPE_Q8_0: {
        /* k0 and len are multiples of 32 here */
        const cb_block_q8_0 *b = (const cb_block_q8_0 *)row + k0 / CB_QK8_0;
        for (int64_t i = 0; i < len / CB_QK8_0; i++) {
            float d = cb_fp16_to_fp32_fast(b[i].d);
            for (int j = 0; j < CB_QK8_0; j++) out[i * CB_QK8_0 + j] = d * (float)b[i].qs[j];
        }
        break;
    }
    default: assert(!"cb_matmul: unsupported weight type");
    }
}

void cb_matmul_rows_portable(uint32_t wtype, const void *W, const float *x, float *y,
                             int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1) {
    size_t rb = cb_row_bytes(wtype, K);
    float wbuf[CB_PK_CHUNK];
    float acc[CB_PK_TOK][8];
    for (int64_t t0 = 0; t0 < T; t0 += CB_PK_TOK) {
        int64_t nt = T - t0 < CB_PK_TOK ? T - t0 : CB_PK_TOK;
        for (int64_t n = n0; n < n1; n++) {
            for (int64_t t = 0; t < nt; t++)
                for (int j = 0; j < 8; j++) acc[t][j] = 0.0f;
            for (int64_t k0 = 0; k0 < K; k0 += CB_PK_CHUNK) {
                int64_t len = K - k0 < CB_PK_CHUNK ? K - k0 : CB_PK_CHUNK;
                load_chunk(wtype, W, rb, n, k0, len, wbuf);
                int64_t len8 = len & ~(int64_t)7;
                for (int64_t t = 0; t < nt; t++) {
                    const float *xt = x + (t0 + t) * K + k0;
                    float *a = acc[t];
                    /* the 8 partial sums live in locals so the compiler can keep them
                     * in vector registers (each lane still takes its own products in
                     * k order; no reassociation) */
                    float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
                    float a4 = a[4], a5 = a[5], a6 = a[6], a7 = a[7];
                    for (int64_t k = 0; k < len8; k += 8) {
                        const float *w8 = wbuf + k, *x8 = xt + k;
                        a0 += w8[0] * x8[0];
                        a1 += w8[1] * x8[1];
                        a2 += w8[2] * x8[2];
                        a3 += w8[3] * x8[3];
                        a4 += w8[4] * x8[4];
                        a5 += w8[5] * x8[5];
                        a6 += w8[6] * x8[6];
                        a7 += w8[7] * x8[7];
                    }
                    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
                    a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
                    /* CB_PK_CHUNK is a multiple of 8, so k % 8 == j continues across chunks */
                    for (int64_t k = len8; k < len; k++) a[k - len8] += wbuf[k] * xt[k];
                }
            }
            for (int64_t t = 0; t < nt; t++) {
                const float *a = acc[t];
                y[(t0 + t) * N + n] = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
            }
        }
    }
}

/* ---- dispatch ------------------------------------------------------------- */

struct mm_job {
    atomic_llong next; /* first row of the next unclaimed chunk */
    int64_t chunk;     /* rows per claim, a multiple of CB_MM_ROW_ALIGN */
    int avx2, avx512;
    uint32_t wtype;
    const void *W;
    const float *x;
    const void *xq;    /* quantized activations (quantized weight types), else NULL */
    const float *xp;   /* x packed for the AVX-512 kernel, else NULL */
    size_t xrb;        /* bytes per row of xq */
    float *y;
    int64_t T, K, N;
};

static void mm_rows(const struct mm_job *j, int64_t n0, int64_t n1) {
    if (n0 >= n1) return;
    if (j->xq) {
        if (j->avx2) cb_matmul_rows_q_avx2(j->wtype, j->W, j->xq, j->xrb, j->y, j->T, j->K, j->N, n0, n1);
        else cb_matmul_rows_q_portable(j->wtype, j->W, j->xq, j->xrb, j->y, j->T, j->K, j->N, n0, n1);
        return;
    }
    if (j->avx512) cb_matmul_rows_avx512(j->wtype, j->W, j->x, j->xp, j->y, j->T, j->K, j->N, n0, n1);
    else if (j->avx2) cb_matmul_rows_avx2(j->wtype, j->W, j->x, j->y, j->T, j->K, j->N, n0, n1);
    else cb_matmul_rows_portable(j->wtype, j->W, j->x, j->y, j->T, j->K, j->N, n0, n1);
}

/* ---- per-thread activation buffer ------------------------------------------- */

struct act_buf {
    void *p;
    size_t cap;
};
static pthread_key_t act_key;
static pthread_once_t act_once = PTHREAD_ONCE_INIT;
static int act_key_ok;

static void act_buf_free(void *v) {
    struct act_buf *b = v;
    free(b->p);
    free(b);
}
static void act_key_init(void) { act_key_ok = pthread_key_create(&act_key, act_buf_free) == 0; }

/* A buffer of at least n bytes owned by the calling thread (reused across
 * calls, freed when the thread exits); NULL when out of memory. */
static void *act_buffer(size_t n) {
    pthread_once(&act_once, act_key_init);
    if (!act_key_ok) return NULL;
    struct act_buf *b = pthread_getspecific(act_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        if (pthread_setspecific(act_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap < n) {
        void *p = malloc(n);
        if (!p) return NULL;
        free(b->p);
        b->p = p;
        b->cap = n;
    }
    return b->p;
}

/* Threads claim contiguous chunks of rows from a shared counter, so a thread
 * that gets descheduled (shared machines) does not hold everyone up. Which
 * thread computes a row never changes how the row is computed. */
static void mm_task(void *ctx, int ith, int nth) {
    struct mm_job *j = ctx;
    (void)ith;
    (void)nth;
    for (;;) {
        int64_t n0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
        if (n0 >= j->N) break;
        mm_rows(j, n0, n0 + j->chunk < j->N ? n0 + j->chunk : j->N);
    }
}

void cb_matmul_impl(int impl, cb_pool *pool, uint32_t wtype, const void *W, const float *x,
                    float *y, int64_t T, int64_t K, int64_t N) {
    assert(cb_row_bytes(wtype, K) != 0 || K == 0);
    if (T <= 0 || N <= 0) return;
    int avx2 = 0, avx512 = 0;
    if (impl == CB_KIMPL_AUTO) {
        avx2 = cb_cpu_has_avx2();
        avx512 = cb_cpu_has_avx512();
    } else if (impl == CB_KIMPL_AVX2 || impl == CB_KIMPL_AVX512) {
        /* honour an explicit request when the CPU has it even if an env var says no */
        avx2 = cb_cpu_hw_avx2();
        avx512 = impl == CB_KIMPL_AVX512 && cb_cpu_hw_avx512();
    }
    struct mm_job j;
    atomic_init(&j.next, 0);
    j.avx2 = avx2;
    j.avx512 = avx512;
    j.wtype = wtype;
    j.W = W;
    j.x = x;
    j.xq = NULL;
    j.xp = NULL;
    j.xrb = 0;
    j.y = y;
    uint32_t at = cb_act_type(wtype);
    if (at != CB_KTYPE_F32) {
        j.xrb = cb_row_bytes(at, K);
        char *xq = act_buffer(j.xrb * (size_t)T);
        assert(xq && "cb_matmul: out of memory for the quantized activations");
        if (!xq) return;
        for (int64_t t = 0; t < T; t++) cb_quantize_act(at, x + t * K, xq + j.xrb * (size_t)t, K);
        j.xq = xq;
    } else if (avx512 && T >= CB_AVX512_MIN_T) {
        float *xp = act_buffer(cb_avx512_packed_floats(T, K) * sizeof(float));
        assert(xp && "cb_matmul: out of memory for the packed activations");
        if (!xp) return;
        cb_avx512_pack_x(x, T, K, xp);
        j.xp = xp;
    }
    j.T = T;
    j.K = K;
    j.N = N;
    /* about 4 claims per thread: enough to rebalance, few enough to keep long
     * sequential weight streams */
    int nth = cb_pool_size(pool);
    j.chunk = (N + 4 * nth - 1) / (4 * nth);
    j.chunk = (j.chunk + CB_MM_ROW_ALIGN - 1) / CB_MM_ROW_ALIGN * CB_MM_ROW_ALIGN;
    /* Small products are not worth waking the workers (a few microseconds). */
    double work = (double)T * (double)K * (double)N;
    if (!pool || cb_pool_size(pool) == 1 || work < 32768.0 || N <= CB_MM_ROW_ALIGN)
        mm_rows(&j, 0, N);
    else
        cb_pool_run(pool, mm_task, &j);
}

void cb_matmul(cb_pool *pool, uint32_t wtype, const void *W, const float *x, float *y, int64_t T,
               int64_t K, int64_t N) {
    cb_matmul_impl(CB_KIMPL_AUTO, pool, wtype, W, x, y, T, K, N);
}

/* ---- reference ------------------------------------------------------------ */

void cb_matmul_ref(uint32_t wtype, const void *W, const float *x, float *y, int64_t T, int64_t K,
                   int64_t N) {
    size_t rb = cb_row_bytes(wtype, K);
    uint32_t at = cb_act_type(wtype);
    size_t xrb = at != CB_KTYPE_F32 ? cb_row_bytes(at, K) : 0;
    float *w = malloc((size_t)(K > 0 ? K : 1) * sizeof(float));
    float *xd = malloc((size_t)(T * K > 0 ? T * K : 1) * sizeof(float));
    void *xq = xrb ? malloc(xrb) : NULL;
    assert(w && xd && (xq || !xrb));
    if (!w || !xd || (xrb && !xq)) goto out;
    /* the activations the kernels see: x itself, or x quantized and decoded */
    for (int64_t t = 0; t < T; t++) {
        if (!xrb) {
            memcpy(xd + t * K, x + t * K, (size_t)K * sizeof(float));
            continue;
        }
        cb_quantize_act(at, x + t * K, xq, K);
        if (at == CB_KTYPE_Q8_1) { /* decode d * q (the block's s is a derived sum) */
            for (int64_t b = 0; b < K / 32; b++) {
                const cb_block_q8_1 *q = (const cb_block_q8_1 *)xq + b;
                for (int i = 0; i < 32; i++) xd[t * K + 32 * b + i] = cb_fp16_to_fp32(q->d) * (float)q->qs[i];
            }
        } else if (at == CB_KTYPE_Q8_K) {
            for (int64_t b = 0; b < K / CB_QK_K; b++) {
                const cb_block_q8_k *q = (const cb_block_q8_k *)xq + b;
                for (int i = 0; i < CB_QK_K; i++) xd[t * K + CB_QK_K * b + i] = q->d * (float)q->qs[i];
            }
        } else {
            cb_dequantize_row(at, xq, xd + t * K, K);
        }
    }
    for (int64_t n = 0; n < N; n++) {
        cb_dequantize_row(wtype, (const char *)W + (size_t)n * rb, w, K);
        for (int64_t t = 0; t < T; t++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) s += (double)w[k] * (double)xd[t * K + k];
            y[t * N + n] = (float)s;
        }
    }
out:
    free(xq);
    free(xd);
    free(w);
}
