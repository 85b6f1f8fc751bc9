/* HTTP/1.1 server on libuv + http_parser: connections, limits, handlers.
 * See http_server.h for the design. */
#include "server/http_server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <http_parser.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

#define DEF_MAX_HEADER_BYTES (32u * 1024u)
#define DEF_MAX_HEADERS 100u
#define DEF_MAX_BODY_BYTES (32u * 1024u * 1024u)
#define DEF_HEADER_TIMEOUT_MS 10000u
#define DEF_REQUEST_TIMEOUT_MS 60000u
#define DEF_IDLE_TIMEOUT_MS 75000u
#define DEF_SEND_TIMEOUT_MS 60000u
#define DEF_MAX_CONNECTIONS 4096u
#define DEF_BACKLOG 511
#define LINGER_MS 2000u
#define REJECT_SLACK 64u
#define READ_SIZE 65536u

typedef struct conn conn;

enum conn_state {
    C_IDLE,     /* between requests (or before the first) */
    C_READING,  /* a request's bytes are arriving */
    C_HANDLING, /* the handler owns the request */
    C_LINGER,   /* answered and closing: write side shut, input drained */
    C_CLOSED
};

struct aigw__http_response {
    aigw__http_request req; /* what the handler sees */
    conn *c;                /* NULL once the connection let go */
    aigw__buf url, body, hdrs;
    aigw__http_header *headers;
    size_t cap_headers;
    char *path, *query;
    char remote[64];
    int keep_alive; /* the request allows reuse */
    int head;       /* HEAD: no body bytes go out */
    int dispatched, started, completed, chunked, close_after;
    aigw__http_disconnect_cb on_disconnect;
    void *disconnect_data;
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    aigw__http_server *srv;
    conn *prev, *next;
    int open_handles;
    enum conn_state state;
    http_parser parser;
    aigw__buf in; /* received, not yet parsed from in_off */
    size_t in_off;
    aigw__http_response *cur; /* the request being read or handled */
    aigw__buf hname, hval;
    int last_was_value, headers_done;
    size_t header_bytes;
    uint64_t req_start;
    int fail_status; /* set by a parser callback that refused */
    const char *fail_msg, *fail_code;
    int reading, eof, shut_done, in_dispatch, rejected, served;
    size_t pending_writes, pending_bytes;
    char remote[64];
};

struct aigw__http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t shutdown_timer;
    int open_handles, listening;
    aigw__http_server_options o;
    aigw__http_handler handler;
    void *user;
    http_parser_settings settings;
    conn *conns;
    unsigned int nconns, nrejected, closing_conns;
    int port;
    int shutting_down, finishing;
    aigw__http_closed_cb on_closed;
    void *closed_data;
    char rbuf[READ_SIZE]; /* reads land here, then are copied (one loop thread) */
};

typedef struct wreq {
    uv_write_t req;
    conn *c;
    size_t len;
    char data[];
} wreq;

static void conn_process(conn *c);
static void conn_close(conn *c);
static void conn_linger(conn *c);
static void server_maybe_finish(aigw__http_server *srv);

/* ---- responses ---- */

static void response_free(aigw__http_response *res) {
    if (!res)
        return;
    for (size_t i = 0; i < res->req.nheaders; i++) {
        aigw__free((char *)res->headers[i].name);
        aigw__free((char *)res->headers[i].value);
    }
    aigw__free(res->headers);
    aigw__buf_free(&res->url);
    aigw__buf_free(&res->body);
    aigw__buf_free(&res->hdrs);
    aigw__free(res->path);
    aigw__free(res->query);
    aigw__free(res);
}

/* The connection lets go of its response: freed if the handler never saw it
 * or already completed it, else the handler hears of the disconnect. */
static void response_detach(aigw__http_response *res) {
    res->c = NULL;
    if (!res->dispatched || res->completed) {
        response_free(res);
        return;
    }
    aigw__http_disconnect_cb cb = res->on_disconnect;
    res->on_disconnect = NULL;
    if (cb)
        cb(res, res->disconnect_data); /* may complete (free) res */
}

const char *aigw__http_request_header(const aigw__http_request *req, const char *name) {
    if (!req || !name)
        return NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* ---- writing ---- */

static void on_timer(uv_timer_t *t);

/* Arms the send timeout while the handler has bytes waiting in the queue. */
static void send_timer_update(conn *c) {
    if (c->state != C_HANDLING)
        return;
    if (c->pending_writes)
        uv_timer_start(&c->timer, on_timer, c->srv->o.send_timeout_ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_write_done(uv_write_t *r, int status) {
    wreq *w = (wreq *)r;
    conn *c = w->c;
    c->pending_writes--;
    c->pending_bytes -= w->len;
    aigw__free(w);
    if (c->state == C_CLOSED)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    send_timer_update(c);
}

/* Queues the concatenation of up to three pieces; 0 or -1. */
static int conn_write(conn *c, const void *p1, size_t n1, const void *p2, size_t n2, const void *p3,
                      size_t n3) {
    if (c->state == C_CLOSED)
        return -1;
    size_t total = n1 + n2;
    if (total < n1 || total + n3 < total || total + n3 > UINT_MAX - sizeof(wreq))
        return -1;
    total += n3;
    wreq *w = aigw__malloc(sizeof(*w) + total);
    if (!w)
        return -1;
    char *p = w->data;
    if (n1)
        memcpy(p, p1, n1);
    if (n2)
        memcpy(p + n1, p2, n2);
    if (n3)
        memcpy(p + n1 + n2, p3, n3);
    w->c = c;
    w->len = total;
    uv_buf_t b = uv_buf_init(w->data, (unsigned int)total);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0) {
        aigw__free(w);
        return -1;
    }
    c->pending_writes++;
    c->pending_bytes += total;
    if (c->state == C_HANDLING && !uv_is_active((uv_handle_t *)&c->timer))
        send_timer_update(c);
    return 0;
}

/* A response the server makes itself, then a lingering close. */
static void conn_error(conn *c, int status, const char *message, const char *code) {
    if (c->cur) {
        aigw__http_response *res = c->cur;
        c->cur = NULL;
        response_detach(res); /* not dispatched: just freed */
    }
    aigw__buf body = AIGW__BUF_INIT, head = AIGW__BUF_INIT;
    int ok = aigw__http_error_json(&body, aigw__http_error_type(status), message, NULL, code) ==
                 AIGW_OK &&
             aigw__http_status_line(&head, status) == AIGW_OK &&
             aigw__buf_printf(&head,
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              body.len) == AIGW_OK;
    if (ok)
        conn_write(c, head.data, head.len, body.data, body.len, NULL, 0);
    aigw__buf_free(&body);
    aigw__buf_free(&head);
    conn_linger(c);
}

/* ---- connection lifetime ---- */

static void on_conn_handle_closed(uv_handle_t *h) {
    conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    aigw__http_server *srv = c->srv;
    aigw__buf_free(&c->in);
    aigw__buf_free(&c->hname);
    aigw__buf_free(&c->hval);
    aigw__free(c);
    srv->closing_conns--;
    server_maybe_finish(srv);
}

static void conn_unlink(conn *c) {
    aigw__http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->rejected)
        srv->nrejected--;
    else
        srv->nconns--;
}

/* Closes at once; a handler still answering hears of the disconnect. */
static void conn_close(conn *c) {
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    conn_unlink(c);
    c->srv->closing_conns++;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    aigw__http_response *res = c->cur;
    c->cur = NULL;
    if (res)
        response_detach(res);
}

static void on_shutdown(uv_shutdown_t *s, int status) {
    conn *c = s->data;
    if (c->state == C_CLOSED)
        return;
    c->shut_done = 1;
    if (status < 0 || c->eof)
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_control(conn *c, int want) {
    if (want && !c->reading && !c->eof) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
        else
            conn_close(c);
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* After the last response: shut the write side (after the queued writes),
 * drain what the client still sends, close on its EOF or after LINGER_MS. */
static void conn_linger(conn *c) {
    if (c->state == C_CLOSED || c->state == C_LINGER)
        return;
    c->state = C_LINGER;
    aigw__buf_free(&c->in);
    c->in_off = 0;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
    read_control(c, 1);
}

static void conn_idle(conn *c) {
    c->state = C_IDLE;
    aigw__http_server *srv = c->srv;
    uv_timer_start(&c->timer, on_timer,
                   c->served ? srv->o.idle_timeout_ms : srv->o.header_timeout_ms, 0);
}

static void on_timer(uv_timer_t *t) {
    conn *c = t->data;
    switch (c->state) {
    case C_READING:
        conn_error(c, 408, "The request was not received in time.", "request_timeout");
        break;
    case C_IDLE:     /* nothing asked: go quietly */
    case C_HANDLING: /* the client stopped reading */
    case C_LINGER:
        conn_close(c);
        break;
    case C_CLOSED:
        break;
    }
}

/* The handler completed c's current response. */
static void finish_exchange(conn *c, aigw__http_response *res, int failed) {
    int close_after = res->close_after || failed || c->srv->shutting_down;
    c->cur = NULL;
    res->c = NULL;
    response_free(res);
    c->served = 1;
    if (failed) {
        conn_close(c);
        return;
    }
    if (close_after) {
        conn_linger(c);
        return;
    }
    conn_idle(c);
    if (!c->in_dispatch)
        conn_process(c);
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
            st = aigw__buf_printf(b, "Content-Length: %zu\r\n", len);
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
        response_free(res);
        return AIGW_ECANCELED;
    }
    aigw__buf head = AIGW__BUF_INIT;
    aigw_status st = build_head(res, &head, status, content_type, len, 0);
    if (st) {
        aigw__buf_free(&head);
        return st;
    }
    int rc = conn_write(c, head.data, head.len, body, res->head ? 0 : len, NULL, 0);
    aigw__buf_free(&head);
    res->completed = 1;
    finish_exchange(c, res, rc != 0);
    return rc ? AIGW_ECANCELED : AIGW_OK;
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
    aigw__buf head = AIGW__BUF_INIT;
    aigw_status st = build_head(res, &head, status, content_type, 0, 1);
    if (st) {
        aigw__buf_free(&head);
        return st;
    }
    res->started = 1;
    int rc = conn_write(c, head.data, head.len, NULL, 0, NULL, 0);
    aigw__buf_free(&head);
    if (rc) {
        conn_close(c); /* the handler hears of it; res may be gone now */
        return AIGW_ECANCELED;
    }
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
        rc = conn_write(c, size, (size_t)n, data, len, "\r\n", 2);
    } else {
        rc = conn_write(c, data, len, NULL, 0, NULL, 0);
    }
    if (rc) {
        conn_close(c);
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
        response_free(res);
        return AIGW_ECANCELED;
    }
    int rc = 0;
    if (res->chunked && !res->head)
        rc = conn_write(c, "0\r\n\r\n", 5, NULL, 0, NULL, 0);
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
    return res && res->c ? res->c->pending_bytes : 0;
}

/* ---- parsing ---- */

static int refuse(conn *c, int status, const char *msg, const char *code) {
    c->fail_status = status;
    c->fail_msg = msg;
    c->fail_code = code;
    return -1;
}

static int count_header_bytes(conn *c, size_t n) {
    c->header_bytes += n;
    if (c->header_bytes > c->srv->o.max_header_bytes)
        return refuse(c, 431, "The request headers are too large.", "request_headers_too_large");
    return 0;
}

static int on_message_begin(http_parser *p) {
    conn *c = p->data;
    aigw__http_response *res = aigw__calloc(1, sizeof(*res));
    if (!res)
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
    uv_timer_start(&c->timer, on_timer, c->srv->o.header_timeout_ms, 0);
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
        if (!h)
            return refuse(c, 503, "The server is out of memory.", "server_overloaded");
        res->headers = h;
        res->cap_headers = cap;
    }
    size_t vlen = c->hval.len;
    while (vlen && (c->hval.data[vlen - 1] == ' ' || c->hval.data[vlen - 1] == '\t'))
        vlen--;
    char *name = aigw__strndup(c->hname.data ? c->hname.data : "", c->hname.len);
    char *value = aigw__strndup(c->hval.data ? c->hval.data : "", vlen);
    if (!name || !value) {
        aigw__free(name);
        aigw__free(value);
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    }
    for (char *q = name; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    res->headers[res->req.nheaders].name = name;
    res->headers[res->req.nheaders].value = value;
    res->req.nheaders++;
    aigw__buf_clear(&c->hname);
    aigw__buf_clear(&c->hval);
    c->last_was_value = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
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
    if (commit_header(c))
        return -1;
    c->headers_done = 1;
    aigw__http_request *req = &res->req;
    req->method = http_method_str((enum http_method)p->method);
    req->target = res->url.data ? res->url.data : "";
    size_t plen = strcspn(req->target, "?#");
    res->path = aigw__strndup(req->target, plen);
    if (req->target[plen] == '?') {
        size_t qlen = strcspn(req->target + plen + 1, "#");
        res->query = aigw__strndup(req->target + plen + 1, qlen);
        if (!res->query)
            return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    }
    if (!res->path)
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
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
    const char *expect = aigw__http_request_header(req, "expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return refuse(c, 417, "Only 'Expect: 100-continue' is supported.",
                          "expectation_failed");
        if (p->http_major == 1 && p->http_minor >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write(c, cont, sizeof(cont) - 1, NULL, 0, NULL, 0);
        }
    }
    /* From here the whole-request deadline applies. */
    uint64_t spent = uv_now(srv->loop) - c->req_start;
    uint64_t left = spent < srv->o.request_timeout_ms ? srv->o.request_timeout_ms - spent : 1;
    uv_timer_start(&c->timer, on_timer, left, 0);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    aigw__http_response *res = c->cur;
    if (res->body.len + len > c->srv->o.max_body_bytes)
        return refuse(c, 413, "The request body is too large.", "request_too_large");
    if (aigw__buf_append(&res->body, at, len))
        return refuse(c, 503, "The server is out of memory.", "server_overloaded");
    return 0;
}

static int on_message_complete(http_parser *p) {
    http_parser_pause(p, 1);
    return 0;
}

static void dispatch(conn *c) {
    aigw__http_response *res = c->cur;
    aigw__http_server *srv = c->srv;
    res->req.body = res->body.data ? res->body.data : "";
    res->req.body_len = res->body.len;
    res->dispatched = 1;
    c->state = C_HANDLING;
    uv_timer_stop(&c->timer);
    c->in_dispatch = 1;
    srv->handler(&res->req, res, srv->user);
    c->in_dispatch = 0;
}

static void conn_process(conn *c) {
    aigw__http_server *srv = c->srv;
    while ((c->state == C_IDLE || c->state == C_READING) && c->in_off < c->in.len) {
        size_t n = http_parser_execute(&c->parser, &srv->settings, c->in.data + c->in_off,
                                       c->in.len - c->in_off);
        c->in_off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            dispatch(c);
            continue;
        }
        if (e != HPE_OK) {
            if (c->fail_status)
                conn_error(c, c->fail_status, c->fail_msg, c->fail_code);
            else if (e == HPE_HEADER_OVERFLOW)
                conn_error(c, 431, "The request headers are too large.",
                           "request_headers_too_large");
            else
                conn_error(c, 400, http_errno_description(e), "invalid_request");
            return;
        }
        if (n == 0)
            break;
    }
    if (c->state == C_CLOSED || c->state == C_LINGER)
        return;
    if (c->in_off >= c->in.len) {
        aigw__buf_clear(&c->in);
        c->in_off = 0;
    } else if (c->in_off > 0) {
        aigw__buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    /* While the handler works, keep reading (to see a disconnect) but not
     * without bound: pipelined input waits. */
    int want = c->state != C_HANDLING || c->in.len < srv->o.max_header_bytes + READ_SIZE;
    read_control(c, want);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    conn *c = h->data;
    (void)suggested;
    buf->base = c->srv->rbuf;
    buf->len = sizeof(c->srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = s->data;
    if (c->state == C_CLOSED)
        return;
    if (nread > 0) {
        if (c->state == C_LINGER)
            return; /* drained */
        if (aigw__buf_append(&c->in, buf->base, (size_t)nread)) {
            conn_close(c);
            return;
        }
        if (c->state == C_HANDLING) {
            if (c->in.len - c->in_off >= c->srv->o.max_header_bytes + READ_SIZE)
                read_control(c, 0);
            return;
        }
        conn_process(c);
        return;
    }
    if (nread == 0)
        return;
    /* EOF or error */
    c->eof = 1;
    c->reading = 0;
    uv_read_stop(s);
    if (c->state == C_LINGER && !c->shut_done)
        return; /* on_shutdown closes */
    conn_close(c);
}

/* ---- accepting ---- */

static void on_connection(uv_stream_t *l, int status) {
    aigw__http_server *srv = l->data;
    if (status < 0 || srv->shutting_down)
        return;
    conn *c = aigw__calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->state = C_IDLE;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    int reject = srv->nconns >= srv->o.max_connections;
    if (reject) {
        c->rejected = 1;
        srv->nrejected++;
    } else {
        srv->nconns++;
    }
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (reject) {
        if (srv->nrejected > REJECT_SLACK)
            conn_close(c);
        else
            conn_error(c, 503, "The server has too many connections; retry later.",
                       "server_overloaded");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int namelen = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &namelen) == 0)
        uv_ip_name((struct sockaddr *)&ss, c->remote, sizeof(c->remote));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    conn_idle(c);
    read_control(c, 1);
}

static void on_server_handle_closed(uv_handle_t *h) {
    aigw__http_server *srv = h->data;
    if (--srv->open_handles > 0)
        return;
    aigw__http_closed_cb cb = srv->on_closed;
    void *data = srv->closed_data;
    aigw__free(srv);
    if (cb)
        cb(data);
}

static void server_maybe_finish(aigw__http_server *srv) {
    if (!srv->shutting_down || srv->finishing || srv->conns || srv->closing_conns)
        return;
    srv->finishing = 1;
    if (srv->listening) {
        srv->listening = 0;
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    }
    uv_close((uv_handle_t *)&srv->shutdown_timer, on_server_handle_closed);
}

static void force_close_all(aigw__http_server *srv) {
    uv_timer_stop(&srv->shutdown_timer);
    while (srv->conns)
        conn_close(srv->conns);
    server_maybe_finish(srv);
}

static void on_shutdown_deadline(uv_timer_t *t) {
    force_close_all(t->data);
}

void aigw__http_server_shutdown(aigw__http_server *srv, uint64_t deadline_ms,
                                aigw__http_closed_cb on_closed, void *data) {
    if (!srv || srv->finishing)
        return;
    if (srv->shutting_down) {
        force_close_all(srv);
        return;
    }
    srv->shutting_down = 1;
    srv->on_closed = on_closed;
    srv->closed_data = data;
    if (srv->listening) {
        srv->listening = 0;
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    }
    /* Idle connections go now; those mid-request finish (with close). */
    conn *next;
    for (conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state == C_IDLE && c->in.len == c->in_off)
            conn_close(c);
    }
    if (deadline_ms == 0) {
        force_close_all(srv);
        return;
    }
    uv_timer_start(&srv->shutdown_timer, on_shutdown_deadline, deadline_ms, 0);
    server_maybe_finish(srv);
}

int aigw__http_server_port(const aigw__http_server *srv) {
    return srv ? srv->port : 0;
}

unsigned int aigw__http_server_connections(const aigw__http_server *srv) {
    return srv ? srv->nconns : 0;
}

static void options_defaults(aigw__http_server_options *o, const aigw__http_server_options *in) {
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof(*o));
    if (!o->max_header_bytes)
        o->max_header_bytes = DEF_MAX_HEADER_BYTES;
    if (!o->max_headers)
        o->max_headers = DEF_MAX_HEADERS;
    if (!o->max_body_bytes)
        o->max_body_bytes = DEF_MAX_BODY_BYTES;
    if (!o->header_timeout_ms)
        o->header_timeout_ms = DEF_HEADER_TIMEOUT_MS;
    if (!o->request_timeout_ms)
        o->request_timeout_ms = DEF_REQUEST_TIMEOUT_MS;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = DEF_IDLE_TIMEOUT_MS;
    if (!o->send_timeout_ms)
        o->send_timeout_ms = DEF_SEND_TIMEOUT_MS;
    if (!o->max_connections)
        o->max_connections = DEF_MAX_CONNECTIONS;
    if (o->backlog <= 0)
        o->backlog = DEF_BACKLOG;
}

aigw_status aigw__http_server_new(uv_loop_t *loop, const char *host, int port,
                                  const aigw__http_server_options *opts, aigw__http_handler handler,
                                  void *user, aigw__http_server **out, aigw_error **err) {
    if (!loop || !handler || !out || port < 0 || port > 65535)
        return aigw__error_set(err, AIGW_EINVAL, "http server: invalid argument");
    *out = NULL;
    if (!host || strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return aigw__error_set(err, AIGW_EINVAL, "http server: bad listen address '%s'", host);
    aigw__http_server *srv = aigw__calloc(1, sizeof(*srv));
    if (!srv)
        return aigw__error_set(err, AIGW_ENOMEM, "http server: out of memory");
    srv->loop = loop;
    srv->handler = handler;
    srv->user = user;
    options_defaults(&srv->o, opts);
    srv->settings.on_message_begin = on_message_begin;
    srv->settings.on_url = on_url;
    srv->settings.on_header_field = on_header_field;
    srv->settings.on_header_value = on_header_value;
    srv->settings.on_headers_complete = on_headers_complete;
    srv->settings.on_body = on_body;
    srv->settings.on_message_complete = on_message_complete;

    int rc = uv_tcp_init_ex(loop, &srv->listener, ss.ss_family);
    if (rc != 0) {
        aigw__free(srv);
        return aigw__error_set(err, AIGW_EIO, "http server: socket: %s", uv_strerror(rc));
    }
    uv_timer_init(loop, &srv->shutdown_timer);
    srv->listener.data = srv;
    srv->shutdown_timer.data = srv;
    srv->open_handles = 2;
    srv->listening = 1;
    if (srv->o.reuseport) {
        uv_os_fd_t fd;
        int one = 1;
        if ((rc = uv_fileno((uv_handle_t *)&srv->listener, &fd)) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
            rc = uv_translate_sys_error(errno);
    }
    if (rc == 0)
        rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, srv->o.backlog, on_connection);
    if (rc == 0) {
        struct sockaddr_storage name;
        int namelen = sizeof(name);
        rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&name, &namelen);
        if (rc == 0)
            srv->port = ntohs(name.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&name)->sin6_port
                                                         : ((struct sockaddr_in *)&name)->sin_port);
    }
    if (rc != 0) {
        /* Freed once the loop has closed the handles. */
        srv->shutting_down = 1;
        server_maybe_finish(srv);
        return aigw__error_set(err, AIGW_EIO, "http server: cannot listen on %s:%d: %s", host, port,
                               uv_strerror(rc));
    }
    *out = srv;
    return AIGW_OK;
}
