/* SPDX-License-Identifier: MIT */
/*
 * The s3 service's remove_all (sluice_delete_all: ListObjectsV2 +
 * DeleteObjects in batches of 1,000) and server-side copy (sluice_copy:
 * CopyObject, or UploadPartCopy parts above a threshold the tests lower)
 * against a real server: OpenStack Swift with the s3api middleware on
 * loopback (tests/servers/swift-s3api.sh; tests/check-servers.sh starts it
 * and exports SLUICE_S3_*).  Without SLUICE_S3_ENDPOINT every test is
 * skipped.
 *
 * Every test works under a key prefix of its own (operator option root),
 * as in test_s3.c.  Tests that need to see or disturb the requests put
 * tests/servers/fault-proxy.py in front of the server.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "httpreq/httpreq.h"
#include "operator.h"
#include "s3/s3.h"
#include "s3/xml.h"

#define MiB (1ull << 20)

/* A guard against hangs only: 2,100 PUTs to Swift on a busy machine took
 * over 120 s in a plain build.  Scaled further under sanitizers. */
TestSuite(s3_bulk, .timeout = 600);

/* ------------------------------------------------------------------ */
/* The server, operators and key prefixes (as in test_s3.c)            */
/* ------------------------------------------------------------------ */

static th_s3_server E;

static void need_server(void) { th_s3_need_server(&E); }

/* "b-<pid>-<stamp>/": each test runs in its own process. */
static void new_prefix(char out[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long us =
      (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
  snprintf(out, 64, "b-%ld-%llx/", (long)getpid(), us);
}

static sluice_operator *open_op(const char *root, const char *endpoint, const char *max_attempts) {
  sluice_options *o =
      th_opts("endpoint", endpoint ? endpoint : E.endpoint, "region", E.region, "bucket", E.bucket,
              "access_key_id", E.access_key, "secret_access_key", E.secret_key, "root", root, NULL);
  if (max_attempts) TH_OK(sluice_options_set(o, "max_attempts", max_attempts));
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  return op;
}

struct ctx {
  char prefix[64];
  sluice_operator *op;
};

static void ctx_open(struct ctx *c) {
  need_server();
  new_prefix(c->prefix);
  c->op = open_op(c->prefix, NULL, NULL);
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
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static unsigned char *gen(size_t len, uint64_t seed) {
  unsigned char *b = malloc(len ? len : 1);
  cr_assert(b);
  th_fill(b, len, seed, 0);
  return b;
}

static void expect_content(sluice_operator *op, const char *path, const void *buf, size_t len) {
  void *got;
  size_t n;
  TH_OK(sluice_read(op, path, 0, UINT64_MAX, &got, &n));
  cr_assert_eq(n, len, "%s: read %zu bytes, expected %zu", path, n, len);
  cr_assert(len == 0 || memcmp(got, buf, len) == 0, "%s: content differs", path);
  sluice_free(got);
}

static void expect_not_found(sluice_operator *op, const char *path) {
  sluice_metadata *m = (sluice_metadata *)1;
  TH_KIND(sluice_stat(op, path, &m), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(m);
}

static sluice_metadata *stat_ok(sluice_operator *op, const char *path) {
  sluice_metadata *m;
  TH_OK(sluice_stat(op, path, &m));
  return m;
}

/* The object's ETag ends in "-<parts>\"" (a multipart object). */
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

/* Every object under dir (recursive), sorted; returns how many. */
static size_t list_sorted(sluice_operator *op, const char *dir, char ***out) {
  sluice_options *o = th_opts("recursive", "true", NULL);
  sluice_lister *l;
  TH_OK(sluice_list(op, dir, o, &l));
  sluice_options_free(o);
  size_t n = 0, cap = 16;
  char **names = malloc(cap * sizeof *names);
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
    names[n++] = strdup(sluice_entry_path(e));
  }
  sluice_lister_free(l);
  for (size_t i = 1; i < n; i++)
    for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
      char *t = names[k];
      names[k] = names[k - 1];
      names[k - 1] = t;
    }
  *out = names;
  return n;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

static size_t count_under(sluice_operator *op, const char *dir) {
  char **names;
  size_t n = list_sorted(op, dir, &names);
  free_names(names, n);
  return n;
}

/* Multipart uploads in progress whose key starts with prefix (a raw
 * ListMultipartUploads, as test_s3.c's uploads_left). */
static size_t uploads_left(sluice_operator *op, const char *prefix) {
  sluice__s3 *s3 = op->svc;
  sluice__httpreq_req r = {.op = "ListMultipartUploads", .path = prefix, .method = "GET"};
  sluice__httpreq_query(&r, "uploads", "");
  sluice__httpreq_query(&r, "prefix", prefix);
  TH_OK(sluice__s3_perform(s3, &r));
  sluice__s3_uploads_page page = {0};
  TH_OK(sluice__s3_xml_list_uploads(r.resp.data ? r.resp.data : "", r.resp.len, &page));
  sluice__httpreq_req_cleanup(&r);
  cr_assert(!page.truncated);
  size_t n = 0;
  for (size_t i = 0; i < page.n; i++) {
    if (strncmp(page.uploads[i].key, prefix, strlen(prefix)) != 0) continue;
    cr_log_info("upload in progress: %s (%s)", page.uploads[i].key, page.uploads[i].upload_id);
    n++;
  }
  sluice__s3_uploads_page_clear(&page);
  return n;
}

/* Empty objects name_fmt % i for i in [from, to), on several threads, with
 * raw PutObject requests: a writer per object (threads, buffers) would
 * cost more than the requests under the sanitizers. */
struct put_range {
  sluice_operator *op;
  const char *root, *fmt;
  unsigned from, to;
};

static void *put_empties(void *arg) {
  struct put_range *pr = arg;
  for (unsigned i = pr->from; i < pr->to; i++) {
    char name[128], key[256];
    snprintf(name, sizeof name, pr->fmt, i);
    snprintf(key, sizeof key, "%s%s", pr->root, name);
    sluice__httpreq_req r = {.op = "PutObject",
                             .path = name,
                             .method = "PUT",
                             .key = key,
                             .body = (const unsigned char *)"",
                             .content_md5 = 1};
    sluice_error *err = sluice__s3_perform(pr->op->svc, &r);
    sluice__httpreq_req_cleanup(&r);
    if (err) return err;
  }
  return NULL;
}

static void put_many(sluice_operator *op, const char *root, const char *fmt, unsigned n) {
  enum { THREADS = 4 };
  pthread_t th[THREADS];
  struct put_range pr[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    pr[t] = (struct put_range){op, root, fmt, t * n / THREADS, (t + 1) * n / THREADS};
    cr_assert(pthread_create(&th[t], NULL, put_empties, &pr[t]) == 0);
  }
  for (unsigned t = 0; t < THREADS; t++) {
    void *err;
    pthread_join(th[t], &err);
    TH_OK((sluice_error *)err);
  }
}

/* ------------------------------------------------------------------ */
/* fault-proxy.py in front of the server (as in test_s3.c)             */
/* ------------------------------------------------------------------ */

static th_proxy PX;

static void proxy_stop(void) { th_proxy_stop(&PX); }

static void proxy_fini(void) { proxy_stop(); }

/* Starts the proxy with the given fault arguments (NULL-terminated). */
static void proxy_start(const char *const *fault_args) {
  const char *colon = strrchr(strstr(E.endpoint, "://") + 3, ':');
  cr_assert_not_null(colon, "SLUICE_S3_ENDPOINT %s has no port", E.endpoint);
  th_proxy_start(&PX, atoi(colon + 1), fault_args);
}

/* Lines of the proxy's log holding both needles (needle2 may be NULL). */
static int proxy_log_count(const char *needle, const char *needle2) {
  return th_proxy_log_count(&PX, needle, needle2);
}

static sluice_operator *proxied_op(const char *prefix, const char *max_attempts) {
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", PX.port);
  return open_op(prefix, ep, max_attempts);
}

/* ================================================================== */
/* delete_all                                                          */
/* ================================================================== */

/* A tree of 30 objects under d/ goes; "d" (no slash) and "dx/obj", which
 * share the prefix "d" but not "d/", stay. */
Test(s3_bulk, delete_all_removes_a_tree_and_nothing_else) {
  struct ctx c;
  ctx_open(&c);
  int n = 0;
  for (int i = 0; i < 10; i++) {
    char name[64];
    snprintf(name, sizeof name, "d/top-%d", i);
    TH_OK(sluice_write(c.op, name, name, strlen(name), NULL));
    snprintf(name, sizeof name, "d/sub/mid-%d", i);
    TH_OK(sluice_write(c.op, name, name, strlen(name), NULL));
    snprintf(name, sizeof name, "d/sub/deeper/x y+%d", i);
    TH_OK(sluice_write(c.op, name, "", 0, NULL));
    n += 3;
  }
  TH_OK(sluice_write(c.op, "d", "plain d", 7, NULL));
  TH_OK(sluice_write(c.op, "dx/obj", "sibling", 7, NULL));
  cr_assert_eq(count_under(c.op, "d/"), (size_t)n);

  TH_OK(sluice_delete_all(c.op, "d")); /* "d" means the directory "d/" */

  cr_assert_eq(count_under(c.op, "d/"), 0, "objects are left under d/");
  char **names;
  size_t left = list_sorted(c.op, "", &names);
  cr_assert_eq(left, 2, "expected d and dx/obj only, found %zu objects", left);
  cr_assert_str_eq(names[0], "d");
  cr_assert_str_eq(names[1], "dx/obj");
  free_names(names, left);
  expect_content(c.op, "d", "plain d", 7);
  expect_content(c.op, "dx/obj", "sibling", 7);
  /* Again, and with the slash: nothing left, still a success. */
  TH_OK(sluice_delete_all(c.op, "d/"));
  TH_OK(sluice_delete_all(c.op, "dx/"));
  left = list_sorted(c.op, "", &names);
  cr_assert_eq(left, 1);
  cr_assert_str_eq(names[0], "d");
  free_names(names, left);
  ctx_close(&c);
}

/* 2,100 keys: three DeleteObjects requests (1,000 + 1,000 + 100), counted
 * on a transparent proxy, and nothing left. */
Test(s3_bulk, delete_all_crosses_the_batch_boundary_twice, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  enum { N = 2100 };
  double t0 = now_s();
  put_many(c.op, c.prefix, "many/k%05u", N);
  TH_OK(sluice_write(c.op, "keep", "k", 1, NULL));
  cr_log_info("s3_bulk: %d empty PUTs in %.2f s", N, now_s() - t0);
  cr_assert_eq(count_under(c.op, "many/"), N);

  const char *args[] = {NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  t0 = now_s();
  TH_OK(sluice_delete_all(op, "many/"));
  cr_log_info("s3_bulk: delete_all of %d keys in %.2f s", N, now_s() - t0);
  sluice_operator_free(op);

  cr_assert_eq(proxy_log_count("request \"POST ", "?delete"), 3,
               "expected 3 DeleteObjects requests, the proxy saw %d",
               proxy_log_count("request \"POST ", "?delete"));
  cr_assert_eq(proxy_log_count("request \"DELETE ", NULL), 0, "keys were deleted one by one");
  cr_assert_eq(count_under(c.op, "many/"), 0, "objects are left under many/");
  expect_content(c.op, "keep", "k", 1);
  ctx_close(&c);
}

Test(s3_bulk, delete_all_of_a_missing_prefix_succeeds) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_delete_all(c.op, "never/was/here/"));
  TH_OK(sluice_delete_all(c.op, "nothing"));
  ctx_close(&c);
}

Test(s3_bulk, delete_all_refuses_the_root) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "survivor", "s", 1, NULL));
  TH_KIND(sluice_delete_all(c.op, ""), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_delete_all(c.op, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* "/" is the prefix of keys that start with '/', not the root. */
  TH_OK(sluice_write(c.op, "/under-slash", "u", 1, NULL));
  TH_OK(sluice_delete_all(c.op, "/"));
  sluice_metadata *m = NULL;
  TH_KIND(sluice_stat(c.op, "/under-slash", &m), SLUICE_ERR_NOT_FOUND);
  expect_content(c.op, "survivor", "s", 1);
  ctx_close(&c);
}

/* A store without DeleteObjects (501, injected by the proxy): the keys are
 * deleted one by one, and the operator remembers it (one 501 only). */
Test(s3_bulk, delete_all_falls_back_without_delete_objects, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "one/%d", i);
    TH_OK(sluice_write(c.op, name, "1", 1, NULL));
    snprintf(name, sizeof name, "two/%d", i);
    TH_OK(sluice_write(c.op, name, "2", 1, NULL));
  }
  const char *args[] = {"--http-status", "501", "--match", "^POST [^ ]*\\?delete", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  TH_OK(sluice_delete_all(op, "one/"));
  TH_OK(sluice_delete_all(op, "two/"));
  sluice_operator_free(op);
  cr_assert_eq(proxy_log_count("FAULT http-status 501", NULL), 1,
               "DeleteObjects was tried again after a 501");
  cr_assert_eq(proxy_log_count("request \"DELETE ", NULL), 10);
  cr_assert_eq(count_under(c.op, ""), 0);
  ctx_close(&c);
}

/* A DeleteObjects that keeps failing: the error is returned, not hidden. */
Test(s3_bulk, delete_all_reports_a_failing_delete, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "f/a", "a", 1, NULL));
  const char *args[] = {"--http-status", "403", "--match", "^POST [^ ]*\\?delete", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, "2");
  TH_KIND(sluice_delete_all(op, "f/"), SLUICE_ERR_PERMISSION_DENIED);
  sluice_operator_free(op);
  expect_content(c.op, "f/a", "a", 1);
  ctx_close(&c);
}

/* ================================================================== */
/* copy                                                                */
/* ================================================================== */

Test(s3_bulk, copy_is_server_side_and_exact, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  size_t len = 7 * MiB;
  unsigned char *buf = gen(len, 21);
  sluice_options *ct = th_opts("content_type", "application/x-sluice-src", NULL);
  TH_OK(sluice_write(c.op, "src.bin", buf, len, ct));
  sluice_options_free(ct);
  sluice_metadata *sm = stat_ok(c.op, "src.bin");

  const char *args[] = {NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  TH_OK(sluice_copy(op, "src.bin", "dir/copy.bin", NULL));
  sluice_operator_free(op);
  /* One CopyObject; no GET, no upload of the bytes. */
  cr_assert_eq(proxy_log_count("request \"PUT ", "copy.bin"), 1);
  cr_assert_eq(proxy_log_count("request \"GET ", NULL), 0, "the bytes went through the client");

  expect_content(c.op, "dir/copy.bin", buf, len);
  expect_content(c.op, "src.bin", buf, len);
  sluice_metadata *dm = stat_ok(c.op, "dir/copy.bin");
  cr_assert_eq(sluice_metadata_size(dm), len);
  cr_assert_not_null(sluice_metadata_etag(dm));
  cr_assert_str_eq(sluice_metadata_etag(dm), sluice_metadata_etag(sm));
  cr_assert_str_eq(sluice_metadata_content_type(dm), "application/x-sluice-src",
                   "the source's content type was not kept");
  sluice_metadata_free(dm);
  sluice_metadata_free(sm);
  free(buf);
  ctx_close(&c);
}

Test(s3_bulk, copy_with_content_type_replaces_it) {
  struct ctx c;
  ctx_open(&c);
  sluice_options *ct = th_opts("content_type", "text/plain", NULL);
  TH_OK(sluice_write(c.op, "typed.txt", "typed", 5, ct));
  sluice_options_free(ct);
  ct = th_opts("content_type", "text/x-sluice-copied", NULL);
  TH_OK(sluice_copy(c.op, "typed.txt", "retyped.txt", ct));
  sluice_metadata *m = stat_ok(c.op, "retyped.txt");
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/x-sluice-copied");
  sluice_metadata_free(m);
  expect_content(c.op, "retyped.txt", "typed", 5);
  m = stat_ok(c.op, "typed.txt");
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/plain", "the source changed");
  sluice_metadata_free(m);
  /* Onto itself: the content type changes, the bytes stay. */
  TH_OK(sluice_copy(c.op, "typed.txt", "typed.txt", ct));
  m = stat_ok(c.op, "typed.txt");
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/x-sluice-copied");
  sluice_metadata_free(m);
  expect_content(c.op, "typed.txt", "typed", 5);
  /* Onto itself with nothing to change: a success that changes nothing. */
  TH_OK(sluice_copy(c.op, "typed.txt", "typed.txt", NULL));
  expect_content(c.op, "typed.txt", "typed", 5);
  sluice_options_free(ct);
  /* A content type that would break the header block. */
  ct = th_opts("content_type", "text/plain\r\nx-amz-meta-evil: 1", NULL);
  TH_KIND(sluice_copy(c.op, "typed.txt", "evil.txt", ct), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(ct);
  expect_not_found(c.op, "evil.txt");
  /* The s3 writer's own metadata options are refused, not ignored. */
  ct = th_opts("cache_control", "no-cache", NULL);
  TH_KIND(sluice_copy(c.op, "typed.txt", "cc.txt", ct), SLUICE_ERR_UNSUPPORTED);
  sluice_options_free(ct);
  ct = th_opts("user_metadata", "a=b", NULL);
  TH_KIND(sluice_copy(c.op, "typed.txt", "cc.txt", ct), SLUICE_ERR_UNSUPPORTED);
  sluice_options_free(ct);
  expect_not_found(c.op, "cc.txt");
  /* And a typo is an error, as for a writer. */
  ct = th_opts("content_typo", "text/plain", NULL);
  TH_KIND(sluice_copy(c.op, "typed.txt", "cc.txt", ct), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(ct);
  ctx_close(&c);
}

Test(s3_bulk, copy_of_a_missing_source_is_not_found) {
  struct ctx c;
  ctx_open(&c);
  sluice_error *err = sluice_copy(c.op, "no-such-src", "dst", NULL);
  cr_assert_not_null(err);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_NOT_FOUND, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "no-such-src"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  expect_not_found(c.op, "dst");
  ctx_close(&c);
}

Test(s3_bulk, copy_if_not_exists) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "a", "from a", 6, NULL));
  TH_OK(sluice_write(c.op, "b", "old b", 5, NULL));
  sluice_options *o = th_opts("if_not_exists", "true", NULL);
  TH_KIND(sluice_copy(c.op, "a", "b", o), SLUICE_ERR_ALREADY_EXISTS);
  expect_content(c.op, "b", "old b", 5);
  TH_KIND(sluice_copy(c.op, "a", "a", o), SLUICE_ERR_ALREADY_EXISTS);
  /* A new destination: Swift refuses If-None-Match on CopyObject (501),
   * the copy falls back to a HEAD check. */
  TH_OK(sluice_copy(c.op, "a", "c", o));
  expect_content(c.op, "c", "from a", 6);
  TH_KIND(sluice_copy(c.op, "b", "c", o), SLUICE_ERR_ALREADY_EXISTS);
  expect_content(c.op, "c", "from a", 6);
  /* Without it, the copy replaces. */
  TH_OK(sluice_copy(c.op, "b", "c", NULL));
  expect_content(c.op, "c", "old b", 5);
  sluice_options_free(o);
  ctx_close(&c);
}

/* Keys with spaces, '+', '%', non-ASCII: x-amz-copy-source must be
 * URL-encoded (S3 requires it; Swift reads a raw one as Latin-1). */
Test(s3_bulk, copy_keys_with_special_characters) {
  struct ctx c;
  ctx_open(&c);
  static const char *const names[] = {"with space.txt", "plus+sign", "per%cent",
                                      "caf\xc3\xa9/\xe2\x82\xac", "q?a=b&c#d"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char dst[128];
    snprintf(dst, sizeof dst, "copies/%s", names[i]);
    TH_OK(sluice_write(c.op, names[i], names[i], strlen(names[i]), NULL));
    TH_OK(sluice_copy(c.op, names[i], dst, NULL));
    expect_content(c.op, dst, names[i], strlen(names[i]));
  }
  TH_OK(sluice_write(c.op, "empty", NULL, 0, NULL));
  TH_OK(sluice_copy(c.op, "empty", "empty-copy", NULL));
  expect_content(c.op, "empty-copy", "", 0);
  ctx_close(&c);
}

/* Above the (lowered) threshold: UploadPartCopy parts.  13 MiB in 5 MiB
 * parts is 3 parts; the copy is exact, keeps the content type and leaves no
 * upload behind. */
Test(s3_bulk, multipart_copy) {
  struct ctx c;
  ctx_open(&c);
  sluice__s3_set_copy_part_threshold(6 * MiB);
  size_t len = 13 * MiB;
  unsigned char *buf = gen(len, 23);
  sluice_options *ct = th_opts("content_type", "application/x-sluice-big", NULL);
  TH_OK(sluice_write(c.op, "big src", buf, len, ct));
  sluice_options_free(ct);
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_copy(c.op, "big src", "big copy", o));
  expect_content(c.op, "big copy", buf, len);
  expect_parts_etag(c.op, "big copy", 3);
  sluice_metadata *m = stat_ok(c.op, "big copy");
  cr_assert_eq(sluice_metadata_size(m), len);
  cr_assert_str_eq(sluice_metadata_content_type(m), "application/x-sluice-big");
  sluice_metadata_free(m);
  expect_content(c.op, "big src", buf, len);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0, "the copy left a multipart upload");
  sluice_options_free(o);

  /* One part at a time, a new content type, and if_not_exists (taken by
   * Swift on CompleteMultipartUpload). */
  o = th_opts("chunk", "5MiB", "concurrent", "1", "content_type", "text/x-parts", "if_not_exists",
              "true", NULL);
  TH_OK(sluice_copy(c.op, "big src", "big copy 2", o));
  expect_content(c.op, "big copy 2", buf, len);
  m = stat_ok(c.op, "big copy 2");
  cr_assert_str_eq(sluice_metadata_content_type(m), "text/x-parts");
  sluice_metadata_free(m);
  TH_KIND(sluice_copy(c.op, "big src", "big copy 2", o), SLUICE_ERR_ALREADY_EXISTS);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  sluice_options_free(o);

  /* The default chunk (8 MiB): 2 parts. */
  TH_OK(sluice_copy(c.op, "big src", "big copy 3", NULL));
  expect_parts_etag(c.op, "big copy 3", 2);
  expect_content(c.op, "big copy 3", buf, len);
  sluice__s3_set_copy_part_threshold(0);
  free(buf);
  ctx_close(&c);
}

/* A part that fails for good: the copy fails, the upload is aborted and
 * nothing appears at dst. */
Test(s3_bulk, multipart_copy_failure_aborts, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  sluice__s3_set_copy_part_threshold(6 * MiB);
  size_t len = 11 * MiB;
  unsigned char *buf = gen(len, 29);
  TH_OK(sluice_write(c.op, "src", buf, len, NULL));
  const char *args[] = {"--http-status", "500", "--match", "^PUT [^ ]*partNumber=2", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, "2");
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  sluice_error *err = sluice_copy(op, "src", "dst", o);
  sluice_options_free(o);
  sluice_operator_free(op);
  cr_assert_not_null(err, "the copy succeeded through a failing part");
  cr_log_info("expected failure: %s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "UploadPartCopy"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_geq(proxy_log_count("FAULT http-status 500", NULL), 2, "no retry of the part");
  cr_assert_eq(proxy_log_count("request \"DELETE ", "uploadId="), 1, "the upload was not aborted");
  expect_not_found(c.op, "dst");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  sluice__s3_set_copy_part_threshold(0);
  free(buf);
  ctx_close(&c);
}

/* The source is replaced while the copy runs (the proxy holds the copy
 * request back meanwhile): the copy fails with CONDITION_NOT_MATCH rather
 * than copy another version than the one it measured. */
struct replace_later {
  sluice_operator *op;
  const char *path;
  const void *buf;
  size_t len;
  unsigned after_ms;
  pthread_t th;
};

static void *replace_thread(void *arg) {
  struct replace_later *rl = arg;
  sleep_ms(rl->after_ms);
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  sluice_error *err = sluice_write(rl->op, rl->path, rl->buf, rl->len, o);
  sluice_options_free(o);
  return err;
}

static void replace_start(struct replace_later *rl) {
  cr_assert(pthread_create(&rl->th, NULL, replace_thread, rl) == 0);
}

static void replace_join(struct replace_later *rl) {
  void *err;
  pthread_join(rl->th, &err);
  TH_OK((sluice_error *)err);
}

Test(s3_bulk, copy_fails_when_the_source_changes, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "src", "version one", 11, NULL));
  const char *args[] = {"--delay-ms", "1500", "--match", "^PUT [^ ]*/dst ", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  struct replace_later rl = {
      .op = c.op, .path = "src", .buf = "version two!", .len = 12, .after_ms = 300};
  replace_start(&rl);
  sluice_error *err = sluice_copy(op, "src", "dst", NULL);
  replace_join(&rl);
  sluice_operator_free(op);
  cr_assert_not_null(err, "the copy did not notice that the source changed");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONDITION_NOT_MATCH, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_log_info("expected failure: %s", sluice_error_message(err));
  sluice_error_free(err);
  expect_not_found(c.op, "dst");
  ctx_close(&c);
}

/* The same for a multipart copy of a multipart source, where Swift cannot
 * match the source's ETag (the copy goes unpinned and checks the source
 * again before completing): the upload is aborted, nothing appears. */
Test(s3_bulk, multipart_copy_fails_when_the_source_changes, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  sluice__s3_set_copy_part_threshold(6 * MiB);
  size_t len = 11 * MiB;
  unsigned char *one = gen(len, 31), *two = gen(len, 32);
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_write(c.op, "src", one, len, o));
  /* One part at a time: part 1 finds the pin refused and drops it, parts 2
   * and 3 go unpinned, and the check before completing sees the change. */
  TH_OK(sluice_options_set(o, "concurrent", "1"));
  const char *args[] = {"--delay-ms", "1500", "--match", "^PUT [^ ]*partNumber=3", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  struct replace_later rl = {.op = c.op, .path = "src", .buf = two, .len = len, .after_ms = 200};
  replace_start(&rl);
  sluice_error *err = sluice_copy(op, "src", "dst", o);
  replace_join(&rl);
  sluice_operator_free(op);
  cr_assert_not_null(err, "the copy did not notice that the source changed");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONDITION_NOT_MATCH, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_log_info("expected failure: %s", sluice_error_message(err));
  cr_assert_null(strstr(sluice_error_message(err), "(part "), "a part failed: %s",
                 sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(proxy_log_count("request \"POST ", "uploadId="), 0, "the upload was completed");
  cr_assert_eq(proxy_log_count("request \"DELETE ", "uploadId="), 1, "the upload was not aborted");
  expect_not_found(c.op, "dst");
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  sluice__s3_set_copy_part_threshold(0);
  sluice_options_free(o);
  free(one);
  free(two);
  ctx_close(&c);
}

/* S3 may answer a copy with 200 and an <Error> in the body (the failure
 * happened after the headers were sent): the copy sees it and, for
 * InternalError, tries again. */
Test(s3_bulk, copy_sees_an_error_inside_a_200, .fini = proxy_fini) {
  struct ctx c;
  ctx_open(&c);
  TH_OK(sluice_write(c.op, "src", "small", 5, NULL));
  const char *args[] = {
      "--http-status",   "200", "--error-code", "InternalError", "--times", "1", "--match",
      "^PUT [^ ]*/dst ", NULL};
  proxy_start(args);
  sluice_operator *op = proxied_op(c.prefix, NULL);
  TH_OK(sluice_copy(op, "src", "dst", NULL));
  cr_assert_eq(proxy_log_count("FAULT http-status 200", NULL), 1);
  cr_assert_eq(proxy_log_count("request \"PUT ", "/dst "), 2, "the copy was not sent again");
  sluice_operator_free(op);
  expect_content(c.op, "dst", "small", 5);
  proxy_stop();

  /* For good: the error comes back, nothing is copied. */
  const char *always[] = {"--http-status",    "200", "--error-code", "AccessDenied", "--match",
                          "^PUT [^ ]*/dst2 ", NULL};
  proxy_start(always);
  op = proxied_op(c.prefix, NULL);
  TH_KIND(sluice_copy(op, "src", "dst2", NULL), SLUICE_ERR_PERMISSION_DENIED);
  sluice_operator_free(op);
  expect_not_found(c.op, "dst2");
  proxy_stop();

  /* The same inside an UploadPartCopy reply. */
  sluice__s3_set_copy_part_threshold(6 * MiB);
  size_t len = 11 * MiB;
  unsigned char *buf = gen(len, 33);
  TH_OK(sluice_write(c.op, "big", buf, len, NULL));
  const char *part[] = {
      "--http-status",          "200", "--error-code", "InternalError", "--times", "1", "--match",
      "^PUT [^ ]*partNumber=2", NULL};
  proxy_start(part);
  op = proxied_op(c.prefix, NULL);
  sluice_options *o = th_opts("chunk", "5MiB", NULL);
  TH_OK(sluice_copy(op, "big", "big copy", o));
  sluice_options_free(o);
  sluice_operator_free(op);
  cr_assert_eq(proxy_log_count("FAULT http-status 200", NULL), 1);
  expect_content(c.op, "big copy", buf, len);
  expect_parts_etag(c.op, "big copy", 3);
  cr_assert_eq(uploads_left(c.op, c.prefix), 0);
  sluice__s3_set_copy_part_threshold(0);
  free(buf);
  ctx_close(&c);
}
