/* runner/cmd_manage.c — run management on a results database: `capbench
 * runs` (list), `capbench delete` (a run and everything under it),
 * `capbench export` (samples as JSONL/CSV, or lm-eval results JSON) and
 * `capbench merge` (shard databases into one run, results/merge.h).
 *
 * runs and export only read (read-only where the file is); delete and merge
 * write. Exit codes: 0 ok, 2 bad input (unknown run, bad flag, refused
 * merge), 1 anything else.
 */
#include "results/export.h"
#include "results/merge.h"
#include "results/store.h"
#include "runner/cliutil.h"
#include "runner/commands.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int open_ro(const char *db, cb_store **st, cb_err *err) {
    return cb_store_open(db, cb_cli_db_writable(db) ? CB_STORE_OPEN_EXISTING : CB_STORE_OPEN_READONLY, st, err);
}

/* A flag that takes a value: 1 when argv[*i] is `name` (value in *v, *i
 * advanced), 0 when it is not, -1 when the value is missing (err set). */
static int take(int argc, char **argv, int *i, const char *name, const char **v, cb_err *err) {
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) {
        cb_err_set(err, CB_EUSAGE, "%s needs a value", name);
        return -1;
    }
    *v = argv[++*i];
    return 1;
}

/* ---- runs ---------------------------------------------------------------------------- */

/* labels_json {"a":"1","b":"x"} -> "a=1,b=x" (cut to cap). */
static void labels_text(const char *json, char *buf, size_t cap) {
    buf[0] = 0;
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    size_t len = 0;
    for (const cJSON *c = j ? j->child : NULL; c && len < cap; c = c->next) {
        char *v = cJSON_IsString(c) ? NULL : cJSON_PrintUnformatted(c);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=%s", len ? "," : "", c->string ? c->string : "",
                                v ? v : c->valuestring);
        free(v);
    }
    cJSON_Delete(j);
}

static void iso(double t, char *buf, size_t cap) {
    buf[0] = 0;
    if (t <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void runs_usage(FILE *f) {
    fputs("usage: capbench runs [--db FILE] [--format table|json]\n"
          "\n"
          "Lists the runs of a results database: id, suite, model, labels, status, samples\n"
          "(failed), shard, started (UTC) and wall time.\n",
          f);
}

int cb_cmd_runs(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *fmt = "table";
    cb_store *st = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    cJSON *root = NULL;
    for (int i = 1; i < argc; i++) {
        int t;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            runs_usage(stdout);
            return 0;
        }
        if ((t = take(argc, argv, &i, "--db", &db, &err)) || (t = take(argc, argv, &i, "--format", &fmt, &err))) {
            if (t < 0) {
                rc = CB_EUSAGE;
                goto out;
            }
            continue;
        }
        rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench runs --help)", argv[i]);
        goto out;
    }
    int json = strcmp(fmt, "json") == 0;
    if (!json && strcmp(fmt, "table") != 0) {
        rc = cb_err_set(&err, CB_EUSAGE, "--format: expected table or json, got \"%s\"", fmt);
        goto out;
    }
    if ((rc = open_ro(db, &st, &err))) goto out;
    if ((rc = cb_store_run_ids(st, &ids, &n, &err))) goto out;
    if (json)
        root = cJSON_CreateArray();
    else
        printf("%5s  %-14s %-28s %-20s %-11s %9s %7s  %-8s %-20s %9s\n", "id", "suite", "model", "labels", "status",
               "samples", "failed", "shard", "started", "wall_s");
    for (size_t k = 0; k < n; k++) {
        cb_run_info ri;
        int64_t ns = 0, nf = 0;
        if ((rc = cb_store_run_get(st, ids[k], &ri, &err))) goto out;
        if ((rc = cb_store_run_counts(st, ids[k], &ns, &nf, &err))) {
            cb_run_info_clear(&ri);
            goto out;
        }
        char lab[256], started[32];
        labels_text(ri.labels_json, lab, sizeof lab);
        iso(ri.started_at, started, sizeof started);
        double wall = ri.finished_at > 0 ? ri.finished_at - ri.started_at : NAN;
        const char *base = strrchr(ri.model_id, '/');
        base = base ? base + 1 : ri.model_id;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)ri.id);
            cJSON_AddStringToObject(o, "suite", ri.suite);
            cJSON_AddStringToObject(o, "model_id", ri.model_id);
            cJSON_AddStringToObject(o, "model_sha256", ri.model_sha256);
            cJSON *l = cJSON_Parse(ri.labels_json ? ri.labels_json : "{}");
            cJSON_AddItemToObject(o, "labels", l ? l : cJSON_CreateObject());
            cJSON_AddStringToObject(o, "status", cb_run_status_name(ri.status));
            cJSON_AddNumberToObject(o, "samples", (double)ns);
            cJSON_AddNumberToObject(o, "failed", (double)nf);
            cJSON_AddStringToObject(o, "shard", ri.shard);
            cJSON_AddStringToObject(o, "started", started);
            if (isfinite(wall))
                cJSON_AddNumberToObject(o, "wall_s", wall);
            else
                cJSON_AddNullToObject(o, "wall_s");
            cJSON_AddItemToArray(root, o);
        } else {
            printf("%5lld  %-14.14s %-28.28s %-20.20s %-11s %9lld %7lld  %-8.8s %-20s ", (long long)ri.id, ri.suite,
                   base, lab[0] ? lab : "-", cb_run_status_name(ri.status), (long long)ns, (long long)nf,
                   ri.shard[0] ? ri.shard : "-", started);
            if (isfinite(wall))
                printf("%9.1f\n", wall);
            else
                printf("%9s\n", "-");
        }
        cb_run_info_clear(&ri);
    }
    if (json) {
        char *txt = cJSON_Print(root);
        if (txt) puts(txt);
        free(txt);
    }
out:
    cJSON_Delete(root);
    free(ids);
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench runs: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- delete ---------------------------------------------------------------------------- */

int cb_cmd_delete(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *run = NULL;
    cb_store *st = NULL;
    int64_t id = 0, ns = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        int t;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: capbench delete RUN_ID [--db FILE]\n\n"
                 "Removes the run, its samples and its capability scores in one transaction.");
            return 0;
        }
        if ((t = take(argc, argv, &i, "--db", &db, &err))) {
            if (t < 0) {
                rc = CB_EUSAGE;
                goto out;
            }
            continue;
        }
        if (argv[i][0] == '-' || run) {
            rc = cb_err_set(&err, CB_EUSAGE, "unexpected argument '%s' (usage: capbench delete RUN_ID [--db FILE])",
                            argv[i]);
            goto out;
        }
        run = argv[i];
    }
    if (!run) {
        rc = cb_err_set(&err, CB_EUSAGE, "which run? (usage: capbench delete RUN_ID [--db FILE])");
        goto out;
    }
    if ((rc = cb_cli_parse_run_id(run, &id, &err))) goto out;
    if ((rc = cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err))) goto out;
    if ((rc = cb_store_run_delete(st, id, &ns, &err))) goto out;
    printf("deleted run %lld and its %lld samples from %s\n", (long long)id, (long long)ns, db);
out:
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench delete: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- export ------------------------------------------------------------------------------ */

int cb_cmd_export(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *run = NULL, *fmt_s = NULL, *outp = NULL;
    cb_store *st = NULL;
    FILE *f = NULL;
    int64_t id = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        int t;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: capbench export RUN_ID --format jsonl|csv|lm-eval [--db FILE] [-o FILE]\n\n"
                 "jsonl: one object per sample with every stored column; csv: one row per sample;\n"
                 "lm-eval: the run as lm-evaluation-harness results JSON (results/configs/versions ...).\n"
                 "Writes to stdout unless -o FILE.");
            return 0;
        }
        if ((t = take(argc, argv, &i, "--db", &db, &err)) || (t = take(argc, argv, &i, "--format", &fmt_s, &err)) ||
            (t = take(argc, argv, &i, "-o", &outp, &err))) {
            if (t < 0) {
                rc = CB_EUSAGE;
                goto out;
            }
            continue;
        }
        if (argv[i][0] == '-' || run) {
            rc = cb_err_set(&err, CB_EUSAGE, "unexpected argument '%s' (see capbench export --help)", argv[i]);
            goto out;
        }
        run = argv[i];
    }
    if (!run || !fmt_s) {
        rc = cb_err_set(&err, CB_EUSAGE, "usage: capbench export RUN_ID --format jsonl|csv|lm-eval [--db FILE]");
        goto out;
    }
    cb_export_format fmt;
    if ((rc = cb_cli_parse_run_id(run, &id, &err)) || (rc = cb_export_format_parse(fmt_s, &fmt, &err))) goto out;
    if ((rc = open_ro(db, &st, &err))) goto out;
    if (outp && !(f = fopen(outp, "w"))) {
        rc = cb_err_set(&err, CB_EIO, "%s: %s", outp, strerror(errno));
        goto out;
    }
    rc = cb_export_run(st, id, fmt, f ? f : stdout, &err);
out:
    if (f && fclose(f) != 0 && !rc) rc = cb_err_set(&err, CB_EIO, "%s: %s", outp, strerror(errno));
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench export: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- merge ---------------------------------------------------------------------------------- */

int cb_cmd_merge(int argc, char **argv) {
    cb_err err = {0};
    const char *outp = NULL;
    const char **src = calloc((size_t)argc, sizeof *src);
    size_t n = 0;
    int rc = 0;
    if (!src) return 1;
    for (int i = 1; i < argc; i++) {
        int t;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: capbench merge A.db B.db ... -o ALL.db\n\n"
                 "Folds the databases of the shards of one evaluation (capbench run --shard I/N) into one\n"
                 "run of ALL.db: samples de-duplicated by (item, repeat), merging again changes nothing,\n"
                 "runs whose config differs beyond the shard are refused. See docs/analysis.md.");
            free(src);
            return 0;
        }
        if ((t = take(argc, argv, &i, "-o", &outp, &err))) {
            if (t < 0) {
                rc = CB_EUSAGE;
                goto out;
            }
            continue;
        }
        if (argv[i][0] == '-') {
            rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench merge --help)", argv[i]);
            goto out;
        }
        src[n++] = argv[i];
    }
    if (!outp || n == 0) {
        rc = cb_err_set(&err, CB_EUSAGE, "usage: capbench merge A.db B.db ... -o ALL.db");
        goto out;
    }
    cb_merge_stats ms;
    if ((rc = cb_merge(src, n, outp, &ms, &err))) goto out;
    printf("merged %zu runs into run %lld of %s (%s): %lld samples added, %lld already there; status %s%s%s\n",
           ms.n_parts, (long long)ms.run_id, outp, ms.created ? "new" : "existing", (long long)ms.n_added,
           (long long)ms.n_duplicate, ms.status, ms.shard[0] ? ", shards " : "", ms.shard);
out:
    free(src);
    if (rc) {
        fprintf(stderr, "capbench merge: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}
