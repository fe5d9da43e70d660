/* runner/modelpath.h — where capbench finds a model file, and how it fetches
 * one (`capbench pull`).
 *
 * A model argument is one of:
 *   NULL / ""            the default model, stories260K.gguf: $CAPBENCH_MODEL_DIR,
 *                        then the user cache, else downloaded (pinned by sha256)
 *   hf://ORG/REPO/PATH   a file in a Hugging Face repo (main branch): looked up by
 *                        its base name in $CAPBENCH_MODEL_DIR and the cache, else
 *                        downloaded into the cache
 *   http(s)://...        a direct URL, handled like hf:// (base name of the path)
 *   a file path          used as is; a bare file name that is not in the current
 *                        directory is also looked up in $CAPBENCH_MODEL_DIR and
 *                        the cache
 *
 * hf://ORG/REPO/PATH maps to {endpoint}/ORG/REPO/resolve/main/PATH, where the
 * endpoint is $CAPBENCH_HF_ENDPOINT or https://huggingface.co. The cache is
 * $XDG_CACHE_HOME/capbench/models, or ~/.cache/capbench/models. Downloads are
 * keyed by base name only: two repos' files with the same name share a slot.
 *
 * A download goes to a temporary file in the target directory, is checked
 * (length against Content-Length and, when known, the pinned size; sha256 when
 * one is given) and renamed into place, so a failed or interrupted pull never
 * leaves a partial file under the final name. Nothing here loads or parses the
 * model.
 */
#ifndef CB_MODELPATH_H
#define CB_MODELPATH_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CB_DEFAULT_MODEL_URI "hf://ggml-org/models/tinyllamas/stories260K.gguf"
#define CB_DEFAULT_MODEL_NAME "stories260K.gguf"
#define CB_DEFAULT_MODEL_SHA256 "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"
#define CB_DEFAULT_MODEL_BYTES 1185376

/* Writes the model cache directory (not created) into out. Errors: CB_EUSAGE
 * when neither XDG_CACHE_HOME nor HOME is set, CB_ENOMEM when cap is too small. */
int cb_modelpath_cache_dir(char *out, size_t cap, cb_err *err);

/* Maps hf://ORG/REPO/PATH (or an http(s) URL, unchanged) to its download URL and
 * the file's base name. Errors: CB_EUSAGE for a malformed URI (missing part,
 * ".." segment, whitespace, '?' or '#'), CB_ENOMEM when a buffer is too small. */
int cb_modelpath_url(const char *uri, char *url, size_t url_cap, char *name, size_t name_cap, cb_err *err);

typedef struct cb_pull_opts {
    const char *uri;      /* NULL = the default model (and its pinned sha256/size) */
    const char *dir;      /* target directory (created); NULL = the cache */
    const char *sha256;   /* expected digest (64 hex digits); NULL = the pinned one
                             for the default model, else unchecked */
    int64_t size;         /* expected length in bytes; 0 = the pinned size for the
                             default model, else unchecked; < 0 = unchecked */
    int progress;         /* 0 quiet; 1 a bar on a terminal, else a few lines */
    FILE *log;            /* where progress goes (NULL = stderr) */
} cb_pull_opts;

/* Downloads a model file into the target directory and writes its final path
 * into out. A file already there is kept when it matches the expected sha256
 * (or when none is expected). Without o->dir, a copy of the file (same base
 * name) in $CAPBENCH_MODEL_DIR that passes the same check is used instead of
 * downloading: out gets its path and the log says so. Messages and progress
 * lines show URLs with their credentials redacted (common/url.h). Errors (nothing left behind under any name):
 * CB_ENET (offline: the message says how to use a local GGUF with --model PATH
 * or CAPBENCH_MODEL_DIR; HTTP errors; truncated transfers), CB_EFORMAT (sha256
 * or size mismatch), CB_EIO (directory or file), CB_EUSAGE (bad URI or digest),
 * CB_EINTR. */
int cb_modelpath_pull(const cb_pull_opts *o, char *out, size_t cap, cb_err *err);

/* Resolves a model argument (see the top of this file) to a readable file path
 * in out. allow_download = 0 never touches the network and fails with a message
 * that names `capbench pull` instead. Errors: those of cb_modelpath_pull, and
 * CB_EIO for a path that does not exist. */
int cb_modelpath_resolve(const char *model_arg, char *out, size_t cap, int allow_download, cb_err *err);

#endif
