/* SPDX-License-Identifier: Apache-2.0 */
/* Google Cloud credentials: service-account keys (an RS256 JWT exchanged at
 * the OAuth token endpoint, RFC 7523) and external accounts (workload
 * identity federation: a subject token from a file or URL exchanged at STS,
 * RFC 8693, optionally for a service account's token through the IAM
 * credentials API). Both end as a bearer token kept fresh by a refresher.
 *
 * Not supported: gcloud's application-default file
 * (~/.config/gcloud/application_default_credentials.json, type
 * authorized_user), the metadata server, and AWS- or executable-sourced
 * external accounts. */
#include "credentials/gcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "credentials/credential.h"
#include "credentials/jwt.h"
#include "credentials/refresher.h"
#include "transport/fetch.h"

#define GCP_MAX_FILE (1024u * 1024u)
#define GCP_TOKEN_LIFETIME 3600
#define GCP_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GCP_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define GCP_ACCESS_TOKEN_TYPE "urn:ietf:params:oauth:token-type:access_token"

struct aigw__gcp_source {
    int external;
    char *name; /* "credential \"g\"" */
    char *file;
    char **scopes; /* NULL-terminated */
    /* service_account */
    char *client_email, *private_key_id, *token_uri;
    EVP_PKEY *key;
    /* external_account */
    char *audience, *subject_token_type, *token_url, *impersonation_url;
    char *src_file, *src_url;
    struct curl_slist *src_headers;
    int src_json;
    char *src_field;
};

/* ---- small helpers ---- */

static void wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        aigw__free(s);
    }
}

static void buf_wipe_free(aigw__buf *b) {
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    aigw__buf_free(b);
}

/* The host of a URL, for errors (never its path or query). */
static void url_host(const char *url, char *out, size_t n) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static int is_http_url(const char *s) {
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* A provider's message, safe to print: at most 200 bytes, control
 * characters replaced. */
static void clean_text(const char *in, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < n && i < 200; i++)
        out[j++] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? ' ' : in[i];
    out[j] = '\0';
}

/* Reads at most GCP_MAX_FILE bytes of the regular file `path` into *out
 * (NUL-terminated); 0 or an aigw__file_read error (aigw__file_strerror). */
static int read_file(const char *path, aigw__buf *out, struct stat *st_out) {
    return aigw__file_read(path, GCP_MAX_FILE, out, st_out);
}

/* ---- parsing a credentials file ---- */

void aigw__gcp_source_free(aigw__gcp_source *s) {
    if (!s)
        return;
    aigw__free(s->name);
    aigw__free(s->file);
    for (size_t i = 0; s->scopes && s->scopes[i]; i++)
        aigw__free(s->scopes[i]);
    aigw__free(s->scopes);
    aigw__free(s->client_email);
    aigw__free(s->private_key_id);
    aigw__free(s->token_uri);
    EVP_PKEY_free(s->key);
    aigw__free(s->audience);
    aigw__free(s->subject_token_type);
    aigw__free(s->token_url);
    aigw__free(s->impersonation_url);
    aigw__free(s->src_file);
    aigw__free(s->src_url);
    curl_slist_free_all(s->src_headers);
    aigw__free(s->src_field);
    aigw__free(s);
}

int aigw__gcp_source_has_key(const aigw__gcp_source *src) {
    return src && src->key;
}

typedef struct parse_ctx {
    const char *name, *file;
    aigw_error **err;
} parse_ctx;

static aigw_status field_error(const parse_ctx *p, const char *field, const char *why) {
    return aigw__error_set(p->err, AIGW_ECONFIG, "%s: credentials file %s: field \"%s\": %s",
                           p->name, p->file, field, why);
}

/* The string member `key` (shown as `field`) copied into *out: required
 * ones must be present and non-empty. */
static aigw_status get_string(const parse_ctx *p, json_object *obj, const char *key,
                              const char *field, int required, char **out) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return field_error(p, field, "missing");
        return AIGW_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return field_error(p, field, "must be a string");
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len)
        return field_error(p, field, "contains a NUL byte");
    if (required && !*s)
        return field_error(p, field, "is empty");
    if (!*s)
        return AIGW_OK;
    *out = aigw__strdup(s);
    return *out ? AIGW_OK : aigw__error_set(p->err, AIGW_ENOMEM, "out of memory");
}

static aigw_status get_url(const parse_ctx *p, json_object *obj, const char *key, const char *field,
                           int required, char **out) {
    aigw_status st = get_string(p, obj, key, field, required, out);
    if (!st && *out && !is_http_url(*out))
        return field_error(p, field, "must be an http:// or https:// URL");
    return st;
}

static int no_passphrase(char *buf, int size, int rwflag, void *user) {
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)user;
    return 0; /* an encrypted key fails to load: Google's keys never are */
}

static aigw_status parse_service_account(const parse_ctx *p, json_object *root,
                                         aigw__gcp_source *s) {
    char *pem = NULL;
    aigw_status st = get_string(p, root, "private_key", "private_key", 1, &pem);
    if (!st)
        st = get_string(p, root, "client_email", "client_email", 1, &s->client_email);
    if (!st)
        st = get_string(p, root, "private_key_id", "private_key_id", 1, &s->private_key_id);
    if (!st)
        st = get_url(p, root, "token_uri", "token_uri", 1, &s->token_uri);
    if (st) {
        wipe_free(pem);
        return st;
    }
    size_t len = strlen(pem);
    BIO *bio = len < (size_t)1 << 20 ? BIO_new_mem_buf(pem, (int)len) : NULL;
    if (bio) {
        s->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
    }
    ERR_clear_error();
    wipe_free(pem);
    if (!s->key)
        return field_error(p, "private_key", "not a PEM-encoded private key");
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    int type = EVP_PKEY_get_base_id(s->key);
#else
    int type = EVP_PKEY_base_id(s->key);
#endif
    if (type != EVP_PKEY_RSA)
        return field_error(p, "private_key", "not an RSA key (RS256 needs one)");
    return AIGW_OK;
}

static aigw_status parse_headers(const parse_ctx *p, json_object *h, aigw__gcp_source *s) {
    if (!json_object_is_type(h, json_type_object))
        return field_error(p, "credential_source.headers", "must be an object of strings");
    json_object_object_foreach(h, hname, hval) {
        if (!json_object_is_type(hval, json_type_string))
            return field_error(p, "credential_source.headers", "values must be strings");
        const char *v = json_object_get_string(hval);
        if (!*hname || strpbrk(hname, "\r\n: ") ||
            strlen(v) != (size_t)json_object_get_string_len(hval) || strpbrk(v, "\r\n"))
            return field_error(p, "credential_source.headers",
                               "a header name or value is not valid");
        aigw__buf line = AIGW__BUF_INIT;
        struct curl_slist *grown = NULL;
        if (!aigw__buf_cat(&line, hname, ": ", v, NULL))
            grown = curl_slist_append(s->src_headers, line.data);
        buf_wipe_free(&line);
        if (!grown)
            return aigw__error_set(p->err, AIGW_ENOMEM, "out of memory");
        s->src_headers = grown;
    }
    return AIGW_OK;
}

static aigw_status parse_credential_source(const parse_ctx *p, json_object *cs,
                                           aigw__gcp_source *s) {
    if (!json_object_is_type(cs, json_type_object))
        return field_error(p, "credential_source", "must be an object");
    json_object *v;
    if (json_object_object_get_ex(cs, "environment_id", &v))
        return field_error(p, "credential_source.environment_id",
                           "AWS-sourced external accounts are not supported");
    if (json_object_object_get_ex(cs, "executable", &v))
        return field_error(p, "credential_source.executable",
                           "executable-sourced external accounts are not supported");
    aigw_status st = get_string(p, cs, "file", "credential_source.file", 0, &s->src_file);
    if (!st)
        st = get_url(p, cs, "url", "credential_source.url", 0, &s->src_url);
    if (st)
        return st;
    if (!s->src_file == !s->src_url)
        return field_error(p, "credential_source",
                           s->src_file ? "give either \"file\" or \"url\", not both"
                                       : "needs \"file\" or \"url\"");
    if (json_object_object_get_ex(cs, "headers", &v) && !json_object_is_type(v, json_type_null)) {
        if (!s->src_url)
            return field_error(p, "credential_source.headers", "only with \"url\"");
        if ((st = parse_headers(p, v, s)) != AIGW_OK)
            return st;
    }
    json_object *fmt;
    if (!json_object_object_get_ex(cs, "format", &fmt) || json_object_is_type(fmt, json_type_null))
        return AIGW_OK;
    if (!json_object_is_type(fmt, json_type_object))
        return field_error(p, "credential_source.format", "must be an object");
    char *type = NULL;
    st = get_string(p, fmt, "type", "credential_source.format.type", 0, &type);
    if (st)
        return st;
    if (!type || strcmp(type, "text") == 0) {
        s->src_json = 0;
    } else if (strcmp(type, "json") == 0) {
        s->src_json = 1;
    } else {
        aigw__free(type);
        return field_error(p, "credential_source.format.type", "must be \"text\" or \"json\"");
    }
    aigw__free(type);
    if (s->src_json)
        return get_string(p, fmt, "subject_token_field_name",
                          "credential_source.format.subject_token_field_name", 1, &s->src_field);
    return AIGW_OK;
}

static aigw_status parse_external_account(const parse_ctx *p, json_object *root,
                                          aigw__gcp_source *s) {
    s->external = 1;
    aigw_status st = get_string(p, root, "audience", "audience", 1, &s->audience);
    if (!st)
        st = get_string(p, root, "subject_token_type", "subject_token_type", 1,
                        &s->subject_token_type);
    if (!st)
        st = get_url(p, root, "token_url", "token_url", 1, &s->token_url);
    if (!st)
        st = get_url(p, root, "service_account_impersonation_url",
                     "service_account_impersonation_url", 0, &s->impersonation_url);
    if (st)
        return st;
    json_object *cs;
    if (!json_object_object_get_ex(root, "credential_source", &cs) ||
        json_object_is_type(cs, json_type_null))
        return field_error(p, "credential_source", "missing");
    return parse_credential_source(p, cs, s);
}

static aigw_status set_scopes(const parse_ctx *p, aigw__gcp_source *s, const char *const *given,
                              json_object *from_file) {
    size_t n = 0;
    if (given) {
        while (given[n])
            n++;
    } else if (from_file && !json_object_is_type(from_file, json_type_null)) {
        if (!json_object_is_type(from_file, json_type_array))
            return field_error(p, "scopes", "must be an array of strings");
        n = json_object_array_length(from_file);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(from_file, i);
            if (!json_object_is_type(e, json_type_string) || !*json_object_get_string(e) ||
                strpbrk(json_object_get_string(e), " \r\n\""))
                return field_error(p, "scopes", "must be an array of non-empty strings");
        }
    }
    if (n == 0)
        n = 1;
    s->scopes = aigw__calloc(n + 1, sizeof *s->scopes);
    if (!s->scopes)
        return aigw__error_set(p->err, AIGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *v = AIGW__GCP_DEFAULT_SCOPE;
        if (given && given[0])
            v = given[i];
        else if (from_file && json_object_is_type(from_file, json_type_array) &&
                 json_object_array_length(from_file) > 0)
            v = json_object_get_string(json_object_array_get_idx(from_file, i));
        if (!(s->scopes[i] = aigw__strdup(v)))
            return aigw__error_set(p->err, AIGW_ENOMEM, "out of memory");
    }
    return AIGW_OK;
}

aigw_status aigw__gcp_source_parse(const char *text, size_t len, const char *cred_name,
                                   const char *file, const char *const *scopes,
                                   aigw__gcp_source **out, aigw_error **err) {
    *out = NULL;
    parse_ctx p = {cred_name, file, err};
    aigw__buf what = AIGW__BUF_INIT;
    if (aigw__buf_printf(&what, "%s: credentials file %s", cred_name, file))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    json_object *root = NULL;
    aigw_status st = aigw__json_parse(text, len, what.data, AIGW_ECONFIG, &root, err);
    aigw__buf_free(&what);
    if (st)
        return st;
    aigw__gcp_source *s = aigw__calloc(1, sizeof *s);
    if (!s || !(s->name = aigw__strdup(cred_name)) || !(s->file = aigw__strdup(file))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: credentials file %s: not a JSON object",
                             cred_name, file);
        goto done;
    }
    char *type = NULL;
    if ((st = get_string(&p, root, "type", "type", 1, &type)) != AIGW_OK)
        goto done;
    if (strcmp(type, "service_account") == 0) {
        st = parse_service_account(&p, root, s);
    } else if (strcmp(type, "external_account") == 0) {
        st = parse_external_account(&p, root, s);
    } else if (strcmp(type, "authorized_user") == 0 ||
               strcmp(type, "impersonated_service_account") == 0 ||
               strcmp(type, "external_account_authorized_user") == 0) {
        st = field_error(&p, "type",
                         "this type of Google credentials is not supported (use "
                         "\"service_account\" or \"external_account\")");
    } else {
        st = field_error(&p, "type",
                         "unknown type (expected \"service_account\" or \"external_account\")");
    }
    aigw__free(type);
    if (!st) {
        json_object *file_scopes = NULL;
        json_object_object_get_ex(root, "scopes", &file_scopes);
        st = set_scopes(&p, s, scopes, file_scopes);
    }

done:
    /* the parsed tree holds the private key's text */
    if (root) {
        json_object *pk;
        if (json_object_object_get_ex(root, "private_key", &pk) &&
            json_object_is_type(pk, json_type_string)) {
            int n = json_object_get_string_len(pk);
            if (n > 0)
                OPENSSL_cleanse((void *)json_object_get_string(pk), (size_t)n);
        }
        json_object_put(root);
    }
    if (st) {
        aigw__gcp_source_free(s);
        return st;
    }
    *out = s;
    return AIGW_OK;
}

/* ---- token exchanges ---- */

static aigw_status scopes_joined(const aigw__gcp_source *s, aigw__buf *b) {
    for (size_t i = 0; s->scopes[i]; i++)
        if (aigw__buf_cat(b, i ? " " : "", s->scopes[i], NULL))
            return AIGW_ENOMEM;
    return AIGW_OK;
}

/* An endpoint's refusal: Google's OAuth shape {"error","error_description"}
 * or its API shape {"error":{"code","message","status"}}. */
static aigw_status endpoint_error(const aigw__gcp_source *s, const char *what, const char *url,
                                  long status, const aigw__buf *body, aigw_error **err) {
    char host[256], code[128] = "", desc[256] = "";
    url_host(url, host, sizeof host);
    json_object *root = body->data ? json_tokener_parse(body->data) : NULL;
    json_object *e = NULL;
    if (root && json_object_object_get_ex(root, "error", &e)) {
        if (json_object_is_type(e, json_type_string)) {
            clean_text(json_object_get_string(e), code, sizeof code);
            clean_text(aigw__json_get_string(root, "error_description"), desc, sizeof desc);
        } else if (json_object_is_type(e, json_type_object)) {
            clean_text(aigw__json_get_string(e, "status"), code, sizeof code);
            clean_text(aigw__json_get_string(e, "message"), desc, sizeof desc);
        }
    }
    json_object_put(root);
    aigw_status st;
    if (status == 400 || status == 401 || status == 403)
        st = AIGW_EAUTH;
    else
        st = aigw__status_from_http(status);
    return aigw__error_set(err, st, "%s: %s (%s) answered HTTP %ld%s%s%s%s", s->name, what, host,
                           status, *code ? ": " : "", code, *desc ? ": " : "", desc);
}

/* POSTs or GETs and gives the answer as JSON (2xx only). */
static aigw_status exchange(const aigw__gcp_source *s, const char *what, const char *method,
                            const char *url, const struct curl_slist *headers, const char *body,
                            size_t body_len, aigw__buf *answer, aigw_error **err) {
    aigw__buf w = AIGW__BUF_INIT;
    if (aigw__buf_printf(&w, "%s: %s", s->name, what))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__fetch_request req = {method, url, headers, body, body_len, 0, w.data};
    long status = 0;
    aigw_status st = aigw__fetch(&req, &status, answer, err);
    aigw__buf_free(&w);
    if (st)
        return st;
    if (status < 200 || status > 299)
        return endpoint_error(s, what, url, status, answer, err);
    return AIGW_OK;
}

static aigw_status parse_answer(const aigw__gcp_source *s, const char *what, const char *url,
                                const aigw__buf *answer, json_object **out, aigw_error **err) {
    char host[256];
    url_host(url, host, sizeof host);
    *out = answer->data ? json_tokener_parse(answer->data) : NULL;
    if (!*out || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        return aigw__error_set(err, AIGW_EBADRESPONSE, "%s: %s (%s): answer is not a JSON object",
                               s->name, what, host);
    }
    return AIGW_OK;
}

static void wipe_json_string(json_object *obj, const char *key) {
    json_object *v;
    if (obj && json_object_object_get_ex(obj, key, &v) &&
        json_object_is_type(v, json_type_string)) {
        int n = json_object_get_string_len(v);
        if (n > 0)
            OPENSSL_cleanse((void *)json_object_get_string(v), (size_t)n);
    }
}

/* {"access_token","expires_in"} → out. */
static aigw_status oauth_token(const aigw__gcp_source *s, const char *what, const char *url,
                               const aigw__buf *answer, char **token, time_t *expires_at,
                               aigw_error **err) {
    char host[256];
    url_host(url, host, sizeof host);
    json_object *root;
    aigw_status st = parse_answer(s, what, url, answer, &root, err);
    if (st)
        return st;
    const char *tok = aigw__json_get_string(root, "access_token");
    json_object *exp = NULL;
    json_object_object_get_ex(root, "expires_in", &exp);
    long long lifetime = GCP_TOKEN_LIFETIME;
    if (exp &&
        (json_object_is_type(exp, json_type_int) || json_object_is_type(exp, json_type_string)))
        lifetime = json_object_get_int64(exp);
    if (!tok || !*tok || strpbrk(tok, "\r\n")) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: %s (%s): answer has no access_token",
                             s->name, what, host);
    } else if (lifetime <= 0 || lifetime > 100LL * 365 * 86400) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: %s (%s): bad expires_in", s->name, what,
                             host);
    } else if (!(*token = aigw__strdup(tok))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    } else {
        *expires_at = time(NULL) + (time_t)lifetime;
    }
    wipe_json_string(root, "access_token");
    json_object_put(root);
    return st;
}

/* RFC 3339 "2026-01-02T03:04:05.123Z" or with a "+hh:mm" offset. */
static int parse_rfc3339(const char *s, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int consumed = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19)
        return -1;
    const char *p = s + consumed;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5)
            return -1;
        offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - offset;
    return 0;
}

static aigw_status sa_fetch(const aigw__gcp_source *s, aigw__cred_value *out, aigw_error **err) {
    time_t now = time(NULL);
    aigw__buf scope = AIGW__BUF_INIT;
    json_object *hdr = json_object_new_object(), *claims = json_object_new_object();
    char *jwt = NULL;
    aigw__buf form = AIGW__BUF_INIT, answer = AIGW__BUF_INIT;
    aigw_status st = AIGW_ENOMEM;
    if (!hdr || !claims || scopes_joined(s, &scope))
        goto done;
    if (json_object_object_add(hdr, "alg", json_object_new_string("RS256")) ||
        json_object_object_add(hdr, "typ", json_object_new_string("JWT")) ||
        json_object_object_add(hdr, "kid", json_object_new_string(s->private_key_id)) ||
        json_object_object_add(claims, "iss", json_object_new_string(s->client_email)) ||
        json_object_object_add(claims, "scope", json_object_new_string(scope.data)) ||
        json_object_object_add(claims, "aud", json_object_new_string(s->token_uri)) ||
        json_object_object_add(claims, "iat", json_object_new_int64((int64_t)now)) ||
        json_object_object_add(claims, "exp",
                               json_object_new_int64((int64_t)now + GCP_TOKEN_LIFETIME)))
        goto done;
    st = aigw__jwt_sign_rs256(s->key, hdr, claims, &jwt);
    if (st == AIGW_EINTERNAL) {
        st = aigw__error_set(err, AIGW_EAUTH, "%s: cannot sign the JWT with the key of %s", s->name,
                             s->file);
        goto done;
    }
    if (st || aigw__form_add(&form, "grant_type", GCP_JWT_BEARER) ||
        aigw__form_add(&form, "assertion", jwt)) {
        st = AIGW_ENOMEM;
        goto done;
    }
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    if (!h) {
        st = AIGW_ENOMEM;
        goto done;
    }
    st = exchange(s, "token endpoint", "POST", s->token_uri, h, form.data, form.len, &answer, err);
    curl_slist_free_all(h);
    if (!st)
        st = oauth_token(s, "token endpoint", s->token_uri, &answer, &out->bearer_token,
                         &out->expires_at, err);

done:
    if (st == AIGW_ENOMEM)
        aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    json_object_put(hdr);
    json_object_put(claims);
    aigw__buf_free(&scope);
    wipe_free(jwt);
    buf_wipe_free(&form);
    buf_wipe_free(&answer);
    return st;
}

/* The subject token: the file (re-read every time) or the URL's answer,
 * whole (text) or one field of it (json). */
static aigw_status subject_token(const aigw__gcp_source *s, char **out, aigw_error **err) {
    aigw__buf raw = AIGW__BUF_INIT;
    aigw_status st = AIGW_OK;
    const char *where = s->src_file ? "subject token file" : "subject token URL";
    if (s->src_file) {
        int e = read_file(s->src_file, &raw, NULL);
        if (e) {
            buf_wipe_free(&raw);
            return aigw__error_set(err, AIGW_EAUTH, "%s: cannot read subject token file %s: %s",
                                   s->name, s->src_file, aigw__file_strerror(e));
        }
    } else {
        st =
            exchange(s, "subject token URL", "GET", s->src_url, s->src_headers, NULL, 0, &raw, err);
        if (!st && aigw__buf_append(&raw, "", 0))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        if (st) {
            buf_wipe_free(&raw);
            return st;
        }
    }
    char host[256] = "";
    if (s->src_url)
        url_host(s->src_url, host, sizeof host);
    const char *src = s->src_file ? s->src_file : host;
    if (s->src_json) {
        json_object *root = json_tokener_parse(raw.data ? raw.data : "");
        const char *v = root ? aigw__json_get_string(root, s->src_field) : NULL;
        if (!v || !*v)
            st = aigw__error_set(err, AIGW_EAUTH, "%s: %s %s: no string field \"%s\"", s->name,
                                 where, src, s->src_field);
        else if (!(*out = aigw__strdup(v)))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        wipe_json_string(root, s->src_field);
        json_object_put(root);
    } else {
        size_t n = raw.len;
        while (n > 0 && (raw.data[n - 1] == '\n' || raw.data[n - 1] == '\r' ||
                         raw.data[n - 1] == ' ' || raw.data[n - 1] == '\t'))
            n--;
        if (n == 0 || memchr(raw.data, '\0', n))
            st = aigw__error_set(err, AIGW_EAUTH, "%s: %s %s: %s", s->name, where, src,
                                 n == 0 ? "empty" : "holds a NUL byte");
        else if (!(*out = aigw__strndup(raw.data, n)))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    buf_wipe_free(&raw);
    return st;
}

static aigw_status impersonate(const aigw__gcp_source *s, const char *sts_token,
                               aigw__cred_value *out, aigw_error **err) {
    const char *what = "IAM credentials generateAccessToken";
    aigw__buf auth = AIGW__BUF_INIT, answer = AIGW__BUF_INIT;
    struct curl_slist *h = NULL;
    char *body = NULL;
    json_object *req = json_object_new_object(), *scopes = json_object_new_array();
    aigw_status st = AIGW_ENOMEM;
    if (!req || !scopes)
        goto done;
    for (size_t i = 0; s->scopes[i]; i++)
        if (json_object_array_add(scopes, json_object_new_string(s->scopes[i])))
            goto done;
    json_object_object_add(req, "scope", scopes);
    scopes = NULL;
    if (json_object_object_add(req, "lifetime", json_object_new_string("3600s")) ||
        !(body = aigw__json_dup_string(req)) ||
        aigw__buf_cat(&auth, "Authorization: Bearer ", sts_token, NULL))
        goto done;
    struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h1 ? curl_slist_append(h1, auth.data) : NULL;
    h = h1;
    if (!h2)
        goto done;
    st = exchange(s, what, "POST", s->impersonation_url, h, body, strlen(body), &answer, err);
    if (st)
        goto done;
    json_object *root;
    if ((st = parse_answer(s, what, s->impersonation_url, &answer, &root, err)) != AIGW_OK)
        goto done;
    char host[256];
    url_host(s->impersonation_url, host, sizeof host);
    const char *tok = aigw__json_get_string(root, "accessToken");
    time_t exp = 0;
    if (!tok || !*tok || strpbrk(tok, "\r\n"))
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: %s (%s): answer has no accessToken",
                             s->name, what, host);
    else if (parse_rfc3339(aigw__json_get_string(root, "expireTime"), &exp) != 0)
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: %s (%s): answer has no valid expireTime",
                             s->name, what, host);
    else if (!(out->bearer_token = aigw__strdup(tok)))
        st = AIGW_ENOMEM;
    else
        out->expires_at = exp;
    wipe_json_string(root, "accessToken");
    json_object_put(root);

done:
    if (st == AIGW_ENOMEM)
        aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    json_object_put(req);
    json_object_put(scopes);
    curl_slist_free_all(h);
    buf_wipe_free(&auth);
    buf_wipe_free(&answer);
    aigw__free(body);
    return st;
}

static aigw_status external_fetch(const aigw__gcp_source *s, aigw__cred_value *out,
                                  aigw_error **err) {
    char *subject = NULL, *sts = NULL;
    time_t sts_exp = 0;
    aigw__buf scope = AIGW__BUF_INIT, form = AIGW__BUF_INIT, answer = AIGW__BUF_INIT;
    aigw_status st = subject_token(s, &subject, err);
    if (st)
        return st;
    const char *sts_scope = s->impersonation_url ? AIGW__GCP_DEFAULT_SCOPE : NULL;
    if ((!sts_scope && scopes_joined(s, &scope)) ||
        aigw__form_add(&form, "grant_type", GCP_TOKEN_EXCHANGE) ||
        aigw__form_add(&form, "audience", s->audience) ||
        aigw__form_add(&form, "scope", sts_scope ? sts_scope : scope.data) ||
        aigw__form_add(&form, "requested_token_type", GCP_ACCESS_TOKEN_TYPE) ||
        aigw__form_add(&form, "subject_token", subject) ||
        aigw__form_add(&form, "subject_token_type", s->subject_token_type)) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    if (!h) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    st = exchange(s, "STS token exchange", "POST", s->token_url, h, form.data, form.len, &answer,
                  err);
    curl_slist_free_all(h);
    if (!st)
        st = oauth_token(s, "STS token exchange", s->token_url, &answer, &sts, &sts_exp, err);
    if (st)
        goto done;
    if (s->impersonation_url) {
        st = impersonate(s, sts, out, err);
    } else {
        out->bearer_token = sts;
        out->expires_at = sts_exp;
        sts = NULL;
    }

done:
    wipe_free(subject);
    wipe_free(sts);
    aigw__buf_free(&scope);
    buf_wipe_free(&form);
    buf_wipe_free(&answer);
    return st;
}

static aigw_status gcp_fetch(void *ctx, aigw__cred_value *out, aigw_error **err) {
    const aigw__gcp_source *s = ctx;
    aigw_status st = s->external ? external_fetch(s, out, err) : sa_fetch(s, out, err);
    if (st)
        aigw__cred_value_clear(out);
    return st;
}

static void gcp_free(void *ctx) {
    aigw__gcp_source_free(ctx);
}

/* ---- loaders ---- */

/* The email in ".../serviceAccounts/EMAIL:generateAccessToken". */
static void impersonated_email(const char *url, char *out, size_t n) {
    out[0] = '\0';
    const char *p = strstr(url, "/serviceAccounts/");
    if (!p)
        return;
    p += strlen("/serviceAccounts/");
    size_t len = strcspn(p, ":/?#");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static aigw_status load_file(aigw__credential *cred, const char *cred_name, const char *file,
                             const char *const *scopes, const char *how,
                             const aigw__cred_context *ctx, aigw_error **err) {
    aigw__buf text = AIGW__BUF_INIT, src = AIGW__BUF_INIT;
    struct stat st_file;
    aigw__gcp_source *s = NULL;
    aigw__refresher *r = NULL;
    int e = read_file(file, &text, &st_file);
    if (e) {
        buf_wipe_free(&text);
        return aigw__error_set(err, AIGW_ECONFIG, "%s: cannot read credentials file %s%s: %s",
                               cred_name, file, how, aigw__file_strerror(e));
    }
    aigw_status st = aigw__gcp_source_parse(text.data, text.len, cred_name, file, scopes, &s, err);
    buf_wipe_free(&text);
    if (st)
        return st;
    if (s->key && (st_file.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) && ctx && ctx->logger)
        aigw__log(ctx->logger, AIGW_LOG_WARN,
                  "%s: service account key file %s is accessible by group or others "
                  "(chmod 600 it)",
                  cred_name, file);
    if (s->key) {
        st = aigw__buf_printf(&src, "service account %s (file %s%s)", s->client_email, file, how);
    } else if (s->impersonation_url) {
        char email[256];
        impersonated_email(s->impersonation_url, email, sizeof email);
        st = aigw__buf_printf(&src, "external account impersonating %s (file %s%s)",
                              *email ? email : "a service account", file, how);
    } else {
        st = aigw__buf_printf(&src, "external account (file %s%s)", file, how);
    }
    char *source = st ? NULL : aigw__buf_detach(&src);
    aigw__buf_free(&src);
    if (!source) {
        aigw__gcp_source_free(s);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    st = aigw__refresher_new(cred_name, gcp_fetch, s, gcp_free, &r);
    if (st) {
        aigw__free(source);
        return aigw__error_set(err, st, "%s: cannot create the token refresher", cred_name);
    }
    char *name = cred->name ? NULL : aigw__strdup(cred_name);
    if (!cred->name && !name) {
        aigw__refresher_unref(r);
        aigw__free(source);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    if (name)
        cred->name = name;
    aigw__free(cred->source);
    cred->source = source;
    cred->kind = AIGW__CRED_BEARER;
    aigw__refresher_unref(cred->refresher);
    cred->refresher = r;
    return AIGW_OK;
}

aigw_status aigw__gcp_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                      const char *path, const aigw__cred_context *ctx,
                                      aigw_error **err) {
    const char *file = NULL;
    json_object *scopes = NULL;
    static const char *const keys[] = {"type", "credentials_file", "scopes", NULL};
    if (!conf || !json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
    aigw_status checked = aigw__json_check_key_list(conf, path, keys, err);
    if (checked)
        return checked;
    json_object_object_foreach(conf, key, val) {
        if (strcmp(key, "type") == 0) {
            if (!json_object_is_type(val, json_type_string) ||
                strcmp(json_object_get_string(val), "gcp") != 0)
                return aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"gcp\"", path);
        } else if (strcmp(key, "credentials_file") == 0) {
            if (!json_object_is_type(val, json_type_string) || !*json_object_get_string(val))
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s.credentials_file: must be a non-empty string", path);
            file = json_object_get_string(val);
        } else if (strcmp(key, "scopes") == 0) {
            int ok = json_object_is_type(val, json_type_array) &&
                     json_object_array_length(val) > 0 && json_object_array_length(val) < 64;
            for (size_t i = 0; ok && i < json_object_array_length(val); i++) {
                json_object *e = json_object_array_get_idx(val, i);
                ok = json_object_is_type(e, json_type_string) && *json_object_get_string(e) &&
                     !strpbrk(json_object_get_string(e), " \r\n\"");
            }
            if (!ok)
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s.scopes: must be a non-empty array of scope strings",
                                       path);
            scopes = val;
        }
    }
    const char *how = "";
    if (!file) {
        const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
        if (!env || !*env)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s: no credentials_file and GOOGLE_APPLICATION_CREDENTIALS "
                                   "is not set (gcloud's application-default file and the "
                                   "metadata server are not supported)",
                                   path);
        file = env;
        how = " from GOOGLE_APPLICATION_CREDENTIALS";
    }
    const char *list[64] = {0};
    for (size_t i = 0; scopes && i < json_object_array_length(scopes); i++)
        list[i] = json_object_get_string(json_object_array_get_idx(scopes, i));
    aigw__buf cname = AIGW__BUF_INIT;
    if (aigw__buf_printf(&cname, "credential \"%s\"", name))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw_status st = load_file(cred, cname.data, file, scopes ? list : NULL, how, ctx, err);
    aigw__buf_free(&cname);
    return st;
}

aigw_status aigw__gcp_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                         aigw_error **err) {
    const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (!env || !*env) {
        cred->kind = AIGW__CRED_NONE;
        return AIGW_OK;
    }
    return load_file(cred, "credential \"gcp-default\"", env, NULL,
                     " from GOOGLE_APPLICATION_CREDENTIALS", ctx, err);
}
