/* SPDX-License-Identifier: Apache-2.0 */
/* Identity, routes, budgets, ejection and retries around a call's upstream
 * attempts (see call_policy.h). */
#include "core/call_policy.h"

#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/call_steps.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/log.h"
#include "router/router.h"

/* ---- identity and headers ---- */

static const char *header_lookup(void *ctx, const char *name) {
    const aigw__call_policy *p = ctx;
    for (size_t i = 0; i < p->n_headers; i++)
        if (p->headers[i].name && strcasecmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    return NULL;
}

/* Copies the identity's strings and the headers into one block. */
static aigw_status copy_inputs(aigw__call_policy *p, const aigw_call_options *opts,
                               const char *user, aigw_error **err) {
    const char *src[4] = {opts ? opts->key : NULL, opts ? opts->team : NULL, user, p->requested};
    size_t n_headers = opts && opts->headers ? opts->n_headers : 0;
    size_t total = 0;
    for (int i = 0; i < 4; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    for (size_t i = 0; i < n_headers; i++) {
        const aigw_header *h = &opts->headers[i];
        total += (h->name ? strlen(h->name) : 0) + (h->value ? strlen(h->value) : 0) + 2;
    }
    if (n_headers && !(p->headers = aigw__calloc(n_headers, sizeof *p->headers)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    if (!(p->strings = aigw__malloc(total ? total : 1)))
        return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
    char *w = p->strings;
    const char *copy[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        if (!src[i])
            continue;
        size_t len = strlen(src[i]) + 1;
        memcpy(w, src[i], len);
        copy[i] = w;
        w += len;
    }
    for (size_t i = 0; i < n_headers; i++) {
        const char *parts[2] = {opts->headers[i].name ? opts->headers[i].name : "",
                                opts->headers[i].value ? opts->headers[i].value : ""};
        for (int k = 0; k < 2; k++) {
            size_t len = strlen(parts[k]) + 1;
            memcpy(w, parts[k], len);
            if (k == 0)
                p->headers[i].name = w;
            else
                p->headers[i].value = w;
            w += len;
        }
    }
    p->n_headers = n_headers;
    p->id.v[AIGW__SCOPE_KEY] = copy[0];
    p->id.v[AIGW__SCOPE_TEAM] = copy[1];
    p->id.v[AIGW__SCOPE_USER] = copy[2];
    p->id.v[AIGW__SCOPE_MODEL] = p->requested = copy[3];
    return AIGW_OK;
}

/* ---- rate-limit info ---- */

static void fill_ratelimit(aigw_ratelimit *rl, const char *name, const aigw__budget_status *s) {
    rl->known = 1;
    snprintf(rl->budget, sizeof rl->budget, "%s", name);
    rl->limit = (double)s->limit / AIGW__MICRO;
    rl->remaining = (double)s->remaining / AIGW__MICRO;
    rl->reset_seconds = s->reset;
}

/* The refusing budget's counter, for the 429's headers. */
static void fill_refusal(aigw__call_policy *p, const aigw__account_refusal *r) {
    aigw_ratelimit *rl = &p->info->ratelimit;
    const aigw__budget_set *set = aigw__accountant_budgets(p->client->accountant);
    for (size_t i = 0; r->budget && i < set->n; i++) {
        if (strcmp(set->items[i].name, r->budget) != 0)
            continue;
        char instance[256];
        aigw__budget_status s;
        if (aigw__budget_match(&set->items[i], &p->id, instance, sizeof instance) &&
            aigw__accountant_status(p->client->accountant, i, instance, &s, NULL) == AIGW_OK)
            fill_ratelimit(rl, r->budget, &s);
        else
            snprintf(rl->budget, sizeof rl->budget, "%s", r->budget), rl->known = 1;
        break;
    }
    rl->retry_after_seconds = (double)r->retry_after;
}

/* ---- access ---- */

int aigw__direct_allowed(const aigw_client *client, const aigw__call_access *access) {
    int rule = access && access->direct ? (int)access->direct : client->direct_rule;
    if (rule == AIGW__DIRECT_ALLOW)
        return 1;
    if (rule == AIGW__DIRECT_DENY)
        return 0;
    return client->routes.n == 0; /* with routes, only routed models by default */
}

int aigw__access_allows(const aigw__call_access *access, const char *model, const char *route) {
    if (!access)
        return 1;
    if (access->models) {
        size_t i = 0;
        while (i < access->n_models && !(model && fnmatch(access->models[i], model, 0) == 0))
            i++;
        if (i == access->n_models)
            return 0;
    }
    if (access->routes) {
        size_t i = 0;
        while (i < access->n_routes && !(route && strcmp(access->routes[i], route) == 0))
            i++;
        if (i == access->n_routes)
            return 0;
    }
    return 1;
}

const char *aigw__access_route_of(const aigw_client *client, const aigw__call_access *access,
                                  const char *model) {
    const aigw__route *r = aigw__routes_match(&client->routes, model, NULL, NULL);
    if (r)
        return r->name;
    if (!aigw__direct_allowed(client, access))
        return NULL;
    const aigw__backend *b = NULL;
    const char *upstream = NULL;
    if (aigw__route_direct(client, model, &b, &upstream, NULL) != AIGW_OK)
        return NULL;
    r = aigw__routes_pin(&client->routes, b->name, upstream, NULL, NULL);
    return r ? r->name : AIGW__DIRECT_ROUTE;
}

/* The caller may not use the model: the same answer as a model that does
 * not exist, so the refusal says nothing about what the config holds. */
static aigw_status refuse_access(const aigw__call_policy *p, aigw_error **err) {
    return aigw__error_set(err, AIGW_ENOBACKEND, "model \"%s\" is not allowed for this caller",
                           p->requested);
}

/* ---- begin ---- */

aigw_status aigw__policy_begin(aigw__call_policy *p, aigw_client *client, aigw__call *call,
                               const aigw_call_options *opts, const aigw__call_access *access,
                               aigw_error **err) {
    memset(p, 0, sizeof *p);
    p->client = client;
    p->log = (aigw__attempt_log)AIGW__ATTEMPT_LOG_INIT;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->attempt_start = p->start;
    if (opts && opts->version >= 1)
        p->info = opts->info;
    if (p->info) {
        memset(p->info, 0, sizeof *p->info);
        p->info->input_tokens = p->info->output_tokens = -1;
        p->info->ratelimit.retry_after_seconds = -1;
    }
    p->requested = aigw__json_get_string(call->request, "model");
    const char *user = opts && opts->user ? opts->user : NULL;
    json_object *u;
    if (!user && !(access && access->user_given) &&
        json_object_object_get_ex(call->request, "user", &u) &&
        json_object_is_type(u, json_type_string) && json_object_get_string_len(u) > 0)
        user = json_object_get_string(u);
    aigw_status st = copy_inputs(p, opts, user, err);
    if (st)
        return st;

    if (client->routes.n)
        p->route = aigw__routes_match(&client->routes, p->requested, header_lookup, p);
    if (p->route) {
        p->route_name = p->route->name;
        if (!aigw__access_allows(access, p->requested, p->route_name))
            return refuse_access(p, err);
        size_t n = p->route->n_backends;
        p->plan = n <= AIGW__POLICY_INLINE_PLAN ? p->plan_inline : aigw__calloc(n, sizeof *p->plan);
        if (!p->plan)
            return aigw__error_set(err, AIGW_ENOMEM, "out of memory");
        aigw__routes_plan(p->route, client->health, NULL, NULL, p->plan, &p->n_plan);
        p->retry = p->route->retry;
        p->max_attempts = p->retry.attempts;
        p->id.v[AIGW__SCOPE_ROUTE] = p->route->name;
    } else {
        if (!p->requested)
            return aigw__error_set(err, AIGW_EBADREQUEST, "the request has no \"model\"");
        if (!aigw__direct_allowed(client, access))
            return aigw__error_set(err, AIGW_ENOBACKEND,
                                   "model \"%s\" matches no route, and direct backend access is "
                                   "off (routing.allow_direct_backends)",
                                   p->requested);
        if ((st = aigw__route_direct(client, p->requested, &p->direct, &p->direct_model, err)))
            return st;
        /* Whatever a route would apply to this backend and model applies. */
        const aigw__route *pin =
            aigw__routes_pin(&client->routes, p->direct->name, p->direct_model, header_lookup, p);
        p->route_name = pin ? pin->name : AIGW__DIRECT_ROUTE;
        if (!aigw__access_allows(access, p->requested, p->route_name))
            return refuse_access(p, err);
        if (pin) {
            p->retry = pin->retry;
        } else {
            p->retry.attempts = 1;
        }
        p->max_attempts = p->retry.attempts;
        p->id.v[AIGW__SCOPE_ROUTE] = p->route_name;
        p->id.v[AIGW__SCOPE_MODEL] = p->direct_model;
    }

    if (client->accountant)
        aigw__accountant_estimate(client->accountant, call->request, &p->estimate);
    return AIGW_OK;
}

int aigw__policy_store_is_remote(const aigw__call_policy *p) {
    aigw__accountant *acc = p->client->accountant;
    return acc && !aigw__store_is_memory(aigw__accountant_store(acc));
}

aigw_status aigw__policy_reserve(aigw__call_policy *p, aigw_error **err) {
    aigw__accountant *acc = p->client->accountant;
    if (!acc)
        return AIGW_OK;
    aigw__account_refusal refusal = {0};
    aigw_status st = aigw__accountant_reserve(acc, &p->id, &p->estimate, &p->ticket, &refusal, err);
    if (st == AIGW_EBUDGET && p->info)
        fill_refusal(p, &refusal);
    if (st)
        return st;
    if (p->info) {
        const char *name;
        aigw__budget_status s;
        if (aigw__accountant_tightest(acc, &p->ticket, &name, &s))
            fill_ratelimit(&p->info->ratelimit, name, &s);
    }
    return AIGW_OK;
}

/* ---- attempts ---- */

/* Why no (more) attempt can be made. */
static aigw_status no_attempt(aigw__call_policy *p, aigw_error **err) {
    if (p->budget_err) { /* every backend's own budget refused */
        aigw_status st = p->budget_status;
        if (err && !*err) {
            *err = p->budget_err;
            p->budget_err = NULL;
        }
        return st;
    }
    return aigw__error_set(err, AIGW_ENOBACKEND, "route \"%s\": no backend could be tried",
                           p->route_name ? p->route_name : "-");
}

aigw_status aigw__policy_next(aigw__call_policy *p, aigw__call *call, aigw_error **err) {
    aigw__accountant *acc = p->client->accountant;
    int scoped = acc && aigw__accountant_has_scoped(acc, AIGW__SCOPE_BACKEND);
    /* Each plan entry may be skipped twice (ejected, then forced; or its
     * budget refused): a bound on the loop whatever happens. */
    for (size_t tries = 0; tries <= 2 * p->n_plan + 1; tries++) {
        if (p->attempts >= p->max_attempts)
            return no_attempt(p, err);
        const aigw__backend *b;
        const char *model;
        p->health_ticket = AIGW__TICKET_DENIED;
        if (!p->route) {
            b = p->direct;
            model = p->direct_model;
        } else {
            const aigw__plan_entry *e = &p->plan[p->next++ % p->n_plan];
            const char *name = e->target->backend;
            int force = e->forced || p->skipped >= p->n_plan;
            aigw__health_ticket t = aigw__health_begin(p->client->health, name, force);
            if (t == AIGW__TICKET_DENIED) {
                p->skipped++;
                continue;
            }
            p->health_ticket = t;
            p->health_backend = name;
            b = aigw__client_find_backend(p->client, name, strlen(name));
            model = aigw__route_upstream_model(e->target, p->requested);
        }
        if (scoped) {
            aigw__account_refusal refusal = {0};
            aigw_error *berr = NULL;
            p->id.v[AIGW__SCOPE_BACKEND] = b->name;
            aigw_status st =
                aigw__accountant_reserve_scoped(acc, &p->id, AIGW__SCOPE_BACKEND, &p->estimate,
                                                &p->backend_ticket, &refusal, &berr);
            p->id.v[AIGW__SCOPE_BACKEND] = NULL;
            if (st) {
                if (p->health_ticket)
                    aigw__health_abandon(p->client->health, p->health_backend, p->health_ticket);
                p->health_ticket = AIGW__TICKET_DENIED;
                if (st != AIGW_EBUDGET) {
                    if (err && !*err)
                        *err = berr;
                    else
                        aigw_error_free(berr);
                    return st;
                }
                aigw__attempt_log_add(&p->log, b->name, st, 0, 0);
                if (!p->budget_err) {
                    p->budget_err = berr;
                    p->budget_status = st;
                } else {
                    aigw_error_free(berr);
                }
                if (!p->route)
                    return no_attempt(p, err);
                p->skipped++;
                continue;
            }
        }
        p->skipped = 0;
        call->backend = b;
        call->model = model;
        aigw__usage unknown = AIGW__USAGE_UNKNOWN;
        call->usage = unknown;
        p->attempts++;
        clock_gettime(CLOCK_MONOTONIC, &p->attempt_start);
        if (p->info) {
            snprintf(p->info->backend, sizeof p->info->backend, "%s", b->name);
            snprintf(p->info->model, sizeof p->info->model, "%s", model ? model : "");
            p->info->attempts = p->attempts;
        }
        return AIGW_OK;
    }
    return no_attempt(p, err);
}

/* Whether the next plan entry is the backend that just failed. */
static int next_is_same(const aigw__call_policy *p, const aigw__backend *b) {
    if (!p->route)
        return 1;
    const aigw__plan_entry *e = &p->plan[p->next % p->n_plan];
    return strcmp(e->target->backend, b->name) == 0;
}

int aigw__policy_next_may_block(const aigw__call_policy *p) {
    aigw__accountant *acc = p->client->accountant;
    return acc && aigw__accountant_has_scoped(acc, AIGW__SCOPE_BACKEND) &&
           aigw__policy_store_is_remote(p);
}

void aigw__policy_attempt_settle(aigw__call_policy *p, aigw__call *call, aigw_status st) {
    if (p->backend_ticket.active)
        aigw__accountant_settle(p->client->accountant, &p->backend_ticket,
                                st == AIGW_OK || p->delivered ? &call->usage : NULL, NULL);
}

int aigw__policy_attempt_settle_may_block(const aigw__call_policy *p) {
    return p->backend_ticket.active && aigw__policy_store_is_remote(p);
}

long aigw__policy_attempt_end(aigw__call_policy *p, aigw__call *call, aigw_status st,
                              int http_status, long retry_after_ms, aigw_error **err) {
    long attempt_ms = (long)aigw__elapsed_ms(&p->attempt_start);
    long total_ms = (long)aigw__elapsed_ms(&p->start);
    int backend_failure = st != AIGW_OK && aigw__retry_is_backend_failure(st);
    if (p->health_ticket) {
        if (st == AIGW_ECANCELED || st == AIGW_ESTOPPED)
            aigw__health_abandon(p->client->health, p->health_backend, p->health_ticket);
        else
            aigw__health_report(p->client->health, p->health_backend, p->health_ticket,
                                !backend_failure);
        p->health_ticket = AIGW__TICKET_DENIED;
    }
    aigw__policy_attempt_settle(p, call, st);
    if (st == AIGW_OK)
        return -1;
    aigw__attempt_log_add(&p->log, call->backend->name, st, http_status, attempt_ms);
    if (!aigw__retry_should_retry(&p->retry, st, p->attempts, p->delivered, total_ms)) {
        /* The call ends with this attempt's error: its Retry-After goes
         * with it (serve passes it on). */
        if (err && retry_after_ms >= 0)
            aigw__error_set_retry_after(*err, (retry_after_ms + 999) / 1000);
        return -1;
    }
    /* The wait is for the same backend; another one is tried at once. */
    long wait =
        next_is_same(p, call->backend)
            ? aigw__retry_backoff_ms(&p->retry, p->attempts, retry_after_ms, total_ms, NULL, NULL)
            : 0;
    if (err) {
        aigw_error_free(*err);
        *err = NULL;
    }
    return wait;
}

/* ---- end ---- */

int aigw__policy_settle_pending(const aigw__call_policy *p) {
    return p->ticket.active || p->backend_ticket.active;
}

void aigw__policy_settle(aigw__call_policy *p, aigw__call *call, aigw_status st) {
    const aigw__usage *used = st == AIGW_OK || p->delivered ? &call->usage : NULL;
    if (p->backend_ticket.active)
        aigw__accountant_settle(p->client->accountant, &p->backend_ticket, used, NULL);
    if (p->ticket.active)
        aigw__accountant_settle(p->client->accountant, &p->ticket, used, NULL);
}

aigw_status aigw__policy_end(aigw__call_policy *p, aigw__call *call, aigw_status st,
                             aigw_error **err) {
    const aigw__usage *used = st == AIGW_OK || p->delivered ? &call->usage : NULL;
    aigw__policy_settle(p, call, st);
    if (p->info && used) {
        p->info->input_tokens = call->usage.input_tokens;
        p->info->output_tokens = call->usage.output_tokens;
    }
    if (st && err && *err && p->log.n > 1)
        aigw__error_append(*err, " (%u attempts: %s)", p->attempts,
                           aigw__attempt_log_text(&p->log));
    aigw__log(&p->client->logger, st ? AIGW_LOG_WARN : AIGW_LOG_DEBUG,
              "%s route=%s backend=%s model=%s attempts=%u status=%s %.3f ms",
              aigw__op_name(call->op), p->route_name ? p->route_name : "-",
              call->backend ? call->backend->name : "-", call->model ? call->model : "-",
              p->attempts, aigw_status_name(st), aigw__elapsed_ms(&p->start));
    aigw__policy_free(p);
    return st;
}

void aigw__policy_free(aigw__call_policy *p) {
    if (p->health_ticket) {
        aigw__health_abandon(p->client->health, p->health_backend, p->health_ticket);
        p->health_ticket = AIGW__TICKET_DENIED;
    }
    if (p->plan != p->plan_inline)
        aigw__free(p->plan);
    p->plan = NULL;
    aigw__free(p->strings);
    p->strings = NULL;
    aigw__free(p->headers);
    p->headers = NULL;
    aigw_error_free(p->budget_err);
    p->budget_err = NULL;
    aigw__attempt_log_free(&p->log);
}
