/* runner/backend_instant.h — an in-process backend that answers at once,
 * without a model: the harness benchmark measures the pipeline around the
 * model with it, and scheduler tests use it for runs that need no engine.
 *
 * Answers are deterministic functions of the request: GENERATE returns
 * "Answer: N" with N = fnv1a64(last message text) % 10 (so a counting item is
 * sometimes right, sometimes wrong, never unparsed); LOGLIKELIHOOD returns
 * -(1 + fnv1a64(context + continuation) % 1000) / 100 over one token. With
 * fail_every > 0, every fail_every-th GENERATE request (counted from 1 over the
 * backend's life) fails with an error, to exercise failed samples and resume.
 */
#ifndef CB_BACKEND_INSTANT_H
#define CB_BACKEND_INSTANT_H

#include "runner/backend.h"

/* OUT *out (close with (*out)->close). Errors: CB_ENOMEM. */
int cb_backend_instant_open(int fail_every, cb_backend **out, cb_err *err);
/* GENERATE requests answered so far (all submits). */
int64_t cb_backend_instant_calls(const cb_backend *b);

#endif
