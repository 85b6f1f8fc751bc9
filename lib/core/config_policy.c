/* SPDX-License-Identifier: Apache-2.0 */
/* The config's policy sections, loaded once the backends are known:
 * "routes" (router/routes_config.c), "outlier_ejection", "budgets"
 * (account/budget.c) and "accounting" (the budget store and estimates). */
#include <stdlib.h>
#include <string.h>

#include "account/accountant.h"
#include "account/store_redis.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "router/health.h"

/* An integer member in [lo, hi]; absent leaves *out alone. */
static aigw_status int_member(json_object *obj, const char *path, const char *key, long long lo,
                              long long hi, long long *out, aigw_error **err) {
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v))
        return AIGW_OK;
    if (!json_object_is_type(v, json_type_int))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be an integer", path, key);
    long long n = json_object_get_int64(v);
    if (n < lo || n > hi)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: %lld is out of range (%lld to %lld)",
                               path, key, n, lo, hi);
    *out = n;
    return AIGW_OK;
}

/* A non-empty string member; absent leaves *out alone. */
static aigw_status string_member(json_object *obj, const char *path, const char *key,
                                 const char **out, aigw_error **err) {
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v))
        return AIGW_OK;
    if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a non-empty string", path, key);
    *out = json_object_get_string(v);
    return AIGW_OK;
}

static aigw_status load_routes(aigw_client *client, json_object *routes, aigw_error **err) {
    const char **names = aigw__calloc(client->n_backends ? client->n_backends : 1, sizeof *names);
    if (!names)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < client->n_backends; i++)
        names[i] = client->backends[i].name;
    aigw__routes_load_options o = {names, client->n_backends, aigw__routes_expanded, NULL};
    aigw_status st = aigw__routes_load(routes, &o, &client->routes, err);
    aigw__free(names);
    return st;
}

static aigw_status load_health(aigw_client *client, json_object *conf, aigw_error **err) {
    const char *path = "outlier_ejection";
    aigw__health_options o = {0};
    if (conf) {
        if (!json_object_is_type(conf, json_type_object))
            return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
        long long threshold = AIGW__HEALTH_DEFAULT_THRESHOLD,
                  base = AIGW__HEALTH_DEFAULT_BASE_EJECT_MS,
                  max = AIGW__HEALTH_DEFAULT_MAX_EJECT_MS;
        aigw_status st;
        if ((st = aigw__json_check_keys(conf, path,
                                        "failure_threshold, base_eject_ms, max_eject_ms", err)) ||
            (st = int_member(conf, path, "failure_threshold", 1, 1000, &threshold, err)) ||
            (st = int_member(conf, path, "base_eject_ms", 1, 86400000, &base, err)) ||
            (st = int_member(conf, path, "max_eject_ms", 1, 86400000, &max, err)))
            return st;
        if (max < base)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s: max_eject_ms (%lld) must not be less than base_eject_ms "
                                   "(%lld)",
                                   path, max, base);
        o.failure_threshold = (unsigned)threshold;
        o.base_eject_ms = (uint64_t)base;
        o.max_eject_ms = (uint64_t)max;
    }
    /* Every route backend, once each. */
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < client->routes.n; i++)
        cap += client->routes.routes[i].n_backends;
    const char **names = aigw__calloc(cap ? cap : 1, sizeof *names);
    if (!names)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < client->routes.n; i++) {
        const aigw__route *r = &client->routes.routes[i];
        for (size_t j = 0; j < r->n_backends; j++) {
            size_t k = 0;
            while (k < n && strcmp(names[k], r->backends[j].backend) != 0)
                k++;
            if (k == n)
                names[n++] = r->backends[j].backend;
        }
    }
    aigw_status st = aigw__health_new(&client->health, names, n, &o, err);
    aigw__free(names);
    return st;
}

/* "accounting": {"store": {...}, "default_max_tokens": N, "max_counters": N}
 * → the store. max_counters bounds the memory store (a Redis store's keys
 * expire by themselves; it is accepted and unused there). */
static aigw_status load_store(aigw_client *client, json_object *conf, aigw__store **store,
                              long long *default_max_tokens, aigw_error **err) {
    const char *path = "accounting";
    json_object *sc = NULL;
    aigw_status st;
    long long max_counters = AIGW__STORE_DEFAULT_MAX_COUNTERS;
    client->store_type = "memory";
    if (conf) {
        if (!json_object_is_type(conf, json_type_object))
            return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
        if ((st = aigw__json_check_keys(conf, path, "store, default_max_tokens, max_counters",
                                        err)) ||
            (st = int_member(conf, path, "default_max_tokens", 0, 100000000, default_max_tokens,
                             err)) ||
            (st = int_member(conf, path, "max_counters", 1, 100000000, &max_counters, err)))
            return st;
        json_object_object_get_ex(conf, "store", &sc);
    }
    if (!sc)
        return aigw__store_memory_new_capped((size_t)max_counters, store, err);
    path = "accounting.store";
    if (!json_object_is_type(sc, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
    const char *type = NULL;
    if ((st = string_member(sc, path, "type", &type, err)))
        return st;
    if (!type)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing \"type\" (memory or redis)", path);
    if (strcmp(type, "memory") == 0) {
        if ((st = aigw__json_check_keys(sc, path, "type", err)))
            return st;
        return aigw__store_memory_new_capped((size_t)max_counters, store, err);
    }
    if (strcmp(type, "redis") != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.type: \"%s\" is not memory or redis", path,
                               type);
    client->store_type = "redis";
    aigw__redis_options ro = {0};
    long long port = 6379, pool = 4, timeout = 250;
    const char *password_env = NULL;
    if ((st = aigw__json_check_keys(
             sc, path, "type, host, port, password_env, prefix, pool_size, timeout_ms", err)) ||
        (st = string_member(sc, path, "host", &ro.host, err)) ||
        (st = int_member(sc, path, "port", 1, 65535, &port, err)) ||
        (st = string_member(sc, path, "password_env", &password_env, err)) ||
        (st = string_member(sc, path, "prefix", &ro.prefix, err)) ||
        (st = int_member(sc, path, "pool_size", 1, 256, &pool, err)) ||
        (st = int_member(sc, path, "timeout_ms", 1, 60000, &timeout, err)))
        return st;
    if (password_env && !(ro.password = getenv(password_env)))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.password_env: %s is not set", path,
                               password_env);
    ro.port = (int)port;
    ro.pool_size = (int)pool;
    ro.timeout_ms = (int)timeout;
    return aigw__store_redis_new(&ro, store, err);
}

static aigw_status load_budgets(aigw_client *client, json_object *budgets, json_object *accounting,
                                aigw_error **err) {
    if (!budgets) {
        if (accounting)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "accounting: there are no \"budgets\" to account for");
        return AIGW_OK;
    }
    aigw__budget_set *set = NULL;
    aigw_status st = aigw__budgets_parse(budgets, &set, err);
    if (st)
        return st;
    /* A budget may only name backends and routes that exist. */
    for (size_t i = 0; i < set->n && !st; i++) {
        const aigw__budget *b = &set->items[i];
        const aigw__scope_rule *be = &b->scope[AIGW__SCOPE_BACKEND];
        for (size_t j = 0; be->mode == AIGW__SCOPE_MATCH && j < be->n && !st; j++)
            if (!aigw__client_find_backend(client, be->values[j], strlen(be->values[j])))
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "budgets[%zu].scope.backend: unknown backend \"%s\"", i,
                                     be->values[j]);
        const aigw__scope_rule *ro = &b->scope[AIGW__SCOPE_ROUTE];
        for (size_t j = 0; ro->mode == AIGW__SCOPE_MATCH && j < ro->n && !st; j++) {
            size_t k = 0;
            while (k < client->routes.n && strcmp(client->routes.routes[k].name, ro->values[j]))
                k++;
            if (k == client->routes.n && strcmp(ro->values[j], "direct") != 0)
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "budgets[%zu].scope.route: unknown route \"%s\"", i,
                                     ro->values[j]);
        }
    }
    aigw__store *store = NULL;
    long long default_max_tokens = 4096;
    if (st || (st = load_store(client, accounting, &store, &default_max_tokens, err))) {
        aigw__budgets_free(set);
        return st;
    }
    if ((st = aigw__accountant_new(set, store, &client->accountant, err)))
        return st;
    aigw__accountant_set_default_max_tokens(client->accountant, default_max_tokens);
    aigw__accountant_set_logger(client->accountant, &client->logger);
    return AIGW_OK;
}

/* "routing": {"allow_direct_backends": bool}. */
static aigw_status load_routing(aigw_client *client, json_object *conf, aigw_error **err) {
    client->direct_rule = 0;
    if (!conf)
        return AIGW_OK;
    if (!json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "routing: must be an object");
    aigw_status st = aigw__json_check_keys(conf, "routing", "allow_direct_backends", err);
    if (st)
        return st;
    json_object *v;
    if (json_object_object_get_ex(conf, "allow_direct_backends", &v)) {
        if (!json_object_is_type(v, json_type_boolean))
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "routing.allow_direct_backends: must be true or false");
        client->direct_rule = json_object_get_boolean(v) ? 1 : 2;
    }
    return AIGW_OK;
}

aigw_status aigw__config_load_policy(aigw_client *client, json_object *config, aigw_error **err) {
    aigw_status st = load_routes(client, aigw__json_get(config, "routes"), err);
    if (!st)
        st = load_routing(client, aigw__json_get(config, "routing"), err);
    if (!st)
        st = load_health(client, aigw__json_get(config, "outlier_ejection"), err);
    if (!st)
        st = load_budgets(client, aigw__json_get(config, "budgets"),
                          aigw__json_get(config, "accounting"), err);
    return st;
}

void aigw__client_adopt_counters(aigw_client *client, aigw_client *old) {
    aigw__accountant_adopt_store(client->accountant, old->accountant);
}

void aigw__client_free_policy(aigw_client *client) {
    aigw__accountant_free(client->accountant);
    client->accountant = NULL;
    aigw__health_free(client->health);
    client->health = NULL;
    aigw__routes_free(&client->routes);
}
