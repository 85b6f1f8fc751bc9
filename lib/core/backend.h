/* A backend: one upstream service the client can send requests to, with
 * the adapter that speaks its schema and the credential that opens it. */
#ifndef AIGW_CORE_BACKEND_H
#define AIGW_CORE_BACKEND_H

#include <curl/curl.h>

#include "credentials/credential.h"

struct aigw__adapter;

typedef struct aigw__backend {
    char *name;                          /* "openai", "mock", or the config's key */
    const struct aigw__adapter *adapter; /* chosen by "schema" */
    char *base_url;                      /* no trailing slash */
    aigw__credential credential;
    struct curl_slist *extra_headers; /* "Name: value" lines from the config */
    long connect_timeout_ms;
    long timeout_ms;   /* whole request, streams included; 0 = none */
    char *api_version; /* azure-openai: the api-version query parameter */
    int from_env;      /* zero-config backend built from environment variables */
    int listable;      /* aigw_models(NULL) asks it (has what it needs to answer) */
} aigw__backend;

void aigw__backend_free(aigw__backend *b);

#endif
