/* SPDX-License-Identifier: MIT */
/*
 * The byte budget a tree job's transfers share.  A transfer takes all it
 * will need in one step before it starts and gives it back when it ends,
 * so nobody ever holds part of the budget while waiting for more: a mix of
 * huge and tiny objects cannot deadlock.  Takers are served in arrival
 * order (a ticket each), so a large object is not starved by a stream of
 * small ones slipping in ahead of it.
 */
#include "budget.h"

void sluice__budget_init(sluice__budget *b, uint64_t limit) {
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, NULL);
  b->limit = limit;
  b->used = b->peak = 0;
  b->next_ticket = b->serving = 0;
  b->closed = 0;
}

void sluice__budget_destroy(sluice__budget *b) {
  pthread_cond_destroy(&b->cond);
  pthread_mutex_destroy(&b->lock);
}

int sluice__budget_take(sluice__budget *b, uint64_t n) {
  if (n > b->limit) n = b->limit;
  pthread_mutex_lock(&b->lock);
  uint64_t ticket = b->next_ticket++;
  while (!b->closed && (b->serving != ticket || b->used + n > b->limit))
    pthread_cond_wait(&b->cond, &b->lock);
  int ok = !b->closed;
  if (ok) {
    b->used += n;
    if (b->used > b->peak) b->peak = b->used;
  }
  /* The next ticket may fit too (or must see the close). */
  b->serving++;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  return ok ? 0 : -1;
}

void sluice__budget_give(sluice__budget *b, uint64_t n) {
  if (n > b->limit) n = b->limit;
  pthread_mutex_lock(&b->lock);
  b->used -= n;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

void sluice__budget_close(sluice__budget *b) {
  pthread_mutex_lock(&b->lock);
  b->closed = 1;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
}

uint64_t sluice__budget_peak(sluice__budget *b) {
  pthread_mutex_lock(&b->lock);
  uint64_t p = b->peak;
  pthread_mutex_unlock(&b->lock);
  return p;
}
