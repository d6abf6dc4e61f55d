/* SPDX-License-Identifier: MIT */
/* sluice_reader_from_fd: a reader over the fd source of lib/fd.c.  It lives
 * at the operator's rank, beside the reader it wraps, so that lib/fd.c stays
 * a service that knows nothing above lib/service.h. */
#include "error.h"
#include "fd.h"
#include "reader.h"

sluice_error *sluice_reader_from_fd(int fd, sluice_reader **out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "sluice_reader_from_fd: out is NULL");
  *out = NULL;
  if (fd < 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "sluice_reader_from_fd: invalid fd %d", fd);
  sluice__source *src = NULL;
  sluice_error *err = sluice__fd_source_new(fd, &src);
  if (err) return err;
  return sluice__reader_wrap(src, out);
}
