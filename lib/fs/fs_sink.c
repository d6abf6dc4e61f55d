/* SPDX-License-Identifier: MIT */
/*
 * The fs service's sinks.  A sink writes into ".<name>.sluice-XXXXXX" next
 * to the destination and renames it into place on commit, so a failed,
 * aborted or crashed write never leaves a partial object under the final
 * name.
 *
 * Direct I/O.  A large object whose size is known up front is written
 * through a second descriptor opened with O_DIRECT.  Through the page cache,
 * a 1 GiB download here took 0.76-2.32 s from run to run (most of it the
 * kernel copying into freshly allocated page-cache memory, at whatever speed
 * the machine hands out new pages) and 0.8-1.6 CPU-s; with O_DIRECT it took
 * 0.83-1.02 s and half the system time (BENCHMARKS.md).  It also keeps a
 * one-off transfer from evicting everything else in the cache.  Small
 * objects stay buffered: there the cache absorbs the write at memory speed
 * and the file is likely to be read again soon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bufpool.h"
#include "error.h"
#include "escape.h"
#include "fs/fs.h"
#include "path.h"
#include "service.h"

/* Objects at least this large, written in chunks at least this large, go
 * through O_DIRECT (see above): each direct write waits for the device, so
 * small ones would cost more than the cache does. */
#define FS_DIRECT_MIN_SIZE (32u << 20)
#define FS_DIRECT_MIN_CHUNK (1u << 20)

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

enum { SINK_OPEN, SINK_COMMITTED, SINK_ABORTED };

typedef struct fs_sink {
  sluice__sink base;
  const sluice__fs *fs;
  /* Workers hold it shared around pwrite; commit and abort hold it
   * exclusively, so the fd is never closed (and its number reused by
   * another open) while a worker is still writing to it. */
  pthread_rwlock_t lock;
  int fd;            /* the temporary file, -1 once closed */
  int dfd;           /* the same file opened with O_DIRECT (see above), or -1 */
  size_t dio_align;  /* what O_DIRECT needs of offsets, lengths and buffers */
  atomic_int dfd_ok; /* 0 once a direct write was refused */
  int dirfd;         /* O_PATH fd on the destination directory */
  int state;
  int if_not_exists;
  char *name;    /* final name in dirfd */
  char *tmpname; /* temporary name in dirfd */
  char *path;
} fs_sink;

#define TEMP_TAG ".sluice-"
#define TEMP_SUFFIX 6 /* random characters after TEMP_TAG */

int sluice__fs_is_temp_name(const char *name) {
  size_t n = strlen(name), tag = sizeof TEMP_TAG - 1;
  if (name[0] != '.' || n < 2 + tag + TEMP_SUFFIX) return 0;
  const char *t = name + n - tag - TEMP_SUFFIX;
  if (memcmp(t, TEMP_TAG, tag) != 0) return 0;
  for (const char *c = t + tag; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      return 0;
  return 1;
}

/* Unpredictable suffix, so names cannot be guessed or collide across
 * processes; the counter keeps it unique even without getrandom. */
static void random_suffix(char out[TEMP_SUFFIX + 1]) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static atomic_ulong counter;
  unsigned char r[TEMP_SUFFIX];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    /* Relaxed: the count only has to differ between calls; it orders
     * nothing else. */
    unsigned long c = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
    unsigned long x = c * 2654435761UL ^ (unsigned long)getpid() ^ (unsigned long)time(NULL);
    for (size_t i = 0; i < sizeof r; i++, x >>= 5) r[i] = (unsigned char)x;
  }
  for (size_t i = 0; i < TEMP_SUFFIX; i++) out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
  out[TEMP_SUFFIX] = '\0';
}

/* Creates ".<name>.sluice-XXXXXX" in the destination directory with
 * O_EXCL (never reusing anyone's file).  A long name is cut so the
 * temporary name still fits NAME_MAX. */
static int create_temp(fs_sink *s) {
  const size_t extra = 1 + sizeof TEMP_TAG - 1 + TEMP_SUFFIX; /* '.', tag, suffix */
  size_t keep = strlen(s->name);
  if (keep > NAME_MAX - extra) keep = NAME_MAX - extra;
  s->tmpname = malloc(keep + extra + 1);
  if (s->tmpname == NULL) return -ENOMEM;
  for (int tries = 0; tries < 100; tries++) {
    char sfx[TEMP_SUFFIX + 1];
    random_suffix(sfx);
    snprintf(s->tmpname, keep + extra + 1, ".%.*s" TEMP_TAG "%s", (int)keep, s->name, sfx);
    /* 0666: the umask decides, as for any new file. */
    s->fd = openat(s->dirfd, s->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
    if (s->fd >= 0) return 0;
    if (errno != EEXIST && errno != EINTR) break;
  }
  int e = errno;
  free(s->tmpname);
  s->tmpname = NULL;
  return -e;
}

/* What is at the destination now: directories are refused, and with
 * if_not_exists anything at all (a dangling symlink included). */
static sluice_error *check_target(fs_sink *s) {
  struct stat st;
  if (fstatat(s->dirfd, s->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return NULL;
    return sluice__fs_error(NULL, "write", s->path, errno);
  }
  if (S_ISDIR(st.st_mode))
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "fs: write '%s': is a directory", s->path);
  if (s->if_not_exists)
    return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "fs: write '%s': already exists", s->path);
  return NULL;
}

/* Closes the temporary file and removes it, unless committed.  Caller holds
 * the lock exclusively (or is the only user). */
static void sink_discard(fs_sink *s) {
  if (s->dfd >= 0) {
    close(s->dfd);
    s->dfd = -1;
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (s->state == SINK_OPEN && s->tmpname != NULL) unlinkat(s->dirfd, s->tmpname, 0);
  if (s->state == SINK_OPEN) s->state = SINK_ABORTED;
}

static void fs_sink_abort(sluice__sink *sink) {
  fs_sink *s = (fs_sink *)sink;
  pthread_rwlock_wrlock(&s->lock);
  sink_discard(s);
  pthread_rwlock_unlock(&s->lock);
}

static void fs_sink_free(sluice__sink *sink) {
  fs_sink *s = (fs_sink *)sink;
  if (s == NULL) return;
  sink_discard(s); /* never commit by accident; no other thread is left */
  if (s->dirfd >= 0) close(s->dirfd);
  pthread_rwlock_destroy(&s->lock);
  free(s->name);
  free(s->tmpname);
  free(s->path);
  free(s);
}

/* Writes all of buf at off; 0 or an errno value. */
static int pwrite_full(int fd, const unsigned char *buf, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t w = pwrite(fd, buf, len, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf += w;
    len -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* The aligned head of c through the O_DIRECT descriptor when there is
 * one, the rest (the object's last bytes, or a chunk that is not aligned)
 * through the page cache: the kernel keeps the two coherent.  A filesystem
 * that refuses a direct write after accepting the open (EINVAL) gets this
 * chunk and every later one buffered. */
static int write_chunk(fs_sink *s, const sluice__chunk *c) {
  size_t head = 0;
  int dfd = atomic_load_explicit(&s->dfd_ok, memory_order_relaxed) ? s->dfd : -1;
  if (dfd >= 0 && ((uintptr_t)c->buf | c->offset) % s->dio_align == 0)
    head = c->len - c->len % s->dio_align;
  int e = head ? pwrite_full(dfd, c->buf, head, c->offset) : 0;
  if (e == EINVAL) {
    atomic_store_explicit(&s->dfd_ok, 0, memory_order_relaxed);
    head = 0;
    e = 0;
  }
  if (e == 0 && head < c->len)
    e = pwrite_full(s->fd, c->buf + head, c->len - head, c->offset + head);
  return e;
}

/* Called by several worker threads at once: pwrite on a shared fd is safe,
 * and parts may arrive in any order (holes are filled later or by commit's
 * ftruncate). */
static sluice_error *fs_sink_write_part(sluice__sink *sink, const sluice__chunk *c) {
  fs_sink *s = (fs_sink *)sink;
  if (c->offset > (uint64_t)INT64_MAX - c->len)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "fs: write '%s': offset %llu too large",
                         s->path, (unsigned long long)c->offset);
  pthread_rwlock_rdlock(&s->lock);
  int open_ = s->state == SINK_OPEN && s->fd >= 0;
  int e = open_ ? write_chunk(s, c) : 0;
  pthread_rwlock_unlock(&s->lock);
  if (!open_)
    return sluice__error(SLUICE_ERR_CANCELED, "fs: write '%s': the writer is no longer open",
                         s->path);
  if (e != 0) return sluice__fs_error(NULL, "write", s->path, e);
  return NULL;
}

/* rename with RENAME_NOREPLACE; filesystems without it (EINVAL) and old
 * kernels (ENOSYS) get link + unlink, which cannot replace either.  0 or an
 * errno value (EEXIST: the target exists). */
static int rename_noreplace(int dirfd, const char *from, const char *to) {
  if (syscall(SYS_renameat2, dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (linkat(dirfd, from, dirfd, to, 0) < 0) return errno;
  /* The object is in place; a leftover temporary name is only clutter. */
  unlinkat(dirfd, from, 0);
  return 0;
}

/* Truncates to the exact size (a zero-length object, or trailing holes),
 * flushes if asked and closes, reporting close()'s error too: on NFS that
 * is where a failed write shows up.  0 or an errno value; fd is closed. */
static int finish_file(fs_sink *s, uint64_t total_size) {
  int e = 0;
  if (s->dfd >= 0 && close(s->dfd) < 0 && errno != EINTR) e = errno;
  s->dfd = -1;
  if (total_size > (uint64_t)INT64_MAX)
    e = EFBIG;
  else if (ftruncate(s->fd, (off_t)total_size) < 0)
    e = errno;
  else if (s->fs->fsync && fsync(s->fd) < 0)
    e = errno;
  if (close(s->fd) < 0 && e == 0 && errno != EINTR) e = errno;
  s->fd = -1; /* closed even on error: Linux never lets close be retried */
  return e;
}

static sluice_error *commit_locked(fs_sink *s, uint64_t total_size) {
  if (s->state == SINK_COMMITTED) return NULL;
  if (s->state != SINK_OPEN || s->fd < 0)
    return sluice__error(SLUICE_ERR_CANCELED,
                         "fs: commit '%s': the writer was aborted or its commit failed", s->path);
  int e = finish_file(s, total_size);
  if (e != 0)
    return sluice__fs_error(NULL, "commit", s->path, e); /* state stays open: abort unlinks */

  if (s->if_not_exists) {
    e = rename_noreplace(s->dirfd, s->tmpname, s->name);
    if (e == EEXIST)
      return sluice__error(SLUICE_ERR_ALREADY_EXISTS, "fs: commit '%s': already exists", s->path);
  } else if (renameat(s->dirfd, s->tmpname, s->dirfd, s->name) < 0) {
    e = errno;
  }
  if (e == EISDIR)
    return sluice__error(SLUICE_ERR_IS_A_DIRECTORY, "fs: commit '%s': is a directory", s->path);
  if (e != 0) return sluice__fs_error(NULL, "commit", s->path, e);
  s->state = SINK_COMMITTED;

  if (s->fs->fsync && (e = sluice__fs_fsync_dir(s->dirfd)) != 0)
    return sluice__error_errno(e,
                               "fs: commit '%s': the object is in place but syncing its "
                               "directory failed, so it may not survive a crash",
                               s->path);
  return NULL;
}

static sluice_error *fs_sink_commit(sluice__sink *sink, uint64_t total_size, uint64_t nparts) {
  fs_sink *s = (fs_sink *)sink;
  pthread_rwlock_wrlock(&s->lock);
  sluice_error *err = commit_locked(s, total_size);
  pthread_rwlock_unlock(&s->lock);
  return err;
}

/* Opens the temporary file again with O_DIRECT (see the top of the file)
 * when the object is large and the filesystem supports it.  The second
 * open goes by name, so it is checked to have reached the same file. */
static sluice_error *fs_sink_size_hint(sluice__sink *sink, uint64_t size) {
  fs_sink *s = (fs_sink *)sink;
  if (!s->fs->direct_io || size < FS_DIRECT_MIN_SIZE || s->base.chunk < FS_DIRECT_MIN_CHUNK ||
      s->dfd >= 0)
    return NULL;
  size_t align = 4096;
#ifdef STATX_DIOALIGN
  struct statx sx;
  if (statx(s->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
    if (sx.stx_dio_offset_align == 0) return NULL; /* no direct I/O on this file */
    align = sx.stx_dio_offset_align > sx.stx_dio_mem_align ? sx.stx_dio_offset_align
                                                           : sx.stx_dio_mem_align;
  }
#endif
  /* Buffers are page-aligned (bufpool.c); anything coarser stays buffered. */
  if (align > SLUICE__BUF_ALIGN || SLUICE__BUF_ALIGN % align != 0) return NULL;
  int fd = openat(s->dirfd, s->tmpname, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
  struct stat a, b;
  if (fd >= 0 && fstat(fd, &a) == 0 && fstat(s->fd, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino) {
    s->dfd = fd;
    s->dio_align = align;
    atomic_store_explicit(&s->dfd_ok, 1, memory_order_relaxed);
  } else if (fd >= 0) {
    close(fd);
  }
  return NULL;
}

static const struct sluice__sink_vt fs_sink_vt = {
    .size_hint = fs_sink_size_hint,
    .write_part = fs_sink_write_part,
    .commit = fs_sink_commit,
    .abort = fs_sink_abort,
    .free = fs_sink_free,
};

/* Opens the destination directory (creating it and its parents, as an
 * object store would), checks the target and creates the temporary file. */
static sluice_error *sink_prepare(fs_sink *s, const char *path) {
  size_t dlen = strlen(path);
  while (dlen > 0 && path[dlen - 1] != '/') dlen--;
  char *dir = strndup(path, dlen);
  s->name = strdup(path + dlen);
  if (dir == NULL || s->name == NULL) {
    free(dir);
    return sluice__error_oom();
  }
  sluice_error *err = NULL;
  s->dirfd = sluice__fs_mkdirs(s->fs, "write", path, dir, &err);
  free(dir);
  if (err == NULL) err = check_target(s);
  if (err == NULL) {
    int e = create_temp(s);
    if (e < 0) err = sluice__fs_error(NULL, "write", s->path, -e);
  }
  return err;
}

sluice_error *sluice__fs_open_sink(void *svc, const char *path, const sluice__write_params *p,
                                   sluice__sink **out) {
  sluice__fs *fs = svc;
  *out = NULL;
  if (p->content_type != NULL)
    return sluice__fs_fail(fs, SLUICE_ERR_UNSUPPORTED, "write", path,
                           "content type is not stored by the fs service");
  if (path[0] == '\0' || sluice__fs_trailing_slash(path))
    return sluice__fs_fail(fs, SLUICE_ERR_IS_A_DIRECTORY, "write", path, "is a directory");
  sluice_error *err = sluice__path_file_rules("fs: write", path);
  if (err != NULL) return err;
  const char *slash = strrchr(path, '/'), *name = slash != NULL ? slash + 1 : path;
  if (sluice__text_needs_escape(name)) {
    char *shown = sluice__fs_shown(fs, path, SIZE_MAX);
    err = shown == NULL ? sluice__error_oom() : sluice__path_new_name("fs: write", shown, name);
    free(shown);
    return err;
  }

  fs_sink *s = calloc(1, sizeof *s);
  if (s == NULL) return sluice__error_oom();
  s->fd = -1;
  s->dfd = -1;
  s->dirfd = -1;
  s->fs = fs;
  s->if_not_exists = p->if_not_exists;
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* abort (from a cancel) should not wait behind a stream of new parts. */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&s->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  s->base.vt = &fs_sink_vt;
  s->base.chunk = p->chunk;
  s->base.per_worker = 1;
  s->base.max_in_flight = 1;
  s->base.ordered = 0;
  s->path = sluice__fs_shown(fs, path, SIZE_MAX);
  s->base.path = s->path;

  err = s->path == NULL ? sluice__error_oom() : sink_prepare(s, path);
  if (err != NULL) {
    fs_sink_free(&s->base);
    return err;
  }
  *out = &s->base;
  return NULL;
}
