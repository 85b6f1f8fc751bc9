/* SPDX-License-Identifier: Apache-2.0 */
/* What happens around a call's upstream attempts, shared by the
 * synchronous and asynchronous paths: the caller's identity, the route and
 * its attempt plan, budget reservation and settlement, outlier-ejection
 * tickets, the retry decision and the final error naming every attempt.
 *
 *   aigw__policy_begin(&p, ...)            route, plan, reserve budgets
 *   while (!aigw__policy_next(&p, call))   pick a backend (call->backend/model)
 *       st = <one attempt>
 *       wait = aigw__policy_attempt_end(&p, call, st, ...)
 *       if (wait < 0) break; else sleep wait ms
 *   aigw__policy_end(&p, call, st, err)    settle, fill info, final error
 */
#ifndef AIGW_CORE_CALL_POLICY_H
#define AIGW_CORE_CALL_POLICY_H

#include <time.h>

#include "account/accountant.h"
#include "adapters/adapter.h"
#include "aigw/call.h"
#include "core/call_access.h"
#include "core/client_internal.h"
#include "router/health.h"
#include "router/retry.h"
#include "router/routes.h"

#define AIGW__POLICY_INLINE_PLAN 8

typedef struct aigw__call_policy {
    aigw_client *client;
    aigw__identity id;
    char *strings;        /* owned copies of the identity and headers */
    aigw_header *headers; /* owned copies */
    size_t n_headers;
    const char *requested;       /* the model the caller asked for */
    const aigw__route *route;    /* NULL: "provider/model" or the default backend */
    const aigw__backend *direct; /* without a route */
    const char *direct_model;
    const char *route_name; /* route's, or the route a direct request is pinned to, or "direct" */
    aigw__plan_entry *plan;
    aigw__plan_entry plan_inline[AIGW__POLICY_INLINE_PLAN];
    size_t n_plan, next, skipped;
    unsigned attempts, max_attempts;
    aigw__retry_config retry;
    aigw__usage estimate;
    aigw__ticket ticket;         /* the call's budgets */
    aigw__ticket backend_ticket; /* the current attempt's backend-scoped budgets */
    aigw__health_ticket health_ticket;
    const char *health_backend;
    aigw__attempt_log log;
    struct timespec start, attempt_start;
    int delivered;             /* a chunk reached the caller: no more fallback */
    aigw_status budget_status; /* a backend's budget refused (EBUDGET) */
    aigw_error *budget_err;
    aigw_call_info *info;
} aigw__call_policy;

/* Identity (opts, else the request's "user" unless access->user_given),
 * the route and its plan, the estimate. A model no route matches goes to
 * its backend directly only when aigw__direct_allowed(); it then carries
 * the route it is pinned to (aigw__routes_pin: that route's retry and
 * timeouts apply) or the route name "direct", and the model name after the
 * "backend/" prefix for budgets. AIGW_ENOBACKEND when the model cannot be
 * served to this caller (no route, direct access off, outside `access`).
 * On failure *err is set; call aigw__policy_end either way. `access` may
 * be NULL (library calls). */
aigw_status aigw__policy_begin(aigw__call_policy *p, aigw_client *client, aigw__call *call,
                               const aigw_call_options *opts, const aigw__call_access *access,
                               aigw_error **err);

/* The call-level reservation in every budget that applies (AIGW_EBUDGET
 * when one lacks room), and the rate-limit info. May block on a remote
 * store: the async path runs it on the thread pool then. */
aigw_status aigw__policy_reserve(aigw__call_policy *p, aigw_error **err);

/* Whether the budgets live in a remote store (Redis): reserve and settle
 * are network round trips. */
int aigw__policy_store_is_remote(const aigw__call_policy *p);

/* Settles what is reserved (aigw__policy_end does it when not done
 * before); with a remote store it may block. */
void aigw__policy_settle(aigw__call_policy *p, aigw__call *call, aigw_status st);
int aigw__policy_settle_pending(const aigw__call_policy *p);

/* The next attempt's backend into call->backend/model (with its health
 * ticket and backend-scoped budgets): AIGW_OK, or the status to end with
 * (*err set) when no attempt may be made. */
aigw_status aigw__policy_next(aigw__call_policy *p, aigw__call *call, aigw_error **err);

/* Whether aigw__policy_next may block: budgets scoped on backend, in a
 * remote store (each attempt reserves there). The async path runs it on
 * the thread pool then. */
int aigw__policy_next_may_block(const aigw__call_policy *p);

/* The attempt's backend-scoped reservation, settled (charged with the
 * usage, or refunded when st failed before anything reached the caller).
 * aigw__policy_attempt_end does it too; calling it first (on the thread
 * pool, when aigw__policy_attempt_settle_may_block) leaves nothing there
 * that can block. */
void aigw__policy_attempt_settle(aigw__call_policy *p, aigw__call *call, aigw_status st);
int aigw__policy_attempt_settle_may_block(const aigw__call_policy *p);

/* An attempt ended with st (http_status: the upstream's, 0 if none;
 * retry_after_ms: its Retry-After, -1 if none). Returns the milliseconds to
 * wait before the next attempt, or -1 when the call ends with st. On a
 * retry, *err (the attempt's error) is freed. */
long aigw__policy_attempt_end(aigw__call_policy *p, aigw__call *call, aigw_status st,
                              int http_status, long retry_after_ms, aigw_error **err);

/* Settles, fills opts->info and adds the attempt log to a failure's
 * message; logs the call's line. Returns st. */
aigw_status aigw__policy_end(aigw__call_policy *p, aigw__call *call, aigw_status st,
                             aigw_error **err);

/* Frees what begin allocated (end calls it). */
void aigw__policy_free(aigw__call_policy *p);

#endif
