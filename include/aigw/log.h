/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — logging. The library never prints; it hands each line to the
 * callback given in aigw_client_options. Lines never contain credentials. */
#ifndef AIGW_LOG_H
#define AIGW_LOG_H

#include "common.h"

typedef enum aigw_log_level {
    AIGW_LOG_DEBUG = 0,
    AIGW_LOG_INFO = 1,
    AIGW_LOG_WARN = 2,
    AIGW_LOG_ERROR = 3,
    AIGW_LOG_OFF = 4
} aigw_log_level;

/* Called from whichever thread made the call that logs — for async calls
 * also libuv's thread-pool threads, where credential refreshes and Redis
 * budget calls run — so it must be thread-safe; it must not call back into
 * the library with the same client. `message` is valid only during the
 * call. */
typedef void (*aigw_log_cb)(aigw_log_level level, const char *message, void *user);

#ifdef __cplusplus
extern "C" {
#endif

/* "debug", "info", "warn", "error", "off". */
AIGW_EXTERN const char *aigw_log_level_name(aigw_log_level level);

#ifdef __cplusplus
}
#endif

#endif
