/* bench/engine_eval.c — `capbench bench --workload eval`: how fast the engine
 * runs what an evaluation mostly is, multiple-choice log-likelihood scoring,
 * and what sharing each item's context saves. All numbers come from one run.
 *
 *   capbench bench --workload eval [--model M] [--threads N] [--items FILE]
 *                  [--n N] [--json] [--cache-dir DIR]
 *
 * Items: --items FILE in llama.cpp's HellaSwag layout (bench/engine_hellaswag.h),
 * the first --n of them (all by default); otherwise --n (default 100)
 * generated items: from a fixed word list and seed 0, a context of about 100
 * tokens and four endings of 5 to 25 tokens each, gold index uniform (the
 * default model is random, so accuracy there is chance level). Model: --model,
 * else the generated TinyLlama-1.1B-shape Q8_0 model of `capbench bench`
 * (cached, reused).
 *
 * Each ending is one LOGLIK request: context = the item's context (BOS per the
 * vocab), continuation = " " + ending, split the lm-eval way (engine.h).
 * Passes, in this order, on one engine (a second one with prefix sharing off
 * for the unshared pass; both read the same mapped file):
 *   0. kernel yardstick: the matmul on the model's FFN weight type and shape,
 *      60 tokens as one batch (what prefill runs; the CPU engine's "GEMM
 *      peak"), with the AVX2 kernel where the AVX-512 one takes over, and one
 *      token at a time: FLOP/s of each and their ratios;
 *   1. main: all items, prefix sharing on (the engine prefills each context
 *      once and forks its KV cache per ending), submitted as the first K =
 *      min(n, 10) items, then the rest: items/s, tokens/s, accuracy, time
 *      per stage, matrix FLOP/s against the yardstick's batched rate;
 *   2. speed-up: the first K items again with sharing off (a second engine):
 *      speed-up = its time / the first submission's time on the same items;
 *      the unshared scores must equal the main pass's bit for bit (printed);
 *   3. generation: min(n, 20) contexts, 64 greedy tokens each, together.
 * Stages of the main pass: tokenize (time in cb_engine_submit), the model's
 * forward passes split into context prefill and continuation scoring by the
 * tokens each fed, and the rest of the steps (log-softmax over the vocabulary
 * per scored token, KV copies, scheduling).
 * Accuracy as lm-eval defines it for HellaSwag: acc = the ending with the
 * highest summed log-prob is gold; acc_norm = the same after dividing each
 * sum by the ending's length in bytes (without the leading space); ties go
 * to the lowest index.
 *
 * It is a measurement, not a test: nothing here asserts a speed.
 */
#include "bench/engine_eval.h"

#include "bench/engine_bench.h"
#include "bench/engine_hellaswag.h"
#include "common/rng.h"
#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "kernels/kernels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { N_GEN = 20, GEN_TOKENS = 64, K_SPEEDUP = 10, KERNEL_T = 60 };

typedef struct eval_cfg {
    const char *model, *items, *cache_dir;
    int threads, n, json;
} eval_cfg;

typedef struct pass_res {
    int n_items;
    double wall_s, submit_s, forward_s;
    int64_t tokens_fed, steps;
    int64_t cont_tokens; /* continuation tokens scored */
    /* tokens fed for continuations: every ending feeds its tokens but the
     * last (the first is scored from its context's last row); the rest of
     * tokens_fed is contexts */
    int64_t fed_cont, fed_ctx;
} pass_res;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- generated items --------------------------------------------------------------- */

static const char *const k_words[] = {
    "the", "a", "man", "woman", "child", "dog", "cat", "bird", "house", "garden", "street", "river", "table",
    "kitchen", "window", "door", "book", "letter", "ball", "car", "bike", "tree", "flower", "water", "bread",
    "cup", "plate", "chair", "bed", "room", "park", "school", "teacher", "friend", "mother", "father", "sister",
    "brother", "walks", "runs", "opens", "closes", "takes", "puts", "looks", "finds", "holds", "drops", "cleans",
    "paints", "cooks", "reads", "writes", "sings", "jumps", "throws", "catches", "pulls", "pushes", "fills",
    "empties", "washes", "cuts", "folds", "ties", "climbs", "sits", "stands", "waits", "smiles", "turns", "moves",
    "to", "into", "on", "under", "over", "with", "from", "and", "then", "slowly", "quickly", "carefully", "again",
    "red", "blue", "green", "small", "large", "old", "new", "warm", "cold", "wet", "dry", "bright", "quiet",
    "morning", "evening", "rain", "sun", "snow", "wind", "box", "bag", "shoe", "hat", "coat", "brush", "pencil",
    "paper", "stone", "rope", "ladder", "bucket", "kettle", "pan", "knife", "spoon", "glass", "lamp", "clock"};
enum { N_WORDS = sizeof k_words / sizeof k_words[0] };

/* Appends random words to buf (at *len, capacity cap) until the text's token
 * count (tokenized alone, no BOS) reaches target. lead_space: start with " ". */
static int grow_text(const cb_tokenizer *tok, cb_rng *r, char *buf, size_t cap, size_t *len, int target,
                     cb_err *err) {
    for (;;) {
        int32_t *ids = NULL;
        int n = 0;
        if (*len > 0) {
            if (cb_tokenizer_encode_alloc(tok, buf, *len, 0, 0, &ids, &n, err)) return err->code;
            free(ids);
        }
        if (n >= target) return 0;
        const char *w = k_words[cb_rng_uniform(r, N_WORDS)];
        size_t wl = strlen(w);
        if (*len + wl + 2 >= cap) return 0; /* long enough in bytes */
        if (*len > 0) buf[(*len)++] = ' ';
        memcpy(buf + *len, w, wl);
        *len += wl;
        buf[*len] = '\0';
    }
}

/* n items: context ~100 tokens (95..105), endings 5..25 tokens, gold uniform.
 * Everything comes from seed 0, so the items are the same on every run with
 * the same vocabulary. */
static int make_items(const cb_tokenizer *tok, int n, cb_mc_set *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    enum { CTX_CAP = 2048, END_CAP = 512, PER_ITEM = CTX_CAP + 4 * END_CAP };
    out->items = calloc((size_t)n, sizeof *out->items);
    out->buf = malloc((size_t)n * PER_ITEM);
    if (!out->items || !out->buf) {
        cb_mc_set_free(out);
        return cb_err_set(err, CB_ENOMEM, "out of memory (generated items)");
    }
    cb_rng r;
    cb_rng_seed(&r, 0);
    for (int i = 0; i < n; i++) {
        cb_mc_item *it = &out->items[i];
        char *p = out->buf + (size_t)i * PER_ITEM;
        size_t len = 0;
        p[0] = '\0';
        int rc = grow_text(tok, &r, p, CTX_CAP, &len, (int)cb_rng_range(&r, 95, 105), err);
        for (int c = 0; !rc && c < 4; c++) {
            char *q = p + CTX_CAP + (size_t)c * END_CAP;
            size_t el = 0;
            q[0] = '\0';
            rc = grow_text(tok, &r, q, END_CAP, &el, (int)cb_rng_range(&r, 5, 25), err);
            it->endings[c] = q;
            it->ending_len[c] = el;
        }
        if (rc) {
            cb_mc_set_free(out);
            return rc;
        }
        it->context = p;
        it->gold = (int)cb_rng_uniform(&r, 4);
        it->line = i + 1;
    }
    out->n = n;
    return 0;
}

/* ---- passes ---------------------------------------------------------------------------- */

/* Scores the four endings of items[0..n) (res: 4n results, cleared by the
 * caller). A request that fails (e.g. longer than the context) fails the pass
 * with CB_EUSAGE naming the item. */
static int score_items(cb_engine *e, const cb_mc_item *items, int n, const char *src, cb_engine_result *res,
                       pass_res *pr, cb_err *err) {
    memset(pr, 0, sizeof *pr);
    pr->n_items = n;
    cb_engine_stats s0, s1;
    cb_engine_get_stats(e, &s0);
    double t0 = now_s();
    int rc = 0;
    char *cont = NULL;
    size_t cont_cap = 0;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < 4; c++) {
            size_t el = items[i].ending_len[c];
            if (el + 2 > cont_cap) {
                size_t nc = el + 2 > 256 ? el + 2 : 256;
                char *nb = realloc(cont, nc);
                if (!nb) {
                    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
                    goto out;
                }
                cont = nb;
                cont_cap = nc;
            }
            cont[0] = ' ';
            memcpy(cont + 1, items[i].endings[c], el + 1);
            cb_engine_req rq = {.kind = CB_ENGINE_LOGLIK, .text = items[i].context, .add_bos = -1,
                                .cont_text = cont, .cont_len = el + 1};
            if ((rc = cb_engine_submit(e, &rq, &res[4 * i + c], err))) goto out;
        }
    }
    pr->submit_s = now_s() - t0;
    for (int pending = 1; pending > 0;)
        if ((rc = cb_engine_step(e, &pending, err))) goto out;
    pr->wall_s = now_s() - t0;
    cb_engine_get_stats(e, &s1);
    pr->forward_s = s1.forward_s - s0.forward_s;
    pr->tokens_fed = s1.n_tokens - s0.n_tokens;
    pr->steps = s1.n_steps - s0.n_steps;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < 4; c++) {
            const cb_engine_result *r = &res[4 * i + c];
            if (r->status) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: item %d (line %d), ending %d: %s", src, i + 1, items[i].line, c,
                                r->error ? r->error : "request failed");
                goto out;
            }
            pr->cont_tokens += r->n_scored;
            pr->fed_cont += r->n_scored - 1;
        }
    }
    pr->fed_ctx = pr->tokens_fed - pr->fed_cont;
out:
    free(cont);
    return rc;
}

/* out = a + b (two submissions of one pass, run one after the other). */
static void add_pass(pass_res *out, const pass_res *a, const pass_res *b) {
    out->n_items = a->n_items + b->n_items;
    out->wall_s = a->wall_s + b->wall_s;
    out->submit_s = a->submit_s + b->submit_s;
    out->forward_s = a->forward_s + b->forward_s;
    out->tokens_fed = a->tokens_fed + b->tokens_fed;
    out->steps = a->steps + b->steps;
    out->cont_tokens = a->cont_tokens + b->cont_tokens;
    out->fed_cont = a->fed_cont + b->fed_cont;
    out->fed_ctx = a->fed_ctx + b->fed_ctx;
}

static void clear_results(cb_engine_result *res, int n) {
    for (int i = 0; res && i < n; i++) cb_engine_result_clear(&res[i]);
}

/* acc / acc_norm over n items from their 4n results. */
static void accuracy(const cb_mc_item *items, int n, const cb_engine_result *res, double *acc, double *acc_norm) {
    int hit = 0, hit_norm = 0;
    for (int i = 0; i < n; i++) {
        int b = 0, bn = 0;
        for (int c = 1; c < 4; c++) {
            if (res[4 * i + c].logprob > res[4 * i + b].logprob) b = c;
            if (res[4 * i + c].logprob / (double)items[i].ending_len[c] >
                res[4 * i + bn].logprob / (double)items[i].ending_len[bn])
                bn = c;
        }
        hit += b == items[i].gold;
        hit_norm += bn == items[i].gold;
    }
    *acc = n ? (double)hit / n : 0.0;
    *acc_norm = n ? (double)hit_norm / n : 0.0;
}

/* 1 when every log-prob of a[0..n) equals b's bit for bit. */
static int same_scores(const cb_engine_result *a, const cb_engine_result *b, int n) {
    for (int i = 0; i < n; i++) {
        if (a[i].n_scored != b[i].n_scored || a[i].is_greedy != b[i].is_greedy) return 0;
        if (memcmp(a[i].token_logprobs, b[i].token_logprobs, (size_t)a[i].n_scored * sizeof(double)) != 0) return 0;
    }
    return 1;
}

typedef struct gen_res {
    int n;
    int64_t tokens;
    double wall_s;
} gen_res;

static int generate(cb_engine *e, const cb_mc_item *items, int n, gen_res *g, cb_err *err) {
    memset(g, 0, sizeof *g);
    cb_engine_req rq[N_GEN];
    cb_engine_result res[N_GEN];
    memset(res, 0, sizeof res);
    for (int i = 0; i < n; i++)
        rq[i] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .text = items[i].context, .add_bos = -1,
                                .max_tokens = GEN_TOKENS, .ignore_eos = 1};
    double t0 = now_s();
    int rc = cb_engine_run(e, rq, res, n, err);
    g->wall_s = now_s() - t0;
    g->n = n;
    for (int i = 0; !rc && i < n; i++) {
        if (res[i].status)
            rc = cb_err_set(err, CB_EUSAGE, "generation from item %d (line %d): %s", i + 1, items[i].line,
                            res[i].error ? res[i].error : "request failed");
        g->tokens += res[i].n_tokens;
    }
    clear_results(res, n);
    return rc;
}

/* ---- kernel yardstick ---------------------------------------------------------------------- */

/* The matmul kernel on the model's FFN weight type and shape (K = n_embd, N =
 * n_ff, random weights), KERNEL_T tokens, the engine's thread count: as one
 * batch (what prefill runs), with the AVX2 kernel where the AVX-512 one
 * takes over (same bits, the speed before it), and one token at a time. */
typedef struct kernel_rates {
    uint32_t type;
    int64_t K, N, T;
    const char *impl; /* kernel set the batched product ran on */
    double batched, avx2, one; /* FLOP/s; avx2 0 when not measured */
} kernel_rates;

static int measure_kernel(const cb_engine *e, int threads, kernel_rates *kr, cb_err *err) {
    const cb_model *m = cb_engine_model(e);
    const cb_model_hparams *hp = cb_model_get_hparams(m);
    memset(kr, 0, sizeof *kr);
    kr->type = cb_model_ffn_type(m);
    kr->K = hp->n_embd;
    kr->N = hp->n_ff;
    kr->T = KERNEL_T;
    int f32_act = cb_act_type(kr->type) == CB_KTYPE_F32;
    kr->impl = f32_act && cb_cpu_has_avx512() ? "AVX-512" : cb_cpu_has_avx2() ? "AVX2" : "portable";
    cb_pool *pool = NULL;
    if (cb_pool_new(threads, &pool, err)) return err->code;
    kr->batched = cb_bench_matmul_flops(pool, CB_KIMPL_AUTO, kr->type, kr->K, kr->N, kr->T, 0, 3);
    if (f32_act && cb_cpu_has_avx512())
        kr->avx2 = cb_bench_matmul_flops(pool, CB_KIMPL_AVX2, kr->type, kr->K, kr->N, kr->T, 0, 3);
    kr->one = cb_bench_matmul_flops(pool, CB_KIMPL_AUTO, kr->type, kr->K, kr->N, kr->T, 1, 3);
    cb_pool_free(pool);
    if (kr->batched <= 0 || kr->one <= 0) return cb_err_set(err, CB_ENOMEM, "out of memory (kernel yardstick)");
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

typedef struct report {
    const eval_cfg *c;
    const char *model, *src;
    pass_res main, k_shared, k_unshared;
    int identical;
    gen_res gen;
    double acc, acc_norm;
    kernel_rates kr;
    double pass_flops; /* matrix FLOPs of the main pass (2 x non-embedding params per token fed + head per scored token) */
    /* stages of the main pass, seconds */
    double st_tok, st_prefill, st_cont, st_rest;
} report;

static void print_report(const report *r) {
    const pass_res *m = &r->main;
    double speedup = r->k_shared.wall_s > 0 ? r->k_unshared.wall_s / r->k_shared.wall_s : 0.0;
    double items_s = m->wall_s > 0 ? m->n_items / m->wall_s : 0.0;
    double tok_s = m->wall_s > 0 ? (double)m->tokens_fed / m->wall_s : 0.0;
    double gen_tok_s = r->gen.wall_s > 0 ? (double)r->gen.tokens / r->gen.wall_s : 0.0;
    double w = m->wall_s > 0 ? m->wall_s : 1.0;
    double pf_gflops = m->forward_s > 0 ? r->pass_flops / m->forward_s / 1e9 : 0.0;
    double pf_frac = r->kr.batched > 0 ? pf_gflops * 1e9 / r->kr.batched : 0.0;
    if (r->c->json) {
        printf("{\"workload\":\"eval\",\"model\":");
        cb_engine_bench_json_str(r->model);
        printf(",\"items\":");
        cb_engine_bench_json_str(r->src);
        printf(",\"threads\":%d,\"n_items\":%d,\"wall_s\":%.3f,\"items_per_s\":%.4f,\"tokens_per_s\":%.3f,"
               "\"tokens_fed\":%lld,\"tokens_fed_contexts\":%lld,\"tokens_fed_continuations\":%lld,"
               "\"continuation_tokens_scored\":%lld,\"steps\":%lld,",
               r->c->threads, m->n_items, m->wall_s, items_s, tok_s, (long long)m->tokens_fed,
               (long long)m->fed_ctx, (long long)m->fed_cont, (long long)m->cont_tokens, (long long)m->steps);
        printf("\"stages\":{\"tokenize_s\":%.4f,\"context_prefill_s\":%.4f,\"continuation_scoring_s\":%.4f,"
               "\"softmax_and_scheduling_s\":%.4f},",
               r->st_tok, r->st_prefill, r->st_cont, r->st_rest);
        printf("\"prefix_sharing\":{\"n_items\":%d,\"shared_s\":%.3f,\"unshared_s\":%.3f,\"speedup\":%.3f,"
               "\"tokens_fed_shared\":%lld,\"tokens_fed_unshared\":%lld,\"scores_identical\":%s},",
               r->k_shared.n_items, r->k_shared.wall_s, r->k_unshared.wall_s, speedup,
               (long long)r->k_shared.tokens_fed, (long long)r->k_unshared.tokens_fed,
               r->identical ? "true" : "false");
        printf("\"generation\":{\"n\":%d,\"max_tokens\":%d,\"tokens\":%lld,\"wall_s\":%.3f,\"tokens_per_s\":%.3f},",
               r->gen.n, GEN_TOKENS, (long long)r->gen.tokens, r->gen.wall_s, gen_tok_s);
        printf("\"kernel\":{\"type\":");
        cb_engine_bench_json_str(cb_ggml_type_name(r->kr.type));
        printf(",\"K\":%lld,\"N\":%lld,\"tokens\":%lld,\"impl\":\"%s\",\"batched_gflops\":%.3f,", (long long)r->kr.K,
               (long long)r->kr.N, (long long)r->kr.T, r->kr.impl, r->kr.batched / 1e9);
        if (r->kr.avx2 > 0) printf("\"avx2_gflops\":%.3f,", r->kr.avx2 / 1e9);
        else printf("\"avx2_gflops\":null,");
        printf("\"one_at_a_time_gflops\":%.3f},", r->kr.one / 1e9);
        printf("\"scoring_gflops\":%.3f,\"scoring_fraction_of_kernel\":%.4f,", pf_gflops, pf_frac);
        printf("\"acc\":%.4f,\"acc_norm\":%.4f}\n", r->acc, r->acc_norm);
        return;
    }
    const char *base = strrchr(r->model, '/');
    base = base ? base + 1 : r->model;
    printf("eval benchmark: %s, %d threads, %d four-choice items (%s)\n", base, r->c->threads, m->n_items, r->src);
    printf("  scoring (prefix sharing on): %.2f items/s, %.1f tokens/s fed (%lld tokens: %lld for contexts, %lld "
           "for continuations; %lld continuation tokens scored), %.1f s\n",
           items_s, tok_s, (long long)m->tokens_fed, (long long)m->fed_ctx, (long long)m->fed_cont,
           (long long)m->cont_tokens, m->wall_s);
    printf("  stages: tokenize %.1f%%, context prefill %.1f%%, continuation scoring %.1f%%, log-softmax and "
           "scheduling %.1f%%\n",
           100 * r->st_tok / w, 100 * r->st_prefill / w, 100 * r->st_cont / w, 100 * r->st_rest / w);
    printf("  prefix sharing on the first %d items: shared %.2f s (the scoring pass's first submission, %lld tokens "
           "fed), unshared %.2f s (%lld tokens fed): speed-up %.2fx; unshared scores %s\n",
           r->k_shared.n_items, r->k_shared.wall_s, (long long)r->k_shared.tokens_fed, r->k_unshared.wall_s,
           (long long)r->k_unshared.tokens_fed, speedup,
           r->identical ? "identical to the shared ones, bit for bit" : "DIFFER from the shared ones");
    printf("  generation: %d greedy generations of %d tokens together, %.1f tokens/s, %.1f s\n", r->gen.n,
           GEN_TOKENS, gen_tok_s, r->gen.wall_s);
    printf("  kernel on %s %lldx%lld (the model's FFN type and shape), %lld tokens: batched %.1f GFLOP/s (%s)",
           cb_ggml_type_name(r->kr.type), (long long)r->kr.K, (long long)r->kr.N, (long long)r->kr.T,
           r->kr.batched / 1e9, r->kr.impl);
    if (r->kr.avx2 > 0) printf(", AVX2 kernel %.1f GFLOP/s (%.2fx)", r->kr.avx2 / 1e9, r->kr.batched / r->kr.avx2);
    printf(", one token at a time %.1f GFLOP/s (batching %.2fx)\n", r->kr.one / 1e9, r->kr.batched / r->kr.one);
    printf("  scoring pass: %.1f GFLOP/s of matrix work in forward passes = %.0f%% of the batched kernel rate\n",
           pf_gflops, 100 * pf_frac);
    printf("  accuracy: acc %.4f, acc_norm %.4f (n = %d; acc_norm divides by the ending's bytes)\n", r->acc,
           r->acc_norm, m->n_items);
    printf("(forward time is split between context prefill and continuation scoring by the tokens each fed; "
           "stages are shares of the scoring pass's wall time; matrix work = 2 x non-embedding parameters per "
           "token fed + the output head per scored token, attention not counted)\n");
}

/* ---- main ------------------------------------------------------------------------------------ */

int cb_eval_bench_main(int argc, char **argv) {
    static const char U[] = "--workload eval [--model M] [--threads N] [--items FILE] [--n N] [--json] "
                            "[--cache-dir DIR]";
    eval_cfg c = {0};
    int have_workload = 0, n = 0, k = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return printf("usage: capbench bench %s\n", U), 0;
        if (strcmp(a, "--json") == 0) {
            c.json = 1;
            continue;
        }
        if (i + 1 >= argc) goto bad;
        const char *v = argv[++i];
        if (strcmp(a, "--workload") == 0) {
            if (strcmp(v, "eval") != 0) goto bad;
            have_workload = 1;
        } else if (strcmp(a, "--model") == 0) {
            c.model = v;
        } else if (strcmp(a, "--items") == 0) {
            c.items = v;
        } else if (strcmp(a, "--cache-dir") == 0) {
            c.cache_dir = v;
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "--n") == 0) {
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || *end || n < 1 || n > (a[2] == 't' ? 1024 : 1000000)) goto bad;
            if (a[2] == 't') c.threads = (int)n;
            else c.n = (int)n;
        } else {
            goto bad;
        }
    }
    if (!have_workload) goto bad;
    if (c.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = n > 0 ? (int)n : 1;
    }

    int rc = 0;
    cb_err err;
    cb_err_clear(&err);
    cb_mc_set set = {0};
    cb_engine *e = NULL, *eu = NULL;
    cb_engine_result *res = NULL, *res_k = NULL;
    char model[1100];
    report r = {.c = &c};
    if (c.items && (rc = cb_hellaswag_load(c.items, &set, &err))) goto out;
    if (c.model) {
        snprintf(model, sizeof model, "%s", c.model);
    } else {
        char dir[1024];
        if (c.cache_dir) snprintf(dir, sizeof dir, "%s", c.cache_dir);
        else cb_engine_bench_cache_dir(dir, sizeof dir);
        if ((rc = cb_engine_bench_ensure_model(dir, "q8_0", model, sizeof model, c.json, &err))) goto out;
    }
    /* contexts of up to ~n_ctx - 64 tokens; 20 slots hold the generations at once */
    cb_engine_opts eo = {.model_path = model, .n_threads = c.threads, .n_ctx = c.items ? 1024 : 512,
                         .n_seq = N_GEN, .n_batch = 512};
    if ((rc = cb_engine_open(&eo, &e, &err))) goto out;
    eo.no_prefix_sharing = 1;
    if ((rc = cb_engine_open(&eo, &eu, &err))) goto out;
    if (!c.items && (rc = make_items(cb_engine_tokenizer(e), c.n ? c.n : 100, &set, &err))) goto out;
    n = c.n && c.n < set.n ? c.n : set.n;
    k = n < K_SPEEDUP ? n : K_SPEEDUP;
    r.model = model;
    r.src = c.items ? c.items : "generated";
    if (!c.json) fprintf(stderr, "capbench bench: scoring %d items on %s\n", n, model);

    /* warm-up: fault the mapped weights in (both engines share the page cache) */
    gen_res warm;
    if ((rc = generate(e, set.items, 1, &warm, &err))) goto out;

    if ((rc = measure_kernel(e, c.threads, &r.kr, &err))) goto out;

    res = calloc((size_t)n * 4, sizeof *res);
    res_k = calloc((size_t)k * 4, sizeof *res_k);
    if (!res || !res_k) {
        rc = cb_err_set(&err, CB_ENOMEM, "out of memory (results)");
        goto out;
    }
    /* the main pass in two submissions: the first k items (the shared half of
     * the speed-up), then the rest */
    pass_res rest = {0};
    if ((rc = score_items(e, set.items, k, r.src, res, &r.k_shared, &err))) goto out;
    if (n > k && (rc = score_items(e, set.items + k, n - k, r.src, res + 4 * k, &rest, &err))) goto out;
    add_pass(&r.main, &r.k_shared, &rest);
    accuracy(set.items, n, res, &r.acc, &r.acc_norm);
    if ((rc = score_items(eu, set.items, k, r.src, res_k, &r.k_unshared, &err))) goto out;
    r.identical = same_scores(res_k, res, 4 * k);
    if ((rc = generate(e, set.items, n < N_GEN ? n : N_GEN, &r.gen, &err))) goto out;

    /* stages of the main pass */
    const pass_res *m = &r.main;
    r.st_tok = m->submit_s;
    double fed = m->tokens_fed > 0 ? (double)m->tokens_fed : 1.0;
    r.st_prefill = m->forward_s * (double)m->fed_ctx / fed;
    r.st_cont = m->forward_s * (double)m->fed_cont / fed;
    r.st_rest = m->wall_s - m->submit_s - m->forward_s;
    {
        const cb_model_hparams *hp = cb_model_get_hparams(cb_engine_model(e));
        r.pass_flops = 2.0 * (double)cb_engine_n_params_nonembd(e) * (double)m->tokens_fed +
                       2.0 * (double)hp->n_embd * (double)cb_engine_n_vocab(e) * (double)m->cont_tokens;
    }
    if (r.st_rest < 0) r.st_rest = 0;
    print_report(&r);
out:
    clear_results(res, 4 * n);
    clear_results(res_k, 4 * k);
    free(res);
    free(res_k);
    cb_engine_free(eu);
    cb_engine_free(e);
    cb_mc_set_free(&set);
    if (rc) {
        fprintf(stderr, "capbench bench: %s\n", err.msg);
        return (err.code == CB_EUSAGE || err.code == CB_EIO || err.code == CB_EFORMAT || err.code == CB_EUNSUP) ? 2
                                                                                                               : 1;
    }
    return 0;
bad:
    fprintf(stderr, "usage: capbench bench %s\n", U);
    return 2;
}
