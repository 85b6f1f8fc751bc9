/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a client's budgets for a test; see budget_status.h. */
#include "budget_status.h"

#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "http_client.h"

/* One aigw_budget_status() call on a helper thread. */
typedef struct status_call {
    aigw_client *client;
    char *json;
    aigw_status st;
    char message[512];
    int done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} status_call;

static void *status_main(void *arg) {
    status_call *s = arg;
    aigw_error *e = NULL;
    char *json = NULL;
    aigw_status st = aigw_budget_status(s->client, &json, &e);
    pthread_mutex_lock(&s->mu);
    s->st = st;
    s->json = json;
    snprintf(s->message, sizeof s->message, "%s", e ? aigw_error_message(e) : "");
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    aigw_error_free(e);
    return NULL;
}

aigw_status aigw_test_budget_status(aigw_client *c, char **json, char *message, size_t cap) {
    /* leaked on a hang: the thread may still use it */
    status_call *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->client = c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, status_main, s), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    while (!s->done)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != 0)
            break;
    int done = s->done;
    pthread_mutex_unlock(&s->mu);
    /* LIBRARY BUG (see /tmp/notes/budget-requests.md #1): with a "*" budget
     * in the memory store, aigw_budget_status deadlocks. */
    cr_assert(done, "aigw_budget_status did not return within 5 s (deadlock?)");
    pthread_join(t, NULL);
    aigw_status st = s->st;
    *json = s->json;
    if (message)
        snprintf(message, cap, "%s", s->message);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return st;
}

double aigw_test_budget_counter(aigw_client *c, const char *name, const char *instance,
                                const char *field) {
    char *json = NULL, why[512];
    cr_assert_eq(aigw_test_budget_status(c, &json, why, sizeof why), AIGW_OK, "%s", why);
    json_object *o = aigw_test_json_parse(json);
    json_object *list = aigw_test_json_at(o, "budgets");
    cr_assert_not_null(list, "%s", json);
    double v = NAN;
    int found = 0;
    for (size_t i = 0; i < json_object_array_length(list) && !found; i++) {
        json_object *b = json_object_array_get_idx(list, i);
        const char *bn = aigw_test_json_str_at(b, "name");
        if (!bn || strcmp(bn, name))
            continue;
        json_object *cs = aigw_test_json_at(b, "counters");
        cr_assert_not_null(cs, "budget %s has no counters: %s", name, json);
        for (size_t k = 0; k < json_object_array_length(cs); k++) {
            json_object *cn = json_object_array_get_idx(cs, k);
            const char *inst = aigw_test_json_str_at(cn, "instance");
            if (instance ? (inst && strstr(inst, instance)) : (!inst || !*inst || k == 0)) {
                json_object *f = aigw_test_json_at(cn, field);
                cr_assert_not_null(f, "counter has no %s: %s", field, json);
                v = json_object_get_double(f);
                found = 1;
                break;
            }
        }
    }
    cr_assert(found, "no counter %s/%s in %s", name, instance ? instance : "", json);
    json_object_put(o);
    aigw_free(json);
    return v;
}
