/* tests/runner/test_errors.c — the bad-input catalogue (docs/errors.md), row
 * by row, through the real binary: each row's command must exit with the
 * row's status and print a message containing the row's text. The test also
 * reads docs/errors.md and checks that it lists exactly these rows (by id)
 * with the same exit status and message text, so the page cannot drift from
 * what users see. Bad input exits 2, never 1.
 *
 * Fixtures are made here: a tiny generated model (and broken copies of it), a
 * GGUF of an unsupported architecture, suites with one fault each, databases
 * that are not capbench's, and a loopback OpenAI-compatible server whose
 * replies depend on the requested model name.
 */
#include "engine/gguf.h"
#include "results/store.h"
#include "tests/util/cbtest.h"
#include "tests/util/httpd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit status of a run in which some request finally failed (issue 7). */
#define EXIT_SOME_FAILED 4

typedef struct {
    const char *id;
    const char *cmd;  /* sh command; $B binary, $D scratch dir, $M tiny model, $U server URL */
    int exit;
    const char *msg;  /* substring of stderr, also present in the docs row */
} row;

/* runs a suite, then prints the stored sample errors to stderr; exits as the run did */
#define SHOW_ERRORS(suite, db)                                                                                     \
    "$B run --suite " suite " --db " db " --no-loglik; rc=$?; sqlite3 " db " 'SELECT DISTINCT error FROM samples' " \
    ">&2; exit $rc"

static const row ROWS[] = {
    /* model file */
    {"M1", "$B run --suite $D/ok.json --model $D/none.gguf --db $D/m1.db", 2, "model file '"},
    {"M2", "$B run --suite $D/ok.json --model $D/text.gguf --db $D/m2.db", 2, "byte 0: bad magic"},
    {"M3", "$B run --suite $D/ok.json --model $D/trunc.gguf --db $D/m3.db", 2, "trunc.gguf: byte "},
    {"M4", "$B run --suite $D/ok.json --model $D/gpt2.gguf --db $D/m4.db", 2, "architecture 'gpt2' is not supported"},
    {"M5", "$B tokenize --model $D/text.gguf hello", 2, "bad magic"},
    /* suite config */
    {"C1", "$B run --suite $D/none.json", 2, "cannot open suite config"},
    {"C2", "$B run --suite $D/badjson.json --model $M", 2, "invalid JSON near line 1"},
    {"C3", "$B run --suite $D/unknown.json --model $M", 2, "$: unknown key \"bogus\""},
    {"C4", "$B run --suite $D/range.json --model $M", 2, "$.tasks[0].n: expected an integer from 1 to 10000000"},
    {"C5", "$B run --suite $D/family.json --model $M", 2, "countin"},
    {"C6", "$B run --suite $D/keyunset.json --db $D/c6.db", 2, "environment variable CB_ERRORS_UNSET"},
    /* task data */
    {"T1", "$B run --suite $D/words_missing.json --model $M --db $D/t1.db", 2, "cannot open word list"},
    {"T2", "$B run --suite $D/words_empty.json --model $M --db $D/t2.db", 2, "is a word of 3 to 18 ASCII letters"},
    {"T3", "printf '{\"bad json\\n' | $B grade --task counting", 2, "line 1: not valid JSON"},
    /* server reply */
    {"S1", "$B run --suite $D/srv_unauth.json --db $D/s1.db --no-loglik", 2, "HTTP 401"},
    {"S2", "$B run --suite $D/srv_notfound.json --db $D/s2.db --no-loglik", 2, "HTTP 404"},
    /* a bad reply fails its sample (stored in samples.error, retried by
     * --resume); the run goes on and ends incomplete */
    {"S3", SHOW_ERRORS("$D/srv_malformed.json", "$D/s3.db"), EXIT_SOME_FAILED, "invalid or truncated JSON"},
    {"S4", SHOW_ERRORS("$D/srv_notutf8.json", "$D/s4.db"), EXIT_SOME_FAILED, "not valid UTF-8"},
    /* database */
    {"D1", "$B report --db $D/none.db", 2, "no such results database"},
    {"D2", "$B report --db $D/text.db", 2, "not an SQLite database"},
    {"D3", "$B report --db $D/foreign.db", 2, "not a capbench results database"},
    {"D4", "$B report --db $D/newer.db", 2, "newer than this capbench"},
    {"D5", "$B report --db $D/good.db --run 7", 2, "no run 7"},
    /* command line */
    {"L1", "$B frobnicate", 2, "unknown command 'frobnicate'"},
    {"L2", "$B run --bogus", 2, "unknown option \"--bogus\""},
    {"L3", "$B run --suite $D/ok.json --limit ten", 2, "--limit: expected an integer"},
    {"L4", "$B run --model $M", 2, "--suite FILE is required"},
    {"L5", "$B run --suite $D/ok.json --shard 4/4", 2, "--shard"},
    {"L6", "$B regrade", 2, "which run?"},
    {"L7", "$B report --format yaml --db $D/good.db", 2, "yaml"},
};
#define N_ROWS (int)(sizeof ROWS / sizeof ROWS[0])

/* the server: replies by the requested model name */
static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    if (strstr(req->body, "\"model\":\"unauth\"")) {
        cb_httpd_reply_body(rep, 401, "application/json", "{\"error\":{\"message\":\"Incorrect API key provided\"}}");
    } else if (strstr(req->body, "\"model\":\"notfound\"")) {
        cb_httpd_reply_body(rep, 404, "application/json", "{\"error\":{\"message\":\"model 'notfound' not found\"}}");
    } else if (strstr(req->body, "\"model\":\"malformed\"")) {
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":");
    } else if (strstr(req->body, "\"model\":\"notutf8\"")) {
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"\xc3\x28\"}}]}");
    } else {
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"Answer: 2\"}}]}");
    }
}

static void suite(const char *dir, const char *name, const char *json) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(cbt_write_file(p, "%s", json), 0);
}

static void server_suite(const char *dir, const char *name, const char *url, const char *model) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"srv\",\"tasks\":[{\"family\":\"counting\",\"subtasks\":[\"word_len\"],\"n\":2}],"
             "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"%s\",\"max_retries\":0}}",
             url, model);
    suite(dir, name, json);
}

static void make_fixtures(const char *bin, const char *dir, const char *url) {
    char p[256], q[256];
    /* models */
    cr_assert_eq(cbt_sh("'%s' gen-model --shape tiny --type f32 --seed 3 -o '%s/tiny.gguf' >/dev/null 2>&1", bin, dir),
                 0);
    cr_assert_eq(cbt_sh("head -c 3000 '%s/tiny.gguf' > '%s/trunc.gguf'", dir, dir), 0);
    snprintf(p, sizeof p, "%s/text.gguf", dir);
    cr_assert_eq(cbt_write_file(p, "hello, I am not a model\n"), 0);
    cb_gguf_writer *w = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &err), 0);
    cr_assert_eq(cb_gguf_writer_set_str(w, "general.architecture", "gpt2"), 0);
    snprintf(p, sizeof p, "%s/gpt2.gguf", dir);
    cr_assert_eq(cb_gguf_writer_write(w, p, &err), 0, "%s", err.msg);
    cb_gguf_writer_free(w);
    /* suites */
    suite(dir, "ok.json", "{\"name\":\"ok\",\"tasks\":[{\"family\":\"counting\",\"n\":1}]}");
    suite(dir, "badjson.json", "{\"tasks\":[");
    suite(dir, "unknown.json", "{\"tasks\":[{\"family\":\"counting\",\"n\":2}],\"bogus\":1}");
    suite(dir, "range.json", "{\"tasks\":[{\"family\":\"counting\",\"n\":0}]}");
    suite(dir, "family.json", "{\"tasks\":[{\"family\":\"countin\",\"n\":2}]}");
    suite(dir, "keyunset.json",
          "{\"tasks\":[{\"family\":\"counting\",\"n\":2}],\"model\":{\"backend\":\"openai\","
          "\"base_url\":\"http://127.0.0.1:9/v1\",\"model\":\"m\",\"api_key_env\":\"CB_ERRORS_UNSET\"}}");
    snprintf(q, sizeof q,
             "{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"params\":{\"words\":\"file:%s/no-such-words.txt\"}}]}", dir);
    suite(dir, "words_missing.json", q);
    snprintf(p, sizeof p, "%s/words.txt", dir);
    cr_assert_eq(cbt_write_file(p, "# not words\nab\n12345\nwith space\n"), 0);
    snprintf(q, sizeof q, "{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"params\":{\"words\":\"file:%s\"}}]}", p);
    suite(dir, "words_empty.json", q);
    server_suite(dir, "srv_unauth.json", url, "unauth");
    server_suite(dir, "srv_notfound.json", url, "notfound");
    server_suite(dir, "srv_malformed.json", url, "malformed");
    server_suite(dir, "srv_notutf8.json", url, "notutf8");
    /* databases */
    snprintf(p, sizeof p, "%s/text.db", dir);
    cr_assert_eq(cbt_write_file(p, "not a database, just text that is long enough to have a header........\n"), 0);
    cb_store *st = NULL;
    snprintf(p, sizeof p, "%s/good.db", dir);
    cr_assert_eq(cb_store_open(p, CB_STORE_OPEN_CREATE, &st, &err), 0, "%s", err.msg);
    cb_store_close(st);
    /* newer: the same file with a schema version from the future
     * (PRAGMA user_version is the big-endian u32 at byte 60 of the header) */
    cr_assert_eq(cbt_sh("cp '%s/good.db' '%s/newer.db' && printf '\\000\\000\\000\\143' | "
                        "dd of='%s/newer.db' bs=1 seek=60 conv=notrunc 2>/dev/null",
                        dir, dir, dir),
                 0);
    /* foreign: an SQLite file capbench did not make: good.db with its
     * application_id (big-endian u32 at byte 68) zeroed */
    cr_assert_eq(cbt_sh("cp '%s/good.db' '%s/foreign.db' && printf '\\000\\000\\000\\000' | "
                        "dd of='%s/foreign.db' bs=1 seek=68 conv=notrunc 2>/dev/null",
                        dir, dir, dir),
                 0);
}

/* docs/errors.md rows: "| ID | class | input | message | exit |" */
static void check_docs(void) {
    const char *src = getenv("CAPBENCH_SOURCE_DIR");
    if (!src) cr_skip_test("CAPBENCH_SOURCE_DIR is not set (run through ctest)");
    char p[512];
    snprintf(p, sizeof p, "%s/docs/errors.md", src);
    char *doc = cbt_read_file(p, NULL);
    cr_assert_not_null(doc, "%s is missing", p);
    int seen = 0;
    for (char *line = strtok(doc, "\n"); line; line = strtok(NULL, "\n")) {
        char id[8];
        if (sscanf(line, "| %7[A-Z0-9] |", id) != 1 || !strcmp(id, "id")) continue;
        const row *r = NULL;
        for (int i = 0; i < N_ROWS; i++)
            if (!strcmp(ROWS[i].id, id)) r = &ROWS[i];
        cr_assert_not_null(r, "docs/errors.md row %s has no test in tests/runner/test_errors.c", id);
        seen++;
        char *last = strrchr(line, '|');
        *last = '\0';
        char *exit_col = strrchr(line, '|');
        cr_assert_not_null(exit_col);
        cr_assert_eq(atoi(exit_col + 1), r->exit, "docs/errors.md row %s says exit %d, the binary exits %d", id,
                     atoi(exit_col + 1), r->exit);
        cr_assert(strstr(line, r->msg), "docs/errors.md row %s does not show the message text \"%s\"", id, r->msg);
    }
    cr_assert_eq(seen, N_ROWS, "docs/errors.md lists %d rows, the test has %d", seen, N_ROWS);
    free(doc);
}

Test(errors, every_row_of_the_catalogue, .timeout = 300) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    cb_httpd *h = NULL;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char dir[64];
    cr_assert_eq(cbt_tmpdir(dir, sizeof dir, "cberrors"), 0);
    make_fixtures(bin, dir, cb_httpd_url(h));
    for (int i = 0; i < N_ROWS; i++) {
        const row *r = &ROWS[i];
        int rc = cbt_sh("cd '%s' && B='%s' D='%s' M='%s/tiny.gguf' U='%s'; export B D M U; unset CB_ERRORS_UNSET; "
                        "{ %s ; } > out.txt 2> err.txt",
                        dir, bin, dir, dir, cb_httpd_url(h), r->cmd);
        char p[256];
        snprintf(p, sizeof p, "%s/err.txt", dir);
        char *err = cbt_read_file(p, NULL);
        cr_assert_not_null(err);
        cr_expect_eq(rc, r->exit, "%s: `%s` exited %d, expected %d; stderr:\n%s", r->id, r->cmd, rc, r->exit, err);
        cr_expect(strstr(err, r->msg) != NULL, "%s: stderr lacks \"%s\":\n%s", r->id, r->msg, err);
        cr_log_info("%s exit %d: %.*s", r->id, rc, (int)strcspn(err, "\n"), err);
        free(err);
    }
    cb_httpd_stop(h);
    cbt_rmrf(dir);
    check_docs();
}
