/* SPDX-License-Identifier: MIT */
/* A byte budget shared by many transfers (pipeline/budget.c). */
#ifndef SLUICE_PIPELINE_BUDGET_H
#define SLUICE_PIPELINE_BUDGET_H

#include <pthread.h>
#include <stdint.h>

typedef struct sluice__budget {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint64_t limit, used, peak;
  uint64_t next_ticket, serving;
  int closed;
} sluice__budget;

void sluice__budget_init(sluice__budget *b, uint64_t limit);
void sluice__budget_destroy(sluice__budget *b);
/* Takes n bytes (at most the limit: n is clamped to it), sleeping until
 * they are free and every earlier taker has been served.  0, or -1 once
 * the budget is closed (nothing taken). */
int sluice__budget_take(sluice__budget *b, uint64_t n);
/* Gives back what a take of n took. */
void sluice__budget_give(sluice__budget *b, uint64_t n);
/* Wakes every taker with -1, now and from now on (cancel). */
void sluice__budget_close(sluice__budget *b);
/* Most bytes ever taken at once. */
uint64_t sluice__budget_peak(sluice__budget *b);

#endif
