/* SPDX-License-Identifier: Apache-2.0 */
/* The router: which backend serves a model name. */
#ifndef AIGW_ROUTER_ROUTER_H
#define AIGW_ROUTER_ROUTER_H

#include "core/client_internal.h"

/* "provider/model" picks the backend named `provider` and the upstream model
 * "model" (which may itself contain '/'); a bare name goes to the default
 * backend unchanged. AIGW_ENOBACKEND names the unknown provider. */
aigw_status aigw__route_direct(const aigw_client *client, const char *model,
                               const aigw__backend **backend, const char **upstream_model,
                               aigw_error **err);

#endif
