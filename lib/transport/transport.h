/* SPDX-License-Identifier: Apache-2.0 */
/* The transport: libcurl, with connections, TLS sessions and DNS shared
 * across the threads of one client. */
#ifndef AIGW_TRANSPORT_TRANSPORT_H
#define AIGW_TRANSPORT_TRANSPORT_H

#include "adapters/adapter.h"
#include "core/buf.h"

typedef struct aigw__transport aigw__transport;

aigw_status aigw__transport_new(aigw__transport **out, aigw_error **err);
void aigw__transport_free(aigw__transport *t);

/* Receives 2xx body bytes as they arrive; non-zero aborts the transfer. */
typedef int (*aigw__body_sink)(const char *bytes, size_t len, void *user);

typedef struct aigw__http_result {
    long status;      /* HTTP status; 0 if none arrived */
    aigw__buf body;   /* the body, unless a 2xx went to the sink */
    int sink_stopped; /* the sink asked to stop */
} aigw__http_result;

/* One attempt's limits, and what its transfer saw besides the body. Zero
 * limits mean the backend's own. */
typedef struct aigw__attempt_io {
    long connect_ms;    /* connect timeout */
    long first_byte_ms; /* no response head within this: stopped (the sync
                           transport waits on it; the async engine's timer) */
    long total_ms;      /* the whole transfer, if shorter than the backend's */
    /* filled by the transfer: */
    long retry_after_ms;    /* the answer's Retry-After; -1 if none */
    int first_byte_timeout; /* stopped for want of a first byte */
    int got_head;           /* a response head arrived */
    long long started_ms;
} aigw__attempt_io;

#define AIGW__ATTEMPT_IO_INIT                                                                      \
    { 0, 0, 0, -1, 0, 0, 0 }

/* Bodies (buffered, or error bodies) larger than this are refused. */
#define AIGW__MAX_RESPONSE_BYTES (64u * 1024u * 1024u)

/* Sends `req` to the backend. With a sink, a 2xx body streams into it;
 * anything else (and every body without a sink) is buffered in res->body.
 * Connection failures map to AIGW_ECONNECT, timeouts to AIGW_ETIMEOUT, other
 * curl errors to AIGW_ETRANSPORT, each naming the backend. A sink stop
 * returns AIGW_ESTOPPED unless the sink set its own error. */
aigw_status aigw__transport_perform(aigw__transport *t, const aigw__backend *backend,
                                    const aigw__upstream_request *req, aigw__body_sink sink,
                                    void *user, aigw__attempt_io *io, aigw__http_result *res,
                                    aigw_error **err);
void aigw__http_result_free(aigw__http_result *res);

/* Shared by the synchronous transport and the async engine: */

/* Sets up `easy` to send `req` to backend `b` (URL, method and body,
 * headers, timeouts, protocols, error buffer), writing through
 * write_cb(write_data). `io` (may be NULL; must outlive the transfer)
 * narrows the timeouts and receives the Retry-After header. */
void aigw__transport_setup_easy(CURL *easy, const aigw__backend *b,
                                const aigw__upstream_request *req, curl_write_callback write_cb,
                                void *write_data, char *errbuf, aigw__attempt_io *io);

/* The error of a transfer stopped for want of a first byte (io's limit). */
aigw_status aigw__transport_first_byte_error(const aigw__backend *b, const aigw__attempt_io *io,
                                             aigw_error **err);

/* What went wrong with a transfer: curl's code, its error buffer, the HTTP
 * status if one arrived (0 if none), and how many body bytes had come.
 * Refused → AIGW_ECONNECT, timeouts → AIGW_ETIMEOUT, cut bodies →
 * AIGW_ETRUNCATED, malformed HTTP → AIGW_EBADRESPONSE, each naming the
 * backend. */
aigw_status aigw__transport_map_error(const aigw__backend *b, CURLcode rc, const char *errbuf,
                                      long http_status, int status_known, size_t received,
                                      aigw_error **err);

#endif
