/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — printing JSON answers and token usage. */
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

json_object *cli_json_parse(const char *text, size_t len) {
    json_tokener *tok = json_tokener_new();
    if (!tok || len > (size_t)0x7fffffff) {
        json_tokener_free(tok);
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

int cli_print_json_line(const char *text, size_t len) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
        len--;
    }
    if (memchr(text, '\n', len) || memchr(text, '\r', len)) {
        json_object *obj = cli_json_parse(text, len);
        if (obj) {
            const char *flat = json_object_to_json_string_ext(
                obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            int rc = cli_write_out(flat, strlen(flat));
            json_object_put(obj);
            return rc == 0 ? cli_write_out("\n", 1) : rc;
        }
    }
    if (cli_write_out(text, len) != 0) {
        return -1;
    }
    return cli_write_out("\n", 1);
}

static int get_count(json_object *usage, const char *key, long long *out) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(usage, key, &v) || !json_object_is_type(v, json_type_int)) {
        return 0;
    }
    *out = (long long)json_object_get_int64(v);
    return 1;
}

void cli_print_usage_stats(json_object *usage) {
    long long prompt = 0, completion = 0, total = 0;
    if (!usage || !json_object_is_type(usage, json_type_object)) {
        fputs("usage: not reported\n", stderr);
        fflush(stderr);
        return;
    }
    int has_prompt = get_count(usage, "prompt_tokens", &prompt);
    int has_completion = get_count(usage, "completion_tokens", &completion);
    int has_total = get_count(usage, "total_tokens", &total);
    fputs("usage:", stderr);
    if (has_prompt) {
        fprintf(stderr, " prompt_tokens=%lld", prompt);
    }
    if (has_completion) {
        fprintf(stderr, " completion_tokens=%lld", completion);
    }
    if (has_total) {
        fprintf(stderr, " total_tokens=%lld", total);
    }
    if (!has_prompt && !has_completion && !has_total) {
        fputs(" not reported", stderr);
    }
    fputc('\n', stderr);
    fflush(stderr);
}
