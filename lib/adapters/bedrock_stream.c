/* SPDX-License-Identifier: Apache-2.0 */
/* Streams are AWS event-stream messages (wire/eventstream.h): messageStart,
 * contentBlockStart (toolUse), contentBlockDelta (text, toolUse.input,
 * reasoningContent.text), contentBlockStop, messageStop and metadata (usage);
 * exceptions (throttlingException → AIGW_ERATELIMIT, validationException →
 * AIGW_EBADREQUEST, others → AIGW_EUPSTREAM) end the stream with the
 * payload's message. A stream without messageStop and metadata is
 * AIGW_ETRUNCATED. */
#include "adapters/bedrock_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/eventstream.h"

#define MAX_BLOCKS 65536 /* stream content blocks we track */

/* ---- streaming ---- */

typedef struct bedrock_stream {
    aigw__chunk_writer w; /* id "chatcmpl-bedrock-N", model call->model */
    aigw__es_decoder es;
    aigw_status status;
    int stopped;        /* messageStop arrived */
    int metadata;       /* metadata arrived */
    int *tool_of_block; /* contentBlockIndex → OpenAI tool ordinal, -1 if none */
    size_t nblocks;
    int ntools;
} bedrock_stream;

/* The slot for contentBlockIndex in root, or -1 after setting an error. */
static long block_slot(bedrock_stream *s, json_object *root, const char *data, size_t len,
                       aigw_status *st) {
    json_object *iv = aigw__json_get(root, "contentBlockIndex");
    if (!iv || !json_object_is_type(iv, json_type_int) || json_object_get_int64(iv) < 0 ||
        json_object_get_int64(iv) >= MAX_BLOCKS) {
        *st = aigw__chunks_bad(&s->w, data, len,
                               "content block event without a valid contentBlockIndex");
        return -1;
    }
    size_t idx = (size_t)json_object_get_int64(iv);
    if (idx >= s->nblocks) {
        size_t n = idx + 8;
        int *t = aigw__reallocarray(s->tool_of_block, n, sizeof *t);
        if (!t) {
            *st = oom(s->w.err);
            return -1;
        }
        for (size_t i = s->nblocks; i < n; i++)
            t[i] = -1;
        s->tool_of_block = t;
        s->nblocks = n;
    }
    return (long)idx;
}

static aigw_status handle_event(bedrock_stream *s, const char *type, json_object *root,
                                const char *data, size_t len) {
    aigw_status st = AIGW_OK;
    if (strcmp(type, "messageStart") == 0) {
        if (s->w.role_sent)
            return AIGW_OK;
        return aigw__chunks_emit_text(&s->w, "content", "");
    }
    if (strcmp(type, "contentBlockStart") == 0) {
        long idx = block_slot(s, root, data, len, &st);
        if (idx < 0)
            return st;
        json_object *tu = aigw__json_get(aigw__json_get(root, "start"), "toolUse");
        if (!tu)
            return AIGW_OK;
        const char *id = aigw__json_get_string(tu, "toolUseId");
        const char *name = aigw__json_get_string(tu, "name");
        if (!id || !name)
            return aigw__chunks_bad(&s->w, data, len, "toolUse start without toolUseId or name");
        if (s->tool_of_block[idx] < 0)
            s->tool_of_block[idx] = s->ntools++;
        return aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], id, name, "");
    }
    if (strcmp(type, "contentBlockDelta") == 0) {
        long idx = block_slot(s, root, data, len, &st);
        if (idx < 0)
            return st;
        json_object *d = aigw__json_get(root, "delta"), *v;
        const char *t;
        if ((t = aigw__json_get_string(d, "text")) != NULL)
            return *t ? aigw__chunks_emit_text(&s->w, "content", t) : AIGW_OK;
        if ((v = aigw__json_get(d, "toolUse")) != NULL) {
            const char *in = aigw__json_get_string(v, "input");
            if (!in || s->tool_of_block[idx] < 0)
                return aigw__chunks_bad(&s->w, data, len, "toolUse delta outside a toolUse block");
            return *in ? aigw__chunks_emit_tool(&s->w, s->tool_of_block[idx], NULL, NULL, in)
                       : AIGW_OK;
        }
        if ((v = aigw__json_get(d, "reasoningContent")) != NULL) {
            t = aigw__json_get_string(v, "text");
            return t && *t ? aigw__chunks_emit_text(&s->w, "reasoning_content", t) : AIGW_OK;
        }
        return AIGW_OK; /* signatures, citations, new kinds */
    }
    if (strcmp(type, "messageStop") == 0) {
        s->stopped = 1;
        const char *fr = aigw__bedrock_finish_reason(aigw__json_get_string(root, "stopReason"));
        json_object *d = json_object_new_object();
        if (!d)
            return oom(s->w.err);
        return aigw__chunks_emit(&s->w, 0, d, fr ? fr : "stop");
    }
    if (strcmp(type, "metadata") == 0) {
        s->metadata = 1;
        aigw__bedrock_read_usage(aigw__json_get(root, "usage"), &s->w.call->usage);
        return s->w.call->caller_wants_usage ? aigw__chunks_emit_usage(&s->w) : AIGW_OK;
    }
    return AIGW_OK; /* contentBlockStop and unknown events */
}

/* The string value of header `name`, or NULL. */
static const aigw__es_header *find_header(const aigw__es_message *m, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < m->n_headers; i++)
        if (m->headers[i].name_len == n && memcmp(m->headers[i].name, name, n) == 0 &&
            m->headers[i].type == AIGW__ES_STRING)
            return &m->headers[i];
    return NULL;
}

static aigw_status handle_exception(bedrock_stream *s, const aigw__es_message *m) {
    const char *et = m->exception_type;
    aigw_status es = AIGW_EUPSTREAM;
    if (strcmp(et, "throttlingException") == 0)
        es = AIGW_ERATELIMIT;
    else if (strcmp(et, "validationException") == 0)
        es = AIGW_EBADREQUEST;
    char msg[1024];
    aigw__bedrock_aws_message(m->payload, m->payload_len, msg, sizeof msg);
    return aigw__error_set_upstream(s->w.err, es, s->w.call->backend->name, 200, m->payload,
                                    m->payload_len > 4096 ? 4096 : m->payload_len,
                                    "backend \"%s\": %s in stream: %s", s->w.call->backend->name,
                                    *et ? et : "exception", msg[0] ? msg : "(no message)");
}

static int on_message(const aigw__es_message *m, void *user) {
    bedrock_stream *s = user;
    if (s->stopped && s->metadata)
        return 0; /* nothing counts after the end */
    if (strcmp(m->message_type, "exception") == 0) {
        s->status = handle_exception(s, m);
        return 1;
    }
    if (strcmp(m->message_type, "error") == 0) {
        const aigw__es_header *code = find_header(m, ":error-code");
        const aigw__es_header *text = find_header(m, ":error-message");
        s->status = aigw__error_set_upstream(
            s->w.err, AIGW_EUPSTREAM, s->w.call->backend->name, 200, m->payload,
            m->payload_len > 4096 ? 4096 : m->payload_len,
            "backend \"%s\": error in stream: %.*s: %.*s", s->w.call->backend->name,
            code ? (int)(code->value_len > 128 ? 128 : code->value_len) : 7,
            code ? code->value : "unknown",
            text ? (int)(text->value_len > 512 ? 512 : text->value_len) : 12,
            text ? text->value : "(no message)");
        return 1;
    }
    if (strcmp(m->message_type, "event") != 0)
        return 0; /* unknown message types */
    json_object *root = NULL;
    s->status = aigw__chunks_parse_event(&s->w, m->payload, m->payload_len,
                                         "event payload is not a JSON object", &root);
    if (!s->status) {
        /* Tolerate the payload wrapped in its event name. */
        json_object *inner = aigw__json_get(root, m->event_type);
        if (inner && json_object_is_type(inner, json_type_object))
            s->status = handle_event(s, m->event_type, inner, m->payload, m->payload_len);
        else
            s->status = handle_event(s, m->event_type, root, m->payload, m->payload_len);
    }
    json_object_put(root);
    return s->status != AIGW_OK;
}

aigw_status aigw__bedrock_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                      aigw_error **err) {
    bedrock_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    aigw__chunks_init(&s->w, call, sink, 1, AIGW__USAGE_SUM);
    char id[64];
    aigw__bedrock_next_id(id, sizeof id);
    if (!(s->w.id = aigw__strdup(id))) {
        aigw__free(s);
        return oom(err);
    }
    aigw__es_init(&s->es, on_message, s);
    *state = s;
    return AIGW_OK;
}

aigw_status aigw__bedrock_stream_feed(void *state, const char *bytes, size_t len,
                                      aigw_error **err) {
    bedrock_stream *s = state;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: already failed: %s",
                               aigw_strerror(s->status));
    s->w.err = err;
    aigw_status st = aigw__es_feed(&s->es, bytes, len);
    s->w.err = NULL;
    if (s->status)
        return s->status;
    if (st == AIGW_EBADRESPONSE)
        return aigw__error_set_upstream(err, st, s->w.call->backend->name, 200, NULL, 0,
                                        "backend \"%s\": stream: bad event-stream framing: %s",
                                        s->w.call->backend->name,
                                        s->es.detail[0] ? s->es.detail : "(no detail)");
    if (st)
        return aigw__error_set(err, st, "stream: %s", aigw_strerror(st));
    return AIGW_OK;
}

aigw_status aigw__bedrock_stream_finish(void *state, aigw_error **err) {
    bedrock_stream *s = state;
    if (s->status)
        return aigw__error_set(err, s->status, "stream: already failed: %s",
                               aigw_strerror(s->status));
    int pending = aigw__es_finish(&s->es);
    if (!s->stopped || !s->metadata)
        return aigw__error_set_upstream(
            err, AIGW_ETRUNCATED, s->w.call->backend->name, 200, NULL, 0,
            "backend \"%s\": stream ended without %s%s", s->w.call->backend->name,
            !s->stopped ? "messageStop" : "metadata", pending ? " (inside a message)" : "");
    return AIGW_OK;
}

void aigw__bedrock_stream_free(void *state) {
    bedrock_stream *s = state;
    if (!s)
        return;
    aigw__es_free(&s->es);
    aigw__chunks_free(&s->w);
    aigw__free(s->tool_of_block);
    aigw__free(s);
}
