/* SPDX-License-Identifier: Apache-2.0 */
/* The request path of the synchronous API: parse the caller's request,
 * route it, let the adapter build the upstream request, add credentials,
 * send it, and translate the answer (whole or streamed) back. */
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "aigw/call.h"
#include "aigw/chat.h"
#include "core/alloc.h"
#include "core/call_policy.h"
#include "core/async_internal.h"
#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "router/routes.h"
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

/* Sends one attempt to its (remote) backend and translates the answer. */
static aigw_status call_upstream(aigw_client *client, aigw__call *call,
                                 const aigw__chunk_sink *sink, aigw__buf *out, aigw__attempt_io *io,
                                 aigw_error **err) {
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
        st = aigw__transport_perform(client->transport, b, &req, glue_feed, &glue, io, &res, err);
        if (glue.status)
            st = glue.status; /* the decoder's own failure, already in *err */
    } else {
        st = aigw__transport_perform(client->transport, b, &req, NULL, NULL, io, &res, err);
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
                            aigw__buf *out, aigw__attempt_io *io, aigw_error **err) {
    const aigw__adapter *a = call->backend->adapter;
    aigw_status st = aigw__call_check_available(call, err);
    if (!st)
        st = a->local ? a->local(call, sink, out, err)
                      : call_upstream(client, call, sink, out, io, err);
    return st;
}

/* The caller's chunk callback, noting that output reached the caller (after
 * which a stream never falls back to another backend). */
typedef struct delivery {
    aigw_chunk_cb on_chunk;
    void *user;
    aigw__call_policy *policy;
} delivery;

static int deliver(const char *json, size_t len, void *user) {
    delivery *d = user;
    d->policy->delivered = 1;
    return d->on_chunk(json, len, d->user);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* One attempt's limits: the route's timeouts, the total less what the
 * call has used. */
static void attempt_limits(const aigw__call_policy *p, aigw__attempt_io *io) {
    *io = (aigw__attempt_io)AIGW__ATTEMPT_IO_INIT;
    io->connect_ms = p->retry.connect_ms;
    io->first_byte_ms = p->retry.first_byte_ms;
    if (p->retry.total_ms) {
        long left = p->retry.total_ms - (long)aigw__elapsed_ms(&p->start);
        io->total_ms = left > 0 ? left : 1;
    }
}

aigw_status aigw_call(aigw_client *client, aigw_op op, const char *request_json,
                      const aigw_call_options *opts, aigw_chunk_cb on_chunk, void *user,
                      char **response_json, aigw_error **err) {
    aigw__op iop = op == AIGW_OP_CHAT_STREAM ? AIGW__OP_CHAT_STREAM
                   : op == AIGW_OP_EMBED     ? AIGW__OP_EMBED
                                             : AIGW__OP_CHAT;
    if (op != AIGW_OP_CHAT && op != AIGW_OP_CHAT_STREAM && op != AIGW_OP_EMBED)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_call: unknown op %d", (int)op);
    int stream = iop == AIGW__OP_CHAT_STREAM;
    if (!client || !request_json || (stream ? !on_chunk : !response_json))
        return aigw__error_set(err, AIGW_EINVAL, "%s: NULL argument", aigw__op_name(iop));
    if (opts && opts->version != AIGW_CALL_OPTIONS_VERSION)
        return aigw__error_set(err, AIGW_EINVAL, "%s: unknown call options version %u",
                               aigw__op_name(iop), opts->version);
    if (response_json && !stream)
        *response_json = NULL;

    json_object *request = NULL;
    aigw__call call;
    aigw__call_policy policy;
    aigw_error *e = NULL;
    aigw__buf out = AIGW__BUF_INIT;
    aigw_status st = aigw__call_prepare(client, iop, request_json, &request, &call, &e);
    if (st) {
        json_object_put(request);
        goto done;
    }
    delivery d = {on_chunk, user, &policy};
    aigw__chunk_sink sink = {deliver, &d};
    st = aigw__policy_begin(&policy, client, &call, opts, NULL, &e);
    if (!st)
        st = aigw__policy_reserve(&policy, &e);
    while (!st && !(st = aigw__policy_next(&policy, &call, &e))) {
        aigw__attempt_io io;
        attempt_limits(&policy, &io);
        aigw__buf_clear(&out);
        st = dispatch(client, &call, stream ? &sink : NULL, &out, &io, &e);
        long wait = aigw__policy_attempt_end(&policy, &call, st, aigw_error_http_status(e),
                                             io.retry_after_ms, &e);
        if (wait < 0)
            break;
        if (wait > 0)
            sleep_ms(wait);
        st = AIGW_OK;
    }
    st = aigw__policy_end(&policy, &call, st, &e);
    json_object_put(request);
    if (!st && !stream && !(*response_json = aigw__buf_detach(&out)))
        st = aigw__error_set(&e, AIGW_ENOMEM, "out of memory");
done:
    aigw__buf_free(&out);
    if (err && !*err)
        *err = e;
    else
        aigw_error_free(e);
    return st;
}

aigw_status aigw_chat(aigw_client *client, const char *request_json, char **response_json,
                      aigw_error **err) {
    if (!response_json)
        return aigw__error_set(err, AIGW_EINVAL, "chat: NULL argument");
    return aigw_call(client, AIGW_OP_CHAT, request_json, NULL, NULL, NULL, response_json, err);
}

aigw_status aigw_embed(aigw_client *client, const char *request_json, char **response_json,
                       aigw_error **err) {
    if (!response_json)
        return aigw__error_set(err, AIGW_EINVAL, "embed: NULL argument");
    return aigw_call(client, AIGW_OP_EMBED, request_json, NULL, NULL, NULL, response_json, err);
}

aigw_status aigw_chat_stream(aigw_client *client, const char *request_json, aigw_chunk_cb on_chunk,
                             void *user, aigw_error **err) {
    if (!on_chunk)
        return aigw__error_set(err, AIGW_EINVAL, "chat-stream: NULL argument");
    return aigw_call(client, AIGW_OP_CHAT_STREAM, request_json, NULL, on_chunk, user, NULL, err);
}

/* Appends the "data" entries of one backend's model list to `all`. */
aigw_status aigw__models_merge(const char *list_json, size_t len, json_object *all,
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

/* The plain model names of the routes, as OpenAI model objects. */
static aigw_status add_route_models(const aigw_client *client, json_object *all, aigw_error **err) {
    size_t n = aigw__routes_models(&client->routes, NULL, 0);
    const char **names = aigw__calloc(n ? n : 1, sizeof *names);
    if (!names)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__routes_models(&client->routes, names, n);
    aigw_status st = AIGW_OK;
    for (size_t i = 0; i < n && !st; i++) {
        json_object *m = json_object_new_object();
        if (!m || json_object_array_add(all, m)) {
            json_object_put(m);
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            break;
        }
        json_object_object_add(m, "id", json_object_new_string(names[i]));
        json_object_object_add(m, "object", json_object_new_string("model"));
        json_object_object_add(m, "created", json_object_new_int(0));
        json_object_object_add(m, "owned_by", json_object_new_string("aigw"));
    }
    aigw__free(names);
    return st;
}

aigw_status aigw__models_of_routes(const aigw_client *client, char **json, aigw_error **err) {
    *json = NULL;
    json_object *root = json_object_new_object(), *all = json_object_new_array();
    aigw_status st = AIGW_OK;
    if (!root || !all) {
        json_object_put(all);
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    } else {
        json_object_object_add(root, "object", json_object_new_string("list"));
        json_object_object_add(root, "data", all);
        if (!(st = add_route_models(client, all, err)) && !(*json = aigw__json_dup_string(root)))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    json_object_put(root);
    return st;
}

aigw_status aigw_models(aigw_client *client, const char *provider, char **response_json,
                        aigw_error **err) {
    if (!client || !response_json)
        return aigw__error_set(err, AIGW_EINVAL, "models: NULL argument");
    *response_json = NULL;
    const aigw__backend *only = NULL;
    if (provider && !(only = aigw__client_find_backend(client, provider, strlen(provider))))
        return aigw__error_set(err, AIGW_ENOBACKEND, "unknown provider \"%s\"", provider);
    if (!only && client->routes.n) /* the models the routes serve */
        return aigw__models_of_routes(client, response_json, err);

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
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        st = dispatch(client, &call, NULL, &out, NULL, err);
        aigw__call_log(client, &call, st, &start);
        if (st || (st = aigw__models_merge(out.data ? out.data : "", out.len, all, err)))
            goto out;
    }
    if (!(*response_json = aigw__json_dup_string(root)))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    aigw__buf_free(&out);
    json_object_put(root);
    return st;
}
