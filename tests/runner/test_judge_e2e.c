/* tests/runner/test_judge_e2e.c — the judge path end to end through the real
 * binary: a loopback OpenAI-compatible server (tests/util/httpd.c) plays both
 * the model under test ("student") and the judge ("judge") and answers with
 * scripted text: skill-mix rubric tables and cross-capability "Score: X/5"
 * judgements (one of them unreadable first, so the re-ask is paid once).
 * Checked: the exact number of model and judge calls, the scores and judge
 * bookkeeping stored per sample, `capbench regrade RUN` making no call at all,
 * and a second run in the same database getting every judgement from the cache
 * (only the student is asked again). */
#include "tests/util/httpd.h"
#include "tests/util/cbtest.h"
#include "tests/util/dbq.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64];
static const char *g_bin;

static void setup(void) {
    g_bin = getenv("CAPBENCH_BIN");
    if (!g_bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    cr_assert_eq(cbt_tmpdir(g_dir, sizeof g_dir, "cbjudge"), 0);
}

static void teardown(void) {
    if (g_dir[0]) cbt_rmrf(g_dir);
}

TestSuite(judge_e2e, .init = setup, .fini = teardown, .timeout = 300);

static int g_model_calls, g_judge_calls;

static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void reply_text(cb_httpd_reply *rep, const char *text) { cb_httpd_reply_chat(rep, text, 50, 7); }

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    const char *b = req->body ? req->body : "";
    if (strstr(b, "\"model\":\"judge\"")) {
        g_judge_calls++;
        if (strstr(b, "Evaluation Score")) { /* cross-capability */
            /* the first judgement of the Berlin item has no rating; its re-ask does */
            if (strstr(b, "Berlin") && !strstr(b, "The rating must be between 1 and 5."))
                reply_text(rep, "#### Holistic Assessment\nA fine answer.");
            else if (strstr(b, "Berlin"))
                reply_text(rep, "#### Evaluation Score\nScore: 4/5");
            else
                reply_text(rep, "#### Evaluation Score\nScore: 2/5");
            return;
        }
        /* skill-mix: a full-marks table with one row per criterion */
        int k = count_of(b, "Correctly illustrates");
        char t[2048] = "Here's the grading table:\n| Criteria | Points Earned |\n|---|---|\n";
        for (int i = 0; i < k + 3; i++) snprintf(t + strlen(t), sizeof t - strlen(t), "| criterion %d | 1 |\n", i + 1);
        snprintf(t + strlen(t), sizeof t - strlen(t), "| Total Points Earned | %d |\nExplanation: all met.", k + 3);
        reply_text(rep, t);
        return;
    }
    g_model_calls++;
    if (strstr(b, "Berlin")) reply_text(rep, "It fell on 9 November 1989.");
    else if (strstr(b, "Name a prime number")) reply_text(rep, "Nine is a prime number.");
    else reply_text(rep, "Answer: The garden sleeps under a quilt of snow.\nExplanation: it shows the skill.");
}

#define REFS                                                                                                           \
    "\"response_1\":\"Ref one.\",\"response_1_human_1_rating\":5,\"response_1_human_2_rating\":4,"                   \
    "\"response_2\":\"Ref two.\",\"response_2_human_1_rating\":2,\"response_2_human_2_rating\":3,"                   \
    "\"response_3\":\"Ref three.\",\"response_3_human_1_rating\":1,\"response_3_human_2_rating\":1"

Test(judge_e2e, call_counts_regrade_without_calls_and_cache_on_rerun) {
    cb_httpd *h = NULL;
    g_model_calls = g_judge_calls = 0;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char suite[128], db[128], out[128], export[128];
    snprintf(suite, sizeof suite, "%s/s.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    snprintf(export, sizeof export, "%s/export.jsonl", g_dir);
    FILE *f = fopen(export, "w");
    fputs("{\"prompt_id\":\"b1\",\"capability\":\"English\",\"prompt\":\"When did the Berlin Wall fall?\"," REFS "}\n"
          "{\"prompt_id\":\"b2\",\"capability\":\"English\",\"prompt\":\"Name a prime number.\"," REFS "}\n",
          f);
    fclose(f);
    f = fopen(suite, "w");
    fprintf(f,
            "{\"name\":\"judged\",\"seed\":7,"
            "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"student\",\"timeout_s\":5,"
            "\"max_retries\":0},"
            "\"judge\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"judge\",\"timeout_s\":5,"
            "\"max_retries\":0},"
            "\"tasks\":[{\"family\":\"skill-mix\",\"subtasks\":[\"k1\",\"k2\"],\"n\":1,"
            "\"params\":{\"generations\":1,\"judge_runs\":1}},"
            "{\"family\":\"cross-capability\",\"subtasks\":[\"english\"],\"n\":2,"
            "\"params\":{\"source\":\"file:%s\"}}]}",
            cb_httpd_url(h), cb_httpd_url(h), export);
    fclose(f);
    int rc = cbt_sh("'%s' run --suite '%s' --db '%s' --no-loglik --quiet > '%s' 2>&1", g_bin, suite, db, out);
    char *text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    /* skill-mix: 2 items x (2 student turns + 1 judgement); cross: 2 answers,
     * 2 judgements and 1 re-ask */
    cr_assert_eq(g_model_calls, 6, "model calls %d", g_model_calls);
    cr_assert_eq(g_judge_calls, 5, "judge calls %d", g_judge_calls);
    int total = cb_httpd_count(h);
    cr_assert_eq(total, 11);
    cr_assert_eq(cbt_q_num(db, "SELECT sum(judge_calls) FROM samples WHERE run_id = 1"), 5);
    cr_assert_eq(cbt_q_num(db, "SELECT judge_calls FROM samples WHERE item_json LIKE '%Berlin%'"), 2);
    cr_assert_eq(cbt_q_num(db, "SELECT json_extract(metrics_json, '$.score_1to100') FROM samples WHERE item_json LIKE '%Berlin%'"), 75.25);
    cr_assert_eq(cbt_q_num(db, "SELECT json_extract(metrics_json, '$.score_1to100') FROM samples WHERE item_json LIKE '%prime number%'"), 25.75);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM samples WHERE task = 'skill-mix' AND score = 1"), 2);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM samples WHERE grading = 'judge'"), 4);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM judgements"), 5);
    cr_assert_eq(cbt_q_num(db, "SELECT count(DISTINCT judge_id) FROM samples WHERE judge_id IS NOT NULL"), 1);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM samples WHERE cap1 = 'English' AND cap2 IS NULL"), 2);

    /* regrade replays the rounds from stored responses and cached judgements: no call */
    rc = cbt_sh("'%s' regrade 1 --db '%s' > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(cb_httpd_count(h), total, "regrade made %d calls", cb_httpd_count(h) - total);
    cr_assert_eq(cbt_q_num(db, "SELECT json_extract(metrics_json, '$.score_1to100') FROM samples WHERE item_json LIKE '%Berlin%'"), 75.25);

    /* a second run of the same suite: the student is asked again, every judgement is cached */
    g_model_calls = g_judge_calls = 0;
    rc = cbt_sh("'%s' run --suite '%s' --db '%s' --no-loglik --quiet > '%s' 2>&1", g_bin, suite, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(g_model_calls, 6);
    cr_assert_eq(g_judge_calls, 0, "judge calls on the second run: %d", g_judge_calls);
    cr_assert_eq(cbt_q_num(db, "SELECT count(*) FROM judgements"), 5);
    cr_assert_eq(cbt_q_num(db, "SELECT sum(score) FROM samples WHERE run_id = 2"),
                 cbt_q_num(db, "SELECT sum(score) FROM samples WHERE run_id = 1"));
    cb_httpd_stop(h);
}
