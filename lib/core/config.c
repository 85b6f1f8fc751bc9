/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating the JSON config file. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"

const aigw__backend *aigw__client_find_backend(const aigw_client *client, const char *name,
                                               size_t name_len) {
    for (size_t i = 0; i < client->n_backends; i++) {
        const aigw__backend *b = &client->backends[i];
        if (strlen(b->name) == name_len && memcmp(b->name, name, name_len) == 0)
            return b;
    }
    return NULL;
}

aigw_status aigw__client_add_backend(aigw_client *client, aigw__backend *b, aigw_error **err) {
    aigw__backend *grown =
        aigw__reallocarray(client->backends, client->n_backends + 1, sizeof *grown);
    if (!grown)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    client->backends = grown;
    client->backends[client->n_backends++] = *b;
    memset(b, 0, sizeof *b);
    return AIGW_OK;
}

static int valid_name(const char *name) {
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return 0;
    return 1;
}

static aigw_status want_type(json_object *v, json_type type, const char *path, const char *key,
                             const char *what, aigw_error **err) {
    if (json_object_is_type(v, type))
        return AIGW_OK;
    return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be %s", path, key, what);
}

/* A string setting copied into *out. */
static aigw_status load_string(json_object *v, const char *path, const char *key, char **out,
                               aigw_error **err) {
    aigw_status st = want_type(v, json_type_string, path, key, "a string", err);
    if (st)
        return st;
    if (!*json_object_get_string(v))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must not be empty", path, key);
    aigw__free(*out);
    if (!(*out = aigw__strdup(json_object_get_string(v))))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

static aigw_status load_timeout(json_object *v, const char *path, const char *key, long *out,
                                aigw_error **err) {
    if (!json_object_is_type(v, json_type_int))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be an integer (milliseconds)", path,
                               key);
    int64_t ms = json_object_get_int64(v);
    if (ms < 0 || ms > 86400000)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: %lld is out of range (0 to 86400000 ms)",
                               path, key, (long long)ms);
    *out = (long)ms;
    return AIGW_OK;
}

static aigw_status load_headers(aigw__backend *b, json_object *headers, const char *path,
                                aigw_error **err) {
    aigw__buf line = AIGW__BUF_INIT;
    aigw_status st = AIGW_OK;
    json_object_object_foreach(headers, hname, hval) {
        if (!json_object_is_type(hval, json_type_string)) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s.headers.%s: must be a string", path, hname);
            goto out;
        }
        const char *value = json_object_get_string(hval);
        if (!*hname || strpbrk(hname, ": \t\r\n") || strpbrk(value, "\r\n")) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s.headers.%s: invalid header name or value",
                                 path, hname);
            goto out;
        }
        aigw__buf_clear(&line);
        if (aigw__buf_printf(&line, "%s: %s", hname, value))
            goto oom;
        struct curl_slist *grown = curl_slist_append(b->extra_headers, line.data);
        if (!grown)
            goto oom;
        b->extra_headers = grown;
    }
    goto out;
oom:
    st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    aigw__buf_free(&line);
    return st;
}

#define BACKEND_KEYS                                                                               \
    "schema, base_url, api_key, api_key_env, api_key_file, credential, api_version, region, "      \
    "project, location, headers, timeout_ms, connect_timeout_ms"

/* The named credentials of the config's "credentials" section, while the
 * backends that use them are loaded. */
typedef struct named_credentials {
    char **names;
    aigw__credential *creds;
    size_t n;
} named_credentials;

static void named_credentials_free(named_credentials *nc) {
    for (size_t i = 0; i < nc->n; i++) {
        aigw__free(nc->names[i]);
        aigw__credential_clear(&nc->creds[i]);
    }
    aigw__free(nc->names);
    aigw__free(nc->creds);
    memset(nc, 0, sizeof *nc);
}

static aigw_status load_credentials(json_object *section, const aigw__cred_context *ctx,
                                    named_credentials *nc, aigw_error **err) {
    if (!json_object_is_type(section, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "credentials: must be an object");
    size_t n = (size_t)json_object_object_length(section);
    if (!(nc->names = aigw__calloc(n, sizeof *nc->names)) ||
        !(nc->creds = aigw__calloc(n, sizeof *nc->creds)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    json_object_object_foreach(section, name, conf) {
        char path[256];
        snprintf(path, sizeof path, "credentials.%s", name);
        if (!valid_name(name))
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s: a name may hold only letters, digits, '-', '_' and '.'",
                                   path);
        if (!(nc->names[nc->n] = aigw__strdup(name)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        aigw_status st = aigw__credential_load(&nc->creds[nc->n], name, conf, path, ctx, err);
        nc->n++;
        if (st)
            return st;
    }
    return AIGW_OK;
}

/* One key of a backend object. The API-key settings and the credential
 * reference are only noted: they are applied once the whole object is
 * read. */
typedef struct backend_auth {
    json_object *api_key, *api_key_env, *api_key_file, *credential;
} backend_auth;

static aigw_status load_backend_key(aigw__backend *b, const char *path, const char *key,
                                    json_object *val, backend_auth *auth, aigw_error **err) {
    aigw_status st;
    if (strcmp(key, "schema") == 0) {
        if ((st = want_type(val, json_type_string, path, key, "a string", err)))
            return st;
        if (!(b->adapter = aigw__adapter_find(json_object_get_string(val))))
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.schema: unknown schema \"%s\" (known: %s)", path,
                                   json_object_get_string(val), aigw__adapter_schema_names());
        return AIGW_OK;
    }
    if (strcmp(key, "base_url") == 0)
        return (st = want_type(val, json_type_string, path, key, "a string", err))
                   ? st
                   : aigw__backend_set_base_url(b, json_object_get_string(val), path, err);
    json_object **noted = strcmp(key, "api_key") == 0        ? &auth->api_key
                          : strcmp(key, "api_key_env") == 0  ? &auth->api_key_env
                          : strcmp(key, "api_key_file") == 0 ? &auth->api_key_file
                          : strcmp(key, "credential") == 0   ? &auth->credential
                                                             : NULL;
    if (noted) {
        if ((st = want_type(val, json_type_string, path, key, "a string", err)))
            return st;
        *noted = val;
        return AIGW_OK;
    }
    if (strcmp(key, "api_version") == 0)
        return load_string(val, path, key, &b->api_version, err);
    if (strcmp(key, "region") == 0)
        return load_string(val, path, key, &b->region, err);
    if (strcmp(key, "project") == 0)
        return load_string(val, path, key, &b->project, err);
    if (strcmp(key, "location") == 0)
        return load_string(val, path, key, &b->location, err);
    if (strcmp(key, "headers") == 0)
        return (st = want_type(val, json_type_object, path, key, "an object", err))
                   ? st
                   : load_headers(b, val, path, err);
    if (strcmp(key, "timeout_ms") == 0)
        return load_timeout(val, path, key, &b->timeout_ms, err);
    if (strcmp(key, "connect_timeout_ms") == 0)
        return load_timeout(val, path, key, &b->connect_timeout_ms, err);
    return aigw__error_set(err, AIGW_ECONFIG, "%s: unknown key \"%s\" (known: " BACKEND_KEYS ")",
                           path, key);
}

static aigw_status load_backend(aigw_client *client, const char *name, json_object *conf,
                                const named_credentials *nc, aigw_error **err) {
    const aigw__cred_context *ctx = &client->cred_ctx;
    aigw__backend b = {0};
    aigw_status st = AIGW_OK;
    char path[256];
    snprintf(path, sizeof path, "backends.%s", name);
    if (!valid_name(name)) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: a backend name may hold only letters, digits, '-', '_' and '.'",
                             path);
        goto out;
    }
    if (!json_object_is_type(conf, json_type_object)) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
        goto out;
    }
    if (aigw__client_find_backend(client, name, strlen(name))) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: defined twice", path);
        goto out;
    }
    b.connect_timeout_ms = AIGW__DEFAULT_CONNECT_TIMEOUT_MS;
    b.timeout_ms = AIGW__DEFAULT_TIMEOUT_MS;
    b.listable = 1;
    if (!(b.name = aigw__strdup(name))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    backend_auth auth = {0};
    json_object_object_foreach(conf, key, val) {
        if ((st = load_backend_key(&b, path, key, val, &auth, err)))
            goto out;
    }
    if (!b.adapter) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: \"schema\" is required", path);
        goto out;
    }
    if (!!auth.api_key + !!auth.api_key_env + !!auth.api_key_file + !!auth.credential > 1) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: give one of \"credential\", \"api_key\", \"api_key_env\" "
                             "and \"api_key_file\"",
                             path);
        goto out;
    }
    if (auth.credential) {
        const char *ref = json_object_get_string(auth.credential);
        size_t i = 0;
        while (i < nc->n && strcmp(nc->names[i], ref) != 0)
            i++;
        if (i == nc->n) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s.credential: unknown credential \"%s\"",
                                 path, ref);
            goto out;
        }
        if ((nc->creds[i].kind == AIGW__CRED_AWS_SIGV4) !=
            (strcmp(b.adapter->schema, "aws-bedrock") == 0)) {
            st = aigw__error_set(err, AIGW_ECONFIG,
                                 "%s.credential: \"%s\" cannot sign for schema %s (AWS "
                                 "credentials are for aws-bedrock, and only they are)",
                                 path, ref, b.adapter->schema);
            goto out;
        }
        if (aigw__credential_copy(&b.credential, &nc->creds[i])) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto out;
        }
    } else if (auth.api_key || auth.api_key_env || auth.api_key_file) {
        st = aigw__backend_set_key(
            &b, auth.api_key ? json_object_get_string(auth.api_key) : NULL,
            auth.api_key_env ? json_object_get_string(auth.api_key_env) : NULL,
            auth.api_key_file ? json_object_get_string(auth.api_key_file) : NULL, ctx, err);
    }
    if (st || (st = aigw__backend_complete(&b, path, 0, ctx, err)))
        goto out;
    st = aigw__client_add_backend(client, &b, err);
out:
    aigw__backend_free(&b);
    return st;
}

aigw_status aigw__config_load(aigw_client *client, json_object *config, aigw_error **err) {
    if (!json_object_is_type(config, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "config: must be a JSON object");
    json_object *backends = NULL, *credentials = NULL;
    const char *default_backend = NULL;
    int env_defaults = 1;
    json_object_object_foreach(config, key, val) {
        if (strcmp(key, "backends") == 0) {
            if (!json_object_is_type(val, json_type_object))
                return aigw__error_set(err, AIGW_ECONFIG, "backends: must be an object");
            backends = val;
        } else if (strcmp(key, "credentials") == 0) {
            credentials = val;
        } else if (strcmp(key, "gateway") == 0) {
            /* serve's settings: checked by the server when it starts */
            if (!json_object_is_type(val, json_type_object))
                return aigw__error_set(err, AIGW_ECONFIG, "gateway: must be an object");
            json_object_put(client->gateway);
            client->gateway = json_object_get(val);
        } else if (strcmp(key, "routes") == 0 || strcmp(key, "outlier_ejection") == 0 ||
                   strcmp(key, "budgets") == 0 || strcmp(key, "accounting") == 0 ||
                   strcmp(key, "routing") == 0) {
            /* loaded once the backends are known: aigw__config_load_policy */
        } else if (strcmp(key, "default_backend") == 0) {
            if (!json_object_is_type(val, json_type_string))
                return aigw__error_set(err, AIGW_ECONFIG, "default_backend: must be a string");
            default_backend = json_object_get_string(val);
        } else if (strcmp(key, "env_defaults") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                return aigw__error_set(err, AIGW_ECONFIG, "env_defaults: must be true or false");
            env_defaults = json_object_get_boolean(val);
        } else {
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "config: unknown key \"%s\" (known: accounting, backends, "
                                   "budgets, credentials, default_backend, env_defaults, gateway, "
                                   "outlier_ejection, routes, routing)",
                                   key);
        }
    }
    aigw_status st = AIGW_OK;
    named_credentials nc = {0};
    if (credentials && (st = load_credentials(credentials, &client->cred_ctx, &nc, err))) {
        named_credentials_free(&nc);
        return st;
    }
    if (backends) {
        json_object_object_foreach(backends, name, conf) {
            if ((st = load_backend(client, name, conf, &nc, err)))
                break;
        }
    }
    named_credentials_free(&nc);
    if (st)
        return st;
    if (env_defaults && (st = aigw__config_add_env_backends(client, err)))
        return st;
    if (default_backend) {
        if (!aigw__client_find_backend(client, default_backend, strlen(default_backend)))
            return aigw__error_set(err, AIGW_ECONFIG, "default_backend: unknown backend \"%s\"",
                                   default_backend);
        aigw__free(client->default_backend);
        if (!(client->default_backend = aigw__strdup(default_backend)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return aigw__config_load_policy(client, config, err);
}
