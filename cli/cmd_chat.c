/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli chat — one prompt, the answer streamed (or whole) to stdout. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

enum {
    OPT_MODEL = 1,
    OPT_SYSTEM,
    OPT_MAX_TOKENS,
    OPT_TEMPERATURE,
    OPT_NO_STREAM,
    OPT_USAGE,
};

static const cli_opt chat_opts[] = {
    CLI_COMMON_OPTS,
    {"model", 'm', 1, OPT_MODEL},
    {"system", 's', 1, OPT_SYSTEM},
    {"max-tokens", 0, 1, OPT_MAX_TOKENS},
    {"temperature", 0, 1, OPT_TEMPERATURE},
    {"no-stream", 0, 0, OPT_NO_STREAM},
    {"usage", 0, 0, OPT_USAGE},
    CLI_CALL_OPTS,
    CLI_REQUEST_OPTS,
    {0},
};

/* A tool call is at most this many per answer; a hostile index is refused. */
#define MAX_TOOL_CALLS 128

typedef struct chat_args {
    cli_common common;
    const char *model;
    const char *system;
    long max_tokens;         /* 0: not given */
    const char *temperature; /* the text as given, validated */
    int no_stream;
    int usage;
    cli_call call;        /* --key, --team, --user, --header, --info */
    cli_request_opts req; /* -o, --request, --max-input */
    char *prompt;         /* owned; NULL: none (only with --request) */
    int stream;           /* decided by build_request */
} chat_args;

typedef struct tool_call {
    char *name;
    size_t name_len;
    char *args;
    size_t args_len;
} tool_call;

typedef struct chat_output {
    int json;
    int wrote_text;
    char last_char;
    int write_failed;
    tool_call *calls;
    size_t ncalls;
    json_object *usage; /* the last "usage" seen, owned */
} chat_output;

/* ---- arguments ---- */

static char *join_args(char **args, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        len += strlen(args[i]) + 1;
    }
    char *out = malloc(len);
    if (!out) {
        return NULL;
    }
    out[0] = '\0';
    char *p = out;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(args[i]);
        if (i > 0) {
            *p++ = ' ';
        }
        memcpy(p, args[i], l);
        p += l;
        *p = '\0';
    }
    return out;
}

/* The prompt, as people expect from a Unix filter (and as `llm` does):
 *   PROMPT...                  the arguments joined by spaces
 *   -                          standard input alone (even from a terminal)
 *   (none), stdin piped        standard input
 *   PROMPT..., stdin piped     PROMPT + "\n\n" + standard input (when not empty)
 * Standard input is read only when it is not a terminal, never more than
 * --max-input bytes, and not at all with --request (the file is the
 * request; "-" still adds standard input to it). Trailing newlines of
 * standard input are dropped. No prompt at all is a usage error, unless
 * --request gives the messages. */
static int read_prompt(chat_args *a, char **positional, int npos) {
    int lone_dash = npos == 1 && strcmp(positional[0], "-") == 0;
    int from_stdin = lone_dash || (!a->req.request_path && cli_stdin_is_piped());
    char *in = NULL, *args = NULL;
    size_t in_len = 0;

    if (lone_dash && a->req.request_path && strcmp(a->req.request_path, "-") == 0) {
        return cli_usage_error("chat", "standard input cannot be both the PROMPT (-) and the "
                                       "--request file (-)");
    }
    if (from_stdin) {
        int rc = cli_read_stdin(cli_max_input(&a->req), &in, &in_len);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
        in_len = cli_trim_newlines(in, in_len);
    }
    if (npos > 0 && !lone_dash && !(args = join_args(positional, npos))) {
        free(in);
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    if (args && in_len > 0) {
        size_t alen = strlen(args);
        char *both = malloc(alen + 2 + in_len + 1);
        if (!both) {
            free(in);
            free(args);
            cli_errorf("out of memory");
            return CLI_EXIT_FAILURE;
        }
        memcpy(both, args, alen);
        memcpy(both + alen, "\n\n", 2);
        memcpy(both + alen + 2, in, in_len + 1);
        free(args);
        args = both;
    } else if (!args && in_len > 0) {
        args = in;
        in = NULL;
    }
    free(in);
    if ((!args || !*args) && !a->req.request_path) {
        free(args);
        if (lone_dash) {
            return cli_usage_error("chat", "missing PROMPT: standard input (-) is empty");
        }
        return cli_usage_error("chat", from_stdin
                                           ? "missing PROMPT: no arguments and standard input "
                                             "is empty"
                                           : "missing PROMPT");
    }
    a->prompt = args;
    return CLI_EXIT_OK;
}

static int parse_chat_args(int argc, char **argv, chat_args *a) {
    cli_parser p;
    const char *value = NULL;
    char **positional = calloc((size_t)argc + 1, sizeof(char *));
    int npos = 0, id;
    double ignored;

    if (!positional) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    cli_parser_init(&p, argc, argv, "chat");
    while ((id = cli_next_arg(&p, chat_opts, &value)) != CLI_ARG_END) {
        switch (id) {
        case CLI_ARG_ERROR:
            free(positional);
            return CLI_EXIT_USAGE;
        case CLI_ARG_POSITIONAL:
            positional[npos++] = (char *)value;
            break;
        case OPT_MODEL:
            a->model = value;
            break;
        case OPT_SYSTEM:
            a->system = value;
            break;
        case OPT_MAX_TOKENS:
            if (cli_parse_long("chat", "--max-tokens", value, 1, 100000000L, &a->max_tokens)) {
                free(positional);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_TEMPERATURE:
            if (cli_parse_double("chat", "--temperature", value, &ignored)) {
                free(positional);
                return CLI_EXIT_USAGE;
            }
            a->temperature = value;
            break;
        case OPT_NO_STREAM:
            a->no_stream = 1;
            break;
        case OPT_USAGE:
            a->usage = 1;
            break;
        default: {
            int rc = CLI_EXIT_OK;
            if (cli_call_option(&a->call, "chat", id, value, &rc) ||
                cli_request_option(&a->req, "chat", id, value, &rc)) {
                if (rc != CLI_EXIT_OK) {
                    free(positional);
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
        free(positional);
        return CLI_EXIT_OK;
    }
    int rc = read_prompt(a, positional, npos);
    free(positional);
    return rc;
}

static const char *default_model(void) {
    const char *m = getenv("AIGW_MODEL");
    if (m && *m) {
        return m;
    }
    const char *key = getenv("OPENAI_API_KEY");
    if (key && *key) {
        return "openai/gpt-4o-mini";
    }
    return NULL;
}

/* ---- the request ---- */

static int add(json_object *obj, const char *key, json_object *val) {
    if (!val) {
        return -1;
    }
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static json_object *message(const char *role, const char *content) {
    json_object *m = json_object_new_object();
    if (!m || add(m, "role", json_object_new_string(role)) ||
        add(m, "content", json_object_new_string(content))) {
        json_object_put(m);
        return NULL;
    }
    return m;
}

/* The request, in layers, each overriding the one before:
 *   1. --request FILE (as is);
 *   2. the flags: -m, --max-tokens, --temperature, --no-stream, --usage
 *      (stream_options.include_usage) set their fields; -s puts a system
 *      message first and PROMPT appends a user message to the messages;
 *   3. each -o KEY=VALUE, in order.
 * A request with no "model" after that gets the default model. Whether the
 * answer is streamed is the final "stream" field: true by default, false
 * with --no-stream or "stream": false from the file or -o. Returns an exit
 * code (reported); on success *out is the JSON and a->stream is set. */
static int build_request(chat_args *a, char **out) {
    json_object *req = NULL, *messages = NULL, *v = NULL;
    int rc = cli_request_load(&a->req, "chat", &req);
    int stream = 1;

    *out = NULL;
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (!req && !(req = json_object_new_object())) {
        goto oom;
    }
    if (json_object_object_get_ex(req, "stream", &v) && json_object_is_type(v, json_type_boolean)) {
        stream = json_object_get_boolean(v);
    }
    if (a->no_stream) {
        stream = 0;
    }
    if (a->system || a->prompt) {
        json_object *old = NULL;
        if (!json_object_object_get_ex(req, "messages", &old) ||
            !json_object_is_type(old, json_type_array)) {
            old = NULL;
        }
        if (!(messages = json_object_new_array())) {
            goto oom;
        }
        if (a->system) {
            json_object *m = message("system", a->system);
            if (!m || json_object_array_add(messages, m) != 0) {
                json_object_put(m);
                goto oom;
            }
        }
        for (size_t i = 0; old && i < json_object_array_length(old); i++) {
            json_object *m = json_object_get(json_object_array_get_idx(old, i));
            if (json_object_array_add(messages, m) != 0) {
                json_object_put(m);
                goto oom;
            }
        }
        if (a->prompt && *a->prompt) {
            json_object *m = message("user", a->prompt);
            if (!m || json_object_array_add(messages, m) != 0) {
                json_object_put(m);
                goto oom;
            }
        }
        if (add(req, "messages", messages)) {
            messages = NULL;
            goto oom;
        }
        messages = NULL;
    }
    if (a->model && add(req, "model", json_object_new_string(a->model))) {
        goto oom;
    }
    if (a->max_tokens > 0 && add(req, "max_tokens", json_object_new_int64(a->max_tokens))) {
        goto oom;
    }
    if (a->temperature &&
        add(req, "temperature",
            json_object_new_double_s(strtod(a->temperature, NULL), a->temperature))) {
        goto oom;
    }
    json_object *usage_so = NULL; /* the stream_options --usage added */
    if (stream && a->usage) {
        json_object *so = json_object_new_object();
        if (!so || add(so, "include_usage", json_object_new_boolean(1))) {
            json_object_put(so);
            goto oom;
        }
        if (add(req, "stream_options", so)) {
            goto oom;
        }
        usage_so = so;
    }
    if (cli_request_apply_sets(&a->req, req) != 0) {
        json_object_put(req);
        return CLI_EXIT_FAILURE;
    }
    if (json_object_object_get_ex(req, "stream", &v) && json_object_is_type(v, json_type_boolean)) {
        stream = json_object_get_boolean(v);
    }
    if (stream) {
        if (add(req, "stream", json_object_new_boolean(1))) {
            goto oom;
        }
    } else {
        json_object_object_del(req, "stream");
        /* -o stream=false after --usage: stream_options needs a stream */
        if (usage_so && json_object_object_get_ex(req, "stream_options", &v) && v == usage_so) {
            json_object_object_del(req, "stream_options");
        }
    }
    if (!cli_json_string(req, "model")) {
        const char *model = default_model();
        if (!model) {
            json_object_put(req);
            return cli_usage_error("chat", "no model: pass -m MODEL (e.g. -m mock/echo), or set "
                                           "AIGW_MODEL, or OPENAI_API_KEY for openai/gpt-4o-mini");
        }
        if (add(req, "model", json_object_new_string(model))) {
            goto oom;
        }
    }
    if (!(*out = cli_json_dup(req))) {
        goto oom;
    }
    json_object_put(req);
    a->stream = stream;
    return CLI_EXIT_OK;
oom:
    json_object_put(messages);
    json_object_put(req);
    cli_errorf("out of memory building the request");
    return CLI_EXIT_FAILURE;
}

/* ---- printing the answer ---- */

static void text_out(chat_output *o, const char *s, size_t len) {
    if (o->write_failed || len == 0) {
        return;
    }
    if (cli_write_out(s, len) != 0) {
        o->write_failed = 1;
        return;
    }
    o->wrote_text = 1;
    o->last_char = s[len - 1];
}

/* Ends the text with a newline unless it already ends with one. */
static void end_text(chat_output *o) {
    if (o->wrote_text && o->last_char != '\n') {
        text_out(o, "\n", 1);
    }
}

static const char *get_string(json_object *obj, const char *key, size_t *len) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string)) {
        return NULL;
    }
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int append(char **buf, size_t *len, const char *s, size_t n) {
    char *bigger = realloc(*buf, *len + n + 1);
    if (!bigger) {
        return -1;
    }
    memcpy(bigger + *len, s, n);
    *len += n;
    bigger[*len] = '\0';
    *buf = bigger;
    return 0;
}

static tool_call *tool_call_at(chat_output *o, size_t index) {
    if (index >= MAX_TOOL_CALLS) {
        return NULL;
    }
    if (index >= o->ncalls) {
        tool_call *bigger = realloc(o->calls, (index + 1) * sizeof(*bigger));
        if (!bigger) {
            return NULL;
        }
        memset(bigger + o->ncalls, 0, (index + 1 - o->ncalls) * sizeof(*bigger));
        o->calls = bigger;
        o->ncalls = index + 1;
    }
    return &o->calls[index];
}

/* Collects tool calls, whole (a message) or in fragments (stream deltas):
 * the name and arguments of the same index are appended. */
static void collect_tool_calls(chat_output *o, json_object *holder) {
    json_object *calls = NULL;
    if (!json_object_object_get_ex(holder, "tool_calls", &calls) ||
        !json_object_is_type(calls, json_type_array)) {
        return;
    }
    size_t n = json_object_array_length(calls);
    for (size_t i = 0; i < n; i++) {
        json_object *call = json_object_array_get_idx(calls, i);
        json_object *idx = NULL, *fn = NULL;
        size_t index = i;
        if (json_object_object_get_ex(call, "index", &idx) &&
            json_object_is_type(idx, json_type_int)) {
            int64_t v = json_object_get_int64(idx);
            index = v < 0 ? MAX_TOOL_CALLS : (size_t)v;
        }
        tool_call *tc = tool_call_at(o, index);
        if (!tc || !json_object_object_get_ex(call, "function", &fn)) {
            continue;
        }
        size_t len = 0;
        const char *s = get_string(fn, "name", &len);
        if (s) {
            append(&tc->name, &tc->name_len, s, len);
        }
        if ((s = get_string(fn, "arguments", &len))) {
            append(&tc->args, &tc->args_len, s, len);
        }
    }
}

static void print_tool_calls(chat_output *o) {
    for (size_t i = 0; i < o->ncalls && !o->write_failed; i++) {
        tool_call *tc = &o->calls[i];
        if (!tc->name && !tc->args) {
            continue;
        }
        end_text(o);
        static const char prefix[] = "[tool call] ";
        text_out(o, prefix, sizeof(prefix) - 1);
        text_out(o, tc->name ? tc->name : "", tc->name ? tc->name_len : 0);
        text_out(o, "(", 1);
        text_out(o, tc->args ? tc->args : "", tc->args ? tc->args_len : 0);
        text_out(o, ")\n", 2);
    }
}

static void keep_usage(chat_output *o, json_object *obj) {
    json_object *usage = NULL;
    if (json_object_object_get_ex(obj, "usage", &usage) &&
        json_object_is_type(usage, json_type_object)) {
        json_object_put(o->usage);
        o->usage = json_object_get(usage);
    }
}

/* The text of choices[0]: "message" for a whole answer, "delta" for a chunk. */
static void print_choice(chat_output *o, json_object *obj, const char *field) {
    json_object *choices = NULL, *part = NULL;
    if (!json_object_object_get_ex(obj, "choices", &choices) ||
        !json_object_is_type(choices, json_type_array) || json_object_array_length(choices) == 0 ||
        !json_object_object_get_ex(json_object_array_get_idx(choices, 0), field, &part) ||
        !json_object_is_type(part, json_type_object)) {
        return;
    }
    size_t len = 0;
    const char *s = get_string(part, "content", &len);
    if (s) {
        text_out(o, s, len);
    }
    if ((s = get_string(part, "refusal", &len))) {
        text_out(o, s, len);
    }
    collect_tool_calls(o, part);
}

static int on_chunk(const char *chunk_json, size_t len, void *user) {
    chat_output *o = user;
    if (cli_interrupted() || o->write_failed) {
        return 1;
    }
    json_object *chunk = cli_json_parse(chunk_json, len);
    if (o->json) {
        if (cli_print_json_line(chunk_json, len) != 0) {
            o->write_failed = 1;
        }
    } else if (chunk) {
        print_choice(o, chunk, "delta");
    }
    if (chunk) {
        keep_usage(o, chunk);
    }
    json_object_put(chunk);
    return cli_interrupted() || o->write_failed;
}

static void chat_output_free(chat_output *o) {
    for (size_t i = 0; i < o->ncalls; i++) {
        free(o->calls[i].name);
        free(o->calls[i].args);
    }
    free(o->calls);
    json_object_put(o->usage);
}

/* ---- the command ---- */

static int run_chat(aigw_client *client, const chat_args *a, const char *request) {
    chat_output out = {0};
    aigw_error *err = NULL;
    aigw_call_options opts;
    aigw_call_info info;
    aigw_status st;
    int rc = CLI_EXIT_OK;

    out.json = a->common.json;
    cli_call_options(&a->call, &opts, &info);
    cli_catch_sigint();
    if (!a->stream) {
        char *response = NULL;
        st = aigw_call(client, AIGW_OP_CHAT, request, &opts, NULL, NULL, &response, &err);
        if (st == AIGW_OK) {
            json_object *obj = cli_json_parse(response, strlen(response));
            if (out.json) {
                out.write_failed = cli_print_json_line(response, strlen(response)) != 0;
            } else if (obj) {
                print_choice(&out, obj, "message");
            }
            if (obj) {
                keep_usage(&out, obj);
            }
            json_object_put(obj);
            aigw_free(response);
        }
    } else {
        st = aigw_call(client, AIGW_OP_CHAT_STREAM, request, &opts, on_chunk, &out, NULL, &err);
    }

    if (!out.json) {
        if (st == AIGW_OK) {
            print_tool_calls(&out);
        }
        end_text(&out);
    }
    if (a->call.info) {
        cli_print_call_info(&info, st);
    }
    if (out.write_failed) {
        aigw_error_free(err);
        rc = CLI_EXIT_FAILURE;
    } else if (st != AIGW_OK) {
        rc = cli_report_error(st, err, CLI_PHASE_CALL);
    } else if (cli_interrupted()) {
        cli_errorf("interrupted");
        rc = CLI_EXIT_INTERRUPTED;
    }
    if (a->usage && st == AIGW_OK) {
        cli_print_usage_stats(out.usage);
    }
    chat_output_free(&out);
    return rc;
}

int cli_cmd_chat(int argc, char **argv) {
    chat_args a;
    aigw_client *client = NULL;
    char *request = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = parse_chat_args(argc, argv, &a)) == CLI_EXIT_OK && a.common.help) {
        cli_print_usage("chat", stdout);
    } else if (rc == CLI_EXIT_OK && (rc = build_request(&a, &request)) == CLI_EXIT_OK &&
               (rc = cli_open_client(&a.common, &client)) == CLI_EXIT_OK) {
        free(a.prompt); /* in the request now: a big one is not kept twice */
        a.prompt = NULL;
        rc = run_chat(client, &a, request);
        aigw_client_free(client);
    }
    free(request);
    free(a.prompt);
    cli_call_free(&a.call);
    return rc;
}
