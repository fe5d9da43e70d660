/* tests/results/test_report.c — `capbench report` on a known dataset: the
 * report built from a real results file (results/report.c) printed in every
 * format with numbers checked against values computed by hand (Wilson and
 * normal intervals, unparsed rates, tokens, latency, wall time), and the
 * command's exit codes through the built binary (CAPBENCH_BIN): a missing
 * database is exit 2 and is not created, an unknown run is exit 2. */
#include "results/report.h"

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
    cr_assert_eq(cb_report_build(s, run, &r, &err), 0, "%s", err.msg);
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
    "run_id,section,task,subtask,setting,capability,n,n_scored,mean,sd,se,ci_low,ci_high,ci_method,unparsed_rate,"
    "n_unparsed,n_failed,prompt_tokens,completion_tokens,mean_latency_s\r\n"
    "1,all,all,,,,18,17,0.7411764706,0.4154197027,0.1007540773,0.5437021063,0.9386508349,normal,0.05555555556,1,1,"
    "340,85,0.2055555556\r\n"
    "1,setting,counting,char_occur,direct,,10,10,0.8,0.4216370214,0.1333333333,0.4901624691,0.9433178491,wilson,0.1,"
    "1,0,200,50,0.1\r\n"
    "1,setting,counting,word_len,cot,,4,3,0.6666666667,0.5773502692,0.3333333333,0.2076595988,0.938508056,wilson,0,0,"
    "1,60,15,0.575\r\n"
    "1,setting,cross-capability,sr,file,,4,4,0.65,0.3696845502,0.1848422751,0.2877157951,1.012284205,normal,0,0,0,80,"
    "20,0.1\r\n"
    "1,capability,,,,Spanish&Reasoning,4,4,0.65,0.3696845502,0.1848422751,0.2877157951,1.012284205,normal,0,0,0,80,20,"
    "0.1\r\n"
    "1,capability,,,,char_counting,10,10,0.8,0.4216370214,0.1333333333,0.4901624691,0.9433178491,wilson,0.1,1,0,200,"
    "50,0.1\r\n"
    "1,capability,,,,char_perception,14,13,0.7692307692,0.4385290097,0.1216260639,0.4974362384,0.9182047135,wilson,"
    "0.07142857143,1,1,260,65,0.2357142857\r\n"
    "1,capability,,,,length_counting,4,3,0.6666666667,0.5773502692,0.3333333333,0.2076595988,0.938508056,wilson,0,0,1,"
    "60,15,0.575\r\n";

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
    const char *t = strstr(out, "task ");
    cr_assert_not_null(t);
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
    cr_assert(strstr(out, "0.800  [0.490, 0.943]  wilson"), "%s", out);
    cr_assert(strstr(out, "0.650  [0.288, 1.012]  normal"), "%s", out);
    cr_assert(strstr(out, "0.741  [0.544, 0.939]  normal"), "%s", out);
    cr_assert(strstr(out, "10.0%"), "%s", out);
    cr_assert(strstr(out, "0.575s"), "%s", out);
    cr_assert(strstr(out, "char_perception"), "%s", out);
    cr_assert(strstr(out, "0.769  [0.497, 0.918]  wilson"), "%s", out);
    free(out);
}

Test(report, markdown) {
    char *out = render(CB_REPORT_MD);
    cr_assert(strstr(out, "## capbench run 1 (smoke)\n"), "%s", out);
    cr_assert(strstr(out, "- wall time: 12.5 s\n"), "%s", out);
    cr_assert(strstr(out, "| task | subtask | setting | n | mean | 95% CI | method | unparsed | failed | tok in | "
                          "tok out | latency |\n| --- | --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | "
                          "---: | ---: |\n"),
              "%s", out);
    cr_assert(strstr(out, "| counting | char_occur | direct | 10 | 0.800 | [0.490, 0.943] | wilson | 10.0% | 0 | 200 "
                          "| 50 | 0.100s |\n"),
              "%s", out);
    cr_assert(strstr(out, "| all |  |  | 18 | 0.741 | [0.544, 0.939] | normal | 5.6% | 1 | 340 | 85 | 0.206s |\n"),
              "%s", out);
    cr_assert(strstr(out, "| Spanish&Reasoning | 4 | 0.650 | [0.288, 1.012] | normal | 0.0% | 0 | 80 | 20 | 0.100s |\n"),
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
    cr_assert_eq(cb_report_build(s, 7, &r, &err), CB_EUSAGE);
    cr_assert_null(r);
    cb_store_close(s);
}

/* ---- through the binary --------------------------------------------------- */

/* Runs `capbench args...` with stdout/stderr into files in dir; returns the exit status. */
static int run_bin(char *const args[], char **out_text, char **err_text) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    char out_path[400], err_path[400];
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr)) _exit(120);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)bin;
        for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, argv);
        _exit(121);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    const char *paths[2] = {out_path, err_path};
    char **dst[2] = {out_text, err_text};
    for (int k = 0; k < 2; k++) {
        if (!dst[k]) continue;
        FILE *f = fopen(paths[k], "rb");
        cr_assert_not_null(f);
        char *buf = calloc(1, 1 << 16);
        size_t n = fread(buf, 1, (1 << 16) - 1, f);
        buf[n] = 0;
        fclose(f);
        *dst[k] = buf;
    }
    return WEXITSTATUS(status);
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
