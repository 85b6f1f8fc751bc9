/* SPDX-License-Identifier: Apache-2.0 */
/* Azure Entra ID (formerly Azure AD) credentials for Azure OpenAI: OAuth2
 * client credentials against {authority}/{tenant}/oauth2/v2.0/token, with a
 * client secret (environment variable or file) or, for AKS workload
 * identity, a federated token file as client assertion (re-read at every
 * refresh: the kubelet rotates it). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/json.h"
#include "credentials/credential.h"
#include "credentials/oauth.h"
#include "credentials/refresher.h"

#define AZURE_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define AZURE_DEFAULT_SCOPE "https://cognitiveservices.azure.com/.default"

typedef struct azure_settings {
    const char *tenant_id, *client_id;
    const char *secret_env, *secret_file, *federated_token_file;
    const char *authority; /* NULL: AZURE_AUTHORITY_HOST or the public cloud */
    const char *scope;     /* NULL: Cognitive Services */
} azure_settings;

static int valid_tenant(const char *t) {
    return *t && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_") ==
                     strlen(t);
}

static int http_url(const char *u) {
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

/* Builds the credential; `where` names the settings' origin in errors
 * ("credentials.corp" or "environment"). */
static aigw_status azure_build(aigw__credential *cred, const char *name, const azure_settings *s,
                               const char *where, const aigw__cred_context *ctx, aigw_error **err) {
    const char *authority = s->authority;
    const char *authority_from = "authority_host";
    if (!authority && getenv("AZURE_AUTHORITY_HOST") && *getenv("AZURE_AUTHORITY_HOST")) {
        authority = getenv("AZURE_AUTHORITY_HOST");
        authority_from = "environment variable AZURE_AUTHORITY_HOST";
    }
    if (!authority)
        authority = AZURE_DEFAULT_AUTHORITY;
    if (!http_url(authority) || strpbrk(authority, "?# \t\r\n"))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: %s must be an https:// URL", where,
                               authority_from);
    if (!valid_tenant(s->tenant_id))
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: tenant_id must be a tenant id or domain name", where);
    size_t alen = strlen(authority);
    while (alen > 0 && authority[alen - 1] == '/')
        alen--;

    aigw__oauth_client *c = aigw__calloc(1, sizeof *c);
    aigw__buf url = AIGW__BUF_INIT, source = AIGW__BUF_INIT;
    aigw_status st = c ? AIGW_OK : AIGW_ENOMEM;
    if (!st)
        st =
            aigw__buf_printf(&url, "%.*s/%s/oauth2/v2.0/token", (int)alen, authority, s->tenant_id);
    if (!st) {
        c->name = aigw__strdup(name);
        c->token_url = aigw__buf_detach(&url);
        c->host = c->token_url ? aigw__oauth_url_host(c->token_url) : NULL;
        c->client_id = aigw__strdup(s->client_id);
        c->scope = aigw__strdup(s->scope ? s->scope : AZURE_DEFAULT_SCOPE);
        if (s->federated_token_file) {
            c->auth = AIGW__OAUTH_ASSERTION;
            c->assertion_file = aigw__strdup(s->federated_token_file);
        } else if (s->secret_env) {
            c->auth = AIGW__OAUTH_SECRET_POST;
            c->secret_env = aigw__strdup(s->secret_env);
        } else {
            c->auth = AIGW__OAUTH_SECRET_POST;
            c->secret_file = aigw__strdup(s->secret_file);
        }
        if (ctx && ctx->logger)
            c->logger = *ctx->logger;
        if (!c->name || !c->token_url || !c->host || !c->client_id || !c->scope ||
            (!c->assertion_file && !c->secret_env && !c->secret_file))
            st = AIGW_ENOMEM;
    }
    if (!st)
        st = aigw__buf_printf(
            &source, "Azure Entra ID token endpoint %s (tenant %s, client %s), %s %s", c->host,
            s->tenant_id, s->client_id,
            s->federated_token_file ? "client assertion from the federated token file"
            : s->secret_env         ? "client secret from environment variable"
                                    : "client secret from file",
            s->federated_token_file ? s->federated_token_file
            : s->secret_env         ? s->secret_env
                                    : s->secret_file);
    if (st) {
        aigw__buf_free(&url);
        aigw__buf_free(&source);
        aigw__oauth_client_free(c);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    if (s->secret_file)
        aigw__oauth_check_file_mode(ctx ? ctx->logger : NULL, name, s->secret_file);

    aigw__refresher *r = NULL;
    st = aigw__refresher_new(name, aigw__oauth_fetch, c, aigw__oauth_client_free, &r);
    if (st) {
        aigw__buf_free(&source);
        return aigw__error_set(err, st, "out of memory");
    }
    if (!cred->name)
        cred->name = aigw__strdup(name);
    aigw__free(cred->source);
    cred->source = aigw__buf_detach(&source);
    if (!cred->name || !cred->source) {
        aigw__refresher_unref(r);
        aigw__credential_clear(cred);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    cred->kind = AIGW__CRED_BEARER;
    cred->refresher = r;
    return AIGW_OK;
}

aigw_status aigw__azure_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                        const char *path, const aigw__cred_context *ctx,
                                        aigw_error **err) {
    static const char *const keys[] = {"type",
                                       "tenant_id",
                                       "client_id",
                                       "client_secret_env",
                                       "client_secret_file",
                                       "federated_token_file",
                                       "authority_host",
                                       "scope",
                                       NULL};
    if (!conf || !json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
    aigw_status st = aigw__json_check_key_list(conf, path, keys, err);
    azure_settings s = {0};
    const char *type = NULL;
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "type", 0, &type, err);
    if (!st && type && strcmp(type, "azure_entra") != 0)
        st = aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"azure_entra\"", path);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "tenant_id", 1, &s.tenant_id, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_id", 1, &s.client_id, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_secret_env", 0, &s.secret_env, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_secret_file", 0, &s.secret_file, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "federated_token_file", 0, &s.federated_token_file,
                                     err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "authority_host", 0, &s.authority, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "scope", 0, &s.scope, err);
    if (st)
        return st;
    int n = !!s.secret_env + !!s.secret_file + !!s.federated_token_file;
    if (n != 1)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: needs exactly one of client_secret_env, client_secret_file, "
                               "federated_token_file",
                               path);
    if (s.authority && (!http_url(s.authority) || strpbrk(s.authority, "?# \t\r\n")))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.authority_host: must be an https:// URL",
                               path);
    if (!valid_tenant(s.tenant_id))
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.tenant_id: must be a tenant id or domain name", path);
    aigw__buf display = AIGW__BUF_INIT;
    if (aigw__buf_printf(&display, "credential \"%s\"", name ? name : "azure_entra"))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    st = azure_build(cred, display.data, &s, path, ctx, err);
    aigw__buf_free(&display);
    return st;
}

aigw_status aigw__azure_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                           aigw_error **err) {
    azure_settings s = {0};
    s.tenant_id = getenv("AZURE_TENANT_ID");
    s.client_id = getenv("AZURE_CLIENT_ID");
    if (!s.tenant_id || !*s.tenant_id || !s.client_id || !*s.client_id) {
        cred->kind = AIGW__CRED_NONE;
        return AIGW_OK;
    }
    const char *secret = getenv("AZURE_CLIENT_SECRET");
    const char *fed = getenv("AZURE_FEDERATED_TOKEN_FILE");
    const char *name;
    if (secret && *secret) { /* EnvironmentCredential */
        s.secret_env = "AZURE_CLIENT_SECRET";
        name = "Azure environment credential";
    } else if (fed && *fed) { /* WorkloadIdentityCredential */
        s.federated_token_file = fed;
        name = "Azure workload identity credential";
    } else {
        cred->kind = AIGW__CRED_NONE;
        return AIGW_OK;
    }
    if (!valid_tenant(s.tenant_id))
        return aigw__error_set(err, AIGW_ECONFIG,
                               "environment variable AZURE_TENANT_ID: must be a tenant id or "
                               "domain name");
    return azure_build(cred, name, &s, "Azure environment credentials", ctx, err);
}
