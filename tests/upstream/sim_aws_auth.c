/* SPDX-License-Identifier: Apache-2.0 */
/* AWS token endpoints: STS AssumeRoleWithWebIdentity (POST /sts/, in STS's
 * XML) and the ECS/EKS container credentials endpoint
 * (GET /aws/container-credentials, JSON). The credentials they hand out
 * come from sim_tokens.c, so the Bedrock module accepts them afterwards. */
#include "sim_oauth.h"
#include "sim_router.h"
#include "sim_tokens.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sim_aws_auth_option(const char *name, const char *value);
void sim_aws_auth_register(void);

static long lifetime_s;             /* 0: --token-lifetime */
static const char *container_token; /* NULL: no Authorization required */
static unsigned long sts_seq;

/* ---- options ---- */

/* --aws-credential-lifetime N, --aws-container-token T. (The faults of
 * --fault-token-endpoints are sim_oauth.c's, shared by every token
 * endpoint.) Returns 1 when it took NAME, else 0; exits on a bad value. */
int sim_aws_auth_option(const char *name, const char *value) {
    if (strcmp(name, "--aws-credential-lifetime") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 1 || v > 43200) {
            fprintf(stderr, "aigw-sim: bad --aws-credential-lifetime %s\n", value);
            exit(2);
        }
        lifetime_s = v;
        return 1;
    }
    if (strcmp(name, "--aws-container-token") == 0) {
        container_token = *value ? value : NULL;
        return 1;
    }
    return 0;
}

/* Issued credentials live --aws-credential-lifetime, else --token-lifetime. */
static long aws_lifetime(void) {
    return lifetime_s > 0 ? lifetime_s : sim_token_lifetime();
}

/* ---- helpers ---- */

static void iso_time(long t, char out[32]) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int hexv(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The decoded value of NAME in an application/x-www-form-urlencoded
 * string, or NULL (caller frees). */
static char *form_value(const char *form, size_t len, const char *name) {
    size_t nlen = strlen(name);
    const char *p = form, *end = form + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            char *v = sim_xmalloc((size_t)(pe - eq));
            size_t o = 0;
            for (const char *c = eq + 1; c < pe; c++) {
                if (*c == '+') {
                    v[o++] = ' ';
                } else if (*c == '%' && pe - c > 2 && hexv(c[1]) >= 0 && hexv(c[2]) >= 0) {
                    v[o++] = (char)(hexv(c[1]) * 16 + hexv(c[2]));
                    c += 2;
                } else {
                    v[o++] = *c;
                }
            }
            v[o] = '\0';
            return v;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

static void xml_escape(sim_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<':
            sim_buf_puts(b, "&lt;");
            break;
        case '>':
            sim_buf_puts(b, "&gt;");
            break;
        case '&':
            sim_buf_puts(b, "&amp;");
            break;
        case '"':
            sim_buf_puts(b, "&quot;");
            break;
        default:
            sim_buf_append(b, s, 1);
        }
    }
}

static void request_id(char out[48]) {
    snprintf(out, 48, "5b7c1f5e-0000-4000-8000-%012lu", ++sts_seq);
}

/* ---- STS ---- */

static void sts_error_code(sim_response *res, int status, const char *code, const char *message) {
    sim_buf b = {0};
    char rid[48];
    request_id(rid);
    sim_buf_puts(&b, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                     "  <Error>\n    <Type>");
    sim_buf_puts(&b, status >= 500 ? "Receiver" : "Sender");
    sim_buf_puts(&b, "</Type>\n    <Code>");
    xml_escape(&b, code);
    sim_buf_puts(&b, "</Code>\n    <Message>");
    xml_escape(&b, message);
    sim_buf_puts(&b, "</Message>\n  </Error>\n  <RequestId>");
    sim_buf_puts(&b, rid);
    sim_buf_puts(&b, "</RequestId>\n</ErrorResponse>\n");
    sim_res_body(res, status, "text/xml", b.data, b.len);
    sim_res_header(res, "x-amzn-RequestId", rid);
    free(b.data);
}

static void sts_error(sim_response *res, int status, const char *message) {
    const char *code = "InternalFailure";
    const char *dflt = "An internal error occurred (simulated).";
    if (status == 400) {
        code = "ValidationError";
        dflt = "Simulated validation error.";
    } else if (status == 401 || status == 403) {
        code = "AccessDenied";
        dflt = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
    } else if (status == 429) {
        code = "Throttling";
        dflt = "Rate exceeded";
    } else if (status == 503) {
        code = "ServiceUnavailable";
        dflt = "Service unavailable (simulated).";
    } else if (status >= 400 && status < 500) {
        code = "InvalidAction";
        dflt = "Could not find operation for this request (simulated).";
    }
    sts_error_code(res, status, code, message ? message : dflt);
}

static int session_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
            return 0;
    return 1;
}

static void sts(const sim_request *creq, sim_response *res) {
    sim_request *req = (sim_request *)creq;
    if (sim_token_fault_apply(res, sts_error))
        return;
    const char *form = req->body.data ? req->body.data : "";
    size_t flen = req->body.len;
    if (strcmp(req->method, "GET") == 0) {
        const char *q = req->url.data ? strchr(req->url.data, '?') : NULL;
        form = q ? q + 1 : "";
        flen = strlen(form);
    }
    char *action = form_value(form, flen, "Action");
    char *version = form_value(form, flen, "Version");
    char *role = form_value(form, flen, "RoleArn");
    char *session = form_value(form, flen, "RoleSessionName");
    char *token = form_value(form, flen, "WebIdentityToken");
    if (!action || strcmp(action, "AssumeRoleWithWebIdentity") != 0) {
        sts_error_code(res, 400, "InvalidAction",
                       "Could not find operation AssumeRoleWithWebIdentity for version NO_VERSION");
    } else if (!version || strcmp(version, "2011-06-15") != 0) {
        sts_error_code(res, 400, "InvalidAction", "Could not find operation for this version");
    } else if (!role || !*role) {
        sts_error_code(res, 400, "ValidationError",
                       "1 validation error detected: Value null at 'roleArn' failed to satisfy "
                       "constraint: Member must not be null");
    } else if (!session || !session_name_ok(session)) {
        sts_error_code(res, 400, "ValidationError",
                       "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
    } else if (!token || !*token) {
        sts_error_code(res, 400, "InvalidIdentityToken",
                       "The web identity token that was passed is empty.");
    } else if (strncmp(token, "invalid", 7) == 0) {
        sts_error_code(res, 400, "InvalidIdentityToken",
                       "Couldn't retrieve verification key from your identity provider,  please "
                       "reference AssumeRoleWithWebIdentity documentation for requirements");
    } else if (req->fault.malformed) {
        static const char bad[] = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWith";
        sim_res_body(res, 200, "text/xml", bad, sizeof bad - 1);
    } else {
        const sim_aws_creds *c = sim_aws_issue(aws_lifetime());
        char exp[32], rid[48];
        iso_time(c->expires_at, exp);
        request_id(rid);
        sim_buf b = {0};
        sim_buf_puts(&b,
                     "<AssumeRoleWithWebIdentityResponse "
                     "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                     "  <AssumeRoleWithWebIdentityResult>\n"
                     "    <SubjectFromWebIdentityToken>sim-subject</SubjectFromWebIdentityToken>\n"
                     "    <Audience>sts.amazonaws.com</Audience>\n"
                     "    <AssumedRoleUser>\n      <Arn>");
        xml_escape(&b, role);
        sim_buf_puts(&b, "/");
        xml_escape(&b, session);
        sim_buf_puts(&b, "</Arn>\n      <AssumedRoleId>AROASIMULATOR:");
        xml_escape(&b, session);
        sim_buf_puts(&b, "</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n"
                         "      <SessionToken>");
        sim_buf_puts(&b, c->session_token);
        sim_buf_puts(&b, "</SessionToken>\n      <SecretAccessKey>");
        sim_buf_puts(&b, c->secret_access_key);
        sim_buf_puts(&b, "</SecretAccessKey>\n      <Expiration>");
        sim_buf_puts(&b, exp);
        sim_buf_puts(&b, "</Expiration>\n      <AccessKeyId>");
        sim_buf_puts(&b, c->access_key_id);
        sim_buf_puts(&b, "</AccessKeyId>\n    </Credentials>\n"
                         "    <Provider>sim-oidc</Provider>\n"
                         "  </AssumeRoleWithWebIdentityResult>\n"
                         "  <ResponseMetadata>\n    <RequestId>");
        sim_buf_puts(&b, rid);
        sim_buf_puts(&b, "</RequestId>\n  </ResponseMetadata>\n"
                         "</AssumeRoleWithWebIdentityResponse>\n");
        sim_res_body(res, 200, "text/xml", b.data, b.len);
        sim_res_header(res, "x-amzn-RequestId", rid);
        free(b.data);
    }
    free(action);
    free(version);
    free(role);
    free(session);
    free(token);
}

/* ---- container credentials ---- */

static void container_error(sim_response *res, int status, const char *message) {
    json_object *o = json_object_new_object();
    const char *code = status == 401   ? "InvalidToken"
                       : status == 404 ? "NotFound"
                       : status < 500  ? "BadRequest"
                                       : "InternalServerError";
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message",
                           json_object_new_string(message ? message : "simulated error"));
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void container(const sim_request *creq, sim_response *res) {
    sim_request *req = (sim_request *)creq;
    if (sim_token_fault_apply(res, container_error))
        return;
    const char *auth = sim_request_header(req, "authorization");
    if (container_token && (!auth || strcmp(auth, container_token) != 0)) {
        container_error(res, 401,
                        auth ? "Authorization token is invalid" : "Authorization token missing");
        return;
    }
    if (req->fault.malformed) {
        static const char bad[] = "{\"AccessKeyId\": \"ASIA";
        sim_res_body(res, 200, "application/json", bad, sizeof bad - 1);
        return;
    }
    const sim_aws_creds *c = sim_aws_issue(aws_lifetime());
    char exp[32];
    iso_time(c->expires_at, exp);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "RoleArn",
                           json_object_new_string("arn:aws:iam::123456789012:role/sim-task"));
    json_object_object_add(o, "AccessKeyId", json_object_new_string(c->access_key_id));
    json_object_object_add(o, "SecretAccessKey", json_object_new_string(c->secret_access_key));
    json_object_object_add(o, "Token", json_object_new_string(c->session_token));
    json_object_object_add(o, "Expiration", json_object_new_string(exp));
    sim_res_json(res, 200, o);
    json_object_put(o);
}

static int always(const sim_request *req, const char *api_key) {
    (void)req;
    (void)api_key;
    return 1;
}

static const sim_route sts_routes[] = {
    {"POST", "/sts/", sts},
    {"GET", "/sts/", sts},
};

static const sim_provider sts_provider = {
    .name = "sts",
    .prefix = "/sts/",
    .routes = sts_routes,
    .nroutes = sizeof sts_routes / sizeof sts_routes[0],
    .authorized = always,
    .error = sts_error,
};

static const sim_route container_routes[] = {
    {"GET", "/aws/container-credentials", container},
};

static const sim_provider container_provider = {
    .name = "aws-container",
    .prefix = "/aws/",
    .routes = container_routes,
    .nroutes = sizeof container_routes / sizeof container_routes[0],
    .authorized = always,
    .error = container_error,
};

void sim_aws_auth_register(void) {
    sim_router_register(&sts_provider);
    sim_router_register(&container_provider);
}
