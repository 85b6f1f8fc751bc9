/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's metrics, shared by every worker (one mutex), rendered as
 * Prometheus text. Names follow OpenTelemetry's GenAI semantic conventions
 * where one exists: gen_ai_server_request_duration_seconds (histogram),
 * gen_ai_client_token_usage_total (by backend and token type); plus
 * aigw_gateway_requests_total by route, status and backend. Labels hold
 * routes, statuses and backend names only: never a key or a team secret. */
#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "server/gateway.h"

#define NBUCKETS 14
static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,  5,     10,   30,  60,   120};

typedef struct req_series {
    char *route, *backend;
    int status;
    unsigned long long count;
} req_series;

typedef struct dur_series {
    char *route, *backend;
    unsigned long long buckets[NBUCKETS];
    unsigned long long count;
    double sum;
} dur_series;

typedef struct tok_series {
    char *backend;
    unsigned long long in, out;
} tok_series;

struct aigw__gw_metrics {
    pthread_mutex_t mu;
    req_series *req;
    size_t n_req, cap_req;
    dur_series *dur;
    size_t n_dur, cap_dur;
    tok_series *tok;
    size_t n_tok, cap_tok;
};

aigw__gw_metrics *aigw__gw_metrics_new(void) {
    aigw__gw_metrics *m = aigw__calloc(1, sizeof(*m));
    if (m && pthread_mutex_init(&m->mu, NULL) != 0) {
        aigw__free(m);
        return NULL;
    }
    return m;
}

void aigw__gw_metrics_free(aigw__gw_metrics *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n_req; i++) {
        aigw__free(m->req[i].route);
        aigw__free(m->req[i].backend);
    }
    for (size_t i = 0; i < m->n_dur; i++) {
        aigw__free(m->dur[i].route);
        aigw__free(m->dur[i].backend);
    }
    for (size_t i = 0; i < m->n_tok; i++)
        aigw__free(m->tok[i].backend);
    aigw__free(m->req);
    aigw__free(m->dur);
    aigw__free(m->tok);
    pthread_mutex_destroy(&m->mu);
    aigw__free(m);
}

/* Grows *arr (of *cap elements of size sz) to hold one more. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz) {
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = aigw__reallocarray(*arr, nc, sz);
    if (!p)
        return -1;
    memset((char *)p + n * sz, 0, (nc - n) * sz);
    *arr = p;
    *cap = nc;
    return 0;
}

void aigw__gw_metrics_request(aigw__gw_metrics *m, const char *route, int status,
                              const char *backend, double seconds) {
    if (!m)
        return;
    if (!backend)
        backend = "";
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->n_req; i++)
        if (m->req[i].status == status && strcmp(m->req[i].route, route) == 0 &&
            strcmp(m->req[i].backend, backend) == 0)
            break;
    if (i == m->n_req && grow((void **)&m->req, m->n_req, &m->cap_req, sizeof(*m->req)) == 0) {
        m->req[i].route = aigw__strdup(route);
        m->req[i].backend = aigw__strdup(backend);
        m->req[i].status = status;
        if (m->req[i].route && m->req[i].backend) {
            m->n_req++;
        } else {
            aigw__free(m->req[i].route);
            aigw__free(m->req[i].backend);
        }
    }
    if (i < m->n_req)
        m->req[i].count++;

    for (i = 0; i < m->n_dur; i++)
        if (strcmp(m->dur[i].route, route) == 0 && strcmp(m->dur[i].backend, backend) == 0)
            break;
    if (i == m->n_dur && grow((void **)&m->dur, m->n_dur, &m->cap_dur, sizeof(*m->dur)) == 0) {
        m->dur[i].route = aigw__strdup(route);
        m->dur[i].backend = aigw__strdup(backend);
        if (m->dur[i].route && m->dur[i].backend) {
            m->n_dur++;
        } else {
            aigw__free(m->dur[i].route);
            aigw__free(m->dur[i].backend);
        }
    }
    if (i < m->n_dur) {
        dur_series *d = &m->dur[i];
        for (int b = 0; b < NBUCKETS; b++)
            if (seconds <= bucket_le[b])
                d->buckets[b]++;
        d->count++;
        d->sum += seconds;
    }
    pthread_mutex_unlock(&m->mu);
}

void aigw__gw_metrics_tokens(aigw__gw_metrics *m, const char *backend, long long in,
                             long long out) {
    if (!m || (in <= 0 && out <= 0))
        return;
    if (!backend)
        backend = "";
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->n_tok; i++)
        if (strcmp(m->tok[i].backend, backend) == 0)
            break;
    if (i == m->n_tok && grow((void **)&m->tok, m->n_tok, &m->cap_tok, sizeof(*m->tok)) == 0 &&
        (m->tok[i].backend = aigw__strdup(backend)) != NULL)
        m->n_tok++;
    if (i < m->n_tok) {
        m->tok[i].in += in > 0 ? (unsigned long long)in : 0;
        m->tok[i].out += out > 0 ? (unsigned long long)out : 0;
    }
    pthread_mutex_unlock(&m->mu);
}

aigw_status aigw__gw_metrics_render(aigw__gw_metrics *m, aigw__buf *o) {
    aigw_status st = AIGW_OK;
    pthread_mutex_lock(&m->mu);
    st |= aigw__buf_puts(o, "# HELP aigw_gateway_requests_total Requests answered by the "
                            "gateway, by route, HTTP status and backend.\n"
                            "# TYPE aigw_gateway_requests_total counter\n");
    for (size_t i = 0; i < m->n_req; i++)
        st |= aigw__buf_printf(
            o,
            "aigw_gateway_requests_total{http_route=\"%s\",http_response_status_code=\"%d\","
            "gen_ai_provider_name=\"%s\"} %llu\n",
            m->req[i].route, m->req[i].status, m->req[i].backend, m->req[i].count);
    st |= aigw__buf_puts(o, "# HELP gen_ai_server_request_duration_seconds Time from a "
                            "request's arrival to the end of its answer.\n"
                            "# TYPE gen_ai_server_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n_dur; i++) {
        dur_series *d = &m->dur[i];
        for (int b = 0; b < NBUCKETS; b++)
            st |= aigw__buf_printf(o,
                                   "gen_ai_server_request_duration_seconds_bucket{http_route=\"%"
                                   "s\",gen_ai_provider_name=\"%s\",le=\"%g\"} %llu\n",
                                   d->route, d->backend, bucket_le[b], d->buckets[b]);
        st |= aigw__buf_printf(o,
                               "gen_ai_server_request_duration_seconds_bucket{http_route=\"%s\","
                               "gen_ai_provider_name=\"%s\",le=\"+Inf\"} %llu\n"
                               "gen_ai_server_request_duration_seconds_sum{http_route=\"%s\","
                               "gen_ai_provider_name=\"%s\"} %.6f\n"
                               "gen_ai_server_request_duration_seconds_count{http_route=\"%s\","
                               "gen_ai_provider_name=\"%s\"} %llu\n",
                               d->route, d->backend, d->count, d->route, d->backend, d->sum,
                               d->route, d->backend, d->count);
    }
    st |= aigw__buf_puts(o, "# HELP gen_ai_client_token_usage_total Tokens used, by backend "
                            "and token type (input, output).\n"
                            "# TYPE gen_ai_client_token_usage_total counter\n");
    for (size_t i = 0; i < m->n_tok; i++)
        st |= aigw__buf_printf(
            o,
            "gen_ai_client_token_usage_total{gen_ai_provider_name=\"%s\",gen_ai_token_type="
            "\"input\"} %llu\n"
            "gen_ai_client_token_usage_total{gen_ai_provider_name=\"%s\",gen_ai_token_type="
            "\"output\"} %llu\n",
            m->tok[i].backend, m->tok[i].in, m->tok[i].backend, m->tok[i].out);
    pthread_mutex_unlock(&m->mu);
    return st != AIGW_OK ? AIGW_ENOMEM : AIGW_OK;
}
