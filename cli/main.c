/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — entry point: global options and command dispatch. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { OPT_VERSION = 1 };

static const cli_opt global_opts[] = {CLI_COMMON_OPTS, {"version", 'V', 0, OPT_VERSION}, {0}};

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"chat", cli_cmd_chat},       /* a prompt, the answer streamed */
    {"embed", cli_cmd_embed},     /* embeddings */
    {"models", cli_cmd_models},   /* the models of the backends or routes */
    {"serve", cli_cmd_serve},     /* the HTTP gateway */
    {"config", cli_cmd_config},   /* config check FILE... */
    {"budgets", cli_cmd_budgets}, /* every budget's state */
};

static int cmd_help(int argc, char **argv) {
    static const cli_opt opts[] = {CLI_COMMON_OPTS, {0}};
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    const char *topic = NULL;
    int id;

    cli_parser_init(&p, argc, argv, "help");
    while ((id = cli_next_arg(&p, opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR) {
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_ARG_POSITIONAL) {
            if (topic) {
                return cli_usage_error("help", "too many arguments");
            }
            topic = value;
            continue;
        }
        cli_common_option(&common, id, value);
    }
    if (common.help && !topic) {
        topic = "help";
    }
    if (cli_print_usage(topic, stdout) != 0) {
        return cli_usage_error(NULL, "unknown command '%s'", topic);
    }
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    const char *name = NULL;
    int id;

    cli_parser_init(&p, argc, argv, NULL);
    while ((id = cli_next_arg(&p, global_opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR) {
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_ARG_POSITIONAL) {
            name = value;
            break;
        }
        if (id == OPT_VERSION) {
            cli_print_version(stdout);
            return CLI_EXIT_OK;
        }
        cli_common_option(&common, id, value);
    }
    if (common.help) {
        cli_print_usage(NULL, stdout);
        return CLI_EXIT_OK;
    }
    if (!name) {
        cli_print_usage(NULL, stderr);
        return CLI_EXIT_USAGE;
    }

    /* The command sees: its name, the global options given before it, then
     * the rest. */
    int cmd_index = p.index - 1;
    char **cmd_argv = malloc(sizeof(char *) * ((size_t)argc + 1));
    if (!cmd_argv) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    int n = 0;
    cmd_argv[n++] = argv[cmd_index];
    for (int i = 1; i < cmd_index; i++) {
        cmd_argv[n++] = argv[i];
    }
    for (int i = cmd_index + 1; i < argc; i++) {
        cmd_argv[n++] = argv[i];
    }
    cmd_argv[n] = NULL;

    int rc = -1;
    if (strcmp(name, "help") == 0) {
        rc = cmd_help(n, cmd_argv);
    } else {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(name, commands[i].name) == 0) {
                rc = commands[i].run(n, cmd_argv);
                break;
            }
        }
        if (rc < 0) {
            rc = cli_usage_error(NULL, "unknown command '%s'", name);
        }
    }
    free(cmd_argv);
    return rc;
}
