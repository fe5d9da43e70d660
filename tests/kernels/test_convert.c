/* tests/kernels/test_convert.c — fp16/bf16 conversions (exhaustive round
 * trips, rounding ties, inf/NaN/subnormals), Q8_0 quantization error bounds,
 * row sizes and row dequantization. */
#include "kernels/kernels.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

Test(convert, fp16_exhaustive_round_trip) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cb_fp16_to_fp32((uint16_t)h);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            cr_assert(isnan(f), "h=%04x", h);
            uint16_t back = cb_fp32_to_fp16(f);
            cr_assert((back & 0x7c00) == 0x7c00 && (back & 0x3ff), "NaN %04x -> %04x", h, back);
            continue;
        }
        cr_assert_eq(cb_fp32_to_fp16(f), h, "h=%04x f=%a back=%04x", h, f, cb_fp32_to_fp16(f));
    }
}

Test(convert, fp16_known_values) {
    cr_assert_eq(cb_fp32_to_fp16(1.0f), 0x3c00);
    cr_assert_eq(cb_fp32_to_fp16(-2.0f), 0xc000);
    cr_assert_eq(cb_fp32_to_fp16(0.0f), 0x0000);
    cr_assert_eq(cb_fp32_to_fp16(-0.0f), 0x8000);
    cr_assert_eq(cb_fp32_to_fp16(65504.0f), 0x7bff);
    cr_assert_eq(cb_fp32_to_fp16(65519.99f), 0x7bff);
    cr_assert_eq(cb_fp32_to_fp16(65520.0f), 0x7c00); /* tie rounds to even: infinity */
    cr_assert_eq(cb_fp32_to_fp16(1e10f), 0x7c00);
    cr_assert_eq(cb_fp32_to_fp16(INFINITY), 0x7c00);
    cr_assert_eq(cb_fp32_to_fp16(-INFINITY), 0xfc00);
    cr_assert(isnan(cb_fp16_to_fp32(cb_fp32_to_fp16(NAN))));
    cr_assert(isinf(cb_fp16_to_fp32(0x7c00)) && cb_fp16_to_fp32(0x7c00) > 0);
    cr_assert_eq(cb_fp16_to_fp32(0x0001), 0x1p-24f);
    cr_assert_eq(cb_fp16_to_fp32(0x8001), -0x1p-24f);
    cr_assert_eq(cb_fp16_to_fp32(0x03ff), 1023 * 0x1p-24f);
    cr_assert_eq(cb_fp16_to_fp32(0x0400), 0x1p-14f);
    /* subnormal rounding */
    cr_assert_eq(cb_fp32_to_fp16(0x1p-25f), 0x0000);          /* tie -> even 0 */
    cr_assert_eq(cb_fp32_to_fp16(0x1.000002p-25f), 0x0001);   /* just above the tie */
    cr_assert_eq(cb_fp32_to_fp16(0x1.8p-24f), 0x0002);        /* 1.5 quanta: tie -> 2 */
    cr_assert_eq(cb_fp32_to_fp16(0x1.4p-23f), 0x0002);        /* 2.5 quanta: tie -> 2 */
    cr_assert_eq(cb_fp32_to_fp16(1023.5f * 0x1p-24f), 0x0400); /* rounds up into normals */
    cr_assert_eq(cb_fp32_to_fp16(1e-30f), 0x0000);
    cr_assert_eq(cb_fp32_to_fp16(from_bits(0x00000001)), 0x0000); /* fp32 subnormal */
    /* normal ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> even (1) */
    cr_assert_eq(cb_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);
    cr_assert_eq(cb_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3c02);
}

/* Nearest-even check on random fp32 values in the fp16 range. */
Test(convert, fp16_rounding_is_nearest_even) {
    uint32_t s = 12345;
    for (int i = 0; i < 200000; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t u = (s & 0x807fffffu) | ((100u + (s >> 8) % 43u) << 23); /* 2^-27 .. 2^15 */
        float f = from_bits(u);
        uint16_t h = cb_fp32_to_fp16(f);
        if (fabsf(f) >= 65520.0f) { /* past the halfway point above 65504 */
            cr_assert_eq(h & 0x7fff, 0x7c00, "f=%a h=%04x", f, h);
            continue;
        }
        double v = cb_fp16_to_fp32(h);
        double e = fabs((double)f - v);
        uint16_t mag = h & 0x7fff;
        if (mag < 0x7bff) {
            double up = cb_fp16_to_fp32((uint16_t)(h + 1)); /* same sign, next magnitude */
            cr_assert(e <= fabs((double)f - up), "f=%a h=%04x", f, h);
        }
        if (mag > 0) {
            double dn = cb_fp16_to_fp32((uint16_t)(h - 1));
            double ed = fabs((double)f - dn);
            cr_assert(e <= ed, "f=%a h=%04x", f, h);
            if (e == ed) cr_assert_eq(h & 1, 0, "tie not to even: f=%a h=%04x", f, h);
        }
    }
}

Test(convert, bf16) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cb_bf16_to_fp32((uint16_t)h);
        cr_assert_eq(bits(f), h << 16);
        if (isnan(f)) cr_assert(isnan(cb_bf16_to_fp32(cb_fp32_to_bf16(f))));
        else cr_assert_eq(cb_fp32_to_bf16(f), h);
    }
    cr_assert_eq(cb_fp32_to_bf16(from_bits(0x3f808000)), 0x3f80); /* tie -> even */
    cr_assert_eq(cb_fp32_to_bf16(from_bits(0x3f818000)), 0x3f82); /* tie -> even (up) */
    cr_assert_eq(cb_fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);
    cr_assert_eq(cb_fp32_to_bf16(from_bits(0x7f7fffff)), 0x7f80); /* FLT_MAX rounds to inf */
    cr_assert_eq(cb_fp32_to_bf16(-INFINITY), 0xff80);
    cr_assert(isnan(cb_bf16_to_fp32(cb_fp32_to_bf16(from_bits(0x7f800001))))); /* low-payload NaN */
    cr_assert_eq(cb_fp32_to_bf16(from_bits(0x00010000)), 0x0001); /* subnormal kept */
}

Test(convert, row_bytes) {
    cr_assert_eq(cb_row_bytes(CB_KTYPE_F32, 10), 40);
    cr_assert_eq(cb_row_bytes(CB_KTYPE_F16, 10), 20);
    cr_assert_eq(cb_row_bytes(CB_KTYPE_BF16, 3), 6);
    cr_assert_eq(cb_row_bytes(CB_KTYPE_Q8_0, 64), 68);
    cr_assert_eq(sizeof(cb_block_q8_0), 34);
    cr_assert_eq(cb_row_bytes(CB_KTYPE_Q8_0, 33), 0);
    cr_assert_eq(cb_row_bytes(CB_KTYPE_Q4_0, 32), 18); /* the other block types: test_quant.c */
    cr_assert_eq(cb_row_bytes(10, 256), 0);            /* Q2_K: unsupported */
}

Test(convert, q8_0_error_bounds) {
    enum { n = 32 * 64 };
    float x[n], y[n];
    cb_block_q8_0 q[n / 32];
    uint32_t s = 7;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        float scale = (i / 32) % 3 == 0 ? 100.0f : ((i / 32) % 3 == 1 ? 1e-3f : 1.0f);
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * scale;
    }
    for (int i = 64; i < 96; i++) x[i] = 0.0f; /* an all-zero block */
    cb_quantize_q8_0(x, q, n);
    cb_dequantize_row(CB_KTYPE_Q8_0, q, y, n);
    for (int b = 0; b < n / 32; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[b * 32 + i]));
        float d = amax / 127.0f;
        cr_assert_eq(q[b].d, cb_fp32_to_fp16(d));
        int saw127 = amax == 0;
        for (int i = 0; i < 32; i++) {
            int qi = q[b].qs[i];
            cr_assert(qi >= -127 && qi <= 127);
            if (fabsf(x[b * 32 + i]) == amax && amax > 0) saw127 |= (qi == 127 || qi == -127);
            /* half a step from rounding q, plus the fp16 rounding of d (relative
             * 2^-11, or absolute 2^-25 where d is an fp16 subnormal) times |q| <= 127 */
            double dd = fmax(d * 0x1p-11, 0x1p-25);
            double bound = d * 0.5 + 127.0 * dd + 1e-12;
            cr_assert(fabs((double)y[b * 32 + i] - x[b * 32 + i]) <= bound,
                      "block %d elem %d x=%g y=%g", b, i, x[b * 32 + i], y[b * 32 + i]);
            cr_assert_eq(y[b * 32 + i], cb_fp16_to_fp32(q[b].d) * (float)qi);
        }
        cr_assert(saw127, "block %d: max element not at +-127", b);
    }
    for (int i = 64; i < 96; i++) cr_assert_eq(y[i], 0.0f);
}

Test(convert, dequantize_row_types) {
    float src[40];
    for (int i = 0; i < 40; i++) src[i] = (float)i * 0.37f - 7.0f;
    uint16_t h[40], b[40];
    for (int i = 0; i < 40; i++) {
        h[i] = cb_fp32_to_fp16(src[i]);
        b[i] = cb_fp32_to_bf16(src[i]);
    }
    float out[40];
    cb_dequantize_row(CB_KTYPE_F32, src, out, 40);
    cr_assert(memcmp(out, src, sizeof out) == 0);
    cb_dequantize_row(CB_KTYPE_F16, h, out, 40);
    for (int i = 0; i < 40; i++) cr_assert_eq(out[i], cb_fp16_to_fp32(h[i]));
    cb_dequantize_row(CB_KTYPE_BF16, b, out, 40);
    for (int i = 0; i < 40; i++) cr_assert_eq(out[i], cb_bf16_to_fp32(b[i]));
}
