/* SPDX-License-Identifier: Apache-2.0 */
/* The adapter interface: one implementation per provider schema. An adapter
 * turns a unified (OpenAI-shaped) request into the backend's URL, headers and
 * body, and the backend's response, error or stream back into OpenAI shape. */
#ifndef AIGW_ADAPTERS_ADAPTER_H
#define AIGW_ADAPTERS_ADAPTER_H

#include <limits.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "aigw/error.h"
#include "core/backend.h"
#include "core/buf.h"
#include "core/upstream.h"

typedef enum aigw__op {
    AIGW__OP_CHAT = 0,
    AIGW__OP_CHAT_STREAM,
    AIGW__OP_EMBED,
    AIGW__OP_MODELS,
} aigw__op;

/* Token usage as the accountant sees it, from any provider. -1 = unknown. */
typedef struct aigw__usage {
    long long input_tokens;
    long long cached_input_tokens;
    long long output_tokens;
    long long reasoning_tokens;
    long long total_tokens;
} aigw__usage;

#define AIGW__USAGE_UNKNOWN                                                                        \
    { -1, -1, -1, -1, -1 }

/* Token counts come from upstream and may be absurd: sums saturate instead
 * of overflowing (both terms are >= 0). */
static inline long long aigw__tokens_add(long long a, long long b) {
    return a > LLONG_MAX - b ? LLONG_MAX : a + b;
}

/* One call on its way through the library. */
typedef struct aigw__call {
    aigw__op op;
    const aigw__backend *backend;
    const char *model;      /* upstream model name (provider prefix removed) */
    json_object *request;   /* the caller's request, parsed; NULL for MODELS */
    int caller_wants_usage; /* stream: the caller asked for the usage chunk */
    aigw__usage usage;      /* filled in by parse / the stream decoder */
} aigw__call;

/* aigw__upstream_request: see core/upstream.h. */

/* Where translated stream chunks go: one OpenAI chat.completion.chunk JSON
 * text per call. Non-zero return stops the stream (AIGW_ESTOPPED). */
typedef struct aigw__chunk_sink {
    int (*on_chunk)(const char *json, size_t len, void *user);
    void *user;
} aigw__chunk_sink;

typedef struct aigw__adapter {
    const char *schema;          /* the config's "schema" value */
    aigw__key_header key_header; /* where an API key goes for this schema */

    /* Builds the upstream request for call->op (URL from the backend's
     * base_url, headers other than auth, body). */
    aigw_status (*build)(aigw__call *call, aigw__upstream_request *out, aigw_error **err);

    /* Translates a whole 2xx body into OpenAI JSON text appended to `out`,
     * filling call->usage. Malformed bodies give AIGW_EBADRESPONSE. */
    aigw_status (*parse)(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                         aigw_error **err);

    /* Turns a non-2xx answer into the right status and an error carrying the
     * provider's message and raw body. Always returns a failure status. */
    aigw_status (*error)(aigw__call *call, long http_status, const char *body, size_t len,
                         aigw_error **err);

    /* Stream decoding: open, feed bytes as they arrive, finish at EOF
     * (AIGW_ETRUNCATED if the provider's end marker never came), free. */
    aigw_status (*stream_open)(aigw__call *call, aigw__chunk_sink sink, void **state,
                               aigw_error **err);
    aigw_status (*stream_feed)(void *state, const char *bytes, size_t len, aigw_error **err);
    aigw_status (*stream_finish)(void *state, aigw_error **err);
    void (*stream_free)(void *state);

    /* A backend that answers in-process (mock) sets this instead of the
     * above: for CHAT/EMBED/MODELS it appends the response to `out`, for
     * CHAT_STREAM it delivers chunks to `sink`. */
    aigw_status (*local)(aigw__call *call, const aigw__chunk_sink *sink, aigw__buf *out,
                         aigw_error **err);
} aigw__adapter;

/* The adapter for a schema name, or NULL. */
const aigw__adapter *aigw__adapter_find(const char *schema);
/* "openai, azure-openai, ...": the known schema names, for errors. */
const char *aigw__adapter_schema_names(void);

extern const aigw__adapter aigw__adapter_openai;
extern const aigw__adapter aigw__adapter_mock;
extern const aigw__adapter aigw__adapter_anthropic;
extern const aigw__adapter aigw__adapter_azure_openai;
extern const aigw__adapter aigw__adapter_bedrock;
extern const aigw__adapter aigw__adapter_gemini;
extern const aigw__adapter aigw__adapter_vertex;

#endif
