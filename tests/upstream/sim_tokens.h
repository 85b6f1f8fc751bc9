/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials the simulator hands out from its token endpoints (Entra ID,
 * Google OAuth and STS, generic OIDC, AWS STS and container credentials)
 * and later accepts at its model endpoints. One registry for all
 * providers; the simulator runs one loop thread, so no locking. */
#ifndef SIM_TOKENS_H
#define SIM_TOKENS_H

#include <stddef.h>

/* Issues an opaque bearer token for `issuer` ("entra", "google", "oidc",
 * ...) valid for `lifetime_s` seconds, e.g. "sim-google-7-Xq3...". The
 * string lives as long as the registry. */
const char *sim_token_issue(const char *issuer, long lifetime_s);
/* 1 when `token` was issued (by `issuer`, or by any issuer when NULL) and
 * has not expired. */
int sim_token_valid(const char *token, const char *issuer);

/* AWS temporary credentials (AssumeRoleWithWebIdentity, container
 * credentials): a key id "ASIA...", a secret and a session token. */
typedef struct sim_aws_creds {
    char access_key_id[32];
    char secret_access_key[48];
    char session_token[96];
    long expires_at; /* seconds since the epoch */
} sim_aws_creds;

const sim_aws_creds *sim_aws_issue(long lifetime_s);
/* The unexpired issued credentials with this key id, or NULL. */
const sim_aws_creds *sim_aws_lookup(const char *access_key_id);

/* Forgets everything (tests: POST /sim/reset). */
void sim_tokens_reset(void);
/* Frees everything at exit. */
void sim_tokens_free(void);

#endif
