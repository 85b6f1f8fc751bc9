/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenAI-shaped output side shared by the adapters that translate a
 * provider's answers (anthropic, bedrock, gemini): the usage object, the
 * chat.completion.chunk writer and the stream error helpers. */
#ifndef AIGW_ADAPTERS_OPENAI_CHUNKS_H
#define AIGW_ADAPTERS_OPENAI_CHUNKS_H

#include "adapters/adapter.h"
#include "wire/sse.h"

/* How aigw__openai_usage_json writes total_tokens and the details. */
typedef enum aigw__usage_style {
    /* total = input + output; prompt_tokens_details.cached_tokens. */
    AIGW__USAGE_SUM = 0,
    /* total as reported; prompt_tokens_details.cached_tokens and
     * completion_tokens_details.reasoning_tokens. */
    AIGW__USAGE_REPORTED,
} aigw__usage_style;

/* An OpenAI "usage" object from u (unknown counts as 0), or NULL on
 * allocation failure. */
json_object *aigw__openai_usage_json(const aigw__usage *u, aigw__usage_style style);

/* AIGW_EBADRESPONSE for a 2xx body: "backend \"NAME\": WHY", carrying up
 * to 4 KiB of the body. */
aigw_status aigw__bad_response(aigw__call *call, const char *body, size_t len, const char *why,
                               aigw_error **err);

/* The provider's message for an error body that has none: the start of
 * the body in buf (size bytes with the NUL), non-printable bytes as
 * spaces, or "(empty body)". */
const char *aigw__body_snippet(const char *body, size_t len, char *buf, size_t size);

/* Writes OpenAI chat.completion.chunk JSON texts to a sink. */
typedef struct aigw__chunk_writer {
    aigw__call *call;
    aigw__chunk_sink sink;
    aigw_error **err; /* set by the adapter for the duration of each feed */
    char *id;         /* owned; NULL writes "" */
    char *model;      /* owned; NULL writes call->model */
    long long created;
    int add_role;  /* the first delta gets "role": "assistant" appended */
    int role_sent; /* a chunk carried delta.role (add_role only) */
    aigw__usage_style usage_style;
} aigw__chunk_writer;

/* Sets up w (created = now); id and model start NULL. */
void aigw__chunks_init(aigw__chunk_writer *w, aigw__call *call, aigw__chunk_sink sink, int add_role,
                       aigw__usage_style usage_style);
/* Frees id and model. */
void aigw__chunks_free(aigw__chunk_writer *w);

/* Copies v into *dst (w->id or w->model): nothing when v is NULL, or when
 * *dst is already set and `replace` is 0. */
aigw_status aigw__chunks_set_str(aigw__chunk_writer *w, char **dst, const char *v, int replace);

/* Sends one chunk: choice `index` with `delta` (taken) and finish reason
 * `fr` or NULL; with delta NULL, the usage chunk (choices [] and usage).
 * AIGW_ESTOPPED when the sink returns non-zero. */
aigw_status aigw__chunks_emit(aigw__chunk_writer *w, int index, json_object *delta, const char *fr);
/* A delta for choice 0 with one string member. */
aigw_status aigw__chunks_emit_text(aigw__chunk_writer *w, const char *key, const char *text);
/* A delta for choice 0 with one tool call: {index, [id, type,
 * function.name], function.arguments}; id and name may be NULL. */
aigw_status aigw__chunks_emit_tool(aigw__chunk_writer *w, int ordinal, const char *id,
                                   const char *name, const char *args);
/* The usage chunk. */
aigw_status aigw__chunks_emit_usage(aigw__chunk_writer *w);

/* AIGW_EBADRESPONSE "backend \"NAME\": stream: WHY" into w->err. */
aigw_status aigw__chunks_bad(aigw__chunk_writer *w, const char *data, size_t len, const char *why);

/* Parses a stream event's data as a JSON object into *root (NULL on
 * failure), or gives AIGW_EBADRESPONSE "stream: WHY" into w->err. */
aigw_status aigw__chunks_parse_event(aigw__chunk_writer *w, const char *data, size_t len,
                                     const char *why, json_object **root);

/* Feeds bytes to an SSE parser whose event handler records its failure in
 * *status, and maps the outcome: *status if set, an over-long event, or
 * another parser failure. */
aigw_status aigw__sse_feed_checked(aigw__sse_parser *sse, const aigw_status *status,
                                   const aigw__call *call, const char *bytes, size_t len,
                                   aigw_error **err);

/* AIGW_ETRUNCATED "backend \"NAME\": stream ended without MISSING[ (inside
 * an event)]" for an SSE stream. */
aigw_status aigw__sse_truncated(const aigw__call *call, const char *missing, int pending,
                                aigw_error **err);

#endif
