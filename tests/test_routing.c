/* SPDX-License-Identifier: Apache-2.0 */
/* Routing and resilience end to end (issue #6): a client whose config has
 * "routes" and "outlier_ejection", in front of three provider simulators
 * (one per backend: a, b, c) and a dead port (backend "dead"). Each
 * simulator's default fault (POST /sim/fault) makes its backend fail and
 * recover; its request count says what reached it.
 *
 * Covered: retry on 429 honouring Retry-After, 500, 503, reset, refused,
 * timeouts before the first byte (route first_byte, backend timeout_ms);
 * streams fall back only before their first chunk; a caller's 4xx is never
 * retried; the final error names every attempt; priority tiers; a 3:1
 * weight split checked statistically, and weights re-normalised when one
 * backend is ejected; per-backend model rewrite; header routes, globs, the
 * first match, the no-route fallback; the outlier-ejection timeline
 * (eject, half-open probe, growing interval, recovery; one probe at a
 * time; all ejected still tries the best one); the same on a uv loop
 * (aigw_call_async); config validation with JSON paths (from a string and
 * aigw_config_check); aigw_models listing the routes' models.
 *
 * Statistical bounds: a test that draws n backends with probability p
 * accepts |count - np| <= 5.1 sd (sd = sqrt(np(1-p))); a correct library
 * fails that less than 4e-7 of the time. */
#include <criterion/criterion.h>

#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "aigw/aigw.h"
#include "aigw/async.h"
#include "sim.h"
#include "sim_pool.h"

#define KEY "sk-routing-test"
#define NSIM 3
#define PROMPT "hello routing"
#define ANSWER "echo: " PROMPT

static aigw_test_sim sims[NSIM];
#define SA (&sims[0])
#define SB (&sims[1])
#define SC (&sims[2])
static int dead_fd = -1, dead_port;
static aigw_client *client;
static char cfg_path[128];

static void setup(void) {
    const char *args[] = {"--api-key", KEY, NULL};
    cr_assert_eq(aigw_test_sims_start(sims, NSIM, args), 0, "simulators did not start");
    dead_port = aigw_test_dead_port(&dead_fd);
    cr_assert_gt(dead_port, 0);
    snprintf(cfg_path, sizeof cfg_path, "/tmp/aigw-routing-test-%d.json", (int)getpid());
}

static void teardown(void) {
    aigw_client_free(client);
    client = NULL;
    aigw_test_sims_stop(sims, NSIM);
    if (dead_fd >= 0)
        close(dead_fd);
    dead_fd = -1;
    unlink(cfg_path);
}

TestSuite(routing, .init = setup, .fini = teardown, .timeout = 60);

/* ---- configs ---- */

/* A config with backends a, b, c (the simulators) and dead, plus `rest`
 * (",\"routes\": [...]" and so on). `a_extra` goes inside backend a's
 * object (e.g. ",\"timeout_ms\": 300"). */
static char *config_text(const char *a_extra, const char *rest) {
    static char buf[16384];
    int n = snprintf(
        buf, sizeof buf,
        "{\"env_defaults\": false, \"backends\": {"
        "\"a\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"%s},"
        "\"b\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"},"
        "\"c\": {\"schema\": \"openai\", \"base_url\": \"%s\", \"api_key\": \"" KEY "\"},"
        "\"dead\": {\"schema\": \"openai\", \"base_url\": "
        "\"http://127.0.0.1:%d/v1\", \"api_key\": \"" KEY "\"}}%s}",
        SA->base_url, a_extra ? a_extra : "", SB->base_url, SC->base_url, dead_port,
        rest ? rest : "");
    cr_assert(n > 0 && (size_t)n < sizeof buf);
    return buf;
}

static aigw_client *make_client(const char *a_extra, const char *rest) {
    aigw_client *c = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw_client_new_from_string(&c, config_text(a_extra, rest), &err);
    cr_assert_eq(st, AIGW_OK, "config refused: %s (%s)", aigw_error_message(err),
                 aigw_status_name(st));
    aigw_error_free(err);
    return c;
}

/* Fast retries: 1 ms backoff, at most 5 ms. */
#define FAST_RETRY(attempts)                                                                       \
    "\"retry\": {\"attempts\": " #attempts ", \"backoff_ms\": 1, \"max_backoff_ms\": 5}"

/* Route gpt-4o to a, falling back to b (priority 1), with FAST_RETRY. */
#define A_THEN_B(attempts)                                                                         \
    ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"                                          \
    " \"backends\": [{\"backend\": \"a\"}, {\"backend\": \"b\", \"priority\": 1}]," FAST_RETRY(    \
        attempts) "}]"

/* Outlier ejection after `threshold` failures, for base_ms growing to max_ms. */
#define EJECTION(threshold, base_ms, max_ms)                                                       \
    ", \"outlier_ejection\": {\"failure_threshold\": " #threshold ", \"base_eject_ms\": " #base_ms \
    ", \"max_eject_ms\": " #max_ms "}"

/* Ejection that never gets in the way of tests that are not about it. */
#define NO_EJECTION EJECTION(1000, 1, 1)

/* ---- calls ---- */

typedef struct outcome {
    aigw_status st;
    char *response;
    char message[2048];
    int http_status;
    char body[2048];
    aigw_call_info info;
    double ms;
    int chunks;
    char text[4096]; /* the stream's delta contents, concatenated */
} outcome;

static void outcome_free(outcome *o) {
    aigw_free(o->response);
    o->response = NULL;
}

static void take_error(outcome *o, const aigw_error *err) {
    snprintf(o->message, sizeof o->message, "%s", err ? aigw_error_message(err) : "");
    o->http_status = err ? aigw_error_http_status(err) : 0;
    const char *b = err ? aigw_error_body(err) : NULL;
    snprintf(o->body, sizeof o->body, "%s", b ? b : "");
}

static void add_chunk_text(outcome *o, const char *json, size_t len) {
    json_tokener *tok = json_tokener_new();
    json_object *c = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    cr_assert_not_null(c, "chunk is not JSON: %.*s", (int)len, json);
    json_object *choices, *delta, *content;
    if (json_object_object_get_ex(c, "choices", &choices) &&
        json_object_array_length(choices) > 0 &&
        json_object_object_get_ex(json_object_array_get_idx(choices, 0), "delta", &delta) &&
        json_object_object_get_ex(delta, "content", &content) &&
        json_object_is_type(content, json_type_string)) {
        size_t have = strlen(o->text);
        snprintf(o->text + have, sizeof o->text - have, "%s", json_object_get_string(content));
    }
    json_object_put(c);
    o->chunks++;
}

static int on_chunk(const char *json, size_t len, void *user) {
    add_chunk_text(user, json, len);
    return 0;
}

static char *request_json(const char *model, int stream) {
    static __thread char buf[512];
    snprintf(buf, sizeof buf,
             "{\"model\": \"%s\", %s\"messages\": [{\"role\": \"user\", \"content\": \"" PROMPT
             "\"}]}",
             model, stream ? "\"stream\": true, " : "");
    return buf;
}

/* One call of `op` for `model` with request headers hdrs (NULL-terminated
 * name, value pairs; may be NULL). */
static outcome call_h(aigw_client *c, aigw_op op, const char *model, const char *const *hdrs) {
    outcome o;
    memset(&o, 0, sizeof o);
    aigw_header h[8];
    size_t nh = 0;
    for (; hdrs && hdrs[2 * nh] && nh < 8; nh++) {
        h[nh].name = hdrs[2 * nh];
        h[nh].value = hdrs[2 * nh + 1];
    }
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.headers = nh ? h : NULL;
    opts.n_headers = nh;
    opts.info = &o.info;
    aigw_error *err = NULL;
    double t0 = aigw_test_now_ms();
    o.st = aigw_call(c, op, request_json(model, op == AIGW_OP_CHAT_STREAM), &opts, on_chunk, &o,
                     op == AIGW_OP_CHAT_STREAM ? NULL : &o.response, &err);
    o.ms = aigw_test_now_ms() - t0;
    take_error(&o, err);
    aigw_error_free(err);
    return o;
}

static outcome call(aigw_client *c, aigw_op op, const char *model) {
    return call_h(c, op, model, NULL);
}

/* A chat for model that must succeed; returns the backend that answered. */
static const char *chat_ok(aigw_client *c, const char *model) {
    static __thread char backend[64];
    outcome o = call(c, AIGW_OP_CHAT, model);
    cr_assert_eq(o.st, AIGW_OK, "chat %s: %s (%s)", model, o.message, aigw_status_name(o.st));
    cr_assert(strstr(o.response, ANSWER) != NULL, "%s", o.response);
    snprintf(backend, sizeof backend, "%s", o.info.backend);
    outcome_free(&o);
    return backend;
}

static void expect_counts(long a, long b, long c) {
    aigw_test_sims_expect_counts(sims, a, b, c);
}

/* "backend NAME: <reason> after N ms" appears in msg. */
static int names_attempt(const char *msg, const char *backend, const char *reason) {
    char want[128];
    snprintf(want, sizeof want, "backend %s: %s", backend, reason ? reason : "");
    const char *p = strstr(msg, want);
    if (!p)
        return 0;
    const char *after = strstr(p, " after ");
    const char *end = strchr(p, ';');
    if (!after || (end && after > end))
        return 0;
    long ms = -1;
    return sscanf(after, " after %ld ms", &ms) == 1 && ms >= 0;
}

/* ---- retries and fallback ---- */

Test(routing, retry_429_honours_retry_after) {
    client = make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                               " \"backends\": [{\"backend\": \"a\"}],"
                               " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1,"
                               " \"max_backoff_ms\": 5000, \"timeouts_ms\": {\"total\": 20000}}}]");
    aigw_test_sim_fault(SA, "status=429,retry_after=1,count=1");
    outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_assert_eq(o.st, AIGW_OK, "%s", o.message);
    cr_expect(strstr(o.response, ANSWER) != NULL);
    cr_expect_geq(o.ms, 950.0, "Retry-After: 1 not honoured: retried after %.0f ms", o.ms);
    cr_expect_lt(o.ms, 5000.0, "took %.0f ms", o.ms);
    cr_expect_eq(o.info.attempts, 2);
    cr_expect_str_eq(o.info.backend, "a");
    expect_counts(2, 0, 0);
    outcome_free(&o);
}

/* A plan shorter than the attempt budget cycles: one backend, 3 attempts. */
Test(routing, attempts_cycle_over_a_short_plan) {
    client =
        make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                          " \"backends\": [{\"backend\": \"a\"}]," FAST_RETRY(3) "}]" NO_EJECTION);
    aigw_test_sim_fault(SA, "status=503,count=2");
    outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_expect_eq(o.st, AIGW_OK, "%s", o.message);
    cr_expect_eq(o.info.attempts, 3);
    expect_counts(3, 0, 0);
    outcome_free(&o);
    aigw_test_sim_fault(SA, "status=503");
    aigw_test_sim_reset(SA);
    o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_expect_eq(o.st, AIGW_EUPSTREAM, "%s", o.message);
    cr_expect_eq(o.http_status, 503);
    const char *p = o.message;
    int named = 0;
    while ((p = strstr(p, "backend a: HTTP 503 after ")) != NULL) {
        named++;
        p++;
    }
    cr_expect_eq(named, 3, "%s", o.message);
    expect_counts(3, 0, 0);
    outcome_free(&o);
}

/* Backend `first` fails ("a" with `spec`, a default fault; or "dead", whose
 * connections are refused) and b (priority 1) serves, whole and streamed. */
static void fallback_from(const char *first, const char *spec, const char *a_extra,
                          const char *timeouts) {
    const char *what = spec ? spec : first;
    char rest[1024];
    snprintf(
        rest, sizeof rest,
        ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
        " \"backends\": [{\"backend\": \"%s\"}, {\"backend\": \"b\", \"priority\": 1}],"
        " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1, \"max_backoff_ms\": 5%s}}]" NO_EJECTION,
        first, timeouts ? timeouts : "");
    client = make_client(a_extra, rest);
    if (spec)
        aigw_test_sim_fault(SA, spec);
    for (int op = 0; op < 2; op++) {
        aigw_test_sim_reset(SA);
        aigw_test_sim_reset(SB);
        outcome o = call(client, op ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT, "gpt-4o");
        cr_assert_eq(o.st, AIGW_OK, "%s: %s (%s)", what, o.message, aigw_status_name(o.st));
        if (op) {
            cr_expect_str_eq(o.text, ANSWER, "the stream's text, once");
        } else {
            cr_expect(strstr(o.response, ANSWER) != NULL);
        }
        cr_expect_str_eq(o.info.backend, "b");
        cr_expect_eq(o.info.attempts, 2, "%s: %u attempts", what, o.info.attempts);
        expect_counts(spec ? 1 : 0, 1, 0);
        outcome_free(&o);
    }
}

/* Backend a fails with `spec` (a default fault), b (priority 1) serves. */
static void fallback_case(const char *spec, const char *a_extra, const char *timeouts) {
    fallback_from("a", spec, a_extra, timeouts);
}

Test(routing, fallback_on_500) {
    fallback_case("status=500", NULL, NULL);
}

Test(routing, fallback_on_503) {
    fallback_case("status=503", NULL, NULL);
}

Test(routing, fallback_on_429_without_retry_after) {
    fallback_case("status=429", NULL, NULL);
}

Test(routing, fallback_on_connection_reset) {
    fallback_case("close=1", NULL, NULL);
}

Test(routing, fallback_on_first_byte_timeout) {
    double t0 = aigw_test_now_ms();
    fallback_case("latency_ms=3000", NULL, ", \"timeouts_ms\": {\"first_byte\": 250}");
    cr_expect_lt(aigw_test_now_ms() - t0, 2500.0, "the first-byte timeout was not applied");
}

Test(routing, fallback_on_backend_timeout) {
    double t0 = aigw_test_now_ms();
    fallback_case("latency_ms=3000", ", \"timeout_ms\": 250", NULL);
    cr_expect_lt(aigw_test_now_ms() - t0, 2500.0, "backend a's timeout_ms was not applied");
}

Test(routing, fallback_on_connection_refused) {
    fallback_from("dead", NULL, NULL, NULL);
}

/* ---- streams: fallback only before the first chunk ---- */

static void no_fallback_after_first_chunk(const char *spec, const char *a_extra, aigw_status want) {
    client = make_client(a_extra, A_THEN_B(3) NO_EJECTION);
    aigw_test_sim_fault(SA, spec);
    outcome o = call(client, AIGW_OP_CHAT_STREAM, "gpt-4o");
    cr_expect_eq(o.st, want, "%s: %s (%s)", spec, aigw_status_name(o.st), o.message);
    cr_expect_geq(o.chunks, 1, "%s: no chunk reached the caller", spec);
    cr_expect_eq(o.info.attempts, 1, "%s: %u attempts after the first chunk", spec,
                 o.info.attempts);
    cr_expect(strstr(o.text, "echo:") == o.text && strlen(o.text) < strlen(ANSWER), "%s: text '%s'",
              spec, o.text);
    expect_counts(1, 0, 0); /* b never asked: falling back would repeat output */
    outcome_free(&o);
}

Test(routing, stream_cut_after_first_chunk_does_not_fall_back) {
    no_fallback_after_first_chunk("cut_after=2", NULL, AIGW_ETRUNCATED);
}

Test(routing, stream_error_event_after_first_chunk_does_not_fall_back) {
    no_fallback_after_first_chunk("error_event=1", NULL, AIGW_EUPSTREAM);
}

/* A slow stream: the first chunk comes at once, the next ones 400 ms apart,
 * and backend a gives up after 600 ms: a timeout mid-stream. */
Test(routing, slow_stream_timeout_after_first_chunk_does_not_fall_back) {
    double t0 = aigw_test_now_ms();
    no_fallback_after_first_chunk("event_ms=400", ", \"timeout_ms\": 600", AIGW_ETIMEOUT);
    cr_expect_lt(aigw_test_now_ms() - t0, 3000.0);
}

/* first_byte limits the wait for the answer to start, not the stream: one
 * whose events come 150 ms apart (about 450 ms in all) passes a 250 ms
 * first-byte limit. */
Test(routing, slow_stream_within_first_byte_limit_succeeds) {
    client =
        make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                          " \"backends\": [{\"backend\": \"a\"},"
                          " {\"backend\": \"b\", \"priority\": 1}],"
                          " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1, \"max_backoff_ms\": 5,"
                          " \"timeouts_ms\": {\"first_byte\": 250}}}]" NO_EJECTION);
    aigw_test_sim_fault(SA, "event_ms=150");
    outcome o = call(client, AIGW_OP_CHAT_STREAM, "gpt-4o");
    cr_expect_eq(o.st, AIGW_OK, "%s (%s)", o.message, aigw_status_name(o.st));
    cr_expect_str_eq(o.text, ANSWER);
    cr_expect_str_eq(o.info.backend, "a");
    cr_expect_geq(o.ms, 300.0, "the stream was not slow (%.0f ms)", o.ms);
    expect_counts(1, 0, 0);
    outcome_free(&o);
}

/* timeouts_ms.total bounds every attempt and wait together: a hangs and b
 * is slow, so whatever is left after a's attempt cannot hold b's answer;
 * the call ends at about 400 ms, not at a's or b's own pace. */
Test(routing, total_timeout_bounds_the_whole_call) {
    client =
        make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                          " \"backends\": [{\"backend\": \"a\"},"
                          " {\"backend\": \"b\", \"priority\": 1}],"
                          " \"retry\": {\"attempts\": 3, \"backoff_ms\": 1, \"max_backoff_ms\": 5,"
                          " \"timeouts_ms\": {\"total\": 400}}}]" NO_EJECTION);
    aigw_test_sim_fault(SA, "latency_ms=3000");
    aigw_test_sim_fault(SB, "latency_ms=1000");
    for (int op = 0; op < 2; op++) {
        outcome o = call(client, op ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT, "gpt-4o");
        cr_expect_eq(o.st, AIGW_ETIMEOUT, "%s (%s)", o.message, aigw_status_name(o.st));
        cr_expect(o.ms >= 350 && o.ms < 900, "the call took %.0f ms (total 400)", o.ms);
        /* the attempt list, or (one attempt) a's own error */
        cr_expect(names_attempt(o.message, "a", "timed out") ||
                      (strstr(o.message, "\"a\"") && strstr(o.message, "timed out")),
                  "%s", o.message);
        cr_expect_eq(o.chunks, 0);
        outcome_free(&o);
    }
    cr_expect_eq(aigw_test_sim_count(SA), 2);
}

Test(routing, stream_falls_back_before_first_chunk) {
    client = make_client(NULL, A_THEN_B(2) NO_EJECTION);
    const char *specs[] = {"status=503", "close=1", "malformed=1"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        aigw_test_sim_fault(SA, specs[i]);
        aigw_test_sim_reset(SA);
        aigw_test_sim_reset(SB);
        outcome o = call(client, AIGW_OP_CHAT_STREAM, "gpt-4o");
        if (!strcmp(specs[i], "malformed=1")) {
            /* The first event is not JSON: nothing reached the caller, but
             * whether a bad response is worth another backend is the
             * library's call; only check nothing was duplicated. */
            if (o.st == AIGW_OK)
                cr_expect_str_eq(o.text, ANSWER);
            else
                cr_expect_eq(o.chunks, 0);
            outcome_free(&o);
            continue;
        }
        cr_assert_eq(o.st, AIGW_OK, "%s: %s", specs[i], o.message);
        cr_expect_str_eq(o.text, ANSWER, "%s: the text must come once, from b", specs[i]);
        cr_expect_str_eq(o.info.backend, "b");
        cr_expect_eq(o.info.attempts, 2);
        /* A reused keep-alive connection closed without an answer is sent
         * again once on a fresh one by libcurl itself (it cannot tell a
         * stale connection from a reset): a may see 2 requests for 1
         * attempt. */
        long na = aigw_test_sim_count(SA);
        cr_expect(na == 1 || (na == 2 && !strcmp(specs[i], "close=1")), "%s: a saw %ld", specs[i],
                  na);
        cr_expect_eq(aigw_test_sim_count(SB), 1, "%s", specs[i]);
        cr_expect_eq(aigw_test_sim_count(SC), 0);
        outcome_free(&o);
    }
}

/* ---- a caller's 4xx is never retried ---- */

Test(routing, caller_4xx_is_not_retried) {
    client = make_client(NULL, A_THEN_B(3) EJECTION(2, 60000, 60000));
    struct {
        const char *spec;
        int http;
        aigw_status st;
    } cases[] = {
        {"status=400", 400, AIGW_EBADREQUEST}, {"status=401", 401, AIGW_EAUTH},
        {"status=404", 404, AIGW_ENOTFOUND},   {"status=403", 403, AIGW_EPERMISSION},
        {"status=422", 422, AIGW_EBADREQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw_test_sim_fault(SA, cases[i].spec);
        for (int op = 0; op < 2; op++) {
            aigw_test_sim_reset(SA);
            aigw_test_sim_reset(SB);
            outcome o = call(client, op ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT, "gpt-4o");
            cr_expect_eq(o.st, cases[i].st, "%s: %s (%s)", cases[i].spec, o.message,
                         aigw_status_name(o.st));
            cr_expect_eq(o.http_status, cases[i].http, "%s: HTTP %d", cases[i].spec, o.http_status);
            cr_expect(strstr(o.body, "\"error\"") != NULL, "%s: provider body not passed: '%s'",
                      cases[i].spec, o.body);
            cr_expect_eq(o.info.attempts, 1, "%s: %u attempts", cases[i].spec, o.info.attempts);
            cr_expect_eq(o.chunks, 0);
            expect_counts(1, 0, 0);
            outcome_free(&o);
        }
    }
    /* Ten 4xx in a row (threshold 2) did not eject a: the caller's fault. */
    aigw_test_sim_fault(SA, "");
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "a");
}

/* ---- every attempt named ---- */

Test(routing, all_backends_down_names_every_attempt) {
    client = make_client(
        NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
              " \"backends\": [{\"backend\": \"a\"},"
              " {\"backend\": \"b\", \"priority\": 1},"
              " {\"backend\": \"dead\", \"priority\": 2}]," FAST_RETRY(3) "}]" NO_EJECTION);
    aigw_test_sim_fault(SA, "status=503");
    aigw_test_sim_fault(SB, "close=1");
    for (int op = 0; op < 2; op++) {
        aigw_test_sim_reset(SA);
        aigw_test_sim_reset(SB);
        outcome o = call(client, op ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT, "gpt-4o");
        cr_expect_neq(o.st, AIGW_OK);
        cr_expect(aigw_status_is_retryable(o.st), "final status %s", aigw_status_name(o.st));
        cr_expect(names_attempt(o.message, "a", "HTTP 503"), "attempt on a: %s", o.message);
        cr_expect(names_attempt(o.message, "b", NULL), "attempt on b: %s", o.message);
        cr_expect(names_attempt(o.message, "dead", "cannot connect"), "attempt on dead: %s",
                  o.message);
        cr_expect(strstr(o.message, "backend a:") < strstr(o.message, "backend b:") &&
                      strstr(o.message, "backend b:") < strstr(o.message, "backend dead:"),
                  "attempts in order: %s", o.message);
        cr_expect_eq(o.info.attempts, 3);
        cr_expect_eq(o.chunks, 0);
        expect_counts(1, 1, 0);
        outcome_free(&o);
    }
}

/* ---- priorities and weights ---- */

Test(routing, priority_tier_serves_only_when_the_first_fails) {
    client = make_client(NULL,
                         ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                         " \"backends\": [{\"backend\": \"a\"}, {\"backend\": \"c\"},"
                         " {\"backend\": \"b\", \"priority\": 1}]," FAST_RETRY(3) "}]" NO_EJECTION);
    int from_a = 0, from_c = 0;
    for (int i = 0; i < 40; i++) {
        const char *b = chat_ok(client, "gpt-4o");
        from_a += !strcmp(b, "a");
        from_c += !strcmp(b, "c");
    }
    cr_expect_eq(from_a + from_c, 40);
    cr_expect(from_a > 0 && from_c > 0, "tier 0 split: a %d, c %d", from_a, from_c);
    expect_counts(from_a, 0, from_c);

    /* a fails: c alone serves tier 0. */
    aigw_test_sim_fault(SA, "status=500");
    for (int i = 0; i < 10; i++) {
        const char *b = chat_ok(client, "gpt-4o");
        cr_expect_str_eq(b, "c");
    }
    cr_expect_eq(aigw_test_sim_count(SB), 0, "tier 1 used while tier 0 could serve");

    /* Both of tier 0 fail: tier 1 serves, after both were tried. */
    aigw_test_sim_fault(SC, "status=503");
    aigw_test_sim_reset(SA);
    aigw_test_sim_reset(SC);
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    expect_counts(3, 3, 3);

    /* Tier 0 recovers: tier 1 idle again. */
    aigw_test_sim_fault(SA, "");
    aigw_test_sim_fault(SC, "");
    aigw_test_sim_reset(SB);
    for (int i = 0; i < 10; i++)
        cr_expect_str_neq(chat_ok(client, "gpt-4o"), "b");
    cr_expect_eq(aigw_test_sim_count(SB), 0);
}

static int within(long count, long n, double p) {
    double sd = sqrt((double)n * p * (1 - p));
    return fabs((double)count - (double)n * p) <= 5.1 * sd;
}

Test(routing, weights_split_three_to_one) {
    client = make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                               " \"backends\": [{\"backend\": \"a\", \"weight\": 3},"
                               " {\"backend\": \"b\", \"weight\": 1}]," FAST_RETRY(2) "}]");
    const long n = 400;
    long from_a = 0, from_b = 0;
    for (long i = 0; i < n; i++) {
        const char *b = chat_ok(client, "gpt-4o");
        from_a += !strcmp(b, "a");
        from_b += !strcmp(b, "b");
    }
    cr_expect_eq(from_a + from_b, n);
    /* 300 expected, sd 8.66: [256, 344] */
    cr_expect(within(from_a, n, 0.75), "3:1 weights gave a %ld of %ld", from_a, n);
    expect_counts(from_a, from_b, 0);
}

Test(routing, weights_renormalised_when_one_is_ejected) {
    client = make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                               " \"backends\": [{\"backend\": \"a\", \"weight\": 2},"
                               " {\"backend\": \"b\", \"weight\": 1},"
                               " {\"backend\": \"c\", \"weight\": 1}]," FAST_RETRY(
                                   3) "}],"
                                      " \"outlier_ejection\": {\"failure_threshold\": 2,"
                                      " \"base_eject_ms\": 60000, \"max_eject_ms\": 60000}");
    /* Eject b: two failures in a row. */
    aigw_test_sim_fault(SB, "status=500");
    for (int i = 0; i < 200 && aigw_test_sim_count(SB) < 2; i++)
        chat_ok(client, "gpt-4o");
    cr_assert_eq(aigw_test_sim_count(SB), 2, "b was not tried twice");
    /* b would answer now, but stays ejected for a minute. */
    aigw_test_sim_fault(SB, "");
    for (int i = 0; i < NSIM; i++)
        aigw_test_sim_reset(&sims[i]);
    const long n = 300;
    long from_a = 0, from_c = 0;
    for (long i = 0; i < n; i++) {
        const char *b = chat_ok(client, "gpt-4o");
        from_a += !strcmp(b, "a");
        from_c += !strcmp(b, "c");
    }
    cr_expect_eq(from_a + from_c, n);
    /* a:c = 2:1 over the healthy ones: 200 expected, sd 8.16 */
    cr_expect(within(from_a, n, 2.0 / 3.0), "a %ld of %ld (expected about 200)", from_a, n);
    expect_counts(from_a, 0, from_c);
}

/* ---- models, headers, globs ---- */

Test(routing, model_rewrite_per_backend) {
    client = make_client(
        NULL, ", \"routes\": ["
              "{\"match\": {\"model\": \"gpt-4o\"},"
              " \"backends\": [{\"backend\": \"a\", \"model\": \"gpt-4o-2024-08-06\"},"
              " {\"backend\": \"b\", \"priority\": 1, \"model\": \"deploy-x\"}]," FAST_RETRY(
                  2) "},"
                     "{\"match\": {\"model\": \"gpt-4o-mini\"}, \"backends\": [{\"backend\": "
                     "\"c\"}]}]" NO_EJECTION);
    char model[128];
    outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_assert_eq(o.st, AIGW_OK, "%s", o.message);
    aigw_test_sim_last_model(SA, model, sizeof model);
    cr_expect_str_eq(model, "gpt-4o-2024-08-06");
    cr_expect_str_eq(o.info.model, "gpt-4o-2024-08-06");
    outcome_free(&o);

    aigw_test_sim_fault(SA, "status=500");
    o = call(client, AIGW_OP_CHAT_STREAM, "gpt-4o");
    cr_assert_eq(o.st, AIGW_OK, "%s", o.message);
    aigw_test_sim_last_model(SB, model, sizeof model);
    cr_expect_str_eq(model, "deploy-x");
    cr_expect_str_eq(o.info.backend, "b");
    cr_expect_str_eq(o.info.model, "deploy-x");
    outcome_free(&o);

    /* No rewrite: the model as the caller sent it. */
    cr_expect_str_eq(chat_ok(client, "gpt-4o-mini"), "c");
    aigw_test_sim_last_model(SC, model, sizeof model);
    cr_expect_str_eq(model, "gpt-4o-mini");
}

Test(routing, header_routes) {
    client = make_client(NULL, ", \"routes\": ["
                               "{\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"x-team\": "
                               "\"search\", \"x-env\": \"prod\"}}, \"backends\": [{\"backend\": "
                               "\"c\"}]},"
                               "{\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"X-Team\": "
                               "\"search\"}}, \"backends\": [{\"backend\": \"a\"}]},"
                               "{\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "
                               "\"b\"}]}]" NO_EJECTION);
    const char *const search[] = {"x-team", "search", NULL};
    const char *const search_upper[] = {"X-TEAM", "search", NULL};
    const char *const both[] = {"x-env", "prod", "x-team", "search", NULL};
    const char *const ads[] = {"x-team", "ads", NULL};
    const char *const value_case[] = {"x-team", "Search", NULL};
    struct {
        const char *const *hdrs;
        const char *backend;
    } cases[] = {{search, "a"}, {search_upper, "a"}, {both, "c"},
                 {ads, "b"},    {value_case, "b"},   {NULL, "b"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome o = call_h(client, AIGW_OP_CHAT, "gpt-4o", cases[i].hdrs);
        cr_assert_eq(o.st, AIGW_OK, "%s", o.message);
        cr_expect_str_eq(o.info.backend, cases[i].backend, "case %zu", i);
        outcome_free(&o);
    }
    expect_counts(2, 3, 1);
}

/* The routes of globs_first_match_and_no_route_fallback. */
#define GLOB_ROUTES                                                                                \
    "\"routes\": ["                                                                                \
    "{\"match\": {\"model\": \"gpt-4o-mini\"}, \"backends\": "                                     \
    "[{\"backend\": \"b\"}]},"                                                                     \
    "{\"match\": {\"model\": \"gpt-*\"}, \"backends\": [{\"backend\": "                            \
    "\"a\"}]},"                                                                                    \
    "{\"match\": {\"model\": \"claude-?-[0-9]*\"}, \"backends\": "                                 \
    "[{\"backend\": \"c\"}]},"                                                                     \
    "{\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "                           \
    "\"c\"}]}]"

/* With routes, a model no route matches is refused unless the config
 * allows direct backend access: "backend/model" and the default backend
 * are not a way around the routes. No backend is contacted. */
Test(routing, with_routes_only_routed_models_are_served) {
    client = make_client(NULL, ", \"default_backend\": \"b\", " GLOB_ROUTES NO_EJECTION);
    const char *models[] = {"c/my-model", "a/gpt-4o", "llama-3", "nope/x"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        outcome o = call(client, AIGW_OP_CHAT, models[i]);
        cr_expect_eq(o.st, AIGW_ENOBACKEND, "%s: %s", models[i], o.message);
        cr_expect(strstr(o.message, "routing.allow_direct_backends") != NULL, "%s", o.message);
        cr_expect_eq(o.info.attempts, 0);
        outcome_free(&o);
    }
    expect_counts(0, 0, 0);
    /* a routed model still is */
    cr_expect_str_eq(chat_ok(client, "gpt-4o-mini"), "b");
    aigw_client_free(client);
    client = NULL;
    /* false says so explicitly; a bad value is refused */
    client = make_client(NULL, ", \"routing\": {\"allow_direct_backends\": false}, " GLOB_ROUTES);
    outcome o = call(client, AIGW_OP_CHAT, "a/gpt-4o");
    cr_expect_eq(o.st, AIGW_ENOBACKEND, "%s", o.message);
    outcome_free(&o);
    aigw_client *bad = NULL;
    aigw_error *err = NULL;
    cr_expect_eq(
        aigw_client_new_from_string(
            &bad, config_text(NULL, ", \"routing\": {\"allow_direct_backends\": 1}"), &err),
        AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "routing.allow_direct_backends: must be true or "
                                              "false") != NULL,
              "%s", aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    cr_expect_eq(aigw_client_new_from_string(
                     &bad, config_text(NULL, ", \"routing\": {\"allow_direct\": true}"), &err),
                 AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "routing: unknown key") != NULL, "%s",
              aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    /* "direct" is the route name of direct requests: no route may take it */
    cr_expect_eq(aigw_client_new_from_string(
                     &bad,
                     config_text(NULL, ", \"routes\": [{\"name\": \"direct\", \"backends\": "
                                       "[{\"backend\": \"a\"}]}]"),
                     &err),
                 AIGW_ECONFIG);
    cr_expect(strstr(aigw_error_message(err), "routes[0].name: \"direct\" is reserved") != NULL,
              "%s", aigw_error_message(err));
    aigw_error_free(err);
}

/* A direct request for a backend and model a route would send there gets
 * that route's retry (and name, for budgets); with no such route it is
 * one attempt under the route name "direct". */
Test(routing, a_direct_request_keeps_the_rules_of_its_route) {
    client = make_client(NULL, ", \"routing\": {\"allow_direct_backends\": true}, \"routes\": ["
                               "{\"name\": \"chat\", \"match\": {\"model\": \"gpt-*\"}, "
                               "\"backends\": [{\"backend\": \"a\"}, {\"backend\": \"b\", "
                               "\"model\": \"b-model\"}], " FAST_RETRY(
                                   3) "}]" NO_EJECTION
                                      ", \"budgets\": [{\"name\": \"per-route\", \"scope\": "
                                      "{\"route\": \"*\"}, \"cost\": \"requests\", \"limit\": "
                                      "{\"type\": \"window\", \"per\": \"day\", \"max\": 100}},"
                                      "{\"name\": \"per-model\", \"scope\": {\"model\": \"*\"}, "
                                      "\"cost\": \"requests\", \"limit\": {\"type\": \"window\", "
                                      "\"per\": \"day\", \"max\": 100}}]");
    aigw_test_sim_fault(SA, "status=503");
    aigw_test_sim_fault(SB, "status=503");
    /* a/gpt-4o: route "chat" would send gpt-4o to a: its 3 attempts */
    outcome o = call(client, AIGW_OP_CHAT, "a/gpt-4o");
    cr_expect_eq(o.st, AIGW_EUPSTREAM, "%s", o.message);
    cr_expect_eq(o.info.attempts, 3);
    outcome_free(&o);
    /* b/b-model: the rewrite of route "chat" for b */
    o = call(client, AIGW_OP_CHAT, "b/b-model");
    cr_expect_eq(o.info.attempts, 3, "%s", o.message);
    outcome_free(&o);
    /* b/gpt-4o: "chat" sends b-model to b, not gpt-4o: no route, one attempt */
    o = call(client, AIGW_OP_CHAT, "b/gpt-4o");
    cr_expect_eq(o.info.attempts, 1, "%s", o.message);
    outcome_free(&o);
    expect_counts(3, 4, 0);
    /* the budgets saw the route names and the model names after the prefix */
    char *json = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_budget_status(client, &json, &err), AIGW_OK);
    cr_expect(strstr(json, "\"instance\":\"route=chat\"") != NULL, "%s", json);
    cr_expect(strstr(json, "\"instance\":\"route=direct\"") != NULL, "%s", json);
    cr_expect(strstr(json, "\"instance\":\"model=gpt-4o\"") != NULL, "%s", json);
    cr_expect(strstr(json, "\"instance\":\"model=b-model\"") != NULL, "%s", json);
    cr_expect(strstr(json, "model=a/") == NULL && strstr(json, "model=b/") == NULL, "%s", json);
    aigw_free(json);
}

Test(routing, globs_first_match_and_no_route_fallback) {
    client = make_client(NULL, ", \"routing\": {\"allow_direct_backends\": true}, "
                               "\"default_backend\": \"b\", \"routes\": ["
                               "{\"match\": {\"model\": \"gpt-4o-mini\"}, \"backends\": "
                               "[{\"backend\": \"b\"}]},"
                               "{\"match\": {\"model\": \"gpt-*\"}, \"backends\": [{\"backend\": "
                               "\"a\"}]},"
                               "{\"match\": {\"model\": \"claude-?-[0-9]*\"}, \"backends\": "
                               "[{\"backend\": \"c\"}]},"
                               "{\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "
                               "\"c\"}]}]" NO_EJECTION);
    struct {
        const char *model, *backend, *upstream;
    } cases[] = {
        {"gpt-4o-mini", "b", "gpt-4o-mini"}, /* first match wins over gpt-* */
        {"gpt-4.1", "a", "gpt-4.1"},
        {"gpt-4o", "a", "gpt-4o"}, /* gpt-* comes before the exact route */
        {"claude-3-5-sonnet", "c", "claude-3-5-sonnet"},
        /* no route: provider/model, or the default backend */
        {"c/my-model", "c", "my-model"},
        {"a/gpt-4o", "a", "gpt-4o"},
        {"llama-3", "b", "llama-3"},
        {"claude-x", "b", "claude-x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome o = call(client, AIGW_OP_CHAT, cases[i].model);
        cr_assert_eq(o.st, AIGW_OK, "%s: %s", cases[i].model, o.message);
        cr_expect_str_eq(o.info.backend, cases[i].backend, "%s", cases[i].model);
        char m[128];
        const aigw_test_sim *s = !strcmp(cases[i].backend, "a")   ? SA
                                 : !strcmp(cases[i].backend, "b") ? SB
                                                                  : SC;
        aigw_test_sim_last_model(s, m, sizeof m);
        cr_expect_str_eq(m, cases[i].upstream, "%s", cases[i].model);
        outcome_free(&o);
    }
    /* Without a route there is one attempt only. */
    aigw_test_sim_fault(SC, "status=503");
    aigw_test_sim_reset(SC);
    outcome o = call(client, AIGW_OP_CHAT, "c/my-model");
    cr_expect_eq(o.st, AIGW_EUPSTREAM, "%s", o.message);
    cr_expect_eq(aigw_test_sim_count(SC), 1);
    outcome_free(&o);
}

/* ---- outlier ejection ---- */

Test(routing, ejection_timeline) {
    client = make_client(NULL, A_THEN_B(2) EJECTION(3, 300, 5000));
    const double slack = 80;
    aigw_test_sim_fault(SA, "status=500");
    /* Three failures in a row eject a. */
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    double t0 = aigw_test_now_ms();
    expect_counts(3, 3, 0);
    /* Ejected for 300 ms: nothing reaches it, b serves at once. */
    for (int i = 0; i < 5; i++) {
        outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
        cr_expect_eq(o.st, AIGW_OK);
        cr_expect_str_eq(o.info.backend, "b");
        cr_expect_eq(o.info.attempts, 1, "an ejected backend was attempted");
        outcome_free(&o);
    }
    cr_expect_lt(aigw_test_now_ms() - t0, 250.0, "too slow to check the interval");
    expect_counts(3, 8, 0);
    /* Half-open: one probe, which fails: ejected again, for 600 ms. */
    aigw_test_sleep_until(t0 + 300 + slack);
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    double t1 = aigw_test_now_ms();
    expect_counts(4, 9, 0);
    /* 300 ms later it would be back with a fixed interval; it grew. */
    aigw_test_sleep_until(t1 + 300 + slack);
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    expect_counts(4, 10, 0);
    aigw_test_sleep_until(t1 + 600 + slack);
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    double t2 = aigw_test_now_ms();
    expect_counts(5, 11, 0); /* the second probe, failed: 1200 ms now */
    /* a recovers upstream, but stays out until its interval ends. */
    aigw_test_sim_fault(SA, "");
    aigw_test_sleep_until(t2 + 600 + slack);
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    expect_counts(5, 12, 0);
    aigw_test_sleep_until(t2 + 1200 + slack);
    /* The probe succeeds: a is healthy and serves everything again. */
    for (int i = 0; i < 5; i++) {
        outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
        cr_expect_eq(o.st, AIGW_OK, "%s", o.message);
        cr_expect_str_eq(o.info.backend, "a");
        cr_expect_eq(o.info.attempts, 1);
        outcome_free(&o);
    }
    expect_counts(10, 12, 0);
    /* Healthy again means the interval was reset: three more failures
     * eject it for 300 ms, not 2400. */
    aigw_test_sim_fault(SA, "status=500");
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    double t3 = aigw_test_now_ms();
    aigw_test_sim_fault(SA, "");
    aigw_test_sleep_until(t3 + 300 + slack);
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "a");
}

typedef struct probe_thread {
    pthread_t t;
    outcome o;
} probe_thread;

static void *probe_main(void *arg) {
    probe_thread *p = arg;
    p->o = call(client, AIGW_OP_CHAT, "gpt-4o");
    return NULL;
}

Test(routing, half_open_admits_one_probe_at_a_time) {
    client = make_client(NULL, A_THEN_B(2) EJECTION(1, 300, 5000));
    aigw_test_sim_fault(SA, "status=500,latency_ms=400");
    cr_expect_str_eq(chat_ok(client, "gpt-4o"), "b");
    double t0 = aigw_test_now_ms();
    aigw_test_sleep_until(t0 + 380);
    /* Half-open; the probe takes 400 ms, and meanwhile the others go to b. */
    probe_thread th[6];
    for (int i = 0; i < 6; i++)
        cr_assert_eq(pthread_create(&th[i].t, NULL, probe_main, &th[i]), 0);
    int slow = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i].t, NULL);
        cr_expect_eq(th[i].o.st, AIGW_OK, "%s", th[i].o.message);
        cr_expect_str_eq(th[i].o.info.backend, "b");
        slow += th[i].o.ms >= 350;
        outcome_free(&th[i].o);
    }
    cr_expect_eq(aigw_test_sim_count(SA), 2, "one probe, not %ld", aigw_test_sim_count(SA) - 1);
    cr_expect_eq(slow, 1, "%d calls waited for a", slow);
}

Test(routing, all_ejected_still_tries_the_best_one) {
    client = make_client(NULL, A_THEN_B(2) EJECTION(1, 60000, 60000));
    aigw_test_sim_fault(SA, "status=500");
    aigw_test_sim_fault(SB, "status=503");
    outcome o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_expect_eq(o.st, AIGW_EUPSTREAM);
    expect_counts(1, 1, 0);
    outcome_free(&o);
    /* Both ejected for a minute: the call still goes out, to a (tier 0). */
    o = call(client, AIGW_OP_CHAT, "gpt-4o");
    cr_expect_eq(o.st, AIGW_EUPSTREAM, "%s (%s)", o.message, aigw_status_name(o.st));
    cr_expect_geq(o.info.attempts, 1, "failed closed: no attempt");
    cr_expect(names_attempt(o.message, "a", "HTTP 500"), "%s", o.message);
    cr_expect_geq(aigw_test_sim_count(SA), 2);
    cr_expect_eq(aigw_test_sim_count(SB), 1, "the best one is a, not b");
    outcome_free(&o);
    /* a answers again: served although still ejected, and healthy after. */
    aigw_test_sim_fault(SA, "");
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(chat_ok(client, "gpt-4o"), "a");
    cr_expect_eq(aigw_test_sim_count(SB), 1);
}

/* ---- the same on a uv loop ---- */

typedef struct async_call {
    outcome o;
    int done;
    double t0;
} async_call;

static void on_done(aigw_status st, const char *response, const aigw_error *err, void *user) {
    async_call *a = user;
    a->done++;
    a->o.st = st;
    a->o.ms = aigw_test_now_ms() - a->t0;
    if (response) {
        a->o.response = malloc(strlen(response) + 1);
        strcpy(a->o.response, response);
    }
    take_error(&a->o, err);
}

static int on_async_chunk(const char *json, size_t len, void *user) {
    add_chunk_text(&((async_call *)user)->o, json, len);
    return 0;
}

static void start_async_h(uv_loop_t *loop, aigw_op op, const char *model, const aigw_header *hdrs,
                          size_t n, async_call *a) {
    memset(a, 0, sizeof *a);
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.info = &a->o.info;
    opts.headers = hdrs;
    opts.n_headers = n;
    aigw_error *err = NULL;
    a->t0 = aigw_test_now_ms();
    aigw_status st =
        aigw_call_async(client, loop, op, request_json(model, op == AIGW_OP_CHAT_STREAM), &opts,
                        on_async_chunk, on_done, a, NULL, &err);
    cr_assert_eq(st, AIGW_OK, "aigw_call_async: %s", aigw_error_message(err));
}

static void start_async(uv_loop_t *loop, aigw_op op, const char *model, async_call *a) {
    start_async_h(loop, op, model, NULL, 0, a);
}

static void async_free(async_call *a) {
    free(a->o.response);
    a->o.response = NULL;
}

static int ticks;
static void on_tick(uv_timer_t *t) {
    (void)t;
    ticks++;
}

/* Runs the loop until every call in calls[0..n) is done (at most 10 s),
 * turning at least every 20 ms (an unref'd timer) so a loop that stays
 * alive after the last request cannot hang the test. */
static void on_watchdog(uv_timer_t *t) {
    (void)t;
}

static void run_until_done(uv_loop_t *loop, async_call *const *calls, size_t n) {
    uv_timer_t wd;
    uv_timer_init(loop, &wd);
    uv_timer_start(&wd, on_watchdog, 20, 20);
    uv_unref((uv_handle_t *)&wd);
    double deadline = aigw_test_now_ms() + 10000;
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += calls[i]->done > 0;
        if (done == n || aigw_test_now_ms() > deadline)
            break;
        if (!uv_run(loop, UV_RUN_ONCE))
            usleep(1000);
    }
    uv_timer_stop(&wd);
    uv_close((uv_handle_t *)&wd, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(calls[i]->done, 1, "call %zu: done fired %d times", i, calls[i]->done);
}

/* Once every request is done the library keeps nothing active on the loop
 * (as tests/test_async.c relies on: uv_run(UV_RUN_DEFAULT) returns). */
static void expect_loop_idle(uv_loop_t *loop) {
    for (int i = 0; i < 50 && uv_loop_alive(loop); i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
    cr_expect(!uv_loop_alive(loop), "the loop stays alive after every request is done");
}

static void finish_loop(uv_loop_t *loop) {
    aigw_loop_release(client, loop);
    cr_assert_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(loop), 0, "handles left on the loop");
}

Test(routing, async_retry_after_and_fallback) {
    client = make_client(NULL,
                         ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                         " \"backends\": [{\"backend\": \"a\"},"
                         " {\"backend\": \"b\", \"priority\": 1}],"
                         " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1,"
                         " \"max_backoff_ms\": 5000, \"timeouts_ms\": {\"total\": 20000}}},"
                         " {\"match\": {\"model\": \"solo\"}, \"backends\": [{\"backend\": \"a\"}],"
                         " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1,"
                         " \"max_backoff_ms\": 5000, \"timeouts_ms\": {\"total\": 20000}}}]"
                         ", \"outlier_ejection\": {\"failure_threshold\": 1000,"
                         " \"base_eject_ms\": 1, \"max_eject_ms\": 1}");
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);

    /* 503 on a: b answers, for a chat and a stream at once. */
    aigw_test_sim_fault(SA, "status=503");
    async_call chat, stream;
    start_async(&loop, AIGW_OP_CHAT, "gpt-4o", &chat);
    start_async(&loop, AIGW_OP_CHAT_STREAM, "gpt-4o", &stream);
    async_call *both[] = {&chat, &stream};
    run_until_done(&loop, both, 2);
    expect_loop_idle(&loop);
    cr_expect_eq(chat.o.st, AIGW_OK, "%s", chat.o.message);
    cr_expect(chat.o.response && strstr(chat.o.response, ANSWER));
    cr_expect_str_eq(chat.o.info.backend, "b");
    cr_expect_eq(chat.o.info.attempts, 2);
    cr_expect_eq(stream.o.st, AIGW_OK, "%s", stream.o.message);
    cr_expect_str_eq(stream.o.text, ANSWER);
    cr_expect_str_eq(stream.o.info.backend, "b");
    expect_counts(2, 2, 0);
    async_free(&chat);
    async_free(&stream);

    /* "solo" (a alone): one 429 with Retry-After: 1, then an answer. The
     * wait runs on the loop (a timer), which keeps turning meanwhile. */
    aigw_test_sim_fault(SA, "status=429,retry_after=1,count=1");
    aigw_test_sim_reset(SA);
    aigw_test_sim_reset(SB);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50);
    ticks = 0;
    start_async(&loop, AIGW_OP_CHAT, "solo", &chat);
    async_call *one[] = {&chat};
    run_until_done(&loop, one, 1);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    expect_loop_idle(&loop);
    cr_expect_eq(chat.o.st, AIGW_OK, "%s", chat.o.message);
    cr_expect_geq(chat.o.ms, 950.0, "Retry-After not honoured: %.0f ms", chat.o.ms);
    cr_expect_geq(ticks, 12, "the loop was blocked during the wait (%d ticks)", ticks);
    cr_expect_eq(chat.o.info.attempts, 2);
    cr_expect_str_eq(chat.o.info.backend, "a");
    expect_counts(2, 0, 0);
    async_free(&chat);

    finish_loop(&loop);
}

Test(routing, async_first_byte_timeout_falls_back_on_time) {
    client = make_client(NULL, ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"},"
                               " \"backends\": [{\"backend\": \"a\"},"
                               " {\"backend\": \"b\", \"priority\": 1}],"
                               " \"retry\": {\"attempts\": 2, \"backoff_ms\": 1,"
                               " \"timeouts_ms\": {\"first_byte\": 200}}}]" NO_EJECTION);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    aigw_test_sim_fault(SA, "latency_ms=3000");
    double t0 = aigw_test_now_ms();
    async_call chat, stream;
    start_async(&loop, AIGW_OP_CHAT, "gpt-4o", &chat);
    start_async(&loop, AIGW_OP_CHAT_STREAM, "gpt-4o", &stream);
    async_call *both[] = {&chat, &stream};
    run_until_done(&loop, both, 2);
    double took = aigw_test_now_ms() - t0;
    cr_expect_eq(chat.o.st, AIGW_OK, "%s", chat.o.message);
    cr_expect_str_eq(chat.o.info.backend, "b");
    cr_expect_eq(stream.o.st, AIGW_OK, "%s", stream.o.message);
    cr_expect_str_eq(stream.o.info.backend, "b");
    /* the deadline is a loop timer: 200 ms, not curl's once-a-second check */
    cr_expect(took >= 190 && took < 900, "fell back after %.0f ms", took);
    async_free(&chat);
    async_free(&stream);
    finish_loop(&loop);
}

Test(routing, async_stream_no_fallback_after_first_chunk) {
    client = make_client(NULL, A_THEN_B(3) NO_EJECTION);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    const char *specs[] = {"cut_after=2", "error_event=1"};
    for (size_t i = 0; i < 2; i++) {
        aigw_test_sim_fault(SA, specs[i]);
        aigw_test_sim_reset(SA);
        async_call s;
        start_async(&loop, AIGW_OP_CHAT_STREAM, "gpt-4o", &s);
        async_call *one[] = {&s};
        run_until_done(&loop, one, 1);
        cr_expect_neq(s.o.st, AIGW_OK, "%s", specs[i]);
        cr_expect_geq(s.o.chunks, 1, "%s", specs[i]);
        cr_expect_eq(s.o.info.attempts, 1, "%s: %u attempts", specs[i], s.o.info.attempts);
        expect_counts(1, 0, 0);
        async_free(&s);
    }
    expect_loop_idle(&loop);
    finish_loop(&loop);
}

/* ---- config validation ---- */

static void expect_config_error(const char *rest, const char *const *want) {
    const char *text = config_text(NULL, rest);
    aigw_client *c = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw_client_new_from_string(&c, text, &err);
    cr_expect_eq(st, AIGW_ECONFIG, "accepted or wrong status (%s): %s", aigw_status_name(st), rest);
    cr_expect_null(c);
    const char *msg = err ? aigw_error_message(err) : "";
    for (size_t i = 0; want[i]; i++)
        cr_expect(strstr(msg, want[i]) != NULL, "'%s' not in: %s", want[i], msg);
    aigw_client_free(c);
    aigw_error_free(err);
    /* aigw_config_check says the same about the file. */
    cr_assert_eq(aigw_test_write_file_atomic(cfg_path, text), 0);
    err = NULL;
    st = aigw_config_check(cfg_path, &err);
    cr_expect_eq(st, AIGW_ECONFIG, "config check: %s for %s", aigw_status_name(st), rest);
    msg = err ? aigw_error_message(err) : "";
    for (size_t i = 0; want[i]; i++)
        cr_expect(strstr(msg, want[i]) != NULL, "config check: '%s' not in: %s", want[i], msg);
    aigw_error_free(err);
}

#define R0(x) ", \"routes\": [{\"match\": {\"model\": \"gpt-4o\"}, " x "}]"
#define RB "\"backends\": [{\"backend\": \"a\"}]"

Test(routing, config_validation_names_the_path) {
    struct {
        const char *rest;
        const char *want[3];
    } cases[] = {
        /* dangling references */
        {R0("\"backends\": [{\"backend\": \"azur\"}]"),
         {"routes[0].backends[0]", "unknown backend \"azur\""}},
        {", \"routes\": [{" RB "}, {\"backends\": [{\"backend\": \"a\"}, {\"backend\": "
         "\"bb\"}]}]",
         {"routes[1].backends[1]", "\"bb\""}},
        /* unknown keys */
        {", \"route\": []", {"unknown key \"route\""}},
        {R0(RB ", \"retry\": {\"attemps\": 3}"), {"routes[0].retry", "\"attemps\""}},
        {R0(RB ", \"matc\": {}"), {"routes[0]", "\"matc\""}},
        {R0("\"backends\": [{\"backend\": \"a\", \"wieght\": 2}]"),
         {"routes[0].backends[0]", "\"wieght\""}},
        {", \"routes\": []" NO_EJECTION ", \"outlier_ejectoin\": {}",
         {"unknown key \"outlier_ejectoin\""}},
        {", \"outlier_ejection\": {\"failure_treshold\": 3}",
         {"outlier_ejection", "\"failure_treshold\""}},
        /* wrong types */
        {", \"routes\": {}", {"routes", "array"}},
        {R0("\"backends\": [{\"backend\": \"a\", \"weight\": \"3\"}]"),
         {"routes[0].backends[0].weight"}},
        {R0(RB ", \"retry\": {\"attempts\": true}"), {"routes[0].retry.attempts"}},
        {", \"routes\": [{\"match\": {\"headers\": {\"x-team\": 1}}, " RB "}]",
         {"routes[0].match.headers.x-team"}},
        {", \"routes\": [{\"name\": 5, " RB "}]", {"routes[0].name"}},
        {", \"outlier_ejection\": \"on\"", {"outlier_ejection"}},
        {", \"outlier_ejection\": {\"base_eject_ms\": \"10s\"}",
         {"outlier_ejection.base_eject_ms"}},
        /* impossible values */
        {R0("\"backends\": []"), {"routes[0].backends"}},
        {R0("\"backends\": [{\"backend\": \"a\", \"weight\": -1}]"),
         {"routes[0].backends[0].weight"}},
        {R0("\"backends\": [{\"backend\": \"a\", \"priority\": -1}]"),
         {"routes[0].backends[0].priority"}},
        {R0(RB ", \"retry\": {\"attempts\": 0}"), {"routes[0].retry.attempts"}},
        {R0(RB ", \"retry\": {\"backoff_ms\": 500, \"max_backoff_ms\": 100}"),
         {"routes[0].retry", "backoff_ms"}},
        {R0(RB ", \"retry\": {\"timeouts_ms\": {\"first_byte\": -5}}"),
         {"routes[0].retry.timeouts_ms.first_byte"}},
        {", \"outlier_ejection\": {\"failure_threshold\": -3}",
         {"outlier_ejection.failure_threshold"}},
        {", \"outlier_ejection\": {\"base_eject_ms\": 5000, \"max_eject_ms\": 1000}",
         {"outlier_ejection", "max_eject_ms"}},
        /* ${ENV} that is not set */
        {R0("\"backends\": [{\"backend\": \"a\", \"model\": \"${AIGW_ROUTING_TEST_UNSET}\"}]"),
         {"routes[0].backends[0].model", "AIGW_ROUTING_TEST_UNSET"}},
    };
    unsetenv("AIGW_ROUTING_TEST_UNSET");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_config_error(cases[i].rest, cases[i].want);
}

Test(routing, config_check_accepts_a_full_config) {
    setenv("AIGW_ROUTING_TEST_DEPLOY", "deploy-7", 1);
    const char *text = config_text(
        NULL, ", \"routes\": [{\"name\": \"chat\", \"match\": {\"model\": \"gpt-*\", \"headers\": "
              "{\"x-team\": \"search\"}}, \"backends\": [{\"backend\": \"a\", \"weight\": 3, "
              "\"priority\": 0, \"model\": \"${AIGW_ROUTING_TEST_DEPLOY}\"}, {\"backend\": \"b\", "
              "\"weight\": 1}, {\"backend\": \"c\", \"priority\": 1}], \"retry\": {\"attempts\": "
              "3, \"backoff_ms\": 100, \"max_backoff_ms\": 10000, \"timeouts_ms\": {\"connect\": "
              "2000, \"first_byte\": 30000, \"total\": 120000}}}], \"outlier_ejection\": "
              "{\"failure_threshold\": 5, \"base_eject_ms\": 10000, \"max_eject_ms\": 300000}");
    cr_assert_eq(aigw_test_write_file_atomic(cfg_path, text), 0);
    aigw_error *err = NULL;
    cr_expect_eq(aigw_config_check(cfg_path, &err), AIGW_OK, "%s", aigw_error_message(err));
    aigw_error_free(err);
    err = NULL;
    aigw_client *c = NULL;
    cr_expect_eq(aigw_client_new_from_file(&c, cfg_path, &err), AIGW_OK, "%s",
                 aigw_error_message(err));
    aigw_client_free(c);
    aigw_error_free(err);
    /* Nothing was sent while checking. */
    expect_counts(0, 0, 0);
    /* An unreadable file is AIGW_EIO, not a config error. */
    err = NULL;
    cr_expect_eq(aigw_config_check("/nonexistent/aigw-routing.json", &err), AIGW_EIO);
    aigw_error_free(err);
}

/* ---- aigw_models lists what the routes serve ---- */

Test(routing, models_lists_the_routes_models) {
    client = make_client(
        NULL, ", \"routes\": ["
              "{\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"x-team\": \"search\"}}, " RB "},"
              "{\"match\": {\"model\": \"gpt-4o\"}, " RB "},"
              "{\"match\": {\"model\": \"gpt-*\"}, " RB "},"
              "{\"match\": {\"model\": \"claude-sonnet-4\"}, " RB "},"
              "{\"match\": {\"model\": \"o[13]-mini\"}, " RB "},"
              "{\"match\": {\"model\": \"text-embedding-3-small\"}, " RB "},"
              "{" RB "}]");
    char *json = NULL;
    aigw_error *err = NULL;
    cr_assert_eq(aigw_models(client, NULL, &json, &err), AIGW_OK, "%s", aigw_error_message(err));
    json_object *o = json_tokener_parse(json);
    cr_assert_not_null(o, "%s", json);
    json_object *data = NULL;
    cr_assert(json_object_object_get_ex(o, "data", &data), "%s", json);
    const char *want[] = {"gpt-4o", "claude-sonnet-4", "text-embedding-3-small"};
    cr_expect_eq(json_object_array_length(data), 3, "%s", json);
    for (size_t i = 0; i < 3 && i < json_object_array_length(data); i++) {
        json_object *id;
        cr_assert(json_object_object_get_ex(json_object_array_get_idx(data, i), "id", &id));
        cr_expect_str_eq(json_object_get_string(id), want[i], "%s", json);
    }
    json_object_put(o);
    aigw_free(json);
    /* The routes' list needs no upstream call. */
    expect_counts(0, 0, 0);
    /* One provider's list is still the provider's own. */
    json = NULL;
    cr_assert_eq(aigw_models(client, "b", &json, &err), AIGW_OK, "%s", aigw_error_message(err));
    cr_expect(strstr(json, "\"b/gpt-4o-mini\"") != NULL, "%s", json);
    aigw_free(json);
    expect_counts(0, 1, 0);
}

Test(routing, async_header_routes) {
    client = make_client(NULL, ", \"routes\": ["
                               "{\"match\": {\"model\": \"gpt-4o\", \"headers\": {\"x-team\": "
                               "\"search\"}}, \"backends\": [{\"backend\": \"c\"}]},"
                               "{\"match\": {\"model\": \"gpt-4o\"}, \"backends\": [{\"backend\": "
                               "\"a\"}]}]" NO_EJECTION);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    /* the header strings are copied by the call: these die before the loop runs */
    async_call chat, stream, plain;
    {
        char name[16], value[16];
        snprintf(name, sizeof name, "X-Team");
        snprintf(value, sizeof value, "search");
        aigw_header h = {name, value};
        start_async_h(&loop, AIGW_OP_CHAT, "gpt-4o", &h, 1, &chat);
        start_async_h(&loop, AIGW_OP_CHAT_STREAM, "gpt-4o", &h, 1, &stream);
        memset(name, 0, sizeof name);
        memset(value, 0, sizeof value);
    }
    start_async(&loop, AIGW_OP_CHAT, "gpt-4o", &plain);
    async_call *all[] = {&chat, &stream, &plain};
    run_until_done(&loop, all, 3);
    cr_expect_eq(chat.o.st, AIGW_OK, "%s", chat.o.message);
    cr_expect_str_eq(chat.o.info.backend, "c");
    cr_expect_eq(stream.o.st, AIGW_OK, "%s", stream.o.message);
    cr_expect_str_eq(stream.o.info.backend, "c");
    cr_expect_str_eq(stream.o.text, ANSWER);
    cr_expect_eq(plain.o.st, AIGW_OK, "%s", plain.o.message);
    cr_expect_str_eq(plain.o.info.backend, "a");
    expect_counts(1, 0, 2);
    async_free(&chat);
    async_free(&stream);
    async_free(&plain);
    finish_loop(&loop);
}
