/* SPDX-License-Identifier: Apache-2.0 */
/* Anthropic streams (Messages API server-sent events) decoded into OpenAI
 * chat.completion.chunks; the mapping is the one anthropic_response.c
 * documents for whole answers. */
#include "adapters/anthropic_internal.h"

#include <stdio.h>
#include <string.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/sse.h"

#define MAX_BLOCKS 65536 /* stream content blocks we track */

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

/* ---- streaming ---- */

typedef struct anthropic_stream {
    aigw__chunk_writer w; /* id and model from message_start */
    aigw__sse_parser sse;
    aigw_status status;
    int done;           /* message_stop arrived */
    int *tool_of_block; /* Anthropic block index → OpenAI tool ordinal, -1 if none */
    size_t nblocks;
    int ntools;
} anthropic_stream;

static aigw_status handle(anthropic_stream *s, json_object *root, const char *data, size_t len) {
    const char *type = aigw__json_get_string(root, "type");
    aigw_status st = AIGW_OK;
    if (!type)
        return aigw__chunks_bad(&s->w, data, len, "event without a type");
    if (strcmp(type, "ping") == 0)
        return AIGW_OK;
    if (strcmp(type, "error") == 0) {
        json_object *e = aigw__json_get(root, "error");
        const char *etype = aigw__json_get_string(e, "type");
        const char *msg = aigw__json_get_string(e, "message");
        aigw_status es =
            etype && strcmp(etype, "rate_limit_error") == 0 ? AIGW_ERATELIMIT : AIGW_EUPSTREAM;
        return aigw__error_set_upstream(s->w.err, es, s->w.call->backend->name, 200, data, len,
                                        "backend \"%s\": error in stream: %s",
                                        s->w.call->backend->name, msg ? msg : "(no message)");
    }
    if (strcmp(type, "message_start") == 0) {
        json_object *m = aigw__json_get(root, "message");
        if ((st = aigw__chunks_set_str(&s->w, &s->w.id, aigw__json_get_string(m, "id"), 1)) ||
            (st = aigw__chunks_set_str(&s->w, &s->w.model, aigw__json_get_string(m, "model"), 1)))
            return st;
        /* Input and cache tokens are final here; output_tokens is a
         * placeholder (1) until message_delta counts them. Taking it would
         * settle a stream cut before then at one output token: it stays
         * unknown instead, so the reservation's estimate is charged. */
        aigw__usage *u = &s->w.call->usage;
        long long out = u->output_tokens, total = u->total_tokens;
        aigw__anthropic_read_usage(aigw__json_get(m, "usage"), u);
        u->output_tokens = out;
        u->total_tokens = total;
        return aigw__chunks_emit_text(&s->w, "content", "");
    }
    if (strcmp(type, "content_block_start") == 0 || strcmp(type, "content_block_delta") == 0) {
        json_object *iv = aigw__json_get(root, "index");
        if (!iv || !json_object_is_type(iv, json_type_int) || json_object_get_int64(iv) < 0 ||
            json_object_get_int64(iv) >= MAX_BLOCKS)
            return aigw__chunks_bad(&s->w, data, len, "content block event without a valid index");
        size_t idx = (size_t)json_object_get_int64(iv);
        if (idx >= s->nblocks) {
            size_t n = idx + 8;
            int *t = aigw__reallocarray(s->tool_of_block, n, sizeof *t);
            if (!t)
                return oom(s->w.err);
            for (size_t i = s->nblocks; i < n; i++)
                t[i] = -1;
            s->tool_of_block = t;
            s->nblocks = n;
        }
        if (type[14] == 's') { /* content_block_start */
            json_object *b = aigw__json_get(root, "content_block");
            const char *bt = aigw__json_get_string(b, "type");
            if (!bt)
                return aigw__chunks_bad(&s->w, data, len,
                                        "content_block_start without a block type");
            if (strcmp(bt, "tool_use") == 0) {
                const char *id = aigw__json_get_string(b, "id");
                const char *name = aigw__json_get_string(b, "name");
                if (!id || !name)
                    return aigw__chunks_bad(&s->w, data, len, "tool_use block without id or name");
                s->tool_of_block[idx] = s->ntools++;
                return aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], id, name, "");
            }
            const char *t = NULL, *key = NULL;
            if (strcmp(bt, "text") == 0)
                t = aigw__json_get_string(b, "text"), key = "content";
            else if (strcmp(bt, "thinking") == 0)
                t = aigw__json_get_string(b, "thinking"), key = "reasoning_content";
            return t && *t ? aigw__chunks_emit_text(&s->w, key, t) : AIGW_OK;
        }
        json_object *d = aigw__json_get(root, "delta");
        const char *dt = aigw__json_get_string(d, "type");
        if (!dt)
            return aigw__chunks_bad(&s->w, data, len, "content_block_delta without a delta type");
        if (strcmp(dt, "text_delta") == 0 || strcmp(dt, "thinking_delta") == 0) {
            int is_text = dt[1] == 'e';
            const char *t = aigw__json_get_string(d, is_text ? "text" : "thinking");
            if (!t)
                return aigw__chunks_bad(&s->w, data, len, "delta without its text");
            return *t ? aigw__chunks_emit_text(&s->w, is_text ? "content" : "reasoning_content", t)
                      : AIGW_OK;
        }
        if (strcmp(dt, "input_json_delta") == 0) {
            const char *pj = aigw__json_get_string(d, "partial_json");
            if (!pj || s->tool_of_block[idx] < 0)
                return aigw__chunks_bad(&s->w, data, len,
                                        "input_json_delta outside a tool_use block");
            return *pj ? aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], NULL, NULL, pj)
                       : AIGW_OK;
        }
        return AIGW_OK; /* signature_delta, citations_delta, new kinds */
    }
    if (strcmp(type, "message_delta") == 0) {
        aigw__anthropic_read_usage(aigw__json_get(root, "usage"), &s->w.call->usage);
        const char *fr = aigw__anthropic_finish_reason(
            aigw__json_get_string(aigw__json_get(root, "delta"), "stop_reason"));
        if (!fr)
            return AIGW_OK;
        json_object *d = json_object_new_object();
        if (!d)
            return oom(s->w.err);
        return aigw__chunks_emit(&s->w, 0, d, fr);
    }
    if (strcmp(type, "message_stop") == 0) {
        s->done = 1;
        return s->w.call->caller_wants_usage ? aigw__chunks_emit_usage(&s->w) : AIGW_OK;
    }
    return AIGW_OK; /* content_block_stop and unknown events */
}

static int on_event(const aigw__sse_event *ev, void *user) {
    anthropic_stream *s = user;
    if (s->done)
        return 0; /* nothing counts after message_stop */
    json_object *root = NULL;
    s->status = aigw__chunks_parse_event(&s->w, ev->data, ev->data_len,
                                         "event data is not a JSON object", &root);
    if (!s->status)
        s->status = handle(s, root, ev->data, ev->data_len);
    json_object_put(root);
    return s->status != AIGW_OK;
}

aigw_status aigw__anthropic_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                        aigw_error **err) {
    anthropic_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    aigw__chunks_init(&s->w, call, sink, 1, AIGW__USAGE_SUM);
    aigw__sse_init(&s->sse, on_event, s);
    *state = s;
    return AIGW_OK;
}

aigw_status aigw__anthropic_stream_feed(void *state, const char *bytes, size_t len,
                                        aigw_error **err) {
    anthropic_stream *s = state;
    s->w.err = err;
    return aigw__sse_feed_checked(&s->sse, &s->status, s->w.call, bytes, len, err);
}

aigw_status aigw__anthropic_stream_finish(void *state, aigw_error **err) {
    anthropic_stream *s = state;
    int pending = aigw__sse_finish(&s->sse);
    if (!s->done)
        return aigw__sse_truncated(s->w.call, "message_stop", pending, err);
    return AIGW_OK;
}

void aigw__anthropic_stream_free(void *state) {
    anthropic_stream *s = state;
    if (!s)
        return;
    aigw__sse_free(&s->sse);
    aigw__chunks_free(&s->w);
    aigw__free(s->tool_of_block);
    aigw__free(s);
}
