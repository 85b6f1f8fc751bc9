/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a small file whole (a config, a key), within a size cap. */
#ifndef AIGW_CORE_FILE_H
#define AIGW_CORE_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "core/buf.h"

/* Appends the regular file PATH to *out (NUL-terminated) when it holds at
 * most MAX bytes; *st_out (may be NULL) gets its fstat. Returns 0 or an
 * errno value: open's (ENOENT, EACCES...), AIGW__ENOTREG when PATH is not a
 * regular file, EFBIG when larger than MAX, ENOMEM, EIO. A FIFO, directory
 * or device is refused at once: the file is opened O_NONBLOCK and checked
 * with fstat before the first read, so a FIFO with no writer cannot block
 * the caller. The read buffer is wiped (files may hold secrets); on failure
 * *out is wiped and emptied. */
int aigw__file_read(const char *path, size_t max, aigw__buf *out, struct stat *st_out);

/* Not one of errno's values. */
#define AIGW__ENOTREG (-2)

/* E (from aigw__file_read) in words, e.g. "not a regular file (a FIFO,
 * directory or device)". */
const char *aigw__file_strerror(int e);

#endif
