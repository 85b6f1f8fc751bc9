/* SPDX-License-Identifier: Apache-2.0 */
/* End-to-end tests of aigw-cli: the built binary run with a clean
 * environment (HOME a temp dir, no AIGW_* / OPENAI_*), against the built-in
 * mock backend and the provider simulator. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "aigw/version.h"
#include "cli_run.h"
#include "sim.h"

#define SECRET "sk-SECRET-123456"
#define WRONG_SECRET "sk-SECRET-WRONG-999"

/* ---- running the binary in a temp HOME ---- */

typedef aigw_test_cli_opts cli_run_opts;

static char home_dir[256];

/* Runs aigw-cli with argv (NULL-terminated, without argv[0]) in home_dir. */
static cli_result run_cli_v(const cli_run_opts *o, const char *const *args) {
    cli_run_opts in_home = *o;
    in_home.home = home_dir;
    return aigw_test_cli_run(&in_home, args);
}

/* RUN(result, "chat", "-m", "mock/echo", "hi") with no stdin and no env. */
#define RUN(...) run_cli_v(&(cli_run_opts){0}, ARGS(__VA_ARGS__))
#define RUN_ENV(envs, ...) run_cli_v(&(cli_run_opts){.env = (envs)}, ARGS(__VA_ARGS__))
#define RUN_IN(text, ...) run_cli_v(&(cli_run_opts){.stdin_text = (text)}, ARGS(__VA_ARGS__))

static void assert_no_secret(const cli_result *r) {
    cr_assert(!strstr(r->out, "SECRET"), "secret on stdout: %s", r->out);
    cr_assert(!strstr(r->err, "SECRET"), "secret on stderr: %s", r->err);
}

/* ---- temp HOME, files, the simulator ---- */

static void home_path(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", home_dir, rel);
}

static void setup_home(void) {
    aigw_test_temp_dir(home_dir, sizeof(home_dir), "aigw-cli-test");
}

static void teardown_home(void) {
    aigw_test_temp_dir_remove(home_dir);
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
    aigw_test_write_file(config_path, cfg);
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
    cr_assert_str_eq(r.out, "aigw-cli " AIGW_VERSION_STRING " (libaigw " AIGW_VERSION_STRING ")\n");
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
    aigw_test_write_file(path, "{\"backends\": {\"x\": ");
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
    aigw_test_write_file(path, "{\"backends\": {\"x\": ");
    /* Found and loaded: the malformed file is reported. */
    cli_result r = RUN("chat", "-m", "mock/echo", "hi");
    assert_error(&r, 3, NULL);
    result_free(&r);
    /* --config wins over it. */
    char good[300];
    home_path(good, sizeof(good), "good.json");
    aigw_test_write_file(good, "{\"backends\": {}}");
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

Test(cli_sim, replay_tool_calls_printed) {
    cli_result r = RUN_ENV(sim_env, "chat", "--no-stream", "--config", config_path, "-m",
                           "rtools/gpt-4o-mini", "weather?");
    assert_exit(&r, 0);
    cr_assert_str_eq(
        r.out,
        "[tool call] get_current_weather({\"location\":\"Boston, MA\",\"unit\":\"fahrenheit\"})\n");
    result_free(&r);
}

Test(cli_sim, replay_openai_stream) {
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
