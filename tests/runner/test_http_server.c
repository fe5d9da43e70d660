/* tests/runner/test_http_server.c — the loopback test server (tests/util/httpd)
 * checked with raw sockets, so that the failure modes other tests rely on are
 * what they claim to be: keep-alive with attempt counting, Expect: 100-continue,
 * a reset that is a real TCP RST, a truncated body that is short of its
 * Content-Length, and a stop that ends a reply still being delayed. */
#include "tests/util/httpd.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void handler(void *user, const cb_httpd_request *req, cb_httpd_reply *rep) {
    (void)user;
    if (strcmp(req->path, "/reset") == 0) rep->action = CB_HTTPD_RESET;
    else if (strcmp(req->path, "/trunc") == 0) {
        cb_httpd_reply_body(rep, 200, "text/plain", "0123456789");
        rep->send_bytes = 4;
    } else if (strcmp(req->path, "/slow") == 0) {
        rep->delay_ms = 60000;
    } else
        cb_httpd_reply_body(rep, 200, "text/plain", "attempt=%d body=%s", req->attempt, req->body);
}

static int connect_to(cb_httpd *h) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cb_httpd_port(h))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_str(int fd, const char *s) { cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s)); }

/* Reads until buf holds `want` (a substring) or the peer closes; returns bytes. */
static ssize_t read_until(int fd, char *buf, size_t cap, const char *want, int *err_out) {
    size_t n = 0;
    *err_out = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r < 0) {
            *err_out = errno;
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
        buf[n] = '\0';
        if (want && strstr(buf, want)) break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

Test(httpd, keepalive_attempts_and_expect_continue, .timeout = 30) {
    cb_httpd *h;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    int fd = connect_to(h), e;
    char buf[4096];
    const char *req = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nX-Key: v1\r\n\r\nabc";
    send_str(fd, req);
    read_until(fd, buf, sizeof buf, "body=abc", &e);
    cr_assert(strstr(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
    cr_assert(strstr(buf, "Content-Length: 18\r\n"), "%s", buf);
    cr_assert(strstr(buf, "attempt=1 body=abc"), "%s", buf);
    /* same request on the same connection: attempt 2 */
    send_str(fd, req);
    read_until(fd, buf, sizeof buf, "body=abc", &e);
    cr_assert(strstr(buf, "attempt=2 body=abc"), "%s", buf);
    /* Expect: 100-continue gets its interim answer before the body is sent */
    send_str(fd, "POST /y HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    read_until(fd, buf, sizeof buf, "\r\n\r\n", &e);
    cr_assert(strstr(buf, "HTTP/1.1 100 Continue"), "%s", buf);
    send_str(fd, "zz");
    read_until(fd, buf, sizeof buf, "body=zz", &e);
    cr_assert(strstr(buf, "attempt=1 body=zz"), "%s", buf);
    close(fd);
    cr_assert_eq(cb_httpd_count(h), 3);
    cr_assert_eq(cb_httpd_count_path(h, "/x"), 2);
    cb_httpd_request r;
    cr_assert_eq(cb_httpd_get(h, 1, &r), 0);
    char v[32];
    cr_assert_str_eq(cb_httpd_header(&r, "x-key", v, sizeof v), "v1");
    cr_assert_eq(r.seq, 1);
    cr_assert_eq(r.attempt, 2);
    cb_httpd_request_free(&r);
    cr_assert_eq(cb_httpd_get(h, 3, &r), -1);
    cb_httpd_stop(h);
}

Test(httpd, reset_truncation_and_stop, .timeout = 30) {
    cb_httpd *h;
    cr_assert_eq(cb_httpd_start(handler, NULL, &h), 0);
    char buf[4096];
    int e;
    int fd = connect_to(h);
    send_str(fd, "GET /reset HTTP/1.1\r\n\r\n");
    ssize_t n = read_until(fd, buf, sizeof buf, NULL, &e);
    cr_assert_eq(n, 0);
    cr_assert_eq(e, ECONNRESET, "expected a TCP reset, got errno %d", e);
    close(fd);

    fd = connect_to(h);
    send_str(fd, "GET /trunc HTTP/1.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, NULL, &e);
    cr_assert(strstr(buf, "Content-Length: 10\r\n"), "%s", buf);
    char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body);
    cr_assert_str_eq(body + 4, "0123", "4 of 10 bytes, then close");
    close(fd);

    /* a 60 s delayed reply does not hold up stop */
    fd = connect_to(h);
    send_str(fd, "GET /slow HTTP/1.1\r\n\r\n");
    usleep(100 * 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cb_httpd_stop(h);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    cr_assert_lt(dt, 2.0, "stop took %.2f s", dt);
    close(fd);
}
