/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis budget store: counters shared by every gateway process that
 * points at one Redis. Each reserve and each settle is one atomic Lua
 * script (EVALSHA, falling back to EVAL when the server answers NOSCRIPT);
 * counter keys expire once they no longer matter (a window: at its end,
 * plus a minute's margin for clock skew; a bucket: once refilled to full,
 * plus the margin; a bucket that never refills is kept); a small pool of
 * connections reconnects after failures.
 *
 * Exact through faults. Every reservation has an id (the store's random
 * 64-bit nonce and a serial) and the scripts apply a reservation, its
 * settlement or its cancel at most once per id, recorded in the key
 * <prefix>id:<nonce>-<serial> ("a" applied, "s" settled, "c" canceled)
 * that lives marker_ttl_ms (15 minutes by default). So:
 *  - a command re-sent on a fresh connection (a pooled one found broken)
 *    is never applied twice;
 *  - a reservation whose answer never came (a timeout: a frozen Redis, a
 *    partition, a crash) is canceled once Redis answers again: refunded if
 *    it was applied, and marked so that, arriving late (a frozen Redis
 *    wakes with it in its socket buffer), it is a no-op. Meanwhile the
 *    request was handled by on_store_error: fail_open budgets are skipped
 *    (admitted unmetered: nothing is charged), any fail_closed one refuses
 *    the request (refusal->store_error; nothing is charged either);
 *  - a settlement that got no answer is queued and re-sent (at most once
 *    applied) until Redis answers.
 * Cancels and settlements are re-sent by one thread per store, every
 * 200 ms while Redis does not answer, in order; the queue holds at most
 * 100,000 (past that, and whatever is left when the store is freed after a
 * last try, is counted lost). The guarantee holds for outages shorter than
 * the id keys' life; past it, a reservation whose answer was lost may stay
 * charged at its estimate.
 *
 * Deadlines. A reserve, a settle or a status read waits at most timeout_ms
 * in all, whatever thread it runs on: for a free pooled connection, to
 * connect, and for the answer (a broken pooled connection is replaced
 * within the same deadline; the socket timeout is set to what is left).
 * Errors name Redis ("budget store redis 127.0.0.1:6379: timeout after
 * 250 ms (reserve)"), never the upstream.
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
    const char *host;        /* default "127.0.0.1" */
    int port;                /* default 6379 */
    const char *password;    /* AUTH after connecting; NULL = none */
    const char *prefix;      /* default "aigw:budget:" */
    int pool_size;           /* connections; default 4 */
    int timeout_ms;          /* a whole reserve or settle at most; default 250 */
    long long marker_ttl_ms; /* reservation id keys' life; default 15 minutes */
} aigw__redis_options;

#define AIGW__REDIS_MARKER_TTL_MS (15 * 60 * 1000LL)

/* Does not connect yet: the first use does, so a gateway starts while
 * Redis is down. */
aigw_status aigw__store_redis_new(const aigw__redis_options *opt, aigw__store **out,
                                  aigw_error **err);

/* For tests: the serial the next reservation takes (so that a test can
 * make two reservations with one id), and a cancel sent at once (refunds
 * the reservation of holds[0].id if it was applied, marks the id canceled
 * either way) as the recovery thread sends them. */
void aigw__store_redis_next_serial(aigw__store *s, uint64_t serial);
aigw_status aigw__store_redis_cancel(aigw__store *s, const aigw__store_key *keys,
                                     const aigw__hold *holds, size_t n, int64_t now,
                                     aigw_error **err);
/* The id key of reservation `serial` (for tests: its TTL, its state). */
void aigw__store_redis_id_key(aigw__store *s, uint64_t serial, char *out, size_t cap);

#endif
