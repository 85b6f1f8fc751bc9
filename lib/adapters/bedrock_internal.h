/* SPDX-License-Identifier: Apache-2.0 */
/* What bedrock_request.c, bedrock_response.c and bedrock_stream.c share:
 * the answer and stream halves of the aws-bedrock adapter. */
#ifndef AIGW_ADAPTERS_BEDROCK_INTERNAL_H
#define AIGW_ADAPTERS_BEDROCK_INTERNAL_H

#include <stddef.h>

#include "adapters/adapter.h"
#include "core/errors.h"
#include "core/json.h"

static inline aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

/* ---- bedrock_request.c ---- */

typedef enum embed_family { EMBED_NONE, EMBED_TITAN, EMBED_COHERE } embed_family;

/* The embedding model family of a Bedrock model id. */
embed_family aigw__bedrock_family_of(const char *model);

/* ---- bedrock_response.c ---- */

/* Writes the next "chatcmpl-bedrock-N" id (N process-wide) into id. */
void aigw__bedrock_next_id(char *id, size_t size);
/* A Converse stopReason as an OpenAI finish_reason. */
const char *aigw__bedrock_finish_reason(const char *stop_reason);
/* Reads a Converse usage object into u; fields it lacks stay as they were. */
void aigw__bedrock_read_usage(json_object *usage, aigw__usage *u);
/* The message of an AWS error body ({"message"} or {"Message"}) copied into
 * buf; "" if none. */
void aigw__bedrock_aws_message(const char *body, size_t len, char *buf, size_t size);
aigw_status aigw__bedrock_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                aigw_error **err);
aigw_status aigw__bedrock_error(aigw__call *call, long http_status, const char *body, size_t len,
                                aigw_error **err);

/* ---- bedrock_stream.c ---- */

aigw_status aigw__bedrock_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                      aigw_error **err);
aigw_status aigw__bedrock_stream_feed(void *state, const char *bytes, size_t len, aigw_error **err);
aigw_status aigw__bedrock_stream_finish(void *state, aigw_error **err);
void aigw__bedrock_stream_free(void *state);

#endif
