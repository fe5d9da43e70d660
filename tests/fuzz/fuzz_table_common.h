/* tests/fuzz/fuzz_table_common.h — invariants every parsed cb_table must hold,
 * shared by the table fuzz targets (not a target itself: no fuzz_ prefix on
 * the .c glob matches a header). */
#ifndef CB_FUZZ_TABLE_COMMON_H
#define CB_FUZZ_TABLE_COMMON_H

#include "graders/table.h"

#include <stdlib.h>
#include <string.h>

static void check_table(const cb_table *t) {
    int maxc = 0;
    if (t->n_rows < 0 || t->n_cells < 0) abort();
    for (int r = 0; r < t->n_rows; r++) {
        int n;
        char **c = cb_table_row(t, r, &n);
        if (n < 0 || t->row_off[r] < 0 || t->row_off[r + 1] > t->n_cells) abort();
        for (int k = 0; k < n; k++) (void)strlen(c[k]);
        if (n > maxc) maxc = n;
    }
    if (t->n_rows > 0 && maxc != t->n_cols) abort();
    for (int i = 0; i < t->n_tags; i++) (void)strlen(t->tags[i]);
    /* the similarities over what was parsed must stay in their ranges */
    const char *g[] = {"a", "1", "", "b"};
    double ls = cb_seq_lev_sim((const char *const *)t->cells, t->n_cells, g, 4);
    double rr = cb_seq_ro_ratio((const char *const *)t->cells, t->n_cells, g, 4);
    if (!(ls <= 1.0) || !(rr >= 0.0 && rr <= 1.0)) abort();
}

#endif
