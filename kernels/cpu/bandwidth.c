/* kernels/cpu/bandwidth.c — memory bandwidth yardsticks for the decode
 * benchmark, and the size of the last-level cache.
 *
 * Copy: (bytes read + bytes written) per second of a large memcpy split into
 * one contiguous slice per pool thread. Read: bytes read per second of a sum
 * over a large buffer, one contiguous slice per pool thread — the access
 * pattern of a matvec's weight stream, so it is the yardstick the decode
 * fraction is taken against. Pages are first touched by the thread that
 * later reads them, so the timings exclude page faults. Neither measures
 * latency.
 */
#include "kernels/kernels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

#define READ_PF 8192

struct read_job {
    const char *src;
    size_t bytes;
    int touch;
    uint64_t sums[1024]; /* one per thread (the pool holds at most 1024) */
};

static void read_task(void *ctx, int ith, int nth) {
    struct read_job *j = ctx;
    size_t per = (j->bytes / (size_t)nth + 63) & ~(size_t)63;
    size_t b0 = per * (size_t)ith;
    if (b0 >= j->bytes) return;
    size_t len = j->bytes - b0 < per ? j->bytes - b0 : per;
    if (j->touch) {
        memset((char *)j->src + b0, ith + 1, len);
        return;
    }
    /* four independent chains of 8-byte loads, a 64-byte line per step, with
     * a software prefetch READ_PF bytes ahead as the matvec kernels do (the
     * hardware prefetcher alone left ~40% of the bandwidth unused on a
     * Xeon VM: 16 vs 26 GB/s); the sum is kept so the loads stay */
    const uint64_t *p = (const uint64_t *)(j->src + b0);
    size_t n = len / 8, i = 0;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; i + 8 <= n; i += 8) {
        __builtin_prefetch((const char *)(p + i) + READ_PF, 0, 2);
        s0 += p[i] + p[i + 4];
        s1 += p[i + 1] + p[i + 5];
        s2 += p[i + 2] + p[i + 6];
        s3 += p[i + 3] + p[i + 7];
    }
    for (; i < n; i++) s0 += p[i];
    j->sums[ith] = s0 + s1 + s2 + s3;
}

double cb_measure_read_bandwidth(cb_pool *pool, size_t bytes, int reps) {
    if (bytes == 0) return 0.0;
    size_t alloc = (bytes + 4095) & ~(size_t)4095;
    char *src = aligned_alloc(4096, alloc);
    struct read_job *j = calloc(1, sizeof *j);
    double best = 0.0;
    if (!src || !j) goto out;
    j->src = src;
    j->bytes = bytes;
    j->touch = 1;
    cb_pool_run(pool, read_task, j);
    j->touch = 0;
    for (int r = 0; r < (reps > 0 ? reps : 1); r++) {
        double t0 = now_s();
        cb_pool_run(pool, read_task, j);
        double dt = now_s() - t0;
        double bw = dt > 0 ? (double)bytes / dt : 0.0;
        if (bw > best) best = bw;
    }
out:
    free(j);
    free(src);
    return best;
}

/* Size in bytes of a sysfs cache "size" string such as "32K", "2048K", "260M". */
static size_t parse_cache_size(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'K') v <<= 10;
    else if (*end == 'M') v <<= 20;
    else if (*end == 'G') v <<= 30;
    return (size_t)v;
}

size_t cb_llc_bytes(void) {
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[128], buf[64];
        int level = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!(f = fopen(path, "r"))) continue;
        int ok = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) != 0;
        fclose(f);
        if (!ok) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) continue;
        ok = fgets(buf, sizeof buf, f) != NULL;
        fclose(f);
        size_t sz = ok ? parse_cache_size(buf) : 0;
        if (level > best_level || (level == best_level && sz > best)) best_level = level, best = sz;
    }
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (best == 0) {
        long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
        if (v > 0) best = (size_t)v;
    }
#endif
    return best;
}
