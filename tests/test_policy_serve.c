/* SPDX-License-Identifier: Apache-2.0 */
/* Routes as policy in `serve` (aigw_server_start in-process; issue #13):
 * with routes, "backend/model" reaches no backend unless
 * gateway.allow_direct_backends says so, and then the budgets, retry and
 * timeouts of the route that would send that model there still apply; a
 * key's "models" and "routes" limit what it may use (and what /v1/models
 * lists); no error body names a backend. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/aigw.h"
#include "budget_status.h"
#include "gateway.h"
#include "http_client.h"
#include "sim.h"
#include "sim_pool.h"

#define UP_KEY "sk-policy-upstream"
#define FULL_KEY "sk-policy-full"
#define NARROW_KEY "sk-policy-narrow"
#define ROUTED_KEY "sk-policy-routed"

/* Backend names no message would contain by chance. */
#define PUB "public-east"
#define INT "internal-llm"

static aigw_test_sim sims[2];
#define SP (&sims[0]) /* PUB */
#define SI (&sims[1]) /* INT */
static aigw_client *client;
static aigw_server *server;
static int port;

static void setup(void) {
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sims_start(sims, 2, args), 0, "simulators did not start");
}

static void teardown(void) {
    aigw_test_gateway_stop(server, 1000);
    server = NULL;
    aigw_client_free(client);
    client = NULL;
    aigw_test_sims_stop(sims, 2);
}

/* Routes "chat" and "mini" (gpt-4o and gpt-4o-mini to PUB, first byte
 * within 300 ms, 1.5 s in all) and "local" (llama-3 to INT); keys "full" (anything), "narrow"
 * (models gpt-4o-mini* only) and "routed" (route "local" only); budgets per model, per backend and
 * per route. gateway_extra is added to "gateway". */
static void gw_start(const char *gateway_extra) {
    char full[65], narrow[65], routed[65], cfg[8192];
    aigw_test_key_sha256(FULL_KEY, full);
    aigw_test_key_sha256(NARROW_KEY, narrow);
    aigw_test_key_sha256(ROUTED_KEY, routed);
    snprintf(
        cfg, sizeof cfg,
        "{\"env_defaults\": false, \"backends\": {"
        "\"" PUB "\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" UP_KEY "\"},"
        "\"" INT "\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" UP_KEY "\"}},"
        "\"routes\": ["
        " {\"name\": \"chat\", \"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "
        "\"" PUB "\"}], \"retry\": {\"attempts\": 1, \"timeouts_ms\": {\"first_byte\": 300, "
        "\"total\": 1500}}},"
        " {\"name\": \"mini\", \"match\": {\"model\": \"gpt-4o-mini\"}, \"backends\": "
        "[{\"backend\": \"" PUB "\"}], \"retry\": {\"attempts\": 1, \"timeouts_ms\": "
        "{\"first_byte\": 300, \"total\": 1500}}},"
        " {\"name\": \"local\", \"match\": {\"model\": \"llama-3\"}, \"backends\": [{\"backend\": "
        "\"" INT "\"}]}],"
        "\"outlier_ejection\": {\"failure_threshold\": 1000, \"base_eject_ms\": 1, "
        "\"max_eject_ms\": 1},"
        "\"budgets\": ["
        " {\"name\": \"per-model\", \"scope\": {\"model\": \"*\"}, \"cost\": \"requests\", "
        "\"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1000}},"
        " {\"name\": \"per-backend\", \"scope\": {\"backend\": \"*\"}, \"cost\": \"requests\", "
        "\"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1000}},"
        " {\"name\": \"per-route\", \"scope\": {\"route\": \"*\"}, \"cost\": \"requests\", "
        "\"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1000}},"
        " {\"name\": \"gpt-4o-only\", \"scope\": {\"model\": \"gpt-4o\"}, \"cost\": \"requests\", "
        "\"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 2}}],"
        "\"gateway\": {\"keys\": ["
        " {\"sha256\": \"%s\", \"name\": \"full\"},"
        " {\"sha256\": \"%s\", \"name\": \"narrow\", \"models\": [\"gpt-4o-mini*\"]},"
        " {\"sha256\": \"%s\", \"name\": \"routed\", \"routes\": [\"local\"]}]%s}}",
        SP->base_url, SI->base_url, full, narrow, routed, gateway_extra);
    client = aigw_test_client_new(cfg);
    server = aigw_test_gateway_start(client, &port);
}

static resp chat(const char *key, const char *model) {
    char body[512], auth[128];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
             model);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    const char *hdrs[] = {auth, NULL};
    resp r = aigw_test_http(port, "POST", "/v1/chat/completions", hdrs, body);
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    return r;
}

/* The body names no configured backend. */
static void expect_no_backend_names(const char *body) {
    cr_expect(strstr(body, PUB) == NULL, "names " PUB ": %s", body);
    cr_expect(strstr(body, INT) == NULL, "names " INT ": %s", body);
}

/* 404 model_not_found, OpenAI's words, nothing else. */
static void expect_model_not_found(const resp *r, const char *model) {
    cr_expect_eq(r->status, 404, "%s: HTTP %ld %s", model, r->status, r->body);
    json_object *o = parse(r->body);
    cr_expect_str_eq(str_at(o, "error.code"), "model_not_found", "%s", r->body);
    cr_expect_str_eq(str_at(o, "error.type"), "invalid_request_error", "%s", r->body);
    char want[256];
    snprintf(want, sizeof want, "The model '%s' does not exist or you do not have access to it.",
             model);
    cr_expect_str_eq(str_at(o, "error.message"), want);
    json_object_put(o);
}

static void reset_sims(void) {
    aigw_test_sim_reset(SP);
    aigw_test_sim_reset(SI);
}

/* Provider requests each backend's simulator saw since the last reset. */
static void expect_counts(long p, long i) {
    long np = aigw_test_sim_count(SP), ni = aigw_test_sim_count(SI);
    cr_expect(np == p && ni == i, "requests reaching " PUB ", " INT ": %ld, %ld; expected %ld, %ld",
              np, ni, p, i);
}

static double counter(const char *budget, const char *instance) {
    return aigw_test_budget_counter(client, budget, instance, "remaining");
}

TestSuite(policy_serve, .init = setup, .fini = teardown, .timeout = 60);

Test(policy_serve, direct_backend_requests_are_refused_with_routes) {
    gw_start("");
    /* a routed model is served */
    resp r = chat(FULL_KEY, "gpt-4o");
    cr_expect_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    reset_sims();
    double model_before = counter("per-model", "gpt-4o");
    /* "backend/model" for a backend no route names here, one a route
     * names, an unknown one, and a model no route matches: the same 404,
     * and no backend is contacted */
    const char *models[] = {INT "/gpt-4o", PUB "/gpt-4o", "nope/gpt-4o", "gpt-5"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        for (int stream = 0; stream < 2; stream++) {
            char body[256];
            snprintf(body, sizeof body,
                     "{\"model\": \"%s\", %s\"messages\": [{\"role\": \"user\", \"content\": "
                     "\"hi\"}]}",
                     models[i], stream ? "\"stream\": true, " : "");
            const char *hdrs[] = {"Authorization: Bearer " FULL_KEY, NULL};
            r = aigw_test_http(port, "POST", "/v1/chat/completions", hdrs, body);
            expect_model_not_found(&r, models[i]);
            if (i >= 2)
                expect_no_backend_names(r.body);
            resp_free(&r);
        }
    }
    /* embeddings too */
    const char *hdrs[] = {"Authorization: Bearer " FULL_KEY, NULL};
    r = aigw_test_http(port, "POST", "/v1/embeddings", hdrs,
                       "{\"model\": \"" INT "/text-embedding-3-small\", \"input\": \"x\"}");
    expect_model_not_found(&r, INT "/text-embedding-3-small");
    resp_free(&r);
    expect_counts(0, 0);
    /* and no budget moved: the model's counter is where it was */
    cr_expect_float_eq(counter("per-model", "gpt-4o"), model_before, 1e-9);
}

Test(policy_serve, allowed_direct_requests_keep_budgets_and_timeouts) {
    gw_start(", \"allow_direct_backends\": true");
    /* INT/llama-3: route "local" would send llama-3 to INT */
    resp r = chat(FULL_KEY, INT "/llama-3");
    cr_expect_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    char model[64];
    aigw_test_sim_last_model(SI, model, sizeof model);
    cr_expect_str_eq(model, "llama-3");
    cr_expect_float_eq(counter("per-model", "model=llama-3"), 999, 1e-9);
    cr_expect_float_eq(counter("per-backend", "backend=" INT), 999, 1e-9);
    cr_expect_float_eq(counter("per-route", "route=local"), 999, 1e-9);
    /* INT/gpt-4o: no route sends gpt-4o to INT: route "direct", and the
     * budget on model gpt-4o applies to it as to the routed gpt-4o */
    r = chat(FULL_KEY, INT "/gpt-4o");
    cr_expect_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    cr_expect_float_eq(counter("per-route", "route=direct"), 999, 1e-9);
    cr_expect_float_eq(counter("gpt-4o-only", NULL), 1, 1e-9);
    r = chat(FULL_KEY, "gpt-4o");
    cr_expect_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = chat(FULL_KEY, PUB "/gpt-4o");
    cr_expect_eq(r.status, 429, "the model budget is spent: %s", r.body);
    cr_expect(strstr(r.body, "gpt-4o-only") != NULL, "%s", r.body);
    resp_free(&r);
    /* PUB/gpt-4o-mini: route "mini"'s timeouts (first byte 300 ms) hold
     * against a backend that answers after 8 s */
    aigw_test_sim_fault(SP, "latency_ms=8000");
    double t0 = aigw_test_now_ms();
    r = chat(FULL_KEY, PUB "/gpt-4o-mini");
    double ms = aigw_test_now_ms() - t0;
    cr_expect_eq(r.status, 504, "%s", r.body);
    cr_expect_lt(ms, 6000, "took %.0f ms", ms);
    expect_no_backend_names(r.body);
    cr_expect(strstr(r.body, "upstream") != NULL, "%s", r.body);
    resp_free(&r);
    /* an unknown backend is still a plain model_not_found */
    r = chat(FULL_KEY, "nope/gpt-4o");
    expect_model_not_found(&r, "nope/gpt-4o");
    expect_no_backend_names(r.body);
    resp_free(&r);
}

Test(policy_serve, a_key_uses_only_its_models_and_routes) {
    gw_start(", \"allow_direct_backends\": true");
    struct {
        const char *key, *model;
        int ok;
    } cases[] = {
        {NARROW_KEY, "gpt-4o-mini", 1},
        {NARROW_KEY, "gpt-4o", 0},
        {NARROW_KEY, "llama-3", 0},
        {NARROW_KEY, PUB "/gpt-4o-mini", 0}, /* the glob is on the name asked for */
        {ROUTED_KEY, "llama-3", 1},
        {ROUTED_KEY, INT "/llama-3", 1}, /* pinned to local */
        {ROUTED_KEY, "gpt-4o", 0},
        {ROUTED_KEY, INT "/gpt-4o", 0}, /* route "direct" */
        {FULL_KEY, "gpt-4o-mini", 1},
        {FULL_KEY, INT "/gpt-4o", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset_sims();
        resp r = chat(cases[i].key, cases[i].model);
        if (cases[i].ok) {
            cr_expect_eq(r.status, 200, "case %zu %s: %s", i, cases[i].model, r.body);
        } else {
            expect_model_not_found(&r, cases[i].model);
            expect_counts(0, 0);
        }
        resp_free(&r);
    }
    /* /v1/models lists what the key may use */
    const char *keys[] = {NARROW_KEY, ROUTED_KEY, FULL_KEY};
    for (size_t k = 0; k < 3; k++) {
        char auth[128];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", keys[k]);
        const char *hdrs[] = {auth, NULL};
        resp r = aigw_test_http(port, "GET", "/v1/models", hdrs, NULL);
        cr_assert_eq(r.status, 200, "%s", r.body);
        json_object *o = parse(r.body);
        json_object *data = at(o, "data");
        cr_assert_not_null(data, "%s", r.body);
        char ids[256] = "";
        for (size_t i = 0; i < json_object_array_length(data); i++) {
            const char *id = aigw_test_json_str_at(json_object_array_get_idx(data, i), "id");
            strncat(ids, id ? id : "?", sizeof ids - strlen(ids) - 2);
            strcat(ids, ",");
        }
        json_object_put(o);
        resp_free(&r);
        cr_expect_str_eq(ids,
                         k == 0   ? "gpt-4o-mini,"
                         : k == 1 ? "llama-3,"
                                  : "gpt-4o,gpt-4o-mini,llama-3,",
                         "key %zu", k);
    }
}

/* Keys' routes must exist; the gateway's new keys are typed. */
Test(policy_serve, key_policy_config_is_checked) {
    const char *bad[][2] = {
        {"\"routes\": [\"nope\"]", "gateway.keys[0].routes[0]: unknown route \"nope\""},
        {"\"models\": []", "gateway.keys[0].models: must be a non-empty array of strings"},
        {"\"models\": [\"\"]", "gateway.keys[0].models[0]: must be a non-empty string"},
        {"\"trusted_user_header\": \"yes\"",
         "gateway.keys[0].trusted_user_header: must be true or false"},
        {"\"user\": 3", "gateway.keys[0].user: must be a non-empty string"},
        {"\"scopes\": 1", "gateway.keys[0]: unknown key \"scopes\" (known: sha256, name, team, "
                          "user, trusted_user_header, models, routes)"},
    };
    char hash[65];
    aigw_test_key_sha256(FULL_KEY, hash);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cfg[1024];
        snprintf(cfg, sizeof cfg,
                 "{\"routes\": [{\"name\": \"r\", \"backends\": [{\"backend\": \"mock\"}]}],"
                 "\"gateway\": {\"keys\": [{\"sha256\": \"%s\", %s}]}}",
                 hash, bad[i][0]);
        aigw_client *c = aigw_test_client_new(cfg);
        aigw_server *s = NULL;
        aigw_error *err = NULL;
        aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
        o.listen = "127.0.0.1:0";
        cr_expect_eq(aigw_server_start(c, &o, &s, &err), AIGW_ECONFIG, "%s", bad[i][0]);
        cr_expect(strstr(aigw_error_message(err), bad[i][1]) != NULL, "%s",
                  aigw_error_message(err));
        aigw_error_free(err);
        aigw_client_free(c);
    }
    aigw_client *c = aigw_test_client_new("{\"gateway\": {\"allow_direct_backends\": 1}}");
    aigw_server *s = NULL;
    aigw_error *err = NULL;
    aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
    o.listen = "127.0.0.1:0";
    cr_expect_eq(aigw_server_start(c, &o, &s, &err), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "gateway.allow_direct_backends: must be true or "
                                              "false") != NULL,
              "%s", aigw_error_message(err));
    aigw_error_free(err);
    aigw_client_free(c);
}
