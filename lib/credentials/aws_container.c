/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials: the container credentials endpoint (ECS / EKS), its
 * JSON answer and the container source. */
#include "credentials/aws_internal.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "transport/fetch.h"

/* ---- container JSON ---- */

static char *json_str_dup(json_object *o, const char *key) {
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s ? aigw__strdup(s) : NULL;
}

static void json_wipe_str(json_object *o, const char *key) {
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        char *s = (char *)json_object_get_string(v);
        memset(s, 0, (size_t)json_object_get_string_len(v));
    }
}

aigw_status aigw__aws_container_parse(const char *body, size_t len, long http_status,
                                      const char *what, time_t now, aigw__cred_value *out,
                                      aigw_error **err) {
    json_object *o = NULL;
    if (body && len && len < INT_MAX) {
        json_tokener *tok = json_tokener_new_ex(64);
        if (!tok)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        o = json_tokener_parse_ex(tok, body, (int)len);
        size_t endp = json_tokener_get_parse_end(tok);
        while (endp < len && isspace((unsigned char)body[endp]))
            endp++;
        if (o && (json_tokener_get_error(tok) != json_tokener_success || endp < len)) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    aigw_status st;
    int is_obj = o && json_object_is_type(o, json_type_object);
    if (http_status < 200 || http_status > 299) {
        const char *code = NULL, *msg = NULL;
        json_object *v;
        if (is_obj &&
            (json_object_object_get_ex(o, "code", &v) || json_object_object_get_ex(o, "Code", &v)))
            code = json_object_get_string(v);
        if (is_obj && (json_object_object_get_ex(o, "message", &v) ||
                       json_object_object_get_ex(o, "Message", &v)))
            msg = json_object_get_string(v);
        char scode[128], smsg[512];
        aigw__aws_safe_message(code ? code : "", NULL, scode, sizeof scode);
        aigw__aws_safe_message(msg ? msg : "", NULL, smsg, sizeof smsg);
        st = aigw__error_set(err, aigw__aws_upstream_status(http_status), "%s: HTTP %ld%s%s%s%s",
                             what, http_status, *scode ? " " : "", scode, *smsg ? ": " : "", smsg);
    } else if (!is_obj) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: the answer is not a JSON object", what);
    } else {
        st = aigw__aws_take_creds(json_str_dup(o, "AccessKeyId"),
                                  json_str_dup(o, "SecretAccessKey"), json_str_dup(o, "Token"),
                                  "Token", json_str_dup(o, "Expiration"), what, now, out, err);
    }
    if (is_obj) {
        json_wipe_str(o, "AccessKeyId");
        json_wipe_str(o, "SecretAccessKey");
        json_wipe_str(o, "Token");
    }
    json_object_put(o);
    return st;
}

aigw_status aigw__aws_fetch_container(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    char *token = NULL;
    aigw_status st = AIGW_OK;
    if (s->auth_token_file) {
        st = aigw__aws_read_token_file(s->name, "container authorization token file",
                                       s->auth_token_file, &token, err);
        if (st)
            return st;
    } else if (s->auth_token && !(token = aigw__strdup(s->auth_token))) {
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__buf line = AIGW__BUF_INIT, body = AIGW__BUF_INIT, what = AIGW__BUF_INIT;
    struct curl_slist *headers = NULL;
    if (token && strpbrk(token, "\r\n")) {
        st = aigw__error_set(err, AIGW_EAUTH,
                             "%s: the container authorization token holds a line break", s->name);
        goto done;
    }
    if (aigw__buf_cat(&what, s->name, ": container credentials endpoint", NULL) ||
        (token && (aigw__buf_cat(&line, "Authorization: ", token, NULL) ||
                   !(headers = curl_slist_append(NULL, line.data))))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    aigw__fetch_request req = {
        .method = "GET", .url = s->url, .headers = headers, .what = what.data};
    long status = 0;
    st = aigw__fetch(&req, &status, &body, err);
    if (!st)
        st =
            aigw__aws_container_parse(body.data, body.len, status, what.data, time(NULL), out, err);
done:
    if (headers) {
        memset(headers->data, 0, strlen(headers->data));
        curl_slist_free_all(headers);
    }
    aigw__aws_buf_wipe_free(&line);
    aigw__aws_buf_wipe_free(&body);
    aigw__buf_free(&what);
    aigw__aws_wipe_free(token);
    return st;
}

/* The container endpoint may be plain http only on loopback or the ECS /
 * EKS link-local addresses. */
static int container_host_ok(const char *host) {
    static const char *const ok[] = {"localhost",      "[::1]",          "169.254.170.2",
                                     "169.254.170.23", "[fd00:ec2::23]", NULL};
    for (size_t i = 0; ok[i]; i++)
        if (strcasecmp(host, ok[i]) == 0)
            return 1;
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    int dots = 0;
    for (const char *p = host + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!isdigit((unsigned char)*p))
            return 0;
    }
    return dots == 2;
}

aigw_status aigw__aws_setup_container(aigw__credential *cred, const char *url, const char *path,
                                      const aigw__cred_context *ctx, aigw_error **err) {
    const char *what = path ? path : "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    aigw_status st = AIGW_OK;
    if (!u)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: not a valid URL", what);
    } else if (strcasecmp(scheme, "https") != 0 &&
               (strcasecmp(scheme, "http") != 0 || !container_host_ok(host))) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: the container credentials endpoint must use https, or http to "
                             "a loopback or the ECS/EKS address (not %s://%s)",
                             what, scheme, host);
    }
    aws_src *s = NULL;
    aigw__buf src = AIGW__BUF_INIT;
    if (!st) {
        const char *file = aigw__aws_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *tok = aigw__aws_env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        s = aigw__aws_src_new(SRC_CONTAINER);
        if (!s || !(s->url = aigw__strdup(url)) ||
            (file && !(s->auth_token_file = aigw__strdup(file))) ||
            (!file && tok && !(s->auth_token = aigw__strdup(tok))) ||
            aigw__buf_cat(&src, "container credentials endpoint ", host, NULL)) {
            aigw__aws_src_free(s);
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        } else {
            if (file)
                aigw__aws_warn_if_exposed(ctx ? ctx->logger : NULL,
                                          cred->name ? cred->name : "AWS credentials", file);
            st = aigw__aws_install(cred, s, src.data, err);
        }
    }
    aigw__buf_free(&src);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return st;
}
