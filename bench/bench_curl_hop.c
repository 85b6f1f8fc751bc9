/* SPDX-License-Identifier: Apache-2.0 */
/* What one keep-alive HTTP/1.1 exchange costs the client side: libcurl
 * (set up as libaigw's transport sets up each transfer) against a plain
 * socket that writes the same request bytes and reads the answer with
 * http-parser. Both talk to the same server one request at a time, so
 * the difference per request is libcurl's own work per transfer — the part
 * of `aigw-cli serve`'s upstream call that no change in libaigw can remove.
 *
 *   bench_curl_hop PORT [REQUESTS [raw|curl]]
 *
 * PORT: an HTTP server on 127.0.0.1 answering POST /v1/chat/completions
 * (the simulator: tests/upstream/aigw-sim --port PORT). Without a mode the
 * two alternate, three rounds each; CPU is this process's user + system
 * time (getrusage). See bench/README.md. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <http_parser.h>

static const char body[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
    "terse.\"},{\"role\":\"user\",\"content\":\"Say hello to the benchmark\"}],"
    "\"max_completion_tokens\":16,\"temperature\":0}";

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

/* ---- plain socket + http-parser ---- */

typedef struct raw_state {
    int complete;
} raw_state;

static int on_complete(http_parser *p) {
    ((raw_state *)p->data)->complete = 1;
    return 0;
}

static int raw_round(int port, long n) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    char req[1024];
    int len = snprintf(req, sizeof req,
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "User-Agent: libaigw/bench\r\nAccept: application/json\r\n"
                       "Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       port, sizeof(body) - 1, body);
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_message_complete = on_complete;
    char buf[16384];
    for (long i = 0; i < n; i++) {
        if (send(fd, req, (size_t)len, 0) != len) {
            perror("send");
            close(fd);
            return -1;
        }
        raw_state st = {0};
        http_parser p;
        http_parser_init(&p, HTTP_RESPONSE);
        p.data = &st;
        while (!st.complete) {
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0 || http_parser_execute(&p, &settings, buf, (size_t)got) != (size_t)got) {
                fprintf(stderr, "raw: bad or no answer\n");
                close(fd);
                return -1;
            }
        }
        if (p.status_code != 200) {
            fprintf(stderr, "raw: HTTP %u\n", p.status_code);
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
}

/* ---- libcurl, one easy handle kept (its connection reused) ---- */

static size_t sink(char *data, size_t size, size_t nmemb, void *user) {
    (void)data;
    *(size_t *)user += size * nmemb;
    return size * nmemb;
}

static int curl_round(int port, long n) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
    CURL *easy = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Authorization: Bearer sk-bench");
    int failed = 0;
    for (long i = 0; i < n; i++) {
        size_t got = 0;
        /* Each transfer set up afresh, as lib/transport/curl.c does. */
        curl_easy_reset(easy);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "libaigw/bench");
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &got);
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(sizeof(body) - 1));
        long status = 0;
        CURLcode rc = curl_easy_perform(easy);
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200 || got == 0) {
            fprintf(stderr, "curl: %s, HTTP %ld\n", curl_easy_strerror(rc), status);
            failed = -1;
            break;
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(easy);
    return failed;
}

static int measure(const char *mode, int port, long n) {
    double w0 = now_us(), c0 = cpu_us();
    int rc = strcmp(mode, "raw") == 0 ? raw_round(port, n) : curl_round(port, n);
    double w1 = now_us(), c1 = cpu_us();
    if (rc == 0)
        printf("%-4s %ld requests: %6.1f us wall, %6.1f us CPU a request\n", mode, n,
               (w1 - w0) / (double)n, (c1 - c0) / (double)n);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [REQUESTS [raw|curl]]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long n = argc > 2 ? atol(argv[2]) : 20000;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 0;
    if (argc > 3) {
        rc = measure(argv[3], port, n);
    } else {
        for (int round = 0; round < 3 && rc == 0; round++)
            rc = measure("raw", port, n) || measure("curl", port, n);
    }
    curl_global_cleanup();
    return rc ? 1 : 0;
}
