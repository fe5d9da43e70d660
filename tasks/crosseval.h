/* tasks/crosseval.h — loading a CrossEval export (TASKS.md 3.2 A) for the
 * cross-capability file mode: JSONL (one object a line) or CSV (RFC 4180,
 * tasks/csv.h) with the fields prompt_id, capability, difficulty,
 * l1_category, l2_category, prompt, attached_file, response_{1,2,3},
 * response_{i}_human_{1,2}_rating, response_{i}_human_{1,2}_explanation.
 *
 * The file is untrusted input (the user supplies it; the harness never ships
 * the data): every field is checked, errors name the file, the line and the
 * field, and tests/fuzz/fuzz_crosseval.c runs the parser on arbitrary bytes.
 * Rows whose capability needs images or live tools are counted as
 * skipped_unsupported (the harness backends are text-only). */
#ifndef CB_TASKS_CROSSEVAL_H
#define CB_TASKS_CROSSEVAL_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_crosseval_row {
    char *prompt_id, *capability, *difficulty, *l1_category, *l2_category, *prompt;
    char *attachment;          /* attachments/<prompt_id>.txt beside the file, or NULL */
    const char *subtask;       /* family subtask (static string) */
    char *response[3];
    double rating[3][2];       /* human ratings, 1..5 */
    char *explanation[3][2];
    int line;                  /* 1-based line where the row starts */
} cb_crosseval_row;

typedef struct cb_crosseval cb_crosseval;

/* Parses len bytes. `name` prefixes messages; `dir` is the directory holding
 * attachments/ (NULL: attachments are not read, attached_file is kept as a
 * note). JSONL when the first non-space byte is '{', else CSV. Errors:
 * CB_EUSAGE "name: line N: field F: expected ..."; CB_ENOMEM. */
int cb_crosseval_parse(const char *name, const char *text, size_t len, const char *dir, cb_crosseval **out,
                       cb_err *err);
/* Reads and parses a file (attachments beside it). */
int cb_crosseval_load(const char *path, cb_crosseval **out, cb_err *err);
void cb_crosseval_free(cb_crosseval *c); /* NULL is a no-op */

/* Rows of a family subtask, in file order; row `index` or NULL past the end. */
int cb_crosseval_count(const cb_crosseval *c, const char *subtask);
const cb_crosseval_row *cb_crosseval_get(const cb_crosseval *c, const char *subtask, int64_t index);
/* Rows left out because they need images or tools. */
int cb_crosseval_skipped_unsupported(const cb_crosseval *c);

/* Family subtask of a CrossEval capability name ("Coding & Reasoning" ->
 * "coding_reasoning"; subtask names are accepted too); "" for a capability
 * that needs images or tools; NULL for an unknown name. */
const char *cb_crosseval_subtask(const char *capability);

#endif
