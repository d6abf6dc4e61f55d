/* SPDX-License-Identifier: MIT */
/* What the S3 suites share (tests/test_s3*.c, tests/s3_suite.c).
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
 *
 * The suites by topic: test_s3 (objects: small, multipart, streams,
 * readers), test_s3_abort (abort and cancel leave nothing behind),
 * test_s3_options (part sizes, if_not_exists, content_type, metadata, s3://
 * URIs, presigned URLs), test_s3_errors, test_s3_list, test_s3_faults
 * (retries, stalls and cancel through the fault proxy).
 */
#ifndef SLUICE_TESTS_S3_SUITE_H
#define SLUICE_TESTS_S3_SUITE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "helpers.h"
#include "s3/xml.h"
#include "sluice.h"

#define MiB (1ull << 20)

/* The server from SLUICE_S3_* (need_server() skips the test without it). */
extern th_s3_server s3_server;

/* A test's world: an operator rooted at a fresh prefix. */
struct ctx {
  char prefix[64];
  sluice_operator *op;
};

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

/* Each is described where s3_suite.c defines it. */
void need_server(void);
void new_prefix(char out[64]);
sluice_options *server_opts(const char *root);
sluice_operator *op_from(sluice_options *o);
void ctx_open(struct ctx *c);
void ctx_close(struct ctx *c);
double now_s(void);
void sleep_ms(unsigned ms);
void list_uploads(sluice_operator *op, const char *prefix, sluice__s3_uploads_page *page);
size_t uploads_left(sluice_operator *op, const char *prefix);
size_t parts_uploaded(sluice_operator *op, const char *key, const char *upload_id);
size_t wait_for_parts(sluice_operator *op, const char *prefix, size_t parts, double seconds);
unsigned char *gen(size_t len, uint64_t seed);
void expect_not_found(sluice_operator *op, const char *path);
sluice_metadata *stat_ok(sluice_operator *op, const char *path);
void expect_content(sluice_operator *op, const char *path, const void *buf, size_t len);
void expect_generated(sluice_operator *op, const char *path, uint64_t size, uint64_t seed);
void sha_generated_slice(uint64_t off, uint64_t len, uint64_t seed, unsigned char out[32]);
const char *etag_of(sluice_operator *op, const char *path, char *buf, size_t cap);
void expect_parts_etag(sluice_operator *op, const char *path, unsigned parts);
void expect_md5_etag(sluice_operator *op, const char *path, const void *buf, size_t len);
size_t chunks_of(uint64_t size, uint64_t chunk);
uint64_t big_size(void);
int feeder_start(struct feeder *f, uint64_t total, uint64_t seed, size_t block, unsigned delay_ms);
void feeder_join(struct feeder *f);

#endif
