/* results/store.h — the results database: one SQLite file holding runs, every
 * graded sample and the per-capability scores derived from them.
 *
 * The scheduler (`capbench run`) creates a run, adds samples in batched
 * transactions as they are graded, asks which (item, repeat) keys are already
 * stored when it resumes, and finishes the run. `capbench report` reads a run
 * back, `capbench regrade` rewrites the grade columns of stored samples. This
 * module knows no task, grader or backend: it stores the strings and numbers
 * it is given. It is the only file that includes sqlite3.h.
 *
 * Secrets are never stored — but the store cannot tell a secret from a
 * string: callers pass a config JSON with secrets removed (capbench configs
 * only name environment variables; keep it that way) and never an API key in
 * base_url.
 *
 * Connection settings: journal_mode=WAL, synchronous=FULL, busy_timeout 10 s,
 * foreign_keys=ON. Storage faults (disk or file-size limit full, a read-only
 * file, the write lock held by another process past the busy timeout) are
 * CB_EIO with a message that names the file and says what to do; a failed
 * commit leaves the file as it was before that transaction. A commit is durable when cb_store_commit returns; samples
 * added after the last commit are lost on a crash (never half-written), so a
 * resumed run asks for them again.
 *
 * Schema (PRAGMA application_id = 0x43425244 "CBRD", PRAGMA user_version = 4):
 *
 *   runs(id INTEGER PRIMARY KEY, suite TEXT, config_json TEXT,
 *        config_sha256 TEXT, model_id TEXT, model_sha256 TEXT,
 *        model_bytes INTEGER, backend TEXT, base_url TEXT, device TEXT,
 *        capbench_version TEXT, seed INTEGER (uint64 stored as int64 bits),
 *        started_at REAL, finished_at REAL (unix seconds, NULL while running),
 *        status TEXT CHECK IN ('running','finished','interrupted','failed','incomplete'),
 *        limit_n INTEGER (--limit, 0 = none), shard TEXT ("I/N" or ""),
 *        overrides_json TEXT (the command-line overrides the run was made with,
 *        reused by --resume), labels_json TEXT (user labels, e.g. {"step":"1000"}),
        n_params INTEGER, n_params_nonembd INTEGER (the model's weights, total
        and without embedding/output head, from the GGUF; 0 = unknown: remote
        models; the knowledge-capacity bits per parameter divide by them))
 *   samples(id INTEGER PRIMARY KEY, run_id -> runs(id) ON DELETE CASCADE,
 *        item_id TEXT, repeat INTEGER, task TEXT, subtask TEXT, setting TEXT,
 *        cap1 TEXT, cap2 TEXT (NULL for single-capability items),
 *        item_json TEXT, prompt TEXT, prompt_tokens INTEGER, response TEXT,
 *        extracted TEXT, score REAL (NULL = no score), unparsed INTEGER 0/1,
 *        flags_json TEXT, metrics_json TEXT, grader_version TEXT,
 *        completion_tokens INTEGER, latency_s REAL, attempts INTEGER,
 *        error TEXT (NULL = ok), responses_json TEXT (results/responses.h; the
 *        texts of generations live only in `response`, see there),
 *        family TEXT, item_hash TEXT (sha256 of the item's content: turns,
 *        gold, grader, capabilities, meta; equal across runs for the same
 *        question), item_seed INTEGER (TASKS.md 0.2, uint64 bits), gold TEXT,
 *        span_start/span_end INTEGER (byte offsets in the response of the span
 *        extraction read; NULL when none), grading TEXT ('rule', 'judge',
 *        'proxy', 'logprob'), judge_id TEXT (model sha256 or URL|model of the
 *        judge), judge_calls INTEGER (judge requests made; cache hits excluded),
 *        judge_tokens INTEGER (their prompt + completion tokens),
 *        UNIQUE(run_id, item_id, repeat))
 *   judgements(judge_id TEXT, prompt_sha256 TEXT, response TEXT, created_at REAL,
 *        PRIMARY KEY(judge_id, prompt_sha256)): every judgement a judge gave,
 *        keyed by the judge's identity and the sha256 of the judge prompt and
 *        decoding, so that a resumed run or a regrade never pays twice.
 *   capability_scores(run_id -> runs(id) ON DELETE CASCADE, capability TEXT,
 *        setting TEXT ('all' = every setting pooled, else one setting),
 *        n INTEGER (all samples), n_scored INTEGER (answered: the denominator
 *        of mean and rates), n_failed INTEGER (failed requests), mean REAL,
 *        sd REAL, se REAL, ci_low REAL, ci_high REAL, ci_method TEXT
 *        ('wilson' | 'normal'), unparsed_rate REAL,
 *        PRIMARY KEY(run_id, capability, setting))
 *
 * Capabilities: an item carries one or two capability labels (tasks/task.h),
 * stored as cap1/cap2. A sample's score counts under EACH of its labels, so
 * capability_scores has one row per (label, setting) and one per label over all settings. A cross capability (TASKS.md §3,
 * §6) is one label written "X&Y"; the weakest-link analysis compares the rows
 * "X", "Y" and "X&Y" of a run, and resamples the samples carrying them.
 *
 * History: version 3 lacked n_params / n_params_nonembd. Version 2 lacked the 'incomplete' status, the run's limit, shard,
 * overrides and labels, the sample columns family .. span_end and the setting
 * of a capability score (its rows become setting 'all'). Version 1 had a single `capability` column in samples, no
 * unparsed / metrics_json / grader_version / responses_json, no model_bytes / base_url in
 * runs and only (n, mean, ci_low, ci_high) in capability_scores. Opening a
 * version-1 file migrates it forward in one transaction. A file with a newer
 * version, or an SQLite file that is not a capbench database, is refused.
 *
 * Threads: a cb_store is one SQLite connection; use it from one thread at a
 * time. Several processes may open the same file (WAL + busy timeout).
 */
#ifndef CB_RESULTS_STORE_H
#define CB_RESULTS_STORE_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_store cb_store;

#define CB_STORE_SCHEMA_VERSION 4
#define CB_STORE_DEFAULT_PATH "results.db"

typedef enum {
    CB_STORE_OPEN_EXISTING = 0, /* the file must exist (report, regrade) */
    CB_STORE_OPEN_CREATE = 1,   /* create the file and schema when absent (run) */
    CB_STORE_OPEN_READONLY = 2  /* the file must exist and is never written (report on a read-only
                                   file; regrade --dry-run); an older schema is refused, not migrated */
} cb_store_mode;

typedef enum {
    CB_RUN_RUNNING = 0,
    CB_RUN_FINISHED = 1,
    CB_RUN_INTERRUPTED = 2,
    CB_RUN_FAILED = 3,
    CB_RUN_INCOMPLETE = 4,  /* ended, but some requests finally failed: resume retries them */
    CB_RUN_NSTATUS = 5
} cb_run_status;

/* One row of `runs`. Fixed-size strings are NUL-terminated (longer input is
 * refused with CB_EUSAGE rather than cut). config_json: on create the caller's
 * string (copied by the store); on get a malloc'd copy owned by the struct,
 * released by cb_run_info_clear. */
typedef struct cb_run_info {
    int64_t id;                  /* OUT of create, IN of get */
    char suite[128];             /* suite name, e.g. "smoke" */
    char *config_json;           /* the resolved config, secrets removed */
    char config_sha256[65];      /* hex sha256 of config_json, computed by the caller; compared on --resume */
    char model_id[512];          /* cb_backend_info.model_id */
    char model_sha256[65];       /* "" for remote */
    int64_t model_bytes;
    char backend[16];            /* "local" | "openai" */
    char base_url[512];          /* remote only, "" otherwise */
    char device[64];             /* "cpu", "cuda:0 NVIDIA H100", "remote" */
    char capbench_version[32];   /* CB_VERSION */
    uint64_t seed;               /* global seed of the suite */
    double started_at;           /* unix seconds; create: 0 = now */
    double finished_at;          /* unix seconds; 0 = not finished */
    cb_run_status status;        /* create always stores RUNNING */
    int64_t limit_n;             /* --limit (0 = none) */
    char shard[32];              /* "I/N" or "" */
    char *overrides_json;        /* like config_json: {"limit":..,"shard":..,"model":..} */
    char *labels_json;           /* like config_json: {"step":"1000"} */
    int64_t n_params;            /* cb_backend_info.n_params (0 = unknown) */
    int64_t n_params_nonembd;    /* cb_backend_info.n_params_nonembd */
} cb_run_info;

/* Frees info->config_json, overrides_json and labels_json (owned after
 * cb_store_run_get) and zeroes *info. */
void cb_run_info_clear(cb_run_info *info);

/* "running", "finished", "interrupted", "failed", "incomplete". */
const char *cb_run_status_name(cb_run_status s);

/* One row of `samples`. All strings are borrowed: the store copies them while
 * adding (SQLITE_TRANSIENT), so they only need to live for the call. NULL
 * strings are stored as SQL NULL. On reads (cb_store_foreach_sample) they
 * point into store memory valid only during the callback. */
typedef struct cb_sample {
    int64_t id;                  /* rowid: OUT on reads, ignored on add */
    int64_t run_id;
    const char *item_id;         /* required; stable id "family/subtask/setting/index" */
    int repeat;                  /* 0-based repeat index */
    const char *task;            /* family, required */
    const char *subtask;
    const char *setting;
    const char *cap[2];          /* capability labels; cap[1] NULL for one label, both NULL for none */
    const char *item_json;       /* the item as JSON (tasks' round trip), so regrade needs no regeneration */
    const char *prompt;          /* rendered prompt the model saw */
    int prompt_tokens;
    const char *response;        /* model output (NULL when the request failed) */
    const char *extracted;       /* extracted answer, NULL when none */
    double score;                /* primary score in [0,1]; NaN = no score (stored NULL) */
    int unparsed;                /* 1 when no answer could be extracted */
    const char *flags_json;      /* JSON array of flag strings, or NULL */
    const char *metrics_json;    /* JSON object of secondary metrics, or NULL */
    const char *grader_version;  /* version string of the grader that produced score */
    int completion_tokens;
    double latency_s;
    int attempts;
    const char *error;           /* NULL = ok; else why the request failed */
    const char *responses_json;  /* every response the grader saw, in item->reqs order, as written by
                                    cb_responses_to_json (results/responses.h); lets regrade rebuild the
                                    exact grader input. NULL: regrade falls back to `response`. */
    const char *family;          /* registry name of the family ("counting") */
    const char *item_hash;       /* hex sha256 of the item's content (see the schema) */
    uint64_t item_seed;          /* per-item seed */
    const char *gold;            /* gold answer text */
    int64_t span_start, span_end;/* span extraction read; -1 = none (stored NULL) */
    const char *grading;         /* "rule" | "judge" | "proxy" | "logprob" */
    const char *judge_id;        /* judge identity when a judge graded the sample, else NULL */
    int judge_calls;             /* judge requests this sample cost in this run (cache hits excluded) */
    int64_t judge_tokens;        /* prompt + completion tokens of those judge requests */
} cb_sample;

/* Opens (and for CB_STORE_OPEN_CREATE creates) the database at path, applies
 * the connection settings above and migrates an older schema forward in one
 * transaction. OUT *out: the handle, NULL on error. Errors: CB_EUSAGE when the
 * file is missing in OPEN_EXISTING mode; CB_EFORMAT when the file is not an
 * SQLite database or is an SQLite database that capbench did not create;
 * CB_EUNSUP when its schema version is newer than this build's; CB_EIO for
 * anything SQLite reports. */
int cb_store_open(const char *path, cb_store_mode mode, cb_store **out, cb_err *err);

/* Closes the handle; an open transaction is rolled back (its samples are lost
 * exactly as on a crash). NULL is a no-op. */
void cb_store_close(cb_store *s);

/* 1 when the handle was opened CB_STORE_OPEN_READONLY. */
int cb_store_readonly(const cb_store *s);

/* Schema version of the open file (CB_STORE_SCHEMA_VERSION after open). */
int cb_store_schema_version(const cb_store *s);

/* Runs PRAGMA integrity_check over the whole file. Returns 0 when SQLite
 * answers "ok"; CB_EFORMAT with the number of problems and the first one;
 * CB_EIO when the check itself cannot run. */
int cb_store_integrity_check(cb_store *s, cb_err *err);

/* ---- runs ---------------------------------------------------------------- */

/* Inserts a run with status RUNNING. info->config_json may be NULL ("{}" is
 * stored). started_at 0 means now. OUT *run_id. Errors: CB_EUSAGE for bad
 * fields, CB_EIO. */
int cb_store_run_create(cb_store *s, const cb_run_info *info, int64_t *run_id, cb_err *err);

/* Reads run run_id into *out (which the caller clears with cb_run_info_clear).
 * Errors: CB_EUSAGE "no run N" when absent, CB_EIO. */
int cb_store_run_get(cb_store *s, int64_t run_id, cb_run_info *out, cb_err *err);

/* OUT *run_id: the id of the newest run (largest id). Errors: CB_EUSAGE when
 * the database holds no run. */
int cb_store_run_latest(cb_store *s, int64_t *run_id, cb_err *err);

/* Sets the status and, for any status but RUNNING, finished_at = now (RUNNING
 * clears it again, for --resume). Errors: CB_EUSAGE when the run is absent. */
int cb_store_run_set_status(cb_store *s, int64_t run_id, cb_run_status status, cb_err *err);

/* ---- samples ------------------------------------------------------------- */

/* Batched transactions: begin, add many samples, commit. Without begin, each
 * add is its own transaction (correct but slow: one fsync each). begin while a
 * transaction is open is CB_ERUNTIME. rollback with none open is a no-op. */
int cb_store_begin(cb_store *s, cb_err *err);
int cb_store_commit(cb_store *s, cb_err *err);
void cb_store_rollback(cb_store *s);

/* Adds one sample. Keys are unique: when (run_id, item_id, repeat) is already
 * stored, the row is left as it is and *inserted = 0 — except that a stored
 * FAILED sample (error not NULL) is replaced by a new sample without error,
 * which is how a resumed run retries failures (see cb_store_done_keys). OUT
 * *inserted (may be NULL): 1 when a row was written. Errors: CB_EUSAGE for a
 * missing item_id/task or a run that does not exist, CB_EIO. A sample is never
 * counted twice. */
int cb_store_add_sample(cb_store *s, const cb_sample *smp, int *inserted, cb_err *err);

/* Convenience: begin + add n samples + commit (rolls back on error: all or
 * none). OUT *n_inserted (may be NULL). */
int cb_store_add_samples(cb_store *s, const cb_sample *smp, size_t n, size_t *n_inserted, cb_err *err);

/* Rewrites the grade columns (extracted, score, unparsed, flags_json,
 * metrics_json, grader_version) of the stored sample with key
 * (smp->run_id, smp->item_id, smp->repeat); other fields of smp are ignored.
 * Errors: CB_EUSAGE when no such sample exists, CB_EIO. */
int cb_store_update_grade(cb_store *s, const cb_sample *smp, cb_err *err);

/* ---- judgement cache ------------------------------------------------------ */

/* Looks a judgement up. OUT *text: malloc'd response (caller frees) or NULL
 * when absent. */
int cb_store_judgement_get(cb_store *s, const char *judge_id, const char *key, char **text, cb_err *err);
/* Stores a judgement (an existing one with the same key is kept). */
int cb_store_judgement_put(cb_store *s, const char *judge_id, const char *key, const char *text, cb_err *err);

/* Failed samples of the run (error not NULL): OUT *n_failed and, when first
 * is not NULL, the error of the earliest one ("" when none) cut to cap bytes. */
int cb_store_failed_summary(cb_store *s, int64_t run_id, int64_t *n_failed, char *first, size_t cap, cb_err *err);

/* Number of samples stored for the run (all, including failed). */
int cb_store_count_samples(cb_store *s, int64_t run_id, int64_t *n, cb_err *err);

/* Calls fn for each sample of the run in rowid (insertion) order. The sample
 * and its strings are valid only during the call. Rows are read in pages with
 * no statement left open during callbacks, so fn may call any store function
 * (cb_store_update_grade, begin/commit). fn returns 0 to go on, nonzero to
 * stop: that value is returned (and err is left as fn set it). */
typedef int (*cb_sample_fn)(void *ud, const cb_sample *smp, cb_err *err);
int cb_store_foreach_sample(cb_store *s, int64_t run_id, cb_sample_fn fn, void *ud, cb_err *err);

/* ---- resume -------------------------------------------------------------- */

/* The set of (item_id, repeat) keys already stored for a run, sorted by
 * (item_id bytes, repeat), for binary-search lookups by the scheduler. */
typedef struct cb_keyset cb_keyset;

typedef enum {
    CB_DONE_ALL = 0,        /* every stored sample counts as done */
    CB_DONE_SUCCEEDED = 1   /* samples with an error are left out, so they are retried */
} cb_done_mode;

/* OUT *out: a new keyset (free with cb_keyset_free). */
int cb_store_done_keys(cb_store *s, int64_t run_id, cb_done_mode mode, cb_keyset **out, cb_err *err);
int cb_keyset_contains(const cb_keyset *k, const char *item_id, int repeat); /* 1 or 0 */
size_t cb_keyset_count(const cb_keyset *k);
/* i-th key in sorted order (i < count); the string belongs to the keyset. */
const char *cb_keyset_item(const cb_keyset *k, size_t i, int *repeat);
void cb_keyset_free(cb_keyset *k);

/* ---- derived scores ------------------------------------------------------ */

/* The numbers aggregation needs from one sample, without the texts. */
typedef struct cb_sample_stat {
    const char *task, *subtask, *setting; /* point into the owning cb_stat_set */
    const char *cap[2];
    double score;            /* NaN when the sample has no score */
    int unparsed;
    int failed;              /* error not NULL */
    int prompt_tokens, completion_tokens;
    double latency_s;
    int format_violation;    /* flags_json holds "format_violation" */
    const char *gold;        /* NULL when not stored */
    const char *metrics_json;/* the sample's metrics object, or NULL */
    const char *meta_json;   /* the item's meta object, or NULL */
    const char *error;       /* why the request failed, or NULL */
    const char *by;          /* breakdown value, set by the report (not read from the store) */
    const char *grading;     /* "rule" | "judge" | "proxy" | "logprob" (NULL for old samples) */
    int judge_calls;
    int64_t judge_tokens;
} cb_sample_stat;

typedef struct cb_stat_set {
    cb_sample_stat *rows;    /* n of them, rowid order */
    size_t n;
    char *strings;           /* internal: one block holding all strings */
} cb_stat_set;

/* Reads the numbers of every sample of the run. OUT *out (cleared first;
 * free with cb_stat_set_clear). */
int cb_store_sample_stats(cb_store *s, int64_t run_id, cb_stat_set *out, cb_err *err);
void cb_stat_set_clear(cb_stat_set *set);

/* Recomputes capability_scores for the run from its samples (results/
 * aggregate.h: mean over scored samples, Wilson interval when every score is
 * 0 or 1, normal interval otherwise), replacing the old rows in one
 * transaction. Must not be called inside cb_store_begin/commit. */
int cb_store_compute_capability_scores(cb_store *s, int64_t run_id, cb_err *err);

/* One row of capability_scores. */
typedef struct cb_capability_score {
    char capability[256];    /* the label, e.g. "char_counting" or "Spanish&Reasoning" */
    char setting[128];       /* "all" (every setting pooled) or one setting */
    int64_t n;               /* samples with this capability key */
    int64_t n_scored;        /* of which were answered (mean and rates are over these) */
    int64_t n_failed;        /* failed requests: counted apart, never as wrong */
    double mean, sd, se, ci_low, ci_high; /* NaN when undefined (n_scored 0, or sd with 1) */
    char ci_method[8];       /* "wilson" | "normal" | "" */
    double unparsed_rate;    /* unparsed / n_scored */
} cb_capability_score;

/* Reads the stored capability scores of a run sorted by capability, the
 * "all" row first, then settings by name. OUT
 * *rows (malloc'd, caller frees) and *n. */
int cb_store_capability_scores(cb_store *s, int64_t run_id, cb_capability_score **rows, size_t *n, cb_err *err);

/* ---- analysis, run management and merge (issue 10) --------------------------
 * Read and maintenance queries for the analysis commands (results/analysis.h,
 * results/leaderboard.h, results/merge.h, runner/cmd_analyze.c,
 * runner/cmd_manage.c). Cascading deletes: every read-write open makes sure
 * the trigger runs_delete_cascade exists (CREATE TRIGGER IF NOT EXISTS), so a
 * plain `sqlite3 results.db "DELETE FROM runs WHERE id=3"` (foreign keys are
 * off by default in the sqlite3 shell; SQLite needs PRAGMA foreign_keys=ON on
 * every connection) removes the run's samples and capability scores too. With
 * foreign keys on, ON DELETE CASCADE does it first and the triggers find
 * nothing left. */

/* OUT *ids (malloc'd, caller frees) and *n: every run id, ascending. */
int cb_store_run_ids(cb_store *s, int64_t **ids, size_t *n, cb_err *err);

/* OUT *n_samples, *n_failed (error not NULL) of one run; 0 and 0 for an
 * unknown run. Either pointer may be NULL. */
int cb_store_run_counts(cb_store *s, int64_t run_id, int64_t *n_samples, int64_t *n_failed, cb_err *err);

/* Deletes a run with its samples and capability scores in one transaction.
 * OUT *n_samples (may be NULL): how many samples went with it. Errors:
 * CB_EUSAGE "no run N" when absent, CB_EIO. */
int cb_store_run_delete(cb_store *s, int64_t run_id, int64_t *n_samples, cb_err *err);

/* Sets what a merge decides for a run it assembled from parts: status,
 * started_at and finished_at (0 = NULL), shard, limit_n, and — when not NULL —
 * config_json with its config_sha256 and overrides_json. Errors: CB_EUSAGE
 * when the run is absent or shard / config_sha256 do not fit their fields. */
int cb_store_run_set_merged(cb_store *s, int64_t run_id, cb_run_status status, double started_at,
                            double finished_at, const char *shard, int64_t limit_n, const char *config_json,
                            const char *config_sha256, const char *overrides_json, cb_err *err);

/* One sample reduced to what resampling needs: its labels, its identity and
 * its score. Strings point into the owning cb_item_score_set. */
typedef struct cb_item_score {
    const char *cap[2];      /* capability labels ("X&Y" is a cross capability), NULL when absent */
    const char *item_id;
    int repeat;
    const char *item_hash;   /* NULL when not stored (a version-2 sample) */
    uint64_t item_seed;
    int has_seed;            /* item_seed was stored */
    double score;            /* NaN when the sample has no score */
    int failed;              /* error not NULL */
    int judge_failed;        /* flags_json holds "judge_failed" */
} cb_item_score;

typedef struct cb_item_score_set {
    cb_item_score *rows;     /* n of them, rowid order */
    size_t n;
    char *strings;           /* internal */
} cb_item_score_set;

/* Reads every sample of the run as cb_item_score. OUT *out (cleared first;
 * free with cb_item_score_set_clear). */
int cb_store_item_scores(cb_store *s, int64_t run_id, cb_item_score_set *out, cb_err *err);
void cb_item_score_set_clear(cb_item_score_set *set);

#endif
