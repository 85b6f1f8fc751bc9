/* SPDX-License-Identifier: Apache-2.0 */
/* Route matching and attempt plans (lib/router/routes.c): globs, headers,
 * weight splits over 100,000 seeded picks, priority tiers, ejected
 * backends and the never-fail-closed rule. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aigw/error.h"
#include "router/health.h"
#include "router/routes.h"
#include "router/routes_config.h"

static const char *const known[] = {"a", "b", "c", "d", "e"};

static aigw__routes load(const char *text) {
    aigw__routes_load_options o = {known, 5, NULL, NULL};
    aigw__routes r;
    aigw_error *err = NULL;
    aigw_status st = aigw__routes_load_text(text, strlen(text), &o, &r, &err);
    cr_assert_eq(st, AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    return r;
}

/* Request headers as NAME, value pairs, looked up case-insensitively. */
static const char *headers_lookup(void *ctx, const char *name) {
    for (const char *const *kv = ctx; kv && *kv; kv += 2)
        if (!strcasecmp(kv[0], name))
            return kv[1];
    return NULL;
}

static long route_index(const aigw__routes *r, const char *model, const char *const *hdrs) {
    const aigw__route *m = aigw__routes_match(r, model, headers_lookup, (void *)hdrs);
    return m ? (long)(m - r->routes) : -1;
}

Test(routes_match, globs_headers_and_order) {
    aigw__routes r = load(
        "{\"routes\": ["
        " {\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"X-Team\": \"search\"}},"
        "  \"backends\": [{\"backend\": \"a\"}]},"
        " {\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": \"b\"}]},"
        " {\"match\": {\"model\": \"gpt-*\"}, \"backends\": [{\"backend\": \"c\"}]},"
        " {\"match\": {\"model\": \"claude-?-[0-9]*\"}, \"backends\": [{\"backend\": \"d\"}]},"
        " {\"match\": {\"headers\": {\"x-tier\": \"free\"}}, \"backends\": [{\"backend\": \"e\"}]}"
        "]}");
    const char *const search[] = {"x-team", "search", NULL};
    const char *const search_upper[] = {"X-TEAM", "search", NULL};
    const char *const other_team[] = {"x-team", "ads", NULL};
    const char *const value_case[] = {"x-team", "Search", NULL};
    const char *const free_tier[] = {"x-tier", "free", NULL};
    cr_expect_eq(route_index(&r, "gpt-4o", search), 0);
    cr_expect_eq(route_index(&r, "gpt-4o", search_upper), 0);
    cr_expect_eq(route_index(&r, "gpt-4o", other_team), 1);
    cr_expect_eq(route_index(&r, "gpt-4o", value_case), 1);
    cr_expect_eq(route_index(&r, "gpt-4o", NULL), 1);
    cr_expect_eq(aigw__routes_match(&r, "gpt-4o", NULL, NULL), &r.routes[1]);
    cr_expect_eq(route_index(&r, "gpt-4o-mini", search), 2);
    cr_expect_eq(route_index(&r, "gpt-", NULL), 2);
    cr_expect_eq(route_index(&r, "GPT-4o", NULL), -1);
    cr_expect_eq(route_index(&r, "claude-3-5-sonnet", NULL), 3);
    cr_expect_eq(route_index(&r, "claude-3-x", NULL), -1);
    cr_expect_eq(route_index(&r, "llama", free_tier), 4);
    cr_expect_eq(route_index(&r, "llama", NULL), -1);
    cr_expect_eq(route_index(&r, "gpt-4o", free_tier), 1);
    cr_expect_null(aigw__routes_match(NULL, "x", NULL, NULL));
    aigw__routes_free(&r);
}

Test(routes_match, catch_all) {
    aigw__routes r = load("{\"routes\": [{\"match\": {\"model\": \"o1\"}, \"backends\": "
                          "[{\"backend\": \"a\"}]}, {\"backends\": [{\"backend\": \"b\"}]}]}");
    cr_expect_eq(route_index(&r, "o1", NULL), 0);
    cr_expect_eq(route_index(&r, "anything/at all", NULL), 1);
    cr_expect_eq(route_index(&r, "", NULL), 1);
    aigw__routes_free(&r);
}

/* ---- plans ---- */

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

static aigw__health *new_health(void) {
    aigw__health_options o = {.failure_threshold = 2, .clock = fake_clock};
    aigw__health *h = NULL;
    cr_assert_eq(aigw__health_new(&h, known, 5, &o, NULL), AIGW_OK);
    return h;
}

static void eject(aigw__health *h, const char *name) {
    for (int i = 0; i < 2; i++)
        aigw__health_report(h, name, aigw__health_begin(h, name, 0), 0);
    cr_assert_eq(aigw__health_state_of(h, name, NULL), AIGW__HEALTH_EJECTED);
}

/* The plan as "a,b,c" with a '!' after forced entries. */
static void plan_string(const aigw__route *route, aigw__health *h, uint64_t *seed, char *out,
                        size_t cap) {
    aigw__plan_entry plan[8];
    size_t n = 99;
    aigw__routes_plan(route, h, aigw__rand_splitmix, seed, plan, &n);
    cr_assert(n <= route->n_backends);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s%s", i ? "," : "",
                 plan[i].target->backend, plan[i].forced ? "!" : "");
}

/* Counts which backend each of `picks` plans starts with. */
static void first_pick_shares(const aigw__route *route, aigw__health *h, uint64_t seed, int picks,
                              int counts[5]) {
    memset(counts, 0, 5 * sizeof counts[0]);
    for (int i = 0; i < picks; i++) {
        aigw__plan_entry plan[8];
        size_t n;
        aigw__routes_plan(route, h, aigw__rand_splitmix, &seed, plan, &n);
        cr_assert(n > 0);
        counts[plan[0].target->backend[0] - 'a']++;
    }
}

static void expect_share(int count, int picks, double expected, const char *what) {
    double share = (double)count / picks;
    cr_expect(share > expected - 0.01 && share < expected + 0.01, "%s: share %.4f, expected %.4f",
              what, share, expected);
}

#define PICKS 100000

Test(routes_plan, weight_split_is_statistically_right) {
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\", \"weight\": 5},"
                          " {\"backend\": \"b\", \"weight\": 3}, {\"backend\": \"c\", \"weight\": "
                          "2}]}]}");
    int counts[5];
    first_pick_shares(&r.routes[0], NULL, 42, PICKS, counts);
    expect_share(counts[0], PICKS, 0.5, "a");
    expect_share(counts[1], PICKS, 0.3, "b");
    expect_share(counts[2], PICKS, 0.2, "c");
    aigw__routes_free(&r);
}

Test(routes_plan, second_pick_follows_remaining_weights) {
    /* a:3, b:1: a second is b when a came first... and vice versa: the
     * second entry is a with probability 1/4 (b drawn first). */
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\", \"weight\": 3},"
                          " {\"backend\": \"b\", \"weight\": 1}]}]}");
    uint64_t seed = 7;
    int a_second = 0;
    for (int i = 0; i < PICKS; i++) {
        aigw__plan_entry plan[2];
        size_t n;
        aigw__routes_plan(&r.routes[0], NULL, aigw__rand_splitmix, &seed, plan, &n);
        cr_assert_eq(n, 2);
        cr_assert_neq(plan[0].target, plan[1].target);
        a_second += plan[1].target->backend[0] == 'a';
    }
    expect_share(a_second, PICKS, 0.25, "a second");
    aigw__routes_free(&r);
}

Test(routes_plan, weights_renormalised_over_healthy) {
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\", \"weight\": 5},"
                          " {\"backend\": \"b\", \"weight\": 3}, {\"backend\": \"c\", \"weight\": "
                          "2}]}]}");
    fake_now = 1000;
    aigw__health *h = new_health();
    eject(h, "b");
    int counts[5];
    first_pick_shares(&r.routes[0], h, 99, PICKS, counts);
    expect_share(counts[0], PICKS, 5.0 / 7, "a");
    expect_share(counts[2], PICKS, 2.0 / 7, "c");
    cr_expect_eq(counts[1], 0);
    char s[64];
    uint64_t seed = 1;
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect(!strcmp(s, "a,c") || !strcmp(s, "c,a"), "%s", s);
    aigw__health_free(h);
    aigw__routes_free(&r);
}

Test(routes_plan, priority_tiers_and_zero_weight) {
    aigw__routes r = load("{\"routes\": [{\"backends\": ["
                          " {\"backend\": \"d\", \"priority\": 2},"
                          " {\"backend\": \"c\", \"priority\": 1, \"weight\": 0},"
                          " {\"backend\": \"a\", \"priority\": 0, \"weight\": 0},"
                          " {\"backend\": \"b\", \"priority\": 1},"
                          " {\"backend\": \"e\", \"priority\": 0}]}]}");
    char s[64];
    uint64_t seed = 5;
    plan_string(&r.routes[0], NULL, &seed, s, sizeof s);
    cr_expect_str_eq(s, "e,a,b,c,d");

    fake_now = 1000;
    aigw__health *h = new_health();
    eject(h, "e");
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "a,b,c,d");
    eject(h, "a");
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "b,c,d");
    eject(h, "b");
    eject(h, "c");
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "d");
    aigw__health_free(h);
    aigw__routes_free(&r);
}

Test(routes_plan, all_ejected_still_tries_the_best_one) {
    aigw__routes r = load("{\"routes\": [{\"backends\": ["
                          " {\"backend\": \"c\", \"priority\": 1, \"weight\": 9},"
                          " {\"backend\": \"a\", \"weight\": 1},"
                          " {\"backend\": \"b\", \"weight\": 4}]}]}");
    fake_now = 1000;
    aigw__health *h = new_health();
    eject(h, "a");
    eject(h, "b");
    eject(h, "c");
    char s[64];
    uint64_t seed = 3;
    /* Same ejection end: the higher weight of the best tier. */
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "b!");
    cr_expect_eq(aigw__health_begin(h, "b", 0), AIGW__TICKET_DENIED);
    aigw__health_ticket t = aigw__health_begin(h, "b", 1);
    cr_expect_eq(t, AIGW__TICKET_FORCED);
    aigw__health_report(h, "b", t, 0);
    cr_expect_eq(aigw__health_state_of(h, "b", NULL), AIGW__HEALTH_EJECTED);

    /* a back sooner than b: a is the best. */
    aigw__health_free(h);
    h = new_health();
    fake_now = 1000;
    eject(h, "a");
    fake_now = 2000;
    eject(h, "b");
    eject(h, "c");
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "a!");

    /* A forced success makes it healthy again. */
    aigw__health_report(h, "a", aigw__health_begin(h, "a", 1), 1);
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "a");
    aigw__health_free(h);
    aigw__routes_free(&r);
}

Test(routes_plan, half_open_backends_are_planned) {
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\"},"
                          " {\"backend\": \"b\", \"priority\": 1}]}]}");
    fake_now = 1000;
    aigw__health *h = new_health();
    eject(h, "a");
    char s[64];
    uint64_t seed = 3;
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "b");
    fake_now += AIGW__HEALTH_DEFAULT_BASE_EJECT_MS;
    plan_string(&r.routes[0], h, &seed, s, sizeof s);
    cr_expect_str_eq(s, "a,b");
    aigw__health_free(h);
    aigw__routes_free(&r);
}

Test(routes_plan, upstream_model_rewrite) {
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\", \"model\": "
                          "\"dep-1\"}, {\"backend\": \"b\", \"priority\": 1}]}]}");
    cr_expect_str_eq(aigw__route_upstream_model(&r.routes[0].backends[0], "gpt-4o"), "dep-1");
    cr_expect_str_eq(aigw__route_upstream_model(&r.routes[0].backends[1], "gpt-4o"), "gpt-4o");
    aigw__routes_free(&r);
}

Test(routes_plan, default_random_source) {
    aigw__routes r = load("{\"routes\": [{\"backends\": [{\"backend\": \"a\"}, {\"backend\": "
                          "\"b\"}]}]}");
    int a_first = 0;
    for (int i = 0; i < 2000; i++) {
        aigw__plan_entry plan[2];
        size_t n;
        aigw__routes_plan(&r.routes[0], NULL, NULL, NULL, plan, &n);
        cr_assert_eq(n, 2);
        a_first += plan[0].target->backend[0] == 'a';
    }
    cr_expect(a_first > 800 && a_first < 1200, "%d", a_first);
    aigw__routes_free(&r);
}

Test(routes_match, served_models) {
    aigw__routes r =
        load("{\"routes\": ["
             " {\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"x-a\": \"1\"}},"
             "  \"backends\": [{\"backend\": \"a\"}]},"
             " {\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": \"b\"}]},"
             " {\"match\": {\"model\": \"gpt-*\"}, \"backends\": [{\"backend\": \"c\"}]},"
             " {\"match\": {\"model\": \"claude\"}, \"backends\": [{\"backend\": \"d\"}]},"
             " {\"backends\": [{\"backend\": \"e\"}]}]}");
    const char *m[4];
    cr_assert_eq(aigw__routes_models(&r, m, 4), 2);
    cr_expect_str_eq(m[0], "gpt-4o");
    cr_expect_str_eq(m[1], "claude");
    cr_expect_eq(aigw__routes_models(&r, m, 1), 2);
    cr_expect_eq(aigw__routes_models(NULL, m, 4), 0);
    aigw__routes_free(&r);
}
