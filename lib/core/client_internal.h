/* SPDX-License-Identifier: Apache-2.0 */
/* The client's insides, shared by the stages of the request path. */
#ifndef AIGW_CORE_CLIENT_INTERNAL_H
#define AIGW_CORE_CLIENT_INTERNAL_H

#include <json-c/json.h>

#include "aigw/client.h"
#include "core/backend.h"
#include "core/log.h"
#include "credentials/credential.h"
#include "router/routes_config.h"

struct aigw__transport;
struct aigw__health;
struct aigw__accountant;

struct aigw_client {
    aigw__backend *backends; /* config backends first, then zero-config ones */
    size_t n_backends;
    char *default_backend; /* serves bare model names */
    aigw__logger logger;
    aigw__cred_context cred_ctx; /* what credential loaders may use */
    struct aigw__transport *transport;
    json_object *gateway; /* the config's "gateway" section for serve, or NULL */
    aigw__routes routes;  /* the config's "routes" (may be empty) */
    int direct_rule; /* routing.allow_direct_backends: 0 unset, 1 true, 2 false (aigw__direct_rule)
                      */
    struct aigw__health *health;         /* outlier ejection of the routes' backends */
    struct aigw__accountant *accountant; /* NULL without "budgets" */
    const char *store_type;              /* "memory" or "redis" */
    aigw_client_options options;         /* what the client was made with (no config) */
};

/* Loads the config's "routes", "outlier_ejection", "budgets" and
 * "accounting" once the backends are known (config_policy.c). */
aigw_status aigw__config_load_policy(aigw_client *client, json_object *config, aigw_error **err);
/* A reloaded config's client goes on with the old one's in-memory budget
 * counters (config_policy.c). */
void aigw__client_adopt_counters(aigw_client *client, aigw_client *old);
/* Frees what aigw__config_load_policy made. */
void aigw__client_free_policy(aigw_client *client);

/* Replaces "${NAME}" in every string value of the config by the
 * environment variable (config_env.c). */
aigw_status aigw__config_expand_env(json_object *config, aigw_error **err);

/* Loads a parsed config object into `client` (backends, default backend),
 * validating every key; errors name the JSON path. */
aigw_status aigw__config_load(aigw_client *client, json_object *config, aigw_error **err);
/* Adds the zero-config backends (openai from OPENAI_*, mock) that the
 * config did not define itself. */
aigw_status aigw__config_add_env_backends(aigw_client *client, aigw_error **err);

/* Moves *b (zeroed afterwards) to the end of the client's backends. */
aigw_status aigw__client_add_backend(aigw_client *client, aigw__backend *b, aigw_error **err);

/* Drops the async engines registered for a client being freed (async.c). */
void aigw__async_forget_client(aigw_client *client);

const aigw__backend *aigw__client_find_backend(const aigw_client *client, const char *name,
                                               size_t name_len);

#endif
