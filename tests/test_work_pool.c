/* SPDX-License-Identifier: Apache-2.0 */
/* The library's own thread pools (core/work_pool.c): steps run off the
 * loop and come back to it, a canceled step reports UV_ECANCELED, the loop
 * is kept alive only while steps are outstanding, and a lane whose every
 * thread is stuck (a frozen Redis) holds up neither the other lane nor
 * libuv's default pool, which the application and the server share. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "core/work_pool.h"

typedef struct step {
    aigw__work work;
    pthread_t loop_thread;
    int ran, after_status, after_calls, after_on_loop;
} step;

static void run_step(aigw__work *w) {
    step *s = w->data;
    s->ran = 1;
}

static void after_step(aigw__work *w, int status) {
    step *s = w->data;
    s->after_status = status;
    s->after_calls++;
    s->after_on_loop = pthread_equal(pthread_self(), s->loop_thread);
}

Test(work_pool, steps_run_off_the_loop_and_come_back_to_it) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    aigw__work_port *port = NULL;
    cr_assert_eq(aigw__work_port_new(&loop, &port), AIGW_OK);
    step steps[50] = {0};
    for (int i = 0; i < 50; i++) {
        steps[i].work.data = &steps[i];
        steps[i].loop_thread = pthread_self();
        cr_assert_eq(aigw__work_queue(port, i % 2 ? AIGW__LANE_STORE : AIGW__LANE_CREDENTIALS,
                                      &steps[i].work, run_step, after_step),
                     0);
    }
    /* uv_run returns once every step came back: the port keeps the loop
     * alive only while steps are outstanding. */
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 50; i++) {
        cr_assert(steps[i].ran);
        cr_assert_eq(steps[i].after_calls, 1);
        cr_assert_eq(steps[i].after_status, 0);
        cr_assert(steps[i].after_on_loop);
    }
    aigw__work_port_close(port);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* Every thread of the store lane blocks until released. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;
static atomic_int blocked;

static void blocking_step(aigw__work *w) {
    step *s = w->data;
    atomic_fetch_add(&blocked, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    s->ran = 1;
}

typedef struct probe {
    uv_loop_t *loop;
    aigw__work_port *port;
    step cred, *queued_behind;
    uv_work_t default_pool;
    int default_pool_done, cred_done;
} probe;

static void default_pool_work(uv_work_t *w) {
    (void)w;
}

static void open_gate_when_both_done(probe *p) {
    if (p->default_pool_done && p->cred_done) {
        /* the waiting store step can still be canceled: it never started */
        cr_assert_eq(aigw__work_cancel(&p->queued_behind->work), 0);
        pthread_mutex_lock(&gate_lock);
        gate_open = 1;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
    }
}

static void default_pool_after(uv_work_t *w, int status) {
    probe *p = w->data;
    cr_assert_eq(status, 0);
    p->default_pool_done = 1;
    open_gate_when_both_done(p);
}

static void cred_after(aigw__work *w, int status) {
    probe *p = w->data;
    cr_assert_eq(status, 0);
    p->cred_done = 1;
    open_gate_when_both_done(p);
}

static void cred_step(aigw__work *w) {
    (void)w;
}

Test(work_pool, a_stuck_lane_holds_up_neither_the_other_lane_nor_libuvs_pool, .timeout = 60) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    aigw__work_port *port = NULL;
    cr_assert_eq(aigw__work_port_new(&loop, &port), AIGW_OK);
    unsigned n = aigw__work_threads();
    step stuck[64 + 1];
    memset(stuck, 0, sizeof stuck);
    /* one more than the lane has threads: the last one waits in the queue */
    for (unsigned i = 0; i <= n; i++) {
        stuck[i].work.data = &stuck[i];
        stuck[i].loop_thread = pthread_self();
        cr_assert_eq(
            aigw__work_queue(port, AIGW__LANE_STORE, &stuck[i].work, blocking_step, after_step), 0);
    }
    while (atomic_load(&blocked) < (int)n) /* every store thread is stuck */
        uv_sleep(1);

    probe p = {.loop = &loop, .port = port, .queued_behind = &stuck[n]};
    p.cred.work.data = &p;
    cr_assert_eq(
        aigw__work_queue(port, AIGW__LANE_CREDENTIALS, &p.cred.work, cred_step, cred_after), 0);
    p.default_pool.data = &p;
    cr_assert_eq(uv_queue_work(&loop, &p.default_pool, default_pool_work, default_pool_after), 0);

    /* Without isolation this would never return: the gate opens only after
     * the credential step and libuv's own work both came back. */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert(p.cred_done && p.default_pool_done);
    for (unsigned i = 0; i < n; i++) {
        cr_assert(stuck[i].ran);
        cr_assert_eq(stuck[i].after_status, 0);
    }
    cr_assert_not(stuck[n].ran, "a canceled step never runs");
    cr_assert_eq(stuck[n].after_calls, 1);
    cr_assert_eq(stuck[n].after_status, UV_ECANCELED);
    cr_assert_eq(aigw__work_cancel(&stuck[0].work), UV_EBUSY, "a finished step is not canceled");
    aigw__work_port_close(port);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
