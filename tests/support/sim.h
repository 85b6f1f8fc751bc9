/* SPDX-License-Identifier: Apache-2.0 */
/* Starting the provider simulator (tests/upstream) for a test. */
#ifndef AIGW_TEST_SIM_H
#define AIGW_TEST_SIM_H

#include <sys/types.h>

typedef struct aigw_test_sim {
    pid_t pid;
    int port;
    char base_url[64]; /* "http://127.0.0.1:PORT/v1" */
} aigw_test_sim;

/* Starts aigw-sim on a free loopback port with the given extra arguments
 * (NULL-terminated array, may be NULL), e.g. {"--api-key", "sk-test", NULL}.
 * Returns 0 when it is listening. The simulator also dies with the test
 * process and after a time limit, so it never outlives a run. */
int aigw_test_sim_start(aigw_test_sim *sim, const char *const *extra_args);
void aigw_test_sim_stop(aigw_test_sim *sim);

/* Starts aigw-sim for the tests of every provider: KEY is its API key and
 * bearer token, and its AWS keys (AKIDSIMULATOR and a secret) are also put
 * in this process's environment for SigV4 signing (AWS_SESSION_TOKEN
 * unset). The test fails when it does not start. */
void aigw_test_sim_start_providers(aigw_test_sim *sim, const char *key);

#endif
