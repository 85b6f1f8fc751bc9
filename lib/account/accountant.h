/* SPDX-License-Identifier: Apache-2.0 */
/* The accountant: before an upstream call, estimate the request's cost and
 * reserve it in every budget whose scope matches the caller's identity
 * (all or nothing); after the call, settle with the real usage.
 *
 *   aigw__ticket t;
 *   aigw__usage est;
 *   aigw__accountant_estimate(acc, request_json, &est);
 *   st = aigw__accountant_reserve(acc, &identity, &est, &t, &refusal, &err);
 *   if (st == AIGW_EBUDGET) -> 429, Retry-After: refusal.retry_after
 *   ... call upstream ...
 *   aigw__accountant_settle(acc, &t, &call->usage);  // NULL: refund all
 *
 * Unknown usage fields (-1) at settle take the estimate's value, so a
 * provider that reports nothing is charged the reservation, never nothing. */
#ifndef AIGW_ACCOUNT_ACCOUNTANT_H
#define AIGW_ACCOUNT_ACCOUNTANT_H

#include <json-c/json.h>

#include "account/budget.h"
#include "account/store.h"
#include "core/log.h"

typedef struct aigw__accountant aigw__accountant;

/* Nanoseconds since the Unix epoch; replaceable for tests. */
typedef int64_t (*aigw__clock_fn)(void *user);

/* A request's reservation, owned by the caller (on its stack or in the
 * call). Released by settle. */
typedef struct aigw__ticket {
    size_t n;
    aigw__store_key keys[AIGW__STORE_MAX_KEYS];
    aigw__hold holds[AIGW__STORE_MAX_KEYS];
    aigw__usage estimate;
    char *model;   /* for price tables at settle; inside strings */
    char *strings; /* instance keys and model, one block */
    char inline_strings[128];
    int active;
} aigw__ticket;

/* Why reserve refused. */
typedef struct aigw__account_refusal {
    const char *budget; /* name, owned by the accountant */
    long retry_after;   /* whole seconds (>= 1); -1 = never fits */
    int store_error;    /* refused because the store failed closed */
} aigw__account_refusal;

/* Takes ownership of budgets and store (also on failure). */
aigw_status aigw__accountant_new(aigw__budget_set *budgets, aigw__store *store,
                                 aigw__accountant **out, aigw_error **err);
void aigw__accountant_free(aigw__accountant *acc);

void aigw__accountant_set_clock(aigw__accountant *acc, aigw__clock_fn fn, void *user);
/* Output tokens assumed when a request sets neither max_tokens nor
 * max_completion_tokens (default 4096). */
void aigw__accountant_set_default_max_tokens(aigw__accountant *acc, long long n);
/* Where refusals and store failures are logged (copied; may be NULL). */
void aigw__accountant_set_logger(aigw__accountant *acc, const aigw__logger *logger);

const aigw__budget_set *aigw__accountant_budgets(const aigw__accountant *acc);
aigw__store *aigw__accountant_store(const aigw__accountant *acc);

/* Estimates a chat or embeddings request's usage before the call: prompt
 * text characters / 4 (rounded up) plus 4 tokens a message as input;
 * max_completion_tokens, else max_tokens, else the default as output. */
void aigw__accountant_estimate(const aigw__accountant *acc, json_object *request, aigw__usage *out);

/* Reserves estimate's cost in every matching budget. AIGW_OK (t active, even
 * when no budget applied), AIGW_EBUDGET with *refusal and an error
 * naming the budget, or another failure (store, memory). */
aigw_status aigw__accountant_reserve(aigw__accountant *acc, const aigw__identity *id,
                                     const aigw__usage *estimate, aigw__ticket *t,
                                     aigw__account_refusal *refusal, aigw_error **err);

/* As reserve, but only in the matching budgets whose scope constrains `dim`
 * (e.g. AIGW__SCOPE_BACKEND: reserved per upstream attempt, once the
 * backend is known; the call-level reservation, made with that member
 * NULL, never matches them). */
aigw_status aigw__accountant_reserve_scoped(aigw__accountant *acc, const aigw__identity *id,
                                            aigw__scope_dim dim, const aigw__usage *estimate,
                                            aigw__ticket *t, aigw__account_refusal *refusal,
                                            aigw_error **err);

/* Whether any budget's scope constrains `dim`. */
int aigw__accountant_has_scoped(const aigw__accountant *acc, aigw__scope_dim dim);

/* Settles t with the real usage (NULL: the call failed, refund all) and
 * releases it. Safe on an inactive ticket. */
aigw_status aigw__accountant_settle(aigw__accountant *acc, aigw__ticket *t,
                                    const aigw__usage *actual, aigw_error **err);

/* The tightest budget of t (least remaining share of its limit), for the
 * x-ratelimit-*-tokens headers. 0 and *name NULL when none applied. */
int aigw__accountant_tightest(aigw__accountant *acc, const aigw__ticket *t, const char **name,
                              aigw__budget_status *out);

/* The state of one budget's counter (instance "" for unscoped ones). */
aigw_status aigw__accountant_status(aigw__accountant *acc, size_t budget, const char *instance,
                                    aigw__budget_status *out, aigw_error **err);

/* Makes acc count in from's in-memory store (shared from then on), so that
 * a new config goes on with the old counters; nothing when either store is
 * not in memory (Redis keeps its counters by itself). */
void aigw__accountant_adopt_store(aigw__accountant *acc, aigw__accountant *from);

/* Counters for metrics. */
typedef struct aigw__account_stats {
    unsigned long long admitted, refused, settled, unknown_usage, store_errors_open,
        store_errors_closed;
} aigw__account_stats;
void aigw__accountant_stats(const aigw__accountant *acc, aigw__account_stats *out);

#endif
