/* SPDX-License-Identifier: MIT */
/*
 * The free chunks live in a ring, so get() and put() inherit its lock-free
 * fast path and its sleeping slow path.
 *
 * Close.  Closing the pool must wake a get() asleep in ring_pop, and only
 * ring_close does that; but a closed ring still hands out what it holds,
 * and refuses pushes.  So close sets the pool's own flag first and then
 * closes the ring, and get() checks the flag before and after popping: a
 * chunk popped after the close is simply not handed out.  Nothing leaks
 * because the pool owns every descriptor through `all`, whether or not it
 * is in the free list: a put() after close (workers giving buffers back
 * during cancel) resets the chunk and drops it when the push fails, and
 * free() releases everything from `all`.
 */
#include "bufpool.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ring.h"

struct sluice__bufpool {
  sluice__ring *free_list; /* chunks nobody holds (until close) */
  sluice__chunk *all;      /* every descriptor, for free() */
  size_t n;
  size_t size;
  atomic_size_t out; /* handed out and not yet returned */
  atomic_int closed;
};

sluice__bufpool *sluice__bufpool_new(size_t n, size_t size) {
  if (n == 0 || size == 0) return NULL;
  sluice__bufpool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->n = n;
  p->size = size;
  atomic_init(&p->out, 0);
  atomic_init(&p->closed, 0);
  p->free_list = sluice__ring_new(n); /* n <= capacity: put never finds it full for long */
  p->all = calloc(n, sizeof(*p->all));
  if (!p->free_list || !p->all) goto fail;
  for (size_t i = 0; i < n; i++) {
    /* Not calloc: pages stay untouched until a chunk is filled.  Aligned so
     * a file sink can hand the buffer to an O_DIRECT write as it is. */
    void *buf;
    if (posix_memalign(&buf, SLUICE__BUF_ALIGN, size) != 0) goto fail;
    p->all[i].buf = buf;
    p->all[i].cap = size;
    sluice__ring_try_push(p->free_list, &p->all[i]); /* cannot fail: room for n */
  }
  return p;
fail:
  sluice__bufpool_free(p);
  return NULL;
}

void sluice__bufpool_free(sluice__bufpool *p) {
  if (!p) return;
  for (size_t i = 0; p->all && i < p->n; i++) free(p->all[i].buf);
  free(p->all);
  sluice__ring_free(p->free_list);
  free(p);
}

size_t sluice__bufpool_count(const sluice__bufpool *p) { return p ? p->n : 0; }

size_t sluice__bufpool_chunk_size(const sluice__bufpool *p) { return p ? p->size : 0; }

static int pool_closed(sluice__bufpool *p) {
  /* Acquire: pairs with close's release, so a getter that sees the close
   * also sees what the closer did before it (say, recording an error). */
  return atomic_load_explicit(&p->closed, memory_order_acquire);
}

/* Turns a chunk popped from the free list into a handed-out one, unless the
 * pool closed meanwhile (then the chunk stays parked in `all`). */
static sluice__chunk *hand_out(sluice__bufpool *p, sluice__chunk *c) {
  if (!c || pool_closed(p)) return NULL;
  /* Relaxed: a statistic; the chunk itself travelled through the ring. */
  atomic_fetch_add_explicit(&p->out, 1, memory_order_relaxed);
  return c;
}

sluice__chunk *sluice__bufpool_get(sluice__bufpool *p) {
  if (pool_closed(p)) return NULL;
  /* NULL only when the ring is closed and empty, i.e. the pool is closed. */
  return hand_out(p, sluice__ring_pop(p->free_list));
}

sluice__chunk *sluice__bufpool_try_get(sluice__bufpool *p) {
  if (pool_closed(p)) return NULL;
  return hand_out(p, sluice__ring_try_pop(p->free_list));
}

void sluice__bufpool_put(sluice__bufpool *p, sluice__chunk *c) {
  if (!p || !c) return;
  assert(c >= p->all && c < p->all + p->n);
  c->index = 0;
  c->offset = 0;
  c->len = 0;
  c->last = 0;
  c->owner = NULL;
  c->part = NULL;
  /* Relaxed: a statistic, as in hand_out. */
  size_t was = atomic_fetch_sub_explicit(&p->out, 1, memory_order_relaxed);
  assert(was > 0);
  (void)was;
  /* The blocking push, not try_push: with n <= capacity the ring is never
   * really full, but Vyukov's ring can look full for a moment while a
   * consumer that claimed the cell a lap ago has not released it yet.  It
   * fails only once closed, and then nobody will get() the chunk again. */
  (void)sluice__ring_push(p->free_list, c);
}

void sluice__bufpool_close(sluice__bufpool *p) {
  if (!p) return;
  /* Release: set before the ring closes, so a getter woken by the ring's
   * close (through its mutex) already sees the flag. */
  atomic_store_explicit(&p->closed, 1, memory_order_release);
  sluice__ring_close(p->free_list);
}

size_t sluice__bufpool_in_use(const sluice__bufpool *p) {
  /* Relaxed: a snapshot. */
  return p ? atomic_load_explicit(&p->out, memory_order_relaxed) : 0;
}
