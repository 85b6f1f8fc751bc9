/* SPDX-License-Identifier: Apache-2.0 */
/* `aigw-cli serve` as a child process; see serve_proc.h. */
#include "serve_proc.h"
#include "proc.h"

#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVE_START_TIMEOUT_MS 15000
#define SERVE_MAX_ARGS 32

int aigw_test_serve_start(aigw_test_serve *s, const char *config_json, unsigned workers,
                          const char *const *extra_args) {
    const char *cli = getenv("AIGW_CLI_PATH");
#ifdef AIGW_CLI_PATH
    if (!cli || !*cli)
        cli = AIGW_CLI_PATH;
#endif
    memset(s, 0, sizeof *s);
    if (!cli || !*cli) {
        fprintf(stderr, "aigw_test_serve_start: AIGW_CLI_PATH is not set\n");
        return -1;
    }
    snprintf(s->config_path, sizeof s->config_path, "/tmp/aigw-serve-XXXXXX");
    int cfd = mkstemp(s->config_path);
    if (cfd < 0)
        return -1;
    int ok = aigw_test_write_all(cfd, config_json, strlen(config_json)) == 0;
    close(cfd);
    snprintf(s->log_path, sizeof s->log_path, "/tmp/aigw-serve-log-XXXXXX");
    int lfd = mkstemp(s->log_path);
    if (!ok || lfd < 0) {
        unlink(s->config_path);
        if (lfd >= 0)
            close(lfd);
        return -1;
    }

    char workers_s[16];
    snprintf(workers_s, sizeof workers_s, "%u", workers ? workers : 2);
    const char *argv[SERVE_MAX_ARGS + 10];
    size_t argc = 0;
    argv[argc++] = cli;
    argv[argc++] = "serve";
    argv[argc++] = "--config";
    argv[argc++] = s->config_path;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--workers";
    argv[argc++] = workers_s;
    for (size_t i = 0; extra_args && extra_args[i] && i < SERVE_MAX_ARGS; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        close(lfd);
        unlink(s->config_path);
        return -1;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        close(lfd);
        unlink(s->config_path);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        dup2(lfd, STDERR_FILENO);
        close(fds[1]);
        close(lfd);
        /* The test's own signal mask must not leak into the server. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(cli, (char *const *)argv);
        fprintf(stderr, "aigw_test_serve_start: cannot run %s: %s\n", cli, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    close(lfd);

    /* Wait for "listening on port N (W workers)\n". */
    char line[256];
    int port = -1;
    if (aigw_test_read_line(fds[0], line, sizeof line, SERVE_START_TIMEOUT_MS) !=
            AIGW_TEST_LINE_OK ||
        sscanf(line, "listening on port %d", &port) != 1 || port <= 0 || port > 65535)
        port = -1;
    /* serve prints nothing else on stdout (and ignores SIGPIPE). */
    close(fds[0]);
    s->pid = pid;
    if (port < 0) {
        aigw_test_serve_stop(s, 0);
        return -1;
    }
    s->port = port;
    return 0;
}

int aigw_test_serve_stop(aigw_test_serve *s, long timeout_ms) {
    if (!s || s->pid <= 0)
        return -1;
    pid_t pid = s->pid;
    s->pid = 0;
    int status = -1;
    if (timeout_ms > 0 && kill(pid, SIGTERM) == 0) {
        double deadline = aigw_test_now_ms() + (double)timeout_ms;
        while (aigw_test_now_ms() < deadline) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                unlink(s->config_path);
                unlink(s->log_path);
                return status;
            }
            if (r < 0 && errno != EINTR)
                break;
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    unlink(s->config_path);
    unlink(s->log_path);
    return -1;
}

void aigw_test_serve_log(const aigw_test_serve *s, char *out, size_t cap) {
    if (!cap)
        return;
    out[0] = '\0';
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

int aigw_test_serve_log_has(const aigw_test_serve *s, const char *const *needles) {
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        found = 1;
        for (size_t i = 0; needles[i] && found; i++)
            found = strstr(line, needles[i]) != NULL;
    }
    fclose(f);
    return found;
}

long aigw_test_serve_status_kb(const aigw_test_serve *s, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = s->pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    long kb = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

long aigw_test_serve_fds(const aigw_test_serve *s) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)s->pid);
    DIR *d = s->pid > 0 ? opendir(path) : NULL;
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

void aigw_test_serve_stop_logged(aigw_test_serve *s, long timeout_ms) {
    if (s->pid <= 0)
        return;
    char log[4096];
    aigw_test_serve_log(s, log, sizeof log);
    if (log[0])
        cr_log_info("serve's stderr:\n%s", log);
    aigw_test_serve_stop(s, timeout_ms);
}
