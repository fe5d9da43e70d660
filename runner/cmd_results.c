/* runner/cmd_results.c — `capbench report` and `capbench regrade`: the two
 * commands that read a results database back.
 *
 * report prints the summary of one run (results/report.h) in the chosen
 * format; it opens the database in OPEN_EXISTING mode, so a mistyped path is
 * an error (exit 2) and never a new empty file. regrade re-applies the current
 * graders (tasks/task.h) to the stored responses of a run without calling any
 * model, rewrites the grade columns and recomputes the capability scores.
 * Regrade has no model, hence no tokenizer: graders report character edit
 * distances where a run with a local model stored token edit distances.
 */
#include "common/err.h"
#include "graders/grader.h"
#include "results/report.h"
#include "results/responses.h"
#include "results/store.h"
#include "runner/commands.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parses a positive run id; 0 on success. */
static int parse_run_id(const char *s, int64_t *out, cb_err *err) {
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v <= 0)
        return cb_err_set(err, CB_EUSAGE, "bad run id '%s' (expected a positive integer)", s ? s : "");
    *out = v;
    return 0;
}

/* Whether capbench may write the database file and its folder (WAL and -shm
 * files live beside it). A missing file counts as writable, so that opening
 * it reports "no such results database". */
static int db_writable(const char *path) {
    if (access(path, F_OK) != 0) return 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return access(path, W_OK) == 0 && access(dir, W_OK) == 0;
}

static void report_usage(FILE *f) {
    fputs("usage: capbench report [--db FILE] [--run ID] [--format table|md|csv|json] [--by KEY]\n"
          "\n"
          "Scores of one stored run per task/subtask/setting and per capability: n answered,\n"
          "accuracy with its 95% CI (Wilson for 0/1 scores, normal otherwise), the majority\n"
          "baseline (and 0.5 for Yes/No) with ~ where the CI includes it, unparsed and\n"
          "format-violation rates, failed requests apart, soft accuracy, MAE, signed error,\n"
          "off-by-one, q_gold, expected error, Brier, tokens, latency; and the run header.\n"
          "  --db FILE      results database (default " CB_STORE_DEFAULT_PATH "); a read-only file is read\n"
          "                 read-only\n"
          "  --run ID       run id (default: the latest run)\n"
          "  --format F     table (default), md, csv or json\n"
          "  --by KEY       also break every subtask x setting down by length (word length bin),\n"
          "                 gold, distinct (distinct characters), source (word source) or any\n"
          "                 other key of the items' meta\n",
          f);
}

int cb_cmd_report(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH;
    int64_t run_id = 0;
    cb_report_format fmt = CB_REPORT_TABLE;
    const char *by = NULL;
    cb_store *st = NULL;
    cb_report *rep = NULL;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            report_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc || (strcmp(a, "--db") && strcmp(a, "--run") && strcmp(a, "--format") && strcmp(a, "--by"))) {
            if (strcmp(a, "--db") == 0 || strcmp(a, "--run") == 0 || strcmp(a, "--format") == 0 ||
                strcmp(a, "--by") == 0)
                rc = cb_err_set(&err, CB_EUSAGE, "%s needs a value", a);
            else
                rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench report --help)", a);
            goto out;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--db") == 0)
            db = v;
        else if (strcmp(a, "--by") == 0)
            by = v;
        else if (strcmp(a, "--run") == 0)
            rc = parse_run_id(v, &run_id, &err);
        else
            rc = cb_report_format_parse(v, &fmt, &err);
        if (rc) goto out;
    }
    if ((rc = cb_store_open(db, db_writable(db) ? CB_STORE_OPEN_EXISTING : CB_STORE_OPEN_READONLY, &st, &err)))
        goto out;
    if (run_id == 0 && (rc = cb_store_run_latest(st, &run_id, &err))) goto out;
    if ((rc = cb_report_build(st, run_id, by, &rep, &err))) goto out;
    rc = cb_report_write(rep, fmt, stdout, &err);
out:
    cb_report_free(rep);
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench report: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- regrade -------------------------------------------------------------- */

typedef struct {
    cb_store *st;
    cb_grader_ctx *g;
    int64_t n_regraded, n_changed, n_failed_kept, n_fallback, n_bad, n_in_tx;
    int dry_run;   /* grade and count, write nothing (--dry-run or a read-only database) */
} regrade_ctx;

#define REGRADE_BATCH 512

/* Rebuilds the grader's input for a sample stored without responses_json
 * (an older scheduler): the GENERATE requests get the stored response text
 * (a JSON array of texts when the item has several), log-likelihood requests
 * count as skipped. OUT *tree holds parsed texts (caller deletes). */
static void fallback_responses(const cb_item *it, const cb_sample *m, cb_task_resp *r, cJSON **tree) {
    int n_gen = 0;
    for (int k = 0; k < it->n_reqs; k++) n_gen += it->reqs[k].kind == CB_TREQ_GENERATE;
    int truncated = m->flags_json && strstr(m->flags_json, "\"truncated\"") != NULL;
    cJSON *arr = NULL;
    if (n_gen > 1 && m->response) {
        arr = cJSON_Parse(m->response);
        if (arr && !cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    const cJSON *next = arr ? arr->child : NULL;
    int first = 1;
    for (int k = 0; k < it->n_reqs; k++) {
        memset(&r[k], 0, sizeof r[k]);
        if (it->reqs[k].kind != CB_TREQ_GENERATE) continue;
        if (arr) {
            if (next && cJSON_IsString(next)) {
                r[k].ok = 1;
                r[k].text = next->valuestring;
                next = next->next;
            }
        } else if (first && m->response) {
            r[k].ok = 1;
            r[k].text = m->response;
            r[k].truncated = truncated;
        }
        first = 0;
    }
    *tree = arr;
}

/* Samples stored since schema 3 keep each model generation's text once, in
 * the `response` column (a JSON array of texts when there are several); their
 * responses_json entries say "text_ref". Puts the texts back in order. OUT
 * *tree holds parsed texts (caller deletes). */
static void fill_texts(const cb_sample *m, cb_task_resp *r, int n, cJSON **tree) {
    int n_ref = 0;
    *tree = NULL;
    for (int k = 0; k < n; k++) n_ref += r[k].text_ref && !r[k].text;
    if (!n_ref || !m->response) return;
    if (n_ref == 1) {
        for (int k = 0; k < n; k++)
            if (r[k].text_ref && !r[k].text) r[k].text = m->response;
        return;
    }
    cJSON *arr = cJSON_Parse(m->response);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return;
    }
    const cJSON *next = arr->child;
    for (int k = 0; k < n && next; k++) {
        if (!r[k].text_ref || r[k].text) continue;
        if (cJSON_IsString(next)) r[k].text = next->valuestring;
        next = next->next;
    }
    *tree = arr;
}

static int same_score(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static int regrade_one(void *ud, const cb_sample *m, cb_err *err) {
    regrade_ctx *c = ud;
    int rc = 0;
    cJSON *j = NULL, *fb_tree = NULL;
    cb_item *it = NULL;
    cb_resp_list list = {0};
    cb_task_resp *fb = NULL;
    char *flags = NULL, *metrics = NULL;
    cb_err e = {0};
    if (m->error) { /* a failed request has nothing to grade */
        c->n_failed_kept++;
        return 0;
    }
    j = m->item_json ? cJSON_Parse(m->item_json) : NULL;
    if (!j) {
        cb_err_set(&e, CB_EFORMAT, "item_json is missing or not JSON");
        goto bad;
    }
    if (cb_item_from_json(j, "item_json", &it, &e)) goto bad;
    const cb_task_resp *resps;
    if (m->responses_json) {
        if (cb_responses_from_json(m->responses_json, &list, &e)) goto bad;
        fill_texts(m, list.r, list.n, &fb_tree);
        /* multi-round items: replay the family's rounds over the stored
         * responses (a pure function of them), which rebuilds every later
         * request (judge requests included) without calling any model */
        for (int round = 0; list.n > it->n_reqs; round++) {
            int added = 0;
            if (cb_item_next_round(it, list.r, it->n_reqs, round, m->judge_id != NULL, &added, &e)) goto bad;
            if (!added) break;
        }
        if (list.n != it->n_reqs) {
            cb_err_set(&e, CB_EFORMAT, "responses_json has %d responses, the item needs %d", list.n, it->n_reqs);
            goto bad;
        }
        resps = list.r;
    } else {
        fb = calloc((size_t)(it->n_reqs ? it->n_reqs : 1), sizeof *fb);
        if (!fb) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
        fallback_responses(it, m, fb, &fb_tree);
        resps = fb;
        c->n_fallback++;
    }
    cb_grade gr;
    cb_grade_init(&gr);
    if (cb_item_grade(c->g, it, resps, it->n_reqs, &gr, &e)) goto bad;
    flags = cb_grade_flags_json(&gr);
    metrics = cb_grade_metrics_json(&gr);
    if (!flags || !metrics) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    cb_sample up = *m;
    up.extracted = gr.unparsed ? NULL : gr.extracted;
    up.score = gr.score;
    up.unparsed = gr.unparsed;
    up.flags_json = flags;
    up.metrics_json = metrics;
    up.grader_version = it->family->grader_version;
    up.span_start = gr.span_start;
    up.span_end = gr.span_end;
    up.grading = gr.grading[0] ? gr.grading : cb_grader_kind_name(it->grader);
    if (!c->dry_run && (rc = cb_store_update_grade(c->st, &up, err))) goto out;
    c->n_regraded++;
    if (!same_score(m->score, up.score) || m->unparsed != up.unparsed) c->n_changed++;
    if (!c->dry_run && ++c->n_in_tx >= REGRADE_BATCH) {
        c->n_in_tx = 0;
        if ((rc = cb_store_commit(c->st, err)) || (rc = cb_store_begin(c->st, err))) goto out;
    }
    goto out;
bad:
    fprintf(stderr, "capbench regrade: sample %s (repeat %d) left as it was: %s\n", m->item_id, m->repeat, e.msg);
    c->n_bad++;
out:
    free(flags);
    free(metrics);
    free(fb);
    cJSON_Delete(fb_tree);
    cb_resp_list_clear(&list);
    cb_item_free(it);
    cJSON_Delete(j);
    return rc;
}

static void regrade_usage(FILE *f) {
    fputs("usage: capbench regrade RUN_ID [--db FILE] [--dry-run]\n"
          "\n"
          "Re-applies the current graders to the stored responses of a run (no model is\n"
          "called): rewrites extracted answer, score, unparsed, flags, metrics and grader\n"
          "version of every sample, then recomputes the run's capability scores. Failed\n"
          "samples (request errors) are left as they are.\n"
          "  --db FILE      results database (default " CB_STORE_DEFAULT_PATH ")\n"
          "  --dry-run      grade and count the changes, write nothing (what a read-only\n"
          "                 database gets, opened read-only)\n",
          f);
}

int cb_cmd_regrade(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *run_arg = NULL;
    int64_t run_id = 0, n_samples = 0;
    cb_store *st = NULL;
    cb_run_info info = {0};
    regrade_ctx c = {0};
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            regrade_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--dry-run") == 0) {
            c.dry_run = 1;
        } else if (strcmp(a, "--db") == 0) {
            if (i + 1 >= argc) {
                rc = cb_err_set(&err, CB_EUSAGE, "--db needs a value");
                goto out;
            }
            db = argv[++i];
        } else if (a[0] == '-' || run_arg) {
            rc = cb_err_set(&err, CB_EUSAGE, "unexpected argument '%s' (see capbench regrade --help)", a);
            goto out;
        } else {
            run_arg = a;
        }
    }
    if (!run_arg) {
        rc = cb_err_set(&err, CB_EUSAGE, "which run? (usage: capbench regrade RUN_ID [--db FILE])");
        goto out;
    }
    if ((rc = parse_run_id(run_arg, &run_id, &err))) goto out;
    if (!c.dry_run && !db_writable(db)) {
        fprintf(stderr, "capbench regrade: %s is read-only: opening it read-only, grading without writing "
                        "(--dry-run)\n", db);
        c.dry_run = 1;
    }
    if ((rc = cb_store_open(db, c.dry_run ? CB_STORE_OPEN_READONLY : CB_STORE_OPEN_EXISTING, &st, &err))) goto out;
    if ((rc = cb_store_run_get(st, run_id, &info, &err))) goto out;
    if (info.status == CB_RUN_RUNNING)
        fprintf(stderr, "capbench regrade: warning: run %lld is marked running; samples a live run adds later "
                        "are graded by that run\n", (long long)run_id);
    if ((rc = cb_store_count_samples(st, run_id, &n_samples, &err))) goto out;
    if ((rc = cb_grader_ctx_new(&c.g, &err))) goto out;
    c.st = st;
    if (!c.dry_run && (rc = cb_store_begin(st, &err))) goto out;
    rc = cb_store_foreach_sample(st, run_id, regrade_one, &c, &err);
    if (rc) {
        cb_store_rollback(st); /* the current batch only; earlier batches hold correct new grades */
        goto out;
    }
    if (!c.dry_run && (rc = cb_store_commit(st, &err))) goto out;
    if (!c.dry_run && (rc = cb_store_compute_capability_scores(st, run_id, &err))) goto out;
    printf("run %lld: %s %lld of %lld samples, %lld scores %s", (long long)run_id,
           c.dry_run ? "graded (dry run, nothing written)" : "regraded", (long long)c.n_regraded,
           (long long)n_samples, (long long)c.n_changed, c.dry_run ? "would change" : "changed");
    if (c.n_failed_kept) printf(", %lld failed samples left as they were", (long long)c.n_failed_kept);
    if (c.n_fallback)
        printf(", %lld without stored responses_json (graded from the response text, no log-likelihoods)",
               (long long)c.n_fallback);
    printf("\n");
    if (c.n_bad) rc = cb_err_set(&err, CB_EFORMAT, "%lld samples could not be regraded (see above)", (long long)c.n_bad);
out:
    cb_store_rollback(st);
    cb_grader_ctx_free(c.g);
    cb_run_info_clear(&info);
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench regrade: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}
