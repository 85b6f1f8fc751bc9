/* SPDX-License-Identifier: Apache-2.0 */
/* Google Cloud credentials (lib/credentials/gcp.c) against the simulator's
 * Google token services: service-account keys (RS256 JWT bearer), external
 * accounts (STS token exchange, with and without impersonation), the
 * GOOGLE_APPLICATION_CREDENTIALS default, refresh on expiry, and strict
 * validation of credential files that never quotes a secret. */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "credentials/credential.h"
#include "credentials/gcp.h"
#include "credentials/refresher.h"
#include "sim.h"

#define SUBJECT "subject-token-Zq81"
#define SA_EMAIL "sa@p.iam.gserviceaccount.com"

static aigw_test_sim sim;
static char dir[64];
static char key_pem[4096];   /* the private key the simulator trusts (PKCS#8 PEM) */
static char other_pem[4096]; /* another key */
static char path_buf[512];

static void gen_key(char *pem, size_t n, const char *pub_path) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    cr_assert(k);
    BIO *b = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    char *data;
    long len = BIO_get_mem_data(b, &data);
    cr_assert(len > 0 && (size_t)len < n);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    BIO_free(b);
    if (pub_path) {
        FILE *f = fopen(pub_path, "w");
        cr_assert(f);
        cr_assert(PEM_write_PUBKEY(f, k) == 1);
        fclose(f);
    }
    EVP_PKEY_free(k);
}

static const char *in_dir(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
    return path_buf;
}

static void write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void start_with(const char *lifetime) {
    strcpy(dir, "/tmp/aigw-gcp-XXXXXX");
    cr_assert(mkdtemp(dir));
    char pub[128], subj[128];
    snprintf(pub, sizeof pub, "%s/pub.pem", dir);
    snprintf(subj, sizeof subj, "%s/subject.txt", dir);
    gen_key(key_pem, sizeof key_pem, pub);
    gen_key(other_pem, sizeof other_pem, NULL);
    write_file(subj, SUBJECT "\n", 0600);
    const char *args[] = {"--google-public-key",
                          pub,
                          "--google-subject-token-file",
                          subj,
                          "--bearer-token",
                          "not-the-token",
                          lifetime ? "--token-lifetime" : NULL,
                          lifetime,
                          NULL};
    cr_assert_eq(aigw_test_sim_start(&sim, args), 0, "simulator did not start");
}

static void start(void) {
    start_with(NULL);
}

static void stop(void) {
    aigw_test_sim_stop(&sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(gcp, .init = start, .fini = stop, .timeout = 60);

/* ---- helpers ---- */

/* Writes a service-account key file (chmod MODE) and returns its path. */
static const char *write_sa(const char *name, const char *pem, mode_t mode) {
    char uri[128];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/google/token", sim.port);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "project_id", json_object_new_string("p"));
    json_object_object_add(o, "private_key_id", json_object_new_string("kid-123"));
    json_object_object_add(o, "private_key", json_object_new_string(pem));
    json_object_object_add(o, "client_email", json_object_new_string(SA_EMAIL));
    json_object_object_add(o, "client_id", json_object_new_string("1234"));
    json_object_object_add(o, "token_uri", json_object_new_string(uri));
    const char *path = in_dir(name);
    write_file(path, json_object_to_json_string(o), mode);
    json_object_put(o);
    return path;
}

/* An external_account file; SOURCE is the credential_source JSON. */
static const char *write_ext(const char *name, const char *source, int impersonate) {
    char text[2048], imp[256] = "";
    if (impersonate)
        snprintf(imp, sizeof imp,
                 ",\"service_account_impersonation_url\":\"http://127.0.0.1:%d/google/iam/v1/"
                 "projects/-/serviceAccounts/" SA_EMAIL ":generateAccessToken\"",
                 sim.port);
    snprintf(text, sizeof text,
             "{\"type\":\"external_account\",\"audience\":\"//iam.googleapis.com/projects/1/"
             "locations/global/workloadIdentityPools/pool/providers/prov\","
             "\"subject_token_type\":\"urn:ietf:params:oauth:token-type:jwt\","
             "\"token_url\":\"http://127.0.0.1:%d/google/sts\",\"credential_source\":%s%s}",
             sim.port, source, imp);
    const char *path = in_dir(name);
    write_file(path, text, 0600);
    return path;
}

static aigw_status load_file(const char *file, aigw__credential *cred, aigw_error **err) {
    char conf[1024];
    snprintf(conf, sizeof conf, "{\"type\":\"gcp\",\"credentials_file\":\"%s\"}", file);
    json_object *o = json_tokener_parse(conf);
    cr_assert(o);
    aigw__cred_context ctx = {0};
    aigw_status st = aigw__gcp_credential_load(cred, "g", o, "credentials.g", &ctx, err);
    json_object_put(o);
    return st;
}

/* The bearer token CRED gives now (asserting success); the caller frees. */
static char *token_of(aigw__credential *cred) {
    aigw__cred_value v = {0};
    aigw_error *err = NULL;
    aigw_status st = aigw__refresher_get(cred->refresher, &v, &err);
    cr_assert_eq(st, AIGW_OK, "refresh: %s", err ? aigw_error_message(err) : "?");
    cr_assert(v.bearer_token);
    char *t = strdup(v.bearer_token);
    cr_assert(v.expires_at > time(NULL));
    aigw__cred_value_clear(&v);
    return t;
}

static size_t collect(char *p, size_t size, size_t n, void *user) {
    char **s = user;
    size_t old = *s ? strlen(*s) : 0, add = size * n;
    *s = realloc(*s, old + add + 1);
    memcpy(*s + old, p, add);
    (*s)[old + add] = '\0';
    return add;
}

/* GET /sim/last-request, parsed. */
static json_object *last_request(void) {
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sim/last-request", sim.port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    json_object *o = json_tokener_parse(body);
    free(body);
    cr_assert(o);
    return o;
}

static json_object *b64url_json(const char *s, size_t len) {
    char std[4096];
    cr_assert(len < sizeof std - 4);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        std[n++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (n % 4)
        std[n++] = '=';
    std[n] = '\0';
    unsigned char raw[4096];
    int m = EVP_DecodeBlock(raw, (unsigned char *)std, (int)n);
    cr_assert(m > 0);
    raw[m] = '\0';
    json_object *o = json_tokener_parse((char *)raw);
    cr_assert(o, "not JSON: %s", raw);
    return o;
}

static const char *jstr(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *k) {
    json_object *v;
    cr_assert(json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int), "%s",
              k);
    return json_object_get_int64(v);
}

/* No line of the PEM body nor any simulator token in MSG. */
static void assert_no_secret(const char *msg) {
    cr_assert_null(strstr(msg, "sim-google"), "token in: %s", msg);
    cr_assert_null(strstr(msg, "PRIVATE KEY"), "key in: %s", msg);
    cr_assert_null(strstr(msg, SUBJECT), "subject token in: %s", msg);
    char line[80];
    const char *p = strchr(key_pem, '\n') + 1; /* first base64 line */
    memcpy(line, p, 40);
    line[40] = '\0';
    cr_assert_null(strstr(msg, line), "key material in: %s", msg);
    p = strchr(other_pem, '\n') + 1;
    memcpy(line, p, 40);
    cr_assert_null(strstr(msg, line), "key material in: %s", msg);
}

/* ---- service accounts ---- */

Test(gcp, service_account_token_and_jwt) {
    const char *file = write_sa("sa.json", key_pem, 0600);
    char saved[512];
    strcpy(saved, file);
    aigw__credential cred = {0};
    aigw_error *err = NULL;
    cr_assert_eq(load_file(saved, &cred, &err), AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    cr_assert_str_eq(cred.name, "credential \"g\"");
    cr_assert(strstr(cred.source, "service account " SA_EMAIL " (file "), "%s", cred.source);
    char *tok = token_of(&cred);
    cr_assert_eq(strncmp(tok, "sim-google-", 11), 0, "%s", tok);

    /* what went to the token endpoint */
    json_object *last = last_request();
    cr_assert_str_eq(jstr(last, "path"), "/google/token");
    const char *body = jstr(last, "body");
    cr_assert(strstr(body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
              "%s", body);
    const char *a = strstr(body, "assertion=");
    cr_assert(a);
    a += strlen("assertion=");
    size_t alen = strcspn(a, "&");
    const char *d1 = memchr(a, '.', alen);
    cr_assert(d1);
    const char *d2 = memchr(d1 + 1, '.', alen - (size_t)(d1 + 1 - a));
    cr_assert(d2);
    json_object *hdr = b64url_json(a, (size_t)(d1 - a));
    json_object *claims = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
    cr_assert_str_eq(jstr(hdr, "alg"), "RS256");
    cr_assert_str_eq(jstr(hdr, "typ"), "JWT");
    cr_assert_str_eq(jstr(hdr, "kid"), "kid-123");
    cr_assert_str_eq(jstr(claims, "iss"), SA_EMAIL);
    cr_assert_str_eq(jstr(claims, "scope"), AIGW__GCP_DEFAULT_SCOPE);
    char uri[128];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/google/token", sim.port);
    cr_assert_str_eq(jstr(claims, "aud"), uri);
    int64_t iat = jint(claims, "iat"), exp = jint(claims, "exp");
    cr_assert(llabs((long long)(iat - time(NULL))) < 60);
    cr_assert_eq(exp - iat, 3600);
    json_object_put(hdr);
    json_object_put(claims);
    json_object_put(last);
    free(tok);
    aigw__credential_clear(&cred);
}

Test(gcp, configured_scopes) {
    const char *file = write_sa("sa.json", key_pem, 0600);
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"type\":\"gcp\",\"credentials_file\":\"%s\",\"scopes\":[\"https://a/s1\","
             "\"https://a/s2\"]}",
             file);
    json_object *o = json_tokener_parse(conf);
    aigw__credential cred = {0};
    aigw__cred_context ctx = {0};
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, NULL), AIGW_OK);
    json_object_put(o);
    free(token_of(&cred));
    json_object *last = last_request();
    const char *a = strstr(jstr(last, "body"), "assertion=") + 10;
    const char *d1 = strchr(a, '.');
    json_object *claims = b64url_json(d1 + 1, strcspn(d1 + 1, "."));
    cr_assert_str_eq(jstr(claims, "scope"), "https://a/s1 https://a/s2");
    json_object_put(claims);
    json_object_put(last);
    aigw__credential_clear(&cred);
}

Test(gcp, vertex_chat_through_the_library) {
    const char *file = write_sa("sa.json", key_pem, 0600);
    char config[2048];
    snprintf(config, sizeof config,
             "{\"backends\":{\"vx\":{\"schema\":\"gcp-vertex\",\"base_url\":\"http://"
             "127.0.0.1:%d/v1\",\"project\":\"p\",\"location\":\"us-central1\","
             "\"credential\":\"g\"}},\"credentials\":{\"g\":{\"type\":\"gcp\","
             "\"credentials_file\":\"%s\"}}}",
             sim.port, file);
    aigw_client *client = NULL;
    aigw_error *err = NULL;
    aigw_status cst = aigw_client_new_from_string(&client, config, &err);
    cr_assert_eq(cst, AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    char *out = NULL;
    aigw_status st =
        aigw_chat(client,
                  "{\"model\":\"vx/gemini-2.0-flash\",\"messages\":[{\"role\":\"user\","
                  "\"content\":\"hello there\"}]}",
                  &out, &err);
    cr_assert_eq(st, AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    cr_assert(strstr(out, "echo: hello there"), "%s", out);
    aigw_free(out);
    /* the simulator saw a token it issued, not the --bearer-token */
    json_object *last = last_request();
    json_object *h;
    cr_assert(json_object_object_get_ex(last, "headers", &h));
    const char *auth = jstr(h, "authorization");
    cr_assert(auth && strncmp(auth, "Bearer sim-google-", 18) == 0, "%s", auth ? auth : "");
    json_object_put(last);
    aigw_client_free(client);
}

/* The same through the credential API and libcurl: Vertex AI accepts the
 * token and refuses anything else. */
static long vertex_status(const char *token) {
    char url[256], auth[512];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/v1/projects/p/locations/us-central1/publishers/google/models/"
             "gemini-2.0-flash:generateContent",
             sim.port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    char *body = NULL;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (status == 200)
        cr_assert(strstr(body, "echo: hi"), "%s", body);
    free(body);
    return status;
}

Test(gcp, vertex_accepts_the_token) {
    const char *file = write_sa("sa.json", key_pem, 0600);
    aigw__credential cred = {0};
    cr_assert_eq(load_file(file, &cred, NULL), AIGW_OK);
    char *tok = token_of(&cred);
    cr_assert_eq(vertex_status(tok), 200);
    cr_assert_eq(vertex_status("sim-google-1-forged"), 401);
    free(tok);
    aigw__credential_clear(&cred);
}

Test(gcp, wrong_key_is_refused_with_googles_error) {
    const char *file = write_sa("sa.json", other_pem, 0600);
    aigw__credential cred = {0};
    aigw_error *err = NULL;
    cr_assert_eq(load_file(file, &cred, &err), AIGW_OK);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &err), AIGW_EAUTH);
    const char *msg = aigw_error_message(err);
    cr_assert(strstr(msg, "credential \"g\""), "%s", msg);
    cr_assert(strstr(msg, "invalid_grant"), "%s", msg);
    cr_assert(strstr(msg, "Invalid JWT Signature."), "%s", msg);
    assert_no_secret(msg);
    assert_no_secret(aigw_error_json(err));
    aigw_error_free(err);
    aigw__credential_clear(&cred);
}

static time_t fake_now;
static time_t fake_clock(void *user) {
    (void)user;
    return fake_now;
}

Test(gcp, expiry_refreshes) {
    const char *file = write_sa("sa.json", key_pem, 0600);
    aigw__credential cred = {0};
    cr_assert_eq(load_file(file, &cred, NULL), AIGW_OK);
    fake_now = time(NULL);
    aigw__refresher_set_clock(cred.refresher, fake_clock, NULL);
    char *t1 = token_of(&cred), *t2 = token_of(&cred);
    cr_assert_str_eq(t1, t2, "a fresh token is reused");
    fake_now += 3400; /* due for refresh (the token expires at +3600) */
    char *t3 = token_of(&cred);
    cr_assert_str_neq(t1, t3);
    free(t1);
    free(t2);
    free(t3);
    aigw__credential_clear(&cred);
}

static char logged[1024];
static void on_log(aigw_log_level level, const char *message, void *user) {
    (void)user;
    if (level == AIGW_LOG_WARN)
        snprintf(logged, sizeof logged, "%s", message);
}

Test(gcp, readable_key_file_warns) {
    const char *file = write_sa("sa.json", key_pem, 0644);
    char saved[512];
    strcpy(saved, file);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("gcp"));
    json_object_object_add(o, "credentials_file", json_object_new_string(saved));
    aigw__logger logger = {on_log, NULL, AIGW_LOG_INFO};
    aigw__cred_context ctx = {&logger, NULL, NULL};
    aigw__credential cred = {0};
    logged[0] = '\0';
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, NULL), AIGW_OK);
    cr_assert(strstr(logged, saved), "warning: %s", logged);
    aigw__credential_clear(&cred);
    /* 0600: no warning */
    chmod(saved, 0600);
    logged[0] = '\0';
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, NULL), AIGW_OK);
    cr_assert_str_eq(logged, "");
    aigw__credential_clear(&cred);
    json_object_put(o);
}

/* ---- external accounts ---- */

static void check_external(const char *source, int impersonate) {
    const char *file = write_ext("ext.json", source, impersonate);
    aigw__credential cred = {0};
    aigw_error *err = NULL;
    cr_assert_eq(load_file(file, &cred, &err), AIGW_OK, "%s", err ? aigw_error_message(err) : "");
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    char *tok = token_of(&cred);
    const char *want = impersonate ? "sim-google-" : "sim-google-sts-";
    cr_assert_eq(strncmp(tok, want, strlen(want)), 0, "%s", tok);
    if (impersonate) {
        cr_assert_neq(strncmp(tok, "sim-google-sts-", 15), 0, "%s", tok);
        cr_assert(strstr(cred.source, "impersonating " SA_EMAIL), "%s", cred.source);
        json_object *last = last_request();
        cr_assert(strstr(jstr(last, "path"), ":generateAccessToken"));
        json_object *req = json_tokener_parse(jstr(last, "body"));
        cr_assert_str_eq(jstr(req, "lifetime"), "3600s");
        json_object_put(req);
        json_object_put(last);
    } else {
        json_object *last = last_request();
        const char *body = jstr(last, "body");
        cr_assert(strstr(body, "subject_token=" SUBJECT), "%s", body);
        cr_assert(strstr(body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-"
                               "exchange"),
                  "%s", body);
        cr_assert(strstr(body, "requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%"
                               "3Aaccess_token"),
                  "%s", body);
        cr_assert(strstr(body, "audience=%2F%2Fiam.googleapis.com"), "%s", body);
        json_object_put(last);
    }
    free(tok);
    aigw__credential_clear(&cred);
}

Test(gcp, external_file_text) {
    char src[256];
    snprintf(src, sizeof src, "{\"file\":\"%s/subject.txt\"}", dir);
    check_external(src, 0);
    check_external(src, 1);
}

Test(gcp, external_file_json) {
    char src[256], path[128];
    snprintf(path, sizeof path, "%s/subject.json", dir);
    write_file(path, "{\"id_token\":\"" SUBJECT "\",\"other\":1}", 0600);
    snprintf(src, sizeof src,
             "{\"file\":\"%s\",\"format\":{\"type\":\"json\",\"subject_token_field_name\":"
             "\"id_token\"}}",
             path);
    check_external(src, 0);
    check_external(src, 1);
}

Test(gcp, external_url) {
    char src[512];
    snprintf(src, sizeof src,
             "{\"url\":\"http://127.0.0.1:%d/google/subject-token\",\"headers\":{"
             "\"Metadata-Flavor\":\"Google\"}}",
             sim.port);
    check_external(src, 0);
    check_external(src, 1);
    snprintf(src, sizeof src,
             "{\"url\":\"http://127.0.0.1:%d/google/subject-token?format=json\",\"headers\":{"
             "\"Metadata-Flavor\":\"Google\"},\"format\":{\"type\":\"json\","
             "\"subject_token_field_name\":\"id_token\"}}",
             sim.port);
    check_external(src, 1);
}

Test(gcp, external_file_is_reread_and_bad_subject_refused) {
    char src[256], path[128];
    snprintf(path, sizeof path, "%s/mine.txt", dir);
    write_file(path, "wrong-subject", 0600);
    snprintf(src, sizeof src, "{\"file\":\"%s\"}", path);
    const char *file = write_ext("ext.json", src, 0);
    aigw__credential cred = {0};
    aigw_error *err = NULL;
    cr_assert_eq(load_file(file, &cred, &err), AIGW_OK);
    aigw__cred_value v = {0};
    cr_assert_eq(aigw__refresher_get(cred.refresher, &v, &err), AIGW_EAUTH);
    cr_assert(strstr(aigw_error_message(err), "invalid_grant"), "%s", aigw_error_message(err));
    cr_assert_null(strstr(aigw_error_message(err), "wrong-subject"));
    aigw_error_free(err);
    aigw__credential_clear(&cred);
    /* rotated: a new credential (no backoff) reads the new contents */
    write_file(path, SUBJECT, 0600);
    cr_assert_eq(load_file(file, &cred, NULL), AIGW_OK);
    free(token_of(&cred));
    aigw__credential_clear(&cred);
}

/* ---- GOOGLE_APPLICATION_CREDENTIALS ---- */

Test(gcp, application_default) {
    aigw__credential cred = {0};
    aigw__cred_context ctx = {0};
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    cr_assert_eq(aigw__gcp_credential_default(&cred, &ctx, NULL), AIGW_OK);
    cr_assert_eq(cred.kind, AIGW__CRED_NONE);
    aigw__credential_clear(&cred);

    const char *file = write_sa("sa.json", key_pem, 0600);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", file, 1);
    aigw_error *err = NULL;
    cr_assert_eq(aigw__gcp_credential_default(&cred, &ctx, &err), AIGW_OK, "%s",
                 err ? aigw_error_message(err) : "");
    cr_assert_eq(cred.kind, AIGW__CRED_BEARER);
    cr_assert(strstr(cred.source, "GOOGLE_APPLICATION_CREDENTIALS"), "%s", cred.source);
    free(token_of(&cred));
    aigw__credential_clear(&cred);

    /* a gcp credential with no credentials_file uses it too */
    json_object *o = json_tokener_parse("{\"type\":\"gcp\"}");
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, NULL), AIGW_OK);
    free(token_of(&cred));
    aigw__credential_clear(&cred);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, &err),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(err), "GOOGLE_APPLICATION_CREDENTIALS"));
    aigw_error_free(err);
    json_object_put(o);
}

/* ---- malformed files ---- */

static void expect_config_error(const char *text, const char *needle) {
    const char *path = in_dir("bad.json");
    char saved[512];
    strcpy(saved, path);
    write_file(saved, text, 0600);
    aigw__credential cred = {0};
    aigw_error *err = NULL;
    cr_assert_eq(load_file(saved, &cred, &err), AIGW_ECONFIG, "accepted: %s", text);
    const char *msg = aigw_error_message(err);
    cr_assert(strstr(msg, saved), "no file name in: %s", msg);
    cr_assert(strstr(msg, needle), "no \"%s\" in: %s", needle, msg);
    assert_no_secret(msg);
    aigw_error_free(err);
    aigw__credential_clear(&cred);
}

/* A service-account file with KEY replaced (or removed when VALUE is NULL). */
static char *sa_with(const char *key, const char *value) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "private_key_id", json_object_new_string("kid"));
    json_object_object_add(o, "private_key", json_object_new_string(key_pem));
    json_object_object_add(o, "client_email", json_object_new_string(SA_EMAIL));
    json_object_object_add(o, "token_uri", json_object_new_string("http://127.0.0.1:1/t"));
    if (value)
        json_object_object_add(o, key, json_tokener_parse(value));
    else
        json_object_object_del(o, key);
    char *s = strdup(json_object_to_json_string(o));
    json_object_put(o);
    return s;
}

Test(gcp, malformed_files) {
    static const struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"client_email", NULL, "\"client_email\": missing"},
        {"private_key", NULL, "\"private_key\": missing"},
        {"private_key_id", NULL, "\"private_key_id\""},
        {"token_uri", NULL, "\"token_uri\""},
        {"token_uri", "\"ftp://x\"", "\"token_uri\""},
        {"client_email", "42", "\"client_email\": must be a string"},
        {"type", "\"authorized_user\"", "\"type\""},
        {"type", "\"wizard\"", "\"type\": unknown type"},
        {"type", NULL, "\"type\": missing"},
        {"private_key", "\"-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n\"",
         "\"private_key\": not a PEM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = sa_with(cases[i].key, cases[i].value);
        expect_config_error(text, cases[i].needle);
        free(text);
    }
    /* a broken key body: the real key with its middle damaged */
    char *broken = strdup(key_pem);
    memset(broken + 200, '*', 40);
    json_object *s = json_object_new_string(broken);
    char *value = strdup(json_object_to_json_string(s));
    json_object_put(s);
    char *text = sa_with("private_key", value);
    expect_config_error(text, "\"private_key\": not a PEM");
    free(text);
    free(value);
    free(broken);

    expect_config_error("{\"type\":\"service_account\",", "invalid JSON");
    expect_config_error("[1,2]", "not a JSON object");
    expect_config_error("{\"type\":\"external_account\",\"audience\":\"a\","
                        "\"subject_token_type\":\"t\",\"token_url\":\"http://h/sts\"}",
                        "\"credential_source\": missing");
    expect_config_error("{\"type\":\"external_account\",\"audience\":\"a\","
                        "\"subject_token_type\":\"t\",\"token_url\":\"http://h/sts\","
                        "\"credential_source\":{\"file\":\"/x\",\"format\":{\"type\":\"json\"}}}",
                        "\"credential_source.format.subject_token_field_name\": missing");
    expect_config_error("{\"type\":\"external_account\",\"audience\":\"a\","
                        "\"subject_token_type\":\"t\",\"token_url\":\"http://h/sts\","
                        "\"credential_source\":{\"environment_id\":\"aws1\"}}",
                        "\"credential_source.environment_id\"");
    expect_config_error("{\"type\":\"external_account\",\"subject_token_type\":\"t\","
                        "\"token_url\":\"http://h/sts\",\"credential_source\":{\"file\":\"/x\"}}",
                        "\"audience\": missing");
}

Test(gcp, bad_config_keys) {
    aigw__credential cred = {0};
    aigw__cred_context ctx = {0};
    aigw_error *err = NULL;
    json_object *o = json_tokener_parse("{\"type\":\"gcp\",\"credentials_file\":\"/x\",\"x\":1}");
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, &err),
                 AIGW_ECONFIG);
    cr_assert_str_eq(aigw_error_message(err),
                     "credentials.g: unknown key \"x\" (known: type, credentials_file, scopes)");
    aigw_error_free(err);
    err = NULL;
    json_object_put(o);
    o = json_tokener_parse("{\"type\":\"gcp\",\"credentials_file\":\"/x\",\"scopes\":\"s\"}");
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, &err),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(err), "credentials.g.scopes"));
    aigw_error_free(err);
    err = NULL;
    json_object_put(o);
    o = json_tokener_parse("{\"type\":\"gcp\",\"credentials_file\":\"/nonexistent/x.json\"}");
    cr_assert_eq(aigw__gcp_credential_load(&cred, "g", o, "credentials.g", &ctx, &err),
                 AIGW_ECONFIG);
    cr_assert(strstr(aigw_error_message(err), "/nonexistent/x.json"));
    aigw_error_free(err);
    json_object_put(o);
}
