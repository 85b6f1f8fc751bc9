/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces of OpenAI chat requests shared by the translating adapters; see
 * request_parts.h. */
#include "adapters/request_parts.h"

#include <string.h>

#include "core/errors.h"
#include "core/json.h"

const char *aigw__image_part_url(json_object *part) {
    json_object *iu = aigw__json_get(part, "image_url");
    return json_object_is_type(iu, json_type_string) ? json_object_get_string(iu)
                                                     : aigw__json_get_string(iu, "url");
}

int aigw__data_url_base64(const char *url, const char **media, size_t *media_len,
                          const char **data) {
    const char *comma = strchr(url, ',');
    const char *semi = comma ? strstr(url, ";base64,") : NULL;
    if (!semi || semi + 7 != comma)
        return -1;
    *media = url + 5;
    *media_len = (size_t)(semi - url - 5);
    *data = comma + 1;
    return 0;
}

int aigw__tool_args_parse(const char *args, int want_object, json_object **out) {
    *out = NULL;
    if (!args || !*args) {
        *out = json_object_new_object();
        return 0;
    }
    json_object *input = NULL;
    if (aigw__json_parse(args, strlen(args), "tool call arguments", AIGW_EBADREQUEST, &input,
                         NULL) ||
        (want_object && !json_object_is_type(input, json_type_object))) {
        json_object_put(input);
        return -1;
    }
    *out = input;
    return 0;
}

aigw_status aigw__content_text(aigw__call *call, aigw_error **err, json_object *content,
                               int null_ok, aigw__buf *b) {
    if (!content || (null_ok && json_object_is_type(content, json_type_null)))
        return AIGW_OK;
    if (json_object_is_type(content, json_type_string))
        return aigw__buf_puts(b, json_object_get_string(content))
                   ? aigw__error_set(err, AIGW_ENOMEM, "out of memory")
                   : AIGW_OK;
    const char *what = "message content is not a string or an array";
    if (json_object_is_type(content, json_type_array)) {
        what = NULL;
        for (size_t i = 0; i < json_object_array_length(content) && !what; i++) {
            json_object *part = json_object_array_get_idx(content, i);
            const char *type = aigw__json_get_string(part, "type");
            const char *text = aigw__json_get_string(part, "text");
            if (!type || strcmp(type, "text") != 0 || !text)
                what = "only text content parts are allowed here";
            else if (aigw__buf_puts(b, text))
                return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
    }
    if (!what)
        return AIGW_OK;
    return aigw__error_set(err, AIGW_EBADREQUEST, "backend \"%s\": request: %s",
                           call->backend->name, what);
}
