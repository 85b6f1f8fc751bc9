/* The libuv glue for libcurl's multi_socket interface (see uv_multi.h). */
#include "transport/uv_multi.h"

#include "core/alloc.h"

/* One socket curl asked us to watch. */
typedef struct poller {
    uv_poll_t handle; /* handle.data == this poller */
    aigw__uv_multi *m;
    struct poller *prev, *next; /* the multi's open pollers */
} poller;

struct aigw__uv_multi {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* timer.data == this multi */
    poller *pollers;
    size_t open_handles; /* the timer and every poller not yet through its close callback */
    size_t running;      /* transfers added and not finished or removed */
    int depth;           /* nesting of drive() */
    int close_pending;   /* aigw__uv_multi_close during a dispatch */
    int closed;
    aigw__uv_multi_done_fn done;
    void *user;
};

static void handle_gone(aigw__uv_multi *m) {
    if (--m->open_handles == 0 && m->closed)
        aigw__free(m);
}

static void on_poller_closed(uv_handle_t *h) {
    poller *p = h->data;
    aigw__uv_multi *m = p->m;
    aigw__free(p);
    handle_gone(m);
}

static void poller_close(poller *p) {
    aigw__uv_multi *m = p->m;
    if (p->prev)
        p->prev->next = p->next;
    else
        m->pollers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    uv_poll_stop(&p->handle);
    uv_close((uv_handle_t *)&p->handle, on_poller_closed);
}

static void on_timer_closed(uv_handle_t *h) {
    handle_gone(h->data);
}

static void do_close(aigw__uv_multi *m) {
    m->closed = 1;
    /* Closing cached connections may call on_socket (CURL_POLL_REMOVE) and
     * on_curl_timer, both still safe here. */
    curl_multi_cleanup(m->multi);
    m->multi = NULL;
    while (m->pollers)
        poller_close(m->pollers);
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}

/* Reports every finished transfer; runs outside curl's callbacks. */
static void check_done(aigw__uv_multi *m) {
    CURLMsg *msg;
    int left;
    while (m->multi && (msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle; /* msg dies with the removal */
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(m->multi, easy);
        m->running--;
        m->done(easy, rc, m->user);
    }
}

static void drive(aigw__uv_multi *m, curl_socket_t fd, int flags) {
    int running;
    m->depth++;
    curl_multi_socket_action(m->multi, fd, flags, &running);
    check_done(m);
    if (--m->depth == 0 && m->close_pending)
        do_close(m);
}

static void on_poll(uv_poll_t *h, int status, int events) {
    poller *p = h->data;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)h, &fd))
        return;
    drive(p->m, (curl_socket_t)fd, flags); /* may close p: not used after */
}

static void on_timeout(uv_timer_t *t) {
    drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms the uv timer; curl is called from
 * on_timeout, never from here. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    aigw__uv_multi *m = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&m->timer);
    else
        uv_timer_start(&m->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    aigw__uv_multi *m = userp;
    poller *p = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (p) {
            if (m->multi)
                curl_multi_assign(m->multi, s, NULL);
            poller_close(p);
        }
        return 0;
    }
    if (!p) {
        if (!(p = aigw__calloc(1, sizeof *p)))
            return -1;
        if (uv_poll_init_socket(m->loop, &p->handle, s)) {
            aigw__free(p);
            return -1;
        }
        p->handle.data = p;
        p->m = m;
        p->next = m->pollers;
        if (m->pollers)
            m->pollers->prev = p;
        m->pollers = p;
        m->open_handles++;
        curl_multi_assign(m->multi, s, p);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&p->handle, events, on_poll) ? -1 : 0;
}

aigw_status aigw__uv_multi_new(uv_loop_t *loop, aigw__uv_multi_done_fn done, void *user,
                               aigw__uv_multi **out) {
    *out = NULL;
    aigw__uv_multi *m = aigw__calloc(1, sizeof *m);
    if (!m)
        return AIGW_ENOMEM;
    if (!(m->multi = curl_multi_init())) {
        aigw__free(m);
        return AIGW_ENOMEM;
    }
    m->loop = loop;
    m->done = done;
    m->user = user;
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    uv_timer_init(loop, &m->timer); /* cannot fail */
    m->timer.data = m;
    m->open_handles = 1;
    *out = m;
    return AIGW_OK;
}

CURLMcode aigw__uv_multi_add(aigw__uv_multi *m, CURL *easy) {
    CURLMcode rc = curl_multi_add_handle(m->multi, easy);
    if (rc == CURLM_OK)
        m->running++;
    return rc; /* curl arms the timer (timeout 0) to start the transfer */
}

void aigw__uv_multi_remove(aigw__uv_multi *m, CURL *easy) {
    if (curl_multi_remove_handle(m->multi, easy) == CURLM_OK)
        m->running--;
}

size_t aigw__uv_multi_running(const aigw__uv_multi *m) {
    return m->running;
}

void aigw__uv_multi_close(aigw__uv_multi *m) {
    if (!m || m->closed || m->close_pending)
        return;
    if (m->depth > 0)
        m->close_pending = 1;
    else
        do_close(m);
}
