/* runner/backend_remote.h — the backend for OpenAI-compatible HTTP servers
 * (vLLM, llama.cpp server, SGLang, TGI's OpenAI route, hosted APIs).
 *
 * It turns cb_requests into POST /v1/chat/completions or /v1/completions calls,
 * runs them concurrently through runner/http (libcurl multi), retries the way
 * the official OpenAI SDKs do, and parses the replies into cb_responses. It
 * does not template chats (the server does that in chat mode), tokenize, or
 * store anything.
 *
 * Wire format (only the fields used):
 *   chat:        POST {base}/chat/completions
 *                {"model","messages":[{"role","content"}],"max_tokens","temperature",
 *                 "top_p","top_k"?,"seed","stop":[...]}
 *                -> {"choices":[{"message":{"content":STRING},"finish_reason":STRING}],
 *                    "usage":{"prompt_tokens":N,"completion_tokens":N}}
 *   completions: POST {base}/completions  {"model","prompt",... same sampling fields}
 *                -> {"choices":[{"text":STRING,"finish_reason":STRING}],"usage":{...}}
 *   loglik/rolling: POST {base}/completions
 *                {"model","prompt":CONTEXT+CONTINUATION,"echo":true,"logprobs":1,
 *                 "max_tokens":0,"temperature":0}
 *                -> {"choices":[{"logprobs":{"tokens":[STR],"token_logprobs":[NUM|null],
 *                    "top_logprobs":[{STR:NUM}|null],"text_offset":[N]}}]}
 *   errors:      {"error":{"message":STRING,...}} (also {"error":STRING}, {"message":STRING})
 *
 * Log-likelihood follows the lm-eval text recipe: text_offset is counted in
 * Unicode code points of the echoed prompt (as OpenAI and vLLM do); the
 * continuation's span starts at the token that contains the first continuation
 * code point and ends before the first token at or past the end of the prompt
 * (so a server that generates a token despite max_tokens 0 is not counted).
 * An empty context (the knowledge-bits probe: the separator is the BOS the
 * server adds) scores every token after a first token that carries no text,
 * zero-width ones included (SPM's dummy space), as the local engine does.
 * logprob_sum is the sum of token_logprobs over that span; is_greedy is true
 * when each span token's logprob is the largest in its top_logprobs entry.
 * ROLLING sums every token's logprob (the first token has none and is skipped;
 * window/stride are ignored: the server scores the whole text at once).
 *
 * Messages in completions mode (and the context of a LOGLIKELIHOOD request given
 * as messages) are rendered by runner/prompt.h, the renderer of the local
 * backend, with the template of opts.chat_template (default none: plain text,
 * "Q1\nA1\n\nQ2\n"), so a base model gets the same prompt text here as on the
 * local engine. A request with `prompt` set always goes to /completions. A
 * LOGLIKELIHOOD prompt is context + cont_prefix + continuation, and ctx_cp (the
 * code points before the continuation) includes cont_prefix, so cont_prefix is
 * never scored.
 *
 * Log-likelihood support is checked on the first such request: while no
 * log-likelihood reply with prompt logprobs has arrived yet, the first
 * LOGLIKELIHOOD/ROLLING request of a batch is sent alone before the rest. A 200
 * without prompt logprobs, or a 4xx other than 401/403/408/409/429 to such a
 * request ("Unsupported param: echo"; a chat-only server's 404 on /completions)
 * stops the run: submit returns CB_EUNSUP with a message that quotes the server
 * and says to set the model's "logprobs": false or pass --no-loglik.
 *
 * Credentials written in base_url (http://user:pass@host) go to the server
 * (libcurl sends them as basic auth) but are redacted (common/url.h) in every
 * message and in cb_backend_info.base_url.
 *
 * Retries (as the OpenAI SDKs): on 408, 409, 429, any 5xx, connection errors,
 * resets, truncated transfers and timeouts, up to max_retries more attempts.
 * The wait is retry-after-ms / Retry-After (seconds or HTTP date) when the
 * server sends one between 0 and 60 s, else retry_base_s * 2^k capped at
 * retry_max_s, times a jitter factor uniform in [0.75, 1.25] drawn from an RNG
 * seeded with rng_seed. 400, 401, 403 and 404 stop the whole run: submit
 * returns CB_EUSAGE (the server refused the key, model name, URL or
 * parameters the user gave: bad input) with the server's error message in err
 * (CB_EUNSUP for a log-likelihood request, see above). Other failures set
 * out[i].error after the last attempt and the run goes on. Not retried: a body
 * over max_response_bytes, a 200 whose body is not valid UTF-8 (the message
 * gives the byte offset) or not the JSON above, and redirects (3xx), which are
 * never followed, so the key never travels to another host.
 *
 * submit's results: out[i] is overwritten (zeroed first, not freed) with id,
 * text / scores, usage, finish_reason, rendered_prompt (completions requests
 * only: the exact prompt sent), attempts (tries made) and latency_s (wall time
 * of the attempt that produced the answer). It returns 0 when the batch ran
 * (some out[i].error may be set); CB_EUSAGE for 400/401/403/404; CB_EUNSUP when
 * a log-likelihood request is rejected or its reply has no logprobs, or the
 * backend was opened with logprobs = 0; CB_EINTR when stop_flag was raised. On a nonzero return every
 * request that did not finish has out[i].error = "not completed: ...".
 *
 * The API key is read from the environment variable named by api_key_env when
 * the backend opens, sent as "Authorization: Bearer KEY", and never appears in
 * any message, log line or cb_backend_info (error text from a server that echoes
 * it is redacted).
 */
#ifndef CB_BACKEND_REMOTE_H
#define CB_BACKEND_REMOTE_H

#include "runner/backend.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CB_REMOTE_CHAT = 0, CB_REMOTE_COMPLETIONS = 1 } cb_remote_mode;

typedef struct cb_remote_opts {
    /* Server base URL, e.g. "http://127.0.0.1:8080/v1" or "http://127.0.0.1:8080":
     * trailing slashes are dropped and "/v1" is appended unless the URL already
     * ends with it. Required. */
    const char *base_url;
    const char *model;              /* "model" field of every request; required */
    const char *api_key_env;        /* NAME of the env var holding the key; NULL/"" = no key */
    cb_remote_mode mode;            /* how GENERATE requests with messages are sent */
    int concurrency;                /* requests in flight (default 8) */
    double connect_timeout_s;       /* per attempt (default 10) */
    double request_timeout_s;       /* per attempt, whole transfer (default 120) */
    size_t max_response_bytes;      /* body cap (default 8 MiB) */
    int max_retries;                /* attempts after the first (default 2) */
    double retry_base_s;            /* first backoff (default 0.5), doubling ... */
    double retry_max_s;             /* ... up to this (default 8) */
    double retry_after_max_s;       /* Retry-After honoured up to this (default 60) */
    uint64_t rng_seed;              /* jitter RNG seed (default 0 is a valid seed) */
    int logprobs;                   /* server supports echo+logprobs on /completions
                                       (default 1); 0: LOGLIKELIHOOD/ROLLING fail at once */
    /* Template that renders messages into text for /completions (completions
     * mode, and log-likelihood contexts in either mode), through the renderer
     * the local backend uses (runner/prompt.h). NULL, "", "auto" or "none":
     * plain text (template none). A name from engine/chat.h ("chatml", ...)
     * renders that family without BOS text (the server adds BOS) and sends the
     * family's stop strings with every completions request. */
    const char *chat_template;
    /* Optional: polled while waiting; when *stop_flag becomes nonzero submit
     * cancels the batch and returns CB_EINTR (for Ctrl-C). */
    const volatile sig_atomic_t *stop_flag;
} cb_remote_opts;

/* Fills o with the defaults above (base_url and model NULL). */
void cb_remote_opts_init(cb_remote_opts *o);

/* Opens a remote backend. Checks the options (URL scheme http/https, model set,
 * api_key_env set in the environment when named) but does not contact the
 * server. Returns 0 and *out (close with (*out)->close(*out)), or CB_EUSAGE /
 * CB_ENOMEM with err set. The backend's submit may be called many times, one
 * call at a time. */
int cb_backend_remote_open(const cb_remote_opts *o, cb_backend **out, cb_err *err);

/* ---- exposed for tests and the fuzz target -------------------------------- */

typedef enum {
    CB_REMOTE_REPLY_CHAT = 0,       /* chat/completions reply for GENERATE */
    CB_REMOTE_REPLY_COMPLETION = 1, /* completions reply for GENERATE */
    CB_REMOTE_REPLY_LOGLIK = 2,     /* echo+logprobs reply for LOGLIKELIHOOD */
    CB_REMOTE_REPLY_ROLLING = 3     /* echo+logprobs reply for ROLLING */
} cb_remote_reply;

/* Parses a 2xx reply body (len bytes, need not be NUL-terminated) into out,
 * which must be zeroed or cleared. For LOGLIK, prompt_cp is the whole prompt's
 * length and ctx_cp the context's length, both in Unicode code points. With
 * spans_of set (LOGLIK only: the prompt text sent, prompt_cp code points), out
 * also gets token_spans: each scored token's byte span in the continuation,
 * from text_offset (token k runs to token k + 1's offset, the last one to the
 * prompt's end; clamped to the continuation), so per-token measures such as
 * knowledge bits work through a server as on the local engine. `where`
 * names the request in messages ("reply from URL"). Returns 0, or CB_EFORMAT
 * with err naming the JSON path expected ("expected choices[0].text (string)"),
 * or CB_EUNSUP when a LOGLIK/ROLLING reply carries no logprobs. On error out may
 * hold partial fields; cb_response_clear frees them. */
int cb_remote_parse_reply(cb_remote_reply kind, const char *body, size_t len, const char *where, long ctx_cp,
                          long prompt_cp, const char *spans_of, cb_response *out, cb_err *err);

/* Pulls a human-readable message from an error body: error.message, error (string)
 * or message; else the first 200 bytes of the body. Writes a NUL-terminated
 * string into buf (cap bytes). */
void cb_remote_error_message(const char *body, size_t len, char *buf, size_t cap);

#endif
