/* runner/cmd_results.c — placeholder until its issue lands; replaced by the real command. */
#include "runner/commands.h"
#include <stdio.h>
int cb_cmd_report(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
int cb_cmd_regrade(int argc, char **argv) { (void)argc; fprintf(stderr, "capbench %s: not built yet\n", argv[0]); return 1; }
