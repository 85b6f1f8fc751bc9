/* SPDX-License-Identifier: Apache-2.0 */
/* Credential values: the secrets a refresher produces, copied and wiped. */
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "credentials/credential.h"

static void wipe_string(char **s) {
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        aigw__free(*s);
        *s = NULL;
    }
}

void aigw__cred_value_clear(aigw__cred_value *v) {
    if (!v)
        return;
    wipe_string(&v->bearer_token);
    wipe_string(&v->aws_access_key_id);
    wipe_string(&v->aws_secret_access_key);
    wipe_string(&v->aws_session_token);
    v->expires_at = 0;
}

/* *dst = a copy of src (NULL stays NULL); 0 on success. */
static int dup_field(char **dst, const char *src) {
    if (!src) {
        *dst = NULL;
        return 0;
    }
    *dst = aigw__strdup(src);
    return *dst ? 0 : -1;
}

aigw_status aigw__cred_value_copy(const aigw__cred_value *src, aigw__cred_value *out) {
    if (!out)
        return AIGW_EINVAL;
    memset(out, 0, sizeof *out);
    if (!src)
        return AIGW_EINVAL;
    if (dup_field(&out->bearer_token, src->bearer_token) ||
        dup_field(&out->aws_access_key_id, src->aws_access_key_id) ||
        dup_field(&out->aws_secret_access_key, src->aws_secret_access_key) ||
        dup_field(&out->aws_session_token, src->aws_session_token)) {
        aigw__cred_value_clear(out);
        return AIGW_ENOMEM;
    }
    out->expires_at = src->expires_at;
    return AIGW_OK;
}
