/* SPDX-License-Identifier: MIT */
/*
 * Copy jobs: sluice_job_start and its fd, progress, cancel, wait and free,
 * the way a daemon with its own event loop uses them.
 *
 * Cancellation tests must not depend on the copy being slow enough: a
 * progress callback "gate" holds one worker at a known chunk until the test
 * has cancelled, so the job cannot finish first however fast the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define MiB (1ull << 20)

/* 256 MiB by default; never under 16 MiB, so the gated tests below always
 * have chunks left after the gate whatever SLUICE_TEST_BIG says. */
static uint64_t job_size(void) {
  uint64_t n = th_big_size(1ull << 30) / 4;
  return n < 16 * MiB ? 16 * MiB : n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* poll() on the job's fd until it is readable or `seconds` pass.  1 when
 * readable.  EINTR is retried. */
static int wait_readable(sluice_job *j, double seconds) {
  double end = now_s() + th_seconds(seconds);
  for (;;) {
    struct pollfd pfd = {.fd = sluice_job_fd(j), .events = POLLIN};
    int rc = poll(&pfd, 1, 50);
    if (rc < 0 && errno != EINTR) cr_assert_fail("poll: %s", strerror(errno));
    if (rc > 0) {
      cr_assert(pfd.revents & POLLIN, "job fd revents 0x%x", pfd.revents);
      return 1;
    }
    if (now_s() > end) return 0;
  }
}

static int fd_readable_now(sluice_job *j) {
  struct pollfd pfd = {.fd = sluice_job_fd(j), .events = POLLIN};
  return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static sluice_progress job_progress(sluice_job *j) {
  sluice_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  TH_OK(sluice_job_progress(j, &p));
  cr_assert_eq(p.struct_size, sizeof p);
  return p;
}

/* A source file and a destination directory, with operators on both. */
struct env {
  char *sdir, *ddir;
  sluice_operator *sop, *dop;
  sluice_reader *r;
  sluice_writer *w;
  uint64_t size;
  unsigned char sha[32];
};

static void env_open(struct env *e, uint64_t size, const char *chunk) {
  memset(e, 0, sizeof *e);
  e->size = size;
  e->sdir = th_tmpdir();
  e->ddir = th_tmpdir();
  char *src = th_join(e->sdir, "src.bin");
  th_make_file(src, size, 77);
  th_sha256_file(src, e->sha);
  free(src);
  e->sop = th_fs_op(e->sdir);
  e->dop = th_fs_op(e->ddir);
  sluice_options *wo = th_opts("chunk", chunk, "concurrent", "4", "queue_depth", "4", NULL);
  TH_OK(sluice_reader_open(e->sop, "src.bin", NULL, &e->r));
  TH_OK(sluice_writer_open(e->dop, "dst.bin", wo, &e->w));
  sluice_options_free(wo);
}

static void env_close(struct env *e) {
  sluice_writer_free(e->w);
  sluice_reader_free(e->r);
  sluice_operator_free(e->sop);
  sluice_operator_free(e->dop);
  th_rmrf(e->sdir);
  th_rmrf(e->ddir);
  free(e->sdir);
  free(e->ddir);
}

static void check_copy(struct env *e) {
  unsigned char got[32];
  char *dst = th_join(e->ddir, "dst.bin");
  th_sha256_file(dst, got);
  free(dst);
  cr_assert(memcmp(e->sha, got, 32) == 0, "the destination differs from the source");
  cr_assert_eq(th_count_files(e->ddir), 1, "%d files at the destination", th_count_files(e->ddir));
}

/* ------------------------------------------------------------------ */
/* The gate: holds the worker that completes chunk `at` in the progress
 * callback until released.                                              */
/* ------------------------------------------------------------------ */

struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t at, calls;
  int reached, released;
};

static void gate_init(struct gate *g, uint64_t at) {
  memset(g, 0, sizeof *g);
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->at = at;
}

static void gate_cb(const sluice_progress *p, void *ud) {
  (void)p;
  struct gate *g = ud;
  pthread_mutex_lock(&g->mu);
  if (++g->calls == g->at) {
    g->reached = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->released) pthread_cond_wait(&g->cv, &g->mu);
  }
  pthread_mutex_unlock(&g->mu);
}

/* 1 once the gate is reached, 0 after `seconds`. */
static int gate_wait(struct gate *g, double seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)seconds;
  pthread_mutex_lock(&g->mu);
  int rc = 0;
  while (!g->reached && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&g->cv, &g->mu, &ts);
  int reached = g->reached;
  pthread_mutex_unlock(&g->mu);
  return reached;
}

static void gate_release(struct gate *g) {
  pthread_mutex_lock(&g->mu);
  g->released = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(struct gate *g) {
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}

static sluice_job *start_gated(struct env *e, struct gate *g, uint64_t at) {
  gate_init(g, at);
  sluice_options *co = th_opts("readers", "2", NULL);
  TH_OK(sluice_options_set_progress(co, gate_cb, g));
  sluice_job *j = NULL;
  TH_OK(sluice_job_start(e->w, e->r, co, &j));
  sluice_options_free(co); /* the job copied what it needs */
  cr_assert(j);
  return j;
}

/* ------------------------------------------------------------------ */
/* Completion                                                           */
/* ------------------------------------------------------------------ */

/* The daemon loop: poll() the fd with a tick, look at progress meanwhile. */
Test(job, poll_until_done, .timeout = 300) {
  struct env e;
  env_open(&e, job_size(), "8MiB");
  sluice_job *j;
  TH_OK(sluice_job_start(e.w, e.r, NULL, &j));
  cr_assert(sluice_job_fd(j) >= 0);

  uint64_t last_written = 0, last_read = 0, ticks = 0;
  double end = now_s() + th_seconds(120);
  int readable = 0;
  while (!readable && now_s() < end) {
    struct pollfd pfd = {.fd = sluice_job_fd(j), .events = POLLIN};
    int rc = poll(&pfd, 1, 20);
    cr_assert(rc >= 0 || errno == EINTR, "poll: %s", strerror(errno));
    readable = rc > 0 && (pfd.revents & POLLIN);
    sluice_progress p = job_progress(j);
    cr_assert(p.bytes_written >= last_written, "bytes_written went from %llu to %llu",
              (unsigned long long)last_written, (unsigned long long)p.bytes_written);
    cr_assert(p.bytes_read >= last_read, "bytes_read went from %llu to %llu",
              (unsigned long long)last_read, (unsigned long long)p.bytes_read);
    cr_assert(p.bytes_written <= e.size && p.bytes_read <= e.size);
    last_written = p.bytes_written;
    last_read = p.bytes_read;
    ticks++;
  }
  cr_assert(readable, "the job fd did not become readable within 120 s (%llu of %llu bytes)",
            (unsigned long long)last_written, (unsigned long long)e.size);
  cr_assert_eq(sluice_job_done(j), 1);
  cr_assert(fd_readable_now(j), "the job fd must stay readable");
  TH_OK(sluice_job_wait(j));
  TH_OK(sluice_job_wait(j)); /* may be called more than once */
  cr_assert(fd_readable_now(j), "the job fd must stay readable after wait");

  /* Final figures stay available after the end. */
  sluice_progress p = job_progress(j);
  cr_assert_eq(p.bytes_written, e.size);
  cr_assert_eq(p.bytes_read, e.size);
  cr_assert_eq(p.total_bytes, e.size);
  cr_assert_eq(p.parts_done, (e.size + 8 * MiB - 1) / (8 * MiB));
  cr_assert_eq(p.parts_in_flight, 0);

  sluice_job_cancel(j); /* harmless after the end */
  TH_OK(sluice_job_wait(j));
  sluice_job_free(j);
  check_copy(&e);
  env_close(&e);
}

/* sluice_job_wait alone (no poll) also works, and the writer and reader
 * are usable again after the job: the writer is committed. */
Test(job, wait_without_poll, .timeout = 300) {
  struct env e;
  env_open(&e, job_size() / 4 + 3, "1MiB");
  sluice_job *j;
  TH_OK(sluice_job_start(e.w, e.r, NULL, &j));
  TH_OK(sluice_job_wait(j));
  cr_assert_eq(sluice_job_done(j), 1);
  cr_assert(fd_readable_now(j));
  sluice_job_free(j);
  TH_OK(sluice_writer_close(e.w)); /* already committed: idempotent */
  TH_KIND(sluice_writer_write(e.w, "x", 1), SLUICE_ERR_INVALID_ARGUMENT);
  check_copy(&e);
  env_close(&e);
}

/* A progress callback through a job: once per chunk, ending at the total. */
struct counter {
  pthread_mutex_t mu;
  uint64_t calls, max_written;
};

static void count_cb(const sluice_progress *p, void *ud) {
  struct counter *c = ud;
  pthread_mutex_lock(&c->mu);
  c->calls++;
  if (p->bytes_written > c->max_written) c->max_written = p->bytes_written;
  pthread_mutex_unlock(&c->mu);
}

Test(job, progress_callback, .timeout = 300) {
  struct env e;
  env_open(&e, job_size() / 2 + 12345, "1MiB");
  struct counter c = {.calls = 0};
  pthread_mutex_init(&c.mu, NULL);
  sluice_options *co = th_opts("readers", "3", NULL);
  TH_OK(sluice_options_set_progress(co, count_cb, &c));
  sluice_job *j;
  TH_OK(sluice_job_start(e.w, e.r, co, &j));
  sluice_options_free(co);
  cr_assert(wait_readable(j, 120), "job did not end within 120 s");
  TH_OK(sluice_job_wait(j));
  uint64_t nchunks = (e.size + MiB - 1) / MiB;
  cr_assert_eq(c.calls, nchunks, "%llu progress calls for %llu chunks", (unsigned long long)c.calls,
               (unsigned long long)nchunks);
  cr_assert_eq(c.max_written, e.size);
  sluice_progress p = job_progress(j);
  cr_assert_eq(p.parts_done, nchunks);
  sluice_job_free(j);
  check_copy(&e);
  pthread_mutex_destroy(&c.mu);
  env_close(&e);
}

/* An older caller's smaller struct: nothing past struct_size is written. */
Test(job, progress_respects_struct_size, .timeout = 300) {
  struct env e;
  env_open(&e, 4 * MiB, "1MiB");
  sluice_job *j;
  TH_OK(sluice_job_start(e.w, e.r, NULL, &j));
  for (int round = 0; round < 2; round++) {
    if (round == 1) TH_OK(sluice_job_wait(j)); /* running (maybe), then ended */
    unsigned char raw[sizeof(sluice_progress) + 32];
    memset(raw, 0xAB, sizeof raw);
    sluice_progress *p = (sluice_progress *)raw;
    size_t small = offsetof(sluice_progress, bytes_written);
    p->struct_size = small;
    TH_OK(sluice_job_progress(j, p));
    cr_assert_eq(p->struct_size, small);
    for (size_t i = small; i < sizeof raw; i++)
      cr_assert_eq(raw[i], 0xAB, "byte %zu past struct_size %zu was written (round %d)", i, small,
                   round);
  }
  sluice_progress z;
  memset(&z, 0, sizeof z);
  TH_KIND(sluice_job_progress(j, &z), SLUICE_ERR_INVALID_ARGUMENT); /* struct_size 0 */
  TH_KIND(sluice_job_progress(j, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_job_free(j);
  check_copy(&e);
  env_close(&e);
}

/* The job's outcome is the copy's first error, every time it is asked. */
Test(job, error_is_the_outcome, .timeout = 120) {
  signal(SIGPIPE, SIG_IGN);
  struct env e;
  env_open(&e, 8 * MiB, "1MiB");
  int p[2];
  cr_assert(pipe(p) == 0);
  close(p[0]); /* nobody will ever read: the first write fails with EPIPE */
  sluice_writer *fw;
  TH_OK(sluice_writer_from_fd(p[1], NULL, &fw));
  sluice_job *j;
  TH_OK(sluice_job_start(fw, e.r, NULL, &j));
  cr_assert(wait_readable(j, 60), "job did not end within 60 s");
  TH_KIND(sluice_job_wait(j), SLUICE_ERR_IO);
  TH_KIND(sluice_job_wait(j), SLUICE_ERR_IO);
  cr_assert_eq(sluice_job_done(j), 1);
  sluice_job_free(j);
  TH_KIND(sluice_writer_close(fw), SLUICE_ERR_IO);
  sluice_writer_free(fw);
  close(p[1]);
  env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Cancel                                                               */
/* ------------------------------------------------------------------ */

static void check_canceled_and_empty(struct env *e, sluice_job *j) {
  TH_KIND(sluice_job_wait(j), SLUICE_ERR_CANCELED);
  TH_KIND(sluice_job_wait(j), SLUICE_ERR_CANCELED);
  cr_assert_eq(sluice_job_done(j), 1);
  cr_assert(fd_readable_now(j));
  /* Nothing at the destination: no final file, no temporary file. */
  cr_assert_eq(th_count_files(e->ddir), 0, "%d files left at the destination after cancel",
               th_count_files(e->ddir));
  sluice_metadata *m;
  TH_KIND(sluice_stat(e->dop, "dst.bin", &m), SLUICE_ERR_NOT_FOUND);
}

/* Half-way through a fs->fs copy: cancel, then wait. */
Test(job, cancel_half_way, .timeout = 300) {
  struct env e;
  env_open(&e, job_size(), "1MiB");
  struct gate g;
  sluice_job *j = start_gated(&e, &g, 3);
  cr_assert(gate_wait(&g, 120), "the copy never completed 3 chunks");
  sluice_progress p = job_progress(j);
  cr_assert(p.bytes_written >= 3 * MiB && p.bytes_written < e.size,
            "%llu bytes written at the third chunk", (unsigned long long)p.bytes_written);
  cr_assert_eq(sluice_job_done(j), 0);
  sluice_job_cancel(j);
  sluice_job_cancel(j); /* twice is harmless */
  gate_release(&g);
  cr_assert(wait_readable(j, 60), "a cancelled job did not end within 60 s");
  check_canceled_and_empty(&e, j);
  /* The writer ended aborted: close reports the cancel. */
  sluice_job_free(j);
  TH_KIND(sluice_writer_close(e.w), SLUICE_ERR_CANCELED);
  gate_destroy(&g);
  env_close(&e);
}

/* Cancel right after start, before any chunk can have been written. */
Test(job, cancel_at_once, .timeout = 300) {
  struct env e;
  env_open(&e, job_size() / 4, "1MiB");
  struct gate g;
  sluice_job *j = start_gated(&e, &g, 1);
  sluice_job_cancel(j);
  gate_release(&g);
  cr_assert(wait_readable(j, 60), "a cancelled job did not end within 60 s");
  check_canceled_and_empty(&e, j);
  sluice_job_free(j);
  gate_destroy(&g);
  env_close(&e);
}

struct canceller {
  sluice_job *job;
  struct gate *gate;
  int reached;
  uint64_t written_at_cancel;
};

static void *cancel_main(void *arg) {
  struct canceller *c = arg;
  c->reached = gate_wait(c->gate, 120);
  sluice_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  sluice_error_free(sluice_job_progress(c->job, &p)); /* any thread */
  c->written_at_cancel = p.bytes_written;
  sluice_job_cancel(c->job);
  gate_release(c->gate);
  return NULL;
}

/* Another thread cancels while this one sits in poll(). */
Test(job, cancel_from_another_thread_while_polling, .timeout = 300) {
  struct env e;
  env_open(&e, job_size(), "1MiB");
  struct gate g;
  sluice_job *j = start_gated(&e, &g, 2);
  struct canceller c = {.job = j, .gate = &g};
  pthread_t th;
  cr_assert(pthread_create(&th, NULL, cancel_main, &c) == 0);
  int readable = wait_readable(j, 120);
  pthread_join(th, NULL);
  cr_assert(c.reached, "the copy never completed 2 chunks");
  cr_assert(readable, "a job cancelled from another thread did not end within 120 s");
  cr_assert(c.written_at_cancel >= 2 * MiB);
  check_canceled_and_empty(&e, j);
  sluice_job_free(j);
  gate_destroy(&g);
  env_close(&e);
}

struct releaser {
  struct gate *gate;
  unsigned delay_ms;
};

static void *release_main(void *arg) {
  struct releaser *r = arg;
  usleep(r->delay_ms * 1000);
  gate_release(r->gate);
  return NULL;
}

/* Freeing a running job cancels it, waits for it and frees it (valgrind
 * checks the "frees").  The writer is then aborted: nothing is left. */
Test(job, free_while_running, .timeout = 300) {
  struct env e;
  env_open(&e, job_size(), "1MiB");
  struct gate g;
  sluice_job *j = start_gated(&e, &g, 2);
  cr_assert(gate_wait(&g, 120), "the copy never completed 2 chunks");
  /* The worker is held in the gate: the job is certainly running when
   * free() cancels it; the gate opens a little later. */
  struct releaser rl = {.gate = &g, .delay_ms = 200};
  pthread_t th;
  cr_assert(pthread_create(&th, NULL, release_main, &rl) == 0);
  sluice_job_free(j);
  pthread_join(th, NULL);
  cr_assert_eq(th_count_files(e.ddir), 0, "%d files left after freeing a running job",
               th_count_files(e.ddir));
  TH_KIND(sluice_writer_close(e.w), SLUICE_ERR_CANCELED);
  gate_destroy(&g);
  env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Cancel with a stream source                                          */
/* ------------------------------------------------------------------ */

/* Feeds a pipe: `burst` bytes at once, then (if trickle) 256 KiB every
 * 10 ms until stopped or the reader is gone.  It never closes the pipe:
 * the test decides when the source reaches EOF. */
struct feeder {
  int fd;
  uint64_t burst;
  int trickle;
  atomic_int stop;
  uint64_t sent;
};

/* The write end is non-blocking, so a feeder whose reader stopped reading
 * still notices `stop`.  -1 when stopped or the reader is gone. */
static int write_gen(struct feeder *f, unsigned char *buf, size_t n) {
  th_fill(buf, n, 99, f->sent);
  size_t done = 0;
  while (done < n) {
    if (atomic_load(&f->stop)) return -1;
    ssize_t w = write(f->fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = f->fd, .events = POLLOUT};
      poll(&pfd, 1, 20);
      continue;
    }
    if (w < 0) return -1; /* EPIPE: the reader is gone */
    done += (size_t)w;
  }
  f->sent += n;
  return 0;
}

static void *feed_main(void *arg) {
  struct feeder *f = arg;
  size_t piece = 256 * 1024;
  unsigned char *buf = malloc(piece);
  while (f->sent < f->burst && !atomic_load(&f->stop)) {
    size_t n = f->burst - f->sent < piece ? (size_t)(f->burst - f->sent) : piece;
    if (write_gen(f, buf, n)) goto out;
  }
  while (f->trickle && !atomic_load(&f->stop)) {
    if (write_gen(f, buf, piece)) goto out;
    usleep(10000);
  }
out:
  free(buf);
  return NULL;
}

struct stream_env {
  char *ddir;
  sluice_operator *dop;
  int p[2];
  struct feeder f;
  pthread_t th;
  sluice_reader *r;
  sluice_writer *w;
};

static void stream_open(struct stream_env *s, uint64_t burst, int trickle) {
  signal(SIGPIPE, SIG_IGN);
  memset(s, 0, sizeof *s);
  s->ddir = th_tmpdir();
  s->dop = th_fs_op(s->ddir);
  cr_assert(pipe(s->p) == 0);
  cr_assert(fcntl(s->p[1], F_SETFL, O_NONBLOCK) == 0); /* the feeder's end only */
  s->f.fd = s->p[1];
  s->f.burst = burst;
  s->f.trickle = trickle;
  cr_assert(pthread_create(&s->th, NULL, feed_main, &s->f) == 0);
  sluice_options *wo = th_opts("chunk", "1MiB", "concurrent", "2", "queue_depth", "2", NULL);
  TH_OK(sluice_reader_from_fd(s->p[0], &s->r));
  TH_OK(sluice_writer_open(s->dop, "dst.bin", wo, &s->w));
  sluice_options_free(wo);
}

/* Stops the feeder and closes the pipe's write end (EOF for the source). */
static void stream_stop_feeder(struct stream_env *s) {
  atomic_store(&s->f.stop, 1);
  pthread_join(s->th, NULL);
  close(s->p[1]);
  s->p[1] = -1;
}

static void stream_close(struct stream_env *s) {
  sluice_writer_free(s->w);
  sluice_reader_free(s->r);
  close(s->p[0]); /* the fds stay the caller's */
  if (s->p[1] >= 0) close(s->p[1]);
  sluice_operator_free(s->dop);
  th_rmrf(s->ddir);
  free(s->ddir);
}

/* Waits (bounded) until the job reports at least `bytes` written. */
static void wait_written(sluice_job *j, uint64_t bytes, double seconds) {
  double end = now_s() + th_seconds(seconds);
  sluice_progress p;
  while ((p = job_progress(j)).bytes_written < bytes) {
    cr_assert(!sluice_job_done(j), "the job ended early");
    cr_assert(now_s() < end, "only %llu bytes written after %.0f s",
              (unsigned long long)p.bytes_written, seconds);
    usleep(5000);
  }
}

/* A pipe source fed slowly, so the job cannot finish: cancel half-way. */
Test(job, cancel_stream_half_way, .timeout = 300) {
  struct stream_env s;
  stream_open(&s, 4 * MiB, 1);
  sluice_job *j;
  TH_OK(sluice_job_start(s.w, s.r, NULL, &j));
  wait_written(j, 4 * MiB, 120);
  sluice_job_cancel(j);
  int ended = wait_readable(j, 30);
  /* The feeder is stopped only now: the source kept producing throughout. */
  stream_stop_feeder(&s);
  cr_assert(ended, "a cancelled job on a live stream did not end within 30 s");
  TH_KIND(sluice_job_wait(j), SLUICE_ERR_CANCELED);
  cr_assert_eq(th_count_files(s.ddir), 0, "%d files left after cancel", th_count_files(s.ddir));
  sluice_job_free(j);
  stream_close(&s);
}

/* The stream goes quiet (the peer is alive but sends nothing): a cancel
 * must still end the job "soon", without waiting for the source to send
 * more data or to close. */
Test(job, cancel_idle_stream, .timeout = 120) {
  struct stream_env s;
  stream_open(&s, 2 * MiB + 100, 0);
  sluice_job *j;
  TH_OK(sluice_job_start(s.w, s.r, NULL, &j));
  wait_written(j, 2 * MiB, 60);
  pthread_join(s.th, NULL); /* all sent; the write end stays open */
  sluice_job_cancel(j);
  double t0 = now_s();
  int ended = wait_readable(j, 5);
  double took = now_s() - t0;
  /* Unblock the source whatever happened, so the test can clean up. */
  close(s.p[1]);
  s.p[1] = -1;
  int ended_after_eof = wait_readable(j, 30);
  cr_assert(ended_after_eof, "the job did not end even after the source closed");
  /* Clean up first, then judge, so a failure leaks nothing. */
  sluice_error *err = sluice_job_wait(j);
  sluice_errkind kind = sluice_error_kind(err);
  sluice_error_free(err);
  int left = th_count_files(s.ddir);
  sluice_job_free(j);
  stream_close(&s);
  cr_assert(ended,
            "sluice_job_cancel did not end a job whose stream source was idle (waited %.1f s); "
            "it ended only once the source reached EOF",
            took);
  cr_assert_eq(kind, SLUICE_ERR_CANCELED, "outcome [%s], expected canceled", sluice_strerror(kind));
  cr_assert_eq(left, 0, "%d files left after cancel", left);
}

/* A stream job that runs to the end commits everything it read. */
Test(job, stream_completes, .timeout = 120) {
  struct stream_env s;
  uint64_t size = 5 * MiB + 321;
  stream_open(&s, size, 0);
  sluice_job *j;
  TH_OK(sluice_job_start(s.w, s.r, NULL, &j));
  pthread_join(s.th, NULL);
  close(s.p[1]); /* EOF */
  s.p[1] = -1;
  cr_assert(wait_readable(j, 60));
  TH_OK(sluice_job_wait(j));
  sluice_progress p = job_progress(j);
  cr_assert_eq(p.bytes_written, size);
  cr_assert_eq(p.total_bytes, UINT64_MAX, "a stream's size is unknown");
  sluice_job_free(j);
  unsigned char want[32], got[32];
  th_sha256_generated(size, 99, want);
  th_sha256_object(s.dop, "dst.bin", got);
  cr_assert(memcmp(want, got, 32) == 0);
  stream_close(&s);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                            */
/* ------------------------------------------------------------------ */

Test(job, bad_arguments, .timeout = 60) {
  struct env e;
  env_open(&e, 1 * MiB, "1MiB");
  sluice_job *j = (sluice_job *)1;
  TH_KIND(sluice_job_start(NULL, e.r, NULL, &j), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(j, "out not cleared on failure");
  j = (sluice_job *)1;
  TH_KIND(sluice_job_start(e.w, NULL, NULL, &j), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(j);
  TH_KIND(sluice_job_start(e.w, e.r, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options *bad = th_opts("readrs", "2", NULL);
  j = (sluice_job *)1;
  TH_KIND(sluice_job_start(e.w, e.r, bad, &j), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(j);
  sluice_options_free(bad);

  cr_assert_eq(sluice_job_fd(NULL), -1);
  cr_assert_eq(sluice_job_done(NULL), 0);
  TH_KIND(sluice_job_wait(NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_progress p = {.struct_size = sizeof p};
  TH_KIND(sluice_job_progress(NULL, &p), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_job_cancel(NULL);
  sluice_job_free(NULL);

  /* The refused starts left the writer and reader untouched. */
  TH_OK(sluice_job_start(e.w, e.r, NULL, &j));
  TH_OK(sluice_job_wait(j));
  sluice_job_free(j);
  check_copy(&e);
  env_close(&e);
}
