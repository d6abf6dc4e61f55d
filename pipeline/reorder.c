/* SPDX-License-Identifier: MIT */
/*
 * In-order delivery for sinks that need it (a pipe, stdout).  Chunks come
 * out of the ring in any order; each waits in a slot until every earlier
 * index has been taken.  The stage needs no memory of its own beyond one
 * slot per pool buffer: a chunk index is claimed only by a producer that
 * already holds a buffer, so the lowest missing index always owns a buffer
 * and is on its way, and at most pool-size indices are outstanding.
 *
 * A plain data structure: no lock and no calls out.  pipeline/workers.c
 * drives it under its own lock and does the writing and the accounting.
 */
#include <stdlib.h>

#include "pipeline.h"

struct sluice__reorder {
  uint64_t next; /* index the sink needs next */
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
  return r;
}

void sluice__reorder_put(sluice__reorder *r, sluice__chunk *c) {
  r->slots[c->index % r->nslots] = c;
}

sluice__chunk *sluice__reorder_next(sluice__reorder *r) {
  sluice__chunk **slot = &r->slots[r->next % r->nslots];
  sluice__chunk *c = *slot;
  if (!c || c->index != r->next) return NULL;
  *slot = NULL;
  r->next++;
  return c;
}

sluice__chunk *sluice__reorder_take_any(sluice__reorder *r) {
  for (size_t i = 0; i < r->nslots; i++) {
    sluice__chunk *c = r->slots[i];
    if (c) {
      r->slots[i] = NULL;
      return c;
    }
  }
  return NULL;
}

void sluice__reorder_free(sluice__reorder *r) {
  if (!r) return;
  free(r->slots);
  free(r);
}
