/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a small file whole (see file.h). */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

int aigw__file_read(const char *path, size_t max, aigw__buf *out, struct stat *st_out) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno ? errno : EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno ? errno : EIO;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return AIGW__ENOTREG;
    }
    if (st_out)
        *st_out = st;
    size_t start = out->len;
    char chunk[4096];
    int e = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? EIO : 0;
            break;
        }
        if (out->len - start + (size_t)n > max) {
            e = EFBIG;
            break;
        }
        if (aigw__buf_append(out, chunk, (size_t)n)) {
            e = ENOMEM;
            break;
        }
    }
    OPENSSL_cleanse(chunk, sizeof chunk);
    close(fd);
    if (e && out->data) { /* what was read of it goes */
        OPENSSL_cleanse(out->data + start, out->len - start);
        out->len = start;
        out->data[start] = '\0';
    }
    return e;
}

const char *aigw__file_strerror(int e) {
    switch (e) {
    case AIGW__ENOTREG:
        return "not a regular file (a FIFO, directory or device)";
    case EFBIG:
        return "too large";
    default:
        return strerror(e);
    }
}
