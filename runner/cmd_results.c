/* runner/cmd_results.c — `capbench report` and `capbench regrade`: the two
 * commands that read a results database back.
 *
 * report prints the summary of one run (results/report.h) in the chosen
 * format; it opens the database in OPEN_EXISTING mode, so a mistyped path is
 * an error (exit 2) and never a new empty file. regrade re-applies the current
 * graders (tasks/task.h) to the stored responses of a run without calling any
 * model, rewrites the grade columns and recomputes the capability scores.
 */
#include "common/err.h"
#include "results/report.h"
#include "results/store.h"
#include "runner/commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a positive run id; 0 on success. */
static int parse_run_id(const char *s, int64_t *out, cb_err *err) {
    char *end = NULL;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v <= 0)
        return cb_err_set(err, CB_EUSAGE, "bad run id '%s' (expected a positive integer)", s ? s : "");
    *out = v;
    return 0;
}

static void report_usage(FILE *f) {
    fputs("usage: capbench report [--db FILE] [--run ID] [--format table|md|csv|json]\n"
          "\n"
          "Scores of one stored run per task/subtask/setting and per capability: n, mean,\n"
          "95% CI (Wilson for 0/1 scores, normal otherwise), unparsed rate, failures,\n"
          "tokens, mean latency; and the run header.\n"
          "  --db FILE      results database (default " CB_STORE_DEFAULT_PATH ")\n"
          "  --run ID       run id (default: the latest run)\n"
          "  --format F     table (default), md, csv or json\n",
          f);
}

int cb_cmd_report(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH;
    int64_t run_id = 0;
    cb_report_format fmt = CB_REPORT_TABLE;
    cb_store *st = NULL;
    cb_report *rep = NULL;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            report_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc || (strcmp(a, "--db") && strcmp(a, "--run") && strcmp(a, "--format"))) {
            if (strcmp(a, "--db") == 0 || strcmp(a, "--run") == 0 || strcmp(a, "--format") == 0)
                rc = cb_err_set(&err, CB_EUSAGE, "%s needs a value", a);
            else
                rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench report --help)", a);
            goto out;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--db") == 0)
            db = v;
        else if (strcmp(a, "--run") == 0)
            rc = parse_run_id(v, &run_id, &err);
        else
            rc = cb_report_format_parse(v, &fmt, &err);
        if (rc) goto out;
    }
    if ((rc = cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err))) goto out;
    if (run_id == 0 && (rc = cb_store_run_latest(st, &run_id, &err))) goto out;
    if ((rc = cb_report_build(st, run_id, &rep, &err))) goto out;
    rc = cb_report_write(rep, fmt, stdout, &err);
out:
    cb_report_free(rep);
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench report: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

int cb_cmd_regrade(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "capbench %s: not built yet\n", argv[0]);
    return 1;
}
