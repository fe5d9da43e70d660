/* results/report.c — builds the summary of a stored run (see report.h) and
 * prints it as an aligned terminal table, Markdown, CSV or JSON.
 *
 * Building reads the run row and the per-sample numbers from the store and
 * groups them with results/aggregate.c; writing formats what was built. No
 * statistics are computed while printing, and nothing is written to the
 * database.
 */
#include "results/report.h"

#include "results/family_report.h"

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
    cb_family_stats_free(r->families);
    free(r->settings);
    free(r->settings_x);
    free(r->capabilities);
    free(r->capabilities_x);
    free(r->breakdown);
    free(r->breakdown_x);
    free(r);
}

/* ---- per-sample values the groups summarize ------------------------------ */

/* Parsed per-row numbers: metric values (NaN = absent) in the run's metric
 * order, the row's cell baseline and chance level, its breakdown value. */
typedef struct {
    int n_names;
    char names[CB_REPORT_MAX_METRICS][48];
    double *vals;      /* n_rows * CB_REPORT_MAX_METRICS */
    double *base;      /* per row: majority share of its cell (NaN without gold) */
    double *chance;    /* per row: 0.5 for a Yes/No gold, else NaN */
    char **by;         /* per row: breakdown value (malloc'd) or NULL */
} row_data;

static void row_data_free(row_data *d, size_t n) {
    free(d->vals);
    free(d->base);
    free(d->chance);
    if (d->by)
        for (size_t i = 0; i < n; i++) free(d->by[i]);
    free(d->by);
}

static int answered(const cb_sample_stat *r) { return !r->failed && isfinite(r->score); }

static int metric_slot(row_data *d, const char *name) {
    for (int i = 0; i < d->n_names; i++)
        if (strcmp(d->names[i], name) == 0) return i;
    if (d->n_names == CB_REPORT_MAX_METRICS) return -1;
    snprintf(d->names[d->n_names], sizeof d->names[0], "%s", name);
    return d->n_names++;
}

/* Sorts row indices by cell (task, subtask, setting) then gold. */
static const cb_stat_set *g_sort_set;
static const char *nzs(const char *s) { return s ? s : ""; }
static int cell_gold_cmp(const void *pa, const void *pb) {
    const cb_sample_stat *a = &g_sort_set->rows[*(const size_t *)pa], *b = &g_sort_set->rows[*(const size_t *)pb];
    int c;
    if ((c = strcmp(nzs(a->task), nzs(b->task)))) return c;
    if ((c = strcmp(nzs(a->subtask), nzs(b->subtask)))) return c;
    if ((c = strcmp(nzs(a->setting), nzs(b->setting)))) return c;
    return strcmp(nzs(a->gold), nzs(b->gold));
}

static int same_cell(const cb_sample_stat *a, const cb_sample_stat *b) {
    return strcmp(nzs(a->task), nzs(b->task)) == 0 && strcmp(nzs(a->subtask), nzs(b->subtask)) == 0 &&
           strcmp(nzs(a->setting), nzs(b->setting)) == 0;
}

/* The breakdown value of a row: "length" reads meta.len_bin, "gold" the gold
 * column, other keys meta[key] (numbers printed as %g). */
static char *by_value(const cb_sample_stat *r, const char *by) {
    if (strcmp(by, "gold") == 0) return r->gold ? strdup(r->gold) : NULL;
    if (!r->meta_json) return NULL;
    cJSON *m = cJSON_Parse(r->meta_json);
    const char *key = strcmp(by, "length") == 0 ? "len_bin" : by;
    cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    char buf[64], *out = NULL;
    if (cJSON_IsString(v))
        out = strdup(v->valuestring);
    else if (cJSON_IsNumber(v)) {
        snprintf(buf, sizeof buf, "%.15g", v->valuedouble);
        out = strdup(buf);
    } else if (cJSON_IsBool(v))
        out = strdup(cJSON_IsTrue(v) ? "true" : "false");
    cJSON_Delete(m);
    return out;
}

static int row_data_build(const cb_stat_set *set, const char *by, row_data *d, cb_err *err) {
    size_t n = set->n;
    size_t *ix = NULL;
    memset(d, 0, sizeof *d);
    d->vals = malloc((n ? n : 1) * CB_REPORT_MAX_METRICS * sizeof *d->vals);
    d->base = malloc((n ? n : 1) * sizeof *d->base);
    d->chance = malloc((n ? n : 1) * sizeof *d->chance);
    ix = malloc((n ? n : 1) * sizeof *ix);
    if (by && !(d->by = calloc(n ? n : 1, sizeof *d->by))) goto nomem;
    if (!d->vals || !d->base || !d->chance || !ix) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const cb_sample_stat *r = &set->rows[i];
        double *v = d->vals + i * CB_REPORT_MAX_METRICS;
        for (int k = 0; k < CB_REPORT_MAX_METRICS; k++) v[k] = NAN;
        d->base[i] = NAN;
        d->chance[i] = r->gold && (strcmp(r->gold, "Yes") == 0 || strcmp(r->gold, "No") == 0) ? 0.5 : NAN;
        ix[i] = i;
        if (by && answered(r)) d->by[i] = by_value(r, by);
        if (!r->metrics_json || !answered(r)) continue;
        cJSON *m = cJSON_Parse(r->metrics_json), *e;
        if (!m) continue; /* a damaged metrics column: the row has no metrics */
        cJSON_ArrayForEach(e, m) {
            if (!cJSON_IsNumber(e) || !e->string) continue;
            int k = metric_slot(d, e->string);
            if (k >= 0) v[k] = e->valuedouble;
        }
        cJSON_Delete(m);
    }
    /* majority baseline per cell, over its answered samples that have a gold */
    g_sort_set = set;
    qsort(ix, n, sizeof *ix, cell_gold_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && same_cell(&set->rows[ix[i]], &set->rows[ix[j]])) j++;
        int64_t total = 0, best = 0, run = 0;
        const char *prev = NULL;
        for (size_t k = i; k < j; k++) {
            const cb_sample_stat *r = &set->rows[ix[k]];
            if (!answered(r) || !r->gold) continue;
            total++;
            run = prev && strcmp(prev, r->gold) == 0 ? run + 1 : 1;
            prev = r->gold;
            if (run > best) best = run;
        }
        for (size_t k = i; k < j; k++)
            if (total > 0 && set->rows[ix[k]].gold) d->base[ix[k]] = (double)best / (double)total;
        i = j;
    }
    free(ix);
    return 0;
nomem:
    free(ix);
    return cb_err_set(err, CB_ENOMEM, "report: out of memory for %zu samples", n);
}

/* Whether row r (label slot) falls in group g of grouping `by`. */
static int in_group(const cb_group *g, cb_group_by by, const cb_sample_stat *r, const char *byv) {
    switch (by) {
    case CB_GROUP_ALL: return 1;
    case CB_GROUP_SETTING:
    case CB_GROUP_SETTING_BY:
        if (strcmp(g->task, nzs(r->task)) || strcmp(g->subtask, nzs(r->subtask)) ||
            strcmp(g->setting, nzs(r->setting)))
            return 0;
        return by == CB_GROUP_SETTING || strcmp(g->by, nzs(byv)) == 0;
    case CB_GROUP_CAPABILITY:
    case CB_GROUP_CAPABILITY_SETTING:
        if (g->setting[0] && strcmp(g->setting, nzs(r->setting))) return 0;
        return (r->cap[0] && strcmp(r->cap[0], g->capability) == 0) ||
               (r->cap[1] && strcmp(r->cap[1], g->capability) == 0);
    default: return 0;
    }
}

/* Adds a grading name to the group's "+"-joined list once. */
static void add_grading(cb_group_extra *x, const char *g) {
    if (!g || !g[0]) return;
    const char *p = x->grading;
    size_t n = strlen(g);
    while ((p = strstr(p, g))) {
        if ((p == x->grading || p[-1] == '+') && (p[n] == 0 || p[n] == '+')) return;
        p++;
    }
    size_t l = strlen(x->grading);
    snprintf(x->grading + l, sizeof x->grading - l, "%s%s", l ? "+" : "", g);
}

static void extra_fill(const cb_stat_set *set, const row_data *d, const cb_group *g, cb_group_by by,
                       cb_group_extra *x) {
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < set->n; i++)
        if (!set->rows[i].failed && in_group(g, by, &set->rows[i], d->by ? d->by[i] : NULL))
            add_grading(x, set->rows[i].grading);
    double bsum = 0, msum[CB_REPORT_MAX_METRICS] = {0};
    int64_t bn = 0, n_ans = 0, n_chance = 0, mn[CB_REPORT_MAX_METRICS] = {0};
    for (size_t i = 0; i < set->n; i++) {
        const cb_sample_stat *r = &set->rows[i];
        if (!answered(r) || !in_group(g, by, r, d->by ? d->by[i] : NULL)) continue;
        n_ans++;
        if (isfinite(d->base[i])) bsum += d->base[i], bn++;
        if (isfinite(d->chance[i])) n_chance++;
        const double *v = d->vals + i * CB_REPORT_MAX_METRICS;
        for (int k = 0; k < d->n_names; k++)
            if (isfinite(v[k])) msum[k] += v[k], mn[k]++;
    }
    /* the baseline is defined only when every answered sample has a gold */
    x->baseline = bn > 0 && bn == n_ans ? bsum / (double)bn : NAN;
    x->chance = n_chance > 0 && n_chance == n_ans ? 0.5 : NAN;
    const cb_summary *m = &g->sum;
    if (isfinite(m->ci_low) && isfinite(m->ci_high))
        x->indistinct = (isfinite(x->baseline) && m->ci_low <= x->baseline && x->baseline <= m->ci_high) ||
                        (isfinite(x->chance) && m->ci_low <= 0.5 && 0.5 <= m->ci_high);
    for (int k = 0; k < d->n_names; k++) {
        if (!mn[k]) continue;
        cb_metric_mean *mm = &x->metrics[x->n_metrics++];
        snprintf(mm->name, sizeof mm->name, "%s", d->names[k]);
        mm->n = mn[k];
        mm->mean = msum[k] / (double)mn[k];
    }
}

static int extras(const cb_stat_set *set, const row_data *d, const cb_group *g, size_t n, cb_group_by by,
                  cb_group_extra **out, cb_err *err) {
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) return cb_err_set(err, CB_ENOMEM, "report: out of memory");
    for (size_t i = 0; i < n; i++) extra_fill(set, d, &g[i], by, &(*out)[i]);
    return 0;
}

int cb_report_build(cb_store *s, int64_t run_id, const char *by, cb_report **out, cb_err *err) {
    int rc = 0;
    cb_stat_set set = {0};
    row_data d;
    memset(&d, 0, sizeof d);
    cb_group *all = NULL;
    size_t n_all = 0;
    cb_report *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) return cb_err_set(err, CB_ENOMEM, "report: out of memory");
    if (by && !by[0]) by = NULL;
    if ((rc = cb_store_run_get(s, run_id, &r->run, err))) goto out;
    r->wall_s = r->run.finished_at > 0 ? r->run.finished_at - r->run.started_at : NAN;
    if ((rc = cb_store_sample_stats(s, run_id, &set, err))) goto out;
    if ((rc = row_data_build(&set, by, &d, err))) goto out;
    for (size_t i = 0; i < set.n; i++) {
        if (!set.rows[i].failed) continue;
        if (!r->n_failed++ && set.rows[i].error)
            snprintf(r->first_error, sizeof r->first_error, "%s", set.rows[i].error);
    }
    if ((rc = cb_family_stats_build(s, run_id, &r->families, err))) goto out;
    if ((rc = cb_aggregate(&set, CB_GROUP_ALL, &all, &n_all, err))) goto out;
    r->overall = all[0];
    extra_fill(&set, &d, &r->overall, CB_GROUP_ALL, &r->overall_x);
    if ((rc = cb_aggregate(&set, CB_GROUP_SETTING, &r->settings, &r->n_settings, err))) goto out;
    if ((rc = extras(&set, &d, r->settings, r->n_settings, CB_GROUP_SETTING, &r->settings_x, err))) goto out;
    if ((rc = cb_aggregate(&set, CB_GROUP_CAPABILITY, &r->capabilities, &r->n_capabilities, err))) goto out;
    if ((rc = extras(&set, &d, r->capabilities, r->n_capabilities, CB_GROUP_CAPABILITY, &r->capabilities_x, err)))
        goto out;
    if (by) {
        size_t with = 0;
        for (size_t i = 0; i < set.n; i++) {
            set.rows[i].by = d.by[i];
            with += d.by[i] != NULL;
        }
        if (!with && set.n) {
            rc = cb_err_set(err, CB_EUSAGE,
                            "--by %s: no answered sample of run %lld has \"%s\" (counting items have length, gold, "
                            "distinct and source)",
                            by, (long long)run_id, by);
            goto out;
        }
        snprintf(r->by, sizeof r->by, "%s", by);
        /* only the samples that have the property take part in the breakdown */
        cb_stat_set sub = {.rows = malloc((with ? with : 1) * sizeof *sub.rows), .n = 0, .strings = NULL};
        if (!sub.rows) {
            rc = cb_err_set(err, CB_ENOMEM, "report: out of memory");
            goto out;
        }
        for (size_t i = 0; i < set.n; i++)
            if (d.by[i]) sub.rows[sub.n++] = set.rows[i];
        rc = cb_aggregate(&sub, CB_GROUP_SETTING_BY, &r->breakdown, &r->n_breakdown, err);
        free(sub.rows);
        if (rc) goto out;
        if ((rc = extras(&set, &d, r->breakdown, r->n_breakdown, CB_GROUP_SETTING_BY, &r->breakdown_x, err)))
            goto out;
    }
    *out = r;
    r = NULL;
out:
    free(all);
    row_data_free(&d, set.n);
    cb_stat_set_clear(&set);
    cb_report_free(r);
    return rc;
}

/* Known metrics: stored name, table heading, CSV column. soft_correct is a
 * 0/1 per sample, so its mean is the soft accuracy; off_by_one likewise. */
typedef struct {
    const char *name, *head, *csv;
} known_metric;
static const known_metric KNOWN[] = {
    {"soft_correct", "soft", "soft_accuracy"},   {"abs_error", "MAE", "mae"},
    {"signed_error", "signed", "signed_error"},  {"off_by_one", "off-by-1", "off_by_one_rate"},
    {"q_gold", "q_gold", "q_gold"},              {"expected_error", "exp.err", "expected_error"},
    {"brier", "brier", "brier"},                 {"gold_logprob", "gold lp", "gold_logprob"},
    {"score_1to100", "1-100", "score_1to100"},   {"full_marks", "full", "full_marks"},
    {"skill_fraction", "skill frac", "skill_fraction"},
};
#define N_KNOWN ((int)(sizeof KNOWN / sizeof KNOWN[0]))

static double metric_of(const cb_group_extra *x, const char *name) {
    for (int i = 0; i < x->n_metrics; i++)
        if (strcmp(x->metrics[i].name, name) == 0) return x->metrics[i].mean;
    return NAN;
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

#define MAXCOL 28
#define CELL 160

typedef struct {
    int ncol;
    const char *head[MAXCOL];
    int right[MAXCOL];           /* right-align (numbers) */
    char (*cells)[MAXCOL][CELL]; /* nrow rows */
    size_t nrow;
} table;

enum { KEY_SETTING = 0, KEY_CAPABILITY = 1, KEY_BY = 2 };

/* One table per section: the first key columns name the group. Metric
 * columns appear only when some row of the table has that metric. */
static int table_fill(table *t, const cb_group *g, const cb_group_extra *x, size_t n, int keys, const char *by) {
    static const char *const head_num[] = {"n",        "acc",      "95% CI", "base",    "",
                                           "unparsed", "fmt viol", "failed", "unscored", "grading"};
    int c0 = 0;
    if (keys == KEY_CAPABILITY) {
        t->head[c0++] = "capability";
    } else {
        t->head[c0++] = "task";
        t->head[c0++] = "subtask";
        t->head[c0++] = "setting";
        if (keys == KEY_BY) t->head[c0++] = by;
    }
    int nkey = c0;
    for (int i = 0; i < 10; i++) t->head[c0++] = head_num[i];
    int show[N_KNOWN];
    for (int k = 0; k < N_KNOWN; k++) {
        show[k] = 0;
        for (size_t r = 0; r < n && !show[k]; r++) show[k] = isfinite(metric_of(&x[r], KNOWN[k].name));
        if (show[k]) t->head[c0++] = KNOWN[k].head;
    }
    t->head[c0++] = "tok in";
    t->head[c0++] = "tok out";
    t->head[c0++] = "latency";
    t->ncol = c0;
    for (int i = 0; i < c0; i++) t->right[i] = i >= nkey && i != nkey + 2 && i != nkey + 4 && i != nkey + 9;
    t->nrow = n;
    t->cells = calloc(n ? n : 1, sizeof *t->cells);
    if (!t->cells) return -1;
    for (size_t r = 0; r < n; r++) {
        char(*c)[CELL] = t->cells[r];
        const cb_summary *m = &g[r].sum;
        const cb_group_extra *e = &x[r];
        if (keys == KEY_CAPABILITY) {
            snprintf(c[0], CELL, "%s", g[r].capability);
        } else {
            snprintf(c[0], CELL, "%s", g[r].task);
            snprintf(c[1], CELL, "%s", g[r].subtask);
            snprintf(c[2], CELL, "%s", g[r].setting);
            if (keys == KEY_BY) snprintf(c[3], CELL, "%s", g[r].by);
        }
        c += nkey;
        snprintf(c[0], CELL, "%lld", (long long)m->n_scored);
        fnum(c[1], CELL, m->mean, 3);
        fci(c[2], CELL, m);
        if (isfinite(e->baseline) && isfinite(e->chance) && fabs(e->baseline - e->chance) > 1e-12)
            snprintf(c[3], CELL, "%.3f/%.1f", e->baseline, e->chance);
        else
            fnum(c[3], CELL, isfinite(e->baseline) ? e->baseline : e->chance, 3);
        snprintf(c[4], CELL, "%s", e->indistinct ? "~" : "");
        fpct(c[5], CELL, m->unparsed_rate);
        fpct(c[6], CELL, m->format_violation_rate);
        snprintf(c[7], CELL, "%lld", (long long)m->n_failed);
        snprintf(c[8], CELL, "%lld", (long long)m->n_unscored);
        snprintf(c[9], CELL, "%s", e->grading[0] ? e->grading : "-");
        int ci = 10;
        for (int k = 0; k < N_KNOWN; k++) {
            if (!show[k]) continue;
            double v = metric_of(e, KNOWN[k].name);
            if (strcmp(KNOWN[k].name, "soft_correct") == 0 || strcmp(KNOWN[k].name, "off_by_one") == 0)
                fpct(c[ci++], CELL, v);
            else
                fnum(c[ci++], CELL, v, 3);
        }
        snprintf(c[ci++], CELL, "%lld", (long long)m->prompt_tokens);
        snprintf(c[ci++], CELL, "%lld", (long long)m->completion_tokens);
        if (isfinite(m->mean_latency_s))
            snprintf(c[ci], CELL, "%.3fs", m->mean_latency_s);
        else
            snprintf(c[ci], CELL, "-");
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

static const char DENOMINATOR[] =
    "n = answered samples: the denominator of acc and of every rate; failed requests are counted apart "
    "(failed), never as wrong; unparsed answers score 0; unscored = answered but no score (judge_failed), "
    "also apart. base = majority baseline (/0.5 = chance for "
    "Yes/No); ~ = the 95% CI includes the baseline (not distinguishable from guessing).";

static void print_section(FILE *f, int md, const char *title, const table *t) {
    if (md) {
        fprintf(f, "### %s\n\n", title);
        table_print_md(f, t);
        fputc('\n', f);
    } else {
        fprintf(f, "%s\n", title);
        table_print(f, t);
        fputc('\n', f);
    }
}

static int write_tables(const cb_report *r, FILE *f, int md) {
    header_text h;
    header_fill(r, &h);
    const cb_run_info *u = &r->run;
    char scope[96] = "";
    if (u->limit_n > 0 || u->shard[0])
        snprintf(scope, sizeof scope, "%s%lld%s%s", u->limit_n > 0 ? "limit " : "",
                 (long long)(u->limit_n > 0 ? u->limit_n : 0), u->shard[0] ? "  shard " : "", u->shard);
    if (u->limit_n <= 0 && u->shard[0]) snprintf(scope, sizeof scope, "shard %s", u->shard);
    if (md) {
        fprintf(f, "## capbench run %lld (%s)\n\n", (long long)u->id, u->suite);
        fprintf(f, "- status: %s\n- model: %s (sha256 %s, %s)\n- backend: %s%s%s\n- device: %s\n",
                cb_run_status_name(u->status), u->model_id, h.sha, h.size, u->backend, u->base_url[0] ? " " : "",
                u->base_url, u->device);
        fprintf(f, "- capbench: %s\n- seed: %llu\n- started: %s\n- finished: %s\n- wall time: %s\n",
                u->capbench_version, (unsigned long long)u->seed, h.started[0] ? h.started : "-",
                h.finished[0] ? h.finished : "-", h.wall);
        if (scope[0]) fprintf(f, "- scope: %s\n", scope);
        if (r->n_failed) fprintf(f, "- failed requests: %lld (first: %s)\n", (long long)r->n_failed, r->first_error);
        if (r->overall.sum.judge_calls)
            fprintf(f, "- judge: %lld calls, %lld tokens\n", (long long)r->overall.sum.judge_calls,
                    (long long)r->overall.sum.judge_tokens);
        fprintf(f, "- config sha256: %s\n\n%s\n\n", u->config_sha256[0] ? u->config_sha256 : "-", DENOMINATOR);
    } else {
        fprintf(f, "run %lld  suite %s  status %s\n", (long long)u->id, u->suite, cb_run_status_name(u->status));
        fprintf(f, "model %s  sha256 %s  size %s\n", u->model_id, h.sha, h.size);
        fprintf(f, "backend %s%s%s  device %s  capbench %s  seed %llu\n", u->backend, u->base_url[0] ? " " : "",
                u->base_url, u->device, u->capbench_version, (unsigned long long)u->seed);
        fprintf(f, "started %s  finished %s  wall %s%s%s\n", h.started[0] ? h.started : "-",
                h.finished[0] ? h.finished : "-", h.wall, scope[0] ? "  " : "", scope);
        if (r->n_failed) fprintf(f, "failed requests: %lld (first: %s)\n", (long long)r->n_failed, r->first_error);
        if (r->overall.sum.judge_calls)
            fprintf(f, "judge: %lld calls, %lld tokens (judgements answered from the cache cost nothing)\n",
                    (long long)r->overall.sum.judge_calls, (long long)r->overall.sum.judge_tokens);
        fprintf(f, "%s\n\n", DENOMINATOR);
    }
    /* the overall row goes at the end of the settings table, keyed "all" */
    cb_group *rows = calloc(r->n_settings + 1, sizeof *rows);
    cb_group_extra *rx = calloc(r->n_settings + 1, sizeof *rx);
    if (!rows || !rx) {
        free(rows);
        free(rx);
        return -1;
    }
    memcpy(rows, r->settings, r->n_settings * sizeof *rows);
    memcpy(rx, r->settings_x, r->n_settings * sizeof *rx);
    rows[r->n_settings] = r->overall;
    rx[r->n_settings] = r->overall_x;
    table t1 = {0}, t2 = {0}, t3 = {0};
    int bad = table_fill(&t1, rows, rx, r->n_settings + 1, KEY_SETTING, NULL) ||
              table_fill(&t2, r->capabilities, r->capabilities_x, r->n_capabilities, KEY_CAPABILITY, NULL) ||
              (r->by[0] && table_fill(&t3, r->breakdown, r->breakdown_x, r->n_breakdown, KEY_BY, r->by));
    if (!bad) {
        print_section(f, md, "By task, subtask and setting", &t1);
        if (r->n_capabilities)
            print_section(f, md, "By capability (all settings)", &t2);
        else
            fputs("(no capability labels)\n", f);
        if (r->by[0]) {
            char title[96];
            snprintf(title, sizeof title, "By task, subtask, setting and %s", r->by);
            print_section(f, md, title, &t3);
        }
        /* knowledge bits, BPC, H-Score: results/family_report.c */
        bad = cb_family_report_write(r, f, md) != 0;
    }
    free(t1.cells);
    free(t2.cells);
    free(t3.cells);
    free(rows);
    free(rx);
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

static void csv_row(FILE *f, const cb_report *r, const char *section, const cb_group *g, const cb_group_extra *x,
                    int by_cap) {
    const cb_summary *m = &g->sum;
    fprintf(f, "%lld,", (long long)r->run.id);
    csv_str(f, section);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->task);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->subtask);
    fputc(',', f);
    csv_str(f, by_cap ? "" : g->setting);
    fputc(',', f);
    csv_str(f, by_cap ? g->capability : "");
    fputc(',', f);
    csv_str(f, g->by);
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
    csv_num(f, x->baseline);
    fputc(',', f);
    csv_num(f, x->chance);
    fprintf(f, ",%d,", x->indistinct);
    csv_num(f, m->unparsed_rate);
    fprintf(f, ",%lld,", (long long)m->n_unparsed);
    csv_num(f, m->format_violation_rate);
    fprintf(f, ",%lld", (long long)m->n_failed);
    for (int k = 0; k < N_KNOWN; k++) {
        fputc(',', f);
        csv_num(f, metric_of(x, KNOWN[k].name));
    }
    fprintf(f, ",%lld,%lld,", (long long)m->prompt_tokens, (long long)m->completion_tokens);
    csv_num(f, m->mean_latency_s);
    fputc(',', f);
    csv_str(f, x->grading);
    fprintf(f, ",%lld,%lld,%lld", (long long)m->n_unscored, (long long)m->judge_calls, (long long)m->judge_tokens);
    /* structured-output's H and P (results/family_report.h); empty elsewhere */
    double hp[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    if (!g->by[0]) cb_family_structured_values(r, g, by_cap, hp);
    for (int k = 0; k < 6; k++) {
        fputc(',', f);
        csv_num(f, hp[k]);
    }
    fputs("\r\n", f);
}

static void write_csv(const cb_report *r, FILE *f) {
    fputs("run_id,section,task,subtask,setting,capability,by,n,n_scored,mean,sd,se,ci_low,ci_high,ci_method,"
          "baseline,chance,indistinct,unparsed_rate,n_unparsed,format_violation_rate,n_failed",
          f);
    for (int k = 0; k < N_KNOWN; k++) fprintf(f, ",%s", KNOWN[k].csv);
    fputs(",prompt_tokens,completion_tokens,mean_latency_s,grading,n_unscored,judge_calls,judge_tokens,"
          "h_content,h_structure,p_content,p_structure,p_n,p_judge_failed\r\n",
          f);
    csv_row(f, r, "all", &r->overall, &r->overall_x, 0);
    for (size_t i = 0; i < r->n_settings; i++) csv_row(f, r, "setting", &r->settings[i], &r->settings_x[i], 0);
    for (size_t i = 0; i < r->n_capabilities; i++)
        csv_row(f, r, "capability", &r->capabilities[i], &r->capabilities_x[i], 1);
    for (size_t i = 0; i < r->n_breakdown; i++) csv_row(f, r, "by", &r->breakdown[i], &r->breakdown_x[i], 0);
}

/* ---- JSON ----------------------------------------------------------------- */

static int jnum(cJSON *o, const char *k, double v) {
    return (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static int jstr_or_null(cJSON *o, const char *k, const char *v) {
    return (v && v[0] ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static cJSON *group_json(const cb_group *g, const cb_group_extra *x, int by_cap) {
    const cb_summary *m = &g->sum;
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    if (ok && by_cap) ok = cJSON_AddStringToObject(o, "capability", g->capability) != NULL;
    if (ok && !by_cap)
        ok = cJSON_AddStringToObject(o, "task", g->task) && cJSON_AddStringToObject(o, "subtask", g->subtask) &&
             cJSON_AddStringToObject(o, "setting", g->setting);
    if (ok && g->by[0]) ok = cJSON_AddStringToObject(o, "by", g->by) != NULL;
    ok = ok && cJSON_AddNumberToObject(o, "n", (double)m->n) && cJSON_AddNumberToObject(o, "n_scored", (double)m->n_scored) &&
         jnum(o, "mean", m->mean) && jnum(o, "sd", m->sd) && jnum(o, "se", m->se) && jnum(o, "ci_low", m->ci_low) &&
         jnum(o, "ci_high", m->ci_high) && jstr_or_null(o, "ci_method", cb_ci_method_name(m->ci_method)) &&
         jnum(o, "baseline", x->baseline) && jnum(o, "chance", x->chance) &&
         cJSON_AddBoolToObject(o, "indistinct", x->indistinct) &&
         jnum(o, "unparsed_rate", m->unparsed_rate) && cJSON_AddNumberToObject(o, "n_unparsed", (double)m->n_unparsed) &&
         jnum(o, "format_violation_rate", m->format_violation_rate) &&
         cJSON_AddNumberToObject(o, "n_failed", (double)m->n_failed) &&
         cJSON_AddNumberToObject(o, "n_unscored", (double)m->n_unscored) &&
         jstr_or_null(o, "grading", x->grading) && cJSON_AddNumberToObject(o, "judge_calls", (double)m->judge_calls) &&
         cJSON_AddNumberToObject(o, "judge_tokens", (double)m->judge_tokens);
    cJSON *mo = ok ? cJSON_AddObjectToObject(o, "metrics") : NULL;
    ok = ok && mo;
    for (int k = 0; ok && k < x->n_metrics; k++) ok = jnum(mo, x->metrics[k].name, x->metrics[k].mean);
    ok = ok && cJSON_AddNumberToObject(o, "prompt_tokens", (double)m->prompt_tokens) &&
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
             jnum(o, "wall_s", r->wall_s) && cJSON_AddNumberToObject(o, "limit", (double)u->limit_n) &&
             jstr_or_null(o, "shard", u->shard) && cJSON_AddNumberToObject(o, "n_failed", (double)r->n_failed) &&
             jstr_or_null(o, "first_error", r->first_error) &&
             cJSON_AddStringToObject(root, "denominator", DENOMINATOR);
    }
    cJSON *ov = ok ? group_json(&r->overall, &r->overall_x, 0) : NULL;
    if (ov)
        cJSON_AddItemToObject(root, "overall", ov);
    else
        ok = 0;
    for (size_t i = 0; ok && i < r->n_settings; i++) {
        cJSON *g = group_json(&r->settings[i], &r->settings_x[i], 0);
        if (!g) ok = 0;
        else cJSON_AddItemToArray(settings, g);
    }
    for (size_t i = 0; ok && i < r->n_capabilities; i++) {
        cJSON *g = group_json(&r->capabilities[i], &r->capabilities_x[i], 1);
        if (!g) ok = 0;
        else cJSON_AddItemToArray(caps, g);
    }
    if (ok) {
        cJSON_AddItemToObject(root, "settings", settings);
        cJSON_AddItemToObject(root, "capabilities", caps);
        settings = caps = NULL;
        cJSON *fam = cb_family_report_json(r); /* NULL: no such family in the run */
        if (fam) cJSON_AddItemToObject(root, "families", fam);
        if (r->by[0]) {
            cJSON *bd = cJSON_AddArrayToObject(root, "breakdown");
            ok = bd && cJSON_AddStringToObject(root, "by", r->by);
            for (size_t i = 0; ok && i < r->n_breakdown; i++) {
                cJSON *g = group_json(&r->breakdown[i], &r->breakdown_x[i], 0);
                if (!g) ok = 0;
                else cJSON_AddItemToArray(bd, g);
            }
        }
        if (ok) return root;
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
