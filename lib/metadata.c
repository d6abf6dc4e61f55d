/* SPDX-License-Identifier: MIT */
/* Metadata objects and their accessors, and what every caller of a
 * service's lister shares (lib/service.h). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "service.h"

static void free_user(sluice_metadata *m) {
  for (size_t i = 0; i < 2 * m->nuser; i++) free(m->user[i]);
  free(m->user);
  m->user = NULL;
  m->nuser = 0;
}

sluice_metadata *sluice__metadata_new(void) {
  sluice_metadata *m = calloc(1, sizeof(*m));
  if (m) m->mtime = -1;
  return m;
}

void sluice__metadata_clear(sluice_metadata *m) {
  free(m->etag);
  free(m->content_type);
  free_user(m);
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

sluice_error *sluice__metadata_set_user(sluice_metadata *m, const char *pairs, size_t len) {
  free_user(m);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += pairs[i] == '\0';
  if (n < 2) return NULL;
  if (!(m->user = calloc(n, sizeof(*m->user)))) return sluice__error_oom();
  const char *p = pairs;
  for (size_t i = 0; i + 1 < n; i += 2) {
    m->user[i] = strdup(p);
    p += strlen(p) + 1;
    m->user[i + 1] = strdup(p);
    p += strlen(p) + 1;
    m->nuser++;
    if (!m->user[i] || !m->user[i + 1]) {
      free_user(m);
      return sluice__error_oom();
    }
  }
  return NULL;
}

size_t sluice_metadata_user_count(const sluice_metadata *m) { return m ? m->nuser : 0; }

int sluice_metadata_user(const sluice_metadata *m, size_t i, const char **name,
                         const char **value) {
  const char *n = NULL, *v = NULL;
  if (m && i < m->nuser) {
    n = m->user[2 * i];
    v = m->user[2 * i + 1];
  }
  if (name) *name = n;
  if (value) *value = v;
  return n ? 0 : -1;
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
