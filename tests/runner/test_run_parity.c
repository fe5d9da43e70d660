/* tests/runner/test_run_parity.c — one prompt, whatever the backend (issue 7,
 * point 4). The smoke suite runs twice through the real binary on the real
 * stories260K model: once on the local engine, once through the OpenAI backend
 * in `completions` mode against a loopback server that this test starts and
 * that answers /v1/completions with the SAME engine on the same model:
 *   - generation: greedy (or seeded) decoding honouring max_tokens and stop;
 *   - echo + logprobs (log-likelihood requests): every prompt token's
 *     log-prob, its top alternative and its text offset in code points, the way
 *     vLLM answers, so the candidate metrics are computed remotely too.
 * The two SQLite files must then hold the same samples: prompt, response,
 * extracted answer, score, flags, metrics (log-likelihood ones included, bit
 * for bit), every response the grader saw, token counts. The only difference
 * allowed is designed: the edit distance is in tokens where the backend has
 * the model's tokenizer (local) and in characters where it does not.
 * A second test sends log-likelihood requests with a cont_prefix (context
 * after the assistant prefix, never scored) straight to both backends and
 * compares every scored token.
 * Skipped, saying why, without CAPBENCH_BIN or the model file. */
#include "engine/engine.h"
#include "engine/tokenizer.h"
#include "results/store.h"
#include "runner/backend_local.h"
#include "runner/backend_remote.h"
#include "runner/commands.h"
#include "runner/prompt.h"
#include "tests/util/httpd.h"
#include "tests/util/cbtest.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the engine-backed OpenAI-compatible server ------------------------------ */

typedef struct {
    cb_engine *e;
    int n_generate, n_echo, n_other;
} server;

static long count_cp(const char *s, size_t n) {
    long c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* A double as JSON that reads back to the same bits (cJSON_CreateNumber may
 * print 15 digits that only compare equal within an epsilon; a real server
 * such as vLLM prints the shortest exact form). */
static cJSON *exact_number(double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static void reply_json(cb_httpd_reply *rep, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cb_httpd_reply_body(rep, 200, "application/json", "%s", s ? s : "{}");
    free(s);
    cJSON_Delete(o);
}

static void reply_error(cb_httpd_reply *rep, int status, const char *msg) {
    cb_httpd_reply_body(rep, status, "application/json", "{\"error\":{\"message\":\"%s\"}}", msg);
}

static double num(const cJSON *o, const char *k, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void serve_generate(server *S, const cJSON *body, const char *prompt, cb_httpd_reply *rep) {
    const char *stops[16];
    int n_stop = 0;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "stop"), *it;
    cJSON_ArrayForEach(it, st) {
        if (cJSON_IsString(it) && n_stop < 16) stops[n_stop++] = it->valuestring;
    }
    cb_engine_req q = {.kind = CB_ENGINE_GENERATE,
                       .text = prompt,
                       .add_bos = -1,
                       .parse_special = 0,
                       .max_tokens = (int)num(body, "max_tokens", 0),
                       .stop = stops,
                       .n_stop = n_stop};
    q.sampling.temperature = (float)num(body, "temperature", 0);
    q.sampling.top_k = (int)num(body, "top_k", 0);
    q.sampling.top_p = (float)num(body, "top_p", 1);
    q.sampling.seed = (uint64_t)num(body, "seed", 0);
    cb_engine_result res = {0};
    cb_err err;
    cb_err_clear(&err);
    if (cb_engine_run(S->e, &q, &res, 1, &err) || res.status) {
        reply_error(rep, 500, "engine failed");
        cb_engine_result_clear(&res);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "text_completion");
    cJSON *c0 = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c0);
    cJSON_AddStringToObject(c0, "text", res.text);
    cJSON_AddStringToObject(c0, "finish_reason", res.finish == CB_FINISH_LENGTH ? "length" : "stop");
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", res.n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", res.n_tokens);
    cb_engine_result_clear(&res);
    reply_json(rep, o);
}

/* echo + logprobs: token k > 0 gets log p(token k | tokens < k) from the engine
 * (a LOGLIK request whose context is the first token and whose continuation is
 * the rest), its top alternative from the raw logits row, and its offset in
 * code points of the decoded prompt. */
static void serve_echo(server *S, const char *prompt, cb_httpd_reply *rep) {
    const cb_tokenizer *tok = cb_engine_tokenizer(S->e);
    int32_t *ids = NULL;
    int n = 0;
    cb_err err;
    cb_err_clear(&err);
    if (cb_tokenizer_encode_alloc(tok, prompt, strlen(prompt), cb_tokenizer_add_bos(tok), 0, &ids, &n, &err) ||
        n < 2) {
        free(ids);
        reply_error(rep, 400, "prompt too short to score");
        return;
    }
    cb_engine_req q = {.kind = CB_ENGINE_LOGLIK, .ids = ids, .n_ids = 1, .cont_ids = ids + 1, .n_cont_ids = n - 1,
                       .want_logits = 1};
    cb_engine_result res = {0};
    if (cb_engine_run(S->e, &q, &res, 1, &err) || res.status || res.n_scored != n - 1 || res.n_logits != n - 1) {
        free(ids);
        cb_engine_result_clear(&res);
        reply_error(rep, 500, "engine failed");
        return;
    }
    int64_t V = cb_engine_n_vocab(S->e);
    int b = ids[0] == cb_tokenizer_bos(tok) ? 1 : 0; /* BOS prints nothing and has offset 0 */
    size_t cap = strlen(prompt) * 4 + 64;
    char *dec = malloc(cap), piece[256];
    cJSON *o = cJSON_CreateObject();
    cJSON *c0 = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c0);
    cJSON_AddStringToObject(c0, "text", prompt);
    cJSON_AddStringToObject(c0, "finish_reason", "length");
    cJSON *lp = cJSON_AddObjectToObject(c0, "logprobs");
    cJSON *toks = cJSON_AddArrayToObject(lp, "tokens");
    cJSON *tlp = cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(lp, "top_logprobs");
    cJSON *off = cJSON_AddArrayToObject(lp, "text_offset");
    for (int k = 0; k < n; k++) {
        cb_tokenizer_piece(tok, ids[k], piece, sizeof piece);
        cJSON_AddItemToArray(toks, cJSON_CreateString(k < b ? "" : piece));
        long cp = 0;
        if (k > b) {
            int64_t len = cb_tokenizer_decode(tok, ids + b, (size_t)(k - b), dec, cap);
            cp = count_cp(dec, (size_t)(len < (int64_t)cap ? len : (int64_t)cap - 1));
        }
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)cp));
        if (k == 0) {
            cJSON_AddItemToArray(tlp, cJSON_CreateNull());
            cJSON_AddItemToArray(top, cJSON_CreateNull());
            continue;
        }
        double v = res.token_logprobs[k - 1];
        cJSON_AddItemToArray(tlp, exact_number(v));
        const float *row = res.logits + (size_t)(k - 1) * (size_t)V;
        int64_t best = 0;
        for (int64_t j = 1; j < V; j++)
            if (row[j] > row[best]) best = j;
        double m = row[best], sum = 0;
        for (int64_t j = 0; j < V; j++) sum += exp((double)row[j] - m);
        double best_lp = best == ids[k] ? v : -log(sum);
        cb_tokenizer_piece(tok, (int32_t)best, piece, sizeof piece);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddItemToObject(t, piece, exact_number(best_lp));
        cJSON_AddItemToArray(top, t);
    }
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", n);
    cJSON_AddNumberToObject(u, "completion_tokens", 0);
    free(dec);
    free(ids);
    cb_engine_result_clear(&res);
    reply_json(rep, o);
}

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    server *S = user;
    cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    if (strcmp(req->path, "/v1/completions") != 0 || !cJSON_IsString(prompt)) {
        S->n_other++;
        reply_error(rep, 404, "this test server only answers /v1/completions with a string prompt");
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "echo"))) {
        S->n_echo++;
        serve_echo(S, prompt->valuestring, rep);
    } else {
        S->n_generate++;
        serve_generate(S, body, prompt->valuestring, rep);
    }
    cJSON_Delete(body);
}

/* Skips without the model; else opens the server's engine (the model and
 * context the smoke suite gives the local run) and starts the loopback server.
 * model gets the model path. */
static cb_httpd *start_server(server *S, char *model, size_t cap) {
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    snprintf(model, cap, "%s/stories260K.gguf", md ? md : "");
    if (!md || access(model, R_OK) != 0)
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    memset(S, 0, sizeof *S);
    cb_err err;
    cb_err_clear(&err);
    cb_engine_opts eo = {.model_path = model, .n_threads = 1, .n_ctx = 512, .n_seq = 1};
    cr_assert_eq(cb_engine_open(&eo, &S->e, &err), 0, "%s", err.msg);
    cb_httpd *h = NULL;
    cr_assert_eq(cb_httpd_start(handler, S, &h), 0);
    return h;
}

/* ---- the two runs ------------------------------------------------------------ */

typedef struct {
    char **rows;
    int n, cap;
    int n_loglik_metrics; /* samples whose metrics came from log-likelihoods */
    int n_token_ed, n_char_ed; /* samples with an edit distance in tokens / characters */
} rowlist;

/* The metrics without the edit distance, which is in tokens when the backend
 * has a tokenizer (local) and in characters when it does not (remote): that is
 * a property of the backend, not of the prompt or the answer. *which gets the
 * kind found ("token", "char" or ""). */
static char *metrics_sans_edit_distance(const char *json, const char **which) {
    *which = "";
    cJSON *m = json ? cJSON_Parse(json) : NULL;
    if (!m) return strdup(json ? json : "");
    static const char *const kinds[] = {"token", "char"};
    for (int k = 0; k < 2; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s_edit_distance", kinds[k]);
        if (cJSON_GetObjectItemCaseSensitive(m, key)) *which = kinds[k];
        cJSON_DeleteItemFromObjectCaseSensitive(m, key);
        snprintf(key, sizeof key, "%s_edit_distance_norm", kinds[k]);
        cJSON_DeleteItemFromObjectCaseSensitive(m, key);
    }
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return s;
}

static char *fmt_row(const cb_sample *s, const char **edit_kind) {
    char *r = NULL;
    size_t len = 0;
    char *metrics = metrics_sans_edit_distance(s->metrics_json, edit_kind);
    FILE *f = open_memstream(&r, &len);
    fprintf(f, "%s\n prompt=[%s]\n response=[%s]\n extracted=[%s]\n score=%.17g unparsed=%d\n flags=%s\n metrics=%s\n",
            s->item_id, s->prompt ? s->prompt : "(null)", s->response ? s->response : "(null)",
            s->extracted ? s->extracted : "(null)", s->score, s->unparsed, s->flags_json ? s->flags_json : "",
            metrics);
    free(metrics);
    fprintf(f, " responses=%s\n tokens=%d+%d error=%s\n", s->responses_json ? s->responses_json : "",
            s->prompt_tokens, s->completion_tokens, s->error ? s->error : "");
    fclose(f);
    return r;
}

static int collect(void *ud, const cb_sample *s, cb_err *err) {
    (void)err;
    rowlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 128;
        l->rows = realloc(l->rows, (size_t)l->cap * sizeof *l->rows);
    }
    const char *kind = "";
    l->rows[l->n++] = fmt_row(s, &kind);
    l->n_token_ed += strcmp(kind, "token") == 0;
    l->n_char_ed += strcmp(kind, "char") == 0;
    if (s->responses_json && strstr(s->responses_json, "logprob")) l->n_loglik_metrics++;
    return 0;
}

static rowlist read_run(const char *db) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err), 0, "%s", err.msg);
    rowlist l = {0};
    cr_assert_eq(cb_store_foreach_sample(st, 1, collect, &l, &err), 0, "%s", err.msg);
    cb_store_close(st);
    return l;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The smoke suite with its "model" replaced by the loopback server. */
static void write_remote_suite(const char *src, const char *dst, const char *url) {
    FILE *f = fopen(src, "rb");
    cr_assert_not_null(f, "cannot open %s", src);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *root = cJSON_Parse(buf);
    cr_assert_not_null(root, "%s is not JSON", src);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "backend", "openai");
    char base[256];
    snprintf(base, sizeof base, "%s/v1", url);
    cJSON_AddStringToObject(m, "base_url", base);
    cJSON_AddStringToObject(m, "model", "stories260K");
    cJSON_AddStringToObject(m, "mode", "completions");
    cJSON_AddTrueToObject(m, "logprobs");
    cJSON_AddNumberToObject(m, "concurrency", 4);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "model", m);
    char *s = cJSON_Print(root);
    f = fopen(dst, "wb");
    cr_assert_not_null(f);
    fputs(s, f);
    fclose(f);
    free(s);
    cJSON_Delete(root);
}

Test(run_parity, smoke_local_and_loopback_remote_store_the_same_samples, .timeout = 600) {
    const char *bin = getenv("CAPBENCH_BIN"), *src = getenv("CAPBENCH_SOURCE_DIR");
    if (!bin || !src) cr_skip_test("CAPBENCH_BIN / CAPBENCH_SOURCE_DIR not set (run under CTest)");
    server S;
    char model[1024];
    cb_httpd *h = start_server(&S, model, sizeof model);

    char dir[] = "/tmp/cbparityXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char suite[256], db_local[256], db_remote[256], smoke[1024];
    snprintf(smoke, sizeof smoke, "%s/configs/smoke.json", src);
    snprintf(suite, sizeof suite, "%s/remote.json", dir);
    snprintf(db_local, sizeof db_local, "%s/local.db", dir);
    snprintf(db_remote, sizeof db_remote, "%s/remote.db", dir);
    write_remote_suite(smoke, suite, cb_httpd_url(h));

    /* Under sanitizers (scripts/setup test sets CAPBENCH_SANITIZED) the -O0 engine
     * answers the server's ~500 requests one by one too slowly for the time
     * limit: both runs then take the same first 2 items of every cell. */
    const char *lim = getenv("CAPBENCH_SANITIZED") ? "--limit 2" : "";
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --quiet --threads 1 %s 2>'%s/local.err'", bin, smoke,
                            db_local, lim, dir),
                 0, "local run failed (see %s/local.err)", dir);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --quiet %s 2>'%s/remote.err'", bin, suite, db_remote,
                            lim, dir),
                 0, "remote run failed (see %s/remote.err)", dir);
    cb_httpd_stop(h);
    cb_engine_free(S.e);
    cr_assert_eq(S.n_other, 0, "every request went to /v1/completions");
    cr_assert_gt(S.n_generate, 0);
    cr_assert_gt(S.n_echo, 0, "the candidate log-likelihoods were asked remotely too");

    rowlist a = read_run(db_local), b = read_run(db_remote);
    cr_assert_gt(a.n, 0);
    cr_assert_eq(a.n, b.n, "local %d samples, remote %d", a.n, b.n);
    cr_assert_gt(a.n_loglik_metrics, 0, "the local run scored candidates");
    cr_assert_eq(a.n_loglik_metrics, b.n_loglik_metrics);
    /* the one designed difference: edit distance in tokens needs the model's tokenizer */
    cr_assert_eq(a.n_token_ed + a.n_char_ed, b.n_token_ed + b.n_char_ed);
    cr_assert_eq(b.n_token_ed, 0, "the remote backend has no tokenizer");
    qsort(a.rows, (size_t)a.n, sizeof *a.rows, cmpstr);
    qsort(b.rows, (size_t)b.n, sizeof *b.rows, cmpstr);
    for (int i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.rows[i], b.rows[i], "sample %d differs:\nLOCAL  %s\nREMOTE %s", i, a.rows[i], b.rows[i]);
        free(a.rows[i]);
        free(b.rows[i]);
    }
    free(a.rows);
    free(b.rows);
    cbt_sh("rm -rf '%s'", dir);
}

/* ---- cont_prefix through both backends ----------------------------------------- */

static void check_same(const cb_response *l, const cb_response *r, int i) {
    cr_assert_null(l->error, "local %d: %s", i, l->error);
    cr_assert_null(r->error, "remote %d: %s", i, r->error);
    cr_assert_str_eq(l->rendered_prompt, r->rendered_prompt, "request %d", i);
    cr_assert_eq(l->n_scored, r->n_scored, "request %d: %d vs %d tokens scored", i, l->n_scored, r->n_scored);
    cr_assert(memcmp(&l->logprob_sum, &r->logprob_sum, sizeof(double)) == 0, "request %d: %.17g vs %.17g", i,
              l->logprob_sum, r->logprob_sum);
    for (int k = 0; k < l->n_scored; k++)
        cr_assert(l->token_logprobs[k] == r->token_logprobs[k], "request %d token %d", i, k);
    cr_assert_eq(l->is_greedy, r->is_greedy, "request %d", i);
    if (l->text || r->text) cr_assert_str_eq(l->text, r->text, "request %d", i);
}

Test(run_parity, cont_prefix_is_context_in_both_backends, .timeout = 300) {
    cb_http_global_init();
    server S;
    char model[1024];
    cb_httpd *h = start_server(&S, model, sizeof model);
    cb_err err;
    cb_err_clear(&err);

    cb_local_opts lo = {.model_path = model, .device = "cpu", .threads = 1, .n_ctx = 512, .chat_template = "auto"};
    cb_backend *local = NULL, *remote = NULL;
    cr_assert_eq(cb_backend_local_open(&lo, &local, &err), 0, "%s", err.msg);
    cb_remote_opts ro;
    cb_remote_opts_init(&ro);
    ro.base_url = cb_httpd_url(h);
    ro.model = "stories260K";
    ro.mode = CB_REMOTE_COMPLETIONS;
    ro.concurrency = 2;
    cr_assert_eq(cb_backend_remote_open(&ro, &remote, &err), 0, "%s", err.msg);
    cb_backend_info li, ri;
    local->describe(local, &li);
    remote->describe(remote, &ri);
    cr_assert_str_eq(li.chat_template, "none", "stories260K has no chat template");
    cr_assert_str_eq(ri.chat_template, "none");

    static const cb_message q1[] = {{CB_ROLE_USER, "How many r's are in the word \"carrot\"?"}};
    static const cb_message q2[] = {{CB_ROLE_SYSTEM, "Count carefully."},
                                    {CB_ROLE_USER, "Lily had 2 cats."},
                                    {CB_ROLE_ASSISTANT, "Yes."},
                                    {CB_ROLE_USER, "How many cats?"}};
    cb_request rq[6];
    memset(rq, 0, sizeof rq);
    rq[0] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .messages = q1, .n_messages = 1, .cont_prefix = "Answer:",
                         .continuation = " 2"};
    rq[1] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .messages = q1, .n_messages = 1, .continuation = "Answer: 2"};
    rq[2] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .messages = q2, .n_messages = 4, .cont_prefix = "Answer:",
                         .continuation = " two cats"};
    rq[3] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .prompt = "Once upon a time", .cont_prefix = ", there",
                         .continuation = " was a little girl"};
    rq[5] = (cb_request){.kind = CB_REQ_GENERATE, .messages = q2, .n_messages = 4, .max_tokens = 12, .top_p = 1};
    /* rq[4]: request 0 with its cont_prefix written into a raw prompt instead */
    char *ctx = NULL;
    cr_assert_eq(cb_prompt_context(0, &rq[1], NULL, &ctx, &err), 0, "%s", err.msg);
    size_t lc = strlen(ctx);
    char *raw = malloc(lc + 8);
    memcpy(raw, ctx, lc);
    memcpy(raw + lc, "Answer:", 8);
    rq[4] = (cb_request){.kind = CB_REQ_LOGLIKELIHOOD, .prompt = raw, .continuation = " 2"};
    for (int i = 0; i < 6; i++) rq[i].id = (uint64_t)i;

    cb_response lout[6], rout[6];
    cr_assert_eq(local->submit(local, rq, lout, 6, &err), 0, "%s", err.msg);
    cr_assert_eq(remote->submit(remote, rq, rout, 6, &err), 0, "%s", err.msg);
    for (int i = 0; i < 6; i++) check_same(&lout[i], &rout[i], i);

    /* cont_prefix is context: only the continuation's tokens are scored */
    cr_assert_str_eq(lout[0].rendered_prompt, "How many r's are in the word \"carrot\"?\nAnswer: 2");
    cr_assert_str_eq(lout[0].rendered_prompt, lout[1].rendered_prompt, "same text, split differently");
    cr_assert_lt(lout[0].n_scored, lout[1].n_scored, "\"Answer:\" is scored only when it is the continuation");
    cr_assert_eq(lout[0].n_scored, lout[4].n_scored);
    cr_assert(lout[0].logprob_sum == lout[4].logprob_sum, "cont_prefix scores exactly like the same text as context");
    double tail = 0;
    for (int k = lout[1].n_scored - lout[0].n_scored; k < lout[1].n_scored; k++) tail += lout[1].token_logprobs[k];
    cr_assert_float_eq(tail, lout[0].logprob_sum, 1e-9, "the continuation's tokens score the same either way");
    cr_assert_str_eq(lout[2].rendered_prompt, "Count carefully.\n\nLily had 2 cats.\nYes.\n\nHow many cats?\nAnswer: two cats");
    cr_assert_str_eq(lout[3].rendered_prompt, "Once upon a time, there was a little girl");
    cr_assert_gt(lout[5].latency_s, 0);

    for (int i = 0; i < 6; i++) {
        cb_response_clear(&lout[i]);
        cb_response_clear(&rout[i]);
    }
    free(ctx);
    free(raw);
    local->close(local);
    remote->close(remote);
    cb_httpd_stop(h);
    cb_engine_free(S.e);
}

/* ---- knowledge bits through the API (issue 9) ------------------------------------ */

/* The knowledge-capacity bits probe, run on the local engine and through the
 * loopback server in completions mode with echo + logprobs: the per-token
 * log-probs and their text offsets from the server give the same token spans,
 * so every stored sample (bits metrics, responses with their per-token data)
 * and the report's knowledge bits agree bit for bit. */
Test(run_parity, knowledge_bits_local_and_loopback_remote_agree, .timeout = 600) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    server S;
    char model[1024];
    cb_httpd *h = start_server(&S, model, sizeof model);
    char dir[] = "/tmp/cbkbitsXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    static const char *const task =
        "\"tasks\":[{\"family\":\"knowledge-capacity\",\"subtasks\":[\"bits\"],\"n\":4,\"params\":{\"persons\":4}}]}";
    char local[256], remote[256], db_l[256], db_r[256];
    snprintf(local, sizeof local, "%s/local.json", dir);
    snprintf(remote, sizeof remote, "%s/remote.json", dir);
    snprintf(db_l, sizeof db_l, "%s/local.db", dir);
    snprintf(db_r, sizeof db_r, "%s/remote.db", dir);
    FILE *f = fopen(local, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\":\"kbits\",\"seed\":7,\"model\":{\"backend\":\"local\",\"path\":\"%s\",\"n_ctx\":512},%s", model,
            task);
    fclose(f);
    f = fopen(remote, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"name\":\"kbits\",\"seed\":7,\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":"
            "\"stories260K\",\"mode\":\"completions\",\"logprobs\":true,\"concurrency\":4},%s",
            cb_httpd_url(h), task);
    fclose(f);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --quiet --threads 1 2>'%s/l.err'", bin, local, db_l, dir), 0,
                 "local run failed (see %s/l.err)", dir);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --quiet 2>'%s/r.err'", bin, remote, db_r, dir), 0,
                 "remote run failed (see %s/r.err)", dir);
    cb_httpd_stop(h);
    cb_engine_free(S.e);
    cr_assert_gt(S.n_echo, 0, "the bits were scored through echo + logprobs");

    rowlist a = read_run(db_l), b = read_run(db_r);
    cr_assert_eq(a.n, 4);
    cr_assert_eq(b.n, 4);
    qsort(a.rows, (size_t)a.n, sizeof *a.rows, cmpstr);
    qsort(b.rows, (size_t)b.n, sizeof *b.rows, cmpstr);
    for (int i = 0; i < a.n; i++) {
        cr_assert(strstr(a.rows[i], "\"bits_total\":") != NULL, "local sample %d has no bits:\n%s", i, a.rows[i]);
        cr_assert(strstr(b.rows[i], "\"bits_total\":") != NULL, "remote sample %d has no bits:\n%s", i, b.rows[i]);
        cr_assert_str_eq(a.rows[i], b.rows[i], "sample %d differs:\nLOCAL  %s\nREMOTE %s", i, a.rows[i], b.rows[i]);
        free(a.rows[i]);
        free(b.rows[i]);
    }
    free(a.rows);
    free(b.rows);
    /* the report's knowledge bits: the same number, measured for all 4 persons both ways */
    char ra[256], rb[256];
    snprintf(ra, sizeof ra, "%s/a.txt", dir);
    snprintf(rb, sizeof rb, "%s/b.txt", dir);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json | jq -c '.families.knowledge[0] | [.probed, .bits]' > '%s'",
                            bin, db_l, ra),
                 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json | jq -c '.families.knowledge[0] | [.probed, .bits]' > '%s'",
                            bin, db_r, rb),
                 0);
    cr_assert_eq(cbt_sh("grep -q '^\\[4,' '%s' && cmp -s '%s' '%s'", ra, ra, rb), 0, "report bits differ");
    cbt_sh("cat '%s' >&2", ra);
    cbt_sh("rm -rf '%s'", dir);
}
