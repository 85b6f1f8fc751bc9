/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the Server-Sent Events parser (lib/wire/sse.c).
 *
 * Besides crashes and sanitizer reports, it checks the parser's main
 * promise: the events do not depend on how the stream is cut into feeds.
 * Each input is parsed fed whole, then in pieces whose sizes (0 to 17
 * bytes, zero-length feeds included) come from a hash of the input, and for
 * short inputs byte by byte; every run must give the same events, the same
 * feed status, finish() result and retry value, or the target aborts. The
 * callback also stops the parser after a number of events (from the same
 * hash) on some inputs, so the stop path is checked the same way.
 *
 * sse.c is compiled into this file rather than taken from the static
 * library, so that it carries libFuzzer's coverage instrumentation even when
 * the library itself is built without -fsanitize=fuzzer-no-link. (The
 * archive's copy is then never linked: nothing else references it.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/wire/sse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every event, serialized: lengths and bytes of type, data and id. */
typedef struct trace {
    unsigned char *bytes;
    size_t len, cap;
    size_t events;
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
    memcpy(t->bytes + t->len, p, n);
    t->len += n;
}

static void trace_str(trace *t, const char *s, size_t n) {
    if (s[n] != '\0') /* strings are NUL-terminated at [len] */
        abort();
    trace_put(t, &n, sizeof n);
    trace_put(t, s, n);
}

static int on_event(const aigw__sse_event *e, void *user) {
    trace *t = user;
    /* A line end never gets into a value; data joins lines with LF only. */
    if (e->event_len == 0 || memchr(e->event, '\n', e->event_len) ||
        memchr(e->event, '\r', e->event_len) || memchr(e->data, '\r', e->data_len) ||
        memchr(e->id, '\n', e->id_len) || memchr(e->id, '\r', e->id_len) ||
        memchr(e->id, '\0', e->id_len))
        abort();
    trace_str(t, e->event, e->event_len);
    trace_str(t, e->data, e->data_len);
    trace_str(t, e->id, e->id_len);
    t->events++;
    return t->stop_after && t->events >= t->stop_after;
}

/* Ends a run: the first non-OK status, finish() and the retry value. */
static void trace_end(trace *t, aigw__sse_parser *p, aigw_status first) {
    int fin = aigw__sse_finish(p);
    long retry = aigw__sse_retry_ms(p);
    int st = (int)first;
    trace_put(t, &st, sizeof st);
    trace_put(t, &fin, sizeof fin);
    trace_put(t, &retry, sizeof retry);
    aigw__sse_free(p);
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
    aigw__sse_parser p;
    aigw__sse_init(&p, on_event, t);
    aigw_status first = AIGW_OK;
    size_t off = 0;
    uint64_t rng = seed;
    do {
        size_t n = len - off;
        if (mode == 1)
            n = (size_t)(next_rand(&rng) % 18);
        else if (mode == 2)
            n = 1;
        if (n > len - off)
            n = len - off;
        aigw_status st = aigw__sse_feed(&p, in + off, n);
        if (st && !first)
            first = st;
        if (st != AIGW_OK && aigw__sse_feed(&p, "", 0) != st)
            abort(); /* errors and stops are sticky */
        off += n;
    } while (off < len);
    trace_end(t, &p, first);
}

static void same(const trace *a, const trace *b) {
    if (a->len != b->len || a->events != b->events || memcmp(a->bytes, b->bytes, a->len) != 0) {
        fprintf(stderr, "fuzz_sse: events differ with the feed boundaries (%zu vs %zu events)\n",
                a->events, b->events);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a of the input */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3u;
    size_t stop_after = (h & 7) == 0 ? (size_t)((h >> 3) & 3) + 1 : 0;

    trace whole, pieces;
    run(in, size, 0, h, stop_after, &whole);
    run(in, size, 1, h, stop_after, &pieces);
    same(&whole, &pieces);
    free(pieces.bytes);
    run(in, size, 1, h ^ 0x5555, stop_after, &pieces);
    same(&whole, &pieces);
    free(pieces.bytes);
    if (size <= 4096) {
        run(in, size, 2, h, stop_after, &pieces);
        same(&whole, &pieces);
        free(pieces.bytes);
    }
    free(whole.bytes);
    return 0;
}
