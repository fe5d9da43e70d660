/* engine/cuda_module.c — finds and opens the CUDA module on first use (see
 * cuda_module.h for where it looks and what it reports). Part of cb_core;
 * the only file of it that knows the module exists. dlopen happens at most
 * once per process (pthread_once); the table or the error is kept.
 */
#include "engine/cuda_module.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const cb_cuda_module *loaded;
static cb_err load_err;

#ifdef CB_HAVE_CUDA
typedef const cb_cuda_module *(*entry_fn)(void);

/* Opens path; 0 with the table, else a message in load_err. *found: the file
 * exists (so the caller stops looking). */
static int try_open(const char *path, int *found) {
    *found = access(path, F_OK) == 0;
    if (!*found) return -1;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *m = dlerror();
        cb_err_set(&load_err, CB_ENODEV, "cannot load the CUDA module %s: %s (is the CUDA toolkit's lib folder "
                                         "there, as at build time? `ldd %s` shows what is missing)",
                   path, m ? m : "unknown error", path);
        return -1;
    }
    entry_fn f;
    *(void **)&f = dlsym(h, CB_CUDA_MODULE_ENTRY);
    const cb_cuda_module *t = f ? f() : NULL;
    if (!t || t->abi != CB_CUDA_MODULE_ABI || t->size != sizeof(cb_cuda_module)) {
        cb_err_set(&load_err, CB_ENODEV, "%s is not this build's CUDA module (%s; ABI %d, size %zu; expected %d, %zu)",
                   path, f ? "other interface" : "no " CB_CUDA_MODULE_ENTRY, t ? t->abi : -1, t ? t->size : (size_t)0,
                   CB_CUDA_MODULE_ABI, sizeof(cb_cuda_module));
        dlclose(h);
        return -1;
    }
    loaded = t; /* the handle stays open for the process's life */
    return 0;
}

static void load(void) {
    cb_err_clear(&load_err);
    const char *env = getenv("CAPBENCH_CUDA_MODULE");
    int found = 0;
    if (env && *env) {
        if (try_open(env, &found) != 0 && !found)
            cb_err_set(&load_err, CB_ENODEV, "CAPBENCH_CUDA_MODULE=%s: no such file", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cb_err_set(&load_err, CB_ENODEV, "cannot find the CUDA module: /proc/self/exe is unreadable "
                                         "(set CAPBENCH_CUDA_MODULE to the path of " CB_CUDA_MODULE_FILE ")");
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    char tried[2][PATH_MAX + 64];
    snprintf(tried[0], sizeof tried[0], "%s/%s", exe, CB_CUDA_MODULE_FILE);
    snprintf(tried[1], sizeof tried[1], "%s/../lib/capbench/%s", exe, CB_CUDA_MODULE_FILE);
    for (int i = 0; i < 2; i++)
        if (try_open(tried[i], &found) == 0 || found) return;
    cb_err_set(&load_err, CB_ENODEV, "the CUDA module " CB_CUDA_MODULE_FILE " was not found (looked in %s and %s/../lib/"
                                     "capbench; set CAPBENCH_CUDA_MODULE to its path)",
               exe, exe);
}
#else
static void load(void) {
    cb_err_set(&load_err, CB_ENODEV, "this build has no CUDA support (configure with CAPBENCH_CUDA=ON)");
}
#endif

int cb_cuda_module_get(const cb_cuda_module **out, cb_err *err) {
    pthread_once(&load_once, load);
    *out = loaded;
    if (loaded) return 0;
    if (err) *err = load_err;
    return CB_ENODEV;
}

int cb_cuda_probe(int device, char *name, size_t cap, cb_err *err) {
    if (name && cap) name[0] = '\0';
    const cb_cuda_module *m;
    int rc = cb_cuda_module_get(&m, err);
    if (rc) return rc;
    return m->probe(device, name, cap, err);
}
