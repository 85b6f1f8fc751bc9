/* SPDX-License-Identifier: Apache-2.0 */
/* models.c — list the models of the configured backends.
 *
 * Build: cmake --build build --target example_models
 *    or: cc models.c $(pkg-config --cflags --libs aigw) -o models
 *
 * Configuration: the JSON file named by $AIGW_CONFIG, else the environment
 * (OPENAI_API_KEY, ...); the built-in mock backend is always there.
 *
 * Run:
 *     ./example_models          # every configured backend (mock needs nothing)
 *     ./example_models mock     # one backend
 *     ./example_models openai   # needs OPENAI_API_KEY
 *
 * The response is OpenAI's list shape, {"object":"list","data":[{"id":
 * "openai/gpt-4o-mini",...},...]}: model ids are prefixed with their backend,
 * ready to be used as the "model" of a request. */
#include <aigw/aigw.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *provider = argc > 1 ? argv[1] : NULL; /* NULL: every backend */
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *response = NULL;
    int rc = EXIT_FAILURE;
    aigw_status st;
    const char *config = getenv("AIGW_CONFIG");

    /* A config file if $AIGW_CONFIG names one, else the environment alone. */
    st = config && *config ? aigw_client_new_from_file(&client, config, &err)
                           : aigw_client_new_from_env(&client, &err);
    if (st == AIGW_OK)
        st = aigw_models(client, provider, &response, &err);
    if (st != AIGW_OK) {
        fprintf(stderr, "models: %s (%s)\n", err ? aigw_error_message(err) : aigw_strerror(st),
                aigw_status_name(st));
        goto out;
    }
    printf("%s\n", response);
    rc = EXIT_SUCCESS;

out:
    aigw_free(response);
    aigw_error_free(err);
    aigw_client_free(client);
    return rc;
}
