/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 server: parsing a request with http_parser, within the limits. */
#include "server/http_conn.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

const char *aigw__http_request_header(const aigw__http_request *req, const char *name) {
    if (!req || !name)
        return NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* ---- parsing ---- */

static int refuse(conn *c, int status, const char *msg, const char *code) {
    c->fail_status = status;
    c->fail_msg = msg;
    c->fail_code = code;
    return -1;
}

#define BUSY_RETRY_AFTER_S 1
#define BUSY_MESSAGE "The server holds too many request bodies at once; retry later."

static int refuse_busy(conn *c) {
    c->fail_retry_after = BUSY_RETRY_AFTER_S;
    return refuse(c, 503, BUSY_MESSAGE, "server_overloaded");
}

static int count_header_bytes(conn *c, size_t n) {
    c->header_bytes += n;
    if (c->header_bytes > c->srv->o.max_header_bytes)
        return refuse(c, 431, "The request headers are too large.", "request_headers_too_large");
    return 0;
}

/* Only HTTP/1.0 and HTTP/1.1: http_parser itself takes any one-digit
 * version ("HTTP/9.9"). Checked as soon as the request line is in. */
static int check_version(conn *c, const http_parser *p) {
    if (p->http_major == 1 && p->http_minor <= 1)
        return 0;
    return refuse(c, 505, "HTTP version not supported: this server speaks HTTP/1.0 and HTTP/1.1.",
                  "http_version_not_supported");
}

/* The request head, scanned for obsolete line folding (a header line
 * starting with a space or tab, RFC 9112 section 5.2): http_parser joins
 * such a line to the header before it, where a proxy in front may have
 * split it; a server must refuse it with 400. The scan is a small state
 * machine over the head's bytes only (it stops at the blank line), kept in
 * c->head_scan across reads. */
enum { HEAD_START, HEAD_LINE, HEAD_LF, HEAD_END_CR, HEAD_DONE };

int aigw__http_scan_head(conn *c, const char *p, size_t n) {
    int s = c->head_scan;
    size_t i = 0;
    while (i < n && s != HEAD_DONE) {
        char ch = p[i];
        switch (s) {
        case HEAD_START: /* blank lines before the request line are allowed */
            if (ch != '\r' && ch != '\n')
                s = HEAD_LINE;
            i++;
            break;
        case HEAD_LINE: {
            const char *lf = memchr(p + i, '\n', n - i);
            if (!lf)
                i = n;
            else {
                i = (size_t)(lf - p) + 1;
                s = HEAD_LF;
            }
            break;
        }
        case HEAD_LF:
            if (ch == ' ' || ch == '\t')
                return refuse(c, 400,
                              "Obsolete line folding (a header line starting with a space or "
                              "tab) is not allowed.",
                              "invalid_request");
            s = ch == '\r' ? HEAD_END_CR : ch == '\n' ? HEAD_DONE : HEAD_LINE;
            i++;
            break;
        default: /* HEAD_END_CR */
            s = ch == '\n' ? HEAD_DONE : HEAD_LINE;
            i++;
            break;
        }
    }
    c->head_scan = s;
    return 0;
}

int aigw__http_head_scanned(const conn *c) {
    return c->head_scan == HEAD_DONE;
}

static int on_message_begin(http_parser *p) {
    conn *c = p->data;
    aigw__http_response *res = c->spare_res; /* cleared by the last exchange */
    if (res)
        c->spare_res = NULL;
    else if (!(res = aigw__calloc(1, sizeof(*res))))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    res->c = c;
    memcpy(res->remote, c->remote, sizeof(res->remote));
    c->cur = res;
    c->state = C_READING;
    c->req_start = uv_now(c->srv->loop);
    c->header_bytes = 0;
    c->headers_done = 0;
    c->last_was_value = 0;
    aigw__buf_clear(&c->hname);
    aigw__buf_clear(&c->hval);
    uv_timer_start(&c->timer, aigw__http_conn_on_timer, c->srv->o.header_timeout_ms, 0);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (count_header_bytes(c, len))
        return -1;
    if (aigw__buf_append(&c->cur->url, at, len))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    return 0;
}

static int commit_header(conn *c) {
    aigw__http_response *res = c->cur;
    if (!c->hname.len && !c->hval.len)
        return 0;
    if (c->headers_done) { /* a chunked body's trailer: ignored */
        aigw__buf_clear(&c->hname);
        aigw__buf_clear(&c->hval);
        c->last_was_value = 0;
        return 0;
    }
    if (res->req.nheaders >= c->srv->o.max_headers)
        return refuse(c, 431, "The request has too many headers.", "request_headers_too_large");
    if (res->req.nheaders == res->cap_headers) {
        size_t cap = res->cap_headers ? res->cap_headers * 2 : 16;
        aigw__http_header *h = aigw__reallocarray(res->headers, cap, sizeof(*h));
        if (h)
            res->headers = h;
        size_t *o = h ? aigw__reallocarray(res->hoffs, cap, 2 * sizeof(*o)) : NULL;
        if (!o)
            return refuse(c, 503, "The server is out of memory.", "server_overloaded");
        res->hoffs = o;
        res->cap_headers = cap;
    }
    size_t vlen = c->hval.len;
    while (vlen && (c->hval.data[vlen - 1] == ' ' || c->hval.data[vlen - 1] == '\t'))
        vlen--;
    /* name NUL value NUL, into the request's one header store; the pointers
     * are set when the headers are complete (the store may move till then) */
    aigw__buf *hs = &res->hstore;
    size_t at = hs->len;
    if (aigw__buf_reserve(hs, c->hname.len + vlen + 2))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    for (size_t i = 0; i < c->hname.len; i++)
        hs->data[at + i] = (char)tolower((unsigned char)c->hname.data[i]);
    hs->data[at + c->hname.len] = 0;
    if (vlen)
        memcpy(hs->data + at + c->hname.len + 1, c->hval.data, vlen);
    hs->data[at + c->hname.len + 1 + vlen] = 0;
    hs->len = at + c->hname.len + vlen + 2;
    hs->data[hs->len] = 0;
    res->hoffs[2 * res->req.nheaders] = at;
    res->hoffs[2 * res->req.nheaders + 1] = at + c->hname.len + 1;
    res->req.nheaders++;
    aigw__buf_clear(&c->hname);
    aigw__buf_clear(&c->hval);
    c->last_was_value = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (check_version(c, p))
        return -1;
    if (c->last_was_value && commit_header(c))
        return -1;
    if (count_header_bytes(c, len + 4)) /* ": " and CRLF */
        return -1;
    if (!c->headers_done && aigw__buf_append(&c->hname, at, len))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (count_header_bytes(c, len))
        return -1;
    if (!c->headers_done && aigw__buf_append(&c->hval, at, len))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    c->last_was_value = 1;
    return 0;
}

static int on_headers_complete(http_parser *p) {
    conn *c = p->data;
    aigw__http_response *res = c->cur;
    aigw__http_server *srv = c->srv;
    if (check_version(c, p) || commit_header(c))
        return -1;
    c->headers_done = 1;
    aigw__http_request *req = &res->req;
    req->method = http_method_str((enum http_method)p->method);
    req->target = res->url.data ? res->url.data : "";
    size_t plen = strcspn(req->target, "?#");
    size_t qlen = req->target[plen] == '?' ? strcspn(req->target + plen + 1, "#") : 0;
    aigw__buf *hs = &res->hstore;
    size_t path_at = hs->len, query_at = path_at + plen + 1;
    if (aigw__buf_reserve(hs, plen + qlen + 2))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    memcpy(hs->data + path_at, req->target, plen);
    hs->data[path_at + plen] = 0;
    if (qlen)
        memcpy(hs->data + query_at, req->target + plen + 1, qlen);
    hs->data[query_at + qlen] = 0;
    hs->len = query_at + qlen + 1;
    hs->data[hs->len] = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        res->headers[i].name = hs->data + res->hoffs[2 * i];
        res->headers[i].value = hs->data + res->hoffs[2 * i + 1];
    }
    res->path = hs->data + path_at;
    res->query = req->target[plen] == '?' ? hs->data + query_at : NULL;
    req->path = res->path;
    req->query = res->query;
    req->http_major = p->http_major;
    req->http_minor = p->http_minor;
    req->headers = res->headers;
    req->remote_addr = res->remote;
    res->keep_alive = http_should_keep_alive(p);
    res->head = p->method == HTTP_HEAD;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > srv->o.max_body_bytes)
        return refuse(c, 413, "The request body is too large.", "request_too_large");
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
        /* Refused before a byte is read when it cannot fit now; else the
         * buffer is sized once (no doubling: a 32 MB body costs 32 MB). */
        if (!aigw__http_limits_body_fits(srv->limits, (size_t)p->content_length))
            return refuse_busy(c);
        if (!res->body.len)
            aigw__buf_reserve(&res->body, (size_t)p->content_length);
    }
    const char *expect = aigw__http_request_header(req, "expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return refuse(c, 417, "Only 'Expect: 100-continue' is supported.",
                          "expectation_failed");
        if (p->http_major == 1 && p->http_minor >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            aigw__http_conn_write(c, cont, sizeof(cont) - 1, NULL, 0, NULL, 0);
        }
    }
    /* From here the whole-request deadline applies. */
    uint64_t spent = uv_now(srv->loop) - c->req_start;
    uint64_t left = spent < srv->o.request_timeout_ms ? srv->o.request_timeout_ms - spent : 1;
    uv_timer_start(&c->timer, aigw__http_conn_on_timer, left, 0);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    aigw__http_response *res = c->cur;
    if (res->body.len + len > c->srv->o.max_body_bytes)
        return refuse(c, 413, "The request body is too large.", "request_too_large");
    /* Counted as it arrives, so a client that announces a body and stalls
     * holds only what it sent. */
    if (aigw__http_limits_body_take(c->srv->limits, len))
        return refuse_busy(c);
    if (!res->body_limits)
        res->body_limits = aigw__http_limits_ref(c->srv->limits);
    res->body_held += len;
    if (aigw__buf_append(&res->body, at, len))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    return 0;
}

static int on_message_complete(http_parser *p) {
    http_parser_pause(p, 1);
    return 0;
}

void aigw__http_parser_settings(http_parser_settings *s) {
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_header_field = on_header_field;
    s->on_header_value = on_header_value;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}
