/* results/report.h — the summary of one stored run, and its writers for
 * `capbench report`: an aligned terminal table, Markdown, CSV and JSON.
 *
 * A report is built from the samples of a run (never from cached
 * capability_scores, so it always matches the samples): one row for the whole
 * run, one per (task, subtask, setting), one per capability label and, on
 * request, one per (task, subtask, setting, breakdown value). Each row holds
 * (TASKS.md 0.6 rule 1, 1.5): n answered, the primary accuracy with its 95%
 * interval (Wilson for 0/1 scores, normal otherwise), the majority baseline
 * (and chance 0.5 for Yes/No golds) with a mark where the interval includes
 * it, unparsed and format-violation rates, failed requests counted apart, the
 * means of the continuous metrics (soft accuracy, MAE, signed error,
 * off-by-one, q_gold, expected error, Brier, gold log-prob, ...), tokens and
 * latency. One denominator: n, the mean and every rate are over the answered
 * samples; a failed request is in `failed` only, never wrong. Reading only:
 * building a report writes nothing to the database.
 *
 * CSV layout (RFC 4180: fields with a comma, quote or line break are quoted,
 * quotes doubled; undefined numbers are empty fields), one header row then
 * one row per group:
 *   run_id,section,task,subtask,setting,capability,by,n,n_scored,mean,sd,se,
 *   ci_low,ci_high,ci_method,baseline,chance,indistinct,unparsed_rate,
 *   n_unparsed,format_violation_rate,n_failed,soft_accuracy,mae,signed_error,
 *   off_by_one_rate,q_gold,expected_error,brier,gold_logprob,prompt_tokens,
 *   completion_tokens,mean_latency_s,grading,n_unscored,judge_calls,judge_tokens,
 *   h_content,h_structure,p_content,p_structure,p_n,p_judge_failed
 * where section is "all", "setting", "capability" or "by", n counts every
 * sample and n_scored the answered ones (the denominator). The last six
 * columns are structured-output's H- and P-Score (results/family_report.h),
 * filled on its setting and capability rows only (P empty without a judge).
 * JSON layout: {"run":{id, suite, model_id, model_sha256, model_bytes,
 *   backend, base_url, device, capbench_version, seed (decimal string),
 *   config_sha256, status, started_at, finished_at (ISO 8601 UTC or null),
 *   wall_s, limit, shard, n_failed, first_error}, "denominator": "...",
 *   "overall":{group}, "settings":[{group}...], "capabilities":[{group}...],
 *   "by": KEY, "breakdown":[{group}...] (only with a breakdown)} with group =
 *   {task, subtask, setting | capability (+ setting) | + by, n, n_scored,
 *   mean, sd, se, ci_low, ci_high, ci_method, baseline, chance, indistinct,
 *   unparsed_rate, n_unparsed, format_violation_rate, n_failed, n_unscored,
 *   grading, judge_calls, judge_tokens,
 *   metrics:{name: mean}, prompt_tokens, completion_tokens, mean_latency_s};
 *   undefined numbers are null. Runs with knowledge-capacity or
 *   structured-output samples add "families" (results/family_report.h), and
 *   the text/Markdown reports end with those families' sections.
 */
#ifndef CB_RESULTS_REPORT_H
#define CB_RESULTS_REPORT_H

#include "common/err.h"
#include "results/aggregate.h"
#include "results/store.h"

#include <stdio.h>

typedef enum { CB_REPORT_TABLE = 0, CB_REPORT_MD = 1, CB_REPORT_CSV = 2, CB_REPORT_JSON = 3 } cb_report_format;

/* "table" | "md" | "csv" | "json" -> *out. Returns 0, or CB_EUSAGE (message
 * lists the formats) for anything else. */
int cb_report_format_parse(const char *name, cb_report_format *out, cb_err *err);

/* Continuous metrics the report knows by name (TASKS.md 0.6, 1.5): shown in
 * the tables and as fixed CSV columns. Every other metric a family records
 * still appears in the JSON output under "metrics". */
#define CB_REPORT_MAX_METRICS 24

typedef struct cb_metric_mean {
    char name[48];
    int64_t n;         /* answered samples that carry the metric */
    double mean;       /* NaN when n == 0 */
} cb_metric_mean;

/* What the report adds to an aggregate group. */
typedef struct cb_group_extra {
    double baseline;   /* majority baseline: mean over the group's answered samples of the share of
                          the most frequent gold in the sample's task/subtask/setting cell (so a
                          capability's baseline weights its cells by size); NaN without golds */
    double chance;     /* 0.5 when every answered sample has a Yes/No gold, else NaN */
    int indistinct;    /* 1: the 95% interval includes the baseline or the chance level */
    char grading[32];  /* how the group's scores were produced: "rule", "judge", "proxy", ... joined by + */
    int n_metrics;
    cb_metric_mean metrics[CB_REPORT_MAX_METRICS]; /* in order of first appearance in the run */
} cb_group_extra;

typedef struct cb_report {
    cb_run_info run;            /* owns run.config_json */
    double wall_s;              /* finished_at - started_at; NaN while running */
    cb_group overall;           /* key "all" */
    cb_group_extra overall_x;
    cb_group *settings;         /* n_settings, sorted by task, subtask, setting */
    cb_group_extra *settings_x;
    size_t n_settings;
    cb_group *capabilities;     /* n_capabilities, sorted by label */
    cb_group_extra *capabilities_x;
    size_t n_capabilities;
    char by[32];                /* breakdown key ("" = none) */
    cb_group *breakdown;        /* n_breakdown groups keyed task/subtask/setting/value */
    cb_group_extra *breakdown_x;
    size_t n_breakdown;
    struct cb_family_stats *families; /* results/family_report.h; NULL without those families */
    int64_t n_failed;           /* failed requests of the run */
    char first_error[512];      /* message of the first failed request ("" when none) */
} cb_report;

/* Builds the report of run run_id. `by` (NULL or "" = none) adds a
 * breakdown of every task/subtask/setting by an item property: "length" (word
 * length bin), "gold", "distinct" (distinct characters), "source" (word source),
 * or any other key of the items' meta object. OUT *out (caller frees with
 * cb_report_free). Errors: CB_EUSAGE for an unknown run or a `by` key that no
 * sample of the run has, CB_EIO, CB_ENOMEM. */
int cb_report_build(cb_store *s, int64_t run_id, const char *by, cb_report **out, cb_err *err);
void cb_report_free(cb_report *r); /* NULL is a no-op */

/* Writes the report in the given format to f. Errors: CB_EIO when writing
 * fails, CB_ENOMEM (JSON). */
int cb_report_write(const cb_report *r, cb_report_format fmt, FILE *f, cb_err *err);

#endif
