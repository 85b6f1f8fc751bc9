/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers for C callers who would rather not write JSON. */
#include "aigw/build.h"

#include <string.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/json.h"

static json_object *message(const char *role, const char *content) {
    json_object *m = json_object_new_object();
    if (!m)
        return NULL;
    json_object_object_add(m, "role", json_object_new_string(role));
    json_object_object_add(m, "content", json_object_new_string(content));
    return m;
}

aigw_status aigw_chat_request_simple(const char *model, const char *system, const char *user_prompt,
                                     char **request_json) {
    if (!model || !user_prompt || !request_json)
        return AIGW_EINVAL;
    *request_json = NULL;
    json_object *req = json_object_new_object(), *messages = json_object_new_array();
    if (!req || !messages) {
        json_object_put(req);
        json_object_put(messages);
        return AIGW_ENOMEM;
    }
    json_object_object_add(req, "model", json_object_new_string(model));
    if (system)
        json_object_array_add(messages, message("system", system));
    json_object_array_add(messages, message("user", user_prompt));
    json_object_object_add(req, "messages", messages);
    *request_json = aigw__json_dup_string(req);
    json_object_put(req);
    return *request_json ? AIGW_OK : AIGW_ENOMEM;
}

aigw_status aigw_chat_response_text(const char *response_json, char **text) {
    if (!response_json || !text)
        return AIGW_EINVAL;
    *text = NULL;
    json_object *root = NULL, *choices, *choice, *body, *content;
    aigw_status st = aigw__json_parse(response_json, strlen(response_json), "response",
                                      AIGW_EBADREQUEST, &root, NULL);
    if (st)
        return st;
    st = AIGW_EBADREQUEST;
    if (!json_object_object_get_ex(root, "choices", &choices) ||
        !json_object_is_type(choices, json_type_array))
        goto out;
    if (json_object_array_length(choices) == 0) {
        st = (*text = aigw__strdup("")) ? AIGW_OK : AIGW_ENOMEM;
        goto out;
    }
    choice = json_object_array_get_idx(choices, 0);
    if (!json_object_object_get_ex(choice, "message", &body) &&
        !json_object_object_get_ex(choice, "delta", &body))
        goto out;
    if (!json_object_object_get_ex(body, "content", &content) ||
        !json_object_is_type(content, json_type_string))
        content = NULL;
    *text = aigw__strdup(content ? json_object_get_string(content) : "");
    st = *text ? AIGW_OK : AIGW_ENOMEM;
out:
    json_object_put(root);
    return st;
}
