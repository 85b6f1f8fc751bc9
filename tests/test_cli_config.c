/* SPDX-License-Identifier: Apache-2.0 */
/* End-to-end tests of aigw-cli's config and budget commands and of the
 * call options chat and embed pass to aigw_call(): `config check` (every
 * kind of config error, with its JSON path, on stderr and exit 3),
 * `budgets` (table and --json, from memory and from a Redis that several
 * CLI processes share, Redis unreachable), `models` from the routes, and
 * --header/--team/--info. The built binary runs with a clean environment
 * (HOME a temp dir, no AIGW_* / OPENAI_*). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "cli_run.h"
#include "redis.h"
#include "sim.h"
#include "sim_pool.h"

#define SECRET "sk-SECRET-config-test"

/* ---- running the binary in a temp HOME ---- */

static char home_dir[256];

/* Runs aigw-cli with args (NULL-terminated, without argv[0]) in home_dir,
 * stdin empty, and env (extra "NAME=value" entries, NULL-terminated, may
 * be NULL). */
static cli_result run_cli_v(const char *const *env, const char *const *args) {
    return aigw_test_cli_run(&(aigw_test_cli_opts){.home = home_dir, .env = env}, args);
}

#define RUN(...) run_cli_v(NULL, ARGS(__VA_ARGS__))
#define RUN_ENV(envs, ...) run_cli_v((envs), ARGS(__VA_ARGS__))

/* ---- temp HOME and files ---- */

static void home_path(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", home_dir, rel);
}

/* Writes `text` to HOME/rel and puts its path in `path`. */
static void write_config(char *path, size_t size, const char *rel, const char *text) {
    home_path(path, size, rel);
    aigw_test_write_file(path, text);
}

static void setup_home(void) {
    aigw_test_temp_dir(home_dir, sizeof(home_dir), "aigw-cli-config-test");
}

static void teardown_home(void) {
    aigw_test_temp_dir_remove(home_dir);
}

/* `config check` of `text` fails: exit 3, nothing on stdout, and on stderr
 * exactly "aigw-cli: PATH: <message>\n" (exact) or a line starting
 * "aigw-cli: PATH: <message>" (!exact, for a message whose end may vary). */
static void check_fails(const char *text, const char *message, int exact) {
    char path[300], want[1024];
    write_config(path, sizeof(path), "bad.json", text);
    cli_result r = RUN("config", "check", path);
    assert_error(&r, 3, NULL);
    snprintf(want, sizeof(want), "aigw-cli: %s: %s%s", path, message, exact ? "\n" : "");
    if (exact) {
        cr_assert_str_eq(r.err, want, "config %s", text);
    } else {
        cr_assert(strncmp(r.err, want, strlen(want)) == 0, "want '%s...', got: %s", want, r.err);
    }
    result_free(&r);
}

#define assert_check_fails(text, message) check_fails((text), (message), 1)
#define assert_check_fails_with(text, prefix) check_fails((text), (prefix), 0)

#define OK_BACKENDS                                                                                \
    "\"backends\": {\"a\": {\"schema\": \"openai\", \"base_url\": \"http://127.0.0.1:9/v1\", "     \
    "\"api_key\": \"k\"}, \"b\": {\"schema\": \"openai\", \"base_url\": "                          \
    "\"http://127.0.0.1:9/v1\", \"api_key\": \"k\"}}"

/* A well-formed key hash (of no key in particular). */
#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ================= config check ================= */

TestSuite(cli_config_check, .init = setup_home, .fini = teardown_home, .timeout = 60);

Test(cli_config_check, valid_file_ok) {
    char path[300], want[1024];
    write_config(path, sizeof(path), "good.json",
                 "{" OK_BACKENDS ",\n"
                 " \"routes\": [{\"name\": \"chat\", \"match\": {\"model\": \"gpt-*\"},\n"
                 "              \"backends\": [{\"backend\": \"a\", \"weight\": 3},\n"
                 "                           {\"backend\": \"b\", \"priority\": 1}],\n"
                 "              \"retry\": {\"attempts\": 3, \"backoff_ms\": 10}}],\n"
                 " \"budgets\": [{\"name\": \"daily\", \"cost\": \"total_tokens\",\n"
                 "               \"limit\": {\"type\": \"window\", \"per\": \"day\", "
                 "\"max\": 1000}}]}\n");
    cli_result r = RUN("config", "check", path);
    assert_exit(&r, 0);
    snprintf(want, sizeof(want), "%s: ok\n", path);
    cr_assert_str_eq(r.out, want);
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    result_free(&r);

    /* -v counts what the file declares. */
    r = RUN("config", "check", "-v", path);
    assert_exit(&r, 0);
    snprintf(want, sizeof(want), "%s: ok (2 backends, 1 route, 1 budget)\n", path);
    cr_assert_str_eq(r.out, want);
    result_free(&r);

    /* An empty object is a valid config. */
    write_config(path, sizeof(path), "empty.json", "{}");
    r = RUN("config", "check", "-v", path);
    assert_exit(&r, 0);
    snprintf(want, sizeof(want), "%s: ok (0 backends, 0 routes, 0 budgets)\n", path);
    cr_assert_str_eq(r.out, want);
    result_free(&r);
}

Test(cli_config_check, unknown_keys) {
    assert_check_fails_with("{\"bogus\": 1}", "config: unknown key \"bogus\"");
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\"}], "
                       "\"bogus\": true}]}",
                       "routes[0]: unknown key \"bogus\" (known: name, match, backends, retry)");
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\"}], "
                       "\"retry\": {\"attempt\": 2}}]}",
                       "routes[0].retry: unknown key \"attempt\" (known: attempts, backoff_ms, "
                       "max_backoff_ms, timeouts_ms)");
    assert_check_fails_with("{\"budgets\": [{\"name\": \"x\", \"cost\": \"1\", \"limit\": "
                            "{\"type\": \"window\", \"per\": \"day\", \"max\": 1}, "
                            "\"colour\": \"red\"}]}",
                            "budgets[0]: unknown key \"colour\" (known: name, scope, cost, "
                            "limit, on_store_error)");
}

Test(cli_config_check, wrong_types) {
    assert_check_fails("{\"backends\": {\"x\": {\"schema\": \"openai\", \"base_url\": 5}}}",
                       "backends.x.base_url: must be a string");
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\", "
                       "\"weight\": \"3\"}]}]}",
                       "routes[0].backends[0].weight: must be an integer");
    assert_check_fails_with("{" OK_BACKENDS ", \"routes\": {}}", "routes: must be an array");
}

Test(cli_config_check, dangling_references) {
    /* The issue's own example: the third route's first backend. */
    assert_check_fails(
        "{" OK_BACKENDS ",\n \"routes\": [\n"
        "  {\"match\": {\"model\": \"a-*\"}, \"backends\": [{\"backend\": \"a\"}]},\n"
        "  {\"match\": {\"model\": \"b-*\"}, \"backends\": [{\"backend\": \"b\"}]},\n"
        "  {\"backends\": [{\"backend\": \"azur\"}, {\"backend\": \"a\"}]}]}\n",
        "routes[2].backends[0]: unknown backend \"azur\"");
    assert_check_fails("{\"backends\": {\"x\": {\"schema\": \"openai\", \"base_url\": "
                       "\"http://127.0.0.1:9/v1\", \"credential\": \"nope\"}}}",
                       "backends.x.credential: unknown credential \"nope\"");
    /* An environment variable the config names but nobody set. */
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\", "
                       "\"model\": \"${AIGW_TEST_UNSET_DEPLOYMENT}\"}]}]}",
                       "routes[0].backends[0].model: environment variable "
                       "\"AIGW_TEST_UNSET_DEPLOYMENT\" is not set");
}

Test(cli_config_check, impossible_values) {
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\"}], "
                       "\"retry\": {\"attempts\": 0}}]}",
                       "routes[0].retry.attempts: 0 is out of range (1 to 20)");
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"a\"}], "
                       "\"retry\": {\"timeouts_ms\": {\"connect\": 5000, \"total\": 1000}}}]}",
                       "routes[0].retry.timeouts_ms: connect (5000) must not exceed total (1000)");
    assert_check_fails("{\"budgets\": [{\"name\": \"x\", \"cost\": \"total_tokens\", \"limit\": "
                       "{\"type\": \"window\", \"per\": \"fortnight\", \"max\": 10}}]}",
                       "budgets[0].limit.per: must be minute, hour, day or month");
    assert_check_fails("{" OK_BACKENDS ", \"routes\": [{\"backends\": []}]}",
                       "routes[0].backends: must not be empty");
}

/* The policy keys of issue #13: routing and the gateway's direct access,
 * keys' user, trust, models and routes; and serve's identity rule. */
Test(cli_config_check, policy_keys) {
    char path[300], want[1024];
    write_config(
        path, sizeof(path), "policy.json",
        "{" OK_BACKENDS ", \"routing\": {\"allow_direct_backends\": false},\n"
        " \"routes\": [{\"name\": \"chat\", \"backends\": [{\"backend\": \"a\"}]}],\n"
        " \"budgets\": [{\"name\": \"u\", \"scope\": {\"user\": \"*\", \"route\": "
        "[\"chat\", \"direct\"]}, \"cost\": \"requests\", \"limit\": {\"type\": \"window\", "
        "\"per\": \"day\", \"max\": 9}}],\n"
        " \"gateway\": {\"allow_direct_backends\": true, \"user_header\": \"x-user\", \"keys\": "
        "[{\"sha256\": \"" HASH64 "\", \"user\": \"svc\", \"models\": [\"gpt-*\"], "
        "\"routes\": [\"chat\", \"direct\"]},"
        " {\"sha256\": \"" HASH64 "\", \"trusted_user_header\": true}]}}\n");
    cli_result r = RUN("config", "check", path);
    assert_exit(&r, 0);
    snprintf(want, sizeof(want), "%s: ok\n", path);
    cr_assert_str_eq(r.out, want, "stderr: %s", r.err);
    result_free(&r);

    assert_check_fails("{\"routing\": {\"allow_direct\": true}}",
                       "routing: unknown key \"allow_direct\" (known: allow_direct_backends)");
    assert_check_fails("{\"gateway\": {\"allow_direct_backends\": \"yes\"}}",
                       "gateway.allow_direct_backends: must be true or false");
    assert_check_fails("{\"gateway\": {\"keys\": [{\"sha256\": \"" HASH64 "\", "
                       "\"routes\": [\"chat\"]}]}}",
                       "gateway.keys[0].routes[0]: unknown route \"chat\" (a route's name, or "
                       "\"direct\")");
    /* user budgets with no key that can name a user: forgeable */
    assert_check_fails_with("{\"gateway\": {\"user_header\": \"x-user\", \"keys\": "
                            "[{\"sha256\": \"" HASH64 "\"}]}, \"budgets\": [{\"name\": \"u\", "
                            "\"scope\": {\"user\": \"*\"}, \"cost\": \"requests\", "
                            "\"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 9}}]}",
                            "budgets[0].scope.user: serve has no trusted user identity: no gateway "
                            "key has \"user\" or \"trusted_user_header\": true");
}

Test(cli_config_check, malformed_json) {
    char path[300];
    write_config(path, sizeof(path), "broken.json", "{\"backends\": {\"x\": ");
    cli_result r = RUN("config", "check", path);
    assert_error(&r, 3, path);
    result_free(&r);
}

Test(cli_config_check, unreadable_files_exit_3) {
    char path[300];
    home_path(path, sizeof(path), "missing.json");
    cli_result r = RUN("config", "check", path);
    assert_error(&r, 3, path);
    cr_assert(strstr(r.err, "No such file or directory"), "%s", r.err);
    result_free(&r);

    /* A directory is not a config file either. */
    r = RUN("config", "check", home_dir);
    assert_error(&r, 3, home_dir);
    result_free(&r);
}

Test(cli_config_check, several_files) {
    char good[300], bad[300], want[1024];
    write_config(good, sizeof(good), "good.json", "{" OK_BACKENDS "}");
    write_config(bad, sizeof(bad), "bad.json",
                 "{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"c\"}]}]}");
    cli_result r = RUN("config", "check", good, bad, good);
    assert_exit(&r, 3);
    snprintf(want, sizeof(want), "%s: ok\n%s: ok\n", good, good);
    cr_assert_str_eq(r.out, want);
    snprintf(want, sizeof(want), "aigw-cli: %s: routes[0].backends[0]: unknown backend \"c\"\n",
             bad);
    cr_assert_str_eq(r.err, want);
    result_free(&r);
}

Test(cli_config_check, without_file_checks_the_config_in_use) {
    char path[300], env[400], want[1024];
    write_config(path, sizeof(path), "env.json", "{" OK_BACKENDS "}");
    snprintf(env, sizeof(env), "AIGW_CONFIG=%s", path);
    const char *const envs[] = {env, NULL};
    cli_result r = RUN_ENV(envs, "config", "check");
    assert_exit(&r, 0);
    snprintf(want, sizeof(want), "%s: ok\n", path);
    cr_assert_str_eq(r.out, want);
    result_free(&r);

    r = RUN("--config", path, "config", "check");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, want);
    result_free(&r);

    /* Nothing to check: a usage error. */
    r = RUN("config", "check");
    assert_error(&r, 2, "no config file to check");
    result_free(&r);
}

Test(cli_config_check, usage) {
    const char *const *cases[] = {
        ARGS("config"),
        ARGS("config", "lint", "x.json"),
        ARGS("config", "check", "--bogus", "x.json"),
        ARGS("config", "check", "--json", "x.json"),
        ARGS("budgets", "extra"),
        ARGS("chat", "-m", "mock/echo", "--header", "no-colon", "hi"),
        ARGS("chat", "-m", "mock/echo", "-H", ":empty-name", "hi"),
        ARGS("embed", "-m", "mock/embed", "-H", "bad name:x", "hi"),
        ARGS("chat", "-m", "mock/echo", "hi", "--user"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result r = run_cli_v(NULL, cases[i]);
        assert_error(&r, 2, NULL);
        result_free(&r);
    }
    const char *const *helps[] = {ARGS("config", "--help"), ARGS("help", "config"),
                                  ARGS("budgets", "-h"), ARGS("help", "budgets")};
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
        cli_result r = run_cli_v(NULL, helps[i]);
        assert_exit(&r, 0);
        cr_assert(strncmp(r.out, "Usage: aigw-cli", 15) == 0, "case %zu: %s", i, r.out);
        result_free(&r);
    }
    cli_result r = RUN("--help");
    cr_assert(strstr(r.out, "  config ") && strstr(r.out, "  budgets "), "%s", r.out);
    result_free(&r);
    r = RUN("chat", "--help");
    cr_assert(strstr(r.out, "--header NAME:VALUE") && strstr(r.out, "--info"), "%s", r.out);
    result_free(&r);
}

/* ================= budgets with the memory store ================= */

TestSuite(cli_budgets, .init = setup_home, .fini = teardown_home, .timeout = 60);

/* The line of `table` that contains every one of the NULL-terminated
 * needles, or the test fails. */
static const char *table_line(const char *table, const char *const *needles) {
    for (const char *line = table; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
        int all = 1;
        for (size_t i = 0; needles[i]; i++) {
            all = all && strstr(buf, needles[i]) != NULL;
        }
        if (all) {
            return line;
        }
        line = end ? end + 1 : NULL;
    }
    cr_assert_fail("no line with '%s'... in:\n%s", needles[0], table);
    return NULL;
}

Test(cli_budgets, no_budgets) {
    cli_result r = RUN("budgets");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "no budgets configured\n");
    result_free(&r);

    char path[300];
    write_config(path, sizeof(path), "none.json", "{\"backends\": {}}");
    r = RUN("budgets", "--config", path, "--json");
    assert_exit(&r, 0);
    json_object *j = json_tokener_parse(r.out);
    cr_assert_not_null(j, "%s", r.out);
    json_object *budgets = NULL;
    cr_assert(json_object_object_get_ex(j, "budgets", &budgets));
    cr_assert_eq(json_object_array_length(budgets), 0);
    json_object_put(j);
    result_free(&r);
}

#define MEMORY_BUDGETS                                                                             \
    "{\"budgets\": [\n"                                                                            \
    " {\"name\": \"burst\", \"cost\": \"total_tokens\",\n"                                         \
    "  \"limit\": {\"type\": \"token_bucket\", \"capacity\": 2000, \"refill_per_second\": 10}},\n" \
    " {\"name\": \"daily\", \"cost\": \"total_tokens\",\n"                                         \
    "  \"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1500000}},\n"                  \
    " {\"name\": \"per-team\", \"scope\": {\"team\": \"*\"}, \"cost\": \"total_tokens\",\n"        \
    "  \"limit\": {\"type\": \"window\", \"per\": \"hour\", \"max\": 500}},\n"                     \
    " {\"name\": \"spend\", \"cost\": {\"prices\": {\"*\": {\"input\": 2.5, \"output\": 10}}},\n"  \
    "  \"limit\": {\"type\": \"window\", \"per\": \"month\", \"max\": 12.5}}],\n"                  \
    " \"accounting\": {\"default_max_tokens\": 16}}\n"

Test(cli_budgets, memory_table_and_json) {
    char path[300];
    write_config(path, sizeof(path), "mem.json", MEMORY_BUDGETS);
    cli_result r = RUN("budgets", "--config", path);
    assert_exit(&r, 0);
    cr_assert(strncmp(r.out, "BUDGET", 6) == 0, "%s", r.out);
    cr_assert(strstr(r.out, "INSTANCE") && strstr(r.out, "LIMIT") && strstr(r.out, "REMAINING") &&
                  strstr(r.out, "RESET"),
              "%s", r.out);
    cr_assert_eq(count_lines(r.out), 5, "%s", r.out);
    /* A fresh process: every counter is full. */
    table_line(r.out, ARGS("burst ", " - ", "2000 +10/s", " 2000 ", "0s"));
    table_line(r.out, ARGS("daily ", "1.5M/day", " 1.5M "));
    table_line(r.out, ARGS("per-team ", "(none yet)", "500/hour"));
    /* A price table counts dollars. */
    table_line(r.out, ARGS("spend ", " - ", "$12.50/month", " $12.50 "));
    /* ... and it says why the counters are full. */
    cr_assert(strstr(r.err, "memory"), "stderr: %s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "stderr: %s", r.err);
    result_free(&r);

    r = RUN("budgets", "--json", "--config", path);
    assert_exit(&r, 0);
    cr_assert_eq(count_lines(r.out), 1, "%s", r.out);
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    json_object *j = json_tokener_parse(r.out), *v = NULL;
    cr_assert_not_null(j, "%s", r.out);
    cr_assert(json_object_object_get_ex(j, "store", &v));
    cr_assert_str_eq(json_object_get_string(v), "memory");
    cr_assert(json_object_object_get_ex(j, "budgets", &v));
    cr_assert_eq(json_object_array_length(v), 4);
    json_object *name = NULL;
    cr_assert(json_object_object_get_ex(json_object_array_get_idx(v, 0), "name", &name));
    cr_assert_str_eq(json_object_get_string(name), "burst");
    json_object_put(j);
    result_free(&r);
}

Test(cli_budgets, info_after_a_call) {
    char path[300];
    write_config(path, sizeof(path), "mem.json", MEMORY_BUDGETS);
    cli_result r =
        RUN("chat", "--config", path, "--team", "search", "--info", "-m", "mock/echo", "a b c");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "a b c\n");
    cr_assert(strstr(r.err, "call: backend=mock "), "stderr: %s", r.err);
    cr_assert(strstr(r.err, " attempts=1"), "stderr: %s", r.err);
    cr_assert(strstr(r.err, " input_tokens=3 output_tokens=3\n"), "stderr: %s", r.err);
    /* The tightest budget: the team's 500 per hour, with this call's 6
     * tokens (or, still, its estimate) taken. */
    const char *b = strstr(r.err, "budget: per-team limit=500 remaining=");
    cr_assert(b, "stderr: %s", r.err);
    double remaining = strtod(b + strlen("budget: per-team limit=500 remaining="), NULL);
    cr_assert(remaining <= 494 && remaining >= 400, "stderr: %s", r.err);
    cr_assert(strstr(b, " reset="), "stderr: %s", r.err);
    result_free(&r);

    r = RUN("embed", "--config", path, "--info", "-m", "mock/embed", "x");
    assert_exit(&r, 0);
    cr_assert(strstr(r.err, "call: backend=mock "), "stderr: %s", r.err);
    cr_assert(strstr(r.err, "budget: "), "stderr: %s", r.err);
    result_free(&r);
}

/* ================= budgets shared through Redis ================= */

static aigw_test_redis redis;

static void setup_redis(void) {
    setup_home();
    int rc = aigw_test_redis_start(&redis, 0);
    if (rc == 1) {
        cr_skip_test("redis-server is not installed");
    }
    cr_assert_eq(rc, 0, "redis-server did not start");
}

static void teardown_redis(void) {
    aigw_test_redis_stop(&redis);
    teardown_home();
}

TestSuite(cli_budgets_redis, .init = setup_redis, .fini = teardown_redis, .timeout = 120);

static void redis_config(char *path, size_t size, int port, const char *budgets) {
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"backends\": {},\n"
             " \"budgets\": %s,\n"
             " \"accounting\": {\"store\": {\"type\": \"redis\", \"host\": \"127.0.0.1\", "
             "\"port\": %d, \"prefix\": \"cli-test:\", \"timeout_ms\": 1000},\n"
             "                \"default_max_tokens\": 16}}\n",
             budgets, port);
    write_config(path, size, "redis.json", text);
}

static double counter_remaining(json_object *status, const char *budget, const char *instance) {
    json_object *budgets = NULL;
    cr_assert(json_object_object_get_ex(status, "budgets", &budgets));
    for (size_t i = 0; i < json_object_array_length(budgets); i++) {
        json_object *b = json_object_array_get_idx(budgets, i), *name = NULL, *counters = NULL;
        if (!json_object_object_get_ex(b, "name", &name) ||
            strcmp(json_object_get_string(name), budget) != 0) {
            continue;
        }
        cr_assert(json_object_object_get_ex(b, "counters", &counters));
        for (size_t k = 0; k < json_object_array_length(counters); k++) {
            json_object *c = json_object_array_get_idx(counters, k), *inst = NULL, *rem = NULL;
            if (json_object_object_get_ex(c, "instance", &inst) &&
                strcmp(json_object_get_string(inst), instance) == 0) {
                cr_assert(json_object_object_get_ex(c, "remaining", &rem));
                return json_object_get_double(rem);
            }
        }
    }
    cr_assert_fail("no counter %s [%s] in %s", budget, instance,
                   json_object_to_json_string(status));
    return 0;
}

Test(cli_budgets_redis, spending_is_shared_between_processes) {
    char path[300];
    redis_config(path, sizeof(path), redis.port,
                 "[{\"name\": \"daily\", \"cost\": \"total_tokens\",\n"
                 "  \"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1000}},\n"
                 " {\"name\": \"per-team\", \"scope\": {\"team\": \"*\"}, \"cost\": "
                 "\"total_tokens\",\n"
                 "  \"limit\": {\"type\": \"window\", \"per\": \"hour\", \"max\": 500}}]");
    /* Three processes spend 6 tokens each (3 in, 3 out). */
    const char *teams[] = {"search", "search", "ads"};
    for (size_t i = 0; i < 3; i++) {
        cli_result r =
            RUN("chat", "--config", path, "--team", teams[i], "-m", "mock/echo", "one two three");
        assert_exit(&r, 0);
        cr_assert_str_eq(r.out, "one two three\n");
        result_free(&r);
    }
    cli_result r = RUN("budgets", "--config", path);
    assert_exit(&r, 0);
    cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
    cr_assert_eq(count_lines(r.out), 4, "%s", r.out);
    table_line(r.out, ARGS("daily ", " - ", "1000/day", " 982 "));
    table_line(r.out, ARGS("per-team ", "team=search", "500/hour", " 488 "));
    table_line(r.out, ARGS("per-team ", "team=ads", "500/hour", " 494 "));
    result_free(&r);

    r = RUN("budgets", "--json", "--config", path);
    assert_exit(&r, 0);
    json_object *j = json_tokener_parse(r.out), *store = NULL;
    cr_assert_not_null(j, "%s", r.out);
    cr_assert(json_object_object_get_ex(j, "store", &store));
    cr_assert_str_eq(json_object_get_string(store), "redis");
    cr_assert_float_eq(counter_remaining(j, "daily", ""), 982, 1e-6);
    cr_assert_float_eq(counter_remaining(j, "per-team", "team=search"), 488, 1e-6);
    cr_assert_float_eq(counter_remaining(j, "per-team", "team=ads"), 494, 1e-6);
    json_object_put(j);
    result_free(&r);
}

Test(cli_budgets_redis, exhausted_budget_exit_5) {
    char path[300];
    redis_config(path, sizeof(path), redis.port,
                 "[{\"name\": \"tiny\", \"cost\": \"total_tokens\",\n"
                 "  \"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 40}}]");
    /* Each call reserves its estimate (prompt + max_tokens) and settles
     * with 2 tokens; the budget refuses once the estimate no longer fits. */
    int refused = 0, calls = 0;
    for (; calls < 30 && !refused; calls++) {
        cli_result r =
            RUN("chat", "--config", path, "--max-tokens", "16", "--info", "-m", "mock/echo", "a");
        if (r.exit_code == 0) {
            cr_assert_str_eq(r.out, "a\n");
            cr_assert(strstr(r.err, "budget: tiny limit=40 "), "stderr: %s", r.err);
        } else {
            assert_exit(&r, 5);
            cr_assert_eq(r.out_len, 0, "%s", r.out);
            cr_assert(strstr(r.err, "tiny"), "stderr: %s", r.err);
            cr_assert(strstr(r.err, "(AIGW_EBUDGET"), "stderr: %s", r.err);
            cr_assert(strstr(r.err, "call: backend=") && strstr(r.err, " attempts=0"),
                      "refused before any upstream attempt: %s", r.err);
            cr_assert(strstr(r.err, " retry_after="), "stderr: %s", r.err);
            refused = 1;
        }
        result_free(&r);
    }
    cr_assert(refused, "the budget never refused in %d calls", calls);
    cr_assert(calls > 1, "the first call should fit");
    cli_result r = RUN("budgets", "--config", path);
    assert_exit(&r, 0);
    table_line(r.out, ARGS("tiny ", "40/day"));
    result_free(&r);
}

Test(cli_budgets_redis, unreachable_redis_exit_8) {
    char path[300];
    int port = aigw_test_free_port();
    redis_config(path, sizeof(path), port,
                 "[{\"name\": \"daily\", \"cost\": \"total_tokens\",\n"
                 "  \"limit\": {\"type\": \"window\", \"per\": \"day\", \"max\": 1000}}]");
    cli_result r = RUN("budgets", "--config", path);
    assert_error(&r, 8, NULL);
    result_free(&r);
    r = RUN("budgets", "--json", "--config", path);
    assert_error(&r, 8, NULL);
    result_free(&r);
}

/* ================= routes: models, headers, call info ================= */

static aigw_test_sim sim;
static int sim_running;

static void setup_sim(void) {
    static const char *const sim_args[] = {"--api-key", SECRET, NULL};
    setup_home();
    cr_assert_eq(aigw_test_sim_start(&sim, sim_args), 0, "the simulator did not start");
    sim_running = 1;
}

static void teardown_sim(void) {
    if (sim_running) {
        aigw_test_sim_stop(&sim);
        sim_running = 0;
    }
    teardown_home();
}

TestSuite(cli_routes, .init = setup_sim, .fini = teardown_sim, .timeout = 120);

static void routes_config(char *path, size_t size) {
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"backends\": {\n"
             "  \"primary\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" SECRET
             "\"},\n"
             "  \"secondary\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": "
             "\"" SECRET "\"},\n"
             "  \"broken\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" SECRET
             "\", \"headers\": {\"x-sim-fault\": \"status=500\"}}},\n"
             " \"routes\": [\n"
             "  {\"name\": \"search\", \"match\": {\"model\": \"gpt-4o\", \"headers\": "
             "{\"x-team\": \"search\"}},\n"
             "   \"backends\": [{\"backend\": \"primary\", \"model\": \"gpt-4o-mini\"}]},\n"
             "  {\"name\": \"chat\", \"match\": {\"model\": \"gpt-4o\"},\n"
             "   \"backends\": [{\"backend\": \"broken\", \"model\": \"gpt-4o-mini\"},\n"
             "                {\"backend\": \"secondary\", \"model\": \"gpt-4o-mini\", "
             "\"priority\": 1}],\n"
             "   \"retry\": {\"attempts\": 2, \"backoff_ms\": 1, \"max_backoff_ms\": 5}},\n"
             "  {\"name\": \"embeddings\", \"match\": {\"model\": \"text-embedding-3-small\"},\n"
             "   \"backends\": [{\"backend\": \"primary\"}]}]}\n",
             sim.base_url, sim.base_url, sim.base_url);
    write_config(path, size, "routes.json", text);
}

Test(cli_routes, models_lists_the_routes_models) {
    char path[300];
    routes_config(path, sizeof(path));
    cli_result r = RUN("models", "--config", path);
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "gpt-4o\n"), "%s", r.out);
    cr_assert(strstr(r.out, "text-embedding-3-small\n"), "%s", r.out);
    cr_assert(!strstr(r.out, "primary/") && !strstr(r.out, "mock/"),
              "only the routes' plain names: %s", r.out);
    result_free(&r);

    /* One backend's own list is still there. */
    r = RUN("models", "--config", path, "primary");
    assert_exit(&r, 0);
    cr_assert(strstr(r.out, "primary/"), "%s", r.out);
    result_free(&r);
}

Test(cli_routes, header_picks_the_route) {
    char path[300];
    routes_config(path, sizeof(path));
    cli_result r =
        RUN("chat", "--config", path, "-H", "X-Team: search", "--info", "-m", "gpt-4o", "ping");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: ping\n");
    cr_assert(strstr(r.err, "call: backend=primary model=gpt-4o-mini attempts=1"), "stderr: %s",
              r.err);
    result_free(&r);
}

Test(cli_routes, fallback_after_a_failing_backend) {
    char path[300];
    routes_config(path, sizeof(path));
    /* No header: the "chat" route; its first backend answers 500, the
     * lower tier serves. */
    cli_result r = RUN("chat", "--config", path, "--info", "--no-stream", "-m", "gpt-4o", "ping");
    assert_exit(&r, 0);
    cr_assert_str_eq(r.out, "echo: ping\n");
    cr_assert(strstr(r.err, "call: backend=secondary model=gpt-4o-mini attempts=2"), "stderr: %s",
              r.err);
    result_free(&r);

    r = RUN("embed", "--config", path, "--info", "-m", "text-embedding-3-small", "x");
    assert_exit(&r, 0);
    cr_assert(strstr(r.err, "call: backend=primary model=text-embedding-3-small attempts=1"),
              "stderr: %s", r.err);
    result_free(&r);
}

/* ================= serve: SIGHUP reloads the config ================= */

TestSuite(cli_serve_reload, .init = setup_home, .fini = teardown_home, .timeout = 60);

typedef struct serve_proc {
    pid_t pid;
    char log_path[300]; /* its stderr */
} serve_proc;

/* Starts `aigw-cli serve --config PATH --listen 127.0.0.1:0 --workers 1`
 * and waits for its "listening on port N" line. */
static void serve_start(serve_proc *s, const char *config) {
    int out[2];
    char home_env[300];
    home_path(s->log_path, sizeof(s->log_path), "serve.log");
    snprintf(home_env, sizeof(home_env), "HOME=%s", home_dir);
    cr_assert(pipe(out) == 0);
    s->pid = fork();
    cr_assert(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(log, 2);
        close(out[0]);
        close(out[1]);
        const char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home_env, "LC_ALL=C", NULL};
        execle(AIGW_CLI_PATH, AIGW_CLI_PATH, "serve", "--config", config, "--listen", "127.0.0.1:0",
               "--workers", "1", (char *)NULL, envp);
        _exit(127);
    }
    close(out[1]);
    char line[256];
    aigw_test_read_line(out[0], line, sizeof(line), 10000);
    close(out[0]);
    cr_assert(strstr(line, "listening on port "), "serve did not start: '%s'", line);
}

static void serve_log(const serve_proc *s, char *buf, size_t cap) {
    FILE *f = fopen(s->log_path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) {
        fclose(f);
    }
}

/* Sends SIGHUP and waits for the log to contain `needle`. */
static void hup_and_expect(const serve_proc *s, const char *needle) {
    char log[8192];
    cr_assert_eq(kill(s->pid, SIGHUP), 0);
    double deadline = aigw_test_now_ms() + 5000;
    do {
        serve_log(s, log, sizeof(log));
        if (strstr(log, needle)) {
            return;
        }
        usleep(20000);
    } while (aigw_test_now_ms() < deadline);
    cr_assert_fail("serve's stderr lacks '%s': %s", needle, log);
}

/* Replaces the file in one step, as editors and deploy tools do. */
static void replace_config(const char *path, const char *text) {
    cr_assert_eq(aigw_test_write_file_atomic(path, text), 0, "cannot replace %s", path);
}

Test(cli_serve_reload, sighup_reloads_or_refuses) {
    char path[300], want[1024];
    write_config(path, sizeof(path), "serve.json", "{" OK_BACKENDS "}");
    serve_proc s;
    serve_start(&s, path);

    replace_config(path,
                   "{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"azur\"}]}]}");
    snprintf(want, sizeof(want),
             "aigw-cli: SIGHUP: %s refused, still serving the previous config: "
             "routes[0].backends[0]: unknown backend \"azur\" (AIGW_ECONFIG)\n",
             path);
    hup_and_expect(&s, want);

    replace_config(path, "{" OK_BACKENDS ", \"routes\": [{\"backends\": [{\"backend\": \"b\"}]}]}");
    snprintf(want, sizeof(want), "aigw-cli: SIGHUP: reloaded %s\n", path);
    hup_and_expect(&s, want);

    /* Still serving: SIGTERM stops it cleanly. */
    int status = 0;
    cr_assert_eq(waitpid(s.pid, &status, WNOHANG), 0, "serve exited (status %d)", status);
    kill(s.pid, SIGTERM);
    cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
