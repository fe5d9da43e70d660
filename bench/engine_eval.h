/* bench/engine_eval.h — `capbench bench --workload eval`: the engine on an
 * evaluation-shaped workload (four-choice log-likelihood items plus greedy
 * generations). See bench/engine_eval.c. */
#ifndef CB_ENGINE_EVAL_H
#define CB_ENGINE_EVAL_H

/* argv as the subcommand receives it (argv[0] = "bench"; "--workload eval"
 * among the flags). Returns the exit status: 0 ok, 2 bad flags, model or
 * items file, 1 other failures. */
int cb_eval_bench_main(int argc, char **argv);

#endif
