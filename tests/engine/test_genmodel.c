/* tests/engine/test_genmodel.c — random llama model generator.
 *
 * Generates the "tiny" shape with a synthesized vocab in each dtype and reads
 * it back: tensor names, shapes, types, llama.* metadata, tokenizer keys, norm
 * weights of 1.0 and weights with the intended spread. The same seed gives the
 * same sha256 whatever the thread count; another seed gives another file; the
 * F16 and Q8_0 files hold the F32 file's values rounded. With the shared
 * llama-spm vocab present, its tokenizer keys are copied.
 */
#include "engine/genmodel.h"

#include "common/sha256.h"
#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void gen_shape(const char *shape, const char *type, uint64_t seed, int threads, const char *tag, char *path,
                      size_t n) {
    snprintf(path, n, "/tmp/cb_test_genmodel_%ld_%s.gguf", (long)getpid(), tag);
    cb_genmodel_opts o = {.shape = shape, .type = type, .seed = seed, .synth_vocab = 1, .out_path = path,
                          .n_threads = threads};
    cb_err e = {0};
    cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
}

static void gen_tiny(const char *type, uint64_t seed, int threads, const char *tag, char *path, size_t n) {
    gen_shape("tiny", type, seed, threads, tag, path, n);
}

static void sha(const char *path, char hex[65]) {
    cb_err e = {0};
    cr_assert_eq(cb_sha256_file(path, hex, NULL, &e), 0, "%s", e.msg);
}

static uint64_t u64_key(cb_gguf *g, const char *k) {
    uint64_t v = 0;
    cr_expect_eq(cb_gguf_get_u64(g, k, &v), 0, "%s", k);
    return v;
}

static void expect_tensor(cb_gguf *g, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1, uint32_t nd) {
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, name);
    cr_assert_not_null(t, "missing %s", name);
    cr_expect_eq(t->type, type, "%s type %u", name, t->type);
    cr_expect_eq(t->n_dims, nd, "%s n_dims", name);
    cr_expect_eq(t->ne[0], ne0, "%s ne0 %llu", name, (unsigned long long)t->ne[0]);
    cr_expect_eq(t->ne[1], ne1, "%s ne1 %llu", name, (unsigned long long)t->ne[1]);
}

Test(genmodel, tiny_f32_structure_and_values) {
    char path[256];
    gen_tiny("f32", 1, 2, "f32", path, sizeof path);
    cb_err e = {0};
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cb_gguf_str s;
    cr_expect_eq(cb_gguf_get_str(g, "general.architecture", &s), 0);
    cr_expect(s.len == 5 && !memcmp(s.ptr, "llama", 5));
    cr_expect_eq(u64_key(g, "llama.embedding_length"), 64);
    cr_expect_eq(u64_key(g, "llama.block_count"), 2);
    cr_expect_eq(u64_key(g, "llama.attention.head_count"), 4);
    cr_expect_eq(u64_key(g, "llama.attention.head_count_kv"), 2);
    cr_expect_eq(u64_key(g, "llama.feed_forward_length"), 160);
    cr_expect_eq(u64_key(g, "llama.context_length"), 512);
    cr_expect_eq(u64_key(g, "llama.rope.dimension_count"), 16);
    cr_expect_eq(u64_key(g, "general.file_type"), 0);
    cr_expect_eq(u64_key(g, "capbench.genmodel.seed"), 1);
    float f;
    cr_expect_eq(cb_gguf_get_f32(g, "llama.rope.freq_base", &f), 0);
    cr_expect_eq(f, 10000.0f);
    cr_expect_eq(cb_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f), 0);
    cr_expect_eq(f, 1e-5f);
    cr_expect_eq(cb_gguf_get_str(g, "tokenizer.ggml.model", &s), 0);
    cr_expect(s.len == 5 && !memcmp(s.ptr, "llama", 5));
    uint32_t et;
    uint64_t n;
    cr_expect_eq(cb_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), 0);
    cr_expect_eq(n, 32000);
    cr_expect_eq(cb_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n), 0);
    cr_expect(et == CB_GGUF_F32 && n == 32000);
    cr_expect_eq(cb_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &n), 0);
    cr_expect(et == CB_GGUF_I32 && n == 32000);
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &s), 0);
    cr_expect(s.len == 3 && !memcmp(s.ptr, "<s>", 3));
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 3, &s), 0);
    cr_expect(s.len == 6 && !memcmp(s.ptr, "<0x00>", 6));
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 258, &s), 0);
    cr_expect(s.len == 6 && !memcmp(s.ptr, "<0xFF>", 6));
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 259, &s), 0);
    cr_expect(s.len == 3 && !memcmp(s.ptr, "\xe2\x96\x81", 3));
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 260, &s), 0);
    cr_expect(s.len == 4 && !memcmp(s.ptr, "\xe2\x96\x81" "a", 4));
    int64_t tt;
    cr_expect_eq(cb_gguf_arr_i64(g, "tokenizer.ggml.token_type", 3, &tt), 0);
    cr_expect_eq(tt, 6);
    cr_expect_eq(cb_gguf_arr_i64(g, "tokenizer.ggml.token_type", 0, &tt), 0);
    cr_expect_eq(tt, 2);
    cr_expect_eq(u64_key(g, "tokenizer.ggml.bos_token_id"), 1);
    cr_expect_eq(u64_key(g, "tokenizer.ggml.eos_token_id"), 2);
    cr_expect_eq(u64_key(g, "tokenizer.ggml.unknown_token_id"), 0);

    cr_expect_eq(cb_gguf_n_tensors(g), 3 + 9 * 2);
    expect_tensor(g, "token_embd.weight", CB_GGML_F32, 64, 32000, 2);
    expect_tensor(g, "output.weight", CB_GGML_F32, 64, 32000, 2);
    expect_tensor(g, "output_norm.weight", CB_GGML_F32, 64, 1, 1);
    for (int l = 0; l < 2; l++) {
        char nm[64];
#define T(part, ty, a, b, nd)                                   \
    snprintf(nm, sizeof nm, "blk.%d." part ".weight", l);       \
    expect_tensor(g, nm, ty, a, b, nd)
        T("attn_norm", CB_GGML_F32, 64, 1, 1);
        T("attn_q", CB_GGML_F32, 64, 64, 2);
        T("attn_k", CB_GGML_F32, 64, 32, 2);
        T("attn_v", CB_GGML_F32, 64, 32, 2);
        T("attn_output", CB_GGML_F32, 64, 64, 2);
        T("ffn_norm", CB_GGML_F32, 64, 1, 1);
        T("ffn_gate", CB_GGML_F32, 64, 160, 2);
        T("ffn_up", CB_GGML_F32, 64, 160, 2);
        T("ffn_down", CB_GGML_F32, 160, 64, 2);
#undef T
    }
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, "blk.1.ffn_norm.weight");
    const float *w = t->data;
    for (int i = 0; i < 64; i++) cr_expect_eq(w[i], 1.0f);
    /* token_embd: 2M samples of N(0, 0.02) */
    t = cb_gguf_find_tensor(g, "token_embd.weight");
    w = t->data;
    double sum = 0, sq = 0;
    for (uint64_t i = 0; i < t->n_elems; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
    }
    double mean = sum / (double)t->n_elems, sd = sqrt(sq / (double)t->n_elems - mean * mean);
    cr_expect(fabs(mean) < 1e-4, "mean %g", mean);
    cr_expect(fabs(sd - 0.02) < 2e-4, "std %g", sd);
    /* the two matrices of the same shape are different streams */
    cr_expect_neq(memcmp(t->data, cb_gguf_find_tensor(g, "output.weight")->data, 4096), 0);
    cb_gguf_free(g);
    unlink(path);
}

Test(genmodel, deterministic_per_seed_and_thread_count) {
    char a[256], b[256], c[256];
    char ha[65], hb[65], hc[65];
    gen_tiny("q8_0", 42, 1, "s42a", a, sizeof a);
    gen_tiny("q8_0", 42, 3, "s42b", b, sizeof b);
    gen_tiny("q8_0", 43, 2, "s43", c, sizeof c);
    sha(a, ha);
    sha(b, hb);
    sha(c, hc);
    cr_expect_str_eq(ha, hb, "same seed, 1 vs 3 threads");
    cr_expect_str_neq(ha, hc, "different seeds");
    unlink(a);
    unlink(b);
    unlink(c);
}

/* F16 and Q8_0 hold the F32 model's values (same seed) rounded to their format. */
Test(genmodel, f16_and_q8_0_round_the_f32_values) {
    char p32[256], p16[256], p8[256];
    gen_tiny("f32", 7, 2, "r32", p32, sizeof p32);
    gen_tiny("f16", 7, 2, "r16", p16, sizeof p16);
    gen_tiny("q8_0", 7, 2, "r8", p8, sizeof p8);
    cb_err e = {0};
    cb_gguf *g32, *g16, *g8;
    cr_assert_eq(cb_gguf_open(p32, &g32, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_open(p16, &g16, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_open(p8, &g8, &e), 0, "%s", e.msg);
    uint64_t ft;
    cr_expect_eq(cb_gguf_get_u64(g16, "general.file_type", &ft), 0);
    cr_expect_eq(ft, 1);
    cr_expect_eq(cb_gguf_get_u64(g8, "general.file_type", &ft), 0);
    cr_expect_eq(ft, 7);
    for (uint64_t i = 0; i < cb_gguf_n_tensors(g32); i++) {
        const cb_gguf_tensor *a = cb_gguf_tensor_at(g32, i);
        const cb_gguf_tensor *h = cb_gguf_find_tensor(g16, a->name);
        const cb_gguf_tensor *q = cb_gguf_find_tensor(g8, a->name);
        cr_assert(h && q, "%s", a->name);
        cr_expect_eq(h->n_elems, a->n_elems);
        if (a->n_dims == 1) {
            cr_expect(h->type == CB_GGML_F32 && q->type == CB_GGML_F32, "norms stay F32: %s", a->name);
            continue;
        }
        cr_expect_eq(h->type, CB_GGML_F16, "%s", a->name);
        cr_expect_eq(q->type, CB_GGML_Q8_0, "%s", a->name);
        const float *x = a->data;
        const uint16_t *xh = h->data;
        const cb_block_q8_0 *xq = q->data;
        uint64_t n = a->n_elems < 8192 ? a->n_elems : 8192;
        for (uint64_t k = 0; k < n; k++) {
            cr_assert_eq(xh[k], cb_fp32_to_fp16(x[k]), "%s f16[%llu]", a->name, (unsigned long long)k);
            float d = cb_fp16_to_fp32(xq[k / 32].d);
            float v = d * (float)xq[k / 32].qs[k % 32];
            /* half a step, plus the fp16 rounding of the scale (relative 2^-11) times |x| */
            cr_assert(fabsf(v - x[k]) <= 0.5f * d + fabsf(x[k]) * 1e-3f + 1e-7f, "%s q8[%llu] %g vs %g", a->name,
                      (unsigned long long)k, v, x[k]);
        }
    }
    cb_gguf_free(g32);
    cb_gguf_free(g16);
    cb_gguf_free(g8);
    unlink(p32);
    unlink(p16);
    unlink(p8);
}

Test(genmodel, copies_shared_llama_spm_vocab) {
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir) cr_skip_test("CAPBENCH_SHARED_DIR is not set");
    char vocab[1024], path[256];
    snprintf(vocab, sizeof vocab, "%s/reference/tokenizer/ggml-vocab-llama-spm.gguf", dir);
    if (access(vocab, R_OK) != 0) cr_skip_test("%s is absent", vocab);
    snprintf(path, sizeof path, "/tmp/cb_test_genmodel_%ld_vocab.gguf", (long)getpid());
    cb_genmodel_opts o = {.shape = "tiny", .type = "f16", .seed = 3, .out_path = path, .n_threads = 1};
    cb_err e = {0};
    cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg); /* default vocab: the shared file */
    cb_gguf *g, *v;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_open(vocab, &v, &e), 0, "%s", e.msg);
    uint64_t copied = 0;
    for (uint64_t i = 0; i < cb_gguf_n_kv(v); i++) {
        const char *k = cb_gguf_key(v, i);
        if (strncmp(k, "tokenizer.", 10)) continue;
        copied++;
        cr_expect_geq(cb_gguf_find_key(g, k), 0, "%s copied", k);
    }
    cr_expect_geq(copied, 8);
    cb_gguf_str a, b;
    for (uint64_t i = 0; i < 32000; i += 997) {
        cr_assert_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &a), 0);
        cr_assert_eq(cb_gguf_arr_str(v, "tokenizer.ggml.tokens", i, &b), 0);
        cr_expect(a.len == b.len && !memcmp(a.ptr, b.ptr, a.len), "token %llu", (unsigned long long)i);
    }
    expect_tensor(g, "token_embd.weight", CB_GGML_F16, 64, 32000, 2);
    cb_gguf_free(v);
    cb_gguf_free(g);
    unlink(path);
}

Test(genmodel, bad_options) {
    cb_err e = {0};
    cb_genmodel_opts o = {.shape = "huge", .type = "f16", .out_path = "/tmp/x.gguf"};
    cr_expect_eq(cb_genmodel_write(&o, &e), CB_EUSAGE);
    cr_expect(strstr(e.msg, "huge") != NULL, "%s", e.msg);
    o.shape = "tiny";
    o.type = "q3_k";
    cr_expect_eq(cb_genmodel_write(&o, &e), CB_EUSAGE);
    cr_expect(strstr(e.msg, "q3_k") != NULL && strstr(e.msg, "q4_k_m") != NULL, "%s", e.msg);
    o.type = "f16";
    o.vocab_path = "/nonexistent/vocab.gguf";
    cr_expect_eq(cb_genmodel_write(&o, &e), CB_EIO);
    o.vocab_path = NULL;
    o.out_path = NULL;
    cr_expect_eq(cb_genmodel_write(&o, &e), CB_EUSAGE);
}

/* Each quantized --type: the matrices get the type (or llama-quantize's
 * fallback where rows are not a multiple of 256), general.file_type is
 * llama.cpp's ftype, and every matrix decodes close to the F32 model of the
 * same seed (relative RMS error within the bit width's reach). */
static void check_quantized(const char *shape, const char *type, uint32_t want_type, uint32_t ft_want, double bound) {
    char p32[256], pq[256], tag[64];
    snprintf(tag, sizeof tag, "%s_%s_32", shape, type);
    gen_shape(shape, "f32", 11, 2, tag, p32, sizeof p32);
    snprintf(tag, sizeof tag, "%s_%s", shape, type);
    gen_shape(shape, type, 11, 2, tag, pq, sizeof pq);
    cb_err e = {0};
    cb_gguf *g32, *gq;
    cr_assert_eq(cb_gguf_open(p32, &g32, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_open(pq, &gq, &e), 0, "%s", e.msg);
    uint64_t ft;
    cr_expect_eq(cb_gguf_get_u64(gq, "general.file_type", &ft), 0);
    cr_expect_eq(ft, ft_want, "%s file_type %llu", type, (unsigned long long)ft);
    for (uint64_t i = 0; i < cb_gguf_n_tensors(g32); i++) {
        const cb_gguf_tensor *a = cb_gguf_tensor_at(g32, i), *q = cb_gguf_find_tensor(gq, a->name);
        cr_assert(q && q->n_elems == a->n_elems, "%s", a->name);
        if (a->n_dims == 1) {
            cr_expect_eq(q->type, CB_GGML_F32, "norms stay F32: %s", a->name);
            continue;
        }
        if (want_type) cr_expect_eq(q->type, want_type, "%s %s: %s", type, a->name, cb_ggml_type_name(q->type));
        int64_t K = (int64_t)a->ne[0];
        float *y = malloc((size_t)K * sizeof *y);
        size_t rb = cb_row_bytes(q->type, K);
        double se = 0, sx = 0;
        for (uint64_t r = 0; r < a->ne[1] && r < 64; r++) {
            cb_dequantize_row(q->type, (const char *)q->data + r * rb, y, K);
            const float *x = (const float *)a->data + r * (uint64_t)K;
            for (int64_t k = 0; k < K; k++) se += ((double)y[k] - x[k]) * ((double)y[k] - x[k]), sx += (double)x[k] * x[k];
        }
        cr_expect(sqrt(se / sx) < bound, "%s %s (%s): relative RMS error %.4f", type, a->name,
                  cb_ggml_type_name(q->type), sqrt(se / sx));
        free(y);
    }
    cb_gguf_free(gq);
    cb_gguf_free(g32);
    unlink(pq);
    unlink(p32);
}

Test(genmodel, quantized_types) {
    check_quantized("tiny", "q4_0", CB_GGML_Q4_0, 2, 0.15);
    check_quantized("tiny", "q4_1", CB_GGML_Q4_1, 3, 0.12);
    check_quantized("tiny", "q5_0", CB_GGML_Q5_0, 8, 0.08);
    check_quantized("tiny", "q5_1", CB_GGML_Q5_1, 9, 0.06);
    /* tiny's 64-wide rows: the K-quants fall back (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0),
     * except ffn_down (160 wide) likewise */
    check_quantized("tiny", "q4_k", CB_GGML_Q5_0, 14, 0.08);
    check_quantized("tiny", "q6_k", CB_GGML_Q8_0, 18, 0.01);
    check_quantized("tiny256", "q4_k", CB_GGML_Q4_K, 14, 0.12);
    check_quantized("tiny256", "q5_k", CB_GGML_Q5_K, 16, 0.06);
    check_quantized("tiny256", "q6_k", CB_GGML_Q6_K, 18, 0.04);
}

/* Q4_K_M on the 8-layer tiny256 shape: output Q6_K; attn_v and ffn_down Q6_K
 * on layers 0, 3, 6, 7 (l < 1, l >= 7, (l - 1) % 3 == 2); the rest Q4_K. */
Test(genmodel, q4_k_m_recipe) {
    check_quantized("tiny256", "q4_k_m", 0, 15, 0.12);
    char p[256];
    gen_shape("tiny256", "q4_k_m", 5, 2, "q4km", p, sizeof p);
    cb_err e = {0};
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(p, &g, &e), 0, "%s", e.msg);
    expect_tensor(g, "output.weight", CB_GGML_Q6_K, 256, 32000, 2);
    expect_tensor(g, "token_embd.weight", CB_GGML_Q4_K, 256, 32000, 2);
    for (int l = 0; l < 8; l++) {
        int more = l == 0 || l == 3 || l == 6 || l == 7;
        char n[64];
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
        expect_tensor(g, n, more ? CB_GGML_Q6_K : CB_GGML_Q4_K, 256, 128, 2);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
        expect_tensor(g, n, more ? CB_GGML_Q6_K : CB_GGML_Q4_K, 512, 256, 2);
        static const char *const rest[] = {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"};
        for (int r = 0; r < 5; r++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, rest[r]);
            const cb_gguf_tensor *t = cb_gguf_find_tensor(g, n);
            cr_assert_not_null(t, "%s", n);
            cr_expect_eq(t->type, CB_GGML_Q4_K, "%s", n);
        }
    }
    cb_gguf_free(g);
    unlink(p);
}
