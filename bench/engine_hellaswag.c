/* bench/engine_hellaswag.c — the HellaSwag plain-text layout reader (see
 * engine_hellaswag.h for the format).
 *
 * One pass over a private copy of the bytes: each "\n" (and a "\r" before it)
 * becomes a NUL, so lines are C strings in place and items point into the
 * copy. Every check happens before a line is used; the message names the
 * 1-based line. It does not tokenize or score anything.
 */
#include "bench/engine_hellaswag.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HS_MAX_FILE ((size_t)1 << 30)
#define HS_MAX_LINE ((size_t)1 << 20)

void cb_mc_set_free(cb_mc_set *s) {
    if (!s) return;
    free(s->items);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* Gold index line: optional spaces, one digit 0..3, optional spaces. */
static int parse_gold(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i >= n || s[i] < '0' || s[i] > '3') return -1;
    int v = s[i++] - '0';
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    return i == n ? v : -1;
}

int cb_hellaswag_parse(const char *data, size_t len, const char *name, cb_mc_set *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    if (!name) name = "<items>";
    if (len > HS_MAX_FILE)
        return cb_err_set(err, CB_EFORMAT, "%s: %zu bytes, more than the %zu-byte limit", name, len, HS_MAX_FILE);
    if (len == 0) return cb_err_set(err, CB_EFORMAT, "%s: the file is empty (expected 6 lines per item)", name);
    /* count lines: a final "\n" ends the last line rather than starting an empty one */
    size_t n_lines = 1;
    for (size_t i = 0; i + 1 < len; i++) n_lines += data[i] == '\n';
    if (n_lines % 6 != 0)
        return cb_err_set(err, CB_EFORMAT,
                          "%s: %zu lines is not a multiple of 6 (each item is: context, gold index 0-3, four "
                          "endings); the incomplete last item starts at line %zu",
                          name, n_lines, n_lines - n_lines % 6 + 1);
    if (n_lines / 6 > (size_t)INT32_MAX)
        return cb_err_set(err, CB_EFORMAT, "%s: too many items", name);
    int rc = 0;
    char *buf = malloc(len + 1);
    cb_mc_item *items = calloc(n_lines / 6, sizeof *items);
    if (!buf || !items) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory for %zu items", name, n_lines / 6);
        goto out;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    size_t pos = 0;
    for (size_t ln = 0; ln < n_lines; ln++) {
        char *s = buf + pos;
        char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && s[n - 1] == '\r') n--;
        s[n] = '\0';
        size_t line = ln + 1, k = ln % 6;
        cb_mc_item *it = &items[ln / 6];
        if (n > HS_MAX_LINE) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %zu: %zu bytes, more than the %zu-byte line limit", name, line,
                            n, HS_MAX_LINE);
            goto out;
        }
        if (memchr(s, '\0', n)) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %zu: a NUL byte in the text", name, line);
            goto out;
        }
        if (k == 1) {
            it->gold = parse_gold(s, n);
            if (it->gold < 0) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: line %zu: gold ending index '%.40s' (expected 0, 1, 2 or 3)",
                                name, line, s);
                goto out;
            }
            continue;
        }
        if (n == 0) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %zu: empty %s (item %zu)", name, line,
                            k == 0 ? "context" : "ending", ln / 6 + 1);
            goto out;
        }
        if (k == 0) {
            it->context = s;
            it->line = (int)(line > INT32_MAX ? INT32_MAX : line);
        } else {
            it->endings[k - 2] = s;
            it->ending_len[k - 2] = n;
        }
    }
    out->items = items;
    out->n = (int)(n_lines / 6);
    out->buf = buf;
    return 0;
out:
    free(items);
    free(buf);
    return rc;
}

int cb_hellaswag_load(const char *path, cb_mc_set *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return cb_err_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *data = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            if (cap > HS_MAX_FILE) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: more than the %zu-byte limit", path, HS_MAX_FILE);
                goto out;
            }
            size_t nc = cap ? cap * 2 : 65536;
            char *nd = realloc(data, nc);
            if (!nd) {
                rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory reading the file", path);
                goto out;
            }
            data = nd;
            cap = nc;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        rc = cb_err_set(err, CB_EIO, "%s: read error", path);
        goto out;
    }
    rc = cb_hellaswag_parse(data, len, path, out, err);
out:
    free(data);
    fclose(f);
    return rc;
}
