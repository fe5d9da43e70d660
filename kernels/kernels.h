/* kernels/kernels.h — the compute kernels the engine calls, one interface for
 * all kernel sets. This header is the CPU side (kernels/cpu/); the CUDA twins
 * are declared in kernels/cuda/cuda_kernels.h behind extern "C" launchers.
 *
 * Dimension names: T tokens (rows of activations), K input features,
 * N output features, C channels, H heads, D head size, V vocab.
 * Weight matrices are stored as GGUF lays them out: ne = [K, N], i.e. N rows
 * of K elements, row-major, in the weight's dtype (F32, F16, BF16, Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K).
 *
 * Determinism contract (batch invariance): every output element is computed
 * with the same sequence of floating-point operations whatever T, the thread
 * count, or the row's position in the batch. Optimized kernels may block over
 * rows and tokens, but each y[t,n] must be a dot product evaluated in one fixed
 * order for a given (dtype, K). The naive reference kernels (`_ref`) are the
 * plain loops the tests compare against within a tolerance.
 *
 * Kernels never allocate on the hot path; scratch comes from the caller.
 * (Exception: the quantized activations of the 4/5/6-bit matmuls live in a
 * per-thread buffer that grows once to the largest T*K seen and is reused.)
 */
#ifndef CB_KERNELS_H
#define CB_KERNELS_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* ---- numeric formats ---------------------------------------------------- */
/* Weight types, numbered as ggml numbers them (same values as engine/gguf.h). */
enum {
    CB_KTYPE_F32 = 0, CB_KTYPE_F16 = 1, CB_KTYPE_Q4_0 = 2, CB_KTYPE_Q4_1 = 3, CB_KTYPE_Q5_0 = 6,
    CB_KTYPE_Q5_1 = 7, CB_KTYPE_Q8_0 = 8, CB_KTYPE_Q8_1 = 9, CB_KTYPE_Q4_K = 12, CB_KTYPE_Q5_K = 13,
    CB_KTYPE_Q6_K = 14, CB_KTYPE_Q8_K = 15, CB_KTYPE_BF16 = 30
};

#define CB_QK8_0 32
typedef struct {
    uint16_t d;            /* fp16 scale */
    int8_t qs[CB_QK8_0];   /* value = d * qs[i] */
} cb_block_q8_0;           /* 34 bytes */

/* The block formats below are GGUF/ggml's, byte for byte (all fields
 * little-endian; fp16 scales). Element order within a block is written next
 * to each struct; "q" is the stored unsigned code. Blocks of 32 elements: */
#define CB_QK4_0 32
typedef struct {
    uint16_t d;
    uint8_t qs[16];        /* element j: low nibble of qs[j]; element j+16: high nibble */
} cb_block_q4_0;           /* 18 bytes; value = d * (q - 8) */
typedef struct {
    uint16_t d, m;
    uint8_t qs[16];        /* as Q4_0 */
} cb_block_q4_1;           /* 20 bytes; value = d * q + m */
typedef struct {
    uint16_t d;
    uint8_t qh[4];         /* u32 LE: bit j is bit 4 of element j (j = 0..31) */
    uint8_t qs[16];        /* low 4 bits as Q4_0 */
} cb_block_q5_0;           /* 22 bytes; value = d * (q - 16) */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} cb_block_q5_1;           /* 24 bytes; value = d * q + m */
typedef struct {
    uint16_t d, s;         /* s = fp16(d * sum of qs) */
    int8_t qs[32];
} cb_block_q8_1;           /* 36 bytes (activations only) */

/* K-quants: super-blocks of 256 elements. Q4_K/Q5_K have 8 sub-blocks of 32,
 * each with a 6-bit scale sc and 6-bit min m packed into scales[12] (see
 * cb_kq_scale_min); value = d*sc*q - dmin*m. Elements 64c .. 64c+31 are the
 * low nibbles of qs[32c .. 32c+31] (sub-block 2c), elements 64c+32 .. 64c+63
 * their high nibbles (sub-block 2c+1), c = 0..3. Q5_K's fifth bit of element
 * 64c + l is bit 2c of qh[l], of element 64c + 32 + l bit 2c+1 of qh[l]. */
#define CB_QK_K 256
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} cb_block_q4_k;           /* 144 bytes */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} cb_block_q5_k;           /* 176 bytes */
/* Q6_K: 16 sub-blocks of 16 with int8 scales; value = d * scales[e/16] * (q - 32).
 * Halves h = 0, 1 of 128 elements use ql[64h ..], qh[32h ..]; in a half,
 * element 32i + l (i = 0..3, l = 0..31) has low 4 bits from ql[l + 32*(i&1)]
 * (low nibble for i < 2, high nibble for i >= 2) and high 2 bits from bits
 * 2i, 2i+1 of qh[l]. */
typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
} cb_block_q6_k;           /* 210 bytes */
/* Q8_K (activations only): value = d * qs; bsums[g] = sum of qs[16g .. 16g+15]. */
typedef struct {
    float d;
    int8_t qs[CB_QK_K];
    int16_t bsums[CB_QK_K / 16];
} cb_block_q8_k;           /* 292 bytes */

/* Scalar IEEE conversions, portable bit manipulation. Infinities keep their
 * sign, NaNs stay NaN (quieted), subnormals on both sides are exact or rounded
 * to nearest even; values past the fp16 range (>= 65520) become infinity. */
float cb_fp16_to_fp32(uint16_t h);
uint16_t cb_fp32_to_fp16(float f);   /* round to nearest even */
float cb_bf16_to_fp32(uint16_t h);
uint16_t cb_fp32_to_bf16(float f);   /* round to nearest even */
/* Elements per block of `type` (1 for F32/F16/BF16, 32 for Q4_0..Q8_1, 256
 * for the K-quants) and bytes per block; both 0 for a type the kernels do not
 * know. */
int64_t cb_type_block_elems(uint32_t type);
size_t cb_type_block_bytes(uint32_t type);
/* Bytes of one row of K elements of ggml type `type`; 0 for an unsupported
 * type or a K that is not a multiple of the type's block size. */
size_t cb_row_bytes(uint32_t type, int64_t K);
/* Quantizes n floats (n % 32 == 0) into Q8_0 blocks: per block of 32,
 * d = max|x|/127 (stored as fp16), q = round(x/d) clamped to [-127, 127]
 * (q = 0 for an all-zero block). Dequantized value = fp16(d) * q. */
void cb_quantize_q8_0(const float *x, cb_block_q8_0 *out, int64_t n);
/* Converts one row of K elements of `type` to floats (out: K floats). An
 * unsupported type is a programmer error (assert); check cb_row_bytes() != 0.
 * Every quantized value is d*q products that are exact in fp32 (fp16 scale x
 * at most 7-bit integers, each factor at most 24 significant bits) plus at
 * most one add/subtract, so the result is the exact format value rounded once
 * to nearest: bit-exact whatever the evaluation order or FMA use. */
void cb_dequantize_row(uint32_t type, const void *row, float *out, int64_t K);

/* Quantizes n floats (n a multiple of the block size) into a row of `type`
 * (F32, F16, BF16, Q8_0 and the weight types Q4_0 .. Q6_K). Our own
 * round-to-nearest quantizers with the format's scale choice (kernels/cpu/
 * quant.c says which); they do not search for error-minimizing scales as
 * llama.cpp's quantize does, so files differ from llama-quantize's in the
 * codes, not in the format. Deterministic: a function of the input bits. */
void cb_quantize_row(uint32_t type, const float *x, void *out, int64_t n);

/* Q4_K/Q5_K scale packing: 8 six-bit scales ls[j] and mins lm[j] in 12 bytes.
 * j < 4: scales[j] low 6 bits = ls[j], scales[j+4] low 6 bits = lm[j];
 * j >= 4: scales[j+4] = (ls[j] & 15) | (lm[j] & 15) << 4, and the top two
 * bits of ls[j] / lm[j] go to bits 6-7 of scales[j-4] / scales[j]. */
void cb_kq_pack_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t scales[12]);
void cb_kq_scale_min(const uint8_t scales[12], int j, uint8_t *sc, uint8_t *m);

/* Activation format the matmul quantizes x to before a product with weights
 * of `wtype`: Q8_0 for Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants
 * (as ggml's CPU backend does), F32 (no quantization) for F32/F16/BF16/Q8_0. */
uint32_t cb_act_type(uint32_t wtype);
/* Quantizes n activations (n a multiple of the block size) to atype:
 * Q8_0/Q8_1: per 32, amax = max|x|, d = amax/127 (stored fp16), q =
 *   rint(x * (127/amax)) (ties to even; 0 when amax is 0); Q8_1 adds
 *   s = fp16(d * sum q). (ggml's AVX2 quantize_row_q8_0/q8_1 rounding.)
 * Q8_K: per 256, max = the element of largest |x| (first one), iscale =
 *   -127/max, q = min(127, rint(iscale * x)), d = 1/iscale (fp32), bsums.
 * A zero block gets d = 0 and q = 0. */
void cb_quantize_act(uint32_t atype, const float *x, void *out, int64_t n);

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
/* 1 when cb_cpu_has_avx2() and the CPU has AVX-512 F/VL/DQ/BW (the batched
 * kernel for F32-activation weights). CAPBENCH_NO_AVX512=1 turns it off;
 * results are the same either way (matmul_avx512.c). */
int cb_cpu_has_avx512(void);

/* ---- matrix products -------------------------------------------------------
 * y (T, N) = x (T, K) @ W^T, W ne=[K, N] of `wtype`. Rows of y are written, not
 * accumulated. pool may be NULL (single thread). Threads claim contiguous
 * chunks of N (multiples of 16 rows, ~4 per thread, from a shared counter:
 * the thread-to-row mapping varies, the results do not); small products stay
 * on the calling thread. y must not alias x or W. The _ref twin dequantizes each row
 * and accumulates in double; for the types with quantized activations
 * (cb_act_type != F32) it uses x quantized and decoded as the kernels see it,
 * so it checks the products, not the activation rounding. */
void cb_matmul(cb_pool *pool, uint32_t wtype, const void *W, const float *x, float *y,
               int64_t T, int64_t K, int64_t N);
void cb_matmul_ref(uint32_t wtype, const void *W, const float *x, float *y,
                   int64_t T, int64_t K, int64_t N);
/* cb_matmul with the kernel set named explicitly (tests, benchmarks):
 * CB_KIMPL_AUTO = what cb_matmul picks, CB_KIMPL_PORTABLE = plain C,
 * CB_KIMPL_AVX2 = AVX2/FMA/F16C (falls back to portable when the CPU lacks
 * it), CB_KIMPL_AVX512 = AVX2 with the AVX-512 batched kernel for
 * F32/F16/BF16/Q8_0 when T >= 4 (bit-identical to CB_KIMPL_AVX2; falls back
 * to it without AVX-512; AUTO picks it when cb_cpu_has_avx512()). Batch invariance holds within one kernel set; the two sets may differ
 * in the last bits for F32/F16/BF16/Q8_0 and are bit-identical for the
 * quantized-activation types. Supported: wtype F32/F16/BF16 any K >= 1;
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 K % 32 == 0; Q4_K, Q5_K, Q6_K K % 256 == 0. */
enum { CB_KIMPL_AUTO = 0, CB_KIMPL_PORTABLE = 1, CB_KIMPL_AVX2 = 2, CB_KIMPL_AVX512 = 3 };
void cb_matmul_impl(int impl, cb_pool *pool, uint32_t wtype, const void *W, const float *x,
                    float *y, int64_t T, int64_t K, int64_t N);

/* ---- elementwise and normalization (in the engine's hot loop) ------------ */
/* out (C) = x / sqrt(mean(x^2) + eps) * w ; out may alias x. ggml's order to
 * the bit (float squares summed in double, mean rounded to float, scale =
 * 1/sqrtf(mean + eps), (x * scale) * w): quantized activations downstream
 * depend on these exact bits (kernels/cpu/ops.c says why). */
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

/* Read bandwidth: bytes read per second of a sum over a `bytes` buffer
 * split into one contiguous slice per pool thread (8-byte loads, four
 * independent chains per thread, software prefetch 8 KiB ahead; pages first
 * touched by their reader); best
 * of `reps`. The access pattern of a matvec's weight stream, so the yardstick
 * a decode's weight-read rate is divided by. Pick bytes well above the
 * last-level cache. Returns 0 when the buffer cannot be allocated. */
double cb_measure_read_bandwidth(cb_pool *pool, size_t bytes, int reps);

/* Size in bytes of the last-level data cache cpu0 reports (the highest
 * level in /sys/devices/system/cpu/cpu0/cache, else sysconf's L3/L2 size);
 * 0 when unknown. A shared L3 is reported whole, a per-CCX one per CCX. */
size_t cb_llc_bytes(void);

/* Weight-read rate of batch-1 decode: builds n_mats random matrices of N rows
 * of K (`wtype`, one allocation), then times passes of cb_matmul with T = 1
 * over all of them; best of `reps` passes. Returns weight bytes read per
 * second (0 when allocation fails). Pick n_mats * N * row bytes well above the
 * last-level cache to measure memory, not cache. */
double cb_bench_matvec_bandwidth(cb_pool *pool, uint32_t wtype, int64_t K, int64_t N,
                                 int64_t n_mats, int reps);
/* FLOP rate (2 T K N per second) of y (T, N) = x (T, K) @ W^T with the kernel
 * set `impl` (CB_KIMPL_*), random weights of `wtype` quantized by
 * cb_quantize_row: the T tokens as one batch, or (one_at_a_time) as T
 * calls of one token each, the way a loop of matrix-vector products would
 * run them. Best of `reps`. 0 when allocation fails or the shape is invalid. */
double cb_bench_matmul_flops(cb_pool *pool, int impl, uint32_t wtype, int64_t K, int64_t N, int64_t T,
                             int one_at_a_time, int reps);

#endif
