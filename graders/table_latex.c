/* graders/table_latex.c — the first tabular environment of a LaTeX response
 * (TASKS.md 4.4 "LaTeX"): column spec, caption, rows and cells.
 *
 * A single left-to-right scan over the tabular body; macros are handled by
 * name (rules removed, \multicolumn / \multirow reduced to their content,
 * everything else loses its name and keeps its brace contents). This is not a
 * TeX interpreter: user macros, \verb and catcode changes are read as text.
 */
#include "graders/table.h"

#include <stdlib.h>
#include <string.h>

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* End (one past the closing char) of the group opening at s[i] (s[i] is
 * `open`), respecting nesting and backslash escapes; n when unclosed. */
static size_t group_end(const char *s, size_t n, size_t i, char open, char close) {
    int depth = 0;
    for (; i < n; i++) {
        if (s[i] == '\\') {
            i++;
            continue;
        }
        if (s[i] == open) depth++;
        else if (s[i] == close && --depth == 0) return i + 1;
    }
    return n;
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && is_ws(s[i])) i++;
    return i;
}

/* Skips an optional [..] (and, with paren, an optional (..)) then returns i. */
static size_t skip_opt(const char *s, size_t n, size_t i, int paren) {
    size_t j = skip_ws(s, n, i);
    if (paren && j < n && s[j] == '(') {
        i = group_end(s, n, j, '(', ')');
        j = skip_ws(s, n, i);
    }
    if (j < n && s[j] == '[') return group_end(s, n, j, '[', ']');
    return i;
}

/* Skips one {..} group (or a single token) after whitespace. */
static size_t skip_arg(const char *s, size_t n, size_t i) {
    i = skip_ws(s, n, i);
    if (i < n && s[i] == '{') return group_end(s, n, i, '{', '}');
    return i < n ? i + 1 : n;
}

static int macro_is(const char *s, size_t a, size_t b, const char *name) {
    return b - a == strlen(name) && memcmp(s + a, name, b - a) == 0;
}

/* Finds "\begin{tabular}" / "\end{tabular}" at or after i; n when absent. */
static size_t find(const char *s, size_t n, size_t i, const char *pat) {
    size_t m = strlen(pat);
    for (; i + m <= n; i++)
        if (memcmp(s + i, pat, m) == 0) return i;
    return n;
}

static int emit_cell(cb_table *t, const char *buf, size_t k) {
    size_t a = 0;
    while (a < k && is_ws(buf[a])) a++;
    while (k > a && is_ws(buf[k - 1])) k--;
    if (k == a) return 0; /* empty cells are dropped */
    return cb_table_add_cell(t, buf + a, k - a);
}

static int parse_body(const char *s, size_t n, cb_table *t) {
    char *buf = malloc(n + 1);
    if (!buf) return CB_ENOMEM;
    size_t k = 0;
    int rc = cb_table_add_row(t);
    for (size_t i = 0; i < n && !rc;) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && s[i + 1] == '\\') { /* row end, optional [skip] */
            if ((rc = emit_cell(t, buf, k))) break;
            k = 0;
            rc = cb_table_add_row(t);
            i = skip_opt(s, n, i + 2, 0);
        } else if (c == '\\' && i + 1 < n && is_alpha(s[i + 1])) {
            size_t a = i + 1, b = a;
            while (b < n && is_alpha(s[b])) b++;
            i = b;
            if (macro_is(s, a, b, "hline") || macro_is(s, a, b, "toprule") || macro_is(s, a, b, "midrule") ||
                macro_is(s, a, b, "bottomrule")) {
                i = skip_opt(s, n, i, 0);
            } else if (macro_is(s, a, b, "cline") || macro_is(s, a, b, "cmidrule")) {
                i = skip_arg(s, n, skip_opt(s, n, i, 1));
            } else if (macro_is(s, a, b, "multicolumn")) {
                i = skip_arg(s, n, skip_arg(s, n, i)); /* {n}{spec}; the content group is read on */
            } else if (macro_is(s, a, b, "multirow")) {
                i = skip_arg(s, n, skip_opt(s, n, skip_arg(s, n, i), 0)); /* {n}[..]{width} */
            }
            /* any other macro: its name goes, its brace contents stay */
        } else if (c == '\\' && i + 1 < n) { /* escaped character */
            char e = s[i + 1];
            buf[k++] = e == ' ' ? ' ' : e;
            i += 2;
        } else if (c == '&') {
            if ((rc = emit_cell(t, buf, k))) break;
            k = 0;
            i++;
        } else if (c == '%') { /* comment to the end of the line */
            while (i < n && s[i] != '\n') i++;
        } else if (c == '{' || c == '}' || c == '$' || c == '\\') {
            i++;
        } else {
            buf[k++] = c == '~' ? ' ' : c;
            i++;
        }
    }
    if (!rc) rc = emit_cell(t, buf, k);
    free(buf);
    return rc;
}

/* Content of {..} at s[i] with nested groups and whitespace removed. */
static char *spec_of(const char *s, size_t n, size_t i) {
    size_t e = group_end(s, n, i, '{', '}');
    char *d = malloc(e - i + 1);
    if (!d) return NULL;
    size_t k = 0;
    int depth = 0;
    for (size_t j = i; j < e; j++) {
        if (s[j] == '{') {
            depth++;
            continue;
        }
        if (s[j] == '}') {
            depth--;
            continue;
        }
        if (depth == 1 && !is_ws(s[j])) d[k++] = s[j];
    }
    d[k] = '\0';
    return d;
}

int cb_table_parse_latex(const char *text, size_t n, cb_table *out, cb_err *err) {
    /* caption: anywhere in the text */
    size_t c = find(text, n, 0, "\\caption");
    if (c < n) {
        size_t i = skip_ws(text, n, skip_opt(text, n, c + 8, 0));
        if (i < n && text[i] == '{') {
            size_t e = group_end(text, n, i, '{', '}');
            size_t a = i + 1, b = e > a && text[e - 1] == '}' ? e - 1 : e;
            cb_table tmp;
            cb_table_init(&tmp);
            /* collapse whitespace through the cell helper */
            if (cb_table_add_cell(&tmp, text + a, b - a)) return cb_err_set(err, CB_ENOMEM, "out of memory");
            out->caption = tmp.cells[0];
            tmp.cells[0] = NULL;
            tmp.n_cells = 0;
            cb_table_clear(&tmp);
        }
    }
    size_t b = find(text, n, 0, "\\begin{tabular}");
    if (b == n) return 0;
    out->found = 1;
    size_t i = skip_opt(text, n, b + 15, 0);
    i = skip_ws(text, n, i);
    if (i < n && text[i] == '{') {
        if (!(out->spec = spec_of(text, n, i))) return cb_err_set(err, CB_ENOMEM, "out of memory");
        i = group_end(text, n, i, '{', '}');
    }
    /* body: up to the \end{tabular} that closes this environment */
    size_t e = i;
    int depth = 1;
    for (;;) {
        size_t nb = find(text, n, e, "\\begin{tabular}"), ne = find(text, n, e, "\\end{tabular}");
        if (ne == n) {
            e = n;
            break;
        }
        if (nb < ne) {
            depth++;
            e = nb + 15;
            continue;
        }
        if (--depth == 0) {
            e = ne;
            break;
        }
        e = ne + 13;
    }
    if (parse_body(text + i, e - i, out)) return cb_err_set(err, CB_ENOMEM, "out of memory (LaTeX table)");
    cb_table_finish(out);
    return 0;
}
