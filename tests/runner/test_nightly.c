/* tests/runner/test_nightly.c — the nightly path through the real binary with
 * real models (stories260K and a generated tiny model; skipped when
 * ../shared/models is absent): a sharded smoke run merged equals the
 * unsharded run sample for sample; runs / export / delete; the leaderboard's
 * HTML rendered by a real headless Chromium whose DOM holds the scores
 * (skipped, saying why, without Chromium); compare gating with exit 3; and
 * configs/slurm/nightly.sbatch submitted as a job array to a private
 * one-node Slurm (scripts/slurm-local; skipped, saying why, where Slurm
 * cannot start). */
#include <cjson/cJSON.h>
#include "tests/util/cbtest.h"
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64], g_model[1024];
static const char *g_bin, *g_src;
static int g_slurm;

static void setup(void) {
    g_bin = getenv("CAPBENCH_BIN");
    g_src = getenv("CAPBENCH_SOURCE_DIR");
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    snprintf(g_model, sizeof g_model, "%s/stories260K.gguf", md ? md : "");
    if (!g_bin || !g_src) cr_skip_test("CAPBENCH_BIN / CAPBENCH_SOURCE_DIR not set (run under CTest)");
    if (!md || access(g_model, R_OK) != 0)
        cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared/models absent)");
    snprintf(g_dir, sizeof g_dir, "/tmp/cbnightXXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void) {
    if (g_slurm) cbt_sh("'%s/scripts/slurm-local' stop '%s/slurm' >/dev/null 2>&1", g_src, g_dir);
    g_slurm = 0;
    if (g_dir[0]) cbt_sh("rm -rf '%s'", g_dir);
    g_dir[0] = 0;
}

TestSuite(nightly, .init = setup, .fini = teardown, .timeout = 900);

/* Every sample of the database's run `run` as one text, in key order: what
 * "sample for sample" compares (item, repeat, hash, prompt, response,
 * extracted answer, score). malloc'd. */
static char *samples_text(const char *db, int run) {
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db);
    cr_assert_eq(sqlite3_prepare_v2(h,
                                    "SELECT item_id, repeat, item_hash, prompt, response, extracted, score FROM samples "
                                    "WHERE run_id=?1 ORDER BY item_id, repeat",
                                    -1, &st, NULL),
                 SQLITE_OK);
    sqlite3_bind_int(st, 1, run);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 7; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            size_t n = v ? strlen(v) : 4;
            while (len + n + 2 > cap) out = realloc(out, cap *= 2);
            memcpy(out + len, v ? v : "NULL", n);
            len += n;
            out[len++] = c == 6 ? '\n' : '\t';
        }
        rows++;
    }
    out[len] = 0;
    sqlite3_finalize(st);
    sqlite3_close(h);
    cr_assert_gt(rows, 50, "%s run %d has %d samples", db, run, rows);
    return out;
}

/* runs.config_sha256 of run 1 of db. */
static void config_hash(const char *db, char out[65]) {
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db);
    cr_assert_eq(sqlite3_prepare_v2(h, "SELECT config_sha256 FROM runs WHERE id=1", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, 65, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static void run_smoke(const char *db, const char *extra) {
    cr_assert_eq(cbt_sh("'%s' run --suite '%s/configs/smoke.json' --model '%s' --db '%s/%s' --quiet %s", g_bin, g_src,
                    g_model, g_dir, db, extra),
                 0, "capbench run %s", extra);
}

Test(nightly, sharded_run_merged_equals_unsharded) {
    run_smoke("s0.db", "--shard 0/2 --label night=d1");
    run_smoke("s1.db", "--shard 1/2 --label night=d1");
    run_smoke("u.db", "");
    cr_assert_eq(cbt_sh("cd '%s' && '%s' merge s0.db s1.db -o all.db > merge1.txt", g_dir, g_bin), 0);
    cr_assert_eq(cbt_sh("cd '%s' && '%s' merge s0.db s1.db -o all.db > merge2.txt", g_dir, g_bin), 0);
    char p[256];
    snprintf(p, sizeof p, "%s/merge2.txt", g_dir);
    char *m2 = cbt_read_text(p);
    cr_assert(strstr(m2, " 0 samples added"), "merging again adds nothing: %s", m2);
    free(m2);
    snprintf(p, sizeof p, "%s/all.db", g_dir);
    char *merged = samples_text(p, 1);
    snprintf(p, sizeof p, "%s/u.db", g_dir);
    char *plain = samples_text(p, 1);
    cr_assert_str_eq(merged, plain, "the merged shards equal the unsharded run sample for sample");
    free(merged);
    free(plain);
    char h_all[65], h_plain[65], h_shard[65];
    snprintf(p, sizeof p, "%s/all.db", g_dir);
    config_hash(p, h_all);
    snprintf(p, sizeof p, "%s/u.db", g_dir);
    config_hash(p, h_plain);
    snprintf(p, sizeof p, "%s/s0.db", g_dir);
    config_hash(p, h_shard);
    cr_assert_str_eq(h_all, h_plain, "a complete merge stores the unsharded run's config hash");
    cr_assert_str_neq(h_shard, h_plain, "a shard's config hash covers its shard");
    /* a different run cannot be merged into these shards */
    run_smoke("other.db", "--seed 7 --limit 2");
    cr_assert_eq(cbt_sh("cd '%s' && '%s' merge s0.db other.db -o bad.db 2> refuse.txt", g_dir, g_bin), 2);
    snprintf(p, sizeof p, "%s/refuse.txt", g_dir);
    char *r = cbt_read_text(p);
    cr_assert(strstr(r, "refusing to merge"), "%s", r);
    free(r);
    /* runs lists the merged run as finished and unsharded */
    cr_assert_eq(cbt_sh("'%s' runs --db '%s/all.db' --format json > '%s/runs.json'", g_bin, g_dir, g_dir), 0);
    snprintf(p, sizeof p, "%s/runs.json", g_dir);
    char *t = cbt_read_text(p);
    cJSON *j = cJSON_Parse(t);
    cr_assert_eq(cJSON_GetArraySize(j), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "status")->valuestring, "finished");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "shard")->valuestring, "");
    cJSON_Delete(j);
    free(t);
}

/* The text "0.123" of every capability mean of every entry of the leaderboard JSON. */
static int check_scores_in(const char *json_file, const char *dom) {
    char *t = cbt_read_text(json_file);
    cJSON *j = cJSON_Parse(t);
    cr_assert_not_null(j);
    int checked = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "entries")) {
        const cJSON *c;
        cr_assert(strstr(dom, cJSON_GetObjectItem(e, "model")->valuestring), "model name in the page");
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(e, "capabilities")) {
            char want[64];
            snprintf(want, sizeof want, "%.3f", cJSON_GetObjectItem(c, "mean")->valuedouble);
            cr_assert(strstr(dom, want), "score %s of %s in the rendered page", want,
                      cJSON_GetObjectItem(c, "capability")->valuestring);
            checked++;
        }
    }
    cJSON_Delete(j);
    free(t);
    return checked;
}

Test(nightly, leaderboard_compare_runs_export_delete) {
    char p[256];
    cr_assert_eq(cbt_sh("'%s' gen-model --shape tiny --type f32 --seed 3 --vocab '%s' -o '%s/tiny.gguf' >/dev/null 2>&1",
                    g_bin, g_model, g_dir),
                 0);
    run_smoke("r.db", "--label step=1000 --label series=demo");
    cr_assert_eq(cbt_sh("'%s' run --suite '%s/configs/smoke.json' --model '%s/tiny.gguf' --db '%s/r.db' --quiet "
                    "--label step=2000 --label series=demo",
                    g_bin, g_src, g_dir, g_dir),
                 0);
    cr_assert_eq(cbt_sh("cd '%s' && '%s' leaderboard --db r.db -o board.html && '%s' leaderboard --db r.db --format json "
                    "> board.json && '%s' leaderboard --db r.db --format csv > board.csv",
                    g_dir, g_bin, g_bin, g_bin),
                 0);
    snprintf(p, sizeof p, "%s/board.html", g_dir);
    char *html = cbt_read_text(p);
    cr_assert(strstr(html, "<svg") && strstr(html, "Trends over training step"));
    for (const char *h = strstr(html, "http"); h; h = strstr(h + 1, "http"))
        cr_assert(strncmp(h, "http://www.w3.org/2000/svg", 26) == 0, "no network reference but the SVG namespace: %.60s", h);
    cr_assert_null(strstr(html, "src="), "nothing loaded");
    cr_assert_null(strstr(html, "<script"), "no script");
    snprintf(p, sizeof p, "%s/board.json", g_dir);
    cr_assert_gt(check_scores_in(p, html), 5);
    free(html);

    /* compare: run 1 (stories260K) against run 2 (random weights) regresses; a run against itself does not */
    int rc = cbt_sh("'%s' compare 1 2 --db '%s/r.db' --format json > '%s/cmp.json'", g_bin, g_dir, g_dir);
    cr_assert_eq(rc, 0);
    snprintf(p, sizeof p, "%s/cmp.json", g_dir);
    char *t = cbt_read_text(p);
    cJSON *j = cJSON_Parse(t);
    int nreg = cJSON_GetObjectItem(j, "regressions")->valueint;
    cJSON_Delete(j);
    free(t);
    rc = cbt_sh("'%s' compare 1 2 --db '%s/r.db' --format md --fail-on-regression > '%s/cmp.md'", g_bin, g_dir, g_dir);
    cr_assert_eq(rc, nreg ? 3 : 0, "exit 3 exactly when a capability regressed (%d did)", nreg);
    cr_assert_eq(cbt_sh("'%s' compare '%s/r.db:1' '%s/r.db:1' --fail-on-regression > /dev/null", g_bin, g_dir, g_dir), 0);
    cr_assert_eq(cbt_sh("'%s' compare 1 9 --db '%s/r.db' 2>/dev/null", g_bin, g_dir), 2, "unknown run: exit 2");

    /* export, delete */
    cr_assert_eq(cbt_sh("'%s' export 2 --db '%s/r.db' --format lm-eval -o '%s/lm.json'", g_bin, g_dir, g_dir), 0);
    snprintf(p, sizeof p, "%s/lm.json", g_dir);
    t = cbt_read_text(p);
    j = cJSON_Parse(t);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(j, "results")) && cJSON_IsObject(cJSON_GetObjectItem(j, "configs")));
    cJSON_Delete(j);
    free(t);
    cr_assert_eq(cbt_sh("'%s' export 2 --db '%s/r.db' --format jsonl | wc -l | grep -qx 94", g_bin, g_dir), 0);
    cr_assert_eq(cbt_sh("'%s' delete 2 --db '%s/r.db' > /dev/null", g_bin, g_dir), 0);
    cr_assert_eq(cbt_sh("'%s' delete 2 --db '%s/r.db' 2>/dev/null", g_bin, g_dir), 2);
    cr_assert_eq(cbt_sh("'%s' runs --db '%s/r.db' | grep -c finished | grep -qx 1", g_bin, g_dir), 0);

    /* the page in a real browser */
    if (cbt_sh("command -v chromium > /dev/null") != 0)
        cr_skip_test("chromium is not installed (scripts/setup installs Debian's chromium): the HTML was checked as "
                     "text only, not rendered");
    cr_assert_eq(cbt_sh("cd '%s' && timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                    "--window-size=1200,2400 --screenshot=board.png file://%s/board.html > chromium.log 2>&1",
                    g_dir, g_dir),
                 0);
    cr_assert_eq(cbt_sh("cd '%s' && timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                    "--dump-dom file://%s/board.html > dom.html 2>> chromium.log",
                    g_dir, g_dir),
                 0);
    cr_assert_eq(cbt_sh("test $(stat -c %%s '%s/board.png') -gt 20000", g_dir), 0, "a real screenshot");
    snprintf(p, sizeof p, "%s/dom.html", g_dir);
    char *dom = cbt_read_text(p);
    cr_assert(strstr(dom, "capbench leaderboard"), "the browser's DOM holds the page");
    /* run 2 was deleted after board.json was written: the page still has both runs */
    snprintf(p, sizeof p, "%s/board.json", g_dir);
    cr_assert_gt(check_scores_in(p, dom), 5);
    free(dom);
}

Test(nightly, slurm_job_array_then_merge) {
    char p[512];
    if (cbt_sh("command -v sbatch slurmctld slurmd munged > /dev/null") != 0)
        cr_skip_test("Slurm (slurm-wlm, munge) is not installed: the Slurm template was not run");
    snprintf(p, sizeof p, "%s/slurm", g_dir);
    int rc = cbt_sh("'%s/scripts/slurm-local' start '%s' > '%s/slurm-start.txt' 2>&1", g_src, p, g_dir);
    g_slurm = 1;
    if (rc != 0) {
        char f[300];
        snprintf(f, sizeof f, "%s/slurm-start.txt", g_dir);
        char *why = cbt_read_text(f);
        cr_log_warn("%s", why);
        free(why);
        cr_skip_test("a one-node Slurm could not start on this machine (see the log above)");
    }
    cr_assert_eq(cbt_sh("cd '%s' && SLURM_CONF='%s/slurm.conf' CAPBENCH='%s' CAPBENCH_SUITE='%s/configs/smoke.json' "
                    "CAPBENCH_MODEL='%s' CAPBENCH_OUT='%s/night' sbatch --parsable --array=0-1 --export=ALL "
                    "--output='%s/task-%%a.out' '%s/configs/slurm/nightly.sbatch' > jobid.txt",
                    g_dir, p, g_bin, g_src, g_model, g_dir, g_dir, g_src),
                 0);
    /* the merge step writes night/merged.ok when it is done */
    int waited = 0;
    char ok[300];
    snprintf(ok, sizeof ok, "%s/night/merged.ok", g_dir);
    while (access(ok, F_OK) != 0 && waited < 600) {
        sleep(2);
        waited += 2;
    }
    if (access(ok, F_OK) != 0) {
        cbt_sh("cat '%s'/task-*.out '%s'/night/merge-*.out >&2; SLURM_CONF='%s/slurm.conf' squeue >&2", g_dir, g_dir, p);
        cr_assert_fail("the Slurm merge step did not finish within 600 s");
    }
    run_smoke("u.db", "");
    snprintf(p, sizeof p, "%s/night/all.db", g_dir);
    char *merged = samples_text(p, 1);
    snprintf(p, sizeof p, "%s/u.db", g_dir);
    char *plain = samples_text(p, 1);
    cr_assert_str_eq(merged, plain, "the Slurm array's merged database equals the unsharded run sample for sample");
    free(merged);
    free(plain);
    cr_assert_eq(cbt_sh("test -s '%s/night/report.md' && test -f '%s/night/shard-0.db' && test -f '%s/night/shard-1.db'",
                    g_dir, g_dir, g_dir),
                 0);
}
