/* SPDX-License-Identifier: MIT */
/*
 * A virtual clock: every take of n bytes is given the moment the limit
 * lets them start, right after the previous take's bytes have "drained",
 * and sleeps until then.  Parts thus leave evenly spaced instead of in
 * bursts, whatever the number of threads.  Idle time is not saved up
 * beyond one second, so a pause is not followed by a burst.
 */
#include "ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct sluice__rate {
  pthread_mutex_t lock;
  uint64_t rate;
  double next; /* monotonic seconds at which the next bytes may start */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

sluice__rate *sluice__rate_new(uint64_t bytes_per_s) {
  sluice__rate *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  pthread_mutex_init(&r->lock, NULL);
  r->rate = bytes_per_s;
  r->next = now_s();
  return r;
}

void sluice__rate_free(sluice__rate *r) {
  if (!r) return;
  pthread_mutex_destroy(&r->lock);
  free(r);
}

int sluice__rate_take(sluice__rate *r, uint64_t n, const atomic_int *stop) {
  double now = now_s();
  pthread_mutex_lock(&r->lock);
  if (r->next < now - 1.0) r->next = now - 1.0;
  double start = r->next;
  r->next += (double)n / (double)r->rate;
  pthread_mutex_unlock(&r->lock);
  /* Short naps, so that a cancel is noticed. */
  for (double left = start - now; left > 0; left = start - now_s()) {
    if (stop && atomic_load(stop)) return -1;
    double nap = left < 0.05 ? left : 0.05;
    struct timespec ts = {0, (long)(nap * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
  }
  return stop && atomic_load(stop) ? -1 : 0;
}
