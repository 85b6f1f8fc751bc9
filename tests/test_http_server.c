/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 server (lib/server): a server on a loop in a thread of the
 * test, driven by libcurl and raw sockets. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "server/http_server.h"

/* ---- the server under test ---- */

static struct {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    aigw__http_server *srv;
    int port;
    atomic_int cmd; /* 1: graceful shutdown, 2: shutdown call again */
    atomic_int shutdown_calls;
    uint64_t deadline_ms;
    atomic_int closed;
    atomic_int disconnects;
    atomic_int running;
} F;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long query_num(const aigw__http_request *req, const char *key, long def) {
    if (!req->query)
        return def;
    const char *p = strstr(req->query, key);
    if (!p || p[strlen(key)] != '=')
        return def;
    return strtol(p + strlen(key) + 1, NULL, 10);
}

typedef struct job {
    uv_timer_t timer;
    aigw__http_response *res;
    long i, n, ms;
    int forever;
} job;

static void job_free(uv_handle_t *h) {
    free(h->data);
}

static void on_slow(uv_timer_t *t) {
    job *j = t->data;
    aigw__http_response_send(j->res, 200, "text/plain", "slow done", 9);
    uv_close((uv_handle_t *)&j->timer, job_free);
}

static void on_tick(uv_timer_t *t) {
    job *j = t->data;
    char line[64];
    int n = snprintf(line, sizeof(line), "chunk %ld\n", j->i);
    aigw__http_response_write(j->res, line, (size_t)n);
    if (!j->forever && ++j->i >= j->n) {
        aigw__http_response_end(j->res);
        uv_timer_stop(&j->timer);
        uv_close((uv_handle_t *)&j->timer, job_free);
    } else if (j->forever) {
        j->i++;
    }
}

static void on_client_gone(aigw__http_response *res, void *data) {
    job *j = data;
    atomic_fetch_add(&F.disconnects, 1);
    uv_timer_stop(&j->timer);
    cr_expect(!aigw__http_response_connected(res));
    cr_expect_eq(aigw__http_response_write(res, "x", 1), AIGW_ECANCELED);
    aigw__http_response_end(res); /* frees res */
    uv_close((uv_handle_t *)&j->timer, job_free);
}

static void handler(aigw__http_request *req, aigw__http_response *res, void *user) {
    uv_loop_t *loop = user;
    if (strcmp(req->path, "/hello") == 0) {
        aigw__http_response_header(res, "X-Test", "yes");
        aigw__http_response_send(res, 200, "text/plain", "hello", 5);
    } else if (strcmp(req->path, "/echo") == 0) {
        char info[256];
        snprintf(info, sizeof(info), "%s %s", req->method, req->query ? req->query : "");
        aigw__http_response_header(res, "X-Info", info);
        if (req->body_len)
            aigw__http_response_send(res, 200, "application/octet-stream", req->body,
                                     req->body_len);
        else
            aigw__http_response_send(res, 200, "text/plain", info, strlen(info));
    } else if (strcmp(req->path, "/slow") == 0 || strcmp(req->path, "/stream") == 0 ||
               strcmp(req->path, "/forever") == 0) {
        job *j = calloc(1, sizeof(*j));
        j->res = res;
        j->ms = query_num(req, "ms", 100);
        j->n = query_num(req, "n", 3);
        uv_timer_init(loop, &j->timer);
        j->timer.data = j;
        if (req->path[1] == 's' && req->path[2] == 'l') {
            aigw__http_response_on_disconnect(res, on_client_gone, j);
            uv_timer_start(&j->timer, on_slow, (uint64_t)j->ms, 0);
        } else {
            j->forever = req->path[1] == 'f';
            aigw__http_response_on_disconnect(res, on_client_gone, j);
            aigw__http_response_start(res, 200, "text/event-stream");
            uv_timer_start(&j->timer, on_tick, 0, (uint64_t)j->ms);
        }
    } else {
        aigw__http_response_send_error(res, 404, NULL, "No such route.", NULL, "not_found");
    }
}

static void on_closed(void *data) {
    (void)data;
    F.srv = NULL;
    atomic_store(&F.closed, 1);
    uv_close((uv_handle_t *)&F.async, NULL);
}

static void on_async(uv_async_t *a) {
    (void)a;
    int cmd = atomic_exchange(&F.cmd, 0);
    if (cmd && F.srv) {
        atomic_fetch_add(&F.shutdown_calls, 1);
        aigw__http_server_shutdown(F.srv, cmd == 2 ? 0 : F.deadline_ms, on_closed, NULL);
    }
}

static void *loop_main(void *arg) {
    (void)arg;
    uv_run(&F.loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_server(const aigw__http_server_options *opts) {
    memset(&F, 0, sizeof(F));
    cr_assert_eq(uv_loop_init(&F.loop), 0);
    cr_assert_eq(uv_async_init(&F.loop, &F.async, on_async), 0);
    aigw_error *err = NULL;
    cr_assert_eq(
        aigw__http_server_new(&F.loop, "127.0.0.1", 0, opts, handler, &F.loop, &F.srv, &err),
        AIGW_OK);
    F.port = aigw__http_server_port(F.srv);
    cr_assert_gt(F.port, 0);
    atomic_store(&F.running, 1);
    cr_assert_eq(pthread_create(&F.thread, NULL, loop_main, NULL), 0);
}

static void request_shutdown(uint64_t deadline_ms) {
    F.deadline_ms = deadline_ms;
    atomic_store(&F.cmd, 1);
    uv_async_send(&F.async);
}

static void stop_server(void) {
    if (!atomic_load(&F.running))
        return;
    for (int i = 0; i < 500 && !atomic_load(&F.closed); i++) {
        atomic_store(&F.cmd, 2);
        uv_async_send(&F.async);
        sleep_ms(10);
    }
    pthread_join(F.thread, NULL);
    atomic_store(&F.running, 0);
    cr_expect(atomic_load(&F.closed));
    /* Every handle was closed and freed. */
    cr_expect_eq(uv_loop_close(&F.loop), 0);
}

static void setup_default(void) {
    start_server(NULL);
}

/* ---- clients ---- */

typedef struct body {
    char data[1 << 16];
    size_t len;
    double t[64]; /* arrival time of each piece */
    size_t pieces;
} body;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    body *b = ud;
    size_t len = sz * n;
    if (b->pieces < 64)
        b->t[b->pieces++] = now_ms();
    size_t room = sizeof(b->data) - 1 - b->len;
    size_t k = len < room ? len : room;
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return len;
}

static CURL *easy(const char *path, body *b, body *hdrs) {
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", F.port, path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    if (hdrs) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, hdrs);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    return h;
}

static long get(const char *path, body *b) {
    CURL *h = easy(path, b, NULL);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? code : -(long)rc;
}

static int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)F.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void raw_send(int fd, const char *s, size_t len) {
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* Reads until EOF, `until` appears, or timeout_ms passes. */
static size_t raw_read(int fd, char *buf, size_t cap, const char *until, int timeout_ms) {
    size_t len = 0;
    double end = now_ms() + timeout_ms;
    buf[0] = '\0';
    while (len + 1 < cap) {
        int left = (int)(end - now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (until && strstr(buf, until))
            break;
    }
    return len;
}

static size_t raw_exchange(const char *req, char *buf, size_t cap) {
    int fd = raw_connect();
    cr_assert_geq(fd, 0);
    raw_send(fd, req, strlen(req));
    size_t n = raw_read(fd, buf, cap, NULL, 5000);
    close(fd);
    return n;
}

static void expect_json_error(const char *resp, int status) {
    char line[32];
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    cr_expect(strncmp(resp, line, strlen(line)) == 0, "status %d expected in: %.200s", status,
              resp);
    cr_expect(strstr(resp, "Connection: close\r\n") != NULL, "%.300s", resp);
    cr_expect(strstr(resp, "Content-Type: application/json\r\n") != NULL);
    cr_expect(strstr(resp, "{\"error\":{\"message\":") != NULL, "%s", resp);
    cr_expect(strstr(resp, "\"type\":") && strstr(resp, "\"param\":null") &&
              strstr(resp, "\"code\":"));
}

/* ---- tests ---- */

TestSuite(http_server, .fini = stop_server);

Test(http_server, get_and_post, .init = setup_default) {
    body b = {0}, h = {0};
    CURL *c = easy("/hello", &b, &h);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long code;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    cr_expect_eq(code, 200);
    cr_expect_str_eq(b.data, "hello");
    cr_expect(strstr(h.data, "Date: ") && strstr(h.data, "X-Test: yes") &&
              strstr(h.data, "Content-Length: 5"));

    body p = {0};
    c = easy("/echo?x=1", &p, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"model\":\"m\"}");
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    cr_expect_str_eq(p.data, "{\"model\":\"m\"}");

    body e = {0};
    cr_expect_eq(get("/nope", &e), 404);
    cr_expect(strstr(e.data, "\"code\":\"not_found\"") != NULL, "%s", e.data);
}

Test(http_server, keep_alive_reuse, .init = setup_default) {
    CURL *c = NULL;
    for (int i = 0; i < 5; i++) {
        body b = {0};
        if (!c)
            c = easy("/hello", &b, NULL);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        cr_assert_eq(curl_easy_perform(c), CURLE_OK);
        long conns = -1;
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
        cr_expect_eq(conns, i == 0 ? 1 : 0, "request %d opened %ld connections", i, conns);
        cr_expect_str_eq(b.data, "hello");
    }
    curl_easy_cleanup(c);
}

Test(http_server, pipelined_in_order, .init = setup_default) {
    /* The slow one in the middle must not let the third overtake it. */
    const char *req = "GET /echo?first HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /slow?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /echo?third HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird"
                      "GET /echo?last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[8192];
    raw_exchange(req, buf, sizeof(buf));
    const char *a = strstr(buf, "GET first");
    const char *b = strstr(buf, "slow done");
    const char *c = strstr(buf, "\r\n\r\nthird");
    const char *d = strstr(buf, "GET last");
    cr_assert(a && b && c && d, "%s", buf);
    cr_expect(a < b && b < c && c < d);
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "HTTP/1.1 200")); p++)
        n++;
    cr_expect_eq(n, 4);
}

Test(http_server, chunked_request_body, .init = setup_default) {
    const char *req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
    char buf[4096];
    raw_exchange(req, buf, sizeof(buf));
    cr_expect(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
    cr_expect(strstr(buf, "Content-Length: 11\r\n") != NULL, "%s", buf);
    cr_expect(strstr(buf, "\r\n\r\nhello world") != NULL, "%s", buf);

    /* And from curl, which streams an unknown-length body chunked. */
    body b = {0};
    CURL *c = easy("/echo", &b, NULL);
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "abcdef");
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    cr_expect_str_eq(b.data, "abcdef");
}

Test(http_server, expect_100_continue, .init = setup_default) {
    int fd = raw_connect();
    const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       "Expect: 100-continue\r\n\r\n";
    raw_send(fd, head, strlen(head));
    char buf[4096];
    raw_read(fd, buf, sizeof(buf), "\r\n\r\n", 3000);
    cr_expect_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    raw_send(fd, "hello", 5);
    raw_read(fd, buf, sizeof(buf), "hello", 3000);
    cr_expect(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0, "%s", buf);
    cr_expect(strstr(buf, "\r\n\r\nhello") != NULL);
    close(fd);

    /* curl waits for the 100 before sending a big body. */
    static char big[100000];
    memset(big, 'a', sizeof(big));
    body b = {0};
    CURL *c = easy("/echo", &b, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(big));
    struct curl_slist *h = curl_slist_append(NULL, "Expect: 100-continue");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    cr_expect_eq(b.len, sizeof(b.data) - 1 < sizeof(big) ? sizeof(b.data) - 1 : sizeof(big));

    /* Unknown expectations are refused. */
    raw_exchange("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 1\r\n\r\nx", buf,
                 sizeof(buf));
    expect_json_error(buf, 417);
}

Test(http_server, header_too_large_431, .init = setup_default) {
    size_t n = 40 * 1024;
    char *req = malloc(n + 256);
    int k = sprintf(req, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + k, 'b', n);
    strcpy(req + k + n, "\r\n\r\n");
    char buf[4096];
    raw_exchange(req, buf, sizeof(buf));
    free(req);
    expect_json_error(buf, 431);

    /* Too many header lines, too. */
    char many[8192] = "GET /hello HTTP/1.1\r\n";
    for (int i = 0; i < 150; i++)
        sprintf(many + strlen(many), "X-H%d: v\r\n", i);
    strcat(many, "\r\n");
    raw_exchange(many, buf, sizeof(buf));
    expect_json_error(buf, 431);
}

static void setup_small_body(void) {
    aigw__http_server_options o = {0};
    o.max_body_bytes = 1024;
    start_server(&o);
}

Test(http_server, body_too_large_413, .init = setup_small_body) {
    char buf[4096];
    /* Announced: refused before the body is read. */
    raw_exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nxx", buf,
                 sizeof(buf));
    expect_json_error(buf, 413);

    /* Chunked: refused once it passes the limit. */
    char req[4096];
    strcpy(req, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 12; i++)
        strcat(req, "64\r\n"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "012345678901234567890123456789\r\n");
    raw_exchange(req, buf, sizeof(buf));
    expect_json_error(buf, 413);

    /* With 100-continue, the 413 comes instead of the 100. */
    raw_exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                 "Expect: 100-continue\r\n\r\n",
                 buf, sizeof(buf));
    expect_json_error(buf, 413);
    cr_expect(strstr(buf, "100 Continue") == NULL);

    /* curl sees the status. */
    static char big[4096];
    memset(big, 'z', sizeof(big));
    body b = {0};
    CURL *c = easy("/echo", &b, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, big);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(big));
    curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    cr_expect_eq(code, 413);
}

static void setup_short_timeouts(void) {
    aigw__http_server_options o = {0};
    o.header_timeout_ms = 500;
    o.request_timeout_ms = 1000;
    o.idle_timeout_ms = 300;
    start_server(&o);
}

/* Sends `req` (after its first at_once bytes) one byte every `gap_ms`; returns ms until the server
 * answered and closed, with the answer in buf. */
static double trickle(const char *req, size_t at_once, int gap_ms, char *buf, size_t cap) {
    int fd = raw_connect();
    double t0 = now_ms();
    size_t len = 0, sent = at_once, total = strlen(req);
    raw_send(fd, req, at_once);
    buf[0] = '\0';
    for (;;) {
        if (sent < total)
            raw_send(fd, req + sent++, 1);
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, gap_ms) > 0) {
            ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
        }
        if (now_ms() - t0 > 10000)
            break;
    }
    close(fd);
    return now_ms() - t0;
}

Test(http_server, slowloris_408, .init = setup_short_timeouts) {
    char req[4096] = "GET /hello HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 100; i++)
        strcat(req, "X-Slow: aaaaaaaa\r\n");
    char buf[4096];
    double ms = trickle(req, 0, 20, buf, sizeof(buf));
    expect_json_error(buf, 408);
    cr_expect(ms > 400 && ms < 2500, "took %.0f ms", ms);

    /* A slow body runs into the whole-request deadline. */
    char post[4096] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n";
    strcat(post, "0123456789012345678901234567890123456789012345678901234567890123456789"
                 "0123456789012345678901234567890123456789012345678901234567890123456789");
    ms = trickle(post, (size_t)(strstr(post, "\r\n\r\n") + 4 - post), 20, buf, sizeof(buf));
    expect_json_error(buf, 408);
    cr_expect(ms > 900 && ms < 3000, "took %.0f ms", ms);

    /* An idle keep-alive connection is closed quietly. */
    int fd = raw_connect();
    raw_send(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 32);
    double t0 = now_ms();
    size_t n = raw_read(fd, buf, sizeof(buf), NULL, 3000);
    double idle = now_ms() - t0;
    close(fd);
    cr_expect(n > 0 && strstr(buf, "hello"));
    cr_expect(strstr(buf, "408") == NULL);
    cr_expect(idle > 250 && idle < 2000, "idle close after %.0f ms", idle);
}

Test(http_server, garbage_400, .init = setup_default) {
    char buf[4096];
    raw_exchange("\x01\x02\x03 garbage \xff\r\n\r\n", buf, sizeof(buf));
    expect_json_error(buf, 400);
    raw_exchange("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", buf,
                 sizeof(buf));
    expect_json_error(buf, 400);
    raw_exchange("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", buf, sizeof(buf));
    expect_json_error(buf, 400);
    /* The server lives on. */
    body b = {0};
    cr_expect_eq(get("/hello", &b), 200);
}

/* Only HTTP/1.0 and 1.1 (http_parser takes any one-digit version), and no
 * obsolete line folding, however the bytes are split. */
Test(http_server, strict_version_and_no_line_folding, .init = setup_default) {
    char buf[4096];
    raw_exchange("GET /hello HTTP/9.9\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    expect_json_error(buf, 505);
    cr_expect(strstr(buf, "\"code\":\"http_version_not_supported\""), "%s", buf);
    raw_exchange("GET /hello HTTP/2.0\r\n\r\n", buf, sizeof(buf));
    expect_json_error(buf, 505);
    raw_exchange("GET /hello HTTP/0.9\r\nHost: x\r\n\r\n", buf, sizeof(buf));
    expect_json_error(buf, 505);

    static const char *const folded[] = {
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n",
        "GET /hello HTTP/1.1\r\nX-A: one\r\n\ttwo\r\nHost: x\r\n\r\n",
        "GET /hello HTTP/1.1\r\nX-A:\r\n two\r\n\r\n", /* http_parser shows no sign of it */
        "GET /hello HTTP/1.1\nX-A: one\n two\n\n",
    };
    for (size_t i = 0; i < sizeof folded / sizeof *folded; i++) {
        raw_exchange(folded[i], buf, sizeof(buf));
        expect_json_error(buf, 400);
        cr_expect(strstr(buf, "line folding"), "%zu: %s", i, buf);
        /* The same bytes in two reads, split at every point of the fold. */
        const char *fold =
            strstr(folded[i], "\n ") ? strstr(folded[i], "\n ") : strstr(folded[i], "\n\t");
        for (int back = -2; back <= 2; back++) {
            int fd = raw_connect();
            size_t at = (size_t)(fold - folded[i]) + (size_t)(back + 1);
            raw_send(fd, folded[i], at);
            sleep_ms(30);
            raw_send(fd, folded[i] + at, strlen(folded[i]) - at);
            raw_read(fd, buf, sizeof(buf), NULL, 5000);
            close(fd);
            expect_json_error(buf, 400);
        }
    }

    /* What is allowed: HTTP/1.0, blank lines before the request line, a
     * body with indented lines, and a pipelined request after it. */
    raw_exchange("GET /hello HTTP/1.0\r\n\r\n", buf, sizeof(buf));
    cr_expect(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    raw_exchange("\r\nGET /echo?a HTTP/1.1\r\nHost: x\r\nX-Sp:  spaced  value\r\nContent-Length: "
                 "13\r\n\r\n{\n  \"a\": 1\n}\n"
                 "GET /echo?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 buf, sizeof(buf));
    cr_expect(strstr(buf, "{\n  \"a\": 1\n}") && strstr(buf, "GET b"), "%s", buf);
    body b = {0};
    cr_expect_eq(get("/hello", &b), 200);
}

Test(http_server, hostile_inputs_do_not_crash, .init = setup_default) {
    unsigned int seed = 1234;
    char req[2048], buf[4096];
    for (int round = 0; round < 60; round++) {
        int fd = raw_connect();
        size_t n = (size_t)(rand_r(&seed) % sizeof(req));
        const char *start = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n";
        memcpy(req, start, strlen(start));
        for (size_t i = strlen(start); i < n; i++)
            req[i] =
                (char)(rand_r(&seed) % 4 == 0 ? "\r\n:0 "[rand_r(&seed) % 5] : rand_r(&seed) % 256);
        raw_send(fd, req, n);
        raw_read(fd, buf, sizeof(buf), NULL, round % 5 == 0 ? 50 : 5);
        close(fd); /* often mid-request */
    }
    body b = {0};
    cr_expect_eq(get("/hello", &b), 200);
}

static void setup_two_conns(void) {
    aigw__http_server_options o = {0};
    o.max_connections = 2;
    start_server(&o);
}

Test(http_server, max_connections_503, .init = setup_two_conns) {
    int a = raw_connect(), b = raw_connect();
    for (int i = 0; i < 100 && aigw__http_server_connections(F.srv) < 2; i++)
        sleep_ms(10);
    body r = {0};
    cr_expect_eq(get("/hello", &r), 503);
    cr_expect(strstr(r.data, "\"code\":\"server_overloaded\"") != NULL, "%s", r.data);
    close(a);
    for (int i = 0; i < 100 && aigw__http_server_connections(F.srv) > 1; i++)
        sleep_ms(10);
    body ok = {0};
    cr_expect_eq(get("/hello", &ok), 200);
    close(b);
}

Test(http_server, streaming_chunks_arrive_as_written, .init = setup_default) {
    body b = {0}, h = {0};
    double t0 = now_ms();
    CURL *c = easy("/stream?n=5&ms=150", &b, &h);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    double total = now_ms() - t0;
    cr_expect_str_eq(b.data, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    cr_expect(strstr(h.data, "Transfer-Encoding: chunked") != NULL);
    cr_expect_eq(b.pieces, 5, "pieces: %zu", b.pieces);
    cr_expect(total > 550, "total %.0f", total);
    /* The first chunk came long before the handler finished. */
    cr_expect(b.t[0] - t0 < total - 400, "first at %.0f of %.0f", b.t[0] - t0, total);
    for (size_t i = 1; i < b.pieces; i++)
        cr_expect(b.t[i] - b.t[i - 1] > 80, "gap %zu: %.0f", i, b.t[i] - b.t[i - 1]);
}

Test(http_server, disconnect_mid_stream_notifies, .init = setup_default) {
    int fd = raw_connect();
    const char *req = "GET /forever?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_send(fd, req, strlen(req));
    char buf[4096];
    raw_read(fd, buf, sizeof(buf), "chunk 2", 3000);
    cr_expect(strstr(buf, "chunk 2") != NULL, "%s", buf);
    close(fd);
    for (int i = 0; i < 300 && atomic_load(&F.disconnects) == 0; i++)
        sleep_ms(10);
    cr_expect_eq(atomic_load(&F.disconnects), 1);
    body b = {0};
    cr_expect_eq(get("/hello", &b), 200);
}

typedef struct slow_call {
    long code;
    body b;
} slow_call;

static void *slow_client(void *arg) {
    slow_call *s = arg;
    s->code = get("/slow?ms=600", &s->b);
    return NULL;
}

Test(http_server, graceful_shutdown, .init = setup_default) {
    int idle = raw_connect(); /* an idle keep-alive connection is closed at once */
    slow_call s = {0};
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &s);
    sleep_ms(150);
    request_shutdown(5000);
    sleep_ms(100);
    cr_expect_eq(raw_connect(), -1, "new connections are refused");
    char buf[64];
    cr_expect_eq(raw_read(idle, buf, sizeof(buf), NULL, 1000), 0);
    close(idle);
    cr_expect(!atomic_load(&F.closed));
    pthread_join(t, NULL);
    cr_expect_eq(s.code, 200);
    cr_expect_str_eq(s.b.data, "slow done");
    for (int i = 0; i < 300 && !atomic_load(&F.closed); i++)
        sleep_ms(10);
    cr_expect(atomic_load(&F.closed));
    cr_expect_eq(atomic_load(&F.disconnects), 0);
}

Test(http_server, shutdown_deadline_and_second_call, .init = setup_default) {
    int fd = raw_connect();
    const char *req = "GET /forever?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_send(fd, req, strlen(req));
    char buf[4096];
    raw_read(fd, buf, sizeof(buf), "chunk 1", 3000);
    request_shutdown(300); /* the stream outlives the deadline */
    for (int i = 0; i < 300 && !atomic_load(&F.closed); i++)
        sleep_ms(10);
    cr_expect(atomic_load(&F.closed));
    cr_expect_eq(atomic_load(&F.disconnects), 1);
    close(fd);
}

Test(http_server, second_shutdown_closes_at_once, .init = setup_default) {
    int fd = raw_connect();
    const char *req = "GET /forever?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_send(fd, req, strlen(req));
    char buf[4096];
    raw_read(fd, buf, sizeof(buf), "chunk 1", 3000);
    request_shutdown(60000);
    sleep_ms(100);
    cr_expect(!atomic_load(&F.closed));
    double t0 = now_ms();
    request_shutdown(60000); /* the second call forces */
    for (int i = 0; i < 300 && !atomic_load(&F.closed); i++)
        sleep_ms(10);
    cr_expect(atomic_load(&F.closed));
    cr_expect(now_ms() - t0 < 1000);
    cr_expect_eq(atomic_load(&F.disconnects), 1);
    cr_expect_eq(atomic_load(&F.shutdown_calls), 2);
    close(fd);
}

Test(http_server, concurrent_200, .init = setup_default) {
    enum { N = 200 };
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    static body bodies[N];
    CURL *hs[N];
    for (int i = 0; i < N; i++) {
        memset(&bodies[i], 0, sizeof(bodies[i]));
        hs[i] = easy("/slow?ms=300", &bodies[i], NULL);
        curl_multi_add_handle(m, hs[i]);
    }
    int running = 1, peak = 0;
    double t0 = now_ms();
    while (running && now_ms() - t0 < 20000) {
        curl_multi_perform(m, &running);
        int nc = (int)aigw__http_server_connections(F.srv);
        if (nc > peak)
            peak = nc;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    int ok = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK) {
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            ok += code == 200;
        }
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
        cr_expect_str_eq(bodies[i].data, "slow done");
    }
    curl_multi_cleanup(m);
    cr_expect_eq(ok, N);
    cr_expect_geq(peak, N / 2, "peak connections %d", peak);
    cr_expect(now_ms() - t0 < 5000, "took %.0f ms", now_ms() - t0);
}

Test(http_server, head_http10_and_bad_listen) {
    start_server(NULL);
    char buf[4096];
    raw_exchange("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf, sizeof(buf));
    cr_expect(strstr(buf, "Content-Length: 5\r\n") != NULL, "%s", buf);
    cr_expect(strstr(buf, "hello") == NULL);
    /* HTTP/1.0 stream: no chunking, the close ends the body. */
    raw_exchange("GET /stream?n=2&ms=10 HTTP/1.0\r\n\r\n", buf, sizeof(buf));
    cr_expect(strstr(buf, "Transfer-Encoding") == NULL, "%s", buf);
    cr_expect(strstr(buf, "\r\n\r\nchunk 0\nchunk 1\n") != NULL, "%s", buf);
    /* A bad listen address is an error, not a crash. */
    aigw_error *err = NULL;
    aigw__http_server *s2 = NULL;
    cr_expect_neq(aigw__http_server_new(&F.loop, "not-an-ip", 0, NULL, handler, NULL, &s2, &err),
                  AIGW_OK);
    cr_expect_null(s2);
    aigw_error_free(err);
}
