/* SPDX-License-Identifier: Apache-2.0 */
/* Routing, auth, faults and /sim/ introspection for the simulator. */
#include "sim_router.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROVIDERS 16

static struct {
    sim_config cfg;
    const sim_provider *providers[MAX_PROVIDERS];
    size_t nproviders;
    unsigned long count;
    json_object *last; /* the last provider request, as /sim/last-request shows it */
    /* The default fault (--fault, POST /sim/fault): for every provider
     * request without a fault of its own. */
    int fault_set;
    sim_fault fault;
    long fault_left;       /* requests it still applies to; -1: every one */
    char *fault_spec;      /* as given, for GET /sim/fault */
    unsigned long faulted; /* requests that got it */
} router = {.fault_left = -1};

void sim_router_init(const sim_config *cfg) {
    router.cfg = *cfg;
}

void sim_router_register(const sim_provider *p) {
    if (router.nproviders == MAX_PROVIDERS) {
        fprintf(stderr, "aigw-sim: too many providers\n");
        abort();
    }
    router.providers[router.nproviders++] = p;
}

void sim_router_free(void) {
    if (router.last)
        json_object_put(router.last);
    router.last = NULL;
    router.nproviders = 0;
    free(router.fault_spec);
    router.fault_spec = NULL;
    router.fault_set = 0;
}

int sim_router_set_default_fault(const char *spec, size_t len, char *err, size_t errlen) {
    char rest[512] = "";
    size_t rlen = 0;
    long left = -1;
    sim_fault f;
    const char *p = spec, *end = spec + len;

    if (memchr(spec, '\0', len)) {
        snprintf(err, errlen, "fault spec with a NUL byte");
        return -1;
    }
    /* "count=N" is ours; the rest is an ordinary fault spec. */
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        const char *item = p;
        size_t ilen = n;
        while (ilen && (*item == ' ' || *item == '\t' || *item == '\r' || *item == '\n')) {
            item++;
            ilen--;
        }
        while (ilen && (item[ilen - 1] == ' ' || item[ilen - 1] == '\t' || item[ilen - 1] == '\r' ||
                        item[ilen - 1] == '\n'))
            ilen--;
        if (ilen > 6 && strncmp(item, "count=", 6) == 0) {
            char num[24];
            char *nend;
            if (ilen - 6 >= sizeof num) {
                snprintf(err, errlen, "bad value for fault key count: %.*s", (int)(ilen - 6),
                         item + 6);
                return -1;
            }
            memcpy(num, item + 6, ilen - 6);
            num[ilen - 6] = '\0';
            errno = 0;
            left = strtol(num, &nend, 10);
            if (errno || *nend || nend == num || left < 1 || left > 1000000000L) {
                snprintf(err, errlen, "bad value for fault key count: %s", num);
                return -1;
            }
        } else if (ilen) {
            if (rlen + ilen + 2 > sizeof rest) {
                snprintf(err, errlen, "fault spec too long");
                return -1;
            }
            if (rlen)
                rest[rlen++] = ',';
            memcpy(rest + rlen, item, ilen);
            rlen += ilen;
            rest[rlen] = '\0';
        }
        p += n + (comma ? 1 : 0);
    }
    sim_fault_init(&f);
    if (sim_fault_parse(&f, rest, err, errlen) != 0)
        return -1;
    free(router.fault_spec);
    router.fault_spec = NULL;
    router.fault_set = 0;
    router.fault_left = -1;
    if (!rlen)
        return 0; /* an empty spec (count alone included) clears it */
    router.fault = f;
    router.fault_left = left;
    router.fault_spec = sim_xmalloc(len + 1);
    memcpy(router.fault_spec, spec, len);
    router.fault_spec[len] = '\0';
    router.fault_set = 1;
    return 0;
}

/* Gives the default fault to a request that has none of its own. */
static void take_default_fault(sim_request *req) {
    if (!router.fault_set)
        return;
    req->fault = router.fault;
    router.faulted++;
    if (router.fault_left > 0 && --router.fault_left == 0) {
        free(router.fault_spec);
        router.fault_spec = NULL;
        router.fault_set = 0;
        router.fault_left = -1;
    }
}

static void fault_state(sim_response *res, int status) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "fault",
                           router.fault_set ? json_object_new_string(router.fault_spec) : NULL);
    json_object_object_add(o, "remaining",
                           router.fault_set && router.fault_left > 0
                               ? json_object_new_int64(router.fault_left)
                               : NULL);
    json_object_object_add(o, "faulted", json_object_new_int64((int64_t)router.faulted));
    sim_res_json(res, status, o);
    json_object_put(o);
}

size_t sim_count_words(const char *s, size_t len) {
    size_t n = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int sp = isspace((unsigned char)s[i]);
        if (!sp && !in_word)
            n++;
        in_word = !sp;
    }
    return n;
}

static void record(const sim_request *req) {
    json_object *o = json_object_new_object();
    json_object *h = json_object_new_object();
    json_object_object_add(o, "method", json_object_new_string(req->method));
    json_object_object_add(o, "path",
                           json_object_new_string(req->url.data ? req->url.data : req->path));
    for (size_t i = 0; i < req->nheaders; i++) {
        json_object *prev = json_object_object_get(h, req->headers[i].name);
        if (prev) {
            /* repeated header: join the values as HTTP allows */
            size_t n = strlen(json_object_get_string(prev)) + strlen(req->headers[i].value) + 3;
            char *v = sim_xmalloc(n);
            snprintf(v, n, "%s, %s", json_object_get_string(prev), req->headers[i].value);
            json_object_object_add(h, req->headers[i].name, json_object_new_string(v));
            free(v);
        } else {
            json_object_object_add(h, req->headers[i].name,
                                   json_object_new_string(req->headers[i].value));
        }
    }
    json_object_object_add(o, "headers", h);
    json_object_object_add(
        o, "body",
        json_object_new_string_len(req->body.data ? req->body.data : "", (int)req->body.len));
    if (router.last)
        json_object_put(router.last);
    router.last = o;
}

static void sim_error(sim_response *res, int status, const char *message) {
    json_object *o = json_object_new_object();
    json_object *e = json_object_new_object();
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "type", json_object_new_string("invalid_request_error"));
    json_object_object_add(o, "error", e);
    sim_res_json(res, status, o);
    json_object_put(o);
}

static void introspect(sim_request *req, sim_response *res) {
    if (strcmp(req->path, "/sim/last-request") == 0 && strcmp(req->method, "GET") == 0) {
        if (router.last) {
            sim_res_json(res, 200, router.last);
        } else {
            static const char none[] =
                "{\"method\":null,\"path\":null,\"headers\":{},\"body\":null}";
            sim_res_body(res, 200, "application/json", none, sizeof(none) - 1);
        }
    } else if (strcmp(req->path, "/sim/requests") == 0 && strcmp(req->method, "GET") == 0) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "count", json_object_new_int64((int64_t)router.count));
        sim_res_json(res, 200, o);
        json_object_put(o);
    } else if (strcmp(req->path, "/sim/fault") == 0 && strcmp(req->method, "GET") == 0) {
        fault_state(res, 200);
    } else if (strcmp(req->path, "/sim/fault") == 0 && strcmp(req->method, "POST") == 0) {
        char err[160];
        if (sim_router_set_default_fault(req->body.data ? req->body.data : "", req->body.len, err,
                                         sizeof err) != 0)
            sim_error(res, 400, err);
        else
            fault_state(res, 200);
    } else if (strcmp(req->path, "/sim/reset") == 0 && strcmp(req->method, "POST") == 0) {
        router.count = 0;
        router.faulted = 0;
        if (router.last)
            json_object_put(router.last);
        router.last = NULL;
        static const char ok[] = "{\"ok\":true}";
        sim_res_body(res, 200, "application/json", ok, sizeof(ok) - 1);
    } else {
        sim_error(res, 404, "unknown simulator endpoint");
    }
}

static const sim_provider *provider_for_prefix(const char *path) {
    const sim_provider *best = router.nproviders ? router.providers[0] : NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < router.nproviders; i++) {
        const char *pre = router.providers[i]->prefix;
        size_t n = pre ? strlen(pre) : 0;
        if (n > best_len && strncmp(path, pre, n) == 0) {
            best = router.providers[i];
            best_len = n;
        }
    }
    return best;
}

/* A top-level string field of the JSON body, or NULL. */
static const char *body_field(const sim_request *req, const char *key) {
    json_object *v;
    if (req->json && json_object_is_type(req->json, json_type_object) &&
        json_object_object_get_ex(req->json, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

void sim_router_dispatch(sim_request *req, sim_response *res, void *user) {
    (void)user;
    if (strncmp(req->path, "/sim/", 5) == 0) {
        introspect(req, res);
        return;
    }
    router.count++;
    record(req);

    if (req->body.len) {
        json_tokener *tok = json_tokener_new();
        json_object *j = json_tokener_parse_ex(tok, req->body.data, (int)req->body.len);
        if (j && (json_tokener_get_error(tok) != json_tokener_success ||
                  json_tokener_get_parse_end(tok) < req->body.len)) {
            /* trailing bytes after the value: not valid JSON */
            size_t end = json_tokener_get_parse_end(tok);
            while (end < req->body.len && isspace((unsigned char)req->body.data[end]))
                end++;
            if (end < req->body.len) {
                json_object_put(j);
                j = NULL;
            }
        }
        req->json = j;
        json_tokener_free(tok);
    }

    /* Which route, and so which provider. */
    const sim_route *route = NULL;
    const sim_provider *prov = NULL;
    int path_matched = 0;
    for (size_t i = 0; i < router.nproviders && !route; i++) {
        const sim_provider *p = router.providers[i];
        for (size_t r = 0; r < p->nroutes; r++) {
            if (fnmatch(p->routes[r].pattern, req->path, FNM_PATHNAME) != 0)
                continue;
            if (!path_matched) {
                path_matched = 1;
                prov = p;
            }
            if (strcmp(p->routes[r].method, req->method) == 0) {
                route = &p->routes[r];
                prov = p;
                break;
            }
        }
    }
    if (!prov)
        prov = provider_for_prefix(req->path);
    if (!prov) {
        sim_error(res, 404, "no provider registered");
        return;
    }

    if (router.cfg.api_key && !prov->authorized(req, router.cfg.api_key)) {
        prov->error(res, 401, NULL);
        return;
    }

    const char *spec = sim_request_header(req, "x-sim-fault");
    if (!spec)
        spec = body_field(req, "sim_fault");
    if (spec) {
        char err[160];
        if (sim_fault_parse(&req->fault, spec, err, sizeof(err)) != 0) {
            prov->error(res, 400, err);
            return;
        }
    } else {
        take_default_fault(req);
    }
    res->close_silently = req->fault.close;
    res->latency_ms = req->fault.latency_ms;
    res->trickle_ms = req->fault.trickle_ms;
    res->trickle_bytes = req->fault.trickle_bytes;
    res->event_ms = req->fault.event_ms;
    res->cut_after = req->fault.cut_after;
    if (req->fault.close)
        return;
    if (req->fault.status) {
        prov->error(res, req->fault.status, NULL);
        if (req->fault.retry_after >= 0) {
            char v[16];
            snprintf(v, sizeof(v), "%d", req->fault.retry_after);
            sim_res_header(res, "Retry-After", v);
        }
        return;
    }

    const char *replay = sim_request_header(req, "x-sim-replay");
    if (!replay)
        replay = body_field(req, "sim_replay");
    if (replay) {
        char err[256];
        int status = 500;
        if (!router.cfg.recordings_dir) {
            prov->error(res, 400, "replay requested but aigw-sim runs without --recordings");
        } else if (sim_replay(router.cfg.recordings_dir, replay, res, &status, err, sizeof(err)) !=
                   0) {
            sim_response_free(res);
            prov->error(res, status, err);
        }
        return;
    }

    if (!route) {
        char msg[SIM_MAX_URL + 64];
        snprintf(msg, sizeof(msg), "Invalid URL (%s %s)", req->method, req->path);
        prov->error(res, path_matched ? 405 : 404, msg);
        if (path_matched)
            sim_res_header(res, "Allow", "GET, POST");
        return;
    }
    route->handler(req, res);
}
