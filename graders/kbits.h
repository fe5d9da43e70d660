/* graders/kbits.h — knowledge bits (TASKS.md section 7, Physics of LMs 3.3)
 * and bits per character (5.6): the formulas, and the mapping of scored
 * tokens onto the character spans of a biography's facts.
 *
 * Pure arithmetic in double; no I/O, no allocation. Units: losses in nats
 * (natural log), results in bits (log2 x = ln x / ln 2).
 */
#ifndef CB_KBITS_H
#define CB_KBITS_H

#include <stdint.h>

/* Name term N * (log2 N0 - p1 / ln 2); with conservative != 0 the N0 of the
 * log is N0 - N (Theorem 3.2 form; log2_n0 must then be log2 N0 exactly). */
double cb_kbits_name_term(double n, double log2_n0, double p1, int conservative);
/* Value term N * (log2 S0 - p2 / ln 2). */
double cb_kbits_value_term(double n, double log2_s0, double p2);
/* B_max = N * log2(N0 / N) + N * log2 S0 (a perfect model: p1 = ln N, p2 = 0). */
double cb_kbits_max(double n, double log2_n0, double log2_s0);
/* Per-attribute diagnostic bits N * (log2 |V| - mean_L / ln 2) (may be negative). */
double cb_kbits_attr(double n, double log2_v, double mean_loss);
/* Bits per character: sum of cross-entropy (nats) / (ln 2 * characters). */
double cb_kbits_bpc(double ce_nats, double chars);

/* A character span [start, end) of a rendering (byte offsets). */
typedef struct cb_kspan {
    int64_t start, end;
} cb_kspan;

/* Sums the losses of scored tokens onto spans (TASKS.md 7 step 3): token t
 * covers bytes [tok[2t], tok[2t+1]) of the rendering and has log-prob lp[t];
 * it belongs to the first span (in array order; callers pass spans in text
 * order) that it overlaps, where a token with leading spaces overlaps a span
 * when its non-space part does. loss[s] = -sum of lp of span s's tokens;
 * n_tok[s] = how many. Spans that no token touches get loss 0 and n_tok 0
 * (callers treat n_tok 0 as "not measured"). text is the rendering (for the
 * leading-space test). */
void cb_kbits_span_losses(const char *text, int64_t text_len, const int64_t *tok, const double *lp, int n_tokens,
                          const cb_kspan *spans, int n_spans, double *loss, int *n_tok);

#endif
