/* SPDX-License-Identifier: MIT */
/*
 * The s3 writer's and reader's checksums against a store that verifies
 * them: Swift 2.30's s3api (which checks Content-MD5 only) behind
 * tests/servers/checksum-proxy.py, which checks x-amz-checksum-* as AWS
 * does, answers BadDigest on a mismatch, reports the object's checksum at
 * Complete and on HEAD, and injects the faults: a byte flipped in an upload
 * (refused, then resent from the same chunk), a wrong value reported after
 * Complete (the write fails, saying the object is committed but did not
 * verify), a byte flipped in a download (the copy fails, nothing left).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sluice.h"

static th_s3_server E;
static th_proxy PX;
static unsigned prefix_counter;

static void new_prefix(char out[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(out, 64, "ck-%ld-%u-%lx/", (long)getpid(), ++prefix_counter, (unsigned long)ts.tv_nsec);
}

static int endpoint_port(void) {
  const char *hp = strstr(E.endpoint, "://");
  cr_assert_not_null(hp);
  const char *colon = strrchr(hp + 3, ':');
  cr_assert_not_null(colon, "SLUICE_S3_ENDPOINT %s has no port", E.endpoint);
  return atoi(colon + 1);
}

/* An operator rooted at prefix, on Swift directly (proxied 0) or through
 * the checking front end. */
static sluice_operator *op_at(const char *prefix, int proxied) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  sluice_options *o = th_opts("endpoint", proxied ? ep : E.endpoint, "region", E.region, "bucket",
                              E.bucket, "access_key_id", E.access_key, "secret_access_key",
                              E.secret_key, "root", prefix, NULL);
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  return op;
}

/* The front end with these fault arguments (NULL-terminated). */
static void start(const char *const *faults) {
  th_s3_need_server(&E);
  /* The keys: the front end signs again the Complete it rewrites. */
  const char *args[16] = {"--access-key", E.access_key, "--secret-key",
                          E.secret_key,   "--region",   E.region};
  size_t n = 6;
  for (size_t i = 0; faults[i] && n < 15; i++) args[n++] = faults[i];
  args[n] = NULL;
  th_proxy_start_script(&PX, "checksum-proxy.py", endpoint_port(), args);
}

static void stop(void) { th_proxy_stop(&PX); }

static unsigned char *make_data(size_t len, uint64_t seed) {
  unsigned char *d = malloc(len);
  cr_assert(d);
  th_fill(d, len, seed, 0);
  return d;
}

/* Writes data at path through op with the checksum option (NULL: the
 * default) in 5 MiB parts. */
static sluice_error *write_obj(sluice_operator *op, const char *path, const void *data, size_t len,
                               const char *checksum) {
  sluice_options *o = th_opts("chunk", "5MiB", "concurrent", "3", NULL);
  if (checksum) TH_OK(sluice_options_set(o, "checksum", checksum));
  sluice_error *err = sluice_write(op, path, data, len, o);
  sluice_options_free(o);
  return err;
}

static void expect_bytes(sluice_operator *op, const char *path, const void *data, size_t len) {
  void *got = NULL;
  size_t n = 0;
  TH_OK(sluice_read(op, path, 0, UINT64_MAX, &got, &n));
  cr_assert_eq(n, len, "%s: %zu bytes, expected %zu", path, n, len);
  cr_assert(memcmp(got, data, len) == 0, "%s: the bytes differ", path);
  sluice_free(got);
}

#define BIG (12u * 1024 * 1024 + 12345) /* three parts, the last short */
#define SMALL 1000u                     /* one PutObject */

static void corrupted_part_is_resent(const char *alg) {
  char prefix[64], want[64];
  new_prefix(prefix);
  /* The second part's first attempt arrives with a byte flipped. */
  const char *args[] = {"--corrupt-upload", "--match", "partNumber=2&", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1), *direct = op_at(prefix, 0);
  unsigned char *data = make_data(BIG, 7);
  TH_OK(write_obj(op, "obj.bin", data, BIG, alg));
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-upload", NULL), 1);
  if (strcmp(alg, "md5") == 0) {
    /* No x-amz-checksum: Swift's Content-MD5 check refused it. */
    cr_assert_eq(th_proxy_log_count(&PX, "CHECKED", NULL), 0);
  } else {
    snprintf(want, sizeof want, "REFUSED %s ", alg);
    cr_assert_eq(th_proxy_log_count(&PX, want, "partNumber=2&"), 1,
                 "the corrupted part was not refused");
    snprintf(want, sizeof want, "CHECKED %s ", alg);
    cr_assert_eq(th_proxy_log_count(&PX, want, "partNumber="), 3,
                 "every part is checked once it arrives whole");
    snprintf(want, sizeof want, "CHECKED complete %s", alg);
    cr_assert_eq(th_proxy_log_count(&PX, want, NULL), 1, "Complete did not carry the checksums");
  }
  expect_bytes(direct, "obj.bin", data, BIG);
  free(data);
  sluice_operator_free(op);
  sluice_operator_free(direct);
}

static void corrupted_put_is_resent(const char *alg) {
  char prefix[64], want[64];
  new_prefix(prefix);
  const char *args[] = {"--corrupt-upload", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1), *direct = op_at(prefix, 0);
  unsigned char *data = make_data(SMALL, 8);
  TH_OK(write_obj(op, "small.bin", data, SMALL, alg));
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-upload", NULL), 1);
  snprintf(want, sizeof want, "REFUSED %s ", alg);
  cr_assert_eq(th_proxy_log_count(&PX, want, NULL), 1, "the corrupted PutObject was not refused");
  expect_bytes(direct, "small.bin", data, SMALL);
  free(data);
  sluice_operator_free(op);
  sluice_operator_free(direct);
}

Test(s3_checksum, crc64nvme_part_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_part_is_resent("crc64nvme");
}
Test(s3_checksum, crc32c_part_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_part_is_resent("crc32c");
}
Test(s3_checksum, crc32_part_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_part_is_resent("crc32");
}
Test(s3_checksum, sha256_part_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_part_is_resent("sha256");
}
Test(s3_checksum, md5_part_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_part_is_resent("md5");
}
Test(s3_checksum, crc64nvme_put_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_put_is_resent("crc64nvme");
}
Test(s3_checksum, crc32c_put_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_put_is_resent("crc32c");
}
Test(s3_checksum, crc32_put_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_put_is_resent("crc32");
}
Test(s3_checksum, sha256_put_corrupted_in_flight_is_resent, .fini = stop) {
  corrupted_put_is_resent("sha256");
}

/* A part the store refuses on every attempt (a byte flipped each time) ends
 * the write as REJECTED with the store's code, never as an invalid argument
 * (the caller asked for nothing wrong, and sluice(1) keeps exit status 2
 * for that), and nothing is left behind. */
Test(s3_checksum, part_refused_on_every_attempt_is_rejected, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--corrupt-upload", "--times", "1000", "--match", "partNumber=2&", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1), *direct = op_at(prefix, 0);
  unsigned char *data = make_data(BIG, 13);
  sluice_error *err = write_obj(op, "refused.bin", data, BIG, NULL);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_REJECTED, "[%s] %s",
               sluice_err_name(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert_str_eq(sluice_error_service_code(err), "BadDigest");
  cr_assert_eq(sluice_error_http_status(err), 400);
  cr_assert(strstr(sluice_error_message(err), "corrupted in transit"), "%s",
            sluice_error_message(err));
  sluice_error_free(err);
  /* max_attempts (5) tries, each refused. */
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-upload", NULL), 5);
  sluice_metadata *m = NULL;
  TH_KIND(sluice_stat(direct, "refused.bin", &m), SLUICE_ERR_NOT_FOUND);
  free(data);
  sluice_operator_free(op);
  sluice_operator_free(direct);
}

/* A tree copy through a front end that flips a byte in the first six PUT
 * bodies: every object ends whole, and the job counts each resent request
 * and each part (the command's --json reads these). */
Test(s3_checksum, tree_copy_counts_every_resent_put_and_part, .fini = stop) {
  char prefix[64], name[32];
  new_prefix(prefix);
  const char *args[] = {"--corrupt-upload", "--times", "6", NULL};
  start(args);
  sluice_operator *mem = th_mem_op(), *op = op_at(prefix, 1), *direct = op_at(prefix, 0);
  enum { N = 20 };
  unsigned char *data = make_data(SMALL + N, 14);
  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof name, "f%02u", i);
    TH_OK(sluice_write(mem, name, data, SMALL + i, NULL));
  }
  /* Four in flight: the six flipped PUTs are those four objects' first
   * attempts and two resends, never one object's five attempts. */
  sluice_options *o = th_opts("transfers", "4", NULL);
  sluice_job *job = NULL;
  TH_OK(sluice_tree_start(mem, "", op, "t/", o, &job));
  TH_OK(sluice_job_wait(job));
  sluice_progress p = {.struct_size = sizeof p};
  TH_OK(sluice_job_progress(job, &p));
  sluice_job_free(job);
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-upload", NULL), 6);
  cr_assert_eq(p.retries, 6, "%llu retries counted after 6 refused PUTs",
               (unsigned long long)p.retries);
  cr_assert_eq(p.objects_done, N);
  cr_assert_eq(p.parts_done, N, "%llu parts for %d one-part objects",
               (unsigned long long)p.parts_done, N);
  for (unsigned i = 0; i < N; i++) {
    snprintf(name, sizeof name, "t/f%02u", i);
    expect_bytes(direct, name, data, SMALL + i);
  }
  sluice_error_free(sluice_delete_all(direct, ""));
  sluice_options_free(o);
  free(data);
  sluice_operator_free(mem);
  sluice_operator_free(op);
  sluice_operator_free(direct);
}

/* The default is CRC64NVME on a store that names it back at Create. */
Test(s3_checksum, default_is_crc64nvme_where_verified, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 9);
  TH_OK(write_obj(op, "auto.bin", data, BIG, NULL));
  cr_assert_eq(th_proxy_log_count(&PX, "CHECKED crc64nvme ", "partNumber="), 3);
  cr_assert_eq(th_proxy_log_count(&PX, "CHECKED complete crc64nvme", NULL), 1);
  expect_bytes(op, "auto.bin", data, BIG);
  free(data);
  sluice_operator_free(op);
}

/* On a store that does not name the algorithm back (Swift, here behind a
 * plain front end that only flips a byte), the default falls back to
 * Content-MD5, which Swift checks: the part is refused and resent. */
Test(s3_checksum, default_is_content_md5_where_not_verified, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--corrupt-upload", "--match", "partNumber=3&", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1), *direct = op_at(prefix, 0);
  unsigned char *data = make_data(BIG, 12);
  TH_OK(write_obj(op, "plain.bin", data, BIG, NULL));
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-upload", NULL), 1);
  expect_bytes(direct, "plain.bin", data, BIG);
  /* Reading it back asks for a checksum the store does not have: no check,
   * no failure. */
  expect_bytes(op, "plain.bin", data, BIG);
  free(data);
  sluice_operator_free(op);
  sluice_operator_free(direct);
}

/* A store that echoes the CRC of a PutObject (as AWS does) has shown that
 * it checks it: the operator's later PutObjects carry the CRC alone, not
 * an MD5 as well.  A store that does not (Swift behind a plain front end)
 * keeps getting Content-MD5 with every one. */
/* Three small PutObjects through the front end started with args: how
 * many carried Content-MD5. */
static int content_md5_puts(const char *const *args) {
  char prefix[64];
  new_prefix(prefix);
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(SMALL, 14);
  for (int i = 0; i < 3; i++) {
    char path[32];
    snprintf(path, sizeof path, "p%d.bin", i);
    TH_OK(write_obj(op, path, data, SMALL, NULL));
    expect_bytes(op, path, data, SMALL);
  }
  free(data);
  sluice_operator_free(op);
  return th_proxy_log_count(&PX, "CONTENT-MD5 PUT", NULL);
}

Test(s3_checksum, content_md5_stops_once_the_store_shows_it_checks_the_crc, .fini = stop) {
  const char *args[] = {NULL};
  cr_assert_eq(content_md5_puts(args), 1, "MD5 after the first");
  cr_assert_eq(th_proxy_log_count(&PX, "CHECKED crc64nvme PUT", NULL), 3);
}

Test(s3_checksum, content_md5_goes_with_every_put_where_no_crc_is_echoed, .fini = stop) {
  const char *args[] = {"--plain", NULL};
  cr_assert_eq(content_md5_puts(args), 3);
}

/* A small body that carries its own checksum goes as UNSIGNED-PAYLOAD (the
 * store checks that checksum); one without (checksum=none) is signed with
 * its SHA-256, so no body reaches the store unchecked. */
Test(s3_checksum, a_small_body_is_signed_only_without_a_checksum, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(SMALL, 13);
  const char *algs[] = {"crc64nvme", "md5", "none"};
  for (int i = 0; i < 3; i++) {
    char path[32], want[64];
    snprintf(path, sizeof path, "%s.bin", algs[i]);
    TH_OK(write_obj(op, path, data, SMALL, algs[i]));
    snprintf(want, sizeof want, "PAYLOAD %s PUT ", i < 2 ? "unsigned" : "signed");
    cr_assert_eq(th_proxy_log_count(&PX, want, path), 1, "%s: not %s", algs[i], want);
    expect_bytes(op, path, data, SMALL);
  }
  free(data);
  sluice_operator_free(op);
}

/* A store that reports another object checksum after Complete than the
 * parts make: the write fails, and says the object is there. */
Test(s3_checksum, wrong_checksum_after_complete_fails_the_write, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--lie-complete", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 10);
  sluice_error *err = write_obj(op, "lied.bin", data, BIG, "crc32c");
  cr_assert_not_null(err, "the write succeeded though the store reported a wrong checksum");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "committed but did not verify"), "%s",
            sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "lied.bin"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  free(data);
  sluice_operator_free(op);
}

/* sync --checksum of a multipart object (its ETag is no MD5) against a
 * file: the full-object CRC the store keeps decides, against the file's
 * bytes, both ways; a changed file of the same size and an old time is
 * copied.  A sync job to its end; its progress. */
static sluice_progress sync_checksum(sluice_operator *src, const char *sdir, sluice_operator *dst,
                                     const char *ddir) {
  sluice_options *o = th_opts("mode", "sync", "compare", "checksum", "chunk", "5MiB", NULL);
  sluice_job *job;
  TH_OK(sluice_tree_start(src, sdir, dst, ddir, o, &job));
  sluice_options_free(o);
  TH_OK(sluice_job_wait(job));
  sluice_progress p = {.struct_size = sizeof p};
  TH_OK(sluice_job_progress(job, &p));
  sluice_job_free(job);
  return p;
}

Test(s3_checksum, sync_checksum_compares_a_multipart_object_by_its_crc, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  unsigned char *data = make_data(BIG, 15);
  TH_OK(sluice_write(fs, "up/big.bin", data, BIG, NULL));
  TH_OK(sluice_write(fs, "up/small.bin", data, SMALL, NULL));
  sluice_progress p = sync_checksum(fs, "up/", op, "t/");
  cr_assert_eq(p.objects_done, 2);
  cr_assert_eq(th_proxy_log_count(&PX, "CHECKED complete crc64nvme", NULL), 1);

  p = sync_checksum(fs, "up/", op, "t/");
  cr_assert_eq(p.objects_skipped, 2, "copied %llu again", (unsigned long long)p.objects_done);
  p = sync_checksum(op, "t/", fs, "down-same/");
  cr_assert_eq(p.objects_done, 2);
  p = sync_checksum(op, "t/", fs, "down-same/");
  cr_assert_eq(p.objects_skipped, 2, "copied %llu again", (unsigned long long)p.objects_done);

  /* Same size, other bytes, an old time: the CRC tells. */
  data[BIG / 2] ^= 1;
  TH_OK(sluice_write(fs, "up/big.bin", data, BIG, NULL));
  char *f = th_join(dir, "up/big.bin");
  struct timespec old[2] = {{.tv_sec = 946684800}, {.tv_sec = 946684800}};
  cr_assert(utimensat(AT_FDCWD, f, old, 0) == 0);
  free(f);
  p = sync_checksum(fs, "up/", op, "t/");
  cr_assert_eq(p.objects_done, 1);
  cr_assert_eq(p.objects_skipped, 1);
  expect_bytes(op, "t/big.bin", data, BIG);

  free(data);
  sluice_operator_free(op);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
}

/* Copies src (an object of op) to a file dst under fs with 4 readers
 * (ranged GETs that finish in any order) and reader options ropts;
 * *verified gets sluice_reader_verified() of the read. */
static sluice_error *download_checked(sluice_operator *op, const char *src, sluice_operator *fs,
                                      const char *dst, const sluice_options *ropts,
                                      const char **verified) {
  sluice_reader *r;
  sluice_writer *w;
  *verified = NULL;
  sluice_error *err = sluice_reader_open(op, src, ropts, &r);
  if (err) return err;
  sluice_options *wo = th_opts("chunk", "1MiB", "concurrent", "4", NULL);
  sluice_options *co = th_opts("readers", "4", NULL);
  TH_OK(sluice_writer_open(fs, dst, wo, &w));
  err = sluice_write_from(w, r, co);
  if (!err) err = sluice_writer_close(w);
  *verified = sluice_reader_verified(r);
  sluice_writer_free(w);
  sluice_reader_free(r);
  sluice_options_free(wo);
  sluice_options_free(co);
  return err;
}

static sluice_error *download(sluice_operator *op, const char *src, sluice_operator *fs,
                              const char *dst) {
  const char *verified;
  return download_checked(op, src, fs, dst, NULL, &verified);
}

Test(s3_checksum, download_verifies_the_stored_crc, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  /* The fault waits for the download: the first GET of the object. */
  const char *args[] = {"--corrupt-download", "--match", "^GET .*dl.bin", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 11);
  TH_OK(write_obj(op, "dl.bin", data, BIG, "crc64nvme"));
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  sluice_error *err = download(op, "dl.bin", fs, "corrupt.bin");
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-download", NULL), 1);
  cr_assert_not_null(err, "a download with a flipped byte succeeded");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "stored checksum"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(th_count_files(dir), 0, "the failed download left a file");
  /* The fault is spent: the same download now verifies and succeeds. */
  TH_OK(download(op, "dl.bin", fs, "good.bin"));
  expect_bytes(fs, "good.bin", data, BIG);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  free(data);
  sluice_operator_free(op);
}

/* ---- a store that keeps no CRC: the ETag is checked (issue 22) ---- */

/* Against the plain store: an object written as one PutObject (3 MiB: one
 * part of 5 MiB) or as three parts, its download's GET flipped once. */
static void plain_flip_is_caught(size_t len, const char *kind) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--corrupt-download", "--match", "^GET .*dl.bin", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(len, 21);
  TH_OK(write_obj(op, "dl.bin", data, len, NULL));
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  const char *verified;
  sluice_error *err = download_checked(op, "dl.bin", fs, "corrupt.bin", NULL, &verified);
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-download", NULL), 1);
  cr_assert_not_null(err, "a download with a flipped byte succeeded");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  cr_assert(sluice_error_retryable(err));
  cr_assert(strstr(sluice_error_message(err), "ETag"), "%s", sluice_error_message(err));
  cr_assert_str_eq(verified, "none");
  sluice_error_free(err);
  cr_assert_eq(th_count_files(dir), 0, "the failed download left a file");
  TH_OK(download_checked(op, "dl.bin", fs, "good.bin", NULL, &verified));
  cr_assert_str_eq(verified, kind);
  expect_bytes(fs, "good.bin", data, len);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  free(data);
  sluice_operator_free(op);
}

Test(s3_checksum, a_store_without_crcs_checks_a_single_part_download_by_its_etag, .fini = stop) {
  plain_flip_is_caught(3u << 20, "md5");
}

Test(s3_checksum, a_store_without_crcs_checks_a_multipart_download_by_its_etag, .fini = stop) {
  plain_flip_is_caught(BIG, "etag-md5");
}

/* The whole object came in one GET: it is fetched once more, and a flip
 * that does not repeat costs one request, not the copy. */
Test(s3_checksum, a_whole_object_in_one_get_is_fetched_again_after_a_mismatch, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--corrupt-download", "--match", "^GET .*one.bin", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(SMALL, 22);
  TH_OK(write_obj(op, "one.bin", data, SMALL, NULL));
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, "one.bin", NULL, &r));
  unsigned char got[SMALL + 1];
  size_t n = 0, k;
  do {
    TH_OK(sluice_reader_read(r, got + n, sizeof got - n, &k));
    n += k;
  } while (k);
  cr_assert_eq(n, SMALL);
  cr_assert(memcmp(got, data, SMALL) == 0);
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-download", NULL), 1);
  cr_assert_str_eq(sluice_reader_verified(r), "md5");
  sluice_reader_free(r);
  free(data);
  sluice_operator_free(op);
}

/* Read-ahead fetches chunks on several threads: an MD5 still sees the
 * bytes in order (a fetch that arrives early waits for its turn). */
static const char *read_ahead_all(sluice_operator *op, const char *path, const void *data,
                                  size_t len) {
  sluice_options *o = th_opts("concurrent", "4", "chunk", "256KiB", NULL);
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, path, o, &r));
  sluice_options_free(o);
  unsigned char *got = malloc(len + 1);
  cr_assert(got);
  size_t n = 0, k;
  do {
    TH_OK(sluice_reader_read(r, got + n, len + 1 - n < 100000 ? len + 1 - n : 100000, &k));
    n += k;
  } while (k);
  cr_assert_eq(n, len);
  cr_assert(memcmp(got, data, len) == 0);
  free(got);
  const char *v = sluice_reader_verified(r);
  sluice_reader_free(r);
  return v;
}

Test(s3_checksum, read_ahead_checks_the_etag_in_order, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 27);
  TH_OK(write_obj(op, "one.bin", data, 3u << 20, NULL));
  TH_OK(write_obj(op, "mp.bin", data, BIG, NULL));
  cr_assert_str_eq(read_ahead_all(op, "one.bin", data, 3u << 20), "md5");
  cr_assert_str_eq(read_ahead_all(op, "mp.bin", data, BIG), "etag-md5");
  free(data);
  sluice_operator_free(op);
}

/* Reads that jump (a seek with read-ahead on either side, a write_from
 * after some reads) cannot be checked in order: they end unverified, and
 * no read waits for bytes nobody fetches. */
Test(s3_checksum, reads_out_of_order_end_unverified_and_never_wait, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 28);
  TH_OK(write_obj(op, "mp.bin", data, BIG, NULL));
  sluice_options *o = th_opts("concurrent", "4", "chunk", "256KiB", NULL);
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, "mp.bin", o, &r));
  unsigned char *got = malloc(BIG);
  cr_assert(got);
  size_t k;
  TH_OK(sluice_reader_read(r, got, 1u << 20, &k));
  uint64_t pos;
  TH_OK(sluice_reader_seek(r, 6 << 20, SEEK_SET, &pos));
  size_t n = 0;
  do {
    TH_OK(sluice_reader_read(r, got + n, BIG - n < 100000 ? BIG - n : 100000, &k));
    n += k;
  } while (k && n < BIG);
  cr_assert_eq(n, BIG - (6u << 20));
  cr_assert(memcmp(got, data + (6u << 20), n) == 0);
  cr_assert_str_eq(sluice_reader_verified(r), "none");
  sluice_reader_free(r);
  /* Some bytes read, then write_from takes the rest from there. */
  TH_OK(sluice_reader_open(op, "mp.bin", NULL, &r));
  TH_OK(sluice_reader_read(r, got, 100, &k));
  cr_assert_eq(k, 100);
  sluice_operator *m = th_mem_op();
  sluice_options *wo = th_opts("chunk", "1MiB", "concurrent", "4", NULL);
  sluice_options *co = th_opts("readers", "4", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(m, "rest.bin", wo, &w));
  TH_OK(sluice_write_from(w, r, co));
  TH_OK(sluice_writer_close(w));
  cr_assert_str_eq(sluice_reader_verified(r), "none");
  sluice_writer_free(w);
  sluice_reader_free(r);
  expect_bytes(m, "rest.bin", data + 100, BIG - 100);
  sluice_options_free(wo);
  sluice_options_free(co);
  sluice_options_free(o);
  sluice_operator_free(m);
  free(got);
  free(data);
  sluice_operator_free(op);
}

/* A flip on every GET: the refetch does not help and the read fails. */
Test(s3_checksum, a_flip_on_every_get_fails_the_read, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--corrupt-download", "--times", "9",
                        "--match", "^GET .*one.bin",     NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(SMALL, 23);
  TH_OK(write_obj(op, "one.bin", data, SMALL, NULL));
  void *got = NULL;
  size_t n = 0;
  sluice_error *err = sluice_read(op, "one.bin", 0, UINT64_MAX, &got, &n);
  cr_assert_not_null(err, "a read of flipped bytes succeeded");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_IO, "%s", sluice_error_message(err));
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-download", NULL), 2);
  cr_assert_null(got);
  sluice_error_free(err);
  free(data);
  sluice_operator_free(op);
}

/* A multipart object another tool uploaded (no sluice part-size metadata)
 * on a store that answers no HEAD ?partNumber (Swift: 405): read, but
 * reported unverified; verify=required refuses it before any byte. */
Test(s3_checksum, a_multipart_object_of_unknown_part_size_is_unverified, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--hide-reply-header", "x-amz-meta-sluice-part-size", NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 24);
  TH_OK(write_obj(op, "mp.bin", data, BIG, NULL));
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  const char *verified;
  TH_OK(download_checked(op, "mp.bin", fs, "mp.bin", NULL, &verified));
  cr_assert_str_eq(verified, "none");
  expect_bytes(fs, "mp.bin", data, BIG);
  sluice_options *req = th_opts("verify", "required", NULL);
  sluice_reader *r = NULL;
  sluice_error *err = sluice_reader_open(op, "mp.bin", req, &r);
  cr_assert_not_null(err);
  cr_assert_null(r);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_UNSUPPORTED, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "part size"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  /* A single-part object verifies, so required lets it through. */
  TH_OK(write_obj(op, "one.bin", data, SMALL, NULL));
  TH_OK(download_checked(op, "one.bin", fs, "one.bin", req, &verified));
  cr_assert_str_eq(verified, "md5");
  sluice_options_free(req);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  free(data);
  sluice_operator_free(op);
}

/* SSE-KMS: the ETag is no MD5 of the bytes, so it is not compared (no
 * false alarm); a ranged read is never checked. */
Test(s3_checksum, sse_kms_objects_and_ranged_reads_are_not_checked, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--add-reply-header", "x-amz-server-side-encryption:aws:kms",
                        NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(SMALL, 25);
  TH_OK(write_obj(op, "kms.bin", data, SMALL, NULL));
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  const char *verified;
  TH_OK(download_checked(op, "kms.bin", fs, "kms.bin", NULL, &verified));
  cr_assert_str_eq(verified, "none");
  sluice_options *req = th_opts("verify", "required", NULL);
  sluice_reader *r = NULL;
  TH_KIND(sluice_reader_open(op, "kms.bin", req, &r), SLUICE_ERR_UNSUPPORTED);
  sluice_options_free(req);
  sluice_options *ranged = th_opts("offset", "10", NULL);
  TH_OK(download_checked(op, "kms.bin", fs, "part.bin", ranged, &verified));
  cr_assert_str_eq(verified, "none");
  sluice_options_free(ranged);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  free(data);
  sluice_operator_free(op);
}

/* A tree copy: the object is copied once more after a mismatch, and a
 * small one read in one GET is fetched twice each time; flipped four times
 * in a row, that object fails and the others are copied and verified. */
struct tree_seen {
  int md5, etag_md5, failed;
};

static void on_tree_object(const sluice_object_result *res, void *ud) {
  struct tree_seen *seen = ud;
  const char *v = sluice_object_result_verified(res);
  if (sluice_object_result_action(res) == SLUICE_OBJECT_FAILED) seen->failed++;
  if (!strcmp(v, "md5")) seen->md5++;
  if (!strcmp(v, "etag-md5")) seen->etag_md5++;
}

Test(s3_checksum, a_tree_copy_from_a_store_without_crcs_checks_each_object, .fini = stop) {
  char prefix[64];
  new_prefix(prefix);
  const char *args[] = {"--plain", "--corrupt-download", "--times", "4",
                        "--match", "^GET .*bad.bin",     NULL};
  start(args);
  sluice_operator *op = op_at(prefix, 1);
  unsigned char *data = make_data(BIG, 26);
  TH_OK(write_obj(op, "t/bad.bin", data, SMALL, NULL));
  TH_OK(write_obj(op, "t/good.bin", data, SMALL, NULL));
  TH_OK(write_obj(op, "t/large.bin", data, BIG, NULL));
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  struct tree_seen seen = {0};
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_options_set_object_cb(o, on_tree_object, &seen));
  sluice_job *job;
  TH_OK(sluice_tree_start(op, "t/", fs, "out/", o, &job));
  sluice_error *err = sluice_job_wait(job);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_PARTIAL, "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_job_free(job);
  sluice_options_free(o);
  cr_assert_eq(seen.failed, 1);
  cr_assert_eq(seen.md5, 1);
  cr_assert_eq(seen.etag_md5, 1);
  cr_assert_eq(th_proxy_log_count(&PX, "FAULT corrupt-download", NULL), 4);
  expect_bytes(fs, "out/good.bin", data, SMALL);
  expect_bytes(fs, "out/large.bin", data, BIG);
  cr_assert_eq(th_count_files(dir), 2, "the failed object left a file");
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  free(data);
  sluice_operator_free(op);
}

Test(s3_checksum, a_bad_verify_value_is_refused) {
  th_s3_need_server(&E);
  char prefix[64];
  new_prefix(prefix);
  sluice_operator *op = op_at(prefix, 0);
  sluice_reader *r = NULL;
  sluice_options *o = th_opts("verify", "always", NULL);
  sluice_error *err = sluice_reader_open(op, "x", o, &r);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(sluice_error_message(err), "verify"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_options_free(o);
  sluice_operator_free(op);
}

Test(s3_checksum, bad_option_value_is_refused) {
  th_s3_need_server(&E);
  char prefix[64];
  new_prefix(prefix);
  sluice_operator *op = op_at(prefix, 0);
  sluice_writer *w = NULL;
  sluice_options *o = th_opts("checksum", "crc16", NULL);
  sluice_error *err = sluice_writer_open(op, "x", o, &w);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(sluice_error_message(err), "checksum"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_options_free(o);
  sluice_operator_free(op);
}
