/* runner/http.c — the only file that includes curl/curl.h: global libcurl set-up,
 * the transfer engine of the remote backend (libcurl multi interface, one event
 * loop with a FIFO queue of delayed transfers) and the blocking download used by
 * `capbench pull`. See http.h for the contracts.
 *
 * It does not retry, parse bodies or print anything; request headers (which
 * carry the API key) are wiped from memory when a transfer is freed.
 */
#include "runner/http.h"
#include "runner/commands.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void cb_http_global_init(void) {
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

int cb_http_status_retryable(long status) {
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- one transfer ---------------------------------------------------------- */

typedef struct xfer {
    struct xfer *next;       /* queue link while waiting */
    uint64_t tag;
    double ready_at;         /* monotonic seconds */
    double t0;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url, *method, *body;
    size_t body_len;
    char *rbuf;              /* response body, NUL-terminated */
    size_t rlen, rcap, max_body;
    int too_big;
    double retry_after;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

static void wipe_free(char *p, size_t n) {
    if (!p) return;
    volatile char *v = p;
    for (size_t i = 0; i < n; i++) v[i] = 0;
    free(p);
}

static void xfer_free(xfer *x) {
    if (!x) return;
    if (x->easy) curl_easy_cleanup(x->easy);
    /* header values may hold the API key: zero them before they go back to malloc */
    for (struct curl_slist *s = x->hdrs; s; s = s->next) {
        volatile char *v = s->data;
        for (size_t i = 0; s->data[i]; i++) v[i] = 0;
    }
    curl_slist_free_all(x->hdrs);
    free(x->url);
    free(x->method);
    wipe_free(x->body, x->body_len);
    free(x->rbuf);
    free(x);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    size_t n = size * nmemb;
    if (x->max_body && (x->rlen > x->max_body || n > x->max_body - x->rlen)) {
        x->too_big = 1;
        return 0; /* short write: libcurl aborts with CURLE_WRITE_ERROR */
    }
    if (x->rlen + n + 1 > x->rcap) {
        size_t cap = x->rcap ? x->rcap : 4096;
        while (cap < x->rlen + n + 1) cap *= 2;
        char *p = realloc(x->rbuf, cap);
        if (!p) return 0;
        x->rbuf = p;
        x->rcap = cap;
    }
    memcpy(x->rbuf + x->rlen, data, n);
    x->rlen += n;
    x->rbuf[x->rlen] = '\0';
    return n;
}

/* Parses a header value as Retry-After: delta seconds (possibly fractional) or an
 * HTTP date. Returns seconds from now, or -1. */
static double parse_retry_after(const char *v, int is_ms) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end != v && errno == 0) {
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (*end == '\0' && d >= 0) return is_ms ? d / 1000.0 : d;
    }
    if (is_ms) return -1;
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1) return -1;
    double s = difftime(t, time(NULL));
    return s < 0 ? 0 : s;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user) {
    xfer *x = user;
    size_t n = size * nmemb;
    char line[256];
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        x->retry_after = -1; /* a new response (after 100 or a redirect) starts */
        return n;
    }
    if (n >= sizeof line) return n;
    memcpy(line, data, n);
    line[n] = '\0';
    char *colon = strchr(line, ':');
    if (!colon) return n;
    *colon = '\0';
    char *val = colon + 1;
    while (*val == ' ' || *val == '\t') val++;
    if (strcasecmp(line, "retry-after-ms") == 0) {
        double d = parse_retry_after(val, 1);
        if (d >= 0) x->retry_after = d; /* the ms form wins over Retry-After */
    } else if (strcasecmp(line, "retry-after") == 0 && x->retry_after < 0) {
        x->retry_after = parse_retry_after(val, 0);
    }
    return n;
}

static char *dup_bytes(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- the engine ------------------------------------------------------------- */

struct cb_http {
    CURLM *multi;
    cb_http_opts o;
    xfer *qhead, *qtail;    /* waiting, FIFO */
    xfer *live;             /* in the multi handle (linked through next) */
    int active;
};

int cb_http_open(const cb_http_opts *o, cb_http **out, cb_err *err) {
    *out = NULL;
    cb_http *h = calloc(1, sizeof *h);
    if (!h) return cb_err_set(err, CB_ENOMEM, "http: out of memory");
    h->o = *o;
    if (h->o.concurrency < 1) h->o.concurrency = 1;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return cb_err_set(err, CB_ERUNTIME, "http: curl_multi_init failed");
    }
    /* keep one idle connection per slot for keep-alive reuse */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->o.concurrency);
    *out = h;
    return 0;
}

static void unlink_live(cb_http *h, xfer *x) {
    for (xfer **pp = &h->live; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            x->next = NULL;
            h->active--;
            return;
        }
    }
}

static void cancel_all(cb_http *h) {
    while (h->live) {
        xfer *x = h->live;
        h->live = x->next;
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
    }
    h->active = 0;
    while (h->qhead) {
        xfer *x = h->qhead;
        h->qhead = x->next;
        xfer_free(x);
    }
    h->qtail = NULL;
}

void cb_http_close(cb_http *h) {
    if (!h) return;
    cancel_all(h);
    curl_multi_cleanup(h->multi);
    free(h);
}

int cb_http_submit(cb_http *h, const cb_http_req *req, double delay_s, uint64_t tag, cb_err *err) {
    if (!req->url || !req->url[0]) return cb_err_set(err, CB_EUSAGE, "http: request without a URL");
    xfer *x = calloc(1, sizeof *x);
    if (!x) return cb_err_set(err, CB_ENOMEM, "http: out of memory");
    x->tag = tag;
    x->ready_at = mono_now() + (delay_s > 0 ? delay_s : 0);
    x->max_body = h->o.max_body;
    x->retry_after = -1;
    x->url = dup_bytes(req->url, strlen(req->url));
    const char *m = req->method ? req->method : "GET";
    x->method = dup_bytes(m, strlen(m));
    if (req->body) {
        x->body = dup_bytes(req->body, req->body_len);
        x->body_len = req->body_len;
    }
    if (!x->url || !x->method || (req->body && !x->body)) goto oom;
    for (int i = 0; i < req->n_headers; i++) {
        struct curl_slist *s = curl_slist_append(x->hdrs, req->headers[i]);
        if (!s) goto oom;
        x->hdrs = s;
    }
    /* no "Expect: 100-continue" round trip for larger POST bodies */
    struct curl_slist *s = curl_slist_append(x->hdrs, "Expect:");
    if (!s) goto oom;
    x->hdrs = s;
    if (h->qtail) h->qtail->next = x;
    else h->qhead = x;
    h->qtail = x;
    return 0;
oom:
    xfer_free(x);
    return cb_err_set(err, CB_ENOMEM, "http: out of memory");
}

/* Creates the easy handle for x and adds it to the multi handle. */
static int xfer_start(cb_http *h, xfer *x) {
    CURL *e = curl_easy_init();
    if (!e) return -1;
    x->easy = e;
    x->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (h->o.connect_timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->o.connect_timeout_s * 1000.0 + 0.5));
    if (h->o.timeout_s > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(h->o.timeout_s * 1000.0 + 0.5));
    if (strcmp(x->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    } else if (strcmp(x->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        if (x->body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        }
    }
    x->rlen = 0;
    x->too_big = 0;
    x->retry_after = -1;
    x->t0 = mono_now();
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) return -1;
    x->next = h->live;
    h->live = x;
    h->active++;
    return 0;
}

static void fill_result(xfer *x, CURLcode cc, cb_http_result *r) {
    memset(r, 0, sizeof *r);
    r->retry_after_s = x->retry_after;
    r->elapsed_s = mono_now() - x->t0;
    long status = 0;
    if (x->easy) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (cc == CURLE_OK) {
        r->fail = CB_HTTP_OK;
        if (!x->rbuf) x->rbuf = dup_bytes("", 0);
    } else if (x->too_big) {
        r->fail = CB_HTTP_ETOOBIG;
        snprintf(r->error, sizeof r->error, "response body larger than %zu bytes; transfer aborted", x->max_body);
    } else {
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: r->fail = CB_HTTP_ECONNECT; break;
        case CURLE_OPERATION_TIMEDOUT: r->fail = CB_HTTP_ETIMEOUT; break;
        default: r->fail = CB_HTTP_ETRANSPORT; break;
        }
        snprintf(r->error, sizeof r->error, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    }
    r->body = x->rbuf;
    r->body_len = x->rlen;
    x->rbuf = NULL; /* the result holds it during the callback; taken back after */
}

int cb_http_run(cb_http *h, cb_http_done_fn done, cb_http_stop_fn stop, void *user, cb_err *err) {
    int rc = 0;
    for (;;) {
        if (stop && stop(user)) {
            rc = cb_err_set(err, CB_EINTR, "interrupted");
            break;
        }
        /* start what is due, in queue order, while slots are free */
        double now = mono_now();
        xfer **pp = &h->qhead, *prev = NULL;
        while (*pp && h->active < h->o.concurrency) {
            xfer *x = *pp;
            if (x->ready_at > now) {
                prev = x;
                pp = &x->next;
                continue;
            }
            *pp = x->next;
            if (h->qtail == x) h->qtail = prev;
            x->next = NULL;
            if (xfer_start(h, x) != 0) {
                if (x->easy) {
                    curl_easy_cleanup(x->easy);
                    x->easy = NULL;
                }
                cb_http_result r;
                fill_result(x, CURLE_FAILED_INIT, &r);
                snprintf(r.error, sizeof r.error, "could not set up the transfer (out of memory?)");
                rc = done(user, x->tag, &r);
                free(r.body);
                xfer_free(x);
                if (rc) goto out;
            }
        }
        if (h->active == 0 && !h->qhead) break;

        int running = 0;
        if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
            rc = cb_err_set(err, CB_ERUNTIME, "http: curl_multi_perform failed");
            break;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(h->multi, m->easy_handle);
            unlink_live(h, x);
            cb_http_result r;
            fill_result(x, cc, &r);
            rc = done(user, x->tag, &r);
            free(r.body);
            xfer_free(x);
            if (rc) goto out;
        }

        /* wait for socket activity, curl's own timers, or the next delayed start */
        double wait = 0.1;
        now = mono_now();
        if (h->active < h->o.concurrency) {
            for (xfer *x = h->qhead; x; x = x->next) {
                double d = x->ready_at - now;
                if (d < wait) wait = d;
                if (wait <= 0) break;
            }
        }
        if (wait <= 0) continue;
        if (curl_multi_poll(h->multi, NULL, 0, (int)(wait * 1000.0) + 1, NULL) != CURLM_OK) {
            rc = cb_err_set(err, CB_ERUNTIME, "http: curl_multi_poll failed");
            break;
        }
    }
out:
    if (rc) cancel_all(h);
    return rc;
}

/* ---- blocking download ---------------------------------------------------------- */

typedef struct {
    int fd;
    int64_t written;
    int write_failed;
    int write_errno;
    cb_http_progress_fn progress;
    void *user;
    int stopped;
} dl_state;

static size_t dl_write(char *data, size_t size, size_t nmemb, void *user) {
    dl_state *s = user;
    size_t n = size * nmemb, off = 0;
    while (off < n) {
        ssize_t w = write(s->fd, data + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            s->write_failed = 1;
            s->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    s->written += (int64_t)n;
    return n;
}

static int dl_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal;
    (void)ulnow;
    dl_state *s = user;
    if (!s->progress) return 0;
    if (s->progress(s->user, (int64_t)dlnow, dltotal > 0 ? (int64_t)dltotal : -1)) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

int cb_http_download(const char *url, int fd, double connect_timeout_s, cb_http_progress_fn progress,
                     void *user, int64_t *bytes, long *http_status, cb_http_fail *fail, cb_err *err) {
    dl_state s = {.fd = fd, .progress = progress, .user = user};
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    cb_http_fail f = CB_HTTP_OK;
    int rc = 0;
    if (bytes) *bytes = 0;
    CURL *e = curl_easy_init();
    if (!e) {
        rc = cb_err_set(err, CB_ENOMEM, "http: curl_easy_init failed");
        goto out;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, dl_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "capbench/" CB_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    if (connect_timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout_s * 1000.0 + 0.5));
    /* a stalled transfer (under 1 byte/s for 60 s) fails instead of hanging */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK) goto out;
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (s.stopped) {
        rc = cb_err_set(err, CB_EINTR, "download of %s interrupted", url);
    } else if (s.write_failed) {
        rc = cb_err_set(err, CB_EIO, "download of %s: writing the file failed: %s", url, strerror(s.write_errno));
    } else if (cc == CURLE_HTTP_RETURNED_ERROR) {
        f = CB_HTTP_OK;
        rc = cb_err_set(err, CB_ENET, "download of %s: HTTP %ld%s", url, status,
                        status == 404   ? " (not found)"
                        : status == 401 || status == 403 ? " (access denied)"
                                                         : "");
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY) {
        f = CB_HTTP_ECONNECT;
        rc = cb_err_set(err, CB_ENET, "cannot reach %s: %s", url, why);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        f = CB_HTTP_ETIMEOUT;
        rc = cb_err_set(err, CB_ENET, "download of %s timed out: %s", url, why);
    } else {
        f = CB_HTTP_ETRANSPORT;
        rc = cb_err_set(err, CB_ENET, "download of %s failed after %lld bytes: %s", url, (long long)s.written, why);
    }
out:
    if (e) curl_easy_cleanup(e);
    if (bytes) *bytes = s.written;
    if (http_status) *http_status = status;
    if (fail) *fail = f;
    return rc;
}
