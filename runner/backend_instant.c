/* runner/backend_instant.c — the instant backend (see backend_instant.h). */
#include "runner/backend_instant.h"

#include "common/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int fail_every;
    int64_t calls;
} instant_ctx;

static const char *last_text(const cb_request *r) {
    if (r->prompt) return r->prompt;
    return r->n_messages > 0 && r->messages[r->n_messages - 1].text ? r->messages[r->n_messages - 1].text : "";
}

static int instant_submit(cb_backend *b, const cb_request *reqs, cb_response *out, int n, cb_err *err) {
    instant_ctx *c = b->ctx;
    for (int i = 0; i < n; i++) {
        const cb_request *r = &reqs[i];
        cb_response *o = &out[i];
        memset(o, 0, sizeof *o);
        o->id = r->id;
        o->attempts = 1;
        uint64_t h = cb_fnv1a64_str(last_text(r));
        if (r->kind == CB_REQ_GENERATE) {
            c->calls++;
            if (c->fail_every > 0 && c->calls % c->fail_every == 0) {
                o->error = strdup("instant backend: scripted failure");
                if (!o->error) return cb_err_set(err, CB_ENOMEM, "out of memory");
                continue;
            }
            char buf[32];
            snprintf(buf, sizeof buf, "Answer: %u", (unsigned)(h % 10));
            o->text = strdup(buf);
            o->finish_reason = strdup("stop");
            if (!o->text || !o->finish_reason) return cb_err_set(err, CB_ENOMEM, "out of memory");
            o->prompt_tokens = (int)(strlen(last_text(r)) / 4);
            o->completion_tokens = 3;
        } else {
            uint64_t h2 = h ^ cb_fnv1a64_str(r->continuation ? r->continuation : "");
            o->logprob_sum = -(1.0 + (double)(h2 % 1000)) / 100.0;
            o->n_scored = 1;
        }
    }
    return 0;
}

static void instant_describe(cb_backend *b, cb_backend_info *info) {
    (void)b;
    memset(info, 0, sizeof *info);
    snprintf(info->kind, sizeof info->kind, "instant");
    snprintf(info->model_id, sizeof info->model_id, "instant");
    snprintf(info->device, sizeof info->device, "none");
    info->supports_loglik = 1;
    snprintf(info->chat_template, sizeof info->chat_template, "none");
}

static void instant_close(cb_backend *b) {
    if (!b) return;
    free(b->ctx);
    free(b);
}

int cb_backend_instant_open(int fail_every, cb_backend **out, cb_err *err) {
    cb_backend *b = calloc(1, sizeof *b);
    instant_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return cb_err_set(err, CB_ENOMEM, "out of memory");
    }
    c->fail_every = fail_every;
    b->ctx = c;
    b->submit = instant_submit;
    b->describe = instant_describe;
    b->close = instant_close;
    *out = b;
    return 0;
}

int64_t cb_backend_instant_calls(const cb_backend *b) { return ((const instant_ctx *)b->ctx)->calls; }
