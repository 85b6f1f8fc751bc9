/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming decoder for AWS's binary event-stream framing
 * (application/vnd.amazon.eventstream), as Bedrock's ConverseStream and
 * InvokeModelWithResponseStream answer:
 *
 *   total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (u32 BE)
 *   headers | payload | message CRC32 (u32 BE)
 *
 * Both CRCs (CRC-32/IEEE, as zlib's crc32) are checked. Each header is
 * name length (u8), name, value type (u8), value (bool true 0 / false 1 carry
 * no bytes; byte 2: 1; short 3: 2; int 4: 4; long 5: 8; byte array 6 and
 * string 7: u16 BE length + bytes; timestamp 8: 8; uuid 9: 16). Input may
 * be split at any byte: one byte at a time gives the same messages. */
#ifndef AIGW_WIRE_EVENTSTREAM_H
#define AIGW_WIRE_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "aigw/status.h"
#include "core/buf.h"

/* The largest message accepted (AWS's own limit is 16 MiB). */
#define AIGW__ES_MAX_MESSAGE_BYTES (16u * 1024u * 1024u)
/* Headers beyond this many in one message are refused. */
#define AIGW__ES_MAX_HEADERS 64

enum aigw__es_value_type {
    AIGW__ES_BOOL_TRUE = 0,
    AIGW__ES_BOOL_FALSE = 1,
    AIGW__ES_BYTE = 2,
    AIGW__ES_SHORT = 3,
    AIGW__ES_INT = 4,
    AIGW__ES_LONG = 5,
    AIGW__ES_BYTES = 6,
    AIGW__ES_STRING = 7,
    AIGW__ES_TIMESTAMP = 8,
    AIGW__ES_UUID = 9,
};

typedef struct aigw__es_header {
    const char *name; /* not NUL-terminated */
    size_t name_len;
    uint8_t type;      /* enum aigw__es_value_type */
    const char *value; /* BYTES, STRING, UUID: the raw bytes (not NUL-terminated) */
    size_t value_len;
    int64_t number; /* BOOL (1/0), BYTE, SHORT, INT, LONG, TIMESTAMP (ms) */
} aigw__es_header;

/* One decoded message; every pointer is valid only during the callback. */
typedef struct aigw__es_message {
    const aigw__es_header *headers;
    size_t n_headers;
    const char *payload;
    size_t payload_len;
    /* The string values of ":message-type", ":event-type",
     * ":exception-type" and ":content-type", NUL-terminated; "" if absent. */
    const char *message_type;
    const char *event_type;
    const char *exception_type;
    const char *content_type;
} aigw__es_message;

/* Return 0 to go on; non-zero stops and aigw__es_feed returns AIGW_ESTOPPED. */
typedef int (*aigw__es_message_cb)(const aigw__es_message *msg, void *user);

typedef struct aigw__es_decoder {
    aigw__es_message_cb cb;
    void *user;
    aigw__buf pending; /* bytes of an unfinished message */
    aigw_status error; /* sticky: once set, every feed returns it */
    char detail[128];  /* what was wrong, for the error message */
    /* private */
    size_t pending_total; /* total length of the pending message, 0 until its prelude is in */
    aigw__es_header headers[AIGW__ES_MAX_HEADERS]; /* the current message's headers */
    char scratch[256];     /* the four NUL-terminated type strings, when they fit */
    aigw__buf big_scratch; /* ... and when they do not */
} aigw__es_decoder;

void aigw__es_init(aigw__es_decoder *d, aigw__es_message_cb cb, void *user);
/* Decodes the next `len` bytes: AIGW_OK, AIGW_ESTOPPED, AIGW_ENOMEM, or
 * AIGW_EBADRESPONSE for a bad CRC, length, header or type (the reason is in
 * d->detail). Errors are sticky (a stop too: every later feed returns
 * AIGW_ESTOPPED). Messages are delivered from inside this call, in order,
 * as soon as their last byte arrives; a message that lies whole inside
 * `bytes` is decoded in place, only an unfinished tail is copied. The
 * prelude is checked (CRC, then lengths) as soon as its 12 bytes are in,
 * before the rest of the message arrives. The callback must not feed, finish
 * or free the same decoder. */
aigw_status aigw__es_feed(aigw__es_decoder *d, const char *bytes, size_t len);
/* End of input: 1 if an unfinished message was pending (a cut stream), and
 * discards it, so a second call returns 0. Returns 0 once a feed failed or
 * was stopped (that feed already said so). */
int aigw__es_finish(aigw__es_decoder *d);
void aigw__es_free(aigw__es_decoder *d);

#endif
