/* End-to-end tests of aigw-cli: the built binary run with a clean
 * environment (HOME a temp dir, no AIGW_* / OPENAI_*), against the built-in
 * mock backend and the provider simulator. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "sim.h"

#define SECRET "sk-SECRET-123456"
#define WRONG_SECRET "sk-SECRET-WRONG-999"
#define RUN_TIMEOUT_MS 30000

/* ---- running the binary ---- */

typedef struct cli_result {
    int exit_code; /* -1 when killed by a signal */
    int signal;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} cli_result;

typedef struct cli_run_opts {
    const char *stdin_text;  /* NULL: empty stdin */
    const char *const *env;  /* extra "NAME=value" entries, NULL-terminated */
    int sigint_after_output; /* send SIGINT once stdout has some bytes */
} cli_run_opts;

static char home_dir[256];

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

/* Runs aigw-cli with argv (NULL-terminated, without argv[0]). */
static cli_result run_cli_v(const cli_run_opts *o, const char *const *args) {
    cli_result r = {0};
    int in[2], out[2], err[2];
    char home_env[300];
    const char *envp[64];
    const char *argv[64];
    size_t n = 0, a = 0;

    snprintf(home_env, sizeof(home_env), "HOME=%s", home_dir);
    envp[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    envp[n++] = home_env;
    envp[n++] = "LC_ALL=C";
    /* Sanitizer builds keep their settings. */
    static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
    static char keep_buf[3][512];
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
    long long deadline = now_ms() + RUN_TIMEOUT_MS;
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
                           args[0] ? args[0] : "", RUN_TIMEOUT_MS, r.out, r.err);
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

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
/* RUN(result, "chat", "-m", "mock/echo", "hi") with no stdin and no env. */
#define RUN(...) run_cli_v(&(cli_run_opts){0}, ARGS(__VA_ARGS__))
#define RUN_ENV(envs, ...) run_cli_v(&(cli_run_opts){.env = (envs)}, ARGS(__VA_ARGS__))
#define RUN_IN(text, ...) run_cli_v(&(cli_run_opts){.stdin_text = (text)}, ARGS(__VA_ARGS__))

static void result_free(cli_result *r) {
    free(r->out);
    free(r->err);
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static void assert_exit(const cli_result *r, int code) {
    cr_assert_eq(r->exit_code, code, "exit %d (signal %d), want %d\nstdout: %s\nstderr: %s",
                 r->exit_code, r->signal, code, r->out, r->err);
}

/* An error: the exit code, nothing on stdout, exactly one stderr line that
 * starts "aigw-cli: " and (when given) contains `needle`. */
static void assert_error(const cli_result *r, int code, const char *needle) {
    assert_exit(r, code);
    cr_assert_eq(r->out_len, 0, "stdout should be empty, is: %s", r->out);
    cr_assert_eq(count_lines(r->err), 1, "stderr should be one line, is: %s", r->err);
    cr_assert(r->err_len > 0 && r->err[r->err_len - 1] == '\n', "stderr: %s", r->err);
    cr_assert(strncmp(r->err, "aigw-cli: ", 10) == 0, "stderr: %s", r->err);
    if (needle) {
        cr_assert(strstr(r->err, needle), "stderr lacks '%s': %s", needle, r->err);
    }
}

static void assert_no_secret(const cli_result *r) {
    cr_assert(!strstr(r->out, "SECRET"), "secret on stdout: %s", r->out);
    cr_assert(!strstr(r->err, "SECRET"), "secret on stderr: %s", r->err);
}

/* ---- temp HOME, files, the simulator ---- */

static void remove_tree(const char *path) {
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
            remove_tree(child);
        }
        if (d) {
            closedir(d);
        }
    }
    remove(path);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void home_path(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", home_dir, rel);
}

static void setup_home(void) {
    snprintf(home_dir, sizeof(home_dir), "/tmp/aigw-cli-test-XXXXXX");
    cr_assert_not_null(mkdtemp(home_dir));
}

static void teardown_home(void) {
    if (home_dir[0]) {
        remove_tree(home_dir);
        home_dir[0] = '\0';
    }
}

static aigw_test_sim sim;
static int sim_running;
static char config_path[300];

/* A port nothing listens on: bound, then closed. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof(addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0);
    cr_assert(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static void backend(char *buf, size_t size, const char *name, const char *base_url,
                    const char *key_json, const char *fault) {
    size_t used = strlen(buf);
    snprintf(buf + used, size - used,
             "%s\"%s\": {\"schema\": \"openai\", \"base_url\": \"%s\", %s, "
             "\"timeout_ms\": 15000%s%s%s}",
             used > 20 ? ",\n  " : "", name, base_url, key_json,
             fault ? ", \"headers\": {\"x-sim-fault\": \"" : "", fault ? fault : "",
             fault ? "\"}" : "");
}

/* A backend of another provider's schema on the simulator, e.g. anthropic
 * at ROOT/anthropic/v1; `fields` is the rest of its JSON object. */
static void provider_backend(char *buf, size_t size, const char *name, const char *fields) {
    size_t used = strlen(buf);
    char root[64];
    snprintf(root, sizeof(root), "http://127.0.0.1:%d", sim.port);
    snprintf(buf + used, size - used, ",\n  \"%s\": {", name);
    used = strlen(buf);
    snprintf(buf + used, size - used, fields, root);
    strncat(buf, ", \"timeout_ms\": 15000}", size - strlen(buf) - 1);
}

/* Model per provider backend, for the provider matrix below. */
static const char *const provider_models[][2] = {
    {"anth", "anth/claude-sonnet-4-5"},      {"az", "az/my-deployment"},
    {"gem", "gem/gemini-2.0-flash"},         {"vx", "vx/gemini-2.0-flash"},
    {"cv", "cv/claude-sonnet-4-5@20250929"}, {"br", "br/anthropic.claude-3-5-sonnet-20240620-v1:0"},
};

static void setup_sim(void) {
    static const char *const sim_args[] = {"--api-key",
                                           SECRET,
                                           "--bearer-token",
                                           SECRET,
                                           "--aws-access-key-id",
                                           "AKIDCLITEST",
                                           "--aws-secret-access-key",
                                           SECRET,
                                           "--recordings",
                                           AIGW_RECORDINGS_DIR,
                                           NULL};
    setup_home();
    cr_assert_eq(aigw_test_sim_start(&sim, sim_args), 0, "the simulator did not start");
    sim_running = 1;

    char dead_url[64];
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d/v1", closed_port());
    const char *env_key = "\"api_key_env\": \"SIM_KEY\"";
    char cfg[8192] = "{\"backends\": {\n  ";
    backend(cfg, sizeof(cfg), "sim", sim.base_url, env_key, NULL);
    backend(cfg, sizeof(cfg), "inline", sim.base_url, "\"api_key\": \"" SECRET "\"", NULL);
    backend(cfg, sizeof(cfg), "wrongkey", sim.base_url, "\"api_key\": \"" WRONG_SECRET "\"", NULL);
    backend(cfg, sizeof(cfg), "s429", sim.base_url, env_key, "status=429");
    backend(cfg, sizeof(cfg), "s500", sim.base_url, env_key, "status=500");
    backend(cfg, sizeof(cfg), "scut", sim.base_url, env_key, "cut_after=2");
    backend(cfg, sizeof(cfg), "sbad", sim.base_url, env_key, "malformed=1");
    backend(cfg, sizeof(cfg), "sclose", sim.base_url, env_key, "close=1");
    backend(cfg, sizeof(cfg), "sslow", sim.base_url, env_key, "event_ms=700");
    backend(cfg, sizeof(cfg), "s403", sim.base_url, env_key, "status=403");
    backend(cfg, sizeof(cfg), "s400", sim.base_url, env_key, "status=400");
    backend(cfg, sizeof(cfg), "serrev", sim.base_url, env_key, "error_event=1");
    backend(cfg, sizeof(cfg), "snodone", sim.base_url, env_key, "drop_done=1");
    backend(cfg, sizeof(cfg), "strickle", sim.base_url, env_key, "trickle_ms=2");
    backend(cfg, sizeof(cfg), "dead", dead_url, env_key, NULL);
    /* Recorded OpenAI answers, replayed verbatim. */
    backend(cfg, sizeof(cfg), "rtools", sim.base_url,
            "\"api_key_env\": \"SIM_KEY\", \"headers\": {\"x-sim-replay\": \"chat-tools\"}", NULL);
    backend(cfg, sizeof(cfg), "rstream", sim.base_url,
            "\"api_key_env\": \"SIM_KEY\", \"headers\": {\"x-sim-replay\": \"chat-streaming\"}",
            NULL);
    backend(cfg, sizeof(cfg), "rusage", sim.base_url,
            "\"api_key_env\": \"SIM_KEY\", \"headers\": {\"x-sim-replay\": "
            "\"chat-streaming-detailed-usage\"}",
            NULL);
    provider_backend(cfg, sizeof(cfg), "anth",
                     "\"schema\": \"anthropic\", \"base_url\": \"%s/anthropic/v1\", "
                     "\"api_key_env\": \"SIM_KEY\"");
    provider_backend(cfg, sizeof(cfg), "az",
                     "\"schema\": \"azure-openai\", \"base_url\": \"%s\", "
                     "\"api_key_env\": \"SIM_KEY\"");
    provider_backend(cfg, sizeof(cfg), "gem",
                     "\"schema\": \"gemini\", \"base_url\": \"%s/gemini/v1beta\", "
                     "\"api_key_env\": \"SIM_KEY\"");
    provider_backend(cfg, sizeof(cfg), "vx",
                     "\"schema\": \"gcp-vertex\", \"base_url\": \"%s/v1\", \"project\": \"p\", "
                     "\"location\": \"us-central1\", \"api_key_env\": \"SIM_KEY\"");
    provider_backend(cfg, sizeof(cfg), "cv",
                     "\"schema\": \"gcp-anthropic\", \"base_url\": \"%s/v1\", \"project\": "
                     "\"p\", \"location\": \"us-east5\", \"api_key_env\": \"SIM_KEY\"");
    provider_backend(cfg, sizeof(cfg), "br",
                     "\"schema\": \"aws-bedrock\", \"base_url\": \"%s\", \"region\": "
                     "\"us-east-1\"");
    strncat(cfg, "\n}}\n", sizeof(cfg) - strlen(cfg) - 1);
    home_path(config_path, sizeof(config_path), "aigw.json");
    write_file(config_path, cfg);
}

static void teardown_sim(void) {
    if (sim_running) {
        aigw_test_sim_stop(&sim);
        sim_running = 0;
    }
    teardown_home();
}

static const char *const sim_env[] = {"SIM_KEY=" SECRET, "AWS_ACCESS_KEY_ID=AKIDCLITEST",
                                      "AWS_SECRET_ACCESS_KEY=" SECRET, NULL};

/* ================= version, help, usage errors ================= */

TestSuite(cli_usage, .init = setup_home, .fini = teardown_home, .timeout = 60);

Test(cli_usage, version) {
    cli_result r = RUN("--version");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "aigw-cli 0.1.0 (libaigw 0.1.0)\n");
    cr_assert_eq(r.err_len, 0);
    result_free(&r);
}

Test(cli_usage, help_everywhere) {
    const char *const *cases[] = {
        ARGS("--help"),
        ARGS("-h"),
        ARGS("help"),
        ARGS("help", "chat"),
        ARGS("help", "embed"),
        ARGS("help", "models"),
        ARGS("chat", "--help"),
        ARGS("embed", "-h"),
        ARGS("models", "--help"),
        ARGS("-v", "help", "chat"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result r = run_cli_v(&(cli_run_opts){0}, cases[i]);
        assert_exit(&r, 0);
        cr_assert(strncmp(r.out, "Usage: aigw-cli", 15) == 0, "case %zu: %s", i, r.out);
        cr_assert_eq(r.err_len, 0, "case %zu: %s", i, r.err);
        result_free(&r);
    }
    cli_result r = RUN("chat", "--help");
    cr_assert(strstr(r.out, "--no-stream") && strstr(r.out, "--max-tokens"));
    result_free(&r);
}

Test(cli_usage, no_command) {
    cli_result r = RUN("-v");
    assert_exit(&r, 2);
    cr_assert_eq(r.out_len, 0);
    cr_assert(strstr(r.err, "Usage:"));
    result_free(&r);
}

Test(cli_usage, usage_errors_exit_2) {
    const char *const *cases[] = {
        ARGS("frobnicate"),
        ARGS("--bogus"),
        ARGS("chat", "--bogus", "-m", "mock/echo", "hi"),
        ARGS("chat", "-m", "mock/echo"),
        ARGS("chat", "hi", "-m"),
        ARGS("chat", "-m", "mock/echo", "--max-tokens", "lots", "hi"),
        ARGS("chat", "-m", "mock/echo", "--temperature", "warm", "hi"),
        ARGS("chat", "-m", "mock/echo", "--no-stream=yes", "hi"),
        ARGS("embed", "-m", "mock/embed", "--dimensions", "0", "x"),
        ARGS("embed", "-m", "mock/embed"),
        ARGS("models", "a", "b"),
        ARGS("help", "nope"),
        ARGS("chat", "--version"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result r = run_cli_v(&(cli_run_opts){0}, cases[i]);
        assert_error(&r, 2, NULL);
        result_free(&r);
    }
}

Test(cli_usage, no_model_suggests_mock) {
    cli_result r = RUN("chat", "hi");
    assert_error(&r, 2, "-m mock/echo");
    result_free(&r);
    r = RUN("embed", "hi");
    assert_error(&r, 2, "-m mock/embed");
    result_free(&r);
}

/* ================= chat against the mock backend ================= */

TestSuite(cli_mock, .init = setup_home, .fini = teardown_home, .timeout = 60);

Test(cli_mock, chat_streams_text) {
    cli_result r = RUN("chat", "-m", "mock/echo", "hello there world");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "hello there world\n");
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_mock, chat_joins_words_and_options_after_prompt) {
    cli_result r = RUN("chat", "hello", "world", "-m", "mock/echo", "-s", "be brief",
                       "--max-tokens", "50", "--temperature", "0.2");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "hello world\n");
    result_free(&r);
}

Test(cli_mock, chat_no_stream) {
    cli_result r = RUN("chat", "--no-stream", "-m", "mock/echo", "hello there world");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "hello there world\n");
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_mock, global_options_before_command) {
    cli_result r = RUN("--json", "chat", "-m", "mock/echo", "--no-stream", "hi");
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "\"chat.completion\""), "%s", r.out);
    result_free(&r);
}

static void assert_ndjson(const char *out, const char *object, size_t min_lines) {
    size_t lines = 0;
    const char *p = out;
    while (*p) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "unterminated line in %s", out);
        json_tokener *tok = json_tokener_new();
        json_object *obj = json_tokener_parse_ex(tok, p, (int)(nl - p));
        cr_assert_not_null(obj, "not JSON: %.*s", (int)(nl - p), p);
        json_object *kind = NULL;
        cr_assert(json_object_object_get_ex(obj, "object", &kind));
        cr_assert_str_eq(json_object_get_string(kind), object);
        json_object_put(obj);
        json_tokener_free(tok);
        lines++;
        p = nl + 1;
    }
    cr_assert(lines >= min_lines, "%zu lines: %s", lines, out);
}

Test(cli_mock, chat_json_stream_is_ndjson) {
    cli_result r = RUN("chat", "--json", "-m", "mock/echo", "one two three");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "chat.completion.chunk", 3);
    cr_assert_eq(r.err_len, 0);
    result_free(&r);
}

Test(cli_mock, chat_json_whole) {
    cli_result r = RUN("chat", "--json", "--no-stream", "-m", "mock/echo", "one two three");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "chat.completion", 1);
    cr_assert_eq(count_lines(r.out), 1);
    result_free(&r);
}

Test(cli_mock, chat_usage_goes_to_stderr) {
    cli_result r = RUN("chat", "--usage", "-m", "mock/echo", "one two three");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "one two three\n");
    cr_assert(strstr(r.err, "usage: prompt_tokens=3 completion_tokens=3 total_tokens=6\n"),
              "stderr: %s", r.err);
    result_free(&r);
    r = RUN("chat", "--usage", "--no-stream", "-m", "mock/echo", "one two three");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "one two three\n");
    cr_assert(strstr(r.err, "usage: prompt_tokens=3 completion_tokens=3 total_tokens=6\n"),
              "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_mock, chat_json_usage_chunk) {
    cli_result r = RUN("chat", "--json", "--usage", "-m", "mock/echo", "a b");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "chat.completion.chunk", 2);
    cr_assert(strstr(r.out, "\"usage\""), "%s", r.out);
    cr_assert(strstr(r.err, "usage: prompt_tokens=2"), "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_mock, chat_prompt_from_stdin) {
    cli_result r = RUN_IN("from standard input\n", "chat", "-m", "mock/echo", "-");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "from standard input\n");
    result_free(&r);
}

Test(cli_mock, model_from_environment) {
    static const char *const env[] = {"AIGW_MODEL=mock/echo", NULL};
    cli_result r = RUN_ENV(env, "chat", "hi there");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "hi there\n");
    result_free(&r);
}

Test(cli_mock, unknown_provider_exit_6) {
    cli_result r = RUN("chat", "-m", "nope/x", "hi");
    assert_error(&r, 6, "(AIGW_");
    result_free(&r);
}

Test(cli_mock, unknown_mock_model_exit_6) {
    cli_result r = RUN("chat", "-m", "mock/nothing", "hi");
    assert_error(&r, 6, "(AIGW_ENOTFOUND");
    result_free(&r);
}

Test(cli_mock, embed_prints_arrays) {
    cli_result r = RUN("embed", "-m", "mock/embed", "first", "second");
    assert_exit(&r, 0);
    cr_assert_eq(count_lines(r.out), 2, "%s", r.out);
    const char *second = strchr(r.out, '\n') + 1;
    cr_assert(r.out[0] == '[' && second[0] == '[', "%s", r.out);
    json_object *arr = json_tokener_parse(second);
    cr_assert(json_object_is_type(arr, json_type_array));
    cr_assert_eq(json_object_array_length(arr), 8);
    json_object_put(arr);
    result_free(&r);
}

Test(cli_mock, embed_dimensions_stdin_json) {
    cli_result r =
        RUN_IN("alpha\n\nbeta\ngamma", "embed", "-m", "mock/embed", "--dimensions", "4", "-");
    assert_exit(&r, 0);
    cr_assert_eq(count_lines(r.out), 3, "%s", r.out);
    json_object *arr = json_tokener_parse(r.out);
    cr_assert_eq(json_object_array_length(arr), 4);
    json_object_put(arr);
    result_free(&r);

    r = RUN("embed", "--json", "--usage", "-m", "mock/embed", "x");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "list", 1);
    cr_assert(strstr(r.err, "usage: prompt_tokens="), "%s", r.err);
    result_free(&r);
}

Test(cli_mock, models_of_mock) {
    cli_result r = RUN("models", "mock");
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "mock/echo\n") && strstr(r.out, "mock/embed\n"), "%s", r.out);
    result_free(&r);
    r = RUN("models", "--json", "mock");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "list", 1);
    result_free(&r);
}

/* ================= config discovery and config errors ================= */

TestSuite(cli_config, .init = setup_home, .fini = teardown_home, .timeout = 60);

Test(cli_config, missing_named_config_exit_3) {
    cli_result r = RUN("chat", "--config", "/nonexistent/aigw.json", "-m", "mock/echo", "hi");
    assert_error(&r, 3, "/nonexistent/aigw.json");
    result_free(&r);
    static const char *const env[] = {"AIGW_CONFIG=/nonexistent/env.json", NULL};
    r = RUN_ENV(env, "models", "mock");
    assert_error(&r, 3, "AIGW_CONFIG");
    result_free(&r);
}

Test(cli_config, malformed_config_exit_3) {
    char path[300];
    home_path(path, sizeof(path), "bad.json");
    write_file(path, "{\"backends\": {\"x\": ");
    cli_result r = RUN("chat", "--config", path, "-m", "mock/echo", "hi");
    assert_error(&r, 3, NULL);
    result_free(&r);
}

Test(cli_config, default_config_file_is_used) {
    char dir[300], path[320];
    home_path(dir, sizeof(dir), ".config");
    mkdir(dir, 0700);
    home_path(dir, sizeof(dir), ".config/aigw");
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    write_file(path, "{\"backends\": {\"x\": ");
    /* Found and loaded: the malformed file is reported. */
    cli_result r = RUN("chat", "-m", "mock/echo", "hi");
    assert_error(&r, 3, NULL);
    result_free(&r);
    /* --config wins over it. */
    char good[300];
    home_path(good, sizeof(good), "good.json");
    write_file(good, "{\"backends\": {}}");
    r = RUN("chat", "--config", good, "-m", "mock/echo", "hi");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "hi\n");
    result_free(&r);
}

/* ================= against the provider simulator ================= */

TestSuite(cli_sim, .init = setup_sim, .fini = teardown_sim, .timeout = 120);

Test(cli_sim, chat_streamed_and_whole) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "ping pong");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: ping pong\n");
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    result_free(&r);
    r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m", "sim/gpt-4o-mini",
                "ping pong");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: ping pong\n");
    result_free(&r);
}

Test(cli_sim, every_provider_streamed_whole_and_with_usage) {
    for (size_t i = 0; i < sizeof(provider_models) / sizeof(provider_models[0]); i++) {
        const char *model = provider_models[i][1];
        cli_result r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", model, "ping pong");
        assert_exit(&r, 0);
        cr_assert_str_eq(r.out, "echo: ping pong\n", "%s: %s", model, r.out);
        result_free(&r);
        r = RUN_ENV(sim_env, "chat", "--no-stream", "--usage", "--config", config_path, "-m", model,
                    "ping pong");
        assert_exit(&r, 0);
        cr_assert_str_eq(r.out, "echo: ping pong\n", "%s: %s", model, r.out);
        cr_assert(strstr(r.err, "total_tokens="), "%s: stderr %s", model, r.err);
        result_free(&r);
        r = RUN_ENV(sim_env, "chat", "--usage", "--config", config_path, "-m", model, "ping pong");
        assert_exit(&r, 0);
        cr_assert(strstr(r.err, "total_tokens="), "%s streamed: stderr %s", model, r.err);
        result_free(&r);
    }
}

Test(cli_sim, chat_usage_and_aigw_config_env) {
    char env_cfg[400];
    snprintf(env_cfg, sizeof(env_cfg), "AIGW_CONFIG=%s", config_path);
    const char *const env[] = {"SIM_KEY=" SECRET, env_cfg, NULL};
    cli_result r = RUN_ENV(env, "chat", "--usage", "-m", "sim/gpt-4o-mini", "ping pong");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: ping pong\n");
    cr_assert(strncmp(r.err, "usage: prompt_tokens=", 21) == 0, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "total_tokens="), "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_sim, secret_never_printed) {
    cli_result r = RUN("-vv", "chat", "--config", config_path, "-m", "inline/gpt-4o-mini", "hi");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: hi\n");
    assert_no_secret(&r);
    result_free(&r);
    r = RUN("chat", "-vv", "--no-stream", "--config", config_path, "-m", "wrongkey/gpt-4o-mini",
            "hi");
    assert_exit(&r, 4);
    assert_no_secret(&r);
    result_free(&r);
    r = RUN_ENV(sim_env, "-vv", "embed", "--config", config_path, "-m",
                "sim/text-embedding-3-small", "hi");
    assert_exit(&r, 0);
    assert_no_secret(&r);
    result_free(&r);
}

Test(cli_sim, wrong_key_exit_4) {
    cli_result r = RUN("chat", "--config", config_path, "-m", "wrongkey/gpt-4o-mini", "hi");
    assert_error(&r, 4, "(AIGW_EAUTH, HTTP 401");
    assert_no_secret(&r);
    result_free(&r);
}

Test(cli_sim, missing_key_env_is_an_error) {
    /* SIM_KEY unset: either the config is refused or the simulator says 401. */
    cli_result r = RUN("chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "hi");
    cr_assert(r.exit_code == 3 || r.exit_code == 4, "exit %d: %s", r.exit_code, r.err);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    result_free(&r);
}

Test(cli_sim, rate_limited_exit_5) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "s429/gpt-4o-mini", "hi");
    assert_error(&r, 5, "(AIGW_ERATELIMIT, HTTP 429, provider s429)");
    result_free(&r);
    r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m", "s429/gpt-4o-mini",
                "hi");
    assert_error(&r, 5, "HTTP 429");
    result_free(&r);
}

Test(cli_sim, server_error_exit_7) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "s500/gpt-4o-mini", "hi");
    assert_error(&r, 7, "(AIGW_EUPSTREAM, HTTP 500");
    result_free(&r);
}

Test(cli_sim, cut_stream_exit_7) {
    cli_result r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "scut/gpt-4o-mini",
                           "one two three four five six seven");
    assert_exit(&r, 7);
    /* What arrived before the cut is kept, ended by a newline. */
    cr_assert(r.out_len == 0 || r.out[r.out_len - 1] == '\n', "stdout: %s", r.out);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    cr_assert(strstr(r.err, "(AIGW_ETRUNCATED"), "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_sim, malformed_body_exit_7) {
    cli_result r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m",
                           "sbad/gpt-4o-mini", "hi");
    assert_error(&r, 7, "(AIGW_EBADRESPONSE");
    result_free(&r);
    r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "sbad/gpt-4o-mini", "hi");
    assert_exit(&r, 7);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_sim, closed_connection_fails_cleanly) {
    cli_result r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m",
                           "sclose/gpt-4o-mini", "hi");
    cr_assert(r.exit_code == 7 || r.exit_code == 8, "exit %d: %s", r.exit_code, r.err);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    cr_assert_eq(r.out_len, 0);
    result_free(&r);
}

Test(cli_sim, refused_connection_exit_8) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "dead/gpt-4o-mini", "hi");
    assert_error(&r, 8, "(AIGW_ECONNECT");
    result_free(&r);
    r = RUN_ENV(sim_env, "models", "--config", config_path, "dead");
    assert_error(&r, 8, "(AIGW_ECONNECT");
    result_free(&r);
}

Test(cli_sim, sigint_stops_the_stream_exit_130) {
    cli_result r = run_cli_v(
        &(cli_run_opts){.env = sim_env, .sigint_after_output = 1},
        ARGS("chat", "--config", config_path, "-m", "sslow/gpt-4o-mini", "a b c d e f g h i j"));
    assert_exit(&r, 130);
    cr_assert(r.out_len > 0 && r.out[r.out_len - 1] == '\n', "stdout: %s", r.out);
    cr_assert(strstr(r.out, "j") == NULL, "the whole answer arrived: %s", r.out);
    cr_assert_str_eq(r.err, "aigw-cli: interrupted\n");
    result_free(&r);
}

Test(cli_sim, embed_against_simulator) {
    cli_result r = RUN_ENV(sim_env, "embed", "--config", config_path, "-m",
                           "sim/text-embedding-3-small", "one", "two", "three");
    assert_exit(&r, 0);
    cr_assert_eq(count_lines(r.out), 3, "%s", r.out);
    cr_assert_eq(r.out[0], '[');
    result_free(&r);
    r = RUN_ENV(sim_env, "embed", "--json", "--config", config_path, "-m",
                "sim/text-embedding-3-small", "one");
    assert_exit(&r, 0);
    assert_ndjson(r.out, "list", 1);
    result_free(&r);
}

Test(cli_sim, models_against_simulator) {
    cli_result r = RUN_ENV(sim_env, "models", "--config", config_path, "sim");
    assert_exit(&r, 0);
    cr_assert(r.out_len > 0 && strncmp(r.out, "sim/", 4) == 0, "%s", r.out);
    for (const char *p = r.out; *p; p = strchr(p, '\n') + 1) {
        cr_assert(strncmp(p, "sim/", 4) == 0, "line without prefix: %s", p);
    }
    result_free(&r);
    r = RUN_ENV(sim_env, "models", "--config", config_path, "s429");
    assert_error(&r, 5, "HTTP 429");
    result_free(&r);
}

Test(cli_sim, permission_and_bad_request) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "s403/gpt-4o-mini", "hi");
    assert_error(&r, 4, "(AIGW_EPERMISSION, HTTP 403");
    result_free(&r);
    r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "s400/gpt-4o-mini", "hi");
    assert_error(&r, 6, "(AIGW_EBADREQUEST, HTTP 400");
    result_free(&r);
}

Test(cli_sim, stream_errors_keep_what_arrived) {
    cli_result r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "serrev/gpt-4o-mini",
                           "one two three");
    assert_exit(&r, 7);
    cr_assert(r.out_len == 0 || r.out[r.out_len - 1] == '\n', "stdout: %s", r.out);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    result_free(&r);
    r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "snodone/gpt-4o-mini",
                "one two three");
    assert_exit(&r, 7);
    cr_assert_str_eq(r.out, "echo: one two three\n");
    cr_assert(strstr(r.err, "(AIGW_ETRUNCATED"), "stderr: %s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    result_free(&r);
}

Test(cli_sim, trickled_stream) {
    cli_result r = RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "strickle/gpt-4o-mini",
                           "one two three four");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: one two three four\n");
    result_free(&r);
}

Test(cli_sim, tool_calls_printed) {
    cli_result r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m",
                           "rtools/gpt-4o-mini", "weather?");
    assert_exit(&r, 0);
    cr_assert_str_eq(
        r.out,
        "[tool call] get_current_weather({\"location\":\"Boston, MA\",\"unit\":\"fahrenheit\"})\n");
    result_free(&r);
}

Test(cli_sim, recorded_openai_stream) {
    cli_result r =
        RUN_ENV(sim_env, "chat", "--config", config_path, "-m", "rstream/gpt-5-nano", "hi");
    assert_exit(&r, 0);
    cr_assert(strncmp(r.out, "Hi there! How can I help today?", 31) == 0, "stdout: %s", r.out);
    cr_assert_eq(count_lines(r.out), 1, "stdout: %s", r.out);
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    result_free(&r);
    /* An answer cut by max tokens: no text, the usage of the final chunk. */
    r = RUN_ENV(sim_env, "chat", "--usage", "--config", config_path, "-m", "rusage/gpt-5-nano",
                "hi");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "");
    cr_assert_str_eq(r.err, "usage: prompt_tokens=12 completion_tokens=100 total_tokens=112\n");
    result_free(&r);
}
