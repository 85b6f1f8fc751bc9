/* SPDX-License-Identifier: Apache-2.0 */
/* Several provider simulators at once; see sim_pool.h. */
#include "sim_pool.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

int aigw_test_sims_start(aigw_test_sim *sims, size_t n, const char *const *extra_args) {
    for (size_t i = 0; i < n; i++) {
        if (aigw_test_sim_start(&sims[i], extra_args) != 0) {
            aigw_test_sims_stop(sims, i);
            return -1;
        }
    }
    return 0;
}

void aigw_test_sims_stop(aigw_test_sim *sims, size_t n) {
    for (size_t i = 0; i < n; i++)
        aigw_test_sim_stop(&sims[i]);
}

void aigw_test_sim_fault(const aigw_test_sim *sim, const char *spec) {
    aigw_test_resp r = aigw_test_http(sim->port, "POST", "/sim/fault", NULL, spec ? spec : "");
    cr_assert_eq(r.rc, CURLE_OK, "POST /sim/fault: %s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200, "POST /sim/fault %s: %ld %s", spec ? spec : "", r.status, r.body);
    aigw_test_resp_free(&r);
}

long aigw_test_sim_count(const aigw_test_sim *sim) {
    aigw_test_resp r = aigw_test_http(sim->port, "GET", "/sim/requests", NULL, NULL);
    cr_assert_eq(r.rc, CURLE_OK, "GET /sim/requests: %s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200);
    json_object *o = aigw_test_json_parse(r.body);
    long n = (long)aigw_test_json_int_at(o, "count");
    json_object_put(o);
    aigw_test_resp_free(&r);
    return n;
}

void aigw_test_sims_expect_counts(const aigw_test_sim *sims, long a, long b, long c) {
    long na = aigw_test_sim_count(&sims[0]), nb = aigw_test_sim_count(&sims[1]),
         nc = aigw_test_sim_count(&sims[2]);
    cr_expect(na == a && nb == b && nc == c,
              "requests reaching a, b, c: %ld, %ld, %ld; expected %ld, %ld, %ld", na, nb, nc, a, b,
              c);
}

void aigw_test_sim_reset(const aigw_test_sim *sim) {
    aigw_test_resp r = aigw_test_http(sim->port, "POST", "/sim/reset", NULL, "");
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    aigw_test_resp_free(&r);
}

void aigw_test_sim_last_model(const aigw_test_sim *sim, char *out, size_t cap) {
    aigw_test_sim_last_field(sim, "model", out, cap);
}

void aigw_test_sim_last_field(const aigw_test_sim *sim, const char *field, char *out, size_t cap) {
    aigw_test_resp r = aigw_test_http(sim->port, "GET", "/sim/last-request", NULL, NULL);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_assert_eq(r.status, 200);
    json_object *o = aigw_test_json_parse(r.body);
    const char *body = aigw_test_json_str_at(o, "body");
    json_object *b = body ? json_tokener_parse(body) : NULL;
    const char *model = b ? aigw_test_json_str_at(b, field) : NULL;
    snprintf(out, cap, "%s", model ? model : "");
    json_object_put(b);
    json_object_put(o);
    aigw_test_resp_free(&r);
}

int aigw_test_dead_port(int *fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        close(s);
        return -1;
    }
    *fd = s;
    return ntohs(a.sin_port);
}

void aigw_test_sleep_until(double t) {
    for (;;) {
        double left = t - aigw_test_now_ms();
        if (left <= 0)
            return;
        struct timespec ts = {(time_t)(left / 1e3),
                              (long)((left - (double)(long)(left / 1e3) * 1e3) * 1e6)};
        if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
            return;
    }
}

int aigw_test_write_file_atomic(const char *path, const char *text) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
