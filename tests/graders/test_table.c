/* tests/graders/test_table.c — table parsers on nasty inputs (fences, prose,
 * ragged rows, escapes, \multicolumn, colspan, broken markup) and the
 * sequence similarities against hand-computed values. */
#include "graders/table.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *cell(const cb_table *t, int r, int c) {
    int n;
    char **row = cb_table_row(t, r, &n);
    cr_assert_lt(c, n, "row %d has %d cells, wanted %d", r, n, c + 1);
    return row[c];
}

Test(table_sim, levenshtein_and_ratio) {
    const char *a[] = {"x", "a", "b", "c"}, *b[] = {"a", "b", "c", "y"};
    cr_expect_eq(cb_seq_levenshtein(a, 4, b, 4), 2);
    cr_expect_eq(cb_seq_ro_matches(a, 4, b, 4), 3);
    cr_expect(fabs(cb_seq_ro_ratio(a, 4, b, 4) - 0.75) < 1e-12);
    cr_expect(fabs(cb_seq_lev_sim(a, 4, b, 4) - 0.75) < 1e-12);
    /* empty cases */
    cr_expect_eq(cb_seq_lev_sim(a, 4, NULL, 0), 0.0);
    cr_expect_eq(cb_seq_lev_sim(NULL, 0, b, 4), 0.5);
    cr_expect_eq(cb_seq_ro_ratio(NULL, 0, NULL, 0), 1.0);
    /* a much longer prediction gives a negative lev_sim (clipped by callers) */
    const char *g1[] = {"a"}, *p6[] = {"b", "c", "d", "e", "f", "g"};
    cr_expect_lt(cb_seq_lev_sim(p6, 6, g1, 1), 0.0);
    /* Ratcliff-Obershelp recursion: "abxcd" vs "abcd": ab + cd = 4 */
    const char *p[] = {"a", "b", "x", "c", "d"}, *g[] = {"a", "b", "c", "d"};
    cr_expect_eq(cb_seq_ro_matches(p, 5, g, 4), 4);
    /* ties: the earliest block in p wins ("ab" at 0, not at 3) */
    const char *p2[] = {"a", "b", "z", "a", "b"}, *g2[] = {"a", "b"};
    cr_expect_eq(cb_seq_ro_matches(p2, 5, g2, 2), 2);
}

Test(table_raw, anchors_fences_and_ragged_rows) {
    const char *t = "Sure! Here are the team and player tables:\n\n**Team:**\n| | Wins | Losses |\n|:--|--:|---|\n"
                    "| Hawks | 46 | 12\n| Magic | 19 | 41 | 7 |\n\nPlayers\n| | Points |\n| A \\| B | 21 |<NEWLINE>| C | 3 |\n";
    cb_table team, player;
    cb_table_init(&team);
    cb_table_init(&player);
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_table_parse_raw(t, strlen(t), &team, &player, &err), 0);
    cr_expect(team.found);
    cr_expect_eq(team.n_rows, 3);
    cr_expect_eq(team.n_cols, 5); /* the ragged "| 7 |" row keeps its trailing empty cell: the Hawks row has no final bar */
    cr_expect_str_eq(cell(&team, 0, 0), "");
    cr_expect_str_eq(cell(&team, 0, 1), "Wins");
    cr_expect_str_eq(cell(&team, 1, 2), "12");
    cr_expect_eq(player.n_rows, 3);
    cr_expect_str_eq(cell(&player, 1, 0), "A | B");
    cr_expect_str_eq(cell(&player, 2, 0), "C");
    cb_table_clear(&team);
    cb_table_clear(&player);
    /* without anchors: the first two blocks of "|" lines */
    const char *u = "| | W |\n| X | 1 |\nblah\n| | P |\n| Y | 2 |\n| Z | 3 |";
    cr_assert_eq(cb_table_parse_raw(u, strlen(u), &team, &player, &err), 0);
    cr_expect_eq(team.n_rows, 2);
    cr_expect_eq(player.n_rows, 3);
    cb_table_clear(&team);
    cb_table_clear(&player);
    /* a sentence mentioning "team" is not an anchor; no bars -> nothing */
    const char *v = "The team played well.\nPlayer of the game: Bo";
    cr_assert_eq(cb_table_parse_raw(v, strlen(v), &team, &player, &err), 0);
    cr_expect_not(team.found);
    cr_expect_not(player.found);
    cb_table_clear(&team);
    cb_table_clear(&player);
}

Test(table_fence, strip) {
    size_t a, e;
    const char *t = "```html\n<table></table>\n```";
    cb_table_strip_fence(t, &a, &e);
    cr_expect_eq(e - a, strlen("<table></table>\n"));
    const char *u = "Here you go:\n~~~\nX\n~~~\nThanks";
    cb_table_strip_fence(u, &a, &e);
    cr_expect_eq(e - a, 2);
    const char *v = "no fence";
    cb_table_strip_fence(v, &a, &e);
    cr_expect_eq(a, 0);
    cr_expect_eq(e, strlen(v));
    const char *w = "```\nunclosed";
    cb_table_strip_fence(w, &a, &e);
    cr_expect_str_eq(w + a, "unclosed");
}

Test(table_html, tolerant) {
    const char *t = "Here is the table:\n<!-- a comment --><TABLE border=1><tr><th>A<th>B &amp; C</tr>"
                    "<tr><td colspan=\"2\">wide</td></tr><tr><td>  x \n y </td><td><b>7</b></td></table> bye";
    cb_table h;
    cb_table_init(&h);
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_table_parse_html(t, strlen(t), CB_HTML_CELLS_TABLE, &h, &err), 0);
    cr_expect(h.found);
    cr_expect_eq(h.n_rows, 3);
    cr_expect_str_eq(cell(&h, 0, 1), "B & C");
    cr_expect_str_eq(cell(&h, 1, 0), "wide");
    cr_expect_str_eq(cell(&h, 1, 1), ""); /* colspan 2 */
    cr_expect_str_eq(cell(&h, 2, 0), "x y");
    cr_expect_str_eq(cell(&h, 2, 1), "7");
    /* structure: implied tbody and unknown tags are not in the sequence */
    cr_expect_str_eq(h.tags[0], "<table>");
    cr_expect_str_eq(h.tags[1], "<tr>");
    cr_expect_str_eq(h.tags[h.n_tags - 1], "</table>");
    for (int i = 0; i < h.n_tags; i++) cr_expect(strstr(h.tags[i], "tbody") == NULL && strstr(h.tags[i], "<b>") == NULL);
    cb_table_clear(&h);
    /* lists */
    const char *l = "<ul><li>one</li><li>two<li>three</ul>";
    cr_assert_eq(cb_table_parse_html(l, strlen(l), CB_HTML_CELLS_LIST, &h, &err), 0);
    cr_expect_eq(h.n_cells, 3);
    cr_expect_str_eq(h.cells[2], "three");
    cb_table_clear(&h);
    /* no markup at all */
    cr_assert_eq(cb_table_parse_html("just words", 10, CB_HTML_CELLS_TABLE, &h, &err), 0);
    cr_expect_not(h.found);
    cb_table_clear(&h);
    cr_expect_eq(cb_table_html_mode("<TABLE>"), CB_HTML_CELLS_TABLE);
    cr_expect_eq(cb_table_html_mode("<ol><li>x</li></ol>"), CB_HTML_CELLS_LIST);
    cr_expect_eq(cb_table_html_mode("<p>x</p>"), CB_HTML_CELLS_ANY);
}

Test(table_html, deep_nesting_does_not_recurse) {
    static char buf[200001];
    size_t n = 0;
    for (int i = 0; i < 3000; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "<div>");
    cb_table h;
    cb_table_init(&h);
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_table_parse_html(buf, n, CB_HTML_CELLS_ANY, &h, &err), 0);
    cr_expect(h.found);
    cb_table_clear(&h);
}

Test(table_latex, nasty) {
    const char *t = "Sure:\n```latex\n\\begin{table}[h]\\caption{My  caption}\n\\begin{tabular}[t]{p{2cm} | r}\n"
                    "\\toprule\n\\multicolumn{2}{c}{\\textbf{Head}} \\\\ \\cmidrule(lr){1-2}\n"
                    "A \\& B & 50\\% \\\\[2pt]\n % a comment & x\n\\cline{1-1} C & $7$ \\\\\n & \\\\\n"
                    "\\begin{tabular}{c} inner \\end{tabular} & z \\\\\n\\bottomrule\\end{tabular}\\end{table}\n```";
    cb_table x;
    cb_table_init(&x);
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_table_parse_latex(t, strlen(t), &x, &err), 0);
    cr_expect(x.found);
    cr_expect_str_eq(x.spec, "p|r");
    cr_expect_str_eq(x.caption, "My caption");
    cr_expect_eq(x.n_rows, 4); /* Head; A & B, 50%; C, 7; inner, z (the empty row is dropped) */
    cr_expect_str_eq(cell(&x, 0, 0), "Head");
    cr_expect_str_eq(cell(&x, 1, 0), "A & B");
    cr_expect_str_eq(cell(&x, 1, 1), "50%");
    cr_expect_str_eq(cell(&x, 2, 1), "7");
    cr_expect_str_eq(cell(&x, 3, 1), "z");
    cb_table_clear(&x);
    /* no tabular: not found, caption None */
    cr_assert_eq(cb_table_parse_latex("plain", 5, &x, &err), 0);
    cr_expect_not(x.found);
    cr_expect_null(x.caption);
    cb_table_clear(&x);
    /* unterminated everything */
    const char *u = "\\caption{open \\begin{tabular}{l{";
    cr_assert_eq(cb_table_parse_latex(u, strlen(u), &x, &err), 0);
    cb_table_clear(&x);
}
