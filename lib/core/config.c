/* Loading and validating the JSON config, and the zero-config backends
 * built from the official SDKs' environment variables. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 600000L
#define OPENAI_DEFAULT_BASE_URL "https://api.openai.com/v1"
/* The newest generally available Azure OpenAI data-plane API version. */
#define AZURE_DEFAULT_API_VERSION "2024-10-21"

void aigw__backend_free(aigw__backend *b) {
    aigw__free(b->name);
    aigw__free(b->base_url);
    aigw__free(b->api_version);
    aigw__credential_clear(&b->credential);
    curl_slist_free_all(b->extra_headers);
    memset(b, 0, sizeof *b);
}

const aigw__backend *aigw__client_find_backend(const aigw_client *client, const char *name,
                                               size_t name_len) {
    for (size_t i = 0; i < client->n_backends; i++) {
        const aigw__backend *b = &client->backends[i];
        if (strlen(b->name) == name_len && memcmp(b->name, name, name_len) == 0)
            return b;
    }
    return NULL;
}

static aigw_status push_backend(aigw_client *client, aigw__backend *b, aigw_error **err) {
    aigw__backend *grown =
        aigw__reallocarray(client->backends, client->n_backends + 1, sizeof *grown);
    if (!grown)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    client->backends = grown;
    client->backends[client->n_backends++] = *b;
    memset(b, 0, sizeof *b);
    return AIGW_OK;
}

/* A base URL without its trailing slashes; only http and https. */
static aigw_status set_base_url(aigw__backend *b, const char *url, const char *path,
                                aigw_error **err) {
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: \"%s\" is not an http:// or https:// URL",
                               path, url);
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    if (!(b->base_url = aigw__strndup(url, len)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

/* Sets the credential's source description and, when `value` is non-NULL
 * and non-empty, its secret. */
static aigw_status set_key(aigw__credential *cred, aigw__key_header header, const char *value,
                           const char *source, aigw_error **err) {
    cred->kind = AIGW__CRED_API_KEY;
    cred->header = header;
    if (!(cred->source = aigw__strdup(source)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (value && *value) {
        if (!(cred->secret = aigw__strdup(value)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    } else {
        cred->missing = 1;
    }
    return AIGW_OK;
}

static int valid_backend_name(const char *name) {
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
        if ((st = aigw__buf_printf(&line, "%s: %s", hname, value)))
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

static aigw_status load_backend(aigw_client *client, const char *name, json_object *conf,
                                aigw_error **err) {
    aigw__backend b = {0};
    aigw_status st;
    char path[256];
    snprintf(path, sizeof path, "backends.%s", name);
    if (!valid_backend_name(name)) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: a backend name may hold only letters, digits, '-', '_' and '.'",
                             path);
        goto out;
    }
    if (!json_object_is_type(conf, json_type_object)) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
        goto out;
    }
    b.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    b.timeout_ms = DEFAULT_TIMEOUT_MS;
    b.listable = 1;
    if (!(b.name = aigw__strdup(name))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    const char *api_key = NULL, *api_key_env = NULL;
    json_object_object_foreach(conf, key, val) {
        if (strcmp(key, "schema") == 0) {
            if ((st = want_type(val, json_type_string, path, key, "a string", err)))
                goto out;
            if (!(b.adapter = aigw__adapter_find(json_object_get_string(val)))) {
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "%s.schema: unknown schema \"%s\" (known: openai, "
                                     "azure-openai, mock)",
                                     path, json_object_get_string(val));
                goto out;
            }
        } else if (strcmp(key, "base_url") == 0) {
            if ((st = want_type(val, json_type_string, path, key, "a string", err)) ||
                (st = set_base_url(&b, json_object_get_string(val), path, err)))
                goto out;
        } else if (strcmp(key, "api_key") == 0) {
            if ((st = want_type(val, json_type_string, path, key, "a string", err)))
                goto out;
            api_key = json_object_get_string(val);
        } else if (strcmp(key, "api_key_env") == 0) {
            if ((st = want_type(val, json_type_string, path, key, "a string", err)))
                goto out;
            api_key_env = json_object_get_string(val);
        } else if (strcmp(key, "api_version") == 0) {
            if ((st = want_type(val, json_type_string, path, key, "a string", err)))
                goto out;
            if (!(b.api_version = aigw__strdup(json_object_get_string(val)))) {
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                goto out;
            }
        } else if (strcmp(key, "headers") == 0) {
            if ((st = want_type(val, json_type_object, path, key, "an object", err)) ||
                (st = load_headers(&b, val, path, err)))
                goto out;
        } else if (strcmp(key, "timeout_ms") == 0) {
            if ((st = load_timeout(val, path, key, &b.timeout_ms, err)))
                goto out;
        } else if (strcmp(key, "connect_timeout_ms") == 0) {
            if ((st = load_timeout(val, path, key, &b.connect_timeout_ms, err)))
                goto out;
        } else {
            st = aigw__error_set(err, AIGW_ECONFIG,
                                 "%s: unknown key \"%s\" (known: schema, base_url, api_key, "
                                 "api_key_env, api_version, headers, timeout_ms, "
                                 "connect_timeout_ms)",
                                 path, key);
            goto out;
        }
    }
    if (!b.adapter) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: \"schema\" is required", path);
        goto out;
    }
    if (b.api_version && b.adapter != &aigw__adapter_azure_openai) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s.api_version: only for schema azure-openai",
                             path);
        goto out;
    }
    if (b.adapter == &aigw__adapter_azure_openai && !b.api_version &&
        !(b.api_version = aigw__strdup(AZURE_DEFAULT_API_VERSION))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    if (!b.adapter->local && !b.base_url) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: \"base_url\" is required", path);
        goto out;
    }
    if (api_key && api_key_env) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: give \"api_key\" or \"api_key_env\", not both",
                             path);
        goto out;
    }
    if (api_key)
        st = set_key(&b.credential, b.adapter->key_header, api_key, "the config's api_key", err);
    else if (api_key_env) {
        char source[200];
        snprintf(source, sizeof source, "environment variable %s", api_key_env);
        st = set_key(&b.credential, b.adapter->key_header, getenv(api_key_env), source, err);
    }
    if (st)
        goto out;
    if (aigw__client_find_backend(client, name, strlen(name))) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: defined twice", path);
        goto out;
    }
    st = push_backend(client, &b, err);
out:
    aigw__backend_free(&b);
    return st;
}

aigw_status aigw__config_load(aigw_client *client, json_object *config, aigw_error **err) {
    if (!json_object_is_type(config, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "config: must be a JSON object");
    json_object *backends = NULL;
    const char *default_backend = NULL;
    int env_defaults = 1;
    json_object_object_foreach(config, key, val) {
        if (strcmp(key, "backends") == 0) {
            if (!json_object_is_type(val, json_type_object))
                return aigw__error_set(err, AIGW_ECONFIG, "backends: must be an object");
            backends = val;
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
                                   "config: unknown key \"%s\" (known: backends, "
                                   "default_backend, env_defaults)",
                                   key);
        }
    }
    aigw_status st;
    if (backends) {
        json_object_object_foreach(backends, name, conf) {
            if ((st = load_backend(client, name, conf, err)))
                return st;
        }
    }
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
    return AIGW_OK;
}

aigw_status aigw__config_add_env_backends(aigw_client *client, aigw_error **err) {
    aigw_status st = AIGW_OK;
    aigw__backend b = {0};
    if (!aigw__client_find_backend(client, "openai", 6)) {
        const char *base = getenv("OPENAI_BASE_URL");
        const char *key = getenv("OPENAI_API_KEY");
        b.adapter = &aigw__adapter_openai;
        b.from_env = 1;
        b.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
        b.timeout_ms = DEFAULT_TIMEOUT_MS;
        /* Listed by aigw_models(NULL) only when set up: a key, or a custom
         * (possibly keyless, e.g. a local vLLM) base URL. */
        b.listable = (key && *key) || (base && *base);
        if (!(b.name = aigw__strdup("openai"))) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto out;
        }
        if ((st = set_base_url(&b, base && *base ? base : OPENAI_DEFAULT_BASE_URL,
                               "environment variable OPENAI_BASE_URL", err)))
            goto out;
        /* A custom base URL without a key is a keyless local server. */
        if ((key && *key) || !(base && *base))
            if ((st = set_key(&b.credential, AIGW__KEY_BEARER, key,
                              "environment variable OPENAI_API_KEY", err)))
                goto out;
        if ((st = push_backend(client, &b, err)))
            goto out;
    }
    if (!aigw__client_find_backend(client, "azure", 5)) {
        /* The official SDKs' variables: AZURE_OPENAI_ENDPOINT,
         * AZURE_OPENAI_API_KEY, OPENAI_API_VERSION. Present only with an
         * endpoint; "azure/<deployment>" picks the deployment. */
        const char *endpoint = getenv("AZURE_OPENAI_ENDPOINT");
        const char *version = getenv("OPENAI_API_VERSION");
        if (endpoint && *endpoint) {
            b.adapter = &aigw__adapter_azure_openai;
            b.from_env = 1;
            b.listable = 1;
            b.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
            b.timeout_ms = DEFAULT_TIMEOUT_MS;
            if (!(b.name = aigw__strdup("azure")) ||
                !(b.api_version =
                      aigw__strdup(version && *version ? version : AZURE_DEFAULT_API_VERSION))) {
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                goto out;
            }
            if ((st = set_base_url(&b, endpoint, "environment variable AZURE_OPENAI_ENDPOINT",
                                   err)) ||
                (st = set_key(&b.credential, AIGW__KEY_API_KEY, getenv("AZURE_OPENAI_API_KEY"),
                              "environment variable AZURE_OPENAI_API_KEY", err)) ||
                (st = push_backend(client, &b, err)))
                goto out;
        }
    }
    if (!aigw__client_find_backend(client, "mock", 4)) {
        b.adapter = &aigw__adapter_mock;
        b.from_env = 1;
        b.listable = 1;
        if (!(b.name = aigw__strdup("mock"))) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto out;
        }
        if ((st = push_backend(client, &b, err)))
            goto out;
    }
    if (!client->default_backend && aigw__client_find_backend(client, "openai", 6) &&
        !(client->default_backend = aigw__strdup("openai")))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    aigw__backend_free(&b);
    return st;
}
