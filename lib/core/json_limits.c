/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds on a JSON document before it is parsed; see json_limits.h. */
#include "core/json_limits.h"

#include <stdint.h>

#define ARRAY_WEIGHT 2u   /* what an array's table costs beyond a value */
#define OBJECT_WEIGHT 10u /* what an object's hash table costs */

aigw__json_limit aigw__json_scan(const char *text, size_t len, const aigw__json_limits *lim,
                                 aigw__json_measure *m) {
    size_t max_depth = lim && lim->max_depth ? lim->max_depth : SIZE_MAX;
    size_t max_elements = lim && lim->max_elements ? lim->max_elements : SIZE_MAX;
    size_t max_string = lim && lim->max_string_bytes ? lim->max_string_bytes : SIZE_MAX;
    size_t depth = 0, deepest = 0, elements = 0, longest = 0, i = 0;
    aigw__json_limit hit = AIGW__JSON_WITHIN;
    const unsigned char *p = (const unsigned char *)text;

    while (i < len && hit == AIGW__JSON_WITHIN) {
        unsigned char ch = p[i++];
        switch (ch) {
        case '"': {
            /* A string: to its closing quote, a backslash escaping the
             * next byte. */
            size_t start = i;
            while (i < len && p[i] != '"') {
                if (p[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            size_t n = i - start;
            if (n > longest)
                longest = n;
            if (n > max_string) {
                hit = AIGW__JSON_STRING_TOO_LONG;
                i = start + max_string + 1;
                break;
            }
            i++; /* the closing quote */
            break;
        }
        case '[':
        case '{':
            if (++depth > deepest)
                deepest = depth;
            elements += 1u + (ch == '{' ? OBJECT_WEIGHT : ARRAY_WEIGHT);
            if (depth > max_depth)
                hit = AIGW__JSON_TOO_DEEP;
            else if (elements > max_elements)
                hit = AIGW__JSON_TOO_MANY_ELEMENTS;
            break;
        case ']':
        case '}':
            if (depth)
                depth--;
            break;
        case ',':
            if (++elements > max_elements)
                hit = AIGW__JSON_TOO_MANY_ELEMENTS;
            break;
        default:
            break;
        }
    }
    if (i > len)
        i = len;
    if (m) {
        m->depth = deepest;
        m->elements = elements;
        m->string_bytes = longest;
        m->offset = hit == AIGW__JSON_WITHIN ? len : i;
    }
    return hit;
}

const char *aigw__json_limit_name(aigw__json_limit which) {
    switch (which) {
    case AIGW__JSON_TOO_DEEP:
        return "json_max_depth";
    case AIGW__JSON_TOO_MANY_ELEMENTS:
        return "json_max_elements";
    case AIGW__JSON_STRING_TOO_LONG:
        return "json_max_string_bytes";
    default:
        return "";
    }
}
