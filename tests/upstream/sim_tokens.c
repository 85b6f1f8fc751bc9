/* SPDX-License-Identifier: Apache-2.0 */
/* The registry of credentials the simulator issued. */
#include "sim_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

typedef struct issued_token {
    char *issuer;
    char *token;
    long expires_at;
} issued_token;

static issued_token *tokens;
static size_t n_tokens, cap_tokens;
static sim_aws_creds *aws;
static size_t n_aws, cap_aws;
static unsigned long serial;

static void random_chars(char *out, size_t n) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char raw[128];
    if (n > sizeof raw)
        n = sizeof raw;
    if (RAND_bytes(raw, (int)n) != 1)
        abort();
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
}

const char *sim_token_issue(const char *issuer, long lifetime_s) {
    if (n_tokens == cap_tokens) {
        cap_tokens = cap_tokens ? cap_tokens * 2 : 16;
        tokens = realloc(tokens, cap_tokens * sizeof *tokens);
        if (!tokens)
            abort();
    }
    char rnd[25] = {0}, buf[128];
    random_chars(rnd, 24);
    snprintf(buf, sizeof buf, "sim-%s-%lu-%s", issuer, ++serial, rnd);
    issued_token *t = &tokens[n_tokens++];
    t->issuer = strdup(issuer);
    t->token = strdup(buf);
    t->expires_at = (long)time(NULL) + lifetime_s;
    if (!t->issuer || !t->token)
        abort();
    return t->token;
}

int sim_token_valid(const char *token, const char *issuer) {
    if (!token)
        return 0;
    long now = (long)time(NULL);
    for (size_t i = 0; i < n_tokens; i++)
        if (strcmp(tokens[i].token, token) == 0)
            return tokens[i].expires_at > now && (!issuer || strcmp(tokens[i].issuer, issuer) == 0);
    return 0;
}

const sim_aws_creds *sim_aws_issue(long lifetime_s) {
    if (n_aws == cap_aws) {
        cap_aws = cap_aws ? cap_aws * 2 : 8;
        aws = realloc(aws, cap_aws * sizeof *aws);
        if (!aws)
            abort();
    }
    sim_aws_creds *c = &aws[n_aws++];
    memset(c, 0, sizeof *c);
    memcpy(c->access_key_id, "ASIA", 4);
    random_chars(c->access_key_id + 4, 16);
    random_chars(c->secret_access_key, 40);
    memcpy(c->session_token, "FwoGZXIvYXdzE", 13);
    random_chars(c->session_token + 13, 64);
    c->expires_at = (long)time(NULL) + lifetime_s;
    return c;
}

const sim_aws_creds *sim_aws_lookup(const char *access_key_id) {
    long now = (long)time(NULL);
    for (size_t i = 0; access_key_id && i < n_aws; i++)
        if (strcmp(aws[i].access_key_id, access_key_id) == 0)
            return aws[i].expires_at > now ? &aws[i] : NULL;
    return NULL;
}

void sim_tokens_reset(void) {
    for (size_t i = 0; i < n_tokens; i++) {
        free(tokens[i].issuer);
        free(tokens[i].token);
    }
    n_tokens = 0;
    n_aws = 0;
}

void sim_tokens_free(void) {
    sim_tokens_reset();
    free(tokens);
    free(aws);
    tokens = NULL;
    aws = NULL;
    cap_tokens = cap_aws = 0;
}
