/* engine/model_cuda.h — the llama and qwen2 forward pass on a CUDA device: the model's
 * weights, KV cache and activations in device memory, one step computed by
 * the launchers of kernels/cuda/cuda_kernels.h.
 *
 * It mirrors cb_model_forward (model.h) and takes the same cb_batch, so the
 * engine keeps its scheduling, sampling and batching and only swaps the
 * forward pass and the KV-slot copy. Per step, only the batch's token ids,
 * slots, positions and scoring targets go to the device; what comes back is,
 * per logit row, its argmax and the log-probability of its target token
 * (computed on the device by cb_cuda_argmax and cb_cuda_log_softmax_gather),
 * plus whole rows only where the caller asks for them (sampling, raw logits).
 *
 * This file is built into the CUDA module (engine/cuda_module.h), never into
 * cb_core: callers reach these functions through cb_cuda_module_get's table.
 *
 * Pure decode steps (one token per sequence, every token's logits wanted) are
 * captured as a CUDA graph per batch size on their second occurrence (the
 * first runs eagerly, outside any capture) and replayed after;
 * their per-step inputs live in device buffers written before each replay
 * (see cb_cuda_graph_* in cuda_kernels.h). Environment: CAPBENCH_CUDA_GRAPHS=0
 * turns graphs off (the results are identical either way). If a capture
 * fails, that batch size runs eagerly from then on and the reason is kept;
 * cb_model_cuda_get_info counts captures, replays and eager decode steps so
 * that callers can say whether decode ran from graphs, and why not.
 * CAPBENCH_CUDA_SYNC=1 synchronizes and checks after every launch (and every
 * graph replay), so a fault names the kernel and grid that caused it.
 *
 * Steps of at most CB_CUDA_SMALL_T tokens use fused matrix-vector kernels
 * (RMSNorm inside the Q/K/V and gate/up products, residual adds and SwiGLU in
 * their epilogues: 6 launches a layer); CAPBENCH_CUDA_FUSED=0 runs them
 * unfused (same math, rounding-level differences).
 *
 * Numerics: F32 activations and KV cache. Steps of at most CB_CUDA_SMALL_T
 * tokens use the fixed-order matrix-vector kernel; larger steps use cuBLAS
 * with F16/BF16 activations for F16/BF16/Q8_0 weights, so results across that
 * boundary agree to rounding (~1e-3 relative), not bit for bit.
 *
 */
#ifndef CB_MODEL_CUDA_H
#define CB_MODEL_CUDA_H

#include "common/err.h"
#include "engine/gguf.h"
#include "engine/model.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_model_cuda cb_model_cuda;

/* Checks that CUDA device `device` exists (cheap; no context is made), so
 * that callers fail before reading a model. Writes its name into name (cap
 * bytes, may be NULL). Errors: CB_ENODEV with the cudaError string. */
int cb_model_cuda_probe(int device, char *name, size_t cap, cb_err *err);

typedef struct cb_model_cuda_opts {
    int device;      /* CUDA device index */
    int n_slots;     /* KV slots (sequences) */
    int n_ctx;       /* positions per slot */
    int max_tokens;  /* tokens per step */
    int max_out;     /* logit rows per step */
} cb_model_cuda_opts;

/* Uploads the weights of m (bound to g, which must outlive nothing here: the
 * weights are copied) and allocates the KV cache and step buffers on device
 * o->device. Errors: CB_ENODEV (no CUDA build, no device, or not enough device
 * memory: the message has the cudaError string and the sizes), CB_EUNSUP
 * (head size > 128), CB_EUSAGE, CB_ENOMEM, CB_ERUNTIME. */
int cb_model_cuda_new(const cb_model *m, const cb_gguf *g, const cb_model_cuda_opts *o, cb_model_cuda **out,
                      cb_err *err);
void cb_model_cuda_free(cb_model_cuda *mc); /* NULL is a no-op */

/* What a step returns for its n_out logit rows (row r = the r-th token with
 * want_logits set). Every row's argmax and the log-probability of target[r]
 * are computed on the device; whole rows come back only for [full_from,
 * full_to). */
typedef struct cb_cuda_rows {
    const int32_t *target;  /* (n_out) token scored from row r; < 0: none (row r's logprob is then unset) */
    int full_from, full_to; /* rows copied whole to logits + r * V; empty when full_from >= full_to */
    int32_t *argmax;        /* (n_out) out: argmax of row r, lowest id on ties (cb_argmax's result) */
    double *logprob;        /* (n_out) out: log_softmax(row r)[target[r]]; equals cb_log_softmax_at on the
                             * same row up to the order of the double sum (~1e-15 relative) */
} cb_cuda_rows;

/* One step, the contract of cb_model_forward. rq NULL: every logit row comes
 * back whole, logits (n_out, V), nothing else. Otherwise as rq says (logits
 * rows outside [full_from, full_to) are left as they were). Errors: CB_EUSAGE
 * (bad token, slot, position or target, too many tokens or rows),
 * CB_ERUNTIME / CB_ENODEV (device failure). */
int cb_model_cuda_forward(cb_model_cuda *mc, const cb_batch *b, const cb_cuda_rows *rq, float *logits,
                          cb_err *err);

/* Copies positions [0, n_pos) of every layer from slot src to slot dst
 * (device to device). */
int cb_model_cuda_kv_copy(cb_model_cuda *mc, int dst, int src, int n_pos, cb_err *err);

typedef struct cb_model_cuda_info {
    char device_name[256];
    size_t weight_bytes;  /* device bytes of weights */
    size_t kv_bytes;      /* device bytes of the KV cache */
    int n_graphs;         /* decode graphs captured so far */
    int graphs_enabled;   /* 0 when turned off by CAPBENCH_CUDA_GRAPHS=0 */
    char graph_error[512];/* the capture failure, "" when none */
    int64_t n_replays;    /* decode steps run by replaying a graph */
    int64_t n_decode_eager; /* pure decode steps run eagerly (a batch size's first step, graphs off or failed) */
    int64_t n_rows_full;  /* logit rows copied to the host whole */
    int sync_launches;    /* CAPBENCH_CUDA_SYNC=1 */
} cb_model_cuda_info;
void cb_model_cuda_get_info(const cb_model_cuda *mc, cb_model_cuda_info *out);

#endif
