/* SPDX-License-Identifier: Apache-2.0 */
/* Building aigw_error objects inside the library. */
#ifndef AIGW_CORE_ERRORS_H
#define AIGW_CORE_ERRORS_H

#include "aigw/error.h"

/* Creates an error in *err (when err is non-NULL and *err is NULL; an
 * earlier error is never overwritten) and returns `status`, so a failure
 * path reads `return aigw__error_set(err, AIGW_EIO, "open %s: %s", ...)`.
 * If the error cannot be allocated, *err gets a static out-of-memory error
 * that aigw_error_free() recognises. */
aigw_status aigw__error_set(aigw_error **err, aigw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a failure that came from a backend: its name, HTTP status
 * (0 if none) and raw error body (may be NULL; copied). */
aigw_status aigw__error_set_upstream(aigw_error **err, aigw_status status, const char *provider,
                                     int http_status, const char *body, size_t body_len,
                                     const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* The same for a request the caller got wrong: PARAM names the field
 * (OpenAI's "param", e.g. "messages.[0].role"; copied) and CODE, a static
 * string, replaces the status's "code" (e.g. "invalid_type"). */
aigw_status aigw__error_set_param(aigw_error **err, aigw_status status, const char *param,
                                  const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Notes the upstream's Retry-After (whole seconds; < 0: none) on err. */
void aigw__error_set_retry_after(aigw_error *err, long seconds);

/* Appends formatted text to err's message (and its JSON); on failure to
 * allocate, err stays as it was. */
void aigw__error_append(aigw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The status an HTTP error code maps to (400 → EBADREQUEST, 401 → EAUTH,
 * 403 → EPERMISSION, 404 → ENOTFOUND, 408 → ETIMEOUT, 429 → ERATELIMIT,
 * 5xx → EUPSTREAM, other → EUPSTREAM_STATUS). */
aigw_status aigw__status_from_http(long http_status);

#endif
