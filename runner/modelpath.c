/* runner/modelpath.c — model argument resolution, the model cache, and the
 * download-verify-rename sequence of `capbench pull` (see modelpath.h).
 *
 * HTTP goes through runner/http (cb_http_download) and hashing through
 * common/sha256; this file only decides names, directories and messages.
 */
#include "runner/modelpath.h"
#include "common/sha256.h"
#include "common/url.h"
#include "runner/http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HF_DEFAULT_ENDPOINT "https://huggingface.co"

static int put(char *out, size_t cap, cb_err *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(char *out, size_t cap, cb_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return cb_err_set(err, CB_ENOMEM, "path or URL too long (%d bytes)", n);
    return 0;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cb_modelpath_cache_dir(char *out, size_t cap, cb_err *err) {
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && x[0] == '/') return put(out, cap, err, "%s/capbench/models", x);
    const char *h = getenv("HOME");
    if (h && h[0]) return put(out, cap, err, "%s/.cache/capbench/models", h);
    return cb_err_set(err, CB_EUSAGE, "no model cache: neither XDG_CACHE_HOME nor HOME is set");
}

int cb_modelpath_url(const char *uri, char *url, size_t url_cap, char *name, size_t name_cap, cb_err *err) {
    for (const char *p = uri; *p; p++)
        if (isspace((unsigned char)*p) || *p == '?' || *p == '#' || (unsigned char)*p < 0x20)
            return cb_err_set(err, CB_EUSAGE, "model URI '%s': unexpected character at byte %ld", uri,
                              (long)(p - uri));
    const char *path;
    int rc;
    if (strncmp(uri, "hf://", 5) == 0) {
        const char *org = uri + 5, *s1 = strchr(org, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (!s1 || s1 == org || !s2 || s2 == s1 + 1 || !s2[1] || s2[strlen(s2) - 1] == '/')
            return cb_err_set(err, CB_EUSAGE, "model URI '%s': expected hf://ORG/REPO/PATH", uri);
        path = s2 + 1;
        const char *ep = getenv("CAPBENCH_HF_ENDPOINT");
        if (!ep || !ep[0]) ep = HF_DEFAULT_ENDPOINT;
        size_t el = strlen(ep);
        while (el > 0 && ep[el - 1] == '/') el--;
        rc = put(url, url_cap, err, "%.*s/%.*s/resolve/main/%s", (int)el, ep, (int)(s2 - org), org, path);
    } else if (strncmp(uri, "https://", 8) == 0 || strncmp(uri, "http://", 7) == 0) {
        const char *host = strstr(uri, "://") + 3;
        path = strchr(host, '/');
        if (!path || !path[1] || path[strlen(path) - 1] == '/')
            return cb_err_set(err, CB_EUSAGE, "model URL '%s': expected a file path after the host", uri);
        path++;
        rc = put(url, url_cap, err, "%s", uri);
    } else {
        return cb_err_set(err, CB_EUSAGE, "model URI '%s': expected hf://ORG/REPO/PATH or an http(s) URL", uri);
    }
    if (rc) return rc;
    /* no ".." or "." segments anywhere in the path */
    for (const char *seg = path; seg;) {
        const char *next = strchr(seg, '/');
        size_t l = next ? (size_t)(next - seg) : strlen(seg);
        if ((l == 2 && seg[0] == '.' && seg[1] == '.') || (l == 1 && seg[0] == '.') || l == 0)
            return cb_err_set(err, CB_EUSAGE, "model URI '%s': empty, '.' or '..' path segment", uri);
        seg = next ? next + 1 : NULL;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (base[0] == '.') return cb_err_set(err, CB_EUSAGE, "model URI '%s': file name starts with '.'", uri);
    return put(name, name_cap, err, "%s", base);
}

/* mkdir -p */
static int make_dirs(const char *dir, cb_err *err) {
    char p[4096];
    if (put(p, sizeof p, err, "%s", dir)) return CB_EUSAGE;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return cb_err_set(err, CB_EIO, "cannot create directory %s: %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cb_err_set(err, CB_EIO, "%s is not a directory", dir);
    return 0;
}

static int valid_hex64(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    FILE *log;
    int tty;
    int mode;            /* 0 quiet */
    const char *name;
    double t0, last;
    int last_quarter;
    int64_t now, total;
} progress;

static void progress_draw(progress *p, int final) {
    double dt = mono_now() - p->t0;
    double mb = (double)p->now / 1e6, rate = dt > 0 ? mb / dt : 0;
    if (p->total > 0)
        fprintf(p->log, "%s%s  %3d%%  %.1f/%.1f MB  %.1f MB/s%s", p->tty ? "\r" : "", p->name,
                (int)(100.0 * (double)p->now / (double)p->total), mb, (double)p->total / 1e6, rate,
                p->tty && !final ? "   " : "\n");
    else
        fprintf(p->log, "%s%s  %.1f MB  %.1f MB/s%s", p->tty ? "\r" : "", p->name, mb, rate,
                p->tty && !final ? "   " : "\n");
    fflush(p->log);
}

static int on_progress(void *user, int64_t now, int64_t total) {
    progress *p = user;
    p->now = now;
    p->total = total;
    if (!p->mode) return 0;
    double t = mono_now();
    if (p->tty) {
        if (t - p->last >= 0.1) {
            p->last = t;
            progress_draw(p, 0);
        }
    } else {
        /* a line per quarter when the size is known, else every 10 s */
        int q = total > 0 ? (int)(4 * now / total) : -1;
        if ((total > 0 && q > p->last_quarter && q < 4) || (total <= 0 && t - p->last >= 10)) {
            p->last_quarter = q;
            p->last = t;
            progress_draw(p, 0);
        }
    }
    return 0;
}

/* The copy of `name` in $CAPBENCH_MODEL_DIR, when there is one that passes the
 * sha256 check (or no digest is expected): 1 and its path in out. */
static int use_model_dir_copy(const char *name, const char *want_sha, int progress, FILE *log, char *out,
                              size_t cap) {
    const char *md = getenv("CAPBENCH_MODEL_DIR");
    char p[4608], hex[65];
    int64_t size = 0;
    if (!md || !md[0] || put(p, sizeof p, NULL, "%s/%s", md, name) || !is_file(p)) return 0;
    if (want_sha) {
        cb_err e;
        if (cb_sha256_file(p, hex, &size, &e) != 0 || strcasecmp(hex, want_sha) != 0) {
            if (progress)
                fprintf(log, "%s is in CAPBENCH_MODEL_DIR but its sha256 differs from %s; downloading instead\n", p,
                        want_sha);
            return 0;
        }
    }
    if (put(out, cap, NULL, "%s", p)) return 0;
    if (progress)
        fprintf(log, "using the copy in CAPBENCH_MODEL_DIR: %s (%s); not downloading\n", p,
                want_sha ? "sha256 ok" : "no sha256 given to check it");
    return 1;
}

static int pull(const cb_pull_opts *o, char *out, size_t cap, cb_err *err);

int cb_modelpath_pull(const cb_pull_opts *o, char *out, size_t cap, cb_err *err) {
    int rc = pull(o, out, cap, err);
    if (rc && err) cb_url_redact_inplace(err->msg, sizeof err->msg); /* a URL may carry credentials */
    return rc;
}

static int pull(const cb_pull_opts *o, char *out, size_t cap, cb_err *err) {
    char url[2048], name[512], dir[4096], dest[4608], tmp[4608] = "";
    const char *uri = o->uri ? o->uri : CB_DEFAULT_MODEL_URI;
    const char *want_sha = o->sha256;
    int64_t want_size = o->size;
    int fd = -1, rc;
    FILE *log = o->log ? o->log : stderr;
    if (!o->uri || strcmp(o->uri, CB_DEFAULT_MODEL_URI) == 0) {
        if (!want_sha) want_sha = CB_DEFAULT_MODEL_SHA256;
        if (!want_size) want_size = CB_DEFAULT_MODEL_BYTES;
    }
    if (want_sha && !valid_hex64(want_sha))
        return cb_err_set(err, CB_EUSAGE, "--sha256 '%s': expected 64 hex digits", want_sha);
    if ((rc = cb_modelpath_url(uri, url, sizeof url, name, sizeof name, err))) return rc;
    if ((!o->dir || !o->dir[0]) && use_model_dir_copy(name, want_sha, o->progress, log, out, cap)) return 0;
    if (o->dir && o->dir[0]) rc = put(dir, sizeof dir, err, "%s", o->dir);
    else rc = cb_modelpath_cache_dir(dir, sizeof dir, err);
    if (rc) return rc;
    if ((rc = make_dirs(dir, err))) return rc;
    if ((rc = put(dest, sizeof dest, err, "%s/%s", dir, name))) return rc;

    char hex[65];
    int64_t size = 0;
    if (is_file(dest)) {
        if (!want_sha) {
            if (o->progress) fprintf(log, "%s is already present (no sha256 given to check it)\n", dest);
            return put(out, cap, err, "%s", dest);
        }
        if (cb_sha256_file(dest, hex, &size, err) == 0 && strcasecmp(hex, want_sha) == 0) {
            if (o->progress) fprintf(log, "%s is already present (sha256 ok)\n", dest);
            return put(out, cap, err, "%s", dest);
        }
        if (o->progress) fprintf(log, "%s exists but its sha256 differs; downloading it again\n", dest);
    }

    if ((rc = put(tmp, sizeof tmp, err, "%s/.%s.part.XXXXXX", dir, name))) return rc;
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = cb_err_set(err, CB_EIO, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    progress pg = {.log = log, .tty = isatty(fileno(log)), .mode = o->progress, .name = name, .last_quarter = 0};
    pg.t0 = pg.last = mono_now();
    if (o->progress) {
        char shown[2048];
        cb_url_redact(url, shown, sizeof shown);
        fprintf(log, "downloading %s\n  -> %s\n", shown, dest);
    }
    int64_t got = 0;
    long status = 0;
    cb_http_fail fail = CB_HTTP_OK;
    rc = cb_http_download(url, fd, 30.0, on_progress, &pg, &got, &status, &fail, err);
    if (rc) {
        if (pg.tty && o->progress && pg.now > 0) fputc('\n', log);
        if (rc == CB_ENET && fail == CB_HTTP_ECONNECT)
            cb_err_set(err, CB_ENET,
                       "cannot download %s: the server is unreachable (offline?). To use a local GGUF file "
                       "instead, pass --model PATH, or put %s in the directory named by CAPBENCH_MODEL_DIR",
                       url, name);
        goto out;
    }
    if (o->progress) progress_draw(&pg, 1);
    if (fsync(fd) != 0) {
        rc = cb_err_set(err, CB_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = cb_err_set(err, CB_EIO, "%s: close failed: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (want_size > 0 && got != want_size) {
        rc = cb_err_set(err, CB_EFORMAT, "download of %s is %lld bytes, expected %lld (truncated?); removed it", url,
                        (long long)got, (long long)want_size);
        goto out;
    }
    if ((rc = cb_sha256_file(tmp, hex, &size, err))) goto out;
    if (want_sha && strcasecmp(hex, want_sha) != 0) {
        rc = cb_err_set(err, CB_EFORMAT, "sha256 mismatch for %s: got %s, expected %s; removed the download", url,
                        hex, want_sha);
        goto out;
    }
    if (rename(tmp, dest) != 0) {
        rc = cb_err_set(err, CB_EIO, "cannot rename %s to %s: %s", tmp, dest, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* make the rename durable; best effort */
        close(dfd);
    }
    if (o->progress) fprintf(log, "sha256 %s%s\n", hex, want_sha ? " (verified)" : "");
    rc = put(out, cap, err, "%s", dest);
out:
    if (fd >= 0) close(fd);
    if (tmp[0]) unlink(tmp);
    return rc;
}

/* dir/name when that is a regular file */
static int look_in(const char *dir, const char *name, char *out, size_t cap) {
    if (!dir || !dir[0]) return 0;
    char p[4608];
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof p || (size_t)n >= cap || !is_file(p)) return 0;
    memcpy(out, p, (size_t)n + 1);
    return 1;
}

static int look_up(const char *name, char *out, size_t cap) {
    char cache[4096];
    if (look_in(getenv("CAPBENCH_MODEL_DIR"), name, out, cap)) return 1;
    if (cb_modelpath_cache_dir(cache, sizeof cache, NULL) == 0 && look_in(cache, name, out, cap)) return 1;
    return 0;
}

static int resolve(const char *model_arg, char *out, size_t cap, int allow_download, cb_err *err);

int cb_modelpath_resolve(const char *model_arg, char *out, size_t cap, int allow_download, cb_err *err) {
    int rc = resolve(model_arg, out, cap, allow_download, err);
    if (rc && err) cb_url_redact_inplace(err->msg, sizeof err->msg);
    return rc;
}

static int resolve(const char *model_arg, char *out, size_t cap, int allow_download, cb_err *err) {
    const char *uri = NULL;
    char url[2048], name[512];
    int rc, is_default = 0;
    if (!model_arg || !model_arg[0]) {
        uri = CB_DEFAULT_MODEL_URI;
        is_default = 1;
    }
    else if (strncmp(model_arg, "hf://", 5) == 0 || strncmp(model_arg, "http://", 7) == 0 ||
             strncmp(model_arg, "https://", 8) == 0)
        uri = model_arg;
    if (!uri) {
        if (is_file(model_arg)) return put(out, cap, err, "%s", model_arg);
        if (!strchr(model_arg, '/') && look_up(model_arg, out, cap)) return 0;
        return cb_err_set(err, CB_EIO, "model file '%s' not found%s", model_arg,
                          strchr(model_arg, '/') ? "" : " (also looked in $CAPBENCH_MODEL_DIR and the model cache)");
    }
    if ((rc = cb_modelpath_url(uri, url, sizeof url, name, sizeof name, err))) return rc;
    if (look_up(name, out, cap)) return 0;
    if (!allow_download)
        return cb_err_set(err, CB_EIO,
                          "model %s is not in $CAPBENCH_MODEL_DIR or the model cache; run 'capbench pull%s%s' "
                          "first, or pass --model PATH to a local GGUF file",
                          name, is_default ? "" : " ", is_default ? "" : uri);
    cb_pull_opts po = {.uri = is_default ? NULL : uri, .progress = 1};
    return cb_modelpath_pull(&po, out, cap, err);
}
