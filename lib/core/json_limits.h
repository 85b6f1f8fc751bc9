/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds on a JSON document, checked before it is parsed.
 *
 * json-c builds the whole tree of a document, and the tree can be far
 * bigger than the text: 72 bytes for each `1,` of an array, about 800 for
 * each `{}` (the hash table every object starts with). A 32 MB body of
 * small integers becomes 1.2 GB. aigw__json_scan() reads the text once,
 * allocating nothing, and measures what the tree would cost: nesting depth,
 * the number of elements, the longest string. It is not a parser (json-c
 * validates the document afterwards): it only tells strings (with their
 * backslash escapes) from the rest, so on invalid JSON its figures are
 * approximate — an invalid document is refused by the parse anyway.
 *
 * Elements: every array item and object member counts 1 (a `,` or the
 * container's first value), each array 2 more and each object 10 more (the
 * tables json-c gives them, measured in units of a small value: ~80 bytes).
 * So the tree of any document within max_elements takes at most about
 * 80 bytes × max_elements plus the length of its strings.
 * Strings (keys too) are measured as written, escapes included. */
#ifndef AIGW_CORE_JSON_LIMITS_H
#define AIGW_CORE_JSON_LIMITS_H

#include <stddef.h>

typedef struct aigw__json_limits {
    size_t max_depth;        /* arrays/objects open at once; 0: no limit */
    size_t max_elements;     /* see above; 0: no limit */
    size_t max_string_bytes; /* longest string, as written; 0: no limit */
} aigw__json_limits;

typedef enum aigw__json_limit {
    AIGW__JSON_WITHIN = 0,
    AIGW__JSON_TOO_DEEP,
    AIGW__JSON_TOO_MANY_ELEMENTS,
    AIGW__JSON_STRING_TOO_LONG
} aigw__json_limit;

/* What a scan saw (up to where it stopped, when a limit was passed). */
typedef struct aigw__json_measure {
    size_t depth;        /* deepest nesting */
    size_t elements;     /* as counted above */
    size_t string_bytes; /* longest string */
    size_t offset;       /* where a limit was passed, else len */
} aigw__json_measure;

/* Scans text[0..len) against lim (NULL: measure only); stops at the first
 * limit passed and says which. m may be NULL. */
aigw__json_limit aigw__json_scan(const char *text, size_t len, const aigw__json_limits *lim,
                                 aigw__json_measure *m);

/* The config key that names a limit ("json_max_depth", ...), or "". */
const char *aigw__json_limit_name(aigw__json_limit which);

#endif
