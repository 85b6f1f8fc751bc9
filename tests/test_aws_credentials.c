/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS credential chain (lib/credentials/aws.c): each source alone
 * (environment, web identity against the simulator's STS, the shared
 * files, the container endpoint), their order, refresh on expiry, errors
 * (never holding a secret), the config's "aws" credential type, and a
 * Bedrock chat signed with temporary credentials the simulator checks. */
#include <criterion/criterion.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "credentials/aws_files.h"
#include "credentials/credential.h"
#include "credentials/refresher.h"
#include "sim.h"

#define ENV_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYENVSECRET"
#define FILE_SECRET "FILEsecretKEY0123456789abcdefghijklmnop"
#define WEB_TOKEN "eyJhbGciOiJSUzI1NiJ9.WEBIDENTITYTOKENVALUE.sig"

static char dir[64];
static aigw_test_sim sim;
static int sim_running;

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE",
                                       "AWS_ROLE_ARN",
                                       "AWS_ROLE_SESSION_NAME",
                                       "AWS_ENDPOINT_URL_STS",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_CONFIG_FILE",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       NULL};

static void setup(void) {
    for (size_t i = 0; aws_vars[i]; i++)
        unsetenv(aws_vars[i]);
    snprintf(dir, sizeof dir, "/tmp/aigw-aws-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    setenv("HOME", dir, 1); /* no ~/.aws of the machine */
    sim_running = 0;
}

static void teardown(void) {
    if (sim_running)
        aigw_test_sim_stop(&sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(aws_credentials, .init = setup, .fini = teardown, .timeout = 60);

static void start_sim(const char *const *args) {
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    sim_running = 1;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sts/", sim.port);
    setenv("AWS_ENDPOINT_URL_STS", url, 1);
}

static char *path_in(const char *name) {
    static char buf[4][160];
    static int n;
    char *p = buf[n++ % 4];
    snprintf(p, 160, "%s/%s", dir, name);
    return p;
}

static const char *write_file(const char *name, const char *text, mode_t mode) {
    const char *p = path_in(name);
    if (strchr(name, '/')) {
        char d[160];
        snprintf(d, sizeof d, "%s", p);
        *strrchr(d, '/') = '\0';
        mkdir(d, 0700);
    }
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

/* A secret that must never be in an error. */
static void assert_no_secret(const aigw_error *e) {
    const char *m = aigw_error_message(e);
    cr_assert_null(strstr(m, ENV_SECRET), "%s", m);
    cr_assert_null(strstr(m, FILE_SECRET), "%s", m);
    cr_assert_null(strstr(m, WEB_TOKEN), "%s", m);
    cr_assert_null(strstr(m, "sekrit-container-token"), "%s", m);
    cr_assert_null(strstr(m, "FwoGZXIvYXdzE"), "%s", m); /* the simulator's session tokens */
}

static aigw__credential load_default(void) {
    aigw__credential c;
    aigw_error *e = NULL;
    aigw_status st = aigw__aws_credential_default(&c, NULL, &e);
    cr_assert_eq(st, AIGW_OK, "%s", e ? aigw_error_message(e) : "");
    return c;
}

static aigw_status load_conf(aigw__credential *c, const char *json, const aigw__cred_context *ctx,
                             aigw_error **e) {
    json_object *conf = json_tokener_parse(json);
    cr_assert_not_null(conf);
    aigw_status st = aigw__aws_credential_load(c, "aws", conf, "credentials.aws", ctx, e);
    json_object_put(conf);
    return st;
}

static aigw__cred_value get(aigw__credential *c) {
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(c->kind, AIGW__CRED_AWS_SIGV4);
    aigw_status st = aigw__refresher_get(c->refresher, &v, &e);
    cr_assert_eq(st, AIGW_OK, "%s", e ? aigw_error_message(e) : "");
    return v;
}

/* The failure of a get, with its error checked for secrets. */
static aigw_error *get_fails(aigw__credential *c, aigw_status want) {
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(c->kind, AIGW__CRED_AWS_SIGV4);
    aigw_status st = aigw__refresher_get(c->refresher, &v, &e);
    cr_assert_eq(st, want, "got %d: %s", st, e ? aigw_error_message(e) : "");
    cr_assert_not_null(e);
    assert_no_secret(e);
    return e;
}

static void web_identity_env(const char *token) {
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", write_file("token", token, 0600), 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
}

/* ---- 1. environment ---- */

Test(aws_credentials, environment) {
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "envsession", 1);
    aigw__credential c = load_default();
    cr_assert_str_eq(c.source, "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_ACCESS_KEY_ID"); /* read once, at load */
    aigw__cred_value v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDENV");
    cr_assert_str_eq(v.aws_secret_access_key, ENV_SECRET);
    cr_assert_str_eq(v.aws_session_token, "envsession");
    cr_assert_eq(v.expires_at, 0);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, nothing_gives_none) {
    aigw__credential c = load_default();
    cr_assert_eq(c.kind, AIGW__CRED_NONE);
    aigw__credential_clear(&c);
}

Test(aws_credentials, partial_environment) {
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    aigw__credential c;
    aigw_error *e = NULL;
    cr_assert_eq(aigw__aws_credential_default(&c, NULL, &e), AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "AWS_SECRET_ACCESS_KEY"));
    aigw_error_free(e);
}

/* ---- 2. web identity ---- */

Test(aws_credentials, web_identity) {
    start_sim(NULL);
    web_identity_env(WEB_TOKEN "\n");
    aigw__credential c = load_default();
    cr_assert(strstr(c.source, "web identity token file"), "%s", c.source);
    cr_assert(strstr(c.source, "for role arn:aws:iam::123456789012:role/web"), "%s", c.source);
    aigw__cred_value v = get(&c);
    cr_assert_eq(strncmp(v.aws_access_key_id, "ASIA", 4), 0);
    cr_assert_eq(strlen(v.aws_secret_access_key), 40);
    cr_assert_eq(strncmp(v.aws_session_token, "FwoGZXIvYXdzE", 13), 0);
    cr_assert(v.expires_at > time(NULL) + 3500 && v.expires_at <= time(NULL) + 3601);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, web_identity_sts_error) {
    start_sim(NULL);
    web_identity_env("invalid-" WEB_TOKEN);
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EAUTH);
    const char *m = aigw_error_message(e);
    cr_assert(strstr(m, "InvalidIdentityToken"), "%s", m);
    cr_assert(strstr(m, "Couldn't retrieve verification key"), "%s", m);
    cr_assert(strstr(m, "AssumeRoleWithWebIdentity"), "%s", m);
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

Test(aws_credentials, web_identity_empty_and_missing_token_file) {
    start_sim(NULL);
    web_identity_env("  \n");
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "is empty"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path_in("nope"), 1);
    c = load_default();
    e = get_fails(&c, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "cannot read web identity token file"));
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

static time_t fake_now;
static time_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

Test(aws_credentials, expiry_refreshes) {
    start_sim(NULL);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    fake_now = time(NULL);
    aigw__refresher_set_clock(c.refresher, fake_clock, NULL);
    aigw__cred_value v1 = get(&c), v2 = get(&c);
    cr_assert_str_eq(v1.aws_access_key_id, v2.aws_access_key_id); /* cached */
    fake_now += 3400; /* within the refresh-ahead window */
    aigw__cred_value v3 = get(&c);
    cr_assert_str_neq(v1.aws_access_key_id, v3.aws_access_key_id);
    cr_assert_str_neq(v1.aws_session_token, v3.aws_session_token);
    aigw__cred_value_clear(&v1);
    aigw__cred_value_clear(&v2);
    aigw__cred_value_clear(&v3);
    aigw__credential_clear(&c);
}

Test(aws_credentials, web_identity_token_reread_on_refresh) {
    start_sim(NULL);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    fake_now = time(NULL);
    aigw__refresher_set_clock(c.refresher, fake_clock, NULL);
    aigw__cred_value v = get(&c);
    aigw__cred_value_clear(&v);
    write_file("token", "invalid-now", 0600);
    fake_now += 7200; /* expired: the refresh reads the file again */
    aigw_error *e = get_fails(&c, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "InvalidIdentityToken"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

Test(aws_credentials, short_lifetime_refreshes) {
    /* 100 s: refreshed at half its lifetime */
    const char *args[] = {"--aws-credential-lifetime", "100", NULL};
    start_sim(args);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    fake_now = time(NULL);
    aigw__refresher_set_clock(c.refresher, fake_clock, NULL);
    aigw__cred_value v1 = get(&c);
    cr_assert(v1.expires_at <= time(NULL) + 101);
    fake_now += 60;
    aigw__cred_value v2 = get(&c);
    cr_assert_str_neq(v1.aws_access_key_id, v2.aws_access_key_id);
    aigw__cred_value_clear(&v1);
    aigw__cred_value_clear(&v2);
    aigw__credential_clear(&c);
}

Test(aws_credentials, sts_faults) {
    const char *args[] = {"--fault-token-endpoints", "status=500,count=1", NULL};
    start_sim(args);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EUPSTREAM);
    cr_assert(strstr(aigw_error_message(e), "InternalFailure"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);
    c = load_default(); /* a new refresher: no backoff; the fault was used up */
    aigw__cred_value v = get(&c);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, sts_malformed_answer) {
    const char *args[] = {"--fault-token-endpoints", "malformed=1", NULL};
    start_sim(args);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "not an AssumeRoleWithWebIdentityResponse"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

Test(aws_credentials, sts_unreachable) {
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/sts/", 1);
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_ECONNECT);
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

/* ---- 3. shared files ---- */

static const char credentials_file[] = "# a comment\n"
                                       "; another comment\n"
                                       "[default]\n"
                                       "aws_access_key_id = AKIDDEFAULT\n"
                                       "aws_secret_access_key = " FILE_SECRET "\n"
                                       "\n"
                                       "  [  dev  ]   ; dev account\n"
                                       "\tAWS_ACCESS_KEY_ID=AKIDDEV   # inline comment\r\n"
                                       " aws_secret_access_key   =   " FILE_SECRET "\r\n"
                                       "aws_session_token = dev#token;kept\n"
                                       "s3 =\n"
                                       "    max_concurrent_requests = 20\n"
                                       "[other]\n"
                                       "aws_access_key_id = AKIDOTHER\n"
                                       "aws_secret_access_key = x\n";

Test(aws_credentials, credentials_file) {
    const char *p = write_file(".aws/credentials", credentials_file, 0600);
    aigw__credential c = load_default();
    char want[256];
    snprintf(want, sizeof want, "profile default in %s", p);
    cr_assert_str_eq(c.source, want);
    aigw__cred_value v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDDEFAULT");
    cr_assert_str_eq(v.aws_secret_access_key, FILE_SECRET);
    cr_assert_null(v.aws_session_token);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    setenv("AWS_PROFILE", "dev", 1);
    c = load_default();
    v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDDEV");
    cr_assert_str_eq(v.aws_secret_access_key, FILE_SECRET);
    cr_assert_str_eq(v.aws_session_token, "dev#token;kept");
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, files_from_env_paths_and_config) {
    const char *cfg = write_file("cfg",
                                 "[default]\nregion = us-west-2\n"
                                 "[dev]\naws_access_key_id = NOT_A_CONFIG_PROFILE\n"
                                 "[profile dev]\naws_access_key_id = AKIDCFG\n"
                                 "aws_secret_access_key = " FILE_SECRET "\n"
                                 "[profile both]\naws_access_key_id = AKIDCFGBOTH\n"
                                 "aws_secret_access_key = cfgsecret\n",
                                 0600);
    const char *crd = write_file("crd",
                                 "[profile dev]\naws_access_key_id = NOT_IN_CREDENTIALS\n"
                                 "[both]\naws_access_key_id = AKIDCRDBOTH\n"
                                 "aws_secret_access_key = crdsecret\n",
                                 0600);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", crd, 1);
    aigw__credential c = load_default(); /* [default] has only a region */
    cr_assert_eq(c.kind, AIGW__CRED_NONE);
    aigw__credential_clear(&c);

    setenv("AWS_PROFILE", "dev", 1);
    c = load_default();
    aigw__cred_value v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDCFG");
    char want[256];
    snprintf(want, sizeof want, "profile dev in %s", cfg);
    cr_assert_str_eq(c.source, want);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    setenv("AWS_PROFILE", "both", 1); /* the credentials file wins */
    c = load_default();
    v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDCRDBOTH");
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    setenv("AWS_PROFILE", "ghost", 1);
    aigw_error *e = NULL;
    cr_assert_eq(aigw__aws_credential_default(&c, NULL, &e), AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "profile ghost"), "%s", aigw_error_message(e));
    aigw_error_free(e);
}

Test(aws_credentials, config_profile_web_identity) {
    start_sim(NULL);
    const char *tok = write_file("tok", WEB_TOKEN, 0600);
    char text[512];
    snprintf(text, sizeof text,
             "[profile web]\nrole_arn = arn:aws:iam::1:role/x\nweb_identity_token_file = %s\n"
             "role_session_name = sess-1\n",
             tok);
    write_file(".aws/config", text, 0600);
    setenv("AWS_PROFILE", "web", 1);
    aigw__credential c = load_default();
    cr_assert(strstr(c.source, "profile web in"), "%s", c.source);
    aigw__cred_value v = get(&c);
    cr_assert_eq(strncmp(v.aws_access_key_id, "ASIA", 4), 0);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, bad_files) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[default\naws_access_key_id = A\n", "without ']'"},
        {"aws_access_key_id = A\n[default]\n", "outside any [section]"},
        {"[default]\naws_access_key_id " FILE_SECRET "\n", "expected 'name = value'"},
        {"[default]\n= " FILE_SECRET "\n", "without a name"},
        {"[default] junk\n", "after a section header"},
        {"[default]\naws_access_key_id = AKID\n", "no aws_secret_access_key"},
        {"[default]\naws_secret_access_key = " FILE_SECRET "\n", "no aws_access_key_id"},
        {"[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = a\n", "not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(".aws/credentials", cases[i].text, 0600);
        aigw__credential c;
        aigw_error *e = NULL;
        aigw_status st = aigw__aws_credential_default(&c, NULL, &e);
        cr_assert_neq(st, AIGW_OK, "case %zu", i);
        cr_assert_not_null(e);
        cr_assert(strstr(aigw_error_message(e), cases[i].want), "case %zu: %s", i,
                  aigw_error_message(e));
        assert_no_secret(e);
        cr_assert_eq(c.kind, AIGW__CRED_NONE);
        aigw_error_free(e);
    }
}

static char logged[1024];
static void log_cb(aigw_log_level level, const char *msg, void *user) {
    (void)level;
    (void)user;
    snprintf(logged, sizeof logged, "%s", msg);
}

Test(aws_credentials, readable_secret_file_warns) {
    const char *p = write_file(".aws/credentials", credentials_file, 0644);
    aigw__logger logger = {log_cb, NULL, AIGW_LOG_DEBUG};
    aigw__cred_context ctx = {.logger = &logger};
    aigw__credential c;
    aigw_error *e = NULL;
    logged[0] = '\0';
    cr_assert_eq(aigw__aws_credential_default(&c, &ctx, &e), AIGW_OK);
    cr_assert(strstr(logged, p), "%s", logged);
    cr_assert(strstr(logged, "readable by group or others"), "%s", logged);
    cr_assert_null(strstr(logged, FILE_SECRET));
    aigw__credential_clear(&c);
}

/* ---- 4. container ---- */

static void container_env(void) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/aws/container-credentials", sim.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
}

Test(aws_credentials, container_with_token) {
    const char *args[] = {"--aws-container-token", "sekrit-container-token", NULL};
    start_sim(args);
    container_env();
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "sekrit-container-token", 1);
    aigw__credential c = load_default();
    cr_assert_str_eq(c.source, "container credentials endpoint 127.0.0.1");
    aigw__cred_value v = get(&c);
    cr_assert_eq(strncmp(v.aws_access_key_id, "ASIA", 4), 0);
    cr_assert_not_null(v.aws_session_token);
    cr_assert(v.expires_at > time(NULL));
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
    c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "HTTP 401"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

Test(aws_credentials, container_token_file_reread) {
    const char *args[] = {"--aws-container-token", "sekrit-container-token", NULL};
    start_sim(args);
    container_env();
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1); /* the file wins */
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
           write_file("ctok", "sekrit-container-token\n", 0600), 1);
    aigw__credential c = load_default();
    fake_now = time(NULL);
    aigw__refresher_set_clock(c.refresher, fake_clock, NULL);
    aigw__cred_value v = get(&c);
    aigw__cred_value_clear(&v);
    write_file("ctok", "rotated-away", 0600);
    fake_now += 7200;
    aigw_error *e = get_fails(&c, AIGW_EAUTH);
    aigw_error_free(e);
    aigw__credential_clear(&c);
}

Test(aws_credentials, container_malformed_and_disallowed) {
    const char *args[] = {"--fault-token-endpoints", "malformed=1", NULL};
    start_sim(args);
    container_env();
    aigw__credential c = load_default();
    aigw_error *e = get_fails(&c, AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "not a JSON object"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    e = NULL;
    cr_assert_eq(aigw__aws_credential_default(&c, NULL, &e), AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(e), "must use https"), "%s", aigw_error_message(e));
    aigw_error_free(e);
}

/* ---- order ---- */

Test(aws_credentials, environment_beats_files) {
    write_file(".aws/credentials", credentials_file, 0600);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET, 1);
    aigw__credential c = load_default();
    aigw__cred_value v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDENV");
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, web_identity_beats_files_and_container) {
    start_sim(NULL);
    write_file(".aws/credentials", credentials_file, 0600);
    container_env();
    web_identity_env(WEB_TOKEN);
    aigw__credential c = load_default();
    cr_assert(strstr(c.source, "web identity"), "%s", c.source);
    aigw__credential_clear(&c);
    unsetenv("AWS_ROLE_ARN"); /* files next */
    c = load_default();
    cr_assert(strstr(c.source, "profile default"), "%s", c.source);
    aigw__credential_clear(&c);
    unlink(path_in(".aws/credentials")); /* then the container */
    c = load_default();
    cr_assert(strstr(c.source, "container credentials endpoint"), "%s", c.source);
    aigw__credential_clear(&c);
}

/* ---- the config's "aws" type ---- */

Test(aws_credentials, config_validation) {
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"type\":\"aws\",\"profil\":\"dev\"}",
         "credentials.aws: unknown key \"profil\" (known: type, "
         "access_key_id_env, secret_access_key_env, "
         "session_token_env, profile, role_arn, "
         "web_identity_token_file, role_session_name, "
         "sts_endpoint, container_uri)"},
        {"{\"type\":\"aws\",\"profile\":1}", "credentials.aws.profile: must be a string"},
        {"{\"type\":\"aws\",\"profile\":\"\"}", "credentials.aws.profile: must not be empty"},
        {"{\"type\":\"aws\",\"access_key_id_env\":\"A\"}", "go together"},
        {"{\"type\":\"aws\",\"role_arn\":\"r\"}", "go together"},
        {"{\"type\":\"aws\",\"role_session_name\":\"s\"}", "needs role_arn"},
        {"{\"type\":\"aws\",\"session_token_env\":\"T\"}", "needs access_key_id_env"},
        {"{\"type\":\"aws\",\"profile\":\"p\",\"container_uri\":\"http://127.0.0.1/\"}",
         "give only one of"},
        {"{\"type\":\"aws\",\"profile\":\"ghost\"}", "profile ghost"},
        {"{\"type\":\"aws\",\"container_uri\":\"http://10.0.0.1/x\"}", "must use https"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw__credential c;
        aigw_error *e = NULL;
        cr_assert_eq(load_conf(&c, cases[i].json, NULL, &e), AIGW_ECONFIG, "case %zu", i);
        cr_assert(strstr(aigw_error_message(e), cases[i].want), "case %zu: %s", i,
                  aigw_error_message(e));
        aigw_error_free(e);
    }
}

Test(aws_credentials, config_named_env_and_profile) {
    setenv("MY_AK", "AKIDMINE", 1);
    setenv("MY_SK", ENV_SECRET, 1);
    aigw__credential c;
    aigw_error *e = NULL;
    cr_assert_eq(load_conf(&c,
                           "{\"type\":\"aws\",\"access_key_id_env\":\"MY_AK\","
                           "\"secret_access_key_env\":\"MY_SK\",\"session_token_env\":\"MY_ST\"}",
                           NULL, &e),
                 AIGW_OK);
    cr_assert_str_eq(c.name, "credential \"aws\"");
    cr_assert_str_eq(c.source, "environment variables MY_AK/MY_SK");
    aigw__cred_value v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDMINE");
    cr_assert_null(v.aws_session_token);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    /* a variable that is not set: the request fails, naming it */
    cr_assert_eq(load_conf(&c,
                           "{\"type\":\"aws\",\"access_key_id_env\":\"NOPE_AK\","
                           "\"secret_access_key_env\":\"MY_SK\"}",
                           NULL, &e),
                 AIGW_OK);
    e = get_fails(&c, AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "NOPE_AK is not set"), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&c);

    write_file(".aws/credentials", credentials_file, 0600);
    e = NULL;
    cr_assert_eq(load_conf(&c, "{\"type\":\"aws\",\"profile\":\"other\"}", NULL, &e), AIGW_OK);
    v = get(&c);
    cr_assert_str_eq(v.aws_access_key_id, "AKIDOTHER");
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

Test(aws_credentials, config_role_and_container) {
    const char *args[] = {"--aws-container-token", "sekrit-container-token", NULL};
    start_sim(args);
    char json[512];
    unsetenv("AWS_ENDPOINT_URL_STS");
    snprintf(json, sizeof json,
             "{\"type\":\"aws\",\"role_arn\":\"arn:aws:iam::1:role/r\","
             "\"web_identity_token_file\":\"%s\",\"role_session_name\":\"my-session\","
             "\"sts_endpoint\":\"http://127.0.0.1:%d/sts/\"}",
             write_file("tok", WEB_TOKEN, 0600), sim.port);
    aigw__credential c;
    aigw_error *e = NULL;
    cr_assert_eq(load_conf(&c, json, NULL, &e), AIGW_OK);
    aigw__cred_value v = get(&c);
    cr_assert_eq(strncmp(v.aws_access_key_id, "ASIA", 4), 0);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);

    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "sekrit-container-token", 1);
    snprintf(
        json, sizeof json,
        "{\"type\":\"aws\",\"container_uri\":\"http://localhost:%d/aws/container-credentials\"}",
        sim.port);
    cr_assert_eq(load_conf(&c, json, NULL, &e), AIGW_OK);
    cr_assert_str_eq(c.source, "container credentials endpoint localhost");
    v = get(&c);
    cr_assert_not_null(v.aws_session_token);
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}

/* ---- parsers ---- */

Test(aws_credentials, parsers) {
    time_t t;
    cr_assert_eq(aigw__aws_parse_time("2024-01-02T03:04:05Z", &t), 0);
    cr_assert_eq(t, 1704164645);
    cr_assert_eq(aigw__aws_parse_time("2024-01-02T03:04:05.123Z", &t), 0);
    cr_assert_eq(aigw__aws_parse_time("2024-01-02T04:04:05+01:00", &t), 0);
    cr_assert_eq(t, 1704164645);
    cr_assert_eq(aigw__aws_parse_time("2024-01-02 03:04:05", &t), -1);
    cr_assert_eq(aigw__aws_parse_time("2024-13-02T03:04:05Z", &t), -1);

    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    static const char err_xml[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
        "</Type><Code>AccessDenied</Code><Message>Not authorized</Message></Error></ErrorResponse>";
    cr_assert_eq(aigw__aws_sts_parse(err_xml, sizeof err_xml - 1, 403, "sts", time(NULL), &v, &e),
                 AIGW_EAUTH);
    cr_assert_str_eq(aigw_error_message(e), "sts: HTTP 403 AccessDenied: Not authorized");
    aigw_error_free(e);

    static const char expired[] =
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>" FILE_SECRET "</SecretAccessKey>"
        "<SessionToken>FwoGZXIvYXdzEtok</SessionToken><Expiration>2001-01-01T00:00:00Z"
        "</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
        "</AssumeRoleWithWebIdentityResponse>";
    e = NULL;
    cr_assert_eq(aigw__aws_sts_parse(expired, sizeof expired - 1, 200, "sts", time(NULL), &v, &e),
                 AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "expired"));
    assert_no_secret(e);
    aigw_error_free(e);
    e = NULL;
    cr_assert_eq(aigw__aws_sts_parse(expired, sizeof expired - 1, 200, "sts", 0, &v, &e), AIGW_OK);
    cr_assert_str_eq(v.aws_secret_access_key, FILE_SECRET);
    aigw__cred_value_clear(&v);

    static const char missing[] =
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>" FILE_SECRET "</SecretAccessKey>"
        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
    e = NULL;
    cr_assert_eq(aigw__aws_sts_parse(missing, sizeof missing - 1, 200, "sts", 0, &v, &e),
                 AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "no SessionToken"), "%s", aigw_error_message(e));
    assert_no_secret(e);
    aigw_error_free(e);

    static const char truncated[] = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWith";
    e = NULL;
    cr_assert_eq(aigw__aws_sts_parse(truncated, sizeof truncated - 1, 200, "sts", 0, &v, &e),
                 AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "not XML"), "%s", aigw_error_message(e));
    aigw_error_free(e);

    static const char json_missing[] =
        "{\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"" FILE_SECRET
        "\",\"Expiration\":\"2099-01-01T00:00:00Z\"}";
    e = NULL;
    cr_assert_eq(
        aigw__aws_container_parse(json_missing, sizeof json_missing - 1, 200, "c", 0, &v, &e),
        AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "no Token"), "%s", aigw_error_message(e));
    assert_no_secret(e);
    aigw_error_free(e);
    static const char json_bad_time[] = "{\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"s\","
                                        "\"Token\":\"t\",\"Expiration\":\"soon\"}";
    e = NULL;
    cr_assert_eq(
        aigw__aws_container_parse(json_bad_time, sizeof json_bad_time - 1, 200, "c", 0, &v, &e),
        AIGW_EBADRESPONSE);
    aigw_error_free(e);
}

/* ---- a Bedrock chat with web-identity credentials ---- */

static aigw_status chat(const char *conf, char **resp, aigw_error **e) {
    aigw_client *client = NULL;
    aigw_status st = aigw_client_new_from_string(&client, conf, e);
    if (st == AIGW_OK)
        st = aigw_chat(client,
                       "{\"model\":\"br/anthropic.claude-3-5-sonnet-20240620-v1:0\","
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}",
                       resp, e);
    aigw_client_free(client);
    return st;
}

Test(aws_credentials, bedrock_chat_with_web_identity) {
    /* the simulator checks SigV4 (with --aws-access-key-id set, any other
     * key is refused) and, for the credentials its STS issued, the session
     * token */
    const char *args[] = {"--aws-access-key-id", "AKIDSTATICONLY", "--aws-secret-access-key",
                          "static-secret", NULL};
    start_sim(args);
    web_identity_env(WEB_TOKEN);
    char conf[512];
    char *resp = NULL;
    aigw_error *e = NULL;

    /* through the config's "credentials" section */
    snprintf(conf, sizeof conf,
             "{\"backends\":{\"br\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\","
             "\"base_url\":\"http://127.0.0.1:%d\",\"credential\":\"aws\"}},"
             "\"credentials\":{\"aws\":{\"type\":\"aws\"}}}",
             sim.port);
    aigw_status st = chat(conf, &resp, &e);
    cr_assert_eq(st, AIGW_OK, "%s", e ? aigw_error_message(e) : "");
    cr_assert(strstr(resp, "echo: hello there"), "%s", resp);
    aigw_free(resp);
    resp = NULL;

    /* and with no credential at all: the backend runs the default chain */
    snprintf(conf, sizeof conf,
             "{\"backends\":{\"br\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\","
             "\"base_url\":\"http://127.0.0.1:%d\"}}}",
             sim.port);
    st = chat(conf, &resp, &e);
    cr_assert_eq(st, AIGW_OK, "%s", e ? aigw_error_message(e) : "");
    aigw_free(resp);
    resp = NULL;

    /* the credential API gives STS credentials; the backend signs with
     * them (from the environment), session token included */
    aigw__credential c = load_default();
    aigw__cred_value v = get(&c);
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_ACCESS_KEY_ID", v.aws_access_key_id, 1);
    setenv("AWS_SECRET_ACCESS_KEY", v.aws_secret_access_key, 1);
    snprintf(conf, sizeof conf,
             "{\"backends\":{\"br\":{\"schema\":\"aws-bedrock\",\"region\":\"us-east-1\","
             "\"base_url\":\"http://127.0.0.1:%d\"}}}",
             sim.port);
    for (int i = 0; i < 3; i++) {
        /* 0: the right session token, 1: a wrong one, 2: none */
        if (i == 0)
            setenv("AWS_SESSION_TOKEN", v.aws_session_token, 1);
        else if (i == 1)
            setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEnotthetoken", 1);
        else
            unsetenv("AWS_SESSION_TOKEN");
        e = NULL;
        resp = NULL;
        st = chat(conf, &resp, &e);
        if (i == 0) {
            cr_assert_eq(st, AIGW_OK, "%s", e ? aigw_error_message(e) : "");
            cr_assert(strstr(resp, "echo: hello there"), "%s", resp);
            aigw_free(resp);
        } else {
            cr_assert_neq(st, AIGW_OK, "case %d", i);
            cr_assert(aigw_error_body(e) &&
                          strstr(aigw_error_body(e),
                                 "The security token included in the request is invalid."),
                      "case %d: %s", i, aigw_error_message(e));
            aigw_error_free(e);
        }
    }
    aigw__cred_value_clear(&v);
    aigw__credential_clear(&c);
}
