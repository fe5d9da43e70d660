/* tests/runner/test_backend_remote.c — the OpenAI-compatible backend against the
 * scripted loopback server: answers land in the right out[i] under concurrency,
 * the retry policy (429 + Retry-After, 5xx, resets, timeouts, truncated bodies),
 * run-stopping statuses, the API key never leaking into messages or describe(),
 * log-likelihood scoring from echo+logprobs, and servers without logprobs. */
#include "engine/chat.h"
#include "runner/backend_remote.h"
#include "runner/commands.h"
#include "tests/util/httpd.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY "sk-test-SECRET-0123456789"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- server side ------------------------------------------------------------- */

typedef enum {
    S_ECHO,          /* answer "a<N>" to a chat whose last message is "q<N>" */
    S_429_ONCE,      /* 429 + Retry-After: 1, then echo */
    S_500_ONCE,
    S_500_ALWAYS,
    S_RESET_ONCE,
    S_SLOW,          /* slower than the client's timeout, always */
    S_TRUNC_BODY,    /* 200 with a short (cut) JSON body of the right length */
    S_TRUNC_CONN,    /* Content-Length larger than what is sent, then close */
    S_NO_CONTENT,    /* valid JSON without choices[0].message.content */
    S_401,           /* 401 whose message quotes the key */
    S_404,
    S_BIG,           /* 2 MB body */
    S_LOGPROBS,      /* /completions echo with logprobs, tokens = words */
    S_NO_LOGPROBS,   /* /completions without logprobs */
    S_REJECT_ECHO,   /* 400 "Unsupported param: echo" to echo requests, else echo */
    S_NO_COMPLETIONS /* a chat-only server: 404 on /completions, else echo */
} scenario;

static scenario g_scn;

static const char *last_user_text(cJSON *root) {
    cJSON *msgs = cJSON_GetObjectItem(root, "messages");
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    cJSON *c = cJSON_GetObjectItem(last, "content");
    if (cJSON_IsString(c)) return c->valuestring;
    cJSON *p = cJSON_GetObjectItem(root, "prompt");
    return cJSON_IsString(p) ? p->valuestring : "";
}

static void reply_echo(cJSON *root, const cb_httpd_request *req, cb_httpd_reply *rep) {
    const char *q = last_user_text(root);
    int n = q[0] == 'q' ? atoi(q + 1) : -1;
    if (strcmp(req->path, "/v1/chat/completions") == 0)
        cb_httpd_reply_body(rep, 200, "application/json",
                            "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
                            "{\"role\":\"assistant\",\"content\":\"a%d\"},\"finish_reason\":\"stop\"}],"
                            "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":2,\"total_tokens\":%d}}",
                            n, 10 + n, 12 + n);
    else
        cb_httpd_reply_body(rep, 200, "application/json",
                            "{\"choices\":[{\"text\":\" a%d\",\"finish_reason\":\"length\"}],"
                            "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
                            n);
}

/* Splits the prompt into word tokens (a token = optional spaces + non-spaces);
 * token k > 0 has logprob -0.1*k, and its top alternative is itself unless the
 * token is " down", whose top alternative " up" is likelier. Offsets count
 * code points. */
static void reply_logprobs(cJSON *root, cb_httpd_reply *rep) {
    const char *p = cJSON_GetObjectItem(root, "prompt")->valuestring;
    cJSON *o = cJSON_CreateObject();
    cJSON *choices = cJSON_AddArrayToObject(o, "choices");
    cJSON *c0 = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, c0);
    cJSON_AddStringToObject(c0, "text", p);
    cJSON_AddStringToObject(c0, "finish_reason", "length");
    cJSON *lp = cJSON_AddObjectToObject(c0, "logprobs");
    cJSON *toks = cJSON_AddArrayToObject(lp, "tokens");
    cJSON *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(lp, "top_logprobs");
    cJSON *off = cJSON_AddArrayToObject(lp, "text_offset");
    size_t i = 0, n = strlen(p);
    long cp = 0;
    int k = 0;
    while (i < n) {
        size_t s = i;
        long cps = cp;
        while (i < n && p[i] == ' ') i++, cp++;
        while (i < n && p[i] != ' ') {
            if (((unsigned char)p[i] & 0xC0) != 0x80) cp++;
            i++;
        }
        char tok[256];
        snprintf(tok, sizeof tok, "%.*s", (int)(i - s), p + s);
        cJSON_AddItemToArray(toks, cJSON_CreateString(tok));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)cps));
        if (k == 0) {
            cJSON_AddItemToArray(tlp, cJSON_CreateNull());
            cJSON_AddItemToArray(top, cJSON_CreateNull());
        } else {
            double v = -0.1 * k;
            cJSON_AddItemToArray(tlp, cJSON_CreateNumber(v));
            cJSON *t = cJSON_CreateObject();
            if (strcmp(tok, " down") == 0) cJSON_AddNumberToObject(t, " up", -0.01);
            else cJSON_AddNumberToObject(t, tok, v);
            cJSON_AddItemToArray(top, t);
        }
        k++;
    }
    char *s = cJSON_PrintUnformatted(o);
    cb_httpd_reply_body(rep, 200, "application/json", "%s", s);
    free(s);
    cJSON_Delete(o);
}

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    int a = req->attempt;
    switch (g_scn) {
    case S_ECHO: reply_echo(root, req, rep); break;
    case S_429_ONCE:
        if (a == 1) {
            cb_httpd_reply_body(rep, 429, "application/json", "{\"error\":{\"message\":\"rate limited\"}}");
            cb_httpd_reply_header(rep, "Retry-After: 1");
        } else
            reply_echo(root, req, rep);
        break;
    case S_500_ONCE:
        if (a == 1) cb_httpd_reply_body(rep, 500, "application/json", "{\"error\":{\"message\":\"boom\"}}");
        else reply_echo(root, req, rep);
        break;
    case S_500_ALWAYS:
        cb_httpd_reply_body(rep, 500, "application/json", "{\"error\":{\"message\":\"engine crashed\"}}");
        break;
    case S_RESET_ONCE:
        if (a == 1) rep->action = CB_HTTPD_RESET;
        else reply_echo(root, req, rep);
        break;
    case S_SLOW:
        rep->delay_ms = 3000;
        reply_echo(root, req, rep);
        break;
    case S_TRUNC_BODY:
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":{\"content\":\"hel");
        break;
    case S_TRUNC_CONN:
        reply_echo(root, req, rep);
        rep->send_bytes = 20;
        break;
    case S_NO_CONTENT:
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"message\":{\"role\":\"assistant\"}}]}");
        break;
    case S_401:
        cb_httpd_reply_body(rep, 401, "application/json",
                            "{\"error\":{\"message\":\"Incorrect API key provided: %s\",\"type\":\"invalid_request_error\"}}",
                            KEY);
        break;
    case S_404:
        cb_httpd_reply_body(rep, 404, "application/json", "{\"error\":{\"message\":\"model 'nope' not found\"}}");
        break;
    case S_BIG:
        rep->body_len = 2 << 20;
        rep->body = malloc(rep->body_len);
        memset(rep->body, ' ', rep->body_len);
        break;
    case S_LOGPROBS: reply_logprobs(root, rep); break;
    case S_NO_LOGPROBS:
        cb_httpd_reply_body(rep, 200, "application/json", "{\"choices\":[{\"text\":\"\",\"finish_reason\":\"length\"}]}");
        break;
    case S_REJECT_ECHO:
        if (cJSON_IsTrue(cJSON_GetObjectItem(root, "echo")))
            cb_httpd_reply_body(rep, 400, "application/json",
                                "{\"error\":{\"message\":\"Unsupported param: echo\",\"type\":\"invalid_request_error\"}}");
        else
            reply_echo(root, req, rep);
        break;
    case S_NO_COMPLETIONS:
        if (strcmp(req->path, "/v1/completions") == 0)
            cb_httpd_reply_body(rep, 404, "application/json", "{\"detail\":\"Not Found\"}");
        else
            reply_echo(root, req, rep);
        break;
    }
    cJSON_Delete(root);
}

/* ---- client side ------------------------------------------------------------- */

static cb_httpd *srv;

static void setup(void) {
    cb_http_global_init();
    setenv("CB_TEST_REMOTE_KEY", KEY, 1);
    cr_assert_eq(cb_httpd_start(handler, NULL, &srv), 0);
}
static void teardown(void) { cb_httpd_stop(srv); }

TestSuite(remote, .init = setup, .fini = teardown, .timeout = 60);

static cb_backend *open_backend(cb_remote_opts *o, const char *suffix) {
    static char url[256];
    snprintf(url, sizeof url, "%s%s", cb_httpd_url(srv), suffix);
    o->base_url = url;
    o->model = "test-model";
    o->api_key_env = "CB_TEST_REMOTE_KEY";
    o->retry_base_s = 0.01;
    o->retry_max_s = 0.05;
    o->request_timeout_s = 5;
    o->connect_timeout_s = 2;
    o->rng_seed = 1;
    cb_backend *b = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_backend_remote_open(o, &b, &err), 0, "%s", err.msg);
    return b;
}

static cb_backend *open_default(void) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    return open_backend(&o, "/v1");
}

static cb_message g_msgs[32][2];
static char g_texts[32][16];

static void make_chat(cb_request *r, int i) {
    memset(r, 0, sizeof *r);
    snprintf(g_texts[i], sizeof g_texts[i], "q%d", i);
    g_msgs[i][0] = (cb_message){CB_ROLE_SYSTEM, "Be brief."};
    g_msgs[i][1] = (cb_message){CB_ROLE_USER, g_texts[i]};
    r->kind = CB_REQ_GENERATE;
    r->id = 1000 + (uint64_t)i;
    r->messages = g_msgs[i];
    r->n_messages = 2;
    r->max_tokens = 16;
    r->temperature = 0;
    r->top_p = 1;
    r->seed = 42;
}

static void no_key_in(const char *s) {
    if (s) cr_assert_null(strstr(s, KEY), "API key leaked into: %s", s);
}

static void run_single(scenario s, cb_backend *b, cb_response *out, int expect_rc, cb_err *err) {
    g_scn = s;
    cb_request r;
    make_chat(&r, 7);
    cb_err_clear(err);
    int rc = b->submit(b, &r, out, 1, err);
    cr_assert_eq(rc != 0, expect_rc != 0, "rc %d: %s", rc, err->msg);
    if (expect_rc) cr_assert_eq(rc, expect_rc);
    no_key_in(out->error);
    no_key_in(err->msg);
}

Test(remote, twenty_requests_concurrency_four) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.concurrency = 4;
    cb_backend *b = open_backend(&o, "");
    g_scn = S_ECHO;
    cb_request reqs[20];
    cb_response out[20];
    for (int i = 0; i < 20; i++) make_chat(&reqs[i], i);
    cb_err err;
    cr_assert_eq(b->submit(b, reqs, out, 20, &err), 0, "%s", err.msg);
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof want, "a%d", i);
        cr_assert_null(out[i].error, "%d: %s", i, out[i].error);
        cr_assert_str_eq(out[i].text, want);
        cr_assert_eq(out[i].id, 1000 + (uint64_t)i);
        cr_assert_eq(out[i].attempts, 1);
        cr_assert_eq(out[i].prompt_tokens, 10 + i);
        cr_assert_eq(out[i].completion_tokens, 2);
        cr_assert_str_eq(out[i].finish_reason, "stop");
        cr_assert_gt(out[i].latency_s, 0);
        cb_response_clear(&out[i]);
    }
    cr_assert_eq(cb_httpd_count_path(srv, "/v1/chat/completions"), 20);
    /* the wire: key in the Authorization header, request fields as documented */
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    char v[256];
    cr_assert_not_null(cb_httpd_header(&rq, "Authorization", v, sizeof v));
    cr_assert_str_eq(v, "Bearer " KEY);
    cJSON *body = cJSON_Parse(rq.body);
    cr_assert_not_null(body);
    cr_assert_str_eq(cJSON_GetObjectItem(body, "model")->valuestring, "test-model");
    cr_assert_eq(cJSON_GetObjectItem(body, "max_tokens")->valueint, 16);
    cr_assert_eq(cJSON_GetObjectItem(body, "seed")->valueint, 42);
    cr_assert_float_eq(cJSON_GetObjectItem(body, "temperature")->valuedouble, 0.0, 1e-12);
    cr_assert_null(cJSON_GetObjectItem(body, "top_p"), "top_p 1 means off and is not sent");
    cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "role")->valuestring, "system");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "content")->valuestring, "Be brief.");
    cJSON_Delete(body);
    cb_httpd_request_free(&rq);
    b->close(b);
}

Test(remote, describe_has_no_key_and_normalizes_url) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    cb_backend *b = open_backend(&o, "/v1/");
    cb_backend_info info;
    b->describe(b, &info);
    char want[128];
    snprintf(want, sizeof want, "%s/v1", cb_httpd_url(srv));
    cr_assert_str_eq(info.base_url, want);
    cr_assert_str_eq(info.kind, "openai");
    cr_assert_str_eq(info.model_id, "test-model");
    cr_assert_str_eq(info.device, "remote");
    cr_assert_eq(info.supports_loglik, 1);
    cr_assert_null(memmem(&info, sizeof info, KEY, strlen(KEY)), "key found in cb_backend_info");
    b->close(b);
    b = open_backend(&o, "");
    b->describe(b, &info);
    cr_assert_str_eq(info.base_url, want, "/v1 appended when missing");
    b->close(b);

    /* a named key variable that is not set is a usage error naming the variable */
    cb_remote_opts_init(&o);
    o.base_url = "http://127.0.0.1:1/v1";
    o.model = "m";
    o.api_key_env = "CB_TEST_NO_SUCH_VAR_XYZ";
    cb_err err;
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "CB_TEST_NO_SUCH_VAR_XYZ"), "%s", err.msg);
    o.api_key_env = NULL;
    o.base_url = "ftp://x";
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), CB_EUSAGE);
}

Test(remote, retry_after_429_is_honoured) {
    cb_backend *b = open_default();
    cb_response out;
    cb_err err;
    double t0 = now_s();
    run_single(S_429_ONCE, b, &out, 0, &err);
    double dt = now_s() - t0;
    cr_assert_null(out.error, "%s", out.error);
    cr_assert_str_eq(out.text, "a7");
    cr_assert_eq(out.attempts, 2);
    cr_assert_geq(dt, 1.0, "retried after %.3f s, Retry-After said 1 s", dt);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(cb_httpd_count(srv), 2);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, server_error_then_success) {
    cb_backend *b = open_default();
    cb_response out;
    cb_err err;
    run_single(S_500_ONCE, b, &out, 0, &err);
    cr_assert_null(out.error, "%s", out.error);
    cr_assert_str_eq(out.text, "a7");
    cr_assert_eq(out.attempts, 2);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, server_error_three_times_fails_the_sample) {
    cb_backend *b = open_default();
    cb_response out;
    cb_err err;
    run_single(S_500_ALWAYS, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert_eq(out.attempts, 3, "default: 2 retries");
    cr_assert_eq(cb_httpd_count(srv), 3);
    cr_assert(strstr(out.error, "HTTP 500"), "%s", out.error);
    cr_assert(strstr(out.error, "engine crashed"), "%s", out.error);
    cr_assert(strstr(out.error, "3 attempts"), "%s", out.error);
    cr_assert_null(out.text);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, connection_reset_then_success) {
    cb_backend *b = open_default();
    cb_response out;
    cb_err err;
    run_single(S_RESET_ONCE, b, &out, 0, &err);
    cr_assert_null(out.error, "%s", out.error);
    cr_assert_str_eq(out.text, "a7");
    cr_assert_eq(out.attempts, 2);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, slower_than_timeout_is_retried_then_fails) {
    cb_remote_opts o;
    cb_backend *b;
    cb_remote_opts_init(&o);
    o.max_retries = 1;
    char url[128];
    snprintf(url, sizeof url, "%s/v1", cb_httpd_url(srv));
    o.base_url = url;
    o.model = "m";
    o.request_timeout_s = 0.3;
    o.retry_base_s = 0.01;
    cb_err err;
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), 0, "%s", err.msg);
    cb_response out;
    double t0 = now_s();
    run_single(S_SLOW, b, &out, 0, &err);
    double dt = now_s() - t0;
    cr_assert_not_null(out.error);
    cr_assert(strstr(out.error, "timed out"), "%s", out.error);
    cr_assert_eq(out.attempts, 2);
    cr_assert_geq(dt, 0.6);
    cr_assert_lt(dt, 4.0);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, truncated_json_body_is_a_clear_error) {
    cb_backend *b = open_default();
    cb_response out;
    cb_err err;
    run_single(S_TRUNC_BODY, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert(strstr(out.error, "/v1/chat/completions"), "%s", out.error);
    cr_assert(strstr(out.error, "truncated JSON"), "%s", out.error);
    cr_assert_eq(out.attempts, 1, "a complete 200 reply is not retried");
    cb_response_clear(&out);

    run_single(S_NO_CONTENT, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert(strstr(out.error, "expected choices[0].message.content (string)"), "%s", out.error);
    cb_response_clear(&out);

    /* a body cut short of its Content-Length is a transport error: retried */
    run_single(S_TRUNC_CONN, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert_eq(out.attempts, 3);
    cr_assert(strstr(out.error, "failed after 3 attempts"), "%s", out.error);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, oversized_reply_is_capped) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.max_response_bytes = 1 << 20;
    cb_backend *b = open_backend(&o, "/v1");
    cb_response out;
    cb_err err;
    run_single(S_BIG, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert(strstr(out.error, "larger than 1048576 bytes"), "%s", out.error);
    cr_assert_eq(out.attempts, 1);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, unauthorized_stops_the_run_without_leaking_the_key) {
    cb_backend *b = open_default();
    cb_response out[3];
    cb_request reqs[3];
    for (int i = 0; i < 3; i++) make_chat(&reqs[i], i);
    g_scn = S_401;
    cb_err err;
    cb_err_clear(&err);
    int rc = b->submit(b, reqs, out, 3, &err);
    cr_assert_eq(rc, CB_EUSAGE, "a refused key is bad input (exit 2)");
    cr_assert(strstr(err.msg, "HTTP 401"), "%s", err.msg);
    cr_assert(strstr(err.msg, "Incorrect API key provided"), "%s", err.msg);
    no_key_in(err.msg);
    cr_assert_eq(cb_httpd_count(srv) >= 1, 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(out[i].error);
        no_key_in(out[i].error);
        cb_response_clear(&out[i]);
    }
    cb_response o1;
    run_single(S_404, b, &o1, CB_EUSAGE, &err);
    cr_assert(strstr(err.msg, "model 'nope' not found"), "%s", err.msg);
    cb_response_clear(&o1);
    b->close(b);
}

Test(remote, unreachable_server_fails_each_sample) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", cb_httpd_unused_port());
    o.base_url = url;
    o.model = "m";
    o.retry_base_s = 0.01;
    cb_backend *b;
    cb_err err;
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), 0);
    cb_response out;
    run_single(S_ECHO, b, &out, 0, &err);
    cr_assert_not_null(out.error);
    cr_assert_eq(out.attempts, 3);
    cr_assert(strstr(out.error, "failed after 3 attempts"), "%s", out.error);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, completions_mode_and_request_fields) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.mode = CB_REMOTE_COMPLETIONS;
    cb_backend *b = open_backend(&o, "/v1");
    g_scn = S_ECHO;
    const char *stops[] = {"\n", "END"};
    cb_request r;
    make_chat(&r, 3);
    r.n_messages = 0;
    r.messages = NULL;
    r.prompt = "q3";
    r.stop = stops;
    r.n_stop = 2;
    r.temperature = 0.7f;
    r.top_p = 0.9f;
    r.top_k = 40;
    cb_response out;
    cb_err err;
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), 0, "%s", err.msg);
    cr_assert_null(out.error, "%s", out.error);
    cr_assert_str_eq(out.text, " a3");
    cr_assert_str_eq(out.finish_reason, "length");
    cr_assert_str_eq(out.rendered_prompt, "q3");
    cr_assert_eq(cb_httpd_count_path(srv, "/v1/completions"), 1);
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    cr_assert(strstr(rq.body, "\"stop\":[\"\\n\",\"END\"]"), "%s", rq.body);
    cr_assert(strstr(rq.body, "\"temperature\":0.7,"), "%s", rq.body);
    cr_assert(strstr(rq.body, "\"top_p\":0.9,"), "%s", rq.body);
    cr_assert(strstr(rq.body, "\"top_k\":40"), "%s", rq.body);
    cr_assert(strstr(rq.body, "\"prompt\":\"q3\""), "%s", rq.body);
    cb_httpd_request_free(&rq);
    cb_response_clear(&out);

    /* messages in completions mode: template none, the text the local backend
     * renders (engine/chat.h: a blank line between turns, "\n" before the answer) */
    make_chat(&r, 5);
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.rendered_prompt, "Be brief.\n\nq5\n");
    char *want = NULL;
    cb_chat_msg cm[2] = {{CB_CHAT_ROLE_SYSTEM, "Be brief."}, {CB_CHAT_ROLE_USER, "q5"}};
    cr_assert_eq(cb_chat_render(CB_CHAT_NONE, cm, 2, 1, NULL, &want, &err), 0);
    cr_assert_str_eq(out.rendered_prompt, want);
    free(want);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, loglikelihood_from_echo_logprobs) {
    cb_backend *b = open_default();
    g_scn = S_LOGPROBS;
    cb_request r[4];
    memset(r, 0, sizeof r);
    r[0] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .id = 1, .prompt = "The cat", .continuation = " sat down"};
    r[1] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .id = 2, .prompt = "The cat", .continuation = " sat"};
    /* code points, not bytes: "é" is 2 bytes, 1 code point */
    r[2] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .id = 3, .prompt = "Café au", .continuation = " lait chaud"};
    r[3] = (cb_request){.kind = CB_REQ_ROLLING, .id = 4, .prompt = "one two three"};
    cb_response out[4];
    cb_err err;
    cr_assert_eq(b->submit(b, r, out, 4, &err), 0, "%s", err.msg);
    for (int i = 0; i < 4; i++) cr_assert_null(out[i].error, "%d: %s", i, out[i].error);
    /* tokens: "The"(null) " cat"(-0.1) " sat"(-0.2) " down"(-0.3, not top) */
    cr_assert_eq(out[0].n_scored, 2);
    cr_assert_float_eq(out[0].logprob_sum, -0.5, 1e-9);
    cr_assert_float_eq(out[0].token_logprobs[0], -0.2, 1e-9);
    cr_assert_float_eq(out[0].token_logprobs[1], -0.3, 1e-9);
    cr_assert_eq(out[0].is_greedy, 0);
    cr_assert_str_eq(out[0].rendered_prompt, "The cat sat down");
    cr_assert_eq(out[1].n_scored, 1);
    cr_assert_float_eq(out[1].logprob_sum, -0.2, 1e-9);
    cr_assert_eq(out[1].is_greedy, 1);
    /* "Café"(null) " au"(-0.1) " lait"(-0.2) " chaud"(-0.3) */
    cr_assert_eq(out[2].n_scored, 2);
    cr_assert_float_eq(out[2].logprob_sum, -0.5, 1e-9);
    /* rolling: all but the first token */
    cr_assert_eq(out[3].n_scored, 2);
    cr_assert_float_eq(out[3].logprob_sum, -0.3, 1e-9);
    cr_assert_eq(out[3].n_bytes, 13);
    for (int i = 0; i < 4; i++) cb_response_clear(&out[i]);
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    cr_assert_str_eq(rq.path, "/v1/completions");
    cJSON *body = cJSON_Parse(rq.body);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(body, "echo")));
    cr_assert_eq(cJSON_GetObjectItem(body, "logprobs")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(body, "max_tokens")->valueint, 0);
    cJSON_Delete(body);
    cb_httpd_request_free(&rq);
    b->close(b);
}

Test(remote, server_without_logprobs_is_a_clear_error) {
    cb_backend *b = open_default();
    g_scn = S_NO_LOGPROBS;
    cb_request r = {.kind = CB_REQ_LOGLIKELIHOOD, .id = 1, .prompt = "The cat", .continuation = " sat"};
    cb_response out;
    cb_err err;
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), CB_EUNSUP);
    char want[256];
    snprintf(want, sizeof want, "server %s/v1 did not return logprobs for a log-likelihood request", cb_httpd_url(srv));
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    cr_assert(strstr(err.msg, "use a local model or a server that supports echo+logprobs"), "%s", err.msg);
    cr_assert_not_null(out.error);
    cb_response_clear(&out);
    b->close(b);

    /* a backend opened with logprobs off refuses before sending anything */
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.logprobs = 0;
    b = open_backend(&o, "/v1");
    int before = cb_httpd_count(srv);
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), CB_EUNSUP);
    cr_assert_eq(cb_httpd_count(srv), before);
    cb_backend_info info;
    b->describe(b, &info);
    cr_assert_eq(info.supports_loglik, 0);
    cb_response_clear(&out);
    b->close(b);
}

Test(remote, parse_reply_table) {
    static const struct {
        cb_remote_reply kind;
        const char *body;
        int rc;
        const char *msg; /* substring of the error, or the text on success */
    } cases[] = {
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[{\"message\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}", 0, "hi"},
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[{\"message\":{\"content\":null}}]}", 0, ""},
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[]}", CB_EFORMAT, "expected choices (non-empty array)"},
        {CB_REMOTE_REPLY_CHAT, "[1]", CB_EFORMAT, "expected a JSON object at the top level"},
        {CB_REMOTE_REPLY_CHAT, "", CB_EFORMAT, "an empty body"},
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[3]}", CB_EFORMAT, "expected choices[0] (object)"},
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[{\"message\":{\"content\":5}}]}", CB_EFORMAT,
         "expected choices[0].message.content (string)"},
        {CB_REMOTE_REPLY_CHAT, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":7}]}", CB_EFORMAT,
         "finish_reason"},
        {CB_REMOTE_REPLY_COMPLETION, "{\"choices\":[{\"text\":\"t\"}],\"usage\":{\"prompt_tokens\":-4}}", 0, "t"},
        {CB_REMOTE_REPLY_COMPLETION, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", CB_EFORMAT,
         "expected choices[0].text (string)"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"text\":\"\"}]}", CB_EUNSUP, "did not return logprobs"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[],\"text_offset\":[]}}]}",
         CB_EUNSUP, "did not echo"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[null,-1],\"text_offset\":[0]}}]}",
         CB_EFORMAT, "text_offset"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[null,2],\"text_offset\":[0,1]}}]}",
         CB_EFORMAT, "token_logprobs[1]"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[null,-1],\"text_offset\":[0,5,1]}}]}",
         CB_EFORMAT, "text_offset"},
        {CB_REMOTE_REPLY_LOGLIK, "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[null,-1],\"text_offset\":[3,1]}}]}",
         CB_EFORMAT, "text_offset[1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cb_response out;
        memset(&out, 0, sizeof out);
        cb_err err;
        cb_err_clear(&err);
        int rc = cb_remote_parse_reply(cases[i].kind, cases[i].body, strlen(cases[i].body), "reply from X", 1, 3,
                                       NULL, &out, &err);
        cr_assert_eq(rc, cases[i].rc, "case %zu: rc %d (%s)", i, rc, err.msg);
        if (rc == 0) cr_assert_str_eq(out.text, cases[i].msg, "case %zu", i);
        else {
            cr_assert(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
            cr_assert(strncmp(err.msg, "reply from X: ", 14) == 0, "case %zu: %s", i, err.msg);
        }
        cb_response_clear(&out);
    }
    char buf[64];
    cb_remote_error_message("{\"error\":\"plain\"}", 17, buf, sizeof buf);
    cr_assert_str_eq(buf, "plain");
    cb_remote_error_message("{\"detail\":\"fastapi\"}", 20, buf, sizeof buf);
    cr_assert_str_eq(buf, "fastapi");
    cb_remote_error_message("<html>\n502", 10, buf, sizeof buf);
    cr_assert_str_eq(buf, "<html> 502");
}

static volatile sig_atomic_t g_stop;

static void stop_handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    (void)req;
    g_stop = 1; /* "Ctrl-C" while the request is in flight */
    rep->delay_ms = 5000;
    cb_httpd_reply_body(rep, 200, "application/json", "{}");
}

Test(remote, stop_flag_cancels_the_batch) {
    cb_httpd *s2;
    cr_assert_eq(cb_httpd_start(stop_handler, NULL, &s2), 0);
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.base_url = cb_httpd_url(s2);
    o.model = "m";
    o.stop_flag = &g_stop;
    cb_backend *b;
    cr_assert_eq(cb_backend_remote_open(&o, &b, NULL), 0);
    cb_request r[2];
    make_chat(&r[0], 0);
    make_chat(&r[1], 1);
    cb_response out[2];
    double t0 = now_s();
    /* err may be NULL: the code alone says what happened */
    cr_assert_eq(b->submit(b, r, out, 2, NULL), CB_EINTR);
    cr_assert_lt(now_s() - t0, 3.0);
    for (int i = 0; i < 2; i++) {
        cr_assert_not_null(out[i].error);
        cr_assert(strstr(out[i].error, "not completed"), "%s", out[i].error);
        cb_response_clear(&out[i]);
    }
    b->close(b);
    cb_httpd_stop(s2);
}

/* A server that cannot score log-likelihoods is found on the FIRST such
 * request: the backend sends one alone before the rest of the batch, and the
 * run stops with CB_EUNSUP and a message that says what to change. */
static void check_loglik_rejected(scenario scn, const char *server_says) {
    cb_backend *b = open_default();
    g_scn = scn;
    cb_request r[8];
    static const char *const conts[] = {" a", " b", " c", " d", " e", " f", " g"};
    make_chat(&r[0], 1); /* a generation first: it is not sent before the probe */
    for (int i = 1; i < 8; i++)
        r[i] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .id = (uint64_t)i, .prompt = "The cat",
                            .continuation = conts[i - 1]};
    cb_response out[8];
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(b->submit(b, r, out, 8, &err), CB_EUNSUP, "%s", err.msg);
    cr_assert_eq(cb_httpd_count(srv), 1, "one request, the first log-likelihood one, reached the server");
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    cr_assert(strstr(rq.body, "\"echo\":true"), "%s", rq.body);
    cb_httpd_request_free(&rq);
    cr_assert(strstr(err.msg, "rejected a log-likelihood request"), "%s", err.msg);
    cr_assert(strstr(err.msg, server_says), "%s", err.msg);
    cr_assert(strstr(err.msg, "\"logprobs\": false"), "names the model's logprobs setting: %s", err.msg);
    cr_assert(strstr(err.msg, "--no-loglik"), "%s", err.msg);
    no_key_in(err.msg);
    for (int i = 0; i < 8; i++) {
        cr_assert_not_null(out[i].error, "request %d has no answer and says so", i);
        cb_response_clear(&out[i]);
    }
    b->close(b);
}

Test(remote, rejected_echo_stops_on_the_first_loglik_request) {
    check_loglik_rejected(S_REJECT_ECHO, "HTTP 400");
    cr_assert_eq(cb_httpd_count_path(srv, "/v1/completions"), 1);
}

Test(remote, chat_only_server_stops_on_the_first_loglik_request) { check_loglik_rejected(S_NO_COMPLETIONS, "HTTP 404"); }

Test(remote, probe_then_the_rest_once_loglik_works) {
    cb_backend *b = open_default();
    g_scn = S_LOGPROBS;
    cb_request r[4];
    make_chat(&r[0], 2);
    r[0].prompt = "q2"; /* /completions too, so the server's word tokens answer it */
    for (int i = 1; i < 4; i++)
        r[i] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .id = (uint64_t)i, .prompt = "The cat", .continuation = " sat"};
    r[3].cont_prefix = " sat";
    r[3].continuation = " down";
    cb_response out[4];
    cb_err err;
    cr_assert_eq(b->submit(b, r, out, 4, &err), 0, "%s", err.msg);
    /* the probe (request 1) went first and alone */
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    cr_assert(strstr(rq.body, "\"prompt\":\"The cat sat\""), "%s", rq.body);
    cb_httpd_request_free(&rq);
    cr_assert_eq(cb_httpd_count(srv), 4);
    for (int i = 1; i < 4; i++) cr_assert_null(out[i].error, "%d: %s", i, out[i].error);
    /* cont_prefix " sat" is context: only " down" is scored (logprob -0.3) */
    cr_assert_str_eq(out[3].rendered_prompt, "The cat sat down");
    cr_assert_eq(out[3].n_scored, 1);
    cr_assert_float_eq(out[3].logprob_sum, -0.3, 1e-9);
    for (int i = 0; i < 4; i++) cb_response_clear(&out[i]);
    /* a later batch needs no probe: everything goes out together */
    cr_assert_eq(b->submit(b, r + 1, out, 3, &err), 0, "%s", err.msg);
    for (int i = 0; i < 3; i++) cb_response_clear(&out[i]);
    b->close(b);
}

/* Credentials written in the base URL reach the server (basic auth) but no
 * message, describe() or stored prompt. */
Test(remote, url_credentials_are_redacted) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    char url[256];
    snprintf(url, sizeof url, "http://alice:s3cr3t-pw@127.0.0.1:%d/v1", cb_httpd_port(srv));
    o.base_url = url;
    o.model = "m";
    o.max_retries = 0;
    cb_backend *b = NULL;
    cb_err err;
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), 0, "%s", err.msg);
    cb_backend_info info;
    b->describe(b, &info);
    char want[128];
    snprintf(want, sizeof want, "http://[redacted]@127.0.0.1:%d/v1", cb_httpd_port(srv));
    cr_assert_str_eq(info.base_url, want);
    cr_assert_null(memmem(&info, sizeof info, "s3cr3t", 6));
    /* the server got basic auth; a run-stopping 404 quotes the URL without it */
    g_scn = S_404;
    cb_request r;
    make_chat(&r, 4);
    cb_response out;
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), CB_EUSAGE);
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    char v[256];
    cr_assert_not_null(cb_httpd_header(&rq, "Authorization", v, sizeof v));
    cr_assert(strncmp(v, "Basic ", 6) == 0, "%s", v);
    cb_httpd_request_free(&rq);
    cr_assert(strstr(err.msg, "[redacted]@127.0.0.1"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "s3cr3t"), "%s", err.msg);
    cr_assert_null(strstr(out.error, "alice"), "%s", out.error);
    cb_response_clear(&out);
    b->close(b);
    /* a bad scheme is refused without echoing the password */
    o.base_url = "ftp://bob:hunter2@host/v1";
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), CB_EUSAGE);
    cr_assert_null(strstr(err.msg, "hunter2"), "%s", err.msg);
}

/* completions mode with a named template renders it with the local backend's
 * renderer, without BOS text (the server adds BOS), and sends its stop strings. */
Test(remote, completions_mode_with_a_named_template) {
    cb_remote_opts o;
    cb_remote_opts_init(&o);
    o.mode = CB_REMOTE_COMPLETIONS;
    o.chat_template = "chatml";
    cb_backend *b = open_backend(&o, "/v1");
    cb_backend_info info;
    b->describe(b, &info);
    cr_assert_str_eq(info.chat_template, "chatml");
    g_scn = S_ECHO;
    cb_request r;
    make_chat(&r, 6);
    cb_response out;
    cb_err err;
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.rendered_prompt,
                     "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nq6<|im_end|>\n<|im_start|>assistant\n");
    cb_httpd_request rq;
    cr_assert_eq(cb_httpd_get(srv, 0, &rq), 0);
    cr_assert(strstr(rq.body, "\"stop\":[\"<|im_end|>\",\"<|im_start|>\"]"), "%s", rq.body);
    cb_httpd_request_free(&rq);
    cb_response_clear(&out);
    b->close(b);

    o.chat_template = "jinja-magic";
    cr_assert_eq(cb_backend_remote_open(&o, &b, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "chat_template") && strstr(err.msg, "jinja-magic"), "%s", err.msg);
}

/* text_offset (code points) -> byte spans of the scored tokens in the
 * continuation, with two-byte characters on both sides of the boundary. */
Test(backend_remote, loglik_token_spans_from_text_offset) {
    /* prompt "h\xc3\xa9llo w\xc3\xb6rld": context "h\xc3\xa9llo" (5 code points), continuation " w\xc3\xb6rld" */
    const char *prompt = "h\xc3\xa9llo w\xc3\xb6rld";
    const char *body = "{\"choices\":[{\"logprobs\":{\"tokens\":[\"h\xc3\xa9\",\"llo\",\" w\xc3\xb6\",\"rld\"],"
                       "\"token_logprobs\":[null,-1.5,-2.25,-0.5],\"text_offset\":[0,2,5,8]}}]}";
    cb_response out;
    memset(&out, 0, sizeof out);
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_remote_parse_reply(CB_REMOTE_REPLY_LOGLIK, body, strlen(body), "reply from X", 5, 11, prompt, &out,
                                       &err),
                 0, "%s", err.msg);
    cr_assert_eq(out.n_scored, 2);
    cr_assert_not_null(out.token_spans);
    int64_t want[] = {0, 4, 4, 7}; /* " w\xc3\xb6" is 4 bytes, "rld" 3 */
    for (int i = 0; i < 4; i++) cr_assert_eq(out.token_spans[i], want[i], "span value %d: %lld", i, (long long)out.token_spans[i]);
    cr_assert_eq(out.token_logprobs[0], -2.25);
    cr_assert_eq(out.logprob_sum, -2.75);
    cb_response_clear(&out);
    /* without spans_of (no per-token request) the spans stay NULL */
    memset(&out, 0, sizeof out);
    cr_assert_eq(cb_remote_parse_reply(CB_REMOTE_REPLY_LOGLIK, body, strlen(body), "reply from X", 5, 11, NULL, &out,
                                       &err),
                 0, "%s", err.msg);
    cr_assert_null(out.token_spans);
    cb_response_clear(&out);
    /* a token that straddles the boundary is clamped to the continuation's start */
    const char *body2 = "{\"choices\":[{\"logprobs\":{\"token_logprobs\":[null,-1,-2],\"text_offset\":[0,4,8]}}]}";
    memset(&out, 0, sizeof out);
    cr_assert_eq(cb_remote_parse_reply(CB_REMOTE_REPLY_LOGLIK, body2, strlen(body2), "reply from X", 5, 11, prompt,
                                       &out, &err),
                 0, "%s", err.msg);
    cr_assert_eq(out.n_scored, 2);
    cr_assert_eq(out.token_spans[0], 0);
    cr_assert_eq(out.token_spans[1], 4);
    cr_assert_eq(out.token_spans[2], 4);
    cr_assert_eq(out.token_spans[3], 7);
    cb_response_clear(&out);
}
