/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the anthropic adapter's parsers of upstream bytes:
 * the whole-message parser, the error-body parser, and the stream decoder
 * (SSE + Anthropic events → OpenAI chunks) fed in pieces. Any input must
 * give AIGW_OK or a clean failure status with an error, never a crash or a
 * leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/anthropic.h"

static int count_chunk(const char *json, size_t len, void *user) {
    if (!json || strlen(json) != len)
        abort();
    return ++*(int *)user > 1000; /* also exercises a stop from the sink */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 4;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    const aigw__adapter *a = &aigw__adapter_anthropic;
    aigw__backend backend = {.name = (char *)"fuzz", .adapter = a};
    aigw__call call = {.backend = &backend, .model = "m"};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw_error *err = NULL;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st;

    if (mode == 0) {
        call.op = AIGW__OP_CHAT;
        st = a->parse(&call, body, len, &out, &err);
    } else if (mode == 1) {
        call.op = AIGW__OP_CHAT;
        st = a->error(&call, 400 + (long)(len % 200), body, len, &err);
        if (st == AIGW_OK)
            abort();
    } else {
        call.op = AIGW__OP_CHAT_STREAM;
        call.caller_wants_usage = mode == 3;
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
    return 0;
}
