/* engine/cuda_module.h — the CUDA part of the engine as a module loaded on
 * first use.
 *
 * The CUDA forward pass (engine/model_cuda.c) and the kernels it launches
 * (kernels/cuda/) are built into a shared module, libcapbench_cuda.so, that
 * alone depends on libcudart and libcublas (its run path names the CUDA
 * toolkit's library folder). The capbench binary and cb_core do not link
 * CUDA: the engine opens the module with dlopen the first time a device
 * "cuda" is asked for, so `capbench --version` and every CPU command run on
 * a machine without the CUDA libraries and never load them.
 *
 * Where the module is looked for, in order:
 *   1. $CAPBENCH_CUDA_MODULE (a path; nothing else is tried when it is set)
 *   2. libcapbench_cuda.so in the folder of the running executable
 *      (/proc/self/exe): the build tree, or an install's bin/
 *   3. ../lib/capbench/libcapbench_cuda.so relative to that folder (install)
 * A build without CUDA (CAPBENCH_CUDA=OFF) never looks. Every failure is
 * CB_ENODEV with a message that says what was missing: no CUDA in this
 * build, the module not found (the paths tried), or the loader's error (e.g.
 * "libcublas.so.13: cannot open shared object file").
 *
 * The module exports one symbol, cb_cuda_module_entry, returning the table
 * below; the loader checks its ABI number and size, so a module from another
 * build is refused rather than called.
 */
#ifndef CB_CUDA_MODULE_H
#define CB_CUDA_MODULE_H

#include "common/err.h"
#include "engine/model_cuda.h"

#include <stddef.h>

#define CB_CUDA_MODULE_ABI 2
#define CB_CUDA_MODULE_FILE "libcapbench_cuda.so"
#define CB_CUDA_MODULE_ENTRY "cb_cuda_module_entry"

/* Device ceilings, measured by the module for `capbench bench --device cuda`. */
typedef struct cb_cuda_ceilings {
    char name[256];   /* the card */
    double copy_bw;   /* device-to-device copy, (read + write) bytes/s */
    double gemm_peak; /* cuBLAS F16 GEMM, FP32 accumulation, FLOP/s */
} cb_cuda_ceilings;

typedef struct cb_cuda_module {
    int abi;          /* CB_CUDA_MODULE_ABI */
    size_t size;      /* sizeof(cb_cuda_module) */
    /* the functions of engine/model_cuda.h */
    int (*probe)(int device, char *name, size_t cap, cb_err *err);
    int (*model_new)(const cb_model *m, const cb_gguf *g, const cb_model_cuda_opts *o, cb_model_cuda **out,
                     cb_err *err);
    void (*model_free)(cb_model_cuda *mc);
    int (*forward)(cb_model_cuda *mc, const cb_batch *b, const cb_cuda_rows *rq, float *logits, cb_err *err);
    int (*kv_copy)(cb_model_cuda *mc, int dst, int src, int n_pos, cb_err *err);
    void (*get_info)(const cb_model_cuda *mc, cb_model_cuda_info *out);
    /* copy bandwidth over `copy_bytes` and the GEMM peak at size gemm_n on `device` */
    int (*measure)(int device, size_t copy_bytes, int gemm_n, cb_cuda_ceilings *out, cb_err *err);
} cb_cuda_module;

/* The module's table, loaded on the first call (thread-safe; later calls
 * return the same table, or the same error, without trying again). Errors:
 * CB_ENODEV (see above). */
int cb_cuda_module_get(const cb_cuda_module **out, cb_err *err);

/* Whether CUDA device `device` can be used: loads the module and asks it.
 * 0 with the device's name in name (cap bytes, may be NULL), else CB_ENODEV
 * with the reason. Used by tests to decide what to expect. */
int cb_cuda_probe(int device, char *name, size_t cap, cb_err *err);

#endif
