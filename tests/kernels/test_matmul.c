/* tests/kernels/test_matmul.c — cb_matmul against the naive reference for every
 * weight type, both kernel sets and odd shapes; batch invariance (a token's
 * output row is bit-identical whatever the batch size, the other tokens and
 * the thread count); the CAPBENCH_NO_AVX2 switch. */
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static const uint32_t types[] = {CB_KTYPE_F32,  CB_KTYPE_F16,  CB_KTYPE_BF16, CB_KTYPE_Q8_0,
                                 CB_KTYPE_Q4_0, CB_KTYPE_Q4_1, CB_KTYPE_Q5_0, CB_KTYPE_Q5_1,
                                 CB_KTYPE_Q4_K, CB_KTYPE_Q5_K, CB_KTYPE_Q6_K};

/* Random weights (N rows of K) of type wt; caller frees. */
static void *make_weights(uint32_t wt, int64_t K, int64_t N) {
    size_t rb = cb_row_bytes(wt, K);
    cr_assert_neq(rb, 0);
    char *W = malloc(rb * (size_t)N);
    float *row = malloc((size_t)K * sizeof *row);
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) row[k] = frand() * (n % 5 == 0 ? 4.0f : 1.0f);
        char *dst = W + rb * (size_t)n;
        for (int64_t k = 0; k < K; k++) {
            if (wt == CB_KTYPE_F32) ((float *)dst)[k] = row[k];
            else if (wt == CB_KTYPE_F16) ((uint16_t *)dst)[k] = cb_fp32_to_fp16(row[k]);
            else if (wt == CB_KTYPE_BF16) ((uint16_t *)dst)[k] = cb_fp32_to_bf16(row[k]);
        }
        if (wt == CB_KTYPE_Q8_0) cb_quantize_q8_0(row, (cb_block_q8_0 *)dst, K);
        else if (cb_type_block_elems(wt) > 1) cb_quantize_row(wt, row, dst, K);
    }
    free(row);
    return W;
}

static float *make_x(int64_t T, int64_t K) {
    float *x = malloc((size_t)(T * K) * sizeof *x);
    for (int64_t i = 0; i < T * K; i++) x[i] = frand();
    return x;
}

/* Compares y with the reference; tolerance scales with sum |w| |x| (float
 * accumulation over K terms of exactly representable products). */
static void check_vs_ref(int impl, cb_pool *pool, uint32_t wt, int64_t T, int64_t K, int64_t N) {
    void *W = make_weights(wt, K, N);
    float *x = make_x(T, K);
    float *y = malloc((size_t)(T * N) * sizeof *y);
    float *yr = malloc((size_t)(T * N) * sizeof *yr);
    float *wrow = malloc((size_t)K * sizeof *wrow);
    size_t rb = cb_row_bytes(wt, K);
    for (int64_t i = 0; i < T * N; i++) y[i] = NAN;
    cb_matmul_impl(impl, pool, wt, W, x, y, T, K, N);
    cb_matmul_ref(wt, W, x, yr, T, K, N);
    for (int64_t n = 0; n < N; n++) {
        cb_dequantize_row(wt, (char *)W + rb * (size_t)n, wrow, K);
        for (int64_t t = 0; t < T; t++) {
            double mag = 0;
            for (int64_t k = 0; k < K; k++) mag += fabs((double)wrow[k] * x[t * K + k]);
            double err = fabs((double)y[t * N + n] - yr[t * N + n]);
            /* worst-case float summation bound; Q8_1's per-block sum s is stored as
             * fp16 (relative 2^-11), which the reference does not round */
            double tol = 6e-8 * ((double)K / 8 + 10) * mag + 1e-30;
            if (cb_act_type(wt) == CB_KTYPE_Q8_1) tol += 1e-3 * mag;
            cr_assert(err <= tol,
                      "impl %d type %u T=%lld K=%lld N=%lld y[%lld,%lld]=%.9g ref %.9g (mag %g)",
                      impl, wt, (long long)T, (long long)K, (long long)N, (long long)t,
                      (long long)n, y[t * N + n], yr[t * N + n], mag);
        }
    }
    free(wrow);
    free(yr);
    free(y);
    free(x);
    free(W);
}

static void vs_ref_all(int impl) {
    static const int64_t Ks[] = {1, 5, 13, 32, 64, 96, 100, 256, 768, 4096, 4104};
    static const int64_t Ns[] = {1, 7, 33, 256};
    static const int64_t Ts[] = {1, 3, 8, 17};
    cb_err err;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_pool_new(3, &pool, &err), 0);
    for (size_t a = 0; a < sizeof types / sizeof *types; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
            if (Ks[b] % cb_type_block_elems(types[a])) continue;
            for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++)
                for (size_t d = 0; d < sizeof Ts / sizeof *Ts; d++) {
                    if (Ks[b] >= 4096 && Ns[c] == 256 && Ts[d] > 8) continue; /* keep it quick */
                    check_vs_ref(impl, (c + d) % 2 ? pool : NULL, types[a], Ts[d], Ks[b], Ns[c]);
                }
        }
    cb_pool_free(pool);
}

Test(matmul, portable_matches_reference) { vs_ref_all(CB_KIMPL_PORTABLE); }

Test(matmul, avx2_matches_reference) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        cr_skip_test("this CPU has no AVX2+FMA+F16C; the AVX2 kernel cannot run");
    vs_ref_all(CB_KIMPL_AVX2);
}

Test(matmul, auto_matches_reference_large) {
    check_vs_ref(CB_KIMPL_AUTO, NULL, CB_KTYPE_Q8_0, 17, 4096, 256);
    check_vs_ref(CB_KIMPL_AUTO, NULL, CB_KTYPE_F16, 70, 200, 40); /* > one token block */
}

/* y row t of a T=17 call == the same token alone (T=1) == the same token among
 * other random tokens, bit for bit, for 1, 2 and 3 threads. */
static void invariance(int impl, uint32_t wt, int64_t K) {
    const int64_t T = 17, N = 289; /* N spans several 16-row chunks and leaves a 1-row tail */
    void *W = make_weights(wt, K, N);
    float *x = make_x(T, K);
    float *yb = malloc((size_t)(T * N) * sizeof *yb);
    float *ys = malloc((size_t)(T * N) * sizeof *ys);
    float *y1 = malloc((size_t)N * sizeof *y1);
    float *xm = malloc((size_t)(5 * K) * sizeof *xm);
    float *ym = malloc((size_t)(5 * N) * sizeof *ym);
    cb_matmul_impl(impl, NULL, wt, W, x, ys, T, K, N);
    for (int nth = 1; nth <= 3; nth++) {
        cb_err err;
        cb_pool *pool = NULL;
        cr_assert_eq(cb_pool_new(nth, &pool, &err), 0);
        cb_matmul_impl(impl, pool, wt, W, x, yb, T, K, N);
        cr_assert(memcmp(yb, ys, (size_t)(T * N) * sizeof *yb) == 0,
                  "impl %d type %u: %d threads changed the T=17 result", impl, wt, nth);
        for (int64_t t = 0; t < T; t++) {
            cb_matmul_impl(impl, pool, wt, W, x + t * K, y1, 1, K, N);
            cr_assert(memcmp(y1, yb + t * N, (size_t)N * sizeof *y1) == 0,
                      "impl %d type %u K=%lld threads %d: token %lld differs alone vs in batch",
                      impl, wt, (long long)K, nth, (long long)t);
            /* the same token at position t % 5 of a batch of 5 with other tokens */
            for (int64_t i = 0; i < 5 * K; i++) xm[i] = frand();
            memcpy(xm + (t % 5) * K, x + t * K, (size_t)K * sizeof *xm);
            cb_matmul_impl(impl, pool, wt, W, xm, ym, 5, K, N);
            cr_assert(memcmp(ym + (t % 5) * N, yb + t * N, (size_t)N * sizeof *ym) == 0,
                      "impl %d type %u threads %d: token %lld differs with other neighbours", impl,
                      wt, nth, (long long)t);
        }
        cb_pool_free(pool);
    }
    free(ym);
    free(xm);
    free(y1);
    free(ys);
    free(yb);
    free(x);
    free(W);
}

Test(matmul, batch_invariance) {
    for (size_t a = 0; a < sizeof types / sizeof *types; a++) {
        int64_t be = cb_type_block_elems(types[a]);
        int64_t K = be > 1 ? 2048 : 2051, Ks = be > 32 ? 256 : 64;
        invariance(CB_KIMPL_PORTABLE, types[a], K);
        invariance(CB_KIMPL_AVX2, types[a], K);
        invariance(CB_KIMPL_AVX2, types[a], Ks);
        invariance(CB_KIMPL_AVX512, types[a], K);
    }
}

/* The AVX-512 batched kernel keeps the AVX2 kernel's per-output operations
 * (two outputs per register), so the two agree bit for bit: every type with
 * F32 activations, K with and without a % 8 tail, an odd last row, token
 * counts that hit each tile width (12, 8, 4, 2, 1) and the token-block edge,
 * with and without a pool. */
Test(matmul, avx512_equals_avx2) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_skip_test("this CPU has no AVX-512 F/VL/DQ/BW; the AVX-512 kernel cannot run");
    static const uint32_t ft[] = {CB_KTYPE_F32, CB_KTYPE_F16, CB_KTYPE_BF16, CB_KTYPE_Q8_0};
    static const int64_t Ks[] = {13, 64, 200, 2051, 2048};
    static const int64_t Ns[] = {1, 2, 7, 66};
    static const int64_t Ts[] = {4, 5, 13, 27, 61, 75};
    cb_err err;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_pool_new(2, &pool, &err), 0);
    for (size_t a = 0; a < sizeof ft / sizeof *ft; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
            if (Ks[b] % cb_type_block_elems(ft[a])) continue;
            for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++)
                for (size_t d = 0; d < sizeof Ts / sizeof *Ts; d++) {
                    int64_t T = Ts[d], K = Ks[b], N = Ns[c];
                    void *W = make_weights(ft[a], K, N);
                    float *x = make_x(T, K);
                    float *y2 = malloc((size_t)(T * N) * sizeof *y2), *y5 = malloc((size_t)(T * N) * sizeof *y5);
                    cb_matmul_impl(CB_KIMPL_AVX2, (c + d) % 2 ? pool : NULL, ft[a], W, x, y2, T, K, N);
                    cb_matmul_impl(CB_KIMPL_AVX512, (c + d) % 2 ? NULL : pool, ft[a], W, x, y5, T, K, N);
                    for (int64_t i = 0; i < T * N; i++)
                        cr_assert(memcmp(&y2[i], &y5[i], sizeof *y2) == 0,
                                  "type %u K=%lld N=%lld T=%lld: y[%lld] avx2 %.9g avx512 %.9g", ft[a], (long long)K,
                                  (long long)N, (long long)T, (long long)i, y2[i], y5[i]);
                    free(y5);
                    free(y2);
                    free(x);
                    free(W);
                }
        }
    cb_pool_free(pool);
}

/* The quantized-activation types: the AVX2 kernel computes the same block
 * integers and the same float steps as the portable one, so the two agree
 * bit for bit (every row-group tail, several token counts, with a pool). */
Test(matmul, quantized_portable_equals_avx2) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        cr_skip_test("this CPU has no AVX2+FMA+F16C; the AVX2 kernel cannot run");
    cb_err err;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_pool_new(2, &pool, &err), 0);
    for (size_t a = 0; a < sizeof types / sizeof *types; a++) {
        uint32_t wt = types[a];
        if (cb_act_type(wt) == CB_KTYPE_F32) continue;
        static const int64_t Ns[] = {1, 2, 3, 4, 5, 7, 37, 300};
        for (int64_t K = cb_type_block_elems(wt); K <= 1024; K *= 2)
            for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++)
                for (size_t d = 0; d < 4; d++) {
                    static const int64_t Ts[] = {1, 5, 9, 70};
                    int64_t T = Ts[d], N = Ns[c];
                    if (T == 70 && (K != 256 || N != 37)) continue; /* past one 64-token block: once per type */
                    void *W = make_weights(wt, K, N);
                    float *x = make_x(T, K);
                    float *yp = malloc((size_t)(T * N) * sizeof *yp), *ya = malloc((size_t)(T * N) * sizeof *ya);
                    cb_matmul_impl(CB_KIMPL_PORTABLE, NULL, wt, W, x, yp, T, K, N);
                    cb_matmul_impl(CB_KIMPL_AVX2, pool, wt, W, x, ya, T, K, N);
                    for (int64_t i = 0; i < T * N; i++)
                        cr_assert(memcmp(&yp[i], &ya[i], sizeof *yp) == 0,
                                  "type %u K=%lld N=%lld T=%lld: y[%lld] portable %.9g avx2 %.9g", wt,
                                  (long long)K, (long long)N, (long long)T, (long long)i, yp[i], ya[i]);
                    free(ya), free(yp), free(x), free(W);
                }
    }
    cb_pool_free(pool);
}

Test(matmul, no_avx2_env_switch) {
    setenv("CAPBENCH_NO_AVX2", "1", 1);
    cr_assert_eq(cb_cpu_has_avx2(), 0);
    /* AUTO then takes the portable kernel: bit-identical to the explicit one */
    void *W = make_weights(CB_KTYPE_F16, 100, 20);
    float *x = make_x(3, 100);
    float ya[60], yp[60];
    cb_matmul(NULL, CB_KTYPE_F16, W, x, ya, 3, 100, 20);
    cb_matmul_impl(CB_KIMPL_PORTABLE, NULL, CB_KTYPE_F16, W, x, yp, 3, 100, 20);
    cr_assert(memcmp(ya, yp, sizeof ya) == 0);
    unsetenv("CAPBENCH_NO_AVX2");
    __builtin_cpu_init();
    int hw = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    cr_assert_eq(cb_cpu_has_avx2(), hw);
    setenv("CAPBENCH_NO_AVX2", "0", 1);
    cr_assert_eq(cb_cpu_has_avx2(), hw);
    unsetenv("CAPBENCH_NO_AVX2");
    free(x);
    free(W);
}

Test(matmul, rows_written_not_accumulated) {
    void *W = make_weights(CB_KTYPE_F32, 8, 4);
    float x[8] = {0};
    float y[4] = {5, 5, 5, 5};
    cb_matmul(NULL, CB_KTYPE_F32, W, x, y, 1, 8, 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(y[i], 0.0f);
    free(W);
}

/* fp16 weights that leave the fast conversion path: zeros, subnormals, the
 * largest normals. Both kernel sets must still match the reference. */
Test(matmul, f16_special_weights) {
    enum { K = 40, N = 5, T = 2 };
    uint16_t W[N * K];
    static const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x83ff, 0x0200, 0x7bff, 0xfbff, 0x3c00};
    for (int i = 0; i < N * K; i++) W[i] = special[(i * 7) % 8];
    float x[T * K];
    for (int i = 0; i < T * K; i++) x[i] = frand();
    float yr[T * N], y[T * N];
    cb_matmul_ref(CB_KTYPE_F16, W, x, yr, T, K, N);
    for (int impl = CB_KIMPL_PORTABLE; impl <= CB_KIMPL_AVX2; impl++) {
        cb_matmul_impl(impl, NULL, CB_KTYPE_F16, W, x, y, T, K, N);
        for (int i = 0; i < T * N; i++)
            cr_assert(fabsf(y[i] - yr[i]) <= 1e-5f * 65504.0f * K, "impl %d y[%d]=%g ref %g", impl, i,
                      y[i], yr[i]);
    }
}
