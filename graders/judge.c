/* graders/judge.c — judge-output parsing and sentence counting (judge.h). */
#include "graders/judge.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Case-insensitive strstr over ASCII (bounded by the terminators). */
static const char *find_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return hay;
    return NULL;
}

static const char *find_last_ci(const char *hay, const char *needle) {
    const char *last = NULL, *p = hay;
    while ((p = find_ci(p, needle))) last = p++;
    return last;
}

int cb_count_words(const char *text) {
    int n = 0, in = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        int sp = isspace(*p);
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

/* ---- rubric tables ---------------------------------------------------------- */

typedef struct {
    char crit[256];
    int point;  /* 0, 1, or -1 invalid */
    int total;  /* a "total" row */
} row;

/* Trims [s, e) in place into dst (cap bytes). */
static void trim_copy(const char *s, const char *e, char *dst, size_t cap) {
    while (s < e && isspace((unsigned char)*s)) s++;
    while (e > s && isspace((unsigned char)e[-1])) e--;
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

static int is_separator_cell(const char *c) {
    if (*c == ':') c++;
    if (*c != '-' && *c != '=') return 0;
    while (*c == '-' || *c == '=') c++;
    if (*c == ':') c++;
    return *c == 0;
}

/* First number in a cell: "1 (out of 1)" -> 1, "1/1" -> 1, "**0**" -> 0.
 * Returns 0/1, or -1 when the first number is not exactly 0 or 1. */
static int cell_point(const char *c) {
    while (*c && !isdigit((unsigned char)*c)) c++;
    if (!*c) return -1;
    char *end = NULL;
    double v = strtod(c, &end);
    if (v == 0.0) return 0;
    if (v == 1.0) return 1;
    return -1;
}

/* Parses the table lines of [s, e) into rows; returns the count. */
static int table_rows(const char *s, const char *e, row *rows, int cap) {
    int n = 0;
    while (s < e && n < cap) {
        const char *nl = memchr(s, '\n', (size_t)(e - s));
        const char *le = nl ? nl : e;
        if (memchr(s, '|', (size_t)(le - s))) {
            char cells[8][256];
            int nc = 0;
            const char *c = s;
            while (c <= le && nc < 8) {
                const char *bar = memchr(c, '|', (size_t)(le - c));
                const char *ce = bar ? bar : le;
                trim_copy(c, ce, cells[nc], sizeof cells[0]);
                if (cells[nc][0]) nc++; /* empty cells are dropped */
                if (!bar) break;
                c = bar + 1;
            }
            int sep = nc > 0, digit = 0;
            for (int i = 0; i < nc; i++) {
                if (!is_separator_cell(cells[i])) sep = 0;
                if (i > 0 && strpbrk(cells[i], "0123456789")) digit = 1;
            }
            if (nc >= 2 && !sep && digit) {
                row *r = &rows[n++];
                snprintf(r->crit, sizeof r->crit, "%s", cells[0]);
                r->point = cell_point(cells[1]);
                char low[256];
                size_t i = 0;
                for (; r->crit[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)r->crit[i]);
                low[i] = 0;
                r->total = strstr(low, "total") != NULL;
            }
        }
        s = le + 1;
    }
    return n;
}

/* Lowercase copy of a skill name up to the first '(' (trimmed). */
static void base_name(const char *name, char *out, size_t cap) {
    const char *p = strchr(name, '(');
    trim_copy(name, p ? p : name + strlen(name), out, cap);
    for (char *q = out; *q; q++) *q = (char)tolower((unsigned char)*q);
}

static int matches_item(const char *crit, const char *const *skills, int k, int item) {
    char low[256];
    size_t i = 0;
    for (; crit[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)crit[i]);
    low[i] = 0;
    if (item < k) {
        char full[256], base[256];
        size_t j = 0;
        for (; skills[item][j] && j < sizeof full - 1; j++) full[j] = (char)tolower((unsigned char)skills[item][j]);
        full[j] = 0;
        base_name(skills[item], base, sizeof base);
        return strstr(low, full) || (base[0] && strstr(low, base));
    }
    /* "Pertains to {topic}", "Text makes sense", "At most ..." */
    static const char *const other[3][2] = {{"topic", "pertains"}, {"sense", NULL}, {"at most", NULL}};
    const char *const *o = other[item - k];
    return strstr(low, o[0]) || (o[1] && strstr(low, o[1]));
}

int cb_judge_parse_rubric(const char *judgement, const char *const *skills, int k, int points[CB_RUBRIC_MAX]) {
    int n_items = k + 3;
    for (int i = 0; i < CB_RUBRIC_MAX; i++) points[i] = -1;
    if (!judgement || k < 0 || n_items > CB_RUBRIC_MAX) return 0;
    const char *s = find_ci(judgement, "here's the grading table:");
    const char *curly = find_ci(judgement, "here\xe2\x80\x99s the grading table:");
    if (!s || (curly && curly > s)) s = curly ? curly : s;
    s = s ? strchr(s, ':') + 1 : judgement;
    const char *e = find_ci(s, "explanation:");
    if (!e) e = s + strlen(s);
    row rows[64];
    int nr = table_rows(s, e, rows, 64);
    int valid = 0, pos = 0;
    int assigned_row[CB_RUBRIC_MAX];
    for (int i = 0; i < n_items; i++) assigned_row[i] = 0;
    /* by name first */
    int used[64] = {0};
    for (int r = 0; r < nr; r++) {
        if (rows[r].total || rows[r].point < 0) continue;
        for (int it = 0; it < n_items; it++)
            if (!assigned_row[it] && matches_item(rows[r].crit, skills, k, it)) {
                points[it] = rows[r].point;
                assigned_row[it] = 1;
                used[r] = 1;
                break;
            }
    }
    /* then by position among the non-total rows */
    for (int r = 0; r < nr; r++) {
        if (rows[r].total) continue;
        int at = pos++;
        if (used[r] || rows[r].point < 0 || at >= n_items || assigned_row[at]) continue;
        points[at] = rows[r].point;
        assigned_row[at] = 1;
    }
    for (int i = 0; i < n_items; i++) valid += points[i] >= 0;
    if (valid == 0) { /* fallback format: "Point earned: 0|1" lines in order */
        const char *p = judgement;
        int at = 0;
        while (at < n_items && (p = find_ci(p, "point earned:"))) {
            p += strlen("point earned:");
            while (*p == ' ' || *p == '*') p++;
            if (*p == '0' || *p == '1') {
                char nx = p[1];
                if (!isdigit((unsigned char)nx) && nx != '.') points[at] = *p - '0';
            }
            at++;
        }
        valid = 0;
        for (int i = 0; i < n_items; i++) valid += points[i] >= 0;
    }
    return valid;
}

/* ---- 1-5 ratings -------------------------------------------------------------- */

/* Tries the rating pattern at p: \[?\s*(\d+(\.\d+)?)\s*\]?\s*(/|out of)\s*5\b.
 * Returns the end of the match (and *v), or NULL. */
static const char *rating_at(const char *p, double *v) {
    const char *q = p;
    if (*q == '[') q++;
    while (isspace((unsigned char)*q)) q++;
    if (!isdigit((unsigned char)*q)) return NULL;
    const char *num = q;
    while (isdigit((unsigned char)*q)) q++;
    if (*q == '.' && isdigit((unsigned char)q[1])) {
        q++;
        while (isdigit((unsigned char)*q)) q++;
    }
    char buf[32];
    size_t n = (size_t)(q - num) < sizeof buf - 1 ? (size_t)(q - num) : sizeof buf - 1;
    memcpy(buf, num, n);
    buf[n] = 0;
    while (isspace((unsigned char)*q)) q++;
    if (*q == ']') q++;
    while (isspace((unsigned char)*q)) q++;
    if (*q == '/')
        q++;
    else if (strncasecmp(q, "out of", 6) == 0)
        q += 6;
    else
        return NULL;
    while (isspace((unsigned char)*q)) q++;
    if (*q != '5' || isalnum((unsigned char)q[1]) || q[1] == '_') return NULL;
    *v = strtod(buf, NULL);
    return q + 1;
}

int cb_judge_parse_rating(const char *judgement, double *rating) {
    if (!judgement) return 0;
    const char *head = find_last_ci(judgement, "evaluation score");
    const char *p = head ? head : judgement;
    int found = 0;
    double last = 0;
    while (*p) {
        double v;
        const char *e = rating_at(p, &v);
        if (!e) {
            p++;
            continue;
        }
        if (head) { /* the first rating after the heading is the verdict */
            *rating = v;
            return 1;
        }
        last = v;
        found = 1;
        p = e;
    }
    if (found) *rating = last;
    return found;
}

/* ---- P-Score similarity scores (4.5) ------------------------------------------ */

/* A plain decimal number at p ("7", "7.5": no sign, exponent, hex, inf or
 * nan) not followed by a letter, digit or '_'. Writes *v and returns its end,
 * else NULL. */
static const char *plain_number(const char *p, double *v) {
    const char *q = p;
    if (!isdigit((unsigned char)*q)) return NULL;
    while (isdigit((unsigned char)*q)) q++;
    if (*q == '.' && isdigit((unsigned char)q[1])) {
        q++;
        while (isdigit((unsigned char)*q)) q++;
    }
    if (isalnum((unsigned char)*q) || *q == '_' || q - p > 30) return NULL;
    char buf[32];
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = 0;
    *v = strtod(buf, NULL);
    return q;
}

static int score_ok(double v) { return isfinite(v) && v >= 0 && v <= 10; }

/* Score of one JSON member: a number, or a string that is a plain number
 * (surrounding spaces allowed). 1 when it lies in [0, 10]. */
static int json_score(const cJSON *x, double *v) {
    if (cJSON_IsNumber(x)) {
        *v = x->valuedouble;
    } else if (cJSON_IsString(x) && x->valuestring) {
        const char *s = x->valuestring;
        while (isspace((unsigned char)*s)) s++;
        const char *e = plain_number(s, v);
        if (!e) return 0;
        while (isspace((unsigned char)*e)) e++;
        if (*e) return 0;
    } else {
        return 0;
    }
    return score_ok(*v);
}

/* The last `key` in text followed by an optional quote, ':' and a plain
 * number (optionally quoted), with no word character right before the key.
 * 1 when found and in [0, 10]; 0 when absent or when the last one is out of
 * range. */
static int last_pair(const char *text, const char *key, double *out) {
    size_t kn = strlen(key);
    int found = 0;
    double last = 0;
    for (const char *p = text; (p = find_ci(p, key)); p++) {
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) continue;
        const char *q = p + kn;
        if (*q == '"' || *q == '\'') q++;
        while (*q == ' ' || *q == '\t') q++;
        if (*q != ':') continue;
        q++;
        while (*q == ' ' || *q == '\t') q++;
        if (*q == '"' || *q == '\'') q++;
        double v;
        if (!plain_number(q, &v)) continue;
        last = v;
        found = 1;
    }
    if (found) *out = last;
    return found && score_ok(last);
}

int cb_judge_parse_similarity(const char *judgement, double *content, double *structure) {
    if (!judgement) return 0;
    const char *text = judgement, *th = find_last_ci(judgement, "</think>");
    if (th) text = th + 8;
    /* fenced JSON: every ``` is tried as an opener, so stray fences in the
     * reasoning cannot shift the pairing; the last block with both keys decides */
    const cJSON *best = NULL;
    cJSON *keep = NULL;
    for (const char *p = text; (p = strstr(p, "```")); p += 3) {
        const char *info = p + 3, *eol = info;
        while (*eol && *eol != '\n') eol++;
        const char *a = info, *b = eol;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if (!(b == a || (b - a == 4 && strncasecmp(a, "json", 4) == 0)) || !*eol) continue;
        const char *body = eol + 1, *close = strstr(body, "```");
        size_t len = close ? (size_t)(close - body) : strlen(body);
        while (len && isspace((unsigned char)*body)) body++, len--;
        if (!len || *body != '{') continue;
        cJSON *o = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
        if (cJSON_IsObject(o) && cJSON_GetObjectItem(o, "content_similarity") &&
            cJSON_GetObjectItem(o, "structural_similarity")) {
            cJSON_Delete(keep);
            keep = o;
            best = o;
        } else {
            cJSON_Delete(o);
        }
    }
    double c = 0, s = 0;
    int ok = 0;
    if (best)
        ok = json_score(cJSON_GetObjectItem(best, "content_similarity"), &c) &&
             json_score(cJSON_GetObjectItem(best, "structural_similarity"), &s);
    cJSON_Delete(keep);
    if (!ok) ok = last_pair(text, "content_similarity", &c) && last_pair(text, "structural_similarity", &s);
    if (ok) {
        *content = c;
        *structure = s;
    }
    return ok;
}

/* ---- sentences ---------------------------------------------------------------- */

static const char *const ABBREV[] = {"Mr. ", "Mrs. ", "Ms. ", "Dr. ", "Prof. ", "St. ", "Jr. ", "vs. ",
                                     "e.g. ", "i.e. ", "U.S. ", NULL};

/* Length of a closing quote/bracket at p (' " ) or ” ’), 0 if none. */
static int closing(const unsigned char *p) {
    if (*p == '\'' || *p == '"' || *p == ')') return 1;
    if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x9D || p[2] == 0x99)) return 3;
    return 0;
}

static int opening(const unsigned char *p) {
    if (*p == '\'' || *p == '"' || *p == '(') return 1;
    if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x9C || p[2] == 0x98)) return 3;
    return 0;
}

int cb_count_sentences(const char *text, int single_space) {
    if (!text) return 0;
    /* the abbreviations lose their space first */
    size_t len = strlen(text);
    char *t = malloc(len + 1);
    if (!t) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int hit = 0;
        for (int a = 0; ABBREV[a]; a++) {
            size_t n = strlen(ABBREV[a]);
            if (strncmp(text + i, ABBREV[a], n) == 0) {
                memcpy(t + o, ABBREV[a], n - 1);
                o += n - 1;
                i += n;
                hit = 1;
                break;
            }
        }
        if (!hit) t[o++] = text[i++];
    }
    t[o] = 0;
    int nonspace = 0;
    for (size_t i = 0; i < o; i++) nonspace |= !isspace((unsigned char)t[i]);
    if (!nonspace) {
        free(t);
        return 0;
    }
    int pieces = 1;
    const unsigned char *p = (const unsigned char *)t;
    for (; *p; p++) {
        if (*p != '.' && *p != '!' && *p != '?') continue;
        const unsigned char *q = p + 1;
        int c;
        while ((c = closing(q))) q += c;
        const unsigned char *ws = q;
        if (single_space) {
            if (*q != ' ') continue;
            q++;
        } else {
            while (isspace(*q)) q++;
            if (q == ws) continue;
        }
        while ((c = opening(q))) q += c;
        if ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')) pieces++;
    }
    free(t);
    return pieces;
}
