/* SPDX-License-Identifier: Apache-2.0 */
/* The library's own small thread pools for steps that may block: budget
 * reservations and settlements in a remote store (Redis), and credential
 * refreshes (token endpoints, STS). They run here rather than on libuv's
 * default pool, which the application and the server share (four threads
 * by default): a frozen Redis or token endpoint then delays only the calls
 * that need it, never the application's file system work, DNS or other
 * requests (issue: four slow model listings once held libuv's whole pool).
 *
 * Each lane (kind of work) has its own threads, so a stall in one kind
 * never queues the other behind it. Every step that runs here is bounded by
 * its own timeout (the store's timeout_ms, the credential's HTTP
 * timeouts): a thread is never held forever.
 *
 * A finished step comes back to its loop through a port (one uv_async_t
 * per loop), and its `after` callback runs on the loop's thread, as
 * uv_queue_work's does. */
#ifndef AIGW_CORE_WORK_POOL_H
#define AIGW_CORE_WORK_POOL_H

#include <uv.h>

#include "aigw/status.h"

typedef enum aigw__work_lane {
    AIGW__LANE_STORE,       /* budget store round trips */
    AIGW__LANE_CREDENTIALS, /* credential refreshes */
    AIGW__LANE_COUNT
} aigw__work_lane;

typedef struct aigw__work aigw__work;
typedef struct aigw__work_port aigw__work_port;

/* Runs on a pool thread. */
typedef void (*aigw__work_fn)(aigw__work *w);
/* Runs on the port's loop thread; status is 0, or UV_ECANCELED when the
 * step was canceled before it started. */
typedef void (*aigw__after_work_fn)(aigw__work *w, int status);

/* One queued step; embed it in the request it belongs to. Only `data` is
 * the caller's. */
struct aigw__work {
    void *data;
    aigw__work_fn work;
    aigw__after_work_fn after;
    aigw__work_port *port;
    aigw__work *next;
    int lane;
    int status;
    int state; /* queued, running, done: guarded by the lane's lock */
};

/* Threads per lane (default 4; AIGW_WORK_THREADS, 1..64, read once). */
unsigned aigw__work_threads(void);

/* A port for `loop`, on its thread. */
aigw_status aigw__work_port_new(uv_loop_t *loop, aigw__work_port **out);

/* Closes the port's handle; the memory goes in its close callback (run the
 * loop). No step may be outstanding on it. NULL is a no-op. */
void aigw__work_port_close(aigw__work_port *port);

/* Queues `work` on `lane`; `after` runs on the port's loop once it is done
 * (or canceled). From the port's loop thread. Returns 0, or a negative
 * uv error code when the lane's threads could not be started (nothing is
 * queued then). */
int aigw__work_queue(aigw__work_port *port, aigw__work_lane lane, aigw__work *w, aigw__work_fn work,
                     aigw__after_work_fn after);

/* Cancels a step that has not started: its `after` then runs with
 * UV_ECANCELED. Returns 0 when canceled, UV_EBUSY when it is running or
 * done (its `after` runs as usual). From the port's loop thread. */
int aigw__work_cancel(aigw__work *w);

#endif
