/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the provider simulator's Google APIs (Gemini API under /gemini/,
 * Vertex AI under /v1/projects/...) and Azure OpenAI (/openai/...), over
 * libcurl. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "sim.h"

static aigw_test_sim sim;

static void start(void) {
    const char *args[] = {"--api-key", "gk-test", "--bearer-token", "ya29.test", NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void stop(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(sim_gemini, .init = start, .fini = stop, .timeout = 60);
TestSuite(sim_vertex, .init = start, .fini = stop, .timeout = 60);
TestSuite(sim_azure, .init = start, .fini = stop, .timeout = 60);

/* ---- helpers ---- */

#define GEM_KEY "x-goog-api-key: gk-test"
#define VX_TOKEN "Authorization: Bearer ya29.test"
#define AZ_KEY "api-key: gk-test"

/* METHOD PATH with HEADERS (NULL-terminated, may be NULL) and BODY. */
static resp request(const char *method, const char *path, const char *const *headers,
                    const char *body) {
    return aigw_test_http(sim.port, method, path, headers, body);
}

/* Asserts a Google error body {"error":{"code":STATUS,"status":NAME,...}}. */
static void assert_gerror(const resp *r, long status, const char *name) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    json_object *o = parse(r->body);
    cr_assert_eq(int_at(o, "error.code"), status, "%s", r->body);
    cr_assert_str_eq(str_at(o, "error.status"), name, "%s", r->body);
    cr_assert_not_null(str_at(o, "error.message"));
    json_object_put(o);
}

/* The data of each SSE event in BODY, events separated by SEP; NULL-terminated. */
static char **sse_data(const char *body, const char *sep, size_t *count) {
    char **out = calloc(1024, sizeof(*out));
    size_t n = 0, seplen = strlen(sep);
    const char *p = body;
    while (*p && n < 1023) {
        const char *end = strstr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 6 && strncmp(p, "data: ", 6) == 0)
            out[n++] = strndup(p + 6, len - 6);
        if (!end)
            break;
        p = end + seplen;
    }
    *count = n;
    return out;
}

static void sse_free(char **ev) {
    for (size_t i = 0; ev[i]; i++)
        free(ev[i]);
    free(ev);
}

/* ---- Google paths and bodies ---- */

#define GEM "/gemini/v1beta/models/"
#define VX "/v1/projects/my-proj/locations/us-central1/publishers/google/models/"

static const char hello[] =
    "{\"systemInstruction\":{\"parts\":[{\"text\":\"be brief\"}]},\"contents\":[{\"role\":"
    "\"user\",\"parts\":[{\"text\":\"Hello there world\"}]}]}";

static resp gpost(int vertex, const char *model_method, const char *extra_header,
                  const char *body) {
    char path[256];
    snprintf(path, sizeof(path), "%s%s", vertex ? VX : GEM, model_method);
    const char *h[] = {vertex ? VX_TOKEN : GEM_KEY, extra_header, NULL};
    return request("POST", path, h, body);
}

/* The answer text of candidate 0, part IDX. */
static const char *part_text(json_object *o, int idx) {
    char p[64];
    snprintf(p, sizeof(p), "candidates.0.content.parts.%d.text", idx);
    return str_at(o, p);
}

static void check_text_answer(int vertex) {
    resp r = gpost(vertex, "gemini-2.0-flash:generateContent", NULL, hello);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(part_text(o, 0), "echo: Hello there world");
    cr_assert_str_eq(str_at(o, "candidates.0.content.role"), "model");
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "STOP");
    cr_assert_eq(int_at(o, "candidates.0.index"), 0);
    cr_assert_eq(int_at(o, "usageMetadata.promptTokenCount"), 5); /* 3 + "be brief" */
    cr_assert_eq(int_at(o, "usageMetadata.candidatesTokenCount"), 4);
    cr_assert_eq(int_at(o, "usageMetadata.totalTokenCount"), 9);
    cr_assert_null(at(o, "usageMetadata.thoughtsTokenCount"));
    cr_assert_null(at(o, "usageMetadata.cachedContentTokenCount"));
    cr_assert_str_eq(str_at(o, "modelVersion"), "gemini-2.0-flash");
    json_object_put(o);
    resp_free(&r);
}

static void check_function_call(int vertex) {
    static const char body[] =
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris\"}]}],"
        "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"parameters\":{"
        "\"type\":\"object\"}},{\"name\":\"other\"}]}]}";
    resp r = gpost(vertex, "gemini-2.0-flash:generateContent", NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "candidates.0.content.parts.0.functionCall.name"), "get_weather");
    cr_assert_str_eq(str_at(o, "candidates.0.content.parts.0.functionCall.args.text"),
                     "Weather in Paris");
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "STOP");
    json_object_put(o);
    resp_free(&r);

    /* after the function's response: text again */
    static const char after[] =
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris\"}]},"
        "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{}}}]}"
        ","
        "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\","
        "\"response\":{\"temp\":21}}}]}],"
        "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\"}]}]}";
    r = gpost(vertex, "gemini-2.0-flash:generateContent", NULL, after);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_str_eq(part_text(o, 0), "echo: Weather in Paris");
    cr_assert_null(at(o, "candidates.0.content.parts.0.functionCall"));
    json_object_put(o);
    resp_free(&r);
}

static void check_max_tokens_and_json(int vertex) {
    static const char body[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"one two "
                               "three four\"}]}],\"generationConfig\":{\"maxOutputTokens\":3}}";
    resp r = gpost(vertex, "gemini-2.0-flash:generateContent", NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(part_text(o, 0), "echo: one two");
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "MAX_TOKENS");
    cr_assert_eq(int_at(o, "usageMetadata.candidatesTokenCount"), 3);
    json_object_put(o);
    resp_free(&r);

    static const char json_body[] =
        "{\"contents\":[{\"parts\":[{\"text\":\"say \\\"hi\\\"\"}]}],\"generationConfig\":{"
        "\"responseMimeType\":\"application/json\"}}";
    r = gpost(vertex, "gemini-2.0-flash:generateContent", NULL, json_body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    json_object *inner = parse(part_text(o, 0));
    cr_assert_str_eq(str_at(inner, "echo"), "say \"hi\"");
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "STOP");
    json_object_put(inner);
    json_object_put(o);
    resp_free(&r);
}

static void check_thoughts_and_cache(int vertex) {
    static const char body[] =
        "{\"cachedContent\":\"cachedContents/abc\",\"contents\":[{\"role\":\"user\",\"parts\":[{"
        "\"text\":\"a b c d\"}]}],\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":"
        "128,\"includeThoughts\":true}}}";
    resp r = gpost(vertex, "gemini-2.5-pro:generateContent", NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(part_text(o, 0), "thinking...");
    cr_assert(json_object_get_boolean(at(o, "candidates.0.content.parts.0.thought")));
    cr_assert_str_eq(part_text(o, 1), "echo: a b c d");
    cr_assert_null(at(o, "candidates.0.content.parts.1.thought"));
    cr_assert_eq(int_at(o, "usageMetadata.promptTokenCount"), 4);
    cr_assert_eq(int_at(o, "usageMetadata.candidatesTokenCount"), 5);
    cr_assert_eq(int_at(o, "usageMetadata.thoughtsTokenCount"), 1);
    cr_assert_eq(int_at(o, "usageMetadata.cachedContentTokenCount"), 2);
    cr_assert_eq(int_at(o, "usageMetadata.totalTokenCount"), 10);
    json_object_put(o);
    resp_free(&r);
}

static void check_safety(int vertex) {
    resp r = gpost(vertex, "gemini-blocked:generateContent", NULL, hello);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "promptFeedback.blockReason"), "SAFETY");
    cr_assert_null(at(o, "candidates"));
    cr_assert_eq(int_at(o, "usageMetadata.promptTokenCount"), 5);
    json_object_put(o);
    resp_free(&r);

    r = gpost(vertex, "gemini-unsafe:generateContent", NULL, hello);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "SAFETY");
    cr_assert_null(at(o, "candidates.0.content"));
    json_object_put(o);
    resp_free(&r);
}

static void check_stream(int vertex) {
    resp r = gpost(vertex, "gemini-2.0-flash:streamGenerateContent?alt=sse", NULL, hello);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.headers, "text/event-stream"), "%s", r.headers);
    cr_assert_null(strstr(r.body, "[DONE]"));
    /* CRLF line ends only */
    for (const char *p = r.body; *p; p++)
        if (*p == '\n')
            cr_assert(p > r.body && p[-1] == '\r', "bare LF in %s", r.body);
    size_t n;
    char **ev = sse_data(r.body, "\r\n\r\n", &n);
    cr_assert_eq(n, 4, "%s", r.body); /* "echo:", " Hello", " there", " world" */
    char text[256] = "";
    for (size_t i = 0; i < n; i++) {
        json_object *o = parse(ev[i]);
        strcat(text, part_text(o, 0));
        if (i + 1 < n) {
            cr_assert_null(at(o, "candidates.0.finishReason"), "%s", ev[i]);
            cr_assert_null(at(o, "usageMetadata"), "%s", ev[i]);
        } else {
            cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "STOP");
            cr_assert_eq(int_at(o, "usageMetadata.promptTokenCount"), 5);
            cr_assert_eq(int_at(o, "usageMetadata.candidatesTokenCount"), 4);
            cr_assert_eq(int_at(o, "usageMetadata.totalTokenCount"), 9);
        }
        json_object_put(o);
    }
    cr_assert_str_eq(text, "echo: Hello there world");
    sse_free(ev);
    resp_free(&r);
}

static void check_faults(int vertex) {
    const char *m = "gemini-2.0-flash:generateContent";
    const char *s = "gemini-2.0-flash:streamGenerateContent?alt=sse";
    resp r = gpost(vertex, m, "x-sim-fault: status=429,retry_after=3", hello);
    assert_gerror(&r, 429, "RESOURCE_EXHAUSTED");
    cr_assert_not_null(strstr(r.body, "Resource has been exhausted (e.g. check quota)."));
    cr_assert_not_null(strstr(r.headers, "Retry-After: 3"), "%s", r.headers);
    resp_free(&r);
    r = gpost(vertex, m, "x-sim-fault: status=500", hello);
    assert_gerror(&r, 500, "INTERNAL");
    resp_free(&r);
    r = gpost(vertex, m, "x-sim-fault: status=503", hello);
    assert_gerror(&r, 503, "UNAVAILABLE");
    resp_free(&r);

    r = gpost(vertex, m, "x-sim-fault: malformed=1", hello);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);

    /* error_event: one chunk, then Google's error as a data event, then close */
    r = gpost(vertex, s, "x-sim-fault: error_event=1", hello);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, "\r\n\r\n", &n);
    cr_assert_eq(n, 2, "%s", r.body);
    json_object *o = parse(ev[1]);
    cr_assert_eq(int_at(o, "error.code"), 500);
    cr_assert_str_eq(str_at(o, "error.status"), "INTERNAL");
    cr_assert_str_eq(str_at(o, "error.message"), "simulated mid-stream failure");
    json_object_put(o);
    sse_free(ev);
    resp_free(&r);

    /* drop_done: a clean end, but no chunk with finishReason */
    r = gpost(vertex, s, "x-sim-fault: drop_done=1", hello);
    cr_assert_eq(r.rc, CURLE_OK);
    ev = sse_data(r.body, "\r\n\r\n", &n);
    cr_assert_eq(n, 4, "%s", r.body);
    cr_assert_null(strstr(r.body, "finishReason"));
    sse_free(ev);
    resp_free(&r);

    /* cut_after: N events, then the connection closes mid-body */
    r = gpost(vertex, s, "x-sim-fault: cut_after=2", hello);
    cr_assert_neq(r.rc, CURLE_OK);
    ev = sse_data(r.body, "\r\n\r\n", &n);
    cr_assert_eq(n, 2, "%s", r.body);
    cr_assert_null(strstr(r.body, "finishReason"));
    sse_free(ev);
    resp_free(&r);
    r = gpost(vertex, m, "x-sim-fault: cut_after=0", hello);
    cr_assert_eq(r.rc, CURLE_PARTIAL_FILE, "%d", r.rc);
    resp_free(&r);

    /* the fault may also come in the body */
    r = gpost(vertex, m, NULL,
              "{\"sim_fault\":\"status=500\",\"contents\":[{\"parts\":[{\"text\":\"x\"}]}]}");
    assert_gerror(&r, 500, "INTERNAL");
    resp_free(&r);
}

/* ---- Gemini API ---- */

Test(sim_gemini, auth) {
    resp r = request("POST", GEM "gemini-2.0-flash:generateContent", NULL, hello);
    assert_gerror(&r, 403, "PERMISSION_DENIED");
    cr_assert_not_null(strstr(r.body, "Method doesn't allow unregistered callers"));
    resp_free(&r);

    const char *bad[] = {"x-goog-api-key: nope", NULL};
    r = request("POST", GEM "gemini-2.0-flash:generateContent", bad, hello);
    assert_gerror(&r, 400, "INVALID_ARGUMENT");
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.details.0.reason"), "API_KEY_INVALID");
    cr_assert_str_eq(str_at(o, "error.message"), "API key not valid. Please pass a valid API key.");
    json_object_put(o);
    resp_free(&r);

    r = request("POST", GEM "gemini-2.0-flash:generateContent?key=nope", NULL, hello);
    assert_gerror(&r, 400, "INVALID_ARGUMENT");
    resp_free(&r);

    r = request("POST", GEM "gemini-2.0-flash:generateContent?key=gk-test", NULL, hello);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);

    /* a Bearer token is Vertex's credential, not the Gemini API's */
    const char *bearer[] = {VX_TOKEN, NULL};
    r = request("POST", GEM "gemini-2.0-flash:generateContent", bearer, hello);
    assert_gerror(&r, 403, "PERMISSION_DENIED");
    resp_free(&r);

    /* a fault status=401 after a good key: Google's 401 */
    const char *f401[] = {GEM_KEY, "x-sim-fault: status=401", NULL};
    r = request("POST", GEM "gemini-2.0-flash:generateContent", f401, hello);
    assert_gerror(&r, 401, "UNAUTHENTICATED");
    resp_free(&r);
}

Test(sim_gemini, text_answer) {
    check_text_answer(0);
}

Test(sim_gemini, invalid_contents) {
    const char *bodies[] = {
        "{}",
        "{\"contents\":[]}",
        "{\"contents\":\"hi\"}",
        "{\"contents\":[{\"role\":\"assistant\",\"parts\":[{\"text\":\"x\"}]}]}",
        "{\"contents\":[{\"role\":\"user\",\"parts\":[]}]}",
        "{\"contents\":[{\"role\":\"user\"}]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        resp r = gpost(0, "gemini-2.0-flash:generateContent", NULL, bodies[i]);
        assert_gerror(&r, 400, "INVALID_ARGUMENT");
        resp_free(&r);
    }
}

Test(sim_gemini, function_call) {
    check_function_call(0);
}

Test(sim_gemini, max_tokens_and_json_mode) {
    check_max_tokens_and_json(0);
}

Test(sim_gemini, thoughts_and_cached_tokens) {
    check_thoughts_and_cache(0);
}

Test(sim_gemini, safety) {
    check_safety(0);
}

Test(sim_gemini, stream) {
    check_stream(0);
}

Test(sim_gemini, stream_function_call_and_thought) {
    static const char body[] =
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris\"}]}],"
        "\"generationConfig\":{\"thinkingConfig\":{}},"
        "\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\"}]}]}";
    resp r = gpost(0, "gemini-2.5-pro:streamGenerateContent?alt=sse", NULL, body);
    cr_assert_eq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, "\r\n\r\n", &n);
    cr_assert_eq(n, 2, "%s", r.body);
    json_object *o = parse(ev[0]);
    cr_assert(json_object_get_boolean(at(o, "candidates.0.content.parts.0.thought")));
    json_object_put(o);
    o = parse(ev[1]);
    cr_assert_str_eq(str_at(o, "candidates.0.content.parts.0.functionCall.name"), "get_weather");
    cr_assert_str_eq(str_at(o, "candidates.0.finishReason"), "STOP");
    cr_assert_eq(int_at(o, "usageMetadata.thoughtsTokenCount"), 1);
    json_object_put(o);
    sse_free(ev);
    resp_free(&r);
}

Test(sim_gemini, embeddings) {
    static const char batch[] =
        "{\"requests\":[{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{"
        "\"text\":\"hello\"}]}},{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{"
        "\"text\":\"world\"}]},\"outputDimensionality\":3}]}";
    resp r = gpost(0, "text-embedding-004:batchEmbedContents", NULL, batch);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_eq(json_object_array_length(at(o, "embeddings")), 2);
    cr_assert_eq(json_object_array_length(at(o, "embeddings.0.values")), 8);
    cr_assert_eq(json_object_array_length(at(o, "embeddings.1.values")), 3);
    double first = json_object_get_double(at(o, "embeddings.0.values.0"));
    json_object_put(o);
    resp_free(&r);

    static const char one[] =
        "{\"model\":\"models/text-embedding-004\",\"content\":{\"parts\":[{\"text\":\"hello\"}]}}";
    r = gpost(0, "text-embedding-004:embedContent", NULL, one);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_eq(json_object_array_length(at(o, "embedding.values")), 8);
    /* deterministic: the same text gives the same vector */
    cr_assert_float_eq(json_object_get_double(at(o, "embedding.values.0")), first, 1e-9);
    json_object_put(o);
    resp_free(&r);

    r = gpost(0, "text-embedding-004:batchEmbedContents", NULL, "{\"requests\":[]}");
    assert_gerror(&r, 400, "INVALID_ARGUMENT");
    resp_free(&r);
}

Test(sim_gemini, models) {
    const char *h[] = {GEM_KEY, NULL};
    resp r = request("GET", "/gemini/v1beta/models", h, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "models.0.name"), "models/gemini-2.0-flash");
    cr_assert_not_null(str_at(o, "models.0.displayName"));
    cr_assert_str_eq(str_at(o, "models.0.supportedGenerationMethods.0"), "generateContent");
    json_object_put(o);
    resp_free(&r);

    r = request("GET", "/gemini/v1beta/models/gemini-2.5-pro", h, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = request("GET", "/gemini/v1beta/models/nope", h, NULL);
    assert_gerror(&r, 404, "NOT_FOUND");
    resp_free(&r);
    r = request("GET", "/gemini/v1beta/nothing-here", h, NULL);
    assert_gerror(&r, 404, "NOT_FOUND");
    resp_free(&r);
}

Test(sim_gemini, faults) {
    check_faults(0);
}

Test(sim_gemini, last_request) {
    resp r = gpost(0, "gemini-2.0-flash:generateContent", NULL, hello);
    resp_free(&r);
    r = request("GET", "/sim/last-request", NULL, NULL);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "method"), "POST");
    cr_assert_str_eq(str_at(o, "path"), GEM "gemini-2.0-flash:generateContent");
    cr_assert_str_eq(str_at(o, "headers.x-goog-api-key"), "gk-test");
    cr_assert_str_eq(str_at(o, "body"), hello);
    json_object_put(o);
    resp_free(&r);
}

/* ---- Vertex AI ---- */

Test(sim_vertex, auth) {
    resp r = request("POST", VX "gemini-2.0-flash:generateContent", NULL, hello);
    assert_gerror(&r, 401, "UNAUTHENTICATED");
    cr_assert_not_null(strstr(r.body, "Request had invalid authentication credentials"));
    resp_free(&r);
    const char *bad[] = {"Authorization: Bearer wrong", NULL};
    r = request("POST", VX "gemini-2.0-flash:generateContent", bad, hello);
    assert_gerror(&r, 401, "UNAUTHENTICATED");
    resp_free(&r);
    const char *key[] = {GEM_KEY, NULL};
    r = request("POST", VX "gemini-2.0-flash:generateContent", key, hello);
    assert_gerror(&r, 401, "UNAUTHENTICATED");
    resp_free(&r);
    r = gpost(1, "gemini-2.0-flash:generateContent", NULL, hello);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
}

Test(sim_vertex, text_answer) {
    check_text_answer(1);
}

Test(sim_vertex, function_call) {
    check_function_call(1);
}

Test(sim_vertex, max_tokens_and_json_mode) {
    check_max_tokens_and_json(1);
}

Test(sim_vertex, thoughts_and_cached_tokens) {
    check_thoughts_and_cache(1);
}

Test(sim_vertex, safety) {
    check_safety(1);
}

Test(sim_vertex, stream) {
    check_stream(1);
}

Test(sim_vertex, embeddings) {
    static const char body[] = "{\"instances\":[{\"content\":\"hello there\"},{\"content\":"
                               "\"world\"}],\"parameters\":{\"outputDimensionality\":4}}";
    resp r = gpost(1, "text-embedding-004:predict", NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_eq(json_object_array_length(at(o, "predictions")), 2);
    cr_assert_eq(json_object_array_length(at(o, "predictions.0.embeddings.values")), 4);
    cr_assert_eq(int_at(o, "predictions.0.embeddings.statistics.token_count"), 2);
    cr_assert(!json_object_get_boolean(at(o, "predictions.0.embeddings.statistics.truncated")));
    cr_assert_eq(int_at(o, "predictions.1.embeddings.statistics.token_count"), 1);
    json_object_put(o);
    resp_free(&r);

    r = gpost(1, "text-embedding-004:predict", NULL, "{\"instances\":[]}");
    assert_gerror(&r, 400, "INVALID_ARGUMENT");
    resp_free(&r);
}

Test(sim_vertex, faults) {
    check_faults(1);
}

/* /v1/projects/... and OpenAI's /v1/... live side by side. */
Test(sim_vertex, no_collision_with_openai) {
    const char *oa[] = {"Authorization: Bearer gk-test", NULL};
    resp r = request("GET", "/v1/models", oa, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "object"), "list");
    json_object_put(o);
    resp_free(&r);

    const char *vx[] = {VX_TOKEN, NULL};
    r = request("POST", "/v1/projects/p/locations/l/publishers/google/models/m:nothing", vx, hello);
    assert_gerror(&r, 404, "NOT_FOUND");
    resp_free(&r);

    r = request("GET", VX "gemini-2.0-flash:generateContent", vx, NULL);
    cr_assert_eq(r.status, 405, "%s", r.body);
    resp_free(&r);

    r = gpost(1, "gemini-2.0-flash:generateContent", NULL, hello);
    resp_free(&r);
    r = request("GET", "/sim/last-request", NULL, NULL);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "path"), VX "gemini-2.0-flash:generateContent");
    cr_assert_str_eq(str_at(o, "headers.authorization"), "Bearer ya29.test");
    json_object_put(o);
    resp_free(&r);
}

/* ---- Azure OpenAI ---- */

#define AZ_CHAT "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
#define AZ_EMB "/openai/deployments/my-emb/embeddings?api-version=2024-10-21"

static const char az_chat_body[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}";
static const char az_stream_body[] =
    "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}";

static resp azpost(const char *path, const char *extra_header, const char *body) {
    const char *h[] = {AZ_KEY, extra_header, NULL};
    return request("POST", path, h, body);
}

static void assert_azerror(const resp *r, long status, const char *code) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    json_object *o = parse(r->body);
    cr_assert_str_eq(str_at(o, "error.code"), code, "%s", r->body);
    cr_assert_not_null(str_at(o, "error.message"));
    json_object_put(o);
}

Test(sim_azure, auth) {
    resp r = request("POST", AZ_CHAT, NULL, az_chat_body);
    assert_azerror(&r, 401, "401");
    cr_assert_not_null(strstr(r.body, "Access denied due to invalid subscription key"));
    resp_free(&r);
    const char *bad[] = {"api-key: nope", NULL};
    r = request("POST", AZ_CHAT, bad, az_chat_body);
    assert_azerror(&r, 401, "401");
    resp_free(&r);
    const char *bearer[] = {"Authorization: Bearer gk-test", NULL};
    r = request("POST", AZ_CHAT, bearer, az_chat_body);
    assert_azerror(&r, 401, "401");
    resp_free(&r);
}

Test(sim_azure, api_version_required) {
    resp r = azpost("/openai/deployments/my-gpt/chat/completions", NULL, az_chat_body);
    assert_azerror(&r, 404, "404");
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.message"), "Resource not found");
    json_object_put(o);
    resp_free(&r);
    r = azpost("/openai/deployments/my-gpt/chat/completions?api-version=", NULL, az_chat_body);
    assert_azerror(&r, 404, "404");
    resp_free(&r);
    r = azpost("/openai/deployments/my-emb/embeddings?x=1", NULL, "{\"input\":\"hi\"}");
    assert_azerror(&r, 404, "404");
    resp_free(&r);
    const char *h[] = {AZ_KEY, NULL};
    r = request("GET", "/openai/models", h, NULL);
    assert_azerror(&r, 404, "404");
    resp_free(&r);
    r = azpost("/openai/nothing?api-version=2024-10-21", NULL, az_chat_body);
    assert_azerror(&r, 404, "404");
    resp_free(&r);
}

Test(sim_azure, chat) {
    resp r = azpost(AZ_CHAT, NULL, az_chat_body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "choices.0.message.content"), "echo: Hello there");
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "stop");
    cr_assert_str_eq(str_at(o, "model"), "my-gpt"); /* the deployment */
    cr_assert_eq(int_at(o, "usage.prompt_tokens"), 2);
    cr_assert_eq(int_at(o, "usage.completion_tokens"), 3);
    json_object_put(o);
    resp_free(&r);

    r = azpost(AZ_CHAT, NULL,
               "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "model"), "gpt-4o");
    json_object_put(o);
    resp_free(&r);

    r = azpost(AZ_CHAT, NULL, "{\"messages\":[]}");
    cr_assert_eq(r.status, 400, "%s", r.body);
    resp_free(&r);
}

Test(sim_azure, tool_call) {
    static const char body[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris\"}],\"tools\":[{"
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}";
    resp r = azpost(AZ_CHAT, NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "tool_calls");
    cr_assert_str_eq(str_at(o, "choices.0.message.tool_calls.0.function.name"), "get_weather");
    cr_assert_str_eq(str_at(o, "choices.0.message.tool_calls.0.function.arguments"),
                     "{\"text\":\"Weather in Paris\"}");
    json_object_put(o);
    resp_free(&r);
}

Test(sim_azure, stream) {
    resp r = azpost(AZ_CHAT, NULL, az_stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, "\n\n", &n);
    cr_assert_eq(n, 4, "%s", r.body); /* 3 words + [DONE] */
    cr_assert_str_eq(ev[n - 1], "[DONE]");
    json_object *o = parse(ev[2]);
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "stop");
    cr_assert_str_eq(str_at(o, "model"), "my-gpt");
    json_object_put(o);
    sse_free(ev);
    resp_free(&r);
}

Test(sim_azure, embeddings) {
    resp r = azpost(AZ_EMB, NULL, "{\"input\":[\"a\",\"b c\"],\"dimensions\":4}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "model"), "my-emb");
    cr_assert_eq(json_object_array_length(at(o, "data")), 2);
    cr_assert_eq(json_object_array_length(at(o, "data.1.embedding")), 4);
    cr_assert_eq(int_at(o, "usage.prompt_tokens"), 3);
    json_object_put(o);
    resp_free(&r);
}

Test(sim_azure, models) {
    const char *h[] = {AZ_KEY, NULL};
    resp r = request("GET", "/openai/models?api-version=2024-10-21", h, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "object"), "list");
    cr_assert_not_null(str_at(o, "data.0.id"));
    json_object_put(o);
    resp_free(&r);
}

Test(sim_azure, faults) {
    resp r = azpost(AZ_CHAT, "x-sim-fault: status=429,retry_after=2", az_chat_body);
    cr_assert_eq(r.status, 429);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.code"), "rate_limit_exceeded");
    json_object_put(o);
    cr_assert_not_null(strstr(r.headers, "Retry-After: 2"));
    resp_free(&r);

    r = azpost(AZ_CHAT, "x-sim-fault: status=500", az_chat_body);
    cr_assert_eq(r.status, 500);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.type"), "server_error");
    json_object_put(o);
    resp_free(&r);

    r = azpost(AZ_CHAT, "x-sim-fault: error_event=1", az_stream_body);
    cr_assert_neq(r.rc, CURLE_OK);
    cr_assert_not_null(strstr(r.body, "simulated mid-stream failure"));
    cr_assert_null(strstr(r.body, "[DONE]"));
    resp_free(&r);

    r = azpost(AZ_CHAT, "x-sim-fault: drop_done=1", az_stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_null(strstr(r.body, "[DONE]"));
    cr_assert_not_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    resp_free(&r);

    r = azpost(AZ_CHAT, "x-sim-fault: cut_after=1", az_stream_body);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, "\n\n", &n);
    cr_assert_eq(n, 1, "%s", r.body);
    sse_free(ev);
    resp_free(&r);

    r = azpost(AZ_CHAT, "x-sim-fault: malformed=1", az_chat_body);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);
}

Test(sim_azure, last_request) {
    resp r = azpost(AZ_CHAT, NULL, az_chat_body);
    resp_free(&r);
    r = request("GET", "/sim/last-request", NULL, NULL);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "path"), AZ_CHAT);
    cr_assert_str_eq(str_at(o, "headers.api-key"), "gk-test");
    cr_assert_str_eq(str_at(o, "body"), az_chat_body);
    json_object_put(o);
    resp_free(&r);
}
