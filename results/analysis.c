/* results/analysis.c — capability item sets, the bootstrap, the capability
 * profile and the paired comparison of two runs (see analysis.h for the
 * definitions). The weakest-link analysis lives in results/weakest_link.c.
 *
 * Grouping sorts (label, item_id) entries once; resampling draws index
 * vectors from one cb_rng per analysis cell. Nothing here reads the database
 * or prints.
 */
#include "results/analysis.h"

#include "common/rng.h"
#include "results/aggregate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t cb_bootstrap_seed(uint64_t global_seed) { return cb_splitmix64(global_seed ^ cb_fnv1a64_str("bootstrap")); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cb_quantile(double *x, size_t n, double p) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, cmp_double);
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return x[n - 1];
    double f = pos - (double)lo;
    return x[lo] + f * (x[lo + 1] - x[lo]);
}

/* ---- building the item sets ------------------------------------------------- */

typedef struct {
    const char *label;
    const cb_item_score *row;
} entry;

static int cmp_entry(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    int c = strcmp(a->label, b->label);
    if (c) return c;
    c = strcmp(a->row->item_id ? a->row->item_id : "", b->row->item_id ? b->row->item_id : "");
    if (c) return c;
    return a->row->repeat - b->row->repeat;
}

static int cmp_item(const void *pa, const void *pb) {
    const cb_cap_item *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return strcmp(a->ident, b->ident);
}

static const char *ident_of(const cb_item_score *r) {
    return r->item_hash && r->item_hash[0] ? r->item_hash : r->item_id ? r->item_id : "";
}

void cb_run_caps_clear(cb_run_caps *rc) {
    if (!rc) return;
    for (size_t i = 0; i < rc->n; i++) free(rc->caps[i].items);
    free(rc->caps);
    memset(rc, 0, sizeof *rc);
}

/* Fills cap from the entries e[0..n) of one label (sorted by item, repeat). */
static int build_cap(cb_cap_data *cap, const entry *e, size_t n) {
    snprintf(cap->capability, sizeof cap->capability, "%s", e[0].label);
    cap->items = calloc(n, sizeof *cap->items);
    if (!cap->items) return -1;
    int all_seed = 1;
    cap->binary = 1;
    for (size_t i = 0; i < n; i++) {
        const cb_item_score *r = e[i].row;
        cap->n_samples++;
        if (r->judge_failed) cap->n_judge_failed++;
        if (!isfinite(r->score)) cap->n_unscored++;
        else if (r->score != 0.0 && r->score != 1.0) cap->binary = 0;
        if (!r->has_seed) all_seed = 0;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double sum = 0;
        int k = 0;
        const char *id = e[i].row->item_id ? e[i].row->item_id : "";
        for (; j < n && strcmp(e[j].row->item_id ? e[j].row->item_id : "", id) == 0; j++)
            if (isfinite(e[j].row->score)) {
                sum += e[j].row->score;
                k++;
            }
        if (k > 0) {
            cb_cap_item *it = &cap->items[cap->n++];
            it->ident = ident_of(e[i].row);
            it->key = all_seed ? e[i].row->item_seed : cb_fnv1a64_str(it->ident);
            it->x = sum / k;
        }
        i = j;
    }
    qsort(cap->items, cap->n, sizeof *cap->items, cmp_item);
    cb_agg a;
    cb_agg_init(&a);
    for (size_t i = 0; i < cap->n; i++) cb_agg_add(&a, cap->items[i].x, 0, 0, 0, 0, 0);
    cb_summary s;
    cb_agg_summary(&a, &s);
    cap->mean = s.mean;
    cap->se = s.se;
    cap->ci_low = s.ci_low;
    cap->ci_high = s.ci_high;
    return 0;
}

static int same_keys(const cb_cap_data *a, const cb_cap_data *b) {
    if (a->n != b->n || a->n == 0) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->items[i].key != b->items[i].key) return 0;
    return 1;
}

int cb_run_caps_build(const cb_item_score_set *set, uint64_t seed, cb_run_caps *out, cb_err *err) {
    int rc = 0;
    size_t ne = 0, ncap = 0;
    entry *e = NULL;
    memset(out, 0, sizeof *out);
    out->seed = seed;
    if (set->n > SIZE_MAX / 2 / sizeof *e) return cb_err_set(err, CB_ENOMEM, "too many samples");
    e = malloc((set->n ? set->n : 1) * 2 * sizeof *e);
    if (!e) return cb_err_set(err, CB_ENOMEM, "out of memory grouping samples by capability");
    for (size_t i = 0; i < set->n; i++) {
        const cb_item_score *r = &set->rows[i];
        for (int k = 0; k < 2; k++) {
            if (!r->cap[k] || !r->cap[k][0]) continue;
            if (k == 1 && r->cap[0] && strcmp(r->cap[0], r->cap[1]) == 0) continue;
            e[ne].label = r->cap[k];
            e[ne].row = r;
            ne++;
        }
    }
    qsort(e, ne, sizeof *e, cmp_entry);
    for (size_t i = 0; i < ne; i++)
        if (i == 0 || strcmp(e[i].label, e[i - 1].label) != 0) ncap++;
    out->caps = calloc(ncap ? ncap : 1, sizeof *out->caps);
    if (!out->caps) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory grouping samples by capability");
        goto out;
    }
    for (size_t i = 0; i < ne;) {
        size_t j = i;
        while (j < ne && strcmp(e[j].label, e[i].label) == 0) j++;
        cb_cap_data *cap = &out->caps[out->n++];
        if (build_cap(cap, e + i, j - i)) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory grouping samples by capability");
            goto out;
        }
        i = j;
    }
    for (size_t i = 0; i < out->n; i++) {
        out->caps[i].share = (int)i;
        for (size_t j = 0; j < i; j++)
            if (same_keys(&out->caps[j], &out->caps[i])) {
                out->caps[i].share = out->caps[j].share;
                break;
            }
    }
out:
    free(e);
    if (rc) cb_run_caps_clear(out);
    return rc;
}

const cb_cap_data *cb_run_caps_find(const cb_run_caps *rc, const char *label) {
    size_t lo = 0, hi = rc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(label, rc->caps[mid].capability);
        if (c == 0) return &rc->caps[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- resampling ---------------------------------------------------------------- */

/* Index vectors for one replicate over a list of capabilities: a capability
 * whose share group was drawn earlier in the same replicate reuses that
 * vector (R and S&R), every other one gets a fresh draw. */
typedef struct {
    const cb_cap_data **caps;
    size_t n;
    uint32_t **idx;     /* idx[i]: caps[i]->n indices */
    int *src;           /* src[i]: the list position whose vector caps[i] uses */
} resampler;

static void resampler_free(resampler *r) {
    if (r->idx)
        for (size_t i = 0; i < r->n; i++) free(r->idx[i]);
    free(r->idx);
    free(r->src);
    memset(r, 0, sizeof *r);
}

static int resampler_init(resampler *r, const cb_cap_data **caps, size_t n) {
    memset(r, 0, sizeof *r);
    r->caps = caps;
    r->n = n;
    r->idx = calloc(n ? n : 1, sizeof *r->idx);
    r->src = calloc(n ? n : 1, sizeof *r->src);
    if (!r->idx || !r->src) goto nomem;
    for (size_t i = 0; i < n; i++) {
        r->src[i] = (int)i;
        for (size_t j = 0; j < i; j++)
            if (r->src[j] == (int)j && caps[j]->share == caps[i]->share && caps[j]->n == caps[i]->n) {
                r->src[i] = (int)j;
                break;
            }
        if (r->src[i] == (int)i && !(r->idx[i] = malloc((caps[i]->n ? caps[i]->n : 1) * sizeof *r->idx[i])))
            goto nomem;
    }
    return 0;
nomem:
    resampler_free(r);
    return -1;
}

/* Draws one replicate; OUT means[i] for every capability in the list. */
static void resample(resampler *r, cb_rng *rng, double *means) {
    for (size_t i = 0; i < r->n; i++) {
        const cb_cap_data *c = r->caps[i];
        if (r->src[i] == (int)i)
            for (size_t k = 0; k < c->n; k++) r->idx[i][k] = (uint32_t)cb_rng_uniform(rng, c->n);
        const uint32_t *idx = r->idx[r->src[i]];
        double s = 0;
        for (size_t k = 0; k < c->n; k++) s += c->items[idx[k]].x;
        means[i] = c->n ? s / (double)c->n : NAN;
    }
}

int cb_bootstrap_means(const cb_cap_data **caps, size_t n, uint64_t seed, int B, double *out) {
    resampler r;
    if (resampler_init(&r, caps, n)) return -1;
    cb_rng rng;
    cb_rng_seed(&rng, cb_bootstrap_seed(seed));
    for (int b = 0; b < B; b++) resample(&r, &rng, out + (size_t)b * n);
    resampler_free(&r);
    return 0;
}

/* ---- profile --------------------------------------------------------------------- */

int cb_profile(const cb_run_caps *rc, int B, cb_profile_row **rows, size_t *n, size_t *weakest, cb_err *err) {
    int rc_ = 0;
    size_t m = 0;
    const cb_cap_data **caps = calloc(rc->n ? rc->n : 1, sizeof *caps);
    cb_profile_row *out = calloc(rc->n ? rc->n : 1, sizeof *out);
    double *means = NULL;
    *rows = NULL;
    *n = 0;
    *weakest = SIZE_MAX;
    if (!caps || !out) goto nomem;
    for (size_t i = 0; i < rc->n; i++)
        if (rc->caps[i].n > 0) {
            caps[m] = &rc->caps[i];
            out[m].cap = &rc->caps[i];
            m++;
        }
    for (size_t i = 0; i < m; i++)
        if (*weakest == SIZE_MAX || caps[i]->mean < caps[*weakest]->mean) *weakest = i;
    if (m > 0 && B > 0) {
        if (!(means = malloc((size_t)B * m * sizeof *means))) goto nomem;
        if (cb_bootstrap_means(caps, m, rc->seed, B, means)) goto nomem;
        for (int b = 0; b < B; b++) {
            const double *v = means + (size_t)b * m;
            size_t best = 0;
            for (size_t i = 1; i < m; i++)
                if (v[i] < v[best]) best = i;
            out[best].p_weakest += 1.0 / B;
        }
    }
    *rows = out;
    *n = m;
    out = NULL;
    goto out;
nomem:
    rc_ = cb_err_set(err, CB_ENOMEM, "out of memory in the capability profile");
out:
    free(means);
    free(out);
    free(caps);
    return rc_;
}

/* ---- compare ------------------------------------------------------------------------ */

double cb_mcnemar_exact(int64_t k1, int64_t k2) {
    int64_t nn = k1 + k2, k = k1 < k2 ? k1 : k2;
    if (nn <= 0) return 1.0;
    double p = 0, lnn = lgamma((double)nn + 1);
    for (int64_t i = 0; i <= k; i++)
        p += exp(lnn - lgamma((double)i + 1) - lgamma((double)(nn - i) + 1) - (double)nn * log(2.0));
    p *= 2;
    return p > 1 ? 1 : p;
}

static int cmp_ident(const void *pa, const void *pb) {
    const cb_cap_item *a = *(const cb_cap_item *const *)pa, *b = *(const cb_cap_item *const *)pb;
    return strcmp(a->ident, b->ident);
}

/* Items of c sorted by ident. OUT array of pointers (caller frees). */
static const cb_cap_item **by_ident(const cb_cap_data *c) {
    const cb_cap_item **v = malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < c->n; i++) v[i] = &c->items[i];
    qsort(v, c->n, sizeof *v, cmp_ident);
    return v;
}

static int compare_cap(const cb_cap_data *ca, const cb_cap_data *cb, uint64_t seed, double threshold, int B,
                       cb_cmp_row *row) {
    int rc = -1;
    const cb_cap_item **va = by_ident(ca), **vb = by_ident(cb);
    size_t cap = ca->n < cb->n ? ca->n : cb->n, np = 0;
    double *xa = malloc((cap ? cap : 1) * sizeof *xa), *xb = malloc((cap ? cap : 1) * sizeof *xb);
    double *boot = malloc((size_t)(B > 0 ? B : 1) * sizeof *boot);
    if (!va || !vb || !xa || !xb || !boot) goto out;
    for (size_t i = 0, j = 0; i < ca->n && j < cb->n;) {
        int c = strcmp(va[i]->ident, vb[j]->ident);
        if (c == 0) {
            xa[np] = va[i]->x;
            xb[np] = vb[j]->x;
            np++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    memset(row, 0, sizeof *row);
    snprintf(row->capability, sizeof row->capability, "%s", ca->capability);
    row->n_pairs = np;
    row->p_mcnemar = NAN;
    double sa = 0, sb = 0;
    row->binary = np > 0;
    for (size_t i = 0; i < np; i++) {
        sa += xa[i];
        sb += xb[i];
        if ((xa[i] != 0 && xa[i] != 1) || (xb[i] != 0 && xb[i] != 1)) row->binary = 0;
    }
    row->mean_a = np ? sa / (double)np : NAN;
    row->mean_b = np ? sb / (double)np : NAN;
    row->diff = row->mean_b - row->mean_a;
    if (row->binary) {
        for (size_t i = 0; i < np; i++) {
            row->n_gain += xa[i] == 0 && xb[i] == 1;
            row->n_loss += xa[i] == 1 && xb[i] == 0;
        }
        row->p_mcnemar = cb_mcnemar_exact(row->n_gain, row->n_loss);
    }
    row->ci_low = row->ci_high = NAN;
    if (np > 0 && B > 0) {
        cb_rng rng;
        cb_rng_seed(&rng, cb_bootstrap_seed(seed));
        for (int b = 0; b < B; b++) {
            double s = 0;
            for (size_t k = 0; k < np; k++) {
                size_t i = (size_t)cb_rng_uniform(&rng, np);
                s += xb[i] - xa[i];
            }
            boot[b] = s / (double)np;
        }
        row->ci_low = cb_quantile(boot, (size_t)B, 0.025);
        row->ci_high = cb_quantile(boot, (size_t)B, 0.975);
    }
    row->regression = np > 0 && row->diff < -threshold && row->ci_high < 0;
    row->improvement = np > 0 && row->diff > threshold && row->ci_low > 0;
    rc = 0;
out:
    free(boot);
    free(xa);
    free(xb);
    free(va);
    free(vb);
    return rc;
}

int cb_compare(const cb_run_caps *a, const cb_run_caps *b, uint64_t seed, double threshold, int B, cb_cmp_row **rows,
               size_t *n, cb_err *err) {
    cb_cmp_row *out = calloc(a->n ? a->n : 1, sizeof *out);
    size_t m = 0;
    *rows = NULL;
    *n = 0;
    if (!out) return cb_err_set(err, CB_ENOMEM, "out of memory comparing runs");
    for (size_t i = 0; i < a->n; i++) {
        const cb_cap_data *cb_ = cb_run_caps_find(b, a->caps[i].capability);
        if (!cb_) continue;
        if (compare_cap(&a->caps[i], cb_, seed, threshold, B, &out[m])) {
            free(out);
            return cb_err_set(err, CB_ENOMEM, "out of memory comparing runs");
        }
        if (out[m].n_pairs > 0) m++;
    }
    *rows = out;
    *n = m;
    return 0;
}
