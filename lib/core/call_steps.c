/* SPDX-License-Identifier: Apache-2.0 */
/* The steps of the request path shared by the synchronous and asynchronous
 * APIs (see call_steps.h). */
#include <string.h>

#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/log.h"
#include "core/request_check.h"

const char *aigw__op_name(aigw__op op) {
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

double aigw__elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

aigw_status aigw__call_prepare(aigw_client *client, aigw__op op, const char *request_json,
                               json_object **request, aigw__call *call, aigw_error **err) {
    aigw_status st = aigw__json_parse_ex(request_json, strlen(request_json), "request",
                                         AIGW_EBADREQUEST, AIGW__JSON_REQUEST, request, err);
    if (st)
        return st;
    return aigw__call_prepare_object(client, op, request, call, err);
}

aigw_status aigw__call_prepare_object(aigw_client *client, aigw__op op, json_object **request,
                                      aigw__call *call, aigw_error **err) {
    aigw_status st = aigw__request_check(op, *request, err);
    if (st)
        return st;
    json_object *v;
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
    (void)client;
    return AIGW_OK;
}

aigw_status aigw__call_check_available(const aigw__call *call, aigw_error **err) {
    const aigw__backend *b = call->backend;
    if (!b->unavailable)
        return AIGW_OK;
    return aigw__error_set_upstream(err, AIGW_ECONFIG, b->name, 0, NULL, 0, "backend \"%s\": %s",
                                    b->name, b->unavailable);
}

aigw_status aigw__call_build(aigw__call *call, aigw__upstream_request *req, aigw_error **err) {
    const aigw__backend *b = call->backend;
    aigw_status st = b->adapter->build(call, req, err);
    if (st)
        return st;
    req->accept_compressed = call->op == AIGW__OP_EMBED;
    for (struct curl_slist *h = b->extra_headers; h; h = h->next) {
        struct curl_slist *grown = curl_slist_append(req->headers, h->data);
        if (!grown)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        req->headers = grown;
    }
    return AIGW_OK;
}

aigw_status aigw__call_translate(aigw__call *call, long http_status, const char *body, size_t len,
                                 void *stream_state, aigw__buf *out, aigw_error **err) {
    const aigw__adapter *a = call->backend->adapter;
    if (!body)
        body = "";
    if (http_status < 200 || http_status > 299)
        return a->error(call, http_status, body, len, err);
    if (call->op == AIGW__OP_CHAT_STREAM)
        return a->stream_finish(stream_state, err);
    return a->parse(call, body, len, out, err);
}

void aigw__call_log(aigw_client *client, const aigw__call *call, aigw_status st,
                    const struct timespec *start) {
    aigw__log(&client->logger, st ? AIGW_LOG_WARN : AIGW_LOG_DEBUG,
              "%s backend=%s model=%s status=%s %.3f ms", aigw__op_name(call->op),
              call->backend->name, call->model ? call->model : "-", aigw_status_name(st),
              aigw__elapsed_ms(start));
}
