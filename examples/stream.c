/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c — a streamed chat completion: prints tokens as they arrive.
 *
 * Build: cmake --build build --target example_stream
 *    or: cc stream.c $(pkg-config --cflags --libs aigw) -o stream
 *
 * Configuration: the JSON file named by $AIGW_CONFIG, else the environment
 * (OPENAI_API_KEY, ...); the built-in mock backend is always there.
 *
 * Run:
 *     ./example_stream                                   # mock/echo, offline
 *     ./example_stream mock/echo "one two three four" 2  # stop after 2 chunks
 *     ./example_stream openai/gpt-4o-mini "Write a haiku about C"
 *
 * Arguments: [model] [prompt] [max_chunks]; max_chunks 0 (the default) means
 * "the whole stream". Returning non-zero from the chunk callback stops the
 * stream; aigw_chat_stream() then returns AIGW_ESTOPPED, which here is not a
 * failure. */
#include <aigw/aigw.h>

#include <stdio.h>
#include <stdlib.h>

struct stream_state {
    long max_chunks; /* 0: no limit */
    long chunks;
};

/* Called once per chat.completion.chunk, in order, as it arrives. */
static int on_chunk(const char *chunk_json, size_t len, void *user) {
    struct stream_state *state = user;
    char *text = NULL;

    (void)len;
    /* The delta text of the chunk ("" for a chunk without content, e.g. the
     * final usage chunk). Anything else in the chunk (tool calls, usage) is
     * in chunk_json, OpenAI-shaped. */
    if (aigw_chat_response_text(chunk_json, &text) == AIGW_OK) {
        fputs(text, stdout);
        fflush(stdout);
        aigw_free(text);
    }
    state->chunks++;
    if (state->max_chunks > 0 && state->chunks >= state->max_chunks)
        return 1; /* stop the stream */
    return 0;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "mock/echo";
    const char *prompt = argc > 2 ? argv[2] : "streaming tokens one word at a time";
    struct stream_state state = {argc > 3 ? strtol(argv[3], NULL, 10) : 0, 0};
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *request = NULL;
    int rc = EXIT_FAILURE;
    aigw_status st;
    const char *config = getenv("AIGW_CONFIG");

    /* A config file if $AIGW_CONFIG names one, else the environment alone. */
    st = config && *config ? aigw_client_new_from_file(&client, config, &err)
                           : aigw_client_new_from_env(&client, &err);
    if (st != AIGW_OK)
        goto out;
    st = aigw_chat_request_simple(model, NULL, prompt, &request);
    if (st != AIGW_OK)
        goto out;

    /* Blocks until the stream ends, calling on_chunk for every chunk. */
    st = aigw_chat_stream(client, request, on_chunk, &state, &err);
    printf("\n");
    if (st == AIGW_ESTOPPED) {
        fprintf(stderr, "[stopped after %ld chunks]\n", state.chunks);
        st = AIGW_OK;
    }
    if (st == AIGW_OK)
        rc = EXIT_SUCCESS;

out:
    if (st != AIGW_OK) {
        /* Chunks may already have been printed: a stream can fail midway. */
        fprintf(stderr, "stream: %s (%s)\n", err ? aigw_error_message(err) : aigw_strerror(st),
                aigw_status_name(st));
    }
    aigw_free(request);
    aigw_error_free(err);
    aigw_client_free(client);
    return rc;
}
