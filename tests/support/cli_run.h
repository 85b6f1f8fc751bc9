/* SPDX-License-Identifier: Apache-2.0 */
/* Running the built aigw-cli for a test: a clean environment (PATH, HOME,
 * LC_ALL and the sanitizers' settings only), stdout and stderr captured,
 * the exit code or signal reported; and the temporary HOME it runs in. */
#ifndef AIGW_TEST_CLI_RUN_H
#define AIGW_TEST_CLI_RUN_H

#include <stddef.h>

/* What one run printed and how it ended; out and err are NUL-terminated. */
typedef struct aigw_test_cli_result {
    int exit_code; /* -1 when killed by a signal */
    int signal;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} aigw_test_cli_result;

/* How to run it; zero-initialised fields are the defaults. */
typedef struct aigw_test_cli_opts {
    const char *home;        /* HOME of the child */
    const char *stdin_text;  /* NULL: empty stdin */
    const char *const *env;  /* extra "NAME=value" entries, NULL-terminated */
    int sigint_after_output; /* send SIGINT once stdout has some bytes */
} aigw_test_cli_opts;

/* Runs AIGW_CLI_PATH with ARGS (NULL-terminated, without argv[0]); the test
 * fails when it has not finished within 30 s. */
aigw_test_cli_result aigw_test_cli_run(const aigw_test_cli_opts *o, const char *const *args);

/* Frees what aigw_test_cli_run captured. */
void aigw_test_cli_result_free(aigw_test_cli_result *r);

/* The number of '\n' in S. */
size_t aigw_test_count_lines(const char *s);

/* The run exited with CODE; on failure the message shows both outputs. */
void aigw_test_cli_assert_exit(const aigw_test_cli_result *r, int code);

/* An error: exit CODE, nothing on stdout, exactly one stderr line that
 * starts "aigw-cli: " and (when NEEDLE is set) contains NEEDLE. */
void aigw_test_cli_assert_error(const aigw_test_cli_result *r, int code, const char *needle);

/* Makes a fresh directory "/tmp/PREFIX-XXXXXX" into DIR; the test fails
 * when it cannot. */
void aigw_test_temp_dir(char *dir, size_t cap, const char *prefix);

/* Removes PATH and everything below it (nothing when it does not exist). */
void aigw_test_remove_tree(const char *path);

/* Removes the directory DIR made by aigw_test_temp_dir (when DIR is not "")
 * and empties DIR. */
void aigw_test_temp_dir_remove(char *dir);

/* Writes TEXT to PATH; the test fails when it cannot. */
void aigw_test_write_file(const char *path, const char *text);

/* The short names the CLI tests use. */
typedef aigw_test_cli_result cli_result;

static inline void result_free(cli_result *r) {
    aigw_test_cli_result_free(r);
}

static inline size_t count_lines(const char *s) {
    return aigw_test_count_lines(s);
}

static inline void assert_exit(const cli_result *r, int code) {
    aigw_test_cli_assert_exit(r, code);
}

static inline void assert_error(const cli_result *r, int code, const char *needle) {
    aigw_test_cli_assert_error(r, code, needle);
}

/* A NULL-terminated argument list: ARGS("chat", "-m", "mock/echo"). */
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
