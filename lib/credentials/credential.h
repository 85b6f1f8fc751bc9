/* Credentials: how a backend's requests are authenticated. This stage adds
 * auth to an already-built upstream request and never logs the secret. */
#ifndef AIGW_CREDENTIALS_CREDENTIAL_H
#define AIGW_CREDENTIALS_CREDENTIAL_H

#include <curl/curl.h>

#include "aigw/error.h"
#include "core/upstream.h"

typedef enum aigw__credential_kind {
    AIGW__CRED_NONE = 0, /* no auth (local servers, mock) */
    AIGW__CRED_API_KEY,
    AIGW__CRED_AWS_SIGV4, /* AWS Signature Version 4 over the whole request */
} aigw__credential_kind;

/* Where an API key goes, by schema. */
typedef enum aigw__key_header {
    AIGW__KEY_BEARER = 0, /* Authorization: Bearer KEY */
    AIGW__KEY_X_API_KEY,  /* x-api-key: KEY */
    AIGW__KEY_API_KEY,    /* api-key: KEY */
    AIGW__KEY_GOOG,       /* x-goog-api-key: KEY */
} aigw__key_header;

typedef struct aigw__credential {
    aigw__credential_kind kind;
    aigw__key_header header;
    char *secret; /* the key itself; wiped on free; never logged */
    char *source; /* where it came from, for errors: "env OPENAI_API_KEY" */
    int missing;  /* configured to come from somewhere that had nothing */
    /* AWS SigV4: `secret` holds the secret access key. */
    char *aws_access_key_id;
    char *aws_session_token; /* NULL unless temporary credentials */
    char *aws_region;
    const char *aws_service; /* static string, e.g. "bedrock" */
    /* The day's derived SigV4 signing key, shared by the client's threads
     * (credentials/sigv4.c); NULL: derived on every request. */
    struct aigw__sigv4_key_cache *aws_key_cache;
} aigw__credential;

/* Adds auth to the finished request: an API-key header, or a SigV4
 * signature over method, URL, headers and body. A missing key gives
 * AIGW_EAUTH naming the backend and the source, never the value. */
aigw_status aigw__credential_apply(const aigw__credential *cred, const char *backend_name,
                                   aigw__upstream_request *req, aigw_error **err);
/* Zeroes and frees the secrets and the rest. */
void aigw__credential_clear(aigw__credential *cred);

#endif
