/* SPDX-License-Identifier: Apache-2.0 */
/* AWS event-stream (application/vnd.amazon.eventstream) decoding.
 *
 * A message that lies whole inside the current feed is checked and decoded
 * where it is: one zlib crc32() pass over its bytes (the prelude CRC's
 * running value is carried on into the message CRC, so no byte is summed
 * twice), one walk over the headers, and the callback. Only the unfinished
 * tail of a feed is copied into d->pending; once its 12-byte prelude is in,
 * the prelude is checked and room for the whole message is reserved, so the
 * next feeds complete it with plain copies. Decoding needs no allocation
 * unless a message straddles feeds or its four type strings do not fit the
 * inline scratch. */
#include "wire/eventstream.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define ES_PRELUDE 12u /* total length, headers length, prelude CRC */
#define ES_MIN 16u     /* prelude + message CRC */

static inline uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint16_t be16(const unsigned char *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint64_t be64(const unsigned char *p) {
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

void aigw__es_init(aigw__es_decoder *d, aigw__es_message_cb cb, void *user) {
    memset(d, 0, sizeof *d);
    d->cb = cb;
    d->user = user;
    d->pending = (aigw__buf)AIGW__BUF_INIT;
    d->big_scratch = (aigw__buf)AIGW__BUF_INIT;
    d->error = AIGW_OK;
}

void aigw__es_free(aigw__es_decoder *d) {
    if (!d)
        return;
    aigw__buf_free(&d->pending);
    aigw__buf_free(&d->big_scratch);
    d->pending_total = 0;
}

static aigw_status fail(aigw__es_decoder *d, const char *fmt, unsigned long a, unsigned long b) {
    snprintf(d->detail, sizeof d->detail, fmt, a, b);
    return AIGW_EBADRESPONSE;
}

/* Checks a prelude (12 bytes at p): its CRC, then the lengths. On success
 * *total is the message's total length and *crc the running CRC of the
 * first 8 bytes. */
static aigw_status check_prelude(aigw__es_decoder *d, const unsigned char *p, uint32_t *total,
                                 uLong *crc) {
    uLong c = crc32(0L, p, 8);
    uint32_t want = be32(p + 8);
    if ((uint32_t)c != want)
        return fail(d, "event-stream prelude CRC mismatch (computed %08lx, message says %08lx)",
                    (unsigned long)c, (unsigned long)want);
    uint32_t t = be32(p), h = be32(p + 4);
    if (t < ES_MIN)
        return fail(d, "event-stream total length %lu is below the %lu-byte minimum",
                    (unsigned long)t, (unsigned long)ES_MIN);
    if (t > AIGW__ES_MAX_MESSAGE_BYTES)
        return fail(d, "event-stream total length %lu is over the %lu-byte limit", (unsigned long)t,
                    (unsigned long)AIGW__ES_MAX_MESSAGE_BYTES);
    if (h > t - ES_MIN)
        return fail(d, "event-stream headers length %lu does not fit a %lu-byte message",
                    (unsigned long)h, (unsigned long)t);
    *total = t;
    *crc = c;
    return AIGW_OK;
}

enum { TYPE_MESSAGE, TYPE_EVENT, TYPE_EXCEPTION, TYPE_CONTENT, N_TYPES };

/* Which of the four type headers a name is, or -1. */
static int type_header(const char *name, size_t len) {
    switch (len) {
    case 11:
        return memcmp(name, ":event-type", 11) == 0 ? TYPE_EVENT : -1;
    case 13:
        if (memcmp(name, ":message-type", 13) == 0)
            return TYPE_MESSAGE;
        if (memcmp(name, ":content-type", 13) == 0)
            return TYPE_CONTENT;
        return -1;
    case 15:
        return memcmp(name, ":exception-type", 15) == 0 ? TYPE_EXCEPTION : -1;
    default:
        return -1;
    }
}

/* Decodes one whole message of `total` bytes at p whose prelude passed
 * check_prelude (crc: the running CRC of its first 8 bytes), and delivers
 * it. */
static aigw_status decode(aigw__es_decoder *d, const unsigned char *p, uint32_t total, uLong crc) {
    /* The message CRC covers everything before it, prelude CRC included. */
    crc = crc32(crc, p + 8, total - 12);
    uint32_t want = be32(p + total - 4);
    if ((uint32_t)crc != want)
        return fail(d, "event-stream message CRC mismatch (computed %08lx, message says %08lx)",
                    (unsigned long)crc, (unsigned long)want);

    uint32_t hlen = be32(p + 4);
    const unsigned char *h = p + ES_PRELUDE;
    const unsigned char *hend = h + hlen;
    size_t n = 0;
    int type_idx[N_TYPES] = {-1, -1, -1, -1};
    while (h < hend) {
        size_t off = (size_t)(h - (p + ES_PRELUDE));
        if (n == AIGW__ES_MAX_HEADERS)
            return fail(d, "event-stream message has more than %lu headers (at header byte %lu)",
                        (unsigned long)AIGW__ES_MAX_HEADERS, (unsigned long)off);
        size_t name_len = *h++;
        if (name_len == 0)
            return fail(d, "event-stream header %lu has an empty name (at header byte %lu)",
                        (unsigned long)n, (unsigned long)off);
        /* name and the value type byte */
        if ((size_t)(hend - h) < name_len + 1)
            return fail(d, "event-stream header %lu runs past the headers (at header byte %lu)",
                        (unsigned long)n, (unsigned long)off);
        aigw__es_header *x = &d->headers[n];
        x->name = (const char *)h;
        x->name_len = name_len;
        h += name_len;
        x->type = *h++;
        x->value = NULL;
        x->value_len = 0;
        x->number = 0;
        size_t room = (size_t)(hend - h), need;
        switch (x->type) {
        case AIGW__ES_BOOL_TRUE:
        case AIGW__ES_BOOL_FALSE:
            need = 0;
            x->number = x->type == AIGW__ES_BOOL_TRUE;
            break;
        case AIGW__ES_BYTE:
            need = 1;
            if (room >= need)
                x->number = (int8_t)h[0];
            break;
        case AIGW__ES_SHORT:
            need = 2;
            if (room >= need)
                x->number = (int16_t)be16(h);
            break;
        case AIGW__ES_INT:
            need = 4;
            if (room >= need)
                x->number = (int32_t)be32(h);
            break;
        case AIGW__ES_LONG:
        case AIGW__ES_TIMESTAMP:
            need = 8;
            if (room >= need)
                x->number = (int64_t)be64(h);
            break;
        case AIGW__ES_BYTES:
        case AIGW__ES_STRING:
            if (room < 2)
                return fail(d, "event-stream header %lu runs past the headers (at header byte %lu)",
                            (unsigned long)n, (unsigned long)off);
            x->value_len = be16(h);
            h += 2;
            room -= 2;
            need = x->value_len;
            x->value = (const char *)h;
            break;
        case AIGW__ES_UUID:
            need = 16;
            x->value = (const char *)h;
            x->value_len = 16;
            break;
        default:
            return fail(d, "event-stream header %lu has unknown value type %lu", (unsigned long)n,
                        (unsigned long)x->type);
        }
        if (room < need)
            return fail(d, "event-stream header %lu runs past the headers (at header byte %lu)",
                        (unsigned long)n, (unsigned long)off);
        h += need;
        if (x->type == AIGW__ES_STRING) {
            int t = type_header(x->name, x->name_len);
            if (t >= 0)
                type_idx[t] = (int)n; /* the last one wins */
        }
        n++;
    }

    /* NUL-terminated copies of the four type strings. */
    size_t scratch_len = N_TYPES;
    for (int t = 0; t < N_TYPES; t++)
        if (type_idx[t] >= 0)
            scratch_len += d->headers[type_idx[t]].value_len;
    char *scratch = d->scratch;
    if (scratch_len > sizeof d->scratch) {
        d->big_scratch.len = 0;
        if (aigw__buf_reserve(&d->big_scratch, scratch_len))
            return AIGW_ENOMEM;
        scratch = d->big_scratch.data;
    }
    const char *strs[N_TYPES];
    char *w = scratch;
    for (int t = 0; t < N_TYPES; t++) {
        strs[t] = w;
        if (type_idx[t] >= 0) {
            const aigw__es_header *x = &d->headers[type_idx[t]];
            memcpy(w, x->value, x->value_len);
            w += x->value_len;
        }
        *w++ = '\0';
    }

    aigw__es_message msg;
    msg.headers = d->headers;
    msg.n_headers = n;
    msg.payload = (const char *)hend;
    msg.payload_len = total - ES_MIN - hlen;
    msg.message_type = strs[TYPE_MESSAGE];
    msg.event_type = strs[TYPE_EVENT];
    msg.exception_type = strs[TYPE_EXCEPTION];
    msg.content_type = strs[TYPE_CONTENT];
    if (d->cb && d->cb(&msg, d->user))
        return AIGW_ESTOPPED;
    return AIGW_OK;
}

/* Adds bytes to the pending message; once its prelude is complete, checks
 * it and reserves room for the whole message. Sets *done when the message
 * is complete (and then decodes it). Returns how many bytes it took in
 * *used. */
static aigw_status feed_pending(aigw__es_decoder *d, const char *s, size_t len, size_t *used) {
    aigw__buf *b = &d->pending;
    size_t take = 0;
    *used = 0;
    if (b->len < ES_PRELUDE) {
        take = ES_PRELUDE - b->len;
        if (take > len)
            take = len;
        aigw_status st = aigw__buf_append(b, s, take);
        if (st)
            return st;
        *used = take;
        if (b->len < ES_PRELUDE)
            return AIGW_OK;
        uint32_t total;
        uLong crc;
        st = check_prelude(d, (const unsigned char *)b->data, &total, &crc);
        if (st)
            return st;
        st = aigw__buf_reserve(b, total - b->len);
        if (st)
            return st;
        d->pending_total = total;
    }
    size_t more = d->pending_total - b->len;
    if (more > len - take)
        more = len - take;
    memcpy(b->data + b->len, s + take, more); /* room was reserved */
    b->len += more;
    b->data[b->len] = '\0';
    *used = take + more;
    if (b->len < d->pending_total)
        return AIGW_OK;
    uint32_t total = (uint32_t)d->pending_total;
    uLong crc = crc32(0L, (const unsigned char *)b->data, 8);
    /* The message is taken off pending before the callback runs. */
    b->len = 0;
    d->pending_total = 0;
    return decode(d, (const unsigned char *)b->data, total, crc);
}

aigw_status aigw__es_feed(aigw__es_decoder *d, const char *bytes, size_t len) {
    if (d->error)
        return d->error;
    if (len == 0)
        return AIGW_OK;
    aigw_status st = AIGW_OK;
    const char *s = bytes;
    const char *end = bytes + len;

    if (d->pending.len) {
        size_t used;
        st = feed_pending(d, s, len, &used);
        s += used;
        if (st || d->pending.len)
            goto out;
    }

    while ((size_t)(end - s) >= ES_PRELUDE) {
        const unsigned char *p = (const unsigned char *)s;
        uint32_t total;
        uLong crc;
        st = check_prelude(d, p, &total, &crc);
        if (st)
            goto out;
        if ((size_t)(end - s) < total) {
            /* The rest of the feed starts a message: keep it, with room for
             * all of it. */
            st = aigw__buf_reserve(&d->pending, total);
            if (st)
                goto out;
            memcpy(d->pending.data, s, (size_t)(end - s));
            d->pending.len = (size_t)(end - s);
            d->pending.data[d->pending.len] = '\0';
            d->pending_total = total;
            s = end;
            break;
        }
        st = decode(d, p, total, crc);
        if (st)
            goto out;
        s += total;
    }
    if (s < end)
        st = aigw__buf_append(&d->pending, s, (size_t)(end - s)); /* under 12 bytes */

out:
    if (st)
        d->error = st;
    return st;
}

int aigw__es_finish(aigw__es_decoder *d) {
    int truncated = !d->error && d->pending.len > 0;
    d->pending.len = 0;
    d->pending_total = 0;
    return truncated;
}
