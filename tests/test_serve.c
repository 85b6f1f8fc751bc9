/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway server (aigw/serve.h, aigw-cli serve) end to end: real HTTP
 * clients (libcurl) against the server in front of the provider simulator. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "aigw/aigw.h"
#include "gateway.h"
#include "sim.h"

#define GW_KEY "sk-gw-test-key"
#define UP_KEY "sk-upstream-secret"

static aigw_test_sim sim;
static aigw_client *client;
static aigw_server *server;
static int port;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *config_text(const char *gateway_extra) {
    static char buf[4096];
    char hex[65];
    aigw_test_key_sha256(GW_KEY, hex);
    snprintf(buf, sizeof(buf),
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\","
             "\"api_key\":\"%s\"}},\"default_backend\":\"sim\","
             "\"gateway\":{\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\",\"team\":\"platform\"}],"
             "\"limits\":{\"max_body_bytes\":65536}%s}}",
             sim.base_url, UP_KEY, hex, gateway_extra ? gateway_extra : "");
    return buf;
}

static void start_all(void) {
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    client = aigw_test_client_new(config_text(NULL));
    server = aigw_test_gateway_start(client, &port);
}

static void stop_all(void) {
    cr_expect_eq(aigw_test_gateway_stop(server, 1000), AIGW_OK);
    aigw_client_free(client);
    aigw_test_sim_stop(&sim);
}

/* ---- an HTTP client ---- */

typedef struct resp {
    long status;
    char body[1 << 16];
    size_t len;
    double first_ms, last_ms; /* arrival of the first / last data event */
    int events;
    size_t abort_after; /* abort once this many bytes came (0: never) */
} resp;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    resp *r = ud;
    size_t len = sz * n;
    double t = now_ms();
    for (size_t i = 0; i + 5 < len; i++)
        if (memcmp(p + i, "data:", 5) == 0) {
            if (!r->events)
                r->first_ms = t;
            r->last_ms = t;
            r->events++;
        }
    size_t room = sizeof(r->body) - 1 - r->len;
    size_t c = len < room ? len : room;
    memcpy(r->body + r->len, p, c);
    r->len += c;
    r->body[r->len] = 0;
    if (r->abort_after && r->len >= r->abort_after)
        return 0;
    return len;
}

/* method NULL: GET, or POST when body is given. hdrs: NULL-terminated. */
static CURLcode http(int to_port, const char *method, const char *path, const char *body,
                     const char *const *hdrs, resp *r) {
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", to_port, path);
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        h = curl_slist_append(h, hdrs[i]);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

static const char *const auth_json[] = {"Authorization: Bearer " GW_KEY,
                                        "Content-Type: application/json", NULL};

static long post(const char *path, const char *body, resp *r) {
    memset(r, 0, sizeof(*r));
    cr_assert_eq(http(port, NULL, path, body, auth_json, r), CURLE_OK);
    return r->status;
}

static void expect_openai_error(const resp *r, const char *code) {
    cr_expect(strstr(r->body, "{\"error\":{") != NULL, "not an OpenAI error: %s", r->body);
    if (code) {
        char want[96];
        snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
        cr_expect(strstr(r->body, want) != NULL, "want %s in %s", want, r->body);
    }
}

/* A GET of the simulator's introspection. */
static void sim_get(const char *path, resp *r) {
    memset(r, 0, sizeof(*r));
    cr_assert_eq(http(sim.port, NULL, path, NULL, NULL, r), CURLE_OK);
}

typedef struct slow_call {
    pthread_t t;
    int port;
    const char *body;
    resp r;
    CURLcode rc;
} slow_call;

static void *slow_main(void *arg) {
    slow_call *c = arg;
    c->rc = http(c->port, NULL, "/v1/chat/completions", c->body, auth_json, &c->r);
    return NULL;
}

TestSuite(serve, .init = start_all, .fini = stop_all, .timeout = 60);

static resp R;

Test(serve, chat_json_and_no_key_forwarded) {
    cr_assert_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"hello gateway\"}]}",
                      &R),
                 200, "%s", R.body);
    cr_expect(strstr(R.body, "\"object\":\"chat.completion\"") != NULL, "%s", R.body);
    cr_expect(strstr(R.body, "echo: hello gateway") != NULL, "%s", R.body);
    /* The upstream saw the gateway's provider key, never the client's. */
    sim_get("/sim/last-request", &R);
    cr_expect(strstr(R.body, "Bearer " UP_KEY) != NULL, "%s", R.body);
    cr_expect(strstr(R.body, GW_KEY) == NULL, "client key forwarded: %s", R.body);
}

Test(serve, sse_streams_incrementally) {
    cr_assert_eq(
        post("/v1/chat/completions",
             "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":\"event_ms=150\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"one two three four\"}]}",
             &R),
        200, "%s", R.body);
    cr_expect(strstr(R.body, "data: {\"id\"") == R.body, "%s", R.body);
    cr_expect(strstr(R.body, "\"chat.completion.chunk\"") != NULL);
    size_t n = strlen(R.body);
    cr_expect(n > 14 && strcmp(R.body + n - 14, "data: [DONE]\n\n") == 0, "%s", R.body);
    cr_expect_geq(R.events, 5);
    /* Chunks arrived as the upstream sent them, not all at the end. */
    cr_expect_gt(R.last_ms - R.first_ms, 400.0, "spread %.0f ms", R.last_ms - R.first_ms);
    /* The usage chunk the library asks for is not passed on unasked. */
    cr_expect(strstr(R.body, "\"choices\":[]") == NULL, "%s", R.body);
}

Test(serve, sse_usage_when_asked) {
    cr_assert_eq(
        post("/v1/chat/completions",
             "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"stream_options\":"
             "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}]}",
             &R),
        200);
    cr_expect(strstr(R.body, "\"usage\"") != NULL, "%s", R.body);
}

Test(serve, embeddings_models_healthz) {
    cr_assert_eq(post("/v1/embeddings",
                      "{\"model\":\"sim/text-embedding-3-small\",\"input\":[\"a\",\"b\"]}", &R),
                 200, "%s", R.body);
    cr_expect(strstr(R.body, "\"object\":\"list\"") != NULL, "%s", R.body);
    cr_expect(strstr(R.body, "\"embedding\"") != NULL);
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/v1/models", NULL, auth_json, &R), CURLE_OK);
    cr_expect_eq(R.status, 200);
    cr_expect(strstr(R.body, "sim/gpt-4o-mini") != NULL, "%s", R.body);
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/healthz", NULL, NULL, &R), CURLE_OK);
    cr_expect_eq(R.status, 200);
    cr_expect_str_eq(R.body, "{\"status\":\"ok\"}");
}

Test(serve, metrics) {
    cr_assert_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                      "\"content\":\"count these words\"}]}",
                      &R),
                 200);
    memset(&R, 0, sizeof(R));
    http(port, NULL, "/v1/models", NULL, NULL, &R); /* a 401 */
    cr_expect_eq(R.status, 401, "%s", R.body);
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/metrics", NULL, NULL, &R), CURLE_OK);
    cr_expect_eq(R.status, 200);
    cr_expect(strstr(R.body,
                     "aigw_gateway_requests_total{http_route=\"/v1/chat/completions\","
                     "http_response_status_code=\"200\",gen_ai_provider_name=\"sim\"} 1") != NULL,
              "%s", R.body);
    cr_expect(strstr(R.body, "http_route=\"/v1/models\",http_response_status_code=\"401\"") != NULL,
              "%s", R.body);
    cr_expect(strstr(R.body, "# TYPE gen_ai_server_request_duration_seconds histogram") != NULL);
    cr_expect(strstr(R.body, "gen_ai_server_request_duration_seconds_count{http_route=\"/v1/chat/"
                             "completions\",gen_ai_provider_name=\"sim\"} 1") != NULL);
    cr_expect(strstr(R.body, "gen_ai_client_token_usage_total{gen_ai_provider_name=\"sim\","
                             "gen_ai_token_type=\"input\"} 3") != NULL,
              "%s", R.body);
    cr_expect(strstr(R.body, "gen_ai_token_type=\"output\"} 4") != NULL, "%s", R.body);
    cr_expect(strstr(R.body, UP_KEY) == NULL && strstr(R.body, GW_KEY) == NULL);
    cr_expect(strstr(R.body, "platform") == NULL);
}

Test(serve, auth) {
    static const char body[] =
        "{\"model\":\"sim/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    const char *const none[] = {"Content-Type: application/json", NULL};
    const char *const wrong[] = {"Authorization: Bearer sk-wrong", "Content-Type: application/json",
                                 NULL};
    const char *const xkey[] = {"x-api-key: " GW_KEY, "Content-Type: application/json", NULL};
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/v1/chat/completions", body, none, &R), CURLE_OK);
    cr_expect_eq(R.status, 401);
    expect_openai_error(&R, "invalid_api_key");
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/v1/chat/completions", body, wrong, &R), CURLE_OK);
    cr_expect_eq(R.status, 401);
    expect_openai_error(&R, "invalid_api_key");
    cr_expect(strstr(R.body, "sk-wrong") == NULL);
    memset(&R, 0, sizeof(R));
    cr_assert_eq(http(port, NULL, "/v1/chat/completions", body, xkey, &R), CURLE_OK);
    cr_expect_eq(R.status, 200, "%s", R.body);
}

Test(serve, client_errors) {
    memset(&R, 0, sizeof(R));
    http(port, NULL, "/v1/nothing", NULL, auth_json, &R);
    cr_expect_eq(R.status, 404);
    expect_openai_error(&R, NULL);
    memset(&R, 0, sizeof(R));
    http(port, "DELETE", "/v1/chat/completions", NULL, auth_json, &R);
    cr_expect_eq(R.status, 405);
    expect_openai_error(&R, NULL);
    cr_expect_eq(post("/v1/chat/completions", "{\"model\": nope", &R), 400);
    expect_openai_error(&R, "invalid_json");
    cr_expect_eq(post("/v1/chat/completions", "[1,2]", &R), 400);
    const char *const form[] = {"Authorization: Bearer " GW_KEY,
                                "Content-Type: application/x-www-form-urlencoded", NULL};
    memset(&R, 0, sizeof(R));
    http(port, NULL, "/v1/chat/completions", "a=b", form, &R);
    cr_expect_eq(R.status, 415);
    expect_openai_error(&R, NULL);
    /* a content coding serve does not decode: 415, not "invalid JSON" */
    const char *const gz[] = {"Authorization: Bearer " GW_KEY, "Content-Type: application/json",
                              "Content-Encoding: gzip", NULL};
    memset(&R, 0, sizeof(R));
    http(port, NULL, "/v1/chat/completions", "\x1f\x8b\x08", gz, &R);
    cr_expect_eq(R.status, 415);
    expect_openai_error(&R, "unsupported_media_type");
    const char *const ident[] = {"Authorization: Bearer " GW_KEY, "Content-Type: application/json",
                                 "Content-Encoding: identity", NULL};
    memset(&R, 0, sizeof(R));
    http(port, NULL, "/v1/chat/completions", "{\"model\": nope", ident, &R);
    cr_expect_eq(R.status, 400);
    expect_openai_error(&R, "invalid_json");
    /* unknown model → 404 model_not_found */
    cr_expect_eq(post("/v1/chat/completions",
                      "{\"model\":\"nope/x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                      &R),
                 404, "%s", R.body);
    expect_openai_error(&R, NULL);
    /* over gateway.limits.max_body_bytes */
    static char big[100000];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "{\"x\":\"", 6);
    cr_expect_eq(post("/v1/chat/completions", big, &R), 413);
    expect_openai_error(&R, NULL);
}

Test(serve, upstream_429) {
    cr_expect_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=429\","
                      "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                      &R),
                 429, "%s", R.body);
    expect_openai_error(&R, "rate_limit_exceeded");
    cr_expect_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"status=503\","
                      "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                      &R),
                 502, "%s", R.body);
    /* an upstream 5xx is the gateway's 502 Bad Gateway */
    expect_openai_error(&R, NULL);
    /* a stream refused before its first chunk is a plain JSON error */
    cr_expect_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":\"status=429\","
                      "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                      &R),
                 429, "%s", R.body);
}

Test(serve, midstream_failure_ends_with_error_event) {
    double t0 = now_ms();
    cr_assert_eq(post("/v1/chat/completions",
                      "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":"
                      "\"error_event=1\",\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}]}",
                      &R),
                 200);
    cr_expect_lt(now_ms() - t0, 5000.0);
    cr_expect(strstr(R.body, "data: {\"id\"") == R.body, "%s", R.body);
    cr_expect(strstr(R.body, "data: {\"error\":{") != NULL, "%s", R.body);
    cr_expect(strstr(R.body, "[DONE]") == NULL, "%s", R.body);
    /* cut connection mid-stream too */
    cr_assert_eq(
        post("/v1/chat/completions",
             "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":"
             "\"cut_after=2\",\"messages\":[{\"role\":\"user\",\"content\":\"a b c d e\"}]}",
             &R),
        200);
    cr_expect(strstr(R.body, "data: {\"error\":{") != NULL, "%s", R.body);
}

/* Established TCP connections whose local port is `p` (the simulator's side
 * of the gateway's upstream connections). */
static int established_on(int p) {
    int n = 0;
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "r");
        char line[512];
        if (!fp)
            continue;
        while (fgets(line, sizeof(line), fp)) {
            char local[128];
            unsigned st;
            if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2)
                continue;
            char *colon = strrchr(local, ':');
            if (colon && (int)strtol(colon + 1, NULL, 16) == p && st == 1)
                n++;
        }
        fclose(fp);
    }
    return n;
}

Test(serve, client_disconnect_cancels_upstream) {
    memset(&R, 0, sizeof(R));
    R.abort_after = 1;
    double t0 = now_ms();
    CURLcode rc =
        http(port, NULL, "/v1/chat/completions",
             "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":\"event_ms=300\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"1 2 3 4 5 6 7 8 9 10 11 12 "
             "13 14 15 16 17 18 19 20\"}]}",
             auth_json, &R);
    cr_expect_eq(rc, CURLE_WRITE_ERROR);
    /* The whole stream would take ~7 s; the upstream connection goes at once. */
    int open = 1;
    while (now_ms() - t0 < 3000 && (open = established_on(sim.port)) > 0)
        usleep(20000);
    cr_expect_eq(open, 0, "upstream connection still open");
    sim_get("/sim/requests", &R);
    cr_expect(strstr(R.body, "\"count\":1") != NULL, "%s", R.body);
    /* and the gateway counted it as a client that went away */
    for (int i = 0; i < 100; i++) {
        memset(&R, 0, sizeof(R));
        http(port, NULL, "/metrics", NULL, NULL, &R);
        if (strstr(R.body, "http_response_status_code=\"499\""))
            break;
        usleep(20000);
    }
    cr_expect(strstr(R.body, "http_response_status_code=\"499\"") != NULL, "%s", R.body);
}

Test(serve, mock_through_serve) {
    cr_assert_eq(post("/v1/chat/completions",
                      "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"hi there\"}]}",
                      &R),
                 200);
    cr_expect(strstr(R.body, "\"content\":\"hi there\"") != NULL, "%s", R.body);
}

/* ---- config validation ---- */

static aigw_status start_with(const char *cfg, aigw_error **err) {
    aigw_client *c = NULL;
    aigw_server *s = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, cfg, err), AIGW_OK, "%s",
                 aigw_error_message(*err));
    aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
    o.listen = "127.0.0.1:0";
    o.workers = 1;
    aigw_status st = aigw_server_start(c, &o, &s, err);
    aigw_server_free(s);
    aigw_client_free(c);
    return st;
}

Test(serve_config, strict) {
    aigw_error *err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"keys\":[{\"sha256\":\"ab\"}]}}", &err), AIGW_ECONFIG);
    cr_expect_str_eq(aigw_error_message(err), "gateway.keys[0].sha256: must be 64 hex digits");
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"listn\":\"x\"}}", &err), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "gateway: unknown key \"listn\"") != NULL);
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"workers\":\"2\"}}", &err), AIGW_ECONFIG);
    cr_expect_str_eq(aigw_error_message(err), "gateway.workers: must be an integer");
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"limits\":{\"max_body_bytes\":-1}}}", &err),
                 AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "gateway.limits.max_body_bytes") != NULL);
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"listen\":\"127.0.0.1:99999\"}}", &err), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "gateway.listen") != NULL, "%s",
              aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(start_with("{\"gateway\":{\"listen\":\"127.0.0.1:0\",\"workers\":3}}", &err),
                 AIGW_OK);
    aigw_error_free(err);
}

/* ---- aigw-cli serve: signals ---- */

typedef struct proc {
    pid_t pid;
    int port;
} proc;

static void spawn_serve(proc *p, const char *cfg_path) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl(AIGW_CLI_PATH, AIGW_CLI_PATH, "serve", "--config", cfg_path, "--listen",
              "127.0.0.1:0", "--workers", "2", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[256] = {0};
    size_t len = 0;
    struct pollfd pf = {fds[0], POLLIN, 0};
    while (len < sizeof(line) - 1 && !strchr(line, '\n') && poll(&pf, 1, 10000) > 0) {
        ssize_t n = read(fds[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    cr_assert(sscanf(line, "listening on port %d", &p->port) == 1, "got '%s'", line);
}

static int wait_exit(pid_t pid, int timeout_ms, int *status) {
    double t0 = now_ms();
    while (now_ms() - t0 < timeout_ms) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

static char cfg_path[64];

static void start_cli(void) {
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/aigw-serve-test-%d.json", (int)getpid());
    FILE *f = fopen(cfg_path, "w");
    cr_assert(f);
    fputs(config_text(NULL), f);
    fclose(f);
}

static void stop_cli(void) {
    unlink(cfg_path);
    aigw_test_sim_stop(&sim);
}

TestSuite(serve_cli, .init = start_cli, .fini = stop_cli, .timeout = 60);

Test(serve_cli, sigterm_lets_inflight_finish) {
    proc p;
    spawn_serve(&p, cfg_path);
    port = p.port;
    cr_expect_eq(post("/v1/chat/completions",
                      "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"via cli\"}]}",
                      &R),
                 200, "%s", R.body);
    cr_expect(strstr(R.body, "via cli") != NULL);
    static slow_call c;
    c.port = p.port;
    c.body = "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"latency_ms=800\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"slow one\"}]}";
    pthread_create(&c.t, NULL, slow_main, &c);
    usleep(300000);
    kill(p.pid, SIGTERM);
    pthread_join(c.t, NULL);
    cr_expect_eq(c.rc, CURLE_OK);
    cr_expect_eq(c.r.status, 200, "%s", c.r.body);
    cr_expect(strstr(c.r.body, "echo: slow one") != NULL, "%s", c.r.body);
    int status = 0;
    cr_assert_eq(wait_exit(p.pid, 5000, &status), 0, "did not exit");
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    /* no longer listening */
    memset(&R, 0, sizeof(R));
    cr_expect_neq(http(p.port, NULL, "/healthz", NULL, NULL, &R), CURLE_OK);
}

Test(serve_cli, second_signal_exits_at_once) {
    proc p;
    spawn_serve(&p, cfg_path);
    static slow_call c;
    c.port = p.port;
    c.body = "{\"model\":\"sim/gpt-4o-mini\",\"sim_fault\":\"latency_ms=20000\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"very slow\"}]}";
    pthread_create(&c.t, NULL, slow_main, &c);
    usleep(300000);
    double t0 = now_ms();
    kill(p.pid, SIGTERM);
    usleep(200000);
    int status = 0;
    cr_expect_eq(waitpid(p.pid, &status, WNOHANG), 0, "exited before the in-flight request");
    kill(p.pid, SIGINT);
    cr_assert_eq(wait_exit(p.pid, 3000, &status), 0, "did not exit");
    cr_expect_lt(now_ms() - t0, 2500.0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT, "status %d", status);
    pthread_join(c.t, NULL);
    cr_expect_neq(c.r.status, 200);
}

/* In-process: the deadline passes with a request in flight; the server
 * closes it, cancels the upstream call and stops. */
Test(serve, shutdown_deadline_cancels_inflight) {
    static slow_call c;
    c.port = port;
    c.body = "{\"model\":\"sim/gpt-4o-mini\",\"stream\":true,\"sim_fault\":\"event_ms=500\","
             "\"messages\":[{\"role\":\"user\",\"content\":\"1 2 3 4 5 6 7 8 9 10\"}]}";
    pthread_create(&c.t, NULL, slow_main, &c);
    usleep(700000);
    double t0 = now_ms();
    aigw_server_shutdown(server, 200);
    cr_expect_eq(aigw_server_wait(server), AIGW_OK);
    cr_expect_lt(now_ms() - t0, 2000.0);
    pthread_join(c.t, NULL);
    cr_expect(strstr(c.r.body, "data: {") != NULL, "%s", c.r.body);
    cr_expect(strstr(c.r.body, "[DONE]") == NULL, "%s", c.r.body);
}
