/* kernels/cuda/cuda_ops.cu — the per-token kernels of a llama layer on the
 * GPU (embedding, residual add + RMSNorm, RoPE, SwiGLU, KV store), attention
 * with its split combine, and the output-side reductions (log-softmax gather,
 * argmax). Each is the twin of a kernels.h function or of the CPU model's
 * attention; tests/kernels/test_cuda.c compares them.
 *
 * Reductions use a fixed order (per-thread strided partial sums, then a fixed
 * shuffle/shared-memory tree), so a row's result never depends on the other
 * rows of the launch: the GPU path is batch invariant for these kernels.
 *
 * Attention (cb_cuda_attention): grid (query tiles x row groups, kv heads,
 * splits), 128 threads. A block takes 16 of its tile's rows (token of the
 * tile x query head of the GQA group), 4 per warp, and streams its split's positions in tiles
 * of 32 through shared memory (K rows padded to D+4 floats, D+1 when D % 4
 * != 0, against bank conflicts; scores read q and K 16 bytes at a time). Lane j scores position tile0 + j; each row keeps an online
 * softmax state (m, l) and D/32 accumulators per lane. Tiles and splits start
 * at absolute positions and fully masked tiles are skipped exactly, so a row's
 * value depends only on its own query and position. Partials (m, l, acc) go to
 * scratch; the combine kernel merges the splits in order.
 */
#include "kernels/cuda/cuda_internal.cuh"

#include <math.h>

/* ---- embedding ------------------------------------------------------------------------ */

__global__ void embed_kernel(uint32_t type, const void *__restrict__ E, const __half *__restrict__ sc,
                             const int32_t *__restrict__ token, float *__restrict__ x, int64_t C) {
    const int64_t t = blockIdx.x, row = token[t];
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) x[t * C + i] = load_w1(type, E, sc, row, C, i);
}

extern "C" int cb_cuda_embed(cb_cuda_ctx *c, const cb_cuda_weight *E, const int32_t *token, float *x, int64_t T,
                             cb_err *err) {
    if (T <= 0) return 0;
    embed_kernel<<<(unsigned)T, 256, 0, c->stream>>>(E->type, E->data, (const __half *)E->scales, token, x, E->K);
    CU_LAUNCHED("embed_kernel grid (%lld) block 256, C %lld", (long long)T, (long long)E->K);
    return 0;
}

/* ---- residual add + RMSNorm ---------------------------------------------------------------- */

#define NORM_THREADS 256

/* Sum over the block in a fixed order; every thread gets the result. */
__device__ float block_sum(float v, float *sh) {
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0) sh[w] = v;
    __syncthreads();
    float s = 0.0f;
    for (int i = 0; i < nw; i++) s += sh[i];
    return s;
}

__global__ void add_rmsnorm_kernel(float *x, const float *add, const float *__restrict__ w, void *out,
                                   uint32_t otype, const int32_t *__restrict__ rows, int64_t C, float eps) {
    __shared__ float sh[32];
    const int64_t r = blockIdx.x, src = rows ? rows[r] : r;
    float *xr = x + src * C;
    const float *ar = add ? add + src * C : NULL;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
        float v = xr[i];
        if (ar) v += ar[i];
        ss = __fmaf_rn(v, v, ss);
    }
    ss = block_sum(ss, sh);
    const float scale = 1.0f / sqrtf(ss / (float)C + eps);
    /* every thread finished reading x and add (barrier in block_sum) */
    for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
        float v = xr[i];
        if (ar) v += ar[i];
        if (ar && !rows) xr[i] = v;
        store_act(out, r * C + i, v * scale * w[i], otype);
    }
}

static int act_type_ok(uint32_t t) { return t == CB_KTYPE_F32 || t == CB_KTYPE_F16 || t == CB_KTYPE_BF16; }

extern "C" int cb_cuda_add_rmsnorm_t(cb_cuda_ctx *c, float *x, const float *add, const float *w, void *out,
                                     uint32_t out_type, const int32_t *rows, int64_t T, int64_t R, int64_t C, float eps,
                                     cb_err *err) {
    if (R <= 0) return 0;
    if (!rows && R != T) return cb_err_set(err, CB_EUSAGE, "CUDA rmsnorm: %lld rows of %lld without a row map",
                                           (long long)R, (long long)T);
    if (!act_type_ok(out_type)) return cb_err_set(err, CB_EUSAGE, "CUDA rmsnorm: output type %u", out_type);
    add_rmsnorm_kernel<<<(unsigned)R, NORM_THREADS, 0, c->stream>>>(x, add, w, out, out_type, rows, C, eps);
    CU_LAUNCHED("add_rmsnorm_kernel grid (%lld) block %d, C %lld, out type %u", (long long)R, NORM_THREADS,
                (long long)C, out_type);
    return 0;
}

extern "C" int cb_cuda_add_rmsnorm(cb_cuda_ctx *c, float *x, const float *add, const float *w, float *out,
                                   const int32_t *rows, int64_t T, int64_t R, int64_t C, float eps, cb_err *err) {
    return cb_cuda_add_rmsnorm_t(c, x, add, w, out, CB_KTYPE_F32, rows, T, R, C, eps, err);
}

__global__ void add_kernel(float *__restrict__ y, const float *__restrict__ x, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

extern "C" int cb_cuda_add(cb_cuda_ctx *c, float *y, const float *x, int64_t n, cb_err *err) {
    if (n <= 0) return 0;
    int64_t b = (n + 255) / 256;
    add_kernel<<<(unsigned)(b < 65535 ? b : 65535), 256, 0, c->stream>>>(y, x, n);
    CU_LAUNCHED("add_kernel grid (%lld) block 256, n %lld", (long long)(b < 65535 ? b : 65535), (long long)n);
    return 0;
}

__global__ void add_bias_kernel(float *y, int64_t ldy, const float *__restrict__ b, int64_t N) {
    float *row = y + (int64_t)blockIdx.x * ldy;
    for (int64_t j = threadIdx.x; j < N; j += blockDim.x) row[j] += b[j];
}

extern "C" int cb_cuda_add_bias(cb_cuda_ctx *c, float *y, int64_t ldy, const float *b, int64_t T, int64_t N,
                                cb_err *err) {
    if (T <= 0 || N <= 0) return 0;
    if (ldy < N || T > INT32_MAX)
        return cb_err_set(err, CB_EUSAGE, "CUDA add_bias: ldy %lld < N %lld or T %lld too large", (long long)ldy,
                          (long long)N, (long long)T);
    add_bias_kernel<<<(unsigned)T, 256, 0, c->stream>>>(y, ldy, b, N);
    CU_LAUNCHED("add_bias_kernel grid (%lld) block 256, N %lld", (long long)T, (long long)N);
    return 0;
}

/* ---- RoPE ------------------------------------------------------------------------------------- */

/* Rotates pair j (head j / half, pair j % half) of a row at position p; the
 * one rotation both RoPE kernels use (so they agree bit for bit). */
__device__ __forceinline__ void rope_pair(float *row, int64_t j, int64_t half, int64_t D, int32_t p,
                                          const float *__restrict__ inv_freq, int neox) {
    const int64_t h = j / half, i = j % half;
    double sn, cs;
    sincos((double)p * (double)inv_freq[i], &sn, &cs);
    const float c = (float)cs, s = (float)sn;
    float *xh = row + h * D;
    const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
    const float x0 = xh[a], x1 = xh[b];
    xh[a] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    xh[b] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

/* grid (T, ceil(H * n_rot/2 / 256)); one thread per (head, pair). */
__global__ void rope_kernel(float *__restrict__ x, int64_t ld, int64_t H, int64_t D, int64_t n_rot,
                            const int32_t *__restrict__ pos, const float *__restrict__ inv_freq, int neox) {
    const int64_t t = blockIdx.x, half = n_rot / 2;
    const int64_t j = (int64_t)blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= H * half) return;
    rope_pair(x + t * ld, j, half, D, pos[t], inv_freq, neox);
}

/* grid (T): rotates the q and k heads at the start of row t of qkv, then
 * copies the row's k and v into the cache at (slot[t], pos[t]). */
__global__ void rope_kv_kernel(float *__restrict__ qkv, int64_t ld, int64_t n_heads, int64_t D, int64_t n_rot,
                               const int32_t *__restrict__ pos, const float *__restrict__ inv_freq, int neox,
                               float *__restrict__ cache, size_t layer_off, size_t slot_stride, size_t plane,
                               const int32_t *__restrict__ slot, int64_t koff, int64_t voff, int64_t kvd) {
    const int64_t t = blockIdx.x, half = n_rot / 2;
    const int32_t p = pos[t];
    float *row = qkv + t * ld;
    for (int64_t j = threadIdx.x; j < n_heads * half; j += blockDim.x) rope_pair(row, j, half, D, p, inv_freq, neox);
    __syncthreads(); /* rotated k visible to every thread of the block */
    float *kc = cache + layer_off + (size_t)slot[t] * slot_stride + (size_t)p * (size_t)kvd;
    float *vc = kc + plane;
    for (int64_t i = threadIdx.x; i < kvd; i += blockDim.x) {
        kc[i] = row[koff + i];
        vc[i] = row[voff + i];
    }
}

extern "C" int cb_cuda_rope(cb_cuda_ctx *c, float *x, int64_t ld, int64_t T, int64_t H, int64_t D, int64_t n_rot,
                            const int32_t *pos, const float *inv_freq, int neox, cb_err *err) {
    if (T <= 0 || n_rot < 2) return 0;
    if (n_rot > D) return cb_err_set(err, CB_EUSAGE, "CUDA rope: n_rot %lld > D %lld", (long long)n_rot,
                                     (long long)D);
    dim3 grid((unsigned)T, cdiv(H * (n_rot / 2), 256));
    rope_kernel<<<grid, 256, 0, c->stream>>>(x, ld, H, D, n_rot, pos, inv_freq, neox);
    CU_LAUNCHED("rope_kernel grid (%u, %u) block 256", grid.x, grid.y);
    return 0;
}

extern "C" int cb_cuda_rope_kv_store(cb_cuda_ctx *c, float *qkv, int64_t ld, int64_t T, int64_t H, int64_t Hkv,
                                     int64_t D, int64_t n_rot, const int32_t *pos, const float *inv_freq, int neox,
                                     float *cache, const cb_cuda_kv_shape *s, int layer, const int32_t *slot,
                                     cb_err *err) {
    if (T <= 0) return 0;
    if (n_rot > D || s->kv_dim != Hkv * D)
        return cb_err_set(err, CB_EUSAGE, "CUDA rope+kv: n_rot %lld, D %lld, kv_dim %lld", (long long)n_rot,
                          (long long)D, (long long)s->kv_dim);
    const size_t plane = (size_t)s->n_ctx * (size_t)s->kv_dim;
    rope_kv_kernel<<<(unsigned)T, 256, 0, c->stream>>>(qkv, ld, H + Hkv, D, n_rot < 2 ? 0 : n_rot, pos, inv_freq, neox,
                                                      cache, cb_cuda_kv_offset(s, layer, 0, 0), 2 * plane, plane, slot,
                                                      H * D, H * D + Hkv * D, Hkv * D);
    CU_LAUNCHED("rope_kv_kernel grid (%lld) block 256, layer %d, %lld + %lld heads of %lld", (long long)T, layer,
                (long long)H, (long long)Hkv, (long long)D);
    return 0;
}

/* ---- SwiGLU ------------------------------------------------------------------------------------- */

__global__ void swiglu_kernel(const float *__restrict__ gu, void *__restrict__ out, uint32_t otype, int64_t T,
                              int64_t F) {
    const int64_t n = T * F;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / F, f = i % F;
        const float g = gu[t * 2 * F + f], u = gu[t * 2 * F + F + f];
        store_act(out, i, g / (1.0f + expf(-g)) * u, otype);
    }
}

extern "C" int cb_cuda_swiglu_t(cb_cuda_ctx *c, const float *gu, void *out, uint32_t out_type, int64_t T, int64_t F,
                                cb_err *err) {
    if (T <= 0) return 0;
    if (!act_type_ok(out_type)) return cb_err_set(err, CB_EUSAGE, "CUDA swiglu: output type %u", out_type);
    int64_t b = (T * F + 255) / 256;
    swiglu_kernel<<<(unsigned)(b < 65535 ? b : 65535), 256, 0, c->stream>>>(gu, out, out_type, T, F);
    CU_LAUNCHED("swiglu_kernel grid (%lld) block 256, T %lld, F %lld", (long long)(b < 65535 ? b : 65535),
                (long long)T, (long long)F);
    return 0;
}

extern "C" int cb_cuda_swiglu(cb_cuda_ctx *c, const float *gu, float *out, int64_t T, int64_t F, cb_err *err) {
    return cb_cuda_swiglu_t(c, gu, out, CB_KTYPE_F32, T, F, err);
}

/* ---- log-softmax gather, argmax ---------------------------------------------------------------------- */

__global__ void log_softmax_gather_kernel(const float *__restrict__ x, const int32_t *__restrict__ idx,
                                          double *__restrict__ lp, int64_t V) {
    __shared__ float shm[32];
    __shared__ double shd[32];
    const int64_t r = blockIdx.x;
    const float *xr = x + r * V;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float mx = -INFINITY;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, xr[i]);
    mx = warp_max(mx);
    if (lane == 0) shm[w] = mx;
    __syncthreads();
    mx = shm[0];
    for (int i = 1; i < nw; i++) mx = fmaxf(mx, shm[i]);
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) s += exp((double)xr[i] - (double)mx);
    s = warp_sum_d(s);
    if (lane == 0) shd[w] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double tot = 0.0;
        for (int i = 0; i < nw; i++) tot += shd[i];
        lp[r] = ((double)xr[idx[r]] - (double)mx) - log(tot);
    }
}

extern "C" int cb_cuda_log_softmax_gather(cb_cuda_ctx *c, const float *x, const int32_t *idx, double *lp, int64_t R,
                                          int64_t V, cb_err *err) {
    if (R <= 0) return 0;
    log_softmax_gather_kernel<<<(unsigned)R, 256, 0, c->stream>>>(x, idx, lp, V);
    CU_LAUNCHED("log_softmax_gather_kernel grid (%lld) block 256, V %lld", (long long)R, (long long)V);
    return 0;
}

/* (value, index) is better than (v2, i2): larger value, or equal and lower index. */
__device__ __forceinline__ bool am_better(float v, int64_t i, float v2, int64_t i2) {
    return v > v2 || (v == v2 && i < i2);
}

__global__ void argmax_kernel(const float *__restrict__ x, int32_t *__restrict__ out, int64_t V) {
    __shared__ float sv[32];
    __shared__ int64_t si[32];
    const int64_t r = blockIdx.x;
    const float *xr = x + r * V;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float bv = -INFINITY;
    int64_t bi = V; /* sentinel: any real element beats it */
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x) {
        float v = xr[i];
        if (bi == V || v > bv) { /* increasing i: first maximum kept */
            bv = v;
            bi = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float v2 = __shfl_xor_sync(0xffffffffu, bv, o);
        int64_t i2 = __shfl_xor_sync(0xffffffffu, bi, o);
        if (i2 != V && (bi == V || am_better(v2, i2, bv, bi))) {
            bv = v2;
            bi = i2;
        }
    }
    if (lane == 0) {
        sv[w] = bv;
        si[w] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int i = 1; i < nw; i++)
            if (si[i] != V && (bi == V || am_better(sv[i], si[i], bv, bi))) {
                bv = sv[i];
                bi = si[i];
            }
        out[r] = (int32_t)(bi == V ? 0 : bi);
    }
}

extern "C" int cb_cuda_argmax(cb_cuda_ctx *c, const float *x, int32_t *out, int64_t R, int64_t V, cb_err *err) {
    if (R <= 0) return 0;
    argmax_kernel<<<(unsigned)R, 256, 0, c->stream>>>(x, out, V);
    CU_LAUNCHED("argmax_kernel grid (%lld) block 256, V %lld", (long long)R, (long long)V);
    return 0;
}

/* ---- KV cache ---------------------------------------------------------------------------------------------- */

extern "C" size_t cb_cuda_kv_offset(const cb_cuda_kv_shape *s, int layer, int slot, int which) {
    size_t plane = (size_t)s->n_ctx * (size_t)s->kv_dim;
    return (((size_t)layer * (size_t)s->n_slots + (size_t)slot) * 2 + (size_t)which) * plane;
}

__global__ void kv_store_kernel(float *__restrict__ cache, size_t layer_off, size_t slot_stride, size_t plane,
                                const float *__restrict__ k, const float *__restrict__ v, int64_t ld,
                                const int32_t *__restrict__ slot, const int32_t *__restrict__ pos, int64_t kvd) {
    const int64_t t = blockIdx.x;
    float *kc = cache + layer_off + (size_t)slot[t] * slot_stride + (size_t)pos[t] * (size_t)kvd;
    float *vc = kc + plane;
    for (int64_t i = threadIdx.x; i < kvd; i += blockDim.x) {
        kc[i] = k[t * ld + i];
        vc[i] = v[t * ld + i];
    }
}

extern "C" int cb_cuda_kv_store(cb_cuda_ctx *c, float *cache, const cb_cuda_kv_shape *s, int layer, const float *k,
                                const float *v, int64_t ld, const int32_t *slot, const int32_t *pos, int64_t T,
                                cb_err *err) {
    if (T <= 0) return 0;
    const size_t plane = (size_t)s->n_ctx * (size_t)s->kv_dim;
    kv_store_kernel<<<(unsigned)T, 256, 0, c->stream>>>(cache, cb_cuda_kv_offset(s, layer, 0, 0), 2 * plane, plane, k,
                                                       v, ld, slot, pos, s->kv_dim);
    CU_LAUNCHED("kv_store_kernel grid (%lld) block 256, layer %d, kv_dim %lld", (long long)T, layer,
                (long long)s->kv_dim);
    return 0;
}

/* ---- attention ------------------------------------------------------------------------------------------------ */

extern "C" int cb_cuda_attn_tiles(const int32_t *slot, const int32_t *pos, int T, int32_t *tiles, int *max_nt) {
    int n = 0;
    for (int t = 0; t < T; t++) {
        int32_t *cur = n ? tiles + 4 * (n - 1) : NULL;
        if (cur && slot[t] == cur[2] && pos[t] == cur[3] + cur[1] && cur[1] < CB_CUDA_ATTN_QT) {
            cur[1]++;
            continue;
        }
        int32_t *nt = tiles + 4 * n++;
        nt[0] = t;
        nt[1] = 1;
        nt[2] = slot[t];
        nt[3] = pos[t];
    }
    int mx = 0;
    for (int i = 0; i < n; i++) mx = tiles[4 * i + 1] > mx ? tiles[4 * i + 1] : mx;
    if (max_nt) *max_nt = mx;
    return n;
}

extern "C" size_t cb_cuda_attn_scratch_floats(int64_t T, int64_t H, int64_t D, int n_split) {
    return (size_t)n_split * (size_t)T * (size_t)H * (size_t)(D + 2);
}

#define ATT_WARPS 4
#define ATT_RPW 4                       /* rows per warp in a row group */
#define ATT_ROWS (ATT_WARPS * ATT_RPW)  /* rows per row group */
#define ATT_KT 32                       /* positions per K/V tile */
#define ATT_DMAX 128

/* Scratch layout for split s, token t, head h: m at [((s*T + t)*H + h)],
 * l after all m (n_split*T*H), acc (D each) after all l. */

/* out[t, h*D + d] = sum_s acc_s[d] e^(m_s - M) / sum_s l_s e^(m_s - M) for
 * th = t*H + h, splits in order, empty splits (l = 0) skipped; one warp, lanes
 * over d. Loads bypass L1 (__ldcg): partials may come from other blocks. */
__device__ void combine_row(const float *part, float *out, int64_t ldo, int T, int H, int D, int n_split, int64_t th,
                            int lane) {
    const size_t nTH = (size_t)T * H;
    const float *pm = part, *pl = part + (size_t)n_split * nTH, *pacc = part + 2 * (size_t)n_split * nTH;
    float M = -INFINITY;
    for (int s = 0; s < n_split; s++) {
        const size_t idx = (size_t)s * nTH + th;
        if (__ldcg(pl + idx) > 0.0f) M = fmaxf(M, __ldcg(pm + idx));
    }
    float L = 0.0f;
    for (int s = 0; s < n_split; s++) {
        const size_t idx = (size_t)s * nTH + th;
        const float l = __ldcg(pl + idx);
        if (l > 0.0f) L += l * expf(__ldcg(pm + idx) - M);
    }
    const int64_t t = th / H, h = th % H;
    for (int d = lane; d < D; d += 32) {
        float a = 0.0f;
        for (int s = 0; s < n_split; s++) {
            const size_t idx = (size_t)s * nTH + th;
            if (__ldcg(pl + idx) > 0.0f) a += __ldcg(pacc + idx * D + d) * expf(__ldcg(pm + idx) - M);
        }
        out[t * ldo + h * D + d] = a / L;
    }
}
template <int DPL>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attn_kernel(const float *__restrict__ cache, size_t layer_off, size_t slot_stride, size_t plane,
                const float *__restrict__ q, int64_t ldq, const int32_t *__restrict__ tiles, int T, int H, int Hkv,
                int D, float scale, float *part, float *__restrict__ out, int64_t ldo, unsigned int *counters,
                int rg_max) {
    __shared__ int s_last;
    extern __shared__ float4 sm4[];               /* float4: 16-byte aligned */
    const int kld = (D & 3) ? D + 1 : D + 4;      /* K row stride: padded against bank conflicts */
    float *Ks = (float *)sm4;                     /* [ATT_KT][kld] */
    float *Vs = Ks + ATT_KT * kld;                /* [ATT_KT][D] */
    float *Qs = Vs + ATT_KT * D;                  /* [ATT_ROWS][D] */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int32_t *tile = tiles + 4 * (blockIdx.x / rg_max); /* block = (tile, row group) */
    const int t0 = tile[0], nt = tile[1], slot = tile[2], pos0 = tile[3];
    const int g = blockIdx.y, grp = H / Hkv, split = blockIdx.z, n_split = gridDim.z;
    const int kvd = Hkv * D;
    const float *Kc = cache + layer_off + (size_t)slot * slot_stride + (size_t)g * D;
    const float *Vc = Kc + plane;
    const int p_begin = split * CB_CUDA_ATTN_CHUNK;
    const int n_rows = nt * grp;
    const size_t nTH = (size_t)T * H;
    float *pm = part, *pl = part + (size_t)n_split * nTH, *pacc = part + 2 * (size_t)n_split * nTH;

    const int rg = (int)(blockIdx.x % rg_max) * ATT_ROWS;
    if (rg >= n_rows) return; /* the whole block: this tile has fewer rows (so have its other splits) */
    const int rows_here = min(ATT_ROWS, n_rows - rg);
    {
        /* row r of the group: token t0 + (rg + r) / grp, head g*grp + (rg + r) % grp */
        for (int i = threadIdx.x; i < rows_here * D; i += blockDim.x) {
            const int r = i / D, d = i % D, rr = rg + r;
            Qs[r * D + d] = q[(int64_t)(t0 + rr / grp) * ldq + (int64_t)(g * grp + rr % grp) * D + d];
        }
        /* positions this group needs: up to the last row's position */
        const int p_last = pos0 + (rg + rows_here - 1) / grp;
        const int p_end = min(p_begin + CB_CUDA_ATTN_CHUNK, p_last + 1);
        float m[ATT_RPW], l[ATT_RPW], acc[ATT_RPW][DPL];
        int rpos[ATT_RPW];
#pragma unroll
        for (int j = 0; j < ATT_RPW; j++) {
            m[j] = -INFINITY;
            l[j] = 0.0f;
            const int r = warp * ATT_RPW + j;
            rpos[j] = r < rows_here ? pos0 + (rg + r) / grp : -1;
#pragma unroll
            for (int i = 0; i < DPL; i++) acc[j][i] = 0.0f;
        }
        for (int p0 = p_begin; p0 < p_end; p0 += ATT_KT) {
            __syncthreads(); /* previous tile consumed (and Qs written, first time) */
            const int np = min(ATT_KT, p_end - p0);
            for (int i = threadIdx.x; i < ATT_KT * D; i += blockDim.x) {
                const int pp = i / D, d = i % D;
                float kv = 0.0f, vv = 0.0f;
                if (pp < np) {
                    kv = Kc[(size_t)(p0 + pp) * kvd + d];
                    vv = Vc[(size_t)(p0 + pp) * kvd + d];
                }
                Ks[pp * kld + d] = kv;
                Vs[pp * D + d] = vv;
            }
            __syncthreads();
#pragma unroll
            for (int j = 0; j < ATT_RPW; j++) {
                const int r = warp * ATT_RPW + j;
                if (rpos[j] < p0) continue; /* row has no position in this tile (or no row): warp-uniform */
                const float *qr = Qs + r * D;
                const int p = p0 + lane;
                float s = -INFINITY;
                if (lane < np && p <= rpos[j]) {
                    float d0 = 0.0f;
                    if ((D & 3) == 0) { /* 16-byte shared loads; same order as the scalar loop */
                        const float4 *q4 = (const float4 *)qr, *k4 = (const float4 *)(Ks + lane * kld);
                        for (int d = 0; d < D / 4; d++) {
                            const float4 a = q4[d], b = k4[d];
                            d0 = __fmaf_rn(a.x, b.x, d0);
                            d0 = __fmaf_rn(a.y, b.y, d0);
                            d0 = __fmaf_rn(a.z, b.z, d0);
                            d0 = __fmaf_rn(a.w, b.w, d0);
                        }
                    } else {
                        for (int d = 0; d < D; d++) d0 = __fmaf_rn(qr[d], Ks[lane * kld + d], d0);
                    }
                    s = d0 * scale;
                }
                const float tmax = warp_max(s);
                const float mnew = fmaxf(m[j], tmax);
                const float corr = expf(m[j] - mnew); /* m = -inf first: 0 */
                const float e = s == -INFINITY ? 0.0f : expf(s - mnew);
                l[j] = l[j] * corr + warp_sum(e);
                m[j] = mnew;
#pragma unroll
                for (int i = 0; i < DPL; i++) acc[j][i] *= corr;
                for (int pp = 0; pp < np; pp++) {
                    const float ep = __shfl_sync(0xffffffffu, e, pp);
#pragma unroll
                    for (int i = 0; i < DPL; i++) {
                        const int d = lane + 32 * i;
                        if (d < D) acc[j][i] = __fmaf_rn(ep, Vs[pp * D + d], acc[j][i]);
                    }
                }
            }
        }
        /* one split: the result (bit-identical to combining one split);
         * several: this group's partials */
#pragma unroll
        for (int j = 0; j < ATT_RPW; j++) {
            const int r = warp * ATT_RPW + j;
            if (r >= rows_here) continue;
            const int rr = rg + r, t = t0 + rr / grp, h = g * grp + rr % grp;
            if (n_split == 1) {
#pragma unroll
                for (int i = 0; i < DPL; i++) {
                    const int d = lane + 32 * i;
                    if (d < D) out[(int64_t)t * ldo + (int64_t)h * D + d] = acc[j][i] / l[j];
                }
                continue;
            }
            const size_t idx = ((size_t)split * T + t) * H + h;
            if (lane == 0) {
                pm[idx] = m[j];
                pl[idx] = l[j];
            }
#pragma unroll
            for (int i = 0; i < DPL; i++) {
                const int d = lane + 32 * i;
                if (d < D) pacc[idx * D + d] = acc[j][i];
            }
        }
    }
    if (n_split == 1 || !counters) return;
    /* the last of the n_split blocks of this (tile, kv head) merges their
     * partials (threadfence-and-count; the counter is reset for the next launch) */
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned int *ctr = counters + (size_t)blockIdx.x * gridDim.y + blockIdx.y;
        const unsigned int prev = atomicAdd(ctr, 1u);
        s_last = prev == (unsigned int)n_split - 1;
        if (s_last) atomicExch(ctr, 0u);
    }
    __syncthreads();
    if (!s_last) return;
    __threadfence();
    for (int rr = rg + warp; rr < rg + rows_here; rr += ATT_WARPS)
        combine_row(part, out, ldo, T, H, D, n_split, (int64_t)(t0 + rr / grp) * H + (g * grp + rr % grp), lane);
}

/* out[t, h*D + d] = sum_s acc_s[d] e^(m_s - M) / sum_s l_s e^(m_s - M), splits
 * in order, empty splits (l = 0) skipped. One warp per (t, h). */
__global__ void attn_combine_kernel(const float *__restrict__ part, float *__restrict__ out, int64_t ldo, int T, int H,
                                    int D, int n_split) {
    const int64_t th = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (th >= (int64_t)T * H) return;
    combine_row(part, out, ldo, T, H, D, n_split, th, threadIdx.x & 31);
}

extern "C" int cb_cuda_attention(cb_cuda_ctx *c, const float *cache, const cb_cuda_kv_shape *s, int layer,
                                 const float *q, int64_t ldq, float *out, int64_t ldo, const int32_t *tiles,
                                 int n_tiles, int max_nt, int64_t T, int64_t H, int64_t Hkv, int64_t D, int n_split,
                                 float *scratch, unsigned int *counters, cb_err *err) {
    if (T <= 0 || n_tiles <= 0) return 0;
    if (D > ATT_DMAX || D <= 0) return cb_err_set(err, CB_EUNSUP, "CUDA attention: head size %lld (1..%d supported)",
                                                  (long long)D, ATT_DMAX);
    if (Hkv <= 0 || H % Hkv != 0 || s->kv_dim != Hkv * D)
        return cb_err_set(err, CB_EUSAGE, "CUDA attention: %lld heads, %lld kv heads, kv_dim %lld", (long long)H,
                          (long long)Hkv, (long long)s->kv_dim);
    if (n_split <= 0 || n_split > 65535) return cb_err_set(err, CB_EUSAGE, "CUDA attention: %d splits", n_split);
    const size_t plane = (size_t)s->n_ctx * (size_t)s->kv_dim;
    if (max_nt <= 0 || max_nt > CB_CUDA_ATTN_QT)
        return cb_err_set(err, CB_EUSAGE, "CUDA attention: max tile size %d (1..%d)", max_nt, CB_CUDA_ATTN_QT);
    const size_t smem = (size_t)(ATT_KT * ((D & 3) ? D + 1 : D + 4) + ATT_KT * D + ATT_ROWS * D) * sizeof(float);
    /* one block per (tile, row group of ATT_ROWS rows), kv head and split */
    const int rg_max = (int)((max_nt * (H / Hkv) + ATT_ROWS - 1) / ATT_ROWS);
    dim3 grid((unsigned)(n_tiles * rg_max), (unsigned)Hkv, (unsigned)n_split);
    const float scale = 1.0f / sqrtf((float)D);
    const size_t loff = cb_cuda_kv_offset(s, layer, 0, 0);
#define ATT_LAUNCH(DPL)                                                                                              \
    attn_kernel<DPL><<<grid, ATT_WARPS * 32, smem, c->stream>>>(cache, loff, 2 * plane, plane, q, ldq, tiles, (int)T, \
                                                                (int)H, (int)Hkv, (int)D, scale, scratch, out, ldo,   \
                                                                counters, rg_max)
    if (D <= 32) ATT_LAUNCH(1);
    else if (D <= 64) ATT_LAUNCH(2);
    else if (D <= 96) ATT_LAUNCH(3);
    else ATT_LAUNCH(4);
#undef ATT_LAUNCH
    CU_LAUNCHED("attn_kernel<DPL %d> grid (%u, %u, %u) block %d, %d bytes shared, layer %d, D %lld, %d tiles of <= %d",
                (int)((D + 31) / 32), grid.x, grid.y, grid.z, ATT_WARPS * 32, (int)smem, layer, (long long)D, n_tiles,
                max_nt);
    if (n_split > 1 && !counters) {
        attn_combine_kernel<<<cdiv(T * H, 4), 128, 0, c->stream>>>(scratch, out, ldo, (int)T, (int)H, (int)D, n_split);
        CU_LAUNCHED("attn_combine_kernel grid (%u) block 128, %d splits", cdiv(T * H, 4), n_split);
    }
    return 0;
}
