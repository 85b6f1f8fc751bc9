/* SPDX-License-Identifier: Apache-2.0 */
/* The token refresher: caching, refresh ahead of expiry, single flight,
 * backoff after failures, reference counting and allocation failures. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aigw/aigw.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "credentials/refresher.h"

#define SECRET "SECRET-7f3a"
#define T0 ((time_t)1700000000)

/* ---- a fake clock ---- */

static _Atomic long long fake_time = T0;

static time_t fake_now(void *user) {
    (void)user;
    return (time_t)atomic_load(&fake_time);
}
static void advance(long long seconds) {
    atomic_fetch_add(&fake_time, seconds);
}

/* ---- a fake token source ---- */

typedef struct fake_source {
    atomic_int calls;      /* fetches started */
    atomic_int finished;   /* fetches returned */
    atomic_long lifetime;  /* seconds; 0: never expires; <0: already expired by that much */
    atomic_int fail;       /* nonzero: fail with this status */
    atomic_long delay_ms;  /* sleep this long inside the fetch */
    atomic_int free_calls; /* free_ctx calls */
} fake_source;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static aigw_status fake_fetch(void *ctx, aigw__cred_value *out, aigw_error **err) {
    fake_source *s = ctx;
    int n = atomic_fetch_add(&s->calls, 1) + 1;
    long delay = atomic_load(&s->delay_ms);
    if (delay > 0)
        sleep_ms(delay);
    aigw_status st = AIGW_OK;
    int fail = atomic_load(&s->fail);
    if (fail) {
        st = aigw__error_set(err, (aigw_status)fail,
                             "token endpoint https://login.example/token answered 401");
        goto out;
    }
    char token[64];
    snprintf(token, sizeof token, "%s-%d", SECRET, n);
    out->bearer_token = aigw__strdup(token);
    if (!out->bearer_token) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    long life = atomic_load(&s->lifetime);
    out->expires_at = life == 0 ? 0 : fake_now(NULL) + life;
out:
    atomic_fetch_add(&s->finished, 1);
    return st;
}

static void fake_free(void *ctx) {
    fake_source *s = ctx;
    atomic_fetch_add(&s->free_calls, 1);
}

static fake_source *source_new(long lifetime) {
    fake_source *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    atomic_store(&s->lifetime, lifetime);
    return s;
}

static aigw__refresher *refresher_new(fake_source *s) {
    aigw__refresher *r = NULL;
    cr_assert_eq(aigw__refresher_new("credential \"corp\"", fake_fetch, s, fake_free, &r), AIGW_OK);
    cr_assert_not_null(r);
    aigw__refresher_set_clock(r, fake_now, NULL);
    return r;
}

/* get must succeed; returns the token's number (SECRET-N). */
static int get_ok(aigw__refresher *r) {
    aigw__cred_value v;
    aigw_error *e = NULL;
    aigw_status st = aigw__refresher_get(r, &v, &e);
    cr_assert_eq(st, AIGW_OK, "get failed: %s", aigw_error_message(e));
    cr_assert_null(e);
    cr_assert_not_null(v.bearer_token);
    int n = 0;
    cr_assert_eq(sscanf(v.bearer_token, SECRET "-%d", &n), 1);
    aigw__cred_value_clear(&v);
    cr_assert_null(v.bearer_token);
    return n;
}

/* get must fail; returns the error (the caller frees it). */
static aigw_error *get_fail(aigw__refresher *r, aigw_status want) {
    aigw__cred_value v;
    aigw_error *e = NULL;
    aigw_status st = aigw__refresher_get(r, &v, &e);
    cr_assert_eq(st, want, "got %s, wanted %s", aigw_status_name(st), aigw_status_name(want));
    cr_assert_not_null(e);
    cr_assert_eq(aigw_error_status(e), want);
    cr_assert_null(v.bearer_token);
    const char *msg = aigw_error_message(e);
    cr_assert(strstr(msg, "credential \"corp\"") != NULL, "no name in: %s", msg);
    cr_assert(strstr(msg, SECRET) == NULL, "secret leaked: %s", msg);
    return e;
}

static void done(aigw__refresher *r, fake_source *s) {
    aigw__refresher_unref(r);
    cr_assert_eq(atomic_load(&s->free_calls), 1);
    free(s);
}

static void init(void) {
    atomic_store(&fake_time, T0);
}

TestSuite(refresher, .init = init);

/* ---- caching ---- */

Test(refresher, first_get_fetches_second_uses_cache) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(atomic_load(&s->calls), 0);
    cr_assert_eq(get_ok(r), 1);
    cr_assert_eq(atomic_load(&s->calls), 1);
    advance(60);
    cr_assert_eq(get_ok(r), 1);
    cr_assert_eq(atomic_load(&s->calls), 1);
    done(r, s);
}

Test(refresher, never_expiring_value_is_never_refetched) {
    fake_source *s = source_new(0);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(10LL * 365 * 24 * 3600);
    cr_assert_eq(get_ok(r), 1);
    cr_assert_eq(atomic_load(&s->calls), 1);
    done(r, s);
}

Test(refresher, expired_value_is_refetched) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(3600);
    cr_assert_eq(get_ok(r), 2);
    cr_assert_eq(atomic_load(&s->calls), 2);
    done(r, s);
}

Test(refresher, refreshed_ahead_of_expiry) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(3600 - AIGW__REFRESH_AHEAD_SECONDS - 1);
    cr_assert_eq(get_ok(r), 1);
    advance(1);
    cr_assert_eq(get_ok(r), 2);
    cr_assert_eq(atomic_load(&s->calls), 2);
    done(r, s);
}

/* ---- concurrency ---- */

typedef struct getter {
    aigw__refresher *r;
    pthread_barrier_t *start;
    int token;
    aigw_status st;
} getter;

static void *getter_main(void *arg) {
    getter *g = arg;
    if (g->start)
        pthread_barrier_wait(g->start);
    aigw__cred_value v;
    aigw_error *e = NULL;
    g->st = aigw__refresher_get(g->r, &v, &e);
    g->token = -1;
    if (!g->st && v.bearer_token)
        sscanf(v.bearer_token, SECRET "-%d", &g->token);
    aigw__cred_value_clear(&v);
    aigw_error_free(e);
    return NULL;
}

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

Test(refresher, due_refresh_does_not_block_other_callers) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(3600 - 100); /* due, still valid */
    atomic_store(&s->delay_ms, 400);
    getter g = {.r = r};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, getter_main, &g), 0);
    while (atomic_load(&s->calls) < 2)
        sleep_ms(1);
    double start = mono_ms();
    cr_assert_eq(get_ok(r), 1); /* the current value, at once */
    double took = mono_ms() - start;
    cr_assert_lt(took, 200.0, "a due refresh blocked another caller for %.0f ms", took);
    cr_assert_eq(atomic_load(&s->finished), 1, "returned before the refresh finished");
    pthread_join(t, NULL);
    cr_assert_eq(g.st, AIGW_OK);
    cr_assert_eq(g.token, 2);
    cr_assert_eq(atomic_load(&s->calls), 2);
    cr_assert_eq(get_ok(r), 2);
    done(r, s);
}

#define NTHREADS 32

Test(refresher, single_flight_on_empty_cache) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    atomic_store(&s->delay_ms, 200);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, NTHREADS);
    getter g[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        g[i] = (getter){.r = r, .start = &start};
        cr_assert_eq(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    cr_assert_eq(atomic_load(&s->calls), 1);
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_eq(g[i].st, AIGW_OK);
        cr_assert_eq(g[i].token, 1);
    }
    done(r, s);
}

typedef struct fail_getter {
    aigw__refresher *r;
    pthread_barrier_t *start;
    aigw_status st;
    char message[512];
} fail_getter;

static void *fail_getter_main(void *arg) {
    fail_getter *g = arg;
    pthread_barrier_wait(g->start);
    aigw__cred_value v;
    aigw_error *e = NULL;
    g->st = aigw__refresher_get(g->r, &v, &e);
    snprintf(g->message, sizeof g->message, "%s", e ? aigw_error_message(e) : "");
    aigw__cred_value_clear(&v);
    aigw_error_free(e);
    return NULL;
}

Test(refresher, single_flight_failure_reaches_every_waiter) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    atomic_store(&s->delay_ms, 200);
    atomic_store(&s->fail, AIGW_EUPSTREAM);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 8);
    fail_getter g[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        g[i] = (fail_getter){.r = r, .start = &start};
        cr_assert_eq(pthread_create(&t[i], NULL, fail_getter_main, &g[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    cr_assert_eq(atomic_load(&s->calls), 1);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(g[i].st, AIGW_EUPSTREAM);
        cr_assert_str_eq(g[i].message, g[0].message);
    }
    done(r, s);
}

/* ---- failures and backoff ---- */

Test(refresher, failure_names_the_credential_not_the_secret) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1); /* a secret is cached */
    advance(3600);
    atomic_store(&s->fail, AIGW_EAUTH);
    aigw_error *e = get_fail(r, AIGW_EAUTH);
    cr_assert_str_eq(aigw_error_message(e),
                     "credential \"corp\": token refresh failed: token endpoint "
                     "https://login.example/token answered 401 (retrying in 1 s)");
    cr_assert(strstr(aigw_error_json(e), SECRET) == NULL);
    aigw_error_free(e);
    done(r, s);
}

Test(refresher, backoff_doubles_caps_and_resets) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    atomic_store(&s->fail, AIGW_EAUTH);
    aigw_error_free(get_fail(r, AIGW_EAUTH));
    cr_assert_eq(atomic_load(&s->calls), 1);
    const long expect[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    int calls = 1;
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        long b = expect[i];
        /* Within the backoff: the remembered failure, no fetch. */
        advance(b - 1);
        aigw_error *e = get_fail(r, AIGW_EAUTH);
        cr_assert(strstr(aigw_error_message(e), "(retrying in 1 s)"), "%s", aigw_error_message(e));
        aigw_error_free(e);
        cr_assert_eq(atomic_load(&s->calls), calls);
        /* After it: a fetch, which fails again and backs off longer. */
        advance(1);
        e = get_fail(r, AIGW_EAUTH);
        calls++;
        cr_assert_eq(atomic_load(&s->calls), calls);
        long next = i + 1 < sizeof expect / sizeof *expect ? expect[i + 1] : 60;
        char want[64];
        snprintf(want, sizeof want, "(retrying in %ld s)", next);
        cr_assert(strstr(aigw_error_message(e), want), "wanted %s in: %s", want,
                  aigw_error_message(e));
        aigw_error_free(e);
    }
    /* Success resets the backoff. */
    atomic_store(&s->fail, 0);
    advance(60);
    cr_assert_eq(get_ok(r), calls + 1);
    calls++;
    advance(3600);
    atomic_store(&s->fail, AIGW_EAUTH);
    aigw_error *e = get_fail(r, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "(retrying in 1 s)"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    cr_assert_eq(atomic_load(&s->calls), calls + 1);
    done(r, s);
}

Test(refresher, failed_refresh_keeps_the_valid_value) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(3600 - 200); /* due, still valid */
    atomic_store(&s->fail, AIGW_EUPSTREAM);
    cr_assert_eq(get_ok(r), 1);
    cr_assert_eq(atomic_load(&s->calls), 2);
    cr_assert_eq(get_ok(r), 1); /* in backoff: no fetch */
    cr_assert_eq(atomic_load(&s->calls), 2);
    advance(1);
    cr_assert_eq(get_ok(r), 1); /* backoff over: tries again */
    cr_assert_eq(atomic_load(&s->calls), 3);
    atomic_store(&s->fail, 0);
    advance(2);
    cr_assert_eq(get_ok(r), 4);
    done(r, s);
}

Test(refresher, clock_skew_treats_a_token_near_expiry_as_expired) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    atomic_store(&s->fail, AIGW_EUPSTREAM);
    advance(3600 - AIGW__CLOCK_SKEW_SECONDS - 1); /* 31 s left: still valid */
    cr_assert_eq(get_ok(r), 1);
    advance(11); /* 20 s left: expired */
    aigw_error_free(get_fail(r, AIGW_EUPSTREAM));
    cr_assert_eq(atomic_load(&s->calls), 3);
    done(r, s);
}

Test(refresher, short_lived_tokens_refresh_at_half_life) {
    fake_source *s = source_new(60);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    advance(29);
    cr_assert_eq(get_ok(r), 1);
    advance(1);
    cr_assert_eq(get_ok(r), 2);
    cr_assert_eq(atomic_load(&s->calls), 2);
    /* 300 s: due at 150 s, while still valid (a failure keeps it). */
    atomic_store(&s->lifetime, 300);
    advance(60);
    cr_assert_eq(get_ok(r), 3);
    advance(149);
    cr_assert_eq(get_ok(r), 3);
    cr_assert_eq(atomic_load(&s->calls), 3);
    advance(1);
    atomic_store(&s->fail, AIGW_EUPSTREAM);
    cr_assert_eq(get_ok(r), 3);
    cr_assert_eq(atomic_load(&s->calls), 4);
    done(r, s);
}

Test(refresher, expired_value_from_fetch_is_an_error) {
    fake_source *s = source_new(-5);
    aigw__refresher *r = refresher_new(s);
    aigw_error *e = get_fail(r, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "returned an expired token"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    /* One that expires within the clock skew is as good as expired. */
    atomic_store(&s->lifetime, 20);
    advance(1);
    e = get_fail(r, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "returned an expired token"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    cr_assert_eq(atomic_load(&s->calls), 2);
    done(r, s);
}

/* ---- reference counting ---- */

Test(refresher, free_ctx_once_after_last_unref) {
    fake_source *s = source_new(3600);
    aigw__refresher *r = refresher_new(s);
    cr_assert_eq(get_ok(r), 1);
    cr_assert_eq(aigw__refresher_ref(r), r);
    cr_assert_eq(aigw__refresher_ref(r), r);
    aigw__refresher_unref(r);
    aigw__refresher_unref(r);
    cr_assert_eq(atomic_load(&s->free_calls), 0);
    cr_assert_eq(get_ok(r), 1);
    aigw__refresher_unref(r);
    cr_assert_eq(atomic_load(&s->free_calls), 1);
    aigw__refresher_unref(NULL);
    free(s);
}

Test(refresher, cred_value_copy_and_clear) {
    aigw__cred_value a = {0}, b;
    a.aws_access_key_id = aigw__strdup("AKIDEXAMPLE");
    a.aws_secret_access_key = aigw__strdup(SECRET);
    a.expires_at = 42;
    cr_assert_eq(aigw__cred_value_copy(&a, &b), AIGW_OK);
    cr_assert_str_eq(b.aws_access_key_id, "AKIDEXAMPLE");
    cr_assert_str_eq(b.aws_secret_access_key, SECRET);
    cr_assert_neq(b.aws_secret_access_key, a.aws_secret_access_key);
    cr_assert_null(b.bearer_token);
    cr_assert_null(b.aws_session_token);
    cr_assert_eq(b.expires_at, 42);
    aigw__cred_value_clear(&a);
    aigw__cred_value_clear(&b);
    cr_assert_null(b.aws_secret_access_key);
    cr_assert_eq(b.expires_at, 0);
    aigw__cred_value_clear(NULL);
}

/* ---- allocation failures ---- */

static atomic_long allocations;
static atomic_long fail_at = -1;
static atomic_int failed;

static int should_fail(void) {
    long f = atomic_load(&fail_at);
    if (f >= 0 && atomic_fetch_add(&allocations, 1) == f) {
        atomic_store(&failed, 1);
        return 1;
    }
    return 0;
}
static void *t_malloc(size_t n) {
    return should_fail() ? NULL : malloc(n);
}
static void *t_realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n);
}
static void *t_calloc(size_t c, size_t n) {
    return should_fail() ? NULL : calloc(c, n);
}

static void check_error(aigw_status st, aigw_error *e) {
    cr_assert(st == AIGW_OK || st == AIGW_ENOMEM, "got %s", aigw_status_name(st));
    if (st) {
        cr_assert_not_null(e);
        cr_assert_not_null(aigw_error_message(e));
        cr_assert(strstr(aigw_error_message(e), SECRET) == NULL);
    }
}

Test(refresher, allocation_failures_give_clean_errors) {
    cr_assert_eq(aigw_set_allocator(t_malloc, t_realloc, t_calloc, free), 0);
    for (long n = 0;; n++) {
        atomic_store(&allocations, 0);
        atomic_store(&failed, 0);
        atomic_store(&fail_at, n);
        atomic_store(&fake_time, T0);
        fake_source *s = source_new(3600);
        aigw__refresher *r = NULL;
        aigw_status st = aigw__refresher_new("credential \"corp\"", fake_fetch, s, fake_free, &r);
        cr_assert(st == AIGW_OK || st == AIGW_ENOMEM);
        if (st) {
            cr_assert_null(r);
            cr_assert_eq(atomic_load(&s->free_calls), 1, "ctx not released on failure");
            free(s);
            continue;
        }
        aigw__refresher_set_clock(r, fake_now, NULL);
        aigw_status last = AIGW_OK;
        for (int i = 0; i < 3; i++) { /* fetch, cached copy, refresh */
            aigw__cred_value v;
            aigw_error *e = NULL;
            st = aigw__refresher_get(r, &v, &e);
            check_error(st, e);
            if (!st)
                cr_assert_not_null(v.bearer_token);
            else
                cr_assert_null(v.bearer_token);
            aigw__cred_value_clear(&v);
            aigw_error_free(e);
            if (st)
                last = st;
            advance(i == 0 ? 10 : 3400);
        }
        done(r, s);
        if (!atomic_load(&failed)) {
            cr_assert_eq(last, AIGW_OK);
            cr_assert_gt(n, 5, "suspiciously few allocations: %ld", n);
            break;
        }
    }
}
