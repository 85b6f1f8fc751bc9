/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the checks on a caller's request (the bytes serve
 * receives in a POST body): the UTF-8 check and JSON parse of
 * aigw__json_parse_ex(AIGW__JSON_REQUEST), then aigw__request_check for a
 * chat and an embeddings call. Any input must give AIGW_OK, or
 * AIGW_EBADREQUEST with an error whose JSON is OpenAI's shape; never a
 * crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/request_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_object *request = NULL;
    aigw_error *err = NULL;
    aigw_status st = aigw__json_parse_ex((const char *)data, size, "request", AIGW_EBADREQUEST,
                                         AIGW__JSON_REQUEST, &request, &err);
    if (st) {
        if (st != AIGW_EBADREQUEST || !err)
            abort();
        aigw_error_free(err);
        return 0;
    }
    static const aigw__op ops[] = {AIGW__OP_CHAT, AIGW__OP_EMBED};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        err = NULL;
        st = aigw__request_check(ops[i], request, &err);
        if (st != AIGW_OK && (st != AIGW_EBADREQUEST || !err ||
                              strncmp(aigw_error_json(err), "{\"error\":{\"message\":", 20) != 0))
            abort();
        aigw_error_free(err);
    }
    json_object_put(request);
    return 0;
}
