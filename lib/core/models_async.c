/* SPDX-License-Identifier: Apache-2.0 */
/* Model listing on a libuv loop (core/async_internal.h): what
 * aigw_models(client, NULL, ...) answers, without a thread waiting on any
 * backend. With routes the list is their model names, built on the spot.
 * Otherwise every listable backend gets its own AIGW__OP_MODELS request
 * through the async engine (aigw__backend_models_async: the engine's curl
 * multi, credentials that may block on the library's pool), all at once;
 * when the last has ended their "data" arrays are merged in backend order
 * and `done` fires once. The first failure cancels the others and is the
 * answer, as aigw_models stops at its first failing backend. */
#include <string.h>

#include "core/alloc.h"
#include "core/async_internal.h"
#include "core/client_internal.h"
#include "core/errors.h"
#include "core/json.h"

typedef struct models_part {
    aigw__models_list *list;
    aigw_request *req; /* while it runs */
    char *json;        /* its answer */
} models_part;

struct aigw__models_list {
    aigw_done_cb done;
    void *user;
    models_part *parts;
    size_t n, left;
    int starting, canceled;
    aigw_status st; /* the first failure */
    aigw_error *err;
};

static void cancel_parts(aigw__models_list *l) {
    for (size_t i = 0; i < l->n; i++)
        if (l->parts[i].req)
            aigw_request_cancel(l->parts[i].req);
}

/* Merges the answers (or reports the failure), fires `done`, frees. */
static void list_finish(aigw__models_list *l) {
    aigw_status st = l->canceled && !l->st ? AIGW_ECANCELED : l->st;
    aigw_error *err = l->err;
    char *text = NULL;
    if (st == AIGW_ECANCELED && !err)
        aigw__error_set(&err, st, "request canceled");
    if (!st) {
        json_object *root = json_object_new_object(), *all = json_object_new_array();
        if (!root || !all) {
            json_object_put(all);
            st = aigw__error_set(&err, AIGW_ENOMEM, "out of memory");
        } else {
            json_object_object_add(root, "object", json_object_new_string("list"));
            json_object_object_add(root, "data", all);
            for (size_t i = 0; i < l->n && !st; i++) {
                const char *j = l->parts[i].json ? l->parts[i].json : "";
                st = aigw__models_merge(j, strlen(j), all, &err);
            }
            if (!st && !(text = aigw__json_dup_string(root)))
                st = aigw__error_set(&err, AIGW_ENOMEM, "out of memory");
        }
        json_object_put(root);
    }
    aigw_done_cb done = l->done;
    void *user = l->user;
    for (size_t i = 0; i < l->n; i++)
        aigw__free(l->parts[i].json);
    aigw__free(l->parts);
    aigw__free(l);
    done(st, st ? NULL : text, st ? err : NULL, user);
    aigw__free(text);
    aigw_error_free(err);
}

/* Notes a failure: the first one is the answer, and stops the others. */
static void list_failed(aigw__models_list *l, aigw_status st, aigw_error **err) {
    if (l->st || st == AIGW_ECANCELED)
        return;
    l->st = st;
    l->err = *err;
    *err = NULL;
    cancel_parts(l);
}

static void part_done(aigw_status st, aigw__buf *out, aigw_error **err, void *user) {
    models_part *p = user;
    aigw__models_list *l = p->list;
    p->req = NULL;
    if (!st) {
        if (!(p->json = out->data ? aigw__buf_detach(out) : aigw__strdup(""))) {
            aigw_error *e = NULL;
            aigw__error_set(&e, AIGW_ENOMEM, "out of memory");
            list_failed(l, AIGW_ENOMEM, &e);
            aigw_error_free(e);
        }
    } else {
        if (!*err)
            aigw__error_set(err, st, "%s", aigw_strerror(st));
        list_failed(l, st, err);
    }
    if (--l->left == 0 && !l->starting)
        list_finish(l);
}

void aigw__models_async(aigw_client *client, uv_loop_t *loop, aigw_done_cb done, void *user,
                        aigw__models_list **out) {
    if (out)
        *out = NULL;
    if (!client || !loop || !done) {
        aigw_error *e = NULL;
        aigw__error_set(&e, AIGW_EINVAL, "models: NULL argument");
        if (done)
            done(AIGW_EINVAL, NULL, e, user);
        aigw_error_free(e);
        return;
    }
    if (client->routes.n) { /* the models the routes serve: no upstream call */
        char *json = NULL;
        aigw_error *e = NULL;
        aigw_status st = aigw__models_of_routes(client, &json, &e);
        done(st, st ? NULL : json, st ? e : NULL, user);
        aigw__free(json);
        aigw_error_free(e);
        return;
    }
    aigw__models_list *l = aigw__calloc(1, sizeof *l);
    size_t n = 0;
    for (size_t i = 0; i < client->n_backends; i++)
        n += client->backends[i].listable != 0;
    if (!l || !(l->parts = aigw__calloc(n ? n : 1, sizeof *l->parts))) {
        aigw__free(l);
        aigw_error *e = NULL;
        aigw__error_set(&e, AIGW_ENOMEM, "out of memory");
        done(AIGW_ENOMEM, NULL, e, user);
        aigw_error_free(e);
        return;
    }
    l->done = done;
    l->user = user;
    l->starting = 1;
    for (size_t i = 0; i < client->n_backends && !l->st; i++) {
        const aigw__backend *b = &client->backends[i];
        if (!b->listable)
            continue;
        models_part *p = &l->parts[l->n++];
        p->list = l;
        aigw_error *e = NULL;
        aigw_status st = aigw__backend_models_async(client, loop, b, part_done, p, &p->req, &e);
        if (st) {
            if (!e)
                aigw__error_set(&e, st, "%s", aigw_strerror(st));
            list_failed(l, st, &e);
            aigw_error_free(e);
        } else {
            l->left++;
        }
    }
    l->starting = 0;
    if (l->left == 0)
        list_finish(l); /* nothing in flight: answered now */
    else if (out)
        *out = l; /* no part's `done` fires before this returns */
}

void aigw__models_cancel(aigw__models_list *l) {
    if (!l || l->canceled)
        return;
    l->canceled = 1;
    cancel_parts(l);
}
