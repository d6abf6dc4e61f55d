/* SPDX-License-Identifier: MIT */
/*
 * Bad input for every public function of sluice.h, with the error kind the
 * header promises, plus the idempotence of close/abort/free.
 *
 * The conventions block says: no function aborts on a NULL or malformed
 * argument (it returns INVALID_ARGUMENT), out-parameters are NULL/0 on
 * failure, and every *_free(NULL) is a no-op.  Out-parameters are primed
 * with a non-NULL sentinel before each failing call so the reset is
 * checked too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "helpers.h"
#include "size.h"
#include "sluice.h"

#define SENTINEL ((void *)(uintptr_t)0x1)

static char *root;          /* a fresh directory per test */
static sluice_operator *fs; /* fs operator on root */
static sluice_operator *mem;

static void setup(void) {
  root = th_tmpdir();
  fs = th_fs_op(root);
  mem = th_mem_op();
}

static void teardown(void) {
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  fs = mem = NULL;
  th_rmrf(root);
  free(root);
  root = NULL;
}

TestSuite(api_args, .init = setup, .fini = teardown, .timeout = 20);

/* Both services, for the checks that hold for each. */
#define FOR_EACH_OP(op)                                                                          \
  for (sluice_operator * ops_[] = {fs, mem, NULL}, **op##_p = ops_, *op; (op = *op##_p) != NULL; \
       op##_p++)

static void file_write(const char *rel, const void *buf, size_t len) {
  char *p = th_join(root, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
  cr_assert_eq(write(fd, buf, len), (ssize_t)len);
  close(fd);
  free(p);
}

/* The whole file at root/rel, or NULL when it does not exist. */
static unsigned char *file_read(const char *rel, size_t *len) {
  char *p = th_join(root, rel);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  free(p);
  if (fd < 0) return NULL;
  struct stat st;
  cr_assert(fstat(fd, &st) == 0);
  unsigned char *buf = malloc((size_t)st.st_size + 1);
  cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
  close(fd);
  *len = (size_t)st.st_size;
  return buf;
}

static int exists(const char *rel) {
  char *p = th_join(root, rel);
  struct stat st;
  int rc = lstat(p, &st);
  free(p);
  return rc == 0;
}

/* ------------------------------------------------------------------ */
/* Free functions and accessors on NULL                                */
/* ------------------------------------------------------------------ */

Test(api_args, free_null_is_harmless) {
  sluice_error_free(NULL);
  sluice_free(NULL);
  sluice_options_free(NULL);
  sluice_operator_free(NULL);
  sluice_metadata_free(NULL);
  sluice_lister_free(NULL);
  sluice_reader_free(NULL);
  sluice_writer_free(NULL);
  sluice_job_free(NULL);
  sluice_job_cancel(NULL);
}

Test(api_args, accessors_on_null) {
  cr_assert_eq(sluice_metadata_size(NULL), 0);
  cr_assert_eq(sluice_metadata_is_dir(NULL), 0);
  cr_assert_eq(sluice_metadata_mtime(NULL), -1);
  cr_assert_null(sluice_metadata_etag(NULL));
  cr_assert_null(sluice_metadata_content_type(NULL));
  cr_assert_null(sluice_entry_path(NULL));
  cr_assert_null(sluice_entry_metadata(NULL));
  cr_assert_null(sluice_operator_scheme(NULL));
  cr_assert_eq(sluice_reader_size(NULL), UINT64_MAX);
  cr_assert_str_eq(sluice_reader_verified(NULL), "none");
  cr_assert_str_eq(sluice_object_result_verified(NULL), "none");
  cr_assert_eq(sluice_metadata_user_count(NULL), 0);
  const char *name = "x", *value = "y";
  cr_assert_eq(sluice_metadata_user(NULL, 0, &name, &value), -1);
  cr_assert_null(name);
  cr_assert_null(value);
  TH_KIND(sluice_reader_seek(NULL, 0, SEEK_SET, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sluice_job_fd(NULL), -1);
  cr_assert_eq(sluice_job_done(NULL), 0);
  cr_assert_null(sluice_options_get(NULL, "x"));
}

/* ------------------------------------------------------------------ */
/* Operator                                                            */
/* ------------------------------------------------------------------ */

Test(api_args, operator_new_bad) {
  sluice_operator *op = SENTINEL;
  TH_KIND(sluice_operator_new(NULL, NULL, &op), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(op);
  TH_KIND(sluice_operator_new("memory", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  op = SENTINEL;
  TH_KIND(sluice_operator_new("s4", NULL, &op), SLUICE_ERR_UNSUPPORTED);
  cr_assert_null(op);
  TH_KIND(sluice_operator_new("", NULL, &op), SLUICE_ERR_UNSUPPORTED);
  TH_KIND(sluice_operator_new("FS", NULL, &op), SLUICE_ERR_UNSUPPORTED);
}

/* Returns the error of operator_new("fs") with root=value (NULL: no root). */
static sluice_error *fs_with_root(const char *value) {
  sluice_options *o = value ? th_opts("root", value, NULL) : sluice_options_new();
  sluice_operator *op = SENTINEL;
  sluice_error *err = sluice_operator_new("fs", o, &op);
  sluice_options_free(o);
  if (err)
    cr_assert_null(op, "operator_new failed but *out is not NULL");
  else
    sluice_operator_free(op);
  return err;
}

static void expect_config_naming_root(sluice_error *err, const char *what) {
  cr_assert_not_null(err, "%s: accepted", what);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONFIG_INVALID, "%s: [%s] %s", what,
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "root") != NULL, "%s: message does not name root: %s",
            what, sluice_error_message(err));
  sluice_error_free(err);
}

Test(api_args, fs_root_required_existing_directory) {
  sluice_operator *op = SENTINEL;
  TH_KIND(sluice_operator_new("fs", NULL, &op), SLUICE_ERR_CONFIG_INVALID);
  cr_assert_null(op);
  expect_config_naming_root(fs_with_root(NULL), "no root");
  expect_config_naming_root(fs_with_root(""), "empty root");
  char *missing = th_join(root, "does-not-exist");
  expect_config_naming_root(fs_with_root(missing), "missing root");
  free(missing);
  file_write("plain-file", "x", 1);
  char *file = th_join(root, "plain-file");
  expect_config_naming_root(fs_with_root(file), "root is a file");
  free(file);
  /* A bad fsync value is a bad configuration too. */
  sluice_options *o = th_opts("root", root, "fsync", "maybe", NULL);
  sluice_error *err = sluice_operator_new("fs", o, &op);
  cr_assert_null(op);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CONFIG_INVALID, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "fsync") != NULL, "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_options_free(o);
  /* And the good case, so the helper is known to succeed at all. */
  TH_OK(fs_with_root(root));
}

Test(api_args, operator_scheme) {
  cr_assert_str_eq(sluice_operator_scheme(fs), "fs");
  cr_assert_str_eq(sluice_operator_scheme(mem), "memory");
}

/* from_uri into a fresh operator; checks the scheme and path. */
static void uri_ok(const char *uri, const char *scheme, const char *path) {
  sluice_operator *op = SENTINEL;
  char *p = SENTINEL;
  TH_OK(sluice_operator_from_uri(uri, NULL, &op, &p));
  cr_assert_not_null(op);
  cr_assert_not_null(p);
  cr_assert_str_eq(sluice_operator_scheme(op), scheme, "%s", uri);
  cr_assert_str_eq(p, path, "%s: path '%s', expected '%s'", uri, p, path);
  sluice_free(p);
  sluice_operator_free(op);
}

static void uri_bad(const char *uri, sluice_errkind kind) {
  sluice_operator *op = SENTINEL;
  char *p = SENTINEL;
  sluice_error *err = sluice_operator_from_uri(uri, NULL, &op, &p);
  cr_assert_not_null(err, "from_uri('%s') succeeded", uri);
  cr_assert_eq(sluice_error_kind(err), kind, "from_uri('%s'): expected %s, got [%s] %s", uri,
               sluice_strerror(kind), sluice_strerror(sluice_error_kind(err)),
               sluice_error_message(err));
  cr_assert_null(op, "from_uri('%s') failed but *out is set", uri);
  cr_assert_null(p, "from_uri('%s') failed but *path_out is set", uri);
  sluice_error_free(err);
}

Test(api_args, operator_from_uri) {
  /* A local path is relative to the fs root "/", cleaned as POSIX reads it. */
  uri_ok("/tmp/x", "fs", "tmp/x");
  uri_ok("file:///tmp/x", "fs", "tmp/x");
  uri_ok("fs:///tmp/x", "fs", "tmp/x");
  uri_ok("/tmp//x/./y", "fs", "tmp/x/y");
  uri_ok("/tmp/x/.", "fs", "tmp/x/");
  uri_ok("/", "fs", "");
  uri_ok("mem://a/b", "memory", "a/b");
  uri_ok("memory://a/b", "memory", "a/b");
  /* A key is kept byte for byte. */
  uri_ok("mem://a//b/./c/../d", "memory", "a//b/./c/../d");
  uri_ok("mem:///abs", "memory", "/abs");
  uri_bad("s4://x", SLUICE_ERR_UNSUPPORTED);
  uri_bad("ftp://host/x", SLUICE_ERR_UNSUPPORTED);
  uri_bad("relative/path", SLUICE_ERR_INVALID_ARGUMENT);
  uri_bad("", SLUICE_ERR_INVALID_ARGUMENT);
  uri_bad("file://relative/x", SLUICE_ERR_INVALID_ARGUMENT);
  uri_bad(NULL, SLUICE_ERR_INVALID_ARGUMENT);
  /* A bucket no S3 accepts is a malformed URI, as sluice(1) documents it
   * (exit status 2); given as an option, the same name is bad config. */
  uri_bad("s3://bad bucket/key", SLUICE_ERR_INVALID_ARGUMENT);
  uri_bad("s3://a!b/key", SLUICE_ERR_INVALID_ARGUMENT);
  uri_bad("s3:///key", SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options *bo = th_opts("bucket", "a!b", "region", "us-east-1", NULL);
  sluice_operator *bop = SENTINEL;
  TH_KIND(sluice_operator_new("s3", bo, &bop), SLUICE_ERR_CONFIG_INVALID);
  cr_assert_null(bop);
  sluice_options_free(bo);
  sluice_operator *op = SENTINEL;
  char *p = SENTINEL;
  TH_KIND(sluice_operator_from_uri("/tmp/x", NULL, NULL, &p), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(p);
  TH_KIND(sluice_operator_from_uri("/tmp/x", NULL, &op, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(op);
  /* Unknown options are still refused through a URI. */
  sluice_options *o = th_opts("nonsense", "1", NULL);
  op = SENTINEL;
  p = SENTINEL;
  TH_KIND(sluice_operator_from_uri("/tmp/x", o, &op, &p), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(op);
  cr_assert_null(p);
  sluice_options_free(o);
}

/* Methods are taken in any case ("get" as HTTP code often writes it), and
 * the URL is signed for the upper-case name a client sends. */
Test(api_args, presign_method_any_case) {
  sluice_options *o =
      th_opts("bucket", "b", "region", "us-east-1", "endpoint", "http://127.0.0.1:9",
              "access_key_id", "AK", "secret_access_key", "SK", NULL);
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  const char *ok[] = {"get", "Get", "put", "head", "Delete"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char *url = NULL;
    TH_OK(sluice_presign(op, ok[i], "k", 60, &url));
    cr_expect(strstr(url, "X-Amz-Signature=") != NULL, "%s: %s", ok[i], url);
    sluice_free(url);
  }
  char *url = SENTINEL;
  TH_KIND(sluice_presign(op, "post", "k", 60, &url), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(url);
  TH_KIND(sluice_presign(op, "gets", "k", 60, &url), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_operator_free(op);
}

/* The path from_uri returns names the file the URI names. */
Test(api_args, operator_from_uri_roundtrip) {
  char *uri;
  cr_assert(asprintf(&uri, "file://%s/sub/obj.bin", root) > 0);
  sluice_operator *op;
  char *p;
  TH_OK(sluice_operator_from_uri(uri, NULL, &op, &p));
  TH_OK(sluice_write(op, p, "uri-bytes", 9, NULL));
  sluice_free(p);
  sluice_operator_free(op);
  free(uri);
  size_t len;
  unsigned char *got = file_read("sub/obj.bin", &len);
  cr_assert_not_null(got, "from_uri path did not land at root/sub/obj.bin");
  cr_assert_eq(len, 9);
  cr_assert(memcmp(got, "uri-bytes", 9) == 0);
  free(got);
}

/* ------------------------------------------------------------------ */
/* Paths: NULL, empty, "..", directories                               */
/* ------------------------------------------------------------------ */

static const char *const dotdot[] = {"..",           "../x",  "a/../b", "a/..", "/../etc/passwd",
                                     "a/b/../../..", "./../x"};
#define NDOTDOT (sizeof(dotdot) / sizeof(dotdot[0]))

/* fs maps paths onto files beneath its root: ".." is refused by every call,
 * and nothing is created anywhere, in particular not beside root. */
Test(api_args, dotdot_refused_on_fs) {
  sluice_operator *op = fs;
  for (size_t i = 0; i < NDOTDOT; i++) {
    const char *p = dotdot[i];
    sluice_metadata *m = SENTINEL;
    TH_KIND(sluice_stat(op, p, &m), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(m);
    void *buf = SENTINEL;
    size_t len = 5;
    TH_KIND(sluice_read(op, p, 0, UINT64_MAX, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(buf);
    cr_assert_eq(len, 0);
    TH_KIND(sluice_write(op, p, "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_delete(op, p), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_reader *r = SENTINEL;
    TH_KIND(sluice_reader_open(op, p, NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(r);
    sluice_writer *w = SENTINEL;
    TH_KIND(sluice_writer_open(op, p, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(w);
    char dir[64];
    snprintf(dir, sizeof dir, "%s/", p);
    sluice_lister *l = SENTINEL;
    TH_KIND(sluice_list(op, dir, NULL, &l), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(l);
    TH_KIND(sluice_create_dir(fs, dir), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_delete_all(fs, dir), SLUICE_ERR_INVALID_ARGUMENT);
  }
  cr_assert_eq(th_count_files(root), 0);
}

/* On an object store ".." is part of a key like any other byte: stored
 * and read back under exactly that key, never resolved onto another. */
Test(api_args, dotdot_is_a_key_on_memory) {
  for (size_t i = 0; i < NDOTDOT; i++) {
    const char *p = dotdot[i];
    TH_OK(sluice_write(mem, p, p, strlen(p), NULL));
  }
  for (size_t i = 0; i < NDOTDOT; i++) {
    const char *p = dotdot[i];
    void *buf = NULL;
    size_t len = 0;
    TH_OK(sluice_read(mem, p, 0, UINT64_MAX, &buf, &len));
    cr_assert(len == strlen(p) && memcmp(buf, p, len) == 0, "key '%s' read back other bytes", p);
    sluice_free(buf);
  }
  sluice_metadata *m = SENTINEL;
  TH_KIND(sluice_stat(mem, "b", &m), SLUICE_ERR_NOT_FOUND); /* not "a/../b" resolved */
  TH_KIND(sluice_stat(mem, "x", &m), SLUICE_ERR_NOT_FOUND); /* nor "../x" */
  for (size_t i = 0; i < NDOTDOT; i++) TH_OK(sluice_delete(mem, dotdot[i]));
}

Test(api_args, null_and_empty_paths) {
  FOR_EACH_OP(op) {
    sluice_metadata *m = SENTINEL;
    TH_KIND(sluice_stat(op, NULL, &m), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(m);
    void *buf = SENTINEL;
    size_t len = 3;
    TH_KIND(sluice_read(op, NULL, 0, 1, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(buf);
    cr_assert_eq(len, 0);
    TH_KIND(sluice_read(op, "", 0, 1, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_write(op, NULL, "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_write(op, "", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_delete(op, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_lister *l = SENTINEL;
    TH_KIND(sluice_list(op, NULL, NULL, &l), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(l);
    sluice_reader *r = SENTINEL;
    TH_KIND(sluice_reader_open(op, NULL, NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(r);
    TH_KIND(sluice_reader_open(op, "", NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_writer *w = SENTINEL;
    TH_KIND(sluice_writer_open(op, NULL, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(w);
    TH_KIND(sluice_writer_open(op, "", NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(w);
    /* Control characters are refused, not stored. */
    TH_KIND(sluice_write(op, "bad\nname", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_write(op, "bad\x01name", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  }
  TH_KIND(sluice_create_dir(fs, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* An over-long path (more than 4096 bytes) is refused cleanly. */
  char *longp = malloc(5000);
  memset(longp, 'a', 4999);
  longp[4999] = '\0';
  FOR_EACH_OP(op) TH_KIND(sluice_write(op, longp, "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  free(longp);
  cr_assert_eq(th_count_files(root), 0);
}

Test(api_args, trailing_slash_is_a_directory) {
  FOR_EACH_OP(op) {
    static const char *const dirs[] = {"/", "dir/", "a/b/", "x/./"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
      sluice_reader *r = SENTINEL;
      TH_KIND(sluice_reader_open(op, dirs[i], NULL, &r), SLUICE_ERR_IS_A_DIRECTORY);
      cr_assert_null(r);
      sluice_writer *w = SENTINEL;
      TH_KIND(sluice_writer_open(op, dirs[i], NULL, &w), SLUICE_ERR_IS_A_DIRECTORY);
      cr_assert_null(w);
      void *buf = SENTINEL;
      size_t len = 1;
      TH_KIND(sluice_read(op, dirs[i], 0, UINT64_MAX, &buf, &len), SLUICE_ERR_IS_A_DIRECTORY);
      cr_assert_null(buf);
      TH_KIND(sluice_write(op, dirs[i], "x", 1, NULL), SLUICE_ERR_IS_A_DIRECTORY);
    }
  }
  /* Without the trailing '/', "x/." is a key of its own on an object
   * store, and names no file on fs. */
  TH_OK(sluice_write(mem, "x/.", "x", 1, NULL));
  TH_KIND(sluice_write(fs, "x/.", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(th_count_files(root), 0);
}

/* ------------------------------------------------------------------ */
/* One-shot calls                                                      */
/* ------------------------------------------------------------------ */

Test(api_args, stat_bad) {
  sluice_metadata *m = SENTINEL;
  TH_KIND(sluice_stat(NULL, "x", &m), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(m);
  FOR_EACH_OP(op) {
    TH_KIND(sluice_stat(op, "x", NULL), SLUICE_ERR_INVALID_ARGUMENT);
    m = SENTINEL;
    TH_KIND(sluice_stat(op, "missing", &m), SLUICE_ERR_NOT_FOUND);
    cr_assert_null(m);
    TH_KIND(sluice_stat(op, "missing/deeper", &m), SLUICE_ERR_NOT_FOUND);
    TH_KIND(sluice_stat(op, "missing-dir/", &m), SLUICE_ERR_NOT_FOUND);
  }
}

Test(api_args, read_bad) {
  void *buf = SENTINEL;
  size_t len = 9;
  TH_KIND(sluice_read(NULL, "x", 0, 1, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(buf);
  cr_assert_eq(len, 0);
  FOR_EACH_OP(op) {
    TH_OK(sluice_write(op, "obj", "0123456789", 10, NULL));
    TH_KIND(sluice_read(op, "obj", 0, 1, NULL, &len), SLUICE_ERR_INVALID_ARGUMENT);
    buf = SENTINEL;
    TH_KIND(sluice_read(op, "obj", 0, 1, &buf, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(buf);
    len = 9;
    buf = SENTINEL;
    TH_KIND(sluice_read(op, "missing", 0, UINT64_MAX, &buf, &len), SLUICE_ERR_NOT_FOUND);
    cr_assert_null(buf);
    cr_assert_eq(len, 0);
    TH_KIND(sluice_read(op, "obj", 11, 1, &buf, &len), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
    TH_KIND(sluice_read(op, "obj", UINT64_MAX, 1, &buf, &len), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
    cr_assert_null(buf);
    cr_assert_eq(len, 0);
    /* A file where a directory is expected is "not found" beneath it. */
    TH_KIND(sluice_read(op, "obj/inner", 0, UINT64_MAX, &buf, &len), SLUICE_ERR_NOT_FOUND);
  }
}

Test(api_args, reader_range_past_end) {
  FOR_EACH_OP(op) {
    TH_OK(sluice_write(op, "obj", "0123456789", 10, NULL));
    sluice_options *o = th_opts("offset", "11", NULL);
    sluice_reader *r = SENTINEL;
    TH_KIND(sluice_reader_open(op, "obj", o, &r), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
    cr_assert_null(r);
    sluice_options_free(o);
    o = th_opts("offset", "1G", NULL);
    TH_KIND(sluice_reader_open(op, "obj", o, &r), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
    sluice_options_free(o);
    o = th_opts("offset", "ten", NULL);
    TH_KIND(sluice_reader_open(op, "obj", o, &r), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_options_free(o);
    o = th_opts("length", "-3", NULL);
    TH_KIND(sluice_reader_open(op, "obj", o, &r), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(r);
    sluice_options_free(o);
  }
}

Test(api_args, write_bad) {
  TH_KIND(sluice_write(NULL, "x", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  FOR_EACH_OP(op) {
    TH_KIND(sluice_write(op, "x", NULL, 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_metadata *m;
    TH_KIND(sluice_stat(op, "x", &m), SLUICE_ERR_NOT_FOUND);
  }
  cr_assert_eq(th_count_files(root), 0);
}

Test(api_args, write_onto_existing_directory) {
  char *adir = th_join(root, "adir");
  cr_assert(mkdir(adir, 0755) == 0);
  free(adir);
  file_write("adir_keep", "k", 1);
  char *inner = th_join(root, "adir/inside");
  th_make_file(inner, 10, 1);
  free(inner);
  TH_KIND(sluice_write(fs, "adir", "x", 1, NULL), SLUICE_ERR_IS_A_DIRECTORY);
  sluice_writer *w = SENTINEL;
  TH_KIND(sluice_writer_open(fs, "adir", NULL, &w), SLUICE_ERR_IS_A_DIRECTORY);
  cr_assert_null(w);
  /* The directory and its content are intact, and no temp file is left. */
  sluice_metadata *m;
  TH_OK(sluice_stat(fs, "adir/", &m));
  cr_assert(sluice_metadata_is_dir(m));
  sluice_metadata_free(m);
  cr_assert_eq(th_count_files(root), 2);
}

Test(api_args, write_creates_missing_parents) {
  unsigned char data[3000];
  th_fill(data, sizeof data, 42, 0);
  TH_OK(sluice_write(fs, "new/deeper/still/obj.bin", data, sizeof data, NULL));
  size_t len;
  unsigned char *got = file_read("new/deeper/still/obj.bin", &len);
  cr_assert_not_null(got, "the object is not at root/new/deeper/still/obj.bin");
  cr_assert_eq(len, sizeof data);
  cr_assert(memcmp(got, data, len) == 0);
  free(got);
  cr_assert_eq(th_count_files(root), 1);
}

Test(api_args, write_under_a_file_fails) {
  file_write("plain", "p", 1);
  sluice_error *err = sluice_write(fs, "plain/obj", "x", 1, NULL);
  cr_assert_not_null(err, "wrote beneath a regular file");
  sluice_error_free(err);
  size_t len;
  unsigned char *got = file_read("plain", &len);
  cr_assert_not_null(got);
  cr_assert_eq(len, 1);
  free(got);
  cr_assert_eq(th_count_files(root), 1);
}

/* What sluice_write / sluice_read / sluice_reader_open give, possibly
 * with root's privileges dropped.  Returns 0 when each is "permission
 * denied", 77 when the operator cannot even be opened, else 100 + the
 * first unexpected kind. */
static int perm_check(void) {
  sluice_options *o = sluice_options_new();
  if (!o || sluice_options_set(o, "root", root)) return 77;
  sluice_operator *op;
  sluice_error *err = sluice_operator_new("fs", o, &op);
  sluice_options_free(o);
  if (err) {
    sluice_error_free(err);
    return 77;
  }
  int rc = 0;
  err = sluice_write(op, "ro/new.bin", "x", 1, NULL);
  if (sluice_error_kind(err) != SLUICE_ERR_PERMISSION_DENIED) {
    fprintf(stderr, "write into a 0500 dir: [%s] %s\n", sluice_strerror(sluice_error_kind(err)),
            sluice_error_message(err));
    rc = 100 + (int)sluice_error_kind(err);
  }
  sluice_error_free(err);
  void *buf = NULL;
  size_t len;
  err = sluice_read(op, "secret", 0, UINT64_MAX, &buf, &len);
  if (!rc && sluice_error_kind(err) != SLUICE_ERR_PERMISSION_DENIED) {
    fprintf(stderr, "read of a 0000 file: [%s] %s\n", sluice_strerror(sluice_error_kind(err)),
            sluice_error_message(err));
    rc = 100 + (int)sluice_error_kind(err);
  }
  sluice_free(buf);
  sluice_error_free(err);
  sluice_reader *r = NULL;
  err = sluice_reader_open(op, "secret", NULL, &r);
  if (!rc && sluice_error_kind(err) != SLUICE_ERR_PERMISSION_DENIED) {
    fprintf(stderr, "reader_open of a 0000 file: [%s] %s\n",
            sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    rc = 100 + (int)sluice_error_kind(err);
  }
  sluice_reader_free(r);
  sluice_error_free(err);
  sluice_operator_free(op);
  return rc;
}

Test(api_args, permission_denied) {
  char ro[4096], secret[4096];
  snprintf(ro, sizeof ro, "%s/ro", root);
  snprintf(secret, sizeof secret, "%s/secret", root);
  cr_assert(mkdir(ro, 0755) == 0);
  file_write("secret", "s3cr3t", 6);
  cr_assert(chmod(secret, 0000) == 0);
  cr_assert(chmod(ro, 0500) == 0);
  int rc;
  if (geteuid() != 0) {
    rc = perm_check();
  } else {
    /* Root bypasses permission bits.  Switch this thread's effective uid
     * to nobody with the raw syscall (glibc's wrapper would switch every
     * thread; the kernel's call is per thread), keeping saved uid 0 so it
     * can come back: with a non-zero euid the effective capabilities are
     * dropped, so the same checks apply as for an ordinary user.  Threads
     * the library starts meanwhile inherit it.  The tree must belong to
     * nobody (and root's parents be traversable). */
    const uid_t nobody = 65534;
    cr_assert(chown(root, nobody, nobody) == 0);
    cr_assert(chown(ro, nobody, nobody) == 0);
    cr_assert(chown(secret, nobody, nobody) == 0);
    if (syscall(SYS_setresuid, (uid_t)-1, nobody, (uid_t)-1) != 0) {
      chmod(ro, 0700);
      cr_skip_test(
          "running as root and cannot switch to uid %d (%s), so no permission "
          "check can be provoked",
          (int)nobody, strerror(errno));
    }
    rc = perm_check();
    int back = (int)syscall(SYS_setresuid, (uid_t)-1, (uid_t)0, (uid_t)-1);
    cr_assert_eq(back, 0, "cannot switch back to root: %s", strerror(errno));
    cr_assert_eq(geteuid(), 0);
    if (rc == 77) {
      chmod(ro, 0700);
      cr_skip_test(
          "running as root, and as uid %d %s is not reachable, so no permission check "
          "can be provoked",
          (int)nobody, root);
    }
  }
  chmod(ro, 0700);
  cr_assert_neq(rc, 77, "cannot open an fs operator on %s", root);
  cr_assert_eq(rc, 0, "expected permission denied, got [%s] (see stderr)",
               sluice_strerror((sluice_errkind)(rc - 100)));
  cr_assert(!exists("ro/new.bin"));
}

Test(api_args, delete_bad) {
  TH_KIND(sluice_delete(NULL, "x"), SLUICE_ERR_INVALID_ARGUMENT);
  file_write("keep", "k", 1);
  /* The root is "" only: on fs "/", "//" and "./" name no file; on an
   * object store they are prefixes of their own (memory: nothing to
   * delete). */
  TH_KIND(sluice_delete(fs, "/"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_delete(fs, "//"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_delete(fs, "./"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_delete(mem, "/"));
  FOR_EACH_OP(op) {
    TH_KIND(sluice_delete(op, ""), SLUICE_ERR_INVALID_ARGUMENT);
    /* Deleting what does not exist succeeds. */
    TH_OK(sluice_delete(op, "missing"));
    TH_OK(sluice_delete(op, "missing-dir/missing"));
  }
  /* The root and its content are still there. */
  cr_assert(exists("keep"));
}

Test(api_args, rename_bad) {
  TH_KIND(sluice_rename(NULL, "a", "b"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_rename(mem, NULL, "b"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_rename(mem, "a", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_create_dir(fs, "d/"));
  TH_KIND(sluice_rename(fs, "d", "e"), SLUICE_ERR_IS_A_DIRECTORY);
  TH_KIND(sluice_rename(fs, "../x", "e"), SLUICE_ERR_INVALID_ARGUMENT);
}

Test(api_args, create_dir_bad) {
  TH_KIND(sluice_create_dir(NULL, "d/"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_create_dir(mem, "d/"), SLUICE_ERR_UNSUPPORTED);
  TH_KIND(sluice_create_dir(mem, "d"), SLUICE_ERR_UNSUPPORTED);
  TH_KIND(sluice_create_dir(fs, "d"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_create_dir(fs, "a/b"), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert(!exists("d"));
  cr_assert(!exists("a"));
  /* The root itself exists already: creating it is a no-op success.  "/"
   * is no path beneath the root. */
  TH_OK(sluice_create_dir(fs, ""));
  TH_KIND(sluice_create_dir(fs, "/"), SLUICE_ERR_INVALID_ARGUMENT);
}

Test(api_args, content_type_on_fs_unsupported) {
  sluice_options *o = th_opts("content_type", "text/plain", NULL);
  sluice_writer *w = SENTINEL;
  TH_KIND(sluice_writer_open(fs, "obj", o, &w), SLUICE_ERR_UNSUPPORTED);
  cr_assert_null(w);
  TH_KIND(sluice_write(fs, "obj", "x", 1, o), SLUICE_ERR_UNSUPPORTED);
  cr_assert_eq(th_count_files(root), 0);
  /* The memory service stores it. */
  TH_OK(sluice_write(mem, "obj", "x", 1, o));
  sluice_options_free(o);
}

Test(api_args, list_bad) {
  sluice_lister *l = SENTINEL;
  TH_KIND(sluice_list(NULL, "", NULL, &l), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(l);
  FOR_EACH_OP(op) {
    TH_KIND(sluice_list(op, "", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_OK(sluice_write(op, "f", "x", 1, NULL));
    /* A directory path must end in '/'. */
    l = SENTINEL;
    TH_KIND(sluice_list(op, "f", NULL, &l), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(l);
  }
  l = SENTINEL;
  TH_KIND(sluice_list(fs, "missing/", NULL, &l), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(l);
  const sluice_entry *e = SENTINEL;
  TH_KIND(sluice_lister_next(NULL, &e), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(e);
  TH_OK(sluice_list(mem, "", NULL, &l));
  TH_KIND(sluice_lister_next(l, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* The lister still works after the bad call. */
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_not_null(e);
  cr_assert_str_eq(sluice_entry_path(e), "f");
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_null(e);
  /* Past the end it stays at the end. */
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_null(e);
  sluice_lister_free(l);
}

Test(api_args, uploads_bad) {
  sluice_upload_lister *l = SENTINEL;
  TH_KIND(sluice_uploads_list(NULL, "", &l), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(l);
  FOR_EACH_OP(op) {
    l = SENTINEL;
    TH_KIND(sluice_uploads_list(op, NULL, &l), SLUICE_ERR_INVALID_ARGUMENT);
    cr_assert_null(l);
    TH_KIND(sluice_uploads_list(op, "", NULL), SLUICE_ERR_INVALID_ARGUMENT);
    /* fs and memory have no multipart uploads. */
    l = SENTINEL;
    TH_KIND(sluice_uploads_list(op, "", &l), SLUICE_ERR_UNSUPPORTED);
    cr_assert_null(l);
    TH_KIND(sluice_upload_abort(op, "f", "id"), SLUICE_ERR_UNSUPPORTED);
    TH_KIND(sluice_upload_abort(op, NULL, "id"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_upload_abort(op, "f", NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(sluice_upload_abort(op, "f", ""), SLUICE_ERR_INVALID_ARGUMENT);
  }
  TH_KIND(sluice_upload_abort(NULL, "f", "id"), SLUICE_ERR_INVALID_ARGUMENT);
  const sluice_upload *u = SENTINEL;
  TH_KIND(sluice_upload_lister_next(NULL, &u), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(u);
  cr_assert_null(sluice_upload_path(NULL));
  cr_assert_null(sluice_upload_id(NULL));
  cr_assert_eq(sluice_upload_initiated(NULL), -1);
  sluice_upload_lister_free(NULL);
}

/* ------------------------------------------------------------------ */
/* Readers                                                             */
/* ------------------------------------------------------------------ */

Test(api_args, reader_bad) {
  sluice_reader *r = SENTINEL;
  TH_KIND(sluice_reader_open(NULL, "x", NULL, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  FOR_EACH_OP(op) {
    TH_KIND(sluice_reader_open(op, "x", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    r = SENTINEL;
    TH_KIND(sluice_reader_open(op, "missing", NULL, &r), SLUICE_ERR_NOT_FOUND);
    cr_assert_null(r);
  }
  size_t n = 5;
  char buf[4];
  TH_KIND(sluice_reader_read(NULL, buf, sizeof buf, &n), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(n, 0);
  TH_OK(sluice_write(mem, "obj", "abc", 3, NULL));
  TH_OK(sluice_reader_open(mem, "obj", NULL, &r));
  TH_KIND(sluice_reader_read(r, NULL, 4, &n), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_reader_read(r, buf, sizeof buf, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* The bad calls consumed nothing. */
  TH_OK(sluice_reader_read(r, buf, sizeof buf, &n));
  cr_assert_eq(n, 3);
  cr_assert(memcmp(buf, "abc", 3) == 0);
  TH_OK(sluice_reader_read(r, buf, sizeof buf, &n));
  cr_assert_eq(n, 0);
  sluice_reader_free(r);
}

Test(api_args, reader_from_fd_bad) {
  sluice_reader *r = SENTINEL;
  TH_KIND(sluice_reader_from_fd(-1, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  r = SENTINEL;
  TH_KIND(sluice_reader_from_fd(-42, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  int fds[2];
  cr_assert(pipe(fds) == 0);
  TH_KIND(sluice_reader_from_fd(fds[0], NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* A closed descriptor. */
  int closed = dup(fds[0]);
  close(closed);
  r = SENTINEL;
  TH_KIND(sluice_reader_from_fd(closed, &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  /* The write end cannot be read. */
  r = SENTINEL;
  TH_KIND(sluice_reader_from_fd(fds[1], &r), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(r);
  /* The good case: size unknown, and the fd stays open after the free. */
  TH_OK(sluice_reader_from_fd(fds[0], &r));
  cr_assert_eq(sluice_reader_size(r), UINT64_MAX);
  /* A stream cannot seek, not even to where it is. */
  TH_KIND(sluice_reader_seek(r, 0, SEEK_CUR, NULL), SLUICE_ERR_UNSUPPORTED);
  TH_KIND(sluice_reader_seek(r, 0, SEEK_SET, NULL), SLUICE_ERR_UNSUPPORTED);
  cr_assert_eq(write(fds[1], "pipe", 4), 4);
  close(fds[1]);
  char buf[8];
  size_t n, total = 0;
  do {
    TH_OK(sluice_reader_read(r, buf + total, sizeof buf - total, &n));
    total += n;
  } while (n);
  cr_assert_eq(total, 4);
  cr_assert(memcmp(buf, "pipe", 4) == 0);
  sluice_reader_free(r);
  cr_assert(fcntl(fds[0], F_GETFD) >= 0, "sluice_reader_free closed the caller's fd");
  close(fds[0]);
}

/* ------------------------------------------------------------------ */
/* Writers                                                             */
/* ------------------------------------------------------------------ */

/* writer_open on mem with one option; returns the error. */
static sluice_error *open_with(sluice_operator *op, const char *name, const char *value) {
  sluice_options *o = th_opts(name, value, NULL);
  sluice_writer *w = SENTINEL;
  sluice_error *err = sluice_writer_open(op, "obj", o, &w);
  sluice_options_free(o);
  if (err)
    cr_assert_null(w, "writer_open(%s=%s) failed but *out is set", name, value);
  else
    sluice_writer_free(w);
  return err;
}

Test(api_args, writer_open_bad) {
  sluice_writer *w = SENTINEL;
  TH_KIND(sluice_writer_open(NULL, "x", NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  FOR_EACH_OP(op) {
    TH_KIND(sluice_writer_open(op, "x", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "chunk", "0"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "chunk", "6GiB"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "chunk", "1"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "concurrent", "0"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "concurrent", "5000"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "queue_depth", "0"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "queue_depth", "5000"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "if_not_exists", "2"), SLUICE_ERR_INVALID_ARGUMENT);
    TH_KIND(open_with(op, "readers", "2"), SLUICE_ERR_INVALID_ARGUMENT);
    /* The boundaries themselves are fine. */
    TH_OK(open_with(op, "concurrent", "1"));
    TH_OK(open_with(op, "concurrent", "1024"));
    TH_OK(open_with(op, "queue_depth", "1024"));
  }
  /* None of the refused writers left anything behind. */
  cr_assert_eq(th_count_files(root), 0);
  sluice_metadata *m;
  TH_KIND(sluice_stat(mem, "obj", &m), SLUICE_ERR_NOT_FOUND);
}

/* Sizes: K, M, G, T and KiB.. are powers of 1024, KB, MB.. powers of 1000
 * (SI), in any case, with or without a space: "5 MB" is never 5 MiB. */
Test(api_args, sizes_read_as_written) {
  static const struct {
    const char *text;
    uint64_t bytes;
  } ok[] = {
      {"0", 0},
      {"123", 123},
      {"7B", 7},
      {"64K", 65536},
      {"64kib", 65536},
      {"8MiB", 8u << 20},
      {"8 MiB", 8u << 20},
      {"5 MB", 5000000},
      {"5mb", 5000000},
      {"1KB", 1000},
      {"2GB", 2000000000},
      {"1G", 1u << 30},
      {"1TiB", 1ull << 40},
      {"3tb", 3000000000000ull},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    uint64_t v = 1;
    cr_expect_eq(sluice__parse_size(ok[i].text, &v), 0, "'%s' refused", ok[i].text);
    cr_expect_eq(v, ok[i].bytes, "'%s' read as %llu", ok[i].text, (unsigned long long)v);
  }
  const char *bad[] = {"",           "MB", "-1", "1.5G", "8XB", "5 M B", "99999999999999999999",
                       "20000000TiB"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint64_t v;
    cr_expect_neq(sluice__parse_size(bad[i], &v), 0, "'%s' accepted", bad[i]);
  }
  TH_OK(open_with(mem, "chunk", "5 MB"));
}

/* Counts (parts, threads, objects) take no unit: "1K" is refused, with a
 * message that says a count was expected, not a size. */
Test(api_args, counts_take_no_unit) {
  const char *names[] = {"concurrent", "queue_depth"};
  const char *bad[] = {"1K", "abc", "4MiB", "", "+4", "4 "};
  for (size_t n = 0; n < sizeof names / sizeof names[0]; n++)
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      sluice_error *err = open_with(mem, names[n], bad[i]);
      cr_assert_not_null(err, "%s='%s' accepted", names[n], bad[i]);
      char msg[256];
      snprintf(msg, sizeof msg, "%s", sluice_error_message(err));
      sluice_errkind kind = sluice_error_kind(err);
      sluice_error_free(err);
      cr_expect_eq(kind, SLUICE_ERR_INVALID_ARGUMENT, "%s", msg);
      cr_expect(strstr(msg, "is not a count") != NULL, "%s='%s': %s", names[n], bad[i], msg);
    }
  TH_OK(open_with(mem, "concurrent", "16"));
}

Test(api_args, writer_calls_on_null) {
  TH_KIND(sluice_writer_write(NULL, "x", 1), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_writer_close(NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_writer_abort(NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_writer *w;
  TH_OK(sluice_writer_open(mem, "obj", NULL, &w));
  TH_KIND(sluice_writer_write(w, NULL, 3), SLUICE_ERR_INVALID_ARGUMENT);
  /* The writer is still usable after the refused call. */
  TH_OK(sluice_writer_write(w, "abc", 3));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  void *buf;
  size_t len;
  TH_OK(sluice_read(mem, "obj", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 3);
  cr_assert(memcmp(buf, "abc", 3) == 0);
  sluice_free(buf);
}

Test(api_args, write_after_close_or_abort) {
  FOR_EACH_OP(op) {
    sluice_writer *w;
    TH_OK(sluice_writer_open(op, "closed", NULL, &w));
    TH_OK(sluice_writer_write(w, "abc", 3));
    TH_OK(sluice_writer_close(w));
    TH_KIND(sluice_writer_write(w, "def", 3), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_writer_free(w);
    void *buf;
    size_t len;
    TH_OK(sluice_read(op, "closed", 0, UINT64_MAX, &buf, &len));
    cr_assert_eq(len, 3, "a write after close changed the object");
    cr_assert(memcmp(buf, "abc", 3) == 0);
    sluice_free(buf);

    TH_OK(sluice_writer_open(op, "aborted", NULL, &w));
    TH_OK(sluice_writer_write(w, "abc", 3));
    TH_OK(sluice_writer_abort(w));
    TH_KIND(sluice_writer_write(w, "def", 3), SLUICE_ERR_CANCELED);
    TH_KIND(sluice_writer_close(w), SLUICE_ERR_CANCELED);
    sluice_writer_free(w);
    sluice_metadata *m;
    TH_KIND(sluice_stat(op, "aborted", &m), SLUICE_ERR_NOT_FOUND);
  }
  cr_assert_eq(th_count_files(root), 1);
}

Test(api_args, writer_from_fd_bad) {
  sluice_writer *w = SENTINEL;
  TH_KIND(sluice_writer_from_fd(-1, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  int fds[2];
  cr_assert(pipe(fds) == 0);
  TH_KIND(sluice_writer_from_fd(fds[1], NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  int closed = dup(fds[1]);
  close(closed);
  w = SENTINEL;
  TH_KIND(sluice_writer_from_fd(closed, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  w = SENTINEL;
  TH_KIND(sluice_writer_from_fd(fds[0], NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  sluice_options *o = th_opts("content_type", "text/plain", NULL);
  w = SENTINEL;
  TH_KIND(sluice_writer_from_fd(fds[1], o, &w), SLUICE_ERR_UNSUPPORTED);
  cr_assert_null(w);
  sluice_options_free(o);
  o = th_opts("if_not_exists", "true", NULL);
  TH_KIND(sluice_writer_from_fd(fds[1], o, &w), SLUICE_ERR_UNSUPPORTED);
  sluice_options_free(o);
  o = th_opts("chunk", "0", NULL);
  TH_KIND(sluice_writer_from_fd(fds[1], o, &w), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  o = th_opts("bogus", "1", NULL);
  TH_KIND(sluice_writer_from_fd(fds[1], o, &w), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(w);
  sluice_options_free(o);
  /* The good case, and the fd stays the caller's. */
  o = th_opts("chunk", "64KiB", NULL);
  TH_OK(sluice_writer_from_fd(fds[1], o, &w));
  sluice_options_free(o);
  TH_OK(sluice_writer_write(w, "to-the-pipe", 11));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  cr_assert(fcntl(fds[1], F_GETFD) >= 0, "sluice_writer_free closed the caller's fd");
  close(fds[1]);
  char buf[32];
  ssize_t n = read(fds[0], buf, sizeof buf);
  cr_assert_eq(n, 11);
  cr_assert(memcmp(buf, "to-the-pipe", 11) == 0);
  close(fds[0]);
}

Test(api_args, write_from_bad) {
  TH_OK(sluice_write(mem, "src", "0123456789", 10, NULL));
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(mem, "src", NULL, &r));
  TH_OK(sluice_writer_open(mem, "dst", NULL, &w));
  TH_KIND(sluice_write_from(NULL, r, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_write_from(w, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  /* A writer that already had write() is refused, and stays usable. */
  TH_OK(sluice_writer_write(w, "head", 4));
  TH_KIND(sluice_write_from(w, r, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  void *buf;
  size_t len;
  TH_OK(sluice_read(mem, "dst", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 4);
  cr_assert(memcmp(buf, "head", 4) == 0);
  sluice_free(buf);
  /* The refused write_from read nothing from r. */
  cr_assert_eq(sluice_reader_size(r), 10);

  /* After a zero-byte write() either answer is defensible, but it must be
   * a clean one: refused as invalid, or a correct copy. */
  TH_OK(sluice_writer_open(mem, "dst2", NULL, &w));
  TH_OK(sluice_writer_write(w, "", 0));
  sluice_error *err = sluice_write_from(w, r, NULL);
  if (err) {
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "[%s] %s",
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    sluice_error_free(err);
    cr_assert_eq(sluice_reader_size(r), 10);
  } else {
    TH_OK(sluice_writer_close(w));
    TH_OK(sluice_read(mem, "dst2", 0, UINT64_MAX, &buf, &len));
    cr_assert_eq(len, 10);
    cr_assert(memcmp(buf, "0123456789", 10) == 0);
    sluice_free(buf);
  }
  sluice_writer_free(w);

  /* Closed and aborted writers. */
  TH_OK(sluice_writer_open(mem, "dst3", NULL, &w));
  TH_OK(sluice_writer_close(w));
  TH_KIND(sluice_write_from(w, r, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_writer_free(w);
  TH_OK(sluice_writer_open(mem, "dst4", NULL, &w));
  TH_OK(sluice_writer_abort(w));
  TH_KIND(sluice_write_from(w, r, NULL), SLUICE_ERR_CANCELED);
  sluice_writer_free(w);

  /* After a write_from only close or abort is accepted. */
  sluice_reader_free(r);
  TH_OK(sluice_reader_open(mem, "src", NULL, &r));
  TH_OK(sluice_writer_open(mem, "dst5", NULL, &w));
  TH_OK(sluice_write_from(w, r, NULL));
  TH_KIND(sluice_writer_write(w, "more", 4), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_write_from(w, r, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  TH_OK(sluice_read(mem, "dst5", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 10);
  cr_assert(memcmp(buf, "0123456789", 10) == 0);
  sluice_free(buf);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */
/* ------------------------------------------------------------------ */

Test(api_args, job_bad) {
  TH_OK(sluice_write(mem, "src", "0123456789", 10, NULL));
  sluice_reader *r;
  sluice_writer *w;
  TH_OK(sluice_reader_open(mem, "src", NULL, &r));
  TH_OK(sluice_writer_open(mem, "dst", NULL, &w));
  sluice_job *j = SENTINEL;
  TH_KIND(sluice_job_start(NULL, r, NULL, &j), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(j);
  j = SENTINEL;
  TH_KIND(sluice_job_start(w, NULL, NULL, &j), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(j);
  TH_KIND(sluice_job_start(w, r, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_job_start(NULL, NULL, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sluice_job_fd(NULL), -1);
  sluice_progress pr = {.struct_size = sizeof pr};
  TH_KIND(sluice_job_progress(NULL, &pr), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_job_wait(NULL), SLUICE_ERR_INVALID_ARGUMENT);

  /* A real job: progress refuses a NULL out and a zero struct_size. */
  TH_OK(sluice_job_start(w, r, NULL, &j));
  cr_assert(sluice_job_fd(j) >= 0);
  TH_KIND(sluice_job_progress(j, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_progress zero;
  memset(&zero, 0xAB, sizeof zero);
  zero.struct_size = 0;
  TH_KIND(sluice_job_progress(j, &zero), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_job_wait(j));
  cr_assert(sluice_job_done(j));
  TH_OK(sluice_job_progress(j, &pr));
  cr_assert_eq(pr.bytes_written, 10);
  /* A caller with an older, shorter struct gets only what it has room
   * for: nothing past struct_size is written. */
  unsigned char small[sizeof(sluice_progress) + 16];
  memset(small, 0xCD, sizeof small);
  sluice_progress *sp = (sluice_progress *)small;
  sp->struct_size = offsetof(sluice_progress, bytes_written);
  TH_OK(sluice_job_progress(j, sp));
  cr_assert_eq(sp->struct_size, offsetof(sluice_progress, bytes_written));
  cr_assert_eq(sp->bytes_read, 10);
  for (size_t i = offsetof(sluice_progress, bytes_written); i < sizeof small; i++)
    cr_assert_eq(small[i], 0xCD, "job_progress wrote byte %zu past struct_size", i);
  sluice_job_cancel(j); /* harmless after the end */
  TH_OK(sluice_job_wait(j));
  sluice_job_free(j);
  sluice_writer_free(w);
  sluice_reader_free(r);
  void *buf;
  size_t len;
  TH_OK(sluice_read(mem, "dst", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 10);
  sluice_free(buf);
}

/* ------------------------------------------------------------------ */
/* Idempotence of close / abort / free                                 */
/* ------------------------------------------------------------------ */

Test(api_args, close_twice) {
  FOR_EACH_OP(op) {
    sluice_writer *w;
    TH_OK(sluice_writer_open(op, "obj", NULL, &w));
    TH_OK(sluice_writer_write(w, "abc", 3));
    TH_OK(sluice_writer_close(w));
    TH_OK(sluice_writer_close(w));
    sluice_writer_free(w);
    void *buf;
    size_t len;
    TH_OK(sluice_read(op, "obj", 0, UINT64_MAX, &buf, &len));
    cr_assert_eq(len, 3);
    sluice_free(buf);
  }
  cr_assert_eq(th_count_files(root), 1);
}

Test(api_args, failed_close_repeats_its_error) {
  FOR_EACH_OP(op) {
    sluice_options *o = th_opts("if_not_exists", "true", NULL);
    sluice_writer *w;
    TH_OK(sluice_writer_open(op, "obj", o, &w));
    sluice_options_free(o);
    TH_OK(sluice_writer_write(w, "loser", 5));
    /* Someone else commits first. */
    TH_OK(sluice_write(op, "obj", "winner", 6, NULL));
    TH_KIND(sluice_writer_close(w), SLUICE_ERR_ALREADY_EXISTS);
    TH_KIND(sluice_writer_close(w), SLUICE_ERR_ALREADY_EXISTS);
    TH_KIND(sluice_writer_write(w, "x", 1), SLUICE_ERR_ALREADY_EXISTS);
    TH_OK(sluice_writer_abort(w));
    sluice_writer_free(w);
    void *buf;
    size_t len;
    TH_OK(sluice_read(op, "obj", 0, UINT64_MAX, &buf, &len));
    cr_assert_eq(len, 6);
    cr_assert(memcmp(buf, "winner", 6) == 0);
    sluice_free(buf);
  }
  /* No temp file of the failed writer is left. */
  cr_assert_eq(th_count_files(root), 1);
}

Test(api_args, abort_twice) {
  FOR_EACH_OP(op) {
    sluice_writer *w;
    TH_OK(sluice_writer_open(op, "obj", NULL, &w));
    TH_OK(sluice_writer_write(w, "abc", 3));
    TH_OK(sluice_writer_abort(w));
    TH_OK(sluice_writer_abort(w));
    sluice_writer_free(w);
    sluice_metadata *m;
    TH_KIND(sluice_stat(op, "obj", &m), SLUICE_ERR_NOT_FOUND);
  }
  cr_assert_eq(th_count_files(root), 0);
}

Test(api_args, abort_after_close_keeps_object) {
  FOR_EACH_OP(op) {
    sluice_writer *w;
    TH_OK(sluice_writer_open(op, "obj", NULL, &w));
    TH_OK(sluice_writer_write(w, "keep", 4));
    TH_OK(sluice_writer_close(w));
    TH_OK(sluice_writer_abort(w));
    TH_OK(sluice_writer_abort(w));
    /* Close after that still reports the success. */
    TH_OK(sluice_writer_close(w));
    sluice_writer_free(w);
    void *buf;
    size_t len;
    TH_OK(sluice_read(op, "obj", 0, UINT64_MAX, &buf, &len));
    cr_assert_eq(len, 4);
    cr_assert(memcmp(buf, "keep", 4) == 0);
    sluice_free(buf);
  }
}

Test(api_args, free_without_close_leaves_nothing) {
  static unsigned char data[300000];
  th_fill(data, sizeof data, 7, 0);
  sluice_options *o = th_opts("chunk", "64KiB", NULL);
  FOR_EACH_OP(op) {
    sluice_writer *w;
    /* Never written, partly written (some chunks already sent), and
     * written into a new sub-directory. */
    TH_OK(sluice_writer_open(op, "empty", o, &w));
    sluice_writer_free(w);
    TH_OK(sluice_writer_open(op, "partial", o, &w));
    TH_OK(sluice_writer_write(w, data, sizeof data));
    sluice_writer_free(w);
    TH_OK(sluice_writer_open(op, "sub/partial", o, &w));
    TH_OK(sluice_writer_write(w, data, 1000));
    sluice_writer_free(w);
    sluice_metadata *m;
    TH_KIND(sluice_stat(op, "empty", &m), SLUICE_ERR_NOT_FOUND);
    TH_KIND(sluice_stat(op, "partial", &m), SLUICE_ERR_NOT_FOUND);
    TH_KIND(sluice_stat(op, "sub/partial", &m), SLUICE_ERR_NOT_FOUND);
  }
  sluice_options_free(o);
  /* fs: no object and no temporary file anywhere under root. */
  cr_assert_eq(th_count_files(root), 0);
  /* Freeing an overwrite leaves the old object untouched. */
  file_write("old", "old-content", 11);
  sluice_writer *w;
  TH_OK(sluice_writer_open(fs, "old", NULL, &w));
  TH_OK(sluice_writer_write(w, "new", 3));
  sluice_writer_free(w);
  size_t len;
  unsigned char *got = file_read("old", &len);
  cr_assert_not_null(got);
  cr_assert_eq(len, 11);
  cr_assert(memcmp(got, "old-content", 11) == 0);
  free(got);
  cr_assert_eq(th_count_files(root), 1);
}
