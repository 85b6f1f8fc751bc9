/* SPDX-License-Identifier: Apache-2.0 */
/* Outlier ejection (lib/router/health.c) on a fake clock: eject after N
 * failures, half-open probe, re-ejection for longer, recovery, and many
 * threads reporting at once. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "aigw/error.h"
#include "router/health.h"

static _Atomic uint64_t fake_now;
static uint64_t fake_clock(void *ctx) {
    (void)ctx;
    return atomic_load(&fake_now);
}

static const char *const names[] = {"azure", "openai"};

static aigw__health *new_health(unsigned threshold) {
    aigw__health_options o = {.failure_threshold = threshold, .clock = fake_clock};
    aigw__health *h = NULL;
    cr_assert_eq(aigw__health_new(&h, names, 2, &o, NULL), AIGW_OK);
    return h;
}

static void fail(aigw__health *h, const char *name) {
    aigw__health_ticket t = aigw__health_begin(h, name, 0);
    cr_assert_eq(t, AIGW__TICKET_NORMAL);
    aigw__health_report(h, name, t, 0);
}

static aigw__health_state state(aigw__health *h, const char *name) {
    return aigw__health_state_of(h, name, NULL);
}

Test(health, ejects_after_n_consecutive_failures_default_5) {
    fake_now = 1000;
    aigw__health *h = new_health(0);
    for (int i = 0; i < 4; i++)
        fail(h, "azure");
    cr_expect_eq(state(h, "azure"), AIGW__HEALTH_HEALTHY);
    /* A success resets the count. */
    aigw__health_report(h, "azure", aigw__health_begin(h, "azure", 0), 1);
    for (int i = 0; i < 4; i++)
        fail(h, "azure");
    cr_expect_eq(state(h, "azure"), AIGW__HEALTH_HEALTHY);
    fail(h, "azure");
    uint64_t until = 0;
    cr_expect_eq(aigw__health_state_of(h, "azure", &until), AIGW__HEALTH_EJECTED);
    cr_expect_eq(until, 1000 + 10000);
    cr_expect_eq(aigw__health_begin(h, "azure", 0), AIGW__TICKET_DENIED);
    cr_expect_eq(state(h, "openai"), AIGW__HEALTH_HEALTHY);
    cr_expect_eq(state(h, "unknown"), AIGW__HEALTH_HEALTHY);
    cr_expect_eq(aigw__health_begin(h, "unknown", 0), AIGW__TICKET_NORMAL);
    aigw__health_free(h);
}

Test(health, timeline_probe_reeject_longer_recover) {
    fake_now = 50000;
    aigw__health *h = new_health(3);
    for (int i = 0; i < 3; i++)
        fail(h, "azure");
    uint64_t until;
    cr_assert_eq(aigw__health_state_of(h, "azure", &until), AIGW__HEALTH_EJECTED);
    cr_expect_eq(until, 60000);

    /* Late results of requests sent before the ejection change nothing. */
    aigw__health_report(h, "azure", AIGW__TICKET_NORMAL, 1);
    aigw__health_report(h, "azure", AIGW__TICKET_NORMAL, 0);
    cr_assert_eq(aigw__health_state_of(h, "azure", &until), AIGW__HEALTH_EJECTED);
    cr_expect_eq(until, 60000);

    fake_now = 59999;
    cr_expect_eq(aigw__health_begin(h, "azure", 0), AIGW__TICKET_DENIED);
    fake_now = 60000;
    cr_expect_eq(state(h, "azure"), AIGW__HEALTH_HALF_OPEN);
    /* One probe at a time. */
    aigw__health_ticket probe = aigw__health_begin(h, "azure", 0);
    cr_expect_eq(probe, AIGW__TICKET_PROBE);
    cr_expect_eq(state(h, "azure"), AIGW__HEALTH_PROBING);
    cr_expect_eq(aigw__health_begin(h, "azure", 0), AIGW__TICKET_DENIED);
    /* The probe fails: ejected for 20 s. */
    fake_now = 60100;
    aigw__health_report(h, "azure", probe, 0);
    cr_assert_eq(aigw__health_state_of(h, "azure", &until), AIGW__HEALTH_EJECTED);
    cr_expect_eq(until, 80100);
    /* Again: 40 s, 80 s, 160 s, then capped at 300 s. */
    const uint64_t expect[] = {40000, 80000, 160000, 300000, 300000};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        fake_now = until;
        probe = aigw__health_begin(h, "azure", 0);
        cr_assert_eq(probe, AIGW__TICKET_PROBE);
        aigw__health_report(h, "azure", probe, 0);
        uint64_t next;
        cr_assert_eq(aigw__health_state_of(h, "azure", &next), AIGW__HEALTH_EJECTED);
        cr_expect_eq(next - until, expect[i], "step %zu: %llu", i,
                     (unsigned long long)(next - until));
        until = next;
    }
    /* A successful probe: healthy, and the interval starts over. */
    fake_now = until;
    probe = aigw__health_begin(h, "azure", 0);
    cr_assert_eq(probe, AIGW__TICKET_PROBE);
    aigw__health_report(h, "azure", probe, 1);
    cr_expect_eq(state(h, "azure"), AIGW__HEALTH_HEALTHY);
    cr_expect_eq(aigw__health_begin(h, "azure", 0), AIGW__TICKET_NORMAL);
    for (int i = 0; i < 3; i++)
        fail(h, "azure");
    cr_assert_eq(aigw__health_state_of(h, "azure", &until), AIGW__HEALTH_EJECTED);
    cr_expect_eq(until - fake_now, 10000);
    aigw__health_free(h);
}

Test(health, abandoned_and_lost_probes_free_the_slot) {
    fake_now = 1;
    aigw__health_options o = {.failure_threshold = 1,
                              .base_eject_ms = 1000,
                              .max_eject_ms = 4000,
                              .probe_timeout_ms = 5000,
                              .clock = fake_clock};
    aigw__health *h = NULL;
    cr_assert_eq(aigw__health_new(&h, names, 2, &o, NULL), AIGW_OK);
    fail(h, "openai");
    fake_now = 1001;
    aigw__health_ticket p = aigw__health_begin(h, "openai", 0);
    cr_assert_eq(p, AIGW__TICKET_PROBE);
    aigw__health_abandon(h, "openai", p);
    p = aigw__health_begin(h, "openai", 0);
    cr_assert_eq(p, AIGW__TICKET_PROBE);
    /* Never reported: after the probe timeout another probe may go. */
    fake_now = 1001 + 4999;
    cr_expect_eq(aigw__health_begin(h, "openai", 0), AIGW__TICKET_DENIED);
    fake_now = 1001 + 5000;
    cr_expect_eq(aigw__health_begin(h, "openai", 0), AIGW__TICKET_PROBE);
    aigw__health_free(h);
}

Test(health, null_tracker_is_always_healthy) {
    cr_expect_eq(aigw__health_state_of(NULL, "x", NULL), AIGW__HEALTH_HEALTHY);
    cr_expect_eq(aigw__health_begin(NULL, "x", 0), AIGW__TICKET_NORMAL);
    aigw__health_report(NULL, "x", AIGW__TICKET_NORMAL, 0);
    aigw__health_abandon(NULL, "x", AIGW__TICKET_PROBE);
    aigw__health_free(NULL);
}

/* ---- many threads ---- */

#define THREADS 8
#define ROUNDS 20000

static aigw__health *shared;
static atomic_int probes_granted;

static void *worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        const char *name = names[(id + (uintptr_t)i) % 2];
        aigw__health_ticket t = aigw__health_begin(shared, name, i % 7 == 0);
        if (t == AIGW__TICKET_PROBE)
            atomic_fetch_add(&probes_granted, 1);
        if (t != AIGW__TICKET_DENIED)
            aigw__health_report(shared, name, t, (i + (int)id) % 5 == 0);
        (void)aigw__health_state_of(shared, name, NULL);
        if (id == 0 && i % 100 == 0)
            atomic_fetch_add(&fake_now, 1000);
    }
    return NULL;
}

Test(health, concurrent_reports) {
    fake_now = 1;
    aigw__health_options o = {.failure_threshold = 3, .base_eject_ms = 500, .clock = fake_clock};
    cr_assert_eq(aigw__health_new(&shared, names, 2, &o, NULL), AIGW_OK);
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_expect_gt(atomic_load(&probes_granted), 0);
    /* Whatever happened, a successful probe or forced request heals it. */
    atomic_fetch_add(&fake_now, 10000000);
    for (int i = 0; i < 2; i++) {
        aigw__health_ticket t = aigw__health_begin(shared, names[i], 1);
        cr_expect_neq(t, AIGW__TICKET_DENIED);
        aigw__health_report(shared, names[i], t, 1);
        cr_expect_eq(aigw__health_state_of(shared, names[i], NULL), AIGW__HEALTH_HEALTHY);
    }
    aigw__health_free(shared);
}
