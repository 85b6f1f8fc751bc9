/* The gateway's routes: OpenAI's /v1/chat/completions (JSON and SSE),
 * /v1/embeddings and /v1/models, plus /healthz and /metrics. Every model
 * call goes through the async API on the worker's loop; the client's own
 * Authorization is never forwarded (the library builds each upstream
 * request from the backend's credentials). */
#include <string.h>
#include <strings.h>

#include "aigw/async.h"
#include "aigw/chat.h"
#include "core/alloc.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "server/gateway.h"

typedef enum route_id { R_CHAT, R_EMBED, R_MODELS, R_HEALTH, R_METRICS } route_id;

static const char *const route_names[] = {"/v1/chat/completions", "/v1/embeddings", "/v1/models",
                                          "/healthz", "/metrics"};

typedef struct gw_req {
    aigw__gw_worker *w;
    aigw__http_response *res;
    aigw_request *areq; /* the upstream request while it runs */
    route_id route;
    const aigw__gw_key *key;
    char method[8];
    char remote[48];
    char backend[64];
    uint64_t start_ns;
    int stream, started, include_usage, gone;
    int status; /* sent */
    long long tokens_in, tokens_out;
    uv_work_t work; /* /v1/models */
    char *models_json;
    aigw_error *models_err;
    aigw_status models_status;
} gw_req;

/* Metrics and the access log: before the answer's last bytes go out, so a
 * client that has its answer also sees it counted. */
static void record(gw_req *r) {
    aigw_server *s = r->w->server;
    double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
    aigw__gw_metrics_request(s->metrics, route_names[r->route], r->status, r->backend, secs);
    aigw__gw_metrics_tokens(s->metrics, r->backend, r->tokens_in, r->tokens_out);
    aigw__log(&s->client->logger, AIGW_LOG_INFO,
              "access %s %s %d %.1fms backend=%s key=%s team=%s remote=%s%s", r->method,
              route_names[r->route], r->status, secs * 1e3, r->backend[0] ? r->backend : "-",
              r->key ? r->key->name : "-", r->key && r->key->team ? r->key->team : "-", r->remote,
              r->gone ? " client-gone" : "");
}

static void finish(gw_req *r) {
    aigw__gw_worker *w = r->w;
    aigw__free(r->models_json);
    aigw_error_free(r->models_err);
    aigw__free(r);
    aigw__gw_worker_request_done(w);
}

/* The HTTP status a client expects for a failure. */
static int http_status_for(aigw_status st, const aigw_error *err) {
    int up = aigw_error_http_status(err);
    switch (st) {
    case AIGW_EBADREQUEST:
        return up == 413 || up == 422 ? up : 400;
    case AIGW_EINVAL:
    case AIGW_ENOTSUPPORTED:
        return 400;
    case AIGW_ENOBACKEND:
    case AIGW_ENOTFOUND:
        return 404;
    case AIGW_ERATELIMIT:
        return 429;
    case AIGW_ETIMEOUT:
        return 504;
    case AIGW_EUPSTREAM:
        return up >= 500 && up <= 599 ? up : 502;
    case AIGW_ENOMEM:
    case AIGW_EINTERNAL:
        return 500;
    case AIGW_ECANCELED:
        return 499;
    default: /* the gateway's own credentials refused, bad answers, network */
        return 502;
    }
}

static void send_error(gw_req *r, int status, const char *type, const char *msg, const char *code) {
    r->status = status;
    record(r);
    aigw__http_response_send_error(r->res, status, type, msg, NULL, code);
    finish(r);
}

static void send_aigw_error(gw_req *r, aigw_status st, const aigw_error *err) {
    r->status = http_status_for(st, err);
    const char *json = aigw_error_json(err);
    record(r);
    aigw__http_response_send(r->res, r->status, "application/json", json, strlen(json));
    finish(r);
}

static void add_usage(gw_req *r, json_object *resp) {
    json_object *u = NULL, *v = NULL;
    if (!json_object_object_get_ex(resp, "usage", &u) || !json_object_is_type(u, json_type_object))
        return;
    if (json_object_object_get_ex(u, "prompt_tokens", &v))
        r->tokens_in += json_object_get_int64(v);
    if (json_object_object_get_ex(u, "completion_tokens", &v))
        r->tokens_out += json_object_get_int64(v);
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
        if (st == AIGW_OK)
            aigw__buf_puts(&b, "data: [DONE]\n\n");
        else
            aigw__buf_cat(&b, "data: ", aigw_error_json(err), "\n\n", (char *)NULL);
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
    if (r->stream) { /* a stream with no chunk at all */
        r->status = 200;
        aigw__http_response_header(r->res, "Cache-Control", "no-cache");
        static const char done[] = "data: [DONE]\n\n";
        record(r);
        aigw__http_response_send(r->res, 200, "text/event-stream", done, sizeof(done) - 1);
        finish(r);
        return;
    }
    json_object *resp = response_json ? json_tokener_parse(response_json) : NULL;
    if (resp) {
        add_usage(r, resp);
        json_object_put(resp);
    }
    r->status = 200;
    record(r);
    aigw__http_response_send(r->res, 200, "application/json", response_json,
                             response_json ? strlen(response_json) : 0);
    finish(r);
}

static int contains(const char *s, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, n) == 0)
            return 1;
    return 0;
}

static int on_chunk(const char *chunk, size_t len, void *user) {
    gw_req *r = user;
    if (r->gone || !aigw__http_response_connected(r->res))
        return 1;
    if (contains(chunk, len, "\"usage\"")) {
        json_object *c = json_tokener_parse(chunk);
        json_object *choices = NULL;
        int usage_only = 0;
        if (c) {
            add_usage(r, c);
            usage_only = json_object_object_get_ex(c, "choices", &choices) &&
                         json_object_array_length(choices) == 0;
            json_object_put(c);
        }
        if (usage_only && !r->include_usage)
            return 0; /* the library asked for it; the client did not */
    }
    if (!r->started) {
        r->started = 1;
        r->status = 200;
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

/* The backend label: the model's "provider/" prefix when it names a backend,
 * else the default backend. Never a free-form string from the client. */
static void pick_backend(gw_req *r, json_object *body) {
    aigw_client *c = r->w->server->client;
    json_object *m = NULL;
    const char *name = NULL;
    size_t len = 0;
    if (json_object_object_get_ex(body, "model", &m) && json_object_is_type(m, json_type_string)) {
        const char *model = json_object_get_string(m);
        const char *slash = strchr(model, '/');
        if (slash && aigw__client_find_backend(c, model, (size_t)(slash - model))) {
            name = model;
            len = (size_t)(slash - model);
        }
    }
    if (!name && c->default_backend) {
        name = c->default_backend;
        len = strlen(name);
    }
    if (!name)
        return;
    if (len >= sizeof(r->backend))
        len = sizeof(r->backend) - 1;
    memcpy(r->backend, name, len);
    r->backend[len] = 0;
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

static void model_call(gw_req *r, aigw__http_request *req) {
    aigw_server *s = r->w->server;
    if (!json_content_type(req)) {
        send_error(r, 415, "invalid_request_error", "Content-Type must be application/json.",
                   "unsupported_media_type");
        return;
    }
    json_tokener *tok = json_tokener_new();
    json_object *body = tok ? json_tokener_parse_ex(tok, req->body, (int)req->body_len) : NULL;
    int complete = tok && body && json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == req->body_len;
    if (tok)
        json_tokener_free(tok);
    if (!complete || !json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        send_error(r, 400, "invalid_request_error",
                   "We could not parse the JSON body of your request. The body must be a JSON "
                   "object.",
                   "invalid_json");
        return;
    }
    pick_backend(r, body);
    json_object *v = NULL;
    if (r->route == R_CHAT && json_object_object_get_ex(body, "stream", &v) &&
        json_object_get_boolean(v))
        r->stream = 1;
    if (json_object_object_get_ex(body, "stream_options", &v) &&
        json_object_is_type(v, json_type_object)) {
        json_object *iu = NULL;
        r->include_usage =
            json_object_object_get_ex(v, "include_usage", &iu) && json_object_get_boolean(iu);
    }
    json_object_put(body);

    aigw_error *err = NULL;
    aigw_status st;
    if (r->route == R_EMBED)
        st = aigw_embed_async(s->client, &r->w->loop, req->body, on_done, r, &r->areq, &err);
    else if (r->stream)
        st = aigw_chat_stream_async(s->client, &r->w->loop, req->body, on_chunk, on_done, r,
                                    &r->areq, &err);
    else
        st = aigw_chat_async(s->client, &r->w->loop, req->body, on_done, r, &r->areq, &err);
    if (st != AIGW_OK) {
        r->areq = NULL;
        send_aigw_error(r, st, err);
        aigw_error_free(err);
        return;
    }
    aigw__http_response_on_disconnect(r->res, on_gone, r);
}

static void models_work(uv_work_t *wk) {
    gw_req *r = wk->data;
    r->models_status = aigw_models(r->w->server->client, NULL, &r->models_json, &r->models_err);
}

static void models_after(uv_work_t *wk, int status) {
    gw_req *r = wk->data;
    (void)status;
    if (r->models_status != AIGW_OK) {
        send_aigw_error(r, r->models_status, r->models_err);
        return;
    }
    r->status = 200;
    record(r);
    aigw__http_response_send(r->res, 200, "application/json", r->models_json,
                             strlen(r->models_json));
    finish(r);
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
    w->inflight++;
    r->w = w;
    r->res = res;
    r->route = routes[i].id;
    r->start_ns = uv_hrtime();
    r->work.data = r;
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
        aigw__buf b = AIGW__BUF_INIT;
        if (aigw__gw_metrics_render(s->metrics, &b) != AIGW_OK) {
            aigw__buf_free(&b);
            send_error(r, 500, "server_error", "Out of memory.", NULL);
            return;
        }
        r->status = 200;
        record(r);
        aigw__http_response_send(res, 200, "text/plain; version=0.0.4; charset=utf-8", b.data,
                                 b.len);
        aigw__buf_free(&b);
        finish(r);
        return;
    }
    if (w->shutting_down) {
        send_error(r, 503, "server_error", "The gateway is shutting down.", "shutting_down");
        return;
    }
    if (!aigw__gw_authenticate(&s->cfg, req, &r->key)) {
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
        if (uv_queue_work(&w->loop, &r->work, models_work, models_after) != 0)
            send_error(r, 500, "server_error", "Could not queue the request.", NULL);
        return;
    }
    model_call(r, req);
}
