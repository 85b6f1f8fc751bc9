/* SPDX-License-Identifier: Apache-2.0 */
/* OAuth 2.0 client credentials (RFC 6749 §4.4) shared by the Azure Entra ID
 * and generic OIDC credentials: the token request (client secret, sent in
 * the form or as HTTP Basic, or a JWT client assertion, RFC 7523) and the
 * token response. No secret ever reaches an error or a log line. */
#ifndef AIGW_CREDENTIALS_OAUTH_H
#define AIGW_CREDENTIALS_OAUTH_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "aigw/error.h"
#include "core/log.h"
#include "credentials/credential.h"

/* Lifetime assumed when a token response has no expires_in. */
#define AIGW__OAUTH_DEFAULT_LIFETIME 3600L

typedef enum aigw__oauth_auth {
    AIGW__OAUTH_SECRET_POST = 0, /* client_secret in the form */
    AIGW__OAUTH_SECRET_BASIC,    /* Authorization: Basic base64(id:secret) */
    AIGW__OAUTH_ASSERTION,       /* client_assertion = a file's contents (re-read each time) */
} aigw__oauth_auth;

/* What a token request needs; owned by the refresher (aigw__oauth_client_free). */
typedef struct aigw__oauth_client {
    char *name;      /* "credential \"corp\"" */
    char *token_url; /* full URL */
    char *host;      /* the URL's host, for errors */
    char *client_id;
    aigw__oauth_auth auth;
    char *secret_env;     /* the secret: this environment variable... */
    char *secret_file;    /* ...or this file (re-read at every request) */
    char *assertion_file; /* AIGW__OAUTH_ASSERTION */
    char *scope;          /* may be NULL */
    char *audience;       /* may be NULL */
    long timeout_ms;      /* 0: fetch's default */
    aigw__logger logger;
} aigw__oauth_client;

void aigw__oauth_client_free(void *client);

/* The refresher's fetch function: one token request. */
aigw_status aigw__oauth_fetch(void *client, aigw__cred_value *out, aigw_error **err);

/* Reads a token endpoint's answer (HTTP `http_status`, body[0..len)). On
 * success out->bearer_token and out->expires_at (now + expires_in). On
 * failure a status and an error starting with `name` ("credential \"x\"")
 * and naming `host`; an error description equal to or containing one of the
 * `secrets` (NULL-terminated, may be NULL) is not repeated. */
aigw_status aigw__oauth_parse_response(const char *name, const char *host, long http_status,
                                       const char *body, size_t len, time_t now,
                                       const char *const *secrets, aigw__cred_value *out,
                                       aigw_error **err);

/* ---- config helpers for the loaders ---- */

/* *out = the non-empty string conf[key] (NULL when absent and !required). */
aigw_status aigw__oauth_conf_string(json_object *conf, const char *path, const char *key,
                                    int required, const char **out, aigw_error **err);
/* Warns through `logger` when the file exists and group or others may read
 * it. */
void aigw__oauth_check_file_mode(const aigw__logger *logger, const char *name, const char *file);
/* The host part of a URL, newly allocated (NULL: out of memory). */
char *aigw__oauth_url_host(const char *url);

#endif
