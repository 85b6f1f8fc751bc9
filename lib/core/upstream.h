/* SPDX-License-Identifier: Apache-2.0 */
/* An upstream HTTP request as the adapter builds it and the credentials
 * stage signs it, before the transport sends it. */
#ifndef AIGW_CORE_UPSTREAM_H
#define AIGW_CORE_UPSTREAM_H

#include <curl/curl.h>

#include "core/buf.h"

typedef struct aigw__upstream_request {
    const char *method; /* "GET" or "POST" (static string) */
    aigw__buf url;
    struct curl_slist *headers; /* "Name: value" lines */
    aigw__buf body;
    /* Ask for a compressed answer (Accept-Encoding, decoded by curl): only
     * embeddings, whose answers run to megabytes; chat answers are small or
     * streamed, and asking costs every transfer ~8 k instructions in curl. */
    int accept_compressed;
} aigw__upstream_request;

void aigw__upstream_request_free(aigw__upstream_request *req);

#endif
