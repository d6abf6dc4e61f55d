/* SPDX-License-Identifier: MIT */
/* Metadata objects and their accessors, and what every caller of a
 * service's lister shares (lib/service.h). */
#include <stdlib.h>

#include "service.h"

sluice_metadata *sluice__metadata_new(void) {
  sluice_metadata *m = calloc(1, sizeof(*m));
  if (m) m->mtime = -1;
  return m;
}

void sluice__metadata_clear(sluice_metadata *m) {
  free(m->etag);
  free(m->content_type);
  *m = (sluice_metadata){0};
  m->mtime = -1;
}

uint64_t sluice_metadata_size(const sluice_metadata *m) { return m ? m->size : 0; }
int sluice_metadata_is_dir(const sluice_metadata *m) { return m ? m->is_dir : 0; }
int64_t sluice_metadata_mtime(const sluice_metadata *m) { return m ? m->mtime : -1; }
const char *sluice_metadata_etag(const sluice_metadata *m) { return m ? m->etag : NULL; }
const char *sluice_metadata_content_type(const sluice_metadata *m) {
  return m ? m->content_type : NULL;
}

void sluice_metadata_free(sluice_metadata *m) {
  if (!m) return;
  sluice__metadata_clear(m);
  free(m);
}

sluice_error *sluice__list_next_path(sluice__list *l, char **path_out) {
  sluice_metadata m = {.mtime = -1};
  *path_out = NULL;
  sluice_error *err = l->vt->next(l, path_out, &m);
  sluice__metadata_clear(&m);
  return err;
}
