/* SPDX-License-Identifier: Apache-2.0 */
/* The gemini and gcp-vertex adapters called directly: URLs, request
 * translation, response, embeddings, model list and error translation, and
 * the stream decoder (whole and split at every byte). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "adapters/gemini.h"
#include "core/buf.h"

static aigw__backend gbackend = {
    .name = (char *)"gemini",
    .adapter = &aigw__adapter_gemini,
    .base_url = (char *)"https://generativelanguage.googleapis.com/v1beta",
};

static aigw__backend vbackend = {
    .name = (char *)"vertex",
    .adapter = &aigw__adapter_vertex,
    .base_url = (char *)"https://us-central1-aiplatform.googleapis.com/v1",
    .project = (char *)"p",
    .location = (char *)"us-central1",
};

#define GURL "https://generativelanguage.googleapis.com/v1beta"
#define VURL                                                                                       \
    "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/"           \
    "publishers/google/models/"

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

static aigw_status build(aigw__backend *b, aigw__op op, const char *model, const char *request,
                         aigw__upstream_request *out, aigw_error **err) {
    json_object *req = request ? parse(request) : NULL;
    aigw__call call = {.op = op, .backend = b, .model = model, .request = req};
    aigw_status st = b->adapter->build(&call, out, err);
    json_object_put(req);
    return st;
}

static void check_build(aigw__backend *b, const char *request, const char *want) {
    aigw__upstream_request out = {0};
    aigw_error *err = NULL;
    aigw_status st = build(b, AIGW__OP_CHAT, "gemini-2.0-flash", request, &out, &err);
    cr_assert_eq(st, AIGW_OK, "build: %s", aigw_error_message(err));
    cr_assert_null(err);
    assert_json_eq(out.body.data, want);
    aigw__upstream_request_free(&out);
}

static void check_build_fails(aigw__backend *b, aigw__op op, const char *request, aigw_status want,
                              const char *needle) {
    aigw__upstream_request out = {0};
    aigw_error *err = NULL;
    aigw_status st = build(b, op, "gemini-2.0-flash", request, &out, &err);
    cr_assert_eq(st, want, "status %d", st);
    cr_assert_not_null(err);
    cr_assert(strstr(aigw_error_message(err), needle), "message: %s", aigw_error_message(err));
    aigw_error_free(err);
    aigw__upstream_request_free(&out);
}

static void check_url(aigw__backend *b, aigw__op op, const char *model, const char *request,
                      const char *method, const char *url, const char *accept) {
    aigw__upstream_request out = {0};
    aigw_error *err = NULL;
    cr_assert_eq(build(b, op, model, request, &out, &err), AIGW_OK, "%s", aigw_error_message(err));
    cr_assert_str_eq(out.method, method);
    cr_assert_str_eq(out.url.data, url);
    int found = 0;
    for (struct curl_slist *h = out.headers; h; h = h->next)
        found |= strcmp(h->data, accept) == 0;
    cr_assert(found, "no %s", accept);
    aigw__upstream_request_free(&out);
}

#define HI "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define EMB "{\"model\":\"x\",\"input\":\"hi\"}"

Test(gemini_build, urls) {
    check_url(&gbackend, AIGW__OP_CHAT, "gemini-2.0-flash", HI, "POST",
              GURL "/models/gemini-2.0-flash:generateContent", "Accept: application/json");
    check_url(&gbackend, AIGW__OP_CHAT, "models/gemini-2.0-flash", HI, "POST",
              GURL "/models/gemini-2.0-flash:generateContent", "Accept: application/json");
    check_url(&gbackend, AIGW__OP_CHAT_STREAM, "gemini-2.0-flash", HI, "POST",
              GURL "/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
              "Accept: text/event-stream");
    check_url(&gbackend, AIGW__OP_EMBED, "text-embedding-004", EMB, "POST",
              GURL "/models/text-embedding-004:batchEmbedContents", "Accept: application/json");
    check_url(&gbackend, AIGW__OP_MODELS, NULL, NULL, "GET", GURL "/models",
              "Accept: application/json");
    check_url(&vbackend, AIGW__OP_CHAT, "gemini-2.0-flash", HI, "POST",
              VURL "gemini-2.0-flash:generateContent", "Accept: application/json");
    check_url(&vbackend, AIGW__OP_CHAT_STREAM, "gemini-2.0-flash", HI, "POST",
              VURL "gemini-2.0-flash:streamGenerateContent?alt=sse", "Accept: text/event-stream");
    check_url(&vbackend, AIGW__OP_EMBED, "text-embedding-005", EMB, "POST",
              VURL "text-embedding-005:predict", "Accept: application/json");
    check_build_fails(&vbackend, AIGW__OP_MODELS, NULL, AIGW_ENOTSUPPORTED, "model listing");
    aigw__backend noproj = vbackend;
    noproj.project = NULL;
    check_build_fails(&noproj, AIGW__OP_CHAT, HI, AIGW_EINVAL, "backend \"vertex\"");
    aigw__backend noloc = vbackend;
    noloc.location = NULL;
    check_build_fails(&noloc, AIGW__OP_CHAT, HI, AIGW_EINVAL, "\"location\"");
    cr_assert_eq(aigw__adapter_gemini.key_header, AIGW__KEY_GOOG);
    cr_assert_eq(aigw__adapter_vertex.key_header, AIGW__KEY_BEARER);
    cr_assert_eq(aigw__adapter_find("gemini"), &aigw__adapter_gemini);
    cr_assert_eq(aigw__adapter_find("gcp-vertex"), &aigw__adapter_vertex);
}

Test(gemini_build, system_and_merge) {
    const char *req = "{\"model\":\"m\",\"messages\":["
                      "{\"role\":\"system\",\"content\":\"Be terse.\"},"
                      "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be "
                      "kind.\"}]},"
                      "{\"role\":\"user\",\"content\":\"hi\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"there\"}]},"
                      "{\"role\":\"assistant\",\"content\":\"hello\"},"
                      "{\"role\":\"user\",\"content\":\"bye\"}],\"stream\":true}";
    const char *want = "{\"systemInstruction\":{\"parts\":[{\"text\":\"Be terse.\"},{\"text\":"
                       "\"Be kind.\"}]},\"contents\":["
                       "{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"},{\"text\":\"there\"}]},"
                       "{\"role\":\"model\",\"parts\":[{\"text\":\"hello\"}]},"
                       "{\"role\":\"user\",\"parts\":[{\"text\":\"bye\"}]}]}";
    check_build(&gbackend, req, want);
    check_build(&vbackend, req, want);
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"x\",\"content\":\"a\"}]}", AIGW_EBADREQUEST,
                      "unknown message role");
    check_build_fails(&gbackend, AIGW__OP_CHAT, "{\"model\":\"m\"}", AIGW_EBADREQUEST, "messages");
}

Test(gemini_build, images) {
    check_build(&gbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":["
                "{\"type\":\"text\",\"text\":\"what?\"},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.PNG?x=1\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"gs://b/c.webp\"}},"
                "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x.test/img\"}}]}]}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"what?\"},"
                "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBO\"}},"
                "{\"fileData\":{\"mimeType\":\"image/png\",\"fileUri\":\"https://x.test/"
                "a.PNG?x=1\"}},"
                "{\"fileData\":{\"mimeType\":\"image/webp\",\"fileUri\":\"gs://b/c.webp\"}},"
                "{\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"http://x.test/"
                "img\"}}]}]}");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
                      AIGW_EBADREQUEST, "base64");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                      "\"image_url\":{\"url\":\"ftp://x\"}}]}]}",
                      AIGW_EBADREQUEST, "image URL");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
                      AIGW_ENOTSUPPORTED, "video");
}

#define TOOLS                                                                                      \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"    \
    "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"          \
    "\"string\"}}}}}]"
#define GTOOLS                                                                                     \
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"description\":"             \
    "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"          \
    "\"string\"}}}}]}]"

Test(gemini_build, tools_round_trip) {
    check_build(
        &gbackend,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"weather in Paris and Rome?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
        "\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"noon\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":\"{\\\"temp\\\":21}\"}]," TOOLS
        ",\"tool_choice\":\"required\"}",
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"weather in Paris and Rome?\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{"
        "\"city\":\"Paris\"}}},{\"functionCall\":{\"name\":\"get_time\",\"args\":{}}}]},"
        "{\"role\":\"user\",\"parts\":["
        "{\"functionResponse\":{\"name\":\"get_time\",\"response\":{\"content\":\"noon\"}}},"
        "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"content\":{\"temp\":"
        "21}}}}]}]," GTOOLS ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"}}}");
    check_build(&gbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," TOOLS
                ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}]," GTOOLS
                ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
                "\"allowedFunctionNames\":[\"get_weather\"]}}}");
    check_build(&gbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"none\"}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],"
                "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"NONE\"}}}");
    check_build(&gbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"auto\"}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],"
                "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"AUTO\"}}}");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":"
                      "\"x\"}]}",
                      AIGW_EBADREQUEST, "\"nope\"");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\","
                      "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
                      AIGW_EBADREQUEST, "not a JSON object");
}

Test(gemini_build, generation_config_and_json_mode) {
    check_build(&gbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":0.5,"
                "\"top_p\":0.9,\"max_tokens\":10,\"max_completion_tokens\":20,\"stop\":\"END\","
                "\"n\":2,\"seed\":7,\"user\":\"u\",\"logprobs\":true,"
                "\"response_format\":{\"type\":\"json_object\"}}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],"
                "\"generationConfig\":{\"temperature\":0.5,\"topP\":0.9,\"maxOutputTokens\":20,"
                "\"stopSequences\":[\"END\"],\"candidateCount\":2,\"seed\":7,"
                "\"responseMimeType\":\"application/json\"}}");
    check_build(&vbackend,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":10,"
                "\"stop\":[\"a\",\"b\"],\"response_format\":{\"type\":\"json_schema\","
                "\"json_schema\":{\"name\":\"s\",\"strict\":true,\"schema\":{\"type\":\"object\","
                "\"properties\":{\"a\":{\"type\":\"integer\"}},\"additionalProperties\":false}}}}",
                "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"x\"}]}],"
                "\"generationConfig\":{\"maxOutputTokens\":10,\"stopSequences\":[\"a\",\"b\"],"
                "\"responseMimeType\":\"application/json\",\"responseSchema\":{\"type\":"
                "\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                "\"additionalProperties\":false}}}");
    check_build_fails(&gbackend, AIGW__OP_CHAT,
                      "{\"messages\":[],\"response_format\":{\"type\":\"yaml\"}}", AIGW_EBADREQUEST,
                      "response_format");
    check_build_fails(&gbackend, AIGW__OP_CHAT, "{\"messages\":[],\"stop\":[1]}", AIGW_EBADREQUEST,
                      "stop");
}

Test(gemini_build, embeddings) {
    aigw__upstream_request out = {0};
    aigw_error *err = NULL;
    cr_assert_eq(build(&gbackend, AIGW__OP_EMBED, "text-embedding-004",
                       "{\"input\":[\"a\",\"b\"],\"dimensions\":8}", &out, &err),
                 AIGW_OK);
    assert_json_eq(out.body.data,
                   "{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":"
                   "[{\"text\":\"a\"}]},\"outputDimensionality\":8},{\"model\":\"models/"
                   "text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"b\"}]},"
                   "\"outputDimensionality\":8}]}");
    aigw__upstream_request_free(&out);
    cr_assert_eq(build(&vbackend, AIGW__OP_EMBED, "text-embedding-005",
                       "{\"input\":[\"a\",\"b\"],\"dimensions\":8}", &out, &err),
                 AIGW_OK);
    assert_json_eq(out.body.data, "{\"instances\":[{\"content\":\"a\"},{\"content\":\"b\"}],"
                                  "\"parameters\":{\"outputDimensionality\":8}}");
    aigw__upstream_request_free(&out);
    cr_assert_eq(
        build(&vbackend, AIGW__OP_EMBED, "text-embedding-005", "{\"input\":\"a\"}", &out, &err),
        AIGW_OK);
    assert_json_eq(out.body.data, "{\"instances\":[{\"content\":\"a\"}]}");
    aigw__upstream_request_free(&out);
    check_build_fails(&gbackend, AIGW__OP_EMBED, "{\"input\":[1,2]}", AIGW_EBADREQUEST, "input");
    check_build_fails(&gbackend, AIGW__OP_EMBED, "{\"input\":[]}", AIGW_EBADREQUEST, "empty");
    check_build_fails(&gbackend, AIGW__OP_EMBED, "{\"input\":\"a\",\"encoding_format\":\"x\"}",
                      AIGW_EBADREQUEST, "encoding_format");
}

/* ---- responses ---- */

static char *parse_ok(aigw__backend *b, aigw__op op, const char *request, const char *body,
                      aigw__usage *usage) {
    json_object *req = request ? parse(request) : NULL;
    aigw__call call = {.op = op, .backend = b, .model = "gemini-2.0-flash", .request = req};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_error *err = NULL;
    aigw_status st = b->adapter->parse(&call, body, strlen(body), &out, &err);
    cr_assert_eq(st, AIGW_OK, "parse: %s", aigw_error_message(err));
    json_object_put(req);
    if (usage)
        *usage = call.usage;
    return out.data;
}

/* Checks the parsed chat response against `want`, ignoring "created". */
static void check_chat(const char *body, const char *want) {
    char *got = parse_ok(&gbackend, AIGW__OP_CHAT, HI, body, NULL);
    json_object *g = parse(got);
    json_object *c = json_object_object_get(g, "created");
    cr_assert(json_object_is_type(c, json_type_int));
    json_object_object_del(g, "created");
    json_object *w = parse(want);
    cr_assert(json_object_equal(g, w), "got  %s\nwant %s", got, want);
    json_object_put(g);
    json_object_put(w);
    free(got);
}

#define ZERO_USAGE                                                                                 \
    "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0,"                   \
    "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{"              \
    "\"reasoning_tokens\":0}}"

Test(gemini_parse, text_and_usage) {
    const char *body =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello\"},"
        "{\"text\":\" world\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":5,"
        "\"totalTokenCount\":27,\"cachedContentTokenCount\":4,\"thoughtsTokenCount\":12},"
        "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}";
    check_chat(body, "{\"id\":\"r1\",\"object\":\"chat.completion\",\"model\":\"gemini-2.5-flash\","
                     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                     "\"Hello world\"},\"finish_reason\":\"stop\",\"logprobs\":null}],"
                     "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":17,\"total_tokens\":"
                     "27,\"prompt_tokens_details\":{\"cached_tokens\":4},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":12}}}");
    aigw__usage u;
    free(parse_ok(&vbackend, AIGW__OP_CHAT, HI, body, &u));
    cr_assert_eq(u.input_tokens, 10);
    cr_assert_eq(u.output_tokens, 17);
    cr_assert_eq(u.cached_input_tokens, 4);
    cr_assert_eq(u.reasoning_tokens, 12);
    cr_assert_eq(u.total_tokens, 27);
}

Test(gemini_parse, function_call_and_thoughts) {
    check_chat(
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Let me "
        "think\",\"thought\":true},{\"functionCall\":{\"name\":\"get_weather\",\"args\":{"
        "\"city\":\"Paris\"}}},{\"functionCall\":{\"name\":\"get_time\"}}]},"
        "\"finishReason\":\"STOP\"}]}",
        "{\"id\":\"\",\"object\":\"chat.completion\",\"model\":\"gemini-2.0-flash\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"reasoning_content\":\"Let me think\",\"tool_calls\":["
        "{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
        "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\",\"logprobs\":null}]," ZERO_USAGE
        "}");
}

Test(gemini_parse, finish_reasons_and_candidates) {
    static const char *const map[][2] = {
        {"STOP", "stop"},
        {"MAX_TOKENS", "length"},
        {"SAFETY", "content_filter"},
        {"RECITATION", "content_filter"},
        {"BLOCKLIST", "content_filter"},
        {"PROHIBITED_CONTENT", "content_filter"},
        {"SPII", "content_filter"},
        {"OTHER", "stop"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char body[256], want[512];
        snprintf(body, sizeof body,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
                 "\"finishReason\":\"%s\"}]}",
                 map[i][0]);
        snprintf(want, sizeof want,
                 "{\"id\":\"\",\"object\":\"chat.completion\",\"model\":\"gemini-2.0-flash\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                 "\"a\"},\"finish_reason\":\"%s\",\"logprobs\":null}]," ZERO_USAGE "}",
                 map[i][1]);
        check_chat(body, want);
    }
    /* A safety-stopped candidate with no content, and two candidates. */
    check_chat("{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0},"
               "{\"content\":{\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\","
               "\"index\":1}]}",
               "{\"id\":\"\",\"object\":\"chat.completion\",\"model\":\"gemini-2.0-flash\","
               "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
               "\"finish_reason\":\"content_filter\",\"logprobs\":null},"
               "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"b\"},"
               "\"finish_reason\":\"stop\",\"logprobs\":null}]," ZERO_USAGE "}");
}

Test(gemini_parse, prompt_blocked) {
    check_chat("{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{"
               "\"promptTokenCount\":3,\"totalTokenCount\":3}}",
               "{\"id\":\"\",\"object\":\"chat.completion\",\"model\":\"gemini-2.0-flash\","
               "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
               "\"finish_reason\":\"content_filter\",\"logprobs\":null}],"
               "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":0,\"total_tokens\":3,"
               "\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{"
               "\"reasoning_tokens\":0}}}");
}

static void check_parse_fails(aigw__op op, const char *body, aigw_status want, const char *needle) {
    json_object *req = parse(HI);
    aigw__call call = {.op = op, .backend = &gbackend, .model = "m", .request = req};
    aigw__buf out = AIGW__BUF_INIT;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__adapter_gemini.parse(&call, body, strlen(body), &out, &err), want);
    cr_assert(err && strstr(aigw_error_message(err), needle), "message: %s",
              aigw_error_message(err));
    aigw_error_free(err);
    aigw__buf_free(&out);
    json_object_put(req);
}

Test(gemini_parse, bad_bodies) {
    check_parse_fails(AIGW__OP_CHAT, "not json", AIGW_EBADRESPONSE, "backend \"gemini\"");
    check_parse_fails(AIGW__OP_CHAT, "[1]", AIGW_EBADRESPONSE, "not a JSON object");
    check_parse_fails(AIGW__OP_CHAT, "{}", AIGW_EBADRESPONSE, "no candidates");
    check_parse_fails(AIGW__OP_CHAT, "{\"error\":{\"code\":500,\"message\":\"boom\"}}",
                      AIGW_EUPSTREAM, "boom");
    check_parse_fails(AIGW__OP_EMBED, "{\"embeddings\":[{\"values\":[\"x\"]}]}", AIGW_EBADRESPONSE,
                      "values");
    check_parse_fails(AIGW__OP_MODELS, "{}", AIGW_EBADRESPONSE, "models");
}

Test(gemini_parse, embeddings_and_models) {
    char *got = parse_ok(&gbackend, AIGW__OP_EMBED, "{\"input\":[\"a\",\"b\"]}",
                         "{\"embeddings\":[{\"values\":[0.5,-1]},{\"values\":[1,2]}]}", NULL);
    assert_json_eq(got, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":[0.5,-1]},{\"object\":\"embedding\",\"index\":1,"
                        "\"embedding\":[1,2]}],\"model\":\"gemini-2.0-flash\",\"usage\":{"
                        "\"prompt_tokens\":0,\"total_tokens\":0}}");
    free(got);
    aigw__usage u;
    got = parse_ok(&vbackend, AIGW__OP_EMBED, "{\"input\":\"a\",\"encoding_format\":\"base64\"}",
                   "{\"predictions\":[{\"embeddings\":{\"values\":[1.0,0],\"statistics\":{"
                   "\"token_count\":3,\"truncated\":false}}}]}",
                   &u);
    /* 1.0f = 00 00 80 3f, 0.0f = 00 00 00 00 */
    assert_json_eq(got, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                        "\"embedding\":\"AACAPwAAAAA=\"}],\"model\":\"gemini-2.0-flash\","
                        "\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}");
    cr_assert_eq(u.input_tokens, 3);
    free(got);
    got = parse_ok(&gbackend, AIGW__OP_MODELS, NULL,
                   "{\"models\":[{\"name\":\"models/gemini-2.0-flash\",\"displayName\":\"G\"},"
                   "{\"name\":\"models/text-embedding-004\"}],\"nextPageToken\":\"x\"}",
                   NULL);
    assert_json_eq(got, "{\"object\":\"list\",\"data\":["
                        "{\"id\":\"gemini/gemini-2.0-flash\",\"object\":\"model\",\"created\":0,"
                        "\"owned_by\":\"google\"},"
                        "{\"id\":\"gemini/text-embedding-004\",\"object\":\"model\",\"created\":0,"
                        "\"owned_by\":\"google\"}]}");
    free(got);
}

/* ---- errors ---- */

static void check_error(long http, const char *body, aigw_status want, const char *message) {
    aigw__call call = {.op = AIGW__OP_CHAT, .backend = &gbackend, .model = "m"};
    aigw_error *err = NULL;
    cr_assert_eq(aigw__adapter_gemini.error(&call, http, body, strlen(body), &err), want);
    cr_assert_not_null(err);
    cr_assert_str_eq(aigw_error_message(err), message);
    cr_assert_eq(aigw_error_http_status(err), http);
    if (*body) {
        cr_assert_not_null(aigw_error_body(err));
        cr_assert_str_eq(aigw_error_body(err), body);
    }
    aigw_error_free(err);
}

Test(gemini_error, google_shapes) {
    check_error(429,
                "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted\",\"status\":"
                "\"RESOURCE_EXHAUSTED\"}}",
                AIGW_ERATELIMIT, "backend \"gemini\": HTTP 429: Resource has been exhausted");
    check_error(400,
                "{\"error\":{\"code\":400,\"message\":\"API key not valid.\",\"status\":"
                "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/"
                "google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\"}]}}",
                AIGW_EAUTH, "backend \"gemini\": HTTP 400: API key not valid.");
    check_error(400,
                "{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":\"INVALID_ARGUMENT\"}}",
                AIGW_EBADREQUEST, "backend \"gemini\": HTTP 400: bad");
    check_error(404, "[{\"error\":{\"code\":404,\"message\":\"no model\"}}]", AIGW_ENOTFOUND,
                "backend \"gemini\": HTTP 404: no model");
    check_error(503, "<html>down</html>", AIGW_EUPSTREAM,
                "backend \"gemini\": HTTP 503: <html>down</html>");
    check_error(500, "", AIGW_EUPSTREAM, "backend \"gemini\": HTTP 500: (empty body)");
}

/* ---- streaming ---- */

typedef struct collected {
    aigw__buf all; /* chunks joined with '\n' */
    int n;
} collected;

static int collect(const char *json, size_t len, void *user) {
    collected *c = user;
    cr_assert_eq(strlen(json), len);
    aigw__buf_append(&c->all, json, len);
    aigw__buf_puts(&c->all, "\n");
    c->n++;
    return 0;
}

/* Runs the stream decoder over `text` in pieces of `step` bytes (0 = whole). */
static aigw_status run_stream(const char *text, size_t step, int wants_usage, collected *c,
                              aigw__usage *usage, aigw_error **err) {
    aigw__call call = {.op = AIGW__OP_CHAT_STREAM,
                       .backend = &gbackend,
                       .model = "m",
                       .caller_wants_usage = wants_usage};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__chunk_sink sink = {collect, c};
    void *state = NULL;
    aigw_status st = aigw__adapter_gemini.stream_open(&call, sink, &state, err);
    size_t len = strlen(text), off = 0;
    if (!step)
        step = len ? len : 1;
    while (!st && off < len) {
        size_t n = len - off < step ? len - off : step;
        st = aigw__adapter_gemini.stream_feed(state, text + off, n, err);
        off += n;
    }
    if (!st)
        st = aigw__adapter_gemini.stream_finish(state, err);
    aigw__adapter_gemini.stream_free(state);
    if (usage)
        *usage = call.usage;
    return st;
}

/* Strips "created" (time-dependent) from each line so runs compare. */
static char *normalize(const char *lines) {
    aigw__buf out = AIGW__BUF_INIT;
    char *copy = strdup(lines ? lines : ""), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_object *o = parse(line);
        json_object_object_del(o, "created");
        aigw__buf_puts(&out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        aigw__buf_puts(&out, "\n");
        json_object_put(o);
    }
    free(copy);
    char *s = strdup(out.data ? out.data : "");
    aigw__buf_free(&out);
    return s;
}

#define STREAM                                                                                     \
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hmm\","        \
    "\"thought\":true}]}}],\"responseId\":\"r9\",\"modelVersion\":\"gemini-2.5-flash\","           \
    "\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4}}\r\n\r\n"                    \
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]}}],"   \
    "\"responseId\":\"r9\"}\r\n\r\n"                                                               \
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"},"        \
    "{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]},\"finishReason\":\"STOP\"}],"        \
    "\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":3,"                        \
    "\"thoughtsTokenCount\":2,\"cachedContentTokenCount\":1,\"totalTokenCount\":9}}\r\n\r\n"

#define CHUNK_HEAD                                                                                 \
    "{\"id\":\"r9\",\"object\":\"chat.completion.chunk\",\"model\":\"gemini-2.5-flash\","
#define WANT_CHUNKS                                                                                \
    CHUNK_HEAD                                                                                     \
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"reasoning_content\":"           \
    "\"hmm\"},\"finish_reason\":null}]}\n" CHUNK_HEAD                                              \
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":"                 \
    "null}]}\n" CHUNK_HEAD                                                                         \
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\",\"tool_calls\":[{"                    \
    "\"index\":0,\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":\"f\","            \
    "\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n"

Test(gemini_stream, whole_and_split_at_every_byte) {
    collected whole = {AIGW__BUF_INIT, 0};
    aigw_error *err = NULL;
    aigw__usage u;
    cr_assert_eq(run_stream(STREAM, 0, 1, &whole, &u, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    cr_assert_eq(whole.n, 4);
    char *w = normalize(whole.all.data);
    char *want = normalize(WANT_CHUNKS CHUNK_HEAD
                           "\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":5,"
                           "\"total_tokens\":9,\"prompt_tokens_details\":{\"cached_tokens\":1},"
                           "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n");
    cr_assert_str_eq(w, want);
    cr_assert_eq(u.input_tokens, 4);
    cr_assert_eq(u.output_tokens, 5);
    cr_assert_eq(u.reasoning_tokens, 2);
    cr_assert_eq(u.cached_input_tokens, 1);
    cr_assert_eq(u.total_tokens, 9);
    for (size_t step = 1; step < strlen(STREAM); step++) {
        collected split = {AIGW__BUF_INIT, 0};
        cr_assert_eq(run_stream(STREAM, step, 1, &split, NULL, &err), AIGW_OK);
        char *s = normalize(split.all.data);
        cr_assert_str_eq(s, w, "step %zu", step);
        free(s);
        aigw__buf_free(&split.all);
    }
    free(w);
    free(want);
    aigw__buf_free(&whole.all);
    /* Without include_usage: no usage chunk. */
    collected nou = {AIGW__BUF_INIT, 0};
    cr_assert_eq(run_stream(STREAM, 7, 0, &nou, NULL, &err), AIGW_OK);
    w = normalize(nou.all.data);
    want = normalize(WANT_CHUNKS);
    cr_assert_str_eq(w, want);
    free(w);
    free(want);
    aigw__buf_free(&nou.all);
}

Test(gemini_stream, truncated_error_and_blocked) {
    collected c = {AIGW__BUF_INIT, 0};
    aigw_error *err = NULL;
    const char *cut = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n";
    cr_assert_eq(run_stream(cut, 0, 0, &c, NULL, &err), AIGW_ETRUNCATED);
    cr_assert(strstr(aigw_error_message(err), "finishReason"));
    cr_assert_eq(c.n, 1);
    aigw_error_free(err);
    err = NULL;
    aigw__buf_free(&c.all);
    c.n = 0;
    c.all = (aigw__buf)AIGW__BUF_INIT;
    cr_assert_eq(
        run_stream("data: {\"candidates\":[{\"finishReason\":\"STOP\"", 0, 0, &c, NULL, &err),
        AIGW_ETRUNCATED);
    cr_assert(strstr(aigw_error_message(err), "inside an event"));
    aigw_error_free(err);
    err = NULL;
    cr_assert_eq(run_stream("", 0, 0, &c, NULL, &err), AIGW_ETRUNCATED);
    aigw_error_free(err);
    err = NULL;
    const char *errstream =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n"
        "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":"
        "\"UNAVAILABLE\"}}\n\n";
    cr_assert_eq(run_stream(errstream, 3, 0, &c, NULL, &err), AIGW_EUPSTREAM);
    cr_assert_str_eq(aigw_error_message(err),
                     "backend \"gemini\": error in stream: The model is overloaded.");
    aigw_error_free(err);
    err = NULL;
    cr_assert_eq(run_stream("data: not json\n\n", 0, 0, &c, NULL, &err), AIGW_EBADRESPONSE);
    aigw_error_free(err);
    err = NULL;
    aigw__buf_free(&c.all);
    collected b = {AIGW__BUF_INIT, 0};
    cr_assert_eq(run_stream("data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n", 0, 0, &b,
                            NULL, &err),
                 AIGW_OK);
    char *w = normalize(b.all.data);
    char *want = normalize("{\"id\":\"\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
                           "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                           "\"content\":\"\"},\"finish_reason\":\"content_filter\"}]}\n");
    cr_assert_str_eq(w, want);
    free(w);
    free(want);
    aigw__buf_free(&b.all);
}

static int stop_at_first(const char *json, size_t len, void *user) {
    (void)json;
    (void)len;
    (void)user;
    return 1;
}

Test(gemini_stream, callback_stop) {
    aigw__call call = {.op = AIGW__OP_CHAT_STREAM, .backend = &vbackend, .model = "m"};
    aigw__chunk_sink sink = {stop_at_first, NULL};
    void *state = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__adapter_vertex.stream_open(&call, sink, &state, &err), AIGW_OK);
    cr_assert_eq(aigw__adapter_vertex.stream_feed(state, STREAM, strlen(STREAM), &err),
                 AIGW_ESTOPPED);
    aigw_error_free(err);
    aigw__adapter_vertex.stream_free(state);
}
