/* graders/vote.c — majority vote with earliest-sample tie-break (see vote.h).
 * Quadratic in the number of samples, which is small (self-consistency uses 5). */
#include "graders/vote.h"

#include <string.h>

int cb_majority_vote(const char *const *answers, int n, int *count, int *tie) {
    int best = -1, best_n = 0, tied = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i]) continue;
        int seen = 0;
        for (int k = 0; k < i && !seen; k++)
            if (answers[k] && strcmp(answers[k], answers[i]) == 0) seen = 1;
        if (seen) continue; /* counted at its first occurrence */
        int c = 0;
        for (int k = i; k < n; k++)
            if (answers[k] && strcmp(answers[k], answers[i]) == 0) c++;
        if (c > best_n) {
            best = i;
            best_n = c;
            tied = 0;
        } else if (c == best_n) {
            tied = 1; /* the earlier first occurrence (best) keeps the win */
        }
    }
    if (count) *count = best_n;
    if (tie) *tie = tied;
    return best;
}
