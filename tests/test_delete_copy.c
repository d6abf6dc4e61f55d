/* SPDX-License-Identifier: MIT */
/*
 * sluice_delete_all and sluice_copy.
 *
 * The shared cases run three times: on fs (the native remove_all), on fs
 * with the realpath() fallback that kernels without openat2 take, and on
 * memory (the operator's list-and-delete fallback).  Neither service has
 * a native copy, so every copy here is the streamed reader -> writer one.
 * The fs-only cases check that remove_all never follows a symlink and
 * never leaves the tree it was asked to delete.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "sluice.h"

/* From <linux/fs.h>, which clashes with <sys/mount.h>. */
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS _IOR('f', 1, long)
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#ifndef FS_IMMUTABLE_FL
#define FS_IMMUTABLE_FL 0x00000010
#endif

/* Test hook of the fs service (lib/fs/fs.h). */
extern int sluice__fs_force_fallback;

static const char *svc; /* "fs", "fs_fallback" or "memory", for messages */
static sluice_operator *op;
static char *root;      /* fs: the operator's root; NULL on memory */
static char *outside;   /* fs: a sibling directory the operator must never touch */
static char *immutable; /* a directory a case made immutable: cleared at the end */
static char *mounts[2]; /* mount points a case made (in its own namespace) */

static void open_fs_op(void) {
  sluice__fs_force_fallback = strcmp(svc, "fs_fallback") == 0;
  op = th_fs_op(root);
  sluice__fs_force_fallback = 0;
}

static void begin(const char *name) {
  svc = name;
  if (strcmp(name, "memory") == 0) {
    op = th_mem_op();
    return;
  }
  root = th_tmpdir();
  outside = th_tmpdir();
  open_fs_op();
}

static void set_immutable(const char *path, int on);

/* The fini hook: runs after each case, also when it failed. */
static void end(void) {
  sluice_operator_free(op);
  op = NULL;
  for (int i = 0; i < 2; i++) {
    if (mounts[i]) umount2(mounts[i], MNT_DETACH);
    free(mounts[i]);
    mounts[i] = NULL;
  }
  if (immutable) {
    set_immutable(immutable, 0);
    free(immutable);
    immutable = NULL;
  }
  if (root) {
    th_rmrf(root);
    th_rmrf(outside);
    free(root);
    free(outside);
    root = outside = NULL;
  }
}

/* The timeout is the suite's: a per-test .timeout makes Criterion 2.4.1's
 * runner leak (see tests/test_services.c). */
TestSuite(delete_copy, .timeout = 60);

/* The fs tests of name: with openat2 and with its fallback. */
#define FS_TESTS(name)                                 \
  static void name##_body(void);                       \
  Test(delete_copy, fs_##name, .fini = end) {          \
    begin("fs");                                       \
    name##_body();                                     \
  }                                                    \
  Test(delete_copy, fs_fallback_##name, .fini = end) { \
    begin("fs_fallback");                              \
    name##_body();                                     \
  }

/* SHARED(name) { body }: one test per service, delete_copy::<svc>_<name>. */
#define SHARED(name)                              \
  FS_TESTS(name)                                  \
  Test(delete_copy, memory_##name, .fini = end) { \
    begin("memory");                              \
    name##_body();                                \
  }                                               \
  static void name##_body(void)

/* FS_CASE(name) { body }: fs only, with and without openat2. */
#define FS_CASE(name) \
  FS_TESTS(name)      \
  static void name##_body(void)

/* Error assertions naming the service; the error is freed before any
 * assertion fails, so sanitizers stay quiet. */
#define S_OK(expr)                                                               \
  do {                                                                           \
    sluice_error *e_ = (expr);                                                   \
    char m_[1200] = "";                                                          \
    if (e_)                                                                      \
      snprintf(m_, sizeof m_, "[%s] %s", sluice_strerror(sluice_error_kind(e_)), \
               sluice_error_message(e_));                                        \
    sluice_error_free(e_);                                                       \
    cr_assert(m_[0] == '\0', "[%s] %s failed: %s", svc, #expr, m_);              \
  } while (0)

#define S_KIND(expr, kind)                                                   \
  do {                                                                       \
    sluice_error *e_ = (expr);                                               \
    sluice_errkind k_ = sluice_error_kind(e_);                               \
    char m_[1200];                                                           \
    snprintf(m_, sizeof m_, "%s", e_ ? sluice_error_message(e_) : "");       \
    sluice_error_free(e_);                                                   \
    cr_assert(k_ == (kind), "[%s] %s: expected %s, got [%s] %s", svc, #expr, \
              sluice_strerror(kind), sluice_strerror(k_), m_);               \
    cr_assert(m_[0] != '\0', "[%s] %s: empty message", svc, #expr);          \
  } while (0)

/* ------------------------------------------------------------------ */
/* Helpers through the API (any service)                               */
/* ------------------------------------------------------------------ */

/* Tiny objects need no 8 MiB chunk buffers: allocating (and, under ASan,
 * poisoning) them for each of hundreds of writes is what made the
 * many-entry tests slow. */
static void put(const char *path, const char *content) {
  sluice_options *small = th_opts("chunk", "64KiB", "concurrent", "1", "queue_depth", "1", NULL);
  S_OK(sluice_write(op, path, content, strlen(content), small));
  sluice_options_free(small);
}

/* 1 when path (an object) exists, 0 when it is not found. */
static int exists(const char *path) {
  sluice_metadata *m = NULL;
  sluice_error *err = sluice_stat(op, path, &m);
  sluice_errkind k = sluice_error_kind(err);
  sluice_error_free(err);
  sluice_metadata_free(m);
  cr_assert(k == SLUICE_OK || k == SLUICE_ERR_NOT_FOUND, "[%s] stat '%s': %s", svc, path,
            sluice_strerror(k));
  return k == SLUICE_OK;
}

static void expect(const char *path, const char *want) {
  void *buf = NULL;
  size_t len = 0;
  S_OK(sluice_read(op, path, 0, UINT64_MAX, &buf, &len));
  int same = len == strlen(want) && memcmp(buf, want, len) == 0;
  sluice_free(buf);
  cr_assert(same, "[%s] '%s' does not hold '%s'", svc, path, want);
}

/* Objects listed recursively under dir ("" for everything). */
static int count_objects(const char *dir) {
  sluice_options *o = th_opts("recursive", "true", NULL);
  sluice_lister *l = NULL;
  sluice_error *err = sluice_list(op, dir, o, &l);
  sluice_options_free(o);
  if (sluice_error_kind(err) == SLUICE_ERR_NOT_FOUND) {
    sluice_error_free(err);
    return 0;
  }
  S_OK(err);
  int n = 0;
  for (;;) {
    const sluice_entry *e;
    S_OK(sluice_lister_next(l, &e));
    if (!e) break;
    n++;
  }
  sluice_lister_free(l);
  return n;
}

/* A generated object of size bytes: on fs written straight to disk (so the
 * library's own writer is not what makes the source), on memory through
 * sluice_write. */
static void make_obj(const char *path, uint64_t size, uint64_t seed) {
  if (root) {
    char *p = th_join(root, path);
    th_make_file(p, size, seed);
    free(p);
    return;
  }
  unsigned char *buf = malloc(size ? size : 1);
  th_fill(buf, size, seed, 0);
  S_OK(sluice_write(op, path, buf, size, NULL));
  free(buf);
}

/* SHA-256 of an object: on fs read straight from disk. */
static void digest_obj(const char *path, unsigned char out[32]) {
  if (root) {
    char *p = th_join(root, path);
    th_sha256_file(p, out);
    free(p);
    return;
  }
  th_sha256_object(op, path, out);
}

static void expect_generated(const char *path, uint64_t size, uint64_t seed) {
  unsigned char want[32], got[32];
  th_sha256_generated(size, seed, want);
  digest_obj(path, got);
  cr_assert(memcmp(want, got, 32) == 0, "[%s] '%s' differs from the generated %llu bytes", svc,
            path, (unsigned long long)size);
}

/* ------------------------------------------------------------------ */
/* Helpers on the local filesystem (fs cases)                          */
/* ------------------------------------------------------------------ */

static int lexists(const char *dir, const char *rel) {
  char *p = th_join(dir, rel);
  struct stat st;
  int rc = lstat(p, &st);
  free(p);
  return rc == 0;
}

static void mkdir_at(const char *dir, const char *rel) {
  char *p = th_join(dir, rel);
  cr_assert(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
  free(p);
}

static void file_put(const char *dir, const char *rel, const char *content) {
  char *p = th_join(dir, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
  size_t n = strlen(content);
  cr_assert_eq(write(fd, content, n), (ssize_t)n);
  close(fd);
  free(p);
}

static void file_expect(const char *dir, const char *rel, const char *want) {
  char *p = th_join(dir, rel);
  char buf[256];
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  cr_assert(fd >= 0, "%s is gone: %s", p, strerror(errno));
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  cr_assert(n >= 0);
  buf[n] = '\0';
  cr_assert_str_eq(buf, want, "%s", p);
  free(p);
}

static void symlink_at(const char *target, const char *dir, const char *rel) {
  char *p = th_join(dir, rel);
  cr_assert(symlink(target, p) == 0, "symlink %s -> %s: %s", p, target, strerror(errno));
  free(p);
}

/* Sets or clears FS_IMMUTABLE_FL; 0 or errno. */
static int immutable_flag(const char *path, int on) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int flags = 0, e = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) e = errno;
  if (!e) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) e = errno;
  }
  close(fd);
  return e;
}

static void set_immutable(const char *path, int on) { (void)immutable_flag(path, on); }

/* ------------------------------------------------------------------ */
/* delete_all: every service                                           */
/* ------------------------------------------------------------------ */

/* The tree the delete_all cases start from, and its neighbours that must
 * survive: "dx/" and "dfile" share the prefix "d" but are not under "d/". */
static void make_tree(void) {
  put("d/a", "a");
  put("d/b/c", "c");
  put("d/b/e/f", "f");
  put("d/g/h/i/j", "j");
  put("d/g/h/k", "k");
  put("dx/y", "y");
  put("dfile", "dfile");
  put("other/d/z", "z");
}

static void expect_tree_gone(void) {
  cr_assert(!exists("d/a") && !exists("d/b/c") && !exists("d/b/e/f") && !exists("d/g/h/i/j") &&
                !exists("d/g/h/k"),
            "[%s] something under d/ survived", svc);
  cr_assert_eq(count_objects("d/"), 0, "[%s] d/ still lists objects", svc);
  if (root) cr_assert(!lexists(root, "d"), "[%s] the directory d itself survived", svc);
}

static void expect_neighbours(void) {
  expect("dx/y", "y");
  expect("dfile", "dfile");
  expect("other/d/z", "z");
}

SHARED(delete_all_tree) {
  make_tree();
  cr_assert_eq(count_objects("d/"), 5);
  S_OK(sluice_delete_all(op, "d/"));
  expect_tree_gone();
  expect_neighbours();
  cr_assert_eq(count_objects(""), 3, "[%s] only the neighbours remain", svc);
}

/* Memory has no directories, so an object "d" and objects under "d/" can
 * live side by side: deleting "d/" (or "d") keeps the object "d". */
Test(delete_copy, memory_delete_all_keeps_object_named_like_the_dir, .fini = end) {
  begin("memory");
  make_tree();
  put("d", "the object d");
  S_OK(sluice_delete_all(op, "d"));
  expect_tree_gone();
  expect_neighbours();
  expect("d", "the object d");
}

SHARED(delete_all_spellings) {
  /* Without the slash "d" still means "d/" (never the prefix "d", which
   * would take "dx/" and "dfile"). */
  static const char *const spellings[] = {"d", "d/"};
  for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
    make_tree();
    sluice_error *err = sluice_delete_all(op, spellings[i]);
    cr_assert(err == NULL, "[%s] delete_all '%s': %s", svc, spellings[i],
              sluice_error_message(err));
    expect_tree_gone();
    expect_neighbours();
  }
  /* Other spellings are other paths: fs refuses them (no directory has
   * that name), an object store deletes the keys under that exact prefix,
   * here none, and never d/'s. */
  static const char *const others[] = {"/d", "/d/", "d//", "./d", "d/.", "//d"};
  for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
    make_tree();
    sluice_error *err = sluice_delete_all(op, others[i]);
    if (root)
      cr_assert(sluice_error_kind(err) == SLUICE_ERR_INVALID_ARGUMENT,
                "[%s] delete_all '%s': expected invalid argument, got %s", svc, others[i],
                err ? sluice_error_message(err) : "success");
    else
      cr_assert(err == NULL, "[%s] delete_all '%s': %s", svc, others[i], sluice_error_message(err));
    sluice_error_free(err);
    cr_assert_eq(count_objects("d/"), 5, "[%s] delete_all '%s' deleted under d/", svc, others[i]);
    expect_neighbours();
  }
}

SHARED(delete_all_nested_dir) {
  make_tree();
  S_OK(sluice_delete_all(op, "d/g"));
  cr_assert(!exists("d/g/h/i/j") && !exists("d/g/h/k"));
  if (root) cr_assert(!lexists(root, "d/g"));
  expect("d/a", "a");
  expect("d/b/c", "c");
  expect("d/b/e/f", "f");
  expect_neighbours();
}

SHARED(delete_all_missing_succeeds) {
  put("f", "file");
  S_OK(sluice_delete_all(op, "nope"));
  S_OK(sluice_delete_all(op, "nope/"));
  S_OK(sluice_delete_all(op, "no/such/deep/dir/"));
  /* A file where a parent would be: nothing under it to delete. */
  S_OK(sluice_delete_all(op, "f/x/"));
  expect("f", "file");
  /* Twice in a row: the second finds nothing. */
  make_tree();
  S_OK(sluice_delete_all(op, "d"));
  S_OK(sluice_delete_all(op, "d"));
  expect_neighbours();
}

SHARED(delete_all_refuses_root) {
  make_tree();
  S_KIND(sluice_delete_all(op, ""), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(op, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(NULL, "d"), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(op, "d\n"), SLUICE_ERR_INVALID_ARGUMENT);
  /* Spellings that would resolve to the root or above: fs refuses them;
   * on an object store they are prefixes of their own ("/", "./"...),
   * under which nothing is here. */
  static const char *const roots[] = {"/", ".", "./", "//", "/./", "..", "d/../.."};
  for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
    if (root)
      S_KIND(sluice_delete_all(op, roots[i]), SLUICE_ERR_INVALID_ARGUMENT);
    else
      S_OK(sluice_delete_all(op, roots[i]));
  }
  cr_assert_eq(count_objects(""), 8, "[%s] a refused delete_all deleted something", svc);
}

SHARED(delete_all_deep_tree) {
  /* 200 levels: "deep/l0/l1/.../l199/leaf", a file on every tenth level. */
  char path[2048] = "deep/";
  size_t n = strlen(path);
  for (int i = 0; i < 200; i++) {
    n += (size_t)snprintf(path + n, sizeof path - n, "l%d/", i);
    if (i % 10 == 0) {
      snprintf(path + n, sizeof path - n, "f");
      put(path, "level");
      path[n] = '\0';
    }
  }
  snprintf(path + n, sizeof path - n, "leaf");
  put(path, "leaf");
  put("deepx", "neighbour");
  cr_assert_eq(count_objects("deep/"), 21);
  S_OK(sluice_delete_all(op, "deep"));
  cr_assert(!exists(path));
  cr_assert_eq(count_objects("deep/"), 0);
  if (root) cr_assert(!lexists(root, "deep"));
  expect("deepx", "neighbour");
}

SHARED(delete_all_many_entries) {
  /* Entries are removed while the directory is being read. */
  char p[64];
  for (int i = 0; i < 600; i++) {
    snprintf(p, sizeof p, "wide/f%03d", i);
    put(p, "x");
  }
  for (int i = 0; i < 40; i++) {
    snprintf(p, sizeof p, "wide/s%02d/g", i);
    put(p, "y");
  }
  S_OK(sluice_delete_all(op, "wide/"));
  cr_assert_eq(count_objects("wide/"), 0);
  if (root) cr_assert(!lexists(root, "wide"));
}

/* ------------------------------------------------------------------ */
/* delete_all on fs: symlinks, special files, errors, limits           */
/* ------------------------------------------------------------------ */

FS_CASE(delete_all_symlink_out_of_root_removed_as_link) {
  /* outside/secret/ is a sibling of the root the operator must not touch. */
  mkdir_at(outside, "secret");
  file_put(outside, "secret/file", "precious");
  mkdir_at(root, "d");
  mkdir_at(root, "d/sub");
  char *secret = th_join(outside, "secret");
  char *secret_file = th_join(outside, "secret/file");
  symlink_at(secret, root, "d/sub/dirlink");   /* absolute, to a directory */
  symlink_at(secret_file, root, "d/filelink"); /* absolute, to a file */
  char rel[4096];
  snprintf(rel, sizeof rel, "../../../%s/secret", strrchr(outside, '/') + 1);
  symlink_at(rel, root, "d/sub/rellink"); /* relative, out of the root */
  symlink_at("/nonexistent/dangling", root, "d/dangling");
  free(secret);
  free(secret_file);

  S_OK(sluice_delete_all(op, "d"));
  cr_assert(!lexists(root, "d"), "d survived");
  file_expect(outside, "secret/file", "precious");
  cr_assert(lexists(outside, "secret"));
}

FS_CASE(delete_all_symlink_inside_root_keeps_target) {
  mkdir_at(root, "keep");
  mkdir_at(root, "keep/inner");
  file_put(root, "keep/inner/k", "kept");
  file_put(root, "keep/top", "top");
  mkdir_at(root, "d");
  symlink_at("../keep", root, "d/rel");
  char *abs = th_join(root, "keep");
  symlink_at(abs, root, "d/abs");
  free(abs);
  symlink_at("../keep/top", root, "d/tofile");
  symlink_at(".", root, "d/self"); /* a loop, never walked */

  S_OK(sluice_delete_all(op, "d/"));
  cr_assert(!lexists(root, "d"));
  file_expect(root, "keep/inner/k", "kept");
  file_expect(root, "keep/top", "top");
}

FS_CASE(delete_all_symlink_itself_refused) {
  /* "lnk" is a symlink to a directory: delete_all does not follow it to
   * empty the target, and leaves the link for sluice_delete. */
  mkdir_at(root, "keep");
  file_put(root, "keep/k", "kept");
  symlink_at("keep", root, "lnk");
  char *abs = th_join(outside, "");
  symlink_at(abs, root, "outlnk");
  free(abs);
  file_put(outside, "o", "outside");

  S_KIND(sluice_delete_all(op, "lnk"), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(op, "lnk/"), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(op, "outlnk"), SLUICE_ERR_INVALID_ARGUMENT);
  cr_assert(lexists(root, "lnk") && lexists(root, "outlnk"));
  file_expect(root, "keep/k", "kept");
  file_expect(outside, "o", "outside");
  S_OK(sluice_delete(op, "lnk"));
  cr_assert(!lexists(root, "lnk"));
  file_expect(root, "keep/k", "kept");
}

FS_CASE(delete_all_file_is_not_a_directory) {
  file_put(root, "f", "file");
  S_KIND(sluice_delete_all(op, "f"), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_delete_all(op, "f/"), SLUICE_ERR_INVALID_ARGUMENT);
  file_expect(root, "f", "file");
}

FS_CASE(delete_all_through_symlinked_parent) {
  /* The components above the directory resolve like every fs path: a
   * symlink is followed while it stays beneath the root... */
  mkdir_at(root, "real");
  mkdir_at(root, "real/d");
  file_put(root, "real/d/x", "x");
  file_put(root, "real/y", "y");
  symlink_at("real", root, "via");
  S_OK(sluice_delete_all(op, "via/d"));
  cr_assert(!lexists(root, "real/d"));
  file_expect(root, "real/y", "y");
  cr_assert(lexists(root, "via"));

  /* ...and refused when it leads out of it. */
  mkdir_at(outside, "d");
  file_put(outside, "d/x", "outside");
  symlink_at(outside, root, "out");
  S_KIND(sluice_delete_all(op, "out/d"), SLUICE_ERR_PERMISSION_DENIED);
  file_expect(outside, "d/x", "outside");
}

FS_CASE(delete_all_special_files) {
  mkdir_at(root, "d");
  mkdir_at(root, "d/s");
  char *fifo = th_join(root, "d/s/fifo");
  cr_assert(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
  free(fifo);
  /* A socket. */
  char *sock = th_join(root, "d/sock");
  int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(sock) < sizeof sa.sun_path) {
    strcpy(sa.sun_path, sock);
    cr_assert(bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind: %s", strerror(errno));
  }
  close(sfd);
  free(sock);
  /* Hidden files and a write's temporary file (hidden from listings). */
  file_put(root, "d/.hidden", "h");
  file_put(root, "d/s/.x.sluice-AbC123", "partial");
  mkdir_at(root, "d/.git");
  file_put(root, "d/.git/HEAD", "ref");
  /* A directory without permissions for anyone: its entries still go
   * (root ignores modes; for other users an empty one can be removed). */
  mkdir_at(root, "d/locked");
  char *locked = th_join(root, "d/locked");
  chmod(locked, 0);
  free(locked);

  S_OK(sluice_delete_all(op, "d"));
  cr_assert(!lexists(root, "d"));
}

FS_CASE(delete_all_stops_at_first_error) {
  mkdir_at(root, "d");
  mkdir_at(root, "d/ro");
  file_put(root, "d/ro/f", "stays");
  char *ro = th_join(root, "d/ro");
  int e;
  if (geteuid() == 0) {
    e = immutable_flag(ro, 1);
    if (e != 0) {
      free(ro);
      cr_skip_test("cannot make a directory immutable here: %s", strerror(e));
    }
    immutable = ro; /* cleared by end() */
  } else {
    cr_assert(chmod(ro, 0555) == 0);
    free(ro);
  }

  sluice_error *err = sluice_delete_all(op, "d");
  sluice_errkind k = sluice_error_kind(err);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(k, SLUICE_ERR_PERMISSION_DENIED, "got [%s] %s", sluice_strerror(k), msg);
  cr_assert(strstr(msg, "/d/ro/f'") != NULL, "the message does not name d/ro/f: %s", msg);
  cr_assert(strstr(msg, geteuid() == 0 ? "not permitted" : "denied") != NULL,
            "the message does not give the cause: %s", msg);
  file_expect(root, "d/ro/f", "stays");

  if (immutable) {
    set_immutable(immutable, 0);
    free(immutable);
    immutable = NULL;
  } else {
    char *p = th_join(root, "d/ro");
    chmod(p, 0755);
    free(p);
  }
  S_OK(sluice_delete_all(op, "d"));
  cr_assert(!lexists(root, "d"));
}

FS_CASE(delete_all_refuses_mount_points) {
  /* Mounts made in a mount namespace of the test's own process, so they
   * vanish with it whatever happens. */
  if (unshare(CLONE_NEWNS) != 0) cr_skip_test("no mount namespace: %s", strerror(errno));
  /* fstype is ignored here and for MS_BIND; "none" keeps valgrind quiet. */
  if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
    cr_skip_test("cannot make mounts private: %s", strerror(errno));
  /* The root's fd must see this namespace's mounts. */
  sluice_operator_free(op);
  open_fs_op();
  mkdir_at(root, "d");
  mkdir_at(root, "d/mnt");
  mkdir_at(root, "e");
  mkdir_at(root, "e/bind");
  mkdir_at(outside, "src");
  file_put(outside, "src/k", "kept");
  mounts[0] = th_join(root, "d/mnt");
  if (mount("none", mounts[0], "tmpfs", 0, NULL) != 0) {
    free(mounts[0]);
    mounts[0] = NULL;
    cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
  }
  file_put(root, "d/mnt/f", "in tmpfs");
  /* A bind mount from the same filesystem: same device, still a mount. */
  char *src = th_join(outside, "src");
  mounts[1] = th_join(root, "e/bind");
  cr_assert(mount(src, mounts[1], "none", MS_BIND, NULL) == 0, "bind: %s", strerror(errno));
  free(src);

  /* rmdir of a mount point fails anyway: refused before anything in the
   * other filesystem is touched. */
  S_KIND(sluice_delete_all(op, "d"), SLUICE_ERR_PERMISSION_DENIED);
  file_expect(root, "d/mnt/f", "in tmpfs");
  S_KIND(sluice_delete_all(op, "e/"), SLUICE_ERR_PERMISSION_DENIED);
  file_expect(outside, "src/k", "kept");
  S_KIND(sluice_delete_all(op, "e/bind"), SLUICE_ERR_PERMISSION_DENIED);
  file_expect(outside, "src/k", "kept");

  for (int i = 0; i < 2; i++) {
    cr_assert(umount2(mounts[i], 0) == 0, "umount %s: %s", mounts[i], strerror(errno));
    free(mounts[i]);
    mounts[i] = NULL;
  }
  S_OK(sluice_delete_all(op, "d"));
  S_OK(sluice_delete_all(op, "e"));
  cr_assert(!lexists(root, "d") && !lexists(root, "e"));
  file_expect(outside, "src/k", "kept");
}

/* A chain of n directories "a" under fd, made with *at() calls (the path
 * is far longer than PATH_MAX).  Returns an fd on the directory at depth
 * keep (0: none). */
static int make_chain(int fd, int n, int keep) {
  int cur = dup(fd), kept = -1;
  for (int i = 1; i <= n; i++) {
    cr_assert(mkdirat(cur, "a", 0755) == 0, "mkdirat at depth %d: %s", i, strerror(errno));
    int next = openat(cur, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert(next >= 0);
    close(cur);
    cur = next;
    if (i == keep) kept = dup(cur);
  }
  close(cur);
  return kept;
}

FS_CASE(delete_all_depth_limit) {
  /* 4096 directories are removed (far more than the 64 streams the walk
   * keeps open, and than a default limit of 1024 descriptors)... */
  mkdir_at(root, "ok");
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int okfd = openat(fd, "ok", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  make_chain(okfd, 4095, 0);
  close(okfd);
  S_OK(sluice_delete_all(op, "ok"));
  cr_assert(!lexists(root, "ok"));

  /* ...one more level is refused, naming the path... */
  mkdir_at(root, "deep");
  int deepfd = openat(fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int mid = make_chain(deepfd, 5000, 2500);
  close(deepfd);
  sluice_error *err = sluice_delete_all(op, "deep");
  sluice_errkind k = sluice_error_kind(err);
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", sluice_error_message(err));
  sluice_error_free(err);
  cr_assert_eq(k, SLUICE_ERR_IO, "got [%s] %s", sluice_strerror(k), msg);
  cr_assert(strstr(msg, "4096") && strstr(msg, "/a/a/a/"), "%s", msg);
  cr_assert(strlen(msg) < 1200, "an unbounded message: %zu bytes", strlen(msg));

  /* ...and once split in two, each half goes. */
  cr_assert(renameat(mid, "a", fd, "half") == 0, "rename: %s", strerror(errno));
  close(mid);
  close(fd);
  S_OK(sluice_delete_all(op, "deep"));
  S_OK(sluice_delete_all(op, "half"));
  cr_assert(!lexists(root, "deep") && !lexists(root, "half"));
}

/* ------------------------------------------------------------------ */
/* copy                                                                */
/* ------------------------------------------------------------------ */

SHARED(copy_bytes) {
  const uint64_t size = (1 << 20) + 12345; /* 17 chunks of 64 KiB, the last short */
  make_obj("src.bin", size, 7);
  sluice_options *o = th_opts("chunk", "64KiB", "concurrent", "4", NULL);
  S_OK(sluice_copy(op, "src.bin", "dst.bin", o));
  expect_generated("dst.bin", size, 7);
  expect_generated("src.bin", size, 7);
  /* Default options, a new sub-directory. */
  S_OK(sluice_copy(op, "src.bin", "x/y/z.bin", NULL));
  expect_generated("x/y/z.bin", size, 7);
  sluice_options_free(o);
  /* Empty and one-byte objects. */
  make_obj("empty", 0, 1);
  S_OK(sluice_copy(op, "empty", "empty.copy", NULL));
  expect_generated("empty.copy", 0, 1);
  make_obj("one", 1, 2);
  S_OK(sluice_copy(op, "one", "one.copy", NULL));
  expect_generated("one.copy", 1, 2);
  if (root) cr_assert_eq(th_count_files(root), 7, "a temporary file was left behind");
}

SHARED(copy_replaces_existing) {
  make_obj("src", 100000, 3);
  make_obj("dst", 300000, 4); /* larger: the copy must not keep its tail */
  S_OK(sluice_copy(op, "src", "dst", NULL));
  expect_generated("dst", 100000, 3);
  expect_generated("src", 100000, 3);
  /* Onto itself: the object stays what it was. */
  S_OK(sluice_copy(op, "src", "src", NULL));
  expect_generated("src", 100000, 3);
}

SHARED(copy_if_not_exists) {
  make_obj("src", 70000, 5);
  make_obj("dst", 1000, 6);
  sluice_options *o = th_opts("if_not_exists", "true", NULL);
  S_KIND(sluice_copy(op, "src", "dst", o), SLUICE_ERR_ALREADY_EXISTS);
  expect_generated("dst", 1000, 6);
  S_KIND(sluice_copy(op, "src", "src", o), SLUICE_ERR_ALREADY_EXISTS);
  expect_generated("src", 70000, 5);
  /* Onto nothing it works. */
  S_OK(sluice_copy(op, "src", "fresh", o));
  expect_generated("fresh", 70000, 5);
  sluice_options_free(o);
  if (root) cr_assert_eq(th_count_files(root), 3, "a temporary file was left behind");
}

SHARED(copy_missing_source) {
  S_KIND(sluice_copy(op, "nope", "dst", NULL), SLUICE_ERR_NOT_FOUND);
  S_KIND(sluice_copy(op, "no/such/src", "dst", NULL), SLUICE_ERR_NOT_FOUND);
  cr_assert(!exists("dst"), "[%s] a failed copy created its destination", svc);
  /* A missing source leaves an existing destination alone. */
  put("dst", "old");
  S_KIND(sluice_copy(op, "nope", "dst", NULL), SLUICE_ERR_NOT_FOUND);
  expect("dst", "old");
}

SHARED(copy_bad_arguments) {
  put("src", "data");
  put("dir/inner", "inner");
  S_KIND(sluice_copy(NULL, "src", "dst", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_copy(op, NULL, "dst", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_copy(op, "src", NULL, NULL), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_copy(op, "", "dst", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  S_KIND(sluice_copy(op, "src", "", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  if (root) {
    /* fs: ".." names no file beneath the root.  (On an object store it is
     * part of a key: test_services.c.) */
    S_KIND(sluice_copy(op, "../src", "dst", NULL), SLUICE_ERR_INVALID_ARGUMENT);
    S_KIND(sluice_copy(op, "src", "../dst", NULL), SLUICE_ERR_INVALID_ARGUMENT);
  }
  /* Directory paths (a trailing '/') name no object. */
  S_KIND(sluice_copy(op, "dir/", "dst", NULL), SLUICE_ERR_IS_A_DIRECTORY);
  S_KIND(sluice_copy(op, "src", "dir/", NULL), SLUICE_ERR_IS_A_DIRECTORY);
  S_KIND(sluice_copy(op, "/", "dst", NULL), SLUICE_ERR_IS_A_DIRECTORY);
  /* Options the writer does not know, or bad values. */
  sluice_options *o = th_opts("no_such_option", "1", NULL);
  S_KIND(sluice_copy(op, "src", "dst", o), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  o = th_opts("chunk", "1", NULL);
  S_KIND(sluice_copy(op, "src", "dst", o), SLUICE_ERR_INVALID_ARGUMENT);
  sluice_options_free(o);
  if (root) {
    /* On fs a directory is a directory without its slash too. */
    S_KIND(sluice_copy(op, "dir", "dst", NULL), SLUICE_ERR_IS_A_DIRECTORY);
    S_KIND(sluice_copy(op, "src", "dir", NULL), SLUICE_ERR_IS_A_DIRECTORY);
    expect("dir/inner", "inner");
  } else {
    /* Memory has no directories: "dir" is simply no object. */
    S_KIND(sluice_copy(op, "dir", "dst", NULL), SLUICE_ERR_NOT_FOUND);
  }
  cr_assert(!exists("dst"), "[%s] a refused copy created its destination", svc);
  expect("src", "data");
}

SHARED(copy_content_type) {
  put("src", "<p>hi</p>");
  sluice_options *o = th_opts("content_type", "text/html", NULL);
  sluice_error *err = sluice_copy(op, "src", "dst", o);
  sluice_options_free(o);
  if (root) {
    /* fs stores no content type: refused rather than dropped. */
    S_KIND(err, SLUICE_ERR_UNSUPPORTED);
    cr_assert(!exists("dst"));
    return;
  }
  S_OK(err);
  sluice_metadata *m;
  S_OK(sluice_stat(op, "dst", &m));
  const char *ct = sluice_metadata_content_type(m);
  int ok = ct && strcmp(ct, "text/html") == 0;
  sluice_metadata_free(m);
  cr_assert(ok, "[%s] content type not stored", svc);
  expect("dst", "<p>hi</p>");
}

static void count_progress(const sluice_progress *p, void *u) {
  (void)p;
  ++*(int *)u;
}

/* A streamed copy takes write_from's options too: readers and progress. */
Test(delete_copy, streamed_copy_takes_readers_and_progress) {
  char *dir = th_tmpdir();
  char *src = th_join(dir, "src.bin");
  th_make_file(src, (3u << 20) + 17, 91);
  sluice_operator *fsop = th_fs_op(dir);
  sluice_options *o = th_opts("readers", "4", "chunk", "256KiB", NULL);
  int calls = 0;
  TH_OK(sluice_options_set_progress(o, count_progress, &calls));
  TH_OK(sluice_copy(fsop, "src.bin", "dst.bin", o));
  cr_assert_eq(calls, 13, "progress called %d times for 13 chunks", calls);
  unsigned char a[32], b[32];
  th_sha256_object(fsop, "dst.bin", a);
  th_sha256_generated((3u << 20) + 17, 91, b);
  cr_assert(memcmp(a, b, 32) == 0);
  sluice_options_free(o);
  sluice_operator_free(fsop);
  th_rmrf(dir);
  free(src);
  free(dir);
}
