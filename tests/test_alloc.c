/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation-failure torture: every allocation in turn fails, and each call
 * must come back with a clean status (never a crash; leaks are caught by the
 * sanitizer build that runs this too). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "aigw/aigw.h"

static long allocations;
static long fail_at = -1; /* the allocation number that fails, -1 = none */
static int failed;

static int should_fail(void) {
    if (fail_at >= 0 && allocations++ == fail_at) {
        failed = 1;
        return 1;
    }
    return 0;
}
static void *t_malloc(size_t n) {
    return should_fail() ? NULL : malloc(n);
}
static void *t_realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n);
}
static void *t_calloc(size_t c, size_t n) {
    return should_fail() ? NULL : calloc(c, n);
}

static const char *config = "{\"backends\":{\"m\":{\"schema\":\"mock\"}}}";

static int ignore_chunk(const char *json, size_t len, void *user) {
    (void)json;
    (void)len;
    (void)user;
    return 0;
}

/* One full round of calls; returns the first failure status or AIGW_OK. */
static aigw_status round_of_calls(void) {
    aigw_client *c = NULL;
    aigw_error *e = NULL;
    char *out = NULL;
    aigw_status st = aigw_client_new_from_string(&c, config, &e);
    if (!st)
        st = aigw_chat(c,
                       "{\"model\":\"m/echo\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"a b c\"}]}",
                       &out, &e);
    aigw_free(out);
    out = NULL;
    if (!st)
        st = aigw_chat_stream(c,
                              "{\"model\":\"m/echo\",\"stream_options\":{\"include_usage\":true},"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}]}",
                              ignore_chunk, NULL, &e);
    if (!st)
        st = aigw_embed(c,
                        "{\"model\":\"m/embed\",\"input\":[\"a\",\"b\"],\"encoding_format\":"
                        "\"base64\"}",
                        &out, &e);
    aigw_free(out);
    out = NULL;
    if (!st)
        st = aigw_models(c, NULL, &out, &e);
    aigw_free(out);
    out = NULL;
    if (!st) /* an error path allocates too */
        st =
            aigw_chat(c, "{\"model\":\"x/y\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}",
                      &out, &e) == AIGW_ENOBACKEND
                ? AIGW_OK
                : AIGW_ENOMEM;
    if (e) {
        cr_assert_not_null(aigw_error_message(e));
        cr_assert_not_null(aigw_error_json(e));
    }
    aigw_error_free(e);
    aigw_client_free(c);
    return st;
}

Test(alloc, every_failure_point_gives_a_clean_error) {
    cr_assert_eq(aigw_set_allocator(t_malloc, t_realloc, t_calloc, free), 0);
    cr_assert_eq(aigw_set_allocator(NULL, t_realloc, t_calloc, free), 1);
    for (long n = 0;; n++) {
        allocations = 0;
        failed = 0;
        fail_at = n;
        aigw_status st = round_of_calls();
        if (!failed) {
            cr_assert_eq(st, AIGW_OK, "no failure injected yet %s", aigw_status_name(st));
            cr_assert_gt(n, 20, "suspiciously few allocations: %ld", n);
            break;
        }
        /* libcurl's own allocations can fail too; curl reports them as its
         * own errors, which we pass on as transport errors. */
        cr_assert(st == AIGW_ENOMEM || st == AIGW_OK || st == AIGW_ETRANSPORT,
                  "allocation %ld failed and the call returned %s", n, aigw_status_name(st));
    }
    /* Once the library allocated, the allocator can no longer change. */
    cr_assert_eq(aigw_set_allocator(malloc, realloc, calloc, free), 1);
}
