/* tasks/csv.h — a small RFC 4180 reader for the CSV data files families
 * load (skill lists; the CrossEval export): quoted fields with commas, doubled
 * quotes and line breaks, CRLF or LF line ends, an optional UTF-8 BOM. The
 * input is untrusted (users pass their own files): every field is bounds
 * checked and errors name the line and what was expected; a fuzz target
 * (tests/fuzz/fuzz_csv.c) runs it on arbitrary bytes. */
#ifndef CB_TASKS_CSV_H
#define CB_TASKS_CSV_H

#include "common/err.h"

#include <stddef.h>

typedef struct cb_csv {
    char ***rows;   /* rows[r][c]: NUL-terminated fields (malloc'd) */
    int *ncols;     /* fields of row r */
    int *lines;     /* 1-based line where row r starts */
    int nrows;
} cb_csv;

/* Parses len bytes of text. `name` prefixes messages ("skills.csv"). Empty
 * lines are skipped. Limits: 1,000,000 rows, 256 fields a row, 1 MiB a field.
 * OUT *out (cb_csv_free). Errors: CB_EFORMAT "name: line N: ..." for an
 * unterminated quoted field, a quote inside an unquoted field, text after a
 * closing quote, or a limit; CB_ENOMEM. */
int cb_csv_parse(const char *name, const char *text, size_t len, cb_csv *out, cb_err *err);
void cb_csv_free(cb_csv *c);

/* Column index of `header` in row 0 (exact, after trimming spaces), or -1. */
int cb_csv_col(const cb_csv *c, const char *header);

/* Reads a whole file (at most 256 MiB) into a malloc'd NUL-terminated buffer.
 * Errors: CB_EUSAGE naming the path (missing, a directory, unreadable, too big). */
int cb_read_file(const char *path, char **text, size_t *len, cb_err *err);

#endif
