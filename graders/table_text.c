/* graders/table_text.c — raw text ("|"-separated) tables: the team and player
 * tables of a structured-output `raw` response (TASKS.md 4.4 "Raw tables").
 *
 * The text is cut into lines (on "\n" and the literal "<NEWLINE>"); anchor
 * lines ("Team:", "Players", "**Team**") split it into the two regions; a
 * region's "|" lines become rows. Everything else (prose, blank lines) is
 * ignored, so a response with chatter around its tables parses the same.
 */
#include "graders/table.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t a, b; /* byte span of the line */
} line;

static int is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* ^\W*(team|player)s?\W*:?\W*$, case-insensitive: 1 team, 2 player, 0 none.
 * Bytes >= 0x80 count as word characters (a letter of another script). */
static int anchor(const char *s, size_t a, size_t b) {
    while (a < b && !is_word((unsigned char)s[a])) a++;
    int kind = 0;
    if (b - a >= 4 && strncasecmp(s + a, "team", 4) == 0) {
        kind = 1;
        a += 4;
    } else if (b - a >= 6 && strncasecmp(s + a, "player", 6) == 0) {
        kind = 2;
        a += 6;
    } else {
        return 0;
    }
    if (a < b && (s[a] == 's' || s[a] == 'S')) a++;
    for (; a < b; a++)
        if (is_word((unsigned char)s[a])) return 0;
    return kind;
}

static int has_bar(const char *s, size_t a, size_t b) { return memchr(s + a, '|', b - a) != NULL; }

/* Separator row: every non-empty cell matches ^:?[-=]+:?$. */
static int sep_cell(const char *c) {
    size_t n = strlen(c);
    if (n == 0) return 1;
    size_t i = 0;
    if (c[i] == ':') i++;
    size_t k = i;
    while (i < n && (c[i] == '-' || c[i] == '=')) i++;
    if (i == k) return 0;
    if (i < n && c[i] == ':') i++;
    return i == n;
}

/* One "|" line into cells (split on unescaped "|", "\|" kept as "|"). */
static int split_line(cb_table *t, const char *s, size_t a, size_t b) {
    if (cb_table_add_row(t)) return CB_ENOMEM;
    char *buf = malloc(b - a + 1);
    if (!buf) return CB_ENOMEM;
    size_t k = 0;
    int rc = 0;
    for (size_t i = a; i <= b; i++) {
        if (i == b || s[i] == '|') {
            if ((rc = cb_table_add_cell(t, buf, k))) break;
            k = 0;
        } else if (s[i] == '\\' && i + 1 < b && s[i + 1] == '|') {
            buf[k++] = '|';
            i++;
        } else {
            buf[k++] = s[i];
        }
    }
    free(buf);
    return rc;
}

static void drop_cell(cb_table *t, int idx) {
    free(t->cells[idx]);
    memmove(t->cells + idx, t->cells + idx + 1, (size_t)(t->n_cells - idx - 1) * sizeof *t->cells);
    t->n_cells--;
    for (int r = 0; r <= t->n_rows; r++)
        if (t->row_off[r] > idx) t->row_off[r]--;
}

/* Rows of one region: lines[from..to) that contain "|". */
static int parse_region(const char *s, const line *ls, int from, int to, cb_table *t) {
    for (int i = from; i < to; i++) {
        if (!has_bar(s, ls[i].a, ls[i].b)) continue;
        if (split_line(t, s, ls[i].a, ls[i].b)) return CB_ENOMEM;
        /* drop a separator row */
        int n;
        char **c = cb_table_row(t, t->n_rows - 1, &n);
        int sep = 1;
        for (int k = 0; k < n && sep; k++) sep = sep_cell(c[k]);
        if (sep) {
            for (int k = n - 1; k >= 0; k--) drop_cell(t, t->row_off[t->n_rows - 1] + k);
            t->n_rows--;
        }
    }
    /* an empty first (last) column in every row comes from a leading
     * (trailing) bar: drop it */
    for (int side = 0; side < 2 && t->n_rows > 0; side++) {
        int all = 1;
        for (int r = 0; r < t->n_rows && all; r++) {
            int n;
            char **c = cb_table_row(t, r, &n);
            all = n > 0 && c[side == 0 ? 0 : n - 1][0] == '\0';
        }
        if (!all) continue;
        for (int r = 0; r < t->n_rows; r++) {
            int n;
            cb_table_row(t, r, &n);
            drop_cell(t, side == 0 ? t->row_off[r] : t->row_off[r] + n - 1);
        }
    }
    cb_table_finish(t);
    t->found = t->n_rows > 0;
    return 0;
}

int cb_table_parse_raw(const char *text, size_t len, cb_table *team, cb_table *player, cb_err *err) {
    int rc = 0, n = 0, cap = 64;
    line *ls = malloc((size_t)cap * sizeof *ls);
    if (!ls) return cb_err_set(err, CB_ENOMEM, "out of memory (table lines)");
    size_t a = 0;
    for (size_t i = 0; i <= len; i++) {
        size_t skip = 0;
        if (i == len || text[i] == '\n') skip = 1;
        else if (text[i] == '<' && len - i >= 9 && memcmp(text + i, "<NEWLINE>", 9) == 0) skip = 9;
        if (!skip) continue;
        if (n == cap) {
            line *nl = realloc(ls, (size_t)cap * 2 * sizeof *ls);
            if (!nl) {
                rc = cb_err_set(err, CB_ENOMEM, "out of memory (table lines)");
                goto out;
            }
            ls = nl;
            cap *= 2;
        }
        ls[n].a = a;
        ls[n].b = i;
        n++;
        a = i + skip;
        i += skip - 1;
    }
    int ta = -1, pa = -1;
    for (int i = 0; i < n; i++) {
        int k = anchor(text, ls[i].a, ls[i].b);
        if (k == 1 && ta < 0) ta = i;
        if (k == 2 && pa < 0) pa = i;
    }
    if (ta >= 0 && pa >= 0) {
        /* each region runs from its anchor to the other anchor (or the end) */
        int te = pa > ta ? pa : n, pe = ta > pa ? ta : n;
        if (parse_region(text, ls, ta + 1, te, team) || parse_region(text, ls, pa + 1, pe, player)) goto oom;
    } else {
        /* the first two blocks of consecutive "|" lines */
        int blk[2][2] = {{0, 0}, {0, 0}}, nb = 0;
        for (int i = 0; i < n && nb < 2;) {
            if (!has_bar(text, ls[i].a, ls[i].b)) {
                i++;
                continue;
            }
            int j = i;
            while (j < n && has_bar(text, ls[j].a, ls[j].b)) j++;
            blk[nb][0] = i;
            blk[nb][1] = j;
            nb++;
            i = j;
        }
        if (nb > 0 && parse_region(text, ls, blk[0][0], blk[0][1], team)) goto oom;
        if (nb > 1 && parse_region(text, ls, blk[1][0], blk[1][1], player)) goto oom;
    }
out:
    free(ls);
    return rc;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory (table cells)");
    goto out;
}
