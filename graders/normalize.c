/* graders/normalize.c — normalize_answer_text with a byte map back to the raw
 * response (see normalize.h). Three passes: decode + per-segment NFKC into a
 * code point list that remembers each segment's raw range; the context rules
 * (Nd digits, minus signs, keycaps, markdown, apostrophes); UTF-8 encoding. */
#include "graders/normalize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct ncp {
    int32_t cp;
    int64_t rs, re; /* raw segment that produced it */
} ncp;

typedef struct cplist {
    ncp *v;
    size_t n, cap;
} cplist;

static int push(cplist *l, int32_t cp, int64_t rs, int64_t re) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        ncp *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (ncp){cp, rs, re};
    return 0;
}

/* A combining code point joins the segment of the starter before it. */
static int is_combining(int32_t cp) {
    const utf8proc_property_t *p = utf8proc_get_property(cp);
    return p->combining_class != 0 || p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC ||
           p->category == UTF8PROC_CATEGORY_ME;
}

/* Decodes one code point at raw[p..n); returns its length, or -1 for an
 * invalid sequence. */
static long decode(const char *raw, size_t p, size_t n, int32_t *cp) {
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)raw + p, (utf8proc_ssize_t)(n - p), cp);
    return l > 0 ? (long)l : -1;
}

/* ASCII digit value of an Nd code point (see normalize.h step 2), or -1. */
static int nd_value(int32_t cp) {
    if (cp >= '0' && cp <= '9') return cp - '0';
    if (utf8proc_category(cp) != UTF8PROC_CATEGORY_ND) return -1;
    int32_t s = cp;
    while (s > 0 && cp - s < 100 && utf8proc_category(s - 1) == UTF8PROC_CATEGORY_ND) s--;
    return (int)((cp - s) % 10);
}

/* Pass 1: NFKC per segment into l. */
static int decompose_all(const char *raw, size_t n, cplist *l) {
    int32_t small[64], *buf = small;
    utf8proc_ssize_t cap = 64;
    int rc = -1;
    size_t p = 0;
    while (p < n) {
        int32_t cp;
        long cl = decode(raw, p, n, &cp);
        if (cl < 0) { /* invalid byte: its own segment */
            if (push(l, 0xFFFD, (int64_t)p, (int64_t)p + 1)) goto out;
            p++;
            continue;
        }
        size_t e = p + (size_t)cl;
        for (;;) {
            int32_t nx;
            long nl = e < n ? decode(raw, e, n, &nx) : -1;
            if (nl < 0 || !is_combining(nx)) break;
            e += (size_t)nl;
        }
        if (e == p + 1 && cp < 0x80) { /* plain ASCII: NFKC is the identity */
            if (push(l, cp, (int64_t)p, (int64_t)e)) goto out;
            p = e;
            continue;
        }
        const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        utf8proc_ssize_t k;
        for (;;) {
            k = utf8proc_decompose((const utf8proc_uint8_t *)raw + p, (utf8proc_ssize_t)(e - p), buf, cap, opt);
            if (k <= cap) break;
            int32_t *nb = malloc((size_t)k * sizeof *nb);
            if (!nb) goto out;
            if (buf != small) free(buf);
            buf = nb;
            cap = k;
        }
        if (k < 0) { /* cannot happen for valid input; keep the segment as U+FFFD */
            if (push(l, 0xFFFD, (int64_t)p, (int64_t)e)) goto out;
        } else {
            k = utf8proc_normalize_utf32(buf, k, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            for (utf8proc_ssize_t i = 0; i < k; i++)
                if (push(l, buf[i], (int64_t)p, (int64_t)e)) goto out;
        }
        p = e;
    }
    rc = 0;
out:
    if (buf != small) free(buf);
    return rc;
}

static int is_ascii_digit(int32_t c) { return c >= '0' && c <= '9'; }

/* Pass 2: the context rules, in place (l->n shrinks). */
static void apply_rules(cplist *l) {
    for (size_t i = 0; i < l->n; i++) {
        int v = nd_value(l->v[i].cp);
        if (v >= 0) l->v[i].cp = '0' + v;
    }
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        int32_t c = l->v[i].cp;
        int32_t next = i + 1 < l->n ? l->v[i + 1].cp : 0;
        int32_t prev = w > 0 ? l->v[w - 1].cp : 0;
        if ((c == 0x2212 || c == 0x2013) && is_ascii_digit(next)) c = '-';
        else if (c == 0x20E3) continue;                                  /* keycap enclosure */
        else if (c == 0xFE0F && (is_ascii_digit(prev) || next == 0x20E3)) continue; /* emoji presentation */
        else if (c == '*' || c == '`') continue;
        /* "__" and longer runs of '_' go as a whole (index i - 1 still holds
         * the original code point: compaction writes only at w <= i - 1) */
        else if (c == '_' && (next == '_' || (i > 0 && l->v[i - 1].cp == '_'))) continue;
        else if (c == 0x2018 || c == 0x2019 || c == 0x02BC) c = '\'';
        l->v[w] = l->v[i];
        l->v[w].cp = c;
        w++;
    }
    l->n = w;
}

int cb_normalize_answer_text(const char *raw, size_t n, cb_normtext *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    cplist l = {0};
    int rc = 0;
    if (!raw) n = 0;
    if (decompose_all(raw, n, &l)) goto oom;
    apply_rules(&l);
    size_t bytes = 0;
    for (size_t i = 0; i < l.n; i++) {
        utf8proc_uint8_t tmp[4];
        bytes += (size_t)utf8proc_encode_char(l.v[i].cp, tmp);
    }
    out->text = malloc(bytes + 1);
    out->raw_start = malloc((bytes + 1) * sizeof *out->raw_start);
    out->raw_end = malloc((bytes + 1) * sizeof *out->raw_end);
    if (!out->text || !out->raw_start || !out->raw_end) goto oom;
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++) {
        utf8proc_ssize_t cl = utf8proc_encode_char(l.v[i].cp, (utf8proc_uint8_t *)out->text + k);
        for (utf8proc_ssize_t j = 0; j < cl; j++) {
            out->raw_start[k + (size_t)j] = l.v[i].rs;
            out->raw_end[k + (size_t)j] = l.v[i].re;
        }
        k += (size_t)cl;
    }
    out->text[k] = '\0';
    out->len = k;
    out->raw_start[k] = out->raw_end[k] = (int64_t)n;
    goto done;
oom:
    cb_normtext_free(out);
    rc = cb_err_set(err, CB_ENOMEM, "normalize_answer_text: out of memory (%zu bytes of text)", n);
done:
    free(l.v);
    return rc;
}

void cb_normtext_free(cb_normtext *t) {
    free(t->text);
    free(t->raw_start);
    free(t->raw_end);
    memset(t, 0, sizeof *t);
}

void cb_normtext_raw_range(const cb_normtext *t, size_t a, size_t b, int64_t *rs, int64_t *re) {
    if (a > t->len) a = t->len;
    if (b > t->len) b = t->len;
    if (b <= a) {
        *rs = *re = t->raw_start[a];
        return;
    }
    *rs = t->raw_start[a];
    *re = t->raw_end[b - 1];
}
