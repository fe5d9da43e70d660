/* common/url.h — hiding credentials written inside URLs.
 *
 * A base URL or model URL may carry credentials in its authority part
 * (http://user:pass@host/v1, RFC 3986 "userinfo"). libcurl needs them to log
 * in, so the backends keep the real URL for the wire; everything that is
 * stored (run records, configs) or printed (messages, logs, `describe`) goes
 * through cb_url_redact first. It works on any text, not just a lone URL, so
 * an error message that quotes a URL can be cleaned in one call.
 *
 * Rule: after every "://", the authority runs to the first '/', '?', '#',
 * whitespace, quote, '<', '>' or the end of the text. When it contains '@', the
 * part before its last '@' is replaced with "[redacted]":
 *   "http://user:pass@host:8080/v1"  -> "http://[redacted]@host:8080/v1"
 *   "failed: https://tok@h/x (404)"  -> "failed: https://[redacted]@h/x (404)"
 * The length of the hidden part is not revealed. Text without "://" or
 * without '@' in an authority is copied unchanged. This module does not parse
 * or validate URLs.
 */
#ifndef CB_URL_H
#define CB_URL_H

#include <stddef.h>

/* Writes `in` with every URL userinfo replaced by "[redacted]" into out (cap bytes,
 * always NUL-terminated when cap > 0, truncated like snprintf). Returns the
 * length the full result needs (excluding the NUL), so a return >= cap means
 * truncation. in == NULL reads as "". in and out must not overlap. */
size_t cb_url_redact(const char *in, char *out, size_t cap);

/* Redacts s (NUL-terminated, in a buffer of cap bytes) in place. The result
 * is cut to cap - 1 bytes when "[redacted]" is longer than what it hides and the
 * buffer is full; when memory runs out s is emptied rather than left as is. */
void cb_url_redact_inplace(char *s, size_t cap);

/* 1 when text contains a URL with userinfo (what cb_url_redact would hide). */
int cb_url_has_userinfo(const char *text);

#endif
