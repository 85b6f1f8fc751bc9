/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — small helpers for C callers who would rather not write JSON. */
#ifndef AIGW_BUILD_H
#define AIGW_BUILD_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds {"model":..., "messages":[{system}, {user}]}; `system` may be NULL.
 * *request_json is freed with aigw_free(). */
AIGW_EXTERN aigw_status aigw_chat_request_simple(const char *model, const char *system,
                                                 const char *user_prompt, char **request_json);

/* The text of choices[0].message.content of a chat.completion (or of
 * choices[0].delta.content of a chunk, "" when a chunk carries none).
 * *text is freed with aigw_free(). AIGW_EBADREQUEST if the JSON is not one. */
AIGW_EXTERN aigw_status aigw_chat_response_text(const char *response_json, char **text);

#ifdef __cplusplus
}
#endif

#endif
