/* results/leaderboard.h — models and checkpoints × capabilities from a
 * results database, for `capbench leaderboard`: ranks, 95% intervals, each
 * model's capability profile with its weakest capability, the weakest-link
 * cells and trends over the `step` label.
 *
 * Rows ("entries") are runs: by default the latest run of every model file
 * (model_sha256, else model_id and base_url) and `step` label, preferring
 * finished runs; or the runs the caller names. Scores are the per-capability
 * item means of results/analysis.h on the stored [0,1] scale (the
 * weakest-link cells use S = 1 + 99·s). overall = the mean of an entry's
 * capability means; rank 1 is the highest, equal values share a rank.
 * Labels read from runs.labels_json: `step` (an integer: the checkpoint's
 * training step, the x axis of the trends), `series` (trend line grouping;
 * default: the suite name) and `model` (display name; default: the model
 * file's base name).
 *
 * Formats:
 *   html — one self-contained page (inline CSS and SVG, no script, no
 *          network): the score table, capability bars, per-model profiles,
 *          the weakest-link scatter and the trend lines;
 *   md   — the score table in Markdown;
 *   csv  — run_id,model,step,suite,capability,n,mean,ci_low,ci_high,rank,
 *          overall,overall_rank (one row per entry × capability);
 *   json — {"entries":[{run_id, model, model_id, suite, step|null, series,
 *          overall, rank, weakest, p_weakest, capabilities:[{capability, n,
 *          mean, ci_low, ci_high, rank}]}], "capabilities":[...],
 *          "weakest_link":{cells:[...], summary:{...}}}.
 */
#ifndef CB_RESULTS_LEADERBOARD_H
#define CB_RESULTS_LEADERBOARD_H

#include "common/err.h"
#include "results/store.h"

#include <stdio.h>

typedef struct cb_leaderboard cb_leaderboard;

typedef enum { CB_LB_HTML = 0, CB_LB_MD = 1, CB_LB_CSV = 2, CB_LB_JSON = 3 } cb_lb_format;

/* "html" | "md" | "csv" | "json" -> *out; CB_EUSAGE otherwise. */
int cb_lb_format_parse(const char *name, cb_lb_format *out, cb_err *err);

/* Builds the leaderboard of the runs run_ids[0..n_ids) of s, or (n_ids 0)
 * of the latest run per model and step. B: bootstrap replicates for the
 * weakest-capability probability and the weakest-link stability. OUT *out
 * (free with cb_leaderboard_free). Errors: CB_EUSAGE for an unknown run or a
 * database without runs, CB_ENOMEM, CB_EIO. */
int cb_leaderboard_build(cb_store *s, const int64_t *run_ids, size_t n_ids, int B, cb_leaderboard **out, cb_err *err);

/* The default selection: the latest run of every model file and step
 * (preferring a finished run), ascending by id. OUT *ids (malloc'd, caller
 * frees), *n. Errors: CB_EUSAGE when the database holds no run. */
int cb_leaderboard_default_runs(cb_store *s, int64_t **ids, size_t *n, cb_err *err);

/* Writes lb in fmt to f. Errors: CB_EIO when writing fails. */
int cb_leaderboard_write(const cb_leaderboard *lb, cb_lb_format fmt, FILE *f, cb_err *err);

void cb_leaderboard_free(cb_leaderboard *lb);

#endif
