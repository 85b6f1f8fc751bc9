/* SPDX-License-Identifier: Apache-2.0 */
/* Logging through the caller's callback; the library never prints. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

const char *aigw_log_level_name(aigw_log_level level) {
    switch (level) {
    case AIGW_LOG_DEBUG:
        return "debug";
    case AIGW_LOG_INFO:
        return "info";
    case AIGW_LOG_WARN:
        return "warn";
    case AIGW_LOG_ERROR:
        return "error";
    case AIGW_LOG_OFF:
        return "off";
    }
    return "unknown";
}

void aigw__log(const aigw__logger *logger, aigw_log_level level, const char *fmt, ...) {
    if (!logger || !logger->cb || level < logger->level || level >= AIGW_LOG_OFF)
        return;
    /* A fixed buffer: a log line must not fail for lack of memory. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    logger->cb(level, line, logger->user);
}
