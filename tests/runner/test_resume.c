/* tests/runner/test_resume.c — runs that cannot silently mix, and honest
 * failure, through the real binary:
 *   - a run against a server that is down ends `incomplete` with exit 4 and
 *     the failure count; `--resume ID` (no other flag) retries only the failed
 *     samples, against a server that is up by then, and finishes;
 *   - `--resume ID` reuses the stored suite and flags (--limit, --shard), a
 *     conflicting flag is refused naming the difference, a changed word file
 *     (content hashed into the config) is refused, resuming a finished run
 *     keeps its times;
 *   - --limit and --shard are stored with the run.
 * The local-model cases need stories260K (skipped, saying so, without it). */
#include "results/store.h"
#include "tests/util/cbtest.h"
#include "tests/util/dbq.h"
#include "tests/util/httpd.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
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
    cr_assert_eq(cbt_tmpdir(g_dir, sizeof g_dir, "cbresume"), 0);
}

static void teardown(void) {
    if (g_dir[0]) cbt_rmrf(g_dir);
}

TestSuite(resume, .init = setup, .fini = teardown, .timeout = 300);

/* ---- a server that is down, then up --------------------------------------- */

static int g_up; /* 0: every request gets 503 (down), 1: a counting answer */

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    (void)req;
    if (!g_up) {
        cb_httpd_reply_body(rep, 503, "application/json", "{\"error\":{\"message\":\"backend down for maintenance\"}}");
        return;
    }
    cb_httpd_reply_body(rep, 200, "application/json",
                        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
                        "{\"role\":\"assistant\",\"content\":\"3\"},\"finish_reason\":\"stop\"}],\"usage\":"
                        "{\"prompt_tokens\":9,\"completion_tokens\":1}}");
}

Test(resume, server_down_exits_4_then_resume_retries_only_failures) {
    cb_httpd *h = NULL;
    g_up = 0;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char suite[128], db[128], out[128];
    snprintf(suite, sizeof suite, "%s/s.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    FILE *f = fopen(suite, "w");
    fprintf(f,
            "{\"name\":\"down\",\"seed\":5,\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"m\","
            "\"timeout_s\":3,\"max_retries\":1},\"tasks\":[{\"family\":\"counting\",\"subtasks\":[\"word_len\"],"
            "\"settings\":[\"direct\"],\"n\":6}]}",
            cb_httpd_url(h));
    fclose(f);
    int rc = cbt_sh("'%s' run --suite '%s' --db '%s' --quiet > '%s' 2>&1", g_bin, suite, db, out);
    char *text = cbt_read_text(out);
    cr_assert_eq(rc, 4, "exit %d: %s", rc, text);
    cr_assert(strstr(text, "incomplete: 6 requests failed for good"), "%s", text);
    cr_assert(strstr(text, "backend down for maintenance"), "first server message missing: %s", text);
    free(text);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM samples WHERE error IS NOT NULL"), 6);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM runs WHERE status = 'incomplete'"), 1);
    /* two attempts per request (max_retries 1) */
    cr_assert_eq(cb_httpd_count(h), 12);

    /* the server is back: resume with no other flag asks only for the 6 failed samples */
    g_up = 1;
    rc = cbt_sh("'%s' run --resume 1 --db '%s' --quiet > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(cb_httpd_count(h), 18);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM samples"), 6);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM samples WHERE error IS NOT NULL"), 0);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 1);
    cb_httpd_stop(h);
}

/* ---- stored flags, conflicts, changed data, finished runs ----------------- */

static int have_model(char *path, size_t cap) {
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    snprintf(path, cap, "%s/stories260K.gguf", md ? md : "");
    return md && access(path, R_OK) == 0;
}

Test(resume, stored_flags_conflicts_changed_words_and_finished_runs) {
    char model[1024];
    if (!have_model(model, sizeof model))
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    char suite[128], db[128], out[128], words[128];
    snprintf(suite, sizeof suite, "%s/s.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    snprintf(words, sizeof words, "%s/words.txt", g_dir);
    FILE *f = fopen(words, "w");
    fputs("banana\nrhythm\nparallel\ncommittee\nbookkeeper\nqueueing\n", f);
    fclose(f);
    f = fopen(suite, "w");
    fprintf(f,
            "{\"name\":\"mix\",\"seed\":3,\"tasks\":[{\"family\":\"counting\",\"subtasks\":[\"word_len\"],"
            "\"settings\":[\"direct\"],\"n\":6,\"params\":{\"words\":\"file:%s\"}}]}",
            words);
    fclose(f);
    /* a limited, sharded run that stops at once (Ctrl-C is simulated by a tiny limit: run it whole) */
    int rc = cbt_sh("'%s' run --suite '%s' --db '%s' --model '%s' --limit 4 --shard 0/2 --no-loglik --quiet > '%s' 2>&1",
                g_bin, suite, db, model, out);
    char *text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(cbt_q_int(db, "SELECT limit_n FROM runs WHERE id = 1"), 4);
    cr_assert_eq(cbt_q_int(db, "SELECT shard = '0/2' FROM runs WHERE id = 1"), 1);
    cr_assert_eq(cbt_q_int(db, "SELECT instr(config_json, '\"limit\":4') > 0 FROM runs WHERE id = 1"), 1);
    int64_t n1 = cbt_q_int(db, "SELECT count(*) FROM samples");
    cr_assert(n1 >= 1 && n1 <= 4, "%lld", (long long)n1);
    /* drop one sample so the resume has work; resume needs no flag at all */
    cr_assert_eq(cbt_sh("sqlite3 '%s' \"DELETE FROM samples WHERE id = (SELECT max(id) FROM samples)\"", db), 0);
    cr_assert_eq(cbt_sh("sqlite3 '%s' \"UPDATE runs SET status = 'interrupted'\"", db), 0);
    rc = cbt_sh("'%s' run --resume 1 --db '%s' --quiet > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    free(text);
    cr_assert_eq(cbt_q_int(db, "SELECT count(*) FROM samples"), n1, "the resume must restore the same sample set");
    /* a conflicting flag is refused, naming it */
    rc = cbt_sh("'%s' run --resume 1 --db '%s' --limit 5 > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, text);
    cr_assert(strstr(text, "--limit 5 (run 1: 4)"), "%s", text);
    free(text);
    /* the same flag again is fine; a finished run is a no-op that keeps its times */
    int64_t fin = cbt_q_int(db, "SELECT CAST(finished_at * 1000 AS INTEGER) FROM runs WHERE id = 1");
    rc = cbt_sh("'%s' run --resume 1 --db '%s' --limit 4 --threads 1 > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, text);
    cr_assert(strstr(text, "nothing to resume"), "%s", text);
    free(text);
    cr_assert_eq(cbt_q_int(db, "SELECT CAST(finished_at * 1000 AS INTEGER) FROM runs WHERE id = 1"), fin);
    /* the word list changes: the config hash (which covers file contents) no longer matches */
    cr_assert_eq(cbt_sh("sqlite3 '%s' \"UPDATE runs SET status = 'interrupted'\"", db), 0);
    f = fopen(words, "a");
    fputs("strawberry\n", f);
    fclose(f);
    rc = cbt_sh("'%s' run --resume 1 --db '%s' > '%s' 2>&1", g_bin, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, text);
    cr_assert(strstr(text, "config differs") && strstr(text, "a file the suite reads"), "%s", text);
    free(text);
    /* a directory or a missing file as suite or word file: exit 2 naming it */
    rc = cbt_sh("'%s' run --suite '%s' --db '%s' > '%s' 2>&1", g_bin, g_dir, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, text);
    cr_assert(strstr(text, g_dir) && strstr(text, "directory"), "%s", text);
    free(text);
    f = fopen(suite, "w");
    fprintf(f, "{\"name\":\"d\",\"tasks\":[{\"family\":\"counting\",\"n\":2,\"params\":{\"words\":\"file:%s\"}}]}",
            g_dir);
    fclose(f);
    rc = cbt_sh("'%s' run --suite '%s' --db '%s' > '%s' 2>&1", g_bin, suite, db, out);
    text = cbt_read_text(out);
    cr_assert_eq(rc, 2, "a directory as word list: exit %d: %s", rc, text);
    cr_assert(strstr(text, g_dir) && strstr(text, "is a directory"), "%s", text);
    free(text);
}
