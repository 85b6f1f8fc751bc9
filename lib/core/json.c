/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers shared by the library. */
#include "core/json.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"

/* json_tokener_new costs about as much as parsing a 1 KB request, so each
 * thread keeps one tokener and resets it between documents. */
static pthread_key_t tokener_key;
static pthread_once_t tokener_once = PTHREAD_ONCE_INIT;
static int tokener_key_ok;

static void tokener_destroy(void *tok) {
    json_tokener_free(tok);
}

static void tokener_key_init(void) {
    tokener_key_ok = pthread_key_create(&tokener_key, tokener_destroy) == 0;
}

static json_tokener *thread_tokener(void) {
    pthread_once(&tokener_once, tokener_key_init);
    json_tokener *tok = tokener_key_ok ? pthread_getspecific(tokener_key) : NULL;
    if (tok)
        return tok;
    /* Deeper than json-c's default of 32: tool JSON schemas nest. */
    tok = json_tokener_new_ex(AIGW__JSON_MAX_DEPTH);
    if (tok && tokener_key_ok && pthread_setspecific(tokener_key, tok) != 0) {
        json_tokener_free(tok);
        return NULL;
    }
    return tok;
}

static void tokener_release(json_tokener *tok) {
    if (tokener_key_ok)
        json_tokener_reset(tok);
    else
        json_tokener_free(tok);
}

/* Where text[0..len) stops being UTF-8 (RFC 3629: no overlong forms, no
 * UTF-16 surrogates, nothing past U+10FFFF), or len when it all is. ASCII
 * goes eight bytes at a time.
 *
 * json-c has JSON_TOKENER_VALIDATE_UTF8, but it only checks each
 * sequence's shape (C0 AF, ED A0 80 and F4 90 80 80 pass) and it made
 * bench_openai's call 10 % dearer (+14 k instructions for a 1.2 KB
 * request); this check costs about 1 k. Checking the whole text is the
 * same as checking its strings: a non-ASCII byte anywhere else is not JSON
 * anyway. */
static size_t utf8_check(const char *text, size_t len) {
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;                      /* continuation bytes */
        unsigned lo = 0x80, hi = 0xbf; /* the range of the first of them */
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
            hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
            hi = c == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF */
        } else {
            return i; /* a continuation byte, C0, C1, F5..FF */
        }
        if (n >= len - i || p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

static aigw_status parse_with(json_tokener *tok, int own, int flags, const char *text, size_t len,
                              const char *what, aigw_status fail_status, json_object **out,
                              aigw_error **err) {
    size_t bad;
    if ((flags & AIGW__JSON_UTF8) && (bad = utf8_check(text, len)) < len) {
        if (own)
            json_tokener_free(tok);
        return aigw__error_set(err, fail_status, "%s: invalid JSON at byte %zu: %s", what, bad,
                               json_tokener_error_desc(json_tokener_error_parse_utf8_string));
    }
    json_tokener_set_flags(tok, flags & ~AIGW__JSON_UTF8); /* reused: set every time */
    json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (own)
        json_tokener_free(tok);
    else
        tokener_release(tok);
    if (jerr == json_tokener_continue)
        return aigw__error_set(err, fail_status, "%s: invalid JSON: unexpected end of input", what);
    if (jerr != json_tokener_success)
        return aigw__error_set(err, fail_status, "%s: invalid JSON at byte %zu: %s", what, used,
                               json_tokener_error_desc(jerr));
    for (size_t i = used; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(obj);
            return aigw__error_set(err, fail_status,
                                   "%s: invalid JSON: unexpected data after the value at byte %zu",
                                   what, i);
        }
    }
    *out = obj;
    return AIGW_OK;
}

aigw_status aigw__json_parse(const char *text, size_t len, const char *what,
                             aigw_status fail_status, json_object **out, aigw_error **err) {
    return aigw__json_parse_ex(text, len, what, fail_status, 0, out, err);
}

aigw_status aigw__json_parse_ex(const char *text, size_t len, const char *what,
                                aigw_status fail_status, int flags, json_object **out,
                                aigw_error **err) {
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return aigw__error_set(err, fail_status, "%s: JSON too large", what);
    json_tokener *tok = thread_tokener();
    if (!tok)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return parse_with(tok, 0, flags, text, len, what, fail_status, out, err);
}

aigw_status aigw__json_parse_bounded(const char *text, size_t len, const char *what,
                                     aigw_status fail_status, int max_depth, int own_tokener,
                                     json_object **out, aigw_error **err) {
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return aigw__error_set(err, fail_status, "%s: JSON too large", what);
    if (max_depth <= 0)
        max_depth = AIGW__JSON_MAX_DEPTH;
    int own = own_tokener || max_depth != AIGW__JSON_MAX_DEPTH;
    json_tokener *tok = own ? json_tokener_new_ex(max_depth) : thread_tokener();
    if (!tok)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return parse_with(tok, own, JSON_TOKENER_STRICT | AIGW__JSON_REQUEST, text, len, what,
                      fail_status, out, err);
}

const char *aigw__json_get_string(json_object *obj, const char *key) {
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

char *aigw__json_dup_string(json_object *obj) {
    size_t len;
    const char *s = json_object_to_json_string_length(obj, AIGW__JSON_FLAGS, &len);
    return s ? aigw__strndup(s, len) : NULL;
}

aigw_status aigw__json_check_keys(json_object *obj, const char *path, const char *known,
                                  aigw_error **err) {
    json_object_object_foreach(obj, key, val) {
        (void)val;
        size_t klen = strlen(key);
        const char *p = known;
        int found = 0;
        while (*p && !found) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            found = n == klen && memcmp(p, key, n) == 0;
            p += n;
            while (*p == ',' || *p == ' ')
                p++;
        }
        if (!found)
            return aigw__error_set(err, AIGW_ECONFIG, "%s: unknown key \"%s\" (known: %s)", path,
                                   key, known);
    }
    return AIGW_OK;
}

aigw_status aigw__json_check_key_list(json_object *obj, const char *path, const char *const *known,
                                      aigw_error **err) {
    json_object_object_foreach(obj, key, val) {
        (void)val;
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (known[i])
            continue;
        aigw__buf list = AIGW__BUF_INIT;
        aigw_status st = AIGW_OK;
        for (i = 0; known[i] && !st; i++)
            st = aigw__buf_cat(&list, i ? ", " : "", known[i], NULL);
        if (st) {
            aigw__buf_free(&list);
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        }
        st = aigw__error_set(err, AIGW_ECONFIG, "%s: unknown key \"%s\" (known: %s)", path, key,
                             list.data ? list.data : "");
        aigw__buf_free(&list);
        return st;
    }
    return AIGW_OK;
}
