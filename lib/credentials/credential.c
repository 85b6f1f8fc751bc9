/* SPDX-License-Identifier: Apache-2.0 */
/* The credentials stage: dispatch on the credential's kind, and the
 * credential values' life cycle (copy, clear). */
#include "credentials/credential.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/backend.h"
#include "core/buf.h"
#include "core/errors.h"
#include "credentials/apikey.h"
#include "credentials/callback.h"
#include "credentials/refresher.h"
#include "credentials/sigv4.h"

/* The current value of a BEARER or AWS credential: its fixed value, or a
 * fresh one from its refresher. */
static aigw_status current_value(const aigw__credential *cred, aigw__cred_value *v,
                                 aigw_error **err) {
    if (cred->fixed)
        return aigw__cred_value_copy(cred->fixed, v)
                   ? aigw__error_set(err, AIGW_ENOMEM, "out of memory")
                   : AIGW_OK;
    if (cred->refresher)
        return aigw__refresher_get(cred->refresher, v, err);
    return aigw__error_set(err, AIGW_EAUTH, "%s: no credentials (%s)",
                           cred->name ? cred->name : "credential",
                           cred->source ? cred->source : "nothing configured");
}

static aigw_status apply_bearer(const aigw__credential *cred, const aigw__backend *b,
                                aigw__upstream_request *req, aigw_error **err) {
    aigw__cred_value v = {0};
    aigw_status st = current_value(cred, &v, err);
    if (st)
        return st;
    int ctl = 0; /* a control byte would be sent raw in the header */
    for (const char *p = v.bearer_token; p && *p && !ctl; p++)
        ctl = (unsigned char)*p < 0x20 || *p == 0x7f;
    if (!v.bearer_token || !*v.bearer_token || ctl) {
        aigw__cred_value_clear(&v);
        return aigw__error_set_upstream(err, AIGW_EAUTH, b->name, 0, NULL, 0,
                                        "backend \"%s\": %s gave no usable token", b->name,
                                        cred->name ? cred->name : "the credential");
    }
    aigw__buf line = AIGW__BUF_INIT;
    st = aigw__buf_cat(&line, "Authorization: Bearer ", v.bearer_token, NULL);
    struct curl_slist *grown = st ? NULL : curl_slist_append(req->headers, line.data);
    aigw__buf_wipe(&line);
    aigw__cred_value_clear(&v);
    if (!grown)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    req->headers = grown;
    return AIGW_OK;
}

static aigw_status apply_sigv4(const aigw__credential *cred, const aigw__backend *b,
                               aigw__upstream_request *req, aigw_error **err) {
    aigw__cred_value v = {0};
    aigw_status st = current_value(cred, &v, err);
    if (st)
        return st;
    aigw__aws_signing s = {
        .access_key_id = v.aws_access_key_id,
        .secret_access_key = v.aws_secret_access_key,
        .session_token = v.aws_session_token,
        .region = b->region,
        .service = "bedrock",
        .source = cred->source,
        .key_cache = b->aws_key_cache,
    };
    st = aigw__sigv4_apply(&s, b->name, req, time(NULL), err);
    aigw__cred_value_clear(&v);
    return st;
}

aigw_status aigw__credential_apply(const aigw__credential *cred, const aigw__backend *b,
                                   aigw__upstream_request *req, aigw_error **err) {
    switch (cred->kind) {
    case AIGW__CRED_NONE:
        return AIGW_OK;
    case AIGW__CRED_API_KEY:
        return aigw__apikey_apply(cred, cred->header_set ? cred->header : b->adapter->key_header,
                                  b->name, &req->headers, err);
    case AIGW__CRED_BEARER:
        return apply_bearer(cred, b, req, err);
    case AIGW__CRED_AWS_SIGV4:
        return apply_sigv4(cred, b, req, err);
    case AIGW__CRED_CALLBACK:
        return aigw__callback_apply(cred, b->name, req, err);
    }
    return aigw__error_set(err, AIGW_EINTERNAL, "unknown credential kind");
}

static int dup_opt(char **dst, const char *src) {
    return src && !(*dst = aigw__strdup(src));
}

aigw_status aigw__credential_copy(aigw__credential *dst, const aigw__credential *src) {
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind;
    dst->header_set = src->header_set;
    dst->header = src->header;
    dst->callback = src->callback;
    dst->callback_user = src->callback_user;
    if (dup_opt(&dst->name, src->name) || dup_opt(&dst->source, src->source))
        goto oom;
    if (src->fixed) {
        if (!(dst->fixed = aigw__calloc(1, sizeof *dst->fixed)) ||
            aigw__cred_value_copy(src->fixed, dst->fixed))
            goto oom;
    }
    dst->key = src->key ? aigw__key_store_ref(src->key) : NULL;
    dst->refresher = src->refresher ? aigw__refresher_ref(src->refresher) : NULL;
    return AIGW_OK;
oom:
    aigw__credential_clear(dst);
    return AIGW_ENOMEM;
}

void aigw__credential_clear(aigw__credential *cred) {
    aigw__free(cred->name);
    aigw__free(cred->source);
    if (cred->fixed) {
        aigw__cred_value_clear(cred->fixed);
        aigw__free(cred->fixed);
    }
    aigw__key_store_unref(cred->key);
    aigw__refresher_unref(cred->refresher);
    memset(cred, 0, sizeof *cred);
}

aigw_status aigw__credential_set_fixed(aigw__credential *cred, aigw__credential_kind kind,
                                       const aigw__cred_value *value) {
    cred->kind = kind;
    if (!(cred->fixed = aigw__calloc(1, sizeof *cred->fixed)) ||
        aigw__cred_value_copy(value, cred->fixed)) {
        aigw__free(cred->fixed);
        cred->fixed = NULL;
        return AIGW_ENOMEM;
    }
    return AIGW_OK;
}

aigw_status aigw__credential_set_names(aigw__credential *cred, const char *name,
                                       const char *source) {
    char label[256];
    snprintf(label, sizeof label, "credential \"%s\"", name);
    aigw__free(cred->name);
    aigw__free(cred->source);
    cred->name = aigw__strdup(label);
    cred->source = source ? aigw__strdup(source) : NULL;
    return !cred->name || (source && !cred->source) ? AIGW_ENOMEM : AIGW_OK;
}
