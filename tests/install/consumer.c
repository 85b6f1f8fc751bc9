/* SPDX-License-Identifier: Apache-2.0 */
/* Uses the installed headers and library: one mock chat. */
#include <aigw/aigw.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    aigw_client *c = NULL;
    char *out = NULL;
    if (aigw_client_new_from_env(&c, NULL) ||
        aigw_chat(c,
                  "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\",\"content\":\"ok\"}]}",
                  &out, NULL))
        return 1;
    int good = strstr(out, "\"ok\"") != NULL && aigw_version() == AIGW_VERSION_HEX;
    printf("%s\n", good ? "installed libaigw works" : out);
    aigw_free(out);
    aigw_client_free(c);
    return good ? 0 : 1;
}
