/* tests/kernels/test_cuda.c — every CUDA kernel against its CPU twin
 * (kernels/kernels.h, or the CPU model's attention written out here) on fresh
 * random inputs, outputs poisoned (0xFF bytes: NaN floats, -1 ints) before
 * each launch so an unwritten element fails. Tolerances: F32 arithmetic and
 * the small-T matrix-vector path 1e-5 (norm-wise relative); cuBLAS with
 * F16/BF16 activations 1e-2 (Q8_0 and the 4/5/6-bit types: weights
 * dequantized to F16 first; their reference is dequant(W) . x in double,
 * since cb_matmul_ref quantizes x as the CPU engine does). Also: row strides, batch invariance of the
 * matrix-vector kernel and of attention (bit-identical across batch
 * composition, tiling and split count), graph capture/replay with changed
 * device-side positions, the two ceiling measurements.
 *
 * Without CUDA in the build every test skips with "built without CUDA"; with
 * CUDA but no device, with "no CUDA device: <reason>".
 */
#include "common/rng.h"
#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CB_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"

static cb_cuda_ctx *ctx;
static cb_rng rng;
static uint64_t seed;
static cb_err err;

/* Skips without a device; otherwise makes the context and seeds the RNG
 * freshly (the seed is printed with every failure). */
static void need_gpu(void) {
    int n = 0;
    cb_err e;
    cb_err_clear(&e);
    if (cb_cuda_device_count(&n, &e) != 0) cr_skip_test("%s", e.msg);
    cb_err_clear(&err);
    cr_assert_eq(cb_cuda_ctx_new(0, &ctx, &err), 0, "%s", err.msg);
    seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)clock();
    cb_rng_seed(&rng, seed);
}

static void done(void) {
    cb_cuda_ctx_free(ctx);
    ctx = NULL;
}

#define OK(call) cr_assert_eq((call), 0, "%s (seed %llu)", err.msg, (unsigned long long)seed)

static float frand(void) { return (float)(cb_rng_float(&rng) * 2.0 - 1.0); }
static float *hrand(size_t n, float scale) {
    float *p = malloc(n * sizeof *p);
    cr_assert(p);
    for (size_t i = 0; i < n; i++) p[i] = frand() * scale;
    return p;
}
/* Device buffer of n bytes filled with 0xFF. */
static void *dpoison(size_t n) {
    void *d = NULL;
    OK(cb_cuda_alloc(ctx, n, &d, &err));
    OK(cb_cuda_memset(ctx, d, 0xFF, n, &err));
    return d;
}
static void *dup_to_dev(const void *h, size_t n) {
    void *d = NULL;
    OK(cb_cuda_alloc(ctx, n, &d, &err));
    OK(cb_cuda_upload(ctx, d, h, n, &err));
    return d;
}
static void *to_host(const void *d, size_t n) {
    void *h = malloc(n ? n : 1);
    cr_assert(h);
    OK(cb_cuda_download(ctx, h, d, n, &err));
    return h;
}

/* ||a - b|| / ||b|| over n; NaN anywhere fails. */
static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Host weight matrix (N, K) of `type` from random floats. */
static void *make_weight(uint32_t type, int64_t K, int64_t N) {
    size_t n = (size_t)(K * N);
    float *f = hrand(n, 1.0f);
    void *w = malloc(cb_row_bytes(type, K) * (size_t)N);
    cr_assert(w);
    switch (type) {
    case CB_KTYPE_F32: memcpy(w, f, n * sizeof(float)); break;
    case CB_KTYPE_F16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)w)[i] = cb_fp32_to_fp16(f[i]);
        break;
    case CB_KTYPE_BF16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)w)[i] = cb_fp32_to_bf16(f[i]);
        break;
    case CB_KTYPE_Q8_0: cb_quantize_q8_0(f, w, (int64_t)n); break;
    default: cb_quantize_row(type, f, w, (int64_t)n); break; /* the 4/5/6-bit types */
    }
    free(f);
    return w;
}

static const char *tname(uint32_t t) { return cb_ggml_type_name(t); }

/* Every weight type of the CUDA kernel set; the 4/5/6-bit ones go through
 * kernels/dequant.h (bit-exact with the CPU's decoding, test_dequant.c). */
static const uint32_t all_types[] = {CB_KTYPE_F32,  CB_KTYPE_F16,  CB_KTYPE_BF16, CB_KTYPE_Q8_0,
                                     CB_KTYPE_Q4_0, CB_KTYPE_Q4_1, CB_KTYPE_Q5_0, CB_KTYPE_Q5_1,
                                     CB_KTYPE_Q4_K, CB_KTYPE_Q5_K, CB_KTYPE_Q6_K};
#define N_ALL_TYPES (sizeof all_types / sizeof all_types[0])

/* y (T, N) = x (T, K) @ dequant(W)^T in double: the product the CUDA kernels
 * compute (F32 activations for every type). cb_matmul_ref would quantize x
 * for the 4/5/6-bit types, as the CPU engine does. */
static void ref_matmul_f32x(uint32_t type, const void *W, const float *x, float *y, int64_t T, int64_t K, int64_t N) {
    float *w = malloc((size_t)K * sizeof *w);
    cr_assert(w);
    for (int64_t n = 0; n < N; n++) {
        cb_dequantize_row(type, (const char *)W + cb_row_bytes(type, K) * (size_t)n, w, K);
        for (int64_t t = 0; t < T; t++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)w[k] * x[t * K + k];
            y[t * N + n] = (float)acc;
        }
    }
    free(w);
}

#else
static void need_gpu(void) { cr_skip_test("built without CUDA"); }
static void done(void) {}
#endif

Test(cuda, device_info) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    cb_cuda_device_info in;
    OK(cb_cuda_device_info_get(0, &in, &err));
    cr_assert(in.name[0] != '\0');
    cr_assert(in.total_mem > 0 && in.free_mem > 0 && in.free_mem <= in.total_mem);
    cr_assert(in.n_sm > 0 && in.cc_major >= 7);
    cr_log_info("device 0: %s, cc %d.%d, %d SMs, %zu MiB", in.name, in.cc_major, in.cc_minor, in.n_sm,
                in.total_mem >> 20);
    cr_assert_neq(cb_cuda_device_info_get(4096, &in, &err), 0);
#endif
    done();
}

Test(cuda, matmul_all_types) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    static const int64_t Ts[] = {1, 2, 3, 5, 8, 9, 33, 130};
    /* (K, N): vector path, odd N, and K % 8 != 0 (scalar path; not for the
     * block types, which need K to be a multiple of their block) */
    static const int64_t KN[][2] = {{256, 96}, {96, 37}, {172, 40}, {512, 19}};
    for (size_t ti = 0; ti < N_ALL_TYPES; ti++)
        for (size_t s = 0; s < 4; s++) {
            uint32_t type = all_types[ti];
            int64_t K = KN[s][0], N = KN[s][1];
            if (type != CB_KTYPE_F32 && type != CB_KTYPE_F16 && type != CB_KTYPE_BF16 &&
                K % cb_type_block_elems(type))
                continue;
            void *hw = make_weight(type, K, N);
            cb_cuda_weight W;
            const void *parts[1] = {hw};
            OK(cb_cuda_weight_upload(ctx, type, K, parts, &N, 1, &W, &err));
            for (size_t tt = 0; tt < sizeof Ts / sizeof *Ts; tt++) {
                int64_t T = Ts[tt], ldy = N + 5;
                float *hx = hrand((size_t)(T * K), 1.0f);
                float *ref = malloc((size_t)(T * N) * sizeof *ref);
                ref_matmul_f32x(type, hw, hx, ref, T, K, N);
                float *dx = dup_to_dev(hx, (size_t)(T * K) * sizeof(float));
                float *dy = dpoison((size_t)(T * ldy) * sizeof(float));
                OK(cb_cuda_matmul(ctx, &W, dx, dy, ldy, T, &err));
                float *hy = to_host(dy, (size_t)(T * ldy) * sizeof(float));
                float *got = malloc((size_t)(T * N) * sizeof *got);
                for (int64_t t = 0; t < T; t++) {
                    memcpy(got + t * N, hy + t * ldy, (size_t)N * sizeof(float));
                    for (int64_t j = N; j < ldy; j++)
                        cr_assert(isnan(hy[t * ldy + j]), "%s: column %lld past N was written", tname(type),
                                  (long long)j);
                }
                double e = rel_err(got, ref, (size_t)(T * N));
                double tol = (T <= CB_CUDA_SMALL_T || type == CB_KTYPE_F32) ? 1e-5 : 1e-2;
                cr_assert(e <= tol, "matmul %s T=%lld K=%lld N=%lld: rel err %g > %g (seed %llu)", tname(type),
                          (long long)T, (long long)K, (long long)N, e, tol, (unsigned long long)seed);
                cb_cuda_free(ctx, dx);
                cb_cuda_free(ctx, dy);
                free(hx);
                free(ref);
                free(hy);
                free(got);
            }
            cb_cuda_weight_free(ctx, &W);
            free(hw);
        }
#endif
    done();
}

Test(cuda, matmul_small_t_batch_invariant) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* row t of a T-row product equals the same row computed alone, bit for bit */
    const uint32_t *types = all_types;
    const int64_t K = 512, N = 64;
    for (size_t ti = 0; ti < N_ALL_TYPES; ti++) {
        void *hw = make_weight(types[ti], K, N);
        cb_cuda_weight W;
        const void *parts[1] = {hw};
        int64_t n = N;
        OK(cb_cuda_weight_upload(ctx, types[ti], K, parts, &n, 1, &W, &err));
        float *hx = hrand((size_t)(8 * K), 2.0f);
        float *dx = dup_to_dev(hx, (size_t)(8 * K) * sizeof(float));
        float *dy8 = dpoison((size_t)(8 * N) * sizeof(float)), *dy1 = dpoison((size_t)N * sizeof(float));
        OK(cb_cuda_matmul(ctx, &W, dx, dy8, N, 8, &err));
        float *y8 = to_host(dy8, (size_t)(8 * N) * sizeof(float));
        for (int t = 0; t < 8; t++) {
            OK(cb_cuda_matmul(ctx, &W, dx + t * K, dy1, N, 1, &err));
            float *y1 = to_host(dy1, (size_t)N * sizeof(float));
            cr_assert(memcmp(y1, y8 + t * N, (size_t)N * sizeof(float)) == 0,
                      "%s: row %d differs between T=8 and T=1", tname(types[ti]), t);
            free(y1);
        }
        free(y8);
        free(hx);
        free(hw);
        cb_cuda_free(ctx, dx);
        cb_cuda_free(ctx, dy8);
        cb_cuda_free(ctx, dy1);
        cb_cuda_weight_free(ctx, &W);
    }
#endif
    done();
}

Test(cuda, stacked_weight_upload) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* three parts stacked along N compute the same as the concatenated matrix */
    static const uint32_t types[] = {CB_KTYPE_F16, CB_KTYPE_Q8_0};
    const int64_t K = 128, Ns[3] = {48, 16, 16}, N = 80;
    for (int ti = 0; ti < 2; ti++) {
        uint32_t type = types[ti];
        void *hw = make_weight(type, K, N);
        size_t rb = cb_row_bytes(type, K);
        const void *parts[3] = {hw, (char *)hw + rb * 48, (char *)hw + rb * 64};
        cb_cuda_weight W;
        OK(cb_cuda_weight_upload(ctx, type, K, parts, Ns, 3, &W, &err));
        cr_assert_eq(W.N, N);
        for (int T = 1; T <= 16; T += 15) {
            float *hx = hrand((size_t)(T * K), 1.0f), *ref = malloc((size_t)(T * N) * sizeof(float));
            cb_matmul_ref(type, hw, hx, ref, T, K, N);
            float *dx = dup_to_dev(hx, (size_t)(T * K) * sizeof(float)), *dy = dpoison((size_t)(T * N) * 4);
            OK(cb_cuda_matmul(ctx, &W, dx, dy, N, T, &err));
            float *hy = to_host(dy, (size_t)(T * N) * 4);
            double e = rel_err(hy, ref, (size_t)(T * N));
            cr_assert(e <= (T <= CB_CUDA_SMALL_T ? 1e-5 : 1e-2), "%s stacked T=%d: rel err %g", tname(type), T, e);
            free(hx);
            free(ref);
            free(hy);
            cb_cuda_free(ctx, dx);
            cb_cuda_free(ctx, dy);
        }
        cb_cuda_weight_free(ctx, &W);
        free(hw);
    }
#endif
    done();
}

Test(cuda, embed) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    const uint32_t *types = all_types;
    const int64_t C = 256, V = 50, T = 13;
    for (size_t ti = 0; ti < N_ALL_TYPES; ti++) {
        void *hw = make_weight(types[ti], C, V);
        cb_cuda_weight E;
        const void *parts[1] = {hw};
        int64_t n = V;
        OK(cb_cuda_weight_upload(ctx, types[ti], C, parts, &n, 1, &E, &err));
        int32_t tok[13];
        for (int t = 0; t < T; t++) tok[t] = (int32_t)cb_rng_uniform(&rng, (uint64_t)V);
        int32_t *dt = dup_to_dev(tok, sizeof tok);
        float *dx = dpoison((size_t)(T * C) * 4);
        OK(cb_cuda_embed(ctx, &E, dt, dx, T, &err));
        float *hx = to_host(dx, (size_t)(T * C) * 4), *ref = malloc((size_t)C * 4);
        size_t rb = cb_row_bytes(types[ti], C);
        for (int t = 0; t < T; t++) {
            cb_dequantize_row(types[ti], (char *)hw + rb * (size_t)tok[t], ref, C);
            cr_assert(memcmp(ref, hx + t * C, (size_t)C * 4) == 0, "%s: embedding row %d differs", tname(types[ti]),
                      t);
        }
        free(hx);
        free(ref);
        free(hw);
        cb_cuda_free(ctx, dt);
        cb_cuda_free(ctx, dx);
        cb_cuda_weight_free(ctx, &E);
    }
#endif
    done();
}

Test(cuda, add_rmsnorm_and_add) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    static const int64_t Cs[] = {7, 64, 2048, 2051};
    const int64_t T = 5;
    for (int ci = 0; ci < 4; ci++) {
        const int64_t C = Cs[ci];
        const size_t n = (size_t)(T * C);
        float *hx = hrand(n, 3.0f), *ha = hrand(n, 1.0f), *hw = hrand((size_t)C, 1.0f);
        float *ref = malloc(n * 4), *sum = malloc(n * 4);
        for (size_t i = 0; i < n; i++) sum[i] = hx[i] + ha[i];
        /* (a) plain: out = rmsnorm(x) */
        float *dx = dup_to_dev(hx, n * 4), *da = dup_to_dev(ha, n * 4), *dw = dup_to_dev(hw, (size_t)C * 4);
        float *dout = dpoison(n * 4);
        OK(cb_cuda_add_rmsnorm(ctx, dx, NULL, dw, dout, NULL, T, T, C, 1e-5f, &err));
        float *got = to_host(dout, n * 4);
        for (int64_t t = 0; t < T; t++) cb_rmsnorm(ref + t * C, hx + t * C, hw, C, 1e-5f);
        cr_assert(rel_err(got, ref, n) <= 1e-5, "rmsnorm C=%lld: %g", (long long)C, rel_err(got, ref, n));
        free(got);
        /* (b) gathered rows with add: out[r] = rmsnorm(x[rows[r]] + a[rows[r]]), x untouched */
        int32_t rows[2] = {3, 1};
        int32_t *drows = dup_to_dev(rows, sizeof rows);
        OK(cb_cuda_memset(ctx, dout, 0xFF, n * 4, &err));
        OK(cb_cuda_add_rmsnorm(ctx, dx, da, dw, dout, drows, T, 2, C, 1e-5f, &err));
        got = to_host(dout, 2 * (size_t)C * 4);
        for (int r = 0; r < 2; r++) cb_rmsnorm(ref + r * C, sum + rows[r] * C, hw, C, 1e-5f);
        cr_assert(rel_err(got, ref, 2 * (size_t)C) <= 1e-5);
        free(got);
        got = to_host(dx, n * 4);
        cr_assert(memcmp(got, hx, n * 4) == 0, "x changed by a gathered norm");
        free(got);
        /* (c) residual update in place, out aliasing add: x += a ; a = rmsnorm(x) */
        OK(cb_cuda_add_rmsnorm(ctx, dx, da, dw, da, NULL, T, T, C, 1e-5f, &err));
        got = to_host(dx, n * 4);
        cr_assert(memcmp(got, sum, n * 4) == 0, "residual sum differs");
        free(got);
        got = to_host(da, n * 4);
        for (int64_t t = 0; t < T; t++) cb_rmsnorm(ref + t * C, sum + t * C, hw, C, 1e-5f);
        cr_assert(rel_err(got, ref, n) <= 1e-5);
        free(got);
        /* (d) plain add */
        float *dy = dup_to_dev(hx, n * 4);
        OK(cb_cuda_add(ctx, dy, dx, (int64_t)n, &err));
        got = to_host(dy, n * 4);
        for (size_t i = 0; i < n; i++) cr_assert_eq(got[i], hx[i] + sum[i]);
        free(got);
        cb_cuda_free(ctx, dy);
        cb_cuda_free(ctx, dx);
        cb_cuda_free(ctx, da);
        cb_cuda_free(ctx, dw);
        cb_cuda_free(ctx, dout);
        cb_cuda_free(ctx, drows);
        free(hx);
        free(ha);
        free(hw);
        free(ref);
        free(sum);
    }
#endif
    done();
}

Test(cuda, rope_norm_and_neox) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    const int64_t T = 6, H = 5, D = 64, ld = H * D + 24;
    float inv[32];
    for (int i = 0; i < 32; i++) inv[i] = powf(10000.0f, -2.0f * (float)i / 64.0f);
    float *dinv = dup_to_dev(inv, sizeof inv);
    for (int neox = 0; neox < 2; neox++)
        for (int nr = 0; nr < 2; nr++) {
            const int64_t n_rot = nr ? 32 : 64;
            float *hx = hrand((size_t)(T * ld), 2.0f);
            int32_t pos[6];
            for (int t = 0; t < T; t++) pos[t] = (int32_t)cb_rng_uniform(&rng, 4096);
            float *dx = dup_to_dev(hx, (size_t)(T * ld) * 4);
            int32_t *dpos = dup_to_dev(pos, sizeof pos);
            OK(cb_cuda_rope(ctx, dx, ld, T, H, D, n_rot, dpos, dinv, neox, &err));
            float *got = to_host(dx, (size_t)(T * ld) * 4);
            for (int64_t t = 0; t < T; t++) {
                cb_rope(hx + t * ld, H, D, n_rot, pos[t], inv, neox);
                cr_assert(rel_err(got + t * ld, hx + t * ld, (size_t)(H * D)) <= 1e-6, "rope neox=%d n_rot=%lld", neox,
                          (long long)n_rot);
                cr_assert(memcmp(got + t * ld + H * D, hx + t * ld + H * D, 24 * 4) == 0, "rope wrote past H*D");
            }
            free(hx);
            free(got);
            cb_cuda_free(ctx, dx);
            cb_cuda_free(ctx, dpos);
        }
    cb_cuda_free(ctx, dinv);
#endif
    done();
}

Test(cuda, add_bias_rows) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* y (T, N) [ldy] += b (N): the same float add as the CPU model's, so bit for bit; columns past N untouched */
    const int64_t T = 9, N = 320, ldy = 333;
    float *hy = hrand((size_t)(T * ldy), 1.0f), *hb = hrand((size_t)N, 1.0f);
    float *dy = dup_to_dev(hy, (size_t)(T * ldy) * 4), *db = dup_to_dev(hb, (size_t)N * 4);
    OK(cb_cuda_add_bias(ctx, dy, ldy, db, T, N, &err));
    float *got = to_host(dy, (size_t)(T * ldy) * 4);
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < ldy; j++) {
            float want = j < N ? hy[t * ldy + j] + hb[j] : hy[t * ldy + j];
            cr_assert(memcmp(&want, &got[t * ldy + j], 4) == 0, "row %lld column %lld: %.9g, want %.9g",
                      (long long)t, (long long)j, got[t * ldy + j], want);
        }
    cr_assert_eq(cb_cuda_add_bias(ctx, dy, 10, db, T, N, &err), CB_EUSAGE);
    free(hy);
    free(hb);
    free(got);
    cb_cuda_free(ctx, dy);
    cb_cuda_free(ctx, db);
#endif
    done();
}

Test(cuda, swiglu) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    const int64_t T = 7, F = 333;
    float *hgu = hrand((size_t)(T * 2 * F), 6.0f);
    float *dgu = dup_to_dev(hgu, (size_t)(T * 2 * F) * 4), *dout = dpoison((size_t)(T * F) * 4);
    OK(cb_cuda_swiglu(ctx, dgu, dout, T, F, &err));
    float *got = to_host(dout, (size_t)(T * F) * 4), *ref = malloc((size_t)(T * F) * 4);
    for (int64_t t = 0; t < T; t++) {
        memcpy(ref + t * F, hgu + t * 2 * F, (size_t)F * 4);
        cb_swiglu(ref + t * F, hgu + t * 2 * F + F, F);
    }
    for (int64_t i = 0; i < T * F; i++)
        cr_assert(fabsf(got[i] - ref[i]) <= 1e-5f * fabsf(ref[i]) + 1e-7f, "swiglu[%lld] %g vs %g", (long long)i,
                  got[i], ref[i]);
    free(hgu);
    free(got);
    free(ref);
    cb_cuda_free(ctx, dgu);
    cb_cuda_free(ctx, dout);
#endif
    done();
}

Test(cuda, log_softmax_gather_and_argmax) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    const int64_t R = 9, V = 32003;
    float *hx = hrand((size_t)(R * V), 12.0f);
    int32_t idx[9], want[9];
    for (int r = 0; r < R; r++) {
        idx[r] = (int32_t)cb_rng_uniform(&rng, (uint64_t)V);
        /* plant a tie for the maximum at two places; the lower index must win */
        int64_t a = (int64_t)cb_rng_uniform(&rng, (uint64_t)V), b = (int64_t)cb_rng_uniform(&rng, (uint64_t)V);
        hx[r * V + a] = 100.0f;
        hx[r * V + b] = 100.0f;
        want[r] = (int32_t)(a < b ? a : b);
        cr_assert_eq(cb_argmax(hx + r * V, V), want[r]);
    }
    float *dx = dup_to_dev(hx, (size_t)(R * V) * 4);
    int32_t *didx = dup_to_dev(idx, sizeof idx);
    double *dlp = dpoison((size_t)R * sizeof(double));
    int32_t *dam = dpoison(sizeof want);
    OK(cb_cuda_log_softmax_gather(ctx, dx, didx, dlp, R, V, &err));
    OK(cb_cuda_argmax(ctx, dx, dam, R, V, &err));
    double *lp = to_host(dlp, (size_t)R * sizeof(double));
    int32_t *am = to_host(dam, sizeof want);
    for (int r = 0; r < R; r++) {
        double ref = cb_log_softmax_at(hx + r * V, V, idx[r]);
        cr_assert(fabs(lp[r] - ref) <= 1e-9 * fabs(ref) + 1e-9, "log-softmax row %d: %.12g vs %.12g", r, lp[r], ref);
        cr_assert_eq(am[r], want[r], "argmax row %d: %d, want %d", r, am[r], want[r]);
    }
    free(hx);
    free(lp);
    free(am);
    cb_cuda_free(ctx, dx);
    cb_cuda_free(ctx, didx);
    cb_cuda_free(ctx, dlp);
    cb_cuda_free(ctx, dam);
#endif
    done();
}

#ifdef CB_HAVE_CUDA
/* The CPU model's attention for one (token, head): softmax(q K^T / sqrt(D)) V
 * over positions [0, pos] of the slot (model.c's `attend`). */
static void attend_ref(const float *cache, const cb_cuda_kv_shape *s, int layer, int slot, int pos, const float *q,
                       int64_t h, int64_t H, int64_t Hkv, int64_t D, float *out) {
    const int64_t g = h / (H / Hkv), kvd = s->kv_dim;
    const float *K = cache + cb_cuda_kv_offset(s, layer, slot, 0) + g * D;
    const float *Vv = cache + cb_cuda_kv_offset(s, layer, slot, 1) + g * D;
    float *sc = malloc((size_t)(pos + 1) * sizeof *sc);
    for (int p = 0; p <= pos; p++) {
        float d = 0;
        for (int64_t i = 0; i < D; i++) d += q[i] * K[(size_t)p * kvd + i];
        sc[p] = d * (1.0f / sqrtf((float)D));
    }
    cb_softmax(sc, pos + 1);
    for (int64_t i = 0; i < D; i++) out[i] = 0;
    for (int p = 0; p <= pos; p++)
        for (int64_t i = 0; i < D; i++) out[i] += sc[p] * Vv[(size_t)p * kvd + i];
    free(sc);
}
#endif

Test(cuda, kv_store_and_attention) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* (H, Hkv, D): GQA 4:1 at 64, 2:1 at 8 (stories260K-like), MHA at 128 */
    static const int64_t cfg[][3] = {{8, 2, 64}, {8, 4, 8}, {4, 4, 128}};
    for (int ci = 0; ci < 3; ci++) {
        const int64_t H = cfg[ci][0], Hkv = cfg[ci][1], D = cfg[ci][2], HD = H * D, KVD = Hkv * D;
        cb_cuda_kv_shape s = {.n_layer = 2, .n_slots = 3, .n_ctx = 600, .kv_dim = KVD};
        const size_t cn = (size_t)2 * 3 * 2 * 600 * (size_t)KVD;
        float *hc = hrand(cn, 1.0f);
        float *dc = dup_to_dev(hc, cn * 4);
        /* batch: slot 0 prefill of 20 tokens at 0..19 (two tiles), slot 1 one
         * decode token at 530 (3 splits), slot 2 at 5, slot 0 again is not allowed */
        enum { T = 22 };
        int32_t slot[T], pos[T];
        for (int t = 0; t < 20; t++) {
            slot[t] = 0;
            pos[t] = t;
        }
        slot[20] = 1;
        pos[20] = 530;
        slot[21] = 2;
        pos[21] = 5;
        const int layer = 1;
        /* new K/V rows for the batch go through kv_store */
        const int64_t ld = KVD + 3;
        float *hk = hrand((size_t)(T * ld), 1.0f), *hv = hrand((size_t)(T * ld), 1.0f);
        for (int t = 0; t < T; t++) {
            memcpy(hc + cb_cuda_kv_offset(&s, layer, slot[t], 0) + (size_t)pos[t] * KVD, hk + t * ld, (size_t)KVD * 4);
            memcpy(hc + cb_cuda_kv_offset(&s, layer, slot[t], 1) + (size_t)pos[t] * KVD, hv + t * ld, (size_t)KVD * 4);
        }
        float *dk = dup_to_dev(hk, (size_t)(T * ld) * 4), *dv = dup_to_dev(hv, (size_t)(T * ld) * 4);
        int32_t *dslot = dup_to_dev(slot, sizeof slot), *dpos = dup_to_dev(pos, sizeof pos);
        OK(cb_cuda_kv_store(ctx, dc, &s, layer, dk, dv, ld, dslot, dpos, T, &err));
        float *gc = to_host(dc, cn * 4);
        cr_assert(memcmp(gc, hc, cn * 4) == 0, "kv_store: cache differs from the expected placement");
        free(gc);

        const int64_t ldq = HD + 7;
        float *hq = hrand((size_t)(T * ldq), 1.0f);
        float *dq = dup_to_dev(hq, (size_t)(T * ldq) * 4);
        int32_t tiles[4 * T];
        int max_nt = 0;
        int n_tiles = cb_cuda_attn_tiles(slot, pos, T, tiles, &max_nt);
        cr_assert_eq(n_tiles, 4, "tiles: %d", n_tiles); /* 16 + 4 of slot 0, then slots 1 and 2 */
        cr_assert_eq(max_nt, 16);
        int32_t *dtiles = dup_to_dev(tiles, sizeof tiles);
        int n_split = 530 / CB_CUDA_ATTN_CHUNK + 1;
        float *scr = dpoison(cb_cuda_attn_scratch_floats(T, H, D, 8) * 4);
        float *dout = dpoison((size_t)(T * HD) * 4);
        OK(cb_cuda_attention(ctx, dc, &s, layer, dq, ldq, dout, HD, dtiles, n_tiles, max_nt, T, H, Hkv, D, n_split, scr, NULL,
                             &err));
        float *got = to_host(dout, (size_t)(T * HD) * 4), *ref = malloc((size_t)HD * 4);
        for (int t = 0; t < T; t++) {
            for (int64_t h = 0; h < H; h++)
                attend_ref(hc, &s, layer, slot[t], pos[t], hq + t * ldq + h * D, h, H, Hkv, D, ref + h * D);
            double e = rel_err(got + t * HD, ref, (size_t)HD);
            cr_assert(e <= 1e-5, "attention H=%lld Hkv=%lld D=%lld token %d (pos %d): rel err %g (seed %llu)",
                      (long long)H, (long long)Hkv, (long long)D, t, pos[t], e, (unsigned long long)seed);
        }
        /* invariance: one token per tile and 8 splits give the same bits */
        int32_t tiles1[4 * T];
        for (int t = 0; t < T; t++) {
            tiles1[4 * t] = t;
            tiles1[4 * t + 1] = 1;
            tiles1[4 * t + 2] = slot[t];
            tiles1[4 * t + 3] = pos[t];
        }
        int32_t *dtiles1 = dup_to_dev(tiles1, sizeof tiles1);
        float *dout2 = dpoison((size_t)(T * HD) * 4);
        OK(cb_cuda_attention(ctx, dc, &s, layer, dq, ldq, dout2, HD, dtiles1, T, 1, T, H, Hkv, D, 8, scr, NULL, &err));
        float *got2 = to_host(dout2, (size_t)(T * HD) * 4);
        cr_assert(memcmp(got, got2, (size_t)(T * HD) * 4) == 0, "attention depends on tiling or split count");
        /* and the decode token alone in its batch */
        float *dout3 = dpoison((size_t)HD * 4);
        int32_t one[4] = {0, 1, slot[20], pos[20]}; /* alone, the token is row 0 */
        int32_t *done1 = dup_to_dev(one, sizeof one);
        OK(cb_cuda_attention(ctx, dc, &s, layer, dq + 20 * ldq, ldq, dout3, HD, done1, 1, 1, 1, H, Hkv, D, 3, scr, NULL, &err));
        float *got3 = to_host(dout3, (size_t)HD * 4);
        cr_assert(memcmp(got3, got + 20 * HD, (size_t)HD * 4) == 0, "attention of a token depends on its batch");
        /* the last-block combine (counters) gives the same bits, twice (the counters reset themselves) */
        unsigned int *dctr = NULL;
        OK(cb_cuda_alloc(ctx, (size_t)(T * H) * sizeof(unsigned int), (void **)&dctr, &err));
        OK(cb_cuda_memset(ctx, dctr, 0, (size_t)(T * H) * sizeof(unsigned int), &err));
        for (int rep = 0; rep < 2; rep++) {
            OK(cb_cuda_memset(ctx, dout2, 0xFF, (size_t)(T * HD) * 4, &err));
            OK(cb_cuda_attention(ctx, dc, &s, layer, dq, ldq, dout2, HD, dtiles1, T, 1, T, H, Hkv, D, 8, scr, dctr,
                                 &err));
            float *g4 = to_host(dout2, (size_t)(T * HD) * 4);
            cr_assert(memcmp(g4, got, (size_t)(T * HD) * 4) == 0, "last-block combine differs (run %d)", rep);
            free(g4);
        }
        /* and with the multi-token tiles (several row groups per tile) */
        OK(cb_cuda_memset(ctx, dout2, 0xFF, (size_t)(T * HD) * 4, &err));
        OK(cb_cuda_attention(ctx, dc, &s, layer, dq, ldq, dout2, HD, dtiles, n_tiles, max_nt, T, H, Hkv, D, 3, scr, dctr,
                             &err));
        float *g6 = to_host(dout2, (size_t)(T * HD) * 4);
        cr_assert(memcmp(g6, got, (size_t)(T * HD) * 4) == 0, "last-block combine with row groups differs");
        free(g6);
        unsigned int *hctr = to_host(dctr, (size_t)(T * H) * sizeof(unsigned int));
        for (int i = 0; i < T * H; i++) cr_assert_eq(hctr[i], 0u, "counter %d left at %u", i, hctr[i]);
        free(hctr);
        /* one split writes rows directly: same bits as merging several */
        OK(cb_cuda_memset(ctx, dout2, 0xFF, (size_t)(T * HD) * 4, &err));
        OK(cb_cuda_attention(ctx, dc, &s, layer, dq, ldq, dout2, HD, dtiles, 2, 16, 20, H, Hkv, D, 1, scr, NULL, &err));
        float *g5 = to_host(dout2, (size_t)(20 * HD) * 4);
        cr_assert(memcmp(g5, got, (size_t)(20 * HD) * 4) == 0, "single-split attention differs");
        free(g5);
        cb_cuda_free(ctx, dctr);
        free(got3);
        free(got2);
        free(got);
        free(ref);
        free(hq);
        free(hk);
        free(hv);
        free(hc);
        void *ds[] = {dc, dk, dv, dslot, dpos, dq, dtiles, scr, dout, dtiles1, dout2, dout3, done1};
        for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) cb_cuda_free(ctx, ds[i]);
    }
#endif
    done();
}

Test(cuda, low_precision_producers_feed_matmul) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* rmsnorm / swiglu writing F16 or BF16 straight into a large product give
     * the same bits as F32 outputs converted inside cb_cuda_matmul */
    static const uint32_t wts[] = {CB_KTYPE_F16, CB_KTYPE_BF16, CB_KTYPE_Q8_0};
    const int64_t T = 24, C = 256, N = 40, F = 128;
    for (int wi = 0; wi < 3; wi++) {
        const uint32_t wt = wts[wi];
        void *hw = make_weight(wt, C, N), *hw2 = make_weight(wt, F, N);
        cb_cuda_weight W, W2;
        const void *parts[1] = {hw};
        int64_t n = N;
        OK(cb_cuda_weight_upload(ctx, wt, C, parts, &n, 1, &W, &err));
        parts[0] = hw2;
        OK(cb_cuda_weight_upload(ctx, wt, F, parts, &n, 1, &W2, &err));
        const uint32_t it = cb_cuda_matmul_input_type(&W, T);
        cr_assert_eq(it, wt == CB_KTYPE_BF16 ? CB_KTYPE_BF16 : CB_KTYPE_F16);
        cr_assert_eq(cb_cuda_matmul_input_type(&W, 8), CB_KTYPE_F32);
        float *hx = hrand((size_t)(T * C), 2.0f), *hnw = hrand((size_t)C, 1.0f), *hgu = hrand((size_t)(T * 2 * F), 3.0f);
        float *dx = dup_to_dev(hx, (size_t)(T * C) * 4), *dnw = dup_to_dev(hnw, (size_t)C * 4);
        float *dgu = dup_to_dev(hgu, (size_t)(T * 2 * F) * 4);
        float *d32 = dpoison((size_t)(T * (C > F ? C : F)) * 4);
        void *dlo = dpoison((size_t)(T * (C > F ? C : F)) * 2);
        float *y1 = dpoison((size_t)(T * N) * 4), *y2 = dpoison((size_t)(T * N) * 4);
        /* rmsnorm -> product */
        OK(cb_cuda_add_rmsnorm(ctx, dx, NULL, dnw, d32, NULL, T, T, C, 1e-5f, &err));
        OK(cb_cuda_add_rmsnorm_t(ctx, dx, NULL, dnw, dlo, it, NULL, T, T, C, 1e-5f, &err));
        OK(cb_cuda_matmul(ctx, &W, d32, y1, N, T, &err));
        OK(cb_cuda_matmul_x(ctx, &W, dlo, it, y2, N, T, &err));
        float *a = to_host(y1, (size_t)(T * N) * 4), *b = to_host(y2, (size_t)(T * N) * 4);
        cr_assert(memcmp(a, b, (size_t)(T * N) * 4) == 0, "%s: rmsnorm in %s differs from converted F32", tname(wt),
                  tname(it));
        free(a);
        free(b);
        /* the low-precision values are the CPU's rmsnorm rounded */
        uint16_t *lo = to_host(dlo, (size_t)(T * C) * 2);
        float *ref = malloc((size_t)C * 4);
        for (int64_t t = 0; t < T; t++) {
            cb_rmsnorm(ref, hx + t * C, hnw, C, 1e-5f);
            for (int64_t i = 0; i < C; i++) {
                float v = it == CB_KTYPE_F16 ? cb_fp16_to_fp32(lo[t * C + i]) : cb_bf16_to_fp32(lo[t * C + i]);
                cr_assert(fabsf(v - ref[i]) <= (it == CB_KTYPE_F16 ? 1e-3f : 8e-3f) * fabsf(ref[i]) + 1e-6f,
                          "%s rmsnorm[%lld,%lld] = %g, CPU %g", tname(it), (long long)t, (long long)i, v, ref[i]);
            }
        }
        free(lo);
        free(ref);
        /* swiglu -> product */
        OK(cb_cuda_swiglu(ctx, dgu, d32, T, F, &err));
        OK(cb_cuda_swiglu_t(ctx, dgu, dlo, it, T, F, &err));
        OK(cb_cuda_matmul(ctx, &W2, d32, y1, N, T, &err));
        OK(cb_cuda_matmul_x(ctx, &W2, dlo, it, y2, N, T, &err));
        a = to_host(y1, (size_t)(T * N) * 4);
        b = to_host(y2, (size_t)(T * N) * 4);
        cr_assert(memcmp(a, b, (size_t)(T * N) * 4) == 0, "%s: swiglu in %s differs from converted F32", tname(wt),
                  tname(it));
        free(a);
        free(b);
        /* a type the product does not take */
        cr_assert_eq(cb_cuda_matmul_x(ctx, &W, dlo, it == CB_KTYPE_F16 ? CB_KTYPE_BF16 : CB_KTYPE_F16, y2, N, T, &err),
                     CB_EUSAGE);
        void *ds[] = {dx, dnw, dgu, d32, dlo, y1, y2};
        for (int i = 0; i < 7; i++) cb_cuda_free(ctx, ds[i]);
        cb_cuda_weight_free(ctx, &W);
        cb_cuda_weight_free(ctx, &W2);
        free(hw);
        free(hw2);
        free(hx);
        free(hnw);
        free(hgu);
    }
#endif
    done();
}

Test(cuda, matvec_fused_modes) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    static const uint32_t types[] = {CB_KTYPE_F32, CB_KTYPE_F16, CB_KTYPE_BF16, CB_KTYPE_Q8_0};
    static const int64_t KN[][2] = {{256, 48}, {96, 10}, {172, 12}};
    static const int64_t Ts[] = {1, 3, 8};
    for (int ti = 0; ti < 4; ti++)
        for (int si = 0; si < 3; si++) {
            const uint32_t type = types[ti];
            const int64_t K = KN[si][0], N = KN[si][1], F = N / 2;
            if (type == CB_KTYPE_Q8_0 && K % 32) continue;
            void *hw = make_weight(type, K, N);
            cb_cuda_weight W;
            const void *parts[1] = {hw};
            int64_t n = N;
            OK(cb_cuda_weight_upload(ctx, type, K, parts, &n, 1, &W, &err));
            float *hnw = hrand((size_t)K, 1.0f);
            float *dnw = dup_to_dev(hnw, (size_t)K * 4);
            for (int tt = 0; tt < 3; tt++) {
                const int64_t T = Ts[tt];
                float *hx = hrand((size_t)(T * K), 2.0f), *hy0 = hrand((size_t)(T * N), 1.0f);
                float *xn = malloc((size_t)(T * K) * 4), *ref = malloc((size_t)(T * N) * 4);
                float *dx = dup_to_dev(hx, (size_t)(T * K) * 4);
                /* NORM: (rmsnorm(x) * nw) @ W^T */
                for (int64_t t = 0; t < T; t++) cb_rmsnorm(xn + t * K, hx + t * K, hnw, K, 1e-5f);
                cb_matmul_ref(type, hw, xn, ref, T, K, N);
                float *dy = dpoison((size_t)(T * N) * 4);
                OK(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_NORM, &W, dx, dnw, 1e-5f, dy, N, T, &err));
                float *got = to_host(dy, (size_t)(T * N) * 4);
                cr_assert(rel_err(got, ref, (size_t)(T * N)) <= 1e-5, "NORM %s K=%lld T=%lld: %g", tname(type),
                          (long long)K, (long long)T, rel_err(got, ref, (size_t)(T * N)));
                free(got);
                /* SWIGLU_NORM: rows [0, F) gate, [F, 2F) up */
                float *sw = malloc((size_t)(T * F) * 4);
                for (int64_t t = 0; t < T; t++) {
                    memcpy(sw + t * F, ref + t * N, (size_t)F * 4);
                    cb_swiglu(sw + t * F, ref + t * N + F, F);
                }
                OK(cb_cuda_memset(ctx, dy, 0xFF, (size_t)(T * N) * 4, &err));
                OK(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_SWIGLU_NORM, &W, dx, dnw, 1e-5f, dy, F, T, &err));
                got = to_host(dy, (size_t)(T * F) * 4);
                cr_assert(rel_err(got, sw, (size_t)(T * F)) <= 1e-5, "SWIGLU %s K=%lld T=%lld: %g", tname(type),
                          (long long)K, (long long)T, rel_err(got, sw, (size_t)(T * F)));
                free(got);
                /* ADD: y += x @ W^T */
                cb_matmul_ref(type, hw, hx, ref, T, K, N);
                for (int64_t i = 0; i < T * N; i++) ref[i] += hy0[i];
                OK(cb_cuda_upload(ctx, dy, hy0, (size_t)(T * N) * 4, &err));
                OK(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_ADD, &W, dx, NULL, 0.0f, dy, N, T, &err));
                got = to_host(dy, (size_t)(T * N) * 4);
                cr_assert(rel_err(got, ref, (size_t)(T * N)) <= 1e-5, "ADD %s K=%lld T=%lld: %g", tname(type),
                          (long long)K, (long long)T, rel_err(got, ref, (size_t)(T * N)));
                free(got);
                /* batch invariance: the last row alone gives the same bits (NORM) */
                if (T > 1) {
                    float *dy1 = dpoison((size_t)N * 4);
                    OK(cb_cuda_memset(ctx, dy, 0xFF, (size_t)(T * N) * 4, &err));
                    OK(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_NORM, &W, dx, dnw, 1e-5f, dy, N, T, &err));
                    OK(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_NORM, &W, dx + (T - 1) * K, dnw, 1e-5f, dy1, N, 1, &err));
                    float *a = to_host(dy, (size_t)(T * N) * 4), *b = to_host(dy1, (size_t)N * 4);
                    cr_assert(memcmp(a + (T - 1) * N, b, (size_t)N * 4) == 0, "fused NORM row depends on T");
                    free(a);
                    free(b);
                    cb_cuda_free(ctx, dy1);
                }
                cr_assert_eq(cb_cuda_matvec_fused(ctx, CB_CUDA_MV_NORM, &W, dx, dnw, 1e-5f, dy, N, 9, &err), CB_EUSAGE);
                free(hx);
                free(hy0);
                free(xn);
                free(ref);
                free(sw);
                cb_cuda_free(ctx, dx);
                cb_cuda_free(ctx, dy);
            }
            free(hnw);
            free(hw);
            cb_cuda_free(ctx, dnw);
            cb_cuda_weight_free(ctx, &W);
        }
#endif
    done();
}

Test(cuda, rope_kv_store_fused) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* one launch = cb_cuda_rope on H + Hkv heads then cb_cuda_kv_store, bit for bit */
    const int64_t T = 5, H = 4, Hkv = 2, D = 16, ld = (H + 2 * Hkv) * D + 3;
    cb_cuda_kv_shape s = {.n_layer = 2, .n_slots = 3, .n_ctx = 64, .kv_dim = Hkv * D};
    const size_t cn = (size_t)2 * 3 * 2 * 64 * (size_t)(Hkv * D);
    float inv[8];
    for (int i = 0; i < 8; i++) inv[i] = powf(10000.0f, -2.0f * (float)i / 16.0f);
    int32_t slot[5] = {2, 0, 1, 1, 1}, pos[5];
    for (int t = 0; t < T; t++) pos[t] = t < 2 ? (int32_t)cb_rng_uniform(&rng, 64) : 10 + t;
    float *hq = hrand((size_t)(T * ld), 1.0f), *hc = hrand(cn, 1.0f);
    float *dinv = dup_to_dev(inv, sizeof inv);
    int32_t *dslot = dup_to_dev(slot, sizeof slot), *dpos = dup_to_dev(pos, sizeof pos);
    for (int neox = 0; neox < 2; neox++) {
        float *q1 = dup_to_dev(hq, (size_t)(T * ld) * 4), *q2 = dup_to_dev(hq, (size_t)(T * ld) * 4);
        float *c1 = dup_to_dev(hc, cn * 4), *c2 = dup_to_dev(hc, cn * 4);
        OK(cb_cuda_rope(ctx, q1, ld, T, H + Hkv, D, D, dpos, dinv, neox, &err));
        OK(cb_cuda_kv_store(ctx, c1, &s, 1, q1 + H * D, q1 + (H + Hkv) * D, ld, dslot, dpos, T, &err));
        OK(cb_cuda_rope_kv_store(ctx, q2, ld, T, H, Hkv, D, D, dpos, dinv, neox, c2, &s, 1, dslot, &err));
        float *a = to_host(q1, (size_t)(T * ld) * 4), *b = to_host(q2, (size_t)(T * ld) * 4);
        cr_assert(memcmp(a, b, (size_t)(T * ld) * 4) == 0, "fused rope differs (neox %d)", neox);
        free(a);
        free(b);
        a = to_host(c1, cn * 4);
        b = to_host(c2, cn * 4);
        cr_assert(memcmp(a, b, cn * 4) == 0, "fused KV store differs (neox %d)", neox);
        free(a);
        free(b);
        void *ds[] = {q1, q2, c1, c2};
        for (int i = 0; i < 4; i++) cb_cuda_free(ctx, ds[i]);
    }
    free(hq);
    free(hc);
    cb_cuda_free(ctx, dinv);
    cb_cuda_free(ctx, dslot);
    cb_cuda_free(ctx, dpos);
#endif
    done();
}

Test(cuda, graph_replay_with_new_positions) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* capture: y = x ; rope(y, pos) ; matmul ; replay after rewriting pos and x */
    const int64_t T = 4, H = 2, D = 32, K = H * D, N = 48;
    float inv[16];
    for (int i = 0; i < 16; i++) inv[i] = powf(10000.0f, -2.0f * (float)i / 32.0f);
    float *dinv = dup_to_dev(inv, sizeof inv);
    void *hw = make_weight(CB_KTYPE_F16, K, N);
    cb_cuda_weight W;
    const void *parts[1] = {hw};
    int64_t n = N;
    OK(cb_cuda_weight_upload(ctx, CB_KTYPE_F16, K, parts, &n, 1, &W, &err));
    float *dx = dpoison((size_t)(T * K) * 4), *dy = dpoison((size_t)(T * K) * 4), *dz = dpoison((size_t)(T * N) * 4);
    int32_t *dpos = dpoison((size_t)T * 4);
    OK(cb_cuda_sync(ctx, &err));
    OK(cb_cuda_graph_begin(ctx, &err));
    OK(cb_cuda_copy(ctx, dy, dx, (size_t)(T * K) * 4, &err));
    OK(cb_cuda_rope(ctx, dy, K, T, H, D, D, dpos, dinv, 0, &err));
    OK(cb_cuda_matmul(ctx, &W, dy, dz, N, T, &err));
    cb_cuda_graph *g = NULL;
    OK(cb_cuda_graph_end(ctx, &g, &err));
    for (int rep = 0; rep < 3; rep++) {
        float *hx = hrand((size_t)(T * K), 1.0f);
        int32_t pos[4];
        for (int t = 0; t < T; t++) pos[t] = (int32_t)cb_rng_uniform(&rng, 2048);
        OK(cb_cuda_upload(ctx, dx, hx, (size_t)(T * K) * 4, &err));
        OK(cb_cuda_upload(ctx, dpos, pos, sizeof pos, &err));
        OK(cb_cuda_memset(ctx, dz, 0xFF, (size_t)(T * N) * 4, &err));
        OK(cb_cuda_graph_launch(ctx, g, &err));
        float *got = to_host(dz, (size_t)(T * N) * 4), *ref = malloc((size_t)(T * N) * 4);
        for (int t = 0; t < T; t++) cb_rope(hx + t * K, H, D, D, pos[t], inv, 0);
        cb_matmul_ref(CB_KTYPE_F16, hw, hx, ref, T, K, N);
        cr_assert(rel_err(got, ref, (size_t)(T * N)) <= 1e-5, "graph replay %d: rel err %g", rep,
                  rel_err(got, ref, (size_t)(T * N)));
        free(got);
        free(ref);
        free(hx);
    }
    cb_cuda_graph_free(g);
    void *ds[] = {dinv, dx, dy, dz, dpos};
    for (size_t i = 0; i < 5; i++) cb_cuda_free(ctx, ds[i]);
    cb_cuda_weight_free(ctx, &W);
    free(hw);
#endif
    done();
}

Test(cuda, errors_are_reported) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    /* an impossible allocation is CB_ENODEV with the sizes in the message */
    void *p = NULL;
    int rc = cb_cuda_alloc(ctx, (size_t)1 << 52, &p, &err);
    cr_assert_eq(rc, CB_ENODEV);
    cr_assert(p == NULL);
    cr_assert(strstr(err.msg, "cannot allocate") != NULL, "%s", err.msg);
    /* unsupported weight type and bad Q8_0 K */
    cb_cuda_weight W;
    float f[64] = {0};
    const void *parts[1] = {f};
    int64_t n = 1;
    cr_assert_eq(cb_cuda_weight_upload(ctx, 10 /* Q2_K: no CUDA kernel */, 256, parts, &n, 1, &W, &err), CB_EUNSUP);
    cr_assert(strstr(err.msg, "Q2_K") != NULL, "the refusal names the type: %s", err.msg);
    cr_assert_eq(cb_cuda_weight_upload(ctx, CB_KTYPE_Q4_K, 64, parts, &n, 1, &W, &err), CB_EUSAGE);
    cr_assert_eq(cb_cuda_weight_upload(ctx, CB_KTYPE_Q8_0, 48, parts, &n, 1, &W, &err), CB_EUSAGE);
    /* attention head size past the kernel's limit */
    cb_cuda_kv_shape s = {.n_layer = 1, .n_slots = 1, .n_ctx = 4, .kv_dim = 256};
    cr_assert_eq(cb_cuda_attention(ctx, NULL, &s, 0, NULL, 256, NULL, 256, NULL, 1, 1, 1, 1, 1, 256, 1, NULL, NULL, &err),
                 CB_EUNSUP);
    /* the context is still usable */
    OK(cb_cuda_sync(ctx, &err));
#endif
    done();
}

/* A kernel that faults (an embedding row far outside the table): with
 * CAPBENCH_CUDA_SYNC=1 the launcher itself reports it, naming the kernel and
 * its grid; without, the next synchronizing call reports it and says how to
 * find the kernel. Each test runs in its own process (Criterion forks), so
 * the poisoned context does not outlive it. */
static int fault_embedding(cb_err *e) {
#ifdef CB_HAVE_CUDA
    const int64_t C = 64, V = 16;
    float *hw = hrand((size_t)(C * V), 1.0f);
    const void *parts[1] = {hw};
    int64_t n = V;
    cb_cuda_weight E;
    OK(cb_cuda_weight_upload(ctx, CB_KTYPE_F32, C, parts, &n, 1, &E, &err));
    free(hw);
    int32_t bad[2] = {3, 1 << 30};
    int32_t *dt = dup_to_dev(bad, sizeof bad);
    float *x = dpoison((size_t)(2 * C) * sizeof(float));
    int rc = cb_cuda_embed(ctx, &E, dt, x, 2, e);
    if (!rc) rc = cb_cuda_sync(ctx, e);
    return rc;
#else
    (void)e;
    return 0;
#endif
}

Test(cuda, sync_mode_names_the_faulting_kernel) {
    setenv("CAPBENCH_CUDA_SYNC", "1", 1); /* read when the context is made */
    need_gpu();
    cb_err e;
    cb_err_clear(&e);
    int rc = fault_embedding(&e);
    cr_assert_eq(rc, CB_ERUNTIME, "rc %d: %s", rc, e.msg);
    cr_assert(strstr(e.msg, "embed_kernel grid (2)") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "CAPBENCH_CUDA_SYNC=1") != NULL, "%s", e.msg);
    cr_log_info("%s", e.msg);
    unsetenv("CAPBENCH_CUDA_SYNC");
}

Test(cuda, async_fault_says_how_to_find_the_kernel) {
    unsetenv("CAPBENCH_CUDA_SYNC");
    need_gpu();
    cb_err e;
    cb_err_clear(&e);
    int rc = fault_embedding(&e);
    cr_assert_eq(rc, CB_ERUNTIME, "rc %d: %s", rc, e.msg);
    cr_assert(strstr(e.msg, "rerun with CAPBENCH_CUDA_SYNC=1") != NULL, "%s", e.msg);
    cr_log_info("%s", e.msg);
}

Test(cuda, ceilings) {
    need_gpu();
#ifdef CB_HAVE_CUDA
    double bw = 0, fl = 0;
    OK(cb_cuda_measure_copy_bandwidth(ctx, (size_t)64 << 20, 3, &bw, &err));
    OK(cb_cuda_measure_gemm_peak(ctx, 1024, 3, &fl, &err));
    cr_assert(bw > 1e9 && fl > 1e11, "bandwidth %g B/s, GEMM %g FLOP/s", bw, fl);
    cr_log_info("copy bandwidth %.0f GB/s, F16 GEMM (n=1024) %.1f TFLOP/s", bw / 1e9, fl / 1e12);
#endif
    done();
}
