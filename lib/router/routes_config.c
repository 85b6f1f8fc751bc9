/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating the config's "routes" section. */
#include "router/routes_config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/errors.h"
#include "core/json.h"

#define PATH_MAX_LEN 320

/* snprintf for JSON paths: a path longer than the buffer is cut short. */
static void path_fmt(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_fmt(char *dst, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static aigw_status oom(aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

static const char *default_getenv(void *ctx, const char *name) {
    (void)ctx;
    return getenv(name);
}

aigw_status aigw__routes_expand_env(const char *in, const char *path, aigw__getenv_fn getenv_fn,
                                    void *getenv_ctx, char **out, aigw_error **err) {
    if (getenv_fn == aigw__routes_expanded) { /* the whole config was expanded already */
        *out = aigw__strdup(in);
        return *out ? AIGW_OK : oom(err);
    }
    aigw__buf b = AIGW__BUF_INIT;
    aigw_status st = AIGW_OK;
    char name[128];
    if (!getenv_fn)
        getenv_fn = default_getenv;
    *out = NULL;
    const char *p = in;
    while (*p) {
        const char *dollar = strchr(p, '$');
        if (!dollar) {
            if (aigw__buf_puts(&b, p))
                goto nomem;
            break;
        }
        if (aigw__buf_append(&b, p, (size_t)(dollar - p)))
            goto nomem;
        if (dollar[1] == '$' && dollar[2] == '{') { /* "$${" is a literal "${" */
            if (aigw__buf_puts(&b, "${"))
                goto nomem;
            p = dollar + 3;
            continue;
        }
        if (dollar[1] != '{') {
            if (aigw__buf_append(&b, "$", 1))
                goto nomem;
            p = dollar + 1;
            continue;
        }
        const char *start = dollar + 2, *end = strchr(start, '}');
        if (!end) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s: unterminated \"${\"", path);
            goto fail;
        }
        size_t n = (size_t)(end - start);
        int ok = n > 0 && n < sizeof name && (isalpha((unsigned char)*start) || *start == '_');
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)start[i]) || start[i] == '_';
        if (!ok) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s: invalid variable name in \"${%.*s}\"",
                                 path, (int)(n > 64 ? 64 : n), start);
            goto fail;
        }
        memcpy(name, start, n);
        name[n] = '\0';
        const char *value = getenv_fn(getenv_ctx, name);
        if (!value) {
            st = aigw__error_set(err, AIGW_ECONFIG, "%s: environment variable \"%s\" is not set",
                                 path, name);
            goto fail;
        }
        if (aigw__buf_puts(&b, value))
            goto nomem;
        p = end + 1;
    }
    if (!(*out = aigw__buf_detach(&b)))
        goto nomem;
    return AIGW_OK;
nomem:
    st = oom(err);
fail:
    aigw__buf_free(&b);
    return st;
}

static aigw_status want_object(json_object *v, const char *path, aigw_error **err) {
    if (json_object_is_type(v, json_type_object))
        return AIGW_OK;
    return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an object", path);
}

/* A non-empty string value, ${ENV} expanded, into *out. */
static aigw_status load_string(json_object *v, const char *path, const aigw__routes_load_options *o,
                               char **out, aigw_error **err) {
    if (!json_object_is_type(v, json_type_string))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be a string", path);
    char *s = NULL;
    aigw_status st = aigw__routes_expand_env(json_object_get_string(v), path, o->getenv_fn,
                                             o->getenv_ctx, &s, err);
    if (st)
        return st;
    if (!*s) {
        aigw__free(s);
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must not be empty", path);
    }
    aigw__free(*out);
    *out = s;
    return AIGW_OK;
}

static aigw_status load_int(json_object *v, const char *path, long long min, long long max,
                            long long *out, aigw_error **err) {
    if (!json_object_is_type(v, json_type_int))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an integer", path);
    long long n = (long long)json_object_get_int64(v);
    if (n < min || n > max)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: %lld is out of range (%lld to %lld)", path,
                               n, min, max);
    *out = n;
    return AIGW_OK;
}

static int valid_header_name(const char *s) {
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

static aigw_status load_match(json_object *m, const char *rpath, const aigw__routes_load_options *o,
                              aigw__route *r, aigw_error **err) {
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    path_fmt(path, sizeof path, "%s.match", rpath);
    aigw_status st = want_object(m, path, err);
    if (!st)
        st = aigw__json_check_keys(m, path, "model, headers", err);
    if (st)
        return st;
    json_object *v = aigw__json_get(m, "model");
    if (v) {
        path_fmt(sub, sizeof sub, "%s.model", path);
        if ((st = load_string(v, sub, o, &r->model_glob, err)))
            return st;
    }
    json_object *h = aigw__json_get(m, "headers");
    if (!h)
        return AIGW_OK;
    path_fmt(sub, sizeof sub, "%s.headers", path);
    if ((st = want_object(h, sub, err)))
        return st;
    size_t n = (size_t)json_object_object_length(h);
    if (n && !(r->headers = aigw__calloc(n, sizeof *r->headers)))
        return oom(err);
    json_object_object_foreach(h, name, val) {
        path_fmt(sub, sizeof sub, "%s.headers.%s", path, name);
        if (!valid_header_name(name))
            return aigw__error_set(err, AIGW_ECONFIG, "%s: invalid header name", sub);
        aigw__route_header *rh = &r->headers[r->n_headers];
        if (!(rh->name = aigw__strdup(name)))
            return oom(err);
        r->n_headers++;
        for (char *p = rh->name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!json_object_is_type(val, json_type_string))
            return aigw__error_set(err, AIGW_ECONFIG, "%s: must be a string", sub);
        if ((st = aigw__routes_expand_env(json_object_get_string(val), sub, o->getenv_fn,
                                          o->getenv_ctx, &rh->value, err)))
            return st;
    }
    for (size_t i = 0; i < r->n_headers; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->headers[i].name, r->headers[j].name))
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s.headers: header \"%s\" listed twice (names are "
                                       "case-insensitive)",
                                       path, r->headers[i].name);
    return AIGW_OK;
}

static aigw_status load_backend(json_object *b, const char *path,
                                const aigw__routes_load_options *o, aigw__route_backend *rb,
                                aigw_error **err) {
    char sub[PATH_MAX_LEN];
    long long n = 0;
    aigw_status st = want_object(b, path, err);
    if (!st)
        st = aigw__json_check_keys(b, path, "backend, weight, priority, model", err);
    if (st)
        return st;
    rb->weight = 1;
    json_object *v = aigw__json_get(b, "backend");
    if (!v)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing \"backend\"", path);
    path_fmt(sub, sizeof sub, "%s.backend", path);
    if ((st = load_string(v, sub, o, &rb->backend, err)))
        return st;
    size_t k = 0;
    while (k < o->n_known && strcmp(o->known_backends[k], rb->backend))
        k++;
    if (k == o->n_known)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: unknown backend \"%s\"", path, rb->backend);
    if ((v = aigw__json_get(b, "weight"))) {
        path_fmt(sub, sizeof sub, "%s.weight", path);
        if ((st = load_int(v, sub, 0, AIGW__ROUTE_MAX_WEIGHT, &n, err)))
            return st;
        rb->weight = (unsigned)n;
    }
    if ((v = aigw__json_get(b, "priority"))) {
        path_fmt(sub, sizeof sub, "%s.priority", path);
        if ((st = load_int(v, sub, 0, AIGW__ROUTE_MAX_PRIORITY, &n, err)))
            return st;
        rb->priority = (int)n;
    }
    if ((v = aigw__json_get(b, "model"))) {
        path_fmt(sub, sizeof sub, "%s.model", path);
        if ((st = load_string(v, sub, o, &rb->model, err)))
            return st;
    }
    return AIGW_OK;
}

static aigw_status load_ms(json_object *obj, const char *path, const char *key, long min, long *out,
                           aigw_error **err) {
    json_object *v = aigw__json_get(obj, key);
    if (!v)
        return AIGW_OK;
    char sub[PATH_MAX_LEN];
    long long n = 0;
    path_fmt(sub, sizeof sub, "%s.%s", path, key);
    aigw_status st = load_int(v, sub, min, AIGW__ROUTE_MAX_MS, &n, err);
    if (!st)
        *out = (long)n;
    return st;
}

static aigw_status load_retry(json_object *rj, const char *rpath, aigw__retry_config *rc,
                              aigw_error **err) {
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    long long n = 0;
    path_fmt(path, sizeof path, "%s.retry", rpath);
    aigw_status st = want_object(rj, path, err);
    if (!st)
        st = aigw__json_check_keys(rj, path, "attempts, backoff_ms, max_backoff_ms, timeouts_ms",
                                   err);
    if (st)
        return st;
    json_object *v = aigw__json_get(rj, "attempts");
    if (v) {
        path_fmt(sub, sizeof sub, "%s.attempts", path);
        if ((st = load_int(v, sub, 1, AIGW__ROUTE_MAX_ATTEMPTS, &n, err)))
            return st;
        rc->attempts = (unsigned)n;
    }
    if ((st = load_ms(rj, path, "backoff_ms", 0, &rc->backoff_ms, err)) ||
        (st = load_ms(rj, path, "max_backoff_ms", 0, &rc->max_backoff_ms, err)))
        return st;
    if (rc->backoff_ms > rc->max_backoff_ms)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: backoff_ms (%ld) must not exceed max_backoff_ms (%ld)", path,
                               rc->backoff_ms, rc->max_backoff_ms);
    json_object *t = aigw__json_get(rj, "timeouts_ms");
    if (!t)
        return AIGW_OK;
    path_fmt(sub, sizeof sub, "%s.timeouts_ms", path);
    if ((st = want_object(t, sub, err)) ||
        (st = aigw__json_check_keys(t, sub, "connect, first_byte, total", err)) ||
        (st = load_ms(t, sub, "connect", 1, &rc->connect_ms, err)) ||
        (st = load_ms(t, sub, "first_byte", 1, &rc->first_byte_ms, err)) ||
        (st = load_ms(t, sub, "total", 1, &rc->total_ms, err)))
        return st;
    if (rc->total_ms && rc->connect_ms > rc->total_ms)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: connect (%ld) must not exceed total (%ld)",
                               sub, rc->connect_ms, rc->total_ms);
    if (rc->total_ms && rc->first_byte_ms > rc->total_ms)
        return aigw__error_set(err, AIGW_ECONFIG,
                               "%s: first_byte (%ld) must not exceed total (%ld)", sub,
                               rc->first_byte_ms, rc->total_ms);
    return AIGW_OK;
}

static aigw_status load_route(json_object *rj, const char *path, const aigw__routes_load_options *o,
                              aigw__route *r, aigw_error **err) {
    char sub[PATH_MAX_LEN];
    r->retry.attempts = AIGW__ROUTE_DEFAULT_ATTEMPTS;
    r->retry.backoff_ms = AIGW__ROUTE_DEFAULT_BACKOFF_MS;
    r->retry.max_backoff_ms = AIGW__ROUTE_DEFAULT_MAX_BACKOFF_MS;
    aigw_status st = want_object(rj, path, err);
    if (!st)
        st = aigw__json_check_keys(rj, path, "name, match, backends, retry", err);
    if (st)
        return st;
    json_object *v = aigw__json_get(rj, "name");
    if (v) {
        if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
            return aigw__error_set(err, AIGW_ECONFIG, "%s.name: must be a non-empty string", path);
        if (strcmp(json_object_get_string(v), "direct") == 0)
            return aigw__error_set(err, AIGW_ECONFIG,
                                   "%s.name: \"direct\" is reserved (the route name of direct "
                                   "backend requests no route covers)",
                                   path);
        r->name = aigw__strdup(json_object_get_string(v));
    } else {
        r->name = aigw__strdup(path);
    }
    if (!r->name)
        return oom(err);
    v = aigw__json_get(rj, "match");
    if (v && (st = load_match(v, path, o, r, err)))
        return st;
    json_object *bl = aigw__json_get(rj, "backends");
    if (!bl)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: missing \"backends\"", path);
    path_fmt(sub, sizeof sub, "%s.backends", path);
    if (!json_object_is_type(bl, json_type_array))
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must be an array", sub);
    size_t n = json_object_array_length(bl);
    if (!n)
        return aigw__error_set(err, AIGW_ECONFIG, "%s: must not be empty", sub);
    if (!(r->backends = aigw__calloc(n, sizeof *r->backends)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        path_fmt(sub, sizeof sub, "%s.backends[%zu]", path, i);
        aigw__route_backend *rb = &r->backends[i];
        r->n_backends++;
        if ((st = load_backend(json_object_array_get_idx(bl, i), sub, o, rb, err)))
            return st;
        for (size_t j = 0; j < i; j++) {
            const aigw__route_backend *other = &r->backends[j];
            const char *m1 = rb->model ? rb->model : "", *m2 = other->model ? other->model : "";
            if (!strcmp(rb->backend, other->backend) && !strcmp(m1, m2))
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s: backend \"%s\" with the same model is already listed "
                                       "at backends[%zu]",
                                       sub, rb->backend, j);
        }
    }
    if ((v = aigw__json_get(rj, "retry")) && (st = load_retry(v, path, &r->retry, err)))
        return st;
    return AIGW_OK;
}

aigw_status aigw__routes_load(json_object *routes, const aigw__routes_load_options *opts,
                              aigw__routes *out, aigw_error **err) {
    memset(out, 0, sizeof *out);
    if (!routes)
        return AIGW_OK;
    if (!json_object_is_type(routes, json_type_array))
        return aigw__error_set(err, AIGW_ECONFIG, "routes: must be an array");
    size_t n = json_object_array_length(routes);
    if (!n)
        return AIGW_OK;
    if (!(out->routes = aigw__calloc(n, sizeof *out->routes)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX_LEN];
        path_fmt(path, sizeof path, "routes[%zu]", i);
        out->n++;
        aigw_status st =
            load_route(json_object_array_get_idx(routes, i), path, opts, &out->routes[i], err);
        if (st)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->routes[j].name, out->routes[i].name) == 0)
                return aigw__error_set(err, AIGW_ECONFIG,
                                       "%s.name: \"%s\" is already the name of routes[%zu]", path,
                                       out->routes[i].name, j);
    }
    return AIGW_OK;
}

aigw_status aigw__routes_load_text(const char *text, size_t len,
                                   const aigw__routes_load_options *opts, aigw__routes *out,
                                   aigw_error **err) {
    json_object *root = NULL;
    memset(out, 0, sizeof *out);
    aigw_status st = aigw__json_parse(text, len, "config", AIGW_ECONFIG, &root, err);
    if (st)
        return st;
    if (!json_object_is_type(root, json_type_object))
        st = aigw__error_set(err, AIGW_ECONFIG, "config: must be a JSON object");
    else
        st = aigw__routes_load(aigw__json_get(root, "routes"), opts, out, err);
    json_object_put(root);
    return st;
}

void aigw__routes_free(aigw__routes *routes) {
    if (!routes)
        return;
    for (size_t i = 0; i < routes->n; i++) {
        aigw__route *r = &routes->routes[i];
        aigw__free(r->name);
        aigw__free(r->model_glob);
        for (size_t j = 0; j < r->n_headers; j++) {
            aigw__free(r->headers[j].name);
            aigw__free(r->headers[j].value);
        }
        aigw__free(r->headers);
        for (size_t j = 0; j < r->n_backends; j++) {
            aigw__free(r->backends[j].backend);
            aigw__free(r->backends[j].model);
        }
        aigw__free(r->backends);
    }
    aigw__free(routes->routes);
    memset(routes, 0, sizeof *routes);
}
