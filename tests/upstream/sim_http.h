/* SPDX-License-Identifier: Apache-2.0 */
/* The simulator's HTTP/1.1 server core: libuv for I/O, http_parser for the
 * protocol. It hands each complete request to one dispatch function, which
 * fills a sim_response synchronously; the core then writes it out, applying
 * the delivery faults (latency, trickle, cut, close) on libuv timers. */
#ifndef AIGW_SIM_HTTP_H
#define AIGW_SIM_HTTP_H

#include <stddef.h>
#include <json-c/json.h>
#include <uv.h>

#include "sim_buf.h"
#include "sim_fault.h"

#define SIM_MAX_BODY (8u * 1024u * 1024u)
#define SIM_MAX_URL 8192u
#define SIM_MAX_HEADERS 128u

typedef struct sim_header {
    char *name; /* lowercased */
    char *value;
} sim_header;

typedef struct sim_request {
    char method[16];
    sim_buf url; /* as received, query included */
    char *path;  /* url without the query */
    sim_header *headers;
    size_t nheaders;
    sim_buf body;
    json_object *json; /* the body parsed as JSON, or NULL (set by the router) */
    sim_fault fault;   /* set by the router */
} sim_request;

/* Value of the first header named LNAME (lowercase), or NULL. */
const char *sim_request_header(const sim_request *req, const char *lname);

typedef struct sim_event {
    char *data;
    size_t len;
} sim_event;

typedef struct sim_response {
    int status;         /* 0 until a handler answers */
    char *content_type; /* owned, may be NULL */
    sim_buf headers;    /* extra "Name: value\r\n" lines */
    int streaming;      /* chunked; the events are written one by one */
    sim_buf body;       /* when not streaming */
    sim_event *events;  /* when streaming */
    size_t nevents, cap_events;
    int abort_after_events; /* close after the events, without the chunk terminator */
    /* delivery faults, applied by the core */
    int close_silently;
    unsigned latency_ms, trickle_ms, trickle_bytes, event_ms;
    int cut_after;
} sim_response;

void sim_response_init(sim_response *res);
void sim_response_free(sim_response *res);
void sim_res_header(sim_response *res, const char *name, const char *value);
/* A complete body with Content-Length. */
void sim_res_body(sim_response *res, int status, const char *content_type, const char *data,
                  size_t len);
/* A JSON body; does not take ownership of OBJ. */
void sim_res_json(sim_response *res, int status, json_object *obj);
/* Compresses a complete body with gzip (Content-Encoding: gzip) when the
 * request's Accept-Encoding names gzip, as providers do. */
void sim_res_gzip_if_asked(const sim_request *req, sim_response *res);
/* A chunked stream; add the events with sim_res_event. */
void sim_res_stream(sim_response *res, int status, const char *content_type);
void sim_res_event(sim_response *res, const char *data, size_t len);

/* Serialises OBJ compactly (no slash escaping) into a new string. */
char *sim_json_dump(json_object *obj, size_t *len);

typedef void (*sim_dispatch_fn)(sim_request *req, sim_response *res, void *user);

/* Listens on HOST:PORT (0 = ephemeral); *BOUND_PORT receives the port. */
int sim_http_listen(uv_loop_t *loop, const char *host, int port, sim_dispatch_fn dispatch,
                    void *user, int *bound_port);
/* Stops listening and closes every connection (their memory is freed once
 * the loop has run the close callbacks). */
void sim_http_shutdown(void);

#endif
