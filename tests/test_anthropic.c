/* SPDX-License-Identifier: Apache-2.0 */
/* The anthropic adapter called directly: request translation, response
 * and error translation, and the stream decoder (whole and split at every
 * byte). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "adapters/anthropic.h"
#include "core/buf.h"

static aigw__backend backend = {
    .name = (char *)"anthropic",
    .adapter = &aigw__adapter_anthropic,
    .base_url = (char *)"https://api.anthropic.com/v1",
};

static json_object *parse(const char *text) {
    json_object *o = json_tokener_parse(text);
    cr_assert(o, "bad test JSON: %s", text);
    return o;
}

static void assert_json_eq(const char *got, const char *want) {
    json_object *g = parse(got), *w = parse(want);
    cr_assert(json_object_equal(g, w), "got  %s\nwant %s", got, want);
    json_object_put(g);
    json_object_put(w);
}

/* Builds for `request`; returns the status, the body in *body (malloc'd,
 * NULL on failure) and the error in *err. */
static aigw_status build(aigw__op op, const char *request, char **body, aigw__upstream_request *out,
                         aigw_error **err) {
    json_object *req = parse(request);
    aigw__call call = {.op = op, .backend = &backend, .model = "claude-sonnet-4-5", .request = req};
    aigw__upstream_request tmp = {0};
    if (!out)
        out = &tmp;
    aigw_status st = aigw__adapter_anthropic.build(&call, out, err);
    *body = st == AIGW_OK ? strdup(out->body.data) : NULL;
    if (out == &tmp)
        aigw__upstream_request_free(&tmp);
    json_object_put(req);
    return st;
}

static void check_build(const char *request, const char *want) {
    char *body = NULL;
    aigw_error *err = NULL;
    aigw_status st = build(AIGW__OP_CHAT, request, &body, NULL, &err);
    cr_assert_eq(st, AIGW_OK, "build: %s", aigw_error_message(err));
    cr_assert_null(err);
    assert_json_eq(body, want);
    free(body);
}

static void check_build_fails(aigw__op op, const char *request, aigw_status want,
                              const char *needle) {
    char *body = NULL;
    aigw_error *err = NULL;
    aigw_status st = build(op, request, &body, NULL, &err);
    cr_assert_eq(st, want, "status %d", st);
    cr_assert_not_null(err);
    cr_assert(strstr(aigw_error_message(err), needle), "message: %s", aigw_error_message(err));
    aigw_error_free(err);
    free(body);
}

Test(anthropic_build, url_headers_and_stream_flag) {
    aigw__upstream_request out = {0};
    char *body = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(build(AIGW__OP_CHAT_STREAM,
                       "{\"model\":\"anthropic/x\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"hi\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                       &body, &out, &err),
                 AIGW_OK);
    cr_assert_str_eq(out.method, "POST");
    cr_assert_str_eq(out.url.data, "https://api.anthropic.com/v1/messages");
    int accept = 0, ctype = 0, version = 0;
    for (struct curl_slist *h = out.headers; h; h = h->next) {
        accept |= strcmp(h->data, "Accept: text/event-stream") == 0;
        ctype |= strcmp(h->data, "Content-Type: application/json") == 0;
        version |= strcmp(h->data, "anthropic-version: 2023-06-01") == 0;
    }
    cr_assert(accept && ctype && version);
    assert_json_eq(body, "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\","
                         "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}],\"max_tokens\":4096,"
                         "\"stream\":true}");
    free(body);
    aigw__upstream_request_free(&out);
}

Test(anthropic_build, system_lift_and_merge) {
    check_build("{\"model\":\"m\",\"messages\":["
                "{\"role\":\"system\",\"content\":\"Be terse.\"},"
                "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be kind.\"}]},"
                "{\"role\":\"user\",\"content\":\"hi\"},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"there\"}]},"
                "{\"role\":\"assistant\",\"content\":\"hello\"},"
                "{\"role\":\"user\",\"content\":\"bye\"}]}",
                "{\"model\":\"claude-sonnet-4-5\",\"system\":\"Be terse.\\n\\nBe kind.\","
                "\"max_tokens\":4096,\"messages\":["
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
                "{\"type\":\"text\",\"text\":\"there\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"bye\"}]}]}");
}

Test(anthropic_build, images) {
    check_build("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                "{\"type\":\"text\",\"text\":\"what?\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.jpg\"}}]}]}",
                "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":[{\"role\":"
                "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what?\"},"
                "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
                "\"image/png\",\"data\":\"iVBO\"}},"
                "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":"
                "\"https://x.test/a.jpg\"}}]}]}");
    check_build_fails(AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
                      AIGW_EBADREQUEST, "base64");
    check_build_fails(AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"ftp://x\"}}]}]}",
                      AIGW_EBADREQUEST, "image URL");
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"    \
    "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"          \
    "\"string\"}}}}}]"
#define ATOOLS                                                                                     \
    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":" \
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}]"
#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"w?\"}]"
#define AMSG "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"w?\"}]}]"
#define HEAD "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096," AMSG ","

Test(anthropic_build, tools_and_tool_choice) {
    check_build("{" MSG "," TOOLS "}", HEAD ATOOLS "}");
    check_build("{" MSG "," TOOLS ",\"tool_choice\":\"auto\"}",
                HEAD ATOOLS ",\"tool_choice\":{\"type\":\"auto\"}}");
    check_build("{" MSG "," TOOLS ",\"tool_choice\":\"none\"}",
                HEAD ATOOLS ",\"tool_choice\":{\"type\":\"none\"}}");
    check_build("{" MSG "," TOOLS ",\"tool_choice\":\"required\"}",
                HEAD ATOOLS ",\"tool_choice\":{\"type\":\"any\"}}");
    check_build("{" MSG "," TOOLS
                ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
                HEAD ATOOLS ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}}");
    check_build_fails(AIGW__OP_CHAT, "{" MSG ",\"tool_choice\":\"sometimes\"}", AIGW_EBADREQUEST,
                      "tool_choice");
}

Test(anthropic_build, tool_round_trip) {
    check_build(
        "{" MSG ",\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
        "\\\"Paris\\\"}\"}},{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Rome\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":\"text\","
        "\"text\":\"22C\"}]},"
        "{\"role\":\"user\",\"content\":\"thanks\"}]}",
        "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"w?\"}]},"
        "{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":"
        "\"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_weather\",\"input\":{\"city\":"
        "\"Rome\"}}]},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"content\":\"22C\"},"
        "{\"type\":\"text\",\"text\":\"thanks\"}]}]}");
    check_build_fails(AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t\","
                      "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{nope\"}"
                      "}]}]}",
                      AIGW_EBADREQUEST, "not valid JSON");
}

Test(anthropic_build, parameters) {
    check_build("{" MSG ",\"stop\":\"END\",\"max_completion_tokens\":100,\"max_tokens\":5,"
                "\"temperature\":0.5,\"top_p\":0.9,\"user\":\"u-1\",\"logprobs\":true,\"seed\":1,"
                "\"response_format\":{\"type\":\"json_object\"},\"n\":1}",
                HEAD "\"stop_sequences\":[\"END\"],\"max_tokens\":100,\"temperature\":0.5,"
                     "\"top_p\":0.9,\"metadata\":{\"user_id\":\"u-1\"}}");
    check_build("{" MSG ",\"stop\":[\"a\",\"b\"],\"max_tokens\":7}",
                HEAD "\"stop_sequences\":[\"a\",\"b\"],\"max_tokens\":7}");
}

Test(anthropic_build, refused) {
    check_build_fails(AIGW__OP_CHAT, "{" MSG ",\"n\":2}", AIGW_ENOTSUPPORTED, "\"n\"");
    check_build_fails(AIGW__OP_EMBED, "{\"input\":\"x\"}", AIGW_ENOTSUPPORTED,
                      "anthropic has no embeddings API");
    check_build_fails(AIGW__OP_MODELS, "{}", AIGW_ENOTSUPPORTED, "anthropic");
    check_build_fails(AIGW__OP_CHAT, "{\"model\":\"m\"}", AIGW_EBADREQUEST, "messages");
    check_build_fails(AIGW__OP_CHAT, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
                      AIGW_EBADREQUEST, "wizard");
}

/* ---- responses ---- */

static aigw_status parse_resp(const char *body, char **out, aigw__usage *usage, aigw_error **err) {
    aigw__call call = {.op = AIGW__OP_CHAT, .backend = &backend, .model = "claude-sonnet-4-5"};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__buf buf = AIGW__BUF_INIT;
    aigw_status st = aigw__adapter_anthropic.parse(&call, body, strlen(body), &buf, err);
    if (usage)
        *usage = call.usage;
    *out = st ? NULL : strdup(buf.data);
    aigw__buf_free(&buf);
    return st;
}

/* Checks the translation, with "created" checked for presence and removed. */
static void check_parse(const char *body, const char *want) {
    char *out = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(parse_resp(body, &out, NULL, &err), AIGW_OK, "parse: %s", aigw_error_message(err));
    cr_assert_null(err);
    json_object *g = parse(out), *created;
    cr_assert(json_object_object_get_ex(g, "created", &created) &&
              json_object_get_int64(created) > 1700000000);
    json_object_object_del(g, "created");
    assert_json_eq(json_object_to_json_string(g), want);
    json_object_put(g);
    free(out);
}

#define RESP_HEAD                                                                                  \
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
#define USAGE1 "\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}"
#define OUSAGE1                                                                                    \
    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,"                 \
    "\"prompt_tokens_details\":{\"cached_tokens\":0}}}"
#define OHEAD "{\"id\":\"msg_1\",\"object\":\"chat.completion\",\"model\":\"claude-x\","

Test(anthropic_parse, text) {
    check_parse(RESP_HEAD "\"content\":[{\"type\":\"text\",\"text\":\"Hello \"},{\"type\":\"text\","
                          "\"text\":\"world\"}],\"stop_reason\":\"end_turn\"," USAGE1,
                OHEAD "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                      "\"Hello world\"},\"finish_reason\":\"stop\",\"logprobs\":null}]," OUSAGE1);
}

Test(anthropic_parse, tool_use) {
    check_parse(
        RESP_HEAD "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
                  "\"input\":{\"city\":\"Paris\"}}],\"stop_reason\":\"tool_use\"," USAGE1,
        OHEAD "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
              "\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":"
              "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
              "\"finish_reason\":\"tool_calls\",\"logprobs\":null}]," OUSAGE1);
}

Test(anthropic_parse, thinking_and_cache_usage) {
    aigw__usage u;
    char *out = NULL;
    aigw_error *err = NULL;
    const char *body =
        RESP_HEAD "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Hmm.\",\"signature\":\"s\"},"
                  "{\"type\":\"text\",\"text\":\"42\"}],\"stop_reason\":\"end_turn\","
                  "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,"
                  "\"cache_creation_input_tokens\":20,\"output_tokens\":7}}";
    cr_assert_eq(parse_resp(body, &out, &u, &err), AIGW_OK);
    cr_assert_eq(u.input_tokens, 130);
    cr_assert_eq(u.cached_input_tokens, 100);
    cr_assert_eq(u.output_tokens, 7);
    cr_assert_eq(u.total_tokens, 137);
    free(out);
    check_parse(body,
                OHEAD "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                      "\"42\",\"reasoning_content\":\"Hmm.\"},\"finish_reason\":\"stop\","
                      "\"logprobs\":null}],\"usage\":{\"prompt_tokens\":130,\"completion_tokens\":"
                      "7,\"total_tokens\":137,\"prompt_tokens_details\":{\"cached_tokens\":100}}}");
}

Test(anthropic_parse, stop_reasons) {
    const char *map[][2] = {{"end_turn", "stop"},
                            {"stop_sequence", "stop"},
                            {"max_tokens", "length"},
                            {"tool_use", "tool_calls"},
                            {"refusal", "content_filter"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char body[512], want[512];
        snprintf(body, sizeof body,
                 RESP_HEAD "\"content\":[{\"type\":\"text\",\"text\":\"x\"}],\"stop_reason\":"
                           "\"%s\"," USAGE1,
                 map[i][0]);
        snprintf(want, sizeof want,
                 OHEAD "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                       "\"x\"},\"finish_reason\":\"%s\",\"logprobs\":null}]," OUSAGE1,
                 map[i][1]);
        check_parse(body, want);
    }
}

Test(anthropic_parse, malformed) {
    const char *bad[] = {"",
                         "not json",
                         "[]",
                         "{\"id\":\"x\"}",
                         "{\"content\":\"x\"}",
                         "{\"content\":[{\"text\":\"no type\"}]}",
                         "{\"content\":[{\"type\":\"tool_use\",\"input\":{}}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        aigw_error *err = NULL;
        cr_assert_eq(parse_resp(bad[i], &out, NULL, &err), AIGW_EBADRESPONSE, "%s", bad[i]);
        cr_assert_not_null(err);
        cr_assert(strstr(aigw_error_message(err), "backend \"anthropic\""));
        aigw_error_free(err);
    }
    char *out = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(parse_resp("{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                            "\"boom\"}}",
                            &out, NULL, &err),
                 AIGW_EUPSTREAM);
    cr_assert(strstr(aigw_error_message(err), "boom"));
    aigw_error_free(err);
}

/* ---- errors ---- */

static void check_error(long http, const char *body, aigw_status want, const char *message) {
    aigw__call call = {.op = AIGW__OP_CHAT, .backend = &backend, .model = "m"};
    aigw_error *err = NULL;
    aigw_status st = aigw__adapter_anthropic.error(&call, http, body, strlen(body), &err);
    cr_assert_eq(st, want);
    cr_assert_str_eq(aigw_error_message(err), message);
    cr_assert_eq(aigw_error_status(err), want);
    cr_assert(strstr(aigw_error_json(err), "anthropic"));
    aigw_error_free(err);
}

Test(anthropic_error, bodies) {
    check_error(429,
                "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number "
                "of request tokens has exceeded your per-minute rate limit\"}}",
                AIGW_ERATELIMIT,
                "backend \"anthropic\": HTTP 429: Number of request tokens has exceeded your "
                "per-minute rate limit");
    check_error(529,
                "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                "\"Overloaded\"}}",
                AIGW_EUPSTREAM, "backend \"anthropic\": HTTP 529: Overloaded");
    check_error(502, "<html>Bad gateway</html>", AIGW_EUPSTREAM,
                "backend \"anthropic\": HTTP 502: <html>Bad gateway</html>");
    check_error(401,
                "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":"
                "\"invalid x-api-key\"}}",
                AIGW_EAUTH, "backend \"anthropic\": HTTP 401: invalid x-api-key");
}

/* ---- streams ---- */

typedef struct collected {
    aigw__buf all; /* chunks without "created", one per line */
    int n;
    int stop_at; /* return non-zero at this chunk (1-based), 0 = never */
} collected;

static int collect(const char *json, size_t len, void *user) {
    collected *c = user;
    json_object *o = json_tokener_parse(json);
    cr_assert(o && strlen(json) == len, "chunk is not JSON: %s", json);
    json_object_object_del(o, "created");
    aigw__buf_puts(&c->all, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    aigw__buf_puts(&c->all, "\n");
    json_object_put(o);
    return ++c->n == c->stop_at;
}

/* Runs the stream in pieces of `step` bytes (0 = whole); returns status. */
static aigw_status run_stream(const char *text, size_t step, int wants_usage, collected *c,
                              aigw__usage *usage, aigw_error **err) {
    aigw__call call = {.op = AIGW__OP_CHAT_STREAM,
                       .backend = &backend,
                       .model = "claude-sonnet-4-5",
                       .caller_wants_usage = wants_usage};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__chunk_sink sink = {collect, c};
    void *state = NULL;
    aigw_status st = aigw__adapter_anthropic.stream_open(&call, sink, &state, err);
    size_t len = strlen(text), off = 0;
    if (!step)
        step = len ? len : 1;
    while (!st && off < len) {
        size_t n = len - off < step ? len - off : step;
        st = aigw__adapter_anthropic.stream_feed(state, text + off, n, err);
        off += n;
    }
    if (!st)
        st = aigw__adapter_anthropic.stream_finish(state, err);
    aigw__adapter_anthropic.stream_free(state);
    if (usage)
        *usage = call.usage;
    return st;
}

static const char STREAM[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-20250929\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_read_input_tokens\":5,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Let me check\"}}\r\n\r\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
    "\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"{\\\"city\\\": \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
    "\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

#define CH(delta, fr)                                                                              \
    "{\"id\":\"msg_01\",\"object\":\"chat.completion.chunk\",\"model\":"                           \
    "\"claude-sonnet-4-5-20250929\",\"choices\":[{\"index\":0,\"delta\":" delta                    \
    ",\"finish_reason\":" fr "}]}\n"

#define WANT                                                                                       \
    CH("{\"content\":\"\",\"role\":\"assistant\"}", "null")                                        \
    CH("{\"content\":\"Let me check\"}", "null")                                                   \
    CH("{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_01\",\"type\":\"function\",\"function\":{"    \
       "\"name\":\"get_weather\",\"arguments\":\"\"}}]}",                                          \
       "null")                                                                                     \
    CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\": \"}}]}",        \
       "null")                                                                                     \
    CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}", "null") \
    CH("{}", "\"tool_calls\"")

#define USAGE_CHUNK                                                                                \
    "{\"id\":\"msg_01\",\"object\":\"chat.completion.chunk\",\"model\":"                           \
    "\"claude-sonnet-4-5-20250929\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,"               \
    "\"completion_tokens\":42,\"total_tokens\":72,\"prompt_tokens_details\":{\"cached_tokens\":"   \
    "5}}}\n"

Test(anthropic_stream, whole_and_every_split) {
    collected whole = {AIGW__BUF_INIT, 0, 0};
    aigw__usage u;
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(STREAM, 0, 0, &whole, &u, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    cr_assert_str_eq(whole.all.data, WANT);
    cr_assert_eq(u.input_tokens, 30);
    cr_assert_eq(u.cached_input_tokens, 5);
    cr_assert_eq(u.output_tokens, 42);
    cr_assert_eq(u.total_tokens, 72);
    size_t len = strlen(STREAM);
    for (size_t step = 1; step < len; step++) {
        collected c = {AIGW__BUF_INIT, 0, 0};
        cr_assert_eq(run_stream(STREAM, step, 0, &c, NULL, &err), AIGW_OK);
        cr_assert_str_eq(c.all.data, whole.all.data, "split %zu", step);
        aigw__buf_free(&c.all);
    }
    /* Two pieces, split at every byte. */
    for (size_t at = 1; at < len; at++) {
        aigw__call call = {.op = AIGW__OP_CHAT_STREAM, .backend = &backend, .model = "m"};
        collected c = {AIGW__BUF_INIT, 0, 0};
        aigw__chunk_sink sink = {collect, &c};
        void *state = NULL;
        cr_assert_eq(aigw__adapter_anthropic.stream_open(&call, sink, &state, &err), AIGW_OK);
        cr_assert_eq(aigw__adapter_anthropic.stream_feed(state, STREAM, at, &err), AIGW_OK);
        cr_assert_eq(aigw__adapter_anthropic.stream_feed(state, STREAM + at, len - at, &err),
                     AIGW_OK);
        cr_assert_eq(aigw__adapter_anthropic.stream_finish(state, &err), AIGW_OK);
        aigw__adapter_anthropic.stream_free(state);
        cr_assert_str_eq(c.all.data, whole.all.data, "split at %zu", at);
        aigw__buf_free(&c.all);
    }
    aigw__buf_free(&whole.all);
}

Test(anthropic_stream, usage_chunk_when_asked) {
    collected c = {AIGW__BUF_INIT, 0, 0};
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(STREAM, 0, 1, &c, NULL, &err), AIGW_OK);
    cr_assert_str_eq(c.all.data, WANT USAGE_CHUNK);
    aigw__buf_free(&c.all);
}

Test(anthropic_stream, thinking) {
    const char *s =
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{"
        "\"input_tokens\":1,\"output_tokens\":0}}}\n\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
        "\"thinking\",\"thinking\":\"\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"thinking_delta\",\"thinking\":\"hmm\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"signature_delta\",\"signature\":\"xx\"}}\n\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{"
        "\"output_tokens\":3}}\n\n"
        "data: {\"type\":\"message_stop\"}\n\n";
    collected c = {AIGW__BUF_INIT, 0, 0};
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(s, 0, 0, &c, NULL, &err), AIGW_OK);
    cr_assert(strstr(c.all.data, "\"delta\":{\"reasoning_content\":\"hmm\"}"), "%s", c.all.data);
    cr_assert(strstr(c.all.data, "\"finish_reason\":\"length\""));
    cr_assert_eq(c.n, 3);
    aigw__buf_free(&c.all);
}

Test(anthropic_stream, error_event) {
    const char *kinds[][2] = {{"overloaded_error", "Overloaded"},
                              {"rate_limit_error", "Slow down"},
                              {"api_error", "Internal"}};
    aigw_status want[] = {AIGW_EUPSTREAM, AIGW_ERATELIMIT, AIGW_EUPSTREAM};
    for (int i = 0; i < 3; i++) {
        char s[2048];
        snprintf(s, sizeof s,
                 "%.600s"
                 "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":"
                 "\"%s\"}}\n\n",
                 STREAM, kinds[i][0], kinds[i][1]);
        collected c = {AIGW__BUF_INIT, 0, 0};
        aigw_error *err = NULL;
        char *cut = strstr(s, "event: content_block_delta");
        cr_assert(cut);
        memmove(cut, strstr(s, "event: error"), strlen(strstr(s, "event: error")) + 1);
        cr_assert_eq(run_stream(s, 0, 0, &c, NULL, &err), want[i]);
        cr_assert(strstr(aigw_error_message(err), kinds[i][1]), "%s", aigw_error_message(err));
        cr_assert_eq(c.n, 1);
        aigw_error_free(err);
        aigw__buf_free(&c.all);
    }
}

Test(anthropic_stream, truncated_and_bad) {
    size_t cut = strstr(STREAM, "event: message_stop") - STREAM;
    char *s = strndup(STREAM, cut);
    collected c = {AIGW__BUF_INIT, 0, 0};
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(s, 3, 0, &c, NULL, &err), AIGW_ETRUNCATED);
    cr_assert(strstr(aigw_error_message(err), "message_stop"));
    aigw_error_free(err);
    aigw__buf_free(&c.all);
    free(s);

    const char *bad[] = {"data: not json\n\n", "data: {\"no\":\"type\"}\n\n",
                         /* one element over two lines */
                         ("data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                          "\"input_json_delta\",\"partial_json\":\"{\"}}\n\n")};
    for (int i = 0; i < 3; i++) {
        collected d = {AIGW__BUF_INIT, 0, 0};
        err = NULL;
        cr_assert_eq(run_stream(bad[i], 0, 0, &d, NULL, &err), AIGW_EBADRESPONSE, "%s", bad[i]);
        cr_assert_not_null(err);
        aigw_error_free(err);
        aigw__buf_free(&d.all);
    }
}

Test(anthropic_stream, stopped_by_sink) {
    collected c = {AIGW__BUF_INIT, 0, 2};
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(STREAM, 7, 0, &c, NULL, &err), AIGW_ESTOPPED);
    cr_assert_not_null(err);
    cr_assert_eq(c.n, 2);
    aigw_error_free(err);
    aigw__buf_free(&c.all);
}
