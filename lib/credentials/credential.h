/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials: how a backend's requests are authenticated. This stage adds
 * auth to an already-built upstream request — an API-key header, an OAuth2
 * bearer token kept fresh, an AWS SigV4 signature, or headers from the
 * application's own callback — and never logs a secret.
 *
 * A credential is a small value that backends copy; what it shares (a key
 * file being watched, a token refresher) is reference-counted, so several
 * backends can use one named credential of the config's "credentials". */
#ifndef AIGW_CREDENTIALS_CREDENTIAL_H
#define AIGW_CREDENTIALS_CREDENTIAL_H

#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "aigw/client.h"
#include "aigw/error.h"
#include "core/log.h"
#include "core/upstream.h"

struct aigw__backend;
struct aigw__refresher;
struct aigw__key_store;

typedef enum aigw__credential_kind {
    AIGW__CRED_NONE = 0,  /* no auth (local servers, mock) */
    AIGW__CRED_API_KEY,   /* a static key in a header, from config, env or a watched file */
    AIGW__CRED_BEARER,    /* an OAuth2 / OIDC access token from a refresher */
    AIGW__CRED_AWS_SIGV4, /* AWS credentials from a refresher, signing the whole request */
    AIGW__CRED_CALLBACK,  /* headers from the application's aigw_credential_cb */
} aigw__credential_kind;

/* Where an API key goes. */
typedef enum aigw__key_header {
    AIGW__KEY_BEARER = 0, /* Authorization: Bearer KEY */
    AIGW__KEY_X_API_KEY,  /* x-api-key: KEY */
    AIGW__KEY_API_KEY,    /* api-key: KEY */
    AIGW__KEY_GOOG,       /* x-goog-api-key: KEY */
} aigw__key_header;

/* What a refresher produces: a bearer token, or AWS credentials; both may
 * expire. Every string is secret: aigw__cred_value_clear wipes them. */
typedef struct aigw__cred_value {
    char *bearer_token;
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *aws_session_token; /* NULL for long-term keys */
    time_t expires_at;       /* 0: never expires */
} aigw__cred_value;

void aigw__cred_value_clear(aigw__cred_value *v);
/* A deep copy; AIGW_ENOMEM leaves *out cleared. */
aigw_status aigw__cred_value_copy(const aigw__cred_value *src, aigw__cred_value *out);

typedef struct aigw__credential {
    aigw__credential_kind kind;
    char *name;   /* for errors and logs: "credential \"corp\"", never a secret */
    char *source; /* where the secret comes from: "environment variable X", "file F" */
    /* API_KEY */
    int header_set; /* header chosen by the config; else the backend's schema decides */
    aigw__key_header header;
    struct aigw__key_store *key;
    /* BEARER, AWS_SIGV4: a value that never changes (keys from the
     * environment, a static token), or a refresher that keeps one fresh */
    aigw__cred_value *fixed;
    struct aigw__refresher *refresher;
    /* CALLBACK: the client's callback, set when the client is created */
    aigw_credential_cb callback;
    void *callback_user;
} aigw__credential;

/* Adds auth to the finished request for `backend` (its name for errors, its
 * schema's API-key header, its region and SigV4 key cache). A credential
 * that cannot be had gives AIGW_EAUTH naming the credential and where it
 * comes from, never the value. */
aigw_status aigw__credential_apply(const aigw__credential *cred,
                                   const struct aigw__backend *backend, aigw__upstream_request *req,
                                   aigw_error **err);
/* dst becomes a copy of src sharing its key store and refresher. */
aigw_status aigw__credential_copy(aigw__credential *dst, const aigw__credential *src);
/* Releases what the credential holds and zeroes it. */
void aigw__credential_clear(aigw__credential *cred);

/* ---- building credentials ---- */

/* Makes cred a `kind` (BEARER or AWS_SIGV4) credential with a value that
 * never changes (copied). */
aigw_status aigw__credential_set_fixed(aigw__credential *cred, aigw__credential_kind kind,
                                       const aigw__cred_value *value);
/* Sets cred->name to `credential "NAME"` and cred->source (may be NULL). */
aigw_status aigw__credential_set_names(aigw__credential *cred, const char *name,
                                       const char *source);

/* What a credential loader may need from the client being built. */
typedef struct aigw__cred_context {
    const aigw__logger *logger; /* warnings: secret files others can read */
    aigw_credential_cb callback;
    void *callback_user;
} aigw__cred_context;

/* An API key: `value` inline, or read from the environment variable `env`,
 * or from `file` (re-read whenever it changes: rotation with no restart).
 * Exactly one of the three. A missing value is not an error here: the
 * request using it fails with AIGW_EAUTH naming `source`. */
aigw_status aigw__api_key_new(aigw__credential *cred, const char *name, const char *value,
                              const char *env, const char *file, const aigw__cred_context *ctx,
                              aigw_error **err);

/* A credential from a config object {"type": ..., ...}; `path` prefixes
 * errors ("credentials.corp"). Types: api_key, aws, azure_entra, gcp, oidc,
 * callback. Each type's loader lives in its own file. */
aigw_status aigw__credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                  const char *path, const aigw__cred_context *ctx,
                                  aigw_error **err);

/* The loaders of the typed credentials (one file each). Each checks every
 * key of `conf` (unknown keys, wrong types → AIGW_ECONFIG with `path`) and
 * sets up cred->kind, ->source and ->refresher. */
aigw_status aigw__aws_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                      const char *path, const aigw__cred_context *ctx,
                                      aigw_error **err);
aigw_status aigw__azure_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                        const char *path, const aigw__cred_context *ctx,
                                        aigw_error **err);
aigw_status aigw__gcp_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                      const char *path, const aigw__cred_context *ctx,
                                      aigw_error **err);
aigw_status aigw__oidc_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                       const char *path, const aigw__cred_context *ctx,
                                       aigw_error **err);

/* Zero-config chains (environment, standard files), as each provider's SDK
 * does it; they return AIGW_OK with cred->kind NONE when the environment
 * holds nothing for them. */
aigw_status aigw__aws_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                         aigw_error **err);
aigw_status aigw__azure_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                           aigw_error **err);
aigw_status aigw__gcp_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                         aigw_error **err);

#endif
