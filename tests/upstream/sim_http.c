/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 server core of the simulator (libuv + http_parser). */
#include "sim_http.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <zlib.h>

/* ---- requests and responses ---- */

const char *sim_request_header(const sim_request *req, const char *lname) {
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    return NULL;
}

static void request_reset(sim_request *req) {
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    req->headers = NULL;
    req->nheaders = 0;
    sim_buf_free(&req->url);
    sim_buf_free(&req->body);
    free(req->path);
    req->path = NULL;
    if (req->json)
        json_object_put(req->json);
    req->json = NULL;
    req->method[0] = '\0';
    sim_fault_init(&req->fault);
}

void sim_response_init(sim_response *res) {
    memset(res, 0, sizeof(*res));
    res->cut_after = -1;
    res->trickle_bytes = 8;
}

void sim_response_free(sim_response *res) {
    free(res->content_type);
    sim_buf_free(&res->headers);
    sim_buf_free(&res->body);
    for (size_t i = 0; i < res->nevents; i++)
        free(res->events[i].data);
    free(res->events);
    res->content_type = NULL;
    res->events = NULL;
    res->nevents = res->cap_events = 0;
}

void sim_res_header(sim_response *res, const char *name, const char *value) {
    sim_buf_printf(&res->headers, "%s: %s\r\n", name, value);
}

static void set_type(sim_response *res, int status, const char *content_type) {
    res->status = status;
    free(res->content_type);
    res->content_type = content_type ? sim_xstrdup(content_type) : NULL;
}

void sim_res_body(sim_response *res, int status, const char *content_type, const char *data,
                  size_t len) {
    set_type(res, status, content_type);
    res->streaming = 0;
    sim_buf_reset(&res->body);
    sim_buf_append(&res->body, data, len);
}

char *sim_json_dump(json_object *obj, size_t *len) {
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len)
        *len = n;
    return sim_xstrndup(s, n);
}

void sim_res_json(sim_response *res, int status, json_object *obj) {
    size_t n;
    char *s = sim_json_dump(obj, &n);
    sim_res_body(res, status, "application/json", s, n);
    free(s);
}

void sim_res_gzip_if_asked(const sim_request *req, sim_response *res) {
    const char *ae = sim_request_header(req, "accept-encoding");
    if (!ae || !strstr(ae, "gzip") || res->streaming || res->status != 200 || !res->body.len)
        return;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    uLong cap = deflateBound(&z, (uLong)res->body.len);
    unsigned char *out = sim_xmalloc(cap);
    z.next_in = (unsigned char *)res->body.data;
    z.avail_in = (uInt)res->body.len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc == Z_STREAM_END) {
        sim_buf_reset(&res->body);
        sim_buf_append(&res->body, (const char *)out, n);
        sim_res_header(res, "Content-Encoding", "gzip");
    }
    free(out);
}

void sim_res_stream(sim_response *res, int status, const char *content_type) {
    set_type(res, status, content_type);
    res->streaming = 1;
}

void sim_res_event(sim_response *res, const char *data, size_t len) {
    if (res->nevents == res->cap_events) {
        res->cap_events = res->cap_events ? res->cap_events * 2 : 16;
        res->events = sim_xrealloc(res->events, res->cap_events * sizeof(*res->events));
    }
    res->events[res->nevents].data = sim_xstrndup(data, len);
    res->events[res->nevents].len = len;
    res->nevents++;
}

/* ---- connections ---- */

typedef struct piece {
    char *data;
    size_t len;
    unsigned delay_ms; /* wait this long before writing */
} piece;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    int open_handles;
    http_parser parser;
    sim_buf in;    /* received, not yet parsed */
    size_t in_off; /* parsed up to here */
    sim_request req;
    sim_buf hname, hval;
    int last_was_value;
    int too_large, header_overflow;
    int reading, busy, closing, delay_done;
    piece *out;
    size_t nout, out_idx;
    int close_when_done;
    struct conn *prev, *next;
} conn;

static struct {
    uv_tcp_t listener;
    int listening;
    sim_dispatch_fn dispatch;
    void *user;
    conn *conns;
} server;

static http_parser_settings parser_settings;

static void conn_process(conn *c);
static void send_next(conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_conn_closed(uv_handle_t *h) {
    conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    request_reset(&c->req);
    sim_buf_free(&c->in);
    sim_buf_free(&c->hname);
    sim_buf_free(&c->hval);
    for (size_t i = 0; i < c->nout; i++)
        free(c->out[i].data);
    free(c->out);
    free(c);
}

static void conn_close(conn *c) {
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev)
        c->prev->next = c->next;
    else
        server.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void out_add(conn *c, char *data, size_t len, unsigned delay_ms, size_t *cap) {
    if (c->nout == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        c->out = sim_xrealloc(c->out, *cap * sizeof(*c->out));
    }
    c->out[c->nout].data = data;
    c->out[c->nout].len = len;
    c->out[c->nout].delay_ms = delay_ms;
    c->nout++;
}

static const char *reason(int status) {
    const char *s = http_status_str((enum http_status)status);
    return (s && strcmp(s, "<unknown>") != 0) ? s : "Status";
}

/* Turns RES into the pieces to write, applying the delivery faults. */
static void conn_respond(conn *c, sim_response *res, int keep_alive) {
    size_t cap = 0;
    c->busy = 1;
    c->out_idx = 0;
    c->delay_done = 0;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (res->close_silently) {
        c->close_when_done = 1;
        out_add(c, sim_xstrdup(""), 0, res->latency_ms, &cap);
        send_next(c);
        return;
    }
    if (res->status == 0) {
        static const char msg[] = "{\"error\":{\"message\":\"simulator: no handler answered\"}}";
        sim_res_body(res, 500, "application/json", msg, sizeof(msg) - 1);
    }
    int cut = res->cut_after >= 0;
    int closing = !keep_alive || cut || (res->streaming && res->abort_after_events);
    c->close_when_done = closing;

    sim_buf head = {0};
    sim_buf_printf(&head, "HTTP/1.1 %d %s\r\n", res->status, reason(res->status));
    if (res->content_type)
        sim_buf_printf(&head, "Content-Type: %s\r\n", res->content_type);
    if (res->streaming)
        sim_buf_puts(&head, "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n");
    else
        sim_buf_printf(&head, "Content-Length: %zu\r\n", res->body.len);
    sim_buf_puts(&head, closing ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    if (res->headers.len)
        sim_buf_append(&head, res->headers.data, res->headers.len);
    sim_buf_puts(&head, "\r\n");

    size_t first = c->nout;
    if (!res->streaming) {
        size_t n = cut ? res->body.len / 2 : res->body.len;
        sim_buf_append(&head, res->body.data ? res->body.data : "", n);
        size_t hl;
        char *h = sim_buf_take(&head, &hl);
        out_add(c, h, hl, 0, &cap);
    } else {
        size_t hl;
        char *h = sim_buf_take(&head, &hl);
        out_add(c, h, hl, 0, &cap);
        size_t n = res->nevents;
        if (cut && n > 0 && (size_t)res->cut_after < n)
            n = (size_t)res->cut_after;
        else if (cut && n > 0)
            n = n - 1; /* never the final event */
        for (size_t i = 0; i < n; i++) {
            if (res->events[i].len == 0)
                continue; /* an empty chunk would end the body */
            sim_buf ch = {0};
            sim_buf_printf(&ch, "%zx\r\n", res->events[i].len);
            sim_buf_append(&ch, res->events[i].data, res->events[i].len);
            sim_buf_puts(&ch, "\r\n");
            size_t cl;
            char *d = sim_buf_take(&ch, &cl);
            out_add(c, d, cl, i > 0 ? res->event_ms : 0, &cap);
        }
        if (!cut && !res->abort_after_events)
            out_add(c, sim_xstrdup("0\r\n\r\n"), 5, 0, &cap);
    }
    sim_buf_free(&head);

    if (res->trickle_ms) {
        /* Re-split every piece into small ones, each after a pause. */
        size_t step = res->trickle_bytes ? res->trickle_bytes : 8;
        piece *old = c->out;
        size_t nold = c->nout;
        c->out = NULL;
        c->nout = 0;
        cap = 0;
        for (size_t i = 0; i < nold; i++) {
            for (size_t off = 0; off < old[i].len; off += step) {
                size_t n = old[i].len - off < step ? old[i].len - off : step;
                out_add(c, sim_xstrndup(old[i].data + off, n), n, res->trickle_ms, &cap);
            }
            free(old[i].data);
        }
        free(old);
        first = 0;
    }
    if (c->nout > first)
        c->out[first].delay_ms += res->latency_ms;
    send_next(c);
}

static void respond_error(conn *c, int status, const char *message) {
    sim_response res;
    sim_response_init(&res);
    json_object *root = json_object_new_object();
    json_object *err = json_object_new_object();
    json_object_object_add(err, "message", json_object_new_string(message));
    json_object_object_add(err, "type", json_object_new_string("invalid_request_error"));
    json_object_object_add(err, "param", NULL);
    json_object_object_add(err, "code", NULL);
    json_object_object_add(root, "error", err);
    sim_res_json(&res, status, root);
    json_object_put(root);
    conn_respond(c, &res, 0);
    sim_response_free(&res);
}

static void response_done(conn *c) {
    for (size_t i = 0; i < c->nout; i++)
        free(c->out[i].data);
    free(c->out);
    c->out = NULL;
    c->nout = c->out_idx = 0;
    if (c->close_when_done) {
        conn_close(c);
        return;
    }
    c->busy = 0;
    request_reset(&c->req);
    conn_process(c);
}

static void on_write(uv_write_t *wr, int status) {
    conn *c = wr->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->out_idx++;
    c->delay_done = 0;
    send_next(c);
}

static void on_timer(uv_timer_t *t) {
    conn *c = t->data;
    if (c->closing)
        return;
    c->delay_done = 1;
    send_next(c);
}

static void send_next(conn *c) {
    while (c->out_idx < c->nout) {
        piece *p = &c->out[c->out_idx];
        if (p->delay_ms && !c->delay_done) {
            uv_timer_start(&c->timer, on_timer, p->delay_ms, 0);
            return;
        }
        if (p->len == 0) {
            c->out_idx++;
            c->delay_done = 0;
            continue;
        }
        uv_buf_t b = uv_buf_init(p->data, (unsigned int)p->len);
        c->wr.data = c;
        if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0)
            conn_close(c);
        return;
    }
    response_done(c);
}

/* ---- parsing ---- */

static void commit_header(conn *c) {
    if (!c->hname.len && !c->hval.len)
        return;
    if (c->req.nheaders >= SIM_MAX_HEADERS) {
        c->header_overflow = 1;
    } else {
        c->req.headers =
            sim_xrealloc(c->req.headers, (c->req.nheaders + 1) * sizeof(*c->req.headers));
        sim_header *h = &c->req.headers[c->req.nheaders++];
        h->name = sim_xstrndup(c->hname.data ? c->hname.data : "", c->hname.len);
        for (char *q = h->name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        h->value = sim_xstrndup(c->hval.data ? c->hval.data : "", c->hval.len);
    }
    sim_buf_reset(&c->hname);
    sim_buf_reset(&c->hval);
    c->last_was_value = 0;
}

static int on_message_begin(http_parser *p) {
    conn *c = p->data;
    request_reset(&c->req);
    sim_buf_reset(&c->hname);
    sim_buf_reset(&c->hval);
    c->last_was_value = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (c->req.url.len + len > SIM_MAX_URL)
        return -1;
    sim_buf_append(&c->req.url, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (c->last_was_value)
        commit_header(c);
    sim_buf_append(&c->hname, at, len);
    return c->header_overflow ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    sim_buf_append(&c->hval, at, len);
    c->last_was_value = 1;
    return 0;
}

static void on_continue_written(uv_write_t *wr, int status) {
    (void)status;
    free(wr);
}

static int on_headers_complete(http_parser *p) {
    conn *c = p->data;
    commit_header(c);
    if (c->header_overflow)
        return -1;
    snprintf(c->req.method, sizeof(c->req.method), "%s", http_method_str(p->method));
    const char *url = c->req.url.data ? c->req.url.data : "/";
    size_t plen = strcspn(url, "?#");
    c->req.path = sim_xstrndup(url, plen);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > SIM_MAX_BODY) {
        c->too_large = 1;
        return -1;
    }
    const char *expect = sim_request_header(&c->req, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_write_t *wr = sim_xmalloc(sizeof(*wr));
        uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
        if (uv_write(wr, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written) != 0)
            free(wr);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (c->req.body.len + len > SIM_MAX_BODY) {
        c->too_large = 1;
        return -1;
    }
    sim_buf_append(&c->req.body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p) {
    http_parser_pause(p, 1);
    return 0;
}

static void handle_message(conn *c) {
    sim_response res;
    sim_response_init(&res);
    if (!c->req.path)
        c->req.path = sim_xstrdup("/");
    server.dispatch(&c->req, &res, server.user);
    int keep_alive = http_should_keep_alive(&c->parser) && !c->parser.upgrade;
    conn_respond(c, &res, keep_alive);
    sim_response_free(&res);
}

static void conn_process(conn *c) {
    while (!c->busy && !c->closing && c->in_off < c->in.len) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data + c->in_off,
                                       c->in.len - c->in_off);
        c->in_off += n;
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
        if (err == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            handle_message(c);
            continue;
        }
        if (err != HPE_OK) {
            c->in_off = c->in.len;
            if (c->too_large)
                respond_error(c, 413, "Request too large.");
            else
                respond_error(c, 400, http_errno_description(err));
            return;
        }
        if (c->parser.upgrade) {
            respond_error(c, 400, "Protocol upgrades are not supported.");
            return;
        }
    }
    if (c->closing)
        return;
    if (c->in_off >= c->in.len) {
        sim_buf_reset(&c->in);
        c->in_off = 0;
    } else if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in.data[c->in.len] = '\0';
        c->in_off = 0;
    }
    if (!c->busy && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
        else
            conn_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    buf->base = sim_xmalloc(65536);
    buf->len = 65536;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn *c = s->data;
    if (nread > 0 && !c->closing) {
        sim_buf_append(&c->in, buf->base, (size_t)nread);
        free(buf->base);
        conn_process(c);
        return;
    }
    free(buf->base);
    if (nread < 0)
        conn_close(c); /* EOF or error: whatever was half-received is dropped */
}

/* ---- listening ---- */

static void on_connection(uv_stream_t *l, int status) {
    if (status < 0)
        return;
    conn *c = sim_xcalloc(1, sizeof(*c));
    sim_fault_init(&c->req.fault);
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->next = server.conns;
    if (server.conns)
        server.conns->prev = c;
    server.conns = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    conn_process(c); /* starts reading */
}

int sim_http_listen(uv_loop_t *loop, const char *host, int port, sim_dispatch_fn dispatch,
                    void *user, int *bound_port) {
    struct sockaddr_storage ss;
    int rc;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        fprintf(stderr, "aigw-sim: bad host address %s\n", host);
        return -1;
    }
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
    server.dispatch = dispatch;
    server.user = user;
    uv_tcp_init(loop, &server.listener);
    server.listening = 1;
    if ((rc = uv_tcp_bind(&server.listener, (const struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&server.listener, 128, on_connection)) != 0) {
        fprintf(stderr, "aigw-sim: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
        return -1;
    }
    struct sockaddr_storage name;
    int namelen = sizeof(name);
    uv_tcp_getsockname(&server.listener, (struct sockaddr *)&name, &namelen);
    if (name.ss_family == AF_INET6)
        *bound_port = ntohs(((struct sockaddr_in6 *)&name)->sin6_port);
    else
        *bound_port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return 0;
}

void sim_http_shutdown(void) {
    if (server.listening) {
        server.listening = 0;
        uv_close((uv_handle_t *)&server.listener, NULL);
    }
    while (server.conns)
        conn_close(server.conns);
}
