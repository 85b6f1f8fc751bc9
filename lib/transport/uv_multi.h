/* SPDX-License-Identifier: Apache-2.0 */
/* The libuv glue for libcurl's multi_socket interface: one curl multi
 * handle driven by one uv loop, shaped like curl's docs/examples/multi-uv.c
 * without its known faults:
 *
 *  - a negative uv_poll status is passed to curl as CURL_CSELECT_ERR;
 *  - every handle finds its context through ->data, never by casting one
 *    struct to another;
 *  - curl is never called from inside the timer callback curl invoked: that
 *    callback only (re)starts a uv_timer — or, for a timeout of 0, a
 *    uv_prepare, so "now" runs before the loop next waits — whose own
 *    callback later calls curl_multi_socket_action;
 *  - each socket's uv_poll_t is stopped, uv_close()d and freed in its close
 *    callback, and the multi frees itself only after every handle closed.
 *
 * Everything here runs on the loop's thread. */
#ifndef AIGW_TRANSPORT_UV_MULTI_H
#define AIGW_TRANSPORT_UV_MULTI_H

#include <curl/curl.h>
#include <uv.h>

#include "aigw/status.h"

typedef struct aigw__uv_multi aigw__uv_multi;

/* A transfer finished (`rc` is its result): the easy handle has already been
 * removed from the multi and belongs to the callee again. Called from a
 * uv callback, never from inside a curl callback, so it may add, remove
 * and clean up easy handles and call aigw__uv_multi_close. */
typedef void (*aigw__uv_multi_done_fn)(CURL *easy, CURLcode rc, void *user);

aigw_status aigw__uv_multi_new(uv_loop_t *loop, aigw__uv_multi_done_fn done, void *user,
                               aigw__uv_multi **out);

/* Starts a transfer. Not from inside a curl callback (a write callback,
 * say): curl refuses recursive calls. Sets the easy handle's
 * CURLOPT_OPENSOCKETFUNCTION and CURLOPT_CLOSESOCKETFUNCTION (and their
 * data): the multi opens and closes its connections' sockets itself, so
 * that a kept-alive connection's uv_poll can stay registered between
 * transfers. The multi keeps up to 256 idle connections
 * (CURLMOPT_MAXCONNECTS). */
CURLMcode aigw__uv_multi_add(aigw__uv_multi *m, CURL *easy);

/* Stops a transfer without reporting it; the easy handle is the caller's
 * again. Not from inside a curl callback. */
void aigw__uv_multi_remove(aigw__uv_multi *m, CURL *easy);

/* Number of transfers added and not yet finished or removed. */
size_t aigw__uv_multi_running(const aigw__uv_multi *m);

/* Cleans up the multi handle (no transfer may be left) and closes the timer
 * and the pollers; the memory goes when the last close callback ran, so run
 * the loop afterwards. From a done callback, the close happens once that
 * dispatch is over. */
void aigw__uv_multi_close(aigw__uv_multi *m);

#endif
