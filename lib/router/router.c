/* SPDX-License-Identifier: Apache-2.0 */
/* The router: picks the backend for a request's model name. */
#include "router/router.h"

#include <string.h>

#include "core/buf.h"
#include "core/errors.h"

static void list_backends(const aigw_client *client, aigw__buf *out) {
    for (size_t i = 0; i < client->n_backends; i++)
        aigw__buf_printf(out, "%s%s", i ? ", " : "", client->backends[i].name);
}

aigw_status aigw__route_direct(const aigw_client *client, const char *model,
                               const aigw__backend **backend, const char **upstream_model,
                               aigw_error **err) {
    const char *slash = strchr(model, '/');
    const aigw__backend *b;
    if (slash) {
        b = aigw__client_find_backend(client, model, (size_t)(slash - model));
        *upstream_model = slash + 1;
    } else {
        b = client->default_backend ? aigw__client_find_backend(client, client->default_backend,
                                                                strlen(client->default_backend))
                                    : NULL;
        *upstream_model = model;
    }
    if (b && !**upstream_model)
        return aigw__error_set(err, AIGW_EBADREQUEST, "model \"%s\" names no model after \"%s/\"",
                               model, b->name);
    if (!b) {
        aigw__buf names = AIGW__BUF_INIT;
        list_backends(client, &names);
        if (slash)
            aigw__error_set(err, AIGW_ENOBACKEND,
                            "unknown provider \"%.*s\" in model \"%s\" (backends: %s)",
                            (int)(slash - model), model, model, names.data ? names.data : "none");
        else
            aigw__error_set(err, AIGW_ENOBACKEND,
                            "model \"%s\" has no provider prefix and no default backend is set "
                            "(backends: %s)",
                            model, names.data ? names.data : "none");
        aigw__buf_free(&names);
        return AIGW_ENOBACKEND;
    }
    *backend = b;
    return AIGW_OK;
}
