/* SPDX-License-Identifier: MIT */
/*
 * Streams over a caller's file descriptor (a pipe, a socket, stdin/stdout):
 * a source that reads it sequentially and a sink that writes parts to it in
 * order.  The fd always stays the caller's: nothing here closes it.
 *
 * Both block like ordinary I/O: a non-blocking fd is waited on with poll()
 * rather than failing with EAGAIN, and EINTR is retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fd.h"
#include "service.h"

/* "fd:-2147483648" and its NUL. */
#define FD_NAME_LEN 16

/* Checks that fd is open and, by its access mode, usable in the wanted
 * direction, so a wrong fd fails at open rather than at the first read or
 * write.  fn names the public function for the message. */
static sluice_error *fd_check(int fd, int for_write, const char *fn) {
  if (fd < 0) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: invalid fd %d", fn, fd);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: fd %d is not open", fn, fd);
  int mode = fl & O_ACCMODE;
  if ((for_write && mode == O_RDONLY) || (!for_write && mode == O_WRONLY))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "%s: fd %d is not open for %s", fn, fd,
                         for_write ? "writing" : "reading");
  return NULL;
}

/* Sleeps until fd is ready for events (after EAGAIN on a non-blocking fd).
 * Errors and hang-ups are left for the retried read/write to report. */
static void fd_wait(int fd, short events) {
  struct pollfd pfd = {.fd = fd, .events = events};
  while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
    ;
}

static int fd_would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* ------------------------------------------------------------------ */
/* Source                                                              */
/* ------------------------------------------------------------------ */

typedef struct fd_source {
  sluice__source base;
  int fd;
  int wake_fd; /* eventfd: readable once interrupt() was called */
  char name[FD_NAME_LEN];
} fd_source;

/* One read(): returns as soon as some bytes arrived (short reads are
 * normal on pipes and sockets); *n = 0 only at end of file. */
static sluice_error *fd_source_read(sluice__source *s, void *buf, size_t len, size_t *n) {
  fd_source *fs = (fd_source *)s;
  *n = 0;
  if (len > SSIZE_MAX) len = SSIZE_MAX;
  for (;;) {
    /* Wait for data or an interrupt, so that cancel can end a copy whose
     * peer has gone quiet.  After poll() says readable, read() on a pipe or
     * socket does not block. */
    struct pollfd pfd[2] = {{.fd = fs->fd, .events = POLLIN},
                            {.fd = fs->wake_fd, .events = POLLIN}};
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return sluice__error_errno(errno, "read from fd %d: poll", fs->fd);
    }
    if (pfd[1].revents)
      return sluice__error(SLUICE_ERR_CANCELED, "read from fd %d: interrupted", fs->fd);
    ssize_t r = read(fs->fd, buf, len);
    if (r >= 0) {
      *n = (size_t)r;
      return NULL;
    }
    if (errno == EINTR) continue;
    if (fd_would_block(errno)) {
      fd_wait(fs->fd, POLLIN);
      continue;
    }
    return sluice__error_errno(errno, "read from fd %d", fs->fd);
  }
}

static void fd_source_interrupt(sluice__source *s) {
  uint64_t one = 1;
  /* The counter only grows, so the eventfd stays readable: sticky. */
  ssize_t r = write(((fd_source *)s)->wake_fd, &one, sizeof(one));
  (void)r;
}

static void fd_source_free(sluice__source *s) {
  close(((fd_source *)s)->wake_fd);
  free(s);
}

static const struct sluice__source_vt fd_source_vt = {
    .read = fd_source_read,
    .pread = NULL, /* a stream: no positioned reads */
    .free = fd_source_free,
    .interrupt = fd_source_interrupt,
};

sluice_error *sluice__fd_source_new(int fd, sluice__source **out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "fd source: out is NULL");
  *out = NULL;
  sluice_error *err = fd_check(fd, 0, "sluice_reader_from_fd");
  if (err) return err;
  fd_source *fs = calloc(1, sizeof *fs);
  if (!fs) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "fd:%d: out of memory", fd);
  fs->fd = fd;
  fs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fs->wake_fd < 0) {
    err = sluice__error_errno(errno, "sluice_reader_from_fd: eventfd");
    free(fs);
    return err;
  }
  snprintf(fs->name, sizeof fs->name, "fd:%d", fd);
  fs->base.vt = &fd_source_vt;
  /* Always a stream, even for a regular file: the caller may have
   * positioned the fd, and a size would have to be re-checked anyway. */
  fs->base.size = UINT64_MAX;
  fs->base.path = fs->name;
  *out = &fs->base;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Sink                                                                */
/* ------------------------------------------------------------------ */

typedef struct fd_sink {
  sluice__sink base;
  int fd;
  /* Index the next part must have.  The writer delivers parts in order
   * (ordered = 1); checking it turns a pipeline bug into an error instead
   * of silently scrambled output.  Atomic because consecutive parts may
   * come from different worker threads. */
  atomic_uint_fast64_t next_index;
  char name[FD_NAME_LEN];
} fd_sink;

/* Writing to a pipe whose reader has gone raises SIGPIPE, which would kill
 * the caller's process before EPIPE could be reported.  A library must not
 * change the process's signal disposition, so block SIGPIPE in this thread
 * around the write and consume the one our write raised (if it was not
 * already pending for some other reason). */
typedef struct fd_sigpipe_guard {
  sigset_t old;
  int was_pending;
} fd_sigpipe_guard;

static void fd_sigpipe_block(fd_sigpipe_guard *g) {
  sigset_t pipe_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  g->was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void fd_sigpipe_restore(fd_sigpipe_guard *g, int got_epipe) {
  if (got_epipe && !g->was_pending) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Writes all len bytes, looping on short writes, EINTR and EAGAIN.
 * Returns 0, or the errno of the failure. */
static int fd_write_all(int fd, const unsigned char *p, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, p, len > SSIZE_MAX ? SSIZE_MAX : len);
    if (w > 0) {
      p += w;
      len -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && fd_would_block(errno)) {
      fd_wait(fd, POLLOUT);
    } else {
      /* write() returning 0 for a non-zero length should not happen;
       * treat it as an I/O error rather than spin. */
      return w < 0 ? errno : EIO;
    }
  }
  return 0;
}

static sluice_error *fd_sink_write_part(sluice__sink *s, const sluice__chunk *c) {
  fd_sink *k = (fd_sink *)s;
  uint_fast64_t expected = c->index;
  if (!atomic_compare_exchange_strong(&k->next_index, &expected, c->index + 1))
    return sluice__error(SLUICE_ERR_UNEXPECTED,
                         "write to fd %d: part %llu arrived out of order (expected %llu)", k->fd,
                         (unsigned long long)c->index, (unsigned long long)expected);

  fd_sigpipe_guard g;
  fd_sigpipe_block(&g);
  int e = fd_write_all(k->fd, c->buf, c->len);
  fd_sigpipe_restore(&g, e == EPIPE);
  if (e == EPIPE) return sluice__error(SLUICE_ERR_IO, "write to fd %d: Broken pipe", k->fd);
  if (e != 0) return sluice__error_errno(e, "write to fd %d", k->fd);
  return NULL;
}

/* Every byte is already out: there is nothing to publish. */
static sluice_error *fd_sink_commit(sluice__sink *s, uint64_t total_size, uint64_t nparts) {
  return NULL;
}

/* A stream cannot be un-written: what went out stays out. */
static void fd_sink_abort(sluice__sink *s) {}

static void fd_sink_free(sluice__sink *s) { free(s); }

static const struct sluice__sink_vt fd_sink_vt = {
    .write_part = fd_sink_write_part,
    .commit = fd_sink_commit,
    .abort = fd_sink_abort,
    .free = fd_sink_free,
};

sluice_error *sluice__fd_sink_new(int fd, size_t chunk, sluice__sink **out) {
  if (!out) return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "fd sink: out is NULL");
  *out = NULL;
  sluice_error *err = fd_check(fd, 1, "sluice_writer_from_fd");
  if (err) return err;
  fd_sink *k = calloc(1, sizeof *k);
  if (!k) return sluice__error(SLUICE_ERR_OUT_OF_MEMORY, "fd:%d: out of memory", fd);
  k->fd = fd;
  atomic_init(&k->next_index, 0);
  snprintf(k->name, sizeof k->name, "fd:%d", fd);
  k->base.vt = &fd_sink_vt;
  k->base.chunk = chunk;
  k->base.per_worker = 1;
  k->base.max_in_flight = 1;
  k->base.ordered = 1;
  k->base.path = k->name;
  *out = &k->base;
  return NULL;
}
