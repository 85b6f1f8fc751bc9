/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's routes: OpenAI's /v1/chat/completions (JSON and SSE),
 * /v1/embeddings and /v1/models, plus /healthz and /metrics. Every model
 * call goes through the async API on the worker's loop; the client's own
 * Authorization is never forwarded (the library builds each upstream
 * request from the backend's credentials). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "account/accountant.h"
#include "aigw/async.h"
#include "aigw/chat.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/async_internal.h"
#include "server/gateway.h"

/* The HTTP server's headers are handed to the library as they are. */
_Static_assert(sizeof(aigw__http_header) == sizeof(aigw_header) &&
                   offsetof(aigw__http_header, name) == offsetof(aigw_header, name) &&
                   offsetof(aigw__http_header, value) == offsetof(aigw_header, value),
               "aigw__http_header and aigw_header differ");

typedef enum route_id { R_CHAT, R_EMBED, R_MODELS, R_HEALTH, R_METRICS } route_id;

static const char *const route_names[] = {"/v1/chat/completions", "/v1/embeddings", "/v1/models",
                                          "/healthz", "/metrics"};

typedef struct gw_req {
    aigw__gw_worker *w;
    aigw__gw_snapshot *snap; /* the client and keys this request uses */
    aigw__http_response *res;
    aigw_request *areq; /* the upstream request while it runs */
    route_id route;
    const aigw__gw_key *key;
    char method[8];
    char remote[48];
    char backend[64];
    char model[256]; /* the model the client asked for (for its errors) */
    uint64_t start_ns;
    int stream, started, include_usage, gone;
    int status;                /* sent */
    aigw_call_info info;       /* the library's: backend, usage, rate limits */
    aigw__models_list *models; /* /v1/models while it is listed */
    char *models_json;
    aigw__http_request *req; /* while its body is parsed */
    aigw__gw_body body;      /* the parse (gateway_body.c) */
    int big;                 /* the body was parsed off the loop */
} gw_req;

/* Metrics and the access log: before the answer's last bytes go out, so a
 * client that has its answer also sees it counted. */
static void record(gw_req *r) {
    aigw_server *s = r->w->server;
    double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
    if (r->info.backend[0])
        snprintf(r->backend, sizeof r->backend, "%s", r->info.backend);
    aigw__gw_metrics_request(s->metrics, route_names[r->route], r->status, r->backend, secs);
    aigw__gw_metrics_tokens(s->metrics, r->backend,
                            r->info.input_tokens > 0 ? r->info.input_tokens : 0,
                            r->info.output_tokens > 0 ? r->info.output_tokens : 0);
    aigw__log(&r->snap->client->logger, AIGW_LOG_INFO,
              "access %s %s %d %.1fms backend=%s key=%s team=%s remote=%s%s", r->method,
              route_names[r->route], r->status, secs * 1e3, r->backend[0] ? r->backend : "-",
              r->key ? r->key->name : "-", r->key && r->key->team ? r->key->team : "-", r->remote,
              r->gone ? " client-gone" : "");
}

static void finish(gw_req *r) {
    aigw__gw_worker *w = r->w;
    aigw__gw_snapshot *snap = r->snap;
    if (r->big)
        aigw__gw_body_trim(&w->loop); /* its body and tree are freed by now */
    aigw__free(r->models_json);
    aigw__free(r);
    aigw__gw_worker_request_done(w, snap);
}

/* The HTTP status a client of the gateway gets for a failure (README,
 * "HTTP status of errors", has this table). The caller's own mistakes are
 * 4xx (an upstream 413/422 passes through); rate limits and budgets 429;
 * whatever went wrong between the gateway and the upstream is the
 * gateway's: 502 Bad Gateway (an upstream 5xx, a refused or reset
 * connection, a malformed, truncated or unexpected answer, the upstream
 * refusing the gateway's own credentials), 504 Gateway Timeout (the
 * upstream did not answer in time); the gateway's own faults are 500.
 * Every status is listed: a new one must be placed here deliberately. */
static int http_status_for(aigw_status st, const aigw_error *err) {
    int up = aigw_error_http_status(err);
    switch (st) {
    case AIGW_OK:
        return 200;
    case AIGW_EBADREQUEST:
        return up == 413 || up == 422 ? up : 400;
    case AIGW_EINVAL:
    case AIGW_ENOTSUPPORTED:
        return 400;
    case AIGW_ENOBACKEND:
    case AIGW_ENOTFOUND:
        return 404;
    case AIGW_ERATELIMIT:
    case AIGW_EBUDGET:
        return 429;
    case AIGW_ETIMEOUT:
        return 504;
    case AIGW_EUPSTREAM:
    case AIGW_EUPSTREAM_STATUS:
    case AIGW_EBADRESPONSE:
    case AIGW_ETRUNCATED:
    case AIGW_ECONNECT:
    case AIGW_ETRANSPORT:
    case AIGW_EAUTH:
    case AIGW_EPERMISSION:
        return 502;
    case AIGW_ECANCELED:
    case AIGW_ESTOPPED:
        return 499; /* the client went away (nginx's code; never sent) */
    case AIGW_ECONFIG:
    case AIGW_EIO:
    case AIGW_ENOMEM:
    case AIGW_EINTERNAL:
        return 500;
    }
    return 500; /* a status this build does not know */
}

static void send_error(gw_req *r, int status, const char *type, const char *msg, const char *code) {
    r->status = status;
    record(r);
    aigw__http_response_send_error(r->res, status, type, msg, NULL, code);
    finish(r);
}

/* OpenAI's duration format for x-ratelimit-reset-*: "20ms", "6s", "6m0s",
 * "1h2m3s". */
static void format_reset(double seconds, char *out, size_t cap) {
    if (seconds < 1) {
        snprintf(out, cap, "%ldms", seconds > 0 ? (long)(seconds * 1000 + 0.999) : 0L);
        return;
    }
    long long s = (long long)(seconds + 0.999);
    long long h = s / 3600, m = s / 60 % 60, sec = s % 60;
    if (h)
        snprintf(out, cap, "%lldh%lldm%llds", h, m, sec);
    else if (m)
        snprintf(out, cap, "%lldm%llds", m, sec);
    else
        snprintf(out, cap, "%llds", sec);
}

/* A token count as a whole number (rounded; 0 for none). Through an
 * integer: "%.0f" of a double costs glibc ~4 k instructions a call. */
static void format_tokens(double v, char *out, size_t cap) {
    if (!(v > 0))
        v = 0;
    if (v < 9.0e18)
        snprintf(out, cap, "%lld", (long long)(v + 0.5));
    else
        snprintf(out, cap, "%.0f", v);
}

/* The tightest budget's state as OpenAI's rate-limit headers. */
static void add_ratelimit_headers(gw_req *r) {
    const aigw_ratelimit *rl = &r->info.ratelimit;
    if (!rl->known)
        return;
    char v[64];
    format_tokens(rl->limit, v, sizeof v);
    aigw__http_response_header(r->res, "x-ratelimit-limit-tokens", v);
    format_tokens(rl->remaining, v, sizeof v);
    aigw__http_response_header(r->res, "x-ratelimit-remaining-tokens", v);
    format_reset(rl->reset_seconds, v, sizeof v);
    aigw__http_response_header(r->res, "x-ratelimit-reset-tokens", v);
}

/* Whether `at` starts backend `name` (quoted, or followed by what ends a
 * word); *len gets the length to replace. */
static int names_backend(const char *at, const char *name, size_t *len) {
    size_t n = strlen(name);
    if (at[0] == '"' && strncmp(at + 1, name, n) == 0 && at[n + 1] == '"') {
        *len = n + 2;
        return 1;
    }
    if (strncmp(at, name, n) == 0 && (!at[n] || strchr(" :,;)", at[n]))) {
        *len = n;
        return 1;
    }
    return 0;
}

/* The library's message with every `backend NAME` / `backend "NAME"` of a
 * configured backend turned into `upstream`, into *out. 1 when changed. */
static int scrub_backends(const aigw_client *c, const char *msg, aigw__buf *out) {
    int changed = 0;
    for (const char *p = msg; *p;) {
        const char *hit = strstr(p, "backend ");
        if (!hit) {
            aigw__buf_puts(out, p);
            break;
        }
        const char *after = hit + 8;
        size_t len = 0, i = 0;
        while (i < c->n_backends && !names_backend(after, c->backends[i].name, &len))
            i++;
        if (i == c->n_backends) {
            aigw__buf_append(out, p, (size_t)(after - p));
            p = after;
            continue;
        }
        aigw__buf_append(out, p, (size_t)(hit - p));
        aigw__buf_puts(out, "upstream");
        p = after + len;
        changed = 1;
    }
    return changed;
}

/* What a client may see of a failure: never the config's backend names
 * (their list, or one of them). A model that cannot be served to this
 * caller is OpenAI's model_not_found, the same whether it does not exist,
 * is outside the key's models, or is a backend the routes do not allow;
 * other messages keep their text with backend names replaced. The detail
 * goes to the log. NULL: err can be sent as it is. */
static aigw_error *public_error(gw_req *r, aigw_status st, const aigw_error *err) {
    aigw_client *c = r->snap->client;
    aigw_error *out = NULL;
    if (st == AIGW_ENOBACKEND) {
        aigw__log(&c->logger, AIGW_LOG_INFO, "gateway: key %s: %s", r->key ? r->key->name : "-",
                  aigw_error_message(err));
        aigw__error_set(&out, AIGW_ENOBACKEND,
                        "The model '%s' does not exist or you do not have access to it.", r->model);
        return out;
    }
    aigw__buf b = AIGW__BUF_INIT;
    if (scrub_backends(c, aigw_error_message(err), &b)) {
        aigw__log(&c->logger, AIGW_LOG_WARN, "gateway: %s", aigw_error_message(err));
        aigw__error_set(&out, st, "%s", b.data ? b.data : "upstream error");
    }
    aigw__buf_free(&b);
    return out;
}

static void send_aigw_error(gw_req *r, aigw_status st, const aigw_error *err) {
    r->status = http_status_for(st, err);
    add_ratelimit_headers(r);
    if (st == AIGW_EBUDGET && r->info.ratelimit.retry_after_seconds > 0) {
        char v[32];
        snprintf(v, sizeof v, "%.0f", r->info.ratelimit.retry_after_seconds);
        aigw__http_response_header(r->res, "Retry-After", v);
    } else if (aigw_error_retry_after(err) >= 0) {
        /* the upstream's own, passed on: on a 429, and on the 502 an
         * upstream 503 becomes (OpenAI's SDKs honour it on any retry) */
        char v[32];
        snprintf(v, sizeof v, "%ld", aigw_error_retry_after(err));
        aigw__http_response_header(r->res, "Retry-After", v);
    }
    aigw_error *shown = public_error(r, st, err);
    record(r);
    if (st == AIGW_EAUTH || st == AIGW_EPERMISSION) {
        /* The upstream refused the gateway's credentials, not the
         * client's key: no authentication_error the client would take
         * for its own. */
        aigw__http_response_send_error(r->res, r->status, "server_error",
                                       aigw_error_message(shown ? shown : err), NULL,
                                       "upstream_auth_failed");
    } else {
        const char *json = aigw_error_json(shown ? shown : err);
        aigw__http_response_send(r->res, r->status, "application/json", json, strlen(json));
    }
    aigw_error_free(shown);
    finish(r);
}

static void on_gone(aigw__http_response *res, void *data) {
    (void)res;
    gw_req *r = data;
    r->gone = 1;
    if (r->areq)
        aigw_request_cancel(r->areq);
}

static void on_done(aigw_status st, const char *response_json, const aigw_error *err, void *user) {
    gw_req *r = user;
    r->areq = NULL;
    if (r->gone) {
        r->status = 499;
        record(r);
        if (r->started)
            aigw__http_response_end(r->res);
        else
            aigw__http_response_send(r->res, 499, NULL, "", 0);
        finish(r);
        return;
    }
    if (r->stream && r->started) {
        aigw__buf b = AIGW__BUF_INIT;
        record(r);
        if (st == AIGW_OK) {
            aigw__buf_puts(&b, "data: [DONE]\n\n");
        } else {
            aigw_error *shown = public_error(r, st, err);
            aigw__buf_cat(&b, "data: ", aigw_error_json(shown ? shown : err), "\n\n", (char *)NULL);
            aigw_error_free(shown);
        }
        if (b.data)
            aigw__http_response_write(r->res, b.data, b.len);
        aigw__buf_free(&b);
        aigw__http_response_end(r->res);
        finish(r);
        return;
    }
    if (st != AIGW_OK) {
        send_aigw_error(r, st, err);
        return;
    }
    add_ratelimit_headers(r);
    if (r->stream) { /* a stream with no chunk at all */
        r->status = 200;
        aigw__http_response_header(r->res, "Cache-Control", "no-cache");
        static const char done[] = "data: [DONE]\n\n";
        record(r);
        aigw__http_response_send(r->res, 200, "text/event-stream", done, sizeof(done) - 1);
        finish(r);
        return;
    }
    r->status = 200;
    record(r);
    aigw__http_response_send(r->res, 200, "application/json", response_json,
                             response_json ? strlen(response_json) : 0);
    finish(r);
}

static int on_chunk(const char *chunk, size_t len, void *user) {
    gw_req *r = user;
    if (r->gone || !aigw__http_response_connected(r->res))
        return 1;
    /* The library hands the usage chunk over only when the client asked
     * (stream_options.include_usage). */
    if (!r->started) {
        r->started = 1;
        r->status = 200;
        add_ratelimit_headers(r);
        aigw__http_response_header(r->res, "Cache-Control", "no-cache");
        aigw__http_response_header(r->res, "X-Accel-Buffering", "no");
        aigw__http_response_start(r->res, 200, "text/event-stream");
    }
    aigw__buf b = AIGW__BUF_INIT;
    if (aigw__buf_reserve(&b, len + 8) != AIGW_OK)
        return 1;
    aigw__buf_append(&b, "data: ", 6);
    aigw__buf_append(&b, chunk, len);
    aigw__buf_append(&b, "\n\n", 2);
    aigw_status st = aigw__http_response_write(r->res, b.data, b.len);
    aigw__buf_free(&b);
    return st == AIGW_OK ? 0 : 1;
}

static int json_content_type(const aigw__http_request *req) {
    const char *ct = aigw__http_request_header(req, "content-type");
    if (!ct)
        return 1; /* lenient: a body with no type is read as JSON */
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; ");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* Whether the body is sent as is: no Content-Encoding, or "identity".
 * serve decodes no content coding (RFC 9110 8.4.1: 415), so a gzip body,
 * or a gzip bomb, is refused before its bytes are read as JSON. */
static int identity_encoding(const aigw__http_request *req) {
    const char *ce = aigw__http_request_header(req, "content-encoding");
    if (!ce)
        return 1;
    while (*ce == ' ' || *ce == '\t')
        ce++;
    size_t n = strcspn(ce, " \t");
    return n == 0 ||
           (n == 8 && strncasecmp(ce, "identity", 8) == 0 && !ce[n + strspn(ce + n, " \t")]);
}

/* The user a request is, for budgets and logs: the user header (else the
 * body's "user") for a key trusted to name users, else the key's own
 * "user" (or none). An untrusted key's header/field is ignored for
 * identity (the "user" field still goes upstream as sent); said once per
 * key, not per request. */
static const char *request_user(gw_req *r, const aigw__http_request *req, json_object *body) {
    aigw__gw_config *cfg = &r->snap->cfg;
    aigw__gw_key *k = (aigw__gw_key *)r->key; /* its logged-once flag */
    const char *named = cfg->user_header ? aigw__http_request_header(req, cfg->user_header) : NULL;
    json_object *u;
    if ((!named || !*named) && json_object_object_get_ex(body, "user", &u) &&
        json_object_is_type(u, json_type_string) && json_object_get_string_len(u) > 0)
        named = json_object_get_string(u);
    if (named && !*named)
        named = NULL;
    if (k && k->trusted_user_header && named)
        return named;
    if (named) {
        atomic_int *flag = k ? &k->user_ignored_logged : &cfg->user_ignored_logged;
        if (atomic_exchange(flag, 1) == 0)
            aigw__log(&r->snap->client->logger, AIGW_LOG_WARN,
                      "gateway: key %s is not trusted to name users (trusted_user_header): the "
                      "user its requests name is ignored for budgets and logs (said once)",
                      k ? k->name : "(none: open gateway)");
    }
    return k ? k->user : NULL;
}

static void on_gone(aigw__http_response *res, void *data);

static void model_call_parsed(aigw__gw_body *b, json_object *body, void *user) {
    gw_req *r = user;
    aigw__http_request *req = r->req;
    r->req = NULL;
    if (r->gone) { /* the client left while its body was parsed */
        json_object_put(body);
        r->status = 499;
        record(r);
        aigw__http_response_send(r->res, 499, NULL, "", 0);
        finish(r);
        return;
    }
    if (!body) {
        send_error(r, b->status, "invalid_request_error", b->message, b->code);
        return;
    }
    if (!json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        send_error(r, 400, "invalid_request_error",
                   "We could not parse the JSON body of your request. The body must be a JSON "
                   "object.",
                   "invalid_json");
        return;
    }
    json_object *v = NULL;
    if (r->route == R_CHAT && json_object_object_get_ex(body, "stream", &v) &&
        json_object_get_boolean(v))
        r->stream = 1;

    const char *model = aigw__json_get_string(body, "model");
    snprintf(r->model, sizeof r->model, "%s", model ? model : "");

    /* Who is calling (budgets, logs) and the headers routes may match. */
    aigw_call_options opts = AIGW_CALL_OPTIONS_INIT;
    opts.key = r->key ? r->key->name : NULL;
    opts.team = r->key ? r->key->team : NULL;
    opts.user = request_user(r, req, body);
    /* What the caller may reach: the gateway's direct-backend rule and the
     * key's models and routes; the user is the one decided above. */
    aigw__call_access access = {.direct = (aigw__direct_rule)r->snap->cfg.direct_rule,
                                .user_given = 1};
    if (r->key) {
        access.models = r->key->models;
        access.n_models = r->key->n_models;
        access.routes = r->key->routes;
        access.n_routes = r->key->n_routes;
    }
    opts.headers = (const aigw_header *)req->headers; /* same layout, see below */
    opts.n_headers = req->nheaders;
    opts.info = &r->info;
    aigw_error *err = NULL;
    aigw__op op = r->route == R_EMBED ? AIGW__OP_EMBED
                  : r->stream         ? AIGW__OP_CHAT_STREAM
                                      : AIGW__OP_CHAT;
    aigw_status st = aigw__call_async_parsed(r->snap->client, &r->w->loop, op, body, &opts, &access,
                                             on_chunk, on_done, r, &r->areq, &err);
    if (st != AIGW_OK) {
        r->areq = NULL;
        send_aigw_error(r, st, err);
        aigw_error_free(err);
        return;
    }
    aigw__http_response_on_disconnect(r->res, on_gone, r);
}

static void model_call(gw_req *r, aigw__http_request *req) {
    if (!json_content_type(req)) {
        send_error(r, 415, "invalid_request_error", "Content-Type must be application/json.",
                   "unsupported_media_type");
        return;
    }
    if (!identity_encoding(req)) {
        send_error(r, 415, "invalid_request_error",
                   "Content-Encoding is not supported: send the JSON body uncompressed.",
                   "unsupported_media_type");
        return;
    }
    r->req = req;
    r->big = req->body_len >= r->snap->cfg.json_offload_bytes;
    if (r->big) /* the client may go while the thread pool parses */
        aigw__http_response_on_disconnect(r->res, on_gone, r);
    if (aigw__gw_body_parse(&r->body, &r->w->loop, &r->snap->cfg, req->body, req->body_len,
                            model_call_parsed, r) != 0) {
        r->req = NULL;
        r->big = 0;
        send_error(r, 503, "server_error", "Could not queue the request.", "server_overloaded");
    }
}

/* The list without the models the key may not use (its "models" globs,
 * its "routes"). */
static aigw_status filter_models(gw_req *r) {
    const aigw__gw_key *k = r->key;
    if (!k || (!k->models && !k->routes))
        return AIGW_OK;
    aigw__call_access access = {.direct = (aigw__direct_rule)r->snap->cfg.direct_rule,
                                .models = k->models,
                                .n_models = k->n_models,
                                .routes = k->routes,
                                .n_routes = k->n_routes};
    json_object *root = NULL, *data, *kept = json_object_new_array();
    aigw_status st = aigw__json_parse(r->models_json, strlen(r->models_json), "models",
                                      AIGW_EINTERNAL, &root, NULL);
    if (st || !kept || !json_object_object_get_ex(root, "data", &data) ||
        !json_object_is_type(data, json_type_array)) {
        json_object_put(root);
        json_object_put(kept);
        return st ? st : AIGW_EINTERNAL;
    }
    for (size_t i = 0; i < json_object_array_length(data); i++) {
        json_object *m = json_object_array_get_idx(data, i);
        const char *id = aigw__json_get_string(m, "id");
        const char *route =
            id && k->routes ? aigw__access_route_of(r->snap->client, &access, id) : NULL;
        if (id && aigw__access_allows(&access, id, route) &&
            json_object_array_add(kept, json_object_get(m)))
            json_object_put(m);
    }
    json_object_object_add(root, "data", kept);
    char *text = aigw__json_dup_string(root);
    json_object_put(root);
    if (!text)
        return AIGW_ENOMEM;
    aigw__free(r->models_json);
    r->models_json = text;
    return AIGW_OK;
}

static void on_models_gone(aigw__http_response *res, void *data) {
    (void)res;
    gw_req *r = data;
    r->gone = 1;
    if (r->models)
        aigw__models_cancel(r->models);
}

/* The listing's end (core/models_async.c): with routes, before
 * aigw__models_async returns; otherwise once every backend has answered. */
static void models_done(aigw_status st, const char *response_json, const aigw_error *err,
                        void *user) {
    gw_req *r = user;
    r->models = NULL;
    if (r->gone) {
        r->status = 499;
        record(r);
        aigw__http_response_send(r->res, 499, NULL, "", 0);
        finish(r);
        return;
    }
    if (st != AIGW_OK) {
        send_aigw_error(r, st, err);
        return;
    }
    if (!(r->models_json = aigw__strdup(response_json)) || filter_models(r) != AIGW_OK) {
        send_error(r, 500, "server_error", "Could not list the models.", NULL);
        return;
    }
    r->status = 200;
    record(r);
    aigw__http_response_send(r->res, 200, "application/json", r->models_json,
                             strlen(r->models_json));
    finish(r);
}

/* The accountant's counters (this config's: they start at 0 on a reload). */
static aigw_status render_budget_metrics(aigw_client *client, aigw__buf *b) {
    if (!client->accountant)
        return AIGW_OK;
    aigw__account_stats st;
    aigw__accountant_stats(client->accountant, &st);
    aigw_status rc = aigw__buf_printf(
        b,
        "# HELP aigw_budget_requests_total Model calls checked against budgets, by outcome.\n"
        "# TYPE aigw_budget_requests_total counter\n"
        "aigw_budget_requests_total{outcome=\"admitted\"} %llu\n"
        "aigw_budget_requests_total{outcome=\"refused\"} %llu\n"
        "# HELP aigw_budget_unknown_usage_total Settlements whose usage the upstream did not "
        "report (charged at the estimate).\n"
        "# TYPE aigw_budget_unknown_usage_total counter\n"
        "aigw_budget_unknown_usage_total %llu\n"
        "# HELP aigw_budget_store_errors_total Budget checks the store could not answer, by what "
        "on_store_error did.\n"
        "# TYPE aigw_budget_store_errors_total counter\n"
        "aigw_budget_store_errors_total{on_store_error=\"fail_open\"} %llu\n"
        "aigw_budget_store_errors_total{on_store_error=\"fail_closed\"} %llu\n",
        st.admitted, st.refused, st.unknown_usage, st.store_errors_open, st.store_errors_closed);
    if (rc)
        return rc;
    /* The store's own counts (shared by configs that share the store). */
    aigw__store_stats ss;
    aigw__store_get_stats(aigw__accountant_store(client->accountant), &ss);
    return aigw__buf_printf(
        b,
        "# HELP aigw_budget_store_counters Budget counters the memory store holds now.\n"
        "# TYPE aigw_budget_store_counters gauge\n"
        "aigw_budget_store_counters %llu\n"
        "# HELP aigw_budget_store_evictions_total Idle budget counters evicted from the memory "
        "store.\n"
        "# TYPE aigw_budget_store_evictions_total counter\n"
        "aigw_budget_store_evictions_total %llu\n"
        "# HELP aigw_budget_store_counter_refusals_total New budget counters not made: the "
        "memory store was at accounting.max_counters with none idle (on_store_error applied).\n"
        "# TYPE aigw_budget_store_counter_refusals_total counter\n"
        "aigw_budget_store_counter_refusals_total %llu\n"
        "# HELP aigw_budget_store_pending Redis reservations to cancel and settlements to send, "
        "whose first try got no answer.\n"
        "# TYPE aigw_budget_store_pending gauge\n"
        "aigw_budget_store_pending %llu\n"
        "# HELP aigw_budget_store_recovered_total Queued cancels and settlements Redis answered.\n"
        "# TYPE aigw_budget_store_recovered_total counter\n"
        "aigw_budget_store_recovered_total %llu\n"
        "# HELP aigw_budget_store_lost_total Queued cancels and settlements given up.\n"
        "# TYPE aigw_budget_store_lost_total counter\n"
        "aigw_budget_store_lost_total %llu\n",
        ss.counters, ss.evictions, ss.refusals, ss.pending, ss.recovered, ss.lost);
}

/* GET /metrics: with gateway.metrics_key_sha256 only for that key. */
static void serve_metrics(gw_req *r, aigw__http_request *req) {
    if (!aigw__gw_metrics_authorized(&r->snap->cfg, req)) {
        aigw__http_response_header(r->res, "WWW-Authenticate", "Bearer");
        send_error(r, 401, "invalid_request_error",
                   "/metrics needs the metrics key: send 'Authorization: Bearer KEY'.",
                   "invalid_api_key");
        return;
    }
    aigw__buf b = AIGW__BUF_INIT;
    if (aigw__gw_metrics_render(r->w->server->metrics, &b) != AIGW_OK ||
        render_budget_metrics(r->snap->client, &b) != AIGW_OK) {
        aigw__buf_free(&b);
        send_error(r, 500, "server_error", "Out of memory.", NULL);
        return;
    }
    r->status = 200;
    record(r);
    aigw__http_response_send(r->res, 200, "text/plain; version=0.0.4; charset=utf-8", b.data,
                             b.len);
    aigw__buf_free(&b);
    finish(r);
}

static gw_req *req_new(aigw__gw_worker *w, aigw__http_request *req, aigw__http_response *res,
                       route_id route) {
    gw_req *r = aigw__calloc(1, sizeof(*r));
    if (!r) {
        aigw__http_response_send_error(res, 500, NULL, "Out of memory.", NULL, NULL);
        return NULL;
    }
    r->snap = aigw__gw_worker_request_start(w);
    r->w = w;
    r->res = res;
    r->route = route;
    r->start_ns = uv_hrtime();
    snprintf(r->method, sizeof(r->method), "%s", req->method);
    snprintf(r->remote, sizeof(r->remote), "%s", req->remote_addr ? req->remote_addr : "-");
    return r;
}

void aigw__gw_handle_metrics(aigw__http_request *req, aigw__http_response *res, void *user) {
    if (strcmp(req->path, "/metrics") != 0) {
        aigw__http_response_send_error(res, 404, "invalid_request_error",
                                       "Unknown request URL. This listener serves /metrics.", NULL,
                                       "unknown_url");
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        aigw__http_response_header(res, "Allow", "GET");
        aigw__http_response_send_error(res, 405, "invalid_request_error",
                                       "Method not allowed for this URL.", NULL,
                                       "method_not_allowed");
        return;
    }
    gw_req *r = req_new(user, req, res, R_METRICS);
    if (r)
        serve_metrics(r, req);
}

void aigw__gw_handle(aigw__http_request *req, aigw__http_response *res, void *user) {
    aigw__gw_worker *w = user;
    aigw_server *s = w->server;
    static const struct {
        const char *path, *method;
        route_id id;
    } routes[] = {{"/v1/chat/completions", "POST", R_CHAT},
                  {"/v1/embeddings", "POST", R_EMBED},
                  {"/v1/models", "GET", R_MODELS},
                  {"/healthz", "GET", R_HEALTH},
                  {"/metrics", "GET", R_METRICS}};
    size_t i, n = sizeof(routes) / sizeof(routes[0]);
    for (i = 0; i < n; i++)
        if (strcmp(req->path, routes[i].path) == 0)
            break;
    /* With a listener of its own, /metrics is not on this one. */
    if (i < n && routes[i].id == R_METRICS && s->cfg.metrics_host)
        i = n;
    if (i == n) {
        aigw__http_response_send_error(res, 404, "invalid_request_error",
                                       "Unknown request URL. Please check the URL.", NULL,
                                       "unknown_url");
        return;
    }
    if (strcmp(req->method, routes[i].method) != 0) {
        aigw__http_response_header(res, "Allow", routes[i].method);
        aigw__http_response_send_error(res, 405, "invalid_request_error",
                                       "Method not allowed for this URL.", NULL,
                                       "method_not_allowed");
        return;
    }
    gw_req *r = aigw__calloc(1, sizeof(*r));
    if (!r) {
        aigw__http_response_send_error(res, 500, NULL, "Out of memory.", NULL, NULL);
        return;
    }
    r->snap = aigw__gw_worker_request_start(w);
    r->w = w;
    r->res = res;
    r->route = routes[i].id;
    r->start_ns = uv_hrtime();
    snprintf(r->method, sizeof(r->method), "%s", req->method);
    snprintf(r->remote, sizeof(r->remote), "%s", req->remote_addr ? req->remote_addr : "-");

    if (r->route == R_HEALTH) {
        if (w->shutting_down) {
            send_error(r, 503, "server_error", "The gateway is shutting down.", "shutting_down");
            return;
        }
        r->status = 200;
        static const char ok[] = "{\"status\":\"ok\"}";
        record(r);
        aigw__http_response_send(res, 200, "application/json", ok, sizeof(ok) - 1);
        finish(r);
        return;
    }
    if (r->route == R_METRICS) {
        serve_metrics(r, req);
        return;
    }
    if (w->shutting_down) {
        send_error(r, 503, "server_error", "The gateway is shutting down.", "shutting_down");
        return;
    }
    if (!aigw__gw_authenticate(&r->snap->cfg, req, &r->key)) {
        send_error(r, 401, "invalid_request_error",
                   aigw__http_request_header(req, "authorization") ||
                           aigw__http_request_header(req, "x-api-key")
                       ? "Incorrect API key provided."
                       : "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' "
                         "or 'x-api-key: KEY'.",
                   "invalid_api_key");
        return;
    }
    if (r->route == R_MODELS) {
        /* On this loop: the routes' names at once, or every backend's list
         * through the async engine; no thread waits on a backend. */
        aigw__models_list *l = NULL;
        aigw__models_async(r->snap->client, &w->loop, models_done, r, &l);
        /* l is NULL when `done` already ran (and freed r). */
        if (l) {
            r->models = l;
            aigw__http_response_on_disconnect(r->res, on_models_gone, r);
        }
        return;
    }
    model_call(r, req);
}
