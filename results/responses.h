/* results/responses.h — the JSON columns of a stored sample that come from
 * task and grader types: every response the grader saw (responses_json, so
 * that `capbench regrade` can rebuild the grader's exact input without a
 * model), and a grade's flags and metrics (flags_json, metrics_json).
 *
 * The scheduler writes these columns when it stores a sample and regrade
 * writes them again, so both must use these functions to keep one format.
 * Nothing here touches SQLite; this file only translates between the types of
 * tasks/task.h and graders/grader.h and the strings the store keeps.
 *
 * responses_json: a JSON array with one object per item request, in
 * item->reqs order (resps[i] answers reqs[i]):
 *   {"ok":true,"text":"...","truncated":true}   GENERATE ("truncated" only when set)
 *   {"ok":true,"text_ref":true}                  GENERATE of the model under test: the text is
 *                                                kept once, in the sample's `response` column
 *                                                (a JSON array of texts, in order, when the
 *                                                item has several); judgements keep "text"
 *   {"ok":true,"logprob_sum":-3.25,"n_tokens":4} LOGLIK
 *   ... ,"token_logprobs":[-1.5,...],"token_spans":[0,4,4,9,...]
 *                                                 LOGLIK / ROLLING with per-token data
 *                                                 (n_tokens log-probs, 2 * n_tokens byte offsets)
 *   {"ok":false}                                  skipped or failed
 * A response may carry both text and log-prob fields; absent fields are 0/NULL.
 * flags_json:   ["no_marker","truncated"]   (cb_grade_flag_name of each set bit)
 * metrics_json: {"abs_error":0,"q_gold":0.5} (finite metrics only, %.17g)
 */
#ifndef CB_RESULTS_RESPONSES_H
#define CB_RESULTS_RESPONSES_H

#include "common/err.h"
#include "graders/grader.h"
#include "tasks/task.h"

/* Encodes n responses. Returns a malloc'd string (caller frees), NULL on
 * allocation failure. */
char *cb_responses_to_json(const cb_task_resp *resps, int n);

/* Decoded responses: texts point into the parsed tree, which the list owns. */
typedef struct cb_resp_list {
    cb_task_resp *r;  /* n of them */
    int n;
    cJSON *tree;      /* internal */
    void **arrays;    /* internal: per-token arrays the list owns */
    int n_arrays;
} cb_resp_list;

/* Decodes responses_json into *out (cleared first; free with
 * cb_resp_list_clear). Errors: CB_EFORMAT naming the index and field that is
 * wrong; CB_ENOMEM. */
int cb_responses_from_json(const char *json, cb_resp_list *out, cb_err *err);
void cb_resp_list_clear(cb_resp_list *l);

/* flags_json / metrics_json of a grade; malloc'd, NULL on allocation failure. */
char *cb_grade_flags_json(const cb_grade *g);
char *cb_grade_metrics_json(const cb_grade *g);

#endif
