/* SPDX-License-Identifier: Apache-2.0 */
/* Budgets from the config: who they apply to (scope), what a request costs
 * (an expression over usage, or dollars from a per-model price table) and
 * the limit (a token bucket or a fixed UTC-aligned window).
 *
 *   {"name": "team-daily",
 *    "scope": {"team": "*", "model": ["gpt-4o", "gpt-4o-mini"]},
 *    "cost": "input_tokens + 4*output_tokens"
 *          | {"prices": {"gpt-4o": {"input": 2.5, "output": 10, "cached": 1.25},
 *                        "*": {...}}},               (dollars per 1M tokens)
 *    "limit": {"type": "token_bucket", "capacity": N, "refill_per_second": R}
 *           | {"type": "window", "per": "minute|hour|day|month", "max": N},
 *    "on_store_error": "fail_open" | "fail_closed"}  (default fail_closed)
 *
 * Scope members: a string matches that value only; an array matches any of
 * its strings; "*" matches any present value and gives each distinct value
 * its own counter (per-team, per-user budgets). A budget with no scope, or
 * an empty one, applies to every request with one shared counter.
 *
 * Amounts (costs, capacities, limits) are fixed point: micro-units (1e-6 of
 * a token or a dollar) in int64, so stores add and compare exactly. */
#ifndef AIGW_ACCOUNT_BUDGET_H
#define AIGW_ACCOUNT_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "account/cost_expr.h"
#include "adapters/adapter.h"
#include "aigw/error.h"

#define AIGW__MICRO 1000000LL
/* The largest amount a config may state: 2^53 micro-units, exact in the
 * doubles Redis' Lua uses. */
#define AIGW__AMOUNT_MAX (1LL << 53)

typedef enum aigw__scope_dim {
    AIGW__SCOPE_KEY,
    AIGW__SCOPE_TEAM,
    AIGW__SCOPE_USER,
    AIGW__SCOPE_MODEL,
    AIGW__SCOPE_ROUTE,
    AIGW__SCOPE_BACKEND,
    AIGW__SCOPE_COUNT
} aigw__scope_dim;

extern const char *const aigw__scope_names[AIGW__SCOPE_COUNT];

/* Who a request is: each member NULL when unknown. */
typedef struct aigw__identity {
    const char *v[AIGW__SCOPE_COUNT];
} aigw__identity;

typedef enum { AIGW__SCOPE_ANY = 0, AIGW__SCOPE_MATCH, AIGW__SCOPE_EACH } aigw__scope_mode;

typedef struct aigw__scope_rule {
    aigw__scope_mode mode; /* ANY: not constrained */
    char **values;         /* MATCH: the accepted values */
    size_t n;
} aigw__scope_rule;

typedef enum { AIGW__LIMIT_BUCKET, AIGW__LIMIT_WINDOW } aigw__limit_type;
typedef enum { AIGW__PER_MINUTE, AIGW__PER_HOUR, AIGW__PER_DAY, AIGW__PER_MONTH } aigw__window_per;

typedef struct aigw__price {
    char *model;                  /* "*" = any other model */
    double input, output, cached; /* dollars per 1M tokens */
} aigw__price;

typedef struct aigw__budget {
    char *name;
    size_t index; /* position in the config's array */
    aigw__scope_rule scope[AIGW__SCOPE_COUNT];
    char *cost_json;       /* "cost" as configured (JSON text), for listings */
    aigw__cost_expr *expr; /* or: */
    aigw__price *prices;
    size_t n_prices;
    aigw__limit_type type;
    int64_t capacity;     /* bucket: micro-units */
    int64_t refill;       /* bucket: micro-units per second */
    aigw__window_per per; /* window */
    int64_t max;          /* window: micro-units */
    int fail_open;        /* on_store_error */
} aigw__budget;

typedef struct aigw__budget_set {
    aigw__budget *items;
    size_t n;
} aigw__budget_set;

/* Parses one budget object; `path` names it in errors ("budgets[2]"). */
aigw_status aigw__budget_parse(json_object *obj, const char *path, aigw__budget *out,
                               aigw_error **err);
void aigw__budget_clear(aigw__budget *b);

/* Parses the "budgets" array (NULL or absent = no budgets). Names must be
 * unique. Errors name the JSON path: `budgets[2].limit.per: must be minute,
 * hour, day or month`. */
aigw_status aigw__budgets_parse(json_object *array, aigw__budget_set **out, aigw_error **err);
void aigw__budgets_free(aigw__budget_set *set);

/* Whether b applies to id. When it does and instance is non-NULL, writes
 * the counter's instance key (the "*" members' values, escaped and joined;
 * "" when none) into instance (NUL-terminated, truncated to cap) and
 * returns its full length + 1 (call again with a bigger buffer if larger
 * than cap). Returns 0 when b does not apply. */
size_t aigw__budget_match(const aigw__budget *b, const aigw__identity *id, char *instance,
                          size_t cap);

/* The readable name of one of b's counters: its instance key (from
 * aigw__budget_match) as "team=search,user=bob" in scope order; "" for an
 * unscoped budget. Truncated to cap. */
void aigw__budget_instance_label(const aigw__budget *b, const char *instance, char *out,
                                 size_t cap);

/* The cost of usage u for one request to `model` in micro-units, rounded
 * up; 0 when a price table has neither the model nor "*".
 * *unknown is set when a usage field it needed was unknown. */
int64_t aigw__budget_cost(const aigw__budget *b, const char *model, const aigw__usage *u,
                          int *unknown);

/* Converts a non-negative value to micro-units, rounding up and saturating
 * at AIGW__AMOUNT_MAX. */
int64_t aigw__to_micro(double v);

#endif
