/* SPDX-License-Identifier: Apache-2.0 */
/* Starting redis-server for a test; see redis.h. The approach is
 * tests/test_account_redis.c's (fork + exec, PR_SET_PDEATHSIG, PING until
 * it answers), without hiredis so that any test can use it. */
#include "redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int aigw_test_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int aigw_test_redis_command(const aigw_test_redis *r, const char *command, char *out, size_t cap) {
    int fd = connect_to(r->port);
    if (fd < 0)
        return -1;
    char line[512];
    int n = snprintf(line, sizeof line, "%s\r\n", command);
    int rc = -1;
    if (n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) == n) {
        size_t len = 0;
        while (len < sizeof line - 1) {
            ssize_t got = read(fd, line + len, sizeof line - 1 - len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            len += (size_t)got;
            line[len] = '\0';
            char *nl = strstr(line, "\r\n");
            if (nl) {
                *nl = '\0';
                if (out && cap)
                    snprintf(out, cap, "%s", line);
                rc = 0;
                break;
            }
        }
    }
    close(fd);
    return rc;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int aigw_test_redis_start(aigw_test_redis *r, int port) {
    return aigw_test_redis_start_args(r, port, NULL);
}

int aigw_test_redis_start_args(aigw_test_redis *r, int port, const char *const *extra_args) {
    if (port <= 0)
        port = aigw_test_free_port();
    if (port <= 0)
        return -1;
    r->port = port;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Dies with the test, even when the test crashes; quiet. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        const char *argv[64] = {"redis-server", "--port",           port_s, "--bind",
                                "127.0.0.1",    "--save",           "",     "--appendonly",
                                "no",           "--daemonize",      "no",   "--loglevel",
                                "warning",      "--protected-mode", "no"};
        size_t argc = 15;
        for (size_t i = 0; extra_args && extra_args[i] && argc < 63; i++)
            argv[argc++] = extra_args[i];
        argv[argc] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 500; i++) {
        char answer[64] = "";
        /* (with --requirepass it answers -NOAUTH: up all the same) */
        if (aigw_test_redis_command(r, "PING", answer, sizeof answer) == 0 &&
            (strcmp(answer, "+PONG") == 0 || strncmp(answer, "-NOAUTH", 7) == 0))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->pid = 0;
            return 1;
        }
        pause_ms(10);
    }
    aigw_test_redis_stop(r);
    return -1;
}

void aigw_test_redis_stop(aigw_test_redis *r) {
    if (!r || r->pid <= 0)
        return;
    kill(r->pid, SIGKILL);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    r->pid = 0;
}
