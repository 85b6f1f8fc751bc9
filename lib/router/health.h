/* SPDX-License-Identifier: Apache-2.0 */
/* Outlier ejection: a backend that fails `failure_threshold` times in a row
 * is ejected for an interval that starts at `base_eject_ms` and doubles on
 * each re-ejection up to `max_eject_ms`. When the interval ends it is
 * half-open: one probe request may go; its success makes the backend
 * healthy again (and resets the interval), its failure ejects it again for
 * the next, longer interval. Thread-safe; the clock is injectable. */
#ifndef AIGW_ROUTER_HEALTH_H
#define AIGW_ROUTER_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "aigw/error.h"

#define AIGW__HEALTH_DEFAULT_THRESHOLD 5
#define AIGW__HEALTH_DEFAULT_BASE_EJECT_MS 10000
#define AIGW__HEALTH_DEFAULT_MAX_EJECT_MS 300000
#define AIGW__HEALTH_DEFAULT_PROBE_TIMEOUT_MS 60000

/* Monotonic milliseconds. */
typedef uint64_t (*aigw__mono_clock_fn)(void *ctx);

typedef struct aigw__health_options {
    unsigned failure_threshold; /* 0: 5 */
    uint64_t base_eject_ms;     /* 0: 10 s */
    uint64_t max_eject_ms;      /* 0: 5 min */
    uint64_t probe_timeout_ms;  /* a probe unanswered this long frees the slot; 0: 60 s */
    aigw__mono_clock_fn clock;  /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
} aigw__health_options;

typedef enum aigw__health_state {
    AIGW__HEALTH_HEALTHY,
    AIGW__HEALTH_EJECTED,
    AIGW__HEALTH_HALF_OPEN, /* ejection over, the probe slot is free */
    AIGW__HEALTH_PROBING,   /* ejection over, a probe is in flight */
} aigw__health_state;

/* What aigw__health_begin granted; hand it back to aigw__health_report. */
typedef enum aigw__health_ticket {
    AIGW__TICKET_DENIED = 0, /* do not send: ejected, or another request holds the probe */
    AIGW__TICKET_NORMAL,     /* healthy backend */
    AIGW__TICKET_PROBE,      /* the half-open probe */
    AIGW__TICKET_FORCED,     /* sent although ejected (every candidate was ejected) */
} aigw__health_ticket;

typedef struct aigw__health aigw__health;

/* A tracker for the backends `names` (copied). */
aigw_status aigw__health_new(aigw__health **out, const char *const *names, size_t n,
                             const aigw__health_options *opts, aigw_error **err);
void aigw__health_free(aigw__health *h);

/* The backend's state now, without claiming anything; *until (may be NULL)
 * gets the end of its ejection (0 when healthy). An unknown name is
 * healthy. */
aigw__health_state aigw__health_state_of(aigw__health *h, const char *name, uint64_t *until);

/* Right before sending to a backend: may it be sent to? A half-open backend
 * grants the probe to one caller at a time. With `force` an ejected backend
 * is granted a FORCED ticket (the never-fail-closed path). An unknown name
 * gets NORMAL. */
aigw__health_ticket aigw__health_begin(aigw__health *h, const char *name, int force);

/* The outcome of a request sent with `ticket`. `success` is 0 for a backend
 * failure (aigw__retry_is_backend_failure); report a caller's error (4xx)
 * as success or not at all. A NORMAL failure counts towards ejection;
 * results of NORMAL requests that finish while the backend is ejected are
 * ignored. A PROBE or FORCED success makes the backend healthy; a PROBE
 * failure ejects it again, longer. */
void aigw__health_report(aigw__health *h, const char *name, aigw__health_ticket ticket,
                         int success);

/* Releases a ticket whose request was never sent or was canceled. */
void aigw__health_abandon(aigw__health *h, const char *name, aigw__health_ticket ticket);

#endif
