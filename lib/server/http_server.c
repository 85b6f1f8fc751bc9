/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 server on libuv + http_parser: the listener, accepting,
 * connection limits, shutdown. See http_server.h for the design. */
#include "server/http_server.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "server/http_conn.h"

#define DEF_MAX_HEADER_BYTES (32u * 1024u)
#define DEF_MAX_HEADERS 100u
#define DEF_MAX_BODY_BYTES (32u * 1024u * 1024u)
#define DEF_HEADER_TIMEOUT_MS 10000u
#define DEF_REQUEST_TIMEOUT_MS 60000u
#define DEF_IDLE_TIMEOUT_MS 75000u
#define DEF_SEND_TIMEOUT_MS 60000u
#define DEF_BACKLOG 511

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
    /* Counted as rejected until the shared limits admit it. */
    c->rejected = 1;
    srv->nrejected++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        aigw__http_conn_close(c);
        return;
    }
    int namelen = sizeof(c->peer);
    int have_peer = uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &namelen) == 0;
    if (!have_peer)
        memset(&c->peer, 0, sizeof(c->peer)); /* AF_UNSPEC: only the total applies */
    aigw__http_admit admit = aigw__http_limits_enter(srv->limits, (struct sockaddr *)&c->peer);
    if (admit != AIGW__HTTP_ADMIT_OK) {
        if (srv->nrejected > REJECT_SLACK)
            aigw__http_conn_close(c);
        else if (admit == AIGW__HTTP_ADMIT_CLIENT_FULL)
            aigw__http_conn_error_retry(c, 503,
                                        "Too many connections from your address; retry later.",
                                        "too_many_connections", 1);
        else
            aigw__http_conn_error_retry(c, 503, "The server has too many connections; retry later.",
                                        "server_overloaded", 1);
        return;
    }
    c->admitted = 1;
    c->rejected = 0;
    srv->nrejected--;
    srv->nconns++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (have_peer)
        uv_ip_name((struct sockaddr *)&c->peer, c->remote, sizeof(c->remote));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    aigw__http_conn_idle(c);
    aigw__http_conn_read_control(c, 1);
}

static void on_server_handle_closed(uv_handle_t *h) {
    aigw__http_server *srv = h->data;
    if (--srv->open_handles > 0)
        return;
    aigw__http_closed_cb cb = srv->on_closed;
    void *data = srv->closed_data;
    aigw__http_limits_unref(srv->limits);
    aigw__free(srv);
    if (cb)
        cb(data);
}

void aigw__http_server_maybe_finish(aigw__http_server *srv) {
    if (!srv->shutting_down || srv->finishing || srv->conns || srv->closing_conns)
        return;
    srv->finishing = 1;
    if (srv->listening) {
        srv->listening = 0;
        uv_close((uv_handle_t *)&srv->listener, on_server_handle_closed);
    }
    uv_close((uv_handle_t *)&srv->shutdown_timer, on_server_handle_closed);
    uv_close((uv_handle_t *)&srv->flush_idle, on_server_handle_closed);
    uv_close((uv_handle_t *)&srv->flush_check, on_server_handle_closed);
}

static void force_close_all(aigw__http_server *srv) {
    uv_timer_stop(&srv->shutdown_timer);
    while (srv->conns)
        aigw__http_conn_close(srv->conns);
    aigw__http_server_maybe_finish(srv);
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
            aigw__http_conn_close(c);
    }
    if (deadline_ms == 0) {
        force_close_all(srv);
        return;
    }
    uv_timer_start(&srv->shutdown_timer, on_shutdown_deadline, deadline_ms, 0);
    aigw__http_server_maybe_finish(srv);
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
        o->max_connections = AIGW__HTTP_DEF_MAX_CONNECTIONS;
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
    srv->limits = srv->o.shared ? aigw__http_limits_ref(srv->o.shared)
                                : aigw__http_limits_new(srv->o.max_connections,
                                                        srv->o.max_connections_per_client,
                                                        srv->o.max_inflight_body_bytes);
    srv->o.shared = NULL;
    if (!srv->limits) {
        aigw__free(srv);
        return aigw__error_set(err, AIGW_ENOMEM, "http server: out of memory");
    }
    aigw__http_parser_settings(&srv->settings);

    int rc = uv_tcp_init_ex(loop, &srv->listener, ss.ss_family);
    if (rc != 0) {
        aigw__http_limits_unref(srv->limits);
        aigw__free(srv);
        return aigw__error_set(err, AIGW_EIO, "http server: socket: %s", uv_strerror(rc));
    }
    uv_timer_init(loop, &srv->shutdown_timer);
    uv_idle_init(loop, &srv->flush_idle);
    uv_check_init(loop, &srv->flush_check);
    srv->listener.data = srv;
    srv->shutdown_timer.data = srv;
    srv->flush_idle.data = srv;
    srv->flush_check.data = srv;
    srv->open_handles = 4;
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
        aigw__http_server_maybe_finish(srv);
        return aigw__error_set(err, AIGW_EIO, "http server: cannot listen on %s:%d: %s", host, port,
                               uv_strerror(rc));
    }
    *out = srv;
    return AIGW_OK;
}
