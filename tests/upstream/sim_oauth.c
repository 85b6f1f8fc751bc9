/* SPDX-License-Identifier: Apache-2.0 */
/* Simulated OAuth2 token endpoints: Azure Entra ID client credentials (client
 * secret or workload identity's federated token as client assertion) and a
 * generic OIDC provider (client_secret_basic / client_secret_post). Tokens
 * come from the shared registry (sim_tokens.c), so the model endpoints
 * accept them. */
#include "sim_oauth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "sim_router.h"
#include "sim_tokens.h"

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static struct {
    const char *entra_client_id, *entra_client_secret, *entra_federated_token_file;
    const char *oidc_client_id, *oidc_client_secret;
    long lifetime;
    int fault_set;
    sim_fault fault;
    long fault_count; /* -1: every request */
    long token_requests;
} oauth = {.lifetime = 3600, .fault_count = -1};

long sim_token_lifetime(void) {
    return oauth.lifetime;
}

void sim_oauth_set_token_lifetime(long seconds) {
    oauth.lifetime = seconds;
}

/* "count=N" is ours; the rest is an ordinary fault spec. */
static int parse_fault_flag(const char *spec) {
    char rest[512] = "";
    const char *p = spec;
    sim_fault_init(&oauth.fault);
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 6 && strncmp(p, "count=", 6) == 0) {
            char *end;
            errno = 0;
            long c = strtol(p + 6, &end, 10);
            if (errno || end != p + n || c < 0)
                return -1;
            oauth.fault_count = c;
        } else if (n) {
            if (strlen(rest) + n + 2 > sizeof rest)
                return -1;
            if (rest[0])
                strcat(rest, ",");
            strncat(rest, p, n);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    char err[160];
    if (sim_fault_parse(&oauth.fault, rest, err, sizeof err) != 0) {
        fprintf(stderr, "aigw-sim: --fault-token-endpoints: %s\n", err);
        return -1;
    }
    oauth.fault_set = 1;
    return 0;
}

int sim_oauth_option(const char *flag, const char *value) {
    if (strcmp(flag, "--entra-client-id") == 0) {
        oauth.entra_client_id = value;
    } else if (strcmp(flag, "--entra-client-secret") == 0) {
        oauth.entra_client_secret = value;
    } else if (strcmp(flag, "--entra-federated-token-file") == 0) {
        oauth.entra_federated_token_file = value;
    } else if (strcmp(flag, "--oidc-client-id") == 0) {
        oauth.oidc_client_id = value;
    } else if (strcmp(flag, "--oidc-client-secret") == 0) {
        oauth.oidc_client_secret = value;
    } else if (strcmp(flag, "--fault-token-endpoints") == 0) {
        if (parse_fault_flag(value) != 0) {
            fprintf(stderr, "aigw-sim: bad --fault-token-endpoints %s\n", value);
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
}

int sim_token_fault_apply(sim_response *res,
                          void (*error)(sim_response *res, int status, const char *message)) {
    long n = oauth.token_requests++;
    if (!oauth.fault_set || (oauth.fault_count >= 0 && n >= oauth.fault_count))
        return 0;
    const sim_fault *f = &oauth.fault;
    if (f->latency_ms)
        res->latency_ms = f->latency_ms;
    if (f->trickle_ms) {
        res->trickle_ms = f->trickle_ms;
        res->trickle_bytes = f->trickle_bytes;
    }
    if (f->cut_after >= 0)
        res->cut_after = f->cut_after;
    if (f->close) {
        res->close_silently = 1;
        return 1;
    }
    if (f->status) {
        error(res, f->status, NULL);
        if (f->retry_after >= 0) {
            char v[16];
            snprintf(v, sizeof v, "%d", f->retry_after);
            sim_res_header(res, "Retry-After", v);
        }
        return 1;
    }
    if (f->malformed) {
        static const char bad[] = "<html><body>upstream connect error</body></html>";
        sim_res_body(res, 200, "application/json", bad, sizeof bad - 1);
        return 1;
    }
    return 0;
}

/* ---- application/x-www-form-urlencoded ---- */

typedef struct form_field {
    char *name, *value;
} form_field;

typedef struct form {
    form_field f[32];
    size_t n;
    int duplicate; /* a parameter given twice (RFC 6749 §3.2: invalid) */
} form;

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *form_decode(const char *s, size_t n) {
    char *out = sim_xmalloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] =
                (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void form_parse(form *fm, const char *s, size_t len) {
    memset(fm, 0, sizeof *fm);
    size_t i = 0;
    while (i < len && fm->n < sizeof fm->f / sizeof fm->f[0]) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (s + i)) : j - i;
            char *name = form_decode(s + i, nlen);
            char *value = eq ? form_decode(eq + 1, (size_t)(s + j - eq - 1)) : sim_xstrdup("");
            for (size_t k = 0; k < fm->n; k++)
                if (strcmp(fm->f[k].name, name) == 0)
                    fm->duplicate = 1;
            fm->f[fm->n].name = name;
            fm->f[fm->n].value = value;
            fm->n++;
        }
        i = j + 1;
    }
}

static const char *form_get(const form *fm, const char *name) {
    for (size_t k = 0; k < fm->n; k++)
        if (strcmp(fm->f[k].name, name) == 0)
            return fm->f[k].value;
    return NULL;
}

static void form_free(form *fm) {
    for (size_t k = 0; k < fm->n; k++) {
        free(fm->f[k].name);
        free(fm->f[k].value);
    }
    fm->n = 0;
}

static int is_form(const sim_request *req) {
    const char *ct = sim_request_header(req, "content-type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* The contents of FILE without trailing whitespace (caller frees), or NULL. */
static char *read_file(const char *file) {
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    sim_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sim_buf_append(&b, chunk, n);
    fclose(f);
    size_t len;
    char *s = sim_buf_take(&b, &len);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

static void token_answer(sim_response *res, const char *issuer, int entra) {
    const char *tok = sim_token_issue(issuer, oauth.lifetime);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(o, "expires_in", json_object_new_int64(oauth.lifetime));
    if (entra)
        json_object_object_add(o, "ext_expires_in", json_object_new_int64(oauth.lifetime));
    json_object_object_add(o, "access_token", json_object_new_string(tok));
    sim_res_json(res, 200, o);
    sim_res_header(res, "Cache-Control", "no-store");
    json_object_put(o);
}

/* ---- Entra ID ---- */

/* Entra's error shape; MESSAGE starts with "AADSTSnnnn: ". */
static void entra_error_code(sim_response *res, int status, const char *error,
                             const char *message) {
    long code = 0;
    if (strncmp(message, "AADSTS", 6) == 0)
        code = strtol(message + 6, NULL, 10);
    char desc[1024], ts[32], uri[96];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%SZ", &tm);
    snprintf(desc, sizeof desc,
             "%s Trace ID: 0b3c7a56-1c2d-4e5f-9a8b-7c6d5e4f3a21 Correlation ID: "
             "5f4e3d2c-1b0a-4987-8654-3210fedcba98 Timestamp: %s",
             message, ts);
    snprintf(uri, sizeof uri, "https://login.microsoftonline.com/error?code=%ld", code);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description", json_object_new_string(desc));
    json_object *codes = json_object_new_array();
    json_object_array_add(codes, json_object_new_int64(code));
    json_object_object_add(o, "error_codes", codes);
    json_object_object_add(o, "timestamp", json_object_new_string(ts));
    json_object_object_add(o, "trace_id",
                           json_object_new_string("0b3c7a56-1c2d-4e5f-9a8b-7c6d5e4f3a21"));
    json_object_object_add(o, "correlation_id",
                           json_object_new_string("5f4e3d2c-1b0a-4987-8654-3210fedcba98"));
    json_object_object_add(o, "error_uri", json_object_new_string(uri));
    sim_res_json(res, status, o);
    json_object_put(o);
}

/* The router's and the faults' errors, by status. */
static void entra_error(sim_response *res, int status, const char *message) {
    if (status == 400 || status == 404 || status == 405)
        entra_error_code(res, status, "invalid_request",
                         message ? message
                                 : "AADSTS900561: The endpoint only accepts POST requests.");
    else if (status == 401)
        entra_error_code(res, 401, "invalid_client",
                         "AADSTS7000215: Invalid client secret provided.");
    else if (status == 429)
        entra_error_code(res, 429, "temporarily_unavailable",
                         "AADSTS50196: The server terminated an operation because it encountered "
                         "a client request loop.");
    else
        entra_error_code(res, status, "temporarily_unavailable",
                         "AADSTS90033: A transient error has occurred. Please try again.");
}

static void entra_token(const sim_request *req, sim_response *res) {
    if (sim_token_fault_apply(res, entra_error))
        return;
    /* /entra/{tenant}/oauth2/v2.0/token */
    const char *tenant = req->path + strlen("/entra/");
    int tlen = (int)strcspn(tenant, "/");
    char msg[512];
    form fm;
    form_parse(&fm, req->body.data ? req->body.data : "", req->body.len);
    const char *grant = form_get(&fm, "grant_type"), *id = form_get(&fm, "client_id");
    const char *secret = form_get(&fm, "client_secret");
    const char *atype = form_get(&fm, "client_assertion_type");
    const char *assertion = form_get(&fm, "client_assertion");
    const char *scope = form_get(&fm, "scope");
    const char *missing = !grant ? "grant_type" : !id ? "client_id" : !scope ? "scope" : NULL;
    if (!is_form(req)) {
        entra_error_code(res, 400, "invalid_request",
                         "AADSTS900144: The request body must contain the following parameter: "
                         "'grant_type'.");
    } else if (fm.duplicate) {
        entra_error_code(res, 400, "invalid_request",
                         "AADSTS90014: A parameter was given more than once.");
    } else if (missing) {
        snprintf(msg, sizeof msg,
                 "AADSTS900144: The request body must contain the following parameter: '%s'.",
                 missing);
        entra_error_code(res, 400, "invalid_request", msg);
    } else if (strcmp(grant, "client_credentials") != 0) {
        entra_error_code(res, 400, "unsupported_grant_type",
                         "AADSTS70003: The app requested an unsupported grant type.");
    } else if (!oauth.entra_client_id || strcmp(id, oauth.entra_client_id) != 0) {
        snprintf(msg, sizeof msg,
                 "AADSTS700016: Application with identifier '%.64s' was not found in the "
                 "directory '%.*s'. This can happen if the application has not been installed "
                 "by the administrator of the tenant or consented to by any user in the tenant.",
                 id, tlen > 64 ? 64 : tlen, tenant);
        entra_error_code(res, 400, "unauthorized_client", msg);
    } else if (secret && assertion) {
        entra_error_code(res, 401, "invalid_client",
                         "AADSTS700025: Client is public so neither 'client_assertion' nor "
                         "'client_secret' should be presented.");
    } else if (secret) {
        if (!oauth.entra_client_secret || strcmp(secret, oauth.entra_client_secret) != 0) {
            snprintf(msg, sizeof msg,
                     "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                     "sent in the request is the client secret value, not the client secret ID, "
                     "for a secret added to app '%.64s'.",
                     id);
            entra_error_code(res, 401, "invalid_client", msg);
        } else {
            token_answer(res, "entra", 1);
        }
    } else if (assertion) {
        char *expected =
            oauth.entra_federated_token_file ? read_file(oauth.entra_federated_token_file) : NULL;
        if (!atype || strcmp(atype, JWT_BEARER) != 0)
            entra_error_code(res, 400, "invalid_request",
                             "AADSTS50027: JWT token is invalid or malformed: the "
                             "client_assertion_type must be " JWT_BEARER ".");
        else if (!expected || strcmp(expected, assertion) != 0)
            entra_error_code(res, 401, "invalid_client",
                             "AADSTS700213: No matching federated identity record found for "
                             "presented assertion subject.");
        else
            token_answer(res, "entra", 1);
        free(expected);
    } else {
        entra_error_code(res, 401, "invalid_client",
                         "AADSTS7000218: The request body must contain the following parameter: "
                         "'client_assertion' or 'client_secret'.");
    }
    form_free(&fm);
}

/* ---- generic OIDC (RFC 6749 errors) ---- */

static void oidc_error_code(sim_response *res, int status, const char *error,
                            const char *description) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description", json_object_new_string(description));
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void oidc_error(sim_response *res, int status, const char *message) {
    if (status == 400 || status == 404 || status == 405)
        oidc_error_code(res, status, "invalid_request", message ? message : "Invalid request");
    else if (status == 401)
        oidc_error_code(res, 401, "invalid_client", "Invalid client credentials");
    else if (status == 429)
        oidc_error_code(res, 429, "slow_down", "Too many requests");
    else
        oidc_error_code(res, status, "server_error", "Internal server error");
}

/* client_id and client_secret from "Authorization: Basic ..." (RFC 6749
 * §2.3.1: each form-urlencoded). 0 when absent, -1 when malformed. */
static int basic_credentials(const sim_request *req, char **id, char **secret) {
    const char *h = sim_request_header(req, "authorization");
    *id = *secret = NULL;
    if (!h)
        return 0;
    if (strncasecmp(h, "Basic ", 6) != 0)
        return -1;
    const char *b64 = h + 6;
    size_t n = strlen(b64);
    if (n == 0 || n % 4 || n > 4096)
        return -1;
    unsigned char *raw = sim_xmalloc(n);
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (len < 0) {
        free(raw);
        return -1;
    }
    while (n && b64[n - 1] == '=') {
        len--;
        n--;
    }
    char *colon = memchr(raw, ':', (size_t)len);
    if (!colon) {
        free(raw);
        return -1;
    }
    *id = form_decode((char *)raw, (size_t)(colon - (char *)raw));
    *secret = form_decode(colon + 1, (size_t)((char *)raw + len - colon - 1));
    free(raw);
    return 1;
}

static void oidc_token(const sim_request *req, sim_response *res) {
    if (sim_token_fault_apply(res, oidc_error))
        return;
    form fm;
    form_parse(&fm, req->body.data ? req->body.data : "", req->body.len);
    char *bid = NULL, *bsecret = NULL;
    int basic = basic_credentials(req, &bid, &bsecret);
    const char *grant = form_get(&fm, "grant_type");
    const char *fid = form_get(&fm, "client_id"), *fsecret = form_get(&fm, "client_secret");
    if (!is_form(req) || fm.duplicate) {
        oidc_error_code(res, 400, "invalid_request",
                        "The request must be a form with each parameter at most once");
    } else if (basic < 0) {
        oidc_error_code(res, 401, "invalid_client", "Malformed Basic authorization header");
        sim_res_header(res, "WWW-Authenticate", "Basic realm=\"sim\"");
    } else if (basic && fsecret) {
        oidc_error_code(res, 400, "invalid_request",
                        "The client used more than one authentication method");
    } else if (!grant) {
        oidc_error_code(res, 400, "invalid_request", "Missing grant_type");
    } else if (strcmp(grant, "client_credentials") != 0) {
        oidc_error_code(res, 400, "unsupported_grant_type", "Unsupported grant type");
    } else {
        const char *id = basic ? bid : fid, *secret = basic ? bsecret : fsecret;
        if (basic && fid && strcmp(fid, bid) != 0) {
            oidc_error_code(res, 400, "invalid_request", "client_id does not match");
        } else if (!id || !secret || !oauth.oidc_client_id || !oauth.oidc_client_secret ||
                   strcmp(id, oauth.oidc_client_id) != 0 ||
                   strcmp(secret, oauth.oidc_client_secret) != 0) {
            oidc_error_code(res, 401, "invalid_client", "Invalid client or client credentials");
            if (basic)
                sim_res_header(res, "WWW-Authenticate", "Basic realm=\"sim\"");
        } else {
            token_answer(res, "oidc", 0);
        }
    }
    free(bid);
    free(bsecret);
    form_free(&fm);
}

/* Token endpoints take no API key. */
static int token_endpoint_authorized(const sim_request *req, const char *api_key) {
    (void)req;
    (void)api_key;
    return 1;
}

static const sim_route entra_routes[] = {
    {"POST", "/entra/*/oauth2/v2.0/token", entra_token},
};

static const sim_provider entra_provider = {
    .name = "entra",
    .prefix = "/entra/",
    .routes = entra_routes,
    .nroutes = sizeof entra_routes / sizeof entra_routes[0],
    .authorized = token_endpoint_authorized,
    .error = entra_error,
};

static const sim_route oidc_routes[] = {
    {"POST", "/oidc/token", oidc_token},
};

static const sim_provider oidc_provider = {
    .name = "oidc",
    .prefix = "/oidc/",
    .routes = oidc_routes,
    .nroutes = sizeof oidc_routes / sizeof oidc_routes[0],
    .authorized = token_endpoint_authorized,
    .error = oidc_error,
};

void sim_oauth_register(void) {
    sim_router_register(&entra_provider);
    sim_router_register(&oidc_provider);
}
