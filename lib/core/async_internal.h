/* SPDX-License-Identifier: Apache-2.0 */
/* The async API's entry for the gateway (core/async.c). */
#ifndef AIGW_CORE_ASYNC_INTERNAL_H
#define AIGW_CORE_ASYNC_INTERNAL_H

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "aigw/async.h"
#include "core/buf.h"
#include "core/call_access.h"

/* aigw_call_async with the request already parsed (`request` is taken,
 * also on failure): the gateway parses each body once. `access` (may be
 * NULL; read during the call only) is what the caller may reach. */
aigw_status aigw__call_async_parsed(aigw_client *client, uv_loop_t *loop, aigw__op op,
                                    json_object *request, const aigw_call_options *opts,
                                    const aigw__call_access *access, aigw_async_chunk_cb on_chunk,
                                    aigw_done_cb done, void *user, aigw_request **out,
                                    aigw_error **err);

/* ---- model listing (core/models_async.c) ----
 *
 * GET /v1/models without blocking a thread: each listable backend is asked
 * through the (client, loop) engine's curl multi, like any async call, but
 * with no routing, budgets or retries, and each within
 * AIGW__MODELS_TIMEOUT_MS (or the backend's timeout, if shorter) so a
 * frozen backend cannot hold a listing for the backend's full timeout. */
#define AIGW__MODELS_TIMEOUT_MS 15000L

/* A backend listing's end: on success `out` holds the backend's list
 * (JSON text), on failure *err the error; the callback may take either
 * (aigw__buf_detach, or *err = NULL). */
typedef void (*aigw__models_done_cb)(aigw_status st, aigw__buf *out, aigw_error **err, void *user);

/* Lists one backend's models (AIGW__OP_MODELS) asynchronously: as
 * aigw_chat_async, `done` fires once from a loop callback, never before
 * this returns, and `request` may be canceled until then. */
aigw_status aigw__backend_models_async(aigw_client *client, uv_loop_t *loop,
                                       const aigw__backend *backend, aigw__models_done_cb done,
                                       void *user, aigw_request **request, aigw_error **err);

typedef struct aigw__models_list aigw__models_list;

/* What aigw_models(client, NULL, ...) answers, asynchronously: with routes,
 * their model names (no upstream call); otherwise every listable backend's
 * list, asked concurrently and merged in backend order. `done` is called
 * exactly once — before this returns when no backend need be asked (routes,
 * no listable backend, a failure before anything started) — with the JSON
 * text or the error aigw_models would give (the first backend failure;
 * the other backends' listings are then canceled). *out (may be NULL) gets
 * the running listing, valid until `done`, or NULL when `done` has already
 * run. */
void aigw__models_async(aigw_client *client, uv_loop_t *loop, aigw_done_cb done, void *user,
                        aigw__models_list **out);

/* Stops a listing: `done` fires (AIGW_ECANCELED) once the backends' calls
 * have ended. Only before `done`. */
void aigw__models_cancel(aigw__models_list *l);

/* The model list the routes serve (their plain model names as OpenAI
 * model objects), as JSON text into *json (aigw__free). aigw_models and
 * the gateway both answer with it. */
aigw_status aigw__models_of_routes(const aigw_client *client, char **json, aigw_error **err);

/* Appends the "data" entries of one backend's model list to `all`. */
aigw_status aigw__models_merge(const char *list_json, size_t len, json_object *all,
                               aigw_error **err);

#endif
