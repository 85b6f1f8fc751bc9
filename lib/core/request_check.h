/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's request, checked before anything is sent: the OpenAI fields
 * the library knows must have OpenAI's types and documented ranges. */
#ifndef AIGW_CORE_REQUEST_CHECK_H
#define AIGW_CORE_REQUEST_CHECK_H

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "aigw/error.h"

/* Checks REQUEST (a JSON object) for OP in one pass over its top-level
 * keys. Chat (AIGW__OP_CHAT, AIGW__OP_CHAT_STREAM): model, messages (a
 * non-empty array of objects with a known string role and string / array /
 * null content), stream, stream_options, max_tokens, max_completion_tokens,
 * n, temperature, top_p, presence_penalty, frequency_penalty, seed,
 * logprobs, top_logprobs, stop, user, tools, tool_choice, response_format.
 * Embeddings: model, input, dimensions, encoding_format, user. A field that
 * is null counts as absent (OpenAI's optional fields are nullable); keys the
 * library does not know pass untouched.
 *
 * A violation is AIGW_EBADREQUEST in OpenAI's words, with "param" naming the
 * field and "code" saying why (invalid_type, integer_below_min_value,
 * decimal_above_max_value, array_above_max_length, empty_array,
 * invalid_value, missing_required_parameter, ...). */
aigw_status aigw__request_check(aigw__op op, json_object *request, aigw_error **err);

#endif
