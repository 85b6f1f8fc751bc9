/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway server (aigw/serve.h): workers and lifecycle.
 *
 * Each worker is a thread running its own uv loop with its own HTTP server
 * on the shared port (SO_REUSEPORT) and its own async engine of the client.
 * The loops and servers are set up by aigw_server_start() on the caller's
 * thread before the threads start, so a bind error is returned, and port 0
 * resolves once: worker 0 binds, the others bind the port it got.
 *
 * Shutdown: aigw_server_shutdown() bumps a counter and wakes every worker
 * (uv_async_send, async-signal-safe). A worker acting on the first call
 * starts the HTTP server's graceful shutdown with the deadline; on a later
 * one it forces it. Once the HTTP server has closed and no request context
 * is left (a forced close cancels upstream requests, whose `done` then
 * frees them), the worker releases the client's engine and closes its async
 * handle; the loop runs out of handles and the thread ends. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aigw/async.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "server/gateway.h"

aigw_status aigw_serve_options_init(aigw_serve_options *opts, unsigned int version) {
    if (!opts || version < 1 || version > AIGW_SERVE_OPTIONS_VERSION)
        return AIGW_EINVAL;
    aigw_serve_options d = AIGW_SERVE_OPTIONS_INIT;
    d.version = version;
    if (version == 1) /* a version-1 struct is shorter: its fields only */
        memcpy(opts, &d, offsetof(aigw_serve_options, allow_open));
    else
        *opts = d;
    return AIGW_OK;
}

/* ---- config snapshots ---- */

static aigw_status snapshot_new(aigw_server *s, aigw_client *client, int owned,
                                aigw__gw_snapshot **out, aigw_error **err) {
    aigw__gw_snapshot *snap = aigw__calloc(1, sizeof *snap);
    if (!snap || !(snap->inflight = aigw__calloc(s->n_workers, sizeof *snap->inflight)) ||
        !(snap->retired = aigw__calloc(s->n_workers, 1))) {
        if (snap)
            aigw__free(snap->inflight);
        aigw__free(snap);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw_status st = aigw__gw_config_load(&snap->cfg, client->gateway, err);
    if (!st && (st = aigw__gw_config_check_client(&snap->cfg, client, err)))
        aigw__gw_config_free(&snap->cfg);
    if (st) {
        aigw__free(snap->inflight);
        aigw__free(snap->retired);
        aigw__free(snap);
        return st;
    }
    snap->client = client;
    snap->owned = owned;
    atomic_init(&snap->refs, 1);
    *out = snap;
    return AIGW_OK;
}

void aigw__gw_snapshot_unref(aigw__gw_snapshot *snap) {
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
        return;
    if (snap->owned)
        aigw_client_free(snap->client);
    aigw__gw_config_free(&snap->cfg);
    aigw__free(snap->inflight);
    aigw__free(snap->retired);
    aigw__free(snap);
}

/* The worker is done with snap on its loop: its engine goes. */
static void worker_drop_snapshot(aigw__gw_worker *w, aigw__gw_snapshot *snap) {
    aigw_loop_release(snap->client, &w->loop);
    aigw__gw_snapshot_unref(snap);
}

/* Moves the worker to the newest snapshot if a reload published one. */
static void worker_refresh(aigw__gw_worker *w) {
    aigw_server *s = w->server;
    if (w->generation == atomic_load(&s->generation))
        return;
    pthread_mutex_lock(&s->snap_lock);
    aigw__gw_snapshot *next = s->current;
    atomic_fetch_add(&next->refs, 1);
    w->generation = atomic_load(&s->generation);
    pthread_mutex_unlock(&s->snap_lock);
    aigw__gw_snapshot *old = w->snap;
    w->snap = next;
    if (old == next) {
        aigw__gw_snapshot_unref(old);
    } else if (old->inflight[w->index] == 0) {
        worker_drop_snapshot(w, old);
    } else {
        old->retired[w->index] = 1; /* its last request drops it */
    }
}

static void maybe_finish(aigw__gw_worker *w) {
    if (w->released || !w->http_closed || w->metrics_open || w->inflight)
        return;
    w->released = 1;
    worker_drop_snapshot(w, w->snap);
    w->snap = NULL;
    uv_close((uv_handle_t *)&w->async, NULL);
}

aigw__gw_snapshot *aigw__gw_worker_request_start(aigw__gw_worker *w) {
    worker_refresh(w);
    w->inflight++;
    w->snap->inflight[w->index]++;
    atomic_fetch_add(&w->snap->refs, 1);
    return w->snap;
}

void aigw__gw_worker_request_done(aigw__gw_worker *w, aigw__gw_snapshot *snap) {
    w->inflight--;
    if (--snap->inflight[w->index] == 0 && snap->retired[w->index])
        worker_drop_snapshot(w, snap); /* the worker's own reference */
    aigw__gw_snapshot_unref(snap);     /* the request's */
    maybe_finish(w);
}

static void on_http_closed(void *data) {
    aigw__gw_worker *w = data;
    w->http = NULL;
    w->http_closed = 1;
    maybe_finish(w);
}

static void on_metrics_closed(void *data) {
    aigw__gw_worker *w = data;
    w->metrics_http = NULL;
    w->metrics_open = 0;
    maybe_finish(w);
}

static void on_async(uv_async_t *a) {
    aigw__gw_worker *w = a->data;
    if (!w->released)
        worker_refresh(w);
    int calls = atomic_load(&w->server->shutdown_calls);
    while (w->shutdown_seen < calls && w->http) {
        w->shutdown_seen++;
        w->shutting_down = 1;
        aigw__http_server *http = w->http, *metrics = w->metrics_http;
        if (w->shutdown_seen == 1) {
            uint64_t d = atomic_load(&w->server->deadline_ms);
            if (metrics)
                aigw__http_server_shutdown(metrics, d, on_metrics_closed, w);
            aigw__http_server_shutdown(http, d, on_http_closed, w);
        } else {
            if (metrics)
                aigw__http_server_shutdown(metrics, 0, NULL, NULL);
            aigw__http_server_shutdown(http, 0, NULL, NULL);
            break;
        }
    }
}

static void *worker_main(void *arg) {
    aigw__gw_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Tears down workers whose threads never started (start failed). */
static void close_unstarted(aigw__gw_worker *w) {
    if (w->http) {
        aigw__http_server_shutdown(w->http, 0, NULL, NULL);
        w->http = NULL;
    }
    if (w->metrics_http) {
        aigw__http_server_shutdown(w->metrics_http, 0, NULL, NULL);
        w->metrics_http = NULL;
    }
    uv_close((uv_handle_t *)&w->async, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
}

aigw_status aigw_server_start(aigw_client *client, const aigw_serve_options *opts,
                              aigw_server **out, aigw_error **err) {
    aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
    aigw_status st = AIGW_OK;
    char *host = NULL;
    int port = 8080;
    unsigned int inited = 0;
    int allow_open = 0;

    if (!client || !out)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_server_start: client and out are needed");
    *out = NULL;
    if (opts) {
        if (opts->version < 1)
            return aigw__error_set(err, AIGW_EINVAL, "aigw_serve_options: bad version");
        o.listen = opts->listen;
        o.workers = opts->workers;
        if (opts->version >= 2) /* the fields of version 2 */
            allow_open = opts->allow_open != 0;
    }
    aigw_server *s = aigw__calloc(1, sizeof(*s));
    if (!s)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    s->client = client;
    if ((st = aigw__gw_config_load(&s->cfg, client->gateway, err)) != AIGW_OK)
        goto fail;
    if (o.listen) {
        if ((st = aigw__gw_parse_listen(o.listen, &host, &port, err)) != AIGW_OK)
            goto fail;
    } else if (s->cfg.host) {
        if (!(host = aigw__strdup(s->cfg.host))) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto fail;
        }
        port = s->cfg.port;
    }
    s->allow_open = allow_open;
    if ((st = aigw__gw_check_open(&s->cfg, host ? host : "127.0.0.1", port, allow_open, err)) !=
        AIGW_OK)
        goto fail;
    s->n_workers = o.workers ? o.workers : s->cfg.workers;
    if (!s->n_workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->n_workers = n > 0 ? (unsigned int)n : 1;
    }
    if (s->n_workers > 1024)
        s->n_workers = 1024;
    pthread_mutex_init(&s->snap_lock, NULL);
    atomic_init(&s->generation, 0);
    if ((st = snapshot_new(s, client, 0, &s->current, err)) != AIGW_OK)
        goto fail;
    atomic_init(&s->shutdown_calls, 0);
    atomic_init(&s->senders, 0);
    atomic_init(&s->stopped, 0);
    atomic_init(&s->deadline_ms, s->cfg.shutdown_timeout_ms);
    if (!(s->metrics = aigw__gw_metrics_new()) ||
        !(s->workers = aigw__calloc(s->n_workers, sizeof(*s->workers))) ||
        !(s->http_limits = aigw__http_limits_new(s->cfg.limits.max_connections,
                                                 s->cfg.limits.max_connections_per_client,
                                                 s->cfg.limits.max_inflight_body_bytes))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto fail;
    }
    /* Connections and bodies are limited over all workers together. */
    aigw__http_server_options hopts = s->cfg.limits;
    hopts.reuseport = s->n_workers > 1;
    hopts.shared = s->http_limits;
    for (unsigned int i = 0; i < s->n_workers; i++) {
        aigw__gw_worker *w = &s->workers[i];
        w->server = s;
        w->index = i;
        w->snap = s->current;
        atomic_fetch_add(&s->current->refs, 1);
        if (uv_loop_init(&w->loop) != 0) {
            st = aigw__error_set(err, AIGW_EINTERNAL, "uv_loop_init failed");
            goto fail;
        }
        if (uv_async_init(&w->loop, &w->async, on_async) != 0) {
            uv_loop_close(&w->loop);
            st = aigw__error_set(err, AIGW_EINTERNAL, "uv_async_init failed");
            goto fail;
        }
        w->async.data = w;
        inited = i + 1;
        st = aigw__http_server_new(&w->loop, host ? host : "127.0.0.1", i ? s->port : port, &hopts,
                                   aigw__gw_handle, w, &w->http, err);
        if (st != AIGW_OK)
            goto fail;
        if (i == 0)
            s->port = aigw__http_server_port(w->http);
        if (i == 0 && s->cfg.metrics_host) {
            /* gateway.metrics_listen: worker 0 serves /metrics there, with
             * the default HTTP limits (its connections are its own). */
            st = aigw__http_server_new(&w->loop, s->cfg.metrics_host, s->cfg.metrics_port, NULL,
                                       aigw__gw_handle_metrics, w, &w->metrics_http, err);
            if (st != AIGW_OK)
                goto fail;
            w->metrics_open = 1;
        }
    }
    for (unsigned int i = 0; i < s->n_workers; i++) {
        aigw__gw_worker *w = &s->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            st = aigw__error_set(err, AIGW_EINTERNAL, "could not start worker thread %u", i);
            /* stop the ones running, then tear down the rest */
            aigw_server_shutdown(s, 0);
            for (unsigned int j = 0; j < i; j++)
                pthread_join(s->workers[j].thread, NULL);
            for (unsigned int j = 0; j < i; j++)
                uv_loop_close(&s->workers[j].loop);
            for (unsigned int j = i; j < s->n_workers; j++)
                close_unstarted(&s->workers[j]);
            inited = 0;
            goto fail;
        }
        w->thread_started = 1;
    }
    if (s->cfg.n_keys == 0)
        aigw__log(&client->logger, AIGW_LOG_WARN,
                  "gateway: no keys configured (gateway.keys): every client that can reach "
                  "%s:%d is let in",
                  host ? host : "127.0.0.1", s->port);
    aigw__log(&client->logger, AIGW_LOG_INFO, "gateway: listening on %s:%d with %u worker%s",
              host ? host : "127.0.0.1", s->port, s->n_workers, s->n_workers == 1 ? "" : "s");
    if (s->workers[0].metrics_http)
        aigw__log(&client->logger, AIGW_LOG_INFO, "gateway: /metrics on %s:%d", s->cfg.metrics_host,
                  aigw__http_server_port(s->workers[0].metrics_http));
    s->host = host; /* kept: a reload checks the same rule */
    *out = s;
    return AIGW_OK;
fail:
    for (unsigned int i = 0; i < inited; i++)
        close_unstarted(&s->workers[i]);
    for (unsigned int i = 0; s->workers && i < s->n_workers; i++)
        aigw__gw_snapshot_unref(s->workers[i].snap);
    aigw__gw_snapshot_unref(s->current);
    if (s->current)
        pthread_mutex_destroy(&s->snap_lock);
    aigw__free(host);
    aigw__free(s->workers);
    aigw__gw_metrics_free(s->metrics);
    aigw__http_limits_unref(s->http_limits);
    aigw__gw_config_free(&s->cfg);
    aigw__free(s);
    return st;
}

int aigw_server_port(const aigw_server *server) {
    return server ? server->port : -1;
}

unsigned int aigw_server_workers(const aigw_server *server) {
    return server ? server->n_workers : 0;
}

void aigw_server_shutdown(aigw_server *server, uint64_t deadline_ms) {
    if (!server)
        return;
    if (deadline_ms != AIGW_SERVER_DEADLINE_DEFAULT && atomic_load(&server->shutdown_calls) == 0)
        atomic_store(&server->deadline_ms, deadline_ms);
    atomic_fetch_add(&server->shutdown_calls, 1);
    atomic_fetch_add(&server->senders, 1);
    if (!atomic_load(&server->stopped))
        for (unsigned int i = 0; i < server->n_workers; i++)
            uv_async_send(&server->workers[i].async);
    atomic_fetch_sub(&server->senders, 1);
}

aigw_status aigw_server_wait(aigw_server *server) {
    if (!server)
        return AIGW_EINVAL;
    if (server->waited)
        return AIGW_OK;
    for (unsigned int i = 0; i < server->n_workers; i++)
        if (server->workers[i].thread_started)
            pthread_join(server->workers[i].thread, NULL);
    /* A shutdown call racing with the end may still be in uv_async_send:
     * let it finish before the loops (and their wakeup fds) go. */
    atomic_store(&server->stopped, 1);
    while (atomic_load(&server->senders) > 0)
        sched_yield();
    for (unsigned int i = 0; i < server->n_workers; i++)
        uv_loop_close(&server->workers[i].loop);
    server->waited = 1;
    aigw__log(&server->client->logger, AIGW_LOG_INFO, "gateway: stopped");
    return AIGW_OK;
}

void aigw_server_free(aigw_server *server) {
    if (!server)
        return;
    if (!server->waited) {
        if (atomic_load(&server->shutdown_calls) == 0)
            aigw_server_shutdown(server, 0);
        aigw_server_wait(server);
    }
    aigw__free(server->workers);
    aigw__gw_snapshot_unref(server->current);
    pthread_mutex_destroy(&server->snap_lock);
    aigw__gw_metrics_free(server->metrics);
    aigw__http_limits_unref(server->http_limits);
    aigw__gw_config_free(&server->cfg);
    aigw__free(server->host);
    aigw__free(server);
}

/* What a reload cannot change: the sockets and threads, the HTTP limits. */
static aigw_status same_listeners(const aigw__gw_config *a, const aigw__gw_config *b,
                                  aigw_error **err) {
    const char *what = NULL;
    if ((a->host == NULL) != (b->host == NULL) || (a->host && strcmp(a->host, b->host) != 0) ||
        a->port != b->port)
        what = "gateway.listen";
    else if (a->workers != b->workers)
        what = "gateway.workers";
    else if ((a->metrics_host == NULL) != (b->metrics_host == NULL) ||
             (a->metrics_host && strcmp(a->metrics_host, b->metrics_host) != 0) ||
             a->metrics_port != b->metrics_port)
        what = "gateway.metrics_listen";
    else if (memcmp(&a->limits, &b->limits, sizeof a->limits) != 0)
        what = "gateway.limits";
    if (!what)
        return AIGW_OK;
    return aigw__error_set(err, AIGW_ECONFIG, "%s: changed; it takes a restart, not a reload",
                           what);
}

aigw_status aigw_server_reload(aigw_server *server, const char *config_path, aigw_error **err) {
    if (!server || !config_path)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_server_reload: NULL argument");
    if (atomic_load(&server->shutdown_calls) > 0)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_server_reload: the server is stopping");
    aigw_client_options opts = server->client->options;
    opts.config_path = config_path;
    aigw_client *client = NULL;
    aigw__gw_snapshot *snap = NULL;
    aigw_status st = aigw_client_new(&client, &opts, err);
    if (st)
        goto refused;
    if ((st = snapshot_new(server, client, 1, &snap, err)) != AIGW_OK) {
        aigw_client_free(client);
        goto refused;
    }
    pthread_mutex_lock(&server->snap_lock);
    if ((st = same_listeners(&server->current->cfg, &snap->cfg, err)) != AIGW_OK ||
        (st = aigw__gw_check_open(&snap->cfg, server->host ? server->host : "127.0.0.1",
                                  server->port, server->allow_open, err)) != AIGW_OK) {
        pthread_mutex_unlock(&server->snap_lock);
        aigw__gw_snapshot_unref(snap);
        goto refused;
    }
    /* Counters in memory go on where the old config left them. */
    aigw__client_adopt_counters(client, server->current->client);
    aigw__gw_snapshot *old = server->current;
    server->current = snap;
    atomic_fetch_add(&server->generation, 1);
    pthread_mutex_unlock(&server->snap_lock);
    aigw__gw_snapshot_unref(old);
    atomic_fetch_add(&server->senders, 1);
    if (!atomic_load(&server->stopped))
        for (unsigned int i = 0; i < server->n_workers; i++)
            uv_async_send(&server->workers[i].async);
    atomic_fetch_sub(&server->senders, 1);
    aigw__log(&server->client->logger, AIGW_LOG_INFO, "gateway: reloaded %s", config_path);
    return AIGW_OK;
refused:
    aigw__log(&server->client->logger, AIGW_LOG_ERROR,
              "gateway: reload of %s refused; the old config keeps serving", config_path);
    return st;
}
