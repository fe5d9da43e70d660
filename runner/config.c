/* runner/config.c — parse and validate suite configs (schema in config.h).
 *
 * Validation is strict: unknown keys, wrong types and out-of-range values are
 * refused with the JSON path. Family-specific checks (does this family exist,
 * are these its subtasks, settings and params) are delegated to the task
 * registry so that this file never learns a task's rules.
 */
#include "runner/config.h"

#include "common/url.h"

#include "common/sha256.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *file;
    cb_err *err;
} vctx;

static int bad(vctx *v, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(vctx *v, const char *path, const char *fmt, ...) {
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return cb_err_set(v->err, CB_EUSAGE, "%s: %s: %s", v->file, path, what);
}

/* Short printable description of a JSON value for "got ..." messages. */
static void describe(const cJSON *j, char *buf, size_t cap) {
    if (!j) {
        snprintf(buf, cap, "nothing");
    } else if (cJSON_IsString(j)) {
        snprintf(buf, cap, "\"%.40s\"%s", j->valuestring, strlen(j->valuestring) > 40 ? "..." : "");
    } else if (cJSON_IsNumber(j)) {
        snprintf(buf, cap, "%.17g", j->valuedouble);
    } else if (cJSON_IsBool(j)) {
        snprintf(buf, cap, "%s", cJSON_IsTrue(j) ? "true" : "false");
    } else if (cJSON_IsNull(j)) {
        snprintf(buf, cap, "null");
    } else if (cJSON_IsArray(j)) {
        snprintf(buf, cap, "an array");
    } else {
        snprintf(buf, cap, "an object");
    }
}

static int check_keys(vctx *v, const cJSON *obj, const char *path, const char *const *allowed) {
    if (!cJSON_IsObject(obj)) {
        char got[64];
        describe(obj, got, sizeof got);
        return bad(v, path, "expected an object, got %s", got);
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (c->string && strcmp(c->string, allowed[i]) == 0) ok = 1;
        if (!ok) {
            char list[400] = "";
            size_t used = 0;
            for (int i = 0; allowed[i]; i++)
                used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
                                         i ? ", " : "", allowed[i]);
            return bad(v, path, "unknown key \"%s\" (expected one of: %s)", c->string ? c->string : "?", list);
        }
        for (const cJSON *d = c->next; d; d = d->next)
            if (d->string && c->string && strcmp(c->string, d->string) == 0)
                return bad(v, path, "key \"%s\" appears twice", c->string);
    }
    return 0;
}

static int get_int(vctx *v, const cJSON *obj, const char *key, const char *path, int64_t lo, int64_t hi,
                   int64_t *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < (double)lo ||
        j->valuedouble > (double)hi) {
        describe(j, got, sizeof got);
        return bad(v, p, "expected an integer from %lld to %lld, got %s", (long long)lo, (long long)hi, got);
    }
    *out = (int64_t)j->valuedouble;
    return 0;
}

/* Seeds are u64: accept a non-negative integer number (exact up to 2^53) or a
 * decimal string for larger values. */
static int get_seed(vctx *v, const cJSON *obj, const char *key, const char *path, uint64_t *out, int *present) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= 9007199254740992.0 &&
        j->valuedouble == floor(j->valuedouble)) {
        *out = (uint64_t)j->valuedouble;
    } else if (cJSON_IsString(j) && j->valuestring[0] >= '0' && j->valuestring[0] <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(j->valuestring, &end, 10);
        if (errno || *end) {
            describe(j, got, sizeof got);
            return bad(v, p, "expected an unsigned 64-bit integer, got %s", got);
        }
        *out = x;
    } else {
        describe(j, got, sizeof got);
        return bad(v, p, "expected a non-negative integer (or a decimal string for values above 2^53), got %s",
                   got);
    }
    if (present) *present = 1;
    return 0;
}

static int get_num(vctx *v, const cJSON *obj, const char *key, const char *path, double lo, double hi,
                   double *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= lo && j->valuedouble <= hi)) {
        describe(j, got, sizeof got);
        return bad(v, p, "expected a number from %g to %g, got %s", lo, hi, got);
    }
    *out = j->valuedouble;
    return 0;
}

/* String (or null when allow_null) into a malloc'd copy. */
static int get_str(vctx *v, const cJSON *obj, const char *key, const char *path, int allow_null, char **out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    if (allow_null && cJSON_IsNull(j)) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(j) || !j->valuestring[0]) {
        describe(j, got, sizeof got);
        return bad(v, p, "expected a non-empty string%s, got %s", allow_null ? " or null" : "", got);
    }
    if (cb_cfg_set_str(out, j->valuestring)) return cb_err_set(v->err, CB_ENOMEM, "out of memory");
    return 0;
}

static int get_enum(vctx *v, const cJSON *obj, const char *key, const char *path, const char *const *choices,
                    char *out, size_t cap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64], list[200] = "";
    snprintf(p, sizeof p, "%s.%s", path, key);
    size_t used = 0;
    for (int i = 0; choices[i]; i++) {
        if (cJSON_IsString(j) && strcmp(j->valuestring, choices[i]) == 0) {
            snprintf(out, cap, "%s", choices[i]);
            return 0;
        }
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s\"%s\"",
                                 i ? ", " : "", choices[i]);
    }
    describe(j, got, sizeof got);
    return bad(v, p, "expected one of %s, got %s", list, got);
}

int cb_cfg_set_str(char **field, const char *value) {
    char *copy = NULL;
    if (value && !(copy = strdup(value))) return CB_ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

void cb_model_cfg_defaults(cb_model_cfg *m, const char *backend) {
    free(m->path);
    free(m->chat_template);
    free(m->base_url);
    free(m->model_name);
    free(m->api_key_env);
    memset(m, 0, sizeof *m);
    snprintf(m->backend, sizeof m->backend, "%s", backend);
    snprintf(m->device, sizeof m->device, "cpu");
    m->threads = 0;
    m->n_ctx = 2048;
    m->max_seqs = 32;
    m->chat_template = strdup("auto");
    snprintf(m->mode, sizeof m->mode, "chat");
    m->concurrency = 8;
    m->timeout_s = 120;
    m->connect_timeout_s = 10;
    m->max_retries = 2;
    m->max_response_bytes = 8 << 20;
}

static void model_cfg_clear(cb_model_cfg *m) {
    free(m->path);
    free(m->chat_template);
    free(m->base_url);
    free(m->model_name);
    free(m->api_key_env);
    memset(m, 0, sizeof *m);
}

static int parse_model(vctx *v, const cJSON *obj, const char *path, cb_model_cfg *m) {
    static const char *const keys[] = {"backend", "path", "device", "threads", "n_ctx", "max_seqs",
                                       "chat_template", "base_url", "model", "api_key_env", "mode",
                                       "concurrency", "timeout_s", "connect_timeout_s", "max_retries",
                                       "max_response_bytes", "logprobs", NULL};
    static const char *const backends[] = {"local", "openai", NULL};
    static const char *const devices[] = {"cpu", "cuda", NULL};
    static const char *const modes[] = {"chat", "completions", NULL};
    int rc = check_keys(v, obj, path, keys);
    if (rc) return rc;
    char backend[16] = "local";
    if ((rc = get_enum(v, obj, "backend", path, backends, backend, sizeof backend))) return rc;
    cb_model_cfg_defaults(m, backend);
    int64_t x;
    double d;
    if ((rc = get_str(v, obj, "path", path, 1, &m->path))) return rc;
    if ((rc = get_enum(v, obj, "device", path, devices, m->device, sizeof m->device))) return rc;
    x = m->threads;
    if ((rc = get_int(v, obj, "threads", path, 0, 1024, &x))) return rc;
    m->threads = (int)x;
    x = m->n_ctx;
    if ((rc = get_int(v, obj, "n_ctx", path, 16, 1 << 20, &x))) return rc;
    m->n_ctx = (int)x;
    x = m->max_seqs;
    if ((rc = get_int(v, obj, "max_seqs", path, 1, 4096, &x))) return rc;
    m->max_seqs = (int)x;
    if ((rc = get_str(v, obj, "chat_template", path, 0, &m->chat_template))) return rc;
    if ((rc = get_str(v, obj, "base_url", path, 0, &m->base_url))) return rc;
    if ((rc = get_str(v, obj, "model", path, 0, &m->model_name))) return rc;
    if ((rc = get_str(v, obj, "api_key_env", path, 1, &m->api_key_env))) return rc;
    if ((rc = get_enum(v, obj, "mode", path, modes, m->mode, sizeof m->mode))) return rc;
    x = m->concurrency;
    if ((rc = get_int(v, obj, "concurrency", path, 1, 1024, &x))) return rc;
    m->concurrency = (int)x;
    d = m->timeout_s;
    if ((rc = get_num(v, obj, "timeout_s", path, 0.001, 86400, &d))) return rc;
    m->timeout_s = d;
    d = m->connect_timeout_s;
    if ((rc = get_num(v, obj, "connect_timeout_s", path, 0.001, 3600, &d))) return rc;
    m->connect_timeout_s = d;
    x = m->max_retries;
    if ((rc = get_int(v, obj, "max_retries", path, 0, 100, &x))) return rc;
    m->max_retries = (int)x;
    x = m->max_response_bytes;
    if ((rc = get_int(v, obj, "max_response_bytes", path, 1024, (int64_t)1 << 34, &x))) return rc;
    m->max_response_bytes = x;
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(obj, "logprobs");
    if (lp) {
        if (!cJSON_IsBool(lp)) {
            char p[256], got[64];
            snprintf(p, sizeof p, "%s.logprobs", path);
            describe(lp, got, sizeof got);
            return bad(v, p, "expected true or false, got %s", got);
        }
        m->logprobs = cJSON_IsTrue(lp);
    }
    if (m->api_key_env) {
        for (const char *c = m->api_key_env; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                return bad(v, path,
                           "api_key_env must be the NAME of an environment variable ([A-Za-z0-9_]+), "
                           "not a key");
    }
    if (strcmp(m->backend, "openai") == 0) {
        if (!m->base_url) return bad(v, path, "backend \"openai\" needs \"base_url\"");
        if (!m->model_name) return bad(v, path, "backend \"openai\" needs \"model\" (the served model name)");
        if (strncmp(m->base_url, "http://", 7) != 0 && strncmp(m->base_url, "https://", 8) != 0)
            return bad(v, path, "base_url: expected an http:// or https:// URL, got \"%.60s\"", m->base_url);
    }
    return 0;
}

static int parse_names(vctx *v, const cJSON *obj, const char *key, const char *path, char ***out, int *n) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) return 0;
    char p[256], got[64];
    snprintf(p, sizeof p, "%s.%s", path, key);
    int count = cJSON_GetArraySize(j);
    if (!cJSON_IsArray(j) || count < 1) {
        describe(j, got, sizeof got);
        return bad(v, p, "expected a non-empty array of strings, got %s", got);
    }
    char **names = calloc((size_t)count, sizeof *names);
    if (!names) return cb_err_set(v->err, CB_ENOMEM, "out of memory");
    *out = names;
    *n = count;
    int i = 0;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            char pe[300];
            snprintf(pe, sizeof pe, "%s[%d]", p, i);
            describe(e, got, sizeof got);
            return bad(v, pe, "expected a non-empty string, got %s", got);
        }
        for (int k = 0; k < i; k++)
            if (strcmp(names[k], e->valuestring) == 0) {
                char pe[300];
                snprintf(pe, sizeof pe, "%s[%d]", p, i);
                return bad(v, pe, "\"%s\" is listed twice", e->valuestring);
            }
        if (!(names[i] = strdup(e->valuestring))) return cb_err_set(v->err, CB_ENOMEM, "out of memory");
    }
    return 0;
}

static int parse_task(vctx *v, const cJSON *obj, const char *path, uint64_t suite_seed, cb_task_cfg *t) {
    static const char *const keys[] = {"family", "label", "subtasks", "settings", "n", "seed", "params", NULL};
    int rc = check_keys(v, obj, path, keys);
    if (rc) return rc;
    if (!cJSON_GetObjectItemCaseSensitive(obj, "family"))
        return bad(v, path, "missing required key \"family\"");
    if ((rc = get_str(v, obj, "family", path, 0, &t->family))) return rc;
    if ((rc = get_str(v, obj, "label", path, 0, &t->label))) return rc;
    if (t->label)
        for (const char *c = t->label; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                  *c == '-'))
                return bad(v, path, "label: expected letters, digits, '_' or '-', got \"%.40s\"", t->label);
    if (!cJSON_GetObjectItemCaseSensitive(obj, "n"))
        return bad(v, path, "missing required key \"n\" (items per subtask and setting)");
    if ((rc = get_int(v, obj, "n", path, 1, 10000000, &t->n))) return rc;
    t->seed = suite_seed;
    if ((rc = get_seed(v, obj, "seed", path, &t->seed, &t->has_seed))) return rc;
    if ((rc = parse_names(v, obj, "subtasks", path, &t->subtasks, &t->n_subtasks))) return rc;
    if ((rc = parse_names(v, obj, "settings", path, &t->settings, &t->n_settings))) return rc;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(obj, "params");
    if (params) {
        char p[256], got[64];
        snprintf(p, sizeof p, "%s.params", path);
        if (!cJSON_IsObject(params)) {
            describe(params, got, sizeof got);
            return bad(v, p, "expected an object, got %s", got);
        }
        if (!(t->params = cJSON_Duplicate(params, 1))) return cb_err_set(v->err, CB_ENOMEM, "out of memory");
    }
    /* family, subtask, setting and params rules belong to the registry: build
     * the spec once to validate (the scheduler rebuilds it after overrides) */
    cb_err terr;
    cb_err_clear(&terr);
    cb_task_spec *spec = NULL;
    rc = cb_task_spec_new(t->family, (const char *const *)t->subtasks, t->n_subtasks,
                          (const char *const *)t->settings, t->n_settings, t->n, t->seed, t->params, path, &spec,
                          &terr);
    cb_task_spec_free(spec);
    if (rc) return cb_err_set(v->err, terr.code == CB_ENOMEM ? CB_ENOMEM : CB_EUSAGE, "%s: %s", v->file, terr.msg);
    return 0;
}

int cb_suite_parse(const char *name, const char *text, size_t len, cb_suite **out, cb_err *err) {
    static const char *const keys[] = {"name", "seed", "db", "batch_size", "model", "judge",
                                       "generation", "tasks", NULL};
    static const char *const gen_keys[] = {"temperature", "top_p", "top_k", "max_tokens", NULL};
    vctx v = {name, err};
    int rc = 0;
    *out = NULL;
    cb_suite *s = calloc(1, sizeof *s);
    cJSON *root = NULL;
    if (!s) return cb_err_set(err, CB_ENOMEM, "out of memory");
    s->file = strdup(name);
    s->db = strdup("results.db");
    s->batch_size = 64;
    s->top_p = 1.0f;
    cb_model_cfg_defaults(&s->model, "local");
    if (!s->file || !s->db) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }

    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        rc = cb_err_set(err, CB_EUSAGE, "%s: invalid JSON near line %zu, column %zu (byte %zu)", name, line, col,
                        off);
        goto out;
    }
    if ((rc = check_keys(&v, root, "$", keys))) goto out;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char stem[128];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot) *dot = '\0';
    s->name = strdup(stem);
    if ((rc = get_str(&v, root, "name", "$", 0, &s->name))) goto out;
    if ((rc = get_seed(&v, root, "seed", "$", &s->seed, NULL))) goto out;
    if ((rc = get_str(&v, root, "db", "$", 0, &s->db))) goto out;
    int64_t x = s->batch_size;
    if ((rc = get_int(&v, root, "batch_size", "$", 1, 65536, &x))) goto out;
    s->batch_size = (int)x;

    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && (rc = parse_model(&v, model, "$.model", &s->model))) goto out;
    const cJSON *judge = cJSON_GetObjectItemCaseSensitive(root, "judge");
    if (judge && !cJSON_IsNull(judge)) {
        if ((rc = parse_model(&v, judge, "$.judge", &s->judge))) goto out;
        s->has_judge = 1;
    }
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(root, "generation");
    if (gen) {
        if ((rc = check_keys(&v, gen, "$.generation", gen_keys))) goto out;
        double d = s->temperature;
        if ((rc = get_num(&v, gen, "temperature", "$.generation", 0, 10, &d))) goto out;
        if (cJSON_GetObjectItemCaseSensitive(gen, "temperature")) s->gen_set |= CB_GEN_TEMPERATURE;
        if (cJSON_GetObjectItemCaseSensitive(gen, "top_p")) s->gen_set |= CB_GEN_TOP_P;
        if (cJSON_GetObjectItemCaseSensitive(gen, "top_k")) s->gen_set |= CB_GEN_TOP_K;
        if (cJSON_GetObjectItemCaseSensitive(gen, "max_tokens")) s->gen_set |= CB_GEN_MAX_TOKENS;
        s->temperature = (float)d;
        d = s->top_p;
        if ((rc = get_num(&v, gen, "top_p", "$.generation", 0.000001, 1, &d))) goto out;
        s->top_p = (float)d;
        x = s->top_k;
        if ((rc = get_int(&v, gen, "top_k", "$.generation", 0, 1 << 20, &x))) goto out;
        s->top_k = (int)x;
        x = s->max_tokens;
        if ((rc = get_int(&v, gen, "max_tokens", "$.generation", 1, 1 << 20, &x))) goto out;
        s->max_tokens = (int)x;
    }

    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
    if (!tasks) {
        rc = bad(&v, "$", "missing required key \"tasks\" (a non-empty array of task entries)");
        goto out;
    }
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) < 1) {
        char got[64];
        describe(tasks, got, sizeof got);
        rc = bad(&v, "$.tasks", "expected a non-empty array of task entries, got %s", got);
        goto out;
    }
    s->n_tasks = cJSON_GetArraySize(tasks);
    if (!(s->tasks = calloc((size_t)s->n_tasks, sizeof *s->tasks))) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    int i = 0;
    for (const cJSON *t = tasks->child; t; t = t->next, i++) {
        char p[64];
        snprintf(p, sizeof p, "$.tasks[%d]", i);
        if ((rc = parse_task(&v, t, p, s->seed, &s->tasks[i]))) goto out;
        for (int k = 0; k < i; k++) {
            const cb_task_cfg *a = &s->tasks[k], *b = &s->tasks[i];
            if (strcmp(a->family, b->family) == 0 &&
                strcmp(a->label ? a->label : "", b->label ? b->label : "") == 0) {
                rc = bad(&v, p,
                         "a second \"%s\" entry needs a distinct \"label\" (otherwise its items would share "
                         "ids with $.tasks[%d])",
                         b->family, k);
                goto out;
            }
        }
    }
    *out = s;
    s = NULL;
out:
    cJSON_Delete(root);
    cb_suite_free(s);
    return rc;
}

int cb_suite_load(const char *path, cb_suite **out, cb_err *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cb_err_set(err, CB_EUSAGE, "%s: is a directory, expected a suite config file (JSON)", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cb_err_set(err, CB_EUSAGE, "%s: cannot open suite config: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len + 4096 > cap) {
            if (cap > (64u << 20)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: suite config larger than 64 MiB", path);
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = cb_err_set(err, CB_ENOMEM, "out of memory");
                goto out;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        rc = cb_err_set(err, CB_EIO, "%s: read error", path);
        goto out;
    }
    rc = cb_suite_parse(path, buf, len, out, err);
out:
    fclose(f);
    free(buf);
    return rc;
}

void cb_suite_free(cb_suite *s) {
    if (!s) return;
    free(s->file);
    free(s->name);
    free(s->db);
    model_cfg_clear(&s->model);
    model_cfg_clear(&s->judge);
    for (int i = 0; i < s->n_tasks; i++) {
        cb_task_cfg *t = &s->tasks[i];
        free(t->family);
        free(t->label);
        for (int k = 0; k < t->n_subtasks; k++) free(t->subtasks[k]);
        free(t->subtasks);
        for (int k = 0; k < t->n_settings; k++) free(t->settings[k]);
        free(t->settings);
        cJSON_Delete(t->params);
    }
    free(s->tasks);
    free(s);
}

static cJSON *model_json(const cb_model_cfg *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "backend", m->backend);
    if (strcmp(m->backend, "local") == 0) {
        if (m->path)
            cJSON_AddStringToObject(o, "path", m->path);
        else
            cJSON_AddNullToObject(o, "path");
        cJSON_AddStringToObject(o, "device", m->device);
        cJSON_AddNumberToObject(o, "n_ctx", m->n_ctx);
        cJSON_AddStringToObject(o, "chat_template", m->chat_template ? m->chat_template : "auto");
    } else {
        /* credentials inside the URL never reach a stored config (or its hash) */
        char url[1024];
        cb_url_redact(m->base_url ? m->base_url : "", url, sizeof url);
        cJSON_AddStringToObject(o, "base_url", url);
        cJSON_AddStringToObject(o, "model", m->model_name ? m->model_name : "");
        if (m->api_key_env)
            cJSON_AddStringToObject(o, "api_key_env", m->api_key_env);
        else
            cJSON_AddNullToObject(o, "api_key_env");
        cJSON_AddStringToObject(o, "mode", m->mode);
        cJSON_AddBoolToObject(o, "logprobs", m->logprobs);
    }
    return o;
}

/* Seeds as decimal strings so that u64 values survive JSON doubles. */
static void add_seed(cJSON *o, const char *key, uint64_t seed) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    cJSON_AddStringToObject(o, key, buf);
}

char *cb_suite_to_json(const cb_suite *s) {
    /* Only what determines the items, prompts and scores goes in: threads,
     * batch size, concurrency, timeouts and the db path do not change results
     * (the engine is batch- and thread-invariant), so they stay out of the hash. */
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "name", s->name ? s->name : "");
    add_seed(root, "seed", s->seed);
    cJSON_AddItemToObject(root, "model", model_json(&s->model));
    if (s->has_judge)
        cJSON_AddItemToObject(root, "judge", model_json(&s->judge));
    else
        cJSON_AddNullToObject(root, "judge");
    cJSON *gen = cJSON_AddObjectToObject(root, "generation");
    if (s->gen_set & CB_GEN_TEMPERATURE) cJSON_AddNumberToObject(gen, "temperature", s->temperature);
    if (s->gen_set & CB_GEN_TOP_P) cJSON_AddNumberToObject(gen, "top_p", s->top_p);
    if (s->gen_set & CB_GEN_TOP_K) cJSON_AddNumberToObject(gen, "top_k", s->top_k);
    if (s->gen_set & CB_GEN_MAX_TOKENS) cJSON_AddNumberToObject(gen, "max_tokens", s->max_tokens);
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (int i = 0; i < s->n_tasks; i++) {
        const cb_task_cfg *t = &s->tasks[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "family", t->family);
        if (t->label) cJSON_AddStringToObject(o, "label", t->label);
        if (t->subtasks)
            cJSON_AddItemToObject(o, "subtasks", cJSON_CreateStringArray((const char *const *)t->subtasks,
                                                                         t->n_subtasks));
        else
            cJSON_AddNullToObject(o, "subtasks");
        if (t->settings)
            cJSON_AddItemToObject(o, "settings", cJSON_CreateStringArray((const char *const *)t->settings,
                                                                         t->n_settings));
        else
            cJSON_AddNullToObject(o, "settings");
        cJSON_AddNumberToObject(o, "n", (double)t->n);
        add_seed(o, "seed", t->seed);
        if (t->params)
            cJSON_AddItemToObject(o, "params", cJSON_Duplicate(t->params, 1));
        else
            cJSON_AddNullToObject(o, "params");
        cJSON_AddItemToArray(tasks, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

void cb_suite_hash(const cb_suite *s, char hex[65]) {
    char *json = cb_suite_to_json(s);
    cb_sha256_hex(json ? json : "", json ? strlen(json) : 0, hex);
    free(json);
}

int cb_suite_task_spec(const cb_suite *s, int i, int64_t limit, cb_task_spec **out, cb_err *err) {
    const cb_task_cfg *t = &s->tasks[i];
    char path[64];
    snprintf(path, sizeof path, "$.tasks[%d]", i);
    int64_t n = limit > 0 && limit < t->n ? limit : t->n;
    int rc = cb_task_spec_new(t->family, (const char *const *)t->subtasks, t->n_subtasks,
                              (const char *const *)t->settings, t->n_settings, n, t->seed, t->params, path, out,
                              err);
    if (rc) cb_err_prefix(err, "%s: ", s->file);
    return rc;
}

void cb_suite_set_seed(cb_suite *s, uint64_t seed) {
    s->seed = seed;
    for (int i = 0; i < s->n_tasks; i++)
        if (!s->tasks[i].has_seed) s->tasks[i].seed = seed;
}
