/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — status codes. Every fallible call returns an aigw_status;
 * AIGW_OK is 0. Codes are only ever added, never renumbered. */
#ifndef AIGW_STATUS_H
#define AIGW_STATUS_H

#include "common.h"

/* One table feeds the enum, aigw_status_name() and aigw_strerror(), so they
 * cannot drift apart: XX(NAME, value, description, retryable). */
#define AIGW_STATUS_MAP(XX)                                                                        \
    XX(OK, 0, "success", 0)                                                                        \
    XX(EINVAL, 1, "invalid argument", 0)                                                           \
    XX(ENOMEM, 2, "out of memory", 0)                                                              \
    XX(ECONFIG, 3, "invalid configuration", 0)                                                     \
    XX(EIO, 4, "file or I/O error", 0)                                                             \
    XX(EBADREQUEST, 5, "invalid request", 0)                                                       \
    XX(ENOBACKEND, 6, "no backend serves this model", 0)                                           \
    XX(EAUTH, 7, "authentication failed", 0)                                                       \
    XX(EPERMISSION, 8, "permission denied", 0)                                                     \
    XX(ENOTFOUND, 9, "not found", 0)                                                               \
    XX(ERATELIMIT, 10, "rate limited", 1)                                                          \
    XX(EUPSTREAM, 11, "upstream server error", 1)                                                  \
    XX(EBADRESPONSE, 12, "malformed upstream response", 0)                                         \
    XX(ETRUNCATED, 13, "upstream response truncated", 1)                                           \
    XX(ECONNECT, 14, "could not connect to upstream", 1)                                           \
    XX(ETIMEOUT, 15, "timed out", 1)                                                               \
    XX(ETRANSPORT, 16, "transport error", 1)                                                       \
    XX(ESTOPPED, 17, "stopped by the callback", 0)                                                 \
    XX(ENOTSUPPORTED, 18, "not supported", 0)                                                      \
    XX(EUPSTREAM_STATUS, 19, "unexpected upstream status", 0)                                      \
    XX(EINTERNAL, 20, "internal error", 0)                                                         \
    XX(ECANCELED, 21, "canceled", 0)                                                               \
    XX(EBUDGET, 22, "budget exhausted", 0)

typedef enum aigw_status {
#define AIGW_STATUS_ENUM_(name, value, text, retryable) AIGW_##name = value,
    AIGW_STATUS_MAP(AIGW_STATUS_ENUM_)
#undef AIGW_STATUS_ENUM_
} aigw_status;

#ifdef __cplusplus
extern "C" {
#endif

/* A short description, e.g. "rate limited"; "unknown status" for a value
 * not in the table. Never NULL. */
AIGW_EXTERN const char *aigw_strerror(aigw_status status);
/* The symbolic name, e.g. "AIGW_ERATELIMIT"; "AIGW_UNKNOWN" if unknown. */
AIGW_EXTERN const char *aigw_status_name(aigw_status status);
/* 1 when trying the same call again later can succeed (rate limits, 5xx,
 * timeouts, refused or cut connections), else 0. */
AIGW_EXTERN int aigw_status_is_retryable(aigw_status status);

#ifdef __cplusplus
}
#endif

#endif
