/* common/url.c — URL credential redaction (see url.h for the rule). */
#include "common/url.h"

#include <stdlib.h>
#include <string.h>

static int ends_authority(char c) {
    return c == '\0' || c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
           c == '"' || c == '\'' || c == '<' || c == '>';
}

/* If an authority starts at p, returns the position of its last '@' (or NULL). */
static const char *userinfo_end(const char *p) {
    const char *at = NULL;
    for (; !ends_authority(*p); p++)
        if (*p == '@') at = p;
    return at;
}

typedef struct {
    char *out;
    size_t cap, len;
} sink;

static void emit(sink *s, const char *p, size_t n) {
    if (s->len < s->cap) {
        size_t room = s->cap - 1 - s->len; /* keep a byte for the NUL */
        memcpy(s->out + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

size_t cb_url_redact(const char *in, char *out, size_t cap) {
    sink s = {out, cap, 0};
    if (!in) in = "";
    const char *p = in;
    for (;;) {
        const char *sep = strstr(p, "://");
        if (!sep) break;
        const char *auth = sep + 3;
        const char *at = userinfo_end(auth);
        if (at) {
            emit(&s, p, (size_t)(auth - p));
            emit(&s, "[redacted]", 10);
            p = at; /* the '@' and the host follow */
        } else {
            emit(&s, p, (size_t)(auth - p));
            p = auth;
        }
    }
    emit(&s, p, strlen(p));
    if (cap > 0) out[s.len < cap ? s.len : cap - 1] = '\0';
    return s.len;
}

void cb_url_redact_inplace(char *s, size_t cap) {
    if (!s || cap == 0 || !cb_url_has_userinfo(s)) return;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (!copy) {
        s[0] = '\0'; /* cannot redact: drop the text rather than leak it */
        return;
    }
    memcpy(copy, s, n);
    cb_url_redact(copy, s, cap);
    free(copy);
}

int cb_url_has_userinfo(const char *text) {
    if (!text) return 0;
    for (const char *p = text; (p = strstr(p, "://")); p += 3)
        if (userinfo_end(p + 3)) return 1;
    return 0;
}
