/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — the client: configuration, backends and connection pools.
 *
 * THREADING: a client is immutable once created and may be used from any
 * number of threads at once; aigw_client_free() must not race with calls on
 * the same client. */
#ifndef AIGW_CLIENT_H
#define AIGW_CLIENT_H

#include "error.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aigw_client aigw_client;

/* Headers a credential callback adds to an upstream request. */
typedef struct aigw_headers aigw_headers;

/* Adds "name: value" to the request being authenticated. AIGW_EINVAL for
 * an empty name, or a name or value holding CR, LF or (in the name) ':'. */
AIGW_EXTERN aigw_status aigw_headers_add(aigw_headers *headers, const char *name,
                                         const char *value);

/* The application's own credentials: for every request to a backend whose
 * credential has "type": "callback", the library calls this with the
 * credential's name, the request's method and URL, and lets it add
 * headers. Return 0, or non-zero to refuse (the call fails with
 * AIGW_EAUTH). Called on the thread making the call, possibly on many at
 * once; it must not call back into the library with the same client. */
typedef int (*aigw_credential_cb)(const char *credential_name, const char *method, const char *url,
                                  aigw_headers *headers, void *user);

/* 2 added credential_cb and credential_user; a caller built against
 * version 1 keeps working (the library reads only the fields it had). */
#define AIGW_CLIENT_OPTIONS_VERSION 2

typedef struct aigw_client_options {
    unsigned int version;    /* AIGW_CLIENT_OPTIONS_VERSION */
    const char *config_path; /* JSON config file, or NULL */
    const char *config_json; /* JSON config text, or NULL; not with config_path */
    aigw_log_cb log_cb;      /* NULL: no logging */
    void *log_user;
    aigw_log_level log_level; /* lines below this level are not formatted */
    /* version 2: */
    aigw_credential_cb credential_cb; /* for credentials of type "callback", or NULL */
    void *credential_user;
} aigw_client_options;

#define AIGW_CLIENT_OPTIONS_INIT                                                                   \
    { AIGW_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, AIGW_LOG_INFO, NULL, NULL }

/* Sets *opts to its defaults for `version` (1 or 2); AIGW_EINVAL for an
 * unknown one. */
AIGW_EXTERN aigw_status aigw_client_options_init(aigw_client_options *opts, unsigned int version);

/* Creates a client. With neither config_path nor config_json the client is
 * configured from the environment alone (see README, "Configuration"). */
AIGW_EXTERN aigw_status aigw_client_new(aigw_client **out, const aigw_client_options *opts,
                                        aigw_error **err);
AIGW_EXTERN aigw_status aigw_client_new_from_file(aigw_client **out, const char *path,
                                                  aigw_error **err);
AIGW_EXTERN aigw_status aigw_client_new_from_string(aigw_client **out, const char *config_json,
                                                    aigw_error **err);
AIGW_EXTERN aigw_status aigw_client_new_from_env(aigw_client **out, aigw_error **err);
/* aigw_client_free(NULL) is a no-op. */
AIGW_EXTERN void aigw_client_free(aigw_client *client);

#ifdef __cplusplus
}
#endif

#endif
