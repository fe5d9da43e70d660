/* tests/kernels/test_ops.c — RMS norm, rotary embedding (NORM and NEOX
 * pairings, partial rotation), softmax, log-softmax, SwiGLU and argmax against
 * their naive twins and hand-computed values. */
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x243f6a8885a308d3ull;
static float frand(void) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (float)((rs >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}

static void assert_close(const float *a, const float *b, int64_t n, double rel, double abs_,
                         const char *what) {
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)a[i] - b[i]) <= abs_ + rel * fabs((double)b[i]),
                  "%s[%lld]: %.9g vs ref %.9g", what, (long long)i, a[i], b[i]);
}

Test(ops, rmsnorm) {
    static const int64_t Cs[] = {1, 7, 64, 2048, 2051};
    for (size_t c = 0; c < sizeof Cs / sizeof *Cs; c++) {
        int64_t C = Cs[c];
        float *x = malloc(C * sizeof *x), *w = malloc(C * sizeof *w);
        float *o = malloc(C * sizeof *o), *r = malloc(C * sizeof *r);
        for (int64_t i = 0; i < C; i++) {
            x[i] = frand() * 3;
            w[i] = frand();
        }
        cb_rmsnorm(o, x, w, C, 1e-5f);
        cb_rmsnorm_ref(r, x, w, C, 1e-5f);
        assert_close(o, r, C, 1e-5, 1e-7, "rmsnorm");
        cb_rmsnorm(x, x, w, C, 1e-5f); /* in place */
        cr_assert(memcmp(x, o, C * sizeof *x) == 0);
        free(r), free(o), free(w), free(x);
    }
    /* hand value: x = (3, 4), w = 1: rms = sqrt(12.5) */
    float x[2] = {3, 4}, w[2] = {1, 1}, o[2];
    cb_rmsnorm(o, x, w, 2, 0.0f);
    cr_assert_float_eq(o[0], 3 / sqrtf(12.5f), 1e-6);
    cr_assert_float_eq(o[1], 4 / sqrtf(12.5f), 1e-6);
}

Test(ops, rope_matches_reference) {
    const int64_t H = 5, D = 64;
    for (int neox = 0; neox <= 1; neox++)
        for (int64_t n_rot = 64; n_rot >= 16; n_rot -= 24) { /* 64, 40, 16 */
            float inv[32];
            for (int64_t i = 0; i < n_rot / 2; i++) inv[i] = powf(10000.0f, -2.0f * i / n_rot);
            float x[5 * 64], r[5 * 64], orig[5 * 64];
            for (int i = 0; i < H * D; i++) orig[i] = x[i] = r[i] = frand();
            int64_t pos = 1234;
            cb_rope(x, H, D, n_rot, pos, inv, neox);
            cb_rope_ref(r, H, D, n_rot, pos, inv, neox);
            assert_close(x, r, H * D, 1e-5, 1e-6, "rope");
            /* dims past n_rot are untouched; rotated pairs keep their length */
            for (int64_t h = 0; h < H; h++) {
                for (int64_t d = n_rot; d < D; d++) cr_assert_eq(x[h * D + d], orig[h * D + d]);
                for (int64_t i = 0; i < n_rot / 2; i++) {
                    int64_t a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
                    double l0 = hypot(orig[h * D + a], orig[h * D + b]);
                    double l1 = hypot(x[h * D + a], x[h * D + b]);
                    cr_assert(fabs(l0 - l1) < 1e-5);
                }
            }
        }
}

Test(ops, rope_hand_values) {
    /* one head, D = 4, inv_freq = (1, 0.5), pos = 1: NORM rotates (x0,x1) by 1 rad, (x2,x3) by 0.5 */
    float inv[2] = {1.0f, 0.5f};
    float x[4] = {1, 0, 0, 1};
    cb_rope(x, 1, 4, 4, 1, inv, 0);
    cr_assert_float_eq(x[0], cosf(1), 1e-6);
    cr_assert_float_eq(x[1], sinf(1), 1e-6);
    cr_assert_float_eq(x[2], -sinf(0.5f), 1e-6);
    cr_assert_float_eq(x[3], cosf(0.5f), 1e-6);
    /* NEOX pairs (0,2) and (1,3) */
    float y[4] = {1, 0, 0, 1};
    cb_rope(y, 1, 4, 4, 1, inv, 1);
    cr_assert_float_eq(y[0], cosf(1), 1e-6);
    cr_assert_float_eq(y[2], sinf(1), 1e-6);
    cr_assert_float_eq(y[1], -sinf(0.5f), 1e-6);
    cr_assert_float_eq(y[3], cosf(0.5f), 1e-6);
    /* pos 0 is the identity */
    float z[4] = {0.25f, -3, 7, 1};
    cb_rope(z, 1, 4, 4, 0, inv, 0);
    cr_assert(z[0] == 0.25f && z[1] == -3 && z[2] == 7 && z[3] == 1);
}

Test(ops, softmax) {
    static const int64_t ns[] = {1, 3, 8, 100, 32000};
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        int64_t n = ns[c];
        float *x = malloc(n * sizeof *x), *r = malloc(n * sizeof *r);
        for (int64_t i = 0; i < n; i++) x[i] = r[i] = frand() * 20 + 500; /* large: needs max shift */
        cb_softmax(x, n);
        cb_softmax_ref(r, n);
        assert_close(x, r, n, 2e-5, 1e-9, "softmax");
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += x[i];
        cr_assert(fabs(s - 1) < 1e-4);
        free(r), free(x);
    }
    float x[3] = {0, logf(2), logf(5)};
    cb_softmax(x, 3);
    cr_assert_float_eq(x[0], 0.125f, 1e-6);
    cr_assert_float_eq(x[1], 0.25f, 1e-6);
    cr_assert_float_eq(x[2], 0.625f, 1e-6);
    float inf[3] = {-INFINITY, 1, -INFINITY}; /* masked entries */
    cb_softmax(inf, 3);
    cr_assert(inf[0] == 0 && inf[1] == 1 && inf[2] == 0);
}

Test(ops, log_softmax_at) {
    float x[3] = {0, logf(2), logf(5)};
    cr_assert(fabs(cb_log_softmax_at(x, 3, 2) - log(0.625)) < 1e-7);
    cr_assert(fabs(cb_log_softmax_at(x, 3, 0) - log(0.125)) < 1e-7);
    /* large logits: no overflow, difference of logits kept in double */
    float y[2] = {1000.0f, 990.0f};
    cr_assert(fabs(cb_log_softmax_at(y, 2, 1) - (-10.0 - log1p(exp(-10.0)))) < 1e-9);
}

Test(ops, swiglu) {
    enum { n = 1001 };
    float g[n], u[n], r[n];
    for (int i = 0; i < n; i++) {
        g[i] = r[i] = frand() * 12;
        u[i] = frand();
    }
    cb_swiglu(g, u, n);
    cb_swiglu_ref(r, u, n);
    assert_close(g, r, n, 1e-5, 1e-7, "swiglu");
    float a[3] = {0, 100, -100}, b[3] = {1, 2, 1};
    cb_swiglu(a, b, 3);
    cr_assert(a[0] == 0 && fabsf(a[1] - 200) < 1e-4 && fabsf(a[2]) < 1e-30);
}

Test(ops, geglu_and_softcap) {
    enum { n = 1001 };
    float g[n], u[n], r[n];
    for (int i = 0; i < n; i++) {
        g[i] = r[i] = frand() * 12;
        u[i] = frand();
    }
    cb_geglu(g, u, n);
    cb_geglu_ref(r, u, n);
    assert_close(g, r, n, 1e-5, 1e-7, "geglu");
    /* gelu(0) = 0, gelu(x) -> x for large x, -> 0 for very negative x; gelu(1) = 0.841192 (tanh form) */
    float a[4] = {0, 20, -20, 1}, b[4] = {1, 1, 1, 1};
    cb_geglu(a, b, 4);
    cr_assert(a[0] == 0 && fabsf(a[1] - 20) < 1e-5 && fabsf(a[2]) < 1e-6 && fabsf(a[3] - 0.841192f) < 1e-5,
              "%g %g %g %g", a[0], a[1], a[2], a[3]);

    float x[n], y[n];
    for (int i = 0; i < n; i++) x[i] = y[i] = frand() * 200;
    cb_softcap(x, n, 30.0f);
    cb_softcap_ref(y, n, 30.0f);
    assert_close(x, y, n, 1e-5, 1e-6, "softcap");
    for (int i = 0; i < n; i++) cr_assert(fabsf(x[i]) <= 30.0f);
    float z[2] = {0.001f, -1e6f};
    cb_softcap(z, 2, 0.5f);
    cr_assert(fabsf(z[0] - 0.001f) < 1e-8 && z[1] == -0.5f, "%g %g", z[0], z[1]);
}

Test(ops, argmax) {
    float x[6] = {1, 5, 2, 5, -1, 4};
    cr_assert_eq(cb_argmax(x, 6), 1); /* lowest index on ties */
    cr_assert_eq(cb_argmax(x, 1), 0);
    float y[4] = {-INFINITY, -3, -3, -7};
    cr_assert_eq(cb_argmax(y, 4), 1);
}
