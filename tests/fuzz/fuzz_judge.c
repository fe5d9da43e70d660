/* tests/fuzz/fuzz_judge.c — libFuzzer target for the judgement parsers
 * (graders/judge.c): arbitrary bytes as a judge's answer, read as a skill-mix
 * rubric (k = 1..3), a CrossEval rating and a P-Score similarity judgement,
 * and counted as sentences. Checked invariants: rubric points are 0, 1 or -1
 * and the count of valid points matches; a similarity judgement that is read
 * gives two scores in [0, 10]. */
#include "graders/judge.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const SK[] = {"metaphor", "red herring", "modus ponens"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *t = malloc(size + 1);
    if (!t) return 0;
    memcpy(t, data, size);
    t[size] = 0;
    for (int k = 1; k <= 3; k++) {
        int p[CB_RUBRIC_MAX];
        int n = cb_judge_parse_rubric(t, SK, k, p);
        for (int i = 0; i < k + 3; i++)
            if (p[i] != 0 && p[i] != 1 && p[i] != -1) abort();
        if (n < 0 || n > k + 3) abort();
    }
    double r;
    (void)cb_judge_parse_rating(t, &r);
    double c = -1, s = -1;
    if (cb_judge_parse_similarity(t, &c, &s) && !(c >= 0 && c <= 10 && s >= 0 && s <= 10)) abort();
    if (cb_count_sentences(t, 0) < -1 || cb_count_sentences(t, 1) < -1) abort();
    (void)cb_count_words(t);
    free(t);
    return 0;
}
