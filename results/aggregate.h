/* results/aggregate.h — turning sample scores into means with 95% intervals
 * (TASKS.md §0.5), per group: task/subtask/setting, capability, whole run.
 *
 * Pure functions over in-memory numbers: no SQL, no I/O. The store reads the
 * numbers (cb_store_sample_stats), this module summarizes them, the report
 * writers print the summaries.
 *
 * Statistics, for the n_scored samples that have a score x_i:
 *   mean = sum x_i / n;  sd = sqrt(sum (x_i - mean)^2 / (n - 1)) (sample sd,
 *   NaN for n < 2);  se = sd / sqrt(n).
 *   95% interval: when every score is exactly 0 or 1 (a proportion) the Wilson
 *   score interval with z = 1.959964 (defined for n >= 1, also at 0/n and n/n);
 *   otherwise the normal interval mean ± z·se (NaN for n < 2). Intervals are
 *   not clipped to [0,1] by the normal method.
 * One denominator: samples without a score (failed requests, which the
 * scheduler leaves unscored) count in n and n_failed only; the mean and every
 * rate (unparsed, format violation) are over the n_scored answered samples,
 * where an unparsed answer scores 0. A failed request is never wrong.
 */
#ifndef CB_RESULTS_AGGREGATE_H
#define CB_RESULTS_AGGREGATE_H

#include "results/store.h"

#include <stddef.h>
#include <stdint.h>

#define CB_Z95 1.959964

/* Arithmetic mean of x[0..n); NaN for n == 0. */
double cb_stat_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 denominator); NaN for n < 2. */
double cb_stat_sd(const double *x, size_t n);
/* Wilson score interval for k successes in n trials at the given z.
 * OUT *lo, *hi in [0,1]. n == 0 gives NaN, NaN. Returns 0, or -1 for k > n. */
int cb_stat_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);

/* Running accumulator (Welford) for one group. Zero-initialize or cb_agg_init. */
typedef struct cb_agg {
    int64_t n;                 /* samples added */
    int64_t n_scored;          /* with a finite score */
    int64_t n_unparsed, n_failed;
    int64_t n_nonbinary;       /* scored samples whose score is not exactly 0 or 1 */
    int64_t n_format_violation;
    int64_t n_unscored;        /* no failed request, but no score either (judge_failed) */
    int64_t judge_calls, judge_tokens;
    double sum, mean, m2;      /* sum and Welford mean / sum of squared deviations of scores */
    int64_t prompt_tokens, completion_tokens;
    double latency_sum;
} cb_agg;

void cb_agg_init(cb_agg *a);
/* Adds one sample; score NaN = no score. Negative token counts or latencies
 * (unknown) add nothing to those sums. */
void cb_agg_add(cb_agg *a, double score, int unparsed, int failed, int prompt_tokens, int completion_tokens,
                double latency_s);
void cb_agg_add_stat(cb_agg *a, const cb_sample_stat *st);

typedef enum { CB_CI_NONE = 0, CB_CI_WILSON = 1, CB_CI_NORMAL = 2 } cb_ci_method;

typedef struct cb_summary {
    int64_t n, n_scored, n_unparsed, n_failed;
    double mean, sd, se, ci_low, ci_high;  /* NaN when undefined */
    cb_ci_method ci_method;                /* NONE when n_scored == 0 */
    int64_t n_format_violation;
    int64_t n_unscored;                    /* judge_failed and the like: no score, not failed */
    int64_t judge_calls, judge_tokens;
    double unparsed_rate;                  /* n_unparsed / n_scored (NaN for n_scored == 0) */
    double format_violation_rate;          /* n_format_violation / n_scored */
    int64_t prompt_tokens, completion_tokens;
    double mean_latency_s;                 /* latency_sum / n (NaN for n == 0) */
} cb_summary;

/* Summarizes an accumulator with the rules at the top of this file. */
void cb_agg_summary(const cb_agg *a, cb_summary *out);

const char *cb_ci_method_name(cb_ci_method m); /* "wilson", "normal", "" */

/* Grouping of a run's samples. */
typedef enum {
    CB_GROUP_ALL = 0,          /* one group: the whole run (key "all") */
    CB_GROUP_TASK = 1,         /* key: task */
    CB_GROUP_SETTING = 2,      /* key: task / subtask / setting (each part may be "") */
    CB_GROUP_CAPABILITY = 3,   /* key: a capability label; a sample counts under each of its
                                  (distinct) labels, a sample without labels under none */
    CB_GROUP_CAPABILITY_SETTING = 4, /* key: (label, setting), plus (label, "") over all settings */
    CB_GROUP_SETTING_BY = 5    /* key: task / subtask / setting / the row's `by` value (numbers in
                                  numeric order) */
} cb_group_by;

typedef struct cb_group {
    char task[128], subtask[128], setting[128]; /* the parts of the key that apply, else "" */
    char capability[256];                       /* CB_GROUP_CAPABILITY(_SETTING) only */
    char by[128];                               /* CB_GROUP_SETTING_BY only */
    cb_summary sum;
} cb_group;

/* Groups the samples of set by `by` and summarizes each group. OUT *groups
 * (malloc'd array sorted by key bytes; caller frees) and *n. Longer strings
 * than the fields hold are cut (keys are short names in practice). Errors:
 * CB_ENOMEM. */
int cb_aggregate(const cb_stat_set *set, cb_group_by by, cb_group **groups, size_t *n, cb_err *err);

#endif
