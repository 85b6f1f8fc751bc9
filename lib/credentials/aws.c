/* AWS credentials: the default credential chain of the AWS SDKs
 * (environment, web identity, shared files, container endpoint) and the
 * "aws" credential type of the config. Every source ends up as a
 * refresher whose fetch gives an aigw__cred_value with the access key id,
 * secret, session token and expiry. EC2 instance metadata (IMDS) is not
 * supported. */
#include "credentials/aws_files.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/log.h"
#include "credentials/credential.h"
#include "credentials/refresher.h"
#include "transport/fetch.h"

#define AWS_MAX_FILE (1024 * 1024)
#define STS_VERSION "2011-06-15"
#define ECS_HOST_URL "http://169.254.170.2"

/* ---- small helpers ---- */

static void wipe_free(char *s) {
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        aigw__free(s);
    }
}

static void buf_wipe_free(aigw__buf *b) {
    if (b->data) {
        volatile char *p = b->data;
        for (size_t i = 0; i < b->cap; i++)
            p[i] = 0;
    }
    aigw__buf_free(b);
}

static char *dup_n(const char *s, size_t n) {
    return aigw__strndup(s, n);
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Reads a whole (small) file into a new string. -1 with errno set. */
static int read_small_file(const char *path, char **out, size_t *len_out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    aigw__buf b = AIGW__BUF_INIT;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            buf_wipe_free(&b);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > AWS_MAX_FILE || aigw__buf_append(&b, chunk, (size_t)n)) {
            close(fd);
            buf_wipe_free(&b);
            memset(chunk, 0, sizeof chunk);
            errno = EFBIG;
            return -1;
        }
    }
    memset(chunk, 0, sizeof chunk);
    close(fd);
    if (len_out)
        *len_out = b.len;
    *out = b.data ? aigw__buf_detach(&b) : aigw__strdup("");
    if (!*out) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* A secret file others can read: worth a warning. */
static void warn_if_exposed(const aigw__logger *logger, const char *name, const char *path) {
    struct stat st;
    if (!logger || !path || stat(path, &st) != 0)
        return;
    if (st.st_mode & (S_IRGRP | S_IROTH))
        aigw__log(logger, AIGW_LOG_WARN,
                  "%s: file %s is readable by group or others (mode %03o); it holds a secret", name,
                  path, (unsigned)(st.st_mode & 0777));
}

static char *trim_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return dup_n(s, n);
}

/* Copies `msg` (from an endpoint) for an error: printable, at most 300
 * bytes, and with `secret` (when given and found) replaced. */
static void safe_message(const char *msg, const char *secret, char *out, size_t outlen) {
    size_t j = 0;
    size_t slen = secret ? strlen(secret) : 0;
    for (size_t i = 0; msg && msg[i] && j + 1 < outlen && j < 300;) {
        if (slen >= 4 && strncmp(msg + i, secret, slen) == 0) {
            const char *r = "[redacted]";
            for (; *r && j + 1 < outlen; r++)
                out[j++] = *r;
            i += slen;
            continue;
        }
        unsigned char c = (unsigned char)msg[i++];
        out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[j] = '\0';
}

/* ---- the shared files' INI ---- */

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

static aigw_status set_field(char **field, const char *v, size_t n) {
    char *d = dup_n(v, n);
    if (!d)
        return AIGW_ENOMEM;
    wipe_free(*field);
    *field = d;
    return AIGW_OK;
}

static aigw_status store_key(aigw__aws_profile *p, const char *k, size_t klen, const char *v,
                             size_t vlen) {
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"aws_access_key_id", offsetof(aigw__aws_profile, aws_access_key_id)},
        {"aws_secret_access_key", offsetof(aigw__aws_profile, aws_secret_access_key)},
        {"aws_session_token", offsetof(aigw__aws_profile, aws_session_token)},
        {"role_arn", offsetof(aigw__aws_profile, role_arn)},
        {"web_identity_token_file", offsetof(aigw__aws_profile, web_identity_token_file)},
        {"role_session_name", offsetof(aigw__aws_profile, role_session_name)},
        {"source_profile", offsetof(aigw__aws_profile, source_profile)},
        {"credential_source", offsetof(aigw__aws_profile, credential_source)},
        {"region", offsetof(aigw__aws_profile, region)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == klen && strncasecmp(keys[i].name, k, klen) == 0)
            return set_field((char **)((char *)p + keys[i].off), v, vlen);
    return AIGW_OK;
}

aigw_status aigw__aws_profile_parse(const char *text, size_t len, const char *file,
                                    const char *profile, int config_file, aigw__aws_profile *out,
                                    aigw_error **err) {
    const char *end = text + len;
    const char *line = text;
    unsigned long lineno = 0;
    int in_section = 0, in_target = 0;
    long prop_indent = -1;
    size_t plen = strlen(profile);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 BOM */
        line += 3;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        lineno++;
        const char *s = line;
        long indent = 0;
        while (s < le && is_blank(*s)) {
            s++;
            indent++;
        }
        const char *e = le;
        while (e > s && (is_blank(e[-1]) || e[-1] == '\r'))
            e--;
        line = nl ? nl + 1 : end;
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close)
                return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: section header without ']'",
                                       file, lineno);
            const char *rest = close + 1;
            while (rest < e && is_blank(*rest))
                rest++;
            if (rest < e && *rest != '#' && *rest != ';')
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s line %lu: unexpected text after a section header", file,
                                       lineno);
            const char *n = s + 1, *ne = close;
            while (n < ne && is_blank(*n))
                n++;
            while (ne > n && is_blank(ne[-1]))
                ne--;
            if (n == ne)
                return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: empty section name", file,
                                       lineno);
            in_section = 1;
            prop_indent = -1;
            in_target = 0;
            if (config_file) {
                if ((size_t)(ne - n) == 7 && memcmp(n, "default", 7) == 0) {
                    in_target = strcmp(profile, "default") == 0;
                } else if (ne - n > 7 && memcmp(n, "profile", 7) == 0 && is_blank(n[7])) {
                    const char *pn = n + 7;
                    while (pn < ne && is_blank(*pn))
                        pn++;
                    in_target = (size_t)(ne - pn) == plen && memcmp(pn, profile, plen) == 0;
                }
            } else {
                in_target = (size_t)(ne - n) == plen && memcmp(n, profile, plen) == 0;
            }
            if (in_target)
                out->found = 1;
            continue;
        }
        if (prop_indent >= 0 && indent > prop_indent)
            continue; /* a sub-property of the property above */
        if (!in_section)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s line %lu: a property outside any [section]", file, lineno);
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq)
            return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: expected 'name = value'", file,
                                   lineno);
        const char *k = s, *ke = eq;
        while (ke > k && is_blank(ke[-1]))
            ke--;
        if (k == ke)
            return aigw__error_set(err, AIGW_ECONFIG, "%s line %lu: a property without a name",
                                   file, lineno);
        const char *v = eq + 1, *ve = e;
        while (v < ve && is_blank(*v))
            v++;
        for (const char *c = v + 1; c < ve; c++)
            if ((*c == '#' || *c == ';') && is_blank(c[-1])) {
                ve = c;
                break;
            }
        while (ve > v && is_blank(ve[-1]))
            ve--;
        prop_indent = indent;
        if (in_target && store_key(out, k, (size_t)(ke - k), v, (size_t)(ve - v)))
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return AIGW_OK;
}

void aigw__aws_profile_clear(aigw__aws_profile *p) {
    wipe_free(p->aws_access_key_id);
    wipe_free(p->aws_secret_access_key);
    wipe_free(p->aws_session_token);
    aigw__free(p->role_arn);
    aigw__free(p->web_identity_token_file);
    aigw__free(p->role_session_name);
    aigw__free(p->source_profile);
    aigw__free(p->credential_source);
    aigw__free(p->region);
    memset(p, 0, sizeof *p);
}

/* ---- times ---- */

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int aigw__aws_parse_time(const char *s, time_t *out) {
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - offset;
    return 0;
}

/* ---- STS XML ---- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void) {
    xmlInitParser();
}

static xmlNodePtr xml_child(xmlNodePtr node, const char *name) {
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, (const xmlChar *)name))
            return c;
    return NULL;
}

/* The element's text, trimmed, or NULL (absent, empty, out of memory). */
static char *xml_text(xmlNodePtr node) {
    if (!node)
        return NULL;
    xmlChar *c = xmlNodeGetContent(node);
    if (!c)
        return NULL;
    size_t n = strlen((const char *)c);
    char *t = trim_dup((const char *)c, n);
    memset(c, 0, n);
    xmlFree(c);
    if (t && !*t) {
        aigw__free(t);
        t = NULL;
    }
    return t;
}

/* Wipes the text held in the tree before it is freed. */
static void xml_wipe(xmlDocPtr doc, xmlNodePtr node) {
    for (; node; node = node->next) {
        if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
            node->content && (const xmlChar *)node->content != (const xmlChar *)&node->properties &&
            !(doc->dict && xmlDictOwns(doc->dict, node->content)))
            memset(node->content, 0, (size_t)xmlStrlen(node->content));
        if (node->type == XML_ELEMENT_NODE)
            xml_wipe(doc, node->children);
    }
}

static aigw_status upstream_status(long http_status) {
    return http_status >= 500 ? AIGW_EUPSTREAM : AIGW_EAUTH;
}

/* Fills *out from key, secret, token and expiration strings (taking them). */
static aigw_status take_creds(char *akid, char *secret, char *token, const char *token_name,
                              char *expiration, const char *what, time_t now, aigw__cred_value *out,
                              aigw_error **err) {
    aigw_status st = AIGW_OK;
    time_t exp = 0;
    const char *missing = !akid         ? "AccessKeyId"
                          : !secret     ? "SecretAccessKey"
                          : !token      ? token_name
                          : !expiration ? "Expiration"
                                        : NULL;
    if (missing)
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: the answer has no %s", what, missing);
    else if (aigw__aws_parse_time(expiration, &exp) != 0)
        st = aigw__error_set(err, AIGW_EBADRESPONSE,
                             "%s: the answer's Expiration is not an ISO "
                             "8601 time",
                             what);
    else if (exp <= now)
        st = aigw__error_set(err, AIGW_EAUTH, "%s: the credentials it gave expired at %s", what,
                             expiration);
    if (st) {
        wipe_free(akid);
        wipe_free(secret);
        wipe_free(token);
        aigw__free(expiration);
        return st;
    }
    memset(out, 0, sizeof *out);
    out->aws_access_key_id = akid;
    out->aws_secret_access_key = secret;
    out->aws_session_token = token;
    out->expires_at = exp;
    aigw__free(expiration);
    return AIGW_OK;
}

static aigw_status sts_parse(const char *body, size_t len, long http_status, const char *what,
                             const char *redact, time_t now, aigw__cred_value *out,
                             aigw_error **err) {
    pthread_once(&xml_once, xml_init);
    xmlDocPtr doc = NULL;
    if (body && len && len < INT_MAX)
        doc = xmlReadMemory(body, (int)len, "sts.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_NODICT | XML_PARSE_NOCDATA);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    aigw_status st;
    if (!root) {
        if (http_status < 200 || http_status > 299)
            st = aigw__error_set(err, upstream_status(http_status),
                                 "%s: HTTP %ld with an answer that is not STS XML", what,
                                 http_status);
        else
            st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: the answer is not XML", what);
    } else if (xmlStrEqual(root->name, (const xmlChar *)"ErrorResponse") || http_status < 200 ||
               http_status > 299) {
        xmlNodePtr e = xml_child(root, "Error");
        if (!e && xmlStrEqual(root->name, (const xmlChar *)"Error"))
            e = root;
        char *code = xml_text(xml_child(e, "Code")), *msg = xml_text(xml_child(e, "Message"));
        char scode[128], smsg[512];
        safe_message(code ? code : "unknown error", redact, scode, sizeof scode);
        safe_message(msg ? msg : "", redact, smsg, sizeof smsg);
        long hs = http_status >= 200 && http_status <= 299 ? 400 : http_status;
        st = aigw__error_set(err, upstream_status(hs), "%s: HTTP %ld %s%s%s", what, http_status,
                             scode, *smsg ? ": " : "", smsg);
        aigw__free(code);
        aigw__free(msg);
    } else if (!xmlStrEqual(root->name, (const xmlChar *)"AssumeRoleWithWebIdentityResponse")) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE,
                             "%s: the answer is not an AssumeRoleWithWebIdentityResponse", what);
    } else {
        xmlNodePtr c = xml_child(xml_child(root, "AssumeRoleWithWebIdentityResult"), "Credentials");
        if (!c)
            st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: the answer has no Credentials", what);
        else
            st = take_creds(xml_text(xml_child(c, "AccessKeyId")),
                            xml_text(xml_child(c, "SecretAccessKey")),
                            xml_text(xml_child(c, "SessionToken")), "SessionToken",
                            xml_text(xml_child(c, "Expiration")), what, now, out, err);
    }
    if (doc) {
        xml_wipe(doc, doc->children);
        xmlFreeDoc(doc);
    }
    return st;
}

aigw_status aigw__aws_sts_parse(const char *body, size_t len, long http_status, const char *what,
                                time_t now, aigw__cred_value *out, aigw_error **err) {
    return sts_parse(body, len, http_status, what, NULL, now, out, err);
}

/* ---- container JSON ---- */

static char *json_str_dup(json_object *o, const char *key) {
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    return *s ? aigw__strdup(s) : NULL;
}

static void json_wipe_str(json_object *o, const char *key) {
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)) {
        char *s = (char *)json_object_get_string(v);
        memset(s, 0, (size_t)json_object_get_string_len(v));
    }
}

aigw_status aigw__aws_container_parse(const char *body, size_t len, long http_status,
                                      const char *what, time_t now, aigw__cred_value *out,
                                      aigw_error **err) {
    json_object *o = NULL;
    if (body && len && len < INT_MAX) {
        json_tokener *tok = json_tokener_new_ex(64);
        if (!tok)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        o = json_tokener_parse_ex(tok, body, (int)len);
        size_t endp = json_tokener_get_parse_end(tok);
        while (endp < len && isspace((unsigned char)body[endp]))
            endp++;
        if (o && (json_tokener_get_error(tok) != json_tokener_success || endp < len)) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    aigw_status st;
    int is_obj = o && json_object_is_type(o, json_type_object);
    if (http_status < 200 || http_status > 299) {
        const char *code = NULL, *msg = NULL;
        json_object *v;
        if (is_obj &&
            (json_object_object_get_ex(o, "code", &v) || json_object_object_get_ex(o, "Code", &v)))
            code = json_object_get_string(v);
        if (is_obj && (json_object_object_get_ex(o, "message", &v) ||
                       json_object_object_get_ex(o, "Message", &v)))
            msg = json_object_get_string(v);
        char scode[128], smsg[512];
        safe_message(code ? code : "", NULL, scode, sizeof scode);
        safe_message(msg ? msg : "", NULL, smsg, sizeof smsg);
        st = aigw__error_set(err, upstream_status(http_status), "%s: HTTP %ld%s%s%s%s", what,
                             http_status, *scode ? " " : "", scode, *smsg ? ": " : "", smsg);
    } else if (!is_obj) {
        st = aigw__error_set(err, AIGW_EBADRESPONSE, "%s: the answer is not a JSON object", what);
    } else {
        st = take_creds(json_str_dup(o, "AccessKeyId"), json_str_dup(o, "SecretAccessKey"),
                        json_str_dup(o, "Token"), "Token", json_str_dup(o, "Expiration"), what, now,
                        out, err);
    }
    if (is_obj) {
        json_wipe_str(o, "AccessKeyId");
        json_wipe_str(o, "SecretAccessKey");
        json_wipe_str(o, "Token");
    }
    json_object_put(o);
    return st;
}

/* ---- sources: what a refresher fetches from ---- */

typedef enum { SRC_STATIC, SRC_WEB_IDENTITY, SRC_CONTAINER } src_kind;

typedef struct aws_src {
    src_kind kind;
    char *name;    /* the credential's name, for errors */
    char *missing; /* static: why there is no value */
    aigw__cred_value value;
    char *role_arn, *token_file, *session_name, *sts_url;
    char *url, *auth_token, *auth_token_file;
} aws_src;

static void src_free(void *p) {
    aws_src *s = p;
    if (!s)
        return;
    aigw__free(s->name);
    aigw__free(s->missing);
    aigw__cred_value_clear(&s->value);
    aigw__free(s->role_arn);
    aigw__free(s->token_file);
    aigw__free(s->session_name);
    aigw__free(s->sts_url);
    aigw__free(s->url);
    wipe_free(s->auth_token);
    aigw__free(s->auth_token_file);
    aigw__free(s);
}

static aigw_status fetch_static(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    if (s->missing)
        return aigw__error_set(err, AIGW_EAUTH, "%s: %s", s->name, s->missing);
    return aigw__cred_value_copy(&s->value, out)
               ? aigw__error_set(err, AIGW_ENOMEM, "out of memory")
               : AIGW_OK;
}

/* A token file's contents without surrounding whitespace. */
static aigw_status read_token_file(const char *name, const char *what, const char *path, char **out,
                                   aigw_error **err) {
    char *raw = NULL;
    size_t len = 0;
    if (read_small_file(path, &raw, &len) != 0)
        return aigw__error_set(err, errno == ENOMEM ? AIGW_ENOMEM : AIGW_EAUTH,
                               "%s: cannot read %s %s: %s", name, what, path, strerror(errno));
    *out = trim_dup(raw, len);
    memset(raw, 0, len);
    aigw__free(raw);
    if (!*out)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (!**out) {
        aigw__free(*out);
        *out = NULL;
        return aigw__error_set(err, AIGW_EAUTH, "%s: %s %s is empty", name, what, path);
    }
    return AIGW_OK;
}

static aigw_status fetch_web_identity(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    char *token = NULL;
    aigw_status st =
        read_token_file(s->name, "web identity token file", s->token_file, &token, err);
    if (st)
        return st;
    aigw__buf form = AIGW__BUF_INIT, body = AIGW__BUF_INIT, what = AIGW__BUF_INIT;
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: text/xml");
    struct curl_slist *h =
        headers ? curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded")
                : NULL;
    if (h)
        headers = h;
    if (!h || aigw__form_add(&form, "Action", "AssumeRoleWithWebIdentity") ||
        aigw__form_add(&form, "Version", STS_VERSION) ||
        aigw__form_add(&form, "RoleArn", s->role_arn) ||
        aigw__form_add(&form, "RoleSessionName", s->session_name) ||
        aigw__form_add(&form, "WebIdentityToken", token) ||
        aigw__buf_cat(&what, s->name, ": STS AssumeRoleWithWebIdentity", NULL)) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    aigw__fetch_request req = {
        .method = "POST",
        .url = s->sts_url,
        .headers = headers,
        .body = form.data,
        .body_len = form.len,
        .what = what.data,
    };
    long status = 0;
    st = aigw__fetch(&req, &status, &body, err);
    if (!st)
        st = sts_parse(body.data, body.len, status, what.data, token, time(NULL), out, err);
done:
    curl_slist_free_all(headers);
    buf_wipe_free(&form);
    buf_wipe_free(&body);
    aigw__buf_free(&what);
    wipe_free(token);
    return st;
}

static aigw_status fetch_container(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    char *token = NULL;
    aigw_status st = AIGW_OK;
    if (s->auth_token_file) {
        st = read_token_file(s->name, "container authorization token file", s->auth_token_file,
                             &token, err);
        if (st)
            return st;
    } else if (s->auth_token && !(token = aigw__strdup(s->auth_token))) {
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__buf line = AIGW__BUF_INIT, body = AIGW__BUF_INIT, what = AIGW__BUF_INIT;
    struct curl_slist *headers = NULL;
    if (token && strpbrk(token, "\r\n")) {
        st = aigw__error_set(err, AIGW_EAUTH,
                             "%s: the container authorization token holds a line break", s->name);
        goto done;
    }
    if (aigw__buf_cat(&what, s->name, ": container credentials endpoint", NULL) ||
        (token && (aigw__buf_cat(&line, "Authorization: ", token, NULL) ||
                   !(headers = curl_slist_append(NULL, line.data))))) {
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        goto done;
    }
    aigw__fetch_request req = {
        .method = "GET", .url = s->url, .headers = headers, .what = what.data};
    long status = 0;
    st = aigw__fetch(&req, &status, &body, err);
    if (!st)
        st =
            aigw__aws_container_parse(body.data, body.len, status, what.data, time(NULL), out, err);
done:
    if (headers) {
        memset(headers->data, 0, strlen(headers->data));
        curl_slist_free_all(headers);
    }
    buf_wipe_free(&line);
    buf_wipe_free(&body);
    aigw__buf_free(&what);
    wipe_free(token);
    return st;
}

/* Makes `src` (taken, even on failure) the credential's refresher. */
static aigw_status install(aigw__credential *cred, aws_src *src, const char *source,
                           aigw_error **err) {
    aigw__cred_fetch_fn fn = src->kind == SRC_STATIC         ? fetch_static
                             : src->kind == SRC_WEB_IDENTITY ? fetch_web_identity
                                                             : fetch_container;
    aigw__free(cred->source);
    cred->source = aigw__strdup(source);
    src->name = aigw__strdup(cred->name ? cred->name : "AWS credentials");
    if (!cred->source || !src->name) {
        src_free(src);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__refresher *r = NULL;
    if (aigw__refresher_new(cred->name ? cred->name : "AWS credentials", fn, src, src_free, &r))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__refresher_unref(cred->refresher);
    cred->refresher = r;
    cred->kind = AIGW__CRED_AWS_SIGV4;
    return AIGW_OK;
}

static aws_src *src_new(src_kind kind) {
    aws_src *s = aigw__calloc(1, sizeof *s);
    if (s)
        s->kind = kind;
    return s;
}

static aigw_status setup_static(aigw__credential *cred, const char *akid, const char *secret,
                                const char *token, const char *missing, const char *source,
                                aigw_error **err) {
    aws_src *s = src_new(SRC_STATIC);
    if (!s || (missing && !(s->missing = aigw__strdup(missing))) ||
        (akid && !(s->value.aws_access_key_id = aigw__strdup(akid))) ||
        (secret && !(s->value.aws_secret_access_key = aigw__strdup(secret))) ||
        (token && *token && !(s->value.aws_session_token = aigw__strdup(token)))) {
        src_free(s);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    return install(cred, s, source, err);
}

static int valid_region(const char *r) {
    if (!r || !*r || strlen(r) > 40)
        return 0;
    for (; *r; r++)
        if (!islower((unsigned char)*r) && !isdigit((unsigned char)*r) && *r != '-')
            return 0;
    return 1;
}

/* STS's URL: an explicit endpoint, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
 * else the regional endpoint (the global one without a region). */
static char *sts_url_for(const char *explicit_url, const char *profile_region) {
    const char *u = explicit_url ? explicit_url : env_nonempty("AWS_ENDPOINT_URL_STS");
    if (!u)
        u = env_nonempty("AWS_ENDPOINT_URL");
    if (u)
        return aigw__strdup(u);
    const char *region = env_nonempty("AWS_REGION");
    if (!region)
        region = env_nonempty("AWS_DEFAULT_REGION");
    if (!region)
        region = profile_region;
    if (!valid_region(region))
        return aigw__strdup("https://sts.amazonaws.com/");
    aigw__buf b = AIGW__BUF_INIT;
    if (aigw__buf_printf(&b, "https://sts.%s.amazonaws.com%s/", region,
                         strncmp(region, "cn-", 3) == 0 ? ".cn" : "")) {
        aigw__buf_free(&b);
        return NULL;
    }
    return aigw__buf_detach(&b);
}

static aigw_status setup_web_identity(aigw__credential *cred, const char *role, const char *file,
                                      const char *session, const char *explicit_sts,
                                      const char *profile_region, const aigw__cred_context *ctx,
                                      aigw_error **err) {
    aws_src *s = src_new(SRC_WEB_IDENTITY);
    char pidname[48];
    snprintf(pidname, sizeof pidname, "libaigw-%ld", (long)getpid());
    if (!s || !(s->role_arn = aigw__strdup(role)) || !(s->token_file = aigw__strdup(file)) ||
        !(s->session_name = aigw__strdup(session && *session ? session : pidname)) ||
        !(s->sts_url = sts_url_for(explicit_sts, profile_region))) {
        src_free(s);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    warn_if_exposed(ctx ? ctx->logger : NULL, cred->name ? cred->name : "AWS credentials", file);
    aigw__buf src = AIGW__BUF_INIT;
    if (aigw__buf_cat(&src, "web identity token file ", file, " for role ", role, NULL)) {
        src_free(s);
        aigw__buf_free(&src);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw_status st = install(cred, s, src.data, err);
    aigw__buf_free(&src);
    return st;
}

/* The container endpoint may be plain http only on loopback or the ECS /
 * EKS link-local addresses. */
static int container_host_ok(const char *host) {
    static const char *const ok[] = {"localhost",      "[::1]",          "169.254.170.2",
                                     "169.254.170.23", "[fd00:ec2::23]", NULL};
    for (size_t i = 0; ok[i]; i++)
        if (strcasecmp(host, ok[i]) == 0)
            return 1;
    if (strncmp(host, "127.", 4) != 0)
        return 0;
    int dots = 0;
    for (const char *p = host + 4; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!isdigit((unsigned char)*p))
            return 0;
    }
    return dots == 2;
}

static aigw_status setup_container(aigw__credential *cred, const char *url, const char *path,
                                   const aigw__cred_context *ctx, aigw_error **err) {
    const char *what = path ? path : "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    aigw_status st = AIGW_OK;
    if (!u)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: not a valid URL", what);
    } else if (strcasecmp(scheme, "https") != 0 &&
               (strcasecmp(scheme, "http") != 0 || !container_host_ok(host))) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: the container credentials endpoint must use https, or http to "
                             "a loopback or the ECS/EKS address (not %s://%s)",
                             what, scheme, host);
    }
    aws_src *s = NULL;
    aigw__buf src = AIGW__BUF_INIT;
    if (!st) {
        const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *tok = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        s = src_new(SRC_CONTAINER);
        if (!s || !(s->url = aigw__strdup(url)) ||
            (file && !(s->auth_token_file = aigw__strdup(file))) ||
            (!file && tok && !(s->auth_token = aigw__strdup(tok))) ||
            aigw__buf_cat(&src, "container credentials endpoint ", host, NULL)) {
            src_free(s);
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        } else {
            if (file)
                warn_if_exposed(ctx ? ctx->logger : NULL,
                                cred->name ? cred->name : "AWS credentials", file);
            st = install(cred, s, src.data, err);
        }
    }
    aigw__buf_free(&src);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return st;
}

/* ---- the shared files ---- */

static char *home_path(const char *leaf) {
    const char *home = env_nonempty("HOME");
    struct passwd pw, *res = NULL;
    char pwbuf[1024];
    if (!home && getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &res) == 0 && res)
        home = pw.pw_dir;
    if (!home)
        return NULL;
    aigw__buf b = AIGW__BUF_INIT;
    if (aigw__buf_cat(&b, home, leaf, NULL)) {
        aigw__buf_free(&b);
        return NULL;
    }
    return aigw__buf_detach(&b);
}

/* The file named by `env` ('~/' expanded), else ~/.aws/LEAF. */
static char *aws_file_path(const char *env, const char *leaf) {
    const char *v = env_nonempty(env);
    if (v && strncmp(v, "~/", 2) == 0)
        return home_path(v + 1);
    if (v)
        return aigw__strdup(v);
    char rel[64];
    snprintf(rel, sizeof rel, "/.aws/%s", leaf);
    return home_path(rel);
}

/* Parses `path` for `profile` into *p; a missing file is no error. */
static aigw_status parse_file(const char *path, const char *profile, int config_file,
                              aigw__aws_profile *p, aigw_error **err) {
    char *text = NULL;
    size_t len = 0;
    if (!path)
        return AIGW_OK;
    if (read_small_file(path, &text, &len) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return AIGW_OK;
        return aigw__error_set(err, errno == ENOMEM ? AIGW_ENOMEM : AIGW_ECONFIG,
                               "cannot read %s: %s", path, strerror(errno));
    }
    aigw_status st = aigw__aws_profile_parse(text, len, path, profile, config_file, p, err);
    memset(text, 0, len);
    aigw__free(text);
    return st;
}

/* Step 3 of the chain. `must_exist`: 1 when the profile was named (config
 * or AWS_PROFILE), 2 when the config named it (it must hold credentials). */
static aigw_status from_files(aigw__credential *cred, const char *profile, int must_exist,
                              const char *explicit_sts, const aigw__cred_context *ctx,
                              aigw_error **err) {
    char *creds_path = aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    char *config_path = aws_file_path("AWS_CONFIG_FILE", "config");
    aigw__aws_profile cfg = {0}, crd = {0};
    aigw__buf src = AIGW__BUF_INIT;
    const char *nm = cred->name ? cred->name : "AWS credentials";
    aigw_status st = parse_file(config_path, profile, 1, &cfg, err);
    if (!st)
        st = parse_file(creds_path, profile, 0, &crd, err);
    if (st)
        goto done;
    const char *cp = creds_path ? creds_path : "~/.aws/credentials";
    const char *gp = config_path ? config_path : "~/.aws/config";
    if (!cfg.found && !crd.found) {
        if (must_exist)
            st = aigw__error_set(err, AIGW_ECONFIG, "%s: profile %s is in neither %s nor %s", nm,
                                 profile, cp, gp);
        goto done;
    }
#define PICK(f) (crd.f ? crd.f : cfg.f)
    int keys_in_creds = crd.aws_access_key_id || crd.aws_secret_access_key;
    const char *file = keys_in_creds ? cp : gp;
    const char *akid = keys_in_creds ? crd.aws_access_key_id : cfg.aws_access_key_id;
    const char *secret = keys_in_creds ? crd.aws_secret_access_key : cfg.aws_secret_access_key;
    const char *token = keys_in_creds ? crd.aws_session_token : cfg.aws_session_token;
    const char *role = PICK(role_arn), *wif = PICK(web_identity_token_file);
    if (role && wif) {
        st = setup_web_identity(cred, role, wif, PICK(role_session_name), explicit_sts,
                                PICK(region), ctx, err);
        if (!st) {
            aigw__free(cred->source);
            cred->source = NULL;
            if (aigw__buf_printf(&src, "profile %s in %s: web identity token file %s for role %s",
                                 profile, crd.role_arn ? cp : gp, wif, role) ||
                !(cred->source = aigw__strdup(src.data)))
                st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
    } else if (role) {
        st = aigw__error_set(err, AIGW_ENOTSUPPORTED,
                             "%s: profile %s: role_arn needs web_identity_token_file (assuming a "
                             "role from source_profile or credential_source is not supported)",
                             nm, profile);
    } else if (akid && secret) {
        warn_if_exposed(ctx ? ctx->logger : NULL, nm, file);
        if (aigw__buf_printf(&src, "profile %s in %s", profile, file))
            st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        else
            st = setup_static(cred, akid, secret, token, NULL, src.data, err);
    } else if (akid || secret) {
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: profile %s in %s has %s but no %s", nm,
                             profile, file, akid ? "aws_access_key_id" : "aws_secret_access_key",
                             akid ? "aws_secret_access_key" : "aws_access_key_id");
    } else if (must_exist == 2) {
        st = aigw__error_set(err, AIGW_ECONFIG,
                             "%s: profile %s holds no credentials (aws_access_key_id and "
                             "aws_secret_access_key, or role_arn and web_identity_token_file)",
                             nm, profile);
    }
#undef PICK
done:
    aigw__aws_profile_clear(&cfg);
    aigw__aws_profile_clear(&crd);
    aigw__buf_free(&src);
    aigw__free(creds_path);
    aigw__free(config_path);
    return st;
}

/* ---- the chain ---- */

typedef struct aws_opts {
    const char *ak_env, *sk_env, *st_env;
    const char *profile;
    const char *role_arn, *token_file, *session_name;
    const char *sts_endpoint;
    const char *container_uri;
} aws_opts;

static aigw_status from_named_env(aigw__credential *cred, const aws_opts *o, aigw_error **err) {
    const char *ak = env_nonempty(o->ak_env), *sk = env_nonempty(o->sk_env);
    const char *tk = o->st_env ? env_nonempty(o->st_env) : NULL;
    char missing[320] = "", source[320];
    if (!ak || !sk)
        snprintf(missing, sizeof missing, "environment variable %s is not set",
                 !ak ? o->ak_env : o->sk_env);
    snprintf(source, sizeof source, "environment variables %s/%s", o->ak_env, o->sk_env);
    return setup_static(cred, ak, sk, tk, *missing ? missing : NULL, source, err);
}

static aigw_status run_chain(aigw__credential *cred, const aws_opts *o,
                             const aigw__cred_context *ctx, aigw_error **err) {
    if (o->ak_env)
        return from_named_env(cred, o, err);
    if (o->role_arn)
        return setup_web_identity(cred, o->role_arn, o->token_file, o->session_name,
                                  o->sts_endpoint, NULL, ctx, err);
    if (o->container_uri)
        return setup_container(cred, o->container_uri, NULL, ctx, err);
    if (o->profile)
        return from_files(cred, o->profile, 2, o->sts_endpoint, ctx, err);

    /* 1. environment */
    const char *ak = env_nonempty("AWS_ACCESS_KEY_ID"), *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (ak && sk)
        return setup_static(cred, ak, sk, env_nonempty("AWS_SESSION_TOKEN"), NULL,
                            "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", err);
    if (ak || sk)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: environment variable %s is set but %s is not",
                               cred->name ? cred->name : "AWS credentials",
                               ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                               ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    /* 2. web identity */
    const char *wif = env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE"),
               *role = env_nonempty("AWS_ROLE_ARN");
    if (wif && role)
        return setup_web_identity(cred, role, wif, env_nonempty("AWS_ROLE_SESSION_NAME"),
                                  o->sts_endpoint, NULL, ctx, err);
    /* 3. shared files */
    const char *prof = env_nonempty("AWS_PROFILE");
    aigw_status st =
        from_files(cred, prof ? prof : "default", prof ? 1 : 0, o->sts_endpoint, ctx, err);
    if (st || cred->kind != AIGW__CRED_NONE)
        return st;
    /* 4. container */
    const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (rel) {
        aigw__buf url = AIGW__BUF_INIT;
        if (aigw__buf_cat(&url, ECS_HOST_URL, rel[0] == '/' ? "" : "/", rel, NULL)) {
            aigw__buf_free(&url);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
        st = setup_container(cred, url.data, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ctx, err);
        aigw__buf_free(&url);
        return st;
    }
    const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (full)
        return setup_container(cred, full, NULL, ctx, err);
    return AIGW_OK; /* nothing: kind stays NONE */
}

static aigw_status set_name(aigw__credential *cred, const char *label) {
    aigw__free(cred->name);
    cred->name = aigw__strdup(label);
    return cred->name ? AIGW_OK : AIGW_ENOMEM;
}

static aigw_status finish(aigw__credential *cred, aigw_status st) {
    if (st) {
        aigw__free(cred->name);
        aigw__free(cred->source);
        aigw__refresher_unref(cred->refresher);
        cred->name = cred->source = NULL;
        cred->refresher = NULL;
        cred->kind = AIGW__CRED_NONE;
    } else if (cred->kind == AIGW__CRED_NONE) {
        aigw__free(cred->source);
        cred->source = NULL;
    }
    return st;
}

aigw_status aigw__aws_credential_default(aigw__credential *cred, const aigw__cred_context *ctx,
                                         aigw_error **err) {
    memset(cred, 0, sizeof *cred);
    if (set_name(cred, "AWS default credentials"))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aws_opts o;
    memset(&o, 0, sizeof o);
    return finish(cred, run_chain(cred, &o, ctx, err));
}

aigw_status aigw__aws_credential_load(aigw__credential *cred, const char *name, json_object *conf,
                                      const char *path, const aigw__cred_context *ctx,
                                      aigw_error **err) {
    static const char *const keys[] = {
        "type",         "access_key_id_env", "secret_access_key_env",   "session_token_env",
        "profile",      "role_arn",          "web_identity_token_file", "role_session_name",
        "sts_endpoint", "container_uri",
    };
    const char *vals[sizeof keys / sizeof keys[0]] = {0};
    const char *p = path ? path : "credentials";
    memset(cred, 0, sizeof *cred);
    if (!conf || !json_object_is_type(conf, json_type_object))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", p);
    json_object_object_foreach(conf, key, val) {
        size_t i;
        for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strcmp(key, keys[i]) == 0)
                break;
        if (i == sizeof keys / sizeof keys[0])
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: unknown key", p, key);
        if (!val || !json_object_is_type(val, json_type_string))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must be a string", p, key);
        if (!*json_object_get_string(val))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.%s: must not be empty", p, key);
        vals[i] = json_object_get_string(val);
    }
    if (vals[0] && strcmp(vals[0], "aws") != 0)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.type: must be \"aws\"", p);
    aws_opts o = {
        .ak_env = vals[1],
        .sk_env = vals[2],
        .st_env = vals[3],
        .profile = vals[4],
        .role_arn = vals[5],
        .token_file = vals[6],
        .session_name = vals[7],
        .sts_endpoint = vals[8],
        .container_uri = vals[9],
    };
    if (!o.ak_env != !o.sk_env)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: access_key_id_env and secret_access_key_env go together", p);
    if (o.st_env && !o.ak_env)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.session_token_env: needs access_key_id_env and "
                               "secret_access_key_env",
                               p);
    if (!o.role_arn != !o.token_file)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: role_arn and web_identity_token_file go together", p);
    if (o.session_name && !o.role_arn)
        return aigw__error_set(err, AIGW_ECONFIG, "%s.role_session_name: needs role_arn", p);
    if (!!o.ak_env + !!o.profile + !!o.role_arn + !!o.container_uri > 1)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: give only one of access_key_id_env, profile, role_arn and "
                               "container_uri",
                               p);
    if (o.sts_endpoint && (o.ak_env || o.container_uri))
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s.sts_endpoint: only with role_arn, profile or the default chain",
                               p);
    char label[256];
    snprintf(label, sizeof label, "credential \"%s\"", name ? name : "aws");
    if (set_name(cred, label))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return finish(cred, run_chain(cred, &o, ctx, err));
}
