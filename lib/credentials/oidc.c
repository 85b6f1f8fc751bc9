/* SPDX-License-Identifier: Apache-2.0 */
/* Generic OAuth2 / OIDC client credentials (RFC 6749 §4.4): a token from any
 * token endpoint (Keycloak, Okta, Auth0, Dex...), e.g. for a vLLM or KServe
 * server behind an identity-aware proxy. */
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/json.h"
#include "credentials/credential.h"
#include "credentials/oauth.h"
#include "credentials/refresher.h"

aigw_status aigw__oidc_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                       const char *path, const aigw__cred_context *ctx,
                                       aigw_error **err) {
    static const char *const keys[] = {
        "type",     "token_url",   "client_id", "client_secret_env", "client_secret_file", "scope",
        "audience", "auth_method", NULL};
    if (!conf || !json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
    const char *type = NULL, *url = NULL, *id = NULL, *env = NULL, *file = NULL, *scope = NULL,
               *audience = NULL, *method = NULL;
    aigw_status st = aigw__json_check_key_list(conf, path, keys, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "type", 0, &type, err);
    if (!st && type && strcmp(type, "oidc") != 0)
        st = aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"oidc\"", path);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "token_url", 1, &url, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_id", 1, &id, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_secret_env", 0, &env, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "client_secret_file", 0, &file, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "scope", 0, &scope, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "audience", 0, &audience, err);
    if (!st)
        st = aigw__oauth_conf_string(conf, path, "auth_method", 0, &method, err);
    if (st)
        return st;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.token_url: must be an http(s) URL", path);
    if (strpbrk(url, " \t\r\n"))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.token_url: must not hold whitespace", path);
    if (!env == !file)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: needs exactly one of client_secret_env, client_secret_file",
                               path);
    aigw__oauth_auth auth = AIGW__OAUTH_SECRET_BASIC;
    if (method && strcmp(method, "client_secret_post") == 0)
        auth = AIGW__OAUTH_SECRET_POST;
    else if (method && strcmp(method, "client_secret_basic") != 0)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.auth_method: must be \"client_secret_basic\" or "
                               "\"client_secret_post\"",
                               path);

    aigw__buf display = AIGW__BUF_INIT, source = AIGW__BUF_INIT;
    aigw__oauth_client *c = aigw__calloc(1, sizeof *c);
    st = c ? aigw__buf_printf(&display, "credential \"%s\"", name ? name : "oidc") : AIGW_ENOMEM;
    if (!st) {
        c->name = aigw__strdup(display.data);
        c->token_url = aigw__strdup(url);
        c->host = aigw__oauth_url_host(url);
        c->client_id = aigw__strdup(id);
        c->auth = auth;
        c->secret_env = env ? aigw__strdup(env) : NULL;
        c->secret_file = file ? aigw__strdup(file) : NULL;
        c->scope = scope ? aigw__strdup(scope) : NULL;
        c->audience = audience ? aigw__strdup(audience) : NULL;
        if (ctx && ctx->logger)
            c->logger = *ctx->logger;
        if (!c->name || !c->token_url || !c->host || !c->client_id || (env && !c->secret_env) ||
            (file && !c->secret_file) || (scope && !c->scope) || (audience && !c->audience))
            st = AIGW_ENOMEM;
    }
    if (!st)
        st = aigw__buf_printf(&source,
                              "OAuth2 token endpoint %s (client %s, %s), client secret "
                              "from %s %s",
                              c->host, id,
                              auth == AIGW__OAUTH_SECRET_POST ? "client_secret_post"
                                                              : "client_secret_basic",
                              env ? "environment variable" : "file", env ? env : file);
    if (st) {
        aigw__oauth_client_free(c);
        aigw__buf_free(&display);
        aigw__buf_free(&source);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    if (file)
        aigw__oauth_check_file_mode(ctx ? ctx->logger : NULL, display.data, file);
    aigw__refresher *r = NULL;
    st = aigw__refresher_new(display.data, aigw__oauth_fetch, c, aigw__oauth_client_free, &r);
    if (st) {
        aigw__buf_free(&display);
        aigw__buf_free(&source);
        return aigw__error_set(err, st, "out of memory");
    }
    if (!cred->name)
        cred->name = aigw__buf_detach(&display);
    aigw__buf_free(&display);
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
