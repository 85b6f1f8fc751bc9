/* SPDX-License-Identifier: Apache-2.0 */
/* The retry policy of a route: which failures are retried, how long to wait
 * between attempts, and the error that names every attempt. */
#ifndef AIGW_ROUTER_RETRY_H
#define AIGW_ROUTER_RETRY_H

#include <stddef.h>

#include "aigw/error.h"
#include "core/buf.h"
#include "router/routes.h"
#include "router/routes_config.h"

/* Whether a failure with this status says the backend is in trouble (and
 * another backend, or a later try, may succeed): rate limits, 5xx,
 * connection errors, timeouts, cut responses (aigw_status_is_retryable).
 * Never a caller's 4xx (bad request, auth, permission, not found...), nor a
 * cancel or a callback's stop. Also what aigw__health_report counts as a
 * failure. */
int aigw__retry_is_backend_failure(aigw_status st);

/* Whether another attempt follows a failed one: the status is retryable,
 * the attempt budget (attempts_made of rc->attempts) is not spent, the
 * total timeout (when set) has time left, and — for a stream — no byte of
 * the response reached the caller yet (after that, falling back would
 * duplicate output). */
int aigw__retry_should_retry(const aigw__retry_config *rc, aigw_status st, unsigned attempts_made,
                             int first_byte_delivered, long elapsed_ms);

/* The wait before retry number `retry` (1 = the second attempt): with
 * full jitter, uniform in [0, min(max_backoff_ms, backoff_ms * 2^(retry-1))].
 * A Retry-After (retry_after_ms >= 0; -1 = none) replaces it, capped by
 * what is left of the total timeout (elapsed_ms of rc->total_ms; when no
 * total is set, by max_backoff_ms). `rnd` NULL: aigw__rand_default. */
long aigw__retry_backoff_ms(const aigw__retry_config *rc, unsigned retry, long retry_after_ms,
                            long elapsed_ms, aigw__rand_fn rnd, void *rnd_ctx);

/* A Retry-After header's delay-seconds ("120", surrounding spaces allowed)
 * in milliseconds; -1 if absent, empty or not a number (HTTP dates are not
 * supported). Clamped to one day. */
long aigw__retry_parse_retry_after(const char *value);

/* The attempts of one call, for the final error. */
typedef struct aigw__attempt_log {
    aigw__buf text; /* "backend azure: HTTP 429 after 12 ms; backend openai: ..." */
    size_t n;
    int oom;
} aigw__attempt_log;

#define AIGW__ATTEMPT_LOG_INIT                                                                     \
    { AIGW__BUF_INIT, 0, 0 }

/* Records a failed attempt: the backend's name, the HTTP status when there
 * was one (0 = none: the status is described instead, e.g. "cannot
 * connect") and how long the attempt took. */
void aigw__attempt_log_add(aigw__attempt_log *log, const char *backend, aigw_status st,
                           int http_status, long elapsed_ms);

/* The log's text ("" when empty). */
const char *aigw__attempt_log_text(const aigw__attempt_log *log);

/* Sets *err to `status` with the log's text as the message, and returns
 * `status`. */
aigw_status aigw__attempt_log_error(const aigw__attempt_log *log, aigw_status status,
                                    aigw_error **err);

void aigw__attempt_log_free(aigw__attempt_log *log);

#endif
