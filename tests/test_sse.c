/* SPDX-License-Identifier: Apache-2.0 */
/* The Server-Sent Events parser (lib/wire/sse.c) against the WHATWG rules,
 * the chunk-boundary invariant and recorded OpenAI streams. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/common.h"
#include "wire/sse.h"

#ifndef AIGW_SOURCE_DIR
#define AIGW_SOURCE_DIR "."
#endif
#define SSE_DATA_DIR AIGW_SOURCE_DIR "/tests/data/sse/"

/* ---- recording events ---- */

typedef struct rec_event {
    char *event, *data, *id;
    size_t event_len, data_len, id_len;
} rec_event;

typedef struct recorder {
    rec_event *ev;
    size_t n, cap;
    size_t stop_after; /* stop the parser after this many events; 0 = never */
    int bad_strings;   /* an event string was not NUL-terminated at [len] */
} recorder;

/* What one run over an input gave. */
typedef struct result {
    recorder rec;
    aigw_status status; /* the first non-OK feed status, else AIGW_OK */
    int finish;
    long retry_ms;
} result;

static char *dup_bytes(const char *s, size_t n) {
    char *d = malloc(n + 1);
    cr_assert(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int record_cb(const aigw__sse_event *e, void *user) {
    recorder *r = user;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        cr_assert(r->ev);
    }
    if (e->event[e->event_len] || e->data[e->data_len] || e->id[e->id_len])
        r->bad_strings = 1;
    rec_event *x = &r->ev[r->n++];
    x->event = dup_bytes(e->event, e->event_len);
    x->event_len = e->event_len;
    x->data = dup_bytes(e->data, e->data_len);
    x->data_len = e->data_len;
    x->id = dup_bytes(e->id, e->id_len);
    x->id_len = e->id_len;
    return r->stop_after && r->n >= r->stop_after;
}

static void result_free(result *r) {
    for (size_t i = 0; i < r->rec.n; i++) {
        free(r->rec.ev[i].event);
        free(r->rec.ev[i].data);
        free(r->rec.ev[i].id);
    }
    free(r->rec.ev);
    memset(r, 0, sizeof *r);
}

/* Feeds `in` in pieces of the given sizes (the last piece takes the rest),
 * then finishes. */
static result run_pieces(const char *in, size_t len, const size_t *sizes, size_t nsizes,
                         size_t stop_after) {
    result r;
    memset(&r, 0, sizeof r);
    r.rec.stop_after = stop_after;
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    size_t off = 0;
    for (size_t i = 0; i <= nsizes; i++) {
        size_t n = i < nsizes && sizes[i] < len - off ? sizes[i] : len - off;
        aigw_status st = aigw__sse_feed(&p, in + off, n);
        if (st && !r.status)
            r.status = st;
        off += n;
    }
    r.finish = aigw__sse_finish(&p);
    r.retry_ms = aigw__sse_retry_ms(&p);
    aigw__sse_free(&p);
    cr_assert_eq(r.rec.bad_strings, 0, "event strings must be NUL-terminated");
    return r;
}

static result run_whole(const char *in, size_t len) {
    return run_pieces(in, len, NULL, 0, 0);
}

static result run_bytewise(const char *in, size_t len) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    for (size_t i = 0; i < len; i++) {
        aigw_status st = aigw__sse_feed(&p, in + i, 1);
        if (st && !r.status)
            r.status = st;
        /* an empty feed in between changes nothing */
        st = aigw__sse_feed(&p, in + i, 0);
        if (st && !r.status)
            r.status = st;
    }
    r.finish = aigw__sse_finish(&p);
    r.retry_ms = aigw__sse_retry_ms(&p);
    aigw__sse_free(&p);
    return r;
}

static result run_chunked(const char *in, size_t len, size_t chunk) {
    size_t n = len / chunk + 1;
    size_t *sizes = malloc(n * sizeof *sizes);
    cr_assert(sizes);
    for (size_t i = 0; i < n; i++)
        sizes[i] = chunk;
    result r = run_pieces(in, len, sizes, n, 0);
    free(sizes);
    return r;
}

static void assert_same(const result *a, const result *b, const char *what) {
    cr_assert_eq(a->status, b->status, "%s: status %d vs %d", what, a->status, b->status);
    cr_assert_eq(a->finish, b->finish, "%s: finish %d vs %d", what, a->finish, b->finish);
    cr_assert_eq(a->retry_ms, b->retry_ms, "%s: retry %ld vs %ld", what, a->retry_ms, b->retry_ms);
    cr_assert_eq(a->rec.n, b->rec.n, "%s: %zu vs %zu events", what, a->rec.n, b->rec.n);
    for (size_t i = 0; i < a->rec.n; i++) {
        const rec_event *x = &a->rec.ev[i], *y = &b->rec.ev[i];
        cr_assert(x->event_len == y->event_len && !memcmp(x->event, y->event, x->event_len),
                  "%s: event %zu type '%s' vs '%s'", what, i, x->event, y->event);
        cr_assert(x->data_len == y->data_len && !memcmp(x->data, y->data, x->data_len),
                  "%s: event %zu data '%s' vs '%s'", what, i, x->data, y->data);
        cr_assert(x->id_len == y->id_len && !memcmp(x->id, y->id, x->id_len),
                  "%s: event %zu id '%s' vs '%s'", what, i, x->id, y->id);
    }
}

/* Whole, byte by byte, split once at every position, and (for short
 * inputs) split twice at every pair of positions: all the same. Returns
 * the whole-feed result. */
static result check_splits(const char *in, size_t len) {
    result whole = run_whole(in, len);
    result r = run_bytewise(in, len);
    assert_same(&whole, &r, "byte by byte");
    result_free(&r);
    for (size_t i = 0; i <= len; i++) {
        size_t sizes[1] = {i};
        r = run_pieces(in, len, sizes, 1, 0);
        assert_same(&whole, &r, "one split");
        result_free(&r);
    }
    if (len <= 80) {
        for (size_t i = 0; i <= len; i++) {
            for (size_t j = i; j <= len; j++) {
                size_t sizes[2] = {i, j - i};
                r = run_pieces(in, len, sizes, 2, 0);
                assert_same(&whole, &r, "two splits");
                result_free(&r);
            }
        }
    }
    return whole;
}

#define S(lit) lit, sizeof(lit) - 1

static void assert_event(const result *r, size_t i, const char *type, const char *data,
                         const char *id) {
    cr_assert_lt(i, r->rec.n, "missing event %zu (got %zu)", i, r->rec.n);
    cr_assert_str_eq(r->rec.ev[i].event, type);
    cr_assert_str_eq(r->rec.ev[i].data, data);
    cr_assert_str_eq(r->rec.ev[i].id, id);
    cr_assert_eq(r->rec.ev[i].data_len, strlen(data));
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

/* ---- the rules, one by one ---- */

Test(sse, single_event) {
    result r = check_splits(S("data: hello\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "hello", "");
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.finish, 0);
    cr_assert_eq(r.retry_ms, -1);
    result_free(&r);
}

Test(sse, multi_line_data_joined_with_lf) {
    result r = check_splits(S("data: a\ndata: b\ndata:\ndata: c\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "a\nb\n\nc", "");
    result_free(&r);
}

Test(sse, one_leading_space_removed) {
    result r = check_splits(S("data:x\n\ndata: x\n\ndata:  x\n\ndata:\tx\n\n"));
    cr_assert_eq(r.rec.n, 4);
    assert_event(&r, 0, "message", "x", "");
    assert_event(&r, 1, "message", "x", "");
    assert_event(&r, 2, "message", " x", "");
    assert_event(&r, 3, "message", "\tx", "");
    result_free(&r);
}

Test(sse, value_split_at_first_colon) {
    result r = check_splits(S("data: a: b:c\n\ndata::\n\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "a: b:c", "");
    assert_event(&r, 1, "message", ":", "");
    result_free(&r);
}

Test(sse, field_without_colon_has_empty_value) {
    /* "data" alone appends "" + LF: the event is dispatched with "". */
    result r = check_splits(S("data\n\ndata\ndata\n\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "", "");
    assert_event(&r, 1, "message", "\n", "");
    result_free(&r);
}

Test(sse, empty_data_field_dispatches_empty_string) {
    result r = check_splits(S("data:\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "", "");
    result_free(&r);
}

Test(sse, no_data_no_dispatch_but_type_reset) {
    result r = check_splits(S("event: add\n\ndata: x\n\nevent: up\nid: 7\n\n\n\ndata: y\n\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "x", "");
    assert_event(&r, 1, "message", "y", "7");
    result_free(&r);
}

Test(sse, event_type) {
    result r = check_splits(S("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n"
                              "event: a\nevent: b\ndata: 4\n\ndata: 5\nevent: late\n\n"));
    cr_assert_eq(r.rec.n, 5);
    assert_event(&r, 0, "add", "1", "");
    assert_event(&r, 1, "message", "2", "");
    assert_event(&r, 2, "message", "3", ""); /* empty type means "message" */
    assert_event(&r, 3, "b", "4", "");
    assert_event(&r, 4, "late", "5", ""); /* fields apply in any order */
    result_free(&r);
}

Test(sse, id_persists_and_resets) {
    result r = check_splits(S("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\n\n"
                              "data: d\n\nid: 3\ndata: e\nid:\n\n"));
    cr_assert_eq(r.rec.n, 5);
    assert_event(&r, 0, "message", "a", "1");
    assert_event(&r, 1, "message", "b", "1");
    assert_event(&r, 2, "message", "c", "");  /* "id" with no value clears it */
    assert_event(&r, 3, "message", "d", "2"); /* set by an event with no data */
    assert_event(&r, 4, "message", "e", "");
    result_free(&r);
}

Test(sse, id_with_nul_ignored) {
    result r = check_splits(S("id: 5\n\nid: a\0b\ndata: x\n\nid: \0\ndata: y\n\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "x", "5");
    assert_event(&r, 1, "message", "y", "5");
    result_free(&r);
}

Test(sse, nul_in_data_is_kept) {
    result r = check_splits(S("data: a\0b\n\n"));
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(r.rec.ev[0].data_len, 3);
    cr_assert(memcmp(r.rec.ev[0].data, "a\0b", 3) == 0);
    result_free(&r);
}

Test(sse, retry) {
    struct {
        const char *in;
        size_t len;
        long want;
    } cases[] = {
        {S("retry: 1500\n"), 1500},
        {S("retry:0\n"), 0},
        {S("retry: 0042\n"), 42},
        {S("retry: 1000\nretry: 2000\n"), 2000},
        {S("retry: 1000\nretry: 2x\n"), 1000},
        {S("retry: 15x\n"), -1},
        {S("retry: -1\n"), -1},
        {S("retry: +1\n"), -1},
        {S("retry: 1.5\n"), -1},
        {S("retry:  100\n"), -1}, /* the second space is part of the value */
        {S("retry: 100 \n"), -1},
        {S("retry:\n"), -1},
        {S("retry\n"), -1},
        {S("Retry: 100\n"), -1},
        {S("retry: 99999999999999999999999999\n"), LONG_MAX},
        {S("retry: 100"), -1}, /* an unfinished line is never processed */
        {S("retry: 100\r"), 100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = check_splits(cases[i].in, cases[i].len);
        cr_assert_eq(r.retry_ms, cases[i].want, "case %zu: retry %ld, want %ld", i, r.retry_ms,
                     cases[i].want);
        cr_assert_eq(r.rec.n, 0);
        result_free(&r);
    }
}

Test(sse, retry_does_not_disturb_event) {
    result r = check_splits(S("data: a\nretry: 10\ndata: b\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "a\nb", "");
    cr_assert_eq(r.retry_ms, 10);
    result_free(&r);
}

Test(sse, comments) {
    result r = check_splits(S(": hello\n\n:\n\n:data: x\n\ndata: a\n: between\ndata: b\n\n"
                              ": keep-alive\r\n\r\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "a\nb", "");
    cr_assert_eq(r.finish, 0);
    result_free(&r);
}

Test(sse, unknown_fields_ignored) {
    result r = check_splits(S("foo: bar\ndata: x\nfoo\n\nData: y\n\ndata : z\n\n"
                              " data: w\n\nEVENT: e\nevent : f\ndata: v\n\ndatas: u\n\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "x", "");
    assert_event(&r, 1, "message", "v", "");
    result_free(&r);
}

Test(sse, line_ends) {
    static const struct {
        const char *in;
        size_t len;
    } cases[] = {
        {S("data: a\ndata: b\n\n")},   {S("data: a\r\ndata: b\r\n\r\n")},
        {S("data: a\rdata: b\r\r")},   {S("data: a\r\ndata: b\r\r\n")},
        {S("data: a\rdata: b\n\r\n")}, {S("data: a\ndata: b\r\n\n")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = check_splits(cases[i].in, cases[i].len);
        cr_assert_eq(r.rec.n, 1, "case %zu: %zu events", i, r.rec.n);
        assert_event(&r, 0, "message", "a\nb", "");
        cr_assert_eq(r.finish, 0, "case %zu", i);
        result_free(&r);
    }
}

Test(sse, lf_cr_is_two_line_ends) {
    /* LF then CR is not one line end: the CR makes an empty line. */
    result r = check_splits(S("data: a\n\rdata: b\r\n\r\n"));
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 0, "message", "a", "");
    assert_event(&r, 1, "message", "b", "");
    result_free(&r);
}

Test(sse, cr_at_end_of_feed_then_lf) {
    /* "a\r" + "\n" is one line end, not a line end and a blank line. */
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("data: a\r")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("\n")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("data: b\r")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, "", 0), AIGW_OK); /* an empty feed keeps the CR state */
    cr_assert_eq(aigw__sse_feed(&p, S("\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 0);
    cr_assert_eq(aigw__sse_feed(&p, S("\r")), AIGW_OK); /* a blank line */
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_feed(&p, S("\n")), AIGW_OK); /* the rest of that CRLF only */
    cr_assert_eq(aigw__sse_feed(&p, S("data: c\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_feed(&p, S("\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 2);
    assert_event(&r, 1, "message", "c", "");
    assert_event(&r, 0, "message", "a\nb", "");
    cr_assert_eq(aigw__sse_finish(&p), 0);
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, cr_cr_across_feeds) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("data: a\r")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("\r")), AIGW_OK); /* a blank line: dispatch now */
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "a", "");
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, event_dispatched_as_soon_as_blank_line_arrives) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("data: a\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 0);
    cr_assert_eq(aigw__sse_feed(&p, S("\ndata: b")), AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_finish(&p), 1);
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, bom) {
    result r = check_splits(S("\xEF\xBB\xBF"
                              "data: x\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "x", "");
    result_free(&r);

    /* Only one BOM, and only at the start of the stream. */
    r = check_splits(S("\xEF\xBB\xBF\xEF\xBB\xBF"
                       "data: x\n\n"));
    cr_assert_eq(r.rec.n, 0);
    result_free(&r);
    r = check_splits(S("data: x\n\n\xEF\xBB\xBF"
                       "data: y\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "x", "");
    result_free(&r);

    /* A BOM before a blank line / comment / CR. */
    r = check_splits(S("\xEF\xBB\xBF\r\n: c\ndata: z\r\r"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "z", "");
    result_free(&r);

    /* BOM in data is kept. */
    r = check_splits(S("data: \xEF\xBB\xBF\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "\xEF\xBB\xBF", "");
    result_free(&r);
}

Test(sse, partial_bom_is_content) {
    /* A stream starting with the first bytes of a BOM: they belong to the
     * first line, whose field name is then unknown. */
    result r = check_splits(S("\xEF\xBB"
                              "data: x\n\ndata: y\n\n"));
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "y", "");
    result_free(&r);
    r = check_splits(S("\xEF\n\ndata: y\n\n"));
    cr_assert_eq(r.rec.n, 1);
    result_free(&r);
    r = check_splits(S("\xEF"
                       "data: x\n\n"));
    cr_assert_eq(r.rec.n, 0);
    result_free(&r);
    r = check_splits(S("\xEF\xEF\xBB\xBF"
                       "data: x\n\n"));
    cr_assert_eq(r.rec.n, 0);
    result_free(&r);

    /* An unfinished BOM at the end of the stream is an unfinished line. */
    r = check_splits(S("\xEF\xBB"));
    cr_assert_eq(r.finish, 1);
    result_free(&r);
    r = check_splits(S("\xEF\xBB\xBF"));
    cr_assert_eq(r.finish, 0);
    result_free(&r);
}

Test(sse, bom_fed_byte_by_byte) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("\xEF")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, "", 0), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("\xBB")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("\xBF")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, S("data: x\n\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "x", "");
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, finish_reports_unterminated_event) {
    static const struct {
        const char *in;
        size_t len;
        int want;
    } cases[] = {
        {S(""), 0},
        {S("data: a\n\n"), 0},
        {S("data: a\r\n\r\n"), 0},
        {S("data: a\r\r"), 0},
        {S("data: a\n"), 1},
        {S("data: a"), 1},
        {S("data: a\n\ndata: b"), 1},
        {S("data: a\n\ndata"), 1},
        {S("event: x\n"), 1},
        {S("id: 1\n"), 1},
        {S("retry: 5\n"), 1},
        {S("foo\n"), 1},
        {S(": comment\n"), 0},
        {S("data: a\n\n: trailing comment\n"), 0},
        {S(": unfinished comment"), 1},
        {S("\n\n\n"), 0},
        {S("data: a\n\n\r"), 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = check_splits(cases[i].in, cases[i].len);
        cr_assert_eq(r.finish, cases[i].want, "case %zu: finish %d, want %d", i, r.finish,
                     cases[i].want);
        result_free(&r);
    }
}

Test(sse, finish_discards_pending_event) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("id: 9\ndata: a\n\ndata: lost\n")), AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_finish(&p), 1);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_finish(&p), 0); /* already discarded */
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, callback_stop) {
    result r;
    memset(&r, 0, sizeof r);
    r.rec.stop_after = 1;
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    cr_assert_eq(aigw__sse_feed(&p, S("data: a\n\ndata: b\n\n")), AIGW_ESTOPPED);
    cr_assert_eq(r.rec.n, 1);
    assert_event(&r, 0, "message", "a", "");
    cr_assert_eq(aigw__sse_feed(&p, S("data: c\n\n")), AIGW_ESTOPPED);
    cr_assert_eq(aigw__sse_feed(&p, "", 0), AIGW_ESTOPPED);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(aigw__sse_finish(&p), 0);
    aigw__sse_free(&p);
    result_free(&r);
}

Test(sse, callback_stop_same_in_any_pieces) {
    const char in[] = "data: 1\n\nevent: e\ndata: 2\n\ndata: 3\n\ndata: 4\n\n";
    size_t len = sizeof in - 1;
    for (size_t stop = 1; stop <= 4; stop++) {
        result whole = run_pieces(in, len, NULL, 0, stop);
        cr_assert_eq(whole.rec.n, stop);
        cr_assert_eq(whole.status, AIGW_ESTOPPED);
        for (size_t i = 0; i <= len; i++) {
            size_t sizes[1] = {i};
            result r = run_pieces(in, len, sizes, 1, stop);
            assert_same(&whole, &r, "stop");
            result_free(&r);
        }
        result_free(&whole);
    }
}

Test(sse, no_callback_is_allowed) {
    aigw__sse_parser p;
    aigw__sse_init(&p, NULL, NULL);
    cr_assert_eq(aigw__sse_feed(&p, S("data: a\n\n")), AIGW_OK);
    cr_assert_eq(aigw__sse_finish(&p), 0);
    aigw__sse_free(&p);
    aigw__sse_free(NULL);
}

/* ---- limits ---- */

static char *big_line(const char *prefix, size_t value_len, const char *suffix, size_t *len) {
    size_t pl = strlen(prefix), sl = strlen(suffix);
    *len = pl + value_len + sl;
    char *s = malloc(*len + 1);
    cr_assert(s);
    memcpy(s, prefix, pl);
    memset(s + pl, 'x', value_len);
    memcpy(s + pl + value_len, suffix, sl);
    s[*len] = '\0';
    return s;
}

Test(sse, oversize_line_refused) {
    size_t len;
    char *s = big_line("data: ", AIGW__SSE_MAX_EVENT_BYTES, "\n\n", &len);
    aigw__sse_parser p;
    recorder rec;
    memset(&rec, 0, sizeof rec);

    /* whole */
    aigw__sse_init(&p, record_cb, &rec);
    cr_assert_eq(aigw__sse_feed(&p, S("data: before\n\n")), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, s, len), AIGW_EBADRESPONSE);
    cr_assert_eq(aigw__sse_feed(&p, S("data: after\n\n")), AIGW_EBADRESPONSE); /* sticky */
    cr_assert_eq(rec.n, 1);
    aigw__sse_free(&p);

    /* in 64 KB pieces: refused before the line end arrives */
    aigw__sse_init(&p, record_cb, &rec);
    aigw_status st = AIGW_OK;
    size_t off = 0;
    while (off < len - 2 && st == AIGW_OK) {
        size_t n = len - 2 - off < 65536 ? len - 2 - off : 65536;
        st = aigw__sse_feed(&p, s + off, n);
        off += n;
    }
    cr_assert_eq(st, AIGW_EBADRESPONSE);
    cr_assert_eq(aigw__sse_feed(&p, S("\n\n")), AIGW_EBADRESPONSE);
    cr_assert_eq(rec.n, 1);
    aigw__sse_free(&p);

    /* A long comment line is refused too: it would be buffered all the same. */
    s[0] = ':';
    aigw__sse_init(&p, record_cb, &rec);
    cr_assert_eq(aigw__sse_feed(&p, s, len - 2), AIGW_EBADRESPONSE);
    aigw__sse_free(&p);
    free(s);
    for (size_t i = 0; i < rec.n; i++) {
        free(rec.ev[i].event);
        free(rec.ev[i].data);
        free(rec.ev[i].id);
    }
    free(rec.ev);
}

Test(sse, large_event_under_limit_accepted) {
    size_t len;
    size_t vlen = AIGW__SSE_MAX_EVENT_BYTES - 64;
    char *s = big_line("data: ", vlen, "\n\n", &len);
    result r = run_whole(s, len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(r.rec.ev[0].data_len, vlen);
    result_free(&r);
    r = run_chunked(s, len, 4096);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.rec.n, 1);
    cr_assert_eq(r.rec.ev[0].data_len, vlen);
    result_free(&r);
    free(s);
}

Test(sse, oversize_data_across_lines_refused) {
    /* Each line is under the limit; together they are over it. */
    size_t len;
    char *s = big_line("data: ", AIGW__SSE_MAX_EVENT_BYTES / 2, "\n", &len);
    aigw__sse_parser p;
    recorder rec;
    memset(&rec, 0, sizeof rec);
    aigw__sse_init(&p, record_cb, &rec);
    cr_assert_eq(aigw__sse_feed(&p, s, len), AIGW_OK);
    cr_assert_eq(aigw__sse_feed(&p, s, len), AIGW_EBADRESPONSE);
    cr_assert_eq(aigw__sse_feed(&p, S("\n")), AIGW_EBADRESPONSE);
    cr_assert_eq(rec.n, 0);
    aigw__sse_free(&p);
    free(s);
}

/* ---- the chunk-boundary invariant over a set of tricky inputs ---- */

Test(sse, same_events_in_any_pieces) {
    static const struct {
        const char *in;
        size_t len;
    } cases[] = {
        {S("data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n")},
        {S("\xEF\xBB\xBF"
           "event: e\r\nid: 1\rdata: x\n\n")},
        {S("\xEF\xBB\xBF\xEF"
           "data: x\n\n")},
        {S(":c\r\n\r\ndata\r\rid\0x\n\nid:9\ndata\n\n")},
        {S("retry: 12\r\nretry: 1a\r\ndata: \r\n\r\n\r\r\n\n")},
        {S("data: {\"a\":1}\n\ndata: [DONE]\n\n")},
        {S("data:  two spaces\nfoo:bar\nevent:\nevent: t\n\n")},
        {S("\r\n\r\n\r\r\n\n\n")},
        {S("data: tail without end")},
        {S("data: x\r")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = check_splits(cases[i].in, cases[i].len);
        result_free(&r);
    }
}

/* ---- recorded OpenAI streams ---- */

static void check_recording(const char *name, size_t want_events) {
    char path[512];
    snprintf(path, sizeof path, "%s%s", SSE_DATA_DIR, name);
    size_t len;
    char *in = read_file(path, &len);
    result whole = run_whole(in, len);
    cr_assert_eq(whole.status, AIGW_OK);
    cr_assert_eq(whole.finish, 0, "%s: stream ends with a blank line", name);
    cr_assert_eq(whole.rec.n, want_events, "%s: %zu events, want %zu", name, whole.rec.n,
                 want_events);
    const rec_event *last = &whole.rec.ev[whole.rec.n - 1];
    cr_assert_str_eq(last->data, "[DONE]");
    for (size_t i = 0; i + 1 < whole.rec.n; i++) {
        const rec_event *e = &whole.rec.ev[i];
        cr_assert_str_eq(e->event, "message");
        cr_assert_str_eq(e->id, "");
        cr_assert(e->data_len > 2 && e->data[0] == '{' && e->data[e->data_len - 1] == '}',
                  "%s: event %zu is one JSON object", name, i);
        cr_assert(strstr(e->data, "\"object\":\"chat.completion.chunk\""), "%s: event %zu", name,
                  i);
    }
    /* the same in 4 KB pieces, 1 KB pieces, 7-byte pieces and byte by byte */
    size_t chunks[] = {4096, 1024, 7};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        result r = run_chunked(in, len, chunks[c]);
        assert_same(&whole, &r, "chunked recording");
        result_free(&r);
    }
    result r = run_bytewise(in, len);
    assert_same(&whole, &r, "recording byte by byte");
    result_free(&r);
    /* and split once at every position */
    for (size_t i = 0; i <= len; i++) {
        size_t sizes[1] = {i};
        r = run_pieces(in, len, sizes, 1, 0);
        assert_same(&whole, &r, "recording split");
        result_free(&r);
    }
    result_free(&whole);
    free(in);
}

Test(sse_openai, chat_streaming) {
    check_recording("chat-streaming.sse", 51);
}

Test(sse_openai, chat_streaming_detailed_usage) {
    check_recording("chat-streaming-detailed-usage.sse", 4);
}

Test(sse_openai, chat_streaming_web_search) {
    check_recording("chat-streaming-web-search.sse", 26);
}

Test(sse_openai, chat_streaming_crlf) {
    /* The same stream with CRLF line ends gives the same events. */
    size_t len;
    char *in = read_file(SSE_DATA_DIR "chat-streaming.sse", &len);
    char *crlf = malloc(2 * len);
    cr_assert(crlf);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = in[i];
    }
    result a = run_whole(in, len);
    result b = run_chunked(crlf, n, 4096);
    assert_same(&a, &b, "crlf");
    result c = run_bytewise(crlf, n);
    assert_same(&a, &c, "crlf byte by byte");
    result_free(&a);
    result_free(&b);
    result_free(&c);
    free(crlf);
    free(in);
}

Test(sse_openai, chat_parallel_tools_is_not_a_stream) {
    /* chat-parallel-tools.yaml recorded a non-streaming reply: a JSON body
     * (no trailing newline). Read as SSE it has no event and ends mid-line. */
    size_t len;
    char *in = read_file(SSE_DATA_DIR "chat-parallel-tools.json", &len);
    cr_assert_eq(len, 1076);
    result r = check_splits(in, len);
    cr_assert_eq(r.status, AIGW_OK);
    cr_assert_eq(r.rec.n, 0);
    cr_assert_eq(r.finish, 1);
    result_free(&r);
    free(in);
}

/* ---- allocation failure: a clean AIGW_ENOMEM every time ---- */

static long alloc_countdown = -1; /* fail when it reaches 0; -1 never */
static long alloc_count;

static int should_fail(void) {
    alloc_count++;
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

static result run_torture(const char *in, size_t len, size_t chunk) {
    result r;
    memset(&r, 0, sizeof r);
    aigw__sse_parser p;
    aigw__sse_init(&p, record_cb, &r.rec);
    for (size_t off = 0; off < len && !r.status; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        r.status = aigw__sse_feed(&p, in + off, n);
    }
    r.finish = aigw__sse_finish(&p);
    r.retry_ms = aigw__sse_retry_ms(&p);
    aigw__sse_free(&p);
    return r;
}

Test(sse, allocation_failures) {
    /* Each test runs in its own process, so nothing was allocated yet. */
    cr_assert_eq(aigw_set_allocator(fail_malloc, fail_realloc, fail_calloc, free), 0);
    const char in[] = "id: 1\nevent: e\ndata: a long enough first value to need room\n\n"
                      "data: second, with more bytes than the first, so the buffer grows......"
                      "...............................................................\n\n";
    size_t len = sizeof in - 1;
    size_t chunks[] = {len, 5, 1};
    for (size_t c = 0; c < 3; c++) {
        alloc_countdown = -1;
        result ref = run_torture(in, len, chunks[c]);
        cr_assert_eq(ref.status, AIGW_OK);
        cr_assert_eq(ref.rec.n, 2);
        for (long fail = 0;; fail++) {
            alloc_countdown = fail;
            result r = run_torture(in, len, chunks[c]);
            int failed = alloc_countdown < 0; /* the countdown hit 0 */
            alloc_countdown = -1;
            if (!failed) {
                assert_same(&ref, &r, "no failure left");
                result_free(&r);
                break;
            }
            cr_assert_eq(r.status, AIGW_ENOMEM, "chunk %zu, failing allocation %ld: %d", chunks[c],
                         fail, r.status);
            cr_assert_leq(r.rec.n, ref.rec.n);
            for (size_t i = 0; i < r.rec.n; i++)
                cr_assert_str_eq(r.rec.ev[i].data, ref.rec.ev[i].data);
            result_free(&r);
        }
        result_free(&ref);
    }
}
