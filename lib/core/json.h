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

/* The string member `key` of obj, or NULL if absent or not a string. */
const char *aigw__json_get_string(json_object *obj, const char *key);

/* Serializes obj compactly (no spaces, slashes unescaped) into a new string
 * from aigw__malloc; NULL on allocation failure. */
char *aigw__json_dup_string(json_object *obj);

/* How deeply a document we parse may nest. */
#define AIGW__JSON_MAX_DEPTH 128

#define AIGW__JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

#endif
