/* Private to lib/server: the connection and response structures the HTTP
 * server's files share (listener, connections, parsing, replies). */
#ifndef AIGW_SERVER_HTTP_CONN_H
#define AIGW_SERVER_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "core/buf.h"
#include "server/http_server.h"

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

/* http_conn.c: connection lifetime, the write queue, reading. */
int aigw__http_conn_write(conn *c, const void *p1, size_t n1, const void *p2, size_t n2,
                          const void *p3, size_t n3);
void aigw__http_conn_error(conn *c, int status, const char *message, const char *code);
void aigw__http_conn_close(conn *c);
void aigw__http_conn_linger(conn *c);
void aigw__http_conn_idle(conn *c);
void aigw__http_conn_on_timer(uv_timer_t *t);
void aigw__http_conn_read_control(conn *c, int want);
void aigw__http_conn_process(conn *c);

/* http_reply.c: the response a connection lets go of. */
void aigw__http_response_detach(aigw__http_response *res);

/* http_parse.c: the http_parser callbacks that build a request. */
void aigw__http_parser_settings(http_parser_settings *s);

/* http_server.c: frees the server once shut down and every handle closed. */
void aigw__http_server_maybe_finish(aigw__http_server *srv);

#endif
