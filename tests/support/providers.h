/* SPDX-License-Identifier: Apache-2.0 */
/* Every provider schema the simulator speaks, as a backend of a client
 * config, for the tests that make the same calls through each of them
 * (tests/test_providers.c, tests/test_budgets.c). The simulator is started
 * with aigw_test_sim_start_providers (sim.h). */
#ifndef AIGW_TEST_PROVIDERS_H
#define AIGW_TEST_PROVIDERS_H

#include <stddef.h>

typedef struct aigw_test_provider {
    const char *name;    /* backend name, also the model prefix */
    const char *backend; /* the backend's config: the simulator's root URL, then the key */
    const char *model;
    int has_usage_chunk; /* the stream reports usage */
    int cut_after;       /* simulator events before the first content chunk + 1 */
} aigw_test_provider;

#define AIGW_TEST_N_PROVIDERS 7

/* openai, anthropic, azure, gemini, vertex, claude-vertex, bedrock. */
extern const aigw_test_provider aigw_test_providers[AIGW_TEST_N_PROVIDERS];

/* P's backend config (the inside of its JSON object) for the simulator at
 * ROOT ("http://127.0.0.1:PORT") with API key KEY, into out[0..cap). */
void aigw_test_provider_backend(const aigw_test_provider *p, const char *root, const char *key,
                                char *out, size_t cap);

/* A chat request for P's model: a system and a user message (5 words),
 * max_tokens 100, and EXTRA (more members, e.g. ",\"stream\":true"; may be
 * NULL), into out[0..n). */
void aigw_test_provider_chat_request(const aigw_test_provider *p, const char *extra, char *out,
                                     size_t n);

#endif
