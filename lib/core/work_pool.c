/* SPDX-License-Identifier: Apache-2.0 */
/* The library's own thread pools (core/work_pool.h): per lane a FIFO queue
 * under a mutex and a few detached threads, started on first use and kept
 * for the life of the process (as libuv keeps its own pool). */
#include "core/work_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/alloc.h"

enum { WORK_QUEUED = 1, WORK_RUNNING, WORK_DONE };

#define WORK_THREADS_DEFAULT 4
#define WORK_THREADS_MAX 64

struct aigw__work_port {
    uv_async_t async; /* async.data == this port */
    /* Steps queued and not yet delivered, on the loop's thread: the handle
     * keeps the loop alive only while there are some, as uv_queue_work's
     * requests do. */
    size_t outstanding;
    pthread_mutex_t lock;
    aigw__work *done_head, *done_tail;
};

typedef struct lane {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    aigw__work *head, *tail;
    unsigned started; /* threads running */
} lane;

static lane lanes[AIGW__LANE_COUNT] = {
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0},
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0},
};

static unsigned threads_per_lane;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

static void read_threads(void) {
    threads_per_lane = WORK_THREADS_DEFAULT;
    const char *v = getenv("AIGW_WORK_THREADS");
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*end && n >= 1 && n <= WORK_THREADS_MAX)
            threads_per_lane = (unsigned)n;
    }
}

unsigned aigw__work_threads(void) {
    pthread_once(&threads_once, read_threads);
    return threads_per_lane;
}

/* Hands a finished (or canceled) step back to its loop. */
static void port_post(aigw__work *w) {
    aigw__work_port *p = w->port;
    w->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->done_tail)
        p->done_tail->next = w;
    else
        p->done_head = w;
    p->done_tail = w;
    pthread_mutex_unlock(&p->lock);
    uv_async_send(&p->async);
}

static void on_port_async(uv_async_t *h) {
    aigw__work_port *p = h->data;
    pthread_mutex_lock(&p->lock);
    aigw__work *w = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    while (w) {
        aigw__work *next = w->next; /* `after` may reuse or free w */
        if (--p->outstanding == 0)
            uv_unref((uv_handle_t *)&p->async);
        w->after(w, w->status);
        w = next;
    }
}

static void *lane_thread(void *arg) {
    lane *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->head)
            pthread_cond_wait(&l->ready, &l->lock);
        aigw__work *w = l->head;
        if (!(l->head = w->next))
            l->tail = NULL;
        w->state = WORK_RUNNING;
        pthread_mutex_unlock(&l->lock);
        w->work(w);
        pthread_mutex_lock(&l->lock);
        w->state = WORK_DONE;
        w->status = 0;
        pthread_mutex_unlock(&l->lock);
        port_post(w);
        pthread_mutex_lock(&l->lock);
    }
    return NULL;
}

/* Starts the lane's threads if it has none; with its lock held. */
static int lane_start(lane *l) {
    unsigned want = aigw__work_threads();
    while (l->started < want) {
        pthread_attr_t attr;
        pthread_t t;
        if (pthread_attr_init(&attr))
            break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, lane_thread, l);
        pthread_attr_destroy(&attr);
        if (rc)
            break;
        l->started++;
    }
    return l->started ? 0 : UV_EAGAIN;
}

aigw_status aigw__work_port_new(uv_loop_t *loop, aigw__work_port **out) {
    aigw__work_port *p = aigw__calloc(1, sizeof *p);
    if (!p)
        return AIGW_ENOMEM;
    if (pthread_mutex_init(&p->lock, NULL)) {
        aigw__free(p);
        return AIGW_ENOMEM;
    }
    if (uv_async_init(loop, &p->async, on_port_async)) {
        pthread_mutex_destroy(&p->lock);
        aigw__free(p);
        return AIGW_EINTERNAL;
    }
    p->async.data = p;
    uv_unref((uv_handle_t *)&p->async);
    *out = p;
    return AIGW_OK;
}

static void on_port_closed(uv_handle_t *h) {
    aigw__work_port *p = h->data;
    pthread_mutex_destroy(&p->lock);
    aigw__free(p);
}

void aigw__work_port_close(aigw__work_port *port) {
    if (port)
        uv_close((uv_handle_t *)&port->async, on_port_closed);
}

int aigw__work_queue(aigw__work_port *port, aigw__work_lane lane_id, aigw__work *w,
                     aigw__work_fn work, aigw__after_work_fn after) {
    lane *l = &lanes[lane_id];
    w->work = work;
    w->after = after;
    w->port = port;
    w->lane = (int)lane_id;
    w->next = NULL;
    w->status = 0;
    pthread_mutex_lock(&l->lock);
    int rc = lane_start(l);
    if (!rc) {
        w->state = WORK_QUEUED;
        if (l->tail)
            l->tail->next = w;
        else
            l->head = w;
        l->tail = w;
        pthread_cond_signal(&l->ready);
    }
    pthread_mutex_unlock(&l->lock);
    if (!rc && port->outstanding++ == 0)
        uv_ref((uv_handle_t *)&port->async);
    return rc;
}

int aigw__work_cancel(aigw__work *w) {
    lane *l = &lanes[w->lane];
    pthread_mutex_lock(&l->lock);
    if (w->state != WORK_QUEUED) {
        pthread_mutex_unlock(&l->lock);
        return UV_EBUSY;
    }
    aigw__work **pp = &l->head, *prev = NULL;
    while (*pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = w->next;
    if (l->tail == w)
        l->tail = prev;
    w->state = WORK_DONE;
    w->status = UV_ECANCELED;
    pthread_mutex_unlock(&l->lock);
    port_post(w);
    return 0;
}
