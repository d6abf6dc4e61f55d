/* SPDX-License-Identifier: MIT */
/*
 * A fixed set of chunk-sized buffers with their descriptors, allocated once
 * per writer.  The pool's size is the writer's memory bound: a producer
 * that finds it empty sleeps until a worker gives a buffer back.
 */
#ifndef SLUICE_LIB_BUFPOOL_H
#define SLUICE_LIB_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct sluice__chunk {
  uint64_t index;  /* position of the chunk in the object, from 0 */
  uint64_t offset; /* byte offset in the object */
  size_t len;      /* bytes of buf in use */
  size_t cap;      /* bytes buf holds */
  unsigned char *buf;
  int last;    /* set when this is known to be the final chunk */
  void *owner; /* the pipeline that queued it */
  void *part;  /* a service's per-part state while in flight */
} sluice__chunk;

typedef struct sluice__bufpool sluice__bufpool;

/* Every pool buffer starts at a multiple of this (a page). */
#define SLUICE__BUF_ALIGN 4096

/* n buffers of size bytes each, aligned to SLUICE__BUF_ALIGN (pages are
 * touched only when written). */
sluice__bufpool *sluice__bufpool_new(size_t n, size_t size);
void sluice__bufpool_free(sluice__bufpool *p); /* all chunks must be back */
size_t sluice__bufpool_count(const sluice__bufpool *p);
size_t sluice__bufpool_chunk_size(const sluice__bufpool *p);
/* Blocks while every chunk is out; NULL once the pool is closed. */
sluice__chunk *sluice__bufpool_get(sluice__bufpool *p);
sluice__chunk *sluice__bufpool_try_get(sluice__bufpool *p);
/* Returns a chunk (any thread). */
void sluice__bufpool_put(sluice__bufpool *p, sluice__chunk *c);
/* Makes get() return NULL and wakes every waiter (cancel). */
void sluice__bufpool_close(sluice__bufpool *p);
/* Chunks handed out and not yet returned (a snapshot). */
size_t sluice__bufpool_in_use(const sluice__bufpool *p);

#endif
