/* SPDX-License-Identifier: Apache-2.0 */
/* Every provider schema the simulator speaks; see providers.h. */
#include "providers.h"

#include <stdio.h>

/* The backend formats take the root URL, then the key (bedrock signs with
 * SigV4 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead). */
const aigw_test_provider aigw_test_providers[AIGW_TEST_N_PROVIDERS] = {
    {"openai", "\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"api_key\":\"%s\"", "gpt-4o-mini", 1,
     3},
    {"anthropic", "\"schema\":\"anthropic\",\"base_url\":\"%s/anthropic/v1\",\"api_key\":\"%s\"",
     "claude-sonnet-4-5", 1, 4},
    {"azure", "\"schema\":\"azure-openai\",\"base_url\":\"%s\",\"api_key\":\"%s\"", "my-gpt-4o", 1,
     3},
    {"gemini", "\"schema\":\"gemini\",\"base_url\":\"%s/gemini/v1beta\",\"api_key\":\"%s\"",
     "gemini-2.0-flash", 1, 3},
    {"vertex",
     "\"schema\":\"gcp-vertex\",\"base_url\":\"%s/v1\",\"project\":\"proj\",\"location\":"
     "\"us-central1\",\"api_key\":\"%s\"",
     "gemini-2.0-flash", 1, 3},
    {"claude-vertex",
     "\"schema\":\"gcp-anthropic\",\"base_url\":\"%s/v1\",\"project\":\"proj\",\"location\":"
     "\"us-east5\",\"api_key\":\"%s\"",
     "claude-sonnet-4-5@20250929", 1, 4},
    {"bedrock", "\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\",\"base_url\":\"%s\"",
     "anthropic.claude-3-5-sonnet-20240620-v1:0", 1, 3},
};

void aigw_test_provider_backend(const aigw_test_provider *p, const char *root, const char *key,
                                char *out, size_t cap) {
    snprintf(out, cap, p->backend, root, key);
}

void aigw_test_provider_chat_request(const aigw_test_provider *p, const char *extra, char *out,
                                     size_t n) {
    snprintf(out, n,
             "{\"model\":\"%s/%s\",\"max_tokens\":100,\"messages\":["
             "{\"role\":\"system\",\"content\":\"be brief\"},"
             "{\"role\":\"user\",\"content\":\"hello there friend\"}]%s}",
             p->name, p->model, extra ? extra : "");
}
