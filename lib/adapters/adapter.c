/* SPDX-License-Identifier: Apache-2.0 */
/* The table of adapters by schema name. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/anthropic.h"

static const aigw__adapter *const adapters[] = {
    &aigw__adapter_openai,        &aigw__adapter_mock,         &aigw__adapter_anthropic,
    &aigw__adapter_gcp_anthropic, &aigw__adapter_azure_openai, &aigw__adapter_bedrock,
    &aigw__adapter_gemini,        &aigw__adapter_vertex,
};

const aigw__adapter *aigw__adapter_find(const char *schema) {
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        if (strcmp(adapters[i]->schema, schema) == 0)
            return adapters[i];
    return NULL;
}

static char schema_names[256];
static pthread_once_t schema_names_once = PTHREAD_ONCE_INIT;

static void list_schema_names(void) {
    size_t used = 0;
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++) {
        int n = snprintf(schema_names + used, sizeof schema_names - used, "%s%s", i ? ", " : "",
                         adapters[i]->schema);
        if (n < 0 || (size_t)n >= sizeof schema_names - used)
            break;
        used += (size_t)n;
    }
}

const char *aigw__adapter_schema_names(void) {
    pthread_once(&schema_names_once, list_schema_names);
    return schema_names;
}

void aigw__upstream_request_free(aigw__upstream_request *req) {
    aigw__buf_free(&req->url);
    aigw__buf_free(&req->body);
    curl_slist_free_all(req->headers);
    req->headers = NULL;
}
