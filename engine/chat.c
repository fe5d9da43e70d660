/* engine/chat.c — chat template detection and rendering (see chat.h for the
 * layouts, the detection order and the BOS rule).
 *
 * Each family is one small routine writing into a growable buffer. Detection is
 * a bounded substring search over the GGUF string (which is not NUL-terminated
 * and is untrusted input). Nothing here tokenizes or interprets Jinja.
 */
#include "engine/chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_names[CB_CHAT_N_TEMPLATES] = {
    [CB_CHAT_NONE] = "none",       [CB_CHAT_CHATML] = "chatml", [CB_CHAT_LLAMA2] = "llama2",
    [CB_CHAT_LLAMA3] = "llama3",   [CB_CHAT_ZEPHYR] = "zephyr", [CB_CHAT_MISTRAL] = "mistral",
    [CB_CHAT_GEMMA] = "gemma",     [CB_CHAT_PHI3] = "phi3",
};

const char *cb_chat_template_name(int tmpl) {
    if (tmpl < 0 || tmpl >= CB_CHAT_N_TEMPLATES) return "?";
    return k_names[tmpl];
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) return 0;
    return *a == *b;
}

int cb_chat_template_by_name(const char *name, int *out, cb_err *err) {
    if (name)
        for (int t = 0; t < CB_CHAT_N_TEMPLATES; t++)
            if (name_eq(name, k_names[t])) {
                *out = t;
                return CB_OK;
            }
    return cb_err_set(err, CB_EUSAGE,
                      "unknown chat template '%s' (valid: chatml, llama2, llama3, zephyr, "
                      "mistral, gemma, phi3, none)",
                      name ? name : "(null)");
}

/* ---- detection ------------------------------------------------------------ */

/* Does hay[0..len) contain the NUL-terminated needle? */
static int has(const char *hay, size_t len, const char *needle) {
    size_t m = strlen(needle);
    if (!hay || m == 0 || m > len) return 0;
    for (size_t i = 0; i + m <= len; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return 1;
    return 0;
}

static int fallback(int vocab_has_im_start, int *out, const char **reason, const char *why_none,
                    const char *why_chatml) {
    *out = vocab_has_im_start ? CB_CHAT_CHATML : CB_CHAT_NONE;
    if (reason) *reason = vocab_has_im_start ? why_chatml : why_none;
    return 0;
}

int cb_chat_detect(const char *jinja, size_t len, int vocab_has_im_start, int *out,
                   const char **reason) {
    static const struct {
        const char *a, *b; /* both must occur (b may be NULL) */
        int tmpl;
        const char *why;
    } rules[] = {
        {"<|im_start|>", NULL, CB_CHAT_CHATML, "chat_template contains <|im_start|>: chatml"},
        {"<|start_header_id|>", NULL, CB_CHAT_LLAMA3,
         "chat_template contains <|start_header_id|>: llama3"},
        {"<start_of_turn>", NULL, CB_CHAT_GEMMA, "chat_template contains <start_of_turn>: gemma"},
        {"<|user|>", "<|end|>", CB_CHAT_PHI3, "chat_template contains <|user|> and <|end|>: phi3"},
        {"<|user|>", NULL, CB_CHAT_ZEPHYR,
         "chat_template contains <|user|> without <|end|>: zephyr"},
        {"[INST]", "<<SYS>>", CB_CHAT_LLAMA2, "chat_template contains [INST] and <<SYS>>: llama2"},
        {"[INST]", NULL, CB_CHAT_MISTRAL, "chat_template contains [INST] without <<SYS>>: mistral"},
    };
    if (!jinja || len == 0)
        return fallback(vocab_has_im_start, out, reason,
                        "no tokenizer.chat_template: using none (plain text)",
                        "no tokenizer.chat_template but the vocab has <|im_start|>: using chatml");
    if (has(jinja, len, "<|im_sep|>"))
        return fallback(vocab_has_im_start, out, reason,
                        "chat_template uses <|im_sep|> (phi-4 style), which is not supported: "
                        "using none (plain text)",
                        "chat_template uses <|im_sep|> (phi-4 style), which is not supported: "
                        "using chatml because the vocab has <|im_start|>");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (has(jinja, len, rules[i].a) && (!rules[i].b || has(jinja, len, rules[i].b))) {
            *out = rules[i].tmpl;
            if (reason) *reason = rules[i].why;
            return 1;
        }
    return fallback(vocab_has_im_start, out, reason,
                    "unrecognised tokenizer.chat_template (no known family marker): using none "
                    "(plain text)",
                    "unrecognised tokenizer.chat_template (no known family marker) but the vocab "
                    "has <|im_start|>: using chatml");
}

/* ---- rendering ------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
    int oom; /* sticky: set once an append failed */
} buf;

static void put_n(buf *b, const char *s, size_t n) {
    if (b->oom || n == 0) return;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                cap = b->len + n + 1;
                break;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(buf *b, const char *s) {
    if (s) put_n(b, s, strlen(s));
}

static const char *text_of(const cb_chat_msg *m) { return m->text ? m->text : ""; }

/* Templates that give each role its own header: header(role) TEXT trailer. */
static void render_headed(buf *b, int tmpl, const cb_chat_msg *msgs, int n, int prefix) {
    static const char *const chatml[3] = {"<|im_start|>system\n", "<|im_start|>user\n",
                                          "<|im_start|>assistant\n"};
    static const char *const llama3[3] = {"<|start_header_id|>system<|end_header_id|>\n\n",
                                          "<|start_header_id|>user<|end_header_id|>\n\n",
                                          "<|start_header_id|>assistant<|end_header_id|>\n\n"};
    static const char *const zephyr[3] = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"};
    const char *const *head;
    const char *end;
    switch (tmpl) {
    case CB_CHAT_CHATML: head = chatml; end = "<|im_end|>\n"; break;
    case CB_CHAT_LLAMA3: head = llama3; end = "<|eot_id|>"; break;
    case CB_CHAT_ZEPHYR: head = zephyr; end = "</s>\n"; break;
    default: /* CB_CHAT_PHI3 */ head = zephyr; end = "<|end|>\n"; break;
    }
    for (int i = 0; i < n; i++) {
        put(b, head[msgs[i].role]);
        put(b, text_of(&msgs[i]));
        put(b, end);
    }
    if (prefix) put(b, head[CB_CHAT_ROLE_ASSISTANT]);
}

/* For the templates that fold system text into the next user turn: writes the
 * system texts in msgs[from..to) joined by "\n\n", then sep (nothing if none). */
static void put_folded_system(buf *b, const cb_chat_msg *msgs, int from, int to, const char *sep) {
    int any = 0;
    for (int i = from; i < to; i++) {
        if (msgs[i].role != CB_CHAT_ROLE_SYSTEM) continue;
        if (any) put(b, "\n\n");
        put(b, text_of(&msgs[i]));
        any = 1;
    }
    if (any) put(b, sep);
}

static int has_system_in(const cb_chat_msg *msgs, int from, int to) {
    for (int i = from; i < to; i++)
        if (msgs[i].role == CB_CHAT_ROLE_SYSTEM) return 1;
    return 0;
}

static int orphan_system(int tmpl, cb_err *err) {
    return cb_err_set(err, CB_EUSAGE,
                      "%s template: a system message must be followed by a user message",
                      cb_chat_template_name(tmpl));
}

/* llama2 and mistral: [INST] turns. Non-system roles must alternate user,
 * assistant, user, ... starting with user. */
static int render_inst(buf *b, int tmpl, const cb_chat_msg *msgs, int n, const char *bos,
                       cb_err *err) {
    int expect = CB_CHAT_ROLE_USER, sys_from = 0, first_user = 1;
    for (int i = 0; i < n; i++) {
        int r = msgs[i].role;
        if (r == CB_CHAT_ROLE_SYSTEM) continue;
        if (r != expect)
            return cb_err_set(err, CB_EUSAGE,
                              "%s template: message %d is %s but roles must alternate user/assistant "
                              "starting with user",
                              cb_chat_template_name(tmpl), i,
                              r == CB_CHAT_ROLE_USER ? "user" : "assistant");
        if (r == CB_CHAT_ROLE_USER) {
            if (tmpl == CB_CHAT_LLAMA2) {
                if (!first_user) put(b, bos);
                put(b, "[INST] ");
                if (has_system_in(msgs, sys_from, i)) {
                    put(b, "<<SYS>>\n");
                    put_folded_system(b, msgs, sys_from, i, "\n<</SYS>>\n\n");
                }
                put(b, text_of(&msgs[i]));
                put(b, " [/INST]");
            } else {
                put(b, "[INST] ");
                put_folded_system(b, msgs, sys_from, i, "\n\n");
                put(b, text_of(&msgs[i]));
                put(b, " [/INST]");
            }
            first_user = 0;
            expect = CB_CHAT_ROLE_ASSISTANT;
        } else {
            if (has_system_in(msgs, sys_from, i)) return orphan_system(tmpl, err);
            if (tmpl == CB_CHAT_LLAMA2) {
                put(b, " ");
                put(b, text_of(&msgs[i]));
                put(b, " </s>");
            } else {
                put(b, text_of(&msgs[i]));
                put(b, "</s>");
            }
            expect = CB_CHAT_ROLE_USER;
        }
        sys_from = i + 1;
    }
    if (has_system_in(msgs, sys_from, n)) return orphan_system(tmpl, err);
    return CB_OK;
}

static int render_gemma(buf *b, const cb_chat_msg *msgs, int n, int prefix, cb_err *err) {
    int sys_from = 0;
    for (int i = 0; i < n; i++) {
        int r = msgs[i].role;
        if (r == CB_CHAT_ROLE_SYSTEM) continue;
        if (r == CB_CHAT_ROLE_USER) {
            put(b, "<start_of_turn>user\n");
            put_folded_system(b, msgs, sys_from, i, "\n\n");
        } else {
            if (has_system_in(msgs, sys_from, i)) return orphan_system(CB_CHAT_GEMMA, err);
            put(b, "<start_of_turn>model\n");
        }
        put(b, text_of(&msgs[i]));
        put(b, "<end_of_turn>\n");
        sys_from = i + 1;
    }
    if (has_system_in(msgs, sys_from, n)) return orphan_system(CB_CHAT_GEMMA, err);
    if (prefix) put(b, "<start_of_turn>model\n");
    return CB_OK;
}

static void render_none(buf *b, const cb_chat_msg *msgs, int n, int prefix) {
    for (int i = 0; i < n; i++) {
        if (i > 0)
            put(b, msgs[i - 1].role == CB_CHAT_ROLE_USER && msgs[i].role == CB_CHAT_ROLE_ASSISTANT
                       ? "\n"
                       : "\n\n");
        put(b, text_of(&msgs[i]));
    }
    if (prefix && n > 0 && msgs[n - 1].role == CB_CHAT_ROLE_USER) put(b, "\n");
}

int cb_chat_render(int tmpl, const cb_chat_msg *msgs, int n, int add_assistant_prefix,
                   const char *bos_text, char **out, cb_err *err) {
    buf b = {0};
    int rc = CB_OK;
    *out = NULL;
    if (tmpl < 0 || tmpl >= CB_CHAT_N_TEMPLATES) {
        rc = cb_err_set(err, CB_EUSAGE, "chat template id %d out of range", tmpl);
        goto out;
    }
    if (n < 0 || (n > 0 && !msgs)) {
        rc = cb_err_set(err, CB_EUSAGE, "chat render: bad message list (n = %d)", n);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (msgs[i].role < CB_CHAT_ROLE_SYSTEM || msgs[i].role > CB_CHAT_ROLE_ASSISTANT) {
            rc = cb_err_set(err, CB_EUSAGE, "chat render: message %d has role %d (want 0..2)", i,
                            msgs[i].role);
            goto out;
        }

    put(&b, bos_text); /* the BOS rule: here and nowhere else at the start */
    switch (tmpl) {
    case CB_CHAT_CHATML:
    case CB_CHAT_LLAMA3:
    case CB_CHAT_ZEPHYR:
    case CB_CHAT_PHI3: render_headed(&b, tmpl, msgs, n, add_assistant_prefix); break;
    case CB_CHAT_LLAMA2:
    case CB_CHAT_MISTRAL: rc = render_inst(&b, tmpl, msgs, n, bos_text, err); break;
    case CB_CHAT_GEMMA: rc = render_gemma(&b, msgs, n, add_assistant_prefix, err); break;
    default: render_none(&b, msgs, n, add_assistant_prefix); break;
    }
    if (rc) goto out;
    if (!b.p && !b.oom) { /* nothing was appended: empty string */
        b.p = malloc(1);
        if (b.p) b.p[0] = '\0';
        else b.oom = 1;
    }
    if (b.oom) {
        rc = cb_err_set(err, CB_ENOMEM, "chat render: out of memory (%zu bytes so far)", b.len);
        goto out;
    }
    *out = b.p;
    b.p = NULL;
out:
    free(b.p);
    return rc;
}

/* ---- stop strings --------------------------------------------------------- */

const char *const *cb_chat_stop_strings(int tmpl, int *n) {
    static const char *const none[] = {NULL};
    static const char *const chatml[] = {"<|im_end|>", "<|im_start|>", NULL};
    static const char *const llama2[] = {"</s>", "[INST]", NULL};
    static const char *const llama3[] = {"<|eot_id|>", "<|start_header_id|>", NULL};
    static const char *const zephyr[] = {"</s>", "<|user|>", NULL};
    static const char *const gemma[] = {"<end_of_turn>", "<start_of_turn>", NULL};
    static const char *const phi3[] = {"<|end|>", "<|user|>", NULL};
    const char *const *s = none;
    switch (tmpl) {
    case CB_CHAT_CHATML: s = chatml; break;
    case CB_CHAT_LLAMA2:
    case CB_CHAT_MISTRAL: s = llama2; break;
    case CB_CHAT_LLAMA3: s = llama3; break;
    case CB_CHAT_ZEPHYR: s = zephyr; break;
    case CB_CHAT_GEMMA: s = gemma; break;
    case CB_CHAT_PHI3: s = phi3; break;
    default: break;
    }
    if (n) {
        int k = 0;
        while (s[k]) k++;
        *n = k;
    }
    return s;
}
