/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — reading standard input (PROMPT "-", embed "-"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

char *cli_read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        cli_errorf("out of memory reading standard input");
        return NULL;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap > ((size_t)-1) / 2) {
                free(buf);
                cli_errorf("standard input is too large");
                return NULL;
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                cli_errorf("out of memory reading standard input");
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                int e = errno;
                free(buf);
                cli_errorf("cannot read standard input: %s", strerror(e));
                return NULL;
            }
            break;
        }
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        cli_errorf("standard input contains a NUL byte");
        return NULL;
    }
    *len = n;
    return buf;
}
