/* SPDX-License-Identifier: Apache-2.0 */
/* Child-process helpers for the tests; see proc.h. */
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int aigw_test_write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

double aigw_test_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int aigw_test_read_line(int fd, char *line, size_t cap, double timeout_ms) {
    size_t len = 0;
    double deadline = aigw_test_now_ms() + timeout_ms;
    line[0] = '\0';
    for (;;) {
        double left = deadline - aigw_test_now_ms();
        if (left <= 0)
            return AIGW_TEST_LINE_TIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left + 1);
        if (r <= 0)
            continue; /* EINTR, or time to look at the clock again */
        ssize_t n = read(fd, line + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AIGW_TEST_LINE_EOF;
        len += (size_t)n;
        line[len] = '\0';
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
            return AIGW_TEST_LINE_OK;
        }
        if (len == cap - 1)
            return AIGW_TEST_LINE_LONG;
    }
}
