/* SPDX-License-Identifier: Apache-2.0 */
/* aigw_budget_status(): every budget's configuration and counters, as JSON,
 * for `aigw-cli budgets` and applications. */
#include <string.h>

#include "account/accountant.h"
#include "aigw/call.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"

static const char *const per_names[] = {"minute", "hour", "day", "month"};

static json_object *amount(int64_t micro) {
    return json_object_new_double((double)micro / AIGW__MICRO);
}

static json_object *limit_json(const aigw__budget *b) {
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (b->type == AIGW__LIMIT_BUCKET) {
        json_object_object_add(o, "type", json_object_new_string("token_bucket"));
        json_object_object_add(o, "capacity", amount(b->capacity));
        json_object_object_add(o, "refill_per_second", amount(b->refill));
    } else {
        json_object_object_add(o, "type", json_object_new_string("window"));
        json_object_object_add(o, "per", json_object_new_string(per_names[b->per]));
        json_object_object_add(o, "max", amount(b->max));
    }
    return o;
}

static json_object *scope_json(const aigw__budget *b) {
    json_object *o = json_object_new_object();
    for (int d = 0; o && d < AIGW__SCOPE_COUNT; d++) {
        const aigw__scope_rule *r = &b->scope[d];
        if (r->mode == AIGW__SCOPE_EACH) {
            json_object_object_add(o, aigw__scope_names[d], json_object_new_string("*"));
        } else if (r->mode == AIGW__SCOPE_MATCH) {
            json_object *a = json_object_new_array();
            for (size_t i = 0; a && i < r->n; i++)
                json_object_array_add(a, json_object_new_string(r->values[i]));
            json_object_object_add(o, aigw__scope_names[d], a);
        }
    }
    return o;
}

static int per_value(const aigw__budget *b) {
    for (int d = 0; d < AIGW__SCOPE_COUNT; d++)
        if (b->scope[d].mode == AIGW__SCOPE_EACH)
            return 1;
    return 0;
}

typedef struct collect {
    aigw__accountant *acc;
    size_t index;
    json_object *counters;
    aigw_status st;
    aigw_error **err;
} collect;

static void add_counter(const char *instance, void *ctx) {
    collect *c = ctx;
    if (c->st)
        return;
    aigw__budget_status s;
    if ((c->st = aigw__accountant_status(c->acc, c->index, instance, &s, c->err)))
        return;
    json_object *o = json_object_new_object();
    if (!o || json_object_array_add(c->counters, o)) {
        json_object_put(o);
        c->st = aigw__error_set(c->err, AIGW_ENOMEM, "out of memory");
        return;
    }
    char label[512];
    aigw__budget_instance_label(&aigw__accountant_budgets(c->acc)->items[c->index], instance, label,
                                sizeof label);
    json_object_object_add(o, "instance", json_object_new_string(label));
    json_object_object_add(o, "limit", amount(s.limit));
    json_object_object_add(o, "remaining", amount(s.remaining));
    json_object_object_add(o, "reset_seconds", json_object_new_double(s.reset));
}

aigw_status aigw_budget_status(aigw_client *client, char **json, aigw_error **err) {
    if (!client || !json)
        return aigw__error_set(err, AIGW_EINVAL, "aigw_budget_status: NULL argument");
    *json = NULL;
    aigw__accountant *acc = client->accountant;
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    aigw_status st = AIGW_OK;
    if (!root || !list) {
        json_object_put(list);
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto out;
    }
    json_object_object_add(
        root, "store", json_object_new_string(client->store_type ? client->store_type : "memory"));
    json_object_object_add(root, "budgets", list);
    const aigw__budget_set *set = acc ? aigw__accountant_budgets(acc) : NULL;
    for (size_t i = 0; set && i < set->n && !st; i++) {
        const aigw__budget *b = &set->items[i];
        json_object *o = json_object_new_object(), *counters = json_object_new_array();
        if (!o || !counters || json_object_array_add(list, o)) {
            json_object_put(o);
            json_object_put(counters);
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
            break;
        }
        json_object_object_add(o, "name", json_object_new_string(b->name));
        json_object_object_add(o, "limit", limit_json(b));
        json_object_object_add(o, "scope", scope_json(b));
        json_object_object_add(o, "cost", json_tokener_parse(b->cost_json));
        json_object_object_add(o, "counters", counters);
        collect c = {acc, i, counters, AIGW_OK, err};
        if (per_value(b))
            st = aigw__store_instances(aigw__accountant_store(acc), b, add_counter, &c, err);
        else
            add_counter("", &c);
        if (!st)
            st = c.st;
    }
    if (!st && !(*json = aigw__json_dup_string(root)))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
out:
    json_object_put(root);
    return st;
}
