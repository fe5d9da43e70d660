/* bench/engine_bench.h — `capbench bench` (the engine benchmark): prefill and
 * decode throughput and decode's achieved fraction of the memory bandwidth
 * measured in the same run. See bench/engine_bench.c. */
#ifndef CB_ENGINE_BENCH_H
#define CB_ENGINE_BENCH_H

/* argv as the subcommand receives it (argv[0] = "bench"). Returns the exit
 * status: 0 ok, 2 bad flags or model, 1 other failures. */
int cb_engine_bench_main(int argc, char **argv);

#endif
