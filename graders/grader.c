/* graders/grader.c — the grade record helpers, its JSON form, and the
 * per-thread grader context (compiled PCRE2 patterns, optional tokenizer for
 * token edit distance). See grader.h. */
#include "graders/grader.h"

#include "graders/editdist.h"
#include "graders/grader_priv.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const flag_names[CB_GRADE_NFLAGS] = {
    "no_marker", "format_violation", "no_response", "vote_tie", "number_word",
    "overflow",  "truncated",        "marker",      "self_corrected", "hedged",
};

const char *cb_grade_flag_name(int bit) {
    if (bit < 0 || bit >= CB_GRADE_NFLAGS) return NULL;
    return flag_names[bit];
}

void cb_grade_init(cb_grade *g) {
    memset(g, 0, sizeof *g);
    g->span_start = g->span_end = -1;
}

void cb_grade_add_metric(cb_grade *g, const char *name, double value) {
    if (g->n_metrics >= CB_GRADE_MAX_METRICS) return;
    g->metrics[g->n_metrics].name = name;
    g->metrics[g->n_metrics].value = value;
    g->n_metrics++;
}

int cb_grade_get_metric(const cb_grade *g, const char *name, double *value) {
    for (int i = 0; i < g->n_metrics; i++) {
        if (strcmp(g->metrics[i].name, name) == 0) {
            if (value) *value = g->metrics[i].value;
            return 1;
        }
    }
    return 0;
}

void cb_grade_set_extracted(cb_grade *g, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n >= sizeof g->extracted) {
        n = sizeof g->extracted - 1;
        /* back up to a UTF-8 lead byte so the copy stays valid */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    if (n) memcpy(g->extracted, s, n);
    g->extracted[n] = '\0';
}

void cb_grade_set_reason(cb_grade *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->reason, sizeof g->reason, fmt, ap);
    va_end(ap);
}

cJSON *cb_grade_to_json(const cb_grade *g) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *flags = NULL, *metrics = NULL;
    if (!cJSON_AddNumberToObject(o, "score", g->score)) goto fail;
    if (!cJSON_AddBoolToObject(o, "unparsed", g->unparsed)) goto fail;
    if (!cJSON_AddStringToObject(o, "extracted", g->extracted)) goto fail;
    flags = cJSON_AddArrayToObject(o, "flags");
    if (!flags) goto fail;
    for (int b = 0; b < CB_GRADE_NFLAGS; b++) {
        if (!(g->flags & (1u << b))) continue;
        cJSON *s = cJSON_CreateString(flag_names[b]);
        if (!s || !cJSON_AddItemToArray(flags, s)) {
            cJSON_Delete(s);
            goto fail;
        }
    }
    if (!cJSON_AddStringToObject(o, "reason", g->reason)) goto fail;
    metrics = cJSON_AddObjectToObject(o, "metrics");
    if (!metrics) goto fail;
    for (int i = 0; i < g->n_metrics; i++)
        if (!cJSON_AddNumberToObject(metrics, g->metrics[i].name, g->metrics[i].value)) goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ---- context ---- */

/* Number words 0..99 as alternations (compounds first); \b with UCP treats
 * letters (accented too), digits and underscore as word characters. */
static const char *const patterns[CB_RE_COUNT] = {
    [CB_RE_NUMWORD_EN] = "\\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
                         "(?:[- ](?:one|two|three|four|five|six|seven|eight|nine)\\b)?|zero|one|two|three|four|five|"
                         "six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
                         "eighteen|nineteen|once|twice|thrice|none)\\b",
    [CB_RE_NUMWORD_ES] = "\\b(?:(?:treinta|cuarenta|cincuenta|sesenta|setenta|ochenta|noventa)"
                         "(?: y (?:uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve)\\b)?|"
                         "veintiuno|veintid[o\\x{f3}]s|veintitr[e\\x{e9}]s|veinticuatro|veinticinco|"
                         "veintis[e\\x{e9}]is|veintisiete|veintiocho|veintinueve|cero|uno|dos|tres|cuatro|cinco|seis|"
                         "siete|ocho|nueve|diez|once|doce|trece|catorce|quince|diecis[e\\x{e9}]is|diecisiete|"
                         "dieciocho|diecinueve|veinte|ninguna|ninguno)\\b",
};

int cb_grader_ctx_new(cb_grader_ctx **out, cb_err *err) {
    *out = NULL;
    cb_grader_ctx *g = calloc(1, sizeof *g);
    if (!g) return cb_err_set(err, CB_ENOMEM, "grader context: out of memory");
    int rc = 0;
    for (int i = 0; i < CB_RE_COUNT; i++) {
        int ec;
        PCRE2_SIZE off;
        g->re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF, &ec, &off,
                                 NULL);
        if (!g->re[i]) {
            PCRE2_UCHAR buf[128];
            pcre2_get_error_message(ec, buf, sizeof buf);
            rc = cb_err_set(err, CB_ERUNTIME, "grader pattern %d at offset %zu: %s", i, (size_t)off,
                            (const char *)buf);
            goto out;
        }
        /* JIT is an optimisation only: fall back to the interpreter when absent. */
        (void)pcre2_jit_compile(g->re[i], PCRE2_JIT_COMPLETE);
    }
    g->md = pcre2_match_data_create(8, NULL);
    if (!g->md) {
        rc = cb_err_set(err, CB_ENOMEM, "grader context: out of memory");
        goto out;
    }
    *out = g;
    g = NULL;
out:
    cb_grader_ctx_free(g);
    return rc;
}

void cb_grader_ctx_free(cb_grader_ctx *g) {
    if (!g) return;
    for (int i = 0; i < CB_RE_COUNT; i++) pcre2_code_free(g->re[i]);
    pcre2_match_data_free(g->md);
    free(g);
}

void cb_grader_ctx_set_tokenizer(cb_grader_ctx *g, cb_tokenize_fn fn, void *user) {
    g->tokenize = fn;
    g->tok_user = fn ? user : NULL;
}

/* Tokenizes into *buf (grown as needed); returns count or -1. */
static int tokenize_into(cb_grader_ctx *g, const char *text, int32_t **buf, int *cap) {
    int n = g->tokenize(g->tok_user, text, *buf, *cap);
    if (n < 0) return -1;
    if (n > *cap) {
        int32_t *nb = malloc((size_t)n * sizeof *nb);
        if (!nb) return -1;
        if (*cap > 64) free(*buf);
        *buf = nb;
        *cap = n;
        n = g->tokenize(g->tok_user, text, *buf, *cap);
        if (n < 0 || n > *cap) return -1;
    }
    return n;
}

int cb_grader_edit_distance(cb_grader_ctx *g, const char *pred, const char *gold, int64_t *dist,
                            int64_t *gold_len) {
    if (!g->tokenize) {
        int64_t d = cb_edit_distance_utf8(pred, gold);
        if (d < 0) return -1;
        size_t gl = cb_utf8_count(gold ? gold : "");
        *dist = d;
        *gold_len = gl ? (int64_t)gl : 1;
        return 0;
    }
    int32_t sa[64], sb[64];
    int32_t *a = sa, *b = sb;
    int ca = 64, cb = 64, rc = -1;
    int na = tokenize_into(g, pred ? pred : "", &a, &ca);
    int nb = na < 0 ? -1 : tokenize_into(g, gold ? gold : "", &b, &cb);
    if (na >= 0 && nb >= 0) {
        int64_t d = cb_edit_distance_ids(a, (size_t)na, b, (size_t)nb);
        if (d >= 0) {
            *dist = d;
            *gold_len = nb ? nb : 1;
            rc = 1;
        }
    }
    if (a != sa) free(a);
    if (b != sb) free(b);
    return rc;
}

void cb_grader_add_edit_metrics(cb_grader_ctx *g, cb_grade *out, const char *pred, const char *gold) {
    int64_t d, gl;
    int unit = cb_grader_edit_distance(g, pred, gold, &d, &gl);
    if (unit < 0) return;
    if (unit == 1) {
        cb_grade_add_metric(out, "token_edit_distance", (double)d);
        cb_grade_add_metric(out, "token_edit_distance_norm", (double)d / (double)gl);
    } else {
        cb_grade_add_metric(out, "char_edit_distance", (double)d);
        cb_grade_add_metric(out, "char_edit_distance_norm", (double)d / (double)gl);
    }
}
