/* SPDX-License-Identifier: Apache-2.0 */
/* Internal logging through the client's callback. */
#ifndef AIGW_CORE_LOG_H
#define AIGW_CORE_LOG_H

#include "aigw/log.h"

typedef struct aigw__logger {
    aigw_log_cb cb;
    void *user;
    aigw_log_level level;
} aigw__logger;

/* Formats and delivers one line when the logger has a callback and level
 * is at or above its threshold. Never log a credential. */
void aigw__log(const aigw__logger *logger, aigw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
