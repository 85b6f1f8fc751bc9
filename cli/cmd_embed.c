/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli embed — one embedding per input, printed as a JSON array line. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

enum { OPT_MODEL = 1, OPT_DIMENSIONS, OPT_USAGE };

static const cli_opt embed_opts[] = {
    CLI_COMMON_OPTS,
    {"model", 'm', 1, OPT_MODEL},
    {"dimensions", 0, 1, OPT_DIMENSIONS},
    {"usage", 0, 0, OPT_USAGE},
    CLI_CALL_OPTS,
    CLI_REQUEST_OPTS,
    {0},
};

typedef struct embed_args {
    cli_common common;
    const char *model;
    long dimensions; /* 0: not given */
    int usage;
    cli_call call;        /* --key, --team, --user, --header, --info */
    cli_request_opts req; /* -o, --request, --max-input */
    json_object *inputs;  /* array of strings */
} embed_args;

static const char *default_model(void) {
    const char *m = getenv("AIGW_EMBED_MODEL");
    if (m && *m) {
        return m;
    }
    const char *key = getenv("OPENAI_API_KEY");
    if (key && *key) {
        return "openai/text-embedding-3-small";
    }
    return NULL;
}

static int add_input(embed_args *a, const char *s, size_t len) {
    json_object *str = json_object_new_string_len(s, (int)len);
    if (!str || json_object_array_add(a->inputs, str) != 0) {
        json_object_put(str);
        cli_errorf("out of memory");
        return -1;
    }
    return 0;
}

/* Each non-empty line of standard input is one input. Returns an exit code
 * (reported). */
static int add_stdin_inputs(embed_args *a) {
    size_t len = 0;
    char *text = NULL;
    int rc = cli_read_stdin(cli_max_input(&a->req), &text, &len);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n > 0 && (n > 0x7fffffff || add_input(a, p, n) != 0)) {
            free(text);
            return CLI_EXIT_FAILURE;
        }
        p = nl ? nl + 1 : end;
    }
    free(text);
    return CLI_EXIT_OK;
}

static int parse_embed_args(int argc, char **argv, embed_args *a, const char **texts,
                            char *positional_dash) {
    cli_parser p;
    const char *value = NULL;
    int id, used_stdin = 0;

    int ntexts = 0;
    cli_parser_init(&p, argc, argv, "embed");
    while ((id = cli_next_arg(&p, embed_opts, &value)) != CLI_ARG_END) {
        switch (id) {
        case CLI_ARG_ERROR:
            return CLI_EXIT_USAGE;
        case CLI_ARG_POSITIONAL:
            /* "-" is read once the options are known (--max-input) */
            if (strcmp(value, "-") == 0) {
                if (used_stdin) {
                    return cli_usage_error("embed", "'-' (standard input) given twice");
                }
                used_stdin = 1;
                positional_dash[ntexts] = 1;
            }
            texts[ntexts++] = value;
            break;
        case OPT_MODEL:
            a->model = value;
            break;
        case OPT_DIMENSIONS:
            if (cli_parse_long("embed", "--dimensions", value, 1, 1000000L, &a->dimensions)) {
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_USAGE:
            a->usage = 1;
            break;
        default: {
            int rc = CLI_EXIT_OK;
            if (cli_call_option(&a->call, "embed", id, value, &rc) ||
                cli_request_option(&a->req, "embed", id, value, &rc)) {
                if (rc != CLI_EXIT_OK) {
                    return rc;
                }
                break;
            }
            cli_common_option(&a->common, id, value);
            break;
        }
        }
    }
    if (a->common.help) {
        return CLI_EXIT_OK;
    }
    if (used_stdin && a->req.request_path && strcmp(a->req.request_path, "-") == 0) {
        return cli_usage_error("embed", "standard input cannot be both TEXT (-) and the "
                                        "--request file (-)");
    }
    /* No TEXT: piped standard input is the texts, as with "-" (not with
     * --request: the file has the input). */
    if (ntexts == 0 && !a->req.request_path && cli_stdin_is_piped()) {
        texts[ntexts] = "-";
        positional_dash[ntexts++] = 1;
        used_stdin = 1;
    }
    for (int i = 0; i < ntexts; i++) {
        int rc = positional_dash[i]                              ? add_stdin_inputs(a)
                 : add_input(a, texts[i], strlen(texts[i])) != 0 ? CLI_EXIT_FAILURE
                                                                 : CLI_EXIT_OK;
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }
    if (json_object_array_length(a->inputs) == 0 && !a->req.request_path) {
        return cli_usage_error("embed", used_stdin ? "missing TEXT: standard input held no text "
                                                     "to embed"
                                                   : "missing TEXT");
    }
    return CLI_EXIT_OK;
}

/* As for chat, in layers: the --request file, then the flags (-m,
 * --dimensions; TEXT arguments replace the file's "input"), then each -o;
 * a request with no "model" gets the default one. Returns an exit code
 * (reported). */
static int build_request(embed_args *a, char **out) {
    json_object *req = NULL;
    int rc = cli_request_load(&a->req, "embed", &req);
    *out = NULL;
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    int bad = !req && !(req = json_object_new_object());
    if (!bad && json_object_array_length(a->inputs) > 0) {
        bad = json_object_object_add(req, "input", json_object_get(a->inputs)) != 0;
    }
    if (!bad && a->model) {
        bad = json_object_object_add(req, "model", json_object_new_string(a->model)) != 0;
    }
    if (!bad && a->dimensions > 0) {
        bad = json_object_object_add(req, "dimensions", json_object_new_int64(a->dimensions)) != 0;
    }
    if (!bad && cli_request_apply_sets(&a->req, req) != 0) {
        json_object_put(req);
        return CLI_EXIT_FAILURE;
    }
    if (!bad && !cli_json_string(req, "model")) {
        const char *model = default_model();
        if (!model) {
            json_object_put(req);
            return cli_usage_error("embed", "no model: pass -m MODEL (e.g. -m mock/embed), or set "
                                            "AIGW_EMBED_MODEL, or OPENAI_API_KEY for "
                                            "openai/text-embedding-3-small");
        }
        bad = json_object_object_add(req, "model", json_object_new_string(model)) != 0;
    }
    if (!bad) {
        bad = !(*out = cli_json_dup(req));
    }
    json_object_put(req);
    if (bad) {
        cli_errorf("out of memory building the request");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

/* One line per embedding, in input order (by "index", not by position). */
static int print_embeddings(const char *response) {
    json_object *obj = cli_json_parse(response, strlen(response));
    json_object *data = NULL;
    int rc = CLI_EXIT_OK;

    if (!obj || !json_object_object_get_ex(obj, "data", &data) ||
        !json_object_is_type(data, json_type_array)) {
        json_object_put(obj);
        cli_errorf("the response holds no embeddings (AIGW_EBADRESPONSE)");
        return CLI_EXIT_UPSTREAM;
    }
    size_t n = json_object_array_length(data);
    for (size_t want = 0; want < n && rc == CLI_EXIT_OK; want++) {
        json_object *found = NULL;
        for (size_t i = 0; i < n; i++) {
            json_object *item = json_object_array_get_idx(data, i), *idx = NULL;
            if (json_object_object_get_ex(item, "index", &idx)
                    ? json_object_get_int64(idx) == (int64_t)want
                    : i == want) {
                found = item;
                break;
            }
        }
        json_object *emb = NULL;
        if (!found || !json_object_object_get_ex(found, "embedding", &emb)) {
            cli_errorf("the response has no embedding for input %zu (AIGW_EBADRESPONSE)", want);
            rc = CLI_EXIT_UPSTREAM;
            break;
        }
        const char *line = json_object_to_json_string_ext(emb, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        if (cli_print_json_line(line, strlen(line)) != 0) {
            rc = CLI_EXIT_FAILURE;
        }
    }
    json_object_put(obj);
    return rc;
}

static void print_usage_of(const char *response) {
    json_object *obj = cli_json_parse(response, strlen(response));
    json_object *usage = NULL;
    json_object_object_get_ex(obj, "usage", &usage);
    cli_print_usage_stats(usage);
    json_object_put(obj);
}

int cli_cmd_embed(int argc, char **argv) {
    embed_args a;
    aigw_client *client = NULL;
    char *request = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    const char **texts = calloc((size_t)argc + 2, sizeof(*texts));
    char *dash = calloc((size_t)argc + 2, 1);
    if (!texts || !dash || !(a.inputs = json_object_new_array())) {
        free(texts);
        free(dash);
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    rc = parse_embed_args(argc, argv, &a, texts, dash);
    free(texts);
    free(dash);
    if (rc == CLI_EXIT_OK && a.common.help) {
        cli_print_usage("embed", stdout);
    } else if (rc == CLI_EXIT_OK && (rc = build_request(&a, &request)) == CLI_EXIT_OK &&
               (rc = cli_open_client(&a.common, &client)) == CLI_EXIT_OK) {
        char *response = NULL;
        aigw_error *err = NULL;
        aigw_call_options opts;
        aigw_call_info info;
        cli_call_options(&a.call, &opts, &info);
        cli_catch_sigint();
        aigw_status st =
            aigw_call(client, AIGW_OP_EMBED, request, &opts, NULL, NULL, &response, &err);
        if (a.call.info) {
            cli_print_call_info(&info, st);
        }
        if (st != AIGW_OK) {
            rc = cli_report_error(st, err, CLI_PHASE_CALL);
        } else {
            rc = a.common.json ? (cli_print_json_line(response, strlen(response)) ? 1 : 0)
                               : print_embeddings(response);
            if (a.usage) {
                print_usage_of(response);
            }
        }
        aigw_free(response);
        aigw_client_free(client);
    }
    free(request);
    cli_call_free(&a.call);
    json_object_put(a.inputs);
    return rc;
}
