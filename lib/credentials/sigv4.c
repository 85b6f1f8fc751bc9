/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 signing, per AWS's "Create a signed AWS API
 * request": canonical request, string to sign, HMAC-SHA256 key chain.
 * Key material is wiped with OPENSSL_cleanse as soon as it is used. */
#include "credentials/sigv4.h"

#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *bytes, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[bytes[i] >> 4];
        out[2 * i + 1] = hexdigits[bytes[i] & 0xf];
    }
    out[2 * n] = '\0';
}

void aigw__sigv4_sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    static const unsigned char empty = 0;
    SHA256(data ? data : &empty, len, digest);
    to_hex(digest, sizeof digest, hex);
}

static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       unsigned char out[32]) {
    unsigned int out_len = 0;
    static const unsigned char empty = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data ? data : &empty, len, out, &out_len))
        return -1;
    return out_len == 32 ? 0 : -1;
}

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 3986 encoding of s[0..len): unreserved bytes (and '/' when
 * keep_slash) stay, every other byte becomes %XX (upper-case hex). */
static aigw_status uri_encode(aigw__buf *b, const char *s, size_t len, int keep_slash) {
    static const char upper[] = "0123456789ABCDEF";
    aigw_status st = aigw__buf_reserve(b, len * 3 + 1);
    for (size_t i = 0; !st && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            st = aigw__buf_append(b, &s[i], 1);
        } else {
            char esc[3] = {'%', upper[c >> 4], upper[c & 0xf]};
            st = aigw__buf_append(b, esc, 3);
        }
    }
    return st;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) (a '%' not followed by two hex digits stays a
 * '%'; '+' stays '+') and re-encodes it strictly into a new string. */
static char *requery_encode(const char *s, size_t len) {
    char *raw = aigw__malloc(len + 1);
    if (!raw)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            raw[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            raw[n++] = s[i];
        }
    }
    aigw__buf b = AIGW__BUF_INIT;
    aigw_status st = uri_encode(&b, raw, n, 0);
    aigw__free(raw);
    if (st) {
        aigw__buf_free(&b);
        return NULL;
    }
    return aigw__buf_detach(&b);
}

typedef struct qparam {
    char *name;
    char *value;
} qparam;

static int qparam_cmp(const void *a, const void *b) {
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static aigw_status canonical_query(aigw__buf *out, const char *query) {
    if (!query || !*query)
        return AIGW_OK;
    size_t count = 1;
    for (const char *p = query; *p; p++)
        count += *p == '&';
    qparam *params = aigw__calloc(count, sizeof *params);
    if (!params)
        return AIGW_ENOMEM;
    size_t n = 0;
    aigw_status st = AIGW_OK;
    for (const char *p = query; !st;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) { /* "a&&b": an empty pair is no parameter */
            const char *eq = memchr(p, '=', len);
            size_t name_len = eq ? (size_t)(eq - p) : len;
            params[n].name = requery_encode(p, name_len);
            params[n].value = eq ? requery_encode(eq + 1, len - name_len - 1) : aigw__strdup("");
            if (!params[n].name || !params[n].value)
                st = AIGW_ENOMEM;
            n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!st) {
        qsort(params, n, sizeof *params, qparam_cmp);
        for (size_t i = 0; !st && i < n; i++)
            st = aigw__buf_cat(out, i ? "&" : "", params[i].name, "=", params[i].value, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        aigw__free(params[i].name);
        aigw__free(params[i].value);
    }
    aigw__free(params);
    return st;
}

typedef struct hdr {
    char *name;  /* lower-cased */
    char *value; /* trimmed, inner runs of blanks collapsed to one space */
    size_t order;
} hdr;

static int hdr_cmp(const void *a, const void *b) {
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Splits "Name: value" (or curl's "Name;" for an empty value). */
static aigw_status parse_header(const char *line, size_t order, hdr *h) {
    const char *colon = strchr(line, ':');
    size_t name_len;
    const char *v;
    if (colon) {
        name_len = (size_t)(colon - line);
        v = colon + 1;
    } else {
        size_t len = strlen(line);
        if (!len || line[len - 1] != ';')
            return AIGW_EINVAL;
        name_len = len - 1;
        v = line + len;
    }
    while (name_len && is_blank(line[name_len - 1]))
        name_len--;
    if (!name_len)
        return AIGW_EINVAL;
    h->order = order;
    h->name = aigw__strndup(line, name_len);
    h->value = aigw__malloc(strlen(v) + 1);
    if (!h->name || !h->value)
        return AIGW_ENOMEM;
    for (size_t i = 0; i < name_len; i++)
        if (h->name[i] >= 'A' && h->name[i] <= 'Z')
            h->name[i] = (char)(h->name[i] - 'A' + 'a');
    size_t n = 0;
    int pending_space = 0;
    for (; *v; v++) {
        if (is_blank(*v)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space)
            h->value[n++] = ' ';
        pending_space = 0;
        h->value[n++] = *v;
    }
    h->value[n] = '\0';
    return AIGW_OK;
}

/* Appends the canonical headers block (each "name:value\n") to `creq` and
 * the signed-headers list to `signed_headers`. */
static aigw_status canonical_headers(aigw__buf *creq, aigw__buf *signed_headers,
                                     const struct curl_slist *headers) {
    size_t count = 0;
    for (const struct curl_slist *h = headers; h; h = h->next)
        count++;
    if (!count)
        return AIGW_EINVAL;
    hdr *list = aigw__calloc(count, sizeof *list);
    if (!list)
        return AIGW_ENOMEM;
    aigw_status st = AIGW_OK;
    size_t n = 0;
    for (const struct curl_slist *h = headers; h && !st; h = h->next, n++)
        st = parse_header(h->data, n, &list[n]);
    if (!st) {
        qsort(list, n, sizeof *list, hdr_cmp);
        for (size_t i = 0; !st && i < n; i++) {
            int same = i > 0 && strcmp(list[i].name, list[i - 1].name) == 0;
            if (same) {
                st = aigw__buf_cat(creq, ",", list[i].value, NULL);
                continue;
            }
            if (i > 0)
                st = aigw__buf_puts(creq, "\n");
            if (!st)
                st = aigw__buf_cat(creq, list[i].name, ":", list[i].value, NULL);
            if (!st)
                st = aigw__buf_cat(signed_headers, signed_headers->len ? ";" : "", list[i].name,
                                   NULL);
        }
        if (!st)
            st = aigw__buf_puts(creq, "\n");
    }
    for (size_t i = 0; i < count; i++) {
        aigw__free(list[i].name);
        aigw__free(list[i].value);
    }
    aigw__free(list);
    return st;
}

static int valid_amz_date(const char *d) {
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return 0;
    return 1;
}

/* The signing key: HMAC chain "AWS4"+secret → date → region → service →
 * "aws4_request", every intermediate wiped. */
static int derive_signing_key(const char *secret, const char *date8, const char *region,
                              const char *service, unsigned char key[32]) {
    size_t secret_len = strlen(secret);
    unsigned char *k_secret = aigw__malloc(secret_len + 4);
    unsigned char k1[32];
    int rc = -1;
    if (!k_secret)
        return -1;
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, secret_len);
    if (hmac_sha256(k_secret, secret_len + 4, date8, 8, k1) == 0 &&
        hmac_sha256(k1, 32, region, strlen(region), key) == 0 &&
        hmac_sha256(key, 32, service, strlen(service), k1) == 0 &&
        hmac_sha256(k1, 32, "aws4_request", 12, key) == 0)
        rc = 0;
    OPENSSL_cleanse(k_secret, secret_len + 4);
    aigw__free(k_secret);
    OPENSSL_cleanse(k1, sizeof k1);
    return rc;
}

/* The signature: HMAC(signing key, string to sign), derived here unless
 * the caller has the key already. */
static int compute_signature(const aigw__sigv4_input *in, const char *sts, char out_hex[65]) {
    unsigned char key[32], sig[32];
    int rc = -1;
    if (in->signing_key)
        memcpy(key, in->signing_key, sizeof key);
    else if (derive_signing_key(in->secret_access_key, in->amz_date, in->region, in->service, key))
        goto out;
    if (hmac_sha256(key, sizeof key, sts, strlen(sts), sig) == 0) {
        to_hex(sig, sizeof sig, out_hex);
        rc = 0;
    }
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(sig, sizeof sig);
    return rc;
}

struct aigw__sigv4_key_cache {
    pthread_mutex_t lock;
    char date8[9];           /* "" until the first derivation */
    char access_key_id[129]; /* the keys the cached key was derived from */
    unsigned char key[32];
};

aigw_status aigw__sigv4_key_cache_new(struct aigw__sigv4_key_cache **out) {
    struct aigw__sigv4_key_cache *c = aigw__calloc(1, sizeof *c);
    if (!c)
        return AIGW_ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return AIGW_OK;
}

void aigw__sigv4_key_cache_free(struct aigw__sigv4_key_cache *cache) {
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    OPENSSL_cleanse(cache, sizeof *cache);
    aigw__free(cache);
}

/* Copies the signing key for date8 into key, deriving it once per day and
 * whenever the access key id changes (temporary credentials rotate). */
static int cached_signing_key(const aigw__aws_signing *s, const char *date8,
                              unsigned char key[32]) {
    struct aigw__sigv4_key_cache *c = s->key_cache;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    if (memcmp(c->date8, date8, 8) != 0 || strcmp(c->access_key_id, s->access_key_id) != 0) {
        rc = derive_signing_key(s->secret_access_key, date8, s->region, s->service, c->key);
        if (rc == 0 && strlen(s->access_key_id) < sizeof c->access_key_id) {
            memcpy(c->date8, date8, 8);
            strcpy(c->access_key_id, s->access_key_id);
        } else {
            c->date8[0] = '\0';
        }
    }
    if (rc == 0)
        memcpy(key, c->key, 32);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void aigw__sigv4_output_free(aigw__sigv4_output *out) {
    if (!out)
        return;
    aigw__free(out->canonical_request);
    aigw__free(out->string_to_sign);
    aigw__free(out->signed_headers);
    aigw__free(out->signature);
    aigw__free(out->authorization);
    memset(out, 0, sizeof *out);
}

aigw_status aigw__sigv4_sign(const aigw__sigv4_input *in, aigw__sigv4_output *out,
                             aigw_error **err) {
    memset(out, 0, sizeof *out);
    if (!in->method || !*in->method || !in->access_key_id || !in->secret_access_key ||
        !in->region || !*in->region || !in->service || !*in->service)
        return aigw__error_set(err, AIGW_EINVAL, "SigV4: method, keys, region and service needed");
    if (!valid_amz_date(in->amz_date))
        return aigw__error_set(err, AIGW_EINVAL, "SigV4: the date must look like 20150830T123600Z");

    aigw__buf creq = AIGW__BUF_INIT, signed_headers = AIGW__BUF_INIT, sts = AIGW__BUF_INIT,
              auth = AIGW__BUF_INIT;
    char payload_hex[65], creq_hex[65], signature[65], date8[9];
    memcpy(date8, in->amz_date, 8);
    date8[8] = '\0';
    const char *path = in->path && *in->path ? in->path : "/";

    aigw_status st = aigw__buf_cat(&creq, in->method, "\n", NULL);
    if (!st)
        st = in->path_verbatim ? aigw__buf_puts(&creq, path)
                               : uri_encode(&creq, path, strlen(path), 1);
    if (!st)
        st = aigw__buf_puts(&creq, "\n");
    if (!st)
        st = canonical_query(&creq, in->query);
    if (!st)
        st = aigw__buf_puts(&creq, "\n");
    if (!st)
        st = canonical_headers(&creq, &signed_headers, in->headers);
    if (st == AIGW_EINVAL) {
        st = aigw__error_set(err, AIGW_EINVAL, "SigV4: a header line without a name or ':'");
        goto out;
    }
    if (!st) {
        if (in->payload_hash)
            snprintf(payload_hex, sizeof payload_hex, "%s", in->payload_hash);
        else
            aigw__sigv4_sha256_hex(in->payload, in->payload_len, payload_hex);
        st = aigw__buf_cat(&creq, "\n", signed_headers.data, "\n", payload_hex, NULL);
    }
    if (!st) {
        aigw__sigv4_sha256_hex(creq.data, creq.len, creq_hex);
        st = aigw__buf_cat(&sts, SIGV4_ALGORITHM "\n", in->amz_date, "\n", date8, "/", in->region,
                           "/", in->service, "/aws4_request\n", creq_hex, NULL);
    }
    if (st)
        goto out;
    if (compute_signature(in, sts.data, signature)) {
        st = aigw__error_set(err, AIGW_EINTERNAL, "SigV4: HMAC-SHA256 failed");
        goto out;
    }
    st = aigw__buf_cat(&auth, SIGV4_ALGORITHM " Credential=", in->access_key_id, "/", date8, "/",
                       in->region, "/", in->service,
                       "/aws4_request, SignedHeaders=", signed_headers.data,
                       ", Signature=", signature, NULL);
    if (!st) {
        out->canonical_request = aigw__buf_detach(&creq);
        out->string_to_sign = aigw__buf_detach(&sts);
        out->signed_headers = aigw__buf_detach(&signed_headers);
        out->signature = aigw__strdup(signature);
        out->authorization = aigw__buf_detach(&auth);
        if (!out->canonical_request || !out->string_to_sign || !out->signed_headers ||
            !out->signature || !out->authorization) {
            aigw__sigv4_output_free(out);
            st = AIGW_ENOMEM;
        }
    }
out:
    OPENSSL_cleanse(signature, sizeof signature);
    aigw__buf_free(&creq);
    aigw__buf_free(&signed_headers);
    aigw__buf_free(&sts);
    aigw__buf_free(&auth);
    if (st == AIGW_ENOMEM)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return st;
}

/* ---- signing an upstream request ---- */

typedef struct url_parts {
    char *host;  /* "example.com", "[::1]", with ":port" when not the default */
    char *path;  /* as sent, "/" when empty */
    char *query; /* as sent, without '?'; NULL when none */
} url_parts;

static void url_parts_free(url_parts *u) {
    aigw__free(u->host);
    aigw__free(u->path);
    aigw__free(u->query);
}

static aigw_status parse_url(const char *url, url_parts *u) {
    memset(u, 0, sizeof *u);
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!sep)
        return AIGW_EINVAL;
    size_t scheme_len = (size_t)(sep - url);
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *rest = auth + auth_len;
    /* Drop any user:password@. */
    for (size_t i = auth_len; i > 0; i--)
        if (auth[i - 1] == '@') {
            auth_len -= i;
            auth += i;
            break;
        }
    size_t host_len;
    if (auth_len && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close)
            return AIGW_EINVAL;
        host_len = (size_t)(close - auth) + 1;
    } else {
        const char *colon = memchr(auth, ':', auth_len);
        host_len = colon ? (size_t)(colon - auth) : auth_len;
    }
    if (!host_len)
        return AIGW_EINVAL;
    const char *port = NULL;
    size_t port_len = 0;
    if (host_len < auth_len && auth[host_len] == ':') {
        port = auth + host_len + 1;
        port_len = auth_len - host_len - 1;
    }
    long port_num = -1;
    if (port_len) {
        port_num = 0;
        for (size_t i = 0; i < port_len; i++) {
            if (port[i] < '0' || port[i] > '9' || port_num > 65535)
                return AIGW_EINVAL;
            port_num = port_num * 10 + (port[i] - '0');
        }
        if (port_num > 65535)
            return AIGW_EINVAL;
    }
    long default_port = -1;
    if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
        default_port = 443;
    else if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        default_port = 80;
    aigw__buf host = AIGW__BUF_INIT;
    aigw_status st = aigw__buf_append(&host, auth, host_len);
    if (!st && port_num >= 0 && port_num != default_port)
        st = aigw__buf_printf(&host, ":%ld", port_num);
    if (st || !(u->host = aigw__buf_detach(&host))) {
        aigw__buf_free(&host);
        return AIGW_ENOMEM;
    }
    size_t path_len = strcspn(rest, "?#");
    u->path = path_len ? aigw__strndup(rest, path_len) : aigw__strdup("/");
    if (!u->path)
        return AIGW_ENOMEM;
    if (rest[path_len] == '?') {
        const char *q = rest + path_len + 1;
        if (!(u->query = aigw__strndup(q, strcspn(q, "#"))))
            return AIGW_ENOMEM;
    }
    return AIGW_OK;
}

/* Header names this stage sets itself: earlier copies are dropped. */
static int is_own_header(const char *line) {
    static const char *const own[] = {"authorization", "x-amz-date", "x-amz-content-sha256",
                                      "x-amz-security-token"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        size_t n = strlen(own[i]);
        if (strncasecmp(line, own[i], n) == 0 &&
            (line[n] == ':' || line[n] == ';' || line[n] == ' ' || line[n] == '\t'))
            return 1;
    }
    return 0;
}

/* Headers a proxy or curl may change or drop, and lines that make curl
 * remove a header ("Name:" with no value): not signed (as botocore). */
static int is_unsigned_header(const char *line) {
    static const char *const skip[] = {
        "connection",     "expect",  "keep-alive", "te",
        "trailer",        "upgrade", "user-agent", "transfer-encoding",
        "x-amzn-trace-id"};
    const char *colon = strchr(line, ':');
    if (!colon) { /* "Name;" is an empty header, signed; anything else curl drops */
        size_t len = strlen(line);
        return !len || line[len - 1] != ';';
    }
    size_t n = (size_t)(colon - line);
    while (n && is_blank(line[n - 1]))
        n--;
    const char *v = colon + 1;
    while (*v && is_blank(*v))
        v++;
    if (!*v)
        return 1;
    if (n >= 6 && strncasecmp(line, "proxy-", 6) == 0)
        return 1;
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == n && strncasecmp(line, skip[i], n) == 0)
            return 1;
    return 0;
}

static int has_host_header(const struct curl_slist *h) {
    for (; h; h = h->next)
        if (strncasecmp(h->data, "host", 4) == 0 && (h->data[4] == ':' || h->data[4] == ' '))
            return !is_unsigned_header(h->data);
    return 0;
}

static struct curl_slist *append(struct curl_slist *list, const char *line, aigw_status *st) {
    if (*st)
        return list;
    struct curl_slist *grown = curl_slist_append(list, line);
    if (!grown) {
        *st = AIGW_ENOMEM;
        return list;
    }
    return grown;
}

static int has_line_break(const char *s) {
    return strpbrk(s, "\r\n") != NULL;
}

aigw_status aigw__sigv4_apply(const aigw__aws_signing *cred, const char *backend_name,
                              aigw__upstream_request *req, time_t now, aigw_error **err) {
    const char *source = cred->source ? cred->source : "no AWS credentials configured";
    if (!cred->access_key_id || !*cred->access_key_id)
        return aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                        "backend \"%s\": no AWS access key id (%s)", backend_name,
                                        source);
    if (!cred->secret_access_key || !*cred->secret_access_key)
        return aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                        "backend \"%s\": no AWS secret access key (%s)",
                                        backend_name, source);
    if (has_line_break(cred->access_key_id) || has_line_break(cred->secret_access_key) ||
        (cred->session_token && has_line_break(cred->session_token)))
        return aigw__error_set_upstream(
            err, AIGW_EAUTH, backend_name, 0, NULL, 0,
            "backend \"%s\": the AWS credentials from %s contain a line break", backend_name,
            source);
    if (!cred->region || !*cred->region || !cred->service || !*cred->service)
        return aigw__error_set(err, AIGW_ECONFIG, "backend \"%s\": no AWS region%s", backend_name,
                               cred->region && *cred->region ? " service" : "");

    url_parts url;
    aigw_status st = parse_url(req->url.data, &url);
    if (st) {
        url_parts_free(&url);
        if (st == AIGW_ENOMEM)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        return aigw__error_set(err, AIGW_EINVAL, "backend \"%s\": cannot sign the URL %s",
                               backend_name, req->url.data ? req->url.data : "(none)");
    }

    char amz_date[32], payload_hex[65];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    aigw__sigv4_sha256_hex(req->body.data, req->body.len, payload_hex);

    /* The request's new header list: the old one without earlier signing
     * headers, plus the fresh ones. */
    struct curl_slist *headers = NULL, *to_sign = NULL;
    aigw__buf line = AIGW__BUF_INIT;
    aigw__sigv4_output out = {0};
    if (!has_host_header(req->headers)) {
        st = aigw__buf_cat(&line, "host: ", url.host, NULL);
        to_sign = append(to_sign, line.data, &st);
        aigw__buf_clear(&line);
    }
    for (struct curl_slist *h = req->headers; h; h = h->next) {
        if (is_own_header(h->data))
            continue;
        headers = append(headers, h->data, &st);
        if (!is_unsigned_header(h->data))
            to_sign = append(to_sign, h->data, &st);
    }
    const char *name[3] = {"X-Amz-Date: ", "X-Amz-Content-Sha256: ", "X-Amz-Security-Token: "};
    const char *val[3] = {amz_date, payload_hex, cred->session_token};
    for (int i = 0; i < 3 && !st; i++) {
        if (!val[i])
            continue;
        aigw__buf_clear(&line);
        st = aigw__buf_cat(&line, name[i], val[i], NULL);
        headers = append(headers, line.data, &st);
        to_sign = append(to_sign, line.data, &st);
    }
    unsigned char signing_key[32];
    int have_key = !st && cred->key_cache && cached_signing_key(cred, amz_date, signing_key) == 0;
    if (!st) {
        aigw__sigv4_input in = {
            .method = req->method,
            .path = url.path,
            .path_verbatim = strcmp(cred->service, "s3") == 0,
            .query = url.query,
            .headers = to_sign,
            .payload = req->body.data,
            .payload_len = req->body.len,
            .payload_hash = payload_hex,
            .access_key_id = cred->access_key_id,
            .secret_access_key = cred->secret_access_key,
            .region = cred->region,
            .service = cred->service,
            .amz_date = amz_date,
            .signing_key = have_key ? signing_key : NULL,
        };
        st = aigw__sigv4_sign(&in, &out, err);
        if (!st) {
            aigw__buf_clear(&line);
            st = aigw__buf_cat(&line, "Authorization: ", out.authorization, NULL);
            headers = append(headers, line.data, &st);
        }
    }
    OPENSSL_cleanse(signing_key, sizeof signing_key);
    if (line.data)
        OPENSSL_cleanse(line.data, line.len);
    aigw__buf_free(&line);
    aigw__sigv4_output_free(&out);
    /* to_sign may hold the session token. */
    for (struct curl_slist *h = to_sign; h; h = h->next)
        OPENSSL_cleanse(h->data, strlen(h->data));
    curl_slist_free_all(to_sign);
    url_parts_free(&url);
    if (st) {
        curl_slist_free_all(headers);
        if (st == AIGW_ENOMEM)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        return st; /* already in *err */
    }
    curl_slist_free_all(req->headers);
    req->headers = headers;
    return AIGW_OK;
}
