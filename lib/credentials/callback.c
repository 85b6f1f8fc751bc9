/* SPDX-License-Identifier: Apache-2.0 */
/* The callback credential: the application adds headers itself. */
#include "credentials/callback.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

struct aigw_headers {
    struct curl_slist *list;
    aigw_status status; /* the first failure of aigw_headers_add */
};

aigw_status aigw_headers_add(aigw_headers *headers, const char *name, const char *value) {
    if (!headers || !name || !value || !*name || strpbrk(name, ":\r\n \t") ||
        strpbrk(value, "\r\n"))
        return headers && !headers->status ? (headers->status = AIGW_EINVAL) : AIGW_EINVAL;
    aigw__buf line = AIGW__BUF_INIT;
    aigw_status st = aigw__buf_cat(&line, name, ": ", value, NULL);
    struct curl_slist *grown = st ? NULL : curl_slist_append(headers->list, line.data);
    aigw__buf_wipe(&line);
    if (!grown)
        return headers->status = AIGW_ENOMEM;
    headers->list = grown;
    return AIGW_OK;
}

aigw_status aigw__callback_apply(const aigw__credential *cred, const char *backend_name,
                                 aigw__upstream_request *req, aigw_error **err) {
    if (!cred->callback)
        return aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                        "backend \"%s\": %s is of type \"callback\" but the "
                                        "client has no credential_cb",
                                        backend_name, cred->name ? cred->name : "its credential");
    aigw_headers h = {NULL, AIGW_OK};
    /* The name without the "credential \"...\"" decoration. */
    const char *name = cred->name ? cred->name : "";
    char plain[256];
    const char *q1 = strchr(name, '"'), *q2 = q1 ? strrchr(name, '"') : NULL;
    size_t n = q1 && q2 > q1 ? (size_t)(q2 - q1 - 1) : strlen(name);
    if (n >= sizeof plain)
        n = sizeof plain - 1;
    memcpy(plain, q1 && q2 > q1 ? q1 + 1 : name, n);
    plain[n] = '\0';
    int rc = cred->callback(plain, req->method, req->url.data, &h, cred->callback_user);
    aigw_status st = AIGW_OK;
    if (rc != 0)
        st = aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                      "backend \"%s\": the application's credential callback "
                                      "refused (%d)",
                                      backend_name, rc);
    else if (h.status)
        st = aigw__error_set_upstream(err, h.status == AIGW_ENOMEM ? AIGW_ENOMEM : AIGW_EAUTH,
                                      backend_name, 0, NULL, 0,
                                      "backend \"%s\": the credential callback added an invalid "
                                      "header",
                                      backend_name);
    if (st) {
        for (struct curl_slist *l = h.list; l; l = l->next)
            memset(l->data, 0, strlen(l->data));
        curl_slist_free_all(h.list);
        return st;
    }
    /* Append the callback's headers to the request's. */
    struct curl_slist **tail = &req->headers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h.list;
    return AIGW_OK;
}
