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
    /* a prompt of prompt_cp code points (two-byte ones every third), for token spans */
    char prompt[3 * 256 + 1];
    size_t pl = 0;
    for (long i = 0; i < prompt_cp; i++) {
        if (i % 3 == 2) prompt[pl++] = (char)0xC3, prompt[pl++] = (char)0xA9;
        else prompt[pl++] = 'a';
    }
    prompt[pl] = 0;
    size_t cont_bytes = 0;
    for (long i = ctx_cp; i < prompt_cp; i++) cont_bytes += i % 3 == 2 ? 2 : 1;
    int rc = cb_remote_parse_reply(kind, body, len, "reply from fuzz", ctx_cp, prompt_cp, prompt, &out, &err);
    if (rc == 0) {
        if (kind == CB_REMOTE_REPLY_CHAT || kind == CB_REMOTE_REPLY_COMPLETION) {
            if (!out.text) abort();
        } else {
            if (out.n_scored < 0 || (out.n_scored > 0 && !out.token_logprobs)) abort();
            if (!isfinite(out.logprob_sum)) abort();
            double s = 0;
            for (int i = 0; i < out.n_scored; i++) s += out.token_logprobs[i];
            if (fabs(s - out.logprob_sum) > 1e-6 * (1 + fabs(s))) abort();
            /* spans: inside the continuation, each [a, b) ordered, starts non-decreasing */
            for (int i = 0; out.token_spans && i < out.n_scored; i++) {
                int64_t a = out.token_spans[2 * i], b = out.token_spans[2 * i + 1];
                if (a < 0 || b < a || (size_t)b > cont_bytes) abort();
                if (i > 0 && a < out.token_spans[2 * i - 2]) abort();
            }
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
