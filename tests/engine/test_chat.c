/* tests/engine/test_chat.c — chat templates: family detection from template
 * excerpts, exact renderings of one conversation per family (with and without
 * the assistant prefix), the BOS rule, plain-text mode, names, stop strings,
 * error paths, and detection on the reference vocab GGUFs that carry a
 * tokenizer.chat_template.
 */
#include "engine/chat.h"
#include "engine/gguf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The conversation every family renders: system, user, assistant, user. */
static const cb_chat_msg k_conv[] = {
    {CB_CHAT_ROLE_SYSTEM, "Be brief."},
    {CB_CHAT_ROLE_USER, "Hi"},
    {CB_CHAT_ROLE_ASSISTANT, "Hello!"},
    {CB_CHAT_ROLE_USER, "2+2?"},
};
#define N_CONV 4

static char *render_ok(int tmpl, const cb_chat_msg *m, int n, int prefix, const char *bos) {
    cb_err e;
    cb_err_clear(&e);
    char *s = NULL;
    int rc = cb_chat_render(tmpl, m, n, prefix, bos, &s, &e);
    cr_assert_eq(rc, CB_OK, "%s: %s", cb_chat_template_name(tmpl), e.msg);
    cr_assert_not_null(s);
    return s;
}

static void expect_render(int tmpl, int prefix, const char *bos, const char *want) {
    char *s = render_ok(tmpl, k_conv, N_CONV, prefix, bos);
    cr_expect_str_eq(s, want, "%s prefix=%d:\n got [%s]\nwant [%s]", cb_chat_template_name(tmpl),
                     prefix, s, want);
    free(s);
}

/* ---- detection ------------------------------------------------------------ */

static int detect(const char *jinja, int has_im_start, int *recognised) {
    int t = -1;
    const char *why = NULL;
    *recognised = cb_chat_detect(jinja, jinja ? strlen(jinja) : 0, has_im_start, &t, &why);
    cr_assert_not_null(why);
    cr_assert(strlen(why) > 0);
    return t;
}

Test(chat, detect_families) {
    /* Short excerpts of each family's distinctive markers, shaped like the
     * published templates. */
    static const struct {
        const char *jinja;
        int want;
    } cases[] = {
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
         "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
         CB_CHAT_CHATML},
        {"{{ bos_token }}{% if messages[0]['role'] == 'system' %}... '[INST] <<SYS>>\\n' + "
         "system_message + '\\n<</SYS>>\\n\\n' ... ' [/INST]' ... eos_token",
         CB_CHAT_LLAMA2},
        {"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
         "message['content'] | trim + '<|eot_id|>' %}",
         CB_CHAT_LLAMA3},
        {"{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
         "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' + message['content'] + "
         "eos_token }}{% endif %}",
         CB_CHAT_ZEPHYR},
        {"{{ '<|system|>\\n' + m + '</s>' }}{{ '<|user|>\\n' + m + '</s>' }}", CB_CHAT_ZEPHYR},
        {"{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
         "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + "
         "eos_token}}{% endif %}{% endfor %}",
         CB_CHAT_MISTRAL},
        {"{{ bos_token }}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
         "'<end_of_turn>\\n' }}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}",
         CB_CHAT_GEMMA},
        {"{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + "
         "'\\n'}}",
         CB_CHAT_PHI3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rec = -1;
        int t = detect(cases[i].jinja, 0, &rec);
        cr_expect_eq(t, cases[i].want, "case %zu: got %s want %s", i, cb_chat_template_name(t),
                     cb_chat_template_name(cases[i].want));
        cr_expect_eq(rec, 1, "case %zu", i);
        /* the vocab flag only matters for fallbacks */
        cr_expect_eq(detect(cases[i].jinja, 1, &rec), cases[i].want, "case %zu", i);
    }
}

Test(chat, detect_precedence_and_fallbacks) {
    int rec;
    /* phi3 beats zephyr when <|end|> is present, whatever the order */
    cr_expect_eq(detect("<|end|> ... <|user|>", 0, &rec), CB_CHAT_PHI3);
    /* llama2 needs both markers; mistral v7 style system blocks stay mistral */
    cr_expect_eq(detect("[SYSTEM_PROMPT] x [/SYSTEM_PROMPT][INST] y [/INST]", 0, &rec),
                 CB_CHAT_MISTRAL);
    cr_expect_eq(detect("<<SYS>> only", 0, &rec), CB_CHAT_NONE);
    cr_expect_eq(rec, 0);
    /* absent template */
    const char *why = NULL;
    int t = -1;
    cr_expect_eq(cb_chat_detect(NULL, 0, 0, &t, &why), 0);
    cr_expect_eq(t, CB_CHAT_NONE);
    cr_expect(strstr(why, "no tokenizer.chat_template") != NULL, "%s", why);
    cr_expect_eq(cb_chat_detect(NULL, 0, 1, &t, &why), 0);
    cr_expect_eq(t, CB_CHAT_CHATML);
    cr_expect(strstr(why, "<|im_start|>") != NULL, "%s", why);
    /* unknown template: none, or chatml when the vocab has <|im_start|> */
    cr_expect_eq(detect("{{ '### Instruction:\\n' + m }}", 0, &rec), CB_CHAT_NONE);
    cr_expect_eq(rec, 0);
    cr_expect_eq(cb_chat_detect("{{ x }}", 5, 0, &t, &why), 0);
    cr_expect(strstr(why, "unrecognised") != NULL, "%s", why);
    cr_expect_eq(detect("{{ '### Instruction:\\n' + m }}", 1, &rec), CB_CHAT_CHATML);
    cr_expect_eq(rec, 0);
    /* phi-4 style chatml with <|im_sep|> is refused, not mis-rendered */
    cr_expect_eq(detect("'<|im_start|>' + role + '<|im_sep|>' + content + '<|im_end|>'", 0, &rec),
                 CB_CHAT_NONE);
    cr_expect_eq(rec, 0);
    /* the length bounds the search: a marker past len is not seen */
    const char *s = "abc<|im_start|>";
    cr_expect_eq(cb_chat_detect(s, 3, 0, &t, NULL), 0);
    cr_expect_eq(t, CB_CHAT_NONE);
    cr_expect_eq(cb_chat_detect(s, strlen(s) - 1, 0, &t, NULL), 0);
    cr_expect_eq(cb_chat_detect(s, strlen(s), 0, &t, NULL), 1);
    cr_expect_eq(t, CB_CHAT_CHATML);
}

/* ---- exact renderings ----------------------------------------------------- */

Test(chat, render_chatml) {
    const char *body = "<|im_start|>system\nBe brief.<|im_end|>\n"
                       "<|im_start|>user\nHi<|im_end|>\n"
                       "<|im_start|>assistant\nHello!<|im_end|>\n"
                       "<|im_start|>user\n2+2?<|im_end|>\n";
    char want[512];
    expect_render(CB_CHAT_CHATML, 0, NULL, body);
    snprintf(want, sizeof want, "%s<|im_start|>assistant\n", body);
    expect_render(CB_CHAT_CHATML, 1, NULL, want);
}

Test(chat, render_llama2) {
    const char *body = "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>"
                       "<s>[INST] 2+2? [/INST]";
    /* "[/INST]" already opens the answer: the prefix adds nothing */
    expect_render(CB_CHAT_LLAMA2, 0, "<s>", body);
    expect_render(CB_CHAT_LLAMA2, 1, "<s>", body);
    /* no BOS wanted: none anywhere, interior turns included */
    expect_render(CB_CHAT_LLAMA2, 1, NULL,
                  "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>[INST] 2+2? [/INST]");
}

Test(chat, render_llama3) {
    const char *body = "<|begin_of_text|>"
                       "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                       "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                       "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                       "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>";
    char want[768];
    expect_render(CB_CHAT_LLAMA3, 0, "<|begin_of_text|>", body);
    snprintf(want, sizeof want, "%s<|start_header_id|>assistant<|end_header_id|>\n\n", body);
    expect_render(CB_CHAT_LLAMA3, 1, "<|begin_of_text|>", want);
}

Test(chat, render_zephyr) {
    const char *body = "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n"
                       "<|assistant|>\nHello!</s>\n<|user|>\n2+2?</s>\n";
    char want[512];
    expect_render(CB_CHAT_ZEPHYR, 0, NULL, body);
    snprintf(want, sizeof want, "%s<|assistant|>\n", body);
    expect_render(CB_CHAT_ZEPHYR, 1, NULL, want);
}

Test(chat, render_mistral) {
    const char *body = "<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] 2+2? [/INST]";
    expect_render(CB_CHAT_MISTRAL, 0, "<s>", body);
    expect_render(CB_CHAT_MISTRAL, 1, "<s>", body);
}

Test(chat, render_gemma) {
    const char *body = "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                       "<start_of_turn>model\nHello!<end_of_turn>\n"
                       "<start_of_turn>user\n2+2?<end_of_turn>\n";
    char want[512];
    expect_render(CB_CHAT_GEMMA, 0, "<bos>", body);
    snprintf(want, sizeof want, "%s<start_of_turn>model\n", body);
    expect_render(CB_CHAT_GEMMA, 1, "<bos>", want);
}

Test(chat, render_phi3) {
    const char *body = "<s><|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n"
                       "<|assistant|>\nHello!<|end|>\n<|user|>\n2+2?<|end|>\n";
    char want[512];
    expect_render(CB_CHAT_PHI3, 0, "<s>", body);
    snprintf(want, sizeof want, "%s<|assistant|>\n", body);
    expect_render(CB_CHAT_PHI3, 1, "<s>", want);
}

Test(chat, render_none) {
    /* few-shot: Q\nA\n\n then the open question */
    expect_render(CB_CHAT_NONE, 0, NULL, "Be brief.\n\nHi\nHello!\n\n2+2?");
    expect_render(CB_CHAT_NONE, 1, "<s>", "<s>Be brief.\n\nHi\nHello!\n\n2+2?\n");
    /* a lone completion prompt for a base model stays as written */
    const cb_chat_msg story[] = {{CB_CHAT_ROLE_USER, "Once upon a time"}};
    char *s = render_ok(CB_CHAT_NONE, story, 1, 0, "<s>");
    cr_expect_str_eq(s, "<s>Once upon a time");
    free(s);
    /* prefix only follows a user turn */
    const cb_chat_msg ua[] = {{CB_CHAT_ROLE_USER, "Q"}, {CB_CHAT_ROLE_ASSISTANT, "A"}};
    s = render_ok(CB_CHAT_NONE, ua, 2, 1, NULL);
    cr_expect_str_eq(s, "Q\nA");
    free(s);
}

/* The BOS rule: bos_text appears once, at the start, for every template, and
 * never when it is not passed (so the tokenizer, called with add_bos = 0, yields
 * exactly one BOS or none). llama2 is the one family that repeats it per turn. */
Test(chat, bos_rule) {
    const cb_chat_msg one[] = {{CB_CHAT_ROLE_SYSTEM, "S"}, {CB_CHAT_ROLE_USER, "U"}};
    const char *bos = "<|BOS|>";
    for (int t = 0; t < CB_CHAT_N_TEMPLATES; t++) {
        char *s = render_ok(t, one, 2, 1, bos);
        cr_expect_eq(strncmp(s, bos, strlen(bos)), 0, "%s: [%s]", cb_chat_template_name(t), s);
        cr_expect_null(strstr(s + strlen(bos), bos), "%s: double BOS [%s]",
                       cb_chat_template_name(t), s);
        free(s);
        s = render_ok(t, one, 2, 1, NULL);
        char *s2 = render_ok(t, one, 2, 1, "");
        cr_expect_str_eq(s, s2, "%s", cb_chat_template_name(t));
        cr_expect_null(strstr(s, "<s>"), "%s: [%s]", cb_chat_template_name(t), s);
        cr_expect_null(strstr(s, "<|begin_of_text|>"), "%s", cb_chat_template_name(t));
        free(s);
        free(s2);
    }
    /* llama2 multi-turn: one BOS per [INST] turn, none doubled */
    char *s = render_ok(CB_CHAT_LLAMA2, k_conv, N_CONV, 1, bos);
    int count = 0;
    for (const char *p = s; (p = strstr(p, bos)) != NULL; p += strlen(bos)) count++;
    cr_expect_eq(count, 2, "[%s]", s);
    cr_expect_null(strstr(s, "<|BOS|><|BOS|>"));
    free(s);
}

Test(chat, render_edge_cases) {
    /* empty conversation: just BOS (+ prefix where the template has one) */
    char *s = render_ok(CB_CHAT_CHATML, NULL, 0, 1, NULL);
    cr_expect_str_eq(s, "<|im_start|>assistant\n");
    free(s);
    s = render_ok(CB_CHAT_NONE, NULL, 0, 1, NULL);
    cr_expect_str_eq(s, "");
    free(s);
    /* NULL text reads as "" */
    const cb_chat_msg nul[] = {{CB_CHAT_ROLE_USER, NULL}};
    s = render_ok(CB_CHAT_PHI3, nul, 1, 1, NULL);
    cr_expect_str_eq(s, "<|user|>\n<|end|>\n<|assistant|>\n");
    free(s);
    /* two system messages fold together in gemma */
    const cb_chat_msg two_sys[] = {{CB_CHAT_ROLE_SYSTEM, "A"}, {CB_CHAT_ROLE_SYSTEM, "B"},
                                   {CB_CHAT_ROLE_USER, "U"}};
    s = render_ok(CB_CHAT_GEMMA, two_sys, 3, 0, NULL);
    cr_expect_str_eq(s, "<start_of_turn>user\nA\n\nB\n\nU<end_of_turn>\n");
    free(s);
    /* text is inserted verbatim: no trimming */
    const cb_chat_msg sp[] = {{CB_CHAT_ROLE_USER, " x \n"}};
    s = render_ok(CB_CHAT_LLAMA3, sp, 1, 0, NULL);
    cr_expect_str_eq(s, "<|start_header_id|>user<|end_header_id|>\n\n x \n<|eot_id|>");
    free(s);
    /* a long message survives buffer growth */
    size_t big = 100000;
    char *text = malloc(big + 1);
    cr_assert_not_null(text);
    memset(text, 'z', big);
    text[big] = '\0';
    const cb_chat_msg longm[] = {{CB_CHAT_ROLE_USER, text}};
    s = render_ok(CB_CHAT_CHATML, longm, 1, 1, NULL);
    cr_expect_eq(strlen(s), big + strlen("<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"));
    free(s);
    free(text);
}

static void expect_render_error(int tmpl, const cb_chat_msg *m, int n, const char *needle) {
    cb_err e;
    cb_err_clear(&e);
    char *s = (char *)"sentinel";
    int rc = cb_chat_render(tmpl, m, n, 1, "<s>", &s, &e);
    cr_expect_eq(rc, CB_EUSAGE, "%s: rc %d", cb_chat_template_name(tmpl), rc);
    cr_expect_eq(e.code, CB_EUSAGE);
    cr_expect_null(s);
    cr_expect(strstr(e.msg, needle) != NULL, "%s: [%s] lacks [%s]", cb_chat_template_name(tmpl),
              e.msg, needle);
}

Test(chat, render_errors) {
    const cb_chat_msg u[] = {{CB_CHAT_ROLE_USER, "U"}};
    expect_render_error(-1, u, 1, "out of range");
    expect_render_error(CB_CHAT_N_TEMPLATES, u, 1, "out of range");
    expect_render_error(CB_CHAT_CHATML, u, -1, "bad message list");
    expect_render_error(CB_CHAT_CHATML, NULL, 1, "bad message list");
    const cb_chat_msg bad_role[] = {{CB_CHAT_ROLE_USER, "U"}, {3, "x"}};
    expect_render_error(CB_CHAT_CHATML, bad_role, 2, "message 1 has role 3");
    const cb_chat_msg uu[] = {{CB_CHAT_ROLE_USER, "a"}, {CB_CHAT_ROLE_USER, "b"}};
    expect_render_error(CB_CHAT_LLAMA2, uu, 2, "alternate");
    expect_render_error(CB_CHAT_MISTRAL, uu, 2, "alternate");
    const cb_chat_msg a_first[] = {{CB_CHAT_ROLE_ASSISTANT, "a"}};
    expect_render_error(CB_CHAT_MISTRAL, a_first, 1, "starting with user");
    const cb_chat_msg sys_only[] = {{CB_CHAT_ROLE_SYSTEM, "S"}};
    expect_render_error(CB_CHAT_LLAMA2, sys_only, 1, "followed by a user");
    expect_render_error(CB_CHAT_MISTRAL, sys_only, 1, "followed by a user");
    expect_render_error(CB_CHAT_GEMMA, sys_only, 1, "followed by a user");
    const cb_chat_msg sys_then_a[] = {{CB_CHAT_ROLE_USER, "U"}, {CB_CHAT_ROLE_SYSTEM, "S"},
                                      {CB_CHAT_ROLE_ASSISTANT, "A"}};
    expect_render_error(CB_CHAT_LLAMA2, sys_then_a, 3, "followed by a user");
    expect_render_error(CB_CHAT_GEMMA, sys_then_a, 3, "followed by a user");
    /* templates with a system header render a system-only conversation fine */
    char *s = render_ok(CB_CHAT_CHATML, sys_only, 1, 0, NULL);
    cr_expect_str_eq(s, "<|im_start|>system\nS<|im_end|>\n");
    free(s);
}

/* ---- names and stop strings ------------------------------------------------ */

Test(chat, names_round_trip) {
    static const char *const names[] = {"none",    "chatml", "llama2", "llama3",
                                        "zephyr",  "mistral", "gemma", "phi3"};
    cr_assert_eq(sizeof names / sizeof names[0], (size_t)CB_CHAT_N_TEMPLATES);
    for (int t = 0; t < CB_CHAT_N_TEMPLATES; t++) {
        int got = -1;
        cr_expect_str_eq(cb_chat_template_name(t), names[t]);
        cr_expect_eq(cb_chat_template_by_name(cb_chat_template_name(t), &got, NULL), CB_OK);
        cr_expect_eq(got, t);
    }
    int got = -1;
    cr_expect_eq(cb_chat_template_by_name("ChatML", &got, NULL), CB_OK);
    cr_expect_eq(got, CB_CHAT_CHATML);
    cr_expect_str_eq(cb_chat_template_name(-1), "?");
    cr_expect_str_eq(cb_chat_template_name(CB_CHAT_N_TEMPLATES), "?");
}

Test(chat, bad_name_lists_valid_names) {
    cb_err e;
    cb_err_clear(&e);
    int got = 42;
    cr_expect_eq(cb_chat_template_by_name("vicuna", &got, &e), CB_EUSAGE);
    cr_expect_eq(got, 42);
    cr_expect(strstr(e.msg, "'vicuna'") != NULL, "%s", e.msg);
    for (int t = 0; t < CB_CHAT_N_TEMPLATES; t++)
        cr_expect(strstr(e.msg, cb_chat_template_name(t)) != NULL, "%s lacks %s", e.msg,
                  cb_chat_template_name(t));
    cr_expect_eq(cb_chat_template_by_name("chatml2", &got, &e), CB_EUSAGE);
    cr_expect_eq(cb_chat_template_by_name("", &got, &e), CB_EUSAGE);
    cr_expect_eq(cb_chat_template_by_name(NULL, &got, &e), CB_EUSAGE);
    cr_expect_eq(got, 42);
}

Test(chat, stop_strings) {
    static const struct {
        int tmpl;
        const char *end_of_turn;
    } cases[] = {
        {CB_CHAT_CHATML, "<|im_end|>"},  {CB_CHAT_LLAMA2, "</s>"},   {CB_CHAT_LLAMA3, "<|eot_id|>"},
        {CB_CHAT_ZEPHYR, "</s>"},        {CB_CHAT_MISTRAL, "</s>"},  {CB_CHAT_GEMMA, "<end_of_turn>"},
        {CB_CHAT_PHI3, "<|end|>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = -1;
        const char *const *s = cb_chat_stop_strings(cases[i].tmpl, &n);
        cr_assert_geq(n, 1);
        cr_expect_str_eq(s[0], cases[i].end_of_turn);
        cr_expect_null(s[n]);
        /* every stop string is something the rendered assistant turn is closed
         * or followed by, so it really appears in a rendered conversation */
        const char *bos = cases[i].tmpl == CB_CHAT_LLAMA2 ? "<s>" : NULL;
        char *r = render_ok(cases[i].tmpl, k_conv, N_CONV, 1, bos);
        for (int k = 0; k < n; k++)
            cr_expect(strstr(r, s[k]) != NULL, "%s: stop [%s] not in [%s]",
                      cb_chat_template_name(cases[i].tmpl), s[k], r);
        free(r);
    }
    int n = -1;
    const char *const *s = cb_chat_stop_strings(CB_CHAT_NONE, &n);
    cr_expect_eq(n, 0);
    cr_assert_not_null(s);
    cr_expect_null(s[0]);
    cr_expect_null(cb_chat_stop_strings(99, NULL)[0]);
}

/* ---- the reference vocab GGUFs ---------------------------------------------- */

/* Every vocab GGUF in reference/tokenizer/ that has tokenizer.chat_template is
 * detected as the family we know it belongs to; the others fall back. At the
 * pinned llama.cpp commit only ggml-vocab-phi-3.gguf carries a template. */
Test(chat, detect_reference_vocabs) {
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir) cr_skip_test("CAPBENCH_SHARED_DIR not set: reference vocab GGUFs unavailable");
    static const struct {
        const char *file;
        int want; /* -1: no chat_template in the file */
    } cases[] = {
        {"ggml-vocab-phi-3.gguf", CB_CHAT_PHI3},   {"ggml-vocab-llama-spm.gguf", -1},
        {"ggml-vocab-gpt-2.gguf", -1},             {"ggml-vocab-deepseek-llm.gguf", -1},
        {"ggml-vocab-falcon.gguf", -1},            {"ggml-vocab-starcoder.gguf", -1},
    };
    int seen = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/reference/tokenizer/%s", dir, cases[i].file);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fclose(f);
        seen++;
        cb_err e;
        cb_err_clear(&e);
        cb_gguf *g = NULL;
        cr_assert_eq(cb_gguf_open(path, &g, &e), CB_OK, "%s: %s", path, e.msg);
        cb_gguf_str js = {0};
        int rc = cb_gguf_get_str(g, "tokenizer.chat_template", &js);
        int t = -1;
        const char *why = NULL;
        if (cases[i].want < 0) {
            cr_expect_neq(rc, 0, "%s unexpectedly has a chat_template", cases[i].file);
            cr_expect_eq(cb_chat_detect(NULL, 0, 0, &t, &why), 0);
            cr_expect_eq(t, CB_CHAT_NONE);
        } else {
            cr_assert_eq(rc, 0, "%s: no tokenizer.chat_template", cases[i].file);
            cr_expect_eq(cb_chat_detect(js.ptr, (size_t)js.len, 0, &t, &why), 1, "%s: %s",
                         cases[i].file, why);
            cr_expect_eq(t, cases[i].want, "%s: %s (%s)", cases[i].file, cb_chat_template_name(t),
                         why);
        }
        cb_gguf_free(g);
    }
    if (seen == 0) cr_skip_test("no reference vocab GGUFs under %s/reference/tokenizer", dir);
}
