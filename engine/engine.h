/* engine/engine.h — the local inference engine's public, batched API.
 *
 * An engine owns one model file (mmapped GGUF, tokenizer, weights), a KV cache
 * of n_seq sequence slots of n_ctx positions each, a thread pool and all
 * scratch. Callers submit requests (any number; they queue) and step the
 * engine; every step is ONE forward pass over the weights that advances all
 * active sequences together: prefill chunks of new prompts and one decode
 * token for each running generation, concatenated into one (T, C) batch.
 * cb_engine_run does submit + step-until-done for a whole array.
 *
 * Request kinds:
 *   GENERATE    prompt -> sampled continuation (tokens, text, finish reason)
 *   LOGLIK      context + continuation -> sum and per-token log-probs of the
 *               continuation, and whether greedy decoding would produce it
 *   ROLLING     text -> log-probs of every token (windowed) or llama.cpp's
 *               perplexity procedure (see cb_rolling_mode)
 * Requests queued together whose prefix tokens (GENERATE prompt, LOGLIK
 * context) are equal, or start with the same tokens (a few-shot prefix),
 * share one prefill: the common part is computed once in one slot and its KV
 * rows are copied into the siblings' slots, which go on from there; when the
 * common part is a request's whole context, its first continuation token is
 * scored straight from the shared logits, so the one-token continuations of
 * one context all come from one forward pass. Scores are bit-identical to
 * running each request alone (batch invariance, see model.h).
 *
 * Determinism: results are bit-identical whatever other requests share the
 * steps, the thread count and the slot a request lands in (see model.h); a
 * generation with temperature > 0 depends only on its seed. On device "cuda"
 * this holds for steps of up to CB_CUDA_SMALL_T (8) tokens; larger steps go
 * through cuBLAS and agree to rounding only (see engine/model_cuda.h).
 *
 * Not thread-safe: one thread drives an engine.
 */
#ifndef CB_ENGINE_H
#define CB_ENGINE_H

#include "common/err.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_engine cb_engine;
typedef struct cb_model cb_model;

typedef struct cb_engine_opts {
    const char *model_path;
    int n_threads;      /* 0: the number of online CPUs */
    int n_ctx;          /* positions per sequence; 0: min(model context_length, 2048) (2048 if unknown) */
    int n_seq;          /* KV slots = sequences advanced together; 0: 8 */
    int n_batch;        /* max tokens per step; 0: 512 */
    const char *device; /* "cpu" (NULL = cpu), "cuda" (= cuda:0) or "cuda:N" (CUDA device N) */
    int no_prefix_sharing; /* nonzero: every request prefills its own prefix
                              (benchmarks measure what sharing saves) */
} cb_engine_opts;

/* Parses a device name: "cpu" or NULL (*ordinal = -1), "cuda" (0) or
 * "cuda:N" (N, 0..999). 0, or CB_EUSAGE for anything else. */
int cb_engine_parse_device(const char *s, int *ordinal);

/* Opens the model and allocates everything the engine will need (KV cache of
 * n_seq x n_ctx F32 positions, scratch, pool). Errors: CB_EUSAGE (bad options),
 * CB_EIO / CB_EFORMAT / CB_EUNSUP (the model file; the message names it),
 * CB_ENODEV (device "cuda" in a build without CUDA, the CUDA module or its
 * libraries not loadable, no such device, or too little device memory; the
 * message says which, with the loader's or the cudaError string), CB_ENOMEM.
 * Device "cuda[:N]" runs the forward pass on that GPU (engine/model_cuda.h,
 * loaded on first use from the CUDA module, engine/cuda_module.h); the
 * scheduling, sampling and scoring stay here, with the greedy argmax and the
 * scored tokens' log-probabilities computed on the GPU
 * (CAPBENCH_CUDA_DEVICE_REDUCE=0 downloads whole rows instead). */
int cb_engine_open(const cb_engine_opts *opts, cb_engine **out, cb_err *err);
void cb_engine_free(cb_engine *e); /* NULL is a no-op; pending requests are dropped */

/* ---- accessors (valid while the engine lives) ---------------------------- */
const cb_tokenizer *cb_engine_tokenizer(const cb_engine *e);
const cb_model *cb_engine_model(const cb_engine *e);
int64_t cb_engine_n_vocab(const cb_engine *e);
int cb_engine_n_ctx(const cb_engine *e);
int cb_engine_n_seq(const cb_engine *e);
int cb_engine_n_threads(const cb_engine *e);
int64_t cb_engine_n_params(const cb_engine *e);         /* each weight once */
int64_t cb_engine_n_params_nonembd(const cb_engine *e); /* minus embedding and a separate output head */
/* tokenizer.chat_template of the file, NUL-terminated; NULL when absent. */
const char *cb_engine_chat_template(const cb_engine *e);
const char *cb_engine_model_path(const cb_engine *e);
const char *cb_engine_device(const cb_engine *e);       /* "cpu", or the cuda device as given */

/* ---- requests --------------------------------------------------------------- */
typedef enum { CB_ENGINE_GENERATE = 0, CB_ENGINE_LOGLIK = 1, CB_ENGINE_ROLLING = 2 } cb_engine_kind;

typedef enum {
    /* Every token of the text is scored once: windows of `window` tokens
     * (first input BOS), each next window advancing by `stride` scored tokens
     * with the window's earlier tokens as context. window 0 = n_ctx, stride
     * 0 = window. */
    CB_ROLLING_WINDOWS = 0,
    /* llama.cpp llama-perplexity: the text (with BOS) is cut into
     * floor(n / window) chunks of `window` tokens, leftovers dropped; each
     * chunk's first token is replaced by BOS and only its second half is scored
     * (window - window/2 - 1 predictions). stride is ignored. */
    CB_ROLLING_PERPLEXITY = 1
} cb_rolling_mode;

typedef enum {
    CB_FINISH_NONE = 0,
    CB_FINISH_LENGTH = 1,  /* max_tokens reached, or the context is full */
    CB_FINISH_EOS = 2,     /* an end-of-generation token (not included in the output) */
    CB_FINISH_STOP = 3     /* a stop string (removed from the text, with what followed) */
} cb_finish_reason;

/* "length", "eos", "stop" ("" for NONE). */
const char *cb_finish_reason_name(cb_finish_reason r);

/* All pointers are borrowed only during cb_engine_submit (the engine copies
 * what it keeps). The prompt (GENERATE), context (LOGLIK) or text (ROLLING)
 * is either `ids` (taken as is, no BOS added) or `text`, which is tokenized
 * with BOS per add_bos (-1 = the vocab's choice) and special-token texts
 * parsed when parse_special != 0 (ROLLING never parses them). */
typedef struct cb_engine_req {
    cb_engine_kind kind;
    const char *text;
    size_t text_len;           /* 0: strlen(text) */
    const int32_t *ids;        /* used when text is NULL */
    int n_ids;
    int add_bos;               /* -1: tokenizer default */
    int parse_special;
    /* GENERATE */
    cb_sampler_params sampling;
    int max_tokens;            /* <= 0: until EOS or the context is full */
    const char *const *stop;   /* stop strings (n_stop) */
    int n_stop;
    int ignore_eos;            /* keep going after EOS (benchmarks) */
    /* GENERATE / LOGLIK: also return raw logits: one row (V floats) per
     * sampled token (the distribution it was drawn from; a final EOS row
     * included) or per scored continuation token. Tests, `capbench logits`. */
    int want_logits;
    /* LOGLIK: the continuation, as text or ids. From text it is tokenized the
     * lm-eval way: whole = encode(context + continuation), the context is the
     * first len(encode(context)) ids of whole and the continuation the rest.
     * An empty context is the BOS token alone (EOS if the vocab has no BOS). */
    const char *cont_text;
    size_t cont_len;           /* 0: strlen(cont_text) */
    const int32_t *cont_ids;   /* used when cont_text is NULL */
    int n_cont_ids;
    /* ROLLING */
    cb_rolling_mode rolling_mode;
    int window, stride;
} cb_engine_req;

/* Filled when the request completes. Arrays and strings are malloc'd and owned
 * by the result: free them with cb_engine_result_clear. */
typedef struct cb_engine_result {
    int done;                  /* set to 1 by the engine when the request completes (ok or not),
                                  so a caller stepping the engine can tell which ones finished */
    int status;                /* 0, or a CB_E* code with `error` set (the request failed alone) */
    char *error;
    int n_prompt;              /* tokens of prompt/context/text as evaluated */
    /* GENERATE */
    int32_t *tokens;           /* generated ids (EOS excluded) */
    int n_tokens;
    char *text;                /* decoded continuation, NUL-terminated (stop string trimmed) */
    size_t text_len;
    cb_finish_reason finish;
    /* LOGLIK / ROLLING */
    double logprob;            /* sum of token_logprobs */
    int n_scored;
    double *token_logprobs;    /* n_scored, in text order */
    int32_t *scored_ids;       /* n_scored: the tokens that were scored */
    int is_greedy;             /* LOGLIK: every scored token was the argmax */
    float *logits;             /* want_logits: (n_logits, V) */
    int n_logits;
} cb_engine_result;

void cb_engine_result_clear(cb_engine_result *r); /* frees owned fields and zeroes r */

/* Queues a request; *out is written when it completes (during a later
 * cb_engine_step) and must stay valid until then. Request-level problems
 * (empty continuation, prompt longer than the context, bad parameters) are
 * not errors here: they complete the request at once with out->status set.
 * Returns nonzero only for engine failures (CB_ENOMEM). */
int cb_engine_submit(cb_engine *e, const cb_engine_req *req, cb_engine_result *out, cb_err *err);

/* Runs one step (one forward pass) if anything is pending. *n_pending (may be
 * NULL) gets the number of requests not yet complete afterwards. Errors:
 * engine failures only (CB_ENOMEM, CB_ERUNTIME). */
int cb_engine_step(cb_engine *e, int *n_pending, cb_err *err);

/* Submits reqs[0..n) and steps until all are done; out[i] is reqs[i]'s result. */
int cb_engine_run(cb_engine *e, const cb_engine_req *reqs, cb_engine_result *out, int n, cb_err *err);

/* Counters since open: steps, tokens fed through the model, forward time;
 * on a cuda device also how decode ran (the rest are 0 on the CPU). */
typedef struct cb_engine_stats {
    int64_t n_steps;
    int64_t n_tokens;
    int64_t n_logit_rows;
    double forward_s;
    int n_graphs;             /* CUDA graphs captured (one per decode batch size) */
    int64_t n_graph_replays;  /* pure decode steps replayed from a graph */
    int64_t n_decode_eager;   /* pure decode steps run eagerly (first of a batch size; graphs off or failed) */
    int64_t n_rows_to_host;   /* logit rows copied to the host whole */
} cb_engine_stats;
void cb_engine_get_stats(const cb_engine *e, cb_engine_stats *st);

/* One line saying how the device ran decode, for reports: on a cuda device
 * whether decode steps ran from CUDA graphs (how many of how many), and if
 * not why (graphs off, the capture's error, only first steps); "" on the CPU. */
void cb_engine_device_note(const cb_engine *e, char *buf, size_t cap);

#endif
