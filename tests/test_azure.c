/* SPDX-License-Identifier: Apache-2.0 */
/* The azure-openai adapter: deployment URLs, api-version, the api-key
 * header, the zero-config variables, and OpenAI-format answers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "aigw/aigw.h"
#include "core/client_internal.h"
#include "core/json.h"
#include "router/router.h"

static int has_header(struct curl_slist *h, const char *line) {
    for (; h; h = h->next)
        if (strcmp(h->data, line) == 0)
            return 1;
    return 0;
}

/* Routes `request` on `client` and builds its upstream request. */
static void build(aigw_client *client, aigw__op op, const char *request, aigw__upstream_request *up,
                  json_object **parsed) {
    aigw__call call = {.op = op};
    cr_assert_eq(
        aigw__json_parse(request, strlen(request), "request", AIGW_EBADREQUEST, parsed, NULL),
        AIGW_OK);
    call.request = *parsed;
    cr_assert_eq(aigw__route_direct(client, aigw__json_get_string(*parsed, "model"), &call.backend,
                                    &call.model, NULL),
                 AIGW_OK);
    cr_assert_eq(call.backend->adapter->build(&call, up, NULL), AIGW_OK);
    cr_assert_eq(aigw__credential_apply(&call.backend->credential, call.backend, up, NULL),
                 AIGW_OK);
}

Test(azure, deployment_url_api_version_and_api_key_header) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(
                     &c,
                     "{\"backends\":{\"az\":{\"schema\":\"azure-openai\",\"base_url\":"
                     "\"https://res.openai.azure.com/\",\"api_key\":\"azkey\",\"api_version\":"
                     "\"2024-06-01\"}}}",
                     &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    aigw__upstream_request up = {0};
    json_object *req = NULL;
    build(c, AIGW__OP_CHAT,
          "{\"model\":\"az/my gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &up,
          &req);
    cr_assert_str_eq(up.url.data, "https://res.openai.azure.com/openai/deployments/my%20gpt/"
                                  "chat/completions?api-version=2024-06-01");
    cr_assert(has_header(up.headers, "api-key: azkey"));
    cr_assert_not(has_header(up.headers, "Authorization: Bearer azkey"));
    aigw__upstream_request_free(&up);
    json_object_put(req);

    memset(&up, 0, sizeof up);
    build(c, AIGW__OP_EMBED, "{\"model\":\"az/emb\",\"input\":\"x\"}", &up, &req);
    cr_assert_str_eq(up.url.data, "https://res.openai.azure.com/openai/deployments/emb/"
                                  "embeddings?api-version=2024-06-01");
    aigw__upstream_request_free(&up);
    json_object_put(req);
    aigw_client_free(c);
}

Test(azure, api_version_belongs_to_azure_only) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c,
                                             "{\"backends\":{\"o\":{\"schema\":\"openai\","
                                             "\"base_url\":\"http://x\",\"api_version\":\"1\"}}}",
                                             &e),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "only for schema azure-openai"));
    aigw_error_free(e);
}

Test(azure, zero_config_from_the_sdk_variables) {
    setenv("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com", 1);
    setenv("AZURE_OPENAI_API_KEY", "envkey", 1);
    setenv("OPENAI_API_VERSION", "2025-01-01-preview", 1);
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new_from_env(&c, NULL), AIGW_OK);
    aigw__upstream_request up = {0};
    json_object *req = NULL;
    build(c, AIGW__OP_CHAT_STREAM,
          "{\"model\":\"azure/gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &up,
          &req);
    cr_assert_str_eq(up.url.data, "https://env.openai.azure.com/openai/deployments/gpt-4o/chat/"
                                  "completions?api-version=2025-01-01-preview");
    cr_assert(has_header(up.headers, "api-key: envkey"));
    cr_assert(strstr(up.body.data, "\"include_usage\":true"));
    aigw__upstream_request_free(&up);
    json_object_put(req);
    aigw_client_free(c);
}

Test(azure, replay_azure_answer_is_an_openai_answer) {
    /* The body of shared/testdata/openai-recordings/azure-chat-basic.yaml. */
    FILE *f =
        popen("/usr/bin/python3 -c \"import yaml,sys; "
              "d=yaml.safe_load(open(sys.argv[1])); "
              "sys.stdout.write(d['interactions'][0]['response']['body'])\" " AIGW_RECORDINGS_DIR
              "/azure-chat-basic.yaml",
              "r");
    cr_assert_not_null(f);
    char body[16384];
    size_t n = fread(body, 1, sizeof body - 1, f);
    body[n] = '\0';
    cr_assert_eq(pclose(f), 0);
    aigw__backend b = {.name = "azure", .adapter = &aigw__adapter_azure_openai};
    json_object *request = json_object_new_object();
    aigw__call call = {.op = AIGW__OP_CHAT, .backend = &b, .model = "d", .request = request};
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    call.usage = unknown;
    aigw__buf out = AIGW__BUF_INIT;
    cr_assert_eq(b.adapter->parse(&call, body, n, &out, NULL), AIGW_OK);
    cr_assert_str_eq(out.data, body);
    cr_assert_gt(call.usage.total_tokens, 0);
    aigw__buf_free(&out);
    json_object_put(request);
}
