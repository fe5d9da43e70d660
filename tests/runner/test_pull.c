/* tests/runner/test_pull.c — `capbench pull` and default model resolution
 * against the loopback server standing in for Hugging Face (CAPBENCH_HF_ENDPOINT):
 * a good pull verifies sha256 and lands atomically; a wrong file or a truncated
 * transfer fails and leaves nothing behind; an unreachable server explains how
 * to work offline; resolve finds cached files without the network; a copy
 * already in CAPBENCH_MODEL_DIR is used instead of downloading. */
#include "common/sha256.h"
#include "runner/commands.h"
#include "runner/modelpath.h"
#include "tests/util/httpd.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HF_PATH "/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf"

typedef enum { SERVE_GOOD, SERVE_OTHER, SERVE_TRUNCATED } serve_mode;
static serve_mode g_mode;
static char g_model[4096], g_other[4096];
static cb_httpd *srv;

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    if (strcmp(req->path, HF_PATH) != 0) {
        cb_httpd_reply_body(rep, 404, "text/plain", "Entry not found");
        return;
    }
    cb_httpd_reply_file(rep, g_mode == SERVE_OTHER ? g_other : g_model);
    if (g_mode == SERVE_TRUNCATED) rep->send_bytes = (long long)rep->body_len / 2;
}

static void setup(void) {
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    if (!md) cr_skip_test("CAPBENCH_MODEL_DIR is not set (tests serve stories260K.gguf from it)");
    snprintf(g_model, sizeof g_model, "%s/stories260K.gguf", md);
    snprintf(g_other, sizeof g_other, "%s/llama-2-tiny-random.gguf", md);
    if (access(g_model, R_OK) != 0) cr_skip_test("%s is absent; the pull tests serve it", g_model);
    cb_http_global_init();
    cr_assert_eq(cb_httpd_start(handler, NULL, &srv), 0);
    setenv("CAPBENCH_HF_ENDPOINT", cb_httpd_url(srv), 1);
    g_mode = SERVE_GOOD;
}
static void teardown(void) { cb_httpd_stop(srv); }

TestSuite(pull, .init = setup, .fini = teardown, .timeout = 60);

static void temp_dir(char *buf, size_t cap) {
    snprintf(buf, cap, "/tmp/cb_test_pull_XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void rm_rf(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(pull, default_model_pull_verifies_and_lands) {
    char dir[64], path[4608], hex[65];
    temp_dir(dir, sizeof dir);
    cb_pull_opts o = {.dir = dir};
    cb_err err;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), 0, "%s", err.msg);
    char want[128];
    snprintf(want, sizeof want, "%s/stories260K.gguf", dir);
    cr_assert_str_eq(path, want);
    int64_t size = 0;
    cr_assert_eq(cb_sha256_file(path, hex, &size, &err), 0);
    cr_assert_str_eq(hex, CB_DEFAULT_MODEL_SHA256);
    cr_assert_eq(size, CB_DEFAULT_MODEL_BYTES);
    cr_assert_eq(count_entries(dir), 1, "no temporary file left");
    cr_assert_eq(cb_httpd_count_path(srv, HF_PATH), 1);
    /* a second pull finds the verified file and does not download again */
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_httpd_count_path(srv, HF_PATH), 1);
    rm_rf(dir);
}

Test(pull, sha_mismatch_fails_and_leaves_nothing) {
    if (access(g_other, R_OK) != 0) cr_skip_test("%s is absent", g_other);
    g_mode = SERVE_OTHER;
    char dir[64], path[4608];
    temp_dir(dir, sizeof dir);
    cb_pull_opts o = {.uri = CB_DEFAULT_MODEL_URI, .dir = dir, .size = -1};
    cb_err err;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), CB_EFORMAT);
    cr_assert(strstr(err.msg, "sha256 mismatch"), "%s", err.msg);
    cr_assert(strstr(err.msg, CB_DEFAULT_MODEL_SHA256), "%s", err.msg);
    cr_assert_eq(count_entries(dir), 0, "the download was removed");
    /* with the pinned size check on, the wrong length is caught first */
    o.size = 0;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), CB_EFORMAT);
    cr_assert(strstr(err.msg, "expected 1185376"), "%s", err.msg);
    cr_assert_eq(count_entries(dir), 0);
    rm_rf(dir);
}

Test(pull, truncated_download_fails_and_leaves_nothing) {
    g_mode = SERVE_TRUNCATED;
    char dir[64], path[4608];
    temp_dir(dir, sizeof dir);
    cb_pull_opts o = {.dir = dir};
    cb_err err;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), CB_ENET);
    cr_assert(strstr(err.msg, "stories260K.gguf"), "%s", err.msg);
    cr_assert_eq(count_entries(dir), 0);
    rm_rf(dir);
}

Test(pull, unreachable_server_says_how_to_work_offline) {
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", cb_httpd_unused_port());
    setenv("CAPBENCH_HF_ENDPOINT", ep, 1);
    char dir[64], path[4608];
    temp_dir(dir, sizeof dir);
    cb_pull_opts o = {.dir = dir};
    cb_err err;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), CB_ENET);
    cr_assert(strstr(err.msg, "unreachable"), "%s", err.msg);
    cr_assert(strstr(err.msg, "--model PATH"), "%s", err.msg);
    cr_assert(strstr(err.msg, "CAPBENCH_MODEL_DIR"), "%s", err.msg);
    cr_assert_eq(count_entries(dir), 0);
    rm_rf(dir);
}

Test(pull, url_mapping) {
    char url[512], name[128];
    cb_err err;
    setenv("CAPBENCH_HF_ENDPOINT", "http://h.example/", 1);
    cr_assert_eq(cb_modelpath_url("hf://org/repo/a/b.gguf", url, sizeof url, name, sizeof name, &err), 0);
    cr_assert_str_eq(url, "http://h.example/org/repo/resolve/main/a/b.gguf");
    cr_assert_str_eq(name, "b.gguf");
    unsetenv("CAPBENCH_HF_ENDPOINT");
    cr_assert_eq(cb_modelpath_url(CB_DEFAULT_MODEL_URI, url, sizeof url, name, sizeof name, &err), 0);
    cr_assert_str_eq(url, "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf");
    cr_assert_eq(cb_modelpath_url("https://x.example/m/f.gguf", url, sizeof url, name, sizeof name, &err), 0);
    cr_assert_str_eq(name, "f.gguf");
    const char *bad[] = {"hf://org/repo",     "hf://org//x.gguf",  "hf:///repo/x",         "hf://o/r/../x.gguf",
                         "hf://o/r/a/",       "hf://o/r/x y.gguf", "hf://o/r/x.gguf?a=1",  "ftp://x/y",
                         "hf://o/r/.hidden", "https://host",      "https://host/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(cb_modelpath_url(bad[i], url, sizeof url, name, sizeof name, &err), CB_EUSAGE, "%s", bad[i]);
}

Test(pull, resolve_default_model_dir_cache_download) {
    char md[64], cache[64], out[4608], want[256];
    temp_dir(md, sizeof md);
    temp_dir(cache, sizeof cache);
    setenv("CAPBENCH_MODEL_DIR", md, 1);
    setenv("XDG_CACHE_HOME", cache, 1);
    cb_err err;
    /* nothing anywhere and no download allowed: says what to do */
    cr_assert_eq(cb_modelpath_resolve(NULL, out, sizeof out, 0, &err), CB_EIO);
    cr_assert(strstr(err.msg, "capbench pull"), "%s", err.msg);
    cr_assert_eq(cb_httpd_count(srv), 0);
    /* download into the cache */
    cr_assert_eq(cb_modelpath_resolve(NULL, out, sizeof out, 1, &err), 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s/capbench/models/stories260K.gguf", cache);
    cr_assert_str_eq(out, want);
    cr_assert_eq(cb_httpd_count(srv), 1);
    /* found in the cache now, without the network */
    cr_assert_eq(cb_modelpath_resolve("", out, sizeof out, 0, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out, want);
    cr_assert_eq(cb_modelpath_resolve("hf://ggml-org/models/tinyllamas/stories260K.gguf", out, sizeof out, 0, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(out, want);
    /* $CAPBENCH_MODEL_DIR wins over the cache */
    char shared_models[4096];
    snprintf(shared_models, sizeof shared_models, "%s", g_model);
    *strrchr(shared_models, '/') = '\0';
    setenv("CAPBENCH_MODEL_DIR", shared_models, 1);
    cr_assert_eq(cb_modelpath_resolve(NULL, out, sizeof out, 0, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out, g_model);
    /* plain paths and bare names */
    cr_assert_eq(cb_modelpath_resolve(g_model, out, sizeof out, 0, &err), 0);
    cr_assert_str_eq(out, g_model);
    cr_assert_eq(cb_modelpath_resolve("llama-2-tiny-random.gguf", out, sizeof out, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_modelpath_resolve("/no/such/model.gguf", out, sizeof out, 0, &err), CB_EIO);
    cr_assert(strstr(err.msg, "/no/such/model.gguf"), "%s", err.msg);
    cr_assert_eq(cb_httpd_count(srv), 1);
    rm_rf(md);
    rm_rf(cache);
}

Test(pull, command_line) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || access(bin, X_OK) != 0) cr_skip_test("CAPBENCH_BIN is not set or not executable");
    char dir[64], cmd[8192], outf[128], line[4608] = "";
    temp_dir(dir, sizeof dir);
    snprintf(outf, sizeof outf, "%s.out", dir);
    snprintf(cmd, sizeof cmd, "'%s' pull --dir '%s' >'%s' 2>/dev/null", bin, dir, outf);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    FILE *f = fopen(outf, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    char want[256];
    snprintf(want, sizeof want, "%s/stories260K.gguf\n", dir);
    cr_assert_str_eq(line, want);
    /* a wrong --sha256: exit 2 (bad input), nothing left, message on stderr */
    rm_rf(dir);
    temp_dir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "'%s' pull --quiet --dir '%s' --sha256 %064d 2>'%s'", bin, dir, 0, outf);
    st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    f = fopen(outf, "r");
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strstr(line, "capbench pull: sha256 mismatch"), "%s", line);
    cr_assert_eq(count_entries(dir), 0);
    snprintf(cmd, sizeof cmd, "'%s' pull --bogus 2>/dev/null", bin);
    st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    unlink(outf);
    rm_rf(dir);
}

/* `pull` without --dir uses a verified copy in CAPBENCH_MODEL_DIR; a copy with
 * the wrong sha256 is not used (the download goes to the cache). */
Test(pull, model_dir_copy_is_used_instead_of_downloading) {
    char cache[64], md[64], path[4608], shared[4096], logf[128], line[4608];
    temp_dir(cache, sizeof cache);
    setenv("XDG_CACHE_HOME", cache, 1);
    snprintf(shared, sizeof shared, "%s", g_model);
    *strrchr(shared, '/') = '\0';
    setenv("CAPBENCH_MODEL_DIR", shared, 1);
    snprintf(logf, sizeof logf, "%s.log", cache);
    FILE *log = fopen(logf, "w+");
    cb_pull_opts o = {.progress = 1, .log = log};
    cb_err err;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), 0, "%s", err.msg);
    cr_assert_str_eq(path, g_model);
    cr_assert_eq(cb_httpd_count(srv), 0, "nothing downloaded");
    cr_assert_eq(count_entries(cache), 0, "nothing written to the cache");
    rewind(log);
    cr_assert_not_null(fgets(line, sizeof line, log));
    cr_assert(strstr(line, "using the copy in CAPBENCH_MODEL_DIR") && strstr(line, "sha256 ok"), "%s", line);
    fclose(log);
    unlink(logf);

    /* a file of that name with other bytes is not trusted */
    temp_dir(md, sizeof md);
    char fake[256];
    snprintf(fake, sizeof fake, "%s/stories260K.gguf", md);
    FILE *f = fopen(fake, "w");
    fputs("not the model", f);
    fclose(f);
    setenv("CAPBENCH_MODEL_DIR", md, 1);
    o.progress = 0;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), 0, "%s", err.msg);
    char want[256];
    snprintf(want, sizeof want, "%s/capbench/models/stories260K.gguf", cache);
    cr_assert_str_eq(path, want);
    cr_assert_eq(cb_httpd_count(srv), 1);

    /* --dir means that directory: the CAPBENCH_MODEL_DIR copy is not used */
    setenv("CAPBENCH_MODEL_DIR", shared, 1);
    char dir[64];
    temp_dir(dir, sizeof dir);
    o.dir = dir;
    cr_assert_eq(cb_modelpath_pull(&o, path, sizeof path, &err), 0, "%s", err.msg);
    cr_assert(strncmp(path, dir, strlen(dir)) == 0, "%s", path);
    cr_assert_eq(cb_httpd_count(srv), 2);
    rm_rf(dir);
    rm_rf(md);
    rm_rf(cache);
    unsetenv("XDG_CACHE_HOME");
}

/* Credentials in a model URL never reach the messages. */
Test(pull, url_credentials_are_redacted_in_messages) {
    char dir[64], path[4608], url[256];
    temp_dir(dir, sizeof dir);
    snprintf(url, sizeof url, "http://me:pw-SECRET@127.0.0.1:%d/missing/model.gguf", cb_httpd_port(srv));
    cb_pull_opts o = {.uri = url, .dir = dir};
    cb_err err;
    cr_assert_neq(cb_modelpath_pull(&o, path, sizeof path, &err), 0);
    cr_assert_null(strstr(err.msg, "pw-SECRET"), "%s", err.msg);
    cr_assert(strstr(err.msg, "[redacted]@127.0.0.1"), "%s", err.msg);
    rm_rf(dir);
}
