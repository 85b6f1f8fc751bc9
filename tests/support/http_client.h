/* SPDX-License-Identifier: Apache-2.0 */
/* A small libcurl client for the tests that talk raw HTTP to the provider
 * simulator, and the JSON look-ups they make on its answers. */
#ifndef AIGW_TEST_HTTP_CLIENT_H
#define AIGW_TEST_HTTP_CLIENT_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes gathered by aigw_test_collect, NUL-terminated once any arrived. */
typedef struct aigw_test_sink {
    char *data;
    size_t len;
} aigw_test_sink;

/* A CURLOPT_WRITEFUNCTION / HEADERFUNCTION appending to the aigw_test_sink
 * USER; also usable directly. */
size_t aigw_test_collect(char *p, size_t size, size_t n, void *user);

/* An answer: body and raw response headers are NUL-terminated, never NULL. */
typedef struct aigw_test_resp {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
    double seconds; /* total time */
} aigw_test_resp;

/* METHOD PATH on http://127.0.0.1:PORT with HEADERS (NULL-terminated, may be
 * NULL) and BODY (may be NULL; when set, "Content-Type: application/json" is
 * sent after HEADERS). Times out after 20 s. */
aigw_test_resp aigw_test_http(int port, const char *method, const char *path,
                              const char *const *headers, const char *body);

/* As aigw_test_http, and when AWS_SIGV4 is set (e.g. "aws:amz:us-east-1:bedrock")
 * the request is signed by curl with USERPWD "KEY:SECRET". */
aigw_test_resp aigw_test_http_sigv4(int port, const char *method, const char *path,
                                    const char *const *headers, const char *body,
                                    const char *aws_sigv4, const char *userpwd);

void aigw_test_resp_free(aigw_test_resp *r);

/* A curl handle for the tests that drive a transfer themselves: it POSTs
 * BODY (kept by the caller) to http://127.0.0.1:PORT/v1/chat/completions
 * with HEADERS (may be NULL; freed by the caller), hands the answer to
 * WRITE with USER, gives up after TIMEOUT_MS and uses no signals. Free it
 * with curl_easy_cleanup(). */
CURL *aigw_test_chat_handle(int port, struct curl_slist *headers, const char *body,
                            curl_write_callback write, void *user, long timeout_ms);

/* Parses S as JSON; the test fails when it is not. */
json_object *aigw_test_json_parse(const char *s);

/* The value at PATH, "a.b.0.c": object keys and array indexes; NULL if absent. */
json_object *aigw_test_json_at(json_object *o, const char *path);

/* The string at PATH, or NULL when absent or not a string. */
const char *aigw_test_json_str_at(json_object *o, const char *path);

/* The integer at PATH; the test fails when it is absent. */
int64_t aigw_test_json_int_at(json_object *o, const char *path);

/* The short names the simulator tests use. */
typedef aigw_test_resp resp;

static inline void resp_free(resp *r) {
    aigw_test_resp_free(r);
}

static inline json_object *parse(const char *s) {
    return aigw_test_json_parse(s);
}

static inline json_object *at(json_object *o, const char *path) {
    return aigw_test_json_at(o, path);
}

static inline const char *str_at(json_object *o, const char *path) {
    return aigw_test_json_str_at(o, path);
}

static inline int64_t int_at(json_object *o, const char *path) {
    return aigw_test_json_int_at(o, path);
}

#endif
