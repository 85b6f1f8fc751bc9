/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of budget accounting (lib/account): the cost of reserving a
 * request's estimate and settling it with the real usage.
 *
 *   store, 1 budget    aigw__store_reserve + aigw__store_settle, one bucket
 *   store, 3 budgets   the same across a bucket and two windows at once
 *   accountant         aigw__accountant_reserve + _settle: scope matching
 *                      (a per-user "*" budget among them), cost expressions,
 *                      the store, 3 matching budgets of 4
 *   accountant, T thr  the same from T threads at once (distinct users, one
 *                      shared global bucket), ns per request per thread
 *
 * With -r PORT, the same store and accountant runs (fewer requests: -m)
 * against a Redis on 127.0.0.1:PORT: one round trip for the reserve and
 * one for the settle (its keys are created under aigw:budget:).
 *
 * Usage: bench_account [-n REQUESTS] [-t THREADS] [-r REDIS_PORT] [-m REDIS_REQUESTS]
 * See bench/README.md, "Accounting", for figures. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account/accountant.h"
#include "account/store_redis.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *config =
    "[{\"name\":\"global\",\"cost\":\"total_tokens\",\"limit\":{\"type\":\"token_bucket\","
    "\"capacity\":1e9,\"refill_per_second\":1e9}},"
    " {\"name\":\"team\",\"scope\":{\"team\":\"eng\"},\"cost\":\"input_tokens + "
    "0.1*cached_input_tokens + 4*output_tokens\",\"limit\":{\"type\":\"window\",\"per\":"
    "\"month\",\"max\":9e9}},"
    " {\"name\":\"user\",\"scope\":{\"user\":\"*\"},\"cost\":\"requests\",\"limit\":{\"type\":"
    "\"window\",\"per\":\"day\",\"max\":1e9}},"
    " {\"name\":\"other\",\"scope\":{\"team\":\"ops\"},\"cost\":\"1\",\"limit\":{\"type\":"
    "\"window\",\"per\":\"day\",\"max\":1e9}}]";

static aigw__budget_set *load(void) {
    json_object *j = json_tokener_parse(config);
    aigw__budget_set *set = NULL;
    if (!j || aigw__budgets_parse(j, &set, NULL)) {
        fprintf(stderr, "bad config\n");
        exit(1);
    }
    json_object_put(j);
    return set;
}

static int redis_port;

static aigw__store *new_store(void) {
    aigw__store *s = NULL;
    if (redis_port) {
        aigw__redis_options o = {.port = redis_port, .pool_size = 8, .timeout_ms = 1000};
        aigw__store_redis_new(&o, &s, NULL);
    } else {
        aigw__store_memory_new(&s, NULL);
    }
    return s;
}

static const char *where(void) {
    return redis_port ? "redis " : "memory";
}

static void bench_store(long n, size_t k) {
    aigw__budget_set *set = load();
    aigw__store *s = new_store();
    aigw__store_key keys[3] = {{&set->items[0], ""}, {&set->items[1], ""}, {&set->items[2], "u|"}};
    int64_t est[3] = {1000, 1000, 1000}, act[3] = {700, 700, 1000};
    aigw__hold h[3];
    aigw__refusal r;
    struct timespec ts;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        if (aigw__store_reserve(s, keys, est, k, now, h, &r, NULL) ||
            aigw__store_settle(s, keys, h, act, k, now, NULL)) {
            fprintf(stderr, "refused\n");
            exit(1);
        }
    }
    double dt = now_s() - t0;
    printf("%s store, %zu budget%s        %9.1f ns per reserve+settle (%ld requests)\n", where(), k,
           k > 1 ? "s" : " ", dt * 1e9 / (double)n, n);
    aigw__store_free(s);
    aigw__budgets_free(set);
}

typedef struct job {
    aigw__accountant *acc;
    long n;
    int id;
    double seconds;
} job;

static void *run_accountant(void *arg) {
    job *j = arg;
    char user[32];
    snprintf(user, sizeof user, "user-%d", j->id);
    aigw__identity id = {{NULL}};
    id.v[AIGW__SCOPE_TEAM] = "eng";
    id.v[AIGW__SCOPE_USER] = user;
    id.v[AIGW__SCOPE_MODEL] = "gpt-4o";
    aigw__usage est = {500, 0, 256, 0, 756}, real = {480, 100, 120, 0, 600};
    aigw__ticket t;
    aigw__account_refusal r;
    double t0 = now_s();
    for (long i = 0; i < j->n; i++) {
        if (aigw__accountant_reserve(j->acc, &id, &est, &t, &r, NULL) ||
            aigw__accountant_settle(j->acc, &t, &real, NULL)) {
            fprintf(stderr, "refused\n");
            exit(1);
        }
    }
    j->seconds = now_s() - t0;
    return NULL;
}

static void bench_accountant(long n, int threads) {
    aigw__store *s = new_store();
    aigw__accountant *acc = NULL;
    aigw__accountant_new(load(), s, &acc, NULL);
    job jobs[256];
    pthread_t th[256];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){acc, n, i, 0};
        pthread_create(&th[i], NULL, run_accountant, &jobs[i]);
    }
    double worst = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].seconds > worst)
            worst = jobs[i].seconds;
    }
    printf("%s accountant, %d thread%s     %9.1f ns per reserve+settle per thread (%ld requests "
           "each; %.0f requests/s in all)\n",
           where(), threads, threads > 1 ? "s" : " ", worst * 1e9 / (double)n, n,
           (double)n * threads / worst);
    aigw__accountant_free(acc);
}

int main(int argc, char **argv) {
    long n = 2000000, m = 20000;
    int threads = 4, opt, port = 0;
    while ((opt = getopt(argc, argv, "n:t:r:m:")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'r')
            port = atoi(optarg);
        else if (opt == 'm')
            m = atol(optarg);
        else {
            fprintf(stderr, "usage: bench_account [-n REQUESTS] [-t THREADS] [-r REDIS_PORT] "
                            "[-m REDIS_REQUESTS]\n");
            return 2;
        }
    }
    if (n < threads || m < threads || threads < 1 || threads > 256)
        return 2;
    bench_store(n, 1);
    bench_store(n, 3);
    bench_accountant(n, 1);
    bench_accountant(n / threads, threads);
    if (port) {
        redis_port = port;
        bench_store(m, 1);
        bench_store(m, 3);
        bench_accountant(m, 1);
        bench_accountant(m / threads, threads);
    }
    return 0;
}
