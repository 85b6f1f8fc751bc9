/* SPDX-License-Identifier: Apache-2.0 */
/* Backends: the helpers the config file and the zero-config environment
 * share, and what each schema implies (endpoints, regions, credentials). */
#include "core/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "credentials/sigv4.h"

/* The newest generally available Azure OpenAI data-plane API version. */
#define AZURE_DEFAULT_API_VERSION "2024-10-21"
/* Vertex AI's location when none is given: the global endpoint. */
#define VERTEX_DEFAULT_LOCATION "global"

void aigw__backend_free(aigw__backend *b) {
    aigw__free(b->name);
    aigw__free(b->base_url);
    aigw__free(b->api_version);
    aigw__free(b->region);
    aigw__free(b->project);
    aigw__free(b->location);
    aigw__free(b->unavailable);
    aigw__sigv4_key_cache_free(b->aws_key_cache);
    aigw__credential_clear(&b->credential);
    curl_slist_free_all(b->extra_headers);
    memset(b, 0, sizeof *b);
}

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

aigw_status aigw__backend_set_base_url(aigw__backend *b, const char *url, const char *what,
                                       aigw_error **err) {
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: \"%s\" is not an http:// or https:// URL",
                               what, url);
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    aigw__free(b->base_url);
    if (!(b->base_url = aigw__strndup(url, len)))
        return oom(err);
    return AIGW_OK;
}

aigw_status aigw__backend_set_key(aigw__backend *b, const char *value, const char *env,
                                  const char *file, const aigw__cred_context *ctx,
                                  aigw_error **err) {
    aigw__credential_clear(&b->credential);
    return aigw__api_key_new(&b->credential, b->name, value, env, file, ctx, err);
}

/* A missing setting: an error for a config file's backend, a reason for a
 * zero-config one (its calls then fail with that reason). */
static aigw_status missing(aigw__backend *b, const char *path, int lenient, const char *what,
                           aigw_error **err) {
    if (!lenient)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: %s", path, what);
    if (!b->unavailable && !(b->unavailable = aigw__strdup(what)))
        return oom(err);
    b->listable = 0;
    return AIGW_OK;
}

static int is_schema(const aigw__backend *b, const char *schema) {
    return strcmp(b->adapter->schema, schema) == 0;
}

/* Without a configured credential, Bedrock uses the AWS default chain
 * (environment, web identity, shared files, container), as the SDKs do. */
static aigw_status aws_credential(aigw__backend *b, const aigw__cred_context *ctx,
                                  aigw_error **err) {
    aigw__credential *cred = &b->credential;
    if (cred->kind != AIGW__CRED_NONE)
        return AIGW_OK;
    aigw_status st = aigw__aws_credential_default(cred, ctx, err);
    if (st || cred->kind != AIGW__CRED_NONE)
        return st;
    /* Nothing found: requests fail with this, naming what to set. */
    cred->kind = AIGW__CRED_AWS_SIGV4;
    if (aigw__credential_set_names(cred, b->name,
                                   "the AWS default chain found nothing: set AWS_ACCESS_KEY_ID "
                                   "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                                   "AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, or "
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return oom(err);
    return AIGW_OK;
}

static aigw_status complete_bedrock(aigw__backend *b, const char *path, int lenient,
                                    const aigw__cred_context *ctx, aigw_error **err) {
    if (!b->region)
        return missing(b, path, lenient,
                       "no AWS region (set \"region\", or AWS_REGION / AWS_DEFAULT_REGION)", err);
    if (!b->base_url) {
        char url[256];
        snprintf(url, sizeof url, "https://bedrock-runtime.%s.amazonaws.com", b->region);
        aigw_status st = aigw__backend_set_base_url(b, url, path, err);
        if (st)
            return st;
    }
    if (!b->aws_key_cache && aigw__sigv4_key_cache_new(&b->aws_key_cache))
        return oom(err);
    return aws_credential(b, ctx, err);
}

static aigw_status complete_vertex(aigw__backend *b, const char *path, int lenient,
                                   aigw_error **err) {
    if (!b->location && !(b->location = aigw__strdup(VERTEX_DEFAULT_LOCATION)))
        return oom(err);
    if (!b->project)
        return missing(b, path, lenient,
                       "no Google Cloud project (set \"project\", or GOOGLE_CLOUD_PROJECT)", err);
    if (!b->base_url) {
        char url[256];
        if (strcmp(b->location, "global") == 0)
            snprintf(url, sizeof url, "https://aiplatform.googleapis.com/v1");
        else
            snprintf(url, sizeof url, "https://%s-aiplatform.googleapis.com/v1", b->location);
        return aigw__backend_set_base_url(b, url, path, err);
    }
    return AIGW_OK;
}

aigw_status aigw__backend_complete(aigw__backend *b, const char *path, int lenient,
                                   const aigw__cred_context *ctx, aigw_error **err) {
    int azure = is_schema(b, "azure-openai"), bedrock = is_schema(b, "aws-bedrock");
    int vertex = is_schema(b, "gcp-vertex") || is_schema(b, "gcp-anthropic");
    if (b->api_version && !azure)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.api_version: only for schema azure-openai",
                               path);
    if (b->region && !bedrock)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.region: only for schema aws-bedrock", path);
    if ((b->project || b->location) && !vertex)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.%s: only for schemas gcp-vertex and gcp-anthropic", path,
                               b->project ? "project" : "location");
    aigw_status st = AIGW_OK;
    if (azure && !b->api_version && !(b->api_version = aigw__strdup(AZURE_DEFAULT_API_VERSION)))
        return oom(err);
    if (bedrock)
        st = complete_bedrock(b, path, lenient, ctx, err);
    else if (vertex)
        st = complete_vertex(b, path, lenient, err);
    if (st)
        return st;
    if (!b->adapter->local && !b->base_url && !b->unavailable)
        return missing(b, path, lenient, "\"base_url\" is required", err);
    return AIGW_OK;
}
