/* API keys: the key in the header its schema expects. */
#ifndef AIGW_CREDENTIALS_APIKEY_H
#define AIGW_CREDENTIALS_APIKEY_H

#include "credentials/credential.h"

aigw_status aigw__apikey_apply(const aigw__credential *cred, const char *backend_name,
                               struct curl_slist **headers, aigw_error **err);

#endif
