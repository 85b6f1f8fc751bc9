/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli reads as people expect: piped standard input as (or after) the
 * prompt, a cap on what it reads (--max-input), -o KEY=VALUE for any
 * request field, --request FILE for a whole request. The request that
 * reaches the provider is read back from the simulator (/sim/last-request). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "cli_run.h"
#include "http_client.h"
#include "sim.h"

#define SIM_KEY "sk-cli-input-key"

static char home_dir[256];
static char config_path[300];
static aigw_test_sim sim;
static int sim_running;

static cli_result run_in(const char *stdin_text, const char *const *args) {
    static const char *const env[] = {"SIM_KEY=" SIM_KEY, NULL};
    aigw_test_cli_opts o = {.home = home_dir, .stdin_text = stdin_text, .env = env};
    return aigw_test_cli_run(&o, args);
}

#define RUN_IN(text, ...) run_in((text), ARGS(__VA_ARGS__))
#define RUN(...) run_in(NULL, ARGS(__VA_ARGS__))

static void setup(void) {
    signal(SIGPIPE, SIG_IGN); /* the CLI may stop reading a too-long stdin */
    aigw_test_temp_dir(home_dir, sizeof home_dir, "aigw-cli-input");
}

static void teardown(void) {
    if (sim_running) {
        aigw_test_sim_stop(&sim);
        sim_running = 0;
    }
    aigw_test_temp_dir_remove(home_dir);
}

static void setup_sim(void) {
    setup();
    const char *args[] = {"--api-key", SIM_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    sim_running = 1;
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\","
             "\"api_key_env\":\"SIM_KEY\"}}}",
             sim.base_url);
    snprintf(config_path, sizeof config_path, "%s/aigw.json", home_dir);
    aigw_test_write_file(config_path, cfg);
}

/* The body of the last request the simulator got, parsed. */
static json_object *last_body(void) {
    aigw_test_resp r = aigw_test_http(sim.port, "GET", "/sim/last-request", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_object *o = aigw_test_json_parse(r.body);
    json_object *b = aigw_test_json_at(o, "body");
    cr_assert(b && json_object_is_type(b, json_type_string), "%s", r.body);
    json_object *body = aigw_test_json_parse(json_object_get_string(b));
    json_object_put(o);
    aigw_test_resp_free(&r);
    return body;
}

static void file_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", home_dir, name);
}

/* ---- standard input ---- */

TestSuite(cli_stdin, .init = setup, .fini = teardown, .timeout = 90);

Test(cli_stdin, piped_stdin_is_the_prompt) {
    cli_result r = RUN_IN("hello from a pipe\n", "chat", "-m", "mock/echo");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "hello from a pipe\n");
    result_free(&r);
    /* -, as before, also when stdin is piped */
    r = RUN_IN("dash input\n\n", "chat", "-m", "mock/echo", "--no-stream", "-");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "dash input\n");
    result_free(&r);
}

Test(cli_stdin, piped_stdin_is_appended_to_the_prompt) {
    cli_result r = RUN_IN("line one\nline two\n", "chat", "-m", "mock/echo", "Summarize:");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "Summarize:\n\nline one\nline two\n");
    result_free(&r);
    /* an empty stdin adds nothing */
    r = RUN_IN("", "chat", "-m", "mock/echo", "just", "this");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "just this\n");
    result_free(&r);
}

Test(cli_stdin, empty_input_is_a_usage_error) {
    cli_result r = RUN_IN("", "chat", "-m", "mock/echo");
    assert_error(&r, 2, "missing PROMPT");
    result_free(&r);
    r = RUN_IN("\n\n", "chat", "-m", "mock/echo");
    assert_error(&r, 2, "standard input is empty");
    result_free(&r);
    r = RUN_IN("", "chat", "-m", "mock/echo", "-");
    assert_error(&r, 2, "missing PROMPT");
    result_free(&r);
    r = RUN_IN("", "embed", "-m", "mock/embed");
    assert_error(&r, 2, "missing TEXT");
    result_free(&r);
}

Test(cli_stdin, embed_reads_piped_lines) {
    cli_result r = RUN_IN("first\n\nsecond\n", "embed", "-m", "mock/embed", "--dimensions", "3");
    assert_exit(&r, 0);
    cr_expect_eq(count_lines(r.out), 2, "%s", r.out);
    result_free(&r);
    /* TEXT given: stdin is not read */
    r = RUN_IN("ignored\nlines\nhere\n", "embed", "-m", "mock/embed", "--dimensions", "3", "only");
    assert_exit(&r, 0);
    cr_expect_eq(count_lines(r.out), 1, "%s", r.out);
    result_free(&r);
}

Test(cli_stdin, max_input_caps_stdin) {
    static char text[5001];
    memset(text, 'a', 5000);
    cli_result r = RUN_IN(text, "chat", "-m", "mock/echo", "--max-input", "4K");
    assert_error(&r, 2, "larger than --max-input (4096 bytes)");
    result_free(&r);
    r = RUN_IN(text, "chat", "-m", "mock/echo", "--max-input", "5000", "--no-stream");
    assert_exit(&r, 0);
    cr_expect_eq(r.out_len, 5001);
    result_free(&r);
    r = RUN_IN(text, "embed", "-m", "mock/embed", "--max-input", "1k");
    assert_error(&r, 2, "--max-input");
    result_free(&r);
    const char *bad[] = {"0", "12X", "-5", "M", "5G"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = RUN("chat", "-m", "mock/echo", "--max-input", bad[i], "hi");
        assert_error(&r, 2, "--max-input expects a size");
        result_free(&r);
    }
    r = RUN("chat", "-m", "mock/echo", "--max-input", "2MiB", "ok");
    assert_exit(&r, 0);
    result_free(&r);
}

/* Over the default cap (32 MiB): refused, not swallowed. */
Test(cli_stdin, default_cap) {
    size_t n = (size_t)32 * 1024 * 1024 + 1;
    char *text = malloc(n + 1);
    cr_assert(text);
    memset(text, 'b', n);
    text[n] = '\0';
    cli_result r = RUN_IN(text, "chat", "-m", "mock/echo");
    assert_error(&r, 2, "larger than --max-input (33554432 bytes)");
    result_free(&r);
    free(text);
}

/* ---- -o and --request (mock) ---- */

Test(cli_stdin, bad_options) {
    cli_result r = RUN("chat", "-m", "mock/echo", "-o", "novalue", "hi");
    assert_error(&r, 2, "-o expects KEY=VALUE");
    result_free(&r);
    r = RUN("chat", "-m", "mock/echo", "-o", "=1", "hi");
    assert_error(&r, 2, "-o expects KEY=VALUE");
    result_free(&r);
    char path[300];
    file_path(path, sizeof path, "bad.json");
    aigw_test_write_file(path, "{\"model\": \"mock/echo\",");
    r = RUN("chat", "--request", path);
    assert_error(&r, 2, "not a JSON document");
    result_free(&r);
    aigw_test_write_file(path, "[1, 2]");
    r = RUN("chat", "--request", path);
    assert_error(&r, 2, "must be a JSON object");
    result_free(&r);
    file_path(path, sizeof path, "missing.json");
    r = RUN("chat", "--request", path);
    assert_error(&r, 2, "cannot open");
    result_free(&r);
    r = RUN_IN("{}", "chat", "--request", "-", "-");
    assert_error(&r, 2, "standard input cannot be both");
    result_free(&r);
}

Test(cli_stdin, request_file_with_mock) {
    char path[300];
    file_path(path, sizeof path, "req.json");
    aigw_test_write_file(path, "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"from the file\"}],\"stream\":false}\n");
    cli_result r = RUN("chat", "--request", path, "--json");
    assert_exit(&r, 0);
    cr_expect(strstr(r.out, "\"object\":\"chat.completion\"") != NULL, "not whole: %s", r.out);
    cr_expect(strstr(r.out, "from the file") != NULL, "%s", r.out);
    result_free(&r);
    /* a PROMPT is a user message after the file's */
    r = RUN("chat", "--request", path, "and", "then");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "and then\n");
    result_free(&r);
    /* from standard input; over the cap */
    r = RUN_IN("{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"piped\"}]}",
               "chat", "--request", "-");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "piped\n");
    result_free(&r);
    r = RUN("chat", "--request", path, "--max-input", "20");
    assert_error(&r, 2, "larger than --max-input (20 bytes)");
    result_free(&r);
    /* embeddings */
    file_path(path, sizeof path, "emb.json");
    aigw_test_write_file(path,
                         "{\"model\":\"mock/embed\",\"input\":[\"a\",\"b\"],\"dimensions\":3}");
    r = RUN("embed", "--request", path);
    assert_exit(&r, 0);
    cr_expect_eq(count_lines(r.out), 2, "%s", r.out);
    result_free(&r);
    r = RUN("embed", "--request", path, "-o", "dimensions=5", "one");
    assert_exit(&r, 0);
    cr_expect_eq(count_lines(r.out), 1, "%s", r.out);
    json_object *arr = aigw_test_json_parse(r.out);
    cr_expect_eq(json_object_array_length(arr), 5, "%s", r.out);
    json_object_put(arr);
    result_free(&r);
}

/* ---- what reaches the provider ---- */

TestSuite(cli_request, .init = setup_sim, .fini = teardown, .timeout = 90);

Test(cli_request, options_reach_the_upstream) {
    cli_result r =
        RUN("chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "--no-stream",
            "--temperature", "0.9", "-o", "temperature=0.2", "-o", "n=2", "-o", "user=bob", "-o",
            "response_format={\"type\":\"json_object\"}", "-o", "seed=1", "-o", "seed=7", "-o",
            "stop=[\"x\",\"y\"]", "-o", "logprobs=true", "-o", "note=", "hello");
    assert_exit(&r, 0);
    result_free(&r);
    json_object *b = last_body();
    json_object *v = aigw_test_json_at(b, "temperature");
    cr_expect(json_object_is_type(v, json_type_double) && json_object_get_double(v) == 0.2,
              "temperature: %s", json_object_to_json_string(b));
    v = aigw_test_json_at(b, "n");
    cr_expect(json_object_is_type(v, json_type_int) && json_object_get_int(v) == 2);
    v = aigw_test_json_at(b, "seed"); /* the later -o wins */
    cr_expect(json_object_is_type(v, json_type_int) && json_object_get_int(v) == 7);
    v = aigw_test_json_at(b, "user");
    cr_expect(json_object_is_type(v, json_type_string) &&
              !strcmp(json_object_get_string(v), "bob"));
    v = aigw_test_json_at(b, "response_format.type");
    cr_expect(v && !strcmp(json_object_get_string(v), "json_object"), "%s",
              json_object_to_json_string(b));
    v = aigw_test_json_at(b, "stop.1");
    cr_expect(v && !strcmp(json_object_get_string(v), "y"));
    v = aigw_test_json_at(b, "logprobs");
    cr_expect(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
    v = aigw_test_json_at(b, "note");
    cr_expect(json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0);
    cr_expect_null(aigw_test_json_at(b, "stream"));
    json_object_put(b);
}

Test(cli_request, stream_options_and_stream_by_o) {
    cli_result r = RUN("chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "-o",
                       "stream_options={\"include_usage\":true}", "--json", "a b");
    assert_exit(&r, 0);
    cr_expect(strstr(r.out, "\"usage\":{") != NULL, "no usage chunk: %s", r.out);
    result_free(&r);
    json_object *b = last_body();
    json_object *v = aigw_test_json_at(b, "stream_options.include_usage");
    cr_expect(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
    v = aigw_test_json_at(b, "stream");
    cr_expect(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
    json_object_put(b);
    /* -o stream=false beats the default: one whole answer */
    r = RUN("chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "-o", "stream=false",
            "--json", "whole");
    assert_exit(&r, 0);
    cr_expect(strstr(r.out, "\"object\":\"chat.completion\"") != NULL, "%s", r.out);
    result_free(&r);
    /* --usage asks for the usage chunk only when it streams */
    r = RUN("chat", "--config", config_path, "-m", "sim/gpt-4o-mini", "--usage", "-o",
            "stream=false", "whole");
    assert_exit(&r, 0);
    cr_expect(strstr(r.err, "usage: prompt_tokens=1 ") != NULL, "%s", r.err);
    result_free(&r);
    b = last_body();
    cr_expect_null(aigw_test_json_at(b, "stream_options"), "%s", json_object_to_json_string(b));
    cr_expect_null(aigw_test_json_at(b, "stream"));
    json_object_put(b);
}

Test(cli_request, request_file_and_overrides) {
    char path[300];
    file_path(path, sizeof path, "req.json");
    aigw_test_write_file(path, "{\"model\":\"nope/x\",\"max_tokens\":5,\"metadata\":{\"k\":\"v\"},"
                               "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                               "{\"role\":\"user\",\"content\":\"from file\"}]}");
    cli_result r = RUN("chat", "--config", config_path, "--request", path, "-m", "sim/gpt-4o-mini",
                       "-o", "max_tokens=9", "--no-stream");
    assert_exit(&r, 0);
    cr_expect_str_eq(r.out, "echo: from file\n");
    result_free(&r);
    json_object *b = last_body();
    cr_expect_str_eq(json_object_get_string(aigw_test_json_at(b, "model")), "gpt-4o-mini");
    cr_expect_eq(json_object_get_int(aigw_test_json_at(b, "max_tokens")), 9);
    cr_expect_str_eq(json_object_get_string(aigw_test_json_at(b, "messages.0.content")),
                     "be brief");
    cr_expect_eq(json_object_array_length(aigw_test_json_at(b, "messages")), 2);
    json_object_put(b);
}
