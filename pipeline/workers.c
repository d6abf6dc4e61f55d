/* SPDX-License-Identifier: MIT */
/* The pipe: buffer pool, ring and the upload workers that drain it. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pipeline.h"

static int pipe_failed(sluice__pipe *p) {
  /* Acquire pairs with the release in pipe_fail: a worker that sees the
   * flag also sees first_err. */
  return atomic_load_explicit(&p->failed, memory_order_acquire);
}

static void wake_parked(sluice__pipe *p) {
  pthread_mutex_lock(&p->wake_lock);
  for (unsigned i = 0; i < p->nworkers; i++) {
    struct sluice__worker *wk = &p->workers[i];
    if (wk->wctx_alive && atomic_load(&wk->parked)) p->sink->vt->wake(p->sink, wk->wctx);
  }
  pthread_mutex_unlock(&p->wake_lock);
}

void sluice__pipe_fail(sluice__pipe *p, sluice_error *err) {
  pthread_mutex_lock(&p->err_lock);
  if (!p->first_err) {
    p->first_err = err;
    err = NULL;
  }
  pthread_mutex_unlock(&p->err_lock);
  sluice_error_free(err);
  /* Release: first_err is published before anyone acts on the flag. */
  atomic_store_explicit(&p->failed, 1, memory_order_release);
  /* Closing both wakes every producer asleep in get or push. */
  if (p->ring) sluice__ring_close(p->ring);
  if (p->pool) sluice__bufpool_close(p->pool);
  if (p->sink->vt->wake && p->workers) wake_parked(p);
  sluice__source *src = atomic_load(&p->source);
  if (src && src->vt->interrupt) src->vt->interrupt(src);
}

static void report_progress(sluice__pipe *p) {
  if (!p->progress_cb) return;
  sluice_progress pr = {.struct_size = sizeof(pr)};
  pthread_mutex_lock(&p->progress_lock);
  sluice__pipe_progress(p, &pr);
  p->progress_cb(&pr, p->progress_userdata);
  pthread_mutex_unlock(&p->progress_lock);
}

/* The only place a started part leaves the in-flight counts: written
 * (err NULL, written 1), failed (err), or dropped unwritten after the pipe
 * failed (written 0).  Takes err; gives the buffer back. */
static void part_end(sluice__pipe *p, sluice__chunk *c, int written, sluice_error *err) {
  struct sluice__worker *wk = c->owner;
  /* Sync parts may be finished by another worker (ordered sinks): only
   * async workers keep a count of their own, for their cap. */
  if (!p->sink->vt->write_part) wk->inflight--;
  atomic_fetch_sub(&p->parts_in_flight, 1);
  if (err) {
    sluice__pipe_fail(p, err);
  } else if (written) {
    atomic_fetch_add(&p->bytes_written, c->len);
    atomic_fetch_add(&p->parts_done, 1);
    report_progress(p);
  }
  sluice__bufpool_put(p->pool, c);
}

/* The sink's part_done (the seam in lib/service.h). */
static void on_part_done(sluice__chunk *c, sluice_error *err) {
  part_end(((struct sluice__worker *)c->owner)->pipe, c, 1, err);
}

/* An ordered sink: c waits its turn; whoever completes the run writes it.
 * Writing under the lock is the point: an ordered sink takes one part at a
 * time, and a worker arriving meanwhile only parks its chunk. */
static void submit_ordered(sluice__pipe *p, sluice__chunk *c) {
  pthread_mutex_lock(&p->reorder_lock);
  sluice__reorder_put(p->reorder, c);
  while ((c = sluice__reorder_next(p->reorder))) {
    if (pipe_failed(p))
      part_end(p, c, 0, NULL);
    else
      part_end(p, c, 1, p->sink->vt->write_part(p->sink, c));
  }
  pthread_mutex_unlock(&p->reorder_lock);
}

static void start_part(struct sluice__worker *wk, sluice__chunk *c) {
  sluice__pipe *p = wk->pipe;
  c->owner = wk;
  if (!p->sink->vt->write_part) wk->inflight++;
  atomic_fetch_add(&p->parts_in_flight, 1);
  if (p->reorder)
    submit_ordered(p, c);
  else if (p->sink->vt->write_part)
    part_end(p, c, 1, p->sink->vt->write_part(p->sink, c));
  else
    p->sink->vt->submit(p->sink, wk->wctx, c);
}

/* After a failure, queued chunks are only given back. */
static void discard(sluice__pipe *p, sluice__chunk *c) { sluice__bufpool_put(p->pool, c); }

static void run_sync(struct sluice__worker *wk) {
  sluice__pipe *p = wk->pipe;
  sluice__chunk *c;
  while ((c = sluice__ring_pop(p->ring))) {
    if (pipe_failed(p))
      discard(p, c);
    else
      start_part(wk, c);
  }
}

/* An async worker keeps up to per_worker parts in flight and sleeps in the
 * sink's drive() between completions; producers wake it when it is parked
 * with room to spare. */
static void run_async(struct sluice__worker *wk) {
  sluice__pipe *p = wk->pipe;
  sluice__sink *s = p->sink;
  for (;;) {
    while (!pipe_failed(p) && wk->inflight < wk->cap) {
      /* With nothing in flight there is nothing to drive: sleep in the ring. */
      sluice__chunk *c = wk->inflight ? sluice__ring_try_pop(p->ring) : sluice__ring_pop(p->ring);
      if (!c) break;
      if (pipe_failed(p))
        discard(p, c);
      else
        start_part(wk, c);
    }
    /* inflight == 0 here means pop saw the ring closed and empty. */
    if (pipe_failed(p) || wk->inflight == 0) break;
    if (wk->inflight < wk->cap) {
      /* seq_cst store then a re-check of the ring, against the producer's
       * push then seq_cst load of parked: one of the two sees the other,
       * so a chunk is never left waiting while we sleep. */
      atomic_store(&wk->parked, 1);
      atomic_fetch_add(&p->parked, 1);
      sluice__chunk *c = sluice__ring_try_pop(p->ring);
      if (c) {
        atomic_store(&wk->parked, 0);
        atomic_fetch_sub(&p->parked, 1);
        start_part(wk, c);
        continue;
      }
    }
    s->vt->drive(s, wk->wctx);
    if (atomic_exchange(&wk->parked, 0)) atomic_fetch_sub(&p->parked, 1);
  }
}

static void *worker_main(void *arg) {
  struct sluice__worker *wk = arg;
  sluice__pipe *p = wk->pipe;
  if (p->sink->vt->write_part) {
    run_sync(wk);
    return NULL;
  }
  run_async(wk);
  pthread_mutex_lock(&p->wake_lock);
  wk->wctx_alive = 0;
  pthread_mutex_unlock(&p->wake_lock);
  /* Ends whatever is still in flight (after a failure) with done(). */
  p->sink->vt->worker_fini(p->sink, wk->wctx);
  /* A failed pipe may still hold queued chunks nobody popped. */
  sluice__chunk *c;
  while ((c = sluice__ring_try_pop(p->ring))) discard(p, c);
  return NULL;
}

sluice_error *sluice__pipe_start(sluice__pipe *p, sluice__sink *sink, unsigned concurrent,
                                 unsigned queue_depth, unsigned readers) {
  memset(p, 0, sizeof(*p));
  p->sink = sink;
  sink->part_done = on_part_done;
  p->total_bytes = UINT64_MAX;
  pthread_mutex_init(&p->err_lock, NULL);
  pthread_mutex_init(&p->wake_lock, NULL);
  pthread_mutex_init(&p->progress_lock, NULL);
  pthread_mutex_init(&p->reorder_lock, NULL);
  if (sink->max_in_flight && concurrent > sink->max_in_flight) concurrent = sink->max_in_flight;
  unsigned per = sink->per_worker ? sink->per_worker : 1;
  p->nworkers = (concurrent + per - 1) / per;
  size_t nbuf = (size_t)queue_depth + concurrent + readers;
  p->ring = sluice__ring_new(queue_depth);
  p->pool = sluice__bufpool_new(nbuf, sink->chunk);
  p->workers = calloc(p->nworkers, sizeof(*p->workers));
  if (sink->ordered) p->reorder = sluice__reorder_new(nbuf);
  if (!p->ring || !p->pool || !p->workers || (sink->ordered && !p->reorder))
    return sluice__error(SLUICE_ERR_OUT_OF_MEMORY,
                         "write '%s': cannot allocate %zu buffers of %zu bytes", sink->path, nbuf,
                         sink->chunk);
  for (unsigned i = 0; i < p->nworkers; i++) {
    struct sluice__worker *wk = &p->workers[i];
    wk->pipe = p;
    /* Split concurrent as evenly as possible, so the total is exact. */
    wk->cap = concurrent / p->nworkers + (i < concurrent % p->nworkers);
    if (!sink->vt->write_part) {
      sluice_error *err = sink->vt->worker_init(sink, &wk->wctx);
      if (err) return err;
      wk->wctx_alive = 1;
    }
    int rc = pthread_create(&wk->thread, NULL, worker_main, wk);
    if (rc) return sluice__error_errno(rc, "write '%s': cannot start a worker thread", sink->path);
    wk->started = 1;
  }
  return NULL;
}

sluice__chunk *sluice__pipe_get_buffer(sluice__pipe *p) {
  if (pipe_failed(p)) return NULL;
  return sluice__bufpool_get(p->pool);
}

int sluice__pipe_push(sluice__pipe *p, sluice__chunk *c) {
  atomic_fetch_add(&p->bytes_read, c->len);
  if (sluice__ring_push(p->ring, c) != 0) {
    sluice__bufpool_put(p->pool, c);
    return -1;
  }
  /* seq_cst, pairing with the worker's store to parked (see run_async). */
  if (p->sink->vt->wake && atomic_load(&p->parked) > 0) wake_parked(p);
  return 0;
}

sluice_error *sluice__pipe_finish(sluice__pipe *p) {
  if (p->ring) sluice__ring_close(p->ring);
  for (unsigned i = 0; p->workers && i < p->nworkers; i++) {
    struct sluice__worker *wk = &p->workers[i];
    if (wk->started) {
      pthread_join(wk->thread, NULL); /* the worker cleared wctx_alive itself */
    } else if (wk->wctx_alive) {
      /* A cancel on another thread may be in wake_parked() right now. */
      pthread_mutex_lock(&p->wake_lock);
      wk->wctx_alive = 0;
      pthread_mutex_unlock(&p->wake_lock);
      p->sink->vt->worker_fini(p->sink, wk->wctx);
    }
    wk->started = 0;
  }
  if (p->reorder) {
    /* After a failure: chunks parked for a turn that never came. */
    pthread_mutex_lock(&p->reorder_lock);
    sluice__chunk *c;
    while ((c = sluice__reorder_take_any(p->reorder))) part_end(p, c, 0, NULL);
    pthread_mutex_unlock(&p->reorder_lock);
  }
  pthread_mutex_lock(&p->err_lock);
  sluice_error *err = sluice__error_copy(p->first_err);
  pthread_mutex_unlock(&p->err_lock);
  return err;
}

void sluice__pipe_progress(sluice__pipe *p, sluice_progress *out) {
  sluice_progress pr = {.struct_size = out->struct_size};
  pr.bytes_read = atomic_load(&p->bytes_read);
  pr.bytes_written = atomic_load(&p->bytes_written);
  pr.total_bytes = p->total_bytes;
  pr.parts_done = atomic_load(&p->parts_done);
  pr.parts_in_flight = atomic_load(&p->parts_in_flight);
  pr.ring_used = p->ring ? (uint32_t)sluice__ring_size(p->ring) : 0;
  pr.ring_capacity = p->ring ? (uint32_t)sluice__ring_capacity(p->ring) : 0;
  pr.retries = p->sink->retries ? atomic_load(p->sink->retries) : 0;
  size_t n = out->struct_size < sizeof(pr) ? out->struct_size : sizeof(pr);
  memcpy(out, &pr, n);
}

void sluice__pipe_destroy(sluice__pipe *p) {
  if (p->reorder) sluice__reorder_free(p->reorder);
  if (p->pool) sluice__bufpool_free(p->pool);
  if (p->ring) sluice__ring_free(p->ring);
  free(p->workers);
  sluice_error_free(p->first_err);
  pthread_mutex_destroy(&p->err_lock);
  pthread_mutex_destroy(&p->wake_lock);
  pthread_mutex_destroy(&p->progress_lock);
  pthread_mutex_destroy(&p->reorder_lock);
  memset(p, 0, sizeof(*p));
}
