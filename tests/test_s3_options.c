/* SPDX-License-Identifier: MIT */
/*
 * The S3 suite of writer and operator options: part sizes, if_not_exists,
 * content_type, cache_control and user metadata, s3:// URIs and presigned
 * URLs.
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
TestSuite(s3_options, .timeout = 240);

/* ================================================================== */
/* 4. Part sizes                                                       */
/* ================================================================== */

Test(s3_options, chunk_below_s3_minimum_is_refused) {
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

Test(s3_options, object_below_one_chunk_is_a_single_put) {
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

Test(s3_options, if_not_exists) {
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
Test(s3_options, if_not_exists_loses_a_race_as_already_exists) {
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

Test(s3_options, content_type_is_stored) {
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
Test(s3_options, content_type_with_control_characters_is_refused) {
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
/* 11. s3:// URIs                                                      */
/* ================================================================== */

Test(s3_options, operator_from_s3_uri) {
  need_server();
  struct ctx c;
  new_prefix(c.prefix);
  char uri[512];
  snprintf(uri, sizeof uri, "s3://%s/a/b.bin", s3_server.bucket);
  sluice_options *o = th_opts("endpoint", s3_server.endpoint, "region", s3_server.region,
                              "access_key_id", s3_server.access_key, "secret_access_key",
                              s3_server.secret_key, "root", c.prefix, NULL);
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
  snprintf(uri, sizeof uri, "s3://%s", s3_server.bucket);
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

Test(s3_options, presigned_get_works_and_tampering_is_refused) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "shared/report.txt", "quarterly", 9, NULL));
  char *url = NULL;
  TH_OK(sluice_presign(c.op, "GET", "shared/report.txt", 300, &url));
  cr_assert(strstr(url, "X-Amz-Signature=") && strstr(url, "X-Amz-Expires=300"), "%s", url);
  cr_assert(!strstr(url, s3_server.secret_key), "the URL holds the secret");
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

Test(s3_options, cache_control_and_user_metadata_are_stored) {
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
