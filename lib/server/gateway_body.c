/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's request bodies: bounded, then parsed, off the loop when
 * big (see gateway.h). Why: json-c's tree of a hostile body is many times
 * its size (a 32 MB array of small integers took 1.2 GB and 9 s of the
 * worker's loop, during which /healthz did not answer). The scan bounds the
 * tree before it is built; the thread pool keeps the loop free. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/json.h"
#include "server/gateway.h"

static void body_run(aigw__gw_body *b) {
    aigw__json_measure m;
    aigw__json_limit hit = aigw__json_scan(b->text, b->len, &b->limits, &m);
    b->obj = NULL;
    switch (hit) {
    case AIGW__JSON_TOO_DEEP:
        b->status = 400;
        b->code = "json_too_deep";
        snprintf(b->message, sizeof b->message,
                 "The JSON body nests deeper than %zu levels (gateway.limits.json_max_depth).",
                 b->limits.max_depth);
        return;
    case AIGW__JSON_TOO_MANY_ELEMENTS:
        b->status = 413;
        b->code = "json_too_many_elements";
        snprintf(b->message, sizeof b->message,
                 "The JSON body has more than %zu elements (gateway.limits.json_max_elements).",
                 b->limits.max_elements);
        return;
    case AIGW__JSON_STRING_TOO_LONG:
        b->status = 413;
        b->code = "json_string_too_long";
        snprintf(b->message, sizeof b->message,
                 "The JSON body has a string longer than %zu bytes "
                 "(gateway.limits.json_max_string_bytes).",
                 b->limits.max_string_bytes);
        return;
    case AIGW__JSON_WITHIN:
        break;
    }
    /* json-c counts a scalar inside the innermost container as a level. */
    int depth = (int)b->limits.max_depth + 1;
    aigw_error *perr = NULL; /* the parser's reason: where, and what (UTF-8 too) */
    if (aigw__json_parse_bounded(b->text, b->len, "request", AIGW_EBADREQUEST, depth, b->offloaded,
                                 &b->obj, &perr) != AIGW_OK) {
        b->obj = NULL;
        b->status = 400;
        b->code = "invalid_json";
        snprintf(b->message, sizeof b->message,
                 "We could not parse the JSON body of your request (%s). The body must be a JSON "
                 "object.",
                 aigw_error_message(perr));
    }
    aigw_error_free(perr);
}

static void body_work(uv_work_t *w) {
    body_run(w->data);
}

static void body_after(uv_work_t *w, int status) {
    aigw__gw_body *b = w->data;
    (void)status; /* never canceled: the work is not */
    b->cb(b, b->obj, b->user);
}

int aigw__gw_body_parse(aigw__gw_body *b, uv_loop_t *loop, const aigw__gw_config *cfg,
                        const char *text, size_t len, aigw__gw_body_cb cb, void *user) {
    memset(b, 0, sizeof *b);
    b->text = text;
    b->len = len;
    b->limits = cfg->json_limits;
    b->cb = cb;
    b->user = user;
    b->work.data = b;
    if (len < cfg->json_offload_bytes) {
        body_run(b);
        cb(b, b->obj, user);
        return 0;
    }
    b->offloaded = 1;
    return uv_queue_work(loop, &b->work, body_work, body_after) == 0 ? 0 : -1;
}

/* ---- giving memory back ----
 * glibc keeps what a big request freed in its arenas (the thread pool's
 * too); malloc_trim(0) returns every free page. One trim at a time: a
 * request that ends meanwhile asks for another pass. */
static atomic_int trim_queued, trim_again;
static uv_work_t trim_req;

static void trim_work(uv_work_t *w) {
    (void)w;
    do {
        atomic_store(&trim_again, 0);
#if defined(__GLIBC__)
        malloc_trim(0);
#endif
    } while (atomic_load(&trim_again));
}

static void trim_after(uv_work_t *w, int status) {
    (void)status;
    uv_loop_t *loop = w->loop;
    atomic_store(&trim_queued, 0);
    if (atomic_load(&trim_again))
        aigw__gw_body_trim(loop);
}

void aigw__gw_body_trim(uv_loop_t *loop) {
    atomic_store(&trim_again, 1);
    int idle = 0;
    if (!atomic_compare_exchange_strong(&trim_queued, &idle, 1))
        return; /* the pass under way repeats */
    if (uv_queue_work(loop, &trim_req, trim_work, trim_after) != 0)
        atomic_store(&trim_queued, 0);
}
