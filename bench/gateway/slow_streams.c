/* SPDX-License-Identifier: Apache-2.0 */
/* slow_streams: holds N slow streaming chat completions open at once
 * through an OpenAI-compatible gateway, so that the gateway's memory per
 * in-flight stream can be read from outside (bench/gateway/run.sh reads
 * VmRSS of `aigw-cli serve` while they are open).
 *
 * Each stream is its own TCP connection (one libuv loop, one thread) that
 * POSTs /v1/chat/completions with "stream": true and a top-level
 * "sim_fault": "event_ms=MS" field, which the gateway passes through to
 * aigw-sim, so the simulator sends one event every MS milliseconds. The
 * answer is not parsed as HTTP beyond what is needed: the status line must
 * be 200, a stream counts as open once a "data:" line has arrived, and as
 * finished at "data: [DONE]" (or the chunked terminator).
 *
 * Once every stream is open it prints "open N" on stdout (flushed): that is
 * the moment to read the gateway's memory. It then waits for every stream
 * to finish, prints "done OK FAILED SECONDS" and exits 0 when none failed.
 *
 * Standalone (not part of the CMake build); run.sh compiles it with
 *   cc -O2 -o slow_streams slow_streams.c $(pkg-config --cflags --libs libuv)
 *
 * usage: slow_streams -p PORT [-H 127.0.0.1] [-n 1000] [-e 500] [-w 30]
 *                     [-k KEY] [-t TIMEOUT_S]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

enum { ST_CONNECTING, ST_WAIT_STATUS, ST_WAIT_EVENT, ST_STREAMING, ST_DONE, ST_FAILED };

typedef struct stream {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    int state;
    int index;
    size_t events;
    char tail[16]; /* the last bytes of the previous read, for matches across reads */
    size_t tail_len;
    char status[16];
    size_t status_len;
} stream;

static int n_streams = 1000;
static int n_open, n_done, n_failed, n_closed;
static int printed_open;
static char *request;
static size_t request_len;
static uint64_t t_start;
static uv_timer_t deadline;
static uv_loop_t *loop;

static void on_close(uv_handle_t *h) {
    (void)h;
    n_closed++;
    if (n_closed == n_streams)
        uv_close((uv_handle_t *)&deadline, NULL);
}

static void finish(stream *s, int ok, const char *why) {
    if (s->state == ST_DONE || s->state == ST_FAILED)
        return;
    if (s->state == ST_STREAMING)
        n_open--;
    s->state = ok ? ST_DONE : ST_FAILED;
    if (ok) {
        n_done++;
    } else {
        n_failed++;
        if (n_failed <= 5)
            fprintf(stderr, "slow_streams: stream %d failed: %s\n", s->index, why);
    }
    uv_close((uv_handle_t *)&s->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    static char slab[65536]; /* one loop thread: reads are consumed at once */
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

/* Does `needle` occur in tail+data? (tail: the previous read's last bytes) */
static int contains(const stream *s, const char *data, size_t len, const char *needle) {
    size_t nl = strlen(needle);
    char join[64];
    size_t head = len < sizeof join - s->tail_len ? len : sizeof join - s->tail_len;
    memcpy(join, s->tail, s->tail_len);
    memcpy(join + s->tail_len, data, head);
    size_t jl = s->tail_len + head;
    for (size_t i = 0; i + nl <= jl; i++)
        if (memcmp(join + i, needle, nl) == 0)
            return 1;
    for (size_t i = 0; i + nl <= len; i++)
        if (data[i] == needle[0] && memcmp(data + i, needle, nl) == 0)
            return 1;
    return 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    stream *s = (stream *)st;
    if (nread < 0) {
        finish(s, 0, nread == UV_EOF ? "connection closed before [DONE]" : uv_strerror((int)nread));
        return;
    }
    const char *data = buf->base;
    size_t len = (size_t)nread;
    if (s->state == ST_WAIT_STATUS) {
        size_t take =
            len < sizeof s->status - 1 - s->status_len ? len : sizeof s->status - 1 - s->status_len;
        memcpy(s->status + s->status_len, data, take);
        s->status_len += take;
        s->status[s->status_len] = '\0';
        if (s->status_len >= 12) {
            if (strncmp(s->status, "HTTP/1.1 200", 12) != 0) {
                finish(s, 0, s->status);
                return;
            }
            s->state = ST_WAIT_EVENT;
        }
    }
    if (s->state == ST_WAIT_EVENT && contains(s, data, len, "data:")) {
        s->state = ST_STREAMING;
        n_open++;
        if (!printed_open && n_open == n_streams) {
            printed_open = 1;
            printf("open %d %.2f\n", n_open, (uv_now(loop) - t_start) / 1000.0);
            fflush(stdout);
        }
    }
    if (s->state == ST_STREAMING || s->state == ST_WAIT_EVENT) {
        if (contains(s, data, len, "[DONE]") || contains(s, data, len, "\r\n0\r\n\r\n")) {
            finish(s, 1, NULL);
            return;
        }
    }
    /* keep the last bytes for matches that straddle reads */
    if (len >= sizeof s->tail) {
        memcpy(s->tail, data + len - sizeof s->tail, sizeof s->tail);
        s->tail_len = sizeof s->tail;
    } else {
        size_t keep = sizeof s->tail - len < s->tail_len ? sizeof s->tail - len : s->tail_len;
        memmove(s->tail, s->tail + s->tail_len - keep, keep);
        memcpy(s->tail + keep, data, len);
        s->tail_len = keep + len;
    }
}

static void on_write(uv_write_t *w, int status) {
    stream *s = w->data;
    if (status < 0)
        finish(s, 0, uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status) {
    stream *s = c->data;
    if (status < 0) {
        finish(s, 0, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&s->tcp, 1);
    s->state = ST_WAIT_STATUS;
    uv_buf_t b = uv_buf_init(request, (unsigned)request_len);
    s->write.data = s;
    uv_write(&s->write, (uv_stream_t *)&s->tcp, &b, 1, on_write);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

static stream *streams;

static void on_deadline(uv_timer_t *t) {
    (void)t;
    fprintf(stderr, "slow_streams: deadline: %d open, %d done, %d failed of %d\n", n_open, n_done,
            n_failed, n_streams);
    for (int i = 0; i < n_streams; i++)
        finish(&streams[i], 0, "deadline");
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *key = "sk-aigw-bench";
    int port = 0, event_ms = 500, words = 30, timeout_s = 120, opt;
    while ((opt = getopt(argc, argv, "H:p:n:e:w:k:t:")) != -1) {
        switch (opt) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            n_streams = atoi(optarg);
            break;
        case 'e':
            event_ms = atoi(optarg);
            break;
        case 'w':
            words = atoi(optarg);
            break;
        case 'k':
            key = optarg;
            break;
        case 't':
            timeout_s = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: slow_streams -p PORT [-H HOST] [-n STREAMS] [-e EVENT_MS] "
                            "[-w WORDS] [-k KEY] [-t TIMEOUT_S]\n");
            return 2;
        }
    }
    if (port <= 0 || n_streams <= 0 || words <= 0 || words > 1000) {
        fprintf(stderr, "slow_streams: need -p PORT, -n > 0, 0 < -w <= 1000\n");
        return 2;
    }

    /* The simulator answers "echo: " + the user's text, one event per word:
     * WORDS words at EVENT_MS each keep a stream open WORDS*EVENT_MS ms. */
    char text[8192] = "";
    for (int i = 0; i < words; i++)
        strcat(text, i ? " word" : "word");
    char body[9000];
    int blen = snprintf(body, sizeof body,
                        "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"sim_fault\":\"event_ms=%d\","
                        "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
                        event_ms, text);
    request = malloc((size_t)blen + 512);
    request_len = (size_t)sprintf(request,
                                  "POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\n"
                                  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                                  "Accept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s",
                                  host, port, key, blen, body);

    struct sockaddr_in addr;
    if (uv_ip4_addr(host, port, &addr) != 0) {
        fprintf(stderr, "slow_streams: bad address %s\n", host);
        return 2;
    }
    loop = uv_default_loop();
    streams = calloc((size_t)n_streams, sizeof *streams);
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    t_start = uv_now(loop);
    for (int i = 0; i < n_streams; i++) {
        stream *s = &streams[i];
        s->index = i;
        s->state = ST_CONNECTING;
        uv_tcp_init(loop, &s->tcp);
        s->connect.data = s;
        int rc = uv_tcp_connect(&s->connect, &s->tcp, (const struct sockaddr *)&addr, on_connect);
        if (rc != 0)
            finish(s, 0, uv_strerror(rc));
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (!printed_open)
        fprintf(stderr, "slow_streams: never had all %d streams open at once\n", n_streams);
    printf("done %d %d %.2f\n", n_done, n_failed, (uv_now(loop) - t_start) / 1000.0);
    fflush(stdout);
    uv_loop_close(loop);
    free(streams);
    free(request);
    return (n_failed == 0 && printed_open) ? 0 : 1;
}
