/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the AWS event-stream decoder (lib/wire/eventstream.c).
 *
 * Besides crashes and sanitizer reports, it checks the decoder's promise:
 * the messages do not depend on how the stream is cut into feeds. Each
 * input is decoded fed whole, then in pieces whose sizes (0 to 40 bytes,
 * zero-length feeds included) come from a hash of the input, and for short
 * inputs byte by byte; every run must give the same messages, the same
 * first feed status and detail, and the same finish() result, or the target
 * aborts. The callback also stops the decoder after a number of messages
 * (from the same hash) on some inputs, so the stop path is checked too.
 *
 * Random bytes almost never carry two valid CRCs, so when the first input
 * byte is odd the rest is first "repaired": walking it as a sequence of
 * messages by their total-length fields, each prelude CRC and message CRC
 * is recomputed. That lets the fuzzer reach the header parser.
 *
 * eventstream.c is compiled into this file, as fuzz_sse.c does with sse.c,
 * so that it carries libFuzzer's coverage instrumentation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/wire/eventstream.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct trace {
    unsigned char *bytes;
    size_t len, cap;
    size_t messages;
    size_t stop_after; /* 0 = never */
} trace;

static void trace_put(trace *t, const void *p, size_t n) {
    if (t->cap - t->len < n) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap - t->len < n)
            cap *= 2;
        t->bytes = realloc(t->bytes, cap);
        if (!t->bytes)
            abort();
        t->cap = cap;
    }
    if (n)
        memcpy(t->bytes + t->len, p, n);
    t->len += n;
}

static void trace_str(trace *t, const char *s, size_t n) {
    trace_put(t, &n, sizeof n);
    trace_put(t, s, n);
}

static int on_message(const aigw__es_message *m, void *user) {
    trace *t = user;
    if (m->n_headers > AIGW__ES_MAX_HEADERS)
        abort();
    for (size_t i = 0; i < m->n_headers; i++) {
        const aigw__es_header *h = &m->headers[i];
        if (h->name_len == 0 || h->type > AIGW__ES_UUID)
            abort();
        trace_str(t, h->name, h->name_len);
        trace_put(t, &h->type, 1);
        trace_put(t, &h->number, sizeof h->number);
        trace_str(t, h->value ? h->value : "", h->value_len);
    }
    trace_str(t, m->payload, m->payload_len);
    trace_str(t, m->message_type, strlen(m->message_type));
    trace_str(t, m->event_type, strlen(m->event_type));
    trace_str(t, m->exception_type, strlen(m->exception_type));
    trace_str(t, m->content_type, strlen(m->content_type));
    t->messages++;
    return t->stop_after && t->messages >= t->stop_after;
}

static uint64_t next_rand(uint64_t *s) {
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* mode 0: whole; 1: pieces from the hash; 2: byte by byte. */
static void run(const char *in, size_t len, int mode, uint64_t seed, size_t stop_after, trace *t) {
    memset(t, 0, sizeof *t);
    t->stop_after = stop_after;
    aigw__es_decoder d;
    aigw__es_init(&d, on_message, t);
    aigw_status first = AIGW_OK;
    char detail[sizeof d.detail] = "";
    size_t off = 0;
    uint64_t rng = seed;
    do {
        size_t n = len - off;
        if (mode == 1)
            n = (size_t)(next_rand(&rng) % 41);
        else if (mode == 2)
            n = 1;
        if (n > len - off)
            n = len - off;
        aigw_status st = aigw__es_feed(&d, in + off, n);
        if (st && !first) {
            first = st;
            memcpy(detail, d.detail, sizeof detail);
        }
        if (st != AIGW_OK && aigw__es_feed(&d, "", 0) != st)
            abort(); /* errors and stops are sticky */
        off += n;
    } while (off < len);
    int fin = aigw__es_finish(&d);
    if (aigw__es_finish(&d) != 0)
        abort();
    int st = (int)first;
    trace_put(t, &st, sizeof st);
    trace_put(t, &fin, sizeof fin);
    trace_str(t, detail, strlen(detail));
    aigw__es_free(&d);
}

static void same(const trace *a, const trace *b) {
    if (a->len != b->len || a->messages != b->messages || memcmp(a->bytes, b->bytes, a->len)) {
        fprintf(stderr,
                "fuzz_eventstream: messages differ with the feed boundaries "
                "(%zu vs %zu messages)\n",
                a->messages, b->messages);
        abort();
    }
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Recomputes the CRCs of each message whose total length fits. */
static void repair(unsigned char *p, size_t len) {
    size_t off = 0;
    while (len - off >= 12) {
        unsigned char *m = p + off;
        uint32_t total = be32(m);
        put32(m + 8, (uint32_t)crc32(0L, m, 8));
        if (total < 16 || total > len - off)
            break;
        put32(m + total - 4, (uint32_t)crc32(0L, m, total - 4));
        off += total;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    unsigned char *buf = malloc(size);
    if (!buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    size_t len = size - 1;
    if (data[0] & 1)
        repair(buf, len);
    const char *in = (const char *)buf;

    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a of the input */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3u;
    size_t stop_after = (h & 7) == 0 ? (size_t)((h >> 3) & 3) + 1 : 0;

    trace whole, pieces;
    run(in, len, 0, h, stop_after, &whole);
    run(in, len, 1, h, stop_after, &pieces);
    same(&whole, &pieces);
    free(pieces.bytes);
    run(in, len, 1, h ^ 0x5555, stop_after, &pieces);
    same(&whole, &pieces);
    free(pieces.bytes);
    if (len <= 4096) {
        run(in, len, 2, h, stop_after, &pieces);
        same(&whole, &pieces);
        free(pieces.bytes);
    }
    free(whole.bytes);
    free(buf);
    return 0;
}
