/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the provider simulator itself (tests/upstream), over libcurl. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "http_client.h"
#include "sim.h"

static aigw_test_sim sim;

static void start_plain(void) {
    const char *args[] = {"--recordings", AIGW_RECORDINGS_DIR, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void start_with_key(void) {
    const char *args[] = {"--api-key", "sk-sim-test", NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void stop(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(simulator, .init = start_plain, .fini = stop, .timeout = 60);
TestSuite(simulator_auth, .init = start_with_key, .fini = stop, .timeout = 60);

/* ---- helpers ---- */

static resp request(const char *method, const char *path, const char *const *headers,
                    const char *body) {
    return aigw_test_http(sim.port, method, path, headers, body);
}

static resp post(const char *path, const char *const *headers, const char *body) {
    return request("POST", path, headers, body);
}

/* Splits an SSE body into the data of its events (NULL-terminated). */
static char **sse_data(const char *body, size_t *count) {
    char **out = calloc(1024, sizeof(char *));
    size_t n = 0;
    const char *p = body;
    while (*p && n < 1023) {
        const char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= 6 && strncmp(p, "data: ", 6) == 0)
            out[n++] = strndup(p + 6, len - 6);
        if (!end)
            break;
        p = end + 2;
    }
    *count = n;
    return out;
}

static void sse_free(char **ev) {
    for (size_t i = 0; ev[i]; i++)
        free(ev[i]);
    free(ev);
}

static const char chat_body[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":\"Hello there world\"}]}";

static const char stream_body[] =
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\","
    "\"content\":\"Hello there world\"}]}";

/* ---- chat ---- */

Test(simulator, chat_json_answer) {
    resp r = post("/v1/chat/completions", NULL, chat_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    cr_assert_eq(strncmp(str_at(o, "id"), "chatcmpl-sim-", 13), 0);
    cr_assert_str_eq(str_at(o, "object"), "chat.completion");
    cr_assert_str_eq(str_at(o, "model"), "gpt-4o-mini");
    cr_assert_not_null(at(o, "created"));
    cr_assert_str_eq(str_at(o, "choices.0.message.role"), "assistant");
    cr_assert_str_eq(str_at(o, "choices.0.message.content"), "echo: Hello there world");
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "stop");
    cr_assert_eq(int_at(o, "choices.0.index"), 0);
    cr_assert_eq(int_at(o, "usage.prompt_tokens"), 5);
    cr_assert_eq(int_at(o, "usage.completion_tokens"), 4);
    cr_assert_eq(int_at(o, "usage.total_tokens"), 9);
    json_object_put(o);
    resp_free(&r);
}

Test(simulator, chat_array_content_and_keep_alive) {
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "[{\"type\":\"text\",\"text\":\"one \"},{\"type\":\"image_url\","
                       "\"image_url\":{\"url\":\"x\"}},{\"type\":\"text\",\"text\":\"two\"}]}]}";
    resp r = post("/v1/chat/completions", NULL, body);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "choices.0.message.content"), "echo: one two");
    json_object_put(o);
    resp_free(&r);

    /* the same curl handle reuses the connection */
    char url[128];
    snprintf(url, sizeof(url), "%s/models", sim.base_url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long connects = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    cr_assert_eq(connects, 0, "second request opened a new connection");
    curl_easy_cleanup(c);
    fclose(null);
}

Test(simulator, chat_validation_errors) {
    struct {
        const char *body;
        const char *param;
    } cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL},
        {"{\"model\":\"m\"}", "messages"},
        {"{\"model\":\"m\",\"messages\":[]}", "messages"},
        {"not json", NULL},
        {"{\"model\":\"m\",\"messages\":[]} trailing", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resp r = post("/v1/chat/completions", NULL, cases[i].body);
        cr_assert_eq(r.status, 400, "case %zu: %ld", i, r.status);
        json_object *o = parse(r.body);
        cr_assert_str_eq(str_at(o, "error.type"), "invalid_request_error");
        cr_assert_not_null(str_at(o, "error.message"));
        cr_assert(json_object_object_get_ex(at(o, "error"), "param", NULL));
        cr_assert(json_object_object_get_ex(at(o, "error"), "code", NULL));
        if (cases[i].param)
            cr_assert_str_eq(str_at(o, "error.param"), cases[i].param);
        json_object_put(o);
        resp_free(&r);
    }
}

static void check_stream(int include_usage) {
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"gpt-4o\",\"stream\":true,%s\"messages\":[{\"role\":\"user\","
             "\"content\":\"Hello there world\"}]}",
             include_usage ? "\"stream_options\":{\"include_usage\":true}," : "");
    resp r = post("/v1/chat/completions", NULL, body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "Content-Type: text/event-stream"));
    cr_assert(strstr(r.headers, "Transfer-Encoding: chunked"));
    size_t n;
    char **ev = sse_data(r.body, &n);
    size_t words = 4; /* echo: Hello there world */
    cr_assert_eq(n, words + 1 + (include_usage ? 1 : 0), "events: %zu\n%s", n, r.body);
    cr_assert_str_eq(ev[n - 1], "[DONE]");
    char content[256] = "";
    for (size_t i = 0; i < words; i++) {
        json_object *o = parse(ev[i]);
        cr_assert_str_eq(str_at(o, "object"), "chat.completion.chunk");
        cr_assert_str_eq(str_at(o, "model"), "gpt-4o");
        if (i == 0)
            cr_assert_str_eq(str_at(o, "choices.0.delta.role"), "assistant");
        strcat(content, str_at(o, "choices.0.delta.content"));
        if (i == words - 1)
            cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "stop");
        else
            cr_assert_null(at(o, "choices.0.finish_reason"));
        json_object_put(o);
    }
    cr_assert_str_eq(content, "echo: Hello there world");
    if (include_usage) {
        json_object *u = parse(ev[words]);
        cr_assert_eq(json_object_array_length(at(u, "choices")), 0);
        cr_assert_eq(int_at(u, "usage.prompt_tokens"), 3);
        cr_assert_eq(int_at(u, "usage.completion_tokens"), 4);
        cr_assert_eq(int_at(u, "usage.total_tokens"), 7);
        json_object_put(u);
    } else {
        cr_assert_null(strstr(r.body, "\"usage\""));
    }
    sse_free(ev);
    resp_free(&r);
}

Test(simulator, stream_without_usage) {
    check_stream(0);
}

Test(simulator, stream_with_usage) {
    check_stream(1);
}

static const char tools_body[] =
    "{\"model\":\"m\",%s\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\","
    "\"parameters\":{\"type\":\"object\"}}},{\"type\":\"function\",\"function\":{\"name\":"
    "\"other\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"weather in \\\"Paris\\\"\"}]}";

Test(simulator, tool_call_answer) {
    char body[512];
    snprintf(body, sizeof(body), tools_body, "");
    resp r = post("/v1/chat/completions", NULL, body);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "tool_calls");
    cr_assert_null(at(o, "choices.0.message.content"));
    cr_assert_str_eq(str_at(o, "choices.0.message.tool_calls.0.type"), "function");
    cr_assert_not_null(str_at(o, "choices.0.message.tool_calls.0.id"));
    cr_assert_str_eq(str_at(o, "choices.0.message.tool_calls.0.function.name"), "lookup");
    json_object *args = parse(str_at(o, "choices.0.message.tool_calls.0.function.arguments"));
    cr_assert_str_eq(str_at(args, "text"), "weather in \"Paris\"");
    json_object_put(args);
    json_object_put(o);
    resp_free(&r);
}

Test(simulator, tool_call_stream) {
    char body[512];
    snprintf(body, sizeof(body), tools_body, "\"stream\":true,");
    resp r = post("/v1/chat/completions", NULL, body);
    cr_assert_eq(r.status, 200);
    size_t n;
    char **ev = sse_data(r.body, &n);
    cr_assert_geq(n, 3);
    cr_assert_str_eq(ev[n - 1], "[DONE]");
    json_object *first = parse(ev[0]);
    cr_assert_str_eq(str_at(first, "choices.0.delta.role"), "assistant");
    cr_assert_str_eq(str_at(first, "choices.0.delta.tool_calls.0.function.name"), "lookup");
    cr_assert_str_eq(str_at(first, "choices.0.delta.tool_calls.0.type"), "function");
    cr_assert_not_null(str_at(first, "choices.0.delta.tool_calls.0.id"));
    cr_assert_str_eq(str_at(first, "choices.0.delta.tool_calls.0.function.arguments"), "");
    json_object_put(first);
    char args[256] = "";
    for (size_t i = 1; i + 1 < n; i++) {
        json_object *o = parse(ev[i]);
        cr_assert_eq(int_at(o, "choices.0.delta.tool_calls.0.index"), 0);
        strcat(args, str_at(o, "choices.0.delta.tool_calls.0.function.arguments"));
        if (i + 2 == n)
            cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "tool_calls");
        json_object_put(o);
    }
    json_object *a = parse(args);
    cr_assert_str_eq(str_at(a, "text"), "weather in \"Paris\"");
    json_object_put(a);
    sse_free(ev);
    resp_free(&r);
}

/* ---- embeddings, models ---- */

static int b64val(char c) {
    const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(tab, c);
    return p && c ? (int)(p - tab) : -1;
}

Test(simulator, embeddings_float_and_base64) {
    const char *fl = "{\"model\":\"text-embedding-3-small\",\"input\":[\"alpha beta\",\"gamma\"],"
                     "\"dimensions\":16}";
    const char *b64 = "{\"model\":\"text-embedding-3-small\",\"input\":\"alpha beta\","
                      "\"dimensions\":16,\"encoding_format\":\"base64\"}";
    resp r1 = post("/v1/embeddings", NULL, fl);
    resp r2 = post("/v1/embeddings", NULL, b64);
    cr_assert_eq(r1.status, 200, "%s", r1.body);
    cr_assert_eq(r2.status, 200, "%s", r2.body);
    json_object *o1 = parse(r1.body), *o2 = parse(r2.body);
    cr_assert_str_eq(str_at(o1, "object"), "list");
    cr_assert_str_eq(str_at(o1, "model"), "text-embedding-3-small");
    cr_assert_eq(json_object_array_length(at(o1, "data")), 2);
    cr_assert_str_eq(str_at(o1, "data.1.object"), "embedding");
    cr_assert_eq(int_at(o1, "data.1.index"), 1);
    cr_assert_eq(int_at(o1, "usage.prompt_tokens"), 3);
    cr_assert_eq(int_at(o1, "usage.total_tokens"), 3);
    json_object *v = at(o1, "data.0.embedding");
    cr_assert_eq(json_object_array_length(v), 16);
    cr_assert_eq(json_object_array_length(at(o1, "data.1.embedding")), 16);

    /* base64 of little-endian float32, same vector as the float answer */
    const char *s = str_at(o2, "data.0.embedding");
    cr_assert_not_null(s);
    unsigned char raw[64];
    size_t nraw = 0;
    for (size_t i = 0; s[i] && s[i + 1] && s[i + 2] && s[i + 3]; i += 4) {
        int a = b64val(s[i]), b = b64val(s[i + 1]), c = b64val(s[i + 2]), d = b64val(s[i + 3]);
        raw[nraw++] = (unsigned char)(a << 2 | b >> 4);
        if (c >= 0)
            raw[nraw++] = (unsigned char)((b & 15) << 4 | c >> 2);
        if (d >= 0)
            raw[nraw++] = (unsigned char)((c & 3) << 6 | d);
    }
    cr_assert_eq(nraw, 64);
    for (size_t k = 0; k < 16; k++) {
        uint32_t bits = (uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 |
                        (uint32_t)raw[4 * k + 2] << 16 | (uint32_t)raw[4 * k + 3] << 24;
        float f;
        memcpy(&f, &bits, 4);
        cr_assert_eq(f, (float)json_object_get_double(json_object_array_get_idx(v, k)));
    }
    json_object_put(o1);
    json_object_put(o2);
    resp_free(&r1);
    resp_free(&r2);

    /* default length 8; token input; bad input */
    resp r3 = post("/v1/embeddings", NULL, "{\"model\":\"m\",\"input\":[[1,2,3],[4]]}");
    json_object *o3 = parse(r3.body);
    cr_assert_eq(json_object_array_length(at(o3, "data.0.embedding")), 8);
    cr_assert_eq(int_at(o3, "usage.prompt_tokens"), 4);
    json_object_put(o3);
    resp_free(&r3);
    resp r4 = post("/v1/embeddings", NULL, "{\"model\":\"m\",\"input\":[]}");
    cr_assert_eq(r4.status, 400);
    resp_free(&r4);
}

/* Asked for gzip (as libaigw asks for embeddings), the answer comes
 * compressed, and inflates to the same JSON as the plain one. */
Test(simulator, embeddings_gzip_when_asked) {
    const char *req = "{\"model\":\"text-embedding-3-small\",\"input\":[\"alpha beta\",\"gamma\"],"
                      "\"dimensions\":64}";
    const char *gzip[] = {"Accept-Encoding: deflate, gzip", NULL};
    resp plain = post("/v1/embeddings", NULL, req);
    resp packed = post("/v1/embeddings", gzip, req);
    cr_assert_eq(plain.status, 200);
    cr_assert_eq(packed.status, 200);
    cr_assert_null(strstr(plain.headers, "Content-Encoding"));
    cr_assert_not_null(strstr(packed.headers, "Content-Encoding: gzip"), "%s", packed.headers);
    cr_assert_lt(packed.len, plain.len);
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
    char *out = calloc(1, plain.len + 1);
    z.next_in = (unsigned char *)packed.body;
    z.avail_in = (uInt)packed.len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)plain.len + 1;
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(z.total_out, plain.len);
    inflateEnd(&z);
    cr_assert_eq(memcmp(out, plain.body, plain.len), 0);
    free(out);
    resp_free(&plain);
    resp_free(&packed);
}

Test(simulator, models_list) {
    resp r = request("GET", "/v1/models", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "object"), "list");
    cr_assert_str_eq(str_at(o, "data.0.id"), "gpt-4o-mini");
    cr_assert_str_eq(str_at(o, "data.1.id"), "gpt-4o");
    cr_assert_str_eq(str_at(o, "data.2.id"), "text-embedding-3-small");
    cr_assert_str_eq(str_at(o, "data.0.object"), "model");
    cr_assert_str_eq(str_at(o, "data.0.owned_by"), "system");
    cr_assert_not_null(at(o, "data.0.created"));
    json_object_put(o);
    resp_free(&r);
}

Test(simulator, unknown_path_and_wrong_method) {
    resp r = post("/v1/nothing-here", NULL, "{}");
    cr_assert_eq(r.status, 404);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.type"), "invalid_request_error");
    json_object_put(o);
    resp_free(&r);
    r = request("GET", "/v1/chat/completions", NULL, NULL);
    cr_assert_eq(r.status, 405);
    o = parse(r.body);
    cr_assert_not_null(str_at(o, "error.message"));
    json_object_put(o);
    resp_free(&r);
}

/* ---- auth ---- */

Test(simulator_auth, wrong_or_missing_key) {
    const char *wrong[] = {"Authorization: Bearer sk-wrong-key-123", NULL};
    resp r = post("/v1/chat/completions", wrong, chat_body);
    cr_assert_eq(r.status, 401);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.message"), "Incorrect API key provided.");
    cr_assert_str_eq(str_at(o, "error.type"), "invalid_request_error");
    cr_assert_str_eq(str_at(o, "error.code"), "invalid_api_key");
    cr_assert_null(at(o, "error.param"));
    cr_assert_null(strstr(r.body, "sk-wrong-key-123"));
    json_object_put(o);
    resp_free(&r);

    r = request("GET", "/v1/models", NULL, NULL);
    cr_assert_eq(r.status, 401);
    resp_free(&r);

    const char *right[] = {"Authorization: Bearer sk-sim-test", NULL};
    r = post("/v1/chat/completions", right, chat_body);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

/* ---- faults ---- */

Test(simulator, fault_status_retry_after) {
    const char *h[] = {"x-sim-fault: status=429,retry_after=7", NULL};
    resp r = post("/v1/chat/completions", h, chat_body);
    cr_assert_eq(r.status, 429);
    cr_assert(strstr(r.headers, "Retry-After: 7\r\n"), "%s", r.headers);
    json_object *o = parse(r.body);
    cr_assert_not_null(str_at(o, "error.message"));
    cr_assert_not_null(str_at(o, "error.type"));
    json_object_put(o);
    resp_free(&r);

    /* from the body, as the library passes unknown fields through */
    r = post("/v1/chat/completions", NULL,
             "{\"model\":\"m\",\"sim_fault\":\"status=503\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"x\"}]}");
    cr_assert_eq(r.status, 503);
    cr_assert_null(strstr(r.headers, "Retry-After"));
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "error.type"), "server_error");
    json_object_put(o);
    resp_free(&r);

    const char *bad[] = {"x-sim-fault: explode=1", NULL};
    r = post("/v1/chat/completions", bad, chat_body);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
}

Test(simulator, fault_latency) {
    const char *h[] = {"x-sim-fault: latency_ms=400", NULL};
    resp r = post("/v1/chat/completions", h, chat_body);
    cr_assert_eq(r.status, 200);
    cr_assert_geq(r.seconds, 0.39, "took %f s", r.seconds);
    resp_free(&r);
}

Test(simulator, fault_latency_does_not_block_others) {
    /* a slow request on one connection, a fast one beside it */
    pid_t pid = fork();
    if (pid == 0) {
        const char *h[] = {"x-sim-fault: latency_ms=1500", NULL};
        resp r = post("/v1/chat/completions", h, chat_body);
        _exit(r.status == 200 ? 0 : 1);
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    resp r = request("GET", "/v1/models", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_lt(r.seconds, 1.0, "took %f s", r.seconds);
    resp_free(&r);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_eq(st, 0);
}

Test(simulator, fault_cut_after_stream) {
    const char *h[] = {"x-sim-fault: cut_after=2", NULL};
    resp r = post("/v1/chat/completions", h, stream_body);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, &n);
    cr_assert_eq(n, 2, "%s", r.body);
    cr_assert_null(strstr(r.body, "[DONE]"));
    sse_free(ev);
    resp_free(&r);
}

Test(simulator, fault_cut_after_body) {
    const char *h[] = {"x-sim-fault: cut_after=0", NULL};
    resp r = post("/v1/chat/completions", h, chat_body);
    cr_assert_eq(r.rc, CURLE_PARTIAL_FILE, "%d", r.rc);
    cr_assert_eq(r.status, 200);
    cr_assert_gt(r.len, 0);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);
}

Test(simulator, fault_malformed) {
    const char *h[] = {"x-sim-fault: malformed=1", NULL};
    resp r = post("/v1/chat/completions", h, chat_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);

    r = post("/v1/chat/completions", h, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    size_t n, broken = 0;
    char **ev = sse_data(r.body, &n);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_tokener_parse(ev[i]);
        if (!o && strcmp(ev[i], "[DONE]") != 0)
            broken++;
        json_object_put(o);
    }
    cr_assert_eq(broken, 1);
    sse_free(ev);
    resp_free(&r);
}

Test(simulator, fault_error_event) {
    const char *h[] = {"x-sim-fault: error_event=1", NULL};
    resp r = post("/v1/chat/completions", h, stream_body);
    cr_assert_eq(r.status, 200);
    cr_assert_neq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, &n);
    cr_assert_eq(n, 2, "%s", r.body);
    json_object *e = parse(ev[1]);
    cr_assert_str_eq(str_at(e, "error.message"), "simulated mid-stream failure");
    cr_assert_str_eq(str_at(e, "error.type"), "server_error");
    json_object_put(e);
    cr_assert_null(strstr(r.body, "[DONE]"));
    sse_free(ev);
    resp_free(&r);
}

Test(simulator, fault_close) {
    const char *h[] = {"x-sim-fault: close=1", NULL};
    resp r = post("/v1/chat/completions", h, chat_body);
    cr_assert_eq(r.rc, CURLE_GOT_NOTHING, "%d", r.rc);
    resp_free(&r);
}

Test(simulator, fault_drop_done) {
    const char *h[] = {"x-sim-fault: drop_done=1", NULL};
    resp r = post("/v1/chat/completions", h, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    size_t n;
    char **ev = sse_data(r.body, &n);
    cr_assert_eq(n, 4);
    cr_assert_null(strstr(r.body, "[DONE]"));
    json_object *o = parse(ev[n - 1]);
    cr_assert_str_eq(str_at(o, "choices.0.finish_reason"), "stop");
    json_object_put(o);
    sse_free(ev);
    resp_free(&r);
}

Test(simulator, fault_trickle) {
    resp plain = post("/v1/chat/completions", NULL, stream_body);
    const char *h[] = {"x-sim-fault: trickle_ms=2,trickle_bytes=64", NULL};
    resp r = post("/v1/chat/completions", h, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.len, plain.len);
    cr_assert_gt(r.seconds, 0.02);
    size_t n;
    char **ev = sse_data(r.body, &n);
    cr_assert_str_eq(ev[n - 1], "[DONE]");
    sse_free(ev);
    resp_free(&r);
    resp_free(&plain);
}

/* ---- replay ---- */

/* The recorded body, read by an independent YAML parser (python3-yaml). */
static char *recorded_body(const char *name, size_t *len) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); "
             "sys.stdout.buffer.write(d[\"interactions\"][0][\"response\"][\"body\"]."
             "encode())' %s/%s.yaml",
             AIGW_RECORDINGS_DIR, name);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    aigw_test_sink s = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        aigw_test_collect(buf, 1, n, &s);
    cr_assert_eq(pclose(p), 0, "python3 -c yaml failed (is python3-yaml installed?)");
    *len = s.len;
    return s.data ? s.data : strdup("");
}

Test(simulator, replay_chat_streaming_byte_for_byte) {
    size_t elen;
    char *expected = recorded_body("chat-streaming", &elen);
    cr_assert_gt(elen, 1000);
    const char *h[] = {"x-sim-replay: chat-streaming", NULL};
    resp r = post("/v1/chat/completions", h, stream_body);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.headers, "Content-Type: text/event-stream"), "%s", r.headers);
    cr_assert(strstr(r.headers, "Transfer-Encoding: chunked"));
    cr_assert_eq(r.len, elen);
    cr_assert_eq(memcmp(r.body, expected, elen), 0);
    resp_free(&r);

    /* chosen from the body too; a JSON error replay keeps its status */
    r = post("/v1/chat/completions", NULL,
             "{\"model\":\"m\",\"sim_replay\":\"chat-bad-request\",\"messages\":[]}");
    cr_assert_eq(r.status, 400);
    free(expected);
    expected = recorded_body("chat-bad-request", &elen);
    cr_assert_eq(r.len, elen);
    cr_assert_eq(memcmp(r.body, expected, elen), 0);
    free(expected);
    resp_free(&r);

    const char *missing[] = {"x-sim-replay: no-such-recording", NULL};
    r = post("/v1/chat/completions", missing, chat_body);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
    const char *evil[] = {"x-sim-replay: ../../etc/passwd", NULL};
    r = post("/v1/chat/completions", evil, chat_body);
    cr_assert_eq(r.status, 400);
    resp_free(&r);
}

/* ---- introspection ---- */

Test(simulator, last_request_introspection) {
    const char *body = "{\"model\":\"m\",\"x_unknown_field\":{\"a\":[1,2]},\"messages\":"
                       "[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *h[] = {"X-Custom-Thing: abc", NULL};
    resp r = post("/v1/chat/completions?q=1", h, body);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    r = request("GET", "/sim/last-request", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "method"), "POST");
    cr_assert_str_eq(str_at(o, "path"), "/v1/chat/completions?q=1");
    cr_assert_str_eq(str_at(o, "headers.x-custom-thing"), "abc");
    cr_assert_str_eq(str_at(o, "headers.content-type"), "application/json");
    cr_assert_str_eq(str_at(o, "body"), body);
    json_object_put(o);
    resp_free(&r);

    r = request("GET", "/v1/models", NULL, NULL);
    resp_free(&r);
    r = request("GET", "/sim/requests", NULL, NULL);
    o = parse(r.body);
    cr_assert_eq(int_at(o, "count"), 2);
    json_object_put(o);
    resp_free(&r);
}

/* ---- raw HTTP ---- */

static int raw_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sim.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Reads until the peer closes or WANT is seen (or 5 s). */
static char *raw_read(int fd, const char *want) {
    aigw_test_sink s = {0};
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        aigw_test_collect(buf, 1, (size_t)n, &s);
        if (want && strstr(s.data, want))
            break;
    }
    return s.data ? s.data : strdup("");
}

static void raw_send(int fd, const char *s) {
    cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

Test(simulator, malformed_http_gets_400_and_server_lives) {
    int fd = raw_connect();
    raw_send(fd, "THIS IS NOT HTTP\r\n\r\n");
    char *out = raw_read(fd, NULL); /* the server closes */
    cr_assert_eq(strncmp(out, "HTTP/1.1 400 ", 13), 0, "%s", out);
    free(out);
    close(fd);

    fd = raw_connect();
    raw_send(fd,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    out = raw_read(fd, NULL);
    cr_assert_eq(strncmp(out, "HTTP/1.1 413 ", 13), 0, "%s", out);
    free(out);
    close(fd);

    resp r = request("GET", "/v1/models", NULL, NULL);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
}

Test(simulator, pipelined_and_chunked_requests) {
    int fd = raw_connect();
    raw_send(fd, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "1c\r\n{\"model\":\"m\",\"messages\":[{\"r\r\n"
                 "20\r\nole\":\"user\",\"content\":\"piped\"}]}\r\n0\r\n\r\n"
                 "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char *out = raw_read(fd, NULL);
    const char *p = out;
    int responses = 0;
    while ((p = strstr(p, "HTTP/1.1 200 OK")) != NULL) {
        responses++;
        p++;
    }
    cr_assert_eq(responses, 3, "%s", out);
    cr_assert(strstr(out, "echo: piped"), "%s", out);
    free(out);
    close(fd);
}
