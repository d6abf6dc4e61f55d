/* SPDX-License-Identifier: MIT */
/*
 * One behaviour suite, run against every service.
 *
 * Each SVC_CASE expands to one Criterion test per row of the SERVICES
 * table below (services::fs_<case>, services::memory_<case>), so a new
 * service (S3, HTTP) is one more line in that table.  Failure messages
 * start with the service's name too.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sluice.h"

/* ------------------------------------------------------------------ */
/* The service table                                                   */
/* ------------------------------------------------------------------ */

typedef struct svc_def {
  const char *name;
  /* A fresh, empty store.  *local_dir is set to a local directory that
   * holds the objects and is removed afterwards (fs), or NULL. */
  void (*make)(sluice_operator **op, char **local_dir);
  int has_dirs;                /* create_dir works; empty dirs exist */
  sluice_errkind list_missing; /* listing a missing dir: this kind, or SLUICE_OK = empty */
  int has_content_type;        /* writer option content_type is stored */
  const char *min_chunk;       /* smallest chunk the service takes (S3: 5 MiB parts) */
} svc_def;

static void make_fs(sluice_operator **op, char **local_dir) {
  *local_dir = th_tmpdir();
  *op = th_fs_op(*local_dir);
}

static void make_memory(sluice_operator **op, char **local_dir) {
  *local_dir = NULL;
  *op = th_mem_op();
}

/* A prefix of its own in the bucket for every case, so cases never see
 * each other's objects.  Skips when no server was started. */
static void make_s3(sluice_operator **op, char **local_dir) {
  *local_dir = NULL;
  const char *ep = getenv("SLUICE_S3_ENDPOINT");
  if (!ep) cr_skip_test("no S3 server: run through tests/check-servers.sh");
  static unsigned counter;
  char root[96];
  snprintf(root, sizeof(root), "services-%ld-%d-%u/", (long)time(NULL), (int)getpid(), counter++);
  sluice_options *o =
      th_opts("bucket", getenv("SLUICE_S3_BUCKET"), "endpoint", ep, "region",
              getenv("SLUICE_S3_REGION"), "access_key_id", getenv("SLUICE_S3_ACCESS_KEY"),
              "secret_access_key", getenv("SLUICE_S3_SECRET_KEY"), "root", root, NULL);
  TH_OK(sluice_operator_new("s3", o, op));
  sluice_options_free(o);
}

/* THE TABLE: one line per service,
 *   X(name, make, has_dirs, list_missing, has_content_type, ...)
 * Every SVC_CASE below becomes one Criterion test per line, named
 * services::<name>_<case>. */
#define SERVICES(X, ...)                                        \
  X(fs, make_fs, 1, SLUICE_ERR_NOT_FOUND, 0, NULL, __VA_ARGS__) \
  X(memory, make_memory, 0, SLUICE_OK, 1, NULL, __VA_ARGS__)    \
  X(s3, make_s3, 0, SLUICE_OK, 1, "5MiB", __VA_ARGS__)

#define SVC_DEFINE(svc, mk, dirs, missing, ctype, minchunk, ...) \
  static const svc_def svc_##svc = {#svc, mk, dirs, missing, ctype, minchunk};
SERVICES(SVC_DEFINE, unused)

/* The current case's service, operator and local directory. */
static const svc_def *S;
static sluice_operator *OP;
static char *LOCAL;

static void svc_begin(const svc_def *def) {
  S = def;
  S->make(&OP, &LOCAL);
  cr_assert_not_null(OP, "[%s] make failed", S->name);
}

/* The fini hook: runs after each case, also when it failed. */
static void svc_end(void) {
  sluice_operator_free(OP);
  OP = NULL;
  if (LOCAL) {
    th_rmrf(LOCAL);
    free(LOCAL);
    LOCAL = NULL;
  }
}

#define SVC_TEST(svc, mk, dirs, missing, ctype, minchunk, name, ...) \
  Test(services, svc##_##name, .fini = svc_end) {                    \
    svc_begin(&svc_##svc);                                           \
    name##_body();                                                   \
  }

/* The timeout is the suite's: a per-test .timeout makes Criterion 2.4.1's
 * runner leak (LeakSanitizer then fails the binary under ASan). */
TestSuite(services, .timeout = 60);

/* SVC_CASE(name) { body }: the body sees S, OP and LOCAL. */
#define SVC_CASE(name)             \
  static void name##_body(void);   \
  SERVICES(SVC_TEST, name, unused) \
  static void name##_body(void)

/* Error assertions naming the service. */
#define S_OK(expr)                                                               \
  do {                                                                           \
    sluice_error *e_ = (expr);                                                   \
    cr_assert(e_ == NULL, "[%s] %s failed: [%s] %s", S->name, #expr,             \
              sluice_strerror(sluice_error_kind(e_)), sluice_error_message(e_)); \
  } while (0)

#define S_KIND(expr, kind)                                                                   \
  do {                                                                                       \
    sluice_error *e_ = (expr);                                                               \
    cr_assert(e_ != NULL, "[%s] %s succeeded, expected %s", S->name, #expr,                  \
              sluice_strerror(kind));                                                        \
    cr_assert(sluice_error_kind(e_) == (kind), "[%s] %s: expected %s, got [%s] %s", S->name, \
              #expr, sluice_strerror(kind), sluice_strerror(sluice_error_kind(e_)),          \
              sluice_error_message(e_));                                                     \
    sluice_error_free(e_);                                                                   \
  } while (0)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* The chunk a case asks for, or the service's minimum when larger. */
static const char *CH(const char *want) { return S->min_chunk ? S->min_chunk : want; }

static unsigned char *gen(size_t len, uint64_t seed) {
  unsigned char *b = malloc(len ? len : 1);
  cr_assert_not_null(b);
  th_fill(b, len, seed, 0);
  return b;
}

/* Writes len generated bytes at path (seed) with sluice_write. */
static void put(const char *path, size_t len, uint64_t seed) {
  unsigned char *b = gen(len, seed);
  S_OK(sluice_write(OP, path, b, len, NULL));
  free(b);
}

/* Asserts that [off, off+len) of the object read with sluice_read equals
 * generated bytes of seed at off, and that exactly want bytes came back. */
static void check_read(const char *path, uint64_t off, uint64_t len, size_t want, uint64_t seed) {
  void *buf = NULL;
  size_t got = 12345;
  S_OK(sluice_read(OP, path, off, len, &buf, &got));
  cr_assert_not_null(buf, "[%s] read %s [%llu,+%llu): buffer is NULL", S->name, path,
                     (unsigned long long)off, (unsigned long long)len);
  cr_assert_eq(got, want, "[%s] read %s [%llu,+%llu): %zu bytes, expected %zu", S->name, path,
               (unsigned long long)off, (unsigned long long)len, got, want);
  unsigned char *exp = malloc(want ? want : 1);
  th_fill(exp, want, seed, off);
  cr_assert(memcmp(buf, exp, want) == 0, "[%s] read %s [%llu,+%llu): bytes differ", S->name, path,
            (unsigned long long)off, (unsigned long long)len);
  free(exp);
  sluice_free(buf);
}

/* Same through a reader with offset/length options (len UINT64_MAX: no
 * length option). */
static void check_reader_range(const char *path, uint64_t off, uint64_t len, size_t want,
                               uint64_t seed) {
  sluice_options *o = sluice_options_new();
  S_OK(sluice_options_set_uint(o, "offset", off));
  if (len != UINT64_MAX) S_OK(sluice_options_set_uint(o, "length", len));
  sluice_reader *r;
  S_OK(sluice_reader_open(OP, path, o, &r));
  sluice_options_free(o);
  cr_assert_eq(sluice_reader_size(r), want, "[%s] reader [%llu,+%llu): size %llu, expected %zu",
               S->name, (unsigned long long)off, (unsigned long long)len,
               (unsigned long long)sluice_reader_size(r), want);
  unsigned char *buf = malloc(want + 64);
  size_t total = 0, n;
  do {
    S_OK(sluice_reader_read(r, buf + total, want + 64 - total, &n));
    total += n;
  } while (n && total < want + 64);
  cr_assert_eq(total, want, "[%s] reader [%llu,+%llu): %zu bytes, expected %zu", S->name,
               (unsigned long long)off, (unsigned long long)len, total, want);
  unsigned char *exp = malloc(want ? want : 1);
  th_fill(exp, want, seed, off);
  cr_assert(memcmp(buf, exp, want) == 0, "[%s] reader [%llu,+%llu): bytes differ", S->name,
            (unsigned long long)off, (unsigned long long)len);
  free(exp);
  free(buf);
  sluice_reader_free(r);
}

static void expect_missing(const char *path) {
  sluice_metadata *m = (sluice_metadata *)(uintptr_t)1;
  S_KIND(sluice_stat(OP, path, &m), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(m);
}

/* No stray files (temporaries) in the local directory: exactly `want`. */
static void expect_local_files(int want) {
  if (!LOCAL) return;
  int n = th_count_files(LOCAL);
  cr_assert_eq(n, want, "[%s] %d files under the root, expected %d (a temporary left behind?)",
               S->name, n, want);
}

/* The entries of a listing as a sorted, newline-joined string. */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *list_sorted(const char *dir, int recursive) {
  sluice_options *o = recursive ? th_opts("recursive", "true", NULL) : NULL;
  sluice_lister *l;
  S_OK(sluice_list(OP, dir, o, &l));
  sluice_options_free(o);
  char *items[256];
  size_t n = 0;
  for (;;) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    if (!e) break;
    cr_assert(n < 256);
    items[n++] = strdup(sluice_entry_path(e));
  }
  sluice_lister_free(l);
  qsort(items, n, sizeof items[0], cmp_str);
  size_t total = 1;
  for (size_t i = 0; i < n; i++) total += strlen(items[i]) + 1;
  char *out = malloc(total);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(out, items[i]);
    strcat(out, "\n");
    free(items[i]);
  }
  return out;
}

static void expect_list(const char *dir, int recursive, const char *want) {
  char *got = list_sorted(dir, recursive);
  cr_assert_str_eq(got, want, "[%s] list('%s', recursive=%d):\n--- got\n%s--- expected\n%s",
                   S->name, dir, recursive, got, want);
  free(got);
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

SVC_CASE(write_then_stat) {
  int64_t before = (int64_t)time(NULL);
  put("obj.bin", 12345, 1);
  int64_t after = (int64_t)time(NULL);
  sluice_metadata *m = NULL;
  S_OK(sluice_stat(OP, "obj.bin", &m));
  cr_assert_not_null(m);
  cr_assert_eq(sluice_metadata_size(m), 12345, "[%s] size %llu", S->name,
               (unsigned long long)sluice_metadata_size(m));
  cr_assert_eq(sluice_metadata_is_dir(m), 0, "[%s] an object is not a directory", S->name);
  int64_t mt = sluice_metadata_mtime(m);
  cr_assert(mt == -1 || (mt >= before - 2 && mt <= after + 2),
            "[%s] mtime %lld is not around the write (%lld..%lld)", S->name, (long long)mt,
            (long long)before, (long long)after);
  sluice_metadata_free(m);
  /* A leading '/' makes another key on an object store, and no file path
   * on fs: never the same object. */
  if (LOCAL)
    S_KIND(sluice_stat(OP, "/obj.bin", &m), SLUICE_ERR_INVALID_ARGUMENT);
  else
    S_KIND(sluice_stat(OP, "/obj.bin", &m), SLUICE_ERR_NOT_FOUND);
  /* The root is a directory. */
  S_OK(sluice_stat(OP, "", &m));
  cr_assert_eq(sluice_metadata_is_dir(m), 1, "[%s] the root is not a directory", S->name);
  sluice_metadata_free(m);
  expect_local_files(1);
}

SVC_CASE(read_whole_and_ranges) {
  const size_t size = 100000;
  put("r.bin", size, 2);
  check_read("r.bin", 0, UINT64_MAX, size, 2);
  check_read("r.bin", 0, size, size, 2);
  check_read("r.bin", 0, 10, 10, 2);
  check_read("r.bin", 50001, 1234, 1234, 2);
  check_read("r.bin", size - 1, 1, 1, 2);
  check_read("r.bin", size - 1, UINT64_MAX, 1, 2);
  check_read("r.bin", size - 10, 100, 10, 2); /* clipped at the end */
  check_read("r.bin", 7, 0, 0, 2);            /* an empty range */
  check_read("r.bin", size, 10, 0, 2);        /* offset == size: nothing */
  check_read("r.bin", size, UINT64_MAX, 0, 2);
  void *buf = (void *)(uintptr_t)1;
  size_t len = 5;
  S_KIND(sluice_read(OP, "r.bin", size + 1, 10, &buf, &len), SLUICE_ERR_RANGE_NOT_SATISFIABLE);
  cr_assert_null(buf);
  cr_assert_eq(len, 0);

  check_reader_range("r.bin", 0, UINT64_MAX, size, 2);
  check_reader_range("r.bin", 0, 10, 10, 2);
  check_reader_range("r.bin", 30001, 65538, 65538, 2);
  check_reader_range("r.bin", size - 1, UINT64_MAX, 1, 2);
  check_reader_range("r.bin", size - 10, 100, 10, 2);
  check_reader_range("r.bin", size, UINT64_MAX, 0, 2);
  check_reader_range("r.bin", 3, 0, 0, 2);
}

SVC_CASE(empty_object) {
  /* Through sluice_write ... */
  S_OK(sluice_write(OP, "empty1", "", 0, NULL));
  /* ... and through a writer that is closed without any write. */
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "empty2", NULL, &w));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  /* ... and one with a zero-length write. */
  S_OK(sluice_writer_open(OP, "empty3", NULL, &w));
  S_OK(sluice_writer_write(w, "x", 0));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  static const char *const names[] = {"empty1", "empty2", "empty3"};
  for (int i = 0; i < 3; i++) {
    sluice_metadata *m;
    S_OK(sluice_stat(OP, names[i], &m));
    cr_assert_eq(sluice_metadata_size(m), 0, "[%s] %s", S->name, names[i]);
    cr_assert_eq(sluice_metadata_is_dir(m), 0);
    sluice_metadata_free(m);
    check_read(names[i], 0, UINT64_MAX, 0, 0);
    /* Any offset into an empty object is an empty range, not an error. */
    check_read(names[i], 5, 10, 0, 0);
    sluice_reader *r;
    S_OK(sluice_reader_open(OP, names[i], NULL, &r));
    cr_assert_eq(sluice_reader_size(r), 0);
    char b[4];
    size_t n = 99;
    S_OK(sluice_reader_read(r, b, sizeof b, &n));
    cr_assert_eq(n, 0);
    sluice_reader_free(r);
  }
  expect_local_files(3);
}

SVC_CASE(overwrite_replaces) {
  put("o.bin", 100000, 3);
  put("o.bin", 500, 4);
  check_read("o.bin", 0, UINT64_MAX, 500, 4);
  sluice_metadata *m;
  S_OK(sluice_stat(OP, "o.bin", &m));
  cr_assert_eq(sluice_metadata_size(m), 500);
  sluice_metadata_free(m);
  /* Longer again, through a writer in chunks. */
  unsigned char *b = gen(200000, 5);
  sluice_options *o = th_opts("chunk", CH("64KiB"), NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "o.bin", o, &w));
  S_OK(sluice_writer_write(w, b, 200000));
  /* Until close, readers still see the previous version. */
  check_read("o.bin", 0, UINT64_MAX, 500, 4);
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_options_free(o);
  free(b);
  check_read("o.bin", 0, UINT64_MAX, 200000, 5);
  expect_local_files(1);
}

SVC_CASE(if_not_exists) {
  put("once", 1000, 6);
  sluice_options *o = th_opts("if_not_exists", "true", NULL);
  unsigned char *b = gen(2000, 7);
  S_KIND(sluice_write(OP, "once", b, 2000, o), SLUICE_ERR_ALREADY_EXISTS);
  check_read("once", 0, UINT64_MAX, 1000, 6);
  /* On a new name it simply writes. */
  S_OK(sluice_write(OP, "fresh", b, 2000, o));
  check_read("fresh", 0, UINT64_MAX, 2000, 7);
  /* "false" replaces as usual. */
  sluice_options *f = th_opts("if_not_exists", "false", NULL);
  S_OK(sluice_write(OP, "once", b, 2000, f));
  check_read("once", 0, UINT64_MAX, 2000, 7);
  sluice_options_free(f);
  sluice_options_free(o);
  free(b);
  expect_local_files(2);
}

/* A writer that fails never commits: with if_not_exists, another writer
 * commits the name first, so close fails and the winner's bytes stay. */
SVC_CASE(failed_writer_never_commits) {
  sluice_options *o = th_opts("if_not_exists", "true", "chunk", CH("64KiB"), NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "race", o, &w));
  sluice_options_free(o);
  unsigned char *b = gen(300000, 8);
  S_OK(sluice_writer_write(w, b, 300000));
  free(b);
  put("race", 4321, 9);
  S_KIND(sluice_writer_close(w), SLUICE_ERR_ALREADY_EXISTS);
  sluice_writer_free(w);
  check_read("race", 0, UINT64_MAX, 4321, 9);
  expect_local_files(1);
}

SVC_CASE(streaming_reader_odd_buffers) {
  const size_t size = 5u << 20;
  unsigned char *data = gen(size, 10);
  sluice_options *o = th_opts("chunk", CH("1MiB"), NULL);
  S_OK(sluice_write(OP, "big.bin", data, size, o));
  sluice_options_free(o);
  unsigned char *buf = malloc(1u << 20);
  static const size_t sizes[] = {1, 7, 4096, 1u << 20};
  /* Each size on its own: 1 and 7 over a prefix (cost), the rest whole. */
  for (size_t k = 0; k < 4; k++) {
    size_t limit = sizes[k] == 1 ? 64u << 10 : sizes[k] == 7 ? 256u << 10 : size;
    sluice_reader *r;
    S_OK(sluice_reader_open(OP, "big.bin", NULL, &r));
    cr_assert_eq(sluice_reader_size(r), size);
    size_t pos = 0, n;
    while (pos < limit) {
      S_OK(sluice_reader_read(r, buf, sizes[k], &n));
      cr_assert(n > 0 && n <= sizes[k], "[%s] read(%zu) at %zu gave %zu", S->name, sizes[k], pos,
                n);
      cr_assert(memcmp(buf, data + pos, n) == 0, "[%s] bytes differ at %zu (buffer %zu)", S->name,
                pos, sizes[k]);
      pos += n;
      cr_assert_eq(sluice_reader_size(r), size - pos);
    }
    if (limit == size) {
      S_OK(sluice_reader_read(r, buf, sizes[k], &n));
      cr_assert_eq(n, 0, "[%s] bytes after the end", S->name);
    }
    sluice_reader_free(r);
  }
  /* All sizes in turn, over the whole object. */
  sluice_reader *r;
  S_OK(sluice_reader_open(OP, "big.bin", NULL, &r));
  size_t pos = 0, n, k = 0;
  for (;;) {
    size_t want = sizes[k++ % 4];
    S_OK(sluice_reader_read(r, buf, want, &n));
    if (!n) break;
    cr_assert(n <= want);
    cr_assert(pos + n <= size, "[%s] more bytes than the object has", S->name);
    cr_assert(memcmp(buf, data + pos, n) == 0, "[%s] bytes differ at %zu", S->name, pos);
    pos += n;
  }
  cr_assert_eq(pos, size, "[%s] read %zu of %zu bytes", S->name, pos, size);
  /* The end stays the end. */
  S_OK(sluice_reader_read(r, buf, 10, &n));
  cr_assert_eq(n, 0);
  sluice_reader_free(r);
  free(buf);
  free(data);
  unsigned char a[32], b2[32];
  th_sha256_object(OP, "big.bin", a);
  th_sha256_generated(size, 10, b2);
  cr_assert(memcmp(a, b2, 32) == 0, "[%s] digest differs", S->name);
}

SVC_CASE(writer_odd_writes) {
  const size_t total = (1u << 20) + 3;
  unsigned char *data = gen(total, 11);
  sluice_options *o = th_opts("chunk", CH("64KiB"), "concurrent", "3", "queue_depth", "2", NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "odd.bin", o, &w));
  sluice_options_free(o);
  static const size_t sizes[] = {1, 7, 65535, 65536, 65537, 3, 100000, 0, 131072, 4095};
  size_t pos = 0, k = 0;
  while (pos < total) {
    size_t n = sizes[k++ % (sizeof sizes / sizeof sizes[0])];
    if (n > total - pos) n = total - pos;
    S_OK(sluice_writer_write(w, data + pos, n));
    pos += n;
  }
  /* Nothing is visible before close. */
  expect_missing("odd.bin");
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_metadata *m;
  S_OK(sluice_stat(OP, "odd.bin", &m));
  cr_assert_eq(sluice_metadata_size(m), total);
  sluice_metadata_free(m);
  void *buf;
  size_t len;
  S_OK(sluice_read(OP, "odd.bin", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, total);
  for (size_t off = 0; off < total; off += 65536)
    cr_assert(memcmp((unsigned char *)buf + off, data + off,
                     total - off < 65536 ? total - off : 65536) == 0,
              "[%s] bytes differ in the chunk at %zu", S->name, off);
  sluice_free(buf);
  /* Exactly four chunks: the last chunk is full, none is left partial. */
  o = th_opts("chunk", CH("64KiB"), NULL);
  S_OK(sluice_writer_open(OP, "exact.bin", o, &w));
  sluice_options_free(o);
  for (int i = 0; i < 4; i++) S_OK(sluice_writer_write(w, data + (size_t)i * 65536, 65536));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  check_read("exact.bin", 0, UINT64_MAX, 4 * 65536, 11);
  free(data);
  expect_local_files(2);
}

SVC_CASE(abort_leaves_nothing) {
  unsigned char *b = gen(300000, 12);
  sluice_options *o = th_opts("chunk", CH("64KiB"), NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "gone/a.bin", o, &w));
  S_OK(sluice_writer_write(w, b, 300000));
  S_OK(sluice_writer_abort(w));
  expect_missing("gone/a.bin");
  expect_local_files(0);
  sluice_writer_free(w);
  expect_missing("gone/a.bin");
  /* Aborting an overwrite keeps the old version. */
  put("keep.bin", 777, 13);
  S_OK(sluice_writer_open(OP, "keep.bin", o, &w));
  S_OK(sluice_writer_write(w, b, 300000));
  S_OK(sluice_writer_abort(w));
  sluice_writer_free(w);
  check_read("keep.bin", 0, UINT64_MAX, 777, 13);
  /* And a writer freed without close is an abort. */
  S_OK(sluice_writer_open(OP, "never.bin", o, &w));
  S_OK(sluice_writer_write(w, b, 100));
  sluice_writer_free(w);
  expect_missing("never.bin");
  sluice_options_free(o);
  free(b);
  expect_local_files(1);
}

SVC_CASE(delete_object) {
  put("d/x.bin", 100, 14);
  put("d/y.bin", 100, 15);
  S_OK(sluice_delete(OP, "d/x.bin"));
  expect_missing("d/x.bin");
  void *buf = (void *)(uintptr_t)1;
  size_t len;
  S_KIND(sluice_read(OP, "d/x.bin", 0, UINT64_MAX, &buf, &len), SLUICE_ERR_NOT_FOUND);
  cr_assert_null(buf);
  /* The neighbour is untouched. */
  check_read("d/y.bin", 0, UINT64_MAX, 100, 15);
  /* Deleting what does not exist succeeds: again, a never-existing name,
   * and one in a missing directory. */
  S_OK(sluice_delete(OP, "d/x.bin"));
  S_OK(sluice_delete(OP, "never-was"));
  S_OK(sluice_delete(OP, "no/such/dir/obj"));
  expect_local_files(1);
  /* A name can be written again after its delete. */
  put("d/x.bin", 50, 16);
  check_read("d/x.bin", 0, UINT64_MAX, 50, 16);
}

SVC_CASE(list_tree) {
  put("a", 10, 17);
  put("b/c", 20, 18);
  put("b/d/e", 30, 19);
  expect_list("", 0, "a\nb/\n");
  expect_list("", 1, "a\nb/c\nb/d/e\n");
  expect_list("b/", 0, "b/c\nb/d/\n");
  expect_list("b/", 1, "b/c\nb/d/e\n");
  expect_list("b/d/", 0, "b/d/e\n");
  if (LOCAL) {
    sluice_lister *bad = NULL;
    S_KIND(sluice_list(OP, "/b/d/", NULL, &bad), SLUICE_ERR_INVALID_ARGUMENT);
  } else {
    expect_list("/b/d/", 1, ""); /* the keys under "/b/d/": none */
  }
  /* Entries carry their metadata. */
  sluice_lister *l;
  S_OK(sluice_list(OP, "", NULL, &l));
  int seen = 0;
  for (;;) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const sluice_metadata *m = sluice_entry_metadata(e);
    cr_assert_not_null(m);
    if (!strcmp(sluice_entry_path(e), "a")) {
      cr_assert_eq(sluice_metadata_size(m), 10, "[%s] a: size %llu", S->name,
                   (unsigned long long)sluice_metadata_size(m));
      cr_assert_eq(sluice_metadata_is_dir(m), 0);
      seen |= 1;
    } else if (!strcmp(sluice_entry_path(e), "b/")) {
      cr_assert_eq(sluice_metadata_is_dir(m), 1, "[%s] b/ is not a directory", S->name);
      seen |= 2;
    }
  }
  sluice_lister_free(l);
  cr_assert_eq(seen, 3, "[%s] a or b/ missing from the listing", S->name);
  /* A recursive listing's sizes are the objects' sizes. */
  sluice_options *o = th_opts("recursive", "true", NULL);
  S_OK(sluice_list(OP, "", o, &l));
  sluice_options_free(o);
  int count = 0;
  for (;;) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const char *p = sluice_entry_path(e);
    uint64_t want = !strcmp(p, "a") ? 10 : !strcmp(p, "b/c") ? 20 : 30;
    cr_assert_eq(sluice_metadata_size(sluice_entry_metadata(e)), want, "[%s] %s: size %llu",
                 S->name, p, (unsigned long long)sluice_metadata_size(sluice_entry_metadata(e)));
    cr_assert_eq(sluice_metadata_is_dir(sluice_entry_metadata(e)), 0);
    count++;
  }
  sluice_lister_free(l);
  cr_assert_eq(count, 3);
}

/* A listing as it came, newline-joined: the order is the point. */
static char *list_in_order(const char *dir, int recursive) {
  sluice_options *o = recursive ? th_opts("recursive", "true", NULL) : NULL;
  sluice_lister *l;
  S_OK(sluice_list(OP, dir, o, &l));
  sluice_options_free(o);
  size_t cap = 1024, len = 0;
  char *out = malloc(cap);
  out[0] = '\0';
  for (int i = 0;; i++) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    if (!e) break;
    cr_assert(i < 1000000, "[%s] list('%s') does not end", S->name, dir);
    size_t n = strlen(sluice_entry_path(e));
    while (len + n + 2 > cap) out = realloc(out, cap *= 2);
    memcpy(out + len, sluice_entry_path(e), n);
    len += n;
    out[len++] = '\n';
    out[len] = '\0';
  }
  sluice_lister_free(l);
  return out;
}

static void expect_order(const char *dir, int recursive, const char *want) {
  char *got = list_in_order(dir, recursive);
  cr_assert_str_eq(got, want, "[%s] list('%s', recursive=%d) order:\n--- got\n%s--- expected\n%s",
                   S->name, dir, recursive, got, want);
  free(got);
}

/* Every service lists in the byte order of the paths' UTF-8, S3's order,
 * so that a sync can merge two listings: a directory's subtree comes where
 * "name/" sorts, after "a-b" and "a.b" ('-' and '.' are below '/') and
 * before "a0".  The same tree gives the same sequence everywhere. */
SVC_CASE(list_in_byte_order) {
  static const char *const keys[] = {"a0",  "\xc3\xa4", "a/x",  "d/e/f/g", "A",
                                     "a.b", "a/b/c",    " sp",  "a/b-/d",  "\xc3\xa9/\xc3\xb6",
                                     "a-b", "d/e-f",    "a/b.e"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) put(keys[i], i % 3 ? 7 : 0, i);
  expect_order("", 1,
               " sp\nA\na-b\na.b\na/b-/d\na/b.e\na/b/c\na/x\na0\nd/e-f\nd/e/f/g\n"
               "\xc3\xa4\n\xc3\xa9/\xc3\xb6\n");
  expect_order("a/", 1, "a/b-/d\na/b.e\na/b/c\na/x\n");
  expect_order("d/", 1, "d/e-f\nd/e/f/g\n");
  /* One level: sub-directories sort as "name/", among the objects. */
  expect_order("", 0, " sp\nA\na-b\na.b\na/\na0\nd/\n\xc3\xa4\n\xc3\xa9/\n");
  expect_order("a/", 0, "a/b-/\na/b.e\na/b/\na/x\n");
}

/* Many keys written in a scrambled order, every third deleted again: the
 * listing is the survivors in byte order, each once (the memory service's
 * ordered map rebalances on every insert and delete). */
SVC_CASE(list_order_after_inserts_and_deletes) {
  const unsigned n = !strcmp(S->name, "memory") ? 200 : !strcmp(S->name, "fs") ? 80 : 40;
  char key[64];
  for (unsigned i = 0; i < n; i++) {
    unsigned k = (i * 7919u) % n; /* 7919 is prime, so k runs over 0..n-1 */
    snprintf(key, sizeof key, "k/%u/%c%u", k % 7, k % 2 ? '-' : 'x', k);
    S_OK(sluice_write(OP, key, "", 0, NULL));
  }
  for (unsigned k = 0; k < n; k += 3) {
    snprintf(key, sizeof key, "k/%u/%c%u", k % 7, k % 2 ? '-' : 'x', k);
    S_OK(sluice_delete(OP, key));
  }
  char *got = list_in_order("", 1);
  unsigned count = 0;
  const char *prev = NULL;
  for (char *line = got, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = '\0';
    cr_assert(prev == NULL || strcmp(prev, line) < 0, "[%s] '%s' listed after '%s'", S->name, line,
              prev);
    unsigned k = (unsigned)strtoul(line + 5, NULL, 10);
    cr_assert(k % 3 != 0, "[%s] deleted key %s listed", S->name, line);
    prev = line;
    count++;
  }
  cr_assert_eq(count, n - (n + 2) / 3, "[%s] %u keys listed, expected %u", S->name, count,
               n - (n + 2) / 3);
  free(got);
}

/* Keys an object store holds as they are, which path normalisation would
 * collapse onto their look-alikes (the second column). */
static const char *const odd_keys[][2] = {
    {"pfx//double//slash.txt", "pfx/double/slash.txt"},
    {"pfx/./dot.txt", "pfx/dot.txt"},
    {"/abs/x.txt", "abs/x.txt"},
    {"a/../d", "d"},
};
#define N_ODD (sizeof odd_keys / sizeof *odd_keys)

/* Object stores: each key is written, read, stat'ed, listed and copied
 * under exactly its own name, beside its look-alike, no collapsing.
 * fs: the same keys name no file as given and are refused, naming the key
 * and why, with nothing written. */
SVC_CASE(keys_used_exactly_as_given) {
  if (LOCAL) {
    for (size_t i = 0; i < N_ODD; i++) {
      const char *k = odd_keys[i][0];
      sluice_error *err = sluice_write(OP, k, "x", 1, NULL);
      cr_assert(sluice_error_kind(err) == SLUICE_ERR_INVALID_ARGUMENT,
                "[fs] write '%s': expected invalid argument, got %s", k,
                err ? sluice_error_message(err) : "success");
      const char *msg = sluice_error_message(err);
      cr_assert(strstr(msg, k) && strstr(msg, "not a file path"),
                "[fs] the error does not name the key and the reason: %s", msg);
      sluice_error_free(err);
      void *buf = NULL;
      size_t len = 0;
      S_KIND(sluice_read(OP, k, 0, UINT64_MAX, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
      sluice_metadata *m = NULL;
      S_KIND(sluice_stat(OP, k, &m), SLUICE_ERR_INVALID_ARGUMENT);
      S_KIND(sluice_delete(OP, k), SLUICE_ERR_INVALID_ARGUMENT);
      sluice_writer *w = NULL;
      S_KIND(sluice_writer_open(OP, k, NULL, &w), SLUICE_ERR_INVALID_ARGUMENT);
    }
    expect_local_files(0);
    return;
  }
  for (size_t i = 0; i < N_ODD; i++) {
    put(odd_keys[i][0], 100 + i, 10 + i);
    put(odd_keys[i][1], 200 + i, 20 + i);
  }
  for (size_t i = 0; i < N_ODD; i++) {
    check_read(odd_keys[i][0], 0, UINT64_MAX, 100 + i, 10 + i);
    check_read(odd_keys[i][1], 0, UINT64_MAX, 200 + i, 20 + i);
    sluice_metadata *m;
    S_OK(sluice_stat(OP, odd_keys[i][0], &m));
    cr_assert_eq(sluice_metadata_size(m), 100 + i, "[%s] stat %s", S->name, odd_keys[i][0]);
    sluice_metadata_free(m);
  }
  expect_order("", 1,
               "/abs/x.txt\na/../d\nabs/x.txt\nd\npfx/./dot.txt\npfx//double//slash.txt\n"
               "pfx/dot.txt\npfx/double/slash.txt\n");
  expect_order("pfx//", 1, "pfx//double//slash.txt\n");
  expect_order("pfx/", 0, "pfx/./\npfx//\npfx/dot.txt\npfx/double/\n");
  /* A copy inside the store (S3: CopyObject) reads and writes exact keys. */
  S_OK(sluice_copy(OP, "a/../d", "pfx//copy/./of", NULL));
  check_read("pfx//copy/./of", 0, UINT64_MAX, 103, 13);
  /* Deleting an odd key leaves its look-alike. */
  for (size_t i = 0; i < N_ODD; i++) {
    S_OK(sluice_delete(OP, odd_keys[i][0]));
    expect_missing(odd_keys[i][0]);
    check_read(odd_keys[i][1], 0, UINT64_MAX, 200 + i, 20 + i);
  }
}

SVC_CASE(list_missing_dir) {
  put("present/x", 1, 20);
  sluice_lister *l = (sluice_lister *)(uintptr_t)1;
  sluice_error *err = sluice_list(OP, "absent/", NULL, &l);
  if (S->list_missing == SLUICE_OK) {
    cr_assert_null(err, "[%s] list of a missing dir: [%s] %s", S->name,
                   sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    cr_assert_null(e, "[%s] a missing dir lists '%s'", S->name, sluice_entry_path(e));
    sluice_lister_free(l);
  } else {
    cr_assert_not_null(err, "[%s] list of a missing dir succeeded", S->name);
    cr_assert_eq(sluice_error_kind(err), S->list_missing, "[%s] got [%s] %s", S->name,
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    cr_assert_null(l);
    sluice_error_free(err);
  }
  /* A prefix of a real name is not a directory. */
  err = sluice_list(OP, "pres/", NULL, &l);
  if (!err) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    cr_assert_null(e, "[%s] 'pres/' lists '%s'", S->name, sluice_entry_path(e));
    sluice_lister_free(l);
  }
  sluice_error_free(err);
}

SVC_CASE(directory_paths) {
  put("dir/obj", 5, 21);
  sluice_metadata *m;
  S_OK(sluice_stat(OP, "dir/", &m));
  cr_assert_eq(sluice_metadata_is_dir(m), 1, "[%s] dir/ is not a directory", S->name);
  sluice_metadata_free(m);
  void *buf = (void *)(uintptr_t)1;
  size_t len;
  S_KIND(sluice_read(OP, "dir/", 0, UINT64_MAX, &buf, &len), SLUICE_ERR_IS_A_DIRECTORY);
  cr_assert_null(buf);
  sluice_reader *r = (sluice_reader *)(uintptr_t)1;
  S_KIND(sluice_reader_open(OP, "dir/", NULL, &r), SLUICE_ERR_IS_A_DIRECTORY);
  cr_assert_null(r);
  /* An object path below an object is not found. */
  S_KIND(sluice_stat(OP, "dir/obj/x", &m), SLUICE_ERR_NOT_FOUND);
  /* create_dir: works where there are directories and on s3 (a "dir/"
   * marker object, listed as the directory), unsupported elsewhere. */
  sluice_error *err = sluice_create_dir(OP, "made/here/");
  if (S->has_dirs || strcmp(S->name, "s3") == 0) {
    cr_assert_null(err, "[%s] create_dir: [%s] %s", S->name,
                   sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    S_OK(sluice_stat(OP, "made/here/", &m));
    cr_assert_eq(sluice_metadata_is_dir(m), 1);
    sluice_metadata_free(m);
    expect_list("made/", 0, "made/here/\n");
    S_OK(sluice_delete(OP, "made/here/"));
    expect_missing("made/here/");
  } else {
    cr_assert_not_null(err, "[%s] create_dir succeeded on a service without directories", S->name);
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_UNSUPPORTED, "[%s] [%s] %s", S->name,
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    sluice_error_free(err);
  }
}

/* Seeking a reader: every position reads the bytes that are there, with
 * and without read-ahead (which a seek drops and the next read restarts). */
static void seek_and_check(sluice_reader *r, int64_t off, int whence, uint64_t want_pos, size_t len,
                           size_t want_len, uint64_t seed) {
  uint64_t pos = 12345;
  S_OK(sluice_reader_seek(r, off, whence, &pos));
  cr_assert_eq(pos, want_pos, "[%s] seek(%lld, %d): position %llu, expected %llu", S->name,
               (long long)off, whence, (unsigned long long)pos, (unsigned long long)want_pos);
  unsigned char *buf = malloc(len + 1), *exp = malloc(len + 1);
  size_t total = 0, n;
  do {
    S_OK(sluice_reader_read(r, buf + total, len - total, &n));
    total += n;
  } while (n && total < len);
  cr_assert_eq(total, want_len, "[%s] read at %llu: %zu bytes, expected %zu", S->name,
               (unsigned long long)want_pos, total, want_len);
  th_fill(exp, want_len, seed, want_pos);
  cr_assert(memcmp(buf, exp, want_len) == 0, "[%s] read at %llu: bytes differ", S->name,
            (unsigned long long)want_pos);
  free(buf);
  free(exp);
}

SVC_CASE(reader_seek) {
  const size_t size = 300000;
  put("seek", size, 77);
  for (int ra = 0; ra < 2; ra++) {
    sluice_options *o = ra ? th_opts("concurrent", "3", "chunk", "64KiB", NULL) : NULL;
    sluice_reader *r;
    S_OK(sluice_reader_open(OP, "seek", o, &r));
    sluice_options_free(o);
    seek_and_check(r, 0, SEEK_CUR, 0, 1000, 1000, 77);
    seek_and_check(r, 200000, SEEK_SET, 200000, 70000, 70000, 77);
    seek_and_check(r, -100000, SEEK_CUR, 170000, 5, 5, 77);
    seek_and_check(r, -10, SEEK_END, size - 10, 100, 10, 77);
    cr_assert_eq(sluice_reader_size(r), 0);
    seek_and_check(r, 10, SEEK_END, size + 10, 100, 0, 77);
    seek_and_check(r, 0, SEEK_SET, 0, size, size, 77);
    /* Refused, leaving the position where it was. */
    S_KIND(sluice_reader_seek(r, -1, SEEK_SET, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    S_KIND(sluice_reader_seek(r, -(int64_t)size - 1, SEEK_CUR, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    S_KIND(sluice_reader_seek(r, INT64_MAX, SEEK_END, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    S_KIND(sluice_reader_seek(r, 0, 7, NULL), SLUICE_ERR_INVALID_ARGUMENT);
    seek_and_check(r, 0, SEEK_CUR, size, 10, 0, 77);
    sluice_reader_free(r);
  }
  /* A reader opened on a range seeks within it. */
  sluice_options *o = th_opts("offset", "1000", "length", "500", NULL);
  sluice_reader *r;
  S_OK(sluice_reader_open(OP, "seek", o, &r));
  sluice_options_free(o);
  uint64_t pos;
  S_OK(sluice_reader_seek(r, -100, SEEK_END, &pos));
  cr_assert_eq(pos, 400);
  unsigned char buf[200], exp[100];
  size_t n, total = 0;
  do {
    S_OK(sluice_reader_read(r, buf + total, sizeof buf - total, &n));
    total += n;
  } while (n);
  cr_assert_eq(total, 100);
  th_fill(exp, 100, 77, 1400);
  cr_assert(memcmp(buf, exp, 100) == 0, "[%s] ranged reader: bytes differ after a seek", S->name);
  sluice_reader_free(r);
}

/* rename: the bytes at the new path, nothing at the old one, parents made;
 * a missing source changes nothing. */
SVC_CASE(rename) {
  put("old", 100000, 5);
  S_OK(sluice_rename(OP, "old", "sub/new"));
  check_read("sub/new", 0, UINT64_MAX, 100000, 5);
  expect_missing("old");
  put("other", 10, 6);
  S_OK(sluice_rename(OP, "sub/new", "other")); /* replaces what is there */
  check_read("other", 0, UINT64_MAX, 100000, 5);
  expect_missing("sub/new");
  S_OK(sluice_rename(OP, "other", "other")); /* onto itself: still there */
  check_read("other", 0, UINT64_MAX, 100000, 5);
  S_KIND(sluice_rename(OP, "missing", "missing"), SLUICE_ERR_NOT_FOUND);
  S_KIND(sluice_rename(OP, "missing", "there"), SLUICE_ERR_NOT_FOUND);
  expect_missing("there");
  S_KIND(sluice_rename(OP, "other", "dir/"), SLUICE_ERR_IS_A_DIRECTORY);
  check_read("other", 0, UINT64_MAX, 100000, 5);
}

/* User metadata: stored and read back by stat on s3; an option the other
 * services refuse rather than drop. */
SVC_CASE(user_metadata) {
  sluice_options *o = th_opts("user_metadata", "Colour=blue&owner_id=a b", NULL);
  sluice_error *err = sluice_write(OP, "meta", "abc", 3, o);
  sluice_options_free(o);
  sluice_metadata *m;
  if (strcmp(S->name, "s3") == 0) {
    cr_assert_null(err, "[s3] user_metadata write: %s", sluice_error_message(err));
    S_OK(sluice_stat(OP, "meta", &m));
    cr_assert_eq(sluice_metadata_user_count(m), 2);
    int seen = 0;
    for (size_t i = 0; i < 2; i++) {
      const char *name, *value;
      cr_assert_eq(sluice_metadata_user(m, i, &name, &value), 0);
      if (strcasecmp(name, "colour") == 0) {
        seen |= 1;
        cr_assert_str_eq(value, "blue");
      } else if (strcmp(name, "owner_id") == 0) {
        seen |= 2;
        cr_assert_str_eq(value, "a b");
      }
    }
    cr_assert_eq(seen, 3);
    const char *name = "x", *value = "y";
    cr_assert_eq(sluice_metadata_user(m, 2, &name, &value), -1);
    cr_assert_null(name);
    cr_assert_null(value);
    sluice_metadata_free(m);
  } else {
    cr_assert_not_null(err, "[%s] user_metadata accepted by a service that cannot keep it",
                       S->name);
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "[%s] [%s] %s", S->name,
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    sluice_error_free(err);
  }
  /* Without it, no pairs. */
  S_OK(sluice_write(OP, "plain", "abc", 3, NULL));
  S_OK(sluice_stat(OP, "plain", &m));
  cr_assert_eq(sluice_metadata_user_count(m), 0);
  sluice_metadata_free(m);
}

SVC_CASE(content_type) {
  sluice_options *o = th_opts("content_type", "application/x-sluice-test", NULL);
  sluice_error *err = sluice_write(OP, "typed", "abc", 3, o);
  sluice_options_free(o);
  sluice_metadata *m;
  if (S->has_content_type) {
    cr_assert_null(err, "[%s] [%s] %s", S->name, sluice_strerror(sluice_error_kind(err)),
                   sluice_error_message(err));
    S_OK(sluice_stat(OP, "typed", &m));
    cr_assert_not_null(sluice_metadata_content_type(m), "[%s] content type lost", S->name);
    cr_assert_str_eq(sluice_metadata_content_type(m), "application/x-sluice-test");
    sluice_metadata_free(m);
  } else {
    cr_assert_not_null(err, "[%s] content_type accepted by a service that cannot store it",
                       S->name);
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_UNSUPPORTED, "[%s] [%s] %s", S->name,
                 sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
    sluice_error_free(err);
    expect_missing("typed");
  }
  /* Without the option the write works everywhere. */
  S_OK(sluice_write(OP, "untyped", "abc", 3, NULL));
  S_OK(sluice_stat(OP, "untyped", &m));
  cr_assert_eq(sluice_metadata_size(m), 3);
  sluice_metadata_free(m);
}

/* ---- concurrency ---- */

#define NTHREADS 4
#define NOBJ 10

struct worker_arg {
  int t;
  char failure[256];
};

static uint64_t obj_seed(int t, int i) { return 1000u + (uint64_t)t * 100u + (uint64_t)i; }
static size_t obj_size(int t, int i) { return (size_t)(t * NOBJ + i) * 7919u + 13u; }

#define WFAIL(...)                                        \
  do {                                                    \
    snprintf(a->failure, sizeof a->failure, __VA_ARGS__); \
    goto out;                                             \
  } while (0)

/* No Criterion asserts off the main thread: failures are recorded. */
static void *worker(void *p) {
  struct worker_arg *a = p;
  sluice_options *o = sluice_options_new();
  sluice_error *err = NULL;
  unsigned char *data = NULL;
  void *buf = NULL;
  if (!o || sluice_options_set(o, "chunk", CH("64KiB")) || sluice_options_set(o, "concurrent", "2"))
    WFAIL("options");
  for (int i = 0; i < NOBJ; i++) {
    char path[64];
    snprintf(path, sizeof path, "t%d/obj-%d.bin", a->t, i);
    size_t size = obj_size(a->t, i);
    data = malloc(size);
    th_fill(data, size, obj_seed(a->t, i), 0);
    sluice_writer *w;
    if ((err = sluice_writer_open(OP, path, o, &w)))
      WFAIL("open %s: %s", path, sluice_error_message(err));
    size_t half = size / 2;
    if (!(err = sluice_writer_write(w, data, half)) &&
        !(err = sluice_writer_write(w, data + half, size - half)))
      err = sluice_writer_close(w);
    sluice_writer_free(w);
    if (err) WFAIL("write %s: %s", path, sluice_error_message(err));
    size_t len;
    if ((err = sluice_read(OP, path, 0, UINT64_MAX, &buf, &len)))
      WFAIL("read %s: %s", path, sluice_error_message(err));
    if (len != size || memcmp(buf, data, size) != 0)
      WFAIL("%s: read back %zu bytes, wrote %zu, or bytes differ", path, len, size);
    sluice_free(buf);
    buf = NULL;
    free(data);
    data = NULL;
  }
out:
  sluice_error_free(err);
  sluice_free(buf);
  free(data);
  sluice_options_free(o);
  return NULL;
}

SVC_CASE(concurrent_threads) {
  pthread_t th[NTHREADS];
  struct worker_arg args[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    args[t].t = t;
    args[t].failure[0] = '\0';
    cr_assert_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
  }
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < NTHREADS; t++)
    cr_assert(args[t].failure[0] == '\0', "[%s] thread %d: %s", S->name, t, args[t].failure);
  /* Everything is there afterwards, and nothing else. */
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < NOBJ; i++) {
      char path[64];
      snprintf(path, sizeof path, "t%d/obj-%d.bin", t, i);
      check_read(path, 0, UINT64_MAX, obj_size(t, i), obj_seed(t, i));
    }
  char *all = list_sorted("", 1);
  int lines = 0;
  for (char *c = all; *c; c++) lines += *c == '\n';
  free(all);
  cr_assert_eq(lines, NTHREADS * NOBJ, "[%s] %d objects listed", S->name, lines);
  expect_local_files(NTHREADS * NOBJ);
}

/* ---- lifetime ---- */

SVC_CASE(handles_outlive_operator) {
  put("life.bin", 300000, 22);
  put("dir/one", 1, 23);
  sluice_reader *r;
  S_OK(sluice_reader_open(OP, "life.bin", NULL, &r));
  sluice_lister *l;
  S_OK(sluice_list(OP, "dir/", NULL, &l));
  sluice_writer *w;
  sluice_options *o = th_opts("chunk", CH("64KiB"), NULL);
  S_OK(sluice_writer_open(OP, "late.bin", o, &w));
  sluice_options_free(o);
  sluice_operator_free(OP);
  OP = NULL;
  /* The reader reads everything. */
  unsigned char *exp = gen(300000, 22);
  unsigned char *buf = malloc(300000);
  size_t total = 0, n;
  do {
    S_OK(sluice_reader_read(r, buf + total, 300000 - total, &n));
    total += n;
  } while (n && total < 300000);
  cr_assert_eq(total, 300000);
  cr_assert(memcmp(buf, exp, total) == 0, "[%s] bytes differ after operator_free", S->name);
  sluice_reader_free(r);
  /* The lister lists. */
  const sluice_entry *e;
  S_OK(sluice_lister_next(l, &e));
  cr_assert_not_null(e);
  cr_assert_str_eq(sluice_entry_path(e), "dir/one");
  S_OK(sluice_lister_next(l, &e));
  cr_assert_null(e);
  sluice_lister_free(l);
  /* The writer writes and commits. */
  S_OK(sluice_writer_write(w, exp, 300000));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  free(exp);
  free(buf);
  if (LOCAL) {
    char *p = th_join(LOCAL, "late.bin");
    unsigned char d1[32], d2[32];
    th_sha256_file(p, d1);
    th_sha256_generated(300000, 22, d2);
    cr_assert(memcmp(d1, d2, 32) == 0, "[%s] late.bin differs", S->name);
    free(p);
  }
}

SVC_CASE(unicode_and_spaces) {
  const char *name = "dir/with space/\xc3\xbc.bin"; /* ü in UTF-8 */
  put(name, 4096, 24);
  check_read(name, 0, UINT64_MAX, 4096, 24);
  sluice_metadata *m;
  S_OK(sluice_stat(OP, name, &m));
  cr_assert_eq(sluice_metadata_size(m), 4096);
  sluice_metadata_free(m);
  expect_list("dir/with space/", 0, "dir/with space/\xc3\xbc.bin\n");
  expect_list("", 0, "dir/\n");
  expect_list("", 1, "dir/with space/\xc3\xbc.bin\n");
  put("dir/tab\xe2\x82\xac and  two spaces ", 3, 25);
  check_read("dir/tab\xe2\x82\xac and  two spaces ", 0, UINT64_MAX, 3, 25);
  S_OK(sluice_delete(OP, name));
  expect_missing(name);
  if (LOCAL) {
    char *p = th_join(LOCAL, "dir/tab\xe2\x82\xac and  two spaces ");
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "[%s] the name was not stored as given", S->name);
    fclose(f);
    free(p);
  }
}

/* ---- copy within a service (the pipeline over each sink and source) ---- */

SVC_CASE(write_from_copy) {
  const size_t size = (3u << 20) + 5;
  put("src.bin", size, 26);
  sluice_reader *r;
  S_OK(sluice_reader_open(OP, "src.bin", NULL, &r));
  sluice_options *wo = th_opts("chunk", CH("256KiB"), "concurrent", "3", NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "copy/dst.bin", wo, &w));
  sluice_options_free(wo);
  sluice_options *co = th_opts("readers", "3", NULL);
  S_OK(sluice_write_from(w, r, co));
  sluice_options_free(co);
  expect_missing("copy/dst.bin");
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  unsigned char d1[32], d2[32];
  th_sha256_object(OP, "copy/dst.bin", d1);
  th_sha256_generated(size, 26, d2);
  cr_assert(memcmp(d1, d2, 32) == 0, "[%s] copy differs", S->name);
  /* A ranged reader copies just its range. */
  sluice_options *ro = th_opts("offset", "100000", "length", "1000000", NULL);
  S_OK(sluice_reader_open(OP, "src.bin", ro, &r));
  sluice_options_free(ro);
  wo = th_opts("chunk", CH("64KiB"), NULL);
  S_OK(sluice_writer_open(OP, "copy/part.bin", wo, &w));
  sluice_options_free(wo);
  S_OK(sluice_write_from(w, r, NULL));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  void *buf;
  size_t len;
  S_OK(sluice_read(OP, "copy/part.bin", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 1000000, "[%s] ranged copy has %zu bytes", S->name, len);
  unsigned char *exp = malloc(len);
  th_fill(exp, len, 26, 100000);
  cr_assert(memcmp(buf, exp, len) == 0, "[%s] ranged copy differs", S->name);
  free(exp);
  sluice_free(buf);

  /* write_from streams what is *left* in the reader. */
  S_OK(sluice_reader_open(OP, "src.bin", NULL, &r));
  unsigned char head[12345];
  size_t got = 0, n;
  while (got < sizeof head) {
    S_OK(sluice_reader_read(r, head + got, sizeof head - got, &n));
    cr_assert(n > 0);
    got += n;
  }
  wo = th_opts("chunk", CH("64KiB"), NULL);
  S_OK(sluice_writer_open(OP, "copy/rest.bin", wo, &w));
  sluice_options_free(wo);
  co = th_opts("readers", "2", NULL);
  S_OK(sluice_write_from(w, r, co));
  sluice_options_free(co);
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  /* The reader is at its end afterwards. */
  S_OK(sluice_reader_read(r, head, sizeof head, &n));
  cr_assert_eq(n, 0, "[%s] the reader still has bytes after write_from", S->name);
  sluice_reader_free(r);
  S_OK(sluice_read(OP, "copy/rest.bin", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, size - sizeof head, "[%s] rest copy has %zu bytes, expected %zu", S->name, len,
               size - sizeof head);
  exp = malloc(len);
  th_fill(exp, len, 26, sizeof head);
  cr_assert(memcmp(buf, exp, len) == 0, "[%s] rest copy differs", S->name);
  free(exp);
  sluice_free(buf);

  /* An empty range copies to an empty object. */
  ro = th_opts("offset", "100", "length", "0", NULL);
  S_OK(sluice_reader_open(OP, "src.bin", ro, &r));
  sluice_options_free(ro);
  S_OK(sluice_writer_open(OP, "copy/empty.bin", NULL, &w));
  S_OK(sluice_write_from(w, r, NULL));
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  check_read("copy/empty.bin", 0, UINT64_MAX, 0, 0);
}

/* Where a service reports an etag, a new version gets a new one, and the
 * listing reports the same etag as stat. */
SVC_CASE(etag_changes_on_overwrite) {
  put("e.bin", 100, 27);
  sluice_metadata *m1, *m2;
  S_OK(sluice_stat(OP, "e.bin", &m1));
  put("e.bin", 100, 28);
  S_OK(sluice_stat(OP, "e.bin", &m2));
  const char *e1 = sluice_metadata_etag(m1), *e2 = sluice_metadata_etag(m2);
  if (e1 || e2) {
    cr_assert(e1 && e2, "[%s] etag reported for one version only", S->name);
    cr_assert_str_neq(e1, e2, "[%s] two versions share the etag %s", S->name, e1);
    sluice_lister *l;
    S_OK(sluice_list(OP, "", NULL, &l));
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    cr_assert_not_null(e);
    const char *le = sluice_metadata_etag(sluice_entry_metadata(e));
    cr_assert_not_null(le, "[%s] stat has an etag, the listing none", S->name);
    cr_assert_str_eq(le, e2, "[%s] listing etag %s, stat etag %s", S->name, le, e2);
    sluice_lister_free(l);
  }
  sluice_metadata_free(m1);
  sluice_metadata_free(m2);
}

/* A write in progress is invisible: not at its path (see above) and not
 * in listings either, under any name, so a listing never offers a partial
 * object to copy. */
SVC_CASE(open_writer_invisible_to_list) {
  put("done.bin", 10, 29);
  sluice_options *o = th_opts("chunk", CH("64KiB"), NULL);
  sluice_writer *w;
  S_OK(sluice_writer_open(OP, "pending.bin", o, &w));
  sluice_options_free(o);
  unsigned char *b = gen(200000, 30);
  S_OK(sluice_writer_write(w, b, 200000));
  free(b);
  expect_list("", 0, "done.bin\n");
  expect_list("", 1, "done.bin\n");
  S_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  expect_list("", 0, "done.bin\npending.bin\n");
}
