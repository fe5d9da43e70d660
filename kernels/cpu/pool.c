/* kernels/cpu/pool.c — the fixed thread pool that runs the CPU kernels.
 *
 * The engine calls cb_pool_run about ten times per layer per token, so a call
 * must cost microseconds, not a futex round trip per worker. Design:
 *   - A run publishes (fn, ctx) and bumps a generation counter; workers spin on
 *     the counter for a short while (CB_POOL_SPIN_NS) after their last job —
 *     with pause for the first CB_POOL_YIELD_NS, then with sched_yield so an
 *     oversubscribed core goes to whoever has work — and only then sleep on a
 *     condition variable. Spinning workers start within
 *     a few hundred nanoseconds; sleeping ones are woken by a broadcast.
 *   - Completion is a countdown of the workers still busy; the caller (thread
 *     0) spins on it, then sleeps the same way.
 *   - Lost wake-ups are excluded by a Dekker-style handshake on seq_cst
 *     atomics: a sleeper announces itself (n_sleep++) before it re-checks the
 *     generation under the mutex, and the runner reads n_sleep after bumping it.
 * What it does not do: nested or concurrent runs (one caller at a time; fn
 * must not call cb_pool_run on the same pool), work stealing, affinity.
 */
#include "kernels/kernels.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

/* How long an idle thread spins before it sleeps. Long enough to bridge the
 * single-threaded gaps between the kernels of one layer (norms, rope,
 * attention of a short context), short enough not to burn a core while the
 * engine waits for I/O. */
#define CB_POOL_SPIN_NS 200000LL
/* After this long, a spinning thread calls sched_yield() between checks: on an
 * oversubscribed machine the thread it waits for may need this very core. */
#define CB_POOL_YIELD_NS 20000LL

struct cb_pool {
    int n;                     /* threads including the caller */
    pthread_t *threads;        /* n - 1 workers */
    int n_started;
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    atomic_uint gen;           /* bumped once per run */
    atomic_int pending;        /* workers still running the current job */
    atomic_int quit;
    atomic_int n_sleep;        /* workers sleeping (or about to) on wake_cv */
    atomic_int caller_sleep;   /* caller sleeping (or about to) on done_cv */
    pthread_mutex_t mu;
    pthread_cond_t wake_cv;
    pthread_cond_t done_cv;
};

struct worker_arg {
    cb_pool *p;
    int ith;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spins until *gen != seen or the spin budget runs out; returns 1 when it changed. */
static int spin_for_gen(cb_pool *p, unsigned seen) {
    long long t0 = 0;
    int yield = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen) return 1;
        if (yield) sched_yield();
        else cpu_relax();
        if ((i & 255u) == 0 || yield) {
            long long t = now_ns();
            if (t0 == 0) t0 = t;
            else if (t - t0 > CB_POOL_SPIN_NS) return 0;
            else if (t - t0 > CB_POOL_YIELD_NS) yield = 1;
        }
    }
}

static void *worker_main(void *arg_) {
    struct worker_arg *arg = arg_;
    cb_pool *p = arg->p;
    int ith = arg->ith;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        if (!spin_for_gen(p, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleep, 1);
            while (atomic_load(&p->gen) == seen) pthread_cond_wait(&p->wake_cv, &p->mu);
            atomic_fetch_sub(&p->n_sleep, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (atomic_load_explicit(&p->quit, memory_order_acquire)) break;
        p->fn(p->ctx, ith, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleep)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* Publishes the current (fn, ctx, quit) to the workers. */
static void wake_workers(cb_pool *p) {
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->n_sleep) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void wait_workers(cb_pool *p) {
    long long t0 = 0;
    int yield = 0;
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        if (yield) sched_yield();
        else cpu_relax();
        if ((i & 255u) == 0 || yield) {
            long long t = now_ns();
            if (t0 == 0) t0 = t;
            else if (t - t0 > CB_POOL_SPIN_NS) break;
            else if (t - t0 > CB_POOL_YIELD_NS) yield = 1;
        }
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleep, 1);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->caller_sleep, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

int cb_pool_new(int n_threads, cb_pool **out, cb_err *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return cb_err_set(err, CB_EUSAGE, "thread pool: n_threads must be 1..1024, got %d", n_threads);
    cb_pool *p = calloc(1, sizeof *p);
    if (!p) return cb_err_set(err, CB_ENOMEM, "thread pool: out of memory");
    p->n = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->n_sleep, 0);
    atomic_init(&p->caller_sleep, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    int rc = CB_OK;
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            rc = cb_err_set(err, CB_ENOMEM, "thread pool: out of memory");
            goto out;
        }
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (!a) {
            rc = cb_err_set(err, CB_ENOMEM, "thread pool: out of memory");
            goto out;
        }
        a->p = p;
        a->ith = i;
        int e = pthread_create(&p->threads[i - 1], NULL, worker_main, a);
        if (e) {
            free(a);
            rc = cb_err_set(err, CB_ERUNTIME, "thread pool: pthread_create for thread %d: %s", i,
                            strerror(e));
            goto out;
        }
        p->n_started++;
    }
out:
    if (rc) {
        cb_pool_free(p);
        return rc;
    }
    *out = p;
    return CB_OK;
}

void cb_pool_free(cb_pool *p) {
    if (!p) return;
    if (p->n_started > 0) {
        atomic_store(&p->quit, 1);
        atomic_fetch_add(&p->gen, 1);
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake_cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->wake_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int cb_pool_size(const cb_pool *p) { return p ? p->n : 1; }

void cb_pool_run(cb_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    wake_workers(p);
    fn(ctx, 0, p->n);
    wait_workers(p);
}
