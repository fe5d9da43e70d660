/* graders/table.c — the cb_table container, code-fence stripping and the
 * sequence similarities (Levenshtein, Ratcliff-Obershelp) of TASKS.md 4.4.
 * See table.h. The format parsers live in table_text.c, table_html.c and
 * table_latex.c.
 */
#include "graders/table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cb_table_init(cb_table *t) {
    memset(t, 0, sizeof *t);
}

void cb_table_clear(cb_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n_cells; i++) free(t->cells[i]);
    for (int i = 0; i < t->n_tags; i++) free(t->tags[i]);
    free(t->cells);
    free(t->row_off);
    free(t->tags);
    free(t->caption);
    free(t->spec);
    cb_table_init(t);
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np) return CB_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

int cb_table_add_row(cb_table *t) {
    /* row_off holds n_rows + 1 entries: the last is the end of the last row */
    if (grow((void **)&t->row_off, &t->cap_rows, t->n_rows + 2, sizeof *t->row_off)) return CB_ENOMEM;
    if (t->n_rows == 0) t->row_off[0] = t->n_cells;
    t->n_rows++;
    t->row_off[t->n_rows] = t->n_cells;
    return 0;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Copy of s[0..n) trimmed, inner whitespace runs collapsed to one space. */
static char *collapse(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    size_t k = 0;
    int pend = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c)) {
            pend = k > 0;
            continue;
        }
        if (pend) d[k++] = ' ';
        pend = 0;
        d[k++] = (char)c;
    }
    d[k] = '\0';
    return d;
}

int cb_table_add_cell(cb_table *t, const char *s, size_t n) {
    if (t->n_rows == 0 && cb_table_add_row(t)) return CB_ENOMEM;
    if (grow((void **)&t->cells, &t->cap_cells, t->n_cells + 1, sizeof *t->cells)) return CB_ENOMEM;
    char *c = collapse(s, n);
    if (!c) return CB_ENOMEM;
    t->cells[t->n_cells++] = c;
    t->row_off[t->n_rows] = t->n_cells;
    return 0;
}

int cb_table_add_tag(cb_table *t, const char *tag) {
    if (grow((void **)&t->tags, &t->cap_tags, t->n_tags + 1, sizeof *t->tags)) return CB_ENOMEM;
    char *c = strdup(tag);
    if (!c) return CB_ENOMEM;
    t->tags[t->n_tags++] = c;
    return 0;
}

void cb_table_finish(cb_table *t) {
    int w = 0, maxc = 0;
    for (int r = 0; r < t->n_rows; r++) {
        int a = t->row_off[r], b = t->row_off[r + 1];
        if (b == a) continue;
        t->row_off[w] = a;
        t->row_off[w + 1] = b;
        if (b - a > maxc) maxc = b - a;
        w++;
    }
    t->n_rows = w;
    t->n_cols = maxc;
}

/* ---- fences ---- */

static int fence_at(const char *p) {
    return (p[0] == '`' && p[1] == '`' && p[2] == '`') || (p[0] == '~' && p[1] == '~' && p[2] == '~');
}

void cb_table_strip_fence(const char *text, size_t *start, size_t *end) {
    size_t n = strlen(text);
    *start = 0;
    *end = n;
    /* the opening fence: at the start of the trimmed text, or the only fence
     * pair in the text (prose around one fenced block) */
    size_t open = (size_t)-1;
    size_t s = 0;
    while (s < n && is_space((unsigned char)text[s])) s++;
    if (s + 3 <= n && fence_at(text + s)) {
        open = s;
    } else {
        int count = 0;
        size_t first = 0;
        for (size_t i = 0; i + 3 <= n; i++) {
            if ((i == 0 || text[i - 1] == '\n') && fence_at(text + i)) {
                if (count == 0) first = i;
                count++;
                i += 2;
            }
        }
        if (count == 2) open = first;
    }
    if (open == (size_t)-1) return;
    char ch = text[open];
    size_t i = open;
    while (i < n && text[i] != '\n') i++; /* skip the fence line (```html) */
    if (i < n) i++;
    size_t body = i;
    size_t close = n;
    for (size_t k = body; k + 3 <= n; k++) {
        if ((k == body || text[k - 1] == '\n')) {
            size_t m = k;
            while (m < n && (text[m] == ' ' || text[m] == '\t')) m++;
            if (m + 3 <= n && text[m] == ch && text[m + 1] == ch && text[m + 2] == ch) {
                close = k;
                break;
            }
        }
    }
    *start = body;
    *end = close;
}

/* ---- similarities ---- */

int64_t cb_seq_levenshtein(const char *const *p, int np, const char *const *g, int ng) {
    if (np == 0) return ng;
    if (ng == 0) return np;
    int64_t *row = malloc((size_t)(ng + 1) * sizeof *row);
    if (!row) return -1;
    for (int j = 0; j <= ng; j++) row[j] = j;
    for (int i = 1; i <= np; i++) {
        int64_t diag = row[0];
        row[0] = i;
        for (int j = 1; j <= ng; j++) {
            int64_t up = row[j];
            int64_t best = diag + (strcmp(p[i - 1], g[j - 1]) != 0);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int64_t d = row[ng];
    free(row);
    return d;
}

double cb_seq_lev_sim(const char *const *p, int np, const char *const *g, int ng) {
    if (ng == 0) return 0.0;
    int64_t d = cb_seq_levenshtein(p, np, g, ng);
    if (d < 0) return NAN;
    return 1.0 - (double)d / (2.0 * ng);
}

/* Longest common block of p[pa..pb) and g[ga..gb): the earliest in p, then in
 * g among the longest. len[] is scratch of (gb-ga+1) entries. */
static void longest_block(const char *const *p, int pa, int pb, const char *const *g, int ga, int gb, int *len,
                          int *bi, int *bj, int *bk) {
    int w = gb - ga;
    *bi = pa;
    *bj = ga;
    *bk = 0;
    for (int j = 0; j <= w; j++) len[j] = 0;
    for (int i = pa; i < pb; i++) {
        /* len[j+1] = length of the common run ending at p[i], g[ga+j]; walk j
         * downwards so len[j] still holds the previous row's value */
        for (int j = w - 1; j >= 0; j--) {
            if (strcmp(p[i], g[ga + j]) == 0) {
                len[j + 1] = len[j] + 1;
                int k = len[j + 1];
                int si = i - k + 1, sj = ga + j - k + 1;
                if (k > *bk || (k == *bk && (si < *bi || (si == *bi && sj < *bj)))) {
                    *bk = k;
                    *bi = si;
                    *bj = sj;
                }
            } else {
                len[j + 1] = 0;
            }
        }
    }
}

int64_t cb_seq_ro_matches(const char *const *p, int np, const char *const *g, int ng) {
    if (np == 0 || ng == 0) return 0;
    int *len = malloc((size_t)(ng + 1) * sizeof *len);
    /* explicit stack of sub-ranges instead of recursion (depth up to n) */
    int cap = 64, top = 0;
    int (*st)[4] = malloc((size_t)cap * sizeof *st);
    int64_t m = -1;
    if (!len || !st) goto out;
    m = 0;
    st[top][0] = 0, st[top][1] = np, st[top][2] = 0, st[top][3] = ng, top++;
    while (top > 0) {
        top--;
        int pa = st[top][0], pb = st[top][1], ga = st[top][2], gb = st[top][3];
        if (pa >= pb || ga >= gb) continue;
        int bi, bj, bk;
        longest_block(p, pa, pb, g, ga, gb, len, &bi, &bj, &bk);
        if (bk == 0) continue;
        m += bk;
        if (top + 2 > cap) {
            int nc = cap * 2;
            int (*ns)[4] = realloc(st, (size_t)nc * sizeof *st);
            if (!ns) {
                m = -1;
                goto out;
            }
            st = ns;
            cap = nc;
        }
        st[top][0] = pa, st[top][1] = bi, st[top][2] = ga, st[top][3] = bj, top++;
        st[top][0] = bi + bk, st[top][1] = pb, st[top][2] = bj + bk, st[top][3] = gb, top++;
    }
out:
    free(len);
    free(st);
    return m;
}

double cb_seq_ro_ratio(const char *const *p, int np, const char *const *g, int ng) {
    if (np + ng == 0) return 1.0;
    int64_t m = cb_seq_ro_matches(p, np, g, ng);
    if (m < 0) return NAN;
    return 2.0 * (double)m / (double)(np + ng);
}
