/* SPDX-License-Identifier: Apache-2.0 */
/* API keys: the key goes into the header its schema expects. A key from a
 * file is re-read when the file changes (checked at most once a second), so
 * a rotated key takes effect with no restart. */
#include "credentials/apikey.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/file.h"

/* Key files larger than this are not keys. */
#define MAX_KEY_FILE_BYTES 65536

struct aigw__key_store {
    atomic_int refs;
    pthread_mutex_t lock;
    char *value; /* the key, or NULL when its source had none */
    /* a key file: */
    char *path;
    struct timespec mtime;
    off_t size;
    ino_t ino;
    long long checked_ms; /* when the file was last looked at */
    char *read_error;     /* why the last read failed (never the content) */
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        aigw__free(s);
    }
}

aigw__key_store *aigw__key_store_ref(aigw__key_store *k) {
    atomic_fetch_add(&k->refs, 1);
    return k;
}

void aigw__key_store_unref(aigw__key_store *k) {
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&k->lock);
    wipe_free(k->value);
    aigw__free(k->path);
    aigw__free(k->read_error);
    aigw__free(k);
}

static void set_read_error(aigw__key_store *k, const char *why) {
    aigw__free(k->read_error);
    k->read_error = aigw__strdup(why);
}

/* Whether s[0..n) has a byte no header value may hold: a control byte
 * (below 0x20, or 0x7f). Such a key would be sent raw or forge a header. */
static int has_control_byte(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* Reads the key file into k->value (trailing whitespace and newlines
 * dropped). Called with the lock held, or before the store is shared.
 * Returns 0, or -1 when the file is there but can never be a key (not a
 * regular file, or a control byte in it): k->read_error says why. */
static int read_key_file(aigw__key_store *k) {
    char why[256];
    aigw__buf b = AIGW__BUF_INIT;
    struct stat st;
    int e = aigw__file_read(k->path, MAX_KEY_FILE_BYTES, &b, &st);
    if (e) {
        snprintf(why, sizeof why, "cannot read the key file %s: %s", k->path,
                 aigw__file_strerror(e));
        set_read_error(k, why);
        aigw__buf_wipe(&b);
        return e == AIGW__ENOTREG ? -1 : 0;
    }
    while (b.len && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t' ||
                     b.data[b.len - 1] == '\r' || b.data[b.len - 1] == '\n'))
        b.data[--b.len] = '\0';
    const char *bad = NULL;
    if (!b.len)
        bad = "is empty";
    else if (memchr(b.data, '\n', b.len) || memchr(b.data, '\r', b.len))
        bad = "holds more than one line";
    else if (has_control_byte(b.data, b.len))
        bad = "holds a control character (a byte below 0x20, or 0x7f)";
    if (bad) {
        snprintf(why, sizeof why, "the key file %s %s", k->path, bad);
        set_read_error(k, why);
        int never = b.len > 0; /* an empty file may yet get its key */
        aigw__buf_wipe(&b);
        return never ? -1 : 0;
    }
    wipe_free(k->value);
    k->value = aigw__buf_detach(&b);
    aigw__free(k->read_error);
    k->read_error = NULL;
    k->mtime = st.st_mtim;
    k->size = st.st_size;
    k->ino = st.st_ino;
    return 0;
}

/* Re-reads the file when its inode, size or mtime changed. */
static void refresh_key_file(aigw__key_store *k) {
    long long now = now_ms();
    if (k->checked_ms && now - k->checked_ms < AIGW__KEY_FILE_CHECK_MS)
        return;
    k->checked_ms = now;
    struct stat st;
    if (stat(k->path, &st) != 0) {
        char why[256];
        snprintf(why, sizeof why, "cannot read the key file %s: %s", k->path, strerror(errno));
        set_read_error(k, why);
        return;
    }
    if (!k->value || st.st_ino != k->ino || st.st_size != k->size ||
        st.st_mtim.tv_sec != k->mtime.tv_sec || st.st_mtim.tv_nsec != k->mtime.tv_nsec)
        read_key_file(k);
}

aigw_status aigw__api_key_new(aigw__credential *cred, const char *name, const char *value,
                              const char *env, const char *file, const aigw__cred_context *ctx,
                              aigw_error **err) {
    char source[512];
    aigw__key_store *k = aigw__calloc(1, sizeof *k);
    if (!k)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    atomic_init(&k->refs, 1);
    pthread_mutex_init(&k->lock, NULL);
    int oom = 0, bad_value = 0;
    if (file) {
        snprintf(source, sizeof source, "the key file %s", file);
        oom = !(k->path = aigw__strdup(file));
        struct stat st;
        if (!oom && stat(file, &st) == 0) {
            if ((st.st_mode & 077) && ctx && ctx->logger)
                aigw__log(ctx->logger, AIGW_LOG_WARN,
                          "%s: the key file %s can be read by group or others (mode %03o)", name,
                          file, (unsigned)(st.st_mode & 0777));
            int never = read_key_file(k);
            k->checked_ms = now_ms();
            if (never) { /* refused now, not at the first request */
                aigw_status st2 =
                    aigw__error_set(err, AIGW_ECONFIG, "%s: %s", name,
                                    k->read_error ? k->read_error : "unreadable key file");
                aigw__key_store_unref(k);
                return st2;
            }
        }
    } else if (env) {
        snprintf(source, sizeof source, "environment variable %s", env);
        const char *v = getenv(env);
        if (v && has_control_byte(v, strlen(v)))
            bad_value = 1;
        else
            oom = v && *v && !(k->value = aigw__strdup(v));
    } else {
        snprintf(source, sizeof source, "the config's api_key");
        if (value && has_control_byte(value, strlen(value)))
            bad_value = 1;
        else
            oom = value && *value && !(k->value = aigw__strdup(value));
    }
    if (bad_value) { /* named by its source; the value is never shown */
        aigw__key_store_unref(k);
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: the API key from %s holds a control character (a "
                               "byte below 0x20, or 0x7f)",
                               name, source);
    }
    if (oom) {
        aigw__key_store_unref(k);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    aigw__key_store_unref(cred->key);
    cred->key = k;
    cred->kind = AIGW__CRED_API_KEY;
    if (aigw__credential_set_names(cred, name, source))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return AIGW_OK;
}

static const char *header_prefix(aigw__key_header header) {
    switch (header) {
    case AIGW__KEY_X_API_KEY:
        return "x-api-key: ";
    case AIGW__KEY_API_KEY:
        return "api-key: ";
    case AIGW__KEY_GOOG:
        return "x-goog-api-key: ";
    case AIGW__KEY_BEARER:
    default:
        return "Authorization: Bearer ";
    }
}

aigw_status aigw__apikey_apply(const aigw__credential *cred, aigw__key_header header,
                               const char *backend_name, struct curl_slist **headers,
                               aigw_error **err) {
    aigw__key_store *k = cred->key;
    aigw__buf line = AIGW__BUF_INIT;
    aigw_status st = AIGW_OK;
    pthread_mutex_lock(&k->lock);
    if (k->path)
        refresh_key_file(k);
    if (k->path && k->read_error)
        st = aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                      "backend \"%s\": %s", backend_name, k->read_error);
    else if (!k->value)
        st = aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                      "backend \"%s\": no API key (%s is not set)", backend_name,
                                      cred->source ? cred->source : "no key configured");
    else if (has_control_byte(k->value, strlen(k->value)))
        st = aigw__error_set_upstream(err, AIGW_EAUTH, backend_name, 0, NULL, 0,
                                      "backend \"%s\": the API key from %s holds a control "
                                      "character",
                                      backend_name, cred->source ? cred->source : "the config");
    else
        st = aigw__buf_cat(&line, header_prefix(header), k->value, NULL);
    pthread_mutex_unlock(&k->lock);
    if (st) {
        aigw__buf_wipe(&line);
        return st == AIGW_ENOMEM ? aigw__error_set(err, AIGW_ENOMEM, "out of memory") : st;
    }
    struct curl_slist *grown = curl_slist_append(*headers, line.data);
    aigw__buf_wipe(&line);
    if (!grown)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    *headers = grown;
    return AIGW_OK;
}
