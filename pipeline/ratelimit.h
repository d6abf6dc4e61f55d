/* SPDX-License-Identifier: MIT */
/* An aggregate bytes/s limit shared by threads (pipeline/ratelimit.c). */
#ifndef SLUICE_PIPELINE_RATELIMIT_H
#define SLUICE_PIPELINE_RATELIMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct sluice__rate sluice__rate;

/* NULL when out of memory; bytes_per_s > 0. */
sluice__rate *sluice__rate_new(uint64_t bytes_per_s);
void sluice__rate_free(sluice__rate *r);
/* Waits until n more bytes may go.  Returns -1 early (without waiting
 * further) once *stop is non-zero; stop may be NULL.  Any thread. */
int sluice__rate_take(sluice__rate *r, uint64_t n, const atomic_int *stop);

#endif
