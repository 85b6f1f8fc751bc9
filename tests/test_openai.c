/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI adapter end to end through the C API against the provider
 * simulator: faithful pass-through, streaming, embeddings, models, every
 * fault, replayed real OpenAI traffic, threads, and secrets kept secret. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "aigw/aigw.h"
#include "sim.h"

#define KEY "sk-SECRET-test-key-0123456789"

static aigw_test_sim sim;
static aigw_client *client;

static aigw_client *client_for(const char *base_url, const char *key, const char *extra) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\""
             "%s}}}",
             base_url, key, extra ? extra : "");
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    aigw_status st = aigw_client_new_from_string(&c, config, &e);
    cr_assert_eq(st, AIGW_OK, "client: %s", aigw_error_message(e));
    return c;
}

static void setup(void) {
    const char *args[] = {"--api-key", KEY, "--recordings", AIGW_RECORDINGS_DIR, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
    client = client_for(sim.base_url, KEY, NULL);
}

static void teardown(void) {
    aigw_client_free(client);
    aigw_test_sim_stop(&sim);
}

static size_t collect_body(char *data, size_t size, size_t n, void *user) {
    size_t len = size * n;
    char **buf = user;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + len + 1);
    memcpy(*buf + old, data, len);
    (*buf)[old + len] = '\0';
    return len;
}

/* A raw HTTP call to the simulator (GET when body is NULL). */
static char *sim_http(const char *path, const char *body, const char *header) {
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", sim.port, path);
    CURL *h = curl_easy_init();
    char *out = NULL;
    struct curl_slist *headers = NULL;
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    if (header)
        headers = curl_slist_append(headers, header);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cr_assert_eq(curl_easy_perform(h), CURLE_OK);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return out ? out : strdup("");
}

/* What the simulator received last: {"method","path","headers","body"}. */
static json_object *last_request(void) {
    char *text = sim_http("/sim/last-request", NULL, NULL);
    json_object *o = json_tokener_parse(text);
    free(text);
    cr_assert_not_null(o);
    return o;
}

static json_object *last_body(void) {
    json_object *req = last_request();
    json_object *body =
        json_tokener_parse(json_object_get_string(json_object_object_get(req, "body")));
    json_object_put(req);
    cr_assert_not_null(body, "upstream body is not JSON");
    return body;
}

typedef struct chunks {
    char text[8192];
    int count;
    int usage_count;
    int tool_deltas;
    int stop_after;
} chunks;

static int on_chunk(const char *json, size_t len, void *user) {
    chunks *c = user;
    cr_assert_eq(strlen(json), len);
    json_object *o = json_tokener_parse(json);
    cr_assert_not_null(o, "chunk not JSON: %s", json);
    json_object *choices = json_object_object_get(o, "choices");
    if (json_object_object_get(o, "usage") &&
        json_object_is_type(json_object_object_get(o, "usage"), json_type_object))
        c->usage_count++;
    if (choices && json_object_array_length(choices) > 0) {
        json_object *delta = json_object_object_get(json_object_array_get_idx(choices, 0), "delta");
        json_object *content = json_object_object_get(delta, "content");
        if (content && json_object_is_type(content, json_type_string))
            strncat(c->text, json_object_get_string(content), sizeof c->text - strlen(c->text) - 1);
        if (json_object_object_get(delta, "tool_calls"))
            c->tool_deltas++;
    }
    json_object_put(o);
    c->count++;
    return c->stop_after && c->count >= c->stop_after;
}

TestSuite(openai, .init = setup, .fini = teardown, .timeout = 60);

Test(openai, chat_passes_every_field_through_untouched) {
    const char *req =
        "{\"model\":\"sim/gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"terse\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this\"},{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\",\"detail\":"
        "\"low\"}}]}],\"temperature\":0.25,\"top_p\":0.9,\"max_completion_tokens\":64,\"stop\":["
        "\"\\n\\n\"],\"seed\":42,\"n\":1,\"user\":\"u-1\",\"response_format\":{\"type\":\"json_"
        "schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}},"
        "\"logit_bias\":{\"50256\":-100},\"x_vendor_extension\":{\"nested\":[1,2.5,null,true]}}";
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(client, req, &out, &e), AIGW_OK, "%s", aigw_error_message(e));
    char *text = NULL;
    cr_assert_eq(aigw_chat_response_text(out, &text), AIGW_OK);
    cr_assert_str_eq(text, "echo: what is this");
    aigw_free(text);
    aigw_free(out);

    json_object *sent = last_body();
    json_object *expected = json_tokener_parse(req);
    json_object_object_add(expected, "model", json_object_new_string("gpt-4o-mini"));
    cr_assert(json_object_equal(sent, expected), "upstream body differs: %s",
              json_object_to_json_string(sent));
    json_object_put(sent);
    json_object_put(expected);

    json_object *lr = last_request();
    json_object *headers = json_object_object_get(lr, "headers");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(headers, "authorization")),
                     "Bearer " KEY);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(lr, "path")),
                     "/v1/chat/completions");
    /* A chat asks for no compression (answers are small or streamed); the
     * library says who it is. */
    cr_assert_null(json_object_object_get(headers, "accept-encoding"));
    cr_assert_str_eq(json_object_get_string(json_object_object_get(headers, "user-agent")),
                     "libaigw/" AIGW_VERSION_STRING);
    json_object_put(lr);
}

Test(openai, chat_with_stream_true_is_answered_whole) {
    char *out = NULL;
    cr_assert_eq(aigw_chat(client,
                           "{\"model\":\"sim/gpt-4o\",\"stream\":true,\"stream_options\":{"
                           "\"include_usage\":true},\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hi\"}]}",
                           &out, NULL),
                 AIGW_OK);
    json_object *sent = last_body();
    cr_assert_null(json_object_object_get(sent, "stream"));
    cr_assert_null(json_object_object_get(sent, "stream_options"));
    json_object_put(sent);
    aigw_free(out);
}

Test(openai, stream_requests_usage_but_hands_it_over_only_when_asked) {
    chunks c = {0};
    aigw_error *e = NULL;
    const char *req = "{\"model\":\"sim/gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
                      "\"hi there you\"}]}";
    cr_assert_eq(aigw_chat_stream(client, req, on_chunk, &c, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    cr_assert_str_eq(c.text, "echo: hi there you");
    cr_assert_eq(c.usage_count, 0);
    cr_assert_gt(c.count, 3);
    json_object *sent = last_body();
    cr_assert(json_object_get_boolean(json_object_object_get(sent, "stream")));
    cr_assert(json_object_get_boolean(
        json_object_object_get(json_object_object_get(sent, "stream_options"), "include_usage")));
    json_object_put(sent);

    chunks u = {0};
    cr_assert_eq(aigw_chat_stream(client,
                                  "{\"model\":\"sim/gpt-4o\",\"stream_options\":{\"include_"
                                  "usage\":true},\"messages\":[{\"role\":\"user\",\"content\":"
                                  "\"hi\"}]}",
                                  on_chunk, &u, &e),
                 AIGW_OK);
    cr_assert_eq(u.usage_count, 1);
}

Test(openai, stream_tool_call_deltas_and_stop) {
    chunks c = {0};
    const char *req =
        "{\"model\":\"sim/gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"weather in "
        "Paris\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]}";
    cr_assert_eq(aigw_chat_stream(client, req, on_chunk, &c, NULL), AIGW_OK);
    cr_assert_geq(c.tool_deltas, 2);
    chunks s = {.stop_after = 1};
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat_stream(client, req, on_chunk, &s, &e), AIGW_ESTOPPED);
    cr_assert_eq(s.count, 1);
    aigw_error_free(e);
}

Test(openai, embeddings_and_models) {
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_embed(client,
                            "{\"model\":\"sim/text-embedding-3-small\",\"input\":[\"a\",\"b\"],"
                            "\"dimensions\":16,\"encoding_format\":\"base64\"}",
                            &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    json_object *resp = json_tokener_parse(out);
    cr_assert_eq(json_object_array_length(json_object_object_get(resp, "data")), 2);
    cr_assert(json_object_is_type(
        json_object_object_get(json_object_array_get_idx(json_object_object_get(resp, "data"), 0),
                               "embedding"),
        json_type_string));
    json_object_put(resp);
    aigw_free(out);
    json_object *sent = last_body();
    cr_assert_eq(json_object_get_int(json_object_object_get(sent, "dimensions")), 16);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(sent, "model")),
                     "text-embedding-3-small");
    json_object_put(sent);
    /* Embeddings, whose answers run to megabytes, accept every encoding
     * curl decodes; the simulator then answers gzip-compressed
     * (test_simulator checks it does), so the answer above came through
     * curl's decoder. */
    json_object *lr = last_request();
    const char *accept_encoding = json_object_get_string(
        json_object_object_get(json_object_object_get(lr, "headers"), "accept-encoding"));
    cr_assert(accept_encoding && strstr(accept_encoding, "gzip"), "accept-encoding: %s",
              accept_encoding ? accept_encoding : "(none)");
    json_object_put(lr);

    cr_assert_eq(aigw_models(client, "sim", &out, &e), AIGW_OK);
    cr_assert(strstr(out, "\"sim/gpt-4o-mini\""), "%s", out);
    aigw_free(out);
    cr_assert_eq(aigw_models(client, NULL, &out, &e), AIGW_OK);
    cr_assert(strstr(out, "\"sim/gpt-4o-mini\"") && strstr(out, "\"mock/echo\""), "%s", out);
    aigw_free(out);
}

/* A chat with a fault; checks status, HTTP status and message. */
static void expect_fault(int stream, const char *fault, aigw_status want, int want_http,
                         const char *needle) {
    char req[512];
    snprintf(req, sizeof req,
             "{\"model\":\"sim/gpt-4o\",\"sim_fault\":\"%s\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"one two three four five six\"}]}",
             fault);
    aigw_error *e = NULL;
    char *out = NULL;
    chunks c = {0};
    aigw_status st =
        stream ? aigw_chat_stream(client, req, on_chunk, &c, &e) : aigw_chat(client, req, &out, &e);
    cr_assert_eq(st, want, "%s fault %s: got %s (%s)", stream ? "stream" : "chat", fault,
                 aigw_status_name(st), aigw_error_message(e));
    cr_assert_null(out);
    cr_assert_eq(aigw_error_status(e), want);
    if (want_http >= 0)
        cr_assert_eq(aigw_error_http_status(e), want_http, "fault %s: http %d", fault,
                     aigw_error_http_status(e));
    if (needle)
        cr_assert(strstr(aigw_error_message(e), needle), "fault %s: message \"%s\" lacks \"%s\"",
                  fault, aigw_error_message(e), needle);
    cr_assert_str_eq(aigw_error_provider(e), "sim");
    cr_assert_null(strstr(aigw_error_message(e), KEY));
    cr_assert_null(strstr(aigw_error_json(e), KEY));
    aigw_error_free(e);
}

Test(openai, upstream_errors_become_statuses_with_the_providers_message) {
    for (int stream = 0; stream < 2; stream++) {
        expect_fault(stream, "status=429,retry_after=2", AIGW_ERATELIMIT, 429, "HTTP 429");
        expect_fault(stream, "status=500", AIGW_EUPSTREAM, 500, "HTTP 500");
        expect_fault(stream, "status=503", AIGW_EUPSTREAM, 503, NULL);
        expect_fault(stream, "status=400", AIGW_EBADREQUEST, 400, NULL);
        expect_fault(stream, "status=404", AIGW_ENOTFOUND, 404, NULL);
        expect_fault(stream, "malformed=1", AIGW_EBADRESPONSE, 200, NULL);
        expect_fault(stream, "cut_after=2", AIGW_ETRUNCATED, -1, NULL);
        expect_fault(stream, "close=1", AIGW_ETRUNCATED, 0, "without answering");
    }
    expect_fault(1, "error_event=1", AIGW_EUPSTREAM, 200, "simulated mid-stream failure");
    expect_fault(1, "drop_done=1", AIGW_ETRUNCATED, 200, "[DONE]");
    aigw_error *e = NULL;
    char *out = NULL;
    cr_assert_eq(aigw_chat(client,
                           "{\"model\":\"sim/gpt-4o\",\"sim_fault\":\"status=429\",\"messages\":[{"
                           "\"role\":\"user\",\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ERATELIMIT);
    cr_assert(aigw_status_is_retryable(aigw_error_status(e)));
    cr_assert_not_null(aigw_error_body(e));
    json_object *body = json_tokener_parse(aigw_error_body(e));
    cr_assert_not_null(json_object_object_get(body, "error"), "provider body kept verbatim");
    json_object_put(body);
    aigw_error_free(e);
}

Test(openai, wrong_key_is_an_auth_error_that_never_shows_a_key) {
    aigw_client *bad = client_for(sim.base_url, "sk-WRONG-other-secret-987", NULL);
    aigw_error *e = NULL;
    char *out = NULL;
    cr_assert_eq(aigw_chat(bad,
                           "{\"model\":\"sim/x\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_EAUTH);
    cr_assert_eq(aigw_error_http_status(e), 401);
    cr_assert(strstr(aigw_error_message(e), "Incorrect API key"));
    cr_assert_null(strstr(aigw_error_message(e), "sk-WRONG"));
    aigw_error_free(e);
    aigw_client_free(bad);
}

Test(openai, refused_connection_and_timeout) {
    /* Port 1 on loopback: nothing listens there. */
    aigw_client *down = client_for("http://127.0.0.1:1/v1", KEY, NULL);
    aigw_error *e = NULL;
    char *out = NULL;
    cr_assert_eq(aigw_chat(down,
                           "{\"model\":\"sim/x\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ECONNECT);
    cr_assert(aigw_status_is_retryable(AIGW_ECONNECT));
    aigw_error_free(e);
    aigw_client_free(down);

    aigw_client *slow = client_for(sim.base_url, KEY, ",\"timeout_ms\":300");
    e = NULL;
    cr_assert_eq(aigw_chat(slow,
                           "{\"model\":\"sim/x\",\"sim_fault\":\"latency_ms=3000\","
                           "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ETIMEOUT);
    aigw_error_free(e);
    aigw_client_free(slow);
}

/* Real recorded OpenAI answers replayed byte for byte by the simulator. */
Test(openai, replay_recordings_translate_exactly) {
    static const struct {
        const char *name;
        aigw_status want;
    } whole[] = {
        {"chat-basic", AIGW_OK},
        {"chat-tools", AIGW_OK},
        {"chat-parallel-tools", AIGW_OK},
        {"chat-json-mode", AIGW_OK},
        {"chat-reasoning", AIGW_OK},
        {"chat-detailed-usage", AIGW_OK},
        {"chat-multimodal", AIGW_OK},
        {"chat-bad-request", AIGW_EBADREQUEST},
        {"chat-no-messages", AIGW_EBADREQUEST},
        {"chat-unknown-model", AIGW_ENOTFOUND},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"model\":\"sim/gpt-5-nano\",\"sim_replay\":\"%s\",\"messages\":[{\"role\":"
                 "\"user\",\"content\":\"x\"}]}",
                 whole[i].name);
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st = aigw_chat(client, req, &out, &e);
        cr_assert_eq(st, whole[i].want, "%s: %s %s", whole[i].name, aigw_status_name(st),
                     aigw_error_message(e));
        char header[128];
        snprintf(header, sizeof header, "x-sim-replay: %s", whole[i].name);
        char *direct = sim_http("/v1/chat/completions",
                                "{\"model\":\"gpt-5-nano\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"x\"}]}",
                                header);
        if (st == AIGW_OK) {
            cr_assert_str_eq(out, direct, "%s: not passed through byte for byte", whole[i].name);
        } else {
            cr_assert_str_eq(aigw_error_body(e), direct);
            json_object *recorded = json_tokener_parse(direct);
            const char *msg = json_object_get_string(
                json_object_object_get(json_object_object_get(recorded, "error"), "message"));
            cr_assert(strstr(aigw_error_message(e), msg), "%s: provider message lost: %s",
                      whole[i].name, aigw_error_message(e));
            json_object_put(recorded);
        }
        free(direct);
        aigw_free(out);
        aigw_error_free(e);
    }
    static const char *const streams[] = {"chat-streaming", "chat-streaming-detailed-usage",
                                          "chat-streaming-web-search"};
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"model\":\"sim/gpt-5-nano\",\"sim_replay\":\"%s\",\"stream_options\":{"
                 "\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                 streams[i]);
        chunks c = {0};
        aigw_error *e = NULL;
        cr_assert_eq(aigw_chat_stream(client, req, on_chunk, &c, &e), AIGW_OK, "%s: %s", streams[i],
                     aigw_error_message(e));
        /* Count the recording's own data events (less [DONE]). */
        char header[128];
        snprintf(header, sizeof header, "x-sim-replay: %s", streams[i]);
        char *direct =
            sim_http("/v1/chat/completions", "{\"model\":\"x\",\"messages\":[]}", header);
        int events = 0;
        for (const char *p = direct; (p = strstr(p, "data: ")); p += 6)
            events++;
        cr_assert_eq(c.count, events - 1, "%s: %d chunks of %d events", streams[i], c.count,
                     events);
        /* The detailed-usage recording stops at max tokens before any text
         * but ends with its usage chunk. */
        if (strcmp(streams[i], "chat-streaming-detailed-usage") == 0)
            cr_assert_eq(c.usage_count, 1, "%s: usage chunk lost", streams[i]);
        else
            cr_assert_gt(strlen(c.text), 0, "%s: no text", streams[i]);
        free(direct);
    }
}

static void *chat_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 25; i++) {
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st = aigw_chat(client,
                                   "{\"model\":\"sim/gpt-4o\",\"messages\":[{\"role\":\"user\","
                                   "\"content\":\"threads\"}]}",
                                   &out, &e);
        if (st || !strstr(out, "echo: threads"))
            return (void *)1;
        aigw_free(out);
    }
    return NULL;
}

Test(openai, one_client_shared_by_many_threads) {
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, chat_thread, NULL);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r, "a thread's call failed");
    }
}

static char logged[65536];
static void capture_log(aigw_log_level level, const char *message, void *user) {
    (void)level;
    (void)user;
    strncat(logged, message, sizeof logged - strlen(logged) - 2);
    strcat(logged, "\n");
}

Test(openai, secrets_never_reach_logs_or_errors) {
    aigw_client_options o = AIGW_CLIENT_OPTIONS_INIT;
    char config[512];
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\""
             "}}}",
             sim.base_url, KEY);
    o.config_json = config;
    o.log_cb = capture_log;
    o.log_level = AIGW_LOG_DEBUG;
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new(&c, &o, NULL), AIGW_OK);
    static const char *const faults[] = {"status=401", "status=500", "malformed=1", "close=1",
                                         "cut_after=1"};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"model\":\"sim/x\",\"sim_fault\":\"%s\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}]}",
                 faults[i]);
        aigw_error *e = NULL;
        char *out = NULL;
        cr_assert_neq(aigw_chat(c, req, &out, &e), AIGW_OK);
        cr_assert_null(strstr(aigw_error_message(e), "SECRET"));
        cr_assert_null(strstr(aigw_error_json(e), "SECRET"));
        cr_assert(!aigw_error_body(e) || !strstr(aigw_error_body(e), "SECRET"));
        aigw_error_free(e);
    }
    cr_assert_gt(strlen(logged), 0);
    cr_assert_null(strstr(logged, "SECRET"), "a secret reached the log:\n%s", logged);
    aigw_client_free(c);
}
