/* engine/sampler.c — greedy / temperature / top-k / top-p sampling with an
 * explicit per-request RNG, and the stop-string search (see sampler.h).
 *
 * Cost: greedy is one pass over the logits. Plain temperature sampling is two
 * passes (max, then a cumulative draw in id order). top_k keeps a min-heap of
 * k candidates (O(V log k)); top_p without top_k sorts the whole vocabulary.
 */
#include "engine/sampler.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cb_sampler_scratch {
    int64_t n;
    int32_t *idx;  /* candidate ids */
    double *prob;  /* candidate probabilities */
};


int cb_sampler_scratch_new(int64_t n_vocab, cb_sampler_scratch **out, cb_err *err) {
    *out = NULL;
    if (n_vocab <= 0) return cb_err_set(err, CB_EUSAGE, "sampler: vocabulary size %lld", (long long)n_vocab);
    cb_sampler_scratch *s = calloc(1, sizeof *s);
    if (s) {
        s->idx = malloc((size_t)n_vocab * sizeof *s->idx);
        s->prob = malloc((size_t)n_vocab * sizeof *s->prob);
    }
    if (!s || !s->idx || !s->prob) {
        cb_sampler_scratch_free(s);
        return cb_err_set(err, CB_ENOMEM, "out of memory (sampler scratch)");
    }
    s->n = n_vocab;
    *out = s;
    return 0;
}

void cb_sampler_scratch_free(cb_sampler_scratch *s) {
    if (!s) return;
    free(s->idx);
    free(s->prob);
    free(s);
}

/* a ranks before b: higher logit, then lower id */
static int ranks_before(const float *l, int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); }

/* Heap whose root is the worst-ranked candidate (used for top-k selection
 * and, run to the end, as an in-place heap sort with no global state). */
static void sift_down_min(const float *l, int32_t *h, int64_t n, int64_t i) {
    /* min-heap by rank: the root is the worst-ranked candidate */
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && ranks_before(l, h[c], h[c + 1])) c++; /* pick the worse child */
        if (!ranks_before(l, h[i], h[c])) return;               /* parent already worse */
        int32_t tmp = h[i];
        h[i] = h[c];
        h[c] = tmp;
        i = c;
    }
}

static void sort_by_rank(const float *l, int32_t *ids, int64_t n) {
    /* heap sort: build a heap whose root is the worst, repeatedly move it to the end */
    for (int64_t i = n / 2 - 1; i >= 0; i--) sift_down_min(l, ids, n, i);
    for (int64_t end = n - 1; end > 0; end--) {
        int32_t tmp = ids[0];
        ids[0] = ids[end];
        ids[end] = tmp;
        sift_down_min(l, ids, end, 0);
    }
    /* the heap sort put the worst at the end already: ids are best-first */
}

int32_t cb_sampler_pick(const cb_sampler_params *p, cb_rng *rng, const float *logits, int64_t n_vocab,
                  cb_sampler_scratch *sc) {
    if (p->temperature <= 0.0f || p->top_k == 1) return (int32_t)cb_argmax(logits, n_vocab);
    const double inv_t = 1.0 / (double)p->temperature;
    const int use_p = p->top_p > 0.0f && p->top_p < 1.0f;
    int64_t k = (p->top_k > 0 && p->top_k < n_vocab) ? p->top_k : n_vocab;
    int32_t *ids = sc->idx;
    double *pr = sc->prob;
    int64_t n;

    if (k == n_vocab && !use_p) {
        /* plain temperature sampling in id order */
        float mx = logits[cb_argmax(logits, n_vocab)];
        double sum = 0.0;
        for (int64_t i = 0; i < n_vocab; i++) {
            pr[i] = exp(((double)logits[i] - mx) * inv_t);
            sum += pr[i];
        }
        double u = cb_rng_float(rng) * sum, acc = 0.0;
        for (int64_t i = 0; i < n_vocab; i++) {
            acc += pr[i];
            if (u < acc) return (int32_t)i;
        }
        return (int32_t)cb_argmax(logits, n_vocab);
    }

    if (k < n_vocab) {
        /* keep the k best in a heap whose root is the worst kept */
        for (int64_t i = 0; i < k; i++) ids[i] = (int32_t)i;
        for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down_min(logits, ids, k, i);
        for (int64_t i = k; i < n_vocab; i++) {
            if (ranks_before(logits, (int32_t)i, ids[0])) {
                ids[0] = (int32_t)i;
                sift_down_min(logits, ids, k, 0);
            }
        }
        n = k;
    } else {
        for (int64_t i = 0; i < n_vocab; i++) ids[i] = (int32_t)i;
        n = n_vocab;
    }
    sort_by_rank(logits, ids, n); /* best first */

    const double mx = logits[ids[0]];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        pr[i] = exp(((double)logits[ids[i]] - mx) * inv_t);
        sum += pr[i];
    }
    if (use_p) {
        double acc = 0.0, target = (double)p->top_p * sum;
        int64_t keep = n;
        for (int64_t i = 0; i < n; i++) {
            acc += pr[i];
            if (acc >= target) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        sum = acc;
    }
    double u = cb_rng_float(rng) * sum, acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        acc += pr[i];
        if (u < acc) return ids[i];
    }
    return ids[n - 1];
}

int64_t cb_stop_find(const char *text, size_t len, size_t from, const char *const *stops, int n) {
    int64_t best = -1;
    for (int i = 0; i < n; i++) {
        size_t sl = stops[i] ? strlen(stops[i]) : 0;
        if (sl == 0 || sl > len) continue;
        /* a new match must end after `from`: it starts at or after from + 1 - sl */
        size_t start = from + 1 > sl ? from + 1 - sl : 0;
        for (size_t j = start; j + sl <= len; j++) {
            if (best >= 0 && (int64_t)j >= best) break;
            if (memcmp(text + j, stops[i], sl) == 0) {
                best = (int64_t)j;
                break;
            }
        }
    }
    return best;
}
