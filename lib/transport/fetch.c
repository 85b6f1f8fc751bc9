/* SPDX-License-Identifier: Apache-2.0 */
/* Small blocking HTTP exchanges for the credentials stage. */
#include "transport/fetch.h"

#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"

#define FETCH_MAX_BODY (1024u * 1024u)
#define FETCH_DEFAULT_TIMEOUT_MS 30000L

typedef struct sink {
    aigw__buf *body;
    int too_big;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    sink *s = user;
    size_t len = size * nmemb;
    if (s->body->len + len > FETCH_MAX_BODY) {
        s->too_big = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return aigw__buf_append(s->body, data, len) ? CURL_WRITEFUNC_ERROR : len;
}

/* The host of a URL, for errors: never its path or query (they may hold a
 * secret, e.g. a key in a query string). */
static void url_host(const char *url, char *out, size_t n) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len); /* drop user:password@ */
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

aigw_status aigw__fetch(const aigw__fetch_request *req, long *status, aigw__buf *body,
                        aigw_error **err) {
    char host[256];
    url_host(req->url, host, sizeof host);
    const char *what = req->what ? req->what : "credential endpoint";
    *status = 0;
    CURL *easy = curl_easy_init();
    if (!easy)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    sink s = {body, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "libaigw");
    if (req->method && strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }
    CURLcode rc = curl_easy_perform(easy);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(easy);
    if (rc == CURLE_OK)
        return AIGW_OK;
    if (s.too_big)
        return aigw__error_set(err, AIGW_EBADRESPONSE, "%s (%s): answer larger than %u bytes", what,
                               host, FETCH_MAX_BODY);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return aigw__error_set(err, AIGW_ECONNECT, "%s (%s): cannot connect", what, host);
    case CURLE_OPERATION_TIMEDOUT:
        return aigw__error_set(err, AIGW_ETIMEOUT, "%s (%s): timed out", what, host);
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    default:
        return aigw__error_set(err, AIGW_ETRANSPORT, "%s (%s): %s", what, host,
                               curl_easy_strerror(rc));
    }
}

aigw_status aigw__form_add(aigw__buf *form, const char *name, const char *value) {
    char *n = curl_easy_escape(NULL, name, 0), *v = curl_easy_escape(NULL, value, 0);
    aigw_status st =
        !n || !v ? AIGW_ENOMEM : aigw__buf_cat(form, form->len ? "&" : "", n, "=", v, NULL);
    curl_free(n);
    if (v) {
        /* the value may be a secret (client_secret, assertion) */
        memset(v, 0, strlen(v));
        curl_free(v);
    }
    return st;
}
