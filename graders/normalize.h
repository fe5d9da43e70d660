/* graders/normalize.h — normalize_answer_text of TASKS.md 0.4: the Unicode
 * folding every answer extractor runs first, with a map from each byte of the
 * normalized text back to the raw response bytes it came from (so a grade can
 * store the span it read as offsets into the RAW response).
 *
 * Steps, in order, all table-driven through utf8proc (this module and
 * graders/answer.c are the only includers of utf8proc.h):
 *   1. The raw text is cut into segments: a starter code point plus the
 *      combining marks after it (invalid UTF-8 bytes are one segment each and
 *      become U+FFFD). Each segment is NFKC-normalized on its own, which equals
 *      NFKC of the whole text except for compositions across starters
 *      (conjoining Hangul jamo), which never matter to answer extraction.
 *      NFKC folds fullwidth and mathematical digits (`３`, `𝟑` -> `3`).
 *   2. Every remaining code point of general category Nd becomes its ASCII
 *      digit. utf8proc has no numeric-value table, so the value is taken from
 *      the Unicode stability guarantee that Nd characters come in contiguous
 *      runs 0..9: value = distance from the start of the Nd run, mod 10.
 *   3. U+2212 MINUS SIGN and U+2013 EN DASH directly before an ASCII digit
 *      become `-`; keycap sequences (digit, U+FE0F, U+20E3) become the digit.
 *   4. Markdown emphasis and code marks are removed: every `*` and backtick,
 *      and runs of two or more `_`. (A single `_` stays: it is part of names.)
 *   5. Harness addition: the typographic apostrophes U+2018, U+2019, U+02BC
 *      become ASCII `'`, so "r’s" and "isn’t" read as "r's" and "isn't".
 *
 * Pure function of the input bytes; never reads past raw[n].
 */
#ifndef CB_NORMALIZE_H
#define CB_NORMALIZE_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* A normalized text and its map back to the raw bytes. Byte i of text came
 * from raw bytes [raw_start[i], raw_end[i]) (the whole segment that produced
 * it); raw_start[len] = raw_end[len] = the raw length. */
typedef struct cb_normtext {
    char *text;        /* NUL-terminated UTF-8, len bytes */
    size_t len;
    int64_t *raw_start; /* len + 1 entries */
    int64_t *raw_end;   /* len + 1 entries */
} cb_normtext;

/* Normalizes n bytes of raw (need not be NUL-terminated; NUL bytes are kept
 * as they are). On success *out owns its arrays (cb_normtext_free).
 * Errors: CB_ENOMEM. */
int cb_normalize_answer_text(const char *raw, size_t n, cb_normtext *out, cb_err *err);

/* Frees the arrays of t and zeroes it; a zeroed t is a no-op. */
void cb_normtext_free(cb_normtext *t);

/* The raw byte range [*rs, *re) that normalized bytes [a, b) came from
 * (a <= b <= t->len; an empty range maps to the raw position of a). */
void cb_normtext_raw_range(const cb_normtext *t, size_t a, size_t b, int64_t *rs, int64_t *re);

#endif
