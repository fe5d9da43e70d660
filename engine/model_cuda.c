/* engine/model_cuda.c — the llama and qwen2 forward pass on a CUDA device (see
 * model_cuda.h for the contract). C only: every device operation goes through
 * kernels/cuda/cuda_kernels.h.
 *
 * Device layout: per layer Q/K/V stacked into one (Hq*D + 2*Hkv*D, C) matrix
 * and gate/up into one (2F, C) matrix when their types match (one product
 * each; otherwise the parts are multiplied separately into column slices of
 * the same output). One step over T tokens:
 *   x (T, C)     = embed(token)
 *   per layer:     xb = rmsnorm(x [+= xb from the previous layer]) * attn_norm
 *                  qkv (T, Hq*D + 2*Hkv*D) = xb @ Wqkv^T [+ q | k | v biases (qwen2)]
 *                  rope(q and k heads of qkv, NORM or NEOX pairs); k, v -> KV cache (slot, pos)
 *                  att (T, Hq*D) = attention(q, cache)
 *                  xb = att @ Wo^T ; xb = rmsnorm(x += xb) * ffn_norm
 *                  gu (T, 2F) = xb @ Wgu^T ; h (T, F) = silu(gate) * up
 *                  xb = h @ Wdown^T
 *   xo (n_out, C) = rmsnorm(x[rows] + xb[rows]) * output_norm
 *   logits (n_out, V) = xo @ Wout^T (Wout = token_embd when tied, qwen2)
 *   am (n_out) = argmax(logits) ; lp (n_out) = log_softmax(logits)[target]
 *                                          -> am, lp (and rows asked for whole) copied to the host
 * Per-step integers (tokens, slots, positions, attention tiles, output rows,
 * targets) are uploaded into one device buffer first; a pure decode step
 * replays a graph captured for its batch size (the reductions included).
 *
 * Built into the CUDA module only (CMakeLists.txt): the last function here,
 * cb_cuda_module_entry, is the module's one exported symbol.
 */
#include "engine/model_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda_module.h"
#include "kernels/cuda/cuda_kernels.h"

/* A product whose output columns come from up to 3 matrices: one stacked
 * device matrix (n = 1) or separate ones writing at column offsets. */
typedef struct mat_group {
    cb_cuda_weight w[3];
    int64_t col[3];
    int n;
} mat_group;

typedef struct dev_layer {
    mat_group qkv, wo, gu, down;
    float *attn_norm, *ffn_norm; /* views into mc->norms */
    float *bqkv;                 /* (qkv_dim) q | k | v biases, or NULL (view into mc->biases) */
} dev_layer;

struct cb_model_cuda {
    cb_model_hparams hp;
    cb_cuda_ctx *ctx;
    char dev_name[256];
    cb_cuda_weight tok_embd;
    mat_group output;           /* n = 0 when tied: use tok_embd */
    dev_layer *layers;
    float *norms;               /* (2 * n_layer + 1, C) */
    float *biases;              /* (n_layer, qkv_dim) when the model has q/k/v biases, else NULL */
    float *inv_freq;            /* n_rot / 2 */
    float *kv;
    cb_cuda_kv_shape kvs;
    size_t kv_bytes, weight_bytes;
    int max_tokens, max_out, n_split_max;
    int64_t qkv_dim;            /* Hq*D + 2*Hkv*D */
    /* step buffers */
    float *x, *xb, *qkv, *att, *gu, *hb, *xo, *logits, *attn_scratch;
    int32_t *d_am;              /* (max_out) argmax of each logit row */
    double *d_lp;               /* (max_out) log-probability of each row's target */
    void *xh;                   /* (T, max(C, F)) F16/BF16 inputs of large products, written by their producers */
    int32_t *d_ints, *h_ints;   /* token | slot | pos | tiles (4 per token) | rows | targets */
    unsigned int *attn_counters;/* (max_tokens * H), zero between launches */
    int fused;                  /* steps of <= CB_CUDA_SMALL_T tokens use the fused matvec kernels */
    /* decode graphs by batch size (index T), up to n_slots */
    cb_cuda_graph **graphs;
    unsigned char *graph_state;  /* per batch size: 0 unseen, 1 ran eagerly once (warm), 2 capture failed */
    int n_graph_slots, n_graphs, graphs_enabled;
    char graph_error[512];      /* why capturing failed (graphs then off) */
    int64_t n_replays, n_decode_eager, n_rows_full;
};

int cb_model_cuda_probe(int device, char *name, size_t cap, cb_err *err) {
    if (name && cap) name[0] = '\0';
    cb_cuda_device_info info;
    int rc = cb_cuda_device_info_get(device, &info, err);
    if (rc) return rc;
    if (name && cap) snprintf(name, cap, "%s", info.name);
    return 0;
}

static const cb_gguf_tensor *tensor(const cb_gguf *g, int layer, const char *name) {
    char key[96];
    if (layer >= 0) snprintf(key, sizeof key, "blk.%d.%s.weight", layer, name);
    else snprintf(key, sizeof key, "%s.weight", name);
    return cb_gguf_find_tensor(g, key);
}

static int upload_group(cb_model_cuda *mc, const cb_gguf_tensor **ts, int n, mat_group *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    int same = 1;
    for (int i = 1; i < n; i++) same &= ts[i]->type == ts[0]->type && ts[i]->ne[0] == ts[0]->ne[0];
    int64_t col = 0;
    if (same) {
        const void *parts[3];
        int64_t Ns[3];
        for (int i = 0; i < n; i++) {
            parts[i] = ts[i]->data;
            Ns[i] = (int64_t)ts[i]->ne[1];
        }
        out->n = 1;
        int rc = cb_cuda_weight_upload(mc->ctx, ts[0]->type, (int64_t)ts[0]->ne[0], parts, Ns, n, &out->w[0], err);
        if (rc) return rc;
        mc->weight_bytes += out->w[0].bytes;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const void *p = ts[i]->data;
        int64_t N = (int64_t)ts[i]->ne[1];
        int rc = cb_cuda_weight_upload(mc->ctx, ts[i]->type, (int64_t)ts[i]->ne[0], &p, &N, 1, &out->w[i], err);
        if (rc) return rc;
        out->n = i + 1;
        out->col[i] = col;
        col += N;
        mc->weight_bytes += out->w[i].bytes;
    }
    return 0;
}

static void free_group(cb_cuda_ctx *c, mat_group *g) {
    for (int i = 0; i < g->n; i++) cb_cuda_weight_free(c, &g->w[i]);
    g->n = 0;
}

static size_t group_scratch(const mat_group *g, int64_t T) {
    size_t b = 0;
    for (int i = 0; i < g->n; i++) {
        size_t s = cb_cuda_matmul_scratch_bytes(&g->w[i], T);
        if (s > b) b = s;
    }
    return b;
}

/* The input type all parts of g take without conversion at T rows (F32 when
 * they differ). */
static uint32_t group_input_type(const mat_group *g, int64_t T) {
    uint32_t t = cb_cuda_matmul_input_type(&g->w[0], T);
    for (int i = 1; i < g->n; i++)
        if (cb_cuda_matmul_input_type(&g->w[i], T) != t) return CB_KTYPE_F32;
    return t;
}

static int matmul_group_x(cb_model_cuda *mc, const mat_group *g, const void *x, uint32_t xtype, float *y, int64_t ldy,
                          int64_t T, cb_err *err) {
    for (int i = 0; i < g->n; i++) {
        int rc = cb_cuda_matmul_x(mc->ctx, &g->w[i], x, xtype, y + g->col[i], ldy, T, err);
        if (rc) return rc;
    }
    return 0;
}

static int matmul_group(cb_model_cuda *mc, const mat_group *g, const float *x, float *y, int64_t ldy, int64_t T,
                        cb_err *err) {
    for (int i = 0; i < g->n; i++) {
        int rc = cb_cuda_matmul(mc->ctx, &g->w[i], x, y + g->col[i], ldy, T, err);
        if (rc) return rc;
    }
    return 0;
}

void cb_model_cuda_free(cb_model_cuda *mc) {
    if (!mc) return;
    cb_cuda_ctx *c = mc->ctx;
    if (c) {
        cb_cuda_sync(c, NULL);
        for (int i = 0; mc->graphs && i < mc->n_graph_slots; i++) cb_cuda_graph_free(mc->graphs[i]);
        if (mc->layers)
            for (int64_t l = 0; l < mc->hp.n_layer; l++) {
                dev_layer *L = &mc->layers[l];
                free_group(c, &L->qkv);
                free_group(c, &L->wo);
                free_group(c, &L->gu);
                free_group(c, &L->down);
            }
        free_group(c, &mc->output);
        cb_cuda_weight_free(c, &mc->tok_embd);
        float *bufs[] = {mc->norms, mc->biases, mc->inv_freq, mc->kv, mc->x, mc->xb, mc->qkv, mc->att,
                         mc->gu, mc->hb, mc->xo, mc->logits, mc->attn_scratch};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) cb_cuda_free(c, bufs[i]);
        cb_cuda_free(c, mc->d_ints);
        cb_cuda_free(c, mc->d_am);
        cb_cuda_free(c, mc->d_lp);
        cb_cuda_free(c, mc->xh);
        cb_cuda_free(c, mc->attn_counters);
        cb_cuda_ctx_free(c);
    }
    free(mc->graphs);
    free(mc->graph_state);
    free(mc->layers);
    free(mc->h_ints);
    free(mc);
}

static int alloc_f(cb_model_cuda *mc, float **p, size_t n, cb_err *err) {
    void *d = NULL;
    int rc = cb_cuda_alloc(mc->ctx, n * sizeof(float), &d, err);
    *p = d;
    return rc;
}

int cb_model_cuda_new(const cb_model *m, const cb_gguf *g, const cb_model_cuda_opts *o, cb_model_cuda **out,
                      cb_err *err) {
    *out = NULL;
    if (o->n_slots <= 0 || o->n_ctx <= 0 || o->max_tokens <= 0 || o->max_out <= 0)
        return cb_err_set(err, CB_EUSAGE, "cuda model: bad sizes (slots %d, context %d, tokens %d, outputs %d)",
                          o->n_slots, o->n_ctx, o->max_tokens, o->max_out);
    int rc;
    cb_model_cuda *mc = calloc(1, sizeof *mc);
    if (!mc) return cb_err_set(err, CB_ENOMEM, "out of memory (cuda model)");
    mc->hp = *cb_model_get_hparams(m);
    const cb_model_hparams *hp = &mc->hp;
    const int64_t C = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, D = hp->head_dim, F = hp->n_ff;
    const int64_t V = hp->n_vocab, HD = H * D, KVD = Hkv * D, L = hp->n_layer;
    const int64_t T = o->max_tokens, R = o->max_out;
    mc->max_tokens = o->max_tokens;
    mc->max_out = o->max_out;
    mc->qkv_dim = HD + 2 * KVD;
    if (D > 128) {
        rc = cb_err_set(err, CB_EUNSUP, "cuda model: head size %lld (the CUDA attention supports up to 128)",
                        (long long)D);
        goto out;
    }
    if (hp->arch_id != CB_ARCH_LLAMA && hp->arch_id != CB_ARCH_QWEN2) {
        rc = cb_err_set(err, CB_EUNSUP,
                        "cuda model: architecture '%s' runs on the CPU only (the CUDA forward pass is llama's and "
                        "qwen2's)",
                        hp->arch);
        goto out;
    }

    cb_cuda_device_info info;
    if ((rc = cb_cuda_device_info_get(o->device, &info, err))) goto out;
    snprintf(mc->dev_name, sizeof mc->dev_name, "%s", info.name);
    if ((rc = cb_cuda_ctx_new(o->device, &mc->ctx, err))) goto out;

    /* weights */
    mc->layers = calloc((size_t)L, sizeof *mc->layers);
    if (!mc->layers) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory (cuda layers)");
        goto out;
    }
    const cb_gguf_tensor *te = tensor(g, -1, "token_embd");
    {
        const void *p = te->data;
        int64_t N = (int64_t)te->ne[1];
        if ((rc = cb_cuda_weight_upload(mc->ctx, te->type, C, &p, &N, 1, &mc->tok_embd, err))) goto out;
        mc->weight_bytes += mc->tok_embd.bytes;
    }
    if (!hp->tied_output) {
        const cb_gguf_tensor *to = tensor(g, -1, "output");
        if ((rc = upload_group(mc, &to, 1, &mc->output, err))) goto out;
    }
    size_t nn = (size_t)(2 * L + 1) * (size_t)C;
    float *hn = malloc(nn * sizeof(float));
    if (!hn) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory (norm weights)");
        goto out;
    }
    for (int64_t l = 0; l < L; l++) {
        dev_layer *Ly = &mc->layers[l];
        const cb_gguf_tensor *qkv[3] = {tensor(g, (int)l, "attn_q"), tensor(g, (int)l, "attn_k"),
                                        tensor(g, (int)l, "attn_v")};
        const cb_gguf_tensor *wo = tensor(g, (int)l, "attn_output");
        const cb_gguf_tensor *gu[2] = {tensor(g, (int)l, "ffn_gate"), tensor(g, (int)l, "ffn_up")};
        const cb_gguf_tensor *dn = tensor(g, (int)l, "ffn_down");
        const cb_gguf_tensor *an = tensor(g, (int)l, "attn_norm"), *fn = tensor(g, (int)l, "ffn_norm");
        /* cb_model_load validated every tensor (names, shapes, types) */
        if ((rc = upload_group(mc, qkv, 3, &Ly->qkv, err)) || (rc = upload_group(mc, &wo, 1, &Ly->wo, err)) ||
            (rc = upload_group(mc, gu, 2, &Ly->gu, err)) || (rc = upload_group(mc, &dn, 1, &Ly->down, err))) {
            free(hn);
            goto out;
        }
        memcpy(hn + (size_t)(2 * l) * (size_t)C, an->data, (size_t)C * sizeof(float));
        memcpy(hn + (size_t)(2 * l + 1) * (size_t)C, fn->data, (size_t)C * sizeof(float));
    }
    memcpy(hn + (size_t)(2 * L) * (size_t)C, tensor(g, -1, "output_norm")->data, (size_t)C * sizeof(float));
    rc = alloc_f(mc, &mc->norms, nn, err);
    if (!rc) rc = cb_cuda_upload(mc->ctx, mc->norms, hn, nn * sizeof(float), err);
    free(hn);
    if (rc) goto out;
    for (int64_t l = 0; l < L; l++) {
        mc->layers[l].attn_norm = mc->norms + (size_t)(2 * l) * (size_t)C;
        mc->layers[l].ffn_norm = mc->norms + (size_t)(2 * l + 1) * (size_t)C;
    }
    if (hp->has_qkv_bias) {
        /* q | k | v biases of each layer in one row of qkv_dim (F32: cb_model_load checked them) */
        const size_t nb = (size_t)L * (size_t)mc->qkv_dim;
        float *hb = malloc(nb * sizeof(float));
        if (!hb) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory (q/k/v biases)");
            goto out;
        }
        for (int64_t l = 0; l < L; l++) {
            static const char *const bn[3] = {"attn_q", "attn_k", "attn_v"};
            const int64_t off[3] = {0, HD, HD + KVD}, len[3] = {HD, KVD, KVD};
            for (int i = 0; i < 3; i++) {
                char key[96];
                snprintf(key, sizeof key, "blk.%lld.%s.bias", (long long)l, bn[i]);
                memcpy(hb + (size_t)l * (size_t)mc->qkv_dim + (size_t)off[i], cb_gguf_find_tensor(g, key)->data,
                       (size_t)len[i] * sizeof(float));
            }
        }
        rc = alloc_f(mc, &mc->biases, nb, err);
        if (!rc) rc = cb_cuda_upload(mc->ctx, mc->biases, hb, nb * sizeof(float), err);
        free(hb);
        if (rc) goto out;
        for (int64_t l = 0; l < L; l++) mc->layers[l].bqkv = mc->biases + (size_t)l * (size_t)mc->qkv_dim;
    }
    if ((rc = alloc_f(mc, &mc->inv_freq, (size_t)(hp->n_rot / 2 > 0 ? hp->n_rot / 2 : 1), err))) goto out;
    if ((rc = cb_cuda_upload(mc->ctx, mc->inv_freq, cb_model_rope_inv_freq(m), (size_t)(hp->n_rot / 2) * sizeof(float),
                             err)))
        goto out;

    /* KV cache */
    mc->kvs = (cb_cuda_kv_shape){.n_layer = (int)L, .n_slots = o->n_slots, .n_ctx = o->n_ctx, .kv_dim = KVD};
    mc->kv_bytes = (size_t)L * (size_t)o->n_slots * 2 * (size_t)o->n_ctx * (size_t)KVD * sizeof(float);
    if ((rc = alloc_f(mc, &mc->kv, mc->kv_bytes / sizeof(float), err))) {
        cb_err_prefix(err, "KV cache (%d slots x %d positions): ", o->n_slots, o->n_ctx);
        goto out;
    }
    /* step buffers */
    mc->n_split_max = (o->n_ctx + CB_CUDA_ATTN_CHUNK - 1) / CB_CUDA_ATTN_CHUNK;
    if ((rc = alloc_f(mc, &mc->x, (size_t)(T * C), err)) || (rc = alloc_f(mc, &mc->xb, (size_t)(T * C), err)) ||
        (rc = alloc_f(mc, &mc->qkv, (size_t)(T * mc->qkv_dim), err)) ||
        (rc = alloc_f(mc, &mc->att, (size_t)(T * HD), err)) || (rc = alloc_f(mc, &mc->gu, (size_t)(T * 2 * F), err)) ||
        (rc = alloc_f(mc, &mc->hb, (size_t)(T * F), err)) || (rc = alloc_f(mc, &mc->xo, (size_t)(R * C), err)) ||
        (rc = alloc_f(mc, &mc->logits, (size_t)(R * V), err)) ||
        (rc = alloc_f(mc, &mc->attn_scratch, cb_cuda_attn_scratch_floats(T, H, D, mc->n_split_max), err)))
        goto out;
    {
        void *p = NULL;
        if ((rc = cb_cuda_alloc(mc->ctx, (size_t)T * (size_t)(C > F ? C : F) * 2, &p, err))) goto out;
        mc->xh = p;
    }
    size_t n_ints = (size_t)(7 * T + 2 * R);
    void *di = NULL;
    if ((rc = cb_cuda_alloc(mc->ctx, n_ints * sizeof(int32_t), &di, err))) goto out;
    mc->d_ints = di;
    void *dam = NULL, *dlp = NULL;
    if ((rc = cb_cuda_alloc(mc->ctx, (size_t)R * sizeof(int32_t), &dam, err)) ||
        (rc = cb_cuda_alloc(mc->ctx, (size_t)R * sizeof(double), &dlp, err)))
        goto out;
    mc->d_am = dam;
    mc->d_lp = dlp;
    size_t n_ctr = (size_t)T * (size_t)H * sizeof(unsigned int); /* >= tiles x row groups x kv heads */
    void *dc = NULL;
    if ((rc = cb_cuda_alloc(mc->ctx, n_ctr, &dc, err))) goto out;
    mc->attn_counters = dc;
    if ((rc = cb_cuda_memset(mc->ctx, dc, 0, n_ctr, err))) goto out;
    mc->h_ints = calloc(n_ints, sizeof(int32_t));
    if (!mc->h_ints) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory (step indices)");
        goto out;
    }
    /* matmul scratch for the largest step, so that steps and captures never allocate */
    size_t sb = group_scratch(&mc->output, R);
    if (hp->tied_output) {
        size_t s = cb_cuda_matmul_scratch_bytes(&mc->tok_embd, R);
        if (s > sb) sb = s;
    }
    for (int64_t l = 0; l < L; l++) {
        const dev_layer *Ly = &mc->layers[l];
        const mat_group *gs[4] = {&Ly->qkv, &Ly->wo, &Ly->gu, &Ly->down};
        for (int i = 0; i < 4; i++) {
            size_t s = group_scratch(gs[i], T);
            if (s > sb) sb = s;
        }
    }
    if ((rc = cb_cuda_reserve(mc->ctx, sb, err))) goto out;

    const char *fe = getenv("CAPBENCH_CUDA_FUSED");
    mc->fused = !(fe && strcmp(fe, "0") == 0);
    const char *ge = getenv("CAPBENCH_CUDA_GRAPHS");
    mc->graphs_enabled = !(ge && strcmp(ge, "0") == 0);
    mc->n_graph_slots = o->n_slots + 1;
    mc->graphs = calloc((size_t)mc->n_graph_slots, sizeof *mc->graphs);
    mc->graph_state = calloc((size_t)mc->n_graph_slots, 1);
    if (!mc->graphs || !mc->graph_state) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory (graphs)");
        goto out;
    }
    if ((rc = cb_cuda_sync(mc->ctx, err))) goto out;
    *out = mc;
    mc = NULL;
    rc = 0;
out:
    if (rc) cb_err_prefix(err, "cuda model: ");
    cb_model_cuda_free(mc);
    return rc;
}

/* Enqueues one step (T tokens, n_tiles attention tiles, n_out logit rows);
 * the step's integers are already in d_ints. */
static int enqueue_step(cb_model_cuda *mc, int T, int n_tiles, int max_nt, int n_out, int n_split, cb_err *err) {
    const cb_model_hparams *hp = &mc->hp;
    const int64_t C = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, D = hp->head_dim, F = hp->n_ff;
    const int64_t HD = H * D, QKV = mc->qkv_dim, V = hp->n_vocab;
    const int32_t *tok = mc->d_ints, *slot = tok + mc->max_tokens, *pos = slot + mc->max_tokens;
    const int32_t *tiles = pos + mc->max_tokens, *rows = tiles + 4 * mc->max_tokens, *targets = rows + mc->max_out;
    cb_cuda_ctx *c = mc->ctx;
    int rc;
    if ((rc = cb_cuda_embed(c, &mc->tok_embd, tok, mc->x, T, err))) return rc;
    const int fused = mc->fused && T <= CB_CUDA_SMALL_T;
    for (int64_t l = 0; l < hp->n_layer; l++) {
        const dev_layer *Ly = &mc->layers[l];
        if (fused) {
            /* qkv = (rmsnorm(x) * attn_norm) @ Wqkv^T, the norm inside the matvec */
            for (int i = 0; i < Ly->qkv.n; i++)
                if ((rc = cb_cuda_matvec_fused(c, CB_CUDA_MV_NORM, &Ly->qkv.w[i], mc->x, Ly->attn_norm, hp->rms_eps,
                                               mc->qkv + Ly->qkv.col[i], QKV, T, err)))
                    return rc;
        } else {
            /* xb (or xh, in the products' input type) = rmsnorm(x += xb of the previous layer's FFN) */
            const uint32_t tq = group_input_type(&Ly->qkv, T);
            void *in = tq == CB_KTYPE_F32 ? (void *)mc->xb : mc->xh;
            if ((rc = cb_cuda_add_rmsnorm_t(c, mc->x, l ? mc->xb : NULL, Ly->attn_norm, in, tq, NULL, T, T, C,
                                            hp->rms_eps, err)))
                return rc;
            if ((rc = matmul_group_x(mc, &Ly->qkv, in, tq, mc->qkv, QKV, T, err))) return rc;
        }
        if (Ly->bqkv && (rc = cb_cuda_add_bias(c, mc->qkv, QKV, Ly->bqkv, T, QKV, err))) return rc;
        /* rotate the q and k heads (adjacent in each qkv row), store k and v */
        if ((rc = cb_cuda_rope_kv_store(c, mc->qkv, QKV, T, H, Hkv, D, hp->n_rot, pos, mc->inv_freq, hp->rope_neox,
                                        mc->kv, &mc->kvs, (int)l, slot, err)))
            return rc;
        if ((rc = cb_cuda_attention(c, mc->kv, &mc->kvs, (int)l, mc->qkv, QKV, mc->att, HD, tiles, n_tiles, max_nt, T, H,
                                    Hkv, D, n_split, mc->attn_scratch, mc->attn_counters, err)))
            return rc;
        if (fused) {
            /* x += att @ Wo^T ; h = silu(g) * u of (rmsnorm(x) * ffn_norm) @ Wgu^T ; x += h @ Wdown^T */
            for (int i = 0; i < Ly->wo.n; i++)
                if ((rc = cb_cuda_matvec_fused(c, CB_CUDA_MV_ADD, &Ly->wo.w[i], mc->att, NULL, 0.0f,
                                               mc->x + Ly->wo.col[i], C, T, err)))
                    return rc;
            if (Ly->gu.n == 1) {
                if ((rc = cb_cuda_matvec_fused(c, CB_CUDA_MV_SWIGLU_NORM, &Ly->gu.w[0], mc->x, Ly->ffn_norm,
                                               hp->rms_eps, mc->hb, F, T, err)))
                    return rc;
            } else {
                for (int i = 0; i < Ly->gu.n; i++)
                    if ((rc = cb_cuda_matvec_fused(c, CB_CUDA_MV_NORM, &Ly->gu.w[i], mc->x, Ly->ffn_norm, hp->rms_eps,
                                                   mc->gu + Ly->gu.col[i], 2 * F, T, err)))
                        return rc;
                if ((rc = cb_cuda_swiglu(c, mc->gu, mc->hb, T, F, err))) return rc;
            }
            for (int i = 0; i < Ly->down.n; i++)
                if ((rc = cb_cuda_matvec_fused(c, CB_CUDA_MV_ADD, &Ly->down.w[i], mc->hb, NULL, 0.0f,
                                               mc->x + Ly->down.col[i], C, T, err)))
                    return rc;
            continue;
        }
        if ((rc = matmul_group(mc, &Ly->wo, mc->att, mc->xb, C, T, err))) return rc;
        const uint32_t tg = group_input_type(&Ly->gu, T), td = group_input_type(&Ly->down, T);
        void *gin = tg == CB_KTYPE_F32 ? (void *)mc->xb : mc->xh;
        if ((rc = cb_cuda_add_rmsnorm_t(c, mc->x, mc->xb, Ly->ffn_norm, gin, tg, NULL, T, T, C, hp->rms_eps, err)))
            return rc;
        if ((rc = matmul_group_x(mc, &Ly->gu, gin, tg, mc->gu, 2 * F, T, err))) return rc;
        void *din = td == CB_KTYPE_F32 ? (void *)mc->hb : mc->xh;
        if ((rc = cb_cuda_swiglu_t(c, mc->gu, din, td, T, F, err))) return rc;
        if ((rc = matmul_group_x(mc, &Ly->down, din, td, mc->xb, C, T, err))) return rc;
    }
    if (n_out == 0) return 0;
    const float *onorm = mc->norms + (size_t)(2 * hp->n_layer) * (size_t)C;
    /* unfused: the last layer's FFN output is still in xb */
    if ((rc = cb_cuda_add_rmsnorm(c, mc->x, fused ? NULL : mc->xb, onorm, mc->xo, rows, T, n_out, C, hp->rms_eps, err)))
        return rc;
    if (hp->tied_output) rc = cb_cuda_matmul(c, &mc->tok_embd, mc->xo, mc->logits, V, n_out, err);
    else rc = matmul_group(mc, &mc->output, mc->xo, mc->logits, V, n_out, err);
    if (rc) return rc;
    /* the per-row reductions the engine needs instead of whole rows */
    if ((rc = cb_cuda_argmax(c, mc->logits, mc->d_am, n_out, V, err))) return rc;
    return cb_cuda_log_softmax_gather(c, mc->logits, targets, mc->d_lp, n_out, V, err);
}

int cb_model_cuda_forward(cb_model_cuda *mc, const cb_batch *b, const cb_cuda_rows *rq, float *logits,
                          cb_err *err) {
    const cb_model_hparams *hp = &mc->hp;
    const int T = b->n_tokens;
    const int64_t V = hp->n_vocab;
    if (T <= 0 || T > mc->max_tokens)
        return cb_err_set(err, CB_EUSAGE, "forward: %d tokens (the device buffers hold 1..%d)", T, mc->max_tokens);
    int32_t *tok = mc->h_ints, *slot = tok + mc->max_tokens, *pos = slot + mc->max_tokens;
    int32_t *tiles = pos + mc->max_tokens, *rows = tiles + 4 * mc->max_tokens, *targets = rows + mc->max_out;
    int n_out = 0, max_pos = 0;
    for (int t = 0; t < T; t++) {
        if (b->token[t] < 0 || b->token[t] >= V)
            return cb_err_set(err, CB_EUSAGE, "forward: token id %d out of range [0, %lld)", b->token[t], (long long)V);
        if (b->slot[t] < 0 || b->slot[t] >= mc->kvs.n_slots)
            return cb_err_set(err, CB_EUSAGE, "forward: slot %d out of range [0, %d)", b->slot[t], mc->kvs.n_slots);
        if (b->pos[t] < 0 || b->pos[t] >= mc->kvs.n_ctx)
            return cb_err_set(err, CB_EUSAGE, "forward: position %d out of range [0, %d)", b->pos[t], mc->kvs.n_ctx);
        if (b->want_logits && b->want_logits[t]) {
            if (n_out >= mc->max_out)
                return cb_err_set(err, CB_EUSAGE, "forward: more than %d logit rows requested", mc->max_out);
            rows[n_out++] = t;
        }
        if (b->pos[t] > max_pos) max_pos = b->pos[t];
    }
    for (int r = 0; r < n_out; r++) {
        int32_t t = rq && rq->target ? rq->target[r] : -1;
        if (t >= V)
            return cb_err_set(err, CB_EUSAGE, "forward: target token %d of row %d out of range [0, %lld)", t, r,
                              (long long)V);
        targets[r] = t < 0 ? 0 : t; /* row without a target: any valid id, its result unused */
    }
    memcpy(tok, b->token, (size_t)T * sizeof(int32_t));
    memcpy(slot, b->slot, (size_t)T * sizeof(int32_t));
    memcpy(pos, b->pos, (size_t)T * sizeof(int32_t));
    int max_nt = 0;
    const int n_tiles = cb_cuda_attn_tiles(slot, pos, T, tiles, &max_nt);
    const size_t n_ints = (size_t)(7 * mc->max_tokens + 2 * mc->max_out);
    int rc = cb_cuda_upload(mc->ctx, mc->d_ints, mc->h_ints, n_ints * sizeof(int32_t), err);
    if (rc) return rc;

    /* a pure decode step: every token its own sequence, every row wanted */
    int decode = mc->graphs_enabled && n_out == T && n_tiles == T && T < mc->n_graph_slots && mc->graph_state[T] != 2;
    if (decode && !mc->graphs[T] && mc->graph_state[T] == 0) {
        /* the first step of a batch size runs eagerly, so that module loading
         * and cuBLAS's first-call work happen outside the capture */
        mc->graph_state[T] = 1;
        decode = 0;
    }
    if (decode && !mc->graphs[T]) {
        /* capture on first use; if capturing fails, this batch size runs
         * eagerly from now on (same results) and the reason is kept */
        cb_err cerr;
        cb_err_clear(&cerr);
        cb_cuda_graph *gr = NULL;
        int rc_cap = cb_cuda_graph_begin(mc->ctx, &cerr);
        if (!rc_cap) {
            int rc_step = enqueue_step(mc, T, n_tiles, max_nt, n_out, mc->n_split_max, &cerr);
            cb_err cerr2;
            cb_err_clear(&cerr2);
            int rc_end = cb_cuda_graph_end(mc->ctx, &gr, &cerr2);
            if (!rc_step && rc_end) cerr = cerr2;
            rc_cap = rc_step ? rc_step : rc_end;
        }
        if (rc_cap) {
            cb_cuda_graph_free(gr);
            mc->graph_state[T] = 2;
            snprintf(mc->graph_error, sizeof mc->graph_error, "%s", cerr.msg);
            decode = 0;
        } else {
            mc->graphs[T] = gr;
            mc->n_graphs++;
        }
    }
    if (decode) {
        rc = cb_cuda_graph_launch(mc->ctx, mc->graphs[T], err);
        mc->n_replays++;
    } else {
        if (n_out == T && n_tiles == T && T < mc->n_graph_slots) mc->n_decode_eager++;
        int n_split = max_pos / CB_CUDA_ATTN_CHUNK + 1;
        rc = enqueue_step(mc, T, n_tiles, max_nt, n_out, n_split, err);
    }
    if (rc) return rc;
    if (!rq) {
        mc->n_rows_full += n_out;
        return cb_cuda_download(mc->ctx, logits, mc->logits, (size_t)n_out * (size_t)V * sizeof(float), err);
    }
    const int f0 = rq->full_from < 0 ? 0 : rq->full_from, f1 = rq->full_to > n_out ? n_out : rq->full_to;
    if (f1 > f0) {
        mc->n_rows_full += f1 - f0;
        const size_t off = (size_t)f0 * (size_t)V;
        if ((rc = cb_cuda_download_async(mc->ctx, logits + off, mc->logits + off,
                                         (size_t)(f1 - f0) * (size_t)V * sizeof(float), err)))
            return rc;
    }
    if (rq->argmax && (rc = cb_cuda_download_async(mc->ctx, rq->argmax, mc->d_am, (size_t)n_out * sizeof(int32_t), err)))
        return rc;
    if (rq->logprob && (rc = cb_cuda_download_async(mc->ctx, rq->logprob, mc->d_lp, (size_t)n_out * sizeof(double), err)))
        return rc;
    return cb_cuda_sync(mc->ctx, err);
}

int cb_model_cuda_kv_copy(cb_model_cuda *mc, int dst, int src, int n_pos, cb_err *err) {
    if (dst == src || n_pos <= 0) return 0;
    if (dst < 0 || src < 0 || dst >= mc->kvs.n_slots || src >= mc->kvs.n_slots || n_pos > mc->kvs.n_ctx)
        return cb_err_set(err, CB_EUSAGE, "kv copy: slots %d <- %d, %d positions", dst, src, n_pos);
    const size_t n = (size_t)n_pos * (size_t)mc->kvs.kv_dim * sizeof(float);
    for (int l = 0; l < mc->kvs.n_layer; l++)
        for (int w = 0; w < 2; w++) {
            int rc = cb_cuda_copy(mc->ctx, mc->kv + cb_cuda_kv_offset(&mc->kvs, l, dst, w),
                                  mc->kv + cb_cuda_kv_offset(&mc->kvs, l, src, w), n, err);
            if (rc) return rc;
        }
    return 0;
}

void cb_model_cuda_get_info(const cb_model_cuda *mc, cb_model_cuda_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->device_name, sizeof out->device_name, "%s", mc->dev_name);
    out->weight_bytes = mc->weight_bytes;
    out->kv_bytes = mc->kv_bytes;
    out->n_graphs = mc->n_graphs;
    out->graphs_enabled = mc->graphs_enabled;
    snprintf(out->graph_error, sizeof out->graph_error, "%s", mc->graph_error);
    out->n_replays = mc->n_replays;
    out->n_decode_eager = mc->n_decode_eager;
    out->n_rows_full = mc->n_rows_full;
    out->sync_launches = getenv("CAPBENCH_CUDA_SYNC") && strcmp(getenv("CAPBENCH_CUDA_SYNC"), "1") == 0;
}

/* ---- the module's table ---------------------------------------------------------------- */

static int measure(int device, size_t copy_bytes, int gemm_n, cb_cuda_ceilings *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    cb_cuda_device_info di;
    cb_cuda_ctx *cx = NULL;
    int rc = cb_cuda_device_info_get(device, &di, err);
    if (!rc) rc = cb_cuda_ctx_new(device, &cx, err);
    if (!rc) rc = cb_cuda_measure_copy_bandwidth(cx, copy_bytes, 5, &out->copy_bw, err);
    if (!rc) rc = cb_cuda_measure_gemm_peak(cx, gemm_n, 10, &out->gemm_peak, err);
    cb_cuda_ctx_free(cx);
    if (!rc) snprintf(out->name, sizeof out->name, "%s", di.name);
    return rc;
}

static const cb_cuda_module module_table = {
    .abi = CB_CUDA_MODULE_ABI,
    .size = sizeof(cb_cuda_module),
    .probe = cb_model_cuda_probe,
    .model_new = cb_model_cuda_new,
    .model_free = cb_model_cuda_free,
    .forward = cb_model_cuda_forward,
    .kv_copy = cb_model_cuda_kv_copy,
    .get_info = cb_model_cuda_get_info,
    .measure = measure,
};

/* The module's only exported symbol (the rest is hidden: CMakeLists.txt). */
__attribute__((visibility("default"))) const cb_cuda_module *cb_cuda_module_entry(void);
const cb_cuda_module *cb_cuda_module_entry(void) { return &module_table; }
