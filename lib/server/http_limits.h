/* SPDX-License-Identifier: Apache-2.0 */
/* Limits the HTTP servers of one process share: connections in total and
 * per client address, and request-body bytes in flight.
 *
 * SO_REUSEPORT spreads one client's connections over every worker's
 * server, so a limit kept per server would multiply by the number of
 * workers; the gateway hands every worker's server the same
 * aigw__http_limits (aigw__http_server_options.shared). A server given none
 * makes its own.
 *
 *   max_connections             all servers together; the next one gets 503
 *                               (Retry-After: 1) and is closed.
 *   max_connections_per_client  per peer address (IPv6: the whole
 *                               address); the next one gets 503 and is
 *                               closed, other clients are not affected.
 *   max_inflight_body_bytes     request bodies received and not yet
 *                               released (a body is held until its
 *                               response completes): a request that would
 *                               pass it gets 503 with Retry-After, at once
 *                               when its Content-Length says so, else when
 *                               its bytes arrive.
 * Thread-safe: atomics for the totals, a mutex for the per-client table
 * (touched only on accept and close). Reference-counted, as responses can
 * outlive their server. */
#ifndef AIGW_SERVER_HTTP_LIMITS_H
#define AIGW_SERVER_HTTP_LIMITS_H

#include <stddef.h>
#include <sys/socket.h>

#define AIGW__HTTP_DEF_MAX_CONNECTIONS 4096u
#define AIGW__HTTP_DEF_MAX_CONNECTIONS_PER_CLIENT 256u
#define AIGW__HTTP_DEF_MAX_INFLIGHT_BODY ((size_t)256u * 1024u * 1024u)

typedef struct aigw__http_limits aigw__http_limits;

/* 0 picks the default. NULL when out of memory. */
aigw__http_limits *aigw__http_limits_new(unsigned int max_connections,
                                         unsigned int max_connections_per_client,
                                         size_t max_inflight_body_bytes);
aigw__http_limits *aigw__http_limits_ref(aigw__http_limits *l);
void aigw__http_limits_unref(aigw__http_limits *l);

typedef enum aigw__http_admit {
    AIGW__HTTP_ADMIT_OK = 0,
    AIGW__HTTP_ADMIT_FULL,       /* max_connections */
    AIGW__HTTP_ADMIT_CLIENT_FULL /* max_connections_per_client */
} aigw__http_admit;

/* A connection from addr (NULL: unknown, only the total applies). Every
 * AIGW__HTTP_ADMIT_OK is paired with one aigw__http_limits_leave(addr). */
aigw__http_admit aigw__http_limits_enter(aigw__http_limits *l, const struct sockaddr *addr);
void aigw__http_limits_leave(aigw__http_limits *l, const struct sockaddr *addr);
/* Connections admitted now (all servers). */
unsigned int aigw__http_limits_connections(const aigw__http_limits *l);

/* Whether n more body bytes fit now (without taking them). */
int aigw__http_limits_body_fits(const aigw__http_limits *l, size_t n);
/* Takes n body bytes: 0, or -1 (nothing taken) past the cap. */
int aigw__http_limits_body_take(aigw__http_limits *l, size_t n);
void aigw__http_limits_body_give(aigw__http_limits *l, size_t n);
/* Body bytes held now. */
size_t aigw__http_limits_body_held(const aigw__http_limits *l);

#endif
