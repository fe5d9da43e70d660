/* tests/runner/test_run_openai.c — `capbench run` (the real binary) against an
 * OpenAI-compatible loopback server started by this test, with scripted faults:
 * 429 + Retry-After, 500, connection reset, a reply slower than the timeout,
 * a body cut short of its Content-Length, and a malformed 200 reply. Every item
 * must be stored exactly once with the expected number of attempts, the server
 * must have seen exactly that many requests, and the API key must reach the
 * server's Authorization header but neither the database nor the output. */
#include "results/store.h"
#include "tests/util/httpd.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "sk-test-SECRET-0123456789"
#define N_CLASSES 7

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* class of a request = fnv(body) % N_CLASSES: what its first attempt gets */
static int body_class(const cb_httpd_request *req) { return (int)(fnv(req->body, req->body_len) % N_CLASSES); }

typedef struct {
    int auth_ok, auth_bad;
} srv_state;

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    srv_state *s = user;
    char auth[256];
    if (cb_httpd_header(req, "Authorization", auth, sizeof auth) && strcmp(auth, "Bearer " KEY) == 0)
        s->auth_ok++;
    else
        s->auth_bad++;
    int c = body_class(req);
    if (req->attempt == 1 && c != 0) {
        switch (c) {
        case 1:
            cb_httpd_reply_body(rep, 429, "application/json", "{\"error\":{\"message\":\"slow down\"}}");
            cb_httpd_reply_header(rep, "Retry-After: 1\r\n");
            return;
        case 2: cb_httpd_reply_body(rep, 500, "application/json", "{\"error\":{\"message\":\"boom\"}}"); return;
        case 3: rep->action = CB_HTTPD_RESET; return;
        case 4: rep->delay_ms = 5000; break; /* slower than timeout_s 3: the client gives up and retries */
        case 5:
            cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"Answer: 1\"}}]}");
            rep->content_length = (long long)rep->body_len + 50; /* cut short: a transport error */
            rep->close_after = 1;
            return;
        case 6: cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":"); return;
        }
    }
    if (c == 6) { /* malformed every time (only one attempt is expected: a 200 is not retried) */
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":");
        return;
    }
    cb_httpd_reply_body(rep, 200, "application/json",
                        "{\"id\":\"c\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
                        "{\"role\":\"assistant\",\"content\":\"Answer: %d\"},\"finish_reason\":\"stop\"}],"
                        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}",
                        (int)(fnv(req->body, req->body_len) % 9));
}

typedef struct {
    int n, failed, attempts_total, bad_attempts;
    cb_httpd *h;
} check_state;

static int check_sample(void *ud, const cb_sample *smp, cb_err *err) {
    (void)err;
    check_state *c = ud;
    c->n++;
    c->attempts_total += smp->attempts;
    if (smp->error) c->failed++;
    cr_assert(smp->prompt == NULL || strstr(smp->prompt, KEY) == NULL);
    return 0;
}

static int file_contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    int found = memmem(buf, got, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

Test(run_openai, faults_every_sample_once_with_expected_attempts, .timeout = 300) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    srv_state ss = {0};
    cb_httpd *h = NULL;
    cr_assert_eq(cb_httpd_start(handler, &ss, &h), 0);
    char dir[] = "/tmp/cbopenaiXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char suite[256], db[256], out[256], cmd[2048];
    snprintf(suite, sizeof suite, "%s/s.json", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    FILE *f = fopen(suite, "w");
    fprintf(f,
            "{\"name\":\"remote\",\"seed\":11,\"batch_size\":16,"
            "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"m\",\"api_key_env\":\"CB_TEST_KEY\","
            "\"timeout_s\":3,\"connect_timeout_s\":2,\"max_retries\":2,\"concurrency\":8},"
            "\"tasks\":[{\"family\":\"counting\",\"subtasks\":[\"char_occur\",\"word_len\"],\"settings\":[\"direct\"],"
            "\"n\":14}]}",
            cb_httpd_url(h));
    fclose(f);
    snprintf(cmd, sizeof cmd, "CB_TEST_KEY='%s' '%s' run --suite '%s' --db '%s' --no-loglik > '%s' 2>&1", KEY, bin,
             suite, db, out);
    int st = system(cmd);
    /* some requests fail for good (a malformed reply): the run ends incomplete, exit 4 */
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 4, "run did not end incomplete (exit 4); see %s", out);
    cr_assert(file_contains(out, "incomplete: "), "no failure summary in %s", out);

    /* expected attempts per item from its class (one request per item) */
    int n_req = cb_httpd_count(h);
    int expect_attempts = 0, expect_failed = 0, firsts = 0, resets = 0;
    for (int i = 0; i < n_req; i++) {
        cb_httpd_request r;
        cr_assert_eq(cb_httpd_get(h, i, &r), 0);
        if (r.attempt == 1) {
            firsts++;
            int c = body_class(&r);
            expect_attempts += c == 0 || c == 6 ? 1 : 2;
            expect_failed += c == 6;
            resets += c == 3;
        }
        cb_httpd_request_free(&r);
    }
    cr_assert_eq(firsts, 28, "one distinct request per item");
    cr_assert_eq(n_req, expect_attempts, "the server saw exactly the scripted attempts");
    cr_assert_gt(expect_failed, 0, "the script includes a malformed reply (test data check)");
    cr_assert_eq(ss.auth_bad, 0, "every request carried the key");
    cr_assert_eq(ss.auth_ok, n_req);

    cb_store *s = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &s, &err), 0, "%s", err.msg);
    check_state c = {0};
    cr_assert_eq(cb_store_foreach_sample(s, 1, check_sample, &c, &err), 0);
    cb_store_close(s);
    cr_assert_eq(c.n, 28, "every item stored exactly once");
    /* A reset on a reused keep-alive connection is retried by libcurl itself
     * on a fresh connection (the server sees two requests, the client one
     * attempt); a reset on a fresh connection is our retry. Either way the
     * sample is stored once and succeeds. */
    cr_assert(c.attempts_total <= expect_attempts && c.attempts_total >= expect_attempts - resets,
              "stored attempts %d, server requests %d (%d resets)", c.attempts_total, expect_attempts, resets);
    cr_assert_eq(c.failed, expect_failed);
    cb_httpd_stop(h);

    /* the secret is nowhere on disk or in the output */
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", db);
    cr_assert(!file_contains(db, KEY), "API key found in the database");
    cr_assert(!file_contains(wal, KEY), "API key found in the WAL");
    cr_assert(!file_contains(out, KEY), "API key found in the run's output");
    cr_assert(file_contains(db, "CB_TEST_KEY"), "the config records the variable name");

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A server that refuses echo+logprobs: the run stops at the first
 * log-likelihood request with a message naming the `logprobs` setting and
 * --no-loglik, instead of finishing without the candidate metrics. */
typedef struct {
    int n_echo, n_gen;
} echo_state;

static void reject_echo_handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    echo_state *s = user;
    if (strstr(req->body, "\"echo\":true")) {
        s->n_echo++;
        cb_httpd_reply_body(rep, 400, "application/json",
                            "{\"error\":{\"message\":\"Unsupported param: echo\",\"type\":\"invalid_request_error\"}}");
        return;
    }
    s->n_gen++;
    cb_httpd_reply_body(rep, 200, "application/json",
                        "{\"choices\":[{\"text\":\" 3\",\"finish_reason\":\"stop\"}],"
                        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}");
}

static void write_echo_suite(const char *path, cb_httpd *h) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"name\":\"echo\",\"seed\":3,\"batch_size\":8,"
            "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"m\",\"mode\":\"completions\","
            "\"logprobs\":true,\"max_retries\":0},"
            "\"tasks\":[{\"family\":\"counting\",\"subtasks\":[\"char_occur\"],\"settings\":[\"direct\"],\"n\":8}]}",
            cb_httpd_url(h));
    fclose(f);
}

Test(run_openai, server_rejecting_echo_stops_the_run_naming_logprobs, .timeout = 120) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    echo_state es = {0};
    cb_httpd *h = NULL;
    cr_assert_eq(cb_httpd_start(reject_echo_handler, &es, &h), 0);
    char dir[] = "/tmp/cbechoXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char suite[256], db[256], out[256], cmd[2048];
    snprintf(suite, sizeof suite, "%s/s.json", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    write_echo_suite(suite, h);
    snprintf(cmd, sizeof cmd, "'%s' run --suite '%s' --db '%s' --quiet > '%s' 2>&1", bin, suite, db, out);
    int st = system(cmd);
    cb_httpd_stop(h);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "the run must not succeed; see %s", out);
    cr_assert_eq(es.n_echo, 1, "stopped at the first log-likelihood request (%d sent)", es.n_echo);
    cr_assert_eq(es.n_gen, 0, "nothing else of the batch was sent");
    cr_assert(file_contains(out, "Unsupported param: echo"), "the server's message is shown; see %s", out);
    cr_assert(file_contains(out, "\"logprobs\": false"), "the message names the logprobs setting; see %s", out);
    cr_assert(file_contains(out, "--no-loglik"), "see %s", out);
    /* with --no-loglik the same server runs the suite */
    snprintf(cmd, sizeof cmd, "'%s' run --suite '%s' --db '%s' --quiet --no-loglik > '%s' 2>&1", bin, suite, db, out);
    cr_assert_eq(cb_httpd_start(reject_echo_handler, &es, &h), 0);
    write_echo_suite(suite, h); /* the new server has a new port */
    es.n_echo = 0;
    st = system(cmd);
    cb_httpd_stop(h);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--no-loglik runs; see %s", out);
    cr_assert_eq(es.n_echo, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
