/* SPDX-License-Identifier: MIT */
/*
 * ringbench: the ring (lib/ring.c) on its own, against Concurrency Kit's
 * ck_ring MPMC and a mutex + two condition variables queue.
 *
 *   ringbench rate QUEUE PRODUCERS CONSUMERS ITEMS CAPACITY
 *       prints: queue=Q producers=P consumers=C items=N seconds=S
 *   ringbench idle QUEUE SECONDS
 *       a consumer waits on an empty queue, then a producer on a full one,
 *       SECONDS each; prints the CPU seconds each waiting thread used:
 *       queue=Q wait_s=S consumer_cpu_s=X producer_cpu_s=Y
 *
 * QUEUE is sluice, ck or mutex.  ck_ring has no blocking operations, so a
 * ck_ring user waits by retrying: a short spin, then sched_yield() between
 * tries, which is the cheapest wait it allows.
 */
#include <ck_pr.h>
#include <ck_ring.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define STOP ((void *)UINTPTR_MAX)
#define SPINS 100

enum kind { SLUICE, CK, MUTEX };

struct mq { /* the plain bounded queue */
  pthread_mutex_t lock;
  pthread_cond_t not_full, not_empty;
  void **items;
  size_t cap, head, n;
};

struct queue {
  enum kind kind;
  sluice__ring *ring;
  ck_ring_t ck;
  ck_ring_buffer_t *ckbuf;
  struct mq mq;
};

static void q_init(struct queue *q, enum kind k, size_t cap) {
  memset(q, 0, sizeof *q);
  q->kind = k;
  if (k == SLUICE) {
    q->ring = sluice__ring_new(cap);
  } else if (k == CK) {
    /* ck_ring holds capacity - 1 items: one more slot gives the same room */
    size_t c = 2;
    while (c < cap + 1) c <<= 1;
    q->ckbuf = calloc(c, sizeof *q->ckbuf);
    ck_ring_init(&q->ck, (unsigned int)c);
  } else {
    pthread_mutex_init(&q->mq.lock, NULL);
    pthread_cond_init(&q->mq.not_full, NULL);
    pthread_cond_init(&q->mq.not_empty, NULL);
    q->mq.items = calloc(cap, sizeof(void *));
    q->mq.cap = cap;
  }
}

static void q_free(struct queue *q) {
  if (q->kind == SLUICE) sluice__ring_free(q->ring);
  free(q->ckbuf);
  free(q->mq.items);
}

static void ck_wait(unsigned *tries) {
  if (++*tries < SPINS) ck_pr_stall();
  else sched_yield();
}

static void push(struct queue *q, void *item) {
  unsigned tries = 0;
  switch (q->kind) {
  case SLUICE:
    sluice__ring_push(q->ring, item);
    break;
  case CK:
    while (!ck_ring_enqueue_mpmc(&q->ck, q->ckbuf, item)) ck_wait(&tries);
    break;
  case MUTEX:
    pthread_mutex_lock(&q->mq.lock);
    while (q->mq.n == q->mq.cap) pthread_cond_wait(&q->mq.not_full, &q->mq.lock);
    q->mq.items[(q->mq.head + q->mq.n++) % q->mq.cap] = item;
    pthread_cond_signal(&q->mq.not_empty);
    pthread_mutex_unlock(&q->mq.lock);
    break;
  }
}

static void *pop(struct queue *q) {
  unsigned tries = 0;
  void *item = NULL;
  switch (q->kind) {
  case SLUICE:
    item = sluice__ring_pop(q->ring);
    break;
  case CK:
    while (!ck_ring_dequeue_mpmc(&q->ck, q->ckbuf, &item)) ck_wait(&tries);
    break;
  case MUTEX:
    pthread_mutex_lock(&q->mq.lock);
    while (q->mq.n == 0) pthread_cond_wait(&q->mq.not_empty, &q->mq.lock);
    item = q->mq.items[q->mq.head];
    q->mq.head = (q->mq.head + 1) % q->mq.cap;
    q->mq.n--;
    pthread_cond_signal(&q->mq.not_full);
    pthread_mutex_unlock(&q->mq.lock);
    break;
  }
  return item;
}

static double now(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
  struct queue *q;
  long items;     /* producer: how many to push */
  double cpu_s;   /* idle test: the thread's own CPU time while it waited */
  pthread_t t;
};

static void *producer(void *arg) {
  struct worker *w = arg;
  for (long i = 1; i <= w->items; i++) push(w->q, (void *)(uintptr_t)i);
  return NULL;
}

static void *consumer(void *arg) {
  struct worker *w = arg;
  while (pop(w->q) != STOP) {
  }
  return NULL;
}

static int rate(struct queue *q, int np, int nc, long items) {
  struct worker *ws = calloc((size_t)(np + nc), sizeof *ws);
  double t0 = now(CLOCK_MONOTONIC);
  for (int i = 0; i < np + nc; i++) {
    ws[i].q = q;
    ws[i].items = i < np ? items / np : 0;
    pthread_create(&ws[i].t, NULL, i < np ? producer : consumer, &ws[i]);
  }
  for (int i = 0; i < np; i++) pthread_join(ws[i].t, NULL);
  for (int i = 0; i < nc; i++) push(q, STOP);
  for (int i = np; i < np + nc; i++) pthread_join(ws[i].t, NULL);
  double s = now(CLOCK_MONOTONIC) - t0;
  printf("producers=%d consumers=%d items=%ld seconds=%.4f\n", np, nc, items / np * np, s);
  free(ws);
  return 0;
}

static void *idle_consumer(void *arg) {
  struct worker *w = arg;
  double c0 = now(CLOCK_THREAD_CPUTIME_ID);
  pop(w->q);
  w->cpu_s = now(CLOCK_THREAD_CPUTIME_ID) - c0;
  return NULL;
}

static void *idle_producer(void *arg) {
  struct worker *w = arg;
  double c0 = now(CLOCK_THREAD_CPUTIME_ID);
  push(w->q, (void *)1);
  w->cpu_s = now(CLOCK_THREAD_CPUTIME_ID) - c0;
  return NULL;
}

static int idle(enum kind k, double secs) {
  struct queue q;
  struct worker c = {.q = &q}, p = {.q = &q};
  struct timespec nap = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  size_t cap = 4;

  q_init(&q, k, cap);
  pthread_create(&c.t, NULL, idle_consumer, &c); /* the queue is empty */
  nanosleep(&nap, NULL);
  push(&q, (void *)1);
  pthread_join(c.t, NULL);

  /* fill it: ck_ring's rounded-up size may hold more than cap */
  if (k == CK)
    while (ck_ring_enqueue_mpmc(&q.ck, q.ckbuf, (void *)1)) {
    }
  else
    for (size_t i = 0; i < cap; i++) push(&q, (void *)1);
  pthread_create(&p.t, NULL, idle_producer, &p);
  nanosleep(&nap, NULL);
  pop(&q);
  pthread_join(p.t, NULL);
  q_free(&q);
  printf("wait_s=%.3f consumer_cpu_s=%.6f producer_cpu_s=%.6f\n", secs, c.cpu_s, p.cpu_s);
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: ringbench rate sluice|ck|mutex P C ITEMS CAPACITY\n"
                  "       ringbench idle sluice|ck|mutex SECONDS\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 4) return usage();
  enum kind k;
  if (strcmp(argv[2], "sluice") == 0) k = SLUICE;
  else if (strcmp(argv[2], "ck") == 0) k = CK;
  else if (strcmp(argv[2], "mutex") == 0) k = MUTEX;
  else return usage();
  printf("queue=%s ", argv[2]);
  if (strcmp(argv[1], "idle") == 0 && argc == 4) return idle(k, atof(argv[3]));
  if (strcmp(argv[1], "rate") != 0 || argc != 7) return usage();
  int np = atoi(argv[3]), nc = atoi(argv[4]);
  long items = atol(argv[5]);
  size_t cap = (size_t)atol(argv[6]);
  if (np < 1 || nc < 1 || items < np || cap < 2) return usage();
  struct queue q;
  q_init(&q, k, cap);
  int rc = rate(&q, np, nc, items);
  q_free(&q);
  return rc;
}
