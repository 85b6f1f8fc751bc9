/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway (aigw/serve.h) insides, shared by its files: gateway.c
 * (workers, lifecycle), gateway_config.c (the "gateway" section),
 * gateway_auth.c (keys), gateway_routes.c (the OpenAI routes),
 * gateway_metrics.c (Prometheus text). */
#ifndef AIGW_SERVER_GATEWAY_H
#define AIGW_SERVER_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <uv.h>

#include "aigw/serve.h"
#include "core/buf.h"
#include "server/http_server.h"

typedef struct aigw__gw_key {
    unsigned char sha256[32];
    char *name;
    char *team;              /* may be NULL */
    char *user;              /* the user its requests are (budgets, logs); may be NULL */
    int trusted_user_header; /* the user header / "user" field names the user */
    char **models;           /* fnmatch globs of the models it may use; NULL: any */
    size_t n_models;
    char **routes; /* the routes it may use ("direct" included); NULL: any */
    size_t n_routes;
    atomic_int user_ignored_logged; /* its user header/field was ignored: said once */
} aigw__gw_key;

typedef struct aigw__gw_config {
    char *host; /* from "listen", or NULL */
    int port;   /* -1 when not configured */
    unsigned int workers;
    uint64_t shutdown_timeout_ms;
    aigw__gw_key *keys;
    size_t n_keys;
    aigw__http_server_options limits;
    char *user_header; /* the header naming the user (budgets, logs), or NULL */
    int allow_open;    /* gateway.allow_open: no keys on a public address is fine */
    int direct_rule;   /* allow_direct_backends: 0 unset (routing's rule), 1 true, 2 false */
    atomic_int user_ignored_logged; /* open gateway: a user header/field was ignored */
} aigw__gw_config;

/* Parses and validates gw (may be NULL: all defaults) into cfg. */
aigw_status aigw__gw_config_load(aigw__gw_config *cfg, json_object *gw, aigw_error **err);
/* What the gateway section needs of the rest of the config: the routes its
 * keys name exist, and budgets scoped on users have a trusted source of
 * users (a key with "user" or "trusted_user_header": true). */
aigw_status aigw__gw_config_check_client(const aigw__gw_config *cfg, aigw_client *client,
                                         aigw_error **err);
void aigw__gw_config_free(aigw__gw_config *cfg);
/* 1 when HOST (as parsed from "listen") is a loopback address: 127.0.0.0/8,
 * ::1 (also IPv4-mapped 127.x) or "localhost"; 0 for anything else. */
int aigw__gw_host_is_loopback(const char *host);
/* The rule for a gateway without keys: it may listen on loopback only,
 * unless allowed open (gateway.allow_open or the options' allow_open).
 * AIGW_ECONFIG naming the fix otherwise. */
aigw_status aigw__gw_check_open(const aigw__gw_config *cfg, const char *host, int port,
                                int allow_open, aigw_error **err);
/* "HOST:PORT" / "[V6]:PORT" → malloc'd host, port. */
aigw_status aigw__gw_parse_listen(const char *text, char **host, int *port, aigw_error **err);

/* ---- auth ---- */
/* The key the request carries (Bearer or x-api-key), matched in constant
 * time against every configured hash. Returns 1 and *key (NULL when no keys
 * are configured: open) when allowed, 0 when refused. */
int aigw__gw_authenticate(const aigw__gw_config *cfg, const aigw__http_request *req,
                          const aigw__gw_key **key);

/* ---- metrics ---- */
typedef struct aigw__gw_metrics aigw__gw_metrics;
aigw__gw_metrics *aigw__gw_metrics_new(void);
void aigw__gw_metrics_free(aigw__gw_metrics *m);
void aigw__gw_metrics_request(aigw__gw_metrics *m, const char *route, int status,
                              const char *backend, double seconds);
void aigw__gw_metrics_tokens(aigw__gw_metrics *m, const char *backend, long long in, long long out);
aigw_status aigw__gw_metrics_render(aigw__gw_metrics *m, aigw__buf *out);

/* ---- configs: what a request is served with ----
 * A snapshot is a client and its gateway section. aigw_server_reload()
 * makes a new one and publishes it; each worker moves to it when woken,
 * and the old one lives until every request using it has finished: the
 * worker that served a retired snapshot's last request releases that
 * client's engine on its loop; the last reference frees it. */
typedef struct aigw__gw_snapshot {
    aigw_client *client;
    int owned; /* made by a reload: freed with the snapshot */
    aigw__gw_config cfg;
    atomic_uint refs;       /* the server's, each worker's, each request's */
    unsigned int *inflight; /* per worker: its requests on this snapshot */
    unsigned char *retired; /* per worker: it has moved on to a newer one */
} aigw__gw_snapshot;

void aigw__gw_snapshot_unref(aigw__gw_snapshot *snap);

/* ---- workers ---- */
typedef struct aigw__gw_worker {
    struct aigw_server *server;
    unsigned int index;
    uv_loop_t loop;
    uv_async_t async;
    aigw__http_server *http; /* NULL once closed */
    pthread_t thread;
    int thread_started;
    int shutdown_seen; /* shutdown calls acted on */
    int shutting_down;
    int http_closed;
    int released;
    size_t inflight;
    aigw__gw_snapshot *snap; /* what new requests use (a reference) */
    unsigned int generation; /* of snap */
} aigw__gw_worker;

struct aigw_server {
    aigw_client *client; /* the caller's, for the server's own log lines */
    aigw__gw_config cfg; /* as started: listen, workers and limits stay */
    pthread_mutex_t snap_lock;
    aigw__gw_snapshot *current; /* the newest config (a reference) */
    atomic_uint generation;     /* bumped by each reload */
    aigw__gw_metrics *metrics;
    aigw__gw_worker *workers;
    unsigned int n_workers;
    int port;
    int allow_open; /* aigw_serve_options.allow_open */
    char *host;     /* the address listened on */
    atomic_int shutdown_calls;
    atomic_int senders; /* aigw_server_shutdown calls inside uv_async_send */
    atomic_int stopped; /* the workers ended: no more uv_async_send */
    _Atomic uint64_t deadline_ms;
    int waited;
};

/* The HTTP handler (gateway_routes.c). user is the worker. */
void aigw__gw_handle(aigw__http_request *req, aigw__http_response *res, void *user);
/* A request context starts on a worker: the snapshot it uses (a reference;
 * hand it back to aigw__gw_worker_request_done). */
aigw__gw_snapshot *aigw__gw_worker_request_start(aigw__gw_worker *w);
/* A request context ended on a worker (gateway.c): may finish the loop. */
void aigw__gw_worker_request_done(aigw__gw_worker *w, aigw__gw_snapshot *snap);

#endif
