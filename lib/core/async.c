/* SPDX-License-Identifier: Apache-2.0 */
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
 *     refresher may block on a token exchange, so it always runs on the
 *     library's own pool (core/work_pool.h, not libuv's shared one); its
 *     failure arrives through `done`.
 *     Budgets in a remote store (Redis) are reserved and settled there
 *     too: the call's reservation before the first attempt, each attempt's
 *     backend-scoped one when its backend is picked and when it ends, the
 *     settlement before `done`.
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
#include "core/async_internal.h"
#include "core/call_policy.h"
#include "core/call_steps.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/work_pool.h"
#include "credentials/credential.h"
#include "transport/transport.h"
#include "transport/uv_multi.h"

typedef struct engine engine;

/* Easy handles an engine keeps for reuse: curl_easy_init is a ~6 KB
 * allocation and every option string copied again. */
#define ENGINE_SPARE_EASY 64

typedef enum req_state {
    REQ_CREDENTIALS, /* on the thread pool */
    REQ_RESERVING,   /* budgets in a remote store: the reservation on the pool */
    REQ_SETTLING,    /* the same at the end: the settlement on the pool */
    REQ_PICKING,     /* the same for an attempt's backend-scoped budgets, */
    REQ_ENDING,      /* and for their settlement when the attempt ends */
    REQ_LOCAL,       /* waiting for the idle callback to answer it */
    REQ_READY,       /* easy handle built, waiting to be added */
    REQ_RUNNING,     /* in the multi */
    REQ_WAITING,     /* between attempts: the backoff timer runs */
} req_state;

struct aigw_request {
    engine *eng;
    aigw_client *client;
    req_state state;
    int canceled;
    int models;  /* a model listing of one backend: no routing, no budgets, no retry */
    int pending; /* linked in eng's pending list */
    aigw_request *prev, *next;
    struct timespec start;

    json_object *request;
    aigw__call call;
    aigw__call_policy policy;
    aigw__attempt_io io;
    uv_timer_t timer; /* the wait between attempts */
    int timer_inited;
    aigw__upstream_request req;
    aigw_async_chunk_cb on_chunk;
    aigw_done_cb done;
    aigw__models_done_cb models_done; /* instead of done, for `models` */
    void *user;
    aigw_error *err;
    aigw__buf out;

    aigw__work work; /* credentials, or a remote budget store, on the library's pool */
    aigw_status cred_status;
    aigw_status final_status; /* while settling */

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
    uv_idle_t idle;        /* idle.data == this engine */
    aigw__work_port *port; /* steps that may block come back through it */
    aigw_request *pending_head, *pending_tail;
    size_t live;                    /* requests started and not yet done */
    CURL *spare[ENGINE_SPARE_EASY]; /* finished easy handles, reset, for reuse */
    size_t n_spare;
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

/* Drops what one attempt built, so that the next starts clean. */
static void attempt_clear(aigw_request *r) {
    if (r->easy) {
        if (r->eng && r->eng->n_spare < ENGINE_SPARE_EASY) {
            curl_easy_reset(r->easy);
            r->eng->spare[r->eng->n_spare++] = r->easy;
        } else {
            curl_easy_cleanup(r->easy);
        }
    }
    r->easy = NULL;
    if (r->stream_state)
        r->call.backend->adapter->stream_free(r->stream_state);
    r->stream_state = NULL;
    aigw__upstream_request_free(&r->req);
    memset(&r->req, 0, sizeof r->req);
    aigw__buf_clear(&r->body);
    r->http_status = 0;
    r->stream_status = AIGW_OK;
    r->status_known = r->to_sink = r->too_big = r->sink_stopped = 0;
    r->received = 0;
    r->errbuf[0] = 0;
}

/* Each thread keeps the last freed request for its next one: a request is
 * ~5.6 KB (the budget tickets are inline), and at that size glibc's malloc
 * first consolidates every small chunk json-c just freed — ~10 k
 * instructions a request that a reused block does not pay. */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_ok;

static void spare_key_init(void) {
    spare_ok = pthread_key_create(&spare_key, aigw__free) == 0;
}

static aigw_request *request_alloc(void) {
    pthread_once(&spare_once, spare_key_init);
    aigw_request *r = spare_ok ? pthread_getspecific(spare_key) : NULL;
    if (r && pthread_setspecific(spare_key, NULL) == 0) {
        memset(r, 0, sizeof *r);
        return r;
    }
    return aigw__calloc(1, sizeof(aigw_request));
}

static void request_dealloc(aigw_request *r) {
    if (spare_ok && !pthread_getspecific(spare_key) && pthread_setspecific(spare_key, r) == 0)
        return;
    aigw__free(r);
}

static void request_free(aigw_request *r) {
    attempt_clear(r);
    aigw__buf_free(&r->body);
    aigw__buf_free(&r->out);
    json_object_put(r->request);
    aigw_error_free(r->err);
    request_dealloc(r);
}

static void on_timer_closed(uv_handle_t *h) {
    request_free(h->data);
}

/* Frees now, or once the timer's handle is closed. */
static void request_release(aigw_request *r) {
    if (r->timer_inited)
        uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    else
        request_free(r);
}

static void finish_request(aigw_request *r, aigw_status st);

/* Hands a step that may block to the library's pool (core/work_pool.h),
 * in `state`: credential refreshes on their lane, budget store round trips
 * on theirs, never on libuv's default pool. Its after-work callback
 * continues the request. Returns 0 when queued; otherwise nothing changed. */
static int to_pool(aigw_request *r, req_state state, aigw__work_fn work,
                   aigw__after_work_fn after) {
    aigw__work_lane lane = state == REQ_CREDENTIALS ? AIGW__LANE_CREDENTIALS : AIGW__LANE_STORE;
    int rc = aigw__work_queue(r->eng->port, lane, &r->work, work, after);
    if (!rc)
        r->state = state;
    return rc;
}

/* The error of a step that could not be queued (rc non-zero), or AIGW_OK. */
static aigw_status queued(aigw_request *r, int rc) {
    return rc ? aigw__error_set(&r->err, AIGW_EINTERNAL, "no worker thread: %s", uv_strerror(rc))
              : AIGW_OK;
}

static void settle_work(aigw__work *w) {
    aigw_request *r = w->data;
    aigw__policy_settle(&r->policy, &r->call, r->final_status);
}

static void settle_done(aigw__work *w, int status) {
    (void)status; /* a settle is never canceled: it started with the request's end */
    aigw_request *r = w->data;
    finish_request(r, r->final_status);
}

/* Fires `done` once and frees the request. Only from loop callbacks. With
 * budgets in a remote store the settlement runs on the thread pool first
 * (the loop never waits on Redis). */
static void complete(aigw_request *r, aigw_status st) {
    pending_unlink(r);
    if (r->timer_inited)
        uv_timer_stop(&r->timer);
    if (!r->models && r->state != REQ_SETTLING && aigw__policy_settle_pending(&r->policy) &&
        aigw__policy_store_is_remote(&r->policy)) {
        r->final_status = st;
        if (to_pool(r, REQ_SETTLING, settle_work, settle_done) == 0)
            return;
        /* not queued: settled inline below, by aigw__policy_end */
    }
    finish_request(r, st);
}

static void finish_request(aigw_request *r, aigw_status st) {
    if (r->canceled) {
        st = AIGW_ECANCELED;
        aigw_error_free(r->err);
        r->err = NULL;
        aigw__error_set(&r->err, st, "request canceled");
    } else if (st && !r->err) {
        aigw__error_set(&r->err, st, "%s", aigw_strerror(st));
    }
    if (r->models)
        aigw__call_log(r->client, &r->call, st, &r->start);
    else
        st = aigw__policy_end(&r->policy, &r->call, st, &r->err);
    /* Nothing of the client is touched after `done`: the callback may drop
     * the last use of it (the gateway frees a reloaded-away config there). */
    attempt_clear(r);
    r->eng->live--;
    const char *response = NULL;
    if (!st && r->call.op != AIGW__OP_CHAT_STREAM)
        response = r->out.data ? r->out.data : "";
    if (r->models)
        r->models_done(st, &r->out, &r->err, r->user);
    else
        r->done(st, response, st ? r->err : NULL, r->user);
    request_release(r);
}

static aigw_status begin_attempt(aigw_request *r);
static void attempt_failed(aigw_request *r, aigw_status st);

static void on_retry_timer(uv_timer_t *t) {
    aigw_request *r = t->data;
    aigw_status st = begin_attempt(r);
    if (st)
        attempt_failed(r, st);
}

static void attempt_settle_work(aigw__work *w) {
    aigw_request *r = w->data;
    aigw__policy_attempt_settle(&r->policy, &r->call, r->final_status);
}

static void attempt_settle_done(aigw__work *w, int status) {
    (void)status; /* never canceled: the attempt had ended */
    aigw_request *r = w->data;
    r->state = REQ_RUNNING;
    attempt_failed(r, r->final_status); /* its settlement is done: nothing blocks now */
}

/* An attempt failed (or succeeded: st AIGW_OK): retry after the policy's
 * wait, or finish. Only from loop callbacks. The attempt's backend-scoped
 * budgets in a remote store are settled on the thread pool first. */
static void attempt_failed(aigw_request *r, aigw_status st) {
    if (r->models) { /* one attempt, nothing to settle */
        complete(r, st);
        return;
    }
    if (aigw__policy_attempt_settle_may_block(&r->policy)) {
        r->final_status = st;
        if (to_pool(r, REQ_ENDING, attempt_settle_work, attempt_settle_done) == 0)
            return;
        /* not queued: settled inline, by aigw__policy_attempt_end */
    }
    long wait = aigw__policy_attempt_end(&r->policy, &r->call, st, aigw_error_http_status(r->err),
                                         r->io.retry_after_ms, &r->err);
    if (wait < 0 || r->canceled) {
        complete(r, st);
        return;
    }
    attempt_clear(r);
    aigw__buf_clear(&r->out);
    if (!r->timer_inited) {
        uv_timer_init(r->eng->loop, &r->timer);
        r->timer.data = r;
        r->timer_inited = 1;
    }
    r->state = REQ_WAITING;
    /* also with no wait: a timer leaves curl's callbacks before starting over */
    uv_timer_start(&r->timer, on_retry_timer, (uint64_t)wait, 0);
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
    else if (r->io.first_byte_timeout)
        st = aigw__transport_first_byte_error(r->call.backend, &r->io, &r->err);
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
    if (r->canceled)
        complete(r, st);
    else
        attempt_failed(r, st);
}

/* Passes translated chunks to the caller unless the request was canceled. */
static int deliver_chunk(const char *json, size_t len, void *user) {
    aigw_request *r = user;
    if (r->canceled)
        return 1;
    r->policy.delivered = 1; /* no fallback after this */
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
    engine *e = r->eng;
    CURL *easy = r->easy = e && e->n_spare ? e->spare[--e->n_spare] : curl_easy_init();
    if (!easy)
        return aigw__error_set(&r->err, AIGW_ENOMEM, "out of memory");
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)r);
    aigw__transport_setup_easy(easy, b, &r->req, on_body, r, r->errbuf, &r->io);
    return AIGW_OK;
}

/* ---- the deferred steps ---- */

static void run_local(aigw_request *r) {
    aigw__chunk_sink sink = {deliver_chunk, r};
    const aigw__adapter *a = r->call.backend->adapter;
    aigw_status st =
        a->local(&r->call, r->call.op == AIGW__OP_CHAT_STREAM ? &sink : NULL, &r->out, &r->err);
    attempt_failed(r, st);
}

/* The attempt's first-byte deadline passed with no response head: the
 * transfer is stopped and the attempt fails with a timeout (curl's own
 * progress check would be up to a second late). */
static void on_first_byte_timer(uv_timer_t *t) {
    aigw_request *r = t->data;
    if (r->state != REQ_RUNNING || r->io.got_head || r->canceled)
        return;
    r->io.first_byte_timeout = 1;
    aigw__uv_multi_remove(r->eng->multi, r->easy);
    attempt_failed(r, aigw__transport_first_byte_error(r->call.backend, &r->io, &r->err));
}

static void start_first_byte_timer(aigw_request *r) {
    if (r->io.first_byte_ms <= 0)
        return;
    if (!r->timer_inited) {
        uv_timer_init(r->eng->loop, &r->timer);
        r->timer.data = r;
        r->timer_inited = 1;
    }
    uv_timer_start(&r->timer, on_first_byte_timer, (uint64_t)r->io.first_byte_ms, 0);
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
            if (rc == CURLM_OK) {
                r->state = REQ_RUNNING;
                start_first_byte_timer(r);
            } else
                attempt_failed(
                    r, aigw__error_set(&r->err,
                                       rc == CURLM_OUT_OF_MEMORY ? AIGW_ENOMEM : AIGW_ETRANSPORT,
                                       "cannot start the transfer: %s", curl_multi_strerror(rc)));
        }
    }
    uv_idle_stop(&e->idle);
}

/* After the credentials step: build the transfer and queue it. */
static void start_transfer(aigw_request *r) {
    aigw_status st = make_easy(r);
    if (st) {
        attempt_failed(r, st);
        return;
    }
    r->state = REQ_READY;
    pending_push(r);
}

static void credentials_work(aigw__work *w) {
    aigw_request *r = w->data;
    r->cred_status =
        aigw__credential_apply(&r->call.backend->credential, r->call.backend, &r->req, &r->err);
}

static void credentials_done(aigw__work *w, int status) {
    aigw_request *r = w->data;
    if (r->canceled || status == UV_ECANCELED)
        complete(r, AIGW_ECANCELED);
    else if (r->cred_status)
        attempt_failed(r, r->cred_status);
    else
        start_transfer(r);
}

static void reserve_work(aigw__work *w) {
    aigw_request *r = w->data;
    r->cred_status = aigw__policy_reserve(&r->policy, &r->err);
}

static void reserve_done(aigw__work *w, int status) {
    aigw_request *r = w->data;
    if (r->canceled || status == UV_ECANCELED) {
        complete(r, AIGW_ECANCELED);
    } else if (r->cred_status) {
        complete(r, r->cred_status);
    } else {
        aigw_status st = begin_attempt(r);
        if (st)
            attempt_failed(r, st);
    }
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
        } else if (aigw__work_port_new(loop, &e->port)) {
            aigw__uv_multi_close(e->multi);
            aigw__free(e); /* the multi's memory goes with its handles' close callbacks */
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
    aigw__work_port_close(e->port);
    while (e->n_spare)
        curl_easy_cleanup(e->spare[--e->n_spare]);
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

/* ---- attempts ---- */

static aigw_status prepare_attempt(aigw_request *r);

static void pick_work(aigw__work *w) {
    aigw_request *r = w->data;
    r->cred_status = aigw__policy_next(&r->policy, &r->call, &r->err);
}

static void pick_done(aigw__work *w, int status) {
    aigw_request *r = w->data;
    if (r->canceled || status == UV_ECANCELED) {
        complete(r, AIGW_ECANCELED); /* a reservation made is refunded by the settle */
        return;
    }
    aigw_status st = r->cred_status;
    if (!st)
        st = prepare_attempt(r);
    if (st)
        attempt_failed(r, st);
}

/* Starts the policy's next attempt: picks the backend (on the thread pool
 * when that reserves backend-scoped budgets in a remote store), builds the
 * request and either queues it, or sends its credentials to the thread
 * pool. A failure is returned (nothing queued). */
static aigw_status begin_attempt(aigw_request *r) {
    if (aigw__policy_next_may_block(&r->policy))
        return queued(r, to_pool(r, REQ_PICKING, pick_work, pick_done));
    aigw_status st = aigw__policy_next(&r->policy, &r->call, &r->err);
    if (st)
        return st;
    return prepare_attempt(r);
}

/* The picked attempt: its request built, then queued or sent for its
 * credentials. */
static aigw_status prepare_attempt(aigw_request *r) {
    aigw_status st;
    const aigw__backend *b = r->call.backend;
    if ((st = aigw__call_check_available(&r->call, &r->err)))
        return st;
    if (b->adapter->local) {
        r->state = REQ_LOCAL;
        pending_push(r);
        return AIGW_OK;
    }
    aigw__call_policy *p = &r->policy;
    r->io = (aigw__attempt_io)AIGW__ATTEMPT_IO_INIT;
    r->io.connect_ms = p->retry.connect_ms;
    r->io.first_byte_ms = p->retry.first_byte_ms;
    if (p->retry.total_ms) {
        long left = p->retry.total_ms - (long)aigw__elapsed_ms(&p->start);
        r->io.total_ms = left > 0 ? left : 1;
    }
    if (r->models)
        r->io.total_ms = AIGW__MODELS_TIMEOUT_MS; /* or the backend's, if shorter */
    if ((st = aigw__call_build(&r->call, &r->req, &r->err)))
        return st;
    if (credential_may_block(&b->credential))
        return queued(r, to_pool(r, REQ_CREDENTIALS, credentials_work, credentials_done));
    if ((st = aigw__credential_apply(&b->credential, b, &r->req, &r->err)) || (st = make_easy(r)))
        return st;
    r->state = REQ_READY;
    pending_push(r);
    return AIGW_OK;
}

/* ---- the public calls ---- */

/* Starts a request given as text (request_json) or parsed (parsed, which
 * it takes). */
static aigw_status start(aigw_client *client, uv_loop_t *loop, aigw__op op,
                         const char *request_json, json_object *parsed,
                         const aigw_call_options *opts, const aigw__call_access *access,
                         aigw_async_chunk_cb on_chunk, aigw_done_cb done, void *user,
                         aigw_request **request, aigw_error **err) {
    if (request)
        *request = NULL;
    if (!client || !loop || !(request_json || parsed) || !done ||
        (op == AIGW__OP_CHAT_STREAM && !on_chunk)) {
        json_object_put(parsed);
        return aigw__error_set(err, AIGW_EINVAL, "%s: NULL argument", aigw__op_name(op));
    }
    if (opts && opts->version != AIGW_CALL_OPTIONS_VERSION) {
        json_object_put(parsed);
        return aigw__error_set(err, AIGW_EINVAL, "%s: unknown call options version %u",
                               aigw__op_name(op), opts->version);
    }
    aigw_request *r = request_alloc();
    if (!r) {
        json_object_put(parsed);
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->client = client;
    r->on_chunk = on_chunk;
    r->done = done;
    r->user = user;
    r->out = (aigw__buf)AIGW__BUF_INIT;
    r->body = (aigw__buf)AIGW__BUF_INIT;
    r->work.data = r;

    aigw_status st;
    if (parsed) {
        r->request = parsed;
        st = aigw__call_prepare_object(client, op, &r->request, &r->call, &r->err);
    } else {
        st = aigw__call_prepare(client, op, request_json, &r->request, &r->call, &r->err);
    }
    if (st)
        goto fail;
    if ((st = aigw__policy_begin(&r->policy, client, &r->call, opts, access, &r->err)) ||
        (st = engine_get(client, loop, &r->eng, &r->err))) {
        aigw__policy_end(&r->policy, &r->call, st, &r->err);
        goto fail;
    }
    r->eng->live++;
    if (aigw__policy_store_is_remote(&r->policy)) {
        if ((st = queued(r, to_pool(r, REQ_RESERVING, reserve_work, reserve_done)))) {
            r->eng->live--;
            aigw__policy_end(&r->policy, &r->call, st, &r->err);
            goto fail;
        }
    } else if ((st = aigw__policy_reserve(&r->policy, &r->err))) {
        r->eng->live--;
        aigw__policy_end(&r->policy, &r->call, st, &r->err);
        goto fail;
    } else if ((st = begin_attempt(r))) {
        /* The first attempt failed before anything was queued: retry later
         * if the policy says so, else return the failure (no callback). */
        long wait = aigw__policy_attempt_end(&r->policy, &r->call, st,
                                             aigw_error_http_status(r->err), -1, &r->err);
        if (wait < 0) {
            r->eng->live--;
            aigw__policy_end(&r->policy, &r->call, st, &r->err);
            goto fail;
        }
        attempt_clear(r);
        uv_timer_init(loop, &r->timer);
        r->timer.data = r;
        r->timer_inited = 1;
        r->state = REQ_WAITING;
        uv_timer_start(&r->timer, on_retry_timer, (uint64_t)wait, 0);
    }
    if (request)
        *request = r;
    return AIGW_OK;
fail:
    if (err && !*err) {
        *err = r->err;
        r->err = NULL;
    }
    request_free(r);
    return st;
}

aigw_status aigw_call_async(aigw_client *client, uv_loop_t *loop, aigw_op op,
                            const char *request_json, const aigw_call_options *opts,
                            aigw_async_chunk_cb on_chunk, aigw_done_cb done, void *user,
                            aigw_request **request, aigw_error **err) {
    aigw__op iop;
    switch (op) {
    case AIGW_OP_CHAT:
        iop = AIGW__OP_CHAT;
        break;
    case AIGW_OP_CHAT_STREAM:
        iop = AIGW__OP_CHAT_STREAM;
        break;
    case AIGW_OP_EMBED:
        iop = AIGW__OP_EMBED;
        break;
    default:
        return aigw__error_set(err, AIGW_EINVAL, "aigw_call_async: unknown op %d", (int)op);
    }
    return start(client, loop, iop, request_json, NULL, opts, NULL, on_chunk, done, user, request,
                 err);
}

aigw_status aigw__call_async_parsed(aigw_client *client, uv_loop_t *loop, aigw__op op,
                                    json_object *request, const aigw_call_options *opts,
                                    const aigw__call_access *access, aigw_async_chunk_cb on_chunk,
                                    aigw_done_cb done, void *user, aigw_request **out,
                                    aigw_error **err) {
    return start(client, loop, op, NULL, request, opts, access, on_chunk, done, user, out, err);
}

aigw_status aigw__backend_models_async(aigw_client *client, uv_loop_t *loop,
                                       const aigw__backend *backend, aigw__models_done_cb done,
                                       void *user, aigw_request **request, aigw_error **err) {
    if (request)
        *request = NULL;
    if (!client || !loop || !backend || !done)
        return aigw__error_set(err, AIGW_EINVAL, "models: NULL argument");
    aigw_request *r = request_alloc();
    if (!r)
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->client = client;
    r->models = 1;
    r->models_done = done;
    r->user = user;
    r->out = (aigw__buf)AIGW__BUF_INIT;
    r->body = (aigw__buf)AIGW__BUF_INIT;
    r->work.data = r;
    aigw__usage unknown = AIGW__USAGE_UNKNOWN;
    r->call.op = AIGW__OP_MODELS;
    r->call.backend = backend;
    r->call.usage = unknown;
    aigw_status st = engine_get(client, loop, &r->eng, &r->err);
    if (!st) {
        r->eng->live++;
        if ((st = prepare_attempt(r))) {
            r->eng->live--;
            aigw__call_log(client, &r->call, st, &r->start);
        }
    }
    if (st) {
        if (err && !*err) {
            *err = r->err;
            r->err = NULL;
        }
        request_free(r);
        return st;
    }
    if (request)
        *request = r;
    return AIGW_OK;
}

aigw_status aigw_chat_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                            aigw_done_cb done, void *user, aigw_request **request,
                            aigw_error **err) {
    return start(client, loop, AIGW__OP_CHAT, request_json, NULL, NULL, NULL, NULL, done, user,
                 request, err);
}

aigw_status aigw_chat_stream_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                                   aigw_async_chunk_cb on_chunk, aigw_done_cb done, void *user,
                                   aigw_request **request, aigw_error **err) {
    return start(client, loop, AIGW__OP_CHAT_STREAM, request_json, NULL, NULL, NULL, on_chunk, done,
                 user, request, err);
}

aigw_status aigw_embed_async(aigw_client *client, uv_loop_t *loop, const char *request_json,
                             aigw_done_cb done, void *user, aigw_request **request,
                             aigw_error **err) {
    return start(client, loop, AIGW__OP_EMBED, request_json, NULL, NULL, NULL, NULL, done, user,
                 request, err);
}

void aigw_request_cancel(aigw_request *r) {
    if (!r || r->canceled)
        return;
    r->canceled = 1;
    if (r->state == REQ_CREDENTIALS || r->state == REQ_RESERVING || r->state == REQ_PICKING)
        aigw__work_cancel(&r->work); /* the after-work callback reports it either way */
    else if (r->state != REQ_SETTLING && r->state != REQ_ENDING)
        pending_push(r); /* a settlement under way reports the cancel when it is done */
}
