/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets stay secret: every credential type, every failure path we can
 * provoke, with recognisable secrets — and then every byte the library and
 * the CLI produced (error messages, OpenAI-shaped error JSON, provider
 * bodies, debug logs, CLI stdout and stderr with -vv and --json) is
 * searched for them. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "sim.h"

/* Every secret carries this mark; the simulator's issued tokens start
 * "sim-" and are secrets too. */
#define MARK "ZZSECRETZZ"
#define API_KEY "sk-" MARK "-api"
#define AWS_SECRET MARK "/aws/secret/key"
#define ENTRA_SECRET MARK "-entra-secret"
#define OIDC_SECRET MARK "-oidc-secret"

static aigw_test_sim sim;
static char root[64], dir[64];
static char seen[1 << 18]; /* everything produced, concatenated */

static void remember(const char *s) {
    if (s)
        strncat(seen, s, sizeof seen - strlen(seen) - 2), strcat(seen, "\n");
}

static void on_log(aigw_log_level level, const char *message, void *user) {
    (void)level, (void)user;
    remember(message);
}

static int on_chunk(const char *json, size_t len, void *user) {
    (void)len, (void)user;
    remember(json);
    return 0;
}

static void setup(void) {
    const char *args[] = {"--api-key",
                          API_KEY,
                          "--aws-access-key-id",
                          "AKIDSECRETSTEST",
                          "--aws-secret-access-key",
                          AWS_SECRET,
                          "--entra-client-id",
                          "client-1",
                          "--entra-client-secret",
                          ENTRA_SECRET,
                          "--oidc-client-id",
                          "client-2",
                          "--oidc-client-secret",
                          OIDC_SECRET,
                          NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    snprintf(root, sizeof root, "http://127.0.0.1:%d", sim.port);
    strcpy(dir, "/tmp/aigw-secrets-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    seen[0] = '\0';
}

static void teardown(void) {
    aigw_test_sim_stop(&sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 120);

/* The config: one backend per credential type, right and wrong. */
static void write_config(char *path, size_t n) {
    char keyfile[128], config[8192];
    snprintf(keyfile, sizeof keyfile, "%s/key", dir);
    FILE *f = fopen(keyfile, "w");
    fputs(API_KEY "\n", f);
    fclose(f);
    chmod(keyfile, 0644); /* also provokes the permission warning */
    snprintf(
        config, sizeof config,
        "{\"credentials\":{"
        "\"good-key\":{\"type\":\"api_key\",\"file\":\"%s\"},"
        "\"bad-key\":{\"type\":\"api_key\",\"value\":\"sk-" MARK "-wrong\"},"
        "\"entra\":{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"client-1\","
        "\"client_secret_env\":\"AIGW_T_ENTRA\",\"authority_host\":\"%s/entra\"},"
        "\"entra-bad\":{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"client-1\","
        "\"client_secret_env\":\"AIGW_T_ENTRA_BAD\",\"authority_host\":\"%s/entra\"},"
        "\"entra-down\":{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"client-1\","
        "\"client_secret_env\":\"AIGW_T_ENTRA\",\"authority_host\":\"http://127.0.0.1:1/entra\"},"
        "\"oidc\":{\"type\":\"oidc\",\"token_url\":\"%s/oidc/token\",\"client_id\":\"client-2\","
        "\"client_secret_env\":\"AIGW_T_OIDC\"},"
        "\"oidc-bad\":{\"type\":\"oidc\",\"token_url\":\"%s/oidc/token\",\"client_id\":"
        "\"client-2\",\"client_secret_env\":\"AIGW_T_OIDC_BAD\"},"
        "\"aws\":{\"type\":\"aws\",\"access_key_id_env\":\"AIGW_T_AKID\","
        "\"secret_access_key_env\":\"AIGW_T_AWS\"},"
        "\"aws-bad\":{\"type\":\"aws\",\"access_key_id_env\":\"AIGW_T_AKID\","
        "\"secret_access_key_env\":\"AIGW_T_AWS_BAD\"}},"
        "\"backends\":{"
        "\"key\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"credential\":\"good-key\"},"
        "\"badkey\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"credential\":\"bad-key\"},"
        "\"az\":{\"schema\":\"azure-openai\",\"base_url\":\"%s\",\"credential\":\"entra\"},"
        "\"azbad\":{\"schema\":\"azure-openai\",\"base_url\":\"%s\",\"credential\":\"entra-bad\"},"
        "\"azdown\":{\"schema\":\"azure-openai\",\"base_url\":\"%s\",\"credential\":"
        "\"entra-down\"},"
        "\"oi\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"credential\":\"oidc\"},"
        "\"oibad\":{\"schema\":\"openai\",\"base_url\":\"%s/v1\",\"credential\":\"oidc-bad\"},"
        "\"br\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\",\"base_url\":\"%s\","
        "\"credential\":\"aws\"},"
        "\"brbad\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\",\"base_url\":\"%s\","
        "\"credential\":\"aws-bad\"}}}",
        keyfile, root, root, root, root, root, root, root, root, root, root, root, root, root);
    snprintf(path, n, "%s/config.json", dir);
    f = fopen(path, "w");
    fputs(config, f);
    fclose(f);
    setenv("AIGW_T_ENTRA", ENTRA_SECRET, 1);
    setenv("AIGW_T_ENTRA_BAD", MARK "-entra-wrong", 1);
    setenv("AIGW_T_OIDC", OIDC_SECRET, 1);
    setenv("AIGW_T_OIDC_BAD", MARK "-oidc-wrong", 1);
    setenv("AIGW_T_AKID", "AKIDSECRETSTEST", 1);
    setenv("AIGW_T_AWS", AWS_SECRET, 1);
    setenv("AIGW_T_AWS_BAD", MARK "/aws/wrong", 1);
}

static const char *const models[] = {"key/gpt-4o",
                                     "badkey/gpt-4o",
                                     "az/dep",
                                     "azbad/dep",
                                     "azdown/dep",
                                     "oi/gpt-4o",
                                     "oibad/gpt-4o",
                                     "br/amazon.nova-lite-v1:0",
                                     "brbad/amazon.nova-lite-v1:0"};
/* Upstream faults on top of working credentials: the credential was used,
 * the failure is the provider's. */
static const char *const faults[] = {NULL, "status=500", "status=401", "malformed=1", "close=1"};

static void check_seen(void) {
    cr_assert_null(strstr(seen, MARK), "a secret leaked:\n%s", seen);
    cr_assert_null(strstr(seen, "sim-entra-"), "an Entra token leaked:\n%s", seen);
    cr_assert_null(strstr(seen, "sim-oidc-"), "an OIDC token leaked:\n%s", seen);
    cr_assert_null(strstr(seen, "Signature="), "a SigV4 signature leaked:\n%s", seen);
}

Test(secrets, no_secret_in_any_error_body_or_log) {
    char config_path[128];
    write_config(config_path, sizeof config_path);
    aigw_client_options o = AIGW_CLIENT_OPTIONS_INIT;
    o.config_path = config_path;
    o.log_cb = on_log;
    o.log_level = AIGW_LOG_DEBUG;
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new(&c, &o, &e), AIGW_OK, "%s", aigw_error_message(e));
    int failures = 0, successes = 0;
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
            for (int stream = 0; stream < 2; stream++) {
                char req[512];
                snprintf(req, sizeof req,
                         "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
                         "%s%s%s}",
                         models[m], faults[f] ? ",\"sim_fault\":\"" : "",
                         faults[f] ? faults[f] : "", faults[f] ? "\"" : "");
                char *out = NULL;
                e = NULL;
                aigw_status st = stream ? aigw_chat_stream(c, req, on_chunk, NULL, &e)
                                        : aigw_chat(c, req, &out, &e);
                remember(out);
                if (st) {
                    failures++;
                    remember(aigw_error_message(e));
                    remember(aigw_error_json(e));
                    remember(aigw_error_body(e));
                } else {
                    successes++;
                }
                aigw_error_free(e);
                aigw_free(out);
            }
        }
    }
    aigw_client_free(c);
    cr_assert_gt(successes, 3, "the working credentials must work");
    cr_assert_gt(failures, 20);
    check_seen();
}

/* The CLI with -vv and --json on the failing backends. */
Test(secrets, no_secret_in_cli_output) {
    char config_path[128];
    write_config(config_path, sizeof config_path);
    static const char *const cli_models[] = {"badkey/gpt-4o", "azbad/dep",        "azdown/dep",
                                             "oibad/gpt-4o",  "brbad/amazon.x:0", "key/gpt-4o",
                                             "az/dep",        "oi/gpt-4o"};
    for (size_t i = 0; i < sizeof cli_models / sizeof cli_models[0]; i++) {
        for (int json = 0; json < 2; json++) {
            char out_path[160];
            snprintf(out_path, sizeof out_path, "%s/out", dir);
            pid_t pid = fork();
            cr_assert_geq(pid, 0);
            if (pid == 0) {
                int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                dup2(fd, 1);
                dup2(fd, 2);
                /* chat reads a piped stdin (appended to the prompt): none */
                int null_fd = open("/dev/null", O_RDONLY);
                dup2(null_fd, 0);
                execl(AIGW_CLI_PATH, "aigw-cli", "-vv", "chat", "--config", config_path,
                      json ? "--json" : "--no-stream", "-m", cli_models[i], "hello", (char *)NULL);
                _exit(127);
            }
            int status;
            waitpid(pid, &status, 0);
            FILE *f = fopen(out_path, "r");
            char buf[65536];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            remember(buf);
        }
    }
    cr_assert(strstr(seen, "aigw-cli:"), "the failures were reported:\n%s", seen);
    cr_assert(strstr(seen, "can be read by group or others"), "%s", seen);
    check_seen();
}
