/* results/aggregate.c — means, sample sd, standard errors and 95% intervals
 * per group of samples (see aggregate.h for the exact rules).
 *
 * Grouping sorts (sample, label) entries by the full group key (so long names
 * never merge two groups) and runs one Welford accumulator per run of equal
 * keys.
 * Nothing here touches the database or prints.
 */
#include "results/aggregate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double cb_stat_mean(const double *x, size_t n) {
    if (n == 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

double cb_stat_sd(const double *x, size_t n) {
    if (n < 2) return NAN;
    double m = cb_stat_mean(x, n), ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

int cb_stat_wilson(int64_t k, int64_t n, double z, double *lo, double *hi) {
    if (k < 0 || k > n) {
        *lo = *hi = NAN;
        return -1;
    }
    if (n == 0) {
        *lo = *hi = NAN;
        return 0;
    }
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / denom;
    double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    double l = centre - half, h = centre + half;
    /* exact ends: at k = 0 the lower bound is 0, at k = n the upper is 1 (rounding aside) */
    if (k == 0 || l < 0) l = 0;
    if (k == n || h > 1) h = 1;
    *lo = l;
    *hi = h;
    return 0;
}

void cb_agg_init(cb_agg *a) { memset(a, 0, sizeof *a); }

void cb_agg_add(cb_agg *a, double score, int unparsed, int failed, int prompt_tokens, int completion_tokens,
                double latency_s) {
    a->n++;
    if (failed) a->n_failed++;
    else if (unparsed) a->n_unparsed++; /* a failed request was never read */
    if (prompt_tokens > 0) a->prompt_tokens += prompt_tokens;
    if (completion_tokens > 0) a->completion_tokens += completion_tokens;
    if (latency_s > 0 && isfinite(latency_s)) a->latency_sum += latency_s;
    if (!isfinite(score)) return;
    a->n_scored++;
    if (score != 0.0 && score != 1.0) a->n_nonbinary++;
    a->sum += score;
    double d = score - a->mean;
    a->mean += d / (double)a->n_scored;
    a->m2 += d * (score - a->mean);
}

void cb_agg_add_stat(cb_agg *a, const cb_sample_stat *st) {
    cb_agg_add(a, st->score, st->unparsed, st->failed, st->prompt_tokens, st->completion_tokens, st->latency_s);
    if (st->format_violation && !st->failed && isfinite(st->score)) a->n_format_violation++;
    if (!st->failed && !isfinite(st->score)) a->n_unscored++;
    a->judge_calls += st->judge_calls;
    a->judge_tokens += st->judge_tokens;
}

void cb_agg_summary(const cb_agg *a, cb_summary *o) {
    memset(o, 0, sizeof *o);
    o->n = a->n;
    o->n_scored = a->n_scored;
    o->n_unparsed = a->n_unparsed;
    o->n_failed = a->n_failed;
    o->prompt_tokens = a->prompt_tokens;
    o->completion_tokens = a->completion_tokens;
    o->n_format_violation = a->n_format_violation;
    o->n_unscored = a->n_unscored;
    o->judge_calls = a->judge_calls;
    o->judge_tokens = a->judge_tokens;
    /* one denominator: the answered samples (failed requests are counted apart) */
    o->unparsed_rate = a->n_scored ? (double)a->n_unparsed / (double)a->n_scored : NAN;
    o->format_violation_rate = a->n_scored ? (double)a->n_format_violation / (double)a->n_scored : NAN;
    o->mean_latency_s = a->n ? a->latency_sum / (double)a->n : NAN;
    o->mean = o->sd = o->se = o->ci_low = o->ci_high = NAN;
    o->ci_method = CB_CI_NONE;
    if (a->n_scored == 0) return;
    double ns = (double)a->n_scored;
    o->mean = a->sum / ns; /* the plain sum is exact for 0/1 scores; Welford's mean serves m2 */
    if (a->n_scored >= 2) {
        o->sd = sqrt(a->m2 / (ns - 1.0));
        o->se = o->sd / sqrt(ns);
    }
    if (a->n_nonbinary == 0) {
        o->ci_method = CB_CI_WILSON;
        int64_t k = (int64_t)llround(a->sum);
        cb_stat_wilson(k, a->n_scored, CB_Z95, &o->ci_low, &o->ci_high);
    } else {
        o->ci_method = CB_CI_NORMAL;
        if (a->n_scored >= 2) {
            o->ci_low = o->mean - CB_Z95 * o->se;
            o->ci_high = o->mean + CB_Z95 * o->se;
        }
    }
}

const char *cb_ci_method_name(cb_ci_method m) {
    switch (m) {
    case CB_CI_WILSON: return "wilson";
    case CB_CI_NORMAL: return "normal";
    default: return "";
    }
}

/* ---- grouping ------------------------------------------------------------ */

/* One (sample, label) pair: a sample with two capability labels appears twice
 * when grouping by capability, once per label; otherwise slot is 0 and unused. */
typedef struct {
    size_t row;
    int slot;
    int pooled; /* CB_GROUP_CAPABILITY_SETTING: the entry of the all-settings row */
} entry;

typedef struct {
    const cb_stat_set *set;
    cb_group_by by;
} group_ctx;

static const char *nz(const char *s) { return s ? s : ""; }

/* Breakdown values: numbers in numeric order before other text (so gold 2
 * sorts before 10), then bytes. */
static int by_cmp(const char *a, const char *b) {
    a = nz(a);
    b = nz(b);
    char *ea = NULL, *eb = NULL;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    int na = *a && !*ea, nb = *b && !*eb;
    if (na && nb && x != y) return x < y ? -1 : 1;
    if (na != nb) return na ? -1 : 1;
    return strcmp(a, b);
}

/* Compares the group keys of two entries: 0 when they fall in one group. */
static int key_cmp(const group_ctx *g, const entry *ea, const entry *eb) {
    const cb_sample_stat *a = &g->set->rows[ea->row], *b = &g->set->rows[eb->row];
    int c;
    switch (g->by) {
    case CB_GROUP_ALL: return 0;
    case CB_GROUP_TASK: return strcmp(nz(a->task), nz(b->task));
    case CB_GROUP_SETTING:
        if ((c = strcmp(nz(a->task), nz(b->task)))) return c;
        if ((c = strcmp(nz(a->subtask), nz(b->subtask)))) return c;
        return strcmp(nz(a->setting), nz(b->setting));
    case CB_GROUP_CAPABILITY: return strcmp(a->cap[ea->slot], b->cap[eb->slot]);
    case CB_GROUP_CAPABILITY_SETTING:
        if ((c = strcmp(a->cap[ea->slot], b->cap[eb->slot]))) return c;
        if (ea->pooled != eb->pooled) return ea->pooled ? -1 : 1; /* the all-settings row first */
        return ea->pooled ? 0 : strcmp(nz(a->setting), nz(b->setting));
    case CB_GROUP_SETTING_BY:
        if ((c = strcmp(nz(a->task), nz(b->task)))) return c;
        if ((c = strcmp(nz(a->subtask), nz(b->subtask)))) return c;
        if ((c = strcmp(nz(a->setting), nz(b->setting)))) return c;
        return by_cmp(a->by, b->by);
    }
    return 0;
}

static int entry_cmp(const void *pa, const void *pb, void *vctx) {
    const entry *a = pa, *b = pb;
    int c = key_cmp(vctx, a, b);
    if (c) return c;
    return a->row < b->row ? -1 : a->row > b->row; /* stable */
}

static void copy_cut(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", nz(src)); }

static void fill_key(cb_group *g, const cb_sample_stat *r, int slot, int pooled, cb_group_by by) {
    switch (by) {
    case CB_GROUP_ALL: copy_cut(g->task, sizeof g->task, "all"); break;
    case CB_GROUP_TASK: copy_cut(g->task, sizeof g->task, r->task); break;
    case CB_GROUP_SETTING:
        copy_cut(g->task, sizeof g->task, r->task);
        copy_cut(g->subtask, sizeof g->subtask, r->subtask);
        copy_cut(g->setting, sizeof g->setting, r->setting);
        break;
    case CB_GROUP_CAPABILITY: copy_cut(g->capability, sizeof g->capability, r->cap[slot]); break;
    case CB_GROUP_CAPABILITY_SETTING:
        copy_cut(g->capability, sizeof g->capability, r->cap[slot]);
        /* "" marks the all-settings row; a sample without a setting gets "(none)" */
        copy_cut(g->setting, sizeof g->setting, pooled ? "" : r->setting && r->setting[0] ? r->setting : "(none)");
        break;
    case CB_GROUP_SETTING_BY:
        copy_cut(g->task, sizeof g->task, r->task);
        copy_cut(g->subtask, sizeof g->subtask, r->subtask);
        copy_cut(g->setting, sizeof g->setting, r->setting);
        copy_cut(g->by, sizeof g->by, r->by);
        break;
    }
}

static int has_label(const cb_sample_stat *r, int slot) {
    if (!r->cap[slot] || !r->cap[slot][0]) return 0;
    return slot == 0 || !r->cap[0] || strcmp(r->cap[0], r->cap[1]) != 0; /* a repeated label counts once */
}

int cb_aggregate(const cb_stat_set *set, cb_group_by by, cb_group **groups, size_t *n_groups, cb_err *err) {
    int rc = 0;
    entry *ent = NULL;
    size_t m = 0, ng = 0;
    cb_group *out = NULL;
    *groups = NULL;
    *n_groups = 0;
    if (set->n == 0 && by != CB_GROUP_ALL) return 0;
    if (set->n > SIZE_MAX / (4 * sizeof *ent)) return cb_err_set(err, CB_ENOMEM, "aggregate: too many samples");
    ent = malloc((set->n ? 4 * set->n : 1) * sizeof *ent);
    if (!ent) {
        rc = cb_err_set(err, CB_ENOMEM, "aggregate: out of memory for %zu samples", set->n);
        goto out;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (by != CB_GROUP_CAPABILITY && by != CB_GROUP_CAPABILITY_SETTING) {
            ent[m++] = (entry){i, 0, 0};
            continue;
        }
        for (int slot = 0; slot < 2; slot++) {
            if (!has_label(&set->rows[i], slot)) continue;
            ent[m++] = (entry){i, slot, by == CB_GROUP_CAPABILITY_SETTING};
            if (by == CB_GROUP_CAPABILITY_SETTING) ent[m++] = (entry){i, slot, 0};
        }
    }
    group_ctx ctx = {set, by};
    qsort_r(ent, m, sizeof *ent, entry_cmp, &ctx);
    size_t cap = by == CB_GROUP_ALL ? 1 : 0;
    if (by != CB_GROUP_ALL)
        for (size_t i = 0; i < m; i++)
            if (i == 0 || key_cmp(&ctx, &ent[i - 1], &ent[i])) cap++;
    if (cap == 0) goto out;
    out = calloc(cap, sizeof *out);
    if (!out) {
        rc = cb_err_set(err, CB_ENOMEM, "aggregate: out of memory for %zu groups", cap);
        goto out;
    }
    if (by == CB_GROUP_ALL) {
        cb_agg a;
        cb_agg_init(&a);
        for (size_t i = 0; i < m; i++) cb_agg_add_stat(&a, &set->rows[ent[i].row]);
        fill_key(&out[0], NULL, 0, 0, by);
        cb_agg_summary(&a, &out[0].sum);
        ng = 1;
    } else {
        size_t i = 0;
        while (i < m) {
            size_t j = i;
            cb_agg a;
            cb_agg_init(&a);
            while (j < m && key_cmp(&ctx, &ent[i], &ent[j]) == 0) cb_agg_add_stat(&a, &set->rows[ent[j++].row]);
            fill_key(&out[ng], &set->rows[ent[i].row], ent[i].slot, ent[i].pooled, by);
            cb_agg_summary(&a, &out[ng].sum);
            ng++;
            i = j;
        }
    }
    *groups = out;
    *n_groups = ng;
    out = NULL;
out:
    free(out);
    free(ent);
    return rc;
}
