/* graders/kbits.c — see kbits.h. */
#include "graders/kbits.h"

#include <math.h>

#define LN2 0.69314718055994530942

double cb_kbits_name_term(double n, double log2_n0, double p1, int conservative) {
    double l = log2_n0;
    if (conservative) l = log2(exp2(log2_n0) - n);
    return n * (l - p1 / LN2);
}

double cb_kbits_value_term(double n, double log2_s0, double p2) { return n * (log2_s0 - p2 / LN2); }

double cb_kbits_max(double n, double log2_n0, double log2_s0) {
    return n * (log2_n0 - log(n) / LN2) + n * log2_s0;
}

double cb_kbits_attr(double n, double log2_v, double mean_loss) { return n * (log2_v - mean_loss / LN2); }

double cb_kbits_bpc(double ce_nats, double chars) { return chars > 0 ? ce_nats / (LN2 * chars) : NAN; }

void cb_kbits_span_losses(const char *text, int64_t text_len, const int64_t *tok, const double *lp, int n_tokens,
                          const cb_kspan *spans, int n_spans, double *loss, int *n_tok) {
    for (int s = 0; s < n_spans; s++) {
        loss[s] = 0;
        n_tok[s] = 0;
    }
    for (int t = 0; t < n_tokens; t++) {
        int64_t a = tok[2 * t], b = tok[2 * t + 1];
        if (a < 0) a = 0;
        if (b > text_len) b = text_len;
        /* the token's leading spaces touch the span after them, not before */
        while (a < b && (text[a] == ' ' || text[a] == '\n')) a++;
        if (a >= b) continue;
        for (int s = 0; s < n_spans; s++) {
            if (a < spans[s].end && b > spans[s].start) {
                loss[s] -= lp[t];
                n_tok[s]++;
                break;
            }
        }
    }
}
