/* tests/graders/test_judge.c — judge-output parsing on canned judgements
 * (TASKS.md 2.5, 3.4): good tables, markdown decoration, malformed rows,
 * out-of-range points, missing rows, several scores, the fallback format, and
 * sentence counting with the 2.7 examples. */
#include "graders/judge.h"

#include <criterion/criterion.h>

static const char *const SK[] = {"metaphor", "red herring"};

Test(judge, rubric_good_table) {
    const char *j = "Here's the grading table:\n"
                    "| Criteria | Points Earned |\n"
                    "|---|---|\n"
                    "| Correctly illustrates metaphor | 1 |\n"
                    "| Correctly illustrates red herring | 0 |\n"
                    "| Pertains to Gardening | 1 |\n"
                    "| Text makes sense | 1 |\n"
                    "| At most one sentence | 1 |\n"
                    "| Total Points Earned | 4 |\n"
                    "Explanation: the weeds metaphor works; no red herring.";
    int p[CB_RUBRIC_MAX];
    cr_assert_eq(cb_judge_parse_rubric(j, SK, 2, p), 5);
    int want[] = {1, 0, 1, 1, 1};
    for (int i = 0; i < 5; i++) cr_assert_eq(p[i], want[i], "criterion %d", i);
}

Test(judge, rubric_out_of_order_names_bold_and_fractions) {
    /* rows in another order are matched by name; "1/1" and "1 (out of 1)" read as 1; curly apostrophe */
    const char *j = "Here\xe2\x80\x99s the grading table:\n"
                    "| **Criteria** | **Points Earned** |\n"
                    "|:--|:--:|\n"
                    "| Text makes sense | 1/1 |\n"
                    "| Correctly illustrates red herring | 1 (out of 1) |\n"
                    "| Correctly illustrates metaphor | **0** |\n"
                    "| At most one sentence | 0 |\n"
                    "| Pertains to Gardening | 1 |\n"
                    "| **Total Points Earned** | **3** |\n";
    int p[CB_RUBRIC_MAX];
    cr_assert_eq(cb_judge_parse_rubric(j, SK, 2, p), 5);
    int want[] = {0, 1, 1, 1, 0};
    for (int i = 0; i < 5; i++) cr_assert_eq(p[i], want[i], "criterion %d", i);
}

Test(judge, rubric_position_fallback_and_invalid_points) {
    /* unnamed criteria fall back to position; a 2 is not a valid point */
    const char *j = "| Criterion | Points |\n| --- | --- |\n| A | 1 |\n| B | 2 |\n| C | 1 |\n| D | 0 |\n| E | 1 |\n";
    int p[CB_RUBRIC_MAX];
    cr_assert_eq(cb_judge_parse_rubric(j, SK, 2, p), 4, "the row with 2 is invalid");
    cr_assert_eq(p[0], 1);
    cr_assert_eq(p[1], -1);
    cr_assert_eq(p[4], 1);
}

Test(judge, rubric_missing_rows_and_garbage) {
    int p[CB_RUBRIC_MAX];
    const char *j = "Here's the grading table:\n| Correctly illustrates metaphor | 1 |\n| Pertains to Gardening | 1 |\n";
    cr_assert_eq(cb_judge_parse_rubric(j, SK, 2, p), 2);
    cr_assert_eq(cb_judge_parse_rubric("Once upon a time there was a judge who liked tables.", SK, 2, p), 0);
    cr_assert_eq(cb_judge_parse_rubric("", SK, 2, p), 0);
    cr_assert_eq(cb_judge_parse_rubric(NULL, SK, 2, p), 0);
    /* the table before the marker is not the grading table; text after Explanation: is ignored */
    const char *k = "| Correctly illustrates metaphor | 0 |\nHere's the grading table:\n"
                    "| Correctly illustrates metaphor | 1 |\nExplanation:\n| Text makes sense | 0 |";
    cr_assert_eq(cb_judge_parse_rubric(k, SK, 2, p), 1);
    cr_assert_eq(p[0], 1);
    cr_assert_eq(p[3], -1);
}

Test(judge, rubric_fallback_point_earned_lines) {
    const char *j = "Point earned: 1\nPoint earned: 0\nPoint earned: 1\nPoint earned: 1\nPoint earned: 0\n";
    int p[CB_RUBRIC_MAX];
    cr_assert_eq(cb_judge_parse_rubric(j, SK, 2, p), 5);
    int want[] = {1, 0, 1, 1, 0};
    for (int i = 0; i < 5; i++) cr_assert_eq(p[i], want[i]);
}

Test(judge, rating_forms_of_3_4) {
    double r = 0;
    cr_assert(cb_judge_parse_rating("#### Evaluation Score\nScore: 4/5", &r));
    cr_assert_float_eq(r, 4, 1e-12);
    cr_assert(cb_judge_parse_rating("**Score:** 4/5", &r));
    cr_assert_float_eq(r, 4, 1e-12);
    cr_assert(cb_judge_parse_rating("Score: [4]/5", &r));
    cr_assert_float_eq(r, 4, 1e-12);
    cr_assert(cb_judge_parse_rating("Score: 4 / 5", &r));
    cr_assert_float_eq(r, 4, 1e-12);
    cr_assert(cb_judge_parse_rating("I would give it 3.5 out of 5.", &r));
    cr_assert_float_eq(r, 3.5, 1e-12);
    /* the first rating after the last heading, not a later hypothetical */
    cr_assert(cb_judge_parse_rating("Analysis: references got 2/5.\n#### Evaluation Score\nScore: 3/5\n"
                                    "A perfect answer would be 5/5.",
                                    &r));
    cr_assert_float_eq(r, 3, 1e-12);
    /* no heading: the last one */
    cr_assert(cb_judge_parse_rating("Ref 1 was 2/5, this one is 4/5", &r));
    cr_assert_float_eq(r, 4, 1e-12);
    /* out of range is returned as read (callers re-ask); /50 or /5x is not a rating */
    cr_assert(cb_judge_parse_rating("Score: 7/5", &r));
    cr_assert_float_eq(r, 7, 1e-12);
    cr_assert_not(cb_judge_parse_rating("Score: 40/50", &r));
    cr_assert_not(cb_judge_parse_rating("no score here", &r));
    cr_assert_not(cb_judge_parse_rating(NULL, &r));
}

Test(judge, sentences_of_2_7) {
    cr_assert_eq(cb_count_sentences("My garden is a battlefield, and the weeds are winning.", 0), 1);
    cr_assert_eq(cb_count_sentences("Asked why the tomatoes died, Tom replied, \"Isn't the sunset lovely?\" and "
                                     "surveyed his garden, a graveyard of good intentions.",
                                     0),
                 1);
    cr_assert_eq(cb_count_sentences("Here is a metaphor: my garden is a jungle. Also, the weather is nice.", 0), 2);
    cr_assert_eq(cb_count_sentences("", 0), 0);
    cr_assert_eq(cb_count_sentences("   \n", 0), 0);
    /* abbreviations do not end a sentence; a newline does separate */
    cr_assert_eq(cb_count_sentences("Dr. Smith met Mr. Jones, e.g. at noon. Then he left.", 0), 2);
    cr_assert_eq(cb_count_sentences("One.\nTwo.", 0), 2);
    /* the reference rule needs exactly one space */
    cr_assert_eq(cb_count_sentences("One.\nTwo.", 1), 1);
    cr_assert_eq(cb_count_sentences("One.  Two.", 1), 1);
    cr_assert_eq(cb_count_sentences("One. Two.", 1), 2);
    cr_assert_eq(cb_count_sentences("He said \"Stop.\" (Then) nothing.", 0), 2, "an opening bracket may precede");
    cr_assert_eq(cb_count_words("  a b\tc\n"), 3);
}

/* ---- P-Score judgements (4.5): a golden table of judge outputs ---- */

typedef struct {
    const char *text;
    int ok;
    double c, s;
} sim_case;

Test(judge, similarity_golden_table_of_judge_outputs) {
    static const sim_case cases[] = {
        /* the asked form: reasoning, then a json fence */
        {"Both tables agree on most cells.\n```json\n{\"content_similarity\": 8, \"structural_similarity\": 10}\n```",
         1, 8, 10},
        /* fence without a language, upper-case JSON tag, CRLF lines */
        {"ok\r\n```\r\n{\"content_similarity\":3,\"structural_similarity\":4}\r\n```\r\n", 1, 3, 4},
        {"```JSON\n{\"structural_similarity\": 2, \"content_similarity\": 9}\n```", 1, 9, 2},
        /* an example block first, then the real one: the last block decides */
        {"Format: ```json\n{\"content_similarity\": 0, \"structural_similarity\": 0}\n```\nMine:\n```json\n"
         "{\"content_similarity\": 6, \"structural_similarity\": 7}\n```",
         1, 6, 7},
        /* the tables echoed in html fences do not count; unclosed final fence */
        {"```html\n<table><tr><td>1</td></tr></table>\n```\n```json\n{\"content_similarity\": 5, "
         "\"structural_similarity\": 5",
         1, 5, 5},
        /* numbers as strings, a decimal, trailing text after the object inside the fence */
        {"```json\n{\"content_similarity\": \"7\", \"structural_similarity\": 7.5} done\n```", 1, 7, 7.5},
        /* no fence: the last pairs in the text, quotes optional */
        {"\"content_similarity\": 2 at first, but on reflection \"content_similarity\": 4 and structural_similarity: "
         "'6'.",
         1, 4, 6},
        /* reasoning in <think> is skipped: the verdict after it counts */
        {"<think>maybe {\"content_similarity\": 1, \"structural_similarity\": 1}</think>\n```json\n"
         "{\"content_similarity\": 9, \"structural_similarity\": 8}\n```",
         1, 9, 8},
        /* out of range: unreadable, never clipped or zero */
        {"```json\n{\"content_similarity\": 11, \"structural_similarity\": 5}\n```", 0, 0, 0},
        {"```json\n{\"content_similarity\": -1, \"structural_similarity\": 5}\n```", 0, 0, 0},
        {"```json\n{\"content_similarity\": 1e1, \"structural_similarity\": 5}\n```", 1, 10, 5},
        {"content_similarity: 1e400, structural_similarity: 3", 0, 0, 0},
        /* one key only, placeholders, wrong types, empty and prose-only answers */
        {"```json\n{\"content_similarity\": 7}\n```", 0, 0, 0},
        {"Give \"content_similarity\": N and \"structural_similarity\": N", 0, 0, 0},
        {"```json\n{\"content_similarity\": null, \"structural_similarity\": true}\n```", 0, 0, 0},
        {"```json\n{\"content_similarity\": [7], \"structural_similarity\": {\"v\": 7}}\n```", 0, 0, 0},
        {"", 0, 0, 0},
        {"The tables are very similar; I would give them a high score.", 0, 0, 0},
        /* a broken fence falls back to the pairs in it */
        {"```json\n{\"content_similarity\": 6, \"structural_similarity\": 3,,}\n```", 1, 6, 3},
        /* a later out-of-range pair beats an earlier valid one (the last pair counts) */
        {"content_similarity: 5 structural_similarity: 5 ... content_similarity: 50", 0, 0, 0},
        /* a key glued to another word is not the key */
        {"xcontent_similarity: 3 structural_similarity: 3", 0, 0, 0},
        /* "8/10" and "8 out of 10" read as 8; a hex number is not a plain number */
        {"content_similarity: 8/10, structural_similarity: 9 out of 10", 1, 8, 9},
        {"content_similarity: 0x8, structural_similarity: 9", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double c = -99, s = -99;
        int ok = cb_judge_parse_similarity(cases[i].text, &c, &s);
        cr_expect_eq(ok, cases[i].ok, "case %zu: ok %d, want %d (%s)", i, ok, cases[i].ok, cases[i].text);
        if (ok && cases[i].ok) {
            cr_expect_eq(c, cases[i].c, "case %zu content %g", i, c);
            cr_expect_eq(s, cases[i].s, "case %zu structure %g", i, s);
        }
        if (!ok) cr_expect(c == -99 && s == -99, "case %zu: outputs untouched when unreadable", i);
    }
    cr_assert_eq(cb_judge_parse_similarity(NULL, &(double){0}, &(double){0}), 0);
}
