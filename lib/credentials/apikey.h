/* SPDX-License-Identifier: Apache-2.0 */
/* API keys: a static key in the header its schema expects, from the
 * config, the environment, or a file re-read when it changes. */
#ifndef AIGW_CREDENTIALS_APIKEY_H
#define AIGW_CREDENTIALS_APIKEY_H

#include "credentials/credential.h"

typedef struct aigw__key_store aigw__key_store;

aigw__key_store *aigw__key_store_ref(aigw__key_store *k);
void aigw__key_store_unref(aigw__key_store *k); /* NULL is a no-op */

/* Adds "<header>: KEY" to *headers. */
aigw_status aigw__apikey_apply(const aigw__credential *cred, aigw__key_header header,
                               const char *backend_name, struct curl_slist **headers,
                               aigw_error **err);

/* How often a key file is checked for a new key, at most. */
#define AIGW__KEY_FILE_CHECK_MS 1000

#endif
