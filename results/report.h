/* results/report.h — the summary of one stored run, and its writers for
 * `capbench report`: an aligned terminal table, Markdown, CSV and JSON.
 *
 * A report is built from the samples of a run (never from cached
 * capability_scores, so it always matches the samples): one row for the whole
 * run, one per (task, subtask, setting) and one per capability label, each
 * with n, mean, 95% interval (results/aggregate.h: Wilson for 0/1 scores,
 * normal otherwise), unparsed rate, failures, tokens and mean latency; plus
 * the run header (id, suite, model, backend, device, capbench version,
 * status, seed, times, wall time). Reading only: building a report writes
 * nothing to the database.
 *
 * CSV layout (RFC 4180: fields with a comma, quote or line break are quoted,
 * quotes doubled; undefined numbers are empty fields), one header row then
 * one row per group:
 *   run_id,section,task,subtask,setting,capability,n,n_scored,mean,sd,se,
 *   ci_low,ci_high,ci_method,unparsed_rate,n_unparsed,n_failed,prompt_tokens,
 *   completion_tokens,mean_latency_s
 * where section is "all", "setting" or "capability".
 * JSON layout: {"run":{id, suite, model_id, model_sha256, model_bytes,
 *   backend, base_url, device, capbench_version, seed (decimal string),
 *   config_sha256, status, started_at, finished_at (ISO 8601 UTC or null),
 *   wall_s}, "overall":{group}, "settings":[{group}...],
 *   "capabilities":[{group}...]} with group = {task, subtask, setting |
 *   capability, n, n_scored, mean, sd, se, ci_low, ci_high, ci_method,
 *   unparsed_rate, n_unparsed, n_failed, prompt_tokens, completion_tokens,
 *   mean_latency_s}; undefined numbers are null.
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

typedef struct cb_report {
    cb_run_info run;            /* owns run.config_json */
    double wall_s;              /* finished_at - started_at; NaN while running */
    cb_group overall;           /* key "all" */
    cb_group *settings;         /* n_settings, sorted by task, subtask, setting */
    size_t n_settings;
    cb_group *capabilities;     /* n_capabilities, sorted by label */
    size_t n_capabilities;
} cb_report;

/* Builds the report of run run_id. OUT *out (caller frees with
 * cb_report_free). Errors: CB_EUSAGE for an unknown run, CB_EIO, CB_ENOMEM. */
int cb_report_build(cb_store *s, int64_t run_id, cb_report **out, cb_err *err);
void cb_report_free(cb_report *r); /* NULL is a no-op */

/* Writes the report in the given format to f. Errors: CB_EIO when writing
 * fails, CB_ENOMEM (JSON). */
int cb_report_write(const cb_report *r, cb_report_format fmt, FILE *f, cb_err *err);

#endif
