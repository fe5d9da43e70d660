/* tasks/textbuf.c — see textbuf.h. */
#include "tasks/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cb_textbuf_init(cb_textbuf *b) { memset(b, 0, sizeof *b); }

void cb_textbuf_free(cb_textbuf *b) {
    free(b->s);
    cb_textbuf_init(b);
}

static int reserve(cb_textbuf *b, size_t extra) {
    if (b->failed) return -1;
    if (b->n + extra + 1 <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + extra + 1) nc *= 2;
    char *p = realloc(b->s, nc);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->s = p;
    b->cap = nc;
    return 0;
}

void cb_textbuf_add(cb_textbuf *b, const char *s, size_t n) {
    if (reserve(b, n)) return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void cb_textbuf_puts(cb_textbuf *b, const char *s) { cb_textbuf_add(b, s, strlen(s)); }

void cb_textbuf_printf(cb_textbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)k < sizeof small) {
        cb_textbuf_add(b, small, (size_t)k);
        return;
    }
    if (reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

const char *cb_textbuf_str(const cb_textbuf *b) { return b->s && !b->failed ? b->s : ""; }

int cb_textbuf_failed(const cb_textbuf *b) { return b->failed; }

char *cb_str_appendf(char *s, const char *fmt, ...) {
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t old = s ? strlen(s) : 0;
    char *r = n < 0 ? NULL : realloc(s, old + (size_t)n + 1);
    if (!r) {
        va_end(aq);
        free(s);
        return NULL;
    }
    vsnprintf(r + old, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return r;
}
