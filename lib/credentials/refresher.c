/* SPDX-License-Identifier: Apache-2.0 */
/* Token lifecycle: one cached value per credential, a single fetch in flight,
 * refresh ahead of expiry, exponential backoff after failures. */
#include "credentials/refresher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"

struct aigw__refresher {
    atomic_uint refs;
    char *name;
    aigw__cred_fetch_fn fetch;
    void *ctx;
    void (*free_ctx)(void *ctx);

    pthread_mutex_t mu;
    pthread_cond_t done; /* signalled when a fetch finishes */
    time_t (*now)(void *user);
    void *now_user;

    /* Everything below is guarded by mu. */
    aigw__cred_value value;
    int have_value;
    time_t fetched_at;      /* when `value` arrived */
    int fetching;           /* a fetch is in flight (lock released) */
    unsigned long finished; /* fetches completed so far */

    /* The last failure, for waiters and for callers during the backoff. */
    aigw_status fail_status; /* AIGW_OK: the last fetch succeeded */
    char *fail_message;      /* the fetch's own message; NULL if none could be kept */
    time_t backoff;          /* seconds of the current backoff; 0 after a success */
    time_t retry_at;         /* no fetch before this */
};

static time_t default_now(void *user) {
    (void)user;
    return time(NULL);
}

static time_t clock_now(const aigw__refresher *r) {
    return r->now(r->now_user);
}

/* A value is valid until AIGW__CLOCK_SKEW_SECONDS before its expiry. */
static int valid_at(const aigw__cred_value *v, time_t now) {
    return v->expires_at == 0 || now < v->expires_at - AIGW__CLOCK_SKEW_SECONDS;
}

static int have_valid(const aigw__refresher *r, time_t now) {
    return r->have_value && valid_at(&r->value, now);
}

/* Due: refresh ahead of expiry, by AIGW__REFRESH_AHEAD_SECONDS or half the
 * lifetime of a token living less than twice that. */
static int due_at(const aigw__refresher *r, time_t now) {
    if (r->value.expires_at == 0)
        return 0;
    time_t ahead = AIGW__REFRESH_AHEAD_SECONDS;
    time_t lifetime = r->value.expires_at - r->fetched_at;
    if (lifetime < 2 * (time_t)AIGW__REFRESH_AHEAD_SECONDS)
        ahead = lifetime > 0 ? lifetime / 2 : 0;
    return now >= r->value.expires_at - ahead;
}

/* The remembered failure as a new error object for this caller. */
static aigw_status failure_error(const aigw__refresher *r, time_t now, aigw_error **err) {
    time_t wait = r->retry_at - now;
    if (wait < 1)
        wait = 1;
    aigw_status st = r->fail_status ? r->fail_status : AIGW_EAUTH;
    return aigw__error_set(err, st, "%s: token refresh failed: %s (retrying in %lld s)", r->name,
                           r->fail_message ? r->fail_message : aigw_strerror(st), (long long)wait);
}

static aigw_status copy_out(const aigw__refresher *r, aigw__cred_value *out, aigw_error **err) {
    if (aigw__cred_value_copy(&r->value, out))
        return aigw__error_set(err, AIGW_ENOMEM, "%s: out of memory copying the credential",
                               r->name);
    return AIGW_OK;
}

/* Records a failed fetch and starts (or doubles) the backoff. */
static void record_failure(aigw__refresher *r, aigw_status st, const char *message, time_t now) {
    r->fail_status = st;
    aigw__free(r->fail_message);
    r->fail_message = message ? aigw__strdup(message) : NULL;
    if (r->backoff <= 0)
        r->backoff = 1;
    else if (r->backoff < AIGW__REFRESH_MAX_BACKOFF_SECONDS)
        r->backoff *= 2;
    if (r->backoff > AIGW__REFRESH_MAX_BACKOFF_SECONDS)
        r->backoff = AIGW__REFRESH_MAX_BACKOFF_SECONDS;
    r->retry_at = now + r->backoff;
}

/* Runs one fetch with the lock released; called and returns with it held.
 * Updates the cache or the failure record, then wakes the waiters. */
static void run_fetch(aigw__refresher *r) {
    r->fetching = 1;
    pthread_mutex_unlock(&r->mu);

    aigw__cred_value fresh;
    memset(&fresh, 0, sizeof fresh);
    aigw_error *fetch_err = NULL;
    aigw_status st = r->fetch(r->ctx, &fresh, &fetch_err);

    pthread_mutex_lock(&r->mu);
    time_t now = clock_now(r);
    if (st == AIGW_OK && !valid_at(&fresh, now)) {
        aigw__cred_value_clear(&fresh);
        record_failure(r, AIGW_EAUTH, "the token source returned an expired token", now);
    } else if (st == AIGW_OK) {
        aigw__cred_value_clear(&r->value);
        r->value = fresh; /* ownership moves to the cache */
        r->have_value = 1;
        r->fetched_at = now;
        r->fail_status = AIGW_OK;
        aigw__free(r->fail_message);
        r->fail_message = NULL;
        r->backoff = 0;
        r->retry_at = 0;
    } else {
        aigw__cred_value_clear(&fresh);
        record_failure(r, st, fetch_err ? aigw_error_message(fetch_err) : NULL, now);
    }
    aigw_error_free(fetch_err);
    r->fetching = 0;
    r->finished++;
    pthread_cond_broadcast(&r->done);
}

aigw_status aigw__refresher_get(aigw__refresher *r, aigw__cred_value *out, aigw_error **err) {
    if (!out)
        return aigw__error_set(err, AIGW_EINVAL, "refresher: no output value");
    memset(out, 0, sizeof *out);
    if (!r)
        return aigw__error_set(err, AIGW_EINVAL, "refresher: none given");

    aigw_status st;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        time_t now = clock_now(r);
        if (have_valid(r, now)) {
            /* Due for refresh: this caller refreshes, if no one else is and
             * the backoff allows; the others go on with the current value. */
            if (due_at(r, now) && !r->fetching && now >= r->retry_at) {
                run_fetch(r);
                now = clock_now(r);
                if (have_valid(r, now)) {
                    st = copy_out(r, out, err);
                    break;
                }
                st = failure_error(r, now, err);
                break;
            }
            st = copy_out(r, out, err);
            break;
        }
        if (r->fetching) {
            /* Wait for the fetch in flight and share its outcome. */
            unsigned long seen = r->finished;
            while (r->finished == seen)
                pthread_cond_wait(&r->done, &r->mu);
            if (r->fail_status != AIGW_OK && !have_valid(r, clock_now(r))) {
                st = failure_error(r, clock_now(r), err);
                break;
            }
            continue;
        }
        if (r->fail_status != AIGW_OK && now < r->retry_at) {
            st = failure_error(r, now, err); /* in backoff: no fetch */
            break;
        }
        run_fetch(r);
        now = clock_now(r);
        if (r->fail_status == AIGW_OK && have_valid(r, now)) {
            st = copy_out(r, out, err);
            break;
        }
        if (r->fail_status != AIGW_OK) {
            st = failure_error(r, now, err);
            break;
        }
        /* Valid when fetched, expired already (a clock jump): try again. */
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

aigw_status aigw__refresher_new(const char *name, aigw__cred_fetch_fn fetch, void *ctx,
                                void (*free_ctx)(void *ctx), aigw__refresher **out) {
    if (out)
        *out = NULL;
    aigw_status st = AIGW_OK;
    aigw__refresher *r = NULL;
    if (!fetch || !out) {
        st = AIGW_EINVAL;
        goto fail;
    }
    r = aigw__calloc(1, sizeof *r);
    if (!r) {
        st = AIGW_ENOMEM;
        goto fail;
    }
    r->name = aigw__strdup(name ? name : "credential");
    if (!r->name) {
        st = AIGW_ENOMEM;
        goto fail;
    }
    if (pthread_mutex_init(&r->mu, NULL)) {
        st = AIGW_ENOMEM;
        goto fail;
    }
    if (pthread_cond_init(&r->done, NULL)) {
        pthread_mutex_destroy(&r->mu);
        st = AIGW_ENOMEM;
        goto fail;
    }
    atomic_init(&r->refs, 1);
    r->fetch = fetch;
    r->ctx = ctx;
    r->free_ctx = free_ctx;
    r->now = default_now;
    *out = r;
    return AIGW_OK;
fail:
    /* The refresher owns ctx from the call on, even when it fails. */
    if (free_ctx && ctx)
        free_ctx(ctx);
    if (r)
        aigw__free(r->name);
    aigw__free(r);
    return st;
}

aigw__refresher *aigw__refresher_ref(aigw__refresher *r) {
    if (r)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void aigw__refresher_unref(aigw__refresher *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (r->free_ctx && r->ctx)
        r->free_ctx(r->ctx);
    aigw__cred_value_clear(&r->value);
    aigw__free(r->fail_message);
    aigw__free(r->name);
    pthread_cond_destroy(&r->done);
    pthread_mutex_destroy(&r->mu);
    aigw__free(r);
}

void aigw__refresher_set_clock(aigw__refresher *r, time_t (*now)(void *user), void *user) {
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->now = now ? now : default_now;
    r->now_user = now ? user : NULL;
    pthread_mutex_unlock(&r->mu);
}
