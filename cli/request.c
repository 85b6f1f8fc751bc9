/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — what chat and embed share about the request they send:
 * -o KEY=VALUE (any top-level field), --request FILE (a whole OpenAI
 * request), --max-input (the cap on what is read). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

int cli_request_option(cli_request_opts *r, const char *command, int id, const char *value,
                       int *rc) {
    *rc = CLI_EXIT_OK;
    switch (id) {
    case CLI_OPT_SET: {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value) {
            *rc = cli_usage_error(
                command, "-o expects KEY=VALUE (e.g. -o temperature=0.2), not '%s'", value);
        } else if (r->n_sets >= CLI_MAX_SETS) {
            *rc = cli_usage_error(command, "at most %d -o options", CLI_MAX_SETS);
        } else {
            r->sets[r->n_sets++] = value;
        }
        return 1;
    }
    case CLI_OPT_REQUEST:
        if (!*value) {
            *rc = cli_usage_error(command, "--request needs a FILE (or - for standard input)");
        }
        r->request_path = value;
        return 1;
    case CLI_OPT_MAX_INPUT:
        if (cli_parse_size(command, "--max-input", value, &r->max_input) != 0) {
            *rc = CLI_EXIT_USAGE;
        }
        return 1;
    default:
        return 0;
    }
}

size_t cli_max_input(const cli_request_opts *r) {
    return r->max_input ? r->max_input : CLI_DEFAULT_MAX_INPUT;
}

int cli_request_load(const cli_request_opts *r, const char *command, json_object **out) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    if (!r->request_path) {
        return CLI_EXIT_OK;
    }
    int rc = cli_read_file(r->request_path, cli_max_input(r), &text, &len);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *name = strcmp(r->request_path, "-") == 0 ? "standard input" : r->request_path;
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        free(text);
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    /* with the NUL: a value cut short is an error, not "continue" */
    json_object *obj = len < 0x7fffffff ? json_tokener_parse_ex(tok, text, (int)len + 1) : NULL;
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (used < len && strchr(" \t\r\n", text[used])) {
        used++;
    }
    free(text);
    if (len > 0x7fffffff || jerr != json_tokener_success || used != len) {
        json_object_put(obj);
        return cli_usage_error(command, "--request %s: not a JSON document (%s)", name,
                               jerr != json_tokener_success ? json_tokener_error_desc(jerr)
                                                            : "text after the JSON value");
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return cli_usage_error(command, "--request %s: must be a JSON object (an OpenAI request)",
                               name);
    }
    *out = obj;
    return CLI_EXIT_OK;
}

/* VALUE as JSON when the whole of it is one JSON value, else as a string.
 * *is_null says it was the JSON null (a NULL object). */
static json_object *parse_value(const char *value, int *is_null, int *oom) {
    size_t len = strlen(value);
    *is_null = 0;
    *oom = 0;
    json_tokener *tok = len > 0 && len < 0x7fffffff ? json_tokener_new() : NULL;
    if (tok) {
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        /* with the NUL: a number at the very end is complete */
        json_object *obj = json_tokener_parse_ex(tok, value, (int)len + 1);
        int ok = json_tokener_get_error(tok) == json_tokener_success &&
                 json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (ok && json_object_is_type(obj, json_type_double) &&
            !isfinite(json_object_get_double(obj))) {
            ok = 0; /* NaN, Infinity: not JSON a server accepts */
        }
        if (ok) {
            *is_null = obj == NULL;
            return obj;
        }
        json_object_put(obj);
    }
    json_object *s = json_object_new_string(value);
    *oom = s == NULL;
    return s;
}

int cli_request_apply_sets(const cli_request_opts *r, json_object *req) {
    for (size_t i = 0; i < r->n_sets; i++) {
        const char *eq = strchr(r->sets[i], '=');
        size_t klen = (size_t)(eq - r->sets[i]);
        int is_null = 0, oom = 0;
        char *key = strndup(r->sets[i], klen);
        json_object *val = key ? parse_value(eq + 1, &is_null, &oom) : NULL;
        if (!key || oom || json_object_object_add(req, key, val) != 0) {
            json_object_put(val);
            free(key);
            cli_errorf("out of memory building the request");
            return -1;
        }
        free(key);
    }
    return 0;
}

const char *cli_json_string(json_object *obj, const char *key) {
    json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    return json_object_get_string(v);
}

char *cli_json_dup(json_object *obj) {
    const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
    return s ? strdup(s) : NULL;
}
