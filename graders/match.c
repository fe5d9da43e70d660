/* graders/match.c — exact and numeric answer matching (see match.h). */
#include "graders/match.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void trim(const char **s, size_t *n) {
    while (*n && is_space((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((unsigned char)(*s)[*n - 1])) (*n)--;
}

int cb_match_exact(const char *pred, const char *gold, unsigned flags, cb_lang lang) {
    if (!pred) pred = "";
    if (!gold) gold = "";
    if (flags & CB_MATCH_NORMALIZE) {
        size_t lp = strlen(pred) + 1, lg = strlen(gold) + 1;
        char *a = malloc(lp), *b = malloc(lg);
        int eq = 0;
        if (a && b) {
            cb_normalize_span(pred, lang, a, lp);
            cb_normalize_span(gold, lang, b, lg);
            eq = strcmp(a, b) == 0;
        }
        free(a);
        free(b);
        return eq;
    }
    size_t np = strlen(pred), ng = strlen(gold);
    if (flags & CB_MATCH_TRIM) {
        trim(&pred, &np);
        trim(&gold, &ng);
    }
    if (np != ng) return 0;
    if (flags & CB_MATCH_CASEFOLD) return strncasecmp(pred, gold, np) == 0;
    return memcmp(pred, gold, np) == 0;
}

int cb_match_numeric(double pred, double gold, double abs_tol, double rel_tol) {
    if (isnan(pred) || isnan(gold)) return 0;
    double tol = fmax(abs_tol, rel_tol * fabs(gold));
    return fabs(pred - gold) <= tol;
}
