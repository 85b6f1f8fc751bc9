/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 server: a connection's lifetime, its write queue and reading. */
#include "server/http_conn.h"

#include <limits.h>
#include <string.h>

#include "core/alloc.h"

/* One uv_write in flight: the bytes the kernel did not take at once. Kept
 * (with its buffer) on the connection for the next one. */
struct wreq {
    uv_write_t req;
    conn *c;
    wreq *next; /* on c->spare_wreqs */
    size_t len; /* bytes this request writes */
    aigw__buf buf;
};

#define MAX_SPARE_WREQS 2
#define MAX_KEPT_OUT (16u * 1024u) /* a bigger output buffer is not kept */

/* ---- writing ---- */

/* Arms the send timeout while the handler has bytes waiting in the queue. */
static void send_timer_update(conn *c) {
    if (c->state != C_HANDLING)
        return;
    if (c->pending_writes)
        uv_timer_start(&c->timer, aigw__http_conn_on_timer, c->srv->o.send_timeout_ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void wreq_free(wreq *w) {
    aigw__buf_free(&w->buf);
    aigw__free(w);
}

static void on_write_done(uv_write_t *r, int status) {
    wreq *w = (wreq *)r;
    conn *c = w->c;
    c->pending_writes--;
    c->pending_bytes -= w->len;
    if (c->state == C_CLOSED) {
        wreq_free(w);
        return;
    }
    int kept = 0;
    for (wreq *s = c->spare_wreqs; s; s = s->next)
        kept++;
    if (kept < MAX_SPARE_WREQS && w->buf.cap <= MAX_KEPT_OUT) {
        aigw__buf_clear(&w->buf);
        w->next = c->spare_wreqs;
        c->spare_wreqs = w;
    } else {
        wreq_free(w);
    }
    if (status < 0) {
        aigw__http_conn_close(c);
        return;
    }
    send_timer_update(c);
}

static void dirty_unlink(conn *c) {
    if (!c->dirty)
        return;
    aigw__http_server *srv = c->srv;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        srv->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
    c->dirty = 0;
    if (!srv->dirty) {
        uv_idle_stop(&srv->flush_idle);
        uv_check_stop(&srv->flush_check);
    }
}

static void on_flush_idle(uv_idle_t *h) {
    aigw__http_server_flush(h->data);
}

static void on_flush_check(uv_check_t *h) {
    aigw__http_server_flush(h->data);
}

void aigw__http_conn_corked(conn *c) {
    if (c->dirty || c->state == C_CLOSED || !c->out.len)
        return;
    aigw__http_server *srv = c->srv;
    if (!srv->dirty) {
        uv_idle_start(&srv->flush_idle, on_flush_idle);
        uv_check_start(&srv->flush_check, on_flush_check);
    }
    c->dirty = 1;
    c->dprev = NULL;
    c->dnext = srv->dirty;
    if (srv->dirty)
        srv->dirty->dprev = c;
    srv->dirty = c;
}

aigw__buf *aigw__http_conn_out(conn *c) {
    return c->state == C_CLOSED ? NULL : &c->out;
}

/* Hands the corked bytes to the kernel: what it takes at once needs no
 * request; the rest goes to uv_write in a (reused) request that takes the
 * output buffer over. A failed write closes the connection (in
 * on_write_done). */
void aigw__http_conn_flush(conn *c) {
    dirty_unlink(c);
    if (!c->out.len)
        return;
    if (c->state == C_CLOSED) {
        aigw__buf_clear(&c->out);
        return;
    }
    size_t off = 0;
    if (!c->pending_writes) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned int)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
        if (off == c->out.len) {
            if (c->out.cap > MAX_KEPT_OUT)
                aigw__buf_free(&c->out);
            else
                aigw__buf_clear(&c->out);
            return;
        }
    }
    wreq *w = c->spare_wreqs;
    if (w)
        c->spare_wreqs = w->next;
    else if (!(w = aigw__calloc(1, sizeof(*w)))) {
        aigw__buf_clear(&c->out);
        aigw__http_conn_close(c);
        return;
    }
    aigw__buf t = w->buf; /* the request takes the bytes; c->out its old buffer */
    w->buf = c->out;
    c->out = t;
    w->c = c;
    w->next = NULL;
    w->len = w->buf.len - off;
    uv_buf_t b = uv_buf_init(w->buf.data + off, (unsigned int)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0) {
        wreq_free(w);
        aigw__http_conn_close(c);
        return;
    }
    c->pending_writes++;
    c->pending_bytes += w->len;
    if (c->state == C_HANDLING && !uv_is_active((uv_handle_t *)&c->timer))
        send_timer_update(c);
}

void aigw__http_server_flush(aigw__http_server *srv) {
    while (srv->dirty)
        aigw__http_conn_flush(srv->dirty); /* unlinks it */
}

/* Corks the concatenation of up to three pieces; 0 or -1. */
int aigw__http_conn_write(conn *c, const void *p1, size_t n1, const void *p2, size_t n2,
                          const void *p3, size_t n3) {
    if (c->state == C_CLOSED)
        return -1;
    size_t total = n1 + n2;
    if (total < n1 || total + n3 < total || total + n3 > UINT_MAX - c->out.len)
        return -1;
    total += n3;
    if (aigw__buf_reserve(&c->out, total))
        return -1;
    if (n1)
        aigw__buf_append(&c->out, p1, n1);
    if (n2)
        aigw__buf_append(&c->out, p2, n2);
    if (n3)
        aigw__buf_append(&c->out, p3, n3);
    aigw__http_conn_corked(c);
    return 0;
}

/* A response the server makes itself, then a lingering close. */
void aigw__http_conn_error(conn *c, int status, const char *message, const char *code) {
    aigw__http_conn_error_retry(c, status, message, code, 0);
}

void aigw__http_conn_error_retry(conn *c, int status, const char *message, const char *code,
                                 int retry_after) {
    if (c->cur) {
        aigw__http_response *res = c->cur;
        c->cur = NULL;
        aigw__http_response_detach(res); /* not dispatched: just freed */
    }
    aigw__buf body = AIGW__BUF_INIT, head = AIGW__BUF_INIT;
    int ok = aigw__http_error_json(&body, aigw__http_error_type(status), message, NULL, code) ==
                 AIGW_OK &&
             aigw__http_status_line(&head, status) == AIGW_OK &&
             (retry_after <= 0 ||
              aigw__buf_printf(&head, "Retry-After: %d\r\n", retry_after) == AIGW_OK) &&
             aigw__buf_printf(&head,
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n",
                              body.len) == AIGW_OK;
    if (ok)
        aigw__http_conn_write(c, head.data, head.len, body.data, body.len, NULL, 0);
    aigw__buf_free(&body);
    aigw__buf_free(&head);
    aigw__http_conn_linger(c);
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
    aigw__buf_free(&c->out);
    while (c->spare_wreqs) {
        wreq *w = c->spare_wreqs;
        c->spare_wreqs = w->next;
        wreq_free(w);
    }
    aigw__http_response_free(c->spare_res);
    aigw__free(c);
    srv->closing_conns--;
    aigw__http_server_maybe_finish(srv);
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
    if (c->admitted) {
        c->admitted = 0;
        aigw__http_limits_leave(srv->limits, (const struct sockaddr *)&c->peer);
    }
}

/* Closes at once; a handler still answering hears of the disconnect. */
void aigw__http_conn_close(conn *c) {
    if (c->state == C_CLOSED)
        return;
    /* What was corked goes out as far as the kernel takes it at once (as an
     * uv_write right before the close would). */
    dirty_unlink(c);
    if (c->out.len && !c->pending_writes) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned int)c->out.len);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    }
    aigw__buf_clear(&c->out);
    c->state = C_CLOSED;
    conn_unlink(c);
    c->srv->closing_conns++;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    aigw__http_response *res = c->cur;
    c->cur = NULL;
    if (res)
        aigw__http_response_detach(res);
}

static void on_shutdown(uv_shutdown_t *s, int status) {
    conn *c = s->data;
    if (c->state == C_CLOSED)
        return;
    c->shut_done = 1;
    if (status < 0 || c->eof)
        aigw__http_conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void aigw__http_conn_read_control(conn *c, int want) {
    if (want && !c->reading && !c->eof) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
        else
            aigw__http_conn_close(c);
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

/* After the last response: shut the write side (after the queued writes),
 * drain what the client still sends, close on its EOF or after LINGER_MS. */
void aigw__http_conn_linger(conn *c) {
    if (c->state == C_CLOSED || c->state == C_LINGER)
        return;
    aigw__http_conn_flush(c); /* the shutdown goes after the last bytes */
    if (c->state == C_CLOSED)
        return;
    c->state = C_LINGER;
    aigw__buf_free(&c->in);
    c->in_off = 0;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        aigw__http_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, aigw__http_conn_on_timer, LINGER_MS, 0);
    aigw__http_conn_read_control(c, 1);
}

void aigw__http_conn_idle(conn *c) {
    c->state = C_IDLE;
    aigw__http_server *srv = c->srv;
    uv_timer_start(&c->timer, aigw__http_conn_on_timer,
                   c->served ? srv->o.idle_timeout_ms : srv->o.header_timeout_ms, 0);
}

void aigw__http_conn_on_timer(uv_timer_t *t) {
    conn *c = t->data;
    switch (c->state) {
    case C_READING:
        aigw__http_conn_error(c, 408, "The request was not received in time.", "request_timeout");
        break;
    case C_IDLE:     /* nothing asked: go quietly */
    case C_HANDLING: /* the client stopped reading */
    case C_LINGER:
        aigw__http_conn_close(c);
        break;
    case C_CLOSED:
        break;
    }
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

void aigw__http_conn_process(conn *c) {
    aigw__http_server *srv = c->srv;
    while ((c->state == C_IDLE || c->state == C_READING) && c->in_off < c->in.len) {
        if (c->state == C_IDLE)
            c->head_scan = 0; /* a new request starts in these bytes */
        if (!aigw__http_head_scanned(c) &&
            aigw__http_scan_head(c, c->in.data + c->in_off, c->in.len - c->in_off)) {
            aigw__http_conn_error(c, c->fail_status, c->fail_msg, c->fail_code);
            return;
        }
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
                aigw__http_conn_error_retry(c, c->fail_status, c->fail_msg, c->fail_code,
                                            c->fail_retry_after);
            else if (e == HPE_HEADER_OVERFLOW)
                aigw__http_conn_error(c, 431, "The request headers are too large.",
                                      "request_headers_too_large");
            else
                aigw__http_conn_error(c, 400, http_errno_description(e), "invalid_request");
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
    aigw__http_conn_read_control(c, want);
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
            aigw__http_conn_close(c);
            return;
        }
        if (c->state == C_HANDLING) {
            if (c->in.len - c->in_off >= c->srv->o.max_header_bytes + READ_SIZE)
                aigw__http_conn_read_control(c, 0);
            return;
        }
        aigw__http_conn_process(c);
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
    aigw__http_conn_close(c);
}
