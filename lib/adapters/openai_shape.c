/* SPDX-License-Identifier: Apache-2.0 */
/* Reading OpenAI-shaped responses, errors and stream chunks. */
#include "adapters/openai_shape.h"

#include <stdio.h>
#include <string.h>

#include "adapters/openai_chunks.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

void aigw__openai_read_usage(json_object *usage, aigw__usage *out) {
    if (!usage || !json_object_is_type(usage, json_type_object))
        return;
    json_object *details;
    out->input_tokens = aigw__json_get_ll(usage, "prompt_tokens");
    out->output_tokens = aigw__json_get_ll(usage, "completion_tokens");
    out->total_tokens = aigw__json_get_ll(usage, "total_tokens");
    if (json_object_object_get_ex(usage, "prompt_tokens_details", &details))
        out->cached_input_tokens = aigw__json_get_ll(details, "cached_tokens");
    if (json_object_object_get_ex(usage, "completion_tokens_details", &details))
        out->reasoning_tokens = aigw__json_get_ll(details, "reasoning_tokens");
}

/* Model lists come back with each id prefixed "backend/". */
static aigw_status prefix_models(aigw__call *call, json_object *list, aigw__buf *out,
                                 aigw_error **err) {
    json_object *data;
    if (!json_object_object_get_ex(list, "data", &data) ||
        !json_object_is_type(data, json_type_array))
        return aigw__bad_response(call, NULL, 0, "model list has no \"data\" array", err);
    aigw__buf id = AIGW__BUF_INIT;
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        json_object *m = json_object_array_get_idx(data, i);
        const char *model = aigw__json_get_string(m, "id");
        if (!model)
            continue;
        aigw__buf_clear(&id);
        if (aigw__buf_printf(&id, "%s/%s", call->backend->name, model) ||
            json_object_object_add(m, "id", json_object_new_string(id.data))) {
            aigw__buf_free(&id);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
    }
    aigw__buf_free(&id);
    size_t len;
    const char *text = json_object_to_json_string_length(list, AIGW__JSON_FLAGS, &len);
    if (!text || aigw__buf_append(out, text, len))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

aigw_status aigw__openai_parse_response(aigw__call *call, const char *body, size_t len,
                                        aigw__buf *out, aigw_error **err) {
    json_object *root = NULL, *v;
    aigw_error *parse_err = NULL;
    aigw_status st =
        aigw__json_parse(body, len, "upstream response", AIGW_EBADRESPONSE, &root, &parse_err);
    if (st) {
        st = aigw__bad_response(call, body, len, aigw_error_message(parse_err), err);
        aigw_error_free(parse_err);
        return st;
    }
    if (!json_object_is_type(root, json_type_object)) {
        st = aigw__bad_response(call, body, len, "response is not a JSON object", err);
        goto out;
    }
    if (json_object_object_get_ex(root, "error", &v) && v) {
        /* Some compatible servers answer 200 with an error object. */
        st = aigw__openai_error(call->backend->name, 200, body, len, err);
        goto out;
    }
    switch (call->op) {
    case AIGW__OP_CHAT:
        if (!json_object_object_get_ex(root, "choices", &v) ||
            !json_object_is_type(v, json_type_array)) {
            st = aigw__bad_response(call, body, len,
                                    "response is not a chat.completion (no choices)", err);
            goto out;
        }
        break;
    case AIGW__OP_EMBED:
        if (!json_object_object_get_ex(root, "data", &v) ||
            !json_object_is_type(v, json_type_array)) {
            st = aigw__bad_response(call, body, len, "response is not an embedding list (no data)",
                                    err);
            goto out;
        }
        break;
    case AIGW__OP_MODELS:
        st = prefix_models(call, root, out, err);
        goto out;
    case AIGW__OP_CHAT_STREAM:
        st = aigw__bad_response(call, body, len, "expected a stream", err);
        goto out;
    }
    if (json_object_object_get_ex(root, "usage", &v))
        aigw__openai_read_usage(v, &call->usage);
    if (aigw__buf_append(out, body, len))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    json_object_put(root);
    return st;
}

/* The provider's message from the usual error shapes, or NULL. */
static const char *error_message(json_object *root) {
    json_object *e;
    if (!root || !json_object_is_type(root, json_type_object))
        return NULL;
    if (json_object_object_get_ex(root, "error", &e)) {
        if (json_object_is_type(e, json_type_string))
            return json_object_get_string(e);
        const char *m = aigw__json_get_string(e, "message");
        if (m)
            return m;
    }
    const char *m = aigw__json_get_string(root, "message");
    return m ? m : aigw__json_get_string(root, "detail");
}

aigw_status aigw__openai_error(const char *provider, long http_status, const char *body, size_t len,
                               aigw_error **err) {
    aigw_status st = http_status >= 200 && http_status <= 299 ? AIGW_EUPSTREAM
                                                              : aigw__status_from_http(http_status);
    json_object *root = NULL;
    aigw__json_parse(body, len, "error", AIGW_EBADRESPONSE, &root, NULL);
    const char *message = error_message(root);
    char snippet[201];
    if (!message)
        message = aigw__body_snippet(body, len, snippet, sizeof snippet);
    aigw__error_set_upstream(err, st, provider, (int)http_status, len ? body : NULL, len,
                             "backend \"%s\": HTTP %ld: %s", provider, http_status, message);
    json_object_put(root);
    return st;
}

aigw_status aigw__openai_check_chunk(aigw__call *call, const char *data, size_t len, int *forward,
                                     aigw_error **err) {
    json_object *root = NULL, *v;
    aigw_status st = AIGW_OK;
    *forward = 1;
    if (aigw__json_parse(data, len, "stream chunk", AIGW_EBADRESPONSE, &root, NULL) ||
        !json_object_is_type(root, json_type_object)) {
        st = aigw__error_set_upstream(
            err, AIGW_EBADRESPONSE, call->backend->name, 200, data, len > 4096 ? 4096 : len,
            "backend \"%s\": stream chunk is not a JSON object", call->backend->name);
        goto out;
    }
    if (json_object_object_get_ex(root, "error", &v) && v) {
        const char *message = error_message(root);
        st = aigw__error_set_upstream(err, AIGW_EUPSTREAM, call->backend->name, 200, data, len,
                                      "backend \"%s\": error in stream: %s", call->backend->name,
                                      message ? message : "(no message)");
        goto out;
    }
    if (json_object_object_get_ex(root, "usage", &v) && v) {
        aigw__openai_read_usage(v, &call->usage);
        json_object *choices;
        if (!call->caller_wants_usage && json_object_object_get_ex(root, "choices", &choices) &&
            json_object_is_type(choices, json_type_array) && json_object_array_length(choices) == 0)
            *forward = 0;
    }
out:
    json_object_put(root);
    return st;
}
