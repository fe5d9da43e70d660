/* runner/backend.h — what the scheduler sends to a model and gets back, and the
 * driver table every backend (local engine, OpenAI-compatible API) fills in.
 *
 * The scheduler owns requests and responses: a backend writes out[i] for
 * reqs[i] (any order, possibly concurrently) and allocates the strings and
 * arrays inside cb_response with malloc; cb_response_clear frees them.
 * A failed request is not a failed batch: the backend sets out[i].error and
 * returns 0. submit returns nonzero only when the whole run must stop (a 401
 * from the server, the model file vanished, Ctrl-C), with err set. One code is
 * distinct so the runner can tell the user what to change: CB_EUNSUP = the
 * backend cannot score LOGLIKELIHOOD / ROLLING requests at all (a server that
 * rejects echo+logprobs or returns no prompt logprobs); it is reported on the
 * first such request, never by dropping the metrics silently.
 *
 * Prompt text: both backends that send text (local, and the remote backend's
 * completions mode) render requests with runner/prompt.h, so a model with
 * template "none" sees the same prompt through either.
 */
#ifndef CB_BACKEND_H
#define CB_BACKEND_H

#include "common/err.h"

#include <stdint.h>

typedef enum {
    CB_REQ_GENERATE = 0,     /* messages (or raw prompt) -> text */
    CB_REQ_LOGLIKELIHOOD = 1,/* context + continuation -> sum log p(continuation | context) */
    CB_REQ_ROLLING = 2       /* text -> total log p(text), for perplexity / bits per byte */
} cb_req_kind;

typedef enum { CB_ROLE_SYSTEM = 0, CB_ROLE_USER = 1, CB_ROLE_ASSISTANT = 2 } cb_role;

typedef struct cb_message {
    cb_role role;
    const char *text;
} cb_message;

typedef struct cb_request {
    cb_req_kind kind;
    uint64_t id;             /* scheduler's tag; backends copy it to the response */
    /* GENERATE: chat messages (chat models) ... */
    const cb_message *messages;
    int n_messages;
    /* ... or, when `prompt` is set, a raw completion prompt (no chat template). */
    const char *prompt;
    int max_tokens;
    float temperature;       /* 0 = greedy */
    int top_k;               /* 0 = off */
    float top_p;             /* 1 = off */
    uint64_t seed;
    const char *const *stop; /* stop strings, n_stop of them */
    int n_stop;
    /* LOGLIKELIHOOD: context is rendered like a GENERATE prompt (messages through
     * the chat template with the assistant prefix, or `prompt` as raw text), then
     * `continuation` is scored token by token. `cont_prefix` (may be NULL) is
     * appended to the rendered context before the continuation and is context,
     * never scored (TASKS.md 1.5: the gold log-prob sums the gold tokens only). */
    const char *cont_prefix;
    const char *continuation;
    /* ROLLING: `prompt` is the text; window/stride in tokens (0 = model context). */
    int window, stride;
} cb_request;

typedef struct cb_response {
    uint64_t id;
    char *error;             /* NULL on success; else what went wrong (sample recorded as failed) */
    char *text;              /* GENERATE output */
    char *rendered_prompt;   /* exact prompt text the model saw (after chat template), if known;
                                LOGLIKELIHOOD: context + cont_prefix + continuation. BOS is
                                included only when a chat template writes it as text */
    int prompt_tokens;
    int completion_tokens;
    char *finish_reason;     /* "stop", "length", "eos" ... */
    double logprob_sum;      /* LOGLIKELIHOOD / ROLLING */
    int n_scored;            /* tokens scored */
    double *token_logprobs;  /* n_scored of them (may be NULL for remote) */
    int is_greedy;           /* LOGLIKELIHOOD: greedy decoding would produce the continuation */
    int64_t n_bytes;         /* ROLLING: bytes of text scored (for bits per byte) */
    /* Seconds until this request's answer, per request. Remote: wall time of the
     * attempt that produced the answer. Local: from the start of the submit's
     * engine work to the end of the engine step that completed this request;
     * the requests of one submit run together, so their latencies overlap and
     * do not add up to the wall time. */
    double latency_s;
    int attempts;            /* remote: tries made (1 = no retry) */
} cb_response;

void cb_response_clear(cb_response *r); /* frees owned fields and zeroes r */

typedef struct cb_backend_info {
    char kind[16];           /* "local" or "openai" */
    char model_id[512];      /* local: file path basename; remote: model name */
    char model_sha256[65];   /* local file hash ("" for remote) */
    int64_t model_bytes;
    char base_url[512];      /* remote only; credentials in it redacted (common/url.h) */
    char device[32];         /* "cpu", "cuda:0 NVIDIA H100", "remote" */
    int supports_loglik;     /* LOGLIKELIHOOD / ROLLING available */
    char chat_template[32];  /* template name in use, "none" for completion mode */
} cb_backend_info;

typedef struct cb_backend cb_backend;
struct cb_backend {
    void *ctx;
    /* Runs n requests; fills out[i] for reqs[i]. May be called many times. */
    int (*submit)(cb_backend *b, const cb_request *reqs, cb_response *out, int n, cb_err *err);
    /* Fills info (never touches secrets). */
    void (*describe)(cb_backend *b, cb_backend_info *info);
    /* Optional (may be NULL): tokenize text with the model's tokenizer, for token edit distance.
     * Returns count written (<= cap) or -1. */
    int (*tokenize)(cb_backend *b, const char *text, int32_t *ids, int cap);
    void (*close)(cb_backend *b); /* frees ctx and b */
};

#endif
