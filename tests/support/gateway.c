/* SPDX-License-Identifier: Apache-2.0 */
/* An in-process gateway for a test; see gateway.h. */
#include "gateway.h"

#include <criterion/criterion.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

aigw_client *aigw_test_client_new(const char *config) {
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_client_new_from_string(&client, config, &err), AIGW_OK, "%s\n%s",
                 aigw_error_message(err), config);
    return client;
}

aigw_server *aigw_test_gateway_start(aigw_client *client, int *port) {
    aigw_server *server = NULL;
    aigw_error *err = NULL;
    aigw_serve_options o = AIGW_SERVE_OPTIONS_INIT;
    o.listen = "127.0.0.1:0";
    o.workers = 2;
    cr_assert_eq(aigw_server_start(client, &o, &server, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    *port = aigw_server_port(server);
    cr_assert_gt(*port, 0);
    return server;
}

aigw_status aigw_test_gateway_stop(aigw_server *server, uint64_t deadline_ms) {
    if (!server)
        return AIGW_OK;
    aigw_server_shutdown(server, deadline_ms);
    aigw_status st = aigw_server_wait(server);
    aigw_server_free(server);
    return st;
}

void aigw_test_key_sha256(const char *key, char hex[65]) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}
