/* bench/engine_bench.c — `capbench bench`: the engine benchmark.
 *
 * For each model (the one given with --model, or by default generated
 * TinyLlama-1.1B-shaped models in F16, Q8_0 and Q4_K_M, written once into
 * $XDG_CACHE_HOME/capbench/bench or ~/.cache/capbench/bench and reused) it
 * measures, in one run:
 *   - memory bandwidth on the same thread pool size: the yardstick is READ
 *     bandwidth (cb_measure_read_bandwidth: each thread sums its own slice of
 *     a buffer of max(1 GiB, 4 x last-level cache), best of 8; the method is
 *     printed with the number); a large copy (bytes read + written per second)
 *     is reported next to it for comparison;
 *   - prefill tokens/s: one prompt of --prompt tokens in one step;
 *   - decode tokens/s at 1, 8 and 32 concurrent sequences (pure decode steps
 *     only: the steps that prefill the short prompts are not counted);
 *   - batch-1 decode's achieved bandwidth: (weight bytes read per step + KV
 *     bytes read) / time per step, and its fraction of the read bandwidth.
 *     When a model's weights fit in the last-level cache (cb_llc_bytes) the
 *     steps read them from cache, not memory, and the fraction can pass 100%:
 *     the run warns and marks that model (a cache artefact, not a speed-up).
 * Output: a table, or one JSON object with --json.
 *
 * With --device cuda (a GPU build on a GPU machine) the same engine runs the
 * forward pass on GPU 0 and the run also measures the device's two ceilings:
 * device-to-device copy bandwidth (1 GiB, (read + write) bytes/s) and cuBLAS
 * F16 GEMM peak (8192^3, FP32 accumulation, median). Decode runs at 1, 8, 32
 * and 128 sequences (each batch size warmed up once so CUDA-graph capture is
 * not timed), prefill defaults to a 512-token prompt (best of 3), and the
 * report adds prefill's fraction of the GEMM peak: FLOPs per prompt =
 * 2 * non-embedding parameters * tokens + attention 4 * L * H * D * T(T+1)/2.
 * For each model it also reports how decode ran: from CUDA graphs (how many
 * of the decode steps) or eagerly and why (cb_engine_device_note), in the
 * table's footnotes and as "graphs" / "decode_graph_replays" in JSON, so an
 * eager figure is never read as a graph figure. The ceilings come from the
 * CUDA module (engine/cuda_module.h), loaded on first use like the engine's.
 *
 * It is a measurement, not a test: nothing here asserts a speed.
 */
#include "bench/engine_bench.h"

#include "common/rng.h"
#include "engine/engine.h"
#include "engine/genmodel.h"
#include "engine/model.h"
#include "kernels/kernels.h"
#include "engine/cuda_module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_cfg {
    const char *model;
    int threads, prompt, gen, json;
    const char *device;
    const char *cache_dir;
} bench_cfg;

typedef struct decode_res {
    int batch;
    double tok_s;
    double step_s;      /* mean time of one pure decode step */
} decode_res;

typedef struct model_res {
    char path[1024];
    char type[16];
    int64_t n_params;
    uint64_t weight_bytes;
    double prefill_tok_s;
    decode_res dec[4];      /* batches 1, 8, 32 (and 128 on cuda) */
    double b1_bytes_per_step;
    double b1_achieved_bw;  /* bytes/s */
    int fits_llc;           /* the weights fit in the last-level cache */
    double prefill_flops;   /* FLOPs of one prompt (cuda report) */
    char note[1024];        /* cuda: how decode ran (graphs or why not) */
    int64_t graph_replays, decode_steps; /* cuda: of all pure decode steps of the run */
} model_res;

/* Device ceilings measured in the same run (cuda only). */
typedef struct dev_ceil {
    char name[256];
    double copy_bw;   /* (read + write) bytes/s */
    double gemm_peak; /* FLOP/s */
} dev_ceil;

static int is_cuda(const bench_cfg *c) { return strcmp(c->device, "cuda") == 0; }
static int n_batches(const bench_cfg *c) { return is_cuda(c) ? 4 : 3; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int mkdir_p(const char *path) {
    char buf[1024];
    size_t n = strlen(path);
    if (n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            buf[i] = c;
        }
    }
    return 0;
}

void cb_engine_bench_cache_dir(char *out, size_t cap) {
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) snprintf(out, cap, "%s/capbench/bench", x);
    else snprintf(out, cap, "%s/.cache/capbench/bench", getenv("HOME") ? getenv("HOME") : ".");
}

/* Fills ids with deterministic ordinary-looking token ids. */
static void fill_ids(int32_t *ids, int n, int64_t V, uint64_t seed) {
    cb_rng r;
    cb_rng_seed(&r, seed);
    int64_t hi = V > 1000 ? 1000 : V;
    for (int i = 0; i < n; i++) ids[i] = (int32_t)(hi > 3 ? 3 + (int64_t)cb_rng_uniform(&r, (uint64_t)(hi - 3)) : 0);
}

/* Decode with `batch` sequences of 8-token prompts for `gen` pure decode steps. */
static int bench_decode(cb_engine *e, int batch, int gen, decode_res *out, double *kv_bytes_per_step, cb_err *err) {
    int rc = 0;
    const cb_model_hparams *hp = cb_model_get_hparams(cb_engine_model(e));
    cb_engine_req *reqs = calloc((size_t)batch, sizeof *reqs);
    cb_engine_result *res = calloc((size_t)batch, sizeof *res);
    int32_t *ids = malloc((size_t)batch * 8 * sizeof(int32_t));
    if (!reqs || !res || !ids) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    for (int b = 0; b < batch; b++) {
        fill_ids(ids + b * 8, 8, cb_engine_n_vocab(e), 1000 + (uint64_t)b);
        reqs[b] = (cb_engine_req){.kind = CB_ENGINE_GENERATE, .ids = ids + b * 8, .n_ids = 8,
                                  .max_tokens = gen + 1, .ignore_eos = 1};
        if ((rc = cb_engine_submit(e, &reqs[b], &res[b], err))) goto out;
    }
    double t_dec = 0.0;
    int n_dec = 0, pending = batch;
    double kv = 0.0;
    while (pending > 0) {
        cb_engine_stats s0, s1;
        cb_engine_get_stats(e, &s0);
        double t0 = now_s();
        if ((rc = cb_engine_step(e, &pending, err))) goto out;
        double dt = now_s() - t0;
        cb_engine_get_stats(e, &s1);
        if (s1.n_tokens - s0.n_tokens == batch && s1.n_logit_rows - s0.n_logit_rows == batch) {
            t_dec += dt;
            /* KV read this step: positions 8 + n_dec + 1 of K and V, every layer, every sequence */
            kv += (double)batch * (double)(8 + n_dec + 1) * 2.0 * (double)(hp->n_head_kv * hp->head_dim) *
                  sizeof(float) * (double)hp->n_layer;
            n_dec++;
        }
    }
    out->batch = batch;
    out->step_s = n_dec ? t_dec / n_dec : 0.0;
    out->tok_s = t_dec > 0 ? (double)batch * n_dec / t_dec : 0.0;
    if (kv_bytes_per_step) *kv_bytes_per_step = n_dec ? kv / n_dec : 0.0;
out:
    for (int b = 0; res && b < batch; b++) cb_engine_result_clear(&res[b]);
    free(reqs);
    free(res);
    free(ids);
    return rc;
}

static int bench_model(const bench_cfg *c, const char *path, const char *type, model_res *m, cb_err *err) {
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    snprintf(m->type, sizeof m->type, "%s", type);
    int batches[4] = {1, 8, 32, 128};
    cb_engine_opts eo = {.model_path = path, .n_threads = c->threads, .n_ctx = c->prompt + c->gen + 16,
                         .n_seq = is_cuda(c) ? 128 : 32, .n_batch = c->prompt > 256 ? c->prompt : 256,
                         .device = c->device};
    if (eo.n_ctx < 64) eo.n_ctx = 64;
    cb_engine *e = NULL;
    int rc = cb_engine_open(&eo, &e, err);
    if (rc) return rc;
    m->n_params = cb_engine_n_params(e);
    m->weight_bytes = cb_model_weight_bytes_per_pass(cb_engine_model(e));
    int32_t *ids = malloc((size_t)c->prompt * sizeof(int32_t));
    if (!ids) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    /* warm-up: fault the mapped weights in */
    decode_res warm;
    if ((rc = bench_decode(e, 1, 1, &warm, NULL, err))) goto out;

    fill_ids(ids, c->prompt, cb_engine_n_vocab(e), 7);
    cb_engine_req req = {.kind = CB_ENGINE_GENERATE, .ids = ids, .n_ids = c->prompt, .max_tokens = 1,
                         .ignore_eos = 1};
    cb_engine_result res = {0};
    cb_engine_stats s0, s1;
    for (int rep = 0; rep < (is_cuda(c) ? 3 : 1); rep++) { /* GPU: best of 3 */
        cb_engine_get_stats(e, &s0);
        rc = cb_engine_run(e, &req, &res, 1, err);
        cb_engine_result_clear(&res);
        if (rc) goto out;
        cb_engine_get_stats(e, &s1);
        double dt = s1.forward_s - s0.forward_s;
        double r = dt > 0 ? (double)(s1.n_tokens - s0.n_tokens) / dt : 0.0;
        if (r > m->prefill_tok_s) m->prefill_tok_s = r;
    }
    {
        const cb_model_hparams *hp = cb_model_get_hparams(cb_engine_model(e));
        double T = c->prompt;
        m->prefill_flops = 2.0 * (double)cb_engine_n_params_nonembd(e) * T +
                           4.0 * (double)hp->n_layer * (double)(hp->n_head * hp->head_dim) * T * (T + 1) / 2.0;
    }

    for (int i = 0; i < n_batches(c); i++) {
        double kv = 0.0;
        if (is_cuda(c)) { /* first steps of a batch size capture its graph: not timed */
            decode_res warm_b;
            if ((rc = bench_decode(e, batches[i], 2, &warm_b, NULL, err))) goto out;
        }
        if ((rc = bench_decode(e, batches[i], c->gen, &m->dec[i], &kv, err))) goto out;
        if (i == 0) {
            m->b1_bytes_per_step = (double)m->weight_bytes + kv;
            m->b1_achieved_bw = m->dec[0].step_s > 0 ? m->b1_bytes_per_step / m->dec[0].step_s : 0.0;
        }
    }
    if (is_cuda(c)) {
        cb_engine_stats st;
        cb_engine_get_stats(e, &st);
        cb_engine_device_note(e, m->note, sizeof m->note);
        m->graph_replays = st.n_graph_replays;
        m->decode_steps = st.n_graph_replays + st.n_decode_eager;
    }
out:
    free(ids);
    cb_engine_free(e);
    return rc;
}

int cb_engine_bench_ensure_model(const char *dir, const char *type, char *path, size_t cap, int json, cb_err *err) {
    snprintf(path, cap, "%s/tinyllama-1.1b-%s-seed0.gguf", dir, type);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0) return 0;
    if (mkdir_p(dir) != 0) return cb_err_set(err, CB_EIO, "%s: cannot create the cache folder", dir);
    if (!json) fprintf(stderr, "capbench bench: generating %s (once; reused later)\n", path);
    cb_genmodel_opts o = {.shape = "tinyllama-1.1b", .type = type, .seed = 0, .synth_vocab = 1, .out_path = path};
    return cb_genmodel_write(&o, err);
}

void cb_engine_bench_json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

int cb_engine_bench_main(int argc, char **argv) {
    static const char U[] = "[--model M] [--threads N] [--prompt N] [--gen N] [--cache-dir DIR] [--json] "
                            "[--device cpu|cuda]";
    bench_cfg c = {.threads = 0, .prompt = 0, .gen = 0, .device = "cpu"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return printf("usage: capbench bench %s\n", U), 0;
        if (strcmp(a, "--json") == 0) {
            c.json = 1;
            continue;
        }
        if (i + 1 >= argc) goto bad;
        const char *v = argv[++i];
        char *end;
        long n;
        if (strcmp(a, "--model") == 0) c.model = v;
        else if (strcmp(a, "--device") == 0) c.device = v;
        else if (strcmp(a, "--cache-dir") == 0) c.cache_dir = v;
        else if (strcmp(a, "--threads") == 0 || strcmp(a, "--prompt") == 0 || strcmp(a, "--gen") == 0) {
            errno = 0;
            n = strtol(v, &end, 10);
            if (errno || *end || n < 1 || n > 65536) goto bad;
            if (a[2] == 't') c.threads = (int)n;
            else if (a[2] == 'p') c.prompt = (int)n;
            else c.gen = (int)n;
        } else goto bad;
    }
    if (strcmp(c.device, "cpu") != 0 && strcmp(c.device, "cuda") != 0) goto bad;
    if (c.prompt == 0) c.prompt = is_cuda(&c) ? 512 : 128;
    if (c.gen == 0) c.gen = is_cuda(&c) ? 32 : 16;
    if (c.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = n > 0 ? (int)n : 1;
    }

    cb_err err;
    cb_err_clear(&err);
    char dir[1024];
    if (c.cache_dir) snprintf(dir, sizeof dir, "%s", c.cache_dir);
    else cb_engine_bench_cache_dir(dir, sizeof dir);
    enum { MAX_MODELS = 3 };
    char paths[MAX_MODELS][1100];
    const char *types[MAX_MODELS] = {"f16", "q8_0", "q4_k_m"};
    int n_models = 0;
    if (c.model) {
        snprintf(paths[0], sizeof paths[0], "%s", c.model);
        types[0] = "";
        n_models = 1;
    } else {
        if (strcmp(c.device, "cuda") == 0) {
            /* fail on the device before spending minutes writing models */
            if (cb_cuda_probe(0, NULL, 0, &err) != 0) {
                fprintf(stderr, "capbench bench: device 'cuda': %s\n", err.msg);
                return 1;
            }
        }
        for (int i = 0; i < MAX_MODELS; i++) {
            if (cb_engine_bench_ensure_model(dir, types[i], paths[i], sizeof paths[i], c.json, &err)) {
                fprintf(stderr, "capbench bench: %s\n", err.msg);
                return 1;
            }
        }
        n_models = MAX_MODELS;
    }

    cb_pool *pool = NULL;
    if (cb_pool_new(c.threads, &pool, &err)) {
        fprintf(stderr, "capbench bench: %s\n", err.msg);
        return 1;
    }
    /* the yardstick: read bandwidth over a buffer well past the last-level cache */
    size_t llc = cb_llc_bytes();
    size_t read_bytes = (size_t)1 << 30;
    if (llc > 0 && 4 * llc > read_bytes) read_bytes = 4 * llc;
    double read_bw = is_cuda(&c) ? 0.0 : cb_measure_read_bandwidth(pool, read_bytes, 8);
    double copy_bw = cb_measure_copy_bandwidth(pool, (size_t)512 << 20, 8);
    double bw = read_bw > 0 ? read_bw : copy_bw; /* what the fractions divide by */
    char method[256];
    snprintf(method, sizeof method,
             "read: %d threads each sum their own slice of a %zu MiB buffer (8-byte loads, prefetch 8 KiB ahead), "
             "bytes read/s, best of 8",
             c.threads, read_bytes >> 20);
    cb_pool_free(pool);
    dev_ceil dc = {{0}, 0.0, 0.0};
    if (is_cuda(&c)) {
        const cb_cuda_module *cm = NULL;
        cb_cuda_ceilings ce;
        int rc = cb_cuda_module_get(&cm, &err);
        if (!rc) rc = cm->measure(0, (size_t)1 << 30, 8192, &ce, &err);
        if (rc) {
            fprintf(stderr, "capbench bench: %s\n", err.msg);
            return 1;
        }
        snprintf(dc.name, sizeof dc.name, "%s", ce.name);
        dc.copy_bw = ce.copy_bw;
        dc.gemm_peak = ce.gemm_peak;
        bw = dc.copy_bw; /* decode is compared with the device's bandwidth */
        snprintf(method, sizeof method, "device copy: 1 GiB device-to-device, (read + write) bytes/s, best of 5");
    }

    model_res res[MAX_MODELS];
    for (int i = 0; i < n_models; i++) {
        if (!c.json) fprintf(stderr, "capbench bench: running %s\n", paths[i]);
        if (bench_model(&c, paths[i], types[i], &res[i], &err)) {
            fprintf(stderr, "capbench bench: %s\n", err.msg);
            if (err.code == CB_ENODEV) return 1;
            return (err.code == CB_EIO || err.code == CB_EFORMAT || err.code == CB_EUNSUP) ? 2 : 1;
        }
        res[i].fits_llc = !is_cuda(&c) && llc > 0 && res[i].weight_bytes <= llc;
    }

    if (c.json) {
        printf("{\"threads\":%d,\"device\":", c.threads);
        cb_engine_bench_json_str(c.device);
        if (is_cuda(&c)) {
            printf(",\"card\":");
            cb_engine_bench_json_str(dc.name);
            printf(",\"gemm_peak_tflops\":%.3f", dc.gemm_peak / 1e12);
        }
        printf(",\"copy_bandwidth_gbs\":%.3f,\"read_bandwidth_gbs\":%.3f,\"yardstick\":", copy_bw / 1e9,
               read_bw / 1e9);
        cb_engine_bench_json_str(method);
        printf(",\"llc_bytes\":%zu,\"prompt_tokens\":%d,\"decode_steps\":%d,\"models\":[", llc, c.prompt, c.gen);
        for (int i = 0; i < n_models; i++) {
            model_res *m = &res[i];
            printf("%s{\"path\":", i ? "," : "");
            cb_engine_bench_json_str(m->path);
            printf(",\"type\":");
            cb_engine_bench_json_str(m->type);
            printf(",\"n_params\":%lld,\"weight_bytes\":%llu,\"prefill_tok_s\":%.3f,\"decode\":[",
                   (long long)m->n_params, (unsigned long long)m->weight_bytes, m->prefill_tok_s);
            for (int k = 0; k < n_batches(&c); k++)
                printf("%s{\"batch\":%d,\"tok_s\":%.3f,\"step_ms\":%.3f}", k ? "," : "", m->dec[k].batch,
                       m->dec[k].tok_s, m->dec[k].step_s * 1e3);
            printf("]");
            if (is_cuda(&c)) {
                printf(",\"prefill_tflops\":%.3f,\"prefill_fraction_of_gemm_peak\":%.4f",
                       m->prefill_tok_s * m->prefill_flops / c.prompt / 1e12,
                       dc.gemm_peak > 0 ? m->prefill_tok_s * m->prefill_flops / c.prompt / dc.gemm_peak : 0.0);
                printf(",\"decode_graph_replays\":%lld,\"decode_steps\":%lld,\"graphs\":", (long long)m->graph_replays,
                       (long long)m->decode_steps);
                cb_engine_bench_json_str(m->note);
            }
            double cbw = is_cuda(&c) ? dc.copy_bw : copy_bw;
            printf(",\"b1_bytes_per_step\":%.0f,\"b1_achieved_gbs\":%.3f,\"b1_fraction_of_copy_bw\":%.4f",
                   m->b1_bytes_per_step, m->b1_achieved_bw / 1e9, cbw > 0 ? m->b1_achieved_bw / cbw : 0.0);
            printf(",\"b1_fraction_of_read_bw\":%.4f,\"weights_fit_llc\":%s}",
                   read_bw > 0 ? m->b1_achieved_bw / read_bw : 0.0, m->fits_llc ? "true" : "false");
        }
        printf("]}\n");
    } else if (is_cuda(&c)) {
        printf("engine benchmark on %s: copy bandwidth %.1f GB/s (read+write), F16 GEMM peak %.1f TFLOP/s\n",
               dc.name, dc.copy_bw / 1e9, dc.gemm_peak / 1e12);
        printf("%-34s %9s %9s %9s %9s %7s %10s %8s\n", "model", "dec1 t/s", "dec8 t/s", "dec32 t/s", "dec128 t/s",
               "b1 bw", "prefill/s", "pf peak");
        for (int i = 0; i < n_models; i++) {
            model_res *m = &res[i];
            const char *base = strrchr(m->path, '/');
            base = base ? base + 1 : m->path;
            double pf = dc.gemm_peak > 0 ? m->prefill_tok_s * m->prefill_flops / c.prompt / dc.gemm_peak : 0.0;
            printf("%-34.34s %9.1f %9.1f %9.1f %9.1f %6.1f%% %10.0f %7.1f%%\n", base, m->dec[0].tok_s,
                   m->dec[1].tok_s, m->dec[2].tok_s, m->dec[3].tok_s, bw > 0 ? 100.0 * m->b1_achieved_bw / bw : 0.0,
                   m->prefill_tok_s, 100.0 * pf);
        }
        printf("(b1 bw = batch-1 decode (weights + KV bytes per step) / step time / device copy bandwidth; "
               "pf peak = prefill FLOP/s of one %d-token prompt / GEMM peak; goals: >= 75%% and >= 45%%)\n",
               c.prompt);
        for (int i = 0; i < n_models; i++) {
            const char *base = strrchr(res[i].path, '/');
            printf("%s: %s\n", base ? base + 1 : res[i].path, res[i].note);
        }
    } else {
        printf("engine benchmark: %d threads, device %s\n", c.threads, c.device);
        printf("read bandwidth %.2f GB/s (the yardstick; %s)\n", read_bw / 1e9, method);
        printf("copy bandwidth %.2f GB/s (read+write, for comparison); last-level cache %.1f MiB%s\n", copy_bw / 1e9,
               (double)llc / (1 << 20), llc ? "" : " (unknown)");
        printf("%-44s %10s %10s %10s %10s %10s %10s %8s\n", "model", "params", "prefill/s", "dec1 t/s",
               "dec8 t/s", "dec32 t/s", "b1 GB/s", "b1 frac");
        for (int i = 0; i < n_models; i++) {
            model_res *m = &res[i];
            const char *base = strrchr(m->path, '/');
            base = base ? base + 1 : m->path;
            printf("%-44.44s %9.3fB %10.2f %10.2f %10.2f %10.2f %10.2f %7.1f%%%s\n", base,
                   (double)m->n_params / 1e9, m->prefill_tok_s, m->dec[0].tok_s, m->dec[1].tok_s, m->dec[2].tok_s,
                   m->b1_achieved_bw / 1e9, bw > 0 ? 100.0 * m->b1_achieved_bw / bw : 0.0, m->fits_llc ? " *" : "");
        }
        printf("(prefill: one %d-token prompt; decode: %d pure decode steps per batch size; b1 frac = batch-1 "
               "(weights + KV bytes read per step) / step time / read bandwidth)\n",
               c.prompt, c.gen);
    }
    if (!is_cuda(&c)) {
        for (int i = 0; i < n_models; i++)
            if (res[i].fits_llc)
                fprintf(stderr,
                        "capbench bench: warning: * %s: its weights (%.1f MiB) fit in the last-level cache (%.1f MiB), "
                        "so decode reads them from cache, not memory; a fraction over 100%% there is a cache "
                        "artefact, not a speed-up\n",
                        res[i].path, (double)res[i].weight_bytes / (1 << 20), (double)llc / (1 << 20));
    }
    return 0;
bad:
    fprintf(stderr, "usage: capbench bench %s\n", U);
    return 2;
}
