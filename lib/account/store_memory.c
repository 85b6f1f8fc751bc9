/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory store: counters in a sharded hash table, each counter with
 * its own mutex. A reservation looks its counters up, pins them, then locks
 * them in address order — a total order, so concurrent reservations over
 * overlapping budgets cannot deadlock — checks every one, and only then
 * takes from all.
 *
 * Counters are keyed by budget name and instance, and every operation is
 * given the budget, so that a store may be shared by the clients of two
 * configs (a gateway's reload): a budget of the same name goes on with the
 * old counter (a changed limit applies from then on; a changed type starts
 * afresh).
 *
 * Bounded. A counter that is idle — no reservation holds it (pins == 0)
 * and it is in the state a fresh one would be in: a bucket full again, a
 * window that has ended or holds nothing — carries nothing worth keeping,
 * and is evicted: a few at a time as new counters are made (a clock hand
 * over the table), and all that can be when the store reaches max_counters.
 * Past the cap with none idle, a new counter is not made: the reservation
 * fails as a store error for that budget, and its on_store_error decides
 * (fail_open: admitted unmetered by it; fail_closed: refused), as when
 * Redis is unreachable. An evicted counter, made again, starts fresh —
 * which is what it was.
 *
 * Memory safety with lock-free readers. An existing counter is found
 * without a lock (cb106f6): lists are read with acquire loads while a
 * creator (under the shard's lock) publishes at the head with a release
 * store, and an evictor (under the shard's lock) unlinks. An unlinked entry
 * is not freed at once: a reader may be walking over it. Readers announce
 * themselves in an epoch scheme (EBR): a thread's slot holds the global
 * epoch while it is inside a lookup; the epoch only advances when every
 * active reader has seen the current one, and an entry retired in epoch E
 * is freed once the epoch reaches E + 2, when no reader that could have
 * seen it linked is still inside. A reader leaves the lookup holding a pin
 * on each counter it found (pins++ then a check that it is not being
 * evicted; the evictor sets `dead` then checks pins: with both seq_cst one
 * of them sees the other), so a reservation's counters stay alive until
 * its settle unpins them — held counters are never evicted. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "account/epoch.h"
#include "account/store.h"
#include "core/alloc.h"
#include "core/errors.h"

#define SHARDS 64
#define SHARD_BUCKETS 256

typedef struct entry {
    /* read by every lookup, written once (next: also by an unlink): */
    struct entry *_Atomic next;
    uint64_t hash;
    char *name; /* the budget's */
    char *instance;
    /* keeps the counter, written by every reserve and settle, off the
     * cache line that lookups from other threads read */
    char pad[64];
    atomic_int pins;       /* reservations holding it (and lookups under way) */
    atomic_int dead;       /* being evicted */
    aigw__limit_type type; /* what level means */
    pthread_mutex_t mu;
    int64_t level;   /* bucket: available; window: used */
    int64_t last_ns; /* bucket: refilled up to */
    int64_t window;  /* window: index of the current window */
    /* the budget's limit as last used, to tell when it is idle: */
    int64_t limit, refill;
    aigw__window_per per;
    /* retired: */
    struct entry *retired_next;
    uint64_t retired_epoch;
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry *_Atomic buckets[SHARD_BUCKETS]; /* new entries at the head */
} shard;

typedef struct memory_store {
    aigw__store base;
    shard shards[SHARDS];
    _Atomic size_t max;  /* max_counters */
    _Atomic size_t live; /* linked entries */
    _Atomic unsigned long long evictions, refusals;
    atomic_uint creations;
    pthread_mutex_t sweep_mu; /* one evictor at a time; guards what follows */
    size_t hand;              /* the next bucket to sweep, of SHARDS * SHARD_BUCKETS */
    int64_t full_until;       /* a full sweep found nothing idle: none before this */
    entry *retired;           /* unlinked, freed two epochs later */
} memory_store;

/* ---- time: windows and refill ---- */

#define NS 1000000000LL

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m) {
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t aigw__window_index(aigw__window_per per, int64_t now_ns, int64_t *end_ns) {
    static const int64_t len[] = {60 * NS, 3600 * NS, 86400 * NS};
    if (per != AIGW__PER_MONTH) {
        int64_t idx = floor_div(now_ns, len[per]);
        if (end_ns)
            *end_ns = (idx + 1) * len[per];
        return idx;
    }
    int64_t y, m;
    civil_from_days(floor_div(now_ns, 86400 * NS), &y, &m);
    if (end_ns)
        *end_ns = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400 * NS;
    return (y - 1970) * 12 + (m - 1);
}

int64_t aigw__bucket_refill(int64_t refill, int64_t elapsed_ns) {
    if (elapsed_ns <= 0 || refill <= 0)
        return 0;
    __int128 add = (__int128)elapsed_ns * refill / NS;
    return add > AIGW__AMOUNT_MAX ? AIGW__AMOUNT_MAX : (int64_t)add;
}

/* Brings a bucket up to now. The time of a partial micro-unit is kept (last
 * advances only by the time the added units took), so slow refills are not
 * lost to rounding. */
static void bucket_refill(entry *e, const aigw__budget *b, int64_t now) {
    if (now <= e->last_ns)
        return;
    if (e->level >= b->capacity || b->refill <= 0) {
        e->last_ns = now;
        return;
    }
    int64_t add = aigw__bucket_refill(b->refill, now - e->last_ns);
    if (!add)
        return;
    if (add >= b->capacity - e->level) {
        e->level = b->capacity;
        e->last_ns = now;
    } else {
        e->level += add;
        e->last_ns += (int64_t)((__int128)add * NS / b->refill);
    }
}

static void window_roll(entry *e, const aigw__budget *b, int64_t now) {
    int64_t idx = aigw__window_index(b->per, now, NULL);
    if (idx > e->window) { /* a clock stepping back keeps the current window */
        e->window = idx;
        e->level = 0;
    }
}

/* Seconds until amount fits in e (locked, brought up to now); -1 never. */
static double retry_after(entry *e, const aigw__budget *b, int64_t amount, int64_t now) {
    if (b->type == AIGW__LIMIT_BUCKET) {
        if (amount > b->capacity || b->refill <= 0)
            return -1;
        double need = (double)(amount - e->level) / (double)b->refill -
                      (double)(now - e->last_ns) / (double)NS;
        return need > 0 ? need : 0;
    }
    if (amount > b->max)
        return -1;
    int64_t end;
    aigw__window_index(b->per, now, &end);
    return (double)(end - now) / (double)NS;
}

static void entry_destroy(entry *e) {
    pthread_mutex_destroy(&e->mu);
    aigw__free(e->name);
    aigw__free(e->instance);
    aigw__free(e);
}

/* Frees the retired entries no reader can hold (sweep_mu held). */
static void reclaim(memory_store *ms) {
    aigw__epoch_try_advance();
    uint64_t e = aigw__epoch_current();
    entry **p = &ms->retired;
    while (*p) {
        entry *r = *p;
        if (r->retired_epoch + 2 <= e) {
            *p = r->retired_next;
            entry_destroy(r);
        } else {
            p = &r->retired_next;
        }
    }
}

/* ---- the table ---- */

/* A fresh counter of budget b's type. */
static void entry_reset(entry *e, const aigw__budget *b, int64_t now) {
    e->type = b->type;
    if (b->type == AIGW__LIMIT_BUCKET) {
        e->level = b->capacity;
        e->last_ns = now;
    } else {
        e->level = 0;
        e->window = aigw__window_index(b->per, now, NULL);
    }
}

/* Brings e (locked) up to now under b's limit. */
static void entry_update(entry *e, const aigw__budget *b, int64_t now) {
    if (e->type != b->type)
        entry_reset(e, b, now);
    e->limit = b->type == AIGW__LIMIT_BUCKET ? b->capacity : b->max;
    e->refill = b->refill;
    e->per = b->per;
    if (b->type == AIGW__LIMIT_BUCKET) {
        bucket_refill(e, b, now);
        if (e->level > b->capacity) /* the capacity shrank */
            e->level = b->capacity;
    } else {
        window_roll(e, b, now);
    }
}

/* Whether e (locked) is as a fresh counter would be: a bucket full (by
 * now), a window ended or empty. */
static int entry_idle(const entry *e, int64_t now) {
    if (e->type == AIGW__LIMIT_BUCKET) {
        if (e->level >= e->limit)
            return 1;
        return e->refill > 0 && now > e->last_ns &&
               aigw__bucket_refill(e->refill, now - e->last_ns) >= e->limit - e->level;
    }
    return e->level <= 0 || aigw__window_index(e->per, now, NULL) > e->window;
}

static uint64_t key_hash(const char *name, const char *instance) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* no byte of a name: separates the two */
    for (const unsigned char *c = (const unsigned char *)instance; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static entry *find(entry *e, uint64_t h, const char *name, const char *inst) {
    while (e && !(e->hash == h && !strcmp(e->name, name) && !strcmp(e->instance, inst)))
        e = atomic_load_explicit(&e->next, memory_order_acquire);
    return e;
}

/* Evicts e (shard locked) when it is idle and unheld; 1 when it did. */
static int try_evict(memory_store *ms, entry *_Atomic *link, entry *e, int64_t now) {
    if (atomic_load(&e->pins) || pthread_mutex_trylock(&e->mu))
        return 0;
    int idle = entry_idle(e, now);
    pthread_mutex_unlock(&e->mu);
    if (!idle)
        return 0;
    atomic_store(&e->dead, 1);
    if (atomic_load(&e->pins)) { /* a lookup pinned it meanwhile: it keeps it */
        atomic_store(&e->dead, 0);
        return 0;
    }
    atomic_store_explicit(link, atomic_load_explicit(&e->next, memory_order_relaxed),
                          memory_order_release);
    e->retired_epoch = aigw__epoch_current();
    e->retired_next = ms->retired;
    ms->retired = e;
    atomic_fetch_sub(&ms->live, 1);
    atomic_fetch_add_explicit(&ms->evictions, 1, memory_order_relaxed);
    return 1;
}

/* Sweeps up to `slots` buckets from the hand (sweep_mu held), evicting
 * idle counters, until live <= target; returns how many it evicted. */
static size_t sweep(memory_store *ms, int64_t now, size_t slots, size_t target) {
    size_t evicted = 0;
    for (size_t i = 0; i < slots && atomic_load(&ms->live) > target; i++) {
        size_t at = ms->hand++ % (SHARDS * SHARD_BUCKETS);
        shard *sh = &ms->shards[at % SHARDS];
        entry *_Atomic *link = &sh->buckets[at / SHARDS];
        pthread_mutex_lock(&sh->mu);
        entry *e = atomic_load(link);
        while (e) {
            entry *next = atomic_load(&e->next);
            if (try_evict(ms, link, e, now))
                evicted++;
            else
                link = &e->next;
            e = next;
        }
        pthread_mutex_unlock(&sh->mu);
    }
    reclaim(ms);
    return evicted;
}

/* At the cap: evicts all it can (down to 15/16 of the cap, so that the
 * next sweep is many creations away). A sweep that found nothing idle is
 * not repeated for 100 ms (creations are refused meanwhile). */
static void make_room(memory_store *ms, int64_t now) {
    pthread_mutex_lock(&ms->sweep_mu);
    size_t max = atomic_load(&ms->max);
    if (atomic_load(&ms->live) >= max && now >= ms->full_until) {
        if (!sweep(ms, now, SHARDS * SHARD_BUCKETS, max - max / 16 - (max >= 16 ? 0 : 1)) &&
            atomic_load(&ms->live) >= max)
            ms->full_until = now + 100000000LL;
    }
    pthread_mutex_unlock(&ms->sweep_mu);
}

/* A few buckets swept for each new counter, so that idle ones go well
 * before the cap. */
static void sweep_some(memory_store *ms, int64_t now) {
    if (atomic_fetch_add_explicit(&ms->creations, 1, memory_order_relaxed) % 4 != 0 ||
        pthread_mutex_trylock(&ms->sweep_mu))
        return;
    sweep(ms, now, 8, 0);
    pthread_mutex_unlock(&ms->sweep_mu);
}

/* Pins e if it is not being evicted. */
static int pin(entry *e) {
    atomic_fetch_add(&e->pins, 1);
    if (!atomic_load(&e->dead))
        return 1;
    atomic_fetch_sub(&e->pins, 1);
    return 0;
}

static void unpin(entry *e) {
    atomic_fetch_sub_explicit(&e->pins, 1, memory_order_release);
}

#define LOOKUP_FULL ((entry *)&lookup_full_marker)
static const char lookup_full_marker;

/* Finds k's counter and pins it (unpin when done). An existing one is
 * found without a lock; a creation takes the shard's lock and looks again
 * under it. NULL: not found (create = 0) or out of memory; LOOKUP_FULL: at
 * max_counters with none idle. */
static entry *lookup(memory_store *ms, const aigw__store_key *k, int64_t now, int create) {
    const char *inst = k->instance ? k->instance : "";
    const char *name = k->budget->name;
    uint64_t h = key_hash(name, inst);
    shard *sh = &ms->shards[h % SHARDS];
    entry *_Atomic *slot = &sh->buckets[(h / SHARDS) % SHARD_BUCKETS];
    aigw__epoch_slot *me = aigw__epoch_enter();
    if (!me)
        return NULL;
    entry *e = find(atomic_load_explicit(slot, memory_order_acquire), h, name, inst);
    int pinned = e && pin(e);
    aigw__epoch_leave(me);
    if (pinned)
        return e;
    if (!e && !create)
        return NULL;
    /* Not there (or being evicted: under the shard's lock it is gone). */
    if (create && atomic_load(&ms->live) >= atomic_load(&ms->max))
        make_room(ms, now);
    else if (create)
        sweep_some(ms, now);
    pthread_mutex_lock(&sh->mu);
    e = find(atomic_load_explicit(slot, memory_order_acquire), h, name, inst);
    if (e) {
        atomic_fetch_add(&e->pins, 1); /* no evictor in this shard now */
    } else if (!create) {
        e = NULL;
    } else if (atomic_fetch_add(&ms->live, 1) >= atomic_load(&ms->max)) {
        atomic_fetch_sub(&ms->live, 1);
        atomic_fetch_add_explicit(&ms->refusals, 1, memory_order_relaxed);
        e = LOOKUP_FULL;
    } else if ((e = aigw__calloc(1, sizeof *e))) {
        if (!(e->instance = aigw__strdup(inst)) || !(e->name = aigw__strdup(name))) {
            aigw__free(e->instance);
            aigw__free(e);
            e = NULL;
            atomic_fetch_sub(&ms->live, 1);
        } else {
            pthread_mutex_init(&e->mu, NULL);
            e->hash = h;
            entry_reset(e, k->budget, now);
            entry_update(e, k->budget, now);
            atomic_init(&e->pins, 1);
            atomic_init(&e->next, atomic_load_explicit(slot, memory_order_relaxed));
            atomic_store_explicit(slot, e, memory_order_release);
        }
    } else {
        atomic_fetch_sub(&ms->live, 1);
    }
    pthread_mutex_unlock(&sh->mu);
    return e;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)(*(entry *const *)a), y = (uintptr_t)(*(entry *const *)b);
    return x < y ? -1 : x > y;
}

static void lock_all(entry **sorted, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!i || sorted[i] != sorted[i - 1])
            pthread_mutex_lock(&sorted[i]->mu);
}

static void unlock_all(entry **sorted, size_t n) {
    for (size_t i = n; i-- > 0;)
        if (!i || sorted[i] != sorted[i - 1])
            pthread_mutex_unlock(&sorted[i]->mu);
}

static void sort_entries(entry **v, size_t n) {
    if (n <= 8) { /* insertion sort: the usual 1-4 budgets */
        for (size_t i = 1; i < n; i++) {
            entry *x = v[i];
            size_t j = i;
            while (j > 0 && (uintptr_t)v[j - 1] > (uintptr_t)x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
    } else {
        qsort(v, n, sizeof *v, by_address);
    }
}

static void unpin_holds(aigw__hold *holds, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (holds[i].entry)
            unpin(holds[i].entry);
}

static aigw_status mem_reserve(aigw__store *s, const aigw__store_key *keys, const int64_t *amounts,
                               size_t n, int64_t now, aigw__hold *holds, aigw__refusal *refusal,
                               aigw_error **err) {
    memory_store *ms = (memory_store *)s;
    entry *sorted[AIGW__STORE_MAX_KEYS];
    size_t m = 0;
    if (n > AIGW__STORE_MAX_KEYS)
        return aigw__error_set(err, AIGW_EINVAL, "a request may reserve in at most %d budgets",
                               AIGW__STORE_MAX_KEYS);
    for (size_t i = 0; i < n; i++) {
        entry *e = lookup(ms, &keys[i], now, 1);
        holds[i] = (aigw__hold){.amount = amounts[i]};
        if (e == LOOKUP_FULL) {
            /* a store error for this budget: on_store_error decides */
            if (refusal)
                snprintf(refusal->why, sizeof refusal->why,
                         "budget store memory: %zu counters (accounting.max_counters) and none "
                         "idle",
                         atomic_load(&ms->max));
            if (!keys[i].budget->fail_open) {
                unpin_holds(holds, i);
                if (refusal) {
                    refusal->index = i;
                    refusal->retry_after = 1;
                    refusal->store_error = 1;
                }
                return AIGW_ERATELIMIT;
            }
            holds[i].skipped = 1;
            continue;
        }
        if (!e) {
            unpin_holds(holds, i);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
        holds[i].entry = e;
        sorted[m++] = e;
    }
    sort_entries(sorted, m);
    lock_all(sorted, m);
    for (size_t i = 0; i < n; i++) {
        entry *e = holds[i].entry;
        if (!e)
            continue;
        const aigw__budget *b = keys[i].budget;
        entry_update(e, b, now);
        int ok = b->type == AIGW__LIMIT_BUCKET ? amounts[i] <= e->level
                                               : amounts[i] <= b->max - e->level;
        if (!ok) {
            if (refusal) {
                refusal->index = i;
                refusal->retry_after = retry_after(e, b, amounts[i], now);
                refusal->store_error = 0;
            }
            unlock_all(sorted, m);
            unpin_holds(holds, n);
            return AIGW_ERATELIMIT;
        }
    }
    for (size_t i = 0; i < n; i++) {
        entry *e = holds[i].entry;
        if (!e)
            continue;
        if (e->type == AIGW__LIMIT_BUCKET) {
            e->level -= amounts[i];
            holds[i].remaining = e->level;
        } else {
            e->level += amounts[i];
            holds[i].window = e->window;
            holds[i].remaining = keys[i].budget->max - e->level;
        }
        holds[i].has_remaining = 1;
    }
    unlock_all(sorted, m);
    return AIGW_OK;
}

static aigw_status mem_settle(aigw__store *s, const aigw__store_key *keys, const aigw__hold *holds,
                              const int64_t *actual, size_t n, int64_t now, aigw_error **err) {
    (void)s, (void)err;
    for (size_t i = 0; i < n; i++) {
        entry *e = holds[i].entry;
        if (!e || holds[i].skipped)
            continue;
        int64_t diff = actual[i] - holds[i].amount; /* > 0: charge more */
        const aigw__budget *b = keys[i].budget;
        if (!diff) {
            unpin(e);
            continue;
        }
        pthread_mutex_lock(&e->mu);
        if (e->type != b->type) { /* reset by a reload meanwhile: nothing to settle */
        } else if (b->type == AIGW__LIMIT_BUCKET) {
            bucket_refill(e, b, now);
            e->level -= diff;
            if (e->level > b->capacity)
                e->level = b->capacity;
            if (e->level < -AIGW__AMOUNT_MAX)
                e->level = -AIGW__AMOUNT_MAX;
        } else {
            window_roll(e, b, now);
            if (e->window == holds[i].window)
                e->level += diff;
            else if (diff > 0)
                e->level += diff;
            if (e->level < 0)
                e->level = 0;
            if (e->level > 2 * AIGW__AMOUNT_MAX)
                e->level = 2 * AIGW__AMOUNT_MAX;
        }
        pthread_mutex_unlock(&e->mu);
        unpin(e);
    }
    return AIGW_OK;
}

static void fill_status(const aigw__budget *b, entry *e, int64_t now, aigw__budget_status *out) {
    if (b->type == AIGW__LIMIT_BUCKET) {
        out->limit = b->capacity;
        out->remaining = e ? e->level : b->capacity;
        int64_t missing = b->capacity - out->remaining;
        out->reset = missing <= 0 || b->refill <= 0
                         ? 0
                         : (double)missing / (double)b->refill -
                               (e ? (double)(now - e->last_ns) / (double)NS : 0);
        if (out->reset < 0)
            out->reset = 0;
    } else {
        int64_t end;
        aigw__window_index(b->per, now, &end);
        out->limit = b->max;
        out->remaining = b->max - (e ? e->level : 0);
        out->reset = (double)(end - now) / (double)NS;
    }
}

static aigw_status mem_status(aigw__store *s, const aigw__store_key *key, int64_t now,
                              aigw__budget_status *out, aigw_error **err) {
    (void)err;
    entry *e = lookup((memory_store *)s, key, now, 0);
    if (e) {
        pthread_mutex_lock(&e->mu);
        entry_update(e, key->budget, now);
        fill_status(key->budget, e, now, out);
        pthread_mutex_unlock(&e->mu);
        unpin(e);
    } else {
        fill_status(key->budget, NULL, now, out);
    }
    return AIGW_OK;
}

static aigw_status mem_instances(aigw__store *s, const aigw__budget *b, aigw__instance_cb cb,
                                 void *ctx, aigw_error **err) {
    /* Copied under each shard's lock, reported after: cb may use the store. */
    memory_store *ms = (memory_store *)s;
    char **names = NULL;
    size_t n = 0, cap = 0;
    aigw_status st = AIGW_OK;
    for (size_t i = 0; i < SHARDS && !st; i++) {
        pthread_mutex_lock(&ms->shards[i].mu);
        for (size_t j = 0; j < SHARD_BUCKETS && !st; j++) {
            for (entry *e = atomic_load(&ms->shards[i].buckets[j]); e && !st;
                 e = atomic_load(&e->next)) {
                if (strcmp(e->name, b->name) != 0)
                    continue;
                if (n == cap) {
                    size_t grown_cap = cap ? 2 * cap : 16;
                    char **grown = aigw__reallocarray(names, grown_cap, sizeof *grown);
                    if (!grown) {
                        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                        break;
                    }
                    names = grown;
                    cap = grown_cap;
                }
                if (!(names[n] = aigw__strdup(e->instance)))
                    st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                else
                    n++;
            }
        }
        pthread_mutex_unlock(&ms->shards[i].mu);
    }
    for (size_t i = 0; i < n; i++) {
        if (!st)
            cb(names[i], ctx);
        aigw__free(names[i]);
    }
    aigw__free(names);
    return st;
}

static void mem_free(aigw__store *s) {
    memory_store *ms = (memory_store *)s;
    for (size_t i = 0; i < SHARDS; i++) {
        for (size_t j = 0; j < SHARD_BUCKETS; j++) {
            entry *e = atomic_load(&ms->shards[i].buckets[j]);
            while (e) {
                entry *next = atomic_load(&e->next);
                entry_destroy(e);
                e = next;
            }
        }
        pthread_mutex_destroy(&ms->shards[i].mu);
    }
    while (ms->retired) {
        entry *next = ms->retired->retired_next;
        entry_destroy(ms->retired);
        ms->retired = next;
    }
    pthread_mutex_destroy(&ms->sweep_mu);
    aigw__free(ms);
}

static void mem_stats(aigw__store *s, aigw__store_stats *out) {
    memory_store *ms = (memory_store *)s;
    out->counters = atomic_load(&ms->live);
    out->evictions = atomic_load_explicit(&ms->evictions, memory_order_relaxed);
    out->refusals = atomic_load_explicit(&ms->refusals, memory_order_relaxed);
}

static const aigw__store_ops memory_ops = {mem_reserve,   mem_settle, mem_status,
                                           mem_instances, mem_free,   mem_stats};

int aigw__store_is_memory(const aigw__store *s) {
    return s && s->ops == &memory_ops;
}

void aigw__store_memory_set_max(aigw__store *s, size_t max_counters) {
    if (aigw__store_is_memory(s) && max_counters > 0) {
        memory_store *ms = (memory_store *)s;
        atomic_store(&ms->max, max_counters);
        pthread_mutex_lock(&ms->sweep_mu);
        ms->full_until = 0;
        pthread_mutex_unlock(&ms->sweep_mu);
    }
}

size_t aigw__store_memory_max(const aigw__store *s) {
    return aigw__store_is_memory(s) ? atomic_load(&((memory_store *)s)->max) : 0;
}

aigw_status aigw__store_memory_new_capped(size_t max_counters, aigw__store **out,
                                          aigw_error **err) {
    memory_store *ms = aigw__calloc(1, sizeof *ms);
    if (!ms)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    ms->base.ops = &memory_ops;
    atomic_init(&ms->max, max_counters ? max_counters : AIGW__STORE_DEFAULT_MAX_COUNTERS);
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&ms->shards[i].mu, NULL);
    pthread_mutex_init(&ms->sweep_mu, NULL);
    *out = &ms->base;
    return AIGW_OK;
}

aigw_status aigw__store_memory_new(aigw__store **out, aigw_error **err) {
    return aigw__store_memory_new_capped(AIGW__STORE_DEFAULT_MAX_COUNTERS, out, err);
}
