/* SPDX-License-Identifier: Apache-2.0 */
/* Running `aigw-cli serve` as a separate process for a test: the config is
 * written to a temporary file, the gateway listens on a free loopback port
 * (it announces "listening on port N (W workers)"), and it dies with the
 * test process. */
#ifndef AIGW_TEST_SERVE_PROC_H
#define AIGW_TEST_SERVE_PROC_H

#include <sys/types.h>

typedef struct aigw_test_serve {
    pid_t pid; /* 0 when not running */
    int port;
    char config_path[64]; /* the temporary config file */
    char log_path[64];    /* its stderr */
} aigw_test_serve;

/* Writes config_json to a temporary file and starts
 *   aigw-cli serve --config FILE --listen 127.0.0.1:0 --workers W [extra...]
 * (AIGW_CLI_PATH; the environment variable wins over the compile
 * definition). Returns 0 once it listens, else -1 (its stderr is in
 * log_path). */
int aigw_test_serve_start(aigw_test_serve *s, const char *config_json, unsigned workers,
                          const char *const *extra_args);

/* SIGTERM, then SIGKILL after timeout_ms (0: SIGKILL at once). Returns the
 * exit status as waitpid() reports it, or -1 when it had to be killed.
 * Removes the config and log files (read the log first). */
int aigw_test_serve_stop(aigw_test_serve *s, long timeout_ms);

/* For a test's .fini: when S runs, puts its stderr in the test's log
 * (cr_log_info) and stops it as aigw_test_serve_stop(S, timeout_ms). */
void aigw_test_serve_stop_logged(aigw_test_serve *s, long timeout_ms);

/* The server's stderr so far (at most cap - 1 bytes, NUL-terminated). */
void aigw_test_serve_log(const aigw_test_serve *s, char *out, size_t cap);

/* Whether its stderr so far has a line containing every one of the
 * NULL-terminated needles. */
int aigw_test_serve_log_has(const aigw_test_serve *s, const char *const *needles);

/* A memory figure of the server process from /proc/PID/status, in kB
 * ("VmRSS", "VmHWM", ...); -1 when unknown. */
long aigw_test_serve_status_kb(const aigw_test_serve *s, const char *field);

/* Open file descriptors of the server process (/proc/PID/fd); -1 when
 * unknown. */
long aigw_test_serve_fds(const aigw_test_serve *s);

#endif
