/* SPDX-License-Identifier: Apache-2.0 */
/* embed.c — embeddings for one or more inputs.
 *
 * Build: cmake --build build --target example_embed
 *    or: cc embed.c $(pkg-config --cflags --libs aigw) -o embed
 *
 * Configuration: the JSON file named by $AIGW_CONFIG, else the environment
 * (OPENAI_API_KEY, ...); the built-in mock backend is always there.
 *
 * Run:
 *     ./example_embed                                   # mock/embed, offline
 *     ./example_embed openai/text-embedding-3-small "first text" "second text"
 *
 * Arguments: [model] [input...]. The request is OpenAI's embeddings request;
 * the response (printed as is) is OpenAI's list of embeddings with usage. */
#include <aigw/aigw.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends `s` to `buf` as a JSON string literal. `buf` has room for `cap`
 * bytes; returns the new length, or 0 if it does not fit. A real program
 * would use its JSON library (json-c, cJSON, ...) instead. */
static size_t append_json_string(char *buf, size_t len, size_t cap, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (len + 3 > cap) /* two quotes and the NUL */
        return 0;
    buf[len++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (len + 8 > cap) /* the longest escape, the closing quote and the NUL */
            return 0;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            memcpy(buf + len, "\\u00", 4);
            buf[len + 4] = hex[c >> 4];
            buf[len + 5] = hex[c & 15];
            len += 6;
        } else {
            buf[len++] = (char)c;
        }
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "mock/embed";
    static const char *const default_inputs[] = {"The quick brown fox", "jumps over the lazy dog"};
    const char *const *inputs = argc > 2 ? (const char *const *)(argv + 2) : default_inputs;
    int n_inputs = argc > 2 ? argc - 2 : 2;
    char request[8192];
    size_t len;
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    char *response = NULL;
    int rc = EXIT_FAILURE;
    aigw_status st;
    const char *config = getenv("AIGW_CONFIG");

    /* {"model": "...", "input": ["...", "..."]} */
    strcpy(request, "{\"model\":");
    len = append_json_string(request, strlen(request), sizeof request, model);
    if (len == 0 || len + 10 >= sizeof request)
        goto too_long;
    strcpy(request + len, ",\"input\":[");
    len += strlen(",\"input\":[");
    for (int i = 0; i < n_inputs; i++) {
        if (i > 0)
            request[len++] = ',';
        len = append_json_string(request, len, sizeof request - 2, inputs[i]);
        if (len == 0)
            goto too_long;
    }
    strcpy(request + len, "]}");

    /* A config file if $AIGW_CONFIG names one, else the environment alone. */
    st = config && *config ? aigw_client_new_from_file(&client, config, &err)
                           : aigw_client_new_from_env(&client, &err);
    if (st == AIGW_OK)
        st = aigw_embed(client, request, &response, &err);
    if (st != AIGW_OK) {
        fprintf(stderr, "embed: %s (%s)\n", err ? aigw_error_message(err) : aigw_strerror(st),
                aigw_status_name(st));
        goto out;
    }
    printf("%s\n", response);
    rc = EXIT_SUCCESS;
    goto out;

too_long:
    fprintf(stderr, "embed: the inputs are too long for this example\n");
out:
    aigw_free(response);
    aigw_error_free(err);
    aigw_client_free(client);
    return rc;
}
