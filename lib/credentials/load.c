/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials from the config file's "credentials" section: one loader per
 * type; api_key and callback are simple enough to live here. */
#include <stdio.h>
#include <string.h>

#include "core/errors.h"
#include "credentials/credential.h"

static aigw_status load_api_key(aigw__credential *cred, const char *name, json_object *conf,
                                const char *path, const aigw__cred_context *ctx, aigw_error **err) {
    const char *value = NULL, *env = NULL, *file = NULL, *header = NULL;
    int sources = 0;
    json_object_object_foreach(conf, key, val) {
        const char **slot = strcmp(key, "value") == 0    ? &value
                            : strcmp(key, "env") == 0    ? &env
                            : strcmp(key, "file") == 0   ? &file
                            : strcmp(key, "header") == 0 ? &header
                                                         : NULL;
        if (strcmp(key, "type") == 0)
            continue;
        if (!slot)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s: unknown key \"%s\" (known: type, value, env, file, header)",
                                   path, key);
        if (!json_object_is_type(val, json_type_string) || !*json_object_get_string(val))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a non-empty string", path,
                                   key);
        *slot = json_object_get_string(val);
        sources += slot != &header;
    }
    if (sources != 1)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: give exactly one of \"value\", \"env\" and \"file\"", path);
    if (header) {
        static const struct {
            const char *name;
            aigw__key_header header;
        } headers[] = {{"bearer", AIGW__KEY_BEARER},
                       {"x-api-key", AIGW__KEY_X_API_KEY},
                       {"api-key", AIGW__KEY_API_KEY},
                       {"x-goog-api-key", AIGW__KEY_GOOG}};
        size_t i = 0;
        while (i < sizeof headers / sizeof headers[0] && strcmp(headers[i].name, header) != 0)
            i++;
        if (i == sizeof headers / sizeof headers[0])
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.header: \"%s\" is not one of bearer, x-api-key, api-key, "
                                   "x-goog-api-key",
                                   path, header);
        cred->header_set = 1;
        cred->header = headers[i].header;
    }
    return aigw__api_key_new(cred, name, value, env, file, ctx, err);
}

static aigw_status load_callback(aigw__credential *cred, const char *name, json_object *conf,
                                 const char *path, const aigw__cred_context *ctx,
                                 aigw_error **err) {
    json_object_object_foreach(conf, key, val) {
        (void)val;
        if (strcmp(key, "type") != 0)
            return aigw__error_set(err, AIGW_ECONFIG, "%s: unknown key \"%s\" (known: type)", path,
                                   key);
    }
    if (!ctx->callback)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: type \"callback\" needs aigw_client_options.credential_cb",
                               path);
    cred->kind = AIGW__CRED_CALLBACK;
    cred->callback = ctx->callback;
    cred->callback_user = ctx->callback_user;
    return aigw__credential_set_names(cred, name, "the application's callback")
               ? aigw__error_set(err, AIGW_ENOMEM, "out of memory")
               : AIGW_OK;
}

typedef aigw_status (*loader_fn)(aigw__credential *cred, const char *name, json_object *conf,
                                 const char *path, const aigw__cred_context *ctx, aigw_error **err);

static const struct {
    const char *type;
    loader_fn load;
} loaders[] = {
    {"api_key", load_api_key},          {"callback", load_callback},
    {"aws", aigw__aws_credential_load}, {"azure_entra", aigw__azure_credential_load},
    {"gcp", aigw__gcp_credential_load}, {"oidc", aigw__oidc_credential_load},
};

aigw_status aigw__credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                  const char *path, const aigw__cred_context *ctx,
                                  aigw_error **err) {
    if (!json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
    json_object *type;
    if (!json_object_object_get_ex(conf, "type", &type) ||
        !json_object_is_type(type, json_type_string))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.type: required, a string", path);
    char known[256] = "";
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++) {
        if (strcmp(loaders[i].type, json_object_get_string(type)) == 0) {
            aigw_status st = loaders[i].load(cred, name, conf, path, ctx, err);
            if (st)
                aigw__credential_clear(cred);
            return st;
        }
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 loaders[i].type);
    }
    return aigw__error_set(err, AIGW_ECONFIG, "%s.type: unknown type \"%s\" (known: %s)", path,
                           json_object_get_string(type), known);
}
