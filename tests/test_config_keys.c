/* SPDX-License-Identifier: Apache-2.0 */
/* An unknown config key is refused with the JSON path and every key that
 * is accepted at that place: `PATH: unknown key "K" (known: a, b, c)`, in
 * every section of the file. Each case is a config with one slot (@) where
 * a key goes: the unknown key must be refused with the full list, and every
 * key of that list must be accepted there as a key (whatever its value). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <aigw/aigw.h>

#include "cli_run.h"

#define B "\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:9/v1\"}}"
#define ROUTE "{\"backends\":[{\"backend\":\"a\"}]"
#define LIMIT "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":5}"

static const struct {
    const char *config; /* @ marks the slot */
    const char *path;
    const char *known;
} cases[] = {
    {"{" B ",@}", "config",
     "accounting, backends, budgets, credentials, default_backend, env_defaults, gateway, "
     "outlier_ejection, routes, routing"},
    {"{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:9/v1\",@}}}",
     "backends.a",
     "schema, base_url, api_key, api_key_env, api_key_file, credential, api_version, region, "
     "project, location, headers, timeout_ms, connect_timeout_ms"},
    {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"env\":\"X\",@}}," B "}", "credentials.k",
     "type, value, env, file, header"},
    {"{\"credentials\":{\"k\":{\"type\":\"aws\",@}}," B "}", "credentials.k",
     "type, access_key_id_env, secret_access_key_env, session_token_env, profile, role_arn, "
     "web_identity_token_file, role_session_name, sts_endpoint, container_uri"},
    {"{\"credentials\":{\"k\":{\"type\":\"azure_entra\",@}}," B "}", "credentials.k",
     "type, tenant_id, client_id, client_secret_env, client_secret_file, federated_token_file, "
     "authority_host, scope"},
    {"{\"credentials\":{\"k\":{\"type\":\"gcp\",@}}," B "}", "credentials.k",
     "type, credentials_file, scopes"},
    {"{\"credentials\":{\"k\":{\"type\":\"oidc\",@}}," B "}", "credentials.k",
     "type, token_url, client_id, client_secret_env, client_secret_file, scope, audience, "
     "auth_method"},
    {"{\"credentials\":{\"k\":{\"type\":\"callback\",@}}," B "}", "credentials.k", "type"},
    {"{" B ",\"routes\":[" ROUTE ",@}]}", "routes[0]", "name, match, backends, retry"},
    {"{" B ",\"routes\":[" ROUTE ",\"match\":{@}}]}", "routes[0].match", "model, headers"},
    {"{" B ",\"routes\":[{\"backends\":[{\"backend\":\"a\",@}]}]}", "routes[0].backends[0]",
     "backend, weight, priority, model"},
    {"{" B ",\"routes\":[" ROUTE ",\"retry\":{@}}]}", "routes[0].retry",
     "attempts, backoff_ms, max_backoff_ms, timeouts_ms"},
    {"{" B ",\"routes\":[" ROUTE ",\"retry\":{\"timeouts_ms\":{@}}}]}",
     "routes[0].retry.timeouts_ms", "connect, first_byte, total"},
    {"{" B ",\"outlier_ejection\":{@}}", "outlier_ejection",
     "failure_threshold, base_eject_ms, max_eject_ms"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\"," LIMIT ",@}]}", "budgets[0]",
     "name, scope, cost, limit, on_store_error"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\"," LIMIT ",\"scope\":{@}}]}",
     "budgets[0].scope", "key, team, user, model, route, backend"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":{\"prices\":{\"m\":{\"input\":1,"
     "\"output\":1}},@}," LIMIT "}]}",
     "budgets[0].cost", "prices"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":{\"prices\":{\"m\":{\"input\":1,"
     "\"output\":1,@}}}," LIMIT "}]}",
     "budgets[0].cost.prices.m", "input, output, cached"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\","
     "\"capacity\":5,\"refill_per_second\":1,@}}]}",
     "budgets[0].limit", "type, capacity, refill_per_second"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\",\"limit\":{\"type\":\"window\","
     "\"per\":\"day\",\"max\":5,@}}]}",
     "budgets[0].limit", "type, per, max"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\"," LIMIT "}],\"accounting\":{@}}",
     "accounting", "store, default_max_tokens, max_counters"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\"," LIMIT "}],"
     "\"accounting\":{\"store\":{\"type\":\"memory\",@}}}",
     "accounting.store", "type"},
    {"{" B ",\"budgets\":[{\"name\":\"n\",\"cost\":\"1\"," LIMIT "}],"
     "\"accounting\":{\"store\":{\"type\":\"redis\",@}}}",
     "accounting.store", "type, host, port, password_env, prefix, pool_size, timeout_ms"},
    {"{" B ",\"gateway\":{@}}", "gateway",
     "listen, workers, shutdown_timeout_ms, keys, allow_open, limits, user_header, "
     "allow_direct_backends, metrics_key_sha256, metrics_listen"},
    {"{" B ",\"gateway\":{\"keys\":[{\"sha256\":"
     "\"0000000000000000000000000000000000000000000000000000000000000000\",@}]}}",
     "gateway.keys[0]", "sha256, name, team, user, trusted_user_header, models, routes"},
    {"{" B ",\"gateway\":{\"limits\":{@}}}", "gateway.limits",
     "max_body_bytes, max_header_bytes, max_headers, max_connections, "
     "max_connections_per_client, max_inflight_body_bytes, header_timeout_ms, "
     "request_timeout_ms, idle_timeout_ms, send_timeout_ms, json_max_depth, json_max_elements, "
     "json_max_string_bytes, json_offload_bytes"},
};

static char dir[4096];

static void setup(void) {
    aigw_test_temp_dir(dir, sizeof dir, "aigw-config-keys");
}

static void teardown(void) {
    aigw_test_temp_dir_remove(dir);
}

/* aigw_config_check on the case's config with `member` in its slot; the
 * error message (or "") into msg. */
static aigw_status check(size_t i, const char *member, char *msg, size_t cap) {
    const char *tpl = cases[i].config, *at = strchr(tpl, '@');
    cr_assert(at, "case %zu has no slot", i);
    char text[4096], path[4200];
    int n = snprintf(text, sizeof text, "%.*s%s%s", (int)(at - tpl), tpl, member, at + 1);
    cr_assert(n > 0 && (size_t)n < sizeof text);
    snprintf(path, sizeof path, "%s/config.json", dir);
    aigw_test_write_file(path, text);
    aigw_error *err = NULL;
    aigw_status st = aigw_config_check(path, &err);
    snprintf(msg, cap, "%s", st && err ? aigw_error_message(err) : "");
    aigw_error_free(err);
    return st;
}

Test(config_keys, an_unknown_key_is_refused_with_every_known_key, .init = setup, .fini = teardown) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[2048], want[2048];
        cr_expect_eq(check(i, "\"tmeout\":1", msg, sizeof msg), AIGW_ECONFIG, "case %zu: %s", i,
                     msg);
        snprintf(want, sizeof want, "%s: unknown key \"tmeout\" (known: %s)", cases[i].path,
                 cases[i].known);
        cr_expect_str_eq(msg, want, "case %zu", i);
    }
}

Test(config_keys, every_listed_key_is_accepted_there, .init = setup, .fini = teardown) {
    setenv("AIGW_TEST_KEYS_VAR", "x", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char list[1024];
        snprintf(list, sizeof list, "%s", cases[i].known);
        for (char *save = NULL, *k = strtok_r(list, ", ", &save); k;
             k = strtok_r(NULL, ", ", &save)) {
            /* Whatever the value, the key itself must not be unknown. */
            static const char *const values[] = {"1", "\"AIGW_TEST_KEYS_VAR\"", "{}", "[]"};
            for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
                char member[256], msg[2048], unknown[300];
                snprintf(member, sizeof member, "\"%s\":%s", k, values[v]);
                check(i, member, msg, sizeof msg);
                snprintf(unknown, sizeof unknown, "unknown key \"%s\"", k);
                cr_expect(strstr(msg, unknown) == NULL, "case %zu, %s: %s", i, member, msg);
            }
        }
    }
}
