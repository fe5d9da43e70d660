/* engine/sampler.h — choosing the next token from logits, and the stop rules
 * of generation.
 *
 * Greedy (temperature <= 0) is argmax with the lowest id winning ties.
 * Otherwise the logits are divided by the temperature, cut to the top_k
 * highest (ties: lower id first), softmaxed, cut to the smallest prefix whose
 * probability mass reaches top_p, renormalized, and one token is drawn with
 * the request's own RNG (xoshiro256** seeded through splitmix64). The same
 * seed and logits always give the same token; there is no global state.
 *
 * Not here: EOS handling and the token budget live in the engine; this file
 * only offers the stop-string search they use.
 */
#ifndef CB_SAMPLER_H
#define CB_SAMPLER_H

#include "common/err.h"
#include "common/rng.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_sampler_params {
    float temperature; /* <= 0: greedy */
    int top_k;         /* <= 0: off */
    float top_p;       /* >= 1 or <= 0: off */
    uint64_t seed;
} cb_sampler_params;

/* The RNG is common/rng.h's xoshiro256** (cb_rng, seeded with cb_rng_seed);
 * sampling draws uniform doubles with cb_rng_float. */

/* Per-caller scratch for sampling over n_vocab logits (not thread-safe to
 * share). cb_sampler_scratch_new: CB_ENOMEM on failure. */
typedef struct cb_sampler_scratch cb_sampler_scratch;
int cb_sampler_scratch_new(int64_t n_vocab, cb_sampler_scratch **out, cb_err *err);
void cb_sampler_scratch_free(cb_sampler_scratch *s);

/* Picks a token from logits (n_vocab of them, not modified), advancing rng
 * when sampling. n_vocab must not exceed the scratch's size. */
int32_t cb_sampler_pick(const cb_sampler_params *p, cb_rng *rng, const float *logits, int64_t n_vocab,
                  cb_sampler_scratch *scratch);

/* Finds the earliest occurrence in text[0, len) of any of the n stop strings
 * (empty ones ignored), looking only at matches that end after byte `from`
 * (pass the length before the latest append to search incrementally).
 * Returns the byte offset where the match starts, or -1. */
int64_t cb_stop_find(const char *text, size_t len, size_t from, const char *const *stops, int n);

#endif
