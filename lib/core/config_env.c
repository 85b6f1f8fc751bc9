/* SPDX-License-Identifier: Apache-2.0 */
/* "${NAME}" references in a config document's string values, replaced by
 * the environment before anything reads the config: hosts, deployments and
 * secrets stay out of the file. "$${" is a literal "${"; an unset variable
 * is an error naming it and the JSON path. Keys are left alone. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "router/routes_config.h"

#define PATH_MAX_LEN 256

static aigw_status expand(json_object *v, const char *path, aigw_error **err);

/* Replaces a string value by its expansion (a new json string in `slot`). */
static aigw_status expand_string(json_object *v, const char *path, json_object **replacement,
                                 aigw_error **err) {
    *replacement = NULL;
    const char *text = json_object_get_string(v);
    if (!strchr(text, '$'))
        return AIGW_OK;
    char *out = NULL;
    aigw_status st = aigw__routes_expand_env(text, path, NULL, NULL, &out, err);
    if (st)
        return st;
    if (strcmp(out, text) != 0 && !(*replacement = json_object_new_string(out)))
        st = aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    aigw__free(out);
    return st;
}

static aigw_status expand(json_object *v, const char *path, aigw_error **err) {
    char sub[PATH_MAX_LEN];
    aigw_status st = AIGW_OK;
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, val) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
            if (json_object_is_type(val, json_type_string)) {
                json_object *r;
                if ((st = expand_string(val, sub, &r, err)))
                    return st;
                if (r)
                    json_object_object_add(v, key, r); /* replaces, puts the old one */
            } else if ((st = expand(val, sub, err))) {
                return st;
            }
        }
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n && !st; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if (json_object_is_type(e, json_type_string)) {
                json_object *r;
                if ((st = expand_string(e, sub, &r, err)))
                    return st;
                if (r)
                    json_object_array_put_idx(v, i, r);
            } else {
                st = expand(e, sub, err);
            }
        }
    }
    return st;
}

aigw_status aigw__config_expand_env(json_object *config, aigw_error **err) {
    return expand(config, "", err);
}
