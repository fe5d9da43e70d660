/* tests/kernels/test_bench.c — opt-in kernel measurements (set
 * CAPBENCH_KERNEL_BENCH=1): pool call overhead, copy bandwidth, batch-1
 * matrix-vector weight-read rate for F16 and Q8_0 on one 2048x5632 matrix
 * (cache-resident on big-L3 CPUs) and on a 22-layer-sized set (~2 GB of F16
 * weights, far past any cache), and batched throughput at 8 and 32 tokens.
 * Skipped by default: it needs ~3 GB of memory and a quiet machine, and its
 * numbers are for reports, not pass/fail (only sanity is asserted). */
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokens/s of a T-token matmul on one 2048x5632 matrix (y = x W^T, N = 5632). */
static double batched_rate(cb_pool *pool, uint32_t wt, int64_t T) {
    const int64_t K = 2048, N = 5632;
    size_t rb = cb_row_bytes(wt, K);
    char *W = calloc((size_t)N, rb);
    float *x = calloc((size_t)(T * K), sizeof *x);
    float *y = calloc((size_t)(T * N), sizeof *y);
    cr_assert(W && x && y);
    for (int64_t i = 0; i < T * K; i++) x[i] = (float)(i % 17) * 0.1f;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        cb_matmul(pool, wt, W, x, y, T, K, N);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    free(y), free(x), free(W);
    return (double)T / best;
}

Test(bench, kernels) {
    const char *on = getenv("CAPBENCH_KERNEL_BENCH");
    if (!on || on[0] != '1') cr_skip_test("set CAPBENCH_KERNEL_BENCH=1 to run the kernel measurements");
    int nth = 2;
    const char *e = getenv("CAPBENCH_KERNEL_BENCH_THREADS");
    if (e) nth = (int)strtol(e, NULL, 10);
    cb_err err;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_pool_new(nth, &pool, &err), 0);
    fprintf(stderr, "threads %d, avx2 %d\n", nth, cb_cpu_has_avx2());
    double copy = cb_measure_copy_bandwidth(pool, (size_t)1 << 30, 5);
    cr_assert(copy > 0);
    fprintf(stderr, "copy bandwidth (read+write): %.2f GB/s\n", copy / 1e9);
    double rd = cb_measure_read_bandwidth(pool, (size_t)1 << 30, 5);
    cr_assert(rd > 0);
    fprintf(stderr, "read bandwidth: %.2f GB/s; last-level cache %zu bytes\n", rd / 1e9, cb_llc_bytes());
    static const uint32_t types[] = {CB_KTYPE_F16, CB_KTYPE_Q8_0, CB_KTYPE_Q4_K, CB_KTYPE_Q6_K};
    static const char *names[] = {"F16", "Q8_0", "Q4_K", "Q6_K"};
    for (int i = 0; i < 4; i++) {
        double one = cb_bench_matvec_bandwidth(pool, types[i], 2048, 5632, 1, 20);
        double set = cb_bench_matvec_bandwidth(pool, types[i], 2048, 5632, 88, 3);
        cr_assert(one > 0 && set > 0);
        fprintf(stderr,
                "%s matvec 2048x5632: one matrix %.2f GB/s (%.0f%% of copy); 88 matrices "
                "(%.2f GB) %.2f GB/s (%.0f%% of copy)\n",
                names[i], one / 1e9, 100 * one / copy,
                88.0 * 5632 * (double)cb_row_bytes(types[i], 2048) / 1e9, set / 1e9,
                100 * set / copy);
        double r1 = batched_rate(pool, types[i], 1);
        double r8 = batched_rate(pool, types[i], 8);
        double r32 = batched_rate(pool, types[i], 32);
        fprintf(stderr, "%s 2048x5632 tokens/s: T=1 %.0f, T=8 %.0f (x%.1f), T=32 %.0f (x%.1f)\n",
                names[i], r1, r8, r8 / r1, r32, r32 / r1);
    }
    cb_pool_free(pool);
}

/* The yardsticks themselves run by default: small, sane, and the cache size
 * found on a Linux machine. */
Test(bench, read_bandwidth_and_llc_size) {
    cb_err err;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_pool_new(2, &pool, &err), 0);
    double rd = cb_measure_read_bandwidth(pool, (size_t)48 << 20, 2);
    cr_assert(rd > 1e8 && rd < 1e13, "read bandwidth %g B/s", rd);
    cr_assert_eq(cb_measure_read_bandwidth(pool, 0, 1), 0.0);
    cb_pool_free(pool);
    size_t llc = cb_llc_bytes();
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index0/size", "r");
    if (!f && llc == 0) cr_skip_test("no /sys cache information and no sysconf cache size on this machine");
    if (f) fclose(f);
    cr_assert(llc >= ((size_t)64 << 10) && llc <= ((size_t)64 << 30), "last-level cache %zu bytes", llc);
}
