/* SPDX-License-Identifier: Apache-2.0 */
/* Claude on Vertex AI (schema gcp-anthropic): the URL, the body's
 * anthropic_version, the bearer token, and zero-config from the
 * GOOGLE_CLOUD_* variables. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "aigw/aigw.h"
#include "core/client_internal.h"
#include "core/json.h"
#include "router/router.h"

static int has_header_prefix(struct curl_slist *h, const char *prefix) {
    for (; h; h = h->next)
        if (strncmp(h->data, prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

static void build(aigw_client *client, aigw__op op, const char *request, aigw__upstream_request *up,
                  json_object **parsed, json_object **body) {
    aigw__call call = {.op = op};
    cr_assert_eq(
        aigw__json_parse(request, strlen(request), "request", AIGW_EBADREQUEST, parsed, NULL),
        AIGW_OK);
    call.request = *parsed;
    aigw_error *e = NULL;
    cr_assert_eq(aigw__route_direct(client, aigw__json_get_string(*parsed, "model"), &call.backend,
                                    &call.model, NULL),
                 AIGW_OK);
    cr_assert_eq(call.backend->adapter->build(&call, up, &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(aigw__credential_apply(&call.backend->credential, call.backend, up, &e), AIGW_OK,
                 "%s", aigw_error_message(e));
    *body = json_tokener_parse(up->body.data);
    cr_assert_not_null(*body);
}

Test(gcp_anthropic, url_body_and_bearer_token) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(
                     &c,
                     "{\"backends\":{\"claude\":{\"schema\":\"gcp-anthropic\",\"project\":\"my-"
                     "proj\",\"location\":\"us-east5\",\"api_key\":\"ya29.token\"}}}",
                     &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    aigw__upstream_request up = {0};
    json_object *req = NULL, *body = NULL;
    build(c, AIGW__OP_CHAT_STREAM,
          "{\"model\":\"claude/claude-sonnet-4-5@20250929\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"x\"}]}",
          &up, &req, &body);
    cr_assert_str_eq(up.url.data,
                     "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/"
                     "us-east5/publishers/anthropic/models/claude-sonnet-4-5%4020250929:"
                     "streamRawPredict");
    cr_assert_str_eq(json_object_get_string(json_object_object_get(body, "anthropic_version")),
                     "vertex-2023-10-16");
    cr_assert_null(json_object_object_get(body, "model"));
    cr_assert(json_object_get_boolean(json_object_object_get(body, "stream")));
    cr_assert(has_header_prefix(up.headers, "Authorization: Bearer ya29.token"));
    cr_assert_not(has_header_prefix(up.headers, "anthropic-version:"));
    json_object_put(body);
    json_object_put(req);
    aigw__upstream_request_free(&up);
    aigw_client_free(c);
}

Test(gcp_anthropic, config_needs_a_project) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(
                     &c, "{\"backends\":{\"claude\":{\"schema\":\"gcp-anthropic\"}}}", &e),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "backends.claude: no Google Cloud project"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
}

Test(gcp_anthropic, zero_config_from_google_cloud_variables) {
    setenv("GOOGLE_CLOUD_PROJECT", "envproj", 1);
    unsetenv("GOOGLE_CLOUD_LOCATION");
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.env", 1);
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new_from_env(&c, NULL), AIGW_OK);
    aigw__upstream_request up = {0};
    json_object *req = NULL, *body = NULL;
    build(c, AIGW__OP_CHAT,
          "{\"model\":\"vertex-anthropic/claude-haiku-4-5\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"x\"}]}",
          &up, &req, &body);
    cr_assert_str_eq(up.url.data, "https://aiplatform.googleapis.com/v1/projects/envproj/"
                                  "locations/global/publishers/anthropic/models/"
                                  "claude-haiku-4-5:rawPredict");
    json_object_put(body);
    json_object_put(req);
    aigw__upstream_request_free(&up);
    aigw_client_free(c);
}

Test(gcp_anthropic, zero_config_without_project_says_what_to_set) {
    unsetenv("GOOGLE_CLOUD_PROJECT");
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new_from_env(&c, NULL), AIGW_OK);
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"vertex-anthropic/claude\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "GOOGLE_CLOUD_PROJECT"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw_client_free(c);
}
