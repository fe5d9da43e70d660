/* tests/fuzz/fuzz_crosseval.c — libFuzzer target for the CrossEval export
 * reader (tasks/crosseval.c): arbitrary bytes as a JSONL or CSV export (no
 * attachment directory), then every loaded row is checked for the invariants
 * the family relies on (ratings in 1..5, a known subtask, non-empty prompt and
 * references) and walked through cb_crosseval_get. */
#include "tasks/crosseval.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const SUBS[] = {"reasoning", "spanish_reasoning", "english", "spanish",
                                   "coding", "coding_reasoning", "long_context", "long_context_coding"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cb_crosseval *c = NULL;
    cb_err e;
    if (cb_crosseval_parse("fuzz", (const char *)data, size, NULL, &c, &e) != 0) return 0;
    for (int s = 0; s < 8; s++) {
        int n = cb_crosseval_count(c, SUBS[s]);
        for (int i = 0; i < n; i++) {
            const cb_crosseval_row *r = cb_crosseval_get(c, SUBS[s], i);
            if (!r || strcmp(r->subtask, SUBS[s]) || !r->prompt[0] || !r->prompt_id[0]) abort();
            for (int k = 0; k < 3; k++) {
                if (!r->response[k][0]) abort();
                for (int h = 0; h < 2; h++)
                    if (!(r->rating[k][h] >= 1 && r->rating[k][h] <= 5)) abort();
            }
        }
        if (cb_crosseval_get(c, SUBS[s], n)) abort();
    }
    cb_crosseval_free(c);
    return 0;
}
