/* SPDX-License-Identifier: Apache-2.0 */
/* Routing simulated provider APIs. Each provider module (sim_openai.c, …)
 * registers a sim_provider: the paths it serves, how it checks the API key
 * and how it shapes an error. The router answers /sim/ introspection itself,
 * applies the per-request faults and replays, then calls the handler. */
#ifndef AIGW_SIM_ROUTER_H
#define AIGW_SIM_ROUTER_H

#include "sim_http.h"

typedef void (*sim_handler_fn)(const sim_request *req, sim_response *res);

typedef struct sim_route {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* fnmatch(3) pattern with FNM_PATHNAME: "/v1/models/ *" */
    sim_handler_fn handler;
} sim_route;

typedef struct sim_provider {
    const char *name;
    const char *prefix; /* paths it owns when no route matches (404s, auth), e.g. "/v1/" */
    const sim_route *routes;
    size_t nroutes;
    /* 1 when REQ carries API_KEY the way this provider expects it */
    int (*authorized)(const sim_request *req, const char *api_key);
    /* Fills RES with this provider's error body for STATUS. MESSAGE may be
     * NULL for the provider's usual message for that status. */
    void (*error)(sim_response *res, int status, const char *message);
} sim_provider;

typedef struct sim_config {
    const char *api_key;        /* NULL: no auth */
    const char *recordings_dir; /* NULL: no replay */
} sim_config;

void sim_router_init(const sim_config *cfg);
void sim_router_register(const sim_provider *p);
/* The sim_dispatch_fn for sim_http_listen. */
void sim_router_dispatch(sim_request *req, sim_response *res, void *user);
void sim_router_free(void);

/* Sets the default fault (--fault, POST /sim/fault): SPEC (LEN bytes) is a
 * fault spec plus an optional "count=N" (only the next N provider requests
 * get it, then it clears); every provider request without x-sim-fault or a
 * "sim_fault" body field of its own gets it. An empty SPEC clears it.
 * Returns 0, or -1 with a message in ERR (the old default stays). */
int sim_router_set_default_fault(const char *spec, size_t len, char *err, size_t errlen);

/* Provider modules: each defines its register function; sim_main.c lists them. */
void sim_openai_register(void);

/* Replay (sim_replay.c): answers RES with interaction 0 of DIR/NAME.yaml.
 * Returns 0, or -1 with a message in ERR (and *STATUS_OUT the HTTP status to
 * report: 404 for an unknown name, 500 for a bad file). */
int sim_replay(const char *dir, const char *name, sim_response *res, int *status_out, char *err,
               size_t errlen);

/* Shared helpers for provider modules. */
size_t sim_count_words(const char *s, size_t len);

#endif
