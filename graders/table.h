/* graders/table.h — tolerant parsers for tables a model writes as raw text
 * ("|" rows), HTML and LaTeX, and the sequence similarities the
 * structured-output H-Score is built from (TASKS.md 4.4).
 *
 * A parser takes the whole response (NUL-terminated, possibly invalid UTF-8,
 * possibly wrapped in a Markdown code fence or prose) and fills a cb_table:
 * rows of cell strings plus, depending on the format, the HTML structure
 * sequence or the LaTeX caption and column spec. Parsers never fail on bad
 * input: what they cannot read is simply not in the table (the caller decides
 * what "parsed" means from the counts). They fail only on allocation.
 *
 * Files: table.c (the table container, fences, similarities),
 * table_text.c (raw "|" tables), table_html.c (HTML through gumbo, the only
 * file that includes gumbo.h), table_latex.c (tabular environments).
 *
 * Not here: scoring rules (which components form H, exact match): those are
 * the family's, in tasks/structured_output.c.
 */
#ifndef CB_TABLE_H
#define CB_TABLE_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* A parsed table. Everything is owned by the table (cb_table_clear).
 *   cells      n_cells strings, row-major; row r is cells[row_off[r] .. row_off[r+1])
 *   n_rows     rows, the header row (row 0) included
 *   n_cols     the longest row's cell count
 *   tags       HTML only: the structure sequence, "<tr>" / "</tr>" ..., n_tags of them
 *   caption    LaTeX only: content of the first \caption{...}, NULL when none
 *   spec       LaTeX only: the column spec with nested brace groups and
 *              whitespace removed ("p{2cm}|r" -> "p|r"), NULL when none
 *   found      the format's parse criterion held (raw: >= 1 row; HTML: >= 1
 *              recognized tag; LaTeX: a \begin{tabular} was found) */
typedef struct cb_table {
    char **cells;
    int n_cells, cap_cells;
    int *row_off;
    int n_rows, cap_rows;
    int n_cols;
    char **tags;
    int n_tags, cap_tags;
    char *caption;
    char *spec;
    int found;
} cb_table;

void cb_table_init(cb_table *t);
void cb_table_clear(cb_table *t); /* frees everything and re-inits; NULL is a no-op */

/* Building (used by the parsers and by generators of gold tables). Cell text
 * is copied with leading/trailing whitespace trimmed and inner whitespace runs
 * collapsed to one space. Return 0 or CB_ENOMEM. */
int cb_table_add_row(cb_table *t);
int cb_table_add_cell(cb_table *t, const char *s, size_t n);
int cb_table_add_tag(cb_table *t, const char *tag);
/* Drops rows with no cells and recomputes n_cols. */
void cb_table_finish(cb_table *t);

/* Cells of row r (pointer into t->cells) and their count. */
static inline char **cb_table_row(const cb_table *t, int r, int *n) {
    *n = t->row_off[r + 1] - t->row_off[r];
    return t->cells + t->row_off[r];
}

/* The part of text inside a surrounding Markdown code fence: when the trimmed
 * text starts with ``` (or ~~~), the span after that fence line up to the
 * matching closing fence (or the end). Otherwise the whole text. Writes the
 * byte span [*start, *end). Prose before an opening fence is also skipped when
 * the text holds exactly one fenced block. */
void cb_table_strip_fence(const char *text, size_t *start, size_t *end);

/* Raw text tables (TASKS.md 4.4 "Raw tables"): the team and player tables of
 * one response. Lines are split on "\n" and on the literal "<NEWLINE>". An
 * escaped bar "\|" is part of a cell. Errors: CB_ENOMEM only. */
int cb_table_parse_raw(const char *text, size_t len, cb_table *team, cb_table *player, cb_err *err);

/* Which cells an HTML parse collects (chosen from the gold, TASKS.md 4.4). */
typedef enum {
    CB_HTML_CELLS_TABLE = 0, /* th and td; a <tr> starts a row; colspan=k adds k-1 empty cells */
    CB_HTML_CELLS_LIST = 1,  /* li; one row */
    CB_HTML_CELLS_ANY = 2    /* every recognized element with non-empty own text; one row */
} cb_html_cells;

/* HTML through an HTML5 parser (gumbo): tags case-insensitive, attributes
 * ignored (except colspan), comments dropped, character references decoded.
 * Recognized tags: table tr th td ul ol li div span p a img embed pre h1..h6
 * input button. Elements the parser invents (implied start tags) are not in
 * the structure sequence. Cell text = concatenated descendant text,
 * whitespace collapsed. Errors: CB_ENOMEM (also when gumbo fails). */
int cb_table_parse_html(const char *text, size_t len, cb_html_cells mode, cb_table *out, cb_err *err);

/* Whether text holds a <table> start tag (ASCII case-insensitive scan) and,
 * else, a <ul>/<ol>/<li>: picks the cell mode of a gold table. */
cb_html_cells cb_table_html_mode(const char *gold);

/* LaTeX: the first tabular environment (TASKS.md 4.4 "LaTeX"); rules are
 * removed, rows split on \\, cells on unescaped &, \multicolumn{n}{s}{X} and
 * \multirow{n}{w}{X} reduced to X, other macro names dropped with their brace
 * contents kept, escaped specials (\& \% \_ \# \$ \{ \}) unescaped, empty
 * cells and rows dropped. Errors: CB_ENOMEM only. */
int cb_table_parse_latex(const char *text, size_t len, cb_table *out, cb_err *err);

/* ---- similarities over sequences of strings (compared with strcmp) -------- */

/* Levenshtein distance with unit costs; -1 on allocation failure. */
int64_t cb_seq_levenshtein(const char *const *p, int np, const char *const *g, int ng);
/* lev_sim = 1 - Levenshtein(p, g) / (2 len(g)); 0 when g is empty; may be
 * negative (callers clip where the spec says so). NAN on allocation failure. */
double cb_seq_lev_sim(const char *const *p, int np, const char *const *g, int ng);
/* Ratcliff-Obershelp matched elements M: longest common contiguous block
 * (ties: earliest in p, then earliest in g), recursively left and right of it.
 * -1 on allocation failure. */
int64_t cb_seq_ro_matches(const char *const *p, int np, const char *const *g, int ng);
/* ro_ratio = 2M / (len p + len g); 1 when both are empty; NAN on allocation failure. */
double cb_seq_ro_ratio(const char *const *p, int np, const char *const *g, int ng);

#endif
