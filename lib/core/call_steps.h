/* SPDX-License-Identifier: Apache-2.0 */
/* The steps of the request path that the synchronous (core/call.c) and the
 * asynchronous (core/async.c) APIs share: checking and routing the caller's
 * request, building the upstream request, translating the answer, and the
 * log line each call ends with. */
#ifndef AIGW_CORE_CALL_STEPS_H
#define AIGW_CORE_CALL_STEPS_H

#include <time.h>

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "aigw/client.h"

/* "chat", "chat-stream", "embed", "models". */
const char *aigw__op_name(aigw__op op);

/* Milliseconds since `start` (CLOCK_MONOTONIC). */
double aigw__elapsed_ms(const struct timespec *start);

/* Parses and checks the caller's request (a JSON object with "model", and
 * "messages" or "input" as `op` needs): fills *call, whose ->request is
 * *request (the caller puts it with json_object_put, also on failure).
 * Routing is the policy's (call_policy.h): call->backend is still NULL. */
aigw_status aigw__call_prepare(aigw_client *client, aigw__op op, const char *request_json,
                               json_object **request, aigw__call *call, aigw_error **err);

/* The same for a request already parsed (*request, which the caller still
 * puts). */
aigw_status aigw__call_prepare_object(aigw_client *client, aigw__op op, json_object **request,
                                      aigw__call *call, aigw_error **err);

/* AIGW_ECONFIG naming the reason when the call's backend cannot serve. */
aigw_status aigw__call_check_available(const aigw__call *call, aigw_error **err);

/* The adapter's upstream request for a remote backend, with the backend's
 * configured extra headers; no credentials yet. */
aigw_status aigw__call_build(aigw__call *call, aigw__upstream_request *req, aigw_error **err);

/* Translates a finished transfer: a non-2xx `http_status` becomes the
 * adapter's error; otherwise a stream is finished (`stream_state`) or a
 * whole body parsed into `out`. */
aigw_status aigw__call_translate(aigw__call *call, long http_status, const char *body, size_t len,
                                 void *stream_state, aigw__buf *out, aigw_error **err);

/* The one debug (success) or warning (failure) line a call ends with. */
void aigw__call_log(aigw_client *client, const aigw__call *call, aigw_status st,
                    const struct timespec *start);

#endif
