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
    char *team; /* may be NULL */
} aigw__gw_key;

typedef struct aigw__gw_config {
    char *host; /* from "listen", or NULL */
    int port;   /* -1 when not configured */
    unsigned int workers;
    uint64_t shutdown_timeout_ms;
    aigw__gw_key *keys;
    size_t n_keys;
    aigw__http_server_options limits;
} aigw__gw_config;

/* Parses and validates gw (may be NULL: all defaults) into cfg. */
aigw_status aigw__gw_config_load(aigw__gw_config *cfg, json_object *gw, aigw_error **err);
void aigw__gw_config_free(aigw__gw_config *cfg);
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
} aigw__gw_worker;

struct aigw_server {
    aigw_client *client;
    aigw__gw_config cfg;
    aigw__gw_metrics *metrics;
    aigw__gw_worker *workers;
    unsigned int n_workers;
    int port;
    atomic_int shutdown_calls;
    atomic_int senders; /* aigw_server_shutdown calls inside uv_async_send */
    atomic_int stopped; /* the workers ended: no more uv_async_send */
    _Atomic uint64_t deadline_ms;
    int waited;
};

/* The HTTP handler (gateway_routes.c). user is the worker. */
void aigw__gw_handle(aigw__http_request *req, aigw__http_response *res, void *user);
/* A request context ended on a worker (gateway.c): may finish the loop. */
void aigw__gw_worker_request_done(aigw__gw_worker *w);

#endif
