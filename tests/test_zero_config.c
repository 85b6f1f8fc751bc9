/* SPDX-License-Identifier: Apache-2.0 */
/* Zero config: every provider configured from its official SDK's
 * environment variables alone, pointed at the simulator, answering
 * "provider/model" with no config file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/aigw.h"
#include "sim.h"

#define KEY "sk-SECRET-zero-config-42"

static aigw_test_sim sim;
static char root[64];

static void setup(void) {
    const char *args[] = {"--api-key",
                          KEY,
                          "--bearer-token",
                          KEY,
                          "--aws-access-key-id",
                          "AKIDZEROCONFIG",
                          "--aws-secret-access-key",
                          KEY,
                          NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    snprintf(root, sizeof root, "http://127.0.0.1:%d", sim.port);
    static const char *const cleared[] = {"OPENAI_API_KEY",
                                          "OPENAI_BASE_URL",
                                          "ANTHROPIC_API_KEY",
                                          "ANTHROPIC_BASE_URL",
                                          "AZURE_OPENAI_ENDPOINT",
                                          "AZURE_OPENAI_API_KEY",
                                          "OPENAI_API_VERSION",
                                          "GEMINI_API_KEY",
                                          "GOOGLE_API_KEY",
                                          "GOOGLE_GEMINI_BASE_URL",
                                          "GOOGLE_CLOUD_PROJECT",
                                          "GOOGLE_CLOUD_LOCATION",
                                          "GOOGLE_VERTEX_BASE_URL",
                                          "GOOGLE_OAUTH_ACCESS_TOKEN",
                                          "AWS_REGION",
                                          "AWS_DEFAULT_REGION",
                                          "AWS_ENDPOINT_URL",
                                          "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
                                          "AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY",
                                          "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < sizeof cleared / sizeof cleared[0]; i++)
        unsetenv(cleared[i]);
}

static void teardown(void) {
    aigw_test_sim_stop(&sim);
}

TestSuite(zero_config, .init = setup, .fini = teardown, .timeout = 60);

static void set_url(const char *var, const char *suffix) {
    char url[128];
    snprintf(url, sizeof url, "%s%s", root, suffix);
    setenv(var, url, 1);
}

/* A chat on a client built from the environment alone. */
static void expect_echo(const char *model) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_env(&c, &e), AIGW_OK, "%s", aigw_error_message(e));
    char req[512], *out = NULL, *text = NULL;
    snprintf(req, sizeof req,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"zero config\"}]}",
             model);
    cr_assert_eq(aigw_chat(c, req, &out, &e), AIGW_OK, "%s: %s", model, aigw_error_message(e));
    cr_assert_eq(aigw_chat_response_text(out, &text), AIGW_OK);
    cr_assert_str_eq(text, "echo: zero config", "%s", model);
    aigw_free(text);
    aigw_free(out);
    aigw_client_free(c);
}

Test(zero_config, openai_from_openai_variables) {
    set_url("OPENAI_BASE_URL", "/v1");
    setenv("OPENAI_API_KEY", KEY, 1);
    expect_echo("openai/gpt-4o-mini");
    expect_echo("gpt-4o-mini"); /* a bare name means openai */
}

Test(zero_config, anthropic_from_anthropic_variables) {
    set_url("ANTHROPIC_BASE_URL", "/anthropic"); /* the SDK's base URL has no /v1 */
    setenv("ANTHROPIC_API_KEY", KEY, 1);
    expect_echo("anthropic/claude-sonnet-4-5");
}

Test(zero_config, azure_from_azure_openai_variables) {
    set_url("AZURE_OPENAI_ENDPOINT", "");
    setenv("AZURE_OPENAI_API_KEY", KEY, 1);
    setenv("OPENAI_API_VERSION", "2024-10-21", 1);
    expect_echo("azure/my-deployment");
}

Test(zero_config, gemini_from_gemini_or_google_api_key) {
    set_url("GOOGLE_GEMINI_BASE_URL", "/gemini");
    setenv("GEMINI_API_KEY", KEY, 1);
    expect_echo("gemini/gemini-2.0-flash");
    unsetenv("GEMINI_API_KEY");
    setenv("GOOGLE_API_KEY", KEY, 1);
    expect_echo("gemini/gemini-2.0-flash");
}

Test(zero_config, vertex_and_claude_on_vertex_from_google_cloud_variables) {
    set_url("GOOGLE_VERTEX_BASE_URL", "");
    setenv("GOOGLE_CLOUD_PROJECT", "proj", 1);
    setenv("GOOGLE_CLOUD_LOCATION", "us-east5", 1);
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", KEY, 1);
    expect_echo("vertex/gemini-2.0-flash");
    expect_echo("vertex-anthropic/claude-sonnet-4-5@20250929");
}

Test(zero_config, bedrock_from_aws_variables) {
    set_url("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDZEROCONFIG", 1);
    setenv("AWS_SECRET_ACCESS_KEY", KEY, 1);
    expect_echo("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0");
    /* The generic endpoint and region variables work too. */
    unsetenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME");
    unsetenv("AWS_REGION");
    set_url("AWS_ENDPOINT_URL", "");
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    expect_echo("bedrock/amazon.nova-lite-v1:0");
}

Test(zero_config, a_missing_variable_is_named_in_the_error) {
    aigw_client *c = NULL;
    cr_assert_eq(aigw_client_new_from_env(&c, NULL), AIGW_OK);
    static const struct {
        const char *model, *needle;
    } cases[] = {
        {"anthropic/claude", "ANTHROPIC_API_KEY"},
        {"gemini/gemini-2.0-flash", "GEMINI_API_KEY"},
        {"vertex/gemini-2.0-flash", "GOOGLE_CLOUD_PROJECT"},
        {"bedrock/amazon.nova-lite-v1:0", "AWS_REGION"},
        {"azure/x", "unknown provider \"azure\""}, /* azure needs AZURE_OPENAI_ENDPOINT to exist */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256], *out = NULL;
        aigw_error *e = NULL;
        snprintf(req, sizeof req,
                 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                 cases[i].model);
        cr_assert_neq(aigw_chat(c, req, &out, &e), AIGW_OK, "%s", cases[i].model);
        cr_assert(strstr(aigw_error_message(e), cases[i].needle), "%s: %s", cases[i].model,
                  aigw_error_message(e));
        aigw_error_free(e);
    }
    aigw_client_free(c);
}
