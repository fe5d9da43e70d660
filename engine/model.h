/* engine/model.h — the decoder-only transformers the engine runs: llama
 * (Llama 2/3 with llama3 RoPE scaling, TinyLlama, Mistral, SmolLM), qwen2,
 * phi3 and gemma2. Hyper-parameters and weights are read from a GGUF file;
 * a per-sequence KV cache; one forward pass over a batch of tokens that may
 * belong to many sequences.
 *
 * What each architecture adds to the llama block (names as GGUF stores them):
 *   qwen2   q/k/v biases (attn_{q,k,v}.bias) added after the matmul, NEOX RoPE,
 *           output head tied to token_embd when output.weight is absent.
 *   phi3    fused attn_qkv (rows q | k | v) and ffn_up (rows gate | up), NEOX
 *           RoPE, Q scaled by 1/sqrt(D) before QK^T, optional sliding window
 *           (phi3.attention.sliding_window, 0 = none) on every layer.
 *   gemma2  embeddings times sqrt(C); norm weights used as stored (the GGUF
 *           already holds 1 + w); GELU(tanh) gate; post_attention_norm and
 *           post_ffw_norm on each block's output before the residual add;
 *           attention scores and final logits soft-capped
 *           (cap * tanh(s / cap)); sliding-window attention on even layers
 *           (a query at q sees keys p with q - p < window); output tied.
 * Not supported (refused with CB_EUNSUP): other architectures, mixture of
 * experts (llama.expert_count > 0), LongRoPE factor tensors (Phi-3 128k).
 *
 * The model never copies weights: every weight is a view into the GGUF
 * mapping, so the cb_gguf must outlive the cb_model. All arithmetic goes
 * through kernels/kernels.h; this file holds no device-specific code.
 *
 * Batch invariance: the forward pass computes every token's activations with
 * the same sequence of floating-point operations whatever else is in the
 * batch and whatever the thread count. Matmuls rely on the kernels' per-element
 * determinism; norms, RoPE, SwiGLU and residual adds are per token; attention
 * for (token, head) is evaluated by one thread in a fixed position order
 * against the token's own KV slot. The scheduler (engine.c) can therefore mix
 * prefill chunks and decode tokens of many sequences freely.
 *
 * Not here: tokenization (tokenizer.h), sampling (sampler.h), scheduling of
 * requests (engine.h).
 */
#ifndef CB_MODEL_H
#define CB_MODEL_H

#include "common/err.h"
#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CB_ROPE_SCALING_NONE = 0,
    CB_ROPE_SCALING_LINEAR = 1, /* positions divided by factor */
    CB_ROPE_SCALING_LLAMA3 = 2  /* Llama 3.1 frequency-dependent scaling */
} cb_rope_scaling;

typedef enum { CB_ARCH_LLAMA = 0, CB_ARCH_QWEN2 = 1, CB_ARCH_PHI3 = 2, CB_ARCH_GEMMA2 = 3 } cb_arch;

/* "llama, qwen2, phi3, gemma2": the names cb_model_load accepts. */
const char *cb_model_supported_archs(void);

typedef struct cb_model_hparams {
    char arch[32];          /* general.architecture ("llama", "qwen2", "phi3", "gemma2") */
    cb_arch arch_id;
    int64_t n_vocab;        /* V: rows of token_embd.weight */
    int64_t n_embd;         /* C */
    int64_t n_layer;
    int64_t n_ff;           /* F: SwiGLU hidden size */
    int64_t n_head;         /* H */
    int64_t n_head_kv;      /* Hkv (GQA: H % Hkv == 0) */
    int64_t head_dim;       /* D (llama.attention.key_length, default C / H) */
    int64_t n_rot;          /* rotated dims per head (llama.rope.dimension_count, default D) */
    int64_t n_ctx_train;    /* llama.context_length (0 when absent) */
    float rms_eps;          /* llama.attention.layer_norm_rms_epsilon (default 1e-5) */
    float rope_freq_base;   /* llama.rope.freq_base (default 10000) */
    int rope_neox;          /* 0: NORM (adjacent pairs, llama); 1: NEOX (i, i + n_rot/2) */
    cb_rope_scaling rope_scaling;
    float rope_factor;          /* linear / llama3 factor */
    float rope_low_freq_factor; /* llama3 */
    float rope_high_freq_factor;/* llama3 */
    int64_t rope_orig_ctx;      /* llama3 original_context_length */
    int has_rope_freqs;         /* rope_freqs.weight present (divides each frequency) */
    int tied_output;            /* output.weight absent: token_embd is the output head */
    /* architecture extras (0 = off) */
    int has_qkv_bias;           /* attn_{q,k,v}.bias present (qwen2; optional for llama) */
    int has_post_norms;         /* gemma2 post_attention_norm / post_ffw_norm */
    int ffn_gelu;               /* gemma2: gelu(gate) * up instead of silu(gate) * up */
    float embd_scale;           /* gemma2: sqrt(C), multiplies the input embeddings */
    float q_scale;              /* phi3/gemma2: Q *= q_scale after RoPE, scores unscaled;
                                   0: scores scaled by 1/sqrt(D) (llama, qwen2) */
    float attn_softcap;         /* gemma2 attn_logit_softcapping */
    float final_softcap;        /* gemma2 final_logit_softcapping */
    int64_t sliding_window;     /* keys p with pos - p >= window are masked */
    int swa_even_layers_only;   /* gemma2: the window applies to layers 0, 2, 4, ... */
} cb_model_hparams;

typedef struct cb_model_opts {
    /* -1: by architecture (llama -> NORM); 0: force NORM; 1: force NEOX. */
    int rope_neox;
} cb_model_opts;

typedef struct cb_model cb_model;

/* Reads hyper-parameters and binds every weight of a model of a supported
 * architecture in g, checking each tensor's presence, shape and type. opts
 * may be NULL. g is borrowed and must outlive *out. Errors: CB_EFORMAT
 * (missing or malformed metadata or tensor; the message names the key or
 * tensor and the file), CB_EUNSUP (another architecture: the message names it
 * and lists the supported ones; an unsupported tensor type, RoPE scaling or
 * feature), CB_ENOMEM. */
int cb_model_load(const cb_gguf *g, const cb_model_opts *opts, cb_model **out, cb_err *err);
void cb_model_free(cb_model *m);

const cb_model_hparams *cb_model_get_hparams(const cb_model *m);
/* Parameters counted once each (a tied output head is not counted twice). */
int64_t cb_model_n_params(const cb_model *m);
/* Parameters minus the token embedding and a separate output head. */
int64_t cb_model_n_params_nonembd(const cb_model *m);
/* Bytes of weights one forward pass reads (every matrix once, the output head
 * included, the embedding table excluded unless tied as the head). */
uint64_t cb_model_weight_bytes_per_pass(const cb_model *m);
/* The weight type of layer 0's feed-forward up projection, the type most of
 * a forward pass's multiply-adds run on (benchmarks time the kernel on it). */
uint32_t cb_model_ffn_type(const cb_model *m);
/* RoPE inverse frequencies (n_rot / 2 of them), scaling applied. */
const float *cb_model_rope_inv_freq(const cb_model *m);

/* ---- KV cache ---------------------------------------------------------------
 * F32 keys and values for n_slots independent sequences of up to n_ctx
 * positions, in one allocation. View of (layer l, slot s): K and V each
 * (n_ctx, Hkv*D) row-major. */
typedef struct cb_kv_cache cb_kv_cache;
int cb_kv_cache_new(const cb_model *m, int n_slots, int n_ctx, cb_kv_cache **out, cb_err *err);
void cb_kv_cache_free(cb_kv_cache *kv);
int cb_kv_cache_n_slots(const cb_kv_cache *kv);
int cb_kv_cache_n_ctx(const cb_kv_cache *kv);
size_t cb_kv_cache_bytes(const cb_kv_cache *kv);
/* Copies positions [0, n_pos) of every layer from slot src to slot dst. */
void cb_kv_cache_copy(cb_kv_cache *kv, int dst, int src, int n_pos);

/* ---- forward pass -------------------------------------------------------------
 * One step over n_tokens tokens: token[i] of sequence slot[i] at position
 * pos[i]. Tokens of one slot must appear in increasing position order; all
 * positions < pos[i] of that slot must already be in the cache or earlier in
 * this batch. want_logits[i] != 0 asks for token i's logits; they are written
 * to logits (n_out, V) in token order, n_out = count of nonzero flags. */
typedef struct cb_batch {
    int n_tokens;
    const int32_t *token;
    const int32_t *slot;
    const int32_t *pos;
    const uint8_t *want_logits;
} cb_batch;

/* Scratch for batches of up to max_tokens tokens with up to max_out logit rows,
 * attention over up to n_ctx positions, on a pool of n_threads threads. One
 * allocation; never resized on the hot path. */
typedef struct cb_model_scratch cb_model_scratch;
int cb_model_scratch_new(const cb_model *m, int max_tokens, int max_out, int n_ctx, int n_threads,
                         cb_model_scratch **out, cb_err *err);
void cb_model_scratch_free(cb_model_scratch *s);

/* Runs the batch. pool may be NULL (single thread) and must have at most the
 * n_threads the scratch was made for. Errors: CB_EUSAGE (token id, slot or
 * position out of range, too many tokens or logit rows for the scratch). */
int cb_model_forward(const cb_model *m, cb_kv_cache *kv, cb_model_scratch *s, cb_pool *pool,
                     const cb_batch *b, float *logits, cb_err *err);

#endif
