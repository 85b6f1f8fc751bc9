/* Gateway keys: the client's key (Authorization: Bearer, or x-api-key) is
 * hashed with SHA-256 and compared in constant time with every configured
 * hash (no early exit, so timing says nothing about which entry or how
 * much matched). The key itself is never stored, logged or forwarded. */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "server/gateway.h"

static const char *presented_key(const aigw__http_request *req) {
    const char *auth = aigw__http_request_header(req, "authorization");
    if (auth) {
        while (*auth == ' ')
            auth++;
        if (strncasecmp(auth, "bearer ", 7) == 0) {
            auth += 7;
            while (*auth == ' ')
                auth++;
            if (*auth)
                return auth;
        }
    }
    const char *x = aigw__http_request_header(req, "x-api-key");
    return x && *x ? x : NULL;
}

int aigw__gw_authenticate(const aigw__gw_config *cfg, const aigw__http_request *req,
                          const aigw__gw_key **key) {
    *key = NULL;
    if (cfg->n_keys == 0)
        return 1;
    const char *k = presented_key(req);
    if (!k)
        return 0;
    size_t len = strlen(k);
    while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
        len--;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)k, len, digest);
    const aigw__gw_key *found = NULL;
    for (size_t i = 0; i < cfg->n_keys; i++) {
        int eq = CRYPTO_memcmp(digest, cfg->keys[i].sha256, sizeof(digest)) == 0;
        if (eq && !found)
            found = &cfg->keys[i];
    }
    OPENSSL_cleanse(digest, sizeof(digest));
    *key = found;
    return found != NULL;
}
