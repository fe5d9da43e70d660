/* results/responses.c — encoding and decoding of a sample's responses_json,
 * flags_json and metrics_json columns (formats in responses.h).
 *
 * Plain translation between in-memory task/grader types and strings; the
 * store keeps the strings without looking inside.
 */
#include "results/responses.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cb_responses_to_json(const cb_task_resp *resps, int n) {
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    for (int i = 0; ok && i < n; i++) {
        const cb_task_resp *r = &resps[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            ok = 0;
            break;
        }
        cJSON_AddItemToArray(arr, o);
        ok = cJSON_AddBoolToObject(o, "ok", r->ok) != NULL;
        if (!r->ok) continue;
        if (ok && r->text) ok = cJSON_AddStringToObject(o, "text", r->text) != NULL;
        if (ok && r->truncated) ok = cJSON_AddTrueToObject(o, "truncated") != NULL;
        if (ok && r->text_ref && !r->text) ok = cJSON_AddTrueToObject(o, "text_ref") != NULL;
        if (ok && (r->n_tokens > 0 || r->logprob_sum != 0.0) && isfinite(r->logprob_sum)) {
            /* cJSON prints a double with 15 digits when it compares equal within an
             * epsilon, which loses the last bits: write all 17 */
            char num[32];
            snprintf(num, sizeof num, "%.17g", r->logprob_sum);
            ok = cJSON_AddRawToObject(o, "logprob_sum", num) &&
                 cJSON_AddNumberToObject(o, "n_tokens", (double)r->n_tokens);
        }
        /* per-token data (knowledge bits, BPC): exact doubles, integer spans */
        if (ok && r->n_tokens > 0 && r->token_logprobs) {
            cJSON *a = cJSON_AddArrayToObject(o, "token_logprobs");
            for (int k = 0; ok && a && k < r->n_tokens; k++) {
                char num[32];
                snprintf(num, sizeof num, "%.17g", r->token_logprobs[k]);
                cJSON *x = cJSON_CreateRaw(isfinite(r->token_logprobs[k]) ? num : "null");
                ok = x && cJSON_AddItemToArray(a, x);
            }
            ok = ok && a;
        }
        if (ok && r->n_tokens > 0 && r->token_spans) {
            cJSON *a = cJSON_AddArrayToObject(o, "token_spans");
            for (int k = 0; ok && a && k < 2 * r->n_tokens; k++) {
                cJSON *x = cJSON_CreateNumber((double)r->token_spans[k]);
                ok = x && cJSON_AddItemToArray(a, x);
            }
            ok = ok && a;
        }
    }
    char *s = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

void cb_resp_list_clear(cb_resp_list *l) {
    if (!l) return;
    free(l->r);
    for (int i = 0; i < l->n_arrays; i++) free(l->arrays[i]);
    free(l->arrays);
    cJSON_Delete(l->tree);
    memset(l, 0, sizeof *l);
}

int cb_responses_from_json(const char *json, cb_resp_list *out, cb_err *err) {
    int rc = 0;
    memset(out, 0, sizeof *out);
    cJSON *t = json ? cJSON_Parse(json) : NULL;
    if (!t || !cJSON_IsArray(t)) {
        cJSON_Delete(t);
        return cb_err_set(err, CB_EFORMAT, "responses_json: expected a JSON array of response objects");
    }
    int n = cJSON_GetArraySize(t);
    out->tree = t;
    out->r = calloc((size_t)(n ? n : 1), sizeof *out->r);
    if (!out->r) {
        rc = cb_err_set(err, CB_ENOMEM, "responses_json: out of memory");
        goto out;
    }
    out->n = n;
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, t) {
        cb_task_resp *r = &out->r[i];
        if (!cJSON_IsObject(o)) {
            rc = cb_err_set(err, CB_EFORMAT, "responses_json[%d]: expected an object", i);
            goto out;
        }
        const cJSON *okj = cJSON_GetObjectItemCaseSensitive(o, "ok");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
        const cJSON *trunc = cJSON_GetObjectItemCaseSensitive(o, "truncated");
        const cJSON *tref = cJSON_GetObjectItemCaseSensitive(o, "text_ref");
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "logprob_sum");
        const cJSON *nt = cJSON_GetObjectItemCaseSensitive(o, "n_tokens");
        if (!cJSON_IsBool(okj)) {
            rc = cb_err_set(err, CB_EFORMAT, "responses_json[%d].ok: expected true or false", i);
            goto out;
        }
        if ((text && !cJSON_IsString(text)) || (trunc && !cJSON_IsBool(trunc)) || (tref && !cJSON_IsBool(tref)) || (lp && !cJSON_IsNumber(lp)) ||
            (nt && (!cJSON_IsNumber(nt) || nt->valuedouble < 0 || nt->valuedouble > 2147483647.0))) {
            rc = cb_err_set(err, CB_EFORMAT,
                            "responses_json[%d]: expected text (string), truncated (bool), logprob_sum (number), "
                            "n_tokens (non-negative integer)",
                            i);
            goto out;
        }
        r->ok = cJSON_IsTrue(okj);
        r->text = text ? text->valuestring : NULL;
        r->truncated = trunc && cJSON_IsTrue(trunc);
        r->text_ref = tref && cJSON_IsTrue(tref) && !r->text;
        r->logprob_sum = lp ? lp->valuedouble : 0.0;
        r->n_tokens = nt ? (int)nt->valuedouble : 0;
        const cJSON *tl = cJSON_GetObjectItemCaseSensitive(o, "token_logprobs");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "token_spans");
        if ((tl && (!cJSON_IsArray(tl) || cJSON_GetArraySize(tl) != r->n_tokens)) ||
            (ts && (!cJSON_IsArray(ts) || cJSON_GetArraySize(ts) != 2 * r->n_tokens))) {
            rc = cb_err_set(err, CB_EFORMAT,
                            "responses_json[%d]: expected token_logprobs of n_tokens numbers and token_spans of "
                            "2 * n_tokens byte offsets",
                            i);
            goto out;
        }
        if (tl || ts) {
            void **na = realloc(out->arrays, (size_t)(out->n_arrays + 2) * sizeof *na);
            if (!na) {
                rc = cb_err_set(err, CB_ENOMEM, "responses_json: out of memory");
                goto out;
            }
            out->arrays = na;
        }
        if (tl) {
            double *v = malloc((size_t)(r->n_tokens ? r->n_tokens : 1) * sizeof *v);
            if (!v) {
                rc = cb_err_set(err, CB_ENOMEM, "responses_json: out of memory");
                goto out;
            }
            out->arrays[out->n_arrays++] = v;
            int k = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, tl) v[k++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
            r->token_logprobs = v;
        }
        if (ts) {
            int64_t *v = malloc((size_t)(r->n_tokens ? 2 * r->n_tokens : 1) * sizeof *v);
            if (!v) {
                rc = cb_err_set(err, CB_ENOMEM, "responses_json: out of memory");
                goto out;
            }
            out->arrays[out->n_arrays++] = v;
            int k = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, ts) {
                if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9.0e15 ||
                    x->valuedouble != floor(x->valuedouble)) {
                    rc = cb_err_set(err, CB_EFORMAT, "responses_json[%d].token_spans[%d]: expected a byte offset",
                                    i, k);
                    goto out;
                }
                v[k++] = (int64_t)x->valuedouble;
            }
            r->token_spans = v;
        }
        i++;
    }
out:
    if (rc) cb_resp_list_clear(out);
    return rc;
}

char *cb_grade_flags_json(const cb_grade *g) {
    char buf[512];
    size_t n = 0;
    buf[n++] = '[';
    for (int b = 0; b < CB_GRADE_NFLAGS && n < sizeof buf; b++) {
        if (!(g->flags & (1u << b))) continue;
        const char *name = cb_grade_flag_name(b);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\"", n > 1 ? "," : "", name ? name : "?");
    }
    if (n >= sizeof buf - 1) n = sizeof buf - 2; /* cannot happen with the known flag names */
    snprintf(buf + n, sizeof buf - n, "]");
    return strdup(buf);
}

char *cb_grade_metrics_json(const cb_grade *g) {
    /* names are static identifiers chosen by families: no escaping needed, but check */
    size_t cap = 64, n = 0;
    for (int i = 0; i < g->n_metrics; i++) cap += strlen(g->metrics[i].name) + 40;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[n++] = '{';
    for (int i = 0; i < g->n_metrics; i++) {
        double v = g->metrics[i].value;
        const char *name = g->metrics[i].name;
        if (!isfinite(v) || strpbrk(name, "\"\\")) continue;
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%.17g", n > 1 ? "," : "", name, v);
    }
    snprintf(buf + n, cap - n, "}");
    return buf;
}
