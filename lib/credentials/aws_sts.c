/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials: STS AssumeRoleWithWebIdentity, its XML answer and the
 * web identity source. */
#include "credentials/aws_internal.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "transport/fetch.h"

#define STS_VERSION "2011-06-15"

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
    char *t = aigw__aws_trim_dup((const char *)c, n);
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
            st = aigw__error_set(err, aigw__aws_upstream_status(http_status),
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
        aigw__aws_safe_message(code ? code : "unknown error", redact, scode, sizeof scode);
        aigw__aws_safe_message(msg ? msg : "", redact, smsg, sizeof smsg);
        long hs = http_status >= 200 && http_status <= 299 ? 400 : http_status;
        st = aigw__error_set(err, aigw__aws_upstream_status(hs), "%s: HTTP %ld %s%s%s", what,
                             http_status, scode, *smsg ? ": " : "", smsg);
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
            st = aigw__aws_take_creds(xml_text(xml_child(c, "AccessKeyId")),
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

aigw_status aigw__aws_fetch_web_identity(void *ctx, aigw__cred_value *out, aigw_error **err) {
    aws_src *s = ctx;
    char *token = NULL;
    aigw_status st =
        aigw__aws_read_token_file(s->name, "web identity token file", s->token_file, &token, err);
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
    aigw__aws_buf_wipe_free(&form);
    aigw__aws_buf_wipe_free(&body);
    aigw__buf_free(&what);
    aigw__aws_wipe_free(token);
    return st;
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
    const char *u = explicit_url ? explicit_url : aigw__aws_env_nonempty("AWS_ENDPOINT_URL_STS");
    if (!u)
        u = aigw__aws_env_nonempty("AWS_ENDPOINT_URL");
    if (u)
        return aigw__strdup(u);
    const char *region = aigw__aws_env_nonempty("AWS_REGION");
    if (!region)
        region = aigw__aws_env_nonempty("AWS_DEFAULT_REGION");
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

aigw_status aigw__aws_setup_web_identity(aigw__credential *cred, const char *role, const char *file,
                                         const char *session, const char *explicit_sts,
                                         const char *profile_region, const aigw__cred_context *ctx,
                                         aigw_error **err) {
    aws_src *s = aigw__aws_src_new(SRC_WEB_IDENTITY);
    char pidname[48];
    snprintf(pidname, sizeof pidname, "libaigw-%ld", (long)getpid());
    if (!s || !(s->role_arn = aigw__strdup(role)) || !(s->token_file = aigw__strdup(file)) ||
        !(s->session_name = aigw__strdup(session && *session ? session : pidname)) ||
        !(s->sts_url = sts_url_for(explicit_sts, profile_region))) {
        aigw__aws_src_free(s);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__aws_warn_if_exposed(ctx ? ctx->logger : NULL, cred->name ? cred->name : "AWS credentials",
                              file);
    aigw__buf src = AIGW__BUF_INIT;
    if (aigw__buf_cat(&src, "web identity token file ", file, " for role ", role, NULL)) {
        aigw__aws_src_free(s);
        aigw__buf_free(&src);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw_status st = aigw__aws_install(cred, s, src.data, err);
    aigw__buf_free(&src);
    return st;
}
