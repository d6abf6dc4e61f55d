/* SPDX-License-Identifier: MIT */
/*
 * Read-ahead for a reader read sequentially (sluice_reader_read): up to
 * `concurrent` threads fetch the next chunks with positioned reads (ranged
 * GETs on S3) and the caller takes them in order.  Memory is the pool:
 * 2 x concurrent chunks, however large the object, and a slow caller
 * stops the fetchers by holding the pool empty.
 *
 * Ordering needs no memory of its own, for the reason the writer's reorder
 * stage gives: a fetcher claims an index only while holding a buffer, so
 * the index the caller waits for is always being fetched.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bufpool.h"
#include "error.h"
#include "readahead.h"

struct sluice__readahead {
  sluice__source *src;
  uint64_t base, size; /* range of the source still to read */
  size_t chunk;
  sluice__bufpool *pool;
  pthread_t *threads;
  unsigned nthreads;
  atomic_uint_fast64_t next_claim;
  int claimed; /* told the source that the fetchers claim in order */

  pthread_mutex_t lock;
  pthread_cond_t ready;
  sluice__chunk **slots; /* fetched chunks by index % nslots */
  size_t nslots;
  sluice_error *err; /* first fetch error */

  uint64_t next;      /* index the caller reads next */
  sluice__chunk *cur; /* chunk being read by the caller */
  size_t cur_pos;
};

static void *fetcher(void *arg) {
  sluice__readahead *ra = arg;
  sluice__chunk *c;
  while ((c = sluice__bufpool_get(ra->pool))) {
    /* Relaxed: the index only has to be unique; the chunk reaches the
     * caller under ra->lock. */
    uint64_t idx = atomic_fetch_add_explicit(&ra->next_claim, 1, memory_order_relaxed);
    uint64_t off = idx * ra->chunk;
    if (off >= ra->size) {
      sluice__bufpool_put(ra->pool, c);
      break;
    }
    size_t want = ra->size - off < ra->chunk ? (size_t)(ra->size - off) : ra->chunk;
    sluice_error *err = NULL;
    c->len = 0;
    while (!err && c->len < want) {
      size_t n;
      err =
          ra->src->vt->pread(ra->src, c->buf + c->len, want - c->len, ra->base + off + c->len, &n);
      if (!err && n == 0)
        err = sluice__error(SLUICE_ERR_UNEXPECTED, "read '%s': the object ended early",
                            ra->src->path);
      if (!err) c->len += n;
    }
    c->index = idx;
    pthread_mutex_lock(&ra->lock);
    if (err) {
      if (!ra->err)
        ra->err = err;
      else
        sluice_error_free(err);
      sluice__bufpool_put(ra->pool, c);
    } else {
      ra->slots[idx % ra->nslots] = c;
    }
    pthread_cond_broadcast(&ra->ready);
    pthread_mutex_unlock(&ra->lock);
    if (err) {
      sluice__bufpool_close(ra->pool);
      break;
    }
  }
  return NULL;
}

sluice_error *sluice__readahead_start(sluice__source *src, uint64_t pos, size_t chunk,
                                      unsigned concurrent, sluice__readahead **out) {
  sluice__readahead *ra = calloc(1, sizeof(*ra));
  if (!ra) return sluice__error_oom();
  ra->src = src;
  ra->base = pos;
  ra->size = src->size - pos;
  ra->chunk = chunk;
  ra->nslots = (size_t)concurrent * 2;
  ra->pool = sluice__bufpool_new(ra->nslots, chunk);
  ra->slots = calloc(ra->nslots, sizeof(*ra->slots));
  ra->threads = calloc(concurrent, sizeof(*ra->threads));
  pthread_mutex_init(&ra->lock, NULL);
  pthread_cond_init(&ra->ready, NULL);
  if (!ra->pool || !ra->slots || !ra->threads) {
    sluice__readahead_free(ra);
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "read '%s': cannot allocate read-ahead buffers",
                         src->path);
  }
  /* Each fetcher takes a buffer before it claims the next chunk, and its
   * read needs nothing from another fetcher: see service.h. */
  if (src->vt->claims) src->vt->claims(src, pos, 1);
  ra->claimed = 1;
  for (unsigned i = 0; i < concurrent; i++) {
    if (pthread_create(&ra->threads[i], NULL, fetcher, ra) != 0) break;
    ra->nthreads++;
  }
  if (!ra->nthreads) {
    sluice__readahead_free(ra);
    return sluice__error(SLUICE_ERR_UNEXPECTED, "read '%s': cannot start read-ahead threads",
                         src->path);
  }
  *out = ra;
  return NULL;
}

sluice_error *sluice__readahead_read(sluice__readahead *ra, void *buf, size_t len, size_t *n) {
  *n = 0;
  if (!ra->cur || ra->cur_pos == ra->cur->len) {
    if (ra->cur) sluice__bufpool_put(ra->pool, ra->cur);
    ra->cur = NULL;
    if (ra->next * ra->chunk >= ra->size) return NULL;
    pthread_mutex_lock(&ra->lock);
    sluice__chunk *c;
    while (!(c = ra->slots[ra->next % ra->nslots]) && !ra->err)
      pthread_cond_wait(&ra->ready, &ra->lock);
    sluice_error *err = c ? NULL : sluice__error_copy(ra->err);
    if (c) ra->slots[ra->next % ra->nslots] = NULL;
    pthread_mutex_unlock(&ra->lock);
    if (err) return err;
    ra->next++;
    ra->cur = c;
    ra->cur_pos = 0;
  }
  size_t k = ra->cur->len - ra->cur_pos < len ? ra->cur->len - ra->cur_pos : len;
  memcpy(buf, ra->cur->buf + ra->cur_pos, k);
  ra->cur_pos += k;
  *n = k;
  return NULL;
}

void sluice__readahead_free(sluice__readahead *ra) {
  if (!ra) return;
  if (ra->pool) sluice__bufpool_close(ra->pool);
  for (unsigned i = 0; i < ra->nthreads; i++) pthread_join(ra->threads[i], NULL);
  if (ra->claimed && ra->src->vt->claims) ra->src->vt->claims(ra->src, 0, 0);
  if (ra->pool) sluice__bufpool_free(ra->pool);
  free(ra->slots);
  free(ra->threads);
  sluice_error_free(ra->err);
  pthread_mutex_destroy(&ra->lock);
  pthread_cond_destroy(&ra->ready);
  free(ra);
}
