/* Zero-config backends: each provider configured from the environment
 * variables its official SDK reads, so that "provider/model" works with no
 * config file. A backend whose variables are missing still exists and
 * answers with an error naming the variable to set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"

typedef struct env_backend {
    const char *name;   /* the model prefix: "anthropic/..." */
    const char *schema; /* skipped if this build has no such adapter */
    const char *key_vars[3];
    const char *base_url_vars[3];
    const char *base_url_suffix;  /* appended to a base URL from the environment */
    const char *default_base_url; /* NULL: the schema derives it */
    int only_when_set;            /* exists only when a base URL variable is set */
    int keyless_custom_base;      /* a custom base URL without a key needs no key */
} env_backend;

static const env_backend env_backends[] = {
    {"openai",
     "openai",
     {"OPENAI_API_KEY"},
     {"OPENAI_BASE_URL"},
     "",
     "https://api.openai.com/v1",
     0,
     1},
    /* The Anthropic SDK's base URL has no version; the adapter's does. */
    {"anthropic",
     "anthropic",
     {"ANTHROPIC_API_KEY"},
     {"ANTHROPIC_BASE_URL"},
     "/v1",
     "https://api.anthropic.com/v1",
     0,
     0},
    {"azure", "azure-openai", {"AZURE_OPENAI_API_KEY"}, {"AZURE_OPENAI_ENDPOINT"}, "", NULL, 1, 0},
    /* AWS: region, endpoint and SigV4 credentials come from AWS_* (below). */
    {"bedrock",
     "aws-bedrock",
     {NULL},
     {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"},
     "",
     NULL,
     0,
     0},
    {"gemini",
     "gemini",
     {"GEMINI_API_KEY", "GOOGLE_API_KEY"},
     {"GOOGLE_GEMINI_BASE_URL"},
     "/v1beta",
     "https://generativelanguage.googleapis.com/v1beta",
     0,
     0},
    /* Vertex AI: a static OAuth access token until the credentials work
     * brings service accounts and workload identity. */
    {"vertex",
     "gcp-vertex",
     {"GOOGLE_OAUTH_ACCESS_TOKEN"},
     {"GOOGLE_VERTEX_BASE_URL"},
     "/v1",
     NULL,
     0,
     0},
    {"vertex-anthropic",
     "gcp-anthropic",
     {"GOOGLE_OAUTH_ACCESS_TOKEN"},
     {"GOOGLE_VERTEX_BASE_URL"},
     "/v1",
     NULL,
     0,
     0},
};

static const char *first_set(const char *const *vars, size_t n, const char **which) {
    for (size_t i = 0; i < n && vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            if (which)
                *which = vars[i];
            return v;
        }
    }
    return NULL;
}

static aigw_status strdup_env(char **out, const char *var_a, const char *var_b, aigw_error **err) {
    const char *vars[2] = {var_a, var_b};
    const char *v = first_set(vars, 2, NULL);
    if (v && !(*out = aigw__strdup(v)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

static aigw_status add_env_backend(aigw_client *client, const env_backend *e, aigw_error **err) {
    const aigw__cred_context *ctx = &client->cred_ctx;
    const aigw__adapter *adapter = aigw__adapter_find(e->schema);
    if (!adapter || aigw__client_find_backend(client, e->name, strlen(e->name)))
        return AIGW_OK;
    const char *base_var = NULL;
    const char *base = first_set(e->base_url_vars, 3, &base_var);
    if (e->only_when_set && !base)
        return AIGW_OK;
    const char *key_var = e->key_vars[0];
    const char *key = first_set(e->key_vars, 3, &key_var);

    aigw__backend b = {.adapter = adapter,
                       .from_env = 1,
                       .connect_timeout_ms = AIGW__DEFAULT_CONNECT_TIMEOUT_MS,
                       .timeout_ms = AIGW__DEFAULT_TIMEOUT_MS};
    aigw_status st = AIGW_OK;
    char what[160], url[1024];
    if (!(b.name = aigw__strdup(e->name))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    if (base) {
        snprintf(what, sizeof what, "environment variable %s", base_var);
        /* Trailing slashes before the suffix would double up. */
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            n--;
        snprintf(url, sizeof url, "%.*s%s", (int)n, base, e->base_url_suffix);
        if ((st = aigw__backend_set_base_url(&b, url, what, err)))
            goto out;
    } else if (e->default_base_url &&
               (st = aigw__backend_set_base_url(&b, e->default_base_url, e->name, err))) {
        goto out;
    }
    if (e->key_vars[0] && !(e->keyless_custom_base && base && !key)) {
        if ((st = aigw__backend_set_key(&b, NULL, key_var, NULL, ctx, err)))
            goto out;
    }
    if (strcmp(e->schema, "azure-openai") == 0)
        st = strdup_env(&b.api_version, "OPENAI_API_VERSION", NULL, err);
    else if (strcmp(e->schema, "aws-bedrock") == 0)
        st = strdup_env(&b.region, "AWS_REGION", "AWS_DEFAULT_REGION", err);
    else if (strcmp(e->schema, "gcp-vertex") == 0 || strcmp(e->schema, "gcp-anthropic") == 0)
        st = strdup_env(&b.project, "GOOGLE_CLOUD_PROJECT", NULL, err) ||
                     strdup_env(&b.location, "GOOGLE_CLOUD_LOCATION", NULL, err)
                 ? AIGW_ENOMEM
                 : AIGW_OK;
    if (st)
        goto out;
    /* aigw_models(NULL) asks it only when it has what it needs. */
    b.listable = (key != NULL || (e->keyless_custom_base && base));
    if ((st = aigw__backend_complete(&b, e->name, 1, ctx, err)))
        goto out;
    if (b.credential.kind == AIGW__CRED_AWS_SIGV4)
        b.listable = 0; /* Bedrock's runtime endpoint lists no models */
    st = aigw__client_add_backend(client, &b, err);
out:
    aigw__backend_free(&b);
    return st;
}

aigw_status aigw__config_add_env_backends(aigw_client *client, aigw_error **err) {
    aigw_status st;
    for (size_t i = 0; i < sizeof env_backends / sizeof env_backends[0]; i++)
        if ((st = add_env_backend(client, &env_backends[i], err)))
            return st;
    if (!aigw__client_find_backend(client, "mock", 4)) {
        aigw__backend b = {.adapter = &aigw__adapter_mock, .from_env = 1, .listable = 1};
        if (!(b.name = aigw__strdup("mock")) || (st = aigw__client_add_backend(client, &b, err))) {
            aigw__backend_free(&b);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
    }
    if (!client->default_backend && aigw__client_find_backend(client, "openai", 6) &&
        !(client->default_backend = aigw__strdup("openai")))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}
