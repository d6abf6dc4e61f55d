/* SPDX-License-Identifier: MIT */
/*
 * Sources and sinks written by the caller (sluice_reader_from_source,
 * sluice_writer_from_sink): bytes through write_from and jobs, the order
 * and ownership promised in sluice.h, a callback's error as the copy's
 * cause with nothing committed, and callbacks that return nonsense.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define KiB (1u << 10)
#define MiB (1u << 20)

/* ---- a source over a buffer, with faults ---- */

struct src {
  const unsigned char *data;
  size_t len, pos;
  int fail_at_read; /* the Nth read fails with EIO (0: never) */
  int lie;          /* read reports one byte more than it was given */
  int bad_rc;       /* read returns this instead of 0 (when non-zero) */
  int block;        /* read waits until interrupted */
  atomic_int reads, interrupted, released;
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

static int src_read(void *ctx, void *buf, size_t len, size_t *n) {
  struct src *s = ctx;
  int i = atomic_fetch_add(&s->reads, 1) + 1;
  if (s->block) {
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->interrupted)) pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return ECANCELED;
  }
  if (s->fail_at_read && i == s->fail_at_read) return EIO;
  if (s->bad_rc) return s->bad_rc;
  size_t k = s->len - s->pos < len ? s->len - s->pos : len;
  memcpy(buf, s->data + s->pos, k);
  s->pos += k;
  *n = s->lie && k ? len + 1 : k;
  return 0;
}

static int src_pread(void *ctx, void *buf, size_t len, uint64_t off, size_t *n) {
  struct src *s = ctx;
  atomic_fetch_add(&s->reads, 1);
  cr_assert(off < s->len, "pread past the size");
  size_t k = s->len - off < len ? s->len - (size_t)off : len;
  memcpy(buf, s->data + off, k);
  *n = k;
  return 0;
}

static void src_interrupt(void *ctx) {
  struct src *s = ctx;
  pthread_mutex_lock(&s->lock);
  atomic_store(&s->interrupted, 1);
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

static void src_release(void *ctx) { atomic_fetch_add(&((struct src *)ctx)->released, 1); }

static struct src *src_new(size_t len, uint64_t seed) {
  struct src *s = calloc(1, sizeof(*s));
  cr_assert(s);
  unsigned char *d = malloc(len ? len : 1);
  cr_assert(d);
  th_fill(d, len, seed, 0);
  s->data = d;
  s->len = len;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  return s;
}

static void src_free(struct src *s) {
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free((void *)s->data);
  free(s);
}

static sluice_source_ops src_ops(int positional) {
  sluice_source_ops ops = {.struct_size = sizeof ops,
                           .read = src_read,
                           .pread = positional ? src_pread : NULL,
                           .interrupt = src_interrupt,
                           .release = src_release};
  return ops;
}

/* ---- a sink into a buffer, with faults ---- */

struct sink {
  unsigned char *data;
  size_t cap;
  pthread_mutex_t lock;
  uint64_t next; /* ordered: the index expected next */
  int ordered_violation;
  int fail_part;   /* write_part of this index + 1 fails with ENOSPC (0: never) */
  int fail_commit; /* commit fails with EIO */
  atomic_int parts, commits, aborts, released, in_flight, most_in_flight;
  uint64_t size, nparts;
};

static int sink_write_part(void *ctx, uint64_t index, uint64_t offset, const void *buf,
                           size_t len) {
  struct sink *k = ctx;
  int now = atomic_fetch_add(&k->in_flight, 1) + 1;
  int most = atomic_load(&k->most_in_flight);
  while (now > most && !atomic_compare_exchange_weak(&k->most_in_flight, &most, now))
    ;
  int rc = 0;
  if (k->fail_part && index + 1 == (uint64_t)k->fail_part) {
    rc = ENOSPC;
  } else {
    cr_assert(offset + len <= k->cap, "a part past the end");
    pthread_mutex_lock(&k->lock);
    if (index != k->next) k->ordered_violation = 1;
    k->next = index + 1;
    pthread_mutex_unlock(&k->lock);
    memcpy(k->data + offset, buf, len);
    atomic_fetch_add(&k->parts, 1);
  }
  usleep(1000); /* parts overlap in time, so max_in_flight shows */
  atomic_fetch_sub(&k->in_flight, 1);
  return rc;
}

static int sink_commit(void *ctx, uint64_t size, uint64_t nparts) {
  struct sink *k = ctx;
  atomic_fetch_add(&k->commits, 1);
  k->size = size;
  k->nparts = nparts;
  return k->fail_commit ? EIO : 0;
}

static void sink_abort(void *ctx) { atomic_fetch_add(&((struct sink *)ctx)->aborts, 1); }
static void sink_release(void *ctx) { atomic_fetch_add(&((struct sink *)ctx)->released, 1); }

static struct sink *sink_new(size_t cap) {
  struct sink *k = calloc(1, sizeof(*k));
  cr_assert(k);
  k->data = calloc(1, cap ? cap : 1);
  cr_assert(k->data);
  k->cap = cap;
  pthread_mutex_init(&k->lock, NULL);
  return k;
}

static void sink_free(struct sink *k) {
  pthread_mutex_destroy(&k->lock);
  free(k->data);
  free(k);
}

static sluice_sink_ops sink_ops(unsigned flags, unsigned max_in_flight) {
  sluice_sink_ops ops = {.struct_size = sizeof ops,
                         .write_part = sink_write_part,
                         .commit = sink_commit,
                         .abort = sink_abort,
                         .release = sink_release,
                         .flags = flags,
                         .max_in_flight = max_in_flight};
  return ops;
}

/* write_from r into w with readers, then close; frees both. */
static sluice_error *copy(sluice_reader *r, sluice_writer *w, unsigned readers) {
  sluice_options *co = th_opts("readers", readers == 4 ? "4" : "1", NULL);
  sluice_error *err = sluice_write_from(w, r, co);
  if (!err) err = sluice_writer_close(w);
  sluice_options_free(co);
  sluice_writer_free(w);
  sluice_reader_free(r);
  return err;
}

static void expect_object(sluice_operator *m, const char *path, const struct src *s) {
  void *got = NULL;
  size_t n = 0;
  TH_OK(sluice_read(m, path, 0, UINT64_MAX, &got, &n));
  cr_assert_eq(n, s->len);
  cr_assert(memcmp(got, s->data, n) == 0, "the bytes differ");
  sluice_free(got);
}

/* ---- sources ---- */

Test(caller, a_stream_source_copies_through_write_from) {
  struct src *s = src_new(3 * MiB + 17, 1);
  sluice_source_ops ops = src_ops(0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_source(&ops, s, UINT64_MAX, "gen", &r));
  cr_assert_eq(sluice_reader_size(r), UINT64_MAX);
  sluice_operator *m = th_mem_op();
  sluice_options *wo = th_opts("chunk", "256KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(m, "s.bin", wo, &w));
  TH_OK(copy(r, w, 1));
  expect_object(m, "s.bin", s);
  cr_assert_eq(atomic_load(&s->released), 1, "release once, at sluice_reader_free");
  sluice_options_free(wo);
  sluice_operator_free(m);
  src_free(s);
}

Test(caller, a_positional_source_is_read_by_several_threads) {
  struct src *s = src_new(5 * MiB + 3, 2);
  sluice_source_ops ops = src_ops(1);
  sluice_reader *r;
  TH_OK(sluice_reader_from_source(&ops, s, s->len, NULL, &r));
  cr_assert_eq(sluice_reader_size(r), s->len);
  sluice_operator *m = th_mem_op();
  sluice_options *wo = th_opts("chunk", "64KiB", "concurrent", "4", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(m, "p.bin", wo, &w));
  TH_OK(copy(r, w, 4));
  expect_object(m, "p.bin", s);
  cr_assert_eq(atomic_load(&s->released), 1);
  sluice_options_free(wo);
  sluice_operator_free(m);
  src_free(s);
}

Test(caller, a_source_error_fails_the_copy_with_its_errno_and_commits_nothing) {
  struct src *s = src_new(2 * MiB, 3);
  s->fail_at_read = 3;
  sluice_source_ops ops = src_ops(0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_source(&ops, s, UINT64_MAX, "flaky", &r));
  sluice_operator *m = th_mem_op();
  sluice_options *wo = th_opts("chunk", "64KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(m, "f.bin", wo, &w));
  sluice_error *err = copy(r, w, 1);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_ERRNO);
  cr_assert_eq(sluice_error_errno(err), EIO);
  cr_assert(strstr(sluice_error_message(err), "source 'flaky': read failed"), "%s",
            sluice_error_message(err));
  sluice_error_free(err);
  sluice_metadata *md = NULL;
  TH_KIND(sluice_stat(m, "f.bin", &md), SLUICE_ERR_NOT_FOUND);
  cr_assert_eq(atomic_load(&s->released), 1);
  sluice_options_free(wo);
  sluice_operator_free(m);
  src_free(s);
}

static void nonsense_is_refused(int lie, int bad_rc) {
  struct src *s = src_new(100 * KiB, 4);
  s->lie = lie;
  s->bad_rc = bad_rc;
  sluice_source_ops ops = src_ops(0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_source(&ops, s, UINT64_MAX, "liar", &r));
  unsigned char buf[4096];
  size_t n = 99;
  sluice_error *err = sluice_reader_read(r, buf, sizeof buf, &n);
  cr_assert_not_null(err);
  cr_assert_eq(n, 0);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_UNEXPECTED, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "liar"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_reader_free(r);
  cr_assert_eq(atomic_load(&s->released), 1);
  src_free(s);
}

Test(caller, a_source_reporting_more_bytes_than_its_buffer_is_refused) {
  nonsense_is_refused(1, 0);
}
Test(caller, a_source_returning_a_negative_value_is_refused) { nonsense_is_refused(0, -5); }

Test(caller, a_job_cancel_interrupts_a_blocked_source) {
  struct src *s = src_new(10, 5);
  s->block = 1;
  sluice_source_ops ops = src_ops(0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_source(&ops, s, UINT64_MAX, "blocked", &r));
  sluice_operator *m = th_mem_op();
  sluice_writer *w;
  TH_OK(sluice_writer_open(m, "b.bin", NULL, &w));
  sluice_job *job;
  TH_OK(sluice_job_start(w, r, NULL, &job));
  while (atomic_load(&s->reads) == 0) usleep(1000);
  sluice_job_cancel(job);
  sluice_error *err = sluice_job_wait(job);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CANCELED, "%s", sluice_error_message(err));
  cr_assert(atomic_load(&s->interrupted));
  sluice_error_free(err);
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_metadata *md = NULL;
  TH_KIND(sluice_stat(m, "b.bin", &md), SLUICE_ERR_NOT_FOUND);
  sluice_operator_free(m);
  src_free(s);
}

Test(caller, bad_source_arguments_are_refused_and_ctx_released) {
  struct src *s = src_new(1, 6);
  sluice_source_ops ops = src_ops(0);
  sluice_reader *r = (sluice_reader *)1;
  TH_KIND(sluice_reader_from_source(NULL, s, 1, NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  TH_KIND(sluice_reader_from_source(&ops, s, 1, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(atomic_load(&s->released), 1, "ctx is released on a refused call");
  sluice_source_ops old = ops;
  old.struct_size = sizeof(size_t);
  TH_KIND(sluice_reader_from_source(&old, s, 1, NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_source_ops noread = ops;
  noread.read = NULL;
  TH_KIND(sluice_reader_from_source(&noread, s, 1, NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(atomic_load(&s->released), 2);
  src_free(s);
}

/* ---- sinks ---- */

static sluice_error *into_sink(struct src *s, struct sink *k, sluice_sink_ops ops,
                               const char *concurrent) {
  sluice_operator *m = th_mem_op();
  TH_OK(sluice_write(m, "in.bin", s->data, s->len, NULL));
  sluice_reader *r;
  TH_OK(sluice_reader_open(m, "in.bin", NULL, &r));
  sluice_options *wo = th_opts("chunk", "64KiB", "concurrent", concurrent, NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_from_sink(&ops, k, "collector", wo, &w));
  sluice_error *err = copy(r, w, 4);
  sluice_options_free(wo);
  sluice_operator_free(m);
  return err;
}

Test(caller, a_sink_gets_every_part_then_one_commit) {
  struct src *s = src_new(3 * MiB + 5, 7);
  struct sink *k = sink_new(s->len);
  TH_OK(into_sink(s, k, sink_ops(0, 0), "4"));
  cr_assert(memcmp(k->data, s->data, s->len) == 0, "the bytes differ");
  cr_assert_eq(atomic_load(&k->commits), 1);
  cr_assert_eq(k->size, s->len);
  cr_assert_eq(k->nparts, (s->len + 64 * KiB - 1) / (64 * KiB));
  cr_assert_eq((uint64_t)atomic_load(&k->parts), k->nparts);
  cr_assert_eq(atomic_load(&k->aborts), 0);
  cr_assert_eq(atomic_load(&k->released), 1);
  cr_assert_leq(atomic_load(&k->most_in_flight), 4);
  sink_free(k);
  src_free(s);
}

Test(caller, an_ordered_sink_gets_parts_one_at_a_time_in_order) {
  struct src *s = src_new(2 * MiB + 1, 8);
  struct sink *k = sink_new(s->len);
  TH_OK(into_sink(s, k, sink_ops(SLUICE_SINK_ORDERED, 0), "4"));
  cr_assert(memcmp(k->data, s->data, s->len) == 0);
  cr_assert(!k->ordered_violation, "a part arrived out of order");
  cr_assert_eq(atomic_load(&k->most_in_flight), 1);
  sink_free(k);
  src_free(s);
}

Test(caller, max_in_flight_bounds_the_parts_at_once) {
  struct src *s = src_new(2 * MiB, 9);
  struct sink *k = sink_new(s->len);
  TH_OK(into_sink(s, k, sink_ops(0, 2), "8"));
  cr_assert(memcmp(k->data, s->data, s->len) == 0);
  cr_assert_leq(atomic_load(&k->most_in_flight), 2);
  sink_free(k);
  src_free(s);
}

Test(caller, a_failed_part_aborts_the_sink_and_commits_nothing) {
  struct src *s = src_new(2 * MiB, 10);
  struct sink *k = sink_new(s->len);
  k->fail_part = 3;
  sluice_error *err = into_sink(s, k, sink_ops(0, 0), "4");
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_errno(err), ENOSPC, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "sink 'collector': write_part failed"), "%s",
            sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(atomic_load(&k->commits), 0);
  cr_assert_eq(atomic_load(&k->aborts), 1);
  cr_assert_eq(atomic_load(&k->released), 1);
  sink_free(k);
  src_free(s);
}

Test(caller, a_failed_commit_aborts_the_sink) {
  struct src *s = src_new(300 * KiB, 11);
  struct sink *k = sink_new(s->len);
  k->fail_commit = 1;
  sluice_error *err = into_sink(s, k, sink_ops(0, 0), "4");
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(atomic_load(&k->commits), 1);
  cr_assert_eq(atomic_load(&k->aborts), 1);
  cr_assert_eq(atomic_load(&k->released), 1);
  sink_free(k);
  src_free(s);
}

Test(caller, a_small_object_is_one_part_and_a_commit_on_the_callers_thread) {
  struct sink *k = sink_new(16);
  sluice_sink_ops ops = sink_ops(0, 0);
  sluice_writer *w;
  TH_OK(sluice_writer_from_sink(&ops, k, NULL, NULL, &w));
  TH_OK(sluice_writer_write(w, "0123456789", 10));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  cr_assert(memcmp(k->data, "0123456789", 10) == 0);
  cr_assert_eq(k->size, 10);
  cr_assert_eq(k->nparts, 1);
  cr_assert_eq(atomic_load(&k->aborts), 0);
  cr_assert_eq(atomic_load(&k->released), 1);
  sink_free(k);
}

Test(caller, an_unclosed_sink_writer_is_aborted_when_freed) {
  struct sink *k = sink_new(16);
  sluice_sink_ops ops = sink_ops(0, 0);
  sluice_writer *w;
  TH_OK(sluice_writer_from_sink(&ops, k, NULL, NULL, &w));
  TH_OK(sluice_writer_write(w, "abc", 3));
  sluice_writer_free(w);
  cr_assert_eq(atomic_load(&k->commits), 0);
  cr_assert_eq(atomic_load(&k->aborts), 1);
  cr_assert_eq(atomic_load(&k->released), 1);
  sink_free(k);
}

Test(caller, bad_sink_arguments_are_refused_and_ctx_released) {
  struct sink *k = sink_new(1);
  sluice_sink_ops ops = sink_ops(0, 0);
  sluice_writer *w = (sluice_writer *)1;
  TH_KIND(sluice_writer_from_sink(NULL, k, NULL, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  sluice_sink_ops bad = ops;
  bad.flags = 0x80;
  TH_KIND(sluice_writer_from_sink(&bad, k, NULL, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  bad = ops;
  bad.abort = NULL;
  TH_KIND(sluice_writer_from_sink(&bad, k, NULL, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options *o = th_opts("content_type", "text/plain", NULL);
  TH_KIND(sluice_writer_from_sink(&ops, k, NULL, o, &w), SLUICE_ERR_UNSUPPORTED);
  sluice_options_free(o);
  o = th_opts("chunk", "1", NULL);
  TH_KIND(sluice_writer_from_sink(&ops, k, NULL, o, &w), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  TH_KIND(sluice_writer_from_sink(&ops, k, NULL, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(atomic_load(&k->released), 5, "ctx is released on every refused call");
  sink_free(k);
}
