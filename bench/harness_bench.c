/* bench/harness_bench.c — `capbench bench --harness`: the throughput of the
 * pipeline around the model (items -> requests -> grades -> SQLite) with the
 * instant in-process backend, on N counting items (default 100,000) in a fresh
 * database file.
 *
 * Printed side by side from the same run: the end-to-end samples/s, the rate
 * of item generation alone (the cheapest stage, a baseline for the others) and
 * the ratio to the 20,000 samples/s goal. Not a timed test: CI never runs it.
 */
#include "runner/commands.h"

#include "results/store.h"
#include "runner/backend_instant.h"
#include "runner/config.h"
#include "runner/scheduler.h"
#include "tasks/task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GOAL_SAMPLES_PER_S 20000.0

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cb_cmd_bench_harness(int argc, char **argv) {
    long long n = 100000, batch = 512;
    int json = 0;
    const char *db_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--harness") == 0) continue;
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if ((strcmp(a, "--n") == 0 || strcmp(a, "--batch-size") == 0) && v) {
            char *end = NULL;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || *end || x < 4 || x > 100000000) {
                fprintf(stderr, "capbench bench: %s: expected an integer from 4 to 10^8, got \"%s\"\n", a, v);
                return 2;
            }
            if (a[2] == 'n')
                n = x;
            else
                batch = x;
            i++;
            continue;
        }
        if (strcmp(a, "--db") == 0 && v) {
            db_arg = v;
            i++;
            continue;
        }
        fprintf(stderr,
                "usage: capbench bench --harness [--n ITEMS] [--batch-size N] [--db FILE] [--json]\n"
                "capbench bench: unknown option \"%s\"\n",
                a);
        return 2;
    }

    cb_err err;
    cb_err_clear(&err);
    int rc = 0;
    cb_suite *suite = NULL;
    cb_store *st = NULL;
    cb_backend *be = NULL;
    cb_task_spec *spec = NULL;
    char db[512];
    if (db_arg)
        snprintf(db, sizeof db, "%s", db_arg);
    else
        snprintf(db, sizeof db, "%s/capbench-harness-bench-%ld.db", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (long)getpid());
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"name\":\"harness-bench\",\"seed\":1,\"batch_size\":%lld,"
             "\"tasks\":[{\"family\":\"counting\",\"settings\":[\"direct\"],\"n\":%lld,"
             "\"params\":{\"words\":\"pseudo\"}}]}",
             batch, (n + 3) / 4);
    if ((rc = cb_suite_parse("<harness bench suite>", cfg, strlen(cfg), &suite, &err))) goto out;

    /* baseline: item generation alone */
    if ((rc = cb_suite_task_spec(suite, 0, 0, &spec, &err))) goto out;
    int64_t n_items = cb_task_spec_n_items(spec);
    double t0 = now_s();
    for (int64_t k = 0; k < n_items; k++) {
        cb_item *it = NULL;
        if ((rc = cb_task_spec_item(spec, k, &it, &err))) goto out;
        cb_item_free(it);
    }
    double gen_s = now_s() - t0;

    /* the whole pipeline into a fresh database */
    unlink(db);
    if ((rc = cb_store_open(db, CB_STORE_OPEN_CREATE, &st, &err))) goto out;
    if ((rc = cb_backend_instant_open(0, &be, &err))) goto out;
    cb_run_info ri;
    memset(&ri, 0, sizeof ri);
    snprintf(ri.suite, sizeof ri.suite, "harness-bench");
    snprintf(ri.backend, sizeof ri.backend, "instant");
    snprintf(ri.capbench_version, sizeof ri.capbench_version, "%s", CB_VERSION);
    int64_t run_id = 0;
    if ((rc = cb_store_run_create(st, &ri, &run_id, &err))) goto out;
    cb_sched_opts so = {.suite = suite, .loglik = 1, .progress = 0, .log = stderr};
    cb_sched_stats stats;
    if ((rc = cb_scheduler_run(&so, be, st, run_id, &stats, &err))) goto out;
    double t1 = now_s();
    if ((rc = cb_store_compute_capability_scores(st, run_id, &err))) goto out;
    double agg_s = now_s() - t1;
    int64_t stored = 0;
    if ((rc = cb_store_count_samples(st, run_id, &stored, &err))) goto out;
    if (stored != stats.n_done) {
        rc = cb_err_set(&err, CB_ERUNTIME, "stored %lld samples, expected %lld", (long long)stored,
                        (long long)stats.n_done);
        goto out;
    }
    double sps = stats.n_done / stats.wall_s, gps = n_items / gen_s;
    if (json) {
        printf("{\"items\":%lld,\"requests\":%lld,\"wall_s\":%.4f,\"samples_per_s\":%.1f,"
               "\"generate_only_items_per_s\":%.1f,\"pipeline_vs_generate_only\":%.4f,"
               "\"goal_samples_per_s\":%.0f,\"fraction_of_goal\":%.4f,\"capability_scores_s\":%.4f}\n",
               (long long)stats.n_done, (long long)stats.n_requests, stats.wall_s, sps, gps, sps / gps,
               GOAL_SAMPLES_PER_S, sps / GOAL_SAMPLES_PER_S, agg_s);
    } else {
        printf("harness benchmark: %lld counting items (4 subtasks, direct, + log-likelihood candidates), "
               "instant backend, SQLite %s\n",
               (long long)stats.n_done, db);
        printf("  %-38s %12s\n", "stage", "rate");
        printf("  %-38s %9.0f /s\n", "item generation alone (baseline)", gps);
        printf("  %-38s %9.0f /s  (%lld requests)\n", "items -> requests -> grade -> store", sps,
               (long long)stats.n_requests);
        printf("  %-38s %12.3f\n", "pipeline / generation-only", sps / gps);
        printf("  %-38s %12.3f  (goal %.0f samples/s)\n", "pipeline / goal", sps / GOAL_SAMPLES_PER_S,
               GOAL_SAMPLES_PER_S);
        printf("  %-38s %10.3f s\n", "capability scores over the run", agg_s);
    }
out:
    if (rc) fprintf(stderr, "capbench bench --harness: %s\n", err.msg);
    if (be) be->close(be);
    cb_store_close(st);
    cb_task_spec_free(spec);
    cb_suite_free(suite);
    if (!db_arg) {
        char p[600];
        unlink(db);
        snprintf(p, sizeof p, "%s-wal", db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", db);
        unlink(p);
    }
    return cb_err_exit_code(&err);
}
