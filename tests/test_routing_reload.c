/* SPDX-License-Identifier: Apache-2.0 */
/* Reloading the config of a running gateway under load (issue #6): a few
 * threads send chat requests (whole and streamed, on keep-alive
 * connections) without a pause while the config file is rewritten so its
 * route points to another simulator and the gateway reloads it — on
 * SIGHUP (`aigw-cli serve`) or through aigw_server_reload(). No request may
 * fail; the new backend takes the traffic; an invalid config is refused
 * with its reason (stderr / the error) and the old one keeps serving. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "gateway.h"
#include "http_client.h"
#include "serve_proc.h"
#include "sim.h"
#include "sim_pool.h"

#define KEY "sk-reload-test"
#define NSIM 2
#define NTHREADS 4

static aigw_test_sim sims[NSIM];
#define SA (&sims[0])
#define SB (&sims[1])

static void setup(void) {
    const char *args[] = {"--api-key", KEY, NULL};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cr_assert_eq(aigw_test_sims_start(sims, NSIM, args), 0, "simulators did not start");
}

static void teardown(void) {
    aigw_test_sims_stop(sims, NSIM);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

/* A config whose route for gpt-4o goes to `backend` ("a", "b", or an
 * unknown name for an invalid config); `gateway` is the gateway section's
 * inside. */
static char *config(const char *backend, const char *gateway) {
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"env_defaults\": false, \"backends\": {"
             "\"a\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"},"
             "\"b\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"}},"
             "\"routes\": [{\"name\": \"chat\", \"match\": {\"model\": \"gpt-4o\"},"
             " \"backends\": [{\"backend\": \"%s\"}],"
             " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1, \"max_backoff_ms\": 5}}],"
             "\"gateway\": {%s}}",
             SA->base_url, SB->base_url, backend, gateway ? gateway : "");
    return buf;
}

/* ---- the load ---- */

typedef struct loader {
    pthread_t t;
    int port;
    int stream;
    long ok, failed;
    char first_failure[512];
} loader;

static atomic_int stop_load;

typedef struct sink {
    char data[8192];
    size_t len;
} sink;

static size_t on_body(char *p, size_t sz, size_t n, void *user) {
    sink *s = user;
    size_t len = sz * n, room = sizeof s->data - 1 - s->len;
    size_t c = len < room ? len : room;
    memcpy(s->data + s->len, p, c);
    s->len += c;
    s->data[s->len] = '\0';
    return len;
}

static void *load_main(void *arg) {
    loader *l = arg;
    const char *body =
        l->stream ? "{\"model\": \"gpt-4o\", \"stream\": true, \"messages\": [{\"role\": "
                    "\"user\", \"content\": \"keep going\"}]}"
                  : "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": "
                    "\"keep going\"}]}";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    sink s;
    CURL *e = aigw_test_chat_handle(l->port, h, body, on_body, &s, 10000);
    while (!atomic_load(&stop_load)) {
        s.len = 0;
        s.data[0] = '\0';
        CURLcode rc = curl_easy_perform(e); /* the connection is kept alive */
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        int good = rc == CURLE_OK && status == 200;
        if (l->stream)
            good = good && strstr(s.data, "data: {") && strstr(s.data, "data: [DONE]") &&
                   !strstr(s.data, "\"error\"");
        else
            good = good && strstr(s.data, "echo: keep going");
        if (good) {
            l->ok++;
        } else {
            if (!l->failed++)
                snprintf(l->first_failure, sizeof l->first_failure, "curl %d, HTTP %ld: %.400s",
                         (int)rc, status, s.data);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return NULL;
}

static loader loaders[NTHREADS];

static void start_load(int port) {
    atomic_store(&stop_load, 0);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&loaders[i], 0, sizeof loaders[i]);
        loaders[i].port = port;
        loaders[i].stream = i % 2;
        cr_assert_eq(pthread_create(&loaders[i].t, NULL, load_main, &loaders[i]), 0);
    }
}

/* Stops the load; every request must have succeeded. Returns how many did. */
static long stop_load_and_check(void) {
    atomic_store(&stop_load, 1);
    long ok = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(loaders[i].t, NULL);
        cr_expect_eq(loaders[i].failed, 0, "thread %d (%s): %ld of %ld requests failed; first: %s",
                     i, loaders[i].stream ? "stream" : "chat", loaders[i].failed,
                     loaders[i].failed + loaders[i].ok, loaders[i].first_failure);
        cr_expect_gt(loaders[i].ok, 0, "thread %d got nothing through", i);
        ok += loaders[i].ok;
    }
    return ok;
}

static void sleep_ms(double ms) {
    aigw_test_sleep_until(aigw_test_now_ms() + ms);
}

/* Waits (at most 5 s) until `sim` has seen more than `than` requests. */
static int wait_for_traffic(const aigw_test_sim *sim, long than) {
    double deadline = aigw_test_now_ms() + 5000;
    while (aigw_test_now_ms() < deadline) {
        if (aigw_test_sim_count(sim) > than)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

/* Traffic goes to `to` alone from now on: in-flight requests of the old
 * config finish within 200 ms, then over 300 ms `to` gets more and the
 * other nothing. */
static void expect_traffic_only_to(const aigw_test_sim *to, const aigw_test_sim *other,
                                   const char *what) {
    sleep_ms(200);
    long other0 = aigw_test_sim_count(other), to0 = aigw_test_sim_count(to);
    sleep_ms(300);
    cr_expect_eq(aigw_test_sim_count(other), other0, "%s: the old backend still gets requests",
                 what);
    cr_expect_gt(aigw_test_sim_count(to), to0, "%s: the new backend gets nothing", what);
}

/* ---- aigw-cli serve, SIGHUP ---- */

Test(reload, sighup_under_load) {
    aigw_test_serve srv;
    cr_assert_eq(aigw_test_serve_start(&srv, config("a", NULL), 2, NULL), 0,
                 "aigw-cli serve did not start");
    start_load(srv.port);
    cr_assert(wait_for_traffic(SA, 20), "no traffic to a");
    cr_expect_eq(aigw_test_sim_count(SB), 0);

    /* 1. A valid config routing to b. */
    cr_assert_eq(aigw_test_write_file_atomic(srv.config_path, config("b", NULL)), 0);
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    cr_expect(wait_for_traffic(SB, 0), "after SIGHUP, b never got a request");
    expect_traffic_only_to(SB, SA, "after the reload to b");

    /* 2. An invalid config: refused with its reason, b keeps serving. */
    cr_assert_eq(aigw_test_write_file_atomic(srv.config_path, config("azur", NULL)), 0);
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    expect_traffic_only_to(SB, SA, "after the invalid config");
    int status = 0;
    cr_assert_eq(waitpid(srv.pid, &status, WNOHANG), 0, "serve exited (status %d)", status);
    char log[16384];
    double deadline = aigw_test_now_ms() + 3000;
    do {
        aigw_test_serve_log(&srv, log, sizeof log);
        if (strstr(log, "azur"))
            break;
        sleep_ms(20);
    } while (aigw_test_now_ms() < deadline);
    cr_expect(strstr(log, "routes[0].backends[0]") && strstr(log, "unknown backend \"azur\""),
              "stderr does not name the reason: %s", log);

    /* 3. Not JSON at all, then a file that is gone: refused, b serves. */
    cr_assert_eq(aigw_test_write_file_atomic(srv.config_path, "{\"routes\": [ oops"), 0);
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    expect_traffic_only_to(SB, SA, "after the unparseable config");
    char moved[128];
    snprintf(moved, sizeof moved, "%s.moved", srv.config_path);
    cr_assert_eq(rename(srv.config_path, moved), 0);
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    expect_traffic_only_to(SB, SA, "after the missing config");
    unlink(moved);

    /* 4. Valid again, back to a. */
    long a0 = aigw_test_sim_count(SA);
    cr_assert_eq(aigw_test_write_file_atomic(srv.config_path, config("a", NULL)), 0);
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    cr_expect(wait_for_traffic(SA, a0), "the last reload did not take");
    expect_traffic_only_to(SA, SB, "after the reload back to a");

    long ok = stop_load_and_check();
    cr_expect_gt(ok, 100, "only %ld requests under load", ok);
    if (waitpid(srv.pid, &status, WNOHANG) != 0) {
        aigw_test_serve_log(&srv, log, sizeof log);
        cr_expect_fail("serve exited (status %d%s%d); its stderr:\n%s", status,
                       WIFSIGNALED(status) ? ", signal " : ", exit ",
                       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), log);
        srv.pid = 0;
        unlink(srv.config_path);
        unlink(srv.log_path);
    }
    if (srv.pid > 0) {
        status = aigw_test_serve_stop(&srv, 5000);
        cr_expect(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "serve did not stop cleanly (%d)", status);
    }
}

/* ---- aigw_server_reload() in-process ---- */

Test(reload, server_reload_under_load) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/aigw-reload-test-%d.json", (int)getpid());
    cr_assert_eq(aigw_test_write_file_atomic(path, config("a", NULL)), 0);
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_client_new_from_file(&client, path, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    int port;
    aigw_server *server = aigw_test_gateway_start(client, &port);
    start_load(port);
    cr_assert(wait_for_traffic(SA, 20), "no traffic to a");

    /* Valid: swapped in before the call returns. */
    cr_assert_eq(aigw_test_write_file_atomic(path, config("b", NULL)), 0);
    aigw_status st = aigw_server_reload(server, path, &err);
    cr_expect_eq(st, AIGW_OK, "%s", aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    expect_traffic_only_to(SB, SA, "after aigw_server_reload to b");

    /* Invalid: AIGW_ECONFIG with the path and reason; b keeps serving. */
    cr_assert_eq(aigw_test_write_file_atomic(path, config("azur", NULL)), 0);
    st = aigw_server_reload(server, path, &err);
    cr_expect_eq(st, AIGW_ECONFIG, "%s", aigw_status_name(st));
    cr_expect(err && strstr(aigw_error_message(err), "routes[0].backends[0]: unknown backend "
                                                     "\"azur\""),
              "%s", err ? aigw_error_message(err) : "(no error)");
    aigw_error_free(err);
    err = NULL;
    expect_traffic_only_to(SB, SA, "after the invalid config");

    /* listen and workers need a restart: refused. */
    cr_assert_eq(aigw_test_write_file_atomic(path, config("a", "\"workers\": 7")), 0);
    st = aigw_server_reload(server, path, &err);
    cr_expect_eq(st, AIGW_ECONFIG, "a workers change was accepted: %s", aigw_status_name(st));
    cr_expect(err && strstr(aigw_error_message(err), "workers"), "%s",
              err ? aigw_error_message(err) : "(no error)");
    aigw_error_free(err);
    err = NULL;
    expect_traffic_only_to(SB, SA, "after the workers change");

    /* A file that is gone: AIGW_EIO. */
    st = aigw_server_reload(server, "/nonexistent/aigw-reload.json", &err);
    cr_expect_eq(st, AIGW_EIO, "%s", aigw_status_name(st));
    aigw_error_free(err);
    err = NULL;

    /* Back to a; the same gateway section is fine. */
    cr_assert_eq(aigw_test_write_file_atomic(path, config("a", NULL)), 0);
    st = aigw_server_reload(server, path, &err);
    cr_expect_eq(st, AIGW_OK, "%s", aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    expect_traffic_only_to(SA, SB, "after the reload back to a");

    long ok = stop_load_and_check();
    cr_expect_gt(ok, 100, "only %ld requests under load", ok);
    cr_expect_eq(aigw_test_gateway_stop(server, 2000), AIGW_OK);
    aigw_client_free(client);
    unlink(path);
}
