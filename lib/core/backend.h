/* SPDX-License-Identifier: Apache-2.0 */
/* A backend: one upstream service the client can send requests to, with
 * the adapter that speaks its schema and the credential that opens it. */
#ifndef AIGW_CORE_BACKEND_H
#define AIGW_CORE_BACKEND_H

#include <curl/curl.h>

#include "credentials/credential.h"

struct aigw__adapter;

#define AIGW__DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define AIGW__DEFAULT_TIMEOUT_MS 600000L

typedef struct aigw__backend {
    char *name;                          /* "openai", "mock", or the config's key */
    const struct aigw__adapter *adapter; /* chosen by "schema" */
    char *base_url;                      /* no trailing slash */
    aigw__credential credential;
    struct curl_slist *extra_headers; /* "Name: value" lines from the config */
    long connect_timeout_ms;
    long timeout_ms;                             /* whole request, streams included; 0 = none */
    char *api_version;                           /* azure-openai: the api-version query parameter */
    char *region;                                /* aws-bedrock: the AWS region, e.g. "us-east-1" */
    struct aigw__sigv4_key_cache *aws_key_cache; /* aws-bedrock: the day's signing key */
    char *project;     /* gcp-vertex, gcp-anthropic: the Google Cloud project */
    char *location;    /* gcp-vertex, gcp-anthropic: e.g. "us-central1" or "global" */
    char *unavailable; /* why a zero-config backend cannot serve (e.g. "set AWS_REGION"), or NULL */
    int from_env;      /* zero-config backend built from environment variables */
    int listable;      /* aigw_models(NULL) asks it (has what it needs to answer) */
} aigw__backend;

void aigw__backend_free(aigw__backend *b);

/* Sets b->base_url from `url` (http:// or https:// only; trailing slashes
 * dropped). `what` names the setting in errors. */
aigw_status aigw__backend_set_base_url(aigw__backend *b, const char *url, const char *what,
                                       aigw_error **err);
/* Makes the backend's credential an API key: inline `value`, or from the
 * environment variable `env`, or from `file` (exactly one). */
aigw_status aigw__backend_set_key(aigw__backend *b, const char *value, const char *env,
                                  const char *file, const aigw__cred_context *ctx,
                                  aigw_error **err);
/* Fills in what the backend's schema implies and checks what it needs:
 * azure-openai's api_version; aws-bedrock's region, endpoint and SigV4
 * credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN);
 * gcp-vertex/gcp-anthropic's project, location and endpoint; a base URL.
 * With `lenient` (zero-config backends) a missing setting marks the backend
 * unavailable with the reason instead of failing; `path` prefixes errors. */
aigw_status aigw__backend_complete(aigw__backend *b, const char *path, int lenient,
                                   const aigw__cred_context *ctx, aigw_error **err);

#endif
