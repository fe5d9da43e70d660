/* graders/grader.h — the grade record every task grader fills, and the
 * per-thread grader context that holds what is expensive to build once
 * (compiled PCRE2 patterns and their match data, an optional tokenizer).
 *
 * A grade is a plain fixed-size struct: no allocation per sample, so the
 * scheduler can keep an array of them per batch. Graders are pure functions of
 * (item, responses); they call no model and store nothing. This header knows no
 * task: families in tasks/ fill cb_grade with the helpers below.
 *
 * Thread safety: a cb_grader_ctx holds PCRE2 match data and scratch buffers, so
 * each thread needs its own (cb_grader_ctx_new is cheap: a few compiled regexes).
 */
#ifndef CB_GRADER_H
#define CB_GRADER_H

#include "common/err.h"

#include <stdint.h>

typedef struct cJSON cJSON;

/* Flag bits of cb_grade.flags. Names (cb_grade_flag_name) are what reports and
 * JSON output show. */
enum {
    CB_GRADE_NO_MARKER = 1u << 0,        /* "no_marker": no answer marker with a value; span chosen by sentence */
    CB_GRADE_FORMAT_VIOLATION = 1u << 1, /* "format_violation": the setting's answer format was not followed */
    CB_GRADE_NO_RESPONSE = 1u << 2,      /* "no_response": a required response was missing or failed */
    CB_GRADE_VOTE_TIE = 1u << 3,         /* "vote_tie": majority vote had a tie (earliest sample won) */
    CB_GRADE_NUMBER_WORD = 1u << 4,      /* "number_word": the integer came from a number word, not digits */
    CB_GRADE_OVERFLOW = 1u << 5,         /* "overflow": the digits did not fit in int64 (saturated) */
    CB_GRADE_TRUNCATED = 1u << 6,        /* "truncated": generation hit max_tokens */
    CB_GRADE_MARKER = 1u << 7,           /* "marker": the span is the rest of the last marker's line */
    CB_GRADE_SELF_CORRECTED = 1u << 8,   /* "self_corrected": a correction cue moved the span */
    CB_GRADE_HEDGED = 1u << 9,           /* "hedged": alternatives offered ("3 or 4", "yes and no"): no value */
    CB_GRADE_EMPTY = 1u << 10,           /* "empty": the response was empty or whitespace only (unparsed,
                                            counted apart from responses that were read and held no answer) */
    CB_GRADE_NFLAGS = 11
};

/* Name of flag bit number `bit` (0..CB_GRADE_NFLAGS-1), or NULL. */
const char *cb_grade_flag_name(int bit);

#define CB_GRADE_MAX_METRICS 32
#define CB_GRADE_EXTRACTED_CAP 512

/* A named continuous secondary metric. `name` is a string literal (static
 * storage) chosen by the family, e.g. "abs_error", "q_gold". */
typedef struct cb_metric {
    const char *name;
    double value;
} cb_metric;

/* The grade of one item.
 *   score      primary score in [0,1] (accuracy items: 0 or 1)
 *   unparsed   1 when no answer could be extracted (counted as wrong in the
 *              primary score, but reported apart from wrong answers)
 *   extracted  the extracted answer, NUL-terminated, truncated to fit on a
 *              UTF-8 boundary ("" when unparsed)
 *   flags      CB_GRADE_* bits
 *   reason     short human-readable explanation ("expected 3, got 2")
 *   metrics    n_metrics named secondary metrics; a metric that is undefined
 *              for this item (abs_error of an unparsed answer, q_gold without
 *              log-likelihoods) is simply absent, never NaN. */
typedef struct cb_grade {
    double score;
    int unparsed;
    unsigned flags;
    char extracted[CB_GRADE_EXTRACTED_CAP];
    char reason[160];
    /* Byte offsets [span_start, span_end) into the raw response text of the
     * span that extraction read (TASKS.md 0.4); -1/-1 when no span was read. */
    int64_t span_start, span_end;
    /* How the primary score was produced, stored per sample and shown by the
     * report: "rule", "judge", "proxy" (a rule-based stand-in for a judge,
     * never the official score), "logprob"; "" = the item's grader kind. */
    char grading[16];
    int n_metrics;
    cb_metric metrics[CB_GRADE_MAX_METRICS];
} cb_grade;

/* Zeroes g (score 0, parsed, no flags, no metrics). */
void cb_grade_init(cb_grade *g);
/* Appends a metric (name must have static storage); silently ignores a
 * metric past CB_GRADE_MAX_METRICS (a programmer error caught by tests). */
void cb_grade_add_metric(cb_grade *g, const char *name, double value);
/* Looks up a metric by name; returns 1 and writes *value when present. */
int cb_grade_get_metric(const cb_grade *g, const char *name, double *value);
/* Copies s into g->extracted (truncated on a UTF-8 boundary). */
void cb_grade_set_extracted(cb_grade *g, const char *s);
/* printf into g->reason. */
void cb_grade_set_reason(cb_grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON form, for output and storage:
 *   {"score":1,"unparsed":false,"extracted":"3","flags":["no_marker"],
 *    "reason":"...","metrics":{"abs_error":0,...}}
 * Caller owns the result (cJSON_Delete); NULL on allocation failure. */
cJSON *cb_grade_to_json(const cb_grade *g);

/* ---- grader context ------------------------------------------------------ */

typedef struct cb_grader_ctx cb_grader_ctx;

/* Optional tokenizer for token edit distance: writes up to cap token ids of
 * text into ids and returns how many the text has (may exceed cap: call again
 * with a bigger buffer), or -1 on failure. */
typedef int (*cb_tokenize_fn)(void *user, const char *text, int32_t *ids, int cap);

/* Compiles the shared patterns. *out is owned by the caller (cb_grader_ctx_free).
 * Errors: CB_ENOMEM, CB_ERUNTIME (a pattern failed to compile: a bug). */
int cb_grader_ctx_new(cb_grader_ctx **out, cb_err *err);
void cb_grader_ctx_free(cb_grader_ctx *g); /* NULL is a no-op */

/* Installs (or with fn NULL removes) the tokenizer used for token edit distance.
 * Without one, graders report character edit distance instead (metric names
 * "char_edit_distance"/"char_edit_distance_norm" rather than
 * "token_edit_distance"/"token_edit_distance_norm"). */
void cb_grader_ctx_set_tokenizer(cb_grader_ctx *g, cb_tokenize_fn fn, void *user);

/* Edit distance of pred vs gold in the context's unit: tokens when a tokenizer
 * is installed (returns 1), else Unicode code points (returns 0). Writes the
 * distance and the gold length in that unit (normalizer; at least 1). Returns
 * -1 when the tokenizer failed (then nothing is written). */
int cb_grader_edit_distance(cb_grader_ctx *g, const char *pred, const char *gold, int64_t *dist,
                            int64_t *gold_len);

/* Adds the edit-distance metric pair (token or char, see above) for pred vs gold. */
void cb_grader_add_edit_metrics(cb_grader_ctx *g, cb_grade *out, const char *pred, const char *gold);

#endif
