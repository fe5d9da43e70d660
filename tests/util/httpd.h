/* tests/util/httpd.h — a scripted HTTP/1.1 server on 127.0.0.1 for tests.
 *
 * A test starts it on an ephemeral loopback port, points a client at
 * cb_httpd_url(), and decides every answer in a handler callback: a JSON reply,
 * any status with extra headers (Retry-After, Location), a reply slower than
 * the client's timeout, a body trickled a few bytes at a time, a body shorter
 * than its Content-Length (truncation), a connection reset without a reply
 * (SO_LINGER 0), a request accepted and never answered, a file's bytes. The
 * server records every request (method, path, headers, body, arrival time, and
 * the attempt number: how many times the same method+path+body has been seen)
 * so tests can assert retry counts, waits and headers.
 *
 * Bounds: it listens on loopback only, serves one thread per connection (at most
 * CB_HTTPD_MAX_CONNS over its life), reads request bodies up to 32 MiB, and stops
 * by itself CB_HTTPD_LIFETIME_S seconds after start even if the test never calls
 * cb_httpd_stop. It is test code: no TLS, no chunked requests, no pipelining
 * beyond keep-alive.
 */
#ifndef CB_TEST_HTTPD_H
#define CB_TEST_HTTPD_H

#include <stddef.h>

#define CB_HTTPD_MAX_CONNS 1024
#define CB_HTTPD_LIFETIME_S 120

typedef struct cb_httpd cb_httpd;

typedef struct cb_httpd_request {
    int seq;            /* 0-based arrival order */
    int attempt;        /* 1 + earlier requests with the same method, path and body */
    double t;           /* arrival, CLOCK_MONOTONIC seconds (compare with cb_httpd_now) */
    char method[16];
    char path[1024];
    char *headers;      /* raw header lines, "Name: value\r\n" each, NUL-terminated */
    char *body;         /* NUL-terminated, body_len bytes */
    size_t body_len;
} cb_httpd_request;

typedef enum {
    CB_HTTPD_SEND = 0,  /* send the reply below */
    CB_HTTPD_RESET = 1, /* close the connection with a TCP reset, no reply */
    CB_HTTPD_CLOSE = 2, /* close the connection cleanly, no reply */
    CB_HTTPD_HANG = 3   /* never answer: hold the connection until the client
                           closes it or the server stops */
} cb_httpd_action;

/* What to answer. The server hands the handler a reply preset to: SEND, 200,
 * no extra headers, empty body, content_length -1, send_bytes -1, no delay. */
typedef struct cb_httpd_reply {
    cb_httpd_action action;
    int status;
    char headers[1024];      /* extra header lines, each ending in "\r\n" */
    char *body;              /* malloc'd; the server frees it */
    size_t body_len;
    long long content_length;/* Content-Length to declare; -1 = body_len */
    long long send_bytes;    /* body bytes to actually send, then close; -1 = all */
    int delay_ms;            /* wait this long before acting (cut short by stop) */
    int trickle_bytes;       /* > 0: send the body in pieces of this many bytes ... */
    int trickle_ms;          /* ... with this pause before each piece */
    int close_after;         /* close the connection after this reply */
} cb_httpd_reply;

/* Decides the reply to req. Calls are serialized (one at a time), so the handler
 * may keep state in user without locking. */
typedef void (*cb_httpd_handler)(void *user, const cb_httpd_request *req, cb_httpd_reply *rep);

/* Starts the server on 127.0.0.1 with an ephemeral port. Returns 0 and *out,
 * or -1 (socket/thread failure, errno set). */
int cb_httpd_start(cb_httpd_handler fn, void *user, cb_httpd **out);

/* Stops accepting, closes every connection, joins all threads, frees h.
 * NULL is a no-op. */
void cb_httpd_stop(cb_httpd *h);

const char *cb_httpd_url(const cb_httpd *h); /* "http://127.0.0.1:PORT" */
int cb_httpd_port(const cb_httpd *h);
/* The clock of cb_httpd_request.t (CLOCK_MONOTONIC, seconds). */
double cb_httpd_now(void);

/* Requests received so far. */
int cb_httpd_count(cb_httpd *h);
/* Requests received so far whose path is `path`. */
int cb_httpd_count_path(cb_httpd *h, const char *path);
/* Deep copy of request i (0 <= i < count) into out; free with
 * cb_httpd_request_free. Returns 0, or -1 when i is out of range. */
int cb_httpd_get(cb_httpd *h, int i, cb_httpd_request *out);
void cb_httpd_request_free(cb_httpd_request *r);

/* Value of header `name` (case-insensitive) in req, copied into buf; returns
 * buf, or NULL when absent. */
const char *cb_httpd_header(const cb_httpd_request *req, const char *name, char *buf, size_t cap);

/* Reply helpers. */
void cb_httpd_reply_body(cb_httpd_reply *rep, int status, const char *content_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cb_httpd_reply_header(cb_httpd_reply *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Loads a file as the body (application/octet-stream). Returns 0, or -1 and a
 * 404 reply when it cannot be read. */
int cb_httpd_reply_file(cb_httpd_reply *rep, const char *path);
/* A 200 OpenAI chat.completion reply whose message content is text (escaped
 * here for the JSON string), with the given usage counts. */
void cb_httpd_reply_chat(cb_httpd_reply *rep, const char *text, int prompt_tokens, int completion_tokens);

/* A TCP port on 127.0.0.1 that nothing listens on right now (bound and closed),
 * for "server unreachable" tests; 0 on failure. */
int cb_httpd_unused_port(void);

#endif
