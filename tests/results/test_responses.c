/* tests/results/test_responses.c — the JSON columns of a stored sample
 * (results/responses.c): responses_json round trip, exact doubles, malformed
 * input refused with the index named, flags_json and metrics_json of a grade. */
#include "results/responses.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(responses, round_trip) {
    cb_task_resp in[4];
    memset(in, 0, sizeof in);
    in[0].ok = 1;
    in[0].text = "Answer: 3 \"quoted\"\nnew line \xc3\xa9";
    in[0].truncated = 1;
    in[1].ok = 0; /* skipped */
    in[2].ok = 1;
    in[2].logprob_sum = -3.0000000000000004; /* needs 17 digits */
    in[2].n_tokens = 4;
    in[3].ok = 1;
    in[3].text = "";
    char *json = cb_responses_to_json(in, 4);
    cr_assert_not_null(json);
    cr_assert(strstr(json, "{\"ok\":false}"), "%s", json);
    cb_resp_list l;
    cb_err err = {0};
    cr_assert_eq(cb_responses_from_json(json, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.n, 4);
    cr_assert_eq(l.r[0].ok, 1);
    cr_assert_str_eq(l.r[0].text, in[0].text);
    cr_assert_eq(l.r[0].truncated, 1);
    cr_assert_eq(l.r[1].ok, 0);
    cr_assert_null(l.r[1].text);
    cr_assert_eq(l.r[2].ok, 1);
    cr_assert_eq(l.r[2].logprob_sum, -3.0000000000000004);
    cr_assert_eq(l.r[2].n_tokens, 4);
    cr_assert_null(l.r[2].text);
    cr_assert_str_eq(l.r[3].text, "");
    cr_assert_eq(l.r[3].truncated, 0);
    cb_resp_list_clear(&l);
    free(json);

    json = cb_responses_to_json(NULL, 0);
    cr_assert_str_eq(json, "[]");
    cr_assert_eq(cb_responses_from_json(json, &l, &err), 0);
    cr_assert_eq(l.n, 0);
    cb_resp_list_clear(&l);
    free(json);
}

Test(responses, malformed) {
    static const struct {
        const char *json, *want;
    } bad[] = {
        {NULL, "expected a JSON array"},
        {"", "expected a JSON array"},
        {"{\"ok\":true}", "expected a JSON array"},
        {"[{\"ok\":true}, 3]", "responses_json[1]: expected an object"},
        {"[{\"text\":\"x\"}]", "responses_json[0].ok"},
        {"[{\"ok\":1}]", "responses_json[0].ok"},
        {"[{\"ok\":true,\"text\":5}]", "responses_json[0]"},
        {"[{\"ok\":true},{\"ok\":true,\"n_tokens\":-1}]", "responses_json[1]"},
        {"[{\"ok\":true,\"logprob_sum\":\"x\"}]", "responses_json[0]"},
        {"[{\"ok\":true", "expected a JSON array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_resp_list l;
        cb_err err = {0};
        cr_assert_eq(cb_responses_from_json(bad[i].json, &l, &err), CB_EFORMAT, "case %zu", i);
        cr_assert(strstr(err.msg, bad[i].want), "case %zu: %s", i, err.msg);
        cr_assert_null(l.r);
        cr_assert_null(l.tree);
    }
}

Test(responses, grade_flags_and_metrics) {
    cb_grade g;
    cb_grade_init(&g);
    char *f = cb_grade_flags_json(&g), *m = cb_grade_metrics_json(&g);
    cr_assert_str_eq(f, "[]");
    cr_assert_str_eq(m, "{}");
    free(f);
    free(m);
    g.flags = CB_GRADE_NO_MARKER | CB_GRADE_TRUNCATED;
    cb_grade_add_metric(&g, "abs_error", 2);
    cb_grade_add_metric(&g, "nan_one", NAN);
    cb_grade_add_metric(&g, "q_gold", 0.1);
    f = cb_grade_flags_json(&g);
    m = cb_grade_metrics_json(&g);
    cr_assert_str_eq(f, "[\"no_marker\",\"truncated\"]");
    cr_assert_str_eq(m, "{\"abs_error\":2,\"q_gold\":0.10000000000000001}");
    free(f);
    free(m);
}
