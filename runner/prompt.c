/* runner/prompt.c — request -> prompt text through engine/chat.c (see
 * prompt.h). The only logic of its own: message copying, the raw-prompt case
 * and appending cont_prefix. */
#include "runner/prompt.h"

#include "engine/chat.h"

#include <stdlib.h>
#include <string.h>

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

int cb_prompt_context(int tmpl, const cb_request *r, const char *bos_text, char **out, cb_err *err) {
    *out = NULL;
    if (r->kind != CB_REQ_GENERATE && r->kind != CB_REQ_LOGLIKELIHOOD)
        return cb_err_set(err, CB_EUSAGE, "prompt: request kind %d has no chat context", (int)r->kind);
    if (r->n_messages < 0 || (r->n_messages > 0 && !r->messages))
        return cb_err_set(err, CB_EUSAGE, "prompt: request has no messages (n_messages %d)", r->n_messages);
    char *text = NULL;
    int rc = 0;
    if (r->prompt) {
        if (!(text = concat(r->prompt, ""))) return cb_err_set(err, CB_ENOMEM, "prompt: out of memory");
    } else {
        cb_chat_msg stackmsgs[16] = {{0}};
        cb_chat_msg *msgs =
            r->n_messages <= 16 ? stackmsgs : malloc((size_t)r->n_messages * sizeof *msgs);
        if (!msgs) return cb_err_set(err, CB_ENOMEM, "prompt: out of memory");
        for (int i = 0; i < r->n_messages; i++) {
            msgs[i].role = (int)r->messages[i].role;
            msgs[i].text = r->messages[i].text;
        }
        rc = cb_chat_render(tmpl, msgs, r->n_messages, 1, tmpl == CB_CHAT_NONE ? NULL : bos_text, &text, err);
        if (msgs != stackmsgs) free(msgs);
        if (rc) return rc;
    }
    if (r->kind == CB_REQ_LOGLIKELIHOOD && r->cont_prefix && r->cont_prefix[0]) {
        char *joined = concat(text, r->cont_prefix);
        free(text);
        if (!joined) return cb_err_set(err, CB_ENOMEM, "prompt: out of memory");
        text = joined;
    }
    *out = text;
    return 0;
}
