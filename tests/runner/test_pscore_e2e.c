/* tests/runner/test_pscore_e2e.c — structured-output's P-Score (TASKS.md 4.5)
 * end to end through the real binary, scheduler and SQLite: a loopback
 * OpenAI-compatible server (tests/util/httpd.c) plays the model under test
 * ("student", one request at a time, so its three html answers go to the
 * three items in item order on every run) and the judge ("judge"):
 *   item 0: a table with the cell "alpha". Prediction first: a fenced json
 *           verdict 6/8; gold first: unreadable prose, then after the re-ask
 *           the pairs form 4/10. P = ((6+4)/2, (8+10)/2) / 10 = (0.5, 0.9).
 *   item 1: a table with the cell "beta": every judgement unreadable, each
 *           order re-asked once -> judge_failed (excluded, counted apart).
 *   item 2: prose, no table: P = (0, 0) by rule, no judge call.
 * By hand: P_content = (0.5 + 0) / 2 = 0.25, P_structure = (0.9 + 0) / 2 =
 * 0.45 over p_n = 2 items, P fail = 1. Checked: the judge calls (2 + 1 for
 * item 0, 2 + 2 for item 1), temperature 0.1 and the system message on every
 * judge request, the stored judgements and per-sample metrics, the report in
 * JSON, CSV and text, `regrade` without any call, and a second run that
 * takes every judgement from the cache. A run without a judge reports P as
 * not computed. */
#include "tests/util/cbtest.h"
#include "tests/util/dbq.h"
#include "tests/util/httpd.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64];
static const char *g_bin;

static void setup(void) {
    g_bin = getenv("CAPBENCH_BIN");
    if (!g_bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    cr_assert_eq(cbt_tmpdir(g_dir, sizeof g_dir, "cbpscore"), 0);
}

static void teardown(void) {
    if (g_dir[0]) cbt_rmrf(g_dir);
}

TestSuite(pscore_e2e, .init = setup, .fini = teardown, .timeout = 300);

static int g_model_calls, g_judge_calls, g_judge_t01, g_judge_system, g_reasks;

static void reply_text(cb_httpd_reply *rep, const char *text) { cb_httpd_reply_chat(rep, text, 40, 9); }

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    const char *b = req->body ? req->body : "";
    if (strstr(b, "\"model\":\"judge\"")) {
        g_judge_calls++;
        g_judge_t01 += strstr(b, "\"temperature\":0.1") != NULL;
        g_judge_system += strstr(b, "helpful data-processing assistant") != NULL;
        int reask = strstr(b, "could not be read") != NULL;
        g_reasks += reask;
        const char *alpha = strstr(b, "alpha"), *t2 = strstr(b, "Table 2:");
        if (strstr(b, "beta")) {
            reply_text(rep, "Both tables look like tables to me.");
        } else if (alpha && t2 && alpha < t2) { /* item 0, prediction first */
            reply_text(rep, "Most cells differ.\n```json\n{\"content_similarity\": 6, \"structural_similarity\": 8}\n```");
        } else if (alpha && !reask) { /* item 0, gold first: unreadable once */
            reply_text(rep, "They are somewhat alike.");
        } else if (alpha) {
            reply_text(rep, "content_similarity: 4, structural_similarity: 10");
        } else {
            reply_text(rep, "no table here");
        }
        return;
    }
    static const char *const answers[] = {"<table><tr><th>alpha</th></tr><tr><td>1</td></tr></table>",
                                          "```html\n<table><tr><th>beta</th></tr><tr><td>2</td></tr></table>\n```",
                                          "I would rather describe it in words."};
    reply_text(rep, answers[g_model_calls++ % 3]);
}

static void write_suite(const char *path, const char *url, int judge) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"name\":\"pscore\",\"seed\":11,"
            "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"student\",\"timeout_s\":5,"
            "\"max_retries\":0,\"concurrency\":1},",
            url);
    if (judge)
        fprintf(f,
                "\"judge\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"judge\",\"timeout_s\":5,"
                "\"max_retries\":0,\"concurrency\":1},",
                url);
    fputs("\"tasks\":[{\"family\":\"structured-output\",\"subtasks\":[\"html\"],\"n\":3}]}", f);
    fclose(f);
}

static const cJSON *jget(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert_not_null(v, "no key %s", k);
    return v;
}

Test(pscore_e2e, both_orders_reask_judge_failed_cache_and_report) {
    cb_httpd *h = NULL;
    g_model_calls = g_judge_calls = g_judge_t01 = g_judge_system = g_reasks = 0;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char suite[128], db[128], out[128];
    snprintf(suite, sizeof suite, "%s/s.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    write_suite(suite, cb_httpd_url(h), 1);
    int rc = cbt_sh("'%s' run --suite '%s' --db '%s' --quiet > '%s' 2>&1", g_bin, suite, db, out);
    char *text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);

    /* calls: 3 answers; item 0: 2 + 1 re-ask; item 1: 2 + 2 re-asks; item 2: none */
    cr_assert_eq(g_model_calls, 3);
    cr_assert_eq(g_judge_calls, 7, "judge calls %d", g_judge_calls);
    cr_assert_eq(g_reasks, 3);
    cr_assert_eq(g_judge_t01, 7, "every judge request at temperature 0.1");
    cr_assert_eq(g_judge_system, 7, "every judge request with the system message");
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM judgements"), 7);
    cr_assert_eq(cbt_q_num(db, "SELECT sum(judge_calls) FROM samples WHERE run_id = 1"), 7);

    /* per sample */
    const char *s0 = "FROM samples WHERE run_id = 1 AND response LIKE '%alpha%'";
    const char *s1 = "FROM samples WHERE run_id = 1 AND response LIKE '%beta%'";
    const char *s2 = "FROM samples WHERE run_id = 1 AND response LIKE '%in words%'";
    char q[512];
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_content') %s", s0);
    cr_assert_float_eq(cbt_q_num(db, q), 0.5, 1e-12);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_structure') %s", s0);
    cr_assert_float_eq(cbt_q_num(db, q), 0.9, 1e-12);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_orders') %s", s0);
    cr_assert_eq(cbt_q_num(db, q), 2);
    snprintf(q, sizeof q, "SELECT judge_calls %s", s0);
    cr_assert_eq(cbt_q_num(db, q), 3);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_judge_failed') %s", s1);
    cr_assert_eq(cbt_q_num(db, q), 1);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_content') %s", s1);
    cr_assert(isnan(cbt_q_num(db, q)), "judge_failed: no P-Score, never a zero");
    snprintf(q, sizeof q, "SELECT score %s", s1);
    cr_assert_eq(cbt_q_num(db, q), 0, "the exact match still scores the item");
    snprintf(q, sizeof q, "SELECT judge_calls %s", s1);
    cr_assert_eq(cbt_q_num(db, q), 4);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_content') %s", s2);
    cr_assert_eq(cbt_q_num(db, q), 0, "no table: P = 0 by rule");
    snprintf(q, sizeof q, "SELECT judge_calls %s", s2);
    cr_assert_eq(cbt_q_num(db, q), 0);

    /* the report: JSON, CSV and text */
    char rep[128];
    snprintf(rep, sizeof rep, "%s/rep.json", g_dir);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json > '%s'", g_bin, db, rep), 0);
    text = cbt_read_text(rep);
    cJSON *r = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(r);
    const cJSON *fam = jget(r, "families");
    const cJSON *row = cJSON_GetArrayItem(jget(fam, "structured"), 0);
    cr_assert_not_null(row);
    cr_assert_float_eq(jget(row, "p_content")->valuedouble, 0.25, 1e-12);
    cr_assert_float_eq(jget(row, "p_structure")->valuedouble, 0.45, 1e-12);
    cr_assert_eq(jget(row, "p_n")->valuedouble, 2);
    cr_assert_eq(jget(row, "p_judge_failed")->valuedouble, 1);
    cr_assert(cJSON_IsNumber(jget(row, "h_content")));
    int caps = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, jget(fam, "structured_capabilities")) {
        cr_assert_float_eq(jget(c, "p_content")->valuedouble, 0.25, 1e-12);
        cr_assert_eq(jget(c, "p_judge_failed")->valuedouble, 1);
        caps++;
    }
    cr_assert_eq(caps, 2, "structured_output and html_table");
    cr_assert(strncmp(jget(fam, "p_score")->valuestring, "judged", 6) == 0);
    cJSON_Delete(r);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format csv | grep -q '^1,setting,structured-output,html,plain,.*,0.25,0.45,2,1\r$'",
                    g_bin, db),
                 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format csv | grep -q '^1,capability,,,,html_table,.*,0.25,0.45,2,1\r$'",
                    g_bin, db),
                 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' | grep -q 'P-Score: judged'", g_bin, db), 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format md | grep -q '^| structured-o/html/plain | 3 .*| 0.250 | 0.450 | 2 | 1 |$'",
                    g_bin, db),
                 0);

    /* regrade replays the rounds from the stored responses: no call, same P */
    int total = cb_httpd_count(h);
    cr_assert_eq(cbt_sh("'%s' regrade 1 --db '%s' > '%s' 2>&1", g_bin, db, out), 0);
    cr_assert_eq(cb_httpd_count(h), total, "regrade made %d calls", cb_httpd_count(h) - total);
    snprintf(q, sizeof q, "SELECT json_extract(metrics_json, '$.p_content') %s", s0);
    cr_assert_float_eq(cbt_q_num(db, q), 0.5, 1e-12);

    /* a second run: the student is asked again, every judgement comes from the cache */
    g_model_calls = g_judge_calls = 0;
    rc = cbt_sh("'%s' run --suite '%s' --db '%s' --quiet > '%s' 2>&1", g_bin, suite, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(g_model_calls, 3);
    cr_assert_eq(g_judge_calls, 0, "judge calls on the second run: %d", g_judge_calls);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM judgements"), 7);
    cr_assert_float_eq(cbt_q_num(db, "SELECT avg(json_extract(metrics_json, '$.p_content')) FROM samples WHERE run_id = 2"),
                       0.25, 1e-12);
    cr_assert_eq(cbt_q_num(db, "SELECT sum(json_extract(metrics_json, '$.p_judge_failed')) FROM samples WHERE run_id = 2"), 1);
    cb_httpd_stop(h);
}

Test(pscore_e2e, no_judge_reports_not_computed) {
    cb_httpd *h = NULL;
    g_model_calls = g_judge_calls = 0;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char suite[128], db[128], rep[128];
    snprintf(suite, sizeof suite, "%s/s.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(rep, sizeof rep, "%s/rep.json", g_dir);
    write_suite(suite, cb_httpd_url(h), 0);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --quiet >/dev/null 2>&1", g_bin, suite, db), 0,
                 "no judge is not an error for structured-output");
    cr_assert_eq(g_judge_calls, 0);
    cr_assert_eq(cbt_q_num(db, "SELECT count(json_extract(metrics_json, '$.h_content')) FROM samples"), 3,
                 "H-Score still computed");
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json > '%s'", g_bin, db, rep), 0);
    char *text = cbt_read_text(rep);
    cJSON *r = cJSON_Parse(text);
    free(text);
    const cJSON *fam = jget(r, "families");
    cr_assert_str_eq(jget(fam, "p_score")->valuestring, "not computed: no judge");
    const cJSON *row = cJSON_GetArrayItem(jget(fam, "structured"), 0);
    cr_assert(cJSON_IsNull(jget(row, "p_content")));
    cr_assert(cJSON_IsNumber(jget(row, "h_content")));
    cJSON_Delete(r);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' | grep -q 'P-Score: not computed: no judge'", g_bin, db), 0);
    cb_httpd_stop(h);
}
