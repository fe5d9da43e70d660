/* results/report.c — builds the summary of a stored run (see report.h) and
 * prints it as an aligned terminal table, Markdown, CSV or JSON.
 *
 * Building reads the run row and the per-sample numbers from the store and
 * groups them with results/aggregate.c; writing formats what was built. No
 * statistics are computed while printing, and nothing is written to the
 * database.
 */
#include "results/report.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cb_report_format_parse(const char *name, cb_report_format *out, cb_err *err) {
    static const char *const names[] = {"table", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (cb_report_format)i;
            return 0;
        }
    return cb_err_set(err, CB_EUSAGE, "--format: unknown format '%s' (expected table, md, csv or json)",
                      name ? name : "");
}

void cb_report_free(cb_report *r) {
    if (!r) return;
    cb_run_info_clear(&r->run);
    free(r->settings);
    free(r->capabilities);
    free(r);
}

int cb_report_build(cb_store *s, int64_t run_id, cb_report **out, cb_err *err) {
    int rc = 0;
    cb_stat_set set = {0};
    cb_group *all = NULL;
    size_t n_all = 0;
    cb_report *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) return cb_err_set(err, CB_ENOMEM, "report: out of memory");
    if ((rc = cb_store_run_get(s, run_id, &r->run, err))) goto out;
    r->wall_s = r->run.finished_at > 0 ? r->run.finished_at - r->run.started_at : NAN;
    if ((rc = cb_store_sample_stats(s, run_id, &set, err))) goto out;
    if ((rc = cb_aggregate(&set, CB_GROUP_ALL, &all, &n_all, err))) goto out;
    r->overall = all[0];
    if ((rc = cb_aggregate(&set, CB_GROUP_SETTING, &r->settings, &r->n_settings, err))) goto out;
    if ((rc = cb_aggregate(&set, CB_GROUP_CAPABILITY, &r->capabilities, &r->n_capabilities, err))) goto out;
    *out = r;
    r = NULL;
out:
    free(all);
    cb_stat_set_clear(&set);
    cb_report_free(r);
    return rc;
}

/* ---- formatting helpers -------------------------------------------------- */

/* ISO 8601 UTC of unix seconds, or "" for 0. */
static void iso_time(double t, char *buf, size_t cap) {
    buf[0] = 0;
    if (!(t > 0)) return;
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Fixed-point number or "-" when undefined. */
static void fnum(char *buf, size_t cap, double v, int prec) {
    if (isfinite(v))
        snprintf(buf, cap, "%.*f", prec, v);
    else
        snprintf(buf, cap, "-");
}

static void fpct(char *buf, size_t cap, double v) {
    if (isfinite(v))
        snprintf(buf, cap, "%.1f%%", 100.0 * v);
    else
        snprintf(buf, cap, "-");
}

static void fci(char *buf, size_t cap, const cb_summary *m) {
    if (isfinite(m->ci_low) && isfinite(m->ci_high))
        snprintf(buf, cap, "[%.3f, %.3f]", m->ci_low, m->ci_high);
    else
        snprintf(buf, cap, "-");
}

static void human_bytes(char *buf, size_t cap, int64_t b) {
    if (b <= 0)
        snprintf(buf, cap, "-");
    else if (b >= (int64_t)1 << 30)
        snprintf(buf, cap, "%.2f GiB", (double)b / (double)(1 << 30));
    else if (b >= 1 << 20)
        snprintf(buf, cap, "%.2f MiB", (double)b / (double)(1 << 20));
    else
        snprintf(buf, cap, "%lld B", (long long)b);
}

/* ---- tables (terminal and Markdown) --------------------------------------- */

#define MAXCOL 12
#define CELL 160

typedef struct {
    int ncol;
    const char *head[MAXCOL];
    int right[MAXCOL];           /* right-align (numbers) */
    char (*cells)[MAXCOL][CELL]; /* nrow rows */
    size_t nrow;
} table;

/* One table per section: the first key columns name the group. */
static int table_fill(table *t, const cb_group *g, size_t n, int by_cap) {
    static const char *const head_set[] = {"task", "subtask", "setting"};
    static const char *const head_num[] = {"n",       "mean",   "95% CI", "method",  "unparsed",
                                           "failed",  "tok in", "tok out", "latency"};
    int nkey = by_cap ? 1 : 3;
    t->ncol = nkey + 9;
    for (int i = 0; i < nkey; i++) {
        t->head[i] = by_cap ? "capability" : head_set[i];
        t->right[i] = 0;
    }
    for (int i = 0; i < 9; i++) {
        t->head[nkey + i] = head_num[i];
        t->right[nkey + i] = i != 2 && i != 3;
    }
    t->nrow = n;
    t->cells = calloc(n ? n : 1, sizeof *t->cells);
    if (!t->cells) return -1;
    for (size_t r = 0; r < n; r++) {
        char(*c)[CELL] = t->cells[r];
        const cb_summary *m = &g[r].sum;
        if (by_cap) {
            snprintf(c[0], CELL, "%s", g[r].capability);
        } else {
            snprintf(c[0], CELL, "%s", g[r].task);
            snprintf(c[1], CELL, "%s", g[r].subtask);
            snprintf(c[2], CELL, "%s", g[r].setting);
        }
        c += nkey;
        snprintf(c[0], CELL, "%lld", (long long)m->n);
        fnum(c[1], CELL, m->mean, 3);
        fci(c[2], CELL, m);
        snprintf(c[3], CELL, "%s", m->ci_method == CB_CI_NONE ? "-" : cb_ci_method_name(m->ci_method));
        fpct(c[4], CELL, m->unparsed_rate);
        snprintf(c[5], CELL, "%lld", (long long)m->n_failed);
        snprintf(c[6], CELL, "%lld", (long long)m->prompt_tokens);
        snprintf(c[7], CELL, "%lld", (long long)m->completion_tokens);
        if (isfinite(m->mean_latency_s))
            snprintf(c[8], CELL, "%.3fs", m->mean_latency_s);
        else
            snprintf(c[8], CELL, "-");
    }
    return 0;
}

/* Display width of a UTF-8 string (code points; good enough for labels). */
static int width(const char *s) {
    int w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

static void pad(FILE *f, int n) {
    for (int i = 0; i < n; i++) fputc(' ', f);
}

static void table_print(FILE *f, const table *t) {
    int w[MAXCOL];
    for (int c = 0; c < t->ncol; c++) {
        w[c] = width(t->head[c]);
        for (size_t r = 0; r < t->nrow; r++) {
            int x = width(t->cells[r][c]);
            if (x > w[c]) w[c] = x;
        }
    }
    for (int c = 0; c < t->ncol; c++) {
        int x = width(t->head[c]);
        if (t->right[c]) pad(f, w[c] - x);
        fputs(t->head[c], f);
        if (c + 1 < t->ncol) pad(f, (t->right[c] ? 0 : w[c] - x) + 2);
    }
    fputc('\n', f);
    for (size_t r = 0; r < t->nrow; r++) {
        for (int c = 0; c < t->ncol; c++) {
            const char *v = t->cells[r][c];
            int x = width(v);
            if (t->right[c]) pad(f, w[c] - x);
            fputs(v, f);
            if (c + 1 < t->ncol) pad(f, (t->right[c] ? 0 : w[c] - x) + 2);
        }
        fputc('\n', f);
    }
}

static void md_cell(FILE *f, const char *s) {
    fputc(' ', f);
    for (; *s; s++) {
        if (*s == '|' || *s == '\\')
            fputc('\\', f), fputc(*s, f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
    fputs(" |", f);
}

static void table_print_md(FILE *f, const table *t) {
    fputc('|', f);
    for (int c = 0; c < t->ncol; c++) md_cell(f, t->head[c]);
    fputs("\n|", f);
    for (int c = 0; c < t->ncol; c++) fputs(t->right[c] ? " ---: |" : " --- |", f);
    fputc('\n', f);
    for (size_t r = 0; r < t->nrow; r++) {
        fputc('|', f);
        for (int c = 0; c < t->ncol; c++) md_cell(f, t->cells[r][c]);
        fputc('\n', f);
    }
}

typedef struct {
    char started[32], finished[32], wall[32], size[32], sha[16];
} header_text;

static void header_fill(const cb_report *r, header_text *h) {
    iso_time(r->run.started_at, h->started, sizeof h->started);
    iso_time(r->run.finished_at, h->finished, sizeof h->finished);
    if (isfinite(r->wall_s))
        snprintf(h->wall, sizeof h->wall, "%.1f s", r->wall_s);
    else
        snprintf(h->wall, sizeof h->wall, "-");
    human_bytes(h->size, sizeof h->size, r->run.model_bytes);
    snprintf(h->sha, sizeof h->sha, "%.12s", r->run.model_sha256[0] ? r->run.model_sha256 : "-");
}

static int write_tables(const cb_report *r, FILE *f, int md) {
    header_text h;
    header_fill(r, &h);
    const cb_run_info *u = &r->run;
    if (md) {
        fprintf(f, "## capbench run %lld (%s)\n\n", (long long)u->id, u->suite);
        fprintf(f, "- status: %s\n- model: %s (sha256 %s, %s)\n- backend: %s%s%s\n- device: %s\n",
                cb_run_status_name(u->status), u->model_id, h.sha, h.size, u->backend, u->base_url[0] ? " " : "",
                u->base_url, u->device);
        fprintf(f, "- capbench: %s\n- seed: %llu\n- started: %s\n- finished: %s\n- wall time: %s\n",
                u->capbench_version, (unsigned long long)u->seed, h.started[0] ? h.started : "-",
                h.finished[0] ? h.finished : "-", h.wall);
        fprintf(f, "- config sha256: %s\n\n", u->config_sha256[0] ? u->config_sha256 : "-");
    } else {
        fprintf(f, "run %lld  suite %s  status %s\n", (long long)u->id, u->suite, cb_run_status_name(u->status));
        fprintf(f, "model %s  sha256 %s  size %s\n", u->model_id, h.sha, h.size);
        fprintf(f, "backend %s%s%s  device %s  capbench %s  seed %llu\n", u->backend, u->base_url[0] ? " " : "",
                u->base_url, u->device, u->capbench_version, (unsigned long long)u->seed);
        fprintf(f, "started %s  finished %s  wall %s\n\n", h.started[0] ? h.started : "-",
                h.finished[0] ? h.finished : "-", h.wall);
    }
    /* the overall row goes at the end of the settings table, keyed "all" */
    cb_group *rows = calloc(r->n_settings + 1, sizeof *rows);
    if (!rows) return -1;
    memcpy(rows, r->settings, r->n_settings * sizeof *rows);
    rows[r->n_settings] = r->overall;
    table t1 = {0}, t2 = {0};
    int bad = table_fill(&t1, rows, r->n_settings + 1, 0) || table_fill(&t2, r->capabilities, r->n_capabilities, 1);
    if (!bad) {
        if (md) {
            fputs("### By task, subtask and setting\n\n", f);
            table_print_md(f, &t1);
            fputs("\n### By capability\n\n", f);
            if (r->n_capabilities)
                table_print_md(f, &t2);
            else
                fputs("(no capability labels)\n", f);
        } else {
            table_print(f, &t1);
            fputc('\n', f);
            if (r->n_capabilities)
                table_print(f, &t2);
            else
                fputs("(no capability labels)\n", f);
        }
    }
    free(t1.cells);
    free(t2.cells);
    free(rows);
    return bad ? -1 : 0;
}

/* ---- CSV ------------------------------------------------------------------ */

static void csv_str(FILE *f, const char *s) {
    if (!s) s = "";
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

static void csv_row(FILE *f, int64_t run_id, const char *section, const cb_group *g, int by_cap) {
    const cb_summary *m = &g->sum;
    fprintf(f, "%lld,", (long long)run_id);
    csv_str(f, section);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->task);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->subtask);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->setting);
    fputc(',', f);
    csv_str(f, by_cap ? g->capability : "");
    fprintf(f, ",%lld,%lld,", (long long)m->n, (long long)m->n_scored);
    csv_num(f, m->mean);
    fputc(',', f);
    csv_num(f, m->sd);
    fputc(',', f);
    csv_num(f, m->se);
    fputc(',', f);
    csv_num(f, m->ci_low);
    fputc(',', f);
    csv_num(f, m->ci_high);
    fputc(',', f);
    csv_str(f, cb_ci_method_name(m->ci_method));
    fputc(',', f);
    csv_num(f, m->unparsed_rate);
    fprintf(f, ",%lld,%lld,%lld,%lld,", (long long)m->n_unparsed, (long long)m->n_failed,
            (long long)m->prompt_tokens, (long long)m->completion_tokens);
    csv_num(f, m->mean_latency_s);
    fputs("\r\n", f);
}

static void write_csv(const cb_report *r, FILE *f) {
    fputs("run_id,section,task,subtask,setting,capability,n,n_scored,mean,sd,se,ci_low,ci_high,ci_method,"
          "unparsed_rate,n_unparsed,n_failed,prompt_tokens,completion_tokens,mean_latency_s\r\n",
          f);
    csv_row(f, r->run.id, "all", &r->overall, 0);
    for (size_t i = 0; i < r->n_settings; i++) csv_row(f, r->run.id, "setting", &r->settings[i], 0);
    for (size_t i = 0; i < r->n_capabilities; i++) csv_row(f, r->run.id, "capability", &r->capabilities[i], 1);
}

/* ---- JSON ----------------------------------------------------------------- */

static int jnum(cJSON *o, const char *k, double v) {
    return (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static int jstr_or_null(cJSON *o, const char *k, const char *v) {
    return (v && v[0] ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static cJSON *group_json(const cb_group *g, int by_cap) {
    const cb_summary *m = &g->sum;
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    if (ok && by_cap) ok = cJSON_AddStringToObject(o, "capability", g->capability) != NULL;
    if (ok && !by_cap)
        ok = cJSON_AddStringToObject(o, "task", g->task) && cJSON_AddStringToObject(o, "subtask", g->subtask) &&
             cJSON_AddStringToObject(o, "setting", g->setting);
    ok = ok && cJSON_AddNumberToObject(o, "n", (double)m->n) && cJSON_AddNumberToObject(o, "n_scored", (double)m->n_scored) &&
         jnum(o, "mean", m->mean) && jnum(o, "sd", m->sd) && jnum(o, "se", m->se) && jnum(o, "ci_low", m->ci_low) &&
         jnum(o, "ci_high", m->ci_high) && jstr_or_null(o, "ci_method", cb_ci_method_name(m->ci_method)) &&
         jnum(o, "unparsed_rate", m->unparsed_rate) && cJSON_AddNumberToObject(o, "n_unparsed", (double)m->n_unparsed) &&
         cJSON_AddNumberToObject(o, "n_failed", (double)m->n_failed) &&
         cJSON_AddNumberToObject(o, "prompt_tokens", (double)m->prompt_tokens) &&
         cJSON_AddNumberToObject(o, "completion_tokens", (double)m->completion_tokens) &&
         jnum(o, "mean_latency_s", m->mean_latency_s);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *report_json(const cb_report *r) {
    const cb_run_info *u = &r->run;
    char started[32], finished[32], seed[24];
    iso_time(u->started_at, started, sizeof started);
    iso_time(u->finished_at, finished, sizeof finished);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)u->seed);
    cJSON *root = cJSON_CreateObject(), *run = cJSON_CreateObject();
    cJSON *settings = cJSON_CreateArray(), *caps = cJSON_CreateArray();
    int ok = root && run && settings && caps;
    if (ok) {
        cJSON_AddItemToObject(root, "run", run);
        run = NULL;
        cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "run");
        ok = cJSON_AddNumberToObject(o, "id", (double)u->id) && cJSON_AddStringToObject(o, "suite", u->suite) &&
             cJSON_AddStringToObject(o, "model_id", u->model_id) &&
             jstr_or_null(o, "model_sha256", u->model_sha256) &&
             cJSON_AddNumberToObject(o, "model_bytes", (double)u->model_bytes) &&
             cJSON_AddStringToObject(o, "backend", u->backend) && jstr_or_null(o, "base_url", u->base_url) &&
             cJSON_AddStringToObject(o, "device", u->device) &&
             cJSON_AddStringToObject(o, "capbench_version", u->capbench_version) &&
             cJSON_AddStringToObject(o, "seed", seed) && jstr_or_null(o, "config_sha256", u->config_sha256) &&
             cJSON_AddStringToObject(o, "status", cb_run_status_name(u->status)) &&
             jstr_or_null(o, "started_at", started) && jstr_or_null(o, "finished_at", finished) &&
             jnum(o, "wall_s", r->wall_s);
    }
    cJSON *ov = ok ? group_json(&r->overall, 0) : NULL;
    if (ov)
        cJSON_AddItemToObject(root, "overall", ov);
    else
        ok = 0;
    for (size_t i = 0; ok && i < r->n_settings; i++) {
        cJSON *g = group_json(&r->settings[i], 0);
        if (!g) ok = 0;
        else cJSON_AddItemToArray(settings, g);
    }
    for (size_t i = 0; ok && i < r->n_capabilities; i++) {
        cJSON *g = group_json(&r->capabilities[i], 1);
        if (!g) ok = 0;
        else cJSON_AddItemToArray(caps, g);
    }
    if (ok) {
        cJSON_AddItemToObject(root, "settings", settings);
        cJSON_AddItemToObject(root, "capabilities", caps);
        return root;
    }
    cJSON_Delete(run);
    cJSON_Delete(settings);
    cJSON_Delete(caps);
    cJSON_Delete(root);
    return NULL;
}

int cb_report_write(const cb_report *r, cb_report_format fmt, FILE *f, cb_err *err) {
    switch (fmt) {
    case CB_REPORT_TABLE:
    case CB_REPORT_MD:
        if (write_tables(r, f, fmt == CB_REPORT_MD)) return cb_err_set(err, CB_ENOMEM, "report: out of memory");
        break;
    case CB_REPORT_CSV: write_csv(r, f); break;
    case CB_REPORT_JSON: {
        cJSON *j = report_json(r);
        char *text = j ? cJSON_Print(j) : NULL;
        cJSON_Delete(j);
        if (!text) return cb_err_set(err, CB_ENOMEM, "report: out of memory building JSON");
        fputs(text, f);
        fputc('\n', f);
        free(text);
        break;
    }
    default: return cb_err_set(err, CB_EUSAGE, "report: bad format %d", (int)fmt);
    }
    if (fflush(f) != 0 || ferror(f)) return cb_err_set(err, CB_EIO, "report: write failed");
    return 0;
}
