/* SPDX-License-Identifier: MIT */
/*
 * In-order delivery for sinks that need it (a pipe, stdout).  Chunks come
 * out of the ring in any order; each waits in a slot until every earlier
 * index has been written.  The stage needs no memory of its own beyond one
 * slot per pool buffer: a chunk index is claimed only by a producer that
 * already holds a buffer, so the lowest missing index always owns a buffer
 * and is on its way, and at most pool-size indices are outstanding.
 */
#include <stdlib.h>

#include "pipeline.h"

struct sluice__reorder {
  pthread_mutex_t lock;
  uint64_t next;        /* index the sink needs next */
  size_t nslots;
  sluice__chunk **slots;
};

sluice__reorder *sluice__reorder_new(size_t slots) {
  sluice__reorder *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->slots = calloc(slots, sizeof(*r->slots));
  if (!r->slots) {
    free(r);
    return NULL;
  }
  r->nslots = slots;
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void sluice__reorder_submit(sluice__pipe *p, sluice__chunk *c) {
  sluice__reorder *r = p->reorder;
  pthread_mutex_lock(&r->lock);
  r->slots[c->index % r->nslots] = c;
  /* Writing under the lock is the point: an ordered sink takes one part at
   * a time, and a worker arriving meanwhile only parks its chunk. */
  sluice__chunk *next;
  while ((next = r->slots[r->next % r->nslots]) && next->index == r->next) {
    r->slots[r->next % r->nslots] = NULL;
    r->next++;
    int failed = atomic_load_explicit(&p->failed, memory_order_acquire);
    sluice_error *err = failed ? NULL : p->sink->vt->write_part(p->sink, next);
    if (failed) {
      /* Count it done without writing, so in-flight accounting balances. */
      atomic_fetch_sub(&p->parts_in_flight, 1);
      sluice__bufpool_put(p->pool, next);
    } else {
      sluice__part_done(next, err);
    }
  }
  pthread_mutex_unlock(&r->lock);
}

void sluice__reorder_drain(sluice__pipe *p) {
  sluice__reorder *r = p->reorder;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->nslots; i++) {
    sluice__chunk *c = r->slots[i];
    if (!c) continue;
    r->slots[i] = NULL;
    atomic_fetch_sub(&p->parts_in_flight, 1);
    sluice__bufpool_put(p->pool, c);
  }
  pthread_mutex_unlock(&r->lock);
}

void sluice__reorder_free(sluice__reorder *r) {
  if (!r) return;
  pthread_mutex_destroy(&r->lock);
  free(r->slots);
  free(r);
}
