/* SPDX-License-Identifier: Apache-2.0 */
/* The aws-bedrock adapter called directly: Converse request translation,
 * response, error and embeddings translation, and the ConverseStream
 * decoder over event-stream bytes built here (whole and split at every
 * byte). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "core/buf.h"

static aigw__backend backend = {
    .name = (char *)"bedrock",
    .adapter = &aigw__adapter_bedrock,
    .base_url = (char *)"https://bedrock-runtime.us-east-1.amazonaws.com",
    .region = (char *)"us-east-1",
};

#define CLAUDE "anthropic.claude-3-5-sonnet-20240620-v1:0"

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

static aigw_status build(aigw__op op, const char *model, const char *request, char **body,
                         aigw__upstream_request *out, aigw_error **err) {
    json_object *req = parse(request);
    aigw__call call = {.op = op, .backend = &backend, .model = model, .request = req};
    aigw__upstream_request tmp = {0};
    if (!out)
        out = &tmp;
    aigw_status st = aigw__adapter_bedrock.build(&call, out, err);
    *body = st == AIGW_OK ? strdup(out->body.data) : NULL;
    if (out == &tmp)
        aigw__upstream_request_free(&tmp);
    json_object_put(req);
    return st;
}

static void check_build_model(aigw__op op, const char *model, const char *request,
                              const char *want) {
    char *body = NULL;
    aigw_error *err = NULL;
    aigw_status st = build(op, model, request, &body, NULL, &err);
    cr_assert_eq(st, AIGW_OK, "build: %s", aigw_error_message(err));
    cr_assert_null(err);
    assert_json_eq(body, want);
    free(body);
}

static void check_build(const char *request, const char *want) {
    check_build_model(AIGW__OP_CHAT, CLAUDE, request, want);
}

static void check_build_fails_model(aigw__op op, const char *model, const char *request,
                                    aigw_status want, const char *needle) {
    char *body = NULL;
    aigw_error *err = NULL;
    aigw_status st = build(op, model, request, &body, NULL, &err);
    cr_assert_eq(st, want, "status %d", st);
    cr_assert_not_null(err);
    cr_assert(strstr(aigw_error_message(err), needle), "message: %s", aigw_error_message(err));
    aigw_error_free(err);
    free(body);
}

static void check_build_fails(const char *request, aigw_status want, const char *needle) {
    check_build_fails_model(AIGW__OP_CHAT, CLAUDE, request, want, needle);
}

static int has_header(struct curl_slist *h, const char *line) {
    for (; h; h = h->next)
        if (strcmp(h->data, line) == 0)
            return 1;
    return 0;
}

Test(bedrock_build, url_escaping_and_headers) {
    static const struct {
        aigw__op op;
        const char *suffix, *accept;
    } cases[] = {
        {AIGW__OP_CHAT, "/converse", "Accept: application/json"},
        {AIGW__OP_CHAT_STREAM, "/converse-stream", "Accept: application/vnd.amazon.eventstream"},
    };
    for (size_t i = 0; i < 2; i++) {
        aigw__upstream_request out = {0};
        char *body = NULL;
        aigw_error *err = NULL;
        cr_assert_eq(build(cases[i].op, CLAUDE,
                           "{\"model\":\"bedrock/x\",\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"hi\"}],\"stream\":true}",
                           &body, &out, &err),
                     AIGW_OK);
        cr_assert_str_eq(out.method, "POST");
        char want[256];
        snprintf(want, sizeof want,
                 "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                 "anthropic.claude-3-5-sonnet-20240620-v1%%3A0%s",
                 cases[i].suffix);
        cr_assert_str_eq(out.url.data, want);
        cr_assert(has_header(out.headers, cases[i].accept));
        cr_assert(has_header(out.headers, "Content-Type: application/json"));
        for (struct curl_slist *h = out.headers; h; h = h->next)
            cr_assert(strncasecmp(h->data, "Authorization", 13) != 0, "adapter must not sign");
        assert_json_eq(body,
                       "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}");
        free(body);
        aigw__upstream_request_free(&out);
    }
}

Test(bedrock_build, system_and_merge) {
    check_build("{\"model\":\"m\",\"messages\":["
                "{\"role\":\"system\",\"content\":\"Be terse.\"},"
                "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be kind.\"}]},"
                "{\"role\":\"user\",\"content\":\"hi\"},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"there\"}]},"
                "{\"role\":\"assistant\",\"content\":\"hello\"},"
                "{\"role\":\"assistant\",\"content\":\"again\"},"
                "{\"role\":\"user\",\"content\":\"bye\"}],"
                "\"seed\":1,\"frobnicate\":true,\"user\":\"u\"}",
                "{\"system\":[{\"text\":\"Be terse.\"},{\"text\":\"Be kind.\"}],\"messages\":["
                "{\"role\":\"user\",\"content\":[{\"text\":\"hi\"},{\"text\":\"there\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"text\":\"hello\"},{\"text\":\"again\"}]},"
                "{\"role\":\"user\",\"content\":[{\"text\":\"bye\"}]}]}");
}

Test(bedrock_build, images) {
    check_build("{\"messages\":[{\"role\":\"user\",\"content\":["
                "{\"type\":\"text\",\"text\":\"what?\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/webp;base64,UklG\"}},"
                "{\"type\":\"image_url\",\"image_url\":\"data:image/gif;base64,R0lG\"}]}]}",
                "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"what?\"},"
                "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":\"iVBO\"}}},"
                "{\"image\":{\"format\":\"jpeg\",\"source\":{\"bytes\":\"/9j/\"}}},"
                "{\"image\":{\"format\":\"webp\",\"source\":{\"bytes\":\"UklG\"}}},"
                "{\"image\":{\"format\":\"gif\",\"source\":{\"bytes\":\"R0lG\"}}}]}]}");
    check_build_fails("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"https://x.test/a.png\"}}]}]}",
                      AIGW_ENOTSUPPORTED, "S3");
    check_build_fails("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
                      AIGW_EBADREQUEST, "base64");
    check_build_fails("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"data:image/tiff;base64,abc\"}}]}]}",
                      AIGW_ENOTSUPPORTED, "image/tiff");
    check_build_fails(
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
        AIGW_ENOTSUPPORTED, "input_audio");
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"    \
    "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"          \
    "\"string\"}}}}}]"
#define BTOOLS                                                                                     \
    "\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\",\"description\":\"Weather\","              \
    "\"inputSchema\":{\"json\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"           \
    "\"string\"}}}}}}]"

Test(bedrock_build, tools_round_trip) {
    check_build("{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris and Rome?\"},"
                "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                "{\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                "{\"id\":\"t2\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"arguments\":\"\"}}]},"
                "{\"role\":\"tool\",\"tool_call_id\":\"t1\",\"content\":\"sunny\"},"
                "{\"role\":\"tool\",\"tool_call_id\":\"t2\",\"content\":[{\"type\":\"text\","
                "\"text\":\"rain\"}]},"
                "{\"role\":\"user\",\"content\":\"thanks\"}]," TOOLS "}",
                "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Weather in Paris and "
                "Rome?\"}]},"
                "{\"role\":\"assistant\",\"content\":["
                "{\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"get_weather\",\"input\":{\"city\":"
                "\"Paris\"}}},"
                "{\"toolUse\":{\"toolUseId\":\"t2\",\"name\":\"get_weather\",\"input\":{}}}]},"
                "{\"role\":\"user\",\"content\":["
                "{\"toolResult\":{\"toolUseId\":\"t1\",\"content\":[{\"text\":\"sunny\"}]}},"
                "{\"toolResult\":{\"toolUseId\":\"t2\",\"content\":[{\"text\":\"rain\"}]}},"
                "{\"text\":\"thanks\"}]}],"
                "\"toolConfig\":{" BTOOLS "}}");
    check_build_fails("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t1\","
                      "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
                      AIGW_EBADREQUEST, "JSON object");
    check_build_fails("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", AIGW_EBADREQUEST,
                      "tool_call_id");
}

Test(bedrock_build, tool_choice) {
    const char *msgs = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," TOOLS;
    const char *bmsgs = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],";
    static const struct {
        const char *choice, *want;
    } cases[] = {
        {",\"tool_choice\":\"auto\"}", "\"toolConfig\":{" BTOOLS ",\"toolChoice\":{\"auto\":{}}}}"},
        {",\"tool_choice\":\"required\"}",
         "\"toolConfig\":{" BTOOLS ",\"toolChoice\":{\"any\":{}}}}"},
        {",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
         "\"toolConfig\":{" BTOOLS ",\"toolChoice\":{\"tool\":{\"name\":\"get_weather\"}}}}"},
        {"}", "\"toolConfig\":{" BTOOLS "}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[2048], want[2048];
        snprintf(req, sizeof req, "%s%s", msgs, cases[i].choice);
        snprintf(want, sizeof want, "%s%s", bmsgs, cases[i].want);
        check_build(req, want);
    }
    char req[2048];
    snprintf(req, sizeof req, "%s,\"tool_choice\":\"none\"}", msgs);
    check_build(req, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}");
    snprintf(req, sizeof req, "%s,\"tool_choice\":\"sometimes\"}", msgs);
    check_build_fails(req, AIGW_EBADREQUEST, "tool_choice");
}

Test(bedrock_build, inference_config_and_stop) {
    check_build("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":50,"
                "\"max_completion_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,"
                "\"stop\":[\"END\",\"STOP\"],\"presence_penalty\":1}",
                "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],"
                "\"inferenceConfig\":{\"maxTokens\":100,\"temperature\":0.5,\"topP\":0.9,"
                "\"stopSequences\":[\"END\",\"STOP\"]}}");
    check_build("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":50,"
                "\"stop\":\"END\"}",
                "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}],"
                "\"inferenceConfig\":{\"maxTokens\":50,\"stopSequences\":[\"END\"]}}");
    check_build_fails("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":2}",
                      AIGW_ENOTSUPPORTED, "\"n\"");
    check_build_fails("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":[1]}",
                      AIGW_EBADREQUEST, "stop");
    check_build_fails("{\"model\":\"x\"}", AIGW_EBADREQUEST, "messages");
    check_build_fails("{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", AIGW_EBADREQUEST,
                      "wizard");
}

Test(bedrock_build, embeddings_and_models) {
    aigw__upstream_request out = {0};
    char *body = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(build(AIGW__OP_EMBED, "amazon.titan-embed-text-v2:0",
                       "{\"input\":\"hello\",\"dimensions\":256}", &body, &out, &err),
                 AIGW_OK);
    cr_assert_str_eq(out.url.data, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                                   "amazon.titan-embed-text-v2%3A0/invoke");
    cr_assert(has_header(out.headers, "Accept: application/json"));
    assert_json_eq(body, "{\"inputText\":\"hello\",\"dimensions\":256,\"normalize\":true}");
    free(body);
    aigw__upstream_request_free(&out);
    check_build_model(AIGW__OP_EMBED, "amazon.titan-embed-text-v2:0", "{\"input\":[\"one\"]}",
                      "{\"inputText\":\"one\",\"normalize\":true}");
    check_build_fails_model(AIGW__OP_EMBED, "amazon.titan-embed-text-v2:0",
                            "{\"input\":[\"one\",\"two\"]}", AIGW_ENOTSUPPORTED, "one text");
    check_build_model(AIGW__OP_EMBED, "cohere.embed-english-v3", "{\"input\":[\"a\",\"b\"]}",
                      "{\"texts\":[\"a\",\"b\"],\"input_type\":\"search_document\"}");
    check_build_model(AIGW__OP_EMBED, "cohere.embed-multilingual-v3", "{\"input\":\"a\"}",
                      "{\"texts\":[\"a\"],\"input_type\":\"search_document\"}");
    check_build_fails_model(AIGW__OP_EMBED, "cohere.embed-english-v3", "{\"input\":[[1,2]]}",
                            AIGW_EBADREQUEST, "token arrays");
    check_build_fails_model(AIGW__OP_EMBED, "meta.llama3", "{\"input\":\"a\"}", AIGW_ENOTSUPPORTED,
                            "meta.llama3");
    aigw__call call = {.op = AIGW__OP_MODELS, .backend = &backend};
    aigw__upstream_request m = {0};
    cr_assert_eq(aigw__adapter_bedrock.build(&call, &m, &err), AIGW_ENOTSUPPORTED);
    cr_assert(strstr(aigw_error_message(err), "ListFoundationModels"));
    aigw_error_free(err);
    aigw__upstream_request_free(&m);
}

/* ---- responses ---- */

static aigw_status parse_as(aigw__op op, const char *model, const char *request, const char *body,
                            char **out_json, aigw__usage *usage, aigw_error **err) {
    json_object *req = request ? parse(request) : NULL;
    aigw__call call = {.op = op, .backend = &backend, .model = model, .request = req};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st = aigw__adapter_bedrock.parse(&call, body, strlen(body), &out, err);
    *out_json = st == AIGW_OK ? strdup(out.data) : NULL;
    if (usage)
        *usage = call.usage;
    aigw__buf_free(&out);
    json_object_put(req);
    return st;
}

/* Checks the response against `want` after checking and removing id and
 * created. */
static void check_response(const char *got, const char *want, const char *id_prefix) {
    json_object *g = parse(got);
    json_object *id = json_object_object_get(g, "id");
    if (id_prefix) {
        cr_assert(id && !strncmp(json_object_get_string(id), id_prefix, strlen(id_prefix)),
                  "id: %s", got);
        cr_assert(json_object_object_get(g, "created"));
    }
    json_object_object_del(g, "id");
    json_object_object_del(g, "created");
    json_object *w = parse(want);
    cr_assert(json_object_equal(g, w), "got  %s\nwant %s", json_object_to_json_string(g), want);
    json_object_put(g);
    json_object_put(w);
}

Test(bedrock_parse, text_with_cache_usage) {
    char *out = NULL;
    aigw__usage u;
    aigw_error *err = NULL;
    cr_assert_eq(parse_as(AIGW__OP_CHAT, CLAUDE, "{}",
                          "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
                          "{\"reasoningContent\":{\"reasoningText\":{\"text\":\"hmm\","
                          "\"signature\":\"s\"}}},"
                          "{\"text\":\"Hello\"},{\"text\":\" world\"}]}},\"stopReason\":"
                          "\"end_turn\",\"usage\":{\"inputTokens\":10,\"outputTokens\":5,"
                          "\"totalTokens\":15,\"cacheReadInputTokens\":100,"
                          "\"cacheWriteInputTokens\":20},\"metrics\":{\"latencyMs\":300}}",
                          &out, &u, &err),
                 AIGW_OK);
    check_response(out,
                   "{\"object\":\"chat.completion\",\"model\":\"" CLAUDE "\",\"choices\":[{"
                   "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello world\","
                   "\"reasoning_content\":\"hmm\"},\"finish_reason\":\"stop\",\"logprobs\":null}],"
                   "\"usage\":{\"prompt_tokens\":130,\"completion_tokens\":5,\"total_tokens\":135,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":100}}}",
                   "chatcmpl-bedrock-");
    cr_assert_eq(u.input_tokens, 130);
    cr_assert_eq(u.cached_input_tokens, 100);
    cr_assert_eq(u.output_tokens, 5);
    cr_assert_eq(u.total_tokens, 135);
    free(out);
}

Test(bedrock_parse, tool_use) {
    char *out = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(parse_as(AIGW__OP_CHAT, CLAUDE, "{}",
                          "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["
                          "{\"toolUse\":{\"toolUseId\":\"tooluse_1\",\"name\":\"get_weather\","
                          "\"input\":{\"city\":\"Paris\"}}},"
                          "{\"toolUse\":{\"toolUseId\":\"tooluse_2\",\"name\":\"now\","
                          "\"input\":{}}}]}},\"stopReason\":\"tool_use\","
                          "\"usage\":{\"inputTokens\":3,\"outputTokens\":4,\"totalTokens\":7}}",
                          &out, NULL, &err),
                 AIGW_OK);
    check_response(out,
                   "{\"object\":\"chat.completion\",\"model\":\"" CLAUDE "\",\"choices\":[{"
                   "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                   "\"tool_calls\":[{\"id\":\"tooluse_1\",\"type\":\"function\",\"function\":{"
                   "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                   "{\"id\":\"tooluse_2\",\"type\":\"function\",\"function\":{\"name\":\"now\","
                   "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\",\"logprobs\":null}],"
                   "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
                   "chatcmpl-bedrock-");
    free(out);
}

Test(bedrock_parse, every_stop_reason) {
    static const struct {
        const char *reason, *want;
    } cases[] = {{"end_turn", "stop"},
                 {"stop_sequence", "stop"},
                 {"max_tokens", "length"},
                 {"tool_use", "tool_calls"},
                 {"content_filtered", "content_filter"},
                 {"guardrail_intervened", "content_filter"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"
                 "\"x\"}]}},\"stopReason\":\"%s\"}",
                 cases[i].reason);
        char *out = NULL;
        aigw_error *err = NULL;
        cr_assert_eq(parse_as(AIGW__OP_CHAT, CLAUDE, "{}", body, &out, NULL, &err), AIGW_OK);
        json_object *o = parse(out);
        json_object *ch = json_object_array_get_idx(json_object_object_get(o, "choices"), 0);
        cr_assert_str_eq(json_object_get_string(json_object_object_get(ch, "finish_reason")),
                         cases[i].want);
        json_object_put(o);
        free(out);
    }
}

Test(bedrock_parse, malformed) {
    const char *bodies[] = {"not json", "[]", "{\"output\":{}}",
                            "{\"output\":{\"message\":{\"content\":[{\"toolUse\":{}}]}}}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char *out = NULL;
        aigw_error *err = NULL;
        cr_assert_eq(parse_as(AIGW__OP_CHAT, CLAUDE, "{}", bodies[i], &out, NULL, &err),
                     AIGW_EBADRESPONSE, "%s", bodies[i]);
        cr_assert_not_null(err);
        aigw_error_free(err);
    }
}

Test(bedrock_error, by_status) {
    static const struct {
        long http;
        const char *body;
        aigw_status want;
        const char *msg;
    } cases[] = {
        {400, "{\"message\":\"Malformed input request\"}", AIGW_EBADREQUEST,
         "backend \"bedrock\": HTTP 400: Malformed input request"},
        {403, "{\"Message\":\"User is not authorized\"}", AIGW_EPERMISSION,
         "backend \"bedrock\": HTTP 403: User is not authorized"},
        {404, "{\"message\":\"Could not resolve the foundation model\"}", AIGW_ENOTFOUND,
         "backend \"bedrock\": HTTP 404: Could not resolve the foundation model"},
        {429, "{\"message\":\"Too many requests, please wait before trying again.\"}",
         AIGW_ERATELIMIT,
         "backend \"bedrock\": HTTP 429: Too many requests, please wait before trying again."},
        {500, "{\"message\":\"Internal failure\"}", AIGW_EUPSTREAM,
         "backend \"bedrock\": HTTP 500: Internal failure"},
        {503, "<html>down</html>", AIGW_EUPSTREAM, "backend \"bedrock\": HTTP 503: <html>down"},
        {502, "", AIGW_EUPSTREAM, "backend \"bedrock\": HTTP 502: (no message)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw__call call = {.op = AIGW__OP_CHAT, .backend = &backend, .model = CLAUDE};
        aigw_error *err = NULL;
        aigw_status st = aigw__adapter_bedrock.error(&call, cases[i].http, cases[i].body,
                                                     strlen(cases[i].body), &err);
        cr_assert_eq(st, cases[i].want, "case %zu: %d", i, st);
        cr_assert_not_null(err);
        cr_assert(strstr(aigw_error_message(err), cases[i].msg), "case %zu: %s", i,
                  aigw_error_message(err));
        aigw_error_free(err);
    }
}

/* ---- embeddings ---- */

Test(bedrock_embed, titan_float_and_base64) {
    char *out = NULL;
    aigw__usage u;
    aigw_error *err = NULL;
    const char *body = "{\"embedding\":[1.0,-2.0,0.5],\"inputTextTokenCount\":4}";
    cr_assert_eq(parse_as(AIGW__OP_EMBED, "amazon.titan-embed-text-v2:0", "{\"input\":\"hi\"}",
                          body, &out, &u, &err),
                 AIGW_OK);
    assert_json_eq(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[1.0,-2.0,0.5]}],\"model\":\"amazon.titan-embed-text-v2:0\","
                        "\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
    cr_assert_eq(u.input_tokens, 4);
    cr_assert_eq(u.total_tokens, 4);
    free(out);
    /* 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, 0.5f = 00 00 00 3f (LE) */
    cr_assert_eq(parse_as(AIGW__OP_EMBED, "amazon.titan-embed-text-v2:0",
                          "{\"input\":\"hi\",\"encoding_format\":\"base64\"}", body, &out, NULL,
                          &err),
                 AIGW_OK);
    assert_json_eq(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":\"AACAPwAAAMAAAAA/\"}],"
                        "\"model\":\"amazon.titan-embed-text-v2:0\","
                        "\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}");
    free(out);
}

Test(bedrock_embed, cohere_float_and_base64) {
    char *out = NULL;
    aigw__usage u;
    aigw_error *err = NULL;
    const char *body = "{\"embeddings\":[[1.0,0.5],[-2.0,1]],\"id\":\"abc\",\"response_type\":"
                       "\"embeddings_floats\",\"texts\":[\"a\",\"b\"]}";
    cr_assert_eq(parse_as(AIGW__OP_EMBED, "cohere.embed-english-v3", "{\"input\":[\"a\",\"b\"]}",
                          body, &out, &u, &err),
                 AIGW_OK);
    assert_json_eq(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[1.0,0.5]},{\"object\":\"embedding\",\"index\":1,"
                        "\"embedding\":[-2.0,1]}],\"model\":\"cohere.embed-english-v3\","
                        "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    cr_assert_eq(u.input_tokens, -1);
    free(out);
    cr_assert_eq(parse_as(AIGW__OP_EMBED, "cohere.embed-english-v3",
                          "{\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\"}",
                          "{\"embeddings\":{\"float\":[[1.0,0.5],[-2.0,1]]},\"id\":\"abc\"}", &out,
                          NULL, &err),
                 AIGW_OK);
    assert_json_eq(out, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":\"AACAPwAAAD8=\"},{\"object\":\"embedding\",\"index\":1,"
                        "\"embedding\":\"AAAAwAAAgD8=\"}],\"model\":\"cohere.embed-english-v3\","
                        "\"usage\":{\"prompt_tokens\":0,\"total_tokens\":0}}");
    free(out);
    const char *bad[] = {"{\"embeddings\":[]}", "{\"embeddings\":[[\"x\"]]}", "{}"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(parse_as(AIGW__OP_EMBED, "cohere.embed-english-v3", "{\"input\":\"a\"}",
                              bad[i], &out, NULL, &err),
                     AIGW_EBADRESPONSE, "%s", bad[i]);
        aigw_error_free(err);
        err = NULL;
    }
}

/* ---- streaming ---- */

static void put_be32(aigw__buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    cr_assert_eq(aigw__buf_append(b, x, 4), AIGW_OK);
}

static void put_str_header(aigw__buf *h, const char *name, const char *value) {
    unsigned char nl = (unsigned char)strlen(name);
    size_t vl = strlen(value);
    unsigned char t[3] = {7, (unsigned char)(vl >> 8), (unsigned char)vl};
    aigw__buf_append(h, &nl, 1);
    aigw__buf_append(h, name, nl);
    aigw__buf_append(h, t, 3);
    aigw__buf_append(h, value, vl);
}

/* Appends one event-stream message: message type "event" or "exception",
 * the event or exception type, and a JSON payload. */
static void es_message(aigw__buf *out, const char *mtype, const char *etype, const char *payload) {
    aigw__buf h = AIGW__BUF_INIT, m = AIGW__BUF_INIT;
    put_str_header(&h, strcmp(mtype, "event") == 0 ? ":event-type" : ":exception-type", etype);
    put_str_header(&h, ":content-type", "application/json");
    put_str_header(&h, ":message-type", mtype);
    size_t plen = strlen(payload);
    uint32_t total = (uint32_t)(12 + h.len + plen + 4);
    put_be32(&m, total);
    put_be32(&m, (uint32_t)h.len);
    put_be32(&m, (uint32_t)crc32(0, (const Bytef *)m.data, 8));
    aigw__buf_append(&m, h.data, h.len);
    aigw__buf_append(&m, payload, plen);
    put_be32(&m, (uint32_t)crc32(0, (const Bytef *)m.data, (uInt)m.len));
    aigw__buf_append(out, m.data, m.len);
    aigw__buf_free(&h);
    aigw__buf_free(&m);
}

static void converse_stream(aigw__buf *b, int with_stop, int with_metadata) {
    es_message(b, "event", "messageStart", "{\"p\":\"abcd\",\"role\":\"assistant\"}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"text\":\"Think\"}},"
               "\"p\":\"ab\"}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":0,\"delta\":{\"reasoningContent\":{\"signature\":"
               "\"sig\"}}}");
    es_message(b, "event", "contentBlockStop", "{\"contentBlockIndex\":0}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":1,\"delta\":{\"text\":\"Let me \"},\"p\":\"abcdef\"}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":1,\"delta\":{\"text\":\"check.\"}}");
    es_message(b, "event", "contentBlockStop", "{\"contentBlockIndex\":1}");
    es_message(b, "event", "contentBlockStart",
               "{\"contentBlockIndex\":2,\"start\":{\"toolUse\":{\"toolUseId\":\"tooluse_1\","
               "\"name\":\"get_weather\"}}}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":2,\"delta\":{\"toolUse\":{\"input\":\"{\\\"city\\\":\"}}}");
    es_message(b, "event", "contentBlockDelta",
               "{\"contentBlockIndex\":2,\"delta\":{\"toolUse\":{\"input\":\"\\\"Paris\\\"}\"}}}");
    es_message(b, "event", "contentBlockStop", "{\"contentBlockIndex\":2}");
    if (with_stop)
        es_message(b, "event", "messageStop", "{\"stopReason\":\"tool_use\"}");
    if (with_metadata)
        es_message(b, "event", "metadata",
                   "{\"usage\":{\"inputTokens\":20,\"outputTokens\":12,\"totalTokens\":32,"
                   "\"cacheReadInputTokens\":5},\"metrics\":{\"latencyMs\":100}}");
}

typedef struct collected {
    aigw__buf text; /* normalized chunks, one a line */
    int n;
    int stop_after; /* stop (non-zero) at this chunk, 0 = never */
} collected;

static int collect(const char *json, size_t len, void *user) {
    collected *c = user;
    json_object *o = json_tokener_parse(json);
    cr_assert(o && strlen(json) == len, "chunk: %.*s", (int)len, json);
    const char *id = json_object_get_string(json_object_object_get(o, "id"));
    cr_assert(id && strncmp(id, "chatcmpl-bedrock-", 17) == 0);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "object")),
                     "chat.completion.chunk");
    json_object_object_del(o, "id");
    json_object_object_del(o, "created");
    aigw__buf_puts(&c->text, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    aigw__buf_puts(&c->text, "\n");
    json_object_put(o);
    return c->stop_after && ++c->n >= c->stop_after;
}

/* Feeds `bytes` in pieces of `step` bytes (0 = whole); returns the status
 * and the error (from feed or finish). */
static aigw_status run_stream(const aigw__buf *bytes, size_t step, int wants_usage, collected *c,
                              aigw__usage *usage, aigw_error **err) {
    aigw__call call = {.op = AIGW__OP_CHAT_STREAM,
                       .backend = &backend,
                       .model = CLAUDE,
                       .caller_wants_usage = wants_usage};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    void *state = NULL;
    aigw__chunk_sink sink = {collect, c};
    aigw_status st = aigw__adapter_bedrock.stream_open(&call, sink, &state, err);
    cr_assert_eq(st, AIGW_OK);
    size_t off = 0;
    while (!st && off < bytes->len) {
        size_t n = step == 0 || bytes->len - off < step ? bytes->len - off : step;
        st = aigw__adapter_bedrock.stream_feed(state, bytes->data + off, n, err);
        off += n;
    }
    if (!st)
        st = aigw__adapter_bedrock.stream_finish(state, err);
    aigw__adapter_bedrock.stream_free(state);
    if (usage)
        *usage = call.usage;
    return st;
}

static const char *const want_chunks =
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"\",\"role\":\"assistant\"},\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"reasoning_content\":\"Think\"},\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"Let me \"},\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"check.\"},\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"tooluse_1\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},"
    "\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},"
    "\"finish_reason\":null}]}\n"
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[{\"index\":0,"
    "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n";

static const char *const want_usage_chunk =
    "{\"object\":\"chat.completion.chunk\",\"model\":\"" CLAUDE "\",\"choices\":[],\"usage\":{"
    "\"prompt_tokens\":25,\"completion_tokens\":12,\"total_tokens\":37,"
    "\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n";

/* Compares line by line as JSON. */
static void assert_chunks_eq(const char *got, const char *want) {
    const char *g = got, *w = want;
    int line = 0;
    while (*g && *w) {
        const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
        cr_assert(ge && we);
        char *gs = strndup(g, (size_t)(ge - g)), *ws = strndup(w, (size_t)(we - w));
        json_object *go = parse(gs), *wo = parse(ws);
        cr_assert(json_object_equal(go, wo), "chunk %d:\ngot  %s\nwant %s", line, gs, ws);
        json_object_put(go);
        json_object_put(wo);
        free(gs);
        free(ws);
        g = ge + 1;
        w = we + 1;
        line++;
    }
    cr_assert(!*g && !*w, "chunk count differs at %d:\ngot  %s\nwant %s", line, g, w);
}

Test(bedrock_stream, whole_and_every_split) {
    aigw__buf bytes = AIGW__BUF_INIT;
    converse_stream(&bytes, 1, 1);
    aigw__buf want = AIGW__BUF_INIT;
    aigw__buf_puts(&want, want_chunks);
    aigw__buf_puts(&want, want_usage_chunk);

    collected whole = {AIGW__BUF_INIT, 0, 0};
    aigw__usage u;
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(&bytes, 0, 1, &whole, &u, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    cr_assert_null(err);
    assert_chunks_eq(whole.text.data, want.data);
    cr_assert_eq(u.input_tokens, 25);
    cr_assert_eq(u.cached_input_tokens, 5);
    cr_assert_eq(u.output_tokens, 12);
    cr_assert_eq(u.total_tokens, 37);

    /* Split in two at every byte boundary, and one byte at a time. */
    for (size_t cut = 1; cut < bytes.len; cut++) {
        aigw__call call = {.op = AIGW__OP_CHAT_STREAM,
                           .backend = &backend,
                           .model = CLAUDE,
                           .caller_wants_usage = 1};
        collected c = {AIGW__BUF_INIT, 0, 0};
        void *state = NULL;
        aigw__chunk_sink sink = {collect, &c};
        cr_assert_eq(aigw__adapter_bedrock.stream_open(&call, sink, &state, &err), AIGW_OK);
        cr_assert_eq(aigw__adapter_bedrock.stream_feed(state, bytes.data, cut, &err), AIGW_OK);
        cr_assert_eq(
            aigw__adapter_bedrock.stream_feed(state, bytes.data + cut, bytes.len - cut, &err),
            AIGW_OK);
        cr_assert_eq(aigw__adapter_bedrock.stream_finish(state, &err), AIGW_OK);
        aigw__adapter_bedrock.stream_free(state);
        cr_assert_str_eq(c.text.data, whole.text.data, "cut at %zu", cut);
        aigw__buf_free(&c.text);
    }
    collected bytewise = {AIGW__BUF_INIT, 0, 0};
    cr_assert_eq(run_stream(&bytes, 1, 1, &bytewise, NULL, &err), AIGW_OK);
    cr_assert_str_eq(bytewise.text.data, whole.text.data);

    /* Without include_usage: no usage chunk, usage still recorded. */
    collected nousage = {AIGW__BUF_INIT, 0, 0};
    cr_assert_eq(run_stream(&bytes, 7, 0, &nousage, &u, &err), AIGW_OK);
    assert_chunks_eq(nousage.text.data, want_chunks);
    cr_assert_eq(u.total_tokens, 37);

    aigw__buf_free(&bytewise.text);
    aigw__buf_free(&nousage.text);
    aigw__buf_free(&whole.text);
    aigw__buf_free(&want);
    aigw__buf_free(&bytes);
}

Test(bedrock_stream, exceptions_mid_stream) {
    static const struct {
        const char *type;
        aigw_status want;
    } cases[] = {{"throttlingException", AIGW_ERATELIMIT},
                 {"validationException", AIGW_EBADREQUEST},
                 {"modelStreamErrorException", AIGW_EUPSTREAM},
                 {"internalServerException", AIGW_EUPSTREAM},
                 {"serviceUnavailableException", AIGW_EUPSTREAM}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw__buf bytes = AIGW__BUF_INIT;
        es_message(&bytes, "event", "messageStart", "{\"role\":\"assistant\"}");
        es_message(&bytes, "event", "contentBlockDelta",
                   "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}");
        es_message(&bytes, "exception", cases[i].type, "{\"message\":\"Slow down please\"}");
        es_message(&bytes, "event", "contentBlockDelta",
                   "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"never\"}}");
        for (size_t step = 0; step < 2; step++) {
            collected c = {AIGW__BUF_INIT, 0, 0};
            aigw_error *err = NULL;
            cr_assert_eq(run_stream(&bytes, step, 1, &c, NULL, &err), cases[i].want, "%s",
                         cases[i].type);
            cr_assert_not_null(err);
            cr_assert(strstr(aigw_error_message(err), "Slow down please"), "%s",
                      aigw_error_message(err));
            cr_assert(strstr(aigw_error_message(err), cases[i].type));
            cr_assert(!strstr(c.text.data, "never"));
            cr_assert_eq(c.n, 0);
            aigw_error_free(err);
            aigw__buf_free(&c.text);
        }
        aigw__buf_free(&bytes);
    }
}

Test(bedrock_stream, truncated) {
    /* No messageStop, no metadata, stop without metadata, cut mid-message. */
    for (int k = 0; k < 3; k++) {
        aigw__buf bytes = AIGW__BUF_INIT;
        converse_stream(&bytes, k >= 1, 0);
        if (k == 2)
            bytes.len -= 5; /* inside the last message */
        collected c = {AIGW__BUF_INIT, 0, 0};
        aigw_error *err = NULL;
        cr_assert_eq(run_stream(&bytes, 0, 1, &c, NULL, &err), AIGW_ETRUNCATED, "case %d", k);
        cr_assert_not_null(err);
        cr_assert(strstr(aigw_error_message(err), "stream ended without"), "%s",
                  aigw_error_message(err));
        aigw_error_free(err);
        aigw__buf_free(&c.text);
        aigw__buf_free(&bytes);
    }
    collected c = {AIGW__BUF_INIT, 0, 0};
    aigw__buf empty = AIGW__BUF_INIT;
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(&empty, 0, 0, &c, NULL, &err), AIGW_ETRUNCATED);
    aigw_error_free(err);
    aigw__buf_free(&c.text);
}

Test(bedrock_stream, bad_bytes_and_sink_stop) {
    aigw__buf bytes = AIGW__BUF_INIT;
    converse_stream(&bytes, 1, 1);
    bytes.data[20] ^= 0x55; /* corrupt a header: CRC mismatch */
    collected c = {AIGW__BUF_INIT, 0, 0};
    aigw_error *err = NULL;
    cr_assert_eq(run_stream(&bytes, 0, 1, &c, NULL, &err), AIGW_EBADRESPONSE);
    cr_assert_not_null(err);
    aigw_error_free(err);
    aigw__buf_free(&c.text);
    bytes.data[20] ^= 0x55;

    collected s = {AIGW__BUF_INIT, 0, 2};
    err = NULL;
    cr_assert_eq(run_stream(&bytes, 3, 1, &s, NULL, &err), AIGW_ESTOPPED);
    cr_assert_not_null(err);
    cr_assert_eq(s.n, 2);
    aigw_error_free(err);
    aigw__buf_free(&s.text);

    /* A payload that is not JSON. */
    aigw__buf b2 = AIGW__BUF_INIT;
    es_message(&b2, "event", "contentBlockDelta", "nope");
    collected d = {AIGW__BUF_INIT, 0, 0};
    err = NULL;
    cr_assert_eq(run_stream(&b2, 0, 1, &d, NULL, &err), AIGW_EBADRESPONSE);
    aigw_error_free(err);
    aigw__buf_free(&d.text);
    aigw__buf_free(&b2);
    aigw__buf_free(&bytes);
}
