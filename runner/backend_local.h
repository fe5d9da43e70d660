/* runner/backend_local.h — the local backend: capbench's own engine behind the
 * cb_backend driver table.
 *
 * Chat requests are rendered with a chat template (engine/chat.h): detected
 * from the GGUF's tokenizer.chat_template ("auto"), named, or "none" — plain
 * completion text for base models. The exact rendered prompt and its token
 * count go back with every response, so the store keeps what the model saw.
 * Rendering is runner/prompt.h's, shared with the remote completions mode.
 * All requests of one submit run through the engine together (batched steps);
 * latency_s is per request: until the step that completed it (backend.h).
 */
#ifndef CB_BACKEND_LOCAL_H
#define CB_BACKEND_LOCAL_H

#include "runner/backend.h"

#include <stdio.h>

typedef struct cb_local_opts {
    const char *model_path;     /* resolved local GGUF path */
    const char *device;         /* "cpu" | "cuda" */
    int threads;                /* 0 = all cores */
    int n_ctx;                  /* positions per sequence (0 = engine default) */
    int max_seqs;               /* sequences advanced together (0 = engine default) */
    const char *chat_template;  /* "auto" | "none" | a template name */
    int hash_model;             /* 1: sha256 the model file for the run record */
    FILE *log;                  /* warnings (template fallback); may be NULL */
} cb_local_opts;

/* Opens the engine and the template. OUT *out (close with (*out)->close).
 * Errors: those of cb_engine_open (CB_EFORMAT/CB_EIO naming the model file,
 * CB_ENODEV for cuda without a GPU), CB_EUSAGE for an unknown template name. */
int cb_backend_local_open(const cb_local_opts *o, cb_backend **out, cb_err *err);

#endif
