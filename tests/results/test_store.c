/* tests/results/test_store.c — the SQLite results store (results/store.c) on
 * real files in a temporary directory: runs, batched samples, uniqueness,
 * resume keys, a crash in the middle of a batch (a killed child process),
 * migration of a version-1 file written here with frozen raw SQL, refusal of
 * newer, foreign and non-SQLite files, regrade updates, capability scores,
 * and a quick insert-rate measurement (printed, not asserted). */
#include "results/store.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static char dbpath[300];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_store_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/results.db", dir);
}

static void rm_tmp(void) {
    char p[400];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/other.db", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/text.db", dir);
    unlink(p);
    rmdir(dir);
}

TestSuite(store, .init = mk_tmp, .fini = rm_tmp);

static cb_store *open_ok(cb_store_mode mode) {
    cb_store *s = NULL;
    cb_err err = {0};
    int rc = cb_store_open(dbpath, mode, &s, &err);
    cr_assert_eq(rc, 0, "open: %s", err.msg);
    cr_assert_not_null(s);
    return s;
}

static int64_t new_run(cb_store *s) {
    cb_run_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.suite, sizeof info.suite, "smoke");
    info.config_json = "{\"suite\":\"smoke\",\"api_key_env\":\"OPENAI_API_KEY\"}";
    snprintf(info.config_sha256, sizeof info.config_sha256, "%064d", 7);
    snprintf(info.model_id, sizeof info.model_id, "stories260K.gguf");
    snprintf(info.model_sha256, sizeof info.model_sha256, "%064d", 1);
    info.model_bytes = 1234567;
    info.n_params = 292800;
    info.n_params_nonembd = 227264;
    snprintf(info.backend, sizeof info.backend, "local");
    snprintf(info.device, sizeof info.device, "cpu");
    snprintf(info.capbench_version, sizeof info.capbench_version, "0.1.0");
    info.seed = 0xFFFFFFFFFFFFFFF0ull;
    int64_t id = 0;
    cb_err err = {0};
    cr_assert_eq(cb_store_run_create(s, &info, &id, &err), 0, "%s", err.msg);
    cr_assert_gt(id, 0);
    return id;
}

/* Fills a sample whose strings live in a static ring (valid until 64 more calls). */
static cb_sample mk_sample(int64_t run, int i, int repeat, double score) {
    static char ids[64][64];
    static int slot;
    char *id = ids[slot++ % 64];
    snprintf(id, 64, "counting/char/plain/%d", i);
    cb_sample m;
    memset(&m, 0, sizeof m);
    m.run_id = run;
    m.item_id = id;
    m.repeat = repeat;
    m.task = "counting";
    m.subtask = "char";
    m.setting = "plain";
    m.cap[0] = "counting";
    m.item_json = "{\"id\":\"x\"}";
    m.prompt = "How many r in strawberry?";
    m.prompt_tokens = 12;
    m.response = "Answer: 3";
    m.extracted = "3";
    m.score = score;
    m.flags_json = "[]";
    m.metrics_json = "{\"ted\":0}";
    m.grader_version = "1";
    m.completion_tokens = 4;
    m.latency_s = 0.25;
    m.attempts = 1;
    m.responses_json = "[{\"ok\":true,\"text\":\"Answer: 3\"}]";
    return m;
}

static int64_t count(cb_store *s, int64_t run) {
    int64_t n = -1;
    cb_err err = {0};
    cr_assert_eq(cb_store_count_samples(s, run, &n, &err), 0, "%s", err.msg);
    return n;
}

Test(store, run_round_trip_and_status) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    cr_assert_eq(cb_store_schema_version(s), CB_STORE_SCHEMA_VERSION);
    cb_err err = {0};
    int64_t latest = 0;
    cr_assert_eq(cb_store_run_latest(s, &latest, &err), CB_EUSAGE);
    int64_t a = new_run(s), b = new_run(s);
    cr_assert_gt(b, a);
    cr_assert_eq(cb_store_run_latest(s, &latest, &err), 0);
    cr_assert_eq(latest, b);

    cb_run_info got;
    cr_assert_eq(cb_store_run_get(s, a, &got, &err), 0, "%s", err.msg);
    cr_assert_eq(got.id, a);
    cr_assert_str_eq(got.suite, "smoke");
    cr_assert_str_eq(got.config_json, "{\"suite\":\"smoke\",\"api_key_env\":\"OPENAI_API_KEY\"}");
    cr_assert_eq(strlen(got.config_sha256), 64);
    cr_assert_str_eq(got.model_id, "stories260K.gguf");
    cr_assert_eq(got.model_bytes, 1234567);
    cr_assert_eq(got.n_params, 292800);
    cr_assert_eq(got.n_params_nonembd, 227264);
    cr_assert_str_eq(got.backend, "local");
    cr_assert_str_eq(got.device, "cpu");
    cr_assert_str_eq(got.capbench_version, "0.1.0");
    cr_assert_eq(got.seed, 0xFFFFFFFFFFFFFFF0ull);
    cr_assert_eq(got.status, CB_RUN_RUNNING);
    cr_assert_gt(got.started_at, 1.6e9);
    cr_assert_eq(got.finished_at, 0);
    cb_run_info_clear(&got);

    cr_assert_eq(cb_store_run_set_status(s, a, CB_RUN_INTERRUPTED, &err), 0);
    cr_assert_eq(cb_store_run_get(s, a, &got, &err), 0);
    cr_assert_eq(got.status, CB_RUN_INTERRUPTED);
    cr_assert_geq(got.finished_at, got.started_at);
    cb_run_info_clear(&got);
    cr_assert_eq(cb_store_run_set_status(s, a, CB_RUN_RUNNING, &err), 0); /* --resume */
    cr_assert_eq(cb_store_run_get(s, a, &got, &err), 0);
    cr_assert_eq(got.status, CB_RUN_RUNNING);
    cr_assert_eq(got.finished_at, 0);
    cb_run_info_clear(&got);

    cr_assert_eq(cb_store_run_get(s, 999, &got, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "no run 999"), "%s", err.msg);
    cr_assert_eq(cb_store_run_set_status(s, 999, CB_RUN_FINISHED, &err), CB_EUSAGE);
    cr_assert_str_eq(cb_run_status_name(CB_RUN_FINISHED), "finished");
    cb_store_close(s);
}

Test(store, batches_and_sample_round_trip) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    for (int batch = 0; batch < 3; batch++) {
        cr_assert_eq(cb_store_begin(s, &err), 0, "%s", err.msg);
        for (int i = 0; i < 100; i++) {
            cb_sample m = mk_sample(run, batch * 100 + i, 0, (i % 4) ? 1.0 : 0.0);
            int ins = 0;
            cr_assert_eq(cb_store_add_sample(s, &m, &ins, &err), 0, "%s", err.msg);
            cr_assert_eq(ins, 1);
        }
        cr_assert_eq(cb_store_commit(s, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(count(s, run), 300);
    cb_store_close(s);

    /* reopen: everything committed is there, with every field */
    s = open_ok(CB_STORE_OPEN_EXISTING);
    cr_assert_eq(count(s, run), 300);
    cb_stat_set set;
    cr_assert_eq(cb_store_sample_stats(s, run, &set, &err), 0, "%s", err.msg);
    cr_assert_eq(set.n, 300);
    cr_assert_str_eq(set.rows[299].task, "counting");
    cr_assert_str_eq(set.rows[299].cap[0], "counting");
    cr_assert_null(set.rows[299].cap[1]);
    cr_assert_eq(set.rows[0].score, 0.0);
    cr_assert_eq(set.rows[1].score, 1.0);
    cr_assert_eq(set.rows[5].prompt_tokens, 12);
    cr_assert_eq(set.rows[5].completion_tokens, 4);
    cr_assert_float_eq(set.rows[5].latency_s, 0.25, 1e-12);
    cb_stat_set_clear(&set);
    cb_store_close(s);
}

typedef struct {
    int n;
    int64_t last_id;
    int ordered;
    cb_store *s;
} walk_ctx;

static int walk(void *ud, const cb_sample *m, cb_err *err) {
    walk_ctx *w = ud;
    if (m->id <= w->last_id) w->ordered = 0;
    w->last_id = m->id;
    cr_assert_str_eq(m->task, "counting");
    cr_assert_str_eq(m->subtask, "char");
    cr_assert_str_eq(m->setting, "plain");
    cr_assert_str_eq(m->cap[0], "counting");
    cr_assert_null(m->cap[1]);
    cr_assert_str_eq(m->item_json, "{\"id\":\"x\"}");
    cr_assert_str_eq(m->prompt, "How many r in strawberry?");
    cr_assert_str_eq(m->response, "Answer: 3");
    cr_assert_str_eq(m->extracted, "3");
    cr_assert_str_eq(m->flags_json, "[]");
    cr_assert_str_eq(m->metrics_json, "{\"ted\":0}");
    cr_assert_str_eq(m->grader_version, "1");
    cr_assert_null(m->error);
    cr_assert_str_eq(m->responses_json, "[{\"ok\":true,\"text\":\"Answer: 3\"}]");
    cr_assert_eq(m->attempts, 1);
    cr_assert_eq(m->prompt_tokens, 12);
    /* the callback may write: regrade does exactly this while walking */
    cb_sample up = *m;
    up.score = 0.5;
    up.extracted = "three";
    up.grader_version = "2";
    up.unparsed = 1;
    if (cb_store_update_grade(w->s, &up, err)) return 1;
    w->n++;
    return 0;
}

Test(store, foreach_pages_and_update_grade) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s), other = new_run(s);
    cb_err err = {0};
    cb_sample batch[600];
    for (int i = 0; i < 600; i++) batch[i] = mk_sample(run, i, 0, 1.0);
    /* mk_sample's ring holds 64 ids: rebuild ids into stable storage */
    static char ids[600][64];
    for (int i = 0; i < 600; i++) {
        snprintf(ids[i], 64, "counting/char/plain/%d", i);
        batch[i].item_id = ids[i];
    }
    size_t ins = 0;
    cr_assert_eq(cb_store_add_samples(s, batch, 600, &ins, &err), 0, "%s", err.msg);
    cr_assert_eq(ins, 600);
    cb_sample o = mk_sample(other, 0, 0, 0.0);
    cr_assert_eq(cb_store_add_samples(s, &o, 1, &ins, &err), 0);

    walk_ctx w = {0, 0, 1, s};
    cr_assert_eq(cb_store_foreach_sample(s, run, walk, &w, &err), 0, "%s", err.msg);
    cr_assert_eq(w.n, 600); /* more than two pages, each sample once */
    cr_assert(w.ordered);

    cb_stat_set set;
    cr_assert_eq(cb_store_sample_stats(s, run, &set, &err), 0);
    for (size_t i = 0; i < set.n; i++) {
        cr_assert_float_eq(set.rows[i].score, 0.5, 1e-12);
        cr_assert_eq(set.rows[i].unparsed, 1);
    }
    cb_stat_set_clear(&set);
    cr_assert_eq(cb_store_sample_stats(s, other, &set, &err), 0);
    cr_assert_eq(set.n, 1);
    cr_assert_eq(set.rows[0].score, 0.0); /* the other run is untouched */
    cb_stat_set_clear(&set);

    cb_sample missing = mk_sample(run, 9999, 0, 1.0);
    cr_assert_eq(cb_store_update_grade(s, &missing, &err), CB_EUSAGE);
    cb_store_close(s);
}

static int stop_at_3(void *ud, const cb_sample *m, cb_err *err) {
    int *n = ud;
    return ++*n == 3 ? 42 : 0;
}

Test(store, foreach_stops_on_callback_value) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    for (int i = 0; i < 10; i++) {
        cb_sample m = mk_sample(run, i, 0, 1);
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, NULL), 0);
    }
    int n = 0;
    cr_assert_eq(cb_store_foreach_sample(s, run, stop_at_3, &n, NULL), 42);
    cr_assert_eq(n, 3);
    cb_store_close(s);
}

Test(store, uniqueness_and_failed_retry) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    int ins = -1;
    cb_sample m = mk_sample(run, 1, 0, 1.0);
    cr_assert_eq(cb_store_add_sample(s, &m, &ins, &err), 0);
    cr_assert_eq(ins, 1);
    /* same key again, different content: kept once, reported as not inserted */
    cb_sample dup = mk_sample(run, 1, 0, 0.0);
    dup.response = "Answer: 4";
    cr_assert_eq(cb_store_add_sample(s, &dup, &ins, &err), 0, "%s", err.msg);
    cr_assert_eq(ins, 0);
    /* another repeat of the same item is a different key */
    cb_sample rep = mk_sample(run, 1, 1, 0.0);
    cr_assert_eq(cb_store_add_sample(s, &rep, &ins, &err), 0);
    cr_assert_eq(ins, 1);
    cr_assert_eq(count(s, run), 2);
    cb_stat_set set;
    cr_assert_eq(cb_store_sample_stats(s, run, &set, &err), 0);
    cr_assert_eq(set.rows[0].score, 1.0); /* the first one won */
    cb_stat_set_clear(&set);

    /* a failed sample is replaced by a later success, never the reverse */
    cb_sample fail = mk_sample(run, 2, 0, NAN);
    fail.response = NULL;
    fail.extracted = NULL;
    fail.error = "HTTP 503 after 3 attempts";
    cr_assert_eq(cb_store_add_sample(s, &fail, &ins, &err), 0);
    cr_assert_eq(ins, 1);

    cb_keyset *all = NULL, *ok = NULL;
    cr_assert_eq(cb_store_done_keys(s, run, CB_DONE_ALL, &all, &err), 0);
    cr_assert_eq(cb_store_done_keys(s, run, CB_DONE_SUCCEEDED, &ok, &err), 0);
    cr_assert_eq(cb_keyset_count(all), 3);
    cr_assert_eq(cb_keyset_count(ok), 2);
    cr_assert(cb_keyset_contains(all, "counting/char/plain/2", 0));
    cr_assert_not(cb_keyset_contains(ok, "counting/char/plain/2", 0));
    cb_keyset_free(all);
    cb_keyset_free(ok);

    cb_sample retry = mk_sample(run, 2, 0, 1.0);
    cr_assert_eq(cb_store_add_sample(s, &retry, &ins, &err), 0);
    cr_assert_eq(ins, 1);
    cr_assert_eq(count(s, run), 3);
    cb_sample fail_again = fail;
    cr_assert_eq(cb_store_add_sample(s, &fail_again, &ins, &err), 0);
    cr_assert_eq(ins, 0);
    cr_assert_eq(cb_store_sample_stats(s, run, &set, &err), 0);
    cr_assert_eq(set.n, 3);
    cr_assert_eq(set.rows[2].score, 1.0);
    cr_assert_eq(set.rows[2].failed, 0);
    cb_stat_set_clear(&set);

    /* add_samples counts only real inserts; a duplicate inside one batch too */
    cb_sample two[3] = {mk_sample(run, 1, 0, 1), mk_sample(run, 7, 0, 1), mk_sample(run, 7, 0, 0)};
    size_t n_ins = 9;
    cr_assert_eq(cb_store_add_samples(s, two, 3, &n_ins, &err), 0);
    cr_assert_eq(n_ins, 1);
    cr_assert_eq(count(s, run), 4);
    cb_store_close(s);
}

Test(store, bad_samples_are_refused) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    cb_sample m = mk_sample(run + 100, 1, 0, 1.0);
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "no run"), "%s", err.msg);
    m = mk_sample(run, 1, 0, 1.0);
    m.item_id = NULL;
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), CB_EUSAGE);
    m = mk_sample(run, 1, 0, 1.0);
    m.cap[0] = NULL;
    m.cap[1] = "second";
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), CB_EUSAGE);
    /* a bad sample in a batch rolls the whole batch back */
    cb_sample b[2] = {mk_sample(run, 1, 0, 1.0), mk_sample(run, 2, 0, 1.0)};
    b[1].task = NULL;
    size_t ins = 7;
    cr_assert_eq(cb_store_add_samples(s, b, 2, &ins, &err), CB_EUSAGE);
    cr_assert_eq(count(s, run), 0);
    /* nested inside begin/commit, the batch is a savepoint: the outer transaction survives */
    cr_assert_eq(cb_store_begin(s, &err), 0);
    cb_sample good = mk_sample(run, 5, 0, 1.0);
    cr_assert_eq(cb_store_add_sample(s, &good, NULL, &err), 0);
    cr_assert_eq(cb_store_add_samples(s, b, 2, &ins, &err), CB_EUSAGE);
    cr_assert_eq(cb_store_begin(s, &err), CB_ERUNTIME);
    cr_assert_eq(cb_store_commit(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count(s, run), 1);
    cr_assert_eq(cb_store_commit(s, &err), CB_ERUNTIME);
    cb_store_close(s);
}

Test(store, done_keys_sorted_for_resume) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s), other = new_run(s);
    cb_err err = {0};
    int order[] = {5, 3, 10, 1, 3};
    int reps[] = {0, 1, 0, 2, 0};
    for (int i = 0; i < 5; i++) {
        cb_sample m = mk_sample(run, order[i], reps[i], 1.0);
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    }
    cb_sample m = mk_sample(other, 99, 0, 1.0);
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    cb_keyset *k = NULL;
    cr_assert_eq(cb_store_done_keys(s, run, CB_DONE_ALL, &k, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_keyset_count(k), 5);
    /* byte order: ".../1" < ".../10" < ".../3" < ".../5" */
    const char *want[] = {"counting/char/plain/1", "counting/char/plain/10", "counting/char/plain/3",
                          "counting/char/plain/3", "counting/char/plain/5"};
    int want_rep[] = {2, 0, 0, 1, 0};
    for (size_t i = 0; i < 5; i++) {
        int r = -1;
        cr_assert_str_eq(cb_keyset_item(k, i, &r), want[i]);
        cr_assert_eq(r, want_rep[i]);
    }
    cr_assert_null(cb_keyset_item(k, 5, NULL));
    cr_assert(cb_keyset_contains(k, "counting/char/plain/3", 1));
    cr_assert(cb_keyset_contains(k, "counting/char/plain/1", 2));
    cr_assert_not(cb_keyset_contains(k, "counting/char/plain/1", 0));
    cr_assert_not(cb_keyset_contains(k, "counting/char/plain/99", 0)); /* other run's */
    cr_assert_not(cb_keyset_contains(k, "", 0));
    cb_keyset_free(k);
    cr_assert_eq(cb_store_done_keys(s, 12345, CB_DONE_ALL, &k, &err), 0);
    cr_assert_eq(cb_keyset_count(k), 0);
    cr_assert_not(cb_keyset_contains(k, "x", 0));
    cb_keyset_free(k);
    cb_keyset_free(NULL);
    cb_store_close(s);
}

Test(store, close_without_commit_loses_only_the_open_batch) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    cr_assert_eq(cb_store_begin(s, &err), 0);
    for (int i = 0; i < 50; i++) {
        cb_sample m = mk_sample(run, i, 0, 1.0);
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    }
    cr_assert_eq(cb_store_commit(s, &err), 0);
    cr_assert_eq(cb_store_begin(s, &err), 0);
    for (int i = 50; i < 80; i++) {
        cb_sample m = mk_sample(run, i, 0, 1.0);
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    }
    cb_store_close(s); /* no commit */
    s = open_ok(CB_STORE_OPEN_EXISTING);
    cr_assert_eq(count(s, run), 50);
    cb_keyset *k = NULL;
    cr_assert_eq(cb_store_done_keys(s, run, CB_DONE_ALL, &k, &err), 0);
    cr_assert(cb_keyset_contains(k, "counting/char/plain/49", 0));
    cr_assert_not(cb_keyset_contains(k, "counting/char/plain/50", 0));
    cb_keyset_free(k);
    cb_store_close(s);
}

Test(store, killed_process_mid_batch) {
    /* A child commits one batch, starts a second and is SIGKILLed before
     * committing: after the kill the first batch is whole and the second absent,
     * and the resumed run adds exactly the missing samples. */
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_store_close(s);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cb_store *c = NULL;
        if (cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &c, NULL)) _exit(3);
        if (cb_store_begin(c, NULL)) _exit(4);
        for (int i = 0; i < 40; i++) {
            cb_sample m = mk_sample(run, i, 0, 1.0);
            if (cb_store_add_sample(c, &m, NULL, NULL)) _exit(5);
        }
        if (cb_store_commit(c, NULL)) _exit(6);
        if (cb_store_begin(c, NULL)) _exit(7);
        for (int i = 40; i < 100; i++) {
            cb_sample m = mk_sample(run, i, 0, 1.0);
            if (cb_store_add_sample(c, &m, NULL, NULL)) _exit(8);
        }
        raise(SIGKILL);
        _exit(9);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);

    s = open_ok(CB_STORE_OPEN_EXISTING);
    cr_assert_eq(count(s, run), 40);
    cb_keyset *k = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_done_keys(s, run, CB_DONE_SUCCEEDED, &k, &err), 0);
    size_t added = 0;
    cr_assert_eq(cb_store_begin(s, &err), 0);
    for (int i = 0; i < 100; i++) {
        cb_sample m = mk_sample(run, i, 0, 1.0);
        if (cb_keyset_contains(k, m.item_id, 0)) continue;
        int ins = 0;
        cr_assert_eq(cb_store_add_sample(s, &m, &ins, &err), 0);
        added += (size_t)ins;
    }
    cr_assert_eq(cb_store_commit(s, &err), 0);
    cb_keyset_free(k);
    cr_assert_eq(added, 60);
    cr_assert_eq(count(s, run), 100);
    cb_store_close(s);
}

/* ---- files from elsewhere ------------------------------------------------ */

static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

/* The version-1 layout exactly as capbench 0.1 wrote it (frozen copy). */
static const char *v1_sql =
    "PRAGMA application_id=1128419908;"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, suite TEXT NOT NULL, config_json TEXT NOT NULL,"
    " config_sha256 TEXT NOT NULL, model_id TEXT NOT NULL, model_sha256 TEXT NOT NULL, backend TEXT NOT NULL,"
    " device TEXT NOT NULL, capbench_version TEXT NOT NULL, seed INTEGER NOT NULL, started_at REAL NOT NULL,"
    " finished_at REAL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','interrupted','failed')));"
    "CREATE TABLE samples(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " item_id TEXT NOT NULL, repeat INTEGER NOT NULL, task TEXT NOT NULL, subtask TEXT, setting TEXT,"
    " capability TEXT, item_json TEXT, prompt TEXT, prompt_tokens INTEGER, response TEXT, extracted TEXT,"
    " score REAL, flags_json TEXT, completion_tokens INTEGER, latency_s REAL, attempts INTEGER, error TEXT,"
    " UNIQUE(run_id, item_id, repeat));"
    "CREATE TABLE capability_scores(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " capability TEXT NOT NULL, n INTEGER NOT NULL, mean REAL, ci_low REAL, ci_high REAL,"
    " PRIMARY KEY(run_id, capability));"
    "INSERT INTO runs VALUES(1,'nightly','{}','abc','tiny.gguf','def','local','cpu','0.0.9',42,1700000000.0,"
    " 1700000100.0,'finished');"
    "INSERT INTO samples(run_id,item_id,repeat,task,subtask,setting,capability,response,extracted,score,error)"
    " VALUES(1,'counting/char/plain/0',0,'counting','char','plain','counting','Answer: 3','3',1.0,NULL),"
    "       (1,'counting/char/plain/1',0,'counting','char','plain','counting','no idea',NULL,0.0,NULL),"
    "       (1,'cross/sr/x/0',0,'cross-capability','sr','x','Spanish&Reasoning','Respuesta: 19','19',1.0,NULL),"
    "       (1,'cross/sr/x/1',0,'cross-capability','sr','x','Spanish&Reasoning',NULL,NULL,NULL,'timeout');"
    "INSERT INTO capability_scores VALUES(1,'counting',2,0.5,0.1,0.9),(1,'Spanish&Reasoning',2,1.0,0.2,1.0);"
    "PRAGMA user_version=1;";

Test(store, migrates_version_1) {
    raw_exec(dbpath, v1_sql);
    cb_store *s = open_ok(CB_STORE_OPEN_EXISTING);
    cr_assert_eq(cb_store_schema_version(s), CB_STORE_SCHEMA_VERSION);
    cb_err err = {0};
    cb_run_info info;
    cr_assert_eq(cb_store_run_get(s, 1, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.n_params, 0); /* unknown for runs made before schema 4 */
    cr_assert_str_eq(info.suite, "nightly");
    cr_assert_str_eq(info.capbench_version, "0.0.9");
    cr_assert_eq(info.status, CB_RUN_FINISHED);
    cr_assert_eq(info.seed, 42);
    cr_assert_eq(info.model_bytes, 0);
    cr_assert_str_eq(info.base_url, "");
    cr_assert_float_eq(info.finished_at, 1700000100.0, 1e-6);
    cb_run_info_clear(&info);

    cb_stat_set set;
    cr_assert_eq(cb_store_sample_stats(s, 1, &set, &err), 0, "%s", err.msg);
    cr_assert_eq(set.n, 4);
    cr_assert_str_eq(set.rows[0].cap[0], "counting");
    cr_assert_null(set.rows[0].cap[1]);
    cr_assert_eq(set.rows[0].unparsed, 0);
    cr_assert_eq(set.rows[1].unparsed, 1); /* response but no extracted answer */
    cr_assert_str_eq(set.rows[2].cap[0], "Spanish&Reasoning");
    cr_assert_null(set.rows[2].cap[1]);
    cr_assert_eq(set.rows[3].unparsed, 0); /* a failed request is not "unparsed" */
    cr_assert_eq(set.rows[3].failed, 1);
    cr_assert(isnan(set.rows[3].score));
    cb_stat_set_clear(&set);

    cb_capability_score *cs = NULL;
    size_t n = 0;
    cr_assert_eq(cb_store_capability_scores(s, 1, &cs, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(cs[0].capability, "Spanish&Reasoning");
    cr_assert_str_eq(cs[1].capability, "counting");
    cr_assert_eq(cs[1].n, 2);
    cr_assert_eq(cs[1].n_scored, 2);
    cr_assert_float_eq(cs[1].ci_low, 0.1, 1e-12);
    free(cs);

    /* the migrated file takes v2 samples and stays migrated */
    cb_sample m = mk_sample(1, 77, 0, 1.0);
    m.cap[1] = "second";
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0, "%s", err.msg);
    cb_store_close(s);
    s = open_ok(CB_STORE_OPEN_EXISTING);
    cr_assert_eq(count(s, 1), 5);
    cb_store_close(s);

    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), CB_STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store, refuses_newer_schema) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    new_run(s);
    cb_store_close(s);
    raw_exec(dbpath, "PRAGMA user_version=5");
    cb_err err = {0};
    s = NULL;
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), CB_EUNSUP);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "schema version 5") && strstr(err.msg, "newer"), "%s", err.msg);
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_CREATE, &s, &err), CB_EUNSUP);
}

Test(store, refuses_foreign_files) {
    cb_err err = {0};
    cb_store *s = NULL;
    char other[400], text[400];
    snprintf(other, sizeof other, "%s/other.db", dir);
    raw_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    cr_assert_eq(cb_store_open(other, CB_STORE_OPEN_CREATE, &s, &err), CB_EFORMAT);
    cr_assert(strstr(err.msg, "not a capbench results database"), "%s", err.msg);
    /* untouched: still not in WAL mode, still one table */
    raw_exec(other, "SELECT x FROM t");
    /* an SQLite file with another application id and a version */
    raw_exec(other, "PRAGMA user_version=2; PRAGMA application_id=7;");
    cr_assert_eq(cb_store_open(other, CB_STORE_OPEN_EXISTING, &s, &err), CB_EFORMAT);

    snprintf(text, sizeof text, "%s/text.db", dir);
    FILE *f = fopen(text, "w");
    cr_assert_not_null(f);
    fputs("this is a text file, long enough to have a header of some sort........................\n", f);
    fputs("and another line of it to go past a hundred bytes or so for good measure..............\n", f);
    fclose(f);
    cr_assert_eq(cb_store_open(text, CB_STORE_OPEN_EXISTING, &s, &err), CB_EFORMAT);
    cr_assert(strstr(err.msg, "not an SQLite database"), "%s", err.msg);
    cr_assert_null(s);
}

Test(store, missing_file_is_not_created_for_existing_mode) {
    cb_err err = {0};
    cb_store *s = NULL;
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "no such results database"), "%s", err.msg);
    struct stat sb;
    cr_assert_neq(stat(dbpath, &sb), 0);
    /* an empty file is not a results database either (report must not create a schema) */
    FILE *f = fopen(dbpath, "w");
    fclose(f);
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), CB_EFORMAT);
    cr_assert_eq(stat(dbpath, &sb), 0);
    cr_assert_eq(sb.st_size, 0);
    /* ... but CREATE mode takes it */
    s = open_ok(CB_STORE_OPEN_CREATE);
    cb_store_close(s);
}

Test(store, capability_scores) {
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    cr_assert_eq(cb_store_begin(s, &err), 0);
    for (int i = 0; i < 10; i++) { /* counting: 8 of 10 right, two labels each */
        cb_sample m = mk_sample(run, i, 0, i < 8 ? 1.0 : 0.0);
        m.cap[1] = "char_counting";
        m.unparsed = i == 9;
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    }
    const double xs[] = {0.2, 0.5, 0.9, 1.0};
    for (int i = 0; i < 4; i++) { /* a cross capability with continuous scores */
        cb_sample m = mk_sample(run, 100 + i, 0, xs[i]);
        m.task = "cross-capability";
        m.cap[0] = "Spanish&Reasoning";
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0);
    }
    cr_assert_eq(cb_store_compute_capability_scores(s, run, &err), CB_ERUNTIME); /* inside a transaction */
    cr_assert_eq(cb_store_commit(s, &err), 0);
    cr_assert_eq(cb_store_compute_capability_scores(s, run, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_compute_capability_scores(s, run, &err), 0, "%s", err.msg); /* replaces */
    cb_capability_score *cs = NULL;
    size_t n = 0;
    cr_assert_eq(cb_store_capability_scores(s, run, &cs, &n, &err), 0, "%s", err.msg);
    /* every label has its all-settings row first, then one row per setting
     * (all samples here share one setting, so the two rows agree) */
    cr_assert_eq(n, 6);
    for (size_t i = 0; i < n; i += 2) {
        cr_assert_str_eq(cs[i].setting, "all");
        cr_assert_str_eq(cs[i + 1].capability, cs[i].capability);
        cr_assert_str_neq(cs[i + 1].setting, "all");
        cr_assert_eq(cs[i + 1].n, cs[i].n);
        cr_assert_float_eq(cs[i + 1].mean, cs[i].mean, 1e-12);
    }
    for (size_t i = 1; i < 3; i++) cs[i] = cs[2 * i]; /* keep the all-settings rows for the checks below */
    cr_assert_str_eq(cs[0].capability, "Spanish&Reasoning");
    cr_assert_str_eq(cs[0].ci_method, "normal");
    cr_assert_float_eq(cs[0].mean, 0.65, 1e-9);
    cr_assert_float_eq(cs[0].se, 0.1848422751, 1e-8);
    cr_assert_float_eq(cs[0].ci_low, 0.2877157951, 1e-8);
    /* byte order: "Spanish&Reasoning" < "char_counting" < "counting"; both
     * counting labels carry the same ten samples */
    for (int i = 1; i <= 2; i++) {
        cr_assert_str_eq(cs[i].capability, i == 1 ? "char_counting" : "counting");
        cr_assert_str_eq(cs[i].ci_method, "wilson");
        cr_assert_eq(cs[i].n, 10);
        cr_assert_float_eq(cs[i].mean, 0.8, 1e-9);
        cr_assert_float_eq(cs[i].ci_low, 0.490162, 1e-6);
        cr_assert_float_eq(cs[i].ci_high, 0.943318, 1e-6);
        cr_assert_float_eq(cs[i].unparsed_rate, 0.1, 1e-9);
    }
    free(cs);
    cb_store_close(s);
}

Test(store, insert_rate) {
    /* The harness target is 20,000 samples/s through generate -> grade ->
     * store on 2 cores, so the store alone must be much faster. Printed, not
     * asserted: the machine is shared. */
    cb_store *s = open_ok(CB_STORE_OPEN_CREATE);
    int64_t run = new_run(s);
    cb_err err = {0};
    enum { N = 40000, BATCH = 500 };
    static char ids[BATCH][64];
    cb_sample batch[BATCH];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            batch[i] = mk_sample(run, 0, 0, (i & 1) ? 1.0 : 0.0);
            snprintf(ids[i], sizeof ids[i], "counting/char/plain/%d", b * BATCH + i);
            batch[i].item_id = ids[i];
            batch[i].prompt = "Count the letter r in the word strawberry. Think step by step and end with Answer: N";
            batch[i].response = "The word strawberry has s-t-r-a-w-b-e-r-r-y: r appears three times. Answer: 3";
        }
        size_t ins = 0;
        cr_assert_eq(cb_store_add_samples(s, batch, BATCH, &ins, &err), 0, "%s", err.msg);
        cr_assert_eq(ins, BATCH);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    cr_assert_eq(count(s, run), N);
    cr_log_info("store: %d samples in %.3f s = %.0f inserts/s (batches of %d, WAL, synchronous=FULL)", N, dt,
                N / dt, BATCH);
    fprintf(stderr, "store insert rate: %.0f samples/s (%d in %.3f s, batches of %d)\n", N / dt, N, dt, BATCH);
    cb_store_close(s);
}
