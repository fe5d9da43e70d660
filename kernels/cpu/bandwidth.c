/* kernels/cpu/bandwidth.c — memory copy bandwidth, the yardstick the decode
 * benchmark divides its weight-read rate by.
 *
 * Convention: (bytes read + bytes written) per second of a large memcpy split
 * into one contiguous slice per pool thread. Pages are first touched by the
 * thread that later copies them, so the timing excludes page faults. What it
 * does not measure: read-only streaming (usually a little faster), latency.
 */
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct copy_job {
    char *dst;
    const char *src;
    size_t bytes;
    int touch; /* 1: first-touch both buffers instead of copying */
};

static void copy_task(void *ctx, int ith, int nth) {
    struct copy_job *j = ctx;
    size_t per = (j->bytes / (size_t)nth + 63) & ~(size_t)63;
    size_t b0 = per * (size_t)ith;
    if (b0 >= j->bytes) return;
    size_t len = j->bytes - b0 < per ? j->bytes - b0 : per;
    if (j->touch) {
        memset((char *)j->src + b0, ith + 1, len);
        memset(j->dst + b0, 0, len);
    } else {
        memcpy(j->dst + b0, j->src + b0, len);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cb_measure_copy_bandwidth(cb_pool *pool, size_t bytes, int reps) {
    if (bytes == 0) return 0.0;
    size_t alloc = (bytes + 4095) & ~(size_t)4095;
    char *src = aligned_alloc(4096, alloc);
    char *dst = aligned_alloc(4096, alloc);
    double best = 0.0;
    if (!src || !dst) goto out;
    struct copy_job j = {dst, src, bytes, 1};
    cb_pool_run(pool, copy_task, &j);
    j.touch = 0;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now_s();
        cb_pool_run(pool, copy_task, &j);
        double dt = now_s() - t0;
        double bw = dt > 0 ? 2.0 * (double)bytes / dt : 0.0;
        if (bw > best) best = bw;
    }
out:
    free(dst);
    free(src);
    return best;
}
