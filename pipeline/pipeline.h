/* SPDX-License-Identifier: MIT */
/*
 * The copy engine.  A writer owns one pipe while data flows:
 *
 *   producers (write() or write_from's reader threads)
 *      -- take a buffer from the pool (sleep while all are out) --
 *      -- push its descriptor into the ring (sleep while full) -->
 *   workers (ceil(concurrent / sink->per_worker) threads)
 *      -- pop, hand to the sink (through the reorder stage if the sink is
 *         ordered), give the buffer back when the part is done --
 *
 * The pool holds queue_depth + concurrent + readers buffers and is never
 * grown, so that product is the memory bound.  The first error (or a
 * cancel) closes ring and pool, which wakes every sleeper, and is the error
 * the caller sees.
 */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "bufpool.h"
#include "ratelimit.h"
#include "ring.h"
#include "service.h"

typedef struct sluice__pipe sluice__pipe;
typedef struct sluice__reorder sluice__reorder;

struct sluice__worker {
  sluice__pipe *pipe;
  pthread_t thread;
  int started;
  void *wctx;        /* the sink's per-worker state (async sinks) */
  unsigned inflight; /* async: parts this worker has submitted, not yet done */
  unsigned cap;      /* parts it may keep in flight: the caps add up to concurrent */
  atomic_int parked; /* in drive() with room for more parts: wake on push */
  int wctx_alive;    /* guarded by pipe->wake_lock */
};

struct sluice__pipe {
  sluice__sink *sink;
  sluice__ring *ring;
  sluice__bufpool *pool;
  sluice__reorder *reorder; /* ordered sinks only, under reorder_lock */
  pthread_mutex_t reorder_lock;
  struct sluice__worker *workers;
  unsigned nworkers;

  atomic_int failed; /* set once by the first error or cancel */
  pthread_mutex_t err_lock;
  sluice_error *first_err;

  pthread_mutex_t wake_lock; /* keeps wctx alive while a producer wakes it */
  atomic_int parked;         /* workers parked in drive() */

  atomic_uint_fast64_t bytes_read, bytes_written, parts_done;
  atomic_uint parts_in_flight;
  uint64_t total_bytes; /* UINT64_MAX unknown */
  /* The source write_from reads, interrupted on failure so that a reader
   * blocked on a quiet stream notices a cancel. */
  _Atomic(sluice__source *) source;
  /* Snapshot and callback under one lock: callers see figures in order. */
  pthread_mutex_t progress_lock;
  sluice_progress_cb progress_cb;
  void *progress_userdata;
};

/* pipeline/workers.c */
sluice_error *sluice__pipe_start(sluice__pipe *p, sluice__sink *sink, unsigned concurrent,
                                 unsigned queue_depth, unsigned readers);
/* A free buffer, sleeping while none is; NULL once the pipe has failed. */
sluice__chunk *sluice__pipe_get_buffer(sluice__pipe *p);
/* Queues a filled chunk.  -1 when the pipe has failed (the chunk went back
 * to the pool). */
int sluice__pipe_push(sluice__pipe *p, sluice__chunk *c);
/* Records err as the pipe's outcome if it is the first, and stops
 * everything.  Takes err.  Any thread. */
void sluice__pipe_fail(sluice__pipe *p, sluice_error *err);
/* No more chunks: waits for every worker and returns the first error (a
 * copy, owned by the caller) or NULL.  Frees the buffers. */
sluice_error *sluice__pipe_finish(sluice__pipe *p);
void sluice__pipe_progress(sluice__pipe *p, sluice_progress *out);
/* After finish: frees what is left. */
void sluice__pipe_destroy(sluice__pipe *p);

/* pipeline/reorder.c: in-order delivery for ordered sinks, a plain data
 * structure (the caller locks).  slots: at least the pool's size. */
sluice__reorder *sluice__reorder_new(size_t slots);
/* Parks c until its turn. */
void sluice__reorder_put(sluice__reorder *r, sluice__chunk *c);
/* The parked chunk whose turn it is (removed; the turn moves on), or NULL. */
sluice__chunk *sluice__reorder_next(sluice__reorder *r);
/* Any parked chunk (removed), or NULL: emptying it after a failure. */
sluice__chunk *sluice__reorder_take_any(sluice__reorder *r);
void sluice__reorder_free(sluice__reorder *r);

/* pipeline/writer.c */
enum sluice__wstate {
  W_OPEN,      /* accepting write() or one write_from() */
  W_STREAMED,  /* write_from() finished: only close or abort */
  W_COMMITTED, /* close() succeeded */
  W_FAILED,    /* an error aborted it; result holds the error */
  W_ABORTED    /* abort() was called */
};

struct sluice_writer {
  sluice__sink *sink;
  sluice_operator *op; /* reference, NULL for fd writers */
  unsigned concurrent, queue_depth;

  pthread_mutex_t lock; /* guards pipe_live against cancel/progress */
  sluice__pipe pipe;
  int pipe_live;        /* pipe started and not destroyed */
  sluice_progress last; /* the pipe's figures when it was destroyed */
  atomic_int cancel;
  atomic_uint_fast64_t retries; /* the sink's and the source's resent requests */

  sluice__chunk *cur; /* write(): the chunk being filled */
  /* write(): the bytes of an object that has not yet filled one chunk.  A
   * small object then costs one buffer of its own size and one request on
   * the caller's thread; the pipe (its threads and chunk buffers) starts
   * only when a chunk fills. */
  unsigned char *small;
  size_t small_len, small_cap;
  uint64_t next_index, bytes_in;
  enum sluice__wstate state;
  sluice_error *result; /* the first error, kept for repeated close() */
};

/* Internal steps of the writer, shared with write_from.c. */
sluice_error *sluice__writer_start_pipe(sluice_writer *w, unsigned readers);
sluice_error *sluice__writer_stop_pipe(sluice_writer *w);
void sluice__writer_fail(sluice_writer *w, sluice_error *err);
sluice_error *sluice__writer_state_error(sluice_writer *w, const char *op);
sluice_error *sluice__writer_check_pipe(sluice_writer *w);

typedef sluice_error *(*sluice__sink_factory)(void *arg, const sluice__write_params *p,
                                              sluice__sink **out);
sluice_error *sluice__writer_from_sink(sluice__sink_factory make, void *arg,
                                       const sluice_options *opts, sluice_writer **out);

/* Validates writer options (the generic ones and svc_keys) into *p. */
sluice_error *sluice__write_params_parse(const sluice_options *opts, const char *const *svc_keys,
                                         sluice__write_params *p, unsigned *depth);

/* What write_from needs from its options, parsed once (a job keeps it). */
typedef struct sluice__copy_params {
  unsigned readers;
  sluice_progress_cb progress_cb;
  void *progress_userdata;
  sluice__rate *rate;     /* bwlimit: chunks wait their turn (may be shared) */
  sluice__rate *own_rate; /* the one parse made from "bwlimit", freed by clear */
} sluice__copy_params;
sluice_error *sluice__copy_params_parse(const sluice_options *opts, sluice__copy_params *out);
void sluice__copy_params_clear(sluice__copy_params *cp);
sluice_error *sluice__write_from(sluice_writer *w, sluice_reader *r, const sluice__copy_params *cp);
/* Writes and commits a whole object of at most one chunk from buf on the
 * calling thread, without starting the pipe (no threads, no chunk
 * buffers): the sink's put() or, for a synchronous sink, write_part and
 * commit.  w must be fresh.  On error the writer is failed (aborted). */
sluice_error *sluice__writer_put(sluice_writer *w, const void *buf, size_t len);
/* Thread-safe: stops a running write_from with a canceled error. */
void sluice__writer_cancel(sluice_writer *w);
void sluice__writer_progress(sluice_writer *w, sluice_progress *out);

/* What a job (pipeline/job.c) runs on its thread: a copy, a tree
 * transfer.  The job knows its work only through this table, so a kind of
 * work sits above the job, never beside it in a circle. */
typedef struct sluice__job_work_vt {
  sluice_error *(*run)(void *work);                   /* the job's thread; returns the outcome */
  void (*progress)(void *work, sluice_progress *out); /* any thread */
  void (*cancel)(void *work);                         /* any thread, while running */
  void (*free)(void *work);                           /* after run has returned */
} sluice__job_work_vt;
/* Starts a job running work; takes work (freed through vt even on failure). */
sluice_error *sluice__job_start(const sluice__job_work_vt *vt, void *work, sluice_job **out);

#endif
