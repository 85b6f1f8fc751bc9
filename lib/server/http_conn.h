/* SPDX-License-Identifier: Apache-2.0 */
/* Private to lib/server: the connection and response structures the HTTP
 * server's files share (listener, connections, parsing, replies). */
#ifndef AIGW_SERVER_HTTP_CONN_H
#define AIGW_SERVER_HTTP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "core/buf.h"
#include "server/http_limits.h"
#include "server/http_server.h"

#define LINGER_MS 2000u
#define REJECT_SLACK 64u
#define READ_SIZE 65536u

typedef struct conn conn;
typedef struct wreq wreq;

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
    aigw__buf hstore;           /* "name\0value\0" of every header, then "path\0query\0" */
    aigw__http_header *headers; /* pointers into hstore, set once the headers are in */
    size_t *hoffs;              /* while parsing: each name's and value's offset in hstore */
    size_t cap_headers;
    const char *path, *query;
    char remote[64];
    int keep_alive; /* the request allows reuse */
    int head;       /* HEAD: no body bytes go out */
    int dispatched, started, completed, chunked, close_after;
    aigw__http_disconnect_cb on_disconnect;
    void *disconnect_data;
    aigw__http_limits *body_limits; /* what body_held is taken from (a reference) */
    size_t body_held;               /* body bytes counted in flight */
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
    int head_scan; /* http_parse.c's scan of the request head for line folding */
    size_t header_bytes;
    uint64_t req_start;
    int fail_status; /* set by a parser callback that refused */
    const char *fail_msg, *fail_code;
    int fail_retry_after; /* seconds, for a Retry-After header; 0: none */
    int reading, eof, shut_done, in_dispatch, rejected, served;
    size_t pending_writes, pending_bytes; /* handed to uv_write, not yet done */
    aigw__buf out;                        /* corked: written this loop iteration, not yet flushed */
    conn *dprev, *dnext;                  /* the server's list of connections with corked bytes */
    int dirty;                            /* on that list */
    wreq *spare_wreqs;              /* finished write requests (with their buffers) to reuse */
    aigw__http_response *spare_res; /* a completed response kept for the next request */
    char remote[64];
    struct sockaddr_storage peer; /* the client's address */
    int admitted;                 /* counted in the shared connection limits */
};

struct aigw__http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t shutdown_timer;
    uv_idle_t flush_idle;   /* while bytes are corked: the loop must not block */
    uv_check_t flush_check; /* flushes right after the I/O callbacks ran */
    conn *dirty;            /* connections with corked bytes */
    int open_handles, listening;
    aigw__http_server_options o;
    aigw__http_handler handler;
    void *user;
    http_parser_settings settings;
    aigw__http_limits *limits; /* shared or the server's own (a reference) */
    conn *conns;
    unsigned int nconns, nrejected, closing_conns;
    int port;
    int shutting_down, finishing;
    aigw__http_closed_cb on_closed;
    void *closed_data;
    char rbuf[READ_SIZE]; /* reads land here, then are copied (one loop thread) */
};

/* http_conn.c: connection lifetime, the write queue, reading.
 *
 * Writes are corked: aigw__http_conn_write() (and bytes built straight into
 * aigw__http_conn_out()) only append to the connection's output buffer;
 * the server flushes every such buffer once per loop iteration, right after
 * the I/O callbacks (uv_check), with one write() each (uv_try_write; uv_write
 * for what the kernel does not take at once). While anything is corked a
 * uv_idle is active (and flushes too): the loop then polls without waiting,
 * so bytes written from any phase (a timer, another prepare or check
 * handle, a close callback) never wait for the next I/O event. So a response's head and body, or
 * all the SSE events translated from one upstream read, leave in one system call, and nothing waits
 * longer than the current loop iteration. */
int aigw__http_conn_write(conn *c, const void *p1, size_t n1, const void *p2, size_t n2,
                          const void *p3, size_t n3);
/* The output buffer, to build bytes in place (then aigw__http_conn_corked);
 * NULL if the connection is closed. */
aigw__buf *aigw__http_conn_out(conn *c);
/* Bytes were appended to aigw__http_conn_out(c): flush them this iteration. */
void aigw__http_conn_corked(conn *c);
/* Writes the corked bytes now (before a shutdown, say). */
void aigw__http_conn_flush(conn *c);
/* The prepare/check callbacks' work: flushes every corked connection. */
void aigw__http_server_flush(aigw__http_server *srv);
void aigw__http_conn_error(conn *c, int status, const char *message, const char *code);
/* The same with a Retry-After header (seconds; 0: none). */
void aigw__http_conn_error_retry(conn *c, int status, const char *message, const char *code,
                                 int retry_after);
void aigw__http_conn_close(conn *c);
void aigw__http_conn_linger(conn *c);
void aigw__http_conn_idle(conn *c);
void aigw__http_conn_on_timer(uv_timer_t *t);
void aigw__http_conn_read_control(conn *c, int want);
void aigw__http_conn_process(conn *c);

/* http_reply.c: the response a connection lets go of. */
void aigw__http_response_detach(aigw__http_response *res);
/* Frees a response (and what it holds). */
void aigw__http_response_free(aigw__http_response *res);
/* Gives back the body bytes the response holds in the in-flight count. */
void aigw__http_response_body_release(aigw__http_response *res);

/* http_parse.c: the http_parser callbacks that build a request. */
void aigw__http_parser_settings(http_parser_settings *s);
/* Scans n more bytes of the request head (c->head_scan starts at 0 for each
 * request): -1 with c->fail_* set when a header line is folded. */
int aigw__http_scan_head(conn *c, const char *p, size_t n);
/* Whether the scan has seen the end of the head. */
int aigw__http_head_scanned(const conn *c);

/* http_server.c: frees the server once shut down and every handle closed. */
void aigw__http_server_maybe_finish(aigw__http_server *srv);

#endif
