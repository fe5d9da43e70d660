/* kernels/cuda/cuda_kernels.h — the CUDA kernel set of the engine, as a plain C
 * interface: opaque context, void* device pointers, int status returns with
 * the message in a cb_err. Only files under kernels/cuda/ include
 * cuda_runtime.h or cublas_v2.h; everything here is callable from C.
 *
 * Every kernel has a CPU twin in kernels/kernels.h (tests/kernels/test_cuda.c
 * compares them on random inputs). Conventions:
 *   - Device pointers are `void *` / `float *` that came from cb_cuda_alloc
 *     (or point inside such an allocation). Shapes use the names of
 *     kernels.h: T tokens, K in, N out, C channels, H heads, D head size,
 *     V vocab. Matrices are row-major; `ld*` is a row stride in elements.
 *   - Launchers enqueue on the context's stream and return without waiting;
 *     a nonzero status means a launch or API call failed (CB_ERUNTIME with the
 *     CUDA / cuBLAS error string, CB_ENODEV when there is no usable device,
 *     CB_ENOMEM when device memory ran out, CB_EUSAGE for bad sizes).
 *     Asynchronous faults surface at the next synchronizing call
 *     (cb_cuda_download, cb_cuda_sync), whose message then says so; with
 *     CAPBENCH_CUDA_SYNC=1 in the environment when the context is made,
 *     every launcher (and graph replay) synchronizes and checks, so the
 *     error names the kernel and its grid (debugging; slow).
 *   - Activations between kernels are F32. cb_cuda_matmul converts them to
 *     what the product needs (see there).
 *   - Per-token integer inputs (positions, slots, token ids, row indices) are
 *     read from device memory, so a captured graph of a decode step does not
 *     depend on them (see cb_cuda_graph_*).
 *
 * Not here: model layout and the forward pass (engine/model_cuda.c).
 */
#ifndef CB_CUDA_KERNELS_H
#define CB_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/err.h"

/* ---- devices ------------------------------------------------------------------ */

typedef struct cb_cuda_device_info {
    char name[256];
    int cc_major, cc_minor;  /* compute capability */
    int n_sm;                /* multiprocessors */
    size_t total_mem;        /* bytes */
    size_t free_mem;         /* bytes free when queried */
    size_t l2_bytes;
} cb_cuda_device_info;

/* Number of CUDA devices in *count. Returns 0 with *count > 0, or CB_ENODEV
 * with *count = 0 and a message naming the reason (the cudaError string, e.g.
 * "no CUDA-capable device is detected", or "0 devices"). */
int cb_cuda_device_count(int *count, cb_err *err);
/* Properties and current memory of device `dev`. CB_ENODEV when absent. */
int cb_cuda_device_info_get(int dev, cb_cuda_device_info *out, cb_err *err);

/* ---- context -------------------------------------------------------------------- */

/* A device, one stream on it, a cuBLAS handle bound to that stream with its
 * own workspace, and a growable scratch area used by cb_cuda_matmul for
 * converted activations and dequantized (Q8_0, 4/5/6-bit) weights. No globals: two
 * contexts are independent. Errors: CB_ENODEV (no such device / no driver),
 * CB_ENOMEM, CB_ERUNTIME. */
typedef struct cb_cuda_ctx cb_cuda_ctx;
int cb_cuda_ctx_new(int device, cb_cuda_ctx **out, cb_err *err);
void cb_cuda_ctx_free(cb_cuda_ctx *c);   /* NULL is a no-op; waits for the stream */
int cb_cuda_ctx_device(const cb_cuda_ctx *c);
/* Waits for all work queued on the context's stream; reports asynchronous
 * faults. */
int cb_cuda_sync(cb_cuda_ctx *c, cb_err *err);
/* Makes the matmul scratch at least `bytes` long (allocates now so that the
 * hot path and graph capture never allocate). */
int cb_cuda_reserve(cb_cuda_ctx *c, size_t bytes, cb_err *err);

/* ---- memory ------------------------------------------------------------------- */

/* Device allocation; CB_ENODEV (with the request size, free memory and the
 * cudaError string) when the device is out of memory. cb_cuda_free(NULL) is a no-op. */
int cb_cuda_alloc(cb_cuda_ctx *c, size_t bytes, void **dptr, cb_err *err);
void cb_cuda_free(cb_cuda_ctx *c, void *dptr);
/* Host <-> device copies, ordered on the context stream; both return after the
 * copy is complete (the host buffer may be reused at once). */
int cb_cuda_upload(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err);
int cb_cuda_download(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err);
/* Asynchronous upload from host memory that stays valid until the next
 * cb_cuda_sync/download (used for per-step index arrays). */
int cb_cuda_upload_async(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err);
/* Asynchronous download into host memory; complete after the next
 * cb_cuda_sync (used to fetch several small results with one wait). */
int cb_cuda_download_async(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err);
/* Device-to-device copy and byte fill, queued on the stream. */
int cb_cuda_copy(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err);
int cb_cuda_memset(cb_cuda_ctx *c, void *dst, int byte, size_t bytes, cb_err *err);

/* ---- weights -------------------------------------------------------------------- */

/* A weight matrix in device memory, ne = [K, N] (N rows of K), as kernels.h
 * lays them out. F32/F16/BF16 rows are copied as they are. Q8_0 is repacked
 * into two arrays so that rows load 16 bytes at a time: qs (N, K) int8 and
 * scales (N, K/32) fp16; value = fp16(d) * q, exactly the CPU's value.
 * Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K rows are copied as GGUF blocks and
 * decoded by kernels/dequant.h (bit for bit the CPU's values). */
typedef struct cb_cuda_weight {
    uint32_t type;       /* CB_KTYPE_* */
    int64_t K, N;
    void *data;          /* F32/F16/BF16 rows, or Q8_0 qs */
    void *scales;        /* Q8_0 only */
    size_t bytes;        /* device bytes of data + scales */
} cb_cuda_weight;

/* Uploads n_parts host matrices of one type and K, stacked along N into one
 * device matrix (parts[i] has Ns[i] rows; a single matrix is n_parts = 1).
 * Used to fuse Q/K/V and gate/up into one product. Errors: CB_EUNSUP (a
 * type with no CUDA kernel, named in the message), CB_EUSAGE (K not a
 * multiple of the type's block: 32, or 256 for the K-quants), CB_ENOMEM. */
int cb_cuda_weight_upload(cb_cuda_ctx *c, uint32_t type, int64_t K, const void *const *parts,
                          const int64_t *Ns, int n_parts, cb_cuda_weight *out, cb_err *err);
void cb_cuda_weight_free(cb_cuda_ctx *c, cb_cuda_weight *w); /* zeroes *w */

/* ---- matrix products -------------------------------------------------------------
 * y (T, N) [row stride ldy] = x (T, K) F32 @ W^T, FP32 accumulation.
 *   T <= CB_CUDA_SMALL_T: a matrix-vector kernel reads W once for all T rows
 *     and x in F32 (every type, Q8_0 and the 4/5/6-bit types dequantized on
 *     the fly; unlike the CPU, x is not quantized for those). Each y[t, n] is
 *     one dot product in a fixed order that depends only on (type, K): batch
 *     invariant within this range.
 *   T > CB_CUDA_SMALL_T: cublasGemmEx, CUBLAS_COMPUTE_32F. F32 weights use F32
 *     x; F16 / BF16 weights use x converted to F16 / BF16 (the activations are
 *     rounded to the weight's format, ~1e-3 relative); Q8_0 and 4/5/6-bit
 *     weights are first dequantized into F16 scratch and x converted to F16.
 * Scratch: cb_cuda_matmul_scratch_bytes; when the context's scratch is too
 * small the call grows it (not allowed during graph capture: reserve first). */
#define CB_CUDA_SMALL_T 8
/* The activation type the product of W with T rows consumes without a
 * conversion pass: F32 for T <= CB_CUDA_SMALL_T or F32 weights, F16 for F16,
 * Q8_0 and the 4/5/6-bit types, BF16 for BF16. */
uint32_t cb_cuda_matmul_input_type(const cb_cuda_weight *W, int64_t T);
/* cb_cuda_matmul with x of type xtype: F32 (converted as needed), or exactly
 * cb_cuda_matmul_input_type(W, T) (used as is; producers such as
 * cb_cuda_add_rmsnorm_t and cb_cuda_swiglu_t write it directly, which saves a
 * conversion pass before each large product). Other types: CB_EUSAGE. The
 * result is bit-identical to converting the same F32 values. */
int cb_cuda_matmul_x(cb_cuda_ctx *c, const cb_cuda_weight *W, const void *x, uint32_t xtype, float *y, int64_t ldy,
                     int64_t T, cb_err *err);
/* Scratch bytes cb_cuda_matmul needs for this weight and T (0 when none). */
size_t cb_cuda_matmul_scratch_bytes(const cb_cuda_weight *w, int64_t T);
int cb_cuda_matmul(cb_cuda_ctx *c, const cb_cuda_weight *W, const float *x, float *y, int64_t ldy, int64_t T,
                   cb_err *err);

/* Fused matrix-vector products for steps of T <= CB_CUDA_SMALL_T (decode),
 * same kernel and per-element order as the small-T cb_cuda_matmul:
 *   CB_CUDA_MV_NORM         y (T, N) = (rmsnorm(x) * nw) @ W^T: each warp sums
 *                           x^2 of its row of x as it reads it and scales the
 *                           finished dot product by 1/sqrt(mean(x^2) + eps)
 *   CB_CUDA_MV_ADD          y (T, N) += x @ W^T (residual update; nw unused)
 *   CB_CUDA_MV_SWIGLU_NORM  W stacks gate rows [0, F) over up rows [F, 2F);
 *                           y (T, F) = silu(g) * u, (g | u) = (rmsnorm(x) * nw) @ W^T
 * x: (T, K) F32; nw: (K) F32 norm weights. Agrees with the unfused kernels to
 * rounding (~1e-6 relative); batch invariant like cb_cuda_matmul's small-T
 * path. Errors: CB_EUSAGE (T > CB_CUDA_SMALL_T, bad mode or sizes). */
enum { CB_CUDA_MV_NORM = 1, CB_CUDA_MV_ADD = 2, CB_CUDA_MV_SWIGLU_NORM = 3 };
int cb_cuda_matvec_fused(cb_cuda_ctx *c, int mode, const cb_cuda_weight *W, const float *x, const float *nw, float eps,
                         float *y, int64_t ldy, int64_t T, cb_err *err);

/* ---- per-token kernels (twins of kernels.h) ------------------------------------- */

/* x (T, C) = rows token[t] of the embedding matrix E, converted to F32.
 * token: device int32 (T). */
int cb_cuda_embed(cb_cuda_ctx *c, const cb_cuda_weight *E, const int32_t *token, float *x, int64_t T,
                  cb_err *err);
/* For r < R, with src = rows ? rows[r] : r (rows: device int32 (R) or NULL):
 *   v = x[src] + (add ? add[src] : 0)           (C floats)
 *   x[src] = v        only when rows == NULL and add != NULL (residual update)
 *   out[r] = v / sqrt(mean(v^2) + eps) * w      (twin of cb_rmsnorm)
 * x, add: (T, C); out: (R, C). out may alias x or add when rows == NULL (each
 * row is read whole before it is written). */
int cb_cuda_add_rmsnorm(cb_cuda_ctx *c, float *x, const float *add, const float *w, float *out, const int32_t *rows,
                        int64_t T, int64_t R, int64_t C, float eps, cb_err *err);
/* The same with out of type out_type (F32, F16 or BF16, rounded to nearest
 * even); out must not alias x or add unless out_type is F32. */
int cb_cuda_add_rmsnorm_t(cb_cuda_ctx *c, float *x, const float *add, const float *w, void *out, uint32_t out_type,
                          const int32_t *rows, int64_t T, int64_t R, int64_t C, float eps, cb_err *err);
/* y (n) += x (n). */
int cb_cuda_add(cb_cuda_ctx *c, float *y, const float *x, int64_t n, cb_err *err);
/* y (T, N) [row stride ldy] += b (N) in every row (the q/k/v biases of
 * qwen2). One float add per element, as the CPU model's add: bit-identical. */
int cb_cuda_add_bias(cb_cuda_ctx *c, float *y, int64_t ldy, const float *b, int64_t T, int64_t N, cb_err *err);
/* Rotates, in place, H heads of D floats in each of T rows of x (row stride
 * ld) at position pos[t] (device int32, T). inv_freq: device float (n_rot/2).
 * neox as in cb_rope. Angles are computed in double as the CPU does. */
int cb_cuda_rope(cb_cuda_ctx *c, float *x, int64_t ld, int64_t T, int64_t H, int64_t D, int64_t n_rot,
                 const int32_t *pos, const float *inv_freq, int neox, cb_err *err);
/* out (T, F) = silu(gate) * up, where gate and up are the two halves of each
 * row of gu (T, 2F): gate = gu[t, 0:F), up = gu[t, F:2F). Twin of cb_swiglu. */
int cb_cuda_swiglu(cb_cuda_ctx *c, const float *gu, float *out, int64_t T, int64_t F, cb_err *err);
/* The same with out of type out_type (F32, F16 or BF16). */
int cb_cuda_swiglu_t(cb_cuda_ctx *c, const float *gu, void *out, uint32_t out_type, int64_t T, int64_t F, cb_err *err);
/* lp[r] (double) = log_softmax(x[r])[idx[r]] for R rows of V (device idx
 * int32, R). Sum of exponentials in double. Twin of cb_log_softmax_at. */
int cb_cuda_log_softmax_gather(cb_cuda_ctx *c, const float *x, const int32_t *idx, double *lp, int64_t R, int64_t V,
                               cb_err *err);
/* out[r] (int32) = argmax of row r of x (R, V), lowest index on ties. Twin of
 * cb_argmax. */
int cb_cuda_argmax(cb_cuda_ctx *c, const float *x, int32_t *out, int64_t R, int64_t V, cb_err *err);

/* ---- KV cache and attention --------------------------------------------------------
 * The cache is F32, layout [layer][slot][K|V][n_ctx][Hkv*D] (the CPU's). */
typedef struct cb_cuda_kv_shape {
    int n_layer, n_slots, n_ctx;
    int64_t kv_dim;   /* Hkv * D */
} cb_cuda_kv_shape;
/* Float offset of (layer, slot, which: 0 = K, 1 = V) in the cache. */
size_t cb_cuda_kv_offset(const cb_cuda_kv_shape *s, int layer, int slot, int which);

/* Writes rows of k and v (T rows, row stride ld, kv_dim floats each) into
 * layer `layer` of the cache at (slot[t], pos[t]) (device int32 arrays). */
int cb_cuda_kv_store(cb_cuda_ctx *c, float *cache, const cb_cuda_kv_shape *s, int layer, const float *k,
                     const float *v, int64_t ld, const int32_t *slot, const int32_t *pos, int64_t T, cb_err *err);

/* RoPE on the q and k heads of a stacked qkv row (q: H heads at column 0,
 * k: Hkv heads at H*D, v at H*D + Hkv*D; row stride ld) and the KV store of
 * k and v, in one launch: the same values as cb_cuda_rope on H + Hkv heads
 * followed by cb_cuda_kv_store. */
int cb_cuda_rope_kv_store(cb_cuda_ctx *c, float *qkv, int64_t ld, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                          int64_t n_rot, const int32_t *pos, const float *inv_freq, int neox, float *cache,
                          const cb_cuda_kv_shape *s, int layer, const int32_t *slot, cb_err *err);

/* Query tiles: consecutive batch tokens of one slot at consecutive positions,
 * at most CB_CUDA_ATTN_QT rows each; built by cb_cuda_attn_tiles on the host
 * and uploaded as int32 quadruples (t0, n, slot, pos0). */
#define CB_CUDA_ATTN_QT 16
/* Positions per split of the sequence (attention over a long context runs in
 * parallel splits merged by a combine step). */
#define CB_CUDA_ATTN_CHUNK 256
/* Fills tiles (4 int32 each, room for T tiles) from host arrays slot/pos (T);
 * returns the tile count and the largest tile's token count in *max_nt. */
int cb_cuda_attn_tiles(const int32_t *slot, const int32_t *pos, int T, int32_t *tiles, int *max_nt);
/* Scratch floats attention needs for T tokens, H heads, D, n_split splits. */
size_t cb_cuda_attn_scratch_floats(int64_t T, int64_t H, int64_t D, int n_split);

/* out (T, H*D) [row stride ldo] = softmax(q k^T / sqrt(D)) v for each token t
 * and head h, over positions [0, pos of t] of its slot in layer `layer` of the
 * cache (causal; GQA: head h reads kv head h / (H / Hkv)). q: (T, H*D) row
 * stride ldq. tiles: device (n_tiles, 4) int32; max_nt: the largest tile's
 * token count (blocks are made for that many rows per tile). n_split: splits of
 * CB_CUDA_ATTN_CHUNK positions evaluated (>= ceil((max pos + 1) / CHUNK);
 * extra splits are empty), partial results in `scratch`
 * (cb_cuda_attn_scratch_floats) merged in split order: by a separate combine
 * kernel when counters is NULL, else by the last block of each (tile, kv
 * head) to finish (counters: device, zeroed unsigned ints, at least
 * n_tiles * ceil(max_nt * H/Hkv / 16) * Hkv <= T * H of them, left zeroed;
 * saves a launch). With n_split = 1 rows are written directly. The
 * result of a row depends only on its own q, slot and position, never on
 * tiles, n_split or the combine variant (bit-identical). D <= 128. Twin: the
 * CPU model's attention (softmax and weighted sum in float). */
int cb_cuda_attention(cb_cuda_ctx *c, const float *cache, const cb_cuda_kv_shape *s, int layer, const float *q,
                      int64_t ldq, float *out, int64_t ldo, const int32_t *tiles, int n_tiles, int max_nt, int64_t T,
                      int64_t H, int64_t Hkv, int64_t D, int n_split, float *scratch, unsigned int *counters,
                      cb_err *err);

/* ---- CUDA graphs ----------------------------------------------------------------------
 * A decode step is captured once per batch size and replayed. Capture:
 * cb_cuda_graph_begin, then the launchers as usual (they are recorded, not
 * run), then cb_cuda_graph_end which instantiates the graph. The graph holds
 * device pointers and sizes only, so every per-step input (token ids,
 * positions, slots, attention tiles, output rows) must live in device buffers
 * that are rewritten (cb_cuda_upload_async) before each cb_cuda_graph_launch:
 * that is the update strategy, no cudaGraphExecUpdate is needed. Attention's
 * n_split must be fixed (the maximum for the context) when capturing. */
typedef struct cb_cuda_graph cb_cuda_graph;
int cb_cuda_graph_begin(cb_cuda_ctx *c, cb_err *err);
/* Ends the capture. On success *out is an instantiated graph; on failure the
 * capture is abandoned and the stream is usable again. */
int cb_cuda_graph_end(cb_cuda_ctx *c, cb_cuda_graph **out, cb_err *err);
int cb_cuda_graph_launch(cb_cuda_ctx *c, cb_cuda_graph *g, cb_err *err);
void cb_cuda_graph_free(cb_cuda_graph *g);

/* ---- measurements (benchmark) ------------------------------------------------------------ */
/* Device-to-device copy of `bytes` (best of reps): returns (read + write) bytes
 * per second in *bw. */
int cb_cuda_measure_copy_bandwidth(cb_cuda_ctx *c, size_t bytes, int reps, double *bw, cb_err *err);
/* A square F16 GEMM of size n (FP32 accumulation, random inputs), median of
 * reps after warm-up: FLOP/s (2 n^3 / s) in *flops. */
int cb_cuda_measure_gemm_peak(cb_cuda_ctx *c, int n, int reps, double *flops, cb_err *err);
/* Elapsed seconds measured with device events around fn(arg) queued on the
 * context's stream. */
int cb_cuda_time(cb_cuda_ctx *c, int (*fn)(void *arg, cb_err *err), void *arg, double *seconds, cb_err *err);

#ifdef __cplusplus
}
#endif

#endif
