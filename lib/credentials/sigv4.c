/* AWS SigV4 signing: being written (issue 4); refuses until then. */
#include "credentials/sigv4.h"

#include "core/errors.h"

aigw_status aigw__sigv4_apply(const aigw__credential *cred, const char *backend_name,
                              aigw__upstream_request *req, time_t now, aigw_error **err) {
    (void)cred;
    (void)req;
    (void)now;
    return aigw__error_set(err, AIGW_ENOTSUPPORTED, "backend \"%s\": SigV4 is not available yet",
                           backend_name);
}
