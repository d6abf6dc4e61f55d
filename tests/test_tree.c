/* SPDX-License-Identifier: MIT */
/*
 * Tree jobs (sluice_tree_start): copy and sync of many objects between
 * the memory and fs services, what a user relies on: the bytes arrive
 * equal, a second sync copies nothing, delete removes exactly the extras,
 * dry_run writes nothing, failed objects are reported while the rest go
 * on, and a cancel leaves nothing half-written.  S3 cases live in
 * test_s3_tree.c (they need the servers).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static int sanitized(void) {
  const char *s = getenv("SLUICE_SANITIZED");
  return s && !strcmp(s, "1");
}

/* Thousands of objects normally, fewer under sanitizers. */
static unsigned tree_size(void) { return sanitized() ? 300 : 3000; }

/* The name of object i: nested directories, and every 50th one a name
 * with a space, unicode, or characters that sort around '/'. */
static void name_of(unsigned i, char *buf, size_t len) {
  static const char *const odd[] = {
      "with space/f %u.txt", "unicod\xc3\xa9/\xe2\x82\xac%u", "x-y/%u", "x.y/%u", "x/y%u", "x0/%u"};
  if (i % 50 == 7)
    snprintf(buf, len, odd[(i / 50) % 6], i);
  else
    snprintf(buf, len, "d%02u/sub%u/f%05u.bin", i % 17, i % 3, i);
}

/* Object i's size: many small ones, some empty, a few above a 64 KiB chunk. */
static uint64_t size_of(unsigned i) {
  if (i % 97 == 0) return 0;
  if (i % 211 == 5) return 200 * 1024 + i;
  return (i * 37) % 5000;
}

static void put_obj(sluice_operator *op, const char *dir, const char *name, uint64_t size,
                    uint64_t seed) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s", dir, name);
  unsigned char *buf = malloc(size ? size : 1);
  th_fill(buf, size, seed, 0);
  TH_OK(sluice_write(op, path, buf, size, NULL));
  free(buf);
}

static void make_tree(sluice_operator *op, const char *dir, unsigned n) {
  char name[256];
  for (unsigned i = 0; i < n; i++) {
    name_of(i, name, sizeof name);
    put_obj(op, dir, name, size_of(i), i);
  }
}

/* Asserts object name under dir holds size bytes of seed's data. */
static void assert_obj(sluice_operator *op, const char *dir, const char *name, uint64_t size,
                       uint64_t seed) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s", dir, name);
  void *got;
  size_t len;
  TH_OK(sluice_read(op, path, 0, UINT64_MAX, &got, &len));
  cr_assert_eq(len, size, "%s: %zu bytes, expected %llu", path, len, (unsigned long long)size);
  unsigned char *want = malloc(size ? size : 1);
  th_fill(want, size, seed, 0);
  cr_assert(memcmp(got, want, size) == 0, "%s: bytes differ", path);
  free(want);
  sluice_free(got);
}

static void assert_tree(sluice_operator *op, const char *dir, unsigned n) {
  char name[256];
  for (unsigned i = 0; i < n; i++) {
    name_of(i, name, sizeof name);
    assert_obj(op, dir, name, size_of(i), i);
  }
}

/* Objects under dir (recursive listing). */
static unsigned count(sluice_operator *op, const char *dir) {
  sluice_options *o = th_opts("recursive", "true", NULL);
  sluice_lister *l;
  sluice_error *err = sluice_list(op, dir, o, &l);
  sluice_options_free(o);
  if (err && sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND) {
    sluice_error_free(err);
    return 0;
  }
  TH_OK(err);
  unsigned n = 0;
  const sluice_entry *e;
  while (1) {
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    n++;
  }
  sluice_lister_free(l);
  return n;
}

/* Per-object results, gathered by the callback. */
struct results {
  pthread_mutex_t lock;
  unsigned copied, skipped, deleted, failed, would_copy, would_delete;
  uint64_t would_copy_bytes;
  char first_failed[512];
  atomic_int busy; /* the callback is never entered twice at once */
};

static void on_object(const sluice_object_result *r, void *ud) {
  struct results *res = ud;
  cr_assert(atomic_fetch_add(&res->busy, 1) == 0, "object callback entered twice at once");
  switch (sluice_object_result_action(r)) {
  case SLUICE_OBJECT_COPIED: res->copied++; break;
  case SLUICE_OBJECT_SKIPPED: res->skipped++; break;
  case SLUICE_OBJECT_DELETED: res->deleted++; break;
  case SLUICE_OBJECT_WOULD_COPY:
    res->would_copy++;
    res->would_copy_bytes += sluice_object_result_bytes(r);
    break;
  case SLUICE_OBJECT_WOULD_DELETE: res->would_delete++; break;
  case SLUICE_OBJECT_FAILED:
    cr_assert(sluice_object_result_error(r) != NULL);
    if (!res->failed++)
      snprintf(res->first_failed, sizeof res->first_failed, "%s", sluice_object_result_path(r));
    break;
  }
  cr_assert(sluice_object_result_path(r) && sluice_object_result_path(r)[0]);
  atomic_fetch_sub(&res->busy, 1);
}

/* Runs a tree job to its end: its outcome, progress in *p, results in *res. */
static sluice_error *run(sluice_operator *src, const char *sdir, sluice_operator *dst,
                         const char *ddir, sluice_options *opts, sluice_progress *p,
                         struct results *res) {
  if (!opts) opts = th_opts(NULL);
  if (res) {
    memset(res, 0, sizeof *res);
    TH_OK(sluice_options_set_object_cb(opts, on_object, res));
  }
  sluice_job *job;
  TH_OK(sluice_tree_start(src, sdir, dst, ddir, opts, &job));
  sluice_options_free(opts);
  sluice_error *err = sluice_job_wait(job);
  cr_assert(sluice_job_done(job));
  p->struct_size = sizeof *p;
  TH_OK(sluice_job_progress(job, p));
  sluice_job_free(job);
  return err;
}

#define SMALL_CHUNK(...) th_opts("chunk", "64KiB", ##__VA_ARGS__, NULL)

Test(tree, copy_memory_to_memory_bytes_equal) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  unsigned n = tree_size();
  make_tree(a, "src/", n);
  put_obj(a, "", "outside", 10, 1);
  sluice_progress p;
  struct results res;
  TH_OK(run(a, "src", b, "dst/", SMALL_CHUNK(), &p, &res));
  assert_tree(b, "dst/", n);
  cr_assert_eq(count(b, ""), n, "only the tree was copied");
  cr_assert_eq(p.objects_done, n);
  cr_assert_eq(p.objects_total, n);
  cr_assert_eq(p.objects_failed + p.objects_skipped + p.objects_deleted, 0);
  cr_assert_eq(res.copied, n);
  cr_assert_eq(p.bytes_written, p.total_bytes);
  /* Every part counts: one for a small object, one per 64 KiB chunk of a
   * large one, none for an empty one. */
  uint64_t parts = 0;
  for (unsigned i = 0; i < n; i++) parts += (size_of(i) + 65535) / 65536;
  cr_assert_eq(p.parts_done, parts, "%llu parts, expected %llu", (unsigned long long)p.parts_done,
               (unsigned long long)parts);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

Test(tree, copy_fs_to_fs_and_back_through_memory) {
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root), *mem = th_mem_op();
  unsigned n = tree_size() / 3;
  make_tree(mem, "a/", n);
  sluice_progress p;
  TH_OK(run(mem, "a/", fs, "up", SMALL_CHUNK(), &p, NULL));
  cr_assert_eq(th_count_files(root), (int)n);
  TH_OK(run(fs, "up/", fs, "copy/", SMALL_CHUNK(), &p, NULL));
  TH_OK(run(fs, "copy", mem, "back/", NULL, &p, NULL));
  assert_tree(mem, "back/", n);
  assert_tree(fs, "copy/", n);
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
}

/* Keys an object store holds but a file tree must not take as names: each
 * is a failed object, the others are copied, and nothing lands under
 * another name (fs refuses, it does not rename). */
Test(tree, unsafe_names_fail_their_objects_into_fs) {
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root), *mem = th_mem_op();
  static const char *const bad[] = {
      "c1\xc2\x9b"
      "31m",
      "sub\xc2\x85/x",
      "latin\xe9",
      "lone\x9b",
      "a//b",
      "../up",
      "./dot"};
  size_t nbad = sizeof bad / sizeof bad[0];
  for (size_t i = 0; i < nbad; i++) put_obj(mem, "t/", bad[i], 10, i);
  put_obj(mem, "t/", "fine", 10, 99);
  put_obj(mem, "t/", "caf\xc3\xa9", 10, 98); /* UTF-8 is fine */
  sluice_progress p;
  struct results res;
  sluice_error *err = run(mem, "t/", fs, "out/", NULL, &p, &res);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_PARTIAL, "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(res.failed, nbad);
  cr_assert_eq(p.objects_failed, nbad);
  cr_assert_eq(res.copied, 2);
  cr_assert_eq(th_count_files(root), 2, "only the two plain names were written");
  assert_obj(fs, "out/", "fine", 10, 99);
  assert_obj(fs, "out/", "caf\xc3\xa9", 10, 98);
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
}

Test(tree, copy_into_its_own_subtree_does_not_loop) {
  sluice_operator *m = th_mem_op();
  make_tree(m, "t/", 40);
  sluice_progress p;
  TH_OK(run(m, "t/", m, "t/copy/", NULL, &p, NULL));
  cr_assert_eq(p.objects_done, 40);
  assert_tree(m, "t/copy/", 40);
  sluice_job *job;
  TH_KIND(sluice_tree_start(m, "t", m, "t/", NULL, &job), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_operator_free(m);
}

Test(tree, sync_twice_copies_nothing_the_second_time) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  unsigned n = tree_size();
  make_tree(a, "", n);
  sluice_progress p;
  struct results res;
  TH_OK(run(a, "", b, "mirror/", th_opts("mode", "sync", NULL), &p, &res));
  cr_assert_eq(p.objects_done, n);
  TH_OK(run(a, "", b, "mirror/", th_opts("mode", "sync", NULL), &p, &res));
  cr_assert_eq(p.objects_done, 0, "second sync copied %llu", (unsigned long long)p.objects_done);
  cr_assert_eq(p.objects_skipped, n);
  cr_assert_eq(res.skipped, n);
  /* One object changes size, one is new: only those two go. */
  put_obj(a, "", "d01/sub1/f00001.bin", 3, 99);
  put_obj(a, "", "new/one", 5, 98);
  TH_OK(run(a, "", b, "mirror/", th_opts("mode", "sync", "compare", "size", NULL), &p, &res));
  cr_assert_eq(p.objects_done, 2);
  cr_assert_eq(p.objects_skipped, n - 1);
  assert_obj(b, "mirror/", "d01/sub1/f00001.bin", 3, 99);
  assert_obj(b, "mirror/", "new/one", 5, 98);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

Test(tree, sync_delete_removes_exactly_the_extras) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  unsigned n = 200;
  make_tree(a, "s/", n);
  make_tree(b, "d/", n);
  put_obj(b, "d/", "extra/1", 1, 1);
  put_obj(b, "d/", "x/y", 1, 2); /* sorts among the source's "x/..." names */
  put_obj(b, "d/", "zz", 1, 3);
  put_obj(b, "d/", "keep.log", 1, 4); /* excluded: left alone */
  put_obj(b, "", "outside", 1, 5);    /* not under d/ */
  sluice_progress p;
  struct results res;
  TH_OK(run(a, "s/", b, "d/",
            th_opts("mode", "sync", "delete", "true", "compare", "size", "exclude", "*.log", NULL),
            &p, &res));
  cr_assert_eq(p.objects_deleted, 3);
  cr_assert_eq(res.deleted, 3);
  cr_assert_eq(p.objects_skipped, n);
  cr_assert_eq(count(b, "d/"), n + 1);
  cr_assert_eq(count(b, ""), n + 2);
  assert_obj(b, "d/", "keep.log", 1, 4);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

Test(tree, dry_run_writes_nothing) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  make_tree(a, "", 100);
  put_obj(b, "", "extra", 1, 1);
  sluice_progress p;
  struct results res;
  TH_OK(run(a, "", b, "", th_opts("mode", "sync", "delete", "true", "dry_run", "true", NULL), &p,
            &res));
  /* Reported as what a real run would do, never as done. */
  cr_assert_eq(p.objects_done + p.objects_deleted + p.bytes_written + p.parts_done, 0);
  cr_assert_eq(p.objects_would_copy, 100);
  cr_assert_eq(p.objects_would_delete, 1);
  cr_assert_eq(p.objects_total, 101);
  cr_assert_eq(res.copied + res.deleted, 0);
  cr_assert_eq(res.would_copy, 100);
  cr_assert_eq(res.would_delete, 1);
  cr_assert_eq(res.would_copy_bytes, p.total_bytes, "%llu of %llu bytes listed",
               (unsigned long long)res.would_copy_bytes, (unsigned long long)p.total_bytes);
  cr_assert_eq(count(b, ""), 1, "dry_run changed the destination");
  assert_obj(b, "", "extra", 1, 1);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

Test(tree, include_exclude_and_range) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  put_obj(a, "", "a/1.jpg", 1, 1);
  put_obj(a, "", "a/2.png", 1, 2);
  put_obj(a, "", "b/3.jpg", 1, 3);
  put_obj(a, "", "b/skip/4.jpg", 1, 4);
  put_obj(a, "", "c/5.txt", 1, 5);
  sluice_progress p;
  TH_OK(run(a, "", b, "inc/", th_opts("include", "*.jpg\n*.txt", "exclude", "*/skip/*", NULL), &p,
            NULL));
  cr_assert_eq(p.objects_done, 3);
  cr_assert_eq(count(b, "inc/"), 3);
  assert_obj(b, "inc/", "b/3.jpg", 1, 3);
  /* Two shards that share a boundary cover the tree exactly once. */
  TH_OK(run(a, "", b, "shard/", th_opts("to", "b/3.jpg", NULL), &p, NULL));
  cr_assert_eq(p.objects_done, 2);
  TH_OK(run(a, "", b, "shard/", th_opts("from", "b/3.jpg", NULL), &p, NULL));
  cr_assert_eq(p.objects_done, 3);
  cr_assert_eq(count(b, "shard/"), 5);
  /* The same shards as syncs, each with delete: neither touches the other's keys. */
  TH_OK(run(a, "", b, "ss/", th_opts("mode", "sync", "delete", "true", "to", "b/3.jpg", NULL), &p,
            NULL));
  cr_assert_eq(p.objects_done, 2);
  TH_OK(run(a, "", b, "ss/", th_opts("mode", "sync", "delete", "true", "from", "b/3.jpg", NULL), &p,
            NULL));
  cr_assert_eq(p.objects_done, 3);
  cr_assert_eq(p.objects_deleted, 0);
  TH_OK(run(a, "", b, "ss/", th_opts("mode", "sync", "delete", "true", "to", "b/3.jpg", NULL), &p,
            NULL));
  cr_assert_eq(p.objects_skipped, 2);
  cr_assert_eq(p.objects_deleted, 0);
  cr_assert_eq(count(b, "ss/"), 5);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

/* Directories are key prefixes used as given: "/lead" is the prefix of the
 * keys "/lead/...", not of "lead/...".  On fs a leading '/' names no file
 * under the root: refused, naming it. */
Test(tree, a_leading_slash_is_part_of_the_prefix) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  put_obj(a, "", "/lead/x", 3, 1);
  put_obj(a, "", "lead/y", 3, 2);
  sluice_progress p;
  TH_OK(run(a, "/lead", b, "/out", NULL, &p, NULL));
  cr_assert_eq(p.objects_done, 1);
  assert_obj(b, "/out/", "x", 3, 1);
  cr_assert_eq(count(b, "out/"), 0);
  char *dir = th_tmpdir();
  sluice_operator *f = th_fs_op(dir);
  sluice_error *err = run(a, "/lead", f, "/abs", NULL, &p, NULL);
  cr_assert_not_null(err);
  cr_assert(strstr(sluice_error_message(err), "/abs"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_operator_free(f);
  th_rmrf(dir);
  free(dir);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

/* A destination file stands where the tree needs a directory: the objects
 * under it fail, each reported, and the rest are copied. */
Test(tree, failed_objects_are_reported_and_the_rest_go_on) {
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root), *mem = th_mem_op();
  unsigned n = 300;
  make_tree(mem, "", n);
  char *blocker = th_join(root, "d05");
  th_make_file(blocker, 1, 1);
  free(blocker);
  unsigned blocked = 0;
  char name[256];
  for (unsigned i = 0; i < n; i++) {
    name_of(i, name, sizeof name);
    blocked += !strncmp(name, "d05/", 4);
  }
  sluice_progress p;
  struct results res;
  sluice_error *err = run(mem, "", fs, "", SMALL_CHUNK(), &p, &res);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_PARTIAL, "%s", sluice_error_message(err));
  cr_assert(strstr(sluice_error_message(err), "objects failed"), "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(p.objects_failed, blocked);
  cr_assert_eq(res.failed, blocked);
  cr_assert(!strncmp(res.first_failed, "d05/", 4), "%s", res.first_failed);
  cr_assert_eq(p.objects_done, n - blocked);
  cr_assert_eq(th_count_files(root), (int)(n - blocked + 1), "nothing partial left");
  /* fail_fast: the first failure ends the job with its own error. */
  err = run(mem, "", fs, "", th_opts("fail_fast", "true", "include", "d05/*", NULL), &p, NULL);
  cr_assert(err != NULL);
  cr_assert_neq(sluice_error_kind(err), SLUICE_ERR_PARTIAL);
  sluice_error_free(err);
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
}

Test(tree, huge_and_tiny_objects_share_a_small_budget) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  /* Budget for one large object (64 KiB x (1 + 1 + 1)) and change. */
  for (unsigned i = 0; i < 8; i++) {
    char name[32];
    snprintf(name, sizeof name, "big%u", i);
    put_obj(a, "", name, 1000 * 1000 + i, 100 + i);
  }
  make_tree(a, "small/", 200);
  sluice_progress p;
  TH_OK(run(a, "", b, "",
            th_opts("chunk", "64KiB", "memory_limit", "1MiB", "transfers", "32", "concurrent", "8",
                    "queue_depth", "8", NULL),
            &p, NULL));
  cr_assert_eq(p.objects_done, 208);
  for (unsigned i = 0; i < 8; i++) {
    char name[32];
    snprintf(name, sizeof name, "big%u", i);
    assert_obj(b, "", name, 1000 * 1000 + i, 100 + i);
  }
  assert_tree(b, "small/", 200);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

/* The callback holds the job at its first result (the callback is
 * serialised, so every worker soon waits for it) until the test has
 * cancelled: the job cannot finish first however fast the machine. */
struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int reached, open;
};

static void gate_cb(const sluice_object_result *r, void *ud) {
  (void)r;
  struct gate *g = ud;
  pthread_mutex_lock(&g->lock);
  g->reached = 1;
  pthread_cond_broadcast(&g->cond);
  while (!g->open) pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
}

/* Runs a tree copy held at its first result and cancels it there; the job
 * must end CANCELED.  Returns its last progress. */
static sluice_progress cancel_at_gate(sluice_operator *src, sluice_operator *dst,
                                      const char *dst_dir, const char *chunk,
                                      const char *transfers) {
  struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  sluice_options *o = th_opts("chunk", chunk, "transfers", transfers, NULL);
  TH_OK(sluice_options_set_object_cb(o, gate_cb, &g));
  sluice_job *job;
  TH_OK(sluice_tree_start(src, "", dst, dst_dir, o, &job));
  sluice_options_free(o);
  pthread_mutex_lock(&g.lock);
  while (!g.reached) pthread_cond_wait(&g.cond, &g.lock);
  sluice_job_cancel(job);
  g.open = 1;
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.lock);
  sluice_error *err = sluice_job_wait(job);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_CANCELED, "%s", sluice_error_message(err));
  sluice_error_free(err);
  sluice_progress p = {.struct_size = sizeof p};
  TH_OK(sluice_job_progress(job, &p));
  sluice_job_free(job);
  return p;
}

Test(tree, cancel_mid_tree_leaves_nothing_partial) {
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root), *mem = th_mem_op();
  unsigned n = 400;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%04u", i);
    put_obj(mem, "", name, i % 5 ? 3000 : 300 * 1000, i);
  }
  sluice_progress p = cancel_at_gate(mem, fs, "out/", "64KiB", "4");
  cr_assert_lt(p.objects_done, n);
  /* Whatever was finished is whole; nothing else is there. */
  cr_assert_eq(th_count_files(root), (int)p.objects_done);
  for (unsigned i = 0; i < n; i++) {
    char name[32], path[64];
    snprintf(name, sizeof name, "f%04u", i);
    snprintf(path, sizeof path, "out/%s", name);
    sluice_metadata *m = NULL;
    sluice_error *e = sluice_stat(fs, path, &m);
    if (!e) assert_obj(fs, "out/", name, i % 5 ? 3000 : 300 * 1000, i);
    sluice_error_free(e);
    sluice_metadata_free(m);
  }
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
}

Test(tree, names_a_directory_cannot_hold_fail_and_nothing_escapes) {
  char *root = th_tmpdir();
  char *dst = th_join(root, "dst");
  mkdir(dst, 0755);
  sluice_operator *fs = th_fs_op(dst), *mem = th_mem_op();
  put_obj(mem, "", "ok", 2, 1);
  sluice_progress p;
  TH_OK(run(mem, "", fs, "", NULL, &p, NULL));
  cr_assert_eq(p.objects_done, 1);
  cr_assert_eq(th_count_files(root), 1);
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
  free(dst);
}

Test(tree, arguments_and_options_are_checked) {
  sluice_operator *m = th_mem_op();
  sluice_job *job = (sluice_job *)&job;
  TH_KIND(sluice_tree_start(NULL, "", m, "d/", NULL, &job), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(job);
  TH_KIND(sluice_tree_start(m, NULL, m, "d/", NULL, &job), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_tree_start(m, "", m, "d/", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  const char *bad[][2] = {{"mode", "mirror"},  {"delete", "true"},       {"compare", "md5"},
                          {"transfers", "0"},  {"memory_limit", "1MiB"}, {"bogus", "1"},
                          {"dry_run", "maybe"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sluice_options *o = th_opts(bad[i][0], bad[i][1], NULL);
    TH_KIND(sluice_tree_start(m, "", m, "d/", o, &job), SLUICE_ERR_INVALID_ARGUMENT);
    sluice_options_free(o);
  }
  TH_KIND(sluice_options_set_object_cb(NULL, NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert_null(sluice_object_result_path(NULL));
  cr_assert_null(sluice_object_result_error(NULL));
  /* A single-object job reports no objects (struct_size protocol). */
  sluice_operator_free(m);
}

Test(tree, bwlimit_is_accepted_and_copies_equal) {
  sluice_operator *a = th_mem_op(), *b = th_mem_op();
  make_tree(a, "", 20);
  sluice_progress p;
  TH_OK(run(a, "", b, "", th_opts("bwlimit", "100MiB", NULL), &p, NULL));
  assert_tree(b, "", 20);
  sluice_operator_free(a);
  sluice_operator_free(b);
}

/* ------------------------------------------------------------------ */
/* Against S3 (Swift's s3api; skipped unless check-servers.sh runs it)  */
/* ------------------------------------------------------------------ */

static th_s3_server E;

/* S3's smallest part; the trees' large objects are a little over it. */
#define S3_CHUNK(...) th_opts("chunk", "5MiB", ##__VA_ARGS__, NULL)

static sluice_operator *s3_op(const char *endpoint) {
  th_s3_need_server(&E);
  sluice_options *o = th_opts("endpoint", endpoint ? endpoint : E.endpoint, "region", E.region,
                              "bucket", E.bucket, "access_key_id", E.access_key,
                              "secret_access_key", E.secret_key, "max_attempts", "2", NULL);
  sluice_operator *op;
  TH_OK(sluice_operator_new("s3", o, &op));
  sluice_options_free(o);
  return op;
}

/* "tree-<pid>-<stamp>/": each test runs in its own process. */
static void new_prefix(char out[64]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(out, 64, "tree-%ld-%lx%09ld/", (long)getpid(), (long)ts.tv_sec, ts.tv_nsec);
}

/* Multipart uploads in progress under prefix (tests/s3_uploads). */
static int uploads_left(const char *prefix) {
  char exe[4096], cmd[4300];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  cr_assert(n > 0);
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  *slash = '\0';
  /* libtool puts the real binary in .libs/ */
  if (slash - exe >= 6 && !strcmp(slash - 6, "/.libs")) slash[-6] = '\0';
  snprintf(cmd, sizeof cmd, "'%s/s3_uploads' '%s'", exe, prefix);
  FILE *f = popen(cmd, "r");
  cr_assert(f);
  int lines = 0, c;
  while ((c = fgetc(f)) != EOF) lines += c == '\n';
  cr_assert_eq(pclose(f), 0, "%s failed", cmd);
  return lines;
}

static void s3_cleanup(sluice_operator *op, const char *prefix) {
  sluice_error_free(sluice_delete_all(op, prefix));
}

Test(tree_s3, fs_to_s3_to_fs_and_s3_to_s3) {
  sluice_operator *s3 = s3_op(NULL), *mem = th_mem_op();
  char pfx[64], path[128];
  new_prefix(pfx);
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root);
  /* Swift takes tens of ms per PUT on a busy machine: a few hundred. */
  unsigned n = sanitized() ? 100 : 400;
  make_tree(mem, "", n);
  sluice_progress p;
  TH_OK(run(mem, "", fs, "src/", S3_CHUNK(), &p, NULL));
  snprintf(path, sizeof path, "%sup/", pfx);
  struct results res;
  TH_OK(run(fs, "src", s3, path, S3_CHUNK(), &p, &res));
  cr_assert_eq(p.objects_done, n);
  cr_assert_eq(res.copied, n);
  assert_tree(s3, path, n);
  TH_OK(run(s3, path, fs, "down/", S3_CHUNK(), &p, NULL));
  assert_tree(fs, "down/", n);
  char path2[128];
  snprintf(path2, sizeof path2, "%scopy/", pfx);
  TH_OK(run(s3, path, s3, path2, S3_CHUNK(), &p, NULL));
  assert_tree(s3, path2, n);
  cr_assert_eq(count(s3, pfx), 2 * n);
  cr_assert_eq(uploads_left(pfx), 0);
  s3_cleanup(s3, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(fs);
  sluice_operator_free(mem);
  th_rmrf(root);
  free(root);
}

Test(tree_s3, sync_twice_then_delete) {
  sluice_operator *s3 = s3_op(NULL), *mem = th_mem_op();
  char pfx[64], a[128], b[128];
  new_prefix(pfx);
  snprintf(a, sizeof a, "%sa/", pfx);
  snprintf(b, sizeof b, "%sb/", pfx);
  unsigned n = sanitized() ? 60 : 200;
  make_tree(mem, "", n);
  sluice_progress p;
  TH_OK(run(mem, "", s3, a, NULL, &p, NULL));
  TH_OK(run(s3, a, s3, b, th_opts("mode", "sync", NULL), &p, NULL));
  cr_assert_eq(p.objects_done, n);
  TH_OK(run(s3, a, s3, b, th_opts("mode", "sync", NULL), &p, NULL));
  cr_assert_eq(p.objects_done, 0);
  cr_assert_eq(p.objects_skipped, n);
  /* checksum: single-part ETags are MD5s on both sides. */
  TH_OK(run(s3, a, s3, b, th_opts("mode", "sync", "compare", "checksum", NULL), &p, NULL));
  cr_assert_eq(p.objects_skipped, n);
  put_obj(s3, b, "extra/1", 1, 1);
  put_obj(s3, b, "x/y", 1, 1);
  TH_OK(run(s3, a, s3, b, th_opts("mode", "sync", "delete", "true", NULL), &p, NULL));
  cr_assert_eq(p.objects_deleted, 2);
  cr_assert_eq(count(s3, b), n);
  s3_cleanup(s3, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(mem);
}

/* compare=checksum with an MD5 on one side only (an S3 ETag against a
 * file): the file's bytes decide, in both directions and in a dry run.  A
 * changed file of the same size with an old time is found (size_mtime
 * would miss it); a multipart ETag decides nothing and the object is
 * copied. */
static void set_old_mtime(const char *root, const char *rel) {
  char *p = th_join(root, rel);
  struct timespec old[2] = {{.tv_sec = 946684800}, {.tv_sec = 946684800}};
  cr_assert(utimensat(AT_FDCWD, p, old, 0) == 0, "utimensat %s", p);
  free(p);
}

static sluice_progress checksum_sync(sluice_operator *src, const char *sdir, sluice_operator *dst,
                                     const char *ddir, int dry) {
  sluice_progress p;
  TH_OK(run(src, sdir, dst, ddir,
            th_opts("mode", "sync", "compare", "checksum", "chunk", "5MiB", "dry_run",
                    dry ? "true" : "false", NULL),
            &p, NULL));
  return p;
}

/* Two file trees list no checksum: both sides are read, so a second sync
 * copies nothing and a file changed under the same size and an old time is
 * found by its bytes. */
Test(tree, checksum_sync_of_two_file_trees_reads_both) {
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root);
  unsigned n = 20;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "d%u/f%02u", i % 3, i);
    put_obj(fs, "a/", name, 1 + i * 4099, i);
  }
  sluice_progress p = checksum_sync(fs, "a/", fs, "b/", 0);
  cr_assert_eq(p.objects_done, n);
  p = checksum_sync(fs, "a/", fs, "b/", 0);
  cr_assert_eq(p.objects_skipped, n, "skipped %llu", (unsigned long long)p.objects_skipped);
  cr_assert_eq(p.objects_done, 0);

  put_obj(fs, "b/", "d1/f04", 1 + 4 * 4099, 77);
  set_old_mtime(root, "b/d1/f04");
  p = checksum_sync(fs, "a/", fs, "b/", 1);
  cr_assert_eq(p.objects_would_copy, 1, "dry run: d1/f04 only");
  cr_assert_eq(p.objects_done, 0, "dry run: nothing copied");
  assert_obj(fs, "b/", "d1/f04", 1 + 4 * 4099, 77);
  p = checksum_sync(fs, "a/", fs, "b/", 0);
  cr_assert_eq(p.objects_done, 1);
  cr_assert_eq(p.objects_skipped, n - 1);
  assert_obj(fs, "b/", "d1/f04", 1 + 4 * 4099, 4);
  sluice_operator_free(fs);
  th_rmrf(root);
  free(root);
}

Test(tree_s3, checksum_sync_reads_the_side_that_lists_none) {
  sluice_operator *s3 = s3_op(NULL);
  char pfx[64];
  new_prefix(pfx);
  char *root = th_tmpdir();
  sluice_operator *fs = th_fs_op(root);
  unsigned n = 30;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "c%02u", i);
    put_obj(fs, "up/", name, 100 + i * 997, i);
  }
  put_obj(fs, "up/", "multipart", (5u << 20) + 1, 99); /* over one 5 MiB part */
  sluice_progress p;
  TH_OK(run(fs, "up/", s3, pfx, S3_CHUNK(), &p, NULL));
  cr_assert_eq(p.objects_done, n + 1);

  p = checksum_sync(fs, "up/", s3, pfx, 0);
  cr_assert_eq(p.objects_skipped, n, "skipped %llu", (unsigned long long)p.objects_skipped);
  cr_assert_eq(p.objects_done, 1, "only the multipart object is copied again");

  /* Same size, other bytes, an old time: only the bytes tell. */
  put_obj(fs, "up/", "c07", 100 + 7 * 997, 1007);
  set_old_mtime(root, "up/c07");
  p = checksum_sync(fs, "up/", s3, pfx, 1);
  cr_assert_eq(p.objects_would_copy, 2, "dry run: c07 and the multipart object");
  cr_assert_eq(p.objects_done, 0, "dry run: nothing copied");
  assert_obj(s3, pfx, "c07", 100 + 7 * 997, 7); /* the dry run wrote nothing */
  p = checksum_sync(fs, "up/", s3, pfx, 0);
  cr_assert_eq(p.objects_done, 2);
  cr_assert_eq(p.objects_skipped, n - 1);
  assert_obj(s3, pfx, "c07", 100 + 7 * 997, 1007);

  /* The other way: the destination's files are read. */
  TH_OK(run(s3, pfx, fs, "down/", S3_CHUNK(), &p, NULL));
  put_obj(fs, "down/", "c11", 100 + 11 * 997, 5);
  set_old_mtime(root, "down/c11");
  p = checksum_sync(s3, pfx, fs, "down/", 0);
  cr_assert_eq(p.objects_done, 2, "c11 and the multipart object");
  cr_assert_eq(p.objects_skipped, n - 1);
  assert_obj(fs, "down/", "c11", 100 + 11 * 997, 11);

  s3_cleanup(s3, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(fs);
  th_rmrf(root);
  free(root);
}

/* The proxy refuses the PUTs of keys holding "bad": those objects fail,
 * each reported, and the rest arrive. */
Test(tree_s3, refused_objects_fail_and_the_rest_arrive) {
  sluice_operator *direct = s3_op(NULL), *mem = th_mem_op();
  th_proxy px = {0};
  const char *colon = strrchr(strstr(E.endpoint, "://") + 3, ':');
  const char *args[] = {"--http-status", "403", "--match", "^PUT [^ ]*bad", NULL};
  th_proxy_start(&px, atoi(colon + 1), args);
  char ep[64], pfx[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", px.port);
  sluice_operator *s3 = s3_op(ep);
  new_prefix(pfx);
  unsigned n = 36, bad = 0;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, i % 6 ? "ok%02u" : "bad%02u", i);
    bad += !(i % 6);
    put_obj(mem, "", name, i % 4 ? 100 : 6 * 1024 * 1024 + i, i);
  }
  sluice_progress p;
  struct results res;
  sluice_error *err = run(mem, "", s3, pfx, S3_CHUNK(), &p, &res);
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_PARTIAL, "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(p.objects_failed, bad);
  cr_assert_eq(res.failed, bad);
  cr_assert_eq(p.objects_done, n - bad);
  cr_assert_eq(count(direct, pfx), n - bad);
  cr_assert_eq(uploads_left(pfx), 0, "the failed multipart uploads were aborted");
  th_proxy_stop(&px);
  s3_cleanup(direct, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(direct);
  sluice_operator_free(mem);
}

/* Object i of small_objects_take_one_request_each: its name and size. */
static uint64_t small_case(unsigned i, char name[32]) {
  snprintf(name, 32, i == 7 ? "changed%02u" : "f%02u", i);
  return i == 3 ? 6 * 1024 * 1024 : 300 + i;
}

/* A small S3 object is read as listed: one GET, no HEAD.  One the store
 * answers 412 for (changed since it was listed) is read again as the store
 * has it now, with a HEAD; a large one is HEADed first as before. */
Test(tree_s3, small_objects_take_one_request_each) {
  sluice_operator *direct = s3_op(NULL), *mem = th_mem_op();
  char pfx[64];
  new_prefix(pfx);
  unsigned n = 20;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    uint64_t size = small_case(i, name);
    put_obj(mem, "", name, size, i);
  }
  sluice_progress p;
  TH_OK(run(mem, "", direct, pfx, S3_CHUNK(), &p, NULL));
  th_proxy px = {0};
  const char *colon = strrchr(strstr(E.endpoint, "://") + 3, ':');
  const char *args[] = {"--http-status",       "412", "--times", "1", "--match",
                        "^GET [^ ]*changed07", NULL};
  th_proxy_start(&px, atoi(colon + 1), args);
  char ep[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%d", px.port);
  sluice_operator *s3 = s3_op(ep);
  char *dir = th_tmpdir();
  sluice_operator *fs = th_fs_op(dir);
  TH_OK(run(s3, pfx, fs, "out", S3_CHUNK(), &p, NULL));
  cr_assert_eq(p.objects_done, n);
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    uint64_t size = small_case(i, name);
    assert_obj(fs, "out/", name, size, i);
  }
  cr_assert_eq(th_proxy_log_count(&px, "FAULT http-status 412", NULL), 1);
  /* HEADs: the large object's and the refused one's second try. */
  cr_assert_eq(th_proxy_log_count(&px, "request \"HEAD ", NULL), 2, "HEADs: %d",
               th_proxy_log_count(&px, "request \"HEAD ", NULL));
  th_proxy_stop(&px);
  sluice_operator_free(fs);
  th_rmrf(dir);
  free(dir);
  s3_cleanup(direct, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(direct);
  sluice_operator_free(mem);
}

Test(tree_s3, cancel_aborts_every_upload) {
  sluice_operator *s3 = s3_op(NULL), *mem = th_mem_op();
  char pfx[64];
  new_prefix(pfx);
  unsigned n = 40;
  for (unsigned i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%02u", i);
    put_obj(mem, "", name, i % 2 ? 500 : 6 * 1024 * 1024 + i, i);
  }
  sluice_progress p = cancel_at_gate(mem, s3, pfx, "5MiB", "8");
  /* A PutObject the server finished just as the cancel came is there,
   * whole, though not counted; nothing else is. */
  cr_assert_geq(count(s3, pfx), p.objects_done);
  cr_assert_lt(count(s3, pfx), n);
  for (unsigned i = 0; i < n; i++) {
    char name[32], path[96];
    snprintf(name, sizeof name, "f%02u", i);
    snprintf(path, sizeof path, "%s%s", pfx, name);
    sluice_metadata *m = NULL;
    sluice_error *e = sluice_stat(s3, path, &m);
    if (!e) assert_obj(s3, pfx, name, i % 2 ? 500 : 6 * 1024 * 1024 + i, i);
    sluice_error_free(e);
    sluice_metadata_free(m);
  }
  cr_assert_eq(uploads_left(pfx), 0, "no multipart upload left in progress");
  s3_cleanup(s3, pfx);
  sluice_operator_free(s3);
  sluice_operator_free(mem);
}
