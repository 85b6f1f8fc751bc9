/* The request path of the synchronous API: parse the caller's request,
 * route it, let the adapter build the upstream request, add credentials,
 * send it, and translate the answer (whole or streamed) back. */
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "aigw/chat.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "router/router.h"
#include "transport/transport.h"

static double elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static const char *op_name(aigw__op op) {
    switch (op) {
    case AIGW__OP_CHAT:
        return "chat";
    case AIGW__OP_CHAT_STREAM:
        return "chat-stream";
    case AIGW__OP_EMBED:
        return "embed";
    case AIGW__OP_MODELS:
        return "models";
    }
    return "?";
}

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

    if ((st = a->build(call, &req, err)))
        goto out;
    for (struct curl_slist *h = b->extra_headers; h; h = h->next) {
        struct curl_slist *grown = curl_slist_append(req.headers, h->data);
        if (!grown) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto out;
        }
        req.headers = grown;
    }
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
    if (res.status < 200 || res.status > 299) {
        st = a->error(call, res.status, res.body.data ? res.body.data : "", res.body.len, err);
        goto out;
    }
    if (call->op == AIGW__OP_CHAT_STREAM)
        st = a->stream_finish(glue.state, err);
    else
        st = a->parse(call, res.body.data ? res.body.data : "", res.body.len, out, err);
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
    aigw_status st;
    if (call->backend->unavailable)
        st = aigw__error_set_upstream(err, AIGW_ECONFIG, call->backend->name, 0, NULL, 0,
                                      "backend \"%s\": %s", call->backend->name,
                                      call->backend->unavailable);
    else
        st =
            a->local ? a->local(call, sink, out, err) : call_upstream(client, call, sink, out, err);
    aigw__log(&client->logger, st ? AIGW_LOG_WARN : AIGW_LOG_DEBUG,
              "%s backend=%s model=%s status=%s %.3f ms", op_name(call->op), call->backend->name,
              call->model ? call->model : "-", aigw_status_name(st), elapsed_ms(&start));
    return st;
}

/* Parses and checks the caller's request, then routes it. */
static aigw_status prepare(aigw_client *client, aigw__op op, const char *request_json,
                           json_object **request, aigw__call *call, aigw_error **err) {
    aigw_status st = aigw__json_parse(request_json, strlen(request_json), "request",
                                      AIGW_EBADREQUEST, request, err);
    if (st)
        return st;
    if (!json_object_is_type(*request, json_type_object))
        return aigw__error_set(err, AIGW_EBADREQUEST, "request: must be a JSON object");
    const char *model = aigw__json_get_string(*request, "model");
    if (!model || !*model)
        return aigw__error_set(err, AIGW_EBADREQUEST,
                               "request: \"model\" is required and must be a string");
    json_object *v;
    if (op != AIGW__OP_EMBED) {
        if (!json_object_object_get_ex(*request, "messages", &v) ||
            !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
            return aigw__error_set(err, AIGW_EBADREQUEST,
                                   "request: \"messages\" must be a non-empty array");
    } else if (!json_object_object_get_ex(*request, "input", &v) || v == NULL) {
        return aigw__error_set(err, AIGW_EBADREQUEST, "request: \"input\" is required");
    }
    memset(call, 0, sizeof *call);
    call->op = op;
    call->request = *request;
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call->usage = unknown;
    if (op == AIGW__OP_CHAT_STREAM && json_object_object_get_ex(*request, "stream_options", &v) &&
        json_object_is_type(v, json_type_object)) {
        json_object *inc;
        call->caller_wants_usage =
            json_object_object_get_ex(v, "include_usage", &inc) && json_object_get_boolean(inc);
    }
    return aigw__route(client, model, &call->backend, &call->model, err);
}

static aigw_status whole_call(aigw_client *client, aigw__op op, const char *request_json,
                              char **response_json, aigw_error **err) {
    if (!client || !request_json || !response_json)
        return aigw__error_set(err, AIGW_EINVAL, "%s: NULL argument", op_name(op));
    *response_json = NULL;
    json_object *request = NULL;
    aigw__call call;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st = prepare(client, op, request_json, &request, &call, err);
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
    aigw_status st = prepare(client, AIGW__OP_CHAT_STREAM, request_json, &request, &call, err);
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
