/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — finding the config file and creating the client. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void log_to_stderr(aigw_log_level level, const char *message, void *user) {
    (void)user;
    if (level == AIGW_LOG_DEBUG || level == AIGW_LOG_INFO) {
        fprintf(stderr, "aigw: %s\n", message);
    } else {
        fprintf(stderr, "aigw: %s: %s\n", aigw_log_level_name(level), message);
    }
    fflush(stderr);
}

static atomic_int startup_warnings;

void cli_startup_warnings(int on) {
    atomic_store(&startup_warnings, on);
}

/* Without -v: the warnings while starting only (a server's later ones, e.g.
 * one per failed request, are for -v). */
static void log_startup_warning(aigw_log_level level, const char *message, void *user) {
    if (atomic_load(&startup_warnings)) {
        log_to_stderr(level, message, user);
    }
}

/* A named config (--config, $AIGW_CONFIG) must be a readable file. */
static int check_named_config(const char *path, const char *source) {
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        cli_errorf("config file %s (from %s): %s (AIGW_ECONFIG)", path, source, strerror(e));
        return CLI_EXIT_CONFIG;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_errorf("config file %s (from %s) is a directory (AIGW_ECONFIG)", path, source);
        return CLI_EXIT_CONFIG;
    }
    return CLI_EXIT_OK;
}

int cli_find_config(const cli_common *c, char *buf, size_t cap, const char **path) {
    int rc;

    *path = NULL;
    if (c->config_path) {
        if (!*c->config_path) {
            return cli_usage_error(NULL, "--config needs a file name");
        }
        if ((rc = check_named_config(c->config_path, "--config")) != CLI_EXIT_OK) {
            return rc;
        }
        *path = c->config_path;
    } else if (getenv("AIGW_CONFIG") && *getenv("AIGW_CONFIG")) {
        *path = getenv("AIGW_CONFIG");
        if ((rc = check_named_config(*path, "$AIGW_CONFIG")) != CLI_EXIT_OK) {
            *path = NULL;
            return rc;
        }
    } else {
        const char *home = getenv("HOME");
        struct stat st;
        if (home && *home) {
            int n = snprintf(buf, cap, "%s/.config/aigw/config.json", home);
            if (n > 0 && (size_t)n < cap && stat(buf, &st) == 0) {
                *path = buf;
            }
        }
    }
    return CLI_EXIT_OK;
}

int cli_open_client(const cli_common *c, aigw_client **client) {
    return cli_open_client_at(c, client, NULL, 0);
}

int cli_open_client_at(const cli_common *c, aigw_client **client, char *used, size_t cap) {
    char default_path[4096];
    const char *path = NULL;
    int rc;

    *client = NULL;
    if (used && cap) {
        used[0] = '\0';
    }
    if ((rc = cli_find_config(c, default_path, sizeof(default_path), &path)) != CLI_EXIT_OK) {
        return rc;
    }
    if (path && used && cap) {
        if (strlen(path) >= cap) {
            cli_errorf("config file name too long: %s (AIGW_ECONFIG)", path);
            return CLI_EXIT_CONFIG;
        }
        memcpy(used, path, strlen(path) + 1);
    }

    aigw_client_options opts = AIGW_CLIENT_OPTIONS_INIT;
    opts.config_path = path; /* NULL: configured from the environment alone */
    if (c->verbose > 0) {
        opts.log_cb = log_to_stderr;
        opts.log_level = c->verbose > 1 ? AIGW_LOG_DEBUG : AIGW_LOG_INFO;
    } else if (atomic_load(&startup_warnings)) {
        opts.log_cb = log_startup_warning;
        opts.log_level = AIGW_LOG_WARN;
    }
    aigw_error *err = NULL;
    aigw_status st = aigw_client_new(client, &opts, &err);
    if (st != AIGW_OK) {
        *client = NULL;
        return cli_report_error(st, err, CLI_PHASE_SETUP);
    }
    return CLI_EXIT_OK;
}
