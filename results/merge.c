/* results/merge.c — folds the shard databases of one evaluation into one run
 * (rules in merge.h). Reads the sources through read-only store handles and
 * writes the output through the ordinary sample insert, so a merged sample is
 * stored exactly as the scheduler would have stored it. It never edits a
 * source file.
 */
#include "results/merge.h"

#include "common/sha256.h"
#include "results/store.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Removes every member named "shard" from the tree. */
static void strip_shard(cJSON *j) {
    if (!j) return;
    if (cJSON_IsObject(j)) cJSON_DeleteItemFromObjectCaseSensitive(j, "shard");
    for (cJSON *c = j->child; c; c = c->next) strip_shard(c);
}

/* The parts of the merge key, each as canonical text. OUT parts[7] (malloc'd
 * strings, caller frees each). */
enum { K_SUITE, K_CONFIG, K_MODEL, K_SEED, K_LIMIT, K_LABELS, K_N };
static const char *const key_names[K_N] = {"suite", "config (beyond the shard)", "model", "seed", "limit",
                                           "labels"};

static int key_parts(const cb_run_info *r, char *parts[K_N], cb_err *err) {
    memset(parts, 0, K_N * sizeof *parts);
    cJSON *cfg = cJSON_Parse(r->config_json ? r->config_json : "{}");
    cJSON *lab = cJSON_Parse(r->labels_json ? r->labels_json : "{}");
    int rc = 0;
    if (!cfg || !lab) {
        rc = cb_err_set(err, CB_EFORMAT, "run %lld: %s is not JSON", (long long)r->id,
                        cfg ? "labels_json" : "config_json");
        goto out;
    }
    strip_shard(cfg);
    char buf[1400];
    parts[K_SUITE] = strdup(r->suite);
    parts[K_CONFIG] = cJSON_PrintUnformatted(cfg);
    snprintf(buf, sizeof buf, "%s|%s|%s|%s", r->model_id, r->model_sha256, r->backend, r->base_url);
    parts[K_MODEL] = strdup(buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->seed);
    parts[K_SEED] = strdup(buf);
    snprintf(buf, sizeof buf, "%lld", (long long)r->limit_n);
    parts[K_LIMIT] = strdup(buf);
    parts[K_LABELS] = cJSON_PrintUnformatted(lab);
    for (int i = 0; i < K_N; i++)
        if (!parts[i]) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    cJSON_Delete(cfg);
    cJSON_Delete(lab);
    return rc;
}

static void free_parts(char *parts[K_N]) {
    for (int i = 0; i < K_N; i++) {
        free(parts[i]);
        parts[i] = NULL;
    }
}

static int key_of_parts(char *parts[K_N], char hex[65], cb_err *err) {
    cb_sha256 *h = NULL;
    int rc = cb_sha256_init(&h, err);
    if (rc) return rc;
    for (int i = 0; i < K_N; i++) cb_sha256_update(h, parts[i], strlen(parts[i]) + 1); /* NUL separates */
    rc = cb_sha256_final(h, NULL, hex);
    cb_sha256_free(h);
    return rc ? cb_err_set(err, CB_ERUNTIME, "sha256 failed") : 0;
}

int cb_merge_key(const cb_run_info *info, char hex[65], cb_err *err) {
    char *parts[K_N];
    int rc = key_parts(info, parts, err);
    if (!rc) rc = key_of_parts(parts, hex, err);
    free_parts(parts);
    return rc;
}

typedef struct {
    cb_run_info info;
    const char *file;
    char key[65];
    int shard_i, shard_n;     /* shard_n 0: unsharded */
} part;

/* "I/N" -> i, n; "" -> n 0. Returns -1 for anything else (a merged list). */
static int parse_shard(const char *s, int *i, int *n) {
    *i = *n = 0;
    if (!s || !s[0]) return 0;
    char *end = NULL;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || b < 1 || b > 1 << 20 || a < 0 || a >= b) return -1;
    *i = (int)a;
    *n = (int)b;
    return 0;
}

/* N of "…/N"; 0 when absent or malformed. */
static int shard_count(const char *s) {
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash) return 0;
    char *end = NULL;
    long n = strtol(slash + 1, &end, 10);
    return end != slash + 1 && !*end && n > 0 && n <= 1 << 20 ? (int)n : 0;
}

/* Covered shards of N as a bitmap; "a,b,c/N" lists are read too. */
static int mark_shards(const char *s, int N, unsigned char *seen) {
    int i, n;
    if (!s || !s[0]) return 1; /* unsharded: everything */
    if (parse_shard(s, &i, &n) == 0) {
        if (n != N) return -1;
        seen[i] = 1;
        return 0;
    }
    const char *slash = strchr(s, '/');
    if (!slash || shard_count(s) != N) return -1;
    for (const char *p = s; p < slash;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= N) return -1;
        seen[v] = 1;
        p = *end == ',' ? end + 1 : end;
        if (end == slash) break;
    }
    return 0;
}

/* The merged run's config: config_json with its top-level "shard" (when it has
 * one) set to the merged shard, "" once complete; so a complete merge stores
 * the unsharded run's config text and hash. OUT *text (malloc'd). */
static int merged_config(const char *config_json, const char *shard, char **text, cb_err *err) {
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    if (!cfg) return cb_err_set(err, CB_EFORMAT, "a part's config_json is not JSON");
    if (cJSON_IsObject(cfg) && cJSON_GetObjectItemCaseSensitive(cfg, "shard"))
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "shard", cJSON_CreateString(shard));
    *text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    return *text ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

/* Removes every "--shard" and "shard" member from the overrides text. OUT *text
 * (malloc'd). */
static void strip_flag(cJSON *j) {
    if (!j) return;
    if (cJSON_IsObject(j)) {
        cJSON_DeleteItemFromObjectCaseSensitive(j, "--shard");
        cJSON_DeleteItemFromObjectCaseSensitive(j, "shard");
    }
    for (cJSON *c = j->child; c; c = c->next) strip_flag(c);
}

static int strip_overrides(const char *overrides_json, char **text, cb_err *err) {
    cJSON *o = cJSON_Parse(overrides_json ? overrides_json : "{}");
    if (!o) o = cJSON_CreateObject();
    strip_flag(o);
    *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *text ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

typedef struct {
    cb_store *dst;
    int64_t run_id;
    int64_t added, dup;
} copy_ctx;

static int copy_one(void *ud, const cb_sample *smp, cb_err *err) {
    copy_ctx *c = ud;
    cb_sample m = *smp;
    m.run_id = c->run_id;
    int ins = 0;
    int rc = cb_store_add_sample(c->dst, &m, &ins, err);
    if (rc) return rc;
    if (ins)
        c->added++;
    else
        c->dup++;
    return 0;
}

int cb_merge(const char *const *src, size_t n_src, const char *out_path, cb_merge_stats *st, cb_err *err) {
    int rc = 0;
    cb_store **in = calloc(n_src ? n_src : 1, sizeof *in);
    part *parts = NULL;
    size_t np = 0, cap = 0;
    cb_store *dst = NULL;
    cb_run_info dinfo;
    char *first_parts[K_N] = {0}, *other[K_N] = {0};
    char *cfg_text = NULL, *ov_text = NULL;
    memset(&dinfo, 0, sizeof dinfo);
    memset(st, 0, sizeof *st);
    if (!in) return cb_err_set(err, CB_ENOMEM, "out of memory");
    if (n_src == 0) {
        rc = cb_err_set(err, CB_EUSAGE, "merge: no source database");
        goto out;
    }
    /* ---- read every part ---- */
    for (size_t f = 0; f < n_src; f++) {
        int64_t *ids = NULL;
        size_t nid = 0;
        if ((rc = cb_store_open(src[f], CB_STORE_OPEN_READONLY, &in[f], err))) goto out;
        if ((rc = cb_store_run_ids(in[f], &ids, &nid, err))) goto out;
        if (nid == 0) {
            free(ids);
            rc = cb_err_set(err, CB_EUSAGE, "%s: holds no run", src[f]);
            goto out;
        }
        for (size_t k = 0; k < nid; k++) {
            if (np == cap) {
                size_t nc = cap ? cap * 2 : 8;
                part *pp = realloc(parts, nc * sizeof *pp);
                if (!pp) {
                    free(ids);
                    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
                    goto out;
                }
                parts = pp;
                cap = nc;
            }
            part *p = &parts[np];
            memset(p, 0, sizeof *p);
            p->file = src[f];
            if ((rc = cb_store_run_get(in[f], ids[k], &p->info, err))) {
                free(ids);
                goto out;
            }
            np++;
            if ((rc = cb_merge_key(&p->info, p->key, err))) {
                free(ids);
                goto out;
            }
            if (parse_shard(p->info.shard, &p->shard_i, &p->shard_n)) p->shard_n = -1; /* an earlier merge's list */
        }
        free(ids);
    }
    /* ---- one evaluation? ---- */
    if ((rc = key_parts(&parts[0].info, first_parts, err))) goto out;
    for (size_t i = 1; i < np; i++) {
        if (strcmp(parts[i].key, parts[0].key) == 0) continue;
        if ((rc = key_parts(&parts[i].info, other, err))) goto out;
        int k = 0;
        while (k < K_N - 1 && strcmp(first_parts[k], other[k]) == 0) k++;
        rc = cb_err_set(err, CB_EUSAGE,
                        "refusing to merge: run %lld of %s and run %lld of %s are not shards of one evaluation: "
                        "their %s differ (config_sha256 %.12s vs %.12s); merge only the shard files of one run",
                        (long long)parts[0].info.id, parts[0].file, (long long)parts[i].info.id, parts[i].file,
                        key_names[k], parts[0].info.config_sha256, parts[i].info.config_sha256);
        goto out;
    }
    /* ---- the destination run: the output's run with this key, if any ---- */
    if ((rc = cb_store_open(out_path, CB_STORE_OPEN_CREATE, &dst, err))) goto out;
    {
        int64_t *ids = NULL;
        size_t nid = 0;
        if ((rc = cb_store_run_ids(dst, &ids, &nid, err))) goto out;
        for (size_t k = 0; k < nid && !st->run_id; k++) {
            cb_run_info ri;
            char key[65];
            if ((rc = cb_store_run_get(dst, ids[k], &ri, err))) break;
            if (cb_merge_key(&ri, key, NULL) == 0 && strcmp(key, parts[0].key) == 0) {
                st->run_id = ri.id;
                dinfo = ri;
            } else {
                cb_run_info_clear(&ri);
            }
        }
        free(ids);
        if (rc) goto out;
    }
    /* ---- shard coverage, status, times (the existing run counts as a part) ---- */
    int N = 0, complete = 0, all_finished = 1;
    double started = 0, finished = 0;
    const char *prev = st->run_id ? dinfo.shard : NULL;
    if (st->run_id) {
        started = dinfo.started_at;
        finished = dinfo.finished_at > 0 ? dinfo.finished_at : -1;
        if (dinfo.status != CB_RUN_FINISHED && dinfo.status != CB_RUN_INCOMPLETE) all_finished = 0;
        if (!prev[0]) complete = 1;
        N = shard_count(prev);
    }
    for (size_t i = 0; i < np; i++) {
        const part *p = &parts[i];
        if (p->info.status != CB_RUN_FINISHED) all_finished = 0;
        if (started <= 0 || p->info.started_at < started) started = p->info.started_at;
        if (p->info.finished_at <= 0)
            finished = -1;
        else if (finished >= 0 && p->info.finished_at > finished)
            finished = p->info.finished_at;
        if (p->shard_n == 0) complete = 1;
        if (p->shard_n != 0 && !N) N = shard_count(p->info.shard);
    }
    char shard[32] = "";
    if (!complete && N > 0 && N <= 4096) {
        unsigned char *seen = calloc((size_t)N, 1);
        if (!seen) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
        int bad = prev && prev[0] && mark_shards(prev, N, seen) < 0;
        for (size_t i = 0; i < np; i++) bad |= mark_shards(parts[i].info.shard, N, seen) < 0;
        int all = !bad;
        for (int i = 0; i < N; i++) all &= seen[i];
        if (all) {
            complete = 1;
        } else {
            size_t len = 0;
            for (int i = 0; i < N && len < sizeof shard - 12; i++)
                if (seen[i]) len += (size_t)snprintf(shard + len, sizeof shard - len, "%s%d", len ? "," : "", i);
            snprintf(shard + len, sizeof shard - len, "/%d", N);
        }
        free(seen);
    }
    cb_run_status status = all_finished && complete ? CB_RUN_FINISHED : CB_RUN_INCOMPLETE;
    /* ---- its config: the parts' config with the merged shard, hashed like a run's ---- */
    char hash[65];
    if ((rc = merged_config(parts[0].info.config_json, shard, &cfg_text, err))) goto out;
    cb_sha256_hex(cfg_text, strlen(cfg_text), hash);
    if ((rc = strip_overrides(parts[0].info.overrides_json, &ov_text, err))) goto out;
    if (!st->run_id) {
        cb_run_info ri = parts[0].info;
        ri.config_json = cfg_text;
        snprintf(ri.config_sha256, sizeof ri.config_sha256, "%s", hash);
        ri.overrides_json = ov_text;
        snprintf(ri.shard, sizeof ri.shard, "%s", shard);
        int64_t id = 0;
        if ((rc = cb_store_run_create(dst, &ri, &id, err))) goto out;
        st->run_id = id;
        st->created = 1;
    }
    /* ---- samples ---- */
    copy_ctx c = {.dst = dst, .run_id = st->run_id};
    for (size_t i = 0; i < np; i++) {
        size_t f = 0;
        while (f < n_src && strcmp(src[f], parts[i].file) != 0) f++;
        if ((rc = cb_store_begin(dst, err))) goto out;
        rc = cb_store_foreach_sample(in[f], parts[i].info.id, copy_one, &c, err);
        if (rc) {
            cb_store_rollback(dst);
            goto out;
        }
        if ((rc = cb_store_commit(dst, err))) goto out;
    }
    st->n_parts = np;
    st->n_added = c.added;
    st->n_duplicate = c.dup;
    snprintf(st->shard, sizeof st->shard, "%s", shard);
    snprintf(st->status, sizeof st->status, "%s", cb_run_status_name(status));
    if ((rc = cb_store_run_set_merged(dst, st->run_id, status, started, finished > 0 ? finished : 0, shard,
                                      parts[0].info.limit_n, cfg_text, hash, ov_text, err)))
        goto out;
    rc = cb_store_compute_capability_scores(dst, st->run_id, err);
out:
    free_parts(first_parts);
    free_parts(other);
    free(cfg_text);
    free(ov_text);
    cb_run_info_clear(&dinfo);
    for (size_t i = 0; i < np; i++) cb_run_info_clear(&parts[i].info);
    free(parts);
    for (size_t f = 0; f < n_src; f++) cb_store_close(in[f]);
    free(in);
    cb_store_close(dst);
    return rc;
}
