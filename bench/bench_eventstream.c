/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of the AWS event-stream decoder (lib/wire/eventstream.c) on a
 * Bedrock ConverseStream-shaped stream, built in memory: messageStart, then
 * contentBlockDelta messages with text deltas of 1 to 40 characters, then
 * contentBlockStop, messageStop and metadata, each message carrying the
 * three string headers Bedrock sends (:event-type, :content-type
 * application/json, :message-type event) and a JSON payload. That sequence
 * (one "response", 64 deltas) is repeated to about 64 MB, then decoded fed
 * whole and in pieces of 64 KB, 4 KB and 256 bytes, several iterations
 * each. Both CRCs of every message are checked (zlib crc32). Prints MB/s
 * (1 MB = 10^6 bytes) and messages/s, best and median of the iterations.
 *
 * Usage: bench_eventstream [-m MB] [-i ITERATIONS] [-c CHUNK]
 *   -m MB          size of the in-memory stream (default 64)
 *   -i ITERATIONS  runs per feed size (default 7)
 *   -c CHUNK       only this piece size (0 = whole); default: all of them
 * See bench/README.md, "AWS event-stream decoding". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "wire/eventstream.h"

typedef struct counts {
    size_t messages;
    size_t deltas;
    size_t payload_bytes;
} counts;

static int on_message(const aigw__es_message *m, void *user) {
    counts *c = user;
    c->messages++;
    c->payload_bytes += m->payload_len;
    /* what an adapter does first with each message */
    if (strcmp(m->event_type, "contentBlockDelta") == 0)
        c->deltas++;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct obuf {
    unsigned char *b;
    size_t len, cap;
} obuf;

static void put(obuf *o, const void *p, size_t n) {
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap - o->len < n)
            cap *= 2;
        unsigned char *b = realloc(o->b, cap);
        if (!b) {
            fprintf(stderr, "bench_eventstream: out of memory\n");
            exit(1);
        }
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void put32(obuf *o, uint32_t v) {
    unsigned char t[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(o, t, 4);
}

static void str_header(obuf *o, const char *name, const char *value) {
    unsigned char n = (unsigned char)strlen(name);
    size_t vl = strlen(value);
    unsigned char t[3] = {7, (unsigned char)(vl >> 8), (unsigned char)vl};
    put(o, &n, 1);
    put(o, name, n);
    put(o, t, 3);
    put(o, value, vl);
}

static void event(obuf *o, const char *type, const char *json) {
    obuf h = {0};
    str_header(&h, ":event-type", type);
    str_header(&h, ":content-type", "application/json");
    str_header(&h, ":message-type", "event");
    size_t start = o->len;
    size_t plen = strlen(json);
    put32(o, (uint32_t)(16 + h.len + plen));
    put32(o, (uint32_t)h.len);
    put32(o, (uint32_t)crc32(0L, o->b + start, 8));
    put(o, h.b, h.len);
    put(o, json, plen);
    put32(o, (uint32_t)crc32(0L, o->b + start, o->len - start));
    free(h.b);
}

/* One ConverseStream response. */
static void response(obuf *o) {
    static const char words[] = "The quick brown fox jumps over the lazy dog, again and again, "
                                "while the library decodes every frame of it.";
    char json[256];
    event(o, "messageStart", "{\"role\":\"assistant\"}");
    for (int i = 0; i < 64; i++) {
        int n = 1 + (i * 7) % 40;
        snprintf(json, sizeof json, "{\"delta\":{\"text\":\"%.*s\"},\"contentBlockIndex\":0}", n,
                 words + (i * 3) % 60);
        event(o, "contentBlockDelta", json);
    }
    event(o, "contentBlockStop", "{\"contentBlockIndex\":0}");
    event(o, "messageStop", "{\"stopReason\":\"end_turn\"}");
    event(o, "metadata",
          "{\"usage\":{\"inputTokens\":25,\"outputTokens\":64,\"totalTokens\":89},"
          "\"metrics\":{\"latencyMs\":812}}");
}

static double decode_once(const char *in, size_t len, size_t chunk, counts *c) {
    aigw__es_decoder d;
    memset(c, 0, sizeof *c);
    aigw__es_init(&d, on_message, c);
    double t0 = now_s();
    size_t step = chunk ? chunk : len;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (aigw__es_feed(&d, in + off, n) != AIGW_OK) {
            fprintf(stderr, "bench_eventstream: decode error at %zu: %s\n", off, d.detail);
            exit(1);
        }
    }
    double t = now_s() - t0;
    if (aigw__es_finish(&d) != 0) {
        fprintf(stderr, "bench_eventstream: stream ended inside a message\n");
        exit(1);
    }
    aigw__es_free(&d);
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *in, size_t len, size_t chunk, int iters, double *t) {
    counts c;
    for (int i = 0; i < iters; i++)
        t[i] = decode_once(in, len, chunk, &c);
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    char name[32];
    if (chunk)
        snprintf(name, sizeof name, "%zu B", chunk);
    else
        snprintf(name, sizeof name, "whole");
    printf("%-10s %10.0f %10.0f %14.0f %14.0f %12zu\n", name, (double)len / 1e6 / t[0],
           (double)len / 1e6 / t[iters / 2], (double)c.messages / t[0],
           (double)c.messages / t[iters / 2], c.messages);
}

int main(int argc, char **argv) {
    size_t mb = 64;
    int iters = 7;
    long only_chunk = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            mb = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-i") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            only_chunk = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [-m MB] [-i ITERATIONS] [-c CHUNK]\n", argv[0]);
            return 2;
        }
    }
    if (iters < 1 || iters > 1000)
        iters = 7;

    obuf one = {0};
    response(&one);
    size_t reps = mb * 1000000 / one.len;
    if (reps == 0)
        reps = 1;
    size_t len = reps * one.len;
    char *in = malloc(len);
    double *t = malloc((size_t)iters * sizeof *t);
    if (!in || !t) {
        fprintf(stderr, "bench_eventstream: out of memory\n");
        return 1;
    }
    for (size_t r = 0; r < reps; r++)
        memcpy(in + r * one.len, one.b, one.len);

    printf("event-stream decode: %zu-byte response (68 messages, %.0f bytes a message) x %zu"
           " = %.1f MB, %d iterations per feed size\n",
           one.len, (double)one.len / 68, reps, (double)len / 1e6, iters);
    printf("%-10s %10s %10s %14s %14s %12s\n", "feed", "best MB/s", "med MB/s", "best msg/s",
           "med msg/s", "messages");
    static const size_t chunks[] = {0, 65536, 4096, 256};
    int done = 0;
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        if (only_chunk >= 0 && (size_t)only_chunk != chunks[k])
            continue;
        report(in, len, chunks[k], iters, t);
        done = 1;
    }
    if (!done && only_chunk > 0)
        report(in, len, (size_t)only_chunk, iters, t);
    free(t);
    free(in);
    free(one.b);
    return 0;
}
