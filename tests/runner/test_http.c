/* tests/runner/test_http.c — runner/http.c's transfer engine and blocking
 * download against the loopback test server (tests/util/httpd): status, body,
 * Retry-After parsing, body cap, reset/truncation/timeout/unreachable failure
 * classes, delayed re-queueing while other transfers go on, concurrency limit. */
#include "runner/commands.h"
#include "runner/http.h"
#include "tests/util/httpd.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* server script keyed by path */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_inflight, g_max_inflight;

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    if (strcmp(req->path, "/ok") == 0) {
        cb_httpd_reply_body(rep, 200, "application/json", "{\"echo\":\"%s\"}", req->body);
    } else if (strcmp(req->path, "/429") == 0) {
        cb_httpd_reply_body(rep, 429, "application/json", "{\"error\":{\"message\":\"slow down\"}}");
        cb_httpd_reply_header(rep, "Retry-After: 3");
    } else if (strcmp(req->path, "/429ms") == 0) {
        cb_httpd_reply_body(rep, 429, NULL, "x");
        cb_httpd_reply_header(rep, "Retry-After: 7");
        cb_httpd_reply_header(rep, "retry-after-ms: 250");
    } else if (strcmp(req->path, "/429date") == 0) {
        cb_httpd_reply_body(rep, 429, NULL, "x");
        cb_httpd_reply_header(rep, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"); /* in the past: 0 */
    } else if (strcmp(req->path, "/big") == 0) {
        rep->body = malloc(100000);
        memset(rep->body, 'a', 100000);
        rep->body_len = 100000;
    } else if (strcmp(req->path, "/reset") == 0) {
        rep->action = CB_HTTPD_RESET;
    } else if (strcmp(req->path, "/short") == 0) {
        cb_httpd_reply_body(rep, 200, NULL, "{\"partial\": \"0123456789\"}");
        rep->send_bytes = 5;
    } else if (strcmp(req->path, "/slow") == 0) {
        rep->delay_ms = 3000;
        cb_httpd_reply_body(rep, 200, NULL, "late");
    } else if (strncmp(req->path, "/conc", 5) == 0) {
        rep->delay_ms = 100;
        cb_httpd_reply_body(rep, 200, NULL, "c");
    } else if (strcmp(req->path, "/file") == 0) {
        rep->body = malloc(300000);
        for (int i = 0; i < 300000; i++) rep->body[i] = (char)(i * 7);
        rep->body_len = 300000;
    } else if (strcmp(req->path, "/filecut") == 0) {
        rep->body = calloc(1, 300000);
        rep->body_len = 300000;
        rep->send_bytes = 1000;
    } else {
        cb_httpd_reply_body(rep, 404, "text/plain", "nope");
    }
}

typedef struct {
    int n;
    cb_http_result res[16];
    char *bodies[16];
    double at[16];
    uint64_t tags[16];
    int requeue_tag;       /* tag to re-queue once with a delay, -1 none */
    double requeue_delay;
    cb_http *h;
    const char *requeue_url;
} collect;

static int on_done(void *user, uint64_t tag, cb_http_result *r) {
    collect *c = user;
    if (c->n >= 16) return 0;
    c->res[c->n] = *r;
    c->bodies[c->n] = r->body;
    r->body = NULL; /* steal */
    c->at[c->n] = now_s();
    c->tags[c->n] = tag;
    c->n++;
    if ((int)tag == c->requeue_tag) {
        c->requeue_tag = -1;
        cb_http_req q = {.method = "GET", .url = c->requeue_url};
        cb_http_submit(c->h, &q, c->requeue_delay, 100 + tag, NULL);
    }
    return 0;
}

static void collect_free(collect *c) {
    for (int i = 0; i < c->n; i++) free(c->bodies[i]);
}

static cb_httpd *srv;
static void setup(void) {
    cb_http_global_init();
    cr_assert_eq(cb_httpd_start(handler, NULL, &srv), 0);
}
static void teardown(void) { cb_httpd_stop(srv); }

static void url(char *buf, size_t cap, const char *path) { snprintf(buf, cap, "%s%s", cb_httpd_url(srv), path); }

static int run_one(const char *path, const cb_http_opts *o, collect *c, const char *method, const char *body) {
    char u[256];
    url(u, sizeof u, path);
    cb_http *h;
    cb_err err;
    cr_assert_eq(cb_http_open(o, &h, &err), 0);
    memset(c, 0, sizeof *c);
    c->requeue_tag = -1;
    const char *hdrs[] = {"X-Test: yes"};
    cb_http_req q = {.method = method, .url = u, .headers = hdrs, .n_headers = 1, .body = body,
                     .body_len = body ? strlen(body) : 0};
    cr_assert_eq(cb_http_submit(h, &q, 0, 7, &err), 0);
    int rc = cb_http_run(h, on_done, NULL, c, &err);
    cb_http_close(h);
    return rc;
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 30);

Test(http, post_ok_body_and_headers) {
    cb_http_opts o = {.concurrency = 2, .timeout_s = 5};
    collect c;
    cr_assert_eq(run_one("/ok", &o, &c, "POST", "hello"), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.tags[0], 7);
    cr_assert_eq(c.res[0].fail, CB_HTTP_OK);
    cr_assert_eq(c.res[0].status, 200);
    cr_assert_str_eq(c.bodies[0], "{\"echo\":\"hello\"}");
    cr_assert_eq(c.res[0].retry_after_s, -1);
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    char v[64];
    cr_assert_str_eq(rq.method, "POST");
    cr_assert_not_null(cb_httpd_header(&rq, "x-test", v, sizeof v));
    cr_assert_str_eq(v, "yes");
    cr_assert_null(cb_httpd_header(&rq, "Expect", v, sizeof v), "no 100-continue round trip");
    cb_httpd_request_free(&rq);
    collect_free(&c);
}

Test(http, retry_after_forms) {
    cb_http_opts o = {.concurrency = 1, .timeout_s = 5};
    collect c;
    cr_assert_eq(run_one("/429", &o, &c, "GET", NULL), 0);
    cr_assert_eq(c.res[0].status, 429);
    cr_assert_float_eq(c.res[0].retry_after_s, 3.0, 1e-9);
    collect_free(&c);
    cr_assert_eq(run_one("/429ms", &o, &c, "GET", NULL), 0);
    cr_assert_float_eq(c.res[0].retry_after_s, 0.25, 1e-9, "retry-after-ms wins");
    collect_free(&c);
    cr_assert_eq(run_one("/429date", &o, &c, "GET", NULL), 0);
    cr_assert_float_eq(c.res[0].retry_after_s, 0.0, 1e-9, "a past HTTP date means now");
    collect_free(&c);
    cr_assert(cb_http_status_retryable(429) && cb_http_status_retryable(503) && cb_http_status_retryable(408) &&
              cb_http_status_retryable(409));
    cr_assert(!cb_http_status_retryable(400) && !cb_http_status_retryable(401) && !cb_http_status_retryable(200));
}

Test(http, failure_classes) {
    cb_http_opts o = {.concurrency = 1, .timeout_s = 0.4, .connect_timeout_s = 2, .max_body = 50000};
    collect c;
    cr_assert_eq(run_one("/big", &o, &c, "GET", NULL), 0);
    cr_assert_eq(c.res[0].fail, CB_HTTP_ETOOBIG);
    cr_assert(strstr(c.res[0].error, "50000"), "%s", c.res[0].error);
    collect_free(&c);
    cr_assert_eq(run_one("/reset", &o, &c, "GET", NULL), 0);
    cr_assert_eq(c.res[0].fail, CB_HTTP_ETRANSPORT, "%d %s", c.res[0].fail, c.res[0].error);
    cr_assert_eq(c.res[0].status, 0);
    collect_free(&c);
    cr_assert_eq(run_one("/short", &o, &c, "GET", NULL), 0);
    cr_assert_eq(c.res[0].fail, CB_HTTP_ETRANSPORT, "%d %s", c.res[0].fail, c.res[0].error);
    collect_free(&c);
    double t0 = now_s();
    cr_assert_eq(run_one("/slow", &o, &c, "GET", NULL), 0);
    cr_assert_eq(c.res[0].fail, CB_HTTP_ETIMEOUT, "%d %s", c.res[0].fail, c.res[0].error);
    cr_assert_lt(now_s() - t0, 4.0);
    collect_free(&c);

    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", cb_httpd_unused_port());
    cb_http *h;
    cr_assert_eq(cb_http_open(&o, &h, NULL), 0);
    memset(&c, 0, sizeof c);
    c.requeue_tag = -1;
    cb_http_req q = {.url = u};
    cr_assert_eq(cb_http_submit(h, &q, 0, 1, NULL), 0);
    cr_assert_eq(cb_http_run(h, on_done, NULL, &c, NULL), 0);
    cr_assert_eq(c.res[0].fail, CB_HTTP_ECONNECT, "%d %s", c.res[0].fail, c.res[0].error);
    cb_http_close(h);
    collect_free(&c);
}

Test(http, requeue_with_delay_does_not_block_others) {
    cb_http_opts o = {.concurrency = 2, .timeout_s = 5};
    cb_http *h;
    cr_assert_eq(cb_http_open(&o, &h, NULL), 0);
    collect c;
    memset(&c, 0, sizeof c);
    char u1[256], u2[256];
    url(u1, sizeof u1, "/429");
    url(u2, sizeof u2, "/ok");
    c.h = h;
    c.requeue_tag = 0;
    c.requeue_delay = 0.4;
    c.requeue_url = u2;
    double t0 = now_s();
    cb_http_req a = {.url = u1}, b = {.url = u2};
    cr_assert_eq(cb_http_submit(h, &a, 0, 0, NULL), 0);
    cr_assert_eq(cb_http_submit(h, &b, 0.1, 1, NULL), 0);
    cr_assert_eq(cb_http_run(h, on_done, NULL, &c, NULL), 0);
    cr_assert_eq(c.n, 3);
    /* tag 1 (due at 0.1 s) finishes before the re-queued tag 100 (due at ~0.4 s) */
    cr_assert_eq(c.tags[0], 0);
    cr_assert_eq(c.tags[1], 1);
    cr_assert_eq(c.tags[2], 100);
    cr_assert_geq(c.at[1] - t0, 0.1);
    cr_assert_geq(c.at[2] - c.at[0], 0.4);
    cr_assert_lt(c.at[2] - t0, 4.0);
    cb_http_close(h);
    collect_free(&c);
}

static int count_done(void *user, uint64_t tag, cb_http_result *r) {
    (void)tag;
    int *n = user;
    if (r->fail == CB_HTTP_OK && r->status == 200) (*n)++;
    return 0;
}

static int stop_after(void *user, uint64_t tag, cb_http_result *r) {
    (void)tag;
    (void)r;
    int *n = user;
    return ++*n == 2 ? 42 : 0;
}

Test(http, concurrency_limit_and_abort) {
    /* 8 transfers of 100 ms each through 2 slots take >= 400 ms; through 8, ~100 ms */
    cb_http_opts o = {.concurrency = 2, .timeout_s = 5};
    cb_http *h;
    cr_assert_eq(cb_http_open(&o, &h, NULL), 0);
    char u[256];
    for (int i = 0; i < 8; i++) {
        char p[32];
        snprintf(p, sizeof p, "/conc%d", i);
        url(u, sizeof u, p);
        cb_http_req q = {.url = u};
        cr_assert_eq(cb_http_submit(h, &q, 0, (uint64_t)i, NULL), 0);
    }
    int ok = 0;
    double t0 = now_s();
    cr_assert_eq(cb_http_run(h, count_done, NULL, &ok, NULL), 0);
    double dt = now_s() - t0;
    cr_assert_eq(ok, 8);
    cr_assert_geq(dt, 0.39, "took %.3f s", dt);
    /* a done callback's nonzero code stops the loop and drops the rest */
    for (int i = 0; i < 8; i++) {
        cb_http_req q = {.url = u};
        cr_assert_eq(cb_http_submit(h, &q, 0, (uint64_t)i, NULL), 0);
    }
    int seen = 0;
    cr_assert_eq(cb_http_run(h, stop_after, NULL, &seen, NULL), 42);
    cr_assert_eq(seen, 2);
    cr_assert_eq(cb_http_run(h, stop_after, NULL, &seen, NULL), 0, "nothing left after an abort");
    cb_http_close(h);
    (void)g_mu;
    (void)g_inflight;
    (void)g_max_inflight;
}

static int progress_calls;
static int on_progress(void *user, int64_t now, int64_t total) {
    (void)user;
    (void)now;
    (void)total;
    progress_calls++;
    return 0;
}

Test(http, download_to_fd) {
    char u[256], path[] = "/tmp/cb_test_http_dl_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    url(u, sizeof u, "/file");
    int64_t bytes = 0;
    long status = 0;
    cb_http_fail fail = CB_HTTP_ECANCEL;
    cb_err err;
    cr_assert_eq(cb_http_download(u, fd, 2, on_progress, NULL, &bytes, &status, &fail, &err), 0, "%s", err.msg);
    cr_assert_eq(bytes, 300000);
    cr_assert_eq(status, 200);
    cr_assert_eq(fail, CB_HTTP_OK);
    cr_assert_gt(progress_calls, 0);
    cr_assert_eq(lseek(fd, 0, SEEK_END), 300000);
    unsigned char b[4];
    cr_assert_eq(pread(fd, b, 4, 1000), 4);
    cr_assert_eq(b[1], (unsigned char)(1001 * 7));

    cr_assert_eq(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);
    url(u, sizeof u, "/filecut");
    cr_assert_eq(cb_http_download(u, fd, 2, NULL, NULL, &bytes, &status, &fail, &err), CB_ENET);
    cr_assert_eq(fail, CB_HTTP_ETRANSPORT);
    cr_assert(strstr(err.msg, "/filecut"), "%s", err.msg);

    url(u, sizeof u, "/missing");
    cr_assert_eq(cb_http_download(u, fd, 2, NULL, NULL, &bytes, &status, &fail, &err), CB_ENET);
    cr_assert_eq(status, 404);
    cr_assert(strstr(err.msg, "HTTP 404"), "%s", err.msg);

    snprintf(u, sizeof u, "http://127.0.0.1:%d/f", cb_httpd_unused_port());
    cr_assert_eq(cb_http_download(u, fd, 2, NULL, NULL, &bytes, &status, &fail, &err), CB_ENET);
    cr_assert_eq(fail, CB_HTTP_ECONNECT);
    close(fd);
    unlink(path);
}
