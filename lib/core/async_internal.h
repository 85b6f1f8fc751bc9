/* SPDX-License-Identifier: Apache-2.0 */
/* The async API's entry for the gateway (core/async.c). */
#ifndef AIGW_CORE_ASYNC_INTERNAL_H
#define AIGW_CORE_ASYNC_INTERNAL_H

#include <json-c/json.h>

#include "adapters/adapter.h"
#include "aigw/async.h"
#include "core/call_access.h"

/* aigw_call_async with the request already parsed (`request` is taken,
 * also on failure): the gateway parses each body once. `access` (may be
 * NULL; read during the call only) is what the caller may reach. */
aigw_status aigw__call_async_parsed(aigw_client *client, uv_loop_t *loop, aigw__op op,
                                    json_object *request, const aigw_call_options *opts,
                                    const aigw__call_access *access, aigw_async_chunk_cb on_chunk,
                                    aigw_done_cb done, void *user, aigw_request **out,
                                    aigw_error **err);

#endif
