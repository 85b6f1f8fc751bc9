/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: Google credential files (service_account,
 * external_account) as aigw__gcp_source_parse reads them. */
#include <stddef.h>
#include <stdint.h>

#include "aigw/error.h"
#include "credentials/gcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aigw__gcp_source *src = NULL;
    aigw_error *err = NULL;
    if (aigw__gcp_source_parse((const char *)data, size, "credential \"fuzz\"", "fuzz.json", NULL,
                               &src, &err) == AIGW_OK)
        (void)aigw__gcp_source_has_key(src);
    aigw__gcp_source_free(src);
    aigw_error_free(err);
    return 0;
}
