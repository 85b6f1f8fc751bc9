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
    if (!opts || version != 1)
        return AIGW_EINVAL;
    aigw_serve_options d = AIGW_SERVE_OPTIONS_INIT;
    *opts = d;
    return AIGW_OK;
}

static void maybe_finish(aigw__gw_worker *w) {
    if (w->released || !w->http_closed || w->inflight)
        return;
    w->released = 1;
    aigw_loop_release(w->server->client, &w->loop);
    uv_close((uv_handle_t *)&w->async, NULL);
}

void aigw__gw_worker_request_done(aigw__gw_worker *w) {
    w->inflight--;
    maybe_finish(w);
}

static void on_http_closed(void *data) {
    aigw__gw_worker *w = data;
    w->http = NULL;
    w->http_closed = 1;
    maybe_finish(w);
}

static void on_async(uv_async_t *a) {
    aigw__gw_worker *w = a->data;
    int calls = atomic_load(&w->server->shutdown_calls);
    while (w->shutdown_seen < calls && w->http) {
        w->shutdown_seen++;
        w->shutting_down = 1;
        aigw__http_server *http = w->http;
        if (w->shutdown_seen == 1) {
            uint64_t d = atomic_load(&w->server->deadline_ms);
            aigw__http_server_shutdown(http, d, on_http_closed, w);
        } else {
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

    if (!client || !out)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_server_start: client and out are needed");
    *out = NULL;
    if (opts) {
        if (opts->version < 1)
            return aigw__error_set(err, AIGW_EINVAL, "aigw_serve_options: bad version");
        o.listen = opts->listen;
        o.workers = opts->workers;
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
    s->n_workers = o.workers ? o.workers : s->cfg.workers;
    if (!s->n_workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->n_workers = n > 0 ? (unsigned int)n : 1;
    }
    if (s->n_workers > 1024)
        s->n_workers = 1024;
    atomic_init(&s->shutdown_calls, 0);
    atomic_init(&s->senders, 0);
    atomic_init(&s->stopped, 0);
    atomic_init(&s->deadline_ms, s->cfg.shutdown_timeout_ms);
    if (!(s->metrics = aigw__gw_metrics_new()) ||
        !(s->workers = aigw__calloc(s->n_workers, sizeof(*s->workers)))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto fail;
    }
    aigw__http_server_options hopts = s->cfg.limits;
    hopts.reuseport = s->n_workers > 1;
    for (unsigned int i = 0; i < s->n_workers; i++) {
        aigw__gw_worker *w = &s->workers[i];
        w->server = s;
        w->index = i;
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
                  "gateway: no keys configured (gateway.keys): every client is let in");
    aigw__log(&client->logger, AIGW_LOG_INFO, "gateway: listening on %s:%d with %u worker%s",
              host ? host : "127.0.0.1", s->port, s->n_workers, s->n_workers == 1 ? "" : "s");
    aigw__free(host);
    *out = s;
    return AIGW_OK;
fail:
    for (unsigned int i = 0; i < inited; i++)
        close_unstarted(&s->workers[i]);
    aigw__free(host);
    aigw__free(s->workers);
    aigw__gw_metrics_free(s->metrics);
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
    aigw__gw_metrics_free(server->metrics);
    aigw__gw_config_free(&server->cfg);
    aigw__free(server);
}
