/* runner/backend_remote.c — cb_backend for OpenAI-compatible servers: request
 * bodies, the retry policy, reply parsing. The wire format, retry rules and
 * log-likelihood recipe are written out in backend_remote.h.
 *
 * It never prints: per-request problems go to out[i].error, run-stopping ones to
 * err. The API key lives only in ctx->auth (wiped on close) and in the engine's
 * copies of request headers (wiped by runner/http.c); every message that could
 * quote server text goes through redact() first.
 */
#include "runner/backend_remote.h"

#include "common/url.h"
#include "engine/chat.h"
#include "runner/http.h"
#include "runner/prompt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cb_remote_opts_init(cb_remote_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = CB_REMOTE_CHAT;
    o->concurrency = 8;
    o->connect_timeout_s = 10.0;
    o->request_timeout_s = 120.0;
    o->max_response_bytes = (size_t)8 << 20;
    o->max_retries = 2;
    o->retry_base_s = 0.5;
    o->retry_max_s = 8.0;
    o->retry_after_max_s = 60.0;
    o->logprobs = 1;
}

typedef struct remote {
    cb_remote_opts o;
    char *base;            /* normalized, ends in /v1, no trailing slash */
    char *model;
    char *auth;            /* "Authorization: Bearer KEY" or NULL */
    char *key;             /* the key alone, for redaction */
    cb_http *http;
    uint64_t rng;
    int tmpl;              /* CB_CHAT_* used to render text for /completions */
    const char *const *tmpl_stops; /* its stop strings (none for template none) */
    int n_tmpl_stops;
    int loglik_ok;         /* a log-likelihood reply with prompt logprobs has arrived */
} remote;

/* What to do about a server that cannot score log-likelihood requests; ends
 * the message that stops the run. */
#define NO_LOGLIK_HINT                                                                                          \
    "set \"logprobs\": false in the suite's model settings, or run with --no-loglik, to evaluate without "      \
    "the log-likelihood metrics (or use a local model or a server that supports echo+logprobs)"

/* ---- small helpers ---------------------------------------------------------- */

static char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

static void wipe_free(char *p) {
    if (!p) return;
    volatile char *v = p;
    for (size_t i = 0; p[i]; i++) v[i] = 0;
    free(p);
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Unicode code points in a UTF-8 string (bytes that do not continue a sequence). */
static long count_cp(const char *s, size_t n) {
    long c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Hides secrets in msg (a buffer of cap bytes), in place: every occurrence of
 * the API key becomes "***", and the userinfo of any URL in it "[redacted]"
 * (common/url.h: a base URL written as http://user:pass@host). */
static void redact(const remote *r, char *msg, size_t cap) {
    cb_url_redact_inplace(msg, cap);
    if (!r || !r->key || !r->key[0]) return;
    size_t kl = strlen(r->key);
    char *p;
    while ((p = strstr(msg, r->key))) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + kl, strlen(p + kl) + 1);
    }
}

static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* A float as the JSON number a person would write (0.7, not 0.699999988). */
static double tidy(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", (double)f);
    return strtod(buf, NULL);
}

/* ---- error bodies ------------------------------------------------------------- */

void cb_remote_error_message(const char *body, size_t len, char *buf, size_t cap) {
    if (!cap) return;
    buf[0] = '\0';
    if (!body || !len) {
        snprintf(buf, cap, "(empty body)");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    const char *msg = NULL;
    if (cJSON_IsObject(root)) {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
        cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : NULL;
        if (cJSON_IsString(m)) msg = m->valuestring;
        else if (cJSON_IsString(e)) msg = e->valuestring;
        else {
            m = cJSON_GetObjectItemCaseSensitive(root, "message");
            if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(root, "detail");
            if (cJSON_IsString(m)) msg = m->valuestring;
        }
    }
    if (msg) {
        snprintf(buf, cap, "%s", msg);
    } else {
        /* not JSON we know: the start of the body, printable bytes only */
        size_t n = len < 200 ? len : 200, j = 0;
        for (size_t i = 0; i < n && j + 1 < cap; i++) {
            unsigned char c = (unsigned char)body[i];
            buf[j++] = (c >= 0x20 && c != 0x7f) || c >= 0x80 ? (char)c : ' ';
        }
        buf[j] = '\0';
    }
    cJSON_Delete(root);
}

/* ---- reply parsing ------------------------------------------------------------ */

/* Offset of the first byte of s[0..n) that is not part of well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or n
 * when all of it is. JSON text on the wire must be UTF-8 (RFC 8259 section
 * 8.1); cJSON copies whatever bytes it gets, so the check happens here. */
static size_t utf8_bad_offset(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else
            return i;
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

static int as_int(const cJSON *n) {
    double v = n->valuedouble;
    if (!(v >= 0)) return 0;
    if (v > 2147483647.0) return 2147483647;
    return (int)v;
}

/* Byte spans of the scored tokens [start, end) in the continuation, from
 * their code-point offsets: token k covers [offs[k], offs[k+1]) (the last
 * scored one up to the prompt's end), clamped to [ctx_cp, prompt_cp] and
 * made relative to the continuation's first byte. prompt: the prompt sent,
 * prompt_cp code points. Returns 0 or CB_ENOMEM. */
static int scored_spans(const char *prompt, long ctx_cp, long prompt_cp, const long *offs, int n, int start, int end,
                        cb_response *out) {
    int ns = end - start;
    if (ns <= 0) return 0;
    size_t len = strlen(prompt);
    int64_t *cpb = malloc(((size_t)prompt_cp + 1) * sizeof *cpb); /* byte offset of each code point */
    out->token_spans = malloc((size_t)ns * 2 * sizeof *out->token_spans);
    if (!cpb || !out->token_spans) {
        free(cpb);
        return CB_ENOMEM;
    }
    long c = 0;
    for (size_t i = 0; i < len && c < prompt_cp; i++)
        if (((unsigned char)prompt[i] & 0xC0) != 0x80) cpb[c++] = (int64_t)i;
    while (c <= prompt_cp) cpb[c++] = (int64_t)len;
    for (int k = start; k < end; k++) {
        long a = offs[k], b = k + 1 < n ? offs[k + 1] : prompt_cp;
        if (b > prompt_cp) b = prompt_cp;
        if (a < ctx_cp) a = ctx_cp;
        if (b < a) b = a;
        out->token_spans[2 * (k - start)] = cpb[a] - cpb[ctx_cp];
        out->token_spans[2 * (k - start) + 1] = cpb[b] - cpb[ctx_cp];
    }
    free(cpb);
    return 0;
}

static int parse_logprobs(cb_remote_reply kind, const cJSON *c0, const char *where, long ctx_cp, long prompt_cp,
                          const char *spans_of, cb_response *out, cb_err *err) {
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(c0, "logprobs");
    if (!cJSON_IsObject(lp))
        return cb_err_set(err, CB_EUNSUP,
                          "%s: the server did not return logprobs for a log-likelihood request (no "
                          "choices[0].logprobs); use a local model or a server that supports echo+logprobs",
                          where);
    const cJSON *tlp = cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(lp, "text_offset");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs");
    if (!cJSON_IsArray(tlp))
        return cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].logprobs.token_logprobs (array)", where);
    int n = cJSON_GetArraySize(tlp);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != n)
        return cb_err_set(err, CB_EFORMAT,
                          "%s: expected choices[0].logprobs.text_offset (array of %d numbers, one per token)", where,
                          n);
    if (top && !cJSON_IsNull(top) && (!cJSON_IsArray(top) || cJSON_GetArraySize(top) != n))
        return cb_err_set(err, CB_EFORMAT,
                          "%s: expected choices[0].logprobs.top_logprobs (array of %d entries, one per token)", where,
                          n);
    int has_top = cJSON_IsArray(top);
    /* offsets: numbers, non-decreasing, first one 0 (an echo of the prompt) */
    long *offs = NULL;
    double *vals = NULL;
    int rc = 0;
    if (n > 0) {
        offs = calloc((size_t)n, sizeof *offs);
        vals = calloc((size_t)n, sizeof *vals);
        if (!offs || !vals) {
            rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
            goto out;
        }
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, off) {
        if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1e15 ||
            (i > 0 && it->valuedouble < (double)offs[i - 1])) {
            rc = cb_err_set(err, CB_EFORMAT,
                            "%s: expected choices[0].logprobs.text_offset[%d] (non-decreasing number >= 0)", where, i);
            goto out;
        }
        offs[i++] = (long)it->valuedouble;
    }
    if (n == 0 || offs[0] != 0) {
        rc = cb_err_set(err, CB_EUNSUP,
                        "%s: the server did not echo the prompt's logprobs for a log-likelihood request (echo=true "
                        "ignored); use a local model or a server that supports echo+logprobs",
                        where);
        goto out;
    }
    i = 0;
    cJSON_ArrayForEach(it, tlp) {
        if (cJSON_IsNumber(it) && isfinite(it->valuedouble) && it->valuedouble <= 1e-6) vals[i] = it->valuedouble;
        else if (cJSON_IsNull(it) || (cJSON_IsNumber(it) && isinf(it->valuedouble) && it->valuedouble < 0))
            vals[i] = NAN; /* no logprob (first token) */
        else {
            rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].logprobs.token_logprobs[%d] (number <= 0 or null)",
                            where, i);
            goto out;
        }
        i++;
    }
    /* tokens past the prompt were generated, not echoed: never scored */
    int end = 0;
    while (end < n && offs[end] < prompt_cp) end++;
    int start;
    if (kind == CB_REMOTE_REPLY_ROLLING) {
        start = 1;
    } else {
        if (ctx_cp >= prompt_cp) { /* empty continuation */
            start = end;
        } else if (ctx_cp == 0) {
            /* empty context: everything after a first token that carries no
             * text (the BOS the server adds) is the continuation, zero-width
             * tokens included (SPM's dummy space, which the local engine also
             * scores); a first token with text has no log-prob and fails below */
            start = n > 1 && offs[1] == 0 ? 1 : 0;
        } else {
            start = 0;
            for (int k = 0; k < end; k++)
                if (offs[k] <= ctx_cp) start = k;
        }
    }
    if (start > end) start = end;
    int ns = end - start;
    double sum = 0;
    int greedy = 1;
    if (ns > 0) {
        out->token_logprobs = malloc((size_t)ns * sizeof(double));
        if (!out->token_logprobs) {
            rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
            goto out;
        }
    }
    for (int k = start; k < end; k++) {
        if (isnan(vals[k])) {
            rc = cb_err_set(err, CB_EFORMAT,
                            "%s: choices[0].logprobs.token_logprobs[%d] is null inside the scored span (a "
                            "continuation with an empty context cannot be scored remotely)",
                            where, k);
            goto out;
        }
        sum += vals[k];
        out->token_logprobs[k - start] = vals[k];
        if (kind == CB_REMOTE_REPLY_LOGLIK) {
            const cJSON *t = has_top ? cJSON_GetArrayItem(top, k) : NULL;
            if (!cJSON_IsObject(t)) {
                greedy = 0; /* unknown counts as not greedy */
                continue;
            }
            double best = -INFINITY;
            const cJSON *alt;
            cJSON_ArrayForEach(alt, t) {
                if (cJSON_IsNumber(alt) && alt->valuedouble > best) best = alt->valuedouble;
            }
            if (vals[k] < best - 1e-6) greedy = 0;
        }
    }
    out->n_scored = ns;
    out->logprob_sum = sum;
    out->is_greedy = kind == CB_REMOTE_REPLY_LOGLIK ? greedy : 0;
    if (spans_of && kind == CB_REMOTE_REPLY_LOGLIK && ctx_cp <= prompt_cp &&
        scored_spans(spans_of, ctx_cp, prompt_cp, offs, n, start, end, out))
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
out:
    free(offs);
    free(vals);
    return rc;
}

int cb_remote_parse_reply(cb_remote_reply kind, const char *body, size_t len, const char *where, long ctx_cp,
                          long prompt_cp, const char *spans_of, cb_response *out, cb_err *err) {
    const char *end = NULL;
    int rc = 0;
    size_t bad = utf8_bad_offset((const unsigned char *)body, len);
    if (bad < len)
        return cb_err_set(err, CB_EFORMAT, "%s: expected UTF-8 JSON, got byte 0x%02x at byte %zu of %zu that is not "
                          "valid UTF-8", where, (unsigned char)body[bad], bad, len);
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        long at = end && end >= body ? (long)(end - body) : 0;
        return cb_err_set(err, CB_EFORMAT, "%s: expected a JSON object, got %s at byte %ld of %zu", where,
                          len == 0 ? "an empty body" : "invalid or truncated JSON", at, len);
    }
    if (!cJSON_IsObject(root)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: expected a JSON object at the top level", where);
        goto out;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (!cJSON_IsArray(choices) || cJSON_GetArraySize(choices) < 1) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices (non-empty array)", where);
        goto out;
    }
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    if (!cJSON_IsObject(c0)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0] (object)", where);
        goto out;
    }
    if (kind == CB_REMOTE_REPLY_CHAT || kind == CB_REMOTE_REPLY_COMPLETION) {
        const cJSON *text;
        if (kind == CB_REMOTE_REPLY_CHAT) {
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");
            if (!cJSON_IsObject(msg)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].message (object)", where);
                goto out;
            }
            text = cJSON_GetObjectItemCaseSensitive(msg, "content");
            /* null content (e.g. a refusal or only tool calls) is an empty answer */
            if (!cJSON_IsString(text) && !cJSON_IsNull(text)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].message.content (string)", where);
                goto out;
            }
        } else {
            text = cJSON_GetObjectItemCaseSensitive(c0, "text");
            if (!cJSON_IsString(text)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].text (string)", where);
                goto out;
            }
        }
        out->text = xstrdup(cJSON_IsString(text) ? text->valuestring : "");
        if (!out->text) {
            rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
            goto out;
        }
    } else {
        rc = parse_logprobs(kind, c0, where, ctx_cp, prompt_cp, spans_of, out, err);
        if (rc) goto out;
    }
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (cJSON_IsString(fr)) {
        out->finish_reason = xstrdup(fr->valuestring);
        if (!out->finish_reason) {
            rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
            goto out;
        }
    } else if (fr && !cJSON_IsNull(fr)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: expected choices[0].finish_reason (string or null)", where);
        goto out;
    }
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        if (cJSON_IsNumber(pt)) out->prompt_tokens = as_int(pt);
        if (cJSON_IsNumber(ct)) out->completion_tokens = as_int(ct);
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- request bodies ------------------------------------------------------------ */

static const char *role_name(cb_role r) {
    switch (r) {
    case CB_ROLE_SYSTEM: return "system";
    case CB_ROLE_ASSISTANT: return "assistant";
    default: return "user";
    }
}

static int add_sampling(cJSON *o, const cb_request *q, const char *const *extra_stop, int n_extra) {
    if (q->max_tokens > 0 && !cJSON_AddNumberToObject(o, "max_tokens", q->max_tokens)) return -1;
    if (!cJSON_AddNumberToObject(o, "temperature", q->temperature > 0 ? tidy(q->temperature) : 0)) return -1;
    if (q->top_p > 0 && q->top_p < 1 && !cJSON_AddNumberToObject(o, "top_p", tidy(q->top_p))) return -1;
    if (q->top_k > 0 && !cJSON_AddNumberToObject(o, "top_k", q->top_k)) return -1;
    /* JSON numbers are doubles: keep the seed exact by using its low 53 bits */
    if (!cJSON_AddNumberToObject(o, "seed", (double)(q->seed & ((1ull << 53) - 1)))) return -1;
    if (q->n_stop + n_extra > 0) {
        cJSON *a = cJSON_AddArrayToObject(o, "stop");
        if (!a) return -1;
        for (int i = 0; i < n_extra + q->n_stop; i++) {
            const char *t = i < n_extra ? extra_stop[i] : q->stop[i - n_extra];
            cJSON *s = cJSON_CreateString(t ? t : "");
            if (!s || !cJSON_AddItemToArray(a, s)) {
                cJSON_Delete(s);
                return -1;
            }
        }
    }
    return 0;
}

/* Per-request state during one submit. */
typedef struct slot {
    cb_remote_reply kind;
    char *url;
    char *body;
    long ctx_cp, prompt_cp;
    int want_tokens; /* LOGLIK: per-token byte spans wanted (from text_offset) */
    int attempts;
    int finished;
} slot;

/* Builds the URL and JSON body for q into s; for completions requests also the
 * rendered prompt in out->rendered_prompt. Returns 0, or nonzero with msg set. */
static int build_request(remote *r, const cb_request *q, slot *s, cb_response *out, char *msg, size_t cap) {
    cJSON *o = cJSON_CreateObject();
    char *prompt = NULL, *ctx = NULL;
    int rc = -1;
    cb_err perr;
    cb_err_clear(&perr);
    if (!o || !cJSON_AddStringToObject(o, "model", r->model)) goto oom;
    const char *path;
    if (q->kind == CB_REQ_GENERATE) {
        if (!q->prompt && r->o.mode == CB_REMOTE_CHAT) {
            if (q->n_messages < 1 || !q->messages) {
                snprintf(msg, cap, "GENERATE request without messages or prompt");
                goto out;
            }
            cJSON *a = cJSON_AddArrayToObject(o, "messages");
            if (!a) goto oom;
            for (int i = 0; i < q->n_messages; i++) {
                cJSON *m = cJSON_CreateObject();
                if (!m || !cJSON_AddItemToArray(a, m)) {
                    cJSON_Delete(m);
                    goto oom;
                }
                if (!cJSON_AddStringToObject(m, "role", role_name(q->messages[i].role)) ||
                    !cJSON_AddStringToObject(m, "content", q->messages[i].text ? q->messages[i].text : ""))
                    goto oom;
            }
            s->kind = CB_REMOTE_REPLY_CHAT;
            path = "/chat/completions";
            if (add_sampling(o, q, NULL, 0)) goto oom;
        } else {
            /* the renderer the local backend uses (runner/prompt.h); BOS is the server's */
            if (cb_prompt_context(r->tmpl, q, NULL, &prompt, &perr)) goto render_failed;
            if (!cJSON_AddStringToObject(o, "prompt", prompt)) goto oom;
            s->kind = CB_REMOTE_REPLY_COMPLETION;
            path = "/completions";
            if (add_sampling(o, q, r->tmpl_stops, r->n_tmpl_stops)) goto oom; /* as the local backend */
        }
    } else {
        if (q->kind == CB_REQ_LOGLIKELIHOOD) {
            /* context (with cont_prefix) then the continuation; only the
             * continuation's tokens are scored (ctx_cp marks where it starts) */
            if (cb_prompt_context(r->tmpl, q, NULL, &ctx, &perr)) goto render_failed;
            const char *cont = q->continuation ? q->continuation : "";
            size_t lc = strlen(ctx), ln = strlen(cont);
            prompt = malloc(lc + ln + 1);
            if (!prompt) goto oom;
            memcpy(prompt, ctx, lc);
            memcpy(prompt + lc, cont, ln + 1);
            s->ctx_cp = count_cp(ctx, lc);
            s->want_tokens = q->want_tokens;
            s->kind = CB_REMOTE_REPLY_LOGLIK;
        } else if (q->kind == CB_REQ_ROLLING) {
            prompt = xstrdup(q->prompt ? q->prompt : "");
            if (!prompt) goto oom;
            s->kind = CB_REMOTE_REPLY_ROLLING;
            out->n_bytes = (int64_t)strlen(prompt);
        } else {
            snprintf(msg, cap, "unknown request kind %d", (int)q->kind);
            goto out;
        }
        s->prompt_cp = count_cp(prompt, strlen(prompt));
        if (!cJSON_AddStringToObject(o, "prompt", prompt) || !cJSON_AddTrueToObject(o, "echo") ||
            !cJSON_AddNumberToObject(o, "logprobs", 1) || !cJSON_AddNumberToObject(o, "max_tokens", 0) ||
            !cJSON_AddNumberToObject(o, "temperature", 0))
            goto oom;
        path = "/completions";
    }
    s->body = cJSON_PrintUnformatted(o);
    s->url = fmt_alloc("%s%s", r->base, path);
    if (!s->body || !s->url) goto oom;
    if (s->kind != CB_REMOTE_REPLY_CHAT) {
        out->rendered_prompt = prompt;
        prompt = NULL;
    }
    rc = 0;
    goto out;
render_failed:
    if (perr.code != CB_ENOMEM) {
        snprintf(msg, cap, "%s", perr.msg);
        goto out;
    }
oom:
    snprintf(msg, cap, "out of memory building the request");
out:
    cJSON_Delete(o);
    free(prompt);
    free(ctx);
    return rc;
}

/* ---- submit ------------------------------------------------------------------ */

typedef struct run_state {
    remote *r;
    const cb_request *reqs;
    cb_response *out;
    slot *slots;
    cb_err *err;
} run_state;

static double backoff_s(remote *r, int retry_index, double retry_after) {
    if (retry_after > 0 && retry_after <= r->o.retry_after_max_s) return retry_after;
    double d = r->o.retry_base_s;
    for (int k = 0; k < retry_index && d < r->o.retry_max_s; k++) d *= 2;
    if (d > r->o.retry_max_s) d = r->o.retry_max_s;
    double u = (double)(splitmix64(&r->rng) >> 11) * (1.0 / 9007199254740992.0);
    return d * (0.75 + 0.5 * u);
}

static void set_error(run_state *st, uint64_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(run_state *st, uint64_t i, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    redact(st->r, buf, sizeof buf);
    free(st->out[i].error);
    st->out[i].error = xstrdup(buf);
}

static int attempt_again(run_state *st, uint64_t i, double delay) {
    slot *s = &st->slots[i];
    const char *hdrs[3];
    int nh = 0;
    hdrs[nh++] = "Content-Type: application/json";
    hdrs[nh++] = "Accept: application/json";
    if (st->r->auth) hdrs[nh++] = st->r->auth;
    cb_http_req hq = {.method = "POST", .url = s->url, .headers = hdrs, .n_headers = nh, .body = s->body,
                      .body_len = strlen(s->body)};
    return cb_http_submit(st->r->http, &hq, delay, i, st->err);
}

static int on_done(void *user, uint64_t i, cb_http_result *res) {
    run_state *st = user;
    remote *r = st->r;
    slot *s = &st->slots[i];
    cb_response *o = &st->out[i];
    s->attempts++;
    o->attempts = s->attempts;
    o->latency_s = res->elapsed_s;
    char where[600];
    snprintf(where, sizeof where, "reply from %s", s->url);

    if (res->fail == CB_HTTP_OK && res->status >= 200 && res->status < 300) {
        cb_err perr;
        cb_err_clear(&perr);
        free(o->error);
        o->error = NULL;
        int rc = cb_remote_parse_reply(s->kind, res->body, res->body_len, where, s->ctx_cp, s->prompt_cp,
                                       s->want_tokens ? o->rendered_prompt : NULL, o, &perr);
        s->finished = 1;
        if (rc == CB_EUNSUP) {
            /* every log-likelihood request would fail the same way: stop */
            set_error(st, i, "server %s did not return logprobs for a log-likelihood request; " NO_LOGLIK_HINT,
                      r->base);
            cb_err_set(st->err, CB_EUNSUP, "%s", o->error ? o->error : "no logprobs");
            return CB_EUNSUP;
        }
        if (rc) set_error(st, i, "%s", perr.msg);
        else if (s->kind == CB_REMOTE_REPLY_LOGLIK || s->kind == CB_REMOTE_REPLY_ROLLING) r->loglik_ok = 1;
        return 0;
    }
    int is_loglik = s->kind == CB_REMOTE_REPLY_LOGLIK || s->kind == CB_REMOTE_REPLY_ROLLING;
    if (is_loglik && res->fail == CB_HTTP_OK && res->status >= 400 && res->status < 500 && res->status != 401 &&
        res->status != 403 && !cb_http_status_retryable(res->status)) {
        /* "Unsupported param: echo", a chat-only server's 404 on /completions,
         * a 422 on logprobs ...: no log-likelihood request can succeed */
        char sm[512];
        cb_remote_error_message(res->body, res->body_len, sm, sizeof sm);
        set_error(st, i,
                  "server %s rejected a log-likelihood request (HTTP %ld from %s: %s): it does not return "
                  "prompt logprobs (echo + logprobs on /completions); " NO_LOGLIK_HINT,
                  r->base, res->status, s->url, sm);
        s->finished = 1;
        cb_err_set(st->err, CB_EUNSUP, "%s", o->error ? o->error : "log-likelihood request rejected");
        return CB_EUNSUP;
    }
    if (res->fail == CB_HTTP_OK &&
        (res->status == 400 || res->status == 401 || res->status == 403 || res->status == 404)) {
        char sm[512];
        cb_remote_error_message(res->body, res->body_len, sm, sizeof sm);
        set_error(st, i, "HTTP %ld from %s: %s", res->status, s->url, sm);
        s->finished = 1;
        /* the server refused what the user configured (key, model name, URL,
         * parameters): bad input, and every other request would meet it too */
        cb_err_set(st->err, CB_EUSAGE, "%s", o->error ? o->error : "HTTP error");
        return CB_EUSAGE;
    }
    int retryable = res->fail == CB_HTTP_ECONNECT || res->fail == CB_HTTP_ETIMEOUT ||
                    res->fail == CB_HTTP_ETRANSPORT ||
                    (res->fail == CB_HTTP_OK && cb_http_status_retryable(res->status));
    if (retryable && s->attempts <= r->o.max_retries) {
        double d = backoff_s(r, s->attempts - 1, res->fail == CB_HTTP_OK ? res->retry_after_s : -1);
        return attempt_again(st, i, d);
    }
    s->finished = 1;
    const char *tries = s->attempts == 1 ? "attempt" : "attempts";
    if (res->fail == CB_HTTP_OK && res->status >= 300 && res->status < 400) {
        /* never followed: the Authorization header must not travel to another host */
        set_error(st, i, "HTTP %ld (a redirect) from %s: redirects are not followed; set base_url to the server's "
                  "final address", res->status, s->url);
    } else if (res->fail == CB_HTTP_OK) {
        char sm[512];
        cb_remote_error_message(res->body, res->body_len, sm, sizeof sm);
        set_error(st, i, "HTTP %ld from %s after %d %s: %s", res->status, s->url, s->attempts, tries, sm);
    } else if (res->fail == CB_HTTP_ETOOBIG) {
        set_error(st, i, "%s: %s (max_response_bytes)", where, res->error);
    } else if (res->fail == CB_HTTP_ETIMEOUT) {
        set_error(st, i, "request to %s timed out after %d %s: %s", s->url, s->attempts, tries, res->error);
    } else {
        set_error(st, i, "request to %s failed after %d %s: %s", s->url, s->attempts, tries, res->error);
    }
    return 0;
}

static int should_stop(void *user) {
    run_state *st = user;
    return st->r->o.stop_flag && *st->r->o.stop_flag;
}

static int remote_submit(cb_backend *b, const cb_request *reqs, cb_response *out, int n, cb_err *err) {
    remote *r = b->ctx;
    int rc = 0;
    if (n <= 0) return 0;
    slot *slots = calloc((size_t)n, sizeof *slots);
    if (!slots) return cb_err_set(err, CB_ENOMEM, "remote: out of memory for %d requests", n);
    run_state st = {.r = r, .reqs = reqs, .out = out, .slots = slots, .err = err};
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].id = reqs[i].id;
    }
    int probe = -1; /* the log-likelihood request sent alone first (see the header) */
    for (int i = 0; i < n; i++) {
        if (reqs[i].kind != CB_REQ_GENERATE && !r->o.logprobs) {
            rc = cb_err_set(err, CB_EUNSUP,
                            "server %s is configured without logprobs support, so it cannot score a "
                            "log-likelihood request; use a local model or a server that supports echo+logprobs",
                            r->base);
            goto out;
        }
        char msg[256];
        if (build_request(r, &reqs[i], &slots[i], &out[i], msg, sizeof msg)) {
            slots[i].finished = 1;
            set_error(&st, (uint64_t)i, "%s", msg);
            continue;
        }
        if (probe < 0 && !r->loglik_ok && reqs[i].kind != CB_REQ_GENERATE) probe = i;
    }
    if (probe >= 0) {
        if ((rc = attempt_again(&st, (uint64_t)probe, 0))) goto out;
        if ((rc = cb_http_run(r->http, on_done, should_stop, &st, err))) goto out;
    }
    for (int i = 0; i < n; i++) {
        if (slots[i].finished || i == probe) continue;
        if ((rc = attempt_again(&st, (uint64_t)i, 0))) goto out;
    }
    rc = cb_http_run(r->http, on_done, should_stop, &st, err);
out:
    if (rc) {
        for (int i = 0; i < n; i++)
            if (!slots[i].finished && !out[i].error)
                set_error(&st, (uint64_t)i, "not completed: the batch stopped (%s)", err ? err->msg : "error");
        if (err) redact(r, err->msg, sizeof err->msg);
    }
    for (int i = 0; i < n; i++) {
        free(slots[i].url);
        free(slots[i].body);
    }
    free(slots);
    return rc;
}

static void remote_describe(cb_backend *b, cb_backend_info *info) {
    remote *r = b->ctx;
    memset(info, 0, sizeof *info);
    snprintf(info->kind, sizeof info->kind, "openai");
    snprintf(info->model_id, sizeof info->model_id, "%s", r->model);
    snprintf(info->base_url, sizeof info->base_url, "%s", r->base);
    snprintf(info->device, sizeof info->device, "remote");
    snprintf(info->chat_template, sizeof info->chat_template, "%s",
             r->o.mode == CB_REMOTE_CHAT ? "server" : cb_chat_template_name(r->tmpl));
    info->supports_loglik = r->o.logprobs ? 1 : 0;
    info->model_bytes = 0;
    redact(r, info->base_url, sizeof info->base_url);
    redact(r, info->model_id, sizeof info->model_id);
}

static void remote_close(cb_backend *b) {
    if (!b) return;
    remote *r = b->ctx;
    if (r) {
        cb_http_close(r->http);
        free(r->base);
        free(r->model);
        wipe_free(r->auth);
        wipe_free(r->key);
        free(r);
    }
    free(b);
}

/* base URL without trailing slashes, with "/v1" appended unless present */
static char *normalize_base(const char *u) {
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/') n--;
    int has_v1 = n >= 3 && memcmp(u + n - 3, "/v1", 3) == 0;
    char *s = malloc(n + 4);
    if (!s) return NULL;
    memcpy(s, u, n);
    if (has_v1) s[n] = '\0';
    else memcpy(s + n, "/v1", 4);
    return s;
}

int cb_backend_remote_open(const cb_remote_opts *o, cb_backend **out, cb_err *err) {
    *out = NULL;
    int rc = 0;
    cb_backend *b = NULL;
    remote *r = NULL;
    if (!o->base_url || !o->base_url[0])
        return cb_err_set(err, CB_EUSAGE, "remote backend: no base URL (e.g. http://127.0.0.1:8080/v1)");
    if (strncmp(o->base_url, "http://", 7) != 0 && strncmp(o->base_url, "https://", 8) != 0) {
        char shown[512];
        cb_url_redact(o->base_url, shown, sizeof shown);
        return cb_err_set(err, CB_EUSAGE, "remote backend: base URL '%s' must start with http:// or https://",
                          shown);
    }
    if (!o->model || !o->model[0]) return cb_err_set(err, CB_EUSAGE, "remote backend: no model name");
    b = calloc(1, sizeof *b);
    r = calloc(1, sizeof *r);
    if (!b || !r) goto oom;
    r->o = *o;
    if (r->o.concurrency <= 0) r->o.concurrency = 8;
    if (r->o.connect_timeout_s <= 0) r->o.connect_timeout_s = 10.0;
    if (r->o.request_timeout_s <= 0) r->o.request_timeout_s = 120.0;
    if (r->o.max_response_bytes == 0) r->o.max_response_bytes = (size_t)8 << 20;
    if (r->o.max_retries < 0) r->o.max_retries = 0;
    if (r->o.retry_base_s < 0) r->o.retry_base_s = 0;
    if (r->o.retry_max_s < r->o.retry_base_s) r->o.retry_max_s = r->o.retry_base_s;
    if (r->o.retry_after_max_s < 0) r->o.retry_after_max_s = 0;
    r->o.base_url = NULL;
    r->o.model = NULL;
    r->o.api_key_env = NULL;
    r->rng = o->rng_seed;
    r->base = normalize_base(o->base_url);
    r->model = xstrdup(o->model);
    if (!r->base || !r->model) goto oom;
    r->o.chat_template = NULL;
    r->tmpl = CB_CHAT_NONE;
    if (o->chat_template && o->chat_template[0] && strcmp(o->chat_template, "auto") != 0 &&
        (rc = cb_chat_template_by_name(o->chat_template, &r->tmpl, err))) {
        cb_err_prefix(err, "remote backend: chat_template: ");
        goto out;
    }
    r->tmpl_stops = cb_chat_stop_strings(r->tmpl, &r->n_tmpl_stops);
    if (o->api_key_env && o->api_key_env[0]) {
        const char *k = getenv(o->api_key_env);
        if (!k || !k[0]) {
            rc = cb_err_set(err, CB_EUSAGE, "remote backend: environment variable %s (the API key) is not set",
                            o->api_key_env);
            goto out;
        }
        if (strpbrk(k, "\r\n")) {
            rc = cb_err_set(err, CB_EUSAGE, "remote backend: the API key in %s contains a line break",
                            o->api_key_env);
            goto out;
        }
        r->key = xstrdup(k);
        r->auth = fmt_alloc("Authorization: Bearer %s", k);
        if (!r->key || !r->auth) goto oom;
    }
    cb_http_opts ho = {.concurrency = r->o.concurrency,
                       .connect_timeout_s = r->o.connect_timeout_s,
                       .timeout_s = r->o.request_timeout_s,
                       .max_body = r->o.max_response_bytes};
    rc = cb_http_open(&ho, &r->http, err);
    if (rc) goto out;
    b->ctx = r;
    b->submit = remote_submit;
    b->describe = remote_describe;
    b->tokenize = NULL;
    b->close = remote_close;
    *out = b;
    return 0;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "remote backend: out of memory");
out:
    if (b) {
        b->ctx = r;
        remote_close(b);
    } else if (r) {
        free(r->base);
        free(r->model);
        free(r);
    }
    return rc;
}
