/* kernels/cpu/cpu_internal.h — shared pieces of the CPU kernel set that are not
 * part of kernels.h: float bit casts and the per-row-range matmul workers that
 * matmul.c dispatches to (portable C in matmul.c, AVX2 in matmul_avx2.c).
 */
#ifndef CB_CPU_INTERNAL_H
#define CB_CPU_INTERNAL_H

#include <math.h>
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
/* The same outputs as cb_matmul_rows_avx2, bit for bit, two rows per 512-bit
 * register (matmul_avx512.c), for F32/F16/BF16/Q8_0. xp: x repacked by
 * cb_avx512_pack_x (cb_avx512_packed_floats(T, K) floats, 64-byte aligned);
 * NULL runs the AVX2 kernel (what the dispatcher does below CB_AVX512_MIN_T
 * tokens: decode is memory-bound and AVX2 streams four rows there). */
#define CB_AVX512_MIN_T 4
size_t cb_avx512_packed_floats(int64_t T, int64_t K);
void cb_avx512_pack_x(const float *x, int64_t T, int64_t K, float *xp);
void cb_matmul_rows_avx512(uint32_t wtype, const void *W, const float *x, const float *xp, float *y,
                           int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1);

/* Quantized weights (cb_act_type(wtype) != F32): xq holds T rows of K
 * activations already quantized to cb_act_type(wtype), xrb bytes apart.
 * y[t, n] = the blocks of row n taken in order, s = 0, then per block
 * s = cb_qacc_*(s, ...) below, where the block's integer dot products
 * (isum, imin) are exact, so any summation order inside a block gives the
 * same integers. The float steps are these shared inline functions in both
 * kernel sets (sources built with -ffp-contract=off), which makes the
 * portable and AVX2 results bit-identical, and batch invariant. */
void cb_matmul_rows_q_portable(uint32_t wtype, const void *W, const void *xq, size_t xrb, float *y,
                               int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1);
void cb_matmul_rows_q_avx2(uint32_t wtype, const void *W, const void *xq, size_t xrb, float *y,
                           int64_t T, int64_t K, int64_t N, int64_t n0, int64_t n1);

/* Q5_0 x Q8_0 (and Q6_K x Q8_K): s + (dw*dx)*isum */
static inline float cb_qacc_d(float s, float dw, float dx, int32_t isum) {
    float dd = dw * dx;
    float p = dd * (float)isum;
    return s + p;
}
/* Q4_0 x Q8_0: fma(isum, dw*dx, s), one rounding for product and add. This
 * is the step of ggml's repacked Q4_0 kernels (q4_0_8x8 on x86 AVX2, which
 * llama.cpp uses for every Q4_0 matrix whose row count is a multiple of 8),
 * so the Q4_0 reference model lands on the same bits. fmaf, not a*b+c: the
 * sources are built with -ffp-contract=off and the step must be fused in
 * both kernel sets (the AVX2 one compiles it to vfmadd, the portable one to
 * libm's correctly rounded fmaf; same result). */
static inline float cb_qacc_d_fma(float s, float dw, float dx, int32_t isum) {
    return fmaf((float)isum, dw * dx, s);
}
/* Q4_1/Q5_1 x Q8_1: s + ((dw*dx)*isum + mw*sx) */
static inline float cb_qacc_dm(float s, float dw, float dx, int32_t isum, float mw, float sx) {
    float dd = dw * dx;
    float p = dd * (float)isum;
    float q = mw * sx;
    float b = p + q;
    return s + b;
}
/* K-quants x Q8_K: s + ((dx*dw)*isum - (dx*dmin)*imin) (Q6_K: imin = 0, dmin = 0) */
static inline float cb_qacc_k(float s, float dx, float dw, float dmin, int32_t isum, int32_t imin) {
    float dd = dx * dw, dm = dx * dmin;
    float p = dd * (float)isum;
    float q = dm * (float)imin;
    float b = p - q;
    return s + b;
}

/* AVX2+FMA+F16C in hardware, ignoring CAPBENCH_NO_AVX2 (convert.c). */
int cb_cpu_hw_avx2(void);
/* That and AVX-512 F/VL/DQ/BW in hardware, ignoring the env switches. */
int cb_cpu_hw_avx512(void);

#endif
