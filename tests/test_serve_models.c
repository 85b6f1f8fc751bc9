/* SPDX-License-Identifier: Apache-2.0 */
/* `aigw-cli serve`'s GET /v1/models (issue 13, "no pool starvation"): the
 * listing goes through the async engine on the worker's loop, never a
 * thread waiting on a backend. With a backend that accepts connections and
 * never answers, and the budgets' Redis frozen (SIGSTOP), eight listings
 * in flight leave chat calls and /healthz answering at once; the listings
 * themselves end with a 504 after the listing timeout, not the backend's
 * 600 s. Also: without routes every backend's models are listed; a backend
 * that refuses the connection is a 502. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "redis.h"
#include "gateway.h"
#include "serve_proc.h"
#include "sim.h"

#define GW_KEY "sk-gw-models"
#define UP_KEY "sk-upstream-models"

static aigw_test_serve S;
static aigw_test_redis redis;
static aigw_test_sim sim;
static int frozen_fd = -1;

static void cleanup(void) {
    if (redis.pid > 0)
        kill(redis.pid, SIGCONT);
    aigw_test_serve_stop_logged(&S, 5000);
    aigw_test_redis_stop(&redis);
    aigw_test_sim_stop(&sim);
    if (frozen_fd >= 0)
        close(frozen_fd);
    frozen_fd = -1;
}

TestSuite(serve_models, .fini = cleanup, .timeout = 120);

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A loopback listener that never accepts: connections complete in the
 * kernel's backlog and no byte ever comes back. Returns its port. */
static int frozen_backend(void) {
    frozen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(frozen_fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(frozen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(frozen_fd, 64), 0);
    socklen_t len = sizeof a;
    cr_assert_eq(getsockname(frozen_fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static const char *auth[] = {"Authorization: Bearer " GW_KEY, NULL};

typedef struct lister {
    int port;
    long status;
    double seconds;
    atomic_int *done;
} lister;

static void *lister_main(void *arg) {
    lister *l = arg;
    double t0 = mono();
    aigw_test_resp r = aigw_test_http(l->port, "GET", "/v1/models", auth, NULL);
    l->seconds = mono() - t0;
    l->status = r.status;
    aigw_test_resp_free(&r);
    atomic_fetch_add(l->done, 1);
    return NULL;
}

Test(serve_models, a_frozen_backend_and_frozen_redis_starve_nothing) {
    int rc = aigw_test_redis_start(&redis, 0);
    if (rc == 1)
        cr_skip_test("redis-server is not installed");
    cr_assert_eq(rc, 0, "redis-server did not start");
    int fport = frozen_backend();
    char hex[65], config[4096];
    aigw_test_key_sha256(GW_KEY, hex);
    /* Every chat body is parsed on libuv's pool (json_offload_bytes 1): a
     * listing holding that pool's threads would stall every chat. */
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"frozen\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:%d/v1\","
             "\"api_key\":\"k\"},\"mock\":{\"schema\":\"mock\"}},"
             "\"gateway\":{\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}],"
             "\"limits\":{\"json_offload_bytes\":1}},"
             "\"budgets\":[{\"name\":\"all\",\"cost\":\"input_tokens + output_tokens\","
             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000000,"
             "\"refill_per_second\":0},\"on_store_error\":\"fail_open\"}],"
             "\"accounting\":{\"store\":{\"type\":\"redis\",\"host\":\"127.0.0.1\",\"port\":%d,"
             "\"prefix\":\"aigw:models:%d:\",\"timeout_ms\":300,\"pool_size\":4}}}",
             fport, hex, redis.port, (int)getpid());
    cr_assert_eq(aigw_test_serve_start(&S, config, 1, NULL), 0, "serve did not start");

    const char *body = "{\"model\":\"mock/echo\",\"max_tokens\":4,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"a b c\"}]}";
    aigw_test_resp r = aigw_test_http(S.port, "POST", "/v1/chat/completions", auth, body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    aigw_test_resp_free(&r);

    cr_assert_eq(kill(redis.pid, SIGSTOP), 0);
    atomic_int done = 0;
    lister ls[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        ls[i] = (lister){.port = S.port, .done = &done};
        cr_assert_eq(pthread_create(&th[i], NULL, lister_main, &ls[i]), 0);
    }
    struct timespec settle = {0, 500 * 1000000L}; /* the listings reach the backend */
    nanosleep(&settle, NULL);

    for (int i = 0; i < 6; i++) {
        double t0 = mono();
        r = aigw_test_http(S.port, "POST", "/v1/chat/completions", auth, body);
        double chat_s = mono() - t0;
        cr_expect_eq(r.status, 200, "chat %d: %ld %s", i, r.status, r.body);
        cr_expect_lt(chat_s, 2.0, "chat %d took %.2f s", i, chat_s);
        aigw_test_resp_free(&r);
        t0 = mono();
        r = aigw_test_http(S.port, "GET", "/healthz", NULL, NULL);
        double health_s = mono() - t0;
        cr_expect_eq(r.status, 200);
        cr_expect_lt(health_s, 2.0, "healthz took %.2f s", health_s);
        aigw_test_resp_free(&r);
    }
    cr_expect_eq(atomic_load(&done), 0, "the listings were not pending while the chats ran");

    kill(redis.pid, SIGCONT);
    /* The listings end with the listing timeout (15 s), well before the
     * backend's own (600 s) and the test client's (20 s). */
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(ls[i].status, 504, "listing %d: %ld after %.1f s", i, ls[i].status,
                     ls[i].seconds);
        cr_expect_lt(ls[i].seconds, 19.5, "listing %d took %.1f s", i, ls[i].seconds);
    }
    r = aigw_test_http(S.port, "GET", "/healthz", NULL, NULL);
    cr_expect_eq(r.status, 200);
    aigw_test_resp_free(&r);
}

Test(serve_models, without_routes_every_backend_is_listed) {
    const char *args[] = {"--api-key", UP_KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    char hex[65], config[4096];
    aigw_test_key_sha256(GW_KEY, hex);
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\"},"
             "\"m\":{\"schema\":\"mock\"}},"
             "\"gateway\":{\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}]}}",
             sim.base_url, UP_KEY, hex);
    cr_assert_eq(aigw_test_serve_start(&S, config, 2, NULL), 0, "serve did not start");
    aigw_test_resp r = aigw_test_http(S.port, "GET", "/v1/models", auth, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.body, "\"sim/gpt-4o-mini\"") != NULL, "%s", r.body);
    cr_expect(strstr(r.body, "\"m/echo\"") != NULL, "%s", r.body);
    cr_expect(strstr(r.body, "\"object\":\"list\"") != NULL, "%s", r.body);
    /* sim's models come first: backend order */
    const char *sim_at = strstr(r.body, "sim/"), *m_at = strstr(r.body, "m/echo");
    cr_expect(sim_at && m_at && sim_at < m_at, "%s", r.body);
    aigw_test_resp_free(&r);
}

Test(serve_models, a_refused_backend_is_a_502) {
    int closed = aigw_test_free_port();
    char hex[65], config[4096];
    aigw_test_key_sha256(GW_KEY, hex);
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"m\":{\"schema\":\"mock\"},"
             "\"gone\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:%d/v1\","
             "\"api_key\":\"k\"}},"
             "\"gateway\":{\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}]}}",
             closed, hex);
    cr_assert_eq(aigw_test_serve_start(&S, config, 1, NULL), 0, "serve did not start");
    aigw_test_resp r = aigw_test_http(S.port, "GET", "/v1/models", auth, NULL);
    cr_expect_eq(r.status, 502, "%s", r.body);
    cr_expect(strstr(r.body, "\"error\"") != NULL, "%s", r.body);
    aigw_test_resp_free(&r);
    /* the gateway goes on serving */
    r = aigw_test_http(
        S.port, "POST", "/v1/chat/completions", auth,
        "{\"model\":\"m/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
    cr_expect_eq(r.status, 200, "%s", r.body);
    aigw_test_resp_free(&r);
}

Test(serve_models, serve_stops_with_listings_pending) {
    int fport = frozen_backend();
    char hex[65], config[4096];
    aigw_test_key_sha256(GW_KEY, hex);
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"frozen\":{\"schema\":\"openai\",\"base_url\":\"http://127.0.0.1:%d/v1\","
             "\"api_key\":\"k\"}},"
             "\"gateway\":{\"keys\":[{\"sha256\":\"%s\",\"name\":\"ci\"}],"
             "\"shutdown_timeout_ms\":1000}}",
             fport, hex);
    cr_assert_eq(aigw_test_serve_start(&S, config, 2, NULL), 0, "serve did not start");
    atomic_int done = 0;
    lister ls[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        ls[i] = (lister){.port = S.port, .done = &done};
        cr_assert_eq(pthread_create(&th[i], NULL, lister_main, &ls[i]), 0);
    }
    struct timespec settle = {0, 500 * 1000000L};
    nanosleep(&settle, NULL);
    cr_expect_eq(atomic_load(&done), 0);
    double t0 = mono();
    /* SIGTERM: after the 1 s grace the listings are canceled and serve
     * exits 0 (it is not killed), long before a listing's own timeout. */
    int status = aigw_test_serve_stop(&S, 12000);
    double stop_s = mono() - t0;
    cr_expect_neq(status, -1, "serve had to be killed after %.1f s", stop_s);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
}
