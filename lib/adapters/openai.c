/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI schema: api.openai.com and every OpenAI-compatible server
 * (vLLM, KServe, Ollama, Groq, Mistral, DeepSeek, Together, ...). Requests
 * pass through untouched but for the model name and the streaming flags;
 * responses and stream chunks are checked and passed back byte for byte. */
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/openai_chunks.h"
#include "adapters/openai_shape.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"
#include "wire/sse.h"

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

/* Rewrites the caller's request for the upstream: the model without its
 * provider prefix, and for streams "stream": true with usage requested. */
static aigw_status prepare_body(aigw__call *call, aigw_error **err) {
    json_object *req = call->request;
    /* call->model points into the old "model" value, which the add frees:
     * repoint it at the new value. */
    json_object *model = json_object_new_string(call->model);
    if (!model || json_object_object_add(req, "model", model))
        return oom(err);
    call->model = json_object_get_string(model);
    if (call->op == AIGW__OP_CHAT_STREAM) {
        json_object *opts;
        if (!json_object_object_get_ex(req, "stream_options", &opts) ||
            !json_object_is_type(opts, json_type_object)) {
            opts = json_object_new_object();
            if (!opts || json_object_object_add(req, "stream_options", opts))
                return oom(err);
        }
        if (json_object_object_add(req, "stream", json_object_new_boolean(1)) ||
            json_object_object_add(opts, "include_usage", json_object_new_boolean(1)))
            return oom(err);
    } else if (call->op == AIGW__OP_CHAT) {
        /* aigw_chat answers whole even when the request said "stream". */
        json_object_object_del(req, "stream");
        json_object_object_del(req, "stream_options");
    }
    return AIGW_OK;
}

aigw_status aigw__openai_build_at(aigw__call *call, const char *url_prefix, const char *url_suffix,
                                  aigw__upstream_request *out, aigw_error **err) {
    const char *path = call->op == AIGW__OP_EMBED    ? "/embeddings"
                       : call->op == AIGW__OP_MODELS ? "/models"
                                                     : "/chat/completions";
    if (aigw__buf_puts(&out->url, url_prefix) || aigw__buf_puts(&out->url, path) ||
        aigw__buf_puts(&out->url, url_suffix))
        return oom(err);
    const char *accept =
        call->op == AIGW__OP_CHAT_STREAM ? "Accept: text/event-stream" : "Accept: application/json";
    struct curl_slist *h = curl_slist_append(NULL, accept);
    if (!h)
        return oom(err);
    out->headers = h;
    if (call->op == AIGW__OP_MODELS) {
        out->method = "GET";
        return AIGW_OK;
    }
    out->method = "POST";
    if (!(h = curl_slist_append(out->headers, "Content-Type: application/json")))
        return oom(err);
    out->headers = h;
    aigw_status st = prepare_body(call, err);
    if (st)
        return st;
    size_t len;
    const char *text = json_object_to_json_string_length(call->request, AIGW__JSON_FLAGS, &len);
    if (!text || aigw__buf_append(&out->body, text, len))
        return oom(err);
    return AIGW_OK;
}

static aigw_status openai_build(aigw__call *call, aigw__upstream_request *out, aigw_error **err) {
    return aigw__openai_build_at(call, call->backend->base_url, "", out, err);
}

static aigw_status openai_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                aigw_error **err) {
    return aigw__openai_parse_response(call, body, len, out, err);
}

static aigw_status openai_error(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err) {
    return aigw__openai_error(call->backend->name, http_status, body, len, err);
}

/* ---- streaming ---- */

typedef struct openai_stream {
    aigw__call *call;
    aigw__chunk_sink sink;
    aigw__sse_parser sse;
    aigw_error **err; /* set for the duration of each feed */
    aigw_status status;
    int done; /* "[DONE]" arrived */
} openai_stream;

static int on_event(const aigw__sse_event *ev, void *user) {
    openai_stream *s = user;
    if (s->done)
        return 0; /* nothing counts after [DONE] */
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        s->done = 1;
        return 0;
    }
    int forward = 1;
    s->status = aigw__openai_check_chunk(s->call, ev->data, ev->data_len, &forward, s->err);
    if (s->status)
        return 1;
    if (forward && s->sink.on_chunk(ev->data, ev->data_len, s->sink.user)) {
        s->status = aigw__error_set(s->err, AIGW_ESTOPPED, "stream stopped by the callback");
        return 1;
    }
    return 0;
}

static aigw_status openai_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                      aigw_error **err) {
    openai_stream *s = aigw__calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    s->call = call;
    s->sink = sink;
    aigw__sse_init(&s->sse, on_event, s);
    *state = s;
    return AIGW_OK;
}

static aigw_status openai_stream_feed(void *state, const char *bytes, size_t len,
                                      aigw_error **err) {
    openai_stream *s = state;
    s->err = err;
    return aigw__sse_feed_checked(&s->sse, &s->status, s->call, bytes, len, err);
}

static aigw_status openai_stream_finish(void *state, aigw_error **err) {
    openai_stream *s = state;
    int pending = aigw__sse_finish(&s->sse);
    if (!s->done)
        return aigw__sse_truncated(s->call, "[DONE]", pending, err);
    return AIGW_OK;
}

static void openai_stream_free(void *state) {
    openai_stream *s = state;
    aigw__sse_free(&s->sse);
    aigw__free(s);
}

const aigw__adapter aigw__adapter_openai = {
    .schema = "openai",
    .key_header = AIGW__KEY_BEARER,
    .build = openai_build,
    .parse = openai_parse,
    .error = openai_error,
    .stream_open = openai_stream_open,
    .stream_feed = openai_stream_feed,
    .stream_finish = openai_stream_finish,
    .stream_free = openai_stream_free,
};
