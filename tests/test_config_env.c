/* SPDX-License-Identifier: Apache-2.0 */
/* "${NAME}" in a config document's string values. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "aigw/aigw.h"
#include "core/client_internal.h"

static aigw_status load(const char *text, aigw_client **c, aigw_error **err) {
    *c = NULL;
    return aigw_client_new_from_string(c, text, err);
}

Test(config_env, strings_anywhere_are_expanded) {
    setenv("AIGW_T_HOST", "http://127.0.0.1:9/v1", 1);
    setenv("AIGW_T_DEPLOY", "gpt4o-prod", 1);
    aigw_client *c;
    aigw_error *err = NULL;
    cr_assert_eq(load("{\"env_defaults\": false,"
                      " \"backends\": {\"a\": {\"schema\": \"openai\", \"base_url\": "
                      "\"${AIGW_T_HOST}\", \"api_key\": \"x$${y}\"}},"
                      " \"routes\": [{\"match\": {\"model\": \"m\"}, \"backends\": [{\"backend\": "
                      "\"a\", \"model\": \"${AIGW_T_DEPLOY}-${AIGW_T_DEPLOY}\"}]}]}",
                      &c, &err),
                 AIGW_OK, "%s", aigw_error_message(err));
    cr_assert_str_eq(c->backends[0].base_url, "http://127.0.0.1:9/v1");
    cr_assert_str_eq(c->routes.routes[0].backends[0].model, "gpt4o-prod-gpt4o-prod");
    aigw_client_free(c);
}

Test(config_env, an_unset_variable_names_it_and_the_path) {
    unsetenv("AIGW_T_UNSET");
    aigw_client *c;
    aigw_error *err = NULL;
    cr_assert_eq(
        load("{\"env_defaults\": false, \"backends\": {\"a\": {\"schema\": \"openai\","
             " \"base_url\": \"http://h/v1\", \"headers\": {\"x\": \"${AIGW_T_UNSET}\"}}}}",
             &c, &err),
        AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(err), "backends.a.headers.x") != NULL, "%s",
              aigw_error_message(err));
    cr_assert(strstr(aigw_error_message(err), "AIGW_T_UNSET") != NULL, "%s",
              aigw_error_message(err));
    aigw_error_free(err);
}

Test(config_env, a_literal_dollar_brace_is_not_expanded_twice) {
    setenv("AIGW_T_TRICKY", "$${NOT_A_VAR}", 1);
    aigw_client *c;
    aigw_error *err = NULL;
    cr_assert_eq(
        load("{\"env_defaults\": false,"
             " \"backends\": {\"a\": {\"schema\": \"openai\", \"base_url\": \"http://h/v1\"}},"
             " \"routes\": [{\"backends\": [{\"backend\": \"a\", \"model\": "
             "\"${AIGW_T_TRICKY}\"}]}]}",
             &c, &err),
        AIGW_OK, "%s", aigw_error_message(err));
    cr_assert_str_eq(c->routes.routes[0].backends[0].model, "$${NOT_A_VAR}");
    aigw_client_free(c);
}
