/* SPDX-License-Identifier: Apache-2.0 */
/* OAuth 2.0 client credentials: the token request and its answer. */
#include "credentials/oauth.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/file.h"
#include "core/json.h"
#include "transport/fetch.h"

/* A token lifetime longer than this is not believed. */
#define OAUTH_MAX_LIFETIME (10L * 365 * 24 * 3600)
/* Secret and assertion files larger than this are refused. */
#define OAUTH_MAX_FILE (256u * 1024u)
/* How much of a provider's error description an error repeats. */
#define OAUTH_MAX_DESCRIPTION 600

static void wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        aigw__free(s);
    }
}

void aigw__oauth_client_free(void *p) {
    aigw__oauth_client *c = p;
    if (!c)
        return;
    aigw__free(c->name);
    aigw__free(c->token_url);
    aigw__free(c->host);
    aigw__free(c->client_id);
    aigw__free(c->secret_env);
    aigw__free(c->secret_file);
    aigw__free(c->assertion_file);
    aigw__free(c->scope);
    aigw__free(c->audience);
    aigw__free(c);
}

char *aigw__oauth_url_host(const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', len); /* never user:password@ */
    if (at) {
        len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    return aigw__strndup(p, len);
}

/* ---- the token response ---- */

/* Copies a provider's text for an error: printable, bounded. */
static void clean_text(const char *s, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[j] = '\0';
}

/* 1 when text holds one of the secrets. */
static int repeats_secret(const char *text, const char *const *secrets) {
    for (; secrets && *secrets; secrets++)
        if (**secrets && strstr(text, *secrets))
            return 1;
    return 0;
}

/* A JSON object parsed from exactly body[0..len), or NULL. */
static json_object *parse_object(const char *body, size_t len) {
    if (!body || len == 0 || len > INT_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(AIGW__JSON_MAX_DEPTH);
    if (!tok)
        return NULL;
    json_object *j = json_tokener_parse_ex(tok, body, (int)len);
    if (j && json_tokener_get_error(tok) == json_tokener_success) {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r\n", body[end]) && body[end])
            end++;
        if (end < len) {
            json_object_put(j);
            j = NULL;
        }
    } else if (j) {
        json_object_put(j);
        j = NULL;
    }
    json_tokener_free(tok);
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
    }
    return j;
}

static aigw_status status_for_http(long http_status) {
    if (http_status >= 500)
        return AIGW_EUPSTREAM;
    if (http_status == 429)
        return AIGW_ERATELIMIT;
    if (http_status == 400 || http_status == 401 || http_status == 403)
        return AIGW_EAUTH;
    return AIGW_EUPSTREAM_STATUS;
}

/* An error answer in OAuth's shape {"error","error_description"}. */
static aigw_status refused(const char *name, const char *host, long http_status, json_object *o,
                           const char *const *secrets, aigw_error **err) {
    const char *code = aigw__json_get_string(o, "error");
    const char *desc = aigw__json_get_string(o, "error_description");
    char c[128], d[OAUTH_MAX_DESCRIPTION + 1];
    clean_text(code, c, sizeof c);
    if (repeats_secret(code, secrets))
        snprintf(c, sizeof c, "(error code withheld: it repeats a secret)");
    d[0] = '\0';
    if (desc) {
        clean_text(desc, d, sizeof d);
        if (repeats_secret(desc, secrets))
            snprintf(d, sizeof d, "(description withheld: it repeats a secret)");
    }
    aigw_status st =
        http_status >= 500 || http_status == 429 ? status_for_http(http_status) : AIGW_EAUTH;
    if (d[0])
        return aigw__error_set(err, st, "%s: token endpoint %s refused: %s: %s", name, host, c, d);
    return aigw__error_set(err, st, "%s: token endpoint %s refused: %s (HTTP %ld)", name, host, c,
                           http_status);
}

/* expires_in as seconds: a positive number, or a string of digits. */
static int read_expires_in(json_object *v, long *out) {
    double d;
    switch (json_object_get_type(v)) {
    case json_type_int: {
        errno = 0;
        int64_t i = json_object_get_int64(v);
        if (i <= 0 || i > OAUTH_MAX_LIFETIME || errno)
            return -1;
        *out = (long)i;
        return 0;
    }
    case json_type_double:
        d = json_object_get_double(v);
        if (!isfinite(d) || d < 1 || d > (double)OAUTH_MAX_LIFETIME)
            return -1;
        *out = (long)d;
        return 0;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n == 0 || n > 12 || strspn(s, "0123456789") != n)
            return -1;
        long l = strtol(s, NULL, 10);
        if (l <= 0 || l > OAUTH_MAX_LIFETIME)
            return -1;
        *out = l;
        return 0;
    }
    default:
        return -1;
    }
}

aigw_status aigw__oauth_parse_response(const char *name, const char *host, long http_status,
                                       const char *body, size_t len, time_t now,
                                       const char *const *secrets, aigw__cred_value *out,
                                       aigw_error **err) {
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (http_status < 200 || http_status > 299) {
        aigw_status st;
        if (o && aigw__json_get_string(o, "error"))
            st = refused(name, host, http_status, o, secrets, err);
        else
            st = aigw__error_set(err, status_for_http(http_status),
                                 "%s: token endpoint %s answered HTTP %ld%s", name, host,
                                 http_status, o ? "" : " (not an OAuth error)");
        json_object_put(o);
        return st;
    }
    if (!o)
        return aigw__error_set(err, AIGW_EBADRESPONSE,
                               "%s: token endpoint %s: the answer is not a JSON object", name,
                               host);
    aigw_status st = AIGW_OK;
    json_object *tok = NULL, *type = NULL, *exp = NULL;
    json_object_object_get_ex(o, "access_token", &tok);
    if (!tok && aigw__json_get_string(o, "error")) {
        st = refused(name, host, http_status, o, secrets, err);
        goto done;
    }
    if (!tok || !json_object_is_type(tok, json_type_string) ||
        json_object_get_string_len(tok) == 0) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE,
                             "%s: token endpoint %s: the answer has no access_token", name, host);
        goto done;
    }
    const char *t = json_object_get_string(tok);
    size_t tlen = (size_t)json_object_get_string_len(tok);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x21 || c > 0x7e) { /* would break the Authorization header */
            st = aigw__error_set(err, AIGW_EBADRESPONSE,
                                 "%s: token endpoint %s: the access_token holds characters a "
                                 "bearer token cannot have",
                                 name, host);
            goto done;
        }
    }
    if (json_object_object_get_ex(o, "token_type", &type)) {
        if (!json_object_is_type(type, json_type_string) ||
            strcasecmp(json_object_get_string(type), "bearer") != 0) {
            char tt[40];
            const char *ts = json_object_is_type(type, json_type_string)
                                 ? json_object_get_string(type)
                                 : "(not a string)";
            clean_text(repeats_secret(ts, secrets) ? "(withheld)" : ts, tt, sizeof tt);
            st = aigw__error_set(err, AIGW_EBADRESPONSE,
                                 "%s: token endpoint %s: token_type \"%s\" is not Bearer", name,
                                 host, tt);
            goto done;
        }
    }
    long lifetime = AIGW__OAUTH_DEFAULT_LIFETIME;
    if (json_object_object_get_ex(o, "expires_in", &exp) && read_expires_in(exp, &lifetime) != 0) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE,
                             "%s: token endpoint %s: expires_in is not a positive number of "
                             "seconds",
                             name, host);
        goto done;
    }
    out->bearer_token = aigw__strndup(t, tlen);
    if (!out->bearer_token) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    out->expires_at = now + (time_t)lifetime;
done:
    json_object_put(o);
    return st;
}

/* ---- the token request ---- */

/* The contents of `file` without trailing whitespace; *out NULL (and errno
 * set) when it cannot be read. */
static aigw_status read_secret_file(const char *file, char **out, int *error) {
    *out = NULL;
    *error = 0;
    aigw__buf b = AIGW__BUF_INIT;
    int e = aigw__file_read(file, OAUTH_MAX_FILE, &b, NULL);
    aigw_status st = e == ENOMEM ? AIGW_ENOMEM : e ? AIGW_EIO : AIGW_OK;
    *error = e;
    if (!st) {
        while (b.len && strchr(" \t\r\n", b.data[b.len - 1]))
            b.data[--b.len] = '\0';
        if (b.len && memchr(b.data, '\0', b.len)) {
            *error = EINVAL;
            st = AIGW_EIO;
        }
    }
    if (st) {
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        aigw__buf_free(&b);
        return st;
    }
    *out = b.data ? aigw__buf_detach(&b) : aigw__strdup("");
    return *out ? AIGW_OK : AIGW_ENOMEM;
}

static aigw_status file_error(const aigw__oauth_client *c, const char *what, const char *file,
                              aigw_status st, int error, aigw_error **err) {
    if (st == AIGW_ENOMEM)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return aigw__error_set(err, AIGW_EAUTH, "%s: cannot read the %s file %s: %s", c->name, what,
                           file,
                           error == EINVAL ? "it holds a NUL byte" : aigw__file_strerror(error));
}

/* The client secret or assertion, newly allocated (wipe it). */
static aigw_status read_credential(const aigw__oauth_client *c, char **out, aigw_error **err) {
    int error = 0;
    aigw_status st;
    if (c->auth == AIGW__OAUTH_ASSERTION) {
        st = read_secret_file(c->assertion_file, out, &error);
        if (st)
            return file_error(c, "federated token", c->assertion_file, st, error, err);
        if (!**out) {
            wipe_free(*out);
            *out = NULL;
            return aigw__error_set(err, AIGW_EAUTH, "%s: the federated token file %s is empty",
                                   c->name, c->assertion_file);
        }
        return AIGW_OK;
    }
    if (c->secret_env) {
        const char *v = getenv(c->secret_env);
        if (!v || !*v)
            return aigw__error_set(err, AIGW_EAUTH,
                                   "%s: no client secret (environment variable %s is not set)",
                                   c->name, c->secret_env);
        *out = aigw__strdup(v);
        return *out ? AIGW_OK : aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    st = read_secret_file(c->secret_file, out, &error);
    if (st)
        return file_error(c, "client secret", c->secret_file, st, error, err);
    if (!**out) {
        wipe_free(*out);
        *out = NULL;
        return aigw__error_set(err, AIGW_EAUTH, "%s: the client secret file %s is empty", c->name,
                               c->secret_file);
    }
    return AIGW_OK;
}

/* "Authorization: Basic base64(urlencode(id):urlencode(secret))" (RFC 6749 §2.3.1). */
static aigw_status basic_header(const char *id, const char *secret, char **out) {
    *out = NULL;
    char *eid = curl_easy_escape(NULL, id, 0), *esec = curl_easy_escape(NULL, secret, 0);
    aigw__buf plain = AIGW__BUF_INIT;
    aigw_status st = !eid || !esec ? AIGW_ENOMEM : aigw__buf_cat(&plain, eid, ":", esec, NULL);
    curl_free(eid);
    if (esec) {
        OPENSSL_cleanse(esec, strlen(esec));
        curl_free(esec);
    }
    if (!st) {
        size_t b64len = 4 * ((plain.len + 2) / 3);
        char *h = aigw__malloc(sizeof "Authorization: Basic " + b64len);
        if (!h) {
            st = AIGW_ENOMEM;
        } else {
            memcpy(h, "Authorization: Basic ", sizeof "Authorization: Basic " - 1);
            EVP_EncodeBlock((unsigned char *)h + sizeof "Authorization: Basic " - 1,
                            (const unsigned char *)plain.data, (int)plain.len);
            *out = h;
        }
    }
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.cap);
    aigw__buf_free(&plain);
    return st;
}

static void wipe_slist(struct curl_slist *h) {
    for (struct curl_slist *n = h; n; n = n->next)
        OPENSSL_cleanse(n->data, strlen(n->data));
    curl_slist_free_all(h);
}

aigw_status aigw__oauth_fetch(void *p, aigw__cred_value *out, aigw_error **err) {
    const aigw__oauth_client *c = p;
    memset(out, 0, sizeof *out);
    char *cred = NULL, *basic = NULL;
    aigw__buf form = AIGW__BUF_INIT, body = AIGW__BUF_INIT, what = AIGW__BUF_INIT;
    struct curl_slist *headers = NULL;
    aigw_status st = read_credential(c, &cred, err);
    if (st)
        return st;

    st = aigw__form_add(&form, "grant_type", "client_credentials");
    if (!st && c->auth != AIGW__OAUTH_SECRET_BASIC)
        st = aigw__form_add(&form, "client_id", c->client_id);
    if (!st && c->auth == AIGW__OAUTH_SECRET_POST)
        st = aigw__form_add(&form, "client_secret", cred);
    if (!st && c->auth == AIGW__OAUTH_ASSERTION) {
        st = aigw__form_add(&form, "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        if (!st)
            st = aigw__form_add(&form, "client_assertion", cred);
    }
    if (!st && c->scope)
        st = aigw__form_add(&form, "scope", c->scope);
    if (!st && c->audience)
        st = aigw__form_add(&form, "audience", c->audience);
    if (!st && c->auth == AIGW__OAUTH_SECRET_BASIC)
        st = basic_header(c->client_id, cred, &basic);
    if (!st)
        st = aigw__buf_printf(&what, "%s: token endpoint", c->name);
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/json", basic};
    for (size_t i = 0; !st && i < sizeof hdrs / sizeof hdrs[0]; i++) {
        if (!hdrs[i])
            continue;
        struct curl_slist *grown = curl_slist_append(headers, hdrs[i]);
        if (!grown)
            st = AIGW_ENOMEM;
        else
            headers = grown;
    }
    if (st) {
        st = aigw__error_set(err, st, "out of memory");
        goto done;
    }

    aigw__fetch_request req = {
        .method = "POST",
        .url = c->token_url,
        .headers = headers,
        .body = form.data,
        .body_len = form.len,
        .timeout_ms = c->timeout_ms,
        .what = what.data,
    };
    long http_status = 0;
    st = aigw__fetch(&req, &http_status, &body, err);
    if (!st) {
        const char *secrets[] = {cred, NULL};
        st = aigw__oauth_parse_response(c->name, c->host, http_status, body.data, body.len,
                                        time(NULL), secrets, out, err);
    }
    if (!st)
        aigw__log(&c->logger, AIGW_LOG_DEBUG, "%s: new token from %s, valid for %lld s", c->name,
                  c->host, (long long)(out->expires_at - time(NULL)));
    else
        aigw__log(&c->logger, AIGW_LOG_WARN, "%s: token request to %s failed", c->name, c->host);
done:
    wipe_free(cred);
    wipe_free(basic);
    wipe_slist(headers);
    if (form.data)
        OPENSSL_cleanse(form.data, form.cap);
    if (body.data)
        OPENSSL_cleanse(body.data, body.cap);
    aigw__buf_free(&form);
    aigw__buf_free(&body);
    aigw__buf_free(&what);
    return st;
}

/* ---- config ---- */

aigw_status aigw__oauth_conf_string(json_object *conf, const char *path, const char *key,
                                    int required, const char **out, aigw_error **err) {
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(conf, key, &v) || !v) {
        if (required)
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: required", path, key);
        return AIGW_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a string", path, key);
    if (json_object_get_string_len(v) == 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must not be empty", path, key);
    if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
        return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must not hold a NUL byte", path, key);
    *out = json_object_get_string(v);
    return AIGW_OK;
}

void aigw__oauth_check_file_mode(const aigw__logger *logger, const char *name, const char *file) {
    struct stat sb;
    if (stat(file, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
        aigw__log(logger, AIGW_LOG_WARN,
                  "%s: the secret file %s can be read by other users (mode %03o); "
                  "chmod 600 it",
                  name, file, (unsigned)(sb.st_mode & 0777));
}
