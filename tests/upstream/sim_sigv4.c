/* SPDX-License-Identifier: Apache-2.0 */
/* The simulator's own AWS Signature Version 4 check, written from AWS's
 * published description of the algorithm (canonical request, string to
 * sign, signing key chain) with OpenSSL's SHA-256 and HMAC. It shares no
 * code with libaigw's signer. */
#include "sim_sigv4.h"
#include "sim_sigv4_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* ---- a small string builder (this file is also compiled into a test) ---- */

typedef struct sb {
    char *data;
    size_t len, cap;
} sb;

static void sb_add(sb *b, const char *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void sb_puts(sb *b, const char *s) {
    sb_add(b, s, strlen(s));
}

static void sb_putc(sb *b, char c) {
    sb_add(b, &c, 1);
}

static const char *sb_str(sb *b) {
    if (!b->data)
        sb_add(b, "", 0);
    return b->data;
}

/* ---- crypto ---- */

static void to_hex(const unsigned char *p, size_t n, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sim_sigv4_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", len, md);
    to_hex(md, sizeof(md), out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32]) {
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &olen);
}

/* ---- canonicalisation ---- */

static int unreserved(unsigned char c) {
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* URI-encodes S[0..N) as SigV4 asks: every byte but the unreserved ones
 * (and '/' when KEEP_SLASH) as %XX with upper-case hex. */
static void uri_encode(sb *b, const char *s, size_t n, int keep_slash) {
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            sb_putc(b, (char)c);
        } else {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            sb_add(b, e, 3);
        }
    }
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

/* Percent-decodes S[0..N) into B. */
static void uri_decode(sb *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            sb_putc(b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            sb_putc(b, s[i]);
        }
    }
}

typedef struct qparam {
    char *name, *value; /* encoded canonically */
} qparam;

static int qparam_cmp(const void *a, const void *b) {
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* The canonical query string: each name and value decoded, then encoded
 * again, sorted by name then value. */
static void canonical_query(sb *out, const char *query) {
    if (!query || !*query)
        return;
    size_t cap = 1;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    qparam *ps = calloc(cap, sizeof(*ps));
    if (!ps)
        abort();
    size_t n = 0;
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            sb k = {0}, v = {0}, ke = {0}, ve = {0};
            uri_decode(&k, p, klen);
            if (eq)
                uri_decode(&v, eq + 1, len - klen - 1);
            uri_encode(&ke, sb_str(&k), k.len, 0);
            uri_encode(&ve, sb_str(&v), v.len, 0);
            ps[n].name = (char *)sb_str(&ke);
            ps[n].value = (char *)sb_str(&ve);
            n++;
            free(k.data);
            free(v.data);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    qsort(ps, n, sizeof(*ps), qparam_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(out, '&');
        sb_puts(out, ps[i].name);
        sb_putc(out, '=');
        sb_puts(out, ps[i].value);
        free(ps[i].name);
        free(ps[i].value);
    }
    free(ps);
}

/* Appends VALUE trimmed, with runs of spaces collapsed to one. */
static void header_value(sb *b, const char *v) {
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ' ' || v[i] == '\t') {
            space = 1;
            continue;
        }
        if (space)
            sb_putc(b, ' ');
        space = 0;
        sb_putc(b, v[i]);
    }
}

/* "name:value\n" for each name of SIGNED (';'-separated); repeated headers
 * are joined with ','. Returns -1 when a signed header is absent. */
static int canonical_headers(sb *out, const sim_header *headers, size_t nheaders,
                             const char *signed_headers) {
    const char *p = signed_headers;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        int found = 0;
        sb_add(out, p, len);
        sb_putc(out, ':');
        for (size_t i = 0; i < nheaders; i++) {
            if (strlen(headers[i].name) != len || strncasecmp(headers[i].name, p, len) != 0)
                continue;
            if (found)
                sb_putc(out, ',');
            header_value(out, headers[i].value);
            found = 1;
        }
        if (!found)
            return -1;
        sb_putc(out, '\n');
        p += len;
        if (*p == ';')
            p++;
    }
    return 0;
}

int sim_sigv4_signature(const char *method, const char *path, const char *query,
                        const sim_header *headers, size_t nheaders, const char *signed_headers,
                        const char *payload_hash, const char *amz_date, const char *region,
                        const char *service, const char *secret_access_key, char sig[65],
                        char **canonical) {
    sb cr = {0};
    sb_puts(&cr, method);
    sb_putc(&cr, '\n');
    if (!path || !*path)
        path = "/";
    if (strcmp(service, "s3") == 0)
        sb_puts(&cr, path);
    else
        uri_encode(&cr, path, strlen(path), 1);
    sb_putc(&cr, '\n');
    canonical_query(&cr, query);
    sb_putc(&cr, '\n');
    if (canonical_headers(&cr, headers, nheaders, signed_headers) != 0) {
        free(cr.data);
        return -1;
    }
    sb_putc(&cr, '\n');
    sb_puts(&cr, signed_headers);
    sb_putc(&cr, '\n');
    sb_puts(&cr, payload_hash);

    char cr_hash[65];
    sim_sigv4_sha256_hex(cr.data, cr.len, cr_hash);

    char date[9];
    snprintf(date, sizeof(date), "%.8s", amz_date);
    sb sts = {0};
    sb_puts(&sts, "AWS4-HMAC-SHA256\n");
    sb_puts(&sts, amz_date);
    sb_putc(&sts, '\n');
    sb_puts(&sts, date);
    sb_putc(&sts, '/');
    sb_puts(&sts, region);
    sb_putc(&sts, '/');
    sb_puts(&sts, service);
    sb_puts(&sts, "/aws4_request\n");
    sb_puts(&sts, cr_hash);

    sb k = {0};
    sb_puts(&k, "AWS4");
    sb_puts(&k, secret_access_key);
    unsigned char kd[32], kr[32], ks[32], kn[32], out[32];
    hmac((const unsigned char *)k.data, k.len, date, kd);
    hmac(kd, 32, region, kr);
    hmac(kr, 32, service, ks);
    hmac(ks, 32, "aws4_request", kn);
    hmac(kn, 32, sb_str(&sts), out);
    to_hex(out, 32, sig);
    OPENSSL_cleanse(k.data, k.len);

    free(k.data);
    free(sts.data);
    if (canonical)
        *canonical = cr.data;
    else
        free(cr.data);
    return 0;
}

/* ---- verification ---- */

static const char *find_header(const sim_request *req, const char *lname) {
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Copies the value of "KEY=value" from the Authorization parameters. */
static int auth_param(const char *params, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    const char *p = params;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= outlen)
                return -1;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = end ? end + 1 : p + len;
    }
    return -1;
}

static int parse_amz_date(const char *s, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

static void fmt_amz_date(time_t t, char out[17]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

int sim_sigv4_verify_at(const sim_request *req, const char *access_key_id,
                        const char *secret_access_key, const char *region, const char *service,
                        time_t now, char *why, size_t why_len) {
    const char *auth = find_header(req, "authorization");
    if (!auth) {
        WHY("Missing Authentication Token");
        return SIM_SIGV4_MISSING;
    }
    static const char algo[] = "AWS4-HMAC-SHA256 ";
    if (strncmp(auth, algo, sizeof(algo) - 1) != 0) {
        WHY("Authorization header requires the AWS4-HMAC-SHA256 algorithm.");
        return SIM_SIGV4_INCOMPLETE;
    }
    const char *params = auth + sizeof(algo) - 1;
    char cred[512], signed_headers[1024], sig[128];
    if (auth_param(params, "Credential", cred, sizeof(cred)) != 0 ||
        auth_param(params, "SignedHeaders", signed_headers, sizeof(signed_headers)) != 0 ||
        auth_param(params, "Signature", sig, sizeof(sig)) != 0) {
        WHY("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            "parameters.");
        return SIM_SIGV4_INCOMPLETE;
    }
    /* AKID/DATE/REGION/SERVICE/aws4_request */
    char *parts[5];
    int nparts = 0;
    for (char *s = cred, *save = NULL; nparts < 5 && (s = strtok_r(s, "/", &save)); s = NULL)
        parts[nparts++] = s;
    if (nparts != 5) {
        WHY("Credential should be scoped to a valid region, service and terminator.");
        return SIM_SIGV4_INCOMPLETE;
    }
    if (strcmp(parts[0], access_key_id) != 0) {
        WHY("The security token included in the request is invalid.");
        return SIM_SIGV4_UNKNOWN_KEY;
    }
    const char *amz_date = find_header(req, "x-amz-date");
    time_t t;
    if (!amz_date) {
        WHY("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header.");
        return SIM_SIGV4_INCOMPLETE;
    }
    if (parse_amz_date(amz_date, &t) != 0) {
        WHY("Date must be in ISO-8601 'basic format'. Got '%.32s'.", amz_date);
        return SIM_SIGV4_INCOMPLETE;
    }
    char now_s[17], edge_s[17];
    fmt_amz_date(now, now_s);
    if (t < now - 300) {
        fmt_amz_date(now - 300, edge_s);
        WHY("Signature expired: %s is now earlier than %s (%s - 5 min.)", amz_date, edge_s, now_s);
        return SIM_SIGV4_EXPIRED;
    }
    if (t > now + 300) {
        fmt_amz_date(now + 300, edge_s);
        WHY("Signature not yet current: %s is still later than %s (%s + 5 min.)", amz_date, edge_s,
            now_s);
        return SIM_SIGV4_EXPIRED;
    }
    if (strncmp(parts[1], amz_date, 8) != 0 || strlen(parts[1]) != 8) {
        WHY("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            "from HTTP: '%.16s' != '%.8s', from '%s'.",
            parts[1], amz_date, amz_date);
        return SIM_SIGV4_BAD_SIGNATURE;
    }
    if (strcmp(parts[2], region) != 0) {
        WHY("Credential should be scoped to a valid region. ");
        return SIM_SIGV4_BAD_SIGNATURE;
    }
    if (strcmp(parts[3], service) != 0) {
        WHY("Credential should be scoped to correct service: '%s'. ", service);
        return SIM_SIGV4_BAD_SIGNATURE;
    }
    if (strcmp(parts[4], "aws4_request") != 0) {
        WHY("Credential should be scoped with a valid terminator: 'aws4_request', not '%.64s'.",
            parts[4]);
        return SIM_SIGV4_BAD_SIGNATURE;
    }
    /* host must be signed */
    int host_signed = 0;
    for (const char *p = signed_headers; *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (len == 4 && strncmp(p, "host", 4) == 0)
            host_signed = 1;
        p += len;
        if (*p == ';')
            p++;
    }
    if (!host_signed) {
        WHY("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        return SIM_SIGV4_BAD_SIGNATURE;
    }

    char payload[65];
    sim_sigv4_sha256_hex(req->body.data, req->body.len, payload);
    const char *declared = find_header(req, "x-amz-content-sha256");
    if (declared && strcmp(declared, payload) != 0) {
        WHY("The provided 'x-amz-content-sha256' header does not match what was computed.");
        return SIM_SIGV4_BAD_SIGNATURE;
    }

    const char *url = req->url.data ? req->url.data : req->path;
    const char *q = url ? strchr(url, '?') : NULL;
    char expected[65];
    if (sim_sigv4_signature(req->method, req->path, q ? q + 1 : NULL, req->headers, req->nheaders,
                            signed_headers, payload, amz_date, region, service, secret_access_key,
                            expected, NULL) != 0 ||
        strlen(sig) != 64 || CRYPTO_memcmp(sig, expected, 64) != 0) {
        WHY("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.");
        return SIM_SIGV4_BAD_SIGNATURE;
    }
    return 0;
}

int sim_sigv4_verify(const sim_request *req, const char *access_key_id,
                     const char *secret_access_key, const char *region, const char *service,
                     char *why, size_t why_len) {
    return sim_sigv4_verify_at(req, access_key_id, secret_access_key, region, service, time(NULL),
                               why, why_len);
}

int sim_sigv4_key_id(const sim_request *req, char *out, size_t outlen) {
    const char *auth = find_header(req, "authorization");
    char cred[512];
    if (!auth || strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 ||
        auth_param(auth + 17, "Credential", cred, sizeof(cred)) != 0)
        return -1;
    size_t n = strcspn(cred, "/");
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, cred, n);
    out[n] = '\0';
    return 0;
}
