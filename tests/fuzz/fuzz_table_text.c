/* tests/fuzz/fuzz_table_text.c — libFuzzer target for the raw "|" table
 * parser (graders/table_text.c) on arbitrary model output. */
#include "fuzz_table_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cb_table a, b;
    cb_table_init(&a);
    cb_table_init(&b);
    cb_err e;
    if (cb_table_parse_raw((const char *)data, size, &a, &b, &e) == 0) {
        check_table(&a);
        check_table(&b);
    }
    cb_table_clear(&a);
    cb_table_clear(&b);
    return 0;
}
