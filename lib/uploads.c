/* SPDX-License-Identifier: MIT */
/* Multipart uploads in progress: the public lister and abort over the
 * service's list_uploads and abort_upload (see sluice.h). */
#include <stdlib.h>

#include "error.h"
#include "operator.h"
#include "path.h"

struct sluice_upload {
  char *path;
  char *id;
  int64_t initiated;
};

struct sluice_upload_lister {
  sluice__upload_list *list;
  sluice_operator *op;
  struct sluice_upload cur;
  int done;
};

static sluice_error *no_uploads(const sluice_operator *op, const char *what) {
  return sluice__error(SLUICE_ERR_UNSUPPORTED, "%s: the %s service has no multipart uploads", what,
                       op->vt->scheme);
}

sluice_error *sluice_uploads_list(sluice_operator *op, const char *prefix,
                                  sluice_upload_lister **out) {
  if (out) *out = NULL;
  if (!op || !prefix || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "uploads_list: operator, prefix and out must be non-NULL");
  if (!op->vt->list_uploads) return no_uploads(op, "uploads_list");
  sluice_error *err = sluice__path_check("uploads_list", prefix, SLUICE__PATH_ANY);
  if (err) return err;
  sluice_upload_lister *l = calloc(1, sizeof(*l));
  if (!l) return sluice__error_oom();
  err = op->vt->list_uploads(op->svc, prefix, &l->list);
  if (err) {
    free(l);
    return err;
  }
  l->cur.initiated = -1;
  l->op = op;
  sluice__operator_ref(op);
  *out = l;
  return NULL;
}

sluice_error *sluice_upload_lister_next(sluice_upload_lister *l, const sluice_upload **upload_out) {
  if (upload_out) *upload_out = NULL;
  if (!l || !upload_out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "upload_lister_next: lister and upload_out must be non-NULL");
  free(l->cur.path);
  free(l->cur.id);
  l->cur.path = l->cur.id = NULL;
  l->cur.initiated = -1;
  if (l->done) return NULL;
  sluice_error *err = l->list->vt->next(l->list, &l->cur.path, &l->cur.id, &l->cur.initiated);
  if (err) return err;
  if (!l->cur.path) {
    l->done = 1;
    return NULL;
  }
  *upload_out = &l->cur;
  return NULL;
}

const char *sluice_upload_path(const sluice_upload *u) { return u ? u->path : NULL; }
const char *sluice_upload_id(const sluice_upload *u) { return u ? u->id : NULL; }
int64_t sluice_upload_initiated(const sluice_upload *u) { return u ? u->initiated : -1; }

void sluice_upload_lister_free(sluice_upload_lister *l) {
  if (!l) return;
  free(l->cur.path);
  free(l->cur.id);
  l->list->vt->free(l->list);
  sluice__operator_unref(l->op);
  free(l);
}

sluice_error *sluice_upload_abort(sluice_operator *op, const char *path, const char *upload_id) {
  if (!op || !path || !upload_id || !*upload_id)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "upload_abort: operator, path and a non-empty upload id are required");
  if (!op->vt->abort_upload) return no_uploads(op, "upload_abort");
  sluice_error *err = sluice__path_check("upload_abort", path, SLUICE__PATH_FILE);
  if (err) return err;
  return op->vt->abort_upload(op->svc, path, upload_id);
}
