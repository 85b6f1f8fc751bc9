/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — version macros and the runtime version. */
#ifndef AIGW_VERSION_H
#define AIGW_VERSION_H

#include "common.h"

#define AIGW_VERSION_MAJOR 0
#define AIGW_VERSION_MINOR 1
#define AIGW_VERSION_PATCH 0
#define AIGW_VERSION_STRING "0.1.0"
/* 0xMMmmpp, so a comparison works: #if AIGW_VERSION_HEX >= 0x000100 */
#define AIGW_VERSION_HEX                                                                           \
    ((AIGW_VERSION_MAJOR << 16) | (AIGW_VERSION_MINOR << 8) | (AIGW_VERSION_PATCH))

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually loaded, as AIGW_VERSION_HEX. */
AIGW_EXTERN unsigned int aigw_version(void);
/* The same as a string, e.g. "0.1.0". */
AIGW_EXTERN const char *aigw_version_string(void);

#ifdef __cplusplus
}
#endif

#endif
