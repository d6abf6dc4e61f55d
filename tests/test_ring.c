/* SPDX-License-Identifier: MIT */
/* The MPMC ring: single-threaded contract, multi-threaded delivery and
 * ordering, close, wake-ups and sleeping. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ring.h"

#define STRESS_ITEMS 20000
#define PING_PONGS 100000

/* Items carry their producer and sequence; +1 keeps them non-NULL. */
#define SEQ_BITS 20
static void *item_of(unsigned pid, unsigned seq) {
  return (void *)(uintptr_t)((((uintptr_t)pid << SEQ_BITS) | seq) + 1);
}
static unsigned pid_of(void *v) { return (unsigned)(((uintptr_t)v - 1) >> SEQ_BITS); }
static unsigned seq_of(void *v) {
  return (unsigned)(((uintptr_t)v - 1) & (((uintptr_t)1 << SEQ_BITS) - 1));
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* ------------------------------------------------------------------ */

Test(ring, capacity_rounding, .timeout = 10) {
  static const size_t in[] = {1, 2, 3, 4, 5, 8, 9, 1000};
  static const size_t want[] = {2, 2, 4, 4, 8, 8, 16, 1024};
  for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
    sluice__ring *r = sluice__ring_new(in[i]);
    cr_assert_not_null(r);
    cr_expect_eq(sluice__ring_capacity(r), want[i], "capacity(%zu) = %zu, want %zu", in[i],
                 sluice__ring_capacity(r), want[i]);
    cr_expect_eq(sluice__ring_size(r), 0);
    sluice__ring_free(r);
  }
  cr_expect_null(sluice__ring_new(0));
  cr_expect_null(sluice__ring_new(((size_t)1 << 30) + 1));
  sluice__ring_free(NULL);
}

Test(ring, try_push_until_full_fifo_size, .timeout = 10) {
  sluice__ring *r = sluice__ring_new(5);
  cr_assert_not_null(r);
  cr_assert_null(sluice__ring_try_pop(r));
  for (unsigned lap = 0; lap < 3; lap++) { /* laps exercise the sequence wrap */
    for (unsigned i = 0; i < 8; i++) {
      cr_assert_eq(sluice__ring_try_push(r, item_of(lap, i)), 1);
      cr_expect_eq(sluice__ring_size(r), i + 1);
    }
    cr_expect_eq(sluice__ring_try_push(r, item_of(9, 9)), 0, "push into a full ring");
    cr_expect_eq(sluice__ring_size(r), 8);
    for (unsigned i = 0; i < 8; i++) {
      void *v = sluice__ring_try_pop(r);
      cr_assert_eq(v, item_of(lap, i), "FIFO order broken at %u", i);
      cr_expect_eq(sluice__ring_size(r), 7 - i);
    }
    cr_expect_null(sluice__ring_try_pop(r));
  }
  /* Interleaved, so head and tail chase each other around the array. */
  for (unsigned i = 0; i < 100; i++) {
    cr_assert_eq(sluice__ring_try_push(r, item_of(1, i)), 1);
    cr_assert_eq(sluice__ring_try_push(r, item_of(2, i)), 1);
    cr_assert_eq(sluice__ring_try_pop(r), item_of(1, i));
    cr_assert_eq(sluice__ring_try_pop(r), item_of(2, i));
  }
  sluice__ring_free(r);
}

Test(ring, close_then_drain, .timeout = 10) {
  sluice__ring *r = sluice__ring_new(4);
  cr_assert_not_null(r);
  cr_expect_eq(sluice__ring_is_closed(r), 0);
  for (unsigned i = 0; i < 3; i++) cr_assert_eq(sluice__ring_push(r, item_of(0, i)), 0);
  sluice__ring_close(r);
  sluice__ring_close(r); /* idempotent */
  cr_expect_neq(sluice__ring_is_closed(r), 0);
  cr_expect_eq(sluice__ring_push(r, item_of(1, 0)), -1);
  cr_expect_eq(sluice__ring_try_push(r, item_of(1, 0)), 0);
  cr_expect_eq(sluice__ring_size(r), 3);
  cr_expect_eq(sluice__ring_try_pop(r), item_of(0, 0));
  cr_expect_eq(sluice__ring_pop(r), item_of(0, 1));
  cr_expect_eq(sluice__ring_pop(r), item_of(0, 2));
  cr_expect_null(sluice__ring_pop(r));
  cr_expect_null(sluice__ring_pop(r));
  cr_expect_null(sluice__ring_try_pop(r));
  cr_expect_eq(sluice__ring_size(r), 0);
  sluice__ring_free(r);
}

/* ------------------------------------------------------------------ */
/* Stress: every item exactly once, per-producer order per consumer.   */

enum mode { BLOCKING, TRY, MIXED };

struct stress {
  sluice__ring *r;
  unsigned producers, items;
  enum mode mode;
  atomic_int *seen; /* [producer * items + seq] */
  atomic_long consumed;
  atomic_int errors;
};

struct stress_arg {
  struct stress *s;
  unsigned id;
  unsigned pushed; /* by a producer, before the ring closed */
};

static void *producer(void *arg) {
  struct stress_arg *a = arg;
  struct stress *s = a->s;
  for (unsigned seq = 0; seq < s->items; seq++) {
    void *v = item_of(a->id, seq);
    int ok = 1;
    switch (s->mode) {
    case BLOCKING: ok = sluice__ring_push(s->r, v) == 0; break;
    case TRY:
      while (!sluice__ring_try_push(s->r, v)) sched_yield();
      break;
    default: /* MIXED: the fast path first, then the blocking one */
      ok = sluice__ring_try_push(s->r, v) || sluice__ring_push(s->r, v) == 0;
      break;
    }
    if (!ok) break; /* closed */
    a->pushed++;
  }
  return NULL;
}

static void *consumer(void *arg) {
  struct stress_arg *a = arg;
  struct stress *s = a->s;
  long last[8];
  long total = (long)s->producers * s->items;
  for (unsigned p = 0; p < 8; p++) last[p] = -1;
  for (;;) {
    void *v;
    if (s->mode == BLOCKING) {
      v = sluice__ring_pop(s->r);
    } else if (s->mode == TRY) {
      if (atomic_load(&s->consumed) >= total) break;
      v = sluice__ring_try_pop(s->r);
      if (!v) {
        sched_yield();
        continue;
      }
    } else {
      v = sluice__ring_try_pop(s->r);
      if (!v) v = sluice__ring_pop(s->r);
    }
    if (!v) break; /* closed and drained */
    unsigned pid = pid_of(v), seq = seq_of(v);
    if (pid >= s->producers || seq >= s->items) {
      atomic_fetch_add(&s->errors, 1);
      continue;
    }
    if ((long)seq <= last[pid]) atomic_fetch_add(&s->errors, 1); /* reordered */
    last[pid] = seq;
    if (atomic_fetch_add(&s->seen[pid * s->items + seq], 1) != 0)
      atomic_fetch_add(&s->errors, 1); /* duplicate */
    atomic_fetch_add(&s->consumed, 1);
  }
  return NULL;
}

/* close_after_ms > 0 closes the ring while producers are still pushing:
 * then exactly the pushes that returned 0 must come out. */
static void run_stress(unsigned np, unsigned nc, size_t cap, unsigned items, enum mode mode,
                       long close_after_ms) {
  struct stress s = {.producers = np, .items = items, .mode = mode};
  s.r = sluice__ring_new(cap);
  cr_assert_not_null(s.r);
  s.seen = calloc((size_t)np * items, sizeof(*s.seen));
  cr_assert_not_null(s.seen);
  atomic_init(&s.consumed, 0);
  atomic_init(&s.errors, 0);
  pthread_t pt[8], ct[8];
  struct stress_arg pa[8], ca[8];
  for (unsigned i = 0; i < nc; i++) {
    ca[i] = (struct stress_arg){&s, i, 0};
    cr_assert_eq(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
  }
  for (unsigned i = 0; i < np; i++) {
    pa[i] = (struct stress_arg){&s, i, 0};
    cr_assert_eq(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
  }
  if (close_after_ms) {
    sleep_ms(close_after_ms);
    sluice__ring_close(s.r);
  }
  for (unsigned i = 0; i < np; i++) pthread_join(pt[i], NULL);
  sluice__ring_close(s.r);
  for (unsigned i = 0; i < nc; i++) pthread_join(ct[i], NULL);

  long pushed = 0;
  size_t wrong = 0;
  for (unsigned p = 0; p < np; p++) {
    pushed += pa[p].pushed;
    for (unsigned q = 0; q < items; q++)
      wrong += atomic_load(&s.seen[(size_t)p * items + q]) != (q < pa[p].pushed);
  }
  cr_expect_eq(atomic_load(&s.errors), 0, "%d errors with %u producers, %u consumers",
               atomic_load(&s.errors), np, nc);
  if (close_after_ms)
    cr_expect_lt(pushed, (long)np * items, "the close came too late");
  else
    cr_expect_eq(pushed, (long)np * items);
  cr_expect_eq(atomic_load(&s.consumed), pushed, "%ld of %ld delivered (%ux%u)",
               atomic_load(&s.consumed), pushed, np, nc);
  cr_expect_eq(wrong, 0, "%zu items not seen exactly once (%ux%u)", wrong, np, nc);
  cr_expect_eq(sluice__ring_size(s.r), 0);
  free(s.seen);
  sluice__ring_free(s.r);
}

static const unsigned counts[] = {1, 2, 4, 8};

Test(ring, stress_blocking, .timeout = 120) {
  for (unsigned p = 0; p < 4; p++)
    for (unsigned c = 0; c < 4; c++) run_stress(counts[p], counts[c], 8, STRESS_ITEMS, BLOCKING, 0);
}

Test(ring, stress_try, .timeout = 120) {
  for (unsigned p = 0; p < 4; p++)
    for (unsigned c = 0; c < 4; c++) run_stress(counts[p], counts[c], 16, STRESS_ITEMS / 4, TRY, 0);
}

Test(ring, stress_mixed, .timeout = 120) {
  for (unsigned p = 0; p < 4; p++)
    for (unsigned c = 0; c < 4; c++)
      run_stress(counts[p], counts[c], 2, STRESS_ITEMS / 4, MIXED, 0);
}

/* Pushes racing with close: none lost, none delivered twice. */
Test(ring, stress_close_midway, .timeout = 60) {
  for (unsigned i = 0; i < 4; i++) {
    run_stress(counts[i], counts[3 - i], 4, 1u << 19, BLOCKING, 30);
    run_stress(counts[i], counts[i], 4, 1u << 19, MIXED, 30);
  }
}

/* ------------------------------------------------------------------ */
/* Close wakes sleepers.                                               */

struct waiter {
  sluice__ring *r;
  void *got;
  int rc;
  double returned_at;
};

static void *pop_waiter(void *arg) {
  struct waiter *w = arg;
  w->got = sluice__ring_pop(w->r);
  w->returned_at = now();
  return NULL;
}

static void *push_waiter(void *arg) {
  struct waiter *w = arg;
  w->rc = sluice__ring_push(w->r, item_of(7, 7));
  w->returned_at = now();
  return NULL;
}

static void close_wakes(void *(*fn)(void *), int fill) {
  enum { N = 4 };
  sluice__ring *r = sluice__ring_new(2);
  cr_assert_not_null(r);
  if (fill)
    while (sluice__ring_try_push(r, item_of(1, 1))) {
    }
  struct waiter w[N];
  pthread_t t[N];
  for (int i = 0; i < N; i++) {
    w[i] = (struct waiter){.r = r, .got = item_of(5, 5), .rc = 0};
    cr_assert_eq(pthread_create(&t[i], NULL, fn, &w[i]), 0);
  }
  sleep_ms(200); /* long enough for all of them to be asleep */
  double closed_at = now();
  sluice__ring_close(r);
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    cr_expect_lt(w[i].returned_at - closed_at, 2.0, "waiter %d took %.3f s", i,
                 w[i].returned_at - closed_at);
    if (fill)
      cr_expect_eq(w[i].rc, -1);
    else
      cr_expect_null(w[i].got);
  }
  if (fill) { /* the items queued before close are still there */
    cr_expect_eq(sluice__ring_pop(r), item_of(1, 1));
    cr_expect_eq(sluice__ring_pop(r), item_of(1, 1));
    cr_expect_null(sluice__ring_pop(r));
  }
  sluice__ring_free(r);
}

Test(ring, close_wakes_blocked_pop, .timeout = 10) { close_wakes(pop_waiter, 0); }

Test(ring, close_wakes_blocked_push, .timeout = 10) { close_wakes(push_waiter, 1); }

/* ------------------------------------------------------------------ */
/* No lost wake-up: a ping-pong where every step must wake the other.  */

struct pingpong {
  sluice__ring *there, *back;
  atomic_int errors;
};

static void *ponger(void *arg) {
  struct pingpong *pp = arg;
  void *v;
  while ((v = sluice__ring_pop(pp->there)))
    if (sluice__ring_push(pp->back, v) != 0) atomic_fetch_add(&pp->errors, 1);
  return NULL;
}

Test(ring, ping_pong_no_lost_wakeup, .timeout = 60) {
  struct pingpong pp = {.there = sluice__ring_new(2), .back = sluice__ring_new(2)};
  cr_assert(pp.there && pp.back);
  atomic_init(&pp.errors, 0);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, ponger, &pp), 0);
  for (unsigned i = 0; i < PING_PONGS; i++) {
    void *v = item_of(i & 1, i & 0xfffff);
    cr_assert_eq(sluice__ring_push(pp.there, v), 0);
    cr_assert_eq(sluice__ring_pop(pp.back), v, "round trip %u", i);
  }
  sluice__ring_close(pp.there);
  pthread_join(t, NULL);
  cr_expect_eq(atomic_load(&pp.errors), 0);
  sluice__ring_free(pp.there);
  sluice__ring_free(pp.back);
}

/* ------------------------------------------------------------------ */
/* A blocked thread sleeps instead of spinning.                        */

struct sleeper {
  sluice__ring *r;
  int push; /* wait in push on a full ring instead of pop on an empty one */
  double cpu, wall;
  void *got;
};

static void *measure_wait(void *arg) {
  struct sleeper *s = arg;
  double c0 = thread_cpu(), w0 = now();
  if (s->push)
    s->got = sluice__ring_push(s->r, item_of(3, 3)) == 0 ? item_of(3, 3) : NULL;
  else
    s->got = sluice__ring_pop(s->r);
  s->cpu = thread_cpu() - c0;
  s->wall = now() - w0;
  return NULL;
}

static void check_sleeps(int push) {
  struct sleeper s = {.r = sluice__ring_new(2), .push = push};
  cr_assert_not_null(s.r);
  if (push)
    while (sluice__ring_try_push(s.r, item_of(1, 1))) {
    }
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, measure_wait, &s), 0);
  sleep_ms(300);
  if (push)
    cr_assert_eq(sluice__ring_try_pop(s.r), item_of(1, 1));
  else
    cr_assert_eq(sluice__ring_push(s.r, item_of(2, 2)), 0);
  pthread_join(t, NULL);
  cr_expect_eq(s.got, push ? item_of(3, 3) : item_of(2, 2));
  cr_expect_geq(s.wall, 0.25, "did not wait: %.3f s", s.wall);
  cr_expect_lt(s.cpu, 0.05, "used %.3f s of CPU in %.3f s of waiting", s.cpu, s.wall);
  sluice__ring_free(s.r);
}

Test(ring, blocked_pop_sleeps, .timeout = 10) { check_sleeps(0); }

Test(ring, blocked_push_sleeps, .timeout = 10) { check_sleeps(1); }
