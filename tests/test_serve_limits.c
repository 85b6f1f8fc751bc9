/* SPDX-License-Identifier: Apache-2.0 */
/* `aigw-cli serve` under hostile input (issue 13): bounded JSON bodies
 * (depth, elements, string length), big bodies parsed off the loop with
 * memory bounded and given back, the in-flight body cap, connection limits
 * per client and in total over the workers, and /metrics behind a key or on
 * a listener of its own. The server runs as a process of its own (its
 * memory is read from /proc), on free loopback ports, with the built-in
 * mock backend. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
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

#include <openssl/sha.h>

#include "http_client.h"
#include "proc.h"
#include "redis.h" /* aigw_test_free_port */
#include "serve_proc.h"

static aigw_test_serve S;

static void stop_serve(void) {
    aigw_test_serve_stop_logged(&S, 5000);
}

TestSuite(serve_limits, .fini = stop_serve, .timeout = 180);

static void start(const char *config, unsigned workers) {
    cr_assert_eq(aigw_test_serve_start(&S, config, workers, NULL), 0, "serve did not start");
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A TCP connection to the server, from src (NULL: any) ; -1 on failure. */
static int connect_from(int port, const char *src) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (src) {
        inet_pton(AF_INET, src, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the server closes, cap - 1 bytes or timeout_ms; NUL-ends. */
static size_t read_reply(int fd, char *out, size_t cap, int timeout_ms) {
    size_t len = 0;
    double end = aigw_test_now_ms() + timeout_ms;
    while (len + 1 < cap) {
        int left = (int)(end - aigw_test_now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t r = recv(fd, out + len, cap - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = 0;
    return len;
}

static int status_of(const char *reply) {
    int st = 0;
    return sscanf(reply, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

/* POSTs body to /v1/chat/completions on a connection of its own; the
 * answer (head and body) into out. */
static int post_raw(int port, const char *body, size_t len, char *out, size_t cap) {
    int fd = connect_from(port, NULL);
    cr_assert_geq(fd, 0);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     len);
    aigw_test_write_all(fd, head, (size_t)n);
    aigw_test_write_all(fd, body, len); /* may stop early: the server can answer first */
    read_reply(fd, out, cap, 60000);
    close(fd);
    return status_of(out);
}

static long post_json(const char *body, char **err_code) {
    resp r = aigw_test_http(S.port, "POST", "/v1/chat/completions", NULL, body);
    long st = r.status;
    if (err_code) {
        json_object *o = json_tokener_parse(r.body);
        const char *c = aigw_test_json_str_at(o, "error.code");
        *err_code = c ? strdup(c) : NULL;
        json_object_put(o);
    }
    resp_free(&r);
    return st;
}

static long get_status(int port, const char *path, const char *const *headers) {
    resp r = aigw_test_http(port, "GET", path, headers, NULL);
    long st = r.status;
    resp_free(&r);
    return st;
}

/* A chat request whose "x" member is the given JSON text. */
static char *chat_with(const char *x) {
    size_t n = strlen(x) + 128;
    char *b = malloc(n);
    snprintf(b, n,
             "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
             "\"x\":%s}",
             x);
    return b;
}

Test(serve_limits, json_limits_refused_and_serving_goes_on) {
    start("{\"gateway\":{\"limits\":{\"json_max_depth\":8,\"json_max_elements\":1000,"
          "\"json_max_string_bytes\":4096,\"json_offload_bytes\":65536}}}",
          1);
    char *code = NULL;
    char deep[64] = "";
    for (int i = 0; i < 8; i++)
        strcat(deep, "[");
    strcat(deep, "1");
    for (int i = 0; i < 8; i++)
        strcat(deep, "]");
    char *b = chat_with(deep); /* 9 levels with the top object */
    cr_expect_eq(post_json(b, &code), 400);
    cr_expect_str_eq(code ? code : "", "json_too_deep");
    free(b), free(code);

    char many[4096] = "[";
    for (int i = 0; i < 1200; i++)
        strcat(many, i ? ",1" : "1");
    strcat(many, "]");
    b = chat_with(many);
    cr_expect_eq(post_json(b, &code), 413);
    cr_expect_str_eq(code ? code : "", "json_too_many_elements");
    free(b), free(code);

    char *s = malloc(6000);
    s[0] = '"';
    memset(s + 1, 'a', 5000);
    strcpy(s + 5001, "\"");
    b = chat_with(s);
    cr_expect_eq(post_json(b, &code), 413);
    cr_expect_str_eq(code ? code : "", "json_string_too_long");
    free(b), free(code), free(s);

    /* Within every limit: served, small (on the loop) and big (offloaded,
     * many small strings so none is too long). */
    b = chat_with("[[1,2],{\"a\":\"b\"}]");
    cr_expect_eq(post_json(b, NULL), 200);
    free(b);
    size_t big = 200 * 1000;
    char *arr = malloc(big + 16);
    size_t p = 0;
    arr[p++] = '[';
    while (p + 410 < big)
        p += (size_t)sprintf(arr + p, "%s\"%0400d\"", p > 1 ? "," : "", 7);
    arr[p++] = ']';
    arr[p] = 0;
    b = chat_with(arr);
    cr_expect_eq(post_json(b, &code), 200, "big body within limits: %s", code ? code : "");
    free(b), free(arr), free(code);
    cr_expect_eq(get_status(S.port, "/healthz", NULL), 200);
}

/* ---- a 32 MB hostile body while /healthz is polled ---- */

static atomic_int poll_stop;
static double poll_max_ms;
static int poll_count, poll_failed;

static void *healthz_poller(void *arg) {
    int port = *(int *)arg;
    while (!atomic_load(&poll_stop)) {
        double t0 = aigw_test_now_ms();
        int fd = connect_from(port, NULL);
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        char buf[1024];
        if (fd < 0 || aigw_test_write_all(fd, req, sizeof req - 1) != 0 ||
            (read_reply(fd, buf, sizeof buf, 10000), status_of(buf) != 200))
            poll_failed++;
        if (fd >= 0)
            close(fd);
        double ms = aigw_test_now_ms() - t0;
        if (ms > poll_max_ms)
            poll_max_ms = ms;
        poll_count++;
        sleep_ms(5);
    }
    return NULL;
}

Test(serve_limits, hostile_32mb_bodies_bounded_memory_and_latency) {
    start("{}", 2);
    cr_assert_eq(get_status(S.port, "/healthz", NULL), 200);
    long base = aigw_test_serve_status_kb(&S, "VmRSS");
    cr_assert_gt(base, 0);
    const size_t n = 32u * 1024u * 1024u;
    char *ints = malloc(n + 1), *deep = malloc(n + 1);
    static const char head[] =
        "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
        "\"junk\":[";
    memcpy(ints, head, sizeof head - 1);
    size_t p = sizeof head - 1;
    while (p + 4 < n) {
        ints[p++] = '1';
        ints[p++] = ',';
    }
    memcpy(ints + p, "1]}", 3);
    p += 3;
    memset(deep, '[', n);

    atomic_store(&poll_stop, 0);
    pthread_t t;
    int port = S.port;
    pthread_create(&t, NULL, healthz_poller, &port);
    sleep_ms(50);
    char reply[4096];
    double t0 = aigw_test_now_ms();
    cr_expect_eq(post_raw(S.port, ints, p, reply, sizeof reply), 413, "%s", reply);
    cr_expect(strstr(reply, "json_max_elements"), "%s", reply);
    double t1 = aigw_test_now_ms();
    cr_expect_eq(post_raw(S.port, deep, n, reply, sizeof reply), 400, "%s", reply);
    cr_expect(strstr(reply, "json_max_depth"), "%s", reply);
    double t2 = aigw_test_now_ms();
    sleep_ms(100);
    atomic_store(&poll_stop, 1);
    pthread_join(t, NULL);
    free(ints);
    free(deep);

    long hwm = aigw_test_serve_status_kb(&S, "VmHWM");
    sleep_ms(500); /* the trim runs on the thread pool */
    long after = aigw_test_serve_status_kb(&S, "VmRSS");
    cr_log_info("32 MB bodies: ints %.0f ms, [[[[ %.0f ms; RSS idle %ld kB, peak %ld kB, after "
                "%ld kB; /healthz max %.1f ms over %d polls",
                t1 - t0, t2 - t1, base, hwm, after, poll_max_ms, poll_count);
    cr_expect_eq(poll_failed, 0);
    cr_expect_gt(poll_count, 0);
    cr_expect_lt(poll_max_ms, 1000.0, "/healthz took %.0f ms", poll_max_ms);
    cr_expect_lt(hwm - base, 4 * 32 * 1024, "peak %ld kB above idle", hwm - base);
    if (!AIGW_TEST_ASAN) /* its quarantine keeps what was freed */
        cr_expect_lt(after - base, 48 * 1024, "RSS after %ld kB above idle", after - base);
    cr_expect_eq(get_status(S.port, "/healthz", NULL), 200);
}

Test(serve_limits, inflight_body_cap_503_with_retry_after) {
    start("{\"gateway\":{\"limits\":{\"max_inflight_body_bytes\":1048576}}}", 1);
    /* A holds 700 kB of an 800 kB body. */
    size_t alen = 800 * 1000;
    char *a = malloc(alen + 1);
    int hl = snprintf(a, alen,
                      "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"hi\"}],\"pad\":\"");
    memset(a + hl, 'p', alen - (size_t)hl - 2);
    memcpy(a + alen - 2, "\"}", 2);
    int fa = connect_from(S.port, NULL);
    cr_assert_geq(fa, 0);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     alen);
    aigw_test_write_all(fa, head, (size_t)n);
    aigw_test_write_all(fa, a, 700 * 1000);
    sleep_ms(300);

    /* B announces 600 kB: refused before its body is read. */
    char reply[4096];
    char *b = calloc(1, 600 * 1000 + 1);
    memset(b, ' ', 600 * 1000);
    cr_expect_eq(post_raw(S.port, b, 600 * 1000, reply, sizeof reply), 503, "%s", reply);
    cr_expect(strstr(reply, "\r\nRetry-After: "), "%s", reply);
    cr_expect(strstr(reply, "server_overloaded"), "%s", reply);
    /* Over the cap on its own (but under max_body_bytes): refused too. */
    char *c = calloc(1, 2 * 1024 * 1024 + 1);
    memset(c, ' ', 2 * 1024 * 1024);
    cr_expect_eq(post_raw(S.port, c, 2 * 1024 * 1024, reply, sizeof reply), 503, "%s", reply);
    cr_expect_eq(get_status(S.port, "/healthz", NULL), 200);

    /* A completes and is served; then B's size fits again. */
    aigw_test_write_all(fa, a + 700 * 1000, alen - 700 * 1000);
    read_reply(fa, reply, sizeof reply, 20000);
    close(fa);
    cr_expect_eq(status_of(reply), 200, "%.300s", reply);
    static const char small[] =
        "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    memcpy(b, small, sizeof small - 1);
    cr_expect_eq(post_raw(S.port, b, 600 * 1000, reply, sizeof reply), 200, "%.300s", reply);
    free(a), free(b), free(c);
}

/* Whether fd is answered 503 (within timeout_ms); the reply into out. */
static int got_503(int fd, char *out, size_t cap, int timeout_ms) {
    read_reply(fd, out, cap, timeout_ms);
    return status_of(out) == 503;
}

Test(serve_limits, per_client_connection_limit) {
    start("{\"gateway\":{\"limits\":{\"max_connections_per_client\":4}}}", 2);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = connect_from(S.port, NULL);
        cr_assert_geq(fds[i], 0);
    }
    sleep_ms(300); /* accepted and admitted by now */
    char reply[2048];
    int extra = connect_from(S.port, NULL);
    cr_assert_geq(extra, 0);
    cr_expect(got_503(extra, reply, sizeof reply, 5000), "the 5th: %s", reply);
    cr_expect(strstr(reply, "too_many_connections"), "%s", reply);
    cr_expect(strstr(reply, "\"error\""), "%s", reply);
    close(extra);
    /* The four are still served. */
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    aigw_test_write_all(fds[0], req, sizeof req - 1);
    read_reply(fds[0], reply, sizeof reply, 5000);
    cr_expect_eq(status_of(reply), 200, "%s", reply);
    /* Another loopback address is another client. */
    int other = connect_from(S.port, "127.0.0.2");
    if (other < 0) {
        cr_log_warn("cannot bind a client socket to 127.0.0.2: that part is skipped");
    } else {
        aigw_test_write_all(other, req, sizeof req - 1);
        read_reply(other, reply, sizeof reply, 5000);
        cr_expect_eq(status_of(reply), 200, "from 127.0.0.2: %s", reply);
        close(other);
    }
    /* A slot freed is a slot again. */
    close(fds[0]);
    sleep_ms(300);
    int again = connect_from(S.port, NULL);
    aigw_test_write_all(again, req, sizeof req - 1);
    read_reply(again, reply, sizeof reply, 5000);
    cr_expect_eq(status_of(reply), 200, "after one closed: %s", reply);
    close(again);
    for (int i = 1; i < 4; i++)
        close(fds[i]);
}

Test(serve_limits, max_connections_is_the_total_over_workers) {
    start("{\"gateway\":{\"limits\":{\"max_connections\":4}}}", 2);
    int fds[8], rejected = 0;
    char reply[2048];
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_from(S.port, NULL);
        cr_assert_geq(fds[i], 0);
        sleep_ms(30);
    }
    sleep_ms(300);
    for (int i = 0; i < 8; i++) {
        if (got_503(fds[i], reply, sizeof reply, 200)) {
            rejected++;
            cr_expect(strstr(reply, "server_overloaded"), "%s", reply);
        }
    }
    cr_expect_eq(rejected, 4, "8 connections, max 4 over 2 workers: %d refused", rejected);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    sleep_ms(300);
    cr_expect_eq(get_status(S.port, "/healthz", NULL), 200);
}

static void hex_sha256(const char *key, char hex[65]) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

Test(serve_limits, metrics_behind_a_key) {
    char hex[65], cfg[256];
    hex_sha256("metrics-secret", hex);
    snprintf(cfg, sizeof cfg, "{\"gateway\":{\"metrics_key_sha256\":\"%s\"}}", hex);
    start(cfg, 1);
    const char *const none[] = {NULL};
    const char *const wrong[] = {"Authorization: Bearer nope", NULL};
    const char *const right[] = {"Authorization: Bearer metrics-secret", NULL};
    cr_expect_eq(get_status(S.port, "/metrics", none), 401);
    cr_expect_eq(get_status(S.port, "/metrics", wrong), 401);
    resp r = aigw_test_http(S.port, "GET", "/metrics", right, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, "aigw_gateway_requests_total"), "%s", r.body);
    resp_free(&r);
    cr_expect_eq(get_status(S.port, "/healthz", none), 200);
}

Test(serve_limits, metrics_on_a_listener_of_its_own) {
    int mport = aigw_test_free_port();
    cr_assert_gt(mport, 0);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"gateway\":{\"metrics_listen\":\"127.0.0.1:%d\"}}", mport);
    start(cfg, 2);
    cr_expect_eq(get_status(S.port, "/metrics", NULL), 404);
    cr_expect_eq(get_status(S.port, "/healthz", NULL), 200);
    resp r = aigw_test_http(mport, "GET", "/metrics", NULL, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, "aigw_gateway_requests_total"), "%s", r.body);
    resp_free(&r);
    cr_expect_eq(get_status(mport, "/healthz", NULL), 404);
    cr_expect_eq(get_status(mport, "/v1/models", NULL), 404);
    /* It stops with the gateway. */
    cr_expect_eq(aigw_test_serve_stop(&S, 10000), 0);
}
