/* SPDX-License-Identifier: Apache-2.0 */
/* The error object behind every failed call. */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

struct aigw_error {
    aigw_status status;
    int http_status;
    char *message;
    char *provider;
    char *body;
    char *json;
    char *param;      /* the request field at fault (OpenAI's "param"), or NULL */
    const char *code; /* a static "code" replacing the status's, or NULL */
    long retry_after; /* the upstream's Retry-After in seconds; -1 = none */
};

/* Handed out when the error itself cannot be allocated. */
static struct aigw_error oom_error = {
    AIGW_ENOMEM,
    0,
    "out of memory",
    NULL,
    NULL,
    "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":\"out_of_"
    "memory\"}}",
    NULL,
    NULL,
    -1};

/* OpenAI's error "type" and a stable "code" for each status. */
static void openai_kind(aigw_status status, const char **type, const char **code) {
    switch (status) {
    case AIGW_EBADREQUEST:
    case AIGW_EINVAL:
        *type = "invalid_request_error", *code = "invalid_request";
        return;
    case AIGW_ENOBACKEND:
        *type = "invalid_request_error", *code = "model_not_found";
        return;
    case AIGW_ENOTFOUND:
        *type = "invalid_request_error", *code = "not_found";
        return;
    case AIGW_EAUTH:
        *type = "authentication_error", *code = "invalid_api_key";
        return;
    case AIGW_EPERMISSION:
        *type = "permission_error", *code = "permission_denied";
        return;
    case AIGW_ERATELIMIT:
        *type = "rate_limit_error", *code = "rate_limit_exceeded";
        return;
    case AIGW_EBUDGET:
        *type = "tokens", *code = "rate_limit_exceeded";
        return;
    case AIGW_ETIMEOUT:
        *type = "timeout_error", *code = "timeout";
        return;
    case AIGW_ENOTSUPPORTED:
        *type = "invalid_request_error", *code = "not_supported";
        return;
    default:
        *type = "server_error", *code = "upstream_error";
        return;
    }
}

static char *build_json(aigw_status status, const char *message, const char *param,
                        const char *code_override) {
    const char *type, *code;
    openai_kind(status, &type, &code);
    if (code_override)
        code = code_override;
    json_object *root = json_object_new_object();
    json_object *inner = json_object_new_object();
    if (!root || !inner) {
        json_object_put(root);
        json_object_put(inner);
        return NULL;
    }
    json_object_object_add(inner, "message", json_object_new_string(message));
    json_object_object_add(inner, "type", json_object_new_string(type));
    json_object_object_add(inner, "param", param ? json_object_new_string(param) : NULL);
    json_object_object_add(inner, "code", json_object_new_string(code));
    json_object_object_add(root, "error", inner);
    char *text = aigw__json_dup_string(root);
    json_object_put(root);
    return text;
}

/* Messages are one line: control characters (from a config key, an
 * upstream's text...) become spaces, so they cannot forge log lines. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static aigw_status error_vset(aigw_error **err, aigw_status status, const char *provider,
                              int http_status, const char *body, size_t body_len, const char *param,
                              const char *code, const char *fmt, va_list ap) {
    if (!err || *err)
        return status;
    aigw_error *e = aigw__calloc(1, sizeof *e);
    aigw__buf msg = AIGW__BUF_INIT;
    if (!e || aigw__buf_vprintf(&msg, fmt, ap))
        goto oom;
    e->status = status;
    e->http_status = http_status;
    e->code = code;
    e->retry_after = -1;
    e->message = aigw__buf_detach(&msg);
    if (!e->message)
        goto oom;
    one_line(e->message);
    if (provider && !(e->provider = aigw__strdup(provider)))
        goto oom;
    if (body && !(e->body = aigw__strndup(body, body_len)))
        goto oom;
    if (param && !(e->param = aigw__strdup(param)))
        goto oom;
    if (!(e->json = build_json(status, e->message, e->param, e->code)))
        goto oom;
    *err = e;
    return status;
oom:
    aigw__buf_free(&msg);
    aigw_error_free(e);
    *err = &oom_error;
    return status;
}

aigw_status aigw__error_set(aigw_error **err, aigw_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, status, NULL, 0, NULL, 0, NULL, NULL, fmt, ap);
    va_end(ap);
    return status;
}

aigw_status aigw__error_set_upstream(aigw_error **err, aigw_status status, const char *provider,
                                     int http_status, const char *body, size_t body_len,
                                     const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, status, provider, http_status, body, body_len, NULL, NULL, fmt, ap);
    va_end(ap);
    return status;
}

aigw_status aigw__error_set_param(aigw_error **err, aigw_status status, const char *param,
                                  const char *code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, status, NULL, 0, NULL, 0, param, code, fmt, ap);
    va_end(ap);
    return status;
}

void aigw__error_set_retry_after(aigw_error *err, long seconds) {
    if (err && err != &oom_error)
        err->retry_after = seconds < 0 ? -1 : seconds;
}

void aigw__error_append(aigw_error *err, const char *fmt, ...) {
    if (!err || err == &oom_error)
        return;
    aigw__buf msg = AIGW__BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int failed = aigw__buf_puts(&msg, err->message) || aigw__buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    char *text = failed ? NULL : aigw__buf_detach(&msg);
    if (text)
        one_line(text);
    char *json = text ? build_json(err->status, text, err->param, err->code) : NULL;
    if (!json) { /* out of memory: keep the error as it was */
        aigw__free(text);
        aigw__buf_free(&msg);
        return;
    }
    aigw__free(err->message);
    aigw__free(err->json);
    err->message = text;
    err->json = json;
}

aigw_status aigw__status_from_http(long http_status) {
    switch (http_status) {
    case 400:
    case 413:
    case 422:
        return AIGW_EBADREQUEST;
    case 401:
        return AIGW_EAUTH;
    case 403:
        return AIGW_EPERMISSION;
    case 404:
        return AIGW_ENOTFOUND;
    case 408:
        return AIGW_ETIMEOUT;
    case 429:
        return AIGW_ERATELIMIT;
    default:
        return http_status >= 500 && http_status <= 599 ? AIGW_EUPSTREAM : AIGW_EUPSTREAM_STATUS;
    }
}

aigw_status aigw_error_status(const aigw_error *err) {
    return err ? err->status : AIGW_EINVAL;
}

const char *aigw_error_message(const aigw_error *err) {
    return err && err->message ? err->message : "";
}

int aigw_error_http_status(const aigw_error *err) {
    return err ? err->http_status : 0;
}

const char *aigw_error_provider(const aigw_error *err) {
    return err ? err->provider : NULL;
}

const char *aigw_error_body(const aigw_error *err) {
    return err ? err->body : NULL;
}

long aigw_error_retry_after(const aigw_error *err) {
    return err ? err->retry_after : -1;
}

const char *aigw_error_json(const aigw_error *err) {
    return err && err->json ? err->json : oom_error.json;
}

void aigw_error_free(aigw_error *err) {
    if (!err || err == &oom_error)
        return;
    aigw__free(err->message);
    aigw__free(err->provider);
    aigw__free(err->body);
    aigw__free(err->json);
    aigw__free(err->param);
    aigw__free(err);
}
