/* SPDX-License-Identifier: Apache-2.0 */
/* What anthropic_request.c, anthropic_response.c and anthropic_stream.c
 * share: the answer and stream halves of the Anthropic adapter. */
#ifndef AIGW_ADAPTERS_ANTHROPIC_INTERNAL_H
#define AIGW_ADAPTERS_ANTHROPIC_INTERNAL_H

#include "adapters/anthropic.h"
#include "core/json.h"

/* ---- anthropic_response.c ---- */

/* An Anthropic stop_reason as an OpenAI finish_reason (NULL for NULL). */
const char *aigw__anthropic_finish_reason(const char *stop_reason);
/* Reads an Anthropic usage object into u (input side when `input`, output
 * side always). Fields it lacks are left alone. */
void aigw__anthropic_read_usage(json_object *usage, aigw__usage *u);
aigw_status aigw__anthropic_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                                  aigw_error **err);
aigw_status aigw__anthropic_error(aigw__call *call, long http_status, const char *body, size_t len,
                                  aigw_error **err);

/* ---- anthropic_stream.c ---- */

aigw_status aigw__anthropic_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                        aigw_error **err);
aigw_status aigw__anthropic_stream_feed(void *state, const char *bytes, size_t len,
                                        aigw_error **err);
aigw_status aigw__anthropic_stream_finish(void *state, aigw_error **err);
void aigw__anthropic_stream_free(void *state);

#endif
