/* kernels/cpu/ops.c — the small per-token kernels of a transformer layer on the
 * CPU: RMS norm, rotary embedding, softmax, log-softmax, SwiGLU, GELU gate,
 * soft-capping, argmax, each
 * with its naive `_ref` twin.
 *
 * These run single-threaded on vectors of a few thousand floats; their cost is
 * small next to the matmuls, so they are plain C written so the compiler can
 * vectorize the elementwise parts. Reductions run in a fixed order (RMS norm
 * in double, as ggml does; the others with 8 partial sums), so every result
 * is deterministic (no threads, no data-dependent order). The `_ref` versions are the textbook loops, in double where that is
 * the obvious way to write them.
 */
#include "kernels/kernels.h"

#include <math.h>

/* RMS norm in ggml's order, to the bit: each square rounded to float, summed
 * in order in double, the mean rounded to float, scale = 1/sqrtf(mean + eps),
 * then (x * scale) * w. The bits matter when the result is quantized next
 * (Q8_0/Q8_K activations of the 4/5/6-bit weight types): the input of the
 * first layer is an embedding row of few distinct values, so many of its
 * scaled values sit exactly on a rounding tie, and a scale one ulp off moves
 * them to the other side. (An 8-way float sum, as here before, flipped such
 * codes on the qwen2-q4_0 reference model; see tests/engine/test_reference.c.)
 * The double sum is sequential; at a few thousand elements per token its
 * cost is noise next to the matmuls. */
void cb_rmsnorm(float *out, const float *x, const float *w, int64_t C, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < C; i++) ss += (double)(x[i] * x[i]);
    float mean = (float)(ss / (double)C);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < C; i++) out[i] = x[i] * scale * w[i];
}

void cb_rmsnorm_ref(float *out, const float *x, const float *w, int64_t C, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < C; i++) ss += (double)x[i] * x[i];
    double scale = 1.0 / sqrt(ss / (double)C + eps);
    for (int64_t i = 0; i < C; i++) out[i] = (float)(x[i] * scale * w[i]);
}

/* cos/sin of pos * inv_freq[i], computed in double and rounded once. */
static void rope_angle(int64_t pos, float inv_freq, float *c, float *s) {
    double th = (double)pos * (double)inv_freq;
    *c = (float)cos(th);
    *s = (float)sin(th);
}

void cb_rope(float *x, int64_t H, int64_t D, int64_t n_rot, int64_t pos, const float *inv_freq,
             int neox) {
    /* x: (H, D); angles are computed once per pair index and shared by all heads */
    enum { CHUNK = 64 };
    float cs[CHUNK], sn[CHUNK];
    int64_t half = n_rot / 2;
    for (int64_t i0 = 0; i0 < half; i0 += CHUNK) {
        int64_t m = half - i0 < CHUNK ? half - i0 : CHUNK;
        for (int64_t i = 0; i < m; i++) rope_angle(pos, inv_freq[i0 + i], &cs[i], &sn[i]);
        for (int64_t h = 0; h < H; h++) {
            float *xh = x + h * D;
            for (int64_t i = 0; i < m; i++) {
                int64_t a = neox ? i0 + i : 2 * (i0 + i);
                int64_t b = neox ? i0 + i + half : 2 * (i0 + i) + 1;
                float x0 = xh[a], x1 = xh[b];
                xh[a] = x0 * cs[i] - x1 * sn[i];
                xh[b] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

void cb_rope_ref(float *x, int64_t H, int64_t D, int64_t n_rot, int64_t pos, const float *inv_freq,
                 int neox) {
    for (int64_t h = 0; h < H; h++) {
        for (int64_t i = 0; i < n_rot / 2; i++) {
            double th = (double)pos * inv_freq[i];
            double c = cos(th), s = sin(th);
            int64_t a = neox ? i : 2 * i;
            int64_t b = neox ? i + n_rot / 2 : 2 * i + 1;
            double x0 = x[h * D + a], x1 = x[h * D + b];
            x[h * D + a] = (float)(x0 * c - x1 * s);
            x[h * D + b] = (float)(x0 * s + x1 * c);
        }
    }
}

void cb_softmax(float *x, int64_t n) {
    if (n <= 0) return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float a[8] = {0};
    int64_t n8 = n & ~(int64_t)7;
    for (int64_t i = 0; i < n8; i += 8)
        for (int j = 0; j < 8; j++) {
            x[i + j] = expf(x[i + j] - mx);
            a[j] += x[i + j];
        }
    for (int64_t i = n8; i < n; i++) {
        x[i] = expf(x[i] - mx);
        a[i - n8] += x[i];
    }
    float sum = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void cb_softmax_ref(float *x, int64_t n) {
    if (n <= 0) return;
    double mx = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(exp((double)x[i] - mx) / sum);
}

double cb_log_softmax_at(const float *x, int64_t n, int64_t idx) {
    double mx = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)x[i] - mx);
    return ((double)x[idx] - mx) - log(sum);
}

void cb_swiglu(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void cb_swiglu_ref(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double g = gate[i];
        gate[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
    }
}

void cb_geglu(float *gate, const float *up, int64_t n) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i];
        gate[i] = 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x))) * up[i];
    }
}

void cb_geglu_ref(float *gate, const float *up, int64_t n) {
    const double k = sqrt(2.0 / 3.14159265358979323846);
    for (int64_t i = 0; i < n; i++) {
        double x = gate[i];
        gate[i] = (float)(0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x))) * up[i]);
    }
}

void cb_softcap(float *x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i] * inv) * cap;
}

void cb_softcap_ref(float *x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(cap * tanh((double)x[i] / cap));
}

int64_t cb_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}
