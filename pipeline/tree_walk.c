/* SPDX-License-Identifier: MIT */
/* Tree jobs: the walk.  The dispatcher reads the source listing (for sync
 * also the destination's, both in byte order, merged like two sorted
 * files), applies the filters and the range, and decides per object: copy,
 * skip, delete.  Only the current entry of each side is held. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "operator.h"
#include "path.h"
#include "tree.h"

/* One side of the walk: a listing and its current entry. */
struct side {
  sluice__list *l;
  const char *prefix; /* listing prefix */
  const char *skip;   /* same store: the other tree inside this one */
  char *path;
  sluice_metadata meta;
  const char *rel;
  char *prev; /* sync: the previous rel, to check the order */
  size_t prev_cap;
  int done;
};

static sluice_error *side_open(sluice_operator *op, struct side *sd, const char *prefix,
                               const char *skip, int missing_ok) {
  *sd = (struct side){.prefix = prefix, .skip = skip};
  sd->meta.mtime = -1;
  sluice_error *err = op->vt->list(op->svc, prefix, 1, &sd->l);
  if (err && missing_ok && sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND) {
    sluice_error_free(err);
    sd->done = 1;
    return NULL;
  }
  return err;
}

static void side_close(struct side *sd) {
  if (sd->l) sd->l->vt->free(sd->l);
  free(sd->path);
  free(sd->prev);
  sluice__metadata_clear(&sd->meta);
}

/* Moves to the next entry the filters select (sd->done at the end).  A
 * listing is input from the network, so it is held to its promises here,
 * where its keys become destination names: every key under the prefix
 * (none is mapped onto a name nobody asked for), in strictly ascending
 * byte order.  The sync merge and stopping at `to` rely on that order, and
 * a key listed twice would be written twice at once. */
static sluice_error *side_next(sluice__tree *t, struct side *sd) {
  size_t plen = strlen(sd->prefix), slen = sd->skip ? strlen(sd->skip) : 0;
  while (!sd->done) {
    free(sd->path);
    sd->path = NULL;
    sluice__metadata_clear(&sd->meta);
    sluice_error *err = sd->l->vt->next(sd->l, &sd->path, &sd->meta);
    if (err) return err;
    if (!sd->path) {
      sd->done = 1;
      break;
    }
    if ((err = sluice__path_listed_under(t->verb, sd->prefix, sd->path))) return err;
    size_t n = strlen(sd->path);
    /* Directory markers ("a/") are not objects. */
    if (sd->meta.is_dir || !n || sd->path[n - 1] == '/') continue;
    if (slen && !strncmp(sd->path, sd->skip, slen)) continue;
    sd->rel = sd->path + plen;
    if (sd->prev && strcmp(sd->rel, sd->prev) <= 0)
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "%s: the listing of '%s' %s ('%s' after '%s'); the listing is refused",
                           t->verb, sd->prefix,
                           strcmp(sd->rel, sd->prev) ? "goes backwards, not in byte order"
                                                     : "repeats a key",
                           sd->rel, sd->prev);
    size_t rl = strlen(sd->rel) + 1;
    if (rl > sd->prev_cap) {
      char *p = realloc(sd->prev, rl);
      if (!p) return sluice__error_oom();
      sd->prev = p;
      sd->prev_cap = rl;
    }
    memcpy(sd->prev, sd->rel, rl);
    /* In a listing known to be in order, nothing at or past `to` can
     * follow: a shard stops reading there. */
    if (t->o.to && strcmp(sd->rel, t->o.to) >= 0) {
      sd->done = 1;
      break;
    }
    if (sluice__tree_selected(&t->o, sd->rel)) break;
  }
  return NULL;
}

/* Queues the side's current entry (a copy from src, or a deletion at dst);
 * hash: 0, or what a worker checks first (sluice__tree_same's answer). */
static sluice_error *plan(sluice__tree *t, const struct side *sd, int del, int hash,
                          const char *md5) {
  atomic_fetch_add(&t->total, 1);
  if (!del) atomic_fetch_add(&t->bytes_total, sd->meta.size);
  /* A dry run reports at once, unless bytes must decide (a worker does). */
  if (t->o.dry_run && !hash) {
    sluice__tree_report(t, sd->rel, sd->meta.size,
                        del ? SLUICE_OBJECT_DELETED : SLUICE_OBJECT_COPIED, NULL, NULL);
    return NULL;
  }
  struct sluice__item *it = calloc(1, sizeof(*it));
  if (!it || !(it->path = strdup(sd->path)) || !(it->rel = strdup(sd->rel))) {
    sluice__tree_item_free(it);
    return sluice__error_oom();
  }
  it->del = del;
  it->hash = hash;
  if (hash) memcpy(it->md5, md5, sizeof it->md5);
  it->size = sd->meta.size;
  it->mtime = sd->meta.mtime;
  if (sd->meta.etag && !(it->etag = strdup(sd->meta.etag))) {
    sluice__tree_item_free(it);
    return sluice__error_oom();
  }
  sluice__tree_queue(t, it);
  return NULL;
}

static sluice_error *walk_copy(sluice__tree *t, struct side *s) {
  sluice_error *err = NULL;
  while (!atomic_load(&t->stop) && !(err = side_next(t, s)) && !s->done)
    if ((err = plan(t, s, 0, 0, NULL))) break;
  return err;
}

/* Both listings in byte order, merged like two sorted files. */
static sluice_error *walk_sync(sluice__tree *t, struct side *s, struct side *d) {
  sluice_error *err = side_next(t, s);
  if (!err) err = side_next(t, d);
  while (!err && !atomic_load(&t->stop)) {
    if (s->done && (d->done || !t->o.del)) break;
    int c = s->done ? 1 : d->done ? -1 : strcmp(s->rel, d->rel);
    if (c < 0) {
      if (!(err = plan(t, s, 0, 0, NULL))) err = side_next(t, s);
    } else if (c > 0) {
      if (t->o.del) err = plan(t, d, 1, 0, NULL);
      if (!err) err = side_next(t, d);
    } else {
      char md5[33];
      int same = sluice__tree_same(&t->o, &s->meta, &d->meta, md5);
      if (same == SLUICE__TREE_SAME) {
        atomic_fetch_add(&t->total, 1);
        sluice__tree_report(t, s->rel, s->meta.size, SLUICE_OBJECT_SKIPPED, NULL, NULL);
      } else {
        err = plan(t, s, 0, same, md5); /* DIFFERENT is 0: nothing to check */
      }
      if (!err) err = side_next(t, s);
      if (!err) err = side_next(t, d);
    }
  }
  return err;
}

sluice_error *sluice__tree_walk(sluice__tree *t) {
  /* The same store both ways: neither walk enters the other tree. */
  int same = t->src == t->dst;
  const char *sskip =
      same && !strncmp(t->dprefix, t->sprefix, strlen(t->sprefix)) ? t->dprefix : NULL;
  const char *dskip =
      same && !strncmp(t->sprefix, t->dprefix, strlen(t->dprefix)) ? t->sprefix : NULL;
  struct side s = {0}, d = {0};
  sluice_error *err = side_open(t->src, &s, t->sprefix, sskip, 0);
  if (!err && t->o.sync) err = side_open(t->dst, &d, t->dprefix, dskip, 1);
  if (!err) err = t->o.sync ? walk_sync(t, &s, &d) : walk_copy(t, &s);
  side_close(&s);
  side_close(&d);
  return err;
}
