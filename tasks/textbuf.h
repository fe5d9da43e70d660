/* tasks/textbuf.h — a growable NUL-terminated text buffer with printf-style
 * appends, for families that build prompts, gold tables and renderings of
 * unknown length. An allocation failure is sticky: later appends do nothing
 * and cb_textbuf_failed reports it once at the end, so builders need one check
 * instead of one per append. */
#ifndef CB_TEXTBUF_H
#define CB_TEXTBUF_H

#include <stddef.h>

typedef struct cb_textbuf {
    char *s;     /* NUL-terminated text ("" before the first append) */
    size_t n;    /* bytes, NUL excluded */
    size_t cap;
    int failed;  /* an allocation failed */
} cb_textbuf;

void cb_textbuf_init(cb_textbuf *b);
void cb_textbuf_free(cb_textbuf *b);     /* frees and re-inits */
void cb_textbuf_add(cb_textbuf *b, const char *s, size_t n);
void cb_textbuf_puts(cb_textbuf *b, const char *s);
void cb_textbuf_printf(cb_textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text (never NULL: "" when empty or failed). */
const char *cb_textbuf_str(const cb_textbuf *b);
int cb_textbuf_failed(const cb_textbuf *b);

/* Appends printf-formatted text to a malloc'd string s (NULL counts as "")
 * and returns the grown string; on allocation failure frees s and returns
 * NULL, so a chain of appends needs one check at the end. */
char *cb_str_appendf(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
