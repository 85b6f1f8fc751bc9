/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS event-stream decoder (lib/wire/eventstream.c): AWS's own test
 * vectors, Bedrock-shaped streams made by an encoder written here
 * (independent of the decoder), every header value type, the feed-boundary
 * invariant, every kind of corruption, stops and allocation failures. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "aigw/common.h"
#include "wire/eventstream.h"

/* ---- an encoder, for the tests ---- */

typedef struct ehdr {
    const char *name;
    uint8_t type;
    int64_t number;    /* BOOL/BYTE/SHORT/INT/LONG/TIMESTAMP */
    const char *value; /* BYTES/STRING/UUID */
    size_t value_len;  /* 0 → strlen(value) for STRING */
} ehdr;

typedef struct obuf {
    unsigned char *b;
    size_t len, cap;
} obuf;

static void put(obuf *o, const void *p, size_t n) {
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap - o->len < n)
            cap *= 2;
        o->b = realloc(o->b, cap);
        cr_assert(o->b);
        o->cap = cap;
    }
    if (n)
        memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void put_be(obuf *o, uint64_t v, int bytes) {
    unsigned char t[8];
    for (int i = 0; i < bytes; i++)
        t[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    put(o, t, (size_t)bytes);
}

static void set_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void encode_headers(obuf *o, const ehdr *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(h[i].name);
        unsigned char c = (unsigned char)nl;
        put(o, &c, 1);
        put(o, h[i].name, nl);
        put(o, &h[i].type, 1);
        switch (h[i].type) {
        case AIGW__ES_BOOL_TRUE:
        case AIGW__ES_BOOL_FALSE:
            break;
        case AIGW__ES_BYTE:
            put_be(o, (uint64_t)h[i].number, 1);
            break;
        case AIGW__ES_SHORT:
            put_be(o, (uint64_t)h[i].number, 2);
            break;
        case AIGW__ES_INT:
            put_be(o, (uint64_t)h[i].number, 4);
            break;
        case AIGW__ES_LONG:
        case AIGW__ES_TIMESTAMP:
            put_be(o, (uint64_t)h[i].number, 8);
            break;
        case AIGW__ES_BYTES:
        case AIGW__ES_STRING: {
            size_t vl = h[i].value_len ? h[i].value_len : strlen(h[i].value);
            put_be(o, vl, 2);
            put(o, h[i].value, vl);
            break;
        }
        case AIGW__ES_UUID:
            put(o, h[i].value, 16);
            break;
        default:
            cr_assert_fail("bad type in test");
        }
    }
}

/* Recomputes both CRCs of the message at p (its lengths as they stand). */
static void fix_crcs(unsigned char *p) {
    uint32_t total = get_be32(p);
    set_be32(p + 8, (uint32_t)crc32(0L, p, 8));
    set_be32(p + total - 4, (uint32_t)crc32(0L, p, total - 4));
}

/* Appends one message made of raw header bytes and a payload. */
static void frame_raw(obuf *o, const void *hdrs, size_t hlen, const void *payload, size_t plen) {
    size_t start = o->len;
    uint32_t total = (uint32_t)(16 + hlen + plen);
    put_be(o, total, 4);
    put_be(o, hlen, 4);
    put_be(o, 0, 4);
    put(o, hdrs, hlen);
    put(o, payload, plen);
    put_be(o, 0, 4);
    fix_crcs(o->b + start);
}

static void frame(obuf *o, const ehdr *h, size_t n, const char *payload, size_t plen) {
    obuf hb = {0};
    encode_headers(&hb, h, n);
    frame_raw(o, hb.b, hb.len, payload, plen);
    free(hb.b);
}

/* A Bedrock event: :event-type, :content-type application/json,
 * :message-type event, JSON payload. */
static void bedrock_event(obuf *o, const char *event_type, const char *json) {
    ehdr h[] = {
        {":event-type", AIGW__ES_STRING, 0, event_type, 0},
        {":content-type", AIGW__ES_STRING, 0, "application/json", 0},
        {":message-type", AIGW__ES_STRING, 0, "event", 0},
    };
    frame(o, h, 3, json, strlen(json));
}

/* ---- recording what the decoder gives ---- */

typedef struct rmsg {
    char *message_type, *event_type, *exception_type, *content_type;
    char *payload;
    size_t payload_len;
    size_t n_headers;
    aigw__es_header headers[AIGW__ES_MAX_HEADERS]; /* name/value point into names */
    char *names;                                   /* copies of names and values */
} rmsg;

typedef struct result {
    rmsg *m;
    size_t n, cap;
    size_t stop_after;  /* stop after this many messages; 0 = never */
    obuf trace;         /* every message serialized, to compare runs */
    aigw_status status; /* first non-OK feed status */
    int finish;
    char detail[128];
} result;

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    cr_assert(d);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void trace_str(obuf *t, const char *s, size_t n) {
    put(t, &n, sizeof n);
    put(t, s, n);
}

static int record_cb(const aigw__es_message *msg, void *user) {
    result *r = user;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->m = realloc(r->m, r->cap * sizeof *r->m);
        cr_assert(r->m);
    }
    rmsg *x = &r->m[r->n++];
    memset(x, 0, sizeof *x);
    x->message_type = dup_bytes(msg->message_type, strlen(msg->message_type));
    x->event_type = dup_bytes(msg->event_type, strlen(msg->event_type));
    x->exception_type = dup_bytes(msg->exception_type, strlen(msg->exception_type));
    x->content_type = dup_bytes(msg->content_type, strlen(msg->content_type));
    x->payload = dup_bytes(msg->payload, msg->payload_len);
    x->payload_len = msg->payload_len;
    cr_assert_leq(msg->n_headers, AIGW__ES_MAX_HEADERS);
    x->n_headers = msg->n_headers;
    size_t room = 1;
    for (size_t i = 0; i < msg->n_headers; i++)
        room += msg->headers[i].name_len + msg->headers[i].value_len;
    x->names = malloc(room);
    cr_assert(x->names);
    char *w = x->names;
    for (size_t i = 0; i < msg->n_headers; i++) {
        const aigw__es_header *h = &msg->headers[i];
        x->headers[i] = *h;
        memcpy(w, h->name, h->name_len);
        x->headers[i].name = w;
        w += h->name_len;
        if (h->value_len)
            memcpy(w, h->value, h->value_len);
        x->headers[i].value = h->value ? w : NULL;
        w += h->value_len;
        trace_str(&r->trace, h->name, h->name_len);
        put(&r->trace, &h->type, 1);
        put(&r->trace, &h->number, sizeof h->number);
        trace_str(&r->trace, h->value ? h->value : "", h->value_len);
    }
    trace_str(&r->trace, msg->payload, msg->payload_len);
    trace_str(&r->trace, msg->message_type, strlen(msg->message_type));
    trace_str(&r->trace, msg->event_type, strlen(msg->event_type));
    trace_str(&r->trace, msg->exception_type, strlen(msg->exception_type));
    trace_str(&r->trace, msg->content_type, strlen(msg->content_type));
    return r->stop_after && r->n >= r->stop_after;
}

static void result_free(result *r) {
    for (size_t i = 0; i < r->n; i++) {
        rmsg *x = &r->m[i];
        free(x->message_type);
        free(x->event_type);
        free(x->exception_type);
        free(x->content_type);
        free(x->payload);
        free(x->names);
    }
    free(r->m);
    free(r->trace.b);
    memset(r, 0, sizeof *r);
}

/* Feeds `in` in pieces: cuts[] are the offsets where a new feed starts. */
static result run_cuts(const void *vin, size_t len, const size_t *cuts, size_t ncuts,
                       size_t stop_after) {
    const char *in = vin;
    result r;
    memset(&r, 0, sizeof r);
    r.stop_after = stop_after;
    aigw__es_decoder d;
    aigw__es_init(&d, record_cb, &r);
    size_t off = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        cr_assert_geq(to, off);
        aigw_status st = aigw__es_feed(&d, in + off, to - off);
        if (st && !r.status) {
            r.status = st;
            snprintf(r.detail, sizeof r.detail, "%s", d.detail);
        }
        if (st)
            cr_assert_eq(aigw__es_feed(&d, "x", 1), st, "errors are sticky");
        off = to;
    }
    r.finish = aigw__es_finish(&d);
    cr_assert_eq(aigw__es_finish(&d), 0, "a second finish finds nothing");
    aigw__es_free(&d);
    return r;
}

static result run_whole(const void *in, size_t len) {
    return run_cuts(in, len, NULL, 0, 0);
}

static result run_chunks(const void *in, size_t len, size_t chunk, size_t stop_after) {
    size_t n = len / chunk + 1;
    size_t *cuts = malloc(n * sizeof *cuts);
    cr_assert(cuts);
    size_t k = 0;
    for (size_t off = chunk; off < len; off += chunk)
        cuts[k++] = off;
    result r = run_cuts(in, len, cuts, k, stop_after);
    free(cuts);
    return r;
}

static void assert_same(const result *a, const result *b, const char *what) {
    cr_assert_eq(a->n, b->n, "%s: %zu vs %zu messages", what, a->n, b->n);
    cr_assert_eq(a->status, b->status, "%s: status %d vs %d", what, a->status, b->status);
    cr_assert_eq(a->finish, b->finish, "%s: finish", what);
    cr_assert_str_eq(a->detail, b->detail, "%s: detail", what);
    cr_assert_eq(a->trace.len, b->trace.len, "%s: trace length", what);
    cr_assert(a->trace.len == 0 || memcmp(a->trace.b, b->trace.b, a->trace.len) == 0,
              "%s: messages differ", what);
}

/* Whole, byte by byte, in 2..7-byte pieces, and cut once at every
 * position (twice for short inputs): all the same as whole. */
static result check_all_splits(const void *in, size_t len) {
    result whole = run_whole(in, len);
    result r = run_chunks(in, len, 1, 0);
    assert_same(&whole, &r, "byte by byte");
    result_free(&r);
    for (size_t c = 2; c <= 7; c++) {
        r = run_chunks(in, len, c, 0);
        assert_same(&whole, &r, "small pieces");
        result_free(&r);
    }
    for (size_t i = 0; i <= len; i++) {
        r = run_cuts(in, len, &i, 1, 0);
        assert_same(&whole, &r, "one cut");
        result_free(&r);
        if (len <= 200) {
            for (size_t j = i; j <= len; j++) {
                size_t cuts[2] = {i, j};
                r = run_cuts(in, len, cuts, 2, 0);
                assert_same(&whole, &r, "two cuts");
                result_free(&r);
            }
        }
    }
    return whole;
}

/* ---- AWS's own vectors (awslabs/aws-c-event-stream,
 * tests/message_deserializer_test.c) ---- */

static const unsigned char aws_no_op[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
                                          0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff};

static const unsigned char aws_no_headers[] = {
    0x00, 0x00, 0x00, 0x1D, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x52, 0x8c, 0x5a, 0x7b, 0x27, 0x66,
    0x6f, 0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0xc3, 0x65, 0x39, 0x36};

static const unsigned char aws_one_header[] = {
    0x00, 0x00, 0x00, 0x3D, 0x00, 0x00, 0x00, 0x20, 0x07, 0xFD, 0x83, 0x96, 0x0C, 'c',  'o',  'n',
    't',  'e',  'n',  't',  '-',  't',  'y',  'p',  'e',  0x07, 0x00, 0x10, 'a',  'p',  'p',  'l',
    'i',  'c',  'a',  't',  'i',  'o',  'n',  '/',  'j',  's',  'o',  'n',  0x7b, 0x27, 0x66, 0x6f,
    0x6f, 0x27, 0x3a, 0x27, 0x62, 0x61, 0x72, 0x27, 0x7d, 0x8D, 0x9C, 0x08, 0xB1};

Test(eventstream, aws_vectors) {
    result r = check_all_splits(aws_no_op, sizeof aws_no_op);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.m[0].n_headers, 0);
    cr_assert_eq(r.m[0].payload_len, 0);
    cr_assert_str_eq(r.m[0].event_type, "");
    cr_assert_str_eq(r.m[0].message_type, "");
    result_free(&r);

    r = check_all_splits(aws_no_headers, sizeof aws_no_headers);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.m[0].n_headers, 0);
    cr_assert_str_eq(r.m[0].payload, "{'foo':'bar'}");
    result_free(&r);

    r = check_all_splits(aws_one_header, sizeof aws_one_header);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.m[0].n_headers, 1);
    cr_assert_eq(r.m[0].headers[0].name_len, 12);
    cr_assert(memcmp(r.m[0].headers[0].name, "content-type", 12) == 0);
    cr_assert_eq(r.m[0].headers[0].type, AIGW__ES_STRING);
    cr_assert_eq(r.m[0].headers[0].value_len, 16);
    cr_assert(memcmp(r.m[0].headers[0].value, "application/json", 16) == 0);
    /* "content-type" without the colon is not ":content-type". */
    cr_assert_str_eq(r.m[0].content_type, "");
    cr_assert_str_eq(r.m[0].payload, "{'foo':'bar'}");
    result_free(&r);

    /* Our encoder gives the same bytes. */
    obuf o = {0};
    frame_raw(&o, NULL, 0, NULL, 0);
    frame_raw(&o, NULL, 0, "{'foo':'bar'}", 13);
    ehdr h = {"content-type", AIGW__ES_STRING, 0, "application/json", 0};
    frame(&o, &h, 1, "{'foo':'bar'}", 13);
    cr_assert_eq(o.len, sizeof aws_no_op + sizeof aws_no_headers + sizeof aws_one_header);
    cr_assert(memcmp(o.b, aws_no_op, sizeof aws_no_op) == 0);
    cr_assert(memcmp(o.b + sizeof aws_no_op, aws_no_headers, sizeof aws_no_headers) == 0);
    cr_assert(memcmp(o.b + sizeof aws_no_op + sizeof aws_no_headers, aws_one_header,
                     sizeof aws_one_header) == 0);
    free(o.b);
}

/* ---- Bedrock ConverseStream ---- */

static const char *const bedrock_events[][2] = {
    {"messageStart", "{\"role\":\"assistant\"}"},
    {"contentBlockDelta", "{\"delta\":{\"text\":\"Hi\"},\"contentBlockIndex\":0}"},
    {"contentBlockDelta", "{\"delta\":{\"text\":\" there!\"},\"contentBlockIndex\":0}"},
    {"contentBlockStop", "{\"contentBlockIndex\":0}"},
    {"messageStop", "{\"stopReason\":\"end_turn\"}"},
    {"metadata", "{\"usage\":{\"inputTokens\":12,\"outputTokens\":3,\"totalTokens\":15},"
                 "\"metrics\":{\"latencyMs\":321}}"},
};
#define N_BEDROCK (sizeof bedrock_events / sizeof bedrock_events[0])

static obuf bedrock_stream(void) {
    obuf o = {0};
    for (size_t i = 0; i < N_BEDROCK; i++)
        bedrock_event(&o, bedrock_events[i][0], bedrock_events[i][1]);
    return o;
}

Test(eventstream, bedrock_converse_stream) {
    obuf o = bedrock_stream();
    result r = check_all_splits(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.finish, 0);
    cr_assert_eq(r.n, N_BEDROCK);
    for (size_t i = 0; i < N_BEDROCK; i++) {
        rmsg *m = &r.m[i];
        cr_assert_str_eq(m->event_type, bedrock_events[i][0]);
        cr_assert_str_eq(m->message_type, "event");
        cr_assert_str_eq(m->content_type, "application/json");
        cr_assert_str_eq(m->exception_type, "");
        cr_assert_str_eq(m->payload, bedrock_events[i][1]);
        cr_assert_eq(m->payload_len, strlen(bedrock_events[i][1]));
        cr_assert_eq(m->n_headers, 3);
        cr_assert_eq(m->headers[0].name_len, 11);
        cr_assert(memcmp(m->headers[0].name, ":event-type", 11) == 0);
        cr_assert_eq(m->headers[0].type, AIGW__ES_STRING);
        cr_assert_eq(m->headers[0].value_len, strlen(bedrock_events[i][0]));
        cr_assert(memcmp(m->headers[0].value, bedrock_events[i][0], m->headers[0].value_len) == 0);
    }
    result_free(&r);
    free(o.b);
}

Test(eventstream, exception_message) {
    obuf o = {0};
    bedrock_event(&o, "messageStart", "{\"role\":\"assistant\"}");
    ehdr h[] = {
        {":exception-type", AIGW__ES_STRING, 0, "throttlingException", 0},
        {":content-type", AIGW__ES_STRING, 0, "application/json", 0},
        {":message-type", AIGW__ES_STRING, 0, "exception", 0},
    };
    const char *body = "{\"message\":\"Too many requests, please wait before trying again.\"}";
    frame(&o, h, 3, body, strlen(body));
    result r = check_all_splits(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.m[1].message_type, "exception");
    cr_assert_str_eq(r.m[1].exception_type, "throttlingException");
    cr_assert_str_eq(r.m[1].event_type, "");
    cr_assert_str_eq(r.m[1].content_type, "application/json");
    cr_assert_str_eq(r.m[1].payload, body);
    result_free(&r);
    free(o.b);
}

/* ---- header value types ---- */

Test(eventstream, every_value_type) {
    const char uuid[16] = {0x01, 0x23, 0x45, 0x67, (char)0x89, (char)0xab, (char)0xcd, (char)0xef,
                           0x10, 0x32, 0x54, 0x76, (char)0x98, (char)0xba, (char)0xdc, (char)0xfe};
    const char bytes[5] = {0x00, (char)0xff, 0x7f, 0x00, 0x01};
    ehdr h[] = {
        {"true", AIGW__ES_BOOL_TRUE, 0, NULL, 0},
        {"false", AIGW__ES_BOOL_FALSE, 0, NULL, 0},
        {"byte", AIGW__ES_BYTE, -7, NULL, 0},
        {"byte+", AIGW__ES_BYTE, 127, NULL, 0},
        {"short", AIGW__ES_SHORT, -12345, NULL, 0},
        {"int", AIGW__ES_INT, -2000000000, NULL, 0},
        {"int+", AIGW__ES_INT, 2147483647, NULL, 0},
        {"long", AIGW__ES_LONG, INT64_MIN, NULL, 0},
        {"long+", AIGW__ES_LONG, 0x0123456789abcdefLL, NULL, 0},
        {"bytes", AIGW__ES_BYTES, 0, bytes, sizeof bytes},
        {"string", AIGW__ES_STRING, 0, "h\xc3\xa9llo", 0},
        {"timestamp", AIGW__ES_TIMESTAMP, 1700000000123LL, NULL, 0},
        {"uuid", AIGW__ES_UUID, 0, uuid, 16},
        {":event-type", AIGW__ES_STRING, 0, "x", 0},
    };
    size_t n = sizeof h / sizeof h[0];
    obuf o = {0};
    frame(&o, h, n, "payload", 7);
    /* An empty string and an empty byte array, and no payload. */
    ehdr e[] = {{"s", AIGW__ES_STRING, 0, "", 0}, {"b", AIGW__ES_BYTES, 0, "", 0}};
    frame(&o, e, 2, NULL, 0);
    result r = check_all_splits(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.detail);
    cr_assert_eq(r.n, 2);
    rmsg *m = &r.m[0];
    cr_assert_eq(m->n_headers, n);
    for (size_t i = 0; i < n; i++) {
        const aigw__es_header *x = &m->headers[i];
        cr_assert_eq(x->name_len, strlen(h[i].name));
        cr_assert(memcmp(x->name, h[i].name, x->name_len) == 0);
        cr_assert_eq(x->type, h[i].type, "header %zu", i);
        switch (h[i].type) {
        case AIGW__ES_BOOL_TRUE:
            cr_assert_eq(x->number, 1);
            cr_assert_eq(x->value_len, 0);
            break;
        case AIGW__ES_BOOL_FALSE:
            cr_assert_eq(x->number, 0);
            cr_assert_eq(x->value_len, 0);
            break;
        case AIGW__ES_BYTES:
        case AIGW__ES_STRING:
        case AIGW__ES_UUID: {
            size_t vl = h[i].value_len ? h[i].value_len : strlen(h[i].value);
            cr_assert_eq(x->value_len, vl, "header %zu", i);
            cr_assert(memcmp(x->value, h[i].value, vl) == 0, "header %zu", i);
            break;
        }
        default:
            cr_assert_eq(x->number, h[i].number, "header %zu: %lld", i, (long long)x->number);
            cr_assert_eq(x->value_len, 0);
        }
    }
    cr_assert_str_eq(m->payload, "payload");
    cr_assert_str_eq(m->event_type, "x");
    cr_assert_eq(r.m[1].n_headers, 2);
    cr_assert_eq(r.m[1].headers[0].value_len, 0);
    cr_assert_eq(r.m[1].headers[1].value_len, 0);
    cr_assert_eq(r.m[1].payload_len, 0);
    result_free(&r);
    free(o.b);
}

/* A type string that is not a STRING header is not taken; a long one is
 * copied whole; the last of two wins. */
Test(eventstream, type_strings) {
    char lng[1001];
    memset(lng, 'e', 1000);
    lng[1000] = '\0';
    ehdr h[] = {
        {":event-type", AIGW__ES_BYTES, 0, "bytes", 0},
        {":message-type", AIGW__ES_STRING, 0, "first", 0},
        {":message-type", AIGW__ES_STRING, 0, "event", 0},
        {":content-type", AIGW__ES_STRING, 0, lng, 0},
        {":exception-type", AIGW__ES_INT, 5, NULL, 0},
    };
    h[0].value_len = 5;
    obuf o = {0};
    frame(&o, h, 5, "{}", 2);
    bedrock_event(&o, "metadata", "{}"); /* short again, after a long one */
    result r = check_all_splits(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.m[0].event_type, "");
    cr_assert_str_eq(r.m[0].message_type, "event");
    cr_assert_str_eq(r.m[0].content_type, lng);
    cr_assert_str_eq(r.m[0].exception_type, "");
    cr_assert_str_eq(r.m[1].event_type, "metadata");
    cr_assert_str_eq(r.m[1].content_type, "application/json");
    result_free(&r);
    free(o.b);
}

Test(eventstream, header_count_limit) {
    ehdr h[AIGW__ES_MAX_HEADERS + 1];
    char names[AIGW__ES_MAX_HEADERS + 1][8];
    for (size_t i = 0; i <= AIGW__ES_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof names[i], "h%zu", i);
        h[i] = (ehdr){names[i], AIGW__ES_BOOL_TRUE, 0, NULL, 0};
    }
    obuf o = {0};
    frame(&o, h, AIGW__ES_MAX_HEADERS, "ok", 2);
    result r = run_whole(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.m[0].n_headers, AIGW__ES_MAX_HEADERS);
    result_free(&r);
    o.len = 0;
    frame(&o, h, AIGW__ES_MAX_HEADERS + 1, "ok", 2);
    r = check_all_splits(o.b, o.len);
    cr_assert_eq(r.status, AIGW_EBADRESPONSE);
    cr_assert(strstr(r.detail, "more than 64 headers"), "%s", r.detail);
    cr_assert_eq(r.n, 0);
    result_free(&r);
    free(o.b);
}

/* ---- corruption ---- */

Test(eventstream, every_bit_flip) {
    obuf o = {0};
    bedrock_event(&o, "contentBlockDelta", "{\"delta\":{\"text\":\"Hi\"},\"contentBlockIndex\":0}");
    size_t first = o.len;
    bedrock_event(&o, "contentBlockStop", "{\"contentBlockIndex\":0}");
    uint32_t hlen = get_be32(o.b + first + 4);
    for (size_t pos = first; pos < o.len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            o.b[pos] ^= (unsigned char)(1u << bit);
            result r = run_whole(o.b, o.len);
            cr_assert_eq(r.status, AIGW_EBADRESPONSE, "byte %zu bit %d", pos, bit);
            cr_assert_eq(r.n, 1, "the first message still arrives");
            size_t rel = pos - first;
            const char *want = rel < 12 ? "prelude CRC mismatch" : "message CRC mismatch";
            cr_assert(strstr(r.detail, want), "byte %zu (%s): %s", rel,
                      rel < 12          ? "prelude"
                      : rel < 12 + hlen ? "headers"
                                        : "payload/CRC",
                      r.detail);
            if (bit == 0 || bit == 7) {
                result b = run_chunks(o.b, o.len, 1, 0);
                assert_same(&r, &b, "bit flip, byte by byte");
                result_free(&b);
            }
            result_free(&r);
            o.b[pos] ^= (unsigned char)(1u << bit);
        }
    }
    free(o.b);
}

/* A message whose prelude (lengths) is written as given, CRCs made valid. */
static obuf with_lengths(uint32_t total, uint32_t hlen, size_t body) {
    obuf o = {0};
    put_be(&o, total, 4);
    put_be(&o, hlen, 4);
    put_be(&o, 0, 4);
    for (size_t i = 0; i < body; i++)
        put(&o, "", 1);
    set_be32(o.b + 8, (uint32_t)crc32(0L, o.b, 8));
    if (total >= 16 && total <= o.len)
        set_be32(o.b + total - 4, (uint32_t)crc32(0L, o.b, total - 4));
    return o;
}

static void expect_bad(const void *in, size_t len, const char *detail) {
    result r = check_all_splits(in, len);
    cr_assert_eq(r.status, AIGW_EBADRESPONSE, "%s: status %d", detail, r.status);
    cr_assert(strstr(r.detail, detail), "want \"%s\", got \"%s\"", detail, r.detail);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.finish, 0);
    result_free(&r);
}

Test(eventstream, bad_lengths) {
    for (uint32_t t = 0; t < 16; t++) {
        obuf o = with_lengths(t, 0, 4);
        expect_bad(o.b, o.len, "below the 16-byte minimum");
        free(o.b);
    }
    obuf o = with_lengths(AIGW__ES_MAX_MESSAGE_BYTES + 1, 0, 4);
    expect_bad(o.b, o.len, "over the 16777216-byte limit");
    free(o.b);
    o = with_lengths(UINT32_MAX, 0, 4);
    expect_bad(o.b, o.len, "over the 16777216-byte limit");
    free(o.b);
    o = with_lengths(20, 5, 8);
    expect_bad(o.b, o.len, "headers length 5 does not fit a 20-byte message");
    free(o.b);
    o = with_lengths(16, 1, 4);
    expect_bad(o.b, o.len, "headers length 1 does not fit");
    free(o.b);
    o = with_lengths(16, UINT32_MAX, 4);
    expect_bad(o.b, o.len, "does not fit");
    free(o.b);
    /* The largest accepted: exactly the limit, a byte payload of zeros. */
    o = with_lengths(AIGW__ES_MAX_MESSAGE_BYTES, 0, AIGW__ES_MAX_MESSAGE_BYTES - 12);
    result r = run_whole(o.b, o.len);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.detail);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.m[0].payload_len, AIGW__ES_MAX_MESSAGE_BYTES - 16);
    result_free(&r);
    r = run_chunks(o.b, o.len, 65536, 0);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.n, 1);
    result_free(&r);
    free(o.b);
}

/* Raw header bytes in a message with valid CRCs. */
static void expect_bad_headers(const void *hdrs, size_t hlen, const char *detail) {
    obuf o = {0};
    frame_raw(&o, hdrs, hlen, "{}", 2);
    expect_bad(o.b, o.len, detail);
    free(o.b);
}

Test(eventstream, bad_headers) {
    /* name length past the headers */
    expect_bad_headers("\x05"
                       "ab",
                       3, "header 0 runs past the headers (at header byte 0)");
    /* name fits, the type byte does not */
    expect_bad_headers("\x02"
                       "ab",
                       3, "header 0 runs past the headers");
    /* each fixed-size type one byte short */
    static const struct {
        unsigned char type;
        size_t size;
    } fixed[] = {{2, 1}, {3, 2}, {4, 4}, {5, 8}, {8, 8}, {9, 16}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        unsigned char h[32] = {1, 'a', fixed[i].type};
        expect_bad_headers(h, 3 + fixed[i].size - 1, "header 0 runs past the headers");
        /* and exactly right is fine */
        obuf o = {0};
        frame_raw(&o, h, 3 + fixed[i].size, NULL, 0);
        result r = run_whole(o.b, o.len);
        cr_assert_eq(r.status, AIGW_OK, "type %d: %s", fixed[i].type, r.detail);
        result_free(&r);
        free(o.b);
    }
    /* string/bytes: the length field cut, then the value too long */
    expect_bad_headers("\x01"
                       "a\x07\x00",
                       4, "header 0 runs past the headers");
    expect_bad_headers("\x01"
                       "a\x06",
                       3, "header 0 runs past the headers");
    expect_bad_headers("\x01"
                       "a\x07\x00\x03xy",
                       7, "header 0 runs past the headers");
    /* the second header runs over */
    expect_bad_headers("\x01"
                       "a\x00\x01"
                       "b\x04\x00\x00",
                       8, "header 1 runs past the headers (at header byte 3)");
    /* unknown types */
    expect_bad_headers("\x01"
                       "a\x0a",
                       3, "header 0 has unknown value type 10");
    expect_bad_headers("\x01"
                       "a\xff",
                       3, "header 0 has unknown value type 255");
    /* empty name */
    expect_bad_headers("\x00\x00", 2, "header 0 has an empty name");
}

/* Cut streams: finish() says 1 unless the cut is at a message boundary. */
Test(eventstream, truncated) {
    obuf o = bedrock_stream();
    size_t bounds[N_BEDROCK + 1];
    size_t nb = 0, off = 0;
    bounds[nb++] = 0;
    while (off < o.len) {
        off += get_be32(o.b + off);
        bounds[nb++] = off;
    }
    cr_assert_eq(nb, N_BEDROCK + 1);
    for (size_t cut = 0; cut <= o.len; cut++) {
        int at_bound = 0;
        size_t msgs = 0;
        for (size_t k = 0; k < nb; k++) {
            if (bounds[k] == cut)
                at_bound = 1;
            if (bounds[k] <= cut && k > 0)
                msgs = k;
        }
        result r = run_whole(o.b, cut);
        cr_assert_eq(r.status, AIGW_OK);
        cr_assert_eq(r.finish, !at_bound, "cut at %zu", cut);
        cr_assert_eq(r.n, msgs, "cut at %zu", cut);
        result b = run_chunks(o.b, cut, 3, 0);
        assert_same(&r, &b, "truncated, in pieces");
        result_free(&b);
        result_free(&r);
    }
    free(o.b);
}

/* The decoder can be reused after finish() dropped a cut message. */
Test(eventstream, finish_then_more) {
    obuf o = bedrock_stream();
    result r;
    memset(&r, 0, sizeof r);
    aigw__es_decoder d;
    aigw__es_init(&d, record_cb, &r);
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, 20), AIGW_OK);
    cr_assert_eq(aigw__es_finish(&d), 1);
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, o.len), AIGW_OK);
    cr_assert_eq(aigw__es_finish(&d), 0);
    cr_assert_eq(r.n, N_BEDROCK);
    aigw__es_free(&d);
    aigw__es_free(&d); /* twice is fine */
    result_free(&r);
    free(o.b);
}

/* ---- stopping ---- */

Test(eventstream, callback_stop_is_sticky) {
    obuf o = bedrock_stream();
    for (size_t k = 1; k <= N_BEDROCK; k++) {
        size_t chunks[] = {o.len, 1, 5, 64};
        for (size_t c = 0; c < 4; c++) {
            result r = run_chunks(o.b, o.len, chunks[c], k);
            cr_assert_eq(r.status, AIGW_ESTOPPED, "stop after %zu, chunk %zu", k, chunks[c]);
            cr_assert_eq(r.n, k);
            cr_assert_eq(r.finish, 0);
            cr_assert_str_eq(r.m[k - 1].event_type, bedrock_events[k - 1][0]);
            result_free(&r);
        }
    }
    /* And after a stop, a feed of nothing says so too. */
    result r;
    memset(&r, 0, sizeof r);
    r.stop_after = 1;
    aigw__es_decoder d;
    aigw__es_init(&d, record_cb, &r);
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, o.len), AIGW_ESTOPPED);
    cr_assert_eq(aigw__es_feed(&d, "", 0), AIGW_ESTOPPED);
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, o.len), AIGW_ESTOPPED);
    cr_assert_eq(r.n, 1);
    aigw__es_free(&d);
    result_free(&r);
    free(o.b);
}

/* No callback: messages are checked and dropped. */
Test(eventstream, null_callback) {
    obuf o = bedrock_stream();
    aigw__es_decoder d;
    aigw__es_init(&d, NULL, NULL);
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, o.len), AIGW_OK);
    o.b[o.len - 1] ^= 1;
    cr_assert_eq(aigw__es_feed(&d, (const char *)o.b, o.len), AIGW_EBADRESPONSE);
    aigw__es_free(&d);
    free(o.b);
}

/* ---- allocation failure: a clean AIGW_ENOMEM every time ---- */

static long alloc_countdown = -1; /* fail when it reaches 0; -1 never */

static int should_fail(void) {
    if (alloc_countdown < 0)
        return 0;
    return alloc_countdown-- == 0;
}
static void *fail_malloc(size_t n) {
    return should_fail() ? NULL : malloc(n);
}
static void *fail_realloc(void *ptr, size_t n) {
    return should_fail() ? NULL : realloc(ptr, n);
}
static void *fail_calloc(size_t c, size_t n) {
    return should_fail() ? NULL : calloc(c, n);
}

static result run_torture(const void *vin, size_t len, size_t chunk) {
    const char *in = vin;
    result r;
    memset(&r, 0, sizeof r);
    aigw__es_decoder d;
    aigw__es_init(&d, record_cb, &r);
    for (size_t off = 0; off < len && !r.status; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        r.status = aigw__es_feed(&d, in + off, n);
    }
    if (r.status)
        cr_assert_eq(aigw__es_feed(&d, "", 0), r.status, "sticky");
    r.finish = aigw__es_finish(&d);
    aigw__es_free(&d);
    return r;
}

Test(eventstream, allocation_failures) {
    cr_assert_eq(aigw_set_allocator(fail_malloc, fail_realloc, fail_calloc, free), 0);
    obuf o = bedrock_stream();
    /* a long type string needs the large scratch, and a big payload that
     * straddles feeds needs pending to grow */
    char lng[600];
    memset(lng, 'c', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    ehdr h[] = {{":content-type", AIGW__ES_STRING, 0, lng, 0}};
    char payload[3000];
    memset(payload, 'p', sizeof payload);
    frame(&o, h, 1, payload, sizeof payload);
    bedrock_event(&o, "messageStop", "{}");
    size_t chunks[] = {o.len, 100, 7, 1};
    for (size_t c = 0; c < 4; c++) {
        alloc_countdown = -1;
        result ref = run_torture(o.b, o.len, chunks[c]);
        cr_assert_eq(ref.status, AIGW_OK);
        cr_assert_eq(ref.n, N_BEDROCK + 2);
        for (long fail = 0;; fail++) {
            alloc_countdown = fail;
            result r = run_torture(o.b, o.len, chunks[c]);
            int failed = alloc_countdown < 0;
            alloc_countdown = -1;
            if (!failed) {
                assert_same(&ref, &r, "no failure left");
                result_free(&r);
                break;
            }
            cr_assert_eq(r.status, AIGW_ENOMEM, "chunk %zu, failing allocation %ld: %d", chunks[c],
                         fail, r.status);
            cr_assert_eq(r.finish, 0);
            cr_assert_lt(r.n, ref.n);
            /* what did arrive is a prefix of the real messages */
            cr_assert_leq(r.trace.len, ref.trace.len);
            if (r.trace.len)
                cr_assert(memcmp(r.trace.b, ref.trace.b, r.trace.len) == 0);
            result_free(&r);
        }
        result_free(&ref);
    }
    free(o.b);
}

/* A larger stream, many messages, at assorted piece sizes. */
Test(eventstream, many_messages_any_pieces) {
    obuf o = {0};
    char json[512];
    for (int i = 0; i < 300; i++) {
        int n =
            snprintf(json, sizeof json,
                     "{\"delta\":{\"text\":\"token %d %.*s\"},\"contentBlockIndex\":0}", i, i % 200,
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        cr_assert(n > 0);
        bedrock_event(&o, "contentBlockDelta", json);
    }
    result whole = run_whole(o.b, o.len);
    cr_assert_eq(whole.status, AIGW_OK);
    cr_assert_eq(whole.n, 300);
    size_t sizes[] = {1, 2, 3, 11, 12, 13, 16, 100, 255, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        result r = run_chunks(o.b, o.len, sizes[i], 0);
        assert_same(&whole, &r, "pieces");
        result_free(&r);
    }
    result_free(&whole);
    free(o.b);
}
