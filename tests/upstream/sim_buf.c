/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers and allocation helpers for the provider simulator. */
#include "sim_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
    fputs("aigw-sim: out of memory\n", stderr);
    abort();
}

void *sim_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *sim_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *sim_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *sim_xstrndup(const char *s, size_t n) {
    char *p = sim_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sim_xstrdup(const char *s) {
    return sim_xstrndup(s, strlen(s));
}

static void reserve(sim_buf *b, size_t extra) {
    if (extra > (size_t)-1 - b->len - 1)
        oom();
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    b->data = sim_xrealloc(b->data, cap);
    b->cap = cap;
}

void sim_buf_append(sim_buf *b, const void *p, size_t n) {
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sim_buf_puts(sim_buf *b, const char *s) {
    sim_buf_append(b, s, strlen(s));
}

void sim_buf_printf(sim_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sim_buf_take(sim_buf *b, size_t *len) {
    if (!b->data)
        sim_buf_append(b, "", 0);
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void sim_buf_reset(sim_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sim_buf_free(sim_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
