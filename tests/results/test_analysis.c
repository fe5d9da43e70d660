/* tests/results/test_analysis.c — the analyses of results/analysis.h on real
 * SQLite files built with known scores (tests/util/testdb.h): the paper's
 * worked examples of TASKS.md §6, one weakest-link cell per category, a
 * bootstrap stability flip, shared items (R and S&R) resampled together, the
 * judge_failed refusal, the Δ sensitivity, the capability profile's weakest
 * probability, compare with a known McNemar p and the alteration analysis. */
#include "results/analysis.h"
#include "results/store.h"

#include "../util/testdb.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], dbpath[300];

static void mk_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_analysis_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(dbpath, sizeof dbpath, "%s/r.db", dir);
}

static void rm_tmp(void) {
    char p[400];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

TestSuite(analysis, .init = mk_tmp, .fini = rm_tmp);

static cb_store *open_db(void) {
    cb_store *s = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_store_open(dbpath, CB_STORE_OPEN_CREATE, &s, &err), 0, "%s", err.msg);
    return s;
}

/* Loads a run's capability item sets. */
static void load(cb_store *s, int64_t run, uint64_t seed, cb_item_score_set *set, cb_run_caps *rc) {
    cb_err err = {0};
    cr_assert_eq(cb_store_item_scores(s, run, set, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_run_caps_build(set, seed, rc, &err), 0, "%s", err.msg);
}

static const cb_wl_cell *cell(const cb_wl_cell *c, size_t n, const char *cross) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].cross, cross) == 0) return &c[i];
    cr_assert_fail("no cell %s", cross);
    return NULL;
}

Test(analysis, paper_worked_examples) {
    double z;
    /* TASKS.md §6 worked examples (scores from the paper's table) */
    cr_assert_eq(cb_wl_classify(51.00, 56.81, 49.88, 3, &z), CB_WL_BELOW_BOTH);
    cr_assert_float_eq(z, -1.386, 0.0005);
    cr_assert_eq(cb_wl_classify(74.01, 66.22, 67.33, 3, &z), CB_WL_BETWEEN_NEAR_WEAK);
    cr_assert_float_eq(z, -0.715, 0.0005);
    cr_assert_eq(cb_wl_classify(69.56, 70.61, 69.68, 3, &z), CB_WL_NO_CLEAR_WEAK);
    cr_assert(isnan(z));
    /* the other categories and their edges */
    cr_assert_eq(cb_wl_classify(60, 80, 70, 3, &z), CB_WL_MIDPOINT);
    cr_assert_float_eq(z, 0, 1e-12);
    cr_assert_eq(cb_wl_classify(60, 80, 60, 3, &z), CB_WL_BETWEEN_NEAR_WEAK, "c = w is between, nearer the weak");
    cr_assert_eq(cb_wl_classify(60, 80, 80, 3, &z), CB_WL_BETWEEN_NEAR_STRONG, "c = t is between, nearer the strong");
    cr_assert_eq(cb_wl_classify(60, 80, 80.5, 3, &z), CB_WL_ABOVE_BOTH);
    cr_assert_eq(cb_wl_classify(60, 63, 50, 3, &z), CB_WL_NO_CLEAR_WEAK, "gap exactly delta has no clear weak");
    cr_assert_eq(cb_wl_classify(60, 63, 50, 1, &z), CB_WL_BELOW_BOTH);
    cr_assert(cb_wl_obeys(CB_WL_BELOW_BOTH) && cb_wl_obeys(CB_WL_BETWEEN_NEAR_WEAK));
    cr_assert(!cb_wl_obeys(CB_WL_MIDPOINT) && !cb_wl_obeys(CB_WL_NO_CLEAR_WEAK));
}

/* n = 1600 items per capability: X 0.6 (S 60.4), Y 0.8 (S 80.2). */
#define N 1600
static void pair(cb_store *s, int64_t run, const char *x, const char *y, int kx, int ky, int kc, uint64_t *seed) {
    char xy[64];
    snprintf(xy, sizeof xy, "%s&%s", x, y);
    tdb_items(s, run, x, x, NULL, N, kx, *seed);
    tdb_items(s, run, y, y, NULL, N, ky, *seed + 100000);
    tdb_items(s, run, xy, xy, NULL, N, kc, *seed + 200000);
    *seed += 1000000;
}

Test(analysis, weakest_link_categories_stability_and_sharing, .timeout = 120) {
    cb_store *s = open_db();
    cb_err err = {0};
    int64_t run = tdb_run(s, "model-a.gguf", 42, NULL, NULL, "");
    uint64_t seed = 1;
    pair(s, run, "b1", "b2", 960, 1280, 800, &seed);   /* c 50.5: below both */
    pair(s, run, "w1", "w2", 960, 1280, 1040, &seed);  /* c 65.35: z = -0.5 */
    pair(s, run, "m1", "m2", 960, 1280, 1120, &seed);  /* c 70.3: the midpoint */
    pair(s, run, "s1", "s2", 1280, 960, 1200, &seed);  /* c 75.25: z = +0.5 (X the strong one) */
    pair(s, run, "a1", "a2", 960, 1280, 1440, &seed);  /* c 90.1: above both */
    pair(s, run, "n1", "n2", 960, 992, 800, &seed);    /* gap 1.98 <= 3: no clear weak */
    pair(s, run, "f1", "f2", 960, 1280, 1110, &seed);  /* c 69.68, z -0.06: a bootstrap flip */
    /* R and S&R: the same problem instances (same seeds) with the same scores, so c == S_R
     * exactly; S separate. Resampled together, every replicate keeps c == w. */
    tdb_items(s, run, "reasoning", "reasoning", NULL, N, 960, 9000000);
    tdb_items(s, run, "spanish&reasoning", "spanish&reasoning", NULL, N, 960, 9000000);
    tdb_items(s, run, "spanish", "spanish", NULL, N, 1280, 9500000);
    /* the same scores without shared seeds: resampled apart, c falls below w about half the time */
    tdb_items(s, run, "re2", "re2", NULL, N, 960, 7000000);
    tdb_items(s, run, "sp2&re2", "sp2&re2", NULL, N, 960, 7100000);
    tdb_items(s, run, "sp2", "sp2", NULL, N, 1280, 7200000);
    /* refusals: a part missing; judge failures over 2% (3 of 100) */
    tdb_items(s, run, "lonely", "lonely&missing", NULL, 50, 25, 6000000);
    tdb_items(s, run, "j1", "j1", NULL, 97, 50, 5000000);
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "j1/f%d", i);
        tdb_item(s, run, id, id, 5100000 + (uint64_t)i, "j1", NULL, NAN, 1);
    }
    tdb_items(s, run, "j2", "j2", NULL, 100, 80, 5200000);
    tdb_items(s, run, "j1&j2", "j1&j2", NULL, 100, 40, 5300000);

    cb_item_score_set set;
    cb_run_caps rc;
    load(s, run, 42, &set, &rc);
    cb_wl_cell *c = NULL;
    size_t n = 0;
    cr_assert_eq(cb_wl_analyze(&rc, run, 3, CB_BOOTSTRAP_B, &c, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 11);

    const cb_wl_cell *b = cell(c, n, "b1&b2");
    cr_assert_float_eq(b->a, 60.4, 1e-9);
    cr_assert_float_eq(b->b, 80.2, 1e-9);
    cr_assert_float_eq(b->c, 50.5, 1e-9);
    cr_assert(b->weak_is_x);
    cr_assert_eq(b->cat, CB_WL_BELOW_BOTH);
    cr_assert_float_eq(b->z, (50.5 - 70.3) / 9.9, 1e-9);
    cr_assert_float_eq(b->c_minus_w, 50.5 - 60.4, 1e-9);
    cr_assert_eq(b->modal, CB_WL_BELOW_BOTH);
    cr_assert_geq(b->modal_freq, 0.99);
    cr_assert(!b->unstable);

    const cb_wl_cell *w = cell(c, n, "w1&w2");
    cr_assert_eq(w->cat, CB_WL_BETWEEN_NEAR_WEAK);
    cr_assert_float_eq(w->z, -0.5, 1e-9);
    cr_assert_eq(w->modal, CB_WL_BETWEEN_NEAR_WEAK);
    cr_assert(!w->unstable, "modal freq %.3f", w->modal_freq);

    const cb_wl_cell *m = cell(c, n, "m1&m2");
    cr_assert_eq(m->cat, CB_WL_MIDPOINT);
    cr_assert(m->unstable, "an exact midpoint is a measure-zero event under resampling");

    const cb_wl_cell *st = cell(c, n, "s1&s2");
    cr_assert_eq(st->cat, CB_WL_BETWEEN_NEAR_STRONG);
    cr_assert(!st->weak_is_x, "Y (0.6) is the weak capability here");
    cr_assert_float_eq(st->z, 0.5, 1e-9);
    cr_assert(!st->unstable, "modal freq %.3f", st->modal_freq);

    const cb_wl_cell *a = cell(c, n, "a1&a2");
    cr_assert_eq(a->cat, CB_WL_ABOVE_BOTH);
    cr_assert(!a->unstable);

    const cb_wl_cell *nc = cell(c, n, "n1&n2");
    cr_assert_eq(nc->cat, CB_WL_NO_CLEAR_WEAK);
    cr_assert(isnan(nc->z));
    cr_assert_float_eq(nc->c_minus_w, 50.5 - 60.4, 1e-9, "c - w is still reported");
    cr_assert_eq(nc->cat_delta[0], CB_WL_BELOW_BOTH, "with delta 0 the 1.98 gap counts");
    cr_assert_eq(nc->cat_delta[1], CB_WL_BELOW_BOTH);
    cr_assert_eq(nc->cat_delta[2], CB_WL_NO_CLEAR_WEAK);

    const cb_wl_cell *f = cell(c, n, "f1&f2");
    cr_assert_eq(f->cat, CB_WL_BETWEEN_NEAR_WEAK);
    cr_assert(f->unstable, "z = -0.06 flips to near-strong in many replicates (modal %s %.3f)",
              cb_wl_category_name(f->modal), f->modal_freq);
    cr_assert_gt(f->freq[CB_WL_BETWEEN_NEAR_STRONG], 0.2);

    const cb_wl_cell *sr = cell(c, n, "spanish&reasoning");
    cr_assert_str_eq(sr->x, "spanish");
    cr_assert_str_eq(sr->y, "reasoning");
    cr_assert_geq(sr->shared, 1, "R and S&R share their items");
    cr_assert_eq(sr->cat, CB_WL_BETWEEN_NEAR_WEAK, "c == w");
    cr_assert_eq(sr->modal, CB_WL_BETWEEN_NEAR_WEAK);
    cr_assert_float_eq(sr->modal_freq, 1.0, 1e-12, "one index vector per replicate keeps c == w");
    const cb_wl_cell *us = cell(c, n, "sp2&re2");
    cr_assert_eq(us->shared, 0);
    cr_assert_lt(us->freq[CB_WL_BETWEEN_NEAR_WEAK], 0.8, "resampled apart the tie breaks both ways");
    cr_assert(us->unstable);

    const cb_wl_cell *lo = cell(c, n, "lonely&missing");
    cr_assert(lo->refused);
    cr_assert(strstr(lo->why, "the run has no capability \"lonely\""), "%s", lo->why);
    const cb_wl_cell *j = cell(c, n, "j1&j2");
    cr_assert(j->refused);
    cr_assert(strstr(j->why, "judge_failed"), "%s", j->why);

    cb_wl_summary sum;
    cb_wl_summarize(c, n, NULL, &sum);
    cr_assert_eq(sum.n_cells, 9);
    cr_assert_eq(sum.counts[CB_WL_BELOW_BOTH], 1);
    cr_assert_eq(sum.counts[CB_WL_BETWEEN_NEAR_WEAK], 4);
    cr_assert_eq(sum.counts[CB_WL_MIDPOINT], 1);
    cr_assert_eq(sum.counts[CB_WL_BETWEEN_NEAR_STRONG], 1);
    cr_assert_eq(sum.counts[CB_WL_ABOVE_BOTH], 1);
    cr_assert_eq(sum.counts[CB_WL_NO_CLEAR_WEAK], 1);
    cr_assert_eq(sum.n_tally, 8);
    cr_assert_eq(sum.n_obey, 5);
    cr_assert_eq(sum.n_below_both, 1);
    cr_assert_float_eq(sum.frac_obey, 5.0 / 8, 1e-12);
    cr_assert_eq(sum.counts_delta[0][CB_WL_NO_CLEAR_WEAK], 0);
    size_t hist_total = 0;
    for (int i = 0; i < CB_WL_HIST_BINS; i++) hist_total += sum.hist[i];
    cr_assert_eq(hist_total, 8);
    cr_assert_eq(sum.hist[(int)floor((-0.5 + 6) / 0.25)], 1, "z = -0.5 in its bin");

    /* excluding the model (the judge's own family) empties the tally */
    for (size_t i = 0; i < n; i++) snprintf(c[i].model, sizeof c[i].model, "model-a");
    const char *ex[] = {"model-a", NULL};
    cb_wl_summarize(c, n, ex, &sum);
    cr_assert_eq(sum.n_cells, 0);

    /* reproducible: the same seed gives the same bootstrap frequencies */
    cb_wl_cell *c2 = NULL;
    size_t n2 = 0;
    cr_assert_eq(cb_wl_analyze(&rc, run, 3, CB_BOOTSTRAP_B, &c2, &n2, &err), 0);
    for (size_t i = 0; i < n; i++) cr_assert_eq(memcmp(c[i].freq, c2[i].freq, sizeof c[i].freq), 0);
    free(c2);
    free(c);
    cb_run_caps_clear(&rc);
    cb_item_score_set_clear(&set);
    cb_store_close(s);
}

Test(analysis, profile_weakest_probability) {
    cb_store *s = open_db();
    cb_err err = {0};
    int64_t run = tdb_run(s, "m.gguf", 7, NULL, NULL, "");
    tdb_items(s, run, "a", "a", NULL, 100, 90, 1000);
    tdb_items(s, run, "b", "b", NULL, 100, 20, 2000);
    tdb_items(s, run, "c", "c", NULL, 100, 60, 3000);
    cb_item_score_set set;
    cb_run_caps rc;
    load(s, run, 7, &set, &rc);
    cb_profile_row *rows = NULL;
    size_t n = 0, weak = 0;
    cr_assert_eq(cb_profile(&rc, CB_BOOTSTRAP_B, &rows, &n, &weak, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(rows[weak].cap->capability, "b");
    cr_assert_float_eq(rows[weak].cap->mean, 0.2, 1e-12);
    cr_assert_gt(rows[weak].p_weakest, 0.999, "b (0.2) is far below c (0.6)");
    /* Wilson interval of 20/100 */
    cr_assert_float_eq(rows[weak].cap->ci_low, 0.1333, 0.0005);
    cr_assert_float_eq(rows[weak].cap->ci_high, 0.2888, 0.0005);
    free(rows);
    cb_run_caps_clear(&rc);
    cb_item_score_set_clear(&set);

    /* a near tie: both have a real chance of being the weakest, the shares sum to 1 */
    int64_t r2 = tdb_run(s, "m.gguf", 7, NULL, NULL, "");
    tdb_items(s, r2, "d", "d", NULL, 100, 50, 4000);
    tdb_items(s, r2, "e", "e", NULL, 100, 51, 5000);
    load(s, r2, 7, &set, &rc);
    cr_assert_eq(cb_profile(&rc, CB_BOOTSTRAP_B, &rows, &n, &weak, &err), 0);
    cr_assert_str_eq(rows[weak].cap->capability, "d");
    cr_assert(rows[0].p_weakest > 0.3 && rows[0].p_weakest < 0.8, "p %.3f", rows[0].p_weakest);
    cr_assert_float_eq(rows[0].p_weakest + rows[1].p_weakest, 1.0, 1e-9);
    free(rows);
    cb_run_caps_clear(&rc);
    cb_item_score_set_clear(&set);
    cb_store_close(s);
}

Test(analysis, compare_mcnemar_known_p) {
    cb_store *s = open_db();
    cb_err err = {0};
    int64_t ra = tdb_run(s, "a.gguf", 11, NULL, NULL, ""), rb = tdb_run(s, "b.gguf", 11, NULL, NULL, "");
    /* A right on items 0..79; B loses 20 of them (0..19) and gains 2 (80, 81). B stores the
     * items under other ids and in reverse order: the join is on the content hash. */
    for (int i = 0; i < 100; i++) {
        char id[32], h[32];
        snprintf(id, sizeof id, "a/%d", i);
        snprintf(h, sizeof h, "h%d", i);
        tdb_item(s, ra, id, h, 100 + (uint64_t)i, "cap", NULL, i < 80 ? 1 : 0, 0);
    }
    for (int i = 99; i >= 0; i--) {
        char id[32], h[32];
        snprintf(id, sizeof id, "b/%d", i);
        snprintf(h, sizeof h, "h%d", i);
        tdb_item(s, rb, id, h, 100 + (uint64_t)i, "cap", NULL, (i >= 20 && i < 82) ? 1 : 0, 0);
    }
    tdb_item(s, rb, "b/extra", "h-only-in-b", 999, "cap", NULL, 1, 0);
    cb_item_score_set sa, sb;
    cb_run_caps ca, cb;
    load(s, ra, 11, &sa, &ca);
    load(s, rb, 11, &sb, &cb);
    cb_cmp_row *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cb_compare(&ca, &cb, 11, 0.02, CB_BOOTSTRAP_B, &rows, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(rows[0].n_pairs, 100, "the unshared item is left out");
    cr_assert_float_eq(rows[0].mean_a, 0.80, 1e-12);
    cr_assert_float_eq(rows[0].mean_b, 0.62, 1e-12);
    cr_assert_float_eq(rows[0].diff, -0.18, 1e-12);
    cr_assert(rows[0].binary);
    cr_assert_eq(rows[0].n_loss, 20);
    cr_assert_eq(rows[0].n_gain, 2);
    /* exact McNemar: 2 * P(X <= 2), X ~ Bin(22, 1/2) = 2 * (1 + 22 + 231) / 2^22 */
    cr_assert_float_eq(rows[0].p_mcnemar, 2.0 * 254 / 4194304.0, 1e-12);
    cr_assert_lt(rows[0].ci_high, 0);
    cr_assert_lt(rows[0].ci_low, -0.18);
    cr_assert(rows[0].regression);
    cr_assert(!rows[0].improvement);
    free(rows);

    /* a run against itself: no difference, p = 1, nothing flagged */
    cr_assert_eq(cb_compare(&ca, &ca, 11, 0.02, CB_BOOTSTRAP_B, &rows, &n, &err), 0);
    cr_assert_float_eq(rows[0].diff, 0, 1e-15);
    cr_assert_float_eq(rows[0].p_mcnemar, 1, 1e-15);
    cr_assert_float_eq(rows[0].ci_low, 0, 1e-15);
    cr_assert(!rows[0].regression);
    free(rows);
    cr_assert_float_eq(cb_mcnemar_exact(0, 0), 1, 0);
    cr_assert_float_eq(cb_mcnemar_exact(5, 0), 2.0 / 32, 1e-15);
    cb_run_caps_clear(&ca);
    cb_run_caps_clear(&cb);
    cb_item_score_set_clear(&sa);
    cb_item_score_set_clear(&sb);
    cb_store_close(s);
}

Test(analysis, alteration_follows_the_weak_link) {
    cb_store *s = open_db();
    cb_err err = {0};
    int64_t base = tdb_run(s, "m.gguf", 5, NULL, NULL, ""), alt = tdb_run(s, "m.gguf", 5, NULL, "{\"sp\":\"1\"}", "");
    /* baseline: X 0.6 (weak), Y 0.8, X&Y 0.65; altered: X rises to 0.8, Y falls to 0.6, X&Y rises to 0.75 */
    tdb_items(s, base, "x", "x", NULL, 400, 240, 100);
    tdb_items(s, base, "y", "y", NULL, 400, 320, 1000);
    tdb_items(s, base, "x&y", "x&y", NULL, 400, 260, 2000);
    tdb_items(s, alt, "x", "x", NULL, 400, 320, 100);
    tdb_items(s, alt, "y", "y", NULL, 400, 240, 1000);
    tdb_items(s, alt, "x&y", "x&y", NULL, 400, 300, 2000);
    cb_item_score_set sa, sb;
    cb_run_caps ca, cb;
    load(s, base, 5, &sa, &ca);
    load(s, alt, 5, &sb, &cb);
    cb_alt_row *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cb_alteration(&ca, &cb, &rows, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    cr_assert_float_eq(rows[0].d[0], 99 * 0.2, 1e-9);
    cr_assert_float_eq(rows[0].d[1], -99 * 0.2, 1e-9);
    cr_assert_float_eq(rows[0].d[2], 99 * 0.1, 1e-9);
    /* paired (the same items in both runs): 80 of 400 items changed -> sd 0.4, SE 99 * 0.4 / 20 */
    cr_assert_float_eq(rows[0].se[0], 99 * sqrt(64.0 / 399.0) / 20.0, 1e-9);
    cr_assert_eq(rows[0].dir[0], CB_ALT_RISE);
    cr_assert_eq(rows[0].dir[1], CB_ALT_FALL);
    cr_assert_eq(rows[0].dir[2], CB_ALT_RISE);
    cr_assert(rows[0].weak_is_x);
    cr_assert(rows[0].opposite && rows[0].tallied && rows[0].follows_weak);
    free(rows);
    cb_run_caps_clear(&ca);
    cb_run_caps_clear(&cb);
    cb_item_score_set_clear(&sa);
    cb_item_score_set_clear(&sb);
    cb_store_close(s);
}
