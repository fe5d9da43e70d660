/* runner/cmd_engine.c — the engine's command lines: tokenize, generate,
 * logits, score, gen-model and bench (the benchmark itself is in
 * bench/engine_bench.c). Other tools call these exact command lines, so their
 * flags and output formats are stable:
 *
 *   capbench tokenize --model M [--no-bos] [--no-parse-special] TEXT
 *       -> [1,403,407]
 *   capbench generate --model M -p TEXT [-n N] [--temp T] [--seed S] [--threads N]
 *                     [--top-k K] [--top-p P] [--ctx N] [--stop S]... [--device cpu|cuda[:N]]
 *       -> the continuation text and a newline (greedy unless --temp > 0); -n 0
 *          still loads and checks the model, then prints just the newline
 *   capbench logits --model M -p TEXT [--top K]
 *       -> {"n_vocab":V,"n_tokens":N,"top":[{"id":..,"logit":..,"piece":".."},...]}
 *   capbench score --model M --context C --continuation X
 *       -> {"logprob":..,"n_tokens":..,"token_logprobs":[..],"is_greedy":true}
 *   capbench gen-model --shape tinyllama-1.1b|tiny|tiny256 --type f32|f16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q5_k|q6_k|q4_k_m [--seed S]
 *                      [--vocab GGUF | --synth-vocab] -o FILE
 *   capbench bench [--workload eval] ...   (bench/engine_bench.c, bench/engine_eval.c)
 *
 * Exit status: 0 ok; 2 bad flags (with usage) or an unreadable/malformed
 * model (the message names the file); 1 other failures, e.g. --device cuda
 * without CUDA. JSON is written by hand (this file is in cb_core, which does
 * not link cJSON) with full string escaping.
 */
#include "runner/commands.h"

#include "bench/engine_bench.h"
#include "bench/engine_eval.h"
#include "engine/engine.h"
#include "engine/genmodel.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- argument helpers --------------------------------------------------------- */

static int parse_long(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_float(const char *s, float *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

/* Prints a JSON string literal of n bytes (invalid UTF-8 bytes as U+FFFD). */
static void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            default: fprintf(f, "\\u%04x", c);
            }
            i++;
        } else if (c < 0x80) {
            fputc(c, f);
            i++;
        } else {
            /* validate one UTF-8 sequence */
            int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
            if (c >= 0xF5) len = 0;
            int ok = len > 0 && i + (size_t)len <= n;
            for (int k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
            if (ok && len == 3) {
                unsigned char c1 = (unsigned char)s[i + 1];
                ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
            }
            if (ok && len == 4) {
                unsigned char c1 = (unsigned char)s[i + 1];
                ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
            }
            if (ok) {
                fwrite(s + i, 1, (size_t)len, f);
                i += (size_t)len;
            } else {
                fputs("\\ufffd", f);
                i++;
            }
        }
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

/* Exit status for a failure to open a model: bad input file -> 2. */
static int model_fail(const char *cmd, const char *path, const cb_err *err) {
    if (strstr(err->msg, path)) fprintf(stderr, "capbench %s: %s\n", cmd, err->msg);
    else fprintf(stderr, "capbench %s: %s: %s\n", cmd, path, err->msg);
    if (err->code == CB_EIO || err->code == CB_EFORMAT || err->code == CB_EUNSUP) return 2;
    return cb_err_exit_code(err) ? cb_err_exit_code(err) : 1;
}

static int usage_err(const char *cmd, const char *usage, const char *why) {
    if (why) fprintf(stderr, "capbench %s: %s\n", cmd, why);
    fprintf(stderr, "usage: capbench %s %s\n", cmd, usage);
    return 2;
}

static int want_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

/* ---- tokenize ----------------------------------------------------------------------- */

int cb_cmd_tokenize(int argc, char **argv) {
    static const char U[] = "--model M [--no-bos] [--no-parse-special] TEXT";
    if (want_help(argc, argv)) return printf("usage: capbench tokenize %s\n", U), 0;
    const char *model = NULL, *text = NULL;
    int bos = 1, special = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--no-bos") == 0) bos = 0;
        else if (strcmp(argv[i], "--no-parse-special") == 0) special = 0;
        else if (argv[i][0] == '-' && argv[i][1] == '-' && !text) return usage_err(argv[0], U, "unknown option");
        else if (!text) text = argv[i];
        else return usage_err(argv[0], U, "more than one TEXT");
    }
    if (!model || !text) return usage_err(argv[0], U, "--model and TEXT are required");
    cb_err err;
    cb_err_clear(&err);
    cb_gguf *g = NULL;
    cb_tokenizer *t = NULL;
    int32_t *ids = NULL;
    int n = 0, rc;
    if (cb_gguf_open(model, &g, &err) || cb_tokenizer_from_gguf(g, &t, &err)) {
        rc = model_fail(argv[0], model, &err);
        goto out;
    }
    if (cb_tokenizer_encode_alloc(t, text, strlen(text), bos ? cb_tokenizer_add_bos(t) : 0, special, &ids, &n,
                                  &err)) {
        fprintf(stderr, "capbench %s: %s\n", argv[0], err.msg);
        rc = 1;
        goto out;
    }
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    printf("]\n");
    rc = 0;
out:
    free(ids);
    cb_tokenizer_free(t);
    cb_gguf_free(g);
    return rc;
}

/* ---- generate / logits / score ---------------------------------------------------------- */

typedef struct common_opts {
    const char *model, *device;
    int threads, ctx;
} common_opts;

/* Consumes a flag shared by the engine commands; returns 1 when taken, 0 when
 * not a shared flag, -1 on a bad value. */
static int common_flag(common_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    long v;
    if (*i + 1 >= argc) return 0;
    if (strcmp(a, "--model") == 0 || strcmp(a, "-m") == 0) {
        o->model = argv[++*i];
        return 1;
    }
    if (strcmp(a, "--device") == 0) {
        o->device = argv[++*i];
        return 1;
    }
    if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0) {
        if (parse_long(argv[++*i], 1, 1024, &v)) return -1;
        o->threads = (int)v;
        return 1;
    }
    if (strcmp(a, "--ctx") == 0 || strcmp(a, "-c") == 0) {
        if (parse_long(argv[++*i], 1, 1 << 24, &v)) return -1;
        o->ctx = (int)v;
        return 1;
    }
    return 0;
}

static int open_engine(const char *cmd, const common_opts *o, cb_engine **e) {
    cb_engine_opts eo = {.model_path = o->model, .n_threads = o->threads, .n_ctx = o->ctx, .n_seq = 1,
                         .device = o->device};
    cb_err err;
    cb_err_clear(&err);
    int ordinal;
    if (cb_engine_parse_device(o->device, &ordinal) != 0) {
        fprintf(stderr, "capbench %s: unknown device '%s' (cpu, cuda or cuda:N)\n", cmd, o->device);
        return 2;
    }
    if (cb_engine_open(&eo, e, &err) == 0) return 0;
    if (err.code == CB_ENODEV) {
        fprintf(stderr, "capbench %s: %s\n", cmd, err.msg);
        return 1;
    }
    return model_fail(cmd, o->model, &err);
}

/* Frees the engine; on a cuda device first says on stderr how decode ran
 * (from CUDA graphs or not, and why). */
static void close_engine(const char *cmd, cb_engine *e) {
    char note[1024];
    cb_engine_device_note(e, note, sizeof note);
    if (note[0]) fprintf(stderr, "capbench %s: %s\n", cmd, note);
    cb_engine_free(e);
}

static int run_one(const char *cmd, cb_engine *e, const cb_engine_req *req, cb_engine_result *res) {
    cb_err err;
    cb_err_clear(&err);
    if (cb_engine_run(e, req, res, 1, &err)) {
        fprintf(stderr, "capbench %s: %s\n", cmd, err.msg);
        return 1;
    }
    if (res->status) {
        fprintf(stderr, "capbench %s: %s\n", cmd, res->error ? res->error : "request failed");
        return res->status == CB_EUSAGE ? 2 : 1;
    }
    return 0;
}

int cb_cmd_generate(int argc, char **argv) {
    static const char U[] = "--model M -p TEXT [-n N] [--temp T] [--seed S] [--threads N] [--top-k K] "
                            "[--top-p P] [--ctx N] [--stop S]... [--ignore-eos] [--device cpu|cuda[:N]]";
    if (want_help(argc, argv)) return printf("usage: capbench generate %s\n", U), 0;
    common_opts o = {0};
    const char *prompt = NULL;
    const char *stops[16];
    int n_stop = 0, ignore_eos = 0;
    long n = 64;
    cb_sampler_params sp = {.temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 0};
    for (int i = 1; i < argc; i++) {
        int c = common_flag(&o, argc, argv, &i);
        if (c < 0) return usage_err(argv[0], U, "bad option value");
        if (c) continue;
        const char *a = argv[i];
        long v;
        if (strcmp(a, "--ignore-eos") == 0) {
            ignore_eos = 1;
            continue;
        }
        if (i + 1 >= argc) return usage_err(argv[0], U, "unknown option or missing value");
        const char *val = argv[++i];
        int bad = 0;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) prompt = val;
        else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0) bad = parse_long(val, 0, 1 << 24, &n);
        else if (strcmp(a, "--temp") == 0) bad = parse_float(val, &sp.temperature) || sp.temperature < 0;
        else if (strcmp(a, "--seed") == 0) bad = parse_u64(val, &sp.seed);
        else if (strcmp(a, "--top-k") == 0) bad = parse_long(val, 0, 1 << 30, &v) || (sp.top_k = (int)v, 0);
        else if (strcmp(a, "--top-p") == 0) bad = parse_float(val, &sp.top_p) || sp.top_p < 0 || sp.top_p > 1;
        else if (strcmp(a, "--stop") == 0) {
            if (n_stop == 16) return usage_err(argv[0], U, "at most 16 --stop strings");
            stops[n_stop++] = val;
        } else return usage_err(argv[0], U, "unknown option");
        if (bad) return usage_err(argv[0], U, "bad option value");
    }
    if (!o.model || !prompt) return usage_err(argv[0], U, "--model and -p are required");
    cb_engine *e = NULL;
    int rc = open_engine(argv[0], &o, &e); /* -n 0 too: the model is loaded and checked */
    if (rc) return rc;
    if (n == 0) {
        cb_engine_free(e);
        return printf("\n"), 0;
    }
    cb_engine_req req = {.kind = CB_ENGINE_GENERATE, .text = prompt, .add_bos = -1, .parse_special = 1,
                         .sampling = sp, .max_tokens = (int)n, .stop = stops, .n_stop = n_stop,
                         .ignore_eos = ignore_eos};
    cb_engine_result res = {0};
    rc = run_one(argv[0], e, &req, &res);
    if (!rc) {
        fwrite(res.text, 1, res.text_len, stdout);
        fputc('\n', stdout);
    }
    cb_engine_result_clear(&res);
    close_engine(argv[0], e);
    return rc;
}

int cb_cmd_logits(int argc, char **argv) {
    static const char U[] = "--model M -p TEXT [--top K] [--threads N] [--ctx N] [--device cpu|cuda[:N]]";
    if (want_help(argc, argv)) return printf("usage: capbench logits %s\n", U), 0;
    common_opts o = {0};
    const char *prompt = NULL;
    long top = 10;
    for (int i = 1; i < argc; i++) {
        int c = common_flag(&o, argc, argv, &i);
        if (c < 0) return usage_err(argv[0], U, "bad option value");
        if (c) continue;
        if (i + 1 >= argc) return usage_err(argv[0], U, "unknown option or missing value");
        const char *a = argv[i], *val = argv[++i];
        if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) prompt = val;
        else if (strcmp(a, "--top") == 0) {
            if (parse_long(val, 1, 1 << 24, &top)) return usage_err(argv[0], U, "bad --top");
        } else return usage_err(argv[0], U, "unknown option");
    }
    if (!o.model || !prompt) return usage_err(argv[0], U, "--model and -p are required");
    cb_engine *e = NULL;
    int rc = open_engine(argv[0], &o, &e);
    if (rc) return rc;
    cb_engine_req req = {.kind = CB_ENGINE_GENERATE, .text = prompt, .add_bos = -1, .parse_special = 1,
                         .max_tokens = 1, .ignore_eos = 1, .want_logits = 1};
    cb_engine_result res = {0};
    rc = run_one(argv[0], e, &req, &res);
    if (!rc) {
        const cb_tokenizer *t = cb_engine_tokenizer(e);
        int64_t V = cb_engine_n_vocab(e);
        if (top > V) top = (long)V;
        /* top-K by (logit desc, id asc): selection by repeated scans is fine for small K;
         * use a partial insertion into a sorted list of K ids */
        int32_t *best = malloc((size_t)top * sizeof *best);
        if (!best) {
            rc = 1;
        } else {
            long nb = 0;
            const float *l = res.logits;
            for (int64_t id = 0; id < V; id++) {
                long p = nb;
                while (p > 0 && l[id] > l[best[p - 1]]) p--;
                if (p >= top) continue;
                long end = nb < top ? nb : top - 1;
                memmove(best + p + 1, best + p, (size_t)(end - p) * sizeof *best);
                best[p] = (int32_t)id;
                if (nb < top) nb++;
            }
            printf("{\"n_vocab\":%lld,\"n_tokens\":%d,\"top\":[", (long long)V, res.n_prompt);
            for (long i = 0; i < nb; i++) {
                char piece[512];
                int pl = cb_tokenizer_piece(t, best[i], piece, sizeof piece);
                if (pl < 0) pl = 0;
                if ((size_t)pl >= sizeof piece) pl = (int)sizeof piece - 1;
                printf("%s{\"id\":%d,\"logit\":", i ? "," : "", best[i]);
                json_num(stdout, l[best[i]]);
                printf(",\"piece\":");
                json_str(stdout, piece, (size_t)pl);
                putchar('}');
            }
            printf("]}\n");
            free(best);
        }
    }
    cb_engine_result_clear(&res);
    close_engine(argv[0], e);
    return rc;
}

int cb_cmd_score(int argc, char **argv) {
    static const char U[] = "--model M --context C --continuation X [--threads N] [--ctx N] [--device cpu|cuda[:N]]";
    if (want_help(argc, argv)) return printf("usage: capbench score %s\n", U), 0;
    common_opts o = {0};
    const char *ctx = NULL, *cont = NULL;
    for (int i = 1; i < argc; i++) {
        int c = common_flag(&o, argc, argv, &i);
        if (c < 0) return usage_err(argv[0], U, "bad option value");
        if (c) continue;
        if (i + 1 >= argc) return usage_err(argv[0], U, "unknown option or missing value");
        const char *a = argv[i], *val = argv[++i];
        if (strcmp(a, "--context") == 0) ctx = val;
        else if (strcmp(a, "--continuation") == 0) cont = val;
        else return usage_err(argv[0], U, "unknown option");
    }
    if (!o.model || !ctx || !cont) return usage_err(argv[0], U, "--model, --context and --continuation are required");
    cb_engine *e = NULL;
    int rc = open_engine(argv[0], &o, &e);
    if (rc) return rc;
    cb_engine_req req = {.kind = CB_ENGINE_LOGLIK, .text = ctx, .add_bos = -1, .parse_special = 1,
                         .cont_text = cont};
    cb_engine_result res = {0};
    rc = run_one(argv[0], e, &req, &res);
    if (!rc) {
        printf("{\"logprob\":");
        json_num(stdout, res.logprob);
        printf(",\"n_tokens\":%d,\"token_logprobs\":[", res.n_scored);
        for (int i = 0; i < res.n_scored; i++) {
            if (i) putchar(',');
            json_num(stdout, res.token_logprobs[i]);
        }
        printf("],\"is_greedy\":%s}\n", res.is_greedy ? "true" : "false");
    }
    cb_engine_result_clear(&res);
    close_engine(argv[0], e);
    return rc;
}

/* ---- gen-model ------------------------------------------------------------------------------ */

int cb_cmd_gen_model(int argc, char **argv) {
    static const char U[] = "--shape tinyllama-1.1b|tiny|tiny256 --type f32|f16|q8_0|q4_0|q4_1|q5_0|q5_1|q4_k|q5_k|q6_k|q4_k_m "
                            "[--seed S] [--vocab GGUF | --synth-vocab] [--threads N] -o FILE";
    if (want_help(argc, argv)) return printf("usage: capbench gen-model %s\n", U), 0;
    cb_genmodel_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--synth-vocab") == 0) {
            o.synth_vocab = 1;
            continue;
        }
        if (i + 1 >= argc) return usage_err(argv[0], U, "unknown option or missing value");
        const char *val = argv[++i];
        long v;
        if (strcmp(a, "--shape") == 0) o.shape = val;
        else if (strcmp(a, "--type") == 0) o.type = val;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) o.out_path = val;
        else if (strcmp(a, "--vocab") == 0) o.vocab_path = val;
        else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(val, &o.seed)) return usage_err(argv[0], U, "bad --seed");
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_long(val, 1, 1024, &v)) return usage_err(argv[0], U, "bad --threads");
            o.n_threads = (int)v;
        } else return usage_err(argv[0], U, "unknown option");
    }
    if (!o.shape || !o.type || !o.out_path) return usage_err(argv[0], U, "--shape, --type and -o are required");
    if (strcmp(o.shape, "tinyllama-1.1b") != 0 && strcmp(o.shape, "tiny") != 0 && strcmp(o.shape, "tiny256") != 0)
        return usage_err(argv[0], U, "unknown --shape");
    static const char *const types[] = {"f32",  "f16",  "q8_0", "q4_0", "q4_1",  "q5_0",
                                        "q5_1", "q4_k", "q5_k", "q6_k", "q4_k_m"};
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) known |= strcmp(o.type, types[i]) == 0;
    if (!known) return usage_err(argv[0], U, "unknown --type");
    cb_err err;
    cb_err_clear(&err);
    if (cb_genmodel_write(&o, &err)) {
        fprintf(stderr, "capbench %s: %s\n", argv[0], err.msg);
        return cb_err_exit_code(&err) ? cb_err_exit_code(&err) : 1;
    }
    return 0;
}

/* ---- bench ------------------------------------------------------------------------------------- */

int cb_cmd_bench_engine(int argc, char **argv) { return cb_engine_bench_main(argc, argv); }
int cb_cmd_bench_eval(int argc, char **argv) { return cb_eval_bench_main(argc, argv); }
