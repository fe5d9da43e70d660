/* kernels/cpu/avx2_loads.h — the 8-lane pieces the AVX2 and AVX-512 matmul
 * kernels share, so both compute the same operation sequence from one
 * source: the fixed horizontal sum and the float-like weight loads. Include
 * only from files compiled with -mavx2 -mfma -mf16c (or a superset). */
#ifndef CB_KERNELS_CPU_AVX2_LOADS_H
#define CB_KERNELS_CPU_AVX2_LOADS_H

#include "kernels/kernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    /* s = (a0+a4, a1+a5, a2+a6, a3+a7) */
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    /* s0 = (a0+a4)+(a2+a6), s1 = (a1+a5)+(a3+a7) */
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* 8 weights of a float-like row starting at element k (k % 8 == 0, k + 8 <= K). */
static ALWAYS_INLINE __m256 load_w8(uint32_t wt, const void *row, int64_t k) {
    if (wt == CB_KTYPE_F32) return _mm256_loadu_ps((const float *)row + k);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
    if (wt == CB_KTYPE_F16) return _mm256_cvtph_ps(h);
    /* BF16 */
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* The last r (1..7) weights of a float-like row from element k, zero padded. */
static ALWAYS_INLINE __m256 load_w_tail(uint32_t wt, const void *row, int64_t k, int r) {
    if (wt == CB_KTYPE_F32) {
        float buf[8] = {0};
        memcpy(buf, (const float *)row + k, (size_t)r * sizeof(float));
        return _mm256_loadu_ps(buf);
    }
    uint16_t buf[8] = {0};
    memcpy(buf, (const uint16_t *)row + k, (size_t)r * sizeof(uint16_t));
    return load_w8(wt, buf, 0);
}

#endif
