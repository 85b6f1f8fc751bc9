/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli config — checking config files (aigw_config_check). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const cli_opt config_opts[] = {CLI_COMMON_OPTS, {0}};

/* What the file declares, for `config check -v`: "2 backends, 1 route,
 * 1 budget". Empty when the file cannot be read again. */
static void summary(const char *path, char *buf, size_t cap) {
    static const struct {
        const char *key;
        const char *one;
        const char *many;
    } parts[] = {
        {"backends", "backend", "backends"},
        {"routes", "route", "routes"},
        {"budgets", "budget", "budgets"},
    };
    json_object *root = json_object_from_file(path);
    size_t used = 0;

    buf[0] = '\0';
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        json_object *v = NULL;
        size_t n = 0;
        if (json_object_object_get_ex(root, parts[i].key, &v)) {
            if (json_object_is_type(v, json_type_object)) {
                n = (size_t)json_object_object_length(v);
            } else if (json_object_is_type(v, json_type_array)) {
                n = json_object_array_length(v);
            }
        }
        int w = snprintf(buf + used, cap - used, "%s%zu %s", i ? ", " : "", n,
                         n == 1 ? parts[i].one : parts[i].many);
        if (w < 0 || (size_t)w >= cap - used) {
            break;
        }
        used += (size_t)w;
    }
    json_object_put(root);
}

/* One file: "FILE: ok" on stdout, or "aigw-cli: FILE: <path>: <reason>" on
 * stderr. Returns an exit code. */
static int check_one(const char *path, int verbose) {
    aigw_error *err = NULL;
    aigw_status st = aigw_config_check(path, &err);

    if (st == AIGW_OK) {
        char line[4096], counts[256] = "";
        aigw_error_free(err);
        if (verbose) {
            summary(path, counts, sizeof(counts));
        }
        int n =
            snprintf(line, sizeof(line), counts[0] ? "%s: ok (%s)\n" : "%s: ok\n", path, counts);
        if (n < 0) {
            return CLI_EXIT_FAILURE;
        }
        return cli_write_out(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1)
                   ? CLI_EXIT_FAILURE
                   : CLI_EXIT_OK;
    }
    if (err && aigw_error_status(err) != AIGW_OK) {
        st = aigw_error_status(err);
    }
    const char *message = err ? aigw_error_message(err) : NULL;
    if (!message || !*message) {
        message = aigw_strerror(st);
    }
    /* Compiler style: the file, then the JSON path and the reason. The
     * message of an unreadable file already names it ("config file F: ..."). */
    if (st == AIGW_EIO && strstr(message, path)) {
        cli_errorf("%s", message);
    } else {
        cli_errorf("%s: %s", path, message);
    }
    aigw_error_free(err);
    return cli_exit_code(st, CLI_PHASE_SETUP);
}

static int config_check(const cli_common *common, char **files, int nfiles) {
    char default_path[4096];
    const char *path = NULL;
    int rc = CLI_EXIT_OK;

    if (nfiles == 0) {
        /* The file the other commands would use. */
        int found = cli_find_config(common, default_path, sizeof(default_path), &path);
        if (found != CLI_EXIT_OK) {
            return found;
        }
        if (!path) {
            return cli_usage_error("config", "no config file to check: give FILE, --config "
                                             "FILE or $AIGW_CONFIG");
        }
        return check_one(path, common->verbose);
    }
    for (int i = 0; i < nfiles; i++) {
        int one = check_one(files[i], common->verbose);
        if (rc == CLI_EXIT_OK) {
            rc = one;
        }
    }
    return rc;
}

int cli_cmd_config(int argc, char **argv) {
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    const char *sub = NULL;
    char **files = calloc((size_t)argc + 1, sizeof(char *));
    int nfiles = 0, id, rc;

    if (!files) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    cli_parser_init(&p, argc, argv, "config");
    while ((id = cli_next_arg(&p, config_opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR) {
            free(files);
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_ARG_POSITIONAL) {
            if (!sub) {
                sub = value;
            } else {
                files[nfiles++] = (char *)value;
            }
            continue;
        }
        cli_common_option(&common, id, value);
    }
    if (common.help) {
        free(files);
        cli_print_usage("config", stdout);
        return CLI_EXIT_OK;
    }
    if (!sub) {
        rc = cli_usage_error("config", "missing subcommand: check");
    } else if (strcmp(sub, "check") != 0) {
        rc = cli_usage_error("config", "unknown subcommand '%s' (known: check)", sub);
    } else if (common.json) {
        rc = cli_usage_error("config", "config check takes no --json");
    } else {
        rc = config_check(&common, files, nfiles);
    }
    free(files);
    return rc;
}
