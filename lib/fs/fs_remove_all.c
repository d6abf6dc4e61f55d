/* SPDX-License-Identifier: MIT */
/*
 * The fs service's remove_all: rm -rf of a directory beneath the root,
 * without ever following a symlink.
 *
 * Containment.  Only the directory that holds dir is resolved by path (beneath
 * the root, like every other fs operation).  dir itself is opened from that
 * parent by its bare name with O_NOFOLLOW, and below it every step is an
 * *at() call on a single name relative to a directory fd the walk holds:
 * openat(O_DIRECTORY | O_NOFOLLOW) to descend, unlinkat() to delete.  A
 * symlink anywhere in the tree is therefore unlinked as a link, its target
 * untouched, whether it points inside the root or out of it, and a
 * directory renamed away mid-walk is followed by fd rather than by name.
 *
 * The walk neither crosses into another mount (rmdir of a mount point fails
 * with EBUSY anyway, so deleting its contents first would only do harm)
 * nor descends more than MAX_DEPTH directories.
 *
 * Bounded resources.  An explicit stack replaces recursion.  At most
 * MAX_OPEN directory streams are open at once (each costs a descriptor and
 * a 32 KiB glibc buffer); in a deeper tree the oldest are closed and, when
 * the walk climbs back, reopened through the child's ".." after checking
 * that it is still the same directory (device and inode).  Reopening
 * starts that directory's listing over, which is cheap: everything already
 * visited in it is gone.
 *
 * Errors stop the walk at once (the public contract: the error names the
 * first thing that could not be deleted); what was deleted before stays
 * deleted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"
#include "fs/fs.h"
#include "path.h"
#include "service.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#define MAX_DEPTH 4096 /* directories on the stack, dir itself included */
#define MAX_OPEN 64    /* directory streams held open at once */
#define MAX_PASSES 4   /* re-reads of a directory found not empty at rmdir */

/* How directories are opened: never through a symlink, never blocking. */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

#define SHOW_MAX 1024 /* longest path a message shows (its end is kept) */

typedef struct level {
  DIR *d; /* NULL while closed to spare descriptors */
  dev_t dev;
  ino_t ino;
  size_t end;      /* path[0, end) is this directory's path, ending in '/' */
  unsigned passes; /* times it was re-read after rmdir found it not empty */
} level;

typedef struct walk {
  const sluice__fs *fs;
  const char *dir; /* shown as the user named it, for messages */
  size_t top_len;  /* strlen of dir's path with one trailing '/' */
  int parentfd;    /* O_PATH on the directory holding dir */
  char *base;      /* dir's name in parentfd */
  dev_t pdev;      /* parentfd's device */
  level *lv;       /* lv[depth - 1] is the directory being read */
  size_t depth, cap, nopen;
  char *path; /* "dir/sub/subsub/": the path of every level */
  size_t pcap;
} walk;

/* Device, inode and whether fd is the root of a mount.  statx tells a
 * mount root even for a bind mount from the same filesystem; without statx
 * (old kernels, valgrind) only a change of device shows.  0 or errno. */
static int identify(int fd, dev_t *dev, ino_t *ino, int *mount_root) {
  struct statx stx;
  *mount_root = 0;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO, &stx) == 0) {
    *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
    *ino = (ino_t)stx.stx_ino;
    *mount_root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                  (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return 0;
  }
  if (errno != ENOSYS && errno != EINVAL && errno != EPERM) return errno;
  struct stat st;
  if (fstat(fd, &st) < 0) return errno;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return 0;
}

/* Grows path to hold n bytes; 0 or -1. */
static int path_reserve(walk *w, size_t n) {
  if (n <= w->pcap) return 0;
  size_t cap = w->pcap ? w->pcap : 256;
  while (cap < n) cap *= 2;
  char *p = realloc(w->path, cap);
  if (p == NULL) return -1;
  w->path = p;
  w->pcap = cap;
  return 0;
}

static size_t cur_end(const walk *w) { return w->depth > 0 ? w->lv[w->depth - 1].end : 0; }

/* path[0, len) followed by name (and '/' when dir), malloc'd for a
 * message; a path from a very deep tree is shown by its end. */
static char *show_path(const walk *w, size_t len, const char *name, int dir) {
  char *s, *at = sluice__fs_shown(w->fs, w->path, len);
  if (at == NULL) return NULL;
  int rc = asprintf(&s, "%s%s%s", at, name ? name : "", name && dir ? "/" : "");
  free(at);
  if (rc < 0) return NULL;
  size_t n = strlen(s);
  if (n > SHOW_MAX) {
    memmove(s + 3, s + n - (SHOW_MAX - 3), SHOW_MAX - 3 + 1);
    memcpy(s, "...", 3);
  }
  return s;
}

/* "fs: remove_all 'dir/': <what> '<path>': <strerror(e)>", kind from e. */
static sluice_error *fail_errno(const walk *w, int e, const char *what, size_t len,
                                const char *name, int dir) {
  char *p = show_path(w, len, name, dir);
  if (p == NULL) return sluice__error_oom();
  sluice_error *err = sluice__error_errno(e, "fs: remove_all '%s': %s '%s'", w->dir, what, p);
  free(p);
  return err;
}

/* "fs: remove_all 'dir/': '<path>' <why>". */
static sluice_error *fail_kind(const walk *w, sluice_errkind kind, size_t len, const char *name,
                               int dir, const char *why) {
  char *p = show_path(w, len, name, dir);
  if (p == NULL) return sluice__error_oom();
  sluice_error *err = sluice__error(kind, "fs: remove_all '%s': '%s' %s", w->dir, p, why);
  free(p);
  return err;
}

/* Closes the stream of the oldest level that has one, never the current
 * directory's. */
static void close_oldest(walk *w) {
  for (size_t i = 0; i + 1 < w->depth; i++) {
    if (w->lv[i].d != NULL) {
      closedir(w->lv[i].d);
      w->lv[i].d = NULL;
      w->nopen--;
      return;
    }
  }
}

/* Makes the directory open on fd (taken) the current one: name is its name
 * in the current directory, or NULL for dir itself (whose path is set). */
static sluice_error *push(walk *w, int fd, const char *name) {
  /* What messages name: the new directory's path. */
  size_t len = name != NULL ? cur_end(w) : w->top_len;
  dev_t dev, updev = w->depth > 0 ? w->lv[w->depth - 1].dev : w->pdev;
  ino_t ino;
  int mount_root;
  int e = identify(fd, &dev, &ino, &mount_root);
  if (e != 0) {
    close(fd);
    return fail_errno(w, e, "cannot examine", len, name, 1);
  }
  if (mount_root || dev != updev) {
    close(fd);
    return fail_kind(w, SLUICE_ERR_PERMISSION_DENIED, len, name, 1,
                     "is a mount point: not removing another filesystem's files");
  }
  if (w->depth == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    level *lv = realloc(w->lv, cap * sizeof *lv);
    if (lv == NULL) {
      close(fd);
      return sluice__error_oom();
    }
    w->lv = lv;
    w->cap = cap;
  }
  size_t end = w->top_len;
  if (name != NULL) {
    size_t n = strlen(name);
    end = len + n + 1;
    if (path_reserve(w, end + 1) < 0) {
      close(fd);
      return sluice__error_oom();
    }
    memcpy(w->path + len, name, n);
    w->path[end - 1] = '/';
    w->path[end] = '\0';
  }
  if (w->nopen >= MAX_OPEN) close_oldest(w);
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    e = errno;
    close(fd);
    return fail_errno(w, e, "cannot read", len, name, 1);
  }
  level *l = &w->lv[w->depth++];
  l->d = d;
  l->dev = dev;
  l->ino = ino;
  l->end = end;
  l->passes = 0;
  w->nopen++;
  return NULL;
}

/* Descends into sub-directory name of the current directory, or deletes
 * it when it turns out not to be a directory (any more). */
static sluice_error *descend(walk *w, const char *name) {
  int dfd = dirfd(w->lv[w->depth - 1].d);
  int fd = openat(dfd, name, DIR_FLAGS);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return NULL; /* gone meanwhile */
    if (e == ENOTDIR || e == ELOOP) {
      /* Swapped for a file or a symlink since readdir: unlink that. */
      if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return NULL;
      return fail_errno(w, errno, "cannot remove", cur_end(w), name, 0);
    }
    /* Unreadable but empty (EACCES as another user): rmdir still works. */
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0) return NULL;
    return fail_errno(w, e, "cannot open", cur_end(w), name, 1);
  }
  if (w->depth >= MAX_DEPTH) {
    close(fd);
    char why[80];
    snprintf(why, sizeof why, "is nested more than %d directories deep", MAX_DEPTH);
    return fail_kind(w, SLUICE_ERR_IO, cur_end(w), name, 1, why);
  }
  return push(w, fd, name);
}

/* One entry of the current directory. */
static sluice_error *visit(walk *w, const char *name, unsigned char type) {
  if (type != DT_DIR) {
    /* Files, symlinks (removed as links, never followed), FIFOs, sockets,
     * devices, and DT_UNKNOWN: unlink without AT_REMOVEDIR fails with
     * EISDIR on a directory, which is then descended into. */
    int dfd = dirfd(w->lv[w->depth - 1].d);
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return NULL;
    if (errno != EISDIR) return fail_errno(w, errno, "cannot remove", cur_end(w), name, 0);
  }
  return descend(w, name);
}

/* Reopens lv[i] (closed to spare descriptors) through the ".." of lv[i + 1],
 * provided that still is the directory lv[i + 1] was found in. */
static sluice_error *reopen_parent(walk *w, size_t i) {
  level *p = &w->lv[i];
  int fd = openat(dirfd(w->lv[i + 1].d), "..", DIR_FLAGS);
  if (fd < 0) return fail_errno(w, errno, "cannot reopen", p->end, NULL, 0);
  dev_t dev;
  ino_t ino;
  int mount_root;
  int e = identify(fd, &dev, &ino, &mount_root);
  if (e == 0 && (dev != p->dev || ino != p->ino)) {
    close(fd);
    return fail_kind(w, SLUICE_ERR_IO, w->lv[i + 1].end, NULL, 0,
                     "was moved to another directory while being removed");
  }
  if (e == 0 && (p->d = fdopendir(fd)) == NULL) e = errno;
  if (e != 0) {
    close(fd);
    return fail_errno(w, e, "cannot reopen", p->end, NULL, 0);
  }
  w->nopen++;
  return NULL;
}

/* The current directory has been read to its end: remove it from its
 * parent and pop it, or read it again when something is still in it. */
static sluice_error *finish(walk *w) {
  size_t t = w->depth - 1;
  level *l = &w->lv[t];
  int pfd = w->parentfd;
  const char *name = w->base;
  if (t > 0) {
    if (w->lv[t - 1].d == NULL) {
      sluice_error *err = reopen_parent(w, t - 1);
      if (err != NULL) return err;
    }
    pfd = dirfd(w->lv[t - 1].d);
    name = w->path + w->lv[t - 1].end; /* up to the '/' cut off below */
  }
  char *slash = w->path + l->end - 1;
  *slash = '\0';
  int rc = unlinkat(pfd, name, AT_REMOVEDIR);
  int e = errno;
  *slash = '/';
  if (rc < 0 && e == ENOTEMPTY && l->passes < MAX_PASSES) {
    /* Something was added meanwhile (or readdir missed an entry while
     * entries were being removed): read it again. */
    l->passes++;
    rewinddir(l->d);
    return NULL;
  }
  if (rc < 0 && e != ENOENT) return fail_errno(w, e, "cannot remove", l->end, NULL, 0);
  closedir(l->d);
  l->d = NULL;
  w->nopen--;
  w->depth--;
  return NULL;
}

/* Opens dir itself from its parent, refusing what is not a directory. */
static sluice_error *start(walk *w) {
  int mount_root;
  ino_t ino;
  int e = identify(w->parentfd, &w->pdev, &ino, &mount_root);
  if (e != 0) return sluice__fs_error(NULL, "remove_all", w->dir, e);
  int fd = openat(w->parentfd, w->base, DIR_FLAGS);
  if (fd >= 0) return push(w, fd, NULL);
  e = errno;
  if (e == ENOENT) return NULL; /* nothing to delete */
  if (e != ENOTDIR && e != ELOOP) return sluice__fs_error(NULL, "remove_all", w->dir, e);
  struct stat st;
  if (fstatat(w->parentfd, w->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? NULL : sluice__fs_error(NULL, "remove_all", w->dir, errno);
  if (S_ISLNK(st.st_mode))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "fs: remove_all '%s': is a symbolic link, not a directory (delete "
                         "removes the link itself)",
                         w->dir);
  if (!S_ISDIR(st.st_mode))
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT, "fs: remove_all '%s': not a directory",
                         w->dir);
  return sluice__fs_error(NULL, "remove_all", w->dir, e); /* replaced meanwhile */
}

static void walk_free(walk *w) {
  for (size_t i = 0; i < w->depth; i++)
    if (w->lv[i].d != NULL) closedir(w->lv[i].d);
  if (w->parentfd >= 0) close(w->parentfd);
  free(w->lv);
  free(w->path);
  free(w->base);
}

sluice_error *sluice__fs_remove_all(void *svc, const char *dir) {
  const sluice__fs *fs = svc;
  sluice_error *err = sluice__path_file_rules("fs: remove_all", dir);
  if (err != NULL) return err;
  size_t n = strlen(dir);
  while (n > 0 && dir[n - 1] == '/') n--;
  if (n == 0)
    return sluice__error(SLUICE_ERR_INVALID_ARGUMENT,
                         "fs: remove_all '%s': refusing to remove the root", fs->root);

  walk w;
  memset(&w, 0, sizeof w);
  char *shown = sluice__fs_shown(fs, dir, SIZE_MAX);
  if (shown == NULL) return sluice__error_oom();
  w.fs = fs;
  w.dir = shown;
  w.parentfd = sluice__fs_open_parent(fs, dir, &w.base);
  if (w.parentfd < 0) {
    /* No parent (or a file where one should be): nothing to delete. */
    int e = -w.parentfd;
    free(shown);
    if (e == ENOENT || e == ENOTDIR) return NULL;
    return sluice__fs_error(fs, "remove_all", dir, e);
  }
  if (path_reserve(&w, n + 2) < 0) {
    err = sluice__error_oom();
  } else {
    memcpy(w.path, dir, n);
    w.path[n] = '/';
    w.path[n + 1] = '\0';
    w.top_len = n + 1;
    err = start(&w);
  }
  while (err == NULL && w.depth > 0) {
    level *l = &w.lv[w.depth - 1];
    errno = 0;
    struct dirent *de = readdir(l->d);
    if (de == NULL) {
      err = errno != 0 ? fail_errno(&w, errno, "cannot read", l->end, NULL, 0) : finish(&w);
      continue;
    }
    const char *nm = de->d_name;
    if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'))) continue;
    err = visit(&w, nm, de->d_type);
  }
  walk_free(&w);
  free(shown);
  return err;
}
