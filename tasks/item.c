/* tasks/item.c — the cb_item container: its string arena, the setters that
 * families use, JSON serialization and rebuilding, and grade dispatch.
 *
 * An item and everything it points to (id, turns, gold, request strings) live
 * in one arena of chunks, so creating and freeing an item costs a few mallocs
 * whatever its shape. Only `meta` is a separate cJSON tree. This file knows no
 * family rules; it calls the family's build_requests and grade slots.
 */
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(8) unsigned char data[];
} chunk;

struct cb_item_mem {
    chunk *head;
};

/* The item, its mem header and the first chunk share one allocation. */
#define FIRST_CHUNK 3072

typedef struct item_block {
    cb_item item;
    cb_item_mem mem;
    chunk first;
} item_block;

void *cb_item_alloc(cb_item *it, size_t size) {
    size = (size + 7) & ~(size_t)7;
    chunk *c = it->mem->head;
    if (c->cap - c->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        chunk *n = malloc(sizeof *n + cap);
        if (!n) return NULL;
        n->next = c;
        n->used = 0;
        n->cap = cap;
        it->mem->head = n;
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *cb_item_strdup(cb_item *it, const char *s, int64_t n) {
    size_t len = n < 0 ? strlen(s) : (size_t)n;
    char *d = cb_item_alloc(it, len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void cb_item_free(cb_item *it) {
    if (!it) return;
    item_block *b = (item_block *)it;
    chunk *c = b->mem.head;
    while (c && c != &b->first) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    cJSON_Delete(it->meta);
    free(b);
}

int cb_item_blank(const cb_task_family *f, const char *subtask, const char *setting, int64_t index,
                  uint64_t seed, cb_item **out, cb_err *err) {
    *out = NULL;
    item_block *b = malloc(sizeof *b + FIRST_CHUNK);
    if (!b) return cb_err_set(err, CB_ENOMEM, "item: out of memory");
    memset(b, 0, sizeof *b);
    b->first.cap = FIRST_CHUNK;
    b->mem.head = &b->first;
    cb_item *it = &b->item;
    it->mem = &b->mem;
    it->family = f;
    it->index = index;
    it->seed = seed;
    it->grader = CB_GRADER_RULE;
    char id[256];
    int n = snprintf(id, sizeof id, "%s/%s/%s/%" PRId64, f->name, subtask, setting, index);
    if (n < 0 || (size_t)n >= sizeof id) {
        cb_item_free(it);
        return cb_err_set(err, CB_EUSAGE, "item id too long: %s/%s/%s", f->name, subtask, setting);
    }
    it->id = cb_item_strdup(it, id, n);
    it->subtask = cb_item_strdup(it, subtask, -1);
    it->setting = cb_item_strdup(it, setting, -1);
    if (!it->id || !it->subtask || !it->setting) {
        cb_item_free(it);
        return cb_err_set(err, CB_ENOMEM, "item: out of memory");
    }
    *out = it;
    return 0;
}

int cb_item_set_turns(cb_item *it, const cb_turn *turns, int n) {
    cb_turn *t = cb_item_alloc(it, (size_t)n * sizeof *t);
    if (!t && n) return CB_ENOMEM;
    for (int i = 0; i < n; i++) {
        t[i].role = turns[i].role;
        t[i].text = cb_item_strdup(it, turns[i].text, -1);
        if (!t[i].text) return CB_ENOMEM;
    }
    it->turns = t;
    it->n_turns = n;
    return 0;
}

int cb_item_set_gold_int(cb_item *it, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    const char *g = cb_item_strdup(it, buf, n);
    if (!g) return CB_ENOMEM;
    it->gold = g;
    it->gold_type = CB_GOLD_INT;
    it->gold_int = v;
    return 0;
}

int cb_item_set_gold_str(cb_item *it, const char *s) {
    const char *g = cb_item_strdup(it, s, -1);
    if (!g) return CB_ENOMEM;
    it->gold = g;
    it->gold_type = CB_GOLD_STRING;
    it->gold_int = 0;
    return 0;
}

int cb_item_set_capabilities(cb_item *it, const char *a, const char *b) {
    it->capabilities[0] = cb_item_strdup(it, a, -1);
    it->capabilities[1] = b ? cb_item_strdup(it, b, -1) : NULL;
    if (!it->capabilities[0] || (b && !it->capabilities[1])) return CB_ENOMEM;
    it->n_capabilities = b ? 2 : 1;
    return 0;
}

int cb_item_meta_int(const cb_item *it, const char *key, int def) {
    const cJSON *j = it->meta ? cJSON_GetObjectItemCaseSensitive(it->meta, key) : NULL;
    return cJSON_IsNumber(j) ? (int)j->valuedouble : def;
}

const char *cb_item_meta_str(const cb_item *it, const char *key, const char *def) {
    const cJSON *j = it->meta ? cJSON_GetObjectItemCaseSensitive(it->meta, key) : NULL;
    return cJSON_IsString(j) ? j->valuestring : def;
}

void cb_item_set_reqs(cb_item *it, cb_treq *reqs, int n) {
    it->reqs = reqs;
    it->n_reqs = n;
}

int cb_item_append_reqs(cb_item *it, const cb_treq *reqs, int n) {
    if (n <= 0) return 0;
    /* a new array in the arena each time: rounds are few and small */
    cb_treq *all = cb_item_alloc(it, (size_t)(it->n_reqs + n) * sizeof *all);
    if (!all) return CB_ENOMEM;
    if (it->n_reqs) memcpy(all, it->reqs, (size_t)it->n_reqs * sizeof *all);
    memcpy(all + it->n_reqs, reqs, (size_t)n * sizeof *all);
    it->reqs = all;
    it->n_reqs += n;
    return 0;
}

int cb_item_next_round(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge, int *added,
                       cb_err *err) {
    *added = 0;
    if (!it->family->next_round) return 0;
    if (n_resps != it->n_reqs)
        return cb_err_set(err, CB_EUSAGE, "%s: %d responses for %d requests", it->id, n_resps, it->n_reqs);
    int before = it->n_reqs;
    int rc = it->family->next_round(it, resps, n_resps, round, have_judge, err);
    if (!rc) *added = it->n_reqs - before;
    return rc;
}

/* ---- names ---- */

static const char *const role_names[] = {"system", "user", "assistant"};

const char *cb_turn_role_name(cb_turn_role r) {
    return (unsigned)r < 3 ? role_names[r] : "?";
}

int cb_turn_role_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, role_names[i]) == 0) return i;
    return -1;
}

static const char *const grader_names[] = {"rule", "judge", "logprob"};

const char *cb_grader_kind_name(cb_grader_kind k) { return (unsigned)k < 3 ? grader_names[k] : "?"; }

/* ---- JSON ---- */

cJSON *cb_item_to_json(const cb_item *it) {
    cJSON *o = cJSON_CreateObject(), *turns, *caps, *meta;
    char seed[24];
    if (!o) return NULL;
    snprintf(seed, sizeof seed, "%" PRIu64, it->seed);
    if (!cJSON_AddStringToObject(o, "id", it->id) || !cJSON_AddStringToObject(o, "seed", seed)) goto fail;
    if (!(turns = cJSON_AddArrayToObject(o, "turns"))) goto fail;
    for (int i = 0; i < it->n_turns; i++) {
        cJSON *t = cJSON_CreateObject();
        if (!t || !cJSON_AddItemToArray(turns, t)) {
            cJSON_Delete(t);
            goto fail;
        }
        if (!cJSON_AddStringToObject(t, "role", cb_turn_role_name(it->turns[i].role)) ||
            !cJSON_AddStringToObject(t, "text", it->turns[i].text))
            goto fail;
    }
    if (it->gold_type == CB_GOLD_INT) {
        if (!cJSON_AddNumberToObject(o, "gold", (double)it->gold_int)) goto fail;
    } else if (!cJSON_AddStringToObject(o, "gold", it->gold ? it->gold : "")) {
        goto fail;
    }
    if (!cJSON_AddStringToObject(o, "grader", cb_grader_kind_name(it->grader))) goto fail;
    if (!(caps = cJSON_AddArrayToObject(o, "capabilities"))) goto fail;
    for (int i = 0; i < it->n_capabilities; i++) {
        cJSON *s = cJSON_CreateString(it->capabilities[i]);
        if (!s || !cJSON_AddItemToArray(caps, s)) {
            cJSON_Delete(s);
            goto fail;
        }
    }
    meta = it->meta ? cJSON_Duplicate(it->meta, 1) : cJSON_CreateObject();
    if (!meta || !cJSON_AddItemToObject(o, "meta", meta)) {
        cJSON_Delete(meta);
        goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *cb_item_to_jsonl(const cb_item *it) {
    cJSON *j = cb_item_to_json(it);
    if (!j) return NULL;
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Parses a u64 from a decimal string, or an integral JSON number below 2^53. */
static int parse_seed(const cJSON *v, uint64_t *out) {
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!*s || *s < '0' || *s > '9') return -1;
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno || *end) return -1;
        *out = x;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d < 0 || d > 9007199254740992.0 || d != (double)(uint64_t)d) return -1;
        *out = (uint64_t)d;
        return 0;
    }
    return -1;
}

int cb_item_from_json(const cJSON *j, const char *where, cb_item **out, cb_err *err) {
    *out = NULL;
    cb_item *it = NULL;
    int rc = 0;
    if (!where) where = "item";
    if (!cJSON_IsObject(j)) return cb_err_set(err, CB_EFORMAT, "%s: expected a JSON object", where);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    if (!cJSON_IsString(jid))
        return cb_err_set(err, CB_EFORMAT, "%s: field \"id\": expected a string family/subtask/setting/index",
                          where);
    /* split the id into its four parts */
    char parts[4][128];
    const char *p = jid->valuestring;
    for (int k = 0; k < 4; k++) {
        const char *slash = k < 3 ? strchr(p, '/') : p + strlen(p);
        size_t len = slash ? (size_t)(slash - p) : 0;
        if (!slash || len == 0 || len >= sizeof parts[k] || (k == 3 && strchr(p, '/')))
            return cb_err_set(err, CB_EFORMAT,
                              "%s: field \"id\": expected family/subtask/setting/index, got \"%.200s\"", where,
                              jid->valuestring);
        memcpy(parts[k], p, len);
        parts[k][len] = '\0';
        p = slash + (k < 3);
    }
    const cb_task_family *f = cb_task_family_find(parts[0]);
    if (!f) return cb_err_set(err, CB_EUSAGE, "%s: field \"id\": unknown task family \"%s\"", where, parts[0]);
    if (cb_task_family_subtask(f, parts[1]) < 0)
        return cb_err_set(err, CB_EFORMAT, "%s: field \"id\": unknown subtask \"%s\" of family %s", where,
                          parts[1], f->name);
    if (cb_task_family_setting(f, parts[2]) < 0)
        return cb_err_set(err, CB_EFORMAT, "%s: field \"id\": unknown setting \"%s\" of family %s", where,
                          parts[2], f->name);
    char *end;
    errno = 0;
    long long index = strtoll(parts[3], &end, 10);
    if (errno || *end || index < 0 || parts[3][0] < '0' || parts[3][0] > '9')
        return cb_err_set(err, CB_EFORMAT, "%s: field \"id\": index \"%s\" is not a non-negative integer", where,
                          parts[3]);
    uint64_t seed;
    if (parse_seed(cJSON_GetObjectItemCaseSensitive(j, "seed"), &seed))
        return cb_err_set(err, CB_EFORMAT, "%s: field \"seed\": expected a decimal u64 string", where);
    rc = cb_item_blank(f, parts[1], parts[2], index, seed, &it, err);
    if (rc) return rc;

    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(j, "turns");
    int nt = cJSON_IsArray(jt) ? cJSON_GetArraySize(jt) : 0;
    if (nt <= 0) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"turns\": expected a non-empty array of {role, text}", where);
        goto out;
    }
    cb_turn *turns = cb_item_alloc(it, (size_t)nt * sizeof *turns);
    if (!turns) goto oom;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, jt) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(t, "role");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(t, "text");
        int r = cJSON_IsString(role) ? cb_turn_role_parse(role->valuestring) : -1;
        if (r < 0 || !cJSON_IsString(text)) {
            rc = cb_err_set(err, CB_EFORMAT,
                            "%s: field \"turns[%d]\": expected {\"role\": system|user|assistant, \"text\": string}",
                            where, i);
            goto out;
        }
        turns[i].role = (cb_turn_role)r;
        if (!(turns[i].text = cb_item_strdup(it, text->valuestring, -1))) goto oom;
        i++;
    }
    it->turns = turns;
    it->n_turns = nt;

    const cJSON *jg = cJSON_GetObjectItemCaseSensitive(j, "gold");
    if (cJSON_IsNumber(jg)) {
        double d = jg->valuedouble;
        if (d != (double)(int64_t)d || d > 9007199254740992.0 || d < -9007199254740992.0) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: field \"gold\": expected an integer or a string", where);
            goto out;
        }
        if (cb_item_set_gold_int(it, (int64_t)d)) goto oom;
    } else if (cJSON_IsString(jg)) {
        if (cb_item_set_gold_str(it, jg->valuestring)) goto oom;
    } else {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"gold\": expected an integer or a string", where);
        goto out;
    }

    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(j, "grader");
    int gk = -1;
    for (int k = 0; cJSON_IsString(jk) && k < 3; k++)
        if (strcmp(jk->valuestring, grader_names[k]) == 0) gk = k;
    if (gk < 0) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"grader\": expected \"rule\", \"judge\" or \"logprob\"", where);
        goto out;
    }
    it->grader = (cb_grader_kind)gk;

    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(j, "capabilities");
    int nc = cJSON_IsArray(jc) ? cJSON_GetArraySize(jc) : 0;
    const cJSON *c0 = nc >= 1 ? cJSON_GetArrayItem(jc, 0) : NULL, *c1 = nc == 2 ? cJSON_GetArrayItem(jc, 1) : NULL;
    if (nc < 1 || nc > 2 || !cJSON_IsString(c0) || (c1 && !cJSON_IsString(c1))) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"capabilities\": expected an array of 1 or 2 strings", where);
        goto out;
    }
    if (cb_item_set_capabilities(it, c0->valuestring, c1 ? c1->valuestring : NULL)) goto oom;

    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "meta");
    if (!cJSON_IsObject(jm)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"meta\": expected an object", where);
        goto out;
    }
    if (!(it->meta = cJSON_Duplicate(jm, 1))) goto oom;

    if (f->build_requests && (rc = f->build_requests(it, err)) != 0) {
        cb_err_prefix(err, "%s: ", where);
        goto out;
    }
    *out = it;
    it = NULL;
    goto out;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
out:
    cb_item_free(it);
    return rc;
}

int cb_item_grade(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                  cb_err *err) {
    cb_grade_init(out);
    if (n_resps != it->n_reqs)
        return cb_err_set(err, CB_EUSAGE, "%s: %d responses for %d requests", it->id, n_resps, it->n_reqs);
    return it->family->grade(g, it, resps, n_resps, out, err);
}
