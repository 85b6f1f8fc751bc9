/* SPDX-License-Identifier: Apache-2.0 */
/* An in-process gateway (aigw_server_start) for the serve tests: a client
 * from a config string, its server on a free loopback port, and the stop. */
#ifndef AIGW_TEST_GATEWAY_H
#define AIGW_TEST_GATEWAY_H

#include "aigw/aigw.h"

/* A client from CONFIG (JSON); the test fails with the library's message
 * and the config when it is refused. */
aigw_client *aigw_test_client_new(const char *config);

/* Starts CLIENT's gateway on 127.0.0.1, a free port, with 2 workers; the
 * test fails when it does not start. Sets *port (> 0). */
aigw_server *aigw_test_gateway_start(aigw_client *client, int *port);

/* Shuts SERVER down (requests in flight get DEADLINE_MS), waits for it and
 * frees it; NULL: nothing. Returns what aigw_server_wait() returned. */
aigw_status aigw_test_gateway_stop(aigw_server *server, uint64_t deadline_ms);

/* HEX (65 bytes) gets the SHA-256 of KEY in lower-case hex, as
 * gateway.keys[].sha256 holds a gateway key. */
void aigw_test_key_sha256(const char *key, char hex[65]);

#endif
