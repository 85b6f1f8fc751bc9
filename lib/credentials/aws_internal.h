/* SPDX-License-Identifier: Apache-2.0 */
/* Private to lib/credentials: what the AWS credential files (aws*.c)
 * share: the refresher sources, the secret-wiping helpers, the answers'
 * common checks. */
#ifndef AIGW_CREDENTIALS_AWS_INTERNAL_H
#define AIGW_CREDENTIALS_AWS_INTERNAL_H

#include <stddef.h>
#include <time.h>

#include "aigw/error.h"
#include "core/buf.h"
#include "core/log.h"
#include "credentials/aws_files.h"
#include "credentials/credential.h"

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

/* aws_util.c: small helpers. */
void aigw__aws_wipe_free(char *s);
void aigw__aws_buf_wipe_free(aigw__buf *b);
char *aigw__aws_dup_n(const char *s, size_t n);
const char *aigw__aws_env_nonempty(const char *name);
/* 0, or an aigw__file_read error (aigw__file_strerror). */
int aigw__aws_read_small_file(const char *path, char **out, size_t *len_out);
void aigw__aws_warn_if_exposed(const aigw__logger *logger, const char *name, const char *path);
char *aigw__aws_trim_dup(const char *s, size_t n);
void aigw__aws_safe_message(const char *msg, const char *secret, char *out, size_t outlen);
aigw_status aigw__aws_upstream_status(long http_status);
aigw_status aigw__aws_take_creds(char *akid, char *secret, char *token, const char *token_name,
                                 char *expiration, const char *what, time_t now,
                                 aigw__cred_value *out, aigw_error **err);
aigw_status aigw__aws_read_token_file(const char *name, const char *what, const char *path,
                                      char **out, aigw_error **err);

/* aws.c: sources become refreshers. */
void aigw__aws_src_free(void *p);
aws_src *aigw__aws_src_new(src_kind kind);
aigw_status aigw__aws_install(aigw__credential *cred, aws_src *src, const char *source,
                              aigw_error **err);
aigw_status aigw__aws_setup_static(aigw__credential *cred, const char *akid, const char *secret,
                                   const char *token, const char *missing, const char *source,
                                   aigw_error **err);

/* aws_sts.c: STS AssumeRoleWithWebIdentity. */
aigw_status aigw__aws_fetch_web_identity(void *ctx, aigw__cred_value *out, aigw_error **err);
aigw_status aigw__aws_setup_web_identity(aigw__credential *cred, const char *role, const char *file,
                                         const char *session, const char *explicit_sts,
                                         const char *profile_region, const aigw__cred_context *ctx,
                                         aigw_error **err);

/* aws_container.c: the container credentials endpoint. */
aigw_status aigw__aws_fetch_container(void *ctx, aigw__cred_value *out, aigw_error **err);
aigw_status aigw__aws_setup_container(aigw__credential *cred, const char *url, const char *path,
                                      const aigw__cred_context *ctx, aigw_error **err);

#endif
