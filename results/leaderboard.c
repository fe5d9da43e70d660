/* results/leaderboard.c — builds the leaderboard of leaderboard.h from the
 * store and writes it as a self-contained HTML page (inline CSS and SVG), a
 * Markdown table, CSV or JSON.
 *
 * Every number comes from the samples (results/analysis.h), never from
 * cached rows, so the board matches `capbench report` and `capbench analyze`.
 * The HTML page loads nothing: no script, font, stylesheet or image from
 * anywhere, so it renders the same offline, in a CI artifact or an e-mail.
 */
#include "results/leaderboard.h"

#include "results/analysis.h"
#include "results/export.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char capability[256];
    size_t n;
    double mean, ci_low, ci_high;
    int rank;
} lb_cap;

typedef struct {
    cb_run_info info;
    char model[256];       /* display name */
    char series[128];
    int has_step;
    long long step;
    lb_cap *caps;          /* sorted by label */
    size_t ncap;
    double overall;
    int rank;
    char weakest[256];
    double p_weakest;
    cb_wl_cell *wl;
    size_t nwl;
} lb_entry;

struct cb_leaderboard {
    lb_entry *e;
    size_t n;
    char (*caps)[256];     /* union of capability labels, sorted */
    size_t ncaps;
    cb_wl_summary wl_sum;
};

int cb_lb_format_parse(const char *name, cb_lb_format *out, cb_err *err) {
    static const char *const names[] = {"html", "md", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0) {
            *out = (cb_lb_format)i;
            return 0;
        }
    return cb_err_set(err, CB_EUSAGE, "unknown leaderboard format '%s' (expected html, md, csv or json)",
                      name ? name : "");
}

void cb_leaderboard_free(cb_leaderboard *lb) {
    if (!lb) return;
    for (size_t i = 0; i < lb->n; i++) {
        cb_run_info_clear(&lb->e[i].info);
        free(lb->e[i].caps);
        free(lb->e[i].wl);
    }
    free(lb->e);
    free(lb->caps);
    free(lb);
}

/* ---- building ------------------------------------------------------------------ */

/* Reads step, series and model from the run's labels. */
static void read_labels(lb_entry *e) {
    const char *base = strrchr(e->info.model_id, '/');
    snprintf(e->model, sizeof e->model, "%s", base ? base + 1 : e->info.model_id);
    snprintf(e->series, sizeof e->series, "%s", e->info.suite);
    cJSON *j = e->info.labels_json ? cJSON_Parse(e->info.labels_json) : NULL;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "model")) && cJSON_IsString(v))
        snprintf(e->model, sizeof e->model, "%s", v->valuestring);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "series")) && cJSON_IsString(v))
        snprintf(e->series, sizeof e->series, "%s", v->valuestring);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "step"))) {
        char *end = NULL;
        errno = 0;
        if (cJSON_IsString(v)) {
            long long s = strtoll(v->valuestring, &end, 10);
            if (!errno && end != v->valuestring && !*end) {
                e->has_step = 1;
                e->step = s;
            }
        } else if (cJSON_IsNumber(v)) {
            e->has_step = 1;
            e->step = (long long)v->valuedouble;
        }
    }
    cJSON_Delete(j);
}

/* The model-and-step key that "latest run per model" groups by. */
static void entry_key(const cb_run_info *r, char *key, size_t cap) {
    lb_entry tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.info.labels_json = r->labels_json;
    snprintf(tmp.info.model_id, sizeof tmp.info.model_id, "%s", r->model_id);
    read_labels(&tmp);
    snprintf(key, cap, "%s|%s|%s|%lld", r->model_sha256[0] ? r->model_sha256 : r->model_id, r->base_url,
             tmp.has_step ? "step" : "", tmp.step);
}

static int fill_entry(cb_store *s, lb_entry *e, int B, cb_err *err) {
    cb_item_score_set set = {0};
    cb_run_caps rc = {0};
    cb_profile_row *prof = NULL;
    size_t np = 0, weakest = SIZE_MAX;
    int r = 0;
    read_labels(e);
    if ((r = cb_store_item_scores(s, e->info.id, &set, err))) goto out;
    if ((r = cb_run_caps_build(&set, e->info.seed, &rc, err))) goto out;
    if ((r = cb_profile(&rc, B, &prof, &np, &weakest, err))) goto out;
    e->caps = calloc(np ? np : 1, sizeof *e->caps);
    if (!e->caps) {
        r = cb_err_set(err, CB_ENOMEM, "out of memory building the leaderboard");
        goto out;
    }
    double sum = 0;
    for (size_t i = 0; i < np; i++) {
        lb_cap *c = &e->caps[e->ncap++];
        snprintf(c->capability, sizeof c->capability, "%s", prof[i].cap->capability);
        c->n = prof[i].cap->n;
        c->mean = prof[i].cap->mean;
        c->ci_low = prof[i].cap->ci_low;
        c->ci_high = prof[i].cap->ci_high;
        sum += c->mean;
    }
    e->overall = np ? sum / (double)np : NAN;
    if (weakest != SIZE_MAX) {
        snprintf(e->weakest, sizeof e->weakest, "%s", prof[weakest].cap->capability);
        e->p_weakest = prof[weakest].p_weakest;
    }
    if ((r = cb_wl_analyze(&rc, e->info.id, CB_WL_DEFAULT_DELTA, B, &e->wl, &e->nwl, err))) goto out;
    for (size_t i = 0; i < e->nwl; i++) snprintf(e->wl[i].model, sizeof e->wl[i].model, "%s", e->model);
out:
    free(prof);
    cb_run_caps_clear(&rc);
    cb_item_score_set_clear(&set);
    return r;
}

static int cmp_label(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static int cmp_overall(const void *pa, const void *pb) {
    const lb_entry *a = pa, *b = pb;
    int na = isnan(a->overall), nb = isnan(b->overall);
    if (na != nb) return na - nb;
    if (!na && a->overall != b->overall) return a->overall > b->overall ? -1 : 1;
    return a->info.id < b->info.id ? -1 : a->info.id > b->info.id;
}

static const lb_cap *find_cap(const lb_entry *e, const char *label) {
    for (size_t i = 0; i < e->ncap; i++)
        if (strcmp(e->caps[i].capability, label) == 0) return &e->caps[i];
    return NULL;
}

static void rank_all(cb_leaderboard *lb) {
    qsort(lb->e, lb->n, sizeof *lb->e, cmp_overall);
    for (size_t i = 0; i < lb->n; i++)
        lb->e[i].rank = i > 0 && lb->e[i].overall == lb->e[i - 1].overall ? lb->e[i - 1].rank : (int)i + 1;
    for (size_t c = 0; c < lb->ncaps; c++)
        for (size_t i = 0; i < lb->n; i++) {
            lb_cap *me = (lb_cap *)find_cap(&lb->e[i], lb->caps[c]);
            if (!me) continue;
            int better = 0;
            for (size_t j = 0; j < lb->n; j++) {
                const lb_cap *o = find_cap(&lb->e[j], lb->caps[c]);
                better += o && o->mean > me->mean;
            }
            me->rank = better + 1;
        }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int cb_leaderboard_default_runs(cb_store *s, int64_t **ids, size_t *n, cb_err *err) {
    int64_t *all = NULL;
    size_t nall = 0, m = 0;
    char (*keys)[700] = NULL;
    int *finished = NULL;
    *ids = NULL;
    *n = 0;
    int rc = cb_store_run_ids(s, &all, &nall, err);
    if (rc) return rc;
    if (nall == 0) {
        free(all);
        return cb_err_set(err, CB_EUSAGE, "the database holds no run");
    }
    int64_t *out = calloc(nall, sizeof *out);
    keys = calloc(nall, sizeof *keys);
    finished = calloc(nall, sizeof *finished);
    if (!out || !keys || !finished) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory selecting runs");
        goto out;
    }
    /* newest first: the first run seen for a key wins, a finished one over any other */
    for (size_t k = nall; k-- > 0;) {
        cb_run_info ri;
        if ((rc = cb_store_run_get(s, all[k], &ri, err))) goto out;
        char key[700];
        entry_key(&ri, key, sizeof key);
        size_t j = 0;
        while (j < m && strcmp(keys[j], key) != 0) j++;
        if (j == m) {
            memcpy(keys[m], key, sizeof key);
            finished[m] = ri.status == CB_RUN_FINISHED;
            out[m++] = ri.id;
        } else if (!finished[j] && ri.status == CB_RUN_FINISHED) {
            finished[j] = 1;
            out[j] = ri.id;
        }
        cb_run_info_clear(&ri);
    }
    qsort(out, m, sizeof *out, cmp_i64);
    *ids = out;
    *n = m;
    out = NULL;
out:
    free(out);
    free(keys);
    free(finished);
    free(all);
    return rc;
}

int cb_leaderboard_build(cb_store *s, const int64_t *run_ids, size_t n_ids, int B, cb_leaderboard **out, cb_err *err) {
    int rc = 0;
    int64_t *sel = NULL;
    size_t nsel = 0;
    cb_leaderboard *lb = calloc(1, sizeof *lb);
    *out = NULL;
    if (!lb) return cb_err_set(err, CB_ENOMEM, "out of memory building the leaderboard");
    if (n_ids == 0) {
        if ((rc = cb_leaderboard_default_runs(s, &sel, &nsel, err))) goto out;
        run_ids = sel;
        n_ids = nsel;
    }
    lb->e = calloc(n_ids, sizeof *lb->e);
    if (!lb->e) goto nomem;
    for (size_t i = 0; i < n_ids; i++) {
        if ((rc = cb_store_run_get(s, run_ids[i], &lb->e[lb->n].info, err))) goto out;
        lb->n++;
    }
    size_t ncap_total = 0;
    for (size_t i = 0; i < lb->n; i++) {
        if ((rc = fill_entry(s, &lb->e[i], B, err))) goto out;
        ncap_total += lb->e[i].ncap;
    }
    lb->caps = calloc(ncap_total ? ncap_total : 1, sizeof *lb->caps);
    if (!lb->caps) goto nomem;
    for (size_t i = 0; i < lb->n; i++)
        for (size_t c = 0; c < lb->e[i].ncap; c++) {
            size_t j = 0;
            while (j < lb->ncaps && strcmp(lb->caps[j], lb->e[i].caps[c].capability) != 0) j++;
            if (j == lb->ncaps) snprintf(lb->caps[lb->ncaps++], sizeof lb->caps[0], "%s", lb->e[i].caps[c].capability);
        }
    qsort(lb->caps, lb->ncaps, sizeof *lb->caps, cmp_label);
    rank_all(lb);
    {
        size_t nw = 0;
        for (size_t i = 0; i < lb->n; i++) nw += lb->e[i].nwl;
        cb_wl_cell *cells = calloc(nw ? nw : 1, sizeof *cells);
        if (!cells) goto nomem;
        nw = 0;
        for (size_t i = 0; i < lb->n; i++)
            for (size_t k = 0; k < lb->e[i].nwl; k++) cells[nw++] = lb->e[i].wl[k];
        cb_wl_summarize(cells, nw, NULL, &lb->wl_sum);
        free(cells);
    }
    *out = lb;
    lb = NULL;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory building the leaderboard");
out:
    free(sel);
    cb_leaderboard_free(lb);
    return rc;
}

/* ---- writers ---------------------------------------------------------------------- */

static void esc_html(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void esc_md(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|' || *s == '\\' || *s == '`' || *s == '*' || *s == '_') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
}

static void step_text(const lb_entry *e, char *buf, size_t cap) {
    if (e->has_step)
        snprintf(buf, cap, "%lld", e->step);
    else
        buf[0] = 0;
}

/* The markup of one table row: Markdown and HTML tables share the cells. */
typedef struct {
    const char *row_open, *td, *td_num, *td_close, *row_close, *small_open, *small_close;
    void (*esc)(FILE *, const char *);
} lb_markup;

/* One row per entry: rank, model, step, run, overall, each capability's mean
 * [CI] #rank, and the weakest capability with its p. */
static void write_rows(const cb_leaderboard *lb, FILE *f, const lb_markup *m) {
    for (size_t i = 0; i < lb->n; i++) {
        const lb_entry *e = &lb->e[i];
        char st[32];
        step_text(e, st, sizeof st);
        fprintf(f, "%s%s%d%s%s", m->row_open, m->td, e->rank, m->td_close, m->td);
        m->esc(f, e->model);
        fprintf(f, "%s%s%s%s%s%lld%s%s", m->td_close, m->td, st, m->td_close, m->td, (long long)e->info.id,
                m->td_close, m->td_num);
        num(f, e->overall, "%.3f");
        fputs(m->td_close, f);
        for (size_t c = 0; c < lb->ncaps; c++) {
            const lb_cap *k = find_cap(e, lb->caps[c]);
            fputs(m->td_num, f);
            if (k) {
                num(f, k->mean, "%.3f");
                if (isfinite(k->ci_low))
                    fprintf(f, " %s[%.3f, %.3f]%s", m->small_open, k->ci_low, k->ci_high, m->small_close);
                fprintf(f, " %s#%d%s", m->small_open, k->rank, m->small_close);
            }
            fputs(m->td_close, f);
        }
        fputs(m->td, f);
        m->esc(f, e->weakest);
        if (e->weakest[0]) fprintf(f, " (%.2f)", e->p_weakest);
        fprintf(f, "%s%s", m->td_close, m->row_close);
    }
}

static int write_md(const cb_leaderboard *lb, FILE *f) {
    fputs("| rank | model | step | run | overall |", f);
    for (size_t c = 0; c < lb->ncaps; c++) {
        fputc(' ', f);
        esc_md(f, lb->caps[c]);
        fputs(" |", f);
    }
    fputs(" weakest (p) |\n|---:|---|---:|---:|---:|", f);
    for (size_t c = 0; c < lb->ncaps; c++) fputs("---:|", f);
    fputs("---|\n", f);
    static const lb_markup md = {"|", " ", " ", " |", "\n", "", "", esc_md};
    write_rows(lb, f, &md);
    return 0;
}

static int write_csv(const cb_leaderboard *lb, FILE *f) {
    fputs("run_id,model,step,suite,capability,n,mean,ci_low,ci_high,rank,overall,overall_rank\n", f);
    for (size_t i = 0; i < lb->n; i++) {
        const lb_entry *e = &lb->e[i];
        char st[32];
        step_text(e, st, sizeof st);
        for (size_t c = 0; c < e->ncap; c++) {
            const lb_cap *k = &e->caps[c];
            fprintf(f, "%lld,", (long long)e->info.id);
            cb_csv_field(f, e->model);
            fprintf(f, ",%s,", st);
            cb_csv_field(f, e->info.suite);
            fputc(',', f);
            cb_csv_field(f, k->capability);
            fprintf(f, ",%zu,", k->n);
            num(f, k->mean, "%.6f");
            fputc(',', f);
            num(f, k->ci_low, "%.6f");
            fputc(',', f);
            num(f, k->ci_high, "%.6f");
            fprintf(f, ",%d,", k->rank);
            num(f, e->overall, "%.6f");
            fprintf(f, ",%d\n", e->rank);
        }
    }
    return 0;
}

static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *wl_cell_json(const cb_wl_cell *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "run_id", (double)c->run_id);
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddStringToObject(o, "cross", c->cross);
    cJSON_AddStringToObject(o, "x", c->x);
    cJSON_AddStringToObject(o, "y", c->y);
    if (c->refused) {
        cJSON_AddStringToObject(o, "refused", c->why);
        return o;
    }
    cJSON_AddItemToObject(o, "a", jnum(c->a));
    cJSON_AddItemToObject(o, "b", jnum(c->b));
    cJSON_AddItemToObject(o, "c", jnum(c->c));
    cJSON_AddStringToObject(o, "weak", c->t - c->w > 0 ? (c->weak_is_x ? c->x : c->y) : "");
    cJSON_AddItemToObject(o, "z", jnum(c->z));
    cJSON_AddStringToObject(o, "category", cb_wl_category_name(c->cat));
    cJSON_AddStringToObject(o, "modal", cb_wl_category_name(c->modal));
    cJSON_AddNumberToObject(o, "modal_freq", c->modal_freq);
    cJSON_AddBoolToObject(o, "unstable", c->unstable);
    return o;
}

static int write_json(const cb_leaderboard *lb, FILE *f, cb_err *err) {
    cJSON *root = cJSON_CreateObject(), *ents = cJSON_AddArrayToObject(root, "entries");
    for (size_t i = 0; i < lb->n; i++) {
        const lb_entry *e = &lb->e[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "run_id", (double)e->info.id);
        cJSON_AddStringToObject(o, "model", e->model);
        cJSON_AddStringToObject(o, "model_id", e->info.model_id);
        cJSON_AddStringToObject(o, "suite", e->info.suite);
        if (e->has_step)
            cJSON_AddNumberToObject(o, "step", (double)e->step);
        else
            cJSON_AddNullToObject(o, "step");
        cJSON_AddStringToObject(o, "series", e->series);
        cJSON_AddItemToObject(o, "overall", jnum(e->overall));
        cJSON_AddNumberToObject(o, "rank", e->rank);
        cJSON_AddStringToObject(o, "weakest", e->weakest);
        cJSON_AddNumberToObject(o, "p_weakest", e->p_weakest);
        cJSON *caps = cJSON_AddArrayToObject(o, "capabilities");
        for (size_t c = 0; c < e->ncap; c++) {
            cJSON *k = cJSON_CreateObject();
            cJSON_AddStringToObject(k, "capability", e->caps[c].capability);
            cJSON_AddNumberToObject(k, "n", (double)e->caps[c].n);
            cJSON_AddItemToObject(k, "mean", jnum(e->caps[c].mean));
            cJSON_AddItemToObject(k, "ci_low", jnum(e->caps[c].ci_low));
            cJSON_AddItemToObject(k, "ci_high", jnum(e->caps[c].ci_high));
            cJSON_AddNumberToObject(k, "rank", e->caps[c].rank);
            cJSON_AddItemToArray(caps, k);
        }
        cJSON_AddItemToArray(ents, o);
    }
    cJSON *cl = cJSON_AddArrayToObject(root, "capabilities");
    for (size_t c = 0; c < lb->ncaps; c++) cJSON_AddItemToArray(cl, cJSON_CreateString(lb->caps[c]));
    cJSON *wl = cJSON_AddObjectToObject(root, "weakest_link"), *cells = cJSON_AddArrayToObject(wl, "cells");
    for (size_t i = 0; i < lb->n; i++)
        for (size_t k = 0; k < lb->e[i].nwl; k++) cJSON_AddItemToArray(cells, wl_cell_json(&lb->e[i].wl[k]));
    cJSON *sum = cJSON_AddObjectToObject(wl, "summary");
    cJSON_AddNumberToObject(sum, "cells", (double)lb->wl_sum.n_cells);
    cJSON_AddNumberToObject(sum, "tallied", (double)lb->wl_sum.n_tally);
    cJSON_AddNumberToObject(sum, "below_both", (double)lb->wl_sum.n_below_both);
    cJSON_AddNumberToObject(sum, "obey", (double)lb->wl_sum.n_obey);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return cb_err_set(err, CB_ENOMEM, "out of memory writing JSON");
    fputs(txt, f);
    fputc('\n', f);
    free(txt);
    return 0;
}

/* ---- HTML ---------------------------------------------------------------------------- */

static const char *const palette[] = {"#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951",
                                      "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0"};
#define NPAL (sizeof palette / sizeof palette[0])

/* Horizontal bars of `n` values in [0,1] with intervals, one per label. */
static void svg_bars(FILE *f, const char *const *labels, const double *v, const double *lo, const double *hi,
                     size_t n, size_t highlight) {
    int rowh = 22, left = 220, width = 420;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%zu\" role=\"img\">\n",
            left + width + 70, (size_t)rowh * n + 24);
    for (int t = 0; t <= 4; t++) {
        double x = left + width * t / 4.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%zu\" class=\"grid\"/>"
                   "<text x=\"%.1f\" y=\"%zu\" class=\"ax\">%.2f</text>\n",
                x, x, (size_t)rowh * n, x - 8, (size_t)rowh * n + 16, t / 4.0);
    }
    for (size_t i = 0; i < n; i++) {
        double y = (double)(rowh * (int)i) + 4;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"lab\">", left - 6, y + 13);
        esc_html(f, labels[i]);
        fputs("</text>", f);
        if (isfinite(v[i]))
            fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"16\" fill=\"%s\"/>", left, y,
                    width * fmax(0, fmin(1, v[i])), i == highlight ? "#d62728" : palette[i % NPAL]);
        if (isfinite(lo[i]) && isfinite(hi[i]))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ci\"/>",
                    left + width * fmax(0, fmin(1, lo[i])), y + 8, left + width * fmax(0, fmin(1, hi[i])), y + 8);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"val\">", left + width + 6, y + 13);
        num(f, v[i], "%.3f");
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

static void html_table(const cb_leaderboard *lb, FILE *f) {
    fputs("<div class=\"wrap\"><table><thead><tr><th>rank</th><th>model</th><th>step</th><th>run</th><th>overall</th>", f);
    for (size_t c = 0; c < lb->ncaps; c++) {
        fputs("<th>", f);
        esc_html(f, lb->caps[c]);
        fputs("</th>", f);
    }
    fputs("<th>weakest (p)</th></tr></thead><tbody>\n", f);
    static const lb_markup html = {"<tr>", "<td>", "<td class=\"num\">", "</td>", "</tr>\n", "<small>", "</small>",
                                   esc_html};
    write_rows(lb, f, &html);
    fputs("</tbody></table></div>\n", f);
}

static void html_capability_bars(const cb_leaderboard *lb, FILE *f, const char **labels, double *v, double *lo,
                                 double *hi) {
    fputs("<h2>Capability bars</h2>\n<p>Each capability: the models' mean scores with 95% intervals.</p>\n", f);
    for (size_t c = 0; c < lb->ncaps; c++) {
        size_t m = 0;
        for (size_t i = 0; i < lb->n; i++) {
            const lb_cap *k = find_cap(&lb->e[i], lb->caps[c]);
            if (!k) continue;
            labels[m] = lb->e[i].model;
            v[m] = k->mean;
            lo[m] = k->ci_low;
            hi[m] = k->ci_high;
            m++;
        }
        fputs("<figure><figcaption>", f);
        esc_html(f, lb->caps[c]);
        fputs("</figcaption>\n", f);
        svg_bars(f, labels, v, lo, hi, m, SIZE_MAX);
        fputs("</figure>\n", f);
    }
}

static void html_profiles(const cb_leaderboard *lb, FILE *f, const char **labels, double *v, double *lo, double *hi) {
    fputs("<h2>Profiles</h2>\n<p>Each model's capabilities; the weakest in red, with the bootstrap probability "
          "that it is the weakest.</p>\n",
          f);
    for (size_t i = 0; i < lb->n; i++) {
        const lb_entry *e = &lb->e[i];
        size_t weak = SIZE_MAX;
        for (size_t c = 0; c < e->ncap; c++) {
            labels[c] = e->caps[c].capability;
            v[c] = e->caps[c].mean;
            lo[c] = e->caps[c].ci_low;
            hi[c] = e->caps[c].ci_high;
            if (strcmp(e->caps[c].capability, e->weakest) == 0) weak = c;
        }
        fputs("<figure><figcaption>", f);
        esc_html(f, e->model);
        fprintf(f, " (run %lld", (long long)e->info.id);
        if (e->has_step) fprintf(f, ", step %lld", e->step);
        fputs("): weakest ", f);
        esc_html(f, e->weakest[0] ? e->weakest : "-");
        if (e->weakest[0]) fprintf(f, ", p = %.2f", e->p_weakest);
        fputs("</figcaption>\n", f);
        svg_bars(f, labels, v, lo, hi, e->ncap, weak);
        fputs("</figure>\n", f);
    }
}

static void html_scatter(const cb_leaderboard *lb, FILE *f) {
    const cb_wl_summary *s = &lb->wl_sum;
    fputs("<h2>Weakest link</h2>\n", f);
    size_t ncell = 0;
    for (size_t i = 0; i < lb->n; i++) ncell += lb->e[i].nwl;
    if (ncell == 0) {
        fputs("<p>No cross capability (a label \"X&amp;Y\") in these runs.</p>\n", f);
        return;
    }
    fprintf(f, "<p>%zu of %zu cross scores below both individual scores; %zu of %zu obey the law of the weakest link "
               "(below both or nearer the weaker), gap &gt; 3 points; %zu cells without a clear weak capability.</p>\n",
            s->n_below_both, s->n_tally, s->n_obey, s->n_tally, s->counts[CB_WL_NO_CLEAR_WEAK]);
    int L = 50, W = 360;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", L + W + 160,
            W + 50);
    fprintf(f, "<rect x=\"%d\" y=\"10\" width=\"%d\" height=\"%d\" class=\"frame\"/>", L, W, W);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"10\" class=\"diag\"/>\n", L, W + 10, L + W);
    for (int t = 0; t <= 4; t++) {
        double p = W * t / 4.0;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"ax\">%d</text><text x=\"%d\" y=\"%.1f\" class=\"ax\">%d</text>\n",
                L + p - 6, W + 26, 25 * t, L - 24, W + 10 - p + 4, 25 * t);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"ax\">individual score S (weaker: circles, stronger: squares)</text>",
            L, W + 44);
    fprintf(f, "<text x=\"12\" y=\"%d\" class=\"ax\" transform=\"rotate(-90 12 %d)\">cross score</text>\n", W / 2 + 40,
            W / 2 + 40);
    for (size_t i = 0; i < lb->n; i++)
        for (size_t k = 0; k < lb->e[i].nwl; k++) {
            const cb_wl_cell *c = &lb->e[i].wl[k];
            if (c->refused) continue;
            double yc = 10 + W - W * c->c / 100.0;
            double xw = L + W * c->w / 100.0, xt = L + W * c->t / 100.0;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"pair\"/>", xw, yc, xt, yc);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d62728\"><title>", xw, yc);
            esc_html(f, c->model);
            fputs(" ", f);
            esc_html(f, c->cross);
            fprintf(f, ": weaker %.2f, cross %.2f</title></circle>", c->w, c->c);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"#4269d0\"><title>", xt - 3.5,
                    yc - 3.5);
            esc_html(f, c->model);
            fputs(" ", f);
            esc_html(f, c->cross);
            fprintf(f, ": stronger %.2f, cross %.2f</title></rect>\n", c->t, c->c);
        }
    fputs("</svg>\n<table><thead><tr><th>model</th><th>run</th><th>cross</th><th>S_X</th><th>S_Y</th>"
          "<th>S_X&amp;Y</th><th>weak</th><th>z</th><th>category</th><th>bootstrap</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < lb->n; i++)
        for (size_t k = 0; k < lb->e[i].nwl; k++) {
            const cb_wl_cell *c = &lb->e[i].wl[k];
            fputs("<tr><td>", f);
            esc_html(f, c->model);
            fprintf(f, "</td><td>%lld</td><td>", (long long)c->run_id);
            esc_html(f, c->cross);
            fputs("</td>", f);
            if (c->refused) {
                fputs("<td colspan=\"7\">refused: ", f);
                esc_html(f, c->why);
                fputs("</td></tr>\n", f);
                continue;
            }
            fprintf(f, "<td class=\"num\">%.2f</td><td class=\"num\">%.2f</td><td class=\"num\">%.2f</td><td>", c->a,
                    c->b, c->c);
            if (c->cat != CB_WL_NO_CLEAR_WEAK) esc_html(f, c->weak_is_x ? c->x : c->y);
            fputs("</td><td class=\"num\">", f);
            num(f, c->z, "%.3f");
            fprintf(f, "</td><td>%s</td><td>%s %.2f%s</td></tr>\n", cb_wl_category_name(c->cat),
                    cb_wl_category_name(c->modal), c->modal_freq, c->unstable ? " unstable" : "");
        }
    fputs("</tbody></table>\n", f);
}

static int cmp_step(const void *pa, const void *pb) {
    const lb_entry *a = *(const lb_entry *const *)pa, *b = *(const lb_entry *const *)pb;
    return a->step < b->step ? -1 : a->step > b->step;
}

static void html_trends(const cb_leaderboard *lb, FILE *f, const lb_entry **pts) {
    fputs("<h2>Trends over training step</h2>\n", f);
    int any = 0;
    for (size_t i = 0; i < lb->n; i++) {
        if (!lb->e[i].has_step) continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= lb->e[j].has_step && strcmp(lb->e[j].series, lb->e[i].series) == 0;
        if (seen) continue;
        any = 1;
        size_t m = 0;
        for (size_t j = 0; j < lb->n; j++)
            if (lb->e[j].has_step && strcmp(lb->e[j].series, lb->e[i].series) == 0) pts[m++] = &lb->e[j];
        qsort(pts, m, sizeof *pts, cmp_step);
        long long s0 = pts[0]->step, s1 = pts[m - 1]->step;
        double span = s1 > s0 ? (double)(s1 - s0) : 1;
        int L = 50, W = 480, H = 220;
        fputs("<figure><figcaption>series ", f);
        esc_html(f, lb->e[i].series);
        fputs("</figcaption>\n", f);
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n",
                L + W + 200, H + 50);
        fprintf(f, "<rect x=\"%d\" y=\"10\" width=\"%d\" height=\"%d\" class=\"frame\"/>", L, W, H);
        for (int t = 0; t <= 4; t++)
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"ax\">%.2f</text>", L - 34, 10 + H - H * t / 4.0 + 4,
                    t / 4.0);
        for (size_t k = 0; k < m; k++)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"ax\">%lld</text>", L + W * (pts[k]->step - s0) / span - 8,
                    H + 26, pts[k]->step);
        for (size_t c = 0; c < lb->ncaps; c++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", palette[c % NPAL]);
            for (size_t k = 0; k < m; k++) {
                const lb_cap *v = find_cap(pts[k], lb->caps[c]);
                if (v && isfinite(v->mean))
                    fprintf(f, "%.1f,%.1f ", L + W * (pts[k]->step - s0) / span, 10 + H - H * v->mean);
            }
            fputs("\"/>", f);
            fprintf(f, "<text x=\"%d\" y=\"%zu\" fill=\"%s\" class=\"lab2\">", L + W + 10, 24 + 16 * c,
                    palette[c % NPAL]);
            esc_html(f, lb->caps[c]);
            fputs("</text>\n", f);
        }
        fputs("</svg></figure>\n", f);
    }
    if (!any) fputs("<p>No run carries a step label (capbench run --label step=N).</p>\n", f);
}

static int write_html(const cb_leaderboard *lb, FILE *f, cb_err *err) {
    size_t m = lb->n > lb->ncaps ? lb->n : lb->ncaps;
    const char **labels = calloc(m ? m : 1, sizeof *labels);
    double *v = calloc(m ? m : 1, sizeof *v), *lo = calloc(m ? m : 1, sizeof *lo), *hi = calloc(m ? m : 1, sizeof *hi);
    const lb_entry **pts = calloc(lb->n ? lb->n : 1, sizeof *pts);
    int rc = 0;
    if (!labels || !v || !lo || !hi || !pts) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory writing HTML");
        goto out;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>capbench leaderboard</title>\n<style>\n"
          "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\n"
          ".wrap{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px}\n"
          "th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
          "figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:4px}\n"
          ".grid{stroke:#e4e4e4}.ax{font-size:11px;fill:#555}.lab{font-size:12px;text-anchor:end}\n"
          ".lab2{font-size:12px}.val{font-size:12px}.ci{stroke:#222;stroke-width:1.5}\n"
          ".frame{fill:none;stroke:#999}.diag{stroke:#999;stroke-dasharray:4 3}.pair{stroke:#bbb}\n"
          "</style></head><body>\n<h1>capbench leaderboard</h1>\n",
          f);
    fprintf(f, "<p>%zu runs, %zu capabilities. Scores are mean item scores in [0,1] with 95%% intervals "
               "(Wilson for 0/1 scores, normal otherwise); #k is the rank within the capability; overall is the "
               "mean of the capability scores.</p>\n",
            lb->n, lb->ncaps);
    html_table(lb, f);
    html_capability_bars(lb, f, labels, v, lo, hi);
    html_profiles(lb, f, labels, v, lo, hi);
    html_scatter(lb, f);
    html_trends(lb, f, pts);
    fputs("</body></html>\n", f);
out:
    free(labels);
    free(v);
    free(lo);
    free(hi);
    free(pts);
    return rc;
}

int cb_leaderboard_write(const cb_leaderboard *lb, cb_lb_format fmt, FILE *f, cb_err *err) {
    int rc;
    switch (fmt) {
    case CB_LB_MD: rc = write_md(lb, f); break;
    case CB_LB_CSV: rc = write_csv(lb, f); break;
    case CB_LB_JSON: rc = write_json(lb, f, err); break;
    default: rc = write_html(lb, f, err); break;
    }
    if (!rc && (fflush(f) != 0 || ferror(f))) rc = cb_err_set(err, CB_EIO, "writing the leaderboard: %s", strerror(errno));
    return rc;
}
