/* bench/engine_kernels.c — kernel micro-benchmark helpers the engine benchmark
 * and the kernel tests can call: the weight-read rate of batch-1 decode
 * (matrix-vector products over a set of matrices larger than the caches), and
 * the FLOP rate of one matrix product as prefill runs it (a batch of tokens
 * at once, or the same tokens one at a time).
 *
 * It measures the kernels only, on synthetic weights (finite values, no NaN or
 * subnormals that could change timing); the model-level benchmark is
 * `capbench bench`.
 */
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fill_job {
    uint32_t wtype;
    char *W;
    size_t rb;
    int64_t rows;
    int64_t K;
};

/* Fills rows [r0, r1) with deterministic pseudo-random weights in [-1, 1). */
static void fill_task(void *ctx, int ith, int nth) {
    struct fill_job *j = ctx;
    int64_t per = (j->rows + nth - 1) / nth;
    int64_t r0 = per * ith, r1 = r0 + per < j->rows ? r0 + per : j->rows;
    uint16_t h16[256], b16[256];
    for (int i = 0; i < 256; i++) {
        float v = ((float)i - 128.0f) / 128.0f;
        h16[i] = cb_fp32_to_fp16(v);
        b16[i] = cb_fp32_to_bf16(v);
    }
    uint32_t s = 0x9e3779b9u ^ (uint32_t)ith;
    for (int64_t r = r0; r < r1; r++) {
        char *row = j->W + (size_t)r * j->rb;
        if (j->wtype == CB_KTYPE_Q8_0) {
            cb_block_q8_0 *b = (cb_block_q8_0 *)row;
            for (int64_t i = 0; i < j->K / CB_QK8_0; i++) {
                b[i].d = h16[140];
                for (int q = 0; q < CB_QK8_0; q++) {
                    s = s * 1664525u + 1013904223u;
                    b[i].qs[q] = (int8_t)((s >> 24) % 255u - 127);
                }
            }
            continue;
        }
        for (int64_t k = 0; k < j->K; k++) {
            s = s * 1664525u + 1013904223u;
            unsigned i = s >> 24;
            if (j->wtype == CB_KTYPE_F32) ((float *)row)[k] = ((float)i - 128.0f) / 128.0f;
            else if (j->wtype == CB_KTYPE_F16) ((uint16_t *)row)[k] = h16[i];
            else ((uint16_t *)row)[k] = b16[i];
        }
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cb_bench_matvec_bandwidth(cb_pool *pool, uint32_t wtype, int64_t K, int64_t N,
                                 int64_t n_mats, int reps) {
    size_t rb = cb_row_bytes(wtype, K);
    if (rb == 0 || N <= 0 || n_mats <= 0) return 0.0;
    size_t mat = rb * (size_t)N;
    size_t total = mat * (size_t)n_mats;
    char *W = aligned_alloc(4096, (total + 4095) & ~(size_t)4095);
    float *x = malloc((size_t)K * sizeof *x);
    float *y = malloc((size_t)N * sizeof *y);
    double best = 0.0;
    if (!W || !x || !y) goto out;
    struct fill_job fj = {wtype, W, rb, N * n_mats, K};
    cb_pool_run(pool, fill_task, &fj);
    for (int64_t k = 0; k < K; k++) x[k] = (float)((k * 7919) % 2001 - 1000) / 1000.0f;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now_s();
        for (int64_t m = 0; m < n_mats; m++) cb_matmul(pool, wtype, W + m * mat, x, y, 1, K, N);
        double dt = now_s() - t0;
        double bw = dt > 0 ? (double)total / dt : 0.0;
        if (bw > best) best = bw;
    }
out:
    free(y);
    free(x);
    free(W);
    return best;
}

double cb_bench_matmul_flops(cb_pool *pool, int impl, uint32_t wtype, int64_t K, int64_t N, int64_t T,
                             int one_at_a_time, int reps) {
    size_t rb = cb_row_bytes(wtype, K);
    if (rb == 0 || N <= 0 || T <= 0) return 0.0;
    char *W = malloc(rb * (size_t)N);
    float *row = malloc((size_t)K * sizeof *row);
    float *x = malloc((size_t)(T * K) * sizeof *x);
    float *y = malloc((size_t)(T * N) * sizeof *y);
    double best = 0.0;
    if (!W || !row || !x || !y) goto out;
    uint32_t s = 0x2545f491u;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) {
            s = s * 1664525u + 1013904223u;
            row[k] = (float)((int)(s >> 16) - 32768) / 32768.0f;
        }
        cb_quantize_row(wtype, row, W + (size_t)n * rb, K);
    }
    for (int64_t i = 0; i < T * K; i++) x[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now_s();
        if (one_at_a_time)
            for (int64_t t = 0; t < T; t++) cb_matmul_impl(impl, pool, wtype, W, x + t * K, y + t * N, 1, K, N);
        else
            cb_matmul_impl(impl, pool, wtype, W, x, y, T, K, N);
        double dt = now_s() - t0;
        double f = dt > 0 ? 2.0 * (double)T * (double)K * (double)N / dt : 0.0;
        if (f > best) best = f;
    }
out:
    free(y);
    free(x);
    free(row);
    free(W);
    return best;
}
