/* runner/backend_local.c — cb_backend over the local engine (see
 * backend_local.h). Rendering (runner/prompt.c): messages -> chat template text
 * (BOS text included, tokenized with add_bos 0 and special tokens parsed);
 * template "none" or a raw prompt -> the text itself, tokenized with the vocab's
 * own BOS choice, as llama.cpp does for a plain prompt. A LOGLIKELIHOOD context
 * ends with cont_prefix; the engine scores only the continuation after it. It
 * knows no task and no SQL.
 */
#include "runner/backend_local.h"

#include "common/sha256.h"
#include "engine/chat.h"
#include "engine/engine.h"
#include "runner/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    cb_engine *e;
    int tmpl;
    char tmpl_name[32];
    char path[4096];
    char sha[65];
    int64_t bytes;
    char bos_text[64];   /* BOS token text when the vocab adds one, else "" */
    const char *const *tmpl_stops;
    int n_tmpl_stops;
} local_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Renders the context of a request (runner/prompt.h: the renderer the remote
 * backend's completions mode shares); *text malloc'd; *add_bos for the engine:
 * -1 (the vocab's choice) for a raw prompt or template none, 0 for a chat
 * template (its text starts with the BOS text already). */
static int render(local_ctx *c, const cb_request *r, char **text, int *add_bos, cb_err *err) {
    int plain = r->prompt || c->tmpl == CB_CHAT_NONE;
    *add_bos = plain ? -1 : 0;
    return cb_prompt_context(c->tmpl, r, c->bos_text, text, err);
}

static int local_submit(cb_backend *b, const cb_request *reqs, cb_response *out, int n, cb_err *err) {
    local_ctx *c = b->ctx;
    int rc = 0;
    cb_engine_req *er = calloc((size_t)(n ? n : 1), sizeof *er);
    cb_engine_result *res = calloc((size_t)(n ? n : 1), sizeof *res);
    char **texts = calloc((size_t)(n ? n : 1), sizeof *texts);
    const char ***stops = calloc((size_t)(n ? n : 1), sizeof *stops);
    unsigned char *timed = calloc((size_t)(n ? n : 1), 1); /* latency_s recorded */
    if (!er || !res || !texts || !stops || !timed) goto oom;
    for (int i = 0; i < n; i++) {
        const cb_request *r = &reqs[i];
        cb_response *o = &out[i];
        memset(o, 0, sizeof *o);
        o->id = r->id;
        o->attempts = 1;
        cb_engine_req *q = &er[i];
        int add_bos = -1;
        if (r->kind == CB_REQ_ROLLING) {
            if (!r->prompt) {
                o->error = strdup("rolling request without text");
                continue;
            }
            q->kind = CB_ENGINE_ROLLING;
            q->text = r->prompt;
            q->add_bos = -1;
            q->rolling_mode = CB_ROLLING_WINDOWS;
            q->window = r->window;
            q->stride = r->stride;
            if (!(o->rendered_prompt = strdup(r->prompt))) goto oom;
            continue;
        }
        cb_err rerr;
        cb_err_clear(&rerr);
        if (render(c, r, &texts[i], &add_bos, &rerr)) {
            if (rerr.code == CB_ENOMEM) goto oom;
            o->error = strdup(rerr.msg);
            continue;
        }
        /* what the model sees: the context, and for LOGLIKELIHOOD the continuation after it */
        const char *cont = r->kind == CB_REQ_LOGLIKELIHOOD && r->continuation ? r->continuation : "";
        size_t lt = strlen(texts[i]), lc = strlen(cont);
        if (!(o->rendered_prompt = malloc(lt + lc + 1))) goto oom;
        memcpy(o->rendered_prompt, texts[i], lt);
        memcpy(o->rendered_prompt + lt, cont, lc + 1);
        q->text = texts[i];
        q->add_bos = add_bos;
        q->parse_special = add_bos == 0; /* chat text carries special-token text */
        if (r->kind == CB_REQ_GENERATE) {
            q->kind = CB_ENGINE_GENERATE;
            q->sampling.temperature = r->temperature;
            q->sampling.top_k = r->top_k;
            q->sampling.top_p = r->top_p;
            q->sampling.seed = r->seed;
            q->max_tokens = r->max_tokens;
            int ns = c->n_tmpl_stops + r->n_stop;
            if (ns > 0) {
                if (!(stops[i] = calloc((size_t)ns, sizeof *stops[i]))) goto oom;
                for (int k = 0; k < c->n_tmpl_stops; k++) stops[i][k] = c->tmpl_stops[k];
                for (int k = 0; k < r->n_stop; k++) stops[i][c->n_tmpl_stops + k] = r->stop[k];
                q->stop = stops[i];
                q->n_stop = ns;
            }
        } else {
            q->kind = CB_ENGINE_LOGLIK;
            q->cont_text = r->continuation ? r->continuation : "";
        }
    }

    /* every request that rendered goes through the engine together; a
     * request's latency is the time from here to the step that completed it */
    double t0 = now_s();
    int n_run = 0;
    for (int i = 0; i < n; i++) {
        if (out[i].error) continue;
        if ((rc = cb_engine_submit(c->e, &er[i], &res[i], err))) goto out;
        n_run++;
    }
    int pending = n_run;
    for (;;) {
        double t = now_s();
        for (int i = 0; i < n; i++)
            if (!out[i].error && res[i].done && !timed[i]) {
                out[i].latency_s = t - t0;
                timed[i] = 1;
            }
        if (pending == 0) break;
        if ((rc = cb_engine_step(c->e, &pending, err))) goto out;
    }

    for (int i = 0; i < n; i++) {
        cb_response *o = &out[i];
        if (o->error) continue;
        cb_engine_result *x = &res[i];
        o->prompt_tokens = x->n_prompt;
        if (x->status) {
            o->error = strdup(x->error ? x->error : "engine request failed");
            continue;
        }
        if (reqs[i].kind == CB_REQ_GENERATE) {
            o->text = x->text;
            x->text = NULL;
            o->completion_tokens = x->n_tokens;
            o->finish_reason = strdup(cb_finish_reason_name(x->finish));
        } else {
            o->logprob_sum = x->logprob;
            o->n_scored = x->n_scored;
            o->is_greedy = x->is_greedy;
            if (x->n_scored > 0) {
                o->token_logprobs = x->token_logprobs;
                x->token_logprobs = NULL;
            }
            if (reqs[i].kind == CB_REQ_ROLLING) o->n_bytes = (int64_t)strlen(reqs[i].prompt);
        }
    }
    goto out;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    for (int i = 0; i < n; i++) {
        if (res) cb_engine_result_clear(&res[i]);
        if (texts) free(texts[i]);
        if (stops) free(stops[i]);
    }
    free(er);
    free(res);
    free(texts);
    free(stops);
    free(timed);
    return rc;
}

static void local_describe(cb_backend *b, cb_backend_info *info) {
    local_ctx *c = b->ctx;
    memset(info, 0, sizeof *info);
    snprintf(info->kind, sizeof info->kind, "local");
    const char *base = strrchr(c->path, '/');
    snprintf(info->model_id, sizeof info->model_id, "%s", base ? base + 1 : c->path);
    snprintf(info->model_sha256, sizeof info->model_sha256, "%s", c->sha);
    info->model_bytes = c->bytes;
    snprintf(info->device, sizeof info->device, "%s", cb_engine_device(c->e));
    info->supports_loglik = 1;
    snprintf(info->chat_template, sizeof info->chat_template, "%s", c->tmpl_name);
}

static int local_tokenize(cb_backend *b, const char *text, int32_t *ids, int cap) {
    local_ctx *c = b->ctx;
    int n = 0;
    cb_err e;
    cb_err_clear(&e);
    int rc = cb_tokenizer_encode(cb_engine_tokenizer(c->e), text, strlen(text), 0, 0, ids, cap, &n, &e);
    if (rc && rc != CB_ENOMEM) return -1;
    return n;
}

static void local_close(cb_backend *b) {
    if (!b) return;
    local_ctx *c = b->ctx;
    if (c && c->e) { /* on a cuda device: say how decode ran (CUDA graphs or why not) */
        char note[1024];
        cb_engine_device_note(c->e, note, sizeof note);
        if (note[0]) fprintf(stderr, "capbench: %s\n", note);
    }
    if (c) cb_engine_free(c->e);
    free(c);
    free(b);
}

int cb_backend_local_open(const cb_local_opts *o, cb_backend **out, cb_err *err) {
    *out = NULL;
    int rc = 0;
    cb_backend *b = calloc(1, sizeof *b);
    local_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return cb_err_set(err, CB_ENOMEM, "out of memory");
    }
    b->ctx = c;
    b->submit = local_submit;
    b->describe = local_describe;
    b->tokenize = local_tokenize;
    b->close = local_close;
    snprintf(c->path, sizeof c->path, "%s", o->model_path);

    cb_engine_opts eo = {0};
    eo.model_path = o->model_path;
    eo.n_threads = o->threads;
    eo.n_ctx = o->n_ctx;
    eo.n_seq = o->max_seqs;
    eo.device = o->device;
    if ((rc = cb_engine_open(&eo, &c->e, err))) goto out;

    const cb_tokenizer *tok = cb_engine_tokenizer(c->e);
    int32_t bos = cb_tokenizer_bos(tok);
    if (cb_tokenizer_add_bos(tok) && bos >= 0) {
        size_t len = 0;
        const char *t = cb_tokenizer_token_text(tok, bos, &len);
        if (t && len < sizeof c->bos_text) {
            memcpy(c->bos_text, t, len);
            c->bos_text[len] = 0;
        }
    }
    const char *want = o->chat_template ? o->chat_template : "auto";
    if (strcmp(want, "auto") == 0) {
        const char *jinja = cb_engine_chat_template(c->e);
        int has_im = cb_tokenizer_find(tok, "<|im_start|>", 12) >= 0;
        const char *reason = NULL;
        int matched = cb_chat_detect(jinja, jinja ? strlen(jinja) : 0, has_im, &c->tmpl, &reason);
        if (!matched && jinja && o->log)
            fprintf(o->log, "warning: %s: chat template not recognised (%s); using \"%s\"\n", o->model_path,
                    reason ? reason : "unknown", cb_chat_template_name(c->tmpl));
    } else if ((rc = cb_chat_template_by_name(want, &c->tmpl, err))) {
        cb_err_prefix(err, "--chat-template: ");
        goto out;
    }
    snprintf(c->tmpl_name, sizeof c->tmpl_name, "%s", cb_chat_template_name(c->tmpl));
    c->tmpl_stops = cb_chat_stop_strings(c->tmpl, &c->n_tmpl_stops);
    if (o->hash_model && (rc = cb_sha256_file(o->model_path, c->sha, &c->bytes, err))) goto out;
    *out = b;
    b = NULL;
out:
    if (b) local_close(b);
    return rc;
}
