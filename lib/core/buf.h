/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer, always NUL-terminated once anything was added. */
#ifndef AIGW_CORE_BUF_H
#define AIGW_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "aigw/status.h"

typedef struct aigw__buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} aigw__buf;

#define AIGW__BUF_INIT                                                                             \
    { NULL, 0, 0 }

aigw_status aigw__buf_reserve(aigw__buf *b, size_t extra);
aigw_status aigw__buf_append(aigw__buf *b, const void *data, size_t len);
aigw_status aigw__buf_puts(aigw__buf *b, const char *s);
aigw_status aigw__buf_printf(aigw__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
aigw_status aigw__buf_vprintf(aigw__buf *b, const char *fmt, va_list ap);
/* Appends each string argument in turn, up to a NULL: a fast
 * aigw__buf_printf("%s%s%s", ...) for hot paths. */
aigw_status aigw__buf_cat(aigw__buf *b, ...);
/* Drops the first n bytes, keeping the rest. */
void aigw__buf_consume(aigw__buf *b, size_t n);
void aigw__buf_clear(aigw__buf *b); /* len = 0, keeps memory */
void aigw__buf_free(aigw__buf *b);
/* Zeroes the bytes (they held a secret), then frees. */
void aigw__buf_wipe(aigw__buf *b);
/* Hands the data to the caller (NUL-terminated, "" when empty) and resets
 * the buffer; NULL on allocation failure. */
char *aigw__buf_detach(aigw__buf *b);

#endif
