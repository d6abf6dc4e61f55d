/* SPDX-License-Identifier: MIT */
/*
 * The S3 errors suite: each failure a user meets has its kind, its cause
 * and no secret in its message.
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
TestSuite(s3_errors, .timeout = 240);

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
  cr_assert(!strstr(sluice_error_message(err), s3_server.access_key),
            "%s: the message shows the access key id: %s", what, sluice_error_message(err));
  sluice_error_free(err);
}

Test(s3_errors, wrong_secret_is_permission_denied) {
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

Test(s3_errors, missing_bucket_is_not_found) {
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

Test(s3_errors, missing_key_is_not_found_and_named) {
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
 * GET fail with NoSuchKey (a HEAD, which stat and open send, has no body:
 * the service asks for the bucket to say which), and a missing bucket is
 * NoSuchBucket. */
Test(s3_errors, error_cause_is_the_s3_code) {
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

  /* A HEAD's 404 has no body: the service asks for the bucket and names
   * the cause as a GET's reply would. */
  sluice_metadata *m;
  err = sluice_stat(c.op, "vanishing.bin", &m);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_SERVICE, "%s", sluice_error_message(err));
  cr_assert_str_eq(sluice_error_service_code(err), "NoSuchKey");
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
  /* The same for a HEAD (stat, a reader's open), not a missing key. */
  err = sluice_stat(op, "key", &m);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND);
  cr_assert_eq(sluice_error_cause_type(err), SLUICE_CAUSE_SERVICE, "%s", sluice_error_message(err));
  cr_assert_str_eq(sluice_error_service_code(err), "NoSuchBucket");
  cr_assert(strstr(sluice_error_message(err), "bucket does not exist"), "%s",
            sluice_error_message(err));
  sluice_error_free(err);
  sluice_operator_free(op);
}

Test(s3_errors, no_credentials_is_config_invalid) {
  need_server();
  static const char *const vars[] = {"AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY",
                                     "AWS_SESSION_TOKEN",           "AWS_PROFILE",
                                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  setenv("HOME", "/nonexistent", 1);
  sluice_options *o = th_opts("endpoint", s3_server.endpoint, "region", s3_server.region, "bucket",
                              s3_server.bucket, NULL);
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
Test(s3_errors, wrong_region_is_config_invalid) {
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
Test(s3_errors, unreachable_endpoint_is_a_network_error) {
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
