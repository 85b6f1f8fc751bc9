/* SPDX-License-Identifier: Apache-2.0 */
/* Several provider simulators at once, one per backend, for the routing
 * tests (tests/test_routing*.c): start and stop them together, make one
 * fail and recover (its default fault, POST /sim/fault), and read what
 * reached it (GET /sim/requests, GET /sim/last-request). */
#ifndef AIGW_TEST_SIM_POOL_H
#define AIGW_TEST_SIM_POOL_H

#include <stddef.h>

#include "proc.h" /* aigw_test_now_ms */
#include "sim.h"

/* Starts N simulators on free loopback ports with the same extra arguments
 * (may be NULL). Returns 0 when all listen; on failure none is left
 * running. */
int aigw_test_sims_start(aigw_test_sim *sims, size_t n, const char *const *extra_args);
void aigw_test_sims_stop(aigw_test_sim *sims, size_t n);

/* Sets SIM's default fault to SPEC ("status=503", "close=1",
 * "status=429,retry_after=1,count=1"); "" or NULL clears it. The test fails
 * when the simulator refuses it. */
void aigw_test_sim_fault(const aigw_test_sim *sim, const char *spec);

/* Provider requests SIM has seen since its start or last reset. */
long aigw_test_sim_count(const aigw_test_sim *sim);

/* Expects sims[0], sims[1] and sims[2] to have seen a, b and c provider
 * requests, in one check whose message gives all six numbers. */
void aigw_test_sims_expect_counts(const aigw_test_sim *sims, long a, long b, long c);

/* Zeroes SIM's count and forgets its last request (the fault stays). */
void aigw_test_sim_reset(const aigw_test_sim *sim);

/* The "model" of the JSON body of SIM's last provider request, into
 * out[0..cap) ("" when none). */
void aigw_test_sim_last_model(const aigw_test_sim *sim, char *out, size_t cap);
/* The same for the body's string member `field` ("" when absent). */
void aigw_test_sim_last_field(const aigw_test_sim *sim, const char *field, char *out, size_t cap);

/* A loopback port nothing listens on: a socket bound to it, never
 * listening, so that connecting is refused and no other process can take
 * the port meanwhile. Returns the port and sets *fd (close it at the end),
 * or -1. */
int aigw_test_dead_port(int *fd);

/* Sleeps until aigw_test_now_ms() >= t (returns at once if it is past). */
void aigw_test_sleep_until(double t);

/* Writes TEXT to PATH atomically (a temporary file renamed over it).
 * Returns 0 or -1. */
int aigw_test_write_file_atomic(const char *path, const char *text);

#endif
