/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime version. */
#include "aigw/version.h"

unsigned int aigw_version(void) {
    return AIGW_VERSION_HEX;
}

const char *aigw_version_string(void) {
    return AIGW_VERSION_STRING;
}
