/* SPDX-License-Identifier: Apache-2.0 */
/* async.c — many requests at once on one libuv loop, one thread.
 *
 * Build: cmake --build build --target example_async
 *    or: cc -std=gnu11 async.c $(pkg-config --cflags --libs aigw-async) -o async
 *
 * Configuration: the JSON file named by $AIGW_CONFIG, else the environment
 * (OPENAI_API_KEY, ...); the built-in mock backend is always there.
 *
 * Run:
 *     ./example_async                                  # 20 chats + a stream on mock/echo
 *     ./example_async openai/gpt-4o-mini 50            # 50 chats at once
 *
 * Arguments: [model] [count]. Every call returns at once; the loop runs the
 * transfers side by side and calls `done` once per request, in whatever
 * order they finish. Before the loop is closed, aigw_loop_release() hands
 * back what the client kept on it. */
#include <aigw/aigw.h>
#include <aigw/async.h>

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct job {
    int index;
    char *answer; /* the reply text, or NULL */
    aigw_status status;
};

static int finished;

static void on_chat_done(aigw_status status, const char *response_json, const aigw_error *err,
                         void *user) {
    struct job *job = user;
    job->status = status;
    if (status == AIGW_OK)
        aigw_chat_response_text(response_json, &job->answer);
    else
        fprintf(stderr, "request %d: %s\n", job->index, aigw_error_message(err));
    finished++;
}

/* Chunks of the streamed request, printed as they arrive. */
static int on_chunk(const char *chunk_json, size_t len, void *user) {
    char *text = NULL;
    (void)len;
    (void)user;
    if (aigw_chat_response_text(chunk_json, &text) == AIGW_OK) {
        printf("[stream] %s\n", text);
        aigw_free(text);
    }
    return 0; /* non-zero would stop the stream: done gets AIGW_ESTOPPED */
}

static void on_stream_done(aigw_status status, const char *response_json, const aigw_error *err,
                           void *user) {
    (void)response_json;
    *(aigw_status *)user = status;
    if (status != AIGW_OK)
        fprintf(stderr, "stream: %s\n", aigw_error_message(err));
    finished++;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "mock/echo";
    int count = argc > 2 ? atoi(argv[2]) : 20;
    const char *config = getenv("AIGW_CONFIG");
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    aigw_status st, stream_status = AIGW_OK;
    struct job *jobs = calloc(count > 0 ? (size_t)count : 1, sizeof *jobs);
    int started = 0, failed = 0;
    uv_loop_t loop;

    if (!jobs || count < 0 || uv_loop_init(&loop) != 0)
        return EXIT_FAILURE;
    st = config && *config ? aigw_client_new_from_file(&client, config, &err)
                           : aigw_client_new_from_env(&client, &err);
    if (st != AIGW_OK) {
        fprintf(stderr, "client: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        free(jobs);
        return EXIT_FAILURE;
    }

    /* Start every request; none has run yet when the calls return. */
    for (int i = 0; i < count; i++) {
        char prompt[64], *request = NULL;
        snprintf(prompt, sizeof prompt, "request number %d", i);
        jobs[i].index = i;
        if (aigw_chat_request_simple(model, NULL, prompt, &request) != AIGW_OK)
            break;
        st = aigw_chat_async(client, &loop, request, on_chat_done, &jobs[i], NULL, &err);
        aigw_free(request);
        if (st != AIGW_OK) { /* refused at once: its callback will not run */
            fprintf(stderr, "request %d: %s\n", i, aigw_error_message(err));
            aigw_error_free(err);
            err = NULL;
            break;
        }
        started++;
    }
    char *stream_request = NULL;
    int stream_started = 0;
    if (aigw_chat_request_simple(model, NULL, "a stream runs alongside", &stream_request) ==
            AIGW_OK &&
        aigw_chat_stream_async(client, &loop, stream_request, on_chunk, on_stream_done,
                               &stream_status, NULL, NULL) == AIGW_OK)
        stream_started = 1;
    aigw_free(stream_request);

    /* Runs until every request is done. */
    uv_run(&loop, UV_RUN_DEFAULT);

    for (int i = 0; i < started; i++) {
        if (jobs[i].status == AIGW_OK)
            printf("%d: %s\n", i, jobs[i].answer);
        else
            failed++;
        aigw_free(jobs[i].answer);
    }
    printf("%d of %d requests done, %d failed; stream %s\n", finished - stream_started, started,
           failed, stream_started ? aigw_status_name(stream_status) : "not started");

    /* Give back the client's handles on this loop, let them close, close. */
    aigw_loop_release(client, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    int closed = uv_loop_close(&loop) == 0;
    aigw_client_free(client);
    free(jobs);
    return closed && started == count && failed == 0 && stream_started && stream_status == AIGW_OK
               ? EXIT_SUCCESS
               : EXIT_FAILURE;
}
