/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 response framing: status line, Date, error bodies. */
#include "server/http_server.h"

#include <string.h>
#include <time.h>

#include <http_parser.h>
#include <json-c/json.h>

#include "core/buf.h"

const char *aigw__http_reason(int status) {
    if (status == 408)
        return "Request Timeout";
    const char *s = http_status_str((enum http_status)status);
    return (s && strcmp(s, "<unknown>") != 0) ? s : "Unknown";
}

/* Date is formatted once a second per thread (one loop per thread). */
static const char *http_date(void) {
    static _Thread_local time_t cached_at = (time_t)-1;
    static _Thread_local char cached[40];
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return cached;
}

aigw_status aigw__http_status_line(aigw__buf *b, int status) {
    if (status < 100 || status > 999)
        return aigw__buf_printf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                                aigw__http_reason(status), http_date());
    char code[4] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), 0};
    return aigw__buf_cat(b, "HTTP/1.1 ", code, " ", aigw__http_reason(status),
                         "\r\nDate: ", http_date(), "\r\n", (char *)NULL);
}

const char *aigw__http_error_type(int status) {
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 408:
        return "timeout_error";
    case 429:
        return "rate_limit_error";
    case 505: /* the client's HTTP version */
        return "invalid_request_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

aigw_status aigw__http_error_json(aigw__buf *b, const char *type, const char *message,
                                  const char *param, const char *code) {
    json_object *root = json_object_new_object();
    json_object *e = json_object_new_object();
    if (!root || !e) {
        json_object_put(root);
        json_object_put(e);
        return AIGW_ENOMEM;
    }
    json_object_object_add(root, "error", e);
    json_object_object_add(e, "message", json_object_new_string(message ? message : ""));
    json_object_object_add(e, "type", json_object_new_string(type ? type : "server_error"));
    json_object_object_add(e, "param", param ? json_object_new_string(param) : NULL);
    json_object_object_add(e, "code", code ? json_object_new_string(code) : NULL);
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    aigw_status st = s ? aigw__buf_append(b, s, n) : AIGW_ENOMEM;
    json_object_put(root);
    return st;
}

int aigw__http_header_ok(const char *s, int is_name) {
    if (!s || (is_name && !*s))
        return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\r' || ch == '\n')
            return 0;
        if (is_name && (ch <= ' ' || ch == ':' || ch >= 127))
            return 0;
    }
    return 1;
}
