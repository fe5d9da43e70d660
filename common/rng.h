/* common/rng.h — the deterministic randomness of TASKS.md 0.2: splitmix64,
 * fnv1a64, xoshiro256**, unbiased bounded integers, uniform floats and
 * Fisher–Yates shuffles.
 *
 * Every random choice an item makes goes through a cb_rng seeded from the
 * item's own seed, so an item never depends on other items, on the item count
 * or on the shard. The state is a plain value on the caller's stack; there is
 * no global generator.
 */
#ifndef CB_RNG_H
#define CB_RNG_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: advances *state by 0x9E3779B97F4A7C15 and returns the mixed value. */
uint64_t cb_splitmix64_next(uint64_t *state);
/* The stateless form used for the per-item seed: the output of one
 * cb_splitmix64_next step starting from x (i.e. mix(x + 0x9E3779B97F4A7C15)). */
uint64_t cb_splitmix64(uint64_t x);
/* FNV-1a 64-bit hash of n bytes (offset 0xcbf29ce484222325, prime 0x100000001b3). */
uint64_t cb_fnv1a64(const void *data, size_t n);
uint64_t cb_fnv1a64_str(const char *s);

/* xoshiro256** state. */
typedef struct cb_rng {
    uint64_t s[4];
} cb_rng;

/* Seeds with four successive splitmix64 outputs of seed. */
void cb_rng_seed(cb_rng *r, uint64_t seed);
/* Next 64-bit output of xoshiro256**. */
uint64_t cb_rng_next(cb_rng *r);
/* Uniform integer in [0, n) for n >= 1: draws r, rejects while
 * r < (2^64 - n) mod n, returns r mod n. n == 0 returns 0 (programmer error). */
uint64_t cb_rng_uniform(cb_rng *r, uint64_t n);
/* Uniform integer in [lo, hi] (inclusive; lo <= hi). */
int64_t cb_rng_range(cb_rng *r, int64_t lo, int64_t hi);
/* Uniform float in [0, 1): (next >> 11) * 2^-53. */
double cb_rng_float(cb_rng *r);
/* Fisher–Yates shuffle of n elements of `size` bytes (size <= 64), from the
 * last element down: for i = n-1 .. 1, j = uniform(i+1), swap(i, j). */
void cb_rng_shuffle(cb_rng *r, void *base, size_t n, size_t size);
/* Sampling k of n without replacement: partial Fisher–Yates over idx[0..n)
 * (which the caller fills, usually 0..n-1): for i = 0 .. k-1,
 * j = i + uniform(n - i), swap(idx[i], idx[j]); the sample is idx[0..k). */
void cb_rng_sample(cb_rng *r, uint32_t *idx, size_t n, size_t k);

#endif
