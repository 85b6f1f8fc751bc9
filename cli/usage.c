/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — the usage texts and the version line. */
#include <string.h>

#include "cli.h"

/* The options of chat and embed that go into aigw_call_options. */
#define CALL_OPTIONS_USAGE                                                                         \
    "      --key NAME         the caller's key name, for budgets scoped on \"key\"\n"              \
    "      --team NAME        the caller's team, for budgets scoped on \"team\"\n"                 \
    "  -u, --user NAME        the caller's user, for budgets scoped on \"user\"\n"                 \
    "  -H, --header NAME:VALUE  a request header routes may match on (repeatable)\n"               \
    "      --info             print what the call did to stderr: backend, model,\n"                \
    "                         attempts, tokens, and the tightest budget's state\n"

/* The options of chat and embed that shape the request. */
#define REQUEST_OPTIONS_USAGE                                                                      \
    "  -o, --option KEY=VALUE set a top-level request field (repeatable; VALUE is\n"               \
    "                         JSON when it parses, else a string; overrides flags)\n"              \
    "      --request FILE     send FILE (\"-\": stdin) as the request; flags and -o\n"             \
    "                         override its fields\n"                                               \
    "      --max-input BYTES  cap on standard input and --request (default 32M)\n"

static const char overview[] =
    "Usage: " CLI_NAME " [-v] [--config FILE] COMMAND [OPTIONS] [ARGS]\n"
    "       " CLI_NAME " --version | --help | help COMMAND\n"
    "\n"
    "A command line over libaigw, an AI gateway you can link.\n"
    "\n"
    "Commands:\n"
    "  chat     send a prompt to a chat model and print the answer\n"
    "  embed    print the embedding of each input text\n"
    "  models   list the models the configured backends offer\n"
    "  serve    run an OpenAI-compatible gateway over the configured backends\n"
    "  config   check config files (config check FILE...)\n"
    "  budgets  show every budget's state: limit, remaining, reset\n"
    "  help     print the usage of a command\n"
    "\n"
    "Options every command takes:\n"
    "  -c, --config FILE  config file (default: $AIGW_CONFIG, then\n"
    "                     ~/.config/aigw/config.json if it exists, else the\n"
    "                     environment alone)\n"
    "      --json         print the raw OpenAI-shaped JSON\n"
    "  -v, --verbose      log the library's info lines to stderr (-vv: debug)\n"
    "  -h, --help         print the usage and exit\n"
    "\n"
    "Exit codes: 0 ok, 1 other failure, 2 usage, 3 config, 4 auth, 5 rate limited\n"
    "or budget exhausted, "
    "6 bad request / unknown model, 7 upstream failure, 8 network,\n"
    "130 interrupted.\n";

static const char chat_usage[] =
    "Usage: " CLI_NAME " chat [OPTIONS] [PROMPT...]\n"
    "\n"
    "Sends PROMPT (the arguments joined by spaces) to a chat model and streams\n"
    "the answer to stdout as it arrives. Piped standard input is the prompt when\n"
    "none is given, and is appended to a given one after a blank line; \"-\"\n"
    "reads standard input even from a terminal.\n"
    "\n"
    "Options:\n"
    "  -m, --model MODEL      provider/model, e.g. openai/gpt-4o-mini, mock/echo\n"
    "                         (default: $AIGW_MODEL, else openai/gpt-4o-mini when\n"
    "                         OPENAI_API_KEY is set)\n"
    "  -s, --system TEXT      a system message\n"
    "      --max-tokens N     cap the answer at N tokens\n"
    "      --temperature X    sampling temperature\n"
    "      --no-stream        wait for the whole answer, then print it\n"
    "      --json             print the raw response (streaming: one chunk per\n"
    "                         line, NDJSON) instead of the text\n"
    "      --usage            print token usage to stderr\n" CALL_OPTIONS_USAGE
        REQUEST_OPTIONS_USAGE "  -c, --config FILE      config file\n"
    "  -v, --verbose          library logs to stderr (-vv: debug)\n"
    "  -h, --help             print this and exit\n"
    "\n"
    "Tool calls in the answer are printed as \"[tool call] name(arguments)\" lines.\n";

static const char embed_usage[] =
    "Usage: " CLI_NAME " embed [OPTIONS] [TEXT...]\n"
    "\n"
    "Embeds each TEXT (\"-\" reads standard input, one input per non-empty line;\n"
    "with no TEXT, piped standard input is read so) and prints each embedding as\n"
    "a JSON array on its own line, in input order.\n"
    "\n"
    "Options:\n"
    "  -m, --model MODEL      provider/model, e.g. openai/text-embedding-3-small,\n"
    "                         mock/embed (default: $AIGW_EMBED_MODEL, else\n"
    "                         openai/text-embedding-3-small when OPENAI_API_KEY is set)\n"
    "      --dimensions N     ask for N dimensions\n"
    "      --json             print the raw response\n"
    "      --usage            print token usage to stderr\n" CALL_OPTIONS_USAGE
        REQUEST_OPTIONS_USAGE "  -c, --config FILE      config file\n"
    "  -v, --verbose          library logs to stderr (-vv: debug)\n"
    "  -h, --help             print this and exit\n";

static const char models_usage[] =
    "Usage: " CLI_NAME " models [OPTIONS] [PROVIDER]\n"
    "\n"
    "Lists the models of one backend (PROVIDER, e.g. openai), one\n"
    "\"provider/model\" id per line. Without PROVIDER: the models the config's\n"
    "routes serve when it has routes, else every configured backend's.\n"
    "\n"
    "Options:\n"
    "      --json             print the raw response\n"
    "  -c, --config FILE      config file\n"
    "  -v, --verbose          library logs to stderr (-vv: debug)\n"
    "  -h, --help             print this and exit\n";

static const char serve_usage[] =
    "Usage: " CLI_NAME " serve [OPTIONS]\n"
    "\n"
    "Runs an OpenAI-compatible HTTP gateway over the configured backends:\n"
    "POST /v1/chat/completions (JSON and SSE), POST /v1/embeddings, GET /v1/models,\n"
    "GET /healthz, GET /metrics. Clients authenticate with the keys of the\n"
    "config's \"gateway\" section; with no keys it warns, and listens on loopback\n"
    "only unless --allow-open. Prints \"listening on port N (W workers)\".\n"
    "SIGTERM/SIGINT: stop accepting, let in-flight requests finish\n"
    "(gateway.shutdown_timeout_ms, default 30000), exit 0; a second signal exits\n"
    "at once. SIGHUP: reload the config file; a valid one is swapped in for new\n"
    "requests, an invalid one is refused (the reason on stderr) and the old one\n"
    "keeps serving.\n"
    "\n"
    "Options:\n"
    "  -l, --listen HOST:PORT address to listen on (default: gateway.listen, else\n"
    "                         127.0.0.1:8080; port 0 picks a free one)\n"
    "  -w, --workers N        worker threads, one event loop each (default:\n"
    "                         gateway.workers, else the number of cores)\n"
    "      --allow-open       serve without gateway.keys on a non-loopback address\n"
    "                         (else refused; as gateway.allow_open: true)\n"
    "  -c, --config FILE      config file\n"
    "  -v, --verbose          library logs and the access log to stderr (-vv: debug)\n"
    "  -h, --help             print this and exit\n";

static const char config_usage[] =
    "Usage: " CLI_NAME " config check [OPTIONS] [FILE...]\n"
    "\n"
    "Checks each config FILE as the other commands and serve would load it\n"
    "(backends, credentials, routes, budgets, accounting, gateway), without\n"
    "sending anything. Prints \"FILE: ok\" on stdout for a valid one; for an\n"
    "invalid one, the JSON path and the reason on stderr, e.g.\n"
    "  " CLI_NAME ": config.json: routes[2].backends[0]: unknown backend \"azur\"\n"
    "and exits 3. Without FILE: the config the other commands would use\n"
    "(--config, $AIGW_CONFIG, ~/.config/aigw/config.json).\n"
    "\n"
    "Options:\n"
    "  -v, --verbose          also count what each valid file declares:\n"
    "                         \"FILE: ok (2 backends, 1 route, 1 budget)\"\n"
    "  -c, --config FILE      the file to check when no FILE is given\n"
    "  -h, --help             print this and exit\n";

static const char budgets_usage[] =
    "Usage: " CLI_NAME " budgets [OPTIONS]\n"
    "\n"
    "Shows every budget of the config with its counters, read from the budget\n"
    "store (memory, or the Redis that gateways share): one line per counter\n"
    "(per team, user, ... for a budget scoped on \"*\") with its limit, what\n"
    "remains and when it is full again (token bucket) or the window resets.\n"
    "\n"
    "Options:\n"
    "      --json             print the library's JSON (aigw_budget_status)\n"
    "  -c, --config FILE      config file\n"
    "  -v, --verbose          library logs to stderr (-vv: debug)\n"
    "  -h, --help             print this and exit\n"
    "\n"
    "Exits 8 when the store (Redis) cannot be reached.\n";

static const char help_usage[] = "Usage: " CLI_NAME " help [COMMAND]\n"
                                 "\n"
                                 "Prints the usage of COMMAND, or the overview.\n";

int cli_print_usage(const char *command, FILE *out) {
    const char *text = NULL;
    if (!command) {
        text = overview;
    } else if (strcmp(command, "chat") == 0) {
        text = chat_usage;
    } else if (strcmp(command, "embed") == 0) {
        text = embed_usage;
    } else if (strcmp(command, "models") == 0) {
        text = models_usage;
    } else if (strcmp(command, "serve") == 0) {
        text = serve_usage;
    } else if (strcmp(command, "config") == 0) {
        text = config_usage;
    } else if (strcmp(command, "budgets") == 0) {
        text = budgets_usage;
    } else if (strcmp(command, "help") == 0) {
        text = help_usage;
    } else {
        return -1;
    }
    fputs(text, out);
    fflush(out);
    return 0;
}

void cli_print_version(FILE *out) {
    fprintf(out, CLI_NAME " %s (libaigw %s)\n", AIGW_VERSION_STRING, aigw_version_string());
    fflush(out);
}
