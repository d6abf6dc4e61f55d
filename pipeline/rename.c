/* SPDX-License-Identifier: MIT */
/* sluice_rename: the service's own rename where it has one (fs:
 * rename(2)), else sluice_copy (server-side on s3) and a delete. */
#include <string.h>

#include "error.h"
#include "operator.h"
#include "path.h"

sluice_error *sluice_rename(sluice_operator *op, const char *src, const char *dst) {
  if (!op) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "rename: operator is NULL");
  sluice_error *err = sluice__path_check("rename", src, SLUICE__PATH_FILE);
  if (!err) err = sluice__path_check("rename", dst, SLUICE__PATH_FILE);
  if (err) return err;
  if (op->vt->rename) return op->vt->rename(op->svc, src, dst);
  if (strcmp(src, dst) == 0) { /* a copy then a delete would lose it */
    sluice_metadata *m = NULL;
    err = sluice_stat(op, src, &m);
    if (!err && sluice_metadata_is_dir(m))
      err = sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "rename '%s': is a directory", src);
    sluice_metadata_free(m);
    return err;
  }
  err = sluice_copy(op, src, dst, NULL);
  return err ? err : sluice_delete(op, src);
}
