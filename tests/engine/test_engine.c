/* tests/engine/test_engine.c — engine/engine.c on a generated tiny random
 * model (engine/genmodel.h, synthesized vocab, so no shared files needed):
 * log-likelihood vs rolling consistency, is_greedy, decode vs prefill logits,
 * batch and thread-count invariance (bitwise), shared-context and shared
 * few-shot-prefix requests (bit-identical to alone; tokens saved),
 * seeds and stop strings, and request/engine errors.
 */
#include "engine/cuda_module.h"
#include "engine/engine.h"
#include "engine/genmodel.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char model_path[256];

static void make_model(void) {
    snprintf(model_path, sizeof model_path, "/tmp/cb_test_engine_%ld.gguf", (long)getpid());
    cb_genmodel_opts o = {.shape = "tiny", .type = "f32", .seed = 11, .synth_vocab = 1, .out_path = model_path,
                          .n_threads = 1};
    cb_err e;
    cb_err_clear(&e);
    cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
}

static void drop_model(void) { unlink(model_path); }

TestSuite(engine, .init = make_model, .fini = drop_model);

static cb_engine *open_engine_opt(int threads, int n_seq, int n_batch, int no_share) {
    cb_engine_opts o = {.model_path = model_path, .n_threads = threads, .n_ctx = 128, .n_seq = n_seq,
                        .n_batch = n_batch, .no_prefix_sharing = no_share};
    cb_engine *e = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_engine_open(&o, &e, &err), 0, "%s", err.msg);
    return e;
}

static cb_engine *open_engine(int threads, int n_seq, int n_batch) { return open_engine_opt(threads, n_seq, n_batch, 0); }

static void run(cb_engine *e, const cb_engine_req *reqs, cb_engine_result *res, int n) {
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_engine_run(e, reqs, res, n, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) cr_assert_eq(res[i].status, 0, "request %d: %s", i, res[i].error);
}

static void fill_ids(int32_t *ids, int n, int salt) {
    for (int i = 0; i < n; i++) ids[i] = 3 + (int32_t)((i * 7919 + salt * 104729 + 13) % 31000);
}

static const char TEXT[] = "the little cat sat on the warm mat and looked at the birds in the tall green tree";

Test(engine, loglik_equals_rolling) {
    cb_engine *e = open_engine(2, 4, 0);
    cb_engine_req reqs[3] = {
        {.kind = CB_ENGINE_LOGLIK, .text = "", .add_bos = -1, .cont_text = TEXT},
        {.kind = CB_ENGINE_ROLLING, .text = TEXT, .rolling_mode = CB_ROLLING_WINDOWS},
        {.kind = CB_ENGINE_ROLLING, .text = TEXT, .rolling_mode = CB_ROLLING_WINDOWS, .window = 8, .stride = 3},
    };
    cb_engine_result r[3];
    run(e, reqs, r, 3);
    cr_assert_gt(r[0].n_scored, 10);
    cr_assert_eq(r[0].n_scored, r[1].n_scored);
    cr_assert_eq(r[0].n_scored, r[2].n_scored);
    for (int i = 0; i < r[0].n_scored; i++) {
        cr_expect_eq(r[0].scored_ids[i], r[1].scored_ids[i]);
        cr_expect_eq(r[0].scored_ids[i], r[2].scored_ids[i]);
        cr_expect_eq(r[0].token_logprobs[i], r[1].token_logprobs[i], "token %d: %.17g vs %.17g", i,
                     r[0].token_logprobs[i], r[1].token_logprobs[i]);
        cr_expect_lt(r[0].token_logprobs[i], 0.0);
        /* the first window of the windowed run has the same context */
        if (i < 8) cr_expect_eq(r[0].token_logprobs[i], r[2].token_logprobs[i]);
    }
    cr_expect_eq(r[0].logprob, r[1].logprob);
    cr_expect_neq(r[0].logprob, r[2].logprob); /* shorter contexts later on */
    for (int i = 0; i < 3; i++) cb_engine_result_clear(&r[i]);
    cb_engine_free(e);
}

Test(engine, is_greedy_and_decode_equals_prefill) {
    cb_engine *e = open_engine(2, 2, 0);
    int32_t prompt[6];
    fill_ids(prompt, 6, 1);
    cb_engine_req g = {.kind = CB_ENGINE_GENERATE, .ids = prompt, .n_ids = 6, .max_tokens = 10, .ignore_eos = 1,
                       .want_logits = 1};
    cb_engine_result gr;
    run(e, &g, &gr, 1);
    cr_assert_eq(gr.n_tokens, 10);
    cr_assert_eq(gr.finish, CB_FINISH_LENGTH);
    cr_assert_eq(gr.n_logits, 10);
    int64_t V = cb_engine_n_vocab(e);

    cb_engine_req s = {.kind = CB_ENGINE_LOGLIK, .ids = prompt, .n_ids = 6, .cont_ids = gr.tokens, .n_cont_ids = 10,
                       .want_logits = 1};
    cb_engine_result sr;
    run(e, &s, &sr, 1);
    cr_expect_eq(sr.is_greedy, 1);
    cr_assert_eq(sr.n_logits, 10);
    /* decode-step logits (one token per step) equal the prefill's, bit for bit */
    cr_expect_eq(memcmp(sr.logits, gr.logits, (size_t)10 * (size_t)V * sizeof(float)), 0);

    int32_t changed[10];
    memcpy(changed, gr.tokens, sizeof changed);
    changed[4] = changed[4] == 5 ? 6 : 5;
    s.cont_ids = changed;
    s.want_logits = 0;
    cb_engine_result cr_;
    run(e, &s, &cr_, 1);
    cr_expect_eq(cr_.is_greedy, 0);
    for (int i = 0; i < 4; i++) cr_expect_eq(cr_.token_logprobs[i], sr.token_logprobs[i]);
    cr_expect_lt(cr_.logprob, sr.logprob);
    cb_engine_result_clear(&gr);
    cb_engine_result_clear(&sr);
    cb_engine_result_clear(&cr_);
    cb_engine_free(e);
}

/* Target: LOGLIK of 20 tokens after 5; neighbours of various kinds and lengths. */
static void run_target(int threads, int n_seq, int n_batch, int with_others, float *logits, double *lp) {
    cb_engine *e = open_engine(threads, n_seq, n_batch);
    int32_t ctx[5], cont[20], other[6][40];
    fill_ids(ctx, 5, 2);
    fill_ids(cont, 20, 3);
    cb_engine_req reqs[7];
    cb_engine_result res[7];
    int n = 0;
    if (with_others) {
        static const int lens[6] = {3, 17, 40, 9, 1, 25};
        for (int k = 0; k < 6; k++) {
            fill_ids(other[k], lens[k], 10 + k);
            if (k % 2 == 0)
                reqs[n++] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = other[k], .n_ids = lens[k],
                                            .max_tokens = 6 + k, .ignore_eos = 1,
                                            .sampling = {.temperature = 0.8f, .seed = (uint64_t)k}};
            else
                reqs[n++] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = other[k], .n_ids = 2,
                                            .cont_ids = other[k] + 2, .n_cont_ids = lens[k] - 2};
        }
    }
    int t = n == 0 ? 0 : 3; /* the target goes in the middle of the batch */
    if (n) {
        memmove(&reqs[t + 1], &reqs[t], (size_t)(n - t) * sizeof reqs[0]);
    }
    reqs[t] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 5, .cont_ids = cont, .n_cont_ids = 20,
                              .want_logits = 1};
    n++;
    run(e, reqs, res, n);
    int64_t V = cb_engine_n_vocab(e);
    cr_assert_eq(res[t].n_logits, 20);
    memcpy(logits, res[t].logits, (size_t)20 * (size_t)V * sizeof(float));
    memcpy(lp, res[t].token_logprobs, 20 * sizeof(double));
    for (int i = 0; i < n; i++) cb_engine_result_clear(&res[i]);
    cb_engine_free(e);
}

Test(engine, batch_and_thread_invariance) {
    size_t V = 32000, sz = 20 * V;
    float *base = malloc(sz * sizeof(float)), *other = malloc(sz * sizeof(float));
    double lb[20], lo[20];
    run_target(1, 8, 0, 0, base, lb);
    struct {
        int threads, n_seq, n_batch, others;
    } cfg[] = {{1, 8, 0, 1}, {2, 8, 0, 0}, {2, 8, 0, 1}, {3, 8, 0, 1}, {2, 3, 7, 1}, {3, 1, 5, 0}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        run_target(cfg[c].threads, cfg[c].n_seq, cfg[c].n_batch, cfg[c].others, other, lo);
        cr_expect_eq(memcmp(base, other, sz * sizeof(float)), 0,
                     "logits differ: threads %d, slots %d, batch %d, neighbours %d", cfg[c].threads, cfg[c].n_seq,
                     cfg[c].n_batch, cfg[c].others);
        cr_expect_eq(memcmp(lb, lo, sizeof lb), 0);
    }
    free(base);
    free(other);
}

Test(engine, shared_context_equals_separate) {
    int32_t ctx[12], conts[5][6];
    fill_ids(ctx, 12, 4);
    static const int clen[5] = {1, 1, 3, 5, 2};
    for (int k = 0; k < 5; k++) fill_ids(conts[k], clen[k], 20 + k);
    cb_engine_req reqs[7];
    for (int k = 0; k < 5; k++)
        reqs[k] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 12, .cont_ids = conts[k],
                                  .n_cont_ids = clen[k]};
    for (int k = 5; k < 7; k++) /* generations from the same prompt */
        reqs[k] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = ctx, .n_ids = 12, .max_tokens = 4,
                                  .ignore_eos = 1, .sampling = {.temperature = 1.0f, .seed = (uint64_t)k}};
    cb_engine_result alone[7], together[7];
    cb_engine *e = open_engine(2, 4, 0);
    for (int k = 0; k < 7; k++) run(e, &reqs[k], &alone[k], 1);
    cb_engine_stats s0, s1;
    cb_engine_get_stats(e, &s0);
    cb_engine_free(e);

    int slots[3] = {4, 2, 1};
    for (int v = 0; v < 3; v++) {
        e = open_engine(2, slots[v], 0);
        run(e, reqs, together, 7);
        cb_engine_get_stats(e, &s1);
        if (slots[v] >= 2) /* the context was fed once, not five+two times */
            cr_expect_lt(s1.n_tokens, s0.n_tokens - 4 * 12, "tokens fed together %lld, separately %lld",
                         (long long)s1.n_tokens, (long long)s0.n_tokens);
        for (int k = 0; k < 7; k++) {
            if (k < 5) {
                cr_assert_eq(together[k].n_scored, clen[k]);
                cr_expect_eq(memcmp(together[k].token_logprobs, alone[k].token_logprobs,
                                    (size_t)clen[k] * sizeof(double)),
                             0, "slots %d request %d", slots[v], k);
                cr_expect_eq(together[k].is_greedy, alone[k].is_greedy);
            } else {
                cr_assert_eq(together[k].n_tokens, 4);
                cr_expect_eq(memcmp(together[k].tokens, alone[k].tokens, 4 * sizeof(int32_t)), 0);
            }
            cb_engine_result_clear(&together[k]);
        }
        cb_engine_free(e);
    }
    for (int k = 0; k < 7; k++) cb_engine_result_clear(&alone[k]);
}

/* Three items behind one 40-token few-shot prefix, each with its own 6-token
 * question and four continuations (1 to 4 tokens), plus a generation from
 * the same prefix: scored together (shared prefix, several slot counts) and
 * with sharing turned off, every log-prob is bit-identical to the request run
 * alone, and sharing feeds fewer tokens. */
Test(engine, shared_fewshot_prefix_equals_separate) {
    enum { NI = 3, NC = 4, NP = 40, NQ = 6, NR = NI * NC + 1 };
    int32_t ctx[NI][NP + NQ], conts[NI][NC][4];
    for (int i = 0; i < NI; i++) {
        fill_ids(ctx[i], NP, 7); /* the common prefix */
        fill_ids(ctx[i] + NP, NQ, 100 + i);
        for (int c = 0; c < NC; c++) fill_ids(conts[i][c], c + 1, 200 + 10 * i + c);
    }
    cb_engine_req reqs[NR];
    for (int i = 0; i < NI; i++)
        for (int c = 0; c < NC; c++)
            reqs[i * NC + c] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx[i], .n_ids = NP + NQ,
                                               .cont_ids = conts[i][c], .n_cont_ids = c + 1};
    reqs[NR - 1] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = ctx[0], .n_ids = NP + 2, .max_tokens = 3,
                                   .ignore_eos = 1};
    cb_engine_result alone[NR], together[NR];
    cb_engine *e = open_engine(2, 4, 0);
    for (int k = 0; k < NR; k++) run(e, &reqs[k], &alone[k], 1);
    cb_engine_stats s_alone;
    cb_engine_get_stats(e, &s_alone);
    cb_engine_free(e);

    struct { int n_seq, no_share; } cfg[4] = {{8, 0}, {3, 0}, {1, 0}, {8, 1}};
    for (int v = 0; v < 4; v++) {
        e = open_engine_opt(2, cfg[v].n_seq, 0, cfg[v].no_share);
        run(e, reqs, together, NR);
        cb_engine_stats st;
        cb_engine_get_stats(e, &st);
        if (cfg[v].no_share)
            cr_expect_eq(st.n_tokens, s_alone.n_tokens, "unshared: %lld tokens fed, alone %lld", (long long)st.n_tokens,
                         (long long)s_alone.n_tokens);
        else if (cfg[v].n_seq > 1) /* the 40-token prefix is fed far fewer than 13 times */
            cr_expect_lt(st.n_tokens, s_alone.n_tokens - 8 * NP, "shared (%d slots): %lld tokens fed, alone %lld",
                         cfg[v].n_seq, (long long)st.n_tokens, (long long)s_alone.n_tokens);
        for (int k = 0; k < NR; k++) {
            if (k < NR - 1) {
                cr_assert_eq(together[k].n_scored, alone[k].n_scored);
                cr_expect_eq(memcmp(together[k].token_logprobs, alone[k].token_logprobs,
                                    (size_t)alone[k].n_scored * sizeof(double)),
                             0, "config %d request %d: log-probs differ", v, k);
                cr_expect_eq(together[k].is_greedy, alone[k].is_greedy);
            } else {
                cr_assert_eq(together[k].n_tokens, 3);
                cr_expect_eq(memcmp(together[k].tokens, alone[k].tokens, 3 * sizeof(int32_t)), 0);
            }
            cb_engine_result_clear(&together[k]);
        }
        cb_engine_free(e);
    }
    for (int k = 0; k < NR; k++) cb_engine_result_clear(&alone[k]);
}

/* Four one-token continuations of one context: one prefill, one logits row
 * for all four, and the same scores as one by one. */
Test(engine, one_token_candidates_from_one_row) {
    int32_t ctx[20], c[4];
    fill_ids(ctx, 20, 3);
    fill_ids(c, 4, 9);
    cb_engine_req reqs[4];
    for (int k = 0; k < 4; k++)
        reqs[k] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 20, .cont_ids = &c[k], .n_cont_ids = 1};
    cb_engine_result one[4], all[4];
    cb_engine *e = open_engine(1, 4, 0);
    for (int k = 0; k < 4; k++) run(e, &reqs[k], &one[k], 1);
    cb_engine_stats s0, s1;
    cb_engine_get_stats(e, &s0);
    run(e, reqs, all, 4);
    cb_engine_get_stats(e, &s1);
    cr_expect_eq(s1.n_tokens - s0.n_tokens, 20, "context fed %lld times over", (long long)(s1.n_tokens - s0.n_tokens));
    cr_expect_eq(s1.n_logit_rows - s0.n_logit_rows, 1);
    cr_expect_eq(s1.n_steps - s0.n_steps, 1);
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(memcmp(&all[k].logprob, &one[k].logprob, sizeof(double)), 0, "candidate %d", k);
        cb_engine_result_clear(&all[k]);
        cb_engine_result_clear(&one[k]);
    }
    cb_engine_free(e);
}

Test(engine, seeds_and_stop_strings) {
    cb_engine *e = open_engine(2, 4, 0);
    cb_engine_req reqs[3];
    for (int k = 0; k < 3; k++)
        reqs[k] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .text = "the cat", .add_bos = -1, .max_tokens = 12,
                                  .ignore_eos = 1,
                                  .sampling = {.temperature = 0.9f, .top_k = 50, .top_p = 0.95f,
                                               .seed = k < 2 ? 7u : 8u}};
    cb_engine_result r[3];
    run(e, reqs, r, 3);
    cr_assert_eq(r[0].n_tokens, 12);
    cr_expect_eq(memcmp(r[0].tokens, r[1].tokens, 12 * sizeof(int32_t)), 0);
    cr_expect_str_eq(r[0].text, r[1].text);
    cr_expect_neq(memcmp(r[0].tokens, r[2].tokens, 12 * sizeof(int32_t)), 0);

    /* greedy text, then the same with a stop string taken from its middle */
    cb_engine_req g = {.kind = CB_ENGINE_GENERATE, .text = "the cat", .add_bos = -1, .max_tokens = 20,
                       .ignore_eos = 1};
    cb_engine_result gr;
    run(e, &g, &gr, 1);
    cr_assert_gt(gr.text_len, 12u);
    cr_expect_eq(strlen(gr.text), gr.text_len);
    char stop[4];
    size_t at = gr.text_len / 2;
    memcpy(stop, gr.text + at, 3);
    stop[3] = '\0';
    const char *first = strstr(gr.text, stop);
    const char *stops[2] = {"never-appears-xyz", stop};
    g.stop = stops;
    g.n_stop = 2;
    cb_engine_result sr;
    run(e, &g, &sr, 1);
    cr_expect_eq(sr.finish, CB_FINISH_STOP);
    cr_expect_eq(sr.text_len, (size_t)(first - gr.text));
    cr_expect_eq(strncmp(sr.text, gr.text, sr.text_len), 0);
    cr_expect_lt(sr.n_tokens, 20);
    for (int k = 0; k < 3; k++) cb_engine_result_clear(&r[k]);
    cb_engine_result_clear(&gr);
    cb_engine_result_clear(&sr);
    cb_engine_free(e);
}

Test(engine, request_errors_and_accessors) {
    cb_engine *e = open_engine(1, 2, 0);
    cr_expect_eq(cb_engine_n_ctx(e), 128);
    cr_expect_eq(cb_engine_n_seq(e), 2);
    cr_expect_eq(cb_engine_n_vocab(e), 32000);
    cr_expect_gt(cb_engine_n_params(e), cb_engine_n_params_nonembd(e));
    cr_expect_str_eq(cb_engine_model_path(e), model_path);
    cr_expect_str_eq(cb_engine_device(e), "cpu");
    cr_expect_not_null(cb_engine_tokenizer(e));
    int32_t long_ids[200], two[2] = {5, 6};
    fill_ids(long_ids, 200, 5);
    cb_engine_req reqs[5] = {
        {.kind = CB_ENGINE_LOGLIK, .ids = two, .n_ids = 2, .cont_ids = two, .n_cont_ids = 0},
        {.kind = CB_ENGINE_GENERATE, .ids = long_ids, .n_ids = 200, .max_tokens = 2},
        {.kind = CB_ENGINE_ROLLING, .text = TEXT, .window = 500},
        {.kind = CB_ENGINE_LOGLIK, .ids = two, .n_ids = 2, .cont_ids = long_ids, .n_cont_ids = 128},
        {.kind = CB_ENGINE_GENERATE, .ids = two, .n_ids = 2, .max_tokens = 3, .ignore_eos = 1},
    };
    cb_engine_result r[5];
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_engine_run(e, reqs, r, 5, &err), 0, "%s", err.msg);
    for (int k = 0; k < 4; k++) {
        cr_expect_eq(r[k].status, CB_EUSAGE, "request %d", k);
        cr_expect_not_null(r[k].error);
    }
    cr_expect_eq(r[4].status, 0); /* the good request next to them is fine */
    cr_expect_eq(r[4].n_tokens, 3);
    for (int k = 0; k < 5; k++) cb_engine_result_clear(&r[k]);
    cb_engine_free(e);

    /* generation that fills the context stops with "length" */
    cb_engine_opts o = {.model_path = model_path, .n_threads = 1, .n_ctx = 16, .n_seq = 1};
    cr_assert_eq(cb_engine_open(&o, &e, &err), 0, "%s", err.msg);
    cb_engine_req g = {.kind = CB_ENGINE_GENERATE, .ids = long_ids, .n_ids = 10, .ignore_eos = 1};
    cb_engine_result gr;
    run(e, &g, &gr, 1);
    cr_expect_eq(gr.finish, CB_FINISH_LENGTH);
    cr_expect_eq(gr.n_tokens, 7); /* positions 10..15 fed, the 7th sampled from position 15 */
    cb_engine_result_clear(&gr);
    cb_engine_free(e);
}

Test(engine, open_errors) {
    cb_engine *e = NULL;
    cb_err err;
    cb_err_clear(&err);
    cb_engine_opts o = {.model_path = "/nonexistent/model.gguf"};
    cr_expect_neq(cb_engine_open(&o, &e, &err), 0);
    cr_expect_null(e);
    cr_expect(strstr(err.msg, "/nonexistent/model.gguf") != NULL, "%s", err.msg);
    /* a CUDA device ordinal that no machine here has: CB_ENODEV with or without a GPU */
    o = (cb_engine_opts){.model_path = model_path, .device = "cuda:99"};
    cr_expect_eq(cb_engine_open(&o, &e, &err), CB_ENODEV, "%s", err.msg);
    cr_expect_null(e);
    /* plain "cuda": CB_ENODEV exactly when no CUDA device is usable */
    cb_err perr;
    cb_err_clear(&perr);
    const int gpu = cb_cuda_probe(0, NULL, 0, &perr) == 0;
    o.device = "cuda";
    int rc = cb_engine_open(&o, &e, &err);
    cr_expect_eq(rc, gpu ? 0 : CB_ENODEV, "GPU %s: rc %d: %s", gpu ? "present" : perr.msg, rc, err.msg);
    cb_engine_free(e);
    e = NULL;
    o.device = "tpu";
    cr_expect_eq(cb_engine_open(&o, &e, &err), CB_EUSAGE);
    o = (cb_engine_opts){.model_path = model_path, .n_seq = -1};
    cr_expect_eq(cb_engine_open(&o, &e, &err), CB_EUSAGE);
}

/* ---- the command lines (runner/cmd_engine.c) through the built binary ------- */

/* Runs `$CAPBENCH_BIN args` through the shell; stdout into out; returns the exit status. */
static int run_cli(const char *args, char *out, size_t cap) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || !*bin) cr_skip_test("CAPBENCH_BIN is not set");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(engine, command_lines) {
    const char *dir = getenv("CAPBENCH_MODEL_DIR");
    if (!dir || !*dir) cr_skip_test("CAPBENCH_MODEL_DIR is not set");
    char m[512], args[1024], out[4096];
    snprintf(m, sizeof m, "%s/stories260K.gguf", dir);
    if (access(m, R_OK) != 0) cr_skip_test("%s is absent", m);

    snprintf(args, sizeof args, "generate --model '%s' -p 'Once upon a time' -n 40 --temp 0", m);
    cr_assert_eq(run_cli(args, out, sizeof out), 0);
    cr_expect_str_eq(out, ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                          "she saw a big, red ball.\n");
    snprintf(args, sizeof args, "tokenize --model '%s' 'Once upon a time'", m);
    cr_assert_eq(run_cli(args, out, sizeof out), 0);
    cr_expect_str_eq(out, "[1,403,407,261,378]\n");
    snprintf(args, sizeof args, "tokenize --model '%s' --no-bos ''", m);
    cr_assert_eq(run_cli(args, out, sizeof out), 0);
    cr_expect_str_eq(out, "[]\n");
    snprintf(args, sizeof args, "score --model '%s' --context 'Once upon a time' --continuation ', there was'", m);
    cr_assert_eq(run_cli(args, out, sizeof out), 0);
    cr_expect(strstr(out, "\"n_tokens\":3") && strstr(out, "\"is_greedy\":true"), "%s", out);
    snprintf(args, sizeof args, "logits --model '%s' -p 'Once upon a time' --top 2", m);
    cr_assert_eq(run_cli(args, out, sizeof out), 0);
    cr_expect(strncmp(out, "{\"n_vocab\":512,\"n_tokens\":5,\"top\":[{\"id\":432,\"logit\":17.7", 57) == 0, "%s", out);
    cr_expect(strstr(out, "\"piece\":\" there\"") != NULL, "%s", out);

    snprintf(args, sizeof args, "generate --model '%s' -p hi --bogus 1", m);
    cr_expect_eq(run_cli(args, out, sizeof out), 2);
    cr_expect_eq(run_cli("generate --model /nonexistent.gguf -p hi", out, sizeof out), 2);
    /* -n 0 generates nothing but still loads and checks the model */
    snprintf(args, sizeof args, "generate --model '%s' -p hi -n 0", m);
    cr_expect_eq(run_cli(args, out, sizeof out), 0);
    cr_expect_str_eq(out, "\n");
    cr_expect_eq(run_cli("generate --model /nonexistent.gguf -p hi -n 0", out, sizeof out), 2);
    char bad[] = "/tmp/cb_not_a_modelXXXXXX";
    int fd = mkstemp(bad);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "not a gguf file", 15), 15);
    close(fd);
    snprintf(args, sizeof args, "generate --model '%s' -p hi -n 0", bad);
    cr_expect_eq(run_cli(args, out, sizeof out), 2, "a malformed model is bad input even with -n 0");
    unlink(bad);
    snprintf(args, sizeof args, "generate --model '%s' -p hi --device cuda:99", m);
    cr_expect_eq(run_cli(args, out, sizeof out), 1);
    /* --device cuda: exit 1 without a usable GPU; with one, the CPU's greedy text */
    cb_err perr;
    cb_err_clear(&perr);
    const int gpu = cb_cuda_probe(0, NULL, 0, &perr) == 0;
    snprintf(args, sizeof args, "generate --model '%s' -p 'Once upon a time' -n 40 --temp 0 --device cuda", m);
    cr_expect_eq(run_cli(args, out, sizeof out), gpu ? 0 : 1, "GPU: %s", gpu ? "present" : perr.msg);
    if (gpu)
        cr_expect_str_eq(out, ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                              "she saw a big, red ball.\n");
    cr_expect_eq(run_cli("score --model x", out, sizeof out), 2);
}
