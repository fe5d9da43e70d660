/* tests/fuzz/fuzz_table_latex.c — libFuzzer target for the LaTeX tabular
 * parser (graders/table_latex.c) on arbitrary model output. */
#include "fuzz_table_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cb_table t;
    cb_table_init(&t);
    cb_err e;
    if (cb_table_parse_latex((const char *)data, size, &t, &e) == 0) {
        check_table(&t);
        if (t.spec) (void)strlen(t.spec);
        if (t.caption) (void)strlen(t.caption);
    }
    cb_table_clear(&t);
    return 0;
}
