/* The request path of the synchronous API: parse the caller's request,
 * route it, let the adapter build the upstream request, add credentials,
 * send it, and translate the answer (whole or streamed) back. */
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "aigw/chat.h"
#include "core/alloc.h"
#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "transport/transport.h"

/* Glue between the transport's body sink and the adapter's stream decoder. */
typedef struct stream_glue {
    const aigw__adapter *adapter;
    void *state;
    aigw_status status; /* first failure while decoding */
    aigw_error **err;
} stream_glue;

static int glue_feed(const char *bytes, size_t len, void *user) {
    stream_glue *g = user;
    g->status = g->adapter->stream_feed(g->state, bytes, len, g->err);
    return g->status != AIGW_OK;
}

/* Sends one call to its (remote) backend and translates the answer. */
static aigw_status call_upstream(aigw_client *client, aigw__call *call,
                                 const aigw__chunk_sink *sink, aigw__buf *out, aigw_error **err) {
    const aigw__backend *b = call->backend;
    const aigw__adapter *a = b->adapter;
    aigw__upstream_request req = {0};
    aigw__http_result res = {0};
    stream_glue glue = {a, NULL, AIGW_OK, err};
    aigw_status st;

    if ((st = aigw__call_build(call, &req, err)))
        goto out;
    if ((st = aigw__credential_apply(&b->credential, b, &req, err)))
        goto out;

    if (call->op == AIGW__OP_CHAT_STREAM) {
        if ((st = a->stream_open(call, *sink, &glue.state, err)))
            goto out;
        st = aigw__transport_perform(client->transport, b, &req, glue_feed, &glue, &res, err);
        if (glue.status)
            st = glue.status; /* the decoder's own failure, already in *err */
    } else {
        st = aigw__transport_perform(client->transport, b, &req, NULL, NULL, &res, err);
    }
    if (st)
        goto out;
    st = aigw__call_translate(call, res.status, res.body.data, res.body.len, glue.state, out, err);
out:
    if (glue.state)
        a->stream_free(glue.state);
    aigw__http_result_free(&res);
    aigw__upstream_request_free(&req);
    return st;
}

static aigw_status dispatch(aigw_client *client, aigw__call *call, const aigw__chunk_sink *sink,
                            aigw__buf *out, aigw_error **err) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    const aigw__adapter *a = call->backend->adapter;
    aigw_status st = aigw__call_check_available(call, err);
    if (!st)
        st =
            a->local ? a->local(call, sink, out, err) : call_upstream(client, call, sink, out, err);
    aigw__call_log(client, call, st, &start);
    return st;
}

static aigw_status whole_call(aigw_client *client, aigw__op op, const char *request_json,
                              char **response_json, aigw_error **err) {
    if (!client || !request_json || !response_json)
        return aigw__error_set(err, AIGW_EINVAL, "%s: NULL argument", aigw__op_name(op));
    *response_json = NULL;
    json_object *request = NULL;
    aigw__call call;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st = aigw__call_prepare(client, op, request_json, &request, &call, err);
    if (!st)
        st = dispatch(client, &call, NULL, &out, err);
    if (!st && !(*response_json = aigw__buf_detach(&out)))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__buf_free(&out);
    json_object_put(request);
    return st;
}

aigw_status aigw_chat(aigw_client *client, const char *request_json, char **response_json,
                      aigw_error **err) {
    return whole_call(client, AIGW__OP_CHAT, request_json, response_json, err);
}

aigw_status aigw_embed(aigw_client *client, const char *request_json, char **response_json,
                       aigw_error **err) {
    return whole_call(client, AIGW__OP_EMBED, request_json, response_json, err);
}

aigw_status aigw_chat_stream(aigw_client *client, const char *request_json, aigw_chunk_cb on_chunk,
                             void *user, aigw_error **err) {
    if (!client || !request_json || !on_chunk)
        return aigw__error_set(err, AIGW_EINVAL, "chat-stream: NULL argument");
    json_object *request = NULL;
    aigw__call call;
    aigw__chunk_sink sink = {on_chunk, user};
    aigw_status st =
        aigw__call_prepare(client, AIGW__OP_CHAT_STREAM, request_json, &request, &call, err);
    if (!st)
        st = dispatch(client, &call, &sink, NULL, err);
    json_object_put(request);
    return st;
}

/* Appends the "data" entries of one backend's model list to `all`. */
static aigw_status merge_models(const char *list_json, size_t len, json_object *all,
                                aigw_error **err) {
    json_object *list = NULL, *data;
    aigw_status st = aigw__json_parse(list_json, len, "models", AIGW_EINTERNAL, &list, err);
    if (st)
        return st;
    if (json_object_object_get_ex(list, "data", &data) &&
        json_object_is_type(data, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(data); i++)
            json_object_array_add(all, json_object_get(json_object_array_get_idx(data, i)));
    }
    json_object_put(list);
    return AIGW_OK;
}

aigw_status aigw_models(aigw_client *client, const char *provider, char **response_json,
                        aigw_error **err) {
    if (!client || !response_json)
        return aigw__error_set(err, AIGW_EINVAL, "models: NULL argument");
    *response_json = NULL;
    const aigw__backend *only = NULL;
    if (provider && !(only = aigw__client_find_backend(client, provider, strlen(provider))))
        return aigw__error_set(err, AIGW_ENOBACKEND, "unknown provider \"%s\"", provider);

    aigw_status st = AIGW_OK;
    json_object *root = json_object_new_object(), *all = json_object_new_array();
    aigw__buf out = AIGW__BUF_INIT;
    if (!root || !all) {
        json_object_put(all);
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    json_object_object_add(root, "object", json_object_new_string("list"));
    json_object_object_add(root, "data", all);
    for (size_t i = 0; i < client->n_backends; i++) {
        const aigw__backend *b = &client->backends[i];
        if (only ? b != only : !b->listable)
            continue;
        aigw__call call = {.op = AIGW__OP_MODELS, .backend = b};
        aigw__usage unknown = AIGW__USAGE_UNKNOWN;
        call.usage = unknown;
        aigw__buf_clear(&out);
        if ((st = dispatch(client, &call, NULL, &out, err)) ||
            (st = merge_models(out.data ? out.data : "", out.len, all, err)))
            goto out;
    }
    if (!(*response_json = aigw__json_dup_string(root)))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    aigw__buf_free(&out);
    json_object_put(root);
    return st;
}
