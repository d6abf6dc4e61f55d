/* SPDX-License-Identifier: MIT */
/*
 * The fs lister.  A recursive listing walks depth-first with a stack of
 * open directories, and yields paths in the byte order of their UTF-8
 * bytes, exactly the order of S3's ListObjectsV2, so that a sync can merge
 * a local walk with a bucket listing.
 *
 * That order is not readdir's, and not a plain sort of each directory
 * either: a sub-directory "a" holds paths "a/...", which sort after "a-b"
 * and "a.b" but before "a0" ('-' and '.' are below '/', '0' is above).  So
 * each directory's entries are read whole and sorted, a sub-directory
 * compared as its name plus '/', and the walk descends into it at that
 * place: its whole subtree comes out between "a.b" and "a0".  A one-level
 * listing is sorted the same way (sub-directories are its "a/" entries).
 *
 * Memory: the names of the directory being listed and of each of its
 * ancestors on the current path are held, never the tree, so a walk
 * costs depth x the largest directory at most, whatever the number of
 * files below.
 *
 * Containment: the starting directory is opened beneath the root; below it
 * the walk only ever descends into real sub-directories (openat with
 * O_NOFOLLOW on a single name), never through a symlink, so it can neither
 * leave the root nor loop.  A symlink is reported only when it resolves
 * beneath the root, with its target's metadata: a file as a file, and, in a
 * one-level listing, a directory as a directory (a recursive walk skips
 * symlinked directories rather than descend into them).  A dangling symlink
 * is listed as an empty file, so that reading it fails by name; one that
 * points outside the root is skipped.
 *
 * Only regular files and directories are listed: sockets, FIFOs and
 * devices are skipped (copying a FIFO found by a recursive walk would block),
 * and so are the temporary files of writes in progress.  An entry that
 * changes type between the read of its directory and its turn is still
 * listed by what it is then, possibly a little out of order.
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
#include "path.h"
#include "service.h"

/* One entry of a directory read whole: its name (in the frame's names
 * buffer) and whether it sorts as a directory ("name/"). */
typedef struct entry {
  const char *name;
  size_t off; /* of name in names, while names may still move */
  int dir;
} entry;

typedef struct frame {
  DIR *d;         /* kept open: the children are opened relative to it */
  size_t plen;    /* length of this directory's prefix ("a/b/") */
  char *names;    /* every name, NUL-separated */
  entry *ents;    /* sorted */
  size_t n, next; /* entries, and the next one to visit */
} frame;

typedef struct fs_lister {
  sluice__list base;
  const sluice__fs *fs;
  int recursive;
  frame *stack;
  size_t depth, cap;
  char *prefix; /* the top frame's directory, relative to the root */
  size_t pcap;
} fs_lister;

/* Grows prefix to hold n bytes; 0 or -1 when out of memory. */
static int prefix_reserve(fs_lister *l, size_t n) {
  if (n <= l->pcap) return 0;
  size_t cap = l->pcap ? l->pcap : 64;
  while (cap < n) cap *= 2;
  char *p = realloc(l->prefix, cap);
  if (p == NULL) return -1;
  l->prefix = p;
  l->pcap = cap;
  return 0;
}

/* Byte order of name, with a '/' after a directory's name: S3's order of
 * the paths these entries stand for.  Names hold no '/', so the two can
 * only differ where one of them ends. */
static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  const unsigned char *p = (const unsigned char *)x->name, *q = (const unsigned char *)y->name;
  while (*p != '\0' && *p == *q) {
    p++;
    q++;
  }
  int cp = *p != '\0' ? *p : x->dir ? '/' : 0;
  int cq = *q != '\0' ? *q : y->dir ? '/' : 0;
  return cp - cq;
}

static void frame_free(frame *f) {
  closedir(f->d);
  free(f->names);
  free(f->ents);
}

static void pop(fs_lister *l) {
  frame_free(&l->stack[--l->depth]);
  if (l->depth > 0) l->prefix[l->stack[l->depth - 1].plen] = '\0';
}

/* prefix(plen) + name + (dir ? "/" : ""), malloc'd. */
static char *join(const fs_lister *l, size_t plen, const char *name, int dir) {
  size_t n = strlen(name);
  char *p = malloc(plen + n + 2);
  if (p == NULL) return NULL;
  memcpy(p, l->prefix, plen);
  memcpy(p + plen, name, n);
  if (dir) p[plen + n++] = '/';
  p[plen + n] = '\0';
  return p;
}

/* Follows a symlink found at rel beneath the root.  0 with *st filled when
 * it resolves there, else the errno: ENOENT when it dangles, EXDEV when it
 * points outside. */
static int follow_link(const fs_lister *l, const char *rel, struct stat *st) {
  int fd = sluice__fs_open_beneath(l->fs, rel, O_PATH, 0);
  if (fd < 0) return -fd;
  int e = fstat(fd, st) == 0 ? 0 : errno;
  close(fd);
  return e;
}

/* Whether name, found in the top frame with readdir type `type`, is to be
 * kept, and whether it sorts as a directory.  Only a guess for what
 * visit() decides later: a wrong one costs order, never an entry. */
static int classify(const fs_lister *l, const char *name, unsigned char type, int *dir) {
  const frame *f = &l->stack[l->depth - 1];
  *dir = 0;
  if (type == DT_UNKNOWN) {
    struct stat st;
    if (fstatat(dirfd(f->d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) return 0; /* gone already */
    type = S_ISDIR(st.st_mode)   ? DT_DIR
           : S_ISREG(st.st_mode) ? DT_REG
           : S_ISLNK(st.st_mode) ? DT_LNK
                                 : DT_UNKNOWN;
  }
  if (type == DT_DIR) {
    *dir = 1;
    return 1;
  }
  if (type == DT_REG) return 1;
  if (type != DT_LNK) return 0;
  /* A recursive walk lists a symlink only as a file; a one-level listing
   * lists one to a directory as "name/". */
  if (!l->recursive) {
    char *rel = join(l, f->plen, name, 0);
    struct stat st;
    if (rel != NULL && follow_link(l, rel, &st) == 0) *dir = S_ISDIR(st.st_mode);
    free(rel);
  }
  return 1;
}

/* Reads the whole directory of the top frame (its prefix already set) into
 * its sorted entries.  Fails only on a read error or out of memory. */
static sluice_error *read_entries(fs_lister *l) {
  frame *f = &l->stack[l->depth - 1];
  size_t ncap = 0, nlen = 0, ecap = 0;
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(f->d);
    if (de == NULL) {
      if (errno != 0) return sluice__fs_error(l->fs, "list", l->prefix, errno);
      break;
    }
    const char *n = de->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    if (sluice__fs_is_temp_name(n)) continue; /* a write in progress: not an object yet */
    int dir;
    if (!classify(l, n, de->d_type, &dir)) continue;
    size_t len = strlen(n) + 1;
    if (nlen + len > ncap || f->n == ecap) {
      size_t nc = ncap, ec = ecap;
      while (nlen + len > nc) nc = nc ? nc * 2 : 1024;
      if (f->n == ec) ec = ec ? ec * 2 : 64;
      char *names = nc != ncap ? realloc(f->names, nc) : f->names;
      if (names != NULL) f->names = names;
      entry *ents = names != NULL && ec != ecap ? realloc(f->ents, ec * sizeof *ents) : f->ents;
      if (names == NULL || ents == NULL) return sluice__error_oom();
      f->ents = ents;
      ncap = nc;
      ecap = ec;
    }
    memcpy(f->names + nlen, n, len);
    /* An offset for now: names may still move. */
    f->ents[f->n].off = nlen;
    f->ents[f->n].dir = dir;
    f->n++;
    nlen += len;
  }
  for (size_t i = 0; i < f->n; i++) f->ents[i].name = f->names + f->ents[i].off;
  if (f->n > 1) qsort(f->ents, f->n, sizeof *f->ents, entry_cmp);
  return NULL;
}

/* Pushes open directory d, whose prefix is the current prefix's first plen
 * bytes plus name and '/' (name NULL: the prefix is already plen bytes),
 * and reads its entries.  Takes d, even on failure. */
static sluice_error *push(fs_lister *l, DIR *d, const char *name, size_t plen) {
  if (l->depth == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    frame *s = realloc(l->stack, cap * sizeof *s);
    if (s == NULL) {
      closedir(d);
      return sluice__error_oom();
    }
    l->stack = s;
    l->cap = cap;
  }
  if (name != NULL) {
    size_t n = strlen(name);
    if (prefix_reserve(l, plen + n + 2) < 0) {
      closedir(d);
      return sluice__error_oom();
    }
    memcpy(l->prefix + plen, name, n);
    l->prefix[plen + n] = '/';
    plen += n + 1;
    l->prefix[plen] = '\0';
  }
  l->stack[l->depth++] = (frame){.d = d, .plen = plen};
  sluice_error *err = read_entries(l);
  if (err != NULL) pop(l);
  return err;
}

/* Starts walking sub-directory name of the top frame.  NULL on success or
 * when it vanished or was swapped for a symlink meanwhile (skipped). */
static sluice_error *descend(fs_lister *l, const char *name) {
  const frame *f = &l->stack[l->depth - 1];
  size_t plen = f->plen;
  int fd = openat(dirfd(f->d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    int e = errno;
    if (fd >= 0) close(fd);
    if (e == ENOENT || e == ELOOP || e == ENOTDIR) return NULL;
    char *rel = join(l, plen, name, 1);
    sluice_error *err = rel ? sluice__fs_error(l->fs, "list", rel, e) : sluice__error_oom();
    free(rel);
    return err;
  }
  return push(l, d, name, plen);
}

/* Looks at one entry of the top frame: *path is set when it is to be
 * reported, left NULL when it is skipped (or descended into). */
static sluice_error *visit(fs_lister *l, const char *name, char **path, sluice_metadata *meta) {
  const frame *f = &l->stack[l->depth - 1];
  size_t plen = f->plen;
  struct stat st;
  if (fstatat(dirfd(f->d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return NULL; /* removed since readdir */
    char *rel = join(l, plen, name, 0);
    sluice_error *err = rel ? sluice__fs_error(l->fs, "list", rel, errno) : sluice__error_oom();
    free(rel);
    return err;
  }
  if (S_ISDIR(st.st_mode) && l->recursive) return descend(l, name);

  char *rel = join(l, plen, name, 0);
  if (rel == NULL) return sluice__error_oom();
  int link_err = S_ISLNK(st.st_mode) ? follow_link(l, rel, &st) : 0;
  if (link_err == ENOENT) {
    /* Dangling: listed as an empty file all the same, so that copying it
     * fails with its name and the cause (a tree job's failed object)
     * rather than the walk passing it by without a word. */
    st.st_mode = S_IFREG;
    st.st_size = 0;
  } else if (link_err != 0) {
    st.st_mode = 0; /* pointing outside the root: skipped, see the top */
  }
  int dir = S_ISDIR(st.st_mode);
  free(rel);
  if (!S_ISREG(st.st_mode) && !(dir && !l->recursive)) return NULL;
  if ((*path = join(l, plen, name, dir)) == NULL) return sluice__error_oom();
  sluice__fs_fill_meta(&st, meta);
  return NULL;
}

static sluice_error *fs_list_next(sluice__list *list, char **path, sluice_metadata *meta) {
  fs_lister *l = (fs_lister *)list;
  *path = NULL;
  while (l->depth > 0) {
    frame *f = &l->stack[l->depth - 1];
    if (f->next == f->n) {
      pop(l);
      continue;
    }
    /* The name stays put while visit() pushes: frames move, names do not. */
    sluice_error *err = visit(l, f->ents[f->next++].name, path, meta);
    if (err != NULL || *path != NULL) return err;
  }
  return NULL;
}

static void fs_list_free(sluice__list *list) {
  fs_lister *l = (fs_lister *)list;
  if (l == NULL) return;
  while (l->depth > 0) pop(l);
  free(l->stack);
  free(l->prefix);
  free(l);
}

static const struct sluice__list_vt fs_list_vt = {
    .next = fs_list_next,
    .free = fs_list_free,
};

sluice_error *sluice__fs_list(void *svc, const char *dir, int recursive, sluice__list **out) {
  const sluice__fs *fs = svc;
  *out = NULL;
  sluice_error *err = sluice__path_file_rules("fs: list", dir);
  if (err != NULL) return err;
  fs_lister *l = calloc(1, sizeof *l);
  if (l == NULL) return sluice__error_oom();
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
  if (add_slash) l->prefix[n++] = '/';
  l->prefix[n] = '\0';

  int fd = sluice__fs_open_beneath(fs, dir, O_RDONLY | O_DIRECTORY, 0);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    int e = fd < 0 ? -fd : errno;
    if (fd >= 0) close(fd);
    fs_list_free(&l->base);
    return sluice__fs_error(fs, "list", dir, e);
  }
  if ((err = push(l, d, NULL, n)) != NULL) {
    fs_list_free(&l->base);
    return err;
  }
  *out = &l->base;
  return NULL;
}
