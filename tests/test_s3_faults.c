/* SPDX-License-Identifier: MIT */
/*
 * The S3 faults suite, through tests/servers/fault-proxy.py: retries,
 * stalls and the stall budget, cancel, and the retries a copy's progress
 * counts.
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
TestSuite(s3_faults, .timeout = 240);

/* ================================================================== */
/* 10. Retries through the fault proxy                                 */
/* ================================================================== */

static th_proxy PX;

static int endpoint_port(void) {
  const char *hp = strstr(s3_server.endpoint, "://");
  cr_assert_not_null(hp);
  const char *colon = strrchr(hp + 3, ':');
  cr_assert_not_null(colon, "SLUICE_S3_ENDPOINT %s has no port", s3_server.endpoint);
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

Test(s3_faults, retry_after_slowdown, .fini = proxy_fini) {
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

Test(s3_faults, gives_up_after_max_attempts, .fini = proxy_fini) {
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

Test(s3_faults, multipart_survives_a_connection_reset, .fini = proxy_fini) {
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
Test(s3_faults, part_retries_after_slowdown, .fini = proxy_fini) {
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
Test(s3_faults, progress_counts_retries, .fini = proxy_fini) {
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
Test(s3_faults, part_failing_for_good_aborts_the_upload, .fini = proxy_fini) {
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
Test(s3_faults, complete_is_retried, .fini = proxy_fini) {
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
Test(s3_faults, ranged_get_survives_a_connection_reset, .fini = proxy_fini) {
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
Test(s3_faults, stalled_upload_is_retried, .fini = proxy_fini) {
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
Test(s3_faults, cancel_interrupts_a_stalled_read, .fini = proxy_fini) {
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

Test(s3_faults, cancel_interrupts_a_stalled_part_upload, .fini = proxy_fini) {
  cancel_stalled_upload(12 * MiB, "stalled-parts.bin");
}

Test(s3_faults, cancel_interrupts_a_stalled_single_put, .fini = proxy_fini) {
  cancel_stalled_upload(3 * MiB, "stalled-put.bin");
}

/* ---- the stall budget (stall_timeout) ---- */

/* An operator on the test bucket through the fault proxy with the given
 * low-speed window and stall budget (a long window: only the budget can
 * end a stalled request early). */
static sluice_operator *stall_budget_op(const char *prefix, const char *low_speed_time,
                                        const char *stall_timeout) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = server_opts(prefix);
  TH_OK(sluice_options_set(o, "endpoint", ep));
  TH_OK(sluice_options_set(o, "low_speed_time", low_speed_time));
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
Test(s3_faults, frozen_server_ends_a_copy_within_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--freeze-after-bytes", "3000000", NULL};
  proxy_start(args);
  sluice_operator *op = stall_budget_op(c.prefix, "60", "3");
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
Test(s3_faults, frozen_server_resends_do_not_restart_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--freeze-after-bytes", "0", NULL};
  proxy_start(args);
  /* curl averages speed over about 5 s: an attempt ends some 7 s after
   * its burst, so inside a 12 s budget only a second attempt can end. */
  sluice_operator *op = stall_budget_op(c.prefix, "2", "12");
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
Test(s3_faults, slow_copy_that_keeps_moving_outlives_the_stall_budget, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  const char *args[] = {"--delay-ms", "1500", NULL};
  proxy_start(args);
  sluice_operator *op = stall_budget_op(c.prefix, "60", "4");
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
Test(s3_faults, progress_counts_a_resent_complete, .fini = proxy_fini) {
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
Test(s3_faults, progress_counts_resent_ranged_gets, .fini = proxy_fini) {
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
