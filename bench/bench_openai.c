/* SPDX-License-Identifier: Apache-2.0 */
/* Microbenchmark of the library's own work on the OpenAI request path, with
 * no network: parse the caller's request, route it, build the upstream
 * request (body, headers, API key), then check and translate the upstream
 * response. Also the stream path: SSE parsing + per-chunk checks of a real
 * recorded OpenAI stream, in MB/s.
 *
 *   ./build/bench/bench_openai [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "aigw/aigw.h"
#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/json.h"
#include "router/router.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A chat request with a ~1 KB prompt and the usual fields. */
static char *make_request(void) {
    char prompt[1025];
    for (int i = 0; i < 1024; i++)
        prompt[i] = "lorem ipsum dolor sit amet "[i % 27];
    prompt[1024] = '\0';
    char *req = malloc(4096);
    snprintf(req, 4096,
             "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
             "\"You are terse.\"},{\"role\":\"user\",\"content\":\"%s\"}],\"temperature\":0.2,"
             "\"max_completion_tokens\":256,\"seed\":7,\"user\":\"bench\"}",
             prompt);
    return req;
}

static const char response_body[] =
    "{\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"message\":{\"annotations\":[],"
    "\"content\":\"Hi there! How can I help you today? I can explain concepts, answer questions, "
    "help with writing or editing, brainstorm ideas, assist with coding or math, plan tasks, and "
    "more. Tell me what you'd like to do.\",\"refusal\":null,\"role\":\"assistant\"}}],"
    "\"created\":1755133833,\"id\":\"chatcmpl-C4Gm9xikLXbgE8He0BHWeoM03aa72\",\"model\":\"gpt-5-"
    "nano-2025-08-07\",\"object\":\"chat.completion\",\"service_tier\":\"default\","
    "\"system_fingerprint\":null,\"usage\":{\"completion_tokens\":377,\"completion_tokens_"
    "details\":{\"accepted_prediction_tokens\":0,\"audio_tokens\":0,\"reasoning_tokens\":320,"
    "\"rejected_prediction_tokens\":0},\"prompt_tokens\":8,\"prompt_tokens_details\":{\"audio_"
    "tokens\":0,\"cached_tokens\":0},\"total_tokens\":385}}";

static int drop_chunk(const char *json, size_t len, void *user) {
    (void)json;
    *(size_t *)user += len;
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

/* One whole chat call's library work; returns 0 on success. */
static int one_call(aigw_client *client, const char *request_json) {
    json_object *request = NULL;
    aigw__call call = {.op = AIGW__OP_CHAT};
    aigw__upstream_request up = {0};
    aigw__buf out = AIGW__BUF_INIT;
    int rc = 1;
    if (aigw__call_prepare(client, AIGW__OP_CHAT, request_json, &request, &call, NULL))
        goto out;
    if (aigw__route_direct(client, aigw__json_get_string(request, "model"), &call.backend,
                           &call.model, NULL) ||
        call.backend->adapter->build(&call, &up, NULL) ||
        aigw__credential_apply(&call.backend->credential, call.backend, &up, NULL) ||
        call.backend->adapter->parse(&call, response_body, sizeof response_body - 1, &out, NULL))
        goto out;
    rc = 0;
out:
    aigw__buf_free(&out);
    aigw__upstream_request_free(&up);
    json_object_put(request);
    return rc;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    if (aigw_client_new_from_string(
            &client,
            "{\"env_defaults\":false,\"backends\":{\"openai\":{\"schema\":\"openai\",\"base_url\":"
            "\"https://api.openai.com/v1\",\"api_key\":\"sk-bench\"}}}",
            &err)) {
        fprintf(stderr, "client: %s\n", aigw_error_message(err));
        return 1;
    }
    char *request = make_request();
    for (long i = 0; i < iterations / 10; i++) /* warm up */
        if (one_call(client, request))
            return 1;
    double t0 = now_s();
    for (long i = 0; i < iterations; i++)
        one_call(client, request);
    double per_call = (now_s() - t0) / (double)iterations;
    printf("openai chat (1 KB prompt): %.0f ns per call (request+response translation, %ld "
           "calls)\n",
           per_call * 1e9, iterations);

    /* Streaming: a recorded OpenAI stream through SSE parsing + chunk checks. */
    size_t one_len = 0;
    char *one = read_file(AIGW_SOURCE_DIR "/tests/data/sse/chat-streaming.sse", &one_len);
    if (!one) {
        fprintf(stderr, "missing tests/data/sse/chat-streaming.sse\n");
        return 1;
    }
    int rounds = iterations > 1000 ? 200 : 10;
    size_t forwarded = 0;
    json_object *stream_req = json_tokener_parse("{\"model\":\"gpt-4o-mini\"}");
    double t1 = now_s();
    for (int r = 0; r < rounds; r++) {
        aigw__call call = {.op = AIGW__OP_CHAT_STREAM,
                           .request = stream_req,
                           .backend = &client->backends[0],
                           .model = "gpt-4o-mini"};
        aigw__chunk_sink sink = {drop_chunk, &forwarded};
        void *state = NULL;
        const aigw__adapter *a = call.backend->adapter;
        if (a->stream_open(&call, sink, &state, NULL))
            return 1;
        for (size_t off = 0; off < one_len; off += 4096) {
            size_t n = one_len - off < 4096 ? one_len - off : 4096;
            if (a->stream_feed(state, one + off, n, NULL))
                return 1;
        }
        if (a->stream_finish(state, NULL))
            return 1;
        a->stream_free(state);
    }
    double secs = now_s() - t1;
    printf("openai stream translation: %.1f MB/s (%zu-byte recorded stream x %d, 4 KB reads)\n",
           (double)one_len * rounds / secs / 1e6, one_len, rounds);
    json_object_put(stream_req);
    free(one);
    free(request);
    aigw_client_free(client);
    return 0;
}
