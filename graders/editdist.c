/* graders/editdist.c — Levenshtein distance on code points and token ids
 * (see editdist.h). Two-row dynamic programme over the shorter sequence. */
#include "graders/editdist.h"

#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at p; returns bytes consumed (>= 1). Invalid
 * bytes decode as 0xDC00 + byte, one at a time. */
static size_t utf8_next(const unsigned char *p, uint32_t *cp) {
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (len == 0 || (len == 4 && c > 0xF4)) {
        *cp = 0xDC00u + c;
        return 1;
    }
    uint32_t v = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = 0xDC00u + c;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = v;
    return len;
}

size_t cb_utf8_decode(const char *s, uint32_t *cps, size_t cap) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = 0;
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        if (n < cap) cps[n] = cp;
        n++;
    }
    return n;
}

size_t cb_utf8_count(const char *s) { return cb_utf8_decode(s, NULL, 0); }

/* Generic two-row Levenshtein over element arrays compared by value. */
#define LEV_BODY(T)                                                                 \
    if (na < nb) {                                                                  \
        const T *tp = a;                                                            \
        a = b;                                                                      \
        b = tp;                                                                     \
        size_t tn = na;                                                             \
        na = nb;                                                                    \
        nb = tn;                                                                    \
    }                                                                               \
    /* now nb <= na: rows of nb+1 */                                                \
    if (nb == 0) return (int64_t)na;                                                \
    int64_t stackrow[2 * 65];                                                       \
    int64_t *row = nb + 1 <= 65 ? stackrow : malloc(2 * (nb + 1) * sizeof *row);    \
    if (!row) return -1;                                                            \
    int64_t *prev = row, *cur = row + nb + 1;                                       \
    for (size_t j = 0; j <= nb; j++) prev[j] = (int64_t)j;                          \
    for (size_t i = 1; i <= na; i++) {                                              \
        cur[0] = (int64_t)i;                                                        \
        for (size_t j = 1; j <= nb; j++) {                                          \
            int64_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);                     \
            int64_t del = prev[j] + 1, ins = cur[j - 1] + 1;                        \
            int64_t m = sub < del ? sub : del;                                      \
            cur[j] = m < ins ? m : ins;                                             \
        }                                                                           \
        int64_t *t = prev;                                                          \
        prev = cur;                                                                 \
        cur = t;                                                                    \
    }                                                                               \
    int64_t d = prev[nb];                                                           \
    if (row != stackrow) free(row);                                                 \
    return d;

static int64_t lev_u32(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) { LEV_BODY(uint32_t) }

int64_t cb_edit_distance_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) { LEV_BODY(int32_t) }

int64_t cb_edit_distance_utf8(const char *a, const char *b) {
    uint32_t sa[128], sb[128];
    size_t na = cb_utf8_count(a), nb = cb_utf8_count(b);
    uint32_t *ca = na <= 128 ? sa : malloc(na * sizeof *ca);
    uint32_t *cb = nb <= 128 ? sb : malloc(nb * sizeof *cb);
    int64_t d = -1;
    if (ca && cb) {
        cb_utf8_decode(a, ca, na);
        cb_utf8_decode(b, cb, nb);
        d = lev_u32(ca, na, cb, nb);
    }
    if (ca != sa) free(ca);
    if (cb != sb) free(cb);
    return d;
}
