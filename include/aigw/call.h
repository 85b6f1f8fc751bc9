/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — calls with options: who is calling (for budgets and logs),
 * the request's headers (for routes that match on them), and what the call
 * did (which backend answered, after how many attempts, and the tightest
 * budget's state for rate-limit headers).
 *
 * aigw_chat(), aigw_chat_stream() and aigw_embed() are aigw_call() with no
 * options. Every function here is safe to call from many threads on one
 * client. */
#ifndef AIGW_CALL_H
#define AIGW_CALL_H

#include <stddef.h>

#include "chat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aigw_op {
    AIGW_OP_CHAT = 0,        /* POST /chat/completions, whole response */
    AIGW_OP_CHAT_STREAM = 1, /* the same, streamed in chunks */
    AIGW_OP_EMBED = 2,       /* POST /embeddings */
} aigw_op;

/* A request header: routes may match on it ("match": {"headers": {...}}).
 * Names compare case-insensitively. */
typedef struct aigw_header {
    const char *name;
    const char *value;
} aigw_header;

/* The state of one budget's counter. Amounts are in the budget's cost units
 * (tokens, or dollars for a price table). */
typedef struct aigw_ratelimit {
    int known;                  /* 0: no budget applied to the call */
    char budget[64];            /* its name (truncated) */
    double limit;               /* capacity (token bucket) or max (window) */
    double remaining;           /* after this call's reservation; may be < 0 */
    double reset_seconds;       /* until full again, or until the window ends */
    double retry_after_seconds; /* when the budget refused the call: when to
                                   retry (-1: the request can never fit) */
} aigw_ratelimit;

/* What a call did; filled by the library. */
typedef struct aigw_call_info {
    aigw_ratelimit ratelimit; /* the tightest budget (least share left) */
    char backend[64];         /* the backend that answered or failed last; "" if none */
    char model[128];          /* the model name sent to it */
    unsigned attempts;        /* upstream attempts made (0: refused before any) */
    long long input_tokens;   /* the usage the call was settled with; -1 unknown */
    long long output_tokens;
} aigw_call_info;

#define AIGW_CALL_OPTIONS_VERSION 1

typedef struct aigw_call_options {
    unsigned int version; /* AIGW_CALL_OPTIONS_VERSION */
    /* The caller's identity, for budget scopes and logs; NULL: unknown. */
    const char *key;            /* e.g. the gateway key's name */
    const char *team;           /* e.g. the gateway key's team */
    const char *user;           /* NULL: the request's "user" field, if any */
    const aigw_header *headers; /* route matching; may be NULL */
    size_t n_headers;
    /* Filled when the call ends (and, for streams and async calls, before
     * the first chunk is delivered); may be NULL. An async call's info must
     * stay valid until its done callback has run. */
    aigw_call_info *info;
} aigw_call_options;

#define AIGW_CALL_OPTIONS_INIT                                                                     \
    { AIGW_CALL_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL }

/* One call of kind `op`. AIGW_OP_CHAT_STREAM delivers chunks to on_chunk
 * (required) and leaves response_json alone (may be NULL); the other ops
 * need response_json, ignore on_chunk, and set *response_json to text the
 * caller frees with aigw_free(). opts may be NULL.
 *
 * With "routes" in the config, the route matching the model (and headers)
 * picks the backends; failures are retried and fall back as the route says
 * (a stream only before its first chunk reached on_chunk), and the final
 * error names every attempt. With "budgets", the call's estimate is
 * reserved in every budget that applies before any upstream request;
 * AIGW_EBUDGET (HTTP 429) names the budget that refused, with
 * info->ratelimit.retry_after_seconds. The reservation is settled with the
 * real usage when the call ends (refunded when it failed). */
AIGW_EXTERN aigw_status aigw_call(aigw_client *client, aigw_op op, const char *request_json,
                                  const aigw_call_options *opts, aigw_chunk_cb on_chunk, void *user,
                                  char **response_json, aigw_error **err);

/* Every budget's state as JSON, from the budget store (memory or Redis):
 *   {"store": "memory"|"redis",
 *    "budgets": [{"name", "limit": {...as configured...}, "scope": {...},
 *                 "counters": [{"instance": "team=search" | "",
 *                               "limit", "remaining", "reset_seconds"}]}]}
 * A budget scoped per value ("*") lists each value seen so far (in memory)
 * or stored (Redis); an unscoped one its single counter, also before first
 * use. The caller frees *json with aigw_free(). AIGW_ECONNECT (etc.) when
 * Redis cannot be read. */
AIGW_EXTERN aigw_status aigw_budget_status(aigw_client *client, char **json, aigw_error **err);

/* Validates a config file as aigw_client_new_from_file() and
 * aigw_server_start() would, without sending anything: AIGW_OK, or
 * AIGW_ECONFIG (AIGW_EIO for an unreadable file) whose message names the
 * JSON path and the reason, e.g.
 * `routes[2].backends[0]: unknown backend "azur"`. */
AIGW_EXTERN aigw_status aigw_config_check(const char *path, aigw_error **err);

#ifdef __cplusplus
}
#endif

#endif
