/* SPDX-License-Identifier: Apache-2.0 */
/* The asynchronous API (aigw/async.h): chat, stream and embed on a uv loop
 * against the mock backend and the provider simulator, concurrency on one
 * loop, ordering, cancel, stop, faults mapped as the synchronous API maps
 * them, two loops on two threads, and loops left with no handles. */
#include <criterion/criterion.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "aigw/aigw.h"
#include "aigw/async.h"
#include "sim.h"

#define KEY "sk-async-test-key"

static aigw_test_sim sim;
static aigw_client *client;
static uv_loop_t loop;

static aigw_client *client_for(const char *base_url, const char *extra) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"api_key\":\"%s\""
             "%s}}}",
             base_url, KEY, extra ? extra : "");
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    aigw_status st = aigw_client_new_from_string(&c, config, &e);
    cr_assert_eq(st, AIGW_OK, "client: %s", aigw_error_message(e));
    return c;
}

static void setup(void) {
    const char *args[] = {"--api-key", KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
    client = client_for(sim.base_url, NULL);
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void teardown(void) {
    aigw_client_free(client);
    client = NULL;
    aigw_test_sim_stop(&sim);
}

/* Releases the client's engine, runs the loop until every handle closed,
 * and checks the loop closes clean. */
static void finish_loop(aigw_client *c, uv_loop_t *l) {
    aigw_loop_release(c, l);
    cr_assert_eq(uv_run(l, UV_RUN_DEFAULT), 0);
    cr_assert_eq(uv_loop_close(l), 0, "handles left on the loop");
}

TestSuite(async, .init = setup, .fini = teardown, .timeout = 120);

/* ---- what a request saw ---- */

typedef struct result {
    int done_calls;
    aigw_status status;
    char *response;
    char message[512];
    int http_status;
    int chunks;
    int chunks_after_done;
    char text[8192]; /* the deltas' content, concatenated */
    int stop_at;     /* chunk callback returns 1 at this chunk (1-based) */
    int cancel_at;   /* the chunk callback cancels at this chunk */
    int chunks_after_cancel;
    int canceled;
    aigw_request *req;
} result;

static void on_done(aigw_status st, const char *response, const aigw_error *err, void *user) {
    result *r = user;
    r->done_calls++;
    r->status = st;
    if (response)
        r->response = strdup(response);
    if (st) {
        cr_assert_not_null(err, "a failure without detail");
        snprintf(r->message, sizeof r->message, "%s", aigw_error_message(err));
        r->http_status = aigw_error_http_status(err);
    } else {
        cr_assert_null(err);
    }
}

static void append_delta(result *r, const char *chunk) {
    json_object *o = json_tokener_parse(chunk), *choices, *delta, *content;
    cr_assert_not_null(o, "chunk is not JSON: %s", chunk);
    if (json_object_object_get_ex(o, "choices", &choices) &&
        json_object_array_length(choices) > 0 &&
        json_object_object_get_ex(json_object_array_get_idx(choices, 0), "delta", &delta) &&
        json_object_object_get_ex(delta, "content", &content) &&
        json_object_is_type(content, json_type_string))
        strncat(r->text, json_object_get_string(content), sizeof r->text - strlen(r->text) - 1);
    json_object_put(o);
}

static int on_chunk(const char *chunk, size_t len, void *user) {
    result *r = user;
    cr_assert_eq(strlen(chunk), len);
    if (r->done_calls)
        r->chunks_after_done++;
    if (r->canceled)
        r->chunks_after_cancel++;
    r->chunks++;
    append_delta(r, chunk);
    if (r->cancel_at && r->chunks == r->cancel_at) {
        r->canceled = 1;
        aigw_request_cancel(r->req);
    }
    return r->stop_at && r->chunks == r->stop_at;
}

static void result_free(result *r) {
    free(r->response);
    r->response = NULL;
}

static char *chat_json(const char *model, const char *text, const char *fault) {
    static _Thread_local char buf[1024]; /* one per thread */
    snprintf(buf, sizeof buf,
             "{\"model\":\"%s\",%s%s%s\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
             model, fault ? "\"sim_fault\":\"" : "", fault ? fault : "", fault ? "\"," : "", text);
    return buf;
}

/* The content of a chat.completion. */
static const char *answer_text(const char *response, char *out, size_t size) {
    json_object *o = json_tokener_parse(response), *v;
    cr_assert_not_null(o, "not JSON: %s", response);
    cr_assert(json_object_object_get_ex(o, "choices", &v));
    v = json_object_array_get_idx(v, 0);
    cr_assert(json_object_object_get_ex(v, "message", &v));
    cr_assert(json_object_object_get_ex(v, "content", &v));
    snprintf(out, size, "%s", json_object_get_string(v));
    json_object_put(o);
    return out;
}

/* ---- mock and simulator: whole, stream, embed ---- */

static void check_chat(const char *model, const char *want) {
    result r = {0};
    aigw_error *e = NULL;
    aigw_request *req = NULL;
    cr_assert_eq(aigw_chat_async(client, &loop, chat_json(model, "hello async", NULL), on_done, &r,
                                 &req, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_not_null(req);
    cr_assert_eq(r.done_calls, 0, "done fired inside the call");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.done_calls, 1);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.message);
    char text[256];
    cr_assert_str_eq(answer_text(r.response, text, sizeof text), want);
    result_free(&r);
}

static void check_stream(const char *model, const char *want) {
    result r = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw_chat_stream_async(client, &loop,
                                        chat_json(model, "one two three four five six", NULL),
                                        on_chunk, on_done, &r, NULL, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(r.chunks + r.done_calls, 0, "callbacks fired inside the call");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.done_calls, 1);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.message);
    cr_assert_null(r.response);
    cr_assert_gt(r.chunks, 3);
    cr_assert_eq(r.chunks_after_done, 0);
    cr_assert_str_eq(r.text, want, "chunks out of order: \"%s\"", r.text);
}

static void check_embed(const char *model) {
    result r = {0};
    char body[256];
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"input\":[\"a\",\"b c\"]}", model);
    cr_assert_eq(aigw_embed_async(client, &loop, body, on_done, &r, NULL, NULL), AIGW_OK);
    cr_assert_eq(r.done_calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.done_calls, 1);
    cr_assert_eq(r.status, AIGW_OK, "%s", r.message);
    json_object *o = json_tokener_parse(r.response), *data;
    cr_assert(json_object_object_get_ex(o, "data", &data));
    cr_assert_eq(json_object_array_length(data), 2);
    json_object_put(o);
    result_free(&r);
}

Test(async, mock_chat_stream_embed) {
    char want[256];
    char *sync = NULL;
    cr_assert_eq(aigw_chat(client, chat_json("mock/echo", "hello async", NULL), &sync, NULL),
                 AIGW_OK);
    check_chat("mock/echo", answer_text(sync, want, sizeof want));
    aigw_free(sync);
    check_stream("mock/echo", "one two three four five six");
    check_embed("mock/embed");
    finish_loop(client, &loop);
}

Test(async, simulator_chat_stream_embed) {
    check_chat("sim/gpt-4o-mini", "echo: hello async");
    check_stream("sim/gpt-4o-mini", "echo: one two three four five six");
    check_embed("sim/text-embedding-3-small");
    finish_loop(client, &loop);
}

/* ---- many requests on one loop ---- */

#define MANY 500

static int many_ok, many_done;

static void on_many_done(aigw_status st, const char *response, const aigw_error *err, void *user) {
    (void)err;
    (void)user;
    many_done++;
    if (st == AIGW_OK && response && strstr(response, "echo: hi"))
        many_ok++;
}

Test(async, five_hundred_concurrent_chats_take_about_one_latency) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < MANY; i++) {
        aigw_error *e = NULL;
        cr_assert_eq(aigw_chat_async(client, &loop, chat_json("sim/gpt-4o", "hi", "latency_ms=200"),
                                     on_many_done, NULL, NULL, &e),
                     AIGW_OK, "%s", aigw_error_message(e));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_eq(many_done, MANY);
    cr_assert_eq(many_ok, MANY);
    cr_assert_lt(s, 10.0, "%d requests of 200 ms took %.2f s", MANY, s);
    finish_loop(client, &loop);
}

/* ---- cancel and stop ---- */

Test(async, cancel_mid_stream_fires_done_once_and_no_more_chunks) {
    const char *models[] = {"sim/gpt-4o", "mock/echo"};
    for (int i = 0; i < 2; i++) {
        result r = {.cancel_at = 2};
        cr_assert_eq(aigw_chat_stream_async(
                         client, &loop,
                         chat_json(models[i], "a b c d e f g h", i == 0 ? "event_ms=50" : NULL),
                         on_chunk, on_done, &r, &r.req, NULL),
                     AIGW_OK);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(r.done_calls, 1);
        cr_assert_eq(r.status, AIGW_ECANCELED, "%s: %s", models[i], aigw_status_name(r.status));
        cr_assert_eq(r.chunks, 2);
        cr_assert_eq(r.chunks_after_cancel, 0);
    }
    finish_loop(client, &loop);
}

static void cancel_timer_cb(uv_timer_t *t) {
    aigw_request_cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

Test(async, cancel_waiting_chat_from_a_timer_and_before_it_starts) {
    result slow = {0}, early = {0}, mock = {0};
    aigw_request *req;
    cr_assert_eq(aigw_chat_async(client, &loop, chat_json("sim/gpt-4o", "x", "latency_ms=5000"),
                                 on_done, &slow, &req, NULL),
                 AIGW_OK);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = req;
    uv_timer_start(&t, cancel_timer_cb, 100, 0);

    aigw_request *req2, *req3;
    cr_assert_eq(aigw_chat_async(client, &loop, chat_json("sim/gpt-4o", "x", NULL), on_done, &early,
                                 &req2, NULL),
                 AIGW_OK);
    aigw_request_cancel(req2);
    aigw_request_cancel(req2); /* twice is harmless */
    cr_assert_eq(aigw_chat_async(client, &loop, chat_json("mock/echo", "x", NULL), on_done, &mock,
                                 &req3, NULL),
                 AIGW_OK);
    aigw_request_cancel(req3);
    aigw_request_cancel(NULL);
    cr_assert_eq(early.done_calls + mock.done_calls, 0, "done fired inside cancel");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uv_run(&loop, UV_RUN_DEFAULT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 3, "cancel did not stop the wait");
    cr_assert_eq(slow.done_calls, 1);
    cr_assert_eq(slow.status, AIGW_ECANCELED);
    cr_assert_eq(early.done_calls, 1);
    cr_assert_eq(early.status, AIGW_ECANCELED);
    cr_assert_eq(mock.done_calls, 1);
    cr_assert_eq(mock.status, AIGW_ECANCELED);
    finish_loop(client, &loop);
}

Test(async, chunk_callback_stop_gives_estopped) {
    const char *models[] = {"sim/gpt-4o", "mock/echo"};
    for (int i = 0; i < 2; i++) {
        result r = {.stop_at = 1};
        cr_assert_eq(aigw_chat_stream_async(client, &loop, chat_json(models[i], "a b c d", NULL),
                                            on_chunk, on_done, &r, NULL, NULL),
                     AIGW_OK);
        uv_run(&loop, UV_RUN_DEFAULT);
        cr_assert_eq(r.done_calls, 1);
        cr_assert_eq(r.status, AIGW_ESTOPPED, "%s: %s", models[i], aigw_status_name(r.status));
        cr_assert_eq(r.chunks, 1);
    }
    finish_loop(client, &loop);
}

/* ---- faults: the same status as the synchronous API ---- */

static int sync_chunk(const char *chunk, size_t len, void *user) {
    (void)chunk;
    (void)len;
    (void)user;
    return 0;
}

static void same_as_sync(aigw_client *c, int stream, const char *model, const char *fault,
                         aigw_status want) {
    const char *body = chat_json(model, "a b c d e", fault);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", body);
    aigw_error *e = NULL;
    char *resp = NULL;
    aigw_status sync_st =
        stream ? aigw_chat_stream(c, copy, sync_chunk, NULL, &e) : aigw_chat(c, copy, &resp, &e);
    int sync_http = e ? aigw_error_http_status(e) : 0;
    aigw_free(resp);
    aigw_error_free(e);

    result r = {0};
    aigw_status st = stream
                         ? aigw_chat_stream_async(c, &loop, copy, on_chunk, on_done, &r, NULL, NULL)
                         : aigw_chat_async(c, &loop, copy, on_done, &r, NULL, NULL);
    cr_assert_eq(st, AIGW_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.done_calls, 1);
    cr_assert_eq(sync_st, want, "%s sync %s: %s", stream ? "stream" : "chat", fault,
                 aigw_status_name(sync_st));
    cr_assert_eq(r.status, sync_st, "%s %s: async %s (%s), sync %s", stream ? "stream" : "chat",
                 fault, aigw_status_name(r.status), r.message, aigw_status_name(sync_st));
    cr_assert_eq(r.http_status, sync_http, "%s %s: http %d vs %d", stream ? "stream" : "chat",
                 fault, r.http_status, sync_http);
    result_free(&r);
}

Test(async, faults_map_as_in_the_sync_api) {
    for (int stream = 0; stream < 2; stream++) {
        same_as_sync(client, stream, "sim/gpt-4o", "status=429", AIGW_ERATELIMIT);
        same_as_sync(client, stream, "sim/gpt-4o", "status=500", AIGW_EUPSTREAM);
        same_as_sync(client, stream, "sim/gpt-4o", "status=400", AIGW_EBADREQUEST);
        same_as_sync(client, stream, "sim/gpt-4o", "malformed=1", AIGW_EBADRESPONSE);
        same_as_sync(client, stream, "sim/gpt-4o", "cut_after=2", AIGW_ETRUNCATED);
        same_as_sync(client, stream, "sim/gpt-4o", "close=1", AIGW_ETRUNCATED);
    }
    same_as_sync(client, 1, "sim/gpt-4o", "error_event=1", AIGW_EUPSTREAM);
    same_as_sync(client, 1, "sim/gpt-4o", "drop_done=1", AIGW_ETRUNCATED);
    finish_loop(client, &loop);
}

Test(async, refused_port_and_timeout_map_as_in_the_sync_api) {
    /* a port nothing listens on: the simulator's, once stopped */
    aigw_test_sim dead;
    cr_assert_eq(aigw_test_sim_start(&dead, NULL), 0);
    aigw_test_sim_stop(&dead);
    aigw_client *refused = client_for(dead.base_url, NULL);
    same_as_sync(refused, 0, "sim/gpt-4o", NULL, AIGW_ECONNECT);
    same_as_sync(refused, 1, "sim/gpt-4o", NULL, AIGW_ECONNECT);
    finish_loop(refused, &loop);
    aigw_client_free(refused);

    cr_assert_eq(uv_loop_init(&loop), 0);
    aigw_client *slow = client_for(sim.base_url, ",\"timeout_ms\":300");
    same_as_sync(slow, 0, "sim/gpt-4o", "latency_ms=3000", AIGW_ETIMEOUT);
    finish_loop(slow, &loop);
    aigw_client_free(slow);
    cr_assert_eq(uv_loop_init(&loop), 0);
    finish_loop(client, &loop);
}

/* ---- errors are returned, never called back ---- */

Test(async, errors_are_returned_without_callbacks) {
    result r = {0};
    const char *bad[] = {
        "not json",
        "[1]",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"sim/gpt-4o\",\"messages\":[]}",
        "{\"model\":\"nosuch/x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aigw_error *e = NULL;
        aigw_request *req = (aigw_request *)&r;
        aigw_status st = aigw_chat_async(client, &loop, bad[i], on_done, &r, &req, &e);
        cr_assert_neq(st, AIGW_OK, "%s", bad[i]);
        cr_assert_not_null(e);
        cr_assert_eq(aigw_error_status(e), st);
        cr_assert_null(req);
        aigw_error_free(e);
        st = aigw_chat_stream_async(client, &loop, bad[i], on_chunk, on_done, &r, NULL, NULL);
        cr_assert_neq(st, AIGW_OK);
    }
    cr_assert_eq(
        aigw_embed_async(client, &loop, "{\"model\":\"mock/echo\"}", on_done, &r, NULL, NULL),
        AIGW_EBADREQUEST);
    cr_assert_eq(aigw_chat_async(NULL, &loop, "{}", on_done, &r, NULL, NULL), AIGW_EINVAL);
    cr_assert_eq(aigw_chat_async(client, NULL, "{}", on_done, &r, NULL, NULL), AIGW_EINVAL);
    cr_assert_eq(aigw_chat_async(client, &loop, "{}", NULL, &r, NULL, NULL), AIGW_EINVAL);
    cr_assert_eq(aigw_chat_stream_async(client, &loop, chat_json("mock/echo", "x", NULL), NULL,
                                        on_done, &r, NULL, NULL),
                 AIGW_EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(r.done_calls + r.chunks, 0, "a callback fired for a refused call");
    aigw_loop_release(NULL, &loop);
    aigw_loop_release(client, NULL);
    finish_loop(client, &loop);
}

/* ---- two loops on two threads sharing one client ---- */

typedef struct thread_job {
    int ok, done;
    int streamed;
} thread_job;

static void on_thread_done(aigw_status st, const char *response, const aigw_error *err,
                           void *user) {
    (void)response;
    (void)err;
    thread_job *j = user;
    j->done++;
    j->ok += st == AIGW_OK;
}

static int on_thread_chunk(const char *chunk, size_t len, void *user) {
    (void)chunk;
    (void)len;
    ((thread_job *)user)->streamed++;
    return 0;
}

static void *thread_main(void *arg) {
    thread_job *j = arg;
    uv_loop_t l;
    if (uv_loop_init(&l))
        return NULL;
    for (int i = 0; i < 50; i++) {
        const char *model = i % 5 == 0 ? "mock/echo" : "sim/gpt-4o";
        if (i % 2)
            aigw_chat_async(client, &l, chat_json(model, "hi there", "latency_ms=20"),
                            on_thread_done, j, NULL, NULL);
        else
            aigw_chat_stream_async(client, &l, chat_json(model, "hi there", NULL), on_thread_chunk,
                                   on_thread_done, j, NULL, NULL);
    }
    uv_run(&l, UV_RUN_DEFAULT);
    aigw_loop_release(client, &l);
    uv_run(&l, UV_RUN_DEFAULT);
    j->ok += uv_loop_close(&l) == 0 ? 1000 : 0;
    return NULL;
}

Test(async, two_loops_on_two_threads_share_a_client) {
    thread_job jobs[2] = {{0}, {0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(jobs[i].done, 50);
        cr_assert_eq(jobs[i].ok, 1050, "thread %d: %d ok", i, jobs[i].ok);
        cr_assert_gt(jobs[i].streamed, 0);
    }
    finish_loop(client, &loop);
}
