/* SPDX-License-Identifier: Apache-2.0 */
/* Creating and freeing clients. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/file.h"
#include "core/json.h"
#include "transport/transport.h"

/* Config files larger than this are refused: a config is never that big. */
#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)

aigw_status aigw_client_options_init(aigw_client_options *opts, unsigned int version) {
    if (!opts || version < 1 || version > AIGW_CLIENT_OPTIONS_VERSION)
        return AIGW_EINVAL;
    aigw_client_options defaults = AIGW_CLIENT_OPTIONS_INIT;
    defaults.version = version;
    /* A version-1 struct ends before credential_cb. */
    memcpy(opts, &defaults,
           version == 1 ? offsetof(aigw_client_options, credential_cb) : sizeof defaults);
    return AIGW_OK;
}

static aigw_status read_file(const char *path, aigw__buf *out, aigw_error **err) {
    int e = aigw__file_read(path, MAX_CONFIG_BYTES, out, NULL);
    if (e == EFBIG)
        return aigw__error_set(err, AIGW_ECONFIG, "config file %s: larger than %u bytes", path,
                               MAX_CONFIG_BYTES);
    if (e == ENOMEM)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (e)
        return aigw__error_set(err, AIGW_EIO, "config file %s: %s", path, aigw__file_strerror(e));
    return AIGW_OK;
}

void aigw_client_free(aigw_client *client) {
    if (!client)
        return;
    aigw__async_forget_client(client);
    for (size_t i = 0; i < client->n_backends; i++)
        aigw__backend_free(&client->backends[i]);
    aigw__free(client->backends);
    aigw__free(client->default_backend);
    aigw__transport_free(client->transport);
    json_object_put(client->gateway);
    aigw__client_free_policy(client);
    aigw__free(client);
}

aigw_status aigw_client_new(aigw_client **out, const aigw_client_options *opts, aigw_error **err) {
    if (!out)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_client_new: out is NULL");
    *out = NULL;
    aigw_client_options defaults = AIGW_CLIENT_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    if (opts->version < 1 || opts->version > AIGW_CLIENT_OPTIONS_VERSION)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_client_new: unknown options version %u",
                               opts->version);
    if (opts->config_path && opts->config_json)
        return aigw__error_set(err, AIGW_EINVAL,
                               "aigw_client_new: give config_path or config_json, not both");

    aigw_status st = AIGW_OK;
    aigw__buf text = AIGW__BUF_INIT;
    json_object *config = NULL;
    aigw_client *client = aigw__calloc(1, sizeof *client);
    if (!client) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    aigw_client_options_init(&client->options, AIGW_CLIENT_OPTIONS_VERSION);
    memcpy(&client->options, opts,
           opts->version == 1 ? offsetof(aigw_client_options, credential_cb)
                              : sizeof client->options);
    client->options.version = AIGW_CLIENT_OPTIONS_VERSION;
    client->options.config_path = client->options.config_json = NULL;
    client->logger.cb = opts->log_cb;
    client->logger.user = opts->log_user;
    client->logger.level = opts->log_level;
    client->cred_ctx.logger = &client->logger;
    if (opts->version >= 2) {
        client->cred_ctx.callback = opts->credential_cb;
        client->cred_ctx.callback_user = opts->credential_user;
    }

    if (opts->config_path) {
        if ((st = read_file(opts->config_path, &text, err)))
            goto out;
    } else if (opts->config_json && (st = aigw__buf_puts(&text, opts->config_json))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    if (opts->config_path || opts->config_json) {
        if ((st = aigw__json_parse(text.data ? text.data : "", text.len, "config", AIGW_ECONFIG,
                                   &config, err)) ||
            (st = aigw__config_expand_env(config, err)) ||
            (st = aigw__config_load(client, config, err)))
            goto out;
    } else if ((st = aigw__config_add_env_backends(client, err))) {
        goto out;
    }
    if ((st = aigw__transport_new(&client->transport, err)))
        goto out;
    aigw__log(&client->logger, AIGW_LOG_INFO, "client ready: %zu backends, default %s",
              client->n_backends, client->default_backend ? client->default_backend : "none");
    *out = client;
    client = NULL;
out:
    json_object_put(config);
    aigw__buf_free(&text);
    aigw_client_free(client);
    return st;
}

aigw_status aigw_client_new_from_file(aigw_client **out, const char *path, aigw_error **err) {
    if (!path)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_client_new_from_file: path is NULL");
    aigw_client_options opts = AIGW_CLIENT_OPTIONS_INIT;
    opts.config_path = path;
    return aigw_client_new(out, &opts, err);
}

aigw_status aigw_client_new_from_string(aigw_client **out, const char *config_json,
                                        aigw_error **err) {
    if (!config_json)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_client_new_from_string: config is NULL");
    aigw_client_options opts = AIGW_CLIENT_OPTIONS_INIT;
    opts.config_json = config_json;
    return aigw_client_new(out, &opts, err);
}

aigw_status aigw_client_new_from_env(aigw_client **out, aigw_error **err) {
    return aigw_client_new(out, NULL, err);
}
