/* tests/engine/test_model.c — engine/model.c: hyper-parameters and parameter
 * counts, the batched forward pass against a naive single-sequence forward
 * written here with the _ref kernels (F32, F16 and Q8_0 weights, NORM and NEOX
 * RoPE), F32 vs F16 vs Q8_0 agreement, RoPE scaling, and malformed models
 * (missing tensor, wrong shape, wrong type, other architecture (named, with
 * the supported list), mixture of experts, value heads unlike key heads,
 * missing key) failing with messages that name the culprit. The qwen2, phi3,
 * gemma2 and llama3-rope paths are checked against llama.cpp in
 * test_reference.c.
 */
#include "engine/genmodel.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char paths[3][256];
static const char *types[3] = {"f32", "f16", "q8_0"};

static void make_models(void) {
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "/tmp/cb_test_model_%ld_%s.gguf", (long)getpid(), types[i]);
        cb_genmodel_opts o = {.shape = "tiny", .type = types[i], .seed = 3, .synth_vocab = 1,
                              .out_path = paths[i], .n_threads = 1};
        cb_err e;
        cb_err_clear(&e);
        cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
    }
}

static void drop_models(void) {
    for (int i = 0; i < 3; i++) unlink(paths[i]);
}

TestSuite(model, .init = make_models, .fini = drop_models);

/* ---- naive reference forward -------------------------------------------------- */

static const cb_gguf_tensor *T(const cb_gguf *g, const char *fmt, int l) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, name);
    cr_assert_not_null(t, "%s", name);
    return t;
}

static void mm(const cb_gguf_tensor *w, const float *x, float *y, int64_t K, int64_t N) {
    cb_matmul_ref(w->type, w->data, x, y, 1, K, N);
}

/* logits (n, V) for tokens[0..n) at positions 0..n-1, one token at a time. */
static void naive_forward(const cb_gguf *g, const cb_model *m, const int32_t *tokens, int n, float *logits) {
    const cb_model_hparams *hp = cb_model_get_hparams(m);
    const int64_t C = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, D = hp->head_dim, F = hp->n_ff,
                  V = hp->n_vocab, L = hp->n_layer;
    float *x = malloc(C * sizeof(float)), *xb = malloc(C * sizeof(float)), *xb2 = malloc(C * sizeof(float));
    float *q = malloc(H * D * sizeof(float)), *att = malloc(H * D * sizeof(float));
    float *kc = malloc((size_t)(L * n * Hkv * D) * sizeof(float)), *vc = malloc((size_t)(L * n * Hkv * D) * sizeof(float));
    float *h1 = malloc(F * sizeof(float)), *h2 = malloc(F * sizeof(float)), *sc = malloc(n * sizeof(float));
    const cb_gguf_tensor *E = cb_gguf_find_tensor(g, "token_embd.weight");
    const cb_gguf_tensor *O = cb_gguf_find_tensor(g, "output.weight");
    if (!O) O = E;
    const float *inv = cb_model_rope_inv_freq(m);
    for (int t = 0; t < n; t++) {
        cb_dequantize_row(E->type, (const char *)E->data + (size_t)tokens[t] * cb_row_bytes(E->type, C), x, C);
        for (int l = 0; l < L; l++) {
            float *k = kc + ((size_t)l * n + t) * Hkv * D, *v = vc + ((size_t)l * n + t) * Hkv * D;
            cb_rmsnorm_ref(xb, x, T(g, "blk.%d.attn_norm.weight", l)->data, C, hp->rms_eps);
            mm(T(g, "blk.%d.attn_q.weight", l), xb, q, C, H * D);
            mm(T(g, "blk.%d.attn_k.weight", l), xb, k, C, Hkv * D);
            mm(T(g, "blk.%d.attn_v.weight", l), xb, v, C, Hkv * D);
            cb_rope_ref(q, H, D, hp->n_rot, t, inv, hp->rope_neox);
            cb_rope_ref(k, Hkv, D, hp->n_rot, t, inv, hp->rope_neox);
            for (int64_t h = 0; h < H; h++) {
                int64_t gk = h / (H / Hkv);
                for (int p = 0; p <= t; p++) {
                    const float *kp = kc + ((size_t)l * n + p) * Hkv * D + gk * D;
                    double s = 0;
                    for (int64_t d = 0; d < D; d++) s += (double)q[h * D + d] * kp[d];
                    sc[p] = (float)(s / sqrt((double)D));
                }
                cb_softmax_ref(sc, t + 1);
                for (int64_t d = 0; d < D; d++) {
                    double a = 0;
                    for (int p = 0; p <= t; p++) a += (double)sc[p] * vc[((size_t)l * n + p) * Hkv * D + gk * D + d];
                    att[h * D + d] = (float)a;
                }
            }
            mm(T(g, "blk.%d.attn_output.weight", l), att, xb2, H * D, C);
            for (int64_t i = 0; i < C; i++) x[i] += xb2[i];
            cb_rmsnorm_ref(xb, x, T(g, "blk.%d.ffn_norm.weight", l)->data, C, hp->rms_eps);
            mm(T(g, "blk.%d.ffn_gate.weight", l), xb, h1, C, F);
            mm(T(g, "blk.%d.ffn_up.weight", l), xb, h2, C, F);
            cb_swiglu_ref(h1, h2, F);
            mm(T(g, "blk.%d.ffn_down.weight", l), h1, xb2, F, C);
            for (int64_t i = 0; i < C; i++) x[i] += xb2[i];
        }
        cb_rmsnorm_ref(xb, x, cb_gguf_find_tensor(g, "output_norm.weight")->data, C, hp->rms_eps);
        cb_matmul_ref(O->type, O->data, xb, logits + (size_t)t * V, 1, C, V);
    }
    free(x), free(xb), free(xb2), free(q), free(att), free(kc), free(vc), free(h1), free(h2), free(sc);
}

/* Optimized forward: the n tokens as one batch in slot 1 of a 2-slot cache. */
static void fast_forward(const cb_model *m, const int32_t *tokens, int n, int threads, float *logits) {
    cb_err e;
    cb_kv_cache *kv = NULL;
    cb_model_scratch *s = NULL;
    cb_pool *pool = NULL;
    cr_assert_eq(cb_kv_cache_new(m, 2, 64, &kv, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_model_scratch_new(m, 64, 64, 64, threads, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_pool_new(threads, &pool, &e), 0, "%s", e.msg);
    int32_t slot[64], pos[64];
    uint8_t want[64];
    for (int i = 0; i < n; i++) slot[i] = 1, pos[i] = i, want[i] = 1;
    cb_batch b = {.n_tokens = n, .token = tokens, .slot = slot, .pos = pos, .want_logits = want};
    cr_assert_eq(cb_model_forward(m, kv, s, pool, &b, logits, &e), 0, "%s", e.msg);
    cb_pool_free(pool);
    cb_model_scratch_free(s);
    cb_kv_cache_free(kv);
}

static const int32_t TOKS[12] = {1, 300, 4000, 17, 31999, 250, 5, 900, 12000, 77, 3, 2};

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* The same n tokens decoded one per forward call (T = 1 at positions 0..n-1). */
static void fast_forward_one_by_one(const cb_model *m, const int32_t *tokens, int n, float *logits) {
    cb_err e;
    cb_kv_cache *kv = NULL;
    cb_model_scratch *s = NULL;
    cr_assert_eq(cb_kv_cache_new(m, 2, 64, &kv, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_model_scratch_new(m, 64, 64, 64, 1, &s, &e), 0, "%s", e.msg);
    for (int i = 0; i < n; i++) {
        int32_t slot = 1, pos = i;
        uint8_t want = 1;
        cb_batch b = {.n_tokens = 1, .token = tokens + i, .slot = &slot, .pos = &pos, .want_logits = &want};
        cr_assert_eq(cb_model_forward(m, kv, s, NULL, &b, logits + (size_t)i * cb_model_get_hparams(m)->n_vocab, &e),
                     0, "%s", e.msg);
    }
    cb_model_scratch_free(s);
    cb_kv_cache_free(kv);
}

/* tol: allowed max |fast - naive| as a fraction of the largest logit. */
static void check_path_fast_vs_naive_tol(const char *path, const char *label, int neox, double tol) {
    cb_gguf *g = NULL;
    cb_model *m = NULL;
    cb_err e;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cb_model_opts mo = {.rope_neox = neox};
    cr_assert_eq(cb_model_load(g, &mo, &m, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_model_get_hparams(m)->rope_neox, neox);
    size_t V = 32000, n = 12;
    float *a = malloc(n * V * sizeof(float)), *b = malloc(n * V * sizeof(float));
    naive_forward(g, m, TOKS, (int)n, a);
    fast_forward(m, TOKS, (int)n, 2, b);
    double scale = max_abs(a, n * V), worst = 0;
    cr_assert_gt(scale, 0.0);
    for (size_t i = 0; i < n * V; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    cr_expect(worst <= tol * scale + 1e-6, "%s neox %d: fast vs naive differ by %g (scale %g)", label, neox, worst,
              scale);
    /* batch invariance through the whole model: one batch of n == n single-token steps, bit for bit */
    fast_forward_one_by_one(m, TOKS, (int)n, a);
    cr_expect(memcmp(a, b, n * V * sizeof(float)) == 0, "%s: batched and token-by-token logits differ", label);
    free(a);
    free(b);
    cb_model_free(m);
    cb_gguf_free(g);
}

static void check_fast_vs_naive(int which, int neox) {
    check_path_fast_vs_naive_tol(paths[which], types[which], neox, 1e-4);
}

/* The 4/5/6-bit types (every one) through the whole forward pass: the batched engine
 * (quantized activations, integer block dots) against the naive forward
 * (cb_matmul_ref: the same activations decoded, double sums), and against
 * itself fed one token per step (bit-identical). The naive comparison is
 * loose on purpose: activations are rounded to 8-bit codes before each
 * product, so a last-bit difference upstream (double vs float attention,
 * RMSNorm sums) now and then moves one code by a step; every later token
 * attends to that K/V entry and shifts by ~1% of the logit scale (measured:
 * positions before the first such flip agree to 2e-7, later ones to 1.5e-2).
 * A wrong layout or scale would be off by the whole scale. */
Test(model, quantized_types_fast_vs_naive) {
    static const char *const q[][2] = {{"tiny", "q4_0"},       {"tiny", "q4_1"},     {"tiny", "q5_0"},
                                       {"tiny", "q5_1"},       {"tiny256", "q4_k"},  {"tiny256", "q4_k_m"},
                                       {"tiny256", "q5_k"},    {"tiny256", "q6_k"}};
    for (int i = 0; i < (int)(sizeof q / sizeof *q); i++) {
        char path[256];
        snprintf(path, sizeof path, "/tmp/cb_test_model_%ld_%s_%s.gguf", (long)getpid(), q[i][0], q[i][1]);
        cb_genmodel_opts o = {.shape = q[i][0], .type = q[i][1], .seed = 3, .synth_vocab = 1, .out_path = path,
                              .n_threads = 1};
        cb_err e;
        cb_err_clear(&e);
        cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
        check_path_fast_vs_naive_tol(path, q[i][1], 0, 3e-2);
        unlink(path);
    }
}

Test(model, hparams_and_counts) {
    cb_gguf *g = NULL;
    cb_model *m = NULL;
    cb_err e;
    cr_assert_eq(cb_gguf_open(paths[0], &g, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_model_load(g, NULL, &m, &e), 0, "%s", e.msg);
    const cb_model_hparams *hp = cb_model_get_hparams(m);
    cr_expect_str_eq(hp->arch, "llama");
    cr_expect_eq(hp->n_vocab, 32000);
    cr_expect_eq(hp->n_embd, 64);
    cr_expect_eq(hp->n_layer, 2);
    cr_expect_eq(hp->n_head, 4);
    cr_expect_eq(hp->n_head_kv, 2);
    cr_expect_eq(hp->head_dim, 16);
    cr_expect_eq(hp->n_rot, 16);
    cr_expect_eq(hp->n_ff, 160);
    cr_expect_eq(hp->rope_neox, 0);
    cr_expect_eq(hp->tied_output, 0);
    cr_expect_eq(hp->rope_scaling, CB_ROPE_SCALING_NONE);
    int64_t total = 0;
    for (uint64_t i = 0; i < cb_gguf_n_tensors(g); i++) total += (int64_t)cb_gguf_tensor_at(g, i)->n_elems;
    cr_expect_eq(cb_model_n_params(m), total);
    cr_expect_eq(cb_model_n_params_nonembd(m), total - 2 * 32000 * 64);
    const float *inv = cb_model_rope_inv_freq(m);
    cr_expect_float_eq(inv[0], 1.0f, 1e-7);
    cr_expect_float_eq(inv[1], powf(10000.0f, -2.0f / 16.0f), 1e-6);
    cb_model_free(m);
    cb_gguf_free(g);
}

Test(model, forward_f32_vs_naive) { check_fast_vs_naive(0, 0); }
Test(model, forward_f16_vs_naive) { check_fast_vs_naive(1, 0); }
Test(model, forward_q8_0_vs_naive) { check_fast_vs_naive(2, 0); }
Test(model, forward_neox_vs_naive) { check_fast_vs_naive(0, 1); }

Test(model, f32_f16_q8_0_agree) {
    size_t V = 32000, n = 12;
    float *l[3];
    for (int i = 0; i < 3; i++) {
        cb_gguf *g = NULL;
        cb_model *m = NULL;
        cb_err e;
        cr_assert_eq(cb_gguf_open(paths[i], &g, &e), 0, "%s", e.msg);
        cr_assert_eq(cb_model_load(g, NULL, &m, &e), 0, "%s", e.msg);
        l[i] = malloc(n * V * sizeof(float));
        fast_forward(m, TOKS, (int)n, 1, l[i]);
        cb_model_free(m);
        cb_gguf_free(g);
    }
    double scale = max_abs(l[0], n * V), d16 = 0, d8 = 0;
    for (size_t i = 0; i < n * V; i++) {
        d16 = fmax(d16, fabs(l[0][i] - l[1][i]));
        d8 = fmax(d8, fabs(l[0][i] - l[2][i]));
    }
    cr_expect(d16 <= 0.01 * scale, "F16 vs F32: %g (scale %g)", d16, scale);
    cr_expect(d8 <= 0.05 * scale, "Q8_0 vs F32: %g (scale %g)", d8, scale);
    cr_expect_gt(d8, 0.0); /* they are different weights after all */
    for (int i = 0; i < 3; i++) free(l[i]);
}

/* ---- malformed models ---------------------------------------------------------- */

typedef struct edit {
    const char *drop;        /* tensor left out */
    const char *reshape;     /* tensor written with its two dims swapped */
    const char *retype;      /* F32 tensor written as F16 */
    const char *arch;        /* general.architecture */
    int drop_embd_len;       /* leave out llama.embedding_length */
    const char *scaling;     /* llama.rope.scaling.type, with factor 2 */
    const char *set_key;     /* a u32 key added with value set_val */
    uint32_t set_val;
} edit;

/* Rewrites the tiny F32 model with one edit into out; returns 0. */
static void rewrite(const edit *ed, const char *out) {
    cb_gguf *src = NULL;
    cb_gguf_writer *w = NULL;
    cb_err e;
    cr_assert_eq(cb_gguf_open(paths[0], &src, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cb_gguf_writer_copy_kv(w, src, "tokenizer.");
    for (uint64_t i = 0; i < cb_gguf_n_kv(src); i++) {
        const char *k = cb_gguf_key(src, i);
        uint64_t u;
        float f;
        if (strncmp(k, "llama.", 6) != 0) continue;
        if (ed->drop_embd_len && strcmp(k, "llama.embedding_length") == 0) continue;
        if (cb_gguf_kv_type(src, i) == CB_GGUF_F32 && cb_gguf_get_f32(src, k, &f) == 0) cb_gguf_writer_set_f32(w, k, f);
        else if (cb_gguf_get_u64(src, k, &u) == 0) cb_gguf_writer_set_u32(w, k, (uint32_t)u);
    }
    cb_gguf_writer_set_str(w, "general.architecture", ed->arch ? ed->arch : "llama");
    if (ed->set_key) cb_gguf_writer_set_u32(w, ed->set_key, ed->set_val);
    if (ed->scaling) {
        cb_gguf_writer_set_str(w, "llama.rope.scaling.type", ed->scaling);
        cb_gguf_writer_set_f32(w, "llama.rope.scaling.factor", 2.0f);
    }
    for (uint64_t i = 0; i < cb_gguf_n_tensors(src); i++) {
        const cb_gguf_tensor *t = cb_gguf_tensor_at(src, i);
        if (ed->drop && strcmp(t->name, ed->drop) == 0) continue;
        uint64_t ne[2] = {t->ne[0], t->ne[1]};
        uint32_t type = t->type;
        const void *data = t->data;
        uint16_t *half = NULL;
        if (ed->reshape && strcmp(t->name, ed->reshape) == 0) {
            ne[0] = t->ne[1];
            ne[1] = t->ne[0];
        }
        if (ed->retype && strcmp(t->name, ed->retype) == 0) {
            half = malloc(t->n_elems * sizeof *half);
            for (uint64_t k = 0; k < t->n_elems; k++) half[k] = cb_fp32_to_fp16(((const float *)t->data)[k]);
            type = CB_GGML_F16;
            data = half;
        }
        cb_gguf_writer_add_tensor(w, t->name, type, t->n_dims, ne, data);
        free(half);
    }
    cr_assert_eq(cb_gguf_writer_write(w, out, &e), 0, "%s", e.msg);
    cb_gguf_writer_free(w);
    cb_gguf_free(src);
}

static int load_edited(const edit *ed, cb_err *e, cb_model_hparams *hp) {
    char out[256];
    snprintf(out, sizeof out, "/tmp/cb_test_model_%ld_edit.gguf", (long)getpid());
    rewrite(ed, out);
    cb_gguf *g = NULL;
    cb_model *m = NULL;
    cb_err_clear(e);
    cr_assert_eq(cb_gguf_open(out, &g, e), 0, "%s", e->msg);
    int rc = cb_model_load(g, NULL, &m, e);
    if (rc == 0 && hp) *hp = *cb_model_get_hparams(m);
    if (rc == 0 && hp) {
        const float *inv = cb_model_rope_inv_freq(m);
        hp->rope_factor = inv[1]; /* smuggle one frequency out for the scaling test */
    }
    cr_expect(rc != 0 || m != NULL);
    cb_model_free(m);
    cb_gguf_free(g);
    unlink(out);
    return rc;
}

Test(model, malformed_models_name_the_problem) {
    cb_err e;
    edit ok = {0};
    cr_expect_eq(load_edited(&ok, &e, NULL), 0, "%s", e.msg);

    edit miss = {.drop = "blk.1.ffn_up.weight"};
    cr_expect_eq(load_edited(&miss, &e, NULL), CB_EFORMAT);
    cr_expect(strstr(e.msg, "blk.1.ffn_up.weight") && strstr(e.msg, "missing"), "%s", e.msg);

    edit shape = {.reshape = "blk.0.attn_k.weight"};
    cr_expect_eq(load_edited(&shape, &e, NULL), CB_EFORMAT);
    cr_expect(strstr(e.msg, "blk.0.attn_k.weight") && strstr(e.msg, "shape"), "%s", e.msg);

    edit type = {.retype = "blk.0.ffn_norm.weight"};
    cr_expect_eq(load_edited(&type, &e, NULL), CB_EUNSUP);
    cr_expect(strstr(e.msg, "blk.0.ffn_norm.weight") && strstr(e.msg, "F16"), "%s", e.msg);

    edit arch = {.arch = "gpt2"};
    cr_expect_eq(load_edited(&arch, &e, NULL), CB_EUNSUP);
    cr_expect(strstr(e.msg, "'gpt2'") && strstr(e.msg, "supported: llama, qwen2, phi3, gemma2"), "%s", e.msg);

    /* Mixtral-style files (llama arch with experts) and mismatched value heads are refused */
    edit moe = {.set_key = "llama.expert_count", .set_val = 8};
    cr_expect_eq(load_edited(&moe, &e, NULL), CB_EUNSUP);
    cr_expect(strstr(e.msg, "expert_count") && strstr(e.msg, "mixture-of-experts"), "%s", e.msg);
    edit vlen = {.set_key = "llama.attention.value_length", .set_val = 8};
    cr_expect_eq(load_edited(&vlen, &e, NULL), CB_EUNSUP);
    cr_expect(strstr(e.msg, "value_length 8"), "%s", e.msg);
    /* Mistral/Nemo-style explicit head size equal to the default loads */
    edit klen = {.set_key = "llama.attention.key_length", .set_val = 16};
    cr_expect_eq(load_edited(&klen, &e, NULL), 0, "%s", e.msg);

    edit key = {.drop_embd_len = 1};
    cr_expect_eq(load_edited(&key, &e, NULL), CB_EFORMAT);
    cr_expect(strstr(e.msg, "llama.embedding_length") != NULL, "%s", e.msg);

    edit tied = {.drop = "output.weight"};
    cb_model_hparams hp;
    cr_expect_eq(load_edited(&tied, &e, &hp), 0, "%s", e.msg);
    cr_expect_eq(hp.tied_output, 1);

    edit yarn = {.scaling = "yarn"};
    cr_expect_eq(load_edited(&yarn, &e, NULL), CB_EUNSUP);
    cr_expect(strstr(e.msg, "yarn") != NULL, "%s", e.msg);
}

Test(model, rope_scaling) {
    cb_err e;
    cb_model_hparams hp;
    edit lin = {.scaling = "linear"};
    cr_assert_eq(load_edited(&lin, &e, &hp), 0, "%s", e.msg);
    cr_expect_eq(hp.rope_scaling, CB_ROPE_SCALING_LINEAR);
    /* inv_freq[1] halved by factor 2 */
    cr_expect_float_eq(hp.rope_factor, powf(10000.0f, -2.0f / 16.0f) / 2.0f, 1e-6);
    edit l3 = {.scaling = "llama3"};
    cr_assert_eq(load_edited(&l3, &e, &hp), 0, "%s", e.msg);
    cr_expect_eq(hp.rope_scaling, CB_ROPE_SCALING_LLAMA3);
    cr_expect_float_eq(hp.rope_low_freq_factor, 1.0f, 0);
    cr_expect_float_eq(hp.rope_high_freq_factor, 4.0f, 0);
    cr_expect_eq(hp.rope_orig_ctx, 8192);
    /* inv_freq[1] = 10000^-1/8 = 0.316: wavelength 19.9 < 8192/4, so unscaled */
    cr_expect_float_eq(hp.rope_factor, powf(10000.0f, -2.0f / 16.0f), 1e-6);
}

Test(model, forward_rejects_bad_batches) {
    cb_gguf *g = NULL;
    cb_model *m = NULL;
    cb_kv_cache *kv = NULL;
    cb_model_scratch *s = NULL;
    cb_err e;
    cr_assert_eq(cb_gguf_open(paths[0], &g, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_model_load(g, NULL, &m, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_kv_cache_new(m, 1, 8, &kv, &e), 0);
    cr_assert_eq(cb_model_scratch_new(m, 4, 2, 8, 1, &s, &e), 0);
    float logits[2 * 32000];
    int32_t tok[5] = {1, 2, 3, 4, 5}, slot[5] = {0}, pos[5] = {0, 1, 2, 3, 4};
    uint8_t want[5] = {1, 1, 1, 0, 0};
    cb_batch b = {.n_tokens = 5, .token = tok, .slot = slot, .pos = pos, .want_logits = want};
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), CB_EUSAGE); /* 5 tokens > 4 */
    b.n_tokens = 3;
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), CB_EUSAGE); /* 3 rows > 2 */
    want[2] = 0;
    tok[1] = 32000;
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), CB_EUSAGE);
    tok[1] = 2;
    slot[2] = 1;
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), CB_EUSAGE);
    slot[2] = 0;
    pos[2] = 8;
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), CB_EUSAGE);
    pos[2] = 2;
    cr_expect_eq(cb_model_forward(m, kv, s, NULL, &b, logits, &e), 0, "%s", e.msg);
    cb_model_scratch_free(s);
    cb_kv_cache_free(kv);
    cb_model_free(m);
    cb_gguf_free(g);
}
