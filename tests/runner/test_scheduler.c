/* tests/runner/test_scheduler.c — the scheduler against a real SQLite file with
 * the instant backend: every item stored exactly once, resume after an
 * interruption asks only for what is missing, failed requests are stored as
 * failures and retried on resume, shards partition the items, and the same
 * config gives the same samples. */
#include "runner/scheduler.h"

#include "results/store.h"
#include "runner/backend_instant.h"
#include "runner/config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/cbschedXXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *SUITE =
    "{\"name\":\"t\",\"seed\":3,\"batch_size\":16,\"tasks\":["
    "{\"family\":\"counting\",\"settings\":[\"direct\",\"cot\"],\"n\":10},"
    "{\"family\":\"counting\",\"label\":\"sc\",\"subtasks\":[\"word_len\"],\"settings\":[\"sc\"],\"n\":4}]}";

static cb_suite *load(void) {
    cb_suite *s = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_suite_parse("t.json", SUITE, strlen(SUITE), &s, &err), 0, "%s", err.msg);
    return s;
}

static cb_store *open_store(const char *name, int64_t *run_id) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(path, CB_STORE_OPEN_CREATE, &st, &err), 0, "%s", err.msg);
    if (run_id) {
        cb_run_info ri;
        memset(&ri, 0, sizeof ri);
        snprintf(ri.suite, sizeof ri.suite, "t");
        snprintf(ri.backend, sizeof ri.backend, "instant");
        cr_assert_eq(cb_store_run_create(st, &ri, run_id, &err), 0, "%s", err.msg);
    }
    return st;
}

/* items of SUITE: 4 subtasks x 2 settings x 10 + 1 x 1 x 4 */
#define N_ITEMS (4 * 2 * 10 + 4)

Test(scheduler, every_item_once, .init = setup, .fini = teardown) {
    cb_suite *s = load();
    int64_t run = 0;
    cb_store *st = open_store("a.db", &run);
    cb_backend *b = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_backend_instant_open(0, &b, &err), 0);
    cb_sched_opts o = {.suite = s, .loglik = 1};
    cb_sched_stats stats;
    cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_eq(stats.n_items, N_ITEMS);
    cr_assert_eq(stats.n_done, N_ITEMS);
    cr_assert_eq(stats.n_failed, 0);
    int64_t n = 0;
    cr_assert_eq(cb_store_count_samples(st, run, &n, &err), 0);
    cr_assert_eq(n, N_ITEMS);
    /* sc items made 5 GENERATE calls each */
    cr_assert_eq(cb_backend_instant_calls(b), 4 * 2 * 10 + 4 * 5);
    /* running again stores nothing new and asks nothing */
    int64_t calls = cb_backend_instant_calls(b);
    cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_eq(stats.n_skipped, N_ITEMS);
    cr_assert_eq(stats.n_done, 0);
    cr_assert_eq(cb_backend_instant_calls(b), calls);
    cr_assert_eq(cb_store_compute_capability_scores(st, run, &err), 0, "%s", err.msg);
    cb_capability_score *rows = NULL;
    size_t nrows = 0;
    cr_assert_eq(cb_store_capability_scores(st, run, &rows, &nrows, &err), 0);
    cr_assert_geq(nrows, 4, "one score per capability at least");
    free(rows);
    b->close(b);
    cb_store_close(st);
    cb_suite_free(s);
}

/* Stop after the first batch (as Ctrl-C does), then resume: nothing lost,
 * nothing duplicated, and the resumed part asks only for the missing items. */
static volatile sig_atomic_t g_stop_flag;
typedef struct {
    cb_backend *inner;
    int batches;
} stopper;

static int stop_submit(cb_backend *b, const cb_request *r, cb_response *o, int n, cb_err *e) {
    stopper *s = b->ctx;
    int rc = s->inner->submit(s->inner, r, o, n, e);
    if (++s->batches == 1) g_stop_flag = 1; /* "Ctrl-C" during the first batch */
    return rc;
}
static void stop_describe(cb_backend *b, cb_backend_info *i) {
    stopper *s = b->ctx;
    s->inner->describe(s->inner, i);
}

Test(scheduler, interrupt_then_resume, .init = setup, .fini = teardown) {
    cb_suite *s = load();
    int64_t run = 0;
    cb_store *st = open_store("b.db", &run);
    cb_backend *inner = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_backend_instant_open(0, &inner, &err), 0);
    stopper sp = {inner, 0};
    cb_backend wrap = {.ctx = &sp, .submit = stop_submit, .describe = stop_describe};
    g_stop_flag = 0;
    cb_sched_opts o = {.suite = s, .loglik = 1, .stop = &g_stop_flag};
    cb_sched_stats stats;
    int rc = cb_scheduler_run(&o, &wrap, st, run, &stats, &err);
    cr_assert_eq(rc, CB_EINTR, "rc %d %s", rc, err.msg);
    cr_assert_eq(stats.n_done, 16, "the batch in flight is committed");
    int64_t n = 0;
    cb_store_count_samples(st, run, &n, &err);
    cr_assert_eq(n, 16);
    /* resume */
    g_stop_flag = 0;
    int64_t calls_before = cb_backend_instant_calls(inner);
    cb_sched_opts o2 = {.suite = s, .loglik = 1};
    cr_assert_eq(cb_scheduler_run(&o2, inner, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_eq(stats.n_skipped, 16);
    cr_assert_eq(stats.n_done, N_ITEMS - 16);
    cb_store_count_samples(st, run, &n, &err);
    cr_assert_eq(n, N_ITEMS);
    /* the first batch (16 direct char_occur/substring items) made 16 calls; the
     * rest made exactly the remaining calls */
    cr_assert_eq(cb_backend_instant_calls(inner) - calls_before, (4 * 2 * 10 + 4 * 5) - 16);
    inner->close(inner);
    cb_store_close(st);
    cb_suite_free(s);
}

typedef struct {
    int64_t n, failed, scored;
} tally;

static int count_cb(void *ud, const cb_sample *smp, cb_err *err) {
    (void)err;
    tally *t = ud;
    t->n++;
    if (smp->error) {
        t->failed++;
        cr_assert(isnan(smp->score), "a failed sample has no score");
    } else {
        t->scored++;
        cr_assert(smp->score == 0.0 || smp->score == 1.0);
        cr_assert_not_null(smp->item_json);
        cr_assert_not_null(smp->grader_version);
    }
    return 0;
}

Test(scheduler, failures_are_stored_and_retried, .init = setup, .fini = teardown) {
    cb_suite *s = load();
    int64_t run = 0;
    cb_store *st = open_store("c.db", &run);
    cb_backend *b = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_backend_instant_open(7, &b, &err), 0); /* every 7th generation fails */
    cb_sched_opts o = {.suite = s, .loglik = 0};
    cb_sched_stats stats;
    cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_gt(stats.n_failed, 0);
    tally t = {0};
    cr_assert_eq(cb_store_foreach_sample(st, run, count_cb, &t, &err), 0);
    cr_assert_eq(t.n, N_ITEMS);
    cr_assert_eq(t.failed, stats.n_failed);
    b->close(b);
    /* resume with a healthy backend: only the failed ones are asked again */
    cr_assert_eq(cb_backend_instant_open(0, &b, &err), 0);
    int64_t failed = stats.n_failed;
    cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_eq(stats.n_done, failed);
    memset(&t, 0, sizeof t);
    cr_assert_eq(cb_store_foreach_sample(st, run, count_cb, &t, &err), 0);
    cr_assert_eq(t.n, N_ITEMS, "retried failures replace their rows, never add");
    cr_assert_eq(t.failed, 0);
    b->close(b);
    cb_store_close(st);
    cb_suite_free(s);
}

typedef struct {
    char **ids;
    int n, cap;
} idlist;

static int collect_ids(void *ud, const cb_sample *smp, cb_err *err) {
    (void)err;
    idlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = realloc(l->ids, (size_t)l->cap * sizeof *l->ids);
    }
    char buf[2048];
    snprintf(buf, sizeof buf, "%s|%s|%s|%.17g", smp->item_id, smp->response ? smp->response : "",
             smp->metrics_json ? smp->metrics_json : "", smp->score);
    l->ids[l->n++] = strdup(buf);
    return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Test(scheduler, shards_partition_and_runs_reproduce, .init = setup, .fini = teardown) {
    cb_suite *s = load();
    cb_err err;
    cb_err_clear(&err);
    idlist all = {0}, parts = {0};
    /* one unsharded run */
    {
        int64_t run = 0;
        cb_store *st = open_store("full.db", &run);
        cb_backend *b = NULL;
        cb_backend_instant_open(0, &b, &err);
        cb_sched_opts o = {.suite = s, .loglik = 1};
        cr_assert_eq(cb_scheduler_run(&o, b, st, run, NULL, &err), 0, "%s", err.msg);
        cb_store_foreach_sample(st, run, collect_ids, &all, &err);
        b->close(b);
        cb_store_close(st);
    }
    /* three shards into three databases, with a different batch size */
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "shard%d.db", i);
        int64_t run = 0;
        cb_store *st = open_store(name, &run);
        cb_backend *b = NULL;
        cb_backend_instant_open(0, &b, &err);
        cb_sched_opts o = {.suite = s, .loglik = 1, .shard_i = i, .shard_n = 3, .batch_size = 5};
        cb_sched_stats stats;
        cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
        cr_assert_gt(stats.n_items, 0);
        cr_assert_lt(stats.n_items, N_ITEMS);
        cb_store_foreach_sample(st, run, collect_ids, &parts, &err);
        b->close(b);
        cb_store_close(st);
    }
    cr_assert_eq(all.n, N_ITEMS);
    cr_assert_eq(parts.n, N_ITEMS, "shards are disjoint and cover every item");
    qsort(all.ids, (size_t)all.n, sizeof *all.ids, cmpstr);
    qsort(parts.ids, (size_t)parts.n, sizeof *parts.ids, cmpstr);
    for (int i = 0; i < all.n; i++) {
        cr_assert_str_eq(all.ids[i], parts.ids[i], "same item, response, metrics and score");
        free(all.ids[i]);
        free(parts.ids[i]);
    }
    free(all.ids);
    free(parts.ids);
    cb_suite_free(s);
}

Test(scheduler, limit_caps_each_cell, .init = setup, .fini = teardown) {
    cb_suite *s = load();
    int64_t run = 0;
    cb_store *st = open_store("d.db", &run);
    cb_backend *b = NULL;
    cb_err err;
    cb_err_clear(&err);
    cb_backend_instant_open(0, &b, &err);
    cb_sched_opts o = {.suite = s, .limit = 2};
    cb_sched_stats stats;
    cr_assert_eq(cb_scheduler_run(&o, b, st, run, &stats, &err), 0, "%s", err.msg);
    cr_assert_eq(stats.n_items, 4 * 2 * 2 + 2);
    b->close(b);
    cb_store_close(st);
    cb_suite_free(s);
}

Test(scheduler, parse_shard) {
    int i, n;
    cb_err err;
    cr_assert_eq(cb_parse_shard("1/4", &i, &n, &err), 0);
    cr_assert_eq(i, 1);
    cr_assert_eq(n, 4);
    cr_assert_neq(cb_parse_shard("4/4", &i, &n, &err), 0);
    cr_assert_neq(cb_parse_shard("x", &i, &n, &err), 0);
    cr_assert_neq(cb_parse_shard("1/0", &i, &n, &err), 0);
    cr_assert_neq(cb_parse_shard("-1/3", &i, &n, &err), 0);
}
