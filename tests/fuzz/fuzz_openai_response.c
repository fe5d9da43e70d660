/* tests/fuzz/fuzz_openai_response.c — libFuzzer target for the parser of
 * OpenAI-compatible reply bodies (runner/backend_remote.c): chat and completion
 * replies, echo+logprobs replies for log-likelihood and rolling scoring, and
 * error bodies. Input layout: byte 0 picks the reply kind (mod 4), bytes 1 and 2
 * are the context and prompt lengths in code points, the rest is the body.
 * Checks beyond "no crash, no leak": a successful parse leaves a consistent
 * response (text for generation, n_scored >= 0 with token_logprobs for scoring,
 * a finite sum), and a failure always leaves a message. */
#include "runner/backend_remote.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    cb_remote_reply kind = (cb_remote_reply)(data[0] % 4);
    long ctx_cp = data[1], prompt_cp = data[2];
    const char *body = (const char *)data + 3;
    size_t len = size - 3;
    cb_response out;
    memset(&out, 0, sizeof out);
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_remote_parse_reply(kind, body, len, "reply from fuzz", ctx_cp, prompt_cp, &out, &err);
    if (rc == 0) {
        if (kind == CB_REMOTE_REPLY_CHAT || kind == CB_REMOTE_REPLY_COMPLETION) {
            if (!out.text) abort();
        } else {
            if (out.n_scored < 0 || (out.n_scored > 0 && !out.token_logprobs)) abort();
            if (!isfinite(out.logprob_sum)) abort();
            double s = 0;
            for (int i = 0; i < out.n_scored; i++) s += out.token_logprobs[i];
            if (fabs(s - out.logprob_sum) > 1e-6 * (1 + fabs(s))) abort();
        }
    } else if (err.msg[0] == '\0') {
        abort();
    }
    cb_response_clear(&out);
    char msg[256];
    cb_remote_error_message(body, len, msg, sizeof msg);
    if (strlen(msg) >= sizeof msg) abort();
    return 0;
}
