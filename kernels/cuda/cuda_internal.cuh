/* kernels/cuda/cuda_internal.cuh — what the .cu files of the CUDA kernel set
 * share: the context struct, error-checking macros, small device helpers.
 * Included only by the .cu files of kernels/cuda.
 */
#ifndef CB_CUDA_INTERNAL_CUH
#define CB_CUDA_INTERNAL_CUH

#include "kernels/cuda/cuda_kernels.h"
extern "C" {
#include "kernels/dequant.h"
#include "kernels/kernels.h"
}

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdarg.h>
#include <stdio.h>

struct cb_cuda_ctx {
    int device;
    int n_sm;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;          /* cuBLAS workspace (set with cublasSetWorkspace: no allocations in capture) */
    size_t blas_ws_bytes;
    void *scratch;          /* cb_cuda_matmul: converted activations, dequantized weights */
    size_t scratch_bytes;
    int sync_launches;      /* CAPBENCH_CUDA_SYNC=1: synchronize and check after every launch */
};

/* Errors that a kernel raises asynchronously: they surface at whatever call
 * synchronizes next, so the message says so (and how to find the kernel). */
static inline bool cu_async_fault(cudaError_t e) {
    return e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorMisalignedAddress ||
           e == cudaErrorIllegalInstruction || e == cudaErrorHardwareStackError || e == cudaErrorAssert ||
           e == cudaErrorInvalidPc || e == cudaErrorLaunchTimeout || e == cudaErrorInvalidAddressSpace;
}
#define CU_FAULT_HINT " (a kernel queued earlier may have faulted; rerun with CAPBENCH_CUDA_SYNC=1 to name it)"

/* Maps a CUDA error to a capbench code: out of memory and missing devices or
 * drivers are CB_ENODEV, everything else CB_ERUNTIME. Clears the (non-sticky)
 * last error so later checks are not confused by it. */
static inline int cu_fail(cb_err *err, cudaError_t e, const char *what, const char *file, int line) {
    int code = CB_ERUNTIME;
    if (e == cudaErrorMemoryAllocation || e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
        e == cudaErrorInvalidDevice || e == cudaErrorDevicesUnavailable)
        code = CB_ENODEV;
    (void)cudaGetLastError();
    return cb_err_set(err, code, "CUDA: %s failed: %s (%s) at %s:%d%s", what, cudaGetErrorString(e),
                      cudaGetErrorName(e), file, line, cu_async_fault(e) ? CU_FAULT_HINT : "");
}

static inline int blas_fail(cb_err *err, cublasStatus_t s, const char *what, const char *file, int line) {
    int code = s == CUBLAS_STATUS_ALLOC_FAILED ? CB_ENODEV : CB_ERUNTIME;
    return cb_err_set(err, code, "cuBLAS: %s failed: %s (%s) at %s:%d", what, cublasGetStatusString(s),
                      cublasGetStatusName(s), file, line);
}

/* Return from the calling launcher with a status when a call fails. */
#define CU_TRY(call)                                                                                               \
    do {                                                                                                           \
        cudaError_t e_ = (call);                                                                                   \
        if (e_ != cudaSuccess) return cu_fail(err, e_, #call, __FILE__, __LINE__);                                 \
    } while (0)
#define BLAS_TRY(call)                                                                                             \
    do {                                                                                                           \
        cublasStatus_t s_ = (call);                                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) return blas_fail(err, s_, #call, __FILE__, __LINE__);                     \
    } while (0)

/* The check after a launch (or a cuBLAS call, or a graph replay): the launch
 * error, and with CAPBENCH_CUDA_SYNC=1 (c->sync_launches) also a stream
 * synchronization, so that a fault is reported by the launch that caused it.
 * `fmt` names the kernel and its grid; it is formatted only on failure. While
 * the stream is being captured into a graph nothing runs, so nothing is
 * synchronized (the replay is checked instead). */
static inline int cu_launched(cb_cuda_ctx *c, cb_err *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline int cu_launched(cb_cuda_ctx *c, cb_err *err, const char *file, int line, const char *fmt, ...) {
    cudaError_t e = cudaGetLastError();
    const char *when = "launch";
    if (e == cudaSuccess && c->sync_launches) {
        cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
        e = cudaStreamIsCapturing(c->stream, &st);
        if (e == cudaSuccess && st == cudaStreamCaptureStatusNone) {
            e = cudaStreamSynchronize(c->stream);
            when = "run (CAPBENCH_CUDA_SYNC=1)";
        }
    }
    if (e == cudaSuccess) return 0;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int code = e == cudaErrorMemoryAllocation ? CB_ENODEV : CB_ERUNTIME;
    (void)cudaGetLastError();
    return cb_err_set(err, code, "CUDA: %s %s failed: %s (%s) at %s:%d", what, when, cudaGetErrorString(e),
                      cudaGetErrorName(e), file, line);
}
/* After every <<<>>> launch: CU_LAUNCHED("name grid (%u, %u, %u) block %u", ...). */
#define CU_LAUNCHED(...)                                                                                           \
    do {                                                                                                           \
        int rc_ = cu_launched(c, err, __FILE__, __LINE__, __VA_ARGS__);                                            \
        if (rc_) return rc_;                                                                                       \
    } while (0)

static inline unsigned cdiv(int64_t a, int64_t b) { return (unsigned)((a + b - 1) / b); }

/* Whole-warp sums and maxima; the result is taken from lane 0 and broadcast
 * so every lane holds the identical value. */
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}
__device__ __forceinline__ double warp_sum_d(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Stores v as element i of an activation buffer of type F32, F16 or BF16. */
__device__ __forceinline__ void store_act(void *out, int64_t i, float v, uint32_t type) {
    if (type == CB_KTYPE_F16) ((__half *)out)[i] = __float2half_rn(v);
    else if (type == CB_KTYPE_BF16) ((__nv_bfloat16 *)out)[i] = __float2bfloat16_rn(v);
    else ((float *)out)[i] = v;
}

/* Device bytes of one row of K weights of a block type decoded by
 * kernels/dequant.h (rows are stored as GGUF lays them out). */
__device__ __forceinline__ int64_t dq_row_bytes(uint32_t type, int64_t K) {
    return K / cb_dq_block_elems(type) * cb_dq_block_bytes(type);
}

/* One weight element of row n, column k, as float (any type; Q8_0 repacked;
 * the 4/5/6-bit types through kernels/dequant.h). */
__device__ __forceinline__ float load_w1(uint32_t type, const void *W, const __half *scales, int64_t n, int64_t K,
                                         int64_t k) {
    int64_t i = n * K + k;
    switch (type) {
    case CB_KTYPE_F32: return ((const float *)W)[i];
    case CB_KTYPE_F16: return __half2float(((const __half *)W)[i]);
    case CB_KTYPE_BF16: return __bfloat162float(((const __nv_bfloat16 *)W)[i]);
    case CB_KTYPE_Q8_0: {
        float d = __half2float(scales[n * (K / CB_QK8_0) + k / CB_QK8_0]);
        return d * (float)((const int8_t *)W)[i];
    }
    default: {
        float v[16];
        cb_dq16(type, (const uint8_t *)W + n * dq_row_bytes(type, K), k & ~(int64_t)15, v);
        return v[k & 15];
    }
    }
}

#endif
