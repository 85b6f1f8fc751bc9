/* SPDX-License-Identifier: Apache-2.0 */
/* RS256 JSON Web Tokens. */
#include "credentials/jwt.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

char *aigw__base64url(const unsigned char *data, size_t len) {
    if (len > ((size_t)1 << 28))
        return NULL;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = aigw__malloc(cap);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    if (n < 0) {
        aigw__free(out);
        return NULL;
    }
    size_t m = (size_t)n;
    while (m > 0 && out[m - 1] == '=')
        m--;
    out[m] = '\0';
    for (size_t i = 0; i < m; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

static aigw_status append_part(aigw__buf *b, json_object *obj) {
    const char *s = json_object_to_json_string_ext(obj, AIGW__JSON_FLAGS);
    if (!s)
        return AIGW_ENOMEM;
    char *enc = aigw__base64url((const unsigned char *)s, strlen(s));
    if (!enc)
        return AIGW_ENOMEM;
    aigw_status st = aigw__buf_puts(b, enc);
    OPENSSL_cleanse(enc, strlen(enc));
    aigw__free(enc);
    return st;
}

aigw_status aigw__jwt_sign_rs256(EVP_PKEY *key, json_object *header, json_object *claims,
                                 char **out) {
    *out = NULL;
    aigw__buf b = AIGW__BUF_INIT;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char *sigenc = NULL;
    aigw_status st = append_part(&b, header);
    if (!st)
        st = aigw__buf_puts(&b, ".");
    if (!st)
        st = append_part(&b, claims);
    if (st)
        goto done;

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        st = AIGW_ENOMEM;
        goto done;
    }
    st = AIGW_EINTERNAL;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)b.data, b.len) == 1) {
        sig = aigw__malloc(siglen ? siglen : 1);
        if (!sig)
            st = AIGW_ENOMEM;
        else if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)b.data, b.len) == 1)
            st = AIGW_OK;
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (st)
        goto done;
    sigenc = aigw__base64url(sig, siglen);
    if (!sigenc || aigw__buf_cat(&b, ".", sigenc, NULL)) {
        st = AIGW_ENOMEM;
        goto done;
    }
    *out = aigw__buf_detach(&b);
    if (!*out)
        st = AIGW_ENOMEM;

done:
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    aigw__buf_free(&b);
    aigw__free(sig);
    aigw__free(sigenc);
    return st;
}
