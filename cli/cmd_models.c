/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli models — the model ids of one backend or of all of them. */
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const cli_opt models_opts[] = {CLI_COMMON_OPTS, {0}};

static int print_ids(const char *response) {
    json_object *obj = cli_json_parse(response, strlen(response));
    json_object *data = NULL;
    int rc = CLI_EXIT_OK;

    if (!obj || !json_object_object_get_ex(obj, "data", &data) ||
        !json_object_is_type(data, json_type_array)) {
        json_object_put(obj);
        cli_errorf("the response is not a model list (AIGW_EBADRESPONSE)");
        return CLI_EXIT_UPSTREAM;
    }
    size_t n = json_object_array_length(data);
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        json_object *id = NULL;
        if (!json_object_object_get_ex(json_object_array_get_idx(data, i), "id", &id) ||
            !json_object_is_type(id, json_type_string)) {
            continue;
        }
        if (cli_write_out(json_object_get_string(id), (size_t)json_object_get_string_len(id)) ||
            cli_write_out("\n", 1)) {
            rc = CLI_EXIT_FAILURE;
        }
    }
    json_object_put(obj);
    return rc;
}

int cli_cmd_models(int argc, char **argv) {
    cli_parser p;
    cli_common common = {0};
    const char *value = NULL;
    const char *provider = NULL;
    aigw_client *client = NULL;
    int id, rc;

    cli_parser_init(&p, argc, argv, "models");
    while ((id = cli_next_arg(&p, models_opts, &value)) != CLI_ARG_END) {
        if (id == CLI_ARG_ERROR) {
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_ARG_POSITIONAL) {
            if (provider) {
                return cli_usage_error("models", "only one PROVIDER may be given");
            }
            provider = value;
            continue;
        }
        cli_common_option(&common, id, value);
    }
    if (common.help) {
        cli_print_usage("models", stdout);
        return CLI_EXIT_OK;
    }
    if ((rc = cli_open_client(&common, &client)) != CLI_EXIT_OK) {
        return rc;
    }
    char *response = NULL;
    aigw_error *err = NULL;
    cli_catch_sigint();
    aigw_status st = aigw_models(client, provider, &response, &err);
    if (st != AIGW_OK) {
        rc = cli_report_error(st, err, CLI_PHASE_CALL);
    } else if (common.json) {
        rc = cli_print_json_line(response, strlen(response)) ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    } else {
        rc = print_ids(response);
    }
    aigw_free(response);
    aigw_client_free(client);
    return rc;
}
