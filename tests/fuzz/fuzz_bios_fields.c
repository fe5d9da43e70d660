/* tests/fuzz/fuzz_bios_fields.c — libFuzzer target for the bioS field-list
 * reader (tasks/bios.c cb_bios_fields_parse), which reads the field files of
 * an export-bios directory or a user's own lists. The first byte picks the
 * list (company lines have their own "Name; City, ST" format). When the list
 * parses, persons are drawn and rendered against it, so the spans must lie
 * inside the rendering. */
#include "tasks/bios.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static cb_bios_fields *base;
    cb_err e;
    if (!base && cb_bios_fields_builtin(&base, &e)) abort();
    int list = data[0] % CB_BIOS_NLISTS;
    cb_bios_fields *f = NULL;
    if (cb_bios_fields_new(&f, &e)) abort();
    /* every other list from the built-in set, as text */
    for (int k = 0; k < CB_BIOS_NLISTS; k++) {
        if (k == list) continue;
        size_t n = cb_bios_list_size(base, k), cap = 0;
        for (size_t i = 0; i < n; i++) cap += strlen(cb_bios_list_item(base, k, i)) + 64;
        char *buf = malloc(cap + 1), *p = buf;
        for (size_t i = 0; i < n; i++) {
            const char *v = cb_bios_list_item(base, k, i);
            size_t room = cap + 1 - (size_t)(p - buf);
            p += k == CB_BIOS_COMPANY ? snprintf(p, room, "%s; %s\n", v, cb_bios_company_city(base, i))
                                      : snprintf(p, room, "%s\n", v);
        }
        if (cb_bios_fields_parse(f, k, "base", buf, (size_t)(p - buf), &e)) abort();
        free(buf);
    }
    if (cb_bios_fields_parse(f, list, "fuzz", (const char *)data + 1, size - 1, &e) == 0) {
        for (int64_t j = 0; j < 3; j++) {
            cb_bios_person p;
            cb_bios_person_get(f, 7, j, &p);
            cb_bios_render r;
            if (cb_bios_render_person(f, &p, CB_BIOS_MODE_BIOS, 0, &r, &e)) abort();
            for (int a = 0; a < CB_BATTR_N; a++)
                if (r.span[a][0] >= 0 && (r.span[a][1] > (int64_t)r.len || r.span[a][0] > r.span[a][1])) abort();
            cb_bios_render_clear(&r);
        }
    }
    cb_bios_fields_free(f);
    return 0;
}
