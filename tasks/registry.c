/* tasks/registry.c — the table of task families and task specs (a family plus
 * chosen subtasks, settings, item count, seed and validated params).
 *
 * Adding a family: declare its descriptor below and add one line to `families`.
 * Specs enumerate items by index only, so any item can be built alone (shards,
 * resume, regrade) and item i never depends on n.
 */
#include "tasks/task.h"

#include "common/rng.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const cb_task_family cb_family_counting;           /* tasks/counting.c */
extern const cb_task_family cb_family_skill_mix;          /* tasks/skill_mix.c */
extern const cb_task_family cb_family_cross_capability;   /* tasks/cross_capability.c */
extern const cb_task_family cb_family_structured_output;  /* tasks/structured_output.c */
extern const cb_task_family cb_family_knowledge_capacity; /* tasks/knowledge_capacity.c */

static const cb_task_family *const families[] = {
    &cb_family_counting,
    &cb_family_skill_mix,
    &cb_family_cross_capability,
    &cb_family_structured_output,
    &cb_family_knowledge_capacity,
};

const cb_task_family *const *cb_task_families(int *n) {
    *n = (int)(sizeof families / sizeof families[0]);
    return families;
}

const cb_task_family *cb_task_family_find(const char *name) {
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i]->name, name) == 0) return families[i];
    return NULL;
}

static int find_name(const char *const *list, const char *name) {
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0) return i;
    return -1;
}

int cb_task_family_subtask(const cb_task_family *f, const char *subtask) { return find_name(f->subtasks, subtask); }
int cb_task_family_setting(const cb_task_family *f, const char *setting) { return find_name(f->settings, setting); }

const char *cb_task_family_subtask_capability(const cb_task_family *f, const char *subtask) {
    int i = find_name(f->subtasks, subtask);
    return i < 0 ? NULL : f->subtask_capabilities[i];
}

uint64_t cb_task_item_seed(uint64_t task_seed, const char *family, const char *subtask, int64_t index) {
    /* fnv1a64 of "family/subtask" without building the string */
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)family; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    h = (h ^ '/') * 0x100000001b3ull;
    for (const unsigned char *p = (const unsigned char *)subtask; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return cb_splitmix64(task_seed ^ h ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull));
}

/* ---- specs ---- */

struct cb_task_spec {
    const cb_task_family *family;
    int *subtasks, n_subtasks; /* indices into family->subtasks */
    int *settings, n_settings; /* indices into family->settings */
    int64_t n;
    uint64_t seed;
    void *state;
};

void cb_task_spec_free(cb_task_spec *s) {
    if (!s) return;
    if (s->state && s->family->params_free) s->family->params_free(s->state);
    free(s->subtasks);
    free(s->settings);
    free(s);
}

/* "a, b, c" of a NULL-terminated list, for messages. */
static void join_names(const char *const *list, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; list[i] && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", list[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

static int pick_names(const cb_task_family *f, const char *const *list, const char *what, const char *key,
                      const char *const *names, int n, const char *path, int **out, int *n_out, cb_err *err) {
    int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!idx) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        int k = names[i] ? find_name(list, names[i]) : -1;
        if (k < 0) {
            char all[1024];
            join_names(list, all, sizeof all);
            free(idx);
            return cb_err_set(err, CB_EUSAGE, "%s.%s[%d]: unknown %s \"%s\" of family %s (expected one of %s)", path,
                              key, i, what, names[i] ? names[i] : "(null)", f->name, all);
        }
        for (int j = 0; j < i; j++) {
            if (idx[j] == k) {
                free(idx);
                return cb_err_set(err, CB_EUSAGE, "%s.%s[%d]: %s \"%s\" is listed twice", path, key, i, what,
                                  names[i]);
            }
        }
        idx[i] = k;
    }
    *out = idx;
    *n_out = n;
    return 0;
}

int cb_task_spec_new(const char *family, const char *const *subtasks, int n_subtasks, const char *const *settings,
                     int n_settings, int64_t n, uint64_t seed, const cJSON *params, const char *path,
                     cb_task_spec **out, cb_err *err) {
    *out = NULL;
    if (!path) path = "$";
    const cb_task_family *f = family ? cb_task_family_find(family) : NULL;
    if (!f) {
        char all[256] = "";
        size_t w = 0;
        for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
            int k = snprintf(all + w, sizeof all - w, "%s%s", i ? ", " : "", families[i]->name);
            if (k < 0 || (size_t)k >= sizeof all - w) break;
            w += (size_t)k;
        }
        return cb_err_set(err, CB_EUSAGE, "%s.family: unknown task family \"%s\" (expected one of %s)", path,
                          family ? family : "(null)", all);
    }
    if (n < 1) return cb_err_set(err, CB_EUSAGE, "%s.n: expected an item count >= 1, got %lld", path, (long long)n);
    cb_task_spec *s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    s->family = f;
    s->n = n;
    s->seed = seed;
    int rc;
    if (n_subtasks > 0 && subtasks) {
        rc = pick_names(f, f->subtasks, "subtask", "subtasks", subtasks, n_subtasks, path, &s->subtasks,
                        &s->n_subtasks, err);
    } else {
        const char *const *def = f->default_subtasks ? f->default_subtasks : f->subtasks;
        int all = 0;
        while (def[all]) all++;
        rc = pick_names(f, f->subtasks, "subtask", "subtasks", def, all, path, &s->subtasks, &s->n_subtasks, err);
    }
    if (rc) goto out;
    if (n_settings > 0 && settings) {
        rc = pick_names(f, f->settings, "setting", "settings", settings, n_settings, path, &s->settings,
                        &s->n_settings, err);
    } else {
        const char *def[1] = {f->default_setting};
        rc = pick_names(f, f->settings, "setting", "settings", def, 1, path, &s->settings, &s->n_settings, err);
    }
    if (rc) goto out;
    if (f->params_parse) {
        char ppath[512];
        snprintf(ppath, sizeof ppath, "%s.params", path);
        if (params && !cJSON_IsObject(params)) {
            rc = cb_err_set(err, CB_EUSAGE, "%s: expected an object", ppath);
            goto out;
        }
        rc = f->params_parse(params, ppath, &s->state, err);
        if (rc) goto out;
    }
    for (int c = 0; f->check_cell && c < s->n_subtasks * s->n_settings; c++) {
        const char *sub, *set;
        cb_task_spec_cell(s, c, &sub, &set);
        if ((rc = f->check_cell(s->state, sub, set, path, err))) goto out;
    }
    *out = s;
    s = NULL;
out:
    cb_task_spec_free(s);
    return rc;
}

const cb_task_family *cb_task_spec_family(const cb_task_spec *s) { return s->family; }
int64_t cb_task_spec_n(const cb_task_spec *s) { return s->n; }
uint64_t cb_task_spec_seed(const cb_task_spec *s) { return s->seed; }
int cb_task_spec_n_cells(const cb_task_spec *s) { return s->n_subtasks * s->n_settings; }
int64_t cb_task_spec_n_items(const cb_task_spec *s) { return (int64_t)cb_task_spec_n_cells(s) * s->n; }

void cb_task_spec_cell(const cb_task_spec *s, int c, const char **subtask, const char **setting) {
    *subtask = s->family->subtasks[s->subtasks[c / s->n_settings]];
    *setting = s->family->settings[s->settings[c % s->n_settings]];
}

cJSON *cb_task_spec_params_json(const cb_task_spec *s) {
    if (s->family->params_to_json) return s->family->params_to_json(s->state);
    return cJSON_CreateObject();
}

int cb_task_generate(const cb_task_spec *s, int c, int64_t index, cb_item **out, cb_err *err) {
    *out = NULL;
    if (c < 0 || c >= cb_task_spec_n_cells(s) || index < 0)
        return cb_err_set(err, CB_EUSAGE, "%s: cell %d / index %lld out of range", s->family->name, c,
                          (long long)index);
    const char *subtask, *setting;
    cb_task_spec_cell(s, c, &subtask, &setting);
    cb_item *it;
    int rc = cb_item_blank(s->family, subtask, setting, index,
                           cb_task_item_seed(s->seed, s->family->name, subtask, index), &it, err);
    if (rc) return rc;
    rc = s->family->generate(s->state, s->seed, it, err);
    if (rc) {
        cb_item_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int cb_task_spec_item(const cb_task_spec *s, int64_t k, cb_item **out, cb_err *err) {
    if (k < 0 || k >= cb_task_spec_n_items(s)) {
        *out = NULL;
        return cb_err_set(err, CB_EUSAGE, "%s: item %lld out of range (0..%lld)", s->family->name, (long long)k,
                          (long long)cb_task_spec_n_items(s) - 1);
    }
    return cb_task_generate(s, (int)(k / s->n), k % s->n, out, err);
}

int cb_task_spec_needs_judge(const cb_task_spec *s) {
    return s->family->needs_judge ? s->family->needs_judge(s->state) : 0;
}
