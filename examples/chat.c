/* SPDX-License-Identifier: Apache-2.0 */
/* chat.c — one chat completion, whole, through libaigw.
 *
 * Build (in the libaigw tree, the examples are built by default):
 *     cmake -S . -B build && cmake --build build --target example_chat
 * or against an installed libaigw:
 *     cc chat.c $(pkg-config --cflags --libs aigw) -o chat
 *
 * Run:
 *     ./example_chat                          # offline: the built-in mock/echo model
 *     ./example_chat openai/gpt-4o-mini "Say hello in French"
 *
 * The client reads the JSON config file named by $AIGW_CONFIG if set, else
 * it is configured from the environment alone (OPENAI_API_KEY,
 * OPENAI_BASE_URL; see the README, "Configuration"). The model is
 * "provider/model"; the built-in "mock/echo" needs no network and no key.
 * Set AIGW_EXAMPLE_VERBOSE=1 to also print the whole response JSON. */
#include <aigw/aigw.h>

#include <stdio.h>
#include <stdlib.h>

static void print_error(const char *what, aigw_status st, const aigw_error *err) {
    if (err == NULL) {
        fprintf(stderr, "%s: %s (%s)\n", what, aigw_strerror(st), aigw_status_name(st));
        return;
    }
    fprintf(stderr, "%s: %s (%s", what, aigw_error_message(err), aigw_status_name(st));
    if (aigw_error_http_status(err) != 0)
        fprintf(stderr, ", HTTP %d", aigw_error_http_status(err));
    if (aigw_error_provider(err) != NULL)
        fprintf(stderr, ", provider %s", aigw_error_provider(err));
    fprintf(stderr, ")\n");
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "mock/echo";
    const char *prompt = argc > 2 ? argv[2] : "Hello from libaigw!";
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *request = NULL;
    char *response = NULL;
    char *text = NULL;
    int rc = EXIT_FAILURE;
    aigw_status st;
    const char *config = getenv("AIGW_CONFIG");

    /* A config file if $AIGW_CONFIG names one, else the environment alone. */
    st = config && *config ? aigw_client_new_from_file(&client, config, &err)
                           : aigw_client_new_from_env(&client, &err);
    if (st != AIGW_OK) {
        print_error("client", st, err);
        goto out;
    }

    /* {"model": ..., "messages": [{"role":"system",...}, {"role":"user",...}]} */
    st = aigw_chat_request_simple(model, "You are a helpful assistant.", prompt, &request);
    if (st != AIGW_OK) {
        print_error("request", st, NULL);
        goto out;
    }

    st = aigw_chat(client, request, &response, &err);
    if (st != AIGW_OK) {
        print_error("chat", st, err);
        goto out;
    }

    /* The response is an OpenAI chat.completion; take its text. */
    st = aigw_chat_response_text(response, &text);
    if (st != AIGW_OK) {
        print_error("response", st, NULL);
        goto out;
    }
    printf("%s\n", text);
    if (getenv("AIGW_EXAMPLE_VERBOSE") != NULL)
        fprintf(stderr, "%s\n", response);
    rc = EXIT_SUCCESS;

out:
    aigw_free(text);
    aigw_free(response);
    aigw_free(request);
    aigw_error_free(err);
    aigw_client_free(client);
    return rc;
}
