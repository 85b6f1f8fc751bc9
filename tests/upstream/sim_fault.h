/* SPDX-License-Identifier: Apache-2.0 */
/* Faults a test asks the simulator to inject into one response.
 * Spec: comma-separated key=value pairs, e.g. "status=429,retry_after=2".
 * See README.md for the list of keys. */
#ifndef AIGW_SIM_FAULT_H
#define AIGW_SIM_FAULT_H

#include <stddef.h>

typedef struct sim_fault {
    int status;             /* answer with this HTTP status (provider-shaped error); 0 = none */
    int retry_after;        /* with status: Retry-After seconds; -1 = none */
    unsigned latency_ms;    /* wait before the first byte */
    int cut_after;          /* -1 = none; streams: events before closing; bodies: send half */
    int malformed;          /* 200 with a body (or one stream event) that is not JSON */
    int error_event;        /* streams: one chunk, then an error event, then close */
    unsigned trickle_ms;    /* send a few bytes at a time, this far apart */
    unsigned trickle_bytes; /* bytes per trickle write (default 8) */
    unsigned event_ms;      /* streams: pause between events */
    int close;              /* close the connection without a response */
    int drop_done;          /* streams: end cleanly without the final [DONE] event */
} sim_fault;

void sim_fault_init(sim_fault *f);

/* Parses SPEC into F (which must be initialised). Returns 0, or -1 with a
 * message in ERR when a key or value is unknown or out of range. */
int sim_fault_parse(sim_fault *f, const char *spec, char *err, size_t errlen);

#endif
