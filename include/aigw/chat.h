/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — chat completions, embeddings and model listing.
 *
 * Requests and responses are OpenAI-schema JSON text. The request's "model"
 * picks the backend: "provider/model" (e.g. "openai/gpt-4o-mini",
 * "mock/echo"), or a bare model name for the default backend (openai unless
 * the config says otherwise). Every field the caller sends is passed through
 * to OpenAI-compatible backends untouched.
 *
 * Every function here is safe to call from many threads on one client. */
#ifndef AIGW_CHAT_H
#define AIGW_CHAT_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* POST /chat/completions, whole response. On success *response_json is a
 * NUL-terminated OpenAI chat.completion the caller frees with aigw_free().
 * A request with "stream": true is answered whole all the same. */
AIGW_EXTERN aigw_status aigw_chat(aigw_client *client, const char *request_json,
                                  char **response_json, aigw_error **err);

/* Called once per OpenAI-shaped chat.completion.chunk, in order, as each
 * arrives. `chunk_json` is NUL-terminated and valid only during the call.
 * Return 0 to go on, anything else to stop the stream (the call then
 * returns AIGW_ESTOPPED). The callback must not free the client; it may
 * make other calls on it. */
typedef int (*aigw_chunk_cb)(const char *chunk_json, size_t len, void *user);

/* Streams a chat completion. The request's "stream" is forced to true.
 * A final chunk with "usage" (and empty "choices") is delivered only when
 * the request asked for it with stream_options.include_usage, as OpenAI
 * does; the library requests usage upstream either way. Unlike the other
 * calls, chunks may already have been delivered when this returns an
 * error (a stream cut or an error event mid-stream): the error says so. */
AIGW_EXTERN aigw_status aigw_chat_stream(aigw_client *client, const char *request_json,
                                         aigw_chunk_cb on_chunk, void *user, aigw_error **err);

/* POST /embeddings: "input" a string or an array, "dimensions",
 * "encoding_format" float or base64 passed through. */
AIGW_EXTERN aigw_status aigw_embed(aigw_client *client, const char *request_json,
                                   char **response_json, aigw_error **err);

/* GET /models of one backend (`provider`, e.g. "openai"), or of every
 * configured backend when `provider` is NULL. Model ids come back prefixed
 * with their backend, e.g. "openai/gpt-4o-mini", in OpenAI's list shape. */
AIGW_EXTERN aigw_status aigw_models(aigw_client *client, const char *provider, char **response_json,
                                    aigw_error **err);

#ifdef __cplusplus
}
#endif

#endif
