/* tests/engine/test_sampler.c — engine/sampler.c: greedy ties, top-k and top-p
 * cut-offs, seed determinism, the temperature distribution and the stop-string
 * search. */
#include "engine/sampler.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static cb_sampler_scratch *scratch(int64_t n) {
    cb_sampler_scratch *s = NULL;
    cb_err e;
    cr_assert_eq(cb_sampler_scratch_new(n, &s, &e), 0);
    return s;
}

Test(sampler, greedy_lowest_id_on_ties) {
    float l[10] = {0, 1, 2, 5, 1, 0, 2, 5, 3, 4};
    cb_sampler_scratch *s = scratch(10);
    cb_rng r;
    cb_rng_seed(&r, 1);
    cb_sampler_params p = {.temperature = 0.0f};
    cr_expect_eq(cb_sampler_pick(&p, &r, l, 10, s), 3);
    p.temperature = 1.0f; /* top_k = 1 is greedy too */
    p.top_k = 1;
    for (int i = 0; i < 20; i++) cr_expect_eq(cb_sampler_pick(&p, &r, l, 10, s), 3);
    cb_sampler_scratch_free(s);
}

Test(sampler, top_k_cutoff_keeps_lower_id_on_ties) {
    /* ids 2, 5 and 7 tie for second place; top_k = 2 keeps 9 and 2 only */
    float l[10] = {0, 0, 4, 0, 0, 4, 0, 4, 0, 5};
    cb_sampler_scratch *s = scratch(10);
    cb_sampler_params p = {.temperature = 1.0f, .top_k = 2, .top_p = 1.0f};
    int seen[10] = {0};
    for (uint64_t seed = 0; seed < 400; seed++) {
        cb_rng r;
        cb_rng_seed(&r, seed);
        seen[cb_sampler_pick(&p, &r, l, 10, s)]++;
    }
    cr_expect_gt(seen[9], 0);
    cr_expect_gt(seen[2], 0);
    cr_expect_eq(seen[9] + seen[2], 400);
    cb_sampler_scratch_free(s);
}

Test(sampler, top_p_cutoff) {
    /* probabilities 0.5, 0.3, 0.15, 0.05 (temperature 1) */
    float l[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    cb_sampler_scratch *s = scratch(4);
    cb_sampler_params p = {.temperature = 1.0f, .top_p = 0.7f};
    int seen[4] = {0};
    for (uint64_t seed = 0; seed < 2000; seed++) {
        cb_rng r;
        cb_rng_seed(&r, seed);
        seen[cb_sampler_pick(&p, &r, l, 4, s)]++;
    }
    /* nucleus {0, 1} (0.5 + 0.3 >= 0.7), renormalized 5/8 and 3/8 */
    cr_expect_eq(seen[2] + seen[3], 0);
    cr_expect(fabs(seen[0] / 2000.0 - 0.625) < 0.05, "p(0) = %f", seen[0] / 2000.0);
    p.top_p = 0.4f; /* the first token alone reaches 0.4 */
    for (uint64_t seed = 0; seed < 100; seed++) {
        cb_rng r;
        cb_rng_seed(&r, seed);
        cr_expect_eq(cb_sampler_pick(&p, &r, l, 4, s), 0);
    }
    p.top_p = 0.9f; /* with top_k 2 the nucleus cannot grow past 2 */
    p.top_k = 2;
    for (uint64_t seed = 0; seed < 200; seed++) {
        cb_rng r;
        cb_rng_seed(&r, seed);
        cr_expect_lt(cb_sampler_pick(&p, &r, l, 4, s), 2);
    }
    cb_sampler_scratch_free(s);
}

Test(sampler, temperature_distribution) {
    float l[2] = {0.0f, logf(3.0f)}; /* p = 0.25, 0.75 at T = 1 */
    cb_sampler_scratch *s = scratch(2);
    cb_sampler_params p = {.temperature = 1.0f, .top_p = 1.0f};
    cb_rng r;
    cb_rng_seed(&r, 123);
    int ones = 0;
    for (int i = 0; i < 4000; i++) ones += cb_sampler_pick(&p, &r, l, 2, s);
    cr_expect(fabs(ones / 4000.0 - 0.75) < 0.03, "p(1) = %f", ones / 4000.0);
    /* a high temperature flattens it */
    p.temperature = 100.0f;
    ones = 0;
    for (int i = 0; i < 4000; i++) ones += cb_sampler_pick(&p, &r, l, 2, s);
    cr_expect(fabs(ones / 4000.0 - 0.5) < 0.04, "p(1) = %f", ones / 4000.0);
    cb_sampler_scratch_free(s);
}

Test(sampler, seed_determinism) {
    enum { V = 300 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = sinf((float)i * 0.37f) * 3.0f;
    cb_sampler_scratch *s = scratch(V);
    cb_sampler_params ps[3] = {{.temperature = 0.9f, .top_p = 1.0f},
                               {.temperature = 0.9f, .top_k = 40, .top_p = 1.0f},
                               {.temperature = 0.7f, .top_k = 0, .top_p = 0.9f}};
    for (int k = 0; k < 3; k++) {
        int a[64], b[64], c[64];
        cb_rng ra, rb, rc;
        cb_rng_seed(&ra, 42);
        cb_rng_seed(&rb, 42);
        cb_rng_seed(&rc, 43);
        int differ = 0;
        for (int i = 0; i < 64; i++) {
            a[i] = cb_sampler_pick(&ps[k], &ra, l, V, s);
            b[i] = cb_sampler_pick(&ps[k], &rb, l, V, s);
            c[i] = cb_sampler_pick(&ps[k], &rc, l, V, s);
            cr_expect_eq(a[i], b[i]);
            differ += a[i] != c[i];
        }
        cr_expect_gt(differ, 0, "seeds 42 and 43 gave the same 64 tokens (params %d)", k);
    }
    cb_sampler_scratch_free(s);
}

Test(sampler, stop_find) {
    const char *stops[] = {"\n\n", "END", ""};
    const char *t = "abc END x\n\ny";
    cr_expect_eq(cb_stop_find(t, strlen(t), 0, stops, 3), 4);
    cr_expect_eq(cb_stop_find(t, 5, 0, stops, 3), -1);          /* "E" alone */
    cr_expect_eq(cb_stop_find("abcEN", 5, 4, stops, 2), -1);
    cr_expect_eq(cb_stop_find("abcEND", 6, 5, stops, 2), 3);    /* completed by the last byte */
    cr_expect_eq(cb_stop_find("END and END", 11, 11, stops + 1, 1), -1); /* no new bytes: no new match */
    cr_expect_eq(cb_stop_find("END and END", 11, 10, stops + 1, 1), 8);  /* earlier match is not reported again */
    cr_expect_eq(cb_stop_find("x\n\n", 3, 0, stops, 3), 1);
    cr_expect_eq(cb_stop_find("anything", 8, 0, stops + 2, 1), -1); /* empty stop ignored */
}
