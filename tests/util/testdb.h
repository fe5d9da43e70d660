/* tests/util/testdb.h — results databases with known scores, built through
 * the real store (results/store.h) on a real SQLite file, for the analysis,
 * leaderboard, compare and merge tests. Not a fake: the analyses read these
 * files back exactly as they read a database `capbench run` wrote. Header-only
 * (static inline): the .c files of tests/util link into every test, also the engine-only
 * builds that have no store. */
#ifndef CB_TESTS_TESTDB_H
#define CB_TESTS_TESTDB_H

#include "common/sha256.h"
#include "results/store.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Creates a run: suite "t", model model_id (sha256 derived from it), seed,
 * config_json (NULL = {"suite":"t"}), labels_json (NULL = {}), shard ("" or
 * "I/N"). Asserts on failure. */

/* Adds n samples labelled cap1 (and cap2 when not NULL): item i (0-based)
 * scores 1 when i < k, else 0; item ids "<prefix>/<i>", item_hash
 * "<prefix>-h<i>", item_seed seed0 + i. Asserts on failure. */

/* Adds one sample with an explicit score (NaN = none), judge_failed flag and
 * identity. */

static inline int64_t tdb_run(cb_store *s, const char *model_id, uint64_t seed, const char *config_json, const char *labels_json,
                const char *shard) {
    cb_run_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.suite, sizeof info.suite, "t");
    info.config_json = (char *)(config_json ? config_json : "{\"suite\":\"t\"}");
    cb_sha256_hex(info.config_json, strlen(info.config_json), info.config_sha256);
    snprintf(info.model_id, sizeof info.model_id, "%s", model_id);
    cb_sha256_hex(model_id, strlen(model_id), info.model_sha256);
    snprintf(info.backend, sizeof info.backend, "local");
    snprintf(info.device, sizeof info.device, "cpu");
    snprintf(info.capbench_version, sizeof info.capbench_version, "test");
    snprintf(info.shard, sizeof info.shard, "%s", shard ? shard : "");
    info.labels_json = (char *)labels_json;
    info.seed = seed;
    int64_t id = 0;
    cb_err err = {0};
    cr_assert_eq(cb_store_run_create(s, &info, &id, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_run_set_status(s, id, CB_RUN_FINISHED, &err), 0, "%s", err.msg);
    return id;
}

static inline void tdb_item(cb_store *s, int64_t run, const char *item_id, const char *hash, uint64_t seed, const char *cap1,
              const char *cap2, double score, int judge_failed) {
    cb_sample m;
    memset(&m, 0, sizeof m);
    m.run_id = run;
    m.item_id = item_id;
    m.task = "synthetic";
    m.family = "synthetic";
    m.subtask = cap1;
    m.setting = "plain";
    m.cap[0] = cap1;
    m.cap[1] = cap2;
    m.prompt = "q";
    m.response = "a";
    m.score = score;
    m.flags_json = judge_failed ? "[\"judge_failed\"]" : "[]";
    m.item_hash = hash;
    m.item_seed = seed;
    m.gold = "1";
    m.span_start = m.span_end = -1;
    m.attempts = 1;
    cb_err err = {0};
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0, "%s", err.msg);
}

static inline void tdb_items(cb_store *s, int64_t run, const char *prefix, const char *cap1, const char *cap2, int n, int k,
               uint64_t seed0) {
    cb_err err = {0};
    cr_assert_eq(cb_store_begin(s, &err), 0, "%s", err.msg);
    for (int i = 0; i < n; i++) {
        char id[128], hash[128];
        snprintf(id, sizeof id, "%s/%d", prefix, i);
        snprintf(hash, sizeof hash, "%s-h%d", prefix, i);
        tdb_item(s, run, id, hash, seed0 + (uint64_t)i, cap1, cap2, i < k ? 1.0 : 0.0, 0);
    }
    cr_assert_eq(cb_store_commit(s, &err), 0, "%s", err.msg);
}

#endif
