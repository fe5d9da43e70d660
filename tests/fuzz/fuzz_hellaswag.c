/* tests/fuzz/fuzz_hellaswag.c — libFuzzer target for the HellaSwag items
 * file read by `capbench bench --workload eval --items FILE`
 * (bench/engine_hellaswag.c): any bytes either parse into items whose fields
 * hold the documented invariants, or fail with CB_EFORMAT and a message.
 */
#include "bench/engine_hellaswag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cb_mc_set s;
    cb_err e;
    cb_err_clear(&e);
    int rc = cb_hellaswag_parse((const char *)data, size, "fuzz", &s, &e);
    if (rc) {
        if (rc != CB_EFORMAT || !e.msg[0] || s.items || s.n) abort();
        return 0;
    }
    for (int i = 0; i < s.n; i++) {
        const cb_mc_item *it = &s.items[i];
        if (it->gold < 0 || it->gold > 3 || !it->context[0] || it->line != 6 * i + 1) abort();
        for (int c = 0; c < 4; c++)
            if (strlen(it->endings[c]) != it->ending_len[c] || it->ending_len[c] == 0) abort();
    }
    cb_mc_set_free(&s);
    return 0;
}
