/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the AWS credential chain's parsers
 * (lib/credentials/aws.c): the shared config / credentials files' INI, STS's
 * AssumeRoleWithWebIdentity XML and the container endpoint's JSON.
 *
 * The first byte picks the parser and a profile name; the rest is the
 * document. Every input must end in a clean status (an error object on
 * failure, a complete value on success), and no error may quote the
 * document (except an error answer's own code and message).
 *
 * aws.c is compiled into this file so it carries libFuzzer's coverage
 * instrumentation even when the library is built without it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/credentials/aws.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An error answer's code and message are quoted (they are the endpoint's
 * words); otherwise no error quotes the document. */
static void check_error(aigw_status st, aigw_error *e, int may_quote) {
    if (st == AIGW_OK)
        return;
    if (!e)
        abort();
    /* the corpus's secrets are all marked with this */
    if (!(may_quote && strstr(aigw_error_message(e), ": HTTP ")) &&
        strstr(aigw_error_message(e), "SECRETMARK"))
        abort();
    aigw_error_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const profiles[] = {"default", "dev", "profile dev", "a b"};
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    aigw_error *e = NULL;
    aigw_status st;
    aigw__cred_value v;
    memset(&v, 0, sizeof v);
    switch (sel % 4) {
    case 0:
    case 1: {
        aigw__aws_profile p;
        memset(&p, 0, sizeof p);
        st = aigw__aws_profile_parse(text, len, "fuzz", profiles[(sel >> 2) % 4], sel % 2, &p, &e);
        if (st == AIGW_OK && !p.found &&
            (p.aws_access_key_id || p.aws_secret_access_key || p.role_arn))
            abort(); /* keys only from the profile's own section */
        aigw__aws_profile_clear(&p);
        break;
    }
    case 2:
        st = aigw__aws_sts_parse(text, len, (sel & 4) ? 400 : 200, "sts", 0, &v, &e);
        break;
    default:
        st = aigw__aws_container_parse(text, len, (sel & 4) ? 500 : 200, "container", 0, &v, &e);
        break;
    }
    if (st == AIGW_OK && (sel % 4) >= 2 &&
        (!v.aws_access_key_id || !v.aws_secret_access_key || !v.aws_session_token ||
         v.expires_at <= 0))
        abort();
    check_error(st, e, (sel % 4) >= 2);
    aigw__cred_value_clear(&v);
    return 0;
}
