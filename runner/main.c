/* runner/main.c — the capbench entry point: picks the subcommand and returns
 * its exit status. It does no work of its own beyond global library set-up. */
#include "runner/commands.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} cb_command;

static int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workload") == 0) return cb_cmd_bench_eval(argc, argv);
        if (strcmp(argv[i], "--harness") == 0) {
#ifdef CB_HAVE_HARNESS
            return cb_cmd_bench_harness(argc, argv);
#else
            fprintf(stderr, "capbench bench: --harness needs a build with the harness (CAPBENCH_HARNESS=ON)\n");
            return 2;
#endif
        }
    }
    return cb_cmd_bench_engine(argc, argv);
}

static const cb_command commands[] = {
#ifdef CB_HAVE_HARNESS
    {"run", cb_cmd_run, "run a suite: items -> model -> grades -> results database"},
    {"report", cb_cmd_report, "scores per task, setting and capability from the results database"},
    {"regrade", cb_cmd_regrade, "re-apply the current graders to a stored run"},
    {"tasks", cb_cmd_tasks, "list task families, subtasks, settings and capabilities"},
    {"items", cb_cmd_items, "print generated items as JSONL"},
    {"grade", cb_cmd_grade, "grade JSONL items that carry a response"},
    {"pull", cb_cmd_pull, "download a model (default: stories260K) into the cache"},
#endif
    {"tokenize", cb_cmd_tokenize, "token ids of a text, as JSON"},
    {"generate", cb_cmd_generate, "generate a continuation with the local engine"},
    {"logits", cb_cmd_logits, "top-K logits at the last position, as JSON"},
    {"score", cb_cmd_score, "log-likelihood of a continuation given a context, as JSON"},
    {"gen-model", cb_cmd_gen_model, "write a random-weight GGUF of a known shape"},
    {"bench", cmd_bench, "engine benchmark (or --harness: harness throughput)"},
};

static void usage(FILE *f) {
    fprintf(f, "capbench %s — LLM capability benchmark harness\n\nusage: capbench COMMAND [options]\n\ncommands:\n",
            CB_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'capbench COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("capbench %s\n", CB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
#ifdef CB_HAVE_HARNESS
            cb_http_global_init();
#endif
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "capbench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
