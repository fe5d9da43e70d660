/* kernels/cpu/convert.c — number formats of the weights: fp16 and bf16 to and
 * from fp32, Q8_0 quantization, and the run-time CPU feature check that
 * picks the AVX2 kernels (row sizes, dequantization and the other block
 * formats are in quant.c).
 *
 * Everything here is portable C on the bit patterns (no F16C needed), so the
 * results are the same on every machine. The hot matmul paths do not call
 * these per element on AVX2; they convert in registers (matmul_avx2.c).
 */
#include "kernels/kernels.h"
#include "kernels/cpu/cpu_internal.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

float cb_fp16_to_fp32(uint16_t h) { return cb_fp16_to_fp32_inline(h); }

/* Shifts m right by s (1..31) rounding to nearest, ties to even. */
static uint32_t shift_rne(uint32_t m, uint32_t s) {
    uint32_t q = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return q;
}

uint16_t cb_fp32_to_fp16(float f) {
    uint32_t x = cb_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (halfway past 65504, ties to even go up) or inf */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = ax >> 23;
    if (e >= 113) {
        /* normal half: exponent e - 112 in 1..30; a rounding carry may bump it, which is right */
        uint32_t r = shift_rne(ax - (112u << 23), 13);
        return (uint16_t)(sign | r);
    }
    /* subnormal half (or zero): m = RNE(value / 2^-24); value = mant * 2^(e-150) */
    if (e == 0) return sign; /* fp32 zero or subnormal: far below 2^-25 */
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    uint32_t s = 126u - e; /* >= 14 */
    if (s > 24) return sign;
    /* m may round up to 0x400, which is the encoding of 2^-14: still right */
    return (uint16_t)(sign | shift_rne(mant, s));
}

float cb_bf16_to_fp32(uint16_t h) { return cb_f32_from_bits((uint32_t)h << 16); }

uint16_t cb_fp32_to_bf16(float f) {
    uint32_t x = cb_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

void cb_quantize_q8_0(const float *x, cb_block_q8_0 *out, int64_t n) {
    assert(n % CB_QK8_0 == 0);
    for (int64_t b = 0; b < n / CB_QK8_0; b++) {
        const float *xb = x + b * CB_QK8_0;
        float amax = 0.0f;
        for (int i = 0; i < CB_QK8_0; i++) {
            float a = fabsf(xb[i]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        out[b].d = cb_fp32_to_fp16(d);
        for (int i = 0; i < CB_QK8_0; i++) {
            float q = d > 0.0f ? roundf(xb[i] / d) : 0.0f;
            if (q > 127.0f) q = 127.0f;
            if (q < -127.0f) q = -127.0f;
            out[b].qs[i] = (int8_t)q;
        }
    }
}

static int probe_hw_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29))) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* AVX2 + FMA + F16C present in hardware (ignores CAPBENCH_NO_AVX2). F16C is
 * read from CPUID leaf 1 (ECX bit 29) because clang's __builtin_cpu_supports
 * does not know "f16c". CPUID is slow (it traps under some hypervisors) and
 * every matmul asks, so the answer — a fact of the machine, not state — is
 * probed once; a race only probes twice and stores the same value. */
int cb_cpu_hw_avx2(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = probe_hw_avx2();
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

int cb_cpu_has_avx2(void) {
    const char *no = getenv("CAPBENCH_NO_AVX2");
    if (no && no[0] && strcmp(no, "0") != 0) return 0;
    return cb_cpu_hw_avx2();
}

static int probe_hw_avx512(void) {
#if defined(__x86_64__)
    /* __builtin_cpu_supports also checks that the OS saves the zmm state */
    return cb_cpu_hw_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

/* Probed once, like cb_cpu_hw_avx2. */
int cb_cpu_hw_avx512(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = probe_hw_avx512();
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

int cb_cpu_has_avx512(void) {
    const char *no = getenv("CAPBENCH_NO_AVX512");
    if (no && no[0] && strcmp(no, "0") != 0) return 0;
    return cb_cpu_has_avx2() && cb_cpu_hw_avx512();
}
