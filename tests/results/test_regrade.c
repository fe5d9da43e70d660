/* tests/results/test_regrade.c — `capbench regrade` through the built binary
 * (CAPBENCH_BIN) on a results file holding real counting items (tasks/) with
 * deliberately stale grades: afterwards every sample carries exactly the
 * grade that cb_item_grade gives for its stored responses (from
 * responses_json, from the plain response text for samples stored without
 * it, and for self-consistency items from the stored JSON array), failed
 * samples are untouched, capability scores are recomputed, and bad input
 * (missing database, unknown run, a corrupt item) exits with status 2. */
#include "results/responses.h"
#include "tests/util/cbtest.h"
#include "results/store.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static char dbpath[300];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_regrade_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/results.db", dir);
}

static void rm_tmp(void) {
    char p[400];
    const char *files[] = {"results.db", "results.db-wal", "results.db-shm", "out.txt", "err.txt"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(regrade, .init = mk_tmp, .fini = rm_tmp);

/* Runs `capbench args...` with stdout/stderr into files in dir; returns the exit status. */
static int run_bin(char *const args[], char **out_text, char **err_text) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    int rc = cbt_run_bin(bin, dir, args, out_text, err_text);
    cr_assert_geq(rc, 0, "capbench could not be run or was killed by a signal");
    return rc;
}

/* The expected grade of each stored sample, by item id. */
typedef struct {
    char id[128];
    double score;
    int unparsed;
    char extracted[CB_GRADE_EXTRACTED_CAP];
    char *flags, *metrics;
    char version[64];
    int failed;
} expect;

#define N_ITEMS 8
static expect want[2 * N_ITEMS + 1];
static int n_want;

/* Response text for item k: right, wrong, or without an answer. */
static void answer_for(const cb_item *it, int k, char *buf, size_t cap) {
    if (k % 3 == 0)
        snprintf(buf, cap, "Let me count. Answer: %s", it->gold);
    else if (k % 3 == 1)
        snprintf(buf, cap, "Answer: 987");
    else
        snprintf(buf, cap, "I am not sure about that.");
}

/* Stores the items of `setting` with stale grades. with_json: store
 * responses_json (else only the response text, as an older scheduler did). */
static void store_items(cb_store *s, int64_t run, const char *setting, int with_json, cb_grader_ctx *g) {
    const char *sub[] = {"char_occur"}, *set[] = {setting};
    cb_task_spec *spec = NULL;
    cb_err e = {0};
    cr_assert_eq(cb_task_spec_new("counting", sub, 1, set, 1, N_ITEMS, 5, NULL, "$", &spec, &e), 0, "%s", e.msg);
    for (int k = 0; k < N_ITEMS; k++) {
        cb_item *it = NULL;
        cr_assert_eq(cb_task_spec_item(spec, k, &it, &e), 0, "%s", e.msg);
        char text[256];
        cb_task_resp *resps = calloc((size_t)it->n_reqs, sizeof *resps);
        cr_assert_not_null(resps);
        int n_gen = 0;
        cJSON *texts = cJSON_CreateArray();
        for (int r = 0; r < it->n_reqs; r++) {
            if (it->reqs[r].kind != CB_TREQ_GENERATE) continue; /* log-likelihoods skipped */
            answer_for(it, k + n_gen, text, sizeof text);      /* sc: samples differ */
            cJSON_AddItemToArray(texts, cJSON_CreateString(text));
            cJSON *last = cJSON_GetArrayItem(texts, n_gen);
            resps[r].ok = 1;
            resps[r].text = last->valuestring;
            n_gen++;
        }
        cr_assert_gt(n_gen, 0);
        cb_grade gr;
        cb_grade_init(&gr);
        cr_assert_eq(cb_item_grade(g, it, resps, it->n_reqs, &gr, &e), 0, "%s", e.msg);
        expect *w = &want[n_want++];
        snprintf(w->id, sizeof w->id, "%s", it->id);
        w->score = gr.score;
        w->unparsed = gr.unparsed;
        snprintf(w->extracted, sizeof w->extracted, "%s", gr.unparsed ? "" : gr.extracted);
        w->flags = cb_grade_flags_json(&gr);
        w->metrics = cb_grade_metrics_json(&gr);
        snprintf(w->version, sizeof w->version, "%s", it->family->grader_version);

        char *item_json = cb_item_to_jsonl(it);
        char *rjson = with_json ? cb_responses_to_json(resps, it->n_reqs) : NULL;
        char *multi = n_gen > 1 ? cJSON_PrintUnformatted(texts) : NULL;
        cb_sample m;
        memset(&m, 0, sizeof m);
        m.run_id = run;
        m.item_id = it->id;
        m.task = "counting";
        m.subtask = it->subtask;
        m.setting = it->setting;
        m.cap[0] = it->capabilities[0];
        m.cap[1] = it->n_capabilities > 1 ? it->capabilities[1] : NULL;
        m.item_json = item_json;
        m.response = multi ? multi : resps[0].ok ? resps[0].text : cJSON_GetArrayItem(texts, 0)->valuestring;
        m.responses_json = rjson;
        m.score = 0.5; /* stale */
        m.extracted = "stale";
        m.flags_json = "[\"stale\"]";
        m.metrics_json = "{\"stale\":1}";
        m.grader_version = "counting/0";
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &e), 0, "%s", e.msg);
        free(item_json);
        free(rjson);
        free(multi);
        free(resps);
        cJSON_Delete(texts);
        cb_item_free(it);
    }
    cb_task_spec_free(spec);
}

static const expect *find(const char *id) {
    for (int i = 0; i < n_want; i++)
        if (strcmp(want[i].id, id) == 0) return &want[i];
    return NULL;
}

typedef struct {
    int n, n_failed;
} check_ctx;

static int check_sample(void *ud, const cb_sample *m, cb_err *err) {
    check_ctx *c = ud;
    const expect *w = find(m->item_id);
    cr_assert_not_null(w, "unexpected sample %s", m->item_id);
    if (w->failed) {
        cr_assert_str_eq(m->error, "HTTP 500");
        cr_assert(isnan(m->score));
        cr_assert_str_eq(m->grader_version, "counting/0"); /* untouched */
        c->n_failed++;
        return 0;
    }
    cr_assert_eq(m->score, w->score, "%s: score %g, want %g", m->item_id, m->score, w->score);
    cr_assert_eq(m->unparsed, w->unparsed, "%s", m->item_id);
    if (w->unparsed)
        cr_assert_null(m->extracted, "%s", m->item_id);
    else
        cr_assert_str_eq(m->extracted, w->extracted, "%s", m->item_id);
    cr_assert_str_eq(m->flags_json, w->flags, "%s", m->item_id);
    cr_assert_str_eq(m->metrics_json, w->metrics, "%s", m->item_id);
    cr_assert_str_eq(m->grader_version, w->version);
    c->n++;
    return 0;
}

static int64_t make_db(void) {
    cb_store *s = NULL;
    cb_err e = {0};
    cb_grader_ctx *g = NULL;
    cr_assert_eq(cb_grader_ctx_new(&g, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_CREATE, &s, &e), 0, "%s", e.msg);
    cb_run_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.suite, sizeof info.suite, "smoke");
    snprintf(info.backend, sizeof info.backend, "local");
    int64_t run = 0;
    cr_assert_eq(cb_store_run_create(s, &info, &run, &e), 0, "%s", e.msg);
    n_want = 0;
    store_items(s, run, "direct", 1, g); /* with responses_json */
    store_items(s, run, "sc", 0, g);     /* self-consistency, response text only: the JSON-array fallback */
    /* a failed sample */
    cb_sample f;
    memset(&f, 0, sizeof f);
    f.run_id = run;
    f.item_id = "counting/char_occur/direct/99";
    f.task = "counting";
    f.cap[0] = "char_perception";
    f.item_json = "{}";
    f.score = NAN;
    f.grader_version = "counting/0";
    f.error = "HTTP 500";
    cr_assert_eq(cb_store_add_sample(s, &f, NULL, &e), 0, "%s", e.msg);
    expect *w = &want[n_want++];
    snprintf(w->id, sizeof w->id, "%s", f.item_id);
    w->failed = 1;
    cr_assert_eq(cb_store_compute_capability_scores(s, run, &e), 0, "%s", e.msg);
    cb_store_close(s);
    cb_grader_ctx_free(g);
    return run;
}

static void free_want(void) {
    for (int i = 0; i < n_want; i++) {
        free(want[i].flags);
        free(want[i].metrics);
        want[i].flags = want[i].metrics = NULL;
    }
}

Test(regrade, regrades_every_sample_and_recomputes_scores) {
    int64_t run = make_db();
    char run_s[24];
    snprintf(run_s, sizeof run_s, "%lld", (long long)run);
    char *out = NULL, *err_text = NULL;
    char *args[] = {"regrade", run_s, "--db", dbpath, NULL};
    int rc = run_bin(args, &out, &err_text);
    cr_assert_eq(rc, 0, "stdout: %s\nstderr: %s", out, err_text);
    cr_assert(strstr(out, "regraded 16 of 17 samples, 16 scores changed"), "%s", out);
    /* the dataset mixes right, wrong and unparsed answers */
    int n_right = 0, n_wrong = 0, n_unparsed = 0;
    for (int i = 0; i < n_want; i++) {
        if (want[i].failed) continue;
        n_right += want[i].score == 1.0;
        n_wrong += want[i].score == 0.0 && !want[i].unparsed;
        n_unparsed += want[i].unparsed;
    }
    cr_assert(n_right > 0 && n_wrong > 0 && n_unparsed > 0, "%d %d %d", n_right, n_wrong, n_unparsed);
    cr_assert(strstr(out, "1 failed samples left as they were"), "%s", out);
    cr_assert(strstr(out, "8 without stored responses_json"), "%s", out);

    cb_store *s = NULL;
    cb_err e = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &e), 0, "%s", e.msg);
    check_ctx c = {0};
    cr_assert_eq(cb_store_foreach_sample(s, run, check_sample, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(c.n, 16);
    cr_assert_eq(c.n_failed, 1);

    /* capability scores now match the new grades */
    double sum = 0;
    int n_scored = 0;
    for (int i = 0; i < n_want; i++)
        if (!want[i].failed) {
            sum += want[i].score;
            n_scored++;
        }
    cb_capability_score *cs = NULL;
    size_t n = 0;
    cr_assert_eq(cb_store_capability_scores(s, run, &cs, &n, &e), 0, "%s", e.msg);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(cs[i].capability, "char_perception") == 0 && strcmp(cs[i].setting, "all") == 0) {
            seen = 1;
            cr_assert_eq(cs[i].n, 17, "setting %s: n %lld", cs[i].setting, (long long)cs[i].n);
            cr_assert_eq(cs[i].n_scored, n_scored);
            cr_assert_float_eq(cs[i].mean, sum / n_scored, 1e-12);
        }
    cr_assert(seen);
    free(cs);
    cb_store_close(s);

    /* regrading again changes nothing */
    free(out);
    free(err_text);
    cr_assert_eq(run_bin(args, &out, &err_text), 0, "%s", err_text);
    cr_assert(strstr(out, "0 scores changed"), "%s", out);
    free(out);
    free(err_text);
    free_want();
}

Test(regrade, bad_input_exits_2) {
    char *err_text = NULL;
    char missing[400];
    snprintf(missing, sizeof missing, "%s/out.txt.db", dir);
    char *a1[] = {"regrade", "1", "--db", missing, NULL};
    cr_assert_eq(run_bin(a1, NULL, &err_text), 2);
    cr_assert(strstr(err_text, "no such results database"), "%s", err_text);
    free(err_text);
    struct stat sb;
    cr_assert_neq(stat(missing, &sb), 0);

    int64_t run = make_db();
    char *a2[] = {"regrade", "42", "--db", dbpath, NULL};
    cr_assert_eq(run_bin(a2, NULL, &err_text), 2);
    cr_assert(strstr(err_text, "no run 42"), "%s", err_text);
    free(err_text);
    char *a3[] = {"regrade", "--db", dbpath, NULL};
    cr_assert_eq(run_bin(a3, NULL, NULL), 2);
    char *a4[] = {"regrade", "abc", "--db", dbpath, NULL};
    cr_assert_eq(run_bin(a4, NULL, NULL), 2);

    /* a corrupt item is reported and left alone; the others are regraded */
    cb_store *s = NULL;
    cb_err e = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &e), 0, "%s", e.msg);
    cb_sample m;
    memset(&m, 0, sizeof m);
    m.run_id = run;
    m.item_id = "counting/char_occur/direct/500";
    m.task = "counting";
    m.item_json = "{\"id\": 3";
    m.response = "Answer: 3";
    m.score = 0.5;
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &e), 0, "%s", e.msg);
    cb_store_close(s);
    char run_s[24], *out = NULL;
    snprintf(run_s, sizeof run_s, "%lld", (long long)run);
    char *a5[] = {"regrade", run_s, "--db", dbpath, NULL};
    int rc5 = run_bin(a5, &out, &err_text);
    cr_assert_eq(rc5, 2, "exit %d: %s", rc5, err_text);
    cr_assert(strstr(err_text, "counting/char_occur/direct/500"), "%s", err_text);
    cr_assert(strstr(err_text, "1 samples could not be regraded"), "%s", err_text);
    cr_assert(strstr(out, "regraded 16 of 18 samples"), "%s", out);
    free(out);
    free(err_text);
    free_want();
}
