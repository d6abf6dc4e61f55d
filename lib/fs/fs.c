/* SPDX-License-Identifier: MIT */
/*
 * The fs service: objects are files under a root directory.
 *
 * Containment.  Every path is resolved beneath an fd on the root with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so neither a symlink nor
 * a concurrent rename can lead outside it; an operation on a last component
 * (unlink, mkdir, rename) opens the parent that way and uses the *at() call
 * with the bare name, which cannot be redirected.
 *
 * Sinks (writes) are in fs_sink.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "escape.h"
#include "fs/fs.h"
#include "options.h"
#include "path.h"
#include "service.h"

int sluice__fs_force_fallback = 0;

/* ------------------------------------------------------------------ */
/* Resolving beneath the root                                          */
/* ------------------------------------------------------------------ */

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(unsigned)flags;
  /* openat2 rejects a mode without O_CREAT/O_TMPFILE (EINVAL).  O_TMPFILE
   * includes O_DIRECTORY's bit, hence the full comparison. */
  how.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* 1 when resolved (a realpath) is root_real or below it. */
static int is_beneath(const char *root_real, const char *resolved) {
  size_t n = strlen(root_real);
  if (n == 1 && root_real[0] == '/') return 1;
  return strncmp(resolved, root_real, n) == 0 && (resolved[n] == '\0' || resolved[n] == '/');
}

/* Kernels before 5.6 (or seccomp profiles that refuse openat2): resolve
 * every symlink with realpath() and check the result is under the root's
 * realpath.  This has a TOCTOU window: a component swapped for a symlink
 * between realpath() and open() is followed.  O_NOFOLLOW narrows it to the
 * intermediate components; openat2 has no such window. */
static int open_fallback(const sluice__fs *fs, const char *rel, int flags, mode_t mode) {
  if (fs->root_real == NULL) return -EACCES;
  size_t rlen = strlen(fs->root_real), plen = strlen(rel);
  char *full = malloc(rlen + plen + 2);
  if (full == NULL) return -ENOMEM;
  memcpy(full, fs->root_real, rlen);
  full[rlen] = '/';
  memcpy(full + rlen + 1, rel, plen + 1);

  char *resolved = realpath(full, NULL);
  int e = errno;
  free(full);
  if (resolved == NULL) return -e;
  int fd;
  if (!is_beneath(fs->root_real, resolved))
    fd = -EXDEV;
  else {
    fd = open(resolved, flags | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) fd = -errno;
  }
  free(resolved);
  return fd;
}

int sluice__fs_open_beneath(const sluice__fs *fs, const char *rel, int flags, mode_t mode) {
  if (rel[0] == '\0') rel = ".";
  flags |= O_CLOEXEC;
  if (!fs->use_openat2) return open_fallback(fs, rel, flags, mode);
  /* EAGAIN: a concurrent rename made the kernel unsure that ".." stayed
   * beneath; the documented answer is to retry. */
  for (int tries = 0;; tries++) {
    int fd = sys_openat2(fs->rootfd, rel, flags, mode);
    if (fd >= 0) return fd;
    if (errno == EINTR || (errno == EAGAIN && tries < 64)) continue;
    /* RESOLVE_BENEATH refuses every absolute symlink, even one that points
     * inside the root.  Such a link gets the realpath check instead, so
     * both paths follow links exactly while they stay beneath the root. */
    if (errno == EXDEV) return open_fallback(fs, rel, flags, mode);
    return -errno;
  }
}

int sluice__fs_open_parent(const sluice__fs *fs, const char *path, char **base) {
  *base = NULL;
  size_t len = strlen(path);
  while (len > 0 && path[len - 1] == '/') len--;
  if (len == 0) return -EINVAL;
  size_t start = len;
  while (start > 0 && path[start - 1] != '/') start--;

  char *parent = strndup(path, start); /* "" or "a/b/" */
  char *name = strndup(path + start, len - start);
  if (parent == NULL || name == NULL) {
    free(parent);
    free(name);
    return -ENOMEM;
  }
  int fd = sluice__fs_open_beneath(fs, parent, O_PATH | O_DIRECTORY, 0);
  free(parent);
  if (fd < 0) {
    free(name);
    return fd;
  }
  *base = name;
  return fd;
}

char *sluice__fs_shown(const sluice__fs *fs, const char *path, size_t len) {
  const char *root = fs != NULL ? fs->root : "";
  size_t rl = strlen(root);
  const char *sep = rl > 0 && root[rl - 1] != '/' && *path != '\0' ? "/" : "";
  char *out;
  if (asprintf(&out, "%s%s%.*s", root, sep, (int)strnlen(path, len), path) < 0) return NULL;
  return out;
}

sluice_error *sluice__fs_error(const sluice__fs *fs, const char *op, const char *path, int err) {
  char *p = sluice__fs_shown(fs, path, SIZE_MAX);
  if (p == NULL) return sluice__error_oom();
  sluice_error *e;
  if (err == EXDEV)
    e = sluice__error_set_errno(
        sluice__error(SLUICE_ERR_PERMISSION_DENIED, "fs: %s '%s': path escapes root", op, p), err);
  else if (err == ENOTDIR)
    e = sluice__error_set_errno(
        sluice__error(SLUICE_ERR_NOT_FOUND, "fs: %s '%s': %s", op, p, strerror(err)), err);
  else
    e = sluice__error_errno(err, "fs: %s '%s'", op, p);
  free(p);
  return e;
}

sluice_error *sluice__fs_fail(const sluice__fs *fs, sluice_errkind kind, const char *op,
                              const char *path, const char *why) {
  char *p = sluice__fs_shown(fs, path, SIZE_MAX);
  if (p == NULL) return sluice__error_oom();
  sluice_error *e = sluice__error(kind, "fs: %s '%s': %s", op, p, why);
  free(p);
  return e;
}

void sluice__fs_fill_meta(const struct stat *st, sluice_metadata *m) {
  m->is_dir = S_ISDIR(st->st_mode) ? 1 : 0;
  /* A directory's st_size is a filesystem detail, not object bytes. */
  m->size = m->is_dir ? 0 : (uint64_t)st->st_size;
  m->mtime = (int64_t)st->st_mtim.tv_sec;
}

/* An O_PATH fd cannot be fsync'ed, so open the directory for reading
 * through it. */
int sluice__fs_fsync_dir(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int e = fsync(fd) < 0 ? errno : 0;
  close(fd);
  return e;
}

/* The fd, or -errno with *bad the length of the prefix of dir that failed,
 * so the message can name it.  -ENOTDIR/-EEXIST: a non-directory is in the
 * way. */
static int mkdirs(const sluice__fs *fs, const char *dir, size_t *bad) {
  *bad = strlen(dir);
  int fd = sluice__fs_open_beneath(fs, dir, O_PATH | O_DIRECTORY, 0);
  if (fd >= 0) return fd; /* the common case: it exists */
  /* Walk it one component at a time: that creates what is missing and, on
   * failure, finds which component is to blame. */

  char *buf = strdup(dir);
  if (buf == NULL) return -ENOMEM;
  int parent = sluice__fs_open_beneath(fs, "", O_PATH | O_DIRECTORY, 0);
  size_t start = 0;
  for (size_t i = 0; parent >= 0 && buf[i] != '\0'; i++) {
    if (buf[i] != '/') continue;
    buf[i] = '\0';
    *bad = i;
    /* A name fs does not make (sluice__path_new_name) is only entered. */
    int unsafe = sluice__text_needs_escape(buf + start);
    int e = unsafe ? EEXIST : mkdirat(parent, buf + start, 0777) < 0 ? errno : 0;
    buf[i] = '/';
    /* With fsync on, a directory made for an object must be as durable as
     * the object's own rename will be. */
    if (e == 0 && fs->fsync) e = sluice__fs_fsync_dir(parent);
    if (e != 0 && e != EEXIST) {
      close(parent);
      parent = -e;
      break;
    }
    /* Re-open the prefix from the root rather than from parent: if what
     * exists there is a symlink, it is followed only while it stays
     * beneath root (and a file in the way gives ENOTDIR). */
    char saved = buf[i + 1];
    buf[i + 1] = '\0';
    int next = sluice__fs_open_beneath(fs, buf, O_PATH | O_DIRECTORY, 0);
    if (next == -ENOENT && unsafe) next = -EILSEQ; /* told apart in mkdirs_error */
    buf[i + 1] = saved;
    close(parent);
    parent = next;
    start = i + 1;
  }
  free(buf);
  if (parent >= 0) *bad = strlen(dir);
  return parent;
}

/* The error for a failed mkdirs() of dir (bad as it set) on behalf of op on
 * path. */
static sluice_error *mkdirs_error(const sluice__fs *fs, const char *op, const char *path,
                                  const char *dir, size_t bad, int err) {
  if (bad > 0 && dir[bad - 1] == '/') bad--;
  if (err == EILSEQ) {
    size_t start = bad;
    while (start > 0 && dir[start - 1] != '/') start--;
    char fsop[64], *p = sluice__fs_shown(fs, path, SIZE_MAX);
    char *name = strndup(dir + start, bad - start);
    snprintf(fsop, sizeof fsop, "fs: %s", op);
    sluice_error *e =
        p == NULL || name == NULL ? sluice__error_oom() : sluice__path_new_name(fsop, p, name);
    free(p);
    free(name);
    if (e != NULL) return e;
  }
  if (err != ENOTDIR && err != EEXIST) return sluice__fs_error(fs, op, path, err);
  char *p = sluice__fs_shown(fs, path, SIZE_MAX), *d = sluice__fs_shown(fs, dir, bad);
  sluice_error *e =
      p == NULL || d == NULL
          ? sluice__error_oom()
          : sluice__error_set_errno(sluice__error(SLUICE_ERR_ALREADY_EXISTS,
                                                  "fs: %s '%s': '%s' exists and is not a directory",
                                                  op, p, d),
                                    err);
  free(p);
  free(d);
  return e;
}

int sluice__fs_mkdirs(const sluice__fs *fs, const char *op, const char *path, const char *dir,
                      sluice_error **err) {
  size_t bad;
  int fd = mkdirs(fs, dir, &bad);
  *err = fd < 0 ? mkdirs_error(fs, op, path, dir, bad, -fd) : NULL;
  return fd < 0 ? -1 : fd;
}

/* ------------------------------------------------------------------ */
/* Service: open / close / stat / remove / create_dir                  */
/* ------------------------------------------------------------------ */

static const char *const fs_config_keys[] = {"root", "fsync", "direct_io", NULL};
static const char *const fs_writer_keys[] = {NULL};

static void fs_close(void *svc) {
  sluice__fs *fs = svc;
  if (fs == NULL) return;
  if (fs->rootfd >= 0) close(fs->rootfd);
  free(fs->root);
  free(fs->root_real);
  free(fs);
}

static sluice_error *open_root(sluice__fs *fs, const char *root) {
  fs->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fs->rootfd < 0) {
    int e = errno;
    if (e == ENOENT)
      return sluice__error(SLUICE_ERR_CONFIG_INVALID, "fs: option 'root': '%s' does not exist",
                           root);
    if (e == ENOTDIR)
      return sluice__error(SLUICE_ERR_CONFIG_INVALID, "fs: option 'root': '%s' is not a directory",
                           root);
    if (e == ENOMEM) return sluice__error_oom();
    return sluice__error_set_errno(
        sluice__error(SLUICE_ERR_CONFIG_INVALID, "fs: option 'root': '%s': %s", root, strerror(e)),
        e);
  }
  fs->root = strdup(root);
  fs->root_real = realpath(root, NULL); /* NULL is tolerated: see open_fallback */
  int real_errno = errno;
  if (fs->root == NULL) return sluice__error_oom();
  /* Probe once: ENOSYS on old kernels, EPERM from old container seccomp
   * profiles.  Opening "." beneath the root can fail for no other reason. */
  fs->use_openat2 = 0;
  if (!sluice__fs_force_fallback) {
    int fd = sys_openat2(fs->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
      close(fd);
      fs->use_openat2 = 1;
    }
  }
  if (!fs->use_openat2 && fs->root_real == NULL)
    return sluice__error_set_errno(sluice__error(SLUICE_ERR_CONFIG_INVALID,
                                                 "fs: option 'root': '%s': %s", root,
                                                 strerror(real_errno)),
                                   real_errno);
  return NULL;
}

static sluice_error *fs_open(const sluice_options *config, void **svc) {
  *svc = NULL;
  const char *root = config != NULL ? sluice_options_get(config, "root") : NULL;
  if (root == NULL || root[0] == '\0')
    return sluice__error(SLUICE_ERR_CONFIG_INVALID, "fs: option 'root' is required");

  sluice__fs *fs = calloc(1, sizeof *fs);
  if (fs == NULL) return sluice__error_oom();
  fs->rootfd = -1;
  sluice_error *err = NULL;
  if (config != NULL)
    err = sluice__opt_as_config(sluice__opt_bool(config, "fsync", 0, "fs", &fs->fsync));
  if (err == NULL && config != NULL)
    err = sluice__opt_as_config(sluice__opt_bool(config, "direct_io", 1, "fs", &fs->direct_io));
  if (err == NULL) err = open_root(fs, root);
  if (err != NULL) {
    fs_close(fs);
    return err;
  }
  *svc = fs;
  return NULL;
}

int sluice__fs_trailing_slash(const char *path) {
  size_t n = strlen(path);
  return n > 0 && path[n - 1] == '/';
}

static sluice_error *fs_stat(void *svc, const char *path, sluice_metadata *out) {
  sluice__fs *fs = svc;
  sluice_error *err = sluice__path_file_rules("fs: stat", path);
  if (err != NULL) return err;
  /* O_PATH follows a symlink only while it stays beneath root, and does not
   * block on a FIFO.  "x/" on a file fails with ENOTDIR: not found. */
  int fd = sluice__fs_open_beneath(fs, path, O_PATH, 0);
  if (fd < 0) return sluice__fs_error(fs, "stat", path, -fd);
  struct stat st;
  int rc = fstat(fd, &st);
  int e = errno;
  close(fd);
  if (rc < 0) return sluice__fs_error(fs, "stat", path, e);
  sluice__fs_fill_meta(&st, out);
  return NULL;
}

static sluice_error *fs_remove(void *svc, const char *path) {
  sluice__fs *fs = svc;
  if (path[0] == '\0')
    return sluice__fs_fail(fs, SLUICE_ERR_INVALID_ARGUMENT, "remove", "", "cannot remove the root");
  sluice_error *err = sluice__path_file_rules("fs: remove", path);
  if (err != NULL) return err;
  char *base;
  int dirfd = sluice__fs_open_parent(fs, path, &base);
  if (dirfd < 0) {
    /* No parent (or a file where the parent should be): nothing to delete. */
    if (dirfd == -ENOENT || dirfd == -ENOTDIR) return NULL;
    return sluice__fs_error(fs, "remove", path, -dirfd);
  }
  int is_dir = sluice__fs_trailing_slash(path);
  /* unlinkat on the bare name removes a symlink itself, never its target. */
  int rc = unlinkat(dirfd, base, is_dir ? AT_REMOVEDIR : 0);
  int e = errno;
  close(dirfd);
  free(base);
  if (rc == 0 || e == ENOENT) return NULL;
  if (e == EISDIR)
    return sluice__fs_fail(
        fs, SLUICE_ERR_IS_A_DIRECTORY, "remove", path,
        "is a directory (name it with a trailing '/' to remove it if it is empty)");
  if (e == ENOTDIR)
    return sluice__fs_fail(fs, SLUICE_ERR_INVALID_ARGUMENT, "remove", path, "not a directory");
  /* errno's own mapping says "already exists" for ENOTEMPTY (right for a
   * rename onto a full directory); for a delete it is a plain failure. */
  if (e == ENOTEMPTY || e == EEXIST)
    return sluice__error_set_errno(
        sluice__fs_fail(fs, SLUICE_ERR_IO, "remove", path, strerror(ENOTEMPTY)), e);
  return sluice__fs_error(fs, "remove", path, e);
}

static sluice_error *fs_create_dir(void *svc, const char *path) {
  sluice__fs *fs = svc;
  if (path[0] != '\0' && !sluice__fs_trailing_slash(path))
    return sluice__fs_fail(fs, SLUICE_ERR_INVALID_ARGUMENT, "create_dir", path,
                           "a directory path must end in '/'");
  sluice_error *err = sluice__path_file_rules("fs: create_dir", path);
  if (err != NULL) return err;
  int fd = sluice__fs_mkdirs(fs, "create_dir", path, path, &err);
  if (fd < 0) return err;
  close(fd);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Sources                                                             */
/* ------------------------------------------------------------------ */

typedef struct fs_source {
  sluice__source base;
  int fd;
  uint64_t start;  /* file offset of the range */
  uint64_t cursor; /* read(): next offset relative to start */
  uint64_t skip;   /* stream: bytes still to discard (the offset) */
  uint64_t left;   /* stream: bytes still allowed (length), or UINT64_MAX */
  char *path;
} fs_source;

/* Reads exactly len bytes at file offset off unless the file ends first;
 * *n is what was read.  The range was measured at open, so ending early
 * means the file shrank under us: an error rather than a silently short
 * object. */
static sluice_error *pread_full(fs_source *s, void *buf, size_t len, uint64_t off, size_t *n) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      *n = 0;
      return sluice__fs_error(NULL, "read", s->path, errno);
    }
    if (r == 0) {
      *n = 0;
      return sluice__error(SLUICE_ERR_IO, "fs: read '%s': file shrank while being read", s->path);
    }
    done += (size_t)r;
  }
  *n = done;
  return NULL;
}

static sluice_error *fs_source_pread(sluice__source *src, void *buf, size_t len, uint64_t off,
                                     size_t *n) {
  fs_source *s = (fs_source *)src;
  *n = 0;
  if (off >= s->base.size) return NULL;
  if (len > s->base.size - off) len = (size_t)(s->base.size - off); /* never past the range end */
  return pread_full(s, buf, len, s->start + off, n);
}

static sluice_error *fs_source_read(sluice__source *src, void *buf, size_t len, size_t *n) {
  fs_source *s = (fs_source *)src;
  sluice_error *err = fs_source_pread(src, buf, len, s->cursor, n);
  s->cursor += *n;
  return err;
}

/* A FIFO or character device: no size, no positioned reads.  The offset is
 * honoured by discarding bytes, the length by counting them. */
static sluice_error *fs_stream_read(sluice__source *src, void *buf, size_t len, size_t *n) {
  fs_source *s = (fs_source *)src;
  *n = 0;
  while (len > 0 && s->left > 0) {
    size_t want = len;
    if (s->skip > 0 && want > s->skip) want = (size_t)s->skip;
    if (s->skip == 0 && want > s->left) want = (size_t)s->left;
    ssize_t r = read(s->fd, buf, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      return sluice__fs_error(NULL, "read", s->path, errno);
    }
    if (r == 0) return NULL;
    if (s->skip > 0) {
      s->skip -= (uint64_t)r;
      continue;
    }
    if (s->left != UINT64_MAX) s->left -= (uint64_t)r;
    *n = (size_t)r;
    return NULL;
  }
  return NULL;
}

static void fs_source_free(sluice__source *src) {
  fs_source *s = (fs_source *)src;
  if (s == NULL) return;
  if (s->fd >= 0) close(s->fd);
  free(s->path);
  free(s);
}

static const struct sluice__source_vt fs_file_source_vt = {
    .read = fs_source_read,
    .pread = fs_source_pread,
    .free = fs_source_free,
};

static const struct sluice__source_vt fs_stream_source_vt = {
    .read = fs_stream_read,
    .pread = NULL,
    .free = fs_source_free,
};

/* Sets the range of a regular file of fsize bytes; fails when offset is
 * past the end of a non-empty file (an empty file reads as empty). */
static sluice_error *set_file_range(fs_source *s, uint64_t fsize, uint64_t offset,
                                    uint64_t length) {
  if (offset > fsize && fsize > 0)
    return sluice__error(SLUICE_ERR_RANGE_NOT_SATISFIABLE,
                         "fs: read '%s': offset %llu is past the end (%llu bytes)", s->path,
                         (unsigned long long)offset, (unsigned long long)fsize);
  uint64_t avail = offset < fsize ? fsize - offset : 0;
  s->start = offset < fsize ? offset : fsize;
  s->base.size = length < avail ? length : avail;
  s->base.vt = &fs_file_source_vt;
  return NULL;
}

static sluice_error *fs_open_source(void *svc, const char *path, uint64_t offset, uint64_t length,
                                    sluice__source **out) {
  sluice__fs *fs = svc;
  *out = NULL;
  sluice_error *err = sluice__path_file_rules("fs: read", path);
  if (err != NULL) return err;
  fs_source *s = calloc(1, sizeof *s);
  if (s == NULL || (s->path = sluice__fs_shown(fs, path, SIZE_MAX)) == NULL) {
    free(s);
    return sluice__error_oom();
  }
  s->base.path = s->path;
  s->fd = sluice__fs_open_beneath(fs, path, O_RDONLY | O_NOCTTY, 0);
  if (s->fd < 0) {
    err = sluice__fs_error(NULL, "read", s->path, -s->fd);
    fs_source_free(&s->base);
    return err;
  }
  struct stat st;
  if (fstat(s->fd, &st) < 0)
    err = sluice__fs_error(NULL, "read", s->path, errno);
  else if (S_ISDIR(st.st_mode))
    err = sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "fs: read '%s': is a directory", s->path);
  else if (S_ISREG(st.st_mode))
    err = set_file_range(s, (uint64_t)st.st_size, offset, length);
  else {
    s->base.vt = &fs_stream_source_vt;
    s->base.size = UINT64_MAX;
    s->skip = offset;
    s->left = length;
  }
  if (err != NULL) {
    fs_source_free(&s->base);
    return err;
  }
  *out = &s->base;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

const sluice__service_vt sluice__fs_service = {
    .scheme = "fs",
    .writer_keys = fs_writer_keys,
    .config_keys = fs_config_keys,
    .open = fs_open,
    .close = fs_close,
    .stat = fs_stat,
    .remove = fs_remove,
    .create_dir = fs_create_dir,
    .list = sluice__fs_list,
    .remove_all = sluice__fs_remove_all,
    .rename = sluice__fs_rename,
    .open_source = fs_open_source,
    .open_sink = sluice__fs_open_sink,
};
