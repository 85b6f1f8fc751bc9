/* SPDX-License-Identifier: Apache-2.0 */
/* The simulator's own check of AWS Signature Version 4 on a request: it
 * recomputes the signature (independently of libaigw's signer) and compares
 * it with the Authorization header. */
#ifndef SIM_SIGV4_H
#define SIM_SIGV4_H

#include <stddef.h>

#include "sim_http.h"

/* Returns 0 when the request carries a valid SigV4 signature made with
 * access key `access_key_id` / `secret_access_key` for `region` and
 * `service`, with X-Amz-Date within 5 minutes of now. Otherwise non-zero
 * with a reason in `why` (for the 403 body, in AWS's words where possible:
 * "The request signature we calculated does not match the signature you
 * provided...", "Signature expired", "The security token included in the
 * request is invalid"). */
int sim_sigv4_verify(const sim_request *req, const char *access_key_id,
                     const char *secret_access_key, const char *region, const char *service,
                     char *why, size_t why_len);

/* Copies the access key id of the request's SigV4 Authorization header
 * (its Credential=AKID/...) into OUT; 0, or -1 when there is none. */
int sim_sigv4_key_id(const sim_request *req, char *out, size_t outlen);

#endif
