/* SPDX-License-Identifier: MIT */
/* The S3 suites' shared helpers (s3_suite.h). */
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

/* ------------------------------------------------------------------ */
/* The server, operators and key prefixes                              */
/* ------------------------------------------------------------------ */

th_s3_server s3_server;

void need_server(void) { th_s3_need_server(&s3_server); }

static unsigned prefix_counter;

/* "t-<pid>-<n>-<stamp>/": unique to this test (each test runs in its own
 * process).  The stamp (wall-clock microseconds, hex) keeps a reused pid
 * from meeting an earlier run's objects on a server that outlives a run. */
void new_prefix(char out[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long us =
      (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
  snprintf(out, 64, "t-%ld-%u-%llx/", (long)getpid(), ++prefix_counter, us);
}

/* Options for the test server, with root when given. */
sluice_options *server_opts(const char *root) {
  sluice_options *o = th_opts("endpoint", s3_server.endpoint, "region", s3_server.region, "bucket",
                              s3_server.bucket, "access_key_id", s3_server.access_key,
                              "secret_access_key", s3_server.secret_key, NULL);
  if (root) TH_OK(sluice_options_set(o, "root", root));
  return o;
}

/* An operator on opts (freed here). */
sluice_operator *op_from(sluice_options *o) {
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  cr_assert_str_eq(sluice_operator_scheme(op), "s3");
  return op;
}


void ctx_open(struct ctx *c) {
  need_server();
  new_prefix(c->prefix);
  c->op = op_from(server_opts(c->prefix));
}

void ctx_close(struct ctx *c) {
  sluice_operator_free(c->op);
  memset(c, 0, sizeof *c);
}

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_ms(unsigned ms) {
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
void list_uploads(sluice_operator *op, const char *prefix, sluice__s3_uploads_page *page) {
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
size_t uploads_left(sluice_operator *op, const char *prefix) {
  sluice__s3_uploads_page page = {0};
  list_uploads(op, prefix, &page);
  size_t n = page.n;
  for (size_t i = 0; i < n; i++)
    cr_log_info("upload in progress: %s (%s)", page.uploads[i].key, page.uploads[i].upload_id);
  sluice__s3_uploads_page_clear(&page);
  return n;
}

/* ListParts of one upload: how many parts the server holds. */
size_t parts_uploaded(sluice_operator *op, const char *key, const char *upload_id) {
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
size_t wait_for_parts(sluice_operator *op, const char *prefix, size_t parts, double seconds) {
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

unsigned char *gen(size_t len, uint64_t seed) {
  unsigned char *b = malloc(len ? len : 1);
  cr_assert(b);
  th_fill(b, len, seed, 0);
  return b;
}

void expect_not_found(sluice_operator *op, const char *path) {
  sluice_metadata *m = (sluice_metadata *)1;
  TH_KIND(sluice_stat(op, path, &m), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(m, "stat left *out set on failure");
}

sluice_metadata *stat_ok(sluice_operator *op, const char *path) {
  sluice_metadata *m;
  TH_OK(sluice_stat(op, path, &m));
  return m;
}

/* The object's bytes equal buf[0..len). */
void expect_content(sluice_operator *op, const char *path, const void *buf, size_t len) {
  void *got;
  size_t n;
  TH_OK(sluice_read(op, path, 0, UINT64_MAX, &got, &n));
  cr_assert_eq(n, len, "%s: read %zu bytes, expected %zu", path, n, len);
  cr_assert(len == 0 || memcmp(got, buf, len) == 0, "%s: content differs", path);
  sluice_free(got);
}

/* The object's SHA-256 equals that of `size` generated bytes of seed. */
void expect_generated(sluice_operator *op, const char *path, uint64_t size, uint64_t seed) {
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
void sha_generated_slice(uint64_t off, uint64_t len, uint64_t seed, unsigned char out[32]) {
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

const char *etag_of(sluice_operator *op, const char *path, char *buf, size_t cap) {
  sluice_metadata *m = stat_ok(op, path);
  cr_assert_not_null(sluice_metadata_etag(m), "%s: no ETag", path);
  snprintf(buf, cap, "%s", sluice_metadata_etag(m));
  sluice_metadata_free(m);
  return buf;
}

/* A multipart object's ETag is "<hex>-<parts>"; a PutObject's is the MD5. */
void expect_parts_etag(sluice_operator *op, const char *path, unsigned parts) {
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

void expect_md5_etag(sluice_operator *op, const char *path, const void *buf, size_t len) {
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

size_t chunks_of(uint64_t size, uint64_t chunk) { return (size_t)((size + chunk - 1) / chunk); }

/* Big sizes: 256 MiB by default, a quarter of SLUICE_TEST_BIG otherwise. */
uint64_t big_size(void) {
  uint64_t n = th_big_size(1ull << 30) / 4;
  return n < 256 * MiB ? n : 256 * MiB;
}

/* ------------------------------------------------------------------ */
/* A pipe fed by a thread                                              */
/* ------------------------------------------------------------------ */


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
int feeder_start(struct feeder *f, uint64_t total, uint64_t seed, size_t block, unsigned delay_ms) {
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

void feeder_join(struct feeder *f) {
  atomic_store(&f->stop, 1);
  pthread_join(f->th, NULL);
}
