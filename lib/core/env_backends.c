/* SPDX-License-Identifier: Apache-2.0 */
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
    int chain;                    /* without a key: the provider's default chain */
} env_backend;

enum { NO_CHAIN = 0, GCP_CHAIN, AZURE_CHAIN, N_CHAINS };

/* A provider's default credential chain, run at most once per client and
 * shared by the backends that use it (one token cache, one refresh). */
typedef struct chains {
    aigw__credential cred[N_CHAINS];
    int tried[N_CHAINS];
} chains;

static aigw_status chain_credential(chains *c, int which, const aigw__cred_context *ctx,
                                    const aigw__credential **out, aigw_error **err) {
    *out = NULL;
    if (!c->tried[which]) {
        c->tried[which] = 1;
        aigw_status st = AIGW_OK;
        if (which == GCP_CHAIN)
            st = aigw__gcp_credential_default(&c->cred[which], ctx, err);
        else if (which == AZURE_CHAIN)
            st = aigw__azure_credential_default(&c->cred[which], ctx, err);
        if (st)
            return st;
    }
    if (c->cred[which].kind != AIGW__CRED_NONE)
        *out = &c->cred[which];
    return AIGW_OK;
}

static const env_backend env_backends[] = {
    {.name = "openai",
     .schema = "openai",
     .key_vars = {"OPENAI_API_KEY"},
     .base_url_vars = {"OPENAI_BASE_URL"},
     .base_url_suffix = "",
     .default_base_url = "https://api.openai.com/v1",
     .keyless_custom_base = 1},
    /* The Anthropic SDK's base URL has no version; the adapter's does. */
    {.name = "anthropic",
     .schema = "anthropic",
     .key_vars = {"ANTHROPIC_API_KEY"},
     .base_url_vars = {"ANTHROPIC_BASE_URL"},
     .base_url_suffix = "/v1",
     .default_base_url = "https://api.anthropic.com/v1"},
    {.name = "azure",
     .schema = "azure-openai",
     .key_vars = {"AZURE_OPENAI_API_KEY"},
     .base_url_vars = {"AZURE_OPENAI_ENDPOINT"},
     .base_url_suffix = "",
     .only_when_set = 1,
     /* Without a key: Entra ID from AZURE_TENANT_ID, AZURE_CLIENT_ID and
      * AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE. */
     .chain = AZURE_CHAIN},
    /* AWS: region, endpoint and SigV4 credentials come from AWS_* (below). */
    {.name = "bedrock",
     .schema = "aws-bedrock",
     .base_url_vars = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"},
     .base_url_suffix = ""},
    {.name = "gemini",
     .schema = "gemini",
     .key_vars = {"GEMINI_API_KEY", "GOOGLE_API_KEY"},
     .base_url_vars = {"GOOGLE_GEMINI_BASE_URL"},
     .base_url_suffix = "/v1beta",
     .default_base_url = "https://generativelanguage.googleapis.com/v1beta"},
    /* Vertex AI: the Google chain (GOOGLE_APPLICATION_CREDENTIALS: a
     * service account or workload identity federation), or a plain OAuth
     * access token in GOOGLE_OAUTH_ACCESS_TOKEN. */
    {.name = "vertex",
     .schema = "gcp-vertex",
     .key_vars = {"GOOGLE_OAUTH_ACCESS_TOKEN"},
     .base_url_vars = {"GOOGLE_VERTEX_BASE_URL"},
     .base_url_suffix = "/v1",
     .chain = GCP_CHAIN},
    {.name = "vertex-anthropic",
     .schema = "gcp-anthropic",
     .key_vars = {"GOOGLE_OAUTH_ACCESS_TOKEN"},
     .base_url_vars = {"GOOGLE_VERTEX_BASE_URL"},
     .base_url_suffix = "/v1",
     .chain = GCP_CHAIN},
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

static aigw_status add_env_backend(aigw_client *client, const env_backend *e, chains *chain,
                                   aigw_error **err) {
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
    const aigw__credential *chained = NULL;
    if (!key && e->chain && (st = chain_credential(chain, e->chain, ctx, &chained, err)))
        goto out;
    if (chained) {
        if (aigw__credential_copy(&b.credential, chained)) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto out;
        }
    } else if (e->key_vars[0] && !(e->keyless_custom_base && base && !key)) {
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
    b.listable = (key != NULL || chained || (e->keyless_custom_base && base));
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
    aigw_status st = AIGW_OK;
    chains chain = {0};
    for (size_t i = 0; i < sizeof env_backends / sizeof env_backends[0] && !st; i++)
        st = add_env_backend(client, &env_backends[i], &chain, err);
    for (int i = 0; i < N_CHAINS; i++)
        aigw__credential_clear(&chain.cred[i]);
    if (st)
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
