/* tests/results/test_store_faults.c — storage faults under `capbench run` (the
 * real binary, answers from a loopback OpenAI-compatible server so no model
 * is needed): the disk filling up mid-run (RLIMIT_FSIZE, the `ulimit -f` of
 * the child, with SIGXFSZ ignored so writes fail with EFBIG as on a full
 * disk), a read-only database, and a database whose write lock another
 * process holds. Each gives exit status 1 (a failure of the machine, not bad
 * input) and a message that names the file and says what happened, and
 * leaves the database intact (PRAGMA integrity_check, whole batches only,
 * bytes unchanged where nothing could be written) and resumable: the final
 * --resume stores every item exactly once and asks the server only for the
 * missing ones.
 */
#include "results/store.h"
#include "tests/util/cbtest.h"
#include "tests/util/httpd.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ITEMS 200 /* 4 subtasks x 50, in batches of 8 */
#define BATCH 8

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    cb_httpd_reply_body(rep, 200, "application/json",
                        "{\"choices\":[{\"message\":{\"content\":\"Answer: %zu\"},\"finish_reason\":\"stop\"}]}",
                        req->body_len % 7);
}

typedef struct {
    long fsize;      /* > 0: RLIMIT_FSIZE in bytes */
    int as_nobody;   /* drop root to uid/gid 65534 first */
} limits;

/* Runs argv with limits, stdout+stderr into out_path; returns the exit status
 * (128 + signal when killed, -1 when it could not start). */
static int spawn(char *const argv[], const char *out_path, limits lim) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        if (lim.fsize > 0) {
            signal(SIGXFSZ, SIG_IGN); /* a write past the limit then fails with EFBIG */
            struct rlimit rl = {(rlim_t)lim.fsize, (rlim_t)lim.fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        }
        if (lim.as_nobody && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(125);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

typedef struct {
    int64_t n;
    char **ids;
} idlist;

static int collect(void *ud, const cb_sample *s, cb_err *err) {
    (void)err;
    idlist *l = ud;
    l->ids = realloc(l->ids, (size_t)(l->n + 1) * sizeof *l->ids);
    l->ids[l->n++] = strdup(s->item_id);
    cr_assert_null(s->error, "%s: %s", s->item_id, s->error);
    return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Opens db, checks its integrity and that no item is stored twice; returns the
 * number of samples of run 1. */
static int64_t check_intact(const char *db, const char *when) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err), 0, "%s: %s", when, err.msg);
    cr_assert_eq(cb_store_integrity_check(st, &err), 0, "%s: %s", when, err.msg);
    idlist l = {0};
    cr_assert_eq(cb_store_foreach_sample(st, 1, collect, &l, &err), 0, "%s: %s", when, err.msg);
    cb_store_close(st);
    if (l.n > 1) qsort(l.ids, (size_t)l.n, sizeof *l.ids, cmpstr);
    for (int64_t i = 1; i < l.n; i++)
        cr_assert_str_neq(l.ids[i - 1], l.ids[i], "%s: %s stored twice", when, l.ids[i]);
    for (int64_t i = 0; i < l.n; i++) free(l.ids[i]);
    free(l.ids);
    return l.n;
}

static void expect_output(const char *path, const char *a, const char *b, const char *when) {
    char *text = cbt_read_file(path, NULL);
    cr_assert_not_null(text);
    cr_assert(strstr(text, a) && (!b || strstr(text, b)), "%s: expected \"%s\"%s%s in:\n%s", when, a,
              b ? " and " : "", b ? b : "", text);
    free(text);
}

Test(store_faults, disk_full_read_only_and_locked_then_resume, .timeout = 300) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    cb_httpd *h = NULL;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char dir[64], suite[128], db[128], out[128];
    cr_assert_eq(cbt_tmpdir(dir, sizeof dir, "cbstfault"), 0);
    snprintf(suite, sizeof suite, "%s/s.json", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    cr_assert_eq(cbt_write_file(suite,
                                "{\"name\":\"storage\",\"seed\":4,\"batch_size\":%d,"
                                "\"model\":{\"backend\":\"openai\",\"base_url\":\"%s/v1\",\"model\":\"m\"},"
                                "\"tasks\":[{\"family\":\"counting\",\"settings\":[\"direct\"],\"n\":%d}]}",
                                BATCH, cb_httpd_url(h), N_ITEMS / 4),
                 0);
    char *run_argv[] = {(char *)bin, "run", "--suite", suite, "--db", db, "--no-loglik", "--quiet", NULL};
    char *resume_argv[] = {(char *)bin, "run",    "--suite", suite,    "--db", db,
                           "--no-loglik", "--quiet", "--resume", "1", NULL};

    /* 1. disk full: files may not grow past 160 KiB (the WAL fills first) */
    int rc = spawn(run_argv, out, (limits){.fsize = 160 * 1024});
    cr_assert_eq(rc, 1, "disk full: exit %d", rc);
    expect_output(out, db, "full", "disk full");
    int64_t k = check_intact(db, "after disk full");
    cr_assert(k > 0 && k < N_ITEMS, "some batches were committed before the disk filled (%lld)", (long long)k);
    cr_assert_eq(k % BATCH, 0, "only whole batches are stored (%lld)", (long long)k);
    int asked = cb_httpd_count(h);

    /* 2. read-only: nothing is written, not even a WAL; bytes unchanged */
    size_t len0 = 0, len1 = 0;
    char *bytes0 = cbt_read_file(db, &len0);
    cr_assert_not_null(bytes0);
    int root = geteuid() == 0;
    /* root: the child runs as nobody, from a copy of the binary that nobody
     * can reach (the build tree may sit under /root, mode 0700) */
    char nobody_bin[128];
    snprintf(nobody_bin, sizeof nobody_bin, "%s/capbench", dir);
    cr_assert_eq(cbt_sh("cp '%s' '%s' && chmod 0755 '%s'", bin, nobody_bin, nobody_bin), 0);
    resume_argv[0] = nobody_bin;
    cr_assert_eq(chmod(db, 0444), 0);
    cr_assert_eq(chmod(dir, root ? 0755 : 0555), 0);
    rc = spawn(resume_argv, out, (limits){.as_nobody = root});
    resume_argv[0] = (char *)bin;
    if (rc == 125) cr_skip_test("cannot drop root to uid 65534 here, so a read-only file cannot be made");
    cr_assert_eq(chmod(dir, 0700), 0);
    cr_assert_eq(rc, 1, "read-only: exit %d", rc);
    expect_output(out, db, "read-only", "read-only");
    char *bytes1 = cbt_read_file(db, &len1);
    cr_assert(len0 == len1 && memcmp(bytes0, bytes1, len0) == 0, "the read-only file is unchanged");
    free(bytes0);
    free(bytes1);
    cr_assert_eq(chmod(db, 0644), 0);
    cr_assert_eq(check_intact(db, "after read-only"), k);

    /* 3. locked: another writer holds the write lock past the busy timeout */
    cb_store *locker = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &locker, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_begin(locker, &err), 0, "%s", err.msg);
    rc = spawn(resume_argv, out, (limits){0});
    cb_store_rollback(locker);
    cb_store_close(locker);
    cr_assert_eq(rc, 1, "locked: exit %d", rc);
    expect_output(out, db, "locked", "locked");
    cr_assert_eq(check_intact(db, "after the lock"), k);
    cr_assert_eq(cb_httpd_count(h), asked, "no request was sent while the database could not be written");

    /* 4. resume: every item once, only the missing ones asked */
    rc = spawn(resume_argv, out, (limits){0});
    cr_assert_eq(rc, 0, "resume: exit %d", rc);
    cr_assert_eq(check_intact(db, "after the resume"), N_ITEMS);
    cr_assert_eq(cb_httpd_count(h) - asked, N_ITEMS - k, "the resume asked for the %lld missing items only",
                 (long long)(N_ITEMS - k));
    cr_log_info("storage faults: %lld of %d samples stored before the disk filled; read-only and locked exit 1 "
                "and change nothing; the resume completed the run",
                (long long)k, N_ITEMS);
    cb_httpd_stop(h);
    cbt_rmrf(dir);
}
