/* SPDX-License-Identifier: MIT */
/* Writers: the public face of the pipe, with the commit/abort state machine. */
#include <stdlib.h>
#include <string.h>

#include "caller.h"
#include "error.h"
#include "fd.h"
#include "operator.h"
#include "options.h"
#include "path.h"
#include "pipeline.h"

static const char *const writer_keys[] = {"chunk",        "concurrent",    "queue_depth",
                                          "content_type", "if_not_exists", NULL};

#define MIN_CHUNK (64u * 1024)
#define MAX_CHUNK (5ull << 30)
#define DEFAULT_CHUNK (8u << 20)

sluice_error *sluice__write_params_parse(const sluice_options *opts, const char *const *svc_keys,
                                         sluice__write_params *p, unsigned *depth) {
  uint64_t chunk, conc, qd;
  sluice_error *err = sluice__opt_check_known(opts, "writer", writer_keys, svc_keys);
  if (!err)
    err = sluice__opt_size(opts, "chunk", DEFAULT_CHUNK, MIN_CHUNK, MAX_CHUNK, "writer", &chunk);
  if (!err) err = sluice__opt_count(opts, "concurrent", 4, 1, 1024, "writer", &conc);
  if (!err) err = sluice__opt_count(opts, "queue_depth", 4, 1, 1024, "writer", &qd);
  if (!err) err = sluice__opt_bool(opts, "if_not_exists", 0, "writer", &p->if_not_exists);
  if (err) return err;
  if (chunk > SIZE_MAX)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "writer: chunk does not fit in memory");
  p->chunk = (size_t)chunk;
  p->concurrent = (unsigned)conc;
  p->content_type = sluice_options_get(opts, "content_type");
  p->opts = opts;
  *depth = (unsigned)qd;
  return NULL;
}

/* A writer around the sink make() builds from the validated options
 * (generic writer options plus svc_keys). */
static sluice_error *writer_new(sluice__sink_factory make, void *arg, const char *const *svc_keys,
                                const sluice_options *opts, sluice_writer **out) {
  sluice__write_params p = {0};
  unsigned depth;
  sluice_error *err = sluice__write_params_parse(opts, svc_keys, &p, &depth);
  if (err) return err;
  sluice_writer *w = calloc(1, sizeof(*w));
  if (!w) return sluice__error_oom();
  if ((err = make(arg, &p, &w->sink))) {
    free(w);
    return err;
  }
  w->sink->retries = &w->retries;
  w->concurrent = p.concurrent;
  w->queue_depth = depth;
  pthread_mutex_init(&w->lock, NULL);
  w->last.total_bytes = UINT64_MAX;
  *out = w;
  return NULL;
}

sluice_error *sluice__writer_from_sink(sluice__sink_factory make, void *arg,
                                       const sluice_options *opts, sluice_writer **out) {
  *out = NULL;
  return writer_new(make, arg, NULL, opts, out);
}

struct svc_arg {
  sluice_operator *op;
  const char *path;
};

static sluice_error *make_service_sink(void *arg, const sluice__write_params *p,
                                       sluice__sink **out) {
  struct svc_arg *a = arg;
  return a->op->vt->open_sink(a->op->svc, a->path, p, out);
}

sluice_error *sluice_writer_open(sluice_operator *op, const char *path, const sluice_options *opts,
                                 sluice_writer **out) {
  if (out) *out = NULL;
  if (!op || !out)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "writer_open: operator and out must be non-NULL");
  sluice_error *err = sluice__path_check("writer_open", path, SLUICE__PATH_FILE);
  if (err) return err;
  struct svc_arg a = {op, path};
  err = writer_new(make_service_sink, &a, op->vt->writer_keys, opts, out);
  if (err) return err;
  (*out)->op = op;
  sluice__operator_ref(op);
  return NULL;
}

/* Starts the pipe on first use, sized for `readers` producers. */
sluice_error *sluice__writer_start_pipe(sluice_writer *w, unsigned readers) {
  if (w->pipe_live) return NULL;
  pthread_mutex_lock(&w->lock);
  sluice_error *err = sluice__pipe_start(&w->pipe, w->sink, w->concurrent, w->queue_depth, readers);
  w->pipe_live = 1;
  pthread_mutex_unlock(&w->lock);
  /* seq_cst: a cancel that set the flag before pipe_live was visible is
   * seen here (Dekker with sluice__writer_cancel). */
  if (!err && atomic_load(&w->cancel))
    err = sluice__error(SLUICE_ERR_CANCELED, "write '%s': canceled", w->sink->path);
  /* A pipe that could not start is failed like any other: the caller's
   * sluice__writer_check_pipe() then stops it and fails the writer with this error. */
  if (err) sluice__pipe_fail(&w->pipe, err);
  return NULL;
}

/* Stops the pipe (if any) and frees its buffers; returns its first error. */
sluice_error *sluice__writer_stop_pipe(sluice_writer *w) {
  if (!w->pipe_live) return NULL;
  if (w->cur) {
    sluice__bufpool_put(w->pipe.pool, w->cur);
    w->cur = NULL;
  }
  sluice_error *err = sluice__pipe_finish(&w->pipe);
  pthread_mutex_lock(&w->lock);
  w->last.struct_size = sizeof(w->last);
  sluice__pipe_progress(&w->pipe, &w->last);
  sluice__pipe_destroy(&w->pipe);
  w->pipe_live = 0;
  pthread_mutex_unlock(&w->lock);
  return err;
}

static void drop_small(sluice_writer *w) {
  free(w->small);
  w->small = NULL;
  w->small_len = w->small_cap = 0;
}

/* Ends the writer with err (taken): stops everything, aborts the sink. */
void sluice__writer_fail(sluice_writer *w, sluice_error *err) {
  if (w->pipe_live) {
    sluice__pipe_fail(&w->pipe, sluice__error_copy(err));
    sluice_error_free(sluice__writer_stop_pipe(w));
  }
  drop_small(w);
  w->sink->vt->abort(w->sink);
  w->state = W_FAILED;
  w->result = err;
}

sluice_error *sluice__writer_state_error(sluice_writer *w, const char *op) {
  switch (w->state) {
  case W_FAILED: return sluice__error_copy(w->result);
  case W_ABORTED:
    return sluice__error(SLUICE_ERR_CANCELED, "%s '%s': the writer was aborted", op, w->sink->path);
  case W_COMMITTED:
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s '%s': the writer is already closed", op,
                         w->sink->path);
  case W_STREAMED:
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "%s '%s': write_from already streamed into this writer; close or abort it",
                         op, w->sink->path);
  default: return NULL;
  }
}

/* A pipe that failed on its own (a worker's error) fails the writer. */
sluice_error *sluice__writer_check_pipe(sluice_writer *w) {
  if (!w->pipe_live || !atomic_load_explicit(&w->pipe.failed, memory_order_acquire)) return NULL;
  sluice_error *err = sluice__writer_stop_pipe(w);
  if (!err)
    err = sluice__error(SLUICE_ERR_UNEXPECTED, "write '%s': pipeline stopped", w->sink->path);
  sluice__writer_fail(w, err);
  return sluice__error_copy(err);
}

/* Keeps len more bytes in w->small while the object is still under one
 * chunk; 1 when they were kept, 0 when the pipe must take over. */
static int stage_small(sluice_writer *w, const void *buf, size_t len, sluice_error **err) {
  *err = NULL;
  size_t need = w->small_len + len;
  if (w->pipe_live || need >= w->sink->chunk) return 0;
  if (need > w->small_cap) {
    size_t cap = w->small_cap ? w->small_cap : 4096;
    while (cap < need) cap *= 2;
    if (cap > w->sink->chunk) cap = w->sink->chunk;
    unsigned char *p = realloc(w->small, cap);
    if (!p) {
      *err = sluice__error_oom();
      return 1;
    }
    w->small = p;
    w->small_cap = cap;
  }
  memcpy(w->small + w->small_len, buf, len);
  w->small_len = need;
  return 1;
}

/* write() through the pipe, starting it if need be. */
static sluice_error *write_piped(sluice_writer *w, const void *buf, size_t len) {
  sluice_error *err = sluice__writer_start_pipe(w, 1);
  if (!err) err = sluice__writer_check_pipe(w);
  if (err) return err;
  /* The object outgrew one chunk: what was kept goes first. */
  if (w->small_len) {
    if ((w->cur = sluice__pipe_get_buffer(&w->pipe))) {
      memcpy(w->cur->buf, w->small, w->small_len);
      w->cur->len = w->small_len;
    }
    drop_small(w);
    if (!w->cur) return sluice__writer_check_pipe(w);
  }
  const unsigned char *src = buf;
  while (len) {
    if (!w->cur && !(w->cur = sluice__pipe_get_buffer(&w->pipe))) break;
    sluice__chunk *c = w->cur;
    size_t n = c->cap - c->len < len ? c->cap - c->len : len;
    memcpy(c->buf + c->len, src, n);
    c->len += n;
    src += n;
    len -= n;
    if (c->len == c->cap) {
      c->index = w->next_index++;
      c->offset = w->bytes_in;
      w->bytes_in += c->len;
      w->cur = NULL;
      if (sluice__pipe_push(&w->pipe, c) != 0) break;
    }
  }
  return sluice__writer_check_pipe(w);
}

sluice_error *sluice_writer_write(sluice_writer *w, const void *buf, size_t len) {
  if (!w || (!buf && len))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "writer_write: writer and buf must be non-NULL");
  if (w->state != W_OPEN) return sluice__writer_state_error(w, "writer_write");
  if (!len) return sluice__writer_check_pipe(w);
  sluice_error *err;
  if (stage_small(w, buf, len, &err)) return err;
  return write_piped(w, buf, len);
}

sluice_error *sluice_writer_close(sluice_writer *w) {
  if (!w) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "writer_close: writer is NULL");
  if (w->state == W_COMMITTED) return NULL;
  if (w->state != W_OPEN && w->state != W_STREAMED)
    return sluice__writer_state_error(w, "writer_close");
  sluice_error *err = NULL;
  if (w->small_len) {
    /* Under one chunk: one request from the kept bytes, no pipe. */
    unsigned char *small = w->small;
    size_t len = w->small_len;
    w->small = NULL;
    w->small_len = w->small_cap = 0;
    err = sluice__writer_put(w, small, len);
    free(small);
    return err;
  }
  if (w->cur && w->cur->len) {
    sluice__chunk *c = w->cur;
    w->cur = NULL;
    c->index = w->next_index++;
    c->offset = w->bytes_in;
    c->last = 1;
    w->bytes_in += c->len;
    sluice__pipe_push(&w->pipe, c);
  }
  err = sluice__writer_stop_pipe(w);
  if (!err) err = w->sink->vt->commit(w->sink, w->bytes_in, w->next_index);
  if (err) {
    sluice__writer_fail(w, err);
    return sluice__error_copy(err);
  }
  w->state = W_COMMITTED;
  return NULL;
}

sluice_error *sluice__writer_put(sluice_writer *w, const void *buf, size_t len) {
  if (w->state != W_OPEN) return sluice__writer_state_error(w, "write");
  if (w->pipe_live || w->next_index || w->cur || w->small_len || len > w->sink->chunk)
    return sluice__error(
        SLUICE_ERR_INVALID_ARGUMENT,
        "write '%s': a whole-object put needs a fresh writer and at most one chunk", w->sink->path);
  sluice__sink *s = w->sink;
  sluice_error *err = NULL;
  if (atomic_load(&w->cancel)) {
    err = sluice__error(SLUICE_ERR_CANCELED, "write '%s': canceled", s->path);
  } else if (s->vt->put) {
    err = s->vt->put(s, buf, len);
  } else if (s->vt->write_part) {
    /* The sink only reads the chunk's bytes. */
    sluice__chunk c = {.len = len, .cap = len, .buf = (unsigned char *)buf, .last = 1};
    if (len) err = s->vt->write_part(s, &c);
    if (!err) err = s->vt->commit(s, len, len ? 1 : 0);
  } else {
    err = write_piped(w, buf, len);
    return err ? err : sluice_writer_close(w);
  }
  if (err) {
    sluice__writer_fail(w, err);
    return sluice__error_copy(err);
  }
  pthread_mutex_lock(&w->lock);
  w->last.bytes_read = w->last.bytes_written = w->last.total_bytes = len;
  w->last.parts_done = len ? 1 : 0;
  pthread_mutex_unlock(&w->lock);
  w->bytes_in = len;
  w->next_index = len ? 1 : 0;
  w->state = W_COMMITTED;
  return NULL;
}

sluice_error *sluice_writer_abort(sluice_writer *w) {
  if (!w) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "writer_abort: writer is NULL");
  if (w->state != W_OPEN && w->state != W_STREAMED) return NULL;
  if (w->pipe_live) {
    sluice__pipe_fail(&w->pipe,
                      sluice__error(SLUICE_ERR_CANCELED, "write '%s': aborted", w->sink->path));
    sluice_error_free(sluice__writer_stop_pipe(w));
  }
  drop_small(w);
  w->sink->vt->abort(w->sink);
  w->state = W_ABORTED;
  return NULL;
}

void sluice_writer_free(sluice_writer *w) {
  if (!w) return;
  sluice_error_free(sluice_writer_abort(w));
  w->sink->vt->free(w->sink);
  if (w->op) sluice__operator_unref(w->op);
  sluice_error_free(w->result);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

void sluice__writer_cancel(sluice_writer *w) {
  atomic_store(&w->cancel, 1);
  /* A commit may be running (close after the data went up). */
  if (w->sink->vt->interrupt) w->sink->vt->interrupt(w->sink);
  pthread_mutex_lock(&w->lock);
  if (w->pipe_live)
    sluice__pipe_fail(&w->pipe,
                      sluice__error(SLUICE_ERR_CANCELED, "write '%s': canceled", w->sink->path));
  pthread_mutex_unlock(&w->lock);
}

void sluice__writer_progress(sluice_writer *w, sluice_progress *out) {
  pthread_mutex_lock(&w->lock);
  if (w->pipe_live) {
    sluice__pipe_progress(&w->pipe, out);
  } else {
    size_t want = out->struct_size;
    sluice_progress last = w->last;
    /* A commit (CompleteMultipartUpload) may be resent after the pipe. */
    last.retries = atomic_load(&w->retries);
    memcpy(out, &last, want < sizeof(last) ? want : sizeof(last));
    out->struct_size = want;
  }
  pthread_mutex_unlock(&w->lock);
}

sluice_error *sluice_write(sluice_operator *op, const char *path, const void *buf, size_t len,
                           const sluice_options *opts) {
  if (!buf && len) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "write: buf is NULL");
  sluice_writer *w;
  sluice_error *err = sluice_writer_open(op, path, opts, &w);
  if (err) return err;
  /* An object of at most one chunk goes up straight from buf. */
  if (len <= w->sink->chunk) {
    err = sluice__writer_put(w, buf, len);
  } else {
    err = sluice_writer_write(w, buf, len);
    if (!err) err = sluice_writer_close(w);
  }
  sluice_writer_free(w);
  return err;
}

/* The writer layer has parsed the options; a stream has no content type
 * and cannot tell whether it "exists". */
static sluice_error *fd_sink_factory(void *arg, const sluice__write_params *p, sluice__sink **out) {
  int fd = (int)(intptr_t)arg;
  *out = NULL;
  if (p->content_type)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "sluice_writer_from_fd: fd %d: content_type is not supported", fd);
  if (p->if_not_exists)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "sluice_writer_from_fd: fd %d: if_not_exists is not supported", fd);
  return sluice__fd_sink_new(fd, p->chunk, out);
}

sluice_error *sluice_writer_from_fd(int fd, const sluice_options *opts, sluice_writer **out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "sluice_writer_from_fd: out is NULL");
  *out = NULL;
  if (fd < 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "sluice_writer_from_fd: invalid fd %d", fd);
  return sluice__writer_from_sink(fd_sink_factory, (void *)(intptr_t)fd, opts, out);
}

/* ---- a sink written by the caller (lib/caller.c) ---- */

struct caller_arg {
  sluice_sink_ops ops;
  void *ctx;
  const char *name;
  int made; /* the sink owns ctx from here on, failing or not */
};

static sluice_error *caller_sink_factory(void *arg, const sluice__write_params *p,
                                         sluice__sink **out) {
  struct caller_arg *a = arg;
  const char *name = a->name ? a->name : "sink";
  if (p->content_type)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "sluice_writer_from_sink '%s': content_type is not supported", name);
  if (p->if_not_exists)
    return sluice__error(SLUICE_ERR_UNSUPPORTED,
                         "sluice_writer_from_sink '%s': if_not_exists is not supported", name);
  a->made = 1;
  return sluice__caller_sink_new(&a->ops, a->ctx, a->name, p->chunk, out);
}

sluice_error *sluice_writer_from_sink(const sluice_sink_ops *ops, void *ctx, const char *name,
                                      const sluice_options *opts, sluice_writer **out) {
  if (out) *out = NULL;
  struct caller_arg a = {.ctx = ctx, .name = name};
  sluice_error *err =
      out ? sluice__caller_sink_check(ops, "sluice_writer_from_sink", &a.ops)
          : sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "sluice_writer_from_sink: out is NULL");
  if (!err) err = sluice__writer_from_sink(caller_sink_factory, &a, opts, out);
  /* The caller's ctx is ours from the call on: released on every path. */
  if (err && !a.made && ops && ops->struct_size >= sizeof(*ops) && ops->release) ops->release(ctx);
  return err;
}
