/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the aws-bedrock adapter's parsers of upstream bytes:
 * the whole-response parser (Converse chat, Titan and Cohere embeddings),
 * the error-body parser, and the ConverseStream decoder (event-stream
 * framing + per-event translation) fed in pieces. Any input must give
 * AIGW_OK or a clean failure status with an error, never a crash or a
 * leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"

static int count_chunk(const char *json, size_t len, void *user) {
    (void)json;
    (void)len;
    return ++*(int *)user > 1000; /* also exercises a stop from the sink */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 7;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    aigw__backend backend = {.name = "fuzz", .adapter = &aigw__adapter_bedrock};
    json_object *request = json_object_new_object();
    if (mode == 2)
        json_object_object_add(request, "encoding_format", json_object_new_string("base64"));
    aigw__call call = {.backend = &backend, .model = "m", .request = request};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw_error *err = NULL;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st;

    if (mode <= 2) {
        call.op = mode == 0 ? AIGW__OP_CHAT : AIGW__OP_EMBED;
        call.model = mode == 0 ? "anthropic.claude-3-5-sonnet-20240620-v1:0"
                     : len % 2 ? "amazon.titan-embed-text-v2:0"
                               : "cohere.embed-english-v3";
        st = aigw__adapter_bedrock.parse(&call, body, len, &out, &err);
    } else if (mode == 3) {
        st = aigw__adapter_bedrock.error(&call, 400 + (long)(len % 200), body, len, &err);
        if (st == AIGW_OK)
            abort();
    } else {
        call.op = AIGW__OP_CHAT_STREAM;
        call.caller_wants_usage = mode == 5;
        int chunks = 0;
        aigw__chunk_sink sink = {count_chunk, &chunks};
        void *state = NULL;
        st = aigw__adapter_bedrock.stream_open(&call, sink, &state, &err);
        /* Feed in pieces whose sizes come from the input itself (mode 6:
         * all at once). */
        size_t off = 0, step = mode == 6 ? len : 1 + (len ? (unsigned char)body[0] % 64 : 0);
        while (!st && off < len) {
            size_t n = len - off < step ? len - off : step;
            st = aigw__adapter_bedrock.stream_feed(state, body + off, n, &err);
            off += n;
        }
        if (!st)
            st = aigw__adapter_bedrock.stream_finish(state, &err);
        aigw__adapter_bedrock.stream_free(state);
    }
    /* A failure always carries an error; success never does. */
    if ((st != AIGW_OK) != (err != NULL))
        abort();
    if (err && (!aigw_error_message(err) || !aigw_error_json(err)))
        abort();
    aigw_error_free(err);
    aigw__buf_free(&out);
    json_object_put(request);
    return 0;
}
