/* SPDX-License-Identifier: MIT */
/*
 * The s3 service against a real server: OpenStack Swift with the s3api
 * middleware on loopback (tests/servers/swift-s3api.sh), which checks SigV4
 * signatures and Content-MD5, enforces S3's multipart rules and answers
 * ranged and conditional GETs.  tests/check-servers.sh starts it and
 * exports SLUICE_S3_*; without SLUICE_S3_ENDPOINT every test is skipped.
 *
 * Every test works under a key prefix of its own (operator option root =
 * "t-<pid>-<n>-<stamp>/"), so tests never see each other's objects, not
 * even an earlier run's on a server that is kept between runs.  Multipart
 * tests check with a raw ListMultipartUploads request (uploads_left) that
 * nothing is left behind in the bucket.  Fault tests put
 * tests/servers/fault-proxy.py between the library and the server.
 *
 * Large sizes shrink with SLUICE_TEST_BIG (th_big_size), as in the
 * sanitizer runs.  Tests that fail today show library bugs; each says what
 * was expected.
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

#define MiB (1ull << 20)

/* Suite-wide timeout: a per-test .timeout makes Criterion leak under ASan. */
TestSuite(s3, .timeout = 240);

/* ------------------------------------------------------------------ */
/* The server, operators and key prefixes                              */
/* ------------------------------------------------------------------ */

static th_s3_server E;

static void need_server(void) { th_s3_need_server(&E); }

static unsigned prefix_counter;

/* "t-<pid>-<n>-<stamp>/": unique to this test (each test runs in its own
 * process).  The stamp (wall-clock microseconds, hex) keeps a reused pid
 * from meeting an earlier run's objects on a server that outlives a run. */
static void new_prefix(char out[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long us =
      (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
  snprintf(out, 64, "t-%ld-%u-%llx/", (long)getpid(), ++prefix_counter, us);
}

/* Options for the test server, with root when given. */
static sluice_options *server_opts(const char *root) {
  sluice_options *o =
      th_opts("endpoint", E.endpoint, "region", E.region, "bucket", E.bucket, "access_key_id",
              E.access_key, "secret_access_key", E.secret_key, NULL);
  if (root) TH_OK(sluice_options_set(o, "root", root));
  return o;
}

/* An operator on opts (freed here). */
static sluice_operator *op_from(sluice_options *o) {
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  cr_assert_str_eq(sluice_operator_scheme(op), "s3");
  return op;
}

/* A test's world: an operator rooted at a fresh prefix. */
struct ctx {
  char prefix[64];
  sluice_operator *op;
};

static void ctx_open(struct ctx *c) {
  need_server();
  new_prefix(c->prefix);
  c->op = op_from(server_opts(c->prefix));
}

static void ctx_close(struct ctx *c) {
  sluice_operator_free(c->op);
  memset(c, 0, sizeof *c);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------ */
/* Raw requests: multipart uploads in progress, their parts            */
/* ------------------------------------------------------------------ */

/* ListMultipartUploads under prefix (a full key prefix).  Only uploads
 * whose key really starts with prefix are kept, whatever the server does
 * with the prefix parameter. */
static void list_uploads(sluice_operator *op, const char *prefix, sluice__s3_uploads_page *page) {
  sluice__s3 *s3 = op->svc;
  sluice__httpreq_req r = {.op = "ListMultipartUploads", .path = prefix, .method = "GET"};
  sluice__httpreq_query(&r, "uploads", "");
  sluice__httpreq_query(&r, "prefix", prefix);
  TH_OK(sluice__s3_perform(s3, &r));
  TH_OK(sluice__s3_xml_list_uploads(r.resp.data ? r.resp.data : "", r.resp.len, page));
  sluice__httpreq_req_cleanup(&r);
  cr_assert(!page->truncated, "more than one page of uploads under %s", prefix);
  size_t keep = 0, plen = strlen(prefix);
  for (size_t i = 0; i < page->n; i++) {
    if (strncmp(page->uploads[i].key, prefix, plen) == 0) {
      sluice__s3_upload u = page->uploads[keep];
      page->uploads[keep++] = page->uploads[i];
      page->uploads[i] = u;
    }
  }
  for (size_t i = keep; i < page->n; i++) {
    free(page->uploads[i].key);
    free(page->uploads[i].upload_id);
  }
  page->n = keep;
}

/* Multipart uploads in progress under prefix (as reported by the server). */
static size_t uploads_left(sluice_operator *op, const char *prefix) {
  sluice__s3_uploads_page page = {0};
  list_uploads(op, prefix, &page);
  size_t n = page.n;
  for (size_t i = 0; i < n; i++)
    cr_log_info("upload in progress: %s (%s)", page.uploads[i].key, page.uploads[i].upload_id);
  sluice__s3_uploads_page_clear(&page);
  return n;
}

/* ListParts of one upload: how many parts the server holds. */
static size_t parts_uploaded(sluice_operator *op, const char *key, const char *upload_id) {
  sluice__s3 *s3 = op->svc;
  sluice__httpreq_req r = {.op = "ListParts", .path = key, .method = "GET", .key = key};
  sluice__httpreq_query(&r, "uploadId", upload_id);
  TH_OK(sluice__s3_perform(s3, &r));
  sluice__s3_parts_page page = {0};
  TH_OK(sluice__s3_xml_list_parts(r.resp.data ? r.resp.data : "", r.resp.len, &page));
  sluice__httpreq_req_cleanup(&r);
  size_t n = page.n;
  sluice__s3_parts_page_clear(&page);
  return n;
}

/* Waits (up to `seconds`) until the only upload under prefix holds at least
 * `parts` parts.  Returns how many it holds. */
static size_t wait_for_parts(sluice_operator *op, const char *prefix, size_t parts,
                             double seconds) {
  double end = now_s() + th_seconds(seconds);
  size_t n = 0;
  for (;;) {
    sluice__s3_uploads_page page = {0};
    list_uploads(op, prefix, &page);
    cr_assert_leq(page.n, 1, "%zu uploads in progress under %s", page.n, prefix);
    if (page.n == 1) n = parts_uploaded(op, page.uploads[0].key, page.uploads[0].upload_id);
    sluice__s3_uploads_page_clear(&page);
    if (n >= parts || now_s() > end) return n;
    sleep_ms(20);
  }
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static unsigned char *gen(size_t len, uint64_t seed) {
  unsigned char *b = malloc(len ? len : 1);
  cr_assert(b);
  th_fill(b, len, seed, 0);
  return b;
}

static void expect_not_found(sluice_operator *op, const char *path) {
  sluice_metadata *m = (sluice_metadata *)1;
  TH_KIND(sluice_stat(op, path, &m), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(m, "stat left *out set on failure");
}

static sluice_metadata *stat_ok(sluice_operator *op, const char *path) {
  sluice_metadata *m;
  TH_OK(sluice_stat(op, path, &m));
  return m;
}

/* The object's bytes equal buf[0..len). */
static void expect_content(sluice_operator *op, const char *path, const void *buf, size_t len) {
  void *got;
  size_t n;
  TH_OK(sluice_read(op, path, 0, UINT64_MAX, &got, &n));
  cr_assert_eq(n, len, "%s: read %zu bytes, expected %zu", path, n, len);
  cr_assert(len == 0 || memcmp(got, buf, len) == 0, "%s: content differs", path);
  sluice_free(got);
}

/* The object's SHA-256 equals that of `size` generated bytes of seed. */
static void expect_generated(sluice_operator *op, const char *path, uint64_t size, uint64_t seed) {
  unsigned char want[32], got[32];
  th_sha256_generated(size, seed, want);
  th_sha256_object(op, path, got);
  cr_assert(memcmp(want, got, 32) == 0, "%s: content differs from the generated bytes", path);
  sluice_metadata *m = stat_ok(op, path);
  cr_assert_eq(sluice_metadata_size(m), size, "%s: size %llu, expected %llu", path,
               (unsigned long long)sluice_metadata_size(m), (unsigned long long)size);
  sluice_metadata_free(m);
}

/* SHA-256 of generated bytes [off, off+len) of seed. */
static void sha_generated_slice(uint64_t off, uint64_t len, uint64_t seed, unsigned char out[32]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  cr_assert(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
  size_t bs = 1 << 20;
  unsigned char *buf = malloc(bs);
  for (uint64_t pos = 0; pos < len;) {
    size_t n = len - pos < bs ? (size_t)(len - pos) : bs;
    th_fill(buf, n, seed, off + pos);
    EVP_DigestUpdate(ctx, buf, n);
    pos += n;
  }
  free(buf);
  unsigned int n = 32;
  cr_assert(EVP_DigestFinal_ex(ctx, out, &n) == 1);
  EVP_MD_CTX_free(ctx);
}

static const char *etag_of(sluice_operator *op, const char *path, char *buf, size_t cap) {
  sluice_metadata *m = stat_ok(op, path);
  cr_assert_not_null(sluice_metadata_etag(m), "%s: no ETag", path);
  snprintf(buf, cap, "%s", sluice_metadata_etag(m));
  sluice_metadata_free(m);
  return buf;
}

/* A multipart object's ETag is "<hex>-<parts>"; a PutObject's is the MD5. */
static void expect_parts_etag(sluice_operator *op, const char *path, unsigned parts) {
  sluice_metadata *m = stat_ok(op, path);
  const char *etag = sluice_metadata_etag(m);
  cr_assert_not_null(etag, "%s: no ETag", path);
  char want[32];
  snprintf(want, sizeof want, "-%u\"", parts);
  size_t el = strlen(etag), wl = strlen(want);
  cr_assert(el > wl && strcmp(etag + el - wl, want) == 0,
            "%s: ETag %s, expected a multipart ETag of %u parts", path, etag, parts);
  sluice_metadata_free(m);
}

static void expect_md5_etag(sluice_operator *op, const char *path, const void *buf, size_t len) {
  unsigned char md[16];
  unsigned int mdn = 0;
  cr_assert(EVP_Digest(buf, len, md, &mdn, EVP_md5(), NULL) == 1);
  char want[40];
  want[0] = '"';
  for (int i = 0; i < 16; i++) snprintf(want + 1 + 2 * i, 3, "%02x", md[i]);
  strcpy(want + 33, "\"");
  sluice_metadata *m = stat_ok(op, path);
  cr_assert_not_null(sluice_metadata_etag(m));
  cr_assert_str_eq(sluice_metadata_etag(m), want,
                   "%s: ETag is not the MD5 of the content: not a single PutObject", path);
  sluice_metadata_free(m);
}

static size_t chunks_of(uint64_t size, uint64_t chunk) {
  return (size_t)((size + chunk - 1) / chunk);
}

/* Big sizes: 256 MiB by default, a quarter of SLUICE_TEST_BIG otherwise. */
static uint64_t big_size(void) {
  uint64_t n = th_big_size(1ull << 30) / 4;
  return n < 256 * MiB ? n : 256 * MiB;
}

/* ------------------------------------------------------------------ */
/* A pipe fed by a thread                                              */
/* ------------------------------------------------------------------ */

struct feeder {
  int fd;         /* write end; closed by the thread at the end */
  uint64_t total; /* bytes to send, then EOF */
  uint64_t seed;
  size_t block;
  unsigned delay_ms; /* between blocks */
  atomic_int stop;
  atomic_uint_fast64_t sent;
  pthread_t th;
};

static void *feed(void *arg) {
  struct feeder *f = arg;
  unsigned char *buf = malloc(f->block);
  uint64_t off = 0;
  while (buf && off < f->total && !atomic_load(&f->stop)) {
    size_t n = f->total - off < f->block ? (size_t)(f->total - off) : f->block;
    th_fill(buf, n, f->seed, off);
    size_t done = 0;
    while (done < n) {
      ssize_t w = write(f->fd, buf + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) goto out; /* EPIPE: the reader went away */
      done += (size_t)w;
    }
    off += n;
    atomic_store(&f->sent, off);
    if (f->delay_ms) sleep_ms(f->delay_ms);
  }
out:
  free(buf);
  close(f->fd);
  return NULL;
}

/* Starts a feeder; returns the read end of the pipe. */
static int feeder_start(struct feeder *f, uint64_t total, uint64_t seed, size_t block,
                        unsigned delay_ms) {
  signal(SIGPIPE, SIG_IGN);
  int p[2];
  cr_assert(pipe(p) == 0);
  memset(f, 0, sizeof *f);
  f->fd = p[1];
  f->total = total;
  f->seed = seed;
  f->block = block;
  f->delay_ms = delay_ms;
  cr_assert(pthread_create(&f->th, NULL, feed, f) == 0);
  return p[0];
}

static void feeder_join(struct feeder *f) {
  atomic_store(&f->stop, 1);
  pthread_join(f->th, NULL);
}

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

Test(s3, abort_after_parts_leaves_nothing) {
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

Test(s3, free_without_close_leaves_nothing) {
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

Test(s3, uploads_left_open_are_listed_and_aborted) {
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

Test(s3, uploads_of_a_missing_bucket_are_not_found) {
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

Test(s3, job_cancel_on_a_slow_stream_leaves_nothing) {
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

/* ================================================================== */
/* 4. Part sizes                                                       */
/* ================================================================== */

Test(s3, chunk_below_s3_minimum_is_refused) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *wo = th_opts("chunk", "4MiB", NULL);
  sluice_writer *w = (sluice_writer *)1;
  sluice_error *err = sluice_writer_open(c.op, "small-chunk.bin", wo, &w);
  cr_assert_not_null(err, "a 4 MiB chunk was accepted");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert_null(w);
  const char *msg = sluice_error_message(err);
  cr_assert(strstr(msg, "5 MiB") && strstr(msg, "S3"), "message does not name the S3 limit: %s",
            msg);
  cr_assert(strstr(msg, "small-chunk.bin"), "message does not name the path: %s", msg);
  sluice_error_free(err);
  sluice_options_free(wo);
  /* The smallest legal part size works. */
  wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_writer_open(c.op, "small-chunk.bin", wo, &w));
  sluice_writer_free(w);
  sluice_options_free(wo);
  expect_not_found(c.op, "small-chunk.bin");
  ctx_close(&c);
}

Test(s3, object_below_one_chunk_is_a_single_put) {
  struct ctx c;
  ctx_open(&c);
  /* Through writer_write ... */
  size_t len = 3 * MiB + 1;
  unsigned char *buf = gen(len, 9);
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_writer_open(c.op, "single.bin", wo, &w));
  TH_OK(sluice_writer_write(w, buf, len / 2));
  TH_OK(sluice_writer_write(w, buf + len / 2, len - len / 2));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  expect_content(c.op, "single.bin", buf, len);
  expect_md5_etag(c.op, "single.bin", buf, len);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);

  /* Exactly one chunk through writer_write: the writer cannot know the
   * chunk is the last until close, so this may be a one-part multipart
   * upload; either way the object is right and nothing is left. */
  unsigned char *one = gen(5 * MiB, 24);
  TH_OK(sluice_writer_open(c.op, "exact-chunk.bin", wo, &w));
  TH_OK(sluice_writer_write(w, one, 5 * MiB));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  expect_content(c.op, "exact-chunk.bin", one, 5 * MiB);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(one);

  /* ... and through write_from with a known size of exactly one chunk. */
  char *dir = th_tmpdir();
  char *src = th_join(dir, "one-chunk.bin");
  th_make_file(src, 5 * MiB, 10);
  sluice_operator *fs = th_fs_op(dir);
  sluice_reader *r;
  TH_OK(sluice_reader_open(fs, "one-chunk.bin", NULL, &r));
  TH_OK(sluice_writer_open(c.op, "one-chunk.bin", wo, &w));
  TH_OK(sluice_write_from(w, r, NULL));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  unsigned char *five = gen(5 * MiB, 10);
  expect_content(c.op, "one-chunk.bin", five, 5 * MiB);
  expect_md5_etag(c.op, "one-chunk.bin", five, 5 * MiB);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(five);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(src);
  free(dir);
  sluice_options_free(wo);
  free(buf);
  ctx_close(&c);
}

/* ================================================================== */
/* 5. if_not_exists                                                    */
/* ================================================================== */

/* A conditional write of a new key succeeds.  Swift 2.30's s3api refuses
 * every conditional PutObject ("501 NotImplemented: Conditional object PUTs
 * are not supported.", swift/common/middleware/s3api/s3request.py) while it
 * honours If-None-Match on CompleteMultipartUpload; the library then falls
 * back to a HEAD check just before the PUT. */
static void write_new_if_not_exists(sluice_operator *op, const char *path, const void *buf,
                                    size_t len, const sluice_options *o) {
  TH_OK(sluice_write(op, path, buf, len, o));
  expect_content(op, path, buf, len);
}

Test(s3, if_not_exists) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "exists.txt", "old", 3, NULL));
  sluice_options *o = th_opts("if_not_exists", "true", NULL);
  sluice_writer *w = (sluice_writer *)1;
  TH_KIND(sluice_writer_open(c.op, "exists.txt", o, &w), SLUICE_ERR_ALREADY_EXISTS);
  cr_assert_null(w);
  TH_KIND(sluice_write(c.op, "exists.txt", "new", 3, o), SLUICE_ERR_ALREADY_EXISTS);
  expect_content(c.op, "exists.txt", "old", 3);

  /* A new key: single PutObject, empty object (see above) ... */
  write_new_if_not_exists(c.op, "fresh.txt", "new", 3, o);
  write_new_if_not_exists(c.op, "fresh-empty", "", 0, o);
  /* ... and multipart, which every server takes. */
  sluice_options *mo = th_opts("if_not_exists", "true", "chunk", "5MiB", NULL);
  size_t len = 6 * MiB;
  unsigned char *buf = gen(len, 11);
  TH_OK(sluice_write(c.op, "fresh-multipart.bin", buf, len, mo));
  expect_content(c.op, "fresh-multipart.bin", buf, len);
  expect_parts_etag(c.op, "fresh-multipart.bin", 2);
  /* ... which now exists. */
  TH_KIND(sluice_write(c.op, "fresh-multipart.bin", "x", 1, mo), SLUICE_ERR_ALREADY_EXISTS);
  TH_KIND(sluice_write(c.op, "fresh-multipart.bin", buf, len, mo), SLUICE_ERR_ALREADY_EXISTS);
  expect_content(c.op, "fresh-multipart.bin", buf, len);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(buf);
  sluice_options_free(mo);
  sluice_options_free(o);
  ctx_close(&c);
}

/* The key appears after writer_open's check: the conditional
 * CompleteMultipartUpload decides, the writer fails with ALREADY_EXISTS, the
 * other writer's object stays and the upload is aborted.  (Multipart only:
 * Swift refuses conditional PutObject altogether, see above.) */
Test(s3, if_not_exists_loses_a_race_as_already_exists) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *mo = th_opts("if_not_exists", "true", "chunk", "5MiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(c.op, "raced.bin", mo, &w));
  TH_OK(sluice_write(c.op, "raced.bin", "the other writer", 16, NULL));
  size_t len = 6 * MiB;
  unsigned char *buf = gen(len, 17);
  TH_OK(sluice_writer_write(w, buf, len));
  sluice_error *err = sluice_writer_close(w);
  sluice_writer_free(w);
  expect_content(c.op, "raced.bin", "the other writer", 16);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "the losing upload was left behind");
  cr_assert_not_null(err, "close replaced an object that appeared after writer_open");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_ALREADY_EXISTS,
               "expected already exists, got [%s] (HTTP %d) %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_http_status(err),
               sluice_error_message(err));
  sluice_error_free(err);
  free(buf);
  sluice_options_free(mo);
  ctx_close(&c);
}

/* ================================================================== */
/* 6. content_type                                                     */
/* ================================================================== */

Test(s3, content_type_is_stored) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *o = th_opts("content_type", "text/x-sluice; charset=utf-8", NULL);
  TH_OK(sluice_write(c.op, "typed.txt", "hello", 5, o));
  sluice_metadata *m = stat_ok(c.op, "typed.txt");
  cr_assert_not_null(sluice_metadata_content_type(m));
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/x-sluice; charset=utf-8");
  sluice_metadata_free(m);
  sluice_options_free(o);
  /* Empty and multipart objects carry it too. */
  o = th_opts("content_type", "application/x-empty-test", NULL);
  TH_OK(sluice_write(c.op, "typed-empty", NULL, 0, o));
  m = stat_ok(c.op, "typed-empty");
  cr_assert_str_eq(sluice_metadata_content_type(m), "application/x-empty-test");
  sluice_metadata_free(m);
  sluice_options_free(o);
  o = th_opts("content_type", "image/x-sluice-multipart", "chunk", "5MiB", NULL);
  size_t len = 5 * MiB + 100;
  unsigned char *buf = gen(len, 12);
  TH_OK(sluice_write(c.op, "typed-multipart.bin", buf, len, o));
  free(buf);
  m = stat_ok(c.op, "typed-multipart.bin");
  cr_assert_str_eq(sluice_metadata_content_type(m), "image/x-sluice-multipart");
  sluice_metadata_free(m);
  expect_parts_etag(c.op, "typed-multipart.bin", 2);
  sluice_options_free(o);
  /* Without one, a small object (its body sent with the headers) gets no
   * type from the HTTP library either (curl would send a form's). */
  TH_OK(sluice_write(c.op, "untyped.bin", "hello", 5, NULL));
  m = stat_ok(c.op, "untyped.bin");
  const char *ct = sluice_metadata_content_type(m);
  cr_assert(ct == NULL || strstr(ct, "form") == NULL, "content type '%s'", ct);
  sluice_metadata_free(m);
  ctx_close(&c);
}

/* A content type that would break the request's header block is refused
 * with an error that names the write (sluice.h: messages name the
 * operation and the path), and nothing is stored. */
Test(s3, content_type_with_control_characters_is_refused) {
  struct ctx c;
  ctx_open(&c);
  static const char *const bad[] = {"text/plain\r\nx-amz-meta-injected: 1", "text/plain\nX: 2"};
  for (int i = 0; i < 2; i++) {
    sluice_options *o = th_opts("content_type", bad[i], NULL);
    sluice_writer *w = NULL;
    sluice_error *err = sluice_writer_open(c.op, "ct-bad.txt", o, &w);
    if (!err) {
      err = sluice_writer_write(w, "abc", 3);
      if (!err) err = sluice_writer_close(w);
    }
    sluice_writer_free(w);
    sluice_options_free(o);
    cr_assert_not_null(err, "a content type with a line break was sent");
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "[%s] %s",
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    cr_assert(strstr(sluice_error_message(err), "ct-bad.txt"),
              "the message does not name the path: %s", sluice_error_message(err));
    sluice_error_free(err);
    expect_not_found(c.op, "ct-bad.txt");
  }
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

/* ================================================================== */
/* 8. Errors                                                           */
/* ================================================================== */

static void expect_error_without(sluice_error *err, sluice_errkind kind, const char *secret,
                                 const char *what) {
  cr_assert_not_null(err, "%s succeeded", what);
  cr_assert_eq(sluice_error_kind(err), kind, "%s: expected %s, got [%s] %s", what,
               sluice_strerror(kind), sluice_strerror(sluice_error_kind(err)),
               sluice_error_message(err));
  cr_assert(!strstr(sluice_error_message(err), secret), "%s: the message shows the secret: %s",
            what, sluice_error_message(err));
  cr_assert(!strstr(sluice_error_message(err), E.access_key),
            "%s: the message shows the access key id: %s", what, sluice_error_message(err));
  sluice_error_free(err);
}

Test(s3, wrong_secret_is_permission_denied) {
  need_server();
  static const char secret[] = "Wr0ngS3cretValue-DoNotPrint-8f3a";
  struct ctx c;
  new_prefix(c.prefix);
  sluice_options *o = server_opts(c.prefix);
  TH_OK(sluice_options_set(o, "secret_access_key", secret));
  sluice_operator *op = op_from(o);
  sluice_metadata *m;
  expect_error_without(sluice_stat(op, "any.bin", &m), SLUICE_ERR_PERMISSION_DENIED, secret,
                       "stat");
  expect_error_without(sluice_write(op, "any.bin", "data", 4, NULL), SLUICE_ERR_PERMISSION_DENIED,
                       secret, "write");
  void *buf;
  size_t n;
  expect_error_without(sluice_read(op, "any.bin", 0, 10, &buf, &n), SLUICE_ERR_PERMISSION_DENIED,
                       secret, "read");
  sluice_lister *l;
  TH_OK(sluice_list(op, "", NULL, &l));
  const sluice_entry *e;
  expect_error_without(sluice_lister_next(l, &e), SLUICE_ERR_PERMISSION_DENIED, secret, "list");
  sluice_lister_free(l);
  sluice_operator_free(op);
  /* Nothing was written with the wrong key. */
  c.op = op_from(server_opts(c.prefix));
  expect_not_found(c.op, "any.bin");
  ctx_close(&c);
}

Test(s3, missing_bucket_is_not_found) {
  need_server();
  char bucket[64];
  snprintf(bucket, sizeof bucket, "no-such-bucket-%ld", (long)getpid());
  sluice_options *o = server_opts(NULL);
  TH_OK(sluice_options_set(o, "bucket", bucket));
  sluice_operator *op = op_from(o);
  sluice_metadata *m;
  TH_KIND(sluice_stat(op, "k.bin", &m), SLUICE_ERR_NOT_FOUND);
  TH_KIND(sluice_write(op, "k.bin", "data", 4, NULL), SLUICE_ERR_NOT_FOUND);
  sluice_lister *l;
  TH_OK(sluice_list(op, "", NULL, &l));
  const sluice_entry *e;
  TH_KIND(sluice_lister_next(l, &e), SLUICE_ERR_NOT_FOUND);
  sluice_lister_free(l);
  sluice_operator_free(op);
}

Test(s3, missing_key_is_not_found_and_named) {
  struct ctx c;
  ctx_open(&c);
  const char *key = "no/such/key-4711.bin";
  sluice_error *errs[3];
  sluice_metadata *m;
  sluice_reader *r;
  void *buf;
  size_t n;
  errs[0] = sluice_stat(c.op, key, &m);
  errs[1] = sluice_reader_open(c.op, key, NULL, &r);
  errs[2] = sluice_read(c.op, key, 0, UINT64_MAX, &buf, &n);
  for (int i = 0; i < 3; i++) {
    cr_assert_not_null(errs[i]);
    cr_assert_eq(sluice_error_kind(errs[i]), SLUICE_ERR_NOT_FOUND, "[%s] %s",
                 sluice_strerror(sluice_error_kind(errs[i])), sluice_error_message(errs[i]));
    cr_assert(strstr(sluice_error_message(errs[i]), key), "the message does not name the key: %s",
              sluice_error_message(errs[i]));
    cr_assert_eq(sluice_error_http_status(errs[i]), 404);
    cr_assert(!sluice_error_retryable(errs[i]));
    sluice_error_free(errs[i]);
  }
  ctx_close(&c);
}

/* The S3 error code behind an error is reachable as data, not only in the
 * message: an object deleted under an open reader makes the next ranged
 * GET fail with NoSuchKey (a HEAD, which stat and open send, has no body
 * and so leaves only its status), and a missing bucket is NoSuchBucket. */
Test(s3, error_cause_is_the_s3_code) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 2 * MiB; /* 32 chunks: far more than the read-ahead holds */
  unsigned char *data = gen(len, 21);
  TH_OK(sluice_write(c.op, "vanishing.bin", data, len, NULL));
  sluice_options *o = th_opts("chunk", "64KiB", "concurrent", "2", NULL);
  sluice_reader *r;
  TH_OK(sluice_reader_open(c.op, "vanishing.bin", o, &r));
  sluice_options_free(o);
  unsigned char *got = malloc(len);
  size_t have = 0, n;
  TH_OK(sluice_reader_read(r, got, 1024, &n));
  have = n;
  TH_OK(sluice_delete(c.op, "vanishing.bin"));
  sluice_error *err = NULL;
  while (have < len) {
    err = sluice_reader_read(r, got + have, len - have, &n);
    if (err || n == 0) break;
    have += n;
  }
  cr_assert_not_null(err, "read all %zu bytes of a deleted object", have);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND, "[%s] %s",
               sluice_err_name(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_SERVICE, "%s", sluice_error_message(err));
  cr_assert_str_eq(sluice_error_service_code(err), "NoSuchKey");
  cr_assert_eq(sluice_error_http_status(err), 404);
  cr_assert_eq(sluice_error_errno(err), 0);
  cr_assert_eq(sluice_error_curl_code(err), 0);
  sluice_error_free(err);
  sluice_reader_free(r);
  free(got);
  free(data);

  sluice_metadata *m;
  err = sluice_stat(c.op, "vanishing.bin", &m);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_HTTP, "%s", sluice_error_message(err));
  cr_assert_null(sluice_error_service_code(err));
  cr_assert_eq(sluice_error_http_status(err), 404);
  sluice_error_free(err);
  ctx_close(&c);

  char bucket[64];
  snprintf(bucket, sizeof bucket, "no-such-bucket-%ld", (long)getpid());
  o = server_opts(NULL);
  TH_OK(sluice_options_set(o, "bucket", bucket));
  sluice_operator *op = op_from(o);
  sluice_lister *l;
  TH_OK(sluice_list(op, "", NULL, &l));
  const sluice_entry *e;
  err = sluice_lister_next(l, &e);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_SERVICE, "%s", sluice_error_message(err));
  cr_assert_str_eq(sluice_error_service_code(err), "NoSuchBucket");
  sluice_error_free(err);
  sluice_lister_free(l);
  sluice_operator_free(op);
}

Test(s3, no_credentials_is_config_invalid) {
  need_server();
  static const char *const vars[] = {"AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY",
                                     "AWS_SESSION_TOKEN",           "AWS_PROFILE",
                                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  setenv("HOME", "/nonexistent", 1);
  sluice_options *o = th_opts("endpoint", E.endpoint, "region", E.region, "bucket", E.bucket, NULL);
  sluice_operator *op = (sluice_operator *)1;
  sluice_error *err = sluice_operator_new("s3", o, &op);
  cr_assert_not_null(err, "an operator without credentials was created");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONFIG_INVALID, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert_null(op);
  cr_assert(strstr(sluice_error_message(err), "credentials"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_options_free(o);
}

/* A signature for another region: the server names the region it wants. */
Test(s3, wrong_region_is_config_invalid) {
  need_server();
  sluice_options *o = server_opts(NULL);
  TH_OK(sluice_options_set(o, "region", "eu-west-1"));
  sluice_operator *op = op_from(o);
  sluice_error *err = sluice_write(op, "region.txt", "x", 1, NULL);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONFIG_INVALID, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "region"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_operator_free(op);
}

/* Nothing listens: a retryable network error, after the configured tries. */
Test(s3, unreachable_endpoint_is_a_network_error) {
  need_server();
  sluice_options *o = server_opts(NULL);
  /* Port 1 on loopback: nothing listens there. */
  TH_OK(sluice_options_set(o, "endpoint", "http://127.0.0.1:1"));
  TH_OK(sluice_options_set(o, "max_attempts", "2"));
  sluice_operator *op = op_from(o);
  sluice_metadata *m;
  sluice_error *errs[2] = {sluice_stat(op, "k", &m), sluice_write(op, "k", "x", 1, NULL)};
  for (int i = 0; i < 2; i++) {
    cr_assert_not_null(errs[i]);
    cr_assert_eq(sluice_error_kind(errs[i]), SLUICE_ERR_NETWORK, "[%s] %s",
                 sluice_strerror(sluice_error_kind(errs[i])), sluice_error_message(errs[i]));
    cr_assert(strstr(sluice_error_message(errs[i]), "after 2 attempts"), "%s",
              sluice_error_message(errs[i]));
    sluice_error_free(errs[i]);
  }
  sluice_operator_free(op);
}

/* ================================================================== */
/* 9. Listing                                                          */
/* ================================================================== */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir and compares the sorted paths with want (sorted here too). */
static void expect_listing(sluice_operator *op, const char *dir, int recursive,
                           const char *const *want, size_t nwant) {
  sluice_options *lo = recursive ? th_opts("recursive", "true", NULL) : NULL;
  sluice_lister *l;
  TH_OK(sluice_list(op, dir, lo, &l));
  sluice_options_free(lo);
  size_t n = 0, cap = 64;
  char **got = malloc(cap * sizeof *got);
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const char *p = sluice_entry_path(e);
    size_t pl = strlen(p);
    const sluice_metadata *m = sluice_entry_metadata(e);
    cr_assert_eq(sluice_metadata_is_dir(m), pl && p[pl - 1] == '/', "'%s': is_dir %d", p,
                 sluice_metadata_is_dir(m));
    cr_assert(!recursive || !sluice_metadata_is_dir(m), "recursive listing yielded '%s'", p);
    if (n == cap) got = realloc(got, (cap *= 2) * sizeof *got);
    got[n++] = strdup(p);
  }
  sluice_lister_free(l);
  char **w = malloc((nwant ? nwant : 1) * sizeof *w);
  for (size_t i = 0; i < nwant; i++) w[i] = (char *)want[i];
  qsort(got, n, sizeof *got, cmp_str);
  qsort(w, nwant, sizeof *w, cmp_str);
  for (size_t i = 1; i < n; i++)
    cr_assert_str_neq(got[i - 1], got[i], "'%s' listed twice under '%s'", got[i], dir);
  for (size_t i = 0; i < n && i < nwant; i++)
    cr_assert_str_eq(got[i], w[i], "listing '%s' (recursive %d): entry %zu is '%s', expected '%s'",
                     dir, recursive, i, got[i], w[i]);
  cr_assert_eq(n, nwant, "listing '%s' (recursive %d): %zu entries, expected %zu", dir, recursive,
               n, nwant);
  for (size_t i = 0; i < n; i++) free(got[i]);
  free(got);
  free(w);
}

Test(s3, listing_a_small_tree) {
  struct ctx c;
  ctx_open(&c);
  static const char *const dirs[] = {"", "a/", "a/b/", "a/b/c/", "d/"};
  char *all[25];
  size_t k = 0;
  for (size_t d = 0; d < 5; d++)
    for (int i = 0; i < 5; i++) {
      cr_assert(asprintf(&all[k], "%sf%d.txt", dirs[d], i) > 0);
      TH_OK(sluice_write(c.op, all[k], all[k], strlen(all[k]), NULL));
      k++;
    }
  /* Sizes come with the entries. */
  sluice_lister *l;
  TH_OK(sluice_list(c.op, "d/", NULL, &l));
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    cr_assert_eq(sluice_metadata_size(sluice_entry_metadata(e)), strlen(sluice_entry_path(e)));
  }
  sluice_lister_free(l);

  const char *top[] = {"f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt", "a/", "d/"};
  expect_listing(c.op, "", 0, top, 7);
  expect_listing(c.op, "/", 0, NULL, 0); /* the keys under "/": none */
  const char *a[] = {"a/f0.txt", "a/f1.txt", "a/f2.txt", "a/f3.txt", "a/f4.txt", "a/b/"};
  expect_listing(c.op, "a/", 0, a, 6);
  const char *abc[] = {"a/b/c/f0.txt", "a/b/c/f1.txt", "a/b/c/f2.txt", "a/b/c/f3.txt",
                       "a/b/c/f4.txt"};
  expect_listing(c.op, "a/b/c/", 0, abc, 5);
  expect_listing(c.op, "a/b/c/", 1, abc, 5);
  expect_listing(c.op, "", 1, (const char *const *)all, 25);
  expect_listing(c.op, "a/", 1, (const char *const *)all + 5, 15);
  /* A missing prefix lists as empty, and so does a prefix of a name that is
   * not a directory ("a/f" is not "a/f0.txt"'s directory). */
  expect_listing(c.op, "nope/", 0, NULL, 0);
  expect_listing(c.op, "nope/", 1, NULL, 0);
  expect_listing(c.op, "a/f/", 1, NULL, 0);
  /* Directories exist while something is under them. */
  sluice_metadata *m = stat_ok(c.op, "a/b/");
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);
  expect_not_found(c.op, "nope/");
  for (size_t i = 0; i < 25; i++) free(all[i]);
  ctx_close(&c);
}

/* A zero-byte object whose key ends in '/' (a "folder" as the AWS console
 * and many tools create it, here made with a raw PutObject) is the
 * directory itself, not an entry in it: listing "a/" must not yield "a/",
 * and a recursive listing yields objects only (an entry named "a/" that is
 * not a directory cannot be read or written through this API). */
Test(s3, folder_markers_are_not_listed_as_objects) {
  struct ctx c;
  ctx_open(&c);
  sluice__s3 *s3 = c.op->svc;
  char *key;
  cr_assert(asprintf(&key, "%sa/", c.prefix) > 0);
  sluice__httpreq_req r = {.op = "PutObject",
                           .path = "a/",
                           .method = "PUT",
                           .key = key,
                           .body = (const unsigned char *)"",
                           .body_len = 0};
  TH_OK(sluice__s3_perform(s3, &r));
  sluice__httpreq_req_cleanup(&r);
  free(key);
  TH_OK(sluice_write(c.op, "a/f.txt", "x", 1, NULL));
  sluice_metadata *m = stat_ok(c.op, "a/");
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);
  const char *top[] = {"a/"};
  expect_listing(c.op, "", 0, top, 1);
  /* The marker itself must not come back as an entry of its own directory. */
  for (int rec = 0; rec < 2; rec++) {
    sluice_options *lo = rec ? th_opts("recursive", "true", NULL) : NULL;
    sluice_lister *l;
    TH_OK(sluice_list(c.op, "a/", lo, &l));
    sluice_options_free(lo);
    for (;;) {
      const sluice_entry *e;
      TH_OK(sluice_lister_next(l, &e));
      if (!e) break;
      cr_assert_str_neq(sluice_entry_path(e), "a/",
                        "listing 'a/' (recursive %d) yields the directory itself as an entry "
                        "(is_dir %d)",
                        rec, sluice_metadata_is_dir(sluice_entry_metadata(e)));
    }
    sluice_lister_free(l);
  }
  const char *files[] = {"a/f.txt"};
  expect_listing(c.op, "a/", 0, files, 1);
  expect_listing(c.op, "a/", 1, files, 1);
  expect_listing(c.op, "", 1, files, 1);
  ctx_close(&c);
}

struct put_range {
  sluice_operator *op;
  unsigned from, to;
};

static void *put_empties(void *arg) {
  struct put_range *pr = arg;
  for (unsigned i = pr->from; i < pr->to; i++) {
    char name[64];
    snprintf(name, sizeof name, "many/k%05u", i);
    sluice_error *err = sluice_write(pr->op, name, NULL, 0, NULL);
    if (err) return err;
  }
  return NULL;
}

Test(s3, listing_crosses_continuation_tokens) {
  struct ctx c;
  ctx_open(&c);
  enum { N = 1010, THREADS = 4 };
  double t0 = now_s();
  pthread_t th[THREADS];
  struct put_range pr[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    pr[t] = (struct put_range){c.op, t * N / THREADS, (t + 1) * N / THREADS};
    cr_assert(pthread_create(&th[t], NULL, put_empties, &pr[t]) == 0);
  }
  for (unsigned t = 0; t < THREADS; t++) {
    void *err;
    pthread_join(th[t], &err);
    TH_OK((sluice_error *)err);
  }
  cr_log_info("s3: %d empty PUTs in %.2f s", N, now_s() - t0);
  char **want = malloc(N * sizeof *want);
  for (unsigned i = 0; i < N; i++) cr_assert(asprintf(&want[i], "many/k%05u", i) > 0);
  expect_listing(c.op, "", 1, (const char *const *)want, N);
  expect_listing(c.op, "many/", 0, (const char *const *)want, N);
  const char *top[] = {"many/"};
  expect_listing(c.op, "", 0, top, 1);
  for (unsigned i = 0; i < N; i++) free(want[i]);
  free(want);
  ctx_close(&c);
}

/* ================================================================== */
/* 10. Retries through the fault proxy                                 */
/* ================================================================== */

static th_proxy PX;

static int endpoint_port(void) {
  const char *hp = strstr(E.endpoint, "://");
  cr_assert_not_null(hp);
  const char *colon = strrchr(hp + 3, ':');
  cr_assert_not_null(colon, "SLUICE_S3_ENDPOINT %s has no port", E.endpoint);
  return atoi(colon + 1);
}

static void proxy_stop(void) { th_proxy_stop(&PX); }

/* Starts fault-proxy.py in front of the server with the given fault
 * arguments (NULL-terminated); PX.port is where to connect. */
static void proxy_start(const char *const *fault_args) {
  th_proxy_start(&PX, endpoint_port(), fault_args);
}

static int proxy_log_count2(const char *needle, const char *needle2) {
  return th_proxy_log_count(&PX, needle, needle2);
}

static int proxy_log_count(const char *needle) { return proxy_log_count2(needle, NULL); }

static sluice_operator *proxied_op(const char *prefix, const char *max_attempts) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  if (max_attempts) TH_OK(sluice_options_set(o, "max_attempts", max_attempts));
  return op_from(o);
}

static void proxy_fini(void) { proxy_stop(); }

Test(s3, retry_after_slowdown, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status", "503", "--times", "2", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  TH_OK(sluice_write(op, "retried.txt", "after two 503s", 14, NULL));
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 2, "the proxy did not inject two 503s");
  expect_content(c.op, "retried.txt", "after two 503s", 14);
  /* The proxy is transparent now. */
  expect_content(op, "retried.txt", "after two 503s", 14);
  sluice_operator_free(op);
  ctx_close(&c);
}

Test(s3, gives_up_after_max_attempts, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status", "503", "--times", "100", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, "3");
  sluice_error *err = sluice_write(op, "never.txt", "x", 1, NULL);
  cr_assert_not_null(err, "the write succeeded through a proxy answering 503");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_RATE_LIMITED, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "after 3 attempts"), "%s", sluice_error_message(err));
  cr_assert_eq(sluice_error_http_status(err), 503);
  sluice_error_free(err);
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 3);
  /* The same on the synchronous path (HeadObject). */
  sluice_metadata *m;
  err = sluice_stat(op, "never.txt", &m);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_RATE_LIMITED, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "after 3 attempts"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 6);
  sluice_operator_free(op);
  expect_not_found(c.op, "never.txt");
  ctx_close(&c);
}

Test(s3, multipart_survives_a_connection_reset, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--reset-after-bytes", "2000000", "--times", "1", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  size_t len = 12 * MiB + 3;
  unsigned char *buf = gen(len, 15);
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "3", NULL);
  TH_OK(sluice_write(op, "reset.bin", buf, len, wo));
  sluice_options_free(wo);
  cr_assert_eq(proxy_log_count("FAULT reset"), 1, "the proxy did not reset a connection");
  expect_content(c.op, "reset.bin", buf, len);
  expect_parts_etag(c.op, "reset.bin", 3);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* One part answered 503 twice: only that part is sent again. */
Test(s3, part_retries_after_slowdown, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status", "503", "--times", "2", "--match", "partNumber=2&", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  size_t len = 11 * MiB;
  unsigned char *buf = gen(len, 19);
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "3", NULL);
  TH_OK(sluice_write(op, "part-retry.bin", buf, len, wo));
  sluice_options_free(wo);
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 2);
  cr_assert_eq(proxy_log_count2(": request \"PUT ", "partNumber=2&"), 3,
               "part 2 was not sent exactly three times");
  cr_assert_eq(proxy_log_count2(": request \"PUT ", "partNumber=1&"), 1);
  expect_content(c.op, "part-retry.bin", buf, len);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* Retried parts show in the copy's progress (sluice_progress.retries). */
Test(s3, progress_counts_retries, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status", "503", "--times", "2", "--match", "partNumber=2&", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  const uint64_t size = 11 * MiB;
  char *dir = th_tmpdir();
  char *src = th_join(dir, "src.bin");
  th_make_file(src, size, 26);
  sluice_operator *fs = th_fs_op(dir);
  sluice_reader *r;
  TH_OK(sluice_reader_open(fs, "src.bin", NULL, &r));
  sluice_writer *w;
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "3", NULL);
  TH_OK(sluice_writer_open(op, "progress.bin", wo, &w));
  sluice_options_free(wo);
  sluice_job *job;
  TH_OK(sluice_job_start(w, r, NULL, &job));
  TH_OK(sluice_job_wait(job));
  sluice_progress p;
  memset(&p, 0, sizeof p);
  p.struct_size = sizeof p;
  TH_OK(sluice_job_progress(job, &p));
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 2);
  cr_assert_eq(p.bytes_written, size);
  cr_assert_eq(p.parts_done, 3);
  cr_assert_geq(p.retries, 2, "progress reports %llu retries; part 2 was sent again twice",
                (unsigned long long)p.retries);
  expect_generated(c.op, "progress.bin", size, 26);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(src);
  free(dir);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* A part that keeps failing fails the write, and the upload is aborted. */
Test(s3, part_failing_for_good_aborts_the_upload, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status", "503", "--match", "partNumber=2&", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, "2");
  size_t len = 11 * MiB;
  unsigned char *buf = gen(len, 20);
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "3", NULL);
  sluice_error *err = sluice_write(op, "part-fails.bin", buf, len, wo);
  sluice_options_free(wo);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_RATE_LIMITED, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "after 2 attempts"), "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "part-fails.bin"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 2);
  expect_not_found(c.op, "part-fails.bin");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "the failed upload was not aborted");
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* CompleteMultipartUpload (a synchronous request at close) is retried too. */
Test(s3, complete_is_retried, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--http-status",     "500", "--times", "1", "--match",
                        "^POST .*uploadId=", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  size_t len = 6 * MiB;
  unsigned char *buf = gen(len, 21);
  sluice_options *wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_write(op, "complete-retry.bin", buf, len, wo));
  sluice_options_free(wo);
  cr_assert_eq(proxy_log_count("FAULT http-status 500"), 1);
  expect_content(c.op, "complete-retry.bin", buf, len);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* A GET cut in the middle of its body is sent again; the reader returns
 * every byte once. */
Test(s3, ranged_get_survives_a_connection_reset, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 12 * MiB + 1;
  unsigned char *buf = gen(len, 22);
  TH_OK(sluice_write(c.op, "get-reset.bin", buf, len, NULL));
  const char *args[] = {
      "--reset-after-bytes", "3000000", "--direction", "down", "--times", "1", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  expect_content(op, "get-reset.bin", buf, len);
  cr_assert_eq(proxy_log_count("FAULT reset"), 1, "the proxy did not reset a connection");
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* A connection that stops moving is detected by the low-speed limit and
 * the request is sent again. */
Test(s3, stalled_upload_is_retried, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--stall-after-bytes", "300000", "--times", "1", NULL};
  proxy_start(args);
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(c.prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  TH_OK(sluice_options_set(o, "low_speed_limit", "100000"));
  TH_OK(sluice_options_set(o, "low_speed_time", "1"));
  sluice_operator *op = op_from(o);
  size_t len = 2 * MiB;
  unsigned char *buf = gen(len, 23);
  double t0 = now_s();
  TH_OK(sluice_write(op, "stalled.bin", buf, len, NULL));
  cr_log_info("s3: stalled PUT recovered in %.2f s", now_s() - t0);
  cr_assert_eq(proxy_log_count("FAULT stall"), 1, "the proxy did not stall a connection");
  expect_content(c.op, "stalled.bin", buf, len);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* An operator on the test bucket whose requests pass through the fault
 * proxy started with args, with one attempt and a 2 s low-speed limit. */
static sluice_operator *op_through_stalling_proxy(struct ctx *c, const char *const *args) {
  proxy_start(args);
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(c->prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  TH_OK(sluice_options_set(o, "low_speed_time", "2"));
  TH_OK(sluice_options_set(o, "max_attempts", "1"));
  return op_from(o);
}

/* Waits until the proxy stalls the job's transfer (what: "GET", "upload"),
 * checks the job is still running, cancels it and returns its outcome and
 * how long the cancel took. */
static sluice_error *cancel_when_stalled(sluice_job *job, const char *what, double *took) {
  double end = now_s() + th_seconds(20);
  while (proxy_log_count("FAULT stall") == 0) {
    cr_assert(now_s() < end, "the proxy did not stall the %s", what);
    sleep_ms(20);
  }
  sleep_ms(200);
  cr_assert(!sluice_job_done(job), "the job ended on a stalled %s", what);
  double t0 = now_s();
  sluice_job_cancel(job);
  sluice_error *err = sluice_job_wait(job);
  *took = now_s() - t0;
  return err;
}

/* sluice_job_cancel: "it ends soon".  A job whose S3 source is waiting on a
 * GET that stopped moving must end when cancelled, not when the stalled
 * transfer finally times out (here low_speed_time=2 bounds that wait to
 * several seconds; with the defaults it is 30 s per attempt, 5 attempts). */
Test(s3, cancel_interrupts_a_stalled_read, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 12 * MiB;
  unsigned char *buf = gen(len, 27);
  TH_OK(sluice_write(c.op, "stalled-read.bin", buf, len, NULL));
  free(buf);
  const char *args[] = {"--stall-after-bytes", "1000000", "--direction", "down", NULL};
  sluice_operator *op = op_through_stalling_proxy(&c, args);
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(op, "stalled-read.bin", NULL, &r));
  TH_OK(sluice_writer_open(fs, "out.bin", NULL, &w));
  sluice_job *job;
  TH_OK(sluice_job_start(w, r, NULL, &job));
  double took;
  sluice_error *err = cancel_when_stalled(job, "GET", &took);
  sluice_errkind kind = sluice_error_kind(err);
  char *msg = strdup(sluice_error_message(err));
  sluice_error_free(err);
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  cr_assert_eq(th_count_files(dir), 0, "the canceled copy left a file");
  cr_assert(kind == SLUICE_ERR_CANCELED && took < th_seconds(1.5),
            "cancel took %.2f s and the job ended with [%s] %s: the stalled GET was not "
            "interrupted",
            took, sluice_strerror(kind), msg);
  free(msg);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* The same for a job whose upload stalls: a multipart part (sent by the
 * writer's workers) and a single-chunk object (one PutObject at close). */
static void cancel_stalled_upload(size_t len, const char *name) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--stall-after-bytes", "1000000", NULL};
  sluice_operator *op = op_through_stalling_proxy(&c, args);
  char *dir = th_tmpdir();
  char *src = th_join(dir, "src.bin");
  th_make_file(src, len, 28);
  sluice_operator *fs = th_fs_op(dir);
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(fs, "src.bin", NULL, &r));
  sluice_options *wo = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_writer_open(op, name, wo, &w));
  sluice_options_free(wo);
  sluice_job *job;
  TH_OK(sluice_job_start(w, r, NULL, &job));
  double took;
  sluice_error *err = cancel_when_stalled(job, "upload", &took);
  sluice_errkind kind = sluice_error_kind(err);
  char *msg = strdup(sluice_error_message(err));
  sluice_error_free(err);
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  expect_not_found(c.op, name);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  cr_assert(kind == SLUICE_ERR_CANCELED && took < th_seconds(1.5),
            "cancel took %.2f s and the job ended with [%s] %s: the stalled request was not "
            "interrupted",
            took, sluice_strerror(kind), msg);
  free(msg);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(src);
  free(dir);
  sluice_operator_free(op);
  ctx_close(&c);
}

Test(s3, cancel_interrupts_a_stalled_part_upload, .fini = proxy_fini) {
  cancel_stalled_upload(12 * MiB, "stalled-parts.bin");
}

Test(s3, cancel_interrupts_a_stalled_single_put, .fini = proxy_fini) {
  cancel_stalled_upload(3 * MiB, "stalled-put.bin");
}

/* ---- the stall budget (stall_timeout) ---- */

/* An operator on the test bucket through the fault proxy with the given
 * stall budget and a long low-speed window, so that only the budget can
 * end a stalled request early. */
static sluice_operator *stall_budget_op(const char *prefix, const char *stall_timeout) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  TH_OK(sluice_options_set(o, "low_speed_time", "60"));
  TH_OK(sluice_options_set(o, "stall_timeout", stall_timeout));
  return op_from(o);
}

/* Aborts what a frozen server kept of a test's uploads (the copy's own
 * abort could not reach it). */
static void abort_uploads(sluice_operator *op, const char *prefix) {
  sluice__s3_uploads_page page = {0};
  list_uploads(op, prefix, &page);
  for (size_t i = 0; i < page.n; i++) {
    sluice__httpreq_req r = {.op = "AbortMultipartUpload",
                             .path = page.uploads[i].key,
                             .method = "DELETE",
                             .key = page.uploads[i].key};
    sluice__httpreq_query(&r, "uploadId", page.uploads[i].upload_id);
    sluice_error_free(sluice__s3_perform(op->svc, &r));
    sluice__httpreq_req_cleanup(&r);
  }
  sluice__s3_uploads_page_clear(&page);
}

/* A server that stops answering in the middle of a copy (connections
 * accepted, nothing answered) ends the copy once nothing has moved for
 * stall_timeout: the parts in flight, then the abort of the upload.  Without
 * the budget every attempt would wait out the low-speed window (60 s here,
 * 5 attempts, then the abort the same: well over 5 minutes). */
Test(s3, frozen_server_ends_a_copy_within_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--freeze-after-bytes", "3000000", NULL};
  proxy_start(args);
  sluice_operator *op = stall_budget_op(c.prefix, "3");
  size_t len = 12 * MiB;
  unsigned char *buf = gen(len, 31);
  double t0 = now_s();
  sluice_error *err = sluice_write(op, "frozen.bin", buf, len, NULL);
  double took = now_s() - t0;
  cr_log_info("s3: a copy to a frozen server ended in %.1f s", took);
  cr_assert_geq(proxy_log_count("FAULT freeze"), 1, "the proxy did not freeze");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_TIMEOUT, "expected a timeout, got [%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_log_info("%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "stall_timeout"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  /* Two budgets of 3 s (the parts, then the abort) and the attempts before
   * the freeze; a hang would take minutes. */
  double limit = getenv("SLUICE_SANITIZED") ? 120 : 60;
  cr_assert(took < limit, "the copy took %.1f s to give up", took);
  sluice_operator_free(op);
  proxy_stop();
  expect_not_found(c.op, "frozen.bin");
  abort_uploads(c.op, c.prefix);
  free(buf);
  ctx_close(&c);
}

/* A server frozen from the start (a stopped process: its kernel still
 * takes a socket buffer's worth of each new connection's bytes) ends a PUT
 * on the stall budget, not after every attempt has waited out its
 * low-speed window: bytes sent again into a peer that never answered are
 * no sign of life.  (Before, each attempt's buffered bytes restarted the
 * budget: every attempt waited out its window, five of 30 s with the
 * defaults.) */
Test(s3, frozen_server_resends_do_not_restart_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--freeze-after-bytes", "0", NULL};
  proxy_start(args);
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(c.prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  /* curl averages speed over about 5 s: an attempt ends some 7 s after
   * its burst, so inside a 12 s budget only a second attempt can end. */
  TH_OK(sluice_options_set(o, "low_speed_time", "2"));
  TH_OK(sluice_options_set(o, "stall_timeout", "12"));
  sluice_operator *op = op_from(o);
  /* One PutObject, more than the socket buffers hold. */
  size_t len = 24 * MiB;
  unsigned char *buf = gen(len, 33);
  sluice_options *wo = th_opts("chunk", "32MiB", NULL);
  sluice_error *err = sluice_write(op, "frozen-put.bin", buf, len, wo);
  sluice_options_free(wo);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_TIMEOUT, "expected a timeout, got [%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_log_info("%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "stall_timeout"),
            "the attempts ran out instead of the stall budget: %s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_operator_free(op);
  proxy_stop();
  expect_not_found(c.op, "frozen-put.bin");
  free(buf);
  ctx_close(&c);
}

/* A copy slower than its stall budget as a whole, whose bytes keep moving
 * (each request held 1.5 s by the proxy, none silent for the 4 s budget),
 * is not cut. */
Test(s3, slow_copy_that_keeps_moving_outlives_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--delay-ms", "1500", NULL};
  proxy_start(args);
  sluice_operator *op = stall_budget_op(c.prefix, "4");
  size_t len = 16 * MiB;
  unsigned char *buf = gen(len, 32);
  sluice_options *wo = th_opts("chunk", "5MiB", "concurrent", "1", NULL);
  double t0 = now_s();
  TH_OK(sluice_write(op, "slow.bin", buf, len, wo));
  double took = now_s() - t0;
  cr_log_info("s3: a slow copy took %.1f s with a 4 s stall budget", took);
  cr_assert_gt(took, 4, "the copy was not slower than the budget (%.1f s)", took);
  expect_content(c.op, "slow.bin", buf, len);
  sluice_options_free(wo);
  free(buf);
  sluice_operator_free(op);
  ctx_close(&c);
}

/* ---- retries in the progress ---- */

/* Copies src_path on src to dst_path on dst with a job; returns the job's
 * final progress. */
static sluice_progress copy_with_job(sluice_operator *src, const char *src_path,
                                     sluice_operator *dst, const char *dst_path) {
  sluice_reader *r;
  sluice_writer *w;
  sluice_job *job;
  TH_OK(sluice_reader_open(src, src_path, NULL, &r));
  TH_OK(sluice_writer_open(dst, dst_path, NULL, &w));
  TH_OK(sluice_job_start(w, r, NULL, &job));
  TH_OK(sluice_job_wait(job));
  sluice_progress pr = {.struct_size = sizeof pr};
  TH_OK(sluice_job_progress(job, &pr));
  sluice_job_free(job);
  sluice_writer_free(w);
  sluice_reader_free(r);
  return pr;
}

/* sluice_progress.retries counts every request of the copy that was sent
 * again: a CompleteMultipartUpload answered 503 once. */
Test(s3, progress_counts_a_resent_complete, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  size_t len = 12 * MiB;
  unsigned char *buf = gen(len, 33);
  TH_OK(sluice_write(fs, "in.bin", buf, len, NULL));
  const char *args[] = {
      "--http-status", "503", "--match", "^POST .*uploadId=", "--times", "1", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  sluice_progress pr = copy_with_job(fs, "in.bin", op, "completed.bin");
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 1, "the proxy did not fail the Complete");
  cr_assert_eq(pr.retries, 1, "retries %llu, expected 1 (the Complete)",
               (unsigned long long)pr.retries);
  expect_content(c.op, "completed.bin", buf, len);
  free(buf);
  sluice_operator_free(op);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  ctx_close(&c);
}

/* ... and ranged GETs of the source answered 503. */
Test(s3, progress_counts_resent_ranged_gets, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 12 * MiB;
  unsigned char *buf = gen(len, 34);
  TH_OK(sluice_write(c.op, "source.bin", buf, len, NULL));
  const char *args[] = {"--http-status", "503", "--match", "^GET ", "--times", "2", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  sluice_progress pr = copy_with_job(op, "source.bin", fs, "out.bin");
  cr_assert_eq(proxy_log_count("FAULT http-status 503"), 2, "the proxy did not fail two GETs");
  cr_assert_eq(pr.retries, 2, "retries %llu, expected 2 (the GETs)",
               (unsigned long long)pr.retries);
  expect_content(fs, "out.bin", buf, len);
  free(buf);
  sluice_operator_free(op);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  ctx_close(&c);
}

/* ================================================================== */
/* 11. s3:// URIs                                                      */
/* ================================================================== */

Test(s3, operator_from_s3_uri) {
  need_server();
  struct ctx c;
  new_prefix(c.prefix);
  char uri[512];
  snprintf(uri, sizeof uri, "s3://%s/a/b.bin", E.bucket);
  sluice_options *o =
      th_opts("endpoint", E.endpoint, "region", E.region, "access_key_id", E.access_key,
              "secret_access_key", E.secret_key, "root", c.prefix, NULL);
  sluice_operator *op;
  char *path;
  TH_OK(sluice_operator_from_uri(uri, o, &op, &path));
  cr_assert_str_eq(sluice_operator_scheme(op), "s3");
  cr_assert_str_eq(path, "a/b.bin");
  /* The operator works, on the bucket the URI names. */
  TH_OK(sluice_write(op, path, "via uri", 7, NULL));
  c.op = op_from(server_opts(c.prefix));
  expect_content(c.op, "a/b.bin", "via uri", 7);
  /* The caller's options were not modified (no bucket added). */
  cr_assert_null(sluice_options_get(o, "bucket"));
  sluice_free(path);
  sluice_operator_free(op);
  /* A bucket-only URI gives the empty path. */
  snprintf(uri, sizeof uri, "s3://%s", E.bucket);
  TH_OK(sluice_operator_from_uri(uri, o, &op, &path));
  cr_assert_str_eq(path, "");
  sluice_free(path);
  sluice_operator_free(op);
  TH_KIND(sluice_operator_from_uri("s3:///key", o, &op, &path), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  ctx_close(&c);
}

/* ------------------------------------------------------------------ */
/* Presigned URLs                                                      */
/* ------------------------------------------------------------------ */

static size_t into_buf(char *data, size_t size, size_t n, void *u) {
  char *b = u;
  size_t have = strlen(b), len = size * n;
  if (have + len < 256) memcpy(b + have, data, len), b[have + len] = '\0';
  return len;
}

/* GETs url without credentials; returns the HTTP status, body in body. */
static long fetch(const char *url, char body[256]) {
  body[0] = '\0';
  CURL *e = curl_easy_init();
  cr_assert_not_null(e);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, into_buf);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
  cr_assert_eq(curl_easy_perform(e), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  return status;
}

Test(s3, presigned_get_works_and_tampering_is_refused) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "shared/report.txt", "quarterly", 9, NULL));
  char *url = NULL;
  TH_OK(sluice_presign(c.op, "GET", "shared/report.txt", 300, &url));
  cr_assert(strstr(url, "X-Amz-Signature=") && strstr(url, "X-Amz-Expires=300"), "%s", url);
  cr_assert(!strstr(url, E.secret_key), "the URL holds the secret");
  char body[256];
  cr_assert_eq(fetch(url, body), 200, "presigned GET: %s", body);
  cr_assert_str_eq(body, "quarterly");
  /* Another key under the same signature is refused. */
  char *other = strdup(url);
  char *k = strstr(other, "report.txt");
  cr_assert_not_null(k);
  k[0] = 'R';
  cr_assert_eq(fetch(other, body), 403, "a tampered URL was accepted");
  free(other);
  sluice_free(url);
  /* Bad arguments, and services without signed URLs. */
  TH_KIND(sluice_presign(c.op, "POST", "shared/report.txt", 300, &url),
          SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_presign(c.op, "GET", "shared/report.txt", 0, &url), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_presign(c.op, "GET", "shared/report.txt", 604801, &url),
          SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(url);
  sluice_operator *mem = th_mem_op();
  TH_KIND(sluice_presign(mem, "GET", "x", 60, &url), SLUICE_ERR_UNSUPPORTED);
  sluice_operator_free(mem);
  ctx_close(&c);
}

Test(s3, cache_control_and_user_metadata_are_stored) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *o =
      th_opts("cache_control", "max-age=60", "user_metadata", "owner=alice&run-id=42", NULL);
  TH_OK(sluice_write(c.op, "meta.txt", "meta", 4, o));
  sluice_options_free(o);
  char *url = NULL;
  TH_OK(sluice_presign(c.op, "HEAD", "meta.txt", 60, &url));
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  cr_assert_eq(curl_easy_perform(e), CURLE_OK);
  struct curl_header *h;
  cr_assert_eq(curl_easy_header(e, "x-amz-meta-owner", 0, CURLH_HEADER, -1, &h), CURLHE_OK);
  cr_assert_str_eq(h->value, "alice");
  cr_assert_eq(curl_easy_header(e, "x-amz-meta-run-id", 0, CURLH_HEADER, -1, &h), CURLHE_OK);
  cr_assert_str_eq(h->value, "42");
  cr_assert_eq(curl_easy_header(e, "Cache-Control", 0, CURLH_HEADER, -1, &h), CURLHE_OK);
  cr_assert_str_eq(h->value, "max-age=60");
  curl_easy_cleanup(e);
  sluice_free(url);
  o = th_opts("user_metadata", "bad name=x", NULL);
  TH_KIND(sluice_write(c.op, "meta2.txt", "m", 1, o), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  ctx_close(&c);
}
