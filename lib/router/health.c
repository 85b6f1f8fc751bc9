/* SPDX-License-Identifier: Apache-2.0 */
/* Outlier ejection per backend. */
#include "router/health.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/errors.h"

typedef struct entry {
    char *name;
    unsigned failures;    /* consecutive, while healthy */
    unsigned ejections;   /* ejections since it was last healthy: the interval's exponent */
    uint64_t until;       /* ejected until (0 = healthy) */
    uint64_t probe_start; /* a probe in flight since then (0 = none) */
    int probing;
} entry;

struct aigw__health {
    pthread_mutex_t mu;
    entry *e;
    size_t n;
    aigw__health_options o;
};

static uint64_t monotonic_ms(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

aigw_status aigw__health_new(aigw__health **out, const char *const *names, size_t n,
                             const aigw__health_options *opts, aigw_error **err) {
    *out = NULL;
    aigw__health *h = aigw__calloc(1, sizeof *h);
    if (!h)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (opts)
        h->o = *opts;
    if (!h->o.failure_threshold)
        h->o.failure_threshold = AIGW__HEALTH_DEFAULT_THRESHOLD;
    if (!h->o.base_eject_ms)
        h->o.base_eject_ms = AIGW__HEALTH_DEFAULT_BASE_EJECT_MS;
    if (!h->o.max_eject_ms)
        h->o.max_eject_ms = AIGW__HEALTH_DEFAULT_MAX_EJECT_MS;
    if (h->o.max_eject_ms < h->o.base_eject_ms)
        h->o.max_eject_ms = h->o.base_eject_ms;
    if (!h->o.probe_timeout_ms)
        h->o.probe_timeout_ms = AIGW__HEALTH_DEFAULT_PROBE_TIMEOUT_MS;
    if (!h->o.clock)
        h->o.clock = monotonic_ms;
    if (pthread_mutex_init(&h->mu, NULL)) {
        aigw__free(h);
        return aigw__error_set(err, AIGW_ENOMEM, "cannot create a mutex");
    }
    if (n && !(h->e = aigw__calloc(n, sizeof *h->e)))
        goto nomem;
    for (size_t i = 0; i < n; i++, h->n++)
        if (!(h->e[i].name = aigw__strdup(names[i])))
            goto nomem;
    *out = h;
    return AIGW_OK;
nomem:
    aigw__health_free(h);
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

void aigw__health_free(aigw__health *h) {
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        aigw__free(h->e[i].name);
    aigw__free(h->e);
    pthread_mutex_destroy(&h->mu);
    aigw__free(h);
}

static entry *find(aigw__health *h, const char *name) {
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->e[i].name, name))
            return &h->e[i];
    return NULL;
}

/* Never 0, so that `until` 0 keeps meaning healthy. */
static uint64_t now(aigw__health *h) {
    uint64_t t = h->o.clock(h->o.clock_ctx);
    return t ? t : 1;
}

static void eject(aigw__health *h, entry *e, uint64_t t) {
    uint64_t interval = h->o.base_eject_ms;
    for (unsigned i = 0; i < e->ejections && interval < h->o.max_eject_ms; i++)
        interval *= 2;
    if (interval > h->o.max_eject_ms)
        interval = h->o.max_eject_ms;
    if (e->ejections < 64)
        e->ejections++;
    e->until = t + interval;
    e->failures = 0;
    e->probing = 0;
}

static void recover(entry *e) {
    e->until = 0;
    e->failures = 0;
    e->ejections = 0;
    e->probing = 0;
}

/* Under the lock: frees a probe slot held too long. */
static void expire_probe(aigw__health *h, entry *e, uint64_t t) {
    if (e->probing && t - e->probe_start >= h->o.probe_timeout_ms)
        e->probing = 0;
}

aigw__health_state aigw__health_state_of(aigw__health *h, const char *name, uint64_t *until) {
    aigw__health_state s = AIGW__HEALTH_HEALTHY;
    uint64_t u = 0;
    if (h) {
        pthread_mutex_lock(&h->mu);
        entry *e = find(h, name);
        if (e && e->until) {
            uint64_t t = now(h);
            expire_probe(h, e, t);
            u = e->until;
            s = t < e->until ? AIGW__HEALTH_EJECTED
                : e->probing ? AIGW__HEALTH_PROBING
                             : AIGW__HEALTH_HALF_OPEN;
        }
        pthread_mutex_unlock(&h->mu);
    }
    if (until)
        *until = u;
    return s;
}

aigw__health_ticket aigw__health_begin(aigw__health *h, const char *name, int force) {
    if (!h)
        return AIGW__TICKET_NORMAL;
    aigw__health_ticket tk = AIGW__TICKET_NORMAL;
    pthread_mutex_lock(&h->mu);
    entry *e = find(h, name);
    if (e && e->until) {
        uint64_t t = now(h);
        expire_probe(h, e, t);
        if (t >= e->until && !e->probing) {
            e->probing = 1;
            e->probe_start = t;
            tk = AIGW__TICKET_PROBE;
        } else {
            tk = force ? AIGW__TICKET_FORCED : AIGW__TICKET_DENIED;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return tk;
}

void aigw__health_report(aigw__health *h, const char *name, aigw__health_ticket ticket,
                         int success) {
    if (!h || ticket == AIGW__TICKET_DENIED)
        return;
    pthread_mutex_lock(&h->mu);
    entry *e = find(h, name);
    if (e) {
        uint64_t t = now(h);
        switch (ticket) {
        case AIGW__TICKET_NORMAL:
            if (e->until)
                break; /* started before the ejection: says nothing new */
            if (success)
                e->failures = 0;
            else if (++e->failures >= h->o.failure_threshold)
                eject(h, e, t);
            break;
        case AIGW__TICKET_PROBE:
            if (!e->until)
                break;
            if (success)
                recover(e);
            else
                eject(h, e, t);
            break;
        case AIGW__TICKET_FORCED:
            if (success)
                recover(e);
            break;
        case AIGW__TICKET_DENIED:
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void aigw__health_abandon(aigw__health *h, const char *name, aigw__health_ticket ticket) {
    if (!h || ticket != AIGW__TICKET_PROBE)
        return;
    pthread_mutex_lock(&h->mu);
    entry *e = find(h, name);
    if (e)
        e->probing = 0;
    pthread_mutex_unlock(&h->mu);
}
