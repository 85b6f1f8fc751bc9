/* SPDX-License-Identifier: Apache-2.0 */
/* The routes config loader (lib/router/routes_config.c): every accepted
 * shape, every rejected one with its exact message, and ${ENV} expansion. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "aigw/error.h"
#include "router/routes_config.h"

static const char *const known[] = {"openai", "azure", "bedrock", "local"};

/* A fake environment: NAME=value pairs. */
static const char *fake_env(void *ctx, const char *name) {
    for (const char *const *kv = ctx; *kv; kv += 2)
        if (!strcmp(kv[0], name))
            return kv[1];
    return NULL;
}

static const char *const env_pairs[] = {"DEPLOYMENT", "gpt4o-prod", "TEAM", "search",
                                        "EMPTY",      "",           NULL};

static aigw__routes_load_options opts(void) {
    aigw__routes_load_options o = {known, 4, fake_env, (void *)env_pairs};
    return o;
}

static aigw_status load(const char *text, aigw__routes *r, aigw_error **err) {
    aigw__routes_load_options o = opts();
    return aigw__routes_load_text(text, strlen(text), &o, r, err);
}

/* Loads text, expects failure with exactly `message`. */
static void expect_error(const char *text, const char *message) {
    aigw__routes r;
    aigw_error *err = NULL;
    aigw_status st = load(text, &r, &err);
    cr_assert_eq(st, AIGW_ECONFIG, "%s: status %d", text, st);
    cr_assert_not_null(err);
    cr_expect_str_eq(aigw_error_message(err), message, "for %s", text);
    cr_expect_eq(aigw_error_status(err), AIGW_ECONFIG);
    aigw_error_free(err);
    aigw__routes_free(&r);
}

Test(routes_config, full_route) {
    const char *text =
        "{\"backends\": {}, \"routes\": ["
        " {\"match\": {\"model\": \"gpt-*\", \"headers\": {\"X-Team\": \"${TEAM}\"}},"
        "  \"backends\": [{\"backend\": \"azure\", \"weight\": 3, \"priority\": 0,"
        "                 \"model\": \"${DEPLOYMENT}\"},"
        "               {\"backend\": \"openai\"},"
        "               {\"backend\": \"bedrock\", \"priority\": 2, \"weight\": 0}],"
        "  \"retry\": {\"attempts\": 4, \"backoff_ms\": 50, \"max_backoff_ms\": 800,"
        "            \"timeouts_ms\": {\"connect\": 1000, \"first_byte\": 5000, \"total\": "
        "30000}}},"
        " {\"backends\": [{\"backend\": \"local\"}]}]}";
    aigw__routes r;
    aigw_error *err = NULL;
    cr_assert_eq(load(text, &r, &err), AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    cr_assert_eq(r.n, 2);
    const aigw__route *a = &r.routes[0];
    cr_expect_str_eq(a->model_glob, "gpt-*");
    cr_assert_eq(a->n_headers, 1);
    cr_expect_str_eq(a->headers[0].name, "x-team");
    cr_expect_str_eq(a->headers[0].value, "search");
    cr_assert_eq(a->n_backends, 3);
    cr_expect_str_eq(a->backends[0].backend, "azure");
    cr_expect_str_eq(a->backends[0].model, "gpt4o-prod");
    cr_expect_eq(a->backends[0].weight, 3);
    cr_expect_eq(a->backends[0].priority, 0);
    cr_expect_str_eq(a->backends[1].backend, "openai");
    cr_expect_null(a->backends[1].model);
    cr_expect_eq(a->backends[1].weight, 1);
    cr_expect_eq(a->backends[1].priority, 0);
    cr_expect_eq(a->backends[2].weight, 0);
    cr_expect_eq(a->backends[2].priority, 2);
    cr_expect_eq(a->retry.attempts, 4);
    cr_expect_eq(a->retry.backoff_ms, 50);
    cr_expect_eq(a->retry.max_backoff_ms, 800);
    cr_expect_eq(a->retry.connect_ms, 1000);
    cr_expect_eq(a->retry.first_byte_ms, 5000);
    cr_expect_eq(a->retry.total_ms, 30000);
    const aigw__route *b = &r.routes[1];
    cr_expect_null(b->model_glob);
    cr_expect_eq(b->n_headers, 0);
    cr_expect_eq(b->retry.attempts, AIGW__ROUTE_DEFAULT_ATTEMPTS);
    cr_expect_eq(b->retry.backoff_ms, AIGW__ROUTE_DEFAULT_BACKOFF_MS);
    cr_expect_eq(b->retry.max_backoff_ms, AIGW__ROUTE_DEFAULT_MAX_BACKOFF_MS);
    cr_expect_eq(b->retry.total_ms, 0);
    aigw__routes_free(&r);
}

Test(routes_config, no_routes_is_fine) {
    aigw__routes r;
    aigw_error *err = NULL;
    cr_assert_eq(load("{}", &r, &err), AIGW_OK);
    cr_expect_eq(r.n, 0);
    aigw__routes_free(&r);
    cr_assert_eq(load("{\"routes\": []}", &r, &err), AIGW_OK);
    cr_expect_eq(r.n, 0);
    aigw__routes_free(&r);
    aigw__routes_load_options o = opts();
    cr_assert_eq(aigw__routes_load(NULL, &o, &r, &err), AIGW_OK);
    cr_expect_eq(r.n, 0);
}

Test(routes_config, unknown_backend) {
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\"}]},"
                 " {\"backends\": [{\"backend\": \"openai\"}]},"
                 " {\"backends\": [{\"backend\": \"azur\"}]}]}",
                 "routes[2].backends[0]: unknown backend \"azur\"");
}

Test(routes_config, structure_errors) {
    expect_error("[]", "config: must be a JSON object");
    expect_error("{\"routes\": {}}", "routes: must be an array");
    expect_error("{\"routes\": [3]}", "routes[0]: must be an object");
    expect_error("{\"routes\": [{\"mach\": {}, \"backends\": [{\"backend\": \"openai\"}]}]}",
                 "routes[0]: unknown key \"mach\" (known: name, match, backends, retry)");
    expect_error("{\"routes\": [{}]}", "routes[0]: missing \"backends\"");
    expect_error("{\"routes\": [{\"backends\": {}}]}", "routes[0].backends: must be an array");
    expect_error("{\"routes\": [{\"backends\": []}]}", "routes[0].backends: must not be empty");
    expect_error("{\"routes\": [{\"backends\": [\"openai\"]}]}",
                 "routes[0].backends[0]: must be an object");
    expect_error("{\"routes\": [{\"backends\": [{\"weight\": 1}]}]}",
                 "routes[0].backends[0]: missing \"backend\"");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"wieght\": 1}]}]}",
                 "routes[0].backends[0]: unknown key \"wieght\" (known: backend, weight, "
                 "priority, model)");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": 7}]}]}",
                 "routes[0].backends[0].backend: must be a string");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"\"}]}]}",
                 "routes[0].backends[0].backend: must not be empty");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\"},"
                 " {\"backend\": \"openai\"}]}]}",
                 "routes[0].backends[1]: backend \"openai\" with the same model is already "
                 "listed at backends[0]");
}

Test(routes_config, same_backend_twice_with_different_models) {
    aigw__routes r;
    aigw_error *err = NULL;
    cr_assert_eq(load("{\"routes\": [{\"backends\": [{\"backend\": \"azure\", \"model\": \"a\"},"
                      " {\"backend\": \"azure\", \"model\": \"b\"}]}]}",
                      &r, &err),
                 AIGW_OK);
    aigw__routes_free(&r);
}

Test(routes_config, value_errors) {
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"weight\": -1}]}]}",
                 "routes[0].backends[0].weight: -1 is out of range (0 to 1000000)");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"weight\": 1.5}]}]}",
                 "routes[0].backends[0].weight: must be an integer");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"weight\": \"2\"}]}]}",
                 "routes[0].backends[0].weight: must be an integer");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"weight\": 1000001}]}]}",
                 "routes[0].backends[0].weight: 1000001 is out of range (0 to 1000000)");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"priority\": -2}]}]}",
                 "routes[0].backends[0].priority: -2 is out of range (0 to 1000)");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"model\": 4}]}]}",
                 "routes[0].backends[0].model: must be a string");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"openai\", \"model\": \"\"}]}]}",
                 "routes[0].backends[0].model: must not be empty");
}

#define B "\"backends\": [{\"backend\": \"openai\"}]"

Test(routes_config, match_errors) {
    expect_error("{\"routes\": [{\"match\": \"gpt-4o\", " B "}]}",
                 "routes[0].match: must be an object");
    expect_error("{\"routes\": [{\"match\": {\"modle\": \"x\"}, " B "}]}",
                 "routes[0].match: unknown key \"modle\" (known: model, headers)");
    expect_error("{\"routes\": [{\"match\": {\"model\": [\"x\"]}, " B "}]}",
                 "routes[0].match.model: must be a string");
    expect_error("{\"routes\": [{\"match\": {\"model\": \"\"}, " B "}]}",
                 "routes[0].match.model: must not be empty");
    expect_error("{\"routes\": [{\"match\": {\"headers\": []}, " B "}]}",
                 "routes[0].match.headers: must be an object");
    expect_error("{\"routes\": [{\"match\": {\"headers\": {\"x-team\": 1}}, " B "}]}",
                 "routes[0].match.headers.x-team: must be a string");
    expect_error("{\"routes\": [{\"match\": {\"headers\": {\"bad name\": \"v\"}}, " B "}]}",
                 "routes[0].match.headers.bad name: invalid header name");
    expect_error("{\"routes\": [{\"match\": {\"headers\": {\"X-A\": \"1\", \"x-a\": \"2\"}}, " B
                 "}]}",
                 "routes[0].match.headers: header \"x-a\" listed twice (names are "
                 "case-insensitive)");
}

Test(routes_config, retry_errors) {
    expect_error("{\"routes\": [{" B ", \"retry\": 3}]}", "routes[0].retry: must be an object");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"tries\": 3}}]}",
                 "routes[0].retry: unknown key \"tries\" (known: attempts, backoff_ms, "
                 "max_backoff_ms, timeouts_ms)");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"attempts\": 0}}]}",
                 "routes[0].retry.attempts: 0 is out of range (1 to 20)");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"attempts\": true}}]}",
                 "routes[0].retry.attempts: must be an integer");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"backoff_ms\": -5}}]}",
                 "routes[0].retry.backoff_ms: -5 is out of range (0 to 86400000)");
    expect_error("{\"routes\": [{" B
                 ", \"retry\": {\"backoff_ms\": 500, \"max_backoff_ms\": 100}}]}",
                 "routes[0].retry: backoff_ms (500) must not exceed max_backoff_ms (100)");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"timeouts_ms\": 5}}]}",
                 "routes[0].retry.timeouts_ms: must be an object");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"timeouts_ms\": {\"read\": 5}}}]}",
                 "routes[0].retry.timeouts_ms: unknown key \"read\" (known: connect, first_byte, "
                 "total)");
    expect_error("{\"routes\": [{" B ", \"retry\": {\"timeouts_ms\": {\"connect\": 0}}}]}",
                 "routes[0].retry.timeouts_ms.connect: 0 is out of range (1 to 86400000)");
    expect_error("{\"routes\": [{" B
                 ", \"retry\": {\"timeouts_ms\": {\"first_byte\": 9000, \"total\": 5000}}}]}",
                 "routes[0].retry.timeouts_ms: first_byte (9000) must not exceed total (5000)");
    expect_error("{\"routes\": [{" B
                 ", \"retry\": {\"timeouts_ms\": {\"connect\": 9000, \"total\": 5000}}}]}",
                 "routes[0].retry.timeouts_ms: connect (9000) must not exceed total (5000)");
}

Test(routes_config, invalid_json) {
    aigw__routes r;
    aigw_error *err = NULL;
    cr_assert_eq(load("{\"routes\": [", &r, &err), AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "config: invalid JSON") != NULL, "%s",
              aigw_error_message(err));
    aigw_error_free(err);
    aigw__routes_free(&r);
}

/* ---- ${ENV} ---- */

static char *expand(const char *in, aigw_status *st, char **msg) {
    char *out = NULL;
    aigw_error *err = NULL;
    *st = aigw__routes_expand_env(in, "x.y", fake_env, (void *)env_pairs, &out, &err);
    *msg = err ? strdup(aigw_error_message(err)) : NULL;
    aigw_error_free(err);
    return out;
}

Test(routes_env, expansion) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"${DEPLOYMENT}", "gpt4o-prod"},
        {"a-${TEAM}-b-${DEPLOYMENT}", "a-search-b-gpt4o-prod"},
        {"cost $5 and $", "cost $5 and $"},
        {"$${TEAM}", "${TEAM}"},
        {"x${EMPTY}y", "xy"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw_status st;
        char *msg;
        char *out = expand(cases[i].in, &st, &msg);
        cr_assert_eq(st, AIGW_OK, "%s: %s", cases[i].in, msg);
        cr_expect_str_eq(out, cases[i].out);
        free(out);
    }
}

Test(routes_env, errors) {
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"${NOPE}", "x.y: environment variable \"NOPE\" is not set"},
        {"a${TEAM", "x.y: unterminated \"${\""},
        {"${}", "x.y: invalid variable name in \"${}\""},
        {"${1A}", "x.y: invalid variable name in \"${1A}\""},
        {"${A-B}", "x.y: invalid variable name in \"${A-B}\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw_status st;
        char *msg;
        char *out = expand(cases[i].in, &st, &msg);
        cr_expect_eq(st, AIGW_ECONFIG, "%s", cases[i].in);
        cr_expect_null(out);
        cr_expect_str_eq(msg, cases[i].msg);
        free(msg);
    }
}

Test(routes_env, missing_variable_names_path) {
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"azure\"},"
                 " {\"backend\": \"openai\", \"model\": \"${OPENAI_MODEL}\"}]}]}",
                 "routes[0].backends[1].model: environment variable \"OPENAI_MODEL\" is not set");
    expect_error("{\"routes\": [{\"match\": {\"headers\": {\"x-team\": \"${NO_TEAM}\"}}, " B "}]}",
                 "routes[0].match.headers.x-team: environment variable \"NO_TEAM\" is not set");
    expect_error("{\"routes\": [{\"backends\": [{\"backend\": \"${EMPTY}\"}]}]}",
                 "routes[0].backends[0].backend: must not be empty");
}

Test(routes_env, backend_name_from_env_is_checked) {
    static const char *const pairs[] = {"BK", "azure", "BAD", "azur", NULL};
    aigw__routes_load_options o = {known, 4, fake_env, (void *)pairs};
    aigw__routes r;
    aigw_error *err = NULL;
    const char *ok = "{\"routes\": [{\"backends\": [{\"backend\": \"${BK}\"}]}]}";
    cr_assert_eq(aigw__routes_load_text(ok, strlen(ok), &o, &r, &err), AIGW_OK);
    cr_expect_str_eq(r.routes[0].backends[0].backend, "azure");
    aigw__routes_free(&r);
    const char *bad = "{\"routes\": [{\"backends\": [{\"backend\": \"${BAD}\"}]}]}";
    cr_assert_eq(aigw__routes_load_text(bad, strlen(bad), &o, &r, &err), AIGW_ECONFIG);
    cr_expect_str_eq(aigw_error_message(err), "routes[0].backends[0]: unknown backend \"azur\"");
    aigw_error_free(err);
    aigw__routes_free(&r);
}

Test(routes_env, real_environment_by_default) {
    setenv("AIGW_TEST_ROUTE_MODEL", "from-env", 1);
    aigw__routes_load_options o = {known, 4, NULL, NULL};
    aigw__routes r;
    aigw_error *err = NULL;
    const char *t = "{\"routes\": [{\"match\": {\"model\": \"${AIGW_TEST_ROUTE_MODEL}\"}, " B "}]}";
    cr_assert_eq(aigw__routes_load_text(t, strlen(t), &o, &r, &err), AIGW_OK);
    cr_expect_str_eq(r.routes[0].model_glob, "from-env");
    aigw__routes_free(&r);
}
