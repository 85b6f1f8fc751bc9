/* SPDX-License-Identifier: Apache-2.0 */
/* The growable byte buffer. */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"

aigw_status aigw__buf_reserve(aigw__buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1)
        return AIGW_ENOMEM;
    size_t need = b->len + extra + 1; /* room for the NUL */
    if (need <= b->cap)
        return AIGW_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = aigw__realloc(b->data, cap);
    if (!data)
        return AIGW_ENOMEM;
    b->data = data;
    b->cap = cap;
    return AIGW_OK;
}

aigw_status aigw__buf_append(aigw__buf *b, const void *data, size_t len) {
    aigw_status st = aigw__buf_reserve(b, len);
    if (st)
        return st;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return AIGW_OK;
}

aigw_status aigw__buf_puts(aigw__buf *b, const char *s) {
    return aigw__buf_append(b, s, strlen(s));
}

aigw_status aigw__buf_vprintf(aigw__buf *b, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return AIGW_EINVAL;
    aigw_status st = aigw__buf_reserve(b, (size_t)n);
    if (st)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return AIGW_OK;
}

aigw_status aigw__buf_printf(aigw__buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    aigw_status st = aigw__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

aigw_status aigw__buf_cat(aigw__buf *b, ...) {
    va_list ap;
    va_start(ap, b);
    aigw_status st = AIGW_OK;
    const char *s;
    while (!st && (s = va_arg(ap, const char *)) != NULL)
        st = aigw__buf_append(b, s, strlen(s));
    va_end(ap);
    return st;
}

void aigw__buf_consume(aigw__buf *b, size_t n) {
    if (n >= b->len) {
        aigw__buf_clear(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void aigw__buf_clear(aigw__buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void aigw__buf_free(aigw__buf *b) {
    aigw__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void aigw__buf_wipe(aigw__buf *b) {
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    aigw__buf_free(b);
}

char *aigw__buf_detach(aigw__buf *b) {
    if (!b->data && aigw__buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    char *data = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}
