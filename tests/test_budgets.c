/* SPDX-License-Identifier: Apache-2.0 */
/* Budgets end to end through the library (aigw_call, aigw_call_async,
 * aigw_budget_status; issue #7): refusals before any upstream request,
 * settling with the real usage of every adapter (whole and streamed),
 * aborted streams, refunds after failures, scopes, cost expressions and
 * price tables, refill and windows, exactness under 64 threads in memory
 * and through Redis, and a Redis restart with fail_open / fail_closed
 * budgets. Upstream is the provider simulator or the built-in mock
 * backend; Redis is Debian's redis-server on a free loopback port. */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <uv.h>

#include "aigw/aigw.h"
#include "aigw/async.h"
#include "http_client.h"
#include "budget_status.h"
#include "gateway.h"
#include "redis.h"
#include "providers.h"
#include "sim.h"
#include "sim_pool.h"

#define KEY "sk-SECRET-budgets-0123456789"

/* ---- the providers, configured as tests/test_providers.c does ---- */

typedef aigw_test_provider provider;
static const provider *const providers = aigw_test_providers;
#define N_PROVIDERS AIGW_TEST_N_PROVIDERS

static aigw_test_sim sim;
static char root[64];

static void sim_setup(void) {
    aigw_test_sim_start_providers(&sim, KEY);
    snprintf(root, sizeof root, "http://127.0.0.1:%d", sim.port);
}

static void sim_teardown(void) {
    aigw_test_sim_stop(&sim);
}

/* ---- helpers ---- */

/* Monotonic seconds. */
static double mono(void) {
    return aigw_test_now_ms() / 1e3;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps s seconds (not at all when s <= 0). */
static void sleep_s(double s) {
    aigw_test_sleep_until(aigw_test_now_ms() + s * 1e3);
}

/* A client with provider p (optionally a fault on every request), the
 * budgets array `budgets` and an optional "accounting" object. */
static aigw_client *provider_client(const provider *p, const char *fault, const char *budgets) {
    char backend[512], config[4096];
    aigw_test_provider_backend(p, root, KEY, backend, sizeof backend);
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{\"%s\":{%s%s%s%s}},"
             "\"budgets\":%s}",
             p->name, backend, fault ? ",\"headers\":{\"x-sim-fault\":\"" : "", fault ? fault : "",
             fault ? "\"}" : "", budgets);
    return aigw_test_client_new(config);
}

static const char *msg(const aigw_error *e) {
    return e ? aigw_error_message(e) : "(no error)";
}

static double remaining(aigw_client *c, const char *name, const char *instance) {
    return aigw_test_budget_counter(c, name, instance, "remaining");
}

/* The store the status listing says it reads. */
static void expect_store(aigw_client *c, const char *store) {
    char *json = NULL, why[512];
    cr_assert_eq(aigw_test_budget_status(c, &json, why, sizeof why), AIGW_OK, "%s", why);
    json_object *o = aigw_test_json_parse(json);
    const char *s = aigw_test_json_str_at(o, "store");
    cr_expect(s && !strcmp(s, store), "store %s, want %s: %s", s ? s : "(none)", store, json);
    json_object_put(o);
    aigw_free(json);
}

/* accountant.h's documented estimate: prompt characters / 4 (rounded up)
 * plus 4 tokens a message as input; max_tokens as output. */
static void estimate(const char *request, long long *in, long long *out) {
    json_object *o = aigw_test_json_parse(request);
    json_object *ms = aigw_test_json_at(o, "messages");
    size_t chars = 0, n = ms ? json_object_array_length(ms) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = aigw_test_json_str_at(json_object_array_get_idx(ms, i), "content");
        chars += t ? strlen(t) : 0;
    }
    *in = (long long)((chars + 3) / 4 + 4 * n);
    json_object *mt = aigw_test_json_at(o, "max_tokens");
    *out = mt ? json_object_get_int64(mt) : 4096;
    json_object_put(o);
}

/* Call options that report into info (zeroed first). */
static aigw_call_options info_opts(aigw_call_info *info) {
    memset(info, 0, sizeof *info);
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.info = info;
    return opts;
}

/* A whole chat call that must succeed (its answer is dropped). */
static void chat_ok(aigw_client *c, const char *req, const aigw_call_options *opts) {
    char *out = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_call(c, AIGW_OP_CHAT, req, opts, NULL, NULL, &out, &e), AIGW_OK, "%s",
                 msg(e));
    aigw_free(out);
}

/* What a stream delivered. */
typedef struct seen {
    int chunks;
    int stop_after;    /* return non-zero once this many chunks came (0: never) */
    long long in, out; /* from a usage chunk; -1 without one */
} seen;

static int on_chunk(const char *json, size_t len, void *user) {
    seen *s = user;
    json_object *o = json_tokener_parse(json);
    cr_assert_not_null(o, "chunk is not JSON: %.*s", (int)len, json);
    json_object *u = aigw_test_json_at(o, "usage");
    if (u && json_object_is_type(u, json_type_object)) {
        s->in = json_object_get_int64(aigw_test_json_at(u, "prompt_tokens"));
        s->out = json_object_get_int64(aigw_test_json_at(u, "completion_tokens"));
    }
    json_object_put(o);
    s->chunks++;
    return s->stop_after && s->chunks >= s->stop_after;
}

/* aigw_call of chat request req: whole (the answer into *out) or streamed
 * (the chunks to on_chunk, into s). */
static aigw_status chat_call(aigw_client *c, int stream, const char *req,
                             const aigw_call_options *opts, seen *s, char **out, aigw_error **e) {
    return aigw_call(c, stream ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT, req, opts, on_chunk, s,
                     stream ? NULL : out, e);
}

/* ---- refusals ---- */

TestSuite(budgets, .init = sim_setup, .fini = sim_teardown, .timeout = 80);

#define TIGHT                                                                                      \
    "[{\"name\":\"tight\",\"cost\":\"output_tokens\",\"limit\":{\"type\":"                         \
    "\"token_bucket\","                                                                            \
    "\"capacity\":100,\"refill_per_second\":1}}]"

Test(budgets, refusal_names_the_budget_and_makes_no_upstream_request) {
    aigw_client *c = provider_client(&providers[0], NULL, TIGHT);
    char req[1024];
    aigw_test_provider_chat_request(&providers[0], NULL, req,
                                    sizeof req); /* max_tokens 100: exactly the capacity */
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    chat_ok(c, req, &opts);
    char *out = NULL;
    aigw_error *e = NULL;
    cr_expect_eq(info.ratelimit.known, 1);
    cr_expect_str_eq(info.ratelimit.budget, "tight");
    cr_expect_float_eq(info.ratelimit.limit, 100, 1e-9);
    cr_expect_eq(info.attempts, 1);
    cr_expect_eq(info.output_tokens, 4, "settled with %lld output tokens", info.output_tokens);
    /* 4 real output tokens spent, refilling at 1/s: 96 (+ the refill) */
    double left = remaining(c, "tight", NULL);
    cr_expect(left >= 96 - 1e-9 && left < 98, "remaining %f", left);

    /* The same request again needs 100: refused, before any upstream request. */
    aigw_test_sim_reset(&sim);
    memset(&info, 0, sizeof info);
    aigw_status st = aigw_call(c, AIGW_OP_CHAT, req, &opts, NULL, NULL, &out, &e);
    cr_assert_eq(st, AIGW_EBUDGET, "%s: %s", aigw_status_name(st), msg(e));
    cr_expect_null(out);
    cr_expect_eq(aigw_error_status(e), AIGW_EBUDGET);
    cr_expect(strstr(msg(e), "tight") != NULL, "the error does not name the budget: %s", msg(e));
    /* no upstream answered: no HTTP status; the OpenAI-shaped error is a
     * rate_limit_exceeded, as serve's 429 */
    cr_expect_eq(aigw_error_http_status(e), 0, "http status %d", aigw_error_http_status(e));
    cr_expect(strstr(aigw_error_json(e), "rate_limit_exceeded") != NULL, "%s", aigw_error_json(e));
    cr_expect_eq(aigw_status_is_retryable(AIGW_EBUDGET), 0);
    cr_expect_eq(info.ratelimit.known, 1);
    cr_expect_str_eq(info.ratelimit.budget, "tight");
    cr_expect_float_eq(info.ratelimit.limit, 100, 1e-9);
    cr_expect(info.ratelimit.remaining >= 96 - 1e-9 && info.ratelimit.remaining < 100,
              "remaining %f", info.ratelimit.remaining);
    /* 4 missing at 1/s: about 4 s (whole seconds or exact) */
    cr_expect(info.ratelimit.retry_after_seconds > 0 && info.ratelimit.retry_after_seconds <= 4.01,
              "retry after %f", info.ratelimit.retry_after_seconds);
    cr_expect_eq(info.attempts, 0);
    cr_expect_eq(aigw_test_sim_count(&sim), 0, "the refused call reached the upstream");
    aigw_error_free(e);
    e = NULL;

    /* More than the capacity can never fit: retry_after -1. */
    char big[1024];
    snprintf(big, sizeof big, "%s", req);
    char *mt = strstr(big, "\"max_tokens\":100");
    cr_assert_not_null(mt);
    memcpy(mt, "\"max_tokens\":200", 16);
    memset(&info, 0, sizeof info);
    st = aigw_call(c, AIGW_OP_CHAT_STREAM, big, &opts, on_chunk, &(seen){0, 0, -1, -1}, NULL, &e);
    cr_assert_eq(st, AIGW_EBUDGET, "%s: %s", aigw_status_name(st), msg(e));
    cr_expect(strstr(msg(e), "tight") != NULL, "%s", msg(e));
    cr_expect_float_eq(info.ratelimit.retry_after_seconds, -1, 1e-9);
    cr_expect_eq(aigw_test_sim_count(&sim), 0);
    aigw_error_free(e);
    e = NULL;

    /* The plain API (aigw_chat = aigw_call without options) is refused too. */
    st = aigw_chat(c, req, &out, &e);
    cr_expect_eq(st, AIGW_EBUDGET, "%s", aigw_status_name(st));
    cr_expect_eq(aigw_test_sim_count(&sim), 0);
    aigw_error_free(e);
    aigw_client_free(c);
}

typedef struct async_result {
    int done;
    aigw_status status;
    char *response;
    char message[512];
    seen s;
} async_result;

static void on_done(aigw_status status, const char *response, const aigw_error *err, void *user) {
    async_result *r = user;
    r->done++;
    r->status = status;
    r->response = response ? strdup(response) : NULL;
    snprintf(r->message, sizeof r->message, "%s", err ? aigw_error_message(err) : "");
}

static int on_async_chunk(const char *json, size_t len, void *user) {
    async_result *r = user;
    return on_chunk(json, len, &r->s);
}

/* Runs one aigw_call_async to its end on a fresh loop (a stream's chunk
 * callback stops it after stop_after chunks; 0: never). Returns the status
 * aigw_call_async returned; *r says what `done` saw. */
static aigw_status run_async_op(aigw_client *c, aigw_op op, const char *req,
                                const aigw_call_options *opts, async_result *r, int stop_after) {
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    memset(r, 0, sizeof *r);
    r->s.in = r->s.out = -1;
    r->s.stop_after = stop_after;
    aigw_request *handle = NULL;
    aigw_error *e = NULL;
    aigw_status st =
        aigw_call_async(c, &loop, op, req, opts, op == AIGW_OP_CHAT_STREAM ? on_async_chunk : NULL,
                        on_done, r, &handle, &e);
    if (st != AIGW_OK) {
        snprintf(r->message, sizeof r->message, "%s", msg(e));
        aigw_error_free(e);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    aigw_loop_release(c, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    cr_expect_eq(r->done, st == AIGW_OK ? 1 : 0, "done ran %d times (call returned %s)", r->done,
                 aigw_status_name(st));
    return st;
}

static aigw_status run_async(aigw_client *c, aigw_op op, const char *req,
                             const aigw_call_options *opts, async_result *r) {
    return run_async_op(c, op, req, opts, r, 0);
}

Test(budgets, async_calls_reserve_refuse_and_settle) {
    aigw_client *c = provider_client(&providers[0], NULL, TIGHT);
    char req[1024];
    aigw_test_provider_chat_request(&providers[0], ",\"stream_options\":{\"include_usage\":true}",
                                    req, sizeof req);
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    async_result r;
    cr_assert_eq(run_async(c, AIGW_OP_CHAT_STREAM, req, &opts, &r), AIGW_OK, "%s", r.message);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.message);
    cr_expect_eq(r.s.out, 4);
    cr_expect_eq(info.output_tokens, 4);
    double left = remaining(c, "tight", NULL);
    cr_expect(left >= 96 - 1e-9 && left < 98, "remaining %f", left);
    free(r.response);

    /* Refused, from the call itself or through done; never upstream. */
    aigw_test_sim_reset(&sim);
    memset(&info, 0, sizeof info);
    aigw_status st = run_async(c, AIGW_OP_CHAT, req, &opts, &r);
    aigw_status final = st != AIGW_OK ? st : r.status;
    cr_expect_eq(final, AIGW_EBUDGET, "%s: %s", aigw_status_name(final), r.message);
    cr_expect(strstr(r.message, "tight") != NULL, "%s", r.message);
    cr_expect_eq(info.ratelimit.known, 1);
    cr_expect_str_eq(info.ratelimit.budget, "tight");
    cr_expect(info.ratelimit.retry_after_seconds > 0, "%f", info.ratelimit.retry_after_seconds);
    cr_expect_eq(aigw_test_sim_count(&sim), 0);
    free(r.response);
    aigw_client_free(c);
}

/* ---- settling with the real usage, every adapter ---- */

#define SPEND                                                                                      \
    "[{\"name\":\"spend\",\"cost\":\"input_tokens + "                                              \
    "4*output_tokens\",\"limit\":{\"type\":"                                                       \
    "\"token_bucket\",\"capacity\":10000,\"refill_per_second\":0}}]"

Test(budgets, every_adapter_settles_with_the_real_usage_whole_and_streamed) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        /* 0: whole; 1: streamed with a usage chunk; 2: streamed without
         * (the library asks upstream for usage all the same) */
        for (int mode = 0; mode < 3; mode++) {
            int stream = mode > 0;
            aigw_client *c = provider_client(p, NULL, SPEND);
            char req[1024];
            aigw_test_provider_chat_request(
                p, mode == 1 ? ",\"stream_options\":{\"include_usage\":true}" : NULL, req,
                sizeof req);
            aigw_call_info info;
            aigw_call_options opts = info_opts(&info);
            char *out = NULL;
            aigw_error *e = NULL;
            seen s = {0, 0, -1, -1};
            aigw_status st = chat_call(c, stream, req, &opts, &s, &out, &e);
            cr_assert_eq(st, AIGW_OK, "%s %s: %s", p->name, stream ? "stream" : "whole", msg(e));
            long long in = s.in, o = s.out;
            if (mode == 2) { /* no usage chunk: the deterministic numbers */
                cr_expect_eq(s.in, -1, "%s: a usage chunk nobody asked for", p->name);
                in = 5;
                o = 4;
            }
            if (!stream) {
                json_object *answer = aigw_test_json_parse(out);
                in = aigw_test_json_int_at(answer, "usage.prompt_tokens");
                o = aigw_test_json_int_at(answer, "usage.completion_tokens");
                json_object_put(answer);
                aigw_free(out);
            }
            /* The simulator's deterministic usage: 5 words in, 4 out. */
            cr_expect_eq(in, 5, "%s %s: prompt_tokens %lld", p->name, stream ? "stream" : "whole",
                         in);
            cr_expect_eq(o, 4, "%s %s: completion_tokens %lld", p->name,
                         stream ? "stream" : "whole", o);
            cr_expect_eq(info.input_tokens, in, "%s %s: settled with %lld input tokens", p->name,
                         stream ? "stream" : "whole", info.input_tokens);
            cr_expect_eq(info.output_tokens, o, "%s %s: settled with %lld output tokens", p->name,
                         stream ? "stream" : "whole", info.output_tokens);
            cr_expect_eq(info.ratelimit.known, 1, "%s", p->name);
            cr_expect_float_eq(info.ratelimit.limit, 10000, 1e-9, "%s", p->name);
            double want = 10000 - (double)(in + 4 * o);
            double left = remaining(c, "spend", NULL);
            cr_expect_float_eq(left, want, 1e-9, "%s %s: remaining %f, want %f", p->name,
                               stream ? "stream" : "whole", left, want);
            aigw_client_free(c);
        }
    }
    /* embeddings: input only (the simulator counts words) */
    aigw_client *c = provider_client(&providers[0], NULL, SPEND);
    char *out = NULL;
    aigw_error *e = NULL;
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    cr_assert_eq(aigw_call(c, AIGW_OP_EMBED,
                           "{\"model\":\"openai/text-embedding-3-small\",\"input\":\"one two "
                           "three\"}",
                           &opts, NULL, NULL, &out, &e),
                 AIGW_OK, "%s", msg(e));
    json_object *answer = aigw_test_json_parse(out);
    long long in = aigw_test_json_int_at(answer, "usage.prompt_tokens");
    json_object_put(answer);
    aigw_free(out);
    cr_expect_eq(in, 3);
    cr_expect_float_eq(remaining(c, "spend", NULL), 10000 - (double)in, 1e-9,
                       "embeddings: remaining %f", remaining(c, "spend", NULL));
    aigw_client_free(c);
}

/* ---- aborted streams and failures ---- */

/* The cost the call must have been settled with: the usage info reports,
 * the estimate for what it reports unknown (-1). */
static double settled_cost(const aigw_call_info *info, const char *req) {
    long long ein, eout;
    estimate(req, &ein, &eout);
    long long in = info->input_tokens >= 0 ? info->input_tokens : ein;
    long long out = info->output_tokens >= 0 ? info->output_tokens : eout;
    return (double)(in + 4 * out);
}

Test(budgets, an_aborted_stream_settles_with_the_usage_seen_so_far) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        int anthropic = strstr(p->name, "anthropic") || !strcmp(p->name, "claude-vertex");
        /* (1) the caller stops after the first chunk */
        aigw_client *c = provider_client(p, NULL, SPEND);
        char req[1024];
        aigw_test_provider_chat_request(p, NULL, req, sizeof req);
        aigw_call_info info;
        aigw_call_options opts = info_opts(&info);
        aigw_error *e = NULL;
        seen s = {0, 1, -1, -1};
        aigw_status st = aigw_call(c, AIGW_OP_CHAT_STREAM, req, &opts, on_chunk, &s, NULL, &e);
        cr_expect_eq(st, AIGW_ESTOPPED, "%s: %s %s", p->name, aigw_status_name(st), msg(e));
        cr_expect_eq(s.chunks, 1, "%s", p->name);
        aigw_error_free(e);
        e = NULL;
        double left = remaining(c, "spend", NULL);
        cr_expect_lt(left, 10000, "%s: an aborted stream was not charged", p->name);
        cr_expect_float_eq(left, 10000 - settled_cost(&info, req), 1e-9,
                           "%s: remaining %f; info says in %lld out %lld", p->name, left,
                           info.input_tokens, info.output_tokens);
        if (anthropic) { /* message_start told the input tokens before the first chunk, but
                            its output_tokens (1) is a placeholder: the estimate is charged */
            cr_expect_eq(info.input_tokens, 5, "%s: settled input %lld, message_start said 5",
                         p->name, info.input_tokens);
            cr_expect_eq(info.output_tokens, -1, "%s: settled output %lld, expected unknown",
                         p->name, info.output_tokens);
        }
        aigw_client_free(c);

        /* (2) the upstream cuts the stream (cut_after) */
        char fault[32];
        snprintf(fault, sizeof fault, "cut_after=%d", p->cut_after);
        c = provider_client(p, fault, SPEND);
        memset(&info, 0, sizeof info);
        seen s2 = {0, 0, -1, -1};
        st = aigw_call(c, AIGW_OP_CHAT_STREAM, req, &opts, on_chunk, &s2, NULL, &e);
        cr_expect_eq(st, AIGW_ETRUNCATED, "%s cut: %s %s", p->name, aigw_status_name(st), msg(e));
        cr_expect_geq(s2.chunks, 1, "%s cut: no chunk reached the caller", p->name);
        aigw_error_free(e);
        e = NULL;
        left = remaining(c, "spend", NULL);
        cr_expect_lt(left, 10000, "%s cut: a cut stream was not charged", p->name);
        cr_expect_float_eq(left, 10000 - settled_cost(&info, req), 1e-9,
                           "%s cut: remaining %f; info says in %lld out %lld", p->name, left,
                           info.input_tokens, info.output_tokens);
        if (anthropic) {
            cr_expect_eq(info.input_tokens, 5, "%s cut: settled input %lld", p->name,
                         info.input_tokens);
            cr_expect_eq(info.output_tokens, -1, "%s cut: settled output %lld", p->name,
                         info.output_tokens);
        }
        aigw_client_free(c);
    }
}

Test(budgets, an_upstream_failure_refunds_the_reservation) {
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider *p = &providers[i];
        for (int stream = 0; stream < 2; stream++) {
            aigw_client *c = provider_client(p, "status=500", SPEND);
            char req[1024];
            aigw_test_provider_chat_request(p, NULL, req, sizeof req);
            aigw_call_info info;
            aigw_call_options opts = info_opts(&info);
            char *out = NULL;
            aigw_error *e = NULL;
            seen s = {0, 0, -1, -1};
            aigw_test_sim_reset(&sim);
            aigw_status st = chat_call(c, stream, req, &opts, &s, &out, &e);
            cr_expect_eq(st, AIGW_EUPSTREAM, "%s: %s %s", p->name, aigw_status_name(st), msg(e));
            cr_expect_geq(aigw_test_sim_count(&sim), 1, "%s: the call never went upstream",
                          p->name);
            aigw_error_free(e);
            double left = remaining(c, "spend", NULL);
            cr_expect_float_eq(left, 10000, 1e-9, "%s %s: remaining %f after a failure", p->name,
                               stream ? "stream" : "whole", left);
            aigw_client_free(c);
        }
    }
}

/* ---- scopes, costs, price tables ---- */

static aigw_status call_as(aigw_client *c, const char *req, const char *user, const char *team,
                           const char *key, aigw_error **e) {
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.user = user;
    opts.team = team;
    opts.key = key;
    char *out = NULL;
    aigw_status st = aigw_call(c, AIGW_OP_CHAT, req, &opts, NULL, NULL, &out, e);
    aigw_free(out);
    return st;
}

static void expect_admitted(aigw_client *c, const char *req, const char *user, const char *team,
                            const char *key, const char *what) {
    aigw_error *e = NULL;
    aigw_status st = call_as(c, req, user, team, key, &e);
    cr_expect_eq(st, AIGW_OK, "%s: %s %s", what, aigw_status_name(st), msg(e));
    aigw_error_free(e);
}

static void expect_refused(aigw_client *c, const char *req, const char *user, const char *team,
                           const char *key, const char *budget, const char *what) {
    aigw_error *e = NULL;
    aigw_status st = call_as(c, req, user, team, key, &e);
    cr_expect_eq(st, AIGW_EBUDGET, "%s: %s %s", what, aigw_status_name(st), msg(e));
    cr_expect(e && strstr(msg(e), budget), "%s: want budget %s in: %s", what, budget, msg(e));
    /* Every refusal here is of an estimate below the budget's limit.
     * LIBRARY BUG (/tmp/notes/budget-requests.md #2): an exhausted budget
     * that does not refill is reported as "this request's estimated cost
     * (1) is more than the budget's limit (2)". */
    cr_expect(!e || !strstr(msg(e), "more than the budget's limit"), "%s: misleading: %s", what,
              msg(e));
    aigw_error_free(e);
}

#define MOCK_REQ(user_field)                                                                       \
    "{\"model\":\"mock/"                                                                           \
    "echo\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"a "                    \
    "b "                                                                                           \
    "c d\"}]" user_field "}"

Test(budgets, per_user_from_the_request_and_from_the_options) {
    aigw_client *c = aigw_test_client_new(
        "{\"budgets\":[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},"
        "\"cost\":\"requests\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":"
        "2,"
        "\"refill_per_second\":0}}]}");
    const char *alice = MOCK_REQ(",\"user\":\"alice\""), *bob = MOCK_REQ(",\"user\":\"bob\"");
    const char *anon = MOCK_REQ("");
    expect_admitted(c, alice, NULL, NULL, NULL, "alice 1");
    expect_admitted(c, alice, NULL, NULL, NULL, "alice 2");
    expect_refused(c, alice, NULL, NULL, NULL, "per-user", "alice 3");
    expect_admitted(c, bob, NULL, NULL, NULL, "bob has his own counter");
    /* opts.user wins over the request's field */
    expect_admitted(c, alice, "carol", NULL, NULL, "carol (options) 1");
    expect_admitted(c, bob, "carol", NULL, NULL, "carol (options) 2");
    expect_refused(c, anon, "carol", NULL, NULL, "per-user", "carol (options) 3");
    /* no user at all: a per-user budget does not apply */
    for (int i = 0; i < 4; i++)
        expect_admitted(c, anon, NULL, NULL, NULL, "anonymous");
    cr_expect_float_eq(remaining(c, "per-user", "alice"), 0, 1e-9);
    cr_expect_float_eq(remaining(c, "per-user", "bob"), 1, 1e-9);
    cr_expect_float_eq(remaining(c, "per-user", "carol"), 0, 1e-9);
    aigw_client_free(c);
}

/* The library's caller sets the user: a config that serve would refuse
 * (user budgets, no key with a trusted user) loads, and both
 * aigw_call_options.user and the request's "user" are honoured. */
Test(budgets, the_library_trusts_its_callers_user_whatever_the_gateway_says) {
    aigw_client *c = aigw_test_client_new(
        "{\"gateway\":{\"user_header\":\"x-user-id\"},"
        "\"budgets\":[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},"
        "\"cost\":\"requests\",\"limit\":{\"type\":\"token_bucket\",\"capacity\":1,"
        "\"refill_per_second\":0}}]}");
    const char *anon = MOCK_REQ(""), *erin = MOCK_REQ(",\"user\":\"erin\"");
    expect_admitted(c, anon, "dave", NULL, NULL, "dave 1");
    expect_refused(c, anon, "dave", NULL, NULL, "per-user", "dave 2");
    expect_admitted(c, erin, NULL, NULL, NULL, "erin 1");
    expect_refused(c, erin, NULL, NULL, NULL, "per-user", "erin 2");
    cr_expect_float_eq(remaining(c, "per-user", "dave"), 0, 1e-9);
    cr_expect_float_eq(remaining(c, "per-user", "erin"), 0, 1e-9);
    aigw_client_free(c);
}

Test(budgets, per_team_per_key_and_two_budgets_at_once) {
    aigw_client *c = aigw_test_client_new(
        "{\"budgets\":["
        "{\"name\":\"per-team\",\"scope\":{\"team\":\"*\"},"
        "\"cost\":\"input_tokens + 4*output_tokens\","
        "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000,\"refill_per_second\":0}},"
        "{\"name\":\"ci-key\",\"scope\":{\"key\":[\"ci\",\"ci-2\"]},"
        "\"cost\":\"2*output_tokens + requests\","
        "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":30}}]}");
    const char *req = MOCK_REQ("");
    /* mock/echo: 4 words in, 4 out. per-team costs 4 + 16 = 20; ci-key 9. */
    expect_admitted(c, req, NULL, "search", "ci", "search/ci");
    cr_expect_float_eq(remaining(c, "per-team", "search"), 980, 1e-9);
    cr_expect_float_eq(remaining(c, "ci-key", NULL), 21, 1e-9);
    expect_admitted(c, req, NULL, "ads", "ci-2", "ads/ci-2");
    cr_expect_float_eq(remaining(c, "per-team", "ads"), 980, 1e-9);
    cr_expect_float_eq(remaining(c, "per-team", "search"), 980, 1e-9);
    cr_expect_float_eq(remaining(c, "ci-key", NULL), 12, 1e-9);
    expect_admitted(c, req, NULL, "search", "ci", "search/ci 2");
    cr_expect_float_eq(remaining(c, "ci-key", NULL), 3, 1e-9);
    /* ci-key has 3 left, the estimate is 9: refused, and per-team is not
     * charged for the refused call (all or nothing) */
    expect_refused(c, req, NULL, "search", "ci", "ci-key", "ci-key spent");
    cr_expect_float_eq(remaining(c, "per-team", "search"), 960, 1e-9);
    /* another key is not in the list */
    expect_admitted(c, req, NULL, "search", "other", "other key");
    cr_expect_float_eq(remaining(c, "per-team", "search"), 940, 1e-9);
    cr_expect_float_eq(remaining(c, "ci-key", NULL), 3, 1e-9);
    /* no team, no key: nothing applies */
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    char *out = NULL;
    cr_expect_eq(aigw_call(c, AIGW_OP_CHAT, req, &opts, NULL, NULL, &out, NULL), AIGW_OK);
    aigw_free(out);
    cr_expect_eq(info.ratelimit.known, 0, "a budget applied to an anonymous call: %s",
                 info.ratelimit.budget);
    aigw_client_free(c);
}

/* Routes give plain model names, so the "model" scope and the price table
 * see "gpt-4o-mini" as the caller sent it. */
Test(budgets, model_lists_cost_expressions_and_a_price_table_in_dollars) {
    char config[4096];
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,"
             "\"backends\":{\"openai\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\","
             "\"api_key\":\"" KEY "\"}},"
             "\"routes\":[{\"name\":\"gpt\",\"match\":{\"model\":\"gpt-*\"},"
             "\"backends\":[{\"backend\":\"openai\"}]}],"
             "\"budgets\":["
             "{\"name\":\"minis\",\"scope\":{\"model\":[\"gpt-4o-mini\",\"gpt-4.1-mini\"]},"
             "\"cost\":\"max(input_tokens, 10) + (output_tokens + 1) * 2 - min(output_tokens, 3)\","
             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000,\"refill_per_second\":0}},"
             "{\"name\":\"dollars\",\"cost\":{\"prices\":{"
             "\"gpt-4o-mini\":{\"input\":2,\"output\":10,\"cached\":1},"
             "\"*\":{\"input\":100,\"output\":200}}},"
             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":0.01,\"refill_per_second\":0}},"
             "{\"name\":\"route-gpt\",\"scope\":{\"route\":[\"gpt\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":100}}]}",
             root);
    aigw_client *c = aigw_test_client_new(config);
    const char *mini = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"messages\":[{\"role\":"
                       "\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":"
                       "\"hello there friend\"}]}";
    const char *big = "{\"model\":\"gpt-4o\",\"max_tokens\":10,\"messages\":[{\"role\":"
                      "\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":"
                      "\"hello there friend\"}]}";
    expect_admitted(c, mini, NULL, NULL, NULL, "gpt-4o-mini");
    /* 5 in, 4 out: max(5,10) + (4+1)*2 - min(4,3) = 17 tokens;
     * 5 * $2/M + 4 * $10/M = $0.00005 */
    cr_expect_float_eq(remaining(c, "minis", NULL), 1000 - 17, 1e-9);
    cr_expect_float_eq(remaining(c, "dollars", NULL), 0.01 - 0.00005, 1e-12);
    /* gpt-4o is not in the list; it pays the "*" price: 5*100 + 4*200 = $0.0013
     */
    expect_admitted(c, big, NULL, NULL, NULL, "gpt-4o");
    cr_expect_float_eq(remaining(c, "minis", NULL), 1000 - 17, 1e-9);
    cr_expect_float_eq(remaining(c, "dollars", NULL), 0.01 - 0.00005 - 0.0013, 1e-12);
    /* The estimate for gpt-4o is 15 in + 10 out = $0.0035; each call costs
     * $0.0013 for real. After 4 calls $0.00475 are left: a 5th fits, leaving
     * $0.00345 — which is $0.00005 (the gpt-4o-mini call) short of a 6th. */
    for (int i = 2; i <= 5; i++)
        expect_admitted(c, big, NULL, NULL, NULL, "gpt-4o 2..5");
    cr_expect_float_eq(remaining(c, "dollars", NULL), 0.01 - 0.00005 - 5 * 0.0013, 1e-12);
    expect_refused(c, big, NULL, NULL, NULL, "dollars", "gpt-4o 6");
    /* the route's budget counted the 6 admitted calls, not the refused one */
    cr_expect_float_eq(remaining(c, "route-gpt", NULL), 94, 1e-9);
    aigw_client_free(c);
}

/* A budget scoped on a backend is reserved per attempt: when it is spent,
 * the backend is skipped like a failed one and the next one answers. */
Test(budgets, a_spent_backend_budget_moves_the_call_to_the_next_backend) {
    char config[4096];
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"a\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"api_key\":\"" KEY "\"},"
             "\"b\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"api_key\":\"" KEY "\"}},"
             "\"routes\":[{\"name\":\"chat\",\"match\":{\"model\":\"gpt-*\"},\"backends\":["
             "{\"backend\":\"a\",\"priority\":0},{\"backend\":\"b\",\"priority\":1}],"
             "\"retry\":{\"attempts\":2,\"backoff_ms\":1}}],"
             "\"budgets\":["
             "{\"name\":\"a-only\",\"scope\":{\"backend\":[\"a\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1}},"
             "{\"name\":\"b-only\",\"scope\":{\"backend\":[\"b\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1}}]}",
             root, root);
    aigw_client *c = aigw_test_client_new(config);
    const char *req = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":10,\"messages\":[{\"role\":"
                      "\"user\",\"content\":\"hello there friend\"}]}";
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    chat_ok(c, req, &opts);
    cr_expect_str_eq(info.backend, "a");
    cr_expect_float_eq(remaining(c, "a-only", NULL), 0, 1e-9);
    chat_ok(c, req, &opts);
    cr_expect_str_eq(info.backend, "b", "a's budget is spent: want b, got %s", info.backend);
    cr_expect_float_eq(remaining(c, "b-only", NULL), 0, 1e-9);
    /* both spent: refused, no upstream request */
    aigw_test_sim_reset(&sim);
    char *out = NULL;
    aigw_error *e = NULL;
    aigw_status st = aigw_call(c, AIGW_OP_CHAT, req, &opts, NULL, NULL, &out, &e);
    cr_expect_eq(st, AIGW_EBUDGET, "%s: %s", aigw_status_name(st), msg(e));
    cr_expect(e && (strstr(msg(e), "a-only") || strstr(msg(e), "b-only")), "%s", msg(e));
    cr_expect_eq(aigw_test_sim_count(&sim), 0);
    aigw_error_free(e);
    aigw_client_free(c);
}

/* ---- refill and windows (mock backend: no network) ---- */

static aigw_status mock_call(aigw_client *c, aigw_call_info *info) {
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.info = info;
    char *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    aigw_status st = aigw_call(c, AIGW_OP_CHAT, MOCK_REQ(""), &opts, NULL, NULL, &out, NULL);
    aigw_free(out);
    return st;
}

Test(budgets, a_token_bucket_refills_at_its_rate_up_to_its_capacity) {
    aigw_client *c = aigw_test_client_new("{\"budgets\":[{\"name\":\"fast\",\"cost\":\"requests\","
                                          "\"limit\":{\"type\":\"token_bucket\",\"capacity\":2,"
                                          "\"refill_per_second\":10}}]}");
    aigw_call_info info;
    double t0 = mono();
    cr_assert_eq(mock_call(c, &info), AIGW_OK);
    cr_assert_eq(mock_call(c, &info), AIGW_OK);
    /* Refilled 10/s since the first call: 1 request every 100 ms. */
    aigw_status st = mock_call(c, &info);
    double t1 = mono();
    if (t1 - t0 < 0.095) {
        cr_expect_eq(st, AIGW_EBUDGET, "%s after %.3f s", aigw_status_name(st), t1 - t0);
        cr_expect_str_eq(info.ratelimit.budget, "fast");
        cr_expect(info.ratelimit.retry_after_seconds > 0 &&
                      info.ratelimit.retry_after_seconds <= 1.0 + 1e-9,
                  "retry after %f", info.ratelimit.retry_after_seconds);
    }
    /* After 250 ms the bucket is full again, but never more than 2. */
    sleep_s(t0 + 0.25 - mono());
    double t2 = mono();
    cr_expect_eq(mock_call(c, &info), AIGW_OK);
    cr_expect_eq(mock_call(c, &info), AIGW_OK);
    st = mock_call(c, &info);
    if (mono() - t2 < 0.095)
        cr_expect_eq(st, AIGW_EBUDGET, "the bucket held more than its capacity");
    /* And the refill keeps going at its rate: in 1 s about 10 more. */
    sleep_s(0.1);
    int admitted = 0;
    double t3 = mono();
    while (mono() - t3 < 1.0) {
        if (mock_call(c, NULL) == AIGW_OK)
            admitted++;
        sleep_s(0.005);
    }
    cr_expect(admitted >= 8 && admitted <= 13, "%d admitted in 1 s at 10/s (capacity 2)", admitted);
    aigw_client_free(c);
}

Test(budgets, a_fixed_window_refuses_until_it_ends) {
    aigw_client *c =
        aigw_test_client_new("{\"budgets\":[{\"name\":\"minute\",\"cost\":\"requests\","
                             "\"limit\":{\"type\":\"window\",\"per\":\"minute\",\"max\":3}}]}");
    /* Not across a minute boundary while filling it. */
    double into = fmod(wall(), 60);
    if (into > 58.5)
        sleep_s(60 - into + 0.05);
    aigw_call_info info;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(mock_call(c, &info), AIGW_OK);
    cr_expect_float_eq(info.ratelimit.limit, 3, 1e-9);
    cr_expect_float_eq(info.ratelimit.remaining, 0, 1e-9);
    aigw_status st = mock_call(c, &info);
    double left = 60 - fmod(wall(), 60); /* seconds until the window ends */
    cr_assert_eq(st, AIGW_EBUDGET, "%s", aigw_status_name(st));
    cr_expect_str_eq(info.ratelimit.budget, "minute");
    cr_expect(fabs(info.ratelimit.retry_after_seconds - left) <= 1.05,
              "retry after %f, the window ends in %f", info.ratelimit.retry_after_seconds, left);
    cr_expect(fabs(info.ratelimit.reset_seconds - left) <= 1.05, "reset %f, the window ends in %f",
              info.ratelimit.reset_seconds, left);
    cr_expect(fabs(aigw_test_budget_counter(c, "minute", NULL, "reset_seconds") - left) <= 1.05);
    /* Still refused a little later in the same window. */
    if (left > 0.5) {
        sleep_s(0.2);
        cr_expect_eq(mock_call(c, &info), AIGW_EBUDGET);
    }
    /* Wait for the boundary only when it is near (the file must stay fast);
     * the store's own tests cover boundaries with a fake clock. */
    left = 60 - fmod(wall(), 60);
    if (left <= 8) {
        sleep_s(left + 0.1);
        cr_expect_eq(mock_call(c, &info), AIGW_OK, "refused in the next window");
        cr_expect_float_eq(info.ratelimit.remaining, 2, 1e-9);
    } else {
        cr_log_info("window boundary %.1f s away: not waited for", left);
    }
    aigw_client_free(c);
}

/* ---- exactness under many threads ---- */

typedef struct hammer {
    aigw_client *client;
    int id;
    _Atomic long long *admitted;
    _Atomic long long *errors;
    char last_error[256];
} hammer;

static int quiet_chunk(const char *json, size_t len, void *user) {
    (void)json;
    (void)len;
    (void)user;
    return 0;
}

/* Calls until the budget refuses (refill 0: it refuses for good). */
static void *hammer_main(void *arg) {
    hammer *h = arg;
    for (int i = 0; i < 100000; i++) {
        aigw_op op = (h->id + i) % 2 ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT;
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st = aigw_call(h->client, op, MOCK_REQ(""), NULL, quiet_chunk, NULL,
                                   op == AIGW_OP_CHAT ? &out : NULL, &e);
        aigw_free(out);
        if (st == AIGW_OK) {
            atomic_fetch_add(h->admitted, 1);
        } else {
            /* the end of the budget; not a store failure or another error */
            if (st != AIGW_EBUDGET || !strstr(msg(e), "exhausted")) {
                atomic_fetch_add(h->errors, 1);
                snprintf(h->last_error, sizeof h->last_error, "%s: %s", aigw_status_name(st),
                         msg(e));
            }
            aigw_error_free(e);
            break;
        }
    }
    return NULL;
}

/* 64 threads over `clients` (1 or 2); returns the admitted count. */
static long long hammer_run(aigw_client **clients, int n_clients) {
    _Atomic long long admitted = 0, errors = 0;
    pthread_t th[64];
    hammer hs[64];
    for (int i = 0; i < 64; i++) {
        hs[i] = (hammer){clients[i % n_clients], i, &admitted, &errors, ""};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer_main, &hs[i]), 0);
    }
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 64; i++)
        cr_expect_str_empty(hs[i].last_error, "thread %d: %s", i, hs[i].last_error);
    cr_expect_eq(atomic_load(&errors), 0);
    return atomic_load(&admitted);
}

/* mock/echo with max_tokens 4 and a 4-word message: the estimate and the
 * real usage are both 4 output tokens, so each call costs exactly 9. */
#define EXACT_BUDGET                                                                               \
    "[{\"name\":\"exact\",\"cost\":\"2*output_tokens + "                                           \
    "requests\",\"limit\":{\"type\":"                                                              \
    "\"token_bucket\",\"capacity\":5000,\"refill_per_second\":0}}]"

Test(budgets, sixty_four_threads_in_memory_never_overspend) {
    aigw_client *c = aigw_test_client_new("{\"budgets\":" EXACT_BUDGET "}");
    long long admitted = hammer_run(&c, 1);
    cr_expect_eq(admitted, 5000 / 9, "%lld admitted, want %d", admitted, 5000 / 9);
    cr_expect_leq(admitted * 9, 5000);
    cr_expect_float_eq(remaining(c, "exact", NULL), 5000 - 9 * (5000 / 9), 1e-9);
    expect_store(c, "memory");
    aigw_client_free(c);
}

/* ---- Redis ---- */

static aigw_test_redis redis;

static void redis_setup(void) {
    int rc = aigw_test_redis_start(&redis, 0);
    if (rc == 1)
        cr_skip_test("redis-server is not installed");
    cr_assert_eq(rc, 0, "redis-server did not start");
}

static void redis_teardown(void) {
    aigw_test_redis_stop(&redis);
}

TestSuite(budgets_redis, .init = redis_setup, .fini = redis_teardown, .timeout = 80);

static aigw_client *redis_client(const char *budgets) {
    char config[4096];
    snprintf(config, sizeof config,
             "{\"budgets\":%s,\"accounting\":{\"store\":{\"type\":\"redis\","
             "\"host\":\"127.0.0.1\",\"port\":%d,\"prefix\":\"aigw:test:%d:\","
             "\"timeout_ms\":2000}}}", /* generous: a loaded machine is not a store error */
             budgets, redis.port, (int)getpid());
    return aigw_test_client_new(config);
}

Test(budgets_redis, settles_refuses_and_is_shared_between_clients) {
    const char *b = "[{\"name\":\"r\",\"cost\":\"2*output_tokens + requests\",\"limit\":{"
                    "\"type\":\"token_bucket\",\"capacity\":100,\"refill_per_second\":0}},"
                    "{\"name\":\"rw\",\"scope\":{\"user\":\"*\"},\"cost\":\"input_tokens\","
                    "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000}}]";
    aigw_client *c = redis_client(b);
    expect_store(c, "redis");
    aigw_call_info info;
    cr_assert_eq(mock_call(c, &info), AIGW_OK);
    cr_expect_float_eq(remaining(c, "r", NULL), 91, 1e-9);
    cr_expect_eq(info.ratelimit.known, 1);
    cr_expect_str_eq(info.ratelimit.budget, "r");
    expect_admitted(c, MOCK_REQ(",\"user\":\"ursula\""), NULL, NULL, NULL, "ursula");
    cr_expect_float_eq(remaining(c, "r", NULL), 82, 1e-9);
    cr_expect_float_eq(remaining(c, "rw", "ursula"), 996, 1e-9);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(mock_call(c, &info), AIGW_OK);
    cr_expect_float_eq(remaining(c, "r", NULL), 1, 1e-9);
    /* another client (another process, as far as Redis can tell) sees the
     * same counter, and is refused */
    aigw_client *c2 = redis_client(b);
    cr_expect_float_eq(remaining(c2, "r", NULL), 1, 1e-9);
    cr_expect_float_eq(remaining(c2, "rw", "ursula"), 996, 1e-9);
    aigw_error *e = NULL;
    char *out = NULL;
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.info = &info;
    memset(&info, 0, sizeof info);
    cr_expect_eq(aigw_call(c2, AIGW_OP_CHAT, MOCK_REQ(""), &opts, NULL, NULL, &out, &e),
                 AIGW_EBUDGET);
    cr_expect(strstr(msg(e), "\"r\"") || strstr(msg(e), "r "), "%s", msg(e));
    /* LIBRARY BUG #2: not "more than the budget's limit" (9 < 100) */
    cr_expect(!strstr(msg(e), "more than the budget's limit"), "misleading: %s", msg(e));
    cr_expect_eq(info.ratelimit.known, 1);
    cr_expect_float_eq(info.ratelimit.retry_after_seconds, -1, 1e-9, "refill 0: never, got %f",
                       info.ratelimit.retry_after_seconds);
    aigw_error_free(e);
    aigw_client_free(c2);
    aigw_client_free(c);
}

Test(budgets_redis, two_clients_sixty_four_threads_never_overspend) {
    aigw_client *cs[2] = {redis_client(EXACT_BUDGET), redis_client(EXACT_BUDGET)};
    long long admitted = hammer_run(cs, 2);
    cr_expect_eq(admitted, 5000 / 9, "%lld admitted, want %d", admitted, 5000 / 9);
    cr_expect_leq(admitted * 9, 5000);
    cr_expect_float_eq(remaining(cs[0], "exact", NULL), 5000 - 9 * (5000 / 9), 1e-9);
    cr_expect_float_eq(remaining(cs[1], "exact", NULL), 5000 - 9 * (5000 / 9), 1e-9);
    aigw_client_free(cs[0]);
    aigw_client_free(cs[1]);
}

Test(budgets_redis, a_restart_fails_closed_or_open_then_recovers) {
    aigw_client *c =
        redis_client("[{\"name\":\"closed\",\"scope\":{\"user\":[\"c\"]},\"cost\":"
                     "\"requests\","
                     "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000},"
                     "\"on_store_error\":\"fail_closed\"},"
                     "{\"name\":\"open\",\"scope\":{\"user\":[\"o\"]},\"cost\":\"requests\","
                     "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000},"
                     "\"on_store_error\":\"fail_open\"},"
                     "{\"name\":\"default\",\"scope\":{\"user\":[\"d\"]},\"cost\":"
                     "\"requests\","
                     "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":1000}}]");
    const char *req = MOCK_REQ("");
    expect_admitted(c, req, "c", NULL, NULL, "closed, Redis up");
    expect_admitted(c, req, "o", NULL, NULL, "open, Redis up");
    expect_admitted(c, req, "d", NULL, NULL, "default, Redis up");
    cr_expect_float_eq(remaining(c, "closed", NULL), 999, 1e-9);

    aigw_test_redis_stop(&redis);
    for (int i = 0; i < 3; i++) {
        aigw_error *e = NULL;
        double t = mono();
        aigw_status st = call_as(c, req, "c", NULL, NULL, &e);
        cr_expect(st == AIGW_EBUDGET || st == AIGW_ECONNECT, "fail_closed with Redis down: %s %s",
                  aigw_status_name(st), msg(e));
        cr_expect(strstr(msg(e), "closed") != NULL, "the error does not name the budget: %s",
                  msg(e));
        cr_expect_lt(mono() - t, 2.0, "a refusal took %.2f s", mono() - t);
        aigw_error_free(e);
        e = NULL;
        /* the default is fail_closed */
        st = call_as(c, req, "d", NULL, NULL, &e);
        cr_expect(st == AIGW_EBUDGET || st == AIGW_ECONNECT, "default with Redis down: %s %s",
                  aigw_status_name(st), msg(e));
        aigw_error_free(e);
        expect_admitted(c, req, "o", NULL, NULL, "fail_open with Redis down");
        expect_admitted(c, req, "nobody", NULL, NULL, "no budget applies");
    }
    char *json = NULL;
    cr_expect_neq(aigw_test_budget_status(c, &json, NULL, 0), AIGW_OK,
                  "status read Redis while it was down");
    aigw_free(json);

    cr_assert_eq(aigw_test_redis_start(&redis, redis.port), 0, "redis-server did not restart");
    expect_admitted(c, req, "c", NULL, NULL, "closed after the restart");
    expect_admitted(c, req, "o", NULL, NULL, "open after the restart");
    expect_admitted(c, req, "d", NULL, NULL, "default after the restart");
    /* a fresh Redis: counting starts again */
    cr_expect_float_eq(remaining(c, "closed", NULL), 999, 1e-9);
    cr_expect_float_eq(remaining(c, "open", NULL), 999, 1e-9);
    aigw_client_free(c);
}

/* The settle paths (whole, streamed, stopped by the caller, refunded after
 * a 500) against the simulator with the counters in Redis. */
Test(budgets_redis, settles_streams_aborts_and_refunds_in_redis) {
    sim_setup();
    const provider *p = &providers[0];
    char backend[512], config[4096];
    aigw_test_provider_backend(p, root, KEY, backend, sizeof backend);
    for (int mode = 0; mode < 4; mode++) {
        snprintf(config, sizeof config,
                 "{\"env_defaults\":false,\"backends\":{\"%s\":{%s%s}},\"budgets\":%s,"
                 "\"accounting\":{\"store\":{\"type\":\"redis\",\"port\":%d,\"prefix\":"
                 "\"aigw:test:%d:%d:\"}}}",
                 p->name, backend, mode == 3 ? ",\"headers\":{\"x-sim-fault\":\"status=500\"}" : "",
                 SPEND, redis.port, (int)getpid(), mode);
        aigw_client *c = aigw_test_client_new(config);
        char req[1024];
        aigw_test_provider_chat_request(p, ",\"stream_options\":{\"include_usage\":true}", req,
                                        sizeof req);
        aigw_call_info info;
        aigw_call_options opts = info_opts(&info);
        char *out = NULL;
        aigw_error *e = NULL;
        seen s = {0, mode == 2 ? 1 : 0, -1, -1};
        aigw_op op = mode == 0 ? AIGW_OP_CHAT : AIGW_OP_CHAT_STREAM;
        aigw_status st =
            aigw_call(c, op, req, &opts, on_chunk, &s, op == AIGW_OP_CHAT ? &out : NULL, &e);
        aigw_status want[] = {AIGW_OK, AIGW_OK, AIGW_ESTOPPED, AIGW_EUPSTREAM};
        cr_expect_eq(st, want[mode], "mode %d: %s %s", mode, aigw_status_name(st), msg(e));
        aigw_free(out);
        aigw_error_free(e);
        double left = remaining(c, "spend", NULL);
        if (mode < 2) /* 5 in, 4 out */
            cr_expect_float_eq(left, 10000 - 21, 1e-9, "mode %d: remaining %f", mode, left);
        else if (mode == 2)
            cr_expect_float_eq(left, 10000 - settled_cost(&info, req), 1e-9,
                               "stopped: remaining %f", left);
        else
            cr_expect_float_eq(left, 10000, 1e-9, "failed: remaining %f", left);
        aigw_client_free(c);
    }
    sim_teardown();
}

/* A frozen Redis (SIGSTOP: connections accepted, nothing answered) makes
 * every store call wait for its timeout. An async call with budgets scoped
 * on backend reserves and settles per attempt: that waiting must happen on
 * the thread pool, never on the caller's loop, which keeps ticking. */
/* Cancels k->request when its timer fires. */
typedef struct canceler {
    aigw_request *request;
    uv_timer_t timer;
} canceler;

static void cancel_now(uv_timer_t *t) {
    canceler *k = t->data;
    aigw_request_cancel(k->request);
    uv_close((uv_handle_t *)t, NULL);
}

typedef struct loop_watch {
    uv_timer_t ticker;
    double last, max_gap;
    async_result r;
} loop_watch;

static void on_tick(uv_timer_t *t) {
    loop_watch *w = t->data;
    double now = mono();
    if (now - w->last > w->max_gap)
        w->max_gap = now - w->last;
    w->last = now;
}

static void on_watched_done(aigw_status status, const char *response, const aigw_error *err,
                            void *user) {
    loop_watch *w = user;
    on_done(status, response, err, &w->r);
    uv_close((uv_handle_t *)&w->ticker, NULL);
}

/* One async call on a fresh loop with Redis frozen meanwhile (canceled
 * after cancel_ms if > 0), a 10 ms ticker watching the loop; returns how
 * long the loop ran. */
static double frozen_store_call(aigw_client *c, loop_watch *w, long cancel_ms) {
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    memset(w, 0, sizeof *w);
    canceler k = {0};
    uv_timer_init(&loop, &w->ticker);
    uv_timer_init(&loop, &k.timer);
    w->ticker.data = w;
    k.timer.data = &k;
    cr_assert_eq(kill(redis.pid, SIGSTOP), 0);
    aigw_error *e = NULL;
    aigw_status st = aigw_call_async(c, &loop, AIGW_OP_CHAT, MOCK_REQ(""), NULL, NULL,
                                     on_watched_done, w, &k.request, &e);
    w->last = mono();
    uv_timer_start(&w->ticker, on_tick, 10, 10);
    if (cancel_ms > 0)
        uv_timer_start(&k.timer, cancel_now, (uint64_t)cancel_ms, 0);
    else
        uv_close((uv_handle_t *)&k.timer, NULL);
    double t = mono();
    if (st == AIGW_OK)
        uv_run(&loop, UV_RUN_DEFAULT);
    double took = mono() - t;
    kill(redis.pid, SIGCONT);
    cr_assert_eq(st, AIGW_OK, "%s", msg(e));
    aigw_loop_release(c, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);
    cr_expect_eq(w->r.done, 1);
    return took;
}

Test(budgets_redis, a_frozen_store_never_stalls_the_loop_of_async_calls) {
    char config[2048];
    snprintf(config, sizeof config,
             "{\"budgets\":[{\"name\":\"per-backend\",\"scope\":{\"backend\":\"*\"},"
             "\"cost\":\"requests\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
             "\"max\":1000},\"on_store_error\":\"fail_open\"}],"
             "\"accounting\":{\"store\":{\"type\":\"redis\",\"host\":\"127.0.0.1\","
             "\"port\":%d,\"prefix\":\"aigw:test:%d:\",\"timeout_ms\":600}}}",
             redis.port, (int)getpid());
    aigw_client *c = aigw_test_client_new(config);
    expect_admitted(c, MOCK_REQ(""), NULL, NULL, NULL, "Redis up");
    cr_expect_float_eq(remaining(c, "per-backend", "mock"), 999, 1e-9);

    loop_watch w;
    double took = frozen_store_call(c, &w, 0);
    cr_expect_eq(w.r.status, AIGW_OK, "fail_open with Redis frozen: %s %s",
                 aigw_status_name(w.r.status), w.r.message);
    cr_expect_geq(took, 0.6, "the call took %.3f s: the frozen store was never waited on", took);
    /* a stall would be a store timeout (600 ms) or more; a busy machine's
     * scheduling is far below that */
    cr_expect_lt(w.max_gap, 0.3, "the loop stalled for %.0f ms (the call took %.0f ms)",
                 w.max_gap * 1e3, took * 1e3);
    free(w.r.response);

    /* Canceled while its backend's budget waits on the frozen store: done
     * reports the cancel once the store call returns, the loop never stops. */
    frozen_store_call(c, &w, 50);
    cr_expect_eq(w.r.status, AIGW_ECANCELED, "%s %s", aigw_status_name(w.r.status), w.r.message);
    cr_expect_lt(w.max_gap, 0.3, "the loop stalled for %.0f ms while canceling", w.max_gap * 1e3);
    free(w.r.response);

    expect_admitted(c, MOCK_REQ(""), NULL, NULL, NULL, "Redis thawed");
    aigw_client_free(c);
}

/* ---- async: stopped, failed and canceled calls ---- */

Test(budgets, async_calls_settle_when_stopped_refund_when_failed_or_canceled) {
    const provider *anth = &providers[1];
    char req[1024];
    aigw_test_provider_chat_request(anth, NULL, req, sizeof req);
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    async_result r;

    /* stopped by the chunk callback after the first chunk */
    aigw_client *c = provider_client(anth, NULL, SPEND);
    cr_assert_eq(run_async_op(c, AIGW_OP_CHAT_STREAM, req, &opts, &r, 1), AIGW_OK, "%s", r.message);
    cr_expect_eq(r.status, AIGW_ESTOPPED, "%s: %s", aigw_status_name(r.status), r.message);
    double left = remaining(c, "spend", NULL);
    cr_expect_float_eq(left, 10000 - settled_cost(&info, req), 1e-9,
                       "stopped: remaining %f, info in %lld out %lld", left, info.input_tokens,
                       info.output_tokens);
    cr_expect_eq(info.input_tokens, 5);
    free(r.response);
    aigw_client_free(c);

    /* a 500: refunded */
    c = provider_client(anth, "status=500", SPEND);
    cr_assert_eq(run_async(c, AIGW_OP_CHAT_STREAM, req, &opts, &r), AIGW_OK, "%s", r.message);
    cr_expect_eq(r.status, AIGW_EUPSTREAM, "%s: %s", aigw_status_name(r.status), r.message);
    cr_expect_float_eq(remaining(c, "spend", NULL), 10000, 1e-9);
    free(r.response);
    aigw_client_free(c);

    /* canceled before the (slow) answer: refunded */
    c = provider_client(&providers[0], "latency_ms=2000", SPEND);
    aigw_test_provider_chat_request(&providers[0], NULL, req, sizeof req);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    memset(&r, 0, sizeof r);
    canceler k;
    aigw_error *e = NULL;
    cr_assert_eq(
        aigw_call_async(c, &loop, AIGW_OP_CHAT, req, &opts, NULL, on_done, &r, &k.request, &e),
        AIGW_OK, "%s", msg(e));
    uv_timer_init(&loop, &k.timer);
    k.timer.data = &k;
    uv_timer_start(&k.timer, cancel_now, 100, 0);
    double t = mono();
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_lt(mono() - t, 1.5, "the cancel did not stop the call");
    aigw_loop_release(c, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);
    cr_expect_eq(r.done, 1);
    cr_expect_eq(r.status, AIGW_ECANCELED, "%s", aigw_status_name(r.status));
    left = remaining(c, "spend", NULL);
    cr_expect_float_eq(left, 10000, 1e-9, "canceled: remaining %f (%f = the reservation leaked)",
                       left, 10000 - 415.0);
    free(r.response);
    aigw_client_free(c);
}

/* ---- estimates, retries, copied options ---- */

Test(budgets, the_estimate_uses_max_completion_tokens_max_tokens_or_the_default) {
    aigw_client *c =
        aigw_test_client_new("{\"budgets\":[{\"name\":\"out\",\"cost\":\"output_tokens\","
                             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":1000,"
                             "\"refill_per_second\":0}}],"
                             "\"accounting\":{\"default_max_tokens\":50}}");
    aigw_call_info info;
    aigw_call_options opts = info_opts(&info);
    aigw_error *e = NULL;
    /* info.ratelimit is the state after this call's reservation */
    chat_ok(c, MOCK_REQ(""), &opts);
    cr_expect_float_eq(info.ratelimit.remaining, 1000 - 4, 1e-9, "max_tokens 4: %f",
                       info.ratelimit.remaining);
    cr_expect_float_eq(remaining(c, "out", NULL), 1000 - 4, 1e-9);
    const char *no_max = "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                         "\"a b c d\"}]}";
    chat_ok(c, no_max, &opts);
    cr_expect_float_eq(info.ratelimit.remaining, 996 - 50, 1e-9, "default_max_tokens 50: %f",
                       info.ratelimit.remaining);
    cr_expect_float_eq(remaining(c, "out", NULL), 996 - 4, 1e-9, "settled with the real 4");
    const char *mct = "{\"model\":\"mock/echo\",\"max_tokens\":900,\"max_completion_tokens\":"
                      "30,\"messages\":[{\"role\":\"user\",\"content\":\"a b c d\"}]}";
    cr_assert_eq(aigw_call(c, AIGW_OP_CHAT_STREAM, mct, &opts, quiet_chunk, NULL, NULL, &e),
                 AIGW_OK);
    cr_expect_float_eq(info.ratelimit.remaining, 992 - 30, 1e-9,
                       "max_completion_tokens wins over max_tokens: %f", info.ratelimit.remaining);
    cr_expect_float_eq(remaining(c, "out", NULL), 992 - 4, 1e-9);
    aigw_client_free(c);
}

/* A retry to the next backend: the call's budgets are charged once, with
 * the answer's usage; the failed attempt's backend budget is refunded. */
Test(budgets, a_retried_call_is_charged_once_and_its_failed_attempt_refunded) {
    char config[4096];
    snprintf(config, sizeof config,
             "{\"env_defaults\":false,\"backends\":{"
             "\"bad\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"api_key\":\"" KEY "\","
             "\"headers\":{\"x-sim-fault\":\"status=500\"}},"
             "\"good\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"api_key\":\"" KEY "\"}},"
             "\"routes\":[{\"name\":\"chat\",\"match\":{\"model\":\"gpt-*\"},\"backends\":["
             "{\"backend\":\"bad\",\"priority\":0},{\"backend\":\"good\",\"priority\":1}],"
             "\"retry\":{\"attempts\":2,\"backoff_ms\":1}}],"
             "\"budgets\":[{\"name\":\"spend\",\"cost\":\"input_tokens + 4*output_tokens\","
             "\"limit\":{\"type\":\"token_bucket\",\"capacity\":10000,\"refill_per_second\":0}},"
             "{\"name\":\"bad-only\",\"scope\":{\"backend\":[\"bad\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":10}},"
             "{\"name\":\"good-only\",\"scope\":{\"backend\":[\"good\"]},\"cost\":\"requests\","
             "\"limit\":{\"type\":\"window\",\"per\":\"day\",\"max\":10}}]}",
             root, root);
    aigw_client *c = aigw_test_client_new(config);
    for (int stream = 0; stream < 2; stream++) {
        const char *req = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":100,\"messages\":[{\"role\":"
                          "\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":"
                          "\"hello there friend\"}]}";
        aigw_call_info info;
        aigw_call_options opts = info_opts(&info);
        char *out = NULL;
        aigw_error *e = NULL;
        seen s = {0, 0, -1, -1};
        aigw_status st = chat_call(c, stream, req, &opts, &s, &out, &e);
        cr_assert_eq(st, AIGW_OK, "%s", msg(e));
        aigw_free(out);
        cr_expect_eq(info.attempts, 2);
        cr_expect_str_eq(info.backend, "good");
        cr_expect_float_eq(remaining(c, "spend", NULL), 10000 - 21 * (stream + 1), 1e-9,
                           "%s: remaining %f", stream ? "stream" : "whole",
                           remaining(c, "spend", NULL));
        cr_expect_float_eq(remaining(c, "bad-only", NULL), 10, 1e-9,
                           "the failed attempt's backend budget was charged");
        cr_expect_float_eq(remaining(c, "good-only", NULL), 9 - stream, 1e-9);
    }
    aigw_client_free(c);
}

/* aigw_call_async copies opts' strings: the caller's buffer may change
 * before the loop runs. */
Test(budgets, async_calls_copy_the_identity) {
    aigw_client *c =
        aigw_test_client_new("{\"budgets\":[{\"name\":\"per-user\",\"scope\":{\"user\":\"*\"},"
                             "\"cost\":\"requests\",\"limit\":{\"type\":\"window\",\"per\":\"day\","
                             "\"max\":5}}]}");
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    async_result r[3];
    memset(r, 0, sizeof r);
    char user[32];
    aigw_call_info info[3];
    for (int i = 0; i < 3; i++) {
        snprintf(user, sizeof user, "async-user-%d", i);
        aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
        opts.user = user;
        opts.info = &info[i];
        aigw_request *req = NULL;
        aigw_error *e = NULL;
        cr_assert_eq(aigw_call_async(c, &loop, i == 1 ? AIGW_OP_CHAT_STREAM : AIGW_OP_CHAT,
                                     MOCK_REQ(""), &opts, on_async_chunk, on_done, &r[i], &req, &e),
                     AIGW_OK, "%s", msg(e));
        memset(user, 'x', sizeof user - 1); /* the library must have copied it */
        user[sizeof user - 1] = '\0';
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    aigw_loop_release(c, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(r[i].status, AIGW_OK, "%d: %s", i, r[i].message);
        cr_expect_str_eq(info[i].ratelimit.budget, "per-user");
        free(r[i].response);
        char name[32];
        snprintf(name, sizeof name, "async-user-%d", i);
        cr_expect_float_eq(remaining(c, "per-user", name), 4, 1e-9, "%s", name);
    }
    aigw_client_free(c);
}

Test(budgets_redis, a_password_from_the_environment) {
    /* a second Redis that wants a password */
    aigw_test_redis locked;
    const char *args[] = {"--requirepass", "s3cret-budgets", NULL};
    cr_assert_eq(aigw_test_redis_start_args(&locked, 0, args), 0);
    char config[1024];
    const char *fmt =
        "{\"budgets\":[{\"name\":\"pw\",\"cost\":\"requests\",\"limit\":{\"type\":"
        "\"window\",\"per\":\"day\",\"max\":10}}],\"accounting\":{\"store\":{"
        "\"type\":\"redis\",\"port\":%d,\"password_env\":\"%s\",\"timeout_ms\":500}}}";
    setenv("AIGW_TEST_REDIS_PW", "s3cret-budgets", 1);
    setenv("AIGW_TEST_REDIS_BAD", "wrong", 1);
    snprintf(config, sizeof config, fmt, locked.port, "AIGW_TEST_REDIS_PW");
    aigw_client *c = aigw_test_client_new(config);
    cr_expect_eq(mock_call(c, NULL), AIGW_OK);
    cr_expect_float_eq(remaining(c, "pw", NULL), 9, 1e-9);
    aigw_client_free(c);
    /* a wrong password: the store cannot be used, the budget fails closed
     * (or the client refuses the config); never admitted unmetered */
    snprintf(config, sizeof config, fmt, locked.port, "AIGW_TEST_REDIS_BAD");
    c = NULL;
    aigw_error *e = NULL;
    if (aigw_client_new_from_string(&c, config, &e) == AIGW_OK) {
        aigw_error *ce = NULL;
        char *out = NULL;
        aigw_status st = aigw_call(c, AIGW_OP_CHAT, MOCK_REQ(""), NULL, NULL, NULL, &out, &ce);
        aigw_free(out);
        cr_expect(st == AIGW_EBUDGET || st == AIGW_EAUTH || st == AIGW_ECONNECT,
                  "wrong Redis password: %s %s", aigw_status_name(st), msg(ce));
        cr_expect(!ce || !strstr(msg(ce), "wrong"), "the password leaked: %s", msg(ce));
        aigw_error_free(ce);
        aigw_client_free(c);
    } else {
        cr_expect(!strstr(msg(e), "wrong"), "the password leaked: %s", msg(e));
        aigw_error_free(e);
    }
    aigw_test_redis_stop(&locked);
}

/* ---- exact through Redis faults (issue #13) ---- */

/* 64 threads call the mock backend without pause, half through a client
 * whose budget fails open, half through one whose budget fails closed,
 * while Redis is frozen (SIGSTOP, longer than the store timeout), thawed,
 * killed (SIGKILL) and restarted. Redis keeps its data across the restart
 * (an append-only file fsynced on every write), so each counter must end
 * exactly at the usage of the calls that were admitted and metered (call
 * info: admitted, with a ratelimit reading from the budget): nothing for
 * the requests admitted unmetered or refused, nothing twice. */
#define FAULT_BUDGET(policy)                                                                       \
    "[{\"name\":\"faults\",\"cost\":\"input_tokens + output_tokens\",\"limit\":{\"type\":"         \
    "\"token_bucket\",\"capacity\":1000000,\"refill_per_second\":0},\"on_store_error\":\"" policy  \
    "\"}]"

typedef struct fault_caller {
    aigw_client *client;
    atomic_int *stop;
    long long metered_usage, metered, unmetered, refused;
    char error[256];
} fault_caller;

static void *fault_caller_main(void *arg) {
    fault_caller *f = arg;
    while (!atomic_load(f->stop)) {
        aigw_call_info info;
        aigw_call_options opts = info_opts(&info);
        char *out = NULL;
        aigw_error *e = NULL;
        aigw_status st =
            aigw_call(f->client, AIGW_OP_CHAT, MOCK_REQ(""), &opts, NULL, NULL, &out, &e);
        aigw_free(out);
        if (st == AIGW_OK && info.ratelimit.known) {
            f->metered++;
            f->metered_usage += info.input_tokens + info.output_tokens;
        } else if (st == AIGW_OK) {
            f->unmetered++;
        } else if (st == AIGW_EBUDGET && strstr(msg(e), "cannot be checked")) {
            f->refused++;
        } else {
            snprintf(f->error, sizeof f->error, "%s: %s", aigw_status_name(st), msg(e));
        }
        aigw_error_free(e);
    }
    return NULL;
}

/* Waits (30 s at most) until c's counter shows `used` spent; returns what
 * it shows last. */
static double converge(aigw_client *c, double used) {
    double spent = -1;
    for (int i = 0; i < 300; i++) {
        char *json = NULL;
        if (aigw_test_budget_status(c, &json, NULL, 0) == AIGW_OK) {
            aigw_free(json);
            spent = 1000000 - remaining(c, "faults", NULL);
            if (fabs(spent - used) < 1e-9)
                break;
        }
        sleep_s(0.1);
    }
    return spent;
}

Test(budgets_redis, frozen_and_restarted_redis_charge_exactly_what_was_metered, .timeout = 120) {
    char dir[] = "/tmp/aigw-budgets-aof-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const char *args[] = {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir, NULL};
    aigw_test_redis durable;
    cr_assert_eq(aigw_test_redis_start_args(&durable, 0, args), 0);
    char config[2][2048];
    const char *budgets[2] = {FAULT_BUDGET("fail_open"), FAULT_BUDGET("fail_closed")};
    aigw_client *clients[2];
    for (int i = 0; i < 2; i++) {
        snprintf(config[i], sizeof config[i],
                 "{\"budgets\":%s,\"accounting\":{\"store\":{\"type\":\"redis\","
                 "\"host\":\"127.0.0.1\",\"port\":%d,\"prefix\":\"aigw:faults:%d:%d:\","
                 "\"timeout_ms\":300,\"pool_size\":8}}}",
                 budgets[i], durable.port, (int)getpid(), i);
        clients[i] = aigw_test_client_new(config[i]);
    }
    atomic_int stop = 0;
    pthread_t th[64];
    fault_caller fs[64];
    for (int i = 0; i < 64; i++) {
        fs[i] = (fault_caller){.client = clients[i % 2], .stop = &stop};
        cr_assert_eq(pthread_create(&th[i], NULL, fault_caller_main, &fs[i]), 0);
    }
    sleep_s(0.5);
    cr_assert_eq(kill(durable.pid, SIGSTOP), 0);
    sleep_s(1.5);
    kill(durable.pid, SIGCONT);
    sleep_s(0.7);
    aigw_test_redis_stop(&durable); /* SIGKILL: a crash */
    sleep_s(0.5);
    int restarted = aigw_test_redis_start_args(&durable, durable.port, args);
    sleep_s(0.7);
    atomic_store(&stop, 1);
    for (int i = 0; i < 64; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(restarted, 0, "redis-server did not restart");
    long long usage[2] = {0, 0}, metered[2] = {0, 0}, unmetered[2] = {0, 0}, refused[2] = {0, 0};
    for (int i = 0; i < 64; i++) {
        cr_expect_str_empty(fs[i].error, "caller %d: %s", i, fs[i].error);
        usage[i % 2] += fs[i].metered_usage;
        metered[i % 2] += fs[i].metered;
        unmetered[i % 2] += fs[i].unmetered;
        refused[i % 2] += fs[i].refused;
    }
    for (int i = 0; i < 2; i++) {
        double spent = converge(clients[i], (double)usage[i]);
        cr_log_info("%s: %lld metered (usage %lld), %lld unmetered, %lld refused; Redis has %.0f",
                    i ? "fail_closed" : "fail_open", metered[i], usage[i], unmetered[i], refused[i],
                    spent);
        cr_expect_float_eq(spent, (double)usage[i], 1e-9,
                           "%s: Redis counted %.0f, the metered calls used %lld",
                           i ? "fail_closed" : "fail_open", spent, usage[i]);
        cr_expect_gt(metered[i], 0);
    }
    /* the faults were felt: fail_open admitted unmetered, fail_closed refused */
    cr_expect_gt(unmetered[0], 0);
    cr_expect_eq(refused[0], 0);
    cr_expect_gt(refused[1], 0);
    cr_expect_eq(unmetered[1], 0);
    for (int i = 0; i < 2; i++)
        aigw_client_free(clients[i]);
    aigw_test_redis_stop(&durable);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}
