/* tests/tasks/test_structured_output.c — the structured-output family:
 * the worked examples of TASKS.md 4.6 graded through the family (items
 * rebuilt from JSON records with the example's gold), generator determinism,
 * gold tables that grade as exact, and the unparsed / empty rules. */
#include "graders/grader.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Item of subtask sub with the given gold, rebuilt from a JSON record. */
static cb_item *item_with_gold(const char *sub, const char *gold, const char *text) {
    cJSON *j = cJSON_CreateObject();
    char id[128];
    snprintf(id, sizeof id, "structured-output/%s/plain/0", sub);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "seed", "1");
    cJSON *turns = cJSON_AddArrayToObject(j, "turns");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "role", "user");
    cJSON_AddStringToObject(t, "text", "convert");
    cJSON_AddItemToArray(turns, t);
    cJSON_AddStringToObject(j, "gold", gold);
    cJSON_AddStringToObject(j, "grader", "rule");
    cJSON *caps = cJSON_AddArrayToObject(j, "capabilities");
    cJSON_AddItemToArray(caps, cJSON_CreateString("structured_output"));
    cJSON *m = cJSON_AddObjectToObject(j, "meta");
    cJSON_AddStringToObject(m, "format", sub);
    cJSON_AddStringToObject(m, "text", text);
    cJSON_AddNumberToObject(m, "max_tokens", 2048);
    cb_item *it = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_item_from_json(j, "test", &it, &err), 0, "%s", err.msg);
    cJSON_Delete(j);
    return it;
}

static void grade_text(const cb_item *it, const char *resp, int ok, cb_grade *g) {
    cb_grader_ctx *gc = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    cb_task_resp r = {.ok = ok, .text = resp};
    cb_grade_init(g);
    cr_assert_eq(cb_item_grade(gc, it, &r, 1, g, &err), 0, "%s", err.msg);
    cb_grader_ctx_free(gc);
}

static double metric(const cb_grade *g, const char *name) {
    double v = NAN;
    cr_assert(cb_grade_get_metric(g, name, &v), "metric %s missing", name);
    return v;
}

#define NEAR(a, b, tol) cr_expect(fabs((a) - (b)) <= (tol), "%s = %.6f, expected %.6f", #a, (a), (double)(b))

static const char *raw_gold = "Team:\n"
                              "| | Wins | Losses | Total points |\n"
                              "| Hawks | 46 | 12 | 102 |\n"
                              "| Magic | 19 | 41 | 95 |\n"
                              "Player:\n"
                              "| | Points | Rebounds | Assists |\n"
                              "| Al Horford | 21 | 9 | 4 |\n"
                              "| Nikola Vucevic | 18 | 11 | |\n";

Test(structured_output, worked_example_raw) {
    cb_item *it = item_with_gold("raw", raw_gold, "The Hawks (46-12) beat the Magic (19-41) 102-95.");
    /* the prediction omits Total points and writes Vucevic's rebounds as 10;
     * wrapped in a fence and prose, with a Markdown separator row */
    const char *pred = "Here are the tables:\n```\nTeam:\n| | Wins | Losses |\n|---|---|---|\n| Hawks | 46 | 12 |\n"
                       "| Magic | 19 | 41 |\nPlayer:\n| | Points | Rebounds | Assists |\n| Al Horford | 21 | 9 | 4 |\n"
                       "| Nikola Vucevic | 18 | 10 | |\n```\n";
    cb_grade g;
    grade_text(it, pred, 1, &g);
    cr_expect_eq(g.unparsed, 0);
    cr_expect_eq(g.score, 0.0);
    NEAR(metric(&g, "rows_match"), 1, 1e-12);
    NEAR(metric(&g, "cols_match"), 0.5, 1e-12);
    NEAR(metric(&g, "lev_header"), 0.9375, 1e-9);
    NEAR(metric(&g, "ratio_header"), (6.0 / 7 + 1) / 2, 1e-9); /* 0.929 */
    NEAR(metric(&g, "lev_data"), (0.875 + 0.9375) / 2, 1e-9); /* 0.906 */
    NEAR(metric(&g, "ratio_data"), (6.0 / 7 + 0.875) / 2, 1e-9); /* 0.866 */
    NEAR(metric(&g, "h_content_raw"), 1.772, 5e-4);
    NEAR(metric(&g, "h_structure_raw"), 3.366, 5e-4);
    NEAR(metric(&g, "h_content"), 0.886, 5e-4);
    NEAR(metric(&g, "h_structure"), 0.842, 5e-4);
    NEAR(metric(&g, "tag_formatting"), 1, 0);
    NEAR(metric(&g, "tag_coverage"), 1, 0); /* 102, 95 and 11 are missing */
    /* the gold itself is an exact match */
    grade_text(it, raw_gold, 1, &g);
    cr_expect_eq(g.score, 1.0);
    NEAR(metric(&g, "h_content"), 1, 1e-12);
    NEAR(metric(&g, "h_structure"), 1, 1e-12);
    NEAR(metric(&g, "tag_hallucination"), 0, 0);
    cb_item_free(it);
}

Test(structured_output, worked_example_latex) {
    const char *gold = "\\begin{table}\n\\centering\n\\caption{Fruit prices}\n\\begin{tabular}{l|r}\n\\hline\n"
                       "Fruit & Price \\\\\n\\hline\nApple & 3 \\\\\nPear & 4 \\\\\n\\hline\n\\end{tabular}\n\\end{table}";
    const char *pred = "\\begin{table}\n\\caption{Fruit Prices}\n\\begin{tabular}{lr}\n\\toprule\n"
                       "\\textbf{Fruit} & \\textbf{Price} \\\\\n\\midrule\nApple & 3 \\\\\nPear & 4 \\\\\n"
                       "\\bottomrule\n\\end{tabular}\n\\end{table}";
    cb_item *it = item_with_gold("latex", gold, "Apples cost 3, pears 4.");
    cb_grade g;
    grade_text(it, pred, 1, &g);
    cr_expect_eq(g.score, 0.0);
    NEAR(metric(&g, "caption_match"), 0, 0);
    NEAR(metric(&g, "h_content_raw"), 2, 1e-12);
    NEAR(metric(&g, "lev_spec"), 1 - 1.0 / 6, 1e-9);
    NEAR(metric(&g, "ratio_spec"), 0.8, 1e-9);
    NEAR(metric(&g, "h_structure_raw"), 3.633, 5e-4);
    grade_text(it, gold, 1, &g);
    cr_expect_eq(g.score, 1.0);
    cb_item_free(it);
}

Test(structured_output, worked_example_html) {
    const char *gold = "<table>\n<tr><th>Name</th><th>Age</th></tr>\n<tr><td>Ann</td><td>31</td></tr>\n"
                       "<tr><td>Bo</td><td>42</td></tr>\n</table>";
    const char *pred = "```html\n<TABLE>\n<tr><td>Name</td><td>Age</td></tr>\n<tr><td>Ann</td><td>31</td></tr>\n"
                       "<tr><td>Bo</td><td>42</td></tr>\n</TABLE>\n```";
    cb_item *it = item_with_gold("html", gold, "Ann is 31, Bo is 42.");
    cb_grade g;
    grade_text(it, pred, 1, &g);
    cr_expect_eq(g.score, 0.0);
    NEAR(metric(&g, "h_content_raw"), 2, 1e-12);
    NEAR(metric(&g, "cell_count_match"), 1, 0);
    NEAR(metric(&g, "lev_tags"), 0.9, 1e-9);
    NEAR(metric(&g, "ratio_tags"), 0.8, 1e-9);
    NEAR(metric(&g, "h_structure_raw"), 2.7, 1e-9);
    grade_text(it, gold, 1, &g);
    cr_expect_eq(g.score, 1.0);
    cb_item_free(it);
}

Test(structured_output, empty_and_unparsed_are_apart) {
    cb_item *it = item_with_gold("raw", raw_gold, "text");
    cb_grade g;
    grade_text(it, "  \n", 1, &g);
    cr_expect_eq(g.unparsed, 1);
    cr_expect(g.flags & CB_GRADE_EMPTY);
    /* an unparsed output scores 0 on every component, never left out */
    NEAR(metric(&g, "h_content"), 0, 0);
    NEAR(metric(&g, "h_structure"), 0, 0);
    NEAR(metric(&g, "parsed"), 0, 0);
    /* baselines: an empty table gets 0.5 from lev_sim, a blank table more */
    NEAR(metric(&g, "h_content_empty"), 0.25, 1e-12);
    cr_expect_gt(metric(&g, "h_structure_blank"), metric(&g, "h_structure_empty"));
    grade_text(it, "I cannot make tables, sorry.", 1, &g);
    cr_expect_eq(g.unparsed, 1);
    cr_expect_not(g.flags & CB_GRADE_EMPTY);
    NEAR(metric(&g, "h_content"), 0, 0);
    grade_text(it, NULL, 0, &g);
    cr_expect_eq(g.unparsed, 1);
    cr_expect(g.flags & CB_GRADE_NO_RESPONSE);
    cb_item_free(it);
}

/* Every generated item's gold grades as exact under every setting; items are
 * identical across specs and independent of n. */
Test(structured_output, generated_gold_exact_and_deterministic) {
    const char *subs[] = {"raw", "html", "latex"};
    const char *sets[] = {"plain", "formatcot", "oneshot"};
    cb_err err;
    cb_err_clear(&err);
    cb_task_spec *a = NULL, *b = NULL;
    cr_assert_eq(cb_task_spec_new("structured-output", subs, 3, sets, 3, 6, 42, NULL, "$", &a, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cb_task_spec_new("structured-output", subs, 3, sets, 3, 2, 42, NULL, "$", &b, &err), 0, "%s",
                 err.msg);
    cb_grader_ctx *gc = NULL;
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    for (int c = 0; c < cb_task_spec_n_cells(a); c++) {
        for (int i = 0; i < 6; i++) {
            cb_item *x = NULL, *y = NULL;
            cr_assert_eq(cb_task_generate(a, c, i, &x, &err), 0, "%s", err.msg);
            cr_assert_eq(cb_task_generate(b, c, i, &y, &err), 0, "%s", err.msg);
            char *jx = cb_item_to_jsonl(x), *jy = cb_item_to_jsonl(y);
            cr_expect_str_eq(jx, jy);
            cb_task_resp r = {.ok = 1, .text = x->gold};
            cb_grade g;
            cb_grade_init(&g);
            cr_assert_eq(cb_item_grade(gc, x, &r, 1, &g, &err), 0, "%s", err.msg);
            cr_expect_eq(g.score, 1.0, "%s: gold not exact (%s)", x->id, g.reason);
            double hal = 1;
            cb_grade_get_metric(&g, "tag_hallucination", &hal);
            cr_expect_eq(hal, 0.0, "%s: gold cells not found in the input text", x->id);
            free(jx);
            free(jy);
            cb_item_free(x);
            cb_item_free(y);
        }
    }
    cb_grader_ctx_free(gc);
    cb_task_spec_free(a);
    cb_task_spec_free(b);
}
