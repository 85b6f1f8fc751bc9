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
#include "core/json_limits.h"
#include "server/http_limits.h"
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
    /* Request bodies (gateway_body.c): bounds checked before parsing, and
     * the size from which a body is parsed on the thread pool. */
    aigw__json_limits json_limits;
    size_t json_offload_bytes;
    /* /metrics: a key (its SHA-256) it needs, and/or a listener of its own. */
    int has_metrics_key;
    unsigned char metrics_sha256[32];
    char *metrics_host; /* from "metrics_listen", or NULL */
    int metrics_port;
} aigw__gw_config;

#define AIGW__GW_DEF_JSON_MAX_DEPTH 128u
#define AIGW__GW_DEF_JSON_MAX_ELEMENTS 1000000u
#define AIGW__GW_DEF_JSON_MAX_STRING ((size_t)32u * 1024u * 1024u)
#define AIGW__GW_DEF_JSON_OFFLOAD ((size_t)1024u * 1024u)
#define AIGW__GW_MAX_JSON_DEPTH 1024

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
/* Whether the request may read /metrics: 1 when no metrics key is
 * configured, else when its Bearer token (or x-api-key) hashes to it. */
int aigw__gw_metrics_authorized(const aigw__gw_config *cfg, const aigw__http_request *req);

/* ---- request bodies (gateway_body.c) ----
 * A body is checked against the JSON limits without building anything,
 * then parsed (json-c, nesting bounded too). Bodies of json_offload_bytes
 * or more go to the libuv thread pool for both, so the worker's loop keeps
 * answering its other connections meanwhile; their parse uses a tokener of
 * its own, and once such a request is over the process gives freed memory
 * back to the system (malloc_trim, on the thread pool). */
typedef struct aigw__gw_body aigw__gw_body;
typedef void (*aigw__gw_body_cb)(aigw__gw_body *b, json_object *obj, void *user);
struct aigw__gw_body {
    uv_work_t work;
    const char *text;
    size_t len;
    aigw__json_limits limits;
    int offloaded;
    json_object *obj; /* the result, or NULL */
    int status;       /* when NULL: the HTTP status (400, 413) */
    const char *code; /* and OpenAI error code */
    char message[200];
    aigw__gw_body_cb cb;
    void *user;
};
/* Parses text (valid until cb) per cfg; cb runs on the loop, at once for a
 * small body. obj (taken by cb) is NULL on failure, with b->status,
 * b->code, b->message set. Returns 0, or -1 if the work could not be
 * queued (cb not called). */
int aigw__gw_body_parse(aigw__gw_body *b, uv_loop_t *loop, const aigw__gw_config *cfg,
                        const char *text, size_t len, aigw__gw_body_cb cb, void *user);
/* After a request with an offloaded body: return freed memory to the
 * system (coalesced; on the thread pool). */
void aigw__gw_body_trim(uv_loop_t *loop);

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
    aigw__http_server *http;         /* NULL once closed */
    aigw__http_server *metrics_http; /* gateway.metrics_listen, worker 0 only */
    int metrics_open;                /* metrics_http not yet closed */
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
    aigw__http_limits *http_limits; /* connections and bodies, all workers */
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
/* The handler of the gateway.metrics_listen listener: /metrics only. */
void aigw__gw_handle_metrics(aigw__http_request *req, aigw__http_response *res, void *user);
/* A request context starts on a worker: the snapshot it uses (a reference;
 * hand it back to aigw__gw_worker_request_done). */
aigw__gw_snapshot *aigw__gw_worker_request_start(aigw__gw_worker *w);
/* A request context ended on a worker (gateway.c): may finish the loop. */
void aigw__gw_worker_request_done(aigw__gw_worker *w, aigw__gw_snapshot *snap);

#endif
