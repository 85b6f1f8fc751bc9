/* SPDX-License-Identifier: Apache-2.0 */
/* Running aigw-cli for a test; see cli_run.h. */
#include "cli_run.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLI_RUN_TIMEOUT_MS 30000

static void append(char **buf, size_t *len, const char *data, size_t n) {
    char *bigger = realloc(*buf, *len + n + 1);
    cr_assert_not_null(bigger);
    memcpy(bigger + *len, data, n);
    *len += n;
    bigger[*len] = '\0';
    *buf = bigger;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

aigw_test_cli_result aigw_test_cli_run(const aigw_test_cli_opts *o, const char *const *args) {
    aigw_test_cli_result r = {0};
    int in[2], out[2], err[2];
    char home_env[300];
    const char *envp[64];
    const char *argv[64];
    size_t n = 0, a = 0;

    snprintf(home_env, sizeof(home_env), "HOME=%s", o->home ? o->home : "");
    envp[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    envp[n++] = home_env;
    envp[n++] = "LC_ALL=C";
    /* Sanitizer builds keep their settings. */
    static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
    char keep_buf[3][512];
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(keep[i]);
        if (v) {
            snprintf(keep_buf[i], sizeof(keep_buf[i]), "%s=%s", keep[i], v);
            envp[n++] = keep_buf[i];
        }
    }
    for (size_t i = 0; o->env && o->env[i] && n < 62; i++) {
        envp[n++] = o->env[i];
    }
    envp[n] = NULL;
    argv[a++] = AIGW_CLI_PATH;
    for (size_t i = 0; args[i] && a < 62; i++) {
        argv[a++] = args[i];
    }
    argv[a] = NULL;

    cr_assert(pipe(in) == 0 && pipe(out) == 0 && pipe(err) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execve(AIGW_CLI_PATH, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    set_nonblock(in[1]);
    set_nonblock(out[0]);
    set_nonblock(err[0]);

    const char *to_write = o->stdin_text ? o->stdin_text : "";
    size_t left = strlen(to_write);
    int in_fd = in[1], out_fd = out[0], err_fd = err[0];
    int sent_sigint = 0;
    if (left == 0) {
        close(in_fd);
        in_fd = -1;
    }
    long long deadline = now_ms() + CLI_RUN_TIMEOUT_MS;
    r.out = calloc(1, 1);
    r.err = calloc(1, 1);
    while (out_fd >= 0 || err_fd >= 0) {
        struct pollfd p[3];
        int np = 0;
        if (out_fd >= 0) {
            p[np++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
        }
        if (err_fd >= 0) {
            p[np++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
        }
        if (in_fd >= 0) {
            p[np++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
        }
        long long wait = deadline - now_ms();
        if (wait <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("aigw-cli %s did not finish within %d ms; stdout: %s stderr: %s",
                           args[0] ? args[0] : "", CLI_RUN_TIMEOUT_MS, r.out, r.err);
        }
        int rc = poll(p, (nfds_t)np, (int)wait);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        cr_assert(rc >= 0);
        for (int i = 0; i < np; i++) {
            if (!p[i].revents) {
                continue;
            }
            if (p[i].fd == in_fd) {
                ssize_t w = write(in_fd, to_write, left);
                if (w > 0) {
                    to_write += w;
                    left -= (size_t)w;
                }
                if (w < 0 || left == 0) {
                    close(in_fd);
                    in_fd = -1;
                }
                continue;
            }
            char buf[4096];
            ssize_t got = read(p[i].fd, buf, sizeof(buf));
            if (got > 0) {
                if (p[i].fd == out_fd) {
                    append(&r.out, &r.out_len, buf, (size_t)got);
                } else {
                    append(&r.err, &r.err_len, buf, (size_t)got);
                }
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(p[i].fd);
                if (p[i].fd == out_fd) {
                    out_fd = -1;
                } else {
                    err_fd = -1;
                }
            }
        }
        if (o->sigint_after_output && !sent_sigint && r.out_len > 0) {
            kill(pid, SIGINT);
            sent_sigint = 1;
        }
    }
    if (in_fd >= 0) {
        close(in_fd);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else {
        r.exit_code = -1;
        r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return r;
}

void aigw_test_cli_result_free(aigw_test_cli_result *r) {
    free(r->out);
    free(r->err);
}

size_t aigw_test_count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

void aigw_test_cli_assert_exit(const aigw_test_cli_result *r, int code) {
    cr_assert_eq(r->exit_code, code, "exit %d (signal %d), want %d\nstdout: %s\nstderr: %s",
                 r->exit_code, r->signal, code, r->out, r->err);
}

void aigw_test_cli_assert_error(const aigw_test_cli_result *r, int code, const char *needle) {
    aigw_test_cli_assert_exit(r, code);
    cr_assert_eq(r->out_len, 0, "stdout should be empty, is: %s", r->out);
    cr_assert_eq(aigw_test_count_lines(r->err), 1, "stderr should be one line, is: %s", r->err);
    cr_assert(r->err_len > 0 && r->err[r->err_len - 1] == '\n', "stderr: %s", r->err);
    cr_assert(strncmp(r->err, "aigw-cli: ", 10) == 0, "stderr: %s", r->err);
    if (needle) {
        cr_assert(strstr(r->err, needle), "stderr lacks '%s': %s", needle, r->err);
    }
}

void aigw_test_temp_dir(char *dir, size_t cap, const char *prefix) {
    snprintf(dir, cap, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "cannot make %s", dir);
}

void aigw_test_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char child[1024];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
            aigw_test_remove_tree(child);
        }
        if (d) {
            closedir(d);
        }
    }
    remove(path);
}

void aigw_test_temp_dir_remove(char *dir) {
    if (dir[0]) {
        aigw_test_remove_tree(dir);
        dir[0] = '\0';
    }
}

void aigw_test_write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}
