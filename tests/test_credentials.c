/* SPDX-License-Identifier: Apache-2.0 */
/* Credentials: API keys from the config, the environment and rotating
 * files; named credentials shared by backends; the application's callback;
 * config errors. Against the simulator, which checks every key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "sim.h"

#define KEY "sk-SECRET-credentials-1"
#define NEW_KEY "sk-SECRET-credentials-2"

static aigw_test_sim sim;
static char dir[64];

static void setup(void) {
    const char *args[] = {"--api-key", KEY, NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    strcpy(dir, "/tmp/aigw-cred-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    aigw_test_sim_stop(&sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(credentials, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *path, const char *text, mode_t mode) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(tmp, mode);
    cr_assert_eq(rename(tmp, path), 0); /* atomic, as a secret manager writes */
}

static char logged[16384];
static void capture_log(aigw_log_level level, const char *message, void *user) {
    (void)level;
    (void)user;
    strncat(logged, message, sizeof logged - strlen(logged) - 2);
    strcat(logged, "\n");
}

static aigw_client *client_with(const char *config, aigw_credential_cb cb, void *user,
                                aigw_status want, aigw_error **err) {
    aigw_client_options o = AIGW_CLIENT_OPTIONS_INIT;
    o.config_json = config;
    o.log_cb = capture_log;
    o.log_level = AIGW_LOG_DEBUG;
    o.credential_cb = cb;
    o.credential_user = user;
    aigw_client *c = NULL;
    aigw_status st = aigw_client_new(&c, &o, err);
    cr_assert_eq(st, want, "%s: %s", aigw_status_name(st),
                 err && *err ? aigw_error_message(*err) : "");
    return c;
}

static aigw_status chat(aigw_client *c, const char *model, aigw_error **err) {
    char req[256], *out = NULL;
    snprintf(req, sizeof req,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", model);
    aigw_status st = aigw_chat(c, req, &out, err);
    aigw_free(out);
    return st;
}

Test(credentials, a_key_file_rotates_without_a_restart) {
    char path[128], config[512];
    snprintf(path, sizeof path, "%s/key", dir);
    write_file(path, "sk-SECRET-old-key\n", 0600);
    snprintf(config, sizeof config,
             "{\"backends\":{\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\","
             "\"api_key_file\":\"%s\"}}}",
             sim.base_url, path);
    aigw_error *e = NULL;
    aigw_client *c = client_with(config, NULL, NULL, AIGW_OK, &e);
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_EAUTH);
    aigw_error_free(e);
    e = NULL;
    write_file(path, KEY "\n", 0600); /* the rotation */
    usleep(1100 * 1000);              /* the file is looked at once a second */
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_OK, "%s", aigw_error_message(e));
    /* A broken rotation (empty file) is a clear error naming the file. */
    write_file(path, "", 0600);
    usleep(1100 * 1000);
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), path) && strstr(aigw_error_message(e), "empty"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    aigw_client_free(c);
    cr_assert_null(strstr(logged, "SECRET"));
}

Test(credentials, a_key_file_others_can_read_gets_a_warning) {
    char path[128], config[512];
    snprintf(path, sizeof path, "%s/open-key", dir);
    write_file(path, KEY, 0644);
    snprintf(config, sizeof config,
             "{\"credentials\":{\"k\":{\"type\":\"api_key\",\"file\":\"%s\"}},\"backends\":{"
             "\"sim\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"credential\":\"k\"}}}",
             path, sim.base_url);
    logged[0] = '\0';
    aigw_client *c = client_with(config, NULL, NULL, AIGW_OK, NULL);
    cr_assert(strstr(logged, "can be read by group or others") && strstr(logged, path), "%s",
              logged);
    cr_assert_null(strstr(logged, "SECRET"));
    cr_assert_eq(chat(c, "sim/gpt-4o", NULL), AIGW_OK);
    aigw_client_free(c);
}

Test(credentials, one_named_credential_serves_several_backends) {
    char config[1024];
    setenv("AIGW_TEST_KEY", KEY, 1);
    snprintf(config, sizeof config,
             "{\"credentials\":{\"shared\":{\"type\":\"api_key\",\"env\":\"AIGW_TEST_KEY\"}},"
             "\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"credential\":"
             "\"shared\"},\"b\":{\"schema\":\"openai\",\"base_url\":\"%s\",\"credential\":"
             "\"shared\"}}}",
             sim.base_url, sim.base_url);
    aigw_client *c = client_with(config, NULL, NULL, AIGW_OK, NULL);
    cr_assert_eq(chat(c, "a/gpt-4o", NULL), AIGW_OK);
    cr_assert_eq(chat(c, "b/gpt-4o", NULL), AIGW_OK);
    aigw_client_free(c);
}

Test(credentials, an_explicit_header_overrides_the_schema) {
    char config[1024];
    /* The simulator's OpenAI mode wants Bearer: x-api-key must fail. */
    snprintf(config, sizeof config,
             "{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"%s\",\"header\":"
             "\"x-api-key\"}},\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"%s\","
             "\"credential\":\"k\"}}}",
             KEY, sim.base_url);
    aigw_client *c = client_with(config, NULL, NULL, AIGW_OK, NULL);
    aigw_error *e = NULL;
    cr_assert_eq(chat(c, "a/gpt-4o", &e), AIGW_EAUTH);
    aigw_error_free(e);
    aigw_client_free(c);
}

typedef struct cb_state {
    int calls;
    int refuse;
    char last_url[256];
    char last_name[64];
} cb_state;

/* Tries a header with a line break: aigw_headers_add refuses it, and even
 * if the callback then returns 0 the request is not sent half-signed. */
static int injecting_auth(const char *name, const char *method, const char *url, aigw_headers *h,
                          void *user) {
    (void)name, (void)method, (void)url;
    ((cb_state *)user)->calls++;
    cr_assert_eq(aigw_headers_add(h, "bad name", "x"), AIGW_EINVAL);
    cr_assert_eq(aigw_headers_add(h, "X-Evil", "a\r\nInjected: yes"), AIGW_EINVAL);
    return 0;
}

Test(credentials, a_callback_header_with_a_line_break_fails_the_call) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"credentials\":{\"app\":{\"type\":\"callback\"}},\"backends\":{\"sim\":{\"schema\":"
             "\"openai\",\"base_url\":\"%s\",\"credential\":\"app\"}}}",
             sim.base_url);
    cb_state s = {0};
    aigw_client *c = client_with(config, injecting_auth, &s, AIGW_OK, NULL);
    aigw_error *e = NULL;
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_EAUTH, "%s", aigw_error_message(e));
    cr_assert(strstr(aigw_error_message(e), "invalid header"), "%s", aigw_error_message(e));
    cr_assert_eq(s.calls, 1);
    aigw_error_free(e);
    aigw_client_free(c);
}

static int good_auth(const char *name, const char *method, const char *url, aigw_headers *h,
                     void *user) {
    (void)method;
    cb_state *s = user;
    s->calls++;
    snprintf(s->last_url, sizeof s->last_url, "%s", url);
    snprintf(s->last_name, sizeof s->last_name, "%s", name);
    if (s->refuse)
        return 7;
    return aigw_headers_add(h, "Authorization", "Bearer " KEY);
}

Test(credentials, the_callback_is_called_per_request_and_may_refuse) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"credentials\":{\"app\":{\"type\":\"callback\"}},\"backends\":{\"sim\":{\"schema\":"
             "\"openai\",\"base_url\":\"%s\",\"credential\":\"app\"}}}",
             sim.base_url);
    cb_state s = {0};
    aigw_client *c = client_with(config, good_auth, &s, AIGW_OK, NULL);
    aigw_error *e = NULL;
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_OK);
    cr_assert_eq(s.calls, 2);
    cr_assert_str_eq(s.last_name, "app");
    cr_assert(strstr(s.last_url, "/v1/chat/completions"), "%s", s.last_url);
    s.refuse = 1;
    cr_assert_eq(chat(c, "sim/gpt-4o", &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "refused"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw_client_free(c);
}

Test(credentials, config_errors_name_the_path) {
    static const struct {
        const char *config, *needle;
    } cases[] = {
        {"{\"credentials\":[]}", "credentials: must be an object"},
        {"{\"credentials\":{\"k\":{}}}", "credentials.k.type: required"},
        {"{\"credentials\":{\"k\":{\"type\":\"kerberos\"}}}", "unknown type \"kerberos\""},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\"}}}", "exactly one of"},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"a\",\"env\":\"B\"}}}",
         "exactly one of"},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"a\",\"hdr\":\"x\"}}}",
         "credentials.k: unknown key \"hdr\""},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"a\",\"header\":\"cookie\"}}}",
         "credentials.k.header"},
        {"{\"credentials\":{\"k\":{\"type\":\"callback\"}}}", "needs aigw_client_options"},
        {"{\"backends\":{\"a\":{\"schema\":\"openai\",\"base_url\":\"http://x\",\"credential\":"
         "\"nope\"}}}",
         "backends.a.credential: unknown credential \"nope\""},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"a\"}},\"backends\":{\"a\":{"
         "\"schema\":\"openai\",\"base_url\":\"http://"
         "x\",\"credential\":\"k\",\"api_key\":\"b\"}}}",
         "give one of"},
        {"{\"credentials\":{\"k\":{\"type\":\"api_key\",\"value\":\"a\"}},\"backends\":{\"a\":{"
         "\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\",\"credential\":\"k\"}}}",
         "cannot sign for schema aws-bedrock"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw_error *e = NULL;
        aigw_client *c = client_with(cases[i].config, NULL, NULL, AIGW_ECONFIG, &e);
        cr_assert_null(c);
        cr_assert(strstr(aigw_error_message(e), cases[i].needle), "case %zu: %s", i,
                  aigw_error_message(e));
        aigw_error_free(e);
    }
}
