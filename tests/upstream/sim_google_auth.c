/* SPDX-License-Identifier: Apache-2.0 */
/* Google's token services in the simulator: the OAuth token endpoint (the
 * JWT-bearer grant of service-account keys, RFC 7523), STS (token exchange,
 * RFC 8693, for workload identity federation), the IAM credentials API
 * (generateAccessToken) and a subject-token URL for external accounts.
 * Tokens come from sim_tokens.c; Vertex AI accepts the "google" ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sim_router.h"
#include "sim_tokens.h"

void sim_google_auth_register(void);
int sim_google_auth_configure(const char *public_key_file, const char *subject_token_file,
                              long token_lifetime);

#define SKEW 300

static EVP_PKEY *public_key;           /* --google-public-key */
static const char *subject_token_file; /* --google-subject-token-file */
static long token_lifetime = 3600;     /* --token-lifetime */

int sim_google_auth_configure(const char *public_key_file, const char *subject_file,
                              long lifetime) {
    if (lifetime > 0)
        token_lifetime = lifetime;
    subject_token_file = subject_file;
    if (public_key_file) {
        FILE *f = fopen(public_key_file, "r");
        if (!f)
            return -1;
        public_key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
        if (!public_key)
            return -1;
    }
    return 0;
}

/* ---- helpers ---- */

static void oauth_error(sim_response *res, int status, const char *error, const char *desc) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description", json_object_new_string(desc));
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void api_error(sim_response *res, int status, const char *status_name, const char *msg) {
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(status));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(e, "status", json_object_new_string(status_name));
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The decoded value of form field NAME in BODY (malloc'd), or NULL. */
static char *form_get(const char *body, size_t len, const char *name) {
    size_t nlen = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            char *out = malloc((size_t)(stop - v) + 1);
            size_t j = 0;
            if (!out)
                abort();
            for (const char *q = v; q < stop; q++) {
                if (*q == '+') {
                    out[j++] = ' ';
                } else if (*q == '%' && stop - q >= 3 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                    out[j++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                    q += 2;
                } else {
                    out[j++] = *q;
                }
            }
            out[j] = '\0';
            return out;
        }
        p = stop + 1;
    }
    return NULL;
}

/* base64url (no padding) → bytes (malloc'd), or NULL. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len) {
    if (len % 4 == 1)
        return NULL;
    size_t padded = (len + 3) / 4 * 4;
    char *std = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!std || !out)
        abort();
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=')
            c = '!'; /* not base64url */
        std[i] = c;
    }
    for (size_t i = len; i < padded; i++)
        std[i] = '=';
    std[padded] = '\0';
    int n = EVP_DecodeBlock(out, (const unsigned char *)std, (int)padded);
    free(std);
    if (n < 0) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)n - (padded - len);
    out[*out_len] = '\0';
    return out;
}

static json_object *b64url_json(const char *s, size_t len) {
    size_t n;
    unsigned char *raw = b64url_decode(s, len, &n);
    if (!raw)
        return NULL;
    json_object *o = json_tokener_parse((const char *)raw);
    free(raw);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* "http://HOST/google/token" as the client addressed it. */
static void token_url(const sim_request *req, char *out, size_t n) {
    const char *host = sim_request_header(req, "host");
    snprintf(out, n, "http://%s%s", host ? host : "", req->path);
}

static const char *jstr(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int jint(json_object *o, const char *key, long long *out) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    *out = (long long)json_object_get_int64(v);
    return 0;
}

static void token_answer(sim_response *res, const char *token) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(token));
    json_object_object_add(o, "expires_in", json_object_new_int64(token_lifetime));
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    sim_res_json(res, 200, o);
    json_object_put(o);
}

/* ---- POST /google/token: the JWT-bearer grant ---- */

/* NULL when ASSERTION is a valid JWT for this endpoint, else the reason. */
static const char *check_assertion(const sim_request *req, const char *jwt) {
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.";
    json_object *hdr = b64url_json(jwt, (size_t)(dot1 - jwt));
    json_object *claims = b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const char *why = NULL;
    size_t siglen = 0;
    unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
    const char *alg = hdr ? jstr(hdr, "alg") : NULL;
    long long iat = 0, exp = 0, now = (long long)time(NULL);
    char aud_want[600];
    token_url(req, aud_want, sizeof aud_want);
    if (!hdr || !claims || !sig) {
        why = "Invalid JWT: malformed.";
    } else if (!alg || strcmp(alg, "RS256") != 0) {
        why = "Invalid JWT: unsupported algorithm.";
    } else if (!public_key) {
        why = "Invalid JWT Signature."; /* no --google-public-key: nothing verifies */
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, public_key) == 1 &&
                 EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
                                  (size_t)(dot2 - jwt)) == 1;
        EVP_MD_CTX_free(md);
        ERR_clear_error();
        if (!ok)
            why = "Invalid JWT Signature.";
    }
    if (!why) {
        const char *iss = jstr(claims, "iss"), *aud = jstr(claims, "aud");
        if (!iss || !*iss)
            why = "Invalid JWT: No valid issuer.";
        else if (!aud || strcmp(aud, aud_want) != 0)
            why = "Invalid JWT: Failed audience check.";
        else if (jint(claims, "iat", &iat) || jint(claims, "exp", &exp))
            why = "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.";
        else if (iat > now + SKEW || exp <= now - SKEW || exp - iat > 3600 || exp <= iat)
            why = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                  "reasonable timeframe. Check your iat and exp values in the JWT claim.";
    }
    json_object_put(hdr);
    json_object_put(claims);
    free(sig);
    return why;
}

static void h_token(const sim_request *req, sim_response *res) {
    const char *body = req->body.data ? req->body.data : "";
    char *grant = form_get(body, req->body.len, "grant_type");
    char *assertion = form_get(body, req->body.len, "assertion");
    if (!grant || strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0) {
        oauth_error(res, 400, "unsupported_grant_type", "Invalid grant_type: ");
    } else if (!assertion || !*assertion) {
        oauth_error(res, 400, "invalid_request", "Missing required parameter: assertion");
    } else {
        const char *why = check_assertion(req, assertion);
        if (why)
            oauth_error(res, 400, "invalid_grant", why);
        else
            token_answer(res, sim_token_issue("google", token_lifetime));
    }
    free(grant);
    free(assertion);
}

/* ---- POST /google/sts: token exchange ---- */

/* The subject token file's contents without trailing whitespace (malloc'd). */
static char *expected_subject(void) {
    if (!subject_token_file)
        return NULL;
    FILE *f = fopen(subject_token_file, "rb");
    if (!f)
        return NULL;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    return strdup(buf);
}

static void h_sts(const sim_request *req, sim_response *res) {
    const char *body = req->body.data ? req->body.data : "";
    size_t len = req->body.len;
    char *grant = form_get(body, len, "grant_type");
    char *audience = form_get(body, len, "audience");
    char *subject = form_get(body, len, "subject_token");
    char *subject_type = form_get(body, len, "subject_token_type");
    char *requested = form_get(body, len, "requested_token_type");
    char *want = expected_subject();
    if (!grant || strcmp(grant, "urn:ietf:params:oauth:grant-type:token-exchange") != 0)
        oauth_error(res, 400, "unsupported_grant_type", "Invalid grant_type.");
    else if (!audience || !*audience)
        oauth_error(res, 400, "invalid_request", "Missing required parameter: audience");
    else if (!subject_type || !*subject_type)
        oauth_error(res, 400, "invalid_request", "Missing required parameter: subject_token_type");
    else if (requested && strcmp(requested, "urn:ietf:params:oauth:token-type:access_token") != 0)
        oauth_error(res, 400, "invalid_request", "Invalid requested_token_type.");
    else if (!subject || !want || strcmp(subject, want) != 0)
        oauth_error(res, 400, "invalid_grant", "The provided subject token is invalid.");
    else {
        json_object *o = json_object_new_object();
        json_object_object_add(
            o, "access_token",
            json_object_new_string(sim_token_issue("google-sts", token_lifetime)));
        json_object_object_add(
            o, "issued_token_type",
            json_object_new_string("urn:ietf:params:oauth:token-type:access_token"));
        json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
        json_object_object_add(o, "expires_in", json_object_new_int64(token_lifetime));
        sim_res_json(res, 200, o);
        json_object_put(o);
    }
    free(grant);
    free(audience);
    free(subject);
    free(subject_type);
    free(requested);
    free(want);
}

/* ---- POST /google/iam/...:generateAccessToken ---- */

static void h_generate(const sim_request *req, sim_response *res) {
    const char *auth = sim_request_header(req, "authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !sim_token_valid(auth + 7, "google-sts")) {
        api_error(res, 401, "UNAUTHENTICATED",
                  "Request had invalid authentication credentials. Expected OAuth 2 access "
                  "token, login cookie or other valid authentication credential.");
        return;
    }
    json_object *scope = NULL;
    if (!req->json || !json_object_object_get_ex(req->json, "scope", &scope) ||
        !json_object_is_type(scope, json_type_array) || json_object_array_length(scope) == 0) {
        api_error(res, 400, "INVALID_ARGUMENT", "Scope required.");
        return;
    }
    time_t exp = time(NULL) + token_lifetime;
    struct tm tm;
    char when[64];
    gmtime_r(&exp, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "accessToken",
                           json_object_new_string(sim_token_issue("google", token_lifetime)));
    json_object_object_add(o, "expireTime", json_object_new_string(when));
    sim_res_json(res, 200, o);
    json_object_put(o);
}

/* ---- GET /google/subject-token: a credential_source URL ---- */

static void h_subject(const sim_request *req, sim_response *res) {
    const char *flavor = sim_request_header(req, "metadata-flavor");
    char *tok = expected_subject();
    if (!flavor || strcmp(flavor, "Google") != 0) {
        oauth_error(res, 400, "invalid_request", "Missing Metadata-Flavor: Google header.");
    } else if (!tok) {
        oauth_error(res, 404, "not_found", "No --google-subject-token-file.");
    } else if (strstr(req->url.data ? req->url.data : "", "format=json")) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id_token", json_object_new_string(tok));
        sim_res_json(res, 200, o);
        json_object_put(o);
    } else {
        sim_res_body(res, 200, "text/plain", tok, strlen(tok));
    }
    free(tok);
}

static int ga_authorized(const sim_request *req, const char *api_key) {
    (void)req;
    (void)api_key; /* the token endpoints take no API key */
    return 1;
}

static void ga_error(sim_response *res, int status, const char *message) {
    const char *code = status == 404   ? "not_found"
                       : status == 405 ? "invalid_request"
                       : status == 429 ? "rate_limit_exceeded"
                       : status >= 500 ? "server_error"
                                       : "invalid_request";
    oauth_error(res, status, code, message ? message : "simulated error");
}

static const sim_route ga_routes[] = {
    {"POST", "/google/token", h_token},
    {"POST", "/google/sts", h_sts},
    {"POST", "/google/iam/v1/projects/*/serviceAccounts/*:generateAccessToken", h_generate},
    {"POST", "/google/iam/*:generateAccessToken", h_generate},
    {"GET", "/google/subject-token", h_subject},
};

static const sim_provider ga_provider = {
    "google-auth", "/google/", ga_routes, sizeof ga_routes / sizeof ga_routes[0],
    ga_authorized, ga_error,
};

void sim_google_auth_register(void) {
    sim_router_register(&ga_provider);
}
