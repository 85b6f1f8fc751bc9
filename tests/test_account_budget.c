/* SPDX-License-Identifier: Apache-2.0 */
/* Budget config parsing (lib/account/budget.c): validation with JSON paths,
 * scope matching and costs. */
#include <criterion/criterion.h>

#include <string.h>

#include "account/budget.h"

static aigw__budget_set *parse_ok(const char *text) {
    json_object *j = json_tokener_parse(text);
    cr_assert_not_null(j, "bad JSON in test: %s", text);
    aigw__budget_set *set = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw__budgets_parse(j, &set, &err);
    cr_assert_eq(st, AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    json_object_put(j);
    return set;
}

static void parse_fails(const char *text, const char *message) {
    json_object *j = json_tokener_parse(text);
    cr_assert_not_null(j, "bad JSON in test: %s", text);
    aigw__budget_set *set = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__budgets_parse(j, &set, &err), AIGW_ECONFIG, "%s parsed", text);
    cr_assert_null(set);
    cr_assert_str_eq(aigw_error_message(err), message);
    aigw_error_free(err);
    json_object_put(j);
}

#define LIM "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000,\"refill_per_second\":10}"

Test(budget, parses_both_limits_and_costs) {
    aigw__budget_set *set =
        parse_ok("[{\"name\":\"a\",\"cost\":\"input_tokens + 4*output_tokens\"," LIM "},"
                 " {\"name\":\"b\",\"scope\":{\"team\":\"*\",\"model\":[\"m1\",\"m2\"]},"
                 "  \"cost\":{\"prices\":{\"m1\":{\"input\":2.5,\"output\":10,\"cached\":1.25},"
                 "                        \"*\":{\"input\":1,\"output\":2}}},"
                 "  \"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":25.5},"
                 "  \"on_store_error\":\"fail_open\"}]");
    cr_assert_eq(set->n, 2);
    aigw__budget *a = &set->items[0], *b = &set->items[1];
    cr_assert_str_eq(a->name, "a");
    cr_assert_eq(a->type, AIGW__LIMIT_BUCKET);
    cr_assert_eq(a->capacity, 1000 * AIGW__MICRO);
    cr_assert_eq(a->refill, 10 * AIGW__MICRO);
    cr_assert_eq(a->fail_open, 0);
    cr_assert_not_null(a->expr);
    cr_assert_eq(b->type, AIGW__LIMIT_WINDOW);
    cr_assert_eq(b->per, AIGW__PER_DAY);
    cr_assert_eq(b->max, 25500000);
    cr_assert_eq(b->fail_open, 1);
    cr_assert_eq(b->n_prices, 2);
    cr_assert_eq(b->index, 1);

    aigw__usage u = {1000000, 400000, 100000, 0, 1100000};
    /* expression: 1e6 + 4e5 tokens */
    cr_assert_eq(aigw__budget_cost(a, "m1", &u, NULL), 1400000 * AIGW__MICRO);
    /* m1: 0.6M uncached * 2.5 + 0.4M cached * 1.25 + 0.1M out * 10 = 1.5 + 0.5 + 1 */
    cr_assert_eq(aigw__budget_cost(b, "m1", &u, NULL), 3 * AIGW__MICRO);
    /* "*": cached costs as input: 1M * 1 + 0.1M * 2 */
    cr_assert_eq(aigw__budget_cost(b, "other", &u, NULL), 1200000);
    /* rounding is up, to the micro-dollar */
    aigw__usage one = {1, 0, 0, 0, 1};
    cr_assert_eq(aigw__budget_cost(b, "m1", &one, NULL), 3); /* 2.5e-6 $ */
    aigw__budgets_free(set);
}

Test(budget, no_budgets) {
    aigw__budget_set *set = NULL;
    cr_assert_eq(aigw__budgets_parse(NULL, &set, NULL), AIGW_OK);
    cr_assert_eq(set->n, 0);
    aigw__budgets_free(set);
    set = parse_ok("[]");
    cr_assert_eq(set->n, 0);
    aigw__budgets_free(set);
}

Test(budget, validation_names_the_path) {
    parse_fails("{}", "budgets: must be an array, not an object");
    parse_fails("[1]", "budgets[0]: must be an object, not a number");
    parse_fails("[{\"cost\":\"1\"," LIM "}]", "budgets[0].name: must be a non-empty string");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\"," LIM ",\"colour\":1}]",
                "budgets[0]: unknown key \"colour\" (known: name, scope, cost, limit, "
                "on_store_error)");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\"," LIM "},"
                " {\"name\":\"b\",\"cost\":\"1\"," LIM "},"
                " {\"name\":\"c\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"week\","
                "\"max\":5}}]",
                "budgets[2].limit.per: must be minute, hour, day or month");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\"," LIM "},{\"name\":\"a\",\"cost\":\"1\"," LIM "}]",
                "budgets[1].name: \"a\" is already the name of budgets[0]");
    parse_fails("[{\"name\":\"a\",\"cost\":\"input_tokens + 2)\"," LIM "}]",
                "budgets[0].cost: unexpected \")\" at column 17");
    parse_fails("[{\"name\":\"a\"," LIM "}]", "budgets[0].cost: missing");
    parse_fails("[{\"name\":\"a\",\"cost\":5," LIM "}]",
                "budgets[0].cost: must be an expression string or {\"prices\": {...}}, not a "
                "number");
    parse_fails("[{\"name\":\"a\",\"cost\":{\"prices\":{}}," LIM "}]",
                "budgets[0].cost.prices: must name at least one model");
    parse_fails("[{\"name\":\"a\",\"cost\":{\"prices\":{\"m\":{\"input\":1}}}," LIM "}]",
                "budgets[0].cost.prices.m.output: missing");
    parse_fails("[{\"name\":\"a\",\"cost\":{\"prices\":{\"m\":{\"input\":1,\"output\":-1}}}," LIM
                "}]",
                "budgets[0].cost.prices.m.output: must be zero or more");
    parse_fails("[{\"name\":\"a\",\"cost\":{\"prices\":{\"m\":{\"input\":1,\"output\":1,"
                "\"cache\":1}}}," LIM "}]",
                "budgets[0].cost.prices.m: unknown key \"cache\" (known: input, output, cached)");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\"}]", "budgets[0].limit: missing");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"leaky\"}}]",
                "budgets[0].limit.type: must be \"token_bucket\" or \"window\"");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\","
                "\"capacity\":0,\"refill_per_second\":1}}]",
                "budgets[0].limit.capacity: must be more than zero");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\","
                "\"capacity\":\"10\",\"refill_per_second\":1}}]",
                "budgets[0].limit.capacity: must be a number, not a string");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\","
                "\"capacity\":10}}]",
                "budgets[0].limit.refill_per_second: missing");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
                "\"max\":1e300}}]",
                "budgets[0].limit.max: too large (at most 9007199254)");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
                "\"max\":5,\"capacity\":3}}]",
                "budgets[0].limit: unknown key \"capacity\" (known: type, per, max)");
    parse_fails("[{\"name\":\"a\",\"scope\":{\"org\":\"x\"},\"cost\":\"1\"," LIM "}]",
                "budgets[0].scope: unknown key \"org\" (known: key, team, user, model, route, "
                "backend)");
    parse_fails("[{\"name\":\"a\",\"scope\":{\"team\":3},\"cost\":\"1\"," LIM "}]",
                "budgets[0].scope.team: must be a string, \"*\" or an array of strings, not a "
                "number");
    parse_fails("[{\"name\":\"a\",\"scope\":{\"team\":[\"x\",\"*\"]},\"cost\":\"1\"," LIM "}]",
                "budgets[0].scope.team[1]: must be a non-empty string other than \"*\"");
    parse_fails("[{\"name\":\"a\",\"scope\":[],\"cost\":\"1\"," LIM "}]",
                "budgets[0].scope: must be an object, not an array");
    parse_fails("[{\"name\":\"a\",\"cost\":\"1\"," LIM ",\"on_store_error\":\"ignore\"}]",
                "budgets[0].on_store_error: must be \"fail_open\" or \"fail_closed\"");
}

Test(budget, scope_matching_and_instances) {
    aigw__budget_set *set =
        parse_ok("[{\"name\":\"all\",\"cost\":\"1\"," LIM "},"
                 " {\"name\":\"eng\",\"scope\":{\"team\":\"eng\"},\"cost\":\"1\"," LIM "},"
                 " {\"name\":\"per-user-model\",\"scope\":{\"user\":\"*\",\"model\":[\"a\",\"b\"],"
                 "  \"key\":\"*\"},\"cost\":\"1\"," LIM "}]");
    aigw__identity id = {{NULL}};
    char inst[64];
    cr_assert_eq(aigw__budget_match(&set->items[0], &id, inst, sizeof inst), 1);
    cr_assert_str_eq(inst, "");
    cr_assert_eq(aigw__budget_match(&set->items[1], &id, inst, sizeof inst), 0);
    id.v[AIGW__SCOPE_TEAM] = "ops";
    cr_assert_eq(aigw__budget_match(&set->items[1], &id, inst, sizeof inst), 0);
    id.v[AIGW__SCOPE_TEAM] = "eng";
    cr_assert_eq(aigw__budget_match(&set->items[1], &id, inst, sizeof inst), 1);

    const aigw__budget *b = &set->items[2];
    id.v[AIGW__SCOPE_USER] = "al|ice\\";
    id.v[AIGW__SCOPE_MODEL] = "b";
    cr_assert_eq(aigw__budget_match(b, &id, inst, sizeof inst), 0); /* no key */
    id.v[AIGW__SCOPE_KEY] = "k1";
    size_t n = aigw__budget_match(b, &id, inst, sizeof inst);
    cr_assert_str_eq(inst, "k1|al\\|ice\\\\|"); /* scope order: key, then user */
    cr_assert_eq(n, strlen(inst) + 1);
    cr_assert_eq(aigw__budget_match(b, &id, NULL, 0), n);
    char tiny[4];
    cr_assert_eq(aigw__budget_match(b, &id, tiny, sizeof tiny), n);
    cr_assert_str_eq(tiny, "k1|");
    /* "a|b" + "c" and "a" + "b|c" are different counters */
    id.v[AIGW__SCOPE_KEY] = "a|b";
    id.v[AIGW__SCOPE_USER] = "c";
    char one[32], two[32];
    aigw__budget_match(b, &id, one, sizeof one);
    id.v[AIGW__SCOPE_KEY] = "a";
    id.v[AIGW__SCOPE_USER] = "b|c";
    aigw__budget_match(b, &id, two, sizeof two);
    cr_assert_str_neq(one, two);
    id.v[AIGW__SCOPE_MODEL] = "c";
    cr_assert_eq(aigw__budget_match(b, &id, inst, sizeof inst), 0);
    aigw__budgets_free(set);
}

Test(budget, price_table_without_the_model_costs_nothing) {
    aigw__budget_set *set = parse_ok(
        "[{\"name\":\"p\",\"cost\":{\"prices\":{\"m\":{\"input\":1,\"output\":1}}}," LIM "}]");
    aigw__usage u = {1000000, 0, 0, 0, 1000000};
    cr_assert_eq(aigw__budget_cost(&set->items[0], "x", &u, NULL), 0);
    cr_assert_eq(aigw__budget_cost(&set->items[0], NULL, &u, NULL), 0);
    cr_assert_eq(aigw__budget_cost(&set->items[0], "m", &u, NULL), AIGW__MICRO);
    aigw__usage unk = AIGW__USAGE_UNKNOWN;
    int unknown = 0;
    cr_assert_eq(aigw__budget_cost(&set->items[0], "m", &unk, &unknown), 0);
    cr_assert_eq(unknown, 1);
    aigw__budgets_free(set);
}
