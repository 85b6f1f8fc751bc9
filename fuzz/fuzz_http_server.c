/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the HTTP/1.1 server of `aigw-cli serve`
 * (lib/server/http_*.c): the bytes are what one client sends on one
 * connection — request lines, headers, Content-Length and chunked bodies,
 * pipelined requests, Expect: 100-continue, garbage — written in pieces
 * whose size comes from the first byte, with the server's loop run between
 * pieces so that it parses them as they arrive. Then the client shuts its
 * write side and reads until the server closes.
 *
 * Besides crashes, leaks and sanitizer reports, it checks the server's
 * promises to a hostile client: every answer starts with "HTTP/1.1 "; the
 * connection always ends once the client has sent everything and shut its
 * side (no hang: 3 s, or abort); the server keeps no connection afterwards.
 * The handler answers whole (echoing the body), streams (chunked), or
 * answers with an error, by path, so every kind of response is written. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "server/http_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static aigw__http_server *server;
static int port;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void handler(aigw__http_request *req, aigw__http_response *res, void *user) {
    (void)user;
    if (strcmp(req->path, "/stream") == 0) {
        if (aigw__http_response_start(res, 200, "text/event-stream") == AIGW_OK) {
            aigw__http_response_write(res, "data: a\n\n", 9);
            aigw__http_response_write(res, req->body, req->body_len);
        }
        aigw__http_response_end(res);
    } else if (strcmp(req->path, "/error") == 0) {
        aigw__http_response_send_error(res, 400, NULL, "a fuzzed error", NULL, "fuzz");
    } else {
        aigw__http_response_header(res, "x-method", req->method);
        aigw__http_response_send(res, 200, "text/plain", req->body, req->body_len);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (uv_loop_init(&loop) != 0)
        abort();
    /* Small limits, so that inputs reach them. */
    aigw__http_server_options o = {0};
    o.max_header_bytes = 2048;
    o.max_headers = 16;
    o.max_body_bytes = 4096;
    o.max_inflight_body_bytes = 3072; /* bodies of 3-4 kB meet the in-flight cap (503) */
    aigw_error *err = NULL;
    if (aigw__http_server_new(&loop, "127.0.0.1", 0, &o, handler, NULL, &server, &err) != AIGW_OK) {
        fprintf(stderr, "fuzz_http_server: %s\n", aigw_error_message(err));
        abort();
    }
    port = aigw__http_server_port(server);
    return 0;
}

static int client(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        abort();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        abort();
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t piece = size ? 1 + data[0] % 97 : 1;
    int fd = client();
    size_t sent = 0, got = 0;
    int shut = 0;
    char head[9];
    double deadline = now_s() + 3.0;
    for (;;) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (!shut) {
            size_t n = size - sent < piece ? size - sent : piece;
            ssize_t w = n ? send(fd, data + sent, n, MSG_NOSIGNAL) : 0;
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
                shut = 1; /* the server closed first (an error answer, a reset) */
            if (sent == size && !shut) {
                shutdown(fd, SHUT_WR);
                shut = 1;
            }
        }
        char buf[8192];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            size_t before = got;
            for (ssize_t i = 0; i < r && got < sizeof head; i++)
                head[got++] = buf[i];
            if (before < sizeof head && got == sizeof head &&
                memcmp(head, "HTTP/1.1 ", sizeof head) != 0) {
                fprintf(stderr, "fuzz_http_server: an answer that is not HTTP/1.1: %.9s\n", head);
                abort();
            }
        } else if (r == 0 || (errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS)) {
            break; /* closed by the server */
        }
        if (now_s() > deadline) {
            fprintf(stderr,
                    "fuzz_http_server: the connection did not end (%zu of %zu bytes sent)\n", sent,
                    size);
            abort();
        }
    }
    close(fd);
    /* The server notices the close and lets the connection go. */
    deadline = now_s() + 3.0;
    while (aigw__http_server_connections(server) > 0) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (now_s() > deadline) {
            fprintf(stderr, "fuzz_http_server: the server kept a closed connection\n");
            abort();
        }
    }
    return 0;
}
