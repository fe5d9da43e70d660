/* tests/runner/test_torture.c — kill-and-resume torture: runs are killed with
 * SIGKILL at random moments, resumed (and the resumes killed too), and a
 * regrade is killed the same way; the database must end up exactly as after
 * an uninterrupted run.
 *
 * Instant part (fast, many cycles): a child process runs the scheduler with
 * the in-process instant backend (runner/backend_instant) on a real SQLite
 * file, as `capbench run` and `--resume` do; the parent kills it at a random
 * time within the length of an uninterrupted run. After every kill: the file
 * passes PRAGMA integrity_check, no sample was lost (the count never goes
 * down), none is stored twice, and every stored sample equals the
 * uninterrupted run's sample for that item. A round ends when a (resumed) run
 * completes: then the samples and the capability scores must equal the
 * uninterrupted run's exactly. Rounds repeat until CAPBENCH_TORTURE_CYCLES
 * kills (default 40; scripts/torture --cycles N for longer) have landed. Then
 * the grades are overwritten with wrong values and `capbench regrade` (the
 * real binary) is killed at random moments before one runs to the end: the
 * scores must again equal the uninterrupted run's.
 *
 * Engine part: one short suite on the real engine with the default model
 * (stories260K, skipped when ../shared/models is absent), `capbench run`
 * killed at random moments and resumed until it finishes; the samples must
 * equal an uninterrupted run's.
 */
#include "results/store.h"
#include "runner/backend_instant.h"
#include "runner/config.h"
#include "runner/scheduler.h"
#include "tests/util/cbtest.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *SUITE =
    "{\"name\":\"torture\",\"seed\":9,\"batch_size\":8,\"tasks\":["
    "{\"family\":\"counting\",\"settings\":[\"direct\",\"cot\"],\"n\":40},"
    "{\"family\":\"counting\",\"label\":\"sc\",\"subtasks\":[\"word_len\"],\"settings\":[\"sc\"],\"n\":16}]}";
#define N_ITEMS (4 * 2 * 40 + 16)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t g_rng;
static double uniform(void) { /* splitmix64 -> [0, 1) */
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- the child: one run or resume with the instant backend ------------------ */

static int instant_run(const char *db) {
    cb_err err;
    cb_err_clear(&err);
    cb_suite *s = NULL;
    cb_store *st = NULL;
    cb_backend *b = NULL;
    int rc = cb_suite_parse("torture.json", SUITE, strlen(SUITE), &s, &err);
    if (!rc) rc = cb_store_open(db, CB_STORE_OPEN_CREATE, &st, &err);
    int64_t run = 0;
    if (!rc && cb_store_run_latest(st, &run, &err) != 0) { /* the first start: create run 1 */
        cb_run_info ri;
        memset(&ri, 0, sizeof ri);
        snprintf(ri.suite, sizeof ri.suite, "torture");
        snprintf(ri.backend, sizeof ri.backend, "instant");
        rc = cb_store_run_create(st, &ri, &run, &err);
    }
    if (!rc) rc = cb_store_run_set_status(st, run, CB_RUN_RUNNING, &err);
    if (!rc) rc = cb_backend_instant_open(0, &b, &err);
    cb_sched_opts o = {.suite = s, .loglik = 1};
    if (!rc) rc = cb_scheduler_run(&o, b, st, run, NULL, &err);
    if (!rc) rc = cb_store_compute_capability_scores(st, run, &err);
    if (!rc) rc = cb_store_run_set_status(st, run, CB_RUN_FINISHED, &err);
    if (rc) fprintf(stderr, "torture child: %s\n", err.msg);
    if (b) b->close(b);
    cb_store_close(st);
    cb_suite_free(s);
    return rc;
}

/* Forks a child running instant_run(db); kills it after delay_s (< 0: never).
 * Returns 1 when the kill landed, 0 when the child finished first. */
static int run_child(const char *db, double delay_s) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) _exit(instant_run(db) ? 1 : 0);
    if (delay_s >= 0) {
        struct timespec ts = {(time_t)delay_s, (long)((delay_s - floor(delay_s)) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return 1;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the torture child failed (status %d)", st);
    return 0;
}

/* Forks and execs argv (output to /dev/null); kills it after delay_s (< 0:
 * never). Returns 1 when killed, else asserts exit status 0 and returns 0. */
static int exec_child(char *const argv[], double delay_s) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (delay_s >= 0) {
        struct timespec ts = {(time_t)delay_s, (long)((delay_s - floor(delay_s)) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return 1;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s exited with status %d", argv[0], argv[1], st);
    return 0;
}

/* ---- what a database holds ---------------------------------------------------- */

typedef struct {
    char **rows; /* "item\x1fresponse\x1fextracted\x1fscore\x1fmetrics\x1fprompt", sorted */
    int n, cap;
} rowset;

static int collect(void *ud, const cb_sample *s, cb_err *err) {
    (void)err;
    rowset *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->rows = realloc(l->rows, (size_t)l->cap * sizeof *l->rows);
        cr_assert_not_null(l->rows);
    }
    size_t len = strlen(s->item_id) + (s->response ? strlen(s->response) : 0) +
                 (s->extracted ? strlen(s->extracted) : 0) + (s->metrics_json ? strlen(s->metrics_json) : 0) +
                 (s->prompt ? strlen(s->prompt) : 0) + 96;
    char *r = malloc(len);
    cr_assert_not_null(r);
    snprintf(r, len, "%s\x1f%s\x1f%s\x1f%.17g\x1f%s\x1f%s\x1f%s", s->item_id, s->response ? s->response : "",
             s->extracted ? s->extracted : "", s->score, s->metrics_json ? s->metrics_json : "",
             s->prompt ? s->prompt : "", s->error ? s->error : "");
    l->rows[l->n++] = r;
    return 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void rowset_free(rowset *l) {
    for (int i = 0; i < l->n; i++) free(l->rows[i]);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

/* Reads run 1 of db after checking the file's integrity; a file the first
 * child did not get to create yet (absent or empty) holds nothing. */
static int open_if_created(const char *db, cb_store **st, const char *when) {
    *st = NULL;
    struct stat sb;
    if (stat(db, &sb) != 0 || sb.st_size == 0) return 0;
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_store_open(db, CB_STORE_OPEN_EXISTING, st, &err);
    /* killed after SQLite wrote the WAL-mode header, before the schema
     * transaction committed: a file without tables, which a run completes */
    if (rc == CB_EFORMAT && strstr(err.msg, "empty file")) return 0;
    cr_assert_eq(rc, 0, "%s: %s", when, err.msg);
    return 1;
}

static rowset read_db(const char *db, const char *when) {
    rowset l = {0};
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    if (!open_if_created(db, &st, when)) return l;
    cr_assert_eq(cb_store_integrity_check(st, &err), 0, "%s: %s", when, err.msg);
    int64_t run = 0;
    if (cb_store_run_latest(st, &run, &err) == 0) {
        cr_assert_eq(run, 1, "%s: one run only", when);
        cr_assert_eq(cb_store_foreach_sample(st, 1, collect, &l, &err), 0, "%s: %s", when, err.msg);
    }
    cb_store_close(st);
    if (l.n > 1) qsort(l.rows, (size_t)l.n, sizeof *l.rows, cmpstr); /* rows is NULL while empty */
    for (int i = 1; i < l.n; i++) {
        size_t k = strcspn(l.rows[i], "\x1f");
        cr_assert(strncmp(l.rows[i - 1], l.rows[i], k + 1) != 0, "%s: item stored twice: %.*s", when, (int)k,
                  l.rows[i]);
    }
    return l;
}

/* Whether db holds a run yet (a kill may land before `run` created it). */
static int has_run(const char *db) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    if (!open_if_created(db, &st, "looking for run 1")) return 0;
    int64_t run = 0;
    int have = cb_store_run_latest(st, &run, &err) == 0;
    cb_store_close(st);
    return have;
}

/* Every row of got is a row of ref (same item, same response, same grade). */
static void assert_subset(const rowset *got, const rowset *ref, const char *when) {
    for (int i = 0; i < got->n; i++)
        cr_assert_not_null(bsearch(&got->rows[i], ref->rows, (size_t)ref->n, sizeof *ref->rows, cmpstr),
                           "%s: a stored sample differs from the uninterrupted run: %.200s", when, got->rows[i]);
}

static void assert_same(const rowset *got, const rowset *ref, const char *when) {
    cr_assert_eq(got->n, ref->n, "%s: %d samples, uninterrupted run %d", when, got->n, ref->n);
    for (int i = 0; i < got->n; i++)
        cr_assert_str_eq(got->rows[i], ref->rows[i], "%s: sample %d differs", when, i);
}

/* The capability scores of run 1, bit for bit. */
static void assert_same_scores(const char *db, const char *ref_db, const char *when) {
    cb_capability_score *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    cb_err err;
    cb_err_clear(&err);
    cb_store *sa = NULL, *sb = NULL;
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &sa, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_open(ref_db, CB_STORE_OPEN_EXISTING, &sb, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_capability_scores(sa, 1, &a, &na, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_capability_scores(sb, 1, &b, &nb, &err), 0, "%s", err.msg);
    cr_assert_eq(na, nb, "%s: capability rows", when);
    cr_assert_gt(na, 0);
    for (size_t i = 0; i < na; i++) {
        cr_assert_str_eq(a[i].capability, b[i].capability);
        cr_assert(a[i].n == b[i].n && a[i].n_scored == b[i].n_scored &&
                      memcmp(&a[i].mean, &b[i].mean, sizeof(double)) == 0 &&
                      memcmp(&a[i].ci_low, &b[i].ci_low, sizeof(double)) == 0 &&
                      memcmp(&a[i].ci_high, &b[i].ci_high, sizeof(double)) == 0,
                  "%s: %s: n %lld/%lld mean %.17g/%.17g", when, a[i].capability, (long long)a[i].n,
                  (long long)b[i].n, a[i].mean, b[i].mean);
    }
    free(a);
    free(b);
    cb_store_close(sa);
    cb_store_close(sb);
}

/* Overwrites every stored grade with a wrong one (what a changed grader
 * would have to repair). */
static int spoil_one(void *ud, const cb_sample *s, cb_err *err) {
    cb_store *st = ud;
    cb_sample w = {.run_id = s->run_id, .item_id = s->item_id, .repeat = s->repeat, .extracted = "spoiled",
                   .score = 0.5, .grader_version = "spoiled"};
    return cb_store_update_grade(st, &w, err);
}

static void spoil_grades(const char *db) {
    cb_store *st = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_store_open(db, CB_STORE_OPEN_EXISTING, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_begin(st, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_foreach_sample(st, 1, spoil_one, st, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_commit(st, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_store_compute_capability_scores(st, 1, &err), 0, "%s", err.msg);
    cb_store_close(st);
}

static int cycles_wanted(void) {
    const char *c = getenv("CAPBENCH_TORTURE_CYCLES");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 40;
}

Test(torture, instant_runs_resumes_and_regrades_killed_at_random, .timeout = 900) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    const char *seed_env = getenv("CAPBENCH_TORTURE_SEED");
    g_rng = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    cr_log_info("torture: seed %llu (CAPBENCH_TORTURE_SEED to repeat the kill schedule's draws)",
                (unsigned long long)g_rng);
    char dir[64], ref[128], db[128];
    cr_assert_eq(cbt_tmpdir(dir, sizeof dir, "cbtorture"), 0);
    snprintf(ref, sizeof ref, "%s/ref.db", dir);

    /* the uninterrupted run, and how long it takes */
    double t0 = now_s();
    cr_assert_eq(run_child(ref, -1), 0);
    double t_full = now_s() - t0;
    rowset want = read_db(ref, "uninterrupted run");
    cr_assert_eq(want.n, N_ITEMS);

    int want_kills = cycles_wanted(), kills = 0, rounds = 0, starts = 0;
    while (kills < want_kills) {
        snprintf(db, sizeof db, "%s/t%d.db", dir, rounds++);
        int before = 0;
        for (int cycle = 0;; cycle++) {
            starts++;
            /* up to the length of a whole run: early kills hit the start (open,
             * run creation), late ones a resume's last batches or the final
             * capability scores */
            int killed = run_child(db, uniform() * t_full);
            rowset got = read_db(db, killed ? "after a kill" : "after the finished run");
            cr_assert_geq(got.n, before, "round %d cycle %d: samples lost (%d -> %d)", rounds, cycle, before, got.n);
            assert_subset(&got, &want, killed ? "after a kill" : "after the finished run");
            before = got.n;
            if (!killed) {
                assert_same(&got, &want, "finished after kills");
                rowset_free(&got);
                break;
            }
            kills++;
            rowset_free(&got);
            cr_assert_lt(cycle, 1000, "a run never finished");
        }
        assert_same_scores(db, ref, "finished after kills");
    }

    /* regrade: wrong grades in, killed regrades, one that finishes: the
     * uninterrupted run's grades and scores come back */
    spoil_grades(db);
    char *argv[] = {(char *)bin, "regrade", "1", "--db", db, NULL};
    t0 = now_s();
    char *ref_argv[] = {(char *)bin, "regrade", "1", "--db", ref, NULL};
    cr_assert_eq(exec_child(ref_argv, -1), 0);
    double t_regrade = now_s() - t0;
    rowset again = read_db(ref, "the uninterrupted run regraded");
    assert_same(&again, &want, "regrading an unchanged run changes nothing");
    rowset_free(&again);
    int regrade_kills = 0;
    for (int i = 0; i < 6 || regrade_kills < 3; i++) {
        cr_assert_lt(i, 200, "regrade kills never landed");
        regrade_kills += exec_child(argv, uniform() * t_regrade);
        rowset got = read_db(db, "after a killed regrade");
        cr_assert_eq(got.n, N_ITEMS, "a killed regrade lost samples");
        rowset_free(&got);
    }
    cr_assert_eq(exec_child(argv, -1), 0);
    rowset got = read_db(db, "after the regrade");
    assert_same(&got, &want, "regraded after kills");
    rowset_free(&got);
    assert_same_scores(db, ref, "regraded after kills");
    cr_log_info("torture: %d SIGKILLs over %d starts in %d rounds (full run %.2f s), %d killed regrades "
                "(regrade %.2f s): nothing lost, nothing doubled, scores identical",
                kills, starts, rounds, t_full, regrade_kills, t_regrade);
    rowset_free(&want);
    cbt_rmrf(dir);
}

/* ---- the real engine ------------------------------------------------------------ */

Test(torture, engine_run_killed_and_resumed, .timeout = 900) {
    const char *bin = getenv("CAPBENCH_BIN");
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    char model[512];
    snprintf(model, sizeof model, "%s/stories260K.gguf", md ? md : "");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable (run through ctest)");
    if (!md || access(model, R_OK) != 0)
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    g_rng = (uint64_t)time(NULL) * 31 + (uint64_t)getpid();
    char dir[64], suite[128], ref[128], db[128];
    cr_assert_eq(cbt_tmpdir(dir, sizeof dir, "cbtortureng"), 0);
    snprintf(suite, sizeof suite, "%s/s.json", dir);
    snprintf(ref, sizeof ref, "%s/ref.db", dir);
    snprintf(db, sizeof db, "%s/k.db", dir);
    cr_assert_eq(cbt_write_file(suite,
                                "{\"name\":\"torture-engine\",\"seed\":9,\"batch_size\":8,\"model\":{\"n_ctx\":256},"
                                "\"tasks\":[{\"family\":\"counting\",\"settings\":[\"direct\"],\"n\":40}]}"),
                 0);
    char *ref_argv[] = {(char *)bin, "run", "--suite", suite, "--db", ref, "--model", model, "--threads", "1", NULL};
    double t0 = now_s();
    cr_assert_eq(exec_child(ref_argv, -1), 0);
    double t_full = now_s() - t0;
    rowset want = read_db(ref, "uninterrupted engine run");
    cr_assert_eq(want.n, 160);

    int kills = 0, rounds = 0;
    while (kills < 3) {
        cr_assert_lt(rounds, 20, "kills never landed");
        snprintf(db, sizeof db, "%s/k%d.db", dir, rounds++);
        char *run_argv[] = {(char *)bin, "run", "--suite", suite, "--db", db, "--model", model, "--threads", "1", NULL};
        char *resume_argv[] = {(char *)bin, "run",    "--suite", suite, "--db",     db, "--model",
                               model,       "--threads", "1",     "--resume", "1", NULL};
        int before = 0;
        for (int cycle = 0;; cycle++) {
            cr_assert_lt(cycle, 50, "the engine run never finished");
            /* a random moment within what is left of the run (the model load
             * included, so some kills land before any sample) */
            double left = t_full * (0.2 + 0.8 * (double)(want.n - before) / want.n);
            int killed = exec_child(has_run(db) ? resume_argv : run_argv, uniform() * left);
            rowset got = read_db(db, "engine run");
            cr_assert_geq(got.n, before, "samples lost");
            assert_subset(&got, &want, "engine run after a kill");
            before = got.n;
            if (!killed) {
                assert_same(&got, &want, "engine run finished after kills");
                rowset_free(&got);
                break;
            }
            kills++;
            rowset_free(&got);
        }
    }
    assert_same_scores(db, ref, "engine run finished after kills");
    cr_log_info("torture (engine): %d SIGKILLs in %d rounds, each finished run equals the uninterrupted one "
                "(%.2f s)", kills, rounds, t_full);
    rowset_free(&want);
    cbt_rmrf(dir);
}
