/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory budget store (lib/account/store_memory.c): token buckets
 * and windows at their boundaries, all-or-nothing reservations, settling,
 * and exactness under 64 threads. Time is passed in, so every boundary is
 * hit exactly. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "account/store.h"
#include "proc.h"

#define S 1000000000LL /* one second in ns */
#define U AIGW__MICRO  /* one unit in micro-units */
/* 2026-01-31T23:59:00Z */
#define JAN31_2359 (1769903940LL * S)

static aigw__budget_set *budgets(const char *text) {
    json_object *j = json_tokener_parse(text);
    cr_assert_not_null(j);
    aigw__budget_set *set = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__budgets_parse(j, &set, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    json_object_put(j);
    return set;
}

static aigw__store *memory(void) {
    aigw__store *s = NULL;
    cr_assert_eq(aigw__store_memory_new(&s, NULL), AIGW_OK);
    return s;
}

static aigw_status reserve1(aigw__store *s, const aigw__budget *b, int64_t amount, int64_t now,
                            aigw__hold *h, aigw__refusal *r) {
    aigw__store_key k = {b, ""};
    return aigw__store_reserve(s, &k, &amount, 1, now, h, r, NULL);
}

static int64_t remaining(aigw__store *s, const aigw__budget *b, int64_t now) {
    aigw__store_key k = {b, ""};
    aigw__budget_status st;
    cr_assert_eq(aigw__store_status(s, &k, now, &st, NULL), AIGW_OK);
    return st.remaining;
}

Test(store_memory, bucket_refills_continuously_up_to_capacity) {
    aigw__budget_set *set =
        budgets("[{\"name\":\"b\",\"cost\":\"1\",\"limit\":{\"type\":"
                "\"token_bucket\",\"capacity\":100,\"refill_per_second\":10}}]");
    const aigw__budget *b = &set->items[0];
    aigw__store *s = memory();
    aigw__hold h;
    aigw__refusal r;
    int64_t t0 = 1000 * S;
    cr_assert_eq(remaining(s, b, t0), 100 * U);
    cr_assert_eq(reserve1(s, b, 100 * U, t0, &h, &r), AIGW_OK);
    cr_assert_eq(reserve1(s, b, 1, t0, &h, &r), AIGW_ERATELIMIT);
    cr_assert_eq(r.index, 0);
    cr_assert_float_eq(r.retry_after, 1e-7, 1e-9); /* one micro-unit at 10/s */
    /* 10/s: 1 unit after exactly 0.1 s, not a nanosecond before. */
    cr_assert_eq(reserve1(s, b, 1 * U, t0 + S / 10 - 1, &h, &r), AIGW_ERATELIMIT);
    cr_assert_float_eq(r.retry_after, 1e-9, 1e-10);
    cr_assert_eq(reserve1(s, b, 1 * U, t0 + S / 10, &h, &r), AIGW_OK);
    cr_assert_eq(remaining(s, b, t0 + S / 10), 0);
    /* 5 units take 0.5 s. */
    cr_assert_eq(reserve1(s, b, 5 * U, t0 + S / 10, &h, &r), AIGW_ERATELIMIT);
    cr_assert_float_eq(r.retry_after, 0.5, 1e-9);
    /* Slow drips are not lost to rounding: 1000 steps of 1 µs = 1 ms = 0.01 unit. */
    for (int i = 1; i <= 1000; i++)
        remaining(s, b, t0 + S / 10 + i * 1000);
    cr_assert_eq(remaining(s, b, t0 + S / 10 + 1000000), U / 100);
    /* Never above capacity, however long. */
    cr_assert_eq(remaining(s, b, t0 + 3600 * S), 100 * U);
    cr_assert_eq(reserve1(s, b, 101 * U, t0 + 3600 * S, &h, &r), AIGW_ERATELIMIT);
    cr_assert_eq(r.retry_after, -1); /* never fits */
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_memory, windows_align_to_utc_boundaries) {
    aigw__budget_set *set = budgets("[{\"name\":\"m\",\"cost\":\"1\",\"limit\":{\"type\":"
                                    "\"window\",\"per\":\"minute\",\"max\":3}},"
                                    " {\"name\":\"h\",\"cost\":\"1\",\"limit\":{\"type\":"
                                    "\"window\",\"per\":\"hour\",\"max\":3}},"
                                    " {\"name\":\"d\",\"cost\":\"1\",\"limit\":{\"type\":"
                                    "\"window\",\"per\":\"day\",\"max\":3}},"
                                    " {\"name\":\"mo\",\"cost\":\"1\",\"limit\":{\"type\":"
                                    "\"window\",\"per\":\"month\",\"max\":3}}]");
    aigw__store *s = memory();
    aigw__hold h;
    aigw__refusal r;
    int64_t t = JAN31_2359 + 30 * S; /* 23:59:30 */
    for (size_t i = 0; i < 4; i++) {
        const aigw__budget *b = &set->items[i];
        cr_assert_eq(reserve1(s, b, 3 * U, t, &h, &r), AIGW_OK);
        cr_assert_eq(reserve1(s, b, 1, t, &h, &r), AIGW_ERATELIMIT);
        cr_assert_float_eq(r.retry_after, 30, 1e-9, "%s", b->name); /* all end at midnight */
        /* A nanosecond before the boundary: still the old window. */
        cr_assert_eq(reserve1(s, b, 1, JAN31_2359 + 60 * S - 1, &h, &r), AIGW_ERATELIMIT);
        /* At the boundary: a fresh window. */
        cr_assert_eq(reserve1(s, b, 3 * U, JAN31_2359 + 60 * S, &h, &r), AIGW_OK, "%s", b->name);
    }
    /* At 00:00:30 on Feb 1 the minute window ends in 30 s, the hour in 3570,
     * the day in 86370, the month on Mar 1 (28 days in 2026). */
    int64_t t2 = JAN31_2359 + 90 * S;
    double want[4] = {30, 3570, 86370, 28.0 * 86400 - 30};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(reserve1(s, &set->items[i], 1, t2, &h, &r), AIGW_ERATELIMIT);
        cr_assert_float_eq(r.retry_after, want[i], 1e-6, "%s", set->items[i].name);
    }
    int64_t end;
    int64_t idx = aigw__window_index(AIGW__PER_MONTH, 951782400LL * S, &end); /* 2000-02-29 */
    cr_assert_eq(idx, 30 * 12 + 1);
    cr_assert_eq(end, 951868800LL * S);                                /* 2000-03-01 */
    idx = aigw__window_index(AIGW__PER_MONTH, 1767225599LL * S, &end); /* 2025-12-31 23:59:59 */
    cr_assert_eq(idx, 55 * 12 + 11);
    cr_assert_eq(end, 1767225600LL * S);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_memory, reserve_is_all_or_nothing) {
    aigw__budget_set *set = budgets(
        "[{\"name\":\"big\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":100,"
        "\"refill_per_second\":0}},"
        " {\"name\":\"small\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
        "\"max\":10}}]");
    aigw__store *s = memory();
    aigw__store_key keys[2] = {{&set->items[0], ""}, {&set->items[1], ""}};
    aigw__hold h[2];
    aigw__refusal r;
    int64_t now = 5000 * S;
    int64_t a[2] = {8 * U, 8 * U};
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_OK);
    /* small has 2 left: refused, and big must not lose anything. */
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_eq(r.index, 1);
    cr_assert_eq(remaining(s, &set->items[0], now), 92 * U);
    cr_assert_eq(remaining(s, &set->items[1], now), 2 * U);
    /* And the other way round: big refuses, small untouched. */
    int64_t b[2] = {93 * U, 1 * U};
    cr_assert_eq(aigw__store_reserve(s, keys, b, 2, now, h, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_eq(r.index, 0);
    cr_assert_eq(r.retry_after, -1); /* no refill: never */
    cr_assert_eq(remaining(s, &set->items[1], now), 2 * U);
    /* Instances of one budget are separate counters. */
    aigw__store_key inst[2] = {{&set->items[1], "alice|"}, {&set->items[1], "bob|"}};
    int64_t ten[2] = {10 * U, 10 * U};
    cr_assert_eq(aigw__store_reserve(s, inst, ten, 2, now, h, &r, NULL), AIGW_OK);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_memory, settle_refunds_and_charges) {
    aigw__budget_set *set = budgets(
        "[{\"name\":\"b\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":100,"
        "\"refill_per_second\":0}},"
        " {\"name\":\"w\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"minute\","
        "\"max\":100}}]");
    aigw__store *s = memory();
    aigw__store_key keys[2] = {{&set->items[0], ""}, {&set->items[1], ""}};
    aigw__hold h[2];
    aigw__refusal r;
    int64_t now = JAN31_2359;
    int64_t est[2] = {50 * U, 50 * U};
    cr_assert_eq(aigw__store_reserve(s, keys, est, 2, now, h, &r, NULL), AIGW_OK);
    int64_t actual[2] = {20 * U, 70 * U}; /* refund 30 in b, charge 20 more in w */
    cr_assert_eq(aigw__store_settle(s, keys, h, actual, 2, now + S, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[0], now + S), 80 * U);
    cr_assert_eq(remaining(s, &set->items[1], now + S), 30 * U);
    /* Failed upstream call: settle with 0 refunds everything. */
    cr_assert_eq(aigw__store_reserve(s, keys, est, 2, now + S, h, &r, NULL), AIGW_ERATELIMIT);
    int64_t e2[2] = {30 * U, 30 * U};
    cr_assert_eq(aigw__store_reserve(s, keys, e2, 2, now + S, h, &r, NULL), AIGW_OK);
    int64_t zero[2] = {0, 0};
    cr_assert_eq(aigw__store_settle(s, keys, h, zero, 2, now + S, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[0], now + S), 80 * U);
    cr_assert_eq(remaining(s, &set->items[1], now + S), 30 * U);
    /* An overrun goes into debt: the next reservation waits. */
    cr_assert_eq(aigw__store_reserve(s, keys, e2, 2, now + S, h, &r, NULL), AIGW_OK);
    int64_t big[2] = {90 * U, 40 * U};
    cr_assert_eq(aigw__store_settle(s, keys, h, big, 2, now + S, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[0], now + S), -10 * U);
    cr_assert_eq(remaining(s, &set->items[1], now + S), -10 * U);
    int64_t one[2] = {1, 1};
    cr_assert_eq(aigw__store_reserve(s, keys, one, 2, now + S, h, &r, NULL), AIGW_ERATELIMIT);
    /* A settle after its window ended refunds nothing into the new window
     * and charges any excess there. */
    int64_t w = now + 60 * S; /* next minute */
    aigw__store_key wk = {&set->items[1], ""};
    int64_t ten = 10 * U;
    cr_assert_eq(aigw__store_reserve(s, &wk, &ten, 1, w - 1, h, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_eq(remaining(s, &set->items[1], w), 100 * U);
    /* A clock stepping back does not reopen the old window. */
    aigw__hold old;
    int64_t five = 5 * U;
    cr_assert_eq(aigw__store_reserve(s, &wk, &five, 1, now + 2 * S, &old, &r, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[1], w), 95 * U);
    /* reserve in window N, settle in N+1 */
    aigw__hold hn;
    cr_assert_eq(aigw__store_reserve(s, &wk, &ten, 1, w + 59 * S, &hn, &r, NULL), AIGW_OK);
    int64_t less = 4 * U, more = 25 * U;
    cr_assert_eq(aigw__store_settle(s, &wk, &hn, &less, 1, w + 60 * S, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[1], w + 60 * S), 100 * U);
    cr_assert_eq(aigw__store_reserve(s, &wk, &ten, 1, w + 119 * S, &hn, &r, NULL), AIGW_OK);
    cr_assert_eq(aigw__store_settle(s, &wk, &hn, &more, 1, w + 120 * S, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[1], w + 120 * S), 85 * U);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

/* ---- 64 threads ---- */

#define THREADS 64
#define PER_THREAD 3000

typedef struct race {
    aigw__store *s;
    aigw__store_key keys[3];
    _Atomic long long admitted_a, admitted_b, charged_a, charged_b;
    atomic_int go;
} race;

static void *racer(void *arg) {
    race *rc = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (!atomic_load(&rc->go))
        ;
    for (int i = 0; i < PER_THREAD; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t amt = (int64_t)(1 + (seed >> 16) % 7) * U;
        int64_t amounts[3] = {amt, amt, amt};
        aigw__hold h[3];
        aigw__refusal r;
        /* alternate which budgets a request hits and in which order */
        aigw__store_key keys[3];
        size_t n = (seed >> 8) % 2 ? 3 : 2;
        keys[0] = rc->keys[(seed >> 4) % 2 ? 0 : 1];
        keys[1] = rc->keys[(seed >> 4) % 2 ? 1 : 0];
        keys[2] = rc->keys[2];
        if (aigw__store_reserve(rc->s, keys, amounts, n, 10 * S, h, &r, NULL) != AIGW_OK)
            continue;
        atomic_fetch_add(&rc->admitted_a, amt);
        /* settle with a smaller actual cost half the time */
        int64_t act = (seed >> 20) % 2 ? amt : amt / 2;
        int64_t actual[3] = {act, act, act};
        cr_assert_eq(aigw__store_settle(rc->s, keys, h, actual, n, 10 * S, NULL), AIGW_OK);
        atomic_fetch_add(&rc->charged_a, act);
    }
    return NULL;
}

Test(store_memory, sixty_four_threads_never_exceed_the_limit) {
    aigw__budget_set *set = budgets(
        "[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":50000,"
        "\"refill_per_second\":0}},"
        " {\"name\":\"b\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
        "\"max\":50000}},"
        " {\"name\":\"c\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
        "\"max\":1000000}}]");
    race rc = {.s = memory()};
    for (int i = 0; i < 3; i++)
        rc.keys[i] = (aigw__store_key){&set->items[i], ""};
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, racer, &rc), 0);
    atomic_store(&rc.go, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    long long charged = atomic_load(&rc.charged_a);
    /* Every admitted request is in both a and b; the charges are exact and
     * never exceed the capacity. */
    cr_assert_leq(charged, 50000 * U);
    cr_assert_eq(remaining(rc.s, &set->items[0], 10 * S), 50000 * U - charged);
    cr_assert_eq(remaining(rc.s, &set->items[1], 10 * S), 50000 * U - charged);
    /* With 192000 attempts of ~4 units against 50000, the budget filled:
     * less than the largest request (7) is left. */
    cr_assert_lt(50000 * U - charged, 7 * U, "left %lld", 50000 * U - charged);
    aigw__store_free(rc.s);
    aigw__budgets_free(set);
}

/* ---- bounded: idle counters are evicted, at most max_counters ---- */

/* This process's resident set, bytes. */
static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * 4096;
}

static aigw__store *capped(size_t max) {
    aigw__store *s = NULL;
    cr_assert_eq(aigw__store_memory_new_capped(max, &s, NULL), AIGW_OK);
    return s;
}

static aigw_status reserve_user(aigw__store *s, const aigw__budget *b, int user, int64_t amount,
                                int64_t now, aigw__hold *h, aigw__refusal *r) {
    char inst[32];
    snprintf(inst, sizeof inst, "user-%d|", user);
    aigw__store_key k = {b, inst};
    memset(r, 0, sizeof *r);
    return aigw__store_reserve(s, &k, &amount, 1, now, h, r, NULL);
}

static int64_t user_remaining(aigw__store *s, const aigw__budget *b, int user, int64_t now) {
    char inst[32];
    snprintf(inst, sizeof inst, "user-%d|", user);
    aigw__store_key k = {b, inst};
    aigw__budget_status st;
    cr_assert_eq(aigw__store_status(s, &k, now, &st, NULL), AIGW_OK);
    return st.remaining;
}

Test(store_memory, two_hundred_thousand_users_stay_under_the_cap) {
    /* Per-user buckets that refill in 1 s: a user seen once is idle (full
     * again) a second later, and may be evicted. */
    aigw__budget_set *set = budgets(
        "[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},\"cost\":\"1\",\"limit\":{\"type\":"
        "\"token_bucket\",\"capacity\":10,\"refill_per_second\":10}}]");
    const aigw__budget *b = &set->items[0];
    aigw__store *s = capped(10000);
    long long rss0 = rss_bytes();
    int64_t now = 1000 * S;
    aigw__store_stats st;
    for (int u = 0; u < 200000; u++) {
        aigw__hold h;
        aigw__refusal r;
        now += S / 1000; /* 1 ms a request: 200 s in all */
        cr_assert_eq(reserve_user(s, b, u, 3 * U, now, &h, &r), AIGW_OK, "user %d", u);
        aigw__store_key k = {b, "x"};
        cr_assert_eq(aigw__store_settle(s, &k, &h, (int64_t[]){2 * U}, 1, now, NULL), AIGW_OK);
        if (u % 10000 == 0) {
            aigw__store_get_stats(s, &st);
            cr_assert_leq(st.counters, 10000, "%llu counters at user %d", st.counters, u);
        }
    }
    aigw__store_get_stats(s, &st);
    cr_expect_leq(st.counters, 10000, "%llu counters", st.counters);
    cr_expect_geq(st.evictions, 190000, "%llu evictions", st.evictions);
    cr_expect_eq(st.refusals, 0);
    long long grown = rss_bytes() - rss0;
    /* 200,000 counters kept would be ~60 MB; 10,000 are ~3 MB (AddressSanitizer
     * keeps freed memory in quarantine: no bound there) */
    if (AIGW_TEST_ASAN)
        cr_log_info("RSS grew by %lld MB (not checked under AddressSanitizer)", grown >> 20);
    else
        cr_expect_lt(grown, 24LL << 20, "RSS grew by %lld MB", grown >> 20);
    /* an evicted user starts afresh: a full bucket */
    cr_expect_eq(user_remaining(s, b, 0, now), 10 * U);
    /* the last one still holds its charge (2 of 10, 0 ms ago) */
    cr_expect_eq(user_remaining(s, b, 199999, now), 8 * U);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_memory, past_the_cap_with_none_idle_new_counters_fail_as_a_store_error) {
    aigw__budget_set *set = budgets(
        "[{\"name\":\"closed\",\"scope\":{\"user\":\"*\"},\"cost\":\"1\",\"limit\":{\"type\":"
        "\"window\",\"per\":\"minute\",\"max\":10}},"
        " {\"name\":\"open\",\"scope\":{\"user\":\"*\"},\"cost\":\"1\",\"limit\":{\"type\":"
        "\"window\",\"per\":\"minute\",\"max\":10},\"on_store_error\":\"fail_open\"}]");
    const aigw__budget *closed = &set->items[0], *open = &set->items[1];
    aigw__store *s = capped(100);
    int64_t t0 = JAN31_2359; /* the start of a minute */
    aigw__hold h;
    aigw__refusal r;
    for (int u = 0; u < 100; u++) { /* 100 counters, charged in this minute: none idle */
        cr_assert_eq(reserve_user(s, closed, u, 1 * U, t0, &h, &r), AIGW_OK);
        aigw__store_key k = {closed, ""};
        cr_assert_eq(aigw__store_settle(s, &k, &h, (int64_t[]){1 * U}, 1, t0, NULL), AIGW_OK);
    }
    /* fail_closed: refused as a store failure, naming the cap */
    cr_assert_eq(reserve_user(s, closed, 100, 1 * U, t0 + S, &h, &r), AIGW_ERATELIMIT);
    cr_expect_eq(r.store_error, 1);
    cr_expect(strstr(r.why, "max_counters"), "%s", r.why);
    /* fail_open: admitted unmetered (its hold skipped, nothing charged) */
    cr_assert_eq(reserve_user(s, open, 100, 1 * U, t0 + S, &h, &r), AIGW_OK);
    cr_expect_eq(h.skipped, 1);
    cr_expect(strstr(r.why, "max_counters"), "%s", r.why);
    aigw__store_key k = {open, "user-100|"};
    cr_expect_eq(aigw__store_settle(s, &k, &h, (int64_t[]){5 * U}, 1, t0 + S, NULL), AIGW_OK);
    /* the existing counters still count */
    cr_assert_eq(reserve_user(s, closed, 7, 1 * U, t0 + S, &h, &r), AIGW_OK);
    cr_expect_eq(user_remaining(s, closed, 7, t0 + S), 8 * U);
    aigw__store_key k7 = {closed, ""};
    cr_assert_eq(aigw__store_settle(s, &k7, &h, (int64_t[]){1 * U}, 1, t0 + S, NULL), AIGW_OK);
    aigw__store_stats st;
    aigw__store_get_stats(s, &st);
    cr_expect_eq(st.counters, 100);
    cr_expect_eq(st.refusals, 2);
    /* a minute later every window ended: all idle, new counters are made */
    int64_t t1 = t0 + 60 * S;
    cr_assert_eq(reserve_user(s, closed, 100, 1 * U, t1 + 200000000LL, &h, &r), AIGW_OK);
    cr_expect_eq(user_remaining(s, closed, 100, t1 + 200000000LL), 9 * U);
    aigw__store_get_stats(s, &st);
    cr_expect_leq(st.counters, 100);
    cr_expect_gt(st.evictions, 0);
    /* an evicted counter is a fresh one */
    cr_expect_eq(user_remaining(s, closed, 3, t1 + S), 10 * U);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_memory, a_held_counter_is_never_evicted) {
    aigw__budget_set *set =
        budgets("[{\"name\":\"w\",\"scope\":{\"user\":\"*\"},\"cost\":\"1\",\"limit\":{\"type\":"
                "\"window\",\"per\":\"minute\",\"max\":10}}]");
    const aigw__budget *b = &set->items[0];
    aigw__store *s = capped(4);
    int64_t t0 = JAN31_2359;
    aigw__hold held, h;
    aigw__refusal r;
    cr_assert_eq(reserve_user(s, b, 0, 4 * U, t0, &held, &r), AIGW_OK);
    /* the window ends; user 0's counter is idle by its state but held */
    int64_t t1 = t0 + 60 * S;
    for (int u = 1; u < 50; u++) {
        cr_assert_eq(reserve_user(s, b, u, 1 * U, t1 + u * 2 * S, &h, &r), AIGW_OK, "user %d", u);
        aigw__store_key k = {b, ""};
        cr_assert_eq(aigw__store_settle(s, &k, &h, (int64_t[]){0}, 1, t1 + u * 2 * S, NULL),
                     AIGW_OK);
    }
    /* settled late with more than reserved: the excess goes to the current
     * window of the very counter it held */
    aigw__store_key k = {b, "user-0|"};
    int64_t t2 = t1 + 30 * S;
    cr_assert_eq(aigw__store_settle(s, &k, &held, (int64_t[]){6 * U}, 1, t2, NULL), AIGW_OK);
    cr_expect_eq(user_remaining(s, b, 0, t2), 8 * U);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

/* Threads churning through distinct users at the cap (evicting) while
 * others reserve and settle in shared counters found without a lock: no
 * use after free (ASan/valgrind runs), and the shared counter stays exact. */
typedef struct churn {
    aigw__store *s;
    const aigw__budget *shared, *per_user;
    int id;
    _Atomic int64_t *spent;
} churn;

static void *churn_main(void *arg) {
    churn *c = arg;
    aigw__hold h[2];
    aigw__refusal r;
    for (int i = 0; i < 20000; i++) {
        char inst[32];
        snprintf(inst, sizeof inst, "t%d-u%d|", c->id, i);
        aigw__store_key k[2] = {{c->shared, ""}, {c->per_user, inst}};
        int64_t now = 1000 * S + (int64_t)i * S / 100; /* 10 ms a request */
        int64_t amt[2] = {2 * U, 1 * U};
        aigw_status st = aigw__store_reserve(c->s, k, amt, 2, now, h, &r, NULL);
        if (st == AIGW_OK) {
            cr_assert_eq(aigw__store_settle(c->s, k, h, (int64_t[]){1 * U, 1 * U}, 2, now, NULL),
                         AIGW_OK);
            atomic_fetch_add(c->spent, 1 * U);
        } else {
            cr_assert_eq(st, AIGW_ERATELIMIT);
        }
    }
    return NULL;
}

Test(store_memory, eviction_under_concurrent_lookups_is_safe_and_exact) {
    aigw__budget_set *set =
        budgets("[{\"name\":\"shared\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\","
                "\"capacity\":1000000,\"refill_per_second\":0}},"
                " {\"name\":\"u\",\"scope\":{\"user\":\"*\"},\"cost\":\"1\",\"limit\":{\"type\":"
                "\"token_bucket\",\"capacity\":1,\"refill_per_second\":100},"
                "\"on_store_error\":\"fail_open\"}]");
    aigw__store *s = capped(500);
    _Atomic int64_t spent = 0;
    pthread_t th[4];
    churn cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = (churn){s, &set->items[0], &set->items[1], i, &spent};
        cr_assert_eq(pthread_create(&th[i], NULL, churn_main, &cs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    aigw__store_stats st;
    aigw__store_get_stats(s, &st);
    cr_expect_leq(st.counters, 500);
    cr_expect_gt(st.evictions, 0);
    cr_expect_eq(remaining(s, &set->items[0], 2000 * S), 1000000 * U - atomic_load(&spent));
    aigw__store_free(s);
    aigw__budgets_free(set);
}
