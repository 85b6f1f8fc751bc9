/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's request, checked before anything is sent (see
 * request_check.h). The messages follow OpenAI's own wording, e.g.
 *   Invalid type for 'stream': expected a boolean, but got a string instead.
 * with "param" in OpenAI's form ("messages.[0].role" for the message's
 * 'messages[0].role'). */
#include "core/request_check.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/errors.h"

/* OpenAI's documented limits. */
#define MAX_N 128 /* OpenAI documents n >= 1; the cap is ours */
#define MAX_TOP_LOGPROBS 20
#define MAX_STOP 4
#define MAX_EMBED_INPUTS 2048

/* Where a value sits: a top-level key, parent.key, or parent[index]. Its
 * name is only spelt out for an error. */
typedef struct field {
    const struct field *parent;
    const char *key; /* NULL: parent[index] */
    size_t index;
} field;

#define FIELD(k) ((field){NULL, (k), 0})
#define FIELD_KEY(p, k) ((field){(p), (k), 0})
#define FIELD_INDEX(p, i) ((field){(p), NULL, (i)})

/* The name as the message says it ("messages[0].role") and as "param" says
 * it ("messages.[0].role"). */
typedef struct names {
    char text[96];
    char param[96];
} names;

static void name_append(const field *f, names *n, size_t *tl, size_t *pl) {
    if (f->parent)
        name_append(f->parent, n, tl, pl);
    int a, b;
    if (f->key) {
        const char *dot = f->parent ? "." : "";
        a = snprintf(n->text + *tl, sizeof n->text - *tl, "%s%s", dot, f->key);
        b = snprintf(n->param + *pl, sizeof n->param - *pl, "%s%s", dot, f->key);
    } else {
        a = snprintf(n->text + *tl, sizeof n->text - *tl, "[%zu]", f->index);
        b = snprintf(n->param + *pl, sizeof n->param - *pl, ".[%zu]", f->index);
    }
    *tl += a > 0 ? (size_t)a : 0;
    *pl += b > 0 ? (size_t)b : 0;
    if (*tl >= sizeof n->text)
        *tl = sizeof n->text - 1;
    if (*pl >= sizeof n->param)
        *pl = sizeof n->param - 1;
}

static void name_of(const field *f, names *n) {
    size_t tl = 0, pl = 0;
    n->text[0] = n->param[0] = 0;
    name_append(f, n, &tl, &pl);
}

static const char *type_word(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
        return "an integer";
    case json_type_double:
        return "a decimal";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    }
    return "a value";
}

static aigw_status bad_type(aigw_error **err, const field *f, const char *expected,
                            json_object *v) {
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "invalid_type",
                                 "Invalid type for '%s': expected %s, but got %s instead.", n.text,
                                 expected, type_word(v));
}

static aigw_status missing(aigw_error **err, const field *f) {
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "missing_required_parameter",
                                 "Missing required parameter: '%s'.", n.text);
}

static aigw_status empty_array(aigw_error **err, const field *f) {
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "empty_array",
                                 "Invalid '%s': empty array. Expected an array with minimum "
                                 "length 1, but got an empty array instead.",
                                 n.text);
}

static aigw_status too_long(aigw_error **err, const field *f, size_t max, size_t got) {
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "array_above_max_length",
                                 "Invalid '%s': array too long. Expected an array with maximum "
                                 "length %zu, but got an array with length %zu instead.",
                                 n.text, max, got);
}

static aigw_status bad_value(aigw_error **err, const field *f, const char *value,
                             const char *supported) {
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "invalid_value",
                                 "Invalid value for '%s': '%.64s'. Supported values are: %s.",
                                 n.text, value, supported);
}

static int is_null(json_object *v) {
    return json_object_is_type(v, json_type_null);
}

static aigw_status want_type(aigw_error **err, const field *f, json_object *v, json_type type,
                             const char *expected) {
    return json_object_is_type(v, type) ? AIGW_OK : bad_type(err, f, expected, v);
}

/* An integer in [min, max] (max < min: no upper bound). */
static aigw_status want_int(aigw_error **err, const field *f, json_object *v, int64_t min,
                            int64_t max) {
    if (!json_object_is_type(v, json_type_int))
        return bad_type(err, f, "an integer", v);
    int64_t x = json_object_get_int64(v);
    int below = x < min, above = max >= min && x > max;
    if (!below && !above)
        return AIGW_OK;
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param,
                                 below ? "integer_below_min_value" : "integer_above_max_value",
                                 "Invalid '%s': integer %s value. Expected a value %s %" PRId64
                                 ", but got %" PRId64 " instead.",
                                 n.text, below ? "below minimum" : "above maximum",
                                 below ? ">=" : "<=", below ? min : max, x);
}

/* A number (integer or decimal) in [min, max]; NaN is out of range. */
static aigw_status want_number(aigw_error **err, const field *f, json_object *v, double min,
                               double max) {
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return bad_type(err, f, "a decimal", v);
    double x = json_object_get_double(v);
    if (x >= min && x <= max)
        return AIGW_OK;
    int below = !(x >= min) && !(x > max); /* NaN reads as below */
    names n;
    name_of(f, &n);
    return aigw__error_set_param(
        err, AIGW_EBADREQUEST, n.param,
        below ? "decimal_below_min_value" : "decimal_above_max_value",
        "Invalid '%s': decimal %s value. Expected a value %s %g, but got %g instead.", n.text,
        below ? "below minimum" : "above maximum", below ? ">=" : "<=", below ? min : max, x);
}

static aigw_status check_model(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_string))
        return bad_type(err, f, "a string", v);
    if (json_object_get_string_len(v) > 0)
        return AIGW_OK;
    names n;
    name_of(f, &n);
    return aigw__error_set_param(err, AIGW_EBADREQUEST, n.param, "empty_string",
                                 "Invalid '%s': empty string. Expected a string with minimum "
                                 "length 1, but got an empty string instead.",
                                 n.text);
}

static int is_role(const char *s) {
    static const char *const roles[] = {"system", "user",      "assistant",
                                        "tool",   "developer", "function"};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        if (strcmp(s, roles[i]) == 0)
            return 1;
    return 0;
}

/* Every element of the array V is an object. */
static aigw_status want_objects(aigw_error **err, const field *f, json_object *v) {
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_object)) {
            field fi = FIELD_INDEX(f, i);
            return bad_type(err, &fi, "an object", e);
        }
    }
    return AIGW_OK;
}

static aigw_status check_message(aigw_error **err, const field *f, json_object *m) {
    if (!json_object_is_type(m, json_type_object))
        return bad_type(err, f, "an object", m);
    field fr = FIELD_KEY(f, "role");
    json_object *v;
    if (!json_object_object_get_ex(m, "role", &v))
        return missing(err, &fr);
    if (!json_object_is_type(v, json_type_string))
        return bad_type(err, &fr, "a string", v);
    if (!is_role(json_object_get_string(v)))
        return bad_value(err, &fr, json_object_get_string(v),
                         "'system', 'assistant', 'user', 'function', 'tool', and 'developer'");
    if (json_object_object_get_ex(m, "content", &v) && !is_null(v) &&
        !json_object_is_type(v, json_type_string)) {
        field fc = FIELD_KEY(f, "content");
        if (!json_object_is_type(v, json_type_array))
            return bad_type(err, &fc, "one of a string or array of objects", v);
        return want_objects(err, &fc, v);
    }
    return AIGW_OK;
}

static aigw_status check_messages(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_array))
        return bad_type(err, f, "an array", v);
    size_t n = json_object_array_length(v);
    if (n == 0)
        return empty_array(err, f);
    for (size_t i = 0; i < n; i++) {
        field fi = FIELD_INDEX(f, i);
        aigw_status st = check_message(err, &fi, json_object_array_get_idx(v, i));
        if (st)
            return st;
    }
    return AIGW_OK;
}

static aigw_status check_stop(aigw_error **err, const field *f, json_object *v) {
    if (json_object_is_type(v, json_type_string))
        return AIGW_OK;
    if (!json_object_is_type(v, json_type_array))
        return bad_type(err, f, "one of a string or array of strings", v);
    size_t n = json_object_array_length(v);
    if (n > MAX_STOP)
        return too_long(err, f, MAX_STOP, n);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string)) {
            field fi = FIELD_INDEX(f, i);
            return bad_type(err, &fi, "a string", e);
        }
    }
    return AIGW_OK;
}

static aigw_status check_stream_options(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_object))
        return bad_type(err, f, "an object", v);
    json_object *inc;
    if (json_object_object_get_ex(v, "include_usage", &inc) && !is_null(inc) &&
        !json_object_is_type(inc, json_type_boolean)) {
        field fi = FIELD_KEY(f, "include_usage");
        return bad_type(err, &fi, "a boolean", inc);
    }
    return AIGW_OK;
}

static aigw_status check_tools(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_array))
        return bad_type(err, f, "an array", v);
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(v, i), *x;
        field fi = FIELD_INDEX(f, i);
        if (!json_object_is_type(t, json_type_object))
            return bad_type(err, &fi, "an object", t);
        field fk = FIELD_KEY(&fi, "type");
        if (!json_object_object_get_ex(t, "type", &x))
            return missing(err, &fk);
        if (!json_object_is_type(x, json_type_string))
            return bad_type(err, &fk, "a string", x);
        if (strcmp(json_object_get_string(x), "function") != 0)
            continue;
        json_object *fn;
        fk = FIELD_KEY(&fi, "function");
        if (!json_object_object_get_ex(t, "function", &fn))
            return missing(err, &fk);
        if (!json_object_is_type(fn, json_type_object))
            return bad_type(err, &fk, "an object", fn);
        field fn_name = FIELD_KEY(&fk, "name");
        if (!json_object_object_get_ex(fn, "name", &x))
            return missing(err, &fn_name);
        if (!json_object_is_type(x, json_type_string))
            return bad_type(err, &fn_name, "a string", x);
    }
    return AIGW_OK;
}

static aigw_status check_tool_choice(aigw_error **err, const field *f, json_object *v) {
    if (json_object_is_type(v, json_type_object))
        return AIGW_OK;
    if (!json_object_is_type(v, json_type_string))
        return bad_type(err, f, "one of a string or object", v);
    const char *s = json_object_get_string(v);
    if (strcmp(s, "none") && strcmp(s, "auto") && strcmp(s, "required"))
        return bad_value(err, f, s, "'none', 'auto', and 'required'");
    return AIGW_OK;
}

static aigw_status check_response_format(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_object))
        return bad_type(err, f, "an object", v);
    json_object *t;
    field ft = FIELD_KEY(f, "type");
    if (!json_object_object_get_ex(v, "type", &t))
        return missing(err, &ft);
    return want_type(err, &ft, t, json_type_string, "a string");
}

/* A string, or a non-empty array of strings, of integers (tokens) or of
 * arrays of integers, one kind throughout. */
static aigw_status check_input(aigw_error **err, const field *f, json_object *v) {
    static const char expected[] = "one of a string, array of strings, array of integers, or "
                                   "array of arrays of integers";
    if (json_object_is_type(v, json_type_string))
        return AIGW_OK;
    if (!json_object_is_type(v, json_type_array))
        return bad_type(err, f, expected, v);
    size_t n = json_object_array_length(v);
    if (n == 0)
        return empty_array(err, f);
    if (n > MAX_EMBED_INPUTS)
        return too_long(err, f, MAX_EMBED_INPUTS, n);
    json_type kind = json_object_get_type(json_object_array_get_idx(v, 0));
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        field fi = FIELD_INDEX(f, i);
        switch (kind) {
        case json_type_string:
            if (!json_object_is_type(e, json_type_string))
                return bad_type(err, &fi, "a string", e);
            break;
        case json_type_int:
            if (!json_object_is_type(e, json_type_int))
                return bad_type(err, &fi, "an integer", e);
            break;
        case json_type_array: {
            if (!json_object_is_type(e, json_type_array))
                return bad_type(err, &fi, "an array of integers", e);
            size_t m = json_object_array_length(e);
            if (m == 0)
                return empty_array(err, &fi);
            for (size_t j = 0; j < m; j++) {
                json_object *t = json_object_array_get_idx(e, j);
                if (!json_object_is_type(t, json_type_int)) {
                    field fj = FIELD_INDEX(&fi, j);
                    return bad_type(err, &fj, "an integer", t);
                }
            }
            break;
        }
        default:
            return bad_type(err, &fi, "one of a string, integer or array of integers", e);
        }
    }
    return AIGW_OK;
}

static aigw_status check_encoding_format(aigw_error **err, const field *f, json_object *v) {
    if (!json_object_is_type(v, json_type_string))
        return bad_type(err, f, "a string", v);
    const char *s = json_object_get_string(v);
    if (strcmp(s, "float") && strcmp(s, "base64"))
        return bad_value(err, f, s, "'float' and 'base64'");
    return AIGW_OK;
}

/* One chat key; unknown keys pass. */
static aigw_status check_chat_key(aigw_error **err, const field *f, const char *k, json_object *v) {
    switch (k[0]) {
    case 'f':
        if (!strcmp(k, "frequency_penalty"))
            return want_number(err, f, v, -2, 2);
        break;
    case 'l':
        if (!strcmp(k, "logprobs"))
            return want_type(err, f, v, json_type_boolean, "a boolean");
        break;
    case 'm':
        if (!strcmp(k, "max_tokens") || !strcmp(k, "max_completion_tokens"))
            return want_int(err, f, v, 1, 0);
        break;
    case 'n':
        if (!k[1])
            return want_int(err, f, v, 1, MAX_N);
        break;
    case 'p':
        if (!strcmp(k, "presence_penalty"))
            return want_number(err, f, v, -2, 2);
        break;
    case 'r':
        if (!strcmp(k, "response_format"))
            return check_response_format(err, f, v);
        break;
    case 's':
        if (!strcmp(k, "stream"))
            return want_type(err, f, v, json_type_boolean, "a boolean");
        if (!strcmp(k, "seed"))
            return want_type(err, f, v, json_type_int, "an integer");
        if (!strcmp(k, "stop"))
            return check_stop(err, f, v);
        if (!strcmp(k, "stream_options"))
            return check_stream_options(err, f, v);
        break;
    case 't':
        if (!strcmp(k, "temperature"))
            return want_number(err, f, v, 0, 2);
        if (!strcmp(k, "top_p"))
            return want_number(err, f, v, 0, 1);
        if (!strcmp(k, "top_logprobs"))
            return want_int(err, f, v, 0, MAX_TOP_LOGPROBS);
        if (!strcmp(k, "tools"))
            return check_tools(err, f, v);
        if (!strcmp(k, "tool_choice"))
            return check_tool_choice(err, f, v);
        break;
    }
    return AIGW_OK;
}

static aigw_status check_embed_key(aigw_error **err, const field *f, const char *k,
                                   json_object *v) {
    if (!strcmp(k, "dimensions"))
        return want_int(err, f, v, 1, 0);
    if (!strcmp(k, "encoding_format"))
        return check_encoding_format(err, f, v);
    return AIGW_OK;
}

aigw_status aigw__request_check(aigw__op op, json_object *request, aigw_error **err) {
    if (!json_object_is_type(request, json_type_object))
        return aigw__error_set(err, AIGW_EBADREQUEST, "request: must be a JSON object");
    int chat = op != AIGW__OP_EMBED;
    const char *required_key = chat ? "messages" : "input";
    int have_model = 0, have_required = 0;
    aigw_status st = AIGW_OK;
    json_object_object_foreach(request, k, v) {
        field f = FIELD(k);
        if (!strcmp(k, "model")) {
            have_model = 1;
            st = check_model(err, &f, v);
        } else if (!strcmp(k, required_key)) {
            have_required = 1;
            st = chat ? check_messages(err, &f, v) : check_input(err, &f, v);
        } else if (is_null(v)) {
            continue; /* an optional field left at its default */
        } else if (!strcmp(k, "user")) {
            st = want_type(err, &f, v, json_type_string, "a string");
        } else {
            st = chat ? check_chat_key(err, &f, k, v) : check_embed_key(err, &f, k, v);
        }
        if (st)
            return st;
    }
    if (!have_model) {
        field f = FIELD("model");
        return missing(err, &f);
    }
    if (!have_required) {
        field f = FIELD(required_key);
        return missing(err, &f);
    }
    return AIGW_OK;
}
