/* results/analysis.h — per-capability item scores of a run and the analyses
 * built on them: the capability profile with the bootstrap probability of
 * each capability being the weakest, the weakest-link analysis of TASKS.md §6
 * (with its alteration analysis) and the paired comparison of two runs.
 *
 * Pure numbers: the store reads the samples (cb_store_item_scores), this
 * module groups them and resamples, the commands (runner/cmd_analyze.c) and
 * the leaderboard (results/leaderboard.h) print. Nothing here does I/O.
 *
 * Items: a capability's unit is the item (samples of one item_id averaged
 * over repeats); samples without a score (failed requests, judge failures)
 * are left out and counted. Each item has
 *   key   — its item_seed when every item of the capability stored one, else
 *           fnv1a64 of item_hash (or item_id): two capabilities whose sorted
 *           key vectors are equal share items (R and S&R are the same problem
 *           instances with the same seeds, TASKS.md §3.2) and are resampled
 *           with one index vector per replicate;
 *   ident — item_hash when stored, else item_id: equal across runs for the
 *           same question, the join key of compare.
 * Scale: stored scores are in [0,1]; the weakest-link analysis uses the
 * scaled score S = 1 + 99·s ∈ [1,100], which for the 1–5 item scores of the
 * cross-capability family (s = (r−1)/4) is exactly TASKS.md §3.5's
 * r' = (r−1)·24.75 + 1.
 * Bootstrap (TASKS.md §0.5, §6 step 5): B replicates, each resampling the
 * items of every capability with replacement; the stream is cb_rng seeded
 * with splitmix64(global_seed XOR fnv1a64("bootstrap")), restarted for every
 * analysis cell so a cell's numbers do not depend on which other cells or runs
 * were analysed. Percentile intervals: 2.5 and 97.5 percentiles (linear
 * interpolation between order statistics).
 */
#ifndef CB_RESULTS_ANALYSIS_H
#define CB_RESULTS_ANALYSIS_H

#include "common/err.h"
#include "results/store.h"

#include <stddef.h>
#include <stdint.h>

#define CB_BOOTSTRAP_B 1000

/* One item of one capability. */
typedef struct cb_cap_item {
    uint64_t key;              /* sharing key (see above) */
    const char *ident;         /* join key across runs; points into the cb_item_score_set */
    double x;                  /* mean score over the item's scored repeats, in [0,1] */
} cb_cap_item;

/* The items of one capability label in one run, sorted by (key, ident). */
typedef struct cb_cap_data {
    char capability[256];
    cb_cap_item *items;
    size_t n;                  /* items with a score */
    int64_t n_samples;         /* samples carrying the label */
    int64_t n_unscored;        /* of which had no score (failed request, judge failure) */
    int64_t n_judge_failed;    /* of which were flagged judge_failed */
    int binary;                /* every sample score is exactly 0 or 1 */
    double mean;               /* over items; NaN when n == 0 */
    double se, ci_low, ci_high;/* Wilson when binary, else normal; NaN when undefined */
    int share;                 /* index of the first capability with the same key vector (itself if none) */
} cb_cap_data;

typedef struct cb_run_caps {
    cb_cap_data *caps;         /* sorted by label bytes */
    size_t n;
    uint64_t seed;             /* global seed of the run: the bootstrap stream's root */
} cb_run_caps;

/* Groups set (which must outlive *out: idents point into it) by capability
 * label. A sample with two labels counts under each. OUT *out (cleared first;
 * free with cb_run_caps_clear). Errors: CB_ENOMEM. */
int cb_run_caps_build(const cb_item_score_set *set, uint64_t seed, cb_run_caps *out, cb_err *err);
void cb_run_caps_clear(cb_run_caps *rc);
/* The capability with this label, or NULL. */
const cb_cap_data *cb_run_caps_find(const cb_run_caps *rc, const char *label);

/* The root of every bootstrap stream of a run with this global seed. */
uint64_t cb_bootstrap_seed(uint64_t global_seed);
/* The p-quantile (0..1) of x[0..n) with linear interpolation; sorts x. NaN for n == 0. */
double cb_quantile(double *x, size_t n, double p);

/* Bootstrap replicates of the means of caps[0..n) (n >= 1) on one stream
 * rooted at cb_bootstrap_seed(global_seed), capabilities of one share group
 * resampled with one index vector. OUT out[b*n + i] (caller-sized B*n): the
 * mean of caps[i] in replicate b. Returns 0, or -1 when out of memory. */
int cb_bootstrap_means(const cb_cap_data **caps, size_t n, uint64_t global_seed, int B, double *out);

/* ---- capability profile ---------------------------------------------------- */

typedef struct cb_profile_row {
    const cb_cap_data *cap;
    double p_weakest;          /* bootstrap share of replicates in which this capability had the lowest mean */
} cb_profile_row;

/* One row per capability with a score (same order as rc->caps, the others
 * skipped) and the bootstrap probability of being the weakest (B replicates;
 * ties count for the first in label order). OUT *rows (malloc'd, caller
 * frees), *n, *weakest (index into rows of the lowest mean; SIZE_MAX when no
 * row). Errors: CB_ENOMEM. */
int cb_profile(const cb_run_caps *rc, int B, cb_profile_row **rows, size_t *n, size_t *weakest, cb_err *err);

/* ---- weakest-link analysis (TASKS.md §6) --------------------------------------- */

typedef enum {
    CB_WL_NO_CLEAR_WEAK = 0,
    CB_WL_BELOW_BOTH = 1,
    CB_WL_BETWEEN_NEAR_WEAK = 2,
    CB_WL_MIDPOINT = 3,
    CB_WL_BETWEEN_NEAR_STRONG = 4,
    CB_WL_ABOVE_BOTH = 5,
    CB_WL_NCAT = 6
} cb_wl_category;

#define CB_WL_DEFAULT_DELTA 3.0
#define CB_WL_NDELTAS 4        /* the robustness thresholds Δ ∈ {0, 1, 3, 5} */
#define CB_WL_HIST_BINS 48     /* z histogram: width 0.25 over [−6, 6], outside values in the end bins */
#define CB_WL_MAX_JUDGE_FAILED 0.02

extern const double cb_wl_deltas[CB_WL_NDELTAS];

/* "BELOW_BOTH", ... */
const char *cb_wl_category_name(cb_wl_category c);
/* Classifies one cell with individual scores a, b, cross score c (all on
 * [1,100]) and threshold delta (§6 steps 1–3). OUT *z: the normalized
 * position, NaN for NO_CLEAR_WEAK. */
cb_wl_category cb_wl_classify(double a, double b, double c, double delta, double *z);
/* 1 for BELOW_BOTH and BETWEEN_NEAR_WEAK: the law of the weakest link holds. */
int cb_wl_obeys(cb_wl_category c);

/* One (run, cross capability) cell. */
typedef struct cb_wl_cell {
    int64_t run_id;
    char model[256];           /* filled by the caller (display only) */
    char cross[256], x[256], y[256]; /* "X&Y" and its parts */
    int refused;               /* 1: not analysed (see why) */
    char why[192];
    double a, b, c;            /* S_X, S_Y, S_{X&Y} on [1,100] */
    size_t n_a, n_b, n_c;      /* items behind each */
    double w, t, m, h;         /* weak, strong, midpoint, half gap */
    int weak_is_x;             /* 1 when X is the weak capability (t − w > Δ only) */
    double z;                  /* NaN for NO_CLEAR_WEAK */
    double c_minus_w, c_minus_m;
    cb_wl_category cat;        /* at the chosen Δ */
    cb_wl_category cat_delta[CB_WL_NDELTAS]; /* at Δ = 0, 1, 3, 5 */
    cb_wl_category modal;      /* bootstrap modal category */
    double modal_freq;         /* its share of the B replicates */
    double freq[CB_WL_NCAT];   /* share of every category */
    int unstable;              /* modal_freq < 0.8 */
    int shared;                /* the number of capability pairs of the cell resampled together */
} cb_wl_cell;

/* Every cross capability "X&Y" of the run whose X and Y the run also has:
 * one cell each, in label order. A cell is refused (listed, not tallied) when
 * X or Y is missing, a capability has no scored item, or a capability's
 * judge_failed share exceeds 2% (§3.5). OUT *cells (malloc'd, caller frees),
 * *n. Errors: CB_ENOMEM. */
int cb_wl_analyze(const cb_run_caps *rc, int64_t run_id, double delta, int B, cb_wl_cell **cells, size_t *n,
                  cb_err *err);

typedef struct cb_wl_summary {
    size_t n_cells;            /* analysed (not refused) cells */
    size_t counts[CB_WL_NCAT]; /* per category at the chosen Δ */
    size_t n_tally;            /* cells with a clear weak capability */
    size_t n_obey, n_below_both;
    double frac_obey;          /* n_obey / n_tally, NaN when 0 */
    double mean_c_minus_w;     /* over the tallied cells */
    size_t hist[CB_WL_HIST_BINS];
    size_t counts_delta[CB_WL_NDELTAS][CB_WL_NCAT];
    size_t n_unstable;
} cb_wl_summary;

/* Tallies the analysed cells (§6 step 4; cells of models in exclude_models,
 * a NULL-terminated list compared with cell.model, are left out — the judge's
 * own family, step 6). exclude_models may be NULL. */
void cb_wl_summarize(const cb_wl_cell *cells, size_t n, const char *const *exclude_models, cb_wl_summary *out);

/* Alteration analysis (§6): two runs of one model. One row per cross
 * capability present in both runs with both parts. */
typedef enum { CB_ALT_FALL = -1, CB_ALT_UNCHANGED = 0, CB_ALT_RISE = 1 } cb_alt_dir;

typedef struct cb_alt_row {
    char cross[256], x[256], y[256];
    double d[3], se[3];        /* Δa, Δb, Δc on [1,100] and the SE of each difference */
    cb_alt_dir dir[3];         /* rise/fall when |Δ| > 2·SE */
    int opposite;              /* the individual changes rise and fall */
    int weak_is_x;             /* X was the weaker in the baseline run */
    int tallied;               /* opposite and Δc itself rose or fell */
    int follows_weak;          /* tallied and Δc has the sign of the weaker one's change */
} cb_alt_row;

/* OUT *rows (malloc'd, caller frees), *n; SEs are paired where the items are
 * shared (same ident in both runs), else sqrt(se_a² + se_b²). */
int cb_alteration(const cb_run_caps *base, const cb_run_caps *alt, cb_alt_row **rows, size_t *n, cb_err *err);

/* ---- paired comparison of two runs ------------------------------------------ */

typedef struct cb_cmp_row {
    char capability[256];
    size_t n_pairs;            /* items with the same ident in both runs */
    double mean_a, mean_b;     /* over the paired items */
    double diff;               /* mean_b − mean_a */
    double ci_low, ci_high;    /* paired bootstrap 95% interval of diff */
    int binary;                /* every paired score is 0 or 1: McNemar applies */
    int64_t n_gain, n_loss;    /* binary only: wrong in A and right in B, right in A and wrong in B */
    double p_mcnemar;          /* exact (binomial) two-sided McNemar p; NaN when not binary */
    int regression;            /* diff < −threshold and ci_high < 0 */
    int improvement;           /* diff > threshold and ci_low > 0 */
} cb_cmp_row;

/* Compares the capabilities the two runs share, on the items they share.
 * Capabilities without a shared item are left out. seed roots the bootstrap
 * (the baseline run's global seed). OUT *rows (malloc'd, caller frees), *n.
 * Errors: CB_ENOMEM. */
int cb_compare(const cb_run_caps *a, const cb_run_caps *b, uint64_t seed, double threshold, int B, cb_cmp_row **rows,
               size_t *n, cb_err *err);

/* Exact two-sided McNemar p-value for k1 and k2 discordant pairs:
 * min(1, 2·P(X ≤ min(k1,k2))) with X ~ Binomial(k1+k2, 1/2); 1 when none. */
double cb_mcnemar_exact(int64_t k1, int64_t k2);

#endif
