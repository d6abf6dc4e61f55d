/* SPDX-License-Identifier: MIT */
/*
 * What a tree job's dispatcher (pipeline/tree_walk.c), its checks
 * (pipeline/tree_compare.c) and its workers (pipeline/tree.c) share: the
 * queue between them, the outcomes they report, and the stop that winds
 * them all down.  It sits below all three, so none of them calls up into
 * another.
 */
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "error.h"
#include "reader.h"
#include "tree.h"

struct sluice_object_result {
  const char *path;
  uint64_t bytes;
  sluice_object_action action;
  const sluice_error *err;
  const char *verified;
};

/* ---- results ---- */

const char *sluice_object_result_path(const sluice_object_result *r) { return r ? r->path : NULL; }
uint64_t sluice_object_result_bytes(const sluice_object_result *r) { return r ? r->bytes : 0; }
sluice_object_action sluice_object_result_action(const sluice_object_result *r) {
  return r ? r->action : SLUICE_OBJECT_FAILED;
}
const sluice_error *sluice_object_result_error(const sluice_object_result *r) {
  return r ? r->err : NULL;
}
const char *sluice_object_result_verified(const sluice_object_result *r) {
  return r && r->verified ? r->verified : "none";
}


/* Counts an object's outcome and tells the callback.  Takes err.  In a
 * dry run nothing is copied or deleted: what the planners call a copy or
 * a deletion is reported and counted as what it would be. */
void sluice__tree_report(sluice__tree *t, const char *rel, uint64_t bytes,
                         sluice_object_action action, sluice_error *err, const char *verified) {
  if (t->o.dry_run && action == SLUICE_OBJECT_COPIED) action = SLUICE_OBJECT_WOULD_COPY;
  if (t->o.dry_run && action == SLUICE_OBJECT_DELETED) action = SLUICE_OBJECT_WOULD_DELETE;
  switch (action) {
  case SLUICE_OBJECT_COPIED:
    atomic_fetch_add(&t->done, 1);
    atomic_fetch_add(&t->bytes_done, bytes);
    break;
  case SLUICE_OBJECT_SKIPPED: atomic_fetch_add(&t->skipped, 1); break;
  case SLUICE_OBJECT_DELETED: atomic_fetch_add(&t->deleted, 1); break;
  case SLUICE_OBJECT_FAILED: atomic_fetch_add(&t->failed, 1); break;
  case SLUICE_OBJECT_WOULD_COPY: atomic_fetch_add(&t->would_copy, 1); break;
  case SLUICE_OBJECT_WOULD_DELETE: atomic_fetch_add(&t->would_delete, 1); break;
  }
  int fail_now = 0;
  pthread_mutex_lock(&t->res_lock);
  if (err && !t->first_fail) t->first_fail = sluice__error_copy(err);
  if (err && t->o.fail_fast && !t->fatal) {
    t->fatal = sluice__error_copy(err);
    fail_now = 1;
  }
  if (t->o.object_cb) {
    struct sluice_object_result r = {rel, bytes, action, err, verified};
    t->o.object_cb(&r, t->o.object_userdata);
  }
  pthread_mutex_unlock(&t->res_lock);
  sluice_error_free(err);
  if (fail_now) sluice__tree_stop(t);
}

/* ---- the queue between the dispatcher and the workers ---- */

void sluice__tree_item_free(struct sluice__item *it) {
  if (!it) return;
  free(it->path);
  free(it->rel);
  free(it->etag);
  free(it);
}

/* Takes it; -1 (it freed) once the queue is closed.  A dispatcher that
 * found the queue full waits until it is half empty, and a worker wakes it
 * only then: one wake-up per qcap/2 objects, not one per object (small
 * objects are cheap enough for that to show in their CPU). */
int sluice__tree_queue(sluice__tree *t, struct sluice__item *it) {
  pthread_mutex_lock(&t->qlock);
  if (t->qlen == t->qcap) {
    t->qfull_wait = 1;
    while (!t->qclosed && t->qlen > t->qcap / 2) pthread_cond_wait(&t->qroom, &t->qlock);
    t->qfull_wait = 0;
  }
  int ok = !t->qclosed;
  if (ok) {
    t->q[(t->qhead + t->qlen++) % t->qcap] = it;
    if (t->qidle) pthread_cond_signal(&t->qcond);
  }
  pthread_mutex_unlock(&t->qlock);
  if (!ok) sluice__tree_item_free(it);
  return ok ? 0 : -1;
}

/* NULL once the queue is closed and empty. */
struct sluice__item *sluice__tree_pop(sluice__tree *t) {
  pthread_mutex_lock(&t->qlock);
  while (!t->qclosed && t->qlen == 0) {
    t->qidle++;
    pthread_cond_wait(&t->qcond, &t->qlock);
    t->qidle--;
  }
  struct sluice__item *it = NULL;
  if (t->qlen) {
    it = t->q[t->qhead];
    t->qhead = (t->qhead + 1) % t->qcap;
    t->qlen--;
    if (t->qfull_wait && t->qlen <= t->qcap / 2) pthread_cond_signal(&t->qroom);
  }
  pthread_mutex_unlock(&t->qlock);
  return it;
}

void sluice__tree_close_queue(sluice__tree *t) {
  pthread_mutex_lock(&t->qlock);
  t->qclosed = 1;
  pthread_cond_broadcast(&t->qcond);
  pthread_cond_broadcast(&t->qroom);
  pthread_mutex_unlock(&t->qlock);
}

/* ---- paths and stopping ---- */

char *sluice__tree_dst_path(const sluice__tree *t, const struct sluice__item *it) {
  size_t dl = strlen(t->dprefix), rl = strlen(it->rel);
  char *dpath = malloc(dl + rl + 1);
  if (dpath) {
    memcpy(dpath, t->dprefix, dl);
    memcpy(dpath + dl, it->rel, rl + 1);
  }
  return dpath;
}

void sluice__tree_stop(sluice__tree *t) {
  atomic_store(&t->stop, 1);
  sluice__budget_close(&t->budget);
  sluice__tree_close_queue(t);
  for (unsigned i = 0; i < t->nslots; i++) {
    struct sluice__slot *s = &t->slots[i];
    pthread_mutex_lock(&s->lock);
    if (s->w) sluice__writer_cancel(s->w);
    if (s->r && s->r->src->vt->interrupt) s->r->src->vt->interrupt(s->r->src);
    pthread_mutex_unlock(&s->lock);
  }
}
