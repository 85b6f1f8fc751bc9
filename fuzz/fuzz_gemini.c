/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the gemini and gcp-vertex adapters' parsers of
 * upstream bytes: whole responses (chat, embeddings, model lists), error
 * bodies, and the stream decoder (SSE + GenerateContentResponse chunks →
 * OpenAI chunks) fed in pieces. Any input must give AIGW_OK or a clean
 * failure status with an error, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/gemini.h"

static int count_chunk(const char *json, size_t len, void *user) {
    if (!json || strlen(json) != len)
        abort();
    return ++*(int *)user > 1000; /* also exercises a stop from the sink */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 8;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    const aigw__adapter *a = (data[0] & 8) ? &aigw__adapter_vertex : &aigw__adapter_gemini;
    aigw__backend backend = {.name = (char *)"fuzz", .adapter = a};
    json_object *req = json_tokener_parse("{\"input\":\"x\",\"encoding_format\":\"base64\"}");
    aigw__call call = {.backend = &backend, .model = "m", .request = req};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw_error *err = NULL;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st;

    if (mode == 0 || mode == 4 || mode == 5) {
        call.op = mode == 0 ? AIGW__OP_CHAT : mode == 4 ? AIGW__OP_EMBED : AIGW__OP_MODELS;
        st = a->parse(&call, body, len, &out, &err);
    } else if (mode == 1) {
        call.op = AIGW__OP_CHAT;
        st = a->error(&call, 400 + (long)(len % 200), body, len, &err);
        if (st == AIGW_OK)
            abort();
    } else {
        call.op = AIGW__OP_CHAT_STREAM;
        call.caller_wants_usage = mode == 3 || mode == 7;
        int chunks = 0;
        aigw__chunk_sink sink = {count_chunk, &chunks};
        void *state = NULL;
        st = a->stream_open(&call, sink, &state, &err);
        /* Feed in pieces whose sizes come from the input itself. */
        size_t off = 0, step = 1 + (len ? (unsigned char)body[0] % 64 : 0);
        while (!st && off < len) {
            size_t n = len - off < step ? len - off : step;
            st = a->stream_feed(state, body + off, n, &err);
            off += n;
        }
        if (!st)
            st = a->stream_finish(state, &err);
        a->stream_free(state);
    }
    /* A failure always carries an error; success never does. */
    if ((st != AIGW_OK) != (err != NULL))
        abort();
    if (err && (!aigw_error_message(err) || !aigw_error_json(err)))
        abort();
    aigw_error_free(err);
    aigw__buf_free(&out);
    json_object_put(req);
    return 0;
}
