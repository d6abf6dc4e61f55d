/* SPDX-License-Identifier: MIT */
/*
 * Bounded MPMC ring after Dmitry Vyukov's design: each cell carries a
 * sequence number that says whose turn it is.  A cell holds seq == pos while
 * free for the push at position pos, and seq == pos + 1 once that push has
 * published; the pop at pos then sets it to pos + capacity, freeing it for
 * the next lap.  Producers and consumers each contend only on their own
 * position counter, with one CAS per operation.
 *
 * Closing sets the top bit of the enqueue position, so a push either claimed
 * its position before the close (the CAS saw no bit) or fails: the count of
 * positions ever claimed is final once the bit is set, and "closed and
 * empty" becomes the exact test dequeue_pos == final enqueue_pos.
 *
 * Sleeping.  A waiter registers in a counter under the mutex, re-checks the
 * ring, and waits; a publisher checks that counter after publishing and
 * takes the mutex only when it is non-zero.  Both sides use seq_cst for the
 * register/publish and the check (a Dekker pair): in the single total order
 * of seq_cst operations either the waiter's re-check comes after the
 * publish (and sees the item), or the registration comes before the
 * publisher's check (and the publisher signals).  The signal is taken under
 * the mutex the waiter holds from re-check to wait, so it cannot fall into
 * that gap.  pthread_cond_signal wakes one waiter, which may have slept on
 * another position (publishes can finish out of order) and sleep again; so
 * a waiter that leaves the wait loop hands the signal on to the next one,
 * and a chain of wake-ups reaches every waiter that has work.
 */
#include "ring.h"

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define CACHELINE 64
#define CLOSED_BIT ((uint64_t)1 << 63)
#define SPIN_TRIES 100

/* 64-bit positions: at 2^63 operations they never wrap in practice, which
 * also leaves the top bit free for the closed flag. */
struct cell {
  _Atomic uint64_t seq;
  void *item;
};

struct sluice__ring {
  /* Read-only after creation; shares no line with the hot counters. */
  struct cell *cells;
  uint64_t mask;
  alignas(CACHELINE) _Atomic uint64_t enqueue_pos; /* | CLOSED_BIT */
  alignas(CACHELINE) _Atomic uint64_t dequeue_pos;
  /* Slow path only. */
  alignas(CACHELINE) atomic_uint push_waiters;
  atomic_uint pop_waiters;
  pthread_mutex_t lock;
  pthread_cond_t not_full;
  pthread_cond_t not_empty;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* 1 pushed, 0 full, -1 closed. */
static int enqueue(sluice__ring *r, void *item) {
  /* Relaxed: a stale position is caught by the cell's seq check or the CAS. */
  uint64_t pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
  struct cell *c;
  for (;;) {
    if (pos & CLOSED_BIT) return -1;
    c = &r->cells[pos & r->mask];
    /* seq_cst: acquire orders the last lap's read of item before our write;
     * seq_cst makes this a sleeping pusher's re-check in the Dekker pair. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_seq_cst);
    int64_t dif = (int64_t)(seq - pos);
    if (dif == 0) {
      /* Relaxed: the CAS only elects a producer (the seq carries the data),
       * and enqueue_pos's modification order alone orders it against close. */
      if (atomic_compare_exchange_weak_explicit(&r->enqueue_pos, &pos, pos + 1,
                                                memory_order_relaxed, memory_order_relaxed))
        break;
    } else if (dif < 0) {
      return 0; /* the cell from the previous lap is not consumed yet */
    } else {
      /* Relaxed: as above, another producer got ahead; just retry. */
      pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
    }
  }
  c->item = item;
  /* seq_cst: release publishes item; seq_cst is the publisher's Dekker half. */
  atomic_store_explicit(&c->seq, pos + 1, memory_order_seq_cst);
  return 1;
}

/* The item, or NULL when the cell at the head is not published yet. */
static void *dequeue(sluice__ring *r) {
  /* Relaxed: a stale position is caught by the cell's seq check or the CAS. */
  uint64_t pos = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
  struct cell *c;
  for (;;) {
    c = &r->cells[pos & r->mask];
    /* seq_cst: acquire to see the item; seq_cst makes this the re-check of a
     * sleeping popper (or of a caller's seq_cst store, then try_pop) in the
     * Dekker pair with the publish. */
    uint64_t seq = atomic_load_explicit(&c->seq, memory_order_seq_cst);
    int64_t dif = (int64_t)(seq - (pos + 1));
    if (dif == 0) {
      /* Relaxed: the CAS only elects a consumer; the seq carries the data. */
      if (atomic_compare_exchange_weak_explicit(&r->dequeue_pos, &pos, pos + 1,
                                                memory_order_relaxed, memory_order_relaxed))
        break;
    } else if (dif < 0) {
      return NULL;
    } else {
      /* Relaxed: another consumer got ahead; just retry. */
      pos = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
    }
  }
  void *item = c->item;
  /* seq_cst: release orders our read before the next lap's write; seq_cst
   * is the releaser's half of the Dekker pair with a sleeping pusher. */
  atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_seq_cst);
  return item;
}

/* Closed, and every position ever claimed by a push has been claimed by a
 * pop: nothing is left and nothing can come. */
static int drained(sluice__ring *r) {
  /* Relaxed: once the bit is seen the claimed count is final, and
   * dequeue_pos only grows, so a stale read can only say "not yet" (and a
   * waiter that sleeps on "not yet" is woken by the pending publish). */
  uint64_t e = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
  if (!(e & CLOSED_BIT)) return 0;
  /* Relaxed: as above. */
  return atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed) >= (e & ~CLOSED_BIT);
}

/* Called after our own seq_cst publish or release of a cell. */
static void wake_one(sluice__ring *r, atomic_uint *waiters, pthread_cond_t *cv) {
  /* seq_cst: the checker's half of the Dekker pair (see top of file). */
  if (atomic_load_explicit(waiters, memory_order_seq_cst) == 0) return;
  pthread_mutex_lock(&r->lock);
  pthread_cond_signal(cv);
  pthread_mutex_unlock(&r->lock);
}

sluice__ring *sluice__ring_new(size_t min_capacity) {
  if (min_capacity == 0 || min_capacity > ((size_t)1 << 30)) return NULL;
  size_t cap = 2;
  while (cap < min_capacity) cap <<= 1;
  /* sizeof is a multiple of CACHELINE, as aligned_alloc requires. */
  sluice__ring *r = aligned_alloc(CACHELINE, sizeof(*r));
  if (!r) return NULL;
  r->cells = malloc(cap * sizeof(*r->cells));
  if (!r->cells) goto fail_cells;
  for (size_t i = 0; i < cap; i++) {
    atomic_init(&r->cells[i].seq, i);
    r->cells[i].item = NULL;
  }
  r->mask = cap - 1;
  atomic_init(&r->enqueue_pos, 0);
  atomic_init(&r->dequeue_pos, 0);
  atomic_init(&r->push_waiters, 0);
  atomic_init(&r->pop_waiters, 0);
  if (pthread_mutex_init(&r->lock, NULL)) goto fail_lock;
  if (pthread_cond_init(&r->not_full, NULL)) goto fail_full;
  if (pthread_cond_init(&r->not_empty, NULL)) goto fail_empty;
  return r;
fail_empty:
  pthread_cond_destroy(&r->not_full);
fail_full:
  pthread_mutex_destroy(&r->lock);
fail_lock:
  free(r->cells);
fail_cells:
  free(r);
  return NULL;
}

void sluice__ring_free(sluice__ring *r) {
  if (!r) return;
  pthread_cond_destroy(&r->not_empty);
  pthread_cond_destroy(&r->not_full);
  pthread_mutex_destroy(&r->lock);
  free(r->cells);
  free(r);
}

size_t sluice__ring_capacity(const sluice__ring *r) { return (size_t)r->mask + 1; }

size_t sluice__ring_size(const sluice__ring *r) {
  /* Relaxed: a snapshot; the two loads race with everyone, hence the clamp. */
  uint64_t d = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
  uint64_t e = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed) & ~CLOSED_BIT;
  if (e <= d) return 0;
  return e - d > r->mask ? (size_t)r->mask + 1 : (size_t)(e - d);
}

int sluice__ring_try_push(sluice__ring *r, void *item) {
  assert(item != NULL);
  if (enqueue(r, item) != 1) return 0;
  wake_one(r, &r->pop_waiters, &r->not_empty);
  return 1;
}

void *sluice__ring_try_pop(sluice__ring *r) {
  void *item = dequeue(r);
  if (item) wake_one(r, &r->push_waiters, &r->not_full);
  return item;
}

int sluice__ring_push(sluice__ring *r, void *item) {
  assert(item != NULL);
  int rc = 0;
  for (int i = 0; i < SPIN_TRIES && (rc = enqueue(r, item)) == 0; i++) cpu_relax();
  if (rc == 0) {
    pthread_mutex_lock(&r->lock);
    /* seq_cst: the waiter's half of the Dekker pair; the re-check below
     * (seq_cst loads of the cell) cannot move before it. */
    atomic_fetch_add_explicit(&r->push_waiters, 1, memory_order_seq_cst);
    while ((rc = enqueue(r, item)) == 0) pthread_cond_wait(&r->not_full, &r->lock);
    /* Relaxed: waiters change only under the mutex, and a stale non-zero
     * read elsewhere only costs a needless signal.  A leaver hands the
     * wake-up on, since a signal may have gone to a waiter that could not
     * use it (after close, everyone was broadcast already). */
    if (atomic_fetch_sub_explicit(&r->push_waiters, 1, memory_order_relaxed) > 1 && rc > 0)
      pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->lock);
  }
  if (rc < 0) return -1;
  wake_one(r, &r->pop_waiters, &r->not_empty);
  return 0;
}

void *sluice__ring_pop(sluice__ring *r) {
  void *item = NULL;
  for (int i = 0; i < SPIN_TRIES; i++) {
    if ((item = dequeue(r))) goto got;
    if (drained(r)) return NULL;
    cpu_relax();
  }
  pthread_mutex_lock(&r->lock);
  /* seq_cst: the waiter's half of the Dekker pair (see push). */
  atomic_fetch_add_explicit(&r->pop_waiters, 1, memory_order_seq_cst);
  while (!(item = dequeue(r)) && !drained(r)) pthread_cond_wait(&r->not_empty, &r->lock);
  /* Relaxed: as in push.  Handing on matters after close too: a waiter
   * that slept on a push claimed before the close may be the only one
   * woken when it lands, and the others must then learn "drained". */
  if (atomic_fetch_sub_explicit(&r->pop_waiters, 1, memory_order_relaxed) > 1)
    pthread_cond_signal(&r->not_empty);
  pthread_mutex_unlock(&r->lock);
  if (!item) return NULL;
got:
  wake_one(r, &r->push_waiters, &r->not_full);
  return item;
}

void sluice__ring_close(sluice__ring *r) {
  /* seq_cst: close is rare, and a total order with every push's CAS needs
   * no further argument.  The broadcast under the mutex reaches every
   * waiter: one that re-checks later takes the mutex after us, sees the bit. */
  atomic_fetch_or_explicit(&r->enqueue_pos, CLOSED_BIT, memory_order_seq_cst);
  pthread_mutex_lock(&r->lock);
  pthread_cond_broadcast(&r->not_full);
  pthread_cond_broadcast(&r->not_empty);
  pthread_mutex_unlock(&r->lock);
}

int sluice__ring_is_closed(const sluice__ring *r) {
  /* Acquire: a caller that sees the close also sees what preceded it. */
  return (atomic_load_explicit(&r->enqueue_pos, memory_order_acquire) & CLOSED_BIT) != 0;
}
