/* AWS Signature Version 4 (SigV4) request signing. */
#ifndef AIGW_CREDENTIALS_SIGV4_H
#define AIGW_CREDENTIALS_SIGV4_H

#include <time.h>

#include "credentials/credential.h"

/* Signs `req` in place for cred->aws_region / cred->aws_service at time
 * `now`: adds X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token (with
 * a session token) and Authorization. Missing keys give AIGW_EAUTH naming
 * the backend, never a secret. */
aigw_status aigw__sigv4_apply(const aigw__credential *cred, const char *backend_name,
                              aigw__upstream_request *req, time_t now, aigw_error **err);

#endif
