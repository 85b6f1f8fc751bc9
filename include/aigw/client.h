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

#define AIGW_CLIENT_OPTIONS_VERSION 1

typedef struct aigw_client_options {
    unsigned int version;    /* AIGW_CLIENT_OPTIONS_VERSION */
    const char *config_path; /* JSON config file, or NULL */
    const char *config_json; /* JSON config text, or NULL; not with config_path */
    aigw_log_cb log_cb;      /* NULL: no logging */
    void *log_user;
    aigw_log_level log_level; /* lines below this level are not formatted */
} aigw_client_options;

#define AIGW_CLIENT_OPTIONS_INIT                                                                   \
    { AIGW_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, AIGW_LOG_INFO }

/* Sets *opts to its defaults for `version`; AIGW_EINVAL for an unknown one. */
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
