/* tests/runner/test_backend_local.c — the local backend on the real
 * stories260K model (skipped when it is absent): prompts come from the shared
 * renderer (runner/prompt.h), latency is per request (a short generation in
 * the same batch as a long one answers sooner), and a conversation a template
 * cannot render fails that request alone. */
#include "runner/backend_local.h"
#include "runner/prompt.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cb_backend *open_local(const char *tmpl) {
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    static char model[1024];
    snprintf(model, sizeof model, "%s/stories260K.gguf", md ? md : "");
    if (!md || access(model, R_OK) != 0)
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    cb_local_opts lo = {.model_path = model, .device = "cpu", .threads = 1, .n_ctx = 256, .chat_template = tmpl};
    cb_backend *b = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_backend_local_open(&lo, &b, &err), 0, "%s", err.msg);
    return b;
}

Test(backend_local, prompts_come_from_the_shared_renderer) {
    cb_backend *b = open_local("auto");
    static const cb_message few[] = {{CB_ROLE_USER, "Q: 1+1?"}, {CB_ROLE_ASSISTANT, "A: 2"}, {CB_ROLE_USER, "Q: 2+2?"}};
    cb_request r = {.kind = CB_REQ_GENERATE, .messages = few, .n_messages = 3, .max_tokens = 4, .top_p = 1};
    cb_response out;
    cb_err err;
    cr_assert_eq(b->submit(b, &r, &out, 1, &err), 0, "%s", err.msg);
    cr_assert_null(out.error, "%s", out.error);
    char *want = NULL;
    cr_assert_eq(cb_prompt_context(0, &r, "<s>", &want, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out.rendered_prompt, want);
    cr_assert_str_eq(out.rendered_prompt, "Q: 1+1?\nA: 2\n\nQ: 2+2?\n", "template none, no BOS text");
    free(want);
    cb_response_clear(&out);
    b->close(b);
}

Test(backend_local, latency_is_per_request) {
    cb_backend *b = open_local("none");
    cb_request r[2];
    memset(r, 0, sizeof r);
    r[0] = (cb_request){.kind = CB_REQ_GENERATE, .id = 1, .prompt = "Once upon a time", .max_tokens = 1, .top_p = 1};
    r[1] = (cb_request){.kind = CB_REQ_GENERATE, .id = 2, .prompt = "Once upon a time", .max_tokens = 120, .top_p = 1};
    cb_response out[2];
    cb_err err;
    cr_assert_eq(b->submit(b, r, out, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(out[0].completion_tokens, 1);
    cr_assert_gt(out[1].completion_tokens, 20, "the long one ran on (%d tokens)", out[1].completion_tokens);
    cr_assert_gt(out[0].latency_s, 0);
    cr_assert_lt(out[0].latency_s, out[1].latency_s, "%g s for 1 token vs %g s for %d", out[0].latency_s,
                 out[1].latency_s, out[1].completion_tokens);
    for (int i = 0; i < 2; i++) cb_response_clear(&out[i]);
    b->close(b);
}

Test(backend_local, unrenderable_conversation_fails_alone) {
    cb_backend *b = open_local("llama2");
    static const cb_message bad[] = {{CB_ROLE_ASSISTANT, "I start."}};
    static const cb_message ok[] = {{CB_ROLE_USER, "Hi"}};
    cb_request r[2] = {{.kind = CB_REQ_GENERATE, .id = 1, .messages = bad, .n_messages = 1, .max_tokens = 2},
                       {.kind = CB_REQ_GENERATE, .id = 2, .messages = ok, .n_messages = 1, .max_tokens = 2}};
    cb_response out[2];
    cb_err err;
    cr_assert_eq(b->submit(b, r, out, 2, &err), 0, "%s", err.msg);
    cr_assert_not_null(out[0].error);
    cr_assert(strstr(out[0].error, "llama2 template"), "%s", out[0].error);
    cr_assert_null(out[1].error, "%s", out[1].error);
    cr_assert_str_eq(out[1].rendered_prompt, "<s>[INST] Hi [/INST]");
    for (int i = 0; i < 2; i++) cb_response_clear(&out[i]);
    b->close(b);
}
