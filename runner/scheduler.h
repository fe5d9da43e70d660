/* runner/scheduler.h — drives one run: items -> requests -> backend ->
 * grades -> store, in batches, skipping what the run already has.
 *
 * The scheduler is the only place that knows tasks, backends and the store
 * together. For each task entry of the suite it enumerates items by index
 * (deterministic, so a resumed or sharded run sees the same items), drops those
 * outside this shard and those already stored for the run, sends the rest in
 * batches of `batch_size` items through the backend, grades each item from its
 * responses and commits the batch's samples in one transaction.
 *
 * Interruption: when *stop becomes nonzero (SIGINT), the batch in flight is
 * finished, graded and committed, then the run returns CB_EINTR. Nothing graded
 * is lost; `capbench run --resume ID` asks only for the missing samples.
 *
 * A request that fails (timeout, server error after retries, context overflow)
 * is stored as a failed sample (error set, no score) and retried on resume.
 *
 * Rounds and judges: an item's requests are sent in rounds. After each round
 * the family may ask for more (tasks/task.h next_round): a second student
 * turn quoting the first reply, judge requests built from the responses, a
 * re-ask. Judge requests go to the judge backend; each judgement is stored at
 * once in the database's judgement cache under (judge identity, sha256 of the
 * judge prompt and decoding), and a cached judgement is never requested again.
 */
#ifndef CB_SCHEDULER_H
#define CB_SCHEDULER_H

#include "common/err.h"
#include "runner/backend.h"
#include "runner/config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cb_store cb_store;

typedef struct cb_sched_opts {
    const cb_suite *suite;
    int64_t limit;              /* > 0: at most this many items per subtask x setting cell */
    int shard_i, shard_n;       /* keep items with fnv1a64(id) % shard_n == shard_i; shard_n 0 = all */
    int batch_size;             /* items per batch (0 = suite's) */
    int loglik;                 /* 1: send optional log-likelihood requests when the backend can score */
    int progress;               /* 0 none, 1 bar on a terminal, 2 a line every few seconds */
    FILE *log;                  /* progress and warnings (stderr) */
    volatile sig_atomic_t *stop;/* set asynchronously to stop after the current batch (may be NULL) */
    cb_backend *judge;          /* the suite's judge backend, or NULL (families fall back to rules or refuse) */
    const char *judge_id;       /* the judge's identity ("sha256:..." or "URL|model"); keys the judgement cache */
} cb_sched_opts;

typedef struct cb_sched_stats {
    int64_t n_items;            /* items of this run (after shard), stored or not */
    int64_t n_skipped;          /* already stored before this call */
    int64_t n_done;             /* graded and committed by this call */
    int64_t n_failed;           /* of which failed requests */
    int64_t n_requests;         /* backend requests sent */
    int64_t n_judge_calls;      /* judge requests sent */
    int64_t n_judge_cached;     /* judge requests answered from the judgement cache */
    double wall_s;
} cb_sched_stats;

/* Runs the suite's items for run_id through backend b into store st. OUT
 * *stats (may be NULL). Errors: CB_EINTR when stopped (the finished batches are
 * committed), whatever the backend's submit or the store reports (the batch in
 * flight is then not stored), CB_EUSAGE for task specs that cannot be built. */
int cb_scheduler_run(const cb_sched_opts *o, cb_backend *b, cb_store *st, int64_t run_id, cb_sched_stats *stats,
                     cb_err *err);

/* Parses "I/N" (0 <= I < N). Errors: CB_EUSAGE. */
int cb_parse_shard(const char *s, int *i, int *n, cb_err *err);

#endif
