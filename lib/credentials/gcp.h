/* SPDX-License-Identifier: Apache-2.0 */
/* Google Cloud credential files (service_account, external_account), parsed
 * into what the token refresher needs. Exposed for the fuzz target and the
 * tests; the library uses aigw__gcp_credential_load / _default. */
#ifndef AIGW_CREDENTIALS_GCP_H
#define AIGW_CREDENTIALS_GCP_H

#include <stddef.h>

#include "aigw/error.h"

typedef struct aigw__gcp_source aigw__gcp_source;

/* The scope requested when neither the config nor the file names one. */
#define AIGW__GCP_DEFAULT_SCOPE "https://www.googleapis.com/auth/cloud-platform"

/* Parses the text of a credentials file. `cred_name` ("credential \"g\"")
 * and `file` name it in errors; every failure is AIGW_ECONFIG (or
 * AIGW_ENOMEM) naming the field, never quoting a key. `scopes` (a
 * NULL-terminated list, copied; NULL: the file's "scopes", else the
 * cloud-platform scope) are what tokens are requested for. */
aigw_status aigw__gcp_source_parse(const char *text, size_t len, const char *cred_name,
                                   const char *file, const char *const *scopes,
                                   aigw__gcp_source **out, aigw_error **err);
void aigw__gcp_source_free(aigw__gcp_source *src);

/* 1 for a service-account key file (it holds a private key). */
int aigw__gcp_source_has_key(const aigw__gcp_source *src);

#endif
