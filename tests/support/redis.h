/* SPDX-License-Identifier: Apache-2.0 */
/* Starting Debian's redis-server for a test: on a free loopback port, no
 * persistence, quiet, dying with the test process. A test can kill it and
 * start it again on the same port (a Redis restart mid-run). */
#ifndef AIGW_TEST_REDIS_H
#define AIGW_TEST_REDIS_H

#include <sys/types.h>

typedef struct aigw_test_redis {
    pid_t pid; /* 0 when not running */
    int port;
} aigw_test_redis;

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int aigw_test_free_port(void);

/* Starts redis-server on `port` (0: a free one) and waits until it answers
 * PING. Returns 0 when it is serving, 1 when redis-server is not installed
 * (or exited at once: the caller may skip), -1 when it did not answer. */
int aigw_test_redis_start(aigw_test_redis *r, int port);

/* As aigw_test_redis_start, with more redis-server arguments
 * (NULL-terminated, may be NULL), e.g. {"--requirepass", "pw", NULL}. */
int aigw_test_redis_start_args(aigw_test_redis *r, int port, const char *const *extra_args);

/* Kills it (SIGKILL: as a crash) and reaps it; r->port is kept so that
 * aigw_test_redis_start(r, r->port) restarts it in the same place. */
void aigw_test_redis_stop(aigw_test_redis *r);

/* Sends one inline command (e.g. "FLUSHALL", "DBSIZE") and copies the
 * first line of the answer ("+OK", ":3", ...) into out. Returns 0 or -1. */
int aigw_test_redis_command(const aigw_test_redis *r, const char *command, char *out, size_t cap);

#endif
