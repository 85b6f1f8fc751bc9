/* SPDX-License-Identifier: Apache-2.0 */
/* Reading OpenAI-shaped responses, errors and stream chunks: used by the
 * openai adapter and by every adapter whose provider answers in that shape
 * (Azure OpenAI). */
#ifndef AIGW_ADAPTERS_OPENAI_SHAPE_H
#define AIGW_ADAPTERS_OPENAI_SHAPE_H

#include "adapters/adapter.h"

/* Builds an OpenAI request at url_prefix + "/chat/completions" (or
 * "/embeddings", "/models") + url_suffix. */
aigw_status aigw__openai_build_at(aigw__call *call, const char *url_prefix, const char *url_suffix,
                                  aigw__upstream_request *out, aigw_error **err);

/* Checks a whole 2xx body for call->op and appends the OpenAI answer to
 * `out`: chat and embeddings verbatim, model lists with ids prefixed by
 * the backend name. Fills call->usage. */
aigw_status aigw__openai_parse_response(aigw__call *call, const char *body, size_t len,
                                        aigw__buf *out, aigw_error **err);

/* Maps a non-2xx answer to a status and an error carrying the provider's
 * message ("error.message", "message" or "detail") and raw body. */
aigw_status aigw__openai_error(const char *provider, long http_status, const char *body, size_t len,
                               aigw_error **err);

/* Checks one stream chunk: valid JSON object, not an error object (which
 * becomes AIGW_EUPSTREAM with the provider's message). Records usage; sets
 * *forward to 0 for the usage-only chunk the caller did not ask for. */
aigw_status aigw__openai_check_chunk(aigw__call *call, const char *data, size_t len, int *forward,
                                     aigw_error **err);

/* Reads an OpenAI "usage" object into `out` (fields it lacks stay -1). */
void aigw__openai_read_usage(json_object *usage, aigw__usage *out);

#endif
