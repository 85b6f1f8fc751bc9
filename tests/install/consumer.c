/* SPDX-License-Identifier: Apache-2.0 */
/* A synchronous consumer of the installed headers and library: built as
 * strict C11 (-std=c11 -pedantic -Werror -Wall -Wextra, no feature macros)
 * by tests/check-install.sh, so <aigw/aigw.h> must need nothing but the C
 * library. Runs one chat on the built-in mock/echo model. */
#include <aigw/aigw.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    aigw_client_options opts = AIGW_CLIENT_OPTIONS_INIT;
    aigw_call_options call = AIGW_CALL_OPTIONS_INIT;
    aigw_call_info info;
    aigw_client *c = NULL;
    aigw_error *err = NULL;
    char *out = NULL, *text = NULL;
    int good;

    call.info = &info;
    if (aigw_client_new(&c, &opts, &err) != AIGW_OK ||
        aigw_call(c, AIGW_OP_CHAT,
                  "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}]}",
                  &call, NULL, NULL, &out, &err) != AIGW_OK) {
        fprintf(stderr, "consumer: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        aigw_client_free(c);
        return 1;
    }
    good = aigw_chat_response_text(out, &text) == AIGW_OK && strcmp(text, "ok") == 0 &&
           aigw_version() == AIGW_VERSION_HEX &&
           strcmp(aigw_version_string(), AIGW_VERSION_STRING) == 0;
    if (good)
        printf("installed libaigw %s works\n", aigw_version_string());
    else
        printf("unexpected: %s (version %s)\n", out, aigw_version_string());
    aigw_free(text);
    aigw_free(out);
    aigw_client_free(c);
    return good ? 0 : 1;
}
