/* tests/graders/test_match.c — exact/numeric matching, edit distances,
 * majority vote and the grade record's JSON form. */
#include "graders/editdist.h"
#include "graders/grader.h"
#include "graders/match.h"
#include "graders/vote.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(match, exact) {
    cr_assert(cb_match_exact("Yes", "Yes", 0, CB_LANG_EN));
    cr_assert_not(cb_match_exact("yes", "Yes", 0, CB_LANG_EN));
    cr_assert(cb_match_exact("yes", "Yes", CB_MATCH_CASEFOLD, CB_LANG_EN));
    cr_assert(cb_match_exact("  Yes\n", "Yes", CB_MATCH_TRIM, CB_LANG_EN));
    cr_assert_not(cb_match_exact("  Yes\n", "Yes", 0, CB_LANG_EN));
    cr_assert(cb_match_exact("The Eiffel tower!", "eiffel  tower", CB_MATCH_NORMALIZE, CB_LANG_EN));
    cr_assert(cb_match_exact(NULL, "", 0, CB_LANG_EN));
}

Test(match, numeric) {
    cr_assert(cb_match_numeric(3, 3, 0, 0));
    cr_assert_not(cb_match_numeric(2, 3, 0, 0));
    cr_assert(cb_match_numeric(2.95, 3, 0.1, 0));
    cr_assert(cb_match_numeric(101, 100, 0, 0.01));
    cr_assert_not(cb_match_numeric(NAN, 3, 1, 1));
}

Test(editdist, utf8) {
    cr_assert_eq(cb_edit_distance_utf8("kitten", "sitting"), 3);
    cr_assert_eq(cb_edit_distance_utf8("", "abc"), 3);
    cr_assert_eq(cb_edit_distance_utf8("abc", NULL), 3);
    cr_assert_eq(cb_edit_distance_utf8("año", "ano"), 1); /* one code point, two bytes */
    cr_assert_eq(cb_edit_distance_utf8("日本語", "日本"), 1);
    cr_assert_eq(cb_utf8_count("año"), 3);
    cr_assert_eq(cb_utf8_count("\xff\xc3"), 2); /* invalid bytes count one each */
    /* long strings take the heap path */
    char a[301], b[301];
    memset(a, 'x', 300);
    memset(b, 'x', 300);
    a[300] = b[300] = '\0';
    b[150] = 'y';
    cr_assert_eq(cb_edit_distance_utf8(a, b), 1);
    b[299] = '\0';
    cr_assert_eq(cb_edit_distance_utf8(a, b), 2);
}

Test(editdist, ids) {
    int32_t a[] = {1, 2, 3, 4}, b[] = {1, 3, 4, 5};
    cr_assert_eq(cb_edit_distance_ids(a, 4, b, 4), 2);
    cr_assert_eq(cb_edit_distance_ids(a, 4, b, 0), 4);
    cr_assert_eq(cb_edit_distance_ids(a, 0, b, 3), 3);
}

Test(vote, majority) {
    int c, t;
    const char *v1[] = {"3", "2", "3", "2", "4"};
    cr_assert_eq(cb_majority_vote(v1, 5, &c, &t), 0);
    cr_assert_eq(c, 2);
    cr_assert_eq(t, 1);
    const char *v2[] = {"2", "3", "3", "2", "3"};
    cr_assert_eq(cb_majority_vote(v2, 5, &c, &t), 1);
    cr_assert_eq(c, 3);
    cr_assert_eq(t, 0);
    const char *v3[] = {NULL, "5", NULL, "6", NULL};
    cr_assert_eq(cb_majority_vote(v3, 5, &c, &t), 1); /* tie -> earliest sample */
    cr_assert_eq(t, 1);
    const char *v4[] = {NULL, NULL};
    cr_assert_eq(cb_majority_vote(v4, 2, &c, &t), -1);
    cr_assert_eq(c, 0);
}

static int fake_tok(void *user, const char *text, int32_t *ids, int cap) {
    int *calls = user;
    (*calls)++;
    /* one token per byte, to make the expected distance obvious */
    int n = (int)strlen(text);
    for (int i = 0; i < n && i < cap; i++) ids[i] = (unsigned char)text[i];
    return n;
}

Test(grade, record_and_edit_metrics) {
    cb_err e;
    cb_grader_ctx *g;
    cr_assert_eq(cb_grader_ctx_new(&g, &e), 0);
    cb_grade gr;
    cb_grade_init(&gr);
    cb_grader_add_edit_metrics(g, &gr, "12", "3");
    double v;
    cr_assert(cb_grade_get_metric(&gr, "char_edit_distance", &v));
    cr_assert_float_eq(v, 2, 1e-12);
    cr_assert(cb_grade_get_metric(&gr, "char_edit_distance_norm", &v));
    cr_assert_float_eq(v, 2, 1e-12);
    int calls = 0;
    cb_grader_ctx_set_tokenizer(g, fake_tok, &calls);
    cb_grade_init(&gr);
    char long_pred[200];
    memset(long_pred, 'a', 199);
    long_pred[199] = '\0';
    cb_grader_add_edit_metrics(g, &gr, long_pred, "ab"); /* > 64 tokens: buffer grows */
    cr_assert(cb_grade_get_metric(&gr, "token_edit_distance", &v));
    cr_assert_float_eq(v, 198, 1e-12);
    cr_assert(cb_grade_get_metric(&gr, "token_edit_distance_norm", &v));
    cr_assert_float_eq(v, 99, 1e-12);
    cr_assert_not(cb_grade_get_metric(&gr, "char_edit_distance", &v));
    cr_assert_geq(calls, 3);

    cb_grade_init(&gr);
    gr.score = 1;
    gr.flags = CB_GRADE_NO_MARKER | CB_GRADE_VOTE_TIE;
    cb_grade_set_extracted(&gr, "3");
    cb_grade_set_reason(&gr, "expected %d", 3);
    cb_grade_add_metric(&gr, "abs_error", 0);
    cJSON *j = cb_grade_to_json(&gr);
    char *s = cJSON_PrintUnformatted(j);
    cr_assert_str_eq(s, "{\"score\":1,\"unparsed\":false,\"extracted\":\"3\",\"flags\":[\"no_marker\",\"vote_tie\"],"
                        "\"reason\":\"expected 3\",\"metrics\":{\"abs_error\":0}}");
    free(s);
    cJSON_Delete(j);
    /* extracted is truncated on a UTF-8 boundary */
    char big[CB_GRADE_EXTRACTED_CAP + 10];
    memset(big, 'a', sizeof big);
    memcpy(big + CB_GRADE_EXTRACTED_CAP - 2, "é", 2); /* é straddles the last byte slot + NUL */
    big[sizeof big - 1] = '\0';
    cb_grade_set_extracted(&gr, big);
    cr_assert_eq(strlen(gr.extracted), CB_GRADE_EXTRACTED_CAP - 2);
    cr_assert_eq(cb_grade_flag_name(0)[0], 'n');
    cr_assert_null(cb_grade_flag_name(CB_GRADE_NFLAGS));
    cb_grader_ctx_free(g);
}
