/* SPDX-License-Identifier: MIT */
/*
 * The fs service: containment beneath the root (symlinks, ".."), atomic
 * writes through a temporary file, fsync, FIFOs as streams, directories
 * and listing metadata.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "sluice.h"

static char *root;    /* the operator's root */
static char *outside; /* a sibling directory the operator must never touch */
static sluice_operator *op;

static void setup(void) {
  root = th_tmpdir();
  outside = th_tmpdir();
  op = th_fs_op(root);
}

static void teardown(void) {
  sluice_operator_free(op);
  op = NULL;
  th_rmrf(root);
  th_rmrf(outside);
  free(root);
  free(outside);
  root = outside = NULL;
}

TestSuite(fs, .init = setup, .fini = teardown, .timeout = 20);

/* ---- local helpers ---- */

static char *at(const char *dir, const char *rel) { return th_join(dir, rel); }

static void mkdir_at(const char *dir, const char *rel) {
  char *p = at(dir, rel);
  cr_assert(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
  free(p);
}

static void file_put(const char *dir, const char *rel, const char *content) {
  char *p = at(dir, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
  size_t n = strlen(content);
  cr_assert_eq(write(fd, content, n), (ssize_t)n);
  close(fd);
  free(p);
}

/* Contents of dir/rel as a new string, or NULL when it cannot be opened. */
static char *file_get(const char *dir, const char *rel) {
  char *p = at(dir, rel);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  free(p);
  if (fd < 0) return NULL;
  struct stat st;
  cr_assert(fstat(fd, &st) == 0);
  char *buf = malloc((size_t)st.st_size + 1);
  cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
  buf[st.st_size] = '\0';
  close(fd);
  return buf;
}

static int lexists(const char *dir, const char *rel) {
  char *p = at(dir, rel);
  struct stat st;
  int rc = lstat(p, &st);
  free(p);
  return rc == 0;
}

static void symlink_at(const char *target, const char *dir, const char *rel) {
  char *p = at(dir, rel);
  cr_assert(symlink(target, p) == 0, "symlink %s -> %s: %s", p, target, strerror(errno));
  free(p);
}

/* Names in dir (not recursive) starting with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "opendir %s", dir);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

static void expect_content(const char *rel, const char *want) {
  void *buf;
  size_t len;
  sluice_error *err = sluice_read(op, rel, 0, UINT64_MAX, &buf, &len);
  if (err) {
    char msg[512];
    snprintf(msg, sizeof msg, "[%s] %s", sluice_strerror(sluice_error_kind(err)),
             sluice_error_message(err));
    sluice_error_free(err); /* freed before the assert, so sanitizers stay quiet */
    cr_assert_fail("read '%s' failed: %s", rel, msg);
  }
  cr_assert_eq(len, strlen(want), "%s: %zu bytes, expected %zu", rel, len, strlen(want));
  cr_assert(memcmp(buf, want, len) == 0, "%s: content differs", rel);
  sluice_free(buf);
}

/* ------------------------------------------------------------------ */
/* Containment                                                         */
/* ------------------------------------------------------------------ */

Test(fs, symlink_out_of_root_refused_for_reading) {
  file_put(outside, "secret", "outside-secret");
  char *target = at(outside, "secret");
  symlink_at(target, root, "link"); /* absolute */
  free(target);
  char rel[4096];
  /* A relative link that climbs out: ../<outside's name>/secret. */
  snprintf(rel, sizeof rel, "../%s/secret", strrchr(outside, '/') + 1);
  symlink_at(rel, root, "rlink");
  static const char *const links[] = {"link", "rlink"};
  for (int i = 0; i < 2; i++) {
    void *buf = (void *)(uintptr_t)1;
    size_t len = 3;
    TH_KIND(sluice_read(op, links[i], 0, UINT64_MAX, &buf, &len), SLUICE_ERR_PERMISSION_DENIED);
    cr_assert_null(buf);
    cr_assert_eq(len, 0);
    sluice_reader *r = (sluice_reader *)(uintptr_t)1;
    TH_KIND(sluice_reader_open(op, links[i], NULL, &r), SLUICE_ERR_PERMISSION_DENIED);
    cr_assert_null(r);
    sluice_metadata *m = (sluice_metadata *)(uintptr_t)1;
    TH_KIND(sluice_stat(op, links[i], &m), SLUICE_ERR_PERMISSION_DENIED);
    cr_assert_null(m);
  }
  /* A symlinked directory pointing out cannot be read through either. */
  symlink_at(outside, root, "outdir");
  void *buf;
  size_t len;
  TH_KIND(sluice_read(op, "outdir/secret", 0, UINT64_MAX, &buf, &len),
          SLUICE_ERR_PERMISSION_DENIED);
  sluice_lister *l = (sluice_lister *)(uintptr_t)1;
  TH_KIND(sluice_list(op, "outdir/", NULL, &l), SLUICE_ERR_PERMISSION_DENIED);
  cr_assert_null(l);
  /* The outside file is intact. */
  char *s = file_get(outside, "secret");
  cr_assert_str_eq(s, "outside-secret");
  free(s);
}

Test(fs, symlinked_dir_out_of_root_refused_for_writing) {
  symlink_at(outside, root, "out");
  sluice_error *err = sluice_write(op, "out/planted", "evil", 4, NULL);
  cr_assert_not_null(err, "wrote through a symlink that leaves the root");
  cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_PERMISSION_DENIED, "[%s] %s",
               sluice_strerror(sluice_error_kind(err)), sluice_error_message(err));
  sluice_error_free(err);
  sluice_writer *w = (sluice_writer *)(uintptr_t)1;
  err = sluice_writer_open(op, "out/deeper/planted", NULL, &w);
  cr_assert_not_null(err, "opened a writer through a symlink that leaves the root");
  cr_assert_null(w);
  sluice_error_free(err);
  /* Nothing at all appeared outside, not even a directory or a temp. */
  cr_assert_eq(th_count_files(outside), 0);
  cr_assert(!lexists(outside, "deeper"));
  /* create_dir and delete refuse too. */
  err = sluice_create_dir(op, "out/newdir/");
  cr_assert_not_null(err, "created a directory through a symlink that leaves the root");
  sluice_error_free(err);
  cr_assert(!lexists(outside, "newdir"));
  file_put(outside, "victim", "v");
  err = sluice_delete(op, "out/victim");
  sluice_error_free(err);
  cr_assert(lexists(outside, "victim"), "deleted a file outside the root through a symlink");
}

/* Writing onto a symlink (the last component) that points outside must
 * not change the outside file: either refused or the link itself replaced. */
Test(fs, write_onto_symlink_pointing_out) {
  file_put(outside, "target", "original");
  char *target = at(outside, "target");
  symlink_at(target, root, "lnk");
  free(target);
  sluice_error *err = sluice_write(op, "lnk", "overwritten", 11, NULL);
  sluice_error_free(err);
  char *s = file_get(outside, "target");
  cr_assert_str_eq(s, "original", "a write through a symlink changed a file outside the root");
  free(s);
  cr_assert_eq(th_count_files(outside), 1);
  /* Deleting the link removes the link, never its target. */
  TH_OK(sluice_delete(op, "lnk"));
  cr_assert(lexists(outside, "target"));
  cr_assert(!lexists(root, "lnk"));
}

Test(fs, symlink_within_root_works) {
  mkdir_at(root, "real");
  file_put(root, "real/file", "inside");
  symlink_at("real/file", root, "flink");      /* to a file */
  symlink_at("real", root, "dlink");           /* to a directory */
  symlink_at("../real/file", root, "real/up"); /* climbs, but stays inside */
  expect_content("flink", "inside");
  expect_content("dlink/file", "inside");
  expect_content("real/up", "inside");
  sluice_metadata *m;
  TH_OK(sluice_stat(op, "flink", &m));
  cr_assert_eq(sluice_metadata_size(m), 6);
  cr_assert_eq(sluice_metadata_is_dir(m), 0);
  sluice_metadata_free(m);
  TH_OK(sluice_stat(op, "dlink/", &m));
  cr_assert_eq(sluice_metadata_is_dir(m), 1);
  sluice_metadata_free(m);
  /* Writing through the in-root directory link lands in the real dir. */
  TH_OK(sluice_write(op, "dlink/new", "via-link", 8, NULL));
  char *s = file_get(root, "real/new");
  cr_assert_not_null(s, "the write through dlink did not land in real/");
  cr_assert_str_eq(s, "via-link");
  free(s);
  /* And a listing of the link lists the real directory. */
  sluice_lister *l;
  TH_OK(sluice_list(op, "dlink/", NULL, &l));
  int n = 0;
  const sluice_entry *e;
  for (;;) {
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    n++;
  }
  sluice_lister_free(l);
  cr_assert_eq(n, 3, "dlink/ lists %d entries, expected file, up and new", n);
}

/* An absolute symlink whose target is inside the root also stays beneath
 * it (lib/fs/fs.h: "following symlinks only while they stay beneath
 * root"; the realpath fallback accepts it). */
Test(fs, absolute_symlink_within_root_works) {
  mkdir_at(root, "real");
  file_put(root, "real/file", "inside");
  char *abs = at(root, "real/file");
  symlink_at(abs, root, "aflink");
  free(abs);
  abs = at(root, "real");
  symlink_at(abs, root, "adlink");
  free(abs);
  expect_content("aflink", "inside");
  expect_content("adlink/file", "inside");
}

Test(fs, dotdot_refused) {
  mkdir_at(root, "a");
  file_put(root, "b", "bee");
  TH_KIND(sluice_write(op, "a/../b", "x", 1, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  void *buf;
  size_t len;
  TH_KIND(sluice_read(op, "a/../b", 0, UINT64_MAX, &buf, &len), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_metadata *m;
  TH_KIND(sluice_stat(op, "a/../b", &m), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_delete(op, "a/../b"), SLUICE_ERR_INVALID_ARGUMENT);
  char *s = file_get(root, "b");
  cr_assert_str_eq(s, "bee");
  free(s);
}

/* No name fs creates is one a terminal could act on, or that is not
 * UTF-8: refused, with the name escaped in the message.  Such names
 * already on the disk stay readable, listable and removable. */
Test(fs, unsafe_names_not_created) {
  static const char *const names[] = {
      "c1\xc2\x9b"
      "31m",
      "d\xc2\x85/x", "latin\xe9", "lone\x9b", "cut\xe2\x82"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    sluice_error *err = sluice_write(op, names[i], "x", 1, NULL);
    cr_assert_eq(sluice_error_kind(err), SLUICE_ERR_INVALID_ARGUMENT, "%s", names[i]);
    const char *msg = sluice_error_message(err);
    cr_assert(strstr(msg, "not a name to create"), "%s", msg);
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++)
      cr_assert(*c >= 0x20 && *c < 0x7f, "raw byte 0x%02x in: %s", *c, msg);
    sluice_error_free(err);
  }
  TH_KIND(sluice_create_dir(op, "dir\xc2\x9b/"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_create_dir(op, "ok/dir\xc2\x9b/"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_OK(sluice_write(op, "caf\xc3\xa9/ok", "x", 1, NULL));
  cr_assert_eq(th_count_files(root), 1, "nothing but the UTF-8 name was written");
  /* Already there: a directory is written into, a file read, listed and
   * removed, as they are. */
  mkdir_at(root,
           "latin\xe9"
           "dir");
  TH_OK(sluice_write(op,
                     "latin\xe9"
                     "dir/new",
                     "x", 1, NULL));
  TH_OK(sluice_create_dir(op,
                          "latin\xe9"
                          "dir/"));
  TH_KIND(sluice_write(op,
                       "latin\xe9"
                       "dir/new\xe9",
                       "x", 1, NULL),
          SLUICE_ERR_INVALID_ARGUMENT);
  file_put(root, "old\xe9", "latin-1");
  void *buf;
  size_t len;
  TH_OK(sluice_read(op, "old\xe9", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, 7);
  sluice_free(buf);
  sluice_lister *l;
  const sluice_entry *e;
  int seen = 0;
  TH_OK(sluice_list(op, "", NULL, &l));
  while (!sluice_lister_next(l, &e) && e) seen += !strcmp(sluice_entry_path(e), "old\xe9");
  sluice_lister_free(l);
  cr_assert_eq(seen, 1);
  TH_OK(sluice_delete(op, "old\xe9"));
}

/* Recursive listing never follows a symlink out of the root. */
Test(fs, listing_stays_in_root) {
  file_put(outside, "o1", "1");
  mkdir_at(outside, "od");
  file_put(outside, "od/o2", "2");
  symlink_at(outside, root, "out");
  char *t = at(outside, "o1");
  symlink_at(t, root, "ofile");
  free(t);
  file_put(root, "in", "i");
  for (int rec = 0; rec < 2; rec++) {
    sluice_options *o = th_opts("recursive", rec ? "true" : "false", NULL);
    sluice_lister *l;
    TH_OK(sluice_list(op, "", o, &l));
    sluice_options_free(o);
    int saw_in = 0;
    for (;;) {
      const sluice_entry *e;
      TH_OK(sluice_lister_next(l, &e));
      if (!e) break;
      const char *p = sluice_entry_path(e);
      cr_assert(strstr(p, "o1") == NULL && strstr(p, "o2") == NULL,
                "listing (recursive=%d) shows '%s' from outside the root", rec, p);
      cr_assert(!rec || strncmp(p, "out/", 4) != 0,
                "recursive listing descended into a link leaving the root: '%s'", p);
      saw_in |= !strcmp(p, "in");
    }
    sluice_lister_free(l);
    cr_assert(saw_in, "the real file is missing from the listing");
  }
}

/* A dangling symlink is listed (as an empty file), so that a tree copy
 * reading it fails with its name instead of passing it by without a word. */
Test(fs, dangling_symlink_listed_and_fails_by_name) {
  file_put(root, "a", "a");
  symlink_at("nowhere", root, "b");
  for (int rec = 0; rec < 2; rec++) {
    sluice_options *o = th_opts("recursive", rec ? "true" : "false", NULL);
    sluice_lister *l;
    TH_OK(sluice_list(op, "", o, &l));
    sluice_options_free(o);
    int saw_b = 0;
    for (int i = 0; i < 10; i++) {
      const sluice_entry *e;
      TH_OK(sluice_lister_next(l, &e));
      if (!e) break;
      if (strcmp(sluice_entry_path(e), "b") == 0) {
        saw_b = 1;
        cr_expect_eq(sluice_metadata_size(sluice_entry_metadata(e)), 0);
        cr_expect_eq(sluice_metadata_is_dir(sluice_entry_metadata(e)), 0);
      }
    }
    sluice_lister_free(l);
    cr_assert(saw_b, "listing (recursive=%d) left the dangling symlink out", rec);
  }
  void *buf;
  size_t len;
  sluice_error *err = sluice_read(op, "b", 0, UINT64_MAX, &buf, &len);
  cr_assert_not_null(err, "reading a dangling symlink succeeded");
  char msg[512];
  snprintf(msg, sizeof msg, "%s", sluice_error_message(err));
  sluice_errkind kind = sluice_error_kind(err);
  sluice_error_free(err);
  cr_expect_eq(kind, SLUICE_ERR_NOT_FOUND, "%s", msg);
  cr_expect(strstr(msg, "/b'") != NULL, "the message does not name the link: %s", msg);
}

/* ------------------------------------------------------------------ */
/* Atomic writes                                                       */
/* ------------------------------------------------------------------ */

Test(fs, write_is_atomic_new_object) {
  mkdir_at(root, "sub");
  mkdir_at(root, "sub/dir");
  mkdir_at(root, "other");
  unsigned char data[200000];
  th_fill(data, sizeof data, 31, 0);
  sluice_options *o = th_opts("chunk", "64KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, "sub/dir/obj.bin", o, &w));
  sluice_options_free(o);
  TH_OK(sluice_writer_write(w, data, sizeof data));
  /* Several chunks have gone to the workers; the object is not there. */
  char *dir = at(root, "sub/dir");
  cr_assert(!lexists(root, "sub/dir/obj.bin"), "the final name exists before close");
  sluice_metadata *m;
  TH_KIND(sluice_stat(op, "sub/dir/obj.bin", &m), SLUICE_ERR_NOT_FOUND);
  /* One temporary, in the destination directory only, and hidden. */
  cr_assert_eq(th_count_files(root), 1, "%d files under root while writing", th_count_files(root));
  cr_assert_eq(th_count_files(dir), 1, "the temporary is not in the destination directory");
  cr_assert_eq(count_prefixed(dir, "."), 3, "expected '.', '..' and one hidden temporary");
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  /* After close: the object, and no temporary. */
  cr_assert_eq(th_count_files(root), 1);
  cr_assert_eq(count_prefixed(dir, "."), 2, "the temporary is still there after close");
  unsigned char d1[32], d2[32];
  char *p = at(root, "sub/dir/obj.bin");
  th_sha256_file(p, d1);
  th_sha256_generated(sizeof data, 31, d2);
  cr_assert(memcmp(d1, d2, 32) == 0);
  free(p);
  free(dir);
}

Test(fs, write_is_atomic_overwrite) {
  file_put(root, "obj", "OLD-CONTENT");
  unsigned char data[150000];
  th_fill(data, sizeof data, 32, 0);
  sluice_options *o = th_opts("chunk", "64KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, "obj", o, &w));
  sluice_options_free(o);
  TH_OK(sluice_writer_write(w, data, sizeof data));
  char *s = file_get(root, "obj");
  cr_assert_str_eq(s, "OLD-CONTENT", "the old object changed before close");
  free(s);
  expect_content("obj", "OLD-CONTENT");
  cr_assert_eq(th_count_files(root), 2, "expected the old object and one temporary");
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  cr_assert_eq(th_count_files(root), 1);
  void *buf;
  size_t len;
  TH_OK(sluice_read(op, "obj", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, sizeof data);
  cr_assert(memcmp(buf, data, len) == 0);
  sluice_free(buf);
}

Test(fs, abort_removes_temporary) {
  mkdir_at(root, "d");
  sluice_options *o = th_opts("chunk", "64KiB", NULL);
  unsigned char data[100000];
  th_fill(data, sizeof data, 33, 0);
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, "d/x", o, &w));
  TH_OK(sluice_writer_write(w, data, sizeof data));
  cr_assert_eq(th_count_files(root), 1);
  TH_OK(sluice_writer_abort(w));
  /* Gone at abort, not only at free. */
  cr_assert_eq(th_count_files(root), 0, "abort left a temporary behind");
  sluice_writer_free(w);
  cr_assert_eq(th_count_files(root), 0);
  /* Same for a writer that never wrote. */
  TH_OK(sluice_writer_open(op, "d/y", o, &w));
  TH_OK(sluice_writer_abort(w));
  cr_assert_eq(th_count_files(root), 0);
  sluice_writer_free(w);
  sluice_options_free(o);
}

Test(fs, fsync_option) {
  sluice_options *o = th_opts("root", root, "fsync", "true", NULL);
  sluice_operator *sop;
  TH_OK(sluice_operator_new("fs", o, &sop));
  sluice_options_free(o);
  unsigned char data[70000];
  th_fill(data, sizeof data, 34, 0);
  TH_OK(sluice_write(sop, "synced/obj", data, sizeof data, NULL));
  void *buf;
  size_t len;
  TH_OK(sluice_read(sop, "synced/obj", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, sizeof data);
  cr_assert(memcmp(buf, data, len) == 0);
  sluice_free(buf);
  sluice_operator_free(sop);
  o = th_opts("root", root, "fsync", "false", NULL);
  TH_OK(sluice_operator_new("fs", o, &sop));
  sluice_options_free(o);
  sluice_operator_free(sop);
  cr_assert_eq(th_count_files(root), 1);
}

/* A file takes one part at a time whatever concurrent says (parallel
 * pwrites into one inode only queue on its lock), while 4 readers fill
 * chunks in parallel; every byte still lands in its place. */
static void max_in_flight(const sluice_progress *pr, void *ud) {
  _Atomic uint32_t *max = ud;
  uint32_t seen = atomic_load(max);
  while (pr->parts_in_flight > seen &&
         !atomic_compare_exchange_weak(max, &seen, pr->parts_in_flight))
    ;
}

Test(fs, a_file_is_written_by_one_worker) {
  sluice_operator *mem = th_mem_op();
  size_t size = 40 * 65536 + 123;
  unsigned char *data = malloc(size);
  th_fill(data, size, 77, 0);
  TH_OK(sluice_write(mem, "src", data, size, NULL));
  sluice_options *o = th_opts("chunk", "64KiB", "concurrent", "8", "queue_depth", "8", NULL);
  sluice_options *co = th_opts("readers", "4", NULL);
  _Atomic uint32_t max = 0;
  TH_OK(sluice_options_set_progress(co, max_in_flight, &max));
  th_copy(mem, "src", op, "dst", o, co);
  /* Counted after the part that reports it has ended. */
  cr_assert_eq(atomic_load(&max), 0, "other parts in flight: %u", (unsigned)atomic_load(&max));
  void *buf;
  size_t len;
  TH_OK(sluice_read(op, "dst", 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, size);
  cr_assert(memcmp(buf, data, len) == 0);
  sluice_free(buf);
  free(data);
  sluice_operator_free(mem);
}

/* Whether any open descriptor of this process on a sink's temporary file
 * has O_DIRECT, read from /proc/self/fdinfo (the flags, in octal). */
static void saw_direct_fd(const sluice_progress *pr, void *ud) {
  (void)pr;
  int *seen = ud;
  char link[64], target[PATH_MAX], info[64];
  for (int fd = 3; fd < 1024 && !*seen; fd++) {
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strstr(target, ".sluice-") == NULL) continue;
    snprintf(info, sizeof info, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(info, "r");
    unsigned flags = 0;
    char line[128];
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
      if (sscanf(line, "flags: %o", &flags) == 1 && (flags & O_DIRECT)) *seen = 1;
    if (f != NULL) fclose(f);
  }
}

/* A large download is written through O_DIRECT where the filesystem takes
 * it (the aligned head of each chunk) and through the cache otherwise (the
 * odd tail, an unaligned chunk size, direct_io=false); every byte lands in
 * its place whichever way it went. */
Test(fs, large_writes_go_direct_and_stay_exact, .timeout = 120) {
  size_t size = (32u << 20) + 4096 + 77;
  char *big = at(outside, "big");
  th_make_file(big, size, 91);
  free(big);
  sluice_operator *src = th_fs_op(outside);
  unsigned char want[32], got[32];
  th_sha256_generated(size, 91, want);
  /* Can this filesystem do O_DIRECT at all? */
  char *probe = at(root, "probe");
  int pfd = open(probe, O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  int can_direct = pfd >= 0;
  if (pfd >= 0) close(pfd);
  unlink(probe);
  free(probe);
  if (!can_direct)
    cr_log_warn("the test directory's filesystem refuses O_DIRECT: checked bytes only");

  const char *chunks[] = {"1MiB", "1MiB", "1000001"};
  const char *direct[] = {"true", "false", "true"};
  for (int i = 0; i < 3; i++) {
    sluice_options *oo = th_opts("root", root, "direct_io", direct[i], NULL);
    sluice_operator *dop;
    TH_OK(sluice_operator_new("fs", oo, &dop));
    sluice_options_free(oo);
    sluice_options *o = th_opts("chunk", chunks[i], "concurrent", "4", NULL);
    sluice_options *co = th_opts("readers", "4", NULL);
    int seen = 0;
    TH_OK(sluice_options_set_progress(co, saw_direct_fd, &seen));
    th_copy(src, "big", dop, "dst", o, co);
    th_sha256_object(dop, "dst", got);
    cr_assert(memcmp(got, want, 32) == 0, "case %d: the file differs from the source", i);
    if (can_direct && i == 0) cr_assert(seen, "a 32 MiB download was not written with O_DIRECT");
    if (i == 1) cr_assert(!seen, "direct_io=false still opened the file with O_DIRECT");
    TH_OK(sluice_delete(dop, "dst"));
    sluice_operator_free(dop);
  }
  sluice_operator_free(src);
}

/* ------------------------------------------------------------------ */
/* FIFOs                                                               */
/* ------------------------------------------------------------------ */

struct fifo_feed {
  char *path;
  size_t size;
  uint64_t seed;
  int result; /* 0 ok, else errno */
};

static void *feed_fifo(void *p) {
  struct fifo_feed *f = p;
  int fd = open(f->path, O_WRONLY | O_CLOEXEC); /* blocks until the reader opens */
  if (fd < 0) {
    f->result = errno;
    return NULL;
  }
  unsigned char buf[8192];
  for (size_t off = 0; off < f->size;) {
    size_t n = f->size - off < sizeof buf ? f->size - off : sizeof buf;
    th_fill(buf, n, f->seed, off);
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      f->result = errno;
      break;
    }
    off += (size_t)w;
  }
  close(fd);
  return NULL;
}

static void start_feed(struct fifo_feed *f, pthread_t *th, const char *rel, size_t size,
                       uint64_t seed) {
  f->path = at(root, rel);
  f->size = size;
  f->seed = seed;
  f->result = 0;
  cr_assert_eq(pthread_create(th, NULL, feed_fifo, f), 0);
}

Test(fs, fifo_read_as_stream) {
  signal(SIGPIPE, SIG_IGN);
  char *p = at(root, "pipe");
  cr_assert(mkfifo(p, 0600) == 0, "mkfifo: %s", strerror(errno));
  free(p);
  /* stat does not block on a FIFO nobody writes to. */
  sluice_metadata *m;
  TH_OK(sluice_stat(op, "pipe", &m));
  cr_assert_eq(sluice_metadata_is_dir(m), 0);
  sluice_metadata_free(m);

  const size_t size = 300000;
  struct fifo_feed f;
  pthread_t th;
  start_feed(&f, &th, "pipe", size, 35);
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, "pipe", NULL, &r));
  cr_assert_eq(sluice_reader_size(r), UINT64_MAX, "a FIFO has no known size");
  unsigned char *got = malloc(size + 16);
  size_t total = 0, n;
  do {
    TH_OK(sluice_reader_read(r, got + total, size + 16 - total < 5000 ? size + 16 - total : 5000,
                             &n));
    total += n;
  } while (n && total < size + 16);
  pthread_join(th, NULL);
  sluice_reader_free(r);
  cr_assert_eq(f.result, 0, "feeder: %s", strerror(f.result));
  cr_assert_eq(total, size);
  unsigned char *exp = malloc(size);
  th_fill(exp, size, 35, 0);
  cr_assert(memcmp(got, exp, size) == 0, "FIFO bytes differ");
  free(exp);
  free(got);
  free(f.path);
}

Test(fs, fifo_range_and_copy) {
  signal(SIGPIPE, SIG_IGN);
  char *p = at(root, "pipe");
  cr_assert(mkfifo(p, 0600) == 0);
  free(p);
  /* A range on a stream: offset skips, length stops. */
  struct fifo_feed f;
  pthread_t th;
  start_feed(&f, &th, "pipe", 8000, 36);
  sluice_options *o = th_opts("offset", "1000", "length", "5000", NULL);
  sluice_reader *r;
  TH_OK(sluice_reader_open(op, "pipe", o, &r));
  sluice_options_free(o);
  unsigned char got[8000];
  size_t total = 0, n;
  do {
    TH_OK(sluice_reader_read(r, got + total, sizeof got - total, &n));
    total += n;
  } while (n);
  pthread_join(th, NULL);
  sluice_reader_free(r);
  free(f.path);
  cr_assert_eq(total, 5000);
  unsigned char exp[5000];
  th_fill(exp, sizeof exp, 36, 1000);
  cr_assert(memcmp(got, exp, sizeof exp) == 0);

  /* write_from a FIFO into an object (the sequential, unknown-size path). */
  const size_t size = 700000;
  start_feed(&f, &th, "pipe", size, 37);
  TH_OK(sluice_reader_open(op, "pipe", NULL, &r));
  o = th_opts("chunk", "64KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, "from-fifo.bin", o, &w));
  sluice_options_free(o);
  TH_OK(sluice_write_from(w, r, NULL));
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  sluice_reader_free(r);
  pthread_join(th, NULL);
  free(f.path);
  cr_assert_eq(f.result, 0);
  unsigned char d1[32], d2[32];
  th_sha256_object(op, "from-fifo.bin", d1);
  th_sha256_generated(size, 37, d2);
  cr_assert(memcmp(d1, d2, 32) == 0, "copy of the FIFO differs");
}

/* ------------------------------------------------------------------ */
/* Directories                                                         */
/* ------------------------------------------------------------------ */

Test(fs, create_dir_parents_and_idempotent) {
  TH_OK(sluice_create_dir(op, "p/q/r/"));
  static const char *const dirs[] = {"p/", "p/q/", "p/q/r/"};
  for (int i = 0; i < 3; i++) {
    sluice_metadata *m;
    TH_OK(sluice_stat(op, dirs[i], &m));
    cr_assert_eq(sluice_metadata_is_dir(m), 1, "%s", dirs[i]);
    sluice_metadata_free(m);
  }
  struct stat st;
  char *p = at(root, "p/q/r");
  cr_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
  free(p);
  TH_OK(sluice_create_dir(op, "p/q/r/"));
  TH_OK(sluice_create_dir(op, "p/"));
  /* A spelling that names no directory as given is refused, not mapped
   * onto p/q/r/. */
  TH_KIND(sluice_create_dir(op, "/p//q/./r/"), SLUICE_ERR_INVALID_ARGUMENT);
  TH_KIND(sluice_create_dir(op, "p//q/"), SLUICE_ERR_INVALID_ARGUMENT);
  /* A new directory shows up in listings, empty. */
  sluice_lister *l;
  TH_OK(sluice_list(op, "p/q/r/", NULL, &l));
  const sluice_entry *e;
  TH_OK(sluice_lister_next(l, &e));
  cr_assert_null(e);
  sluice_lister_free(l);
  cr_assert_eq(th_count_files(root), 0);
}

Test(fs, create_dir_over_file) {
  file_put(root, "f", "file");
  TH_KIND(sluice_create_dir(op, "f/"), SLUICE_ERR_ALREADY_EXISTS);
  TH_KIND(sluice_create_dir(op, "f/sub/"), SLUICE_ERR_ALREADY_EXISTS);
  char *s = file_get(root, "f");
  cr_assert_str_eq(s, "file");
  free(s);
}

/* Messages name a path as the user named it: from a URI (an operator
 * rooted at "/"), the absolute path with its leading '/'; under another
 * root, the root joined to the path. */
static void expect_names(sluice_error *err, const char *want) {
  cr_assert_not_null(err);
  char *quoted = NULL;
  cr_assert(asprintf(&quoted, "'%s'", want) > 0);
  cr_assert(strstr(sluice_error_message(err), quoted), "message does not name %s: %s", quoted,
            sluice_error_message(err));
  free(quoted);
  sluice_error_free(err);
}

Test(fs, messages_name_the_path_as_given) {
  file_put(root, "f", "file");
  char *missing = at(root, "missing/x.bin"), *under_file = at(root, "f/sub/x.bin");
  sluice_operator *abs = NULL;
  char *path = NULL;
  TH_OK(sluice_operator_from_uri(missing, NULL, &abs, &path));
  sluice_reader *r = NULL;
  sluice_metadata *m = NULL;
  expect_names(sluice_reader_open(abs, path, NULL, &r), missing);
  expect_names(sluice_stat(abs, path, &m), missing);
  /* A write that cannot create its directory (a file is in the way). */
  expect_names(sluice_write(abs, under_file, "x", 1, NULL), under_file);
  sluice_free(path);
  sluice_operator_free(abs);
  /* Rooted elsewhere: the root joined to the path. */
  expect_names(sluice_reader_open(op, "missing/x.bin", NULL, &r), missing);
  expect_names(sluice_write(op, "f/sub/x.bin", "x", 1, NULL), under_file);
  free(missing);
  free(under_file);
}

Test(fs, delete_directories) {
  TH_OK(sluice_create_dir(op, "empty/"));
  TH_OK(sluice_delete(op, "empty/"));
  sluice_metadata *m;
  TH_KIND(sluice_stat(op, "empty/", &m), SLUICE_ERR_NOT_FOUND);
  cr_assert(!lexists(root, "empty"));
  /* Deleting it again succeeds (nothing to delete). */
  TH_OK(sluice_delete(op, "empty/"));
  /* A non-empty directory is not deleted, and its content stays. */
  TH_OK(sluice_write(op, "full/obj", "x", 1, NULL));
  sluice_error *err = sluice_delete(op, "full/");
  cr_assert_not_null(err, "deleted a non-empty directory");
  sluice_error_free(err);
  expect_content("full/obj", "x");
  /* A directory named without its '/' is not deleted as if it were an object. */
  TH_OK(sluice_create_dir(op, "kept/"));
  err = sluice_delete(op, "kept");
  cr_assert_not_null(err, "deleted a directory through an object path");
  sluice_error_free(err);
  TH_OK(sluice_stat(op, "kept/", &m));
  sluice_metadata_free(m);
  /* An object named with a '/' is not deleted as if it were a directory. */
  err = sluice_delete(op, "full/obj/");
  sluice_error_free(err);
  expect_content("full/obj", "x");
}

Test(fs, list_metadata_matches) {
  static const struct {
    const char *path;
    uint64_t size;
  } files[] = {{"zero", 0}, {"one", 1}, {"k", 1000}, {"d/big", 70000}, {"d/e/f", 12345}};
  mkdir_at(root, "d");
  mkdir_at(root, "d/e");
  time_t t0 = time(NULL);
  for (size_t i = 0; i < 5; i++) {
    char *p = at(root, files[i].path);
    th_make_file(p, files[i].size, i);
    free(p);
  }
  sluice_options *o = th_opts("recursive", "true", NULL);
  sluice_lister *l;
  TH_OK(sluice_list(op, "", o, &l));
  sluice_options_free(o);
  int seen = 0;
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const sluice_metadata *m = sluice_entry_metadata(e);
    size_t i;
    for (i = 0; i < 5 && strcmp(files[i].path, sluice_entry_path(e)); i++) {
    }
    cr_assert(i < 5, "unexpected entry '%s'", sluice_entry_path(e));
    cr_assert_eq(sluice_metadata_size(m), files[i].size, "%s: size %llu, expected %llu",
                 files[i].path, (unsigned long long)sluice_metadata_size(m),
                 (unsigned long long)files[i].size);
    cr_assert_eq(sluice_metadata_is_dir(m), 0);
    int64_t mt = sluice_metadata_mtime(m);
    cr_assert(mt >= (int64_t)t0 - 2 && mt <= (int64_t)time(NULL) + 2, "%s: mtime %lld",
              files[i].path, (long long)mt);
    /* stat agrees with the listing. */
    sluice_metadata *sm;
    TH_OK(sluice_stat(op, files[i].path, &sm));
    cr_assert_eq(sluice_metadata_size(sm), files[i].size);
    cr_assert_eq(sluice_metadata_mtime(sm), mt);
    sluice_metadata_free(sm);
    seen |= 1 << i;
  }
  sluice_lister_free(l);
  cr_assert_eq(seen, 0x1f, "entries missing from the recursive listing (mask %x)", seen);
  /* One level: sub-directories are entries ending in '/', marked is_dir. */
  TH_OK(sluice_list(op, "d/", NULL, &l));
  seen = 0;
  for (;;) {
    const sluice_entry *e;
    TH_OK(sluice_lister_next(l, &e));
    if (!e) break;
    const char *p = sluice_entry_path(e);
    const sluice_metadata *m = sluice_entry_metadata(e);
    if (!strcmp(p, "d/big")) {
      cr_assert_eq(sluice_metadata_size(m), 70000);
      seen |= 1;
    } else if (!strcmp(p, "d/e/")) {
      cr_assert_eq(sluice_metadata_is_dir(m), 1);
      seen |= 2;
    } else {
      cr_assert_fail("unexpected entry '%s' in d/", p);
    }
  }
  sluice_lister_free(l);
  cr_assert_eq(seen, 3);
}

/* The longest legal file name works (its temporary name is shortened to
 * fit); one byte more is refused without leaving anything behind. */
Test(fs, long_names) {
  char name[300];
  memset(name, 'n', 255);
  name[255] = '\0';
  unsigned char data[100000];
  th_fill(data, sizeof data, 38, 0);
  sluice_options *o = th_opts("chunk", "64KiB", NULL);
  sluice_writer *w;
  TH_OK(sluice_writer_open(op, name, o, &w));
  TH_OK(sluice_writer_write(w, data, sizeof data));
  cr_assert_eq(th_count_files(root), 1);
  TH_OK(sluice_writer_close(w));
  sluice_writer_free(w);
  void *buf;
  size_t len;
  TH_OK(sluice_read(op, name, 0, UINT64_MAX, &buf, &len));
  cr_assert_eq(len, sizeof data);
  cr_assert(memcmp(buf, data, len) == 0);
  sluice_free(buf);
  cr_assert_eq(th_count_files(root), 1);
  /* Two writers on the same long name get distinct temporaries. */
  sluice_writer *w2;
  TH_OK(sluice_writer_open(op, name, o, &w));
  TH_OK(sluice_writer_open(op, name, o, &w2));
  cr_assert_eq(th_count_files(root), 3);
  TH_OK(sluice_writer_write(w, "first", 5));
  TH_OK(sluice_writer_write(w2, "second", 6));
  TH_OK(sluice_writer_close(w));
  TH_OK(sluice_writer_close(w2));
  sluice_writer_free(w);
  sluice_writer_free(w2);
  expect_content(name, "second");
  cr_assert_eq(th_count_files(root), 1);

  memset(name, 'm', 256);
  name[256] = '\0';
  sluice_error *err = sluice_write(op, name, "x", 1, o);
  cr_assert_not_null(err, "a 256-byte file name was accepted");
  sluice_error_free(err);
  sluice_options_free(o);
  cr_assert_eq(th_count_files(root), 1);
}
