/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis budget store: counters shared by every gateway process that
 * points at one Redis. Each reserve and each settle is one atomic Lua
 * script (EVALSHA, falling back to EVAL when the server answers NOSCRIPT);
 * keys expire once they no longer matter (a full bucket, an ended window);
 * a small pool of connections reconnects after failures.
 *
 * When Redis cannot be reached, each budget's on_store_error decides:
 * fail_open budgets are skipped (the request goes through unmetered by
 * them), and any fail_closed one refuses the request (refusal->store_error).
 * A settle that cannot reach Redis is lost (the reservation stays charged:
 * the safe side) and returns AIGW_ECONNECT.
 *
 * Times: the callers' clock (ns since the epoch), carried in microseconds
 * in the scripts so that it stays exact in Lua's doubles. Keys:
 * <prefix><budget name>:<instance> for buckets (a hash: l = level,
 * t = time of the last refill) and <prefix><budget name>:<instance>:w<N>
 * for window N (a counter). Not for Redis Cluster (one request's keys
 * would need one hash slot). */
#ifndef AIGW_ACCOUNT_STORE_REDIS_H
#define AIGW_ACCOUNT_STORE_REDIS_H

#include "account/store.h"

typedef struct aigw__redis_options {
    const char *host;     /* default "127.0.0.1" */
    int port;             /* default 6379 */
    const char *password; /* AUTH after connecting; NULL = none */
    const char *prefix;   /* default "aigw:budget:" */
    int pool_size;        /* connections; default 4 */
    int timeout_ms;       /* connect and command timeout; default 250 */
} aigw__redis_options;

/* Does not connect yet: the first use does, so a gateway starts while
 * Redis is down. */
aigw_status aigw__store_redis_new(const aigw__redis_options *opt, aigw__store **out,
                                  aigw_error **err);

#endif
