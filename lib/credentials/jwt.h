/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Web Tokens signed with RS256 (RFC 7515/7519), as Google's OAuth
 * JWT-bearer grant (RFC 7523) wants them. */
#ifndef AIGW_CREDENTIALS_JWT_H
#define AIGW_CREDENTIALS_JWT_H

#include <stddef.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "aigw/status.h"

/* base64url without padding of data[0..len) into a new string (aigw__malloc);
 * NULL on allocation failure. */
char *aigw__base64url(const unsigned char *data, size_t len);

/* header.claims.signature: both objects serialised compactly, signed with
 * RSASSA-PKCS1-v1_5 SHA-256 by `key`. *out is a new string the caller
 * wipes and frees. AIGW_ENOMEM, or AIGW_EINTERNAL when OpenSSL fails. */
aigw_status aigw__jwt_sign_rs256(EVP_PKEY *key, json_object *header, json_object *claims,
                                 char **out);

#endif
