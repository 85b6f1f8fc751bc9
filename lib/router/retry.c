/* SPDX-License-Identifier: Apache-2.0 */
/* The retry policy: decisions, backoff and the attempt list. */
#include "router/retry.h"

#include <ctype.h>
#include <stdlib.h>

#include "aigw/status.h"
#include "core/errors.h"

int aigw__retry_is_backend_failure(aigw_status st) {
    return st != AIGW_OK && aigw_status_is_retryable(st);
}

int aigw__retry_should_retry(const aigw__retry_config *rc, aigw_status st, unsigned attempts_made,
                             int first_byte_delivered, long elapsed_ms) {
    if (!aigw__retry_is_backend_failure(st) || first_byte_delivered)
        return 0;
    if (attempts_made >= rc->attempts)
        return 0;
    if (rc->total_ms && elapsed_ms >= rc->total_ms)
        return 0;
    return 1;
}

long aigw__retry_backoff_ms(const aigw__retry_config *rc, unsigned retry, long retry_after_ms,
                            long elapsed_ms, aigw__rand_fn rnd, void *rnd_ctx) {
    if (retry_after_ms >= 0) {
        long cap = rc->max_backoff_ms;
        if (rc->total_ms)
            cap = elapsed_ms >= rc->total_ms ? 0 : rc->total_ms - elapsed_ms;
        return retry_after_ms < cap ? retry_after_ms : cap;
    }
    if (!rnd)
        rnd = aigw__rand_default;
    unsigned long long ceiling = rc->backoff_ms > 0 ? (unsigned long long)rc->backoff_ms : 0;
    for (unsigned i = 1; i < retry && ceiling < (unsigned long long)rc->max_backoff_ms; i++)
        ceiling *= 2;
    if (ceiling > (unsigned long long)rc->max_backoff_ms)
        ceiling = (unsigned long long)rc->max_backoff_ms;
    return (long)(rnd(rnd_ctx) % (ceiling + 1));
}

long aigw__retry_parse_retry_after(const char *value) {
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!isdigit((unsigned char)*value))
        return -1;
    long long secs = 0;
    for (; isdigit((unsigned char)*value); value++)
        if (secs < 86400)
            secs = secs * 10 + (*value - '0');
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value)
        return -1;
    if (secs > 86400)
        secs = 86400;
    return (long)(secs * 1000);
}

static const char *describe(aigw_status st) {
    switch (st) {
    case AIGW_ECONNECT:
        return "cannot connect";
    case AIGW_ETIMEOUT:
        return "timed out";
    case AIGW_ETRUNCATED:
        return "response cut short";
    case AIGW_ETRANSPORT:
        return "transport error";
    default:
        return aigw_strerror(st);
    }
}

void aigw__attempt_log_add(aigw__attempt_log *log, const char *backend, aigw_status st,
                           int http_status, long elapsed_ms) {
    aigw_status r;
    const char *sep = log->n ? "; " : "";
    if (http_status > 0)
        r = aigw__buf_printf(&log->text, "%sbackend %s: HTTP %d after %ld ms", sep, backend,
                             http_status, elapsed_ms);
    else
        r = aigw__buf_printf(&log->text, "%sbackend %s: %s after %ld ms", sep, backend,
                             describe(st), elapsed_ms);
    if (r)
        log->oom = 1;
    log->n++;
}

const char *aigw__attempt_log_text(const aigw__attempt_log *log) {
    return log->text.data ? log->text.data : "";
}

aigw_status aigw__attempt_log_error(const aigw__attempt_log *log, aigw_status status,
                                    aigw_error **err) {
    return aigw__error_set(err, status, "%s%s", aigw__attempt_log_text(log),
                           log->oom ? " (and more: out of memory)" : "");
}

void aigw__attempt_log_free(aigw__attempt_log *log) {
    aigw__buf_free(&log->text);
    log->n = 0;
    log->oom = 0;
}
