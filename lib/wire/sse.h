/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming parser for Server-Sent Events, following the WHATWG HTML
 * "event stream interpretation" rules: data/event/id/retry fields, multi-line
 * data joined with "\n", comments (lines starting with ':'), LF, CRLF and CR
 * line ends, a leading UTF-8 BOM, and input split at any byte. Feeding a
 * stream one byte at a time gives the same events as feeding it whole. */
#ifndef AIGW_WIRE_SSE_H
#define AIGW_WIRE_SSE_H

#include <stddef.h>

#include "aigw/status.h"
#include "core/buf.h"

/* One dispatched event. The pointers are valid only during the callback;
 * each string is NUL-terminated at [len]. `event` is "message" when the
 * stream gave no event field. `id` is the last event ID seen so far
 * (it persists across events, per the spec), "" if none. */
typedef struct aigw__sse_event {
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *id;
    size_t id_len;
} aigw__sse_event;

/* Return 0 to go on; non-zero stops parsing and aigw__sse_feed returns
 * AIGW_ESTOPPED. */
typedef int (*aigw__sse_event_cb)(const aigw__sse_event *event, void *user);

/* Events larger than this (line or accumulated data) are refused with
 * AIGW_EBADRESPONSE rather than buffered without bound. */
#define AIGW__SSE_MAX_EVENT_BYTES (16u * 1024u * 1024u)

typedef struct aigw__sse_parser {
    aigw__sse_event_cb cb;
    void *user;
    aigw__buf line;       /* the current, unfinished line */
    aigw__buf data;       /* data of the event being built */
    aigw__buf event_type; /* event field of the event being built */
    aigw__buf last_id;    /* last event ID */
    long retry_ms;        /* last valid retry field, -1 if none */
    unsigned bom_checked : 1;
    unsigned saw_cr : 1;   /* the previous byte was CR: a following LF is not a new line */
    unsigned has_data : 1; /* a data field was seen since the last dispatch */
    unsigned stopped : 1;
    unsigned pending : 1; /* a field line was seen since the last blank line */
    size_t bom_matched;   /* bytes of a possible BOM seen at the very start */
    aigw_status error;    /* sticky: a failed feed fails every later feed too */
} aigw__sse_parser;

void aigw__sse_init(aigw__sse_parser *p, aigw__sse_event_cb cb, void *user);
/* Parses the next `len` bytes. AIGW_OK, AIGW_ESTOPPED (callback stopped;
 * later feeds return AIGW_ESTOPPED too), AIGW_ENOMEM or AIGW_EBADRESPONSE
 * (an event over AIGW__SSE_MAX_EVENT_BYTES). Errors are sticky: after one,
 * every later feed returns the same status. Events are dispatched from
 * inside this call, as soon as their blank line arrives; the callback must
 * not feed or free the same parser. The stream is handled as bytes: UTF-8
 * is not validated (a JSON layer above does that). */
aigw_status aigw__sse_feed(aigw__sse_parser *p, const char *bytes, size_t len);
/* End of stream. Per the spec an event not terminated by a blank line is
 * discarded; returns 1 if such an incomplete event (or line) was pending,
 * which callers treat as a truncated stream, else 0. "Pending" means an
 * unfinished line (even a comment), or a field line (data, event, id,
 * retry or an unknown field) after the last blank line; trailing comment
 * lines alone are not. Discards the pending event and line, so a second
 * call returns 0. Returns 0 after the callback stopped the parser. */
int aigw__sse_finish(aigw__sse_parser *p);
/* The last valid "retry" value in ms, or -1. A retry field counts when its
 * value is non-empty and all ASCII digits; values past LONG_MAX saturate. */
long aigw__sse_retry_ms(const aigw__sse_parser *p);
void aigw__sse_free(aigw__sse_parser *p);

#endif
