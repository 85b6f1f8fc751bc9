/* SPDX-License-Identifier: Apache-2.0 */
/* Streams (alt=sse): each data event is a GenerateContentResponse, turned
 * into one chat.completion.chunk per candidate (the first per choice with
 * delta.role). There is no [DONE]: the stream must have carried a
 * finishReason (or a prompt block) before its body ends, else
 * AIGW_ETRUNCATED; the usage-only chunk (choices []) comes at the end when
 * the caller asked for it. An event carrying "error" is AIGW_EUPSTREAM. */
#include "adapters/gemini_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/sse.h"

#define MAX_CANDIDATES 1024 /* candidate indexes a stream may use */

/* ---- streaming ---- */

typedef struct gemini_stream {
    aigw__chunk_writer w; /* id and model from the first event naming them */
    aigw__sse_parser sse;
    aigw_status status;
    int done;             /* a finishReason (or a prompt block) arrived */
    int *ntools;          /* per candidate index: tool calls so far */
    unsigned char *roled; /* per candidate index: delta.role sent */
    size_t ncand;
} gemini_stream;

static aigw_status grow(gemini_stream *s, size_t idx) {
    if (idx < s->ncand)
        return AIGW_OK;
    size_t n = idx + 4;
    int *t = aigw__reallocarray(s->ntools, n, sizeof *t);
    if (!t)
        return oom(s->w.err);
    s->ntools = t;
    unsigned char *r = aigw__reallocarray(s->roled, n, 1);
    if (!r)
        return oom(s->w.err);
    s->roled = r;
    for (size_t i = s->ncand; i < n; i++)
        t[i] = 0, r[i] = 0;
    s->ncand = n;
    return AIGW_OK;
}

static aigw_status stream_candidate(gemini_stream *s, json_object *cand, size_t i, const char *data,
                                    size_t len) {
    json_object *iv = aigw__json_get(cand, "index");
    long long idx = (long long)i;
    if (iv) {
        if (!json_object_is_type(iv, json_type_int))
            return aigw__chunks_bad(&s->w, data, len, "candidate index is not an integer");
        idx = json_object_get_int64(iv);
    }
    if (idx < 0 || idx >= MAX_CANDIDATES)
        return aigw__chunks_bad(&s->w, data, len, "candidate index out of range");
    aigw_status st = grow(s, (size_t)idx);
    if (st)
        return st;
    cand_view v;
    json_object *delta = NULL;
    if (aigw__gemini_read_candidate(cand, &s->ntools[idx], 1, &v) ||
        !(delta = json_object_new_object())) {
        aigw__gemini_cand_view_free(&v);
        return oom(s->w.err);
    }
    size_t ntc = json_object_array_length(v.tool_calls);
    const char *fr = aigw__gemini_finish_reason(v.gemini_fr, s->ntools[idx] > 0);
    int fail = 0;
    if (!s->roled[idx])
        fail = aigw__json_put(delta, "role", json_object_new_string("assistant"));
    if (!fail && v.has_text)
        fail =
            aigw__json_put(delta, "content", json_object_new_string(aigw__gemini_bufstr(&v.text)));
    if (!fail && v.has_thought)
        fail = aigw__json_put(delta, "reasoning_content",
                              json_object_new_string(aigw__gemini_bufstr(&v.thought)));
    if (!fail && ntc) {
        fail = aigw__json_put(delta, "tool_calls", v.tool_calls);
        v.tool_calls = NULL;
    }
    int has = v.has_text || v.has_thought || ntc || fr;
    aigw__gemini_cand_view_free(&v);
    if (fail) {
        json_object_put(delta);
        return oom(s->w.err);
    }
    if (!has) {
        json_object_put(delta);
        return AIGW_OK;
    }
    if (fr)
        s->done = 1;
    s->roled[idx] = 1;
    return aigw__chunks_emit(&s->w, (int)idx, delta, fr);
}

static aigw_status handle(gemini_stream *s, json_object *root, const char *data, size_t len) {
    json_object *e = aigw__json_get(root, "error");
    if (e) {
        const char *msg = json_object_is_type(e, json_type_string)
                              ? json_object_get_string(e)
                              : aigw__json_get_string(e, "message");
        return aigw__error_set_upstream(s->w.err, AIGW_EUPSTREAM, s->w.call->backend->name, 200,
                                        data, len, "backend \"%s\": error in stream: %s",
                                        s->w.call->backend->name, msg ? msg : "(no message)");
    }
    aigw_status st;
    if ((st =
             aigw__chunks_set_str(&s->w, &s->w.id, aigw__json_get_string(root, "responseId"), 0)) ||
        (st = aigw__chunks_set_str(&s->w, &s->w.model, aigw__json_get_string(root, "modelVersion"),
                                   0)))
        return st;
    aigw__gemini_read_usage(aigw__json_get(root, "usageMetadata"), &s->w.call->usage);
    json_object *cands = aigw__json_get(root, "candidates");
    size_t n = is_array(cands) ? json_object_array_length(cands) : 0;
    for (size_t i = 0; i < n; i++)
        if ((st = stream_candidate(s, json_object_array_get_idx(cands, i), i, data, len)))
            return st;
    if (n == 0 && aigw__json_get_string(aigw__json_get(root, "promptFeedback"), "blockReason")) {
        if ((st = grow(s, 0)))
            return st;
        json_object *delta = json_object_new_object();
        if (!delta ||
            (!s->roled[0] && aigw__json_put(delta, "role", json_object_new_string("assistant"))) ||
            aigw__json_put(delta, "content", json_object_new_string(""))) {
            json_object_put(delta);
            return oom(s->w.err);
        }
        s->roled[0] = 1;
        s->done = 1;
        return aigw__chunks_emit(&s->w, 0, delta, "content_filter");
    }
    return AIGW_OK;
}

static int on_event(const aigw__sse_event *ev, void *user) {
    gemini_stream *s = user;
    json_object *root = NULL;
    s->status = aigw__chunks_parse_event(&s->w, ev->data, ev->data_len,
                                         "event data is not a JSON object", &root);
    if (!s->status)
        s->status = handle(s, root, ev->data, ev->data_len);
    json_object_put(root);
    return s->status != AIGW_OK;
}

aigw_status aigw__gemini_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                     aigw_error **err) {
    gemini_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    aigw__chunks_init(&s->w, call, sink, 0, AIGW__USAGE_REPORTED);
    aigw__sse_init(&s->sse, on_event, s);
    *state = s;
    return AIGW_OK;
}

aigw_status aigw__gemini_stream_feed(void *state, const char *bytes, size_t len, aigw_error **err) {
    gemini_stream *s = state;
    s->w.err = err;
    return aigw__sse_feed_checked(&s->sse, &s->status, s->w.call, bytes, len, err);
}

aigw_status aigw__gemini_stream_finish(void *state, aigw_error **err) {
    gemini_stream *s = state;
    s->w.err = err;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: %s", aigw_strerror(s->status));
    int pending = aigw__sse_finish(&s->sse);
    if (!s->done)
        return aigw__sse_truncated(s->w.call, "a finishReason", pending, err);
    return s->w.call->caller_wants_usage ? aigw__chunks_emit_usage(&s->w) : AIGW_OK;
}

void aigw__gemini_stream_free(void *state) {
    gemini_stream *s = state;
    if (!s)
        return;
    aigw__sse_free(&s->sse);
    aigw__chunks_free(&s->w);
    aigw__free(s->ntools);
    aigw__free(s->roled);
    aigw__free(s);
}
