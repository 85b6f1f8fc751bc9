/* SPDX-License-Identifier: Apache-2.0 */
/* The simulator's default fault (tests/upstream/README.md): --fault SPEC,
 * POST /sim/fault (empty body clears), GET /sim/fault, count=N, and how it
 * yields to a request's own fault — what the routing tests use to make one
 * backend fail and recover. Raw HTTP, no libaigw. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.h"
#include "sim.h"
#include "sim_pool.h"

static aigw_test_sim sim;

static void stop(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(sim_default_fault, .fini = stop, .timeout = 30);

static const char chat[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}]}";

static long post_chat(const char *const *headers, const char *body, resp *out) {
    resp r = aigw_test_http(sim.port, "POST", "/v1/chat/completions", headers, body ? body : chat);
    cr_assert_eq(r.rc == CURLE_OK || r.rc == CURLE_GOT_NOTHING, 1, "curl: %s",
                 curl_easy_strerror(r.rc));
    long status = r.rc == CURLE_OK ? r.status : 0; /* 0: closed without an answer */
    if (out)
        *out = r;
    else
        resp_free(&r);
    return status;
}

static json_object *fault_state(void) {
    resp r = aigw_test_http(sim.port, "GET", "/sim/fault", NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_object *o = parse(r.body);
    resp_free(&r);
    return o;
}

Test(sim_default_fault, flag_applies_to_every_request_until_cleared) {
    const char *args[] = {"--fault", "status=503", NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    for (int i = 0; i < 3; i++) {
        resp r;
        cr_expect_eq(post_chat(NULL, NULL, &r), 503);
        cr_expect(strstr(r.body, "server_error") != NULL, "%s", r.body);
        resp_free(&r);
    }
    /* embeddings and model lists too */
    resp r = aigw_test_http(sim.port, "GET", "/v1/models", NULL, NULL);
    cr_expect_eq(r.status, 503);
    resp_free(&r);
    json_object *st = fault_state();
    cr_expect_str_eq(str_at(st, "fault"), "status=503");
    cr_expect_null(at(st, "remaining"));
    cr_expect_eq(int_at(st, "faulted"), 4);
    json_object_put(st);

    aigw_test_sim_fault(&sim, ""); /* empty body: cleared */
    cr_expect_eq(post_chat(NULL, NULL, NULL), 200);
    st = fault_state();
    cr_expect_null(at(st, "fault"));
    json_object_put(st);
    cr_expect_eq(aigw_test_sim_count(&sim), 5);
}

Test(sim_default_fault, set_at_runtime_and_count_limits_it) {
    cr_assert_eq(aigw_test_sim_start(&sim, NULL), 0);
    cr_expect_eq(post_chat(NULL, NULL, NULL), 200);
    aigw_test_sim_fault(&sim, "status=429,retry_after=1,count=2");
    json_object *st = fault_state();
    cr_expect_eq(int_at(st, "remaining"), 2);
    json_object_put(st);
    for (int i = 0; i < 2; i++) {
        resp r;
        cr_expect_eq(post_chat(NULL, NULL, &r), 429);
        cr_expect(strstr(r.headers, "Retry-After: 1\r\n") != NULL, "%s", r.headers);
        resp_free(&r);
    }
    cr_expect_eq(post_chat(NULL, NULL, NULL), 200, "count=2 outlived two requests");
    st = fault_state();
    cr_expect_null(at(st, "fault"));
    cr_expect_null(at(st, "remaining"));
    cr_expect_eq(int_at(st, "faulted"), 2);
    json_object_put(st);
}

Test(sim_default_fault, close_and_latency) {
    cr_assert_eq(aigw_test_sim_start(&sim, NULL), 0);
    aigw_test_sim_fault(&sim, "close=1");
    cr_expect_eq(post_chat(NULL, NULL, NULL), 0, "close=1 answered");
    aigw_test_sim_fault(&sim, "latency_ms=300");
    double t0 = aigw_test_now_ms();
    cr_expect_eq(post_chat(NULL, NULL, NULL), 200);
    cr_expect_geq(aigw_test_now_ms() - t0, 290.0);
    /* the introspection endpoints never get it */
    t0 = aigw_test_now_ms();
    cr_expect_geq(aigw_test_sim_count(&sim), 2);
    cr_expect_lt(aigw_test_now_ms() - t0, 250.0);
}

Test(sim_default_fault, own_fault_wins_and_does_not_use_the_count) {
    cr_assert_eq(aigw_test_sim_start(&sim, NULL), 0);
    aigw_test_sim_fault(&sim, "status=500,count=1");
    const char *const teapot[] = {"x-sim-fault: status=418", NULL};
    cr_expect_eq(post_chat(teapot, NULL, NULL), 418);
    cr_expect_eq(post_chat(NULL,
                           "{\"model\":\"m\",\"sim_fault\":\"status=404\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"x\"}]}",
                           NULL),
                 404);
    /* an empty x-sim-fault is a fault of its own: none */
    const char *const none[] = {"x-sim-fault;", NULL};
    cr_expect_eq(post_chat(none, NULL, NULL), 200);
    cr_expect_eq(post_chat(NULL, NULL, NULL), 500, "the count was used up by others");
    cr_expect_eq(post_chat(NULL, NULL, NULL), 200);
}

Test(sim_default_fault, reset_keeps_the_fault_bad_specs_keep_the_old_one) {
    cr_assert_eq(aigw_test_sim_start(&sim, NULL), 0);
    aigw_test_sim_fault(&sim, "status=502");
    cr_expect_eq(post_chat(NULL, NULL, NULL), 502);
    aigw_test_sim_reset(&sim);
    cr_expect_eq(aigw_test_sim_count(&sim), 0);
    json_object *st = fault_state();
    cr_expect_str_eq(str_at(st, "fault"), "status=502");
    cr_expect_eq(int_at(st, "faulted"), 0);
    json_object_put(st);
    cr_expect_eq(post_chat(NULL, NULL, NULL), 502);

    const char *bad[] = {"bogus=1", "status=99", "status", "count=0,status=500", "count=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp r = aigw_test_http(sim.port, "POST", "/sim/fault", NULL, bad[i]);
        cr_expect_eq(r.status, 400, "%s: %ld", bad[i], r.status);
        cr_expect(strstr(r.body, "\"error\"") != NULL, "%s", r.body);
        resp_free(&r);
    }
    st = fault_state();
    cr_expect_str_eq(str_at(st, "fault"), "status=502");
    json_object_put(st);
    resp r = aigw_test_http(sim.port, "PUT", "/sim/fault", NULL, "status=500");
    cr_expect_eq(r.status, 404);
    resp_free(&r);
}

Test(sim_default_fault, bad_flag_exits_2) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(AIGW_SIM_PATH, AIGW_SIM_PATH, "--port", "0", "--fault", "nope=1", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
}
