/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the provider simulator's Amazon Bedrock Runtime API (/model/...):
 * Converse, ConverseStream (event-stream frames decoded here, CRCs checked),
 * InvokeModel embeddings, faults, and the SigV4 check (against AWS's
 * published test vector, curl's signer and a Python stdlib signer). */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "http_client.h"
#include "sim.h"

/* The simulator's SigV4 code itself, for the published test vector. */
#include "upstream/sim_sigv4.c"

#define KEY_ID "AKIDSIMTEST"
#define SECRET "sim/secret+KEY"
#define CLAUDE "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"

static aigw_test_sim sim;

static void start_plain(void) {
    cr_assert_eq(aigw_test_sim_start(&sim, NULL), 0, "simulator did not start");
}

static void start_aws(void) {
    const char *args[] = {"--aws-access-key-id", KEY_ID, "--aws-secret-access-key", SECRET, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void stop(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(sim_bedrock, .init = start_plain, .fini = stop, .timeout = 60);
TestSuite(sim_bedrock_sigv4, .init = start_aws, .fini = stop, .timeout = 60);

/* ---- HTTP helpers ---- */

/* POST BODY to PATH with HEADERS (NULL-terminated, may be NULL); SIGV4
 * "KEY:SECRET" signs with curl's own signer, or NULL. */
static resp post(const char *path, const char *const *headers, const char *body,
                 const char *sigv4) {
    return aigw_test_http_sigv4(sim.port, "POST", path, headers, body,
                                sigv4 ? "aws:amz:us-east-1:bedrock" : NULL, sigv4);
}

static resp get_path(const char *path) {
    return aigw_test_http(sim.port, "GET", path, NULL, NULL);
}

/* Asserts a Bedrock error: STATUS, {"message"}, x-amzn-ErrorType TYPE:... */
static void assert_aws_error(const resp *r, long status, const char *type, const char *message) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    json_object *o = parse(r->body);
    cr_assert_not_null(str_at(o, "message"), "%s", r->body);
    if (message)
        cr_assert(strstr(str_at(o, "message"), message), "%s", r->body);
    char want[128];
    snprintf(want, sizeof(want), "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/", type);
    cr_assert(strstr(r->headers, want), "headers: %s", r->headers);
    json_object_put(o);
}

/* ---- event-stream decoding ---- */

typedef struct frame {
    char event_type[64], message_type[32], exception_type[64];
    char *payload;
    int crc_ok;
} frame;

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes BUF into frames (at most MAX); returns how many, or -1 when the
 * framing (lengths, prelude CRC) is broken. Leftover bytes → -2. */
static int decode_frames(const char *buf, size_t len, frame *out, int max) {
    const unsigned char *p = (const unsigned char *)buf;
    size_t off = 0;
    int n = 0;
    while (off < len && n < max) {
        if (len - off < 16)
            return -2;
        uint32_t total = be32(p + off), hlen = be32(p + off + 4);
        if (total < 16 || total > len - off || hlen > total - 16)
            return -2;
        if ((uint32_t)crc32(0, p + off, 8) != be32(p + off + 8))
            return -1;
        frame *f = &out[n++];
        memset(f, 0, sizeof(*f));
        f->crc_ok = (uint32_t)crc32(0, p + off, total - 4) == be32(p + off + total - 4);
        size_t h = off + 12, hend = off + 12 + hlen;
        while (h < hend) {
            size_t nl = p[h];
            char name[256];
            memcpy(name, p + h + 1, nl);
            name[nl] = '\0';
            h += 1 + nl;
            cr_assert_eq(p[h], 7, "header %s is not a string", name);
            size_t vl = (size_t)p[h + 1] << 8 | p[h + 2];
            char *dst = NULL;
            if (strcmp(name, ":event-type") == 0)
                dst = f->event_type;
            else if (strcmp(name, ":message-type") == 0)
                dst = f->message_type;
            else if (strcmp(name, ":exception-type") == 0)
                dst = f->exception_type;
            else
                cr_assert(strcmp(name, ":content-type") == 0 &&
                          memcmp(p + h + 3, "application/json", vl) == 0);
            if (dst)
                snprintf(dst, dst == f->message_type ? sizeof(f->message_type) : 64, "%.*s",
                         (int)vl, (const char *)p + h + 3);
            h += 3 + vl;
        }
        size_t plen = total - 16 - hlen;
        f->payload = strndup(buf + hend, plen);
        off += total;
    }
    return off == len ? n : -2;
}

static void frames_free(frame *f, int n) {
    for (int i = 0; i < n; i++)
        free(f[i].payload);
}

static const char *const converse_body =
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hello there\"}]},"
    "{\"role\":\"assistant\",\"content\":[{\"text\":\"hi\"}]},"
    "{\"role\":\"user\",\"content\":[{\"text\":\"tell me a story\"}]}],"
    "\"system\":[{\"text\":\"be brief\"}]}";

/* ---- converse ---- */

Test(sim_bedrock, converse_text) {
    resp r = post(CLAUDE "/converse", NULL, converse_body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "output.message.role"), "assistant");
    cr_assert_str_eq(str_at(o, "output.message.content.0.text"), "echo: tell me a story");
    cr_assert_str_eq(str_at(o, "stopReason"), "end_turn");
    /* 2 + 1 + 4 message words + 2 system words */
    cr_assert_eq(int_at(o, "usage.inputTokens"), 9);
    cr_assert_eq(int_at(o, "usage.outputTokens"), 5);
    cr_assert_eq(int_at(o, "usage.totalTokens"), 14);
    cr_assert_eq(int_at(o, "metrics.latencyMs"), 1);
    json_object_put(o);
    cr_assert(strstr(r.headers, "x-amzn-RequestId: "));
    resp_free(&r);

    /* /sim/last-request shows the request, path as sent */
    r = get_path("/sim/last-request");
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "path"), CLAUDE "/converse");
    cr_assert_str_eq(str_at(o, "body"), converse_body);
    json_object_put(o);
    resp_free(&r);
}

Test(sim_bedrock, converse_tool_use) {
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"weather in Paris\"}]}],"
        "\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\",\"inputSchema\":"
        "{\"json\":{\"type\":\"object\"}}}},{\"toolSpec\":{\"name\":\"other\"}}]}}";
    resp r = post(CLAUDE "/converse", NULL, body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stopReason"), "tool_use");
    cr_assert_str_eq(str_at(o, "output.message.content.0.toolUse.toolUseId"), "tooluse_sim1");
    cr_assert_str_eq(str_at(o, "output.message.content.0.toolUse.name"), "get_weather");
    cr_assert_str_eq(str_at(o, "output.message.content.0.toolUse.input.text"), "weather in Paris");
    json_object_put(o);
    resp_free(&r);

    /* with a toolResult in the last user message: a text answer */
    const char *body2 =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"weather in Paris\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"toolUse\":{\"toolUseId\":\"tooluse_sim1\","
        "\"name\":\"get_weather\",\"input\":{}}}]},"
        "{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":\"tooluse_sim1\","
        "\"content\":[{\"text\":\"sunny and warm\"}]}},{\"text\":\"thanks\"}]}],"
        "\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\"}}]}}";
    r = post(CLAUDE "/converse", NULL, body2, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stopReason"), "end_turn");
    cr_assert_str_eq(str_at(o, "output.message.content.0.text"), "echo: thanks");
    cr_assert_eq(int_at(o, "usage.inputTokens"), 3 + 3 + 1);
    json_object_put(o);
    resp_free(&r);
}

Test(sim_bedrock, converse_stop_sequence_and_max_tokens) {
    resp r = post(CLAUDE "/converse", NULL,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"one two STOP "
                  "three\"}]}],\"inferenceConfig\":{\"stopSequences\":[\"three\",\"STOP\"]}}",
                  NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stopReason"), "stop_sequence");
    cr_assert_str_eq(str_at(o, "output.message.content.0.text"), "echo: one two ");
    cr_assert_eq(int_at(o, "usage.outputTokens"), 3);
    json_object_put(o);
    resp_free(&r);

    r = post(CLAUDE "/converse", NULL,
             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"one two three four\"}]}],"
             "\"inferenceConfig\":{\"maxTokens\":3}}",
             NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stopReason"), "max_tokens");
    cr_assert_str_eq(str_at(o, "output.message.content.0.text"), "echo: one two");
    cr_assert_eq(int_at(o, "usage.outputTokens"), 3);
    json_object_put(o);
    resp_free(&r);

    /* maxTokens large enough: untouched */
    r = post(CLAUDE "/converse", NULL,
             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"one two\"}]}],"
             "\"inferenceConfig\":{\"maxTokens\":3}}",
             NULL);
    o = parse(r.body);
    cr_assert_str_eq(str_at(o, "stopReason"), "end_turn");
    json_object_put(o);
    resp_free(&r);
}

Test(sim_bedrock, converse_validation) {
    static const char *const bad[] = {
        "{}",
        "{\"messages\":[]}",
        "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"text\":\"x\"}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]},"
        "{\"role\":\"user\",\"content\":[{\"text\":\"y\"}]}]}",
        "{\"messages\":[{\"role\":\"system\",\"content\":[{\"text\":\"x\"}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a string\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":3}]}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}],"
        "\"inferenceConfig\":{\"maxTokens\":0}}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        resp r = post(CLAUDE "/converse", NULL, bad[i], NULL);
        assert_aws_error(&r, 400, "ValidationException", NULL);
        resp_free(&r);
    }
    resp r = post(CLAUDE "/converse", NULL, "{\"messages\":[]}", NULL);
    cr_assert(strstr(r.headers, "x-amzn-ErrorType: ValidationException:http://internal.amazon."
                                "com/coral/com.amazon.bedrock/"));
    resp_free(&r);
    /* unknown path under /model/ and wrong method */
    r = post("/model/x/unknown", NULL, "{}", NULL);
    cr_assert_eq(r.status, 404);
    resp_free(&r);
}

/* ---- converse-stream ---- */

static const char *payload_str(const frame *f, const char *path, json_object **keep) {
    *keep = parse(f->payload);
    return str_at(*keep, path);
}

Test(sim_bedrock, converse_stream_text) {
    resp r = post(CLAUDE "/converse-stream", NULL, converse_body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "Content-Type: application/vnd.amazon.eventstream"), "%s",
              r.headers);
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    /* messageStart, 5 deltas ("echo: ", "tell ", "me ", "a ", "story"), stop, stop, metadata */
    cr_assert_eq(n, 9, "%d frames", n);
    static const char *const order[] = {
        "messageStart",      "contentBlockDelta", "contentBlockDelta",
        "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop",  "messageStop",       "metadata"};
    char text[256] = "";
    for (int i = 0; i < n; i++) {
        cr_assert(f[i].crc_ok, "frame %d CRC", i);
        cr_assert_str_eq(f[i].message_type, "event");
        cr_assert_str_eq(f[i].event_type, order[i]);
        json_object *o;
        if (i >= 1 && i <= 5) {
            strcat(text, payload_str(&f[i], "delta.text", &o));
            cr_assert_eq(int_at(o, "contentBlockIndex"), 0);
            json_object_put(o);
        }
    }
    cr_assert_str_eq(text, "echo: tell me a story");
    json_object *o;
    cr_assert_str_eq(payload_str(&f[0], "role", &o), "assistant");
    json_object_put(o);
    cr_assert_str_eq(payload_str(&f[7], "stopReason", &o), "end_turn");
    json_object_put(o);
    o = parse(f[8].payload);
    cr_assert_eq(int_at(o, "usage.inputTokens"), 9);
    cr_assert_eq(int_at(o, "usage.outputTokens"), 5);
    cr_assert_eq(int_at(o, "usage.totalTokens"), 14);
    cr_assert_eq(int_at(o, "metrics.latencyMs"), 1);
    json_object_put(o);
    frames_free(f, n);
    resp_free(&r);
}

Test(sim_bedrock, converse_stream_tool_use) {
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"weather in Paris\"}]}],"
        "\"toolConfig\":{\"tools\":[{\"toolSpec\":{\"name\":\"get_weather\"}}]}}";
    resp r = post(CLAUDE "/converse-stream", NULL, body, NULL);
    cr_assert_eq(r.status, 200);
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    cr_assert_gt(n, 5);
    cr_assert_str_eq(f[0].event_type, "messageStart");
    cr_assert_str_eq(f[1].event_type, "contentBlockStart");
    json_object *o;
    cr_assert_str_eq(payload_str(&f[1], "start.toolUse.name", &o), "get_weather");
    cr_assert_str_eq(str_at(o, "start.toolUse.toolUseId"), "tooluse_sim1");
    json_object_put(o);
    char input[256] = "";
    int i = 2;
    for (; i < n && strcmp(f[i].event_type, "contentBlockDelta") == 0; i++) {
        strcat(input, payload_str(&f[i], "delta.toolUse.input", &o));
        json_object_put(o);
    }
    cr_assert_str_eq(input, "{\"text\":\"weather in Paris\"}");
    cr_assert_eq(n, i + 3);
    cr_assert_str_eq(f[i].event_type, "contentBlockStop");
    cr_assert_str_eq(payload_str(&f[i + 1], "stopReason", &o), "tool_use");
    json_object_put(o);
    cr_assert_str_eq(f[i + 2].event_type, "metadata");
    for (int k = 0; k < n; k++)
        cr_assert(f[k].crc_ok);
    frames_free(f, n);
    resp_free(&r);
}

/* ---- embeddings ---- */

static double norm_of(json_object *arr) {
    double s = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        double v = json_object_get_double(json_object_array_get_idx(arr, i));
        s += v * v;
    }
    return s;
}

Test(sim_bedrock, embeddings_titan) {
    resp r = post("/model/amazon.titan-embed-text-v2:0/invoke", NULL,
                  "{\"inputText\":\"hello embedding world\",\"dimensions\":256}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    json_object *e = at(o, "embedding");
    cr_assert_eq(json_object_array_length(e), 256);
    cr_assert_float_eq(norm_of(e), 1.0, 1e-4);
    cr_assert_eq(int_at(o, "inputTextTokenCount"), 3);
    cr_assert(strstr(r.headers, "X-Amzn-Bedrock-Input-Token-Count: 3"));
    double first = json_object_get_double(json_object_array_get_idx(e, 0));
    json_object_put(o);
    resp_free(&r);

    /* deterministic, percent-encoded model id */
    r = post("/model/amazon.titan-embed-text-v2%3A0/invoke", NULL,
             "{\"inputText\":\"hello embedding world\",\"dimensions\":256}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_float_eq(json_object_get_double(at(o, "embedding.0")), first, 1e-9);
    json_object_put(o);
    resp_free(&r);

    /* default 1024; normalize false: not unit length */
    r = post("/model/amazon.titan-embed-text-v2:0/invoke", NULL,
             "{\"inputText\":\"hello embedding world\",\"normalize\":false}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    o = parse(r.body);
    cr_assert_eq(json_object_array_length(at(o, "embedding")), 1024);
    cr_assert_gt(norm_of(at(o, "embedding")), 1.5);
    json_object_put(o);
    resp_free(&r);

    r = post("/model/amazon.titan-embed-text-v2:0/invoke", NULL, "{\"dimensions\":256}", NULL);
    assert_aws_error(&r, 400, "ValidationException", "inputText");
    resp_free(&r);
    r = post("/model/amazon.unknown-model-v9/invoke", NULL, "{\"inputText\":\"x\"}", NULL);
    assert_aws_error(&r, 400, "ValidationException", "model identifier is invalid");
    resp_free(&r);
}

Test(sim_bedrock, embeddings_cohere) {
    resp r =
        post("/model/cohere.embed-english-v3/invoke", NULL,
             "{\"texts\":[\"first text\",\"second\"],\"input_type\":\"search_document\"}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "response_type"), "embeddings_floats");
    cr_assert_not_null(str_at(o, "id"));
    cr_assert_str_eq(str_at(o, "texts.1"), "second");
    json_object *e = at(o, "embeddings");
    cr_assert_eq(json_object_array_length(e), 2);
    cr_assert_eq(json_object_array_length(json_object_array_get_idx(e, 0)), 1024);
    cr_assert_float_eq(norm_of(json_object_array_get_idx(e, 1)), 1.0, 1e-4);
    cr_assert_neq(json_object_get_double(at(o, "embeddings.0.0")),
                  json_object_get_double(at(o, "embeddings.1.0")));
    json_object_put(o);
    resp_free(&r);

    r = post("/model/cohere.embed-multilingual-v3/invoke", NULL,
             "{\"texts\":[\"first text\"],\"input_type\":\"search_query\"}", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = post("/model/cohere.embed-english-v3/invoke", NULL, "{\"texts\":[\"x\"]}", NULL);
    assert_aws_error(&r, 400, "ValidationException", "input_type");
    resp_free(&r);
}

/* ---- faults ---- */

static resp faulted(const char *path, const char *spec) {
    char h[128];
    snprintf(h, sizeof(h), "x-sim-fault: %s", spec);
    const char *hs[] = {h, NULL};
    return post(path, hs, converse_body, NULL);
}

Test(sim_bedrock, fault_status) {
    static const struct {
        int status;
        const char *type, *message;
    } cases[] = {
        {429, "ThrottlingException", "Too many requests, please wait before trying again."},
        {400, "ValidationException", NULL},
        {403, "AccessDeniedException", NULL},
        {500, "InternalServerException", NULL},
        {503, "ServiceUnavailableException", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "status=%d,retry_after=3", cases[i].status);
        resp r = faulted(CLAUDE "/converse", spec);
        assert_aws_error(&r, cases[i].status, cases[i].type, cases[i].message);
        cr_assert(strstr(r.headers, "Retry-After: 3"));
        resp_free(&r);
    }
    /* from the body, on the stream and the embeddings routes too */
    resp r = post(CLAUDE "/converse-stream", NULL,
                  "{\"sim_fault\":\"status=429\",\"messages\":[{\"role\":\"user\",\"content\":"
                  "[{\"text\":\"x\"}]}]}",
                  NULL);
    assert_aws_error(&r, 429, "ThrottlingException", NULL);
    resp_free(&r);
    r = faulted("/model/amazon.titan-embed-text-v2:0/invoke", "status=503");
    assert_aws_error(&r, 503, "ServiceUnavailableException", NULL);
    resp_free(&r);
    r = faulted(CLAUDE "/converse", "bogus=1");
    assert_aws_error(&r, 400, "ValidationException", NULL);
    resp_free(&r);
}

Test(sim_bedrock, fault_malformed) {
    resp r = faulted(CLAUDE "/converse", "malformed=1");
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_tokener_parse(r.body));
    resp_free(&r);

    r = faulted(CLAUDE "/converse-stream", "malformed=1");
    cr_assert_eq(r.status, 200);
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    cr_assert_eq(n, 9);
    cr_assert_not(f[0].crc_ok, "the first message's CRC should be wrong");
    for (int i = 1; i < n; i++)
        cr_assert(f[i].crc_ok);
    frames_free(f, n);
    resp_free(&r);
}

Test(sim_bedrock, fault_error_event) {
    resp r = faulted(CLAUDE "/converse-stream", "error_event=1");
    cr_assert_eq(r.status, 200);
    cr_assert_neq(r.rc, CURLE_OK, "the stream should end without its terminator");
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(f[0].event_type, "messageStart");
    cr_assert_str_eq(f[1].event_type, "contentBlockDelta");
    cr_assert_str_eq(f[2].message_type, "exception");
    cr_assert_str_eq(f[2].exception_type, "modelStreamErrorException");
    cr_assert(f[2].crc_ok);
    json_object *o;
    cr_assert_str_eq(payload_str(&f[2], "message", &o), "simulated mid-stream failure");
    json_object_put(o);
    frames_free(f, n);
    resp_free(&r);
}

Test(sim_bedrock, fault_drop_done_and_cut_after) {
    resp r = faulted(CLAUDE "/converse-stream", "drop_done=1");
    cr_assert_eq(r.rc, CURLE_OK);
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(f[6].event_type, "contentBlockStop");
    frames_free(f, n);
    resp_free(&r);

    r = faulted(CLAUDE "/converse-stream", "cut_after=2");
    cr_assert_neq(r.rc, CURLE_OK);
    n = decode_frames(r.body, r.len, f, 32);
    cr_assert_eq(n, 2);
    frames_free(f, n);
    resp_free(&r);

    /* a body: half of it, then close */
    r = faulted(CLAUDE "/converse", "cut_after=0");
    cr_assert_neq(r.rc, CURLE_OK);
    resp_free(&r);
}

Test(sim_bedrock, fault_delivery) {
    resp r = faulted(CLAUDE "/converse", "close=1");
    cr_assert_neq(r.rc, CURLE_OK);
    resp_free(&r);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = faulted(CLAUDE "/converse", "latency_ms=300");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(r.status, 200);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert_geq(ms, 280.0);
    resp_free(&r);

    /* trickled stream still decodes */
    r = faulted(CLAUDE "/converse-stream", "trickle_ms=1,trickle_bytes=64");
    cr_assert_eq(r.rc, CURLE_OK);
    frame f[32];
    int n = decode_frames(r.body, r.len, f, 32);
    cr_assert_eq(n, 9);
    frames_free(f, n);
    resp_free(&r);
}

/* ---- SigV4 ---- */

/* AWS's get-vanilla test vector, through the simulator's own code. */
Test(sigv4_vector, get_vanilla) {
    sim_header hs[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    char sig[65], empty[65];
    sim_sigv4_sha256_hex("", 0, empty);
    cr_assert_str_eq(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char *canon = NULL;
    cr_assert_eq(sim_sigv4_signature("GET", "/", NULL, hs, 2, "host;x-amz-date", empty,
                                     "20150830T123600Z", "us-east-1", "service",
                                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sig, &canon),
                 0);
    cr_assert_str_eq(canon, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
                            "\nhost;x-amz-date\n"
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(canon);
    cr_assert_str_eq(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

    /* and the whole verification, with the clock at the vector's time */
    char auth[] = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                  "aws4_request, SignedHeaders=host;x-amz-date, "
                  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    sim_header rh[] = {{"host", "example.amazonaws.com"},
                       {"x-amz-date", "20150830T123600Z"},
                       {"authorization", auth}};
    sim_request req;
    memset(&req, 0, sizeof(req));
    strcpy(req.method, "GET");
    req.path = "/";
    req.headers = rh;
    req.nheaders = 3;
    struct tm tm = {.tm_year = 115, .tm_mon = 7, .tm_mday = 30, .tm_hour = 12, .tm_min = 38};
    time_t now = timegm(&tm);
    char why[512];
    cr_assert_eq(sim_sigv4_verify_at(&req, "AKIDEXAMPLE",
                                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                                     "service", now, why, sizeof(why)),
                 0, "%s", why);
    cr_assert_eq(sim_sigv4_verify_at(&req, "AKIDEXAMPLE", "wrong", "us-east-1", "service", now, why,
                                     sizeof(why)),
                 SIM_SIGV4_BAD_SIGNATURE);
    cr_assert_eq(sim_sigv4_verify_at(&req, "AKIDEXAMPLE",
                                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                                     "service", now + 600, why, sizeof(why)),
                 SIM_SIGV4_EXPIRED);
    cr_assert(strstr(why, "Signature expired: 20150830T123600Z"), "%s", why);

    /* non-S3 services encode the path again; S3 does not */
    cr_assert_eq(sim_sigv4_signature("POST", "/model/a%3A0/converse", "b=2&a=x%20y", hs, 2,
                                     "host;x-amz-date", empty, "20150830T123600Z", "us-east-1",
                                     "bedrock", "k", sig, &canon),
                 0);
    cr_assert(strstr(canon, "\n/model/a%253A0/converse\na=x%20y&b=2\n"), "%s", canon);
    free(canon);
}

static const char *const py_signer =
    "import hashlib,hmac,sys\n"
    "key,secret,host,path,body,date=sys.argv[1:7]\n"
    "H=lambda b:hashlib.sha256(b).hexdigest()\n"
    "M=lambda k,m:hmac.new(k,m.encode(),hashlib.sha256).digest()\n"
    "uri=''.join(c if c.isalnum() or c in '-_.~/' else '%%%02X'%ord(c) for c in path)\n"
    "ph=H(body.encode())\n"
    "sh='content-type;host;x-amz-content-sha256;x-amz-date'\n"
    "cr='\\n'.join(['POST',uri,'','content-type:application/json','host:'+host,"
    "'x-amz-content-sha256:'+ph,'x-amz-date:'+date,'',sh,ph])\n"
    "scope=date[:8]+'/us-east-1/bedrock/aws4_request'\n"
    "sts='AWS4-HMAC-SHA256\\n'+date+'\\n'+scope+'\\n'+H(cr.encode())\n"
    "k=M(M(M(M(('AWS4'+secret).encode(),date[:8]),'us-east-1'),'bedrock'),'aws4_request')\n"
    "sig=hmac.new(k,sts.encode(),hashlib.sha256).hexdigest()\n"
    "print('Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
    "Signature=%s'%(key,scope,sh,sig))\n"
    "print('X-Amz-Date: '+date)\n"
    "print('X-Amz-Content-Sha256: '+ph)\n";

/* Signs with the Python stdlib signer above; fills the three header lines. */
static void py_sign(const char *key, const char *secret, const char *path, const char *body,
                    time_t when, char lines[3][256]) {
    char date[17], host[64];
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(host, sizeof(host), "127.0.0.1:%d", sim.port);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", "-c", py_signer, key, secret, host, path, body, date,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(fgets(lines[i], 256, in), "python signer failed");
        lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    fclose(in);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const char *const small_body =
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"signed hello\"}]}]}";

Test(sim_bedrock_sigv4, curl_signed_passes) {
    resp r = post("/model/cohere.embed-english-v3/converse", NULL, small_body, KEY_ID ":" SECRET);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_object *o = parse(r.body);
    cr_assert_str_eq(str_at(o, "output.message.content.0.text"), "echo: signed hello");
    json_object_put(o);
    resp_free(&r);

    /* the signature is visible in /sim/last-request */
    r = get_path("/sim/last-request");
    o = parse(r.body);
    const char *auth = str_at(o, "headers.authorization");
    cr_assert_not_null(auth);
    cr_assert(strstr(auth, "AWS4-HMAC-SHA256 Credential=" KEY_ID "/"), "%s", auth);
    cr_assert(strstr(auth, "/us-east-1/bedrock/aws4_request"), "%s", auth);
    cr_assert_not_null(str_at(o, "headers.x-amz-date"));
    json_object_put(o);
    resp_free(&r);

    /* streaming and embeddings too */
    r = post("/model/cohere.embed-english-v3/converse-stream", NULL, small_body, KEY_ID ":" SECRET);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
    r = post("/model/cohere.embed-english-v3/invoke", NULL,
             "{\"texts\":[\"a\"],\"input_type\":\"search_query\"}", KEY_ID ":" SECRET);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);
}

Test(sim_bedrock_sigv4, python_signed_encoded_path_passes) {
    char lines[3][256];
    py_sign(KEY_ID, SECRET, CLAUDE "/converse", small_body, time(NULL), lines);
    const char *hs[] = {lines[0], lines[1], lines[2], NULL};
    resp r = post(CLAUDE "/converse", hs, small_body, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    resp_free(&r);

    /* a body that is not the signed one */
    r = post(CLAUDE "/converse", hs,
             "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"tampered\"}]}]}", NULL);
    assert_aws_error(&r, 403, "InvalidSignatureException", NULL);
    resp_free(&r);
}

Test(sim_bedrock_sigv4, wrong_secret) {
    resp r = post(CLAUDE "/converse", NULL, small_body, KEY_ID ":not-the-secret");
    assert_aws_error(&r, 403, "InvalidSignatureException",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method.");
    resp_free(&r);
}

Test(sim_bedrock_sigv4, unknown_key_id) {
    resp r = post(CLAUDE "/converse", NULL, small_body, "AKIDOTHER:" SECRET);
    assert_aws_error(&r, 403, "UnrecognizedClientException",
                     "The security token included in the request is invalid.");
    resp_free(&r);
}

Test(sim_bedrock_sigv4, expired_date) {
    char lines[3][256];
    py_sign(KEY_ID, SECRET, CLAUDE "/converse", small_body, time(NULL) - 3600, lines);
    const char *hs[] = {lines[0], lines[1], lines[2], NULL};
    resp r = post(CLAUDE "/converse", hs, small_body, NULL);
    assert_aws_error(&r, 403, "InvalidSignatureException", "Signature expired");
    resp_free(&r);

    py_sign(KEY_ID, SECRET, CLAUDE "/converse", small_body, time(NULL) + 3600, lines);
    r = post(CLAUDE "/converse", hs, small_body, NULL);
    assert_aws_error(&r, 403, "InvalidSignatureException", "Signature not yet current");
    resp_free(&r);
}

Test(sim_bedrock_sigv4, unsigned_request) {
    resp r = post(CLAUDE "/converse", NULL, small_body, NULL);
    assert_aws_error(&r, 403, "MissingAuthenticationTokenException", NULL);
    resp_free(&r);
    const char *hs[] = {"Authorization: AWS4-HMAC-SHA256 garbage", NULL};
    r = post(CLAUDE "/converse", hs, small_body, NULL);
    assert_aws_error(&r, 403, "IncompleteSignatureException", NULL);
    resp_free(&r);
}
