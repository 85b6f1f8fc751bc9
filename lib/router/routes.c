/* SPDX-License-Identifier: Apache-2.0 */
/* Matching requests to routes and ordering a route's backends. */
#include "router/routes.h"

#include <fnmatch.h>
#include <string.h>
#include <time.h>

static int headers_match(const aigw__route *r, aigw__header_lookup_fn lookup, void *lookup_ctx) {
    for (size_t j = 0; j < r->n_headers; j++) {
        const char *v = lookup ? lookup(lookup_ctx, r->headers[j].name) : NULL;
        if (!v || strcmp(v, r->headers[j].value) != 0)
            return 0;
    }
    return 1;
}

const aigw__route *aigw__routes_match(const aigw__routes *routes, const char *model,
                                      aigw__header_lookup_fn lookup, void *lookup_ctx) {
    if (!routes || !model)
        return NULL;
    for (size_t i = 0; i < routes->n; i++) {
        const aigw__route *r = &routes->routes[i];
        if (r->model_glob && fnmatch(r->model_glob, model, 0) != 0)
            continue;
        if (headers_match(r, lookup, lookup_ctx))
            return r;
    }
    return NULL;
}

const aigw__route *aigw__routes_pin(const aigw__routes *routes, const char *backend,
                                    const char *model, aigw__header_lookup_fn lookup,
                                    void *lookup_ctx) {
    if (!routes || !backend || !model)
        return NULL;
    for (size_t i = 0; i < routes->n; i++) {
        const aigw__route *r = &routes->routes[i];
        int glob_ok = !r->model_glob || fnmatch(r->model_glob, model, 0) == 0;
        for (size_t j = 0; j < r->n_backends; j++) {
            const aigw__route_backend *t = &r->backends[j];
            if (strcmp(t->backend, backend) != 0)
                continue;
            if ((t->model ? strcmp(t->model, model) == 0 : glob_ok) &&
                headers_match(r, lookup, lookup_ctx))
                return r;
        }
    }
    return NULL;
}

size_t aigw__routes_models(const aigw__routes *routes, const char **out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; routes && i < routes->n; i++) {
        const char *m = routes->routes[i].model_glob;
        if (!m || strpbrk(m, "*?[\\"))
            continue;
        size_t j = 0;
        while (j < i && !(routes->routes[j].model_glob && !strcmp(routes->routes[j].model_glob, m)))
            j++;
        if (j < i)
            continue;
        if (n < cap)
            out[n] = m;
        n++;
    }
    return n;
}

uint64_t aigw__rand_splitmix(void *ctx) {
    uint64_t *state = ctx;
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t aigw__rand_default(void *ctx) {
    static _Thread_local uint64_t state;
    static _Thread_local int seeded;
    (void)ctx;
    if (!seeded) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&state;
        seeded = 1;
    }
    return aigw__rand_splitmix(&state);
}

/* Picks a uniformly random value below n (n > 0); the modulo bias is below
 * 2^-40 for the weights a route can hold. */
static uint64_t below(aigw__rand_fn rnd, void *ctx, uint64_t n) {
    return rnd(ctx) % n;
}

void aigw__routes_plan(const aigw__route *route, aigw__health *health, aigw__rand_fn rnd,
                       void *rnd_ctx, aigw__plan_entry *plan, size_t *n) {
    size_t count = 0, nb = route->n_backends;
    if (!rnd)
        rnd = aigw__rand_default;
    /* Best ejected backend so far, for the all-ejected case. */
    const aigw__route_backend *best = NULL;
    uint64_t best_until = 0;
    int prio = -1;
    for (;;) {
        /* The next tier: the lowest priority above the last one. */
        int next = -1;
        for (size_t i = 0; i < nb; i++) {
            int p = route->backends[i].priority;
            if (p > prio && (next < 0 || p < next))
                next = p;
        }
        if (next < 0)
            break;
        prio = next;
        size_t first = count;
        uint64_t total = 0;
        /* Collect the tier's healthy weighted backends into plan[first..count). */
        for (size_t i = 0; i < nb; i++) {
            const aigw__route_backend *b = &route->backends[i];
            if (b->priority != prio)
                continue;
            uint64_t until = 0;
            if (aigw__health_state_of(health, b->backend, &until) == AIGW__HEALTH_EJECTED) {
                if (!best ||
                    (best->priority == b->priority &&
                     (until < best_until || (until == best_until && b->weight > best->weight)))) {
                    best = b;
                    best_until = until;
                }
                continue;
            }
            if (b->weight) {
                plan[count++] = (aigw__plan_entry){b, 0};
                total += b->weight;
            }
        }
        /* Order them by weighted draws without replacement. */
        for (size_t k = first; k + 1 < count; k++) {
            uint64_t r = below(rnd, rnd_ctx, total), acc = 0;
            size_t pick = k;
            for (size_t m = k; m < count; m++) {
                acc += plan[m].target->weight;
                if (r < acc) {
                    pick = m;
                    break;
                }
            }
            aigw__plan_entry tmp = plan[k];
            plan[k] = plan[pick];
            plan[pick] = tmp;
            total -= plan[k].target->weight;
        }
        /* Then the tier's healthy weight-0 backends. */
        for (size_t i = 0; i < nb; i++) {
            const aigw__route_backend *b = &route->backends[i];
            if (b->priority == prio && !b->weight &&
                aigw__health_state_of(health, b->backend, NULL) != AIGW__HEALTH_EJECTED)
                plan[count++] = (aigw__plan_entry){b, 0};
        }
    }
    if (!count && best)
        plan[count++] = (aigw__plan_entry){best, 1};
    *n = count;
}
