/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the OAuth2 token-response parser
 * (lib/credentials/oauth.c, aigw__oauth_parse_response).
 *
 * The input's first line is the HTTP status (e.g. "200", "401"; anything
 * else counts as 200), the rest is the body. Whatever the body, the parser
 * must answer a clean status: on success a non-empty token of visible
 * ASCII and an expiry in the future; on failure an error that starts with
 * the credential's name and never repeats the client secret (which the
 * body may contain, e.g. in an error_description echoing the request).
 *
 * oauth.c is compiled into this file so it carries libFuzzer's coverage
 * instrumentation even when the library is built without it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/credentials/oauth.c"

#define FUZZ_SECRET "fuzz-client-secret-Q7"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    long http_status = 200;
    size_t skip = 0;
    if (nl && nl - text <= 3) {
        long v = 0;
        int ok = nl > text;
        for (const char *p = text; p < nl; p++)
            ok = ok && *p >= '0' && *p <= '9' && (v = v * 10 + (*p - '0'), 1);
        if (ok)
            http_status = v;
        skip = (size_t)(nl - text) + 1;
    }
    const char *body = text + skip;
    size_t len = size - skip;
    static const char *const secrets[] = {FUZZ_SECRET, NULL};
    const time_t now = 1700000000;
    aigw__cred_value v;
    aigw_error *err = NULL;
    aigw_status st = aigw__oauth_parse_response("credential \"fuzz\"", "login.example", http_status,
                                                body, len, now, secrets, &v, &err);
    if (st == AIGW_OK) {
        if (err || !v.bearer_token || !*v.bearer_token || v.expires_at <= now)
            abort();
        for (const char *p = v.bearer_token; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                abort();
        if (http_status < 200 || http_status > 299)
            abort();
    } else {
        if (!err || v.bearer_token)
            abort();
        const char *m = aigw_error_message(err);
        if (st != AIGW_ENOMEM &&
            (strncmp(m, "credential \"fuzz\": ", 19) != 0 || strstr(m, FUZZ_SECRET)))
            abort();
    }
    aigw__cred_value_clear(&v);
    aigw_error_free(err);
    return 0;
}
