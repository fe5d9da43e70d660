/* tests/results/test_merge.c — merge (results/merge.h), run deletion and
 * exports (results/export.h) on real SQLite files: two shard databases fold
 * into one run equal to their union; merging again, or merging the output
 * with a source, changes nothing; a lone shard gives an incomplete run that
 * a later merge completes; configs or labels that differ beyond the shard are
 * refused with nothing written; a plain sqlite3 connection (foreign keys
 * off) deleting a run cascades through the trigger; exports hold every
 * sample. */
#include "results/export.h"
#include "tests/util/cbtest.h"
#include "results/merge.h"
#include "results/store.h"

#include "../util/testdb.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_merge_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(merge, .init = mk_tmp, .fini = rm_tmp);

static const char *path(const char *name) {
    static char p[8][400];
    static int slot;
    char *s = p[slot++ % 8];
    snprintf(s, 400, "%s/%s", dir, name);
    return s;
}

static cb_store *open_db(const char *file, cb_store_mode mode) {
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(file, mode, &s, &err), 0, "%s", err.msg);
    return s;
}

/* A shard database: items lo..hi-1 of a 40-item evaluation (item i right when i % 3 == 0). */
static void make_shard(const char *file, const char *shard, int lo, int hi, const char *config, const char *labels) {
    cb_store *s = open_db(file, CB_STORE_OPEN_CREATE);
    int64_t run = tdb_run(s, "m.gguf", 99, config, labels, shard);
    for (int i = lo; i < hi; i++) {
        char id[32], h[32];
        snprintf(id, sizeof id, "t/%d", i);
        snprintf(h, sizeof h, "h%d", i);
        tdb_item(s, run, id, h, 500 + (uint64_t)i, i % 2 ? "x" : "y", NULL, i % 3 == 0 ? 1 : 0, 0);
    }
    cb_store_close(s);
}

static int64_t count_sql(const char *file, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

#define CFG0 "{\"suite\":\"t\",\"shard\":\"0/2\",\"tasks\":[{\"n\":20}]}"
#define CFG1 "{\"suite\":\"t\",\"shard\":\"1/2\",\"tasks\":[{\"n\":20}]}"

Test(merge, shards_fold_into_one_run_idempotently) {
    make_shard(path("a.db"), "0/2", 0, 20, CFG0, "{\"night\":\"d1\"}");
    make_shard(path("b.db"), "1/2", 20, 40, CFG1, "{\"night\":\"d1\"}");
    const char *src[] = {path("a.db"), path("b.db")};
    cb_merge_stats ms;
    cb_err err = {0};
    cr_assert_eq(cb_merge(src, 2, path("all.db"), &ms, &err), 0, "%s", err.msg);
    cr_assert(ms.created);
    cr_assert_eq(ms.n_parts, 2);
    cr_assert_eq(ms.n_added, 40);
    cr_assert_eq(ms.n_duplicate, 0);
    cr_assert_str_eq(ms.shard, "");
    cr_assert_str_eq(ms.status, "finished");

    cb_store *s = open_db(path("all.db"), CB_STORE_OPEN_EXISTING);
    cb_run_info ri;
    cr_assert_eq(cb_store_run_get(s, ms.run_id, &ri, &err), 0, "%s", err.msg);
    cr_assert_eq(ri.status, CB_RUN_FINISHED);
    cr_assert_str_eq(ri.shard, "");
    cr_assert(strstr(ri.config_json, "\"shard\":\"\""), "the merged config is the unsharded one: %s", ri.config_json);
    char want[65];
    cb_sha256_hex(ri.config_json, strlen(ri.config_json), want);
    cr_assert_str_eq(ri.config_sha256, want, "hashed like a run's config");
    cr_assert_str_eq(ri.labels_json, "{\"night\":\"d1\"}");
    cb_run_info_clear(&ri);
    cb_capability_score *cs = NULL;
    size_t nc = 0;
    cr_assert_eq(cb_store_capability_scores(s, ms.run_id, &cs, &nc, &err), 0);
    cr_assert_eq(nc, 4, "x and y, each 'all' and setting 'plain'");
    cr_assert_eq(cs[0].n, 20);
    free(cs);
    cb_store_close(s);

    /* again: nothing new */
    int64_t first = ms.run_id;
    cr_assert_eq(cb_merge(src, 2, path("all.db"), &ms, &err), 0, "%s", err.msg);
    cr_assert(!ms.created);
    cr_assert_eq(ms.run_id, first);
    cr_assert_eq(ms.n_added, 0);
    cr_assert_eq(ms.n_duplicate, 40);
    /* the output with a source into itself: nothing new */
    const char *src2[] = {path("all.db"), path("a.db")};
    cr_assert_eq(cb_merge(src2, 2, path("all.db"), &ms, &err), 0, "%s", err.msg);
    cr_assert_eq(ms.n_added, 0);
    cr_assert_eq(count_sql(path("all.db"), "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(count_sql(path("all.db"), "SELECT count(*) FROM samples"), 40);
    cr_assert_eq(count_sql(path("all.db"), "SELECT count(DISTINCT item_id) FROM samples"), 40);
}

Test(merge, a_lone_shard_is_incomplete_until_the_rest_arrives) {
    make_shard(path("a.db"), "0/2", 0, 20, CFG0, NULL);
    make_shard(path("b.db"), "1/2", 20, 40, CFG1, NULL);
    const char *a[] = {path("a.db")}, *b[] = {path("b.db")};
    cb_merge_stats ms;
    cb_err err = {0};
    cr_assert_eq(cb_merge(a, 1, path("out.db"), &ms, &err), 0, "%s", err.msg);
    cr_assert_str_eq(ms.status, "incomplete");
    cr_assert_str_eq(ms.shard, "0/2");
    cr_assert_eq(count_sql(path("out.db"), "SELECT count(*) FROM runs WHERE config_json LIKE '%\"shard\":\"0/2\"%'"), 1);
    cr_assert_eq(cb_merge(b, 1, path("out.db"), &ms, &err), 0, "%s", err.msg);
    cr_assert(!ms.created);
    cr_assert_eq(ms.n_added, 20);
    cr_assert_str_eq(ms.status, "finished");
    cr_assert_str_eq(ms.shard, "");
    cr_assert_eq(count_sql(path("out.db"), "SELECT count(*) FROM samples"), 40);
}

Test(merge, refuses_runs_that_are_not_shards_of_one_evaluation) {
    make_shard(path("a.db"), "0/2", 0, 20, CFG0, NULL);
    make_shard(path("c.db"), "1/2", 20, 40, "{\"suite\":\"t\",\"shard\":\"1/2\",\"tasks\":[{\"n\":30}]}", NULL);
    make_shard(path("d.db"), "1/2", 20, 40, CFG1, "{\"step\":\"2000\"}");
    const char *ac[] = {path("a.db"), path("c.db")}, *ad[] = {path("a.db"), path("d.db")};
    cb_merge_stats ms;
    cb_err err = {0};
    cr_assert_eq(cb_merge(ac, 2, path("out.db"), &ms, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "refusing to merge") && strstr(err.msg, "config"), "%s", err.msg);
    cr_assert_eq(access(path("out.db"), F_OK), -1, "nothing written");
    cr_assert_eq(cb_merge(ad, 2, path("out.db"), &ms, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "labels"), "%s", err.msg);
    const char *missing[] = {path("nope.db")};
    cr_assert_eq(cb_merge(missing, 1, path("out.db"), &ms, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "nope.db"), "%s", err.msg);
}

Test(merge, plain_sqlite3_delete_cascades) {
    make_shard(path("a.db"), "", 0, 20, NULL, NULL);
    cb_store *s = open_db(path("a.db"), CB_STORE_OPEN_EXISTING);
    int64_t second = tdb_run(s, "m2.gguf", 1, NULL, NULL, "");
    tdb_items(s, second, "q", "x", NULL, 5, 2, 1);
    cb_err err = {0};
    cr_assert_eq(cb_store_compute_capability_scores(s, 1, &err), 0);
    cb_store_close(s);
    /* a bare connection, as the sqlite3 shell opens it: foreign keys off */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path("a.db"), &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 0, "this connection does not enforce foreign keys");
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_exec(db, "DELETE FROM runs WHERE id=1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(count_sql(path("a.db"), "SELECT count(*) FROM samples WHERE run_id=1"), 0);
    cr_assert_eq(count_sql(path("a.db"), "SELECT count(*) FROM capability_scores WHERE run_id=1"), 0);
    cr_assert_eq(count_sql(path("a.db"), "SELECT count(*) FROM samples WHERE run_id=2"), 5, "other runs untouched");
    /* and through the store */
    s = open_db(path("a.db"), CB_STORE_OPEN_EXISTING);
    int64_t n = 0;
    cr_assert_eq(cb_store_run_delete(s, second, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 5);
    cr_assert_eq(cb_store_run_delete(s, second, &n, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "no run 2"), "%s", err.msg);
    cb_store_close(s);
    cr_assert_eq(count_sql(path("a.db"), "SELECT count(*) FROM samples"), 0);
}

/* Reads a whole file. */
Test(merge, exports_hold_every_sample) {
    make_shard(path("a.db"), "", 0, 20, NULL, NULL);
    cb_store *s = open_db(path("a.db"), CB_STORE_OPEN_EXISTING);
    cb_err err = {0};
    const char *names[] = {"x.jsonl", "x.csv", "x.json"};
    for (int fmt = 0; fmt < 3; fmt++) {
        FILE *f = fopen(path(names[fmt]), "w");
        cr_assert_eq(cb_export_run(s, 1, (cb_export_format)fmt, f, &err), 0, "%s", err.msg);
        fclose(f);
    }
    cr_assert_eq(cb_export_run(s, 7, CB_EXPORT_JSONL, stdout, &err), CB_EUSAGE);
    cb_store_close(s);
    size_t len;
    char *t = cbt_read_file(path("x.jsonl"), &len);
    int lines = 0, right = 0;
    for (char *line = t, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = 0;
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j, "line %d is JSON", lines);
        cr_assert(cJSON_IsArray(cJSON_GetObjectItem(j, "flags")), "flags embedded as JSON");
        right += cJSON_GetObjectItem(j, "score")->valuedouble == 1;
        lines++;
        cJSON_Delete(j);
    }
    cr_assert_eq(lines, 20);
    cr_assert_eq(right, 7, "items 0,3,..,18 are right");
    free(t);
    t = cbt_read_file(path("x.csv"), &len);
    lines = 0;
    for (size_t i = 0; i < len; i++) lines += t[i] == '\n';
    cr_assert_eq(lines, 21);
    cr_assert(strncmp(t, "run_id,item_id,repeat,", 22) == 0);
    free(t);
    t = cbt_read_file(path("x.json"), &len);
    cJSON *j = cJSON_Parse(t);
    cr_assert_not_null(j);
    const cJSON *res = cJSON_GetObjectItem(j, "results");
    cr_assert(cJSON_IsObject(res) && cJSON_IsObject(cJSON_GetObjectItem(j, "configs")) &&
              cJSON_IsObject(cJSON_GetObjectItem(j, "versions")));
    const cJSON *task = cJSON_GetObjectItem(res, "synthetic_x_plain");
    cr_assert_not_null(task, "task named family_subtask_setting");
    cr_assert_float_eq(cJSON_GetObjectItem(task, "acc,none")->valuedouble, 3.0 / 10, 1e-12);
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "groups"), "capability_y"));
    cJSON_Delete(j);
    free(t);
}
