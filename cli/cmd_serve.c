/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli serve — the OpenAI-compatible gateway (aigw/serve.h) in the
 * foreground until SIGTERM or SIGINT: the first stops accepting and lets
 * in-flight requests finish (gateway.shutdown_timeout_ms), then exits 0; a
 * second exits at once. SIGHUP reloads the config file
 * (aigw_server_reload): a valid one is swapped in, an invalid one is
 * refused with its reason on stderr and the old one keeps serving.
 * Without gateway keys it warns on stderr (with or without -v), and it
 * listens only on loopback unless --allow-open or gateway.allow_open. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_LISTEN = 1, OPT_WORKERS, OPT_ALLOW_OPEN };

static const cli_opt serve_opts[] = {CLI_COMMON_OPTS,
                                     {"listen", 'l', 1, OPT_LISTEN},
                                     {"workers", 'w', 1, OPT_WORKERS},
                                     {"allow-open", 0, 0, OPT_ALLOW_OPEN},
                                     {0}};

typedef struct sig_ctx {
    aigw_server *server;
    sigset_t set;
    int verbose;
    char config_path[4096]; /* "" when configured from the environment */
} sig_ctx;

/* SIGHUP: one line on stderr either way. */
static void reload(sig_ctx *c) {
    aigw_error *err = NULL;
    if (!c->config_path[0]) {
        cli_errorf("SIGHUP: no config file to reload (configured from the environment)");
        return;
    }
    aigw_status st = aigw_server_reload(c->server, c->config_path, &err);
    if (st == AIGW_OK) {
        aigw_error_free(err);
        cli_errorf("SIGHUP: reloaded %s", c->config_path);
        return;
    }
    if (err && aigw_error_status(err) != AIGW_OK)
        st = aigw_error_status(err);
    const char *message = err ? aigw_error_message(err) : NULL;
    cli_errorf("SIGHUP: %s refused, still serving the previous config: %s (%s)", c->config_path,
               message && *message ? message : aigw_strerror(st), aigw_status_name(st));
    aigw_error_free(err);
}

static void *signal_thread(void *arg) {
    sig_ctx *c = arg;
    int sig = 0, count = 0;
    for (;;) {
        if (sigwait(&c->set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (count == 0)
                reload(c);
            continue;
        }
        if (++count > 1) {
            static const char msg[] = "aigw-cli: second signal: exiting now\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
            (void)w;
            _exit(128 + sig);
        }
        if (c->verbose)
            fprintf(stderr, "aigw-cli: %s: shutting down (in-flight requests may finish)\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
        aigw_server_shutdown(c->server, AIGW_SERVER_DEADLINE_DEFAULT);
    }
    return NULL;
}

int cli_cmd_serve(int argc, char **argv) {
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    aigw_serve_options opts = AIGW_SERVE_OPTIONS_INIT;
    aigw_client *client = NULL;
    aigw_server *server = NULL;
    aigw_error *err = NULL;
    long workers = 0;
    int id, rc;

    cli_parser_init(&p, argc, argv, "serve");
    while ((id = cli_next_arg(&p, serve_opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR)
            return CLI_EXIT_USAGE;
        if (id == CLI_ARG_POSITIONAL)
            return cli_usage_error("serve", "unexpected argument '%s'", value);
        if (id == OPT_LISTEN) {
            if (!*value)
                return cli_usage_error("serve", "--listen needs HOST:PORT");
            opts.listen = value;
        } else if (id == OPT_WORKERS) {
            if (cli_parse_long("serve", "--workers", value, 1, 1024, &workers) != 0)
                return CLI_EXIT_USAGE;
            opts.workers = (unsigned int)workers;
        } else if (id == OPT_ALLOW_OPEN) {
            opts.allow_open = 1;
        } else {
            cli_common_option(&common, id, value);
        }
    }
    if (common.help) {
        cli_print_usage("serve", stdout);
        return CLI_EXIT_OK;
    }
    static sig_ctx ctx;
    /* The library's warnings while starting (no gateway keys, credentials
     * it could not load) reach stderr even without -v. */
    cli_startup_warnings(1);
    if ((rc = cli_open_client_at(&common, &client, ctx.config_path, sizeof(ctx.config_path))) !=
        CLI_EXIT_OK)
        return rc;

    /* Every thread (the workers too) blocks the signals; one thread takes
     * them with sigwait, so no handler runs in the middle of anything. */
    sigemptyset(&ctx.set);
    sigaddset(&ctx.set, SIGINT);
    sigaddset(&ctx.set, SIGTERM);
    sigaddset(&ctx.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ctx.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    ctx.verbose = common.verbose;

    aigw_status st = aigw_server_start(client, &opts, &server, &err);
    cli_startup_warnings(0);
    if (st != AIGW_OK) {
        aigw_client_free(client);
        return cli_report_error(st, err, CLI_PHASE_SETUP);
    }
    ctx.server = server;
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, &ctx) != 0) {
        cli_errorf("could not start the signal thread");
        aigw_server_free(server);
        aigw_client_free(client);
        return CLI_EXIT_FAILURE;
    }
    printf("listening on port %d (%u worker%s)\n", aigw_server_port(server),
           aigw_server_workers(server), aigw_server_workers(server) == 1 ? "" : "s");
    fflush(stdout);

    aigw_server_wait(server);
    aigw_server_free(server);
    aigw_client_free(client);
    if (common.verbose)
        fprintf(stderr, "aigw-cli: stopped\n");
    return CLI_EXIT_OK;
}
