/* tests/fuzz/fuzz_table_html.c — libFuzzer target for the HTML table parser
 * (graders/table_html.c, gumbo). The first byte picks the cell mode. */
#include "fuzz_table_common.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    cb_table t;
    cb_table_init(&t);
    cb_err e;
    if (cb_table_parse_html((const char *)data + 1, size - 1, (cb_html_cells)(data[0] % 3), &t, &e) == 0)
        check_table(&t);
    cb_table_clear(&t);
    return 0;
}
