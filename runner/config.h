/* runner/config.h — suite configs: parsing, validation, command-line overrides.
 *
 * A suite is one JSON file (configs/smoke.json). Schema (every key optional
 * unless marked; unknown keys are refused):
 *
 *   {
 *     "name": "smoke",                       suite name (default: file name)
 *     "seed": 1234,                          global seed, u64 (default 0)
 *     "db": "results.db",                    results database path
 *     "batch_size": 64,                      items per scheduler batch, 1..65536
 *     "model": {                             the model under test
 *       "backend": "local" | "openai",       (default "local")
 *       -- local --
 *       "path": "PATH" | "hf://ORG/REPO/FILE" | null (default model),
 *       "device": "cpu" | "cuda",  "threads": 0 (= all cores),  "n_ctx": 2048,
 *       "max_seqs": 32,                     sequences advanced together
 *       "chat_template": "auto" | "none" | "chatml" | "llama2" | ...,
 *       -- openai --
 *       "base_url": "http://host:port/v1",  "model": "NAME" (required for openai),
 *       "api_key_env": "OPENAI_API_KEY"     NAME of an environment variable; keys
 *                                            themselves are never written in configs,
 *       "mode": "chat" | "completions",  "concurrency": 8,
 *       "timeout_s": 120, "connect_timeout_s": 10, "max_retries": 2,
 *       "max_response_bytes": 8388608,
 *       "logprobs": false                  the server returns prompt log-probs (echo +
 *                                            logprobs on /v1/completions, as vLLM and
 *                                            llama.cpp's server do); off by default, so
 *                                            optional log-likelihood metrics are skipped
 *     },
 *     "judge": { same keys as "model" } | null,   used by judge-graded families
 *     "generation": { "temperature": T, "top_p": P, "top_k": K, "max_tokens": N },
 *                                            each key, when present, overrides the family's
 *                                            per-setting decoding (absent = family default)
 *     "tasks": [                             (required, at least one)
 *       { "family": "counting",              (required; a registered family)
 *         "subtasks": ["char_occur", ...],   (default: all of the family)
 *         "settings": ["direct", ...],       (default: the family's default setting)
 *         "n": 20,                           items per subtask x setting, 1..10^7 (required)
 *         "seed": 7,                         task seed (default: the suite seed)
 *         "label": "seedwords",              needed when two entries share a family: stored
 *                                            item ids become "label:family/subtask/setting/i"
 *                                            and the report's task column "family:label"
 *         "params": { ... }                  family parameters, validated by the family
 *       } ]
 *   }
 *
 * Errors name the file and the JSON path ("configs/x.json: $.tasks[0].n:
 * expected an integer from 1 to 10000000, got \"ten\"") and carry CB_EUSAGE.
 * This module knows no task rules: family names, subtasks, settings and params
 * are checked through the task registry (tasks/task.h).
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cJSON cJSON;

typedef struct cb_model_cfg {
    char backend[16];          /* "local" | "openai" */
    char *path;                /* local: model path or hf:// URI; NULL = default model */
    char device[8];            /* "cpu" | "cuda" */
    int threads;               /* 0 = all cores */
    int n_ctx;
    int max_seqs;
    char *chat_template;       /* "auto", "none" or a template name */
    char *base_url;            /* openai */
    char *model_name;          /* openai */
    char *api_key_env;         /* openai: env var NAME (never the key) */
    char mode[16];             /* "chat" | "completions" */
    int concurrency;
    double timeout_s, connect_timeout_s;
    int max_retries;
    int64_t max_response_bytes;
    int logprobs;              /* openai: server supports echo+logprobs (default 0) */
} cb_model_cfg;

typedef struct cb_task_cfg {
    char *family;
    char **subtasks;           /* n_subtasks names, or NULL = all */
    int n_subtasks;
    char **settings;           /* n_settings names, or NULL = family default */
    int n_settings;
    int64_t n;
    uint64_t seed;             /* the entry's "seed", else the suite seed */
    int has_seed;              /* 1 when the entry set its own seed */
    char *label;               /* optional; tells apart entries of the same family (NULL = none) */
    cJSON *params;             /* owned copy, may be NULL */
} cb_task_cfg;

enum { CB_GEN_TEMPERATURE = 1, CB_GEN_TOP_P = 2, CB_GEN_TOP_K = 4, CB_GEN_MAX_TOKENS = 8 };

typedef struct cb_suite {
    char *file;                /* path it was read from */
    char *name;
    uint64_t seed;
    char *db;
    int batch_size;
    cb_model_cfg model;
    cb_model_cfg judge;
    int has_judge;
    float temperature, top_p;  /* "generation" overrides; each applies only when set: */
    int top_k, max_tokens;
    unsigned gen_set;          /* CB_GEN_* bits of the keys present */
    cb_task_cfg *tasks;
    int n_tasks;
} cb_suite;

/* Reads and validates a suite file. On success *out is owned by the caller
 * (cb_suite_free). Errors: CB_EIO (unreadable), CB_EUSAGE (bad JSON or schema). */
int cb_suite_load(const char *path, cb_suite **out, cb_err *err);
/* Same from a JSON text (name used in messages). */
int cb_suite_parse(const char *name, const char *text, size_t len, cb_suite **out, cb_err *err);
void cb_suite_free(cb_suite *s);

/* The effective config as canonical JSON (keys in schema order, every default
 * filled in), malloc'd; and its sha256 in hex. Stored with each run: a resumed
 * run must have the same hash. Contains no secrets (only env var names). */
char *cb_suite_to_json(const cb_suite *s);
void cb_suite_hash(const cb_suite *s, char hex[65]);

/* Builds the task spec of entry i (after command-line overrides: seed, limit).
 * limit > 0 caps the items per subtask x setting cell. OUT *out (caller frees). */
typedef struct cb_task_spec cb_task_spec;
int cb_suite_task_spec(const cb_suite *s, int i, int64_t limit, cb_task_spec **out, cb_err *err);

/* Sets the global seed; task entries without their own seed follow it. */
void cb_suite_set_seed(cb_suite *s, uint64_t seed);

/* Sets a model config to its defaults for the given backend. */
void cb_model_cfg_defaults(cb_model_cfg *m, const char *backend);
/* Replaces a string field (frees the old one). */
int cb_cfg_set_str(char **field, const char *value);

#endif
