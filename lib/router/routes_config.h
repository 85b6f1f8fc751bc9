/* SPDX-License-Identifier: Apache-2.0 */
/* The config's "routes" section: which models go to which backends, with
 * what weights, priorities, model rewrites, retries and timeouts.
 *
 *   "routes": [
 *     { "name": "chat", "match": { "model": "gpt-*", "headers": { "x-team": "search" } },
 *       "backends": [ { "backend": "azure", "weight": 3, "priority": 0,
 *                       "model": "${AZURE_DEPLOYMENT}" },
 *                     { "backend": "openai", "weight": 1 } ],
 *       "retry": { "attempts": 3, "backoff_ms": 100, "max_backoff_ms": 2000,
 *                  "timeouts_ms": { "connect": 2000, "first_byte": 30000,
 *                                   "total": 120000 } } } ]
 *
 * Loading validates everything and names the JSON path and the reason of
 * the first problem, e.g. `routes[2].backends[0]: unknown backend "azur"`.
 * "${NAME}" inside a string value is replaced by the environment variable
 * NAME at load ("$${" gives a literal "${"); an unset variable is an error
 * naming it. */
#ifndef AIGW_ROUTER_ROUTES_CONFIG_H
#define AIGW_ROUTER_ROUTES_CONFIG_H

#include <stddef.h>
#include <json-c/json.h>

#include "aigw/error.h"

/* Limits and defaults. */
#define AIGW__ROUTE_MAX_WEIGHT 1000000
#define AIGW__ROUTE_MAX_PRIORITY 1000
#define AIGW__ROUTE_MAX_ATTEMPTS 20
#define AIGW__ROUTE_MAX_MS 86400000L
#define AIGW__ROUTE_DEFAULT_ATTEMPTS 3
#define AIGW__ROUTE_DEFAULT_BACKOFF_MS 100L
#define AIGW__ROUTE_DEFAULT_MAX_BACKOFF_MS 10000L

/* One backend a route may send to. */
typedef struct aigw__route_backend {
    char *backend;   /* a known backend's name */
    char *model;     /* the upstream model name, or NULL: the requested one */
    unsigned weight; /* share inside its priority tier (default 1; 0 = only
                        after the weighted ones of its tier) */
    int priority;    /* lower tiers are tried first (default 0) */
} aigw__route_backend;

/* A header the request must carry: name lower-cased, value compared exactly. */
typedef struct aigw__route_header {
    char *name;
    char *value;
} aigw__route_header;

/* A route's retry budget and timeouts; 0 timeouts mean "the backend's own". */
typedef struct aigw__retry_config {
    unsigned attempts;   /* attempts in all, >= 1 (default 3) */
    long backoff_ms;     /* base of the exponential backoff (default 100) */
    long max_backoff_ms; /* cap of one backoff (default 10000) */
    long connect_ms;     /* timeouts_ms.connect */
    long first_byte_ms;  /* timeouts_ms.first_byte */
    long total_ms;       /* timeouts_ms.total: all attempts and waits */
} aigw__retry_config;

typedef struct aigw__route {
    char *name;       /* "name", else "routes[i]": budgets' "route" scope, logs */
    char *model_glob; /* fnmatch(3) pattern; NULL matches every model */
    aigw__route_header *headers;
    size_t n_headers;
    aigw__route_backend *backends; /* in config order, n_backends >= 1 */
    size_t n_backends;
    aigw__retry_config retry;
} aigw__route;

typedef struct aigw__routes {
    aigw__route *routes; /* in config order: the first match wins */
    size_t n;
} aigw__routes;

/* Looks up an environment variable: its value, or NULL if unset. */
typedef const char *(*aigw__getenv_fn)(void *ctx, const char *name);

typedef struct aigw__routes_load_options {
    const char *const *known_backends; /* the names a route may use */
    size_t n_known;
    aigw__getenv_fn getenv_fn; /* NULL: getenv(3) */
    void *getenv_ctx;
} aigw__routes_load_options;

/* Loads the value of the config's "routes" key (NULL: no routes) into *out
 * (which the caller frees with aigw__routes_free, also after a failure).
 * AIGW_ECONFIG with the JSON path and reason, or AIGW_ENOMEM. */
aigw_status aigw__routes_load(json_object *routes, const aigw__routes_load_options *opts,
                              aigw__routes *out, aigw_error **err);

/* Parses a whole config document's text and loads its "routes" member
 * (other members are ignored: the client's config loader checks them). */
aigw_status aigw__routes_load_text(const char *text, size_t len,
                                   const aigw__routes_load_options *opts, aigw__routes *out,
                                   aigw_error **err);

void aigw__routes_free(aigw__routes *routes);

/* As getenv_fn: the strings were expanded already (the client expands the
 * whole config document); taken literally. */
#define aigw__routes_expanded ((aigw__getenv_fn)1)

/* Expands "${NAME}" references in `in` into a new string (*out, from
 * aigw__malloc). `path` prefixes errors. */
aigw_status aigw__routes_expand_env(const char *in, const char *path, aigw__getenv_fn getenv_fn,
                                    void *getenv_ctx, char **out, aigw_error **err);

#endif
