/* kernels/kernels.h — the compute kernels the engine calls, one interface for
 * all kernel sets. This header is the CPU side (kernels/cpu/); the CUDA twins
 * are declared in kernels/cuda/cuda_kernels.h behind extern "C" launchers.
 *
 * Dimension names: T tokens (rows of activations), K input features,
 * N output features, C channels, H heads, D head size, V vocab.
 * Weight matrices are stored as GGUF lays them out: ne = [K, N], i.e. N rows
 * of K elements, row-major, in the weight's dtype (F32, F16, BF16, Q8_0).
 *
 * Determinism contract (batch invariance): every output element is computed
 * with the same sequence of floating-point operations whatever T, the thread
 * count, or the row's position in the batch. Optimized kernels may block over
 * rows and tokens, but each y[t,n] must be a dot product evaluated in one fixed
 * order for a given (dtype, K). The naive reference kernels (`_ref`) are the
 * plain loops the tests compare against within a tolerance.
 *
 * Kernels never allocate on the hot path; scratch comes from the caller.
 */
#ifndef CB_KERNELS_H
#define CB_KERNELS_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* ---- numeric formats ---------------------------------------------------- */
/* Weight types, numbered as ggml numbers them (same values as engine/gguf.h). */
enum { CB_KTYPE_F32 = 0, CB_KTYPE_F16 = 1, CB_KTYPE_Q8_0 = 8, CB_KTYPE_BF16 = 30 };

#define CB_QK8_0 32
typedef struct {
    uint16_t d;            /* fp16 scale */
    int8_t qs[CB_QK8_0];   /* value = d * qs[i] */
} cb_block_q8_0;           /* 34 bytes */

/* Scalar IEEE conversions, portable bit manipulation. Infinities keep their
 * sign, NaNs stay NaN (quieted), subnormals on both sides are exact or rounded
 * to nearest even; values past the fp16 range (>= 65520) become infinity. */
float cb_fp16_to_fp32(uint16_t h);
uint16_t cb_fp32_to_fp16(float f);   /* round to nearest even */
float cb_bf16_to_fp32(uint16_t h);
uint16_t cb_fp32_to_bf16(float f);   /* round to nearest even */
/* Bytes of one row of K elements of ggml type `type` (K must be a multiple of 32 for Q8_0);
 * 0 for an unsupported type. */
size_t cb_row_bytes(uint32_t type, int64_t K);
/* Quantizes n floats (n % 32 == 0) into Q8_0 blocks: per block of 32,
 * d = max|x|/127 (stored as fp16), q = round(x/d) clamped to [-127, 127]
 * (q = 0 for an all-zero block). Dequantized value = fp16(d) * q. */
void cb_quantize_q8_0(const float *x, cb_block_q8_0 *out, int64_t n);
/* Converts one row of K elements of `type` to floats (out: K floats). An
 * unsupported type is a programmer error (assert); check cb_row_bytes() != 0. */
void cb_dequantize_row(uint32_t type, const void *row, float *out, int64_t K);

/* ---- thread pool ---------------------------------------------------------- */
/* A fixed set of worker threads; cb_pool_run calls fn(ctx, ith, nth) on every
 * thread (the caller is thread 0) exactly once and returns when all are done
 * (their writes are then visible to the caller). Idle workers spin ~200 us
 * after a run, then sleep; an empty run costs well under a microsecond while
 * they spin. One caller at a time; fn must not call cb_pool_run on the same
 * pool. cb_pool_new: n_threads in 1..1024 (1 = no workers; CB_EUSAGE
 * otherwise, CB_ENOMEM / CB_ERUNTIME when allocation or pthread_create
 * fails); *out is NULL on error. cb_pool_free(NULL) is a no-op; a NULL pool
 * runs fn inline as thread 0 of 1 and has size 1. */
typedef struct cb_pool cb_pool;
int cb_pool_new(int n_threads, cb_pool **out, cb_err *err); /* n_threads >= 1 */
void cb_pool_free(cb_pool *p);
int cb_pool_size(const cb_pool *p);
void cb_pool_run(cb_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

/* ---- CPU features --------------------------------------------------------- */
/* 1 when the AVX2+FMA+F16C paths are usable (checked at run time). The env var
 * CAPBENCH_NO_AVX2=1 forces the portable path (tests use it). Read on every
 * call (cheap), so a process may flip it between calls. */
int cb_cpu_has_avx2(void);

/* ---- matrix products -------------------------------------------------------
 * y (T, N) = x (T, K) @ W^T, W ne=[K, N] of `wtype`. Rows of y are written, not
 * accumulated. pool may be NULL (single thread). Threads claim contiguous
 * chunks of N (multiples of 16 rows, ~4 per thread, from a shared counter:
 * the thread-to-row mapping varies, the results do not); small products stay
 * on the calling thread. y must not alias x or W. The _ref twin dequantizes each row
 * and accumulates in double. */
void cb_matmul(cb_pool *pool, uint32_t wtype, const void *W, const float *x, float *y,
               int64_t T, int64_t K, int64_t N);
void cb_matmul_ref(uint32_t wtype, const void *W, const float *x, float *y,
                   int64_t T, int64_t K, int64_t N);
/* cb_matmul with the kernel set named explicitly (tests, benchmarks):
 * CB_KIMPL_AUTO = what cb_matmul picks, CB_KIMPL_PORTABLE = plain C,
 * CB_KIMPL_AVX2 = AVX2/FMA/F16C (falls back to portable when the CPU lacks
 * it). Batch invariance holds within one kernel set; the two sets may differ
 * in the last bits. Supported: wtype F32/F16/BF16 any K >= 1; Q8_0 K % 32 == 0. */
enum { CB_KIMPL_AUTO = 0, CB_KIMPL_PORTABLE = 1, CB_KIMPL_AVX2 = 2 };
void cb_matmul_impl(int impl, cb_pool *pool, uint32_t wtype, const void *W, const float *x,
                    float *y, int64_t T, int64_t K, int64_t N);

/* ---- elementwise and normalization (in the engine's hot loop) ------------ */
/* out (C) = x / sqrt(mean(x^2) + eps) * w ; out may alias x. The sum of
 * squares uses 8 fixed partial sums (deterministic). */
void cb_rmsnorm(float *out, const float *x, const float *w, int64_t C, float eps);
void cb_rmsnorm_ref(float *out, const float *x, const float *w, int64_t C, float eps);
/* Rotates x (H heads of D) at position pos. n_rot dims of each head (<= D) are
 * rotated; inv_freq[i] (n_rot/2) already includes freq base and scaling.
 * neox = 0: pairs (2i, 2i+1) (llama NORM); neox = 1: pairs (i, i + n_rot/2).
 * Pair i turns by theta = pos * inv_freq[i] (cos/sin evaluated in double):
 * (a, b) -> (a cos - b sin, a sin + b cos). Dims n_rot..D-1 are untouched. */
void cb_rope(float *x, int64_t H, int64_t D, int64_t n_rot, int64_t pos, const float *inv_freq, int neox);
void cb_rope_ref(float *x, int64_t H, int64_t D, int64_t n_rot, int64_t pos, const float *inv_freq, int neox);
/* In-place softmax over n (max-subtracted, so large logits are safe; -inf
 * entries become 0). */
void cb_softmax(float *x, int64_t n);
void cb_softmax_ref(float *x, int64_t n);
/* log-softmax value of x[idx] over n >= 1 (for log-likelihoods), computed in
 * double: (x[idx] - max) - log(sum exp(x - max)). */
double cb_log_softmax_at(const float *x, int64_t n, int64_t idx);
/* gate (n) = silu(gate) * up */
void cb_swiglu(float *gate, const float *up, int64_t n);
void cb_swiglu_ref(float *gate, const float *up, int64_t n);
/* gate[i] = gelu(gate[i]) * up[i], GELU in its tanh form
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks & Gimpel), in
 * float; the _ref twin in double. */
void cb_geglu(float *gate, const float *up, int64_t n);
void cb_geglu_ref(float *gate, const float *up, int64_t n);
/* Soft-capping: x[i] = cap * tanh(x[i] / cap), cap > 0 (Gemma 2 attention
 * scores and logits); the _ref twin in double. */
void cb_softcap(float *x, int64_t n, float cap);
void cb_softcap_ref(float *x, int64_t n, float cap);
/* index of the max (lowest index on ties); n >= 1; NaNs are never chosen
 * unless x[0] is NaN. */
int64_t cb_argmax(const float *x, int64_t n);

/* ---- memory bandwidth -------------------------------------------------------
 * Measures copy bandwidth over a `bytes` source copied into a `bytes`
 * destination, split across the pool's threads (pool may be NULL); best of
 * `reps`. Convention: returns (bytes read + bytes written) per second, i.e.
 * 2 * bytes / seconds — compare it with a matvec's weight bytes read per
 * second. Returns 0 when the buffers cannot be allocated. */
double cb_measure_copy_bandwidth(cb_pool *pool, size_t bytes, int reps);

/* Weight-read rate of batch-1 decode: builds n_mats random matrices of N rows
 * of K (`wtype`, one allocation), then times passes of cb_matmul with T = 1
 * over all of them; best of `reps` passes. Returns weight bytes read per
 * second (0 when allocation fails). Pick n_mats * N * row bytes well above the
 * last-level cache to measure memory, not cache. */
double cb_bench_matvec_bandwidth(cb_pool *pool, uint32_t wtype, int64_t K, int64_t N,
                                 int64_t n_mats, int reps);

#endif
