/* graders/match.h — comparing an extracted answer with the gold one: exact
 * string match (optionally trimmed, case-folded or span-normalized) and
 * numeric match with tolerances. Pure functions; no allocation except for
 * normalization of long strings. */
#ifndef CB_MATCH_H
#define CB_MATCH_H

#include "graders/extract.h"

enum {
    CB_MATCH_TRIM = 1u << 0,      /* ignore leading/trailing ASCII whitespace */
    CB_MATCH_CASEFOLD = 1u << 1,  /* ASCII case-insensitive */
    CB_MATCH_NORMALIZE = 1u << 2  /* compare cb_normalize_span forms (implies the other two) */
};

/* 1 when pred and gold are equal under flags, else 0 (NULL counts as ""). */
int cb_match_exact(const char *pred, const char *gold, unsigned flags, cb_lang lang);

/* 1 when |pred - gold| <= max(abs_tol, rel_tol * |gold|); NaN never matches. */
int cb_match_numeric(double pred, double gold, double abs_tol, double rel_tol);

#endif
