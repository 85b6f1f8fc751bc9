/* SPDX-License-Identifier: Apache-2.0 */
/* The retry policy (lib/router/retry.c): decisions for every status,
 * backoff bounds and jitter, Retry-After, streams, and the attempt list. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "aigw/error.h"
#include "aigw/status.h"
#include "router/retry.h"

static aigw__retry_config cfg(unsigned attempts, long base, long max, long total) {
    aigw__retry_config rc = {attempts, base, max, 0, 0, total};
    return rc;
}

Test(retry, decision_for_every_status) {
    aigw__retry_config rc = cfg(3, 100, 1000, 0);
    static const aigw_status retry[] = {AIGW_ERATELIMIT, AIGW_EUPSTREAM, AIGW_ETRUNCATED,
                                        AIGW_ECONNECT,   AIGW_ETIMEOUT,  AIGW_ETRANSPORT};
    for (int s = 0; s <= AIGW_ECANCELED; s++) {
        int expected = 0;
        for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
            expected |= retry[i] == (aigw_status)s;
        cr_expect_eq(aigw__retry_is_backend_failure((aigw_status)s), expected, "%s",
                     aigw_status_name((aigw_status)s));
        cr_expect_eq(aigw__retry_should_retry(&rc, (aigw_status)s, 1, 0, 0), expected, "%s",
                     aigw_status_name((aigw_status)s));
    }
    /* Never a caller's 4xx. */
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_EBADREQUEST, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_EAUTH, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_EPERMISSION, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ENOTFOUND, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_EUPSTREAM_STATUS, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ECANCELED, 1, 0, 0));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ESTOPPED, 1, 0, 0));
}

Test(retry, budget_total_timeout_and_streams) {
    aigw__retry_config rc = cfg(3, 100, 1000, 5000);
    cr_expect(aigw__retry_should_retry(&rc, AIGW_EUPSTREAM, 1, 0, 10));
    cr_expect(aigw__retry_should_retry(&rc, AIGW_EUPSTREAM, 2, 0, 10));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_EUPSTREAM, 3, 0, 10));
    cr_expect(aigw__retry_should_retry(&rc, AIGW_ETIMEOUT, 1, 0, 4999));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ETIMEOUT, 1, 0, 5000));
    /* A stream falls back only before its first byte reached the caller. */
    cr_expect(aigw__retry_should_retry(&rc, AIGW_ETRUNCATED, 1, 0, 10));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ETRUNCATED, 1, 1, 10));
    cr_expect_not(aigw__retry_should_retry(&rc, AIGW_ETIMEOUT, 1, 1, 10));
    aigw__retry_config one = cfg(1, 100, 1000, 0);
    cr_expect_not(aigw__retry_should_retry(&one, AIGW_ERATELIMIT, 1, 0, 0));
}

static uint64_t max_rand(void *ctx) {
    (void)ctx;
    return UINT64_MAX;
}
static uint64_t zero_rand(void *ctx) {
    (void)ctx;
    return 0;
}

Test(retry, backoff_bounds_and_jitter) {
    aigw__retry_config rc = cfg(10, 100, 1000, 0);
    /* Ceilings 100, 200, 400, 800, then capped at 1000. */
    const long ceiling[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (unsigned retry = 1; retry <= 7; retry++) {
        uint64_t seed = retry;
        long lo = 1L << 30, hi = -1;
        double sum = 0;
        const int n = 20000;
        for (int i = 0; i < n; i++) {
            long d = aigw__retry_backoff_ms(&rc, retry, -1, 0, aigw__rand_splitmix, &seed);
            cr_assert(d >= 0 && d <= ceiling[retry - 1], "retry %u: %ld", retry, d);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += (double)d;
        }
        /* Full jitter: the whole range is used, mean about half the ceiling. */
        cr_expect(lo <= ceiling[retry - 1] / 50, "retry %u: min %ld", retry, lo);
        cr_expect(hi >= ceiling[retry - 1] - ceiling[retry - 1] / 50, "retry %u: max %ld", retry,
                  hi);
        double mean = sum / n;
        cr_expect(mean > ceiling[retry - 1] * 0.45 && mean < ceiling[retry - 1] * 0.55,
                  "retry %u: mean %.1f", retry, mean);
    }
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, -1, 0, zero_rand, NULL), 0);
    cr_expect_leq(aigw__retry_backoff_ms(&rc, 1, -1, 0, max_rand, NULL), 100);
    cr_expect_leq(aigw__retry_backoff_ms(&rc, 60, -1, 0, max_rand, NULL), 1000);
    cr_expect_leq(aigw__retry_backoff_ms(&rc, 4000000000u, -1, 0, max_rand, NULL), 1000);
    aigw__retry_config none = cfg(3, 0, 0, 0);
    cr_expect_eq(aigw__retry_backoff_ms(&none, 3, -1, 0, max_rand, NULL), 0);
    /* NULL: the default random source, within the same bounds. */
    for (int i = 0; i < 1000; i++) {
        long d = aigw__retry_backoff_ms(&rc, 2, -1, 0, NULL, NULL);
        cr_assert(d >= 0 && d <= 200);
    }
}

Test(retry, retry_after_honoured_and_capped) {
    aigw__retry_config rc = cfg(3, 100, 1000, 30000);
    /* Honoured as given, even beyond max_backoff_ms, within the total. */
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, 2000, 0, zero_rand, NULL), 2000);
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, 0, 0, max_rand, NULL), 0);
    /* Capped by what is left of the total timeout. */
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, 60000, 0, zero_rand, NULL), 30000);
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, 60000, 25000, zero_rand, NULL), 5000);
    cr_expect_eq(aigw__retry_backoff_ms(&rc, 1, 60000, 31000, zero_rand, NULL), 0);
    /* No total timeout: capped by max_backoff_ms. */
    aigw__retry_config nototal = cfg(3, 100, 1000, 0);
    cr_expect_eq(aigw__retry_backoff_ms(&nototal, 1, 500, 0, zero_rand, NULL), 500);
    cr_expect_eq(aigw__retry_backoff_ms(&nototal, 1, 5000, 0, zero_rand, NULL), 1000);
}

Test(retry, parse_retry_after) {
    cr_expect_eq(aigw__retry_parse_retry_after("3"), 3000);
    cr_expect_eq(aigw__retry_parse_retry_after(" 120 "), 120000);
    cr_expect_eq(aigw__retry_parse_retry_after("0"), 0);
    cr_expect_eq(aigw__retry_parse_retry_after("999999999999999999999"), 86400000);
    cr_expect_eq(aigw__retry_parse_retry_after(NULL), -1);
    cr_expect_eq(aigw__retry_parse_retry_after(""), -1);
    cr_expect_eq(aigw__retry_parse_retry_after("-1"), -1);
    cr_expect_eq(aigw__retry_parse_retry_after("1.5"), -1);
    cr_expect_eq(aigw__retry_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
}

Test(retry, attempt_list_error_text) {
    aigw__attempt_log log = AIGW__ATTEMPT_LOG_INIT;
    cr_expect_str_eq(aigw__attempt_log_text(&log), "");
    aigw__attempt_log_add(&log, "azure", AIGW_ERATELIMIT, 429, 12);
    aigw__attempt_log_add(&log, "openai", AIGW_ECONNECT, 0, 3);
    cr_expect_str_eq(
        aigw__attempt_log_text(&log),
        "backend azure: HTTP 429 after 12 ms; backend openai: cannot connect after 3 ms");
    aigw__attempt_log_add(&log, "bedrock", AIGW_ETIMEOUT, 0, 30000);
    aigw__attempt_log_add(&log, "gemini", AIGW_EUPSTREAM, 503, 40);
    aigw__attempt_log_add(&log, "local", AIGW_ETRUNCATED, 0, 7);
    aigw__attempt_log_add(&log, "x", AIGW_ETRANSPORT, 0, 1);
    aigw__attempt_log_add(&log, "y", AIGW_EBADRESPONSE, 0, 2);
    cr_expect_eq(log.n, 7);
    aigw_error *err = NULL;
    cr_expect_eq(aigw__attempt_log_error(&log, AIGW_EUPSTREAM, &err), AIGW_EUPSTREAM);
    cr_assert_not_null(err);
    cr_expect_eq(aigw_error_status(err), AIGW_EUPSTREAM);
    cr_expect_str_eq(aigw_error_message(err),
                     "backend azure: HTTP 429 after 12 ms; backend openai: cannot connect after 3 "
                     "ms; backend bedrock: timed out after 30000 ms; backend gemini: HTTP 503 "
                     "after 40 ms; backend local: response cut short after 7 ms; backend x: "
                     "transport error after 1 ms; backend y: malformed upstream response after 2 "
                     "ms");
    aigw_error_free(err);
    aigw__attempt_log_free(&log);
    cr_expect_eq(log.n, 0);
}
