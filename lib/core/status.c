/* SPDX-License-Identifier: Apache-2.0 */
/* Status names and descriptions, generated from AIGW_STATUS_MAP. */
#include "aigw/status.h"

const char *aigw_strerror(aigw_status status) {
    switch (status) {
#define AIGW_STATUS_TEXT_(name, value, text, retryable)                                            \
    case AIGW_##name:                                                                              \
        return text;
        AIGW_STATUS_MAP(AIGW_STATUS_TEXT_)
#undef AIGW_STATUS_TEXT_
    }
    return "unknown status";
}

const char *aigw_status_name(aigw_status status) {
    switch (status) {
#define AIGW_STATUS_NAME_(name, value, text, retryable)                                            \
    case AIGW_##name:                                                                              \
        return "AIGW_" #name;
        AIGW_STATUS_MAP(AIGW_STATUS_NAME_)
#undef AIGW_STATUS_NAME_
    }
    return "AIGW_UNKNOWN";
}

int aigw_status_is_retryable(aigw_status status) {
    switch (status) {
#define AIGW_STATUS_RETRY_(name, value, text, retryable)                                           \
    case AIGW_##name:                                                                              \
        return retryable;
        AIGW_STATUS_MAP(AIGW_STATUS_RETRY_)
#undef AIGW_STATUS_RETRY_
    }
    return 0;
}
