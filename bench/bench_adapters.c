/* SPDX-License-Identifier: Apache-2.0 */
/* Per-adapter microbenchmark: the library's own work for one non-streamed
 * chat call with a ~1 KB prompt (parse the caller's request, route, build
 * the provider's request, add credentials — SigV4 included — and translate
 * the provider's answer back), and stream translation throughput (the
 * provider's stream bytes in 4 KB reads through the adapter's decoder to
 * OpenAI chunks). No network.
 *
 *   build/bench/bench_adapters [calls] [adapter]
 *
 * See bench/README.md, "Adapters", for figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "adapters/adapter.h"
#include "aigw/aigw.h"
#include "core/client_internal.h"
#include "core/json.h"
#include "router/router.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = {"The ", "quick ", "brown ", "fox ", "jumps ", "over ",
                                    "the ", "lazy ",  "dog, ",  "and ", "then ",  "rests. "};
#define N_WORDS (sizeof words / sizeof words[0])
#define STREAM_DELTAS 60

/* ---- canned provider streams, built once ---- */

static void openai_stream(aigw__buf *b) {
    for (int i = 0; i < STREAM_DELTAS; i++)
        aigw__buf_printf(b,
                         "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                         "\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
                         "\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n",
                         words[i % N_WORDS]);
    aigw__buf_puts(b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                      "\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{"
                      "\"prompt_tokens\":300,\"completion_tokens\":60,\"total_tokens\":360}}\n\n"
                      "data: [DONE]\n\n");
}

static void anthropic_stream(aigw__buf *b) {
    aigw__buf_puts(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
                      "\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                      "\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_"
                      "tokens\":300,\"output_tokens\":1}}}\n\n"
                      "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                      "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    for (int i = 0; i < STREAM_DELTAS; i++)
        aigw__buf_printf(b,
                         "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                         "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                         words[i % N_WORDS]);
    aigw__buf_puts(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                      "\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\","
                      "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{"
                      "\"output_tokens\":60}}\n\nevent: message_stop\ndata: {\"type\":\"message_"
                      "stop\"}\n\n");
}

static void gemini_stream(aigw__buf *b) {
    for (int i = 0; i < STREAM_DELTAS; i++)
        aigw__buf_printf(b,
                         "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],"
                         "\"role\":\"model\"},\"index\":0%s}],\"usageMetadata\":{"
                         "\"promptTokenCount\":300,\"candidatesTokenCount\":%d,"
                         "\"totalTokenCount\":%d},\"modelVersion\":\"gemini-2.0-flash\"}\r\n\r\n",
                         words[i % N_WORDS],
                         i == STREAM_DELTAS - 1 ? ",\"finishReason\":\"STOP\"" : "", i + 1,
                         301 + i);
}

/* One AWS event-stream message: prelude, headers, payload, CRCs. */
static void es_message(aigw__buf *b, const char *event_type, const char *payload) {
    unsigned char hdr[256];
    size_t h = 0;
    const char *names[3] = {":event-type", ":content-type", ":message-type"};
    const char *values[3] = {event_type, "application/json", "event"};
    for (int i = 0; i < 3; i++) {
        size_t nl = strlen(names[i]), vl = strlen(values[i]);
        hdr[h++] = (unsigned char)nl;
        memcpy(hdr + h, names[i], nl), h += nl;
        hdr[h++] = 7;
        hdr[h++] = (unsigned char)(vl >> 8), hdr[h++] = (unsigned char)vl;
        memcpy(hdr + h, values[i], vl), h += vl;
    }
    size_t pl = strlen(payload), total = 12 + h + pl + 4;
    unsigned char pre[12] = {(unsigned char)(total >> 24), (unsigned char)(total >> 16),
                             (unsigned char)(total >> 8),  (unsigned char)total,
                             (unsigned char)(h >> 24),     (unsigned char)(h >> 16),
                             (unsigned char)(h >> 8),      (unsigned char)h};
    uLong crc = crc32(0, pre, 8);
    for (int i = 0; i < 4; i++)
        pre[8 + i] = (unsigned char)(crc >> (24 - 8 * i));
    size_t start = b->len;
    aigw__buf_append(b, pre, 12);
    aigw__buf_append(b, hdr, h);
    aigw__buf_append(b, payload, pl);
    crc = crc32(0, (const unsigned char *)b->data + start, (uInt)(b->len - start));
    unsigned char tail[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                             (unsigned char)(crc >> 8), (unsigned char)crc};
    aigw__buf_append(b, tail, 4);
}

static void bedrock_stream(aigw__buf *b) {
    char payload[256];
    es_message(b, "messageStart", "{\"role\":\"assistant\"}");
    for (int i = 0; i < STREAM_DELTAS; i++) {
        snprintf(payload, sizeof payload,
                 "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"%s\"},\"p\":\"abcdefghij\"}",
                 words[i % N_WORDS]);
        es_message(b, "contentBlockDelta", payload);
    }
    es_message(b, "contentBlockStop", "{\"contentBlockIndex\":0}");
    es_message(b, "messageStop", "{\"stopReason\":\"end_turn\"}");
    es_message(b, "metadata",
               "{\"usage\":{\"inputTokens\":300,\"outputTokens\":60,"
               "\"totalTokens\":360},\"metrics\":{\"latencyMs\":100}}");
}

/* ---- the cases ---- */

typedef struct bench_case {
    const char *name;
    const char *backend; /* the backend's config object */
    const char *model;
    const char *response; /* the provider's whole answer */
    void (*stream)(aigw__buf *b);
} bench_case;

#define OPENAI_RESPONSE                                                                            \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-"      \
    "mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi "       \
    "there! How can I help you today? I can explain concepts, answer questions, help with "        \
    "writing or editing, brainstorm ideas, assist with coding or math, plan tasks, and more.\"},"  \
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":300,\"completion_tokens\":40,"      \
    "\"total_tokens\":340,\"prompt_tokens_details\":{\"cached_tokens\":0}}}"

#define ANTHROPIC_RESPONSE                                                                         \
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\","          \
    "\"content\":[{\"type\":\"text\",\"text\":\"Hi there! How can I help you today? I can "        \
    "explain concepts, answer questions, help with writing or editing, brainstorm ideas, assist "  \
    "with coding or math, plan tasks, and more.\"}],\"stop_reason\":\"end_turn\","                 \
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":300,\"output_tokens\":40,"                 \
    "\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0}}"

static const bench_case cases[] = {
    {"openai",
     "{\"schema\":\"openai\",\"base_url\":\"https://api.openai.com/v1\",\"api_key\":\"k\"}",
     "gpt-4o-mini", OPENAI_RESPONSE, openai_stream},
    {"azure-openai",
     "{\"schema\":\"azure-openai\",\"base_url\":\"https://r.openai.azure.com\",\"api_key\":\"k\"}",
     "gpt-4o", OPENAI_RESPONSE, openai_stream},
    {"anthropic",
     "{\"schema\":\"anthropic\",\"base_url\":\"https://api.anthropic.com/v1\",\"api_key\":\"k\"}",
     "claude-sonnet-4-5", ANTHROPIC_RESPONSE, anthropic_stream},
    {"gcp-anthropic",
     "{\"schema\":\"gcp-anthropic\",\"project\":\"p\",\"location\":\"us-east5\",\"api_key\":\"t\"}",
     "claude-sonnet-4-5@20250929", ANTHROPIC_RESPONSE, anthropic_stream},
    {"gemini",
     "{\"schema\":\"gemini\",\"base_url\":\"https://generativelanguage.googleapis.com/v1beta\","
     "\"api_key\":\"k\"}",
     "gemini-2.0-flash",
     "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi there! How can I help you today? "
     "I can explain concepts, answer questions, help with writing or editing, brainstorm ideas, "
     "assist with coding or math, plan tasks, and more.\"}],\"role\":\"model\"},\"finishReason\":"
     "\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":300,"
     "\"candidatesTokenCount\":40,\"totalTokenCount\":340},\"modelVersion\":\"gemini-2.0-flash\"}",
     gemini_stream},
    {"gcp-vertex",
     "{\"schema\":\"gcp-vertex\",\"project\":\"p\",\"location\":\"us-central1\",\"api_key\":\"t\"}",
     "gemini-2.0-flash",
     "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi there! How can I help you today? "
     "I can explain concepts, answer questions, help with writing or editing, brainstorm ideas, "
     "assist with coding or math, plan tasks, and more.\"}],\"role\":\"model\"},\"finishReason\":"
     "\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":300,"
     "\"candidatesTokenCount\":40,\"totalTokenCount\":340},\"modelVersion\":\"gemini-2.0-flash\"}",
     gemini_stream},
    {"aws-bedrock", "{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\"}",
     "anthropic.claude-3-5-sonnet-20240620-v1:0",
     "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"Hi there! How can "
     "I help you today? I can explain concepts, answer questions, help with writing or editing, "
     "brainstorm ideas, assist with coding or math, plan tasks, and more.\"}]}},\"stopReason\":"
     "\"end_turn\",\"usage\":{\"inputTokens\":300,\"outputTokens\":40,\"totalTokens\":340},"
     "\"metrics\":{\"latencyMs\":100}}",
     bedrock_stream},
};

static char *make_request(const char *model) {
    char prompt[1025];
    for (int i = 0; i < 1024; i++)
        prompt[i] = "lorem ipsum dolor sit amet "[i % 27];
    prompt[1024] = '\0';
    char *req = malloc(4096);
    snprintf(req, 4096,
             "{\"model\":\"b/%s\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
             "terse.\"},{\"role\":\"user\",\"content\":\"%s\"}],\"temperature\":0.2,"
             "\"max_completion_tokens\":256,\"user\":\"bench\"}",
             model, prompt);
    return req;
}

static int one_call(aigw_client *client, const char *request_json, const char *response) {
    json_object *request = NULL;
    aigw__call call = {.op = AIGW__OP_CHAT};
    aigw__upstream_request up = {0};
    aigw__buf out = AIGW__BUF_INIT;
    int rc = 1;
    if (aigw__json_parse(request_json, strlen(request_json), "request", AIGW_EBADREQUEST, &request,
                         NULL))
        goto out;
    call.request = request;
    if (aigw__route_direct(client, aigw__json_get_string(request, "model"), &call.backend,
                           &call.model, NULL) ||
        call.backend->adapter->build(&call, &up, NULL) ||
        aigw__credential_apply(&call.backend->credential, call.backend, &up, NULL) ||
        call.backend->adapter->parse(&call, response, strlen(response), &out, NULL))
        goto out;
    rc = 0;
out:
    aigw__buf_free(&out);
    aigw__upstream_request_free(&up);
    json_object_put(request);
    return rc;
}

static int drop_chunk(const char *json, size_t len, void *user) {
    (void)json;
    *(size_t *)user += len;
    return 0;
}

static int stream_once(const aigw__backend *b, json_object *req, const aigw__buf *s) {
    aigw__call call = {.op = AIGW__OP_CHAT_STREAM, .request = req, .backend = b, .model = "m"};
    size_t forwarded = 0;
    aigw__chunk_sink sink = {drop_chunk, &forwarded};
    void *state = NULL;
    const aigw__adapter *a = b->adapter;
    if (a->stream_open(&call, sink, &state, NULL))
        return 1;
    int rc = 0;
    for (size_t off = 0; off < s->len && !rc; off += 4096)
        rc = a->stream_feed(state, s->data + off, s->len - off < 4096 ? s->len - off : 4096,
                            NULL) != AIGW_OK;
    if (!rc)
        rc = a->stream_finish(state, NULL) != AIGW_OK;
    a->stream_free(state);
    return rc || forwarded == 0;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 100000;
    const char *only = argc > 2 ? argv[2] : NULL;
    /* Static AWS keys for SigV4 (never sent anywhere). */
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    printf("%-14s %12s %14s\n", "adapter", "ns/call", "stream MB/s");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bench_case *bc = &cases[i];
        if (only && strcmp(only, bc->name) != 0)
            continue;
        if (!aigw__adapter_find(bc->name)) {
            printf("%-14s %12s %14s\n", bc->name, "-", "- (not built)");
            continue;
        }
        char config[512];
        snprintf(config, sizeof config, "{\"env_defaults\":false,\"backends\":{\"b\":%s}}",
                 bc->backend);
        aigw_client *client = NULL;
        aigw_error *err = NULL;
        if (aigw_client_new_from_string(&client, config, &err)) {
            fprintf(stderr, "%s: %s\n", bc->name, aigw_error_message(err));
            return 1;
        }
        char *request = make_request(bc->model);
        for (long n = 0; n < calls / 10 + 1; n++)
            if (one_call(client, request, bc->response)) {
                fprintf(stderr, "%s: the call failed\n", bc->name);
                return 1;
            }
        double t0 = now_s();
        for (long n = 0; n < calls; n++)
            one_call(client, request, bc->response);
        double ns = (now_s() - t0) / (double)calls * 1e9;

        aigw__buf s = AIGW__BUF_INIT;
        bc->stream(&s);
        json_object *sreq = json_tokener_parse("{\"model\":\"m\"}");
        int rounds = calls >= 10000 ? 300 : 5;
        double t1 = now_s();
        for (int r = 0; r < rounds; r++)
            if (stream_once(&client->backends[0], sreq, &s)) {
                fprintf(stderr, "%s: the stream failed\n", bc->name);
                return 1;
            }
        double mbs = (double)s.len * rounds / (now_s() - t1) / 1e6;
        printf("%-14s %12.0f %14.1f\n", bc->name, ns, mbs);
        json_object_put(sreq);
        aigw__buf_free(&s);
        free(request);
        aigw_client_free(client);
    }
    return 0;
}
