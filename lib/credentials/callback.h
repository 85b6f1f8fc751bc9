/* SPDX-License-Identifier: Apache-2.0 */
/* The callback credential: headers from the application's own function. */
#ifndef AIGW_CREDENTIALS_CALLBACK_H
#define AIGW_CREDENTIALS_CALLBACK_H

#include "credentials/credential.h"

aigw_status aigw__callback_apply(const aigw__credential *cred, const char *backend_name,
                                 aigw__upstream_request *req, aigw_error **err);

#endif
