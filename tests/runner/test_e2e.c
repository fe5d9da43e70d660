/* tests/runner/test_e2e.c — end to end through the real binary with the real
 * stories260K model (skipped when ../shared/models is absent): the smoke suite
 * run twice gives identical samples; a run killed with SIGKILL, and one stopped
 * with SIGINT, resume with nothing lost or duplicated; the report shows scores
 * per capability. */
#include "results/store.h"
#include "tests/util/cbtest.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_dir[64];
static const char *g_bin, *g_src;

static void setup(void) {
    g_bin = getenv("CAPBENCH_BIN");
    g_src = getenv("CAPBENCH_SOURCE_DIR");
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    char model[1024];
    snprintf(model, sizeof model, "%s/stories260K.gguf", md ? md : "");
    if (!g_bin || !g_src) cr_skip_test("CAPBENCH_BIN / CAPBENCH_SOURCE_DIR not set (run under CTest)");
    if (!md || access(model, R_OK) != 0)
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    cr_assert_eq(cbt_tmpdir(g_dir, sizeof g_dir, "cbe2e"), 0);
}

static void teardown(void) {
    if (g_dir[0]) cbt_rmrf(g_dir);
}

typedef struct {
    char **rows;
    int n, cap;
} rowlist;

static int collect(void *ud, const cb_sample *s, cb_err *err) {
    (void)err;
    rowlist *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 128;
        l->rows = realloc(l->rows, (size_t)l->cap * sizeof *l->rows);
    }
    size_t len = strlen(s->item_id) + (s->prompt ? strlen(s->prompt) : 0) + (s->response ? strlen(s->response) : 0) +
                 (s->metrics_json ? strlen(s->metrics_json) : 0) + 128;
    char *r = malloc(len);
    snprintf(r, len, "%s\x1f%s\x1f%s\x1f%.17g\x1f%s\x1f%d", s->item_id, s->prompt ? s->prompt : "",
             s->response ? s->response : "", s->score, s->metrics_json ? s->metrics_json : "", s->prompt_tokens);
    l->rows[l->n++] = r;
    return 0;
}

static rowlist read_run(const char *db, int64_t run) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err), 0, "%s", err.msg);
    rowlist l = {0};
    cr_assert_eq(cb_store_foreach_sample(st, run, collect, &l, &err), 0, "%s", err.msg);
    cb_store_close(st);
    return l;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Test(e2e, smoke_twice_is_identical, .init = setup, .fini = teardown) {
    char db1[128], db2[128];
    snprintf(db1, sizeof db1, "%s/a.db", g_dir);
    snprintf(db2, sizeof db2, "%s/b.db", g_dir);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s/configs/smoke.json' --db '%s' --quiet --threads 2", g_bin, g_src, db1), 0);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s/configs/smoke.json' --db '%s' --quiet --threads 1 --batch-size 5", g_bin,
                    g_src, db2),
                 0);
    rowlist a = read_run(db1, 1), b = read_run(db2, 1);
    cr_assert_gt(a.n, 0);
    cr_assert_eq(a.n, b.n);
    qsort(a.rows, (size_t)a.n, sizeof *a.rows, cmpstr);
    qsort(b.rows, (size_t)b.n, sizeof *b.rows, cmpstr);
    for (int i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.rows[i], b.rows[i], "sample %d differs between runs", i);
        free(a.rows[i]);
        free(b.rows[i]);
    }
    free(a.rows);
    free(b.rows);
    /* the report reads the database back, per capability */
    char out[128];
    snprintf(out, sizeof out, "%s/report.txt", g_dir);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' > '%s'", g_bin, db1, out), 0);
    FILE *f = fopen(out, "r");
    char buf[65536];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = 0;
    fclose(f);
    cr_assert(strstr(buf, "char_counting") != NULL, "report lacks capability rows:\n%s", buf);
    cr_assert(strstr(buf, "char_perception") != NULL, "report lacks the family capability:\n%s", buf);
}

static void write_suite(const char *path, int n) {
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"name\":\"kill\",\"seed\":5,\"batch_size\":8,\"model\":{\"n_ctx\":256},"
            "\"tasks\":[{\"family\":\"counting\",\"settings\":[\"direct\",\"plain\"],\"n\":%d}]}",
            n);
    fclose(f);
}

static int64_t count(const char *db) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    if (access(db, F_OK) != 0 || cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err)) return 0;
    int64_t n = 0;
    cb_store_count_samples(st, 1, &n, &err);
    cb_store_close(st);
    return n;
}

/* Starts a run, waits until some samples are committed, sends sig. */
static int run_and_signal(const char *suite, const char *db, int sig, int64_t *at) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", 1);
        dup2(fd, 2);
        execl(g_bin, g_bin, "run", "--suite", suite, "--db", db, "--threads", "1", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 4000 && count(db) < 16; i++) nanosleep(&ts, NULL);
    *at = count(db);
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static void check_complete(const char *db, int64_t expect) {
    rowlist l = read_run(db, 1);
    cr_assert_eq(l.n, expect, "every sample stored exactly once (%d vs %lld)", l.n, (long long)expect);
    qsort(l.rows, (size_t)l.n, sizeof *l.rows, cmpstr);
    for (int i = 1; i < l.n; i++) {
        size_t k = strcspn(l.rows[i], "\x1f");
        cr_assert(strncmp(l.rows[i - 1], l.rows[i], k) != 0 || l.rows[i - 1][k] != '\x1f', "duplicate item");
    }
    for (int i = 0; i < l.n; i++) free(l.rows[i]);
    free(l.rows);
}

Test(e2e, sigkill_then_resume, .init = setup, .fini = teardown, .timeout = 600) {
    char suite[128], db[128];
    snprintf(suite, sizeof suite, "%s/kill.json", g_dir);
    snprintf(db, sizeof db, "%s/k.db", g_dir);
    int n = 40; /* 4 subtasks x 2 settings x 40 = 320 items */
    write_suite(suite, n);
    int64_t at = 0;
    int st = run_and_signal(suite, db, SIGKILL, &at);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the run was killed mid-way");
    int64_t before = count(db);
    cr_assert_geq(before, 16);
    cr_assert_lt(before, 320, "killed before the end (got %lld)", (long long)before);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --resume 1 --quiet", g_bin, suite, db), 0);
    check_complete(db, 320);
}

Test(e2e, sigint_commits_and_resumes, .init = setup, .fini = teardown, .timeout = 600) {
    char suite[128], db[128];
    snprintf(suite, sizeof suite, "%s/int.json", g_dir);
    snprintf(db, sizeof db, "%s/i.db", g_dir);
    write_suite(suite, 40);
    int64_t at = 0;
    int st = run_and_signal(suite, db, SIGINT, &at);
    cr_assert(WIFEXITED(st), "Ctrl-C ends the run cleanly");
    cr_assert_eq(WEXITSTATUS(st), 130);
    int64_t before = count(db);
    cr_assert_geq(before, at, "nothing graded before Ctrl-C is lost");
    cr_assert_eq(before % 8, 0, "whole batches are committed");
    /* a different seed is a different config: resume refuses it (exit 2) */
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --resume 1 --seed 99 --quiet 2>/dev/null", g_bin, suite, db), 2);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --resume 1 --quiet", g_bin, suite, db), 0);
    check_complete(db, 320);
}
