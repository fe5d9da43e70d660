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

static const char *status_rank_name(int finished) { return finished ? "finished" : "incomplete"; }

int cb_merge(const char *const *src, size_t n_src, const char *out_path, cb_merge_stats *st, cb_err *err) {
    int rc = 0;
    cb_store **in = calloc(n_src ? n_src : 1, sizeof *in);
    part *parts = NULL;
    size_t np = 0, cap = 0;
    cb_store *dst = NULL;
    cb_run_info dinfo;
    char *first_parts[K_N] = {0}, *other[K_N] = {0};
    char *cfg_text = NULL;
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
    /* ---- the destination run ---- */
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
    if (!st->run_id) {
        dinfo = parts[0].info;
        dinfo.config_json = dinfo.overrides_json = dinfo.labels_json = NULL;
        cJSON *cfg = cJSON_Parse(parts[0].info.config_json);
        strip_shard(cfg);
        cfg_text = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
        cJSON_Delete(cfg);
        if (!cfg_text) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
        int same_hash = 1;
        for (size_t i = 1; i < np; i++) same_hash &= strcmp(parts[i].info.config_sha256, parts[0].info.config_sha256) == 0;
        if (!same_hash) cb_sha256_hex(cfg_text, strlen(cfg_text), dinfo.config_sha256);
        dinfo.config_json = cfg_text;
        dinfo.labels_json = parts[0].info.labels_json;
        dinfo.overrides_json = NULL;
        dinfo.shard[0] = 0;
        int64_t id = 0;
        rc = cb_store_run_create(dst, &dinfo, &id, err);
        dinfo.config_json = dinfo.labels_json = NULL;
        if (rc) goto out;
        st->run_id = id;
        st->created = 1;
        dinfo.id = id;
        dinfo.shard[0] = 0;
        snprintf(dinfo.shard, sizeof dinfo.shard, "%s", "?"); /* no coverage yet: only the parts count */
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
    /* ---- shard coverage, status, times ---- */
    int N = 0, complete = 0, all_finished = 1;
    double started = dinfo.started_at, finished = dinfo.finished_at;
    const char *prev = strcmp(dinfo.shard, "?") == 0 ? NULL : dinfo.shard; /* an existing run's coverage */
    if (!st->created && dinfo.status != CB_RUN_FINISHED && dinfo.status != CB_RUN_INCOMPLETE) all_finished = 0;
    if (prev && !prev[0]) complete = 1;
    for (size_t i = 0; i < np; i++) {
        const part *p = &parts[i];
        if (p->info.status != CB_RUN_FINISHED) all_finished = 0;
        if (p->info.started_at < started || started <= 0) started = p->info.started_at;
        if (p->info.finished_at <= 0) finished = -1;
        else if (finished >= 0 && p->info.finished_at > finished) finished = p->info.finished_at;
        if (p->shard_n == 0) complete = 1;
        if (p->shard_n != 0 && !N) N = shard_count(p->info.shard);
    }
    if (prev && prev[0] && !N) N = shard_count(prev);
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
    snprintf(st->shard, sizeof st->shard, "%s", shard);
    snprintf(st->status, sizeof st->status, "%s", status_rank_name(status == CB_RUN_FINISHED));
    if ((rc = cb_store_run_set_merged(dst, st->run_id, status, started, finished > 0 ? finished : 0, shard,
                                      parts[0].info.limit_n, err)))
        goto out;
    rc = cb_store_compute_capability_scores(dst, st->run_id, err);
out:
    free_parts(first_parts);
    free_parts(other);
    free(cfg_text);
    cb_run_info_clear(&dinfo);
    for (size_t i = 0; i < np; i++) cb_run_info_clear(&parts[i].info);
    free(parts);
    for (size_t f = 0; f < n_src; f++) cb_store_close(in[f]);
    free(in);
    cb_store_close(dst);
    return rc;
}
