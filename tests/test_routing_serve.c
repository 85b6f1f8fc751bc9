/* SPDX-License-Identifier: Apache-2.0 */
/* Routes through the gateway (aigw_server_start in-process): a request
 * header picks the route in serve mode, fallback is invisible to the HTTP
 * client, a caller's 4xx comes back as it was, all backends down is a 5xx
 * whose message names every attempt, and /v1/models lists the models the
 * routes serve. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/aigw.h"
#include "gateway.h"
#include "http_client.h"
#include "sim.h"
#include "sim_pool.h"

#define KEY "sk-routing-serve"
#define NSIM 3

static aigw_test_sim sims[NSIM];
#define SA (&sims[0])
#define SB (&sims[1])
#define SC (&sims[2])
static aigw_client *client;
static aigw_server *server;
static int port;

static void setup(void) {
    const char *args[] = {"--api-key", KEY, NULL};
    cr_assert_eq(aigw_test_sims_start(sims, NSIM, args), 0, "simulators did not start");
    char cfg[4096];
    snprintf(
        cfg, sizeof cfg,
        "{\"env_defaults\": false, \"backends\": {"
        "\"a\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"},"
        "\"b\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"},"
        "\"c\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"}},"
        "\"routes\": ["
        " {\"name\": \"search\", \"match\": {\"model\": \"gpt-4o\", \"headers\": {\"x-team\": "
        "\"search\"}}, \"backends\": [{\"backend\": \"c\", \"model\": \"gpt-4o-search\"}]},"
        " {\"name\": \"chat\", \"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "
        "\"a\"}, {\"backend\": \"b\", \"priority\": 1}],"
        "  \"retry\": {\"attempts\": 2, \"backoff_ms\": 1, \"max_backoff_ms\": 5}},"
        " {\"match\": {\"model\": \"claude-*\"}, \"backends\": [{\"backend\": \"b\"}]},"
        " {\"match\": {\"model\": \"text-embedding-3-small\"}, \"backends\": [{\"backend\": "
        "\"c\"}]}],"
        "\"outlier_ejection\": {\"failure_threshold\": 1000, \"base_eject_ms\": 1, "
        "\"max_eject_ms\": 1}}",
        SA->base_url, SB->base_url, SC->base_url);
    client = aigw_test_client_new(cfg);
    server = aigw_test_gateway_start(client, &port);
}

static void teardown(void) {
    aigw_test_gateway_stop(server, 1000);
    server = NULL;
    aigw_client_free(client);
    client = NULL;
    aigw_test_sims_stop(sims, NSIM);
}

TestSuite(routing_serve, .init = setup, .fini = teardown, .timeout = 60);

static resp chat(const char *const *headers, const char *model, int stream) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", %s\"messages\": [{\"role\": \"user\", \"content\": \"via "
             "gateway\"}]}",
             model, stream ? "\"stream\": true, " : "");
    resp r = aigw_test_http(port, "POST", "/v1/chat/completions", headers, body);
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    return r;
}

static void expect_counts(long a, long b, long c) {
    aigw_test_sims_expect_counts(sims, a, b, c);
}

Test(routing_serve, header_picks_the_route) {
    const char *const search[] = {"X-Team: search", NULL};
    const char *const ads[] = {"x-team: ads", NULL};
    resp r = chat(search, "gpt-4o", 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.body, "echo: via gateway") != NULL, "%s", r.body);
    resp_free(&r);
    char model[128];
    aigw_test_sim_last_model(SC, model, sizeof model);
    cr_expect_str_eq(model, "gpt-4o-search");
    r = chat(ads, "gpt-4o", 1);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.body, "data: [DONE]") != NULL, "%s", r.body);
    resp_free(&r);
    r = chat(NULL, "gpt-4o", 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    expect_counts(2, 0, 1);
}

Test(routing_serve, fallback_is_invisible_to_the_client) {
    aigw_test_sim_fault(SA, "status=503");
    for (int stream = 0; stream < 2; stream++) {
        resp r = chat(NULL, "gpt-4o", stream);
        cr_expect_eq(r.status, 200, "%s", r.body);
        cr_expect(stream ? strstr(r.body, "data: [DONE]") && !strstr(r.body, "\"error\"")
                         : strstr(r.body, "echo: via gateway") != NULL,
                  "%s", r.body);
        resp_free(&r);
    }
    expect_counts(2, 2, 0);
}

Test(routing_serve, caller_4xx_passes_through_once) {
    aigw_test_sim_fault(SA, "status=400");
    resp r = chat(NULL, "gpt-4o", 0);
    cr_expect_eq(r.status, 400, "%s", r.body);
    cr_expect(strstr(r.body, "{\"error\":") != NULL, "%s", r.body);
    resp_free(&r);
    expect_counts(1, 0, 0);
}

/* Every attempt is named, but not its backend: the client sees
 * "upstream" where the library's message (in the log) names it. */
Test(routing_serve, all_down_names_every_attempt) {
    aigw_test_sim_fault(SA, "status=503");
    aigw_test_sim_fault(SB, "status=500");
    resp r = chat(NULL, "gpt-4o", 0);
    cr_expect_geq(r.status, 500, "%ld: %s", r.status, r.body);
    json_object *o = parse(r.body);
    const char *msg = str_at(o, "error.message");
    cr_assert_not_null(msg, "%s", r.body);
    cr_expect(strstr(msg, "2 attempts: upstream: HTTP 503 after ") &&
                  strstr(msg, "; upstream: HTTP 500 after "),
              "%s", msg);
    cr_expect(strstr(msg, "backend a") == NULL && strstr(msg, "backend b") == NULL &&
                  strstr(msg, "\"a\"") == NULL && strstr(msg, "\"b\"") == NULL,
              "%s", msg);
    json_object_put(o);
    resp_free(&r);
    /* a stream fails the same way before its first byte: an HTTP error,
     * not a 200 with an error event */
    r = chat(NULL, "gpt-4o", 1);
    cr_expect_geq(r.status, 500, "%ld: %s", r.status, r.body);
    resp_free(&r);
}

Test(routing_serve, models_lists_the_routes) {
    resp r = aigw_test_http(port, "GET", "/v1/models", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    json_object *data = at(o, "data");
    cr_assert_not_null(data, "%s", r.body);
    cr_expect_eq(json_object_array_length(data), 2, "%s", r.body);
    cr_expect_str_eq(str_at(o, "data.0.id"), "gpt-4o");
    cr_expect_str_eq(str_at(o, "data.1.id"), "text-embedding-3-small");
    json_object_put(o);
    resp_free(&r);
    expect_counts(0, 0, 0);
}
