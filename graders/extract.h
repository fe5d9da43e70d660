/* graders/extract.h — answer extraction helpers of TASKS.md 0.4: final
 * segment after the answer marker, last integer (digits or number words),
 * first yes/no, span normalization and bag-of-words token F1.
 *
 * These are the only ways families pull an answer out of free text, so that
 * every family extracts the same way. Functions that need a regex take the
 * per-thread cb_grader_ctx (patterns are compiled once there, never per call);
 * the rest are hand-written scanners over bytes. Inputs are NUL-terminated
 * UTF-8 strings from a model, possibly invalid UTF-8: nothing here reads past
 * the terminator or fails on bad bytes.
 */
#ifndef CB_EXTRACT_H
#define CB_EXTRACT_H

#include "graders/grader.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { CB_LANG_EN = 0, CB_LANG_ES = 1 } cb_lang;

/* The text after the last occurrence (case-insensitive) of either marker
 * "Answer:" or "Respuesta:"; without a marker, the whole text and
 * *no_marker = 1 (else 0). Returns a pointer into text (never NULL; "" for NULL text). */
const char *cb_final_segment(const char *text, int *no_marker);

/* Result of cb_last_integer. */
typedef struct cb_int_match {
    int found;         /* 0: no integer and no number word */
    int64_t value;     /* saturated to +-INT64_MAX when overflow */
    int from_word;     /* 1: value came from a number word ("three") */
    int overflow;      /* 1: the digits did not fit in int64 */
    size_t start, end; /* byte span of the match in text */
} cb_int_match;

/* last_integer: the last maximal match of -?[0-9][0-9,]* (regex semantics:
 * scanning left to right, matches do not overlap; no word boundaries, so
 * "r2d2" yields 2) with commas removed ("1,000" -> 1000, "1,2" -> 12); when the
 * text has no digit, the last number word (case-insensitive, standalone word),
 * the table of TASKS.md 0.4: English zero..ninety-nine ("twenty-one", "twenty
 * one"), once=1, twice=2, thrice=3, none=0; Spanish cero..noventa y nueve
 * (accents optional), ninguno/ninguna=0. Returns m->found. For reading the
 * answer of a whole response use graders/answer.h instead. */
int cb_last_integer(cb_grader_ctx *g, const char *text, cb_lang lang, cb_int_match *m);

/* The last digit run anywhere (the paper's lenient "last digits"): like
 * cb_last_integer but without number words. Returns 1 and writes *value when found. */
int cb_last_digits(const char *text, int64_t *value);

/* Whether the number word of v (English 0..20, "zero".."twenty") occurs as a
 * standalone word anywhere in text (case-insensitive). 0 when v has no word. */
int cb_has_number_word(cb_grader_ctx *g, const char *text, int64_t v, cb_lang lang);

/* Canonical number word of v (0..20) in lang, or NULL. */
const char *cb_number_word(int64_t v, cb_lang lang);

/* yes_no of TASKS.md 0.4 on a span the caller chose: the first polar
 * expression (synonyms, negated phrases, idioms and hedges as in
 * graders/answer.h; English and Spanish whatever lang says). Returns 1 for
 * yes, 0 for no, -1 when there is none or it is hedged ("yes or no"). */
int cb_yes_no(cb_grader_ctx *g, const char *text, cb_lang lang);

/* Whether `word` occurs as a standalone word (case-insensitive, ASCII word
 * characters [A-Za-z0-9_] delimit) anywhere in text. Hand-scanned. */
int cb_has_word(const char *text, const char *word);

/* normalize_span: lowercase (ASCII and Latin-1 letters), strip punctuation
 * (ASCII and common Unicode quotes, dashes, ¿¡«»…), collapse whitespace, trim,
 * and remove one leading article (English a/an/the; Spanish
 * el/la/los/las/un/una). Writes at most cap bytes including the NUL into out
 * (cap >= strlen(s)+1 always suffices) and returns the length written. */
size_t cb_normalize_span(const char *s, cb_lang lang, char *out, size_t cap);

/* token_f1: bag-of-words F1 over whitespace tokens of the normalized strings.
 * Both empty -> 1; one empty -> 0. Returns -1 on allocation failure. */
double cb_token_f1(const char *pred, const char *gold, cb_lang lang);

#endif
