/* SPDX-License-Identifier: Apache-2.0 */
/* Small blocking HTTP exchanges for the credentials stage (token
 * endpoints, STS, metadata endpoints): one request, the whole answer
 * buffered. Not for model traffic. */
#ifndef AIGW_TRANSPORT_FETCH_H
#define AIGW_TRANSPORT_FETCH_H

#include <curl/curl.h>

#include "aigw/error.h"
#include "core/buf.h"

typedef struct aigw__fetch_request {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const struct curl_slist *headers; /* may be NULL */
    const char *body;                 /* POST body, may be NULL */
    size_t body_len;
    long timeout_ms; /* 0: 30 s */
    /* Names the exchange in errors, e.g. "credential \"corp\": token endpoint". */
    const char *what;
} aigw__fetch_request;

/* Sends the request; *status gets the HTTP status and `body` the answer
 * (at most 1 MiB). Connection failures give AIGW_ECONNECT, timeouts
 * AIGW_ETIMEOUT, each naming `what` and the URL's host, never a body (a
 * token endpoint's answer holds secrets). A non-2xx status is not an error
 * here: the caller reads the body for the provider's reason. */
aigw_status aigw__fetch(const aigw__fetch_request *req, long *status, aigw__buf *body,
                        aigw_error **err);

/* application/x-www-form-urlencoded: appends "&name=value" (no '&' first),
 * both escaped. */
aigw_status aigw__form_add(aigw__buf *form, const char *name, const char *value);

#endif
