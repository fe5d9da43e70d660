/* engine/model.c — the transformer: loading (metadata, weight views,
 * validation) for llama, qwen2, phi3 and gemma2, the KV cache, and the
 * batched forward pass.
 *
 * Forward pass for a batch of T tokens (see model.h for the batch contract;
 * [brackets] mark what only some architectures do):
 *   x (T, C)   = token_embd[token] [* sqrt(C)]           (rows dequantized)
 *   per layer: xb = rmsnorm(x) * attn_norm
 *              q (T, H*D), k, v (T, Hkv*D) = xb @ Wq^T, Wk^T, Wv^T [+ biases]
 *              rope(q), rope(k) [q *= q_scale]; k, v -> KV cache (slot, pos)
 *              att (T, H*D) = softmax([softcap](q k^T [/ sqrt(D)]), causal
 *                             [, sliding window]) v     per (token, head)
 *              h = att @ Wo^T [h = rmsnorm(h) * post_attention_norm]; x += h
 *              xb = rmsnorm(x) * ffn_norm
 *              h = (act(xb @ Wgate^T) * (xb @ Wup^T)) @ Wdown^T, act = silu [or gelu]
 *              [h = rmsnorm(h) * post_ffw_norm]; x += h
 *   logits (n_out, V) = [softcap](rmsnorm(x[wanted rows]) * output_norm @ Wout^T)
 * Only the rows whose logits are wanted go through the output head, which is
 * the one vocabulary-sized matmul of a step. Fused GGUF tensors (phi3
 * attn_qkv, ffn_up = gate | up) are bound as row ranges of the one tensor:
 * a matmul's output elements do not depend on which rows are computed with
 * them, so the split changes no bit.
 *
 * It does not allocate during a forward pass: scratch and cache are made once.
 */
#include "engine/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A weight matrix: N rows of K in the tensor's type, possibly a row range of
 * a larger (fused) tensor. */
typedef struct cb_wmat {
    uint32_t type;
    const void *data;
} cb_wmat;

typedef struct cb_layer {
    const float *attn_norm;   /* (C) */
    cb_wmat wq, wk, wv, wo;
    const float *bq, *bk, *bv; /* (H*D), (Hkv*D), (Hkv*D) or NULL */
    const float *post_attn_norm; /* (C) or NULL */
    const float *ffn_norm;    /* (C) */
    cb_wmat w_gate, w_up, w_down;
    const float *post_ffn_norm;  /* (C) or NULL */
    int swa;                  /* this layer uses the sliding window */
} cb_layer;

struct cb_model {
    cb_model_hparams hp;
    const cb_gguf *g;
    const cb_gguf_tensor *tok_embd; /* ne = [C, V] */
    const cb_gguf_tensor *output;   /* ne = [C, V]; == tok_embd when tied */
    const float *output_norm;       /* (C) */
    cb_layer *layers;               /* n_layer */
    float *inv_freq;                /* n_rot / 2 */
    int64_t n_params, n_params_nonembd;
    uint64_t pass_bytes;
};

struct cb_kv_cache {
    int n_slots, n_ctx, n_layer;
    int64_t kv_dim;   /* Hkv * D */
    float *data;      /* [layer][slot][K|V][n_ctx][kv_dim] */
    size_t bytes;
};

struct cb_model_scratch {
    int max_tokens, max_out, n_ctx, n_threads;
    float *x, *xb;    /* (T, C) */
    float *q, *att;   /* (T, H*D) */
    float *k, *v;     /* (T, Hkv*D) */
    float *hb, *hb2;  /* (T, F) */
    float *xo;        /* (max_out, C) */
    float *scores;    /* (n_threads, n_ctx) */
    void *mem;
};

/* ---- loading ----------------------------------------------------------------- */

static int key_u64(const cb_gguf *g, const char *arch, const char *name, int required, uint64_t *out,
                   cb_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    int rc = cb_gguf_get_u64(g, key, out);
    if (rc == 0) return 0;
    if (rc == 1 && !required) return 1;
    return cb_err_set(err, CB_EFORMAT, "%s: metadata key '%s' is %s", cb_gguf_path(g), key,
                      rc == 1 ? "missing" : "not an unsigned integer");
}

static int key_f32(const cb_gguf *g, const char *arch, const char *name, float *out, cb_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    int rc = cb_gguf_get_f32(g, key, out);
    if (rc == 0) return 0;
    if (rc == 1) return 1;
    return cb_err_set(err, CB_EFORMAT, "%s: metadata key '%s' is not a float", cb_gguf_path(g), key);
}

static const struct {
    const char *name;
    cb_arch id;
} k_archs[] = {{"llama", CB_ARCH_LLAMA}, {"qwen2", CB_ARCH_QWEN2}, {"phi3", CB_ARCH_PHI3}, {"gemma2", CB_ARCH_GEMMA2}};

const char *cb_model_supported_archs(void) { return "llama, qwen2, phi3, gemma2"; }

/* Every type the GGUF reader accepts has a matmul kernel (cb_row_bytes != 0). */
static int is_matmul_type(uint32_t t) { return cb_row_bytes(t, cb_type_block_elems(t)) != 0; }

/* Binds tensor `name` and checks ne == [ne0, ne1, 1, 1] (ne1 = 1 for vectors)
 * and the type: any matmul type for matrices, F32 for vectors. */
static int bind(const cb_gguf *g, const char *name, int64_t ne0, int64_t ne1, int matrix,
                const cb_gguf_tensor **out, cb_err *err) {
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, name);
    if (!t) return cb_err_set(err, CB_EFORMAT, "%s: tensor '%s' is missing", cb_gguf_path(g), name);
    if ((int64_t)t->ne[0] != ne0 || (int64_t)t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return cb_err_set(err, CB_EFORMAT,
                          "%s: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                          cb_gguf_path(g), name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                          (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (long long)ne0,
                          (long long)ne1);
    if (matrix) {
        if (!is_matmul_type(t->type))
            return cb_err_set(err, CB_EUNSUP, "%s: tensor '%s' has type %s; supported: " CB_GGUF_SUPPORTED_TYPES,
                              cb_gguf_path(g), name, cb_ggml_type_name(t->type));
        if (cb_row_bytes(t->type, ne0) == 0)
            return cb_err_set(err, CB_EFORMAT, "%s: tensor '%s' is %s but its rows (%lld) are not a multiple of %lld",
                              cb_gguf_path(g), name, cb_ggml_type_name(t->type), (long long)ne0,
                              (long long)cb_type_block_elems(t->type));
    } else if (t->type != CB_GGML_F32) {
        return cb_err_set(err, CB_EUNSUP, "%s: tensor '%s' has type %s; norm weights must be F32", cb_gguf_path(g),
                          name, cb_ggml_type_name(t->type));
    }
    *out = t;
    return 0;
}

/* Fills m->inv_freq from the RoPE hyper-parameters (and rope_freqs.weight). */
static int init_rope(cb_model *m, cb_err *err) {
    cb_model_hparams *hp = &m->hp;
    int64_t n = hp->n_rot / 2;
    m->inv_freq = malloc((size_t)n * sizeof(float));
    if (!m->inv_freq) return cb_err_set(err, CB_ENOMEM, "out of memory (RoPE table)");
    /* theta_i = base^(-2i/n_rot), accumulated by repeated multiplication in
     * float as llama.cpp does, so angles round the same way. */
    float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
    float f = 1.0f;
    for (int64_t i = 0; i < n; i++) {
        m->inv_freq[i] = f;
        f *= theta_scale;
    }
    /* rope_freqs.weight is llama3 scaling written out per frequency (the
     * convert script computes it from the same keys), so it replaces the
     * formula instead of being applied on top of it. */
    const cb_gguf_tensor *rf = cb_gguf_find_tensor(m->g, "rope_freqs.weight");
    if (hp->rope_scaling == CB_ROPE_SCALING_LINEAR) {
        for (int64_t i = 0; i < n; i++) m->inv_freq[i] *= 1.0f / hp->rope_factor;
    } else if (hp->rope_scaling == CB_ROPE_SCALING_LLAMA3 && !rf) {
        const double pi = 3.14159265358979323846;
        double lo_wl = (double)hp->rope_orig_ctx / hp->rope_low_freq_factor;
        double hi_wl = (double)hp->rope_orig_ctx / hp->rope_high_freq_factor;
        for (int64_t i = 0; i < n; i++) {
            double fr = m->inv_freq[i], wl = 2.0 * pi / fr, nf;
            if (wl < hi_wl) {
                nf = fr;
            } else if (wl > lo_wl) {
                nf = fr / hp->rope_factor;
            } else {
                double smooth = ((double)hp->rope_orig_ctx / wl - hp->rope_low_freq_factor) /
                                (hp->rope_high_freq_factor - hp->rope_low_freq_factor);
                nf = (1.0 - smooth) * fr / hp->rope_factor + smooth * fr;
            }
            m->inv_freq[i] = (float)nf;
        }
    }
    if (rf) {
        const cb_gguf_tensor *t;
        int rc = bind(m->g, "rope_freqs.weight", n, 1, 0, &t, err);
        if (rc) return rc;
        const float *ff = t->data;
        for (int64_t i = 0; i < n; i++) {
            if (!(ff[i] > 0.0f))
                return cb_err_set(err, CB_EFORMAT, "%s: rope_freqs.weight[%lld] is not positive",
                                  cb_gguf_path(m->g), (long long)i);
            m->inv_freq[i] /= ff[i];
        }
        hp->has_rope_freqs = 1;
    }
    return 0;
}

static int read_rope_scaling(cb_model *m, cb_err *err) {
    cb_model_hparams *hp = &m->hp;
    const cb_gguf *g = m->g;
    const char *arch = hp->arch;
    char key[128], type[32] = "";
    cb_gguf_str s;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (cb_gguf_get_str(g, key, &s) == 0) {
        size_t n = s.len < sizeof type - 1 ? (size_t)s.len : sizeof type - 1;
        memcpy(type, s.ptr, n);
        type[n] = '\0';
    }
    float factor = 0.0f, lo = 0.0f, hi = 0.0f;
    int rf = key_f32(g, arch, "rope.scaling.factor", &factor, err);
    int rl = key_f32(g, arch, "rope.scaling.low_freq_factor", &lo, err);
    int rh = key_f32(g, arch, "rope.scaling.high_freq_factor", &hi, err);
    if (rf > 1) return rf;
    if (rl > 1) return rl;
    if (rh > 1) return rh;
    int has_factor = rf == 0, has_lo = rl == 0, has_hi = rh == 0;
    uint64_t orig = 0;
    int rc = key_u64(g, arch, "rope.scaling.original_context_length", 0, &orig, err);
    if (rc > 1) return rc;
    int has_orig = rc == 0;

    if (type[0] == '\0' && has_lo && has_hi) snprintf(type, sizeof type, "llama3");
    if (type[0] == '\0' && has_factor && factor != 1.0f) snprintf(type, sizeof type, "linear");
    if (type[0] == '\0' || strcmp(type, "none") == 0) {
        hp->rope_scaling = CB_ROPE_SCALING_NONE;
        return 0;
    }
    if (!has_factor || !(factor > 0.0f))
        return cb_err_set(err, CB_EFORMAT, "%s: RoPE scaling '%s' needs a positive %s.rope.scaling.factor",
                          cb_gguf_path(g), type, arch);
    hp->rope_factor = factor;
    if (strcmp(type, "linear") == 0) {
        hp->rope_scaling = CB_ROPE_SCALING_LINEAR;
        return 0;
    }
    if (strcmp(type, "llama3") == 0) {
        if (!has_lo) lo = 1.0f;
        if (!has_hi) hi = 4.0f;
        if (!has_orig) orig = 8192;
        if (!(hi > lo) || orig == 0)
            return cb_err_set(err, CB_EFORMAT,
                              "%s: llama3 RoPE scaling needs high_freq_factor > low_freq_factor and an original "
                              "context length",
                              cb_gguf_path(g));
        hp->rope_scaling = CB_ROPE_SCALING_LLAMA3;
        hp->rope_low_freq_factor = lo;
        hp->rope_high_freq_factor = hi;
        hp->rope_orig_ctx = (int64_t)orig;
        return 0;
    }
    return cb_err_set(err, CB_EUNSUP, "%s: RoPE scaling type '%s' is not supported (none, linear, llama3)",
                      cb_gguf_path(g), type);
}

/* Architecture-specific keys (see model.h). */
static int read_arch_extras(cb_model *m, cb_err *err) {
    cb_model_hparams *hp = &m->hp;
    const cb_gguf *g = m->g;
    const char *a = hp->arch, *path = cb_gguf_path(g);
    uint64_t v;
    int rc;
    if (hp->arch_id == CB_ARCH_PHI3) {
        hp->q_scale = 1.0f / sqrtf((float)hp->head_dim);
        /* required, as in the reference loader; 0 = no window (Phi-4 convention) */
        if ((rc = key_u64(g, a, "attention.sliding_window", 1, &v, err))) return rc;
        hp->sliding_window = (int64_t)v;
        if (cb_gguf_find_tensor(g, "rope_factors_long.weight") || cb_gguf_find_tensor(g, "rope_factors_short.weight"))
            return cb_err_set(err, CB_EUNSUP, "%s: LongRoPE factor tensors (Phi-3 128k) are not supported", path);
    } else if (hp->arch_id == CB_ARCH_GEMMA2) {
        hp->has_post_norms = 1;
        hp->ffn_gelu = 1;
        hp->embd_scale = sqrtf((float)hp->n_embd);
        /* 27B (46 layers) scales queries by 1/sqrt(C/H) (query_pre_attn_scalar),
         * 2B and 9B by 1/sqrt(D) */
        hp->q_scale = 1.0f / sqrtf(hp->n_layer == 46 ? (float)(hp->n_embd / hp->n_head) : (float)hp->head_dim);
        hp->attn_softcap = 50.0f; /* Gemma 2's values when the keys are absent */
        hp->final_softcap = 30.0f;
        hp->sliding_window = 4096;
        hp->swa_even_layers_only = 1;
        if ((rc = key_f32(g, a, "attn_logit_softcapping", &hp->attn_softcap, err)) > 1) return rc;
        if ((rc = key_f32(g, a, "final_logit_softcapping", &hp->final_softcap, err)) > 1) return rc;
        if ((rc = key_u64(g, a, "attention.sliding_window", 0, &v, err)) > 1) return rc;
        if (rc == 0) hp->sliding_window = (int64_t)v;
        if (!(hp->attn_softcap >= 0.0f) || !(hp->final_softcap >= 0.0f))
            return cb_err_set(err, CB_EFORMAT, "%s: negative soft-capping value (attention %g, final %g)", path,
                              hp->attn_softcap, hp->final_softcap);
    }
    if (hp->sliding_window < 0 || hp->sliding_window > ((int64_t)1 << 30))
        return cb_err_set(err, CB_EFORMAT, "%s: bad sliding window %lld", path, (long long)hp->sliding_window);
    return 0;
}

static int read_hparams(cb_model *m, const cb_model_opts *opts, cb_err *err) {
    const cb_gguf *g = m->g;
    cb_model_hparams *hp = &m->hp;
    const char *path = cb_gguf_path(g);
    cb_gguf_str s;
    if (cb_gguf_get_str(g, "general.architecture", &s) != 0)
        return cb_err_set(err, CB_EFORMAT, "%s: metadata key 'general.architecture' is missing", path);
    int found = 0;
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (s.len == strlen(k_archs[i].name) && memcmp(s.ptr, k_archs[i].name, s.len) == 0) {
            hp->arch_id = k_archs[i].id;
            found = 1;
        }
    if (!found)
        return cb_err_set(err, CB_EUNSUP, "%s: architecture '%.*s' is not supported (supported: %s)", path,
                          (int)(s.len > 64 ? 64 : s.len), s.ptr, cb_model_supported_archs());
    memcpy(hp->arch, s.ptr, s.len);
    hp->arch[s.len] = '\0';
    const char *a = hp->arch;

    uint64_t v;
    int rc;
    if ((rc = key_u64(g, a, "embedding_length", 1, &v, err))) return rc;
    hp->n_embd = (int64_t)v;
    if ((rc = key_u64(g, a, "block_count", 1, &v, err))) return rc;
    hp->n_layer = (int64_t)v;
    if ((rc = key_u64(g, a, "attention.head_count", 1, &v, err))) return rc;
    hp->n_head = (int64_t)v;
    hp->n_head_kv = hp->n_head;
    if ((rc = key_u64(g, a, "attention.head_count_kv", 0, &v, err)) > 1) return rc;
    if (rc == 0) hp->n_head_kv = (int64_t)v;
    hp->n_ff = 0;
    if ((rc = key_u64(g, a, "feed_forward_length", 0, &v, err)) > 1) return rc;
    if (rc == 0) hp->n_ff = (int64_t)v;
    hp->n_ctx_train = 0;
    if ((rc = key_u64(g, a, "context_length", 0, &v, err)) > 1) return rc;
    if (rc == 0) hp->n_ctx_train = (int64_t)v;

    const int64_t lim = (int64_t)1 << 24;
    if (hp->n_embd <= 0 || hp->n_embd > lim || hp->n_layer <= 0 || hp->n_layer > 4096 || hp->n_head <= 0 ||
        hp->n_head > 4096 || hp->n_head_kv <= 0 || hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv != 0 ||
        hp->n_ff < 0 || hp->n_ff > lim)
        return cb_err_set(err, CB_EFORMAT,
                          "%s: inconsistent hyper-parameters: embedding_length %lld, block_count %lld, head_count "
                          "%lld, head_count_kv %lld, feed_forward_length %lld",
                          path, (long long)hp->n_embd, (long long)hp->n_layer, (long long)hp->n_head,
                          (long long)hp->n_head_kv, (long long)hp->n_ff);

    hp->head_dim = hp->n_embd / hp->n_head;
    if ((rc = key_u64(g, a, "attention.key_length", 0, &v, err)) > 1) return rc;
    if (rc == 0) hp->head_dim = (int64_t)v;
    uint64_t vl;
    int rv = key_u64(g, a, "attention.value_length", 0, &vl, err);
    if (rv > 1) return rv;
    if (rv == 0 && (int64_t)vl != hp->head_dim)
        return cb_err_set(err, CB_EUNSUP, "%s: %s.attention.value_length %llu differs from the key length %lld",
                          path, a, (unsigned long long)vl, (long long)hp->head_dim);
    else if (hp->n_embd % hp->n_head != 0)
        return cb_err_set(err, CB_EFORMAT, "%s: embedding_length %lld is not a multiple of head_count %lld", path,
                          (long long)hp->n_embd, (long long)hp->n_head);
    if (hp->head_dim <= 0 || hp->head_dim > 4096)
        return cb_err_set(err, CB_EFORMAT, "%s: bad head size %lld", path, (long long)hp->head_dim);
    hp->n_rot = hp->head_dim;
    if ((rc = key_u64(g, a, "rope.dimension_count", 0, &v, err)) > 1) return rc;
    if (rc == 0) hp->n_rot = (int64_t)v;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return cb_err_set(err, CB_EFORMAT, "%s: rope.dimension_count %lld must be even and at most the head size %lld",
                          path, (long long)hp->n_rot, (long long)hp->head_dim);

    hp->rms_eps = 1e-5f;
    if ((rc = key_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, err)) > 1) return rc;
    hp->rope_freq_base = 10000.0f;
    if ((rc = key_f32(g, a, "rope.freq_base", &hp->rope_freq_base, err)) > 1) return rc;
    if (!(hp->rms_eps >= 0.0f) || !(hp->rope_freq_base > 0.0f))
        return cb_err_set(err, CB_EFORMAT, "%s: bad rms epsilon %g or RoPE base %g", path, hp->rms_eps,
                          hp->rope_freq_base);
    hp->rope_neox = hp->arch_id != CB_ARCH_LLAMA; /* llama: NORM; qwen2, phi3, gemma2: NEOX */
    if (opts && opts->rope_neox >= 0) hp->rope_neox = opts->rope_neox != 0;
    if ((rc = key_u64(g, a, "expert_count", 0, &v, err)) > 1) return rc;
    if (rc == 0 && v > 0)
        return cb_err_set(err, CB_EUNSUP, "%s: %s.expert_count is %llu: mixture-of-experts models are not supported",
                          path, a, (unsigned long long)v);
    if ((rc = read_arch_extras(m, err))) return rc;
    return read_rope_scaling(m, err);
}

/* Counts a bound tensor into the parameter total and the bytes a pass reads. */
static void count_tensor(cb_model *m, const cb_gguf_tensor *t) {
    m->n_params += (int64_t)t->n_elems;
    m->pass_bytes += t->n_bytes;
}

/* Binds matrix `name` of shape [K, N] and counts it. */
static int bind_mat(cb_model *m, const char *name, int64_t K, int64_t N, cb_wmat *out, cb_err *err) {
    const cb_gguf_tensor *t;
    int rc = bind(m->g, name, K, N, 1, &t, err);
    if (rc) return rc;
    *out = (cb_wmat){t->type, t->data};
    count_tensor(m, t);
    return 0;
}

/* Binds F32 vector `name` of n elements and counts it; optional ones that are
 * absent leave *out NULL. */
static int bind_vec(cb_model *m, const char *name, int64_t n, int required, const float **out, cb_err *err) {
    *out = NULL;
    if (!required && !cb_gguf_find_tensor(m->g, name)) return 0;
    const cb_gguf_tensor *t;
    int rc = bind(m->g, name, n, 1, 0, &t, err);
    if (rc) return rc;
    *out = t->data;
    count_tensor(m, t);
    return 0;
}

/* Row range [r0, r0 + n) of a bound fused matrix with rows of K. */
static cb_wmat mat_rows(cb_wmat w, int64_t K, int64_t r0) {
    return (cb_wmat){w.type, (const uint8_t *)w.data + (size_t)r0 * cb_row_bytes(w.type, K)};
}

static int bind_weights(cb_model *m, cb_err *err) {
    cb_model_hparams *hp = &m->hp;
    const cb_gguf *g = m->g;
    const int64_t C = hp->n_embd, HD = hp->n_head * hp->head_dim, KVD = hp->n_head_kv * hp->head_dim;
    const cb_arch arch = hp->arch_id;
    int rc;
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, "token_embd.weight");
    if (!t) return cb_err_set(err, CB_EFORMAT, "%s: tensor 'token_embd.weight' is missing", cb_gguf_path(g));
    hp->n_vocab = (int64_t)t->ne[1];
    if (hp->n_vocab <= 0 || hp->n_vocab > ((int64_t)1 << 31))
        return cb_err_set(err, CB_EFORMAT, "%s: tensor 'token_embd.weight' has a bad vocabulary size %lld",
                          cb_gguf_path(g), (long long)hp->n_vocab);
    uint64_t vs;
    if ((rc = key_u64(g, hp->arch, "vocab_size", 0, &vs, err)) > 1) return rc;
    if (rc == 0 && (int64_t)vs != hp->n_vocab)
        return cb_err_set(err, CB_EFORMAT, "%s: %s.vocab_size %llu differs from token_embd.weight's %lld rows",
                          cb_gguf_path(g), hp->arch, (unsigned long long)vs, (long long)hp->n_vocab);
    if ((rc = bind(g, "token_embd.weight", C, hp->n_vocab, 1, &m->tok_embd, err))) return rc;
    if (hp->n_ff == 0) {
        const cb_gguf_tensor *gt = cb_gguf_find_tensor(g, "blk.0.ffn_gate.weight");
        if (gt) hp->n_ff = (int64_t)gt->ne[1];
        if (hp->n_ff <= 0)
            return cb_err_set(err, CB_EFORMAT, "%s: metadata key '%s.feed_forward_length' is missing",
                              cb_gguf_path(g), hp->arch);
    }
    const int64_t F = hp->n_ff;

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return cb_err_set(err, CB_ENOMEM, "out of memory (layers)");
    char name[96];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, suffix), name)
    for (int64_t l = 0; l < hp->n_layer; l++) {
        cb_layer *L = &m->layers[l];
        if ((rc = bind_vec(m, NAME("attn_norm.weight"), C, 1, &L->attn_norm, err))) return rc;
        if (arch == CB_ARCH_PHI3) { /* attn_qkv: rows q | k | v */
            cb_wmat qkv;
            if ((rc = bind_mat(m, NAME("attn_qkv.weight"), C, HD + 2 * KVD, &qkv, err))) return rc;
            L->wq = mat_rows(qkv, C, 0);
            L->wk = mat_rows(qkv, C, HD);
            L->wv = mat_rows(qkv, C, HD + KVD);
        } else {
            if ((rc = bind_mat(m, NAME("attn_q.weight"), C, HD, &L->wq, err))) return rc;
            if ((rc = bind_mat(m, NAME("attn_k.weight"), C, KVD, &L->wk, err))) return rc;
            if ((rc = bind_mat(m, NAME("attn_v.weight"), C, KVD, &L->wv, err))) return rc;
            /* qwen2 requires the biases (as the reference loader does); llama may have them */
            const int req = arch == CB_ARCH_QWEN2;
            if (arch == CB_ARCH_QWEN2 || arch == CB_ARCH_LLAMA) {
                if ((rc = bind_vec(m, NAME("attn_q.bias"), HD, req, &L->bq, err))) return rc;
                if ((rc = bind_vec(m, NAME("attn_k.bias"), KVD, req, &L->bk, err))) return rc;
                if ((rc = bind_vec(m, NAME("attn_v.bias"), KVD, req, &L->bv, err))) return rc;
                if ((L->bq != NULL) != (L->bk != NULL) || (L->bq != NULL) != (L->bv != NULL))
                    return cb_err_set(err, CB_EFORMAT, "%s: layer %lld has some but not all of the q/k/v biases",
                                      cb_gguf_path(g), (long long)l);
                if (L->bq) hp->has_qkv_bias = 1;
            }
        }
        if ((rc = bind_mat(m, NAME("attn_output.weight"), HD, C, &L->wo, err))) return rc;
        if ((rc = bind_vec(m, NAME("ffn_norm.weight"), C, 1, &L->ffn_norm, err))) return rc;
        if (arch == CB_ARCH_PHI3) { /* ffn_up: rows gate | up */
            cb_wmat gu;
            if ((rc = bind_mat(m, NAME("ffn_up.weight"), C, 2 * F, &gu, err))) return rc;
            L->w_gate = mat_rows(gu, C, 0);
            L->w_up = mat_rows(gu, C, F);
        } else {
            if ((rc = bind_mat(m, NAME("ffn_gate.weight"), C, F, &L->w_gate, err))) return rc;
            if ((rc = bind_mat(m, NAME("ffn_up.weight"), C, F, &L->w_up, err))) return rc;
        }
        if ((rc = bind_mat(m, NAME("ffn_down.weight"), F, C, &L->w_down, err))) return rc;
        if (hp->has_post_norms) {
            if ((rc = bind_vec(m, NAME("post_attention_norm.weight"), C, 1, &L->post_attn_norm, err))) return rc;
            if ((rc = bind_vec(m, NAME("post_ffw_norm.weight"), C, 1, &L->post_ffn_norm, err))) return rc;
        }
        L->swa = hp->sliding_window > 0 && (!hp->swa_even_layers_only || l % 2 == 0);
    }
#undef NAME
    if ((rc = bind_vec(m, "output_norm.weight", C, 1, &m->output_norm, err))) return rc;
    /* gemma2 always ties the head (an output.weight there is ignored, as by the
     * reference); phi3 requires its own; llama and qwen2 tie when it is absent */
    int has_out = arch != CB_ARCH_GEMMA2 && cb_gguf_find_tensor(g, "output.weight") != NULL;
    if (arch == CB_ARCH_PHI3 && !has_out)
        return cb_err_set(err, CB_EFORMAT, "%s: tensor 'output.weight' is missing (phi3 has an untied head)",
                          cb_gguf_path(g));
    if (has_out) {
        if ((rc = bind(g, "output.weight", C, hp->n_vocab, 1, &m->output, err))) return rc;
        hp->tied_output = 0;
    } else {
        m->output = m->tok_embd;
        hp->tied_output = 1;
    }
    /* so far n_params / pass_bytes hold the layers and norms */
    m->n_params += (int64_t)m->tok_embd->n_elems;
    m->pass_bytes += m->output->n_bytes;
    int64_t embd = (int64_t)m->tok_embd->n_elems;
    if (!hp->tied_output) {
        m->n_params += (int64_t)m->output->n_elems;
        embd += (int64_t)m->output->n_elems;
    }
    m->n_params_nonembd = m->n_params - embd;
    return 0;
}

int cb_model_load(const cb_gguf *g, const cb_model_opts *opts, cb_model **out, cb_err *err) {
    *out = NULL;
    cb_model *m = calloc(1, sizeof *m);
    if (!m) return cb_err_set(err, CB_ENOMEM, "out of memory (model)");
    m->g = g;
    int rc = read_hparams(m, opts, err);
    if (!rc) rc = bind_weights(m, err);
    if (!rc) rc = init_rope(m, err);
    if (rc) {
        cb_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void cb_model_free(cb_model *m) {
    if (!m) return;
    free(m->layers);
    free(m->inv_freq);
    free(m);
}

const cb_model_hparams *cb_model_get_hparams(const cb_model *m) { return &m->hp; }
int64_t cb_model_n_params(const cb_model *m) { return m->n_params; }
int64_t cb_model_n_params_nonembd(const cb_model *m) { return m->n_params_nonembd; }
uint64_t cb_model_weight_bytes_per_pass(const cb_model *m) { return m->pass_bytes; }
const float *cb_model_rope_inv_freq(const cb_model *m) { return m->inv_freq; }
uint32_t cb_model_ffn_type(const cb_model *m) { return m->layers[0].w_up.type; }

/* ---- KV cache ------------------------------------------------------------------- */

int cb_kv_cache_new(const cb_model *m, int n_slots, int n_ctx, cb_kv_cache **out, cb_err *err) {
    *out = NULL;
    if (n_slots <= 0 || n_ctx <= 0)
        return cb_err_set(err, CB_EUSAGE, "KV cache needs at least one slot and one position (got %d, %d)", n_slots,
                          n_ctx);
    cb_kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) return cb_err_set(err, CB_ENOMEM, "out of memory (KV cache)");
    kv->n_slots = n_slots;
    kv->n_ctx = n_ctx;
    kv->n_layer = (int)m->hp.n_layer;
    kv->kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    /* floats = layers * slots * 2 * n_ctx * kv_dim, checked for overflow */
    size_t n = (size_t)kv->n_layer;
    size_t f[4] = {(size_t)n_slots, 2, (size_t)n_ctx, (size_t)kv->kv_dim};
    for (int i = 0; i < 4; i++) {
        if (f[i] != 0 && n > SIZE_MAX / sizeof(float) / f[i]) {
            free(kv);
            return cb_err_set(err, CB_ENOMEM, "KV cache size overflows (%d slots x %d positions)", n_slots, n_ctx);
        }
        n *= f[i];
    }
    kv->bytes = n * sizeof(float);
    kv->data = malloc(kv->bytes);
    if (!kv->data) {
        free(kv);
        return cb_err_set(err, CB_ENOMEM, "out of memory: KV cache of %zu bytes (%d slots x %d positions)",
                          n * sizeof(float), n_slots, n_ctx);
    }
    *out = kv;
    return 0;
}

void cb_kv_cache_free(cb_kv_cache *kv) {
    if (!kv) return;
    free(kv->data);
    free(kv);
}

int cb_kv_cache_n_slots(const cb_kv_cache *kv) { return kv->n_slots; }
int cb_kv_cache_n_ctx(const cb_kv_cache *kv) { return kv->n_ctx; }
size_t cb_kv_cache_bytes(const cb_kv_cache *kv) { return kv->bytes; }

/* K (which = 0) or V (which = 1) view of (layer, slot): (n_ctx, kv_dim). */
static float *kv_view(const cb_kv_cache *kv, int layer, int slot, int which) {
    size_t plane = (size_t)kv->n_ctx * (size_t)kv->kv_dim;
    return kv->data + (((size_t)layer * (size_t)kv->n_slots + (size_t)slot) * 2 + (size_t)which) * plane;
}

void cb_kv_cache_copy(cb_kv_cache *kv, int dst, int src, int n_pos) {
    if (dst == src || n_pos <= 0) return;
    size_t n = (size_t)n_pos * (size_t)kv->kv_dim * sizeof(float);
    for (int l = 0; l < kv->n_layer; l++)
        for (int w = 0; w < 2; w++) memcpy(kv_view(kv, l, dst, w), kv_view(kv, l, src, w), n);
}

/* ---- scratch ---------------------------------------------------------------------- */

int cb_model_scratch_new(const cb_model *m, int max_tokens, int max_out, int n_ctx, int n_threads,
                         cb_model_scratch **out, cb_err *err) {
    *out = NULL;
    if (max_tokens <= 0 || max_out <= 0 || n_ctx <= 0 || n_threads <= 0)
        return cb_err_set(err, CB_EUSAGE, "model scratch: bad sizes (tokens %d, outputs %d, context %d, threads %d)",
                          max_tokens, max_out, n_ctx, n_threads);
    const cb_model_hparams *hp = &m->hp;
    size_t T = (size_t)max_tokens, C = (size_t)hp->n_embd, HD = (size_t)(hp->n_head * hp->head_dim),
           KVD = (size_t)(hp->n_head_kv * hp->head_dim), F = (size_t)hp->n_ff;
    /* sizes in floats, each view rounded up to 16 floats (64 bytes) */
    size_t sz[10] = {T * C, T * C, T * HD, T * HD, T * KVD, T * KVD, T * F, T * F,
                     (size_t)max_out * C, (size_t)n_threads * (size_t)n_ctx};
    size_t total = 0;
    for (int i = 0; i < 10; i++) {
        sz[i] = (sz[i] + 15) & ~(size_t)15;
        total += sz[i];
    }
    cb_model_scratch *s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "out of memory (scratch)");
    if (posix_memalign(&s->mem, 64, total * sizeof(float)) != 0) {
        free(s);
        return cb_err_set(err, CB_ENOMEM, "out of memory: forward scratch of %zu bytes", total * sizeof(float));
    }
    float *p = s->mem;
    float **views[10] = {&s->x, &s->xb, &s->q, &s->att, &s->k, &s->v, &s->hb, &s->hb2, &s->xo, &s->scores};
    for (int i = 0; i < 10; i++) {
        *views[i] = p;
        p += sz[i];
    }
    s->max_tokens = max_tokens;
    s->max_out = max_out;
    s->n_ctx = n_ctx;
    s->n_threads = n_threads;
    *out = s;
    return 0;
}

void cb_model_scratch_free(cb_model_scratch *s) {
    if (!s) return;
    free(s->mem);
    free(s);
}

/* ---- forward ------------------------------------------------------------------------ */

typedef enum { PH_NORM_ATTN, PH_ROPE_STORE, PH_ATTN, PH_ADD_NORM_FFN, PH_SWIGLU_ADD_PREP, PH_ADD } fwd_phase;

typedef struct fwd_ctx {
    const cb_model *m;
    cb_kv_cache *kv;
    cb_model_scratch *s;
    const cb_batch *b;
    int layer;
    fwd_phase phase;
} fwd_ctx;

/* Fixed-order dot product (4 interleaved partial sums, then combined). */
static float dot_f32(const float *a, const float *b, int64_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Attention of token t, head h against its slot's cache; out (D). */
static void attend(const fwd_ctx *c, int t, int64_t h, float *scores, float *out) {
    const cb_model_hparams *hp = &c->m->hp;
    const int64_t D = hp->head_dim, H = hp->n_head, KVD = hp->n_head_kv * D;
    const int64_t grp = H / hp->n_head_kv, g = h / grp;
    const int slot = c->b->slot[t], pos = c->b->pos[t];
    const float *K = kv_view(c->kv, c->layer, slot, 0) + g * D;
    const float *V = kv_view(c->kv, c->layer, slot, 1) + g * D;
    const float *q = c->s->q + (size_t)t * (size_t)(H * D) + h * D;
    /* keys p0..pos: a sliding-window layer masks p when pos - p >= window */
    int p0 = 0;
    if (c->m->layers[c->layer].swa && pos >= hp->sliding_window) p0 = pos - (int)hp->sliding_window + 1;
    const int n = pos + 1 - p0;
    if (hp->q_scale != 0.0f) { /* q was scaled after RoPE */
        for (int p = p0; p <= pos; p++) scores[p - p0] = dot_f32(q, K + (size_t)p * KVD, D);
    } else {
        const float scale = 1.0f / sqrtf((float)D);
        for (int p = p0; p <= pos; p++) scores[p - p0] = dot_f32(q, K + (size_t)p * KVD, D) * scale;
    }
    if (hp->attn_softcap > 0.0f) cb_softcap(scores, n, hp->attn_softcap);
    cb_softmax(scores, n);
    for (int64_t d = 0; d < D; d++) out[d] = 0.0f;
    for (int p = p0; p <= pos; p++) {
        const float w = scores[p - p0], *vp = V + (size_t)p * KVD;
        for (int64_t d = 0; d < D; d++) out[d] += w * vp[d];
    }
}

static void add_bias(float *x, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += b[i];
}

static void fwd_worker(void *arg, int ith, int nth) {
    const fwd_ctx *c = arg;
    const cb_model *m = c->m;
    const cb_model_hparams *hp = &m->hp;
    cb_model_scratch *s = c->s;
    const cb_batch *b = c->b;
    const cb_layer *L = &m->layers[c->layer];
    const int64_t T = b->n_tokens, C = hp->n_embd, H = hp->n_head, D = hp->head_dim;
    const int64_t HD = H * D, KVD = hp->n_head_kv * D, F = hp->n_ff;

    if (c->phase == PH_ATTN) {
        /* tasks (t, h), interleaved over threads; each evaluated whole by one thread */
        float *scores = s->scores + (size_t)ith * (size_t)s->n_ctx;
        for (int64_t task = ith; task < T * H; task += nth) {
            int64_t t = task / H, h = task % H;
            attend(c, (int)t, h, scores, s->att + (size_t)t * HD + h * D);
        }
        return;
    }
    const int64_t t0 = T * ith / nth, t1 = T * (ith + 1) / nth;
    for (int64_t t = t0; t < t1; t++) {
        float *x = s->x + t * C, *xb = s->xb + t * C;
        switch (c->phase) {
        case PH_NORM_ATTN:
            cb_rmsnorm(xb, x, L->attn_norm, C, hp->rms_eps);
            break;
        case PH_ROPE_STORE: {
            float *q = s->q + t * HD, *k = s->k + t * KVD, *v = s->v + t * KVD;
            if (L->bq) {
                add_bias(q, L->bq, HD);
                add_bias(k, L->bk, KVD);
                add_bias(v, L->bv, KVD);
            }
            cb_rope(q, H, D, hp->n_rot, b->pos[t], m->inv_freq, hp->rope_neox);
            cb_rope(k, hp->n_head_kv, D, hp->n_rot, b->pos[t], m->inv_freq, hp->rope_neox);
            if (hp->q_scale != 0.0f)
                for (int64_t i = 0; i < HD; i++) q[i] *= hp->q_scale;
            size_t off = (size_t)b->pos[t] * (size_t)KVD;
            memcpy(kv_view(c->kv, c->layer, b->slot[t], 0) + off, k, (size_t)KVD * sizeof(float));
            memcpy(kv_view(c->kv, c->layer, b->slot[t], 1) + off, v, (size_t)KVD * sizeof(float));
            break;
        }
        case PH_ADD_NORM_FFN:
            if (L->post_attn_norm) cb_rmsnorm(xb, xb, L->post_attn_norm, C, hp->rms_eps);
            for (int64_t i = 0; i < C; i++) x[i] += xb[i];
            cb_rmsnorm(xb, x, L->ffn_norm, C, hp->rms_eps);
            break;
        case PH_SWIGLU_ADD_PREP:
            if (hp->ffn_gelu) cb_geglu(s->hb + t * F, s->hb2 + t * F, F);
            else cb_swiglu(s->hb + t * F, s->hb2 + t * F, F);
            break;
        case PH_ADD:
            if (L->post_ffn_norm) cb_rmsnorm(xb, xb, L->post_ffn_norm, C, hp->rms_eps);
            for (int64_t i = 0; i < C; i++) x[i] += xb[i];
            break;
        default:
            break;
        }
    }
}

/* Runs a phase on the pool when the work is big enough to pay for the
 * hand-off, else on the calling thread. The result is the same either way. */
static void run_phase(cb_pool *pool, fwd_ctx *c, fwd_phase ph, int64_t work) {
    c->phase = ph;
    if (pool && cb_pool_size(pool) > 1 && work >= 32768) cb_pool_run(pool, fwd_worker, c);
    else fwd_worker(c, 0, 1);
}

int cb_model_forward(const cb_model *m, cb_kv_cache *kv, cb_model_scratch *s, cb_pool *pool,
                     const cb_batch *b, float *logits, cb_err *err) {
    const cb_model_hparams *hp = &m->hp;
    const int64_t T = b->n_tokens, C = hp->n_embd, V = hp->n_vocab;
    const int64_t HD = hp->n_head * hp->head_dim, KVD = hp->n_head_kv * hp->head_dim, F = hp->n_ff;
    if (T <= 0 || T > s->max_tokens)
        return cb_err_set(err, CB_EUSAGE, "forward: %lld tokens (scratch holds 1..%d)", (long long)T, s->max_tokens);
    if (pool && cb_pool_size(pool) > s->n_threads)
        return cb_err_set(err, CB_EUSAGE, "forward: pool of %d threads, scratch made for %d", cb_pool_size(pool),
                          s->n_threads);
    if ((int)kv->n_layer != hp->n_layer || kv->kv_dim != KVD)
        return cb_err_set(err, CB_EUSAGE, "forward: KV cache was made for another model");
    int n_out = 0;
    int64_t attn_work = 0;
    for (int64_t t = 0; t < T; t++) {
        if (b->token[t] < 0 || b->token[t] >= V)
            return cb_err_set(err, CB_EUSAGE, "forward: token id %d out of range [0, %lld)", b->token[t], (long long)V);
        if (b->slot[t] < 0 || b->slot[t] >= kv->n_slots)
            return cb_err_set(err, CB_EUSAGE, "forward: slot %d out of range [0, %d)", b->slot[t], kv->n_slots);
        if (b->pos[t] < 0 || b->pos[t] >= kv->n_ctx || b->pos[t] >= s->n_ctx)
            return cb_err_set(err, CB_EUSAGE, "forward: position %d out of range [0, %d)", b->pos[t],
                              kv->n_ctx < s->n_ctx ? kv->n_ctx : s->n_ctx);
        if (b->want_logits && b->want_logits[t]) n_out++;
        attn_work += (int64_t)(b->pos[t] + 1) * HD * 2;
    }
    if (n_out > s->max_out)
        return cb_err_set(err, CB_EUSAGE, "forward: %d logit rows requested (scratch holds %d)", n_out, s->max_out);

    /* x (T, C) = embeddings */
    const cb_gguf_tensor *E = m->tok_embd;
    const size_t erow = cb_row_bytes(E->type, C);
    for (int64_t t = 0; t < T; t++) {
        float *x = s->x + t * C;
        cb_dequantize_row(E->type, (const uint8_t *)E->data + (size_t)b->token[t] * erow, x, C);
        if (hp->embd_scale != 0.0f)
            for (int64_t i = 0; i < C; i++) x[i] *= hp->embd_scale;
    }

    fwd_ctx c = {.m = m, .kv = kv, .s = s, .b = b};
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const cb_layer *L = &m->layers[l];
        c.layer = (int)l;
        run_phase(pool, &c, PH_NORM_ATTN, T * C);
        cb_matmul(pool, L->wq.type, L->wq.data, s->xb, s->q, T, C, HD);     /* (T, C) -> (T, H*D) */
        cb_matmul(pool, L->wk.type, L->wk.data, s->xb, s->k, T, C, KVD);    /* (T, C) -> (T, Hkv*D) */
        cb_matmul(pool, L->wv.type, L->wv.data, s->xb, s->v, T, C, KVD);
        run_phase(pool, &c, PH_ROPE_STORE, T * (HD + KVD));
        run_phase(pool, &c, PH_ATTN, attn_work);
        cb_matmul(pool, L->wo.type, L->wo.data, s->att, s->xb, T, HD, C);   /* (T, H*D) -> (T, C) */
        run_phase(pool, &c, PH_ADD_NORM_FFN, T * C);
        cb_matmul(pool, L->w_gate.type, L->w_gate.data, s->xb, s->hb, T, C, F);  /* (T, C) -> (T, F) */
        cb_matmul(pool, L->w_up.type, L->w_up.data, s->xb, s->hb2, T, C, F);
        run_phase(pool, &c, PH_SWIGLU_ADD_PREP, T * F);
        cb_matmul(pool, L->w_down.type, L->w_down.data, s->hb, s->xb, T, F, C);  /* (T, F) -> (T, C) */
        run_phase(pool, &c, PH_ADD, T * C);
    }

    if (n_out == 0) return 0;
    /* xo (n_out, C) = rmsnorm(x[wanted]) ; logits (n_out, V) = xo @ Wout^T */
    int r = 0;
    for (int64_t t = 0; t < T; t++) {
        if (!b->want_logits[t]) continue;
        cb_rmsnorm(s->xo + (size_t)r * C, s->x + t * C, m->output_norm, C, hp->rms_eps);
        r++;
    }
    cb_matmul(pool, m->output->type, m->output->data, s->xo, logits, n_out, C, V);
    if (hp->final_softcap > 0.0f) cb_softcap(logits, (int64_t)n_out * V, hp->final_softcap);
    return 0;
}
