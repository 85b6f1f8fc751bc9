/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 server that `aigw-cli serve` puts its routes on.
 *
 * Shape. One aigw__http_server listens on one address on the caller's
 * uv_loop_t and runs entirely on that loop's thread; to use several cores,
 * run one loop per worker thread, each with its own server on the same
 * port and `reuseport` set (the kernel then spreads connections over them).
 * Requests are parsed by http_parser (no hand-written HTTP parsing), one at
 * a time per connection: pipelined requests wait in the input buffer until
 * the previous response is complete, so answers always come in order.
 * Request bodies (Content-Length or chunked) are buffered whole before the
 * handler runs; `Expect: 100-continue` is answered with 100 Continue (or
 * 413 at once when the announced length is already too big).
 *
 * Limits (0 in the options means the default):
 *   max_header_bytes   32 KiB  request line + header lines → 431. Big enough
 *                              for long bearer JWTs and cookies; small
 *                              enough that a connection costs little.
 *   max_headers        100     header lines → 431.
 *   max_body_bytes     32 MiB  → 413 (before reading it, when announced).
 *                              Chat requests carry base64 images (OpenAI
 *                              accepts 20 MB per image), so not small.
 *   header_timeout     10 s    from a request's first byte (or from
 *                              accept) to the end of its headers → 408;
 *                              it is not reset by new bytes, so a slowloris
 *                              trickle cannot hold a connection.
 *   request_timeout    60 s    from a request's first byte to the end of
 *                              its body → 408 (slow bodies).
 *   idle_timeout       75 s    keep-alive connection with no request →
 *                              closed silently; longer than the common
 *                              60 s idle timeout of load balancers in
 *                              front, so the server is never the one
 *                              closing under them (nginx's choice).
 *   send_timeout       60 s    no write progress while response bytes are
 *                              queued (client stopped reading) → closed.
 *   max_connections    4096    in total, over every server sharing one
 *                              aigw__http_limits (the gateway's workers);
 *                              one more is answered 503 + Retry-After +
 *                              Connection: close; past that plus 64 (per
 *                              server), simply closed.
 *   max_connections_per_client 256  per peer address, shared likewise → 503.
 *   max_inflight_body_bytes 256 MiB request bodies held at once (from their
 *                              first byte until their response completes),
 *                              shared likewise → 503 + Retry-After (before
 *                              reading, when the Content-Length says so).
 *                              See http_limits.h.
 * Every error the server makes itself has an OpenAI-shaped JSON body
 * {"error":{"message","type","param","code"}}, `Connection: close`, and a
 * lingering close (write side shut, input drained for up to 2 s) so the
 * client reads the answer instead of a reset.
 *
 * The handler. It is called on the loop thread once per request, with the
 * request (valid until the response is complete) and the response. It may
 * answer at once or later, from any loop callback, but always on the loop
 * thread, and must complete every response exactly once: either whole with
 * aigw__http_response_send() / _send_error(), or streaming with _start()
 * (headers, then Transfer-Encoding: chunked), any number of _write()s (each
 * one chunk) and _end(). Nothing waits for more: what a loop iteration's
 * callbacks wrote to a connection (a head and its body, several SSE events)
 * leaves in one write() at the end of that iteration's I/O phase (or, if
 * written outside it, before the loop next waits). Before completing it may add
 * headers. It may register a disconnect callback: called once if the
 * client goes (or the server is force-closed) before the response is
 * complete — the moment to cancel the upstream request. The request and
 * response stay valid after that until the handler completes the response
 * (writes then return AIGW_ECANCELED and do nothing); completing frees
 * them. A response the handler never completes is leaked.
 *
 * Shutdown. aigw__http_server_shutdown() stops accepting, closes idle
 * connections, lets in-flight requests finish (their responses get
 * Connection: close) until the deadline, then closes everything; a second
 * call closes everything at once. When the last handle is closed the
 * on_closed callback runs and the server is freed. */
#ifndef AIGW_SERVER_HTTP_SERVER_H
#define AIGW_SERVER_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "aigw/error.h"
#include "aigw/status.h"

typedef struct aigw__http_server aigw__http_server;
typedef struct aigw__http_limits aigw__http_limits;
typedef struct aigw__http_response aigw__http_response;

typedef struct aigw__http_header {
    const char *name; /* lowercased */
    const char *value;
} aigw__http_header;

typedef struct aigw__http_request {
    const char *method; /* "GET", "POST", ... */
    const char *target; /* as sent: "/v1/chat/completions?x=1" */
    const char *path;   /* the target up to '?' or '#' */
    const char *query;  /* after '?' (without it), or NULL */
    int http_major, http_minor;
    const aigw__http_header *headers;
    size_t nheaders;
    const char *body; /* NUL-terminated; "" when there is none */
    size_t body_len;
    const char *remote_addr; /* the peer's IP address */
} aigw__http_request;

typedef void (*aigw__http_handler)(aigw__http_request *req, aigw__http_response *res, void *user);
typedef void (*aigw__http_disconnect_cb)(aigw__http_response *res, void *data);
typedef void (*aigw__http_closed_cb)(void *data);

typedef struct aigw__http_server_options {
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body_bytes;
    uint64_t header_timeout_ms;
    uint64_t request_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t send_timeout_ms;
    unsigned int max_connections;
    unsigned int max_connections_per_client;
    size_t max_inflight_body_bytes;
    int backlog;   /* 0 → 511 */
    int reuseport; /* SO_REUSEPORT: several servers (loops) on one port */
    /* Connection and body limits shared with other servers (a reference is
     * taken; max_connections* and max_inflight_body_bytes above are then
     * ignored: the shared object's apply). NULL: the server's own. */
    aigw__http_limits *shared;
} aigw__http_server_options;

/* Creates a server listening on host:port ("127.0.0.1", "::1", "0.0.0.0",
 * "localhost"; NULL → 127.0.0.1; port 0 → any free port). opts may be NULL. */
aigw_status aigw__http_server_new(uv_loop_t *loop, const char *host, int port,
                                  const aigw__http_server_options *opts, aigw__http_handler handler,
                                  void *user, aigw__http_server **out, aigw_error **err);
/* The port actually bound. */
int aigw__http_server_port(const aigw__http_server *srv);
/* Connections currently open on this server (answered-503 ones excluded). */
unsigned int aigw__http_server_connections(const aigw__http_server *srv);
/* Graceful stop, see above. deadline_ms 0 closes at once. on_closed (may be
 * NULL) runs once, after which srv is freed. A second call forces the close
 * (its callback arguments are ignored). */
void aigw__http_server_shutdown(aigw__http_server *srv, uint64_t deadline_ms,
                                aigw__http_closed_cb on_closed, void *data);

/* First header of that name (case-insensitive), or NULL. */
const char *aigw__http_request_header(const aigw__http_request *req, const char *name);

/* Adds a response header; before send/start only. Names and values with
 * CR, LF or NUL are refused (AIGW_EINVAL). */
aigw_status aigw__http_response_header(aigw__http_response *res, const char *name,
                                       const char *value);
/* Whole answer; completes the response. content_type may be NULL. */
aigw_status aigw__http_response_send(aigw__http_response *res, int status, const char *content_type,
                                     const void *body, size_t len);
/* {"error":{"message","type","param","code"}}; type NULL picks one from the
 * status; param and code may be NULL (JSON null). Completes the response. */
aigw_status aigw__http_response_send_error(aigw__http_response *res, int status, const char *type,
                                           const char *message, const char *param,
                                           const char *code);
/* Streaming: the status line and headers now, then chunked writes. */
aigw_status aigw__http_response_start(aigw__http_response *res, int status,
                                      const char *content_type);
aigw_status aigw__http_response_write(aigw__http_response *res, const void *data, size_t len);
/* Ends a started response (the last chunk); completes it. */
aigw_status aigw__http_response_end(aigw__http_response *res);
/* cb runs at most once, if the client goes before the response completes. */
void aigw__http_response_on_disconnect(aigw__http_response *res, aigw__http_disconnect_cb cb,
                                       void *data);
/* Whether the client is still there. */
int aigw__http_response_connected(const aigw__http_response *res);
/* Bytes written but not yet taken by the kernel (for backpressure). */
size_t aigw__http_response_pending(const aigw__http_response *res);

/* ---- http_response.c: framing, shared by the server ---- */

typedef struct aigw__buf aigw__buf;
/* Appends "HTTP/1.1 <status> <reason>\r\nDate: ...\r\n". */
aigw_status aigw__http_status_line(aigw__buf *b, int status);
/* The reason phrase, "Unknown" if none. */
const char *aigw__http_reason(int status);
/* The OpenAI error type for an HTTP status. */
const char *aigw__http_error_type(int status);
/* The JSON error body into b. */
aigw_status aigw__http_error_json(aigw__buf *b, const char *type, const char *message,
                                  const char *param, const char *code);
/* Whether a header name or value is safe to emit (no CR, LF, NUL; names
 * also no ':' or space). */
int aigw__http_header_ok(const char *s, int is_name);

#endif
