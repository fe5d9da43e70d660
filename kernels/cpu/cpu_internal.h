/* kernels/cpu/cpu_internal.h — shared pieces of the CPU kernel set that are not
 * part of kernels.h: float bit casts and the per-row-range matmul workers that
 * matmul.c dispatches to (portable C in matmul.c, AVX2 in matmul_avx2.c).
 */
#ifndef CB_CPU_INTERNAL_H
#define CB_CPU_INTERNAL_H

#include <stdint.h>
#include <string.h>

static inline uint32_t cb_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float cb_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* fp16 -> fp32 without branches, so the portable loops vectorize; exact for
 * every input (cb_fp16_to_fp32 is this function; its test is exhaustive).
 * normal: rebias the exponent (15 -> 127); inf/NaN: exponent all ones, payload
 * moved up; zero/subnormal: man * 2^-24, exact in fp32. */
static inline float cb_fp16_to_fp32_inline(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = h & 0x7fffu;
    uint32_t e = em >> 10;
    uint32_t normal = (em << 13) + (112u << 23);
    uint32_t infnan = (em << 13) | 0x7f800000u;
    uint32_t sub = cb_f32_bits((float)(int32_t)em * 0x1p-24f);
    uint32_t r = e == 31 ? infnan : normal;
    r = e == 0 ? sub : r;
    return cb_f32_from_bits(r | sign);
}

/* The same for the portable matmul's weight loads: normal numbers and zeros
 * (all real weights, in practice) take a short predictable path, the rest go
 * to cb_fp16_to_fp32. Measured ~1.6x faster than the branch-free form there. */
float cb_fp16_to_fp32(uint16_t h);
static inline float cb_fp16_to_fp32_fast(uint16_t h) {
    uint32_t e = (h >> 10) & 0x1fu;
    if (e - 1u < 30u)
        return cb_f32_from_bits(((uint32_t)(h & 0x8000u) << 16) |
                                (((uint32_t)(h & 0x7fffu) << 13) + (112u << 23)));
    if ((h & 0x7fffu) == 0) return cb_f32_from_bits((uint32_t)h << 16);
    return cb_fp16_to_fp32(h);
}

/* y (T, N) rows n0..n1-1 of every token: y[t, n] = dot(x[t, :], W[n, :]).
 * Each y[t, n] is one fixed-order dot product for a given (wtype, K): the
 * result does not depend on T, n0, n1 or the other tokens. ldy = N. */
void cb_matmul_rows_portable(uint32_t wtype, const void *W, const float *x, float *y,
                             int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1);
void cb_matmul_rows_avx2(uint32_t wtype, const void *W, const float *x, float *y,
                         int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1);

/* AVX2+FMA+F16C in hardware, ignoring CAPBENCH_NO_AVX2 (convert.c). */
int cb_cpu_hw_avx2(void);

#endif
