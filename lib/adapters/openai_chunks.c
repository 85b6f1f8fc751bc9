/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI-shaped output side shared by the translating adapters. */
#include "adapters/openai_chunks.h"

#include <time.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

#define NN(x) ((x) > 0 ? (x) : 0)

json_object *aigw__openai_usage_json(const aigw__usage *u, aigw__usage_style style) {
    json_object *o = json_object_new_object(), *pd = json_object_new_object();
    json_object *cd = style == AIGW__USAGE_REPORTED ? json_object_new_object() : NULL;
    long long in = NN(u->input_tokens), out = NN(u->output_tokens);
    long long total =
        style == AIGW__USAGE_REPORTED ? NN(u->total_tokens) : aigw__tokens_add(in, out);
    if (!o || !pd || (style == AIGW__USAGE_REPORTED && !cd) ||
        aigw__json_put(o, "prompt_tokens", json_object_new_int64(in)) ||
        aigw__json_put(o, "completion_tokens", json_object_new_int64(out)) ||
        aigw__json_put(o, "total_tokens", json_object_new_int64(total)) ||
        aigw__json_put(pd, "cached_tokens", json_object_new_int64(NN(u->cached_input_tokens))) ||
        (cd &&
         aigw__json_put(cd, "reasoning_tokens", json_object_new_int64(NN(u->reasoning_tokens))))) {
        json_object_put(o);
        json_object_put(pd);
        json_object_put(cd);
        return NULL;
    }
    if (aigw__json_put(o, "prompt_tokens_details", pd)) {
        json_object_put(cd);
        json_object_put(o);
        return NULL;
    }
    if (cd && aigw__json_put(o, "completion_tokens_details", cd)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

#undef NN

aigw_status aigw__bad_response(aigw__call *call, const char *body, size_t len, const char *why,
                               aigw_error **err) {
    return aigw__error_set_upstream(err, AIGW_EBADRESPONSE, call->backend->name, 200, body,
                                    len > 4096 ? 4096 : len, "backend \"%s\": %s",
                                    call->backend->name, why);
}

const char *aigw__body_snippet(const char *body, size_t len, char *buf, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len && n < size - 1; i++)
        buf[n++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : ' ';
    buf[n] = '\0';
    return n ? buf : "(empty body)";
}

void aigw__chunks_init(aigw__chunk_writer *w, aigw__call *call, aigw__chunk_sink sink, int add_role,
                       aigw__usage_style usage_style) {
    w->call = call;
    w->sink = sink;
    w->err = NULL;
    w->id = NULL;
    w->model = NULL;
    w->created = (long long)time(NULL);
    w->add_role = add_role;
    w->role_sent = 0;
    w->usage_style = usage_style;
}

void aigw__chunks_free(aigw__chunk_writer *w) {
    aigw__free(w->id);
    aigw__free(w->model);
    w->id = w->model = NULL;
}

aigw_status aigw__chunks_set_str(aigw__chunk_writer *w, char **dst, const char *v, int replace) {
    if (!v || (*dst && !replace))
        return AIGW_OK;
    char *c = aigw__strdup(v);
    if (!c)
        return oom(w->err);
    aigw__free(*dst);
    *dst = c;
    return AIGW_OK;
}

aigw_status aigw__chunks_emit(aigw__chunk_writer *w, int index, json_object *delta,
                              const char *fr) {
    json_object *c = json_object_new_object(), *choices = json_object_new_array();
    int usage_chunk = delta == NULL;
    int fail =
        !c || !choices || aigw__json_put(c, "id", json_object_new_string(w->id ? w->id : "")) ||
        aigw__json_put(c, "object", json_object_new_string("chat.completion.chunk")) ||
        aigw__json_put(c, "created", json_object_new_int64(w->created)) ||
        aigw__json_put(c, "model", json_object_new_string(w->model ? w->model : w->call->model));
    if (!fail && delta) {
        json_object *ch = json_object_new_object();
        if (w->add_role && !w->role_sent &&
            aigw__json_put(delta, "role", json_object_new_string("assistant")))
            fail = 1;
        w->role_sent = 1;
        if (fail || !ch || aigw__json_put(ch, "index", json_object_new_int(index))) {
            json_object_put(ch);
            fail = 1;
        } else {
            fail = aigw__json_put(ch, "delta", delta);
            delta = NULL;
            fail = fail ||
                   json_object_object_add(ch, "finish_reason",
                                          fr ? json_object_new_string(fr) : NULL) ||
                   aigw__json_push(choices, ch);
        }
    }
    if (!fail) {
        fail = aigw__json_put(c, "choices", choices);
        choices = NULL;
    }
    if (!fail && usage_chunk)
        fail = aigw__json_put(c, "usage", aigw__openai_usage_json(&w->call->usage, w->usage_style));
    json_object_put(delta);
    json_object_put(choices);
    size_t n = 0;
    const char *text = fail ? NULL : json_object_to_json_string_length(c, AIGW__JSON_FLAGS, &n);
    aigw_status st = AIGW_OK;
    if (!text)
        st = oom(w->err);
    else if (w->sink.on_chunk(text, n, w->sink.user))
        st = aigw__error_set(w->err, AIGW_ESTOPPED, "stream stopped by the callback");
    json_object_put(c);
    return st;
}

aigw_status aigw__chunks_emit_text(aigw__chunk_writer *w, const char *key, const char *text) {
    json_object *d = json_object_new_object();
    if (!d || aigw__json_put(d, key, json_object_new_string(text))) {
        json_object_put(d);
        return oom(w->err);
    }
    return aigw__chunks_emit(w, 0, d, NULL);
}

aigw_status aigw__chunks_emit_tool(aigw__chunk_writer *w, int ordinal, const char *id,
                                   const char *name, const char *args) {
    json_object *d = json_object_new_object(), *arr = json_object_new_array(),
                *tc = json_object_new_object(), *fn = json_object_new_object();
    int fail = !d || !arr || !tc || !fn ||
               aigw__json_put(tc, "index", json_object_new_int(ordinal)) ||
               (id && (aigw__json_put(tc, "id", json_object_new_string(id)) ||
                       aigw__json_put(tc, "type", json_object_new_string("function")))) ||
               (name && aigw__json_put(fn, "name", json_object_new_string(name))) ||
               aigw__json_put(fn, "arguments", json_object_new_string(args));
    if (!fail) {
        fail = aigw__json_put(tc, "function", fn);
        fn = NULL;
        fail = fail || aigw__json_push(arr, tc);
        tc = NULL;
        fail = fail || aigw__json_put(d, "tool_calls", arr);
        arr = NULL;
    }
    json_object_put(fn);
    json_object_put(tc);
    json_object_put(arr);
    if (fail) {
        json_object_put(d);
        return oom(w->err);
    }
    return aigw__chunks_emit(w, 0, d, NULL);
}

aigw_status aigw__chunks_emit_usage(aigw__chunk_writer *w) {
    return aigw__chunks_emit(w, 0, NULL, NULL);
}

aigw_status aigw__chunks_bad(aigw__chunk_writer *w, const char *data, size_t len, const char *why) {
    return aigw__error_set_upstream(w->err, AIGW_EBADRESPONSE, w->call->backend->name, 200, data,
                                    len > 4096 ? 4096 : len, "backend \"%s\": stream: %s",
                                    w->call->backend->name, why);
}

aigw_status aigw__chunks_parse_event(aigw__chunk_writer *w, const char *data, size_t len,
                                     const char *why, json_object **root) {
    if (aigw__json_parse(data, len, "stream event", AIGW_EBADRESPONSE, root, NULL))
        return aigw__chunks_bad(w, data, len, why);
    if (!json_object_is_type(*root, json_type_object)) {
        json_object_put(*root);
        *root = NULL;
        return aigw__chunks_bad(w, data, len, why);
    }
    return AIGW_OK;
}

aigw_status aigw__sse_feed_checked(aigw__sse_parser *sse, const aigw_status *status,
                                   const aigw__call *call, const char *bytes, size_t len,
                                   aigw_error **err) {
    aigw_status st = aigw__sse_feed(sse, bytes, len);
    if (*status)
        return *status;
    if (st == AIGW_EBADRESPONSE)
        return aigw__error_set_upstream(err, st, call->backend->name, 200, NULL, 0,
                                        "backend \"%s\": stream event larger than %u bytes",
                                        call->backend->name, AIGW__SSE_MAX_EVENT_BYTES);
    if (st)
        return aigw__error_set(err, st, "stream: %s", aigw_strerror(st));
    return AIGW_OK;
}

aigw_status aigw__sse_truncated(const aigw__call *call, const char *missing, int pending,
                                aigw_error **err) {
    return aigw__error_set_upstream(err, AIGW_ETRUNCATED, call->backend->name, 200, NULL, 0,
                                    "backend \"%s\": stream ended without %s%s",
                                    call->backend->name, missing,
                                    pending ? " (inside an event)" : "");
}
