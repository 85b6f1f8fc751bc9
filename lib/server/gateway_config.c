/* SPDX-License-Identifier: Apache-2.0 */
/* The config's "gateway" section: parsed and validated strictly, every
 * error naming its JSON path (see aigw/serve.h for the keys). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account/accountant.h"
#include "aigw/call.h"
#include "core/alloc.h"
#include "core/call_access.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "server/gateway.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

aigw_status aigw__gw_parse_listen(const char *text, char **host, int *port, aigw_error **err) {
    const char *colon, *h = text;
    size_t hlen;
    *host = NULL;
    if (!text || !*text)
        return aigw__error_set(err, AIGW_ECONFIG, "listen: must be HOST:PORT");
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return aigw__error_set(err, AIGW_ECONFIG, "listen: '%s' must be [IPV6]:PORT", text);
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return aigw__error_set(err, AIGW_ECONFIG, "listen: '%s' must be HOST:PORT", text);
        hlen = (size_t)(colon - text);
    }
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535)
        return aigw__error_set(err, AIGW_ECONFIG, "listen: '%s': port must be 0..65535", text);
    if (hlen == 0) {
        h = "127.0.0.1";
        hlen = strlen(h);
    }
    if (!(*host = aigw__strndup(h, hlen)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    *port = (int)p;
    return AIGW_OK;
}

int aigw__gw_host_is_loopback(const char *host) {
    unsigned char a[16];
    if (!host)
        return 1; /* the default, 127.0.0.1 */
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char v6_loopback[16] = {[15] = 1};
        static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(a, v6_loopback, 16) == 0)
            return 1;
        return memcmp(a, v4_mapped, 12) == 0 && a[12] == 127;
    }
    return 0; /* any other name may resolve to a public address */
}

aigw_status aigw__gw_check_open(const aigw__gw_config *cfg, const char *host, int port,
                                int allow_open, aigw_error **err) {
    if (cfg->n_keys > 0 || allow_open || cfg->allow_open || aigw__gw_host_is_loopback(host))
        return AIGW_OK;
    int v6 = host && strchr(host, ':') != NULL;
    return aigw__error_set(err, AIGW_ECONFIG,
                           "gateway: refusing to listen on %s%s%s:%d with no keys (gateway.keys): "
                           "anyone who can reach it could use your providers' credentials; add "
                           "gateway.keys, listen on 127.0.0.1, or allow an open gateway with "
                           "\"gateway\": {\"allow_open\": true} (aigw-cli serve --allow-open)",
                           v6 ? "[" : "", host, v6 ? "]" : "", port);
}

static aigw_status get_uint(json_object *v, const char *path, long long min, long long max,
                            long long *out, aigw_error **err) {
    if (!json_object_is_type(v, json_type_int))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an integer", path);
    long long n = json_object_get_int64(v);
    if (n < min || n > max)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be %lld..%lld", path, min, max);
    *out = n;
    return AIGW_OK;
}

static aigw_status get_str(json_object *v, const char *path, char **out, aigw_error **err) {
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be a non-empty string", path);
    if (!(*out = aigw__strdup(json_object_get_string(v))))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

/* A non-empty array of non-empty strings into *out (n strings). */
static aigw_status get_str_list(json_object *v, const char *path, char ***out, size_t *n,
                                aigw_error **err) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be a non-empty array of strings", path);
    size_t count = json_object_array_length(v);
    if (!(*out = aigw__calloc(count, sizeof **out)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) == 0)
            return aigw__error_set(err, AIGW_ECONFIG, "%s[%zu]: must be a non-empty string", path,
                                   i);
        if (!((*out)[i] = aigw__strdup(json_object_get_string(e))))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        *n = i + 1;
    }
    return AIGW_OK;
}

static aigw_status load_key(aigw__gw_key *k, json_object *o, size_t i, aigw_error **err) {
    char path[96];
    aigw_status st;
    int have_hash = 0;
    if (!json_object_is_type(o, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "gateway.keys[%zu]: must be an object", i);
    json_object_object_foreach(o, key, val) {
        snprintf(path, sizeof(path), "gateway.keys[%zu].%s", i, key);
        if (strcmp(key, "sha256") == 0) {
            const char *s =
                json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
            if (!s || strlen(s) != 64)
                return aigw__error_set(err, AIGW_ECONFIG, "%s: must be 64 hex digits", path);
            for (int j = 0; j < 32; j++) {
                int hi = hexval(s[2 * j]), lo = hexval(s[2 * j + 1]);
                if (hi < 0 || lo < 0)
                    return aigw__error_set(err, AIGW_ECONFIG, "%s: must be 64 hex digits", path);
                k->sha256[j] = (unsigned char)(hi << 4 | lo);
            }
            have_hash = 1;
        } else if (strcmp(key, "name") == 0) {
            if ((st = get_str(val, path, &k->name, err)) != AIGW_OK)
                return st;
        } else if (strcmp(key, "team") == 0) {
            if ((st = get_str(val, path, &k->team, err)) != AIGW_OK)
                return st;
        } else if (strcmp(key, "user") == 0) {
            if ((st = get_str(val, path, &k->user, err)) != AIGW_OK)
                return st;
        } else if (strcmp(key, "trusted_user_header") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                return aigw__error_set(err, AIGW_ECONFIG, "%s: must be true or false", path);
            k->trusted_user_header = json_object_get_boolean(val);
        } else if (strcmp(key, "models") == 0) {
            if ((st = get_str_list(val, path, &k->models, &k->n_models, err)) != AIGW_OK)
                return st;
        } else if (strcmp(key, "routes") == 0) {
            if ((st = get_str_list(val, path, &k->routes, &k->n_routes, err)) != AIGW_OK)
                return st;
        } else {
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "gateway.keys[%zu]: unknown key \"%s\" (known: sha256, name, "
                                   "team, user, trusted_user_header, models, routes)",
                                   i, key);
        }
    }
    if (!have_hash)
        return aigw__error_set(err, AIGW_ECONFIG, "gateway.keys[%zu].sha256: missing", i);
    if (!k->name) {
        snprintf(path, sizeof(path), "key%zu", i);
        if (!(k->name = aigw__strdup(path)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return AIGW_OK;
}

/* The JSON-body and shared-connection keys of gateway.limits (the others
 * are the HTTP server's); 1 when key was one of them. */
static int load_body_limit(aigw__gw_config *cfg, const char *key, json_object *val,
                           const char *path, aigw_status *st, aigw_error **err) {
    long long n = 0;
    if (strcmp(key, "json_max_depth") == 0) {
        if ((*st = get_uint(val, path, 1, AIGW__GW_MAX_JSON_DEPTH, &n, err)) == AIGW_OK)
            cfg->json_limits.max_depth = (size_t)n;
    } else if (strcmp(key, "json_max_elements") == 0) {
        if ((*st = get_uint(val, path, 1, INT_MAX, &n, err)) == AIGW_OK)
            cfg->json_limits.max_elements = (size_t)n;
    } else if (strcmp(key, "json_max_string_bytes") == 0) {
        if ((*st = get_uint(val, path, 1, INT_MAX, &n, err)) == AIGW_OK)
            cfg->json_limits.max_string_bytes = (size_t)n;
    } else if (strcmp(key, "json_offload_bytes") == 0) {
        if ((*st = get_uint(val, path, 1, INT_MAX, &n, err)) == AIGW_OK)
            cfg->json_offload_bytes = (size_t)n;
    } else if (strcmp(key, "max_connections_per_client") == 0) {
        if ((*st = get_uint(val, path, 1, INT_MAX, &n, err)) == AIGW_OK)
            cfg->limits.max_connections_per_client = (unsigned int)n;
    } else if (strcmp(key, "max_inflight_body_bytes") == 0) {
        if ((*st = get_uint(val, path, 1, 1LL << 40, &n, err)) == AIGW_OK)
            cfg->limits.max_inflight_body_bytes = (size_t)n;
    } else {
        return 0;
    }
    return 1;
}

static aigw_status load_limits(aigw__gw_config *cfg, json_object *o, aigw_error **err) {
    aigw__http_server_options *l = &cfg->limits;
    static const char *const names[] = {
        "max_body_bytes",    "max_header_bytes",   "max_headers",     "max_connections",
        "header_timeout_ms", "request_timeout_ms", "idle_timeout_ms", "send_timeout_ms"};
    char path[96];
    long long n = 0;
    aigw_status st;
    if (!json_object_is_type(o, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "gateway.limits: must be an object");
    json_object_object_foreach(o, key, val) {
        size_t i;
        snprintf(path, sizeof(path), "gateway.limits.%s", key);
        st = AIGW_OK;
        if (load_body_limit(cfg, key, val, path, &st, err)) {
            if (st != AIGW_OK)
                return st;
            continue;
        }
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strcmp(key, names[i]) == 0)
                break;
        if (i == sizeof(names) / sizeof(names[0]))
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "gateway.limits: unknown key \"%s\" (known: max_body_bytes, "
                                   "max_header_bytes, max_headers, max_connections, "
                                   "max_connections_per_client, max_inflight_body_bytes, "
                                   "header_timeout_ms, request_timeout_ms, idle_timeout_ms, "
                                   "send_timeout_ms, json_max_depth, json_max_elements, "
                                   "json_max_string_bytes, json_offload_bytes)",
                                   key);
        long long max = i >= 4 ? 86400000LL : (long long)INT_MAX;
        if ((st = get_uint(val, path, 1, max, &n, err)) != AIGW_OK)
            return st;
        switch (i) {
        case 0:
            l->max_body_bytes = (size_t)n;
            break;
        case 1:
            l->max_header_bytes = (size_t)n;
            break;
        case 2:
            l->max_headers = (size_t)n;
            break;
        case 3:
            l->max_connections = (unsigned int)n;
            break;
        case 4:
            l->header_timeout_ms = (uint64_t)n;
            break;
        case 5:
            l->request_timeout_ms = (uint64_t)n;
            break;
        case 6:
            l->idle_timeout_ms = (uint64_t)n;
            break;
        default:
            l->send_timeout_ms = (uint64_t)n;
            break;
        }
    }
    return AIGW_OK;
}

/* gateway.metrics_key_sha256 and gateway.metrics_listen. */
static aigw_status load_metrics_key(aigw__gw_config *cfg, const char *key, json_object *val,
                                    aigw_error **err) {
    const char *s = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
    if (strcmp(key, "metrics_listen") == 0) {
        if (!s)
            return aigw__error_set(err, AIGW_ECONFIG, "gateway.metrics_listen: must be a string");
        aigw_status st = aigw__gw_parse_listen(s, &cfg->metrics_host, &cfg->metrics_port, NULL);
        if (st != AIGW_OK)
            return aigw__error_set(err, st == AIGW_ECONFIG ? AIGW_ECONFIG : st,
                                   "gateway.metrics_listen: '%s' must be HOST:PORT", s);
        return AIGW_OK;
    }
    if (!s || strlen(s) != 64)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "gateway.metrics_key_sha256: must be 64 hex digits");
    for (int j = 0; j < 32; j++) {
        int hi = hexval(s[2 * j]), lo = hexval(s[2 * j + 1]);
        if (hi < 0 || lo < 0)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "gateway.metrics_key_sha256: must be 64 hex digits");
        cfg->metrics_sha256[j] = (unsigned char)(hi << 4 | lo);
    }
    cfg->has_metrics_key = 1;
    return AIGW_OK;
}

aigw_status aigw__gw_config_load(aigw__gw_config *cfg, json_object *gw, aigw_error **err) {
    aigw_status st = AIGW_OK;
    long long n = 0;
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = -1;
    cfg->shutdown_timeout_ms = 30000;
    cfg->json_limits.max_depth = AIGW__GW_DEF_JSON_MAX_DEPTH;
    cfg->json_limits.max_elements = AIGW__GW_DEF_JSON_MAX_ELEMENTS;
    cfg->json_limits.max_string_bytes = AIGW__GW_DEF_JSON_MAX_STRING;
    cfg->json_offload_bytes = AIGW__GW_DEF_JSON_OFFLOAD;
    cfg->metrics_port = -1;
    if (!gw)
        return AIGW_OK;
    if (!json_object_is_type(gw, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "gateway: must be an object");
    json_object_object_foreach(gw, key, val) {
        if (strcmp(key, "listen") == 0) {
            if (!json_object_is_type(val, json_type_string)) {
                st = aigw__error_set(err, AIGW_ECONFIG, "gateway.listen: must be a string");
            } else if ((st = aigw__gw_parse_listen(json_object_get_string(val), &cfg->host,
                                                   &cfg->port, err)) != AIGW_OK) {
                if (err && *err && st == AIGW_ECONFIG) {
                    aigw__buf b = AIGW__BUF_INIT;
                    aigw__buf_printf(&b, "gateway.%s", aigw_error_message(*err));
                    aigw_error_free(*err);
                    *err = NULL;
                    st = aigw__error_set(err, AIGW_ECONFIG, "%s", b.data ? b.data : "listen");
                    aigw__buf_free(&b);
                }
            }
        } else if (strcmp(key, "workers") == 0) {
            if ((st = get_uint(val, "gateway.workers", 1, 1024, &n, err)) == AIGW_OK)
                cfg->workers = (unsigned int)n;
        } else if (strcmp(key, "shutdown_timeout_ms") == 0) {
            if ((st = get_uint(val, "gateway.shutdown_timeout_ms", 0, 86400000LL, &n, err)) ==
                AIGW_OK)
                cfg->shutdown_timeout_ms = (uint64_t)n;
        } else if (strcmp(key, "keys") == 0) {
            if (!json_object_is_type(val, json_type_array)) {
                st = aigw__error_set(err, AIGW_ECONFIG, "gateway.keys: must be an array");
                goto out;
            }
            size_t count = json_object_array_length(val);
            if (count && !(cfg->keys = aigw__calloc(count, sizeof(*cfg->keys)))) {
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < count; i++) {
                cfg->n_keys = i + 1;
                if ((st = load_key(&cfg->keys[i], json_object_array_get_idx(val, i), i, err)) !=
                    AIGW_OK)
                    goto out;
            }
        } else if (strcmp(key, "limits") == 0) {
            st = load_limits(cfg, val, err);
        } else if (strcmp(key, "metrics_key_sha256") == 0 || strcmp(key, "metrics_listen") == 0) {
            st = load_metrics_key(cfg, key, val, err);
        } else if (strcmp(key, "allow_open") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                st =
                    aigw__error_set(err, AIGW_ECONFIG, "gateway.allow_open: must be true or false");
            else
                cfg->allow_open = json_object_get_boolean(val);
        } else if (strcmp(key, "user_header") == 0) {
            const char *h = json_object_get_string(val);
            if (!json_object_is_type(val, json_type_string) || !*h || strpbrk(h, " :\r\n\t"))
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "gateway.user_header: must be a header name");
            else if (!(cfg->user_header = aigw__strdup(h)))
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        } else if (strcmp(key, "allow_direct_backends") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "gateway.allow_direct_backends: must be true or false");
            else
                cfg->direct_rule = json_object_get_boolean(val) ? 1 : 2;
        } else {
            st = aigw__error_set(err, AIGW_ECONFIG,
                                 "gateway: unknown key \"%s\" (known: listen, workers, "
                                 "shutdown_timeout_ms, keys, allow_open, limits, user_header, "
                                 "allow_direct_backends, metrics_key_sha256, metrics_listen)",
                                 key);
        }
        if (st != AIGW_OK)
            goto out;
    }
out:
    if (st != AIGW_OK)
        aigw__gw_config_free(cfg);
    return st;
}

static void free_list(char **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        aigw__free(list[i]);
    aigw__free(list);
}

void aigw__gw_config_free(aigw__gw_config *cfg) {
    for (size_t i = 0; i < cfg->n_keys; i++) {
        aigw__free(cfg->keys[i].name);
        aigw__free(cfg->keys[i].team);
        aigw__free(cfg->keys[i].user);
        free_list(cfg->keys[i].models, cfg->keys[i].n_models);
        free_list(cfg->keys[i].routes, cfg->keys[i].n_routes);
    }
    aigw__free(cfg->keys);
    aigw__free(cfg->host);
    aigw__free(cfg->user_header);
    aigw__free(cfg->metrics_host);
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = -1;
    cfg->metrics_port = -1;
}

aigw_status aigw__gw_config_check_client(const aigw__gw_config *cfg, aigw_client *client,
                                         aigw_error **err) {
    int trusted_user = 0;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        const aigw__gw_key *k = &cfg->keys[i];
        trusted_user |= k->user || k->trusted_user_header;
        for (size_t j = 0; j < k->n_routes; j++) {
            size_t r = 0;
            while (r < client->routes.n && strcmp(client->routes.routes[r].name, k->routes[j]))
                r++;
            if (r == client->routes.n && strcmp(k->routes[j], AIGW__DIRECT_ROUTE) != 0)
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "gateway.keys[%zu].routes[%zu]: unknown route \"%s\" "
                                       "(a route's name, or \"direct\")",
                                       i, j, k->routes[j]);
        }
    }
    if (trusted_user || !client->accountant)
        return AIGW_OK;
    /* Users named by the request itself would each get a fresh quota. */
    const aigw__budget_set *set = aigw__accountant_budgets(client->accountant);
    for (size_t i = 0; i < set->n; i++)
        if (set->items[i].scope[AIGW__SCOPE_USER].mode != AIGW__SCOPE_ANY)
            return aigw__error_set(
                err, AIGW_ECONFIG,
                "budgets[%zu].scope.user: serve has no trusted user identity: %s; give a key "
                "\"user\" or \"trusted_user_header\": true (gateway.keys[].*), or the budget "
                "would count whatever user each client names",
                set->items[i].index,
                cfg->n_keys ? "no gateway key has \"user\" or \"trusted_user_header\": true"
                            : "no gateway keys (gateway.keys): every client is anonymous");
    return AIGW_OK;
}

aigw_status aigw_config_check(const char *path, aigw_error **err) {
    if (!path)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_config_check: path is NULL");
    aigw_client *client = NULL;
    aigw_status st = aigw_client_new_from_file(&client, path, err);
    if (st)
        return st;
    aigw__gw_config cfg;
    st = aigw__gw_config_load(&cfg, client->gateway, err);
    if (!st) {
        /* serve's rules for the rest of the config, when it has a gateway */
        if (client->gateway)
            st = aigw__gw_config_check_client(&cfg, client, err);
        aigw__gw_config_free(&cfg);
    }
    aigw_client_free(client);
    return st;
}
