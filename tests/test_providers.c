/* SPDX-License-Identifier: Apache-2.0 */
/* Every provider end to end through the C API against the simulator: the
 * same OpenAI-shaped calls, the same answers, and every fault turned into
 * the same statuses, whatever the provider's wire format. Faults reach the
 * simulator as an x-sim-fault header set in the backend's config. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "aigw/aigw.h"
#include "providers.h"
#include "sim.h"

#define KEY "sk-SECRET-providers-0123456789"

typedef aigw_test_provider provider;
static const provider *const providers = aigw_test_providers;
#define N_PROVIDERS AIGW_TEST_N_PROVIDERS

static aigw_test_sim sim;
static char root[64];

static void setup(void) {
    aigw_test_sim_start_providers(&sim, KEY);
    snprintf(root, sizeof root, "http://127.0.0.1:%d", sim.port);
}

static void teardown(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(providers, .init = setup, .fini = teardown, .timeout = 120);

/* A client with provider p, optionally injecting a fault on every request. */
static aigw_client *client_for(const provider *p, const char *fault) {
    char backend[512], config[1024];
    aigw_test_provider_backend(p, root, KEY, backend, sizeof backend);
    snprintf(config, sizeof config, "{\"env_defaults\":false,\"backends\":{\"%s\":{%s%s%s%s}}}",
             p->name, backend, fault ? ",\"headers\":{\"x-sim-fault\":\"" : "", fault ? fault : "",
             fault ? "\"}" : "");
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s: %s", p->name,
                 aigw_error_message(e));
    return c;
}

typedef struct collected {
    char text[4096];
    char tool_args[4096]; /* the first tool call's argument fragments, joined */
    char tool_name[128];
    int chunks, usage_chunks, tool_deltas;
} collected;

static int collect(const char *json, size_t len, void *user) {
    collected *col = user;
    json_object *o = json_tokener_parse(json);
    cr_assert_not_null(o, "chunk is not JSON: %.*s", (int)len, json);
    cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "object")),
                     "chat.completion.chunk");
    json_object *usage = json_object_object_get(o, "usage");
    if (usage && json_object_is_type(usage, json_type_object))
        col->usage_chunks++;
    json_object *choices = json_object_object_get(o, "choices");
    if (json_object_array_length(choices) > 0) {
        json_object *delta = json_object_object_get(json_object_array_get_idx(choices, 0), "delta");
        json_object *content = json_object_object_get(delta, "content");
        if (content && json_object_is_type(content, json_type_string))
            strncat(col->text, json_object_get_string(content),
                    sizeof col->text - strlen(col->text) - 1);
        json_object *calls = json_object_object_get(delta, "tool_calls");
        if (calls) {
            col->tool_deltas++;
            json_object *fn =
                json_object_object_get(json_object_array_get_idx(calls, 0), "function");
            json_object *name = json_object_object_get(fn, "name");
            json_object *args = json_object_object_get(fn, "arguments");
            if (name && json_object_is_type(name, json_type_string))
                snprintf(col->tool_name, sizeof col->tool_name, "%s", json_object_get_string(name));
            if (args && json_object_is_type(args, json_type_string))
                strncat(col->tool_args, json_object_get_string(args),
                        sizeof col->tool_args - strlen(col->tool_args) - 1);
        }
    }
    col->chunks++;
    json_object_put(o);
    return 0;
}

Test(providers, chat_stream_and_usage_in_openai_shape) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        aigw_client *c = client_for(p, NULL);
        char req[1024];
        aigw_test_provider_chat_request(p, NULL, req, sizeof req);
        char *out = NULL, *text = NULL;
        aigw_error *e = NULL;
        cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_OK, "%s: %s", p->name,
                     aigw_error_message(e));
        cr_assert_eq(aigw_chat_response_text(out, &text), AIGW_OK);
        cr_assert_str_eq(text, "echo: hello there friend", "%s", p->name);
        json_object *resp = json_tokener_parse(out);
        json_object *usage = json_object_object_get(resp, "usage");
        cr_assert_gt(json_object_get_int(json_object_object_get(usage, "total_tokens")), 0,
                     "%s: no usage", p->name);
        cr_assert_str_eq(json_object_get_string(json_object_object_get(
                             json_object_array_get_idx(json_object_object_get(resp, "choices"), 0),
                             "finish_reason")),
                         "stop", "%s", p->name);
        json_object_put(resp);
        aigw_free(text);
        aigw_free(out);

        collected col = {0};
        aigw_test_provider_chat_request(p, ",\"stream_options\":{\"include_usage\":true}", req,
                                        sizeof req);
        cr_assert_eq(aigw_chat_stream(c, req, collect, &col, &e), AIGW_OK, "%s stream: %s", p->name,
                     aigw_error_message(e));
        cr_assert_str_eq(col.text, "echo: hello there friend", "%s stream", p->name);
        cr_assert_eq(col.usage_chunks, p->has_usage_chunk, "%s: %d usage chunks", p->name,
                     col.usage_chunks);
        aigw_client_free(c);
    }
}

Test(providers, tool_calls_come_back_as_openai_tool_calls) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        aigw_client *c = client_for(p, NULL);
        char req[2048];
        aigw_test_provider_chat_request(
            p,
            ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\","
            "\"description\":\"look up\",\"parameters\":{\"type\":\"object\","
            "\"properties\":{\"text\":{\"type\":\"string\"}}}}}]",
            req, sizeof req);
        char *out = NULL;
        aigw_error *e = NULL;
        cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_OK, "%s: %s", p->name,
                     aigw_error_message(e));
        json_object *resp = json_tokener_parse(out);
        json_object *choice = json_object_array_get_idx(json_object_object_get(resp, "choices"), 0);
        json_object *calls =
            json_object_object_get(json_object_object_get(choice, "message"), "tool_calls");
        cr_assert_eq(json_object_array_length(calls), 1, "%s: %s", p->name, out);
        json_object *fn = json_object_object_get(json_object_array_get_idx(calls, 0), "function");
        cr_assert_str_eq(json_object_get_string(json_object_object_get(fn, "name")), "lookup");
        json_object *args =
            json_tokener_parse(json_object_get_string(json_object_object_get(fn, "arguments")));
        cr_assert_str_eq(json_object_get_string(json_object_object_get(args, "text")),
                         "hello there friend", "%s", p->name);
        cr_assert_str_eq(json_object_get_string(json_object_object_get(choice, "finish_reason")),
                         "tool_calls");
        json_object_put(args);
        json_object_put(resp);
        aigw_free(out);

        collected col = {0};
        cr_assert_eq(aigw_chat_stream(c, req, collect, &col, &e), AIGW_OK, "%s: %s", p->name,
                     aigw_error_message(e));
        /* Arguments may come in fragments (OpenAI, Anthropic, Bedrock) or
         * whole (Gemini); joined they are the same JSON. */
        cr_assert_geq(col.tool_deltas, 1, "%s: no tool deltas", p->name);
        cr_assert_str_eq(col.tool_name, "lookup", "%s", p->name);
        json_object *streamed = json_tokener_parse(col.tool_args);
        cr_assert_not_null(streamed, "%s: streamed arguments not JSON: %s", p->name, col.tool_args);
        cr_assert_str_eq(json_object_get_string(json_object_object_get(streamed, "text")),
                         "hello there friend", "%s", p->name);
        json_object_put(streamed);
        aigw_client_free(c);
    }
}

static void expect(const provider *p, int stream, const char *fault, aigw_status want) {
    aigw_client *c = client_for(p, fault);
    char req[1024];
    aigw_test_provider_chat_request(p, NULL, req, sizeof req);
    char *out = NULL;
    aigw_error *e = NULL;
    collected col = {0};
    aigw_status st =
        stream ? aigw_chat_stream(c, req, collect, &col, &e) : aigw_chat(c, req, &out, &e);
    cr_assert_eq(st, want, "%s %s %s: got %s (%s)", p->name, stream ? "stream" : "chat", fault,
                 aigw_status_name(st), aigw_error_message(e));
    cr_assert_null(out);
    cr_assert_str_eq(aigw_error_provider(e), p->name, "%s %s", p->name, fault);
    cr_assert_null(strstr(aigw_error_message(e), "SECRET"));
    cr_assert_null(strstr(aigw_error_json(e), "SECRET"));
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(providers, every_fault_gives_the_same_status_whatever_the_provider) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        for (int stream = 0; stream < 2; stream++) {
            expect(p, stream, "status=429,retry_after=1", AIGW_ERATELIMIT);
            expect(p, stream, "status=500", AIGW_EUPSTREAM);
            expect(p, stream, "status=503", AIGW_EUPSTREAM);
            expect(p, stream, "status=400", AIGW_EBADREQUEST);
            expect(p, stream, "malformed=1", AIGW_EBADRESPONSE);
            expect(p, stream, "cut_after=2", AIGW_ETRUNCATED);
            expect(p, stream, "close=1", AIGW_ETRUNCATED);
        }
        expect(p, 1, "error_event=1", AIGW_EUPSTREAM);
        expect(p, 1, "drop_done=1", AIGW_ETRUNCATED);
    }
}

Test(providers, a_wrong_key_is_an_auth_error) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        char backend[512], config[1024];
        aigw_test_provider_backend(p, root, KEY, backend, sizeof backend);
        /* Swap the key for a wrong one. */
        char *k = strstr(backend, KEY);
        if (!k)
            continue;
        memcpy(k, "sk-WRONG", 8);
        snprintf(config, sizeof config, "{\"env_defaults\":false,\"backends\":{\"%s\":{%s}}}",
                 p->name, backend);
        aigw_client *c = NULL;
        cr_assert_eq(aigw_client_new_from_string(&c, config, NULL), AIGW_OK);
        char req[1024];
        aigw_test_provider_chat_request(p, NULL, req, sizeof req);
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st = aigw_chat(c, req, &out, &e);
        cr_assert(st == AIGW_EAUTH || st == AIGW_EPERMISSION, "%s: %s", p->name,
                  aigw_status_name(st));
        cr_assert_null(strstr(aigw_error_message(e), "WRONG"));
        aigw_error_free(e);
        aigw_client_free(c);
    }
}

Test(providers, a_wrong_aws_secret_fails_the_signature_check) {
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET/wrong/key", 1);
    const provider *p = &providers[N_PROVIDERS - 1];
    cr_assert_str_eq(p->name, "bedrock");
    aigw_client *c = client_for(p, NULL);
    char req[1024];
    aigw_test_provider_chat_request(p, NULL, req, sizeof req);
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_EPERMISSION, "%s", aigw_error_message(e));
    cr_assert(strstr(aigw_error_message(e), "signature"), "%s", aigw_error_message(e));
    cr_assert_null(strstr(aigw_error_message(e), "SECRET"));
    aigw_error_free(e);
    aigw_client_free(c);
}

/* The simulator writes every response a few bytes at a time, so each
 * provider's stream decoder sees events (and, for Bedrock, binary frames)
 * split at arbitrary points by the network. */
Test(providers, streams_split_into_tiny_writes_translate_the_same) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        aigw_client *c = client_for(p, "trickle_ms=1,trickle_bytes=5");
        char req[1024];
        aigw_test_provider_chat_request(p, ",\"stream_options\":{\"include_usage\":true}", req,
                                        sizeof req);
        collected col = {0};
        aigw_error *e = NULL;
        cr_assert_eq(aigw_chat_stream(c, req, collect, &col, &e), AIGW_OK, "%s: %s", p->name,
                     aigw_error_message(e));
        cr_assert_str_eq(col.text, "echo: hello there friend", "%s", p->name);
        cr_assert_eq(col.usage_chunks, 1, "%s", p->name);
        aigw_client_free(c);
    }
}
