/* tests/fuzz/fuzz_extract.c — libFuzzer target for answer extraction of
 * model output (graders/normalize.c, graders/answer.c): arbitrary bytes as
 * the response, the first input byte choosing what is asked (count with one
 * of the units, or yes/no; answer-first or reasoning), an optional question
 * after the first NUL byte. Checks the contracts: spans inside the raw text,
 * the offset map monotone-bounded, flags consistent. */
#include "graders/answer.h"
#include "graders/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t rl = strlen(buf); /* the response ends at the first NUL; a question may follow */
    const char *question = rl < size ? buf + rl + 1 : NULL;

    cb_normtext t;
    cb_err e;
    if (cb_normalize_answer_text(buf, rl, &t, &e) == 0) {
        if (strlen(t.text) > t.len) abort();
        for (size_t i = 0; i <= t.len; i++)
            if (t.raw_start[i] < 0 || t.raw_start[i] > t.raw_end[i] || t.raw_end[i] > (int64_t)rl) abort();
        cb_normtext_free(&t);
    }

    cb_answer_req req = {
        .kind = (mode & 1) ? CB_ASK_YESNO : CB_ASK_COUNT,
        .unit = (cb_unit_kind)((mode >> 1) & 3),
        .letter = (char)('a' + (mode >> 3) % 26),
        .reasoning = (mode >> 7) & 1,
        .question = question,
    };
    cb_answer a;
    if (cb_answer_extract(buf, &req, &a, &e) == 0) {
        if ((a.span_start < 0) != (a.span_end < 0)) abort();
        if (a.span_start > a.span_end || a.span_end > (int64_t)rl) abort();
        if (a.found && (a.flags & CB_GRADE_HEDGED)) abort();
        if (!!(a.flags & CB_GRADE_MARKER) == !!(a.flags & CB_GRADE_NO_MARKER)) abort();
        if (req.kind == CB_ASK_YESNO && a.found && a.value != 0 && a.value != 1) abort();
    }
    (void)cb_answer_soft(buf, req.kind, 3);
    (void)cb_answer_yes_no(buf);
    free(buf);
    return 0;
}
