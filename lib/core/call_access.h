/* SPDX-License-Identifier: Apache-2.0 */
/* What a caller may reach, beyond the client's own rules: the gateway sets
 * it per request from the caller's key (aigw__call_async_parsed); library
 * calls have none (NULL: the client's rules alone).
 *
 * Direct backend access ("backend/model", or a bare name for the default
 * backend, that no route matches) follows the config's
 * routing.allow_direct_backends unless `direct` says otherwise: with
 * "routes" in the config it is off by default, so only routed models are
 * served. */
#ifndef AIGW_CORE_CALL_ACCESS_H
#define AIGW_CORE_CALL_ACCESS_H

#include <stddef.h>

#include "core/client_internal.h"

typedef enum aigw__direct_rule {
    AIGW__DIRECT_DEFAULT = 0, /* the client's rule (routing.allow_direct_backends) */
    AIGW__DIRECT_ALLOW,
    AIGW__DIRECT_DENY
} aigw__direct_rule;

/* The route name a direct request carries (budgets' scope.route, logs)
 * when no route covers its backend and model. */
#define AIGW__DIRECT_ROUTE "direct"

typedef struct aigw__call_access {
    aigw__direct_rule direct;
    int user_given;      /* opts->user is the whole identity: the
                            request's "user" field is not read */
    char *const *models; /* fnmatch globs of the model names the caller may ask for */
    size_t n_models;     /* 0 with models NULL: any model */
    char *const *routes; /* the route names it may use (AIGW__DIRECT_ROUTE included) */
    size_t n_routes;     /* 0 with routes NULL: any route */
} aigw__call_access;

/* Whether direct backend access is on for `client` under `access` (NULL:
 * the client's rule). */
int aigw__direct_allowed(const aigw_client *client, const aigw__call_access *access);

/* Whether `access` (NULL: anything) lets a request for `model` through
 * `route` (the matched route's name, or AIGW__DIRECT_ROUTE). */
int aigw__access_allows(const aigw__call_access *access, const char *model, const char *route);

/* The route name a request for `model` would go through, without request
 * headers (routes that need one do not match): a route's name, the name
 * of the route a direct "backend/model" request is pinned to, or
 * AIGW__DIRECT_ROUTE; NULL when the request would be refused (no route and
 * no direct access, or an unknown backend). For listings (/v1/models). */
const char *aigw__access_route_of(const aigw_client *client, const aigw__call_access *access,
                                  const char *model);

#endif
