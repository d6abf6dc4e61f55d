/* SPDX-License-Identifier: MIT */
/*
 * The S3 objects suite: small objects, multipart uploads, streams and
 * readers (a reader pinned to the ETag it opened).
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
TestSuite(s3, .timeout = 240);

/* ================================================================== */
/* 1. Small objects                                                    */
/* ================================================================== */

Test(s3, small_object_round_trip_ranges_stat) {
  struct ctx c;
  ctx_open(&c);
  const size_t len = 1000;
  unsigned char *data = gen(len, 1);
  int64_t before = (int64_t)time(NULL);
  TH_OK(sluice_write(c.op, "dir/small.bin", data, len, NULL));
  expect_content(c.op, "dir/small.bin", data, len);
  /* A leading '/' makes another key (S3 stores "/dir/small.bin" apart). */
  sluice_metadata *lm = NULL;
  TH_KIND(sluice_stat(c.op, "/dir/small.bin", &lm), SLUICE_ERR_NOT_FOUND);

  struct {
    uint64_t off, len;
    size_t want_off, want_len;
  } ranges[] = {
      {0, 1, 0, 1},              /* first byte */
      {10, 100, 10, 100},        /* inside */
      {999, 1, 999, 1},          /* last byte */
      {999, UINT64_MAX, 999, 1}, /* last byte, to the end */
      {900, 500, 900, 100},      /* past the end: clipped */
      {0, 5000, 0, 1000},        /* more than the object */
      {1000, 10, 1000, 0},       /* at the end: nothing */
      {500, 0, 500, 0},          /* empty range */
  };
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    void *buf;
    size_t n;
    TH_OK(sluice_read(c.op, "dir/small.bin", ranges[i].off, ranges[i].len, &buf, &n));
    cr_assert_eq(n, ranges[i].want_len, "range %zu (%llu+%llu): %zu bytes, expected %zu", i,
                 (unsigned long long)ranges[i].off, (unsigned long long)ranges[i].len, n,
                 ranges[i].want_len);
    cr_assert(n == 0 || memcmp(buf, data + ranges[i].want_off, n) == 0, "range %zu: wrong bytes",
              i);
    sluice_free(buf);
  }
  /* Offset past the end. */
  void *buf = (void *)1;
  size_t n = 7;
  TH_KIND(sluice_read(c.op, "dir/small.bin", 1001, 10, &buf, &n), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
  cr_assert(buf == NULL && n == 0, "read left its out-parameters set on failure");
  sluice_options *ro = th_opts("offset", "5000", NULL);
  sluice_reader *r;
  TH_KIND(sluice_reader_open(c.op, "dir/small.bin", ro, &r), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
  sluice_options_free(ro);

  /* A reader over a range, read in small pieces. */
  ro = th_opts("offset", "100", "length", "333", NULL);
  TH_OK(sluice_reader_open(c.op, "dir/small.bin", ro, &r));
  sluice_options_free(ro);
  cr_assert_eq(sluice_reader_size(r), 333);
  unsigned char got[400];
  size_t have = 0;
  for (;;) {
    TH_OK(sluice_reader_read(r, got + have, have + 7 <= sizeof got ? 7 : sizeof got - have, &n));
    if (!n) break;
    have += n;
  }
  cr_assert_eq(have, 333);
  cr_assert(memcmp(got, data + 100, 333) == 0);
  sluice_reader_free(r);

  /* stat */
  sluice_metadata *m = stat_ok(c.op, "dir/small.bin");
  cr_assert_eq(sluice_metadata_size(m), len);
  cr_assert(!sluice_metadata_is_dir(m));
  cr_assert_not_null(sluice_metadata_etag(m));
  int64_t mt = sluice_metadata_mtime(m);
  cr_assert(mt >= before - 120 && mt <= (int64_t)time(NULL) + 120,
            "mtime %lld is not around now (%lld)", (long long)mt, (long long)before);
  char *etag1 = strdup(sluice_metadata_etag(m));
  sluice_metadata_free(m);
  expect_md5_etag(c.op, "dir/small.bin", data, len);
  /* The prefix is a directory. */
  m = stat_ok(c.op, "dir/");
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);

  /* Overwrite with other content and another size. */
  unsigned char *data2 = gen(1500, 2);
  TH_OK(sluice_write(c.op, "dir/small.bin", data2, 1500, NULL));
  expect_content(c.op, "dir/small.bin", data2, 1500);
  m = stat_ok(c.op, "dir/small.bin");
  cr_assert_eq(sluice_metadata_size(m), 1500);
  cr_assert_str_neq(sluice_metadata_etag(m), etag1, "the ETag did not change on overwrite");
  sluice_metadata_free(m);

  /* Delete; deleting again (a missing key) succeeds. */
  TH_OK(sluice_delete(c.op, "dir/small.bin"));
  expect_not_found(c.op, "dir/small.bin");
  expect_not_found(c.op, "dir/");
  TH_OK(sluice_delete(c.op, "dir/small.bin"));
  TH_OK(sluice_delete(c.op, "never/was.bin"));

  free(etag1);
  free(data);
  free(data2);
  ctx_close(&c);
}

Test(s3, empty_object_round_trip) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "empty", NULL, 0, NULL));
  sluice_metadata *m = stat_ok(c.op, "empty");
  cr_assert_eq(sluice_metadata_size(m), 0);
  cr_assert_not_null(sluice_metadata_etag(m));
  sluice_metadata_free(m);
  expect_content(c.op, "empty", "", 0);
  /* An offset into an empty object is not an error (nothing to read). */
  void *buf;
  size_t n;
  TH_OK(sluice_read(c.op, "empty", 0, 10, &buf, &n));
  cr_assert_eq(n, 0);
  sluice_free(buf);
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "empty", NULL, &r));
  cr_assert_eq(sluice_reader_size(r), 0);
  char b[8];
  TH_OK(sluice_reader_read(r, b, sizeof b, &n));
  cr_assert_eq(n, 0);
  sluice_reader_free(r);
  /* An empty writer commits an empty object too (and overwrites). */
  TH_OK(sluice_write(c.op, "empty2", "xyz", 3, NULL));
  sluice_writer *w;
  TH_OK(sluice_writer_open(c.op, "empty2", NULL, &w));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  m = stat_ok(c.op, "empty2");
  cr_assert_eq(sluice_metadata_size(m), 0);
  sluice_metadata_free(m);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  ctx_close(&c);
}

/* Keys that SigV4 must encode (spaces, '+', '%', '=', '&', non-ASCII, ...)
 * are written, stat'ed, read, listed and deleted under their own names. */
Test(s3, keys_with_special_characters) {
  struct ctx c;
  ctx_open(&c);
  static const char *const keys[] = {
      "sp ace/file name.txt",   "plus+sign.bin",   "pct%20literal.bin",
      "eq=amp&q?.bin",          "tilde~star*.bin", "uni-\xc3\xa9\xe2\x82\xac.bin",
      "paren(1)[2]!$',;:@.bin",
  };
  size_t nk = sizeof keys / sizeof keys[0];
  for (size_t i = 0; i < nk; i++) {
    char body[64];
    int bl = snprintf(body, sizeof body, "object %zu", i);
    TH_OK(sluice_write(c.op, keys[i], body, (size_t)bl, NULL));
    expect_content(c.op, keys[i], body, (size_t)bl);
    sluice_metadata *m = stat_ok(c.op, keys[i]);
    cr_assert_eq(sluice_metadata_size(m), (uint64_t)bl);
    sluice_metadata_free(m);
  }
  sluice_options *lo = th_opts("recursive", "true", NULL);
  sluice_lister *l;
  TH_OK(sluice_list(c.op, "", lo, &l));
  sluice_options_free(lo);
  size_t seen = 0;
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    int found = 0;
    for (size_t i = 0; i < nk; i++) found |= strcmp(sluice_entry_path(e), keys[i]) == 0;
    cr_assert(found, "listed an unexpected key '%s'", sluice_entry_path(e));
    seen++;
  }
  sluice_lister_free(l);
  cr_assert_eq(seen, nk);
  /* A directory whose name needs encoding in the prefix parameter. */
  const char *in_space[] = {"sp ace/file name.txt"};
  TH_OK(sluice_list(c.op, "sp ace/", NULL, &l));
  const sluice_entry *e;
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_not_null(e, "listing 'sp ace/' is empty");
  cr_assert_str_eq(sluice_entry_path(e), in_space[0]);
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_null(e);
  sluice_lister_free(l);
  for (size_t i = 0; i < nk; i++) {
    TH_OK(sluice_delete(c.op, keys[i]));
    expect_not_found(c.op, keys[i]);
  }
  ctx_close(&c);
}

/* ================================================================== */
/* 2. Multipart                                                        */
/* ================================================================== */

Test(s3, multipart_write_from_file_and_back) {
  struct ctx c;
  ctx_open(&c);
  uint64_t size = big_size() + 12345;
  char *dir = th_tmpdir();
  char *src = th_join(dir, "src.bin"), *back = th_join(dir, "back.bin");
  th_make_file(src, size, 3);
  unsigned char want[32], got[32];
  th_sha256_file(src, want);
  sluice_operator *fs = th_fs_op(dir);

  double t0 = now_s();
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(fs, "src.bin", NULL, &r));
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "8", NULL);
  sluice_options *co = th_opts("readers", "2", NULL);
  TH_OK(sluice_writer_open(c.op, "big/object.bin", wo, &w));
  TH_OK(sluice_write_from(w, r, co));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  double t1 = now_s();
  cr_log_info("s3 multipart: %llu bytes up in %.2f s", (unsigned long long)size, t1 - t0);

  sluice_metadata *m = stat_ok(c.op, "big/object.bin");
  cr_assert_eq(sluice_metadata_size(m), size);
  sluice_metadata_free(m);
  expect_parts_etag(c.op, "big/object.bin", (unsigned)chunks_of(size, 5 * MiB));
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "a multipart upload was left behind");

  /* Back to the file system through ranged GETs from two reader threads. */
  TH_OK(sluice_reader_open(c.op, "big/object.bin", NULL, &r));
  cr_assert_eq(sluice_reader_size(r), size);
  TH_OK(sluice_writer_open(fs, "back.bin", NULL, &w));
  TH_OK(sluice_write_from(w, r, co));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  cr_log_info("s3 multipart: %llu bytes down in %.2f s", (unsigned long long)size, now_s() - t1);
  th_sha256_file(back, got);
  cr_assert(memcmp(want, got, 32) == 0, "the copy back differs from the source");

  /* S3 to S3, four ranged readers feeding eight part uploads: the same
   * content cut at the same part boundaries has the same multipart ETag. */
  double t2 = now_s();
  sluice_options *co4 = th_opts("readers", "4", NULL);
  TH_OK(sluice_reader_open(c.op, "big/object.bin", NULL, &r));
  TH_OK(sluice_writer_open(c.op, "big/copy.bin", wo, &w));
  TH_OK(sluice_write_from(w, r, co4));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  cr_log_info("s3 multipart: %llu bytes S3 to S3 in %.2f s", (unsigned long long)size,
              now_s() - t2);
  char e1[140], e2[140];
  cr_assert_str_eq(etag_of(c.op, "big/copy.bin", e2, sizeof e2),
                   etag_of(c.op, "big/object.bin", e1, sizeof e1),
                   "the S3-to-S3 copy has another ETag");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "a multipart upload was left behind");

  /* A byte range of the object, fetched by parallel ranged GETs. */
  uint64_t soff = 7 * MiB + 3, slen = 11 * MiB + 5;
  if (soff + slen > size) soff = size / 3, slen = size / 3;
  char num[32];
  sluice_options *ro = sluice_options_new();
  TH_OK(sluice_options_set_uint(ro, "offset", soff));
  TH_OK(sluice_options_set_uint(ro, "length", slen));
  TH_OK(sluice_reader_open(c.op, "big/object.bin", ro, &r));
  cr_assert_eq(sluice_reader_size(r), slen);
  TH_OK(sluice_writer_open(fs, "slice.bin", NULL, &w));
  TH_OK(sluice_write_from(w, r, co4));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_options_free(ro);
  char *slice = th_join(dir, "slice.bin");
  struct stat st;
  cr_assert(stat(slice, &st) == 0 && (uint64_t)st.st_size == slen, "slice.bin has the wrong size");
  th_sha256_file(slice, got);
  sha_generated_slice(soff, slen, 3, want);
  snprintf(num, sizeof num, "%llu", (unsigned long long)soff);
  cr_assert(memcmp(want, got, 32) == 0, "the range at %s differs", num);
  free(slice);
  sluice_options_free(co4);

  TH_OK(sluice_delete(c.op, "big/copy.bin"));
  TH_OK(sluice_delete(c.op, "big/object.bin"));
  sluice_options_free(wo);
  sluice_options_free(co);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(src);
  free(back);
  free(dir);
  ctx_close(&c);
}

Test(s3, multipart_writer_write_odd_sizes) {
  struct ctx c;
  ctx_open(&c);
  uint64_t size = 17 * MiB + 777;
  uint64_t b = big_size();
  if (b < size) size = b + 777;
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "3", "queue_depth", "2", NULL);
  TH_OK(sluice_writer_open(c.op, "odd.bin", wo, &w));
  sluice_options_free(wo);
  static const size_t sizes[] = {1, 4093, 65537, 1048583, 3, 777777, 5 * MiB + 1, 2};
  size_t maxs = 5 * MiB + 1;
  unsigned char *buf = malloc(maxs);
  uint64_t off = 0;
  for (unsigned i = 0; off < size; i++) {
    size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
    if (n > size - off) n = (size_t)(size - off);
    th_fill(buf, n, 4, off);
    TH_OK(sluice_writer_write(w, buf, n));
    off += n;
  }
  free(buf);
  /* Nothing is visible before close. */
  expect_not_found(c.op, "odd.bin");
  TH_OK(sluice_writer_close(w));
  TH_OK(sluice_writer_close(w)); /* idempotent */
  sluice_writer_free(w);
  expect_generated(c.op, "odd.bin", size, 4);
  expect_parts_etag(c.op, "odd.bin", (unsigned)chunks_of(size, 5 * MiB));
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "a multipart upload was left behind");
  ctx_close(&c);
}

Test(s3, multipart_from_a_stream) {
  struct ctx c;
  ctx_open(&c);
  const uint64_t size = 23 * MiB + 4321;
  struct feeder f;
  int rfd = feeder_start(&f, size, 5, 100000, 0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_fd(rfd, &r));
  cr_assert_eq(sluice_reader_size(r), UINT64_MAX);
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "4", NULL);
  TH_OK(sluice_writer_open(c.op, "stream.bin", wo, &w));
  sluice_options_free(wo);
  TH_OK(sluice_write_from(w, r, NULL));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  feeder_join(&f);
  close(rfd);
  expect_generated(c.op, "stream.bin", size, 5);
  expect_parts_etag(c.op, "stream.bin", (unsigned)chunks_of(size, 5 * MiB));
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "a multipart upload was left behind");
  ctx_close(&c);
}

/* A stream that ends exactly on a chunk boundary: the last part is full
 * size and a stream cannot know it is the last, so the upload completes
 * with exactly size / chunk parts (no empty extra part). */
Test(s3, stream_ending_on_a_chunk_boundary) {
  struct ctx c;
  ctx_open(&c);
  const uint64_t size = 10 * MiB;
  struct feeder f;
  int rfd = feeder_start(&f, size, 6, 1 << 20, 0);
  sluice_reader *r;
  TH_OK(sluice_reader_from_fd(rfd, &r));
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_writer_open(c.op, "exact.bin", wo, &w));
  sluice_options_free(wo);
  TH_OK(sluice_write_from(w, r, NULL));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  feeder_join(&f);
  close(rfd);
  expect_generated(c.op, "exact.bin", size, 6);
  expect_parts_etag(c.op, "exact.bin", 2);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  ctx_close(&c);
}

/* Small reads come from one read-ahead block, reads of 8 MiB and more go
 * straight to the caller's buffer; any mix returns the object in order. */
Test(s3, reader_mixed_read_sizes) {
  struct ctx c;
  ctx_open(&c);
  const size_t size = 17 * MiB + 5;
  unsigned char *data = gen(size, 16);
  TH_OK(sluice_write(c.op, "mixed.bin", data, size, NULL));
  static const size_t sizes[] = {1, 8 * MiB, 4095, 9 * MiB + 1, 100, 3 * MiB, 8 * MiB - 1};
  unsigned char *got = malloc(size + 16);
  for (int pass = 0; pass < 2; pass++) {
    /* pass 1: a range [3, size - 10) */
    uint64_t off = pass ? 3 : 0, len = pass ? size - 13 : size;
    sluice_options *ro = NULL;
    if (pass) {
      ro = th_opts("offset", "3", NULL);
      TH_OK(sluice_options_set_uint(ro, "length", len));
    }
    sluice_reader *r;
    TH_OK(sluice_reader_open(c.op, "mixed.bin", ro, &r));
    sluice_options_free(ro);
    size_t have = 0;
    for (unsigned i = 0;; i++) {
      size_t want = sizes[(i + (unsigned)pass) % (sizeof sizes / sizeof sizes[0])], n;
      if (want > size + 16 - have) want = size + 16 - have;
      TH_OK(sluice_reader_read(r, got + have, want, &n));
      if (!n) break;
      cr_assert_leq(n, want);
      have += n;
    }
    cr_assert_eq(have, len, "pass %d: read %zu bytes, expected %llu", pass, have,
                 (unsigned long long)len);
    cr_assert(memcmp(got, data + off, len) == 0, "pass %d: content differs", pass);
    cr_assert_eq(sluice_reader_size(r), 0);
    sluice_reader_free(r);
  }
  /* Read-ahead by four parallel ranged GETs of 1 MiB (reader options chunk
   * and concurrent). */
  sluice_options *ro = th_opts("chunk", "1MiB", "concurrent", "4", NULL);
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "mixed.bin", ro, &r));
  sluice_options_free(ro);
  size_t have = 0;
  for (unsigned i = 0;; i++) {
    size_t want = sizes[i % (sizeof sizes / sizeof sizes[0])], n;
    if (want > size + 16 - have) want = size + 16 - have;
    TH_OK(sluice_reader_read(r, got + have, want, &n));
    if (!n) break;
    have += n;
  }
  sluice_reader_free(r);
  cr_assert_eq(have, size);
  cr_assert(memcmp(got, data, size) == 0, "read-ahead: content differs");
  free(got);
  free(data);
  ctx_close(&c);
}

struct drain {
  int fd;
  uint64_t n;
  unsigned char sha[32];
};

static void *drain_run(void *arg) {
  struct drain *d = arg;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  unsigned char *buf = malloc(1 << 16);
  ssize_t k;
  while ((k = read(d->fd, buf, 1 << 16)) != 0) {
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) break;
    EVP_DigestUpdate(ctx, buf, (size_t)k);
    d->n += (uint64_t)k;
  }
  unsigned int len = 32;
  EVP_DigestFinal_ex(ctx, d->sha, &len);
  EVP_MD_CTX_free(ctx);
  free(buf);
  return NULL;
}

/* S3 to a pipe: parallel ranged GETs finish out of order, the fd writer
 * puts the bytes back in order. */
Test(s3, object_to_a_pipe_in_order) {
  struct ctx c;
  ctx_open(&c);
  const size_t size = 21 * MiB + 9;
  unsigned char *data = gen(size, 29);
  TH_OK(sluice_write(c.op, "to-pipe.bin", data, size, NULL));
  free(data);
  int p[2];
  cr_assert(pipe(p) == 0);
  struct drain d = {.fd = p[0]};
  pthread_t th;
  cr_assert(pthread_create(&th, NULL, drain_run, &d) == 0);
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "to-pipe.bin", NULL, &r));
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "1MiB", "concurrent", "4", NULL);
  TH_OK(sluice_writer_from_fd(p[1], wo, &w));
  sluice_options_free(wo);
  sluice_options *co = th_opts("readers", "4", NULL);
  TH_OK(sluice_write_from(w, r, co));
  sluice_options_free(co);
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  close(p[1]);
  pthread_join(th, NULL);
  close(p[0]);
  unsigned char want[32];
  th_sha256_generated(size, 29, want);
  cr_assert_eq(d.n, size);
  cr_assert(memcmp(d.sha, want, 32) == 0, "the bytes reached the pipe out of order");
  ctx_close(&c);
}

struct hammer {
  sluice_operator *op;
  unsigned id;
  char *failure; /* first failure, malloc'd */
};

static char *failf(sluice_error *err, const char *what, const char *name) {
  char *s = NULL;
  if (asprintf(&s, "%s %s: [%s] %s", what, name, sluice_strerror(sluice_error_kind(err)),
               sluice_error_message(err)) < 0)
    s = NULL;
  sluice_error_free(err);
  return s ? s : strdup("out of memory");
}

static void *hammer_run(void *arg) {
  struct hammer *h = arg;
  for (unsigned i = 0; i < 12 && !h->failure; i++) {
    char name[64];
    snprintf(name, sizeof name, "h%u/obj-%u", h->id, i);
    size_t len = 1000 + h->id * 37 + i * 101;
    unsigned char *data = malloc(len);
    th_fill(data, len, h->id * 100 + i, 0);
    sluice_error *err;
    void *buf = NULL;
    size_t n;
    sluice_metadata *m = NULL;
    if ((err = sluice_write(h->op, name, data, len, NULL)))
      h->failure = failf(err, "write", name);
    else if ((err = sluice_read(h->op, name, 0, UINT64_MAX, &buf, &n)))
      h->failure = failf(err, "read", name);
    else if (n != len || memcmp(buf, data, len) != 0)
      h->failure = strdup(name);
    else if ((err = sluice_stat(h->op, name, &m)))
      h->failure = failf(err, "stat", name);
    else if (sluice_metadata_size(m) != len)
      h->failure = strdup(name);
    else if (i % 2 && (err = sluice_delete(h->op, name)))
      h->failure = failf(err, "delete", name);
    sluice_metadata_free(m);
    sluice_free(buf);
    free(data);
  }
  return NULL;
}

/* One operator shared by eight threads (its connection pool and curl share
 * handle are used from all of them). */
Test(s3, one_operator_many_threads) {
  struct ctx c;
  ctx_open(&c);
  enum { T = 8 };
  pthread_t th[T];
  struct hammer h[T];
  for (unsigned t = 0; t < T; t++) {
    h[t] = (struct hammer){c.op, t, NULL};
    cr_assert(pthread_create(&th[t], NULL, hammer_run, &h[t]) == 0);
  }
  for (unsigned t = 0; t < T; t++) pthread_join(th[t], NULL);
  for (unsigned t = 0; t < T; t++) cr_assert_null(h[t].failure, "thread %u: %s", t, h[t].failure);
  sluice_options *lo = th_opts("recursive", "true", NULL);
  sluice_lister *l;
  TH_OK(sluice_list(c.op, "", lo, &l));
  sluice_options_free(lo);
  unsigned n = 0;
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    n++;
  }
  sluice_lister_free(l);
  cr_assert_eq(n, T * 6, "%u objects left, expected %u", n, T * 6);
  ctx_close(&c);
}

/* payload_signing=sha256 signs every body; the server checks the hash. */
Test(s3, signed_payloads) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *o = server_opts(c.prefix);
  TH_OK(sluice_options_set(o, "payload_signing", "sha256"));
  sluice_operator *op = op_from(o);
  size_t len = 11 * MiB;
  unsigned char *buf = gen(len, 18);
  sluice_options *wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_write(op, "signed-multipart.bin", buf, len, wo));
  TH_OK(sluice_write(op, "signed-small.bin", buf, 100000, wo));
  sluice_options_free(wo);
  expect_content(c.op, "signed-multipart.bin", buf, len);
  expect_content(c.op, "signed-small.bin", buf, 100000);
  expect_parts_etag(c.op, "signed-multipart.bin", 3);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* Streams shorter than a chunk: nothing at all gives an empty object, a
 * short stream one PutObject. */
Test(s3, short_streams) {
  struct ctx c;
  ctx_open(&c);
  static const uint64_t sizes[] = {0, 1, 1 * MiB + 17};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "short-%zu.bin", i);
    struct feeder f;
    int rfd = feeder_start(&f, sizes[i], 25 + i, 65536, 0);
    sluice_reader *r;
    TH_OK(sluice_reader_from_fd(rfd, &r));
    sluice_writer *w;
    sluice_options *wo = th_opts("chunk", "5MiB", NULL);
    TH_OK(sluice_writer_open(c.op, name, wo, &w));
    sluice_options_free(wo);
    TH_OK(sluice_write_from(w, r, NULL));
    TH_OK(sluice_writer_close(w));
    sluice_writer_free(w);
    sluice_reader_free(r);
    feeder_join(&f);
    close(rfd);
    unsigned char *want = gen((size_t)sizes[i], 25 + i);
    expect_content(c.op, name, want, (size_t)sizes[i]);
    expect_md5_etag(c.op, name, want, (size_t)sizes[i]);
    free(want);
  }
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  ctx_close(&c);
}

/* ================================================================== */
/* 7. A reader is pinned to the ETag it opened                         */
/* ================================================================== */

Test(s3, reader_fails_when_the_object_changes) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 17 * MiB;
  unsigned char *v1 = gen(len, 13), *v2 = gen(len, 14);
  TH_OK(sluice_write(c.op, "pinned.bin", v1, len, NULL));
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "pinned.bin", NULL, &r));
  unsigned char *got = malloc(len);
  size_t have = 0, n;
  TH_OK(sluice_reader_read(r, got, 1024, &n));
  cr_assert_eq(n, 1024);
  have = n;
  cr_assert(memcmp(got, v1, n) == 0);
  /* Replaced by another writer while the reader is open. */
  TH_OK(sluice_write(c.op, "pinned.bin", v2, len, NULL));
  sluice_error *err = NULL;
  while (have < len) {
    err = sluice_reader_read(r, got + have, 64 << 10, &n);
    if (err || n == 0) break;
    have += n;
  }
  cr_assert_not_null(err, "read all %zu bytes of a replaced object without an error (%s)", have,
                     memcmp(got, v1, have) == 0   ? "all old"
                     : memcmp(got, v2, have) == 0 ? "all new"
                                                  : "a mix of both versions");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONDITION_NOT_MATCH, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "pinned.bin"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  /* What was returned before the error is the old version only. */
  cr_assert(have > 0 && memcmp(got, v1, have) == 0,
            "bytes before the error are not the old version");
  sluice_reader_free(r);
  /* A new reader sees the new version. */
  void *tail;
  TH_OK(sluice_read(c.op, "pinned.bin", len - 10, 10, &tail, &n));
  cr_assert_eq(n, 10);
  cr_assert(memcmp(tail, v2 + len - 10, 10) == 0);
  sluice_free(tail);
  free(got);
  free(v1);
  free(v2);
  ctx_close(&c);
}
