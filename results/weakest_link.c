/* results/weakest_link.c — the weakest-link analysis of TASKS.md §6 on the
 * capability item sets of results/analysis.h: classification of every
 * (run, cross capability) cell, its bootstrap stability, the tally in the
 * paper's form, the Δ sensitivity and the alteration analysis of two runs.
 *
 * Scores enter on the stored [0,1] scale and are analysed on S = 1 + 99·s
 * (analysis.h). It prints nothing; runner/cmd_analyze.c and the leaderboard
 * do.
 */
#include "results/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double cb_wl_deltas[CB_WL_NDELTAS] = {0, 1, 3, 5};

static const char *const cat_names[CB_WL_NCAT] = {"NO_CLEAR_WEAK",       "BELOW_BOTH", "BETWEEN_NEAR_WEAK",
                                                  "MIDPOINT",            "BETWEEN_NEAR_STRONG", "ABOVE_BOTH"};

const char *cb_wl_category_name(cb_wl_category c) { return (unsigned)c < CB_WL_NCAT ? cat_names[c] : "?"; }

int cb_wl_obeys(cb_wl_category c) { return c == CB_WL_BELOW_BOTH || c == CB_WL_BETWEEN_NEAR_WEAK; }

static double scaled(double s) { return 1.0 + 99.0 * s; }

cb_wl_category cb_wl_classify(double a, double b, double c, double delta, double *z) {
    double w = a < b ? a : b, t = a < b ? b : a, m = (w + t) / 2, h = (t - w) / 2;
    *z = NAN;
    if (t - w <= delta || h <= 0) return CB_WL_NO_CLEAR_WEAK;
    *z = (c - m) / h;
    if (fabs(c - m) <= 1e-9) return CB_WL_MIDPOINT;
    if (c < w) return CB_WL_BELOW_BOTH;
    if (c < m) return CB_WL_BETWEEN_NEAR_WEAK;
    if (c <= t) return CB_WL_BETWEEN_NEAR_STRONG;
    return CB_WL_ABOVE_BOTH;
}

/* Refuses a capability that cannot enter the analysis; returns 1 and fills why. */
static int refuse_cap(const cb_cap_data *c, const char *label, char *why, size_t cap) {
    if (!c) {
        snprintf(why, cap, "the run has no capability \"%s\"", label);
        return 1;
    }
    if (c->n == 0) {
        snprintf(why, cap, "\"%s\" has no scored item", label);
        return 1;
    }
    if (c->n_samples > 0 && (double)c->n_judge_failed / (double)c->n_samples > CB_WL_MAX_JUDGE_FAILED) {
        snprintf(why, cap, "\"%s\": %lld of %lld samples judge_failed (over 2%%)", label, (long long)c->n_judge_failed,
                 (long long)c->n_samples);
        return 1;
    }
    return 0;
}

static void analyze_cell(const cb_run_caps *rc, const cb_cap_data *xy, double delta, int B, cb_wl_cell *cell,
                         double *means) {
    snprintf(cell->cross, sizeof cell->cross, "%s", xy->capability);
    const char *amp = strchr(xy->capability, '&');
    snprintf(cell->x, sizeof cell->x, "%.*s", (int)(amp - xy->capability), xy->capability);
    snprintf(cell->y, sizeof cell->y, "%s", amp + 1);
    cell->z = cell->a = cell->b = cell->c = NAN;
    const cb_cap_data *cx = cb_run_caps_find(rc, cell->x), *cy = cb_run_caps_find(rc, cell->y);
    if (refuse_cap(cx, cell->x, cell->why, sizeof cell->why) || refuse_cap(cy, cell->y, cell->why, sizeof cell->why) ||
        refuse_cap(xy, cell->cross, cell->why, sizeof cell->why)) {
        cell->refused = 1;
        return;
    }
    cell->a = scaled(cx->mean);
    cell->b = scaled(cy->mean);
    cell->c = scaled(xy->mean);
    cell->n_a = cx->n;
    cell->n_b = cy->n;
    cell->n_c = xy->n;
    cell->w = fmin(cell->a, cell->b);
    cell->t = fmax(cell->a, cell->b);
    cell->m = (cell->w + cell->t) / 2;
    cell->h = (cell->t - cell->w) / 2;
    cell->weak_is_x = cell->a < cell->b;
    cell->c_minus_w = cell->c - cell->w;
    cell->c_minus_m = cell->c - cell->m;
    cell->cat = cb_wl_classify(cell->a, cell->b, cell->c, delta, &cell->z);
    for (int d = 0; d < CB_WL_NDELTAS; d++) {
        double z;
        cell->cat_delta[d] = cb_wl_classify(cell->a, cell->b, cell->c, cb_wl_deltas[d], &z);
    }
    cell->shared = (cx->share == cy->share) + (cx->share == xy->share) + (cy->share == xy->share);
    const cb_cap_data *three[3] = {cx, cy, xy};
    cell->modal = cell->cat;
    cell->modal_freq = 1;
    if (B <= 0 || cb_bootstrap_means(three, 3, rc->seed, B, means)) return;
    size_t cnt[CB_WL_NCAT] = {0};
    for (int b = 0; b < B; b++) {
        const double *v = means + (size_t)b * 3;
        double z;
        cnt[cb_wl_classify(scaled(v[0]), scaled(v[1]), scaled(v[2]), delta, &z)]++;
    }
    int best = 0;
    for (int k = 0; k < CB_WL_NCAT; k++) {
        cell->freq[k] = (double)cnt[k] / B;
        if (cnt[k] > cnt[best]) best = k;
    }
    cell->modal = (cb_wl_category)best;
    cell->modal_freq = cell->freq[best];
    cell->unstable = cell->modal_freq < 0.8;
}

int cb_wl_analyze(const cb_run_caps *rc, int64_t run_id, double delta, int B, cb_wl_cell **cells, size_t *n,
                  cb_err *err) {
    size_t m = 0;
    *cells = NULL;
    *n = 0;
    for (size_t i = 0; i < rc->n; i++) m += strchr(rc->caps[i].capability, '&') != NULL;
    cb_wl_cell *out = calloc(m ? m : 1, sizeof *out);
    double *means = malloc((size_t)(B > 0 ? B : 1) * 3 * sizeof *means);
    if (!out || !means) {
        free(out);
        free(means);
        return cb_err_set(err, CB_ENOMEM, "out of memory in the weakest-link analysis");
    }
    size_t k = 0;
    for (size_t i = 0; i < rc->n; i++) {
        const cb_cap_data *xy = &rc->caps[i];
        const char *amp = strchr(xy->capability, '&');
        if (!amp || amp == xy->capability || !amp[1]) continue;
        out[k].run_id = run_id;
        analyze_cell(rc, xy, delta, B, &out[k], means);
        k++;
    }
    free(means);
    *cells = out;
    *n = k;
    return 0;
}

void cb_wl_summarize(const cb_wl_cell *cells, size_t n, const char *const *exclude_models, cb_wl_summary *o) {
    memset(o, 0, sizeof *o);
    double sum_cw = 0;
    for (size_t i = 0; i < n; i++) {
        const cb_wl_cell *c = &cells[i];
        if (c->refused) continue;
        int skip = 0;
        for (size_t e = 0; exclude_models && exclude_models[e]; e++)
            if (strcmp(exclude_models[e], c->model) == 0) skip = 1;
        if (skip) continue;
        o->n_cells++;
        o->counts[c->cat]++;
        o->n_unstable += c->unstable;
        for (int d = 0; d < CB_WL_NDELTAS; d++) o->counts_delta[d][c->cat_delta[d]]++;
        if (c->cat == CB_WL_NO_CLEAR_WEAK) continue;
        o->n_tally++;
        o->n_obey += cb_wl_obeys(c->cat);
        o->n_below_both += c->cat == CB_WL_BELOW_BOTH;
        sum_cw += c->c_minus_w;
        long bin = (long)floor((c->z + 6.0) / 0.25);
        if (bin < 0) bin = 0;
        if (bin >= CB_WL_HIST_BINS) bin = CB_WL_HIST_BINS - 1;
        o->hist[bin]++;
    }
    o->frac_obey = o->n_tally ? (double)o->n_obey / (double)o->n_tally : NAN;
    o->mean_c_minus_w = o->n_tally ? sum_cw / (double)o->n_tally : NAN;
}

/* ---- alteration analysis --------------------------------------------------------- */

static int cmp_ident_ptr(const void *pa, const void *pb) {
    return strcmp((*(const cb_cap_item *const *)pa)->ident, (*(const cb_cap_item *const *)pb)->ident);
}

/* Δ = S_alt − S_base and its SE: paired over the items with the same ident
 * when every item of both runs pairs up, else from the two runs' SEs. */
static int diff_se(const cb_cap_data *b, const cb_cap_data *a, double *d, double *se) {
    *d = 99.0 * (a->mean - b->mean);
    *se = 99.0 * sqrt(b->se * b->se + a->se * a->se);
    if (b->n != a->n || b->n < 2) return 0;
    const cb_cap_item **vb = malloc(b->n * sizeof *vb), **va = malloc(a->n * sizeof *va);
    double *diff = malloc(b->n * sizeof *diff);
    if (!vb || !va || !diff) {
        free(vb);
        free(va);
        free(diff);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        vb[i] = &b->items[i];
        va[i] = &a->items[i];
    }
    qsort(vb, b->n, sizeof *vb, cmp_ident_ptr);
    qsort(va, a->n, sizeof *va, cmp_ident_ptr);
    int paired = 1;
    for (size_t i = 0; i < b->n && paired; i++) {
        if (strcmp(vb[i]->ident, va[i]->ident) != 0) paired = 0;
        diff[i] = va[i]->x - vb[i]->x;
    }
    if (paired) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < b->n; i++) mean += diff[i];
        mean /= (double)b->n;
        for (size_t i = 0; i < b->n; i++) ss += (diff[i] - mean) * (diff[i] - mean);
        *se = 99.0 * sqrt(ss / (double)(b->n - 1)) / sqrt((double)b->n);
    }
    free(vb);
    free(va);
    free(diff);
    return 0;
}

int cb_alteration(const cb_run_caps *base, const cb_run_caps *alt, cb_alt_row **rows, size_t *n, cb_err *err) {
    cb_alt_row *out = calloc(base->n ? base->n : 1, sizeof *out);
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    if (!out) return cb_err_set(err, CB_ENOMEM, "out of memory in the alteration analysis");
    for (size_t i = 0; i < base->n; i++) {
        const char *lab = base->caps[i].capability, *amp = strchr(lab, '&');
        if (!amp || amp == lab || !amp[1]) continue;
        cb_alt_row *r = &out[m];
        memset(r, 0, sizeof *r);
        snprintf(r->cross, sizeof r->cross, "%s", lab);
        snprintf(r->x, sizeof r->x, "%.*s", (int)(amp - lab), lab);
        snprintf(r->y, sizeof r->y, "%s", amp + 1);
        const cb_cap_data *bc[3] = {cb_run_caps_find(base, r->x), cb_run_caps_find(base, r->y), &base->caps[i]};
        const cb_cap_data *ac[3] = {cb_run_caps_find(alt, r->x), cb_run_caps_find(alt, r->y),
                                    cb_run_caps_find(alt, lab)};
        int ok = 1;
        for (int k = 0; k < 3; k++) ok &= bc[k] && ac[k] && bc[k]->n > 0 && ac[k]->n > 0;
        if (!ok) continue;
        for (int k = 0; k < 3; k++) {
            if (diff_se(bc[k], ac[k], &r->d[k], &r->se[k])) {
                free(out);
                return cb_err_set(err, CB_ENOMEM, "out of memory in the alteration analysis");
            }
            r->dir[k] = !(fabs(r->d[k]) > 2 * r->se[k]) ? CB_ALT_UNCHANGED : r->d[k] > 0 ? CB_ALT_RISE : CB_ALT_FALL;
        }
        r->weak_is_x = bc[0]->mean < bc[1]->mean;
        r->opposite = r->dir[0] * r->dir[1] == -1;
        r->tallied = r->opposite && r->dir[2] != CB_ALT_UNCHANGED;
        r->follows_weak = r->tallied && r->dir[2] == r->dir[r->weak_is_x ? 0 : 1];
        m++;
    }
    *rows = out;
    *n = m;
    return 0;
}
