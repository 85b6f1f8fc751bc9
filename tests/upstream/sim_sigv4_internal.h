/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the simulator's SigV4 check (sim_sigv4.c), exposed so that a
 * test can run AWS's published SigV4 test-suite examples against them. */
#ifndef SIM_SIGV4_INTERNAL_H
#define SIM_SIGV4_INTERNAL_H

#include <stddef.h>
#include <time.h>

#include "sim_http.h"

/* sim_sigv4_verify's non-zero results. */
enum {
    SIM_SIGV4_MISSING = 1,   /* no Authorization header (MissingAuthenticationTokenException) */
    SIM_SIGV4_INCOMPLETE,    /* Authorization not parseable (IncompleteSignatureException) */
    SIM_SIGV4_UNKNOWN_KEY,   /* another access key id (UnrecognizedClientException) */
    SIM_SIGV4_BAD_SIGNATURE, /* signature or scope mismatch (InvalidSignatureException) */
    SIM_SIGV4_EXPIRED,       /* X-Amz-Date not within 5 minutes (InvalidSignatureException) */
};

/* The hex SHA-256 of DATA (65 bytes with the NUL). */
void sim_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Computes the SigV4 signature (hex, into SIG) of a request. PATH is the
 * request path as sent (percent-encoded once); for services other than s3
 * it is URI-encoded again for the canonical URI. QUERY may be NULL.
 * HEADERS carry lowercased names; SIGNED_HEADERS is the `SignedHeaders`
 * list ("host;x-amz-date"). PAYLOAD_HASH is the hex SHA-256 of the body.
 * CANONICAL (may be NULL) receives the canonical request (caller frees).
 * Returns 0, or -1 when a signed header is missing from HEADERS. */
int sim_sigv4_signature(const char *method, const char *path, const char *query,
                        const sim_header *headers, size_t nheaders, const char *signed_headers,
                        const char *payload_hash, const char *amz_date, const char *region,
                        const char *service, const char *secret_access_key, char sig[65],
                        char **canonical);

/* sim_sigv4_verify with the clock at NOW. */
int sim_sigv4_verify_at(const sim_request *req, const char *access_key_id,
                        const char *secret_access_key, const char *region, const char *service,
                        time_t now, char *why, size_t why_len);

#endif
