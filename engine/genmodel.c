/* engine/genmodel.c — random-weight llama GGUF generator (`capbench gen-model`).
 *
 * Declares every tensor to the GGUF writer with a fill callback, so each
 * tensor is generated only when the writer reaches it and the whole model
 * never sits in memory. Values are produced in fixed chunks of CHUNK elements;
 * each chunk has its own xoshiro256** stream seeded (through splitmix64) from
 * (seed, tensor index, chunk index), so chunks can be spread over a thread
 * pool and the bytes still do not depend on the thread count. The tokenizer
 * metadata is copied from a vocab GGUF or synthesized (a plain SPM vocab).
 * It does not train, load or validate a model beyond what the writer checks.
 */
#include "engine/genmodel.h"

#include "common/rng.h"

#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536   /* elements per RNG stream; a multiple of 256 (K-quant blocks) and even */
#define WEIGHT_STD 0.02
#define SYNTH_VOCAB 32000

typedef struct shape {
    const char *name;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
} shape;

static const shape shapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 2048},
    {"tiny", 64, 2, 4, 2, 160, 512},
    {"tiny256", 256, 8, 4, 2, 512, 512}, /* rows a multiple of 256: real K-quants, 8 layers for Q4_K_M */
};

/* --type names: the matrix type, general.file_type (llama.cpp's ftype
 * numbers) and whether it is the Q4_K_M mixture. */
typedef struct type_spec {
    const char *name;
    uint32_t type, file_type;
    int q4_k_m;
} type_spec;

static const type_spec type_specs[] = {
    {"f32", CB_GGML_F32, 0, 0},   {"f16", CB_GGML_F16, 1, 0},   {"q8_0", CB_GGML_Q8_0, 7, 0},
    {"q4_0", CB_GGML_Q4_0, 2, 0}, {"q4_1", CB_GGML_Q4_1, 3, 0}, {"q5_0", CB_GGML_Q5_0, 8, 0},
    {"q5_1", CB_GGML_Q5_1, 9, 0}, {"q4_k", CB_GGML_Q4_K, 14, 0}, {"q5_k", CB_GGML_Q5_K, 16, 0},
    {"q6_k", CB_GGML_Q6_K, 18, 0}, {"q4_k_m", CB_GGML_Q4_K, 15, 1},
};
#define TYPE_NAMES "f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k or q4_k_m"

/* llama.cpp's "use more bits" layers of the _M mixtures: the first and last
 * eighth of the layers and every third layer in between. */
static int more_bits(uint32_t layer, uint32_t n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

/* The type of one matrix (part: "token_embd", "output", or a layer part such
 * as "attn_v") with rows of ne0 elements. Q4_K_M: output Q6_K; attn_v and
 * ffn_down Q6_K on more_bits layers; everything else Q4_K. A K-quant whose
 * rows are not a multiple of 256 falls back as llama-quantize does: Q4_K ->
 * Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. */
static uint32_t matrix_type(const type_spec *ts, const char *part, uint32_t layer, uint32_t n_layer, uint64_t ne0) {
    uint32_t t = ts->type;
    if (ts->q4_k_m) {
        if (!strcmp(part, "output")) t = CB_GGML_Q6_K;
        else if ((!strcmp(part, "attn_v") || !strcmp(part, "ffn_down")) && more_bits(layer, n_layer)) t = CB_GGML_Q6_K;
    }
    if (ne0 % (uint64_t)cb_type_block_elems(t)) {
        if (t == CB_GGML_Q4_K) t = CB_GGML_Q5_0;
        else if (t == CB_GGML_Q5_K) t = CB_GGML_Q5_1;
        else if (t == CB_GGML_Q6_K) t = CB_GGML_Q8_0;
    }
    return t;
}

/* ---- RNG: common/rng.h's xoshiro256**, one stream per (tensor, chunk) ------ */

typedef cb_rng rng;
#define rng_next cb_rng_next

static void rng_seed(rng *r, uint64_t seed, uint64_t tensor, uint64_t chunk) {
    uint64_t x = seed;
    /* fold the stream coordinates in through splitmix64 so nearby ids decorrelate */
    x = cb_splitmix64_next(&x) ^ (tensor + 1) * 0xd1b54a32d192ed03ull;
    x = cb_splitmix64_next(&x) ^ (chunk + 1) * 0x8cb92ba72f3d8dd7ull;
    for (int i = 0; i < 4; i++) r->s[i] = cb_splitmix64_next(&x);
}

/* n normal values with mean 0 and standard deviation std (Box-Muller). */
static void gen_normal(rng *r, float *out, int64_t n, double std) {
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = (double)((rng_next(r) >> 11) + 1) * 0x1p-53; /* (0, 1] so log is finite */
        double u2 = (double)(rng_next(r) >> 11) * 0x1p-53;
        double rad = sqrt(-2.0 * log(u1)) * std;
        out[i] = (float)(rad * cos(two_pi * u2));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(two_pi * u2));
    }
}

/* ---- tensor filling ---------------------------------------------------------- */

enum { KIND_NORMAL, KIND_ONES };

typedef struct tdesc {
    int kind;
    uint32_t type;
    uint64_t n_elems;
} tdesc;

typedef struct gen {
    uint64_t seed;
    tdesc *descs;
    uint64_t n_descs;
    cb_pool *pool;
    float *scratch; /* pool size x CHUNK floats */
    /* the tensor being filled, for the pool job */
    uint64_t cur;
    void *buf;
} gen;

static void fill_job(void *ctx, int ith, int nth) {
    gen *g = ctx;
    const tdesc *d = &g->descs[g->cur];
    float *tmp = g->scratch + (size_t)ith * CHUNK;
    uint64_t n_chunks = (d->n_elems + CHUNK - 1) / CHUNK;
    for (uint64_t c = (uint64_t)ith; c < n_chunks; c += (uint64_t)nth) {
        uint64_t start = c * CHUNK;
        int64_t len = (int64_t)(d->n_elems - start < CHUNK ? d->n_elems - start : CHUNK);
        rng r;
        rng_seed(&r, g->seed, g->cur, c);
        gen_normal(&r, tmp, len, WEIGHT_STD);
        /* start and len are multiples of 256 (CHUNK is), so blocks never straddle chunks */
        size_t at = (size_t)(start / (uint64_t)cb_type_block_elems(d->type)) * cb_type_block_bytes(d->type);
        cb_quantize_row(d->type, tmp, (char *)g->buf + at, len);
    }
}

static int fill_tensor(void *ctx, uint64_t idx, void *buf, uint64_t n_bytes) {
    gen *g = ctx;
    if (idx >= g->n_descs) return CB_ERUNTIME;
    const tdesc *d = &g->descs[idx];
    if (d->kind == KIND_ONES) {
        float *o = buf;
        for (uint64_t i = 0; i < d->n_elems; i++) o[i] = 1.0f;
        return 0;
    }
    g->cur = idx;
    g->buf = buf;
    cb_pool_run(g->pool, fill_job, g);
    return 0;
}

/* ---- vocab ------------------------------------------------------------------- */

/* Synthesized SPM vocab of n tokens (see genmodel.h). */
static int set_synth_vocab(cb_gguf_writer *w, uint32_t n, cb_err *err) {
    int rc = 0;
    char *text = calloc(n, 16);
    const char **toks = calloc(n, sizeof *toks);
    float *scores = calloc(n, sizeof *scores);
    int32_t *types = calloc(n, sizeof *types);
    if (!text || !toks || !scores || !types) {
        rc = cb_err_set(err, CB_ENOMEM, "gen-model: out of memory for a %u-token vocab", n);
        goto out;
    }
    uint32_t i = 0;
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    static const int32_t special_type[3] = {2, 3, 3}; /* UNKNOWN, CONTROL, CONTROL */
    for (; i < 3 && i < n; i++) {
        snprintf(text + 16 * (size_t)i, 16, "%s", special[i]);
        types[i] = special_type[i];
    }
    for (uint32_t b = 0; b < 256 && i < n; b++, i++) {
        snprintf(text + 16 * (size_t)i, 16, "<0x%02X>", b);
        types[i] = 6; /* BYTE */
    }
    if (i < n) {
        snprintf(text + 16 * (size_t)i, 16, "\xe2\x96\x81");
        types[i++] = 1;
    }
    /* lowercase strings of length 1..4 in order, each as "▁s" then "s" */
    for (uint32_t len = 1; len <= 4 && i < n; len++) {
        uint32_t count = 1;
        for (uint32_t k = 0; k < len; k++) count *= 26;
        for (uint32_t v = 0; v < count && i < n; v++) {
            char s[8];
            uint32_t x = v;
            for (uint32_t k = len; k-- > 0;) {
                s[k] = (char)('a' + x % 26);
                x /= 26;
            }
            s[len] = 0;
            for (int pre = 1; pre >= 0 && i < n; pre--, i++) {
                snprintf(text + 16 * (size_t)i, 16, "%s%s", pre ? "\xe2\x96\x81" : "", s);
                types[i] = 1;
            }
        }
    }
    if (i < n) {
        rc = cb_err_set(err, CB_EUSAGE, "gen-model: cannot synthesize more than %u tokens", i);
        goto out;
    }
    for (uint32_t k = 0; k < n; k++) {
        toks[k] = text + 16 * (size_t)k;
        scores[k] = types[k] == 1 ? -(float)(k - 259) : 0.0f; /* earlier (shorter) pieces merge first */
    }
    cb_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    cb_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, n);
    cb_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", scores, n);
    cb_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, n);
    cb_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    cb_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    cb_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    cb_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    cb_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", 0);
out:
    free(text);
    free(toks);
    free(scores);
    free(types);
    return rc;
}

/* Picks the vocab file: explicit path, else the shared llama-spm vocab if present, else NULL. */
static const char *vocab_file(const cb_genmodel_opts *o, char *buf, size_t n) {
    if (o->synth_vocab) return NULL;
    if (o->vocab_path) return o->vocab_path;
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir || !*dir) return NULL;
    int k = snprintf(buf, n, "%s/reference/tokenizer/ggml-vocab-llama-spm.gguf", dir);
    if (k < 0 || (size_t)k >= n || access(buf, R_OK) != 0) return NULL;
    return buf;
}

/* ---- model ------------------------------------------------------------------- */

static void add(cb_gguf_writer *w, gen *g, const char *name, int kind, uint32_t type, uint32_t nd, uint64_t ne0,
                uint64_t ne1) {
    uint64_t ne[2] = {ne0, ne1};
    tdesc *d = &g->descs[g->n_descs++];
    d->kind = kind;
    d->type = type;
    d->n_elems = ne0 * (nd == 2 ? ne1 : 1);
    cb_gguf_writer_add_tensor_fn(w, name, type, nd, ne, fill_tensor, g);
}

int cb_genmodel_write(const cb_genmodel_opts *o, cb_err *err) {
    int rc = 0;
    cb_gguf_writer *w = NULL;
    cb_gguf *vocab = NULL;
    gen g = {0};
    const shape *sh = NULL;
    const type_spec *ts = NULL;
    char pathbuf[4096];

    if (!o || !o->shape || !o->type || !o->out_path)
        return cb_err_set(err, CB_EUSAGE, "gen-model: shape, type and output path are required");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(o->shape, shapes[i].name)) sh = &shapes[i];
    if (!sh)
        return cb_err_set(err, CB_EUSAGE, "gen-model: unknown shape '%s' (expected tinyllama-1.1b, tiny or tiny256)",
                          o->shape);
    for (size_t i = 0; i < sizeof type_specs / sizeof type_specs[0]; i++)
        if (!strcmp(o->type, type_specs[i].name)) ts = &type_specs[i];
    if (!ts) return cb_err_set(err, CB_EUSAGE, "gen-model: unknown type '%s' (expected " TYPE_NAMES ")", o->type);

    uint32_t n_vocab = SYNTH_VOCAB;
    const char *vpath = vocab_file(o, pathbuf, sizeof pathbuf);
    if (vpath) {
        uint32_t et;
        uint64_t cnt;
        if ((rc = cb_gguf_open(vpath, &vocab, err))) goto out;
        if (cb_gguf_get_arr(vocab, "tokenizer.ggml.tokens", &et, &cnt) || et != CB_GGUF_STRING || cnt < 3 ||
            cnt > UINT32_MAX) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: no usable tokenizer.ggml.tokens array of strings", vpath);
            goto out;
        }
        n_vocab = (uint32_t)cnt;
    }

    uint32_t head_dim = sh->n_embd / sh->n_head, kv_dim = sh->n_head_kv * head_dim;
    if ((rc = cb_gguf_writer_new(3, 32, &w, err))) goto out;
    char name[128];
    snprintf(name, sizeof name, "capbench-random-%s-%s", sh->name, o->type);
    cb_gguf_writer_set_str(w, "general.architecture", "llama");
    cb_gguf_writer_set_str(w, "general.name", name);
    cb_gguf_writer_set_u32(w, "general.file_type", ts->file_type);
    cb_gguf_writer_set_u32(w, "llama.context_length", sh->n_ctx);
    cb_gguf_writer_set_u32(w, "llama.embedding_length", sh->n_embd);
    cb_gguf_writer_set_u32(w, "llama.block_count", sh->n_layer);
    cb_gguf_writer_set_u32(w, "llama.feed_forward_length", sh->n_ff);
    cb_gguf_writer_set_u32(w, "llama.attention.head_count", sh->n_head);
    cb_gguf_writer_set_u32(w, "llama.attention.head_count_kv", sh->n_head_kv);
    cb_gguf_writer_set_u32(w, "llama.rope.dimension_count", head_dim);
    cb_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    cb_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    cb_gguf_writer_set_u32(w, "llama.vocab_size", n_vocab);
    cb_gguf_writer_set_u64(w, "capbench.genmodel.seed", o->seed);
    if (vocab) {
        if ((rc = cb_gguf_writer_copy_kv(w, vocab, "tokenizer."))) {
            rc = cb_err_set(err, rc, "gen-model: cannot copy the tokenizer keys of %s", vpath);
            goto out;
        }
    } else if ((rc = set_synth_vocab(w, n_vocab, err))) {
        goto out;
    }

    g.seed = o->seed;
    g.descs = calloc(3 + 9 * (size_t)sh->n_layer, sizeof *g.descs);
    int n_threads = o->n_threads > 0 ? o->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    g.scratch = malloc((size_t)n_threads * CHUNK * sizeof(float));
    if (!g.descs || !g.scratch) {
        rc = cb_err_set(err, CB_ENOMEM, "gen-model: out of memory");
        goto out;
    }
    if ((rc = cb_pool_new(n_threads, &g.pool, err))) goto out;

    uint32_t E = sh->n_embd, F = sh->n_ff;
    add(w, &g, "token_embd.weight", KIND_NORMAL, matrix_type(ts, "token_embd", 0, sh->n_layer, E), 2, E, n_vocab);
    for (uint32_t l = 0; l < sh->n_layer; l++) {
        static const char *const parts[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                             "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
        const uint64_t ne1[9] = {1, E, kv_dim, kv_dim, E, 1, F, F, E};
        for (int p = 0; p < 9; p++) {
            char tn[96];
            snprintf(tn, sizeof tn, "blk.%u.%s.weight", l, parts[p]);
            if (p == 0 || p == 5)
                add(w, &g, tn, KIND_ONES, CB_GGML_F32, 1, E, 1);
            else
                add(w, &g, tn, KIND_NORMAL, matrix_type(ts, parts[p], l, sh->n_layer, p == 8 ? F : E), 2,
                    p == 8 ? F : E, ne1[p]);
        }
    }
    add(w, &g, "output_norm.weight", KIND_ONES, CB_GGML_F32, 1, E, 1);
    add(w, &g, "output.weight", KIND_NORMAL, matrix_type(ts, "output", 0, sh->n_layer, E), 2, E, n_vocab);
    rc = cb_gguf_writer_write(w, o->out_path, err);
out:
    cb_pool_free(g.pool);
    free(g.scratch);
    free(g.descs);
    cb_gguf_writer_free(w);
    cb_gguf_free(vocab);
    return rc;
}
