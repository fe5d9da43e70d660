/* tests/graders/test_kbits.c — the knowledge-bits formulas on the worked
 * examples of TASKS.md 5.4, 5.5 and 5.6, and the token-to-span mapping on a
 * hand-computed case. */
#include "graders/kbits.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#define REL(a, b, tol) cr_expect(fabs((double)(a) - (double)(b)) <= (tol) * fabs((double)(b)), "%s = %.6f, expected %.6f", #a, (double)(a), (double)(b))

Test(kbits, worked_example_5_4) {
    double N = 100000, P = 2.5e6;
    double log2_n0 = log2(400.0 * 400.0 * 1000.0);
    double log2_s0 = log2(2.0 * (12 * 28 * 200) * 200.0 * 300.0 * 100.0 * 263.0);
    REL(log2_n0, 27.2535, 1e-5);
    REL(log2_s0, 47.5916, 1e-5);
    double p1 = log(100000.0) + 0.5, p2 = 2.0;
    double name = cb_kbits_name_term(N, log2_n0, p1, 0);
    double value = cb_kbits_value_term(N, log2_s0, p2);
    REL(name, 992251, 1e-5);
    REL(value, 4470623, 1e-5);
    REL(name + value, 5462874, 1e-5);
    cr_expect(fabs((name + value) / P - 2.19) < 0.005);
    double bmax = cb_kbits_max(N, log2_n0, log2_s0);
    REL(bmax, 5823548, 1e-5);
    cr_expect(fabs(bmax / P - 2.33) < 0.005);
    /* a perfect model reaches B_max */
    REL(cb_kbits_name_term(N, log2_n0, log(N), 0) + cb_kbits_value_term(N, log2_s0, 0), bmax, 1e-12);
    /* the conservative form only lowers the name term */
    cr_expect_lt(cb_kbits_name_term(N, log2_n0, p1, 1), name);
}

Test(kbits, worked_example_5_5) {
    /* probability 0.5 on "Tulsa, OK": loss ln 2 nats = 1 bit; 7.64 - 1 = 6.64 */
    REL(cb_kbits_attr(1, log2(200.0), log(2.0)), log2(200.0) - 1.0, 1e-12);
    REL(cb_kbits_attr(1, log2(200.0), log(2.0)), 6.64, 1e-3);
    /* the pronoun at 0.5: gender (1 bit) contributes 0 */
    cr_expect(fabs(cb_kbits_attr(1, 1.0, log(2.0))) < 1e-12);
}

Test(kbits, bpc_example_5_6) {
    REL(cb_kbits_bpc(4200, 10000), 0.606, 1e-3);
    cr_expect(isnan(cb_kbits_bpc(1, 0)));
}

Test(kbits, span_losses) {
    /* "Lena Mae Ortiz grew up in Tulsa, OK." tokens (byte spans, SPM style
     * with a leading space per word): Lena| Mae| Ortiz| grew| up| in| Tul|sa|,| OK|. */
    const char *t = "Lena Mae Ortiz grew up in Tulsa, OK.";
    int64_t tok[] = {0, 4, 4, 8, 8, 14, 14, 19, 19, 22, 22, 25, 25, 29, 29, 31, 31, 32, 32, 35, 35, 36};
    double lp[] = {-1, -2, -3, -0.5, -0.25, -0.125, -0.4, -0.3, -0.2, -0.1, -9};
    cb_kspan spans[] = {{0, 14}, {26, 35}}; /* name, birth city */
    double loss[2];
    int n[2];
    cb_kbits_span_losses(t, (int64_t)strlen(t), tok, lp, 11, spans, 2, loss, n);
    cr_expect_eq(n[0], 3);
    REL(loss[0], 6.0, 1e-12);
    cr_expect_eq(n[1], 4); /* " Tul" touches the span by its non-space part; the final "." does not */
    REL(loss[1], 1.0, 1e-12);
    /* a token across two spans counts for the earlier one */
    int64_t tok2[] = {0, 30};
    double lp2[] = {-2};
    cb_kbits_span_losses(t, (int64_t)strlen(t), tok2, lp2, 1, spans, 2, loss, n);
    cr_expect_eq(n[0], 1);
    cr_expect_eq(n[1], 0);
}
