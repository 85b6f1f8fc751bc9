/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis budget store (lib/account/store_redis.c) against a real
 * redis-server started on a free loopback port: same results as the memory
 * store, exact under two clients × 32 threads, script reload after SCRIPT
 * FLUSH, keys that expire, and a Redis restart with fail-open and
 * fail-closed budgets. Skipped when redis-server is not installed. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account/accountant.h"
#include "account/store_redis.h"

#define S 1000000000LL
#define U AIGW__MICRO

static pid_t redis_pid;
static int redis_port;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *client(void) {
    struct timeval tv = {1, 0};
    return redisConnectWithTimeout("127.0.0.1", redis_port, tv);
}

static void redis_start(void) {
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    cr_assert_neq(redis_pid, -1);
    if (!redis_pid) {
        /* Dies with the test, even when the test crashes; quiet. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        redisContext *c = client();
        int ok = c && !c->err;
        if (ok) {
            redisReply *r = redisCommand(c, "PING");
            ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        if (ok)
            return;
        int status;
        if (waitpid(redis_pid, &status, WNOHANG) == redis_pid)
            cr_skip_test("redis-server could not start (is it installed?)");
        usleep(10000);
    }
    cr_assert_fail("redis-server did not answer on port %d", redis_port);
}

static void redis_stop(void) {
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static void setup(void) {
    redis_port = free_port();
    redis_start();
}

static void teardown(void) {
    redis_stop();
}

TestSuite(store_redis, .init = setup, .fini = teardown, .timeout = 120);

static aigw__budget_set *budgets(const char *text) {
    json_object *j = json_tokener_parse(text);
    cr_assert_not_null(j);
    aigw__budget_set *set = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__budgets_parse(j, &set, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    json_object_put(j);
    return set;
}

static aigw__store *store(int pool) {
    aigw__redis_options o = {.port = redis_port, .pool_size = pool, .timeout_ms = 3000};
    aigw__store *s = NULL;
    cr_assert_eq(aigw__store_redis_new(&o, &s, NULL), AIGW_OK);
    return s;
}

static int64_t remaining(aigw__store *s, const aigw__budget *b, const char *inst, int64_t now) {
    aigw__store_key k = {b, inst};
    aigw__budget_status st;
    aigw_error *err = NULL;
    cr_assert_eq(aigw__store_status(s, &k, now, &st, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    return st.remaining;
}

static int64_t realtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * S + ts.tv_nsec;
}

#define TWO                                                                                        \
    "[{\"name\":\"b\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":100,"       \
    "\"refill_per_second\":10}},"                                                                  \
    " {\"name\":\"w\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"minute\","           \
    "\"max\":50}}]"

Test(store_redis, reserve_settle_refill_and_windows) {
    aigw__budget_set *set = budgets(TWO);
    aigw__store *s = store(2);
    const aigw__budget *b = &set->items[0], *w = &set->items[1];
    aigw__store_key keys[2] = {{b, "x|"}, {w, "x|"}};
    aigw__hold h[2];
    aigw__refusal r;
    int64_t t0 = (realtime() / (60 * S)) * 60 * S + 10 * S; /* 10 s into this minute */
    cr_assert_eq(remaining(s, b, "x|", t0), 100 * U);
    int64_t a[2] = {40 * U, 40 * U};
    aigw_error *err = NULL;
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, t0, h, &r, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    /* w has 10 left: refused all or nothing, retry at the minute's end */
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, t0, h + 0, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_eq(r.index, 1);
    cr_assert_float_eq(r.retry_after, 50, 1e-6);
    cr_assert_eq(remaining(s, b, "x|", t0), 60 * U);
    cr_assert_eq(remaining(s, w, "x|", t0), 10 * U);
    /* settle: b refunds 30, w charges 5 more */
    aigw__hold first[2];
    cr_assert_eq(aigw__store_reserve(s, keys, (int64_t[]){0, 0}, 2, t0, first, &r, NULL), AIGW_OK);
    first[0].amount = first[1].amount = 40 * U; /* settle the first reservation */
    cr_assert_eq(aigw__store_settle(s, keys, first, (int64_t[]){10 * U, 45 * U}, 2, t0, NULL),
                 AIGW_OK);
    cr_assert_eq(remaining(s, b, "x|", t0), 90 * U);
    cr_assert_eq(remaining(s, w, "x|", t0), 5 * U);
    /* bucket refill: 10/s, 1 unit after 0.1 s exactly */
    int64_t big = 91 * U;
    cr_assert_eq(aigw__store_reserve(s, keys, &big, 1, t0, h, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_float_eq(r.retry_after, 0.1, 1e-6);
    cr_assert_eq(aigw__store_reserve(s, keys, &big, 1, t0 + S / 10 - 1000, h, &r, NULL),
                 AIGW_ERATELIMIT);
    cr_assert_eq(aigw__store_reserve(s, keys, &big, 1, t0 + S / 10, h, &r, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, b, "x|", t0 + S / 10), 0);
    /* more than the capacity: never */
    int64_t huge = 101 * U;
    cr_assert_eq(aigw__store_reserve(s, keys, &huge, 1, t0 + S, h, &r, NULL), AIGW_ERATELIMIT);
    cr_assert_eq(r.retry_after, -1);
    /* next minute: a fresh window */
    int64_t t1 = t0 + 50 * S;
    int64_t six = 6 * U; /* 5 left in this minute */
    cr_assert_eq(aigw__store_reserve(s, keys + 1, &six, 1, t1 - 1000, h, &r, NULL),
                 AIGW_ERATELIMIT);
    int64_t fifty = 50 * U;
    cr_assert_eq(aigw__store_reserve(s, keys + 1, &fifty, 1, t1, h, &r, NULL), AIGW_OK);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

Test(store_redis, scripts_reload_and_keys_expire) {
    aigw__budget_set *set = budgets(TWO);
    aigw__store *s = store(1);
    aigw__store_key keys[2] = {{&set->items[0], ""}, {&set->items[1], ""}};
    aigw__hold h[2];
    aigw__refusal r;
    int64_t now = realtime();
    int64_t a[2] = {1 * U, 1 * U};
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_OK);
    redisContext *c = client();
    redisReply *rep = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(rep);
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_OK); /* NOSCRIPT */
    cr_assert_eq(aigw__store_settle(s, keys, h, (int64_t[]){0, 0}, 2, now, NULL), AIGW_OK);
    cr_assert_eq(remaining(s, &set->items[0], "", now), 99 * U);
    cr_assert_eq(remaining(s, &set->items[1], "", now), 49 * U);
    rep = redisCommand(c, "PTTL aigw:budget:b:");
    cr_assert_eq(rep->type, REDIS_REPLY_INTEGER);
    /* 1 unit missing at 10/s = 100 ms, plus the 60 s margin */
    cr_assert(rep->integer > 59000 && rep->integer <= 60100, "pttl %lld", rep->integer);
    freeReplyObject(rep);
    int64_t end;
    int64_t idx = aigw__window_index(AIGW__PER_MINUTE, now, &end);
    rep = redisCommand(c, "PTTL aigw:budget:w::w%lld", (long long)idx);
    cr_assert_eq(rep->type, REDIS_REPLY_INTEGER);
    cr_assert(rep->integer > 60000 && rep->integer <= 120000, "pttl %lld", rep->integer);
    freeReplyObject(rep);
    redisFree(c);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

/* ---- two clients, 32 threads each ---- */

typedef struct race {
    aigw__store *stores[2];
    aigw__store_key keys[2];
    int64_t now;
    _Atomic long long charged;
    atomic_int errors;
} race;

typedef struct racer_arg {
    race *rc;
    int id;
} racer_arg;

static void *racer(void *arg) {
    racer_arg *ra = arg;
    race *rc = ra->rc;
    aigw__store *s = rc->stores[ra->id % 2];
    unsigned seed = (unsigned)ra->id * 2654435761u + 1;
    for (int i = 0; i < 60; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t amt = (int64_t)(1 + (seed >> 16) % 7) * U;
        int64_t amounts[2] = {amt, amt};
        aigw__hold h[2];
        aigw__refusal r;
        aigw_status st = aigw__store_reserve(s, rc->keys, amounts, 2, rc->now, h, &r, NULL);
        if (st == AIGW_ERATELIMIT && !r.store_error)
            continue;
        if (st != AIGW_OK || h[0].skipped) {
            if (atomic_fetch_add(&rc->errors, 1) == 0)
                fprintf(stderr, "reserve: %s %s\n", aigw_status_name(st), r.why);
            continue;
        }
        int64_t act = (seed >> 20) % 2 ? amt : amt / 2;
        aigw_error *err = NULL;
        if (aigw__store_settle(s, rc->keys, h, (int64_t[]){act, act}, 2, rc->now, &err) &&
            atomic_fetch_add(&rc->errors, 1) == 0)
            fprintf(stderr, "settle: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        atomic_fetch_add(&rc->charged, act);
    }
    return NULL;
}

Test(store_redis, two_clients_sixty_four_threads_stay_exact) {
    aigw__budget_set *set = budgets(
        "[{\"name\":\"b\",\"cost\":\"1\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":2000,"
        "\"refill_per_second\":0}},"
        " {\"name\":\"w\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
        "\"max\":2000}}]");
    race rc = {.stores = {store(8), store(8)}, .now = realtime()};
    rc.keys[0] = (aigw__store_key){&set->items[0], ""};
    rc.keys[1] = (aigw__store_key){&set->items[1], ""};
    pthread_t th[64];
    racer_arg args[64];
    for (int i = 0; i < 64; i++) {
        args[i] = (racer_arg){&rc, i};
        cr_assert_eq(pthread_create(&th[i], NULL, racer, &args[i]), 0);
    }
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&rc.errors), 0);
    long long charged = atomic_load(&rc.charged);
    cr_assert_leq(charged, 2000 * U);
    cr_assert_eq(remaining(rc.stores[0], &set->items[0], "", rc.now), 2000 * U - charged);
    cr_assert_eq(remaining(rc.stores[1], &set->items[1], "", rc.now), 2000 * U - charged);
    cr_assert_lt(2000 * U - charged, 7 * U, "left %lld", 2000 * U - charged); /* filled */
    aigw__store_free(rc.stores[0]);
    aigw__store_free(rc.stores[1]);
    aigw__budgets_free(set);
}

/* ---- Redis goes away and comes back ---- */

/* Waits (10 s at most) until s has nothing queued to re-send. */
static void drain(aigw__store *s) {
    aigw__store_stats st;
    for (int i = 0; i < 1000; i++) {
        aigw__store_get_stats(s, &st);
        if (!st.pending)
            return;
        usleep(10000);
    }
    cr_assert_fail("%llu operations still queued after 10 s", st.pending);
}

static aigw__accountant *accountant(const char *policy) {
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "[{\"name\":\"g\",\"cost\":\"total_tokens\",\"limit\":{\"type\":\"window\","
             "\"per\":\"day\",\"max\":1000},\"on_store_error\":\"%s\"}]",
             policy);
    aigw__accountant *acc = NULL;
    cr_assert_eq(aigw__accountant_new(budgets(cfg), store(2), &acc, NULL), AIGW_OK);
    return acc;
}

static aigw_status ask(aigw__accountant *acc, aigw__ticket *t, aigw__account_refusal *r,
                       aigw_error **err) {
    aigw__identity id = {{NULL}};
    aigw__usage est = {10, 0, 0, 0, 10};
    return aigw__accountant_reserve(acc, &id, &est, t, r, err);
}

Test(store_redis, restart_with_fail_open_and_fail_closed) {
    aigw__accountant *open = accountant("fail_open"), *closed = accountant("fail_closed");
    aigw__ticket t1, t2, t3;
    aigw__account_refusal r;
    aigw_error *err = NULL;
    cr_assert_eq(ask(open, &t1, &r, NULL), AIGW_OK);
    cr_assert_eq(ask(closed, &t2, &r, NULL), AIGW_OK);

    redis_stop();
    /* fail_closed refuses, naming the budget; fail_open admits unmetered */
    cr_assert_eq(ask(closed, &t3, &r, &err), AIGW_EBUDGET);
    cr_assert_eq(r.store_error, 1);
    cr_assert_str_eq(r.budget, "g");
    cr_assert(strstr(aigw_error_message(err), "store is unreachable"), "%s",
              aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    aigw__ticket t4;
    cr_assert_eq(ask(open, &t4, &r, NULL), AIGW_OK);
    cr_assert_eq(t4.holds[0].skipped, 1);
    cr_assert_eq(aigw__accountant_settle(open, &t4, NULL, NULL), AIGW_OK); /* nothing to do */
    /* a settle that cannot reach Redis reports it (the reservation stays) */
    cr_assert_eq(aigw__accountant_settle(closed, &t2, NULL, &err), AIGW_ECONNECT);
    aigw_error_free(err);
    err = NULL;
    aigw__account_stats st;
    aigw__accountant_stats(closed, &st);
    cr_assert_eq(st.store_errors_closed, 1);
    aigw__accountant_stats(open, &st);
    cr_assert_eq(st.store_errors_open, 1);

    redis_start(); /* same port, empty: the pools reconnect */
    /* the settle queued while Redis was down is sent again (into the empty
     * Redis: it refunds nothing below 0) */
    drain(aigw__accountant_store(closed));
    cr_assert_eq(ask(closed, &t3, &r, &err), AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    cr_assert_eq(t3.holds[0].skipped, 0);
    cr_assert_eq(ask(open, &t4, &r, NULL), AIGW_OK);
    cr_assert_eq(t4.holds[0].skipped, 0);
    aigw__budget_status bs;
    cr_assert_eq(aigw__accountant_status(closed, 0, "", &bs, NULL), AIGW_OK);
    cr_assert_eq(bs.remaining, 980 * U); /* both accountants share the key */
    cr_assert_eq(aigw__accountant_settle(open, &t1, NULL, NULL), AIGW_OK);
    cr_assert_eq(aigw__accountant_settle(closed, &t3, NULL, NULL), AIGW_OK);
    cr_assert_eq(aigw__accountant_settle(open, &t4, NULL, NULL), AIGW_OK);
    aigw__accountant_free(open);
    aigw__accountant_free(closed);
}

/* ---- at most once per reservation id ---- */

static long long pttl(redisContext *c, const char *key) {
    redisReply *rep = redisCommand(c, "PTTL %s", key);
    cr_assert(rep && rep->type == REDIS_REPLY_INTEGER);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static void get_string(redisContext *c, const char *key, char *out, size_t cap) {
    redisReply *rep = redisCommand(c, "GET %s", key);
    cr_assert(rep);
    snprintf(out, cap, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

Test(store_redis, ids_apply_reserve_settle_and_cancel_at_most_once) {
    aigw__budget_set *set = budgets(TWO);
    aigw__store *s = store(2);
    const aigw__budget *b = &set->items[0], *w = &set->items[1];
    aigw__store_key keys[2] = {{b, "i|"}, {w, "i|"}};
    int64_t now = realtime();
    aigw__hold h[2], again[2];
    aigw__refusal r;
    int64_t a[2] = {10 * U, 10 * U};
    redisContext *c = client();
    char id[256], state[16];

    /* a reservation, and the same id again (a re-sent command): once */
    aigw__store_redis_next_serial(s, 1000);
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_OK);
    cr_assert_eq(h[0].id, 1000);
    aigw__store_redis_next_serial(s, 1000);
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, again, &r, NULL), AIGW_OK);
    cr_expect_eq(again[0].skipped, 0);
    cr_expect_eq(remaining(s, b, "i|", now), 90 * U);
    cr_expect_eq(remaining(s, w, "i|", now), 40 * U);
    aigw__store_redis_id_key(s, 1000, id, sizeof id);
    get_string(c, id, state, sizeof state);
    cr_expect_str_eq(state, "a");
    long long t = pttl(c, id);
    cr_expect(t > 0 && t <= AIGW__REDIS_MARKER_TTL_MS, "id key pttl %lld", t);
    /* its settlement, twice: once */
    int64_t act[2] = {4 * U, 4 * U};
    cr_assert_eq(aigw__store_settle(s, keys, h, act, 2, now, NULL), AIGW_OK);
    cr_assert_eq(aigw__store_settle(s, keys, h, act, 2, now, NULL), AIGW_OK);
    cr_expect_eq(remaining(s, b, "i|", now), 96 * U);
    cr_expect_eq(remaining(s, w, "i|", now), 46 * U);
    get_string(c, id, state, sizeof state);
    cr_expect_str_eq(state, "s");

    /* a reservation canceled before it arrives: arriving late, a no-op
     * (refused as a store failure, the budgets failing closed) */
    aigw__hold late[2] = {{.amount = 10 * U, .id = 2000}, {.amount = 10 * U, .id = 2000}};
    late[1].window = aigw__window_index(w->per, now, NULL);
    cr_assert_eq(aigw__store_redis_cancel(s, keys, late, 2, now, NULL), AIGW_OK);
    aigw__store_redis_next_serial(s, 2000);
    cr_expect_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_ERATELIMIT);
    cr_expect_eq(r.store_error, 1);
    cr_expect(strstr(r.why, "canceled"), "%s", r.why);
    cr_expect_eq(remaining(s, b, "i|", now), 96 * U);
    cr_expect_eq(remaining(s, w, "i|", now), 46 * U);
    aigw__store_redis_id_key(s, 2000, id, sizeof id);
    get_string(c, id, state, sizeof state);
    cr_expect_str_eq(state, "c");
    cr_expect_gt(pttl(c, id), 0);

    /* a reservation applied, then canceled twice: refunded once */
    aigw__store_redis_next_serial(s, 3000);
    cr_assert_eq(aigw__store_reserve(s, keys, a, 2, now, h, &r, NULL), AIGW_OK);
    cr_expect_eq(remaining(s, w, "i|", now), 36 * U);
    cr_assert_eq(aigw__store_redis_cancel(s, keys, h, 2, now, NULL), AIGW_OK);
    cr_assert_eq(aigw__store_redis_cancel(s, keys, h, 2, now, NULL), AIGW_OK);
    cr_expect_eq(remaining(s, b, "i|", now), 96 * U);
    cr_expect_eq(remaining(s, w, "i|", now), 46 * U);
    /* and a settle of a canceled one is a no-op */
    cr_assert_eq(aigw__store_settle(s, keys, h, act, 2, now, NULL), AIGW_OK);
    cr_expect_eq(remaining(s, w, "i|", now), 46 * U);

    /* every counter key expires: a window at its end (+ margin), a bucket
     * when full again (+ margin) */
    char key[256];
    snprintf(key, sizeof key, "aigw:budget:w:i|:w%lld",
             (long long)aigw__window_index(AIGW__PER_MINUTE, now, NULL));
    cr_expect_gt(pttl(c, key), 0);
    cr_expect_gt(pttl(c, "aigw:budget:b:i|"), 0);
    redisFree(c);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

/* A frozen Redis (SIGSTOP): the reservation times out on the client, and
 * is applied when Redis wakes (it waited in the socket). The store cancels
 * it once Redis answers again: the counter ends where it was, whether the
 * request was admitted unmetered (fail_open) or refused (fail_closed). A
 * settle that timed out is re-sent and applied once. */
Test(store_redis, a_reservation_lost_to_a_frozen_redis_is_canceled_exactly) {
    aigw__budget_set *set =
        budgets("[{\"name\":\"o\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
                "\"max\":1000},\"on_store_error\":\"fail_open\"},"
                " {\"name\":\"c\",\"cost\":\"1\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
                "\"max\":1000}}]");
    aigw__redis_options o = {.port = redis_port, .pool_size = 2, .timeout_ms = 300};
    aigw__store *s = NULL;
    cr_assert_eq(aigw__store_redis_new(&o, &s, NULL), AIGW_OK);
    const aigw__budget *open = &set->items[0], *closed = &set->items[1];
    aigw__store_key ko = {open, ""}, kc = {closed, ""};
    int64_t now = realtime();
    aigw__hold settled, h;
    aigw__refusal r;
    int64_t ten = 10 * U;
    /* one reservation made before the freeze, settled during it */
    cr_assert_eq(aigw__store_reserve(s, &kc, &ten, 1, now, &settled, &r, NULL), AIGW_OK);

    cr_assert_eq(kill(redis_pid, SIGSTOP), 0);
    memset(&r, 0, sizeof r);
    cr_expect_eq(aigw__store_reserve(s, &ko, &ten, 1, now, &h, &r, NULL), AIGW_OK);
    cr_expect_eq(h.skipped, 1, "fail_open: admitted unmetered");
    cr_expect(strstr(r.why, "budget store redis 127.0.0.1:") && strstr(r.why, "timeout"), "%s",
              r.why);
    memset(&r, 0, sizeof r);
    cr_expect_eq(aigw__store_reserve(s, &kc, &ten, 1, now, &h, &r, NULL), AIGW_ERATELIMIT);
    cr_expect_eq(r.store_error, 1, "fail_closed: refused");
    aigw_error *err = NULL;
    cr_expect_eq(aigw__store_settle(s, &kc, &settled, (int64_t[]){3 * U}, 1, now, &err),
                 AIGW_ECONNECT);
    cr_expect(err && strstr(aigw_error_message(err), "redis") &&
                  strstr(aigw_error_message(err), "queued"),
              "%s", err ? aigw_error_message(err) : "");
    aigw_error_free(err);
    aigw__store_stats st;
    aigw__store_get_stats(s, &st);
    cr_expect_eq(st.pending, 3, "2 cancels and a settlement queued, %llu", st.pending);
    usleep(300000);
    cr_assert_eq(kill(redis_pid, SIGCONT), 0);
    drain(s);
    aigw__store_get_stats(s, &st);
    cr_expect_eq(st.recovered, 3);
    cr_expect_eq(st.lost, 0);
    /* nothing charged for the refused or unmetered requests; the settled
     * one at its real cost, once */
    cr_expect_eq(remaining(s, open, "", now), 1000 * U);
    cr_expect_eq(remaining(s, closed, "", now), 997 * U);
    aigw__store_free(s);
    aigw__budgets_free(set);
}
