/* graders/extract.c — answer extraction (see extract.h). Marker search, the
 * integer scan and normalization are hand-written byte scanners; yes/no and
 * number words use the patterns compiled once in the cb_grader_ctx. */
#include "graders/extract.h"

#include "graders/answer.h"
#include "graders/grader_priv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_wordc(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

/* Case-insensitive match of an ASCII lowercase marker at p. */
static int marker_at(const char *p, const char *m) {
    for (; *m; p++, m++)
        if (lower((unsigned char)*p) != (unsigned char)*m) return 0;
    return 1;
}

const char *cb_final_segment(const char *text, int *no_marker) {
    if (!text) text = "";
    const char *last = NULL;
    for (const char *p = text; *p; p++) {
        unsigned char c = lower((unsigned char)*p);
        if (c == 'a' && marker_at(p, "answer:")) last = p + 7;
        else if (c == 'r' && marker_at(p, "respuesta:")) last = p + 10;
    }
    if (no_marker) *no_marker = last == NULL;
    return last ? last : text;
}

/* Parses digits (commas skipped) of [s,e) with an optional leading '-'. */
static int64_t parse_digits(const char *s, const char *e, int *overflow) {
    int neg = 0;
    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    uint64_t v = 0;
    *overflow = 0;
    for (; s < e; s++) {
        if (*s == ',') continue;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_C(9223372036854775807) - d) / 10) {
            *overflow = 1;
            v = UINT64_C(9223372036854775807);
            break;
        }
        v = v * 10 + d;
    }
    return neg ? -(int64_t)v : (int64_t)v;
}

/* The last maximal match of -?[0-9][0-9,]*, scanning like a regex finditer. */
static int last_digit_match(const char *text, size_t *ms, size_t *me) {
    const char *p = text, *bs = NULL, *be = NULL;
    while (*p) {
        const char *s = p;
        if (*p == '-' && is_digit((unsigned char)p[1])) p++;
        if (is_digit((unsigned char)*p)) {
            p++;
            while (is_digit((unsigned char)*p) || *p == ',') p++;
            bs = s;
            be = p;
        } else {
            p = s + 1;
        }
    }
    if (!bs) return 0;
    *ms = (size_t)(bs - text);
    *me = (size_t)(be - text);
    return 1;
}

int cb_last_digits(const char *text, int64_t *value) {
    size_t s, e;
    if (!text || !last_digit_match(text, &s, &e)) return 0;
    int of;
    *value = parse_digits(text + s, text + e, &of);
    return 1;
}

static const char *const words_en[] = {"zero", "one", "two", "three", "four", "five", "six",
                                       "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
                                       "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                                       "nineteen", "twenty"};
static const char *const words_es[] = {"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis",
                                       "siete", "ocho", "nueve", "diez", "once", "doce", "trece",
                                       "catorce", "quince", "dieciséis", "diecisiete", "dieciocho",
                                       "diecinueve", "veinte"};

const char *cb_number_word(int64_t v, cb_lang lang) {
    if (v < 0 || v > 20) return NULL;
    return lang == CB_LANG_ES ? words_es[v] : words_en[v];
}

static const char *const tens_en[] = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
static const char *const tens_es[] = {"treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"};
static const char *const veinti[] = {"veintiuno", "veintidos", "veintitres", "veinticuatro", "veinticinco",
                                     "veintiseis", "veintisiete", "veintiocho", "veintinueve"};

/* Value of one number word in lowercase ASCII (accents folded), or -1. */
static int64_t simple_word_value(const char *buf, cb_lang lang) {
    if (lang == CB_LANG_EN) {
        if (strcmp(buf, "once") == 0) return 1;
        if (strcmp(buf, "twice") == 0) return 2;
        if (strcmp(buf, "thrice") == 0) return 3;
        if (strcmp(buf, "none") == 0) return 0;
        for (int i = 0; i < 8; i++)
            if (strcmp(buf, tens_en[i]) == 0) return 20 + 10 * i;
    } else {
        if (strcmp(buf, "dieciseis") == 0) return 16;
        if (strcmp(buf, "ninguna") == 0 || strcmp(buf, "ninguno") == 0) return 0;
        for (int i = 0; i < 9; i++)
            if (strcmp(buf, veinti[i]) == 0) return 21 + i;
        for (int i = 0; i < 7; i++)
            if (strcmp(buf, tens_es[i]) == 0) return 30 + 10 * i;
    }
    const char *const *tab = lang == CB_LANG_ES ? words_es : words_en;
    for (int i = 0; i <= 20; i++)
        if (strcmp(buf, tab[i]) == 0) return i;
    return -1;
}

/* Value of a matched number word or compound ("twenty-one", "twenty one",
 * "treinta y uno"); ASCII-lowercased, the accented é/ó/í/ú of Spanish words
 * folded to ASCII before the lookup. */
static int64_t word_value(const char *w, size_t n, cb_lang lang) {
    char buf[40];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof buf; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == 0xC3 && i + 1 < n) { /* é í ó ú É Í Ó Ú */
            unsigned char d = (unsigned char)w[++i] | 0x20;
            c = d == 0xA9 ? 'e' : d == 0xAD ? 'i' : d == 0xB3 ? 'o' : d == 0xBA ? 'u' : '?';
        }
        buf[k++] = (char)lower(c);
    }
    buf[k] = '\0';
    char *sep = strpbrk(buf, "- ");
    if (!sep) return simple_word_value(buf, lang);
    *sep = '\0';
    char *unit = sep + 1;
    if (strncmp(unit, "y ", 2) == 0) unit += 2;
    while (*unit == ' ') unit++;
    int64_t t = simple_word_value(buf, lang), u = simple_word_value(unit, lang);
    return (t >= 20 && t % 10 == 0 && u >= 1 && u <= 9) ? t + u : -1;
}

int cb_last_integer(cb_grader_ctx *g, const char *text, cb_lang lang, cb_int_match *m) {
    memset(m, 0, sizeof *m);
    if (!text) return 0;
    size_t s, e;
    if (last_digit_match(text, &s, &e)) {
        m->found = 1;
        m->value = parse_digits(text + s, text + e, &m->overflow);
        m->start = s;
        m->end = e;
        return 1;
    }
    pcre2_code *re = g->re[lang == CB_LANG_ES ? CB_RE_NUMWORD_ES : CB_RE_NUMWORD_EN];
    size_t len = strlen(text), off = 0;
    while (off <= len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, off, 0, g->md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g->md);
        int64_t v = word_value(text + ov[0], ov[1] - ov[0], lang);
        if (v >= 0) {
            m->found = 1;
            m->from_word = 1;
            m->value = v;
            m->start = ov[0];
            m->end = ov[1];
        }
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    return m->found;
}

int cb_has_number_word(cb_grader_ctx *g, const char *text, int64_t v, cb_lang lang) {
    (void)g;
    const char *w = cb_number_word(v, lang);
    if (!w || !text) return 0;
    if (cb_has_word(text, w)) return 1;
    if (lang == CB_LANG_ES && v == 16) return cb_has_word(text, "dieciseis");
    return 0;
}

int cb_yes_no(cb_grader_ctx *g, const char *text, cb_lang lang) {
    (void)g;
    (void)lang; /* English and Spanish polar words are both recognized */
    return cb_answer_yes_no(text);
}

int cb_has_word(const char *text, const char *word) {
    size_t wn = strlen(word);
    if (!text || wn == 0) return 0;
    for (const char *p = text; *p; p++) {
        if (p > text && is_wordc((unsigned char)p[-1])) continue;
        size_t i = 0;
        while (i < wn && p[i] && lower((unsigned char)p[i]) == lower((unsigned char)word[i])) i++;
        if (i == wn && !is_wordc((unsigned char)p[wn])) return 1;
    }
    return 0;
}

/* ---- normalize_span ---- */

/* Bytes of a Unicode punctuation sequence at p that normalization drops, or 0. */
static size_t unicode_punct(const unsigned char *p) {
    if (p[0] == 0xC2 && (p[1] == 0xA1 || p[1] == 0xBF || p[1] == 0xAB || p[1] == 0xBB || p[1] == 0xB7))
        return 2; /* ¡ ¿ « » · */
    if (p[0] == 0xE2 && p[1] == 0x80 &&
        ((p[2] >= 0x90 && p[2] <= 0x9F) || p[2] == 0xA6)) /* dashes, quotes ‘’‚‛“”„‟, … */
        return 3;
    return 0;
}

size_t cb_normalize_span(const char *s, cb_lang lang, char *out, size_t cap) {
    if (cap == 0) return 0;
    size_t n = 0;
    int pending_space = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        unsigned char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            pending_space = n > 0;
            p++;
            continue;
        }
        if (c < 0x80 && !is_wordc(c)) { /* ASCII punctuation and controls */
            p++;
            continue;
        }
        size_t up = unicode_punct(p);
        if (up) {
            p += up;
            continue;
        }
        /* one character: ASCII or one UTF-8 sequence */
        size_t len = 1;
        if (c >= 0xC0) {
            while (len < 4 && (p[len] & 0xC0) == 0x80) len++;
        }
        if (n + pending_space + len + 1 > cap) break;
        if (pending_space) out[n++] = ' ';
        pending_space = 0;
        if (len == 1) {
            out[n++] = (char)lower(c);
        } else if (len == 2 && c == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) {
            out[n++] = (char)0xC3; /* Latin-1 capital -> small: +0x20 */
            out[n++] = (char)(p[1] + 0x20);
        } else {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    out[n] = '\0';
    /* one leading article */
    static const char *const art_en[] = {"a", "an", "the", NULL};
    static const char *const art_es[] = {"el", "la", "los", "las", "un", "una", NULL};
    const char *const *arts = lang == CB_LANG_ES ? art_es : art_en;
    for (int i = 0; arts[i]; i++) {
        size_t al = strlen(arts[i]);
        if (n > al && strncmp(out, arts[i], al) == 0 && out[al] == ' ') {
            memmove(out, out + al + 1, n - al); /* includes the NUL */
            n -= al + 1;
            break;
        }
        if (n == al && strcmp(out, arts[i]) == 0) {
            out[0] = '\0';
            n = 0;
            break;
        }
    }
    return n;
}

/* ---- token_f1 ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Splits normalized text in place on spaces; returns count (toks sized >= n/2+1). */
static size_t split_tokens(char *s, char **toks) {
    size_t n = 0;
    char *p = s;
    while (*p) {
        toks[n++] = p;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = '\0';
        p = sp + 1;
    }
    return n;
}

double cb_token_f1(const char *pred, const char *gold, cb_lang lang) {
    size_t lp = strlen(pred ? pred : "") + 1, lg = strlen(gold ? gold : "") + 1;
    char *bp = malloc(lp), *bg = malloc(lg);
    char **tp = malloc((lp / 2 + 1) * sizeof *tp), **tg = malloc((lg / 2 + 1) * sizeof *tg);
    double f1 = -1;
    if (!bp || !bg || !tp || !tg) goto out;
    cb_normalize_span(pred, lang, bp, lp);
    cb_normalize_span(gold, lang, bg, lg);
    size_t np = split_tokens(bp, tp), ng = split_tokens(bg, tg);
    if (np == 0 || ng == 0) {
        f1 = (np == 0 && ng == 0) ? 1.0 : 0.0;
        goto out;
    }
    qsort(tp, np, sizeof *tp, cmp_str);
    qsort(tg, ng, sizeof *tg, cmp_str);
    size_t i = 0, j = 0, common = 0;
    while (i < np && j < ng) {
        int c = strcmp(tp[i], tg[j]);
        if (c == 0) {
            common++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    if (common == 0) {
        f1 = 0.0;
    } else {
        double prec = (double)common / (double)np, rec = (double)common / (double)ng;
        f1 = 2 * prec * rec / (prec + rec);
    }
out:
    free(bp);
    free(bg);
    free(tp);
    free(tg);
    return f1;
}
