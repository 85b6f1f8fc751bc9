/* SPDX-License-Identifier: Apache-2.0 */
/* json-c helpers shared by the library. */
#ifndef AIGW_CORE_JSON_H
#define AIGW_CORE_JSON_H

#include <stddef.h>
#include <json-c/json.h>

#include "aigw/error.h"

/* Parses exactly one JSON value from text[0..len) (trailing whitespace
 * allowed). On failure returns `fail_status` with an error naming `what`
 * ("request", "config", "upstream response") and json-c's reason. */
aigw_status aigw__json_parse(const char *text, size_t len, const char *what,
                             aigw_status fail_status, json_object **out, aigw_error **err);

/* aigw__json_parse with json-c tokener FLAGS, and AIGW__JSON_UTF8: the text
 * must be valid UTF-8 (RFC 3629). AIGW__JSON_REQUEST is what a caller's
 * request gets. */
#define AIGW__JSON_UTF8 0x10000
#define AIGW__JSON_REQUEST AIGW__JSON_UTF8
aigw_status aigw__json_parse_ex(const char *text, size_t len, const char *what,
                                aigw_status fail_status, int flags, json_object **out,
                                aigw_error **err);

/* aigw__json_parse of a caller's request (AIGW__JSON_REQUEST), strictly (RFC 8259: no comments,
 * single-quoted strings or trailing commas, json-c's lenient extensions, in which text could hide
 * from aigw__json_scan), nesting at most max_depth deep (0:
 * AIGW__JSON_MAX_DEPTH) and, with own_tokener, with a tokener of its own,
 * freed afterwards: the buffers a big document grew do not stay with the
 * thread. */
aigw_status aigw__json_parse_bounded(const char *text, size_t len, const char *what,
                                     aigw_status fail_status, int max_depth, int own_tokener,
                                     json_object **out, aigw_error **err);

/* The string member `key` of obj, or NULL if absent or not a string. */
const char *aigw__json_get_string(json_object *obj, const char *key);

/* A config object's keys must be among `known` (comma-separated, e.g.
 * "name, match, backends"): AIGW_ECONFIG `PATH: unknown key "K" (known:
 * ...)` otherwise. */
aigw_status aigw__json_check_keys(json_object *obj, const char *path, const char *known,
                                  aigw_error **err);

/* The same with `known` as a NULL-terminated list: the error names every
 * entry, however long the list. */
aigw_status aigw__json_check_key_list(json_object *obj, const char *path, const char *const *known,
                                      aigw_error **err);

/* Serializes obj compactly (no spaces, slashes unescaped) into a new string
 * from aigw__malloc; NULL on allocation failure. */
char *aigw__json_dup_string(json_object *obj);

/* Adds v to o (v == NULL means allocation failed); frees v on failure.
 * 0 on success, -1 on failure. */
static inline int aigw__json_put(json_object *o, const char *key, json_object *v) {
    if (!v)
        return -1;
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Appends v to array a, like aigw__json_put. */
static inline int aigw__json_push(json_object *a, json_object *v) {
    if (!v)
        return -1;
    if (json_object_array_add(a, v)) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Member `key` of o, or NULL if o is not an object or lacks it. */
static inline json_object *aigw__json_get(json_object *o, const char *key) {
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* Whether v is a JSON number (int or double). */
static inline int aigw__json_is_number(json_object *v) {
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Number member `key` of o as an integer, or -1 if absent or not a number. */
static inline long long aigw__json_get_ll(json_object *o, const char *key) {
    json_object *v = aigw__json_get(o, key);
    return v && aigw__json_is_number(v) ? (long long)json_object_get_int64(v) : -1;
}

/* How deeply a document we parse may nest. */
#define AIGW__JSON_MAX_DEPTH 128

#define AIGW__JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#endif
