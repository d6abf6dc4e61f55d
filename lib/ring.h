/* SPDX-License-Identifier: MIT */
/*
 * Bounded lock-free multi-producer multi-consumer queue of pointers
 * (Dmitry Vyukov's per-cell sequence design), with blocking push/pop that
 * sleep on a condition variable after a short bounded spin, and close().
 *
 * Why hand-written: the only packaged C MPMC ring (Concurrency Kit's
 * ck_ring) has no blocking or close, which is exactly what backpressure and
 * cancellation need here; the fast path is ~60 lines either way.
 */
#ifndef SLUICE_LIB_RING_H
#define SLUICE_LIB_RING_H

#include <stddef.h>

typedef struct sluice__ring sluice__ring;

/* Capacity is min_capacity rounded up to a power of two (>= 2).  NULL when
 * out of memory or min_capacity is 0 or absurd (> 2^30). */
sluice__ring *sluice__ring_new(size_t min_capacity);
/* Not thread-safe: every other thread must be done with the ring. */
void sluice__ring_free(sluice__ring *r);
size_t sluice__ring_capacity(const sluice__ring *r);
/* Items queued right now (a snapshot, exact only when quiescent). */
size_t sluice__ring_size(const sluice__ring *r);

/* item must not be NULL.  try_push: 1 pushed, 0 full or closed.
 * try_pop: the item, or NULL when empty. */
int sluice__ring_try_push(sluice__ring *r, void *item);
void *sluice__ring_try_pop(sluice__ring *r);
/* Blocks (sleeping) while full.  0 pushed, -1 the ring was closed (the item
 * was not pushed: the caller still owns it). */
int sluice__ring_push(sluice__ring *r, void *item);
/* Blocks (sleeping) while empty.  NULL only once closed *and* empty: items
 * queued before close are still delivered, so nothing is leaked. */
void *sluice__ring_pop(sluice__ring *r);
/* Wakes every waiter; later pushes fail.  Idempotent, any thread. */
void sluice__ring_close(sluice__ring *r);
int sluice__ring_is_closed(const sluice__ring *r);

#endif
