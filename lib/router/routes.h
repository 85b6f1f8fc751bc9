/* SPDX-License-Identifier: Apache-2.0 */
/* Routing a request with the config's routes: which route matches, and in
 * which order its backends are attempted. */
#ifndef AIGW_ROUTER_ROUTES_H
#define AIGW_ROUTER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "router/health.h"
#include "router/routes_config.h"

/* The value of request header `name` (lower-case; compare
 * case-insensitively), or NULL if the request lacks it. */
typedef const char *(*aigw__header_lookup_fn)(void *ctx, const char *name);

/* The first route whose model glob matches `model` (fnmatch(3), no flags)
 * and whose headers the request all carries with the exact values; NULL if
 * none. `lookup` may be NULL (no headers: a route that needs one fails). */
const aigw__route *aigw__routes_match(const aigw__routes *routes, const char *model,
                                      aigw__header_lookup_fn lookup, void *lookup_ctx);

/* The route a direct request for `model` on backend `backend` is pinned
 * to: the first route (headers matching as above) that would itself send
 * `model` to `backend` — it lists `backend` with that model as its rewrite,
 * or with no rewrite and its model glob matches `model`. NULL if none.
 * That route's retry and timeouts (and its name, for budgets) then apply
 * to the direct request. */
const aigw__route *aigw__routes_pin(const aigw__routes *routes, const char *backend,
                                    const char *model, aigw__header_lookup_fn lookup,
                                    void *lookup_ctx);

/* The model names the routes serve, for /v1/models: each route's model
 * pattern that is a plain name (no '*', '?', '[' or '\\'), first
 * occurrence only, in route order, into out[0..cap); returns how many
 * there are (may exceed cap). Pointers into `routes`. */
size_t aigw__routes_models(const aigw__routes *routes, const char **out, size_t cap);

/* A uniform 64-bit random number. */
typedef uint64_t (*aigw__rand_fn)(void *ctx);

/* A seeded generator for tests: ctx points to a uint64_t state
 * (SplitMix64). */
uint64_t aigw__rand_splitmix(void *ctx);

/* The default source: a per-thread generator seeded from the clock. */
uint64_t aigw__rand_default(void *ctx);

/* One entry of an attempt plan. */
typedef struct aigw__plan_entry {
    const aigw__route_backend *target;
    int forced; /* every candidate was ejected: pass force=1 to aigw__health_begin */
} aigw__plan_entry;

/* The order to try route's backends in, into plan[0..*n) (plan has room for
 * route->n_backends entries). Tiers go by ascending priority; inside a tier
 * the healthy backends (per `health`, NULL = all healthy) are drawn by
 * weight without replacement, so the first pick follows the weights
 * re-normalised over the healthy ones; weight-0 backends follow in config
 * order. Ejected backends are left out, except that when every backend is
 * ejected the plan is the single best one (lowest priority, then soonest
 * back, then highest weight), marked forced: never fail closed. Half-open
 * backends count as healthy (aigw__health_begin then grants one probe).
 * `rnd` NULL: aigw__rand_default. */
void aigw__routes_plan(const aigw__route *route, aigw__health *health, aigw__rand_fn rnd,
                       void *rnd_ctx, aigw__plan_entry *plan, size_t *n);

/* The model to send to plan entry `t`: its rewrite, else `requested`. */
static inline const char *aigw__route_upstream_model(const aigw__route_backend *t,
                                                     const char *requested) {
    return t->model ? t->model : requested;
}

#endif
