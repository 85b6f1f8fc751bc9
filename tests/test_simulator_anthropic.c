/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the provider simulator's Anthropic Messages API (/anthropic/v1/),
 * over libcurl. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "sim.h"

static aigw_test_sim sim;

static void start_with_key(void) {
    const char *args[] = {"--api-key", "sk-ant-test", NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void stop(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(sim_anthropic, .init = start_with_key, .fini = stop, .timeout = 60);

/* ---- helpers ---- */

#define AUTH_KEY "x-api-key: sk-ant-test"
#define AUTH_VERSION "anthropic-version: 2023-06-01"

/* METHOD PATH with HEADERS (NULL-terminated, may be NULL); AUTH adds the
 * key and version headers. */
static resp request(const char *method, const char *path, int auth, const char *const *headers,
                    const char *body) {
    const char *all[64];
    size_t n = 0;
    if (auth) {
        all[n++] = AUTH_KEY;
        all[n++] = AUTH_VERSION;
    }
    for (size_t i = 0; headers && headers[i] && n < 63; i++)
        all[n++] = headers[i];
    all[n] = NULL;
    return aigw_test_http(sim.port, method, path, all, body);
}

static resp messages(const char *const *headers, const char *body) {
    return request("POST", "/anthropic/v1/messages", 1, headers, body);
}

/* Asserts an Anthropic error body of TYPE. */
static void assert_error(const resp *r, long status, const char *type) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    json_object *o = parse(r->body);
    cr_assert_str_eq(str_at(o, "type"), "error");
    cr_assert_str_eq(str_at(o, "error.type"), type, "%s", r->body);
    cr_assert_not_null(str_at(o, "error.message"));
    json_object_put(o);
}

/* An SSE event: its name and its data. */
typedef struct sse_event {
    char *name;
    char *data;
} sse_event;

/* Splits an SSE body into events (terminated by a NULL name). */
static sse_event *sse_events(const char *body, size_t *count) {
    sse_event *out = calloc(1024, sizeof(*out));
    size_t n = 0;
    const char *p = body;
    while (*p && n < 1023) {
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *ev = strndup(p, len);
        char *save = NULL;
        for (char *line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "event: ", 7) == 0)
                out[n].name = strdup(line + 7);
            else if (strncmp(line, "data: ", 6) == 0)
                out[n].data = strdup(line + 6);
        }
        free(ev);
        if (out[n].name || out[n].data) {
            if (!out[n].name)
                out[n].name = strdup("");
            n++;
        }
        if (!end)
            break;
        p = end + 2;
    }
    *count = n;
    return out;
}

static void sse_free(sse_event *ev) {
    for (size_t i = 0; ev[i].name; i++) {
        free(ev[i].name);
        free(ev[i].data);
    }
    free(ev);
}

static const char text_body[] =
    "{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":64,\"system\":\"be brief\","
    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there world\"}]}";

static const char stream_body[] =
    "{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":64,\"stream\":true,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there world\"}]}";

static const char tools_body[] =
    "{\"model\":\"claude-sonnet-4-20250514\",\"max_tokens\":64,%s\"tools\":[{\"name\":"
    "\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],\"messages\":[{\"role\":\"user\","
    "\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris\"}]}]}";

/* ---- auth ---- */

Test(sim_anthropic, auth) {
    resp r = messages(NULL, text_body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);

    const char *bad[] = {"x-api-key: wrong", AUTH_VERSION, NULL};
    r = request("POST", "/anthropic/v1/messages", 0, bad, text_body);
    assert_error(&r, 401, "authentication_error");
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.message"), "invalid x-api-key");
    json_object_put(o);
    resp_free(&r);

    /* a Bearer token is not how Anthropic authenticates */
    const char *bearer[] = {"Authorization: Bearer sk-ant-test", AUTH_VERSION, NULL};
    r = request("POST", "/anthropic/v1/messages", 0, bearer, text_body);
    assert_error(&r, 401, "authentication_error");
    resp_free(&r);

    const char *no_version[] = {AUTH_KEY, NULL};
    r = request("POST", "/anthropic/v1/messages", 0, no_version, text_body);
    assert_error(&r, 400, "invalid_request_error");
    resp_free(&r);

    r = request("GET", "/anthropic/v1/models", 0, bad, NULL);
    assert_error(&r, 401, "authentication_error");
    resp_free(&r);
}

/* ---- validation ---- */

Test(sim_anthropic, validation_errors) {
    static const char *const bodies[] = {
        "not json",
        "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"max_tokens\":\"5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
        "}",
        "{\"model\":\"m\",\"max_tokens\":5}",
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"assistant\",\"content\":\"x\"}"
        "]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"user\",\"content\":\"y\"}]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\"}]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"system\":42,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"image\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        resp r = messages(NULL, bodies[i]);
        assert_error(&r, 400, "invalid_request_error");
        resp_free(&r);
    }
    /* system as text blocks and a full user/assistant/user exchange are fine */
    resp r = messages(NULL, "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\","
                            "\"text\":\"be brief\"}],\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\","
                            "\"content\":\"c d\"}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "content.0.text"), "echo: c d");
    cr_assert_eq(int_at(o, "usage.input_tokens"), 2 + 1 + 1 + 2);
    json_object_put(o);
    resp_free(&r);
}

/* ---- answers ---- */

Test(sim_anthropic, text_answer) {
    resp r = messages(NULL, text_body);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "application/json"), "%s", r.headers);
    json_object *o = parse(r.body);
    cr_assert(strncmp(str_at(o, "id"), "msg_sim_", 8) == 0);
    cr_assert_str_eq(str_at(o, "type"), "message");
    cr_assert_str_eq(str_at(o, "role"), "assistant");
    cr_assert_str_eq(str_at(o, "model"), "claude-sonnet-4-20250514");
    cr_assert_eq(json_object_array_length(at(o, "content")), 1);
    cr_assert_str_eq(str_at(o, "content.0.type"), "text");
    cr_assert_str_eq(str_at(o, "content.0.text"), "echo: Hello there world");
    cr_assert_str_eq(str_at(o, "stop_reason"), "end_turn");
    cr_assert(json_object_is_type(at(o, "stop_sequence"), json_type_null));
    cr_assert_eq(int_at(o, "usage.input_tokens"), 5); /* "be brief" + 3 words */
    cr_assert_eq(int_at(o, "usage.output_tokens"), 4);
    cr_assert_eq(int_at(o, "usage.cache_creation_input_tokens"), 0);
    cr_assert_eq(int_at(o, "usage.cache_read_input_tokens"), 0);
    json_object_put(o);
    resp_free(&r);

    /* shows up in /sim/last-request */
    r = request("GET", "/sim/last-request", 0, NULL, NULL);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "method"), "POST");
    cr_assert_str_eq(str_at(o, "path"), "/anthropic/v1/messages");
    cr_assert_str_eq(str_at(o, "headers.x-api-key"), "sk-ant-test");
    cr_assert_str_eq(str_at(o, "headers.anthropic-version"), "2023-06-01");
    cr_assert_str_eq(str_at(o, "body"), text_body);
    json_object_put(o);
    resp_free(&r);
}

Test(sim_anthropic, tool_use_answer) {
    char body[512];
    snprintf(body, sizeof(body), tools_body, "");
    resp r = messages(NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stop_reason"), "tool_use");
    cr_assert_str_eq(str_at(o, "content.0.type"), "tool_use");
    cr_assert(strncmp(str_at(o, "content.0.id"), "toolu_sim_", 10) == 0);
    cr_assert_str_eq(str_at(o, "content.0.name"), "get_weather");
    cr_assert_str_eq(str_at(o, "content.0.input.text"), "Weather in Paris");
    json_object_put(o);
    resp_free(&r);

    /* after a tool_result, a text answer */
    r = messages(NULL, "{\"model\":\"m\",\"max_tokens\":5,\"tools\":[{\"name\":\"t\","
                       "\"input_schema\":{}}],\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
                       "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"x\","
                       "\"name\":\"t\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
                       "\"tool_result\",\"tool_use_id\":\"x\",\"content\":\"sunny\"},{\"type\":"
                       "\"text\",\"text\":\"thanks\"}]}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stop_reason"), "end_turn");
    cr_assert_str_eq(str_at(o, "content.0.text"), "echo: thanks");
    json_object_put(o);
    resp_free(&r);
}

Test(sim_anthropic, stop_sequence) {
    resp r = messages(NULL, "{\"model\":\"m\",\"max_tokens\":5,\"stop_sequences\":[\"zzz\","
                            "\"world\",\"there\"],\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"Hello there world\"}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stop_reason"), "stop_sequence");
    cr_assert_str_eq(str_at(o, "stop_sequence"), "there");
    cr_assert_str_eq(str_at(o, "content.0.text"), "echo: Hello ");
    cr_assert_eq(int_at(o, "usage.output_tokens"), 2);
    json_object_put(o);
    resp_free(&r);
}

Test(sim_anthropic, cache_tokens) {
    resp r = messages(NULL, "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\","
                            "\"text\":\"a long cached system prompt\",\"cache_control\":{\"type\":"
                            "\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
                            "\"hi there world\"}]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_eq(int_at(o, "usage.input_tokens"), 8);
    cr_assert_eq(int_at(o, "usage.cache_read_input_tokens"), 4);
    cr_assert_eq(int_at(o, "usage.cache_creation_input_tokens"), 0);
    json_object_put(o);
    resp_free(&r);
}

/* ---- streaming ---- */

Test(sim_anthropic, stream_event_order) {
    resp r = messages(NULL, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "text/event-stream"), "%s", r.headers);
    size_t n;
    sse_event *ev = sse_events(r.body, &n);
    static const char *const want[] = {
        "message_start",       "content_block_start", "ping",
        "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_delta", "content_block_stop",  "message_delta",
        "message_stop",
    };
    cr_assert_eq(n, sizeof(want) / sizeof(want[0]), "%s", r.body);
    char text[128] = "";
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(ev[i].name, want[i], "event %zu", i);
        json_object *o = parse(ev[i].data);
        cr_assert_str_eq(str_at(o, "type"), want[i], "event %zu", i);
        if (i == 0) {
            cr_assert_eq(json_object_array_length(at(o, "message.content")), 0);
            cr_assert_eq(int_at(o, "message.usage.input_tokens"), 3);
            cr_assert_eq(int_at(o, "message.usage.output_tokens"), 1);
            cr_assert_eq(int_at(o, "message.usage.cache_read_input_tokens"), 0);
            cr_assert_eq(int_at(o, "message.usage.cache_creation_input_tokens"), 0);
        } else if (i == 1) {
            cr_assert_str_eq(str_at(o, "content_block.type"), "text");
            cr_assert_str_eq(str_at(o, "content_block.text"), "");
        } else if (strcmp(want[i], "content_block_delta") == 0) {
            cr_assert_str_eq(str_at(o, "delta.type"), "text_delta");
            strncat(text, str_at(o, "delta.text"), sizeof(text) - strlen(text) - 1);
        } else if (strcmp(want[i], "message_delta") == 0) {
            cr_assert_str_eq(str_at(o, "delta.stop_reason"), "end_turn");
            cr_assert_eq(int_at(o, "usage.output_tokens"), 4);
        }
        json_object_put(o);
    }
    cr_assert_str_eq(text, "echo: Hello there world");
    sse_free(ev);
    resp_free(&r);
}

Test(sim_anthropic, stream_tool_use) {
    char body[512];
    snprintf(body, sizeof(body), tools_body, "\"stream\":true,");
    resp r = messages(NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    size_t n;
    sse_event *ev = sse_events(r.body, &n);
    cr_assert_gt(n, 6);
    json_object *o = parse(ev[1].data);
    cr_assert_str_eq(str_at(o, "content_block.type"), "tool_use");
    cr_assert_str_eq(str_at(o, "content_block.name"), "get_weather");
    cr_assert_eq(json_object_object_length(at(o, "content_block.input")), 0);
    json_object_put(o);
    char args[256] = "";
    for (size_t i = 3; i < n - 3; i++) {
        cr_assert_str_eq(ev[i].name, "content_block_delta");
        o = parse(ev[i].data);
        cr_assert_str_eq(str_at(o, "delta.type"), "input_json_delta");
        strncat(args, str_at(o, "delta.partial_json"), sizeof(args) - strlen(args) - 1);
        json_object_put(o);
    }
    o = parse(args);
    cr_assert_str_eq(str_at(o, "text"), "Weather in Paris");
    json_object_put(o);
    o = parse(ev[n - 2].data);
    cr_assert_str_eq(str_at(o, "delta.stop_reason"), "tool_use");
    json_object_put(o);
    cr_assert_str_eq(ev[n - 1].name, "message_stop");
    sse_free(ev);
    resp_free(&r);
}

/* ---- faults ---- */

Test(sim_anthropic, fault_429_retry_after) {
    const char *h[] = {"x-sim-fault: status=429,retry_after=7", NULL};
    resp r = messages(h, text_body);
    assert_error(&r, 429, "rate_limit_error");
    cr_assert(strstr(r.headers, "Retry-After: 7\r\n"), "%s", r.headers);
    resp_free(&r);

    /* from the body too, and 500 → api_error */
    r = messages(NULL, "{\"model\":\"m\",\"max_tokens\":5,\"sim_fault\":\"status=500\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    assert_error(&r, 500, "api_error");
    cr_assert_null(strstr(r.headers, "Retry-After"));
    resp_free(&r);

    const char *bad[] = {"x-sim-fault: explode=1", NULL};
    r = messages(bad, text_body);
    assert_error(&r, 400, "invalid_request_error");
    resp_free(&r);
}

Test(sim_anthropic, fault_529) {
    const char *h[] = {"x-sim-fault: status=529", NULL};
    resp r = messages(h, stream_body);
    assert_error(&r, 529, "overloaded_error");
    resp_free(&r);
}

Test(sim_anthropic, fault_error_event) {
    const char *h[] = {"x-sim-fault: error_event=1", NULL};
    resp r = messages(h, stream_body);
    cr_assert_eq(r.status, 200);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    sse_event *ev = sse_events(r.body, &n);
    cr_assert_eq(n, 5, "%s", r.body);
    cr_assert_str_eq(ev[3].name, "content_block_delta");
    cr_assert_str_eq(ev[4].name, "error");
    json_object *e = parse(ev[4].data);
    cr_assert_str_eq(str_at(e, "type"), "error");
    cr_assert_str_eq(str_at(e, "error.type"), "overloaded_error");
    cr_assert_str_eq(str_at(e, "error.message"), "simulated mid-stream failure");
    json_object_put(e);
    cr_assert_null(strstr(r.body, "message_stop"));
    sse_free(ev);
    resp_free(&r);
}

Test(sim_anthropic, fault_cut_after) {
    const char *h[] = {"x-sim-fault: cut_after=2", NULL};
    resp r = messages(h, stream_body);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    sse_event *ev = sse_events(r.body, &n);
    cr_assert_eq(n, 2, "%s", r.body);
    cr_assert_str_eq(ev[0].name, "message_start");
    cr_assert_null(strstr(r.body, "message_stop"));
    sse_free(ev);
    resp_free(&r);

    const char *body_cut[] = {"x-sim-fault: cut_after=0", NULL};
    r = messages(body_cut, text_body);
    cr_assert_eq(r.rc, CURLE_PARTIAL_FILE, "%d", r.rc);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);
}

Test(sim_anthropic, fault_drop_done) {
    const char *h[] = {"x-sim-fault: drop_done=1", NULL};
    resp r = messages(h, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    size_t n;
    sse_event *ev = sse_events(r.body, &n);
    cr_assert_eq(n, 9, "%s", r.body);
    cr_assert_str_eq(ev[n - 1].name, "message_delta");
    cr_assert_null(strstr(r.body, "message_stop"));
    sse_free(ev);
    resp_free(&r);
}

Test(sim_anthropic, fault_malformed) {
    const char *h[] = {"x-sim-fault: malformed=1", NULL};
    resp r = messages(h, text_body);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);
}

/* ---- models ---- */

Test(sim_anthropic, models_list) {
    resp r = request("GET", "/anthropic/v1/models", 1, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    json_object *data = at(o, "data");
    cr_assert(json_object_is_type(data, json_type_array));
    size_t n = json_object_array_length(data);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(str_at(o, "data.0.type"), "model");
    cr_assert_not_null(str_at(o, "data.0.display_name"));
    cr_assert_not_null(str_at(o, "data.0.created_at"));
    cr_assert(json_object_is_type(at(o, "has_more"), json_type_boolean));
    cr_assert(!json_object_get_boolean(at(o, "has_more")));
    cr_assert_str_eq(str_at(o, "first_id"), str_at(o, "data.0.id"));
    char last[32];
    snprintf(last, sizeof(last), "data.%zu.id", n - 1);
    cr_assert_str_eq(str_at(o, "last_id"), str_at(o, last));
    json_object_put(o);
    resp_free(&r);

    r = request("GET", "/anthropic/v1/nope", 1, NULL, NULL);
    assert_error(&r, 404, "not_found_error");
    resp_free(&r);
    r = request("GET", "/anthropic/v1/messages", 1, NULL, NULL);
    cr_assert_eq(r.status, 405);
    resp_free(&r);
}
