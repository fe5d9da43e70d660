/* runner/cmd_engine.c — placeholder until its issue lands; replaced by the real command. */
#include "runner/commands.h"
#include <stdio.h>
int cb_cmd_tokenize(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_generate(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_logits(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_score(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_gen_model(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_bench_engine(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
