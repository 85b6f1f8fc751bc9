/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 server: the handler's response API, whole or streamed. */
#include "server/http_conn.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

/* ---- responses ---- */

#define MAX_KEPT_BUF (16u * 1024u) /* a bigger buffer is not kept for the next request */

/* Empties a buffer to reuse it, or frees it if it grew big. */
static void buf_reuse(aigw__buf *b) {
    if (b->cap > MAX_KEPT_BUF)
        aigw__buf_free(b);
    else
        aigw__buf_clear(b);
}

void aigw__http_response_body_release(aigw__http_response *res) {
    if (!res->body_limits)
        return;
    aigw__http_limits_body_give(res->body_limits, res->body_held);
    aigw__http_limits_unref(res->body_limits);
    res->body_limits = NULL;
    res->body_held = 0;
}

void aigw__http_response_free(aigw__http_response *res) {
    if (!res)
        return;
    aigw__http_response_body_release(res);
    aigw__free(res->headers);
    aigw__free(res->hoffs);
    aigw__buf_free(&res->url);
    aigw__buf_free(&res->body);
    aigw__buf_free(&res->hdrs);
    aigw__buf_free(&res->hstore);
    aigw__free(res);
}

/* A completed response becomes the connection's spare: its buffers and
 * header array serve the next request (no allocation per request). */
static void response_recycle(conn *c, aigw__http_response *res) {
    aigw__http_response_body_release(res);
    if (c->spare_res) {
        aigw__http_response_free(res);
        return;
    }
    aigw__http_response keep = *res;
    memset(res, 0, sizeof(*res));
    res->url = keep.url;
    res->hdrs = keep.hdrs;
    res->hstore = keep.hstore;
    res->headers = keep.headers;
    res->hoffs = keep.hoffs;
    res->cap_headers = keep.cap_headers;
    res->body = keep.body;
    buf_reuse(&res->url);
    buf_reuse(&res->hdrs);
    buf_reuse(&res->hstore);
    buf_reuse(&res->body);
    c->spare_res = res;
}

/* The connection lets go of its response: freed if the handler never saw it
 * or already completed it, else the handler hears of the disconnect. */
void aigw__http_response_detach(aigw__http_response *res) {
    res->c = NULL;
    if (!res->dispatched || res->completed) {
        aigw__http_response_free(res);
        return;
    }
    aigw__http_disconnect_cb cb = res->on_disconnect;
    res->on_disconnect = NULL;
    if (cb)
        cb(res, res->disconnect_data); /* may complete (free) res */
}

/* Drops what a failed build appended to the output buffer. */
static void truncate_out(aigw__buf *out, size_t mark) {
    out->len = mark;
    if (out->data)
        out->data[mark] = 0;
}

/* The handler completed c's current response. */
static void finish_exchange(conn *c, aigw__http_response *res, int failed) {
    int close_after = res->close_after || failed || c->srv->shutting_down;
    c->cur = NULL;
    res->c = NULL;
    response_recycle(c, res);
    c->served = 1;
    if (failed) {
        aigw__http_conn_close(c);
        return;
    }
    if (close_after) {
        aigw__http_conn_linger(c);
        return;
    }
    aigw__http_conn_idle(c);
    if (!c->in_dispatch)
        aigw__http_conn_process(c);
}

/* "Content-Length: N\r\n" without printf. */
static aigw_status content_length(aigw__buf *b, size_t len) {
    char num[24];
    char *p = num + sizeof(num);
    *--p = 0;
    do {
        *--p = (char)('0' + len % 10);
        len /= 10;
    } while (len);
    return aigw__buf_cat(b, "Content-Length: ", p, "\r\n", (char *)NULL);
}

static aigw_status build_head(aigw__http_response *res, aigw__buf *b, int status,
                              const char *content_type, size_t len, int streaming) {
    conn *c = res->c;
    if (status < 100 || status > 999)
        return AIGW_EINVAL;
    if (content_type && !aigw__http_header_ok(content_type, 0))
        return AIGW_EINVAL;
    res->close_after = !res->keep_alive || c->srv->shutting_down || c->parser.upgrade;
    int bodyless = status < 200 || status == 204 || status == 304;
    aigw_status st = aigw__http_status_line(b, status);
    if (!st && content_type)
        st = aigw__buf_cat(b, "Content-Type: ", content_type, "\r\n", NULL);
    if (!st && !bodyless) {
        if (!streaming)
            st = content_length(b, len);
        else if (res->req.http_major == 1 && res->req.http_minor == 0)
            res->close_after = 1; /* HTTP/1.0: the body ends with the connection */
        else {
            res->chunked = 1;
            st = aigw__buf_puts(b, "Transfer-Encoding: chunked\r\n");
        }
    }
    if (!st && res->close_after)
        st = aigw__buf_puts(b, "Connection: close\r\n");
    else if (!st && res->req.http_major == 1 && res->req.http_minor == 0)
        st = aigw__buf_puts(b, "Connection: keep-alive\r\n");
    if (!st && res->hdrs.len)
        st = aigw__buf_append(b, res->hdrs.data, res->hdrs.len);
    if (!st)
        st = aigw__buf_puts(b, "\r\n");
    if (bodyless)
        res->head = 1; /* no body bytes at all */
    return st;
}

aigw_status aigw__http_response_header(aigw__http_response *res, const char *name,
                                       const char *value) {
    if (!res || res->started || res->completed || !aigw__http_header_ok(name, 1) ||
        !aigw__http_header_ok(value, 0))
        return AIGW_EINVAL;
    /* The server owns the framing. */
    if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
        strcasecmp(name, "connection") == 0 || strcasecmp(name, "date") == 0)
        return AIGW_EINVAL;
    return aigw__buf_cat(&res->hdrs, name, ": ", value, "\r\n", NULL);
}

aigw_status aigw__http_response_send(aigw__http_response *res, int status, const char *content_type,
                                     const void *body, size_t len) {
    if (!res || res->started || res->completed || (len && !body))
        return AIGW_EINVAL;
    conn *c = res->c;
    if (!c) {
        res->completed = 1;
        aigw__http_response_free(res);
        return AIGW_ECANCELED;
    }
    /* The head and the body are built in the connection's output buffer:
     * one write() for both, this loop iteration. */
    aigw__buf *out = aigw__http_conn_out(c);
    size_t mark = out ? out->len : 0;
    aigw_status st = out ? build_head(res, out, status, content_type, len, 0) : AIGW_ECANCELED;
    if (st) {
        if (out)
            truncate_out(out, mark);
        return st;
    }
    int failed = !res->head && len &&
                 (len > UINT_MAX - out->len || aigw__buf_append(out, body, len) != AIGW_OK);
    if (failed)
        truncate_out(out, mark);
    else
        aigw__http_conn_corked(c);
    res->completed = 1;
    finish_exchange(c, res, failed);
    return failed ? AIGW_ECANCELED : AIGW_OK;
}

aigw_status aigw__http_response_send_error(aigw__http_response *res, int status, const char *type,
                                           const char *message, const char *param,
                                           const char *code) {
    if (!res)
        return AIGW_EINVAL;
    aigw__buf body = AIGW__BUF_INIT;
    aigw_status st = aigw__http_error_json(&body, type ? type : aigw__http_error_type(status),
                                           message, param, code);
    if (!st)
        st = aigw__http_response_send(res, status, "application/json", body.data, body.len);
    aigw__buf_free(&body);
    return st;
}

aigw_status aigw__http_response_start(aigw__http_response *res, int status,
                                      const char *content_type) {
    if (!res || res->started || res->completed)
        return AIGW_EINVAL;
    conn *c = res->c;
    if (!c) {
        res->started = 1;
        return AIGW_ECANCELED;
    }
    aigw__buf *out = aigw__http_conn_out(c);
    size_t mark = out ? out->len : 0;
    aigw_status st = out ? build_head(res, out, status, content_type, 0, 1) : AIGW_ECANCELED;
    if (st) {
        if (out)
            truncate_out(out, mark);
        return st;
    }
    res->started = 1;
    aigw__http_conn_corked(c);
    return AIGW_OK;
}

aigw_status aigw__http_response_write(aigw__http_response *res, const void *data, size_t len) {
    if (!res || !res->started || res->completed || (len && !data))
        return AIGW_EINVAL;
    conn *c = res->c;
    if (!c)
        return AIGW_ECANCELED;
    if (len == 0 || res->head)
        return AIGW_OK; /* an empty chunk would end the body */
    int rc;
    if (res->chunked) {
        char size[32];
        int n = snprintf(size, sizeof(size), "%zx\r\n", len);
        rc = aigw__http_conn_write(c, size, (size_t)n, data, len, "\r\n", 2);
    } else {
        rc = aigw__http_conn_write(c, data, len, NULL, 0, NULL, 0);
    }
    if (rc) {
        aigw__http_conn_close(c);
        return AIGW_ECANCELED;
    }
    return AIGW_OK;
}

aigw_status aigw__http_response_end(aigw__http_response *res) {
    if (!res || !res->started || res->completed)
        return AIGW_EINVAL;
    res->completed = 1;
    conn *c = res->c;
    if (!c) {
        aigw__http_response_free(res);
        return AIGW_ECANCELED;
    }
    int rc = 0;
    if (res->chunked && !res->head)
        rc = aigw__http_conn_write(c, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
    finish_exchange(c, res, rc != 0);
    return rc ? AIGW_ECANCELED : AIGW_OK;
}

void aigw__http_response_on_disconnect(aigw__http_response *res, aigw__http_disconnect_cb cb,
                                       void *data) {
    if (!res)
        return;
    res->on_disconnect = cb;
    res->disconnect_data = data;
}

int aigw__http_response_connected(const aigw__http_response *res) {
    return res && res->c != NULL;
}

size_t aigw__http_response_pending(const aigw__http_response *res) {
    return res && res->c ? res->c->pending_bytes + res->c->out.len : 0;
}
