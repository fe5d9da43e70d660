/* tests/engine/test_cuda_engine.c — the engine on device "cuda" against the
 * same engine on the CPU: stories260K (CAPBENCH_MODEL_DIR) and generated tiny
 * models (F32, F16, Q8_0; engine/genmodel.h) give equal greedy tokens and
 * close logits; generated tiny256 models of the 4/5/6-bit types give close
 * teacher-forced log-probabilities; the qwen2 reference models (F32, F16,
 * Q4_0, Q4_K_M, Q6_K) give close logits and the same greedy tokens, ties
 * excepted, and phi3/gemma2 are refused by name; steps of at most 8 tokens are bit-identical whatever shares
 * the batch and with CUDA graphs on or off, and agree with the unfused
 * kernels (CAPBENCH_CUDA_FUSED=0) to rounding; a prompt longer than one
 * attention split (256 positions) and log-likelihood scoring through the
 * cuBLAS path agree within tolerance. Greedy tokens, is_greedy and scores
 * computed on the device (argmax and log-softmax gather, no logit rows
 * downloaded) equal those from downloaded rows (CAPBENCH_CUDA_DEVICE_REDUCE=0).
 * The graph tests assert that graphs were captured and replayed. A device
 * ordinal that does not exist (cuda:99) fails cleanly with CB_ENODEV on every
 * machine, and plain "cuda" does where there is no GPU (or no CUDA build).
 *
 * The GPU tests skip, saying why, when no CUDA device is usable; the engine
 * reaches CUDA only through the module it loads on first use.
 */
#include "engine/cuda_module.h"
#include "engine/engine.h"
#include "engine/genmodel.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 when CUDA device 0 is usable (through the module); else fills why. */
static int have_gpu(char *why, size_t cap) {
    cb_err e;
    cb_err_clear(&e);
    if (cb_cuda_probe(0, NULL, 0, &e) == 0) return 1;
    snprintf(why, cap, "no usable CUDA device: %s", e.msg);
    return 0;
}

static void need_gpu(void) {
    char why[512];
    if (!have_gpu(why, sizeof why)) cr_skip_test("%s", why);
}

static char tmp_models[3][256];
static const char *const TYPES[3] = {"f32", "f16", "q8_0"};

/* Generated tiny model of type index ti (made once per test process). */
static const char *tiny_model(int ti) {
    if (!tmp_models[ti][0]) {
        snprintf(tmp_models[ti], sizeof tmp_models[ti], "/tmp/cb_test_cuda_engine_%ld_%s.gguf", (long)getpid(),
                 TYPES[ti]);
        cb_genmodel_opts o = {.shape = "tiny", .type = TYPES[ti], .seed = 21, .synth_vocab = 1,
                              .out_path = tmp_models[ti], .n_threads = 1};
        cb_err e;
        cb_err_clear(&e);
        cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
    }
    return tmp_models[ti];
}

static void drop_models(void) {
    for (int i = 0; i < 3; i++)
        if (tmp_models[i][0]) unlink(tmp_models[i]);
}

TestSuite(cuda_engine, .fini = drop_models);

static cb_engine *open_dev(const char *path, const char *dev, int n_ctx, int n_seq) {
    cb_engine_opts o = {.model_path = path, .n_threads = 2, .n_ctx = n_ctx, .n_seq = n_seq, .device = dev};
    cb_engine *e = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_engine_open(&o, &e, &err), 0, "%s: %s", dev, err.msg);
    cr_assert_str_eq(cb_engine_device(e), dev);
    return e;
}

static void run(cb_engine *e, const cb_engine_req *reqs, cb_engine_result *res, int n) {
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_engine_run(e, reqs, res, n, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) cr_assert_eq(res[i].status, 0, "request %d: %s", i, res[i].error);
}

static void fill_ids(int32_t *ids, int n, int salt) {
    for (int i = 0; i < n; i++) ids[i] = 3 + (int32_t)((i * 7919 + salt * 104729 + 13) % 31000);
}

/* Max |a - b| over n floats relative to max |b| (NaN fails). */
static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) return INFINITY;
        mx = fmax(mx, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return mx / scale;
}

/* Greedy generations of gpu vs cpu: equal tokens, logits within tol. */
static void compare_generate(const cb_engine_result *g, const cb_engine_result *c, int64_t V, double tol,
                             const char *what) {
    cr_assert_eq(g->n_tokens, c->n_tokens, "%s: %d tokens on the GPU, %d on the CPU", what, g->n_tokens, c->n_tokens);
    for (int k = 0; k < g->n_tokens; k++)
        cr_assert_eq(g->tokens[k], c->tokens[k], "%s: token %d: GPU %d, CPU %d", what, k, g->tokens[k], c->tokens[k]);
    cr_assert_eq(g->n_logits, c->n_logits);
    double e = max_rel(g->logits, c->logits, (size_t)g->n_logits * (size_t)V);
    cr_assert(e <= tol, "%s: logits differ by %g (relative to the largest) > %g", what, e, tol);
    cr_log_info("%s: %d tokens equal, logits within %.3g", what, g->n_tokens, e);
}

/* Opening a real model on `dev` fails with CB_ENODEV and a message naming it. */
static void expect_nodev(const char *dev, const char *needle) {
    char path[256];
    snprintf(path, sizeof path, "%s", tiny_model(0));
    cb_engine_opts o = {.model_path = path, .device = dev};
    cb_engine *e = NULL;
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_engine_open(&o, &e, &err);
    cr_assert_eq(rc, CB_ENODEV, "%s: rc %d: %s", dev, rc, err.msg);
    cr_assert_null(e);
    cr_assert(strstr(err.msg, dev) != NULL, "%s: the message does not name the device: %s", dev, err.msg);
    if (needle) cr_assert(strstr(err.msg, needle) != NULL, "%s: expected \"%s\" in: %s", dev, needle, err.msg);
    cr_log_info("device '%s': %s", dev, err.msg);
}

Test(cuda_engine, no_device_is_a_clean_error) {
    /* an ordinal no machine here has: the same clean error with or without a GPU */
    char why[512];
    const int gpu = have_gpu(why, sizeof why);
    expect_nodev("cuda:99", gpu ? "no CUDA device 99" : NULL);
    if (gpu) {
        cb_engine *e = open_dev(tiny_model(0), "cuda", 64, 1); /* and device 0 works */
        cb_engine_free(e);
    } else {
        expect_nodev("cuda", NULL);
    }
}

Test(cuda_engine, missing_module_is_a_clean_error) {
    /* a fresh process: CAPBENCH_CUDA_MODULE is read on the first load */
    setenv("CAPBENCH_CUDA_MODULE", "/nonexistent/libcapbench_cuda.so", 1);
#ifdef CB_HAVE_CUDA
    expect_nodev("cuda", "CAPBENCH_CUDA_MODULE=/nonexistent/libcapbench_cuda.so: no such file");
#else
    expect_nodev("cuda", "no CUDA support");
#endif
    unsetenv("CAPBENCH_CUDA_MODULE");
}

Test(cuda_engine, stories260k_greedy_matches_cpu) {
    need_gpu();
    const char *dir = getenv("CAPBENCH_MODEL_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", dir ? dir : "");
    if (!dir || access(path, R_OK) != 0) cr_skip_test("stories260K.gguf not found (CAPBENCH_MODEL_DIR unset or empty)");
    static const char *prompts[4] = {"Once upon a time", "Lily saw a big red ball", "The cat", "One day, Tom went"};
    cb_engine_req reqs[4];
    for (int i = 0; i < 4; i++)
        reqs[i] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .text = prompts[i], .add_bos = -1, .max_tokens = 48,
                                  .want_logits = 1};
    cb_engine_result rc_[4], rg[4];
    cb_engine *ec = open_dev(path, "cpu", 512, 4), *eg = open_dev(path, "cuda", 512, 4);
    run(ec, reqs, rc_, 4);
    run(eg, reqs, rg, 4);
    for (int i = 0; i < 4; i++) {
        compare_generate(&rg[i], &rc_[i], cb_engine_n_vocab(eg), 1e-4, prompts[i]);
        cr_assert_str_eq(rg[i].text, rc_[i].text);
        cb_engine_result_clear(&rg[i]);
        cb_engine_result_clear(&rc_[i]);
    }
    cb_engine_free(ec);
    cb_engine_free(eg);
}

Test(cuda_engine, tiny_models_match_cpu) {
    need_gpu();
    for (int ti = 0; ti < 3; ti++) {
        const char *path = tiny_model(ti);
        cb_engine *ec = open_dev(path, "cpu", 512, 1), *eg = open_dev(path, "cuda", 512, 1);
        const int64_t V = cb_engine_n_vocab(eg);
        /* short prompts one at a time: every step <= 8 tokens (F32 activations) */
        for (int p = 0; p < 3; p++) {
            int32_t ids[6];
            fill_ids(ids, 6, p);
            cb_engine_req r = {.kind = CB_ENGINE_GENERATE, .ids = ids, .n_ids = 6, .max_tokens = 24,
                               .ignore_eos = 1, .want_logits = 1};
            cb_engine_result a, b;
            run(ec, &r, &a, 1);
            run(eg, &r, &b, 1);
            char what[64];
            snprintf(what, sizeof what, "tiny %s prompt %d", TYPES[ti], p);
            compare_generate(&b, &a, V, 1e-4, what);
            cb_engine_result_clear(&a);
            cb_engine_result_clear(&b);
        }
        /* scoring a 40-token continuation: prefill steps > 8 tokens (cuBLAS) */
        int32_t ctx[10], cont[40];
        fill_ids(ctx, 10, 7);
        fill_ids(cont, 40, 8);
        cb_engine_req r = {.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 10, .cont_ids = cont, .n_cont_ids = 40};
        cb_engine_result a, b;
        run(ec, &r, &a, 1);
        run(eg, &r, &b, 1);
        cr_assert_eq(a.n_scored, b.n_scored);
        double tol = ti == 0 ? 1e-3 : 3e-2;
        for (int k = 0; k < a.n_scored; k++)
            cr_assert(fabs(a.token_logprobs[k] - b.token_logprobs[k]) <= tol, "tiny %s: logprob %d: CPU %.6f GPU %.6f",
                      TYPES[ti], k, a.token_logprobs[k], b.token_logprobs[k]);
        cr_log_info("tiny %s: loglik CPU %.6f GPU %.6f", TYPES[ti], a.logprob, b.logprob);
        cb_engine_result_clear(&a);
        cb_engine_result_clear(&b);
        cb_engine_free(ec);
        cb_engine_free(eg);
    }
}

Test(cuda_engine, long_prompt_spans_splits) {
    need_gpu();
    /* 300 prompt tokens: prefill through cuBLAS, attention over two 256-position splits */
    const char *path = tiny_model(0);
    cb_engine *ec = open_dev(path, "cpu", 512, 2), *eg = open_dev(path, "cuda", 512, 2);
    int32_t ids[300];
    fill_ids(ids, 300, 3);
    cb_engine_req r = {.kind = CB_ENGINE_GENERATE, .ids = ids, .n_ids = 300, .max_tokens = 8, .ignore_eos = 1,
                       .want_logits = 1};
    cb_engine_result a, b;
    run(ec, &r, &a, 1);
    run(eg, &r, &b, 1);
    compare_generate(&b, &a, cb_engine_n_vocab(eg), 1e-3, "tiny f32, 300-token prompt");
    cb_engine_result_clear(&a);
    cb_engine_result_clear(&b);
    cb_engine_free(ec);
    cb_engine_free(eg);
}

/* Runs 4 two-token prompts, either together or one by one; every step has at
 * most 8 tokens. */
static void four_prompts(cb_engine *e, int together, cb_engine_result *res) {
    cb_engine_req reqs[4];
    int32_t ids[4][2];
    for (int i = 0; i < 4; i++) {
        fill_ids(ids[i], 2, 40 + i);
        reqs[i] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = ids[i], .n_ids = 2, .max_tokens = 12 + 3 * i,
                                  .ignore_eos = 1, .want_logits = 1};
    }
    if (together) run(e, reqs, res, 4);
    else
        for (int i = 0; i < 4; i++) run(e, &reqs[i], &res[i], 1);
}

Test(cuda_engine, batch_invariance_and_graphs) {
    need_gpu();
    const char *path = tiny_model(1);
    cb_engine *eg = open_dev(path, "cuda", 256, 4);
    const size_t V = (size_t)cb_engine_n_vocab(eg);
    cb_engine_result alone[4], together[4], nograph[4], unfused[4];
    four_prompts(eg, 0, alone);
    four_prompts(eg, 1, together);
    /* the decode steps ran from graphs: captured (batch sizes 1..4) and replayed */
    cb_engine_stats st;
    cb_engine_get_stats(eg, &st);
    char note[1024];
    cb_engine_device_note(eg, note, sizeof note);
    cr_log_info("graphs on: %s", note);
    cr_assert(st.n_graphs >= 2, "%d graphs captured: %s", st.n_graphs, note);
    cr_assert(st.n_graph_replays > st.n_decode_eager, "%lld replayed, %lld eager: %s", (long long)st.n_graph_replays,
              (long long)st.n_decode_eager, note);
    cr_assert(strstr(note, "decode from CUDA graphs") != NULL, "%s", note);
    cb_engine_free(eg);
    setenv("CAPBENCH_CUDA_GRAPHS", "0", 1);
    eg = open_dev(path, "cuda", 256, 4);
    unsetenv("CAPBENCH_CUDA_GRAPHS");
    four_prompts(eg, 1, nograph);
    cb_engine_get_stats(eg, &st);
    cb_engine_device_note(eg, note, sizeof note);
    cr_assert(st.n_graphs == 0 && st.n_graph_replays == 0 && st.n_decode_eager > 0, "graphs off: %s", note);
    cr_assert(strstr(note, "CAPBENCH_CUDA_GRAPHS=0") != NULL, "%s", note);
    cb_engine_free(eg);
    setenv("CAPBENCH_CUDA_FUSED", "0", 1);
    eg = open_dev(path, "cuda", 256, 4);
    unsetenv("CAPBENCH_CUDA_FUSED");
    four_prompts(eg, 1, unfused);
    cb_engine_free(eg);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(alone[i].n_tokens, together[i].n_tokens);
        cr_assert(memcmp(alone[i].tokens, together[i].tokens, (size_t)alone[i].n_tokens * 4) == 0);
        cr_assert_eq(alone[i].n_logits, together[i].n_logits);
        cr_assert(memcmp(alone[i].logits, together[i].logits, (size_t)alone[i].n_logits * V * 4) == 0,
                  "prompt %d: logits depend on the batch", i);
        cr_assert(memcmp(nograph[i].logits, together[i].logits, (size_t)alone[i].n_logits * V * 4) == 0,
                  "prompt %d: logits differ with graphs off", i);
        /* the unfused kernels (norm, add, swiglu apart) agree to rounding */
        char what[48];
        snprintf(what, sizeof what, "fused vs unfused, prompt %d", i);
        compare_generate(&together[i], &unfused[i], (int64_t)V, 1e-4, what);
        cb_engine_result_clear(&unfused[i]);
        cb_engine_result_clear(&alone[i]);
        cb_engine_result_clear(&together[i]);
        cb_engine_result_clear(&nograph[i]);
    }
}

/* Greedy generation, log-likelihood and rolling scoring with the argmax and
 * log-probabilities computed on the device against the same engine
 * downloading whole rows (CAPBENCH_CUDA_DEVICE_REDUCE=0) and against the CPU. */
static void reduce_workload(cb_engine *e, cb_engine_result *res) {
    static int32_t ids[3][6], ctx[10], cont[40], text[60];
    for (int i = 0; i < 3; i++) fill_ids(ids[i], 6, 60 + i);
    fill_ids(ctx, 10, 70);
    fill_ids(cont, 40, 71);
    fill_ids(text, 60, 72);
    cb_engine_req reqs[6];
    for (int i = 0; i < 3; i++)
        reqs[i] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = ids[i], .n_ids = 6, .max_tokens = 16 + i,
                                  .ignore_eos = 1};
    reqs[3] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 10, .cont_ids = cont, .n_cont_ids = 40};
    reqs[4] = (cb_engine_req){.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = 4, .cont_ids = cont, .n_cont_ids = 3};
    reqs[5] = (cb_engine_req){.kind = CB_ENGINE_ROLLING, .ids = text, .n_ids = 60, .window = 24, .stride = 8};
    run(e, reqs, res, 6);
}

Test(cuda_engine, device_reductions_match_downloaded_rows) {
    need_gpu();
    const char *path = tiny_model(1);
    cb_engine_result dev[6], host[6], cpu[6];
    cb_engine_stats sd, sh;
    cb_engine *e = open_dev(path, "cuda", 256, 4);
    reduce_workload(e, dev);
    cb_engine_get_stats(e, &sd);
    cb_engine_free(e);
    setenv("CAPBENCH_CUDA_DEVICE_REDUCE", "0", 1);
    e = open_dev(path, "cuda", 256, 4);
    unsetenv("CAPBENCH_CUDA_DEVICE_REDUCE");
    reduce_workload(e, host);
    cb_engine_get_stats(e, &sh);
    cb_engine_free(e);
    e = open_dev(path, "cpu", 256, 4);
    reduce_workload(e, cpu);
    cb_engine_free(e);
    /* no row came back whole with device reductions; every row without */
    cr_assert_eq(sd.n_rows_to_host, 0, "%lld rows downloaded", (long long)sd.n_rows_to_host);
    cr_assert_eq(sh.n_rows_to_host, sh.n_logit_rows);
    cr_assert_eq(sd.n_logit_rows, sh.n_logit_rows);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(dev[i].n_tokens, host[i].n_tokens, "request %d", i);
        cr_assert(memcmp(dev[i].tokens, host[i].tokens, (size_t)dev[i].n_tokens * 4) == 0, "request %d: tokens", i);
        cr_assert_eq(dev[i].n_tokens, cpu[i].n_tokens, "request %d", i);
        cr_assert(memcmp(dev[i].tokens, cpu[i].tokens, (size_t)dev[i].n_tokens * 4) == 0, "request %d: tokens vs CPU",
                  i);
        cr_assert_eq(dev[i].n_scored, host[i].n_scored, "request %d", i);
        cr_assert_eq(dev[i].is_greedy, host[i].is_greedy, "request %d: is_greedy", i);
        for (int k = 0; k < dev[i].n_scored; k++) {
            cr_assert_eq(dev[i].scored_ids[k], host[i].scored_ids[k]);
            cr_assert(fabs(dev[i].token_logprobs[k] - host[i].token_logprobs[k]) <= 1e-9,
                      "request %d, token %d: device %.17g, from the row %.17g", i, k, dev[i].token_logprobs[k],
                      host[i].token_logprobs[k]);
            cr_assert(fabs(dev[i].token_logprobs[k] - cpu[i].token_logprobs[k]) <= 3e-2,
                      "request %d, token %d: GPU %.6f, CPU %.6f", i, k, dev[i].token_logprobs[k],
                      cpu[i].token_logprobs[k]);
        }
        cb_engine_result_clear(&dev[i]);
        cb_engine_result_clear(&host[i]);
        cb_engine_result_clear(&cpu[i]);
    }
}

/* The 4/5/6-bit weight types on the GPU (kernels/dequant.h, bit-exact with
 * the CPU's decoding in kernels/test_dequant) against the CPU engine, on
 * generated tiny256 llama models (rows of 256, so the K-quants are real):
 * teacher-forced log-probabilities of a continuation, once in steps of at
 * most 8 tokens (the matrix-vector kernel, F32 activations) and once as one
 * 50-token prefill (weights dequantized to F16, cuBLAS, F16 activations).
 * Tolerance 0.25 per token and 0.05 on average (absolute, nats): the CPU
 * quantizes the activations before these products (Q8_0/Q8_1/Q8_K, as
 * llama.cpp does) and the GPU does not, which moves logits by a few 1e-2 on
 * the qwen2-q4_0 reference model (F32 vs Q8_0 activations on the CPU: 0.059);
 * the tolerance has not been measured on a GPU yet. */
Test(cuda_engine, quantized_models_match_cpu, .timeout = 600) {
    need_gpu();
    static const char *const qtypes[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "q5_k", "q6_k"};
    for (size_t qi = 0; qi < sizeof qtypes / sizeof *qtypes; qi++) {
        char path[256];
        snprintf(path, sizeof path, "/tmp/cb_test_cuda_engine_%ld_tiny256_%s.gguf", (long)getpid(), qtypes[qi]);
        cb_genmodel_opts o = {.shape = "tiny256", .type = qtypes[qi], .seed = 22, .synth_vocab = 1,
                              .out_path = path, .n_threads = 2};
        cb_err e;
        cb_err_clear(&e);
        cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
        cb_engine *ec = open_dev(path, "cpu", 512, 1), *eg = open_dev(path, "cuda", 512, 1);
        for (int big = 0; big < 2; big++) {
            int32_t ctx[10], cont[40];
            fill_ids(ctx, 10, 11 + big);
            fill_ids(cont, 40, 12 + big);
            /* small steps: 4 context tokens, 4 scored; big: one prefill of 50 */
            cb_engine_req r = {.kind = CB_ENGINE_LOGLIK, .ids = ctx, .n_ids = big ? 10 : 4, .cont_ids = cont,
                               .n_cont_ids = big ? 40 : 4};
            cb_engine_result a, b;
            run(ec, &r, &a, 1);
            run(eg, &r, &b, 1);
            cr_assert_eq(a.n_scored, b.n_scored);
            double worst = 0, sum = 0;
            for (int k = 0; k < a.n_scored; k++) {
                double d = fabs(a.token_logprobs[k] - b.token_logprobs[k]);
                worst = fmax(worst, d);
                sum += d;
            }
            cr_log_info("tiny256 %s, %s: %d tokens, log-prob differences max %.4f mean %.4f", qtypes[qi],
                        big ? "cuBLAS prefill" : "matrix-vector steps", a.n_scored, worst, sum / a.n_scored);
            cr_expect(worst <= 0.25 && sum / a.n_scored <= 0.05,
                      "tiny256 %s (%s): CPU vs GPU log-probs differ by up to %.4f, mean %.4f", qtypes[qi],
                      big ? "cuBLAS prefill" : "matrix-vector steps", worst, sum / a.n_scored);
            cb_engine_result_clear(&a);
            cb_engine_result_clear(&b);
        }
        cb_engine_free(ec);
        cb_engine_free(eg);
        unlink(path);
    }
}

/* The qwen2 reference models (shared/reference/archs: q/k/v biases, NEOX
 * RoPE, tied output) on the GPU against the CPU engine, F32 to Q6_K: the
 * logits of every position of the three reference prompts (one prefill of
 * 5-13 tokens: the matrix-vector path or cuBLAS at 13) and 8 greedy tokens.
 * Tolerances (absolute, logits within +-3): F32 1e-3 (summation order);
 * F16 2e-2 (the GPU's cuBLAS path rounds activations to F16 at 13 tokens);
 * the quantized files 0.15 (the CPU quantizes activations to Q8_0/Q8_K as
 * llama.cpp does, the GPU does not: F32 vs Q8_0 activations move these logits
 * by up to 0.059 on the CPU). Not yet measured on a GPU. Greedy tokens must
 * agree while the CPU's top-2 margin is over twice the tolerance. And the
 * architectures the GPU does not run (phi3, gemma2) are refused by name. */
Test(cuda_engine, qwen2_reference_models_match_cpu) {
    need_gpu();
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir || !*dir) cr_skip_test("CAPBENCH_SHARED_DIR is not set");
    static const char *const names[] = {"qwen2", "qwen2-f16", "qwen2-q4_0", "qwen2-q4_k_m", "qwen2-q6_k"};
    static const double tols[] = {1e-3, 2e-2, 0.15, 0.15, 0.15};
    static const char *const prompts[] = {"Once upon a time", "The little dog ran to the park and", "Lily and Ben"};
    for (int i = 0; i < 5; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/reference/archs/%s.gguf", dir, names[i]);
        if (access(path, R_OK) != 0) {
            cr_log_warn("%s is absent: not compared", path);
            continue;
        }
        cb_engine *ec = open_dev(path, "cpu", 256, 1), *eg = open_dev(path, "cuda", 256, 1);
        const int64_t V = cb_engine_n_vocab(eg);
        double worst = 0;
        for (int p = 0; p < 3; p++) {
            cb_engine_req r = {.kind = CB_ENGINE_GENERATE, .text = prompts[p], .add_bos = -1, .max_tokens = 8,
                               .ignore_eos = 1, .want_logits = 1};
            cb_engine_result a, b;
            run(ec, &r, &a, 1);
            run(eg, &r, &b, 1);
            cr_assert_eq(a.n_tokens, b.n_tokens);
            for (int k = 0; k < a.n_tokens; k++) {
                const float *ra = a.logits + (size_t)k * (size_t)V, *rb = b.logits + (size_t)k * (size_t)V;
                float m1 = -INFINITY, m2 = -INFINITY;
                for (int64_t v = 0; v < V; v++) {
                    worst = fmax(worst, fabs((double)ra[v] - rb[v]));
                    if (ra[v] > m1) m2 = m1, m1 = ra[v];
                    else if (ra[v] > m2) m2 = ra[v];
                }
                if (a.tokens[k] != b.tokens[k]) {
                    cr_expect(m1 - m2 <= 2 * tols[i], "%s '%s' step %d: GPU token %d, CPU %d (CPU margin %.4f)",
                              names[i], prompts[p], k, b.tokens[k], a.tokens[k], m1 - m2);
                    break; /* the paths part at a tie; the rest is not comparable */
                }
            }
            cb_engine_result_clear(&a);
            cb_engine_result_clear(&b);
        }
        cr_log_info("%s: GPU vs CPU logits within %.3g (tolerance %g)", names[i], worst, tols[i]);
        cr_expect(worst <= tols[i], "%s: GPU vs CPU logits differ by %.4g > %g", names[i], worst, tols[i]);
        cb_engine_free(ec);
        cb_engine_free(eg);
    }
    static const char *const refused[] = {"phi3", "gemma2"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/reference/archs/%s.gguf", dir, refused[i]);
        if (access(path, R_OK) != 0) continue;
        cb_engine_opts o = {.model_path = path, .n_ctx = 256, .n_seq = 1, .device = "cuda"};
        cb_engine *eng = NULL;
        cb_err err;
        cb_err_clear(&err);
        int rc = cb_engine_open(&o, &eng, &err);
        cr_assert_eq(rc, CB_EUNSUP, "%s: rc %d: %s", refused[i], rc, err.msg);
        cr_assert_null(eng);
        cr_assert(strstr(err.msg, refused[i]) != NULL, "the refusal does not name the architecture: %s", err.msg);
    }
}
