/* SPDX-License-Identifier: Apache-2.0 */
/* Where budgets keep their counters: the store interface, with an
 * in-memory store (store_memory.c) and a Redis store (store_redis.c).
 *
 * A reservation takes amounts from several counters at once, all or
 * nothing: a request is admitted only if every budget that applies has room
 * for its estimate. Admission is exact — no interleaving of reservations
 * ever takes a counter past its limit. Settling replaces the estimate with
 * the real cost: the difference is refunded or charged. A charge may take a
 * counter past its limit (the tokens were spent); later reservations then
 * wait until refill or the next window.
 *
 * Token buckets refill continuously at refill per second up to capacity.
 * Windows are fixed and aligned to UTC minute, hour, day and month
 * boundaries; a settle after its window ended refunds nothing into the old
 * window and charges any excess to the current one. Times are nanoseconds
 * since the Unix epoch (realtime: windows follow the calendar). */
#ifndef AIGW_ACCOUNT_STORE_H
#define AIGW_ACCOUNT_STORE_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "account/budget.h"

/* The most budgets one request may reserve in at once. */
#define AIGW__STORE_MAX_KEYS 32

/* One counter: a budget, and for a budget scoped by "*" the instance
 * (aigw__budget_match's output; "" otherwise). */
typedef struct aigw__store_key {
    const aigw__budget *budget;
    const char *instance;
} aigw__store_key;

/* One counter's part of a reservation; filled by reserve, read by settle. */
typedef struct aigw__hold {
    void *entry;       /* the store's handle on the counter (memory store: pinned
                          until settle, so never evicted while held) */
    uint64_t id;       /* the reservation's serial (Redis: with the store's
                          nonce, the id its scripts apply at most once) */
    int64_t amount;    /* reserved, micro-units */
    int64_t window;    /* the window it counted in (window budgets) */
    int skipped;       /* the store was unreachable and the budget fails open */
    int64_t remaining; /* the counter's room right after this reservation */
    int has_remaining; /* remaining is known (so no status query is needed) */
} aigw__hold;

/* Why a reservation was refused. */
typedef struct aigw__refusal {
    size_t index;       /* which key lacked room (or whose store failed) */
    double retry_after; /* seconds until it would fit; -1 = never (more than
                           the capacity) */
    int store_error;    /* 1 when refused because the store failed closed */
    char why[200];      /* the store's failure when store_error is set, or
                           when a reservation was admitted with skipped holds
                           ("budget store redis 127.0.0.1:6379: timeout ...") */
} aigw__refusal;

/* What a store counts, for /metrics. */
typedef struct aigw__store_stats {
    unsigned long long counters;  /* memory: live counters */
    unsigned long long evictions; /* memory: idle counters evicted */
    unsigned long long refusals;  /* memory: counters not created (at max_counters, none idle) */
    unsigned long long pending;   /* redis: reservations and settlements whose outcome is
                                     unknown, queued to be canceled or re-sent */
    unsigned long long recovered; /* redis: those applied (or canceled) once Redis answered */
    unsigned long long lost;      /* redis: those given up (a full queue, the store freed) */
} aigw__store_stats;

/* A counter's state, for visibility headers and `budgets` listings. */
typedef struct aigw__budget_status {
    int64_t limit;     /* capacity or max, micro-units */
    int64_t remaining; /* may be negative after an overrun */
    double reset;      /* seconds until full (bucket) or the window ends */
} aigw__budget_status;

typedef struct aigw__store aigw__store;

/* Receives one counter's instance key (see aigw__store_key). */
typedef void (*aigw__instance_cb)(const char *instance, void *ctx);

typedef struct aigw__store_ops {
    /* AIGW_OK with holds[0..n) filled; AIGW_ERATELIMIT with *refusal filled
     * (nothing taken); or a store error (nothing taken), unless every
     * failing budget fails open (then AIGW_OK with those holds skipped) —
     * when one fails closed the reservation is refused with
     * refusal->store_error = 1 and AIGW_ERATELIMIT. refusal->why says what
     * failed (Redis unreachable, or the memory store at max_counters with
     * none idle, a store error for that budget alone). The accountant
     * counts and logs both outcomes. Neither charges anything. */
    aigw_status (*reserve)(aigw__store *s, const aigw__store_key *keys, const int64_t *amounts,
                           size_t n, int64_t now_ns, aigw__hold *holds, aigw__refusal *refusal,
                           aigw_error **err);
    /* Replaces each hold's amount by actual[i]. */
    aigw_status (*settle)(aigw__store *s, const aigw__store_key *keys, const aigw__hold *holds,
                          const int64_t *actual, size_t n, int64_t now_ns, aigw_error **err);
    aigw_status (*status)(aigw__store *s, const aigw__store_key *key, int64_t now_ns,
                          aigw__budget_status *out, aigw_error **err);
    /* Calls cb once with each instance the store holds a counter of for
     * budget b (the memory store: those used so far; Redis: the keys it
     * stores). */
    aigw_status (*instances)(aigw__store *s, const aigw__budget *b, aigw__instance_cb cb, void *ctx,
                             aigw_error **err);
    void (*free)(aigw__store *s);
    void (*stats)(aigw__store *s, aigw__store_stats *out);
} aigw__store_ops;

struct aigw__store {
    const aigw__store_ops *ops;
    _Atomic unsigned shares; /* references beyond the first (aigw__store_share) */
};

static inline aigw_status aigw__store_reserve(aigw__store *s, const aigw__store_key *keys,
                                              const int64_t *amounts, size_t n, int64_t now_ns,
                                              aigw__hold *holds, aigw__refusal *refusal,
                                              aigw_error **err) {
    return s->ops->reserve(s, keys, amounts, n, now_ns, holds, refusal, err);
}
static inline aigw_status aigw__store_settle(aigw__store *s, const aigw__store_key *keys,
                                             const aigw__hold *holds, const int64_t *actual,
                                             size_t n, int64_t now_ns, aigw_error **err) {
    return s->ops->settle(s, keys, holds, actual, n, now_ns, err);
}
static inline aigw_status aigw__store_status(aigw__store *s, const aigw__store_key *key,
                                             int64_t now_ns, aigw__budget_status *out,
                                             aigw_error **err) {
    return s->ops->status(s, key, now_ns, out, err);
}
static inline aigw_status aigw__store_instances(aigw__store *s, const aigw__budget *b,
                                                aigw__instance_cb cb, void *ctx, aigw_error **err) {
    return s->ops->instances(s, b, cb, ctx, err);
}
static inline void aigw__store_get_stats(aigw__store *s, aigw__store_stats *out) {
    *out = (aigw__store_stats){0};
    if (s && s->ops->stats)
        s->ops->stats(s, out);
}
/* Another owner for s: each calls aigw__store_free. */
static inline aigw__store *aigw__store_share(aigw__store *s) {
    atomic_fetch_add(&s->shares, 1);
    return s;
}
static inline void aigw__store_free(aigw__store *s) {
    if (!s)
        return;
    unsigned n = atomic_load(&s->shares);
    while (n && !atomic_compare_exchange_weak(&s->shares, &n, n - 1))
        ;
    if (!n)
        s->ops->free(s);
}

/* The in-memory store: thread-safe, one mutex per counter (taken in
 * address order, so reservations never deadlock) behind a sharded table;
 * at most max_counters counters (idle ones are evicted; see store_memory.c).
 * aigw__store_memory_new: the default cap. */
#define AIGW__STORE_DEFAULT_MAX_COUNTERS 100000
aigw_status aigw__store_memory_new(aigw__store **out, aigw_error **err);
aigw_status aigw__store_memory_new_capped(size_t max_counters, aigw__store **out, aigw_error **err);
/* Changes a memory store's cap (a reload that adopts the old counters). */
void aigw__store_memory_set_max(aigw__store *s, size_t max_counters);
size_t aigw__store_memory_max(const aigw__store *s);
int aigw__store_is_memory(const aigw__store *s);

/* The window containing now for per (its index since the epoch: minutes,
 * hours, days, or months since 1970-01), and the seconds (ns) when it ends. */
int64_t aigw__window_index(aigw__window_per per, int64_t now_ns, int64_t *end_ns);

/* Token bucket arithmetic shared by the stores: tokens refilled in
 * elapsed_ns at refill micro-units per second. */
int64_t aigw__bucket_refill(int64_t refill, int64_t elapsed_ns);

#endif
