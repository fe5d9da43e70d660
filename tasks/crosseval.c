/* tasks/crosseval.c — the CrossEval export reader (see tasks/crosseval.h).
 * Both formats become the same row list: JSONL lines through cJSON (bounded
 * by the line), CSV through tasks/csv.c. Every field is copied and checked;
 * nothing here trusts the file's sizes or types. */
#include "tasks/crosseval.h"

#include "tasks/csv.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 100000
#define MAX_ID 128

struct cb_crosseval {
    cb_crosseval_row *rows;
    int n, cap;
    int skipped_unsupported;
};

static void row_free(cb_crosseval_row *r) {
    free(r->prompt_id), free(r->capability), free(r->difficulty), free(r->l1_category), free(r->l2_category);
    free(r->prompt), free(r->attachment);
    for (int i = 0; i < 3; i++) {
        free(r->response[i]);
        for (int h = 0; h < 2; h++) free(r->explanation[i][h]);
    }
}

void cb_crosseval_free(cb_crosseval *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) row_free(&c->rows[i]);
    free(c->rows);
    free(c);
}

const char *cb_crosseval_subtask(const char *cap) {
    static const char *const map[][2] = {
        {"english", "english"},           {"spanish", "spanish"},
        {"reasoning", "reasoning"},       {"coding", "coding"},
        {"longcontext", "long_context"},  {"coding&reasoning", "coding_reasoning"},
        {"spanish&reasoning", "spanish_reasoning"}, {"longcontext&coding", "long_context_coding"},
        {"imagerecognition", ""},         {"tooluse", ""},
        {"imagerecognition&reasoning", ""}, {"tooluse&coding", ""},
        {"tooluse&reasoning", ""},        {"spanish&imagerecognition", ""},
    };
    /* lowercase; drop spaces, '_' and '-'; "and" between words -> '&' is not guessed */
    char k[64];
    size_t n = 0;
    for (const char *p = cap; *p; p++) {
        if (*p == ' ' || *p == '-') continue;
        if (n >= sizeof k - 1) return NULL;
        k[n++] = (char)tolower((unsigned char)*p);
    }
    k[n] = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(k, map[i][0]) == 0) return map[i][1];
        /* subtask names ("long_context_coding") */
        if (map[i][1][0] && strcmp(cap, map[i][1]) == 0) return map[i][1];
    }
    return NULL;
}

/* A field getter over either format. */
typedef struct {
    const cJSON *obj;       /* JSONL */
    const cb_csv *csv;      /* CSV */
    int row;
} src;

/* Field text (NULL when absent). JSON numbers are printed; other JSON types are an error (-1). */
static int field(const src *s, const char *key, char *numbuf, size_t cap, const char **out) {
    *out = NULL;
    if (s->obj) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(s->obj, key);
        if (!j || cJSON_IsNull(j)) return 0;
        if (cJSON_IsString(j)) {
            *out = j->valuestring;
            return 0;
        }
        if (cJSON_IsNumber(j)) {
            if (!isfinite(j->valuedouble)) return -1;
            snprintf(numbuf, cap, "%.17g", j->valuedouble);
            *out = numbuf;
            return 0;
        }
        return -1;
    }
    int c = cb_csv_col(s->csv, key);
    if (c >= 0 && c < s->csv->ncols[s->row]) *out = s->csv->rows[s->row][c];
    return 0;
}

static int dup_field(const src *s, const char *name, int line, const char *key, int required, char **dst,
                     cb_err *err) {
    char nb[64];
    const char *v;
    if (field(s, key, nb, sizeof nb, &v))
        return cb_err_set(err, CB_EUSAGE, "%s: line %d: field %s: expected a string", name, line, key);
    if (!v || (required && !v[0]))
        return required ? cb_err_set(err, CB_EUSAGE, "%s: line %d: field %s: expected a non-empty value", name, line, key)
                        : ((*dst = strdup("")) ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory"));
    return (*dst = strdup(v)) ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

static int read_attachment(const char *name, int line, const char *dir, const char *id, char **out, int must,
                           cb_err *err) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/attachments/%s.txt", dir, id);
    if (n < 0 || (size_t)n >= sizeof path)
        return cb_err_set(err, CB_EUSAGE, "%s: line %d: attachment path too long", name, line);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!must) return 0;
        return cb_err_set(err, CB_EUSAGE, "%s: line %d: field attached_file is set but %s cannot be read", name, line,
                          path);
    }
    fclose(f);
    size_t len;
    return cb_read_file(path, out, &len, err);
}

static int add_row(cb_crosseval *c, const char *name, const src *s, int line, const char *dir, cb_err *err) {
    if (c->n >= MAX_ROWS) return cb_err_set(err, CB_EUSAGE, "%s: line %d: more than %d rows", name, line, MAX_ROWS);
    cb_crosseval_row r;
    memset(&r, 0, sizeof r);
    r.line = line;
    int rc;
    char *attached = NULL;
    if ((rc = dup_field(s, name, line, "prompt_id", 1, &r.prompt_id, err)) ||
        (rc = dup_field(s, name, line, "capability", 1, &r.capability, err)))
        goto out;
    const char *sub = cb_crosseval_subtask(r.capability);
    if (!sub) {
        rc = cb_err_set(err, CB_EUSAGE,
                        "%s: line %d: field capability: unknown capability \"%.60s\" (expected a CrossEval "
                        "capability such as English, Coding & Reasoning, Long Context & Coding)",
                        name, line, r.capability);
        goto out;
    }
    if (!sub[0]) { /* images or tools: not supported by the text-only backends */
        c->skipped_unsupported++;
        goto out;
    }
    r.subtask = sub;
    size_t idl = strlen(r.prompt_id);
    int safe = idl <= MAX_ID && strcmp(r.prompt_id, ".") && strcmp(r.prompt_id, "..");
    for (size_t i = 0; i < idl && safe; i++)
        safe = isalnum((unsigned char)r.prompt_id[i]) || strchr("_-.", r.prompt_id[i]);
    if (!safe) {
        rc = cb_err_set(err, CB_EUSAGE,
                        "%s: line %d: field prompt_id: expected at most %d characters of [A-Za-z0-9_.-] (it names "
                        "attachments/<prompt_id>.txt)",
                        name, line, MAX_ID);
        goto out;
    }
    if ((rc = dup_field(s, name, line, "difficulty", 0, &r.difficulty, err)) ||
        (rc = dup_field(s, name, line, "l1_category", 0, &r.l1_category, err)) ||
        (rc = dup_field(s, name, line, "l2_category", 0, &r.l2_category, err)) ||
        (rc = dup_field(s, name, line, "prompt", 1, &r.prompt, err)) ||
        (rc = dup_field(s, name, line, "attached_file", 0, &attached, err)))
        goto out;
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "response_%d", i + 1);
        if ((rc = dup_field(s, name, line, key, 1, &r.response[i], err))) goto out;
        for (int h = 0; h < 2; h++) {
            snprintf(key, sizeof key, "response_%d_human_%d_rating", i + 1, h + 1);
            char nb[64], *end = NULL;
            const char *v;
            if (field(s, key, nb, sizeof nb, &v) || !v || !v[0]) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: line %d: field %s: expected a rating from 1 to 5", name, line, key);
                goto out;
            }
            double d = strtod(v, &end);
            while (end && isspace((unsigned char)*end)) end++;
            if (!end || *end || !(d >= 1 && d <= 5)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: line %d: field %s: expected a rating from 1 to 5, got \"%.20s\"",
                                name, line, key, v);
                goto out;
            }
            r.rating[i][h] = d;
            snprintf(key, sizeof key, "response_%d_human_%d_explanation", i + 1, h + 1);
            if ((rc = dup_field(s, name, line, key, 0, &r.explanation[i][h], err))) goto out;
        }
    }
    if (dir && (rc = read_attachment(name, line, dir, r.prompt_id, &r.attachment, attached[0] != 0, err))) goto out;
    if (c->n == c->cap) {
        int nc = c->cap ? 2 * c->cap : 16;
        cb_crosseval_row *nr = realloc(c->rows, (size_t)nc * sizeof *nr);
        if (!nr) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
        c->rows = nr, c->cap = nc;
    }
    c->rows[c->n++] = r;
    memset(&r, 0, sizeof r);
out:
    free(attached);
    row_free(&r);
    return rc;
}

int cb_crosseval_parse(const char *name, const char *text, size_t len, const char *dir, cb_crosseval **out,
                       cb_err *err) {
    *out = NULL;
    cb_crosseval *c = calloc(1, sizeof *c);
    if (!c) return cb_err_set(err, CB_ENOMEM, "out of memory");
    int rc = 0;
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len && isspace((unsigned char)text[i])) i++;
    if (i < len && text[i] == '{') { /* JSONL */
        int line = 1;
        for (size_t p = 0; p < len && !rc;) {
            const char *nl = memchr(text + p, '\n', len - p);
            size_t n = nl ? (size_t)(nl - (text + p)) : len - p;
            size_t a = p, e = p + n;
            while (a < e && isspace((unsigned char)text[a])) a++;
            if (line == 1 && e - a >= 3 && memcmp(text + a, "\xEF\xBB\xBF", 3) == 0) a += 3;
            if (a < e) {
                const char *endp = NULL;
                cJSON *o = cJSON_ParseWithLengthOpts(text + a, e - a, &endp, 0);
                if (!o || !cJSON_IsObject(o)) {
                    size_t off = o ? 0 : (endp && endp >= text + a ? (size_t)(endp - (text + a)) : 0);
                    rc = cb_err_set(err, CB_EUSAGE, "%s: line %d: expected a JSON object%s (byte %zu of the line)", name,
                                    line, o ? "" : ", invalid JSON", off);
                } else {
                    src s = {o, NULL, 0};
                    rc = add_row(c, name, &s, line, dir, err);
                }
                cJSON_Delete(o);
            }
            p += n + (nl != NULL);
            line++;
        }
    } else {
        cb_csv csv;
        if ((rc = cb_csv_parse(name, text, len, &csv, err))) {
            if (rc == CB_EFORMAT) err->code = rc = CB_EUSAGE;
            goto out;
        }
        if (csv.nrows < 1 || cb_csv_col(&csv, "prompt_id") < 0 || cb_csv_col(&csv, "capability") < 0 ||
            cb_csv_col(&csv, "prompt") < 0)
            rc = cb_err_set(err, CB_EUSAGE,
                            "%s: line 1: expected a header with prompt_id, capability, prompt, response_1..3 and the "
                            "human ratings (TASKS.md 3.2)",
                            name);
        for (int r = 1; r < csv.nrows && !rc; r++) {
            src s = {NULL, &csv, r};
            rc = add_row(c, name, &s, csv.lines[r], dir, err);
        }
        cb_csv_free(&csv);
    }
    if (!rc && c->n == 0 && c->skipped_unsupported == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s: no item (expected JSONL objects or a CSV header and rows)", name);
out:
    if (rc) cb_crosseval_free(c);
    else *out = c;
    return rc;
}

int cb_crosseval_load(const char *path, cb_crosseval **out, cb_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = cb_read_file(path, &text, &len, err);
    if (rc) return rc;
    char *dir = strdup(path);
    if (!dir) {
        free(text);
        return cb_err_set(err, CB_ENOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    rc = cb_crosseval_parse(path, text, len, slash ? (dir[0] ? dir : "/") : ".", out, err);
    free(dir);
    free(text);
    return rc;
}

int cb_crosseval_count(const cb_crosseval *c, const char *subtask) {
    int n = 0;
    for (int i = 0; c && i < c->n; i++) n += strcmp(c->rows[i].subtask, subtask) == 0;
    return n;
}

const cb_crosseval_row *cb_crosseval_get(const cb_crosseval *c, const char *subtask, int64_t index) {
    for (int i = 0; c && i < c->n; i++)
        if (strcmp(c->rows[i].subtask, subtask) == 0 && index-- == 0) return &c->rows[i];
    return NULL;
}

int cb_crosseval_skipped_unsupported(const cb_crosseval *c) { return c ? c->skipped_unsupported : 0; }
