/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of the Server-Sent Events parser (lib/wire/sse.c) on a large,
 * realistic OpenAI stream: the recorded chat-streaming body
 * (tests/data/sse/chat-streaming.sse, 14452 bytes, 51 events) repeated in
 * memory to about 64 MB, then parsed fed whole and in pieces of 64 KB, 4 KB
 * and 256 bytes, several iterations each. Prints MB/s (1 MB = 10^6 bytes)
 * and events/s, best and median of the iterations.
 *
 * Usage: bench_sse [-m MB] [-i ITERATIONS] [-c CHUNK] [FILE]
 *   -m MB          size of the in-memory stream (default 64)
 *   -i ITERATIONS  runs per feed size (default 7)
 *   -c CHUNK       only this piece size (0 = whole); default: all of them
 *   FILE           the body to repeat (default: the recording above)
 * See bench/README.md, "SSE parsing", for figures and the callgrind run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/sse.h"

#define DEFAULT_FILE "/../tests/data/sse/chat-streaming.sse"

typedef struct counts {
    size_t events;
    size_t data_bytes;
} counts;

static int on_event(const aigw__sse_event *e, void *user) {
    counts *c = user;
    c->events++;
    c->data_bytes += e->data_len;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    while (s) {
        size_t got = fread(s + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *t = realloc(s, cap *= 2);
        if (!t) {
            free(s);
            s = NULL;
        } else {
            s = t;
        }
    }
    fclose(f);
    *len = n;
    return s;
}

/* One parse of the whole stream; returns seconds. */
static double parse_once(const char *in, size_t len, size_t chunk, counts *c) {
    aigw__sse_parser p;
    memset(c, 0, sizeof *c);
    aigw__sse_init(&p, on_event, c);
    double t0 = now_s();
    size_t step = chunk ? chunk : len;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (aigw__sse_feed(&p, in + off, n) != AIGW_OK) {
            fprintf(stderr, "bench_sse: parse error at %zu\n", off);
            exit(1);
        }
    }
    double t = now_s() - t0;
    if (aigw__sse_finish(&p) != 0) {
        fprintf(stderr, "bench_sse: stream did not end with a blank line\n");
        exit(1);
    }
    aigw__sse_free(&p);
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t mb = 64;
    int iters = 7;
    long only_chunk = -1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            mb = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-i") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            only_chunk = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: %s [-m MB] [-i ITERATIONS] [-c CHUNK] [FILE]\n", argv[0]);
            return 2;
        }
    }
    if (iters < 1 || iters > 1000)
        iters = 7;

    char defpath[4096];
    if (!path) {
        /* The source file's own directory: CMake compiles with full paths. */
        const char *src = __FILE__;
        const char *slash = strrchr(src, '/');
        int dirlen = slash ? (int)(slash - src) : 1;
        snprintf(defpath, sizeof defpath, "%.*s%s", dirlen, slash ? src : ".", DEFAULT_FILE);
        path = defpath;
    }
    size_t body_len;
    char *body = read_all(path, &body_len);
    if (!body || body_len == 0) {
        fprintf(stderr, "bench_sse: cannot read %s\n", path);
        return 1;
    }

    size_t reps = mb * 1000000 / body_len;
    if (reps == 0)
        reps = 1;
    size_t len = reps * body_len;
    char *in = malloc(len);
    if (!in) {
        fprintf(stderr, "bench_sse: out of memory\n");
        return 1;
    }
    for (size_t r = 0; r < reps; r++)
        memcpy(in + r * body_len, body, body_len);

    printf("SSE parse: %s x %zu = %.1f MB, %d iterations per feed size\n", path, reps,
           (double)len / 1e6, iters);
    printf("%-10s %10s %10s %14s %14s\n", "feed", "best MB/s", "med MB/s", "best events/s",
           "events");

    static const size_t chunks[] = {0, 65536, 4096, 256};
    double *t = malloc((size_t)iters * sizeof *t);
    if (!t)
        return 1;
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        size_t chunk = chunks[k];
        if (only_chunk >= 0 && (size_t)only_chunk != chunk)
            continue;
        counts c;
        for (int i = 0; i < iters; i++)
            t[i] = parse_once(in, len, chunk, &c);
        qsort(t, (size_t)iters, sizeof *t, cmp_double);
        char name[32];
        if (chunk)
            snprintf(name, sizeof name, "%zu B", chunk);
        else
            snprintf(name, sizeof name, "whole");
        printf("%-10s %10.0f %10.0f %14.0f %14zu\n", name, (double)len / 1e6 / t[0],
               (double)len / 1e6 / t[iters / 2], (double)c.events / t[0], c.events);
    }
    if (only_chunk >= 0 && only_chunk != 0 && only_chunk != 65536 && only_chunk != 4096 &&
        only_chunk != 256) {
        counts c;
        for (int i = 0; i < iters; i++)
            t[i] = parse_once(in, len, (size_t)only_chunk, &c);
        qsort(t, (size_t)iters, sizeof *t, cmp_double);
        printf("%-10ld %10.0f %10.0f %14.0f %14zu\n", only_chunk, (double)len / 1e6 / t[0],
               (double)len / 1e6 / t[iters / 2], (double)c.events / t[0], c.events);
    }
    free(t);
    free(in);
    free(body);
    return 0;
}
