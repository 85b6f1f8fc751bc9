/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — the asynchronous API on a libuv loop.
 *
 * Opt-in: <aigw/aigw.h> does not include this header, so programs that use
 * the synchronous API alone need no libuv headers. This one includes
 * <uv.h> (from libuv1-dev): build with `pkg-config --cflags --libs
 * aigw-async`, or link CMake's aigw::async (aigw::async_static). Under a
 * strict -std=c11, <uv.h> needs POSIX declarations (pthread_rwlock_t):
 * compile with -D_POSIX_C_SOURCE=200809L, or use -std=gnu11. C++ needs
 * nothing more.
 *
 * Each call starts a request on the caller's uv_loop_t and returns at once;
 * libcurl's multi_socket interface drives every transfer from that loop, so
 * thousands of requests run on one thread. Callbacks run on the loop's
 * thread. A call that returns an error never fires its callbacks; one that
 * returns AIGW_OK fires `done` exactly once (after any chunks), also when
 * the request is canceled (AIGW_ECANCELED).
 *
 * THREADING: a loop belongs to one thread; call these functions, and
 * aigw_request_cancel, only from that loop's thread. Several loops (one
 * per thread) may share one client. Before closing a loop, let every
 * request on it finish or cancel it, then call aigw_loop_release() and run
 * the loop until it has no more handles.
 *
 * What is checked before a call returns (and so returned, with no callback):
 * the arguments, the request JSON, the route, the backend's availability,
 * the adapter's translation, and credentials that need no I/O (API keys,
 * fixed values, the application's aigw_credential_cb, which runs on the
 * loop's thread). OAuth2/OIDC bearer tokens and AWS credentials kept by a
 * refresher are applied on the library's own small thread pool (never
 * libuv's default one, which the application shares; AIGW_WORK_THREADS
 * threads per kind of work, default 4), since a refresh may block; their
 * failure (AIGW_EAUTH) arrives through `done`.
 * So do budget reservations and settlements in a Redis store (the call's,
 * and each attempt's for budgets scoped on backend).
 * Failures after the call returns map exactly as the synchronous API maps
 * them (refused connection AIGW_ECONNECT, timeout AIGW_ETIMEOUT, cut-off
 * answer AIGW_ETRUNCATED, non-2xx the provider's error), and, as with
 * aigw_chat_stream, chunks may already have been delivered when `done`
 * reports a failure.
 *
 * Callbacks may start new requests and cancel requests on the same loop;
 * they must not free the client. Each engine (client, loop) has its own
 * curl multi handle and connection cache. */
#ifndef AIGW_ASYNC_H
#define AIGW_ASYNC_H

#include <uv.h>

#include "call.h"
#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An in-flight asynchronous request; valid until its `done` callback
 * returns. */
typedef struct aigw_request aigw_request;

/* The end of a request: status AIGW_OK with the whole response (NULL for a
 * stream), or the failure with its detail. Both pointers are valid only
 * during the call. */
typedef void (*aigw_done_cb)(aigw_status status, const char *response_json, const aigw_error *err,
                             void *user);

/* Chunks of a stream, as aigw_chunk_cb (chat.h): return non-zero to stop
 * (done then reports AIGW_ESTOPPED). */
typedef int (*aigw_async_chunk_cb)(const char *chunk_json, size_t len, void *user);

AIGW_EXTERN aigw_status aigw_chat_async(aigw_client *client, uv_loop_t *loop,
                                        const char *request_json, aigw_done_cb done, void *user,
                                        aigw_request **request, aigw_error **err);
AIGW_EXTERN aigw_status aigw_chat_stream_async(aigw_client *client, uv_loop_t *loop,
                                               const char *request_json,
                                               aigw_async_chunk_cb on_chunk, aigw_done_cb done,
                                               void *user, aigw_request **request,
                                               aigw_error **err);
AIGW_EXTERN aigw_status aigw_embed_async(aigw_client *client, uv_loop_t *loop,
                                         const char *request_json, aigw_done_cb done, void *user,
                                         aigw_request **request, aigw_error **err);

/* aigw_call() (call.h) on a loop: op AIGW_OP_CHAT_STREAM needs on_chunk.
 * opts' strings and headers are copied; opts->info must stay valid until
 * `done` has run. */
AIGW_EXTERN aigw_status aigw_call_async(aigw_client *client, uv_loop_t *loop, aigw_op op,
                                        const char *request_json, const aigw_call_options *opts,
                                        aigw_async_chunk_cb on_chunk, aigw_done_cb done, void *user,
                                        aigw_request **request, aigw_error **err);

/* Cancels a request: its transfer stops and `done` fires with
 * AIGW_ECANCELED (from the loop, not from inside this call). A request
 * whose `done` already ran must not be passed. NULL is a no-op. */
AIGW_EXTERN void aigw_request_cancel(aigw_request *request);

/* Releases what `client` keeps on `loop` (the curl multi handle, the timer,
 * the sockets' pollers); call it once no request of the client runs on the
 * loop, before aigw_client_free, then run the loop so the handles close. */
AIGW_EXTERN void aigw_loop_release(aigw_client *client, uv_loop_t *loop);

#ifdef __cplusplus
}
#endif

#endif
