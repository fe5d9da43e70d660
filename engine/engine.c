/* engine/engine.c — request queue, sequence slots and the step loop of the
 * local engine (see engine.h for the contract).
 *
 * Vocabulary of this file:
 *   job    one submitted request; owns its token list
 *          (GENERATE: prompt ++ generated, LOGLIK: context ++ continuation,
 *          ROLLING: the whole text with its leading BOS).
 *   group  jobs queued together whose prefix tokens (GENERATE prompt or
 *          LOGLIK context) start with the same n_shared tokens: the
 *          candidates of one item (same context), or items behind one few-shot
 *          prefix. A group of one runs as a plain job. A larger group prefills
 *          the shared tokens once in one slot (PREFIX sequence) and keeps the
 *          last shared position's logits; every member whose prefix is exactly
 *          the shared part consumes them (first continuation token scored,
 *          first token sampled; so one-token continuations of one context are
 *          all scored from that one row). Then the shared KV rows are copied
 *          into a free slot for each member that still needs the model, which
 *          goes on from position n_shared; the last member inherits the
 *          group's own slot. A job joins the queued group where sharing saves
 *          the most tokens (joining may shorten n_shared; see join_gain).
 *   seq    what occupies a KV slot: a PREFIX prefill, a JOB (a request fed
 *          from index `start`), or one WINDOW of a ROLLING request.
 *
 * A step: (1) hand slots to waiting group members, resumed jobs and queued
 * work; (2) build one batch: one token for every sequence that has exactly one
 * token left to feed (decode), then prefill chunks while the token and
 * logit-row budgets last; (3) one cb_model_forward; (4) walk the logit rows:
 * score, sample, finish. Slot assignment never changes numbers: a sequence's
 * results do not depend on its slot or its batch neighbours.
 *
 * On device "cuda" (engine/cuda_module.h, loaded on first use) the step's
 * logit rows stay on the GPU: each row's argmax and the log-probability of
 * its scored token come back (cb_cuda_rows), and a whole row only where the
 * host needs it (sampling with temperature, a shared prefix, want_logits).
 * Greedy tokens and is_greedy are therefore the same as on the downloaded
 * rows; scores agree to the order of a double sum.
 *
 * If every slot is held by a group whose members are waiting for slots (only
 * possible with few slots), the group's members other than one are detached
 * and re-run from position 0 in their own slots later; their first token was
 * already taken from the shared logits, so nothing is scored twice.
 */
#include "engine/engine.h"

#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/cuda_module.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct job job;
typedef struct group group;

typedef struct win {
    int a;        /* index in job->toks of the window's first input */
    int n_in;     /* inputs fed */
    int out_from; /* first input index whose logits are scored */
    int lp_base;  /* token_logprobs index of that first scored row */
    int bos_first;/* feed BOS instead of toks[a] (perplexity chunks) */
} win;

struct job {
    cb_engine_kind kind;
    cb_engine_result *out;
    int32_t *toks;
    int n_toks, cap_toks;
    int n_prefix;            /* GENERATE prompt / LOGLIK context length */
    int n_cont;              /* LOGLIK */
    group *grp;
    int took_shared;         /* consumed the group's shared logits row */
    /* GENERATE */
    cb_sampler_params sp;
    cb_rng rng;
    int max_tokens, ignore_eos;
    char **stop;
    int n_stop;
    char *text;
    size_t text_len, text_cap;
    cb_finish_reason finish;
    /* LOGLIK / ROLLING */
    double *lp;
    int32_t *lp_ids;
    float *logits;           /* want_logits: rows of V */
    int n_logits, cap_logits;
    int n_lp;
    int greedy;
    /* ROLLING */
    win *wins;
    int n_wins, next_win, wins_left;
    job *qnext;              /* queue link */
    job *aprev, *anext;      /* list of all live jobs (for cb_engine_free) */
};

enum { G_QUEUED, G_PREFILL, G_READY };
struct group {
    int state;
    int n_shared;            /* prefix tokens shared by every member (<= each n_prefix) */
    job **mem;               /* members; mem[0] is the leader */
    int n_mem, cap_mem;
    int next_wait;           /* READY: members [next_wait, n_mem) still need a slot */
    int slot;
    float *logits;           /* (V) at the last prefix position */
    group *gnext;            /* queued-groups / ready-groups list link */
    group *aprev, *anext;    /* list of all live groups */
};

enum { SEQ_PREFIX, SEQ_JOB, SEQ_WIN };
enum { SLOT_FREE, SLOT_SEQ, SLOT_HELD };
typedef struct seq {
    int state;               /* SLOT_* */
    int kind;                /* SEQ_* */
    job *j;
    group *g;
    int n_fed;               /* next input index */
    int out_min;             /* JOB: rows below this index are not wanted */
    int w;                   /* SEQ_WIN: window index */
} seq;

typedef struct fed {
    int slot, j0, k;         /* seq fed inputs [j0, j0 + k) this step */
} fed;

struct cb_engine {
    cb_gguf *gguf;
    cb_model *model;
    cb_tokenizer *tok;
    cb_pool *pool;
    cb_kv_cache *kv;
    cb_model_scratch *scratch;
    cb_model_cuda *cuda;     /* device "cuda": forward pass and KV cache on the GPU (kv, scratch unused) */
    const cb_cuda_module *cm;/* the CUDA module's table (set with cuda) */
    int dev_reduce;          /* cuda: argmax / log-prob on the device (CAPBENCH_CUDA_DEVICE_REDUCE != 0) */
    cb_sampler_scratch *samp;
    char *path, *chat_template;
    char device[16];
    int64_t V;
    int n_ctx, n_seq, n_batch, max_out, n_threads;
    int share_prefix;        /* 0: every request prefills its own prefix */
    /* per-step buffers (n_batch) */
    int32_t *b_tok, *b_slot, *b_pos;
    uint8_t *b_want;
    float *logits;           /* (max_out, V) */
    int32_t *r_target, *r_argmax; /* cuda, per logit row (max_out): scored token (-1 none), argmax */
    uint8_t *r_full;         /* cuda: the row is needed whole on the host */
    double *r_lp;            /* cuda: log-probability of r_target */
    fed *feds;               /* n_seq */
    seq *seqs;               /* n_seq */
    /* queues */
    job *q_head, *q_tail;    /* queued work (group leaders, rolling jobs) */
    job *r_head, *r_tail;    /* resumed (detached) group members */
    group *queued_groups;    /* groups still open for joining */
    group *ready;            /* READY groups with waiting members */
    int n_pending;
    job *all_jobs;           /* every live job and group, whatever state */
    group *all_groups;
    cb_engine_stats stats;
};

/* ---- small helpers ----------------------------------------------------------- */

static char *dup_str(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokens saved by adding a job to a group of n members sharing n_shared
 * tokens when the group then shares l <= n_shared: n * l against the
 * (n - 1) * n_shared it saved before. Joining must gain, and share at least
 * 8 tokens unless it is an exact match (short contexts of one item). */
static int64_t join_gain(const group *g, const job *j, int *l_out) {
    const job *lead = g->mem[0];
    int lim = g->n_shared < j->n_prefix ? g->n_shared : j->n_prefix, l = 0;
    while (l < lim && lead->toks[l] == j->toks[l]) l++;
    *l_out = l;
    int exact = l == g->n_shared && l == j->n_prefix;
    if (l == 0 || (l < 8 && !exact)) return 0;
    return (int64_t)g->n_mem * l - (int64_t)(g->n_mem - 1) * g->n_shared;
}

const char *cb_finish_reason_name(cb_finish_reason r) {
    switch (r) {
    case CB_FINISH_LENGTH: return "length";
    case CB_FINISH_EOS: return "eos";
    case CB_FINISH_STOP: return "stop";
    default: return "";
    }
}

void cb_engine_result_clear(cb_engine_result *r) {
    if (!r) return;
    free(r->error);
    free(r->tokens);
    free(r->text);
    free(r->token_logprobs);
    free(r->scored_ids);
    free(r->logits);
    memset(r, 0, sizeof *r);
}

/* ---- open / free --------------------------------------------------------------- */

int cb_engine_open(const cb_engine_opts *o, cb_engine **out, cb_err *err) {
    *out = NULL;
    if (!o || !o->model_path || !o->model_path[0])
        return cb_err_set(err, CB_EUSAGE, "engine: no model path given");
    if (o->n_threads < 0 || o->n_ctx < 0 || o->n_seq < 0 || o->n_batch < 0 || o->n_threads > 1024 ||
        o->n_seq > 4096 || o->n_batch > (1 << 20) || o->n_ctx > (1 << 24))
        return cb_err_set(err, CB_EUSAGE, "engine: bad options (threads %d, context %d, sequences %d, batch %d)",
                          o->n_threads, o->n_ctx, o->n_seq, o->n_batch);
    const char *dev = o->device ? o->device : "cpu";
    int ordinal = -1;
    if (cb_engine_parse_device(dev, &ordinal) != 0)
        return cb_err_set(err, CB_EUSAGE, "engine: unknown device '%s' (cpu, cuda or cuda:N)", dev);
    const int use_cuda = ordinal >= 0;
    const cb_cuda_module *cm = NULL;
    /* fail before reading the model: no CUDA module, libraries or device */
    if (use_cuda && (cb_cuda_module_get(&cm, err) != 0 || cm->probe(ordinal, NULL, 0, err) != 0))
        return cb_err_prefix(err, "engine: device '%s': ", dev);

    int rc;
    cb_engine *e = calloc(1, sizeof *e);
    if (!e) return cb_err_set(err, CB_ENOMEM, "out of memory (engine)");
    snprintf(e->device, sizeof e->device, "%s", use_cuda ? dev : "cpu");
    e->cm = cm;
    e->path = dup_str(o->model_path, strlen(o->model_path));
    if (!e->path) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = cb_gguf_open(o->model_path, &e->gguf, err))) goto out;
    if ((rc = cb_model_load(e->gguf, NULL, &e->model, err))) goto out;
    if ((rc = cb_tokenizer_from_gguf(e->gguf, &e->tok, err))) {
        cb_err_prefix(err, "%s: ", o->model_path);
        goto out;
    }
    const cb_model_hparams *hp = cb_model_get_hparams(e->model);
    e->V = hp->n_vocab;
    if (cb_tokenizer_n_vocab(e->tok) > e->V) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: the tokenizer has %d tokens but the model only %lld rows",
                        o->model_path, cb_tokenizer_n_vocab(e->tok), (long long)e->V);
        goto out;
    }
    cb_gguf_str ct;
    if (cb_gguf_get_str(e->gguf, "tokenizer.chat_template", &ct) == 0) {
        e->chat_template = dup_str(ct.ptr, (size_t)ct.len);
        if (!e->chat_template) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
    }

    e->n_threads = o->n_threads;
    if (e->n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        e->n_threads = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
    }
    e->n_ctx = o->n_ctx;
    if (e->n_ctx == 0) e->n_ctx = (hp->n_ctx_train > 0 && hp->n_ctx_train < 2048) ? (int)hp->n_ctx_train : 2048;
    e->n_seq = o->n_seq ? o->n_seq : 8;
    e->share_prefix = !o->no_prefix_sharing;
    e->n_batch = o->n_batch ? o->n_batch : 512;
    /* logit rows per step: about 64 MiB of logits, at least one per slot */
    int64_t rows = ((int64_t)64 << 20) / (e->V * (int64_t)sizeof(float));
    if (rows < e->n_seq) rows = e->n_seq;
    if (rows > e->n_batch) rows = e->n_batch;
    if (rows < 1) rows = 1;
    e->max_out = (int)rows;

    if ((rc = cb_pool_new(e->n_threads, &e->pool, err))) goto out;
    if (use_cuda) {
        cb_model_cuda_opts co = {.device = ordinal, .n_slots = e->n_seq, .n_ctx = e->n_ctx,
                                 .max_tokens = e->n_batch, .max_out = e->max_out};
        if ((rc = cm->model_new(e->model, e->gguf, &co, &e->cuda, err))) {
            cb_err_prefix(err, "engine: device '%s': ", dev);
            goto out;
        }
        const char *dr = getenv("CAPBENCH_CUDA_DEVICE_REDUCE");
        e->dev_reduce = !(dr && strcmp(dr, "0") == 0);
        e->r_target = malloc((size_t)e->max_out * sizeof(int32_t));
        e->r_argmax = malloc((size_t)e->max_out * sizeof(int32_t));
        e->r_full = malloc((size_t)e->max_out);
        e->r_lp = malloc((size_t)e->max_out * sizeof(double));
        if (!e->r_target || !e->r_argmax || !e->r_full || !e->r_lp) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory (engine row buffers)");
            goto out;
        }
    } else {
        if ((rc = cb_kv_cache_new(e->model, e->n_seq, e->n_ctx, &e->kv, err))) goto out;
        if ((rc = cb_model_scratch_new(e->model, e->n_batch, e->max_out, e->n_ctx, e->n_threads, &e->scratch, err)))
            goto out;
    }
    if ((rc = cb_sampler_scratch_new(e->V, &e->samp, err))) goto out;
    e->b_tok = malloc((size_t)e->n_batch * sizeof(int32_t));
    e->b_slot = malloc((size_t)e->n_batch * sizeof(int32_t));
    e->b_pos = malloc((size_t)e->n_batch * sizeof(int32_t));
    e->b_want = malloc((size_t)e->n_batch);
    e->logits = malloc((size_t)e->max_out * (size_t)e->V * sizeof(float));
    e->feds = calloc((size_t)e->n_seq, sizeof *e->feds);
    e->seqs = calloc((size_t)e->n_seq, sizeof *e->seqs);
    if (!e->b_tok || !e->b_slot || !e->b_pos || !e->b_want || !e->logits || !e->feds || !e->seqs) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory (engine buffers)");
        goto out;
    }
    *out = e;
    e = NULL;
    rc = 0;
out:
    cb_engine_free(e);
    return rc;
}

static job *job_new(cb_engine *e) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->anext = e->all_jobs;
    if (e->all_jobs) e->all_jobs->aprev = j;
    e->all_jobs = j;
    return j;
}

static void job_free(cb_engine *e, job *j) {
    if (!j) return;
    if (j->aprev) j->aprev->anext = j->anext;
    else e->all_jobs = j->anext;
    if (j->anext) j->anext->aprev = j->aprev;
    free(j->toks);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    free(j->stop);
    free(j->text);
    free(j->lp);
    free(j->lp_ids);
    free(j->wins);
    free(j->logits);
    free(j);
}

static group *group_new(cb_engine *e) {
    group *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->anext = e->all_groups;
    if (e->all_groups) e->all_groups->aprev = g;
    e->all_groups = g;
    return g;
}

static void group_free(cb_engine *e, group *g) {
    if (!g) return;
    if (g->aprev) g->aprev->anext = g->anext;
    else e->all_groups = g->anext;
    if (g->anext) g->anext->aprev = g->aprev;
    free(g->mem);
    free(g->logits);
    free(g);
}

void cb_engine_free(cb_engine *e) {
    if (!e) return;
    /* drop pending work */
    while (e->all_jobs) job_free(e, e->all_jobs);
    while (e->all_groups) group_free(e, e->all_groups);
    free(e->b_tok);
    free(e->b_slot);
    free(e->b_pos);
    free(e->b_want);
    free(e->logits);
    free(e->feds);
    free(e->seqs);
    cb_sampler_scratch_free(e->samp);
    cb_model_scratch_free(e->scratch);
    cb_kv_cache_free(e->kv);
    if (e->cuda) e->cm->model_free(e->cuda);
    free(e->r_target);
    free(e->r_argmax);
    free(e->r_full);
    free(e->r_lp);
    cb_pool_free(e->pool);
    cb_tokenizer_free(e->tok);
    cb_model_free(e->model);
    cb_gguf_free(e->gguf);
    free(e->chat_template);
    free(e->path);
    free(e);
}

const cb_tokenizer *cb_engine_tokenizer(const cb_engine *e) { return e->tok; }
const cb_model *cb_engine_model(const cb_engine *e) { return e->model; }
int64_t cb_engine_n_vocab(const cb_engine *e) { return e->V; }
int cb_engine_n_ctx(const cb_engine *e) { return e->n_ctx; }
int cb_engine_n_seq(const cb_engine *e) { return e->n_seq; }
int cb_engine_n_threads(const cb_engine *e) { return e->n_threads; }
int64_t cb_engine_n_params(const cb_engine *e) { return cb_model_n_params(e->model); }
int64_t cb_engine_n_params_nonembd(const cb_engine *e) { return cb_model_n_params_nonembd(e->model); }
const char *cb_engine_chat_template(const cb_engine *e) { return e->chat_template; }
const char *cb_engine_model_path(const cb_engine *e) { return e->path; }
const char *cb_engine_device(const cb_engine *e) { return e->device; }
void cb_engine_get_stats(const cb_engine *e, cb_engine_stats *st) {
    *st = e->stats;
    if (e->cuda) {
        cb_model_cuda_info mi;
        e->cm->get_info(e->cuda, &mi);
        st->n_graphs = mi.n_graphs;
        st->n_graph_replays = mi.n_replays;
        st->n_decode_eager = mi.n_decode_eager;
        st->n_rows_to_host = mi.n_rows_full;
    }
}

int cb_engine_parse_device(const char *s, int *ordinal) {
    *ordinal = -1;
    if (!s || strcmp(s, "cpu") == 0) return 0;
    if (strcmp(s, "cuda") == 0) {
        *ordinal = 0;
        return 0;
    }
    if (strncmp(s, "cuda:", 5) != 0 || s[5] < '0' || s[5] > '9') return CB_EUSAGE;
    long v = 0;
    for (const char *p = s + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > 999) return CB_EUSAGE;
        v = v * 10 + (*p - '0');
    }
    if (v > 999) return CB_EUSAGE;
    *ordinal = (int)v;
    return 0;
}

void cb_engine_device_note(const cb_engine *e, char *buf, size_t cap) {
    if (!cap) return;
    buf[0] = '\0';
    if (!e->cuda) return;
    cb_model_cuda_info mi;
    e->cm->get_info(e->cuda, &mi);
    const int64_t n_dec = mi.n_replays + mi.n_decode_eager;
    const char *sync = mi.sync_launches ? "; CAPBENCH_CUDA_SYNC=1: every launch synchronized (slow)" : "";
    if (!mi.graphs_enabled)
        snprintf(buf, cap, "%s (%s): decode ran eagerly, CUDA graphs off (CAPBENCH_CUDA_GRAPHS=0); %lld decode steps%s",
                 e->device, mi.device_name, (long long)n_dec, sync);
    else if (mi.graph_error[0])
        snprintf(buf, cap, "%s (%s): graph capture FAILED, those batch sizes ran eagerly: %s; %lld of %lld decode "
                           "steps from %d graph(s)%s",
                 e->device, mi.device_name, mi.graph_error, (long long)mi.n_replays, (long long)n_dec, mi.n_graphs,
                 sync);
    else if (mi.n_replays == 0)
        snprintf(buf, cap, "%s (%s): no decode step ran from a CUDA graph (%lld decode steps, each the first of its "
                           "batch size, which runs eagerly)%s",
                 e->device, mi.device_name, (long long)n_dec, sync);
    else
        snprintf(buf, cap, "%s (%s): decode from CUDA graphs: %lld of %lld decode steps replayed from %d graph(s) "
                           "(the first step of each batch size runs eagerly)%s",
                 e->device, mi.device_name, (long long)mi.n_replays, (long long)n_dec, mi.n_graphs, sync);
}

/* ---- completion ------------------------------------------------------------------ */

/* Moves the job's outputs into its result and frees the job. */
static void job_complete(cb_engine *e, job *j) {
    cb_engine_result *r = j->out;
    r->status = 0;
    r->done = 1;
    r->n_prompt = j->kind == CB_ENGINE_ROLLING ? j->n_toks : j->n_prefix;
    if (j->kind == CB_ENGINE_GENERATE) {
        int n = j->n_toks - j->n_prefix;
        r->tokens = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
        r->text = j->text ? j->text : dup_str("", 0);
        r->text_len = j->text ? j->text_len : 0;
        j->text = NULL;
        if (r->tokens) memcpy(r->tokens, j->toks + j->n_prefix, (size_t)n * sizeof(int32_t));
        r->n_tokens = n;
        r->finish = j->finish;
        if (!r->tokens || !r->text) {
            r->status = CB_ENOMEM;
            r->error = dup_str("out of memory", 13);
        }
    } else {
        double sum = 0.0;
        for (int i = 0; i < j->n_lp; i++) sum += j->lp[i];
        r->logprob = sum;
        r->n_scored = j->n_lp;
        r->token_logprobs = j->lp;
        r->scored_ids = j->lp_ids;
        r->is_greedy = j->greedy;
        j->lp = NULL;
        j->lp_ids = NULL;
    }
    r->logits = j->logits;
    r->n_logits = j->n_logits;
    j->logits = NULL;
    job_free(e, j);
    e->n_pending--;
}

/* Completes a request at submit time with an error of its own. */
static int fail_request(cb_engine *e, cb_engine_result *out, int code, const char *msg) {
    (void)e;
    memset(out, 0, sizeof *out);
    out->done = 1;
    out->status = code;
    out->error = dup_str(msg, strlen(msg));
    return out->error ? 0 : CB_ENOMEM;
}

/* GENERATE: takes the sampled token; sets j->finish when generation ends.
 * Returns CB_ENOMEM when the text cannot grow. */
static void keep_logits(cb_engine *e, job *j, const float *row) {
    if (j->logits && j->n_logits < j->cap_logits)
        memcpy(j->logits + (size_t)j->n_logits++ * (size_t)e->V, row, (size_t)e->V * sizeof(float));
}

/* GENERATE: whether the next token can be taken from the row's argmax alone
 * (cb_sampler_pick is then the argmax and draws nothing). */
static int gen_argmax_only(const job *j) {
    return !j->logits && (j->sp.temperature <= 0.0f || j->sp.top_k == 1);
}

static int gen_take(cb_engine *e, job *j, int32_t t);

static int gen_accept(cb_engine *e, job *j, const float *row) {
    keep_logits(e, j, row);
    return gen_take(e, j, cb_sampler_pick(&j->sp, &j->rng, row, e->V, e->samp));
}

/* GENERATE: appends token t (or finishes on EOS, a stop string, the length). */
static int gen_take(cb_engine *e, job *j, int32_t t) {
    if (!j->ignore_eos && cb_tokenizer_is_eog(e->tok, t)) {
        j->finish = CB_FINISH_EOS;
        return 0;
    }
    j->toks[j->n_toks++] = t; /* capacity reserved at submit */
    char piece[256];
    int pl = cb_tokenizer_piece(e->tok, t, piece, sizeof piece);
    if (pl < 0) pl = 0;
    if (j->text_len + (size_t)pl + 1 > j->text_cap) {
        size_t cap = j->text_cap ? j->text_cap : 64;
        while (cap < j->text_len + (size_t)pl + 1) cap *= 2;
        char *nt = realloc(j->text, cap);
        if (!nt) return CB_ENOMEM;
        j->text = nt;
        j->text_cap = cap;
    }
    if ((size_t)pl < sizeof piece) {
        memcpy(j->text + j->text_len, piece, (size_t)pl);
    } else { /* piece longer than the stack buffer */
        cb_tokenizer_piece(e->tok, t, j->text + j->text_len, (size_t)pl + 1);
    }
    size_t before = j->text_len;
    j->text_len += (size_t)pl;
    j->text[j->text_len] = '\0';
    if (j->n_stop > 0) {
        int64_t at = cb_stop_find(j->text, j->text_len, before, (const char *const *)j->stop, j->n_stop);
        if (at >= 0) {
            j->text_len = (size_t)at;
            j->text[at] = '\0';
            j->finish = CB_FINISH_STOP;
            return 0;
        }
    }
    int n_gen = j->n_toks - j->n_prefix;
    if ((j->max_tokens > 0 && n_gen >= j->max_tokens) || j->n_toks >= j->cap_toks) j->finish = CB_FINISH_LENGTH;
    return 0;
}

/* LOGLIK / ROLLING: records target token `tgt` at score index i, given its
 * log-probability and the row's argmax. */
static void score_value(job *j, int i, double lp, int64_t argmax, int32_t tgt) {
    j->lp[i] = lp;
    j->lp_ids[i] = tgt;
    if (argmax != tgt) j->greedy = 0;
}

/* LOGLIK / ROLLING: scores target token `tgt` from logits row into slot i. */
static void score_row(cb_engine *e, job *j, int i, const float *row, int32_t tgt) {
    if (j->kind == CB_ENGINE_LOGLIK) keep_logits(e, j, row);
    score_value(j, i, cb_log_softmax_at(row, e->V, tgt), cb_argmax(row, e->V), tgt);
}

/* ---- submit ------------------------------------------------------------------------ */

static int encode(cb_engine *e, const char *text, size_t len, int add_bos, int special, int32_t **ids, int *n,
                  cb_err *err) {
    return cb_tokenizer_encode_alloc(e->tok, text, len, add_bos, special, ids, n, err);
}

static int32_t prefix_token(const cb_engine *e) {
    int32_t b = cb_tokenizer_bos(e->tok);
    return b >= 0 ? b : cb_tokenizer_eos(e->tok);
}

static void queue_push(job **head, job **tail, job *j) {
    j->qnext = NULL;
    if (*tail) (*tail)->qnext = j;
    else *head = j;
    *tail = j;
}

/* Builds the rolling windows of j (toks already set). Returns a message on a
 * request error, NULL when fine (or sets *oom). */
static const char *plan_rolling(cb_engine *e, job *j, const cb_engine_req *req, int *oom) {
    int W = req->window ? req->window : e->n_ctx;
    if (W < 2 || W > e->n_ctx) return "rolling window must be between 2 and the engine's context";
    int add_bos = req->add_bos < 0 ? cb_tokenizer_add_bos(e->tok) : req->add_bos != 0;
    if (req->rolling_mode == CB_ROLLING_PERPLEXITY) {
        if (W < 3) return "perplexity chunks need at least 3 tokens";
        int n_chunks = j->n_toks / W;
        if (n_chunks < 1) return "text is shorter than one perplexity chunk";
        j->wins = calloc((size_t)n_chunks, sizeof *j->wins);
        if (!j->wins) return *oom = 1, NULL;
        int per = W - W / 2 - 1;
        for (int c = 0; c < n_chunks; c++) {
            j->wins[c] = (win){.a = c * W, .n_in = W - 1, .out_from = W / 2, .lp_base = c * per,
                               .bos_first = add_bos && cb_tokenizer_bos(e->tok) >= 0};
        }
        j->n_wins = n_chunks;
        j->n_lp = n_chunks * per;
    } else if (req->rolling_mode == CB_ROLLING_WINDOWS) {
        int S = req->stride ? req->stride : W;
        if (S < 1 || S > W) return "rolling stride must be between 1 and the window";
        int N = j->n_toks - 1; /* targets 1..N */
        if (N < 1) return "text has no token to score";
        int cap = 1 + (N + S - 1) / S;
        j->wins = calloc((size_t)cap, sizeof *j->wins);
        if (!j->wins) return *oom = 1, NULL;
        int L = N < W ? N : W, n = 0;
        j->wins[n++] = (win){.a = 0, .n_in = L, .out_from = 0, .lp_base = 0};
        for (int done = L; done < N;) {
            int k = N - done < S ? N - done : S;
            int a = done + k - W > 0 ? done + k - W : 0;
            j->wins[n++] = (win){.a = a, .n_in = done + k - a, .out_from = done - a, .lp_base = done};
            done += k;
        }
        j->n_wins = n;
        j->n_lp = N;
    } else {
        return "unknown rolling mode";
    }
    j->wins_left = j->n_wins;
    j->lp = malloc((size_t)j->n_lp * sizeof(double));
    j->lp_ids = malloc((size_t)j->n_lp * sizeof(int32_t));
    if (!j->lp || !j->lp_ids) *oom = 1;
    return NULL;
}

/* Tokenizes the prefix (and continuation) of a GENERATE / LOGLIK request into
 * j->toks. Returns a request-error message or NULL; *oom on allocation failure. */
static const char *tokenize_request(cb_engine *e, job *j, const cb_engine_req *req, int *oom, cb_err *terr) {
    int add_bos = req->add_bos < 0 ? cb_tokenizer_add_bos(e->tok) : req->add_bos != 0;
    int32_t *pre = NULL, *whole = NULL, *cont = NULL;
    int n_pre = 0, n_whole = 0, n_cont = 0;
    const char *msg = NULL;
    size_t tlen = req->text ? (req->text_len ? req->text_len : strlen(req->text)) : 0;

    if (req->text) {
        if (encode(e, req->text, tlen, add_bos, req->parse_special, &pre, &n_pre, terr)) {
            msg = terr->msg;
            goto out;
        }
    } else {
        if (req->n_ids < 0 || (req->n_ids > 0 && !req->ids)) {
            msg = "bad prompt ids";
            goto out;
        }
        pre = malloc((size_t)(req->n_ids > 0 ? req->n_ids : 1) * sizeof(int32_t));
        if (!pre) goto oom;
        if (req->n_ids) memcpy(pre, req->ids, (size_t)req->n_ids * sizeof(int32_t));
        n_pre = req->n_ids;
    }
    for (int i = 0; i < n_pre; i++)
        if (pre[i] < 0 || pre[i] >= e->V) {
            msg = "prompt token id out of range";
            goto out;
        }

    if (j->kind == CB_ENGINE_LOGLIK) {
        if (req->cont_text) {
            size_t clen = req->cont_len ? req->cont_len : strlen(req->cont_text);
            if (req->text) {
                /* lm-eval split: whole = encode(context + continuation) */
                char *cat = malloc(tlen + clen + 1);
                if (!cat) goto oom;
                memcpy(cat, req->text, tlen);
                memcpy(cat + tlen, req->cont_text, clen);
                int rc = encode(e, cat, tlen + clen, add_bos, req->parse_special, &whole, &n_whole, terr);
                free(cat);
                if (rc) {
                    msg = terr->msg;
                    goto out;
                }
                if (n_whole <= n_pre) {
                    msg = "continuation is empty after tokenization";
                    goto out;
                }
                memcpy(pre, whole, (size_t)n_pre * sizeof(int32_t)); /* context = whole[:len(encode(context))] */
                n_cont = n_whole - n_pre;
                cont = malloc((size_t)n_cont * sizeof(int32_t));
                if (!cont) goto oom;
                memcpy(cont, whole + n_pre, (size_t)n_cont * sizeof(int32_t));
            } else {
                if (encode(e, req->cont_text, clen, 0, req->parse_special, &cont, &n_cont, terr)) {
                    msg = terr->msg;
                    goto out;
                }
            }
        } else {
            if (req->n_cont_ids < 0 || (req->n_cont_ids > 0 && !req->cont_ids)) {
                msg = "bad continuation ids";
                goto out;
            }
            n_cont = req->n_cont_ids;
            cont = malloc((size_t)(n_cont > 0 ? n_cont : 1) * sizeof(int32_t));
            if (!cont) goto oom;
            if (n_cont) memcpy(cont, req->cont_ids, (size_t)n_cont * sizeof(int32_t));
        }
        if (n_cont < 1) {
            msg = "continuation is empty";
            goto out;
        }
        for (int i = 0; i < n_cont; i++)
            if (cont[i] < 0 || cont[i] >= e->V) {
                msg = "continuation token id out of range";
                goto out;
            }
    }

    if (n_pre == 0) { /* empty context: condition on BOS (EOS without one) */
        int32_t p = prefix_token(e);
        if (p < 0) {
            msg = j->kind == CB_ENGINE_GENERATE ? "prompt is empty" : "empty context and the vocab has no BOS/EOS";
            goto out;
        }
        int32_t *np = realloc(pre, sizeof(int32_t));
        if (!np) goto oom;
        pre = np;
        pre[0] = p;
        n_pre = 1;
    }
    if (n_pre > e->n_ctx) {
        msg = "prompt is longer than the engine's context";
        goto out;
    }
    if (j->kind == CB_ENGINE_LOGLIK && n_pre + n_cont - 1 > e->n_ctx) {
        msg = "context plus continuation is longer than the engine's context";
        goto out;
    }
    /* token list with room for all of the generation */
    int cap = n_pre + n_cont;
    if (j->kind == CB_ENGINE_GENERATE) {
        int64_t want = (int64_t)n_pre + (req->max_tokens > 0 ? req->max_tokens : e->n_ctx);
        if (want > (int64_t)e->n_ctx + 1) want = (int64_t)e->n_ctx + 1; /* last token need not be fed */
        cap = (int)want;
    }
    j->toks = malloc((size_t)cap * sizeof(int32_t));
    if (!j->toks) goto oom;
    memcpy(j->toks, pre, (size_t)n_pre * sizeof(int32_t));
    if (n_cont) memcpy(j->toks + n_pre, cont, (size_t)n_cont * sizeof(int32_t));
    j->cap_toks = cap;
    j->n_prefix = n_pre;
    j->n_cont = n_cont;
    j->n_toks = n_pre + n_cont;
    goto out;
oom:
    *oom = 1;
out:
    free(pre);
    free(whole);
    free(cont);
    return msg;
}

int cb_engine_submit(cb_engine *e, const cb_engine_req *req, cb_engine_result *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    job *j = job_new(e);
    if (!j) return cb_err_set(err, CB_ENOMEM, "out of memory (request)");
    j->kind = req->kind;
    j->out = out;
    j->greedy = 1;
    int oom = 0;
    const char *msg = NULL;
    cb_err terr;
    cb_err_clear(&terr);

    if (req->kind == CB_ENGINE_GENERATE || req->kind == CB_ENGINE_LOGLIK) {
        msg = tokenize_request(e, j, req, &oom, &terr);
        if (!msg && !oom && req->kind == CB_ENGINE_GENERATE) {
            j->sp = req->sampling;
            cb_rng_seed(&j->rng, req->sampling.seed);
            j->max_tokens = req->max_tokens;
            j->ignore_eos = req->ignore_eos;
            if (req->n_stop < 0 || (req->n_stop > 0 && !req->stop)) {
                msg = "bad stop strings";
            } else if (req->n_stop > 0) {
                j->stop = calloc((size_t)req->n_stop, sizeof *j->stop);
                if (!j->stop) oom = 1;
                for (int i = 0; !oom && i < req->n_stop; i++) {
                    const char *s = req->stop[i] ? req->stop[i] : "";
                    j->stop[i] = dup_str(s, strlen(s));
                    if (!j->stop[i]) oom = 1;
                    j->n_stop = i + 1;
                }
            }
        }
        if (!msg && !oom && req->kind == CB_ENGINE_LOGLIK) {
            j->n_lp = j->n_cont;
            j->lp = malloc((size_t)j->n_lp * sizeof(double));
            j->lp_ids = malloc((size_t)j->n_lp * sizeof(int32_t));
            if (!j->lp || !j->lp_ids) oom = 1;
        }
    } else if (req->kind == CB_ENGINE_ROLLING) {
        int32_t *ids = NULL;
        int n = 0;
        if (req->text) {
            size_t tlen = req->text_len ? req->text_len : strlen(req->text);
            int pp = req->rolling_mode == CB_ROLLING_PERPLEXITY;
            int add_bos = pp ? (req->add_bos < 0 ? cb_tokenizer_add_bos(e->tok) : req->add_bos != 0) : 0;
            if (encode(e, req->text, tlen, add_bos, 0, &ids, &n, &terr)) {
                msg = terr.msg;
            } else if (!pp) {
                /* windows: prefix token, then the text */
                int32_t p = prefix_token(e);
                int32_t *ni = realloc(ids, (size_t)(n + 1) * sizeof(int32_t));
                if (!ni) {
                    oom = 1;
                } else {
                    ids = ni;
                    memmove(ids + 1, ids, (size_t)n * sizeof(int32_t));
                    ids[0] = p;
                    n++;
                    if (p < 0) msg = "the vocab has no BOS or EOS token to start the text";
                }
            }
        } else if (req->n_ids < 1 || !req->ids) {
            msg = "rolling request without text";
        } else {
            ids = malloc((size_t)req->n_ids * sizeof(int32_t));
            if (!ids) oom = 1;
            else memcpy(ids, req->ids, (size_t)req->n_ids * sizeof(int32_t));
            n = req->n_ids;
            for (int i = 0; !oom && i < n; i++)
                if (ids[i] < 0 || ids[i] >= e->V) msg = "token id out of range";
        }
        j->toks = ids;
        j->n_toks = j->cap_toks = n;
        if (!msg && !oom) msg = plan_rolling(e, j, req, &oom);
    } else {
        msg = "unknown request kind";
    }

    if (!msg && !oom && req->want_logits && j->kind != CB_ENGINE_ROLLING) {
        j->cap_logits = j->kind == CB_ENGINE_LOGLIK ? j->n_cont : j->cap_toks - j->n_prefix + 1;
        j->logits = malloc((size_t)j->cap_logits * (size_t)e->V * sizeof(float));
        if (!j->logits) oom = 1;
    }
    if (oom) {
        job_free(e, j);
        memset(out, 0, sizeof *out);
        return cb_err_set(err, CB_ENOMEM, "out of memory (request)");
    }
    if (msg) {
        int rc = fail_request(e, out, CB_EUSAGE, msg);
        job_free(e, j);
        return rc ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
    }
    e->n_pending++;

    if (j->kind == CB_ENGINE_ROLLING) {
        queue_push(&e->q_head, &e->q_tail, j);
        return 0;
    }
    /* join the queued group where sharing gains the most, or open a new one */
    group *best = NULL;
    int64_t best_gain = 0;
    int best_l = 0;
    for (group *g = e->share_prefix ? e->queued_groups : NULL; g; g = g->gnext) {
        int l;
        int64_t gain = join_gain(g, j, &l);
        if (gain > best_gain) {
            best = g;
            best_gain = gain;
            best_l = l;
        }
    }
    for (group *g = best; g; g = NULL) {
        if (g->n_mem == g->cap_mem) {
            int nc = g->cap_mem * 2;
            job **nm = realloc(g->mem, (size_t)nc * sizeof *nm);
            if (!nm) {
                e->n_pending--;
                job_free(e, j);
                return cb_err_set(err, CB_ENOMEM, "out of memory (request group)");
            }
            g->mem = nm;
            g->cap_mem = nc;
        }
        g->mem[g->n_mem++] = j;
        g->n_shared = best_l;
        j->grp = g;
        return 0;
    }
    group *g = group_new(e);
    if (g) g->mem = malloc(4 * sizeof *g->mem);
    if (!g || !g->mem) {
        group_free(e, g);
        e->n_pending--;
        job_free(e, j);
        return cb_err_set(err, CB_ENOMEM, "out of memory (request group)");
    }
    g->cap_mem = 4;
    g->mem[g->n_mem++] = j;
    g->n_shared = j->n_prefix;
    g->slot = -1;
    g->state = G_QUEUED;
    g->gnext = e->queued_groups;
    e->queued_groups = g;
    j->grp = g;
    queue_push(&e->q_head, &e->q_tail, j);
    return 0;
}

/* ---- scheduling ------------------------------------------------------------------------ */

static void unlink_group(group **list, group *g) {
    for (group **p = list; *p; p = &(*p)->gnext)
        if (*p == g) {
            *p = g->gnext;
            g->gnext = NULL;
            return;
        }
}

static int free_slot(const cb_engine *e) {
    for (int s = 0; s < e->n_seq; s++)
        if (e->seqs[s].state == SLOT_FREE) return s;
    return -1;
}

static void start_job(cb_engine *e, int s, job *j, int from) {
    e->seqs[s] = (seq){.state = SLOT_SEQ, .kind = SEQ_JOB, .j = j, .n_fed = from, .out_min = from};
}

/* Inputs a sequence feeds in total. */
static int seq_n_in(const seq *q) {
    switch (q->kind) {
    case SEQ_PREFIX: return q->g->n_shared;
    case SEQ_WIN: return q->j->wins[q->w].n_in;
    default:
        return q->j->kind == CB_ENGINE_LOGLIK ? q->j->n_prefix + q->j->n_cont - 1 : q->j->n_toks;
    }
}

/* Whether input index i of the sequence needs its logits. */
static int seq_wants(const seq *q, int i) {
    switch (q->kind) {
    case SEQ_PREFIX: return i == q->g->n_shared - 1;
    case SEQ_WIN: return i >= q->j->wins[q->w].out_from;
    default:
        if (i < q->out_min) return 0;
        if (q->j->kind == CB_ENGINE_LOGLIK) return i >= q->j->n_prefix - 1;
        return i == q->j->n_toks - 1;
    }
}

static int32_t seq_token(const cb_engine *e, const seq *q, int i) {
    switch (q->kind) {
    case SEQ_PREFIX: return q->g->mem[0]->toks[i];
    case SEQ_WIN: {
        const win *w = &q->j->wins[q->w];
        if (i == 0 && w->bos_first) return cb_tokenizer_bos(e->tok);
        return q->j->toks[w->a + i];
    }
    default: return q->j->toks[i];
    }
}

/* Hands out slots: waiting group members first, then resumed jobs, then the
 * queue. Returns nonzero on allocation failure. */
static int schedule(cb_engine *e, cb_err *err) {
    /* 1. members of READY groups */
    for (group *g = e->ready, *gn; g; g = gn) {
        gn = g->gnext;
        while (g->next_wait < g->n_mem) {
            job *j = g->mem[g->next_wait];
            int from = j->took_shared ? j->n_prefix : g->n_shared; /* took_shared: n_prefix == n_shared */
            if (g->n_mem - g->next_wait == 1) { /* last member inherits the group's slot */
                g->next_wait++;
                start_job(e, g->slot, j, from);
                j->grp = NULL;
                break;
            }
            int s = free_slot(e);
            if (s < 0) break;
            if (e->cuda) {
                int rc = e->cm->kv_copy(e->cuda, s, g->slot, g->n_shared, err);
                if (rc) return rc;
            } else {
                cb_kv_cache_copy(e->kv, s, g->slot, g->n_shared);
            }
            g->next_wait++;
            j->grp = NULL;
            start_job(e, s, j, from);
        }
        if (g->next_wait >= g->n_mem) {
            if (e->seqs[g->slot].state == SLOT_HELD) e->seqs[g->slot].state = SLOT_FREE;
            unlink_group(&e->ready, g);
            group_free(e, g);
        }
    }
    /* 2. detached members: re-run their prefix themselves */
    for (int s; e->r_head && (s = free_slot(e)) >= 0;) {
        job *j = e->r_head;
        e->r_head = j->qnext;
        if (!e->r_head) e->r_tail = NULL;
        start_job(e, s, j, 0);
        /* a first token taken from the shared logits is not scored or sampled again */
        e->seqs[s].out_min = j->took_shared ? j->n_prefix : 0;
    }
    /* 3. queued work */
    for (int s; e->q_head && (s = free_slot(e)) >= 0;) {
        job *j = e->q_head;
        if (j->kind == CB_ENGINE_ROLLING) {
            e->seqs[s] = (seq){.state = SLOT_SEQ, .kind = SEQ_WIN, .j = j, .w = j->next_win++};
            if (j->next_win < j->n_wins) continue; /* more windows of this text */
        } else {
            group *g = j->grp;
            unlink_group(&e->queued_groups, g);
            if (g->n_mem == 1) {
                j->grp = NULL;
                group_free(e, g);
                start_job(e, s, j, 0);
            } else {
                g->logits = malloc((size_t)e->V * sizeof(float));
                if (!g->logits) return cb_err_set(err, CB_ENOMEM, "out of memory (shared prefix logits)");
                g->state = G_PREFILL;
                g->slot = s;
                e->seqs[s] = (seq){.state = SLOT_SEQ, .kind = SEQ_PREFIX, .g = g};
            }
        }
        e->q_head = j->qnext;
        if (!e->q_head) e->q_tail = NULL;
    }
    /* 4. every slot held by a waiting group: detach all but one member */
    int running = 0;
    for (int s = 0; s < e->n_seq; s++) running += e->seqs[s].state == SLOT_SEQ;
    if (!running && e->ready) {
        group *g = e->ready;
        while (g->n_mem - g->next_wait > 1) {
            job *j = g->mem[g->next_wait++];
            j->grp = NULL;
            queue_push(&e->r_head, &e->r_tail, j);
        }
        job *j = g->mem[g->next_wait++];
        j->grp = NULL;
        start_job(e, g->slot, j, j->took_shared ? j->n_prefix : g->n_shared);
        unlink_group(&e->ready, g);
        group_free(e, g);
    }
    return 0;
}

/* A group's shared prefix is done: every member whose whole prefix it is
 * takes its first token from the shared logits; those that still need the
 * model wait for a slot. */
static int group_ready(cb_engine *e, group *g) {
    int keep = 0;
    for (int i = 0; i < g->n_mem; i++) {
        job *j = g->mem[i];
        int done = 0;
        if (j->n_prefix > g->n_shared) {
            /* goes on with the rest of its own prefix */
        } else if (j->kind == CB_ENGINE_LOGLIK) {
            j->took_shared = 1;
            score_row(e, j, 0, g->logits, j->toks[j->n_prefix]);
            done = j->n_cont == 1;
        } else {
            j->took_shared = 1;
            if (gen_accept(e, j, g->logits)) return CB_ENOMEM;
            done = j->finish != CB_FINISH_NONE;
        }
        if (done) job_complete(e, j);
        else g->mem[keep++] = j;
    }
    g->n_mem = keep;
    g->next_wait = 0;
    g->state = G_READY;
    if (keep == 0) {
        e->seqs[g->slot].state = SLOT_FREE;
        group_free(e, g);
        return 0;
    }
    e->seqs[g->slot].state = SLOT_HELD;
    e->seqs[g->slot].g = g;
    /* append to the ready list (FIFO) */
    group **p = &e->ready;
    while (*p) p = &(*p)->gnext;
    g->gnext = NULL;
    *p = g;
    return 0;
}

/* cuda: what logit row r (token i of sequence q) must bring back: the
 * scored token (r_target) and whether the whole row is needed (r_full). */
static void row_needs(cb_engine *e, const seq *q, int i, int r) {
    int32_t tgt = -1;
    int full = 1;
    if (q->kind == SEQ_WIN) {
        const win *w = &q->j->wins[q->w];
        tgt = q->j->toks[w->a + i + 1];
        full = 0;
    } else if (q->kind == SEQ_JOB && q->j->kind == CB_ENGINE_LOGLIK) {
        tgt = q->j->toks[i + 1];
        full = q->j->logits != NULL;
    } else if (q->kind == SEQ_JOB) {
        full = !gen_argmax_only(q->j);
    } /* SEQ_PREFIX: the shared row is kept whole for the members */
    e->r_target[r] = tgt;
    e->r_full[r] = (uint8_t)(full || !e->dev_reduce);
}

int cb_engine_step(cb_engine *e, int *n_pending, cb_err *err) {
    int rc = schedule(e, err);
    if (rc) return rc;

    /* build the batch: single remaining tokens (decode) first, then chunks */
    int T = 0, rows = 0, n_fed = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int s = 0; s < e->n_seq; s++) {
            seq *q = &e->seqs[s];
            if (q->state != SLOT_SEQ) continue;
            int left = seq_n_in(q) - q->n_fed;
            if (left <= 0 || (pass == 0) != (left == 1)) continue;
            int j0 = q->n_fed, k = 0;
            while (k < left && T < e->n_batch) {
                int i = j0 + k, want = seq_wants(q, i);
                if (want && rows >= e->max_out) break;
                e->b_tok[T] = seq_token(e, q, i);
                e->b_slot[T] = s;
                e->b_pos[T] = i;
                e->b_want[T] = (uint8_t)want;
                if (want && e->cuda) row_needs(e, q, i, rows);
                rows += want;
                T++;
                k++;
            }
            if (k > 0) e->feds[n_fed++] = (fed){.slot = s, .j0 = j0, .k = k};
        }
    }
    if (T > 0) {
        cb_batch b = {.n_tokens = T, .token = e->b_tok, .slot = e->b_slot, .pos = e->b_pos, .want_logits = e->b_want};
        double t0 = now_s();
        if (e->cuda && e->dev_reduce) {
            cb_cuda_rows rq = {.target = e->r_target, .full_from = rows, .full_to = 0, .argmax = e->r_argmax,
                               .logprob = e->r_lp};
            for (int r = 0; r < rows; r++)
                if (e->r_full[r]) {
                    if (r < rq.full_from) rq.full_from = r;
                    rq.full_to = r + 1;
                }
            rc = e->cm->forward(e->cuda, &b, &rq, e->logits, err);
        } else if (e->cuda) {
            rc = e->cm->forward(e->cuda, &b, NULL, e->logits, err);
        } else {
            rc = cb_model_forward(e->model, e->kv, e->scratch, e->pool, &b, e->logits, err);
        }
        if (rc) return cb_err_prefix(err, "engine step: ");
        e->stats.forward_s += now_s() - t0;
        e->stats.n_steps++;
        e->stats.n_tokens += T;
        e->stats.n_logit_rows += rows;
    }

    /* consume the logit rows in batch order */
    int r = 0;
    for (int f = 0; f < n_fed; f++) {
        seq *q = &e->seqs[e->feds[f].slot];
        int j0 = e->feds[f].j0, k = e->feds[f].k;
        for (int i = j0; i < j0 + k; i++) {
            if (!seq_wants(q, i)) continue;
            const int rr = r++;
            const float *row = e->logits + (size_t)rr * (size_t)e->V;
            /* device reductions: row is valid only where r_full was set */
            const int dev = e->cuda && e->dev_reduce;
            if (q->kind == SEQ_PREFIX) {
                memcpy(q->g->logits, row, (size_t)e->V * sizeof(float));
            } else if (q->kind == SEQ_WIN) {
                job *j = q->j;
                const win *w = &j->wins[q->w];
                const int k = w->lp_base + (i - w->out_from);
                if (dev) score_value(j, k, e->r_lp[rr], e->r_argmax[rr], e->r_target[rr]);
                else score_row(e, j, k, row, j->toks[w->a + i + 1]);
            } else if (q->j->kind == CB_ENGINE_LOGLIK) {
                job *j = q->j;
                if (dev) {
                    keep_logits(e, j, row); /* a no-op unless want_logits (then the row came back) */
                    score_value(j, i + 1 - j->n_prefix, e->r_lp[rr], e->r_argmax[rr], e->r_target[rr]);
                } else {
                    score_row(e, j, i + 1 - j->n_prefix, row, j->toks[i + 1]);
                }
            } else {
                int orc = dev && !e->r_full[rr] ? gen_take(e, q->j, e->r_argmax[rr]) : gen_accept(e, q->j, row);
                if (orc) return cb_err_set(err, CB_ENOMEM, "out of memory (generated text)");
            }
        }
        q->n_fed = j0 + k;
        /* finished sequences release their slot */
        if (q->kind == SEQ_PREFIX) {
            if (q->n_fed >= seq_n_in(q)) {
                group *g = q->g;
                q->state = SLOT_FREE;
                if (group_ready(e, g)) return cb_err_set(err, CB_ENOMEM, "out of memory (generated text)");
            }
        } else if (q->kind == SEQ_WIN) {
            if (q->n_fed >= seq_n_in(q)) {
                job *j = q->j;
                q->state = SLOT_FREE;
                if (--j->wins_left == 0) job_complete(e, j);
            }
        } else if (q->j->kind == CB_ENGINE_LOGLIK) {
            if (q->n_fed >= seq_n_in(q)) {
                q->state = SLOT_FREE;
                job_complete(e, q->j);
            }
        } else if (q->j->finish != CB_FINISH_NONE) {
            q->state = SLOT_FREE;
            job_complete(e, q->j);
        }
    }
    if (n_pending) *n_pending = e->n_pending;
    if (T == 0 && e->n_pending > 0) {
        /* nothing could be fed although work is pending: a scheduling bug */
        return cb_err_set(err, CB_ERUNTIME, "engine step: %d requests pending but no sequence can advance",
                          e->n_pending);
    }
    return 0;
}

int cb_engine_run(cb_engine *e, const cb_engine_req *reqs, cb_engine_result *out, int n, cb_err *err) {
    for (int i = 0; i < n; i++) {
        int rc = cb_engine_submit(e, &reqs[i], &out[i], err);
        if (rc) return rc;
    }
    int pending = e->n_pending;
    while (pending > 0) {
        int rc = cb_engine_step(e, &pending, err);
        if (rc) return rc;
    }
    return 0;
}
