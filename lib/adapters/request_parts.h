/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces of OpenAI chat requests that the translating adapters (anthropic,
 * aws-bedrock, gemini) read the same way. */
#ifndef AIGW_ADAPTERS_REQUEST_PARTS_H
#define AIGW_ADAPTERS_REQUEST_PARTS_H

#include <json-c/json.h>
#include <stddef.h>

#include "adapters/adapter.h"
#include "core/buf.h"

/* The URL of an OpenAI image_url part ("image_url" a string or {"url"}), or
 * NULL. */
const char *aigw__image_part_url(json_object *part);

/* Splits "data:MEDIA;base64,DATA" (URL starts with "data:"): *media and
 * *media_len (maybe 0) name the media type, *data the base64 text. Returns 0,
 * or -1 when the URL is not of that form. */
int aigw__data_url_base64(const char *url, const char **media, size_t *media_len,
                          const char **data);

/* Parses tool call ARGS into *out: empty or NULL args give a new empty object
 * (NULL when out of memory). Returns 0, or -1 when ARGS is not JSON (or, with
 * WANT_OBJECT, not a JSON object); *out is then NULL. */
int aigw__tool_args_parse(const char *args, int want_object, json_object **out);

/* Appends the text of an OpenAI content value (a string or an array of text
 * parts) to b; a missing content adds nothing, and so does a JSON null when
 * NULL_OK. Other values are AIGW_EBADREQUEST for CALL's backend. */
aigw_status aigw__content_text(aigw__call *call, aigw_error **err, json_object *content,
                               int null_ok, aigw__buf *b);

#endif
