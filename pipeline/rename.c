/* SPDX-License-Identifier: MIT */
/* sluice_rename: the service's own rename where it has one (fs:
 * rename(2)), else sluice_copy (server-side on s3) and a delete. */
#include "error.h"
#include "operator.h"
#include "path.h"

sluice_error *sluice_rename(sluice_operator *op, const char *src, const char *dst) {
  if (!op) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "rename: operator is NULL");
  sluice_error *err = sluice__path_check("rename", src, SLUICE__PATH_FILE);
  if (!err) err = sluice__path_check("rename", dst, SLUICE__PATH_FILE);
  if (err) return err;
  if (op->vt->rename) return op->vt->rename(op->svc, src, dst);
  err = sluice_copy(op, src, dst, NULL);
  return err ? err : sluice_delete(op, src);
}
