/* SPDX-License-Identifier: Apache-2.0 */
/* The accountant: cost estimates, reservation in every matching budget,
 * settlement with the real usage. */
#include "account/accountant.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

/* The counters /metrics shows, in slots that threads take round-robin:
 * with one set shared, every reserve and settle of every thread wrote one
 * cache line that the others also read the accountant's fields from.
 * Padded so that no two slots, nor the fields above them, share a 64-byte
 * line whatever the allocation's alignment. Reads add the slots up. */
#define COUNTER_SLOTS 16

typedef struct counter_slot {
    _Atomic unsigned long long admitted, refused, settled, unknown_usage, errors_open,
        errors_closed;
    char pad[128 - 6 * sizeof(unsigned long long)];
} counter_slot;

struct aigw__accountant {
    aigw__budget_set *budgets;
    aigw__store *store;
    aigw__clock_fn clock;
    void *clock_user;
    long long default_max_tokens;
    aigw__logger logger;
    char pad[64];
    counter_slot slots[COUNTER_SLOTS];
};

/* This thread's slot (the same index in every accountant). */
static counter_slot *my_slot(aigw__accountant *acc) {
    static _Thread_local unsigned index; /* 0: none yet, else slot + 1 */
    static atomic_uint next_index;
    if (!index)
        index = atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed) % COUNTER_SLOTS + 1;
    return &acc->slots[index - 1];
}

#define COUNT(acc, field) atomic_fetch_add_explicit(&my_slot(acc)->field, 1, memory_order_relaxed)

static int64_t realtime_ns(void *user) {
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

aigw_status aigw__accountant_new(aigw__budget_set *budgets, aigw__store *store,
                                 aigw__accountant **out, aigw_error **err) {
    *out = NULL;
    aigw__accountant *acc = aigw__calloc(1, sizeof *acc);
    if (!acc) {
        aigw__budgets_free(budgets);
        aigw__store_free(store);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    acc->budgets = budgets;
    acc->store = store;
    acc->clock = realtime_ns;
    acc->default_max_tokens = 4096;
    *out = acc;
    return AIGW_OK;
}

void aigw__accountant_free(aigw__accountant *acc) {
    if (!acc)
        return;
    aigw__store_free(acc->store);
    aigw__budgets_free(acc->budgets);
    aigw__free(acc);
}

void aigw__accountant_set_clock(aigw__accountant *acc, aigw__clock_fn fn, void *user) {
    acc->clock = fn ? fn : realtime_ns;
    acc->clock_user = user;
}

void aigw__accountant_set_default_max_tokens(aigw__accountant *acc, long long n) {
    acc->default_max_tokens = n >= 0 ? n : 0;
}

void aigw__accountant_set_logger(aigw__accountant *acc, const aigw__logger *logger) {
    if (logger)
        acc->logger = *logger;
    else
        memset(&acc->logger, 0, sizeof acc->logger);
}

const aigw__budget_set *aigw__accountant_budgets(const aigw__accountant *acc) {
    return acc->budgets;
}

aigw__store *aigw__accountant_store(const aigw__accountant *acc) {
    return acc->store;
}

/* ---- estimate ---- */

static size_t text_chars(json_object *v) {
    if (!v)
        return 0;
    if (json_object_is_type(v, json_type_string))
        return (size_t)json_object_get_string_len(v);
    size_t n = 0;
    if (json_object_is_type(v, json_type_array)) {
        size_t len = json_object_array_length(v);
        for (size_t i = 0; i < len; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (json_object_is_type(e, json_type_object))
                n += text_chars(aigw__json_get(e, "text"));
            else if (json_object_is_type(e, json_type_string))
                n += text_chars(e);
            else if (json_object_is_type(e, json_type_array) ||
                     json_object_is_type(e, json_type_int))
                n += 4; /* token arrays: about a token per entry */
        }
    }
    return n;
}

void aigw__accountant_estimate(const aigw__accountant *acc, json_object *request,
                               aigw__usage *out) {
    size_t chars = 0, overhead = 0;
    json_object *messages = aigw__json_get(request, "messages");
    if (messages && json_object_is_type(messages, json_type_array)) {
        size_t n = json_object_array_length(messages);
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_array_get_idx(messages, i);
            chars += text_chars(aigw__json_get(m, "content"));
            json_object *calls = aigw__json_get(m, "tool_calls");
            if (calls)
                chars += strlen(json_object_to_json_string_ext(calls, AIGW__JSON_FLAGS));
            overhead += 4;
        }
    }
    json_object *tools = aigw__json_get(request, "tools");
    if (tools)
        chars += strlen(json_object_to_json_string_ext(tools, AIGW__JSON_FLAGS));
    chars += text_chars(aigw__json_get(request, "input"));  /* embeddings */
    chars += text_chars(aigw__json_get(request, "prompt")); /* completions */
    long long in = (long long)((chars + 3) / 4 + overhead);
    long long max = aigw__json_get_ll(request, "max_completion_tokens");
    if (max < 0)
        max = aigw__json_get_ll(request, "max_tokens");
    if (max < 0)
        max = aigw__json_get(request, "input") && !messages ? 0 : acc->default_max_tokens;
    out->input_tokens = in;
    out->cached_input_tokens = 0;
    out->output_tokens = max;
    out->reasoning_tokens = 0;
    out->total_tokens = aigw__tokens_add(in, max);
}

/* ---- reserve and settle ---- */

static int has_price(const aigw__budget *b, const char *model) {
    if (b->expr)
        return 1;
    for (size_t i = 0; i < b->n_prices; i++)
        if (!strcmp(b->prices[i].model, "*") || (model && !strcmp(b->prices[i].model, model)))
            return 1;
    return 0;
}

static void ticket_release(aigw__ticket *t) {
    if (t->strings && t->strings != t->inline_strings)
        aigw__free(t->strings);
    t->strings = NULL;
    t->model = NULL;
    t->n = 0;
    t->active = 0;
}

/* Reserves in the budgets matching id; with required >= 0 only in those
 * whose scope constrains that dimension. */
static aigw_status reserve(aigw__accountant *acc, const aigw__identity *id, int required,
                           const aigw__usage *estimate, aigw__ticket *t,
                           aigw__account_refusal *refusal, aigw_error **err) {
    const char *model = id->v[AIGW__SCOPE_MODEL];
    size_t lens[AIGW__STORE_MAX_KEYS];
    const aigw__budget *match[AIGW__STORE_MAX_KEYS];
    size_t n = 0, total = model ? strlen(model) + 1 : 0;
    t->n = 0;
    t->active = 0;
    t->strings = NULL;
    t->model = NULL;
    t->estimate = *estimate;
    for (size_t i = 0; i < acc->budgets->n; i++) {
        const aigw__budget *b = &acc->budgets->items[i];
        if (required >= 0 && b->scope[required].mode == AIGW__SCOPE_ANY)
            continue;
        if (!has_price(b, model))
            continue;
        size_t len = aigw__budget_match(b, id, NULL, 0);
        if (!len)
            continue;
        if (n == AIGW__STORE_MAX_KEYS)
            return aigw__error_set(err, AIGW_ECONFIG, "more than %d budgets apply to one request",
                                   AIGW__STORE_MAX_KEYS);
        lens[n] = len;
        match[n++] = b;
        total += len;
    }
    if (total <= sizeof t->inline_strings) {
        t->strings = t->inline_strings;
    } else if (!(t->strings = aigw__malloc(total))) {
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    char *p = t->strings;
    if (model) {
        memcpy(p, model, strlen(model) + 1);
        t->model = p;
        p += strlen(model) + 1;
    }
    int64_t amounts[AIGW__STORE_MAX_KEYS];
    for (size_t i = 0; i < n; i++) {
        aigw__budget_match(match[i], id, p, lens[i]);
        t->keys[i] = (aigw__store_key){match[i], p};
        p += lens[i];
        amounts[i] = aigw__budget_cost(match[i], model, estimate, NULL);
    }
    t->n = n;
    if (!n) {
        t->active = 1;
        COUNT(acc, admitted);
        return AIGW_OK;
    }
    aigw__refusal r = {0};
    aigw_status st = aigw__store_reserve(acc->store, t->keys, amounts, n,
                                         acc->clock(acc->clock_user), t->holds, &r, err);
    if (st == AIGW_OK) {
        for (size_t i = 0; i < n; i++) {
            if (t->holds[i].skipped) {
                COUNT(acc, errors_open);
                aigw__log(&acc->logger, AIGW_LOG_WARN,
                          "budget \"%s\": %s; admitting unmetered (on_store_error: fail_open)",
                          match[i]->name, r.why[0] ? r.why : "store unreachable");
            }
        }
        t->active = 1;
        COUNT(acc, admitted);
        return AIGW_OK;
    }
    ticket_release(t);
    if (st != AIGW_ERATELIMIT)
        return st;
    COUNT(acc, refused);
    const aigw__budget *b = match[r.index < n ? r.index : 0];
    long retry = r.retry_after < 0 ? -1 : (long)ceil(r.retry_after);
    if (retry == 0)
        retry = 1;
    if (refusal)
        *refusal = (aigw__account_refusal){b->name, retry, r.store_error};
    if (r.store_error) {
        COUNT(acc, errors_closed);
        aigw__log(&acc->logger, AIGW_LOG_ERROR,
                  "budget \"%s\": %s; refusing (on_store_error: fail_closed)", b->name,
                  r.why[0] ? r.why : "store unreachable");
        return aigw__error_set(err, AIGW_EBUDGET,
                               "budget \"%s\" cannot be checked (its store is unreachable); "
                               "retry after %ld s",
                               b->name, retry);
    }
    aigw__log(&acc->logger, AIGW_LOG_INFO, "budget \"%s\" exhausted; refused a request", b->name);
    int64_t limit = b->type == AIGW__LIMIT_BUCKET ? b->capacity : b->max;
    if (retry < 0 && amounts[r.index] <= limit)
        return aigw__error_set(err, AIGW_EBUDGET,
                               "budget \"%s\" exhausted; it does not refill (in-flight requests "
                               "may still give back what they do not use)",
                               b->name);
    if (retry < 0)
        return aigw__error_set(err, AIGW_EBUDGET,
                               "budget \"%s\": this request's estimated cost (%.6g) is more than "
                               "the budget's limit (%.6g)",
                               b->name, (double)amounts[r.index] / AIGW__MICRO,
                               (double)(b->type == AIGW__LIMIT_BUCKET ? b->capacity : b->max) /
                                   AIGW__MICRO);
    return aigw__error_set(err, AIGW_EBUDGET, "budget \"%s\" exhausted; retry after %ld s", b->name,
                           retry);
}

aigw_status aigw__accountant_reserve(aigw__accountant *acc, const aigw__identity *id,
                                     const aigw__usage *estimate, aigw__ticket *t,
                                     aigw__account_refusal *refusal, aigw_error **err) {
    return reserve(acc, id, -1, estimate, t, refusal, err);
}

aigw_status aigw__accountant_reserve_scoped(aigw__accountant *acc, const aigw__identity *id,
                                            aigw__scope_dim dim, const aigw__usage *estimate,
                                            aigw__ticket *t, aigw__account_refusal *refusal,
                                            aigw_error **err) {
    return reserve(acc, id, (int)dim, estimate, t, refusal, err);
}

int aigw__accountant_has_scoped(const aigw__accountant *acc, aigw__scope_dim dim) {
    for (size_t i = 0; i < acc->budgets->n; i++)
        if (acc->budgets->items[i].scope[dim].mode != AIGW__SCOPE_ANY)
            return 1;
    return 0;
}

static long long pick(long long actual, long long est) {
    return actual >= 0 ? actual : est;
}

aigw_status aigw__accountant_settle(aigw__accountant *acc, aigw__ticket *t,
                                    const aigw__usage *actual, aigw_error **err) {
    if (!t->active)
        return AIGW_OK;
    aigw_status st = AIGW_OK;
    if (t->n) {
        int64_t amounts[AIGW__STORE_MAX_KEYS];
        aigw__usage u = {0, 0, 0, 0, 0};
        if (actual) {
            const aigw__usage *e = &t->estimate;
            if (actual->input_tokens < 0 || actual->output_tokens < 0)
                COUNT(acc, unknown_usage);
            u.input_tokens = pick(actual->input_tokens, e->input_tokens);
            u.cached_input_tokens = pick(actual->cached_input_tokens, 0);
            u.output_tokens = pick(actual->output_tokens, e->output_tokens);
            u.reasoning_tokens = pick(actual->reasoning_tokens, 0);
            u.total_tokens = actual->total_tokens >= 0
                                 ? actual->total_tokens
                                 : aigw__tokens_add(u.input_tokens, u.output_tokens);
        }
        for (size_t i = 0; i < t->n; i++)
            amounts[i] = actual ? aigw__budget_cost(t->keys[i].budget, t->model, &u, NULL) : 0;
        aigw_error *local = NULL;
        st = aigw__store_settle(acc->store, t->keys, t->holds, amounts, t->n,
                                acc->clock(acc->clock_user), &local);
        if (st) /* the store's own words: it names itself, never "the upstream" */
            aigw__log(&acc->logger, AIGW_LOG_WARN, "budget settle: %s",
                      local ? aigw_error_message(local) : aigw_strerror(st));
        if (err && !*err)
            *err = local;
        else
            aigw_error_free(local);
    }
    COUNT(acc, settled);
    ticket_release(t);
    return st;
}

int aigw__accountant_tightest(aigw__accountant *acc, const aigw__ticket *t, const char **name,
                              aigw__budget_status *out) {
    int found = 0;
    double best = 0;
    int64_t now = acc->clock(acc->clock_user);
    *name = NULL;
    for (size_t i = 0; i < t->n; i++) {
        aigw__budget_status s;
        const aigw__budget *b = t->keys[i].budget;
        if (t->holds[i].skipped)
            continue;
        if (t->holds[i].has_remaining) { /* as the reservation left it: no query */
            s.remaining = t->holds[i].remaining;
            if (b->type == AIGW__LIMIT_BUCKET) {
                s.limit = b->capacity;
                s.reset = s.remaining >= b->capacity || b->refill <= 0
                              ? 0
                              : (double)(b->capacity - s.remaining) / (double)b->refill;
            } else {
                int64_t end;
                aigw__window_index(b->per, now, &end);
                s.limit = b->max;
                s.reset = (double)(end - now) / 1e9;
            }
        } else if (aigw__store_status(acc->store, &t->keys[i], now, &s, NULL)) {
            continue;
        }
        double share = s.limit ? (double)s.remaining / (double)s.limit : 0;
        if (!found || share < best) {
            best = share;
            *out = s;
            *name = t->keys[i].budget->name;
            found = 1;
        }
    }
    return found;
}

aigw_status aigw__accountant_status(aigw__accountant *acc, size_t budget, const char *instance,
                                    aigw__budget_status *out, aigw_error **err) {
    if (budget >= acc->budgets->n)
        return aigw__error_set(err, AIGW_EINVAL, "no budget #%zu", budget);
    aigw__store_key k = {&acc->budgets->items[budget], instance ? instance : ""};
    return aigw__store_status(acc->store, &k, acc->clock(acc->clock_user), out, err);
}

void aigw__accountant_adopt_store(aigw__accountant *acc, aigw__accountant *from) {
    if (!acc || !from || !aigw__store_is_memory(acc->store) || !aigw__store_is_memory(from->store))
        return;
    /* the new config's max_counters applies to the counters it goes on with */
    aigw__store_memory_set_max(from->store, aigw__store_memory_max(acc->store));
    aigw__store_free(acc->store);
    acc->store = aigw__store_share(from->store);
}

void aigw__accountant_stats(const aigw__accountant *acc, aigw__account_stats *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < COUNTER_SLOTS; i++) {
        const counter_slot *c = &acc->slots[i];
        out->admitted += atomic_load_explicit(&c->admitted, memory_order_relaxed);
        out->refused += atomic_load_explicit(&c->refused, memory_order_relaxed);
        out->settled += atomic_load_explicit(&c->settled, memory_order_relaxed);
        out->unknown_usage += atomic_load_explicit(&c->unknown_usage, memory_order_relaxed);
        out->store_errors_open += atomic_load_explicit(&c->errors_open, memory_order_relaxed);
        out->store_errors_closed += atomic_load_explicit(&c->errors_closed, memory_order_relaxed);
    }
}
