/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers and allocation helpers for the provider simulator.
 * The simulator is a test tool: running out of memory aborts it. */
#ifndef AIGW_SIM_BUF_H
#define AIGW_SIM_BUF_H

#include <stddef.h>

typedef struct sim_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} sim_buf;

void *sim_xmalloc(size_t n);
void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t n);
char *sim_xstrdup(const char *s);
char *sim_xstrndup(const char *s, size_t n);

void sim_buf_append(sim_buf *b, const void *p, size_t n);
void sim_buf_puts(sim_buf *b, const char *s);
void sim_buf_printf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the contents over to the caller (never NULL) and empties the buffer. */
char *sim_buf_take(sim_buf *b, size_t *len);
void sim_buf_reset(sim_buf *b);
void sim_buf_free(sim_buf *b);

#endif
