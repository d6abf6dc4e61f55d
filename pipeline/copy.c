/* sluice_copy: server-side where the service can, else a streamed copy. */
#include <stdlib.h>

#include "error.h"
#include "operator.h"
#include "path.h"
#include "pipeline.h"

sluice_error *sluice_copy(sluice_operator *op, const char *src, const char *dst,
                          const sluice_options *opts) {
  if (!op) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "copy: operator is NULL");
  char *s = NULL, *d = NULL;
  sluice_error *err = sluice__path_normalize("copy", src, SLUICE__PATH_FILE, &s);
  if (!err) err = sluice__path_normalize("copy", dst, SLUICE__PATH_FILE, &d);
  if (!err && op->vt->copy) {
    sluice__write_params p;
    unsigned depth;
    err = sluice__write_params_parse(opts, op->vt->writer_keys, &p, &depth);
    if (!err) err = op->vt->copy(op->svc, s, d, &p);
  } else if (!err) {
    sluice_reader *r = NULL;
    sluice_writer *w = NULL;
    err = sluice_reader_open(op, s, NULL, &r);
    if (!err) err = sluice_writer_open(op, d, opts, &w);
    if (!err) err = sluice_write_from(w, r, NULL);
    if (!err) err = sluice_writer_close(w);
    sluice_writer_free(w);
    sluice_reader_free(r);
  }
  free(s);
  free(d);
  return err;
}
