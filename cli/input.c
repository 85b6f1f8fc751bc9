/* SPDX-License-Identifier: Apache-2.0 */
/* aigw-cli — reading standard input and request files, never more than a
 * cap (--max-input): a runaway pipe is refused, not swallowed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_stdin_is_piped(void) {
    if (fcntl(STDIN_FILENO, F_GETFD) == -1) {
        return 0; /* closed: nothing to read */
    }
    return !isatty(STDIN_FILENO);
}

int cli_parse_size(const char *command, const char *option, const char *text, size_t *out) {
    const char *p = text;
    unsigned long long v = 0, unit = 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (CLI_MAX_INPUT_LIMIT / 10)) {
            goto bad;
        }
        v = v * 10 + (unsigned long long)(*p++ - '0');
        digits++;
    }
    if (!digits) {
        goto bad;
    }
    switch (*p) {
    case 'k':
    case 'K':
        unit = 1024ull, p++;
        break;
    case 'm':
    case 'M':
        unit = 1024ull * 1024, p++;
        break;
    case 'g':
    case 'G':
        unit = 1024ull * 1024 * 1024, p++;
        break;
    default:
        break;
    }
    if (unit > 1 && *p == 'i') { /* KiB, MiB, GiB */
        p++;
        if (*p != 'B') {
            goto bad;
        }
    }
    if (*p == 'B' || *p == 'b') {
        p++;
    }
    if (*p != '\0' || v == 0 || v > CLI_MAX_INPUT_LIMIT / unit) {
        goto bad;
    }
    *out = (size_t)(v * unit);
    return 0;
bad:
    cli_usage_error(command,
                    "%s expects a size in bytes from 1 to 4G, optionally with a K, M or G "
                    "suffix (32M), not '%s'",
                    option, text);
    return -1;
}

static void too_large(const char *what, size_t max) {
    cli_errorf("%s is larger than --max-input (%zu bytes): stopped reading; raise the cap with "
               "--max-input BYTES (e.g. --max-input 64M)",
               what, max);
}

/* Reads fd to its end into a NUL-terminated malloc'd buffer of at most max
 * bytes. `what` names the source in messages ("standard input", "request
 * file x.json"); `option` is the option that sets the cap. */
static int read_capped(int fd, const char *what, size_t max, char **out, size_t *len) {
    size_t cap = 0, n = 0;
    char *buf = NULL;
    *out = NULL;
    *len = 0;
    for (;;) {
        if (cap - n < 2) {
            /* grow by doubling, never past max + 2 (one byte to see that
             * there is more, one for the NUL) */
            size_t want = cap ? cap * 2 : 65536;
            if (want > max + 2) {
                want = max + 2;
            }
            if (want <= cap) {
                free(buf);
                too_large(what, max);
                return CLI_EXIT_USAGE;
            }
            char *bigger = realloc(buf, want);
            if (!bigger) {
                free(buf);
                cli_errorf("out of memory reading %s", what);
                return CLI_EXIT_FAILURE;
            }
            buf = bigger;
            cap = want;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            int e = errno;
            free(buf);
            cli_errorf("cannot read %s: %s", what, strerror(e));
            return CLI_EXIT_FAILURE;
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
        if (n > max) {
            free(buf);
            too_large(what, max);
            return CLI_EXIT_USAGE;
        }
    }
    if (!buf && !(buf = malloc(1))) {
        cli_errorf("out of memory reading %s", what);
        return CLI_EXIT_FAILURE;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        cli_errorf("%s contains a NUL byte", what);
        return CLI_EXIT_FAILURE;
    }
    *out = buf;
    *len = n;
    return CLI_EXIT_OK;
}

int cli_read_stdin(size_t max, char **out, size_t *len) {
    return read_capped(STDIN_FILENO, "standard input", max, out, len);
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len) {
    if (strcmp(path, "-") == 0) {
        return cli_read_stdin(max, out, len);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        cli_errorf("cannot open %s: %s", path, strerror(e));
        return CLI_EXIT_USAGE;
    }
    char what[512];
    snprintf(what, sizeof(what), "%s", path);
    int rc = read_capped(fd, what, max, out, len);
    close(fd);
    return rc;
}

size_t cli_trim_newlines(char *s, size_t len) {
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        s[--len] = '\0';
    }
    return len;
}
