/* tests/results/test_aggregate.c — means, sample sd, standard errors, Wilson
 * and normal intervals and grouping (results/aggregate.c) against values
 * computed by hand (TASKS.md §0.5, z = 1.959964). */
#include "results/aggregate.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6

Test(aggregate, mean_and_sample_sd) {
    double x[] = {0.2, 0.5, 0.9, 1.0};
    cr_assert_float_eq(cb_stat_mean(x, 4), 0.65, EPS);
    /* sum of squared deviations 0.41, / (n-1) = 0.136667, sqrt = 0.369685 */
    cr_assert_float_eq(cb_stat_sd(x, 4), 0.3696845502, EPS);
    cr_assert(isnan(cb_stat_mean(x, 0)));
    cr_assert(isnan(cb_stat_sd(x, 1)));
}

Test(aggregate, wilson_hand_values) {
    double lo, hi;
    cr_assert_eq(cb_stat_wilson(8, 10, CB_Z95, &lo, &hi), 0);
    cr_assert_float_eq(lo, 0.490162, EPS);
    cr_assert_float_eq(hi, 0.943318, EPS);
    cb_stat_wilson(0, 10, CB_Z95, &lo, &hi);
    cr_assert_float_eq(lo, 0.0, 1e-12);
    cr_assert_float_eq(hi, 0.277533, EPS);
    cb_stat_wilson(10, 10, CB_Z95, &lo, &hi);
    cr_assert_float_eq(lo, 0.722467, EPS);
    cr_assert_float_eq(hi, 1.0, 1e-12);
    cb_stat_wilson(3, 7, CB_Z95, &lo, &hi);
    cr_assert_float_eq(lo, 0.158220, EPS);
    cr_assert_float_eq(hi, 0.749542, EPS);
    cb_stat_wilson(0, 0, CB_Z95, &lo, &hi);
    cr_assert(isnan(lo) && isnan(hi));
    cr_assert_eq(cb_stat_wilson(11, 10, CB_Z95, &lo, &hi), -1);
}

Test(aggregate, binary_scores_get_wilson) {
    cb_agg a;
    cb_agg_init(&a);
    for (int i = 0; i < 10; i++) cb_agg_add(&a, i < 8 ? 1.0 : 0.0, i == 9, 0, 100, 10, 0.5);
    cb_summary s;
    cb_agg_summary(&a, &s);
    cr_assert_eq(s.n, 10);
    cr_assert_eq(s.n_scored, 10);
    cr_assert_eq(s.ci_method, CB_CI_WILSON);
    cr_assert_float_eq(s.mean, 0.8, EPS);
    cr_assert_float_eq(s.ci_low, 0.490162, EPS);
    cr_assert_float_eq(s.ci_high, 0.943318, EPS);
    /* sd of eight 1s and two 0s: sqrt(1.6 / 9) */
    cr_assert_float_eq(s.sd, sqrt(1.6 / 9.0), EPS);
    cr_assert_float_eq(s.se, sqrt(1.6 / 9.0) / sqrt(10.0), EPS);
    cr_assert_float_eq(s.unparsed_rate, 0.1, EPS);
    cr_assert_eq(s.prompt_tokens, 1000);
    cr_assert_eq(s.completion_tokens, 100);
    cr_assert_float_eq(s.mean_latency_s, 0.5, EPS);
    cr_assert_str_eq(cb_ci_method_name(s.ci_method), "wilson");
}

Test(aggregate, continuous_scores_get_normal_interval) {
    double x[] = {0.2, 0.5, 0.9, 1.0};
    cb_agg a;
    cb_agg_init(&a);
    for (int i = 0; i < 4; i++) cb_agg_add(&a, x[i], 0, 0, 0, 0, 0);
    cb_agg_add(&a, NAN, 1, 1, -1, -1, -1); /* a failed sample: counted, not scored */
    cb_summary s;
    cb_agg_summary(&a, &s);
    cr_assert_eq(s.n, 5);
    cr_assert_eq(s.n_scored, 4);
    cr_assert_eq(s.n_failed, 1);
    cr_assert_eq(s.ci_method, CB_CI_NORMAL);
    cr_assert_float_eq(s.mean, 0.65, EPS);
    cr_assert_float_eq(s.sd, 0.3696845502, EPS);
    cr_assert_float_eq(s.se, 0.1848422751, EPS);
    cr_assert_float_eq(s.ci_low, 0.2877157951, EPS);
    cr_assert_float_eq(s.ci_high, 1.0122842049, EPS); /* not clipped */
    /* one denominator: a failed request is not an unparsed answer, rates are over the 4 answered */
    cr_assert_eq(s.n_unparsed, 0);
    cr_assert_float_eq(s.unparsed_rate, 0.0, EPS);
    cr_assert_eq(s.prompt_tokens, 0);
}

Test(aggregate, empty_and_single) {
    cb_agg a;
    cb_agg_init(&a);
    cb_summary s;
    cb_agg_summary(&a, &s);
    cr_assert_eq(s.n, 0);
    cr_assert(isnan(s.mean) && isnan(s.ci_low) && isnan(s.unparsed_rate));
    cr_assert_eq(s.ci_method, CB_CI_NONE);
    cb_agg_add(&a, 0.5, 0, 0, 0, 0, 0);
    cb_agg_summary(&a, &s);
    cr_assert_float_eq(s.mean, 0.5, EPS);
    cr_assert(isnan(s.sd) && isnan(s.ci_low) && isnan(s.ci_high));
    cr_assert_eq(s.ci_method, CB_CI_NORMAL);
}

static cb_sample_stat row(const char *task, const char *sub, const char *set, const char *c1, const char *c2,
                          double score) {
    cb_sample_stat r;
    memset(&r, 0, sizeof r);
    r.task = task;
    r.subtask = sub;
    r.setting = set;
    r.cap[0] = c1;
    r.cap[1] = c2;
    r.score = score;
    r.prompt_tokens = 10;
    r.completion_tokens = 2;
    r.latency_s = 1.0;
    return r;
}

Test(aggregate, grouping) {
    cb_sample_stat rows[] = {
        row("counting", "char", "plain", "counting", NULL, 1),
        row("cross", "r", "a", "Reasoning", NULL, 0.5),
        row("counting", "word", "plain", "counting", NULL, 0),
        row("cross", "sr", "a", "Spanish&Reasoning", NULL, 0.25),
        row("counting", "char", "plain", "counting", NULL, 1),
        row("cross", "r", "a", "Reasoning", NULL, 1.0),
        row("none", "x", "y", NULL, NULL, 1),
    };
    cb_stat_set set = {rows, sizeof rows / sizeof rows[0], NULL};
    cb_group *g = NULL;
    size_t n = 0;
    cb_err err = {0};

    cr_assert_eq(cb_aggregate(&set, CB_GROUP_ALL, &g, &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(g[0].task, "all");
    cr_assert_eq(g[0].sum.n, 7);
    cr_assert_float_eq(g[0].sum.mean, 4.75 / 7, EPS);
    cr_assert_eq(g[0].sum.ci_method, CB_CI_NORMAL);
    cr_assert_eq(g[0].sum.prompt_tokens, 70);
    free(g);

    cr_assert_eq(cb_aggregate(&set, CB_GROUP_SETTING, &g, &n, &err), 0);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(g[0].task, "counting");
    cr_assert_str_eq(g[0].subtask, "char");
    cr_assert_eq(g[0].sum.n, 2);
    cr_assert_eq(g[0].sum.ci_method, CB_CI_WILSON);
    cr_assert_float_eq(g[0].sum.mean, 1.0, EPS);
    cr_assert_str_eq(g[1].subtask, "word");
    cr_assert_str_eq(g[2].task, "cross");
    cr_assert_str_eq(g[2].subtask, "r");
    cr_assert_float_eq(g[2].sum.mean, 0.75, EPS);
    cr_assert_str_eq(g[3].subtask, "sr");
    cr_assert_str_eq(g[4].task, "none");
    free(g);

    cr_assert_eq(cb_aggregate(&set, CB_GROUP_CAPABILITY, &g, &n, &err), 0);
    cr_assert_eq(n, 3); /* the unlabelled sample is skipped */
    cr_assert_str_eq(g[0].capability, "Reasoning");
    cr_assert_eq(g[0].sum.n, 2);
    cr_assert_float_eq(g[0].sum.mean, 0.75, EPS);
    cr_assert_str_eq(g[1].capability, "Spanish&Reasoning"); /* a cross capability is its own label */
    cr_assert_eq(g[1].sum.n, 1);
    cr_assert_str_eq(g[2].capability, "counting");
    cr_assert_eq(g[2].sum.n, 3);
    cr_assert_float_eq(g[2].sum.mean, 2.0 / 3, EPS);
    free(g);

    cr_assert_eq(cb_aggregate(&set, CB_GROUP_TASK, &g, &n, &err), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(g[1].task, "cross");
    cr_assert_eq(g[1].sum.n, 3);
    free(g);
}

Test(aggregate, two_labels_count_under_each) {
    /* counting items carry the family label and the subtask's label */
    cb_sample_stat rows[] = {
        row("counting", "char_occur", "direct", "char_perception", "char_counting", 1),
        row("counting", "word_len", "direct", "char_perception", "length_counting", 0),
        row("counting", "char_occur", "direct", "char_perception", "char_counting", 1),
        row("t", "", "", "same", "same", 0), /* a repeated label counts once */
    };
    cb_stat_set set = {rows, 4, NULL};
    cb_group *g = NULL;
    size_t n = 0;
    cr_assert_eq(cb_aggregate(&set, CB_GROUP_CAPABILITY, &g, &n, NULL), 0);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(g[0].capability, "char_counting");
    cr_assert_eq(g[0].sum.n, 2);
    cr_assert_float_eq(g[0].sum.mean, 1.0, EPS);
    cr_assert_str_eq(g[1].capability, "char_perception");
    cr_assert_eq(g[1].sum.n, 3);
    cr_assert_float_eq(g[1].sum.mean, 2.0 / 3, EPS);
    cr_assert_str_eq(g[2].capability, "length_counting");
    cr_assert_eq(g[2].sum.n, 1);
    cr_assert_str_eq(g[3].capability, "same");
    cr_assert_eq(g[3].sum.n, 1);
    free(g);
}

Test(aggregate, empty_set) {
    cb_stat_set set = {NULL, 0, NULL};
    cb_group *g = NULL;
    size_t n = 9;
    cr_assert_eq(cb_aggregate(&set, CB_GROUP_SETTING, &g, &n, NULL), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(g);
    cr_assert_eq(cb_aggregate(&set, CB_GROUP_ALL, &g, &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(g[0].sum.n, 0);
    free(g);
}
