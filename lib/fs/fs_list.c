/* SPDX-License-Identifier: MIT */
/*
 * The fs lister.  A recursive listing walks depth-first with a stack of
 * open directories (one DIR per level), so memory grows with the depth of
 * the tree, never with the number of entries.
 *
 * Containment: the starting directory is opened beneath the root; below it
 * the walk only ever descends into real sub-directories (openat with
 * O_NOFOLLOW on a single name), never through a symlink, so it can neither
 * leave the root nor loop.  A symlink is reported only when it resolves
 * beneath the root, with its target's metadata: a file as a file, and, in a
 * one-level listing, a directory as a directory (a recursive walk skips
 * symlinked directories rather than descend into them).
 *
 * Only regular files and directories are listed: sockets, FIFOs and
 * devices are skipped (copying a FIFO found by a recursive walk would block),
 * and so are the temporary files of writes in progress.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fs/fs.h"
#include "service.h"

typedef struct frame {
  DIR *d;
  size_t plen;         /* length of this directory's prefix ("a/b/") */
} frame;

typedef struct fs_lister {
  sluice__list base;
  const sluice__fs *fs;
  int recursive;
  frame *stack;
  size_t depth, cap;
  char *prefix;        /* the top frame's directory, relative to the root */
  size_t pcap;
} fs_lister;

/* Grows prefix to hold n bytes; 0 or -1 when out of memory. */
static int prefix_reserve(fs_lister *l, size_t n)
{
  if (n <= l->pcap)
    return 0;
  size_t cap = l->pcap ? l->pcap : 64;
  while (cap < n)
    cap *= 2;
  char *p = realloc(l->prefix, cap);
  if (p == NULL)
    return -1;
  l->prefix = p;
  l->pcap = cap;
  return 0;
}

/* Pushes an open directory whose prefix is the current prefix plus name
 * and '/' (name NULL: the prefix is already set to plen bytes). */
static int push(fs_lister *l, DIR *d, const char *name, size_t plen)
{
  if (l->depth == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    frame *s = realloc(l->stack, cap * sizeof *s);
    if (s == NULL)
      return -1;
    l->stack = s;
    l->cap = cap;
  }
  if (name != NULL) {
    size_t n = strlen(name);
    if (prefix_reserve(l, plen + n + 2) < 0)
      return -1;
    memcpy(l->prefix + plen, name, n);
    l->prefix[plen + n] = '/';
    plen += n + 1;
    l->prefix[plen] = '\0';
  }
  l->stack[l->depth].d = d;
  l->stack[l->depth].plen = plen;
  l->depth++;
  return 0;
}

static void pop(fs_lister *l)
{
  closedir(l->stack[--l->depth].d);
  if (l->depth > 0)
    l->prefix[l->stack[l->depth - 1].plen] = '\0';
}

/* prefix(plen) + name + (dir ? "/" : ""), malloc'd. */
static char *join(const fs_lister *l, size_t plen, const char *name, int dir)
{
  size_t n = strlen(name);
  char *p = malloc(plen + n + 2);
  if (p == NULL)
    return NULL;
  memcpy(p, l->prefix, plen);
  memcpy(p + plen, name, n);
  if (dir)
    p[plen + n++] = '/';
  p[plen + n] = '\0';
  return p;
}

/* Follows a symlink found at rel beneath the root.  1 with *st filled when
 * it resolves there, 0 when it dangles or points outside (skipped). */
static int follow_link(const fs_lister *l, const char *rel, struct stat *st)
{
  int fd = sluice__fs_open_beneath(l->fs, rel, O_PATH, 0);
  if (fd < 0)
    return 0;
  int ok = fstat(fd, st) == 0;
  close(fd);
  return ok;
}

/* Starts walking sub-directory name of the top frame.  NULL on success or
 * when it vanished or was swapped for a symlink meanwhile (skipped). */
static sluice_error *descend(fs_lister *l, const char *name)
{
  frame *f = &l->stack[l->depth - 1];
  int fd = openat(dirfd(f->d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    if (e == ENOENT || e == ELOOP || e == ENOTDIR)
      return NULL;
    char *rel = join(l, f->plen, name, 1);
    sluice_error *err = rel ? sluice__fs_error(l->fs, "list", rel, e) : sluice__error_oom();
    free(rel);
    return err;
  }
  if (push(l, d, name, f->plen) < 0) {
    closedir(d);
    return sluice__error_oom();
  }
  return NULL;
}

/* Looks at one directory entry of the top frame: *path is set when it is to
 * be reported, left NULL when it is skipped (or descended into). */
static sluice_error *visit(fs_lister *l, const char *name, char **path, sluice_metadata *meta)
{
  frame *f = &l->stack[l->depth - 1];
  size_t plen = f->plen;
  struct stat st;
  if (fstatat(dirfd(f->d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return NULL;   /* removed since readdir */
    char *rel = join(l, plen, name, 0);
    sluice_error *err = rel ? sluice__fs_error(l->fs, "list", rel, errno) : sluice__error_oom();
    free(rel);
    return err;
  }
  if (S_ISDIR(st.st_mode) && l->recursive)
    return descend(l, name);

  char *rel = join(l, plen, name, 0);
  if (rel == NULL)
    return sluice__error_oom();
  if (S_ISLNK(st.st_mode) && !follow_link(l, rel, &st))
    st.st_mode = 0;   /* dangling or escaping: skip */
  int dir = S_ISDIR(st.st_mode);
  free(rel);
  if (!S_ISREG(st.st_mode) && !(dir && !l->recursive))
    return NULL;
  if ((*path = join(l, plen, name, dir)) == NULL)
    return sluice__error_oom();
  sluice__fs_fill_meta(&st, meta);
  return NULL;
}

static sluice_error *fs_list_next(sluice__list *list, char **path, sluice_metadata *meta)
{
  fs_lister *l = (fs_lister *)list;
  *path = NULL;
  while (l->depth > 0) {
    frame *f = &l->stack[l->depth - 1];
    errno = 0;
    struct dirent *de = readdir(f->d);
    if (de == NULL) {
      int e = errno;
      sluice_error *err = NULL;
      if (e != 0)   /* named while the prefix still is this directory */
        err = sluice__fs_error(l->fs, "list", l->prefix, e);
      pop(l);
      if (err != NULL)
        return err;
      continue;
    }
    const char *n = de->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
      continue;
    if (sluice__fs_is_temp_name(n))
      continue;   /* a write in progress: not an object yet */
    sluice_error *err = visit(l, n, path, meta);
    if (err != NULL || *path != NULL)
      return err;
  }
  return NULL;
}

static void fs_list_free(sluice__list *list)
{
  fs_lister *l = (fs_lister *)list;
  if (l == NULL)
    return;
  while (l->depth > 0)
    pop(l);
  free(l->stack);
  free(l->prefix);
  free(l);
}

static const struct sluice__list_vt fs_list_vt = {
  .next = fs_list_next,
  .free = fs_list_free,
};

sluice_error *sluice__fs_list(void *svc, const char *dir, int recursive, sluice__list **out)
{
  const sluice__fs *fs = svc;
  *out = NULL;
  fs_lister *l = calloc(1, sizeof *l);
  if (l == NULL)
    return sluice__error_oom();
  l->base.vt = &fs_list_vt;
  l->fs = fs;
  l->recursive = recursive;

  /* The prefix every entry gets: "" or "dir/" (a missing '/' is added). */
  size_t n = strlen(dir);
  int add_slash = n > 0 && dir[n - 1] != '/';
  if (prefix_reserve(l, n + 2) < 0) {
    fs_list_free(&l->base);
    return sluice__error_oom();
  }
  memcpy(l->prefix, dir, n);
  if (add_slash)
    l->prefix[n++] = '/';
  l->prefix[n] = '\0';

  int fd = sluice__fs_open_beneath(fs, dir, O_RDONLY | O_DIRECTORY, 0);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    int e = fd < 0 ? -fd : errno;
    if (fd >= 0)
      close(fd);
    fs_list_free(&l->base);
    return sluice__fs_error(fs, "list", dir, e);
  }
  if (push(l, d, NULL, n) < 0) {
    closedir(d);
    fs_list_free(&l->base);
    return sluice__error_oom();
  }
  *out = &l->base;
  return NULL;
}
