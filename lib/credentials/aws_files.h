/* SPDX-License-Identifier: Apache-2.0 */
/* The parsers behind the AWS credential chain (credentials/aws.c), exposed
 * for tests and the fuzzer: the shared config / credentials files (INI as
 * the AWS SDKs read it), STS's XML answer and the container endpoint's
 * JSON answer. None of them ever puts a secret into an error. */
#ifndef AIGW_CREDENTIALS_AWS_FILES_H
#define AIGW_CREDENTIALS_AWS_FILES_H

#include <stddef.h>
#include <time.h>

#include "credentials/credential.h"

/* What one profile of the shared files says (every field may be NULL). */
typedef struct aigw__aws_profile {
    int found; /* the profile's section exists */
    char *aws_access_key_id;
    char *aws_secret_access_key;
    char *aws_session_token;
    char *role_arn;
    char *web_identity_token_file;
    char *role_session_name;
    char *source_profile;
    char *credential_source;
    char *region;
} aigw__aws_profile;

/* Finds `profile` in the INI text[0..len) of `file` (for errors) and merges
 * its keys into *out (a later value replaces an earlier one). In a config
 * file (`config_file` non-zero) a profile's section is `[profile NAME]`,
 * except `[default]`; in a credentials file it is `[NAME]`. Rules: comment
 * lines start with '#' or ';' (after optional whitespace); a section line
 * may end in a comment; in a value, a '#' or ';' after whitespace starts a
 * comment; whitespace around names and values is dropped; key names are
 * case-insensitive; a line indented deeper than the property before it
 * continues that property (a sub-property: ignored); sections may repeat.
 * A property before any section, a line without '=' or a section line
 * without ']' is AIGW_ECONFIG naming the file and line (never the text). */
aigw_status aigw__aws_profile_parse(const char *text, size_t len, const char *file,
                                    const char *profile, int config_file, aigw__aws_profile *out,
                                    aigw_error **err);
void aigw__aws_profile_clear(aigw__aws_profile *p);

/* An ISO 8601 UTC time ("2024-01-02T03:04:05Z", fractions and "+00:00"
 * allowed) → seconds since the epoch; -1 when malformed. */
int aigw__aws_parse_time(const char *s, time_t *out);

/* STS's answer to AssumeRoleWithWebIdentity (HTTP `http_status`, body
 * [0..len)) → *out. An ErrorResponse gives AIGW_EAUTH (AIGW_EUPSTREAM for
 * a 5xx) with STS's code and message; a malformed or incomplete answer, or
 * credentials already expired at `now`, AIGW_EBADRESPONSE. `what` names
 * the exchange in errors. */
aigw_status aigw__aws_sts_parse(const char *body, size_t len, long http_status, const char *what,
                                time_t now, aigw__cred_value *out, aigw_error **err);

/* The container credentials endpoint's answer ({AccessKeyId,
 * SecretAccessKey, Token, Expiration}) → *out; errors as above. */
aigw_status aigw__aws_container_parse(const char *body, size_t len, long http_status,
                                      const char *what, time_t now, aigw__cred_value *out,
                                      aigw_error **err);

#endif
