/* runner/commands.h — the capbench subcommands that runner/main.c dispatches.
 *
 * Each takes the argv that follows the subcommand name (argv[0] is the
 * subcommand itself) and returns the process exit status: 0 ok, 2 usage or
 * bad-input error, 1 anything else, 130 interrupted. Each prints its own
 * errors to stderr as "capbench CMD: message".
 */
#ifndef CB_COMMANDS_H
#define CB_COMMANDS_H

/* engine commands (runner/cmd_engine*.c, always built) */
int cb_cmd_tokenize(int argc, char **argv);
int cb_cmd_generate(int argc, char **argv);
int cb_cmd_logits(int argc, char **argv);
int cb_cmd_score(int argc, char **argv);
int cb_cmd_gen_model(int argc, char **argv);
int cb_cmd_bench_engine(int argc, char **argv);   /* capbench bench [--model M] ... */
int cb_cmd_bench_eval(int argc, char **argv);     /* capbench bench --workload eval [--items FILE] ... */

#ifdef CB_HAVE_HARNESS
/* harness commands */
int cb_cmd_run(int argc, char **argv);            /* runner/cmd_run.c */
int cb_cmd_tasks(int argc, char **argv);          /* runner/cmd_tasks.c */
int cb_cmd_items(int argc, char **argv);          /* runner/cmd_tasks.c */
int cb_cmd_grade(int argc, char **argv);          /* runner/cmd_tasks.c */
int cb_cmd_report(int argc, char **argv);         /* runner/cmd_results.c */
int cb_cmd_regrade(int argc, char **argv);        /* runner/cmd_results.c */
int cb_cmd_pull(int argc, char **argv);           /* runner/cmd_pull.c */
int cb_cmd_bench_harness(int argc, char **argv);  /* bench/harness_bench.c: capbench bench --harness */
void cb_http_global_init(void);                   /* runner/http.c: curl_global_init, once */
#endif

#endif
