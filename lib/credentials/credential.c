/* The credentials stage: dispatch on the credential's kind. */
#include "credentials/credential.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "credentials/apikey.h"
#include "credentials/sigv4.h"

aigw_status aigw__credential_apply(const aigw__credential *cred, const char *backend_name,
                                   aigw__upstream_request *req, aigw_error **err) {
    switch (cred->kind) {
    case AIGW__CRED_NONE:
        return AIGW_OK;
    case AIGW__CRED_API_KEY:
        return aigw__apikey_apply(cred, backend_name, &req->headers, err);
    case AIGW__CRED_AWS_SIGV4:
        return aigw__sigv4_apply(cred, backend_name, req, time(NULL), err);
    }
    return AIGW_EINTERNAL;
}

static void wipe(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        aigw__free(s);
    }
}

void aigw__credential_clear(aigw__credential *cred) {
    wipe(cred->secret);
    wipe(cred->aws_access_key_id);
    wipe(cred->aws_session_token);
    aigw__free(cred->aws_region);
    aigw__sigv4_key_cache_free(cred->aws_key_cache);
    aigw__free(cred->source);
    memset(cred, 0, sizeof *cred);
}
