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
