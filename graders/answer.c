/* graders/answer.c — answer_span, extract_count and yes_no (see answer.h).
 *
 * The normalized text is split into tokens (words lowercased, numbers with
 * their value, punctuation, line breaks); every rule below is a small
 * pattern over tokens, so a rule reads like the sentence of TASKS.md 0.4 it
 * implements. Token and sentence indices are ints: a response is at most a
 * few hundred KiB (the tokenizer refuses more than INT_MAX/2 tokens). */
#include "graders/answer.h"

#include "graders/normalize.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { T_WORD, T_NUM, T_PUNCT, T_NL };
enum { N_INT, N_DEC, N_GLUED, N_ENUM }; /* T_NUM kinds: only N_INT is a count */

typedef struct tok {
    unsigned char type, sub;
    unsigned char sp_before; /* whitespace, a line break or the start precedes it */
    unsigned char nobreak;   /* T_PUNCT: the '.' of a line enumerator */
    unsigned char overflow;
    unsigned char speech;    /* inside quoted speech of a line with a speech verb (story dialogue) */
    size_t s, e;             /* normalized byte range */
    size_t w;                /* T_WORD: offset of the lowercased text in doc.words */
    int32_t cp;              /* T_PUNCT: the code point */
    int64_t num;             /* T_NUM */
} tok;

typedef struct doc {
    const char *t;
    size_t len;
    tok *tk;
    int nt, cap;
    char *words;
    size_t wn, wcap;
    int spanish;             /* the response reads as Spanish ("once" = 11) */
    int weak_ok;             /* yes/no: weak yes words (sure, certainly, of course) count */
    int first;               /* first word/number token of the region read */
    const cb_answer_req *req;
} doc;

typedef struct val {
    int64_t v;
    int i0, i1;              /* token range */
    int word, overflow;
    int times;               /* once/twice/thrice: a count of occurrences by itself */
} val;

enum { R_NONE, R_FOUND, R_HEDGED };

typedef struct res {
    int state;
    val v;                   /* R_FOUND/R_HEDGED: the value (yes/no: v.v 1/0) */
} res;

/* ---- tokens ---- */

static int push_tok(doc *d, const tok *t) {
    if (d->nt == d->cap) {
        if (d->cap > INT_MAX / 4) return -1;
        int nc = d->cap ? d->cap * 2 : 256;
        tok *n = realloc(d->tk, (size_t)nc * sizeof *n);
        if (!n) return -1;
        d->tk = n;
        d->cap = nc;
    }
    d->tk[d->nt++] = *t;
    return 0;
}

static int word_bytes(doc *d, const char *s, size_t n) {
    if (d->wn + n + 1 > d->wcap) {
        size_t nc = d->wcap ? d->wcap * 2 : 1024;
        while (nc < d->wn + n + 1) nc *= 2;
        char *nw = realloc(d->words, nc);
        if (!nw) return -1;
        d->words = nw;
        d->wcap = nc;
    }
    memcpy(d->words + d->wn, s, n);
    d->wn += n;
    return 0;
}

static int32_t cp_at(const doc *d, size_t p, size_t *len) {
    int32_t cp;
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)d->t + p, (utf8proc_ssize_t)(d->len - p), &cp);
    if (l <= 0) {
        *len = 1;
        return 0xFFFD;
    }
    *len = (size_t)l;
    return cp;
}

static int is_nl(int32_t c) { return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029; }

static int is_space(int32_t c) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') return 1;
    if (c < 0x80) return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_CF;
}

static int is_letter(int32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME;
}

static int is_digit(int32_t c) { return c >= '0' && c <= '9'; }
static int byte_digit(const doc *d, size_t p) { return p < d->len && is_digit((unsigned char)d->t[p]); }

/* Story dialogue: on a line with a speech verb outside quotes ("said",
 * "asked"...), the words inside quotes are a character's speech, not the
 * response's answer ('"Yes, I can help you," said Doggy.'). */
static void mark_speech(doc *d) {
    static const char *const verbs[] = {"said", "says", "asked", "asks", "replied", "shouted", "cried", "exclaimed",
                                        "whispered", "yelled", "dijo", "preguntó", NULL};
    for (int a = 0; a < d->nt;) {
        int b = a;
        while (b < d->nt && d->tk[b].type != T_NL) b++;
        int in = 0, verb = 0;
        for (int i = a; i < b; i++) {
            const tok *t = &d->tk[i];
            if (t->type == T_PUNCT && (t->cp == '"' || t->cp == 0x201C || t->cp == 0x201D)) {
                in = t->cp == 0x201C ? 1 : t->cp == 0x201D ? 0 : !in;
                continue;
            }
            if (!in && t->type == T_WORD) {
                for (int k = 0; verbs[k]; k++)
                    if (strcmp(d->words + t->w, verbs[k]) == 0) verb = 1;
            }
        }
        if (verb) {
            in = 0;
            for (int i = a; i < b; i++) {
                tok *t = &d->tk[i];
                if (t->type == T_PUNCT && (t->cp == '"' || t->cp == 0x201C || t->cp == 0x201D)) {
                    in = t->cp == 0x201C ? 1 : t->cp == 0x201D ? 0 : !in;
                    continue;
                }
                t->speech = (unsigned char)in;
            }
        }
        a = b + 1;
    }
}

static int tokenize(doc *d) {
    size_t p = 0;
    int sp = 1;
    while (p < d->len) {
        size_t l;
        int32_t c = cp_at(d, p, &l);
        tok t;
        memset(&t, 0, sizeof t);
        t.s = p;
        t.sp_before = (unsigned char)sp;
        if (is_nl(c)) {
            t.type = T_NL;
            t.e = p + l;
            p += l;
            sp = 1;
            if (push_tok(d, &t)) return -1;
            continue;
        }
        if (is_space(c)) {
            p += l;
            sp = 1;
            continue;
        }
        int prev_alnum = d->nt > 0 && !sp && (d->tk[d->nt - 1].type == T_WORD || d->tk[d->nt - 1].type == T_NUM);
        if (is_digit(c) || (c == '-' && byte_digit(d, p + 1) && !prev_alnum)) {
            int neg = c == '-';
            size_t q = p + (neg ? 1 : 0);
            uint64_t v = 0;
            for (;;) {
                while (byte_digit(d, q)) {
                    unsigned dg = (unsigned)(d->t[q] - '0');
                    if (v > (UINT64_C(9223372036854775807) - dg) / 10) t.overflow = 1;
                    else v = v * 10 + dg;
                    q++;
                }
                /* thousands group: ",ddd" not followed by another digit */
                if (q + 4 <= d->len && d->t[q] == ',' && byte_digit(d, q + 1) && byte_digit(d, q + 2) &&
                    byte_digit(d, q + 3) && !byte_digit(d, q + 4)) {
                    q++;
                    continue;
                }
                break;
            }
            t.sub = N_INT;
            if (q < d->len && d->t[q] == '.' && byte_digit(d, q + 1)) { /* decimal: "3.0" is 3, "3.5" no count */
                size_t f = q + 1;
                int zero = 1;
                while (byte_digit(d, f)) zero &= d->t[f++] == '0';
                if (!zero) t.sub = N_DEC;
                q = f;
            }
            if (t.overflow) v = UINT64_C(9223372036854775807);
            t.type = T_NUM;
            t.num = neg ? -(int64_t)v : (int64_t)v;
            t.e = q;
            if (prev_alnum) t.sub = N_GLUED; /* "r2", "x3" */
            if (q < d->len) {
                size_t nl;
                if (is_letter(cp_at(d, q, &nl))) t.sub = N_GLUED; /* "3rd", "2nd" */
            }
            p = q;
            sp = 0;
            if (push_tok(d, &t)) return -1;
            continue;
        }
        if (is_letter(c)) {
            t.type = T_WORD;
            t.w = d->wn;
            size_t q = p;
            for (;;) {
                if (q >= d->len) break;
                size_t cl;
                int32_t cc = cp_at(d, q, &cl);
                if (cc == '\'' && q > p) {
                    size_t nl;
                    if (q + 1 < d->len && is_letter(cp_at(d, q + 1, &nl))) {
                        if (word_bytes(d, "'", 1)) return -1;
                        q += 1;
                        continue;
                    }
                    break;
                }
                if (!is_letter(cc)) break;
                utf8proc_uint8_t buf[4];
                utf8proc_ssize_t bl = utf8proc_encode_char(utf8proc_tolower(cc), buf);
                if (word_bytes(d, (const char *)buf, (size_t)bl)) return -1;
                q += cl;
            }
            if (word_bytes(d, "", 1)) return -1;
            if (prev_alnum && d->tk[d->nt - 1].type == T_NUM) d->tk[d->nt - 1].sub = N_GLUED;
            t.e = q;
            p = q;
            sp = 0;
            if (push_tok(d, &t)) return -1;
            continue;
        }
        t.type = T_PUNCT;
        t.cp = c;
        t.e = p + l;
        p += l;
        sp = 0;
        if (push_tok(d, &t)) return -1;
    }
    /* line enumerators: "3." / "3)" first on a line with more text after it on
     * the line, when at least two lines start so (a list) */
    for (int pass = 0, n = 0; pass < 2; pass++) {
        for (int i = 0; i + 2 < d->nt; i++) {
            tok *a = &d->tk[i], *b = &d->tk[i + 1], *c = &d->tk[i + 2];
            if (a->type != T_NUM || (i > 0 && d->tk[i - 1].type != T_NL)) continue;
            if (!(b->type == T_PUNCT && (b->cp == '.' || b->cp == ')') && !b->sp_before && c->type != T_NL &&
                  c->sp_before))
                continue;
            if (pass == 0) {
                n++;
            } else if (n >= 2) {
                a->sub = N_ENUM;
                b->nobreak = 1;
            }
        }
    }
    mark_speech(d);
    return 0;
}

/* ---- token predicates ---- */

static const char *wtext(const doc *d, int i) {
    return (i >= 0 && i < d->nt && d->tk[i].type == T_WORD) ? d->words + d->tk[i].w : NULL;
}
static int isw(const doc *d, int i, const char *w) {
    const char *s = wtext(d, i);
    return s && strcmp(s, w) == 0;
}
static int inset(const doc *d, int i, const char *const *set) {
    const char *s = wtext(d, i);
    if (!s) return 0;
    for (; *set; set++)
        if (strcmp(s, *set) == 0) return 1;
    return 0;
}
static int isp(const doc *d, int i, int32_t cp) {
    return i >= 0 && i < d->nt && d->tk[i].type == T_PUNCT && d->tk[i].cp == cp;
}
static int is_quote(const doc *d, int i) {
    if (i < 0 || i >= d->nt || d->tk[i].type != T_PUNCT) return 0;
    int32_t c = d->tk[i].cp;
    return c == '"' || c == '\'' || c == 0x201C || c == 0x201D || c == 0x00AB || c == 0x00BB || c == 0x201E;
}
/* Sentence-ending punctuation at i (TASKS.md 0.4: '.', '!', '?'); a '.' ends
 * a sentence only before a space, a line break, a closing mark or the end. */
static int is_break(const doc *d, int i) {
    if (i < 0 || i >= d->nt || d->tk[i].type != T_PUNCT || d->tk[i].nobreak) return 0;
    int32_t c = d->tk[i].cp;
    if (c == '!' || c == '?' || c == 0x3002) return 1;
    if (c != '.') return 0;
    if (i + 1 >= d->nt) return 1;
    const tok *n = &d->tk[i + 1];
    return n->sp_before || n->type == T_NL || (n->type == T_PUNCT && (n->cp == ')' || n->cp == '.' || is_quote(d, i + 1)));
}
static int ends_nt(const char *s) {
    size_t n = strlen(s);
    return n > 3 && strcmp(s + n - 3, "n't") == 0;
}

/* ---- number words ---- */

static const char *const en_units[] = {"zero",    "one",     "two",       "three",    "four",
                                       "five",    "six",     "seven",     "eight",    "nine",
                                       "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                       "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", NULL};
static const char *const en_tens[] = {"twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", NULL};
static const char *const es_units[] = {"cero",       "uno",        "dos",        "tres",       "cuatro",
                                       "cinco",      "seis",       "siete",      "ocho",       "nueve",
                                       "diez",       "once",       "doce",       "trece",      "catorce",
                                       "quince",     "dieciséis",  "diecisiete", "dieciocho",  "diecinueve",
                                       "veinte",     "veintiuno",  "veintidós",  "veintitrés", "veinticuatro",
                                       "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve", NULL};
static const char *const es_unaccented[] = {"dieciseis", "veintidos", "veintitres", "veintiseis", NULL};
static const int es_unaccented_v[] = {16, 22, 23, 26};
static const char *const es_tens[] = {"treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa", NULL};

static int index_of(const char *s, const char *const *set) {
    if (!s) return -1;
    for (int i = 0; set[i]; i++)
        if (strcmp(s, set[i]) == 0) return i;
    return -1;
}

/* English or Spanish unit word 1..9 at i (for compounds), else -1. */
static int unit_1_9(const doc *d, int i, int spanish_form) {
    const char *s = wtext(d, i);
    int k = index_of(s, spanish_form ? es_units : en_units);
    if (spanish_form && s && strcmp(s, "una") == 0) return 1;
    return (k >= 1 && k <= 9) ? k : -1;
}

/* The value that starts at token i, within [i, end). Returns 1 and fills *v. */
static int value_at(const doc *d, int i, int end, val *v) {
    if (i < 0 || i >= end || d->tk[i].speech) return 0;
    memset(v, 0, sizeof *v);
    v->i0 = i;
    const tok *t = &d->tk[i];
    if (t->type == T_NUM) {
        if (t->sub != N_INT) return 0;
        v->v = t->num;
        v->overflow = t->overflow;
        v->i1 = i + 1;
        return 1;
    }
    const char *s = wtext(d, i);
    if (!s) return 0;
    v->word = 1;
    v->i1 = i + 1;
    int k;
    if (strcmp(s, "a") == 0 && isw(d, i + 1, "single") && i + 1 < end) {
        v->v = 1;
        v->i1 = i + 2;
        return 1;
    }
    if (strcmp(s, "none") == 0 || strcmp(s, "ninguna") == 0 || strcmp(s, "ninguno") == 0 || strcmp(s, "ningún") == 0) {
        v->v = 0;
        return 1;
    }
    if (strcmp(s, "once") == 0 && !d->spanish) {
        if (isw(d, i + 1, "upon") || isw(d, i + 1, "more") || isw(d, i + 1, "again") || isw(d, i - 1, "at")) return 0;
        v->v = 1;
        v->times = 1;
        return 1;
    }
    if (strcmp(s, "twice") == 0 || strcmp(s, "thrice") == 0) {
        v->v = s[1] == 'w' ? 2 : 3;
        v->times = 1;
        return 1;
    }
    if ((k = index_of(s, en_tens)) >= 0) {
        v->v = 20 + 10 * k;
        int u;
        if (isp(d, i + 1, '-') && !d->tk[i + 1].sp_before && i + 2 < end && !d->tk[i + 2].sp_before &&
            (u = unit_1_9(d, i + 2, 0)) > 0) {
            v->v += u;
            v->i1 = i + 3;
        } else if (i + 1 < end && (u = unit_1_9(d, i + 1, 0)) > 0) {
            v->v += u;
            v->i1 = i + 2;
        }
        return 1;
    }
    if ((k = index_of(s, en_units)) >= 0) {
        v->v = k;
        return 1;
    }
    if ((k = index_of(s, es_tens)) >= 0) {
        v->v = 30 + 10 * k;
        int u;
        if (isw(d, i + 1, "y") && i + 2 < end && (u = unit_1_9(d, i + 2, 1)) > 0) {
            v->v += u;
            v->i1 = i + 3;
        }
        return 1;
    }
    if ((k = index_of(s, es_units)) >= 0) {
        v->v = k;
        return 1;
    }
    if ((k = index_of(s, es_unaccented)) >= 0) {
        v->v = es_unaccented_v[k];
        return 1;
    }
    if (strcmp(s, "una") == 0) {
        v->v = 1;
        return 1;
    }
    return 0;
}

static int negation(const doc *d, int k) {
    const char *s = wtext(d, k);
    return s && (strcmp(s, "not") == 0 || strcmp(s, "never") == 0 || ends_nt(s));
}

/* A value directly after not / never / a n't word / "no es" is rejected; so is
 * one after a negated verb of having ("does not have 5", "isn't exactly 3"). */
static int rejected(const doc *d, const val *v) {
    static const char *const between[] = {"have", "has", "be", "contain", "equal", "make", "exactly", "only",
                                          "just", "really", NULL};
    int k = v->i0 - 1;
    if (negation(d, k)) return 1;
    if (inset(d, k, between) && negation(d, k - 1)) return 1;
    return (isw(d, k, "es") || isw(d, k, "son")) && isw(d, k - 1, "no");
}

/* The value that ends exactly at token e (e exclusive), searching back a few tokens. */
static int value_ending_at(const doc *d, int e, int lo, val *v) {
    for (int k = e - 1; k >= lo && k >= e - 3; k--)
        if (value_at(d, k, e, v) && v->i1 == e) return 1;
    return 0;
}

static const char *const maybe_words[] = {"maybe", "perhaps", "possibly", "probably", "quizás", "quizá", "tal", NULL};

/* Two different values offered as alternatives around v: "v or w", "w or v",
 * "v-w", "v/w", "v to w", "between v and w" (Spanish o/u/entre..y). */
static int hedged_count(const doc *d, const val *v, int lo, int hi) {
    val w;
    int j = v->i1;
    if (isp(d, j, ',') || isp(d, j, '(')) j++;
    int alt = 0;
    if ((isw(d, j, "or") || isw(d, j, "to") || isw(d, j, "o") || isw(d, j, "u")) && !isw(d, v->i0 - 1, "from")) {
        alt = 1;
        j++;
    }
    if (inset(d, j, maybe_words)) {
        alt = 1;
        j++;
    }
    if (alt && value_at(d, j, hi, &w) && w.v != v->v) return 1;
    j = v->i1;
    if ((isp(d, j, '-') || isp(d, j, '/')) && !d->tk[j].sp_before && j + 1 < hi && !d->tk[j + 1].sp_before &&
        value_at(d, j + 1, hi, &w) && w.v != v->v)
        return 1;
    if ((isw(d, v->i0 - 1, "between") || isw(d, v->i0 - 1, "entre")) &&
        (isw(d, v->i1, "and") || isw(d, v->i1, "y")) && value_at(d, v->i1 + 1, hi, &w) && w.v != v->v)
        return 1;
    /* v is the second alternative */
    int k = v->i0 - 1;
    if (inset(d, k, maybe_words)) k--;
    if (isw(d, k, "or") || isw(d, k, "to") || isw(d, k, "o") || isw(d, k, "u")) {
        int e = k;
        if (isp(d, e - 1, ',') || isp(d, e - 1, '(')) e--;
        if (value_ending_at(d, e, lo, &w) && w.v != v->v && !isw(d, w.i0 - 1, "from")) return 1;
    }
    k = v->i0 - 1;
    if ((isp(d, k, '-') || isp(d, k, '/')) && !d->tk[k].sp_before && !d->tk[v->i0].sp_before &&
        value_ending_at(d, k, lo, &w) && w.v != v->v)
        return 1;
    if ((isw(d, k, "and") || isw(d, k, "y")) && value_ending_at(d, k, lo, &w) &&
        (isw(d, w.i0 - 1, "between") || isw(d, w.i0 - 1, "entre")) && w.v != v->v)
        return 1;
    return 0;
}

/* ---- the asked unit ---- */

/* The asked letter as a word: "r", "r's", "rs" (not for vowels: "as", "is", "us"). */
static int xform(const doc *d, int i) {
    const char *s = wtext(d, i);
    if (!s || d->req->unit != CB_UNIT_LETTER) return 0;
    char x = d->req->letter;
    if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
    if (s[0] != x) return 0;
    if (s[1] == '\0') return 1;
    if (strcmp(s + 1, "'s") == 0) return 1;
    return strcmp(s + 1, "s") == 0 && !strchr("aeiou", x);
}

static const char *const times_words[] = {"times", "time", "occurrences", "occurrence", "instances", "instance",
                                          "veces", "vez", NULL};
static const char *const len_words[] = {"letters", "letter", "characters", "character", "chars", "char", "letras",
                                        "letra", "caracteres", "caracter", "carácter", NULL};
static const char *const distinct_words[] = {"distinct", "unique",  "different", "distintas", "distintos",
                                             "diferentes", "únicas", "únicos",   "unicas",    "unicos", NULL};
static const char *const adverbs[] = {"exactly", "only", "just", "precisely", "also", "still", "about",
                                      "around", "roughly", "approximately", "exactamente", "solo", "sólo",
                                      "solamente", "aproximadamente", NULL};

/* Tokens of a unit mention starting at j (0 when none). */
static int unit_after(const doc *d, int j, int hi) {
    if (j >= hi) return 0;
    int k = j;
    switch (d->req->unit) {
    case CB_UNIT_LETTER:
        if (inset(d, k, times_words)) return 1;
        if (is_quote(d, k)) k++;
        if (isw(d, k, "letter") || isw(d, k, "letters") || isw(d, k, "letra") || isw(d, k, "letras")) {
            k++;
            if (is_quote(d, k)) k++;
        }
        if (k < hi && xform(d, k)) {
            k++;
            if (is_quote(d, k) && isw(d, k + 1, "s") && !d->tk[k + 1].sp_before) k += 2;
            else if (is_quote(d, k)) k++;
            return k - j;
        }
        return 0;
    case CB_UNIT_LENGTH:
        if (isp(d, k, '-') && !d->tk[k].sp_before) k++;
        return inset(d, k, len_words) ? k - j + 1 : 0;
    case CB_UNIT_DISTINCT: /* "3 distinct (letters)", Spanish "3 letras distintas" */
        if (inset(d, k, len_words) && inset(d, k + 1, distinct_words)) return 2;
        if (!inset(d, k, distinct_words)) return 0;
        return inset(d, k + 1, len_words) ? 2 : 1;
    default:
        return 0;
    }
}

/* Whether value v is attached to the asked unit. */
static int attached(const doc *d, const val *v, int lo, int hi) {
    if (d->req->unit == CB_UNIT_LETTER && v->times) return 1;
    if (unit_after(d, v->i1, hi)) return 1;
    int j = v->i1; /* "2 are n's", "3 of them are a's" */
    if (isw(d, j, "of") && (isw(d, j + 1, "them") || isw(d, j + 1, "these") || isw(d, j + 1, "those"))) j += 2;
    if ((isw(d, j, "are") || isw(d, j, "is") || isw(d, j, "were") || isw(d, j, "was") || isw(d, j, "son")) &&
        unit_after(d, j + 1, hi))
        return 1;
    int k = v->i0 - 1;
    while (k >= lo && inset(d, k, adverbs)) k--;
    if (d->req->unit == CB_UNIT_LETTER) { /* "x appears N" */
        static const char *const verbs[] = {"appears", "appear", "occurs", "occur", "appeared", "occurred",
                                            "aparece", NULL};
        if (k >= lo && inset(d, k, verbs)) {
            int q = k - 1;
            if (is_quote(d, q)) q--;
            return q >= lo && xform(d, q);
        }
    } else if (d->req->unit == CB_UNIT_LENGTH) { /* "length of N", "longitud de N" */
        if ((isw(d, k, "of") && isw(d, k - 1, "length")) || (isw(d, k, "de") && isw(d, k - 1, "longitud"))) return 1;
    }
    return 0;
}

/* ---- statements ---- */

static const char *const stmt_verbs[] = {"is",   "are",   "was",   "were",     "it's",    "that's", "what's",
                                         "here's", "equals", "equal", "gives",  "give",    "makes",  "make",
                                         "has",  "have",  "contains", "contain", "count", "counted", "see",
                                         "get",  "got",   "find",  "found",    "es",      "son",    "tiene",
                                         "tienen", "total", "but", "say", "guess", "think", "believe",
                                         "estimate", NULL};
static const char *const conj_words[] = {"and", "but", "so", "because", "since", "as", "which", "while",
                                         "y", "pero", "porque", "pues", NULL};

/* Skips the unit words and "in total"/"altogether" after a value; returns the next index. */
static int skip_unit_tail(const doc *d, int j, int hi) {
    int u = unit_after(d, j, hi);
    j += u;
    if (d->req->unit == CB_UNIT_LETTER && inset(d, j, times_words)) j++;
    if ((isw(d, j, "in") || isw(d, j, "en")) && isw(d, j + 1, "total")) j += 2;
    else if (isw(d, j, "altogether") || isw(d, j, "total")) j++;
    return j;
}

static int clause_end_after(const doc *d, const val *v, int hi) {
    int j = skip_unit_tail(d, v->i1, hi);
    if (j >= hi) return 1;
    const tok *t = &d->tk[j];
    if (t->type == T_NL) return 1;
    if (t->type == T_PUNCT)
        return t->cp == '.' || t->cp == ',' || t->cp == ';' || t->cp == ':' || t->cp == '!' || t->cp == '?' ||
               t->cp == ')' || t->cp == ']' || t->cp == '}' || t->cp == '|' || is_quote(d, j);
    return inset(d, j, conj_words);
}

/* v is one item of a list "3, 5" / "3 , 8 and 9". */
static int in_list(const doc *d, const val *v, int lo, int hi) {
    val w;
    if (isp(d, v->i1, ',') && value_at(d, v->i1 + 1, hi, &w)) return 1;
    return isp(d, v->i0 - 1, ',') && value_ending_at(d, v->i0 - 1, lo, &w);
}

static int statement(const doc *d, const val *v, int lo, int hi) {
    if (in_list(d, v, lo, hi)) return 0;
    int k = v->i0 - 1;
    while (k >= lo && inset(d, k, adverbs)) k--;
    if (k >= lo + 1 && isw(d, k, "of") && isw(d, k - 1, "total")) return 1;                 /* total of N */
    if (k >= lo && (isw(d, k, "there's") || isw(d, k, "there're") || isw(d, k, "hay"))) return 1;
    if (k >= lo + 1 && isw(d, k - 1, "there") &&
        (isw(d, k, "is") || isw(d, k, "are") || isw(d, k, "was") || isw(d, k, "were")))
        return 1;
    int j = skip_unit_tail(d, v->i1, hi);                                                   /* N in total */
    if (j > v->i1 && j <= hi && (isw(d, j - 1, "total") || isw(d, j - 1, "altogether"))) return 1;
    if (k >= lo && (inset(d, k, stmt_verbs) || isp(d, k, '=') || isp(d, k, ':') || isp(d, k, 0x2192) ||
                    isp(d, k, 0x21D2) || (isp(d, k, '>') && (isp(d, k - 1, '=') || isp(d, k - 1, '-')))))
        return clause_end_after(d, v, hi);
    return 0;
}

/* ---- committed values ---- */

static const char *const fillers[] = {"so", "thus", "therefore", "hence", "ok", "okay", "well", "total", "in",
                                      "altogether", "answer", "final", "result", "count", "entonces", "por",
                                      "lo", "tanto", NULL};

static const char *const alt_words[] = {"or", "to", "either", "between", "and", "o", "u", "y", "entre", NULL};

/* The span [a, b) is a bare answer: values, unit words, fillers and
 * punctuation only (a parenthetical is skipped). Returns 0 (no), 1 (one value,
 * maybe repeated: "6 or six") or 2 (different values joined as alternatives:
 * "2-3", "6/7", hedged); *out is the first value. */
static int bare(const doc *d, int a, int b, val *out) {
    int have = 0, differ = 0;
    /* a value that opens the span as its headline, then a separator and an
     * explanation: "3 — s-t-r-a-w...", "3, because ...", "6: b-a-n-a-n-a" */
    int i0 = a;
    while (i0 < b && (d->tk[i0].type == T_PUNCT || inset(d, i0, fillers))) i0++;
    val h, w;
    if (value_at(d, i0, b, &h) && !rejected(d, &h) && !h.times) { /* not "Once, there was..." */
        int j = h.i1 + unit_after(d, h.i1, b);
        if (j < b && (isp(d, j, 0x2014) || isp(d, j, 0x2013) || isp(d, j, ',') || isp(d, j, ':') ||
                      isp(d, j, ';') || isp(d, j, '(')) &&
            !value_at(d, j + 1, b, &w) && !inset(d, j + 1, alt_words) && !inset(d, j + 1, maybe_words)) {
            *out = h;
            return 1;
        }
    }
    for (int i = a; i < b;) {
        const tok *t = &d->tk[i];
        if (t->type == T_PUNCT && t->cp == '(' && have) { /* "9 (c-o-m-m-i-t-t-e-e)" */
            while (i < b && !isp(d, i, ')')) i++;
            i++;
            continue;
        }
        if (t->type == T_PUNCT || t->type == T_NL || inset(d, i, adverbs) || inset(d, i, fillers) ||
            inset(d, i, alt_words) || inset(d, i, maybe_words) || negation(d, i)) {
            i++;
            continue;
        }
        int u = unit_after(d, i, b);
        if (!u && d->req->unit == CB_UNIT_LETTER && inset(d, i, times_words)) u = 1;
        if (u) {
            i += u;
            continue;
        }
        val v;
        if (!value_at(d, i, b, &v)) return 0;
        if (rejected(d, &v)) { /* "not two, three": the rejected value is no answer */
            i = v.i1;
            continue;
        }
        if (have && v.v != out->v) differ = 1;
        if (!have) *out = v;
        have = 1;
        i = v.i1;
    }
    return have ? (differ ? 2 : 1) : 0;
}

/* The value the tokens [a, b) commit to (TASKS.md 0.4): attached, else
 * statement, else bare; with first_any (a marker span) the first value last. */
/* A value stated as the result of the span: "so 3 r's", "making three",
 * "gives 3.", "3 in total", "a total of 3", "total: 3". It outranks the other
 * values of its sentence ("2 in berry and 1 in straw, so 3 in total"). */
static int result_value(const doc *d, const val *v, int lo, int hi) {
    static const char *const result_words[] = {"making", "makes", "gives", "giving", "totaling", "totalling",
                                               "so", "thus", "therefore", "hence", NULL};
    int k = v->i0 - 1;
    while (k >= lo && inset(d, k, adverbs)) k--;
    if (k >= lo && inset(d, k, result_words)) return attached(d, v, lo, hi) || clause_end_after(d, v, hi);
    int j = skip_unit_tail(d, v->i1, hi);
    if (j > v->i1 && (isw(d, j - 1, "total") || isw(d, j - 1, "altogether"))) return 1;
    if (k >= lo + 1 && isw(d, k, "of") && isw(d, k - 1, "total")) return 1;
    if (k >= lo + 1 && (isp(d, k, ':') || isp(d, k, '=') || isw(d, k, "is")) && isw(d, k - 1, "total"))
        return clause_end_after(d, v, hi);
    return 0;
}

static res committed_count(const doc *d, int a, int b, int first_any) {
    res r = {R_NONE, {0}};
    val v;
    int found = 0;
    for (int i = a; i < b && !found; i++)
        if (value_at(d, i, b, &v) && !rejected(d, &v) && result_value(d, &v, a, b)) found = 1;
    for (int i = a; i < b && !found; i++) {
        if (isw(d, i, "no") && unit_after(d, i + 1, b)) { /* "no z's" */
            memset(&v, 0, sizeof v);
            v.i0 = i;
            v.i1 = i + 1;
            v.word = 1;
            found = 1;
            break;
        }
        if (value_at(d, i, b, &v) && !rejected(d, &v) && attached(d, &v, a, b)) found = 1;
    }
    for (int i = a; i < b && !found; i++)
        if (value_at(d, i, b, &v) && !rejected(d, &v) && statement(d, &v, a, b)) found = 1;
    int bk = found ? 0 : bare(d, a, b, &v);
    if (bk == 2) { /* different bare values: alternatives if any pair is offered so, else no commitment */
        for (int i = a; i < b; i++) {
            val w;
            if (value_at(d, i, b, &w) && hedged_count(d, &w, a, b)) {
                r.state = R_HEDGED;
                r.v = w;
                return r;
            }
        }
        bk = 0;
    }
    if (bk) found = 1;
    for (int i = a; i < b && !found && !first_any; i++) { /* nothing committed, but alternatives offered */
        val w;
        if (value_at(d, i, b, &w) && !rejected(d, &w) && hedged_count(d, &w, a, b)) {
            r.state = R_HEDGED;
            r.v = w;
            return r;
        }
    }
    for (int i = a; i < b && !found && first_any; i++)
        if (value_at(d, i, b, &v) && !rejected(d, &v)) found = 1;
    if (!found) return r;
    r.v = v;
    r.state = hedged_count(d, &v, a, b) ? R_HEDGED : R_FOUND;
    return r;
}

/* ---- yes / no ---- */

static const char *const neg_words[] = {"not", "never", "cannot", NULL};
static const char *const yes_words[] = {"yes", "yeah", "yep", "yup", "true", "correct", "indeed", "sí",
                                        "correcto", "verdadero", "cierto", "affirmative", NULL};
static const char *const yes_end_words[] = {"sure", "certainly", "absolutely", "definitely", "si", NULL};
static const char *const no_words[] = {"nope", "nah", "false", "incorrect", "negative", "falso", "incorrecto", NULL};
/* "no" before these is a determiner, not an answer */
static const char *const no_idioms[] = {"doubt", "problem", "matter", "wonder", "idea", "one", "longer", "need",
                                        "worries", "sé", NULL};
/* containment verbs that answer by themselves ("it appears", "aparece") */
static const char *const yes_verbs[] = {"appears", "occurs", "contains", "exists", "aparece", "contiene", NULL};
/* words between a subject/negation and the predicate */
static const char *const aux_words[] = {"is", "are", "does", "do", "can", "it's", "forms", "form", "forma", "es",
                                        "se", "really", "actually", "indeed", "definitely", "also", "clearly",
                                        "está", "even", NULL};

static int clause_end_at(const doc *d, int j, int hi) {
    if (j >= hi) return 1;
    const tok *t = &d->tk[j];
    if (t->type == T_NL) return 1;
    return t->type == T_PUNCT && t->cp != '-' && t->cp != '\'' && t->cp != '/';
}

/* A containment predicate at i ("appear", "part of", "a substring", "in the
 * word", "be found", "presente"...); returns its token count or 0. */
static int predicate_at(const doc *d, int i, int hi) {
    static const char *const one[] = {"appear",    "appears", "occur",     "occurs",    "contain", "contains",
                                      "exist",     "exists",  "contained", "present",   "found",   "included",
                                      "inside",    "parte",   "aparece",   "contiene",  "encuentra", "contenida",
                                      "contenido", "presente", "there",    NULL};
    if (i >= hi) return 0;
    if (inset(d, i, one)) return 1;
    if (isw(d, i, "part") && isw(d, i + 1, "of")) return 2;
    if (isw(d, i, "a") && isw(d, i + 1, "substring")) return 2;
    if (isw(d, i, "be") && isw(d, i + 1, "found")) return 2;
    if (isw(d, i, "in") && isw(d, i + 1, "the") && (isw(d, i + 2, "word") || isw(d, i + 2, "string"))) return 3;
    if (isw(d, i, "in") && (is_quote(d, i + 1) || isw(d, i + 1, "it"))) return 1;
    return 0;
}

/* A polar expression starting at i; returns its token count (0: none) and writes *yes. */
static int polar_at(const doc *d, int i, int hi, int *yes) {
    const char *s = wtext(d, i);
    if (!s || d->tk[i].speech) return 0;
    int neg = inset(d, i, neg_words) || ends_nt(s) ||
              (strcmp(s, "no") == 0 && (isw(d, i + 1, "aparece") || isw(d, i + 1, "contiene") ||
                                        isw(d, i + 1, "forma") || isw(d, i + 1, "es") || isw(d, i + 1, "está") ||
                                        isw(d, i + 1, "se")));
    if (neg) { /* "does not appear", "isn't part of", "not correct", "it is not.", "not really" */
        if (isw(d, i, "not") && (isw(d, i + 1, "sure") || isw(d, i + 1, "only") || isw(d, i + 1, "certain"))) return 0;
        *yes = 0;
        if (isw(d, i, "not") && isw(d, i + 1, "really")) return 2;
        if (isw(d, i, "not") && isw(d, i + 1, "at") && isw(d, i + 2, "all")) return 3;
        if (isw(d, i, "not") && isw(d, i + 1, "a") && isw(d, i + 2, "chance")) return 3;
        if (isw(d, i + 1, "think") && isw(d, i + 2, "so")) return 3; /* "I don't think so" */
        int k = i + 1;
        for (int n = 0; n < 3 && k < hi && inset(d, k, aux_words); n++) k++;
        int c = predicate_at(d, k, hi);
        if (c) return k - i + c;
        if (inset(d, k, yes_words)) return k - i + 1;
        return clause_end_at(d, i + 1, hi) ? 1 : 0;
    }
    if (strcmp(s, "no") == 0) { /* an interjection, not a determiner or "oh no" */
        if (inset(d, i + 1, no_idioms) || isw(d, i - 1, "oh")) return 0;
        if (!(clause_end_at(d, i + 1, hi) || isw(d, i + 1, "it") || isw(d, i + 1, "that") || isw(d, i + 1, "this") ||
              isw(d, i + 1, "there") || isw(d, i + 1, "i") || isw(d, i + 1, "way") || isw(d, i + 1, "lo") ||
              isw(d, i + 1, "chance")))
            return 0;
        *yes = 0;
        return 1;
    }
    if (inset(d, i, no_words)) {
        *yes = 0;
        return 1;
    }
    *yes = 1;
    if (isw(d, i, "yes") && isw(d, i - 1, "oh")) return 0;
    if (inset(d, i, yes_words) || inset(d, i, yes_verbs)) return 1;
    if (inset(d, i, yes_end_words) && clause_end_at(d, i + 1, hi) && !negation(d, i - 1))
        return d->weak_ok && i == d->first; /* only as the response's opening word */
    if (isw(d, i, "of") && isw(d, i + 1, "course")) {
        if (isw(d, i + 2, "not")) { /* "of course not" */
            *yes = 0;
            return 3;
        }
        return d->weak_ok && i == d->first ? 2 : 0;
    }
    if (isw(d, i, "think") && isw(d, i + 1, "so") && !negation(d, i - 1)) return 2;
    if (strcmp(s, "it") == 0 && (isw(d, i + 1, "is") || isw(d, i + 1, "does") || isw(d, i + 1, "can")) &&
        clause_end_at(d, i + 2, hi))
        return 2;
    if (inset(d, i, aux_words)) { /* "is part of", "does appear", "can be found", "forma parte", "se encuentra" */
        int k = i + 1;
        for (int n = 0; n < 2 && k < hi && inset(d, k, aux_words); n++) k++;
        int c = predicate_at(d, k, hi);
        return c ? k - i + c : 0;
    }
    return 0;
}

static int simple_polar(const doc *d, int i) {
    return isw(d, i, "yes") || isw(d, i, "no") || isw(d, i, "sí") || isw(d, i, "si");
}

static res committed_polar(const doc *d, int a, int b) {
    res r = {R_NONE, {0}};
    for (int i = a; i < b; i++) {
        int yes = 0, n = polar_at(d, i, b, &yes);
        if (!n) continue;
        r.v.v = yes;
        r.v.i0 = i;
        r.v.i1 = i + n;
        r.state = R_FOUND;
        /* "yes and no", "yes or no", "yes/no": both offered as alternatives */
        int j = i + n;
        if (simple_polar(d, i) &&
            (isw(d, j, "and") || isw(d, j, "or") || isp(d, j, '/') || isw(d, j, "y") || isw(d, j, "o")) &&
            simple_polar(d, j + 1) && isw(d, j + 1, "no") != isw(d, i, "no"))
            r.state = R_HEDGED;
        if (simple_polar(d, i) && (isw(d, i - 1, "or") || isw(d, i - 1, "and") || isp(d, i - 1, '/')) &&
            i - 2 >= a && simple_polar(d, i - 2) && isw(d, i - 2, "no") != isw(d, i, "no"))
            r.state = R_HEDGED;
        return r;
    }
    return r;
}

static res committed(const doc *d, int a, int b, int marker) {
    return d->req->kind == CB_ASK_YESNO ? committed_polar(d, a, b) : committed_count(d, a, b, marker);
}

/* ---- sentences, markers, cues ---- */

/* The sentence starting at or after *a (line breaks skipped) within [*a, lim):
 * returns 1 and [*a, *b), or 0 when none is left. */
static int next_sentence(const doc *d, int *a, int lim, int *b) {
    while (*a < lim && d->tk[*a].type == T_NL) (*a)++;
    if (*a >= lim) return 0;
    int j = *a;
    while (j < lim) {
        if (d->tk[j].type == T_NL) break;
        if (is_break(d, j)) {
            j++;
            while (j < lim && d->tk[j].type == T_PUNCT && (is_break(d, j) || is_quote(d, j) || isp(d, j, ')'))) j++;
            break;
        }
        j++;
    }
    *b = j;
    return 1;
}

/* A marker at i ("answer" + ":" or "is", "respuesta" + ":" or "es", "\boxed{"):
 * returns the index after it, or 0. */
static int marker_at(const doc *d, int i) {
    if (isw(d, i, "answer") || isw(d, i, "respuesta")) {
        if (isp(d, i + 1, ':')) return i + 2;
        if (is_quote(d, i + 1) && isp(d, i + 2, ':')) return i + 3; /* {"answer": 3} */
        if (isw(d, i + 1, "is") || isw(d, i + 1, "es") || isw(d, i + 1, "was")) return isp(d, i + 2, ':') ? i + 3 : i + 2;
        return 0;
    }
    if (isw(d, i, "boxed") && isp(d, i - 1, '\\') && isp(d, i + 1, '{')) return i + 2;
    return 0;
}

/* A self-correction cue at i: returns the index after it, or 0. */
static int cue_at(const doc *d, int i, int hi) {
    static const char *const cue_words[] = {"wait", "actually", "correction", "oops", "miscounted", "recount",
                                            "mistake", "espera", NULL};
    if (inset(d, i, cue_words)) return i + 1;
    if (isw(d, i, "on") && isw(d, i + 1, "second") && isw(d, i + 2, "thought")) return i + 3;
    if (isw(d, i, "en") && isw(d, i + 1, "realidad")) return i + 2;
    if (isw(d, i, "no") && isp(d, i + 1, ',')) { /* "no," with a value later in its sentence */
        int a = i + 2, b;
        if (!next_sentence(d, &a, hi, &b) || a != i + 2) return 0;
        res r = committed(d, i + 2, b, 0);
        return r.state != R_NONE ? i + 2 : 0;
    }
    return 0;
}

/* ---- leading copy, turn cut, think blocks (byte level) ---- */

static int lc(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int prefix_ci(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    if (k > n) return 0;
    for (size_t i = 0; i < k; i++)
        if (lc((unsigned char)s[i]) != p[i]) return 0;
    return 1;
}

static size_t skip_ws(const char *t, size_t p, size_t n) {
    while (p < n && (t[p] == ' ' || t[p] == '\t' || t[p] == '\r' || t[p] == '\n')) p++;
    return p;
}

/* Length of a turn label ("question:", "q:", "user:", "human:") at t[p..n), or 0. */
static size_t turn_label(const char *t, size_t p, size_t n) {
    static const char *const labels[] = {"question:", "q:", "user:", "human:", NULL};
    for (int i = 0; labels[i]; i++)
        if (prefix_ci(t + p, n - p, labels[i])) return strlen(labels[i]);
    return 0;
}

/* Bytes to skip when comparing a copy of the question: whitespace and quote
 * marks (ASCII and the curly ones), which models change freely. */
static size_t ignorable_q(const char *t, size_t p, size_t n) {
    unsigned char c = (unsigned char)t[p];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'') return 1;
    if (c == 0xE2 && p + 2 < n && (unsigned char)t[p + 1] == 0x80 && (unsigned char)t[p + 2] >= 0x98 &&
        (unsigned char)t[p + 2] <= 0x9F)
        return 3;
    return 0;
}

/* Byte where a leading copy of q ends in t, or 0 when t does not start with one. */
static size_t leading_copy_end(const char *t, size_t n, const char *q, size_t qn) {
    size_t p = skip_ws(t, 0, n);
    size_t lab = turn_label(t, p, n);
    if (lab) p += lab;
    size_t j = 0, best = 0;
    while (j < qn) {
        size_t k;
        while (p < n && (k = ignorable_q(t, p, n))) p += k;
        while (j < qn && (k = ignorable_q(q, j, qn))) j += k;
        if (j >= qn || p >= n) break;
        if (lc((unsigned char)t[p]) != lc((unsigned char)q[j])) break;
        char qc = q[j];
        p++;
        j++;
        if (qc == '?' || qc == '.' || qc == '!') best = p;
    }
    size_t k;
    while (j < qn && (k = ignorable_q(q, j, qn))) j += k;
    if (j >= qn) best = p;
    return best;
}

static const char *find_ci(const char *t, size_t from, size_t n, const char *p);

/* Byte where the response is cut: the first line at or after `from` that
 * starts a new turn, or an end-of-turn / start-of-text token that leaked into
 * the text, whichever comes first. */
static size_t turn_cut(const char *t, size_t n, size_t from) {
    static const char *const specials[] = {"<s>", "</s>", "<|endoftext|>", "<|im_end|>", "<|im_start|>",
                                           "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|user|>", NULL};
    for (int i = 0; specials[i]; i++) {
        const char *x = find_ci(t, from, n, specials[i]);
        if (x && (size_t)(x - t) < n) n = (size_t)(x - t);
    }
    static const char *const heads[] = {"instruction", "input", "response", "question", "user", "human", "assistant",
                                        "system", "prompt", "example", NULL};
    for (size_t p = 0; p < n; p++) {
        if (p > 0 && t[p - 1] != '\n') continue;
        if (p < from) continue;
        size_t q = p;
        while (q < n && (t[q] == ' ' || t[q] == '\t')) q++;
        if (turn_label(t, q, n)) return p;
        if (prefix_ci(t + q, n - q, "###")) {
            size_t h = q + 3;
            while (h < n && (t[h] == ' ' || t[h] == '#')) h++;
            for (int i = 0; heads[i]; i++) {
                size_t k = strlen(heads[i]);
                if (prefix_ci(t + h, n - h, heads[i]) && (h + k >= n || !((t[h + k] | 32) >= 'a' && (t[h + k] | 32) <= 'z')))
                    return p;
            }
        }
    }
    return n;
}

static const char *find_ci(const char *t, size_t from, size_t n, const char *p) {
    for (size_t i = from; i < n; i++)
        if (prefix_ci(t + i, n - i, p)) return t + i;
    return NULL;
}

/* Blanks <think>…</think> (unclosed: to the end; a lone close: from the start). */
static void blank_think(char *t, size_t n) {
    size_t p = 0;
    for (;;) {
        const char *o = find_ci(t, p, n, "<think>");
        const char *c = find_ci(t, p, n, "</think>");
        if (!o && !c) return;
        size_t s, e;
        if (c && (!o || c < o)) {
            s = p;
            e = (size_t)(c - t) + 8;
        } else {
            s = (size_t)(o - t);
            const char *c2 = find_ci(t, s + 7, n, "</think>");
            e = c2 ? (size_t)(c2 - t) + 8 : n;
        }
        memset(t + s, ' ', e - s);
        p = e;
    }
}

/* ---- the extraction ---- */

static int guess_spanish(const doc *d) {
    static const char *const es[] = {"la", "el", "de", "que", "hay", "tiene", "palabra", "letra", "letras", "veces",
                                     "es", "una", "respuesta", "en", "los", "las", "aparece", "subcadena", NULL};
    static const char *const en[] = {"the", "is", "are", "there", "word", "letter", "letters", "times", "has",
                                     "answer", "of", "in", "and", "it", "appears", "a", NULL};
    int nes = 0, nen = 0;
    for (int i = 0; i < d->nt; i++) {
        nes += inset(d, i, es);
        nen += inset(d, i, en);
    }
    return nes > nen;
}

static void doc_free(doc *d) {
    free(d->tk);
    free(d->words);
}

/* Normalizes, blanks think blocks and tokenizes. */
static int doc_open(doc *d, cb_normtext *nt, const char *text, const cb_answer_req *req, cb_err *err) {
    memset(d, 0, sizeof *d);
    int rc = cb_normalize_answer_text(text, text ? strlen(text) : 0, nt, err);
    if (rc) return rc;
    blank_think(nt->text, nt->len);
    d->t = nt->text;
    d->len = nt->len;
    d->req = req;
    if (tokenize(d)) return cb_err_set(err, CB_ENOMEM, "answer extraction: out of memory");
    d->spanish = guess_spanish(d);
    return 0;
}

/* Markers, else sentences (TASKS.md 0.4 answer_span): the committed value of
 * the span and its token range [*sa, *sb). */
static res select_span(const doc *d, int t0, int t1, int *sa, int *sb, int *has_marker) {
    res r = {R_NONE, {0}};
    *sa = *sb = -1;
    *has_marker = 0;
    for (int i = t0; i < t1; i++) { /* the last marker with a value on its line */
        int m = marker_at(d, i);
        if (!m) continue;
        int le = m;
        while (le < t1 && d->tk[le].type != T_NL) le++;
        res mr = committed(d, m, le, 1);
        if (mr.state != R_NONE) {
            r = mr;
            *sa = m;
            *sb = le;
            *has_marker = 1;
        }
    }
    if (*has_marker) return r;
    for (int a = t0, b; next_sentence(d, &a, t1, &b); a = b) {
        res sr = committed(d, a, b, 0);
        if (sr.state == R_NONE) continue;
        r = sr;
        *sa = a;
        *sb = b;
        if (!d->req->reasoning) break;
    }
    return r;
}

static void set_span(const doc *d, const cb_normtext *nt, int a, int b, cb_answer *out) {
    if (b <= a) return;
    cb_normtext_raw_range(nt, d->tk[a].s, d->tk[b - 1].e, &out->span_start, &out->span_end);
}

int cb_answer_extract(const char *response, const cb_answer_req *req, cb_answer *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    out->span_start = out->span_end = -1;
    cb_normtext nt = {0}, qn = {0};
    doc d;
    int rc = doc_open(&d, &nt, response, req, err);
    if (rc) goto out;

    /* format counts over the whole response (think blocks excluded) */
    int in_word = 0;
    for (int i = 0; i < d.nt; i++) {
        const tok *t = &d.tk[i];
        if (t->sp_before || t->type == T_NL) in_word = 0;
        if ((t->type == T_WORD || t->type == T_NUM) && !in_word) {
            out->n_words++;
            in_word = 1;
        }
    }
    for (int a = 0, b; next_sentence(&d, &a, d.nt, &b); a = b) {
        for (int i = a; i < b; i++)
            if (d.tk[i].type == T_WORD || d.tk[i].type == T_NUM) {
                out->n_sentences++;
                break;
            }
    }

    /* the region read: after a leading copy of the question, before a new turn */
    size_t from = 0;
    if (req->question && *req->question) {
        if ((rc = cb_normalize_answer_text(req->question, strlen(req->question), &qn, err))) goto out;
        from = leading_copy_end(nt.text, nt.len, qn.text, qn.len);
    }
    size_t cut = turn_cut(nt.text, nt.len, from);
    int t0 = 0, t1 = d.nt;
    while (t0 < d.nt && d.tk[t0].s < from) t0++;
    while (t1 > t0 && d.tk[t1 - 1].e > cut) t1--;
    d.first = t0;
    while (d.first < t1 && d.tk[d.first].type != T_WORD && d.tk[d.first].type != T_NUM) d.first++;

    /* the span; yes/no: weak yes words ("Sure!", "Certainly, ...") only when
     * nothing else in the response is polar, since chat models open with them */
    int sa = -1, sb = -1;
    res r = select_span(&d, t0, t1, &sa, &sb, &out->has_marker);
    if (r.state == R_NONE && req->kind == CB_ASK_YESNO) {
        d.weak_ok = 1;
        r = select_span(&d, t0, t1, &sa, &sb, &out->has_marker);
    }
    out->flags |= out->has_marker ? CB_GRADE_MARKER : CB_GRADE_NO_MARKER;

    /* self-correction: the last cue after the value moves the span */
    if (r.state != R_NONE) {
        int cue_end = -1;
        for (int i = r.v.i1; i < t1; i++) {
            int c = cue_at(&d, i, t1);
            if (c) cue_end = c;
        }
        if (cue_end >= 0) {
            for (int a = cue_end, b; next_sentence(&d, &a, t1, &b); a = b) {
                res cr = committed(&d, a, b, 0);
                if (cr.state == R_NONE) continue;
                r = cr;
                sa = a;
                sb = b;
                out->flags |= CB_GRADE_SELF_CORRECTED;
                break;
            }
        }
    }

    if (r.state == R_FOUND) {
        out->found = 1;
        out->value = r.v.v;
        if (r.v.word && req->kind == CB_ASK_COUNT) out->flags |= CB_GRADE_NUMBER_WORD;
        if (r.v.overflow) out->flags |= CB_GRADE_OVERFLOW;
    } else if (r.state == R_HEDGED) {
        out->flags |= CB_GRADE_HEDGED;
    }
    if (sa >= 0) set_span(&d, &nt, sa, sb, out);
out:
    doc_free(&d);
    cb_normtext_free(&nt);
    cb_normtext_free(&qn);
    return rc;
}

int cb_answer_soft(const char *response, cb_ask_kind kind, int64_t gold) {
    cb_answer_req req = {.kind = kind};
    cb_normtext nt = {0};
    doc d;
    cb_err e;
    int hit = -1;
    if (doc_open(&d, &nt, response, &req, &e)) goto out;
    for (int i = 0; i < d.nt; i++) d.tk[i].speech = 0; /* "anywhere": dialogue too */
    hit = 0;
    for (int i = 0; i < d.nt && !hit; i++) {
        val v;
        if (kind == CB_ASK_COUNT) hit = value_at(&d, i, d.nt, &v) && v.v == gold;
        else hit = isw(&d, i, gold ? "yes" : "no");
    }
out:
    doc_free(&d);
    cb_normtext_free(&nt);
    return hit;
}

int cb_answer_yes_no(const char *text) {
    cb_answer_req req = {.kind = CB_ASK_YESNO};
    cb_normtext nt = {0};
    doc d;
    cb_err e;
    int v = -1;
    if (doc_open(&d, &nt, text, &req, &e)) goto out;
    while (d.first < d.nt && d.tk[d.first].type != T_WORD && d.tk[d.first].type != T_NUM) d.first++;
    res r = committed_polar(&d, 0, d.nt);
    if (r.state == R_NONE) {
        d.weak_ok = 1;
        r = committed_polar(&d, 0, d.nt);
    }
    if (r.state == R_FOUND) v = (int)r.v.v;
out:
    doc_free(&d);
    cb_normtext_free(&nt);
    return v;
}
