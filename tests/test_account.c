/* SPDX-License-Identifier: Apache-2.0 */
/* The accountant (lib/account/accountant.c): estimates, reservation in the
 * budgets whose scope matches, refusals naming the budget with Retry-After,
 * settlement with real usage, on an injected clock. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <string.h>

#include "account/accountant.h"

#define S 1000000000LL
#define U AIGW__MICRO

static int64_t fake_now = 1000 * S;
static int64_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

static aigw__accountant *make(const char *config) {
    json_object *j = json_tokener_parse(config);
    cr_assert_not_null(j);
    aigw__budget_set *set = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__budgets_parse(j, &set, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    json_object_put(j);
    aigw__store *store = NULL;
    cr_assert_eq(aigw__store_memory_new(&store, NULL), AIGW_OK);
    aigw__accountant *acc = NULL;
    cr_assert_eq(aigw__accountant_new(set, store, &acc, NULL), AIGW_OK);
    aigw__accountant_set_clock(acc, fake_clock, NULL);
    return acc;
}

Test(accountant, estimate) {
    aigw__accountant *acc = make("[]");
    json_object *req =
        json_tokener_parse("{\"model\":\"m\",\"max_tokens\":100,\"messages\":["
                           "{\"role\":\"system\",\"content\":\"12345678\"},"
                           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"abcd\"},"
                           "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}");
    aigw__usage u;
    aigw__accountant_estimate(acc, req, &u);
    cr_assert_eq(u.input_tokens, 3 + 8); /* 12 chars / 4 + 4 per message */
    cr_assert_eq(u.output_tokens, 100);
    cr_assert_eq(u.total_tokens, 111);
    json_object_object_add(req, "max_completion_tokens", json_object_new_int(7));
    aigw__accountant_estimate(acc, req, &u);
    cr_assert_eq(u.output_tokens, 7);
    json_object_object_del(req, "max_completion_tokens");
    json_object_object_del(req, "max_tokens");
    aigw__accountant_set_default_max_tokens(acc, 256);
    aigw__accountant_estimate(acc, req, &u);
    cr_assert_eq(u.output_tokens, 256);
    json_object_put(req);
    req = json_tokener_parse("{\"model\":\"e\",\"input\":[\"abcdefgh\",\"ab\"]}");
    aigw__accountant_estimate(acc, req, &u);
    cr_assert_eq(u.input_tokens, 3);
    cr_assert_eq(u.output_tokens, 0); /* embeddings produce no output tokens */
    json_object_put(req);
    aigw__accountant_free(acc);
}

#define BUDGETS                                                                                    \
    "[{\"name\":\"global\",\"cost\":\"total_tokens\",\"limit\":{\"type\":\"token_bucket\","        \
    "\"capacity\":1000,\"refill_per_second\":10}},"                                                \
    " {\"name\":\"team-eng\",\"scope\":{\"team\":\"eng\"},\"cost\":\"input_tokens + "              \
    "4*output_tokens\",\"limit\":{\"type\":\"window\",\"per\":\"minute\",\"max\":500}},"           \
    " {\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},\"cost\":\"requests\","                    \
    "\"limit\":{\"type\":\"window\",\"per\":\"hour\",\"max\":3}},"                                 \
    " {\"name\":\"dollars\",\"cost\":{\"prices\":{\"gpt\":{\"input\":1000,\"output\":2000}}},"     \
    "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1}}]"

static aigw_status try_reserve(aigw__accountant *acc, const char *team, const char *user,
                               const char *model, long long in, long long out, aigw__ticket *t,
                               aigw__account_refusal *r, aigw_error **err) {
    aigw__identity id = {{NULL}};
    id.v[AIGW__SCOPE_TEAM] = team;
    id.v[AIGW__SCOPE_USER] = user;
    id.v[AIGW__SCOPE_MODEL] = model;
    aigw__usage est = {in, 0, out, 0, in + out};
    return aigw__accountant_reserve(acc, &id, &est, t, r, err);
}

static int64_t remaining(aigw__accountant *acc, size_t i, const char *inst) {
    aigw__budget_status st;
    cr_assert_eq(aigw__accountant_status(acc, i, inst, &st, NULL), AIGW_OK);
    return st.remaining;
}

Test(accountant, reserves_in_matching_budgets_and_settles) {
    fake_now = 1800000000LL * S; /* a minute boundary */
    aigw__accountant *acc = make(BUDGETS);
    aigw__ticket t;
    aigw__account_refusal r;
    cr_assert_eq(try_reserve(acc, "eng", "alice", "llama", 10, 20, &t, &r, NULL), AIGW_OK);
    cr_assert_eq(t.n, 3); /* global, team-eng, per-user; no price for llama */
    cr_assert_eq(remaining(acc, 0, ""), 970 * U);
    cr_assert_eq(remaining(acc, 1, ""), 410 * U);
    cr_assert_eq(remaining(acc, 2, "alice|"), 2 * U);
    cr_assert_eq(remaining(acc, 2, "bob|"), 3 * U);
    const char *name;
    aigw__budget_status tight;
    cr_assert(aigw__accountant_tightest(acc, &t, &name, &tight));
    cr_assert_str_eq(name, "per-user"); /* 2/3 left beats 410/500 and 970/1000 */

    aigw__usage real = {5, 0, 2, 0, 7};
    cr_assert_eq(aigw__accountant_settle(acc, &t, &real, NULL), AIGW_OK);
    cr_assert_eq(t.active, 0);
    cr_assert_eq(remaining(acc, 0, ""), 993 * U);
    cr_assert_eq(remaining(acc, 1, ""), 487 * U);
    cr_assert_eq(remaining(acc, 2, "alice|"), 2 * U); /* a request is a request */
    /* Settling twice is harmless. */
    cr_assert_eq(aigw__accountant_settle(acc, &t, &real, NULL), AIGW_OK);
    cr_assert_eq(remaining(acc, 0, ""), 993 * U);

    /* A failed call refunds everything. */
    cr_assert_eq(try_reserve(acc, "ops", "bob", "gpt", 100, 100, &t, &r, NULL), AIGW_OK);
    cr_assert_eq(t.n, 3); /* global, per-user, dollars */
    cr_assert_eq(remaining(acc, 3, ""), U - 300000);
    cr_assert_eq(aigw__accountant_settle(acc, &t, NULL, NULL), AIGW_OK);
    cr_assert_eq(remaining(acc, 0, ""), 993 * U);
    cr_assert_eq(remaining(acc, 2, "bob|"), 3 * U);
    cr_assert_eq(remaining(acc, 3, ""), U);

    /* Unknown usage settles at the estimate, never at zero. */
    cr_assert_eq(try_reserve(acc, NULL, NULL, "x", 40, 60, &t, &r, NULL), AIGW_OK);
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    cr_assert_eq(aigw__accountant_settle(acc, &t, &unknown, NULL), AIGW_OK);
    cr_assert_eq(remaining(acc, 0, ""), 893 * U);
    aigw__account_stats stats;
    aigw__accountant_stats(acc, &stats);
    cr_assert_eq(stats.admitted, 3);
    cr_assert_eq(stats.settled, 3);
    cr_assert_eq(stats.unknown_usage, 1);
    aigw__accountant_free(acc);
}

Test(accountant, refuses_naming_the_budget_with_retry_after) {
    fake_now = 1800000000LL * S + 15 * S; /* 15 s into a minute */
    aigw__accountant *acc = make(BUDGETS);
    aigw__ticket t;
    aigw__account_refusal r;
    aigw_error *err = NULL;
    /* team-eng: 100 + 4*100 = 500 fits exactly once */
    cr_assert_eq(try_reserve(acc, "eng", "u1", "m", 100, 100, &t, &r, NULL), AIGW_OK);
    cr_assert_eq(try_reserve(acc, "eng", "u2", "m", 1, 0, &t, &r, &err), AIGW_EBUDGET);
    cr_assert_str_eq(r.budget, "team-eng");
    cr_assert_eq(r.retry_after, 45);
    cr_assert_eq(r.store_error, 0);
    cr_assert_eq(aigw_error_status(err), AIGW_EBUDGET);
    cr_assert_str_eq(aigw_error_message(err), "budget \"team-eng\" exhausted; retry after 45 s");
    aigw_error_free(err);
    err = NULL;
    /* Nothing was taken from global or per-user by the refusal. */
    cr_assert_eq(remaining(acc, 0, ""), 800 * U);
    cr_assert_eq(remaining(acc, 2, "u2|"), 3 * U);
    /* The global bucket: 800 left, refill 10/s; asking 850 waits 5 s. */
    cr_assert_eq(try_reserve(acc, "ops", "u3", "m", 850, 0, &t, &r, &err), AIGW_EBUDGET);
    cr_assert_str_eq(r.budget, "global");
    cr_assert_eq(r.retry_after, 5);
    aigw_error_free(err);
    err = NULL;
    fake_now += 5 * S;
    cr_assert_eq(try_reserve(acc, "ops", "u3", "m", 850, 0, &t, &r, NULL), AIGW_OK);
    aigw__accountant_settle(acc, &t, NULL, NULL);
    /* More than the capacity never fits. */
    cr_assert_eq(try_reserve(acc, "ops", "u3", "m", 1001, 0, &t, &r, &err), AIGW_EBUDGET);
    cr_assert_eq(r.retry_after, -1);
    cr_assert_str_eq(aigw_error_message(err),
                     "budget \"global\": this request's estimated cost (1001) is more than the "
                     "budget's limit (1000)");
    aigw_error_free(err);
    aigw__account_stats stats;
    aigw__accountant_stats(acc, &stats);
    cr_assert_eq(stats.refused, 3);
    aigw__accountant_free(acc);
}

Test(accountant, long_identities_and_no_budgets) {
    aigw__accountant *acc = make(BUDGETS);
    char user[1000];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    aigw__ticket t;
    aigw__account_refusal r;
    cr_assert_eq(try_reserve(acc, NULL, user, "m", 1, 1, &t, &r, NULL), AIGW_OK);
    cr_assert_neq(t.strings, t.inline_strings); /* spilled to the heap */
    char inst[1002];
    snprintf(inst, sizeof inst, "%s|", user);
    cr_assert_eq(remaining(acc, 2, inst), 2 * U);
    cr_assert_eq(aigw__accountant_settle(acc, &t, NULL, NULL), AIGW_OK);
    aigw__accountant_free(acc);

    acc = make("[]");
    cr_assert_eq(try_reserve(acc, "eng", "u", "m", 1, 1, &t, &r, NULL), AIGW_OK);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(aigw__accountant_settle(acc, &t, NULL, NULL), AIGW_OK);
    aigw__accountant_free(acc);
}

/* The /metrics counters are kept per thread slot and added up when read:
 * from 24 threads (more than there are slots) every count still arrives. */
#define COUNT_THREADS 24
#define COUNT_CALLS 500

static void *count_calls(void *arg) {
    aigw__accountant *acc = arg;
    for (int i = 0; i < COUNT_CALLS; i++) {
        aigw__ticket t;
        aigw__account_refusal r;
        if (try_reserve(acc, NULL, NULL, "m", 1, 1, &t, &r, NULL) != AIGW_OK)
            return (void *)1;
        aigw__usage unknown = AIGW__USAGE_UNKNOWN;
        aigw__accountant_settle(acc, &t, i % 2 ? &unknown : NULL, NULL);
    }
    return NULL;
}

Test(accountant, counters_add_up_across_threads) {
    aigw__accountant *acc =
        make("[{\"name\":\"all\",\"cost\":\"requests\",\"limit\":{\"type\":"
             "\"token_bucket\",\"capacity\":1000000,\"refill_per_second\":0}}]");
    pthread_t th[COUNT_THREADS];
    for (int i = 0; i < COUNT_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, count_calls, acc), 0);
    for (int i = 0; i < COUNT_THREADS; i++) {
        void *rc = NULL;
        pthread_join(th[i], &rc);
        cr_expect_null(rc, "a reservation failed");
    }
    aigw__account_stats stats;
    aigw__accountant_stats(acc, &stats);
    cr_expect_eq(stats.admitted, COUNT_THREADS * COUNT_CALLS);
    cr_expect_eq(stats.settled, COUNT_THREADS * COUNT_CALLS);
    cr_expect_eq(stats.unknown_usage, COUNT_THREADS * COUNT_CALLS / 2);
    cr_expect_eq(stats.refused, 0);
    /* settled with unknown usage at the estimate (1 request), refunded otherwise */
    cr_expect_eq(remaining(acc, 0, ""), (1000000 - COUNT_THREADS * COUNT_CALLS / 2) * U);
    aigw__accountant_free(acc);
}
