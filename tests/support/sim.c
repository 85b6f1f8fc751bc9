/* SPDX-License-Identifier: Apache-2.0 */
/* Starting the provider simulator (tests/upstream) for a test. */
#include "sim.h"
#include "proc.h"

#include <criterion/criterion.h>

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

#define SIM_START_TIMEOUT_MS 10000
#define SIM_MAX_ARGS 64

static void reap(pid_t pid) {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int aigw_test_sim_start(aigw_test_sim *sim, const char *const *extra_args) {
    const char *path = getenv("AIGW_SIM_PATH");
    const char *argv[SIM_MAX_ARGS + 4];
    size_t argc = 0;
    int fds[2];

    memset(sim, 0, sizeof(*sim));
#ifdef AIGW_SIM_PATH
    if (!path || !*path)
        path = AIGW_SIM_PATH;
#endif
    if (!path || !*path) {
        fprintf(stderr, "aigw_test_sim_start: AIGW_SIM_PATH is not set\n");
        return -1;
    }
    argv[argc++] = path;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    for (size_t i = 0; extra_args && extra_args[i]; i++) {
        if (argc >= SIM_MAX_ARGS + 3) {
            fprintf(stderr, "aigw_test_sim_start: too many arguments\n");
            return -1;
        }
        argv[argc++] = extra_args[i];
    }
    argv[argc] = NULL;

    if (pipe(fds) != 0) {
        perror("aigw_test_sim_start: pipe");
        return -1;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("aigw_test_sim_start: fork");
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* The simulator dies with the test process. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(path, (char *const *)argv);
        fprintf(stderr, "aigw_test_sim_start: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);

    /* Wait for "listening on 127.0.0.1:PORT\n". */
    char line[128];
    int port = -1;
    int got = aigw_test_read_line(fds[0], line, sizeof(line), SIM_START_TIMEOUT_MS);
    if (got == AIGW_TEST_LINE_TIMEOUT) {
        fprintf(stderr, "aigw_test_sim_start: timed out waiting for %s\n", path);
    } else if (got == AIGW_TEST_LINE_EOF) {
        fprintf(stderr, "aigw_test_sim_start: %s exited before listening\n", path);
    } else if (got == AIGW_TEST_LINE_LONG) {
        fprintf(stderr, "aigw_test_sim_start: unexpected output from %s\n", path);
    } else {
        const char *colon = strrchr(line, ':');
        if (strncmp(line, "listening on ", 13) == 0 && colon)
            port = atoi(colon + 1);
        if (port <= 0 || port > 65535) {
            fprintf(stderr, "aigw_test_sim_start: unexpected output: %s\n", line);
            port = -1;
        }
    }
    close(fds[0]);
    if (port < 0) {
        reap(pid);
        return -1;
    }
    sim->pid = pid;
    sim->port = port;
    snprintf(sim->base_url, sizeof(sim->base_url), "http://127.0.0.1:%d/v1", port);
    return 0;
}

void aigw_test_sim_stop(aigw_test_sim *sim) {
    if (!sim || sim->pid <= 0)
        return;
    pid_t pid = sim->pid;
    sim->pid = 0;
    if (kill(pid, SIGTERM) != 0) {
        while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
            ;
        return;
    }
    double deadline = aigw_test_now_ms() + 2000;
    while (aigw_test_now_ms() < deadline) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    reap(pid);
}

void aigw_test_sim_start_providers(aigw_test_sim *sim, const char *key) {
    const char *args[] = {"--api-key",
                          key,
                          "--bearer-token",
                          key,
                          "--aws-access-key-id",
                          "AKIDSIMULATOR",
                          "--aws-secret-access-key",
                          "SECRET/aws/key/0123456789",
                          NULL};
    setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET/aws/key/0123456789", 1);
    unsetenv("AWS_SESSION_TOKEN");
    cr_assert_eq(aigw_test_sim_start(sim, args), 0, "the simulator did not start");
}
