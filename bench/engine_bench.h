/* bench/engine_bench.h — `capbench bench` (the engine benchmark): prefill and
 * decode throughput and decode's achieved fraction of the memory bandwidth
 * measured in the same run. See bench/engine_bench.c. */
#ifndef CB_ENGINE_BENCH_H
#define CB_ENGINE_BENCH_H

#include "common/err.h"

#include <stddef.h>

/* argv as the subcommand receives it (argv[0] = "bench"). Returns the exit
 * status: 0 ok, 2 bad flags or model, 1 other failures. */
int cb_engine_bench_main(int argc, char **argv);

/* The folder generated benchmark models are cached in:
 * $XDG_CACHE_HOME/capbench/bench, else ~/.cache/capbench/bench. */
void cb_engine_bench_cache_dir(char *out, size_t cap);
/* Writes path = dir/tinyllama-1.1b-<type>-seed0.gguf, generating that model
 * (synthesized vocab, seed 0) unless it exists; quiet = 0 says so on stderr.
 * Errors: CB_EIO (folder), those of cb_genmodel_write. */
int cb_engine_bench_ensure_model(const char *dir, const char *type, char *path, size_t cap, int quiet, cb_err *err);
/* Prints s to stdout as a JSON string (quotes, backslashes and control
 * characters escaped). */
void cb_engine_bench_json_str(const char *s);

#endif
