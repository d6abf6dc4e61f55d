/* SPDX-License-Identifier: MIT */
/* Listing: a public iterator over a service's lister. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "operator.h"
#include "options.h"
#include "path.h"

struct sluice_entry {
  char *path;
  sluice_metadata meta;
};

struct sluice_lister {
  sluice__list *list;
  sluice_operator *op;
  char *dir; /* as listed: every entry must lie under it */
  struct sluice_entry cur;
  int done;
};

static const char *const list_keys[] = {"recursive", NULL};

sluice_error *sluice_list(sluice_operator *op, const char *path, const sluice_options *opts,
                          sluice_lister **out) {
  if (out) *out = NULL;
  if (!op || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "list: operator and out must be non-NULL");
  sluice_error *err = sluice__opt_check_known(opts, "list", list_keys, NULL);
  int recursive;
  if (!err) err = sluice__opt_bool(opts, "recursive", 0, "list", &recursive);
  if (err) return err;
  if ((err = sluice__path_check("list", path, SLUICE__PATH_DIR))) return err;
  sluice_lister *l = calloc(1, sizeof(*l));
  if (!l || !(l->dir = strdup(path))) {
    free(l);
    return sluice__error_oom();
  }
  err = op->vt->list(op->svc, path, recursive, &l->list);
  if (err) {
    free(l->dir);
    free(l);
    return err;
  }
  l->cur.meta.mtime = -1;
  l->op = op;
  sluice__operator_ref(op);
  *out = l;
  return NULL;
}

sluice_error *sluice_lister_next(sluice_lister *l, const sluice_entry **entry_out) {
  if (entry_out) *entry_out = NULL;
  if (!l || !entry_out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "lister_next: lister and entry_out must be non-NULL");
  free(l->cur.path);
  l->cur.path = NULL;
  sluice__metadata_clear(&l->cur.meta);
  if (l->done) return NULL;
  sluice_error *err = l->list->vt->next(l->list, &l->cur.path, &l->cur.meta);
  if (err) return err;
  if (!l->cur.path) {
    l->done = 1;
    return NULL;
  }
  if ((err = sluice__path_listed_under("list", l->dir, l->cur.path))) {
    l->done = 1;
    return err;
  }
  *entry_out = &l->cur;
  return NULL;
}

const char *sluice_entry_path(const sluice_entry *e) { return e ? e->path : NULL; }
const sluice_metadata *sluice_entry_metadata(const sluice_entry *e) { return e ? &e->meta : NULL; }

void sluice_lister_free(sluice_lister *l) {
  if (!l) return;
  free(l->cur.path);
  sluice__metadata_clear(&l->cur.meta);
  l->list->vt->free(l->list);
  sluice__operator_unref(l->op);
  free(l->dir);
  free(l);
}
