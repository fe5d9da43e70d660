/* results/export.c — a stored run as JSONL, CSV or lm-evaluation-harness
 * results JSON (layouts in export.h). Samples stream through
 * cb_store_foreach_sample one page at a time, so a large run is never held in
 * memory; the lm-eval summary reuses the report's groups (results/report.h),
 * so its numbers are the numbers `capbench report` prints.
 */
#include "results/export.h"

#include "results/report.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cb_export_format_parse(const char *name, cb_export_format *out, cb_err *err) {
    static const char *const names[] = {"jsonl", "csv", "lm-eval"};
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (cb_export_format)i;
            return 0;
        }
    return cb_err_set(err, CB_EUSAGE, "unknown export format '%s' (expected jsonl, csv or lm-eval)", name ? name : "");
}

typedef struct {
    FILE *f;
    cb_export_format fmt;
} exp_ctx;

static void add_str(cJSON *o, const char *k, const char *v) {
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* Embeds a JSON text as a value; text that does not parse stays a string. */
static void add_json(cJSON *o, const char *k, const char *v) {
    cJSON *j = v ? cJSON_Parse(v) : NULL;
    if (j)
        cJSON_AddItemToObject(o, k, j);
    else
        add_str(o, k, v);
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static int jsonl_one(exp_ctx *c, const cb_sample *m, cb_err *err) {
    cJSON *o = cJSON_CreateObject();
    char seed[24];
    if (!o) return cb_err_set(err, CB_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "run_id", (double)m->run_id);
    add_str(o, "item_id", m->item_id);
    cJSON_AddNumberToObject(o, "repeat", m->repeat);
    add_str(o, "family", m->family);
    add_str(o, "task", m->task);
    add_str(o, "subtask", m->subtask);
    add_str(o, "setting", m->setting);
    add_str(o, "cap1", m->cap[0]);
    add_str(o, "cap2", m->cap[1]);
    add_str(o, "item_hash", m->item_hash);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->item_seed);
    cJSON_AddStringToObject(o, "item_seed", seed);
    add_str(o, "gold", m->gold);
    add_json(o, "item", m->item_json);
    add_str(o, "prompt", m->prompt);
    cJSON_AddNumberToObject(o, "prompt_tokens", m->prompt_tokens);
    add_str(o, "response", m->response);
    add_str(o, "extracted", m->extracted);
    add_num(o, "score", m->score);
    cJSON_AddBoolToObject(o, "unparsed", m->unparsed);
    add_json(o, "flags", m->flags_json);
    add_json(o, "metrics", m->metrics_json);
    add_str(o, "grader_version", m->grader_version);
    cJSON_AddNumberToObject(o, "completion_tokens", m->completion_tokens);
    add_num(o, "latency_s", m->latency_s);
    cJSON_AddNumberToObject(o, "attempts", m->attempts);
    add_str(o, "error", m->error);
    add_json(o, "responses", m->responses_json);
    if (m->span_start >= 0) {
        cJSON_AddNumberToObject(o, "span_start", (double)m->span_start);
        cJSON_AddNumberToObject(o, "span_end", (double)m->span_end);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return cb_err_set(err, CB_ENOMEM, "out of memory");
    fputs(txt, c->f);
    fputc('\n', c->f);
    free(txt);
    return 0;
}

void cb_csv_field(FILE *f, const char *s) {
    if (s && strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"') fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else if (s) {
        fputs(s, f);
    }
}

static int csv_one(exp_ctx *c, const cb_sample *m) {
    FILE *f = c->f;
    fprintf(f, "%lld,", (long long)m->run_id);
    const char *a[] = {m->item_id, NULL, m->family, m->task, m->subtask, m->setting, m->cap[0], m->cap[1],
                       m->item_hash};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        if (i == 1)
            fprintf(f, "%d", m->repeat);
        else
            cb_csv_field(f, a[i]);
        fputc(',', f);
    }
    fprintf(f, "%llu,", (unsigned long long)m->item_seed);
    cb_csv_field(f, m->gold);
    fputc(',', f);
    cb_csv_field(f, m->extracted);
    fputc(',', f);
    if (isfinite(m->score)) fprintf(f, "%.17g", m->score);
    fprintf(f, ",%d,", m->unparsed);
    cb_csv_field(f, m->error);
    fprintf(f, ",%d,%d,", m->prompt_tokens, m->completion_tokens);
    if (isfinite(m->latency_s)) fprintf(f, "%.6f", m->latency_s);
    fprintf(f, ",%d,", m->attempts);
    cb_csv_field(f, m->prompt);
    fputc(',', f);
    cb_csv_field(f, m->response);
    fputc('\n', f);
    return 0;
}

static int export_one(void *ud, const cb_sample *m, cb_err *err) {
    exp_ctx *c = ud;
    int rc = c->fmt == CB_EXPORT_JSONL ? jsonl_one(c, m, err) : csv_one(c, m);
    if (!rc && ferror(c->f)) rc = cb_err_set(err, CB_EIO, "writing the export: %s", strerror(errno));
    return rc;
}

/* family_subtask_setting with characters outside [A-Za-z0-9_] as '_'. */
static void task_name(const cb_group *g, char *buf, size_t cap) {
    snprintf(buf, cap, "%s_%s_%s", g->task, g->subtask, g->setting);
    for (char *p = buf; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) *p = '_';
}

static void metric_block(cJSON *o, const cb_group *g, const char *alias) {
    const char *metric = g->sum.ci_method == CB_CI_WILSON ? "acc" : "score";
    char k[64];
    cJSON_AddStringToObject(o, "alias", alias);
    snprintf(k, sizeof k, "%s,none", metric);
    add_num(o, k, g->sum.mean);
    snprintf(k, sizeof k, "%s_stderr,none", metric);
    add_num(o, k, g->sum.se);
}

static int write_lmeval(cb_store *s, int64_t run_id, FILE *f, cb_err *err) {
    cb_report *r = NULL;
    int rc = cb_report_build(s, run_id, NULL, &r, err);
    if (rc) return rc;
    cJSON *root = cJSON_CreateObject();
    cJSON *res = cJSON_AddObjectToObject(root, "results"), *groups = cJSON_AddObjectToObject(root, "groups");
    cJSON *cfgs = cJSON_AddObjectToObject(root, "configs");
    cJSON *vers = cJSON_AddObjectToObject(root, "versions"), *nshot = cJSON_AddObjectToObject(root, "n-shot");
    cJSON *hib = cJSON_AddObjectToObject(root, "higher_is_better"), *ns = cJSON_AddObjectToObject(root, "n-samples");
    char name[512], seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->run.seed);
    for (size_t i = 0; i < r->n_settings; i++) {
        const cb_group *g = &r->settings[i];
        task_name(g, name, sizeof name);
        cJSON *t = cJSON_AddObjectToObject(res, name);
        metric_block(t, g, name);
        cJSON *c = cJSON_AddObjectToObject(cfgs, name);
        cJSON_AddStringToObject(c, "task", name);
        cJSON *tag = cJSON_AddArrayToObject(c, "tag");
        cJSON_AddItemToArray(tag, cJSON_CreateString(g->task));
        cJSON_AddStringToObject(c, "output_type", "generate_until");
        cJSON *ml = cJSON_AddArrayToObject(c, "metric_list"), *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "metric", g->sum.ci_method == CB_CI_WILSON ? "acc" : "score");
        cJSON_AddStringToObject(m, "aggregation", "mean");
        cJSON_AddBoolToObject(m, "higher_is_better", 1);
        cJSON_AddItemToArray(ml, m);
        cJSON *md = cJSON_AddObjectToObject(c, "metadata");
        cJSON_AddStringToObject(md, "family", g->task);
        cJSON_AddStringToObject(md, "subtask", g->subtask);
        cJSON_AddStringToObject(md, "setting", g->setting);
        cJSON_AddStringToObject(md, "seed", seed);
        cJSON_AddStringToObject(vers, name, r->run.capbench_version);
        cJSON_AddNumberToObject(nshot, name, 0);
        cJSON *h = cJSON_AddObjectToObject(hib, name);
        cJSON_AddBoolToObject(h, g->sum.ci_method == CB_CI_WILSON ? "acc" : "score", 1);
        cJSON *n = cJSON_AddObjectToObject(ns, name);
        cJSON_AddNumberToObject(n, "original", (double)g->sum.n);
        cJSON_AddNumberToObject(n, "effective", (double)g->sum.n_scored);
    }
    for (size_t i = 0; i < r->n_capabilities; i++) {
        const cb_group *g = &r->capabilities[i];
        snprintf(name, sizeof name, "capability_%s", g->capability);
        metric_block(cJSON_AddObjectToObject(groups, name), g, name);
    }
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddStringToObject(cfg, "model", r->run.backend);
    snprintf(name, sizeof name, "model=%s", r->run.model_id);
    cJSON_AddStringToObject(cfg, "model_args", name);
    cJSON_AddStringToObject(cfg, "device", r->run.device);
    if (r->run.limit_n > 0)
        cJSON_AddNumberToObject(cfg, "limit", (double)r->run.limit_n);
    else
        cJSON_AddNullToObject(cfg, "limit");
    cJSON_AddStringToObject(cfg, "random_seed", seed);
    cJSON_AddStringToObject(root, "model_name", r->run.model_id);
    char date[32] = "";
    time_t tt = (time_t)r->run.started_at;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "date", date);
    cJSON *cb = cJSON_AddObjectToObject(root, "capbench");
    cJSON_AddNumberToObject(cb, "run_id", (double)r->run.id);
    cJSON_AddStringToObject(cb, "suite", r->run.suite);
    cJSON_AddStringToObject(cb, "status", cb_run_status_name(r->run.status));
    cJSON_AddStringToObject(cb, "config_sha256", r->run.config_sha256);
    cJSON_AddStringToObject(cb, "model_sha256", r->run.model_sha256);
    cJSON_AddStringToObject(cb, "shard", r->run.shard);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    cb_report_free(r);
    if (!txt) return cb_err_set(err, CB_ENOMEM, "out of memory writing lm-eval JSON");
    fputs(txt, f);
    fputc('\n', f);
    free(txt);
    return 0;
}

int cb_export_run(cb_store *s, int64_t run_id, cb_export_format fmt, FILE *f, cb_err *err) {
    cb_run_info info;
    int rc = cb_store_run_get(s, run_id, &info, err);
    cb_run_info_clear(&info);
    if (rc) return rc;
    if (fmt == CB_EXPORT_LMEVAL) {
        rc = write_lmeval(s, run_id, f, err);
    } else {
        if (fmt == CB_EXPORT_CSV)
            fputs("run_id,item_id,repeat,family,task,subtask,setting,cap1,cap2,item_hash,item_seed,gold,extracted,"
                  "score,unparsed,error,prompt_tokens,completion_tokens,latency_s,attempts,prompt,response\n",
                  f);
        exp_ctx c = {.f = f, .fmt = fmt};
        rc = cb_store_foreach_sample(s, run_id, export_one, &c, err);
    }
    if (!rc && (fflush(f) != 0 || ferror(f))) rc = cb_err_set(err, CB_EIO, "writing the export: %s", strerror(errno));
    return rc;
}
