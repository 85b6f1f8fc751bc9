/* SPDX-License-Identifier: Apache-2.0 */
/* What gemini_request.c, gemini_response.c and gemini_stream.c share: a
 * few JSON helpers and the candidate reader whole answers and streams use. */
#ifndef AIGW_ADAPTERS_GEMINI_INTERNAL_H
#define AIGW_ADAPTERS_GEMINI_INTERNAL_H

#include "adapters/gemini.h"
#include "core/errors.h"
#include "core/json.h"

static inline aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

static inline int is_array(json_object *v) {
    return v && json_object_is_type(v, json_type_array);
}

static inline int append_json(aigw__buf *out, json_object *o) {
    size_t n;
    const char *s = json_object_to_json_string_length(o, AIGW__JSON_FLAGS, &n);
    return !s || aigw__buf_append(out, s, n);
}

/* ---- gemini_response.c ---- */

/* One candidate read into OpenAI pieces. */
typedef struct cand_view {
    aigw__buf text, thought;
    int has_text, has_thought;
    json_object *tool_calls; /* array, owned */
    const char *gemini_fr;   /* finishReason or NULL */
} cand_view;

void aigw__gemini_read_usage(json_object *um, aigw__usage *u);
const char *aigw__gemini_finish_reason(const char *fr, int has_tools);
const char *aigw__gemini_bufstr(const aigw__buf *b);
void aigw__gemini_cand_view_free(cand_view *v);
/* Reads `cand`; tool calls are numbered from *ntools (advanced), with an
 * "index" member when `stream`. -1 on allocation failure. */
int aigw__gemini_read_candidate(json_object *cand, int *ntools, int stream, cand_view *v);
aigw_status aigw__gemini_parse(aigw__call *call, const char *body, size_t len, aigw__buf *out,
                               aigw_error **err);
aigw_status aigw__gemini_vertex_parse(aigw__call *call, const char *body, size_t len,
                                      aigw__buf *out, aigw_error **err);
aigw_status aigw__gemini_error(aigw__call *call, long http_status, const char *body, size_t len,
                               aigw_error **err);

/* ---- gemini_stream.c ---- */

aigw_status aigw__gemini_stream_open(aigw__call *call, aigw__chunk_sink sink, void **state,
                                     aigw_error **err);
aigw_status aigw__gemini_stream_feed(void *state, const char *bytes, size_t len, aigw_error **err);
aigw_status aigw__gemini_stream_finish(void *state, aigw_error **err);
void aigw__gemini_stream_free(void *state);

#endif
