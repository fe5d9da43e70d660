/* runner/cmd_run.c — `capbench run`: suite + overrides -> backend -> run
 * record -> scheduler -> capability scores -> summary.
 *
 * Flags override the suite for this run only. A run's config hash covers
 * everything that determines items, prompts and scores (suite, seeds, model,
 * template), so `--resume ID` refuses a different config instead of mixing
 * two evaluations in one run. Ctrl-C stops after the batch in flight, which is
 * committed; the run is marked interrupted and can be resumed.
 */
#include "runner/commands.h"

#include "results/store.h"
#include "runner/backend_local.h"
#include "runner/cliutil.h"
#include "runner/backend_remote.h"
#include "runner/config.h"
#include "runner/modelpath.h"
#include "runner/scheduler.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            "  --model PATH|hf://ORG/REPO/FILE   local GGUF model (default: the suite's, else stories260K)\n"
            "  --api URL --api-model NAME [--api-key-env VAR]\n"
            "                                    an OpenAI-compatible server instead of the local engine\n"
            "  --device cpu|cuda                 local engine device\n"
            "  --threads N                       CPU threads (0 = all)\n"
            "  --chat-template auto|none|NAME    chat template for the local model\n"
            "  --db FILE                         results database (default: the suite's db)\n"
            "  --limit N                         at most N items per subtask x setting\n"
            "  --seed S                          global seed (task entries without their own seed follow)\n"
            "  --shard I/N                       only items with hash(id) %% N == I\n"
            "  --resume RUN_ID                   continue a run: only missing or failed samples are asked\n"
            "  --label KEY=VALUE                 label the run (repeatable), e.g. step=1000 for checkpoints\n"
            "  --batch-size N                    items per batch\n"
            "  --no-loglik                       skip optional log-likelihood requests\n"
            "  --quiet                           no progress output\n");
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

int cb_cmd_run(int argc, char **argv) {
    const char *suite_path = NULL, *model = NULL, *api = NULL, *api_model = NULL, *api_key_env = NULL;
    const char *device = NULL, *db = NULL, *shard = NULL, *tmpl = NULL, *seed_s = NULL;
    int64_t limit = 0, resume = 0, threads = -1, batch = 0;
    int loglik = 1, quiet = 0;
    cb_err err;
    cb_err_clear(&err);
    int rc = 0;
    cb_suite *suite = NULL;
    cb_store *st = NULL;
    cb_backend *be = NULL;
    char *config_json = NULL;
    char *labels_json = NULL; /* --label KEY=VALUE ... as {"KEY":"VALUE"} */
    int64_t run_id = 0;
    int run_made = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(flag, var)                                                                  \
    if (strcmp(a, flag) == 0) {                                                          \
        if (!v) {                                                                        \
            rc = cb_err_set(&err, CB_EUSAGE, "%s needs a value", flag);                  \
            goto out;                                                                    \
        }                                                                                \
        var = v;                                                                         \
        i++;                                                                             \
        continue;                                                                        \
    }
        TAKE("--suite", suite_path)
        TAKE("--model", model)
        TAKE("--api", api)
        TAKE("--api-model", api_model)
        TAKE("--api-key-env", api_key_env)
        TAKE("--device", device)
        TAKE("--db", db)
        TAKE("--shard", shard)
        TAKE("--chat-template", tmpl)
        TAKE("--seed", seed_s)
#undef TAKE
        if (strcmp(a, "--limit") == 0 || strcmp(a, "--resume") == 0 || strcmp(a, "--threads") == 0 ||
            strcmp(a, "--batch-size") == 0) {
            int64_t *dst = a[2] == 'l' ? &limit : a[2] == 'r' ? &resume : a[2] == 't' ? &threads : &batch;
            int64_t lo = a[2] == 't' ? 0 : 1;
            if ((rc = parse_i64(a, v, lo, INT32_MAX, dst, &err))) goto out;
            i++;
            continue;
        }
        /* --label KEY=VALUE (repeatable): stored in runs.labels_json */
        if (strcmp(a, "--label") == 0) {
            if ((rc = cb_cli_label_add(&labels_json, v, &err))) goto out;
            i++;
            continue;
        }
        if (strcmp(a, "--no-loglik") == 0) {
            loglik = 0;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        rc = cb_err_set(&err, CB_EUSAGE, "unknown option \"%s\" (see capbench run --help)", a);
        goto out;
    }
    if (!suite_path) {
        rc = cb_err_set(&err, CB_EUSAGE, "--suite FILE is required (e.g. configs/smoke.json)");
        goto out;
    }
    if (api_model && !api) {
        rc = cb_err_set(&err, CB_EUSAGE, "--api-model needs --api URL");
        goto out;
    }
    if (api && model) {
        rc = cb_err_set(&err, CB_EUSAGE, "--model and --api are exclusive: pick the local engine or a server");
        goto out;
    }
    if (device && strcmp(device, "cpu") != 0 && strcmp(device, "cuda") != 0) {
        rc = cb_err_set(&err, CB_EUSAGE, "--device: expected cpu or cuda, got \"%s\"", device);
        goto out;
    }
    int shard_i = 0, shard_n = 0;
    if (shard && (rc = cb_parse_shard(shard, &shard_i, &shard_n, &err))) goto out;

    if ((rc = cb_suite_load(suite_path, &suite, &err))) goto out;
    /* ---- overrides ---- */
    cb_model_cfg *m = &suite->model;
    if (model) {
        if (strcmp(m->backend, "local") != 0) cb_model_cfg_defaults(m, "local");
        if (cb_cfg_set_str(&m->path, model)) goto oom;
    }
    if (api) {
        cb_model_cfg_defaults(m, "openai");
        if (cb_cfg_set_str(&m->base_url, api)) goto oom;
        if (!api_model) {
            rc = cb_err_set(&err, CB_EUSAGE, "--api needs --api-model NAME (the served model name)");
            goto out;
        }
    }
    if (api_model && cb_cfg_set_str(&m->model_name, api_model)) goto oom;
    if (api_key_env && cb_cfg_set_str(&m->api_key_env, api_key_env)) goto oom;
    if (strcmp(m->backend, "openai") == 0 && (!m->base_url || !m->model_name)) {
        rc = cb_err_set(&err, CB_EUSAGE, "%s: the openai backend needs base_url and model", suite_path);
        goto out;
    }
    if (device) snprintf(m->device, sizeof m->device, "%s", device);
    if (threads >= 0) m->threads = (int)threads;
    if (tmpl && cb_cfg_set_str(&m->chat_template, tmpl)) goto oom;
    if (seed_s) {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(seed_s, &end, 10);
        if (errno || end == seed_s || *end || seed_s[0] == '-') {
            rc = cb_err_set(&err, CB_EUSAGE, "--seed: expected an unsigned 64-bit integer, got \"%s\"", seed_s);
            goto out;
        }
        cb_suite_set_seed(suite, s);
    }
    const char *db_path = db ? db : suite->db;

    /* ---- backend ---- */
    char model_path[4096] = "";
    if (strcmp(m->backend, "local") == 0) {
        if ((rc = cb_modelpath_resolve(m->path, model_path, sizeof model_path, 1, &err))) goto out;
        /* the hash records the model as resolved, not as spelled */
        if (cb_cfg_set_str(&m->path, model_path)) goto oom;
        cb_local_opts lo = {.model_path = model_path,
                            .device = m->device,
                            .threads = m->threads,
                            .n_ctx = m->n_ctx,
                            .max_seqs = m->max_seqs,
                            .chat_template = m->chat_template,
                            .hash_model = 1,
                            .log = stderr};
        if ((rc = cb_backend_local_open(&lo, &be, &err))) goto out;
    } else {
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
        ro.stop_flag = &g_stop;
        if ((rc = cb_backend_remote_open(&ro, &be, &err))) goto out;
    }
    cb_backend_info info;
    be->describe(be, &info);

    /* ---- run record ---- */
    if ((rc = cb_store_open(db_path, CB_STORE_OPEN_CREATE, &st, &err))) goto out;
    char hash[65];
    config_json = cb_suite_to_json(suite);
    if (!config_json) goto oom;
    cb_suite_hash(suite, hash);
    if (resume) {
        cb_run_info old;
        memset(&old, 0, sizeof old);
        if ((rc = cb_store_run_get(st, resume, &old, &err))) goto out;
        int same_cfg = strcmp(old.config_sha256, hash) == 0;
        int same_model = strcmp(old.model_sha256, info.model_sha256) == 0;
        cb_run_info_clear(&old);
        if (!same_cfg || !same_model) {
            rc = cb_err_set(&err, CB_EUSAGE,
                            "--resume %lld: run %lld was made with a different %s; resume needs the same suite, "
                            "seed, model and template (start a new run instead)",
                            (long long)resume, (long long)resume, same_cfg ? "model file" : "config");
            goto out;
        }
        run_id = resume;
        if ((rc = cb_store_run_set_status(st, run_id, CB_RUN_RUNNING, &err))) goto out;
    } else {
        cb_run_info ri;
        memset(&ri, 0, sizeof ri);
        snprintf(ri.suite, sizeof ri.suite, "%s", suite->name);
        ri.config_json = config_json;
        snprintf(ri.config_sha256, sizeof ri.config_sha256, "%s", hash);
        snprintf(ri.model_id, sizeof ri.model_id, "%s", info.model_id);
        snprintf(ri.model_sha256, sizeof ri.model_sha256, "%s", info.model_sha256);
        ri.model_bytes = info.model_bytes;
        snprintf(ri.backend, sizeof ri.backend, "%s", info.kind);
        snprintf(ri.base_url, sizeof ri.base_url, "%s", info.base_url);
        snprintf(ri.device, sizeof ri.device, "%s", info.device);
        snprintf(ri.capbench_version, sizeof ri.capbench_version, "%s", CB_VERSION);
        ri.seed = suite->seed;
        ri.labels_json = labels_json;
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
                        .stop = &g_stop};
    cb_sched_stats stats;
    rc = cb_scheduler_run(&so, be, st, run_id, &stats, &err);
    cb_err serr;
    cb_err_clear(&serr);
    cb_run_status status = rc == 0 ? CB_RUN_FINISHED : rc == CB_EINTR ? CB_RUN_INTERRUPTED : CB_RUN_FAILED;
    if (cb_store_compute_capability_scores(st, run_id, &serr) == 0)
        cb_store_run_set_status(st, run_id, status, &serr);
    if (!quiet || rc)
        fprintf(stderr,
                "run %lld %s: %lld samples graded now (%lld failed), %lld stored before, %lld requests, %.1f s\n",
                (long long)run_id, cb_run_status_name(status), (long long)stats.n_done, (long long)stats.n_failed,
                (long long)stats.n_skipped, (long long)stats.n_requests, stats.wall_s);
    if (rc == CB_EINTR)
        fprintf(stderr, "interrupted: resume with: capbench run --suite %s --resume %lld%s%s\n", suite_path,
                (long long)run_id, db ? " --db " : "", db ? db : "");
    else if (!rc && !quiet)
        fprintf(stderr, "report: capbench report --db %s --run %lld\n", db_path, (long long)run_id);
    goto out;

oom:
    rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
out:
    if (rc && rc != CB_EINTR) {
        fprintf(stderr, "capbench run: %s\n", err.msg);
        if (run_made) fprintf(stderr, "capbench run: samples graded so far are stored in run %lld\n", (long long)run_id);
    }
    if (be) be->close(be);
    cb_store_close(st);
    free(config_json);
    free(labels_json);
    cb_suite_free(suite);
    if (rc == CB_EUSAGE && !suite_path) usage(stderr);
    return cb_err_exit_code(&err);
}
