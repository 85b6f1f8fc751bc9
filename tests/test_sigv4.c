/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4: AWS's published test suite (credentials
 * AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z), a
 * Bedrock-shaped request checked against a second, independent signer
 * (Python: the stdlib hashlib/hmac, and botocore when it is installed), and
 * the errors, which never carry a secret.
 *
 * Where the expected values come from:
 *  [JS]  aws/aws-sdk-js-v3 packages/signature-v4/src/suite.fixture.ts, the
 *        SDK's transcription of AWS's aws-sig-v4-test-suite (the
 *        `authorization` of each named case);
 *  [CRT] awslabs/aws-c-auth tests/aws-signing-test-suite/v4/<case>/
 *        header-signed-request.txt (the Authorization line).
 * Both give the same Authorization for every case below where both exist. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aigw/aigw.h"
#include "core/buf.h"
#include "core/upstream.h"
#include "credentials/credential.h"
#include "credentials/sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_NOW ((time_t)1440938160) /* 2015-08-30T12:36:00Z */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AUTHZ_PREFIX                                                                               \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static struct curl_slist *slist(const char *const *lines) {
    struct curl_slist *l = NULL;
    for (; *lines; lines++) {
        struct curl_slist *g = curl_slist_append(l, *lines);
        cr_assert_not_null(g);
        l = g;
    }
    return l;
}

/* Signs one suite request with the low-level signer: the path is the raw
 * (not yet encoded) path of the suite's request line, the query as sent.
 * Headers: Host and X-Amz-Date first, then `extra`. */
static void sign_suite(const char *method, const char *path, const char *query,
                       const char *const *extra, const char *body, aigw__sigv4_output *out) {
    const char *lines[16] = {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE};
    size_t n = 2;
    for (; extra && *extra; extra++)
        lines[n++] = *extra;
    lines[n] = NULL;
    struct curl_slist *h = slist(lines);
    aigw__sigv4_input in = {
        .method = method,
        .path = path,
        .query = query,
        .headers = h,
        .payload = body,
        .payload_len = body ? strlen(body) : 0,
        .access_key_id = AKID,
        .secret_access_key = SECRET,
        .region = "us-east-1",
        .service = "service",
        .amz_date = SUITE_DATE,
    };
    aigw_error *e = NULL;
    cr_assert_eq(aigw__sigv4_sign(&in, out, &e), AIGW_OK, "%s", aigw_error_message(e));
    curl_slist_free_all(h);
}

static void expect_authz(const char *method, const char *path, const char *query,
                         const char *const *extra, const char *body, const char *authz) {
    aigw__sigv4_output out;
    sign_suite(method, path, query, extra, body, &out);
    cr_expect_str_eq(out.authorization, authz, "\n%s\n--\n%s", out.canonical_request,
                     out.string_to_sign);
    aigw__sigv4_output_free(&out);
}

/* get-vanilla: [JS] and [CRT] get-vanilla-query (the same request). The
 * canonical request and string to sign are the suite's get-vanilla.creq and
 * get-vanilla.sts (the .sts hash, bb5797..., is the one AWS publishes). */
Test(sigv4_suite, get_vanilla) {
    aigw__sigv4_output out;
    sign_suite("GET", "/", NULL, NULL, NULL, &out);
    cr_assert_str_eq(out.canonical_request,
                     "GET\n/\n\nhost:example.amazonaws.com\n"
                     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);
    cr_assert_str_eq(out.string_to_sign,
                     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    cr_assert_str_eq(out.signed_headers, "host;x-amz-date");
    cr_assert_str_eq(out.signature,
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    cr_assert_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=host;x-amz-date, "
                     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    aigw__sigv4_output_free(&out);
}

/* get-vanilla-query: [JS] and [CRT]: "GET / " with no query. An empty
 * query ("GET /?") signs the same. */
Test(sigv4_suite, get_vanilla_query) {
    const char *want =
        AUTHZ_PREFIX "SignedHeaders=host;x-amz-date, "
                     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    expect_authz("GET", "/", NULL, NULL, NULL, want);
    expect_authz("GET", "/", "", NULL, NULL, want);
}

/* get-vanilla-query-order-key-case: [JS], [CRT] "GET /?Param2=value2&Param1=value1". */
Test(sigv4_suite, get_vanilla_query_order_key_case) {
    aigw__sigv4_output out;
    sign_suite("GET", "/", "Param2=value2&Param1=value1", NULL, NULL, &out);
    cr_expect(strstr(out.canonical_request, "\n/\nParam1=value1&Param2=value2\n") != NULL);
    cr_expect_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=host;x-amz-date, "
                     "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    aigw__sigv4_output_free(&out);
}

/* get-vanilla-query-unreserved: [JS], [CRT]. */
Test(sigv4_suite, get_vanilla_query_unreserved) {
    expect_authz("GET", "/",
                 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                 NULL, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}

/* get-vanilla-utf8-query: [JS] (query {"ሴ": "bar"}), sent as %E1%88%B4=bar. */
Test(sigv4_suite, get_vanilla_utf8_query) {
    expect_authz("GET", "/", "%E1%88%B4=bar", NULL, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
}

/* get-utf8: [JS], [CRT] "GET /ሴ"; the raw path encodes once to /%E1%88%B4. */
Test(sigv4_suite, get_utf8) {
    aigw__sigv4_output out;
    sign_suite("GET", "/\xe1\x88\xb4", NULL, NULL, NULL, &out);
    cr_expect(strncmp(out.canonical_request, "GET\n/%E1%88%B4\n\n", 16) == 0);
    cr_expect_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=host;x-amz-date, "
                     "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
    aigw__sigv4_output_free(&out);
}

/* get-unreserved: [JS] path "/-._~0-9A-Za-z". */
Test(sigv4_suite, get_unreserved) {
    expect_authz("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL,
                 NULL, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
}

/* get-header-key-duplicate: [CRT] (three My-Header1 lines: value2, value2,
 * value1, joined in order) and [JS] ("value2,value2,value1"). */
Test(sigv4_suite, get_header_key_duplicate) {
    const char *extra[] = {"My-Header1:value2", "My-Header1:value2", "My-Header1:value1", NULL};
    aigw__sigv4_output out;
    sign_suite("GET", "/", NULL, extra, NULL, &out);
    cr_expect(strstr(out.canonical_request, "\nmy-header1:value2,value2,value1\n") != NULL);
    cr_expect_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=host;my-header1;x-amz-date, "
                     "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
    aigw__sigv4_output_free(&out);
}

/* get-header-value-order: [JS] "value4,value1,value3,value2" (order kept). */
Test(sigv4_suite, get_header_value_order) {
    const char *extra[] = {"My-Header1:value4", "My-Header1:value1", "My-Header1:value3",
                           "My-Header1:value2", NULL};
    expect_authz("GET", "/", NULL, extra, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;my-header1;x-amz-date, "
                 "Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
}

/* get-header-value-trim: [CRT] "My-Header1: value1", "My-Header2: \"a   b   c\"". */
Test(sigv4_suite, get_header_value_trim) {
    const char *extra[] = {"My-Header1: value1", "My-Header2: \"a   b   c\"", NULL};
    aigw__sigv4_output out;
    sign_suite("GET", "/", NULL, extra, NULL, &out);
    cr_expect(strstr(out.canonical_request, "\nmy-header1:value1\nmy-header2:\"a b c\"\n") != NULL);
    cr_expect_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                     "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
    aigw__sigv4_output_free(&out);
}

/* post-vanilla: [JS], [CRT]. */
Test(sigv4_suite, post_vanilla) {
    expect_authz("POST", "/", NULL, NULL, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

/* post-vanilla-query: [JS], [CRT] "POST /?Param1=value1". */
Test(sigv4_suite, post_vanilla_query) {
    expect_authz("POST", "/", "Param1=value1", NULL, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;x-amz-date, "
                 "Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

/* post-header-key-sort: [JS], [CRT] (My-Header1 sorts between host and x-amz-date). */
Test(sigv4_suite, post_header_key_sort) {
    const char *extra[] = {"My-Header1:value1", NULL};
    expect_authz("POST", "/", NULL, extra, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;my-header1;x-amz-date, "
                 "Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
}

/* post-header-value-case: [JS], [CRT] (values keep their case). */
Test(sigv4_suite, post_header_value_case) {
    const char *extra[] = {"My-Header1:VALUE1", NULL};
    expect_authz("POST", "/", NULL, extra, NULL,
                 AUTHZ_PREFIX
                 "SignedHeaders=host;my-header1;x-amz-date, "
                 "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
}

/* post-x-www-form-urlencoded: [JS] (Content-Type signed, body
 * "Param1=value1"); the canonical request is the suite's 2015 .creq. */
Test(sigv4_suite, post_x_www_form_urlencoded) {
    const char *extra[] = {"Content-Type:application/x-www-form-urlencoded", NULL};
    aigw__sigv4_output out;
    sign_suite("POST", "/", NULL, extra, "Param1=value1", &out);
    cr_expect_str_eq(out.canonical_request,
                     "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
                     "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                     "content-type;host;x-amz-date\n"
                     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    cr_expect_str_eq(out.authorization, AUTHZ_PREFIX
                     "SignedHeaders=content-type;host;x-amz-date, "
                     "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    aigw__sigv4_output_free(&out);
}

/* post-x-www-form-urlencoded-parameters: [JS] (a parameter in Content-Type). */
Test(sigv4_suite, post_x_www_form_urlencoded_parameters) {
    const char *extra[] = {"Content-Type:application/x-www-form-urlencoded; charset=utf8", NULL};
    expect_authz("POST", "/", NULL, extra, "Param1=value1",
                 AUTHZ_PREFIX
                 "SignedHeaders=content-type;host;x-amz-date, "
                 "Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe");
}

/* post-sts-token/post-sts-header-before: [JS] (the session token is a
 * signed header). */
#define SUITE_TOKEN                                                                                \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSP" \
    "fIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"                                                        \
    "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7"                                     \
    "WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"         \
    "scqKmlzm8F"                                                                                   \
    "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
#define STS_AUTHZ                                                                                  \
    AUTHZ_PREFIX "SignedHeaders=host;x-amz-date;x-amz-security-token, "                            \
                 "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"

Test(sigv4_suite, post_sts_header_before) {
    const char *extra[] = {"X-Amz-Security-Token:" SUITE_TOKEN, NULL};
    expect_authz("POST", "/", NULL, extra, NULL, STS_AUTHZ);
}

/* The same case through aigw__sigv4_apply with a session token:
 * apply also signs X-Amz-Content-Sha256, so the signature differs from the
 * suite's; what it adds must be exactly what the low-level signer signs
 * when given those headers. */
static aigw__aws_signing suite_cred(const char *token) {
    aigw__aws_signing c = {0};
    c.secret_access_key = (char *)SECRET;
    c.access_key_id = (char *)AKID;
    c.session_token = (char *)token;
    c.region = (char *)"us-east-1";
    c.service = "service";
    c.source = (char *)"test";
    return c;
}

static const char *find_header(struct curl_slist *h, const char *prefix) {
    const char *found = NULL;
    for (; h; h = h->next)
        if (strncasecmp(h->data, prefix, strlen(prefix)) == 0) {
            cr_assert_null(found, "two %s headers", prefix);
            found = h->data + strlen(prefix);
        }
    return found;
}

static void set_url(aigw__upstream_request *req, const char *url) {
    aigw__buf_clear(&req->url);
    cr_assert_eq(aigw__buf_puts(&req->url, url), AIGW_OK);
}

Test(sigv4_apply, session_token_and_headers_added) {
    aigw__aws_signing c = suite_cred(SUITE_TOKEN);
    aigw__upstream_request req = {.method = "POST"};
    set_url(&req, "https://example.amazonaws.com/");
    aigw_error *e = NULL;
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    cr_assert_str_eq(find_header(req.headers, "X-Amz-Date: "), SUITE_DATE);
    cr_assert_str_eq(find_header(req.headers, "X-Amz-Content-Sha256: "), EMPTY_SHA256);
    cr_assert_str_eq(find_header(req.headers, "X-Amz-Security-Token: "), SUITE_TOKEN);

    const char *lines[] = {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE,
                           "X-Amz-Content-Sha256:" EMPTY_SHA256,
                           "X-Amz-Security-Token:" SUITE_TOKEN, NULL};
    struct curl_slist *h = slist(lines);
    aigw__sigv4_input in = {.method = "POST",
                            .path = "/",
                            .headers = h,
                            .access_key_id = AKID,
                            .secret_access_key = SECRET,
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = SUITE_DATE};
    aigw__sigv4_output out;
    cr_assert_eq(aigw__sigv4_sign(&in, &out, NULL), AIGW_OK);
    cr_assert_str_eq(find_header(req.headers, "Authorization: "), out.authorization);
    cr_assert(strstr(out.authorization,
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "));

    /* Signing again (a retry) replaces, never duplicates (find_header asserts). */
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW + 60, &e), AIGW_OK);
    cr_assert_str_eq(find_header(req.headers, "X-Amz-Date: "), "20150830T123700Z");
    cr_assert_str_neq(find_header(req.headers, "Authorization: "), out.authorization);

    aigw__sigv4_output_free(&out);
    curl_slist_free_all(h);
    aigw__upstream_request_free(&req);
}

/* Without a token: the suite's get-vanilla plus the content hash header. */
Test(sigv4_apply, vanilla_without_token) {
    aigw__aws_signing c = suite_cred(NULL);
    aigw__upstream_request req = {.method = "GET"};
    set_url(&req, "https://example.amazonaws.com");
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW, NULL), AIGW_OK);
    cr_assert_null(find_header(req.headers, "X-Amz-Security-Token"));
    cr_assert(strstr(find_header(req.headers, "Authorization: "),
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "));
    aigw__upstream_request_free(&req);
}

/* The Host signed is what curl sends: no default port, host:port otherwise. */
static void expect_host(const char *url, const char *host) {
    aigw__aws_signing c = suite_cred(NULL);
    aigw__upstream_request req = {.method = "GET"};
    set_url(&req, url);
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW, NULL), AIGW_OK);
    char line[256];
    snprintf(line, sizeof line, "host:%s", host);
    const char *lines[] = {line, "X-Amz-Date:" SUITE_DATE, "X-Amz-Content-Sha256:" EMPTY_SHA256,
                           NULL};
    struct curl_slist *h = slist(lines);
    aigw__sigv4_input in = {.method = "GET",
                            .path = "/x",
                            .query = "a=1",
                            .headers = h,
                            .access_key_id = AKID,
                            .secret_access_key = SECRET,
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = SUITE_DATE};
    aigw__sigv4_output out;
    cr_assert_eq(aigw__sigv4_sign(&in, &out, NULL), AIGW_OK);
    cr_expect_str_eq(find_header(req.headers, "Authorization: "), out.authorization, "%s", url);
    aigw__sigv4_output_free(&out);
    curl_slist_free_all(h);
    aigw__upstream_request_free(&req);
}

Test(sigv4_apply, host_and_port) {
    expect_host("https://example.amazonaws.com/x?a=1", "example.amazonaws.com");
    expect_host("https://example.amazonaws.com:443/x?a=1#frag", "example.amazonaws.com");
    expect_host("http://example.amazonaws.com:80/x?a=1", "example.amazonaws.com");
    expect_host("http://127.0.0.1:8080/x?a=1", "127.0.0.1:8080");
    expect_host("https://user:pw@example.amazonaws.com:8443/x?a=1", "example.amazonaws.com:8443");
    expect_host("http://[::1]:9000/x?a=1", "[::1]:9000");
}

/* Hop-by-hop headers, User-Agent and curl's "Name:" removals are not signed. */
Test(sigv4_apply, unsigned_headers) {
    aigw__aws_signing c = suite_cred(NULL);
    aigw__upstream_request req = {.method = "POST"};
    set_url(&req, "https://example.amazonaws.com/");
    const char *lines[] = {"User-Agent: aigw/1",          "Expect:",
                           "Connection: keep-alive",      "Content-Type: application/json",
                           "Authorization: Bearer stale", NULL};
    req.headers = slist(lines);
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW, NULL), AIGW_OK);
    cr_assert(strstr(find_header(req.headers, "Authorization: "),
                     "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "));
    cr_assert_not_null(find_header(req.headers, "User-Agent: "));
    cr_assert_not_null(find_header(req.headers, "Expect:"));
    aigw__upstream_request_free(&req);
}

/* ---- Bedrock, against a second signer ---- */

#define BR_URL                                                                                     \
    "https://bedrock-runtime.us-east-1.amazonaws.com:8443/model/"                                  \
    "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
#define BR_BODY "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hi there\"}]}]}"
#define BR_AKID "AKIAIOSFODNN7EXAMPLE"
#define BR_SECRET "bedrockSecretKey/EXAMPLE+abc123"
#define BR_TOKEN "IQoJb3JpZ2luX2VjEXAMPLE/token+with=chars"
#define BR_NOW ((time_t)1725185472) /* 2024-09-01T10:11:12Z */

/* Signs the Bedrock request with aigw__sigv4_apply; returns the Authorization value. */
static char *bedrock_authorization(void) {
    aigw__aws_signing c = {0};
    c.secret_access_key = (char *)BR_SECRET;
    c.access_key_id = (char *)BR_AKID;
    c.session_token = (char *)BR_TOKEN;
    c.region = (char *)"us-east-1";
    c.service = "bedrock";
    aigw__upstream_request req = {.method = "POST"};
    set_url(&req, BR_URL);
    cr_assert_eq(aigw__buf_puts(&req.body, BR_BODY), AIGW_OK);
    const char *lines[] = {"Content-Type: application/json", "Accept: application/json",
                           "User-Agent: aigw/1", NULL};
    req.headers = slist(lines);
    aigw_error *e = NULL;
    cr_assert_eq(aigw__sigv4_apply(&c, "bedrock", &req, BR_NOW, &e), AIGW_OK, "%s",
                 aigw_error_message(e));
    char *authz = strdup(find_header(req.headers, "Authorization: "));
    aigw__upstream_request_free(&req);
    return authz;
}

/* Runs a Python script with `python`; returns its first output line, or
 * NULL when it exited non-zero (e.g. botocore missing). */
static char *run_python(const char *python, const char *script) {
    char path[] = "/tmp/aigw-sigv4-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, script, strlen(script)), (ssize_t)strlen(script));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", python, path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[1024] = "";
    char *got = fgets(line, sizeof line, p);
    int rc = pclose(p);
    unlink(path);
    if (!got || rc != 0)
        return NULL;
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

#define PY_INPUTS                                                                                  \
    "import hashlib, hmac, datetime\n"                                                             \
    "url = '" BR_URL "'\n"                                                                         \
    "body = b'" BR_BODY "'\n"                                                                      \
    "akid, secret, token = '" BR_AKID "', '" BR_SECRET "', '" BR_TOKEN "'\n"

/* A from-scratch SigV4 in the Python standard library (hashlib, hmac,
 * urllib.parse.quote), following AWS's documented steps; the wire path is
 * quoted again, so %3A becomes %253A. */
static const char py_stdlib[] = PY_INPUTS
    "import urllib.parse\n"
    "u = urllib.parse.urlsplit(url)\n"
    "amz = '20240901T101112Z'\n"
    "ph = hashlib.sha256(body).hexdigest()\n"
    "h = {'host': u.netloc, 'content-type': 'application/json', 'accept': 'application/json',\n"
    "     'x-amz-date': amz, 'x-amz-content-sha256': ph, 'x-amz-security-token': token}\n"
    "names = sorted(h)\n"
    "creq = '\\n'.join(['POST', urllib.parse.quote(u.path, safe='/~'), '',\n"
    "    ''.join(n + ':' + h[n] + '\\n' for n in names), ';'.join(names), ph])\n"
    "assert '/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse' in creq\n"
    "scope = amz[:8] + '/us-east-1/bedrock/aws4_request'\n"
    "sts = '\\n'.join(['AWS4-HMAC-SHA256', amz, scope,\n"
    "    hashlib.sha256(creq.encode()).hexdigest()])\n"
    "k = ('AWS4' + secret).encode()\n"
    "for m in (amz[:8], 'us-east-1', 'bedrock', 'aws4_request'):\n"
    "    k = hmac.new(k, m.encode(), hashlib.sha256).digest()\n"
    "sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()\n"
    "print('AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s'\n"
    "      % (akid, scope, ';'.join(names), sig))\n";

/* botocore's own SigV4Auth, with its clock pinned. It signs every header
 * but its blacklist (so not User-Agent) and adds X-Amz-Date and
 * X-Amz-Security-Token itself. */
static const char py_botocore[] = PY_INPUTS
    "import botocore.auth\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "botocore.auth.get_current_datetime = lambda *a, **k: datetime.datetime(2024, 9, 1, 10, 11, "
    "12)\n"
    "r = AWSRequest(method='POST', url=url, data=body, headers={\n"
    "    'Content-Type': 'application/json', 'Accept': 'application/json',\n"
    "    'User-Agent': 'aigw/1', 'X-Amz-Content-Sha256': hashlib.sha256(body).hexdigest()})\n"
    "a = botocore.auth.SigV4Auth(Credentials(akid, secret, token), 'bedrock', 'us-east-1')\n"
    "assert '-v1%253A0/converse' in a.canonical_request(r)\n"
    "a.add_auth(r)\n"
    "print(r.headers['Authorization'])\n";

Test(sigv4_bedrock, matches_python_stdlib_signer) {
    char *want = run_python("/usr/bin/python3", py_stdlib);
    cr_assert_not_null(want, "the Python signer failed");
    char *got = bedrock_authorization();
    cr_assert_str_eq(got, want);
    cr_assert(strstr(got, "SignedHeaders=accept;content-type;host;x-amz-content-sha256;"
                          "x-amz-date;x-amz-security-token, "));
    free(got);
    free(want);
}

Test(sigv4_bedrock, matches_botocore) {
    char *probe = run_python("python3", "import botocore.auth\nprint('ok')\n");
    if (!probe)
        cr_skip_test("botocore is not importable by python3");
    free(probe);
    char *want = run_python("python3", py_botocore);
    cr_assert_not_null(want, "the botocore script failed");
    char *got = bedrock_authorization();
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
}

/* The model id's ':' is %3A on the wire and %253A in the canonical URI;
 * S3 uses the path as is. */
Test(sigv4_bedrock, double_encoded_path) {
    const char *lines[] = {"host:bedrock-runtime.us-east-1.amazonaws.com",
                           "x-amz-date:20240901T101112Z", NULL};
    struct curl_slist *h = slist(lines);
    aigw__sigv4_input in = {.method = "POST",
                            .path = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
                            .headers = h,
                            .access_key_id = BR_AKID,
                            .secret_access_key = BR_SECRET,
                            .region = "us-east-1",
                            .service = "bedrock",
                            .amz_date = "20240901T101112Z"};
    aigw__sigv4_output out;
    cr_assert_eq(aigw__sigv4_sign(&in, &out, NULL), AIGW_OK);
    cr_assert(
        strncmp(
            out.canonical_request,
            "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n\n",
            strlen("POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n\n")) == 0,
        "%s", out.canonical_request);
    aigw__sigv4_output_free(&out);
    in.path_verbatim = 1;
    cr_assert_eq(aigw__sigv4_sign(&in, &out, NULL), AIGW_OK);
    cr_assert(strstr(out.canonical_request, "\n/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
                                            "converse\n") != NULL);
    aigw__sigv4_output_free(&out);
    curl_slist_free_all(h);
}

/* ---- errors ---- */

static void expect_eauth(aigw__aws_signing *c, const char *must_contain) {
    aigw__upstream_request req = {.method = "POST"};
    set_url(&req, BR_URL);
    aigw_error *e = NULL;
    cr_assert_eq(aigw__sigv4_apply(c, "my-bedrock", &req, BR_NOW, &e), AIGW_EAUTH);
    const char *msg = aigw_error_message(e);
    cr_assert(strstr(msg, "my-bedrock"), "%s", msg);
    cr_assert(strstr(msg, must_contain), "%s", msg);
    cr_assert_null(strstr(msg, "bedrockSecretKey"), "%s", msg);
    cr_assert_null(strstr(msg, "IQoJb3JpZ2lu"), "%s", msg);
    cr_assert_null(req.headers, "nothing added on failure");
    aigw_error_free(e);
    aigw__upstream_request_free(&req);
}

Test(sigv4_errors, missing_keys_name_backend_and_source_not_secret) {
    aigw__aws_signing c = {0};
    c.secret_access_key = (char *)BR_SECRET;
    c.session_token = (char *)BR_TOKEN;
    c.region = (char *)"us-east-1";
    c.service = "bedrock";
    c.source = (char *)"env AWS_ACCESS_KEY_ID";
    expect_eauth(&c, "env AWS_ACCESS_KEY_ID"); /* no key id */

    c.access_key_id = (char *)BR_AKID;
    c.secret_access_key = NULL;
    c.source = (char *)"env AWS_SECRET_ACCESS_KEY";
    expect_eauth(&c, "env AWS_SECRET_ACCESS_KEY"); /* no secret */

    c.secret_access_key = (char *)"";
    expect_eauth(&c, "secret access key");

    c.secret_access_key = (char *)BR_SECRET "\r\nX-Evil: 1";
    c.source = (char *)"profile default";
    expect_eauth(&c, "line break");

    c.secret_access_key = (char *)BR_SECRET;
    c.access_key_id = NULL;
    expect_eauth(&c, "profile default");
}

Test(sigv4_errors, bad_url_and_date) {
    aigw__aws_signing c = suite_cred(NULL);
    aigw__upstream_request req = {.method = "GET"};
    set_url(&req, "not a url");
    aigw_error *e = NULL;
    cr_assert_eq(aigw__sigv4_apply(&c, "aws", &req, SUITE_NOW, &e), AIGW_EINVAL);
    cr_assert_null(strstr(aigw_error_message(e), SECRET));
    aigw_error_free(e);
    aigw__upstream_request_free(&req);

    const char *lines[] = {"host:x", NULL};
    struct curl_slist *h = slist(lines);
    aigw__sigv4_input in = {.method = "GET",
                            .path = "/",
                            .headers = h,
                            .access_key_id = AKID,
                            .secret_access_key = SECRET,
                            .region = "us-east-1",
                            .service = "service",
                            .amz_date = "2015-08-30"};
    aigw__sigv4_output out;
    e = NULL;
    cr_assert_eq(aigw__sigv4_sign(&in, &out, &e), AIGW_EINVAL);
    cr_assert_null(strstr(aigw_error_message(e), SECRET));
    aigw_error_free(e);
    curl_slist_free_all(h);
}
