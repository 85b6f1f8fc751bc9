/* The table of adapters by schema name. */
#include <string.h>

#include "adapters/adapter.h"

static const aigw__adapter *const adapters[] = {
    &aigw__adapter_openai,
    &aigw__adapter_mock,
    &aigw__adapter_azure_openai,
};

const aigw__adapter *aigw__adapter_find(const char *schema) {
    for (size_t i = 0; i < sizeof adapters / sizeof adapters[0]; i++)
        if (strcmp(adapters[i]->schema, schema) == 0)
            return adapters[i];
    return NULL;
}

void aigw__upstream_request_free(aigw__upstream_request *req) {
    aigw__buf_free(&req->url);
    aigw__buf_free(&req->body);
    curl_slist_free_all(req->headers);
    req->headers = NULL;
}
