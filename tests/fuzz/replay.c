/* tests/fuzz/replay.c — runs a libFuzzer target's LLVMFuzzerTestOneInput over
 * files, without libFuzzer: the regression half of every fuzz target.
 *
 *   replay_fuzz_NAME PATH...     each PATH a file or a directory of files
 *
 * CTest runs it (test fuzz/NAME) over tests/fuzz/corpus/NAME/, whose files are
 * the seed corpus plus every input that once crashed the target (named
 * crash-*, kept forever), in the normal and the ASan+UBSan builds, so a fixed
 * crash stays fixed without clang or libFuzzer. Exit status: 0 when every
 * input ran, 2 when a path cannot be read, and whatever the target's abort or
 * a sanitizer gives when an input fails. Prints the number of inputs run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return 2;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: %s: cannot read\n", path);
        return 2;
    }
    /* an exact-size copy, so ASan sees reads past the input's end */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 2;
    }
    memcpy(exact, buf, len);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*n)++;
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_path(const char *path, long *n) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s: no such file or directory\n", path);
        return 2;
    }
    if (!S_ISDIR(sb.st_mode)) return run_file(path, n);
    DIR *d = opendir(path);
    if (!d) return 2;
    char **names = NULL;
    size_t k = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (k == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = 2;
                break;
            }
            names = nn;
        }
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        if (!(names[k] = malloc(l))) {
            rc = 2;
            break;
        }
        snprintf(names[k++], l, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (names) qsort(names, k, sizeof *names, cmp); /* same order every run */
    for (size_t i = 0; i < k; i++) {
        if (!rc) rc = run_path(names[i], n);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long n = 0;
    for (int i = 1; i < argc; i++) {
        int rc = run_path(argv[i], &n);
        if (rc) return rc;
    }
    printf("replay: %ld inputs ran without a failure\n", n);
    return 0;
}
