/* SPDX-License-Identifier: Apache-2.0 */
/* The simulator's OAuth2 token endpoints (sim_oauth.c): Azure Entra ID
 * (/entra/{tenant}/oauth2/v2.0/token) and a generic OIDC provider
 * (/oidc/token), plus the --fault-token-endpoints faults, which every token
 * endpoint of the simulator (Entra, OIDC, Google, AWS STS...) can share. */
#ifndef SIM_OAUTH_H
#define SIM_OAUTH_H

#include <stddef.h>

#include "sim_http.h"

/* Handles one command-line option of the token endpoints (--entra-*,
 * --oidc-*, --fault-token-endpoints). Returns 1 when it
 * took FLAG, 0 when FLAG is not one of them, -1 (after a message on stderr)
 * when VALUE is bad. */
int sim_oauth_option(const char *flag, const char *value);
void sim_oauth_register(void);

/* --token-lifetime (sim_main.c; default 3600): how long issued tokens live. */
long sim_token_lifetime(void);
void sim_oauth_set_token_lifetime(long seconds);

/* For any token endpoint: applies the --fault-token-endpoints spec while
 * its count lasts (every token request counts, on whichever endpoint).
 * Delivery faults (latency_ms, trickle_*, cut_after) are set on RES and 0
 * is returned; when the fault takes the place of the answer (status, close,
 * malformed), RES is filled (errors through ERROR, the endpoint's own
 * shape) and 1 is returned. */
int sim_token_fault_apply(sim_response *res,
                          void (*error)(sim_response *res, int status, const char *message));

#endif
