/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — the gateway server: an OpenAI-compatible HTTP endpoint over a
 * client, the library behind `aigw-cli serve`.
 *
 * aigw_server_start() listens on host:port and serves, on its own worker
 * threads (one libuv loop each, all on one port with SO_REUSEPORT):
 *   POST /v1/chat/completions   JSON, or SSE with "stream": true
 *   POST /v1/embeddings
 *   GET  /v1/models
 *   GET  /healthz               200 {"status":"ok"}, 503 when shutting down
 *   GET  /metrics               Prometheus text (OpenTelemetry GenAI names)
 * Every request goes through the client's async API, so any backend the
 * client has serves any OpenAI-shaped client. Errors come back in OpenAI's
 * shape {"error":{"message","type","param","code"}} and never name a
 * backend, with the HTTP status of README's "HTTP status of errors" table:
 * the caller's mistakes are 4xx (a model the caller may not use, or that
 * does not exist, is 404 model_not_found), rate limits and budgets 429, an
 * upstream that failed, could not be reached or answered nonsense 502, one
 * that timed out 504. Budgets scoped on users need a key with "user" or
 * "trusted_user_header" (else AIGW_ECONFIG at start).
 *
 * The config's "gateway" section (validated strictly by aigw_server_start;
 * a mistake is AIGW_ECONFIG with its JSON path):
 *   "listen": "HOST:PORT"            default 127.0.0.1:8080
 *   "workers": N                     1..1024, default the number of cores
 *   "shutdown_timeout_ms": N         graceful shutdown deadline, default 30000
 *   "keys": [{"sha256": "<64 hex digits: SHA-256 of the key>",
 *             "name": "ci", "team": "platform",
 *             "user": "svc",                 its requests' user (budgets)
 *             "trusted_user_header": false,  true: user_header / "user" names it
 *             "models": ["gpt-4o*"],         fnmatch globs it may ask for
 *             "routes": ["chat", "direct"]}, ...]   routes it may use
 *                                    clients send "Authorization: Bearer KEY"
 *                                    or "x-api-key: KEY"; no keys: open,
 *                                    and then loopback addresses only
 *   "allow_open": true               no keys on any address (default false)
 *   "user_header": "x-user-id"       names the user, for trusted keys only
 *   "allow_direct_backends": false   "backend/model" past the routes (default:
 *                                    routing.allow_direct_backends, which is
 *                                    false when the config has routes)
 *   "limits": {"max_body_bytes", "max_header_bytes", "max_headers",
 *              "max_connections" (the total over all workers),
 *              "max_connections_per_client", "max_inflight_body_bytes",
 *              "header_timeout_ms", "request_timeout_ms",
 *              "idle_timeout_ms", "send_timeout_ms", "json_max_depth",
 *              "json_max_elements", "json_max_string_bytes",
 *              "json_offload_bytes"}   positive integers (README: Gateway
 *                                    limits)
 *   "metrics_key_sha256": "<64 hex>" /metrics needs Bearer KEY (else 401)
 *   "metrics_listen": "HOST:PORT"    /metrics served there only (404 on the
 *                                    main listener); neither: public
 *
 * THREADING: aigw_server_shutdown() may be called from any thread, and from
 * a signal handler (it only stores flags and calls uv_async_send). The
 * others are for the thread that started the server. The client must
 * outlive the server. */
#ifndef AIGW_SERVE_H
#define AIGW_SERVE_H

#include <stdint.h>

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aigw_server aigw_server;

/* 2 added allow_open. A caller built against version 1 keeps working:
 * the fields after its version's are not read. */
#define AIGW_SERVE_OPTIONS_VERSION 2

typedef struct aigw_serve_options {
    unsigned int version; /* AIGW_SERVE_OPTIONS_VERSION */
    const char *listen;   /* "HOST:PORT" ("[::1]:PORT" for IPv6; port 0: any
                             free one); NULL: gateway.listen, else 127.0.0.1:8080 */
    unsigned int workers; /* 0: gateway.workers, else the number of cores */
    /* version 2 */
    int allow_open; /* non-zero: serve with no gateway.keys on a non-loopback
                       address (as gateway.allow_open: true) */
} aigw_serve_options;

#define AIGW_SERVE_OPTIONS_INIT                                                                    \
    { AIGW_SERVE_OPTIONS_VERSION, NULL, 0, 0 }

/* The configured deadline (gateway.shutdown_timeout_ms) for
 * aigw_server_shutdown(). */
#define AIGW_SERVER_DEADLINE_DEFAULT UINT64_MAX

/* Sets *opts to its defaults for `version` (1 or 2); AIGW_EINVAL otherwise. */
AIGW_EXTERN aigw_status aigw_serve_options_init(aigw_serve_options *opts, unsigned int version);

/* Validates the gateway config, binds, and starts the workers. On success
 * the server is serving when this returns. opts may be NULL.
 * A gateway with no keys is open to whoever reaches it, so it listens on a
 * loopback address only (127.0.0.0/8, ::1, localhost): any other address
 * is refused with AIGW_ECONFIG naming the fix, unless gateway.allow_open is
 * true or opts->allow_open is set. With keys, any address is fine. With no
 * keys it logs a warning (AIGW_LOG_WARN) once started. */
AIGW_EXTERN aigw_status aigw_server_start(aigw_client *client, const aigw_serve_options *opts,
                                          aigw_server **out, aigw_error **err);
/* The port actually bound (useful with port 0). */
AIGW_EXTERN int aigw_server_port(const aigw_server *server);
/* The number of worker threads. */
AIGW_EXTERN unsigned int aigw_server_workers(const aigw_server *server);
/* Reloads the config file `config_path` (what `aigw-cli serve` does on
 * SIGHUP). A valid config is swapped in atomically: new requests use it,
 * in-flight ones finish on the old one. Budget counters kept in memory
 * carry over to budgets of the same name (Redis ones live in Redis). An
 * invalid config is refused (AIGW_ECONFIG naming the JSON path and the
 * reason; AIGW_EIO for an unreadable file) and the old one keeps serving.
 * "listen" and "workers" need a restart: a change to them is refused too,
 * and so is a config without keys on a non-loopback address (the rule of
 * aigw_server_start).
 * The new client takes the old one's log and credential callbacks. Any
 * thread but the workers'; not async-signal-safe. */
AIGW_EXTERN aigw_status aigw_server_reload(aigw_server *server, const char *config_path,
                                           aigw_error **err);
/* Graceful shutdown: stop accepting, answer 503 to new requests on open
 * connections, let in-flight requests finish within deadline_ms (then
 * close them and cancel their upstream requests). A second call closes
 * everything at once. Returns at once; any thread; async-signal-safe. */
AIGW_EXTERN void aigw_server_shutdown(aigw_server *server, uint64_t deadline_ms);
/* Blocks until every worker has stopped (after a shutdown). */
AIGW_EXTERN aigw_status aigw_server_wait(aigw_server *server);
/* Shuts down at once if still running, waits, frees. NULL is a no-op. */
AIGW_EXTERN void aigw_server_free(aigw_server *server);

#ifdef __cplusplus
}
#endif

#endif
