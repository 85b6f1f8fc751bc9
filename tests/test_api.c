/* SPDX-License-Identifier: Apache-2.0 */
/* The public API with no network: statuses, errors, version, config
 * validation, the mock provider, the JSON helpers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aigw/aigw.h"

static aigw_client *mock_client(void) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, "{\"env_defaults\":true}", &e), AIGW_OK);
    cr_assert_null(e);
    return c;
}

/* Expects client creation from `config` to fail with ECONFIG and a message
 * containing `needle`. */
static void expect_config_error(const char *config, const char *needle) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    aigw_status st = aigw_client_new_from_string(&c, config, &e);
    cr_assert_eq(st, AIGW_ECONFIG, "config %s gave %s", config, aigw_status_name(st));
    cr_assert_null(c);
    cr_assert_not_null(e);
    cr_assert_eq(aigw_error_status(e), AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), needle), "message \"%s\" lacks \"%s\"",
              aigw_error_message(e), needle);
    aigw_error_free(e);
}

Test(status, names_and_strings_come_from_one_table) {
    cr_assert_str_eq(aigw_status_name(AIGW_OK), "AIGW_OK");
    cr_assert_str_eq(aigw_status_name(AIGW_ERATELIMIT), "AIGW_ERATELIMIT");
    cr_assert_str_eq(aigw_strerror(AIGW_ERATELIMIT), "rate limited");
    cr_assert_str_eq(aigw_status_name((aigw_status)9999), "AIGW_UNKNOWN");
    cr_assert_str_eq(aigw_strerror((aigw_status)-1), "unknown status");
    cr_assert(aigw_status_is_retryable(AIGW_ERATELIMIT));
    cr_assert(aigw_status_is_retryable(AIGW_EUPSTREAM));
    cr_assert(aigw_status_is_retryable(AIGW_ECONNECT));
    cr_assert_not(aigw_status_is_retryable(AIGW_EBADREQUEST));
    cr_assert_not(aigw_status_is_retryable(AIGW_EAUTH));
    /* Codes are never renumbered. */
    cr_assert_eq(AIGW_EINVAL, 1);
    cr_assert_eq(AIGW_ERATELIMIT, 10);
    cr_assert_eq(AIGW_EINTERNAL, 20);
}

Test(version, runtime_matches_macros) {
    cr_assert_eq(aigw_version(), AIGW_VERSION_HEX);
    cr_assert_str_eq(aigw_version_string(), AIGW_VERSION_STRING);
}

Test(free, null_is_a_noop) {
    aigw_free(NULL);
    aigw_error_free(NULL);
    aigw_client_free(NULL);
}

Test(options, init_checks_version) {
    aigw_client_options o;
    cr_assert_eq(aigw_client_options_init(&o, AIGW_CLIENT_OPTIONS_VERSION), AIGW_OK);
    cr_assert_eq(o.version, AIGW_CLIENT_OPTIONS_VERSION);
    cr_assert_eq(aigw_client_options_init(&o, 99), AIGW_EINVAL);
    cr_assert_eq(aigw_client_options_init(&o, 0), AIGW_EINVAL);
    /* A caller built against version 1 still works. */
    cr_assert_eq(aigw_client_options_init(&o, 1), AIGW_OK);
    cr_assert_eq(o.version, 1);
    o.version = 99;
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new(&c, &o, &e), AIGW_EINVAL);
    aigw_error_free(e);
}

Test(config, rejects_bad_configs_with_a_path) {
    expect_config_error("", "unexpected end");
    expect_config_error("{\"backends\":", "unexpected end");
    expect_config_error("[1,2]", "must be a JSON object");
    expect_config_error("{} x", "unexpected data");
    expect_config_error("{\"backendz\":{}}", "unknown key \"backendz\"");
    expect_config_error("{\"backends\":[]}", "backends: must be an object");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\"}}}",
                        "backends.a: \"base_url\" is required");
    expect_config_error("{\"backends\":{\"a\":{\"base_url\":\"http://x\"}}}",
                        "backends.a: \"schema\" is required");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"azur\",\"base_url\":\"http://x\"}}}",
                        "backends.a.schema: unknown schema \"azur\"");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"ftp://x\"}}}",
                        "is not an http:// or https:// URL");
    expect_config_error(
        "{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\",\"tmeout\":1}}}",
        "backends.a: unknown key \"tmeout\"");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\","
                        "\"timeout_ms\":\"10\"}}}",
                        "backends.a.timeout_ms: must be an integer");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\","
                        "\"timeout_ms\":-5}}}",
                        "out of range");
    expect_config_error("{\"backends\":{\"a/b\":{\"schema\":\"mock\"}}}", "a backend name may");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\","
                        "\"headers\":{\"x-a\":\"1\\r\\nInjected: yes\"}}}}",
                        "invalid header");
    expect_config_error("{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\","
                        "\"api_key\":\"k\",\"api_key_env\":\"K\"}}}",
                        "give one of");
    expect_config_error("{\"default_backend\":\"nope\"}", "default_backend: unknown backend");
    expect_config_error("{\"env_defaults\":1}", "env_defaults: must be true or false");
}

Test(config, missing_file_is_an_io_error) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_file(&c, "/nonexistent/aigw.json", &e), AIGW_EIO);
    cr_assert(strstr(aigw_error_message(e), "/nonexistent/aigw.json"));
    aigw_error_free(e);
}

Test(config, env_defaults_off_leaves_only_configured_backends) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(
                     &c, "{\"env_defaults\":false,\"backends\":{\"m\":{\"schema\":\"mock\"}}}", &e),
                 AIGW_OK);
    char *out = NULL;
    cr_assert_eq(aigw_models(c, NULL, &out, &e), AIGW_OK);
    cr_assert(strstr(out, "\"m/echo\""));
    cr_assert_null(strstr(out, "mock/"));
    aigw_free(out);
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ENOBACKEND);
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(mock, chat_echoes_the_last_user_message_with_usage) {
    aigw_client *c = mock_client();
    char *out = NULL;
    aigw_error *e = NULL;
    const char *req = "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"system\",\"content\":"
                      "\"be brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                      "\"hello big\"},{\"type\":\"text\",\"text\":\"world\"}]}]}";
    cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_OK);
    json_object *resp = json_tokener_parse(out);
    cr_assert_not_null(resp);
    char *text = NULL;
    cr_assert_eq(aigw_chat_response_text(out, &text), AIGW_OK);
    cr_assert_str_eq(text, "hello big world");
    json_object *usage = json_object_object_get(resp, "usage");
    cr_assert_eq(json_object_get_int(json_object_object_get(usage, "prompt_tokens")), 5);
    cr_assert_eq(json_object_get_int(json_object_object_get(usage, "completion_tokens")), 3);
    cr_assert_eq(json_object_get_int(json_object_object_get(usage, "total_tokens")), 8);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(resp, "object")),
                     "chat.completion");
    json_object_put(resp);
    aigw_free(text);
    aigw_free(out);
    aigw_client_free(c);
}

typedef struct collected {
    char text[4096];
    int chunks;
    int usage_chunks;
    int stop_after;
} collected;

static int collect(const char *json, size_t len, void *user) {
    collected *col = user;
    cr_assert_eq(strlen(json), len);
    json_object *chunk = json_tokener_parse(json);
    cr_assert_not_null(chunk, "chunk is not JSON: %s", json);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(chunk, "object")),
                     "chat.completion.chunk");
    if (json_object_object_get(chunk, "usage"))
        col->usage_chunks++;
    char *text = NULL;
    cr_assert_eq(aigw_chat_response_text(json, &text), AIGW_OK);
    strncat(col->text, text, sizeof col->text - strlen(col->text) - 1);
    aigw_free(text);
    json_object_put(chunk);
    col->chunks++;
    return col->stop_after && col->chunks >= col->stop_after;
}

Test(mock, stream_goes_word_by_word) {
    aigw_client *c = mock_client();
    collected col = {0};
    aigw_error *e = NULL;
    const char *req = "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"one two  three\"}]}";
    cr_assert_eq(aigw_chat_stream(c, req, collect, &col, &e), AIGW_OK);
    cr_assert_str_eq(col.text, "one two  three");
    cr_assert_eq(col.chunks, 5); /* role, 3 words, finish */
    cr_assert_eq(col.usage_chunks, 0, "usage chunk sent though not asked for");
    aigw_client_free(c);
}

Test(mock, stream_usage_when_asked_and_stop) {
    aigw_client *c = mock_client();
    collected col = {0};
    aigw_error *e = NULL;
    const char *req = "{\"model\":\"mock/echo\",\"stream_options\":{\"include_usage\":true},"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}]}";
    cr_assert_eq(aigw_chat_stream(c, req, collect, &col, &e), AIGW_OK);
    cr_assert_eq(col.usage_chunks, 1);
    collected stop = {.stop_after = 2};
    cr_assert_eq(aigw_chat_stream(c, req, collect, &stop, &e), AIGW_ESTOPPED);
    cr_assert_eq(stop.chunks, 2);
    cr_assert_eq(aigw_error_status(e), AIGW_ESTOPPED);
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(mock, embeddings_are_deterministic) {
    aigw_client *c = mock_client();
    char *a = NULL, *b = NULL, *b64 = NULL;
    aigw_error *e = NULL;
    const char *req = "{\"model\":\"mock/embed\",\"input\":[\"x y\",\"z\"],\"dimensions\":4}";
    cr_assert_eq(aigw_embed(c, req, &a, &e), AIGW_OK);
    cr_assert_eq(aigw_embed(c, req, &b, &e), AIGW_OK);
    cr_assert_str_eq(a, b);
    json_object *resp = json_tokener_parse(a);
    json_object *data = json_object_object_get(resp, "data");
    cr_assert_eq(json_object_array_length(data), 2);
    json_object *vec = json_object_object_get(json_object_array_get_idx(data, 0), "embedding");
    cr_assert_eq(json_object_array_length(vec), 4);
    json_object_put(resp);
    cr_assert_eq(aigw_embed(c,
                            "{\"model\":\"mock/embed\",\"input\":\"x y\",\"dimensions\":4,"
                            "\"encoding_format\":\"base64\"}",
                            &b64, &e),
                 AIGW_OK);
    resp = json_tokener_parse(b64);
    const char *s = json_object_get_string(json_object_object_get(
        json_object_array_get_idx(json_object_object_get(resp, "data"), 0), "embedding"));
    cr_assert_eq(strlen(s), 24); /* 16 bytes of float32 */
    json_object_put(resp);
    aigw_free(a);
    cr_assert_eq(
        aigw_embed(c, "{\"model\":\"mock/embed\",\"input\":\"x\",\"dimensions\":0}", &a, &e),
        AIGW_EBADREQUEST);
    aigw_error_free(e);
    aigw_free(b);
    aigw_free(b64);
    aigw_client_free(c);
}

Test(mock, never_serves_a_real_model_name) {
    aigw_client *c = mock_client();
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"mock/gpt-4o\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ENOTFOUND);
    cr_assert(strstr(aigw_error_message(e), "mock/echo"));
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(request, bad_requests_are_refused_before_any_call) {
    aigw_client *c = mock_client();
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"mock/echo\"}",
        "{\"model\":\"mock/echo\",\"messages\":[]}",
        "{\"model\":\"mock/echo\",\"messages\":{}}",
        "{\"model\":\"mock/\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = (char *)"untouched";
        aigw_error *e = NULL;
        aigw_status st = aigw_chat(c, bad[i], &out, &e);
        cr_assert_eq(st, AIGW_EBADREQUEST, "request %zu gave %s", i, aigw_status_name(st));
        cr_assert_null(out);
        cr_assert_eq(aigw_error_status(e), AIGW_EBADREQUEST);
        json_object *ej = json_tokener_parse(aigw_error_json(e));
        cr_assert_not_null(json_object_object_get(json_object_object_get(ej, "error"), "message"));
        json_object_put(ej);
        aigw_error_free(e);
    }
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c, NULL, NULL, &e), AIGW_EINVAL);
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(request, unknown_provider_names_the_backends) {
    aigw_client *c = mock_client();
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"nope/x\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ENOBACKEND);
    cr_assert(strstr(aigw_error_message(e), "\"nope\""));
    cr_assert(strstr(aigw_error_message(e), "mock"));
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(build, simple_request_round_trips) {
    char *req = NULL, *text = NULL;
    cr_assert_eq(aigw_chat_request_simple("mock/echo", "sys \"q\"", "hi\nthere", &req), AIGW_OK);
    json_object *r = json_tokener_parse(req);
    cr_assert_eq(json_object_array_length(json_object_object_get(r, "messages")), 2);
    json_object_put(r);
    aigw_client *c = mock_client();
    char *out = NULL;
    cr_assert_eq(aigw_chat(c, req, &out, NULL), AIGW_OK);
    cr_assert_eq(aigw_chat_response_text(out, &text), AIGW_OK);
    cr_assert_str_eq(text, "hi\nthere");
    aigw_free(text);
    cr_assert_eq(aigw_chat_response_text("{\"x\":1}", &text), AIGW_EBADREQUEST);
    cr_assert_null(text);
    aigw_free(req);
    aigw_free(out);
    aigw_client_free(c);
}

static int log_lines;
static void count_log(aigw_log_level level, const char *message, void *user) {
    (void)level;
    (void)user;
    cr_assert_not_null(message);
    log_lines++;
}

Test(log, lines_go_to_the_callback_at_or_above_level) {
    aigw_client_options o = AIGW_CLIENT_OPTIONS_INIT;
    o.log_cb = count_log;
    o.log_level = AIGW_LOG_DEBUG;
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new(&c, &o, NULL), AIGW_OK);
    char *out = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, NULL),
                 AIGW_OK);
    cr_assert_geq(log_lines, 2);
    aigw_free(out);
    aigw_client_free(c);
    cr_assert_str_eq(aigw_log_level_name(AIGW_LOG_WARN), "warn");
}

Test(request, deeply_nested_tool_schemas_are_accepted) {
    /* json-c's default depth is 32; tool schemas can nest deeper. */
    char req[4096] = "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"x\"}],\"x_schema\":";
    for (int i = 0; i < 60; i++)
        strcat(req, "{\"a\":");
    strcat(req, "1");
    for (int i = 0; i < 60; i++)
        strcat(req, "}");
    strcat(req, "}");
    aigw_client *c = mock_client();
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_OK, "%s", aigw_error_message(e));
    aigw_free(out);
    aigw_client_free(c);
}
