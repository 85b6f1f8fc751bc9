/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's safe defaults: a gateway without keys warns at start (with
 * or without -v) and listens on loopback only unless allowed open
 * (--allow-open, gateway.allow_open, aigw_serve_options.allow_open); and
 * what goes wrong upstream reaches the client as 502 / 504 in OpenAI's
 * error shape, never a bare 500. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/sha.h>

#include "aigw/aigw.h"
#include "cli_run.h"
#include "gateway.h"
#include "http_client.h"
#include "serve_proc.h"
#include "sim.h"
#include "sim_pool.h"

#define GW_KEY "sk-gw-defaults-key"
#define UP_KEY "sk-upstream-defaults"

static char keys_json[200];

/* "keys":[{"sha256":...,"name":"ci"}] */
static const char *keys(void) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    char hex[65];
    SHA256((const unsigned char *)GW_KEY, strlen(GW_KEY), d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(keys_json, sizeof keys_json, "\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}]", hex);
    return keys_json;
}

static void expect_healthy(int port) {
    aigw_test_resp r = aigw_test_http(port, "GET", "/healthz", NULL, NULL);
    cr_expect_eq(r.status, 200, "healthz: %ld %s", r.status, r.body);
    aigw_test_resp_free(&r);
}

/* ---- aigw-cli serve ---- */

TestSuite(serve_open, .timeout = 90);

Test(serve_open, warns_without_keys_even_without_v) {
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, "{}", 1, NULL), 0);
    const char *const warn[] = {"warn", "no keys configured", "let in", NULL};
    cr_expect(aigw_test_serve_log_has(&s, warn), "no warning on stderr");
    char log[4096];
    aigw_test_serve_log(&s, log, sizeof log);
    /* one warning line, not a log of everything */
    cr_expect_eq(aigw_test_count_lines(log), 1, "%s", log);
    expect_healthy(s.port);
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, warns_with_v_too) {
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, "{}", 1, ARGS("-v")), 0);
    const char *const warn[] = {"warn", "no keys configured", NULL};
    cr_expect(aigw_test_serve_log_has(&s, warn), "no warning on stderr");
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, no_warning_with_keys) {
    char cfg[400];
    snprintf(cfg, sizeof cfg, "{\"gateway\":{%s}}", keys());
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, cfg, 1, NULL), 0);
    char log[4096];
    aigw_test_serve_log(&s, log, sizeof log);
    cr_expect_eq(log[0], '\0', "stderr: %s", log);
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, refuses_public_address_without_keys) {
    char dir[256], path[300];
    aigw_test_temp_dir(dir, sizeof dir, "aigw-serve-open");
    snprintf(path, sizeof path, "%s/gw.json", dir);
    aigw_test_write_file(path, "{}");
    const char *addrs[] = {"0.0.0.0:0", "[::]:0"};
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        cli_result r = aigw_test_cli_run(&(aigw_test_cli_opts){.home = dir},
                                         ARGS("serve", "--config", path, "--listen", addrs[i]));
        assert_error(&r, 3, "refusing to listen on");
        cr_expect(strstr(r.err, "gateway.keys") && strstr(r.err, "allow_open") &&
                      strstr(r.err, "--allow-open") && strstr(r.err, "AIGW_ECONFIG"),
                  "the fix is not named: %s", r.err);
        result_free(&r);
    }
    /* the same from gateway.listen */
    aigw_test_write_file(path, "{\"gateway\":{\"listen\":\"0.0.0.0:0\"}}");
    cli_result r =
        aigw_test_cli_run(&(aigw_test_cli_opts){.home = dir}, ARGS("serve", "--config", path));
    assert_error(&r, 3, "refusing to listen on 0.0.0.0:0");
    result_free(&r);
    aigw_test_temp_dir_remove(dir);
}

Test(serve_open, allow_open_flag) {
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, "{}", 1, ARGS("--listen", "0.0.0.0:0", "--allow-open")),
                 0);
    expect_healthy(s.port);
    const char *const warn[] = {"no keys configured", "0.0.0.0", NULL};
    cr_expect(aigw_test_serve_log_has(&s, warn), "no warning on stderr");
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, allow_open_in_config) {
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, "{\"gateway\":{\"allow_open\":true}}", 1,
                                       ARGS("--listen", "0.0.0.0:0")),
                 0);
    expect_healthy(s.port);
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, keys_allow_any_address) {
    char cfg[400];
    snprintf(cfg, sizeof cfg, "{\"gateway\":{%s}}", keys());
    aigw_test_serve s;
    cr_assert_eq(aigw_test_serve_start(&s, cfg, 1, ARGS("--listen", "0.0.0.0:0")), 0);
    expect_healthy(s.port);
    aigw_test_serve_stop(&s, 5000);
}

Test(serve_open, allow_open_must_be_boolean) {
    aigw_error *err = NULL;
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, "{\"gateway\":{\"allow_open\":\"yes\"}}", &err),
                 AIGW_OK);
    aigw_server *srv = NULL;
    cr_expect_eq(aigw_server_start(c, NULL, &srv, &err), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "gateway.allow_open") != NULL, "%s",
              aigw_error_message(err));
    aigw_error_free(err);
    aigw_client_free(c);
}

/* ---- aigw_server_start ---- */

static void stop_server(aigw_server *srv, aigw_client *c) {
    cr_expect_eq(aigw_test_gateway_stop(srv, 1000), AIGW_OK);
    aigw_client_free(c);
}

static aigw_client *started_client; /* of the last start_at that succeeded */

static aigw_status start_at(const char *config, const char *listen, unsigned version,
                            int allow_open, aigw_server **srv, char *msg, size_t cap) {
    aigw_client *c = aigw_test_client_new(config);
    started_client = NULL;
    aigw_serve_options o;
    cr_assert_eq(aigw_serve_options_init(&o, version), AIGW_OK);
    o.listen = listen;
    o.workers = 1;
    if (version >= 2)
        o.allow_open = allow_open;
    aigw_error *err = NULL;
    aigw_status st = aigw_server_start(c, &o, srv, &err);
    snprintf(msg, cap, "%s", aigw_error_message(err));
    aigw_error_free(err);
    if (st != AIGW_OK)
        aigw_client_free(c);
    else
        started_client = c;
    return st;
}

Test(serve_open, server_start_options) {
    aigw_serve_options o;
    cr_expect_eq(aigw_serve_options_init(&o, 1), AIGW_OK);
    cr_expect_eq(o.version, 1);
    cr_expect_eq(aigw_serve_options_init(&o, 2), AIGW_OK);
    cr_expect_eq(o.version, 2);
    cr_expect_eq(o.allow_open, 0);
    cr_expect_eq(aigw_serve_options_init(&o, 3), AIGW_EINVAL);

    char msg[1024];
    aigw_server *srv = NULL;
    /* no keys, public address: refused, whichever version */
    cr_expect_eq(start_at("{}", "0.0.0.0:0", 2, 0, &srv, msg, sizeof msg), AIGW_ECONFIG);
    cr_expect(strstr(msg, "refusing to listen on 0.0.0.0:0") && strstr(msg, "allow_open"), "%s",
              msg);
    cr_expect_null(srv);
    cr_expect_eq(start_at("{}", "0.0.0.0:0", 1, 0, &srv, msg, sizeof msg), AIGW_ECONFIG);
    /* loopback addresses are fine */
    const char *loopbacks[] = {"127.0.0.1:0", "127.8.9.10:0", "[::1]:0", "localhost:0"};
    for (size_t i = 0; i < sizeof loopbacks / sizeof *loopbacks; i++) {
        aigw_status st = start_at("{}", loopbacks[i], 2, 0, &srv, msg, sizeof msg);
        if (st == AIGW_ECONNECT || st == AIGW_EIO || (st != AIGW_OK && strstr(msg, "bind"))) {
            continue; /* no IPv6 on this machine: not this test's business */
        }
        cr_expect_eq(st, AIGW_OK, "%s: %s", loopbacks[i], msg);
        if (st == AIGW_OK) {
            stop_server(srv, started_client);
            srv = NULL;
        }
    }
    /* allowed open by the option */
    cr_expect_eq(start_at("{}", "0.0.0.0:0", 2, 1, &srv, msg, sizeof msg), AIGW_OK, "%s", msg);
    stop_server(srv, started_client);
    srv = NULL;
    /* by the config */
    cr_expect_eq(
        start_at("{\"gateway\":{\"allow_open\":true}}", "0.0.0.0:0", 2, 0, &srv, msg, sizeof msg),
        AIGW_OK, "%s", msg);
    stop_server(srv, started_client);
    srv = NULL;
    /* by keys */
    char cfg[400];
    snprintf(cfg, sizeof cfg, "{\"gateway\":{%s}}", keys());
    cr_expect_eq(start_at(cfg, "0.0.0.0:0", 2, 0, &srv, msg, sizeof msg), AIGW_OK, "%s", msg);
    stop_server(srv, started_client);
}

/* A reload may not take the keys away from a gateway on a public address. */
Test(serve_open, reload_keeps_the_rule) {
    char cfg[400], dir[256], path[300], msg[1024];
    snprintf(cfg, sizeof cfg, "{\"gateway\":{%s}}", keys());
    aigw_test_temp_dir(dir, sizeof dir, "aigw-serve-reload");
    snprintf(path, sizeof path, "%s/gw.json", dir);
    aigw_client *c = aigw_test_client_new(cfg);
    aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
    o.listen = "0.0.0.0:0";
    o.workers = 1;
    aigw_server *srv = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_server_start(c, &o, &srv, &err), AIGW_OK, "%s", aigw_error_message(err));
    aigw_test_write_file(path, "{}");
    cr_expect_eq(aigw_server_reload(srv, path, &err), AIGW_ECONFIG);
    snprintf(msg, sizeof msg, "%s", aigw_error_message(err));
    cr_expect(strstr(msg, "refusing to listen") != NULL, "%s", msg);
    aigw_error_free(err);
    err = NULL;
    aigw_test_write_file(path, "{\"gateway\":{\"allow_open\":true}}");
    cr_expect_eq(aigw_server_reload(srv, path, &err), AIGW_OK, "%s", aigw_error_message(err));
    aigw_error_free(err);
    stop_server(srv, c);
    aigw_test_temp_dir_remove(dir);
}

/* ---- what the client sees when the upstream fails ---- */

static aigw_test_sim sim;
static aigw_client *client;
static aigw_server *server;
static int port;
static int dead_fd = -1;

static void start_upstream(void) {
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    int dead = aigw_test_dead_port(&dead_fd);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"backends\":{"
             "\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\"},"
             "\"slow\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\","
             "\"timeout_ms\":300},"
             "\"badkey\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"sk-wrong\"},"
             "\"dead\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:%d/v1\","
             "\"api_key\":\"x\",\"connect_timeout_ms\":2000}},"
             "\"gateway\":{%s}}",
             sim.base_url, UP_KEY, sim.base_url, UP_KEY, sim.base_url, dead, keys());
    client = aigw_test_client_new(cfg);
    server = aigw_test_gateway_start(client, &port);
}

static void stop_upstream(void) {
    cr_expect_eq(aigw_test_gateway_stop(server, 1000), AIGW_OK);
    aigw_client_free(client);
    aigw_test_sim_stop(&sim);
    if (dead_fd >= 0)
        close(dead_fd);
    dead_fd = -1;
}

TestSuite(serve_errors, .init = start_upstream, .fini = stop_upstream, .timeout = 90);

/* POSTs a chat request for MODEL with FAULT (may be NULL); returns the
 * status and checks the body is OpenAI's error shape with TYPE. */
static long chat_error(const char *model, const char *fault, int stream, const char *type) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",%s%s%s%s\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             model, fault ? "\"sim_fault\":\"" : "", fault ? fault : "", fault ? "\"," : "",
             stream ? "\"stream\":true," : "");
    const char *hdrs[] = {"Authorization: Bearer " GW_KEY, NULL};
    aigw_test_resp r = aigw_test_http(port, "POST", "/v1/chat/completions", hdrs, body);
    cr_assert_eq(r.rc, CURLE_OK);
    json_object *o = aigw_test_json_parse(r.body);
    json_object *e = aigw_test_json_at(o, "error");
    cr_expect(e && json_object_is_type(e, json_type_object), "not an OpenAI error: %s", r.body);
    json_object *v = NULL;
    cr_expect(json_object_object_get_ex(e, "message", &v) &&
                  json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0,
              "%s", r.body);
    cr_expect(json_object_object_get_ex(e, "param", &v), "no param: %s", r.body);
    cr_expect(json_object_object_get_ex(e, "code", &v), "no code: %s", r.body);
    cr_expect(json_object_object_get_ex(e, "type", &v) &&
                  strcmp(json_object_get_string(v), type) == 0,
              "type: want %s in %s", type, r.body);
    cr_expect(strstr(r.headers, "application/json") != NULL, "%s", r.headers);
    json_object_put(o);
    long status = r.status;
    aigw_test_resp_free(&r);
    return status;
}

Test(serve_errors, upstream_5xx_is_502) {
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=500", 0, "server_error"), 502);
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=503", 0, "server_error"), 502);
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=500", 1, "server_error"), 502);
}

Test(serve_errors, refused_connection_is_502) {
    cr_expect_eq(chat_error("dead/gpt-4o-mini", NULL, 0, "server_error"), 502);
    cr_expect_eq(chat_error("dead/gpt-4o-mini", NULL, 1, "server_error"), 502);
}

Test(serve_errors, reset_and_malformed_are_502) {
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "close=1", 0, "server_error"), 502);
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "malformed=1", 0, "server_error"), 502);
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=302", 0, "server_error"), 502);
}

Test(serve_errors, upstream_timeout_is_504) {
    cr_expect_eq(chat_error("slow/gpt-4o-mini", "latency_ms=3000", 0, "timeout_error"), 504);
    cr_expect_eq(chat_error("slow/gpt-4o-mini", "latency_ms=3000", 1, "timeout_error"), 504);
}

/* The upstream refusing the gateway's own key is the gateway's failure: not
 * an authentication_error the client would take for its own key. */
Test(serve_errors, upstream_auth_failure_is_502) {
    cr_expect_eq(chat_error("badkey/gpt-4o-mini", NULL, 0, "server_error"), 502);
}

Test(serve_errors, callers_errors_stay_4xx) {
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=429", 0, "rate_limit_error"), 429);
    cr_expect_eq(chat_error("sim/gpt-4o-mini", "status=400", 0, "invalid_request_error"), 400);
    cr_expect_eq(chat_error("nope/x", NULL, 0, "invalid_request_error"), 404);
}
