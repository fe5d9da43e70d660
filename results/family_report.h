/* results/family_report.h — report sections of the families whose headline
 * numbers are not a mean score: knowledge-capacity (knowledge bits, bits per
 * parameter, BPC; TASKS.md 5, 7) and structured-output (H-Score with its
 * baselines and error tags, P-Score; TASKS.md 4.5). results/report.c calls
 * cb_family_stats_build while it builds a report and the writers after its
 * own tables. The build reads the metrics of these families' samples itself
 * (they record more metrics than the report's general table keeps) and sums
 * them per (task, subtask, setting), and structured-output's also per
 * capability label; counts, the mean score and the unparsed
 * rate come from the report's groups; the population size from the run's
 * stored config, the parameter counts from the run row.
 *
 * Arithmetic (TASKS.md 7): a bits group of n probed persons out of a
 * population N (params.persons, default 1000) gives
 *   B(F) = N * mean(bits_total)      B_max = N log2(N0 / N) + N log2 S0
 *   R = B(F) / P,  R_max = B_max / P  on P = total and non-embedding weights
 *   conservative name term: N0 - N in place of N0
 * and per attribute N * mean(bits_<a>). A bpc group pools its documents:
 *   BPC = mean(ce_nats) / (ln 2 * mean(n_chars)), bits per byte likewise,
 *   PPL = exp(mean(ce_nats) / mean(n_tokens)).
 * JSON: {"knowledge":[{task, subtask, setting, persons, probed, bits,
 *   bits_max, bits_conservative, bits_per_param, bits_per_param_nonembd,
 *   max_bits_per_param, n_params, n_params_nonembd, completion_accuracy,
 *   attributes:{name: bits}}], "compression":[{task, ..., documents, tokens,
 *   chars, bpc, bits_per_byte, ppl}], "structured":[{task, subtask, setting,
 *   n, exact, parse_rate, empty_rate, no_table_rate, h_content, h_structure,
 *   h_content_empty, h_structure_empty, h_content_blank, h_structure_blank,
 *   coverage, hallucination, misplacement, formatting, p_content,
 *   p_structure, p_n, p_judge_failed}], "structured_capabilities": [{capability,
 *   n, ... the same numbers}], "p_score": "judged (...)" | "not computed: no
 *   judge"}; undefined numbers are null.
 * P-Score (TASKS.md 4.5): p_content / p_structure are the means of the
 *   samples' metrics of the same names (judged items, and answers that are no
 *   table at 0), p_n how many samples have them, p_judge_failed how many had
 *   no readable judgement in either order (excluded from P). A run whose
 *   suite has no "judge" section shows P as not computed (null / "-").
 */
#ifndef CB_RESULTS_FAMILY_REPORT_H
#define CB_RESULTS_FAMILY_REPORT_H

#include "results/report.h"

#include <stdio.h>

typedef struct cJSON cJSON;

/* Metric sums of one run's knowledge-capacity and structured-output samples. */
typedef struct cb_family_stats cb_family_stats;

/* Reads run_id's samples of the two families. OUT *out (NULL when the run has
 * none; free with cb_family_stats_free). Errors: those of
 * cb_store_foreach_sample, CB_ENOMEM. */
int cb_family_stats_build(cb_store *s, int64_t run_id, cb_family_stats **out, cb_err *err);
void cb_family_stats_free(cb_family_stats *fs); /* NULL is a no-op */

/* Prints the sections that apply to the run (none for a run without these
 * families) as aligned text (md = 0) or Markdown. Returns 0, -1 on a write
 * error. */
int cb_family_report_write(const cb_report *r, FILE *f, int md);

/* The H and P numbers of a report group for the CSV writer: g is a
 * (task, subtask, setting) group (by_cap 0) or a capability group (by_cap 1).
 * OUT out = {h_content, h_structure, p_content, p_structure, p_n,
 * p_judge_failed} (NaN where undefined or not computed). Returns 1 when g has
 * structured-output samples, else 0 (out untouched). */
int cb_family_structured_values(const cb_report *r, const cb_group *g, int by_cap, double out[6]);

/* The same as a JSON object (NULL when the run has neither family or on
 * allocation failure; caller owns). */
cJSON *cb_family_report_json(const cb_report *r);

#endif
