/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the SigV4 signer (lib/credentials/sigv4.c).
 *
 * The input is a request: the first line its URL, then "Name: value"
 * header lines up to an empty line, then the body. It is signed with
 * aigw__sigv4_apply (any failure must be a clean status with an error, and
 * the request's headers untouched), and on success signing the same request
 * again at the same time must give the same Authorization (signing replaces
 * its own headers, never stacks them). The low-level signer is also run on
 * the raw URL as path and query, for the encoders' sake.
 *
 * sigv4.c is compiled into this file so it carries libFuzzer's coverage
 * instrumentation even when the library is built without it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/credentials/sigv4.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_range(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    /* Embedded NULs would just truncate; make them visible bytes instead. */
    for (size_t i = 0; i < n; i++)
        if (!s[i])
            s[i] = '\x01';
    return s;
}

static char *authorization_of(struct curl_slist *h) {
    for (; h; h = h->next)
        if (strncmp(h->data, "Authorization: ", 15) == 0)
            return h->data + 15;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *end = data + size, *p = data;
    const uint8_t *nl = memchr(p, '\n', size);
    size_t url_len = nl ? (size_t)(nl - p) : size;
    char *url = dup_range(p, url_len);
    p = nl ? nl + 1 : end;

    aigw__upstream_request req = {.method = size % 2 ? "POST" : "GET"};
    if (aigw__buf_puts(&req.url, url))
        abort();
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n == 0) {
            p = nl ? nl + 1 : end;
            break;
        }
        char *line = dup_range(p, n);
        struct curl_slist *g = curl_slist_append(req.headers, line);
        free(line);
        if (!g)
            abort();
        req.headers = g;
        p = nl ? nl + 1 : end;
    }
    if (p < end && aigw__buf_append(&req.body, p, (size_t)(end - p)))
        abort();

    aigw__aws_signing cred = {0};
    cred.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    cred.access_key_id = "AKIDEXAMPLE";
    cred.session_token = size % 3 ? "token" : NULL;
    cred.region = "us-east-1";
    cred.service = size % 5 ? "bedrock" : "s3";

    struct curl_slist *before = req.headers;
    aigw_error *err = NULL;
    aigw_status st = aigw__sigv4_apply(&cred, "fuzz", &req, 1440938160, &err);
    if (st) {
        if (!err || req.headers != before)
            abort();
        aigw_error_free(err);
    } else {
        char *first = authorization_of(req.headers);
        if (!first)
            abort();
        first = strdup(first);
        if (!first || aigw__sigv4_apply(&cred, "fuzz", &req, 1440938160, NULL))
            abort();
        size_t count = 0;
        for (struct curl_slist *h = req.headers; h; h = h->next)
            count += strncmp(h->data, "Authorization: ", 15) == 0;
        if (count != 1 || strcmp(first, authorization_of(req.headers)) != 0)
            abort();
        free(first);
    }
    aigw__upstream_request_free(&req);

    /* The URL as a raw path and query for the low-level signer. */
    char *q = strchr(url, '?');
    if (q)
        *q++ = '\0';
    struct curl_slist *h = curl_slist_append(NULL, "host:example.amazonaws.com");
    if (!h)
        abort();
    aigw__sigv4_input in = {.method = "GET",
                            .path = url,
                            .query = q,
                            .headers = h,
                            .access_key_id = "AKIDEXAMPLE",
                            .secret_access_key = "secret",
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = "20150830T123600Z"};
    aigw__sigv4_output out;
    if (aigw__sigv4_sign(&in, &out, NULL) == AIGW_OK)
        aigw__sigv4_output_free(&out);
    curl_slist_free_all(h);
    free(url);
    return 0;
}
