/* tests/results/test_report.c — `capbench report` on a known dataset: the
 * report built from a real results file (results/report.c) printed in every
 * format with numbers checked against values computed by hand (Wilson and
 * normal intervals, unparsed rates, tokens, latency, wall time), and the
 * command's exit codes through the built binary (CAPBENCH_BIN): a missing
 * database is exit 2 and is not created, an unknown run is exit 2. */
#include "results/report.h"
#include "tests/util/cbtest.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static char dbpath[300];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_report_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/results.db", dir);
}

static void rm_tmp(void) {
    char p[400];
    const char *files[] = {"results.db", "results.db-wal", "results.db-shm", "out.txt", "err.txt", "missing.db"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(report, .init = mk_tmp, .fini = rm_tmp);

static void add(cb_store *s, int64_t run, const char *task, const char *sub, const char *set, int i, const char *c1,
                const char *c2, double score, int unparsed, const char *error) {
    char id[128];
    snprintf(id, sizeof id, "%s/%s/%s/%d", task, sub, set, i);
    cb_sample m;
    memset(&m, 0, sizeof m);
    m.run_id = run;
    m.item_id = id;
    m.task = task;
    m.subtask = sub;
    m.setting = set;
    m.cap[0] = c1;
    m.cap[1] = c2;
    m.score = score;
    m.unparsed = unparsed;
    m.error = error;
    m.response = error ? NULL : "Answer: 3";
    m.prompt_tokens = error ? 0 : 20;
    m.completion_tokens = error ? 0 : 5;
    m.latency_s = error ? 2.0 : 0.1;
    m.attempts = 1;
    cb_err err = {0};
    cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0, "%s", err.msg);
}

/* The dataset: counting/char_occur/direct 8 of 10 right (one unparsed),
 * counting/word_len/cot 2 of 3 right plus one failed request, and
 * cross-capability/sr/file with continuous scores 0.2 0.5 0.9 1.0. Run 1,
 * wall time 12.5 s. Returns the run id. */
static int64_t make_dataset(void) {
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_CREATE, &s, &err), 0, "%s", err.msg);
    cb_run_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.suite, sizeof info.suite, "smoke");
    snprintf(info.model_id, sizeof info.model_id, "tiny.gguf");
    snprintf(info.model_sha256, sizeof info.model_sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    info.model_bytes = 3 << 20;
    snprintf(info.backend, sizeof info.backend, "local");
    snprintf(info.device, sizeof info.device, "cpu");
    snprintf(info.capbench_version, sizeof info.capbench_version, "0.1.0");
    info.seed = 42;
    info.started_at = 1700000000.0;
    int64_t run = 0;
    cr_assert_eq(cb_store_run_create(s, &info, &run, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_begin(s, &err), 0);
    for (int i = 0; i < 10; i++)
        add(s, run, "counting", "char_occur", "direct", i, "char_perception", "char_counting", i < 8 ? 1 : 0, i == 9,
            NULL);
    const double wl[] = {1, 0, 1};
    for (int i = 0; i < 3; i++)
        add(s, run, "counting", "word_len", "cot", i, "char_perception", "length_counting", wl[i], 0, NULL);
    add(s, run, "counting", "word_len", "cot", 3, "char_perception", "length_counting", NAN, 0, "timeout");
    const double sr[] = {0.2, 0.5, 0.9, 1.0};
    for (int i = 0; i < 4; i++)
        add(s, run, "cross-capability", "sr", "file", i, "Spanish&Reasoning", NULL, sr[i], 0, NULL);
    cr_assert_eq(cb_store_commit(s, &err), 0);
    cr_assert_eq(cb_store_run_set_status(s, run, CB_RUN_FINISHED, &err), 0);
    cb_store_close(s);
    /* a fixed finish time so that the wall time is known */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "UPDATE runs SET finished_at = 1700000012.5", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    return run;
}

/* Builds the report of the dataset and prints it in fmt into a malloc'd string. */
static char *render(cb_report_format fmt) {
    int64_t run = make_dataset();
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), 0, "%s", err.msg);
    cb_report *r = NULL;
    cr_assert_eq(cb_report_build(s, run, NULL, &r, &err), 0, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(cb_report_write(r, fmt, f, &err), 0, "%s", err.msg);
    fclose(f);
    cb_report_free(r);
    cb_store_close(s);
    return buf;
}

static const char *expected_csv =
    "run_id,section,task,subtask,setting,capability,by,n,n_scored,mean,sd,se,ci_low,ci_high,ci_method,baseline,"
    "chance,indistinct,unparsed_rate,n_unparsed,format_violation_rate,n_failed,soft_accuracy,mae,signed_error,"
    "off_by_one_rate,q_gold,expected_error,brier,gold_logprob,score_1to100,full_marks,skill_fraction,prompt_tokens,completion_tokens,mean_latency_s,grading,n_unscored,judge_calls,judge_tokens,h_content,h_structure,p_content,p_structure,p_n,p_judge_failed\r\n"
    /* unparsed rate over the 17 answered samples: the failed request is not unparsed */
    "1,all,all,,,,,18,17,0.7411764706,0.4154197027,0.1007540773,0.5437021063,0.9386508349,normal,,,0,"
    "0.05882352941,1,0,1,,,,,,,,,,,,340,85,0.2055555556,,0,0,0,,,,,,\r\n"
    "1,setting,counting,char_occur,direct,,,10,10,0.8,0.4216370214,0.1333333333,0.4901624691,0.9433178491,wilson,,,"
    "0,0.1,1,0,0,,,,,,,,,,,,200,50,0.1,,0,0,0,,,,,,\r\n"
    "1,setting,counting,word_len,cot,,,4,3,0.6666666667,0.5773502692,0.3333333333,0.2076595988,0.938508056,wilson,,,"
    "0,0,0,0,1,,,,,,,,,,,,60,15,0.575,,0,0,0,,,,,,\r\n"
    "1,setting,cross-capability,sr,file,,,4,4,0.65,0.3696845502,0.1848422751,0.2877157951,1.012284205,normal,,,0,0,"
    "0,0,0,,,,,,,,,,,,80,20,0.1,,0,0,0,,,,,,\r\n"
    "1,capability,,,,Spanish&Reasoning,,4,4,0.65,0.3696845502,0.1848422751,0.2877157951,1.012284205,normal,,,0,0,0,"
    "0,0,,,,,,,,,,,,80,20,0.1,,0,0,0,,,,,,\r\n"
    "1,capability,,,,char_counting,,10,10,0.8,0.4216370214,0.1333333333,0.4901624691,0.9433178491,wilson,,,0,0.1,1,"
    "0,0,,,,,,,,,,,,200,50,0.1,,0,0,0,,,,,,\r\n"
    "1,capability,,,,char_perception,,14,13,0.7692307692,0.4385290097,0.1216260639,0.4974362384,0.9182047135,"
    "wilson,,,0,0.07692307692,1,0,1,,,,,,,,,,,,260,65,0.2357142857,,0,0,0,,,,,,\r\n"
    "1,capability,,,,length_counting,,4,3,0.6666666667,0.5773502692,0.3333333333,0.2076595988,0.938508056,wilson,,,"
    "0,0,0,0,1,,,,,,,,,,,,60,15,0.575,,0,0,0,,,,,,\r\n";

Test(report, csv_numbers) {
    char *out = render(CB_REPORT_CSV);
    cr_assert_str_eq(out, expected_csv);
    free(out);
}

Test(report, table_is_aligned_with_numbers) {
    char *out = render(CB_REPORT_TABLE);
    cr_assert(strstr(out, "run 1  suite smoke  status finished\n"), "%s", out);
    cr_assert(strstr(out, "model tiny.gguf  sha256 abcdef012345  size 3.00 MiB\n"), "%s", out);
    cr_assert(strstr(out, "backend local  device cpu  capbench 0.1.0  seed 42\n"), "%s", out);
    cr_assert(strstr(out, "started 2023-11-14T22:13:20Z  finished 2023-11-14T22:13:32Z  wall 12.5 s\n"), "%s", out);
    /* every row of the first table has the same length (aligned columns) */
    const char *t = strstr(out, "\ntask ");
    cr_assert_not_null(t);
    t++;
    size_t first = strcspn(t, "\n");
    const char *p = t;
    int rows = 0;
    while (*p && *p != '\n') {
        size_t len = strcspn(p, "\n");
        cr_assert_eq(len, first, "row %d: '%.*s'", rows, (int)len, p);
        rows++;
        p += len + 1;
    }
    cr_assert_eq(rows, 5); /* header + 3 settings + all */
    cr_assert(strstr(out, "0.800  [0.490, 0.943]"), "%s", out);
    cr_assert(strstr(out, "0.650  [0.288, 1.012]"), "%s", out);
    cr_assert(strstr(out, "0.741  [0.544, 0.939]"), "%s", out);
    cr_assert(strstr(out, "failed requests: 1 (first: timeout)"), "%s", out);
    cr_assert(strstr(out, "n = answered samples"), "%s", out);
    cr_assert(strstr(out, "10.0%"), "%s", out);
    cr_assert(strstr(out, "0.575s"), "%s", out);
    cr_assert(strstr(out, "char_perception"), "%s", out);
    cr_assert(strstr(out, "0.769  [0.497, 0.918]"), "%s", out);
    free(out);
}

Test(report, markdown) {
    char *out = render(CB_REPORT_MD);
    cr_assert(strstr(out, "## capbench run 1 (smoke)\n"), "%s", out);
    cr_assert(strstr(out, "- wall time: 12.5 s\n"), "%s", out);
    cr_assert(strstr(out, "| task | subtask | setting | n | acc | 95% CI | base |  | unparsed | fmt viol | failed | "
                          "unscored | grading | tok in | tok out | latency |\n| --- | --- | --- | ---: | ---: | --- | "
                          "---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n"),
              "%s", out);
    cr_assert(strstr(out, "| counting | char_occur | direct | 10 | 0.800 | [0.490, 0.943] | - |  | 10.0% | 0.0% | 0 | "
                          "0 | - | 200 | 50 | 0.100s |\n"),
              "%s", out);
    /* n is the 17 answered samples; the failed request is in `failed` */
    cr_assert(strstr(out, "| all |  |  | 17 | 0.741 | [0.544, 0.939] | - |  | 5.9% | 0.0% | 1 | 0 | - | 340 | 85 | 0.206s |\n"),
              "%s", out);
    cr_assert(strstr(out, "| Spanish&Reasoning | 4 | 0.650 | [0.288, 1.012] | - |  | 0.0% | 0.0% | 0 | 0 | - | 80 | "
                          "20 | 0.100s |\n"),
              "%s", out);
    free(out);
}

Test(report, json) {
    char *out = render(CB_REPORT_JSON);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    cJSON *run = cJSON_GetObjectItem(j, "run");
    cr_assert_eq(cJSON_GetObjectItem(run, "id")->valuedouble, 1);
    cr_assert_str_eq(cJSON_GetObjectItem(run, "suite")->valuestring, "smoke");
    cr_assert_str_eq(cJSON_GetObjectItem(run, "status")->valuestring, "finished");
    cr_assert_str_eq(cJSON_GetObjectItem(run, "seed")->valuestring, "42");
    cr_assert_str_eq(cJSON_GetObjectItem(run, "started_at")->valuestring, "2023-11-14T22:13:20Z");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(run, "base_url")));
    cr_assert_float_eq(cJSON_GetObjectItem(run, "wall_s")->valuedouble, 12.5, 1e-9);
    cJSON *ov = cJSON_GetObjectItem(j, "overall");
    cr_assert_eq(cJSON_GetObjectItem(ov, "n")->valuedouble, 18);
    cr_assert_float_eq(cJSON_GetObjectItem(ov, "mean")->valuedouble, 12.6 / 17, 1e-12);
    cJSON *sets = cJSON_GetObjectItem(j, "settings");
    cr_assert_eq(cJSON_GetArraySize(sets), 3);
    cJSON *s0 = cJSON_GetArrayItem(sets, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(s0, "subtask")->valuestring, "char_occur");
    cr_assert_float_eq(cJSON_GetObjectItem(s0, "ci_low")->valuedouble, 0.4901624691, 1e-9);
    cr_assert_str_eq(cJSON_GetObjectItem(s0, "ci_method")->valuestring, "wilson");
    cJSON *caps = cJSON_GetObjectItem(j, "capabilities");
    cr_assert_eq(cJSON_GetArraySize(caps), 4);
    cJSON *c2 = cJSON_GetArrayItem(caps, 2);
    cr_assert_str_eq(cJSON_GetObjectItem(c2, "capability")->valuestring, "char_perception");
    cr_assert_eq(cJSON_GetObjectItem(c2, "n_failed")->valuedouble, 1);
    cr_assert_float_eq(cJSON_GetObjectItem(c2, "ci_high")->valuedouble, 0.9182047135, 1e-9);
    cJSON_Delete(j);
    free(out);
}

Test(report, format_names) {
    cb_report_format f;
    cb_err err = {0};
    cr_assert_eq(cb_report_format_parse("md", &f, &err), 0);
    cr_assert_eq(f, CB_REPORT_MD);
    cr_assert_eq(cb_report_format_parse("html", &f, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "table, md, csv or json"), "%s", err.msg);
}

Test(report, unknown_run) {
    make_dataset();
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), 0);
    cb_report *r = NULL;
    cr_assert_eq(cb_report_build(s, 7, NULL, &r, &err), CB_EUSAGE);
    cr_assert_null(r);
    cb_store_close(s);
}

/* ---- through the binary --------------------------------------------------- */

/* Runs `capbench args...` with stdout/stderr into files in dir; returns the exit status. */
static int run_bin(char *const args[], char **out_text, char **err_text) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    int rc = cbt_run_bin(bin, dir, args, out_text, err_text);
    cr_assert_geq(rc, 0, "capbench could not be run or was killed by a signal");
    return rc;
}

Test(report, binary_missing_db_exits_2_and_creates_nothing) {
    char missing[400];
    snprintf(missing, sizeof missing, "%s/missing.db", dir);
    char *err_text = NULL;
    char *args[] = {"report", "--db", missing, NULL};
    cr_assert_eq(run_bin(args, NULL, &err_text), 2);
    cr_assert(strstr(err_text, "no such results database"), "%s", err_text);
    struct stat sb;
    cr_assert_neq(stat(missing, &sb), 0, "report created %s", missing);
    free(err_text);
}

Test(report, binary_unknown_run_and_bad_options_exit_2) {
    make_dataset();
    char *err_text = NULL;
    char *a1[] = {"report", "--db", dbpath, "--run", "99", NULL};
    cr_assert_eq(run_bin(a1, NULL, &err_text), 2);
    cr_assert(strstr(err_text, "no run 99"), "%s", err_text);
    free(err_text);
    char *a2[] = {"report", "--db", dbpath, "--format", "xml", NULL};
    cr_assert_eq(run_bin(a2, NULL, NULL), 2);
    char *a3[] = {"report", "--db", dbpath, "--run", "x1", NULL};
    cr_assert_eq(run_bin(a3, NULL, NULL), 2);
    char *a4[] = {"report", "--bogus", NULL};
    cr_assert_eq(run_bin(a4, NULL, NULL), 2);
}

Test(report, binary_csv_of_latest_run) {
    make_dataset();
    char *out = NULL;
    char *args[] = {"report", "--db", dbpath, "--format", "csv", NULL};
    cr_assert_eq(run_bin(args, &out, NULL), 0);
    cr_assert_str_eq(out, expected_csv);
    free(out);
    char *a2[] = {"report", "--db", dbpath, NULL};
    cr_assert_eq(run_bin(a2, &out, NULL), 0);
    cr_assert(strstr(out, "run 1  suite smoke  status finished"), "%s", out);
    free(out);
}

/* Samples with golds, metrics, flags and meta, as the counting family stores
 * them: 10 char_occur items whose gold is 1 six times (majority baseline 0.6),
 * 4 substring items Yes/No (baseline and chance 0.5). */
static int64_t make_gold_dataset(void) {
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_CREATE, &s, &err), 0, "%s", err.msg);
    cb_run_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.suite, sizeof info.suite, "gold");
    snprintf(info.model_id, sizeof info.model_id, "m");
    snprintf(info.backend, sizeof info.backend, "local");
    snprintf(info.device, sizeof info.device, "cpu");
    snprintf(info.capbench_version, sizeof info.capbench_version, "0.1.0");
    info.limit_n = 10;
    snprintf(info.shard, sizeof info.shard, "0/2");
    int64_t run = 0;
    cr_assert_eq(cb_store_run_create(s, &info, &run, &err), 0, "%s", err.msg);
    static const char *golds[] = {"1", "1", "1", "1", "1", "1", "2", "2", "3", "4"};
    for (int i = 0; i < 10; i++) {
        char id[64], metrics[128], meta[96];
        snprintf(id, sizeof id, "counting/char_occur/direct/%d", i);
        int right = i < 6; /* the model answers 1 every time: exactly the majority baseline */
        double e = 1.0 - atof(golds[i]);
        snprintf(metrics, sizeof metrics, "{\"abs_error\":%g,\"signed_error\":%g,\"soft_correct\":%d,\"q_gold\":0.25}",
                 fabs(e), e, right);
        snprintf(meta, sizeof meta, "{\"meta\":{\"len\":%d,\"len_bin\":\"%s\"}}", 5 + i, i < 2 ? "3-6" : "7-10");
        cb_sample m;
        memset(&m, 0, sizeof m);
        m.run_id = run;
        m.item_id = id;
        m.task = "counting";
        m.family = "counting";
        m.subtask = "char_occur";
        m.setting = "direct";
        m.cap[0] = "char_perception";
        m.gold = golds[i];
        m.score = right;
        m.metrics_json = metrics;
        m.item_json = meta;
        m.flags_json = i == 0 ? "[\"no_marker\",\"format_violation\"]" : "[\"no_marker\"]";
        m.response = "1";
        m.span_start = 0;
        m.span_end = 1;
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0, "%s", err.msg);
    }
    for (int i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "counting/substring_occur/direct/%d", i);
        cb_sample m;
        memset(&m, 0, sizeof m);
        m.run_id = run;
        m.item_id = id;
        m.task = "counting";
        m.subtask = "substring_occur";
        m.setting = "direct";
        m.cap[0] = "char_perception";
        m.gold = i % 2 ? "No" : "Yes";
        m.score = i == 0;
        m.unparsed = i == 3;
        m.metrics_json = "{\"brier\":0.5}";
        m.span_start = m.span_end = -1;
        cr_assert_eq(cb_store_add_sample(s, &m, NULL, &err), 0, "%s", err.msg);
    }
    cb_store_close(s);
    return run;
}

Test(report, baselines_metrics_and_breakdown) {
    int64_t run = make_gold_dataset();
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_EXISTING, &s, &err), 0, "%s", err.msg);
    cb_report *r = NULL;
    cr_assert_eq(cb_report_build(s, run, "length", &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r->n_settings, 2);
    /* char_occur: accuracy 0.6 = majority baseline 0.6: not distinguishable from guessing */
    const cb_group_extra *x = &r->settings_x[0];
    cr_assert_str_eq(r->settings[0].subtask, "char_occur");
    cr_assert_float_eq(x->baseline, 0.6, 1e-12);
    cr_assert(isnan(x->chance));
    cr_assert(x->indistinct);
    cr_assert_float_eq(r->settings[0].sum.format_violation_rate, 0.1, 1e-12);
    int seen = 0;
    for (int k = 0; k < x->n_metrics; k++) {
        if (strcmp(x->metrics[k].name, "abs_error") == 0) {
            seen++;
            cr_assert_float_eq(x->metrics[k].mean, (0 * 6 + 1 * 2 + 2 + 3) / 10.0, 1e-12);
        }
        if (strcmp(x->metrics[k].name, "signed_error") == 0) {
            seen++;
            cr_assert_float_eq(x->metrics[k].mean, -0.7, 1e-12);
        }
        if (strcmp(x->metrics[k].name, "q_gold") == 0) seen++;
    }
    cr_assert_eq(seen, 3);
    /* substring: Yes/No golds, chance 0.5; one unparsed of 4 */
    const cb_group_extra *y = &r->settings_x[1];
    cr_assert_float_eq(y->baseline, 0.5, 1e-12);
    cr_assert_float_eq(y->chance, 0.5, 1e-12);
    cr_assert_float_eq(r->settings[1].sum.unparsed_rate, 0.25, 1e-12);
    /* the capability's baseline weights each cell's baseline by its answered samples */
    cr_assert_eq(r->n_capabilities, 1);
    cr_assert_float_eq(r->capabilities_x[0].baseline, (10 * 0.6 + 4 * 0.5) / 14.0, 1e-12);
    /* breakdown by length bin: char_occur 3-6 and 7-10 (substring items have no meta) */
    cr_assert_eq(r->n_breakdown, 2);
    cr_assert_str_eq(r->breakdown[0].by, "3-6");
    cr_assert_eq(r->breakdown[0].sum.n_scored, 2);
    cr_assert_float_eq(r->breakdown[0].sum.mean, 1.0, 1e-12);
    cr_assert_str_eq(r->breakdown[1].by, "7-10");
    cr_assert_eq(r->breakdown[1].sum.n_scored, 8);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(cb_report_write(r, CB_REPORT_TABLE, f, &err), 0, "%s", err.msg);
    fclose(f);
    cr_assert(strstr(buf, "limit 10  shard 0/2"), "%s", buf);
    cr_assert(strstr(buf, "base") && strstr(buf, "0.600  ~"), "%s", buf);
    cr_assert(strstr(buf, "By task, subtask, setting and length"), "%s", buf);
    free(buf);
    cb_report_free(r);
    /* an unknown breakdown key is a usage error naming the key */
    cr_assert_eq(cb_report_build(s, run, "colour", &r, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "colour"), "%s", err.msg);
    cb_store_close(s);
}

Test(report, read_only_database_is_read_read_only) {
    make_dataset();
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    unlink(wal);
    cr_assert_eq(chmod(dbpath, 0444), 0);
    cr_assert_eq(chmod(dir, 0555), 0);
    char *out = NULL, *err_text = NULL;
    char *args[] = {"report", "--db", dbpath, "--format", "csv", NULL};
    int rc = run_bin(args, &out, &err_text);
    chmod(dir, 0755);
    chmod(dbpath, 0644);
    /* as root access() still says writable, so the binary then opens it as usual;
     * either way the report must come out (the mode itself is checked below) */
    cr_assert_eq(rc, 0, "%s", err_text);
    cr_assert_str_eq(out, expected_csv);
    free(out);
    free(err_text);
    /* the read-only mode itself, which root cannot get from file modes */
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_READONLY, &s, &err), 0, "%s", err.msg);
    cr_assert(cb_store_readonly(s));
    cb_report *r = NULL;
    cr_assert_eq(cb_report_build(s, 1, NULL, &r, &err), 0, "%s", err.msg);
    cb_report_free(r);
    cr_assert_neq(cb_store_run_set_status(s, 1, CB_RUN_FAILED, &err), 0); /* writes are refused */
    cb_store_close(s);
}
