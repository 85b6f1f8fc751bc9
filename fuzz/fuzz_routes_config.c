/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the routes config loader (lib/router/routes_config.c).
 *
 * Besides crashes and sanitizer reports, it checks the loader's promises:
 * a failure always carries an error whose message is non-empty and (for a
 * config problem) starts with "config" or "routes"; a success gives routes
 * that hold only known backends, at least one backend each, weights,
 * priorities and retry settings in range; and ${ENV} references resolve
 * through a fixed fake environment, so runs are deterministic.
 *
 * The loader is compiled into this file so that it carries libFuzzer's
 * coverage instrumentation even when the library is built without
 * -fsanitize=fuzzer-no-link. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/router/routes_config.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known[] = {"openai", "azure", "bedrock", "a"};

static const char *fake_env(void *ctx, const char *name) {
    (void)ctx;
    if (!strcmp(name, "DEPLOYMENT"))
        return "gpt4o-prod";
    if (!strcmp(name, "BK"))
        return "azure";
    if (!strcmp(name, "EMPTY"))
        return "";
    return NULL;
}

static int is_known(const char *name) {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i], name))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aigw__routes_load_options o = {known, sizeof known / sizeof known[0], fake_env, NULL};
    aigw__routes r;
    aigw_error *err = NULL;
    aigw_status st = aigw__routes_load_text((const char *)data, size, &o, &r, &err);
    if (st) {
        if (!err || aigw_error_status(err) != st || !*aigw_error_message(err))
            abort();
        if (st == AIGW_ECONFIG && strncmp(aigw_error_message(err), "config", 6) &&
            strncmp(aigw_error_message(err), "routes", 6))
            abort();
    } else {
        if (err)
            abort();
        for (size_t i = 0; i < r.n; i++) {
            const aigw__route *rt = &r.routes[i];
            if (!rt->n_backends || rt->retry.attempts < 1 ||
                rt->retry.attempts > AIGW__ROUTE_MAX_ATTEMPTS ||
                rt->retry.backoff_ms > rt->retry.max_backoff_ms)
                abort();
            if (rt->model_glob && !*rt->model_glob)
                abort();
            for (size_t j = 0; j < rt->n_headers; j++)
                for (const char *p = rt->headers[j].name; *p; p++)
                    if (*p >= 'A' && *p <= 'Z')
                        abort();
            for (size_t j = 0; j < rt->n_backends; j++) {
                const aigw__route_backend *b = &rt->backends[j];
                if (!is_known(b->backend) || b->weight > AIGW__ROUTE_MAX_WEIGHT ||
                    b->priority < 0 || b->priority > AIGW__ROUTE_MAX_PRIORITY ||
                    (b->model && !*b->model))
                    abort();
            }
        }
    }
    aigw_error_free(err);
    aigw__routes_free(&r);
    return 0;
}
