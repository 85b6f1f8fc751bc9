/* The asynchronous API (aigw/async.h) on a libuv loop.
 *
 * Engines. A client keeps one engine per loop it is used on: a curl multi
 * handle driven through transport/uv_multi.c (its own connection cache, so
 * nothing is shared across loops/threads), and a uv_idle handle that runs
 * deferred work. Engines live in a process-wide registry keyed by (client,
 * loop) under a mutex, so two loops on two threads may share a client;
 * aigw_loop_release() takes the engine out of the registry and closes its
 * handles asynchronously.
 *
 * A request's path:
 *  1. On the caller's stack: parse, check and route the request, check the
 *     backend can serve, and for a remote backend let the adapter build the
 *     upstream request. Any failure here is returned; no callback fires.
 *  2. Credentials. API keys, fixed values and the application's callback
 *     (which must run on the calling thread) are applied inline, failures
 *     returned as in 1. A BEARER or AWS_SIGV4 credential backed by a
 *     refresher may block on a token exchange, so it always runs on libuv's
 *     thread pool (uv_queue_work); its failure arrives through `done`.
 *  3. Local (mock) backends answer from the engine's idle callback: the API
 *     call never runs `done` (nor chunks) itself.
 *  4. Remote backends: an easy handle, set up as the synchronous transport
 *     does (same options, same error mapping), is queued and added to the
 *     multi from the idle callback (never from inside a curl callback: a
 *     chunk callback may start new requests). Its write callback feeds the
 *     adapter's stream decoder, or buffers the body. When curl reports it
 *     done, the answer is translated exactly as aigw_chat/aigw_embed do, and
 *     `done` fires once.
 * Cancel marks the request: no chunk is delivered after it, the write
 * callback refuses further bytes, and the idle callback removes the
 * transfer and fires done(AIGW_ECANCELED). */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "adapters/adapter.h"
#include "aigw/async.h"
#include "core/alloc.h"
#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "credentials/credential.h"
#include "transport/transport.h"
#include "transport/uv_multi.h"

typedef struct engine engine;

typedef enum req_state {
    REQ_CREDENTIALS, /* on the thread pool */
    REQ_LOCAL,       /* waiting for the idle callback to answer it */
    REQ_READY,       /* easy handle built, waiting to be added */
    REQ_RUNNING,     /* in the multi */
} req_state;

struct aigw_request {
    engine *eng;
    aigw_client *client;
    req_state state;
    int canceled;
    int pending; /* linked in eng's pending list */
    aigw_request *prev, *next;
    struct timespec start;

    json_object *request;
    aigw__call call;
    aigw__upstream_request req;
    aigw_async_chunk_cb on_chunk;
    aigw_done_cb done;
    void *user;
    aigw_error *err;
    aigw__buf out;

    uv_work_t work; /* credentials on the thread pool */
    aigw_status cred_status;

    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    long http_status;
    aigw__buf body; /* buffered body (whole answers, error answers) */
    void *stream_state;
    aigw_status stream_status; /* the decoder's (or chunk callback's) stop */
    int status_known, to_sink, too_big, sink_stopped;
    size_t received;
};

struct engine {
    aigw_client *client;
    uv_loop_t *loop;
    engine *next_engine; /* registry */
    aigw__uv_multi *multi;
    uv_idle_t idle; /* idle.data == this engine */
    aigw_request *pending_head, *pending_tail;
    size_t live; /* requests started and not yet done */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static engine *registry;

/* ---- the pending list and the idle callback ---- */

static void on_idle(uv_idle_t *h);

static void pending_push(aigw_request *r) {
    engine *e = r->eng;
    if (r->pending)
        return;
    r->pending = 1;
    r->next = NULL;
    r->prev = e->pending_tail;
    if (e->pending_tail)
        e->pending_tail->next = r;
    else
        e->pending_head = r;
    e->pending_tail = r;
    uv_idle_start(&e->idle, on_idle);
}

static void pending_unlink(aigw_request *r) {
    engine *e = r->eng;
    if (!r->pending)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        e->pending_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        e->pending_tail = r->prev;
    r->prev = r->next = NULL;
    r->pending = 0;
}

/* ---- finishing ---- */

static void request_free(aigw_request *r) {
    if (r->easy)
        curl_easy_cleanup(r->easy);
    if (r->stream_state)
        r->call.backend->adapter->stream_free(r->stream_state);
    aigw__upstream_request_free(&r->req);
    aigw__buf_free(&r->body);
    aigw__buf_free(&r->out);
    json_object_put(r->request);
    aigw_error_free(r->err);
    aigw__free(r);
}

/* Fires `done` once and frees the request. Only from loop callbacks. */
static void complete(aigw_request *r, aigw_status st) {
    pending_unlink(r);
    if (r->canceled) {
        st = AIGW_ECANCELED;
        aigw_error_free(r->err);
        r->err = NULL;
        aigw__error_set(&r->err, st, "request canceled");
    } else if (st && !r->err) {
        aigw__error_set(&r->err, st, "%s", aigw_strerror(st));
    }
    aigw__call_log(r->client, &r->call, st, &r->start);
    r->eng->live--;
    const char *response = NULL;
    if (!st && r->call.op != AIGW__OP_CHAT_STREAM)
        response = r->out.data ? r->out.data : "";
    r->done(st, response, st ? r->err : NULL, r->user);
    request_free(r);
}

/* ---- the transfer ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
    aigw_request *r = userp;
    size_t len = size * nmemb;
    if (r->canceled)
        return CURL_WRITEFUNC_ERROR;
    if (!r->status_known) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
        r->status_known = 1;
        r->to_sink =
            r->call.op == AIGW__OP_CHAT_STREAM && r->http_status >= 200 && r->http_status <= 299;
    }
    r->received += len;
    if (r->to_sink) {
        r->stream_status =
            r->call.backend->adapter->stream_feed(r->stream_state, data, len, &r->err);
        if (r->stream_status) {
            r->sink_stopped = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        return len;
    }
    if (r->body.len + len > AIGW__MAX_RESPONSE_BYTES) {
        r->too_big = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return aigw__buf_append(&r->body, data, len) ? CURL_WRITEFUNC_ERROR : len;
}

/* uv_multi's report of a finished transfer. */
static void on_transfer_done(CURL *easy, CURLcode rc, void *user) {
    (void)user;
    aigw_request *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (!r->status_known)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->http_status);
    aigw_status st;
    if (r->canceled)
        st = AIGW_ECANCELED;
    else if (rc == CURLE_OK)
        st = aigw__call_translate(&r->call, r->http_status, r->body.data, r->body.len,
                                  r->stream_state, &r->out, &r->err);
    else if (r->sink_stopped)
        st = r->stream_status; /* the decoder's or the chunk callback's reason */
    else if (r->too_big)
        st = aigw__error_set_upstream(&r->err, AIGW_EBADRESPONSE, r->call.backend->name,
                                      (int)r->http_status, NULL, 0,
                                      "backend \"%s\": response larger than %u bytes",
                                      r->call.backend->name, AIGW__MAX_RESPONSE_BYTES);
    else if (rc == CURLE_WRITE_ERROR)
        st = aigw__error_set(&r->err, AIGW_ENOMEM, "out of memory");
    else
        st = aigw__transport_map_error(r->call.backend, rc, r->errbuf, r->http_status,
                                       r->status_known, r->received, &r->err);
    complete(r, st);
}

/* Passes translated chunks to the caller unless the request was canceled. */
static int deliver_chunk(const char *json, size_t len, void *user) {
    aigw_request *r = user;
    if (r->canceled)
        return 1;
    return r->on_chunk(json, len, r->user);
}

/* The easy handle, with the synchronous transport's options. */
static aigw_status make_easy(aigw_request *r) {
    const aigw__backend *b = r->call.backend;
    if (r->call.op == AIGW__OP_CHAT_STREAM) {
        aigw__chunk_sink sink = {deliver_chunk, r};
        aigw_status st = b->adapter->stream_open(&r->call, sink, &r->stream_state, &r->err);
        if (st)
            return st;
    }
    CURL *easy = r->easy = curl_easy_init();
    if (!easy)
        return aigw__error_set(&r->err, AIGW_ENOMEM, "out of memory");
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)r);
    aigw__transport_setup_easy(easy, b, &r->req, on_body, r, r->errbuf);
    return AIGW_OK;
}

/* ---- the deferred steps ---- */

static void run_local(aigw_request *r) {
    aigw__chunk_sink sink = {deliver_chunk, r};
    const aigw__adapter *a = r->call.backend->adapter;
    aigw_status st =
        a->local(&r->call, r->call.op == AIGW__OP_CHAT_STREAM ? &sink : NULL, &r->out, &r->err);
    complete(r, st);
}

static void on_idle(uv_idle_t *h) {
    engine *e = h->data;
    aigw_request *r;
    while ((r = e->pending_head)) {
        pending_unlink(r);
        if (r->canceled) {
            if (r->state == REQ_RUNNING)
                aigw__uv_multi_remove(e->multi, r->easy);
            complete(r, AIGW_ECANCELED);
        } else if (r->state == REQ_LOCAL) {
            run_local(r);
        } else if (r->state == REQ_READY) {
            CURLMcode rc = aigw__uv_multi_add(e->multi, r->easy);
            if (rc == CURLM_OK)
                r->state = REQ_RUNNING;
            else
                complete(r, aigw__error_set(
                                &r->err, rc == CURLM_OUT_OF_MEMORY ? AIGW_ENOMEM : AIGW_ETRANSPORT,
                                "cannot start the transfer: %s", curl_multi_strerror(rc)));
        }
    }
    uv_idle_stop(&e->idle);
}

/* After the credentials step: build the transfer and queue it. */
static void start_transfer(aigw_request *r) {
    aigw_status st = make_easy(r);
    if (st) {
        complete(r, st);
        return;
    }
    r->state = REQ_READY;
    pending_push(r);
}

static void credentials_work(uv_work_t *w) {
    aigw_request *r = w->data;
    r->cred_status =
        aigw__credential_apply(&r->call.backend->credential, r->call.backend, &r->req, &r->err);
}

static void credentials_done(uv_work_t *w, int status) {
    aigw_request *r = w->data;
    if (r->canceled || status == UV_ECANCELED)
        complete(r, AIGW_ECANCELED);
    else if (r->cred_status)
        complete(r, r->cred_status);
    else
        start_transfer(r);
}

/* Whether applying the credential may block (a token exchange). */
static int credential_may_block(const aigw__credential *c) {
    return (c->kind == AIGW__CRED_BEARER || c->kind == AIGW__CRED_AWS_SIGV4) && c->refresher;
}

/* ---- engines ---- */

static void on_engine_idle_closed(uv_handle_t *h) {
    aigw__free(h->data);
}

static aigw_status engine_get(aigw_client *client, uv_loop_t *loop, engine **out,
                              aigw_error **err) {
    pthread_mutex_lock(&registry_lock);
    engine *e = registry;
    while (e && !(e->client == client && e->loop == loop))
        e = e->next_engine;
    if (!e && (e = aigw__calloc(1, sizeof *e))) {
        if (aigw__uv_multi_new(loop, on_transfer_done, e, &e->multi)) {
            aigw__free(e);
            e = NULL;
        } else {
            e->client = client;
            e->loop = loop;
            uv_idle_init(loop, &e->idle);
            e->idle.data = e;
            e->next_engine = registry;
            registry = e;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    *out = e;
    return e ? AIGW_OK : aigw__error_set(err, AIGW_ENOMEM, "out of memory");
}

void aigw_loop_release(aigw_client *client, uv_loop_t *loop) {
    if (!client || !loop)
        return;
    pthread_mutex_lock(&registry_lock);
    engine **pp = &registry;
    while (*pp && !((*pp)->client == client && (*pp)->loop == loop))
        pp = &(*pp)->next_engine;
    engine *e = *pp;
    if (e)
        *pp = e->next_engine;
    pthread_mutex_unlock(&registry_lock);
    if (!e)
        return;
    aigw__uv_multi_close(e->multi);
    uv_close((uv_handle_t *)&e->idle, on_engine_idle_closed);
}

/* A client freed without aigw_loop_release on some loop: forget its
 * engines, so a later client at the same address never finds them (their
 * handles stay open on their loops: that loop's owner broke the rule). */
void aigw__async_forget_client(aigw_client *client) {
    pthread_mutex_lock(&registry_lock);
    for (engine **pp = &registry; *pp;) {
        if ((*pp)->client == client)
            *pp = (*pp)->next_engine;
        else
            pp = &(*pp)->next_engine;
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- the public calls ---- */

static aigw_status start(aigw_client *client, uv_loop_t *loop, aigw__op op,
                         const char *request_json, aigw_async_chunk_cb on_chunk, aigw_done_cb done,
                         void *user, aigw_request **request, aigw_error **err) {
    if (request)
        *request = NULL;
    if (!client || !loop || !request_json || !done || (op == AIGW__OP_CHAT_STREAM && !on_chunk))
        return aigw__error_set(err, AIGW_EINVAL, "%s: NULL argument", aigw__op_name(op));
    aigw_request *r = aigw__calloc(1, sizeof *r);
    if (!r)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->client = client;
    r->on_chunk = on_chunk;
    r->done = done;
    r->user = user;
    r->out = (aigw__buf)AIGW__BUF_INIT;
    r->body = (aigw__buf)AIGW__BUF_INIT;
    r->work.data = r;

    aigw_status st = aigw__call_prepare(client, op, request_json, &r->request, &r->call, err);
    if (!st)
        st = aigw__call_check_available(&r->call, err);
    const aigw__backend *b = st ? NULL : r->call.backend;
    int queue_credentials = 0;
    if (!st && !b->adapter->local) {
        st = aigw__call_build(&r->call, &r->req, err);
        if (!st && !(queue_credentials = credential_may_block(&b->credential)))
            st = aigw__credential_apply(&b->credential, b, &r->req, err);
    }
    if (!st)
        st = engine_get(client, loop, &r->eng, err);
    if (!st && !b->adapter->local && !queue_credentials)
        st = make_easy(r);
    if (st) {
        if (err && !*err) { /* make_easy's failure is in r->err */
            *err = r->err;
            r->err = NULL;
        }
        request_free(r);
        return st;
    }
    r->eng->live++;
    if (b->adapter->local) {
        r->state = REQ_LOCAL;
        pending_push(r);
    } else if (queue_credentials) {
        r->state = REQ_CREDENTIALS;
        int rc = uv_queue_work(loop, &r->work, credentials_work, credentials_done);
        if (rc) {
            r->eng->live--;
            request_free(r);
            return aigw__error_set(err, AIGW_EINTERNAL, "uv_queue_work: %s", uv_strerror(rc));
        }
    } else {
        r->state = REQ_READY;
        pending_push(r);
    }
    if (request)
        *request = r;
    return AIGW_OK;
}

aigw_status aigw_chat_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                            aigw_done_cb done, void *user, aigw_request **request,
                            aigw_error **err) {
    return start(client, loop, AIGW__OP_CHAT, request_json, NULL, done, user, request, err);
}

aigw_status aigw_chat_stream_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                                   aigw_async_chunk_cb on_chunk, aigw_done_cb done, void *user,
                                   aigw_request **request, aigw_error **err) {
    return start(client, loop, AIGW__OP_CHAT_STREAM, request_json, on_chunk, done, user, request,
                 err);
}

aigw_status aigw_embed_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                             aigw_done_cb done, void *user, aigw_request **request,
                             aigw_error **err) {
    return start(client, loop, AIGW__OP_EMBED, request_json, NULL, done, user, request, err);
}

void aigw_request_cancel(aigw_request *r) {
    if (!r || r->canceled)
        return;
    r->canceled = 1;
    if (r->state == REQ_CREDENTIALS)
        uv_cancel((uv_req_t *)&r->work); /* credentials_done reports it either way */
    else
        pending_push(r);
}
