/* common/rng.c — splitmix64, fnv1a64, xoshiro256** and the bounded draws built on
 * them (see rng.h). Pure integer arithmetic; no global state. */
#include "common/rng.h"

#include <string.h>

uint64_t cb_splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t cb_splitmix64(uint64_t x) { return cb_splitmix64_next(&x); }

uint64_t cb_fnv1a64(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t cb_fnv1a64_str(const char *s) { return cb_fnv1a64(s, strlen(s)); }

void cb_rng_seed(cb_rng *r, uint64_t seed) {
    uint64_t st = seed;
    for (int i = 0; i < 4; i++) r->s[i] = cb_splitmix64_next(&st);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cb_rng_next(cb_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cb_rng_uniform(cb_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* (2^64 - n) mod n computed in 64-bit arithmetic: (-n) mod n. */
    uint64_t threshold = (0 - n) % n;
    uint64_t x;
    do {
        x = cb_rng_next(r);
    } while (x < threshold);
    return x % n;
}

int64_t cb_rng_range(cb_rng *r, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + (int64_t)cb_rng_uniform(r, (uint64_t)(hi - lo) + 1);
}

double cb_rng_float(cb_rng *r) { return (double)(cb_rng_next(r) >> 11) * 0x1.0p-53; }

void cb_rng_shuffle(cb_rng *r, void *base, size_t n, size_t size) {
    unsigned char tmp[64];
    unsigned char *b = base;
    if (n < 2 || size > sizeof tmp) return;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)cb_rng_uniform(r, (uint64_t)i + 1);
        if (j == i) continue;
        memcpy(tmp, b + i * size, size);
        memcpy(b + i * size, b + j * size, size);
        memcpy(b + j * size, tmp, size);
    }
}

void cb_rng_sample(cb_rng *r, uint32_t *idx, size_t n, size_t k) {
    if (k > n) k = n;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)cb_rng_uniform(r, (uint64_t)(n - i));
        uint32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
