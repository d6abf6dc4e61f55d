/* SPDX-License-Identifier: MIT */
/* sluice_copy: server-side where the service can, else a streamed copy. */
#include <stdlib.h>

#include "error.h"
#include "operator.h"
#include "options.h"
#include "path.h"
#include "pipeline.h"

sluice_error *sluice_copy(sluice_operator *op, const char *src, const char *dst,
                          const sluice_options *opts) {
  if (!op) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "copy: operator is NULL");
  /* opts holds writer options plus write_from's (readers, bwlimit,
   * progress): split them, since each consumer refuses names it does not
   * know. */
  sluice__copy_params cp = {.readers = 1};
  uint64_t readers, bw;
  sluice_options *wo = sluice__options_dup(opts);
  sluice_error *err = wo ? NULL : sluice__error_oom();
  if (!err) err = sluice__opt_count(opts, "readers", 1, 1, 64, "copy", &readers);
  if (!err) err = sluice__opt_size(opts, "bwlimit", 0, 0, UINT64_MAX, "copy", &bw);
  if (!err && bw && !(cp.rate = cp.own_rate = sluice__rate_new(bw))) err = sluice__error_oom();
  if (!err) {
    cp.readers = (unsigned)readers;
    sluice__opt_progress(opts, &cp.progress_cb, &cp.progress_userdata);
    sluice__options_unset(wo, "readers");
    sluice__options_unset(wo, "bwlimit");
  }
  if (!err) err = sluice__path_check("copy", src, SLUICE__PATH_FILE);
  if (!err) err = sluice__path_check("copy", dst, SLUICE__PATH_FILE);
  if (!err && op->vt->copy) {
    sluice__write_params p;
    unsigned depth;
    err = sluice__write_params_parse(wo, op->vt->writer_keys, &p, &depth);
    if (!err) err = op->vt->copy(op->svc, src, dst, &p);
  } else if (!err) {
    sluice_reader *r = NULL;
    sluice_writer *w = NULL;
    err = sluice_reader_open(op, src, NULL, &r);
    if (!err) err = sluice_writer_open(op, dst, wo, &w);
    if (!err) err = sluice__write_from(w, r, &cp);
    if (!err) err = sluice_writer_close(w);
    sluice_writer_free(w);
    sluice_reader_free(r);
  }
  sluice__copy_params_clear(&cp);
  sluice_options_free(wo);
  return err;
}
