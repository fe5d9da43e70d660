/* runner/cmd_run.c — `capbench run`: suite + overrides -> backend -> run
 * record -> scheduler -> capability scores -> summary and exit status.
 *
 * Flags override the suite for this run only. A run's config hash covers
 * everything that determines its items, prompts and scores: the suite, the
 * seeds, the model, the template, --limit, --shard, --no-loglik and the
 * contents of every file the suite reads (word lists and other "file:PATH"
 * params). The run stores that config, its hash and the overrides it was made
 * with (runs.overrides_json), so `--resume ID` needs no other flag: it rebuilds
 * the suite from the stored copy and reapplies the stored overrides. A flag
 * given again must agree with the stored one (flags that cannot change a
 * result — --threads, --batch-size, --db, --quiet — may differ); otherwise the
 * resume is refused with the difference named, instead of mixing two
 * evaluations in one run. Resuming a finished run changes nothing.
 *
 * Exit status: 0 finished; 4 incomplete (some requests finally failed: the
 * count and the first message are printed, --resume retries only those);
 * 2 bad usage or input; 130 interrupted (committed batches are kept); 1 other
 * failures. Ctrl-C stops after the batch in flight.
 */
#include "runner/commands.h"

#include "common/sha256.h"
#include "common/url.h"
#include "engine/engine.h"
#include "results/store.h"
#include "runner/backend_local.h"
#include "runner/backend_remote.h"
#include "runner/config.h"
#include "runner/modelpath.h"
#include "runner/scheduler.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CB_EXIT_INCOMPLETE 4

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig) {
    (void)sig;
    if (g_stop) {
        /* second Ctrl-C: leave now (committed batches are safe in the db) */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    g_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: capbench run --suite FILE [options]\n"
            "       capbench run --resume RUN_ID [--db FILE] [options]\n"
            "  --model PATH|hf://ORG/REPO/FILE   local GGUF model (default: the suite's, else stories260K)\n"
            "  --api URL --api-model NAME [--api-key-env VAR]\n"
            "                                    an OpenAI-compatible server instead of the local engine\n"
            "  --device cpu|cuda[:N]             local engine device\n"
            "  --threads N                       CPU threads (0 = all)\n"
            "  --chat-template auto|none|NAME    chat template for the local model\n"
            "  --db FILE                         results database (default: the suite's db)\n"
            "  --limit N                         at most N items per subtask x setting\n"
            "  --seed S                          global seed (task entries without their own seed follow)\n"
            "  --shard I/N                       only items with hash(id) %% N == I\n"
            "  --resume RUN_ID                   continue a run with its stored suite and flags: only missing\n"
            "                                    or failed samples are asked\n"
            "  --batch-size N                    items per batch\n"
            "  --no-loglik                       skip optional log-likelihood requests\n"
            "  --quiet                           no progress output\n"
            "exit status: 0 finished, 4 incomplete (requests failed; --resume retries them), 2 bad usage or\n"
            "input, 130 interrupted, 1 other failure\n");
}

static int parse_i64(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out, cb_err *err) {
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi)
        return cb_err_set(err, CB_EUSAGE, "%s: expected an integer from %lld to %lld, got \"%s\"", flag,
                          (long long)lo, (long long)hi, v ? v : "");
    *out = x;
    return 0;
}

/* ---- the flags that shape a run ------------------------------------------- */

/* Result-shaping overrides, by their flag names; NULL = not given. Stored
 * with the run (URLs redacted) and compared on --resume. */
enum { F_MODEL, F_API, F_API_MODEL, F_API_KEY_ENV, F_DEVICE, F_TEMPLATE, F_SEED, F_LIMIT, F_SHARD, F_NO_LOGLIK, F_N };
static const char *const flag_names[F_N] = {"--model",  "--api",   "--api-model", "--api-key-env", "--device",
                                            "--chat-template", "--seed", "--limit",     "--shard",       "--no-loglik"};

typedef struct {
    const char *v[F_N];
} shaping;

/* JSON object of the given flags, URLs redacted. Caller deletes. */
static cJSON *shaping_json(const shaping *f) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < F_N; i++) {
        if (!f->v[i]) continue;
        char buf[1024];
        cb_url_redact(f->v[i], buf, sizeof buf);
        cJSON_AddStringToObject(o, flag_names[i] + 2, buf);
    }
    return o;
}

/* Merges the stored flags of a run with the ones given now. A flag given now
 * must equal the stored one (after redaction); one given now that the run was
 * made without, or the reverse for a flag the run needs, is a conflict. A
 * stored URL whose credentials were redacted must be given again. OUT *eff
 * points into `now` and into `stored` (which must outlive it). */
static int shaping_merge(int64_t run_id, const cJSON *stored, const shaping *now, shaping *eff, cb_err *err) {
    char diff[1024] = "";
    size_t dl = 0;
    memset(eff, 0, sizeof *eff);
    for (int i = 0; i < F_N; i++) {
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(stored, flag_names[i] + 2);
        const char *sv = cJSON_IsString(sj) ? sj->valuestring : NULL;
        const char *nv = now->v[i];
        if (nv) {
            char red[1024];
            cb_url_redact(nv, red, sizeof red);
            if (!sv || strcmp(red, sv) != 0)
                dl += (size_t)snprintf(diff + dl, dl < sizeof diff ? sizeof diff - dl : 0, "%s%s %s (run %lld: %s)",
                                       dl ? "; " : "", flag_names[i], red, (long long)run_id,
                                       sv ? sv : "not given");
            eff->v[i] = nv;
        } else if (sv) {
            if (strstr(sv, "[redacted]"))
                return cb_err_set(err, CB_EUSAGE,
                                  "--resume %lld: the run used %s with credentials in the URL, which capbench never "
                                  "stores; give %s URL again",
                                  (long long)run_id, flag_names[i], flag_names[i]);
            eff->v[i] = sv;
        }
    }
    if (dl)
        return cb_err_set(err, CB_EUSAGE,
                          "--resume %lld: these flags differ from the ones the run was made with: %s. Resume with "
                          "the same flags (or none: they are stored), or start a new run",
                          (long long)run_id, diff);
    return 0;
}

/* Applies the shaping flags to the suite. OUT limit, shard, loglik. */
static int apply_shaping(cb_suite *suite, const shaping *f, int64_t *limit, int *shard_i, int *shard_n, int *loglik,
                         cb_err *err) {
    cb_model_cfg *m = &suite->model;
    const char *const *v = f->v;
    int rc;
    if (v[F_API_MODEL] && !v[F_API]) return cb_err_set(err, CB_EUSAGE, "--api-model needs --api URL");
    if (v[F_API] && v[F_MODEL])
        return cb_err_set(err, CB_EUSAGE, "--model and --api are exclusive: pick the local engine or a server");
    int ordinal;
    if (v[F_DEVICE] && (cb_engine_parse_device(v[F_DEVICE], &ordinal) != 0 || strlen(v[F_DEVICE]) >= 8))
        return cb_err_set(err, CB_EUSAGE, "--device: expected cpu, cuda or cuda:N, got \"%s\"", v[F_DEVICE]);
    if (v[F_MODEL]) {
        if (strcmp(m->backend, "local") != 0) cb_model_cfg_defaults(m, "local");
        if (cb_cfg_set_str(&m->path, v[F_MODEL])) goto oom;
    }
    if (v[F_API]) {
        if (!v[F_API_MODEL]) return cb_err_set(err, CB_EUSAGE, "--api needs --api-model NAME (the served model name)");
        cb_model_cfg_defaults(m, "openai");
        if (cb_cfg_set_str(&m->base_url, v[F_API])) goto oom;
    }
    if (v[F_API_MODEL] && cb_cfg_set_str(&m->model_name, v[F_API_MODEL])) goto oom;
    if (v[F_API_KEY_ENV] && cb_cfg_set_str(&m->api_key_env, v[F_API_KEY_ENV])) goto oom;
    if (strcmp(m->backend, "openai") == 0 && (!m->base_url || !m->model_name))
        return cb_err_set(err, CB_EUSAGE, "%s: the openai backend needs base_url and model", suite->file);
    if (m->base_url && strstr(m->base_url, "[redacted]"))
        return cb_err_set(err, CB_EUSAGE,
                          "the stored config of this run has a server URL whose credentials were redacted; give "
                          "--api URL (or --suite FILE) again");
    if (v[F_DEVICE]) snprintf(m->device, sizeof m->device, "%s", v[F_DEVICE]);
    if (v[F_TEMPLATE] && cb_cfg_set_str(&m->chat_template, v[F_TEMPLATE])) goto oom;
    if (v[F_SEED]) {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(v[F_SEED], &end, 10);
        if (errno || end == v[F_SEED] || *end || v[F_SEED][0] == '-')
            return cb_err_set(err, CB_EUSAGE, "--seed: expected an unsigned 64-bit integer, got \"%s\"", v[F_SEED]);
        cb_suite_set_seed(suite, s);
    }
    *limit = 0;
    if (v[F_LIMIT] && (rc = parse_i64("--limit", v[F_LIMIT], 1, INT32_MAX, limit, err))) return rc;
    *shard_i = 0;
    *shard_n = 0;
    if (v[F_SHARD] && (rc = cb_parse_shard(v[F_SHARD], shard_i, shard_n, err))) return rc;
    *loglik = v[F_NO_LOGLIK] == NULL;
    return 0;
oom:
    return cb_err_set(err, CB_ENOMEM, "out of memory");
}

/* Adds {"PATH": sha256} for every "file:PATH" string inside params. */
static int hash_files(const cJSON *j, cJSON *files, cb_err *err) {
    if (cJSON_IsString(j) && strncmp(j->valuestring, "file:", 5) == 0) {
        const char *path = j->valuestring + 5;
        if (cJSON_GetObjectItemCaseSensitive(files, path)) return 0;
        char hex[65];
        int64_t size = 0;
        int rc = cb_sha256_file(path, hex, &size, err);
        if (rc) return cb_err_set(err, CB_EUSAGE, "%s: cannot read this file the suite names: %s", path, err->msg);
        cJSON_AddStringToObject(files, path, hex);
        return 0;
    }
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        int rc = hash_files(c, files, err);
        if (rc) return rc;
    }
    return 0;
}

/* The stored config of a run (the suite's canonical JSON plus limit, shard,
 * loglik and the sha256 of every file the suite reads) and its sha256. OUT
 * *json malloc'd. */
static int run_config(const cb_suite *suite, int64_t limit, const char *shard, int loglik, char **json, char hex[65],
                      cb_err *err) {
    int rc = 0;
    *json = NULL;
    char *base = cb_suite_to_json(suite);
    cJSON *root = base ? cJSON_Parse(base) : NULL;
    free(base);
    if (!root) return cb_err_set(err, CB_ENOMEM, "out of memory");
    cJSON *files = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "limit", (double)limit);
    cJSON_AddStringToObject(root, "shard", shard ? shard : "");
    cJSON_AddBoolToObject(root, "loglik", loglik);
    for (int i = 0; !rc && i < suite->n_tasks; i++) rc = hash_files(suite->tasks[i].params, files, err);
    cJSON_AddItemToObject(root, "files", files);
    if (!rc) {
        *json = cJSON_PrintUnformatted(root);
        if (!*json)
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        else
            cb_sha256_hex(*json, strlen(*json), hex);
    }
    cJSON_Delete(root);
    return rc;
}

/* Reads a suite file's JSON (for storing it with the run). NULL on failure
 * (cb_suite_load has already reported a clear error by then). */
static cJSON *read_suite_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[8192];
    size_t got;
    while (m && (got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, m);
    fclose(f);
    if (m) fclose(m);
    cJSON *j = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    free(buf);
    return j;
}

/* Opens the backend a model config names (the model under test or the
 * judge). model_path: the resolved local file, NULL for a server. */
static int open_backend(const cb_model_cfg *m, const char *model_path, cb_backend **be, cb_err *err) {
    if (strcmp(m->backend, "local") == 0) {
        cb_local_opts lo = {.model_path = model_path,
                            .device = m->device,
                            .threads = m->threads,
                            .n_ctx = m->n_ctx,
                            .max_seqs = m->max_seqs,
                            .chat_template = m->chat_template,
                            .hash_model = 1,
                            .log = stderr};
        return cb_backend_local_open(&lo, be, err);
    }
    cb_remote_opts ro;
    cb_remote_opts_init(&ro);
    ro.base_url = m->base_url;
    ro.model = m->model_name;
    ro.api_key_env = m->api_key_env;
    ro.mode = strcmp(m->mode, "completions") == 0 ? CB_REMOTE_COMPLETIONS : CB_REMOTE_CHAT;
    ro.concurrency = m->concurrency;
    ro.connect_timeout_s = m->connect_timeout_s;
    ro.request_timeout_s = m->timeout_s;
    ro.max_response_bytes = (size_t)m->max_response_bytes;
    ro.max_retries = m->max_retries;
    ro.logprobs = m->logprobs;
    ro.chat_template = m->chat_template; /* completions mode renders with it (auto = none) */
    ro.stop_flag = &g_stop;
    return cb_backend_remote_open(&ro, be, err);
}

/* The judge's identity, which keys the judgement cache and is stored with
 * every judged sample: the model file's sha256, or the server (credentials
 * removed) and model name. */
static void judge_identity(const cb_backend_info *ji, char *out, size_t cap) {
    if (ji->model_sha256[0]) {
        snprintf(out, cap, "sha256:%s", ji->model_sha256);
    } else {
        char url[512];
        cb_url_redact(ji->base_url, url, sizeof url);
        snprintf(out, cap, "%s|%s", url, ji->model_id);
    }
}

int cb_cmd_run(int argc, char **argv) {
    const char *suite_path = NULL, *db = NULL;
    shaping now, eff;
    memset(&now, 0, sizeof now);
    int64_t resume = 0, threads = -1, batch = 0, limit = 0;
    int loglik = 1, quiet = 0, shard_i = 0, shard_n = 0;
    cb_err err;
    cb_err_clear(&err);
    int rc = 0, exit_code = -1;
    cb_suite *suite = NULL;
    cb_store *st = NULL;
    cb_backend *be = NULL, *judge = NULL;
    char judge_id[640] = "";
    char *config_json = NULL, *overrides = NULL;
    cJSON *stored = NULL, *suite_src = NULL;
    cb_run_info old;
    memset(&old, 0, sizeof old);
    int64_t run_id = 0;
    int run_made = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--no-loglik") == 0) {
            now.v[F_NO_LOGLIK] = "true";
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        int f = -1;
        for (int k = 0; k < F_N; k++)
            if (k != F_NO_LOGLIK && strcmp(a, flag_names[k]) == 0) f = k;
        int other = strcmp(a, "--suite") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--resume") == 0 ||
                    strcmp(a, "--threads") == 0 || strcmp(a, "--batch-size") == 0;
        if (f < 0 && !other) {
            rc = cb_err_set(&err, CB_EUSAGE, "unknown option \"%s\" (see capbench run --help)", a);
            goto out;
        }
        if (!v) {
            rc = cb_err_set(&err, CB_EUSAGE, "%s needs a value", a);
            goto out;
        }
        i++;
        if (f >= 0)
            now.v[f] = v;
        else if (strcmp(a, "--suite") == 0)
            suite_path = v;
        else if (strcmp(a, "--db") == 0)
            db = v;
        else if ((rc = parse_i64(a, v, strcmp(a, "--threads") == 0 ? 0 : 1, INT32_MAX,
                                 strcmp(a, "--resume") == 0    ? &resume
                                 : strcmp(a, "--threads") == 0 ? &threads
                                                               : &batch,
                                 &err)))
            goto out;
    }
    if (!suite_path && !resume) {
        rc = cb_err_set(&err, CB_EUSAGE, "--suite FILE is required (e.g. configs/smoke.json), or --resume RUN_ID");
        goto out;
    }

    /* ---- the suite and its overrides ---- */
    if (resume) {
        /* the run's database: --db, else the suite's, else the default */
        const char *rdb = db;
        if (!rdb && suite_path) {
            if ((rc = cb_suite_load(suite_path, &suite, &err))) goto out;
            rdb = suite->db;
        }
        if (!rdb) rdb = CB_STORE_DEFAULT_PATH;
        if ((rc = cb_store_open(rdb, CB_STORE_OPEN_EXISTING, &st, &err))) goto out;
        if ((rc = cb_store_run_get(st, resume, &old, &err))) goto out;
        stored = cJSON_Parse(old.overrides_json ? old.overrides_json : "{}");
        const cJSON *sflags = cJSON_GetObjectItemCaseSensitive(stored, "flags");
        const cJSON *ssuite = cJSON_GetObjectItemCaseSensitive(stored, "suite");
        const cJSON *sfile = cJSON_GetObjectItemCaseSensitive(stored, "suite_file");
        if (!suite) {
            if (!cJSON_IsObject(ssuite)) {
                rc = cb_err_set(&err, CB_EUSAGE,
                                "--resume %lld: the run does not store its suite (made by an older capbench); give "
                                "--suite FILE and the same flags",
                                (long long)resume);
                goto out;
            }
            char *text = cJSON_PrintUnformatted(ssuite);
            if (!text) goto oom;
            rc = cb_suite_parse(cJSON_IsString(sfile) ? sfile->valuestring : "stored suite", text, strlen(text), &suite,
                                &err);
            free(text);
            if (rc) goto out;
        }
        if (cJSON_IsObject(sflags)) {
            if ((rc = shaping_merge(resume, sflags, &now, &eff, &err))) goto out;
        } else {
            eff = now; /* an older run: its flags are unknown, the hash check below decides */
        }
        if (!db) db = rdb;
    } else {
        if ((rc = cb_suite_load(suite_path, &suite, &err))) goto out;
        eff = now;
    }
    if ((rc = apply_shaping(suite, &eff, &limit, &shard_i, &shard_n, &loglik, &err))) goto out;
    const char *db_path = db ? db : suite->db;
    cb_model_cfg *m = &suite->model;
    if (threads >= 0) m->threads = (int)threads;

    /* ---- backend ---- */
    char model_path[4096] = "";
    if (strcmp(m->backend, "local") == 0) {
        if ((rc = cb_modelpath_resolve(m->path, model_path, sizeof model_path, 1, &err))) goto out;
        /* the hash records the model as resolved, not as spelled */
        if (cb_cfg_set_str(&m->path, model_path)) goto oom;
    }
    char hash[65], shard_s[32] = "";
    if (shard_n) snprintf(shard_s, sizeof shard_s, "%d/%d", shard_i, shard_n);
    if ((rc = run_config(suite, limit, shard_s, loglik, &config_json, hash, &err))) goto out;
    if (resume && strcmp(old.config_sha256, hash) != 0) {
        rc = cb_err_set(&err, CB_EUSAGE,
                        "--resume %lld: the config differs from the run's (config sha256 %.12s, run %.12s): the "
                        "suite, the model path or a file the suite reads changed since run %lld was made; resume "
                        "needs the same suite, seed, model, template, limit, shard and data (start a new run "
                        "instead)",
                        (long long)resume, hash, old.config_sha256, (long long)resume);
        goto out;
    }
    if (resume && old.status == CB_RUN_FINISHED) {
        int64_t nf = 0;
        if ((rc = cb_store_failed_summary(st, resume, &nf, NULL, 0, &err))) goto out;
        if (nf == 0) {
            fprintf(stderr, "run %lld is finished: nothing to resume (its samples and times are kept)\n",
                    (long long)resume);
            goto out;
        }
    }
    if ((rc = open_backend(m, m->backend[0] == 'l' ? model_path : NULL, &be, &err))) goto out;
    cb_backend_info info;
    be->describe(be, &info);

    /* ---- the judge (judge-graded families) ---- */
    for (int i = 0; i < suite->n_tasks && !suite->has_judge; i++) {
        cb_task_spec *sp = NULL;
        if ((rc = cb_suite_task_spec(suite, i, 0, &sp, &err))) goto out;
        int needs = cb_task_spec_needs_judge(sp);
        cb_task_spec_free(sp);
        if (needs) {
            rc = cb_err_set(&err, CB_EUSAGE,
                            "%s: $.tasks[%d] (family %s) can only be graded by a judge, and the suite has no "
                            "\"judge\" section (add one: a local model or an OpenAI-compatible server)",
                            suite->file, i, suite->tasks[i].family);
            goto out;
        }
    }
    if (suite->has_judge) {
        cb_model_cfg *jm = &suite->judge;
        char judge_path[4096] = "";
        if (strcmp(jm->backend, "local") == 0) {
            if ((rc = cb_modelpath_resolve(jm->path, judge_path, sizeof judge_path, 1, &err))) goto out;
            if (cb_cfg_set_str(&jm->path, judge_path)) goto oom;
        }
        /* the model under test as its own judge shares one engine */
        int same = strcmp(jm->backend, "local") == 0 && strcmp(m->backend, "local") == 0 &&
                   strcmp(judge_path, model_path) == 0 && strcmp(jm->device, m->device) == 0 &&
                   jm->n_ctx == m->n_ctx &&
                   strcmp(jm->chat_template ? jm->chat_template : "", m->chat_template ? m->chat_template : "") == 0;
        if (same)
            judge = be;
        else if ((rc = open_backend(jm, jm->backend[0] == 'l' ? judge_path : NULL, &judge, &err)))
            goto out;
        cb_backend_info ji;
        judge->describe(judge, &ji);
        judge_identity(&ji, judge_id, sizeof judge_id);
    }

    /* ---- run record ---- */
    if (!st && (rc = cb_store_open(db_path, CB_STORE_OPEN_CREATE, &st, &err))) goto out;
    if (resume) {
        if (strcmp(old.model_sha256, info.model_sha256) != 0) {
            rc = cb_err_set(&err, CB_EUSAGE,
                            "--resume %lld: the model file changed (sha256 %.12s, run %.12s); resume needs the same "
                            "model (start a new run instead)",
                            (long long)resume, info.model_sha256, old.model_sha256);
            goto out;
        }
        run_id = resume;
        if ((rc = cb_store_run_set_status(st, run_id, CB_RUN_RUNNING, &err))) goto out;
    } else {
        cJSON *ov = cJSON_CreateObject();
        suite_src = read_suite_json(suite_path);
        if (!ov) goto oom;
        cJSON_AddStringToObject(ov, "suite_file", suite_path);
        if (suite_src) {
            /* credentials in a URL inside the suite are not stored either */
            char *text = cJSON_PrintUnformatted(suite_src);
            size_t cap = text ? strlen(text) * 2 + 64 : 0;
            char *red = text ? malloc(cap) : NULL;
            if (red) cb_url_redact(text, red, cap);
            cJSON *rj = red ? cJSON_Parse(red) : NULL;
            if (rj) cJSON_AddItemToObject(ov, "suite", rj);
            free(text);
            free(red);
        }
        cJSON_AddItemToObject(ov, "flags", shaping_json(&now));
        overrides = cJSON_PrintUnformatted(ov);
        cJSON_Delete(ov);
        if (!overrides) goto oom;
        cb_run_info ri;
        memset(&ri, 0, sizeof ri);
        snprintf(ri.suite, sizeof ri.suite, "%s", suite->name);
        ri.config_json = config_json;
        snprintf(ri.config_sha256, sizeof ri.config_sha256, "%s", hash);
        snprintf(ri.model_id, sizeof ri.model_id, "%s", info.model_id);
        snprintf(ri.model_sha256, sizeof ri.model_sha256, "%s", info.model_sha256);
        ri.model_bytes = info.model_bytes;
        snprintf(ri.backend, sizeof ri.backend, "%s", info.kind);
        cb_url_redact(info.base_url, ri.base_url, sizeof ri.base_url);
        snprintf(ri.device, sizeof ri.device, "%s", info.device);
        snprintf(ri.capbench_version, sizeof ri.capbench_version, "%s", CB_VERSION);
        ri.seed = suite->seed;
        ri.limit_n = limit;
        snprintf(ri.shard, sizeof ri.shard, "%s", shard_s);
        ri.overrides_json = overrides;
        if ((rc = cb_store_run_create(st, &ri, &run_id, &err))) goto out;
    }
    run_made = 1;
    if (!quiet)
        fprintf(stderr, "run %lld: suite %s, model %s (%s, %s), template %s -> %s\n", (long long)run_id,
                suite->name, info.model_id, info.kind, info.device, info.chat_template[0] ? info.chat_template : "-",
                db_path);

    /* ---- the work ---- */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cb_sched_opts so = {.suite = suite,
                        .limit = limit,
                        .shard_i = shard_i,
                        .shard_n = shard_n,
                        .batch_size = (int)batch,
                        .loglik = loglik,
                        .progress = quiet ? 0 : (isatty(2) ? 1 : 2),
                        .log = stderr,
                        .stop = &g_stop,
                        .judge = judge,
                        .judge_id = judge_id};
    cb_sched_stats stats;
    rc = cb_scheduler_run(&so, be, st, run_id, &stats, &err);
    cb_err serr;
    cb_err_clear(&serr);
    int64_t n_failed = 0;
    char first_error[512] = "";
    cb_store_failed_summary(st, run_id, &n_failed, first_error, sizeof first_error, &serr);
    cb_run_status status = rc == 0          ? (n_failed ? CB_RUN_INCOMPLETE : CB_RUN_FINISHED)
                           : rc == CB_EINTR ? CB_RUN_INTERRUPTED
                                            : CB_RUN_FAILED;
    if (cb_store_compute_capability_scores(st, run_id, &serr) == 0) cb_store_run_set_status(st, run_id, status, &serr);
    if (!quiet || rc || n_failed) {
        fprintf(stderr,
                "run %lld %s: %lld samples graded now (%lld failed), %lld stored before, %lld requests, %.1f s\n",
                (long long)run_id, cb_run_status_name(status), (long long)stats.n_done, (long long)stats.n_failed,
                (long long)stats.n_skipped, (long long)stats.n_requests, stats.wall_s);
        if (judge)
            fprintf(stderr, "judge %s: %lld calls, %lld answered from the judgement cache\n", judge_id,
                    (long long)stats.n_judge_calls, (long long)stats.n_judge_cached);
    }
    char again[640];
    snprintf(again, sizeof again, "capbench run --resume %lld%s%s", (long long)run_id, db ? " --db " : "",
             db ? db : "");
    if (rc == CB_EINTR) {
        fprintf(stderr, "interrupted: resume with: %s\n", again);
    } else if (!rc && n_failed) {
        char red[512];
        cb_url_redact(first_error, red, sizeof red);
        fprintf(stderr,
                "incomplete: %lld request%s failed for good; first: %s\nretry just those with: %s\n",
                (long long)n_failed, n_failed == 1 ? "" : "s", red, again);
        exit_code = CB_EXIT_INCOMPLETE;
    } else if (!rc && !quiet) {
        fprintf(stderr, "report: capbench report --db %s --run %lld\n", db_path, (long long)run_id);
    }
    goto out;

oom:
    rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
out:
    if (rc && rc != CB_EINTR) {
        char red[sizeof err.msg];
        cb_url_redact(err.msg, red, sizeof red);
        fprintf(stderr, "capbench run: %s\n", red);
        if (run_made) fprintf(stderr, "capbench run: samples graded so far are stored in run %lld\n", (long long)run_id);
    }
    if (judge && judge != be) judge->close(judge);
    if (be) be->close(be);
    cb_store_close(st);
    free(config_json);
    free(overrides);
    cJSON_Delete(stored);
    cJSON_Delete(suite_src);
    cb_run_info_clear(&old);
    cb_suite_free(suite);
    if (rc == CB_EUSAGE && !suite_path && !resume) usage(stderr);
    if (exit_code >= 0) return exit_code;
    return cb_err_exit_code(&err);
}
