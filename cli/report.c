/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — error lines on stderr, exit codes, stdout writes and SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_exit_code(aigw_status status, cli_phase phase) {
    switch (status) {
    case AIGW_OK:
        return CLI_EXIT_OK;
    case AIGW_ECONFIG:
        return CLI_EXIT_CONFIG;
    case AIGW_EIO:
        return phase == CLI_PHASE_SETUP ? CLI_EXIT_CONFIG : CLI_EXIT_FAILURE;
    case AIGW_EAUTH:
    case AIGW_EPERMISSION:
        return CLI_EXIT_AUTH;
    case AIGW_ERATELIMIT:
    case AIGW_EBUDGET:
        return CLI_EXIT_RATELIMIT;
    case AIGW_EBADREQUEST:
    case AIGW_ENOTFOUND:
    case AIGW_ENOBACKEND:
    case AIGW_ENOTSUPPORTED:
        return CLI_EXIT_REQUEST;
    case AIGW_EUPSTREAM:
    case AIGW_EBADRESPONSE:
    case AIGW_ETRUNCATED:
    case AIGW_EUPSTREAM_STATUS:
        return CLI_EXIT_UPSTREAM;
    case AIGW_ECONNECT:
    case AIGW_ETIMEOUT:
    case AIGW_ETRANSPORT:
        return CLI_EXIT_NETWORK;
    case AIGW_ESTOPPED:
        return cli_interrupted() ? CLI_EXIT_INTERRUPTED : CLI_EXIT_FAILURE;
    default: /* EINVAL, ENOMEM, EINTERNAL, unknown */
        return CLI_EXIT_FAILURE;
    }
}

/* Writes `s` with control characters (newlines included) replaced by spaces,
 * so that an error is always exactly one line. */
static void put_one_line(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c < 0x20 || c == 0x7f ? ' ' : c, stderr);
    }
}

int cli_report_error(aigw_status status, aigw_error *err, cli_phase phase) {
    if (status == AIGW_ESTOPPED && cli_interrupted()) {
        aigw_error_free(err);
        fputs(CLI_NAME ": interrupted\n", stderr);
        return CLI_EXIT_INTERRUPTED;
    }
    fputs(CLI_NAME ": ", stderr);
    if (err) {
        put_one_line(aigw_error_message(err));
        status = aigw_error_status(err) != AIGW_OK ? aigw_error_status(err) : status;
    } else {
        put_one_line(aigw_strerror(status));
    }
    fprintf(stderr, " (%s", aigw_status_name(status));
    if (err && aigw_error_http_status(err) > 0) {
        fprintf(stderr, ", HTTP %d", aigw_error_http_status(err));
    }
    if (err && aigw_error_provider(err)) {
        fputs(", provider ", stderr);
        put_one_line(aigw_error_provider(err));
    }
    fputs(")\n", stderr);
    fflush(stderr);
    aigw_error_free(err);
    return cli_exit_code(status, phase);
}

void cli_errorf(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fputs(CLI_NAME ": ", stderr);
    put_one_line(line);
    fputc('\n', stderr);
    fflush(stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (command) {
        cli_errorf("%s (see '" CLI_NAME " %s --help')", line, command);
    } else {
        cli_errorf("%s (see '" CLI_NAME " --help')", line);
    }
    return CLI_EXIT_USAGE;
}

int cli_write_out(const char *s, size_t len) {
    if ((len && fwrite(s, 1, len, stdout) != len) || fflush(stdout) != 0) {
        int e = errno;
        cli_errorf("cannot write to standard output: %s", strerror(e));
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

/* The stream did not stop within the grace period (nothing arrived to
 * notice the flag): leave now. Only async-signal-safe calls here. */
static void on_sigalrm(int sig) {
    static const char msg[] = CLI_NAME ": interrupted\n";
    (void)sig;
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(CLI_EXIT_INTERRUPTED);
}

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    alarm(1);
}

void cli_catch_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigalrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);
}

int cli_interrupted(void) {
    return interrupted != 0;
}
