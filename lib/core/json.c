/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers shared by the library. */
#include "core/json.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
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

static aigw_status parse_with(json_tokener *tok, int own, int strict, const char *text, size_t len,
                              const char *what, aigw_status fail_status, json_object **out,
                              aigw_error **err) {
    if (strict)
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (strict && !own)
        json_tokener_set_flags(tok, 0);
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
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return aigw__error_set(err, fail_status, "%s: JSON too large", what);
    json_tokener *tok = thread_tokener();
    if (!tok)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    return parse_with(tok, 0, 0, text, len, what, fail_status, out, err);
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
    return parse_with(tok, own, 1, text, len, what, fail_status, out, err);
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
