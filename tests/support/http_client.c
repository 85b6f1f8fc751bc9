/* SPDX-License-Identifier: Apache-2.0 */
/* A small libcurl client for the simulator tests; see http_client.h. */
#include "http_client.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t aigw_test_collect(char *p, size_t size, size_t n, void *user) {
    aigw_test_sink *s = user;
    size_t add = size * n;
    s->data = realloc(s->data, s->len + add + 1);
    memcpy(s->data + s->len, p, add);
    s->len += add;
    s->data[s->len] = '\0';
    return add;
}

aigw_test_resp aigw_test_http_sigv4(int port, const char *method, const char *path,
                                    const char *const *headers, const char *body,
                                    const char *aws_sigv4, const char *userpwd) {
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    aigw_test_sink b = {0}, h = {0};
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    if (body)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aigw_test_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, aigw_test_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (aws_sigv4) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, aws_sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    aigw_test_resp r = {0};
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.seconds);
    r.body = b.data ? b.data : strdup("");
    r.len = b.len;
    r.headers = h.data ? h.data : strdup("");
    r.hlen = h.len;
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

aigw_test_resp aigw_test_http(int port, const char *method, const char *path,
                              const char *const *headers, const char *body) {
    return aigw_test_http_sigv4(port, method, path, headers, body, NULL, NULL);
}

CURL *aigw_test_chat_handle(int port, struct curl_slist *headers, const char *body,
                            curl_write_callback write, void *user, long timeout_ms) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, user);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

void aigw_test_resp_free(aigw_test_resp *r) {
    free(r->body);
    free(r->headers);
}

json_object *aigw_test_json_parse(const char *s) {
    json_object *o = json_tokener_parse(s);
    cr_assert_not_null(o, "not JSON: %s", s);
    return o;
}

json_object *aigw_test_json_at(json_object *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && o;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(tok));
        else if (!json_object_object_get_ex(o, tok, &o))
            o = NULL;
    }
    return o;
}

const char *aigw_test_json_str_at(json_object *o, const char *path) {
    json_object *v = aigw_test_json_at(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t aigw_test_json_int_at(json_object *o, const char *path) {
    json_object *v = aigw_test_json_at(o, path);
    cr_assert_not_null(v, "missing %s", path);
    return json_object_get_int64(v);
}
