/* results/export.h — `capbench export RUN_ID --format jsonl|csv|lm-eval`: a
 * stored run written for other tools.
 *
 *   jsonl   — one JSON object per sample (rowid order) with every column of
 *             `samples` (store.h); item_json, flags_json, metrics_json and
 *             responses_json are embedded as JSON values, not strings;
 *             item_seed is a decimal string (uint64).
 *   csv     — RFC 4180, one header row then one row per sample:
 *             run_id,item_id,repeat,family,task,subtask,setting,cap1,cap2,
 *             item_hash,item_seed,gold,extracted,score,unparsed,error,
 *             prompt_tokens,completion_tokens,latency_s,attempts,prompt,response
 *   lm-eval — the results JSON of lm-evaluation-harness: "results" (one task
 *             per task/subtask/setting, named family_subtask_setting with
 *             every character outside [A-Za-z0-9_] turned into '_'; metric
 *             "acc" when every score is 0 or 1, else "score", as "acc,none"
 *             and "acc_stderr,none"), "groups" (one per capability label,
 *             "capability_<label>"; capability membership is per sample, so no
 *             "group_subtasks" list), "configs" (task,
 *             tag, output_type, metric_list, metadata with capbench's
 *             family/subtask/setting/seed), "versions" (capbench version),
 *             "n-shot", "higher_is_better", "n-samples" ({original: samples,
 *             effective: answered}), "config" (model, model_args, device,
 *             limit, random_seed), "model_name", "date" and "capbench" (run
 *             id, suite, status, config and model hashes).
 */
#ifndef CB_RESULTS_EXPORT_H
#define CB_RESULTS_EXPORT_H

#include "common/err.h"
#include "results/store.h"

#include <stdio.h>

typedef enum { CB_EXPORT_JSONL = 0, CB_EXPORT_CSV = 1, CB_EXPORT_LMEVAL = 2 } cb_export_format;

/* "jsonl" | "csv" | "lm-eval" -> *out; CB_EUSAGE otherwise. */
int cb_export_format_parse(const char *name, cb_export_format *out, cb_err *err);

/* Writes run run_id of s to f. Errors: CB_EUSAGE for an unknown run, CB_EIO
 * (reading or writing), CB_ENOMEM. */
int cb_export_run(cb_store *s, int64_t run_id, cb_export_format fmt, FILE *f, cb_err *err);

/* Writes s as one RFC 4180 CSV field (quoted when it holds a comma, quote or
 * line break; quotes doubled); NULL writes nothing (an empty field). */
void cb_csv_field(FILE *f, const char *s);

#endif
