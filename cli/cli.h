/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — what the command files share: option parsing, config discovery,
 * error reporting and exit codes. Every capability is a libaigw call; this
 * program only parses arguments and prints. */
#ifndef AIGW_CLI_H
#define AIGW_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <aigw/aigw.h>

#define CLI_NAME "aigw-cli"

/* ---- exit codes (docs/cli.md has the table) ---- */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,   /* anything else: internal, out of memory, I/O */
    CLI_EXIT_USAGE = 2,     /* bad command line */
    CLI_EXIT_CONFIG = 3,    /* config file missing or invalid */
    CLI_EXIT_AUTH = 4,      /* authentication or permission refused */
    CLI_EXIT_RATELIMIT = 5, /* rate limited */
    CLI_EXIT_REQUEST = 6,   /* bad request, not found, no backend, not supported */
    CLI_EXIT_UPSTREAM = 7,  /* upstream failed or answered nonsense */
    CLI_EXIT_NETWORK = 8,   /* could not connect, timed out, transport error */
    CLI_EXIT_INTERRUPTED = 130
};

/* Where a failure happened: EIO while loading the config is a config error. */
typedef enum cli_phase { CLI_PHASE_SETUP, CLI_PHASE_CALL } cli_phase;

int cli_exit_code(aigw_status status, cli_phase phase);

/* Prints "aigw-cli: <message> (<STATUS>[, HTTP NNN][, provider P])" to stderr,
 * frees `err` and returns the exit code for it. */
int cli_report_error(aigw_status status, aigw_error *err, cli_phase phase);
/* Prints "aigw-cli: <formatted>" on one line to stderr. */
void cli_errorf(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* A usage error: the line, a hint to --help, and CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Writes `len` bytes to stdout and flushes; 0 on success, -1 (reported) on a
 * write error. */
int cli_write_out(const char *s, size_t len);

/* ---- usage texts (usage.c) ---- */
/* Prints the usage of `command` (NULL: the overview) to `out`; returns -1
 * for an unknown command. */
int cli_print_usage(const char *command, FILE *out);
void cli_print_version(FILE *out);

/* ---- option parsing (args.c) ---- */
typedef struct cli_opt {
    const char *long_name; /* "model" for --model */
    char short_name;       /* 'm' for -m, or 0 */
    int takes_value;
    int id;
} cli_opt;

/* Returned by cli_next_arg besides an option id (ids are >= 0). */
#define CLI_ARG_END (-1)
#define CLI_ARG_POSITIONAL (-2)
#define CLI_ARG_ERROR (-3) /* already reported as a usage error */

/* Options may come before or after positional arguments; "--" ends them,
 * "-" alone is positional. Short options cluster (-vv) and take a value
 * joined or separate (-mX, -m X); long ones --name=value or --name value. */
typedef struct cli_parser {
    int argc;
    char **argv;
    int index;
    const char *cluster; /* rest of a short-option cluster */
    int only_positional;
    const char *command; /* for messages */
} cli_parser;

void cli_parser_init(cli_parser *p, int argc, char **argv, const char *command);
int cli_next_arg(cli_parser *p, const cli_opt *opts, const char **value);

/* Options every command takes. */
enum {
    CLI_OPT_HELP = 1000,
    CLI_OPT_VERBOSE,
    CLI_OPT_CONFIG,
    CLI_OPT_JSON,
};
#define CLI_COMMON_OPTS                                                                            \
    {"help", 'h', 0, CLI_OPT_HELP}, {"verbose", 'v', 0, CLI_OPT_VERBOSE},                          \
        {"config", 'c', 1, CLI_OPT_CONFIG}, {                                                      \
        "json", 0, 0, CLI_OPT_JSON                                                                 \
    }

typedef struct cli_common {
    const char *config_path; /* --config */
    int verbose;             /* -v count */
    int json;                /* --json */
    int help;                /* --help */
} cli_common;

/* Applies a common option; returns 1 if `id` was one. */
int cli_common_option(cli_common *c, int id, const char *value);

/* Strict number parsing; 0 on success, else a usage error is reported. */
int cli_parse_long(const char *command, const char *option, const char *text, long min, long max,
                   long *out);
int cli_parse_double(const char *command, const char *option, const char *text, double *out);

/* ---- config discovery and the client (config.c) ---- */
/* The config file the commands use: --config > $AIGW_CONFIG (each must
 * exist, else exit 3) > ~/.config/aigw/config.json if it exists (written
 * into buf) > none (*path = NULL: the environment alone). Returns an exit
 * code (reported). */
int cli_find_config(const cli_common *c, char *buf, size_t cap, const char **path);
/* Creates the client from that file (or the environment). Returns an exit
 * code; on 0 *client is ready. */
int cli_open_client(const cli_common *c, aigw_client **client);
/* While on (1), a client opened without -v still passes the library's
 * warnings and errors to stderr ("aigw: warn: ..."); serve turns it on
 * until its server has started. */
void cli_startup_warnings(int on);
/* The same, and copies the config file's name into used (cap bytes; "" when
 * configured from the environment alone). */
int cli_open_client_at(const cli_common *c, aigw_client **client, char *used, size_t cap);

/* ---- who is calling, and what the call did (call.c) ---- */
/* Options of the commands that make model calls (chat, embed): the caller's
 * identity for budgets and logs, request headers for routes, --info. */
enum {
    CLI_OPT_KEY = 1100,
    CLI_OPT_TEAM,
    CLI_OPT_USER,
    CLI_OPT_HEADER,
    CLI_OPT_INFO,
};
#define CLI_CALL_OPTS                                                                              \
    {"key", 0, 1, CLI_OPT_KEY}, {"team", 0, 1, CLI_OPT_TEAM}, {"user", 'u', 1, CLI_OPT_USER},      \
        {"header", 'H', 1, CLI_OPT_HEADER}, {                                                      \
        "info", 0, 0, CLI_OPT_INFO                                                                 \
    }

/* At most this many --header options. */
#define CLI_MAX_HEADERS 64

typedef struct cli_call {
    const char *key;                      /* --key */
    const char *team;                     /* --team */
    const char *user;                     /* --user */
    aigw_header headers[CLI_MAX_HEADERS]; /* --header NAME:VALUE; names owned */
    size_t n_headers;
    int info; /* --info */
} cli_call;

/* Applies a call option. Returns 1 if `id` was one (and *rc is 0, or the
 * exit code of a reported usage error), 0 if it was not. */
int cli_call_option(cli_call *c, const char *command, int id, const char *value, int *rc);
void cli_call_free(cli_call *c);
/* Fills `o` from `c`; `info` (may be NULL) receives what the call did. */
void cli_call_options(const cli_call *c, aigw_call_options *o, aigw_call_info *info);
/* Prints what the call did to stderr, one line each:
 *   call: backend=sim model=gpt-4o-mini attempts=1 input_tokens=3 output_tokens=3
 *   budget: team-daily limit=1M remaining=999.9k reset=13h4m
 * and, when that budget refused the call (status AIGW_EBUDGET), when to
 * retry: " retry_after=6s" ("never": the request can never fit). */
void cli_print_call_info(const aigw_call_info *info, aigw_status status);

/* ---- human units (human.c) ---- */
/* An amount of tokens ("988", "12.3k", "1.5M") or, with dollars set, of
 * dollars ("$50", "$12.50", "$0.0042"). */
void cli_format_amount(double v, int dollars, char *buf, size_t cap);
/* A duration: "0s", "0.5s", "6s", "1m30s", "13h4m", "2d3h"; a negative one
 * is "never". */
void cli_format_seconds(double seconds, char *buf, size_t cap);

/* ---- input (input.c) ---- */
/* The default of --max-input, and the largest it may be. */
#define CLI_DEFAULT_MAX_INPUT ((size_t)32 * 1024 * 1024)
#define CLI_MAX_INPUT_LIMIT (4ull * 1024 * 1024 * 1024)

/* 1 when standard input is open and not a terminal (a pipe, a file,
 * /dev/null): what chat and embed read when no text is given. */
int cli_stdin_is_piped(void);
/* A size: digits with an optional K, M or G suffix (powers of 1024; KiB,
 * MB... accepted), 1 to 4G. 0, or -1 after a reported usage error. */
int cli_parse_size(const char *command, const char *option, const char *text, size_t *out);
/* Reads all of standard input (at most max bytes) into a NUL-terminated
 * malloc'd *out. Returns an exit code (reported): CLI_EXIT_USAGE when it is
 * larger than max (reading stops there), CLI_EXIT_FAILURE on a read error
 * or a NUL byte. */
int cli_read_stdin(size_t max, char **out, size_t *len);
/* The same for the file PATH ("-": standard input); a file that cannot be
 * opened is CLI_EXIT_USAGE. */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);
/* Drops trailing '\n' and '\r'; returns the new length. */
size_t cli_trim_newlines(char *s, size_t len);

/* ---- request options (request.c): -o KEY=VALUE, --request, --max-input ---- */
enum {
    CLI_OPT_SET = 1200,
    CLI_OPT_REQUEST,
    CLI_OPT_MAX_INPUT,
};
#define CLI_REQUEST_OPTS                                                                           \
    {"option", 'o', 1, CLI_OPT_SET}, {"request", 0, 1, CLI_OPT_REQUEST}, {                         \
        "max-input", 0, 1, CLI_OPT_MAX_INPUT                                                       \
    }

/* At most this many -o options. */
#define CLI_MAX_SETS 256

typedef struct cli_request_opts {
    const char *sets[CLI_MAX_SETS]; /* "KEY=VALUE", in order */
    size_t n_sets;
    const char *request_path; /* --request FILE ("-": stdin), or NULL */
    size_t max_input;         /* --max-input; 0: CLI_DEFAULT_MAX_INPUT */
} cli_request_opts;

/* Applies a request option. Returns 1 if `id` was one (and *rc is 0, or the
 * exit code of a reported usage error), 0 if it was not. */
int cli_request_option(cli_request_opts *r, const char *command, int id, const char *value,
                       int *rc);
size_t cli_max_input(const cli_request_opts *r);
struct json_object;
/* The --request file as a JSON object (*out NULL when not given). Returns
 * an exit code (reported): CLI_EXIT_USAGE for a missing, oversized or
 * non-object file. */
int cli_request_load(const cli_request_opts *r, const char *command, struct json_object **out);
/* Sets each -o KEY=VALUE on req, in order (a later one wins): VALUE as
 * JSON when it is valid JSON, else as a string. 0, or -1 when out of
 * memory (reported). */
int cli_request_apply_sets(const cli_request_opts *r, struct json_object *req);
/* A string field of obj, or NULL. */
const char *cli_json_string(struct json_object *obj, const char *key);
/* obj serialised compactly into a malloc'd string; NULL when out of memory. */
char *cli_json_dup(struct json_object *obj);

/* ---- printing JSON answers (print.c) ---- */
struct json_object;
/* Parses `len` bytes of JSON; NULL if they are not JSON. */
struct json_object *cli_json_parse(const char *text, size_t len);
/* Writes `text` and a newline to stdout as one line (re-serialised compactly
 * if it spans lines); 0 or -1 (reported). */
int cli_print_json_line(const char *text, size_t len);
/* Prints "usage: prompt_tokens=N completion_tokens=N total_tokens=N" to
 * stderr from an OpenAI "usage" object (completion_tokens only if present),
 * or "usage: not reported" when `usage` is NULL. */
void cli_print_usage_stats(struct json_object *usage);

/* ---- SIGINT ---- */
/* Installs a handler that sets a flag the stream callbacks check; if the
 * program has not stopped a second later (a stalled upstream), it exits 130
 * at once. A second Ctrl-C kills at once too. */
void cli_catch_sigint(void);
int cli_interrupted(void);

/* ---- commands ---- */
int cli_cmd_chat(int argc, char **argv);
int cli_cmd_embed(int argc, char **argv);
int cli_cmd_models(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_config(int argc, char **argv);
int cli_cmd_budgets(int argc, char **argv);

#endif
