/* SPDX-License-Identifier: MIT */
/* write_from: reader threads fill chunks from a source into a writer's pipe. */
#include <stdlib.h>

#include "error.h"
#include "options.h"
#include "pipeline.h"
#include "readahead.h"
#include "reader.h"

static const char *const copy_keys[] = {"readers", "bwlimit", NULL};

sluice_error *sluice__copy_params_parse(const sluice_options *opts, sluice__copy_params *out) {
  uint64_t readers, bw;
  *out = (sluice__copy_params){0};
  sluice_error *err = sluice__opt_check_known(opts, "write_from", copy_keys, NULL);
  if (!err) err = sluice__opt_count(opts, "readers", 1, 1, 64, "write_from", &readers);
  if (!err) err = sluice__opt_size(opts, "bwlimit", 0, 0, UINT64_MAX, "write_from", &bw);
  if (err) return err;
  out->readers = (unsigned)readers;
  sluice__opt_progress(opts, &out->progress_cb, &out->progress_userdata);
  if (bw && !(out->rate = out->own_rate = sluice__rate_new(bw))) return sluice__error_oom();
  return NULL;
}

void sluice__copy_params_clear(sluice__copy_params *cp) {
  sluice__rate_free(cp->own_rate);
  cp->rate = cp->own_rate = NULL;
}


struct copy {
  sluice__pipe *pipe;
  sluice__source *src;
  uint64_t base; /* reader position when the copy started */
  uint64_t size; /* bytes to copy, UINT64_MAX for a stream */
  size_t chunk;
  atomic_uint_fast64_t next_index;
  /* Filled in by the sequential reader, the only one for a stream. */
  uint64_t stream_total;
  uint64_t stream_chunks;
  sluice__rate *rate; /* bwlimit, or NULL */
};

/* bwlimit: a filled chunk waits its turn before it is queued.  -1 when the
 * pipe failed meanwhile. */
static int pace(struct copy *cp, const sluice__chunk *c) {
  return cp->rate ? sluice__rate_take(cp->rate, c->len, &cp->pipe->failed) : 0;
}

static void fail(struct copy *cp, sluice_error *err) { sluice__pipe_fail(cp->pipe, err); }

/* Reads exactly want bytes at off unless the source ends first. */
static sluice_error *fill_at(struct copy *cp, sluice__chunk *c, uint64_t off, size_t want) {
  c->len = 0;
  while (c->len < want) {
    size_t n;
    sluice_error *err =
        cp->src->vt->pread(cp->src, c->buf + c->len, want - c->len, cp->base + off + c->len, &n);
    if (err) return err;
    if (n == 0)
      return sluice__error(SLUICE_ERR_UNEXPECTED,
                           "read '%s': source ended at byte %llu, %llu bytes short of its size",
                           cp->src->path, (unsigned long long)(off + c->len),
                           (unsigned long long)(want - c->len));
    c->len += n;
  }
  return NULL;
}

/* Positioned reads: each reader takes a buffer, then claims the next index,
 * in that order, so every claimed index already owns a buffer (the reorder
 * stage depends on it). */
static void *positional_reader(void *arg) {
  struct copy *cp = arg;
  sluice__chunk *c;
  while ((c = sluice__pipe_get_buffer(cp->pipe))) {
    /* Relaxed: the index only has to be unique; the chunk's contents reach
     * the worker through the ring's release/acquire. */
    uint64_t idx = atomic_fetch_add_explicit(&cp->next_index, 1, memory_order_relaxed);
    uint64_t off = idx * cp->chunk;
    if (off >= cp->size) {
      sluice__bufpool_put(cp->pipe->pool, c);
      break;
    }
    size_t want = cp->size - off < cp->chunk ? (size_t)(cp->size - off) : cp->chunk;
    sluice_error *err = fill_at(cp, c, off, want);
    if (err) {
      sluice__bufpool_put(cp->pipe->pool, c);
      fail(cp, err);
      break;
    }
    c->index = idx;
    c->offset = off;
    c->last = off + want == cp->size;
    if (pace(cp, c) != 0) {
      sluice__bufpool_put(cp->pipe->pool, c);
      break;
    }
    if (sluice__pipe_push(cp->pipe, c) != 0) break;
  }
  return NULL;
}

/* A stream has one reader: it fills each chunk completely before queuing
 * it, so every part but the last is full size (S3 requires that). */
static void sequential_reader(struct copy *cp) {
  sluice__chunk *c;
  uint64_t idx = 0;
  while ((c = sluice__pipe_get_buffer(cp->pipe))) {
    c->len = 0;
    sluice_error *err = NULL;
    while (c->len < c->cap) {
      size_t n;
      if ((err = cp->src->vt->read(cp->src, c->buf + c->len, c->cap - c->len, &n)) || n == 0) break;
      c->len += n;
    }
    if (err || c->len == 0) {
      sluice__bufpool_put(cp->pipe->pool, c);
      if (err) fail(cp, err);
      break;
    }
    c->index = idx++;
    c->offset = cp->stream_total;
    /* A short chunk can only be the last; a full one may be too, but a
     * stream cannot tell without reading ahead. */
    c->last = c->len < c->cap;
    cp->stream_total += c->len;
    cp->stream_chunks = idx;
    int full = c->len == c->cap;
    if (pace(cp, c) != 0) {
      sluice__bufpool_put(cp->pipe->pool, c);
      break;
    }
    if (sluice__pipe_push(cp->pipe, c) != 0 || !full) break;
  }
}

sluice_error *sluice__write_from(sluice_writer *w, sluice_reader *r, const sluice__copy_params *p) {
  if (w->state != W_OPEN) return sluice__writer_state_error(w, "write_from");
  if (w->pipe_live || w->next_index || w->cur || w->small_len)
    return sluice__error(
        SLUICE_ERR_INVALID_ARGUMENT,
        "write_from '%s': the writer already has data; write_from needs a fresh writer",
        w->sink->path);
  if (r->eof) {
    w->state = W_STREAMED;
    return NULL;
  }
  /* write_from reads the source itself, in parallel: stop any read-ahead
   * (r->pos counts only what the caller consumed, so nothing is lost). */
  sluice__readahead_free(r->ra);
  r->ra = NULL;
  r->ra_concurrent = 0;
  struct copy cp = {.src = r->src, .base = r->pos, .size = sluice_reader_size(r), .rate = p->rate};
  int positional = r->src->vt->pread && cp.size != UINT64_MAX;
  unsigned readers = positional ? p->readers : 1;
  sluice_error *err = NULL;
  if (positional && w->sink->vt->size_hint) err = w->sink->vt->size_hint(w->sink, cp.size);
  if (err) {
    sluice__writer_fail(w, err);
    return sluice__error_copy(err);
  }
  cp.chunk = w->sink->chunk;
  sluice__writer_start_pipe(w, readers);
  cp.pipe = &w->pipe;
  /* Under the lock: sluice_job_progress() may read these from any thread.
   * Workers read the callback only after a chunk reaches them through the
   * ring, which orders it after these stores. */
  pthread_mutex_lock(&w->lock);
  w->pipe.total_bytes = cp.size;
  w->pipe.progress_cb = p->progress_cb;
  w->pipe.progress_userdata = p->progress_userdata;
  pthread_mutex_unlock(&w->lock);
  atomic_store(&w->pipe.source, r->src);
  /* Before the reader threads start, cleared after they are joined. */
  r->src->retries = &w->retries;
  /* positional_reader claims indices in order, each with its buffer. */
  if (positional && r->src->vt->claims) r->src->vt->claims(r->src, cp.base, 1);
  /* A cancel that came before the source was registered has already
   * failed the pipe; readers then find no buffer and stop at once. */

  if (!positional) {
    sequential_reader(&cp);
  } else {
    pthread_t th[64];
    unsigned started = 0;
    for (unsigned i = 1; i < readers; i++) {
      if (pthread_create(&th[started], NULL, positional_reader, &cp) != 0) break;
      started++;
    }
    positional_reader(&cp); /* the calling thread is a reader too */
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
  }

  atomic_store(&w->pipe.source, NULL);
  r->src->retries = NULL;
  if (positional && r->src->vt->claims) r->src->vt->claims(r->src, 0, 0);
  err = sluice__writer_stop_pipe(w);
  /* Before anything is committed: verify=required and unchecked bytes. */
  if (!err) err = sluice__reader_check_verified(r);
  if (err) {
    sluice__writer_fail(w, err);
    return sluice__error_copy(err);
  }
  if (positional) {
    w->bytes_in = cp.size;
    w->next_index = (cp.size + cp.chunk - 1) / cp.chunk;
  } else {
    w->bytes_in = cp.stream_total;
    w->next_index = cp.stream_chunks;
  }
  r->pos += w->bytes_in;
  r->eof = 1;
  w->state = W_STREAMED;
  return NULL;
}

sluice_error *sluice_write_from(sluice_writer *w, sluice_reader *r, const sluice_options *opts) {
  if (!w || !r)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "write_from: writer and reader must be non-NULL");
  sluice__copy_params p;
  sluice_error *err = sluice__copy_params_parse(opts, &p);
  if (!err) err = sluice__write_from(w, r, &p);
  sluice__copy_params_clear(&p);
  return err;
}
