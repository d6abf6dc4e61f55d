/* SPDX-License-Identifier: MIT */
/*
 * The S3 suite of endings: an abort, a free without close, a canceled job
 * and an upload left open leave nothing behind.
 * The server and the helpers: s3_suite.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "operator.h"
#include "s3/s3.h"
#include "s3/xml.h"
#include "s3_suite.h"

/* Suite-wide timeout: a per-test .timeout makes Criterion leak under ASan. */
TestSuite(s3_abort, .timeout = 240);

/* ================================================================== */
/* 3. Abort and cancel leave nothing behind                            */
/* ================================================================== */

/* A writer with two full parts handed to the workers, once the server holds
 * at least one of them. */
static sluice_writer *writer_with_parts(struct ctx *c, const char *path) {
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "2", NULL);
  TH_OK(sluice_writer_open(c->op, path, wo, &w));
  sluice_options_free(wo);
  size_t len = 12 * MiB;
  unsigned char *buf = gen(len, 7);
  TH_OK(sluice_writer_write(w, buf, len));
  free(buf);
  size_t parts = wait_for_parts(c->op, c->prefix, 1, 60);
  cr_assert_geq(parts, 1, "no part reached the server within 60 s");
  cr_assert_eq(uploads_left(c->op, c->prefix), 1);
  return w;
}

Test(s3_abort, abort_after_parts_leaves_nothing) {
  struct ctx c;
  ctx_open(&c);
  sluice_writer *w = writer_with_parts(&c, "aborted.bin");
  TH_OK(sluice_writer_abort(w));
  TH_OK(sluice_writer_abort(w)); /* idempotent */
  /* The writer is finished: further use reports it. */
  TH_KIND(sluice_writer_write(w, "x", 1), SLUICE_ERR_CANCELED);
  TH_KIND(sluice_writer_close(w), SLUICE_ERR_CANCELED);
  sluice_writer_free(w);
  expect_not_found(c.op, "aborted.bin");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "abort left the multipart upload behind");
  ctx_close(&c);
}

Test(s3_abort, free_without_close_leaves_nothing) {
  struct ctx c;
  ctx_open(&c);
  sluice_writer *w = writer_with_parts(&c, "dropped.bin");
  sluice_writer_free(w);
  expect_not_found(c.op, "dropped.bin");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "free left the multipart upload behind");
  ctx_close(&c);
}

/* A multipart upload started and left open, as a process killed
 * mid-upload leaves it.  Returns its id (free()). */
static char *start_upload(sluice_operator *op, const char *path) {
  sluice__s3 *s3 = op->svc;
  char *key = sluice__s3_key(s3, path), *id = NULL;
  sluice__httpreq_req r = {
      .op = "CreateMultipartUpload", .path = path, .method = "POST", .key = key};
  sluice__httpreq_query(&r, "uploads", "");
  TH_OK(sluice__s3_perform(s3, &r));
  TH_OK(sluice__s3_xml_upload_id(r.resp.data ? r.resp.data : "", r.resp.len, &id));
  sluice__httpreq_req_cleanup(&r);
  free(key);
  return id;
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The uploads sluice_uploads_list() gives under prefix, as "path id" lines
 * sorted; checks each one's start time is about now. */
static char *uploads_listed(sluice_operator *op, const char *prefix) {
  sluice_upload_lister *l;
  TH_OK(sluice_uploads_list(op, prefix, &l));
  const sluice_upload *u;
  char *lines[8];
  size_t n = 0, total = 1;
  int64_t now = (int64_t)time(NULL);
  for (;;) {
    TH_OK(sluice_upload_lister_next(l, &u));
    if (!u) break;
    cr_assert_lt(n, 8);
    int64_t t = sluice_upload_initiated(u);
    cr_assert(t > now - 3600 && t < now + 3600, "initiated %lld, now %lld", (long long)t,
              (long long)now);
    cr_assert(asprintf(&lines[n], "%s %s\n", sluice_upload_path(u), sluice_upload_id(u)) > 0);
    total += strlen(lines[n++]);
  }
  sluice_upload_lister_free(l);
  qsort(lines, n, sizeof lines[0], cmp_lines);
  char *all = calloc(1, total);
  for (size_t i = 0; i < n; i++) {
    strcat(all, lines[i]);
    free(lines[i]);
  }
  return all;
}

Test(s3_abort, uploads_left_open_are_listed_and_aborted) {
  struct ctx c;
  ctx_open(&c);
  char *a1 = start_upload(c.op, "a/one.bin"), *a2 = start_upload(c.op, "a/two.bin");
  char *b = start_upload(c.op, "b.bin"), *want = NULL, *got;
  /* Sorted by path. */
  cr_assert(asprintf(&want, "a/one.bin %s\na/two.bin %s\nb.bin %s\n", a1, a2, b) > 0);
  got = uploads_listed(c.op, "");
  cr_assert_str_eq(got, want);
  free(got);
  free(want);
  /* A directory and a plain prefix. */
  cr_assert(asprintf(&want, "a/one.bin %s\na/two.bin %s\n", a1, a2) > 0);
  got = uploads_listed(c.op, "a/");
  cr_assert_str_eq(got, want);
  free(got);
  got = uploads_listed(c.op, "a");
  cr_assert_str_eq(got, want);
  free(got);
  free(want);
  /* Keys as given: "/a" is a prefix of its own, not "a". */
  got = uploads_listed(c.op, "/a");
  cr_assert_str_eq(got, "");
  free(got);
  got = uploads_listed(c.op, "c");
  cr_assert_str_eq(got, "");
  free(got);

  TH_OK(sluice_upload_abort(c.op, "a/one.bin", a1));
  cr_assert_eq(uploads_left(c.op, c.prefix), 2);
  /* Gone already: not found, naming the path. */
  sluice_error *err = sluice_upload_abort(c.op, "a/one.bin", a1);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "a/one.bin"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  TH_KIND(sluice_upload_abort(c.op, "a/", a2), SLUICE_ERR_IS_A_DIRECTORY);
  TH_OK(sluice_upload_abort(c.op, "a/two.bin", a2));
  TH_OK(sluice_upload_abort(c.op, "b.bin", b));
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  got = uploads_listed(c.op, "");
  cr_assert_str_eq(got, "");
  free(got);
  free(a1);
  free(a2);
  free(b);
  ctx_close(&c);
}

Test(s3_abort, uploads_of_a_missing_bucket_are_not_found) {
  need_server();
  sluice_options *o = server_opts(NULL);
  TH_OK(sluice_options_set(o, "bucket", "no-such-bucket-for-uploads"));
  sluice_operator *op = op_from(o);
  sluice_upload_lister *l;
  TH_OK(sluice_uploads_list(op, "", &l));
  const sluice_upload *u;
  TH_KIND(sluice_upload_lister_next(l, &u), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(u);
  sluice_upload_lister_free(l);
  sluice_operator_free(op);
}

Test(s3_abort, job_cancel_on_a_slow_stream_leaves_nothing) {
  struct ctx c;
  ctx_open(&c);
  struct feeder f;
  /* ~25 MiB/s at most, 400 MiB in all: far more than the test waits for. */
  int rfd = feeder_start(&f, 400 * MiB, 8, 256 << 10, 10);
  sluice_reader *r;
  TH_OK(sluice_reader_from_fd(rfd, &r));
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "4", NULL);
  TH_OK(sluice_writer_open(c.op, "canceled.bin", wo, &w));
  sluice_options_free(wo);
  sluice_job *job;
  TH_OK(sluice_job_start(w, r, NULL, &job));

  /* Until a few MiB were acknowledged by the server. */
  double end = now_s() + th_seconds(120);
  sluice_progress p;
  for (;;) {
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    TH_OK(sluice_job_progress(job, &p));
    if (p.bytes_written >= 10 * MiB) break;
    cr_assert(!sluice_job_done(job), "the job ended early");
    cr_assert(now_s() < end, "only %llu bytes written after 120 s",
              (unsigned long long)p.bytes_written);
    sleep_ms(10);
  }
  cr_assert_eq(p.total_bytes, UINT64_MAX, "a stream's size is unknown");
  cr_assert_geq(p.parts_done, 2, "%llu bytes written in %llu parts",
                (unsigned long long)p.bytes_written, (unsigned long long)p.parts_done);
  cr_assert_eq(uploads_left(c.op, c.prefix), 1);
  sluice_job_cancel(job);
  TH_KIND(sluice_job_wait(job), SLUICE_ERR_CANCELED);
  cr_assert(sluice_job_done(job));
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  /* The job no longer reads: closing the read end stops the feeder. */
  close(rfd);
  feeder_join(&f);
  expect_not_found(c.op, "canceled.bin");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "cancel left the multipart upload behind");
  ctx_close(&c);
}
