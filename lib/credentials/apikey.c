/* API-key credentials: the key goes into the header its schema expects. */
#include <string.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "credentials/apikey.h"

static const char *header_prefix(aigw__key_header header) {
    switch (header) {
    case AIGW__KEY_X_API_KEY:
        return "x-api-key: ";
    case AIGW__KEY_API_KEY:
        return "api-key: ";
    case AIGW__KEY_GOOG:
        return "x-goog-api-key: ";
    case AIGW__KEY_BEARER:
    default:
        return "Authorization: Bearer ";
    }
}

aigw_status aigw__apikey_apply(const aigw__credential *cred, const char *backend_name,
                               struct curl_slist **headers, aigw_error **err) {
    if (cred->missing || !cred->secret || !*cred->secret)
        return aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                        "backend \"%s\": no API key (%s is not set)", backend_name,
                                        cred->source ? cred->source : "no key configured");
    if (strpbrk(cred->secret, "\r\n"))
        return aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                        "backend \"%s\": the API key from %s contains a line break",
                                        backend_name, cred->source ? cred->source : "the config");
    aigw__buf line = AIGW__BUF_INIT;
    aigw_status st = aigw__buf_puts(&line, header_prefix(cred->header));
    if (!st)
        st = aigw__buf_puts(&line, cred->secret);
    struct curl_slist *grown = st ? NULL : curl_slist_append(*headers, line.data);
    if (line.data)
        OPENSSL_cleanse(line.data, line.len);
    aigw__buf_free(&line);
    if (!grown)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    *headers = grown;
    return AIGW_OK;
}
