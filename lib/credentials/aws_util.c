/* SPDX-License-Identifier: Apache-2.0 */
/* AWS credentials: small helpers shared by the aws*.c files (wiping
 * secrets, reading small files, the answers' common checks). */
#include "credentials/aws_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "core/file.h"

#define AWS_MAX_FILE (1024 * 1024)

void aigw__aws_wipe_free(char *s) {
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        aigw__free(s);
    }
}

void aigw__aws_buf_wipe_free(aigw__buf *b) {
    if (b->data) {
        volatile char *p = b->data;
        for (size_t i = 0; i < b->cap; i++)
            p[i] = 0;
    }
    aigw__buf_free(b);
}

char *aigw__aws_dup_n(const char *s, size_t n) {
    return aigw__strndup(s, n);
}

const char *aigw__aws_env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Reads a whole (small) regular file into a new string (wipe it). Returns
 * 0, or an aigw__file_read error (aigw__file_strerror says it in words): a
 * FIFO or device is refused at once, never waited on. */
int aigw__aws_read_small_file(const char *path, char **out, size_t *len_out) {
    *out = NULL;
    aigw__buf b = AIGW__BUF_INIT;
    int e = aigw__file_read(path, AWS_MAX_FILE, &b, NULL);
    if (e) {
        aigw__aws_buf_wipe_free(&b);
        return e;
    }
    if (len_out)
        *len_out = b.len;
    *out = b.data ? aigw__buf_detach(&b) : aigw__strdup("");
    return *out ? 0 : ENOMEM;
}

/* A secret file others can read: worth a warning. */
void aigw__aws_warn_if_exposed(const aigw__logger *logger, const char *name, const char *path) {
    struct stat st;
    if (!logger || !path || stat(path, &st) != 0)
        return;
    if (st.st_mode & (S_IRGRP | S_IROTH))
        aigw__log(logger, AIGW_LOG_WARN,
                  "%s: file %s is readable by group or others (mode %03o); it holds a secret", name,
                  path, (unsigned)(st.st_mode & 0777));
}

char *aigw__aws_trim_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return aigw__aws_dup_n(s, n);
}

/* Copies `msg` (from an endpoint) for an error: printable, at most 300
 * bytes, and with `secret` (when given and found) replaced. */
void aigw__aws_safe_message(const char *msg, const char *secret, char *out, size_t outlen) {
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

/* ---- the answers ---- */

aigw_status aigw__aws_upstream_status(long http_status) {
    return http_status >= 500 ? AIGW_EUPSTREAM : AIGW_EAUTH;
}

/* Fills *out from key, secret, token and expiration strings (taking them). */
aigw_status aigw__aws_take_creds(char *akid, char *secret, char *token, const char *token_name,
                                 char *expiration, const char *what, time_t now,
                                 aigw__cred_value *out, aigw_error **err) {
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
        aigw__aws_wipe_free(akid);
        aigw__aws_wipe_free(secret);
        aigw__aws_wipe_free(token);
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

/* A token file's contents without surrounding whitespace. */
aigw_status aigw__aws_read_token_file(const char *name, const char *what, const char *path,
                                      char **out, aigw_error **err) {
    char *raw = NULL;
    size_t len = 0;
    int e = aigw__aws_read_small_file(path, &raw, &len);
    if (e)
        return aigw__error_set(err, e == ENOMEM ? AIGW_ENOMEM : AIGW_EAUTH,
                               "%s: cannot read %s %s: %s", name, what, path,
                               aigw__file_strerror(e));
    *out = aigw__aws_trim_dup(raw, len);
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
