/* SPDX-License-Identifier: Apache-2.0 */
/* Budget config parsing and validation, scope matching and costing. */
#include "account/budget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/json.h"

const char *const aigw__scope_names[AIGW__SCOPE_COUNT] = {"key",   "team",  "user",
                                                          "model", "route", "backend"};

int64_t aigw__to_micro(double v) {
    if (!(v > 0))
        return 0;
    double m = ceil(v * (double)AIGW__MICRO - 1e-6);
    if (m >= (double)AIGW__AMOUNT_MAX)
        return AIGW__AMOUNT_MAX;
    return m < 0 ? 0 : (int64_t)m;
}

static const char *type_name(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    default:
        return "a string";
    }
}

/* Checks that obj has only the keys in allowed (NULL-terminated). */
static aigw_status check_keys(json_object *obj, const char *path, const char *const *allowed,
                              aigw_error **err) {
    return aigw__json_check_key_list(obj, path, allowed, err);
}

/* A positive finite number member, within the amount range. */
static aigw_status get_amount(json_object *obj, const char *path, const char *key, int allow_zero,
                              double *out, aigw_error **err) {
    json_object *v = aigw__json_get(obj, key);
    if (!v)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: missing", path, key);
    if (!aigw__json_is_number(v))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a number, not %s", path, key,
                               type_name(v));
    double d = json_object_get_double(v);
    if (!isfinite(d) || d < 0 || (!allow_zero && d == 0))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be %s", path, key,
                               allow_zero ? "zero or more" : "more than zero");
    if (d * (double)AIGW__MICRO > (double)AIGW__AMOUNT_MAX)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: too large (at most %lld)", path, key,
                               AIGW__AMOUNT_MAX / AIGW__MICRO);
    *out = d;
    return AIGW_OK;
}

static aigw_status parse_scope(json_object *scope, const char *path, aigw__budget *b,
                               aigw_error **err) {
    if (!json_object_is_type(scope, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.scope: must be an object, not %s", path,
                               type_name(scope));
    json_object_object_foreach(scope, k, v) {
        int dim = -1;
        for (int d = 0; d < AIGW__SCOPE_COUNT; d++)
            if (!strcmp(aigw__scope_names[d], k))
                dim = d;
        if (dim < 0) {
            const char *known[AIGW__SCOPE_COUNT + 1] = {0};
            for (int d = 0; d < AIGW__SCOPE_COUNT; d++)
                known[d] = aigw__scope_names[d];
            char sub[512];
            snprintf(sub, sizeof sub, "%s.scope", path);
            return aigw__json_check_key_list(scope, sub, known, err);
        }
        aigw__scope_rule *r = &b->scope[dim];
        if (json_object_is_type(v, json_type_string)) {
            const char *s = json_object_get_string(v);
            if (!strcmp(s, "*")) {
                r->mode = AIGW__SCOPE_EACH;
                continue;
            }
            if (!*s)
                return aigw__error_set(err, AIGW_ECONFIG, "%s.scope.%s: must not be empty", path,
                                       k);
            r->values = aigw__calloc(1, sizeof *r->values);
            if (!r->values || !(r->values[0] = aigw__strdup(s)))
                return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            r->n = 1;
            r->mode = AIGW__SCOPE_MATCH;
        } else if (json_object_is_type(v, json_type_array)) {
            size_t n = json_object_array_length(v);
            if (!n)
                return aigw__error_set(err, AIGW_ECONFIG, "%s.scope.%s: must not be empty", path,
                                       k);
            r->values = aigw__calloc(n, sizeof *r->values);
            if (!r->values)
                return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            r->mode = AIGW__SCOPE_MATCH;
            for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string) || !*json_object_get_string(e) ||
                    !strcmp(json_object_get_string(e), "*"))
                    return aigw__error_set(err, AIGW_ECONFIG,
                                           "%s.scope.%s[%zu]: must be a non-empty string other "
                                           "than \"*\"",
                                           path, k, i);
                if (!(r->values[i] = aigw__strdup(json_object_get_string(e))))
                    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
                r->n = i + 1;
            }
        } else {
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.scope.%s: must be a string, \"*\" or an array of strings, "
                                   "not %s",
                                   path, k, type_name(v));
        }
    }
    return AIGW_OK;
}

static aigw_status parse_prices(json_object *prices, const char *path, aigw__budget *b,
                                aigw_error **err) {
    if (!json_object_is_type(prices, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.cost.prices: must be an object, not %s", path,
                               type_name(prices));
    size_t n = (size_t)json_object_object_length(prices);
    if (!n)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.cost.prices: must name at least one model",
                               path);
    b->prices = aigw__calloc(n, sizeof *b->prices);
    if (!b->prices)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    static const char *const keys[] = {"input", "output", "cached", NULL};
    json_object_object_foreach(prices, model, entry) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s.cost.prices.%s", path, model);
        aigw__price *p = &b->prices[b->n_prices];
        if (!json_object_is_type(entry, json_type_object))
            return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object, not %s", sub,
                                   type_name(entry));
        aigw_status st = check_keys(entry, sub, keys, err);
        if (st)
            return st;
        if ((st = get_amount(entry, sub, "input", 1, &p->input, err)) ||
            (st = get_amount(entry, sub, "output", 1, &p->output, err)))
            return st;
        p->cached = p->input;
        if (aigw__json_get(entry, "cached") &&
            (st = get_amount(entry, sub, "cached", 1, &p->cached, err)))
            return st;
        if (!(p->model = aigw__strdup(model)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        b->n_prices++;
    }
    return AIGW_OK;
}

static aigw_status parse_limit(json_object *limit, const char *path, aigw__budget *b,
                               aigw_error **err) {
    char sub[512];
    snprintf(sub, sizeof sub, "%s.limit", path);
    if (!limit)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing", sub);
    if (!json_object_is_type(limit, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object, not %s", sub,
                               type_name(limit));
    const char *type = aigw__json_get_string(limit, "type");
    if (!type)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"token_bucket\" or \"window\"",
                               sub);
    aigw_status st;
    double d;
    if (!strcmp(type, "token_bucket")) {
        static const char *const keys[] = {"type", "capacity", "refill_per_second", NULL};
        if ((st = check_keys(limit, sub, keys, err)) ||
            (st = get_amount(limit, sub, "capacity", 0, &d, err)))
            return st;
        b->type = AIGW__LIMIT_BUCKET;
        b->capacity = aigw__to_micro(d);
        if ((st = get_amount(limit, sub, "refill_per_second", 1, &d, err)))
            return st;
        b->refill = aigw__to_micro(d);
        return AIGW_OK;
    }
    if (!strcmp(type, "window")) {
        static const char *const keys[] = {"type", "per", "max", NULL};
        if ((st = check_keys(limit, sub, keys, err)))
            return st;
        const char *per = aigw__json_get_string(limit, "per");
        static const char *const pers[] = {"minute", "hour", "day", "month"};
        int found = -1;
        for (int i = 0; per && i < 4; i++)
            if (!strcmp(per, pers[i]))
                found = i;
        if (found < 0)
            return aigw__error_set(err, AIGW_ECONFIG, "%s.per: must be minute, hour, day or month",
                                   sub);
        b->type = AIGW__LIMIT_WINDOW;
        b->per = (aigw__window_per)found;
        if ((st = get_amount(limit, sub, "max", 0, &d, err)))
            return st;
        b->max = aigw__to_micro(d);
        return AIGW_OK;
    }
    return aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"token_bucket\" or \"window\"",
                           sub);
}

aigw_status aigw__budget_parse(json_object *obj, const char *path, aigw__budget *b,
                               aigw_error **err) {
    memset(b, 0, sizeof *b);
    if (!json_object_is_type(obj, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object, not %s", path,
                               type_name(obj));
    static const char *const keys[] = {"name", "scope", "cost", "limit", "on_store_error", NULL};
    aigw_status st = check_keys(obj, path, keys, err);
    if (st)
        return st;
    json_object *name = aigw__json_get(obj, "name");
    if (!name || !json_object_is_type(name, json_type_string) || !*json_object_get_string(name))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.name: must be a non-empty string", path);
    if (!(b->name = aigw__strdup(json_object_get_string(name))))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    for (const char *c = b->name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '{' || *c == '}')
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.name: must not contain control characters or braces", path);
    json_object *scope = aigw__json_get(obj, "scope");
    if (scope && (st = parse_scope(scope, path, b, err)))
        return st;

    json_object *cost = aigw__json_get(obj, "cost");
    char sub[512];
    snprintf(sub, sizeof sub, "%s.cost", path);
    if (!cost)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing", sub);
    if (!(b->cost_json =
              aigw__strdup(json_object_to_json_string_ext(cost, JSON_C_TO_STRING_PLAIN))))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (json_object_is_type(cost, json_type_string)) {
        if ((st = aigw__cost_expr_parse(json_object_get_string(cost), sub, &b->expr, err)))
            return st;
    } else if (json_object_is_type(cost, json_type_object)) {
        static const char *const ckeys[] = {"prices", NULL};
        if ((st = check_keys(cost, sub, ckeys, err)))
            return st;
        json_object *prices = aigw__json_get(cost, "prices");
        if (!prices)
            return aigw__error_set(err, AIGW_ECONFIG, "%s.prices: missing", sub);
        if ((st = parse_prices(prices, path, b, err)))
            return st;
    } else {
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: must be an expression string or {\"prices\": {...}}, not %s",
                               sub, type_name(cost));
    }

    if ((st = parse_limit(aigw__json_get(obj, "limit"), path, b, err)))
        return st;

    json_object *ose = aigw__json_get(obj, "on_store_error");
    if (ose) {
        const char *s =
            json_object_is_type(ose, json_type_string) ? json_object_get_string(ose) : NULL;
        if (s && !strcmp(s, "fail_open"))
            b->fail_open = 1;
        else if (!s || strcmp(s, "fail_closed"))
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.on_store_error: must be \"fail_open\" or \"fail_closed\"",
                                   path);
    }
    return AIGW_OK;
}

void aigw__budget_clear(aigw__budget *b) {
    if (!b)
        return;
    aigw__free(b->name);
    aigw__free(b->cost_json);
    for (int d = 0; d < AIGW__SCOPE_COUNT; d++) {
        for (size_t i = 0; i < b->scope[d].n; i++)
            aigw__free(b->scope[d].values[i]);
        aigw__free(b->scope[d].values);
    }
    aigw__cost_expr_free(b->expr);
    for (size_t i = 0; i < b->n_prices; i++)
        aigw__free(b->prices[i].model);
    aigw__free(b->prices);
    memset(b, 0, sizeof *b);
}

aigw_status aigw__budgets_parse(json_object *array, aigw__budget_set **out, aigw_error **err) {
    *out = NULL;
    aigw__budget_set *set = aigw__calloc(1, sizeof *set);
    if (!set)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (!array) {
        *out = set;
        return AIGW_OK;
    }
    aigw_status st = AIGW_OK;
    if (!json_object_is_type(array, json_type_array)) {
        st = aigw__error_set(err, AIGW_ECONFIG, "budgets: must be an array, not %s",
                             type_name(array));
        goto fail;
    }
    size_t n = json_object_array_length(array);
    if (n) {
        set->items = aigw__calloc(n, sizeof *set->items);
        if (!set->items) {
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "budgets[%zu]", i);
        st = aigw__budget_parse(json_object_array_get_idx(array, i), path, &set->items[i], err);
        set->n = i + 1;
        if (st)
            goto fail;
        set->items[i].index = i;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(set->items[j].name, set->items[i].name)) {
                st = aigw__error_set(err, AIGW_ECONFIG,
                                     "%s.name: \"%s\" is already the name of budgets[%zu]", path,
                                     set->items[i].name, j);
                goto fail;
            }
        }
    }
    *out = set;
    return AIGW_OK;
fail:
    aigw__budgets_free(set);
    return st;
}

void aigw__budgets_free(aigw__budget_set *set) {
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        aigw__budget_clear(&set->items[i]);
    aigw__free(set->items);
    aigw__free(set);
}

size_t aigw__budget_match(const aigw__budget *b, const aigw__identity *id, char *instance,
                          size_t cap) {
    size_t len = 0;
    for (int d = 0; d < AIGW__SCOPE_COUNT; d++) {
        const aigw__scope_rule *r = &b->scope[d];
        const char *v = id->v[d];
        if (r->mode == AIGW__SCOPE_ANY)
            continue;
        if (!v)
            return 0;
        if (r->mode == AIGW__SCOPE_MATCH) {
            size_t i = 0;
            while (i < r->n && strcmp(r->values[i], v))
                i++;
            if (i == r->n)
                return 0;
            continue;
        }
        /* EACH: append "<value>|" with '\' and '|' escaped by '\'. */
        for (const char *c = v;; c++) {
            char ch = *c ? *c : '|';
            if (*c == '\\' || *c == '|') {
                if (instance && len < cap)
                    instance[len] = '\\';
                len++;
            }
            if (instance && len < cap)
                instance[len] = ch;
            len++;
            if (!*c)
                break;
        }
    }
    if (instance && cap)
        instance[len < cap ? len : cap - 1] = '\0';
    return len + 1;
}

void aigw__budget_instance_label(const aigw__budget *b, const char *instance, char *out,
                                 size_t cap) {
    size_t len = 0;
    const char *p = instance;
    if (!cap)
        return;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (len + 1 < cap)                                                                         \
            out[len++] = (ch);                                                                     \
    } while (0)
    for (int d = 0; d < AIGW__SCOPE_COUNT && *p; d++) {
        if (b->scope[d].mode != AIGW__SCOPE_EACH)
            continue;
        if (len)
            PUT(',');
        for (const char *n = aigw__scope_names[d]; *n; n++)
            PUT(*n);
        PUT('=');
        for (; *p && *p != '|'; p++) { /* the value, unescaped */
            if (*p == '\\' && p[1])
                p++;
            PUT(*p);
        }
        if (*p == '|')
            p++;
    }
#undef PUT
    out[len] = 0;
}

int64_t aigw__budget_cost(const aigw__budget *b, const char *model, const aigw__usage *u,
                          int *unknown) {
    if (b->expr)
        return aigw__to_micro(aigw__cost_expr_eval(b->expr, u, 1, unknown));
    const aigw__price *p = NULL, *star = NULL;
    for (size_t i = 0; i < b->n_prices; i++) {
        if (model && !strcmp(b->prices[i].model, model))
            p = &b->prices[i];
        else if (!strcmp(b->prices[i].model, "*"))
            star = &b->prices[i];
    }
    if (!p)
        p = star;
    if (!p)
        return 0;
    long long in = u->input_tokens, cached = u->cached_input_tokens, out = u->output_tokens;
    if (in < 0 || out < 0 || cached < 0) {
        if (unknown)
            *unknown = 1;
    }
    if (in < 0)
        in = 0;
    if (out < 0)
        out = 0;
    if (cached < 0)
        cached = 0;
    if (cached > in)
        cached = in;
    /* input_tokens includes the cached ones (OpenAI's convention, which
     * every adapter follows); output includes reasoning. */
    double dollars =
        ((double)(in - cached) * p->input + (double)cached * p->cached + (double)out * p->output) /
        1e6;
    return aigw__to_micro(dollars);
}
