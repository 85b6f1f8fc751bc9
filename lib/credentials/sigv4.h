/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 (SigV4) request signing. */
#ifndef AIGW_CREDENTIALS_SIGV4_H
#define AIGW_CREDENTIALS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

#include "credentials/credential.h"

/* What SigV4 signs with: the keys (from wherever the credential got
 * them), the backend's region and service, and the backend's cache of the
 * day's signing key. */
typedef struct aigw__aws_signing {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL for long-term keys */
    const char *region;
    const char *service;                     /* "bedrock" */
    const char *source;                      /* where the keys came from, for errors */
    struct aigw__sigv4_key_cache *key_cache; /* NULL: derive the key every time */
} aigw__aws_signing;

/* Signs `req` in place at time `now`: adds X-Amz-Date, X-Amz-Content-Sha256,
 * X-Amz-Security-Token (with a session token) and Authorization (replacing
 * any earlier ones, so a retry can sign again). Signs the Host (from the
 * URL, `host:port` for a non-default port, or an explicit Host header) and
 * every header in req->headers except hop-by-hop ones (connection, expect,
 * keep-alive, te, trailer, transfer-encoding, upgrade, proxy-*, user-agent,
 * x-amzn-trace-id) and lines curl treats as removals ("Name:"). The URL
 * path, already percent-encoded as sent, is URI-encoded once more for every
 * service but "s3" (what botocore and the AWS SDKs do). Missing keys give
 * AIGW_EAUTH naming the backend and s->source, never a secret. */
aigw_status aigw__sigv4_apply(const aigw__aws_signing *s, const char *backend_name,
                              aigw__upstream_request *req, time_t now, aigw_error **err);

/* The lower-level signer, for tests and the fuzzer: exactly what it is
 * given, nothing added. */
typedef struct aigw__sigv4_input {
    const char *method; /* "GET", "POST", ... */
    /* The path whose URI encoding is the canonical URI: each byte but
     * A-Za-z0-9-._~ and '/' becomes %XX. Give the raw path ("/ሴ") to sign a
     * path once-encoded; aigw__sigv4_apply gives the already-encoded wire
     * path, which encodes it twice. "" means "/". With `path_verbatim` set
     * (S3) the path is used as is. */
    const char *path;
    int path_verbatim;
    /* The query as sent, without '?', percent-encoded or not; NULL or ""
     * for none. Each name and value is percent-decoded then re-encoded
     * strictly; the pairs are sorted by name, then value. */
    const char *query;
    /* "Name: value" lines, signed in full; must hold host and x-amz-date
     * (and x-amz-security-token for temporary credentials). Duplicate names
     * are joined with ',' in order. A "Name;" line is an empty value. */
    const struct curl_slist *headers;
    const void *payload; /* may be NULL when payload_len is 0 */
    size_t payload_len;
    const char *payload_hash; /* NULL: hex SHA-256 of the payload */
    const char *access_key_id;
    const char *secret_access_key;
    /* The derived signing key for this date, region and service (32 bytes),
     * or NULL to derive it from secret_access_key. */
    const unsigned char *signing_key;
    const char *region;
    const char *service;
    const char *amz_date; /* ISO 8601 basic, "20150830T123600Z" */
} aigw__sigv4_input;

typedef struct aigw__sigv4_output {
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers; /* "host;x-amz-date" */
    char *signature;      /* 64 hex digits */
    char *authorization;  /* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
} aigw__sigv4_output;

/* Fills *out (free with aigw__sigv4_output_free). AIGW_EINVAL for a
 * malformed input (no amz_date, a header line without ':'), AIGW_ENOMEM. */
aigw_status aigw__sigv4_sign(const aigw__sigv4_input *in, aigw__sigv4_output *out,
                             aigw_error **err);
void aigw__sigv4_output_free(aigw__sigv4_output *out);

/* A cache of the derived signing key: the HMAC chain over the secret,
 * date, region and service changes once a day (or when the keys rotate), so
 * a backend derives it once a day instead of on every request. Keyed by
 * date and access key id. Thread-safe. */
aigw_status aigw__sigv4_key_cache_new(struct aigw__sigv4_key_cache **out);
/* Wipes and frees; NULL is a no-op. */
void aigw__sigv4_key_cache_free(struct aigw__sigv4_key_cache *cache);

/* Writes the 64 hex digits of SHA-256(data) and a NUL to hex[65]. */
void aigw__sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
