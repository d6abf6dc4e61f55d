/* SPDX-License-Identifier: MIT */
/* The chunk pool: bounded hand-out, blocking get, close as cancel. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "bufpool.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

Test(bufpool, bad_sizes, .timeout = 10) {
  cr_expect_null(sluice__bufpool_new(0, 4096));
  cr_expect_null(sluice__bufpool_new(4, 0));
  sluice__bufpool_free(NULL);
}

Test(bufpool, get_all_then_empty, .timeout = 10) {
  enum { N = 5, SIZE = 1000 };
  sluice__bufpool *p = sluice__bufpool_new(N, SIZE);
  cr_assert_not_null(p);
  cr_expect_eq(sluice__bufpool_count(p), N);
  cr_expect_eq(sluice__bufpool_chunk_size(p), SIZE);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__chunk *c[N];
  for (int i = 0; i < N; i++) {
    c[i] = sluice__bufpool_get(p);
    cr_assert_not_null(c[i]);
    cr_expect_eq(c[i]->cap, SIZE);
    cr_expect_eq(c[i]->len, 0);
    cr_assert_not_null(c[i]->buf);
    memset(c[i]->buf, 0xa5, c[i]->cap); /* all of it is ours (ASan checks) */
    for (int j = 0; j < i; j++) cr_expect_neq(c[i], c[j], "chunk handed out twice");
    cr_expect_eq(sluice__bufpool_in_use(p), (size_t)i + 1);
  }
  cr_expect_null(sluice__bufpool_try_get(p));
  for (int i = 0; i < N; i++) sluice__bufpool_put(p, c[i]);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__bufpool_free(p);
}

Test(bufpool, put_resets_and_get_reuses, .timeout = 10) {
  sluice__bufpool *p = sluice__bufpool_new(1, 64);
  cr_assert_not_null(p);
  sluice__chunk *c = sluice__bufpool_try_get(p);
  cr_assert_not_null(c);
  unsigned char *buf = c->buf;
  c->index = 7;
  c->offset = 7 * 64;
  c->len = 10;
  c->last = 1;
  c->owner = p;
  c->part = c;
  sluice__bufpool_put(p, c);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__chunk *again = sluice__bufpool_get(p);
  cr_assert_eq(again, c);
  cr_expect_eq(again->buf, buf);
  cr_expect_eq(again->cap, 64);
  cr_expect_eq(again->len, 0);
  cr_expect_eq(again->last, 0);
  cr_expect_null(again->owner);
  cr_expect_null(again->part);
  cr_expect_eq(sluice__bufpool_in_use(p), 1);
  sluice__bufpool_put(p, again);
  sluice__bufpool_free(p);
}

struct getter {
  sluice__bufpool *p;
  sluice__chunk *got;
  atomic_int done;
};

static void *blocking_get(void *arg) {
  struct getter *g = arg;
  g->got = sluice__bufpool_get(g->p);
  atomic_store(&g->done, 1);
  return NULL;
}

Test(bufpool, get_blocks_until_put, .timeout = 10) {
  sluice__bufpool *p = sluice__bufpool_new(2, 128);
  cr_assert_not_null(p);
  sluice__chunk *a = sluice__bufpool_get(p), *b = sluice__bufpool_get(p);
  cr_assert(a && b);
  struct getter g = {.p = p};
  atomic_init(&g.done, 0);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, blocking_get, &g), 0);
  sleep_ms(150);
  cr_expect_eq(atomic_load(&g.done), 0, "get returned while every chunk was out");
  sluice__bufpool_put(p, b);
  pthread_join(t, NULL);
  cr_expect_eq(g.got, b);
  cr_expect_eq(sluice__bufpool_in_use(p), 2);
  sluice__bufpool_put(p, a);
  sluice__bufpool_put(p, g.got);
  sluice__bufpool_free(p);
}

Test(bufpool, close_wakes_get_and_cancels, .timeout = 10) {
  enum { N = 3 };
  sluice__bufpool *p = sluice__bufpool_new(N, 256);
  cr_assert_not_null(p);
  sluice__chunk *c[N];
  for (int i = 0; i < N; i++) cr_assert_not_null(c[i] = sluice__bufpool_get(p));
  struct getter g[2] = {{.p = p}, {.p = p}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    atomic_init(&g[i].done, 0);
    g[i].got = c[0]; /* must become NULL */
    cr_assert_eq(pthread_create(&t[i], NULL, blocking_get, &g[i]), 0);
  }
  sleep_ms(150);
  sluice__bufpool_close(p);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    cr_expect_null(g[i].got);
  }
  /* Workers still give their buffers back after a cancel... */
  sluice__bufpool_put(p, c[0]);
  cr_expect_eq(sluice__bufpool_in_use(p), N - 1);
  /* ...but nothing is handed out again, though chunks are free. */
  cr_expect_null(sluice__bufpool_get(p));
  cr_expect_null(sluice__bufpool_try_get(p));
  sluice__bufpool_close(p); /* idempotent */
  sluice__bufpool_put(p, c[1]);
  sluice__bufpool_put(p, c[2]);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__bufpool_free(p); /* clean under ASan / valgrind */
}

Test(bufpool, close_with_free_chunks, .timeout = 10) {
  sluice__bufpool *p = sluice__bufpool_new(4, 32);
  cr_assert_not_null(p);
  sluice__chunk *c = sluice__bufpool_get(p);
  cr_assert_not_null(c);
  sluice__bufpool_close(p);
  cr_expect_null(sluice__bufpool_get(p));
  cr_expect_eq(sluice__bufpool_in_use(p), 1);
  sluice__bufpool_put(p, c);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__bufpool_free(p);
}

/* Several threads cycling through a small pool: a chunk is never held by
 * two threads at once, and in_use never exceeds the pool. */
enum { CYCLERS = 4, POOL = 3, CYCLES = 20000 };

struct cycler {
  sluice__bufpool *p;
  unsigned char id;
  atomic_int *errors;
};

static void *cycle(void *arg) {
  struct cycler *cy = arg;
  for (int i = 0; i < CYCLES; i++) {
    sluice__chunk *c = (i & 1) ? sluice__bufpool_try_get(cy->p) : sluice__bufpool_get(cy->p);
    if (!c) {
      if (!(i & 1)) atomic_fetch_add(cy->errors, 1); /* get never fails while open */
      continue;
    }
    if (sluice__bufpool_in_use(cy->p) > POOL) atomic_fetch_add(cy->errors, 1);
    memset(c->buf, cy->id, 16);
    c->len = 16;
    for (int j = 0; j < 16; j++)
      if (c->buf[j] != cy->id) atomic_fetch_add(cy->errors, 1); /* shared with someone */
    sluice__bufpool_put(cy->p, c);
  }
  return NULL;
}

Test(bufpool, concurrent_get_put, .timeout = 60) {
  sluice__bufpool *p = sluice__bufpool_new(POOL, 64);
  cr_assert_not_null(p);
  atomic_int errors;
  atomic_init(&errors, 0);
  struct cycler cy[CYCLERS];
  pthread_t t[CYCLERS];
  for (int i = 0; i < CYCLERS; i++) {
    cy[i] = (struct cycler){p, (unsigned char)(i + 1), &errors};
    cr_assert_eq(pthread_create(&t[i], NULL, cycle, &cy[i]), 0);
  }
  for (int i = 0; i < CYCLERS; i++) pthread_join(t[i], NULL);
  cr_expect_eq(atomic_load(&errors), 0);
  cr_expect_eq(sluice__bufpool_in_use(p), 0);
  sluice__chunk *c[POOL]; /* every chunk came back */
  for (int i = 0; i < POOL; i++) cr_expect_not_null(c[i] = sluice__bufpool_try_get(p));
  for (int i = 0; i < POOL; i++) sluice__bufpool_put(p, c[i]);
  sluice__bufpool_free(p);
}
