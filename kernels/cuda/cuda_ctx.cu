/* kernels/cuda/cuda_ctx.cu — device query, the context (stream, cuBLAS handle,
 * workspace, scratch), device memory, weight upload, matrix products, CUDA
 * graphs and the two ceiling measurements (copy bandwidth, GEMM peak).
 *
 * Matrix products (see cb_cuda_matmul in cuda_kernels.h):
 *   small T  mv_kernel: one warp per output row n, lanes stride over K with
 *            16-byte weight loads (4 F32, 8 F16/BF16, 16 Q8_0 elements; the
 *            4/5/6-bit types decode 16 elements of a block per step through
 *            kernels/dequant.h, byte loads from GGUF's own layout), each
 *            weight chunk applied to up to TT token rows held in registers;
 *            lanes' partial sums are combined by a fixed xor butterfly. The
 *            order of every y[t, n] depends only on (type, K). The same
 *            kernel, in other modes, fuses RMSNorm in front, a residual add
 *            or SwiGLU behind (cb_cuda_matvec_fused).
 *   large T  cublasGemmEx in column-major terms: Y^T (N x T) = W (K x N)^T X^T,
 *            i.e. op(A) = T on the weight buffer (lda = K), B = x (ldb = K).
 *            Q8_0 and the 4/5/6-bit types are first dequantized into F16
 *            scratch (dequant.h for the latter), as Q8_0 always was.
 * Not here: the per-token kernels and attention (cuda_ops.cu).
 */
#include "kernels/cuda/cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <vector>

/* ---- devices --------------------------------------------------------------------- */

extern "C" int cb_cuda_device_count(int *count, cb_err *err) {
    *count = 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return cb_err_set(err, CB_ENODEV, "no CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (n <= 0) return cb_err_set(err, CB_ENODEV, "no CUDA device: the driver reports 0 devices");
    *count = n;
    return 0;
}

extern "C" int cb_cuda_device_info_get(int dev, cb_cuda_device_info *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    int n;
    int rc = cb_cuda_device_count(&n, err);
    if (rc) return rc;
    if (dev < 0 || dev >= n) return cb_err_set(err, CB_ENODEV, "no CUDA device %d (%d present)", dev, n);
    cudaDeviceProp p;
    CU_TRY(cudaGetDeviceProperties(&p, dev));
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->cc_major = p.major;
    out->cc_minor = p.minor;
    out->n_sm = p.multiProcessorCount;
    out->l2_bytes = (size_t)p.l2CacheSize;
    out->total_mem = p.totalGlobalMem;
    int cur = 0;
    CU_TRY(cudaGetDevice(&cur));
    CU_TRY(cudaSetDevice(dev));
    size_t fr = 0, tot = 0;
    cudaError_t e = cudaMemGetInfo(&fr, &tot);
    cudaSetDevice(cur);
    if (e != cudaSuccess) return cu_fail(err, e, "cudaMemGetInfo", __FILE__, __LINE__);
    out->free_mem = fr;
    return 0;
}

/* ---- context ---------------------------------------------------------------------- */

#define CB_CUDA_BLAS_WS (32u << 20)

extern "C" int cb_cuda_ctx_new(int device, cb_cuda_ctx **out, cb_err *err) {
    *out = NULL;
    int n;
    int rc = cb_cuda_device_count(&n, err);
    if (rc) return rc;
    if (device < 0 || device >= n) return cb_err_set(err, CB_ENODEV, "no CUDA device %d (%d present)", device, n);
    cb_cuda_ctx *c = (cb_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return cb_err_set(err, CB_ENOMEM, "out of memory (CUDA context)");
    c->device = device;
    cudaError_t e;
    cublasStatus_t s;
    if ((e = cudaSetDevice(device)) != cudaSuccess) {
        rc = cu_fail(err, e, "cudaSetDevice", __FILE__, __LINE__);
        goto out;
    }
    if ((e = cudaDeviceGetAttribute(&c->n_sm, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess) {
        rc = cu_fail(err, e, "cudaDeviceGetAttribute", __FILE__, __LINE__);
        goto out;
    }
    if ((e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        rc = cu_fail(err, e, "cudaStreamCreate", __FILE__, __LINE__);
        goto out;
    }
    if ((s = cublasCreate(&c->blas)) != CUBLAS_STATUS_SUCCESS) {
        c->blas = NULL;
        rc = blas_fail(err, s, "cublasCreate", __FILE__, __LINE__);
        goto out;
    }
    if ((s = cublasSetStream(c->blas, c->stream)) != CUBLAS_STATUS_SUCCESS) {
        rc = blas_fail(err, s, "cublasSetStream", __FILE__, __LINE__);
        goto out;
    }
    if ((e = cudaMalloc(&c->blas_ws, CB_CUDA_BLAS_WS)) != cudaSuccess) {
        c->blas_ws = NULL;
        rc = cu_fail(err, e, "cudaMalloc (cuBLAS workspace)", __FILE__, __LINE__);
        goto out;
    }
    c->blas_ws_bytes = CB_CUDA_BLAS_WS;
    {
        const char *sy = getenv("CAPBENCH_CUDA_SYNC");
        c->sync_launches = sy && strcmp(sy, "1") == 0;
    }
    if ((s = cublasSetWorkspace(c->blas, c->blas_ws, c->blas_ws_bytes)) != CUBLAS_STATUS_SUCCESS) {
        rc = blas_fail(err, s, "cublasSetWorkspace", __FILE__, __LINE__);
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    cb_cuda_ctx_free(c);
    return rc;
}

extern "C" void cb_cuda_ctx_free(cb_cuda_ctx *c) {
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->blas) cublasDestroy(c->blas);
    cudaFree(c->blas_ws);
    cudaFree(c->scratch);
    if (c->stream) cudaStreamDestroy(c->stream);
    (void)cudaGetLastError();
    free(c);
}

extern "C" int cb_cuda_ctx_device(const cb_cuda_ctx *c) { return c->device; }

extern "C" int cb_cuda_sync(cb_cuda_ctx *c, cb_err *err) {
    CU_TRY(cudaStreamSynchronize(c->stream));
    CU_TRY(cudaGetLastError());
    return 0;
}

extern "C" int cb_cuda_reserve(cb_cuda_ctx *c, size_t bytes, cb_err *err) {
    if (bytes <= c->scratch_bytes) return 0;
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    CU_TRY(cudaStreamIsCapturing(c->stream, &st));
    if (st != cudaStreamCaptureStatusNone)
        return cb_err_set(err, CB_EUSAGE, "CUDA: matmul scratch of %zu bytes needed during graph capture "
                                          "(call cb_cuda_reserve before capturing)", bytes);
    CU_TRY(cudaStreamSynchronize(c->stream));
    CU_TRY(cudaFree(c->scratch));
    c->scratch = NULL;
    c->scratch_bytes = 0;
    void *p = NULL;
    int rc = cb_cuda_alloc(c, bytes, &p, err);
    if (rc) return rc;
    c->scratch = p;
    c->scratch_bytes = bytes;
    return 0;
}

/* ---- memory --------------------------------------------------------------------------- */

extern "C" int cb_cuda_alloc(cb_cuda_ctx *c, size_t bytes, void **dptr, cb_err *err) {
    *dptr = NULL;
    cudaError_t e = cudaMalloc(dptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *dptr = NULL;
        (void)cudaGetLastError();
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        (void)cudaGetLastError();
        return cb_err_set(err, CB_ENODEV, "CUDA device %d: cannot allocate %zu bytes (%zu of %zu bytes free): %s",
                          c->device, bytes, fr, tot, cudaGetErrorString(e));
    }
    return 0;
}

extern "C" void cb_cuda_free(cb_cuda_ctx *c, void *dptr) {
    (void)c;
    if (dptr) cudaFree(dptr);
}

extern "C" int cb_cuda_upload(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err) {
    if (!bytes) return 0;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    CU_TRY(cudaStreamSynchronize(c->stream));
    return 0;
}

extern "C" int cb_cuda_upload_async(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err) {
    if (!bytes) return 0;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    return 0;
}

extern "C" int cb_cuda_download(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err) {
    if (bytes) CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CU_TRY(cudaStreamSynchronize(c->stream));
    return 0;
}

extern "C" int cb_cuda_download_async(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err) {
    if (!bytes) return 0;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    return 0;
}

extern "C" int cb_cuda_copy(cb_cuda_ctx *c, void *dst, const void *src, size_t bytes, cb_err *err) {
    if (!bytes) return 0;
    CU_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
    return 0;
}

extern "C" int cb_cuda_memset(cb_cuda_ctx *c, void *dst, int byte, size_t bytes, cb_err *err) {
    if (!bytes) return 0;
    CU_TRY(cudaMemsetAsync(dst, byte, bytes, c->stream));
    return 0;
}

/* The weight type's ggml name, for messages (error messages add the id). */
static const char *type_name(uint32_t t) {
    switch (t) {
    case CB_KTYPE_F32: return "F32";
    case CB_KTYPE_F16: return "F16";
    case CB_KTYPE_BF16: return "BF16";
    case CB_KTYPE_Q8_0: return "Q8_0";
    case CB_KTYPE_Q4_0: return "Q4_0";
    case CB_KTYPE_Q4_1: return "Q4_1";
    case CB_KTYPE_Q5_0: return "Q5_0";
    case CB_KTYPE_Q5_1: return "Q5_1";
    case CB_KTYPE_Q8_1: return "Q8_1";
    case CB_KTYPE_Q4_K: return "Q4_K";
    case CB_KTYPE_Q5_K: return "Q5_K";
    case CB_KTYPE_Q6_K: return "Q6_K";
    case CB_KTYPE_Q8_K: return "Q8_K";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    default: return "(unknown type id)";
    }
}

/* ---- weights ---------------------------------------------------------------------------- */

extern "C" int cb_cuda_weight_upload(cb_cuda_ctx *c, uint32_t type, int64_t K, const void *const *parts,
                                     const int64_t *Ns, int n_parts, cb_cuda_weight *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    if (type != CB_KTYPE_F32 && type != CB_KTYPE_F16 && type != CB_KTYPE_BF16 && type != CB_KTYPE_Q8_0 &&
        !cb_dq_block_elems(type))
        return cb_err_set(err, CB_EUNSUP,
                          "CUDA: weight type %s (type id %u) has no CUDA kernel (supported: F32, F16, BF16, Q8_0, "
                          "Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                          type_name(type), type);
    if (K <= 0 || n_parts <= 0) return cb_err_set(err, CB_EUSAGE, "CUDA: weight with K %lld, %d parts", (long long)K,
                                                  n_parts);
    if (type == CB_KTYPE_Q8_0 && K % CB_QK8_0 != 0)
        return cb_err_set(err, CB_EUSAGE, "CUDA: Q8_0 weight with K = %lld (not a multiple of 32)", (long long)K);
    if (cb_dq_block_elems(type) && K % cb_dq_block_elems(type) != 0)
        return cb_err_set(err, CB_EUSAGE, "CUDA: %s weight with K = %lld (not a multiple of %d)", type_name(type),
                          (long long)K, cb_dq_block_elems(type));
    int64_t N = 0;
    for (int i = 0; i < n_parts; i++) N += Ns[i];
    out->type = type;
    out->K = K;
    out->N = N;
    int rc = 0;
    if (type != CB_KTYPE_Q8_0) {
        size_t row = cb_row_bytes(type, K);
        out->bytes = row * (size_t)N;
        if ((rc = cb_cuda_alloc(c, out->bytes, &out->data, err))) goto fail;
        size_t off = 0;
        for (int i = 0; i < n_parts; i++) {
            if ((rc = cb_cuda_upload(c, (char *)out->data + off, parts[i], row * (size_t)Ns[i], err))) goto fail;
            off += row * (size_t)Ns[i];
        }
        return 0;
    }
    {
        /* Q8_0: repack part by part through one host buffer of the largest part */
        const int64_t nb = K / CB_QK8_0;
        size_t qbytes = (size_t)N * (size_t)K, sbytes = (size_t)N * (size_t)nb * 2;
        out->bytes = qbytes + sbytes;
        if ((rc = cb_cuda_alloc(c, qbytes, &out->data, err))) goto fail;
        if ((rc = cb_cuda_alloc(c, sbytes, &out->scales, err))) goto fail;
        int64_t maxN = 0;
        for (int i = 0; i < n_parts; i++) maxN = std::max(maxN, Ns[i]);
        int8_t *hq = (int8_t *)malloc((size_t)maxN * (size_t)K);
        uint16_t *hs = (uint16_t *)malloc((size_t)maxN * (size_t)nb * 2);
        if (!hq || !hs) {
            free(hq);
            free(hs);
            rc = cb_err_set(err, CB_ENOMEM, "out of memory (Q8_0 repacking)");
            goto fail;
        }
        int64_t n0 = 0;
        for (int i = 0; i < n_parts && !rc; i++) {
            const cb_block_q8_0 *b = (const cb_block_q8_0 *)parts[i];
            for (int64_t r = 0; r < Ns[i]; r++)
                for (int64_t j = 0; j < nb; j++) {
                    const cb_block_q8_0 *blk = &b[r * nb + j];
                    hs[r * nb + j] = blk->d;
                    memcpy(hq + r * K + j * CB_QK8_0, blk->qs, CB_QK8_0);
                }
            rc = cb_cuda_upload(c, (int8_t *)out->data + n0 * K, hq, (size_t)Ns[i] * (size_t)K, err);
            if (!rc)
                rc = cb_cuda_upload(c, (uint16_t *)out->scales + n0 * nb, hs, (size_t)Ns[i] * (size_t)nb * 2, err);
            n0 += Ns[i];
        }
        free(hq);
        free(hs);
        if (rc) goto fail;
        return 0;
    }
fail:
    cb_cuda_weight_free(c, out);
    return rc;
}

extern "C" void cb_cuda_weight_free(cb_cuda_ctx *c, cb_cuda_weight *w) {
    if (!w) return;
    cb_cuda_free(c, w->data);
    cb_cuda_free(c, w->scales);
    memset(w, 0, sizeof *w);
}

/* ---- matrix-vector kernel (small T) ---------------------------------------------------------- */

#define MV_WARPS 4

template <uint32_t TY> struct wtraits;
template <> struct wtraits<CB_KTYPE_F32> { static constexpr int EPL = 4; };
template <> struct wtraits<CB_KTYPE_F16> { static constexpr int EPL = 8; };
template <> struct wtraits<CB_KTYPE_BF16> { static constexpr int EPL = 8; };
template <> struct wtraits<CB_KTYPE_Q8_0> { static constexpr int EPL = 16; };
/* Pseudo type of the kernels instantiated once for all the 4/5/6-bit types
 * (the real type is a run-time argument; dequant.h switches on it per group
 * of 16, which keeps the number of kernel instances down). */
#define CB_QANY 0xffffu
template <> struct wtraits<CB_QANY> { static constexpr int EPL = 16; };

/* EPL consecutive weights W[n, k .. k+EPL) as floats, one 16-byte load. */
template <uint32_t TY>
__device__ __forceinline__ void load_wvec(const void *__restrict__ W, const __half *__restrict__ scales, uint32_t qtype,
                                          int64_t n, int64_t K, int64_t k, float *w) {
    if constexpr (TY == CB_QANY) {
        cb_dq16(qtype, (const uint8_t *)W + n * dq_row_bytes(qtype, K), k, w);
    } else if constexpr (TY == CB_KTYPE_F32) {
        float4 v = __ldg((const float4 *)((const float *)W + n * K + k));
        w[0] = v.x;
        w[1] = v.y;
        w[2] = v.z;
        w[3] = v.w;
    } else if constexpr (TY == CB_KTYPE_F16) {
        uint4 v = __ldg((const uint4 *)((const __half *)W + n * K + k));
        const __half2 *h = (const __half2 *)&v;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float2 f = __half22float2(h[i]);
            w[2 * i] = f.x;
            w[2 * i + 1] = f.y;
        }
    } else if constexpr (TY == CB_KTYPE_BF16) {
        uint4 v = __ldg((const uint4 *)((const uint16_t *)W + n * K + k));
        const uint32_t *u = (const uint32_t *)&v;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            w[2 * i] = __uint_as_float(u[i] << 16);
            w[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
        }
    } else {
        int4 v = __ldg((const int4 *)((const int8_t *)W + n * K + k));
        const int8_t *q = (const int8_t *)&v;
        const float d = __half2float(scales[n * (K / CB_QK8_0) + k / CB_QK8_0]);
#pragma unroll
        for (int i = 0; i < 16; i++) w[i] = d * (float)q[i];
    }
}

/* Modes of the matrix-vector kernel (MV_STORE is cb_cuda_matmul's; the
 * others are cb_cuda_matvec_fused's, see cuda_kernels.h). */
enum { MV_STORE = 0, MV_NORM = 1, MV_ADD = 2, MV_SWIGLU_NORM = 3 };

/* y (T, N) [ldy] = x (T, K) @ W^T for token rows [blockIdx.y*TT, +TT); one
 * warp per output row (MV_SWIGLU_NORM: per output pair, rows n and n + N of
 * W). grid (ceil(N / MV_WARPS), ceil(T / TT)). With a norm (MV_NORM,
 * MV_SWIGLU_NORM) every warp also sums x^2 over its row of x, which it reads
 * whole anyway, and multiplies x by nw before the dot product; the norm scale
 * 1/sqrt(mean(x^2) + eps) is applied to the finished dot product. */
template <uint32_t TY, int TT, int MODE>
__global__ void __launch_bounds__(MV_WARPS * 32)
    mv_kernel(const void *__restrict__ W, const __half *__restrict__ scales, uint32_t qtype,
              const float *__restrict__ x, const float *__restrict__ nw, float eps, float *y, int64_t ldy, int T,
              int64_t K, int64_t N) {
    constexpr int EPL = wtraits<TY>::EPL;
    constexpr bool NORM = MODE == MV_NORM || MODE == MV_SWIGLU_NORM;
    constexpr bool PAIR = MODE == MV_SWIGLU_NORM;
    const int lane = threadIdx.x & 31;
    const int64_t n = (int64_t)blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    if (n >= N) return; /* whole warps leave together; no block barrier below */
    const int t0 = blockIdx.y * TT;
    const int nt = min(TT, T - t0);
    const float *xt = x + (int64_t)t0 * K;
    float acc[TT], acc2[PAIR ? TT : 1], ss[NORM ? TT : 1];
#pragma unroll
    for (int t = 0; t < TT; t++) {
        acc[t] = 0.0f;
        if constexpr (PAIR) acc2[t] = 0.0f;
        if constexpr (NORM) ss[t] = 0.0f;
    }
    if (K % EPL == 0) {
#pragma unroll 2
        for (int64_t k = (int64_t)lane * EPL; k < K; k += 32 * EPL) {
            float w[EPL], w2[PAIR ? EPL : 1], g[NORM ? EPL : 1];
            load_wvec<TY>(W, scales, qtype, n, K, k, w);
            if constexpr (PAIR) load_wvec<TY>(W, scales, qtype, n + N, K, k, w2);
            if constexpr (NORM) {
#pragma unroll
                for (int j = 0; j < EPL / 4; j++) {
                    const float4 v = __ldg((const float4 *)(nw + k) + j);
                    g[4 * j] = v.x;
                    g[4 * j + 1] = v.y;
                    g[4 * j + 2] = v.z;
                    g[4 * j + 3] = v.w;
                }
            }
#pragma unroll
            for (int t = 0; t < TT; t++) {
                if (t < nt) {
                    const float4 *xp = (const float4 *)(xt + (int64_t)t * K + k);
#pragma unroll
                    for (int j = 0; j < EPL / 4; j++) {
                        const float4 xv = __ldg(xp + j);
                        float xs[4] = {xv.x, xv.y, xv.z, xv.w};
#pragma unroll
                        for (int i = 0; i < 4; i++) {
                            if constexpr (NORM) {
                                ss[t] = __fmaf_rn(xs[i], xs[i], ss[t]);
                                xs[i] = xs[i] * g[4 * j + i];
                            }
                            acc[t] = __fmaf_rn(w[4 * j + i], xs[i], acc[t]);
                            if constexpr (PAIR) acc2[t] = __fmaf_rn(w2[4 * j + i], xs[i], acc2[t]);
                        }
                    }
                }
            }
        }
    } else {
        for (int64_t k = lane; k < K; k += 32) {
            const uint32_t ty = TY == CB_QANY ? qtype : TY;
            const float w = load_w1(ty, W, scales, n, K, k);
            float w2 = 0.0f, g = 1.0f;
            if constexpr (PAIR) w2 = load_w1(ty, W, scales, n + N, K, k);
            if constexpr (NORM) g = nw[k];
#pragma unroll
            for (int t = 0; t < TT; t++)
                if (t < nt) {
                    float xs = xt[(int64_t)t * K + k];
                    if constexpr (NORM) {
                        ss[t] = __fmaf_rn(xs, xs, ss[t]);
                        xs = xs * g;
                    }
                    acc[t] = __fmaf_rn(w, xs, acc[t]);
                    if constexpr (PAIR) acc2[t] = __fmaf_rn(w2, xs, acc2[t]);
                }
        }
    }
#pragma unroll
    for (int t = 0; t < TT; t++) {
        if (t < nt) {
            float s = warp_sum(acc[t]);
            float s2 = 0.0f;
            if constexpr (PAIR) s2 = warp_sum(acc2[t]);
            if constexpr (NORM) {
                const float scale = 1.0f / sqrtf(warp_sum(ss[t]) / (float)K + eps);
                s *= scale;
                if constexpr (PAIR) s2 *= scale;
            }
            if (lane == 0) {
                float *yp = y + (int64_t)(t0 + t) * ldy + n;
                if constexpr (MODE == MV_ADD) *yp += s;
                else if constexpr (PAIR) *yp = s / (1.0f + expf(-s)) * s2;
                else *yp = s;
            }
        }
    }
}

template <uint32_t TY, int TT, int MODE>
static int launch_mv(cb_cuda_ctx *c, const cb_cuda_weight *W, int64_t N, const float *x, const float *nw, float eps,
                     float *y, int64_t ldy, int64_t T, cb_err *err) {
    dim3 grid(cdiv(N, MV_WARPS), cdiv(T, TT));
    mv_kernel<TY, TT, MODE><<<grid, MV_WARPS * 32, 0, c->stream>>>(W->data, (const __half *)W->scales, W->type, x,
                                                                    nw, eps, y, ldy, (int)T, W->K, N);
    CU_LAUNCHED("mv_kernel<%s, %d rows, mode %d> grid (%u, %u) block %d, K %lld, N %lld", type_name(W->type), TT, MODE,
                grid.x, grid.y, MV_WARPS * 32, (long long)W->K, (long long)N);
    return 0;
}

template <uint32_t TY, int MODE>
static int launch_mv_t(cb_cuda_ctx *c, const cb_cuda_weight *W, int64_t N, const float *x, const float *nw, float eps,
                       float *y, int64_t ldy, int64_t T, cb_err *err) {
    if (T <= 1) return launch_mv<TY, 1, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    if (T <= 2) return launch_mv<TY, 2, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    if (T <= 4) return launch_mv<TY, 4, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    return launch_mv<TY, 8, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
}

/* The matrix-vector launch for W's type; CB_EUNSUP for another type. */
template <int MODE>
static int launch_mv_any(cb_cuda_ctx *c, const cb_cuda_weight *W, int64_t N, const float *x, const float *nw,
                         float eps, float *y, int64_t ldy, int64_t T, cb_err *err) {
    switch (W->type) {
    case CB_KTYPE_F32: return launch_mv_t<CB_KTYPE_F32, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    case CB_KTYPE_F16: return launch_mv_t<CB_KTYPE_F16, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    case CB_KTYPE_BF16: return launch_mv_t<CB_KTYPE_BF16, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    case CB_KTYPE_Q8_0: return launch_mv_t<CB_KTYPE_Q8_0, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
    default:
        if (cb_dq_block_elems(W->type)) return launch_mv_t<CB_QANY, MODE>(c, W, N, x, nw, eps, y, ldy, T, err);
        return cb_err_set(err, CB_EUNSUP, "CUDA matrix-vector product: weight type %s", type_name(W->type));
    }
}

extern "C" int cb_cuda_matvec_fused(cb_cuda_ctx *c, int mode, const cb_cuda_weight *W, const float *x,
                                    const float *nw, float eps, float *y, int64_t ldy, int64_t T, cb_err *err) {
    if (T <= 0) return 0;
    if (T > CB_CUDA_SMALL_T)
        return cb_err_set(err, CB_EUSAGE, "CUDA fused matvec: T = %lld > %d", (long long)T, CB_CUDA_SMALL_T);
    if (W->K > INT32_MAX || W->N > INT32_MAX)
        return cb_err_set(err, CB_EUSAGE, "CUDA fused matvec: sizes past 2^31");
    int64_t N = W->N;
    int rc;
    if (mode == CB_CUDA_MV_SWIGLU_NORM) {
        if (W->N % 2) return cb_err_set(err, CB_EUSAGE, "CUDA fused swiglu: odd N %lld", (long long)W->N);
        N = W->N / 2;
    }
    if (ldy < N) return cb_err_set(err, CB_EUSAGE, "CUDA fused matvec: ldy %lld < %lld", (long long)ldy, (long long)N);
    if ((mode == CB_CUDA_MV_NORM || mode == CB_CUDA_MV_SWIGLU_NORM) && !nw)
        return cb_err_set(err, CB_EUSAGE, "CUDA fused matvec: norm mode without norm weights");
    switch (mode) {
    case CB_CUDA_MV_NORM: rc = launch_mv_any<MV_NORM>(c, W, N, x, nw, eps, y, ldy, T, err); break;
    case CB_CUDA_MV_ADD: rc = launch_mv_any<MV_ADD>(c, W, N, x, nw, eps, y, ldy, T, err); break;
    case CB_CUDA_MV_SWIGLU_NORM: rc = launch_mv_any<MV_SWIGLU_NORM>(c, W, N, x, nw, eps, y, ldy, T, err); break;
    default: return cb_err_set(err, CB_EUSAGE, "CUDA fused matvec: unknown mode %d", mode);
    }
    return rc;
}

/* ---- conversions for the cuBLAS path ------------------------------------------------------------ */

__global__ void f32_to_f16_kernel(const float *__restrict__ x, __half *__restrict__ out, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2half_rn(x[i]);
}
__global__ void f32_to_bf16_kernel(const float *__restrict__ x, __nv_bfloat16 *__restrict__ out, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(x[i]);
}
/* W (N, K) Q8_0 repacked -> F16 (N, K); 16 elements per thread. */
__global__ void q8_to_f16_kernel(const int8_t *__restrict__ qs, const __half *__restrict__ sc, __half *__restrict__ out,
                                 int64_t n16, int64_t K) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n16; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = i * 16, n = e / K, k = e % K;
        int4 v = __ldg((const int4 *)(qs + e));
        const int8_t *q = (const int8_t *)&v;
        const float d = __half2float(sc[n * (K / CB_QK8_0) + k / CB_QK8_0]);
        __align__(16) __half h[16];
#pragma unroll
        for (int j = 0; j < 16; j++) h[j] = __float2half_rn(d * (float)q[j]);
        ((uint4 *)(out + e))[0] = ((const uint4 *)h)[0];
        ((uint4 *)(out + e))[1] = ((const uint4 *)h)[1];
    }
}

/* W (N, K) of a dequant.h type, GGUF rows -> F16 (N, K); 16 elements per
 * thread (one group of one block), each rounded once to F16. */
__global__ void dq_to_f16_kernel(uint32_t type, const uint8_t *__restrict__ W, __half *__restrict__ out, int64_t n16,
                                 int64_t K) {
    const int64_t rb = dq_row_bytes(type, K);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n16; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = i * 16, n = e / K, k = e % K;
        float v[16];
        cb_dq16(type, W + n * rb, k, v);
        __align__(16) __half h[16];
#pragma unroll
        for (int j = 0; j < 16; j++) h[j] = __float2half_rn(v[j]);
        ((uint4 *)(out + e))[0] = ((const uint4 *)h)[0];
        ((uint4 *)(out + e))[1] = ((const uint4 *)h)[1];
    }
}

/* Weights that cb_cuda_matmul dequantizes to F16 scratch before cuBLAS. */
static bool dequant_to_f16(uint32_t type) { return type == CB_KTYPE_Q8_0 || cb_dq_block_elems(type) != 0; }

static unsigned grid_for(int64_t n, const cb_cuda_ctx *c) {
    int64_t b = (n + 255) / 256, cap = (int64_t)c->n_sm * 16;
    return (unsigned)std::max<int64_t>(1, std::min(b, cap));
}

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

extern "C" size_t cb_cuda_matmul_scratch_bytes(const cb_cuda_weight *w, int64_t T) {
    if (T <= CB_CUDA_SMALL_T || w->type == CB_KTYPE_F32) return 0;
    size_t b = align256((size_t)T * (size_t)w->K * 2);
    if (dequant_to_f16(w->type)) b += align256((size_t)w->N * (size_t)w->K * 2);
    return b;
}

extern "C" uint32_t cb_cuda_matmul_input_type(const cb_cuda_weight *W, int64_t T) {
    if (T <= CB_CUDA_SMALL_T) return CB_KTYPE_F32;
    if (W->type == CB_KTYPE_F16 || dequant_to_f16(W->type)) return CB_KTYPE_F16;
    if (W->type == CB_KTYPE_BF16) return CB_KTYPE_BF16;
    return CB_KTYPE_F32;
}

extern "C" int cb_cuda_matmul(cb_cuda_ctx *c, const cb_cuda_weight *W, const float *x, float *y, int64_t ldy,
                              int64_t T, cb_err *err) {
    return cb_cuda_matmul_x(c, W, x, CB_KTYPE_F32, y, ldy, T, err);
}

extern "C" int cb_cuda_matmul_x(cb_cuda_ctx *c, const cb_cuda_weight *W, const void *x, uint32_t xtype, float *y,
                                int64_t ldy, int64_t T, cb_err *err) {
    if (T <= 0) return 0;
    const uint32_t need = cb_cuda_matmul_input_type(W, T);
    if (xtype != CB_KTYPE_F32 && xtype != need)
        return cb_err_set(err, CB_EUSAGE, "CUDA matmul: activations of type %u, this product takes %u (or F32)", xtype,
                          need);
    if (ldy < W->N) return cb_err_set(err, CB_EUSAGE, "CUDA matmul: ldy %lld < N %lld", (long long)ldy,
                                      (long long)W->N);
    if (W->K > INT32_MAX || W->N > INT32_MAX || T > INT32_MAX || ldy > INT32_MAX)
        return cb_err_set(err, CB_EUSAGE, "CUDA matmul: sizes past 2^31");
    if (T <= CB_CUDA_SMALL_T) return launch_mv_any<MV_STORE>(c, W, W->N, (const float *)x, NULL, 0.0f, y, ldy, T, err);
    int rc = cb_cuda_reserve(c, cb_cuda_matmul_scratch_bytes(W, T), err);
    if (rc) return rc;
    const float alpha = 1.0f, beta = 0.0f;
    const void *A = W->data, *B = x;
    cudaDataType_t at = CUDA_R_32F;
    const int64_t nx = T * W->K;
    if (W->type == CB_KTYPE_F16 || dequant_to_f16(W->type)) {
        if (xtype == CB_KTYPE_F32) { /* else x is already F16 */
            __half *xh = (__half *)c->scratch;
            f32_to_f16_kernel<<<grid_for(nx, c), 256, 0, c->stream>>>((const float *)x, xh, nx);
            CU_LAUNCHED("f32_to_f16_kernel grid (%u) block 256, n %lld", grid_for(nx, c), (long long)nx);
            B = xh;
        }
        at = CUDA_R_16F;
        if (W->type == CB_KTYPE_Q8_0) {
            __half *wh = (__half *)((char *)c->scratch + align256((size_t)nx * 2));
            const int64_t n16 = W->N * W->K / 16;
            q8_to_f16_kernel<<<grid_for(n16, c), 256, 0, c->stream>>>((const int8_t *)W->data,
                                                                      (const __half *)W->scales, wh, n16, W->K);
            CU_LAUNCHED("q8_to_f16_kernel grid (%u) block 256, N %lld, K %lld", grid_for(n16, c), (long long)W->N,
                        (long long)W->K);
            A = wh;
        } else if (W->type != CB_KTYPE_F16) {
            __half *wh = (__half *)((char *)c->scratch + align256((size_t)nx * 2));
            const int64_t n16 = W->N * W->K / 16;
            dq_to_f16_kernel<<<grid_for(n16, c), 256, 0, c->stream>>>(W->type, (const uint8_t *)W->data, wh, n16,
                                                                      W->K);
            CU_LAUNCHED("dq_to_f16_kernel<%s> grid (%u) block 256, N %lld, K %lld", type_name(W->type),
                        grid_for(n16, c), (long long)W->N, (long long)W->K);
            A = wh;
        }
    } else if (W->type == CB_KTYPE_BF16) {
        if (xtype == CB_KTYPE_F32) {
            __nv_bfloat16 *xb = (__nv_bfloat16 *)c->scratch;
            f32_to_bf16_kernel<<<grid_for(nx, c), 256, 0, c->stream>>>((const float *)x, xb, nx);
            CU_LAUNCHED("f32_to_bf16_kernel grid (%u) block 256, n %lld", grid_for(nx, c), (long long)nx);
            B = xb;
        }
        at = CUDA_R_16BF;
    } else if (W->type != CB_KTYPE_F32) {
        return cb_err_set(err, CB_EUNSUP, "CUDA matmul: weight type %s", type_name(W->type));
    }
    BLAS_TRY(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)W->N, (int)T, (int)W->K, &alpha, A, at, (int)W->K,
                          B, at, (int)W->K, &beta, y, CUDA_R_32F, (int)ldy, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    CU_LAUNCHED("cublasGemmEx (m %lld, n %lld, k %lld, weights %s)", (long long)W->N, (long long)T, (long long)W->K,
                type_name(W->type));
    return 0;
}

/* ---- graphs ---------------------------------------------------------------------------------------- */

struct cb_cuda_graph {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    size_t n_nodes;
};

extern "C" int cb_cuda_graph_begin(cb_cuda_ctx *c, cb_err *err) {
    CU_TRY(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
    return 0;
}

extern "C" int cb_cuda_graph_end(cb_cuda_ctx *c, cb_cuda_graph **out, cb_err *err) {
    *out = NULL;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    if (e != cudaSuccess) {
        if (g) cudaGraphDestroy(g);
        return cu_fail(err, e, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    cb_cuda_graph *gr = (cb_cuda_graph *)calloc(1, sizeof *gr);
    if (!gr) {
        cudaGraphDestroy(g);
        return cb_err_set(err, CB_ENOMEM, "out of memory (graph)");
    }
    gr->graph = g;
    if (cudaGraphGetNodes(g, NULL, &gr->n_nodes) != cudaSuccess) {
        gr->n_nodes = 0;
        (void)cudaGetLastError();
    }
    e = cudaGraphInstantiate(&gr->exec, g, 0);
    if (e != cudaSuccess) {
        gr->exec = NULL;
        cb_cuda_graph_free(gr);
        return cu_fail(err, e, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    *out = gr;
    return 0;
}

extern "C" int cb_cuda_graph_launch(cb_cuda_ctx *c, cb_cuda_graph *g, cb_err *err) {
    CU_TRY(cudaGraphLaunch(g->exec, c->stream));
    CU_LAUNCHED("graph replay (%zu nodes)", g->n_nodes);
    return 0;
}

extern "C" void cb_cuda_graph_free(cb_cuda_graph *g) {
    if (!g) return;
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    free(g);
}

/* ---- measurements ------------------------------------------------------------------------------------- */

extern "C" int cb_cuda_time(cb_cuda_ctx *c, int (*fn)(void *arg, cb_err *err), void *arg, double *seconds,
                            cb_err *err) {
    *seconds = 0.0;
    cudaEvent_t a = NULL, b = NULL;
    int rc = 0;
    cudaError_t e;
    float ms = 0.0f;
    if ((e = cudaEventCreate(&a)) != cudaSuccess || (e = cudaEventCreate(&b)) != cudaSuccess) {
        rc = cu_fail(err, e, "cudaEventCreate", __FILE__, __LINE__);
        goto out;
    }
    if ((e = cudaEventRecord(a, c->stream)) != cudaSuccess) {
        rc = cu_fail(err, e, "cudaEventRecord", __FILE__, __LINE__);
        goto out;
    }
    if ((rc = fn(arg, err))) goto out;
    if ((e = cudaEventRecord(b, c->stream)) != cudaSuccess || (e = cudaEventSynchronize(b)) != cudaSuccess ||
        (e = cudaEventElapsedTime(&ms, a, b)) != cudaSuccess) {
        rc = cu_fail(err, e, "timing events", __FILE__, __LINE__);
        goto out;
    }
    *seconds = ms * 1e-3;
out:
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    return rc;
}

typedef struct copy_arg {
    cb_cuda_ctx *c;
    void *dst;
    const void *src;
    size_t bytes;
} copy_arg;

static int copy_fn(void *p, cb_err *err) {
    copy_arg *a = (copy_arg *)p;
    return cb_cuda_copy(a->c, a->dst, a->src, a->bytes, err);
}

/* Fills n halves with values in [-1, 1) from a hash of the index and seed. */
__global__ void fill_random_f16(__half *p, int64_t n, uint32_t seed) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 16;
        h *= 0x7feb352du;
        h ^= h >> 15;
        h *= 0x846ca68bu;
        h ^= h >> 16;
        p[i] = __float2half_rn((float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f);
    }
}

extern "C" int cb_cuda_measure_copy_bandwidth(cb_cuda_ctx *c, size_t bytes, int reps, double *bw, cb_err *err) {
    *bw = 0.0;
    void *src = NULL, *dst = NULL;
    int rc = cb_cuda_alloc(c, bytes, &src, err);
    if (!rc) rc = cb_cuda_alloc(c, bytes, &dst, err);
    if (!rc) {
        fill_random_f16<<<grid_for((int64_t)(bytes / 2), c), 256, 0, c->stream>>>((__half *)src,
                                                                                 (int64_t)(bytes / 2), 7u);
        rc = cu_launched(c, err, __FILE__, __LINE__, "fill_random_f16 grid (%u) block 256",
                         grid_for((int64_t)(bytes / 2), c));
    }
    copy_arg a = {c, dst, src, bytes};
    double best = 0.0;
    for (int r = 0; !rc && r < reps + 1; r++) {
        double s;
        rc = cb_cuda_time(c, copy_fn, &a, &s, err);
        if (!rc && r > 0 && s > 0 && (best == 0.0 || s < best)) best = s; /* r == 0 warms up */
    }
    if (!rc && best > 0) *bw = 2.0 * (double)bytes / best;
    cb_cuda_free(c, src);
    cb_cuda_free(c, dst);
    return rc;
}

typedef struct gemm_arg {
    cb_cuda_ctx *c;
    int n;
    const void *A, *B;
    float *C;
} gemm_arg;

static int gemm_fn(void *p, cb_err *err) {
    gemm_arg *g = (gemm_arg *)p;
    const float alpha = 1.0f, beta = 0.0f;
    BLAS_TRY(cublasGemmEx(g->c->blas, CUBLAS_OP_T, CUBLAS_OP_N, g->n, g->n, g->n, &alpha, g->A, CUDA_R_16F, g->n,
                          g->B, CUDA_R_16F, g->n, &beta, g->C, CUDA_R_32F, g->n, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT));
    cb_cuda_ctx *c = g->c;
    CU_LAUNCHED("cublasGemmEx (F16 GEMM, n %d)", g->n);
    return 0;
}

extern "C" int cb_cuda_measure_gemm_peak(cb_cuda_ctx *c, int n, int reps, double *flops, cb_err *err) {
    *flops = 0.0;
    void *A = NULL, *B = NULL, *C = NULL;
    const size_t nn = (size_t)n * (size_t)n;
    int rc = cb_cuda_alloc(c, nn * 2, &A, err);
    if (!rc) rc = cb_cuda_alloc(c, nn * 2, &B, err);
    if (!rc) rc = cb_cuda_alloc(c, nn * 4, &C, err);
    if (!rc) {
        fill_random_f16<<<grid_for((int64_t)nn, c), 256, 0, c->stream>>>((__half *)A, (int64_t)nn, 11u);
        fill_random_f16<<<grid_for((int64_t)nn, c), 256, 0, c->stream>>>((__half *)B, (int64_t)nn, 13u);
        rc = cu_launched(c, err, __FILE__, __LINE__, "fill_random_f16 grid (%u) block 256 (twice)",
                         grid_for((int64_t)nn, c));
    }
    gemm_arg g = {c, n, A, B, (float *)C};
    std::vector<double> t;
    for (int r = 0; !rc && r < reps + 2; r++) {
        double s;
        rc = cb_cuda_time(c, gemm_fn, &g, &s, err);
        if (!rc && r >= 2) t.push_back(s); /* two warm-up runs */
    }
    if (!rc && !t.empty()) {
        std::sort(t.begin(), t.end());
        double med = t[t.size() / 2];
        if (med > 0) *flops = 2.0 * (double)n * (double)n * (double)n / med;
    }
    cb_cuda_free(c, A);
    cb_cuda_free(c, B);
    cb_cuda_free(c, C);
    return rc;
}
