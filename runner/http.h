/* runner/http.h — capbench's HTTP client: a small transfer engine for the remote
 * backend and a blocking file download for `capbench pull`.
 *
 * runner/http.c is the only file that includes curl/curl.h; nothing here exposes
 * a libcurl type. The engine runs many transfers at once over one libcurl multi
 * handle, driven by a single-threaded event loop (curl_multi_poll plus a list of
 * timers), so that a transfer waiting out a retry delay never blocks the others.
 *
 * What it deliberately does not do: decide about retries (the caller's done
 * callback looks at the result and re-queues with a delay of its choice), parse
 * bodies, or log headers (request headers may carry secrets; they are copied
 * into the engine, used, wiped and freed, and never printed).
 *
 * Threading: one cb_http is used by one thread at a time. cb_http_run calls the
 * done callback on the calling thread.
 */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* How a transfer ended, apart from the HTTP status. */
typedef enum {
    CB_HTTP_OK = 0,        /* a complete HTTP response arrived (any status) */
    CB_HTTP_ECONNECT = 1,  /* could not connect / resolve (nothing was sent) */
    CB_HTTP_ETIMEOUT = 2,  /* connect or total timeout */
    CB_HTTP_ETOOBIG = 3,   /* body exceeded max_body; transfer aborted */
    CB_HTTP_ETRANSPORT = 4,/* connection reset, short body, protocol error ... */
    CB_HTTP_ECANCEL = 5    /* cancelled by cb_http_run's caller (abort) */
} cb_http_fail;

typedef struct cb_http_opts {
    int concurrency;           /* transfers in flight at once (>= 1) */
    double connect_timeout_s;  /* per attempt; <= 0: libcurl's default */
    double timeout_s;          /* total per attempt; <= 0: none */
    size_t max_body;           /* response body cap in bytes; 0: none */
} cb_http_opts;

/* One request. The engine copies everything it needs at submit time, so the
 * caller's strings may be freed right after cb_http_submit returns. */
typedef struct cb_http_req {
    const char *method;              /* "GET" or "POST" (NULL = GET) */
    const char *url;
    const char *const *headers;      /* "Name: value" lines, n_headers of them */
    int n_headers;
    const char *body;                /* POST body (may contain NULs), body_len bytes */
    size_t body_len;
} cb_http_req;

/* What one attempt produced; owned by the engine and valid only during the
 * done callback (steal `body` by setting it to NULL to keep it). */
typedef struct cb_http_result {
    cb_http_fail fail;
    long status;           /* HTTP status, 0 when no response line arrived */
    char *body;            /* NUL-terminated, body_len bytes (never NULL when fail == OK) */
    size_t body_len;
    double retry_after_s;  /* from retry-after-ms / Retry-After (seconds or HTTP date); -1 if absent */
    double elapsed_s;      /* wall time of this attempt */
    char error[256];       /* transport error text when fail != OK ("" otherwise) */
} cb_http_result;

typedef struct cb_http cb_http;

/* Creates an engine. Returns 0 and *out, or CB_ENOMEM / CB_ERUNTIME with err set.
 * Free with cb_http_close. */
int cb_http_open(const cb_http_opts *o, cb_http **out, cb_err *err);

/* Aborts whatever is still queued or in flight and frees h. NULL is a no-op. */
void cb_http_close(cb_http *h);

/* Queues one transfer, to start no earlier than delay_s seconds from now (0 =
 * as soon as a concurrency slot is free). `tag` comes back in the done callback.
 * May be called before cb_http_run or from inside the done callback. Returns 0,
 * or CB_ENOMEM / CB_EUSAGE (no URL) with err set. */
int cb_http_submit(cb_http *h, const cb_http_req *req, double delay_s, uint64_t tag, cb_err *err);

/* Called once per finished attempt. Returns 0 to go on; any other value stops
 * cb_http_run, which cancels every queued and in-flight transfer (without
 * calling done for them) and returns that value. */
typedef int (*cb_http_done_fn)(void *user, uint64_t tag, cb_http_result *res);

/* Optional stop check polled at least every 100 ms while waiting: a nonzero
 * return cancels everything and makes cb_http_run return CB_EINTR. */
typedef int (*cb_http_stop_fn)(void *user);

/* Runs the event loop until no transfer is queued, delayed or in flight (0), a
 * done callback returns nonzero (that value), stop says so (CB_EINTR), or libcurl
 * fails (CB_ERUNTIME). err is set only for CB_EINTR and CB_ERUNTIME; for a
 * callback's code the callback is expected to have set its own error. */
int cb_http_run(cb_http *h, cb_http_done_fn done, cb_http_stop_fn stop, void *user, cb_err *err);

/* Blocking download of url into the open file descriptor fd (written from its
 * current position), following redirects. progress (may be NULL) is called now
 * and then with bytes so far and the total (-1 when unknown); returning nonzero
 * aborts with CB_EINTR. On success returns 0 with *bytes written.
 * Errors: CB_ENET with *fail = ECONNECT when the host cannot be reached (offline),
 * ETIMEOUT, or ETRANSPORT for a truncated/short transfer; CB_ENET with *http_status
 * set for a status >= 400; CB_EIO when writing fails; CB_ENOMEM. The message
 * names the URL. fail and http_status may be NULL. */
typedef int (*cb_http_progress_fn)(void *user, int64_t now, int64_t total);
int cb_http_download(const char *url, int fd, double connect_timeout_s, cb_http_progress_fn progress,
                     void *user, int64_t *bytes, long *http_status, cb_http_fail *fail, cb_err *err);

/* Whether an HTTP status is one a client should retry (OpenAI SDK rules: 408,
 * 409, 429 and every 5xx). */
int cb_http_status_retryable(long status);

#endif
