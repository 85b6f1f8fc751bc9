/* SPDX-License-Identifier: Apache-2.0 */
/* Server-Sent Events, parsed as the WHATWG HTML standard says ("Interpreting
 * an event stream", section 9.2.6).
 *
 * The hot path is one memchr per line for the line end: the position of the
 * next LF and of the next CR are each cached for the rest of the feed, so a
 * stream with no CR at all costs one extra memchr per feed, not per line.
 * A line that lies whole inside the current feed is parsed where it is; only
 * the unfinished tail of a feed is copied into p->line, and the next feed
 * completes it there. Data values are copied once, into p->data, because
 * the event hands out NUL-terminated strings. */
#include "wire/sse.h"

#include <limits.h>
#include <string.h>

#include "core/alloc.h"

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void aigw__sse_init(aigw__sse_parser *p, aigw__sse_event_cb cb, void *user) {
    memset(p, 0, sizeof *p);
    p->cb = cb;
    p->user = user;
    p->line = (aigw__buf)AIGW__BUF_INIT;
    p->data = (aigw__buf)AIGW__BUF_INIT;
    p->event_type = (aigw__buf)AIGW__BUF_INIT;
    p->last_id = (aigw__buf)AIGW__BUF_INIT;
    p->retry_ms = -1;
    p->error = AIGW_OK;
}

void aigw__sse_free(aigw__sse_parser *p) {
    if (!p)
        return;
    aigw__buf_free(&p->line);
    aigw__buf_free(&p->data);
    aigw__buf_free(&p->event_type);
    aigw__buf_free(&p->last_id);
}

long aigw__sse_retry_ms(const aigw__sse_parser *p) {
    return p->retry_ms;
}

static inline void buf_reset(aigw__buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* A blank line: dispatch the event being built, if it has data. */
static aigw_status dispatch(aigw__sse_parser *p) {
    p->pending = 0;
    if (p->data.len == 0) {
        /* No data field: nothing to dispatch, but the type is reset. */
        buf_reset(&p->event_type);
        return AIGW_OK;
    }
    /* Every data field appended value + LF; the last LF goes. */
    p->data.data[--p->data.len] = '\0';

    aigw__sse_event ev;
    if (p->event_type.len) {
        ev.event = p->event_type.data;
        ev.event_len = p->event_type.len;
    } else {
        ev.event = "message";
        ev.event_len = 7;
    }
    ev.data = p->data.data;
    ev.data_len = p->data.len;
    if (p->last_id.len) {
        ev.id = p->last_id.data;
        ev.id_len = p->last_id.len;
    } else {
        ev.id = "";
        ev.id_len = 0;
    }
    int stop = p->cb ? p->cb(&ev, p->user) : 0;
    buf_reset(&p->data);
    buf_reset(&p->event_type);
    p->has_data = 0;
    if (stop) {
        p->stopped = 1;
        return AIGW_ESTOPPED;
    }
    return AIGW_OK;
}

/* data: append the value and a LF. */
static aigw_status append_data(aigw__sse_parser *p, const char *v, size_t n) {
    aigw__buf *b = &p->data;
    /* b->len <= AIGW__SSE_MAX_EVENT_BYTES always, so no underflow. */
    if (n >= AIGW__SSE_MAX_EVENT_BYTES - b->len)
        return AIGW_EBADRESPONSE;
    if (b->cap - b->len < n + 2) { /* value, LF, NUL */
        aigw_status st = aigw__buf_reserve(b, n + 1);
        if (st)
            return st;
    }
    memcpy(b->data + b->len, v, n);
    b->len += n;
    b->data[b->len++] = '\n';
    b->data[b->len] = '\0';
    p->has_data = 1;
    return AIGW_OK;
}

static aigw_status set_buf(aigw__buf *b, const char *v, size_t n) {
    buf_reset(b);
    return aigw__buf_append(b, v, n);
}

/* retry: only a non-empty run of ASCII digits counts; saturates. */
static void set_retry(aigw__sse_parser *p, const char *v, size_t n) {
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(v[i] - '0') > 9)
            return;
    long ms = 0;
    for (size_t i = 0; i < n; i++) {
        long d = v[i] - '0';
        if (ms > (LONG_MAX - d) / 10) {
            ms = LONG_MAX;
            break;
        }
        ms = ms * 10 + d;
    }
    p->retry_ms = ms;
}

/* One complete line, without its line end. */
static aigw_status process_line(aigw__sse_parser *p, const char *line, size_t len) {
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':')
        return AIGW_OK; /* a comment */
    p->pending = 1;
    /* The common case first: "data:" starts almost every line. */
    if (len >= 5 && memcmp(line, "data:", 5) == 0) {
        const char *v = line + 5;
        size_t vlen = len - 5;
        if (vlen && *v == ' ') {
            v++;
            vlen--;
        }
        return append_data(p, v, vlen);
    }
    const char *colon = memchr(line, ':', len);
    size_t nlen;
    const char *v;
    size_t vlen;
    if (colon) {
        nlen = (size_t)(colon - line);
        v = colon + 1;
        vlen = len - nlen - 1;
        if (vlen && *v == ' ') {
            v++;
            vlen--;
        }
    } else {
        /* The whole line is the field name; the value is empty. */
        nlen = len;
        v = line + len;
        vlen = 0;
    }
    switch (nlen) {
    case 2:
        if (memcmp(line, "id", 2) == 0 && !memchr(v, '\0', vlen))
            return set_buf(&p->last_id, v, vlen);
        break;
    case 4:
        if (memcmp(line, "data", 4) == 0) /* "data" without a colon */
            return append_data(p, v, vlen);
        break;
    case 5:
        if (memcmp(line, "event", 5) == 0)
            return set_buf(&p->event_type, v, vlen);
        if (memcmp(line, "retry", 5) == 0)
            set_retry(p, v, vlen);
        break;
    default:
        break; /* unknown fields are ignored */
    }
    return AIGW_OK;
}

aigw_status aigw__sse_feed(aigw__sse_parser *p, const char *bytes, size_t len) {
    if (p->error)
        return p->error;
    if (p->stopped)
        return AIGW_ESTOPPED;
    if (len == 0)
        return AIGW_OK;

    aigw_status st = AIGW_OK;
    const char *s = bytes;
    const char *end = bytes + len;

    /* One leading BOM is dropped, even when it arrives a byte at a time. */
    if (!p->bom_checked) {
        while (s < end && p->bom_matched < 3 && (unsigned char)*s == sse_bom[p->bom_matched]) {
            s++;
            p->bom_matched++;
        }
        if (p->bom_matched == 3) {
            p->bom_checked = 1;
        } else if (s < end) {
            /* Not a BOM after all: the bytes matched so far start a line
             * (none of them is a line end). */
            p->bom_checked = 1;
            if (p->bom_matched) {
                st = aigw__buf_append(&p->line, sse_bom, p->bom_matched);
                if (st)
                    goto out;
            }
        } else {
            return AIGW_OK; /* all of it may still be a BOM */
        }
    }

    /* A CR ended the last feed: an LF now belongs to that line end. */
    if (p->saw_cr) {
        p->saw_cr = 0;
        if (s < end && *s == '\n')
            s++;
    }
    if (s == end)
        goto out;

    const char *lf = memchr(s, '\n', (size_t)(end - s));
    const char *cr = memchr(s, '\r', (size_t)(end - s));
    if (!lf)
        lf = end;
    if (!cr)
        cr = end;
    while (s < end) {
        if (lf < s) {
            lf = memchr(s, '\n', (size_t)(end - s));
            if (!lf)
                lf = end;
        }
        if (cr < s) {
            cr = memchr(s, '\r', (size_t)(end - s));
            if (!cr)
                cr = end;
        }
        const char *eol = lf < cr ? lf : cr;
        if (eol == end)
            break; /* an unfinished line */
        size_t n = (size_t)(eol - s);
        if (p->line.len) {
            /* Completes the line the last feed left unfinished. */
            if (n > AIGW__SSE_MAX_EVENT_BYTES - p->line.len) {
                st = AIGW_EBADRESPONSE;
                goto out;
            }
            st = aigw__buf_append(&p->line, s, n);
            if (st)
                goto out;
            st = process_line(p, p->line.data, p->line.len);
            buf_reset(&p->line);
        } else {
            if (n > AIGW__SSE_MAX_EVENT_BYTES) {
                st = AIGW_EBADRESPONSE;
                goto out;
            }
            st = process_line(p, s, n);
        }
        if (st)
            goto out;
        if (*eol == '\r') {
            if (eol + 1 == end) {
                p->saw_cr = 1; /* an LF may come first thing next feed */
                s = end;
                break;
            }
            s = eol + (eol[1] == '\n' ? 2 : 1);
        } else {
            s = eol + 1;
        }
    }

    if (s < end) {
        size_t n = (size_t)(end - s);
        if (n > AIGW__SSE_MAX_EVENT_BYTES - p->line.len) {
            st = AIGW_EBADRESPONSE;
            goto out;
        }
        st = aigw__buf_append(&p->line, s, n);
    }

out:
    if (st && st != AIGW_ESTOPPED)
        p->error = st;
    return st;
}

int aigw__sse_finish(aigw__sse_parser *p) {
    if (p->stopped)
        return 0;
    int truncated = p->line.len > 0 || p->pending || (!p->bom_checked && p->bom_matched > 0);
    buf_reset(&p->line);
    buf_reset(&p->data);
    buf_reset(&p->event_type);
    p->pending = 0;
    p->has_data = 0;
    p->saw_cr = 0;
    if (!p->bom_checked && p->bom_matched > 0) {
        /* A stream that was only the start of a BOM: those bytes were an
         * unfinished line, now discarded. */
        p->bom_checked = 1;
        p->bom_matched = 0;
    }
    return truncated;
}
