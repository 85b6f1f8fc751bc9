/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — a small option parser shared by every command. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_parser_init(cli_parser *p, int argc, char **argv, const char *command) {
    memset(p, 0, sizeof(*p));
    p->argc = argc;
    p->argv = argv;
    p->index = 1; /* argv[0] is the command itself */
    p->command = command;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len) {
    for (const cli_opt *o = opts; o->long_name || o->short_name; o++) {
        if (o->long_name && strlen(o->long_name) == len && memcmp(o->long_name, name, len) == 0) {
            return o;
        }
    }
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char c) {
    for (const cli_opt *o = opts; o->long_name || o->short_name; o++) {
        if (o->short_name == c) {
            return o;
        }
    }
    return NULL;
}

static int parse_short(cli_parser *p, const cli_opt *opts, const char **value) {
    char c = *p->cluster++;
    const cli_opt *o = find_short(opts, c);
    if (!o) {
        p->cluster = NULL;
        cli_usage_error(p->command, "unknown option '-%c'", c);
        return CLI_ARG_ERROR;
    }
    if (o->takes_value) {
        if (*p->cluster) {
            *value = p->cluster;
        } else if (p->index < p->argc) {
            *value = p->argv[p->index++];
        } else {
            p->cluster = NULL;
            cli_usage_error(p->command, "option '-%c' needs a value", c);
            return CLI_ARG_ERROR;
        }
        p->cluster = NULL;
    } else if (!*p->cluster) {
        p->cluster = NULL;
    }
    return o->id;
}

int cli_next_arg(cli_parser *p, const cli_opt *opts, const char **value) {
    *value = NULL;
    if (p->cluster) {
        return parse_short(p, opts, value);
    }
    if (p->index >= p->argc) {
        return CLI_ARG_END;
    }
    const char *arg = p->argv[p->index++];
    if (p->only_positional || arg[0] != '-' || arg[1] == '\0') {
        *value = arg;
        return CLI_ARG_POSITIONAL;
    }
    if (arg[1] != '-') {
        p->cluster = arg + 1;
        return parse_short(p, opts, value);
    }
    if (arg[2] == '\0') { /* "--" */
        p->only_positional = 1;
        return cli_next_arg(p, opts, value);
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = find_long(opts, name, len);
    if (!o) {
        cli_usage_error(p->command, "unknown option '--%.*s'", (int)len, name);
        return CLI_ARG_ERROR;
    }
    if (o->takes_value) {
        if (eq) {
            *value = eq + 1;
        } else if (p->index < p->argc) {
            *value = p->argv[p->index++];
        } else {
            cli_usage_error(p->command, "option '--%s' needs a value", o->long_name);
            return CLI_ARG_ERROR;
        }
    } else if (eq) {
        cli_usage_error(p->command, "option '--%s' takes no value", o->long_name);
        return CLI_ARG_ERROR;
    }
    return o->id;
}

int cli_common_option(cli_common *c, int id, const char *value) {
    switch (id) {
    case CLI_OPT_HELP:
        c->help = 1;
        return 1;
    case CLI_OPT_VERBOSE:
        c->verbose++;
        return 1;
    case CLI_OPT_CONFIG:
        c->config_path = value;
        return 1;
    case CLI_OPT_JSON:
        c->json = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_parse_long(const char *command, const char *option, const char *text, long min, long max,
                   long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        cli_usage_error(command, "%s expects a whole number from %ld to %ld, not '%s'", option, min,
                        max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *command, const char *option, const char *text, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v)) {
        cli_usage_error(command, "%s expects a number, not '%s'", option, text);
        return -1;
    }
    *out = v;
    return 0;
}
