/* results/store.c — the SQLite results database behind results/store.h.
 *
 * Owns the schema (written out in store.h), its forward migrations, the
 * connection settings and one prepared statement per hot operation: a sample
 * insert reuses one statement, and samples are batched into transactions by
 * the caller, so a commit costs one WAL fsync whatever the batch size. This is
 * the only file that includes sqlite3.h; it knows no task, grader or backend.
 *
 * Migrations: `migrations[v]` turns a version-v file into version v+1. A new
 * file runs every step from 0 inside the same transaction that a migrating
 * open uses, so the code path that upgrades old files runs on every fresh
 * database too. Step SQL is frozen once released: change the schema by adding
 * a step, never by editing one.
 */
#include "results/store.h"

#include "results/aggregate.h"

#include <sqlite3.h>

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CB_STORE_APP_ID 0x43425244 /* "CBRD" */
#define CB_STORE_BUSY_MS 10000
#define PAGE_ROWS 256

/* ---- schema and migrations ----------------------------------------------- */

static const char *const migrations[CB_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: the first layout */
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY,"
    " suite TEXT NOT NULL,"
    " config_json TEXT NOT NULL,"
    " config_sha256 TEXT NOT NULL,"
    " model_id TEXT NOT NULL,"
    " model_sha256 TEXT NOT NULL,"
    " backend TEXT NOT NULL,"
    " device TEXT NOT NULL,"
    " capbench_version TEXT NOT NULL,"
    " seed INTEGER NOT NULL,"
    " started_at REAL NOT NULL,"
    " finished_at REAL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','interrupted','failed')));"
    "CREATE TABLE samples("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " item_id TEXT NOT NULL,"
    " repeat INTEGER NOT NULL,"
    " task TEXT NOT NULL,"
    " subtask TEXT,"
    " setting TEXT,"
    " capability TEXT,"
    " item_json TEXT,"
    " prompt TEXT,"
    " prompt_tokens INTEGER,"
    " response TEXT,"
    " extracted TEXT,"
    " score REAL,"
    " flags_json TEXT,"
    " completion_tokens INTEGER,"
    " latency_s REAL,"
    " attempts INTEGER,"
    " error TEXT,"
    " UNIQUE(run_id, item_id, repeat));"
    "CREATE TABLE capability_scores("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " capability TEXT NOT NULL,"
    " n INTEGER NOT NULL,"
    " mean REAL,"
    " ci_low REAL,"
    " ci_high REAL,"
    " PRIMARY KEY(run_id, capability));",

    /* 1 -> 2: model size and remote URL per run; a second capability label,
     * the unparsed flag, secondary metrics, the grader version and every
     * response the grader saw (for regrade) per sample;
     * n_scored, sd, se, interval method and unparsed rate per capability
     * score. A v1 sample with a response but no extracted answer was an
     * unparsed one. */
    "ALTER TABLE runs ADD COLUMN model_bytes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN base_url TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE samples RENAME COLUMN capability TO cap1;"
    "ALTER TABLE samples ADD COLUMN cap2 TEXT;"
    "ALTER TABLE samples ADD COLUMN unparsed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE samples ADD COLUMN metrics_json TEXT;"
    "ALTER TABLE samples ADD COLUMN grader_version TEXT;"
    "ALTER TABLE samples ADD COLUMN responses_json TEXT;"
    "UPDATE samples SET unparsed = 1"
    " WHERE extracted IS NULL AND error IS NULL AND response IS NOT NULL;"
    "ALTER TABLE capability_scores ADD COLUMN n_scored INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE capability_scores ADD COLUMN sd REAL;"
    "ALTER TABLE capability_scores ADD COLUMN se REAL;"
    "ALTER TABLE capability_scores ADD COLUMN ci_method TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE capability_scores ADD COLUMN unparsed_rate REAL;"
    "UPDATE capability_scores SET n_scored = n;",

    /* 2 -> 3 (issue "scores you can trust"): runs gain the 'incomplete'
     * status (a CHECK constraint, so the table is rebuilt; foreign keys are off
     * during migrations), the --limit / --shard / overrides they were made with
     * and labels; samples gain columns a user can join across runs (family,
     * item content hash, item seed, gold) and the span extraction read;
     * capability_scores gain a setting ('all' = every setting pooled) in the key
     * and the answered/failed counts. Old samples keep NULL hashes. */
    "CREATE TABLE runs_v3("
    " id INTEGER PRIMARY KEY,"
    " suite TEXT NOT NULL,"
    " config_json TEXT NOT NULL,"
    " config_sha256 TEXT NOT NULL,"
    " model_id TEXT NOT NULL,"
    " model_sha256 TEXT NOT NULL,"
    " backend TEXT NOT NULL,"
    " device TEXT NOT NULL,"
    " capbench_version TEXT NOT NULL,"
    " seed INTEGER NOT NULL,"
    " started_at REAL NOT NULL,"
    " finished_at REAL,"
    " status TEXT NOT NULL CHECK(status IN ('running','finished','interrupted','failed','incomplete')),"
    " model_bytes INTEGER NOT NULL DEFAULT 0,"
    " base_url TEXT NOT NULL DEFAULT '',"
    " limit_n INTEGER NOT NULL DEFAULT 0,"
    " shard TEXT NOT NULL DEFAULT '',"
    " overrides_json TEXT NOT NULL DEFAULT '{}',"
    " labels_json TEXT NOT NULL DEFAULT '{}');"
    "INSERT INTO runs_v3(id, suite, config_json, config_sha256, model_id, model_sha256, backend, device,"
    " capbench_version, seed, started_at, finished_at, status, model_bytes, base_url)"
    " SELECT id, suite, config_json, config_sha256, model_id, model_sha256, backend, device, capbench_version,"
    " seed, started_at, finished_at, status, model_bytes, base_url FROM runs;"
    "DROP TABLE runs;"
    "ALTER TABLE runs_v3 RENAME TO runs;"
    "ALTER TABLE samples ADD COLUMN family TEXT;"
    "ALTER TABLE samples ADD COLUMN item_hash TEXT;"
    "ALTER TABLE samples ADD COLUMN item_seed INTEGER;"
    "ALTER TABLE samples ADD COLUMN gold TEXT;"
    "ALTER TABLE samples ADD COLUMN span_start INTEGER;"
    "ALTER TABLE samples ADD COLUMN span_end INTEGER;"
    "UPDATE samples SET family = CASE WHEN instr(task, ':') > 0 THEN substr(task, 1, instr(task, ':') - 1)"
    " ELSE task END;"
    "ALTER TABLE samples ADD COLUMN grading TEXT;"
    "ALTER TABLE samples ADD COLUMN judge_id TEXT;"
    "ALTER TABLE samples ADD COLUMN judge_calls INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE samples ADD COLUMN judge_tokens INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE judgements("
    " judge_id TEXT NOT NULL,"
    " prompt_sha256 TEXT NOT NULL,"
    " response TEXT NOT NULL,"
    " created_at REAL NOT NULL,"
    " PRIMARY KEY(judge_id, prompt_sha256));"
    "CREATE INDEX samples_item_hash ON samples(item_hash);"
    "CREATE INDEX samples_run_family ON samples(run_id, family, subtask, setting);"
    "CREATE TABLE capability_scores_v3("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " capability TEXT NOT NULL,"
    " setting TEXT NOT NULL DEFAULT 'all',"
    " n INTEGER NOT NULL,"
    " n_scored INTEGER NOT NULL DEFAULT 0,"
    " n_failed INTEGER NOT NULL DEFAULT 0,"
    " mean REAL, sd REAL, se REAL, ci_low REAL, ci_high REAL,"
    " ci_method TEXT NOT NULL DEFAULT '',"
    " unparsed_rate REAL,"
    " PRIMARY KEY(run_id, capability, setting));"
    "INSERT INTO capability_scores_v3(run_id, capability, setting, n, n_scored, mean, sd, se, ci_low, ci_high,"
    " ci_method, unparsed_rate) SELECT run_id, capability, 'all', n, n_scored, mean, sd, se, ci_low, ci_high,"
    " ci_method, unparsed_rate FROM capability_scores;"
    "DROP TABLE capability_scores;"
    "ALTER TABLE capability_scores_v3 RENAME TO capability_scores;",

    /* 3 -> 4 (knowledge capacity): the model's parameter counts per run, for
     * bits per parameter. Old runs keep 0 = unknown. */
    "ALTER TABLE runs ADD COLUMN n_params INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN n_params_nonembd INTEGER NOT NULL DEFAULT 0;",
};

/* ---- the handle ---------------------------------------------------------- */

enum {
    ST_INSERT,
    ST_UPDATE_GRADE,
    ST_RUN_INSERT,
    ST_RUN_GET,
    ST_RUN_LATEST,
    ST_RUN_STATUS,
    ST_COUNT,
    ST_PAGE,
    ST_DONE_ALL,
    ST_DONE_OK,
    ST_STATS,
    ST_CAP_DELETE,
    ST_CAP_INSERT,
    ST_CAP_SELECT,
    ST_FAILED,
    ST_JUDGE_GET,
    ST_JUDGE_PUT,
    ST_N
};

#define SAMPLE_COLS                                                                                            \
    "run_id, item_id, repeat, task, subtask, setting, cap1, cap2, item_json, prompt, prompt_tokens, response, " \
    "extracted, score, unparsed, flags_json, metrics_json, grader_version, completion_tokens, latency_s, "      \
    "attempts, error, responses_json, family, item_hash, item_seed, gold, span_start, span_end, grading, "  \
    "judge_id, judge_calls, judge_tokens"

static const char *const stmt_sql[ST_N] = {
    [ST_INSERT] =
        "INSERT INTO samples(" SAMPLE_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
        "?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33) ON CONFLICT(run_id, item_id, repeat) DO UPDATE SET "
        "task=excluded.task, subtask=excluded.subtask, setting=excluded.setting, cap1=excluded.cap1, "
        "cap2=excluded.cap2, item_json=excluded.item_json, prompt=excluded.prompt, "
        "prompt_tokens=excluded.prompt_tokens, response=excluded.response, extracted=excluded.extracted, "
        "score=excluded.score, unparsed=excluded.unparsed, flags_json=excluded.flags_json, "
        "metrics_json=excluded.metrics_json, grader_version=excluded.grader_version, "
        "completion_tokens=excluded.completion_tokens, latency_s=excluded.latency_s, "
        "attempts=excluded.attempts, error=excluded.error, responses_json=excluded.responses_json, "
        "family=excluded.family, item_hash=excluded.item_hash, item_seed=excluded.item_seed, gold=excluded.gold, "
        "span_start=excluded.span_start, span_end=excluded.span_end, grading=excluded.grading, "
        "judge_id=excluded.judge_id, judge_calls=excluded.judge_calls, judge_tokens=excluded.judge_tokens "
        "WHERE samples.error IS NOT NULL AND excluded.error IS NULL",
    [ST_UPDATE_GRADE] = "UPDATE samples SET extracted=?4, score=?5, unparsed=?6, flags_json=?7, metrics_json=?8, "
                        "grader_version=?9, span_start=?10, span_end=?11, grading=coalesce(?12, grading) "
                        "WHERE run_id=?1 AND item_id=?2 AND repeat=?3",
    [ST_RUN_INSERT] = "INSERT INTO runs(suite, config_json, config_sha256, model_id, model_sha256, model_bytes, "
                      "backend, base_url, device, capbench_version, seed, started_at, finished_at, status, limit_n, shard, "
                      "overrides_json, labels_json, n_params, n_params_nonembd) "
                      "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,NULL,'running',?13,?14,?15,?16,?17,?18)",
    [ST_RUN_GET] = "SELECT suite, config_json, config_sha256, model_id, model_sha256, model_bytes, backend, "
                   "base_url, device, capbench_version, seed, started_at, finished_at, status, limit_n, shard, "
                   "overrides_json, labels_json, n_params, n_params_nonembd FROM runs WHERE id=?1",
    [ST_RUN_LATEST] = "SELECT max(id) FROM runs",
    [ST_RUN_STATUS] = "UPDATE runs SET status=?2, finished_at=?3 WHERE id=?1",
    [ST_COUNT] = "SELECT count(*) FROM samples WHERE run_id=?1",
    [ST_PAGE] = "SELECT id, " SAMPLE_COLS " FROM samples WHERE run_id=?1 AND id>?2 ORDER BY id LIMIT ?3",
    [ST_DONE_ALL] = "SELECT item_id, repeat FROM samples WHERE run_id=?1 ORDER BY item_id, repeat",
    [ST_DONE_OK] = "SELECT item_id, repeat FROM samples WHERE run_id=?1 AND error IS NULL ORDER BY item_id, repeat",
    [ST_STATS] = "SELECT task, subtask, setting, cap1, cap2, score, unparsed, error IS NOT NULL, prompt_tokens, "
                 "completion_tokens, latency_s, gold, coalesce(instr(flags_json, '\"format_violation\"') > 0, 0), "
                 "metrics_json, CASE WHEN json_valid(item_json) THEN json_extract(item_json, '$.meta') END, error, "
                 "grading, judge_calls, judge_tokens FROM samples WHERE run_id=?1 ORDER BY id",
    [ST_CAP_DELETE] = "DELETE FROM capability_scores WHERE run_id=?1",
    [ST_CAP_INSERT] = "INSERT INTO capability_scores(run_id, capability, n, n_scored, mean, sd, se, ci_low, "
                      "ci_high, ci_method, unparsed_rate, setting, n_failed) "
                      "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [ST_FAILED] = "SELECT count(*), (SELECT error FROM samples WHERE run_id=?1 AND error IS NOT NULL ORDER BY id "
                  "LIMIT 1) FROM samples WHERE run_id=?1 AND error IS NOT NULL",
    [ST_JUDGE_GET] = "SELECT response FROM judgements WHERE judge_id=?1 AND prompt_sha256=?2",
    [ST_JUDGE_PUT] = "INSERT OR IGNORE INTO judgements(judge_id, prompt_sha256, response, created_at) "
                     "VALUES(?1,?2,?3,?4)",
    [ST_CAP_SELECT] = "SELECT capability, n, n_scored, mean, sd, se, ci_low, ci_high, ci_method, unparsed_rate, "
                      "setting, n_failed FROM capability_scores WHERE run_id=?1 "
                      "ORDER BY capability, setting <> 'all', setting",
};

struct cb_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_N];
    int in_tx;      /* inside cb_store_begin .. commit */
    int readonly;   /* opened with CB_STORE_OPEN_READONLY */
    int version;
    char path[512];
};

/* What a user can do about the storage faults a run meets in practice (the
 * disk or the file-size limit full, a read-only file, another process holding
 * the write lock); "" for other errors. For I/O errors the OS reason, which
 * SQLite's own text ("disk I/O error") leaves out, is added. */
static void fault_hint(sqlite3 *db, int ec, char *buf, size_t cap) {
    buf[0] = '\0';
    switch (ec & 0xff) {
    case SQLITE_FULL:
        snprintf(buf, cap, " (no space left for the database or its WAL: free some, then --resume the run)");
        break;
    case SQLITE_READONLY:
        snprintf(buf, cap, " (the file or its directory is read-only: check permissions and the mount)");
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        snprintf(buf, cap, " (another process held the write lock for more than %d s: is another capbench "
                 "writing to it?)", CB_STORE_BUSY_MS / 1000);
        break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN: {
        /* the OS error is often gone by the time SQLite reports (its rollback
         * ran other calls), so a failed write says what usually causes it */
        int e = sqlite3_system_errno(db);
        int write = ec == SQLITE_IOERR_WRITE || ec == SQLITE_IOERR_FSYNC || ec == SQLITE_IOERR_TRUNCATE ||
                    ec == SQLITE_IOERR_SHMSIZE || e == ENOSPC || e == EFBIG || e == EDQUOT;
        if (write)
            snprintf(buf, cap, " (%s%swriting failed: is the disk or the file-size limit full? free space, then "
                     "--resume the run)", e ? strerror(e) : "", e ? ": " : "");
        else if (e)
            snprintf(buf, cap, " (%s)", strerror(e));
        break;
    }
    }
}
static int ensure_cascade_trigger(cb_store *s, cb_err *err); /* analysis section, at the end */

/* Records the connection's last error with context; returns the cb_err code. */
static int sql_err(cb_store *s, sqlite3 *db, cb_err *err, const char *what) {
    int ec = sqlite3_extended_errcode(db), code;
    switch (ec & 0xff) {
    case SQLITE_NOTADB: code = CB_EFORMAT; break;
    case SQLITE_CONSTRAINT: code = CB_EUSAGE; break;
    case SQLITE_NOMEM: code = CB_ENOMEM; break;
    default: code = CB_EIO; break;
    }
    char hint[160];
    fault_hint(db, ec, hint, sizeof hint);
    return cb_err_set(err, code, "%s: %s: %s%s", s ? s->path : "results database", what, sqlite3_errmsg(db), hint);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int exec(cb_store *s, const char *sql, cb_err *err, const char *what) {
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        char hint[160];
        fault_hint(s->db, sqlite3_extended_errcode(s->db), hint, sizeof hint);
        cb_err_set(err, (rc & 0xff) == SQLITE_NOTADB ? CB_EFORMAT : CB_EIO, "%s: %s: %s%s", s->path, what,
                   msg ? msg : sqlite3_errstr(rc), hint);
        sqlite3_free(msg);
        return err ? err->code : CB_EIO;
    }
    return 0;
}

/* Reads one integer from a single-row query (a PRAGMA or count). */
static int query_int(cb_store *s, const char *sql, int64_t *out, cb_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = sql_err(s, s->db, err, sql);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs the migration steps from `from` up to the current version inside one
 * IMMEDIATE transaction, re-reading the version under the write lock (another
 * process may have migrated meanwhile). */
static int migrate(cb_store *s, cb_err *err) {
    int rc = exec(s, "BEGIN IMMEDIATE", err, "starting the schema migration");
    if (rc) return rc;
    int64_t v = 0, app = 0, nobj = 0;
    if ((rc = query_int(s, "PRAGMA user_version", &v, err))) goto out;
    if ((rc = query_int(s, "PRAGMA application_id", &app, err))) goto out;
    if ((rc = query_int(s, "SELECT count(*) FROM sqlite_master", &nobj, err))) goto out;
    if (v == 0 && nobj > 0) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: not a capbench results database (it has tables but no schema version)",
                        s->path);
        goto out;
    }
    if (v > 0 && app != CB_STORE_APP_ID) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: not a capbench results database (application_id %lld)", s->path,
                        (long long)app);
        goto out;
    }
    if (v > CB_STORE_SCHEMA_VERSION) {
        rc = cb_err_set(err, CB_EUNSUP,
                        "%s: results database has schema version %lld, newer than this capbench (%s) understands "
                        "(version %d); use a newer capbench",
                        s->path, (long long)v, CB_VERSION, CB_STORE_SCHEMA_VERSION);
        goto out;
    }
    for (int64_t step = v; step < CB_STORE_SCHEMA_VERSION; step++) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema from version %lld", (long long)step);
        if ((rc = exec(s, migrations[step], err, what))) goto out;
    }
    if (v < CB_STORE_SCHEMA_VERSION) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d", CB_STORE_APP_ID,
                 CB_STORE_SCHEMA_VERSION);
        if ((rc = exec(s, sql, err, "setting the schema version"))) goto out;
    }
    rc = exec(s, "COMMIT", err, "committing the schema migration");
out:
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int prepare_all(cb_store *s, cb_err *err) {
    for (int i = 0; i < ST_N; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK)
            return sql_err(s, s->db, err, "preparing a statement");
    return 0;
}

/* Read-only open through a URI: mode=ro first; a WAL database on a read-only
 * file or folder whose -shm cannot be created is then opened immutable (no
 * other process can be writing a file nobody may write). Nothing is written,
 * so an older schema is refused rather than migrated. */
static int open_readonly(const char *path, cb_store **out, cb_err *err) {
    int rc = 0;
    cb_store *s = calloc(1, sizeof *s);
    char *uri = malloc(strlen(path) * 3 + 32);
    if (!s || !uri) {
        free(s);
        free(uri);
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    for (int attempt = 0; attempt < 2; attempt++) {
        char *u = uri + sprintf(uri, "file:");
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
            u += (*p == '%' || *p == '?' || *p == '#' || *p < 0x20) ? sprintf(u, "%%%02X", *p) : sprintf(u, "%c", *p);
        sprintf(u, attempt == 0 ? "?mode=ro" : "?mode=ro&immutable=1");
        if (s->db) sqlite3_close_v2(s->db);
        s->db = NULL;
        if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
            rc = s->db ? sql_err(s, s->db, err, "opening read-only") : cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
            continue;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, CB_STORE_BUSY_MS);
        int64_t v = 0, app = 0;
        rc = query_int(s, "PRAGMA user_version", &v, err);
        if (rc) continue;
        if ((rc = query_int(s, "PRAGMA application_id", &app, err))) break;
        if (v == 0 || app != CB_STORE_APP_ID) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: not a capbench results database (application_id %lld, "
                            "user_version %lld)", path, (long long)app, (long long)v);
            break;
        }
        if (v != CB_STORE_SCHEMA_VERSION) {
            rc = cb_err_set(err, v > CB_STORE_SCHEMA_VERSION ? CB_EUNSUP : CB_EUSAGE,
                            "%s: results database has schema version %lld and is read-only; this capbench (%s) "
                            "reads version %d (%s)",
                            path, (long long)v, CB_VERSION, CB_STORE_SCHEMA_VERSION,
                            v > CB_STORE_SCHEMA_VERSION ? "use a newer capbench"
                                                        : "open it once with write access to migrate it");
            break;
        }
        s->version = (int)v;
        s->readonly = 1;
        rc = prepare_all(s, err);
        break;
    }
    free(uri);
    if (rc) {
        cb_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cb_store_readonly(const cb_store *s) { return s->readonly; }

int cb_store_open(const char *path, cb_store_mode mode, cb_store **out, cb_err *err) {
    int rc = 0;
    cb_store *s = NULL;
    *out = NULL;
    if (!path || !path[0]) return cb_err_set(err, CB_EUSAGE, "results database: empty path");
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (!exists && (mode == CB_STORE_OPEN_EXISTING || mode == CB_STORE_OPEN_READONLY)) {
        if (errno == ENOENT) return cb_err_set(err, CB_EUSAGE, "%s: no such results database", path);
        return cb_err_set(err, CB_EIO, "%s: %s", path, strerror(errno));
    }
    if (exists && S_ISDIR(sb.st_mode)) return cb_err_set(err, CB_EUSAGE, "%s: is a directory", path);
    if (mode == CB_STORE_OPEN_READONLY) return open_readonly(path, out, err);
    s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (mode == CB_STORE_OPEN_CREATE ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = s->db ? sql_err(s, s->db, err, "opening") : cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, CB_STORE_BUSY_MS);
    /* SQLite falls back to read-only for a write-protected file; a run would
     * only find out at its first commit, after the model has worked */
    if (mode == CB_STORE_OPEN_CREATE && sqlite3_db_readonly(s->db, "main") == 1) {
        rc = cb_err_set(err, CB_EIO,
                        "%s: the results database is read-only (no write permission on the file or its "
                        "directory); capbench run needs to write to it",
                        path);
        goto out;
    }
    /* Identify the file before changing anything in it (WAL mode writes). */
    int64_t v = 0, app = 0, nobj = 0;
    if ((rc = query_int(s, "PRAGMA user_version", &v, err))) {
        if (err && err->code == CB_EFORMAT)
            cb_err_set(err, CB_EFORMAT, "%s: not an SQLite database (so not a capbench results database)", path);
        goto out;
    }
    if ((rc = query_int(s, "PRAGMA application_id", &app, err))) goto out;
    if ((rc = query_int(s, "SELECT count(*) FROM sqlite_master", &nobj, err))) goto out;
    if (v == 0 && nobj == 0 && mode == CB_STORE_OPEN_EXISTING) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: empty file, not a capbench results database", path);
        goto out;
    }
    if ((v == 0 && nobj > 0) || (v > 0 && app != CB_STORE_APP_ID)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: not a capbench results database (application_id %lld, user_version %lld)",
                        path, (long long)app, (long long)v);
        goto out;
    }
    if (v > CB_STORE_SCHEMA_VERSION) {
        rc = cb_err_set(err, CB_EUNSUP,
                        "%s: results database has schema version %lld, newer than this capbench (%s) understands "
                        "(version %d); use a newer capbench",
                        path, (long long)v, CB_VERSION, CB_STORE_SCHEMA_VERSION);
        goto out;
    }
    /* Foreign keys stay off while migrating: a step that rebuilds `runs` must
     * not cascade-delete the samples that reference it. */
    if ((rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF", err,
                   "setting connection options")))
        goto out;
    if (v < CB_STORE_SCHEMA_VERSION && (rc = migrate(s, err))) goto out;
    if ((rc = ensure_cascade_trigger(s, err))) goto out;
    if ((rc = exec(s, "PRAGMA foreign_keys=ON", err, "enabling foreign keys"))) goto out;
    s->version = CB_STORE_SCHEMA_VERSION;
    if ((rc = prepare_all(s, err))) goto out;
    *out = s;
    s = NULL;
out:
    cb_store_close(s);
    return rc;
}

void cb_store_close(cb_store *s) {
    if (!s) return;
    if (s->in_tx) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_N; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
    free(s);
}

int cb_store_schema_version(const cb_store *s) { return s->version; }

int cb_store_integrity_check(cb_store *s, cb_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) return sql_err(s, s->db, err, "PRAGMA integrity_check");
    char first[512] = "";
    int rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (rows++ == 0) snprintf(first, sizeof first, "%s", v ? v : "");
    }
    if (rc != SQLITE_DONE) rc = sql_err(s, s->db, err, "PRAGMA integrity_check");
    else if (rows != 1 || strcmp(first, "ok") != 0)
        rc = cb_err_set(err, CB_EFORMAT, "%s: integrity check failed (%d problems), first: %s", s->path, rows, first);
    else
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

/* Resets a statement and clears its bindings; returns it ready to bind. */
static sqlite3_stmt *stmt(cb_store *s, int which) {
    sqlite3_stmt *st = s->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v) {
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int bind_real(sqlite3_stmt *st, int i, double v) {
    return isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

static double col_real(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int i) {
    const char *v = col_text(st, i);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* ---- runs ---------------------------------------------------------------- */

static const char *const status_names[CB_RUN_NSTATUS] = {"running", "finished", "interrupted", "failed",
                                                         "incomplete"};

const char *cb_run_status_name(cb_run_status st) {
    return (unsigned)st < CB_RUN_NSTATUS ? status_names[st] : "unknown";
}

void cb_run_info_clear(cb_run_info *info) {
    if (!info) return;
    free(info->config_json);
    free(info->overrides_json);
    free(info->labels_json);
    memset(info, 0, sizeof *info);
}

/* Fixed-size fields must hold a terminated string. */
#define CHECK_FIELD(f)                                                                                          \
    do {                                                                                                        \
        if (!memchr(info->f, 0, sizeof info->f))                                                                \
            return cb_err_set(err, CB_EUSAGE, "%s: run field " #f " is not a terminated string", s->path);     \
    } while (0)

int cb_store_run_create(cb_store *s, const cb_run_info *info, int64_t *run_id, cb_err *err) {
    CHECK_FIELD(suite);
    CHECK_FIELD(config_sha256);
    CHECK_FIELD(model_id);
    CHECK_FIELD(model_sha256);
    CHECK_FIELD(backend);
    CHECK_FIELD(base_url);
    CHECK_FIELD(device);
    CHECK_FIELD(capbench_version);
    CHECK_FIELD(shard);
    sqlite3_stmt *st = stmt(s, ST_RUN_INSERT);
    bind_text(st, 1, info->suite);
    bind_text(st, 2, info->config_json ? info->config_json : "{}");
    bind_text(st, 3, info->config_sha256);
    bind_text(st, 4, info->model_id);
    bind_text(st, 5, info->model_sha256);
    sqlite3_bind_int64(st, 6, info->model_bytes);
    bind_text(st, 7, info->backend);
    bind_text(st, 8, info->base_url);
    bind_text(st, 9, info->device);
    bind_text(st, 10, info->capbench_version);
    sqlite3_bind_int64(st, 11, (int64_t)info->seed);
    sqlite3_bind_double(st, 12, info->started_at > 0 ? info->started_at : now_s());
    sqlite3_bind_int64(st, 13, info->limit_n);
    bind_text(st, 14, info->shard);
    bind_text(st, 15, info->overrides_json ? info->overrides_json : "{}");
    bind_text(st, 16, info->labels_json ? info->labels_json : "{}");
    sqlite3_bind_int64(st, 17, info->n_params);
    sqlite3_bind_int64(st, 18, info->n_params_nonembd);
    if (sqlite3_step(st) != SQLITE_DONE) {
        int rc = sql_err(s, s->db, err, "creating a run");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    *run_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int cb_store_run_get(cb_store *s, int64_t run_id, cb_run_info *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, ST_RUN_GET);
    sqlite3_bind_int64(st, 1, run_id);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        sqlite3_reset(st);
        return cb_err_set(err, CB_EUSAGE, "%s: no run %lld", s->path, (long long)run_id);
    }
    if (r != SQLITE_ROW) {
        int rc = sql_err(s, s->db, err, "reading a run");
        sqlite3_reset(st);
        return rc;
    }
    out->id = run_id;
    copy_col(out->suite, sizeof out->suite, st, 0);
    const char *cfg = col_text(st, 1);
    out->config_json = strdup(cfg ? cfg : "{}");
    copy_col(out->config_sha256, sizeof out->config_sha256, st, 2);
    copy_col(out->model_id, sizeof out->model_id, st, 3);
    copy_col(out->model_sha256, sizeof out->model_sha256, st, 4);
    out->model_bytes = sqlite3_column_int64(st, 5);
    copy_col(out->backend, sizeof out->backend, st, 6);
    copy_col(out->base_url, sizeof out->base_url, st, 7);
    copy_col(out->device, sizeof out->device, st, 8);
    copy_col(out->capbench_version, sizeof out->capbench_version, st, 9);
    out->seed = (uint64_t)sqlite3_column_int64(st, 10);
    out->started_at = sqlite3_column_double(st, 11);
    out->finished_at = sqlite3_column_type(st, 12) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 12);
    const char *status = col_text(st, 13);
    out->status = CB_RUN_FAILED;
    for (int i = 0; i < CB_RUN_NSTATUS; i++)
        if (status && strcmp(status, status_names[i]) == 0) out->status = (cb_run_status)i;
    out->limit_n = sqlite3_column_int64(st, 14);
    copy_col(out->shard, sizeof out->shard, st, 15);
    const char *ov = col_text(st, 16), *lb = col_text(st, 17);
    out->overrides_json = strdup(ov ? ov : "{}");
    out->labels_json = strdup(lb ? lb : "{}");
    out->n_params = sqlite3_column_int64(st, 18);
    out->n_params_nonembd = sqlite3_column_int64(st, 19);
    sqlite3_reset(st);
    if (!out->config_json || !out->overrides_json || !out->labels_json) return cb_err_set(err, CB_ENOMEM, "%s: out of memory reading run %lld", s->path,
                                             (long long)run_id);
    return 0;
}

int cb_store_run_latest(cb_store *s, int64_t *run_id, cb_err *err) {
    sqlite3_stmt *st = stmt(s, ST_RUN_LATEST);
    int r = sqlite3_step(st), rc = 0;
    if (r != SQLITE_ROW)
        rc = sql_err(s, s->db, err, "finding the latest run");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = cb_err_set(err, CB_EUSAGE, "%s: the database holds no run", s->path);
    else
        *run_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

int cb_store_run_set_status(cb_store *s, int64_t run_id, cb_run_status status, cb_err *err) {
    if ((unsigned)status >= CB_RUN_NSTATUS)
        return cb_err_set(err, CB_EUSAGE, "%s: bad run status %d", s->path, (int)status);
    sqlite3_stmt *st = stmt(s, ST_RUN_STATUS);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, status_names[status], -1, SQLITE_STATIC);
    if (status == CB_RUN_RUNNING)
        sqlite3_bind_null(st, 3);
    else
        sqlite3_bind_double(st, 3, now_s());
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sql_err(s, s->db, err, "setting the run status");
    else if (sqlite3_changes(s->db) == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s: no run %lld", s->path, (long long)run_id);
    sqlite3_reset(st);
    return rc;
}

/* ---- transactions -------------------------------------------------------- */

int cb_store_begin(cb_store *s, cb_err *err) {
    if (s->in_tx) return cb_err_set(err, CB_ERUNTIME, "%s: begin inside an open transaction", s->path);
    int rc = exec(s, "BEGIN IMMEDIATE", err, "starting a transaction");
    if (!rc) s->in_tx = 1;
    return rc;
}

int cb_store_commit(cb_store *s, cb_err *err) {
    if (!s->in_tx) return cb_err_set(err, CB_ERUNTIME, "%s: commit without begin", s->path);
    int rc = exec(s, "COMMIT", err, "committing samples");
    if (rc) {
        /* a failed COMMIT may leave the transaction open: end it so nothing half-done lingers */
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    s->in_tx = 0;
    return rc;
}

void cb_store_rollback(cb_store *s) {
    if (!s || !s->in_tx) return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
}

/* ---- samples ------------------------------------------------------------- */

static int check_sample(cb_store *s, const cb_sample *smp, cb_err *err) {
    if (!smp->item_id || !smp->item_id[0]) return cb_err_set(err, CB_EUSAGE, "%s: sample without item_id", s->path);
    if (!smp->task || !smp->task[0])
        return cb_err_set(err, CB_EUSAGE, "%s: sample %s without task", s->path, smp->item_id);
    if (smp->cap[1] && !smp->cap[0])
        return cb_err_set(err, CB_EUSAGE, "%s: sample %s has a second capability label but no first", s->path,
                          smp->item_id);
    return 0;
}

/* span_start/span_end at parameters i, i+1: NULL unless a span was read. */
static void bind_span(sqlite3_stmt *st, int i, const cb_sample *smp) {
    if (smp->span_start >= 0 && smp->span_end >= smp->span_start) {
        sqlite3_bind_int64(st, i, smp->span_start);
        sqlite3_bind_int64(st, i + 1, smp->span_end);
    } else {
        sqlite3_bind_null(st, i);
        sqlite3_bind_null(st, i + 1);
    }
}

int cb_store_add_sample(cb_store *s, const cb_sample *smp, int *inserted, cb_err *err) {
    if (inserted) *inserted = 0;
    int rc = check_sample(s, smp, err);
    if (rc) return rc;
    sqlite3_stmt *st = stmt(s, ST_INSERT);
    sqlite3_bind_int64(st, 1, smp->run_id);
    bind_text(st, 2, smp->item_id);
    sqlite3_bind_int(st, 3, smp->repeat);
    bind_text(st, 4, smp->task);
    bind_text(st, 5, smp->subtask);
    bind_text(st, 6, smp->setting);
    bind_text(st, 7, smp->cap[0]);
    bind_text(st, 8, smp->cap[1]);
    bind_text(st, 9, smp->item_json);
    bind_text(st, 10, smp->prompt);
    sqlite3_bind_int(st, 11, smp->prompt_tokens);
    bind_text(st, 12, smp->response);
    bind_text(st, 13, smp->extracted);
    bind_real(st, 14, smp->score);
    sqlite3_bind_int(st, 15, smp->unparsed ? 1 : 0);
    bind_text(st, 16, smp->flags_json);
    bind_text(st, 17, smp->metrics_json);
    bind_text(st, 18, smp->grader_version);
    sqlite3_bind_int(st, 19, smp->completion_tokens);
    bind_real(st, 20, smp->latency_s);
    sqlite3_bind_int(st, 21, smp->attempts);
    bind_text(st, 22, smp->error);
    bind_text(st, 23, smp->responses_json);
    bind_text(st, 24, smp->family);
    bind_text(st, 25, smp->item_hash);
    if (smp->item_hash || smp->item_seed) sqlite3_bind_int64(st, 26, (int64_t)smp->item_seed);
    bind_text(st, 27, smp->gold);
    bind_span(st, 28, smp);
    bind_text(st, 30, smp->grading);
    bind_text(st, 31, smp->judge_id);
    sqlite3_bind_int(st, 32, smp->judge_calls);
    sqlite3_bind_int64(st, 33, smp->judge_tokens);
    if (sqlite3_step(st) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(s->db)) == SQLITE_CONSTRAINT_FOREIGNKEY)
            rc = cb_err_set(err, CB_EUSAGE, "%s: sample %s: no run %lld", s->path, smp->item_id,
                            (long long)smp->run_id);
        else
            rc = sql_err(s, s->db, err, "adding a sample");
        sqlite3_reset(st);
        return rc;
    }
    if (inserted) *inserted = sqlite3_changes(s->db) > 0;
    sqlite3_reset(st);
    return 0;
}

int cb_store_add_samples(cb_store *s, const cb_sample *smp, size_t n, size_t *n_inserted, cb_err *err) {
    int rc = 0, own = !s->in_tx;
    size_t count = 0;
    if (n_inserted) *n_inserted = 0;
    if (own) {
        if ((rc = cb_store_begin(s, err))) return rc;
    } else if ((rc = exec(s, "SAVEPOINT cb_batch", err, "starting a batch"))) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int ins = 0;
        if ((rc = cb_store_add_sample(s, &smp[i], &ins, err))) break;
        count += (size_t)ins;
    }
    if (own) {
        if (rc)
            cb_store_rollback(s);
        else
            rc = cb_store_commit(s, err);
    } else if (rc) {
        sqlite3_exec(s->db, "ROLLBACK TO cb_batch; RELEASE cb_batch", NULL, NULL, NULL);
    } else {
        rc = exec(s, "RELEASE cb_batch", err, "ending a batch");
    }
    if (!rc && n_inserted) *n_inserted = count;
    return rc;
}

int cb_store_update_grade(cb_store *s, const cb_sample *smp, cb_err *err) {
    if (!smp->item_id) return cb_err_set(err, CB_EUSAGE, "%s: update without item_id", s->path);
    sqlite3_stmt *st = stmt(s, ST_UPDATE_GRADE);
    sqlite3_bind_int64(st, 1, smp->run_id);
    bind_text(st, 2, smp->item_id);
    sqlite3_bind_int(st, 3, smp->repeat);
    bind_text(st, 4, smp->extracted);
    bind_real(st, 5, smp->score);
    sqlite3_bind_int(st, 6, smp->unparsed ? 1 : 0);
    bind_text(st, 7, smp->flags_json);
    bind_text(st, 8, smp->metrics_json);
    bind_text(st, 9, smp->grader_version);
    bind_span(st, 10, smp);
    bind_text(st, 12, smp->grading);
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sql_err(s, s->db, err, "updating a grade");
    else if (sqlite3_changes(s->db) == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s: no sample (run %lld, item %s, repeat %d)", s->path,
                        (long long)smp->run_id, smp->item_id, smp->repeat);
    sqlite3_reset(st);
    return rc;
}

int cb_store_count_samples(cb_store *s, int64_t run_id, int64_t *n, cb_err *err) {
    sqlite3_stmt *st = stmt(s, ST_COUNT);
    sqlite3_bind_int64(st, 1, run_id);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = sql_err(s, s->db, err, "counting samples");
    sqlite3_reset(st);
    return rc;
}

/* One page of samples copied out of SQLite so that no statement stays open
 * while callbacks run. Each row's strings are strdup'd. */
enum { N_STR = 21 };
typedef struct {
    cb_sample smp[PAGE_ROWS];
    char *str[PAGE_ROWS][N_STR];
    int n;
} sample_page;

static void page_clear(sample_page *p) {
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < N_STR; j++) free(p->str[i][j]);
    p->n = 0;
}

/* Duplicates column c of the current row into slot j of row r; NULL stays NULL. */
static int dup_col(sample_page *p, int r, int j, sqlite3_stmt *st, int c, const char **dst) {
    const char *v = col_text(st, c);
    if (!v) {
        *dst = NULL;
        return 0;
    }
    p->str[r][j] = strdup(v);
    *dst = p->str[r][j];
    return p->str[r][j] ? 0 : -1;
}

int cb_store_foreach_sample(cb_store *s, int64_t run_id, cb_sample_fn fn, void *ud, cb_err *err) {
    int rc = 0;
    int64_t last = 0;
    sample_page *p = calloc(1, sizeof *p);
    if (!p) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", s->path);
    for (;;) {
        sqlite3_stmt *st = stmt(s, ST_PAGE);
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, last);
        sqlite3_bind_int(st, 3, PAGE_ROWS);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            int i = p->n++;
            cb_sample *m = &p->smp[i];
            memset(m, 0, sizeof *m);
            memset(p->str[i], 0, sizeof p->str[i]);
            /* columns: 0 id, then SAMPLE_COLS from 1 */
            m->id = sqlite3_column_int64(st, 0);
            m->run_id = sqlite3_column_int64(st, 1);
            m->repeat = sqlite3_column_int(st, 3);
            m->prompt_tokens = sqlite3_column_int(st, 11);
            m->score = col_real(st, 14);
            m->unparsed = sqlite3_column_int(st, 15);
            m->completion_tokens = sqlite3_column_int(st, 19);
            m->latency_s = col_real(st, 20);
            m->attempts = sqlite3_column_int(st, 21);
            int bad = 0;
            bad |= dup_col(p, i, 0, st, 2, &m->item_id);
            bad |= dup_col(p, i, 1, st, 4, &m->task);
            bad |= dup_col(p, i, 2, st, 5, &m->subtask);
            bad |= dup_col(p, i, 3, st, 6, &m->setting);
            bad |= dup_col(p, i, 4, st, 7, &m->cap[0]);
            bad |= dup_col(p, i, 5, st, 8, &m->cap[1]);
            bad |= dup_col(p, i, 6, st, 9, &m->item_json);
            bad |= dup_col(p, i, 7, st, 10, &m->prompt);
            bad |= dup_col(p, i, 8, st, 12, &m->response);
            bad |= dup_col(p, i, 9, st, 13, &m->extracted);
            bad |= dup_col(p, i, 10, st, 16, &m->flags_json);
            bad |= dup_col(p, i, 11, st, 17, &m->metrics_json);
            bad |= dup_col(p, i, 12, st, 18, &m->grader_version);
            bad |= dup_col(p, i, 13, st, 22, &m->error);
            bad |= dup_col(p, i, 14, st, 23, &m->responses_json);
            bad |= dup_col(p, i, 15, st, 24, &m->family);
            bad |= dup_col(p, i, 16, st, 25, &m->item_hash);
            bad |= dup_col(p, i, 17, st, 27, &m->gold);
            m->item_seed = (uint64_t)sqlite3_column_int64(st, 26);
            m->span_start = sqlite3_column_type(st, 28) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 28);
            m->span_end = sqlite3_column_type(st, 29) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 29);
            bad |= dup_col(p, i, 18, st, 30, &m->grading);
            bad |= dup_col(p, i, 19, st, 31, &m->judge_id);
            m->judge_calls = sqlite3_column_int(st, 32);
            m->judge_tokens = sqlite3_column_int64(st, 33);
            if (bad) {
                sqlite3_reset(st);
                rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory reading samples", s->path);
                goto out;
            }
            last = m->id;
        }
        if (r != SQLITE_DONE) {
            rc = sql_err(s, s->db, err, "reading samples");
            sqlite3_reset(st);
            goto out;
        }
        sqlite3_reset(st);
        int got = p->n;
        for (int i = 0; i < got; i++)
            if ((rc = fn(ud, &p->smp[i], err))) goto out;
        page_clear(p);
        if (got < PAGE_ROWS) break;
    }
out:
    page_clear(p);
    free(p);
    return rc;
}

/* ---- resume keys --------------------------------------------------------- */

typedef struct {
    const char *item;
    int repeat;
} key_entry;

struct cb_keyset {
    key_entry *keys;
    size_t n;
    char *block; /* all item strings, NUL-separated */
};

int cb_store_done_keys(cb_store *s, int64_t run_id, cb_done_mode mode, cb_keyset **out, cb_err *err) {
    int rc = 0;
    cb_keyset *k = calloc(1, sizeof *k);
    size_t cap = 0, blen = 0, bcap = 0;
    size_t *offs = NULL;
    *out = NULL;
    if (!k) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", s->path);
    sqlite3_stmt *st = stmt(s, mode == CB_DONE_SUCCEEDED ? ST_DONE_OK : ST_DONE_ALL);
    sqlite3_bind_int64(st, 1, run_id);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *item = col_text(st, 0);
        size_t len = item ? strlen(item) + 1 : 1;
        if (k->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            key_entry *nk = realloc(k->keys, nc * sizeof *nk);
            size_t *no = nk ? realloc(offs, nc * sizeof *no) : NULL;
            if (nk) k->keys = nk;
            if (!nk || !no) goto nomem;
            offs = no;
            cap = nc;
        }
        if (blen + len > bcap) {
            size_t nc = bcap ? bcap * 2 : 4096;
            while (nc < blen + len) nc *= 2;
            char *nb = realloc(k->block, nc);
            if (!nb) goto nomem;
            k->block = nb;
            bcap = nc;
        }
        memcpy(k->block + blen, item ? item : "", len);
        offs[k->n] = blen;
        k->keys[k->n].repeat = sqlite3_column_int(st, 1);
        k->n++;
        blen += len;
    }
    if (r != SQLITE_DONE) {
        rc = sql_err(s, s->db, err, "reading stored sample keys");
        goto out;
    }
    for (size_t i = 0; i < k->n; i++) k->keys[i].item = k->block + offs[i];
    *out = k;
    k = NULL;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory reading stored sample keys", s->path);
out:
    sqlite3_reset(st);
    free(offs);
    cb_keyset_free(k);
    return rc;
}

static int key_cmp(const char *item, int repeat, const key_entry *e) {
    int c = strcmp(item, e->item);
    if (c) return c;
    return repeat < e->repeat ? -1 : repeat > e->repeat;
}

int cb_keyset_contains(const cb_keyset *k, const char *item_id, int repeat) {
    if (!k || !item_id) return 0;
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(item_id, repeat, &k->keys[mid]);
        if (c == 0) return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

size_t cb_keyset_count(const cb_keyset *k) { return k ? k->n : 0; }

const char *cb_keyset_item(const cb_keyset *k, size_t i, int *repeat) {
    if (!k || i >= k->n) return NULL;
    if (repeat) *repeat = k->keys[i].repeat;
    return k->keys[i].item;
}

void cb_keyset_free(cb_keyset *k) {
    if (!k) return;
    free(k->keys);
    free(k->block);
    free(k);
}

/* ---- numbers for aggregation --------------------------------------------- */

void cb_stat_set_clear(cb_stat_set *set) {
    if (!set) return;
    free(set->rows);
    free(set->strings);
    memset(set, 0, sizeof *set);
}

/* Appends v to the string block unless it equals the previous row's value in
 * the same column (samples arrive grouped, so this interns most strings).
 * OUT *off: offset of the string, or SIZE_MAX for NULL. */
typedef struct {
    char *buf;
    size_t len, cap;
} strbuf;

static int intern(strbuf *b, const char *v, size_t *prev_off, size_t *off) {
    if (!v) {
        *off = SIZE_MAX;
        return 0;
    }
    if (*prev_off != SIZE_MAX && strcmp(b->buf + *prev_off, v) == 0) {
        *off = *prev_off;
        return 0;
    }
    size_t len = strlen(v) + 1;
    if (b->len + len > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + len) nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, v, len);
    *off = *prev_off = b->len;
    b->len += len;
    return 0;
}

/* Reads every row of a stepped statement into a growable array of elem-byte
 * rows. n_str fields of each row are strings: the const char * at byte offset
 * str_off[c] is read from column str_col[c] and interned in one string block;
 * fill sets the other fields. OUT *rows_out (malloc'd), *n_out, *strings_out
 * (the block the string fields point into). what names the read in errors. */
typedef void (*row_fill_fn)(sqlite3_stmt *st, void *row);

static int read_rows(cb_store *s, sqlite3_stmt *st, size_t elem, int n_str, const int *str_col,
                     const size_t *str_off, row_fill_fn fill, const char *what, void **rows_out, size_t *n_out,
                     char **strings_out, cb_err *err) {
    int rc = 0, r;
    strbuf b = {0};
    size_t cap = 0, n = 0, prev[16];
    size_t *offs = NULL; /* n * n_str string offsets */
    char *rows = NULL;
    if (n_str > 16) return cb_err_set(err, CB_ERUNTIME, "%s: too many string columns", what);
    for (int c = 0; c < n_str; c++) prev[c] = SIZE_MAX;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            char *nr = realloc(rows, nc * elem);
            if (nr) rows = nr;
            size_t *no = nr ? realloc(offs, nc * (size_t)n_str * sizeof *no) : NULL;
            if (!nr || !no) goto nomem;
            offs = no;
            cap = nc;
        }
        char *row = rows + n * elem;
        memset(row, 0, elem);
        for (int c = 0; c < n_str; c++)
            if (intern(&b, col_text(st, str_col[c]), &prev[c], &offs[n * (size_t)n_str + (size_t)c])) goto nomem;
        fill(st, row);
        n++;
    }
    if (r != SQLITE_DONE) {
        rc = sql_err(s, s->db, err, what);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < n_str; c++) {
            size_t o = offs[i * (size_t)n_str + (size_t)c];
            const char *v = o == SIZE_MAX ? NULL : b.buf + o;
            memcpy(rows + i * elem + str_off[c], &v, sizeof v);
        }
    *rows_out = rows;
    *n_out = n;
    *strings_out = b.buf;
    rows = NULL;
    b.buf = NULL;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory %s", s->path, what);
out:
    free(offs);
    free(rows);
    free(b.buf);
    return rc;
}

static void fill_stat(sqlite3_stmt *st, void *vrow) {
    cb_sample_stat *row = vrow;
    row->score = col_real(st, 5);
    row->unparsed = sqlite3_column_int(st, 6);
    row->failed = sqlite3_column_int(st, 7);
    row->prompt_tokens = sqlite3_column_int(st, 8);
    row->completion_tokens = sqlite3_column_int(st, 9);
    row->latency_s = col_real(st, 10);
    row->format_violation = sqlite3_column_int(st, 12);
    row->judge_calls = sqlite3_column_int(st, 17);
    row->judge_tokens = sqlite3_column_int64(st, 18);
}

int cb_store_sample_stats(cb_store *s, int64_t run_id, cb_stat_set *out, cb_err *err) {
    /* string columns of ST_STATS and the fields they fill */
    static const int str_col[] = {0, 1, 2, 3, 4, 11, 13, 14, 15, 16};
    static const size_t str_off[] = {
        offsetof(cb_sample_stat, task),    offsetof(cb_sample_stat, subtask),      offsetof(cb_sample_stat, setting),
        offsetof(cb_sample_stat, cap[0]),  offsetof(cb_sample_stat, cap[1]),       offsetof(cb_sample_stat, gold),
        offsetof(cb_sample_stat, metrics_json), offsetof(cb_sample_stat, meta_json), offsetof(cb_sample_stat, error),
        offsetof(cb_sample_stat, grading)};
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = stmt(s, ST_STATS);
    sqlite3_bind_int64(st, 1, run_id);
    void *rows = NULL;
    int rc = read_rows(s, st, sizeof(cb_sample_stat), 10, str_col, str_off, fill_stat, "reading sample numbers", &rows,
                       &out->n, &out->strings, err);
    out->rows = rows;
    sqlite3_reset(st);
    return rc;
}

/* ---- capability scores --------------------------------------------------- */

int cb_store_compute_capability_scores(cb_store *s, int64_t run_id, cb_err *err) {
    int rc = 0;
    cb_stat_set set = {0};
    cb_group *g = NULL;
    size_t ng = 0;
    if (s->in_tx)
        return cb_err_set(err, CB_ERUNTIME, "%s: capability scores computed inside an open transaction", s->path);
    if ((rc = cb_store_sample_stats(s, run_id, &set, err))) goto out;
    /* one row per (capability, setting) and one per capability over all settings */
    if ((rc = cb_aggregate(&set, CB_GROUP_CAPABILITY_SETTING, &g, &ng, err))) goto out;
    if ((rc = cb_store_begin(s, err))) goto out;
    sqlite3_stmt *st = stmt(s, ST_CAP_DELETE);
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) != SQLITE_DONE) rc = sql_err(s, s->db, err, "clearing capability scores");
    sqlite3_reset(st);
    for (size_t i = 0; !rc && i < ng; i++) {
        const cb_summary *m = &g[i].sum;
        st = stmt(s, ST_CAP_INSERT);
        sqlite3_bind_int64(st, 1, run_id);
        bind_text(st, 2, g[i].capability);
        sqlite3_bind_int64(st, 3, m->n);
        sqlite3_bind_int64(st, 4, m->n_scored);
        bind_real(st, 5, m->mean);
        bind_real(st, 6, m->sd);
        bind_real(st, 7, m->se);
        bind_real(st, 8, m->ci_low);
        bind_real(st, 9, m->ci_high);
        bind_text(st, 10, cb_ci_method_name(m->ci_method));
        bind_real(st, 11, m->unparsed_rate);
        bind_text(st, 12, g[i].setting[0] ? g[i].setting : "all");
        sqlite3_bind_int64(st, 13, m->n_failed);
        if (sqlite3_step(st) != SQLITE_DONE) rc = sql_err(s, s->db, err, "storing a capability score");
        sqlite3_reset(st);
    }
    if (rc)
        cb_store_rollback(s);
    else
        rc = cb_store_commit(s, err);
out:
    free(g);
    cb_stat_set_clear(&set);
    return rc;
}

int cb_store_capability_scores(cb_store *s, int64_t run_id, cb_capability_score **rows, size_t *n, cb_err *err) {
    int rc = 0;
    size_t cap = 0, cnt = 0;
    cb_capability_score *out = NULL;
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, ST_CAP_SELECT);
    sqlite3_bind_int64(st, 1, run_id);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            cb_capability_score *no = realloc(out, nc * sizeof *no);
            if (!no) {
                rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory reading capability scores", s->path);
                goto out;
            }
            out = no;
            cap = nc;
        }
        cb_capability_score *c = &out[cnt++];
        memset(c, 0, sizeof *c);
        copy_col(c->capability, sizeof c->capability, st, 0);
        c->n = sqlite3_column_int64(st, 1);
        c->n_scored = sqlite3_column_int64(st, 2);
        c->mean = col_real(st, 3);
        c->sd = col_real(st, 4);
        c->se = col_real(st, 5);
        c->ci_low = col_real(st, 6);
        c->ci_high = col_real(st, 7);
        copy_col(c->ci_method, sizeof c->ci_method, st, 8);
        c->unparsed_rate = col_real(st, 9);
        copy_col(c->setting, sizeof c->setting, st, 10);
        c->n_failed = sqlite3_column_int64(st, 11);
    }
    if (r != SQLITE_DONE) {
        rc = sql_err(s, s->db, err, "reading capability scores");
        goto out;
    }
    *rows = out;
    *n = cnt;
    out = NULL;
out:
    sqlite3_reset(st);
    free(out);
    return rc;
}

int cb_store_failed_summary(cb_store *s, int64_t run_id, int64_t *n_failed, char *first, size_t cap, cb_err *err) {
    sqlite3_stmt *st = stmt(s, ST_FAILED);
    sqlite3_bind_int64(st, 1, run_id);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n_failed = sqlite3_column_int64(st, 0);
        if (first && cap) copy_col(first, cap, st, 1);
    } else {
        rc = sql_err(s, s->db, err, "counting failed samples");
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- judgement cache ------------------------------------------------------ */

int cb_store_judgement_get(cb_store *s, const char *judge_id, const char *key, char **text, cb_err *err) {
    *text = NULL;
    sqlite3_stmt *st = stmt(s, ST_JUDGE_GET);
    bind_text(st, 1, judge_id);
    bind_text(st, 2, key);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW) {
        const char *v = col_text(st, 0);
        if (v && !(*text = strdup(v))) rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", s->path);
    } else if (r != SQLITE_DONE) {
        rc = sql_err(s, s->db, err, "reading the judgement cache");
    }
    sqlite3_reset(st);
    return rc;
}

int cb_store_judgement_put(cb_store *s, const char *judge_id, const char *key, const char *text, cb_err *err) {
    sqlite3_stmt *st = stmt(s, ST_JUDGE_PUT);
    bind_text(st, 1, judge_id);
    bind_text(st, 2, key);
    bind_text(st, 3, text);
    sqlite3_bind_double(st, 4, now_s());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, s->db, err, "storing a judgement");
    sqlite3_reset(st);
    return rc;
}

/* ---- analysis, run management and merge (issue 10) ------------------------ */

/* Plain `sqlite3` connections run with foreign keys off, so ON DELETE CASCADE
 * does nothing there; this trigger makes a bare DELETE FROM runs cascade on
 * any connection. Not a schema step: it adds no column or table, old files get
 * it on their next read-write open, and IF NOT EXISTS keeps it idempotent. */
static int ensure_cascade_trigger(cb_store *s, cb_err *err) {
    return exec(s,
                "CREATE TRIGGER IF NOT EXISTS runs_delete_cascade AFTER DELETE ON runs BEGIN"
                " DELETE FROM samples WHERE run_id = OLD.id;"
                " DELETE FROM capability_scores WHERE run_id = OLD.id; END",
                err, "creating the cascade trigger");
}

/* Prepares sql once per call (these queries are not hot). */
static int prep(cb_store *s, const char *sql, sqlite3_stmt **st, cb_err *err) {
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sql_err(s, s->db, err, "preparing a query");
    }
    return 0;
}

int cb_store_run_ids(cb_store *s, int64_t **ids, size_t *n, cb_err *err) {
    sqlite3_stmt *st = NULL;
    int64_t *out = NULL;
    size_t cnt = 0, cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = prep(s, "SELECT id FROM runs ORDER BY id", &st, err), r;
    if (rc) return rc;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 32;
            int64_t *no = realloc(out, nc * sizeof *no);
            if (!no) {
                rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory listing runs", s->path);
                goto out;
            }
            out = no;
            cap = nc;
        }
        out[cnt++] = sqlite3_column_int64(st, 0);
    }
    if (r != SQLITE_DONE) {
        rc = sql_err(s, s->db, err, "listing runs");
        goto out;
    }
    *ids = out;
    *n = cnt;
    out = NULL;
out:
    sqlite3_finalize(st);
    free(out);
    return rc;
}

int cb_store_run_counts(cb_store *s, int64_t run_id, int64_t *n_samples, int64_t *n_failed, cb_err *err) {
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "SELECT count(*), coalesce(sum(error IS NOT NULL), 0) FROM samples WHERE run_id=?1", &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (n_samples) *n_samples = sqlite3_column_int64(st, 0);
        if (n_failed) *n_failed = sqlite3_column_int64(st, 1);
    } else {
        rc = sql_err(s, s->db, err, "counting a run's samples");
    }
    sqlite3_finalize(st);
    return rc;
}

int cb_store_run_delete(cb_store *s, int64_t run_id, int64_t *n_samples, cb_err *err) {
    sqlite3_stmt *st = NULL;
    int64_t ns = 0;
    int rc = cb_store_run_counts(s, run_id, &ns, NULL, err);
    if (rc) return rc;
    if ((rc = cb_store_begin(s, err))) return rc;
    if ((rc = prep(s, "DELETE FROM runs WHERE id=?1", &st, err))) goto out;
    sqlite3_bind_int64(st, 1, run_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sql_err(s, s->db, err, "deleting a run");
    else if (sqlite3_changes(s->db) == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s: no run %lld", s->path, (long long)run_id);
out:
    sqlite3_finalize(st);
    if (rc)
        cb_store_rollback(s);
    else
        rc = cb_store_commit(s, err);
    if (!rc && n_samples) *n_samples = ns;
    return rc;
}

int cb_store_run_set_merged(cb_store *s, int64_t run_id, cb_run_status status, double started_at,
                            double finished_at, const char *shard, int64_t limit_n, const char *config_json,
                            const char *config_sha256, const char *overrides_json, cb_err *err) {
    if ((unsigned)status >= CB_RUN_NSTATUS)
        return cb_err_set(err, CB_EUSAGE, "%s: bad run status %d", s->path, (int)status);
    if (shard && strlen(shard) >= sizeof ((cb_run_info *)0)->shard)
        return cb_err_set(err, CB_EUSAGE, "%s: shard \"%s\" is too long", s->path, shard);
    if (config_json && (!config_sha256 || strlen(config_sha256) != 64))
        return cb_err_set(err, CB_EUSAGE, "%s: a merged config needs its 64-digit sha256", s->path);
    sqlite3_stmt *st = NULL;
    int rc = prep(s,
                  "UPDATE runs SET status=?2, started_at=?3, finished_at=?4, shard=?5, limit_n=?6, "
                  "config_json=coalesce(?7, config_json), config_sha256=coalesce(?8, config_sha256), "
                  "overrides_json=coalesce(?9, overrides_json) WHERE id=?1",
                  &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, status_names[status], -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, started_at);
    if (finished_at > 0)
        sqlite3_bind_double(st, 4, finished_at);
    else
        sqlite3_bind_null(st, 4);
    bind_text(st, 5, shard ? shard : "");
    sqlite3_bind_int64(st, 6, limit_n);
    bind_text(st, 7, config_json);
    bind_text(st, 8, config_json ? config_sha256 : NULL);
    bind_text(st, 9, overrides_json);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sql_err(s, s->db, err, "updating a merged run");
    else if (sqlite3_changes(s->db) == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s: no run %lld", s->path, (long long)run_id);
    sqlite3_finalize(st);
    return rc;
}

void cb_item_score_set_clear(cb_item_score_set *set) {
    if (!set) return;
    free(set->rows);
    free(set->strings);
    memset(set, 0, sizeof *set);
}

static void fill_item_score(sqlite3_stmt *st, void *vrow) {
    cb_item_score *row = vrow;
    row->repeat = sqlite3_column_int(st, 4);
    row->has_seed = sqlite3_column_type(st, 5) != SQLITE_NULL;
    row->item_seed = (uint64_t)sqlite3_column_int64(st, 5);
    row->score = col_real(st, 6);
    row->failed = sqlite3_column_int(st, 7);
    row->judge_failed = sqlite3_column_int(st, 8);
}

int cb_store_item_scores(cb_store *s, int64_t run_id, cb_item_score_set *out, cb_err *err) {
    static const int str_col[] = {0, 1, 2, 3};
    static const size_t str_off[] = {offsetof(cb_item_score, cap[0]), offsetof(cb_item_score, cap[1]),
                                     offsetof(cb_item_score, item_id), offsetof(cb_item_score, item_hash)};
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = prep(s,
                  "SELECT cap1, cap2, item_id, item_hash, repeat, item_seed, score, error IS NOT NULL, "
                  "coalesce(instr(flags_json, '\"judge_failed\"') > 0, 0) FROM samples WHERE run_id=?1 ORDER BY id",
                  &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    void *rows = NULL;
    rc = read_rows(s, st, sizeof(cb_item_score), 4, str_col, str_off, fill_item_score, "reading item scores", &rows,
                   &out->n, &out->strings, err);
    out->rows = rows;
    sqlite3_finalize(st);
    return rc;
}
