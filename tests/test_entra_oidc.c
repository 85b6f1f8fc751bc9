/* SPDX-License-Identifier: Apache-2.0 */
/* Azure Entra ID and generic OIDC client-credentials credentials
 * (lib/credentials/azure.c, oidc.c, oauth.c) against the simulator's token
 * endpoints (tests/upstream/sim_oauth.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "core/backend.h"
#include "core/buf.h"
#include "core/client_internal.h"
#include "core/json.h"
#include "credentials/credential.h"
#include "credentials/oauth.h"
#include "credentials/refresher.h"
#include "sim.h"
#include "transport/fetch.h"

#define SECRET "SeCrEt-entra-7f3a9QZ"
#define OIDC_SECRET "SeCrEt-oidc-b81kPw"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define TENANT "contoso.onmicrosoft.com"

/* ---- fixtures ---- */

static aigw_test_sim sim;
static char fed_file[64];
static char authority[96];

/* Starts the simulator with the Entra and OIDC clients, plus `extra`. */
static void start_sim(const char *extra1, const char *extra2) {
    snprintf(fed_file, sizeof fed_file, "/tmp/aigw-entra-fed-%d", (int)getpid());
    FILE *f = fopen(fed_file, "w");
    cr_assert(f);
    fputs("federated-assertion-one\n", f);
    fclose(f);
    const char *args[] = {"--api-key",
                          "sk-not-used-by-these-tests",
                          "--entra-client-id",
                          CLIENT_ID,
                          "--entra-client-secret",
                          SECRET,
                          "--entra-federated-token-file",
                          fed_file,
                          "--oidc-client-id",
                          "gateway",
                          "--oidc-client-secret",
                          OIDC_SECRET,
                          extra1,
                          extra2,
                          NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0);
    snprintf(authority, sizeof authority, "http://127.0.0.1:%d/entra", sim.port);
}

static void stop_sim(void) {
    aigw_test_sim_stop(&sim);
    unlink(fed_file);
}

/* Captured log lines. */
static char logged[8192];

static void on_log(aigw_log_level level, const char *message, void *user) {
    (void)user;
    snprintf(logged + strlen(logged), sizeof logged - strlen(logged), "%d %s\n", (int)level,
             message);
}

static const aigw__logger logger = {on_log, NULL, AIGW_LOG_DEBUG};
static const aigw__cred_context ctx = {&logger, NULL, NULL};

/* GET or POST the simulator's /sim/ endpoint, parsed. */
static json_object *sim_get(const char *what) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sim/%s", sim.port, what);
    aigw__fetch_request req = {.method = strcmp(what, "reset") == 0 ? "POST" : "GET", .url = url};
    aigw__buf body = AIGW__BUF_INIT;
    long status = 0;
    cr_assert_eq(aigw__fetch(&req, &status, &body, NULL), AIGW_OK);
    cr_assert_eq(status, 200);
    json_object *o = json_tokener_parse(body.data);
    aigw__buf_free(&body);
    cr_assert(o);
    return o;
}

static long sim_requests(void) {
    json_object *o = sim_get("requests");
    long n = (long)json_object_get_int64(json_object_object_get(o, "count"));
    json_object_put(o);
    return n;
}

/* The last provider request's body (copied) and one of its headers. */
static char *last_body(char **header_value, const char *header) {
    json_object *o = sim_get("last-request");
    const char *b = aigw__json_get_string(o, "body");
    char *body = strdup(b ? b : "");
    if (header_value) {
        const char *h = aigw__json_get_string(json_object_object_get(o, "headers"), header);
        *header_value = h ? strdup(h) : NULL;
    }
    json_object_put(o);
    return body;
}

static json_object *conf(const char *text) {
    json_object *o = json_tokener_parse(text);
    cr_assert(o, "bad test JSON: %s", text);
    return o;
}

/* Loads an Entra credential from a config text (with %s for the authority). */
static aigw_status load_azure(aigw__credential *cred, const char *fmt, aigw_error **err) {
    char text[1024];
    snprintf(text, sizeof text, fmt, authority);
    json_object *c = conf(text);
    memset(cred, 0, sizeof *cred);
    aigw_status st = aigw__azure_credential_load(cred, "entra", c, "credentials.entra", &ctx, err);
    json_object_put(c);
    return st;
}

static aigw_status load_oidc(aigw__credential *cred, const char *extra, aigw_error **err) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"type\":\"oidc\",\"token_url\":\"http://127.0.0.1:%d/oidc/token\","
             "\"client_id\":\"gateway\",\"client_secret_env\":\"AIGW_TEST_OIDC_SECRET\"%s}",
             sim.port, extra);
    json_object *c = conf(text);
    memset(cred, 0, sizeof *cred);
    aigw_status st = aigw__oidc_credential_load(cred, "idp", c, "credentials.idp", &ctx, err);
    json_object_put(c);
    return st;
}

/* A token from the credential's refresher; fails the test otherwise. */
static char *get_token(const aigw__credential *cred) {
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw__refresher_get(cred->refresher, &v, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    cr_assert(v.bearer_token);
    char *t = strdup(v.bearer_token);
    cr_assert_gt(v.expires_at, time(NULL) + 3000);
    aigw__cred_value_clear(&v);
    return t;
}

static void assert_no_secret(const char *text) {
    cr_assert_null(strstr(text, SECRET), "a secret leaked: %s", text);
    cr_assert_null(strstr(text, OIDC_SECRET), "a secret leaked: %s", text);
    cr_assert_null(strstr(text, "federated-assertion"), "an assertion leaked: %s", text);
    cr_assert_null(strstr(text, "sim-entra-"), "a token leaked: %s", text);
    cr_assert_null(strstr(text, "sim-oidc-"), "a token leaked: %s", text);
}

static const char *const SECRET_ENV_CONF =
    "{\"type\":\"azure_entra\",\"tenant_id\":\"" TENANT "\",\"client_id\":\"" CLIENT_ID "\","
    "\"client_secret_env\":\"AIGW_TEST_ENTRA_SECRET\",\"authority_host\":\"%s\"}";

/* ---- Entra ID ---- */

Test(entra, client_secret_from_env) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    aigw_error *e = NULL;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    cr_assert_str_eq(cred.name, "credential \"entra\"");
    cr_assert(strstr(cred.source, "AIGW_TEST_ENTRA_SECRET"), "%s", cred.source);
    assert_no_secret(cred.source);
    char *tok = get_token(&cred);
    cr_assert_eq(strncmp(tok, "sim-entra-", 10), 0, "%s", tok);
    char *ct = NULL;
    char *body = last_body(&ct, "content-type");
    cr_assert(strstr(body, "grant_type=client_credentials"), "%s", body);
    cr_assert(strstr(body, "client_id=" CLIENT_ID), "%s", body);
    cr_assert(strstr(body, "scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"), "%s",
              body);
    cr_assert_str_eq(ct, "application/x-www-form-urlencoded");
    json_object *last = sim_get("last-request");
    cr_assert_str_eq(aigw__json_get_string(last, "path"), "/entra/" TENANT "/oauth2/v2.0/token");
    json_object_put(last);
    /* cached: a second get makes no request */
    long n = sim_requests();
    char *tok2 = get_token(&cred);
    cr_assert_str_eq(tok, tok2);
    cr_assert_eq(sim_requests(), n);
    assert_no_secret(logged);
    free(tok);
    free(tok2);
    free(body);
    free(ct);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, client_secret_from_file_warns_when_others_can_read_it) {
    start_sim(NULL, NULL);
    char path[64];
    snprintf(path, sizeof path, "/tmp/aigw-entra-secret-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(SECRET "\n", f);
    fclose(f);
    chmod(path, 0600);
    char fmt[512];
    snprintf(fmt, sizeof fmt,
             "{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"" CLIENT_ID "\","
             "\"client_secret_file\":\"%s\",\"authority_host\":\"%%s/\"}",
             path);
    aigw__credential cred;
    aigw_error *e = NULL;
    cr_assert_eq(load_azure(&cred, fmt, &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_null(strstr(logged, "read by other"), "%s", logged);
    char *tok = get_token(&cred);
    cr_assert_eq(strncmp(tok, "sim-entra-", 10), 0);
    free(tok);
    aigw__credential_clear(&cred);

    chmod(path, 0644);
    cr_assert_eq(load_azure(&cred, fmt, &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert(strstr(logged, "read by other"), "%s", logged);
    cr_assert(strstr(logged, path), "%s", logged);
    assert_no_secret(logged);
    aigw__credential_clear(&cred);
    unlink(path);

    /* the file gone: a clear error at refresh time, naming the file */
    cr_assert_eq(load_azure(&cred, fmt, &e), AIGW_OK);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), path), "%s", aigw_error_message(e));
    cr_assert(strstr(aigw_error_message(e), "credential \"entra\""), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);
    stop_sim();
}

static time_t fake_now;
static time_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

Test(entra, workload_identity_rereads_the_federated_token_file) {
    start_sim(NULL, NULL);
    char fmt[512];
    snprintf(fmt, sizeof fmt,
             "{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"" CLIENT_ID "\","
             "\"federated_token_file\":\"%s\",\"authority_host\":\"%%s\"}",
             fed_file);
    aigw__credential cred;
    aigw_error *e = NULL;
    cr_assert_eq(load_azure(&cred, fmt, &e), AIGW_OK, "%s", aigw_error_message(e));
    fake_now = time(NULL);
    aigw__refresher_set_clock(cred.refresher, fake_clock, NULL);
    char *t1 = get_token(&cred);
    char *body = last_body(NULL, NULL);
    cr_assert(strstr(body, "client_assertion=federated-assertion-one"), "%s", body);
    cr_assert(strstr(body, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-"
                           "type%3Ajwt-bearer"),
              "%s", body);
    cr_assert_null(strstr(body, "client_secret"), "%s", body);
    free(body);

    /* the kubelet rotates the file; the next refresh sends the new one */
    FILE *f = fopen(fed_file, "w");
    fputs("federated-assertion-two", f);
    fclose(f);
    fake_now = time(NULL) + 3600 - 200; /* inside the refresh window */
    char *t2 = get_token(&cred);
    cr_assert_str_neq(t1, t2);
    body = last_body(NULL, NULL);
    cr_assert(strstr(body, "client_assertion=federated-assertion-two"), "%s", body);
    free(body);
    free(t1);
    free(t2);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, default_chain_from_environment) {
    start_sim(NULL, NULL);
    aigw__credential cred = {0};
    aigw_error *e = NULL;
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_CLIENT_SECRET");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    cr_assert_eq(aigw__azure_credential_default(&cred, &ctx, &e), AIGW_OK);
    cr_assert_eq(cred.kind, AIGW__CRED_NONE);

    setenv("AZURE_AUTHORITY_HOST", authority, 1);
    setenv("AZURE_TENANT_ID", "t1", 1);
    setenv("AZURE_CLIENT_ID", CLIENT_ID, 1);
    cr_assert_eq(aigw__azure_credential_default(&cred, &ctx, &e), AIGW_OK);
    cr_assert_eq(cred.kind, AIGW__CRED_NONE, "tenant and client but no secret: nothing");

    setenv("AZURE_CLIENT_SECRET", SECRET, 1);
    cr_assert_eq(aigw__azure_credential_default(&cred, &ctx, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    assert_no_secret(cred.source);
    char *tok = get_token(&cred);
    char *body = last_body(NULL, NULL);
    cr_assert(strstr(body, "client_secret=" SECRET), "%s", body);
    free(body);
    free(tok);
    aigw__credential_clear(&cred);

    unsetenv("AZURE_CLIENT_SECRET");
    setenv("AZURE_FEDERATED_TOKEN_FILE", fed_file, 1);
    cr_assert_eq(aigw__azure_credential_default(&cred, &ctx, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    cr_assert(strstr(cred.source, fed_file), "%s", cred.source);
    tok = get_token(&cred);
    body = last_body(NULL, NULL);
    cr_assert(strstr(body, "client_assertion=federated-assertion-one"), "%s", body);
    free(body);
    free(tok);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, wrong_secret_is_eauth_with_entras_code_and_no_secret) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET "-wrong", 1);
    aigw__credential cred;
    aigw_error *e = NULL;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, &e), AIGW_OK);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EAUTH);
    const char *m = aigw_error_message(e);
    cr_assert(strstr(m, "credential \"entra\""), "%s", m);
    cr_assert(strstr(m, "127.0.0.1"), "%s", m);
    cr_assert(strstr(m, "refused: invalid_client: AADSTS7000215: Invalid client secret provided"),
              "%s", m);
    assert_no_secret(m);
    assert_no_secret(aigw_error_json(e));
    assert_no_secret(logged);
    aigw_error_free(e);
    aigw__credential_clear(&cred);

    /* an unknown client id */
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    cr_assert_eq(load_azure(&cred,
                            "{\"type\":\"azure_entra\",\"tenant_id\":\"t1\",\"client_id\":\"nope\","
                            "\"client_secret_env\":\"AIGW_TEST_ENTRA_SECRET\",\"authority_host\":"
                            "\"%s\"}",
                            &e),
                 AIGW_OK);
    e = NULL;
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "unauthorized_client: AADSTS700016"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);

    /* no secret at all: names the variable */
    unsetenv("AIGW_TEST_ENTRA_SECRET");
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, &e), AIGW_OK);
    e = NULL;
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "AIGW_TEST_ENTRA_SECRET is not set"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, expiry_refreshes) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    fake_now = time(NULL);
    aigw__refresher_set_clock(cred.refresher, fake_clock, NULL);
    char *t1 = get_token(&cred);
    long n = sim_requests();
    fake_now += 600; /* well within the hour: cached */
    char *t2 = get_token(&cred);
    cr_assert_str_eq(t1, t2);
    cr_assert_eq(sim_requests(), n);
    fake_now = time(NULL) + 3600 - 200; /* 5 min before expiry: refreshed ahead */
    char *t3 = get_token(&cred);
    cr_assert_str_neq(t1, t3);
    cr_assert_eq(sim_requests(), n + 1);
    free(t1);
    free(t2);
    free(t3);
    aigw__credential_clear(&cred);
    stop_sim();
}

/* A token that really expires: 33 s minus the refresher's 30 s of clock
 * skew leaves it valid for 3 s of real time. */
Test(entra, real_expiry_refreshes) {
    start_sim("--token-lifetime", "33");
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, NULL), AIGW_OK);
    char *t1 = strdup(v.bearer_token);
    cr_assert_leq(v.expires_at, time(NULL) + 33);
    aigw__cred_value_clear(&v);
    long n = sim_requests();
    sleep(4);
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, NULL), AIGW_OK);
    cr_assert_str_neq(t1, v.bearer_token);
    cr_assert_eq(sim_requests(), n + 1);
    aigw__cred_value_clear(&v);
    free(t1);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, token_endpoint_500_then_success_after_backoff) {
    start_sim("--fault-token-endpoints", "status=500,count=1");
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    fake_now = time(NULL);
    aigw__refresher_set_clock(cred.refresher, fake_clock, NULL);
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EUPSTREAM);
    cr_assert(strstr(aigw_error_message(e), "temporarily_unavailable: AADSTS90033"), "%s",
              aigw_error_message(e));
    aigw_error_free(e);
    e = NULL;
    cr_assert_eq(sim_requests(), 1);
    /* during the backoff: the same failure, no request */
    cr_assert_neq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_OK);
    aigw_error_free(e);
    cr_assert_eq(sim_requests(), 1);
    fake_now += 2; /* past the first backoff (1 s) */
    char *tok = get_token(&cred);
    cr_assert_eq(sim_requests(), 2);
    free(tok);
    aigw__credential_clear(&cred);
    stop_sim();
}

typedef struct worker {
    aigw__refresher *r;
    char token[128];
    aigw_status st;
} worker;

static void *work(void *p) {
    worker *w = p;
    aigw__cred_value v = {0};
    w->st = aigw__refresher_get(w->r, &v, NULL);
    if (!w->st)
        snprintf(w->token, sizeof w->token, "%s", v.bearer_token);
    aigw__cred_value_clear(&v);
    return NULL;
}

Test(entra, slow_token_endpoint_many_threads_one_request) {
    start_sim("--fault-token-endpoints", "latency_ms=1500");
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    worker w[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].r = cred.refresher;
        cr_assert_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(w[i].st, AIGW_OK, "thread %d", i);
        cr_assert_str_eq(w[i].token, w[0].token);
    }
    cr_assert_eq(sim_requests(), 1);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, malformed_token_response) {
    start_sim("--fault-token-endpoints", "malformed=1");
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EBADRESPONSE);
    cr_assert(strstr(aigw_error_message(e), "not a JSON object"), "%s", aigw_error_message(e));
    cr_assert(strstr(aigw_error_message(e), "credential \"entra\""), "%s", aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(entra, unreachable_token_endpoint) {
    aigw__credential cred = {0};
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    snprintf(authority, sizeof authority, "http://127.0.0.1:1/entra");
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, NULL), AIGW_OK);
    aigw__cred_value v = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_ECONNECT);
    cr_assert(strstr(aigw_error_message(e), "credential \"entra\": token endpoint"), "%s",
              aigw_error_message(e));
    assert_no_secret(aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);
}

Test(entra, config_is_validated) {
    static const struct {
        const char *conf, *msg;
    } bad[] = {
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"client_secret\":\"inline\"}",
         "credentials.entra: unknown key \"client_secret\""},
        {"{\"type\":\"azure_entra\",\"client_id\":\"c\",\"client_secret_env\":\"X\"}",
         "credentials.entra.tenant_id: required"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":7,\"client_id\":\"c\","
         "\"client_secret_env\":\"X\"}",
         "credentials.entra.tenant_id: must be a string"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"\","
         "\"client_secret_env\":\"X\"}",
         "credentials.entra.client_id: must not be empty"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"c\"}",
         "credentials.entra: needs exactly one of"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"federated_token_file\":\"/f\"}",
         "credentials.entra: needs exactly one of"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t/../x\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\"}",
         "credentials.entra.tenant_id"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"authority_host\":\"ftp://x\"}",
         "credentials.entra.authority_host"},
        {"{\"type\":\"azure_entra\",\"tenant_id\":\"t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"scope\":[1]}",
         "credentials.entra.scope: must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *c = conf(bad[i].conf);
        aigw__credential cred = {0};
        aigw_error *e = NULL;
        cr_assert_eq(aigw__azure_credential_load(&cred, "entra", c, "credentials.entra", &ctx, &e),
                     AIGW_ECONFIG, "%s", bad[i].conf);
        cr_assert(strstr(aigw_error_message(e), bad[i].msg), "%s: %s", bad[i].conf,
                  aigw_error_message(e));
        aigw_error_free(e);
        aigw__credential_clear(&cred);
        json_object_put(c);
    }
    static const struct {
        const char *conf, *msg;
    } bad_oidc[] = {
        {"{\"type\":\"oidc\",\"client_id\":\"c\",\"client_secret_env\":\"X\"}",
         "credentials.idp.token_url: required"},
        {"{\"type\":\"oidc\",\"token_url\":\"http://x/t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"auth_method\":\"private_key_jwt\"}",
         "credentials.idp.auth_method"},
        {"{\"type\":\"oidc\",\"token_url\":\"http://x/t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"tenant_id\":\"t\"}",
         "credentials.idp: unknown key \"tenant_id\""},
        {"{\"type\":\"oidc\",\"token_url\":\"file:///etc/passwd\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\"}",
         "credentials.idp.token_url"},
        {"{\"type\":\"oidc\",\"token_url\":\"http://x/t\",\"client_id\":\"c\"}",
         "credentials.idp: needs exactly one of"},
        {"{\"type\":\"oidc\",\"token_url\":\"http://x/t\",\"client_id\":\"c\","
         "\"client_secret_env\":\"X\",\"audience\":true}",
         "credentials.idp.audience: must be a string"},
    };
    for (size_t i = 0; i < sizeof bad_oidc / sizeof bad_oidc[0]; i++) {
        json_object *c = conf(bad_oidc[i].conf);
        aigw__credential cred = {0};
        aigw_error *e = NULL;
        cr_assert_eq(aigw__oidc_credential_load(&cred, "idp", c, "credentials.idp", &ctx, &e),
                     AIGW_ECONFIG, "%s", bad_oidc[i].conf);
        cr_assert(strstr(aigw_error_message(e), bad_oidc[i].msg), "%s: %s", bad_oidc[i].conf,
                  aigw_error_message(e));
        aigw_error_free(e);
        aigw__credential_clear(&cred);
        json_object_put(c);
    }
}

/* ---- generic OIDC ---- */

Test(oidc, client_secret_basic_is_the_default) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_OIDC_SECRET", OIDC_SECRET, 1);
    aigw__credential cred;
    aigw_error *e = NULL;
    cr_assert_eq(load_oidc(&cred, ",\"scope\":\"models.read\",\"audience\":\"https://llm\"", &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    assert_no_secret(cred.source);
    char *tok = get_token(&cred);
    cr_assert_eq(strncmp(tok, "sim-oidc-", 9), 0);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert(auth && strncmp(auth, "Basic ", 6) == 0, "%s", auth ? auth : "(none)");
    cr_assert_null(strstr(body, "client_secret"), "%s", body);
    cr_assert(strstr(body, "scope=models.read"), "%s", body);
    cr_assert(strstr(body, "audience=https%3A%2F%2Fllm"), "%s", body);
    free(auth);
    free(body);
    free(tok);
    aigw__credential_clear(&cred);
    stop_sim();
}

Test(oidc, client_secret_post) {
    start_sim(NULL, NULL);
    char path[64];
    snprintf(path, sizeof path, "/tmp/aigw-oidc-secret-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(OIDC_SECRET, f);
    fclose(f);
    chmod(path, 0600);
    char text[512];
    snprintf(text, sizeof text,
             "{\"type\":\"oidc\",\"token_url\":\"http://127.0.0.1:%d/oidc/token\","
             "\"client_id\":\"gateway\",\"client_secret_file\":\"%s\","
             "\"auth_method\":\"client_secret_post\"}",
             sim.port, path);
    json_object *c = conf(text);
    aigw__credential cred = {0};
    aigw_error *e = NULL;
    cr_assert_eq(aigw__oidc_credential_load(&cred, "idp", c, "credentials.idp", &ctx, &e), AIGW_OK,
                 "%s", aigw_error_message(e));
    json_object_put(c);
    char *tok = get_token(&cred);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert_null(auth);
    cr_assert(strstr(body, "client_id=gateway&client_secret=" OIDC_SECRET), "%s", body);
    free(body);
    free(tok);
    aigw__credential_clear(&cred);

    /* a wrong secret: the IdP's reason, no secret */
    f = fopen(path, "w");
    fputs(SECRET, f);
    fclose(f);
    c = conf(text);
    cr_assert_eq(aigw__oidc_credential_load(&cred, "idp", c, "credentials.idp", &ctx, &e), AIGW_OK);
    json_object_put(c);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &e), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "credential \"idp\": token endpoint 127.0.0.1:"), "%s",
              aigw_error_message(e));
    cr_assert(strstr(aigw_error_message(e), "refused: invalid_client: Invalid client"), "%s",
              aigw_error_message(e));
    assert_no_secret(aigw_error_message(e));
    aigw_error_free(e);
    aigw__credential_clear(&cred);
    unlink(path);
    stop_sim();
}

/* ---- the token response parser ---- */

Test(oauth, token_response_parser) {
    static const char *const secrets[] = {SECRET, NULL};
    static const struct {
        long http;
        const char *body;
        aigw_status st;
        const char *msg; /* in the error, or the token on success */
        long lifetime;
    } cases[] = {
        {200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":3599}", AIGW_OK,
         "abc", 3599},
        {200, "{\"access_token\":\"abc\",\"token_type\":\"bearer\",\"expires_in\":\"120\"}",
         AIGW_OK, "abc", 120},
        {200, "{\"access_token\":\"abc\",\"expires_in\":60.5}", AIGW_OK, "abc", 60},
        {200, "{\"access_token\":\"abc\"}", AIGW_OK, "abc", AIGW__OAUTH_DEFAULT_LIFETIME},
        {200, "  {\"access_token\":\"abc\"}\n", AIGW_OK, "abc", AIGW__OAUTH_DEFAULT_LIFETIME},
        {200, "<html>", AIGW_EBADRESPONSE, "not a JSON object", 0},
        {200, "[1]", AIGW_EBADRESPONSE, "not a JSON object", 0},
        {200, "{\"access_token\":\"abc\"} x", AIGW_EBADRESPONSE, "not a JSON object", 0},
        {200, "", AIGW_EBADRESPONSE, "not a JSON object", 0},
        {200, "{\"token_type\":\"Bearer\",\"expires_in\":3600}", AIGW_EBADRESPONSE,
         "no access_token", 0},
        {200, "{\"access_token\":\"\"}", AIGW_EBADRESPONSE, "no access_token", 0},
        {200, "{\"access_token\":42}", AIGW_EBADRESPONSE, "no access_token", 0},
        {200, "{\"access_token\":\"a\\r\\nX-Evil: 1\"}", AIGW_EBADRESPONSE, "cannot have", 0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":-5}", AIGW_EBADRESPONSE, "expires_in", 0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":0}", AIGW_EBADRESPONSE, "expires_in", 0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":\"soon\"}", AIGW_EBADRESPONSE, "expires_in",
         0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":\"-1\"}", AIGW_EBADRESPONSE, "expires_in",
         0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":1e300}", AIGW_EBADRESPONSE, "expires_in",
         0},
        {200, "{\"access_token\":\"abc\",\"expires_in\":true}", AIGW_EBADRESPONSE, "expires_in", 0},
        {200, "{\"access_token\":\"abc\",\"token_type\":\"mac\"}", AIGW_EBADRESPONSE,
         "token_type \"mac\" is not Bearer", 0},
        {200, "{\"error\":\"invalid_scope\",\"error_description\":\"no such scope\"}", AIGW_EAUTH,
         "refused: invalid_scope: no such scope", 0},
        {401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid\"}",
         AIGW_EAUTH, "token endpoint login.example refused: invalid_client: AADSTS7000215: Invalid",
         0},
        {400, "{\"error\":\"invalid_request\"}", AIGW_EAUTH, "refused: invalid_request (HTTP 400)",
         0},
        {401,
         "{\"error\":\"invalid_client\",\"error_description\":\"bad secret " SECRET " given\"}",
         AIGW_EAUTH, "invalid_client: (description withheld", 0},
        {503, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"later\"}",
         AIGW_EUPSTREAM, "temporarily_unavailable: later", 0},
        {500, "oops", AIGW_EUPSTREAM, "answered HTTP 500", 0},
        {429, "", AIGW_ERATELIMIT, "answered HTTP 429", 0},
        {404, "{}", AIGW_EUPSTREAM_STATUS, "answered HTTP 404", 0},
    };
    time_t now = 1700000000;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aigw__cred_value v = {0};
        aigw_error *e = NULL;
        aigw_status st =
            aigw__oauth_parse_response("credential \"x\"", "login.example", cases[i].http,
                                       cases[i].body, strlen(cases[i].body), now, secrets, &v, &e);
        cr_assert_eq(st, cases[i].st, "case %zu (%s): %s", i, cases[i].body,
                     e ? aigw_error_message(e) : "ok");
        if (st == AIGW_OK) {
            cr_assert_str_eq(v.bearer_token, cases[i].msg);
            cr_assert_eq(v.expires_at, now + cases[i].lifetime, "case %zu", i);
        } else {
            cr_assert(strstr(aigw_error_message(e), cases[i].msg), "case %zu: %s", i,
                      aigw_error_message(e));
            cr_assert_eq(strncmp(aigw_error_message(e), "credential \"x\": ", 16), 0);
            assert_no_secret(aigw_error_message(e));
            cr_assert_null(v.bearer_token);
        }
        aigw__cred_value_clear(&v);
        aigw_error_free(e);
    }
}

/* ---- through the whole library ---- */

/* The config's "credentials" section reaches these loaders once
 * lib/credentials/load.c lists "azure_entra" and "oidc"; until then the
 * config-level chats are skipped (the *_credential_api tests below cover the
 * same path with the credential put on the backend directly). */

Test(e2e, azure_openai_chat_with_entra) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    char config[1024];
    snprintf(config, sizeof config,
             "{\"backends\":{\"az\":{\"schema\":\"azure-openai\",\"base_url\":\"http://"
             "127.0.0.1:%d\",\"api_version\":\"2024-06-01\",\"credential\":\"entra\"}},"
             "\"credentials\":{\"entra\":{\"type\":\"azure_entra\",\"tenant_id\":\"t1\","
             "\"client_id\":\"" CLIENT_ID "\",\"client_secret_env\":\"AIGW_TEST_ENTRA_SECRET\","
             "\"authority_host\":\"%s\"}}}",
             sim.port, authority);
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s", aigw_error_message(e));
    char *out = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"az/gpt-4o\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello entra\"}]}",
                           &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert(strstr(out, "echo: hello entra"), "%s", out);
    aigw_free(out);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert(auth && strncmp(auth, "Bearer sim-entra-", 17) == 0, "%s", auth ? auth : "(none)");
    free(auth);
    free(body);
    aigw_client_free(c);

    /* a wrong secret: the chat fails with Entra's reason */
    setenv("AIGW_TEST_ENTRA_SECRET", "not-" SECRET, 1);
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s", aigw_error_message(e));
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"az/gpt-4o\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "AADSTS7000215"), "%s", aigw_error_message(e));
    assert_no_secret(aigw_error_message(e));
    assert_no_secret(aigw_error_json(e));
    aigw_error_free(e);
    aigw_client_free(c);
    stop_sim();
}

Test(e2e, openai_chat_with_oidc) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_OIDC_SECRET", OIDC_SECRET, 1);
    char config[1024];
    snprintf(config, sizeof config,
             "{\"backends\":{\"vllm\":{\"schema\":\"openai\",\"base_url\":\"http://"
             "127.0.0.1:%d/v1\",\"credential\":\"idp\"}},"
             "\"credentials\":{\"idp\":{\"type\":\"oidc\",\"token_url\":\"http://127.0.0.1:%d/"
             "oidc/token\",\"client_id\":\"gateway\",\"client_secret_env\":"
             "\"AIGW_TEST_OIDC_SECRET\"}}}",
             sim.port, sim.port);
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s", aigw_error_message(e));
    char *out = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"vllm/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello oidc\"}]}",
                           &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert(strstr(out, "echo: hello oidc"), "%s", out);
    aigw_free(out);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert(auth && strncmp(auth, "Bearer sim-oidc-", 16) == 0, "%s", auth ? auth : "(none)");
    free(auth);
    free(body);
    aigw_client_free(c);
    stop_sim();
}

/* The same chats with the credential put on the backend directly (the
 * credential API without the config's "credentials" section). */
static void use_credential(aigw_client *c, const char *backend, aigw__credential *cred) {
    for (size_t i = 0; i < c->n_backends; i++) {
        if (strcmp(c->backends[i].name, backend) == 0) {
            aigw__credential_clear(&c->backends[i].credential);
            c->backends[i].credential = *cred;
            memset(cred, 0, sizeof *cred);
            return;
        }
    }
    cr_assert_fail("no backend %s", backend);
}

Test(e2e, azure_openai_chat_with_entra_credential_api) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_ENTRA_SECRET", SECRET, 1);
    char config[512];
    snprintf(config, sizeof config,
             "{\"backends\":{\"az\":{\"schema\":\"azure-openai\",\"base_url\":\"http://"
             "127.0.0.1:%d\",\"api_key\":\"replaced\"}}}",
             sim.port);
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s", aigw_error_message(e));
    aigw__credential cred;
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, &e), AIGW_OK);
    use_credential(c, "az", &cred);
    char *out = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"az/gpt-4o\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"hello entra\"}]}",
                           &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert(strstr(out, "echo: hello entra"), "%s", out);
    aigw_free(out);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert(auth && strncmp(auth, "Bearer sim-entra-", 17) == 0, "%s", auth ? auth : "(none)");
    free(auth);
    free(body);
    aigw_client_free(c);

    setenv("AIGW_TEST_ENTRA_SECRET", "not-" SECRET, 1);
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK);
    cr_assert_eq(load_azure(&cred, SECRET_ENV_CONF, &e), AIGW_OK);
    use_credential(c, "az", &cred);
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"az/gpt-4o\",\"messages\":[{\"role\":\"user\","
                           "\"content\":\"x\"}]}",
                           &out, &e),
                 AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(e), "AADSTS7000215"), "%s", aigw_error_message(e));
    assert_no_secret(aigw_error_message(e));
    assert_no_secret(aigw_error_json(e));
    aigw_error_free(e);
    aigw_client_free(c);
    stop_sim();
}

Test(e2e, openai_chat_with_oidc_credential_api) {
    start_sim(NULL, NULL);
    setenv("AIGW_TEST_OIDC_SECRET", OIDC_SECRET, 1);
    char config[512];
    snprintf(config, sizeof config,
             "{\"backends\":{\"vllm\":{\"schema\":\"openai\",\"base_url\":\"http://"
             "127.0.0.1:%d/v1\",\"api_key\":\"replaced\"}}}",
             sim.port);
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    cr_assert_eq(aigw_client_new_from_string(&c, config, &e), AIGW_OK, "%s", aigw_error_message(e));
    aigw__credential cred;
    cr_assert_eq(load_oidc(&cred, "", &e), AIGW_OK);
    use_credential(c, "vllm", &cred);
    char *out = NULL;
    cr_assert_eq(aigw_chat(c,
                           "{\"model\":\"vllm/gpt-4o-mini\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"hello oidc\"}]}",
                           &out, &e),
                 AIGW_OK, "%s", aigw_error_message(e));
    cr_assert(strstr(out, "echo: hello oidc"), "%s", out);
    aigw_free(out);
    char *auth = NULL;
    char *body = last_body(&auth, "authorization");
    cr_assert(auth && strncmp(auth, "Bearer sim-oidc-", 16) == 0, "%s", auth ? auth : "(none)");
    free(auth);
    free(body);
    aigw_client_free(c);
    stop_sim();
}
