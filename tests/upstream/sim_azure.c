/* SPDX-License-Identifier: Apache-2.0 */
/* Azure OpenAI: /openai/deployments/{deployment}/chat/completions and
 * /embeddings, /openai/models, each with ?api-version=V and an `api-key`
 * header. Past those checks it answers exactly like the OpenAI module, whose
 * handlers it reuses (sim_openai.h). */
#include <string.h>

#include <json-c/json.h>

#include "sim_openai.h"
#include "sim_router.h"
#include "sim_tokens.h"

void sim_azure_register(void);

#define AZ_DEPLOYMENTS "/openai/deployments/"

static void azure_error(sim_response *res, int status, const char *message) {
    const char *code = NULL;
    switch (status) {
    case 401:
        code = "401";
        message = "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                  "to provide a valid key for an active subscription and use a correct regional "
                  "API endpoint for your resource.";
        break;
    case 404:
        code = "404";
        message = "Resource not found";
        break;
    default:
        sim_openai_error(res, status, message); /* OpenAI-shaped */
        return;
    }
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static int azure_authorized(const sim_request *req, const char *api_key) {
    const char *h = sim_request_header(req, "api-key");
    if (h && strcmp(h, api_key) == 0)
        return 1;
    /* Entra ID: a token the simulator's /entra/ endpoint issued */
    h = sim_request_header(req, "authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 && sim_token_valid(h + 7, "entra");
}

/* 1 when the URL has a non-empty api-version query parameter; else answers
 * 404 as Azure does and returns 0. */
static int azure_api_version(const sim_request *req, sim_response *res) {
    const char *q = req->url.data ? strchr(req->url.data, '?') : NULL;
    while (q && *q) {
        q++;
        if (strncmp(q, "api-version=", 12) == 0 && q[12] && q[12] != '&')
            return 1;
        q = strchr(q, '&');
    }
    azure_error(res, 404, NULL);
    return 0;
}

/* Azure routes by deployment: a body without `model` gets the deployment's
 * name, so the OpenAI handlers accept it and echo it back. */
static void azure_default_model(const sim_request *req) {
    json_object *body = req->json;
    if (!body || !json_object_is_type(body, json_type_object) ||
        json_object_object_get(body, "model"))
        return;
    const char *d = req->path + strlen(AZ_DEPLOYMENTS);
    const char *slash = strchr(d, '/');
    json_object_object_add(
        body, "model",
        json_object_new_string_len(d, (int)(slash ? (size_t)(slash - d) : strlen(d))));
}

static void azure_chat(const sim_request *req, sim_response *res) {
    if (!azure_api_version(req, res))
        return;
    azure_default_model(req);
    sim_openai_chat_completions(req, res);
}

static void azure_embeddings(const sim_request *req, sim_response *res) {
    if (!azure_api_version(req, res))
        return;
    azure_default_model(req);
    sim_openai_embeddings(req, res);
}

static void azure_models(const sim_request *req, sim_response *res) {
    if (azure_api_version(req, res))
        sim_openai_models(req, res);
}

static const sim_route azure_routes[] = {
    {"POST", AZ_DEPLOYMENTS "*/chat/completions", azure_chat},
    {"POST", AZ_DEPLOYMENTS "*/embeddings", azure_embeddings},
    {"GET", "/openai/models", azure_models},
};

static const sim_provider azure_provider = {
    .name = "azure",
    .prefix = "/openai/",
    .routes = azure_routes,
    .nroutes = sizeof(azure_routes) / sizeof(azure_routes[0]),
    .authorized = azure_authorized,
    .error = azure_error,
};

void sim_azure_register(void) {
    sim_router_register(&azure_provider);
}
