/* tests/util/cbtest.c — test helpers (see cbtest.h). */
#include "tests/util/cbtest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int cbt_sh(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    int n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int st = system(cmd);
    free(cmd);
    if (st == -1) return -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

int cbt_tmpdir(char *buf, size_t cap, const char *tag) {
    if (snprintf(buf, cap, "/tmp/%sXXXXXX", tag) >= (int)cap) return -1;
    return mkdtemp(buf) ? 0 : -1;
}

void cbt_rmrf(const char *dir) {
    if (!dir || strncmp(dir, "/tmp/", 5) != 0 || strstr(dir, "..") || strchr(dir, '\'')) return;
    cbt_sh("rm -rf '%s'", dir);
}

char *cbt_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int cbt_write_file(const char *path, const char *fmt, ...) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return fclose(f) == 0 && n >= 0 ? 0 : -1;
}

int cbt_file_count(const char *path, const char *needle) {
    size_t len = 0, nl = strlen(needle);
    char *buf = cbt_read_file(path, &len);
    if (!buf || nl == 0) {
        free(buf);
        return 0;
    }
    int c = 0;
    for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), needle, nl)); p++) c++;
    free(buf);
    return c;
}

char *cbt_read_text(const char *path) {
    char *t = cbt_read_file(path, NULL);
    return t ? t : strdup("");
}

int cbt_run_bin(const char *bin, const char *dir, char *const args[], char **out_text, char **err_text) {
    char out_path[4096], err_path[4096];
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr)) _exit(120);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)bin;
        for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, argv);
        _exit(121);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    if (out_text) *out_text = cbt_read_text(out_path);
    if (err_text) *err_text = cbt_read_text(err_path);
    return WEXITSTATUS(status);
}
