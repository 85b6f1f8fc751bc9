/* SPDX-License-Identifier: Apache-2.0 */
/* The libuv glue for libcurl's multi_socket interface (see uv_multi.h). */
#include "transport/uv_multi.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"

/* Idle upstream connections the multi keeps (curl's default is 4 x the
 * transfers in the multi, which closes connections whenever a loop's
 * concurrency dips; nginx's `keepalive` is the same idea). */
#define MAX_CACHED_CONNECTIONS 256L

/* One socket curl asked us to watch. A socket this file opened (curl's
 * connections, through on_open_socket) keeps its poller between transfers
 * ("parked", still watching for readability) until curl closes it through
 * on_close_socket: a reused keep-alive connection then costs no epoll_ctl,
 * no allocation and no handle close per transfer. */
typedef struct poller {
    uv_poll_t handle; /* handle.data == this poller */
    aigw__uv_multi *m;
    struct poller *prev, *next; /* the multi's open pollers */
    curl_socket_t fd;
    int events; /* what handle watches now (UV_READABLE | UV_WRITABLE), 0 stopped */
    int parked; /* curl has no transfer on the socket now */
    int owned;  /* opened by on_open_socket: closed by on_close_socket */
    int closed; /* uv_close()d, freed in on_poller_closed */
} poller;

struct aigw__uv_multi {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;  /* timer.data == this multi */
    uv_prepare_t kick; /* a 0 ms timeout: run before the loop next waits; data == this */
    poller *pollers;
    poller **byfd; /* the poller of each fd, for sockets this file opened */
    size_t nbyfd;
    unsigned char *ownfd; /* fds opened by on_open_socket and not yet closed */
    size_t nownfd;
    size_t open_handles; /* the timer and every poller not yet through its close callback */
    size_t running;      /* transfers added and not finished or removed */
    int depth;           /* nesting of drive() */
    int close_pending;   /* aigw__uv_multi_close during a dispatch */
    int closed;
    aigw__uv_multi_done_fn done;
    void *user;
};

static void handle_gone(aigw__uv_multi *m) {
    if (--m->open_handles == 0 && m->closed) {
        aigw__free(m->byfd);
        aigw__free(m->ownfd);
        aigw__free(m);
    }
}

/* A per-fd table (n entries of elem bytes) grown to hold index fd, new
 * entries zeroed; NULL (tab unchanged) on failure. */
static void *table_fit(void *tab, size_t *n, size_t elem, curl_socket_t fd) {
    if (fd < 0)
        return NULL;
    if ((size_t)fd < *n)
        return tab;
    size_t cap = *n ? *n : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    unsigned char *t = aigw__reallocarray(tab, cap, elem);
    if (!t)
        return NULL;
    memset(t + *n * elem, 0, (cap - *n) * elem);
    *n = cap;
    return t;
}

static poller *poller_of(aigw__uv_multi *m, curl_socket_t fd) {
    return fd >= 0 && (size_t)fd < m->nbyfd ? m->byfd[fd] : NULL;
}

static int fd_owned(aigw__uv_multi *m, curl_socket_t fd) {
    return fd >= 0 && (size_t)fd < m->nownfd && m->ownfd[fd];
}

static void on_poller_closed(uv_handle_t *h) {
    poller *p = h->data;
    aigw__uv_multi *m = p->m;
    aigw__free(p);
    handle_gone(m);
}

static void poller_close(poller *p) {
    aigw__uv_multi *m = p->m;
    if (p->closed)
        return;
    p->closed = 1;
    if (poller_of(m, p->fd) == p)
        m->byfd[p->fd] = NULL;
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
    uv_close((uv_handle_t *)&m->kick, on_timer_closed);
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
    if (p->parked) {
        /* An idle keep-alive connection became readable: the peer closed
         * it (or sent garbage). Stop watching (level-triggered, it would
         * fire again); curl finds it dead before reusing it and closes it. */
        uv_poll_stop(h);
        p->events = 0;
        return;
    }
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
    aigw__uv_multi *m = t->data;
    uv_prepare_stop(&m->kick);
    drive(m, CURL_SOCKET_TIMEOUT, 0);
}

static void on_kick(uv_prepare_t *h) {
    aigw__uv_multi *m = h->data;
    uv_prepare_stop(h);
    uv_timer_stop(&m->timer);
    drive(m, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms the uv timer; curl is called from
 * on_timeout, never from here. A 0 ms timeout (curl's "run me now", e.g.
 * for a transfer just added) is run by a uv_prepare instead: in the same
 * loop iteration, before the loop waits, rather than in the next
 * iteration's timer phase after an extra non-blocking poll. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    aigw__uv_multi *m = userp;
    if (timeout_ms == 0) {
        /* The prepare runs first when it can; the due timer makes sure the
         * loop does not block in poll when "now" is asked for too late for
         * this iteration's prepare phase (e.g. from the kick itself): a
         * prepare handle does not shorten the poll timeout, a timer does. */
        uv_timer_start(&m->timer, on_timeout, 0, 0);
        uv_prepare_start(&m->kick, on_kick);
        return 0;
    }
    uv_prepare_stop(&m->kick);
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
    poller *p = socketp ? socketp : poller_of(m, s);
    if (p && p->closed) /* its socket was closed under it (not expected from curl) */
        p = what == CURL_POLL_REMOVE ? NULL : poller_of(m, s);
    if (what == CURL_POLL_REMOVE) {
        if (!p)
            return 0;
        if (m->multi)
            curl_multi_assign(m->multi, s, NULL);
        if (!p->owned || m->closed) {
            poller_close(p);
            return 0;
        }
        /* Curl keeps the connection for the next transfer: park the poller.
         * Watching for readability only (a readable idle connection is a
         * closed one, see on_poll); anything else would fire at once. */
        p->parked = 1;
        uv_unref((uv_handle_t *)&p->handle); /* an idle connection keeps no loop running */
        if (p->events & ~UV_READABLE) {
            uv_poll_stop(&p->handle);
            p->events = 0;
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
        p->fd = s;
        p->next = m->pollers;
        if (m->pollers)
            m->pollers->prev = p;
        m->pollers = p;
        m->open_handles++;
        poller **t;
        if (fd_owned(m, s) && (t = table_fit(m->byfd, &m->nbyfd, sizeof(*t), s))) {
            m->byfd = t;
            m->byfd[s] = p;
            p->owned = 1;
        }
    }
    if (p != socketp)
        curl_multi_assign(m->multi, s, p);
    if (p->parked) {
        p->parked = 0;
        uv_ref((uv_handle_t *)&p->handle);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (events == p->events)
        return 0; /* already so: no epoll_ctl */
    if (uv_poll_start(&p->handle, events, on_poll))
        return -1;
    p->events = events;
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: the socket as curl would make it, remembered
 * as one whose poller may outlive a transfer. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr) {
    aigw__uv_multi *m = clientp;
    (void)purpose;
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    if (s == CURL_SOCKET_BAD)
        return s;
    unsigned char *t = table_fit(m->ownfd, &m->nownfd, 1, s);
    if (t) {
        m->ownfd = t;
        m->ownfd[s] = 1;
    }
    return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl is done with a connection; its poller
 * goes first (uv_close unregisters the fd while it is still open). */
static int on_close_socket(void *clientp, curl_socket_t s) {
    aigw__uv_multi *m = clientp;
    poller *p = poller_of(m, s);
    if (p)
        poller_close(p);
    if (s >= 0 && (size_t)s < m->nownfd)
        m->ownfd[s] = 0;
    return close(s);
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
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, MAX_CACHED_CONNECTIONS);
    uv_timer_init(loop, &m->timer); /* cannot fail */
    uv_prepare_init(loop, &m->kick);
    m->timer.data = m;
    m->kick.data = m;
    m->open_handles = 2;
    *out = m;
    return AIGW_OK;
}

CURLMcode aigw__uv_multi_add(aigw__uv_multi *m, CURL *easy) {
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, m);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, m);
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
