/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — the caller's identity and request headers (aigw_call_options)
 * and printing what a call did (aigw_call_info). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "NAME:VALUE" or "NAME: VALUE"; NAME is an HTTP token. */
static int add_header(cli_call *c, const char *command, const char *text) {
    const char *colon = strchr(text, ':');
    if (!colon || colon == text) {
        return cli_usage_error(command, "--header expects NAME:VALUE, not '%s'", text);
    }
    for (const char *p = text; p < colon; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!isalnum(ch) && !strchr("!#$%&'*+-.^_`|~", ch)) {
            return cli_usage_error(command, "--header: '%.*s' is not a header name",
                                   (int)(colon - text), text);
        }
    }
    if (c->n_headers >= CLI_MAX_HEADERS) {
        return cli_usage_error(command, "at most %d --header options", CLI_MAX_HEADERS);
    }
    size_t n = (size_t)(colon - text);
    char *name = malloc(n + 1);
    if (!name) {
        cli_errorf("out of memory");
        return CLI_EXIT_FAILURE;
    }
    memcpy(name, text, n);
    name[n] = '\0';
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    c->headers[c->n_headers].name = name;
    c->headers[c->n_headers].value = value;
    c->n_headers++;
    return CLI_EXIT_OK;
}

int cli_call_option(cli_call *c, const char *command, int id, const char *value, int *rc) {
    *rc = CLI_EXIT_OK;
    switch (id) {
    case CLI_OPT_KEY:
        c->key = value;
        return 1;
    case CLI_OPT_TEAM:
        c->team = value;
        return 1;
    case CLI_OPT_USER:
        c->user = value;
        return 1;
    case CLI_OPT_HEADER:
        *rc = add_header(c, command, value);
        return 1;
    case CLI_OPT_INFO:
        c->info = 1;
        return 1;
    default:
        return 0;
    }
}

void cli_call_free(cli_call *c) {
    for (size_t i = 0; i < c->n_headers; i++) {
        free((char *)c->headers[i].name);
    }
    c->n_headers = 0;
}

void cli_call_options(const cli_call *c, aigw_call_options *o, aigw_call_info *info) {
    aigw_call_options init = AIGW_CALL_OPTIONS_INIT;
    *o = init;
    o->key = c->key;
    o->team = c->team;
    o->user = c->user;
    o->headers = c->n_headers ? c->headers : NULL;
    o->n_headers = c->n_headers;
    o->info = info;
    if (info) {
        memset(info, 0, sizeof(*info));
        info->input_tokens = -1;
        info->output_tokens = -1;
    }
}

/* A fixed-size string from the library, printed safely: at most its size,
 * no spaces or control characters (one token per field). */
static void put_field(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    if (n == 0) {
        fputs("-", stderr);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch <= 0x20 || ch == 0x7f ? '_' : ch, stderr);
    }
}

void cli_print_call_info(const aigw_call_info *info, aigw_status status) {
    fputs("call: backend=", stderr);
    put_field(info->backend, sizeof(info->backend));
    fputs(" model=", stderr);
    put_field(info->model, sizeof(info->model));
    fprintf(stderr, " attempts=%u", info->attempts);
    if (info->input_tokens >= 0) {
        fprintf(stderr, " input_tokens=%lld", info->input_tokens);
    }
    if (info->output_tokens >= 0) {
        fprintf(stderr, " output_tokens=%lld", info->output_tokens);
    }
    fputc('\n', stderr);
    const aigw_ratelimit *rl = &info->ratelimit;
    if (rl->known) {
        char limit[64], remaining[64], reset[64];
        cli_format_amount(rl->limit, 0, limit, sizeof(limit));
        cli_format_amount(rl->remaining, 0, remaining, sizeof(remaining));
        cli_format_seconds(rl->reset_seconds, reset, sizeof(reset));
        fputs("budget: ", stderr);
        put_field(rl->budget, sizeof(rl->budget));
        fprintf(stderr, " limit=%s remaining=%s reset=%s", limit, remaining, reset);
        if (status == AIGW_EBUDGET) {
            char retry[64];
            cli_format_seconds(rl->retry_after_seconds, retry, sizeof(retry));
            fprintf(stderr, " retry_after=%s", retry);
        }
        fputc('\n', stderr);
    }
    fflush(stderr);
}
