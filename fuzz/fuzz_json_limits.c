/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the JSON limits scan (lib/core/json_limits.c) that
 * the gateway runs on every request body before json-c parses it.
 *
 * Differential: when json-c parses the input as one document (strictly, as
 * aigw__json_parse_bounded does: its lenient mode's comments and single
 * quotes would hide text from the scan), the scan's
 * depth must be the document's real nesting depth, its element count at
 * least the real number of array items and object members, and its
 * longest string at least every decoded string's length (keys too) — so a
 * document within the limits can never build a tree bigger than they
 * promise. And the verdicts must agree with the measure: limits equal to
 * what was measured pass; one less on any of them is refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/json_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct truth {
    size_t depth, items, longest;
} truth;

static void walk(json_object *o, size_t level, truth *t) {
    json_type ty = json_object_get_type(o);
    if (ty == json_type_string) {
        size_t n = (size_t)json_object_get_string_len(o);
        if (n > t->longest)
            t->longest = n;
        return;
    }
    if (ty != json_type_array && ty != json_type_object)
        return;
    if (level + 1 > t->depth)
        t->depth = level + 1;
    if (ty == json_type_array) {
        size_t n = json_object_array_length(o);
        t->items += n;
        for (size_t i = 0; i < n; i++)
            walk(json_object_array_get_idx(o, i), level + 1, t);
        return;
    }
    json_object_object_foreach(o, key, val) {
        size_t k = strlen(key);
        if (k > t->longest)
            t->longest = k;
        t->items++;
        walk(val, level + 1, t);
    }
}

static void fail(const char *what, size_t a, size_t b) {
    fprintf(stderr, "fuzz_json_limits: %s (%zu vs %zu)\n", what, a, b);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    aigw__json_measure m;
    if (aigw__json_scan(text, size, NULL, &m) != AIGW__JSON_WITHIN || m.offset != size)
        fail("no limits, yet refused", m.offset, size);

    /* The verdicts agree with the measure. */
    aigw__json_limits exact = {m.depth ? m.depth : 1, m.elements ? m.elements : 1,
                               m.string_bytes ? m.string_bytes : 1};
    if (aigw__json_scan(text, size, &exact, NULL) != AIGW__JSON_WITHIN)
        fail("refused at the measured limits", 0, 0);
    if (m.depth > 1) {
        aigw__json_limits l = {m.depth - 1, 0, 0};
        if (aigw__json_scan(text, size, &l, NULL) != AIGW__JSON_TOO_DEEP)
            fail("not too deep one under", m.depth, l.max_depth);
    }
    if (m.elements > 1) {
        aigw__json_limits l = {0, m.elements - 1, 0};
        if (aigw__json_scan(text, size, &l, NULL) != AIGW__JSON_TOO_MANY_ELEMENTS)
            fail("not too many one under", m.elements, l.max_elements);
    }
    if (m.string_bytes > 1) {
        aigw__json_limits l = {0, 0, m.string_bytes - 1};
        if (aigw__json_scan(text, size, &l, NULL) != AIGW__JSON_STRING_TOO_LONG)
            fail("not too long one under", m.string_bytes, l.max_string_bytes);
    }

    /* Against json-c, on what it accepts whole. */
    json_tokener *tok = json_tokener_new_ex(4096);
    if (!tok || size > INT32_MAX)
        abort();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* as the gateway parses */
    json_object *o = json_tokener_parse_ex(tok, text, (int)size);
    int whole = json_tokener_get_error(tok) == json_tokener_success &&
                json_tokener_get_parse_end(tok) == size;
    json_tokener_free(tok);
    if (whole) {
        truth t = {0, 0, 0};
        walk(o, 0, &t);
        if (t.depth != m.depth)
            fail("depth differs from json-c's", m.depth, t.depth);
        if (t.items > m.elements)
            fail("fewer elements than json-c's", m.elements, t.items);
        if (t.longest > m.string_bytes)
            fail("a string longer than measured", t.longest, m.string_bytes);
    }
    json_object_put(o);
    return 0;
}
