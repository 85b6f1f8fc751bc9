/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — the error object: the detail behind a failed call. */
#ifndef AIGW_ERROR_H
#define AIGW_ERROR_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every call that can fail takes `aigw_error **err` as its last parameter.
 * Pass NULL to ignore the detail. On failure *err receives a new error the
 * caller frees with aigw_error_free(); on success *err is left untouched.
 * The error never contains a credential. */
typedef struct aigw_error aigw_error;

AIGW_EXTERN aigw_status aigw_error_status(const aigw_error *err);
/* One human-readable line; never NULL. */
AIGW_EXTERN const char *aigw_error_message(const aigw_error *err);
/* The upstream HTTP status, or 0 when the failure happened before one. */
AIGW_EXTERN int aigw_error_http_status(const aigw_error *err);
/* The backend (provider) name the failure came from, or NULL. */
AIGW_EXTERN const char *aigw_error_provider(const aigw_error *err);
/* The provider's own error body, verbatim, or NULL. */
AIGW_EXTERN const char *aigw_error_body(const aigw_error *err);
/* The Retry-After (whole seconds) of the upstream answer the call failed
 * with (a 429 or 503 that says when to come back), or -1 when it gave
 * none. aigw-cli serve passes it on to its client. */
AIGW_EXTERN long aigw_error_retry_after(const aigw_error *err);
/* The error in OpenAI's shape: {"error":{"message","type","param","code"}};
 * "param" names the request field at fault when the request was refused
 * before anything was sent (else null).
 * Owned by the error; never NULL. */
AIGW_EXTERN const char *aigw_error_json(const aigw_error *err);
AIGW_EXTERN void aigw_error_free(aigw_error *err);

#ifdef __cplusplus
}
#endif

#endif
