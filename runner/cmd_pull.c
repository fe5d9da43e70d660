/* runner/cmd_pull.c — `capbench pull`: download a model file into the cache (or
 * --dir), verify it, and print its path on stdout; without --dir a verified
 * copy in $CAPBENCH_MODEL_DIR is used as is. The work is in
 * runner/modelpath.c; this file parses the command line and picks the exit
 * status. */
#include "runner/commands.h"
#include "runner/modelpath.h"

#include <stdio.h>
#include <string.h>

static void pull_usage(FILE *f) {
    fprintf(f,
            "usage: capbench pull [hf://ORG/REPO/PATH | URL] [--dir DIR] [--sha256 HEX] [--quiet]\n"
            "\n"
            "Downloads a model file and prints its path. With no argument it pulls the default\n"
            "model, %s (%s), pinned by sha256.\n"
            "\n"
            "  hf://ORG/REPO/PATH  file in a Hugging Face repo (main branch); the endpoint is\n"
            "                      $CAPBENCH_HF_ENDPOINT or https://huggingface.co\n"
            "  --dir DIR           target directory (default: $XDG_CACHE_HOME/capbench/models\n"
            "                      or ~/.cache/capbench/models). Without --dir, a copy already\n"
            "                      in $CAPBENCH_MODEL_DIR (sha256 checked when pinned) is used\n"
            "                      instead of downloading, and its path is printed\n"
            "  --sha256 HEX        expected sha256; a mismatch deletes the download and fails\n"
            "  --quiet             no progress output\n"
            "\n"
            "Offline? Copy a GGUF file over yourself and pass --model PATH to capbench run, or\n"
            "put it in the directory named by CAPBENCH_MODEL_DIR.\n",
            CB_DEFAULT_MODEL_NAME, CB_DEFAULT_MODEL_URI);
}

int cb_cmd_pull(int argc, char **argv) {
    cb_pull_opts o = {.progress = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            pull_usage(stdout);
            return 0;
        } else if (strcmp(a, "--dir") == 0 || strcmp(a, "--sha256") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "capbench pull: %s needs a value\n", a);
                return 2;
            }
            if (strcmp(a, "--dir") == 0) o.dir = argv[++i];
            else o.sha256 = argv[++i];
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o.progress = 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "capbench pull: unknown option '%s'\n", a);
            pull_usage(stderr);
            return 2;
        } else if (o.uri) {
            fprintf(stderr, "capbench pull: one model at a time ('%s' and '%s')\n", o.uri, a);
            return 2;
        } else {
            o.uri = a;
        }
    }
    char path[4608];
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_modelpath_pull(&o, path, sizeof path, &err);
    if (rc) {
        fprintf(stderr, "capbench pull: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    printf("%s\n", path);
    return 0;
}
