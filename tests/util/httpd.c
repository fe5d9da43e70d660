/* tests/util/httpd.c — the scripted loopback HTTP/1.1 test server (see httpd.h).
 *
 * One accept thread polls the listening socket; each connection gets its own
 * thread that reads requests, asks the handler (under a mutex) and writes the
 * scripted answer. All threads poll with short timeouts and watch one stop
 * flag, so cb_httpd_stop (or the lifetime limit) ends them without closing a
 * descriptor another thread still uses.
 */
#include "tests/util/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES (32u * 1024 * 1024)

struct cb_httpd {
    int lfd;
    int port;
    char url[64];
    cb_httpd_handler fn;
    void *user;
    atomic_int stop;
    double deadline;            /* monotonic time of the self-stop */
    pthread_t acceptor;
    pthread_mutex_t mu;         /* guards log and conns */
    pthread_mutex_t handler_mu; /* serializes handler calls */
    cb_httpd_request *log;
    int n_log, cap_log;
    pthread_t conns[CB_HTTPD_MAX_CONNS];
    int n_conns;
};

typedef struct {
    cb_httpd *h;
    int fd;
} conn_arg;

double cb_httpd_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int stopping(cb_httpd *h) {
    if (atomic_load(&h->stop)) return 1;
    if (cb_httpd_now() > h->deadline) {
        atomic_store(&h->stop, 1);
        return 1;
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into *buf; returns bytes read, 0 on EOF, -1 on error or stop. */
static ssize_t read_more(cb_httpd *h, int fd, char **buf, size_t *len, size_t *cap) {
    for (;;) {
        if (stopping(h)) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (pr < 0 && errno != EINTR) return -1;
        if (pr <= 0) continue;
        if (*len + 4096 + 1 > *cap) {
            size_t nc = *cap ? *cap * 2 : 8192;
            while (nc < *len + 4096 + 1) nc *= 2;
            char *nb = realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        ssize_t r = recv(fd, *buf + *len, *cap - *len - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? -1 : 0;
        *len += (size_t)r;
        (*buf)[*len] = '\0';
        return r;
    }
}

static const char *find_header(const char *headers, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    const char *p = headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol) break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

const char *cb_httpd_header(const cb_httpd_request *req, const char *name, char *buf, size_t cap) {
    size_t vl;
    const char *v = find_header(req->headers, name, &vl);
    if (!v || !cap) return NULL;
    if (vl >= cap) vl = cap - 1;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    return buf;
}

static int same_request(const cb_httpd_request *a, const cb_httpd_request *b) {
    return strcmp(a->method, b->method) == 0 && strcmp(a->path, b->path) == 0 && a->body_len == b->body_len &&
           memcmp(a->body, b->body, a->body_len) == 0;
}

static int copy_request(const cb_httpd_request *src, cb_httpd_request *dst) {
    *dst = *src;
    dst->headers = strdup(src->headers);
    dst->body = malloc(src->body_len + 1);
    if (!dst->headers || !dst->body) {
        free(dst->headers);
        free(dst->body);
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    memcpy(dst->body, src->body, src->body_len);
    dst->body[src->body_len] = '\0';
    return 0;
}

void cb_httpd_request_free(cb_httpd_request *r) {
    if (!r) return;
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Records req in the log (setting seq and attempt). */
static void log_request(cb_httpd *h, cb_httpd_request *req) {
    pthread_mutex_lock(&h->mu);
    req->seq = h->n_log;
    req->attempt = 1;
    for (int i = 0; i < h->n_log; i++)
        if (same_request(&h->log[i], req)) req->attempt++;
    if (h->n_log == h->cap_log) {
        int nc = h->cap_log ? h->cap_log * 2 : 64;
        cb_httpd_request *nl = realloc(h->log, (size_t)nc * sizeof *nl);
        if (nl) {
            h->log = nl;
            h->cap_log = nc;
        }
    }
    if (h->n_log < h->cap_log && copy_request(req, &h->log[h->n_log]) == 0) h->n_log++;
    pthread_mutex_unlock(&h->mu);
}

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 302: return "Found";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void reset_close(int fd) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void *conn_main(void *arg) {
    conn_arg *ca = arg;
    cb_httpd *h = ca->h;
    int fd = ca->fd;
    free(ca);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int closed = 0;
    while (!stopping(h)) {
        /* headers */
        char *hend;
        while (!(hend = (buf ? strstr(buf, "\r\n\r\n") : NULL))) {
            if (len > MAX_HEADER_BYTES) goto done;
            if (read_more(h, fd, &buf, &len, &cap) <= 0) goto done;
        }
        size_t head_len = (size_t)(hend - buf) + 4;
        cb_httpd_request req;
        memset(&req, 0, sizeof req);
        char *sp1 = memchr(buf, ' ', head_len), *sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (size_t)(sp1 + 1 - buf)) : NULL;
        char *eol = strstr(buf, "\r\n");
        if (!sp1 || !sp2 || sp2 > eol) goto done;
        snprintf(req.method, sizeof req.method, "%.*s", (int)(sp1 - buf), buf);
        snprintf(req.path, sizeof req.path, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
        size_t hl = (size_t)(hend + 2 - (eol + 2));
        req.headers = malloc(hl + 1);
        if (!req.headers) goto done;
        memcpy(req.headers, eol + 2, hl);
        req.headers[hl] = '\0';
        size_t clen = 0, vl;
        const char *v = find_header(req.headers, "Content-Length", &vl);
        if (v) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(vl < 31 ? vl : 31), v);
            clen = (size_t)strtoull(tmp, NULL, 10);
        }
        if (clen > MAX_BODY_BYTES) {
            free(req.headers);
            goto done;
        }
        v = find_header(req.headers, "Expect", &vl);
        if (v && vl >= 12 && strncasecmp(v, "100-continue", 12) == 0)
            send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        while (len < head_len + clen) {
            if (read_more(h, fd, &buf, &len, &cap) <= 0) {
                free(req.headers);
                goto done;
            }
        }
        req.body = malloc(clen + 1);
        if (!req.body) {
            free(req.headers);
            goto done;
        }
        memcpy(req.body, buf + head_len, clen);
        req.body[clen] = '\0';
        req.body_len = clen;
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;
        buf[len] = '\0';

        req.t = cb_httpd_now();
        log_request(h, &req);
        cb_httpd_reply rep;
        memset(&rep, 0, sizeof rep);
        rep.status = 200;
        rep.content_length = -1;
        rep.send_bytes = -1;
        pthread_mutex_lock(&h->handler_mu);
        h->fn(h->user, &req, &rep);
        pthread_mutex_unlock(&h->handler_mu);
        cb_httpd_request_free(&req);

        for (int waited = 0; waited < rep.delay_ms && !stopping(h); waited += 10) usleep(10 * 1000);
        if (rep.action == CB_HTTPD_RESET) {
            free(rep.body);
            reset_close(fd);
            closed = 1;
            goto done;
        }
        if (rep.action == CB_HTTPD_CLOSE) {
            free(rep.body);
            goto done;
        }
        if (rep.action == CB_HTTPD_HANG) {
            free(rep.body);
            /* until the client gives up (EOF or reset) or the server stops */
            while (!stopping(h)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                char sink[512];
                if (poll(&p, 1, 20) > 0 && recv(fd, sink, sizeof sink, 0) <= 0) break;
            }
            goto done;
        }
        long long declared = rep.content_length >= 0 ? rep.content_length : (long long)rep.body_len;
        size_t nsend = rep.send_bytes >= 0 && (size_t)rep.send_bytes < rep.body_len ? (size_t)rep.send_bytes
                                                                                      : rep.body_len;
        int truncated = (long long)nsend < declared;
        char head[2048];
        int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %lld\r\n%s%s\r\n", rep.status,
                         reason(rep.status), declared, rep.headers,
                         rep.close_after || truncated ? "Connection: close\r\n" : "");
        int bad = n < 0 || (size_t)n >= sizeof head || send_all(fd, head, (size_t)n);
        if (!bad && rep.trickle_bytes > 0) {
            for (size_t off = 0; off < nsend && !bad && !stopping(h); off += (size_t)rep.trickle_bytes) {
                for (int waited = 0; waited < rep.trickle_ms && !stopping(h); waited += 10) usleep(10 * 1000);
                size_t piece = nsend - off < (size_t)rep.trickle_bytes ? nsend - off : (size_t)rep.trickle_bytes;
                bad = send_all(fd, rep.body + off, piece);
            }
        } else if (!bad && nsend) {
            bad = send_all(fd, rep.body, nsend);
        }
        free(rep.body);
        if (bad || truncated || rep.close_after) goto done;
    }
done:
    if (!closed) close(fd);
    free(buf);
    return NULL;
}

static void *accept_main(void *arg) {
    cb_httpd *h = arg;
    while (!stopping(h)) {
        struct pollfd p = {.fd = h->lfd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (pr <= 0) continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&h->mu);
        int full = h->n_conns >= CB_HTTPD_MAX_CONNS;
        pthread_mutex_unlock(&h->mu);
        conn_arg *ca = full ? NULL : malloc(sizeof *ca);
        if (!ca) {
            close(fd);
            continue;
        }
        ca->h = h;
        ca->fd = fd;
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, ca) != 0) {
            free(ca);
            close(fd);
            continue;
        }
        pthread_mutex_lock(&h->mu);
        h->conns[h->n_conns++] = t;
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

int cb_httpd_start(cb_httpd_handler fn, void *user, cb_httpd **out) {
    *out = NULL;
    cb_httpd *h = calloc(1, sizeof *h);
    if (!h) return -1;
    h->fn = fn;
    h->user = user;
    h->deadline = cb_httpd_now() + CB_HTTPD_LIFETIME_S;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->handler_mu, NULL);
    h->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->lfd < 0) goto fail;
    int one = 1;
    setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(h->lfd, (struct sockaddr *)&a, sizeof a) || listen(h->lfd, 128) ||
        getsockname(h->lfd, (struct sockaddr *)&a, &al))
        goto fail;
    h->port = ntohs(a.sin_port);
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", h->port);
    if (pthread_create(&h->acceptor, NULL, accept_main, h) != 0) goto fail;
    *out = h;
    return 0;
fail:
    if (h->lfd >= 0) close(h->lfd);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->handler_mu);
    free(h);
    return -1;
}

void cb_httpd_stop(cb_httpd *h) {
    if (!h) return;
    atomic_store(&h->stop, 1);
    pthread_join(h->acceptor, NULL);
    /* the acceptor is gone, so n_conns no longer changes */
    for (int i = 0; i < h->n_conns; i++) pthread_join(h->conns[i], NULL);
    close(h->lfd);
    for (int i = 0; i < h->n_log; i++) cb_httpd_request_free(&h->log[i]);
    free(h->log);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->handler_mu);
    free(h);
}

const char *cb_httpd_url(const cb_httpd *h) { return h->url; }
int cb_httpd_port(const cb_httpd *h) { return h->port; }

int cb_httpd_count(cb_httpd *h) {
    pthread_mutex_lock(&h->mu);
    int n = h->n_log;
    pthread_mutex_unlock(&h->mu);
    return n;
}

int cb_httpd_count_path(cb_httpd *h, const char *path) {
    pthread_mutex_lock(&h->mu);
    int n = 0;
    for (int i = 0; i < h->n_log; i++)
        if (strcmp(h->log[i].path, path) == 0) n++;
    pthread_mutex_unlock(&h->mu);
    return n;
}

int cb_httpd_get(cb_httpd *h, int i, cb_httpd_request *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&h->mu);
    int rc = -1;
    if (i >= 0 && i < h->n_log) rc = copy_request(&h->log[i], out);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void cb_httpd_reply_body(cb_httpd_reply *rep, int status, const char *content_type, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    free(rep->body);
    rep->body = NULL;
    rep->body_len = 0;
    rep->status = status;
    if (n >= 0) {
        rep->body = malloc((size_t)n + 1);
        if (rep->body) {
            va_start(ap, fmt);
            vsnprintf(rep->body, (size_t)n + 1, fmt, ap);
            va_end(ap);
            rep->body_len = (size_t)n;
        }
    }
    if (content_type) cb_httpd_reply_header(rep, "Content-Type: %s", content_type);
}

void cb_httpd_reply_header(cb_httpd_reply *rep, const char *fmt, ...) {
    size_t used = strlen(rep->headers);
    if (used + 2 >= sizeof rep->headers) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->headers + used, sizeof rep->headers - used - 2, fmt, ap);
    va_end(ap);
    used = strlen(rep->headers);
    memcpy(rep->headers + used, "\r\n", 3);
}

int cb_httpd_reply_file(cb_httpd_reply *rep, const char *path) {
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            data = malloc((size_t)sz + 1);
            if (data && fread(data, 1, (size_t)sz, f) == (size_t)sz) n = (size_t)sz;
            else {
                free(data);
                data = NULL;
            }
        }
    }
    if (f) fclose(f);
    if (!data) {
        cb_httpd_reply_body(rep, 404, "text/plain", "no such file");
        return -1;
    }
    free(rep->body);
    rep->body = data;
    rep->body_len = n;
    rep->status = 200;
    cb_httpd_reply_header(rep, "Content-Type: application/octet-stream");
    return 0;
}

int cb_httpd_unused_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void cb_httpd_reply_chat(cb_httpd_reply *rep, const char *text, int prompt_tokens, int completion_tokens) {
    char esc[8192];
    size_t w = 0;
    for (const unsigned char *q = (const unsigned char *)text; *q && w < sizeof esc - 7; q++) {
        if (*q == '\n') esc[w++] = '\\', esc[w++] = 'n';
        else if (*q == '"' || *q == '\\') esc[w++] = '\\', esc[w++] = (char)*q;
        else if (*q < 0x20) w += (size_t)snprintf(esc + w, sizeof esc - w, "\\u%04x", *q);
        else esc[w++] = (char)*q;
    }
    esc[w] = 0;
    cb_httpd_reply_body(rep, 200, "application/json",
                        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
                        "{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],\"usage\":"
                        "{\"prompt_tokens\":%d,\"completion_tokens\":%d}}",
                        esc, prompt_tokens, completion_tokens);
}
