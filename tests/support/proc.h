/* SPDX-License-Identifier: Apache-2.0 */
/* What the helpers that start child processes for the tests (the
 * simulator, `aigw-cli serve`) share: writing whole buffers, a monotonic
 * clock and reading the line a child announces itself with on a pipe. */
#ifndef AIGW_TEST_PROC_H
#define AIGW_TEST_PROC_H

#include <stddef.h>

/* Writes all N bytes of P to FD (a socket: without SIGPIPE when the peer
 * has gone), again after EINTR. Returns 0, or -1 when it could not. */
int aigw_test_write_all(int fd, const char *p, size_t n);

/* Monotonic milliseconds. */
double aigw_test_now_ms(void);

/* What aigw_test_read_line saw. */
enum {
    AIGW_TEST_LINE_OK = 0,       /* a whole line */
    AIGW_TEST_LINE_TIMEOUT = -1, /* no newline within the time */
    AIGW_TEST_LINE_EOF = -2,     /* the writer closed the pipe (or a read error) */
    AIGW_TEST_LINE_LONG = -3     /* cap - 1 bytes without a newline */
};

/* Reads FD until a newline, for at most TIMEOUT_MS; puts what came,
 * without the newline, into LINE[0..cap) (NUL-terminated). Returns one of
 * the AIGW_TEST_LINE_ values. */
int aigw_test_read_line(int fd, char *line, size_t cap, double timeout_ms);

/* 1 in a build under AddressSanitizer, whose allocator keeps freed memory
 * in quarantine: RSS bounds on memory given back do not hold there. */
#if defined(__SANITIZE_ADDRESS__)
#define AIGW_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AIGW_TEST_ASAN 1
#endif
#endif
#ifndef AIGW_TEST_ASAN
#define AIGW_TEST_ASAN 0
#endif

#endif
